// The module's exports, as the app needs them (used by tools/post-build.mjs and
// tools/bench/wasm-size.mjs): classes it never uses dropped, with their glue; exports the glue
// never reads dropped; the rest under short names, in the module and the glue alike.
//
// Leptos always links server_fn with its `browser` feature, and through it wasm-streams, whose
// three classes (the Rust side of JavaScript streams) wasm-bindgen exports from the module.
// An export is a root: no pass removes it, nor the async code behind it (about 10 KB of the
// module). The app builds no stream: no import of the glue constructs one of these classes
// (wasm-bindgen would import a `__wbg_<class>_new` for that), and nothing outside the glue
// sees them. With their exports and their classes gone, wasm-opt removes the rest: 1.2 KB
// less brotli in the module, 0.3 KB in the glue (153,520 -> 152,302 and 4,832 -> 4,526 B).
//
// Each class must be found in both exactly as wasm-bindgen writes it, and must be unused;
// anything else means wasm-bindgen or a dependency changed, and the build stops rather than
// guess.

import { afterDescription, encoded, leb, name, shortenImports, uleb } from "./wasm-imports.mjs";

/** wasm-streams' exported classes. */
export const UNUSED_CLASSES = ["IntoUnderlyingByteSource", "IntoUnderlyingSink", "IntoUnderlyingSource"];

/**
 * The export or import names of section `id` (7 exports, 2 imports) of `wasm`, with where each
 * one's description starts and ends and the section's span; no imports when the module has no
 * such section. Throws when `wasm` is not a module or has no exports.
 */
function entries(wasm, id) {
  if (wasm.readUInt32LE(0) !== 0x6d736100) throw new Error("wasm-exports: not a WebAssembly module");
  const found = [];
  let at = 8;
  while (at < wasm.length) {
    const [size, body] = leb(wasm, at + 1);
    const end = body + size;
    if (wasm[at] === id) {
      let [count, p] = leb(wasm, body);
      for (let i = 0; i < count; i++) {
        let field;
        if (id === 2) [, p] = name(wasm, p); // an import's module, before its name
        [field, p] = name(wasm, p);
        const description = p;
        p = id === 2 ? afterDescription(wasm, p) : leb(wasm, p + 1)[1]; // an export: kind, index
        found.push({ name: field, description, end: p });
      }
      if (p !== end) throw new Error(`wasm-exports: section ${id} did not end where it said`);
      return { found, at, end };
    }
    at = end;
  }
  if (id === 7) throw new Error("wasm-exports: the module has no export section");
  return { found: [] };
}

/**
 * `wasm` (a Buffer) and `glue` (wasm-bindgen's JS, not minified) without the classes of
 * UNUSED_CLASSES; also how many exports went. Throws when a class is not found as expected or
 * is used.
 */
export function dropUnusedClasses(wasm, glue) {
  const imports = entries(wasm, 2).found;
  const exports = entries(wasm, 7);
  let text = glue;
  const drop = (entry) => UNUSED_CLASSES.some((c) => new RegExp(`^(__wbg_)?${c.toLowerCase()}_`).test(entry.name));
  for (const cls of UNUSED_CLASSES) {
    const lower = cls.toLowerCase();
    if (imports.some((i) => i.name.includes(lower))) throw new Error(`wasm-exports: the module uses ${cls}`);
    if (!exports.found.some((e) => drop(e) && e.name.includes(lower))) {
      throw new Error(`wasm-exports: the module exports nothing of ${cls}`);
    }
    const block = new RegExp(
      `^export class ${cls} \\{\\n[\\s\\S]*?\\n\\}\\n` +
        `if \\(Symbol\\.dispose\\) ${cls}\\.prototype\\[Symbol\\.dispose\\] = ${cls}\\.prototype\\.free;\\n`,
      "m",
    );
    const registry = new RegExp(`^const ${cls}Finalization = [^;]*;\\n`, "m");
    if (!block.test(text) || !registry.test(text)) throw new Error(`wasm-exports: the glue's ${cls} changed shape`);
    text = text.replace(block, "").replace(registry, "");
    if (text.includes(cls) || text.includes(lower)) throw new Error(`wasm-exports: the glue still names ${cls}`);
  }
  const kept = exports.found.filter((e) => !drop(e));
  return { wasm: withExports(wasm, exports, kept), glue: text, dropped: exports.found.length - kept.length };
}

