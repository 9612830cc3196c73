#!/usr/bin/env bash
# The Python package's test command: builds the abi3 wheel from bindings-python/,
# installs it into the repo's .venv, and runs the pytest suite against the real
# server binary (each test session starts its own server on port 0 and reads the
# address from its listening line). The binding crate's fmt and clippy run once for
# the workspace, in scripts/test-all.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

step() { printf '==> %s\n' "$*"; }

step "build the wheel (abi3, dev profile) and install it into .venv with the test tools"
bash scripts/install-python.sh dev
py="$root/.venv/bin/python"

if [ -z "${CREDIT_SYNC_SERVER_BIN:-}" ]; then
  export CREDIT_SYNC_SERVER_BIN="$root/target/debug/credit-sync-server"
  if [ ! -x "$CREDIT_SYNC_SERVER_BIN" ]; then
    step "build the server"
    cargo build -p credit-sync-server
  fi
fi

step "stubs match the runtime"
(cd "$root/tests/python" && "$py" -m mypy.stubtest credit_sync_client --allowlist stubtest-allowlist.txt)
"$py" -m mypy --strict "$root/examples/python/quickstart.py" "$root/examples/python/money_flows.py" "$root/tests/python/typed_usage.py" \
  "$root/examples/python/aiogram_bot.py" "$root/examples/python/ptb_bot.py"

step "pytest (test_method_parity.py also reads the Rust source with cargo run -p credit-sync-parity, and the Node package)"
"$py" -m pytest tests/python -q -p no:cacheprovider "$@"
