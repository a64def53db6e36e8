// Turns the raw figures of one `make bench` run into the figures: prints `name value unit`
// lines and a table, and writes them as JSON. Usage: node report.mjs RAW_DIR RESULTS_JSON
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";

const [rawDir, outPath] = process.argv.slice(2);
const raw = (name) => {
  const path = join(rawDir, `${name}.json`);
  return existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : null;
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.ceil(s.length / 2) - 1] : null;
};
// A load repeated in rounds (`NAME-rK.json`): the median round's throughput, and the
// medians of the rounds' per-request latency percentiles.
const rounds = (name) => {
  const runs = readdirSync(rawDir)
    .filter((f) => f.startsWith(`${name}-r`) && f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(join(rawDir, f), "utf8")));
  if (!runs.length) return null;
  return {
    rps: median(runs.map((r) => r.rps)),
    rps_rounds: runs.map((r) => Math.round(r.rps)).join("/"),
    p50_ms: median(runs.map((r) => r.p50_ms)),
    p95_ms: median(runs.map((r) => r.p95_ms)),
    errors: runs.reduce((a, r) => a + (r.errors ?? 0), 0),
  };
};
const healthz = rounds("healthz-get");
const get1k = rounds("profile-get-1k");
const put1k = rounds("profile-put-1k");
const getBig = rounds("profile-get-big");
const putBig = rounds("profile-put-big");
const sqlite = rounds("sqlite-baseline");
const pgGet = rounds("pg-profile-get");
const pgPut = rounds("pg-profile-put");
const pgBaseGet = rounds("pg-baseline-get");
const pgBasePut = rounds("pg-baseline-put");
const pushAcross = raw("push-across");
// P8 through two instances: A's streams and the save in one process, B's in another.
const twoA = raw("streams-two-a");
const twoB = raw("streams-two-b");
const streamsTwo = twoA && twoB ? {
  opened: twoA.opened + twoB.opened,
  failed: twoA.failed + twoB.failed,
  reached: twoA.reached + twoB.reached,
  open_seconds: Math.max(twoA.open_seconds, twoB.open_seconds),
  rss_open_mb_each: [twoA.rss_open_mb, twoB.rss_open_mb],
  push_all_ms: Math.max(twoA.last_arrival_unix_ms, twoB.last_arrival_unix_ms) - twoA.saved_at_unix_ms,
  push_all_on_b_ms: twoB.last_arrival_unix_ms - twoA.saved_at_unix_ms,
  push_p50_ms: twoA.push_p50_ms,
  put_ms: twoA.put_ms,
} : null;
const streams = raw("streams");
const seedBig = raw("seed-big");
const b = raw("browser") ?? {};

const figures = [];
const lines = [];
const round = (x, d = 3) => (x === undefined || x === null || Number.isNaN(x) ? null : Number(x.toFixed(d)));
const ratio = (a, c) => (a != null && c ? a / c : null);
/** One figure: `value` against `target` (a predicate and its words). */
function figure(id, name, value, unit, target, detail = {}) {
  const met = value == null ? null : target.ok(round(value), detail);
  figures.push({ id, name, value: round(value), unit, target: target.text, met, ...detail });
  lines.push(`${id}.${name} ${value == null ? "n/a" : round(value)} ${unit}`);
}
const atMost = (t, text) => ({ ok: (v) => v <= t, text });
const atLeast = (t, text) => ({ ok: (v) => v >= t, text });
const detail = (obj) => Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, typeof v === "number" ? round(v) : v]));

// P1
figure("P1", "first_load_bytes", b.p1?.total_bytes ?? null, "B", atMost(130_000, "<= 130 KB (130,000 B)"), {
  files: b.p1?.files,
});
// Where the WebAssembly bytes go (tools/bench/wasm-size.mjs): not figures with targets, but
// printed beside P1 so a regression is seen by whoever causes it.
const wasm = raw("wasm-size");
const contributors = wasm
  ? [`P1 wasm module ${wasm.module_bytes} B (${wasm.module_brotli_bytes} B brotli): code ${wasm.code_bytes} B, data ${wasm.data_bytes} B; code by crate:`,
    ...wasm.crates.map((c) => `  ${String(c.bytes).padStart(7)} B ${(c.share * 100).toFixed(1).padStart(5)}%  ${c.crate}`),
    "  largest functions:",
    ...wasm.functions.slice(0, 8).map((f) => `  ${String(f.size).padStart(7)} B  ${f.name.slice(0, 110)}`)]
  : ["P1 wasm contributors: not measured (tools/bench/wasm-size.mjs failed)"];
