#!/usr/bin/env bash
# Runs a command against a real Outpost server: a debug build on a free port with a fresh
# SQLite file, stopped (and its files removed) when the command ends, pass or fail.
# The command sees OUTPOST_TEST_SERVER (the server's URL). The wasm-bindgen test runner is put
# on a fixed free port so the server can allow exactly that origin (CORS, tests only).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
runner_port=$(free_port)
export WASM_BINDGEN_TEST_ADDRESS="127.0.0.1:$runner_port"

# Every browser test signs up from 127.0.0.1: the per-address limits are raised for them.
target/debug/outpost-server --addr 127.0.0.1:0 --db "$dir/outpost.db" --dist "${OUTPOST_DIST:-dist}" \
  --allow-origin "http://127.0.0.1:$runner_port" \
  --max-signups-per-address 100000 --max-connections-per-address 100000 2>"$dir/server.log" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

url=""
for _ in $(seq 1 300); do
  url=$(grep -o 'listening on http://[0-9.:]*' "$dir/server.log" | head -n 1 | cut -d' ' -f3 || true)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/server.log"; echo "with-server: server exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { cat "$dir/server.log"; echo "with-server: server did not start" >&2; exit 1; }
curl -fsS "$url/healthz" >/dev/null
export OUTPOST_TEST_SERVER="$url"
# chromedriver leaves a 70 MB profile in the temporary folder per session: keep it in ours.
mkdir -p "$dir/tmp"
export TMPDIR="$dir/tmp"
echo "with-server: $url (runner on $WASM_BINDGEN_TEST_ADDRESS)"
"$@"
