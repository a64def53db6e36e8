// The browser figures on every engine: P2, P3-P5, P12 and P13 (make bench; method:
// docs/BENCHMARKS.md). P12: a change saved while the server is unreachable (a proxy in front
// of it cut, as in the portable e2e tests; `navigator.onLine` stays true, so no `online` event
// helps), timed from the moment the server is reachable again to the change committed on the
// server. Each outage length of BENCH_P12_OUTAGES (seconds, default "5,60,600") is waited
// through once by BENCH_P12_PAGES pages (default 3, each in a browser of its own) of each
// engine, one sample each; the three engines run side by side, each with its own server and
// proxy. Writes the raw samples as JSON to the path given as the first argument. WebKit needs
// a display: run under `xvfb-run -a`.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, waitFor } from "../../tests/e2e/lib/harness.mjs";
import { stats } from "./stats.mjs";
import { ENGINES, openBrowser, startEngineServer } from "../../tests/e2e/lib/browser/index.mjs";
import { startProxy } from "../../tests/e2e/lib/proxy.mjs";
import {
  PASSWORD, apiProfile, apiToken, newUsername, saveName, signIn, signUp, waitForServiceWorker, waitForStatus,
} from "../../tests/e2e/lib/app.mjs";
import { instrument, p3Save, p4Reconnect, p5Push, plainPutRoundTrips } from "./measures.mjs";
import { fixture, photoInput } from "../../tests/e2e/lib/photos.mjs";

