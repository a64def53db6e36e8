// Debian's Firefox ESR, driven by puppeteer-core over WebDriver BiDi (no geckodriver). Each
// page is opened in a browser context of its own: a fresh profile's worth of storage, like a
// Playwright context. Page errors (uncaught exceptions, unhandled rejections, console.error)
// arrive over BiDi from the start of each page.
import puppeteer from "puppeteer-core";
import { DEFAULT_TIMEOUT, resolveInPage } from "./locator.mjs";
import { EnginePage, parseKeys } from "./page.mjs";

export const FIREFOX = "/usr/bin/firefox-esr";

/** Playwright's key names where puppeteer's differ ("a" with Control is "KeyA"). */
const keyName = (key) => (/^[a-zA-Z]$/.test(key) ? `Key${key.toUpperCase()}` : key);

async function pressKeys(keyboard, keys) {
  const { modifiers, key } = parseKeys(keys);
  for (const m of modifiers) await keyboard.down(m);
  await keyboard.press(keyName(key));
  for (const m of modifiers.reverse()) await keyboard.up(m);
}

/**
 * Evaluated in the page: the centre of `el` if the element (or one inside it) is what that
 * point hits; otherwise null (covered, or moving under an overlay). Not waiting for animation
 * frames as Playwright does: Firefox runs none in a page that is not in front.
 */
function clickablePoint(el) {
  el.scrollIntoView({ block: "nearest", inline: "nearest" });
  const box = el.getBoundingClientRect();
  if (!box.width || !box.height) return null;
  const x = box.x + box.width / 2;
  const y = box.y + box.height / 2;
  const hit = document.elementFromPoint(x, y);
  return hit && (hit === el || el.contains(hit)) ? { x, y } : null;
}

/**
 * Firefox's preferences for `preciseClock`: it coarsens `performance.now()` to 1 ms against
 * timing attacks (and to 0.1 ms whatever the first says, by the second), too coarse for the
 * bench's sub-millisecond figures.
 */
const PRECISE_CLOCK = {
  "privacy.reduceTimerPrecision": false,
  "privacy.reduceTimerPrecision.unconditional": false,
};

export async function launch({ preciseClock = false } = {}) {
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: true,
    protocol: "webDriverBiDi",
    extraPrefsFirefox: preciseClock ? PRECISE_CLOCK : {},
  });
  const pages = new Set();
  /** Playwright's page API over a puppeteer page; `ownContext` is closed with the page. */
  function wrap(page, ownContext) {
    page.on("pageerror", (error) => seam.pageErrors.push(`${page.url()}: ${error.stack ?? error}`));
    page.on("console", (message) => {
      if (message.type() === "error") seam.pageErrors.push(`${page.url()}: console.error: ${message.text()}`);
    });
    const driver = {
      keyboard: {
        press: (keys) => pressKeys(page.keyboard, keys),
        type: (text) => page.keyboard.type(text),
      },
      async query(steps, op) {
        try {
          if (op.kind === "read") return await page.evaluate(resolveInPage, steps, op);
          const handle = await page.evaluateHandle(resolveInPage, steps, op);
          const element = handle.asElement();
          if (element) return { handle: element };
          const answer = await handle.jsonValue();
          await handle.dispose();
          return answer;
        } catch (error) {
          // A navigation replaced the document while we looked: not found yet, as Playwright.
          if (/context|navigat|destroyed|discarded/i.test(String(error))) return { count: 0, unmet: [], error };
          throw error;
        }
      },
      /**
       * Clicks where the element is now, once it is what that point hits (as Playwright checks
       * its hit target). Puppeteer alone clicks where it found the box; a page that moved in
       * between takes the click elsewhere (seen: a click meant for Save landed in the Photo
       * URL field as a status line appeared above the form; the app no longer moves so).
       */
      async click(handle) {
        try {
          const deadline = Date.now() + DEFAULT_TIMEOUT;
          for (;;) {
            const point = await handle.evaluate(clickablePoint);
            if (point) return await page.mouse.click(point.x, point.y);
            if (Date.now() > deadline) throw new Error(`timed out after ${DEFAULT_TIMEOUT} ms waiting for an unobscured element to click`);
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        } finally {
          await handle.dispose().catch(() => {});
        }
      },
      async setFiles(handle, path) {
        try {
          await handle.uploadFile(path);
        } finally {
          await handle.dispose().catch(() => {});
        }
      },
      async fill(handle, text) {
        try {
          await handle.focus();
        } finally {
          await handle.dispose().catch(() => {});
        }
        await pressKeys(page.keyboard, "Control+A");
        await page.keyboard.press("Backspace");
        if (text) await page.keyboard.type(text);
      },
      goto: async (url) => {
        await page.goto(url);
      },
      reload: async () => {
        await page.reload();
      },
      evaluate: (fn, arg) => page.evaluate(fn, arg),
      // A string is evaluated as a script (BiDi's script.evaluate), not through the page's eval.
      addScript: async (source) => {
        await page.evaluate(source);
      },
      url: () => page.url(),
      async close() {
        pages.delete(wrapped);
        if (ownContext) await ownContext.close();
        else await page.close();
      },
    };
    const wrapped = new EnginePage(driver);
    pages.add(wrapped);
    return wrapped;
  }

  const seam = {
    engine: "firefox",
    pageErrors: [],
    /** A context: pages that share storage, like tabs of one browser profile. */
    async newContext() {
      const context = await browser.createBrowserContext();
      return {
        newPage: async () => wrap(await context.newPage(), null),
        close: () => context.close(),
      };
    },
    /** A page in a fresh context of its own, closed with it. */
    async newPage() {
      const context = await browser.createBrowserContext();
      return wrap(await context.newPage(), context);
    },
    async drainErrors() {},
    async close() {
      await browser.close();
    },
  };
  return seam;
}
