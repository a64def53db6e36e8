// Shared set-up for the end-to-end tests: the real Outpost server on a free port with a fresh
// SQLite file, and Debian's Chromium driven by playwright-core.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

/** The repository root, whatever directory the tests were started from. */
export const ROOT = resolve(import.meta.dirname, "../../..");

/** Flags Chromium needs on these machines: root without a sandbox, and no calls home. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

const SERVER_BIN = process.env.OUTPOST_SERVER_BIN ?? join(ROOT, "target/debug/outpost-server");

/**
 * Every test person and browser comes from 127.0.0.1, so the per-address limits (accounts
 * created, connections) are raised for them; the limits' own tests lower them again.
 */
export const LOOPBACK_CROWD = {
  OUTPOST_MAX_SIGNUPS_PER_ADDRESS: "100000",
  OUTPOST_MAX_CONNECTIONS_PER_ADDRESS: "100000",
};

/**
 * Starts the real server with a temporary database (or `db`, kept by `stop`) on `addr`.
 * Resolves once `/healthz` answers. `dist` defaults to the release build of the app in
 * `dist/` (or `$OUTPOST_E2E_DIST`).
 */
export async function startServer({
  dist = process.env.OUTPOST_E2E_DIST ?? join(ROOT, "dist"),
  env = {},
  addr = "127.0.0.1:0",
  db,
} = {}) {
  const dir = mkdtempSync(join(tmpdir(), "outpost-e2e-"));
  const child = spawn(
    SERVER_BIN,
    ["--addr", addr, "--db", db ?? join(dir, "outpost.db"), "--dist", dist],
    { env: { ...process.env, ...LOOPBACK_CROWD, RUST_LOG: "warn,outpost_server=info", ...env }, stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 30_000);
    child.stderr.on("data", (chunk) => {
      log += chunk;
      const found = log.match(/listening on (http:\/\/[0-9.:]+)/);
      if (found) {
        clearTimeout(timer);
        resolveUrl(found[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
  });
  await waitFor(async () => (await fetch(`${url}/healthz`)).ok, "server health");
  return {
    url,
    dir,
    log: () => log,
    /** A crash: SIGKILL, no graceful shutdown (the database file stays). */
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGKILL");
        await exited;
      }
    },
    /** A graceful shutdown (nothing to do after `kill()`), then its folder is removed. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `make run-cluster` on a free port: a throwaway PostgreSQL, two instances of the server and
 * nginx in front. Resolves once nginx serves, with the balancer's URL and each instance's URL
 * and process id.
 */
export async function startCluster() {
  const port = await freePort();
  const child = spawn(join(ROOT, "tools/with-postgres.sh"), [join(ROOT, "tools/run-cluster.sh")], {
    cwd: ROOT,
    detached: true,
    env: {
      ...process.env,
      ...LOOPBACK_CROWD,
      OUTPOST_CLUSTER_ADDR: `127.0.0.1:${port}`,
      OUTPOST_SERVER_BIN: SERVER_BIN,
      OUTPOST_DIST: process.env.OUTPOST_E2E_DIST ?? join(ROOT, "dist"),
      RUST_LOG: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let errors = "";
  child.stderr.on("data", (chunk) => { errors += chunk; });
  const instances = [];
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`cluster did not start:\n${out}${errors}`)), 60_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      for (const line of out.split("\n")) {
        const instance = line.match(/^instance (http:\/\/\S+) pid (\d+)/);
        if (instance && !instances.some((i) => i.url === instance[1])) {
          instances.push({ url: instance[1], pid: Number(instance[2]) });
        }
        const ready = line.match(/^cluster ready on (http:\/\/\S+)/);
        if (ready) {
          clearTimeout(timer);
          resolveUrl(ready[1]);
        }
      }
    });
    child.on("exit", (code) => reject(new Error(`cluster exited with ${code}:\n${out}${errors}`)));
  });
  return {
    url,
    instances,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        process.kill(-child.pid, "SIGTERM");
        const timer = setTimeout(() => process.kill(-child.pid, "SIGKILL"), 15_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Launches headless Chromium (a fresh profile per call). Every page of every context it opens
 * reports its uncaught exceptions, unhandled rejections and console.error messages into
 * `browser.pageErrors`, which `useServerAndBrowser` (and the seam's `useEngine`) checks after
 * each test: a page error fails the test.
 */
export async function launchBrowser() {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS });
  browser.pageErrors = [];
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (...args) => {
    const context = await newContext(...args);
    context.on("page", (page) => {
      page.on("pageerror", (error) => browser.pageErrors.push(`${page.url()}: ${error.stack ?? error}`));
      page.on("console", (message) => {
        if (message.type() === "error" && !isNetworkLogLine(message)) {
          browser.pageErrors.push(`${page.url()}: console.error: ${message.text()}`);
        }
      });
    });
    return context;
  };
  return browser;
}

/**
 * Chromium's own log line for a request that failed or was answered with an error status
 * ("Failed to load resource: net::ERR_CONNECTION_REFUSED", "... status of 412"), which
 * Playwright hands over as a console message of type "error" with no arguments. It is not a
 * console.error of the page (Firefox and WebKit report no such line), and the tests cause these
 * on purpose (offline, a server down, a conflict's 412): a call of console.error always has
 * arguments, and any other browser log line of level "error" (a CSP violation...) still counts.
 */
function isNetworkLogLine(message) {
  return message.args().length === 0 && message.text().startsWith("Failed to load resource: ");
}

/**
 * A persistent context in a fresh temporary profile: needed where Chromium treats a plain
 * context as incognito (installability checks, Background Sync).
 */
export async function launchPersistent() {
  const dir = mkdtempSync(join(tmpdir(), "outpost-profile-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Closes a test's own browser context, then runs `stops` in order (its servers, proxies and
 * directories) even when closing failed because the browser session ended under the test
 * (a WebKit web process crash): a server left running keeps the test file from ending.
 */
export async function closeContextThen(context, ...stops) {
  try {
    await context.close();
  } finally {
    for (const stop of stops) await stop();
  }
}

/** Polls `check` until it returns truthy; fails with `what` after `timeout` ms. */
export async function waitFor(check, what, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${lastError}` : ""}`);
}

/**
 * Registers `before`/`after` hooks that start one server and one browser for a test file,
 * and returns an object whose `server` and `browser` are set once they run. With an
 * `afterEach` hook, a test during which a page had an uncaught error fails.
 */
export function useServerAndBrowser(hooks) {
  const shared = {};
  hooks.before(async () => {
    shared.server = await startServer();
    shared.browser = await launchBrowser();
  });
  hooks.afterEach?.(() => {
    const errors = shared.browser?.pageErrors.splice(0) ?? [];
    if (errors.length) throw new Error(`page errors during the test:\n${errors.join("\n")}`);
  });
  hooks.after(async () => {
    await shared.browser?.close();
    await shared.server?.stop();
  });
  return shared;
}

/** A port that was free a moment ago (for a server that must come back at one address). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
