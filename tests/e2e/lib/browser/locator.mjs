// The part of Playwright's Locator that the portable tests use, for engines driven by something
// else than Playwright (Firefox through puppeteer-core, WebKit through selenium-webdriver).
// Elements are found by one in-page resolver (`resolveInPage`, evaluated in the page), by role
// and accessible name as Playwright's getByRole does, by text, or by CSS. Actions wait for the
// element as Playwright's do, and fail at once if more than one element matches (strict).

/** Playwright's default timeout for actions and `waitFor`, which the tests rely on. */
export const DEFAULT_TIMEOUT = 30_000;

/**
 * Evaluated in the page (self-contained: no closure over this module). `steps` narrow from the
 * document down: `{ kind: "role", role, name?, exact? }`, `{ kind: "text", text, exact? }`,
 * `{ kind: "css", selector }`, `{ kind: "has-text", text }` (keeps the elements found so far that
 * hold the text, as Playwright's `filter({ hasText })`); a string or `{ regex: { source, flags } }` is matched as
 * Playwright matches names and text. `op.kind`:
 * - "element": the one matching element when exactly one matches and it meets `op.require`
 *   ("visible", "enabled", "editable"), otherwise `{ count, unmet }`;
 * - "read": `{ count, value }` where `value` is `op.what` of the single match
 *   ("attribute" `op.arg`, "value", "text", "visible", "editable", "checked", "rect": where it
 *   is in the viewport), or `{ count }`;
 *   "select" is the one read that acts: it chooses the option whose value or label is `op.arg`
 *   in a select the person could use, as Playwright's selectOption (input and change events),
 *   and reads the value chosen (null if there was no such option or the select was disabled).
 */
