// The page every engine other than Chromium hands to the tests: Playwright's Page, as far as
// the portable tests use it, over an engine driver (see firefox.mjs, webkit.mjs).
import { Locator } from "./locator.mjs";

/**
 * `driver` gives `query`, `click`, `fill` (for locators), `goto(url)`, `reload()`,
 * `evaluate(fn, arg)`, `addScript(source)`, `url()`, `close()` and `keyboard` (`press(keys)`, `type(text)`).
 */
export class EnginePage {
  constructor(driver) {
    this.driver = driver;
    this.keyboard = driver.keyboard;
  }

  #root() {
    return new Locator(this.driver, []);
  }

  getByRole(role, options) {
    return this.#root().getByRole(role, options);
  }

  getByText(text, options) {
    return this.#root().getByText(text, options);
  }

  getByLabel(text, options) {
    return this.#root().getByLabel(text, options);
  }

  locator(selector) {
    return this.#root().locator(selector);
  }

  /** Navigates and waits for the load event (as Playwright's default `waitUntil`). */
  goto(url) {
    return this.driver.goto(url);
  }

  reload() {
    return this.driver.reload();
  }

  /** Runs `fn(arg)` in the page and resolves to its (awaited, serialisable) result. */
  evaluate(fn, arg) {
    return this.driver.evaluate(fn, arg);
  }

  /**
   * Runs a script's source in the page by the driver, which the page's CSP does not stop (a
   * library such as axe-core); Playwright's pages do the same with `evaluate(source)`.
   */
  addScript(source) {
    return this.driver.addScript(source);
  }

  url() {
    return this.driver.url();
  }

  close() {
    return this.driver.close();
  }
}

/** Splits Playwright's "Control+A" into modifiers and the key. */
export function parseKeys(keys) {
  const parts = keys.split("+");
  return { modifiers: parts.slice(0, -1), key: parts.at(-1) };
}
