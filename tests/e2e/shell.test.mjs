// The harness works end to end: the real server serves the app shell, the Leptos app mounts,
// and the service worker installs and controls the page; an app that cannot start says so.
// Runs on every engine (OUTPOST_E2E_ENGINE); a page error fails the test (see lib/browser).
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./lib/harness.mjs";
import { startEngineServer, useEngine } from "./lib/browser/index.mjs";

const env = useEngine({ before, after, afterEach });

test("the app shell loads, mounts, and is controlled by the service worker", async () => {
  const response = await fetch(env.url);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-security-policy") ?? "", /script-src 'self' 'wasm-unsafe-eval'/);
  assert.match(await response.text(), /<script type="module" async src="\/boot-[0-9a-f]+\.js"><\/script>/);

  const page = await env.browser.newPage();
  await page.goto(env.url);
  await page.locator("[data-mounted=true]").waitFor();

  const controlled = await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r, { once: true }));
    }
    return navigator.serviceWorker.controller.scriptURL;
  });
  assert.match(controlled, /\/sw\.js$/);
  // The worker that took over a first visit is this build, not an update (WebKit delivered
  // its "installed" state after it claimed the page, and the banner showed: 4 runs in 45).
  await page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r?.update()));
  assert.equal(await page.getByText("A new version is ready.", { exact: true }).count(), 0);
  await page.close();
});

test("a browser that runs no WebAssembly is told so, in place of the last known profile", async () => {
  const live = mkdtempSync(join(tmpdir(), "outpost-no-wasm-"));
  cpSync(process.env.OUTPOST_E2E_DIST ?? join(ROOT, "dist"), live, { recursive: true });
  // As in Safari's Lockdown Mode: no WebAssembly. A script of the page's own origin (the
  // page's policy allows it), before any other.
  writeFileSync(join(live, "no-webassembly.js"), "delete globalThis.WebAssembly;\n");
  const index = readFileSync(join(live, "index.html"), "utf8");
  assert.ok(index.includes("<head>"));
  writeFileSync(join(live, "index.html"), index.replace("<head>", '<head><script src="/no-webassembly.js"></script>'));
  for (const file of ["index.html.br", "index.html.gz"]) rmSync(join(live, file), { force: true });
  const own = await startEngineServer(env.browser, { dist: live });
  try {
    const page = await env.browser.newPage();
    await page.goto(own.url);
    const words = page.getByText(/this browser runs no WebAssembly/);
    await words.waitFor();
    // A person who used the app here before: their last known profile is painted first, then
    // gives way to the words.
    await page.evaluate(() => localStorage.setItem("outpost-first-paint", JSON.stringify({ account: "ann", name: "Ann" })));
    await page.reload();
    await words.waitFor();
    assert.equal(await page.locator("#first-paint").count(), 0, "the first paint gone");
    assert.equal(await page.evaluate(() => document.querySelector("main p")?.getAttribute("role")), "alert");
    // The failed start is logged for whoever debugs it: expected here, once a start.
    await env.browser.drainErrors();
    const errors = env.browser.pageErrors;
    const failed = errors.filter((e) => /Outpost did not start/.test(e));
    assert.equal(failed.length, 2, errors.join("\n"));
    errors.splice(0, errors.length, ...errors.filter((e) => !failed.includes(e)));
    await page.close();
  } finally {
    await own.stop();
    rmSync(live, { recursive: true, force: true });
  }
});

test("an app stopped by a panic says so, and to copy what is not saved yet", async () => {
  const page = await env.browser.newPage();
  await page.goto(env.url);
  await page.locator("[data-mounted=true]").waitFor();
  // A WebAssembly trap (`unreachable`), which is what a panic of the release app is, uncaught,
  // from a timer: a module whose one function runs `unreachable`.
  await page.evaluate(() => {
    const bytes = new Uint8Array([
      0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 5, 1, 3, 0, 0, 11,
    ]);
    const { f } = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
    setTimeout(f);
  });
  await page.getByText(/Outpost stopped after an error and saves nothing more\. Copy what you typed/).waitFor();
  assert.equal(await page.evaluate(() => document.getElementById("outpost-stopped")?.getAttribute("role")), "alert");
  // The trap is reported as the page's error; expected here.
  await env.browser.drainErrors();
  const errors = env.browser.pageErrors;
  const trap = errors.filter((e) => /unreachable/i.test(e));
  assert.ok(trap.length >= 1, errors.join("\n"));
  errors.splice(0, errors.length, ...errors.filter((e) => !trap.includes(e)));
  await page.close();
});
