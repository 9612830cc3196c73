#!/usr/bin/env bash
# Profiles the server under one credit-sync-bench mix: starts the release server on a
# free port with a temp SQLite database, attaches `perf stat` (CPU time, context
# switches) and, with --record, `perf record -g` to the server process for the run, and
# prints the bench's line, the counters per request and the top of the profile, and
# how the SQLite writer thread spent the run's wall time (on a CPU, waiting in the run
# queue for one, or blocked: in fsync or waiting for work), from its /proc schedstat.
#
# Usage: bash bench/profile-server.sh MIX [--record] [credit-sync-bench args...]
#   e.g. bash bench/profile-server.sh batch --record --duration 10
# Env: CREDIT_SYNC_SERVER_BIN (default target/profiling/credit-sync-server: the release
#      build with symbols, `cargo build --profile profiling -p credit-sync-server`),
#      CREDIT_SYNC_BENCH_BIN (default target/release/credit-sync-bench).
# Needs `perf` (Debian: linux-perf). This VM has no hardware counters, so it samples
# the cpu-clock software event.
set -euo pipefail
cd "$(dirname "$0")/.."
mix="${1:?usage: profile-server.sh MIX [--record] [bench args...]}"
shift
record=0
if [ "${1:-}" = "--record" ]; then record=1; shift; fi
server_bin="${CREDIT_SYNC_SERVER_BIN:-target/profiling/credit-sync-server}"
[ -x "$server_bin" ] || cargo build --locked --profile profiling -p credit-sync-server
bench_bin="${CREDIT_SYNC_BENCH_BIN:-target/release/credit-sync-bench}"

dir="$(mktemp -d /tmp/credit-sync-profile-XXXXXX)"
cat > "$dir/bench.toml" <<EOF
listen = "127.0.0.1:0"
database = "sqlite://$dir/bench.db"

[[sources]]
name = "bench"
api_key = "bench-api-key"
secret = "bench-secret"
permissions = ["read", "write", "admin"]
EOF
mkfifo "$dir/out"
"$server_bin" serve --config "$dir/bench.toml" > "$dir/out" 2>/dev/null &
server=$!
exec 3< "$dir/out"
read -r line <&3
url="${line##* }"
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; [ -n "${KEEP_PERF:-}" ] && cp "$dir/perf.data" "$KEEP_PERF" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

# Seeding happens inside the bench before the timed part; the counters cover both, which
# is a few hundred requests at most (the reads mix seeds 1,000 users in one batch).
if [ "$record" = 1 ]; then
  perf record -q -e cpu-clock -F 999 -g -p "$server" -o "$dir/perf.data" 2>/dev/null &
else
  perf stat -e task-clock,context-switches,cpu-migrations -p "$server" -o "$dir/stat.txt" &
fi
perf=$!
sleep 0.5
# The writer thread's schedstat (ns on a CPU, ns runnable in the run queue) and the clock.
writer_time() {
  local t
  for t in /proc/"$server"/task/*; do
    if [ "$(cat "$t/comm" 2>/dev/null)" = sqlite-writer ]; then
      read -r oncpu queued _ < "$t/schedstat"
      echo "$oncpu $queued $(date +%s%N)"
      return
    fi
  done
}
writer_before="$(writer_time)"
"$bench_bin" --base-url "$url" --api-key bench-api-key --secret bench-secret --source bench \
  --mix "$mix" --json "$@" | tee "$dir/bench.out"
writer_after="$(writer_time)"
kill -INT "$perf"
wait "$perf" || true
report="$(tail -n 1 "$dir/bench.out")"
requests="$(printf '%s' "$report" | sed -E 's/.*"requests":([0-9]+).*/\1/')"
if [ "$record" = 1 ]; then
  perf report -i "$dir/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null \
    | grep -E '^ +[0-9]+\.[0-9]+%' | sed -E 's/[[:space:]]+$//' | cut -c1-140 | head -30 || true
  echo "--- by thread"
  perf report -i "$dir/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null \
    | grep -E '^ +[0-9]+\.[0-9]+%' | sed -E 's/[[:space:]]+$//' | head -10 || true
else
  cat "$dir/stat.txt"
  awk -v n="$requests" '/task-clock/ { gsub(",", "", $1); printf "server CPU per request: %.1f us\n", $1 * 1000 / n }
       /context-switches/ { gsub(",", "", $1); printf "server context switches per request: %.1f\n", $1 / n }' "$dir/stat.txt"
fi
if [ -n "$writer_before" ] && [ -n "$writer_after" ]; then
  # shellcheck disable=SC2086
  set -- $writer_before $writer_after
  awk -v c1="$1" -v q1="$2" -v t1="$3" -v c2="$4" -v q2="$5" -v t2="$6" 'BEGIN {
    wall = t2 - t1; cpu = c2 - c1; queue = q2 - q1
    printf "writer thread: %.0f%% on a CPU, %.0f%% waiting for one, %.0f%% blocked (fsync, or no write queued)\n",
      100 * cpu / wall, 100 * queue / wall, 100 * (wall - cpu - queue) / wall }'
fi
