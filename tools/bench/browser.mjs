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
sw = sw.replace('const PRECACHE = ["', 'const PRECACHE = ["/bench-static.html", "/bench-static.css", "');
sw = sw.replace(
  "(await cache.match(SHELL",
  '(await cache.match(url.pathname === "/bench-static.html" ? url.pathname : SHELL',
);
// P4: when the service worker's Background Sync sent the change, the moment its PUT was
// answered (the change is on the server), told to the page on a channel of the bench's own.
const answered = "  retryLater(response);\n  // Only the server's own JSON word";
const swPut = sw.indexOf(answered);
sw = swPut < 0 ? sw : sw.slice(0, swPut) +
  '  new BroadcastChannel("outpost-bench").postMessage({ put: performance.timeOrigin + performance.now(), status: response.status });\n' +
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
  const precache = readFileSync(join(benchDist, "sw.js"), "utf8").match(/const PRECACHE = (\[.*\]);/);
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

// Page instrumentation for P3-P5: commit times of readwrite IndexedDB transactions, fetch
// completions, `online` events, and when #profile-title shows a wanted text. All times are
// performance.now() of the page; `abs` ones add timeOrigin (comparable across pages).
function instrument() {
  window.__bench = { tx: [], fetches: [], online: [], synced: [], swPuts: [], want: null, seen: null, onTx: null };
  const B = window.__bench;
  // The service worker's PUT answers (its clock is the same machine's: timeOrigin + now).
  new BroadcastChannel("outpost-bench").onmessage = ({ data }) =>
    B.swPuts.push({ t: data.put - performance.timeOrigin, status: data.status });
  const openTx = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (stores, mode, options) {
    const tx = openTx.call(this, stores, mode, options);
    if (mode === "readwrite") {
      const entry = { db: this.name, stores: Array.from(tx.objectStoreNames) };
      tx.addEventListener("complete", () => {
        entry.t = performance.now();
        B.tx.push(entry);
        if (B.onTx) B.onTx(entry);
      });
    }
    return tx;
  };
  const plainFetch = window.fetch;
  B.plainFetch = plainFetch;
  window.fetch = async function (input, init) {
    const method = (init && init.method) || (input instanceof Request ? input.method : "GET");
    // Absolute, whether the app passed a Request or a same-origin path.
    const url = new URL(input instanceof Request ? input.url : String(input), location.href).href;
    const start = performance.now();
    const response = await plainFetch.call(this, input, init);
    B.fetches.push({ method, url, status: response.status, start, t: performance.now() });
    return response;
  };
  window.addEventListener("online", () => B.online.push(performance.now()), true);
  // When the status turns "synced": the change may have been sent by the service worker's
  // Background Sync (its fetch is not this page's), and the tab then learns it from the store.
  let lastSync = null;
  new MutationObserver(() => {
    const sync = document.querySelector("[role=status]")?.getAttribute("data-sync") ?? null;
    if (sync !== lastSync) {
      lastSync = sync;
      if (sync === "synced") B.synced.push(performance.now());
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-sync"], childList: true });
  const check = () => {
    if (B.want === null || B.seen !== null) return;
    const title = document.getElementById("profile-title");
    if (title && title.textContent.trim() === B.want) B.seen = performance.timeOrigin + performance.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true });
  B.check = check;
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
const synced = (page) => page.locator('[role=status][data-sync="synced"]').waitFor({ timeout: 15_000 });
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
  await synced(page);
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

async function setName(page, name) {
  await page.evaluate((n) => {
    const input = document.getElementById("name");
    input.value = n;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }, name);
}

// Plain fetch PUT round trips from the page (its own account), the baseline of P4 and P5.
async function plainPutRoundTrips(page, name) {
  return page.evaluate(
    async ({ name, password, n }) => {
      const f = window.__bench.plainFetch;
      const created = await f("/api/accounts", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: name, password }),
      });
      const { token } = await created.json();
      let version = 1;
      const times = [];
      for (let i = 0; i < n + 2; i++) {
        const t0 = performance.now();
        const r = await f("/api/profile", {
          method: "PUT",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "if-match": `"${version}"` },
          body: JSON.stringify({ name: `Plain ${i}`, photo_url: "" }),
        });
        const body = await r.json();
        const t = performance.now() - t0;
        if (r.status !== 200) throw new Error(`plain PUT answered ${r.status}`);
        version = body.version;
        if (i >= 2) times.push(t);
      }
      return times;
    },
    { name, password: PASSWORD, n: N },
  );
}

