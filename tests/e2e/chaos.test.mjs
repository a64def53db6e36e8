// A seeded, replayable chaos test in the real browser: three devices (device 0 with two tabs)
// on one account save random values while the test takes devices offline, reloads, closes and
// reopens tabs and kills the server (SIGKILL) and starts it again. Afterwards every tab must
// settle on the server's profile, and:
// - each device's last acknowledged value of each field is in the server's history (unless
//   the person gave it up with "Use theirs");
// - no conflict dialog shows a device's own value as "theirs" (a false conflict) or another
//   device's value as "Yours";
// - no version replaces a value with one saved before that value existed, unless the person
//   was shown both and chose "Keep mine";
// - no 5xx, no uncaught error, no panic in a page or the service worker.
// Seeds: OUTPOST_CHAOS_SEEDS=3,17, or OUTPOST_CHAOS_COUNT (default 2) seeds from
// OUTPOST_CHAOS_FIRST (default 1); `make chaos` runs 20. A failure prints how to replay it.
import { test } from "node:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ROOT, launchBrowser, waitFor } from "./lib/harness.mjs";
import { signUp, signIn, waitForStatus, waitForServiceWorker, apiToken, apiProfile } from "./lib/app.mjs";
import {
  ACK_NOTICES, DEVICES, FIELDS, FIELD_OF_LABEL, RestartableServer, Rng, TABS,
  chaosSeeds, freePort, planSteps, readDialogs, readHistory, replayHint, tabView, typeAndSave,
} from "./lib/chaos.mjs";

/** How long the app gets to settle after the chaos. */
const QUIESCENCE_MS = 30_000;
/** "Sync now" is pressed on a tab that has not settled after this long (the retry backoff may be long by then). */
const SYNC_NOW_AFTER_MS = 3_000;
/**
 * Errors that only say the network or the server was away. The last one: the app starts
 * `registration.update()` and drops its promise (src/data/services/service_worker.rs), which
 * rejects, uncaught, when sw.js cannot be fetched.
 */
const NETWORK_ERROR = new RegExp([
  "Failed to fetch", "NetworkError", "network error", "net::ERR_", "AbortError", "Load failed",
  "Failed to update a ServiceWorker .* An unknown error occurred when fetching the script",
].join("|"), "i");
/** Always a bug: a Rust panic or a trap in the wasm. */
const PANIC = /panicked|RuntimeError/;

for (const seed of chaosSeeds()) {
  test(`chaos seed ${seed}`, { timeout: 180_000 }, async (t) => {
    const run = new ChaosRun(seed);
    const summary = await run.execute();
    t.diagnostic(summary);
  });
}

/** One seed: the devices, what each typed and had acknowledged, and what went wrong. */
class ChaosRun {
  constructor(seed) {
    this.seed = seed;
    this.username = `chaos_s${seed}`;
    this.plan = planSteps(seed);
    this.choices = new Rng(seed, 2);
    this.started = Date.now();
    this.lines = [];
    this.problems = [];
    this.step = null;
    this.devices = Array.from({ length: DEVICES }, (_, index) => ({
      index,
      context: null,
      pages: [],
      offline: false,
      changedAt: 0,
      typed: { name: new Set(), photo_url: new Set() },
      acked: { name: null, photo_url: null },
      // Values the person gave up by choosing "Use theirs": they need not reach the server.
      discarded: { name: new Set(), photo_url: new Set() },
      // Every dialog answered on this device, with what it showed when the button was pressed.
      answers: [],
    }));
    // Who saved each value, at which step, and when it was acknowledged.
    this.saved = { name: new Map(), photo_url: new Map() };
    this.typedAnywhere = { name: new Set([this.username]), photo_url: new Set([""]) };
    this.lastDialog = new Map();
    this.stats = { dialogs: 0, saves: 0, acked: 0, syncNowPresses: 0 };
  }

  log(line) {
    const at = ((Date.now() - this.started) / 1000).toFixed(1).padStart(5);
    this.lines.push(`${at}s ${line}`);
  }

  problem(text) {
    this.problems.push(text);
    this.log(`!! ${text}`);
  }