export function resolveInPage(steps, op) {
  const norm = (s) => String(s ?? "").replace(/\s+/g, " ").trim();
  const matchText = (text, m) => {
    const t = norm(text);
    if (m && typeof m === "object" && m.regex) return new RegExp(m.regex.source, m.regex.flags).test(t);
    return m.exact ? t === norm(m.value) : t.toLowerCase().includes(norm(m.value).toLowerCase());
  };
  const tag = (el) => el.tagName.toUpperCase();
  const implicitRole = (el) => {
    switch (tag(el)) {
      case "INPUT": {
        const type = (el.getAttribute("type") || "text").toLowerCase();
        if (["email", "tel", "text", "url", ""].includes(type)) return el.getAttribute("list") ? "combobox" : "textbox";
        if (type === "search") return "searchbox";
        if (type === "hidden") return null;
        if (type === "file") return "button";
        // As Playwright: any other input type (password too) that is not listed is a textbox.
        return { button: "button", checkbox: "checkbox", image: "button", number: "spinbutton", radio: "radio",
          range: "slider", reset: "button", submit: "button" }[type] || "textbox";
      }
      case "TEXTAREA": return "textbox";
      case "SELECT": return el.multiple || el.size > 1 ? "listbox" : "combobox";
      case "OPTION": return "option";
      case "BUTTON": return "button";
      case "A": case "AREA": return el.hasAttribute("href") ? "link" : null;
      case "H1": case "H2": case "H3": case "H4": case "H5": case "H6": return "heading";
      case "IMG": return el.getAttribute("alt") === "" && !el.getAttribute("title") ? "presentation" : "img";
      case "OUTPUT": return "status";
      case "DIALOG": return "dialog";
      case "FORM": return "form";
      case "MAIN": return "main";
      case "NAV": return "navigation";
      case "UL": case "OL": return "list";
      case "LI": return "listitem";
      case "P": return "paragraph";
      case "SECTION": return el.hasAttribute("aria-label") || el.hasAttribute("aria-labelledby") ? "region" : null;
      default: return null;
    }
  };
  const roleOf = (el) => (el.getAttribute("role") || "").trim().split(/\s+/)[0] || implicitRole(el);
  const NAME_FROM_CONTENT = new Set(["button", "link", "heading", "checkbox", "radio", "option", "tab", "menuitem",
    "switch", "cell", "columnheader", "rowheader", "treeitem", "tooltip"]);
  const textOf = (el) => {
    // Text content, with an image's alt, as the accessible name from content reads it.
    let out = "";
    for (const node of el.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) out += node.textContent;
      else if (node.nodeType === Node.ELEMENT_NODE) {
        if (tag(node) === "IMG") out += ` ${node.getAttribute("alt") || ""} `;
        else if (!["SCRIPT", "STYLE", "TEMPLATE"].includes(tag(node))) out += ` ${textOf(node)} `;
      }
    }
    return out;
  };
  const accessibleName = (el) => {
    const labelledBy = el.getAttribute("aria-labelledby");
    if (labelledBy) {
      const text = labelledBy.split(/\s+/).map((id) => document.getElementById(id)).filter(Boolean)
        .map((e) => e.getAttribute("aria-label") || textOf(e)).join(" ");
      if (norm(text)) return norm(text);
    }
    const label = el.getAttribute("aria-label");
    if (label && norm(label)) return norm(label);
    if (el.labels && el.labels.length) return norm([...el.labels].map(textOf).join(" "));
    if (tag(el) === "IMG") return norm(el.getAttribute("alt") || el.getAttribute("title"));
    if (tag(el) === "INPUT" && ["submit", "button", "reset"].includes(el.type)) {
      return norm(el.value || (el.type === "submit" ? "Submit" : el.type === "reset" ? "Reset" : ""));
    }
    if (NAME_FROM_CONTENT.has(roleOf(el))) return norm(textOf(el));
    return norm(el.getAttribute("title"));
  };
  const hiddenForAria = (el) => {
    for (let e = el; e; e = e.parentElement) {
      if (e.getAttribute("aria-hidden") === "true" || e.hasAttribute("inert")) return true;
      if (getComputedStyle(e).display === "none") return true;
    }
    return getComputedStyle(el).visibility !== "visible";
  };
  const visible = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility === "visible";
  };
  const enabled = (el) => !(el.disabled || el.closest("fieldset[disabled]") || el.getAttribute("aria-disabled") === "true");
  const editable = (el) => enabled(el) && !el.readOnly && el.getAttribute("aria-readonly") !== "true";
  const SKIP = new Set(["SCRIPT", "STYLE", "TEMPLATE", "HEAD", "TITLE", "NOSCRIPT", "HTML"]);

  let roots = [document];
  for (const step of steps) {
    const found = new Set();
    for (const root of roots) {
      let candidates;
      if (step.kind === "css") candidates = [...root.querySelectorAll(step.selector)];
      else if (step.kind === "has-text") candidates = matchText(textOf(root), step.text) ? [root] : [];
      else candidates = [...root.querySelectorAll("*")];
      for (const el of candidates) {
        if (step.kind === "role") {
          if (roleOf(el) !== step.role || hiddenForAria(el)) continue;
          if (step.name !== undefined && !matchText(accessibleName(el), step.name)) continue;
        } else if (step.kind === "label") {
          const labelled = ["INPUT", "TEXTAREA", "SELECT"].includes(tag(el)) || el.hasAttribute("aria-label") ||
            el.hasAttribute("aria-labelledby");
          if (!labelled || !matchText(accessibleName(el), step.name)) continue;
        } else if (step.kind === "text") {
          if (SKIP.has(tag(el)) || !matchText(textOf(el), step.text)) continue;
          // The innermost element holding the text, as Playwright's text matching.
          if ([...el.children].some((child) => !SKIP.has(tag(child)) && matchText(textOf(child), step.text))) continue;
        }
        found.add(el);
      }
    }
    roots = [...found];
  }
  const count = roots.length;
  const el = roots[0];
  if (op.kind === "element") {
    if (count !== 1) return { count, unmet: [] };
    const unmet = (op.require || []).filter((r) =>
      (r === "visible" && !visible(el)) || (r === "enabled" && !enabled(el)) || (r === "editable" && !editable(el)));
    return unmet.length ? { count, unmet } : el;
  }
  if (op.what === "count") return { count, value: count };
  if (op.what === "visible") return { count, value: count === 1 && visible(el) };
  if (count !== 1) return { count };
  const value = {
    attribute: () => el.getAttribute(op.arg),
    value: () => el.value,
    text: () => el.textContent,
    editable: () => editable(el),
    checked: () => !!el.checked,
    rect: () => {
      const box = el.getBoundingClientRect();
      return [box.x, box.y, box.width, box.height].map(Math.round).join(",");
    },
    select: () => {
      const option = [...(el.options || [])].find((o) => o.value === op.arg || norm(o.label) === op.arg);
      if (!option || !enabled(el) || !visible(el)) return null;
      el.value = option.value;
      el.dispatchEvent(new Event("input", { bubbles: true }));
      el.dispatchEvent(new Event("change", { bubbles: true }));
      return option.value;
    },
  }[op.what]();
  return { count, value };
}

