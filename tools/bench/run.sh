#!/usr/bin/env bash
# `make bench`: Outpost's benchmarks (method and latest figures: docs/BENCHMARKS.md).
# Expects the release builds (`make bench` does them): dist/ from `make app`,
# target/release/outpost-server and target/release/outpost-bench.
# Writes raw figures to target/bench/raw/*.json, the figures to target/bench/results.json,
# and prints one `name value unit` line per figure plus a table.
# BENCH_SECONDS (default 5) bounds each HTTP load run, BENCH_ROUNDS (default 3) repeats
# them; BENCH_STREAMS (default 10000) and BENCH_BIG_ACCOUNTS (default 1000000) size P8 and
# P9; BENCH_BROWSER_RUNS (default 30) repeats each browser timing; BENCH_P12_OUTAGES
# (default 5,60,600 seconds) and BENCH_P12_PAGES (default 3) shape P12 on every engine;
# BENCH_P2_RUNS (default 15) and BENCH_P13_RUNS (default 5) repeat P2 and P13 there.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/target/bench
RAW=$OUT/raw
WORK=$OUT/work
SERVER=$ROOT/target/release/outpost-server
BENCH=$ROOT/target/release/outpost-bench
EXTRA_SERVER_ARGS=()
RUN_SECONDS=${BENCH_SECONDS:-5}
STREAMS=${BENCH_STREAMS:-10000}
BIG=${BENCH_BIG_ACCOUNTS:-1000000}
ROUNDS=${BENCH_ROUNDS:-3}

say() { printf 'bench: %s\n' "$*" >&2; }

for f in "$SERVER" "$BENCH" "$ROOT/dist/index.html"; do
  [ -e "$f" ] || { say "missing $f: run \`make bench\` (it builds everything)"; exit 1; }
done
# 10,000 event streams need 10,000 sockets on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
say "open files limit $(ulimit -n)"

rm -rf "$RAW" "$WORK"
mkdir -p "$RAW" "$WORK"
# Other work on the machine skews every figure: keep its load next to them.
cut -d' ' -f1-3 /proc/loadavg >"$RAW/loadavg-start.txt"

SERVER_PIDS=()
stop_servers() {
  for pid in "${SERVER_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      wait "$pid" 2>/dev/null || true
    fi
  done
  SERVER_PIDS=()
}
# Server logs go to tmpfs, so that log writes never share the disk with the databases'
# fsyncs (at the default level the server logs start-up, warnings and errors only).
LOGS=$(mktemp -d /dev/shm/outpost-bench.XXXXXX 2>/dev/null || mktemp -d)
cleanup() {
  stop_servers
  rm -rf "$LOGS"
}
trap cleanup EXIT

# Starts the release server on database $1 with production settings (default log level
# included, to a file in $LOGS); sets SERVER_PID and SERVER_URL.
start_server() {
  local db=$1 log
  log=$LOGS/server-$(basename "$db" .db).log
  # The load comes from 127.0.0.1 only: the per-address limits would cut it short.
  env -u RUST_LOG "$SERVER" --addr 127.0.0.1:0 --db "$db" --dist "$ROOT/dist" \
    --max-signups-per-address 1000000 --max-connections-per-address 1000000 \
    --max-requests-per-token 1000000000 --max-streams-per-account 1000000 "${EXTRA_SERVER_ARGS[@]}" 2>"$log" &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
  SERVER_URL=
  for _ in $(seq 1 300); do
    SERVER_URL=$(grep -ao 'listening on http://[0-9.:]*' "$log" | head -n1 | sed 's/^listening on //' || true)
    [ -n "$SERVER_URL" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; say "server exited"; exit 1; }
    sleep 0.1
  done
  [ -n "$SERVER_URL" ] || { cat "$log" >&2; say "server did not start"; exit 1; }
  curl -fsS "$SERVER_URL/healthz" >/dev/null
  say "server $SERVER_PID on $SERVER_URL (db $(basename "$db"))"
}

load() { # url label method path tokens-file|-
  local url=$1 label=$2 method=$3 path=$4 tokens=$5
  local args=(load --url "$url" --path "$path" --method "$method" --connections 64
    --seconds "$RUN_SECONDS" --warmup 1 --label "$label")
  [ "$tokens" != - ] && args+=(--tokens-file "$tokens")
  say "load $label"
  "$BENCH" "${args[@]}" >"$RAW/$label.json"
}

say "seeding 1,000 and $BIG accounts"
"$BENCH" seed --db "$WORK/seed-1k.db" --accounts 1000 --tokens 1000 \
  --tokens-out "$WORK/tokens-1k.txt" >"$RAW/seed-1k.json"
"$BENCH" seed --db "$WORK/seed-big.db" --accounts "$BIG" --tokens 1000 \
  --tokens-out "$WORK/tokens-big.txt" >"$RAW/seed-big.json"

# History: a million writes (1,000 profiles x 1,000 versions over 100 days), then the
# server's pruning with the default retention; the table's size before and after.
say "history size after a million writes, unpruned and pruned"
cp "$WORK/seed-1k.db" "$WORK/history.db"
"$BENCH" history-size --db "$WORK/history.db" --accounts 1000 --versions 1001 >"$RAW/history-size.json"
rm -f "$WORK/history.db" "$WORK/history.db-wal" "$WORK/history.db-shm"