  async execute() {
    this.server = new RestartableServer(await freePort());
    try {
      await this.server.start();
      this.browser = await launchBrowser();
      await this.signInEverywhere();
      try {
        await this.runSteps();
      } catch (error) {
        // Still settle and check: what the app does after a broken step is worth knowing.
        this.problem(`step #${this.step.k} ${JSON.stringify(this.step)} threw: ${error.stack ?? error}`);
        await this.describeTabs();
      }
      this.step = null;
      await this.quiesce();
      await this.browser.close();
      await this.server.stop();
      this.checkHistory();
      this.checkServerLog();
    } catch (error) {
      this.problem(`the run threw: ${error.stack ?? error}`);
    } finally {
      await this.browser?.close().catch(() => {});
      await this.server.stop().catch(() => {});
    }
    const elapsed = ((Date.now() - this.started) / 1000).toFixed(1);
    const summary = `seed ${this.seed}: ${this.plan.length} steps in ${elapsed} s; ${this.stats.saves} saves `
      + `(${this.stats.acked} acknowledged), ${this.stats.dialogs} conflict dialogs, `
      + `${this.stats.syncNowPresses} "Sync now" presses while settling`;
    const report = this.report(summary);
    // The step log of every seed is kept (tests/e2e/artifacts is not committed), to compare runs.
    const file = join(ROOT, "tests/e2e/artifacts", `chaos-seed-${this.seed}.log`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${report}\n`);
    if (this.problems.length) {
      throw new Error(`${report}\n(also in ${file}; the database is kept in ${this.server.dir})`);
    }
    this.server.removeFiles();
    return summary;
  }

  /** What went wrong, how to replay it, and what happened, step by step. */
  report(summary) {
    return [
      `chaos seed ${this.seed}: ${this.problems.length ? `${this.problems.length} problem(s)` : "passed"}`,
      ...this.problems.map((p) => `  - ${p}`),
      replayHint(this.seed),
      summary,
      `step log (seed ${this.seed}):`,
      ...this.lines.map((l) => `  ${l}`),
      "server log (last 15 lines):",
      ...this.server.log.trim().split("\n").slice(-15).map((l) => `  ${l}`),
    ].join("\n");
  }

  // ---- set-up ---------------------------------------------------------------------------

  /** Device 0 creates the account; every other tab and device signs in to it. */
  async signInEverywhere() {
    for (const device of this.devices) {
      device.context = await this.browser.newContext();
      this.watch(device);
    }
    const [d0, d1, d2] = this.devices;
    const first = await this.openTab(d0, 0, { signedIn: false });
    await signUp(first, this.username);
    this.token = await apiToken(this.server.url, this.username);
    for (const device of [d1, d2]) {
      const page = await this.openTab(device, 0, { signedIn: false });
      await signIn(page, this.username);
    }
    await this.openTab(d0, 1);
    // Going offline is only safe once the service worker answers the shell on each device.
    for (const device of this.devices) {
      await waitForStatus(device.pages[0], "synced", "online");
      await waitForServiceWorker(device.pages[0]);
    }
    this.log(`signed in ${this.username} on ${DEVICES} devices (${TABS.length} tabs) at ${this.server.url}`);
  }

  /** Opens tab `tab` of `device`; once signed in, the account comes back from IndexedDB. */
  async openTab(device, tab, { signedIn = true } = {}) {
    const page = await device.context.newPage();
    device.pages[tab] = page;
    const began = Date.now();
    await page.goto(this.server.url);
    if (Date.now() - began > 5_000) this.log(`   d${device.index}.t${tab}: loading the app took ${Date.now() - began} ms`);
    const target = signedIn
      ? page.getByRole("textbox", { name: "Name", exact: true })
      : page.getByRole("textbox", { name: "Username" });
    await target.waitFor({ timeout: 15_000 });
    return page;
  }

  /** Logs what each tab shows, after a step went wrong. */
  async describeTabs() {
    for (const { device: d, tab } of TABS) {
      const page = this.devices[d].pages[tab];
      const text = page.isClosed() ? "(closed)" : await page.evaluate(() => document.body?.innerText ?? "(no body)")
        .catch((error) => `(cannot read: ${error.message.split("\n")[0]})`);
      this.log(`   d${d}.t${tab} ${page.isClosed() ? "" : page.url()}: ${text.replace(/\s+/g, " ").slice(0, 300)}`);
    }
  }

  /** Records 5xx answers, uncaught errors and panics of the device's pages and service worker. */
  watch(device) {
    const { context } = device;
    context.on("response", (response) => {
      this.logPut(device, response);
      if (response.status() < 500) return;
      const line = `${response.status()} ${response.request().method()} ${new URL(response.url()).pathname}`;
      if (!this.server.up) return this.log(`d${device.index} ${line} while the server was down (ignored)`);
      this.problem(`d${device.index} got ${line} with the server up`);
    });
    context.on("weberror", (webError) => {
      const error = webError.error();
      const text = `${error.name}: ${error.message}${error.stack ? `\n${error.stack}` : ""}`;
      this.onError(device, `page ${webError.page()?.url() ?? "?"}`, text, true);
    });
    context.on("console", (message) => {
      if (message.type() === "error") this.onError(device, "page console", message.text(), false);
    });
    context.on("serviceworker", (worker) => {
      this.log(`d${device.index} service worker ${worker.url()} (its console is watched)`);
      worker.on("console", (message) => {
        if (message.type() === "error") this.onError(device, "service worker console", message.text(), false);
      });
    });
  }

  /** Logs every PUT of the profile (page or service worker): what it sent and what it got. */
  logPut(device, response) {
    const request = response.request();
    if (request.method() !== "PUT" || new URL(request.url()).pathname !== "/api/profile") return;
    const headers = request.headers();
    const body = request.postDataJSON() ?? {};
    const from = request.serviceWorker() ? "sw" : "page";
    const sent = `d${device.index} ${from} PUT If-Match ${headers["if-match"]} key ${(headers["idempotency-key"] ?? "-").slice(0, 8)} `
      + `name=${body.name} photo_url=${body.photo_url}`;
    response.json().then(
      (answer) => this.log(`   ${sent} -> ${response.status()} v${answer.version ?? answer.current?.version}`),
      () => this.log(`   ${sent} -> ${response.status()}`),
    );
  }

  /**
   * A panic is always a bug. An uncaught error is one too, unless it only says the network or
   * the server was away while they were (or had just come back). Other console errors are
   * Chromium's own noise ("Failed to load resource" while offline).
   */
  onError(device, where, text, uncaught) {
    const recent = Date.now() - Math.max(device.changedAt, this.server.changedAt) < 3_000;
    const outage = device.offline || !this.server.up || recent;
    const short = text.split("\n").slice(0, 3).join(" | ");
    if (PANIC.test(text)) return this.problem(`d${device.index} ${where}: ${short}`);
    if (!uncaught && !/^Uncaught/.test(text)) return;
    if (NETWORK_ERROR.test(text) && outage) return this.log(`d${device.index} ${where} (outage, ignored): ${short}`);
    this.problem(`d${device.index} ${where} uncaught: ${short}`);
  }

  // ---- the steps ------------------------------------------------------------------------

  async runSteps() {
    for (const step of this.plan) {
      this.step = step;
      await this[`do_${step.kind}`](step);
      await this.handleDialogs({ mayLeaveOpen: true });
    }
  }

  page(step) {
    return this.devices[step.device].pages[step.tab];
  }

  where(step) {
    return `d${step.device}.t${step.tab}`;
  }

  async do_save(step) {
    const device = this.devices[step.device];
    for (const [field, value] of Object.entries(step.fields)) {
      device.typed[field].add(value);
      this.typedAnywhere[field].add(value);
    }
    this.stats.saves += 1;
    const began = Date.now();
    const page = this.page(step);
    // A person types in the tab in front. (In headless Chromium a tab left behind another one
    // answers a save in about 2 s instead of 0.1 s, although it reports itself visible.)
    await page.bringToFront();
    const { notice, retyped } = await typeAndSave(page, step.fields);
    const what = Object.entries(step.fields).map(([f, v]) => `${f}=${v}`).join(" ")
      + (retyped.length ? ` (typed again: ${retyped.join(", ")})` : "");
    if (ACK_NOTICES.includes(notice)) {
      for (const [field, value] of Object.entries(step.fields)) {
        device.acked[field] = value;
        this.saved[field].set(value, { device: step.device, k: step.k, at: Date.now() });
      }
      this.stats.acked += 1;
      this.log(`#${step.k} ${this.where(step)} save ${what} -> "${notice}" (${Date.now() - began} ms)`);
    } else {
      // Offline-first saves go to IndexedDB first: a valid save is always acknowledged.
      this.problem(`#${step.k} ${this.where(step)} save ${what} not acknowledged: ${JSON.stringify(notice)}`);
    }
  }

