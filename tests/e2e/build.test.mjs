// The build's own steps (tools/post-build.mjs), checked on their own and on the build the
// other tests run: the short import names, the integrity the page asks of its files (a wrong
// one would not show as a failure: the boot module falls back to an unchecked fetch), and the
// minified inline stylesheet.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, launchBrowser } from "./lib/harness.mjs";
import { dropUnnamedExports, dropUnusedClasses, shortenExports } from "../../tools/wasm-exports.mjs";
import { shortenImports } from "../../tools/wasm-imports.mjs";

const uleb = (n) => {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
};
const text = (s) => [...uleb(Buffer.byteLength(s)), ...Buffer.from(s)];
const section = (id, body) => [id, ...uleb(body.length), ...body];

/** A module importing `functions` (all of type () -> ()) and a memory named `memory`. */
function module(functions) {
  const imports = functions.flatMap((name) => [...text("./glue.js"), ...text(name), 0, 0]);
  return Buffer.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 0, 0]),
    ...section(2, [...uleb(functions.length + 1), ...imports, ...text("./glue.js"), ...text("memory"), 2, 0, 1]),
  ]);
}

test("hashed imports get short names in the module and the glue alike", () => {
  const names = ["__wbg_log_0123456789abcdef", "__wbindgen_init_externref_table", "__wbg_now_fedcba9876543210"];
  const glue = `const i={__proto__:null,${names.map((n, k) => `${n}:()=>${k}`).join(",")}};`;
  const out = shortenImports(module(names), glue);
  assert.equal(out.count, 2);
  const imported = WebAssembly.Module.imports(new WebAssembly.Module(out.wasm));
  assert.deepEqual(imported.map((i) => [i.module, i.name, i.kind]), [
    ["./glue.js", "_0", "function"],
    ["./glue.js", "__wbindgen_init_externref_table", "function"],
    ["./glue.js", "_1", "function"],
    ["./glue.js", "memory", "memory"],
  ]);
  assert.equal(out.glue, "const i={__proto__:null,_0:()=>0,__wbindgen_init_externref_table:()=>1,_1:()=>2};");
});

test("a glue that does not name each hashed import exactly once stops the build", () => {
  const wasm = module(["__wbg_log_0123456789abcdef"]);
  assert.throws(() => shortenImports(wasm, "x={};"), /names __wbg_log_0123456789abcdef 0 times/);
  assert.throws(
    () => shortenImports(wasm, "x={__wbg_log_0123456789abcdef:1};y.__wbg_log_0123456789abcdef;"),
    /2 times, not once/,
  );
});

/** A module exporting one function of type () -> () under each of `names`, importing `imports`. */
function exporting(names, imports = []) {
  const imported = imports.flatMap((name) => [...text("./glue.js"), ...text(name), 0, 0]);
  const bodies = names.flatMap(() => [2, 0, 0x0b]);
  return Buffer.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 0, 0]),
    ...(imports.length ? section(2, [...uleb(imports.length), ...imported]) : []),
    ...section(3, [...uleb(names.length), ...names.map(() => 0)]),
    ...section(7, [...uleb(names.length), ...names.flatMap((name, k) => [...text(name), 0, ...uleb(imports.length + k)])]),
    ...section(10, [...uleb(names.length), ...bodies]),
  ]);
}

/** wasm-bindgen's glue for exported class `name`, as 0.2.130 writes it. */
function exportedClass(name) {
  const lower = name.toLowerCase();
  return {
    registry: `const ${name}Finalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_${lower}_free(ptr, 1));
`,
    block: `export class ${name} {
    free() {
        ${name}Finalization.unregister(this);
        wasm.__wbg_${lower}_free(this.__wbg_ptr, 0);
    }
    pull(controller) {
        return wasm.${lower}_pull(this.__wbg_ptr, controller);
    }
}
if (Symbol.dispose) ${name}.prototype[Symbol.dispose] = ${name}.prototype.free;
`,
  };
}