const out = process.argv[2] ?? join(ROOT, "target/bench/raw/engines.json");
const OUTAGES = (process.env.BENCH_P12_OUTAGES ?? "5,60,600").split(",").map(Number);
const PAGES = Number(process.env.BENCH_P12_PAGES ?? 3);
const log = (...a) => console.error("bench(engines):", ...a);
/** A browser of `engine` whose pages' clock is as fine as the engine lets a driver make it. */
const open = (engine) => openBrowser(engine, { preciseClock: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** P12 samples of one engine, per outage length. */
async function p12(engine) {
  // A browser per page: each page is the one in front, as the app is for a person using it
  // (Firefox throttles the timers of background tabs; see docs/BENCHMARKS.md).
  const browsers = [];
  for (let i = 0; i < PAGES; i++) browsers.push(await open(engine));
  const server = await startEngineServer(browsers[0]);
  const proxy = await startProxy(server.url);
  const byOutage = {};
  try {
    const people = [];
    for (const browser of browsers) {
      const page = await browser.newPage();
      const username = newUsername(`p12${engine[0]}`);
      await page.goto(proxy.url);
      await signUp(page, username);
      await waitForStatus(page, "synced");
      people.push({ page, username, token: await apiToken(server.url, username) });
    }
    for (const seconds of OUTAGES) {
      log(`${engine}: ${seconds} s without the server`);
      const cut = performance.now();
      proxy.cut();
      for (const [i, person] of people.entries()) {
        person.wanted = `Back after ${seconds} s (${i})`;
        await saveName(person.page, person.wanted);
        // Saved on the device, and the sync failed: the change waits.
        await waitForStatus(person.page, "error");
      }
      await sleep(Math.max(0, seconds * 1000 - (performance.now() - cut)));
      await proxy.restore();
      const back = performance.now();
      byOutage[seconds] = stats(await Promise.all(people.map(async (person) => {
        const at = await waitFor(async () => {
          const profile = await apiProfile(server.url, person.token);
          return profile.name === person.wanted && performance.now();
        }, `${engine}: the change after ${seconds} s to reach the server`, 60_000);
        return at - back;
      })));
      for (const person of people) await waitForStatus(person.page, "synced");
    }
    const pageErrors = [];
    for (const browser of browsers) {
      await browser.drainErrors();
      pageErrors.push(...browser.pageErrors.splice(0));
    }
    return { engine, outages: byOutage, page_errors: pageErrors };
  } finally {
    for (const browser of browsers) await browser.close();
    await proxy.close();
    await server.stop();
  }
}

/** How many warm starts P2 times per engine (each against the static page). */
const P2_RUNS = Number(process.env.BENCH_P2_RUNS ?? 15);
/** The copy of the build with the static page (tools/bench/browser.mjs makes it first). */
const BENCH_DIST = join(ROOT, "target/bench/dist");

/**
 * P2 of one engine: warm starts offline (the server cut off; the service worker answers from
 * its cache), the app against a static page with the same text served the same way. On the
 * page's own timeline: "painted" is the first paint's `outpost-painted` mark (the profile's
 * name on screen), "usable" the app's `outpost-usable` (its form takes input); the static
 * page's is its `domInteractive` (its text parsed).
 */
async function p2(engine) {
  const browser = await open(engine);
  const server = await startEngineServer(browser, { dist: BENCH_DIST });
  const proxy = await startProxy(server.url);
  try {
    const page = await browser.newPage();
    await page.goto(proxy.url);
    await signUp(page, newUsername(`p2${engine[0]}`));
    await waitForStatus(page, "synced");
    await waitForServiceWorker(page);
    await waitFor(() => page.evaluate(() => caches.match("/bench-static.html").then(Boolean)), "the static page precached");
    proxy.cut();
    const marks = () => page.evaluate(() => {
      const at = (name) => performance.getEntriesByName(name, "mark")[0]?.startTime ?? null;
      return { painted: at("outpost-painted"), usable: at("outpost-usable") };
    });
    const app = async () => {
      await page.goto(proxy.url);
      return waitFor(async () => {
        const m = await marks();
        return m.painted !== null && m.usable !== null && m;
      }, `${engine}: the app's start marks`);
    };
    const staticPage = async () => {
      await page.goto(`${proxy.url}/bench-static.html`);
      return page.evaluate(() => performance.getEntriesByType("navigation")[0].domInteractive);
    };
    await app();
    await staticPage();
    const painted = [];
    const usable = [];
    const parsed = [];
    for (let i = 0; i < P2_RUNS; i++) {
      const m = await app();
      painted.push(m.painted);
      usable.push(m.usable);
      parsed.push(await staticPage());
    }
    await proxy.restore();
    await browser.drainErrors();
    return {
      painted_ms: stats(painted),
      usable_ms: stats(usable),
      static_ms: stats(parsed),
      page_errors: browser.pageErrors.splice(0),
    };
  } finally {
    await browser.close();
    await proxy.close();
    await server.stop();
  }
}

/** How many saves, reconnects (at most 20) and pushes P3-P5 time per engine. */
const P345_RUNS = Number(process.env.BENCH_BROWSER_RUNS ?? 30);

/**
 * P3 (one save), P4 (reconnect) and P5 (push) of one engine, by the same steps as Chromium's
 * (tools/bench/measures.mjs), each device in a browser of its own (the one in front). The
 * instrumentation Chromium's bench installs before the page's scripts is installed here once
 * the app has started, by the driver (neither driver runs a script before the page's own): it
 * wraps what the app looks up at each use (IndexedDB's `transaction`, `fetch`), so it misses
 * only what came before it. The network: neither driver can take it away, so the bench does
 * what the engine does when the network goes and comes back: the proxy in front of the
 * server cut and `offline` fired at the window, then the proxy restored and `online` fired
 * (`navigator.onLine` stays true). No Background Sync in these engines: the page sends.
 */
async function p345(engine) {
  const browsers = [await open(engine), await open(engine)];
  const server = await startEngineServer(browsers[0], { dist: BENCH_DIST });
  const proxy = await startProxy(server.url);
  try {
    const username = newUsername(`p3${engine[0]}`);
    const pageA = await browsers[0].newPage();
    await pageA.goto(proxy.url);
    await signUp(pageA, username);
    await pageA.evaluate(instrument);
    await waitForStatus(pageA, "synced");
    log(`${engine}: P3 one save`);
    const p3 = await p3Save(pageA, P345_RUNS);
    log(`${engine}: P4/P5 baseline: plain fetch PUT`);
    const plain = stats(await plainPutRoundTrips(pageA, newUsername(`p4${engine[0]}`), PASSWORD, P345_RUNS));
    log(`${engine}: P4 reconnect`);
    const p4 = await p4Reconnect(pageA, {
      async cut() {
        proxy.cut();
        await pageA.evaluate(() => dispatchEvent(new Event("offline")));
        await pageA.locator('[role=status][data-connectivity="offline"]').waitFor();
      },
      async restore() {
        await proxy.restore();
        await pageA.evaluate(() => dispatchEvent(new Event("online")));
      },
    }, P345_RUNS);
    const pageB = await browsers[1].newPage();
    await pageB.goto(proxy.url);
    await signIn(pageB, username);
    await pageB.evaluate(instrument);
    await waitForStatus(pageB, "synced");
    await waitForStatus(pageA, "synced");
    log(`${engine}: P5 push`);
    const p5 = await p5Push(pageA, pageB, P345_RUNS);
    const pageErrors = [];
    for (const browser of browsers) {
      await browser.drainErrors();
      pageErrors.push(...browser.pageErrors.splice(0));
    }
    return { p3, plain_fetch_put_ms: plain, p4, p5, page_errors: pageErrors };
  } finally {
    for (const browser of browsers) await browser.close();
    await proxy.close();
    await server.stop();
  }
}

/** How many photos P13 chooses per engine (and decodes for its baseline). */
const P13_RUNS = Number(process.env.BENCH_P13_RUNS ?? 5);

/**
 * A 12-megapixel JPEG (4000 x 3000, a gradient under a few hundred discs, so it compresses
 * like a photo rather than like a flat colour) made by `page`; `seed` makes each different.
 */
async function twelveMegapixels(page, seed) {
  const base64 = await page.evaluate(async (seed) => {
    const canvas = document.createElement("canvas");
    canvas.width = 4000;
    canvas.height = 3000;
    const c = canvas.getContext("2d");
    const gradient = c.createLinearGradient(0, 0, 4000, 3000);
    gradient.addColorStop(0, `hsl(${seed * 47 % 360} 70% 50%)`);
    gradient.addColorStop(1, `hsl(${(seed * 47 + 160) % 360} 70% 40%)`);
    c.fillStyle = gradient;
    c.fillRect(0, 0, 4000, 3000);
    let x = seed * 7919;
    const next = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let i = 0; i < 400; i++) {
      c.fillStyle = `hsl(${next() * 360} 60% ${30 + next() * 40}%)`;
      c.beginPath();
      c.arc(next() * 4000, next() * 3000, 20 + next() * 300, 0, Math.PI * 2);
      c.fill();
    }
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  }, seed);
  return Buffer.from(base64, "base64");
}

/**
 * P13 of one engine: a 12-megapixel photo chosen -> shown (from the file input's `change` to
 * the new picture decoded on the page, both on the page's clock), against the page's own
 * `createImageBitmap` + draw of the same bytes at 512 px, in the same run; and the bytes the
 * app uploaded for it.
 */
async function p13(engine) {
  const browser = await open(engine);
  const server = await startEngineServer(browser);
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    const username = newUsername(`p13${engine[0]}`);
    await signUp(page, username);
    await waitForStatus(page, "synced");
    const token = await apiToken(server.url, username);
    const photos = [];
    for (let seed = 1; seed <= P13_RUNS; seed++) photos.push(await twelveMegapixels(page, seed));
    const shown = [];
    const baseline = [];
    for (const bytes of photos) {
      // The engine's own decode and draw of the same bytes.
      await page.evaluate((b64) => {
        window.__p13file = new Blob([Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0))], { type: "image/jpeg" });
      }, bytes.toString("base64"));
      baseline.push(await page.evaluate(async () => {
        const t0 = performance.now();
        const bitmap = await createImageBitmap(window.__p13file);
        const canvas = document.createElement("canvas");
        canvas.width = 512;
        canvas.height = 512;
        canvas.getContext("2d").drawImage(bitmap, 0, 0, 512, 512);
        bitmap.close();
        return performance.now() - t0;
      }));
      // The app: the same file chosen in "Choose a photo".
      await page.evaluate(() => {
        const before = [...document.querySelectorAll("img")].find((i) => i.alt === "Profile photo")?.src ?? null;
        window.__p13 = { changed: null, shown: null };
        document.addEventListener("change", () => { window.__p13.changed ??= performance.now(); }, { capture: true, once: true });
        // The new picture decoded: its `load` (which does not bubble, but is seen captured).
        const loaded = (event) => {
          const img = event.target;
          if (img.alt === "Profile photo" && img.src !== before && img.naturalWidth) {
            window.__p13.shown ??= performance.now();
            document.removeEventListener("load", loaded, true);
          }
        };
        document.addEventListener("load", loaded, true);
      });
      await photoInput(page).setInputFiles(fixture(bytes, "twelve-megapixels.jpg"));
      shown.push(await waitFor(
        () => page.evaluate(() => window.__p13.shown !== null && window.__p13.shown - window.__p13.changed),
        `${engine}: the chosen photo to show`, 60_000,
      ));
      await waitForStatus(page, "synced");
    }
    const url = (await apiProfile(server.url, token)).photo_url;
    const uploaded = await fetch(`${server.url}${url}`, { headers: { Authorization: `Bearer ${token}` } });
    const uploadedBytes = (await uploaded.arrayBuffer()).byteLength;
    await browser.drainErrors();
    return {
      file_bytes: photos.map((p) => p.length),
      shown_ms: stats(shown),
      baseline_ms: stats(baseline),
      uploaded_bytes: uploadedBytes,
      page_errors: browser.pageErrors.splice(0),
    };
  } finally {
    await browser.close();
    await server.stop();
  }
}

