#!/usr/bin/env bash
# Times a 10,000-node scalar graph (3,334 layers of relu(1.0*x + 0.1)) forward and
# backward in nabla (release build) and in micrograd, counts the heap allocations of one
# pass (scalars, inline 3-vectors, 5-vectors), and times nabla's start-up beside Python's.
# Usage: bench/graph.sh [--install]   (--install: pip install micrograd if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--install" ] && ! python3 -c "import micrograd" 2>/dev/null; then
    echo "installing micrograd with pip"; python3 -m pip install --quiet micrograd
fi
swift build -c release --product nabla-bench >/dev/null
swift build -c release --product nabla >/dev/null
swift build -c release --product nabla-allocations >/dev/null
bin=$(swift build -c release --show-bin-path)
echo "== 10,000-node scalar graph, median of 20 runs (machine: $(nproc) cores, $(uname -m))"
"$bin/nabla-bench" 3334 20
if python3 -c "import micrograd" 2>/dev/null; then
    python3 bench/graph_micrograd.py 3334 20
else
    echo "micrograd is not installed: run bench/graph.sh --install to compare"
fi
echo "== heap allocations (malloc counted by a separate program: the timings above are not taxed)"
"$bin/nabla-allocations" 3334
echo "== start-up: time to run one line and exit, median of 20 runs"
python3 - "$bin/nabla" <<'PY'
import statistics, subprocess, sys, time
def t(cmd):
    xs = []
    for _ in range(20):
        t0 = time.perf_counter(); subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True); xs.append((time.perf_counter() - t0) * 1000)
    return statistics.median(xs)
print(f"nabla -e '1+1'              ms {t([sys.argv[1], '-e', '1+1']):.1f}")
print(f"python3 -c 'print(1+1)'     ms {t(['python3', '-c', 'print(1+1)']):.1f}")
try:
    import micrograd  # noqa
    print(f"python3 -c 'import micrograd' ms {t(['python3', '-c', 'import micrograd.engine']):.1f}")
except ImportError:
    pass
PY