const CLASSES = ["IntoUnderlyingByteSource", "IntoUnderlyingSink", "IntoUnderlyingSource"];
const classExports = CLASSES.flatMap((c) => [`__wbg_${c.toLowerCase()}_free`, `${c.toLowerCase()}_pull`]);
const classGlue = () => {
  const parts = CLASSES.map(exportedClass);
  return `${parts.map((p) => p.block).join("")}export function start() {}\n${parts.map((p) => p.registry).join("")}`;
};

test("wasm-streams' unused classes leave the module's exports and the glue", () => {
  const out = dropUnusedClasses(exporting(["main", ...classExports, "memory_grow"]), classGlue());
  assert.equal(out.dropped, classExports.length);
  const exported = WebAssembly.Module.exports(new WebAssembly.Module(out.wasm));
  assert.deepEqual(exported.map((e) => e.name), ["main", "memory_grow"]);
  assert.equal(out.glue, "export function start() {}\n");
});

test("a class of another shape, or one the module uses, stops the build", () => {
  const glue = classGlue();
  assert.throws(
    () => dropUnusedClasses(exporting(["main", ...classExports]), glue.replace("Symbol.dispose) IntoUnderlyingSink", "x) IntoUnderlyingSink")),
    /the glue's IntoUnderlyingSink changed shape/,
  );
  assert.throws(
    () => dropUnusedClasses(exporting(["main", ...classExports], ["__wbg_intounderlyingsource_new_0123456789abcdef"]), glue),
    /the module uses IntoUnderlyingSource/,
  );
  assert.throws(
    () => dropUnusedClasses(exporting(["main", ...classExports.filter((e) => !e.includes("sink"))]), glue),
    /exports nothing of IntoUnderlyingSink/,
  );
});

test("exports the glue never names leave the module; the ones it reads get short names", () => {
  const invoker = "wasm_bindgen_0123___convert__closures_____invoke_______true_";
  // wasm-bindgen numbers closure invokers of one type: each name may begin another.
  const second = `${invoker}_1_`;
  const wasm = exporting(["main", invoker, "__wbindgen_free", second, "memory", "__wbindgen_start", "keyed"]);
  // The glue as wasm-bindgen writes it: a JS function of the invoker's own name around it.
  const glue = `let wasm;
function ${invoker}(a) { wasm.${invoker}(a); }
function ${second}(a) { wasm.${second}(a); }
export function go() { ${invoker}(1); ${second}(2); wasm.memory.grow(wasm.memory.x); wasm.__wbindgen_start(); }
const o = { keyed: wasm.keyed };
`;
  const pruned = dropUnnamedExports(wasm, glue);
  assert.equal(pruned.dropped, 2);
  const names = (bytes) => WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map((e) => e.name);
  assert.deepEqual(names(pruned.wasm), [invoker, second, "memory", "__wbindgen_start", "keyed"]);
  // Minified, the glue's own names are mangled: an export's name is left where it is read.
  const minified = `let W;function f(a){W.${invoker}(a)}function g(a){W.${second}(a)}export function go(){f(1);g(2);W.memory.grow(W.memory.x);W.__wbindgen_start()}const o={keyed:W.keyed};`;
  const out = shortenExports(pruned.wasm, minified);
  assert.equal(out.renamed, 4);
  // `keyed` is an object's key too, and stays.
  assert.deepEqual(names(out.wasm), ["$0", "$1", "$2", "$3", "keyed"]);
  assert.equal(
    out.glue,
    "let W;function f(a){W.$0(a)}function g(a){W.$1(a)}export function go(){f(1);g(2);W.$2.grow(W.$2.x);W.$3()}const o={keyed:W.keyed};",
  );
  // A name read from another object too, or through a property of one, stays.
  assert.deepEqual(names(shortenExports(pruned.wasm, `${minified}x.memory;`).wasm), ["$0", "$1", "memory", "$2", "keyed"]);
  assert.deepEqual(names(shortenExports(pruned.wasm, `${minified}x.W.memory;`).wasm), ["$0", "$1", "memory", "$2", "keyed"]);
  // A glue that reads none is another shape; a module without exports is no app.
  assert.throws(() => shortenExports(pruned.wasm, "export function go(){}"), /reads no export/);
  assert.throws(() => dropUnnamedExports(module([]), glue), /no export section/);
});

