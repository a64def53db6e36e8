// The parts of the chaos test (chaos.test.mjs) that are not about one step: which seeds run,
// the seeded PRNG, the plan of steps a seed makes, a server that can be killed and started
// again on its own port and database, and reading the app's dialog, status and form.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LOOPBACK_CROWD, ROOT, freePort, waitFor } from "./harness.mjs";

export { freePort };

/** How to run one seed again; printed with every failure. */
export const replayHint = (seed) =>
  `replay: OUTPOST_CHAOS_SEEDS=${seed} make chaos   (or: cd tests/e2e && OUTPOST_CHAOS_SEEDS=${seed} node --test chaos.test.mjs)`;

/** The seeds to run: OUTPOST_CHAOS_SEEDS=3,17 or OUTPOST_CHAOS_COUNT seeds from OUTPOST_CHAOS_FIRST. */
export function chaosSeeds(env = process.env) {
  const integer = (text, what) => {
    if (!/^\d+$/.test(text.trim())) throw new Error(`${what} must be a non-negative integer, not ${JSON.stringify(text)}`);
    return Number(text.trim());
  };
  if (env.OUTPOST_CHAOS_SEEDS?.trim()) {
    return env.OUTPOST_CHAOS_SEEDS.split(",").filter((s) => s.trim()).map((s) => integer(s, "a seed in OUTPOST_CHAOS_SEEDS"));
  }
  const count = integer(env.OUTPOST_CHAOS_COUNT ?? "2", "OUTPOST_CHAOS_COUNT");
  const first = integer(env.OUTPOST_CHAOS_FIRST ?? "1", "OUTPOST_CHAOS_FIRST");
  return Array.from({ length: count }, (_, i) => first + i);
}

/**
 * A small seeded PRNG (mulberry32). Each seed gets independent streams (`stream` 1, 2, ...)
 * so that decisions taken at moments that depend on timing (conflict dialogs) cannot shift
 * the plan of steps, which must be the same on every replay.
 */
export class Rng {
  constructor(seed, stream = 0) {
    this.state = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0;
  }

  /** A float in [0, 1). */
  next() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min, max) {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick(items) {
    return items[Math.floor(this.next() * items.length)];
  }

  chance(p) {
    return this.next() < p;
  }

  /** One key of `table` ([key, weight] pairs; weight 0 = not possible now). */
  weighted(table) {
    const total = table.reduce((sum, [, w]) => sum + w, 0);
    let roll = this.next() * total;
    for (const [key, weight] of table) {
      roll -= weight;
      if (roll < 0) return key;
    }
    return table.at(-1)[0];
  }
}

/** Devices and their tabs: device 0 has two tabs, devices 1 and 2 one each. */
export const TABS = [
  { device: 0, tab: 0 },
  { device: 0, tab: 1 },
  { device: 1, tab: 0 },
  { device: 2, tab: 0 },
];
export const DEVICES = 3;
/** Kills of the server per seed: enough to hit writes in flight, few enough to stay fast. */
export const MAX_KILLS = 3;
/** A killed server comes back after at most this many steps. */
const MAX_STEPS_DOWN = 4;

/** The values a save at step `k` of `seed` types: unique across the seed, so each names its device. */
export const valuesFor = (seed, k) => ({
  name: `s${seed}-n${k}`,
  photo_url: `https://example.com/s${seed}/${k}.png`,
});

/**
 * Plans every step of a seed before anything runs. The plan depends on the seed alone (the
 * test keeps its own record of who is offline and whether the server is up), so a replay
 * performs the same steps in the same order; only the app's timing can differ.
 */
