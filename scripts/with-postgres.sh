#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster on 127.0.0.1 and its URL in
# CREDIT_SYNC_TEST_POSTGRES_URL. Installs PostgreSQL from Debian's packages when
# it is missing. When CREDIT_SYNC_TEST_POSTGRES_URL is already set, uses that
# database and starts nothing.
# Usage: scripts/with-postgres.sh <command> [args...]
set -euo pipefail

if [ -n "${CREDIT_SYNC_TEST_POSTGRES_URL:-}" ]; then
  exec "$@"
fi

initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$initdb" ]; then
  echo "==> installing PostgreSQL from Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
  initdb=$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
fi
bin=$(dirname "$initdb")

as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

data=$(mktemp -d /tmp/credit-sync-pg.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres "$data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_postgres "'$bin/initdb' -D '$data/db' -A trust -U postgres -E UTF8 >/dev/null"
as_postgres "'$bin/pg_ctl' -D '$data/db' -l '$data/log' -w -o \"-c listen_addresses=127.0.0.1 -p $port -k '$data' -c max_connections=300\" start >/dev/null"
stop() { as_postgres "'$bin/pg_ctl' -D '$data/db' -m fast -w stop >/dev/null" || true; rm -rf "$data"; }
trap stop EXIT
as_postgres "'$bin/createdb' -h 127.0.0.1 -p $port -U postgres credit_sync"
export CREDIT_SYNC_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/credit_sync"
echo "==> PostgreSQL on 127.0.0.1:$port ($CREDIT_SYNC_TEST_POSTGRES_URL)" >&2
"$@"
