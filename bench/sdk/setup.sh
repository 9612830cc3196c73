#!/usr/bin/env bash
# Builds everything the benchmarks need in release mode, in a place of their own:
#   target/release/credit-sync-server, target/release/credit-sync-bench,
#   target/release/examples/rust_sdk                 (the Rust client bench)
#   target/bench-sdk/venv                            (Python: the release wheel + requests + httpx)
#   target/bench-sdk/credit-sync.linux-x64-gnu.node  (Node: the release addon)
# The test suites install *debug* builds into .venv and bindings-node/, so the SDK
# benches load their own copies (python from target/bench-sdk/venv, and the addon
# through NAPI_RS_NATIVE_LIBRARY_PATH) and a concurrent test run cannot swap them.
# Usage: bash bench/sdk/setup.sh [rust|python|node]...   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
out="$root/target/bench-sdk"
mkdir -p "$out"
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(rust python node)

for part in "${parts[@]}"; do
  case "$part" in
    rust)
      cargo build --release -p credit-sync-server -p credit-sync-bench --bins --examples
      ;;
    python)
      [ -x "$out/venv/bin/python" ] || python3 -m venv "$out/venv"
      "$out/venv/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.8,<2" requests httpx
      rm -rf "$out/wheels"
      "$out/venv/bin/maturin" build -q --release -m bindings-python/Cargo.toml \
        --interpreter "$out/venv/bin/python" -o "$out/wheels"
      "$out/venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps \
        "$out"/wheels/credit_sync_client-*.whl
      ;;
    node)
      # index.js loads the generated native.js, which only `napi build` writes: build once if it is missing.
      (cd bindings-node && { [ -d node_modules/@napi-rs/cli ] || npm ci --no-audit --no-fund --loglevel=error; } \
        && { [ -f native.js ] || npm run --silent build; })
      # napi build writes the addon into bindings-node/ (where the tests' debug build also goes):
      # build it from cargo directly and keep a private copy instead.
      cargo build --release -p credit-sync-node
      cp target/release/libcredit_sync_node.so "$out/credit-sync.linux-x64-gnu.node"
      ;;
    *) echo "unknown part $part (rust|python|node)" >&2; exit 2 ;;
  esac
done
echo "bench builds ready under target/release and $out"
