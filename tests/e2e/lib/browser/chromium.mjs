// Chromium: Playwright's own browser and pages (its strict getByRole and all), from the
// harness. `newPage()` opens a page in a fresh context, and closing the page closes the context.
// (Not Playwright's `browser.newPage()`: a context it owns may hold no other page, and
// @axe-core/playwright needs one that can.)
import { launchBrowser } from "../harness.mjs";

export async function launch() {
  const browser = await launchBrowser();
  browser.engine = "chromium";
  browser.newPage = async (options) => {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    const closePage = page.close.bind(page);
    page.close = async (closeOptions) => {
      await closePage(closeOptions);
      await context.close();
    };
    return page;
  };
  browser.drainErrors = async () => {};
  return browser;
}