  async do_network(step) {
    const device = this.devices[step.device];
    await device.context.setOffline(step.offline);
    device.offline = step.offline;
    device.changedAt = Date.now();
    this.log(`#${step.k} d${step.device} ${step.offline ? "offline" : "online"}`);
  }

  async do_reload(step) {
    const page = this.page(step);
    await page.reload();
    await page.getByRole("textbox", { name: "Name", exact: true }).waitFor({ timeout: 15_000 });
    this.log(`#${step.k} ${this.where(step)} reloaded${this.devices[step.device].offline ? " (offline)" : ""}`);
  }

  async do_reopen(step) {
    const device = this.devices[step.device];
    const began = Date.now();
    await this.page(step).close();
    this.log(`#${step.k} ${this.where(step)} closed (${Date.now() - began} ms)${device.offline ? " (offline)" : ""}`);
    // Planned, bounded time with the tab closed (with no tab open the service worker may sync).
    await new Promise((r) => setTimeout(r, step.gapMs));
    const opened = Date.now();
    await this.openTab(device, step.tab);
    this.log(`#${step.k} ${this.where(step)} reopened after ${step.gapMs} ms, shows the profile (${Date.now() - opened} ms)`);
  }

  async do_kill(step) {
    await this.server.kill();
    this.log(`#${step.k} server killed (SIGKILL)`);
  }