test("the built page asks its wasm and its glue for their true integrity", () => {
  const dist = process.env.OUTPOST_E2E_DIST ?? join(ROOT, "dist");
  const html = readFileSync(join(dist, "index.html"), "utf8");
  const sri = (path) => `sha384-${createHash("sha384").update(readFileSync(join(dist, path))).digest("base64")}`;
  const wasm = html.match(/<link rel="preload" href="\/([^"]+\.wasm)"[^>]*integrity="([^"]+)"/);
  const glue = html.match(/<link rel="modulepreload" href="\/([^"]+\.js)"[^>]*integrity="([^"]+)"/);
  assert.ok(wasm && glue, "preload links for the wasm and the glue");
  assert.equal(wasm[2], sri(wasm[1]), "the wasm's integrity");
  assert.equal(glue[2], sri(glue[1]), "the glue's integrity");
  const boot = html.match(/<script type="module" async src="\/([^"]+)"/)?.[1];
  assert.ok(boot, "the boot module");
  // Minified: its quoting is terser's.
  const bootCode = readFileSync(join(dist, boot), "utf8");
  assert.ok([`"${wasm[2]}"`, `'${wasm[2]}'`].some((quoted) => bootCode.includes(`integrity:${quoted}`)),
    "the boot module's fetch");
  const imported = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(join(dist, wasm[1]))));
  assert.ok(imported.length > 100 && imported.every((i) => !/_[0-9a-f]{16}$/.test(i.name)), "no hashed import left");
  const exported = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(join(dist, wasm[1]))));
  assert.ok(exported.some((e) => e.kind === "memory"), "the module's exports");
  // Every export under a short name, and read by the glue: none left unused (wasm-streams'
  // classes, `main`), none the glue reads under a name the module lacks.
  const glueCode = readFileSync(join(dist, glue[1]), "utf8");
  assert.ok(exported.every((e) => /^\$[0-9a-z]+$/.test(e.name)), "short export names only");
  const read = new Set([...glueCode.matchAll(/(?<![\w$.])[\w$]+\.(\$[0-9a-z]+)(?![\w$])/g)].map((m) => m[1]));
  assert.deepEqual(exported.map((e) => e.name).sort(), [...read].sort(), "the glue reads exactly the module's exports");
  assert.ok(!/IntoUnderlying/i.test(glueCode), "no class of wasm-streams in the glue");
});

test("the page's minified stylesheet means what static/styles.css says, rule for rule", async () => {
  const dist = process.env.OUTPOST_E2E_DIST ?? join(ROOT, "dist");
  const source = readFileSync(join(ROOT, "static/styles.css"), "utf8");
  const inline = readFileSync(join(dist, "index.html"), "utf8").match(/<style>([\s\S]*?)<\/style>/)?.[1];
  assert.ok(inline && inline.length < source.length, "the inline stylesheet, minified");
  const browser = await launchBrowser();
  try {
    const page = await (await browser.newContext()).newPage();
    // The engine's own parse of each, rule by rule, as it serialises them.
    const [a, b] = await page.evaluate((texts) => texts.map((text) => {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(text);
      return [...sheet.cssRules].map((rule) => rule.cssText);
    }), [source, inline]);
    assert.ok(a.length > 20, "the stylesheet's rules");
    assert.deepEqual(b, a);
  } finally {
    await browser.close();
  }
});
