// The browser figures every engine shares (P3 one save, P4 reconnect, P5 push, and the plain
// fetch PUT that P4 and P5 compare with; method: docs/BENCHMARKS.md), run by
// tools/bench/browser.mjs in Chromium and tools/bench/engines.mjs in Firefox and WebKit. `page`
// is Playwright's page or the e2e seam's (tests/e2e/lib/browser), which offers the same calls.
import { waitFor } from "../../tests/e2e/lib/harness.mjs";
import { waitForStatus } from "../../tests/e2e/lib/app.mjs";
import { stats } from "./stats.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Page instrumentation for P3-P5: commit times of readwrite IndexedDB transactions, fetch
// completions, `online` events, and when #profile-title shows a wanted text. All times are
// performance.now() of the page; `abs` ones add timeOrigin (comparable across pages).
export function instrument() {
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


export async function setName(page, name) {
  await page.evaluate((n) => {
    const input = document.getElementById("name");
    input.value = n;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }, name);
}

// Plain fetch PUT round trips from the page (its own account), the baseline of P4 and P5.
export async function plainPutRoundTrips(page, name, password, n) {
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
    { name, password, n },
  );
}

/**
 * In the page: the smallest step of `performance.now()` (engines coarsen it against timing
 * attacks: Chromium to 0.1 ms, WebKit to 1 ms), which says how finely P3's samples can differ.
 */
function clockStep() {
  let step = Infinity;
  let last = performance.now();
  for (let i = 0; i < 1_000_000 && step > 0.001; i++) {
    const t = performance.now();
    if (t > last) {
      step = Math.min(step, t - last);
      last = t;
    }
  }
  return step;
}

export async function p3Save(page, n) {
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
  for (let i = 0; i < n + 2; i++) {
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
    await waitForStatus(page, "synced");
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
  return {
    save_ms: stats(app),
    plain_put_ms: stats(plain),
    plain_put_from_script_ms: stats(plainScript),
    clock_step_ms: await page.evaluate(clockStep),
    save_tx_stores: saveStores,
    record_shape: Object.keys(record.value ?? {}),
  };
}

/**
 * P4: `n` times (at most 20), a change saved while offline, then the network back: from the
 * `online` event to the change on the server. `network.cut()` takes the network away (and
 * resolves once the app shows it is offline), `network.restore()` gives it back.
 */
export async function p4Reconnect(page, network, n) {
  const times = [];
  const onScreen = [];
  const failures = [];
  let firstRequests = null;
  const sentAfter = [];
  let bySw = 0;
  for (let i = 0; i < Math.min(n, 20); i++) {
    await network.cut();
    await setName(page, `Offline ${i}`);
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator('[role=status][data-sync="pending"]').waitFor();
    await sleep(100);
    const mark = await page.evaluate(() => ({
      online: window.__bench.online.length,
      fetches: window.__bench.fetches.length,
      synced: window.__bench.synced.length,
      swPuts: window.__bench.swPuts.length,
    }));
    await network.restore();
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
    await waitForStatus(page, "synced");
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

export async function p5Push(pageA, pageB, n) {
  const times = [];
  for (let i = 0; i < n + 2; i++) {
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
    await waitForStatus(pageA, "synced");
    if (i >= 2) times.push(seen - t0);
  }
  return { push_ms: stats(times) };
}
