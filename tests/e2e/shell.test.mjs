// The harness works end to end: the real server serves the app shell, the Leptos app mounts,
// and the service worker installs and controls the page. Runs on every engine
// (OUTPOST_E2E_ENGINE); a page error fails the test (see lib/browser).
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { useEngine } from "./lib/browser/index.mjs";

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
