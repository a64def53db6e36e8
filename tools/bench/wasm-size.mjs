// Where the app's WebAssembly bytes go (P1), so a regression is seen by whoever causes it.
// Takes the module Trunk built before wasm-bindgen, runs wasm-bindgen and wasm-opt as the
// build does (the passes index.html names) but keeping function names (`--keep-debug`,
// `-g`), and sums each function body by the crate its name starts with (generic code counts
// for the crate that defines it, e.g. `tachys` for the views' monomorphised rendering).
// Brotli of the whole optimised module, without the names and with the exports and imports
// shortened as the build does, is the figure P1 sees.
//
//   node tools/bench/wasm-size.mjs OUT.json
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants } from "node:zlib";
import { ROOT } from "../../tests/e2e/lib/harness.mjs";
import { minify } from "terser";
import { pruneExports, shortenNames } from "../wasm-exports.mjs";
import { leb } from "../wasm-imports.mjs";

const out = process.argv[2] ?? join(ROOT, "target/bench/raw/wasm-size.json");
const work = join(ROOT, "target/bench/work/wasm-size");
const input = join(ROOT, "target/wasm32-unknown-unknown/wasm-release/outpost.wasm");
const bin = (name) => join(ROOT, "tools/node_modules/.bin", name);
mkdirSync(work, { recursive: true });