// P2
// Painted: the profile's name on screen (the first paint's, before the app starts); usable:
// the app mounted and its Name box takes input. Both offline, from the service worker's cache.
figure("P2", "offline_warm_start_painted_ratio", ratio(b.p2?.app_ms.p50, b.p2?.static_ms.p50), "x", atMost(1.2, "<= 1.2x"),
  detail({ app_p50_ms: b.p2?.app_ms.p50, app_p95_ms: b.p2?.app_ms.p95, static_p50_ms: b.p2?.static_ms.p50, static_p95_ms: b.p2?.static_ms.p95 }));
figure("P2", "offline_warm_start_usable_ratio", ratio(b.p2?.app_usable_ms?.p50, b.p2?.static_ms.p50), "x", atMost(1.5, "<= 1.5x"),
  detail({ app_p50_ms: b.p2?.app_usable_ms?.p50, app_p95_ms: b.p2?.app_usable_ms?.p95, static_p50_ms: b.p2?.static_ms.p50 }));
/**
 * P3 (one save), P4 (reconnect) and P5 (push) of one engine's run: `suffix` ends each figure's
 * name (none for Chromium's, as before), `plain` is the fetch PUT both P4 and P5 compare with.
 */
function savePushFigures(suffix, { p3, plain, p4, p5 }, extra = {}) {
  // A page clock of whole milliseconds (WebKit's) makes each save 0, 1 or 2 ms: the means
  // compare then, and say more than medians that can only be whole numbers.
  const by = (p3?.clock_step_ms ?? 0) >= 0.5 ? "mean" : "p50";
  figure("P3", `save_ratio${suffix}`, ratio(p3?.save_ms[by], p3?.plain_put_ms[by]), "x",
    { ok: (v) => v <= 1.5 && p3.save_ms[by] < 1, text: "<= 1.5x and median < 1 ms" },
    detail({ compared: by, clock_step_us: p3?.clock_step_ms == null ? null : p3.clock_step_ms * 1000, save_p50_ms: p3?.save_ms.p50, save_p95_ms: p3?.save_ms.p95, save_mean_ms: p3?.save_ms.mean, plain_p50_ms: p3?.plain_put_ms.p50, plain_p95_ms: p3?.plain_put_ms.p95, plain_mean_ms: p3?.plain_put_ms.mean, plain_from_script_p50_ms: p3?.plain_put_from_script_ms?.p50, ...extra }));
  figure("P4", `reconnect_ratio${suffix}`, ratio(p4?.reconnect_ms.p50, plain?.p50), "x", atMost(2, "<= 2x"),
    detail({ missed_iterations: p4?.failures?.length, reconnect_p50_ms: p4?.reconnect_ms.p50, reconnect_p95_ms: p4?.reconnect_ms.p95, put_sent_after_online_p50_ms: p4?.put_sent_after_online_ms?.p50, sent_by_service_worker: p4?.sent_by_service_worker, synced_on_screen_p50_ms: p4?.synced_on_screen_ms?.p50, fetch_p50_ms: plain?.p50, fetch_p95_ms: plain?.p95 }));
  figure("P5", `push_p95${suffix}`, p5?.push_ms.p95 ?? null, "ms", atMost(100, "p95 < 100 ms"),
    detail({ push_p50_ms: p5?.push_ms.p50, ratio_p50_to_fetch_p50: ratio(p5?.push_ms.p50, plain?.p50), fetch_p50_ms: plain?.p50 }));
}
savePushFigures("", { p3: b.p3, plain: b.plain_fetch_put_ms, p4: b.p4, p5: b.p5 });
figure("P12", "server_back_p95", b.p12?.server_back_ms.p95 ?? null, "ms", atMost(2000, "p95 <= 2 s"),
  detail({ p50_ms: b.p12?.server_back_ms.p50, max_ms: b.p12?.server_back_ms.max, samples: b.p12?.server_back_ms.count, engine: "chromium" }));
// P12 on every engine, per outage length (tools/bench/engines.mjs).
for (const [engine, run] of Object.entries(raw("engines")?.engines ?? {})) {
  if (run.error) {
    figure("P12", `server_back_p95_${engine}`, null, "ms", atMost(2000, "p95 <= 2 s"), detail({ error: run.error.split("\n")[0] }));
    continue;
  }
  for (const [seconds, s] of Object.entries(run.outages)) {
    figure("P12", `server_back_p95_${engine}_after_${seconds}s`, s.p95, "ms", atMost(2000, "p95 <= 2 s"),
      detail({ p50_ms: s.p50, max_ms: s.max, samples: s.count, page_errors: run.page_errors.length }));
  }
}
/**
 * Reports one part (`p2`, `p13`) of every engine's run of tools/bench/engines.mjs: `report`
 * with the part's figures, or, when the part failed, each figure `failed` names ([name,
 * target]) with no value and the error's first line.
 */
