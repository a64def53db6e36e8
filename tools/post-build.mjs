// Trunk post-build hook (see Trunk.toml). Runs on the staging directory of one build:
// 1. replaces Trunk's inline module script by `boot-<hash>.js`, loaded `async`: it compiles
//    the app's WebAssembly while the page is still being parsed, and starts the app once it
//    is;
// 2. drops classes the app never uses from the wasm's exports and the glue, and the exports
//    the glue never names (tools/wasm-exports.mjs), minifies wasm-bindgen's JS glue (terser)
//    and the inline stylesheet, gives the wasm's exports and imports short names in both
//    (tools/wasm-exports.mjs, tools/wasm-imports.mjs), and
//    names the glue and the wasm by the hash of their final bytes (Trunk's is taken before
//    wasm-opt);
// 3. writes `.br` and `.gz` siblings of every hashed (immutable) file at the highest levels,
//    which the server sends as they are (on-the-fly compression uses faster, weaker levels);
// 4. writes the names shared with the app (src/data/shared_names.rs) into `first-paint.js`,
//    minifies it and moves it inline, to the end of <body> (the server's
//    Content-Security-Policy allows the page's inline script and style by hash:
//    crates/server/src/security_headers.rs);
// 5. stamps `sw.js` with them, this build's id and the list of every file it produced, so the
//    service worker precaches exactly this build under a cache named by it, and strips its
//    comments and spaces.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { minify } from "terser";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { checkEveryNameUsed, sha256, stampServiceWorker, stampSharedNames } from "./stamp-sw.mjs";
import { pruneExports, shortenNames } from "./wasm-exports.mjs";

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
const trunkGlue = match[1].match(/from '(\/[^']+\.js)'/)?.[1];
const trunkWasm = match[1].match(/module_or_path: '(\/[^']+\.wasm)'/)?.[1];
const integrity = html.match(/<link rel="preload" href="([^"]+\.wasm)"[^>]*integrity="([^"]+)"/);
const glueLink = trunkGlue && html.match(/<link rel="modulepreload" href="([^"]+)"[^>]*integrity="([^"]+)"/);
if (!trunkGlue || !trunkWasm || !integrity || integrity[1] !== trunkWasm || !glueLink || glueLink[1] !== trunkGlue) {
  console.error("post-build: Trunk's boot script or its preload links changed shape:\n" + match[1]);
  process.exit(1);
}

/** `source` through terser (compressed and mangled); `what` names it in errors. */
async function minifiedCode(source, what, { module = false, toplevel = false } = {}) {
  const code = (await minify(source, { module, toplevel, compress: true, mangle: true })).code;
  if (!code) {
    console.error(`post-build: terser returned nothing for ${what}`);
    process.exit(1);
  }
  return code;
}

/** The script at `path` of the staging directory, through terser. */
async function minified(path, options = {}) {
  return minifiedCode(readFileSync(join(staging, path), "utf8"), path, options);
}

// wasm-streams' classes, which the app never uses, out of the module's exports and the glue,
// and the exports the glue never names (`main`, wasm-bindgen's and wasm-split's globals)
// (tools/wasm-exports.mjs); in a release build wasm-opt (the build's own, pinned by npm) then
// removes the code only they reached. -Os alone: the build's whole list of passes ran already.
// Not in a debug build (`trunk serve`): wasm-opt would take out the function names its stack
// traces show.
const unused = pruneExports(
  readFileSync(join(staging, trunkWasm.slice(1))),
  readFileSync(join(staging, trunkGlue.slice(1)), "utf8"),
);
let prunedWasm = unused.wasm;
if (process.env.TRUNK_PROFILE === "release") {
  const wasmOpt = fileURLToPath(new URL("node_modules/.bin/wasm-opt", import.meta.url));
  const pruned = join(staging, `${trunkWasm.slice(1)}.pruned`);
  writeFileSync(pruned, prunedWasm);
  execFileSync(wasmOpt, ["-Os", pruned, "-o", pruned]);
  prunedWasm = readFileSync(pruned);
  rmSync(pruned);
}
// wasm-bindgen's JS glue, minified as a module (its exports and the property names of the
// wasm's import object stay): 63 KB to 29 KB, which every start parses (5.6 ms of an offline
// warm start in a Chromium trace), and 1.9 KB less brotli in the first load.
const glueCode = await minifiedCode(unused.glue, trunkGlue, { module: true });
// The imports' hashed names, written twice (module and glue), cost 5.5 KB brotli of the first
// load; renamed in both. So are the exports' (the closure invokers' long names).
const shortened = shortenNames(prunedWasm, glueCode);
writeFileSync(join(staging, trunkWasm.slice(1)), shortened.wasm);
writeFileSync(join(staging, trunkGlue.slice(1)), shortened.glue);

// Trunk names the glue and the wasm by a hash taken before wasm-opt and the minifier, so a
// change of their passes kept the names while the bytes changed, and the server sends hashed
// names as immutable. Renamed by the hash of the bytes they now hold; the links follow.
function renameByContent(path) {
  // Trunk writes its hash without leading zeros: one name in sixteen has 15 digits or fewer.
  const named = /-[0-9a-f]{1,16}(_bg)?\.(js|wasm)$/;
  if (!named.test(path)) {
    console.error(`post-build: ${path} is not named by a hash`);
    process.exit(1);
  }
  const bytes = readFileSync(join(staging, path.slice(1)));
  const renamed = path.replace(named, (_, bg, ext) => `-${sha256(bytes).slice(0, 16)}${bg ?? ""}.${ext}`);
  renameSync(join(staging, path.slice(1)), join(staging, renamed.slice(1)));
  return { path: renamed, bytes };
}
const sri = (bytes) => `sha384-${createHash("sha384").update(bytes).digest("base64")}`;
const glue = renameByContent(trunkGlue);
const wasm = renameByContent(trunkWasm);
const wasmIntegrity = sri(wasm.bytes);
html = html
  .replace(glueLink[0], glueLink[0].replace(trunkGlue, glue.path).replace(glueLink[2], sri(glue.bytes)))
  .replace(integrity[0], integrity[0].replace(trunkWasm, wasm.path).replace(integrity[2], wasmIntegrity));

// Trunk's boot is a deferred module: the wasm's compile began only after the whole page was
// parsed and the first paint's script had run (13 ms of an offline warm start in Chromium).
// This one is `async`, so it runs as soon as it is loaded: the compile (from the response
// the preload link already asked for, same integrity) overlaps the parsing, and the app
// starts once the document is parsed and the first paint ran (`DOMContentLoaded`), as
// before: it mounts into <body>, after the first paint. A compile that fails (or an engine
// without `compileStreaming`) leaves the fetch and its error to wasm-bindgen's own init.
// What ends the app is said in words, in place of the first paint, which would otherwise stay
// as if the app were still opening: a start that fails (no WebAssembly, as in Safari's
// Lockdown Mode; the glue or the wasm not loaded; a panic while starting: the glue is imported
// here, not by a static import, so that its failure is seen too), and a panic later (a
// WebAssembly trap: the release build aborts at once), after which the page still shows the
// form but nothing saves any more: the person is told to copy what they typed.
const boot = `const glue = import('${glue.path}');
glue.catch(() => {});
const wasmUrl = '${wasm.path}';
const compiled = (async () => WebAssembly.compileStreaming(fetch(wasmUrl, { integrity: '${wasmIntegrity}' })))().catch(() => wasmUrl);
const say = (words) => {
  document.getElementById('first-paint')?.remove();
  if (document.getElementById('outpost-stopped')) return;
  const notice = document.createElement('p');
  notice.id = 'outpost-stopped';
  notice.setAttribute('role', 'alert');
  notice.className = 'notice error';
  notice.textContent = words;
  const main = document.createElement('main');
  main.append(notice);
  document.body.prepend(main);
};
const trapped = (error) => typeof WebAssembly !== 'undefined' && error instanceof WebAssembly.RuntimeError;
const stopped = (error) => {
  if (trapped(error)) say('Outpost stopped after an error and saves nothing more. Copy what you typed that is not saved yet, then reload the page: what is saved on this device stays there.');
};
addEventListener('error', (event) => stopped(event.error));
addEventListener('unhandledrejection', (event) => stopped(event.reason));
const loaded = () => (performance.getEntriesByType('navigation')[0]?.domContentLoadedEventStart ?? 0) > 0;
if (!loaded()) await new Promise((resolve) => document.addEventListener('DOMContentLoaded', resolve, { once: true }));
try {
  const bindings = await glue;
  const wasm = await bindings.default({ module_or_path: await compiled });
  window.wasmBindings = bindings;
  dispatchEvent(new CustomEvent('TrunkApplicationStarted', { detail: { wasm } }));
} catch (error) {
  console.error('Outpost did not start:', error);
  say((typeof WebAssembly === 'undefined'
    ? 'Outpost cannot start: this browser runs no WebAssembly (it may be turned off, as in Lockdown Mode).'
    : 'Outpost could not start in this browser.') + ' What is saved on this device stays there. Reloading the page may help.');
}
`;
// Minified too: its words and names made it 803 B brotli.
const bootCode = await minifiedCode(boot, "the boot module", { module: true });
const bootName = `boot-${sha256(bootCode).slice(0, 16)}.js`;
writeFileSync(join(staging, bootName), bootCode);
html = html.replace(inline, `<script type="module" async src="/${bootName}"></script>`);
if (html.includes(trunkGlue) || html.includes(trunkWasm)) {
  console.error("post-build: index.html still names Trunk's glue or wasm");
  process.exit(1);
}

// The stylesheet Trunk put inline, without its comments and spare whitespace (1,623 → 1,212 B
// brotli): only whitespace around `{`, `}`, `;` and `,` goes, and runs of it become one space,
// so selectors (`a .b`), values (`0 1rem`) and quoted strings keep their meaning.
const styles = html.match(/<style>[\s\S]*?<\/style>/g) ?? [];
if (styles.length !== 1) {
  console.error(`post-build: expected Trunk's one inline stylesheet, found ${styles.length}`);
  process.exit(1);
}
html = html.replace(styles[0], () => `<style>${styles[0]
  .slice("<style>".length, -"</style>".length)
  .replace(/\/\*[\s\S]*?\*\//g, "")
  .replace(/\s+/g, " ")
  .replace(/\s*([{};,])\s*/g, "$1")
  .replace(/;}/g, "}")
  .trim()}</style>`);

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
// Minified, as the glue is: its comments are most of it (1,197 → 487 B brotli of the page).
const firstPaint = await minified("first-paint.js");
if (!html.includes("</body>") || firstPaint.includes("</script")) {
  console.error("post-build: cannot put first-paint.js inline at the end of <body>");
  process.exit(1);
}
// (A function: a replacement string would read `$&` and the like in the script.)
html = html.replace("</body>", () => `<script>\n${firstPaint}</script>\n  </body>`);
writeFileSync(indexPath, html);
rmSync(firstPaintPath);

// The photo worker, minified too: the service worker precaches it with the first load. Its
// top-level names are its own (a worker's global scope holds no other script): mangled too.
writeFileSync(join(staging, "photo-worker.js"), await minified("photo-worker.js", { toplevel: true }));

const swPath = join(staging, "sw.js");
const { build, files, used } = stampServiceWorker(staging, readFileSync(swPath, "utf8"));
checkEveryNameUsed([used, firstPaintNames]);
// The service worker is part of the first load too: its comments and spaces go (4.1 -> 2.3 KB
// brotli). Names and statements stay as written (no compression, no mangling), so what
// tools/bench and the WebKit seam look for in it is still there.
const swMinified = await minify(readFileSync(swPath, "utf8"), {
  compress: false,
  mangle: false,
  format: { comments: false },
});
if (!swMinified.code) {
  console.error("post-build: terser returned nothing for sw.js");
  process.exit(1);
}
writeFileSync(swPath, swMinified.code);
console.log(`post-build: build ${build}, ${files} files precached, boot ${bootName}`);