  async do_restart(step) {
    const began = Date.now();
    await this.server.start();
    this.log(`#${step.k} server restarted on the same port and database (${Date.now() - began} ms)`);
  }

  /** Lets time pass: a random, bounded pause standing for a person who does nothing. */
  async do_pause(step) {
    await new Promise((r) => setTimeout(r, step.ms));
    this.log(`#${step.k} pause ${step.ms} ms`);
  }

  /** Waits (bounded) until the tab settles: synced or in conflict if it can reach the server. */
  async do_wait(step) {
    const status = this.page(step).getByRole("status");
    const settled = step.untilSynced ? ["synced", "conflict"] : ["synced", "pending", "conflict", "error"];
    const began = Date.now();
    let shown;
    try {
      await waitFor(async () => settled.includes((shown = await status.getAttribute("data-sync"))), "status", step.untilSynced ? 3_000 : 1_000);
      this.log(`#${step.k} ${this.where(step)} wait -> ${shown} (${Date.now() - began} ms)`);
    } catch {
      this.log(`#${step.k} ${this.where(step)} wait for ${settled.join("|")}: still ${shown} after ${Date.now() - began} ms`);
    }
  }

  async do_sync(step) {
    await this.page(step).bringToFront();
    await this.page(step).getByRole("button", { name: "Sync now" }).click();
    this.log(`#${step.k} ${this.where(step)} Sync now`);
  }

  // ---- conflicts ------------------------------------------------------------------------

  /** Looks at every tab for a conflict dialog; checks a new one, then answers it or leaves it. */
  async handleDialogs({ mayLeaveOpen }) {
    for (const { device: d, tab } of TABS) {
      const page = this.devices[d].pages[tab];
      let dialogs;
      try {
        dialogs = await readDialogs(page);
      } catch {
        continue; // The page is between documents; the next look will see it.
      }
      if (dialogs.length === 0) {
        this.lastDialog.delete(`${d}.${tab}`);
        continue;
      }
      this.seeDialog(d, tab, dialogs[0]);
      const choice = this.choices.weighted([["Keep mine", 4], ["Use theirs", 4], ["leave open", mayLeaveOpen ? 2 : 0]]);
      if (choice === "leave open") {
        this.log(`   dialog d${d}.t${tab} left open`);
      } else {
        await this.answerDialog(d, tab, choice);
      }
    }
  }

  /** Checks and logs a dialog the first time a tab shows it. */
  seeDialog(d, tab, dialog) {
    const key = JSON.stringify(dialog.fields);
    if (this.lastDialog.get(`${d}.${tab}`) === key) return;
    this.lastDialog.set(`${d}.${tab}`, key);
    this.log(`   dialog d${d}.t${tab} ${describeFields(dialog.fields)}`);
    this.checkDialog(d, tab, dialog);
  }

