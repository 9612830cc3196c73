#!/usr/bin/env bash
# Bytes the server writes to storage per durable add (WAL, checkpoints, everything it
# writes: /proc/PID/io write_bytes over the run), with the adds rate and p99 and the
# writes per group commit, at 64 clients on a fresh SQLite database in a temp dir.
# Issue 16: a commit's cost is mostly its fsync, and an fsync's cost is its bytes.
#
#   bash bench/write_bytes.sh [SERVER_BIN] [DURATION] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
server=$(realpath "${1:-target/release/credit-sync-server}")
duration=${2:-6}
concurrency=${3:-64}
bench=${CREDIT_SYNC_BENCH:-target/release/credit-sync-bench}
dir=$(mktemp -d)
trap 'kill -9 "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$dir/config.toml" <<TOML
listen = "127.0.0.1:$port"
database = "sqlite://$dir/bench.db"
[[sources]]
name = "bench"
api_key = "bench-api-key"
secret = "bench-secret"
permissions = ["read", "write", "admin"]
TOML
"$server" serve --config "$dir/config.toml" >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
before=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io")
out=$("$bench" --base-url "http://127.0.0.1:$port" --concurrency "$concurrency" --mix adds \
  --duration "$duration" 2>&1 | tail -1)
after=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io")
commits=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^credit_sync_group_commit_size_count/ {print $2}')
requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out")
echo "$out"
echo "$(basename "$server"): $(( (after - before) / requests )) bytes written per add, $(( requests / commits )) adds per commit"
