// Trunk post-build hook (see Trunk.toml). Runs on the staging directory of one build:
// 1. replaces Trunk's inline module script by `boot-<hash>.js`, loaded `async`: it compiles
//    the app's WebAssembly while the page is still being parsed, and starts the app once it
//    is;
// 2. writes `.br` and `.gz` siblings of every hashed (immutable) file at the highest levels,
//    which the server sends as they are (on-the-fly compression uses faster, weaker levels);
// 3. writes the names shared with the app (src/data/shared_names.rs) into `first-paint.js`
//    and moves it inline, to the end of <body> (the server's Content-Security-Policy allows
//    the page's inline script and style by hash: crates/server/src/security_headers.rs);
// 4. stamps `sw.js` with them, this build's id and the list of every file it produced, so the
//    service worker precaches exactly this build under a cache named by it.
import { readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
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
const glue = match[1].match(/from '(\/[^']+\.js)'/)?.[1];
const wasmPath = match[1].match(/module_or_path: '(\/[^']+\.wasm)'/)?.[1];
const integrity = html.match(/<link rel="preload" href="([^"]+\.wasm)"[^>]*integrity="([^"]+)"/);
if (!glue || !wasmPath || !integrity || integrity[1] !== wasmPath) {
  console.error("post-build: Trunk's boot script or its wasm preload changed shape:\n" + match[1]);
  process.exit(1);
}
// Trunk's boot is a deferred module: the wasm's compile began only after the whole page was
// parsed and the first paint's script had run (13 ms of an offline warm start in Chromium).
// This one is `async`, so it runs as soon as it is loaded: the compile (from the response
// the preload link already asked for, same integrity) overlaps the parsing, and the app
// starts once the document is parsed and the first paint ran (`DOMContentLoaded`), as
// before: it mounts into <body>, after the first paint. A compile that fails (or an engine
// without `compileStreaming`) leaves the fetch and its error to wasm-bindgen's own init.
const boot = `import init, * as bindings from '${glue}';
const wasmUrl = '${wasmPath}';
const compiled = (async () => WebAssembly.compileStreaming(fetch(wasmUrl, { integrity: '${integrity[2]}' })))().catch(() => wasmUrl);
const loaded = () => (performance.getEntriesByType('navigation')[0]?.domContentLoadedEventStart ?? 0) > 0;
if (!loaded()) await new Promise((resolve) => document.addEventListener('DOMContentLoaded', resolve, { once: true }));
const wasm = await init({ module_or_path: await compiled });
window.wasmBindings = bindings;
dispatchEvent(new CustomEvent('TrunkApplicationStarted', { detail: { wasm } }));
`;
const bootName = `boot-${sha256(boot).slice(0, 16)}.js`;
writeFileSync(join(staging, bootName), boot);
html = html.replace(inline, `<script type="module" async src="/${bootName}"></script>`);

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
const firstPaintPath = join(staging, "first-paint.js");
const firstPaintNames = stampSharedNames(firstPaintPath);
// Inline at the end of <body>: it runs as the parser gets there (the stylesheet is inline
// too, so nothing holds it back) and prepends the header to the body; no file is left.
const firstPaint = readFileSync(firstPaintPath, "utf8");
if (!html.includes("</body>") || firstPaint.includes("</script")) {
  console.error("post-build: cannot put first-paint.js inline at the end of <body>");
  process.exit(1);
}
// (A function: a replacement string would read `$&` and the like in the script.)
html = html.replace("</body>", () => `<script>\n${firstPaint}</script>\n  </body>`);
writeFileSync(indexPath, html);
rmSync(firstPaintPath);

const swPath = join(staging, "sw.js");
const { build, files, used } = stampServiceWorker(staging, readFileSync(swPath, "utf8"));
checkEveryNameUsed([used, firstPaintNames]);
console.log(`post-build: build ${build}, ${files} files precached, boot ${bootName}`);
