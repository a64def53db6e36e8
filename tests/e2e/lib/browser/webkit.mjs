// WebKitGTK: Debian's WebKitWebDriver with its MiniBrowser, driven by selenium-webdriver, under
// `xvfb-run -a` (MiniBrowser needs a display). Each page is a WebDriver session of its own (one
// WebKitWebDriver process each, as it serves one session at a time): MiniBrowser in automation
// mode starts with empty storage, so every page is a fresh device.
//
// Page errors: MiniBrowser's console is not reachable over WebDriver, and WebKitWebDriver has
// neither BiDi nor a script-on-new-document command. The server for a WebKit run therefore
// serves a copy of the build with one script of the tests' own, `e2e-page-errors.js`, loaded
// before the app's (see `instrumentDist`): it records uncaught errors, unhandled rejections and
// console.error in sessionStorage (so a reload keeps them), and the seam drains them before
// every navigation, when the page closes, and after each test.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Builder, Capabilities, Key, WebElement } from "selenium-webdriver";
import { freePort, waitFor } from "../harness.mjs";
import { DEFAULT_TIMEOUT, resolveInPage } from "./locator.mjs";
import { EnginePage, parseKeys } from "./page.mjs";

export const WEBKIT_DRIVER = "/usr/bin/WebKitWebDriver";
export const MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
const ERRORS_KEY = "__outpost_e2e_page_errors";
const COLLECTOR = "e2e-page-errors.js";

/** The tests' own page-error collector, loaded before the app's scripts. */
const COLLECTOR_SOURCE = `// Written by tests/e2e/lib/browser/webkit.mjs for WebKit runs only.
(() => {
  const record = (what) => {
    const line = location.href + ": " + what;
    try {
      const list = JSON.parse(sessionStorage.getItem(${JSON.stringify(ERRORS_KEY)}) || "[]");
      list.push(line);
      sessionStorage.setItem(${JSON.stringify(ERRORS_KEY)}, JSON.stringify(list));
    } catch (e) {
      (window.__outpostE2eErrors = window.__outpostE2eErrors || []).push(line);
    }
  };
  const describe = (value) => (value && value.stack ? String(value) + "\\n" + value.stack : String(value));
  addEventListener("error", (event) => record("uncaught " + (event.error ? describe(event.error) : event.message)));
  addEventListener("unhandledrejection", (event) => record("unhandled rejection: " + describe(event.reason)));
  const error = console.error;
  console.error = function (...args) {
    record("console.error: " + args.map(describe).join(" "));
    return error.apply(this, args);
  };
})();
`;

/**
 * A copy of the build in `dist` whose index.html loads the collector first, and whose service
 * worker precaches it too (so the app still opens offline), under a build id of its own.
 * Returns `{ dir, remove() }`.
 */
