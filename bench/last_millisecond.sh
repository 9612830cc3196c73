#!/usr/bin/env bash
# Issue 16's "last millisecond", three figures side by side in one run on one filesystem:
#   1. SQLite's own single-change commit (bench/sqlite_bound.py: WAL, synchronous=FULL,
#      the ledger's statements, one change per BEGIN IMMEDIATE ... COMMIT);
#   2. a signed balance read's p50 through the server, one request after the other;
#   3. a sequential durable write's p50 (a signed single add), one after the other;
# then the ratio write / (SQLite commit + read), which issue 16 wants at most 1.25.
# The client is `credit-sync-bench` (Rust, keep-alive, v2-signed) with one connection;
# the server is the release build with its database in the same temp dir's filesystem.
# Then the same two p50s through the Python SDK (`get_balance` and `add_credits`, taking
# turns in rounds, bench/sdk/python_sdk.py), the issue's own baseline, when the release
# wheel is installed (`bash bench/sdk/setup.sh python`).
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
python=${CREDIT_SYNC_BENCH_PYTHON:-target/bench-sdk/venv/bin/python}
sdk=""
if [ -x "$python" ]; then
  sdk=$("$python" bench/sdk/python_sdk.py --server-bin "$server" --variants sdk-read,sdk \
      --duration "$duration" --rounds 5 --json)
  echo "$sdk"
else
  echo "(no Python SDK pass: run bash bench/sdk/setup.sh python)"
fi
python3 - "$commit_us" "$json" "$sdk" <<'PY'
import json, sys
commit_ms = float(sys.argv[1]) / 1000
def rows(text, key):
    return {r[key]: r for r in (json.loads(l) for l in text.splitlines() if l.startswith("{"))}
def report(client, read, write):
    bound = commit_ms + read
    print(f"{client}: sqlite commit {commit_ms:.3f} ms + signed read p50 {read:.3f} ms = {bound:.3f} ms; "
          f"sequential durable write p50 {write:.3f} ms; ratio {write / bound:.2f} (target <= 1.25)")
mixes = rows(sys.argv[2], "mix")
report("rust bench client", mixes["reads"]["p50_ms"], mixes["adds"]["p50_ms"])
if sys.argv[3]:
    variants = rows(sys.argv[3], "variant")
    report("python sdk", variants["sdk-read"]["p50_ms"], variants["sdk"]["p50_ms"])
PY
