// Outpost's photo worker: turns a file the person chose into the profile photo the app keeps,
// off the page's main thread. One message in (a File or Blob), one message out:
//   { ok: true, bytes: ArrayBuffer, sha256: "<64 lowercase hex>", type: "image/jpeg" }
//   { ok: false, reason: "<words for the person>" }
// The image is decoded with its EXIF orientation applied (createImageBitmap's default in
// every engine the app supports, asked for explicitly), centre-cropped to a square after
// decoding (EXIF plus a crop rectangle had engine bugs: whatwg/html#7210), scaled to SIZE
// pixels and encoded as JPEG. A canvas asked for a type it cannot encode silently gives PNG,
// so the blob's type is checked. Re-encoding drops the EXIF data, GPS included. The bytes go
// back as an ArrayBuffer (transferred): Safari has failed to keep Blobs in IndexedDB.
"use strict";

/** The side of the square photo, in pixels: plenty for an avatar. */
const SIZE = 512;
/** The most bytes a photo may take; the quality steps down until it fits. */
const MAX_BYTES = 200 * 1024;
const QUALITIES = [0.85, 0.75, 0.65, 0.5, 0.4];

const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

async function decode(file) {
  try {
    // Full size: asking the engine to scale while decoding was slower here (Chromium 156:
    // 57-80 ms against 37-55 ms for a 12-megapixel JPEG), and a crop rectangle is not given
    // (the crop is drawn after decoding).
    return await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch (error) {
    // An engine older than the value "from-image" (Safari 16) refuses the option itself
    // (TypeError); its default turns the image as its EXIF says too.
    if (error instanceof TypeError) return createImageBitmap(file).catch(() => null);
    return null;
  }
}

async function encode(bitmap) {
  const side = Math.min(bitmap.width, bitmap.height);
  const size = Math.min(SIZE, side);
  const canvas = new OffscreenCanvas(size, size);
  const context = canvas.getContext("2d");
  if (!context) throw new Error("no 2d context");
  context.imageSmoothingQuality = "high";
  // JPEG has no transparency: what a PNG or WebP leaves transparent would be encoded black.
  context.fillStyle = "#fff";
  context.fillRect(0, 0, size, size);
  context.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, size, size);
  for (const quality of QUALITIES) {
    const blob = await canvas.convertToBlob({ type: "image/jpeg", quality });
    if (blob.type !== "image/jpeg") return { reason: "This browser cannot save photos as JPEG." };
    if (blob.size <= MAX_BYTES) return { blob };
  }
  return { reason: "This photo is too detailed to keep under 200 KB." };
}

self.onmessage = async (event) => {
  const file = event.data;
  try {
    const bitmap = await decode(file);
    if (!bitmap || !bitmap.width || !bitmap.height) {
      self.postMessage({ ok: false, reason: "This file is not an image this browser can open." });
      return;
    }
    const { blob, reason } = await encode(bitmap);
    bitmap.close();
    if (!blob) {
      self.postMessage({ ok: false, reason });
      return;
    }
    const bytes = await blob.arrayBuffer();
    const sha256 = hex(await crypto.subtle.digest("SHA-256", bytes));
    self.postMessage({ ok: true, bytes, sha256, type: blob.type }, [bytes]);
  } catch (error) {
    self.postMessage({ ok: false, reason: `The photo could not be prepared (${error?.message ?? error}).` });
  }
};
