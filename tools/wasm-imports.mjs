// Short names for the app's WebAssembly imports (used by tools/post-build.mjs).
//
// wasm-bindgen names each import the module takes from its JS glue after the JS function it
// calls plus a hash (`__wbg_setAttribute_1a2b3c4d5e6f7a8b`), and the name is written twice:
// in the module's import section and as a key of the glue's import object. About 230 of
// them: the hashes alone are some 3.7 KB that brotli cannot shrink. `shortenImports` renames
// every hashed import to `_<base 36 counter>` in both files; the module's code refers to
// imports by index, so nothing else in it changes.
//
// The glue must name each hashed import exactly once (its key in the import object); anything
// else means wasm-bindgen changed its output, and the build stops rather than guess.

const HASHED = /_[0-9a-f]{16}$/;

/** Reads an unsigned LEB128 at `at`: [value, next offset]. */
export function leb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, at];
  }
}

export function uleb(value) {
  const out = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value) byte |= 0x80;
    out.push(byte);
  } while (value);
  return Buffer.from(out);
}

/** The name (a length-prefixed UTF-8 string) at `at`: [text, next offset]. */
export function name(bytes, at) {
  const [length, start] = leb(bytes, at);
  return [bytes.subarray(start, start + length).toString("utf8"), start + length];
}

/** `text` as a name: its UTF-8 length, then its bytes. */
export const encoded = (text) => Buffer.concat([uleb(Buffer.byteLength(text)), Buffer.from(text, "utf8")]);

/** The offset after an import's description (function, table, memory or global) at `at`. */
export function afterDescription(bytes, at) {
  const kind = bytes[at++];
  const limits = (p) => {
    const flags = bytes[p];
    let [, q] = leb(bytes, p + 1);
    if (flags & 1) [, q] = leb(bytes, q);
    return q;
  };
  switch (kind) {
    case 0: return leb(bytes, at)[1]; // function: its type index
    case 1: return limits(at + 1); // table: element type, limits
    case 2: return limits(at); // memory: limits
    case 3: return at + 2; // global: value type, mutability
    default: throw new Error(`wasm-imports: unknown import kind ${kind}`);
  }
}

/**
 * `wasm` (a Buffer) and `glue` (the JS text) with every hashed import renamed; also the count.
 * Throws when the glue does not name each of them exactly once.
 */
export function shortenImports(wasm, glue) {
  if (wasm.readUInt32LE(0) !== 0x6d736100) throw new Error("wasm-imports: not a WebAssembly module");
  const parts = [wasm.subarray(0, 8)];
  const renamed = new Map();
  let at = 8;
  while (at < wasm.length) {
    const id = wasm[at];
    const [size, body] = leb(wasm, at + 1);
    const end = body + size;
    if (id !== 2) {
      parts.push(wasm.subarray(at, end));
      at = end;
      continue;
    }
    let [count, p] = leb(wasm, body);
    const section = [uleb(count)];
    for (let i = 0; i < count; i++) {
      let module;
      let field;
      [module, p] = name(wasm, p);
      [field, p] = name(wasm, p);
      const next = afterDescription(wasm, p);
      let short = field;
      if (HASHED.test(field)) {
        short = renamed.get(field) ?? `_${renamed.size.toString(36)}`;
        renamed.set(field, short);
      }
      section.push(encoded(module), encoded(short), wasm.subarray(p, next));
      p = next;
    }
    if (p !== end) throw new Error("wasm-imports: the import section did not end where it said");
    const bytes = Buffer.concat(section);
    parts.push(Buffer.from([2]), uleb(bytes.length), bytes);
    at = end;
  }
  let text = glue;
  for (const [from, to] of renamed) {
    const pieces = text.split(from);
    if (pieces.length !== 2) {
      throw new Error(`wasm-imports: the glue names ${from} ${pieces.length - 1} times, not once`);
    }
    text = pieces.join(to);
  }
  return { wasm: Buffer.concat(parts), glue: text, count: renamed.size };
}
