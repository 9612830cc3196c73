#!/usr/bin/env bash
# Two server builds side by side in one run: `credit-sync-bench` drives OLD and NEW in
# turn (interleaved, ROUNDS times each, so a change in the machine's load hits both
# alike) and prints each run, the medians and NEW/OLD. Used for the cost of single-use
# signatures (docs/benchmarks.md).
#
#   bash bench/compare-servers.sh OLD_BIN NEW_BIN [MIX] [ROUNDS] [DURATION]
#
# More `credit-sync-bench` arguments (both builds get them) in CREDIT_SYNC_BENCH_ARGS,
# e.g. CREDIT_SYNC_BENCH_ARGS="--database postgres://..." for PostgreSQL.
set -euo pipefail
old=${1:?old server binary}
new=${2:?new server binary}
mix=${3:-adds}
rounds=${4:-3}
duration=${5:-10}
bench=${CREDIT_SYNC_BENCH:-target/release/credit-sync-bench}

run() { # prints "<requests/s> <p99 ms> <errors>" of one run
    # shellcheck disable=SC2086 # word splitting of the extra arguments is meant
    "$bench" --server-bin "$1" --mix "$mix" --duration "$duration" ${CREDIT_SYNC_BENCH_ARGS:-} --json |
        python3 -c 'import json,sys; r = json.loads(sys.stdin.read().splitlines()[-1]); print("%.0f %.1f %d" % (r["requests_per_sec"], r["p99_ms"], r["errors"]))'
}

declare -a olds news
echo "load before: $(uptime)"
for i in $(seq "$rounds"); do
    read -r o op oe <<<"$(run "$old")"
    read -r n np ne <<<"$(run "$new")"
    olds+=("$o"); news+=("$n")
    echo "round $i: old $o/s (p99 $op ms, $oe errors)  new $n/s (p99 $np ms, $ne errors)"
done
echo "load after: $(uptime)"
python3 - "${olds[*]}" "${news[*]}" <<'PY'
import statistics, sys
old = [float(x) for x in sys.argv[1].split()]
new = [float(x) for x in sys.argv[2].split()]
mo, mn = statistics.median(old), statistics.median(new)
print(f"median: old {mo:.0f}/s  new {mn:.0f}/s  new/old {mn / mo:.3f}")
PY
