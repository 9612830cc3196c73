#!/usr/bin/env bash
# Builds the credit-sync-client wheel (pyo3 + maturin) and installs it into the
# repo's virtualenv `.venv`, with the tools the tests and examples use.
# Usage: scripts/install-python.sh [release|dev]   (default: release)
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-release}"

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# aiogram and python-telegram-bot: the Stars tests credit their real `SuccessfulPayment` objects.
# standardwebhooks: the official verifier checks what the server's webhooks send.
.venv/bin/python -m pip install -q --disable-pip-version-check "maturin>=1.9,<2" pytest requests httpx mypy aiogram python-telegram-bot standardwebhooks

wheels="target/wheels-$profile"
rm -rf "$wheels"
if [ "$profile" = release ]; then
  .venv/bin/maturin build -q --release -m bindings-python/Cargo.toml --interpreter .venv/bin/python -o "$wheels"
else
  .venv/bin/maturin build -q --profile dev -m bindings-python/Cargo.toml --interpreter .venv/bin/python -o "$wheels"
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheels"/credit_sync_client-*.whl
echo "installed $(ls "$wheels"/credit_sync_client-*.whl) into .venv"