/** `wasm` with its export section `exports` holding `kept` alone, each under `e.as ?? e.name`. */
function withExports(wasm, exports, kept) {
  const section = Buffer.concat([
    uleb(kept.length),
    ...kept.map((e) => Buffer.concat([encoded(e.as ?? e.name), wasm.subarray(e.description, e.end)])),
  ]);
  return Buffer.concat([
    wasm.subarray(0, exports.at),
    Buffer.from([7]),
    uleb(section.length),
    section,
    wasm.subarray(exports.end),
  ]);
}

const escaped = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** How many times `glue` holds `name` as a whole token, and the objects it reads it from. */
function occurrences(glue, name) {
  const all = glue.match(new RegExp(`(?<![\\w$])${escaped(name)}(?![\\w$])`, "g"))?.length ?? 0;
  // `a.W.x` is no read of the exports variable `W`.
  const readers = [...glue.matchAll(new RegExp(`(?<![\\w$.])([\\w$]+)\\.${escaped(name)}(?![\\w$])`, "g"))];
  return { all, readers: readers.map((m) => m[1]) };
}

/**
 * `wasm` without the exports `glue` (wasm-bindgen's JS) never names, so wasm-opt can remove
 * what only they reached; also how many went. Here: `main` (`__wbindgen_start` calls it by
 * index), the globals of wasm-bindgen's abort handling and of wasm-split, and
 * `__wbindgen_free` (the glue reads it only where it hands owned strings back, which this app
 * does not). A name the glue holds anywhere, even in a comment, stays.
 */
export function dropUnnamedExports(wasm, glue) {
  const exports = entries(wasm, 7);
  const kept = exports.found.filter((e) => occurrences(glue, e.name).all > 0);
  return { wasm: withExports(wasm, exports, kept), dropped: exports.found.length - kept.length };
}

/**
 * `wasm` and `glue` (minified: its own names are mangled, so an export's name is left only
 * where the module's exports are read, `<exports>.<name>`) with every export the glue reads
 * only that way, from one variable, renamed `$<base 36 counter>` in both; also how many.
 *
 * Each name is written twice, in the module and in the glue, and wasm-bindgen names its
 * closure invokers after their Rust types (72 to 334 characters each): 0.6 KB brotli of the
 * first load, with the unnamed exports above. An export named otherwise too (in a string, an
 * object's key) keeps its name. A glue that reads none of them this way is another shape of
 * wasm-bindgen's output, and the build stops rather than guess.
 */
export function shortenExports(wasm, glue) {
  const exports = entries(wasm, 7);
  const found = exports.found.map((e) => ({ ...e, ...occurrences(glue, e.name) }));
  // The glue's variable for the module's exports: what reads most of them.
  const tally = new Map();
  for (const reader of found.flatMap((e) => e.readers)) tally.set(reader, (tally.get(reader) ?? 0) + 1);
  const exportsVariable = [...tally].sort((a, b) => b[1] - a[1])[0]?.[0];
  let text = glue;
  let renamed = 0;
  for (const e of found) {
    if (e.all === 0 || e.readers.length !== e.all || e.readers.some((r) => r !== exportsVariable)) continue;
    e.as = `$${(renamed++).toString(36)}`;
    const read = new RegExp(`(?<![\\w$.])${escaped(exportsVariable)}\\.${escaped(e.name)}(?![\\w$])`, "g");
    text = text.replace(read, () => `${exportsVariable}.${e.as}`);
  }
  if (renamed === 0) throw new Error("wasm-exports: the glue reads no export as <exports>.<name>");
  if (found.some((e) => e.as === undefined && /^\$[0-9a-z]+$/.test(e.name))) {
    throw new Error("wasm-exports: an export is named like the short names");
  }
  return { wasm: withExports(wasm, exports, found), glue: text, renamed };
}

/**
 * What the build does before wasm-opt's last pass, in one place for it and for
 * tools/bench/wasm-size.mjs: `wasm` and `glue` (wasm-bindgen's, not minified) without
 * wasm-streams' classes and without the exports the glue never names.
 */
export function pruneExports(wasm, glue) {
  const unused = dropUnusedClasses(wasm, glue);
  return { wasm: dropUnnamedExports(unused.wasm, unused.glue).wasm, glue: unused.glue };
}

/**
 * What the build does after the glue's minification, in one place for it and for
 * tools/bench/wasm-size.mjs: the exports' and the hashed imports' names shortened in `wasm`
 * and in `glue` (minified) alike.
 */
export function shortenNames(wasm, glue) {
  const exported = shortenExports(wasm, glue);
  return shortenImports(exported.wasm, exported.glue);
}
