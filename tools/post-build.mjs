// Trunk post-build hook (see Trunk.toml). Runs on the staging directory of one build:
// 1. moves Trunk's inline module script into `boot-<hash>.js`, because the server's
//    Content-Security-Policy forbids inline script;
// 2. writes `.br` and `.gz` siblings of every hashed (immutable) file at the highest levels,
//    which the server sends as they are (on-the-fly compression uses faster, weaker levels);
// 3. writes the names shared with the app (src/data/shared_names.rs) into `first-paint.js`;
// 4. stamps `sw.js` with them, this build's id and the list of every file it produced, so the
//    service worker precaches exactly this build under a cache named by it.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { checkEveryNameUsed, sha256, stampServiceWorker, stampSharedNames } from "./stamp-sw.mjs";

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

// Before the service worker: the build id hashes every other file as it is served.
const firstPaintNames = stampSharedNames(join(staging, "first-paint.js"));

const swPath = join(staging, "sw.js");
const { build, files, used } = stampServiceWorker(staging, readFileSync(swPath, "utf8"));
checkEveryNameUsed([used, firstPaintNames]);
console.log(`post-build: build ${build}, ${files} files precached, boot ${bootName}`);