async function p3Save(page) {
  let saveStores = null;
  const app = [];
  const plain = [];
  const plainScript = [];
  const record = await page.evaluate(async () => {
    const db = await new Promise((res, rej) => {
      const r = indexedDB.open("outpost");
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const store = db.transaction("profiles").objectStore("profiles");
    const [key] = await new Promise((res) => (store.getAllKeys().onsuccess = (e) => res(e.target.result)));
    const value = await new Promise((res) => (store.get(key).onsuccess = (e) => res(e.target.result)));
    db.close();
    window.__benchRecord = { key, value };
    return { key, keyPath: store.keyPath, value };
  });
  for (let i = 0; i < N + 2; i++) {
    await setName(page, `Saved ${i}`);
    const t = await page.evaluate(async () => {
      const B = window.__bench;
      const committed = new Promise((res) => {
        B.onTx = (e) => e.db === "outpost" && e.stores.includes("profiles") && res(e);
      });
      const button = [...document.querySelectorAll("button")].find((b) => b.textContent.trim() === "Save");
      const t0 = performance.now();
      button.click();
      const tx = await committed;
      B.onTx = null;
      return { t: tx.t - t0, stores: tx.stores };
    });
    await page.locator("#profile-title").filter({ hasText: `Saved ${i}` }).waitFor();
    await synced(page);
    const p = await page.evaluate(async () => {
      const B = window.__bench;
      if (!B.baseline) {
        const db = await new Promise((res, rej) => {
          const r = indexedDB.open("outpost-bench-baseline", 1);
          r.onupgradeneeded = () => r.result.createObjectStore("profiles");
          r.onsuccess = () => res(r.result);
          r.onerror = () => rej(r.error);
        });
        // The same put started the way the app's save is: a person edits a field of a form
        // and clicks its submit button. Chromium's own steps from the click to the `submit`
        // event cost ~0.4 ms after an edit (~0.1 ms without one), whatever the page does, so
        // a put started from a script would leave them out of the baseline only.
        const form = document.createElement("form");
        form.noValidate = true;
        form.innerHTML =
          '<label>Bench name <input name="bench-name"></label><label>Bench photo <input name="bench-photo" type="url"></label>';
        const button = document.createElement("button");
        button.type = "submit";
        button.textContent = "Bench put";
        form.append(button);
        document.body.append(form);
        form.addEventListener("submit", (event) => {
          event.preventDefault();
          const { key, value } = window.__benchRecord;
          // The same durability as the app's saves ("strict": on disk before `complete`).
          db.transaction("profiles", "readwrite", { durability: "strict" }).objectStore("profiles").put(value, key);
        });
        B.baseline = { db, button };
      }
      const committed = (t0) =>
        new Promise((res) => {
          B.onTx = (e) => e.db === "outpost-bench-baseline" && res(e.t - t0);
        });
      // From a script, as before (kept for comparison with earlier runs).
      let t0 = performance.now();
      let done = committed(t0);
      const { key, value } = window.__benchRecord;
      B.baseline.db.transaction("profiles", "readwrite", { durability: "strict" }).objectStore("profiles").put(value, key);
      const script = await done;
      const input = B.baseline.button.form.querySelector("input");
      input.value = `Put ${performance.now()}`;
      input.dispatchEvent(new Event("input", { bubbles: true }));
      await new Promise((r) => setTimeout(r, 0));
      t0 = performance.now();
      done = committed(t0);
      B.baseline.button.click();
      const submitted = await done;
      B.onTx = null;
      return { script, submitted };
    });
    saveStores = t.stores;
    if (i >= 2) {
      app.push(t.t);
      plain.push(p.submitted);
      plainScript.push(p.script);
    }
  }
  return { save_ms: stats(app), plain_put_ms: stats(plain), plain_put_from_script_ms: stats(plainScript), save_tx_stores: saveStores, record_shape: Object.keys(record.value ?? {}) };
}

async function p4Reconnect(context, page) {
  const times = [];
  const onScreen = [];
  const failures = [];
  let firstRequests = null;
  const sentAfter = [];
  let bySw = 0;
  for (let i = 0; i < Math.min(N, 20); i++) {
    await context.setOffline(true);
    await page.locator('[role=status][data-connectivity="offline"]').waitFor();
    await setName(page, `Offline ${i}`);
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator('[role=status][data-sync="pending"]').waitFor();
    await page.waitForTimeout(100);
    const mark = await page.evaluate(() => ({
      online: window.__bench.online.length,
      fetches: window.__bench.fetches.length,
      synced: window.__bench.synced.length,
      swPuts: window.__bench.swPuts.length,
    }));
    await context.setOffline(false);
    const t = await waitFor(
      () =>
        page.evaluate((m) => {
          const B = window.__bench;
          const online = B.online[m.online];
          const put = B.fetches.slice(m.fetches).find((f) => f.method === "PUT" && f.url.includes("/api/profile") && f.status === 200);
          const synced = B.synced[m.synced];
          if (online === undefined || synced === undefined) return null;
          const onScreen = synced - online;
          if (!put) {
            // Sent by the service worker: its PUT's answer, then the tab learns it from the store.
            const sw = B.swPuts.slice(m.swPuts).find((p) => p.status === 200);
            return sw === undefined ? null : { t: sw.t - online, onScreen, sent: null, by: "service worker", during: [] };
          }
          // What the app asked the server between the event and the PUT's answer.
          const during = B.fetches.slice(m.fetches).filter((f) => f.t <= put.t);
          return { t: put.t - online, onScreen, sent: put.start - online, by: "page", during: during.map((f) => `${f.method} ${new URL(f.url).pathname} ${f.status} sent +${(f.start - online).toFixed(1)}ms answered +${(f.t - online).toFixed(1)}ms`) };
        }, mark),
      "the pending change to reach the server",
      8_000,
    ).catch(async (error) => {
      const state = await page.evaluate((m) => ({
        iteration: m,
        online: window.__bench.online.slice(m.online),
        fetches: window.__bench.fetches.slice(m.fetches - 6).map((f) => `${f.method} ${f.url} ${f.status} @${f.t}`),
        allOnline: window.__bench.online,
        status: document.querySelector("[role=status]")?.outerHTML,
      }), mark);
      failures.push(`${error.message} (iteration ${i}): ${JSON.stringify(state)}`);
      if (failures.length > 3) throw new Error(failures.join("\n"));
      return null;
    });
    await synced(page);
    if (t !== null) {
      times.push(t.t);
      onScreen.push(t.onScreen);
      if (t.sent !== null) sentAfter.push(t.sent);
      if (t.by === "service worker") bySw += 1;
      if (!firstRequests && t.during.length > 0) firstRequests = t.during;
    }
  }
  return {
    reconnect_ms: stats(times),
    synced_on_screen_ms: stats(onScreen),
    put_sent_after_online_ms: stats(sentAfter),
    sent_by_service_worker: bySw,
    failures,
    requests_of_first_iteration: firstRequests,
  };
}

async function p5Push(pageA, pageB) {
  const times = [];
  for (let i = 0; i < N + 2; i++) {
    const name = `Pushed ${i}`;
    await pageB.evaluate((n) => {
      window.__bench.want = n;
      window.__bench.seen = null;
    }, name);
    await setName(pageA, name);
    const t0 = await pageA.evaluate(() => {
      const button = [...document.querySelectorAll("button")].find((b) => b.textContent.trim() === "Save");
      const t = performance.timeOrigin + performance.now();
      button.click();
      return t;
    });
    const seen = await waitFor(() => pageB.evaluate(() => window.__bench.seen), "the push to show on device B");
    await synced(pageA);
    if (i >= 2) times.push(seen - t0);
  }
  return { push_ms: stats(times) };
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
    await synced(page);
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
      await synced(page);
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
  await synced(pageA);
  log("P3 one save");
  result.p3 = await p3Save(pageA);
  log("P4/P5 baseline: plain fetch PUT");
  result.plain_fetch_put_ms = stats(await plainPutRoundTrips(pageA, `${username}p`));
  log("P4 reconnect");
  result.p4 = await p4Reconnect(contextA, pageA);

  const contextB = await browser.newContext();
  await contextB.addInitScript(instrument);
  const pageB = await contextB.newPage();
  await signIn(pageB, server.url, name);
  await synced(pageB);
  await synced(pageA);
  log("P5 push");
  result.p5 = await p5Push(pageA, pageB);
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
