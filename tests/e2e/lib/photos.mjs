// Photos for the tests, made by the browser under test (no image tool is needed on the
// machine), and what the page shows of them.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "outpost-photos-"));
let counter = 0;

/**
 * An image of `width` x `height` whose left part (`split` of its width, half by default) is
 * `left` and the rest `right` (CSS colours), encoded by `page` as `type`: the bytes.
 */
export async function makeImage(page, { width = 64, height = 64, left = "#d00000", right = "#0030d0", type = "image/jpeg", split = 0.5 } = {}) {
  const base64 = await page.evaluate(async ({ width, height, left, right, type, split }) => {
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext("2d");
    const at = Math.round(width * split);
    context.fillStyle = left;
    context.fillRect(0, 0, at, height);
    context.fillStyle = right;
    context.fillRect(at, 0, width - at, height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, type, 0.92));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  }, { width, height, left, right, type, split });
  return Buffer.from(base64, "base64");
}

/** `jpeg` with an APP1 segment of EXIF data (`tiff`, after "Exif\0\0") right after its start. */
function withExif(jpeg, tiff) {
  const body = Buffer.concat([Buffer.from("Exif\0\0", "latin1"), tiff]);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(body.length + 2);
  return Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xe1]), length, body, jpeg.subarray(2)]);
}

/**
 * `jpeg` with an EXIF segment saying how it is to be turned (`orientation` 1-8: 6 is "rotate
 * 90° clockwise", as a phone held upright writes it).
 */
export function withOrientation(jpeg, orientation) {
  // TIFF header (little endian), one IFD entry: 0x0112 Orientation, SHORT, count 1.
  return withExif(jpeg, Buffer.from([
    0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00,
    0x01, 0x00,
    0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, orientation, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
  ]));
}

/**
 * `jpeg` with an EXIF segment holding a small JPEG of its own, as a camera's thumbnail does
 * (its start and end markers inside the segment).
 */
export function withThumbnail(jpeg) {
  return withExif(jpeg, Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
}

/** Writes `bytes` to a file named `name` in a folder of its own; its path. */
export function fixture(bytes, name = "photo.jpg") {
  counter += 1;
  const path = join(dir, `${counter}-${name}`);
  writeFileSync(path, bytes);
  return path;
}

/**
 * Drops one plain photo of each of `colours` (CSS colours) on the profile picture, the way a
 * browser hands the page files dragged from the desktop, all in one turn of the page's event
 * loop; then, in the same turn, clicks each button named in `thenClick`.
 */
export function dropPhotos(page, colours, thenClick = []) {
  return page.evaluate(async ({ colours, thenClick }) => {
    const files = [];
    for (const [i, colour] of colours.entries()) {
      const canvas = document.createElement("canvas");
      canvas.width = 80;
      canvas.height = 80;
      const context = canvas.getContext("2d");
      context.fillStyle = colour;
      context.fillRect(0, 0, 80, 80);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
      files.push(new File([blob], `dropped-${i}.jpg`, { type: "image/jpeg" }));
    }
    const buttons = thenClick.map((name) => {
      const button = [...document.querySelectorAll("button")].find((b) => b.textContent.trim() === name);
      if (!button) throw new Error(`no button ${name}`);
      return button;
    });
    const target = document.querySelector(".identity");
    for (const file of files) {
      const dropped = new DataTransfer();
      dropped.items.add(file);
      target.dispatchEvent(new DragEvent("dragover", { dataTransfer: dropped, bubbles: true, cancelable: true }));
      target.dispatchEvent(new DragEvent("drop", { dataTransfer: dropped, bubbles: true, cancelable: true }));
    }
    for (const button of buttons) button.click();
  }, { colours, thenClick });
}

/** The "Choose a photo" file input. */
export const photoInput = (page) => page.getByLabel("Choose a photo");

/**
 * What the page shows as the profile photo (`alt`, by default "Profile photo") once it is a
 * decoded picture from the device's bytes: its size and the colour at its top, 30% down and
 * bottom middle, and at its left and right. `null` while there is none.
 */
export function shownPhoto(page, alt = "Profile photo") {
  return page.evaluate((alt) => {
    const img = [...document.querySelectorAll("img")].find((i) => i.alt === alt);
    if (!img || !img.complete || !img.naturalWidth) return null;
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    const at = (x, y) => [...context.getImageData(x, y, 1, 1).data.slice(0, 3)];
    const w = img.naturalWidth;
    const h = img.naturalHeight;
    return { src: img.src, width: w, height: h, top: at(w / 2, 2), upper: at(w / 2, Math.round(h * 0.3)), bottom: at(w / 2, h - 3), left: at(2, h / 2), right: at(w - 3, h / 2) };
  }, alt);
}

/** Whether `rgb` is mostly red (`"red"`) or mostly blue (`"blue"`). */
export function hue(rgb) {
  const [r, , b] = rgb;
  if (r > 150 && b < 100) return "red";
  if (b > 150 && r < 100) return "blue";
  return `rgb(${rgb.join(",")})`;
}
