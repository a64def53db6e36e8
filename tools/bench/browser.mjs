// Browser figures P1-P5 and P12 of `make bench` (method: docs/BENCHMARKS.md). Starts the release
// server through the e2e harness (OUTPOST_SERVER_BIN), drives headless Chromium, and writes
// the raw samples as JSON to the path given as the first argument.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { ROOT, freePort, startServer, launchBrowser, waitFor } from "../../tests/e2e/lib/harness.mjs";
import { stats } from "./stats.mjs";
import { instrument, p3Save, p4Reconnect, p5Push, plainPutRoundTrips, setName } from "./measures.mjs";
import { waitForStatus } from "../../tests/e2e/lib/app.mjs";

const out = process.argv[2] ?? join(ROOT, "target/bench/raw/browser.json");
const N = Number(process.env.BENCH_BROWSER_RUNS ?? 30);
const PASSWORD = "bench-password-1";
const log = (...a) => console.error("bench(browser):", ...a);

// ---------------------------------------------------------------------------------------
// A copy of dist with a static page holding the same text as the profile view, precached by
// the same service worker and answered from its cache for navigations like the shell.
const username = `b${Date.now().toString(36)}`;
const benchDist = join(ROOT, "target/bench/dist");
rmSync(benchDist, { recursive: true, force: true });
mkdirSync(benchDist, { recursive: true });
cpSync(process.env.OUTPOST_E2E_DIST ?? join(ROOT, "dist"), benchDist, { recursive: true, filter: (src) => !src.includes(".stage") });
const indexHtml = readFileSync(join(benchDist, "index.html"), "utf8");
// The app's stylesheet is inline (the server's policy allows it by hash in index.html only):
// the static page links the same rules as a file of its own.
const style = indexHtml.match(/<style>([\s\S]*?)<\/style>/)?.[1];
if (style === undefined) throw new Error("no inline stylesheet in index.html: update tools/bench/browser.mjs");
writeFileSync(join(benchDist, "bench-static.css"), style);
const css = '<link rel="stylesheet" href="/bench-static.css">';
writeFileSync(
  join(benchDist, "bench-static.html"),
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Outpost</title>${css}` +
    `<link rel="icon" type="image/png" href="/icons/icon-192.png"></head>` +
    `<body><div id="outpost"><main><h1 id="profile-title">${username}</h1>` +
    `<p class="account">Signed in as ${username}</p><label for="name">Name</label>` +
    `<input id="name" value="${username}"></main></div></body></html>\n`,
);
let sw = readFileSync(join(benchDist, "sw.js"), "utf8");
const swBefore = sw;
// (The build's sw.js is minified: statements as written, without comments and spaces.)
sw = sw.replace(/const PRECACHE\s*=\s*\[/, 'const PRECACHE=["/bench-static.html","/bench-static.css",');
sw = sw.replace(
  "await cache.match(SHELL",
  'await cache.match(url.pathname === "/bench-static.html" ? url.pathname : SHELL',
);
// P4: when the service worker's Background Sync sent the change, the moment its PUT was
// answered (the change is on the server), told to the page on a channel of the bench's own.
// The profile PUT's is the last `retryLater(response);` (the photo upload's comes before it).
const answered = "retryLater(response);";
const swPut = sw.lastIndexOf(answered);
sw = swPut < 0 ? sw : sw.slice(0, swPut) +
  'new BroadcastChannel("outpost-bench").postMessage({ put: performance.timeOrigin + performance.now(), status: response.status });' +
  sw.slice(swPut);
if (sw === swBefore || !sw.includes("/bench-static.html") || !sw.includes("? url.pathname : SHELL") || swPut < 0) {
  throw new Error("cannot add the static page or P4's probe to sw.js: its shape changed; update tools/bench/browser.mjs");
}
writeFileSync(join(benchDist, "sw.js"), sw);

// ---------------------------------------------------------------------------------------
// Raw bytes of one response as served (no decompression), with Accept-Encoding br, gzip.
function fetchRaw(url) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { "accept-encoding": "br, gzip" } }, (res) => {
      let bytes = 0;
      const chunks = [];
      res.on("data", (c) => {
        bytes += c.length;
        chunks.push(c);
      });
      res.on("end", () =>
        resolve({ status: res.statusCode, encoding: res.headers["content-encoding"] ?? "identity", bytes, body: Buffer.concat(chunks) }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

async function p1FirstLoadBytes(url) {
  const files = new Map();
  const index = await fetchRaw(`${url}/`);
  files.set("/index.html", index);
  const plain = index.body.length && index.encoding === "identity" ? String(index.body) : indexHtml;
  const refs = new Set([...plain.matchAll(/(?:href|src)="(\/[^"]+)"/g)].map((m) => m[1]));
  refs.add("/sw.js");
  const manifest = JSON.parse(readFileSync(join(benchDist, "manifest.webmanifest"), "utf8"));
  for (const icon of manifest.icons ?? []) refs.add(new URL(icon.src, `${url}/`).pathname);
  // Everything the service worker precaches on the first visit (from the real dist's sw.js).
  const precache = readFileSync(join(benchDist, "sw.js"), "utf8").match(/const PRECACHE\s*=\s*(\[.*?\]);/);
  if (precache) for (const p of JSON.parse(precache[1])) refs.add(p);
  for (const path of [...refs].sort()) {
    if (path === "/bench-static.html" || path === "/bench-static.css") continue;
    const r = await fetchRaw(`${url}${path}`);
    if (r.status !== 200) throw new Error(`P1: ${path} answered ${r.status}`);
    files.set(path, r);
  }
  const list = [...files].map(([path, r]) => ({ path, encoding: r.encoding, bytes: r.bytes }));
  return { total_bytes: list.reduce((a, f) => a + f.bytes, 0), files: list };
}

// For P2: the time from navigation start until #profile-title shows `name` (painted: the
// first paint's or the app's), and until the app's Name box takes input (usable: the app
// mounted, the first paint gone, the box filled and neither disabled nor read-only).
function visibleProbe(name) {
  window.__visible = null;
  window.__usable = null;
  const check = () => {
    const now = performance.now();
    const title = document.getElementById("profile-title");
    if (window.__visible === null && title && title.textContent.trim() === name) window.__visible = now;
    const box = document.getElementById("name");
    if (window.__usable === null && box && box.value === name && !box.disabled && !box.readOnly
      && !document.getElementById("first-paint")) {
      window.__usable = now;
    }
    return window.__visible !== null && window.__usable !== null;
  };
  const observer = new MutationObserver(() => check() && observer.disconnect());
  observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  const poll = () => check() || setTimeout(poll, 4);
  poll();
}

async function signUp(page, url, name) {
  await page.goto(url);
  await page.getByRole("textbox", { name: "Username" }).fill(name);
  await page.getByRole("textbox", { name: "Password" }).fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.locator("#profile-title").filter({ hasText: name }).waitFor();
}
async function signIn(page, url, name) {
  await page.goto(url);
  await page.getByRole("textbox", { name: "Username" }).fill(name);
  await page.getByRole("textbox", { name: "Password" }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  // The account's name has changed by now (P3, P4): any profile view will do.
  await page.locator("#profile-title").waitFor();
}
async function controlled(page) {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r, { once: true }));
    }
  });
}

async function p2OfflineWarmStart(browser, url) {
  const context = await browser.newContext();
  await context.addInitScript(visibleProbe, username);
  const page = await context.newPage();
  await signUp(page, url, username);
  await controlled(page);
  await waitFor(() => page.evaluate(() => caches.match("/bench-static.html").then(Boolean)), "static page precached");
  await waitForStatus(page, "synced");
  await context.setOffline(true);
  const measure = async (path) => {
    await page.goto(`${url}${path}`, { waitUntil: "commit" });
    await page.waitForFunction(() => window.__visible !== null && window.__usable !== null, null, { timeout: 15_000 });
    return page.evaluate(() => ({ painted: window.__visible, usable: window.__usable }));
  };
  // One warm-up of each, then alternate.
  await measure("/");
  await measure("/bench-static.html");
  const app = [];
  const staticPage = [];
  for (let i = 0; i < N; i++) {
    app.push(await measure("/"));
    staticPage.push(await measure("/bench-static.html"));
  }
  await context.close();
  return {
    app_ms: stats(app.map((t) => t.painted)),
    app_usable_ms: stats(app.map((t) => t.usable)),
    static_ms: stats(staticPage.map((t) => t.painted)),
  };
}


/**
 * P12: the server comes back after a restart (the network stayed up, so `navigator.onLine`
 * never changed) while a change waits on the device: from the moment the server listens
 * again to the change on the server. A server of its own on a fixed port; no service worker
 * (its Background Sync would race the page).
 */
async function p12ServerBack(browser) {
  const dir = mkdtempSync(join(tmpdir(), "outpost-bench-p12-"));
  const db = join(dir, "outpost.db");
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  let own = await startServer({ dist: benchDist, addr, db });
  const context = await browser.newContext({ serviceWorkers: "block" });
  const times = [];
  try {
    const page = await context.newPage();
    const name = `${username}r`;
    await signUp(page, own.url, name);
    await waitForStatus(page, "synced");
    const login = await fetch(`${own.url}/api/sessions`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: name, password: PASSWORD }),
    });
    const { token } = await login.json();
    for (let i = 0; i < Math.min(N, 15); i++) {
      await own.kill();
      const wanted = `Back ${i}`;
      await setName(page, wanted);
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByText("Saved on this device.", { exact: true }).waitFor();
      // Down for a while, as a restart is: the stream and the save have failed, maybe twice.
      await page.waitForTimeout(1_500 + (i % 3) * 1_000);
      own = await startServer({ dist: benchDist, addr, db });
      const back = performance.now();
      await waitFor(async () => {
        const r = await fetch(`${own.url}/api/profile`, { headers: { authorization: `Bearer ${token}` } });
        return r.ok && (await r.json()).name === wanted;
      }, "the waiting change to reach the server", 30_000);
      times.push(performance.now() - back);
      await waitForStatus(page, "synced");
    }
  } finally {
    await context.close();
    await own.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { server_back_ms: stats(times) };
}

const server = await startServer({ dist: benchDist });
const browser = await launchBrowser();
const result = { runs: N, chromium: browser.version() };
try {
  log("P1 first-load bytes");
  result.p1 = await p1FirstLoadBytes(server.url);
  log("P2 offline warm start");
  result.p2 = await p2OfflineWarmStart(browser, server.url);

  const name = `${username}x`;
  const contextA = await browser.newContext();
  await contextA.addInitScript(instrument);
  const pageA = await contextA.newPage();
  await signUp(pageA, server.url, name);
  await waitForStatus(pageA, "synced");
  log("P3 one save");
  result.p3 = await p3Save(pageA, N);
  log("P4/P5 baseline: plain fetch PUT");
  result.plain_fetch_put_ms = stats(await plainPutRoundTrips(pageA, `${username}p`, PASSWORD, N));
  log("P4 reconnect");
  result.p4 = await p4Reconnect(pageA, {
    async cut() {
      await contextA.setOffline(true);
      await pageA.locator('[role=status][data-connectivity="offline"]').waitFor();
    },
    restore: () => contextA.setOffline(false),
  }, N);

  const contextB = await browser.newContext();
  await contextB.addInitScript(instrument);
  const pageB = await contextB.newPage();
  await signIn(pageB, server.url, name);
  await waitForStatus(pageB, "synced");
  await waitForStatus(pageA, "synced");
  log("P5 push");
  result.p5 = await p5Push(pageA, pageB, N);
  await contextB.close();
  await contextA.close();
  log("P12 server back");
  result.p12 = await p12ServerBack(browser);
} catch (error) {
  result.error = String(error?.stack ?? error);
  log(result.error);
} finally {
  await browser.close();
  await server.stop();
  writeFileSync(out, JSON.stringify(result, null, 2));
}
if (result.error) process.exitCode = 1;
