#!/usr/bin/env bash
# Issue 16's "last millisecond", three figures side by side in one run on one filesystem:
#   1. SQLite's own single-change commit (bench/sqlite_bound.py: WAL, synchronous=FULL,
#      the ledger's statements, one change per BEGIN IMMEDIATE ... COMMIT);
#   2. a signed balance read's p50 through the server, one request after the other;
#   3. a sequential durable write's p50 (a signed single add), one after the other;
# then the ratio write / (SQLite commit + read), which issue 16 wants at most 1.25.
# The client is `credit-sync-bench` (Rust, keep-alive, v2-signed) with one connection;
# the server is the release build with its database in the same temp dir's filesystem.
#
#   bash bench/last_millisecond.sh [SERVER_BIN] [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-target/release/credit-sync-server}
duration=${2:-5}
bench=${CREDIT_SYNC_BENCH:-target/release/credit-sync-bench}

echo "load: $(uptime)"
bound=$(python3 bench/sqlite_bound.py "${TMPDIR:-/tmp}")
echo "$bound"
commit_us=$(sed -n 's/^sqlite single.*(\([0-9.]*\) us per change)$/\1/p' <<<"$bound")
json=$("$bench" --server-bin "$server" --concurrency 1 --mix reads --mix adds \
    --duration "$duration" --json)
echo "$json"
python3 - "$commit_us" "$json" <<'PY'
import json, sys
commit_ms = float(sys.argv[1]) / 1000
rows = [json.loads(line) for line in sys.argv[2].splitlines() if line.startswith("{")]
mixes = {r["mix"]: r for r in rows}
read, write = mixes["reads"]["p50_ms"], mixes["adds"]["p50_ms"]
bound = commit_ms + read
print(f"sqlite commit {commit_ms:.3f} ms + signed read p50 {read:.3f} ms = {bound:.3f} ms; "
      f"sequential durable write p50 {write:.3f} ms; ratio {write / bound:.2f} (target <= 1.25)")
PY