export function planSteps(seed) {
  const rng = new Rng(seed, 1);
  const count = rng.int(40, 60);
  const offline = Array(DEVICES).fill(false);
  let serverUp = true;
  let kills = 0;
  let stepsDown = 0;
  const steps = [];
  for (let k = 1; k <= count; k += 1) {
    if (!serverUp) stepsDown += 1;
    if (!serverUp && (stepsDown > MAX_STEPS_DOWN || rng.chance(0.3))) {
      steps.push({ k, kind: "restart" });
      serverUp = true;
      continue;
    }
    const kind = rng.weighted([
      ["save", 40],
      ["network", 12],
      ["reload", 7],
      ["reopen", 5],
      ["kill", serverUp && kills < MAX_KILLS ? 4 : 0],
      ["pause", 12],
      ["wait", 8],
      ["sync", 4],
    ]);
    const where = rng.pick(TABS);
    switch (kind) {
      case "save": {
        const which = rng.weighted([["name", 4], ["photo_url", 3], ["both", 3]]);
        const all = valuesFor(seed, k);
        const fields = which === "both" ? all : { [which]: all[which] };
        steps.push({ k, kind, ...where, fields });
        break;
      }
      case "network":
        offline[where.device] = !offline[where.device];
        steps.push({ k, kind, device: where.device, offline: offline[where.device] });
        break;
      case "kill":
        kills += 1;
        serverUp = false;
        stepsDown = 0;
        steps.push({ k, kind });
        break;
      case "reopen":
        // The gap lets a device with every tab closed fall back on the service worker.
        steps.push({ k, kind, ...where, gapMs: rng.int(0, 500) });
        break;
      case "pause":
        steps.push({ k, kind, ms: rng.int(0, 300) });
        break;
      case "wait":
        // What to wait for follows from the plan: a reachable server lets a tab sync.
        steps.push({ k, kind, ...where, untilSynced: serverUp && !offline[where.device] });
        break;
      default:
        steps.push({ k, kind, ...where });
    }
  }
  return steps;
}

const SERVER_BIN = process.env.OUTPOST_SERVER_BIN ?? join(ROOT, "target/debug/outpost-server");

/**
 * The real server on a fixed port with one SQLite file, which can be killed (SIGKILL, as a
 * crash or power cut would) and started again on the same port and database.
 */
