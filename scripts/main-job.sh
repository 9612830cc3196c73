#!/usr/bin/env bash
# The main job on a fresh machine: build everything, start the Credit Sync API
# server on embedded SQLite (`credit-sync-server demo`), and run the guide's
# quick start against it in Python, Node and Rust. Stops the server and checks
# the ledger with `credit-sync-server verify` at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${CREDIT_SYNC_PROFILE:-release}"   # release | dev
out="${CARGO_TARGET_DIR:-$PWD/target}/$([ "$profile" = dev ] && echo debug || echo "$profile")"

step() { printf '\n==> %s\n' "$*"; }

# Three builds share target/<profile>. The SDK's three (wheel, addon, Rust example) ask
# for the same dependency features, so only the first compiles them; the server's build
# is kept apart, because building it with an SDK would unify other features (hyper's
# client and server halves, say) and make the SDK builds compile those crates again.
step "build the server ($profile)"
cargo build --locked --profile "$profile" -p credit-sync-server --bins
server="$out/credit-sync-server"
[ -x "$server" ] || { echo "main job: cargo did not build $server" >&2; exit 1; }

step "build and install the Python wheel"
bash scripts/install-python.sh "$profile"

step "build the Node addon"
bash scripts/install-node.sh "$profile"

step "build the Rust example"
cargo build --locked --profile "$profile" -p credit-sync-examples --bins

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
db="sqlite://$work/credit-sync.db"
step "start the demo server on 127.0.0.1:$port ($db)"
"$server" demo --listen "127.0.0.1:$port" --database "$db" >"$work/server.out" 2>"$work/server.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  grep -q 'listening on' "$work/server.out" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log"; echo "server exited" >&2; exit 1; }
  sleep 0.1
done
cat "$work/server.out"
export CREDIT_SYNC_BASE_URL="http://127.0.0.1:$port"

step "guide quick start: Python"
.venv/bin/python examples/python/quickstart.py
step "guide quick start: Node"
node examples/node/quickstart.js
step "guide quick start: Rust"
"$out/quickstart"

step "stop the server and verify the ledger"
kill "$pid"; wait "$pid" 2>/dev/null || true
"$server" verify --database "$db"
printf '\nmain job passed\n'
