#!/usr/bin/env bash
# Runs every test of credit-sync on a fresh machine: lint, the Rust workspace
# (core, server, SDK against the real server), the Python wheel suite and the
# Node addon suite. Each suite starts its own servers on free loopback ports
# with temporary databases. Exits non-zero on the first failing step.
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

step "Python package tests"
bash tests/python/run.sh

step "Node package tests"
bash tests/node/run.sh

printf '\nall tests passed in %ss\n' "$(( $(date +%s) - start ))"
