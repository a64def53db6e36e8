// The browser seam: one end-to-end suite, three engines. `OUTPOST_E2E_ENGINE` picks the engine
// ("chromium", the default, "firefox" or "webkit"); the tests get a browser whose `newPage()`
// opens a page in fresh storage (a new device), with the part of Playwright's Page and Locator
// API the portable tests use, and whose `pageErrors` collect what the pages reported.
import { test } from "node:test";
import { join } from "node:path";
import { ROOT, startServer } from "../harness.mjs";
import { startProxy } from "../proxy.mjs";

export const ENGINES = ["chromium", "firefox", "webkit"];
export const ENGINE = process.env.OUTPOST_E2E_ENGINE || "chromium";
if (!ENGINES.includes(ENGINE)) throw new Error(`OUTPOST_E2E_ENGINE=${ENGINE}: expected one of ${ENGINES.join(", ")}`);

/**
 * Launches `engine`. The answer has `newPage()`, `close()`, `pageErrors` (uncaught exceptions,
 * unhandled rejections and console.error of every page) and `drainErrors()` (reads what an
 * engine keeps in the page, into `pageErrors`). `preciseClock` (for the bench) asks for the
 * page's `performance.now()` at full precision where the engine lets a driver choose.
 */
export async function openBrowser(engine = ENGINE, { preciseClock = false } = {}) {
  const module = await import(`./${engine}.mjs`);
  return module.launch({ preciseClock });
}

/**
 * Registers a test that needs what only Chromium has; on the other engines it is not
 * registered at all. `reason` says what it needs (the README lists them).
 */
export function chromiumOnly(name, reason, fn) {
  if (typeof reason !== "string" || !reason) throw new Error(`chromiumOnly(${name}): say why`);
  if (ENGINE === "chromium") test(name, fn);
}

/**
 * The real server for `browser`: WebKit runs serve a copy of the build that loads the tests'
 * page-error collector first (see webkit.mjs); the copy goes with the server's `stop()`.
 * `server.dist` is the folder it serves (where a test deploys a new build).
 */
export async function startEngineServer(browser, options = {}) {
  if (!browser.instrumentDist) {
    const server = await startServer(options);
    server.dist = options.dist ?? process.env.OUTPOST_E2E_DIST ?? join(ROOT, "dist");
    return server;
  }
  const dist = browser.instrumentDist(options.dist ?? process.env.OUTPOST_E2E_DIST ?? join(ROOT, "dist"));
  try {
    const server = await startServer({ ...options, dist: dist.dir });
    server.dist = dist.dir;
    const stop = server.stop.bind(server);
    server.stop = async () => {
      await stop();
      dist.remove();
    };
    return server;
  } catch (error) {
    dist.remove();
    throw error;
  }
}

/**
 * Registers `before`/`after` hooks for a test file: the engine's browser, the real server and a
 * proxy in front of it (`url` is the proxy's: the address the pages use; `proxy.cut()` makes the
 * server unreachable, `proxy.route()` holds, loses or garbles answers; both end with the test).
 * With `afterEach`, a test during which a page reported an error fails.
 */
export function useEngine(hooks) {
  const shared = { engine: ENGINE };
  hooks.before(async () => {
    shared.browser = await openBrowser();
    shared.server = await startEngineServer(shared.browser);
    shared.proxy = await startProxy(shared.server.url);
    shared.url = shared.proxy.url;
  });
  hooks.afterEach?.(async () => {
    await shared.proxy?.restore();
    shared.proxy?.unroute();
    await shared.browser?.drainErrors();
    const errors = shared.browser?.pageErrors.splice(0) ?? [];
    if (errors.length) throw new Error(`page errors during the test (${ENGINE}):\n${errors.join("\n")}`);
  });
  // Every part is stopped even when one fails to stop (a browser session that died under a
  // test): a proxy or server left running kept the test file from ever ending.
  hooks.after(async () => {
    const results = [];
    for (const stop of [() => shared.browser?.close(), () => shared.proxy?.close(), () => shared.server?.stop()]) {
      results.push(await Promise.resolve().then(stop).then(() => null, (error) => error));
    }
    const failed = results.find((error) => error !== null);
    if (failed) throw failed;
  });
  return shared;
}
