// Accessibility checks with axe-core in every engine: Chromium through @axe-core/playwright,
// Firefox and WebKit by running axe-core's own script in the page through the driver.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { AxeBuilder } from "@axe-core/playwright";
import { ENGINE } from "./browser/index.mjs";

const require = createRequire(import.meta.url);
let source;

/** axe's violations on `page` as lines "rule: help (targets)"; none is clean. */
export async function axeViolations(page) {
  if (ENGINE === "chromium") {
    const results = await new AxeBuilder({ page }).analyze();
    return results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(", ")})`);
  }
  source ??= readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.addScript(source);
  return page.evaluate(async () => {
    const results = await window.axe.run(document);
    return results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(", ")})`);
  });
}
