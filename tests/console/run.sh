#!/usr/bin/env bash
# The operator console's browser tests (called by scripts/test-all.sh): installs
# Debian's chromium when it is missing and playwright-core from npm, builds the server
# if needed, then runs `node --test tests/console/` against the real server binary.
# Screenshots land in target/console-shots/.
set -euo pipefail
cd "$(dirname "$0")/../.."

step() { printf '\n==> %s\n' "$*"; }

if [ -z "${CHROMIUM_BIN:-}" ] && [ ! -x /usr/bin/chromium ]; then
  step "installing chromium from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
fi

step "npm packages (playwright-core)"
(cd tests/console && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi)

if [ -z "${CREDIT_SYNC_SERVER_BIN:-}" ]; then
  server_bin="${CARGO_TARGET_DIR:-target}/debug/credit-sync-server"
  if [ ! -x "$server_bin" ]; then
    step "build the server (debug)"
    cargo build -p credit-sync-server
  fi
  export CREDIT_SYNC_SERVER_BIN="$server_bin"
fi

step "node --test tests/console/"
node --test --test-concurrency=1 tests/console/
