// Trunk post-build hook (see Trunk.toml). Runs on the staging directory of one build:
// 1. moves Trunk's inline module script into `boot-<hash>.js`, because the server's
//    Content-Security-Policy forbids inline script;
// 2. writes `.br` and `.gz` siblings of every hashed (immutable) file at the highest levels,
//    which the server sends as they are (on-the-fly compression uses faster, weaker levels);
// 3. writes the first paint's localStorage key into `first-paint.js`, from the Rust constant;
// 4. stamps `sw.js` with this build's id and the list of every file it produced, so the
//    service worker precaches exactly this build under a cache named by it.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { sha256, stampServiceWorker } from "./stamp-sw.mjs";

const staging = process.env.TRUNK_STAGING_DIR;
if (!staging) {
  console.error("post-build: TRUNK_STAGING_DIR is not set; run through trunk");
  process.exit(1);
}

const indexPath = join(staging, "index.html");
let html = readFileSync(indexPath, "utf8");
const inline = /<script type="module"(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/;
const match = html.match(inline);
if (!match) {
  console.error("post-build: Trunk's inline boot script was not found in index.html");
  process.exit(1);
}
const boot = match[1].trim() + "\n";
const bootName = `boot-${sha256(boot).slice(0, 16)}.js`;
writeFileSync(join(staging, bootName), boot);
html = html.replace(inline, `<script type="module" src="/${bootName}"></script>`);
writeFileSync(indexPath, html);

// Hashed names (`name-<hex>.ext`, `name-<hex>_bg.wasm`) never change content, so their
// precompressed copies can never go stale.
const hashed = /-[0-9a-f]{8,}(_bg)?\.(wasm|js|css)$/;
for (const name of readdirSync(staging).filter((n) => hashed.test(n))) {
  const data = readFileSync(join(staging, name));
  writeFileSync(join(staging, `${name}.br`), brotliCompressSync(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  }));
  writeFileSync(join(staging, `${name}.gz`), gzipSync(data, { level: 9 }));
}

// The key is defined once, in src/ui/core/first_paint.rs.
const firstPaintRust = readFileSync(new URL("../src/ui/core/first_paint.rs", import.meta.url), "utf8");
const firstPaintKey = firstPaintRust.match(/^pub const KEY: &str = "([^"\\]+)";$/m)?.[1];
const firstPaintPath = join(staging, "first-paint.js");
const firstPaint = readFileSync(firstPaintPath, "utf8");
if (!firstPaintKey || !firstPaint.includes("__OUTPOST_FIRST_PAINT_KEY__")) {
  console.error("post-build: the first paint's key or its placeholder was not found");
  process.exit(1);
}
writeFileSync(firstPaintPath, firstPaint.replaceAll("__OUTPOST_FIRST_PAINT_KEY__", firstPaintKey));

const swPath = join(staging, "sw.js");
const { build, files } = stampServiceWorker(staging, readFileSync(swPath, "utf8"));
console.log(`post-build: build ${build}, ${files} files precached, boot ${bootName}`);