# P6, P7, P9: two servers side by side (1,000 and $BIG accounts; only one is loaded at a
# time), and the SQLite baseline on its own copy in the same directory. Rounds interleave
# every run with its baseline so background load on the machine hits both alike.
cp "$WORK/seed-1k.db" "$WORK/p6.db"
cp "$WORK/seed-1k.db" "$WORK/p7-baseline.db"
start_server "$WORK/p6.db"
URL_1K=$SERVER_URL
start_server "$WORK/seed-big.db"
URL_BIG=$SERVER_URL
for round in $(seq 1 "$ROUNDS"); do
  load "$URL_1K" "healthz-get-r$round" get /healthz -
  load "$URL_1K" "profile-get-1k-r$round" get /api/profile "$WORK/tokens-1k.txt"
  load "$URL_BIG" "profile-get-big-r$round" get /api/profile "$WORK/tokens-big.txt"
  load "$URL_1K" "profile-put-1k-r$round" put /api/profile "$WORK/tokens-1k.txt"
  load "$URL_BIG" "profile-put-big-r$round" put /api/profile "$WORK/tokens-big.txt"
  say "sqlite baseline (round $round)"
  "$BENCH" sqlite-baseline --db "$WORK/p7-baseline.db" --seconds "$RUN_SECONDS" --warmup 1 \
    >"$RAW/sqlite-baseline-r$round.json"
done
stop_servers

# P8: event streams of one account on a fresh server.
cp "$WORK/seed-1k.db" "$WORK/p8.db"
start_server "$WORK/p8.db"
say "opening $STREAMS event streams"
"$BENCH" streams --url "$SERVER_URL" --token "$(head -n1 "$WORK/tokens-1k.txt")" \
  --count "$STREAMS" --pid "$SERVER_PID" >"$RAW/streams.json"
stop_servers

# P6, P7 and P10 on PostgreSQL (the cluster of tools/with-postgres.sh, fsync on): two
# instances on one database, the HTTP load against instance A and the same statements from
# plain clients as the yardstick, rounds interleaved; then saves through A timed to their
# event on a stream held by B.
if [ -n "${OUTPOST_TEST_POSTGRES:-}" ]; then
  psql "$OUTPOST_TEST_POSTGRES" -qc "CREATE DATABASE bench" >/dev/null
  PG_URL="${OUTPOST_TEST_POSTGRES%/*}/bench"
  start_server "$PG_URL"
  URL_A=$SERVER_URL
  PID_A=$SERVER_PID
  say "seeding PostgreSQL with 1,000 accounts"
  "$BENCH" seed-postgres --url "$PG_URL" --accounts 1000 --tokens 1000 \
    --tokens-out "$WORK/tokens-pg.txt" >"$RAW/seed-pg.json"
  start_server "$PG_URL"
  URL_B=$SERVER_URL
  PID_B=$SERVER_PID
  for round in $(seq 1 "$ROUNDS"); do
    load "$URL_A" "pg-profile-get-r$round" get /api/profile "$WORK/tokens-pg.txt"
    say "postgres baseline get (round $round)"
    "$BENCH" postgres-baseline --url "$PG_URL" --tokens-file "$WORK/tokens-pg.txt" --method get \
      --seconds "$RUN_SECONDS" --warmup 1 >"$RAW/pg-baseline-get-r$round.json"
    load "$URL_A" "pg-profile-put-r$round" put /api/profile "$WORK/tokens-pg.txt"
    say "postgres baseline put (round $round)"
    "$BENCH" postgres-baseline --url "$PG_URL" --tokens-file "$WORK/tokens-pg.txt" --method put \
      --seconds "$RUN_SECONDS" --warmup 1 >"$RAW/pg-baseline-put-r$round.json"
  done
  say "push across instances"
  "$BENCH" push-latency --from "$URL_A" --to "$URL_B" --token "$(tail -n1 "$WORK/tokens-pg.txt")" \
    --samples 200 >"$RAW/push-across.json"
  # One process may not hold more sockets than its file limit: B's streams are held by a
  # second process, which starts the save of the first only once they are open.
  say "opening $((STREAMS * 2)) event streams over the two instances"
  TOKEN_PG=$(head -n1 "$WORK/tokens-pg.txt")
  "$BENCH" streams --url "$URL_B" --pid "$PID_B" --token "$TOKEN_PG" --count "$STREAMS" \
    --ready-file "$WORK/streams-b-ready" >"$RAW/streams-two-b.json" &
  HOLDER=$!
  "$BENCH" streams --url "$URL_A" --pid "$PID_A" --token "$TOKEN_PG" --count "$STREAMS" \
    --wait-for "$WORK/streams-b-ready" >"$RAW/streams-two-a.json"
  wait "$HOLDER"
  stop_servers
else
  say "no PostgreSQL (run through tools/with-postgres.sh): P6/P7 on PostgreSQL and P10 skipped"
fi

# Where the WebAssembly bytes go (P1), by crate and by function.
say "wasm size by crate"
PATH="$HOME/.cargo/bin:$PATH" node tools/bench/wasm-size.mjs "$RAW/wasm-size.json" \
  || say "the wasm size breakdown failed"

# P1-P5: headless Chromium against the release server (harness.mjs starts it).
say "browser figures"
OUTPOST_SERVER_BIN="$SERVER" node tools/bench/browser.mjs "$RAW/browser.json" \
  || say "some browser figures failed (see the error in $RAW/browser.json)"

# P12 on Chromium, Firefox and WebKit side by side: outages of 5 s, 60 s and 10 minutes
# (BENCH_P12_OUTAGES), so this part takes about 11 minutes.
say "P12 on every engine"
OUTPOST_SERVER_BIN="$SERVER" xvfb-run -a node tools/bench/engines.mjs "$RAW/engines.json" \
  || say "P12 on the engines failed (see $RAW/engines.json)"

node tools/bench/report.mjs "$RAW" "$OUT/results.json"
