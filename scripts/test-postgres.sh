#!/usr/bin/env bash
# Start or stop a throw-away PostgreSQL server on 127.0.0.1 for the test suite.
#   eval "$(bash scripts/test-postgres.sh start)"   -> exports HUB_TEST_PG_URL
#   bash scripts/test-postgres.sh stop
# Data lives under var/test-postgres (or $HUB_PG_DATA_DIR, so another cluster can run beside it);
# the server listens on loopback only, on a free port.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${HUB_PG_DATA_DIR:-$root/var/test-postgres}"
bindir="$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1 || true)")"
[ -x "$bindir/initdb" ] || bindir="$(dirname "$(command -v initdb)")"

run_as_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

case "${1:-}" in
  start)
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown -R postgres "$data" && chmod 700 "$data"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    if [ ! -f "$data/PG_VERSION" ]; then
      run_as_pg "'$bindir/initdb' -D '$data' -U hub --auth=trust -E UTF8 --locale=C.UTF-8" >&2
    fi
    run_as_pg "'$bindir/pg_ctl' -D '$data' -l '$data/server.log' -w -o '-c listen_addresses=127.0.0.1 -p $port -k /tmp' start" >&2
    run_as_pg "'$bindir/createdb' -h 127.0.0.1 -p $port -U hub hub_test" >&2 || true
    echo "export HUB_TEST_PG_URL=postgresql+psycopg2://hub@127.0.0.1:$port/hub_test"
    ;;
  stop)
    [ -f "$data/postmaster.pid" ] && run_as_pg "'$bindir/pg_ctl' -D '$data' -m fast -w stop" >&2 || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