function perEngine(part, id, unit, failed, report) {
  for (const [engine, run] of Object.entries(raw("engines")?.engines ?? {})) {
    const p = run[part];
    if (!p) continue;
    if (p.error) {
      for (const [name, target] of failed(engine)) figure(id, name, null, unit, target, detail({ error: p.error.split("\n")[0] }));
      continue;
    }
    report(engine, p);
  }
}
// P13 on every engine: a 12-megapixel photo chosen -> shown, against the engine's own decode
// and draw of the same file (tools/bench/engines.mjs).
perEngine("p13", "P13", "x", (engine) => [[`photo_shown_ratio_${engine}`, atMost(1.5, "<= 1.5x")]], (engine, p) =>
  figure("P13", `photo_shown_ratio_${engine}`, ratio(p.shown_ms.p50, p.baseline_ms.p50), "x", atMost(1.5, "<= 1.5x"),
    detail({ shown_p50_ms: p.shown_ms.p50, shown_max_ms: p.shown_ms.max, decode_draw_p50_ms: p.baseline_ms.p50, file_bytes_p50: median(p.file_bytes), uploaded_bytes: p.uploaded_bytes, samples: p.shown_ms.count, page_errors: p.page_errors.length })));
// P2 on every engine, offline through the proxy cut, from the page's own marks
// (tools/bench/engines.mjs).
perEngine("p2", "P2", "x", (engine) => [[`offline_warm_start_painted_ratio_${engine}`, atMost(1.2, "<= 1.2x")]], (engine, p) => {
  figure("P2", `offline_warm_start_painted_ratio_${engine}`, ratio(p.painted_ms.p50, p.static_ms.p50), "x", atMost(1.2, "<= 1.2x"),
    detail({ painted_p50_ms: p.painted_ms.p50, painted_p95_ms: p.painted_ms.p95, static_p50_ms: p.static_ms.p50, samples: p.painted_ms.count, page_errors: p.page_errors.length }));
  figure("P2", `offline_warm_start_usable_ratio_${engine}`, ratio(p.usable_ms.p50, p.static_ms.p50), "x", atMost(1.5, "<= 1.5x"),
    detail({ usable_p50_ms: p.usable_ms.p50, usable_p95_ms: p.usable_ms.p95, static_p50_ms: p.static_ms.p50 }));
});
// P3-P5 on Firefox and WebKit, the network cut and back by the bench (tools/bench/engines.mjs).
perEngine("p345", "P3", "x", (engine) => [[`save_ratio_${engine}`, atMost(1.5, "<= 1.5x and median < 1 ms")]], (engine, p) =>
  savePushFigures(`_${engine}`, { p3: p.p3, plain: p.plain_fetch_put_ms, p4: p.p4, p5: p.p5 }, { page_errors: p.page_errors.length }));
// P6
figure("P6", "get_profile_ratio", ratio(get1k?.rps, healthz?.rps), "x", atLeast(0.5, ">= 0.5x"),
  detail({ get_rps: get1k?.rps, get_rounds: get1k?.rps_rounds, healthz_rounds: healthz?.rps_rounds, get_p50_ms: get1k?.p50_ms, get_p95_ms: get1k?.p95_ms, healthz_rps: healthz?.rps, healthz_p50_ms: healthz?.p50_ms, healthz_p95_ms: healthz?.p95_ms }));
// P7
figure("P7", "put_profile_ratio", ratio(put1k?.rps, sqlite?.rps), "x", atLeast(0.8, ">= 0.8x"),
  detail({ put_rps: put1k?.rps, put_rounds: put1k?.rps_rounds, sqlite_rounds: sqlite?.rps_rounds, put_p50_ms: put1k?.p50_ms, put_p95_ms: put1k?.p95_ms, put_errors: put1k?.errors, sqlite_rps: sqlite?.rps, sqlite_p50_ms: sqlite?.p50_ms, sqlite_p95_ms: sqlite?.p95_ms }));
// P8
figure("P8", "streams_open", streams?.opened ?? null, "streams", atLeast(10_000, ">= 10,000"),
  detail({ failed: streams?.failed, open_seconds: streams?.open_seconds }));
figure("P8", "server_rss", streams?.rss_open_mb ?? null, "MB", atMost(300, "< 300 MB"),
  detail({ rss_before_mb: streams?.rss_before_mb, per_stream_kib: streams?.rss_per_stream_kib }));
figure("P8", "push_to_all", streams?.push_all_ms ?? null, "ms", atMost(1000, "< 1 s"),
  detail({ reached: streams?.reached, push_p50_ms: streams?.push_p50_ms, put_ms: streams?.put_ms }));
// P9
const big = seedBig?.accounts ?? null;
figure("P9", "get_big_vs_1k", ratio(getBig?.rps, get1k?.rps), "x", atLeast(0.9, ">= 0.9x"),
  detail({ accounts: big, get_big_rps: getBig?.rps, get_big_p95_ms: getBig?.p95_ms, get_1k_rps: get1k?.rps }));