export function instrumentDist(dist) {
  const dir = mkdtempSync(join(tmpdir(), "outpost-webkit-dist-"));
  cpSync(dist, dir, { recursive: true });
  writeFileSync(join(dir, COLLECTOR), COLLECTOR_SOURCE);
  const index = readFileSync(join(dir, "index.html"), "utf8");
  const tagged = index.replace(/<head>/i, `<head>\n    <script src="/${COLLECTOR}"></script>`);
  if (tagged === index) throw new Error("index.html has no <head> to load the page-error collector in");
  writeFileSync(join(dir, "index.html"), tagged);
  for (const stale of ["index.html.br", "index.html.gz"]) rmSync(join(dir, stale), { force: true });
  const sw = readFileSync(join(dir, "sw.js"), "utf8");
  const stamped = sw
    // (The build's sw.js is minified: no spaces around `=` or `:`.)
    .replace(/const BUILD\s*=\s*"([0-9a-f]+)"/, (_, build) =>
      `const BUILD="${createHash("sha256").update(`${build}+${COLLECTOR_SOURCE}`).digest("hex").slice(0, 16)}"`)
    .replace(/const PRECACHE\s*=\s*\[/, `const PRECACHE=["/${COLLECTOR}",`)
    // The page is this copy's own now: the worker checks what it caches against its hash.
    .replace(/"\/index\.html":\s*"[0-9a-f]{16}"/, `"/index.html":"${createHash("sha256").update(tagged).digest("hex").slice(0, 16)}"`);
  if (stamped === sw || !stamped.includes(`"/${COLLECTOR}"`)) throw new Error("sw.js: build id or precache list not found");
  writeFileSync(join(dir, "sw.js"), stamped);
  for (const stale of ["sw.js.br", "sw.js.gz"]) rmSync(join(dir, stale), { force: true });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function startDriver() {
  if (!process.env.DISPLAY) throw new Error("WebKit needs a display: run the tests under `xvfb-run -a`");
  const port = await freePort();
  const child = spawn(WEBKIT_DRIVER, [`--port=${port}`], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  let stopping = false;
  child.stderr.on("data", (chunk) => { log += chunk; });
  // A driver that ends on its own ends its session ("NoSuchSessionError" in the test): say
  // how, with what it wrote, so the failure can be explained.
  child.once("exit", (code, signal) => {
    if (!stopping) console.error(`WebKitWebDriver on port ${port} exited by itself (code ${code}, signal ${signal})${log ? `:\n${log}` : ""}`);
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/status`)).ok, `WebKitWebDriver on ${url}${log ? `: ${log}` : ""}`, 10_000);
  return {
    url,
    /** What the driver (and the MiniBrowser it started) wrote to standard error. */
    log: () => log,
    /** Ends the MiniBrowser the driver started (a session that died leaves it running). */
    killBrowser() {
      spawnSync("pkill", ["-TERM", "-P", String(child.pid)]);
    },
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

async function drain(driver) {
  try {
    const url = await driver.getCurrentUrl();
    if (!/^https?:/.test(url)) return [];
    return await driver.executeScript(`
      const key = ${JSON.stringify(ERRORS_KEY)};
      const stored = JSON.parse(sessionStorage.getItem(key) || "[]");
      sessionStorage.removeItem(key);
      return stored.concat((window.__outpostE2eErrors || []).splice(0));`);
  } catch (error) {
    return [`(page errors could not be read: ${error})`];
  }
}

const seleniumKey = (key) => ({ Control: Key.CONTROL, Shift: Key.SHIFT, Alt: Key.ALT, Meta: Key.META,
  Enter: Key.ENTER, Tab: Key.TAB, Backspace: Key.BACK_SPACE, Escape: Key.ESCAPE }[key] ?? key.toLowerCase());

/**
 * One WebDriver session (one WebKitWebDriver, one MiniBrowser): a context whose pages are its
 * windows and share its storage. WebDriver talks to one window at a time, so every command of
 * a page runs in turn, after switching to that page's window.
 */
async function openSession(seam) {
  const service = await startDriver();
  const capabilities = new Capabilities();
  capabilities.set("browserName", "MiniBrowser");
  capabilities.set("webkitgtk:browserOptions", { binary: MINIBROWSER, args: ["--automation"] });
  // Playwright's defaults (a navigation or a script fails after 30 s), not WebDriver's 300 s.
  capabilities.set("timeouts", { pageLoad: DEFAULT_TIMEOUT, script: DEFAULT_TIMEOUT, implicit: 0 });
  let driver;
  try {
    driver = await new Builder().usingServer(service.url).withCapabilities(capabilities).build();
  } catch (error) {
    await service.stop();
    throw error;
  }
  const pages = new Set();
  let turn = Promise.resolve();
  let current = await driver.getWindowHandle();
  let firstWindowFree = true;
  let closed = false;
  /** Runs `fn` alone, in `handle`'s window. */
  const inWindow = (handle, fn) => {
    const run = turn.then(async () => {
      if (current !== handle) {
        await driver.switchTo().window(handle);
        current = handle;
      }
      return fn();
    });
    turn = run.catch(() => {});
    return run;
  };
  const session = {
    async newPage() {
      const handle = await inWindow(current, async () => {
        if (firstWindowFree) {
          firstWindowFree = false;
          return current;
        }
        await driver.switchTo().newWindow("tab");
        current = await driver.getWindowHandle();
        return current;
      });
      const run = (fn) => inWindow(handle, fn);
      const collect = () => run(async () => seam.pageErrors.push(...(await drain(driver))));
      const actions = () => driver.actions({ async: true });
      let pageClosed = false;
      const engineDriver = {
        keyboard: {
          press: (keys) => run(async () => {
            const { modifiers, key } = parseKeys(keys);
            let chain = actions();
            for (const m of modifiers) chain = chain.keyDown(seleniumKey(m));
            chain = chain.sendKeys(seleniumKey(key));
            for (const m of modifiers.reverse()) chain = chain.keyUp(seleniumKey(m));
            await chain.perform();
          }),
          type: (text) => run(() => actions().sendKeys(text).perform()),
        },
        query: (steps, op) => run(async () => {
          try {
            const answer = await driver.executeScript(`return (${resolveInPage})(arguments[0], arguments[1]);`, steps, op);
            if (answer instanceof WebElement) return { handle: answer };
            return answer;
          } catch (error) {
            // The document was being replaced (a navigation): not found yet, as Playwright.
            if (/stale|detached|navigat|JavaScript evaluation|unload/i.test(String(error))) return { count: 0, unmet: [], error };
            throw error;
          }
        }),
        click: (element) => run(() => element.click()),
        // WebDriver chooses a file by sending its path to the input.
        setFiles: (element, path) => run(() => element.sendKeys(path)),
        fill: (element, text) => run(async () => {
          await element.sendKeys(Key.chord(Key.CONTROL, "a"), Key.BACK_SPACE);
          if (text) await element.sendKeys(text);
        }),
        async goto(url) {
          await collect();
          await run(() => driver.get(url));
        },
        async reload() {
          await collect();
          await run(() => driver.navigate().refresh());
        },
        evaluate: (fn, arg) => run(() => driver.executeScript(`return (${fn})(arguments[0]);`, arg)),
        addScript: (source) => run(() => driver.executeScript(source)),
        url: () => run(() => driver.getCurrentUrl()),
        async close() {
          if (pageClosed || closed) return;
          pageClosed = true;
          await collect();
          pages.delete(page);
          if (pages.size === 0) return session.close();
          await run(() => driver.close());
          current = null;
        },
        collect,
      };
      const page = new EnginePage(engineDriver);
      pages.add(page);
      return page;
    },
    async close() {
      if (closed) return;
      for (const page of pages) await page.driver.collect();
      closed = true;
      seam.sessions.delete(session);
      try {
        // A session that ended under the test (its web process crashed: WebKitGTK's did once
        // here, on a GLib trap) answers "no such session" at once, but a quit of it never
        // returns: it is not asked, and its MiniBrowser is ended with the driver.
        const lost = await driver.getWindowHandle().then(() => null, (error) =>
          error?.name === "NoSuchSessionError" ? error : null);
        if (lost) {
          console.error(`WebKit session lost under the test (${lost.message}); the driver wrote:\n${service.log()}`);
          service.killBrowser();
          throw lost;
        }
        await driver.quit();
      } finally {
        await service.stop();
      }
    },
    async collect() {
      for (const page of pages) await page.driver.collect();
    },
  };
  seam.sessions.add(session);
  return session;
}

export async function launch() {
  const seam = {
    engine: "webkit",
    pageErrors: [],
    sessions: new Set(),
    /** The server of a WebKit run serves the build with the page-error collector. */
    instrumentDist,
    /** A context: a session of its own, whose pages (windows) share its storage. */
    async newContext() {
      return openSession(seam);
    },
    /** A page in a session of its own (a fresh device), ended with it. */
    async newPage() {
      const session = await openSession(seam);
      return session.newPage();
    },
    /** Reads what the open pages recorded since the last look. */
    async drainErrors() {
      for (const session of seam.sessions) await session.collect();
    },
    /** Ends every session, also after one of them failed to end (the first error is thrown). */
    async close() {
      const results = await Promise.allSettled([...seam.sessions].map((session) => session.close()));
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    },
  };
  return seam;
}