const engines = (process.env.BENCH_ENGINES ?? ENGINES.join(",")).split(",");
const results = await Promise.allSettled(engines.map((engine) => p12(engine)));
const result = { pages: PAGES, outages_s: OUTAGES, engines: {} };
for (const [i, settled] of results.entries()) {
  result.engines[engines[i]] = settled.status === "fulfilled"
    ? settled.value
    : { error: String(settled.reason?.stack ?? settled.reason) };
  if (settled.status === "rejected") log(`${engines[i]} failed: ${settled.reason}`);
}
// P2, P3-P5 and P13 one engine at a time, the machine otherwise idle: each compares timings
// of one page (P5: two pages). A part that fails is kept as its error; the other parts still run.
const parts = [
  ["p2", "P2", `${P2_RUNS} warm starts offline`, p2],
  ["p345", "P3-P5", `${P345_RUNS} saves, reconnects and pushes`, p345],
  ["p13", "P13", `${P13_RUNS} photos of 12 megapixels`, p13],
];
for (const [key, id, what, measure] of parts) {
  for (const engine of engines) {
    log(`${engine}: ${id}, ${what}`);
    try {
      result.engines[engine][key] = await measure(engine);
    } catch (error) {
      result.engines[engine][key] = { error: String(error?.stack ?? error) };
      log(`${engine} ${id} failed: ${error}`);
    }
  }
}
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
