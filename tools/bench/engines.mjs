// P12 on every engine (make bench; method: docs/BENCHMARKS.md): a change saved while the server
// is unreachable (a proxy in front of it cut, as in the portable e2e tests; `navigator.onLine`
// stays true, so no `online` event helps), timed from the moment the server is reachable again
// to the change committed on the server. Each outage length of BENCH_P12_OUTAGES (seconds,
// default "5,60,600") is waited through once by BENCH_P12_PAGES pages (default 3, each in a
// browser of its own) of each engine, one sample each; the three engines run side by side, each with its own server and
// proxy. Writes the raw samples as JSON to the path given as the first argument. WebKit needs
// a display: run under `xvfb-run -a`.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, waitFor } from "../../tests/e2e/lib/harness.mjs";
import { stats } from "./stats.mjs";
import { ENGINES, openBrowser, startEngineServer } from "../../tests/e2e/lib/browser/index.mjs";
import { startProxy } from "../../tests/e2e/lib/proxy.mjs";
import { apiProfile, apiToken, newUsername, saveName, signUp, waitForStatus } from "../../tests/e2e/lib/app.mjs";

const out = process.argv[2] ?? join(ROOT, "target/bench/raw/engines.json");
const OUTAGES = (process.env.BENCH_P12_OUTAGES ?? "5,60,600").split(",").map(Number);
const PAGES = Number(process.env.BENCH_P12_PAGES ?? 3);
const log = (...a) => console.error("bench(engines):", ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** P12 samples of one engine, per outage length. */
async function p12(engine) {
  // A browser per page: each page is the one in front, as the app is for a person using it
  // (Firefox throttles the timers of background tabs; see docs/BENCHMARKS.md).
  const browsers = [];
  for (let i = 0; i < PAGES; i++) browsers.push(await openBrowser(engine));
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

const engines = (process.env.BENCH_ENGINES ?? ENGINES.join(",")).split(",");
const results = await Promise.allSettled(engines.map((engine) => p12(engine)));
const result = { pages: PAGES, outages_s: OUTAGES, engines: {} };
for (const [i, settled] of results.entries()) {
  result.engines[engines[i]] = settled.status === "fulfilled"
    ? settled.value
    : { error: String(settled.reason?.stack ?? settled.reason) };
  if (settled.status === "rejected") log(`${engines[i]} failed: ${settled.reason}`);
}
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
