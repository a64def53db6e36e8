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
//
// A large JPEG is decoded at a reduced scale where the engine's decoder does that natively
// (JPEG's DCT scaling: Chromium's ImageDecoder, a 12-megapixel photo in about 10 ms against
// 40 for the whole image). Whether it does is seen once, on a tiny JPEG, from what the decoder
// gives back for a size no DCT scale makes (a scale of its own, not the size asked for); an
// engine that scales after decoding the whole image (Firefox) is slower that way than the
// full decode. An engine without ImageDecoder (WebKit) asks createImageBitmap for the size
// needed instead, which it decodes faster than the whole image and its first draw.
"use strict";

/** The side of the square photo, in pixels: plenty for an avatar. */
const SIZE = 512;
/** The most bytes a photo may take; the quality steps down until it fits. */
const MAX_BYTES = 200 * 1024;
const QUALITIES = [0.85, 0.75, 0.65, 0.5, 0.4];

const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Walks the JPEG `b`'s marker segments from its start to its first scan: `visit(marker, start,
 * end)` for each segment with a length (its data is `b[start..end]`). The offset of the first
 * scan's marker (SOS); -1 when `b` ends or breaks before it.
 */
function jpegSegments(b, visit) {
  let i = 2;
  while (i + 4 <= b.length && b[i] === 0xff) {
    const marker = b[i + 1];
    if (marker === 0xda) return i;
    if (marker === 0xff) {
      i += 1; // a fill byte
    } else if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2; // TEM and RSTn stand alone, with no length (libjpeg lets them pass here)
    } else {
      const end = i + 2 + ((b[i + 2] << 8) | b[i + 3]);
      visit(marker, i + 4, Math.min(end, b.length));
      i = end;
    }
  }
  return -1;
}

/**
 * A JPEG's stored width and height, its EXIF orientation (1-8) and its `upright` size (as
 * shown, turned), from its header; null for anything else.
 */
async function jpegHeader(file) {
  // The first scan follows the APP segments (EXIF, ICC profiles) and the frame header: 256 KB
  // holds them in every photo seen; a file whose header lies further decodes whole.
  const b = new Uint8Array(await file.slice(0, 256 * 1024).arrayBuffer());
  if (b[0] !== 0xff || b[1] !== 0xd8) return null;
  let size = null;
  let orientation;
  const scan = jpegSegments(b, (marker, start, end) => {
    // As the engines read it: the first EXIF segment with an orientation, anywhere before the
    // first scan.
    if (marker === 0xe1) orientation ??= exifOrientation(b, start, end);
    // SOF0-SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
    const frame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (frame && !size && end - start >= 5) {
      size = { width: (b[start + 3] << 8) | b[start + 4], height: (b[start + 1] << 8) | b[start + 2] };
    }
  });
  if (scan < 0 || !size) return null;
  // Orientations 5-8 turn the picture a quarter: its upright width is its stored height.
  const turned = (orientation ?? 1) >= 5;
  const upright = turned ? { width: size.height, height: size.width } : size;
  return { ...size, orientation: orientation ?? 1, upright };
}

/**
 * The Orientation tag of an APP1 segment's EXIF data in `b[start..end]` (1 if its value is
 * none of 1-8), or undefined if it has none.
 */
function exifOrientation(b, start, end) {
  // "Exif\0\0", then a TIFF header: byte order ("II" little-endian, "MM"), 42, the first
  // IFD's offset; the tag is a SHORT, one of it.
  if (b[start] !== 0x45 || b[start + 1] !== 0x78 || b[start + 2] !== 0x69 || b[start + 3] !== 0x66) return undefined;
  const tiff = start + 6;
  if (tiff + 8 > end || b[tiff] !== b[tiff + 1] || (b[tiff] !== 0x49 && b[tiff] !== 0x4d)) return undefined;
  const little = b[tiff] === 0x49;
  const u16 = (at) => (little ? b[at] | (b[at + 1] << 8) : (b[at] << 8) | b[at + 1]);
  const u32 = (at) => (little ? u16(at) + u16(at + 2) * 0x10000 : u16(at) * 0x10000 + u16(at + 2));
  if (u16(tiff + 2) !== 42) return undefined;
  const ifd = tiff + u32(tiff + 4);
  if (ifd + 2 > end) return undefined;
  for (let k = 0, count = u16(ifd); k < count; k++) {
    const entry = ifd + 2 + 12 * k;
    if (entry + 12 > end) return undefined;
    if (u16(entry) === 0x0112 && u16(entry + 2) === 3 && u32(entry + 4) === 1) {
      const value = u16(entry + 8);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return undefined;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** The chunk that ends every PNG: no data, type "IEND", its CRC. */
const PNG_END = [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];

/**
 * Whether `file` stops before its image's end, as far as its format says: Firefox and WebKit
 * decode a JPEG or PNG cut short (a copy or download that stopped) into a picture whose
 * lower part is grey or missing, which is no photo to keep. Other formats: the engine judges.
 */
async function cutShort(file) {
  try {
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
  } catch {
    return false; // unreadable: the decode says so
  }
}

/** Whether the JPEG `b` has no end marker after its first scan. */
function jpegCutShort(b) {
  // The segments up to the first scan (an EXIF thumbnail in them has an end marker of its
  // own), then the first FF D9 after it, the image's end.
  // Where the walk breaks (stray bytes between segments, which libjpeg passes over), the
  // first FF DA stands for the scan.
  let scan = jpegSegments(b, () => {});
  for (let i = b.indexOf(0xff, 2); scan < 0 && i !== -1; i = b.indexOf(0xff, i + 1)) {
    if (b[i + 1] === 0xda) scan = i;
  }
  if (scan < 0) return true;
  for (let i = b.indexOf(0xff, scan + 2); i !== -1; i = b.indexOf(0xff, i + 1)) {
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

/**
 * An ImageDecoder whose own promises (`completed`, `tracks.ready`) are handled: they reject
 * when it is closed before they settle, which Firefox reports as an unhandled error.
 */
function imageDecoder(init) {
  const decoder = new ImageDecoder(init);
  decoder.completed.catch(() => {});
  decoder.tracks.ready.catch(() => {});
  return decoder;
}

/** Whether this engine's ImageDecoder decodes a JPEG at a reduced scale of its own. */
const scalesWhileDecoding = (async () => {
  if (typeof ImageDecoder === "undefined") return false;
  let decoder;
  let image;
  try {
    const canvas = new OffscreenCanvas(64, 64);
    canvas.getContext("2d").fillRect(0, 0, 64, 64);
    const data = await canvas.convertToBlob({ type: "image/jpeg" });
    // 20 of 64 is no multiple of 64/8: a decoder that scales by eighths gives 16 or 24.
    decoder = imageDecoder({ data: data.stream(), type: "image/jpeg", desiredWidth: 20, desiredHeight: 20 });
    // A decoder that never answers must not hold every photo up: a second is plenty.
    const timeout = new Promise((resolve) => setTimeout(resolve, 1000, null));
    ({ image } = (await Promise.race([decoder.decode().catch(() => null), timeout])) ?? {});
    return !!image && image.codedWidth !== 20 && image.codedWidth < 64;
  } catch {
    return false;
  } finally {
    image?.close();
    decoder?.close();
  }
})();

/**
 * A large JPEG decoded at a reduced scale, turned as its EXIF says, whose shorter side is still
 * at least SIZE; null where that is not done or did not give that (the whole image is then
 * decoded, as for any other file).
 */
async function decodeReduced(file) {
  // Without ImageDecoder (WebKit for now; Chromium and Firefox have it, and an engine that
  // gains one takes the path its probe shows), createImageBitmap is asked for the size the
  // photo needs: WebKit then decodes a 12-megapixel photo and draws it small
  // in about 140 ms, against 210-220 for the whole bitmap and its first draw. Firefox, whose
  // ImageDecoder scales only after a whole decode, is slower both ways (95 and 80 against 55
  // ms), as Chromium is that way (55 against 40): Firefox decodes whole, without even reading
  // the header.
  const native = await scalesWhileDecoding;
  if (!native && typeof ImageDecoder !== "undefined") return null;
  const header = await jpegHeader(file);
  if (!header || Math.min(header.width, header.height) < 4 * SIZE) return null;
  // The frame's rotation is what was measured (Chromium draws it turned); a mirrored
  // orientation (2, 4, 5, 7: rare from a camera) decodes whole.
  if (native) return [1, 3, 6, 8].includes(header.orientation) ? decodeFrame(file, header) : null;
  return decodeResized(file, header);
}

/** The JPEG decoded by ImageDecoder at a scale of its own, drawn upright on a canvas. */
async function decodeFrame(file, header) {
  let image;
  let decoder;
  try {
    // Twice the size needed: the decoder rounds its scale down to one it has.
    const scale = (2 * SIZE) / Math.min(header.width, header.height);
    decoder = imageDecoder({
      data: file.stream(),
      type: "image/jpeg",
      desiredWidth: Math.round(header.width * scale),
      desiredHeight: Math.round(header.height * scale),
    });
    ({ image } = await decoder.decode());
    const width = image.displayWidth;
    const height = image.displayHeight;
    const ratio = header.upright.width / header.upright.height;
    if (Math.min(width, height) < SIZE || Math.abs(width / height - ratio) > 0.02) return null;
    // Drawn whole first (the frame's rotation applied by the draw), so the crop that follows
    // reads a plain picture, not a rotated frame.
    const canvas = new OffscreenCanvas(width, height);
    canvas.getContext("2d").drawImage(image, 0, 0);
    return canvas;
  } catch {
    return null;
  } finally {
    image?.close();
    decoder?.close();
  }
}

/**
 * The JPEG decoded by createImageBitmap straight to the size it needs: its shorter side SIZE,
 * asked for alone, so that the engine keeps the turned image's shape and an orientation it
 * reads otherwise than the header shows a size other than the one expected. Smoothing
 * "medium": WebKitGTK's (Skia's) "high" is 13 ms slower and no closer to an area average of
 * the pixels (PSNR 36.6 against 37.3 dB on the bench's photo); Chromium's and Firefox's
 * "medium" is their "high". Safari's (CoreGraphics) was not measured.
 */
async function decodeResized(file, header) {
  const { width, height } = header.upright;
  const scale = SIZE / Math.min(width, height);
  const wide = width >= height;
  const expected = wide ? [width * scale, SIZE] : [SIZE, height * scale];
  const asked = wide ? { resizeHeight: SIZE } : { resizeWidth: SIZE };
  try {
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image", resizeQuality: "medium", ...asked });
    if (Math.abs(bitmap.width - expected[0]) <= 1 && Math.abs(bitmap.height - expected[1]) <= 1) return bitmap;
    bitmap.close();
  } catch {
    // Decoded whole instead, where the words for a file that is no image come from.
  }
  return null;
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
  let source = bitmap;
  let x = (bitmap.width - side) / 2;
  let y = (bitmap.height - side) / 2;
  let from = side;
  // Down to twice the photo's side in steps of at most a third first: Firefox's draw from a
  // picture many times larger aliases whatever the smoothing asked (fine stripes turn to
  // moire). A 4000 x 3000 photo drawn at 683 x 512: 35.5 dB from an area average of its
  // pixels in one draw, 42.5 through 1366 x 1024, for 8 ms more. Chromium's draw is as good
  // either way; WebKit's reduced decode comes small enough to take one step.
  while (from > 2 * size) {
    const next = Math.max(2 * size, Math.ceil(from / 3));
    const step = new OffscreenCanvas(next, next);
    const stepContext = step.getContext("2d");
    stepContext.imageSmoothingQuality = "high";
    stepContext.drawImage(source, x, y, from, from, 0, 0, next, next);
    [source, x, y, from] = [step, 0, 0, next];
  }
  context.drawImage(source, x, y, from, from, 0, 0, size, size);
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
    // A reduced decode that fails in any way (the file unreadable, say) leaves the whole
    // decode to say what is wrong.
    const [incomplete, bitmap] = await Promise.all([
      cutShort(file),
      decodeReduced(file)
        .catch(() => null)
        .then((reduced) => reduced ?? decode(file)),
    ]);
    if (incomplete) {
      bitmap?.close?.();
      self.postMessage({ ok: false, reason: "This photo's file is incomplete: it ends before the picture does." });
      return;
    }
    if (!bitmap || !bitmap.width || !bitmap.height) {
      self.postMessage({ ok: false, reason: "This file is not an image this browser can open." });
      return;
    }
    let encoded;
    try {
      encoded = await encode(bitmap);
    } finally {
      bitmap.close?.(); // a 12-megapixel bitmap holds 48 MB until then
    }
    const { blob, reason } = encoded;
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