  /**
   * A dialog must name each field with both sides. "Theirs" must come from another device: a
   * value this device typed shown as another device's is a false conflict (its own write not
   * recognised). "Mine" must be a value this device typed: anything else is another device's
   * value presented as this person's, and "Keep mine" would write it back over newer data.
   */
  checkDialog(d, tab, dialog) {
    this.stats.dialogs += 1;
    const device = this.devices[d];
    for (const shown of dialog.fields) {
      const field = FIELD_OF_LABEL[shown.label];
      if (!field || shown.mine === null || shown.theirs === null) {
        this.problem(`d${d}.t${tab}: cannot read the conflict dialog (field ${JSON.stringify(shown)})`);
        continue;
      }
      if (device.typed[field].has(shown.theirs)) {
        this.problem(`FALSE CONFLICT on d${d}.t${tab}: ${shown.label} "theirs" = ${shown.theirs}, typed on this same device (mine = ${shown.mine})`);
      }
      if (!device.typed[field].has(shown.mine)) {
        this.problem(`NOT MINE on d${d}.t${tab}: the dialog shows ${shown.label} "Yours" = ${shown.mine}, `
          + `never typed on this device${this.typist(field, shown.mine)} (theirs = ${shown.theirs})`);
      }
    }
  }

  /** " but on dN" for a value another device typed. */
  typist(field, value) {
    const saved = this.saved[field].get(value);
    return saved ? ` but on d${saved.device} at step #${saved.k}` : "";
  }

  /** Presses `choice`, records what the dialog showed as it was pressed, waits for it to close. */
  async answerDialog(d, tab, choice) {
    const page = this.devices[d].pages[tab];
    const device = this.devices[d];
    try {
      await page.bringToFront();
      const [shown] = await readDialogs(page, choice);
      if (!shown?.clicked) return this.log(`   dialog d${d}.t${tab} closed before ${choice} was pressed`);
      this.seeDialog(d, tab, shown);
      this.log(`   dialog d${d}.t${tab} -> ${choice}`);
      device.answers.push({ choice, fields: shown.fields });
      if (choice === "Use theirs") {
        for (const f of shown.fields) if (FIELD_OF_LABEL[f.label]) device.discarded[FIELD_OF_LABEL[f.label]].add(f.mine);
      }
      // The answer is taken once the dialog closes (or shows a newer conflict).
      const before = JSON.stringify(shown.fields);
      await waitFor(async () => {
        const now = await readDialogs(page);
        return now.length === 0 || JSON.stringify(now[0].fields) !== before;
      }, "the dialog to close", 2_000);
    } catch (error) {
      this.log(`   dialog d${d}.t${tab}: ${choice} did not close it yet (${error.message.split("\n")[0]})`);
    }
  }

  // ---- the end --------------------------------------------------------------------------

  /**
   * Everything online and the server up; then, within QUIESCENCE_MS, every tab must be synced,
   * online, without a dialog, and show the server's profile. "Sync now" is pressed on a tab
   * still behind after SYNC_NOW_AFTER_MS, as a person would.
   */
  async quiesce() {
    for (const device of this.devices) {
      if (device.offline) {
        await device.context.setOffline(false);
        device.offline = false;
        device.changedAt = Date.now();
      }
    }
    if (!this.server.up) await this.server.start();
    this.log("quiescence: every device online, server up");
    const began = Date.now();
    let lastPress = began;
    let behind = [];
    let server;
    while (Date.now() - began < QUIESCENCE_MS) {
      await this.handleDialogs({ mayLeaveOpen: false });
      try {
        server = await apiProfile(this.server.url, this.token);
        behind = [];
        for (const { device: d, tab } of TABS) {
          const view = await tabView(this.devices[d].pages[tab]);
          const same = view.sync === "synced" && view.connectivity === "online"
            && view.name === server.name && view.photo_url === server.photo_url;
          if (!same) behind.push({ d, tab, view });
        }
      } catch (error) {
        behind = [{ error: error.message.split("\n")[0] }];
      }
      if (behind.length === 0) {
        this.final = server;
        this.log(`quiescence after ${Date.now() - began} ms: all tabs show v${server.version} `
          + `name=${server.name} photo_url=${server.photo_url}`);
        return;
      }
      if (Date.now() - lastPress > SYNC_NOW_AFTER_MS) {
        lastPress = Date.now();
        for (const { d, tab } of behind.filter((b) => b.view)) {
          this.stats.syncNowPresses += 1;
          await this.devices[d].pages[tab].getByRole("button", { name: "Sync now" }).click({ timeout: 2_000 }).catch(() => {});
        }
        this.log(`   pressed Sync now on ${behind.filter((b) => b.view).map((b) => `d${b.d}.t${b.tab}`).join(", ")}`);
      }
      await new Promise((r) => setTimeout(r, 100)); // The poll interval of the wait above.
    }
    this.final = server;
    this.problem(`no quiescence within ${QUIESCENCE_MS / 1000} s; server has ${JSON.stringify(server)}; behind: ${JSON.stringify(behind)}`);
  }