export class RestartableServer {
  constructor(port) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.dir = mkdtempSync(join(tmpdir(), "outpost-chaos-"));
    this.db = join(this.dir, "outpost.db");
    this.child = null;
    this.log = "";
    this.up = false;
    /** When it last went down or came up (ms); 5xx near these moments are the outage's. */
    this.changedAt = Date.now();
  }

  async start() {
    // The old socket may linger for a moment after a kill: try the same port again.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.spawnOnce();
        break;
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await waitFor(async () => (await fetch(`${this.url}/healthz`)).ok, "server health", 10_000);
    this.up = true;
    this.changedAt = Date.now();
  }

  spawnOnce() {
    const child = spawn(
      SERVER_BIN,
      ["--addr", `127.0.0.1:${this.port}`, "--db", this.db, "--dist", join(ROOT, "dist")],
      { env: { ...process.env, ...LOOPBACK_CROWD, RUST_LOG: "warn,outpost_server=info" }, stdio: ["ignore", "ignore", "pipe"] },
    );
    this.child = child;
    let ownLog = "";
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`server did not start:\n${ownLog}`));
      }, 15_000);
      child.stderr.on("data", (chunk) => {
        ownLog += chunk;
        this.log += chunk;
        if (/listening on http/.test(ownLog)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${ownLog}`));
      });
    });
  }

  /** SIGKILL: no graceful shutdown, requests in flight lose their answers. */
  async kill() {
    this.up = false;
    this.changedAt = Date.now();
    await this.signal("SIGKILL");
  }

  /** Stops it for good (gracefully, so the database is checkpointed) and keeps the files. */
  async stop() {
    this.up = false;
    await this.signal("SIGTERM");
  }

  async signal(name) {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(name);
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  removeFiles() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Every accepted version of `username`'s profile, read from the SQLite file after the run. */
export function readHistory(db, username) {
  const script = [
    "import json, sqlite3, sys",
    "c = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)",
    "rows = c.execute('SELECT h.version, h.name, h.photo_url, h.updated_at, h.mutation_id FROM profile_history h"
      + " JOIN accounts a ON a.id = h.account_id WHERE a.username = ? ORDER BY h.version', (sys.argv[2],))",
    "print(json.dumps([dict(version=v, name=n, photo_url=p, updated_at=u, mutation_id=m) for v, n, p, u, m in rows]))",
  ].join("\n");
  return JSON.parse(execFileSync("python3", ["-c", script, db, username], { encoding: "utf8" }));
}

/** The conflict dialog's labels, and the profile fields they stand for. */
export const FIELD_OF_LABEL = { Name: "name", "Photo URL": "photo_url" };
export const FIELDS = ["name", "photo_url"];

/**
 * What each conflict dialog on `page` shows: per field, "Yours: <q>mine</q>" and
 * "Other device: <q>theirs</q>" (src/ui/user_profile/conflict_dialog.rs). The sides are told
 * apart by those visible labels, the words a person reads.
 *
 * With `click` ("Keep mine" or "Use theirs") that button of the first dialog is pressed in the
 * same turn as the reading, so what is returned is exactly what the choice was made on: the
 * dialog re-renders whenever a newer server state arrives, and a choice recorded against an
 * older rendering would blame the app for the test's own race.
 */
export function readDialogs(page, click = null) {
  return page.evaluate((click) => {
    const side = (dd, label) => {
      const span = [...(dd?.children ?? [])].find((s) => s.textContent.trim().startsWith(label));
      return span?.querySelector("q")?.textContent ?? null;
    };
    const dialogs = [...document.querySelectorAll('[role="dialog"]')].map((dialog) => ({
      fields: [...dialog.querySelectorAll("dt")].map((dt) => ({
        label: dt.textContent.trim(),
        mine: side(dt.nextElementSibling, "Yours"),
        theirs: side(dt.nextElementSibling, "Other device"),
      })),
      clicked: false,
    }));
    if (click && dialogs.length) {
      const first = document.querySelector('[role="dialog"]');
      const button = [...first.querySelectorAll("button")].find((b) => b.textContent.trim() === click);
      button?.click();
      dialogs[0].clicked = Boolean(button);
    }
    return dialogs;
  }, click);
}

/** Notices that acknowledge a save (src/ui/user_profile/view_model.rs). */
export const ACK_NOTICES = ["Saved on this device.", "Saved and synced."];

/**
 * Types `fields` into the form and presses Save; resolves with the notice that answered this
 * save (null if none came within `timeout`) and what had to be typed again.
 *
 * Every successful save shows the same notice, so the notice alone cannot tell this save's
 * answer from the previous one's. The Save button says it is busy while a save runs
 * (`aria-disabled`, from the view model's `saving`; the click waits until it is not) and the
 * notice is set as it ends, so the answer to this save is the notice read once the button,
 * made busy by this click, is no longer busy.
 */
export async function typeAndSave(page, fields, timeout = 10_000) {
  const retyped = [];
  for (const [field, label] of [["name", "Name"], ["photo_url", "Photo URL"]]) {
    if (fields[field] === undefined) continue;
    const box = page.getByRole("textbox", { name: label, exact: true });
    // An untouched field follows the stored values, so a change arriving between fill()'s
    // select-all and its typing moves the caret and the typing lands after the new text. A
    // person would see that and type again; so does this.
    for (let attempt = 1; ; attempt += 1) {
      await box.fill(fields[field]);
      const shown = await box.inputValue();
      if (shown === fields[field]) break;
      retyped.push(`${label} showed ${JSON.stringify(shown)}`);
      if (attempt === 3) throw new Error(`${label} would not take ${fields[field]}: ${retyped.join(", ")}`);
    }
  }
  const save = page.getByRole("button", { name: "Save", exact: true });
  await save.evaluate((button) => {
    window.__chaosSaveEnded = new Promise((resolve) => {
      const observer = new MutationObserver(() => {
        if (button.getAttribute("aria-disabled") === "true") return;
        observer.disconnect();
        // The notice is rendered in the same turn; read it once that turn is over.
        setTimeout(() => resolve(button.form?.querySelector(".notice")?.textContent ?? ""), 0);
      });
      observer.observe(button, { attributes: true, attributeFilter: ["aria-disabled"] });
    });
  });
  await save.click();
  const notice = await page.evaluate((ms) => Promise.race([
    window.__chaosSaveEnded,
    new Promise((resolve) => setTimeout(() => resolve(null), ms)),
  ]), timeout);
  return { notice, retyped };
}

/** The status element's attributes and the form's values, as a tab shows them now. */
export async function tabView(page) {
  const status = page.getByRole("status");
  return {
    sync: await status.getAttribute("data-sync", { timeout: 2_000 }),
    connectivity: await status.getAttribute("data-connectivity", { timeout: 2_000 }),
    name: await page.getByRole("textbox", { name: "Name", exact: true }).inputValue({ timeout: 2_000 }),
    photo_url: await page.getByRole("textbox", { name: "Photo URL", exact: true }).inputValue({ timeout: 2_000 }),
  };
}
