#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster: initdb into a temporary folder, pg_ctl
# on a free loopback port with its socket in that folder, stopped and removed at the end, so
# no machine-wide service is used. As root, the cluster runs as the `postgres` system user
# Debian's package creates (initdb refuses root). The command sees OUTPOST_TEST_POSTGRES, a
# superuser URL; each test creates a database of its own there.
#
# fsync is off unless OUTPOST_PG_FSYNC=on (as `make bench` sets it): the cluster lives for
# one test run, and the tests that kill a process kill an Outpost instance, never PostgreSQL.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "with-postgres: no PostgreSQL server found; run tools/setup.sh" >&2
  exit 1
fi
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
dir=$(mktemp -d /tmp/outpost-pg.XXXXXX)
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi

as_owner "$bin/initdb" -D "$dir/data" -U outpost --auth=trust -E UTF8 --no-sync >"$dir/initdb.log"
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=${OUTPOST_PG_FSYNC:-off} -c max_connections=400" \
  start >/dev/null
cleanup() {
  as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

export OUTPOST_TEST_POSTGRES="postgres://outpost@127.0.0.1:$port/postgres"
"$@"
