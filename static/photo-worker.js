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

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** The chunk that ends every PNG: no data, type "IEND", its CRC. */
const PNG_END = [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];

/**
 * Whether `file` stops before its image's end, as far as its format says: Firefox and WebKit
 * decode a JPEG or PNG cut short (a copy or download that stopped) into a picture whose
 * lower part is grey or missing, which is no photo to keep. Other formats: the engine judges.
 */
async function cutShort(file) {
  const head = new Uint8Array(await file.slice(0, 8).arrayBuffer());
  const jpeg = head[0] === 0xff && head[1] === 0xd8;
  if (!jpeg && !PNG_SIGNATURE.every((byte, k) => head[k] === byte)) return false;
  // Nearly every file ends with its image's end: a JPEG's end marker, a PNG's IEND chunk.
  // Neither can stand at the end of a file cut short (in a JPEG's scans a 0xFF byte is
  // followed by 0x00 or a restart marker).
  const tail = new Uint8Array(await file.slice(-12).arrayBuffer());
  if (jpeg ? tail[10] === 0xff && tail[11] === 0xd9 : PNG_END.every((byte, k) => tail[k] === byte)) return false;
  // Something after the image (a motion photo's video), or no end at all: the file is walked.
  const b = new Uint8Array(await file.arrayBuffer());
  return jpeg ? jpegCutShort(b) : pngCutShort(b);
}

/** Whether the JPEG `b` has no end marker after its first scan. */
function jpegCutShort(b) {
  // The segments up to the first scan, then the first FF D9 after it, the image's end.
  let i = 2;
  while (i + 4 <= b.length && b[i] === 0xff && b[i + 1] !== 0xda) {
    i += b[i + 1] === 0xff ? 1 : 2 + ((b[i + 2] << 8) | b[i + 3]);
  }
  for (i = b.indexOf(0xff, i + 2); i !== -1; i = b.indexOf(0xff, i + 1)) {
    if (b[i + 1] === 0xd9) return false;
  }
  return true;
}

/** Whether the PNG `b` has a chunk cut short, or none that ends it. */
function pngCutShort(b) {
  // Its chunks (length, type, data, CRC) up to IEND, each whole.
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 8; i + 8 <= b.length; ) {
    const end = i + 12 + view.getUint32(i);
    if (end > b.length) return true;
    if (view.getUint32(i + 4) === 0x49454e44) return false; // "IEND"
    i = end;
  }
  return true;
}

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
    // The check reads while the engine decodes, so it adds no wait (Firefox: 4 ms before).
    const [incomplete, bitmap] = await Promise.all([cutShort(file), decode(file)]);
    if (incomplete) {
      bitmap?.close();
      self.postMessage({ ok: false, reason: "This photo's file is incomplete: it ends before the picture does." });
      return;
    }
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