  /**
   * The server's history must hold each device's last acknowledged value of each field (unless
   * the person gave it up with "Use theirs"), be gap-free, end at the profile the tabs show, and
   * hold only values someone typed.
   */
  checkHistory() {
    const history = readHistory(this.server.db, this.username);
    this.log(`history: ${history.length} versions`);
    history.forEach((row, i) => {
      if (row.version !== i + 1) this.problem(`history has version ${row.version} at position ${i + 1}`);
      for (const field of FIELDS) {
        if (!this.typedAnywhere[field].has(row[field])) this.problem(`history v${row.version} has ${field}=${row[field]}, typed by nobody`);
      }
    });
    const last = history.at(-1);
    if (this.final && last && (last.version !== this.final.version || last.name !== this.final.name
      || last.photo_url !== this.final.photo_url)) {
      this.problem(`history ends at ${JSON.stringify(last)}, the server answered ${JSON.stringify(this.final)}`);
    }
    this.checkOverwrites(history);
    for (const device of this.devices) {
      for (const field of FIELDS) {
        const value = device.acked[field];
        if (value === null || device.discarded[field].has(value)) continue;
        if (!history.some((row) => row[field] === value)) {
          this.problem(`LOST: d${device.index}'s last acknowledged ${field} = ${value} is not in the server's history`);
        }
      }
    }
  }

  /**
   * No blind overwrite: when a version replaces a field's value A with B, and B was saved on its
   * device before A even existed on the server, that device cannot have seen A; B may replace A
   * only because the person there was shown A against B and chose "Keep mine", or because A is
   * that same device's earlier edit. Anything else silently undoes a newer change.
   */
  checkOverwrites(history) {
    const firstCommit = { name: new Map(), photo_url: new Map() };
    for (const row of history) {
      for (const field of FIELDS) {
        if (firstCommit[field].has(row[field])) continue;
        const at = Date.parse(row.updated_at);
        if (Number.isNaN(at)) throw new Error(`history v${row.version}: cannot read updated_at ${row.updated_at}`);
        firstCommit[field].set(row[field], { at, version: row.version });
      }
    }
    for (let i = 1; i < history.length; i += 1) {
      const [before, after] = [history[i - 1], history[i]];
      for (const field of FIELDS) {
        const [a, b] = [before[field], after[field]];
        const saved = this.saved[field].get(b);
        const existed = firstCommit[field].get(a);
        if (a === b || !saved || saved.at >= existed.at) continue;
        // A device's later edit replaces its own earlier one, whenever that one reached the server.
        const aSaved = this.saved[field].get(a);
        if (aSaved?.device === saved.device && aSaved.at <= saved.at) continue;
        const offered = this.devices[saved.device].answers.some((answer) => answer.choice === "Keep mine"
          && answer.fields.some((f) => FIELD_OF_LABEL[f.label] === field && f.mine === b && f.theirs === a));
        if (!offered) {
          this.problem(`OVERWRITTEN: v${after.version} replaced ${field} = ${a} (on the server since v${existed.version}) `
            + `with ${b}, which d${saved.device} saved at step #${saved.k}, before ${a} existed; no dialog on `
            + `d${saved.device} offered ${a} against it`);
        }
      }
    }
  }

  checkServerLog() {
    for (const line of this.server.log.split("\n").filter((l) => /panicked/.test(l))) this.problem(`server: ${line}`);
  }
}

function describeFields(fields) {
  return fields.map((f) => `${f.label}: mine=${f.mine} theirs=${f.theirs}`).join("; ");
}
