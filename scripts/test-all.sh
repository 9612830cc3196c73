#!/usr/bin/env bash
# Runs every test of credit-sync on a fresh machine: lint, the Rust workspace
# (core, server, SDK against the real server), Schemathesis against the server's OpenAPI
# document, the server and reliability suites
# again on PostgreSQL, the Python wheel suite and the Node addon suite. Each suite
# starts its own servers on free loopback ports with temporary databases. Exits non-zero on the first failing step.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
start=$(date +%s)

step "rustfmt"
cargo fmt --all -- --check

step "clippy (-D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build the workspace (debug) and the server binary the suites start"
cargo build --workspace --all-targets --locked
export CREDIT_SYNC_SERVER_BIN="$PWD/target/debug/credit-sync-server"

step "Rust tests (core, server, SDK integration)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
cargo test --doc -p credit-sync --locked

step "OpenAPI contract: Schemathesis against the real server (all checks and phases, v2-signed, bounded)"
bash tests/schemathesis/run.sh

step "Rust tests on PostgreSQL (server and reliability suites; throwaway cluster on 127.0.0.1)"
# scripts/with-postgres.sh installs PostgreSQL from Debian's packages when it is missing,
# or uses $CREDIT_SYNC_TEST_POSTGRES_URL when given; each server test gets its own database.
if cargo nextest --version >/dev/null 2>&1; then
  bash scripts/with-postgres.sh env CREDIT_SYNC_TEST_BACKEND=postgres \
    cargo nextest run -p credit-sync-server -p credit-sync-reliability --locked --no-fail-fast
else
  bash scripts/with-postgres.sh env CREDIT_SYNC_TEST_BACKEND=postgres \
    cargo test -p credit-sync-server -p credit-sync-reliability --locked --no-fail-fast
fi

# Node first: it builds the addon (and its generated native.d.ts) that the Python suite's
# five-way method parity test (tests/parity/) reads.
step "Node package tests"
bash tests/node/run.sh

step "Python package tests"
bash tests/python/run.sh

step "Operator console in a browser (playwright-core driving Debian's chromium headless)"
bash tests/console/run.sh

printf '\nall tests passed in %ss\n' "$(( $(date +%s) - start ))"