/** A name or text matcher as the resolver takes it. */
function matcher(value, exact) {
  if (value instanceof RegExp) return { regex: { source: value.source, flags: value.flags } };
  return { value: String(value), exact: !!exact };
}

function describe(steps) {
  return steps.map((s) => {
    if (s.kind === "role") return `getByRole(${JSON.stringify(s.role)}${s.name ? `, ${JSON.stringify(s.name.regex ? `/${s.name.regex.source}/` : s.name.value)}${s.name.exact ? " exact" : ""}` : ""})`;
    if (s.kind === "label") return `getByLabel(${JSON.stringify(s.name.regex ? `/${s.name.regex.source}/` : s.name.value)})`;
    if (s.kind === "text") return `getByText(${JSON.stringify(s.text.regex ? `/${s.text.regex.source}/` : s.text.value)})`;
    if (s.kind === "has-text") return `filter(hasText ${JSON.stringify(s.text.regex ? `/${s.text.regex.source}/` : s.text.value)})`;
    return `locator(${JSON.stringify(s.selector)})`;
  }).join(".");
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** How often a locator looks again while it waits, as Playwright's polling. */
const POLL_MS = 100;
/** How long an element's box must stay the same before a click (about three frames). */
const STILL_MS = 50;

/**
 * A locator over an engine page. `driver` gives: `query(steps, op)` → the resolver's answer
 * (an element answer is `{ handle }` or `{ count, unmet }`), `click(handle)`,
 * `fill(handle, text)`, `setFiles(handle, path)`.
 */
export class Locator {
  constructor(driver, steps) {
    this.driver = driver;
    this.steps = steps;
  }

  getByRole(role, { name, exact } = {}) {
    return new Locator(this.driver, [...this.steps, { kind: "role", role, name: name === undefined ? undefined : matcher(name, exact) }]);
  }

  getByText(text, { exact } = {}) {
    return new Locator(this.driver, [...this.steps, { kind: "text", text: matcher(text, exact) }]);
  }

  getByLabel(text, { exact } = {}) {
    return new Locator(this.driver, [...this.steps, { kind: "label", name: matcher(text, exact) }]);
  }

  locator(selector) {
    return new Locator(this.driver, [...this.steps, { kind: "css", selector }]);
  }

  filter({ hasText }) {
    return new Locator(this.driver, [...this.steps, { kind: "has-text", text: matcher(hasText, false) }]);
  }

  toString() {
    return describe(this.steps);
  }

  /** The one element meeting `require`, waited for; strict: two matches fail at once. */
  async #element(require, timeout = DEFAULT_TIMEOUT) {
    const deadline = Date.now() + timeout;
    let last;
    for (;;) {
      last = await this.driver.query(this.steps, { kind: "element", require });
      if (last.handle) return last.handle;
      if (last.count > 1) throw new Error(`strict mode violation: ${this} resolved to ${last.count} elements`);
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeout} ms waiting for ${this}` +
          (last.count ? ` to be ${last.unmet.join(", ")}` : " to exist") + (last.error ? ` (last: ${last.error})` : ""));
      }
      await sleep(POLL_MS);
    }
  }

  /** A property of the one element, once it exists (as Playwright's getAttribute etc.). */
  async #read(what, arg, timeout = DEFAULT_TIMEOUT) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const answer = await this.driver.query(this.steps, { kind: "read", what, arg });
      if (answer.count === 1) return answer.value;
      if (answer.count > 1) throw new Error(`strict mode violation: ${this} resolved to ${answer.count} elements`);
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeout} ms waiting for ${this} to exist${answer.error ? ` (last: ${answer.error})` : ""}`);
      }
      await sleep(POLL_MS);
    }
  }

  async waitFor({ state = "visible", timeout = DEFAULT_TIMEOUT } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const { count, value: shown, error } = await this.driver.query(this.steps, { kind: "read", what: "visible" });
      if (count > 1 && (state === "visible" || state === "attached")) {
        throw new Error(`strict mode violation: ${this} resolved to ${count} elements`);
      }
      const done = { visible: count === 1 && shown, attached: count === 1, hidden: !shown, detached: count === 0 }[state];
      if (done) return;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeout} ms waiting for ${this} to be ${state}${error ? ` (last: ${error})` : ""}`);
      }
      await sleep(POLL_MS);
    }
  }

  /**
   * Clicks once the element is where it stays: as Playwright waits for an element to be
   * stable, the same box twice, `STILL_MS` apart. A page still scrolling (WebKitGTK animates
   * scrolls, as the space bar pressed in a read-only field does) would otherwise take the
   * click somewhere else (seen: a click meant for Save landed on the page around it).
   */
  async click() {
    const deadline = Date.now() + DEFAULT_TIMEOUT;
    for (let last = null; ;) {
      const box = await this.#read("rect");
      if (box === last) break;
      if (Date.now() > deadline) throw new Error(`timed out after ${DEFAULT_TIMEOUT} ms waiting for ${this} to stop moving`);
      last = box;
      await sleep(STILL_MS);
    }
    await this.driver.click(await this.#element(["visible", "enabled"]));
  }

  /** Types as a person does: focus, select all, delete, then the text as key presses. */
  async fill(text) {
    await this.driver.fill(await this.#element(["visible", "enabled", "editable"]), String(text));
  }

  /** Chooses the file at `path` in a file input, as a person picking it would. */
  async setInputFiles(path) {
    await this.driver.setFiles(await this.#element(["enabled"]), path);
  }

  async check() {
    if (!(await this.isChecked())) await this.click();
  }

  /** Chooses the option with value or label `value`, once the select can be used. */
  async selectOption(value) {
    const deadline = Date.now() + DEFAULT_TIMEOUT;
    while ((await this.#read("select", String(value))) === null) {
      if (Date.now() > deadline) throw new Error(`timed out after ${DEFAULT_TIMEOUT} ms choosing ${JSON.stringify(value)} in ${this}`);
      await sleep(POLL_MS);
    }
    return [String(value)];
  }

  getAttribute(name) {
    return this.#read("attribute", name);
  }

  inputValue() {
    return this.#read("value");
  }

  textContent() {
    return this.#read("text");
  }

  isEditable() {
    return this.#read("editable");
  }

  isChecked() {
    return this.#read("checked");
  }

  async isVisible() {
    const { count, value } = await this.driver.query(this.steps, { kind: "read", what: "visible" });
    if (count > 1) throw new Error(`strict mode violation: ${this} resolved to ${count} elements`);
    return value;
  }

  async count() {
    return (await this.driver.query(this.steps, { kind: "read", what: "count" })).count;
  }
}
