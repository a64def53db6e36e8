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