figure("P9", "put_big_vs_1k", ratio(putBig?.rps, put1k?.rps), "x", atLeast(0.9, ">= 0.9x"),
  detail({ accounts: big, put_big_rps: putBig?.rps, put_big_p95_ms: putBig?.p95_ms, put_1k_rps: put1k?.rps }));
// P6, P7 on PostgreSQL; P10
figure("P6", "pg_get_profile_ratio", ratio(pgGet?.rps, pgBaseGet?.rps), "x", atLeast(0.5, ">= 0.5x"),
  detail({ server_rps: pgGet?.rps, server_rps_rounds: pgGet?.rps_rounds, server_p95_ms: pgGet?.p95_ms, statements_rps: pgBaseGet?.rps, statements_rps_rounds: pgBaseGet?.rps_rounds, errors: pgGet?.errors }));
figure("P7", "pg_put_profile_ratio", ratio(pgPut?.rps, pgBasePut?.rps), "x", atLeast(0.8, ">= 0.8x"),
  detail({ server_rps: pgPut?.rps, server_rps_rounds: pgPut?.rps_rounds, server_p95_ms: pgPut?.p95_ms, statements_rps: pgBasePut?.rps, statements_rps_rounds: pgBasePut?.rps_rounds, errors: pgPut?.errors }));
figure("P10", "push_across_instances_p95", pushAcross?.p95_ms ?? null, "ms", atMost(50, "< 50 ms"),
  detail({ p50_ms: pushAcross?.p50_ms, max_ms: pushAcross?.max_ms, samples: pushAcross?.samples }));
figure("P8", "streams_open_two_instances", streamsTwo?.opened ?? null, "streams", atLeast(20_000, ">= 20,000"),
  detail({ failed: streamsTwo?.failed, open_seconds: streamsTwo?.open_seconds, rss_mb_each: streamsTwo?.rss_open_mb_each?.map((m) => round(m, 1)).join("/") }));
figure("P8", "push_to_all_two_instances", streamsTwo?.push_all_ms ?? null, "ms", atMost(1000, "< 1 s"),
  detail({ reached: streamsTwo?.reached, push_all_on_b_ms: streamsTwo?.push_all_on_b_ms, push_p50_on_a_ms: streamsTwo?.push_p50_ms, put_ms: streamsTwo?.put_ms }));

// History retention: profile_history after a million writes, without and with pruning.
const hist = raw("history-size");
figure("H", "history_bytes_unpruned", hist?.bytes_unpruned ?? null, "B", { ok: () => true, text: "for comparison" },
  detail({ rows: hist?.rows_unpruned, writes: hist?.writes }));
figure("H", "history_bytes_pruned", hist?.bytes_pruned ?? null, "B",
  { ok: (v) => hist != null && v < hist.bytes_unpruned / 2, text: "< half the unpruned size" },
  detail({ rows: hist?.rows_pruned, deleted: hist?.deleted, prune_seconds: hist?.prune_seconds, keep: `${hist?.retention_versions} versions, ${hist?.retention_days} days` }));

const loadStart = existsSync(join(rawDir, "loadavg-start.txt")) ? readFileSync(join(rawDir, "loadavg-start.txt"), "utf8").trim() : null;
const machine = { date: new Date().toISOString(), loadavg_at_start: loadStart, loadavg_1_5_15: loadavg().map((x) => round(x, 2)), cores: cpus().length, cpu: cpus()[0]?.model, memory_gib: round(totalmem() / 2 ** 30, 1), chromium: b.chromium };
writeFileSync(outPath, JSON.stringify({ machine, figures, browser_error: b.error ?? null }, null, 2) + "\n");

for (const l of lines) console.log(l);
const word = (m) => (m === null ? "n/a" : m ? "met" : "MISSED");
const keyBaseline = (f) =>
  Object.entries(f)
    .filter(([k]) => !["id", "name", "value", "unit", "target", "met", "files"].includes(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
console.log("");
console.log(["id", "figure", "value", "target", "result", "details"].join(" | "));
console.log("---|---|---|---|---|---");
for (const f of figures) {
  console.log([f.id, f.name, `${f.value ?? "n/a"} ${f.unit}`, f.target, word(f.met), keyBaseline(f)].join(" | "));
}
console.log("");
for (const l of contributors) console.log(l);
console.log(`\n${machine.date} · ${machine.cores} cores · ${machine.memory_gib} GiB · load average at start ${machine.loadavg_at_start}, at end ${machine.loadavg_1_5_15.join(" ")} · results in ${outPath}`);
if (b.error) console.log(`browser figures incomplete: ${b.error.split("\n")[0]}`);
