// The harness works end to end: the real server serves the app shell, the Leptos app mounts,
// and the service worker installs and controls the page.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { useServerAndBrowser } from "./lib/harness.mjs";

const env = useServerAndBrowser({ before, after, afterEach });

test("the app shell loads, mounts, and is controlled by the service worker", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));

  const response = await page.goto(env.server.url);
  assert.equal(response.status(), 200);
  assert.match(response.headers()["content-security-policy"] ?? "", /script-src 'self' 'wasm-unsafe-eval'/);
  await page.locator("[data-mounted=true]").waitFor();

  const controlled = await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r, { once: true }));
    }
    return navigator.serviceWorker.controller.scriptURL;
  });
  assert.match(controlled, /\/sw\.js$/);
  assert.deepEqual(errors, []);
  await context.close();
});
