#!/usr/bin/env bash
# The contract check: Schemathesis (from PyPI, into the repo's .venv) runs every check,
# with the examples, coverage, fuzzing and stateful phases, against the real server
# binary on a temporary SQLite database, signing every request with v2 (hooks.py).
# Bounded in examples and time; exits non-zero on any failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
root="$PWD"

step() { printf '==> %s\n' "$*"; }

step "install Schemathesis into .venv"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check "schemathesis==4.32.5"

bin="${CREDIT_SYNC_SERVER_BIN:-$root/target/debug/credit-sync-server}"
if [ ! -x "$bin" ]; then
  step "build the server"
  cargo build -p credit-sync-server
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

export CREDIT_SYNC_SCHEMATHESIS_SOURCE="schemathesis"
export CREDIT_SYNC_SCHEMATHESIS_API_KEY="schemathesis-api-key"
export CREDIT_SYNC_SCHEMATHESIS_SECRET="schemathesis-secret"
export CREDIT_SYNC_SCHEMATHESIS_SIGN_PLACEHOLDER="signed-by-the-hook"
cat >"$work/server.toml" <<TOML
listen = "127.0.0.1:0"
database = "sqlite://$work/credit-sync.db"

[[sources]]
name = "$CREDIT_SYNC_SCHEMATHESIS_SOURCE"
api_key = "$CREDIT_SYNC_SCHEMATHESIS_API_KEY"
secret = "$CREDIT_SYNC_SCHEMATHESIS_SECRET"
permissions = ["read", "write", "admin"]
TOML

step "start the server"
"$bin" serve --config "$work/server.toml" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
base=""
for _ in $(seq 1 100); do
  base="$(sed -n 's/^credit-sync-server listening on \(http:[^ ]*\).*/\1/p' "$work/server.out" | head -1)"
  [ -n "$base" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$work/server.err" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "the server did not print its address" >&2
  cat "$work/server.err" >&2
  exit 1
fi
echo "server at $base"

step "schemathesis run (all checks; examples, coverage, fuzzing, stateful)"
status=0
(
  # Run in the temp dir, so nothing Schemathesis or Python writes lands in the repo.
  cd "$work"
  PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$here" SCHEMATHESIS_HOOKS=hooks \
    "$root/.venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$base/openapi.json" \
    --url "$base" \
    --checks all \
    --phases examples,coverage,fuzzing,stateful \
    --report-dir "$work/report" \
    "$@"
) || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server stderr (last 40 lines)" >&2
  tail -n 40 "$work/server.err" >&2
fi
exit "$status"
