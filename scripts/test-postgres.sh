#!/usr/bin/env bash
# Start or stop a throw-away PostgreSQL server on 127.0.0.1 for the test suite.
#   pg_env="$(bash scripts/test-postgres.sh start)" && eval "$pg_env"   -> exports HUB_TEST_PG_URL
#   bash scripts/test-postgres.sh stop
#   bash scripts/test-postgres.sh log     -> the server log's last lines (why a server died)
# Data lives under var/test-postgres (or $HUB_PG_DATA_DIR, so another cluster can run beside it);
# the server listens on loopback only, on a free port. A failed start exits non-zero, prints
# the reason on stderr and nothing on stdout (so `eval` has nothing to run).
#
# Run as root, the cluster runs as the `postgres` user, which must be able to walk down to its
# data folder. A clone under /root or under a `mktemp -d` folder (mode 700) is out of its reach,
# so there the data folder moves to a folder of its own under ${TMPDIR:-/tmp}, named after the
# requested one (the same name for `stop`), created by root for `postgres` alone (mode 700).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${HUB_PG_DATA_DIR:-$root/var/test-postgres}"
bindir="$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1 || true)")"
[ -x "$bindir/initdb" ] || bindir="$(dirname "$(command -v initdb)")"

fail() {
  echo "test-postgres.sh: $*" >&2
  exit 1
}

as_root() { [ "$(id -u)" = 0 ]; }

run_as_pg() {
  if as_root; then su postgres -s /bin/bash -c "cd / && $*"; else bash -c "$*"; fi
}

# The data folder the server will really use: $data, or its stand-in under /tmp when the postgres
# user cannot enter $data's parent folder.
reachable_data_dir() {
  as_root || { echo "$data"; return; }
  local parent
  parent="$(dirname "$data")"
  if [ -d "$parent" ] && su postgres -s /bin/sh -c "test -x '$parent' -a -r '$parent'" 2>/dev/null; then
    echo "$data"
  else
    echo "${TMPDIR:-/tmp}/hub-test-postgres-$(printf '%s' "$data" | sha256sum | cut -c1-16)"
  fi
}

case "${1:-}" in
  start)
    [ -x "$bindir/initdb" ] || fail "no initdb found (install Debian's postgresql package)"
    mkdir -p "$(dirname "$data")"
    data="$(reachable_data_dir)"
    if as_root; then
      id postgres >/dev/null 2>&1 || fail "running as root, but there is no postgres user to run the server as"
      # A predictable name under /tmp: never follow a link, never adopt a folder someone else made.
      [ -L "$data" ] && fail "$data is a symbolic link; refusing to put the cluster there"
      if [ -e "$data" ]; then
        owner="$(stat -c %U "$data")"
        [ "$owner" = postgres ] || [ "$owner" = root ] || fail "$data belongs to $owner, not postgres; refusing to use it"
      else
        mkdir -m 700 "$data"
      fi
      chown -R postgres "$data" && chmod 700 "$data"
      su postgres -s /bin/sh -c "test -w '$data'" || fail "the postgres user cannot write to $data"
    else
      mkdir -p "$data"
    fi
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    if [ ! -f "$data/PG_VERSION" ]; then
      run_as_pg "'$bindir/initdb' -D '$data' -U hub --auth=trust -E UTF8 --locale=C.UTF-8" >&2 \
        || fail "initdb failed in $data (its output is above)"
    fi
    if ! run_as_pg "'$bindir/pg_ctl' -D '$data' -l '$data/server.log' -w -o '-c listen_addresses=127.0.0.1 -p $port -k /tmp' start" >&2; then
      tail -n 20 "$data/server.log" >&2 2>/dev/null || true
      fail "the server did not start in $data (server log above)"
    fi
    run_as_pg "'$bindir/createdb' -h 127.0.0.1 -p $port -U hub hub_test" >&2 || true
    echo "export HUB_TEST_PG_URL=postgresql+psycopg2://hub@127.0.0.1:$port/hub_test"
    ;;
  stop)
    data="$(reachable_data_dir)"
    [ -f "$data/postmaster.pid" ] && run_as_pg "'$bindir/pg_ctl' -D '$data' -m fast -w stop" >&2 || true
    ;;
  log)
    data="$(reachable_data_dir)"
    echo "--- last lines of $data/server.log ---" >&2
    tail -n 40 "$data/server.log" >&2 2>/dev/null || echo "(no server log)" >&2
    ;;
  *) echo "usage: $0 start|stop|log" >&2; exit 2 ;;
esac
