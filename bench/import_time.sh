#!/usr/bin/env bash
# Issue 16's import-time benchmark: `import credit_sync_client` and
# `require('credit-sync-client')` each in N fresh processes, minus the bare interpreter
# start (`python -c pass`, `node -e 0`, its median), as median and p90; then Python's
# `-X importtime` top entries. Builds nothing: it takes the installed wheel (the venv of
# bench/sdk/setup.sh, else the test suites' .venv; or $PYTHON) and the built addon in
# bindings-node/ (or $NODE_PACKAGE). Target: under 50 ms each.
# Usage: bash bench/import_time.sh [N]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-30}"
py="${PYTHON:-}"
if [ -z "$py" ]; then
  if [ -x target/bench-sdk/venv/bin/python ]; then py=target/bench-sdk/venv/bin/python; else py=.venv/bin/python; fi
fi
pkg="${NODE_PACKAGE:-$PWD/bindings-node}"

"$py" - "$n" "$py" "$pkg" <<'PY'
import statistics, subprocess, sys, time
n, py, pkg = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def run(cmd):
    """The process's wall time, and the time it printed (its import alone), in ms."""
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
    return (time.perf_counter() - t) * 1000, float(out or "nan")

def p90(xs):
    return statistics.quantiles(xs, n=10, method="inclusive")[8]

def report(label, bare_cmd, cmd):
    # Bare and importing runs alternate, so a change in the machine's load hits both.
    bare, full, inside = [], [], []
    for _ in range(n):
        bare.append(run(bare_cmd)[0])
        wall, own = run(cmd)
        full.append(wall)
        inside.append(own)
    b = statistics.median(bare)
    print(f"{label:<30} import median {statistics.median(full) - b:6.1f} ms   p90 {p90(full) - b:6.1f} ms"
          f"   (process median {statistics.median(full):.1f}, p90 {p90(full):.1f}; bare start median {b:.1f}, p90 {p90(bare):.1f}; n={n})")
    # The same import timed inside the process: free of the start-up's noise under load.
    print(f"{'':<30}   timed inside: median {statistics.median(inside):6.1f} ms   p90 {p90(inside):6.1f} ms")

report("import credit_sync_client", [py, "-c", "pass"],
       [py, "-c", "import time; t = time.perf_counter(); import credit_sync_client; print((time.perf_counter() - t) * 1000)"])
report("require('credit-sync-client')", ["node", "-e", "0"],
       ["node", "-e", f"const t = process.hrtime.bigint(); require({pkg!r}); console.log(Number(process.hrtime.bigint() - t) / 1e6)"])
imp = subprocess.run([py, "-X", "importtime", "-c", "import credit_sync_client"], capture_output=True, text=True).stderr
rows = []
for line in imp.splitlines()[1:]:
    try:
        _, self_us, cum_us, name = line.split("|", 1)[0], *line.split(":", 1)[1].split("|")
        rows.append((int(cum_us), int(self_us), name.rstrip()))
    except ValueError:
        pass
print("\npython -X importtime, top entries by cumulative time (us):")
for cum, self_us, name in sorted(rows, reverse=True)[:12]:
    print(f"  {cum:>8} cumulative {self_us:>8} self  {name}")
PY
