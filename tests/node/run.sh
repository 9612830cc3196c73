#!/usr/bin/env bash
# Node test entry point (called by scripts/test-all.sh): installs the npm packages and builds the
# addon (debug) in bindings-node/, builds the server if needed, type-checks the TypeScript
# examples (quickstart.ts, the grammY bot) and tests/node/typed_usage.ts with `tsc --noEmit --strict`, then runs
# `node --test tests/node/` against the real server binary. The binding crate's fmt and
# clippy run once for the workspace, in scripts/test-all.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

step() { printf '\n==> %s\n' "$*"; }

step "npm packages and the addon (debug build)"
bash scripts/install-node.sh dev

if [ -z "${CREDIT_SYNC_SERVER_BIN:-}" ]; then
  server_bin="${CARGO_TARGET_DIR:-target}/debug/credit-sync-server"
  if [ ! -x "$server_bin" ]; then
    step "build the server (debug)"
    cargo build -p credit-sync-server
  fi
  export CREDIT_SYNC_SERVER_BIN="$server_bin"
fi

step "tsc --noEmit --strict on examples/node/quickstart.ts, examples/node/grammy_bot.ts and tests/node/typed_usage.ts"
for ts in examples/node/quickstart.ts examples/node/grammy_bot.ts tests/node/typed_usage.ts; do
  bindings-node/node_modules/.bin/tsc --noEmit --strict \
    --target es2022 --module nodenext --moduleResolution nodenext \
    --types node --typeRoots bindings-node/node_modules/@types \
    "$ts"
done

step "node --test tests/node/"
node --test tests/node/
