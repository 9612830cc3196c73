#!/usr/bin/env bash
# Installs the npm packages of bindings-node (under the repo) and builds the
# native addon (napi-rs) with its generated type definitions.
# Usage: scripts/install-node.sh [release|dev]   (default: release)
set -euo pipefail
cd "$(dirname "$0")/../bindings-node"
profile="${1:-release}"

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
# napi's own `--target` would build a second dependency tree: see scripts/cargo-host-target.sh.
export CARGO="$PWD/../scripts/cargo-host-target.sh"
if [ "$profile" = release ]; then npm run --silent build; else npm run --silent build:debug; fi