const wasmBindgen = process.env.WASM_BINDGEN ?? "wasm-bindgen";
execFileSync(wasmBindgen, ["--target", "web", "--keep-debug", "--out-dir", work, input]);
const named = join(work, "named.wasm");
const bare = join(work, "bare.wasm");
// The passes of the build, as index.html gives them to Trunk: `-O<data-wasm-opt>`, then
// `data-wasm-opt-params`.
const rustLink = readFileSync(join(ROOT, "index.html"), "utf8").match(/<link data-trunk rel="rust"[^>]*>/)?.[0] ?? "";
const level = rustLink.match(/data-wasm-opt="([^"]+)"/)?.[1];
if (!level) throw new Error("index.html: no data-wasm-opt on the rust link; update tools/bench/wasm-size.mjs");
const passes = [`-O${level}`, ...(rustLink.match(/data-wasm-opt-params="([^"]*)"/)?.[1].split(/\s+/).filter(Boolean) ?? [])];
// Then, as tools/post-build.mjs does, the classes the app never uses and the exports the glue
// never names dropped, and -Os again.
let glue;
for (const [path, names] of [[named, ["-g"]], [bare, []]]) {
  execFileSync(bin("wasm-opt"), [...passes, ...names, join(work, "outpost_bg.wasm"), "-o", path]);
  const pruned = pruneExports(readFileSync(path), readFileSync(join(work, "outpost.js"), "utf8"));
  writeFileSync(path, pruned.wasm);
  glue = pruned.glue;
  execFileSync(bin("wasm-opt"), ["-Os", ...names, path, "-o", path]);
}

/** Function body sizes by function index, names by index, data bytes, import count. */
function parse(bytes) {
  let at = 8;
  let imports = 0;
  const bodies = [];
  const names = new Map();
  let data = 0;
  while (at < bytes.length) {
    const id = bytes[at++];
    let size;
    [size, at] = leb(bytes, at);
    const end = at + size;
    if (id === 2) {
      // Imports: only functions (kind 0) take function indices.
      let [count, p] = leb(bytes, at);
      for (let i = 0; i < count; i++) {
        for (let s = 0; s < 2; s++) {
          let len;
          [len, p] = leb(bytes, p);
          p += len;
        }
        const kind = bytes[p++];
        if (kind === 0) {
          [, p] = leb(bytes, p);
          imports += 1;
        } else if (kind === 1) {
          p += 1;
          const flags = bytes[p++];
          [, p] = leb(bytes, p);
          if (flags & 1) [, p] = leb(bytes, p);
        } else if (kind === 2) {
          const flags = bytes[p++];
          [, p] = leb(bytes, p);
          if (flags & 1) [, p] = leb(bytes, p);
        } else {
          p += 2;
        }
      }
    } else if (id === 10) {
      let [count, p] = leb(bytes, at);
      for (let i = 0; i < count; i++) {
        let len;
        [len, p] = leb(bytes, p);
        bodies.push(len);
        p += len;
      }
    } else if (id === 11) {
      data += size;
    } else if (id === 0) {
      let [len, p] = leb(bytes, at);
      const name = Buffer.from(bytes.subarray(p, p + len)).toString();
      p += len;
      if (name === "name") {
        while (p < end) {
          const sub = bytes[p++];
          let subSize;
          [subSize, p] = leb(bytes, p);
          if (sub === 1) {
            let [count, q] = leb(bytes, p);
            for (let i = 0; i < count; i++) {
              let index;
              let n;
              [index, q] = leb(bytes, q);
              [n, q] = leb(bytes, q);
              names.set(index, Buffer.from(bytes.subarray(q, q + n)).toString());
              q += n;
            }
          }
          p += subSize;
        }
      }
    }
    at = end;
  }
  return { imports, bodies, names, data };
}

/** The crate a function's name starts with (`<a::B as c::D>` counts for `a`). */
function crateOf(name) {
  // `<T as tachys::view::Render>::build`: a generic or a primitive implements another crate's
  // trait; the code is that crate's.
  const impl = /^<&?(?:mut )?([A-Za-z_][A-Za-z0-9_]*) as ([A-Za-z_][A-Za-z0-9_]*)/.exec(name ?? "");
  if (impl && /^([A-Z]|f32|f64|u8|u16|u32|u64|usize|i8|i16|i32|i64|isize|bool|char|str)$/.test(impl[1])) {
    return impl[2];
  }
  const match = /^[<&*\s]*(?:dyn\s+)?(?:mut\s+)?([A-Za-z_][A-Za-z0-9_]*)/.exec(name ?? "");
  if (!match) return "(unnamed)";
  const first = match[1];
  // `core[c5930c85a12de822]` in std's own symbols.
  return /^(f32|f64|u8|u16|u32|u64|usize|i8|i16|i32|i64|isize|bool|char|str)$/.test(first) ? "core" : first;
}

const namedBytes = readFileSync(named);
const { imports, bodies, names, data } = parse(namedBytes);
const byCrate = new Map();
const functions = [];
bodies.forEach((size, i) => {
  const name = names.get(imports + i) ?? `function ${imports + i}`;
  const crate = crateOf(name);
  byCrate.set(crate, (byCrate.get(crate) ?? 0) + size);
  functions.push({ name, size });
});
const code = bodies.reduce((a, b) => a + b, 0);
// As the build ships it: the exports' and imports' names shortened (tools/wasm-exports.mjs,
// tools/wasm-imports.mjs).
const minified = (await minify(glue, { module: true, compress: true, mangle: true })).code;
if (!minified) throw new Error("wasm-size: terser returned no code for the glue");
const bareBytes = shortenNames(readFileSync(bare), minified).wasm;
const brotli = brotliCompressSync(bareBytes, {
  params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: bareBytes.length },
}).length;
const result = {
  module_bytes: bareBytes.length,
  module_brotli_bytes: brotli,
  code_bytes: code,
  data_bytes: data,
  crates: [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([crate, bytes]) => ({ crate, bytes, share: bytes / code })),
  functions: functions.sort((a, b) => b.size - a.size).slice(0, 15),
};
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
console.error(`bench(wasm-size): ${bareBytes.length} B, ${brotli} B brotli; code ${code} B, data ${data} B`);
for (const { crate, bytes, share } of result.crates) {
  console.error(`bench(wasm-size):   ${String(bytes).padStart(7)} B ${(share * 100).toFixed(1).padStart(5)}%  ${crate}`);
}
