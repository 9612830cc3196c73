#!/usr/bin/env bash
# The `cargo` that scripts/install-node.sh hands `napi build` (as $CARGO). napi always
# passes `--target <triple>`, the host's own included, and cargo then compiles the
# addon's whole dependency tree a second time under target/<triple>/, apart from the
# server's and the wheel's. For the host triple this drops `--target`, so the addon
# shares target/<profile>/ with every other build, and copies the addon to
# target/<triple>/<profile>/, where napi picks it up. A real cross build goes through
# unchanged.
set -euo pipefail
unset CARGO
root="$(cd "$(dirname "$0")/.." && pwd)"
host=$(rustc -vV | sed -n 's/^host: //p')
args=() triple="" dir=debug
while [ $# -gt 0 ]; do
  case "$1" in
    --target) triple="$2"; shift 2; continue ;;
    --release) dir=release ;;
    --profile) dir=$([ "$2" = dev ] && echo debug || echo "$2") ;;
  esac
  args+=("$1"); shift
done
if [ -n "$triple" ] && [ "$triple" != "$host" ]; then
  exec cargo "${args[@]}" --target "$triple"
fi
target="${CARGO_BUILD_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}}"
addon=libcredit_sync_node.so
# napi copies the addon once it sees cargo's "Finished" line: never let it find a stale one.
rm -f "$target/$host/$dir/$addon"
cargo "${args[@]}"
mkdir -p "$target/$host/$dir"
cp -f "$target/$dir/$addon" "$target/$host/$dir/$addon"
