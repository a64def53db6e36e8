#!/usr/bin/env bash
# Two Outpost instances on one PostgreSQL database behind nginx, on OUTPOST_CLUSTER_ADDR
# (default 127.0.0.1:8080). Run under tools/with-postgres.sh, which provides the throwaway
# cluster (OUTPOST_TEST_POSTGRES). Prints "instance http://... pid N" for each instance and
# "cluster ready on http://..." once nginx serves; stops everything on exit or SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."

addr=${OUTPOST_CLUSTER_ADDR:-127.0.0.1:8080}
server=${OUTPOST_SERVER_BIN:-target/release/outpost-server}
dist=${OUTPOST_DIST:-dist}
instances=${OUTPOST_INSTANCES:-2}
: "${OUTPOST_TEST_POSTGRES:?run this under tools/with-postgres.sh}"

dir=$(mktemp -d /tmp/outpost-cluster.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

psql "$OUTPOST_TEST_POSTGRES" -qc "CREATE DATABASE outpost" >/dev/null
db="${OUTPOST_TEST_POSTGRES%/*}/outpost"

ready() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null; }
# Polls a readiness URL (up to 10 s, as start-up takes); on failure prints the log and stops.
wait_ready() {
  for _ in $(seq 1 200); do
    if ready "$1"; then return 0; fi
    sleep 0.05
  done
  ready "$1" || { cat "$2" >&2; exit 1; }
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
upstreams=""
for i in $(seq 1 "$instances"); do
  port=$(free_port)
  OUTPOST_DB="$db" "$server" --addr "127.0.0.1:$port" --dist "$dist" --trusted-proxy 127.0.0.1 \
    2>"$dir/instance-$i.log" &
  pids+=($!)
  wait_ready "http://127.0.0.1:$port/readyz" "$dir/instance-$i.log"
  echo "instance http://127.0.0.1:$port pid ${pids[-1]}"
  upstreams+="server 127.0.0.1:$port max_fails=1 fail_timeout=2s; "
done

mkdir -p "$dir"/{body,proxy,fastcgi,uwsgi,scgi}
user=""
if [ "$(id -u)" = 0 ]; then
  chown -R nobody "$dir"/{body,proxy,fastcgi,uwsgi,scgi}
  # Its workers must reach them (bodies and answers over the buffers, a photo say, go there).
  chmod 711 "$dir"
  user="user nobody nogroup;"
fi
sed -e "s|@DIR@|$dir|g" -e "s|@LISTEN@|$addr|g" -e "s|@UPSTREAMS@|$upstreams|g" \
  -e "s|@USER@|$user|g" deploy/nginx.conf.template >"$dir/nginx.conf"
nginx -c "$dir/nginx.conf" -e "$dir/error.log" &
pids+=($!)
wait_ready "http://$addr/readyz" "$dir/error.log"
echo "cluster ready on http://$addr"
# Until nginx ends (or a signal): an instance that dies is nginx's to route around.
wait "${pids[-1]}"
