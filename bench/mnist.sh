#!/usr/bin/env bash
# The MNIST benchmark: a 784-256-10 MLP (ReLU, softmax cross-entropy), batch 128,
# SGD lr 0.1, float32, seconds per epoch: nabla (release build) against numpy,
# PyTorch CPU (2 threads) and JAX (jit), run interleaved so that a busy neighbour
# weighs on every contender alike: each round runs nabla, numpy, nabla, PyTorch,
# nabla, JAX, and each peer is compared with the nabla run just before it.
#
#   bench/mnist.sh [--data DIR] [--epochs N] [--rounds R] [--install]
#
# Each run is its own process (peak memory by /usr/bin/time), trains N epochs
# (default 2) and counts its fastest epoch. Printed: the median s/epoch of each
# contender over the rounds, the median of the per-round ratios peer / nabla,
# the peak resident memory, and the sgemm bound of an epoch measured here
# (bench/sgemm_bound.c).
# --data: the folder with the four MNIST files (default: ../shared/data/mnist, then
#         Debian's Fashion-MNIST); --install: pip install torch (CPU) and jax if missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data=""; epochs=2; rounds=3; install=0
while [ $# -gt 0 ]; do
    case "$1" in
        --data) data="$2"; shift ;;
        --epochs) epochs="$2"; shift ;;
        --rounds) rounds="$2"; shift ;;
        --install) install=1 ;;
        *) echo "usage: bench/mnist.sh [--data DIR] [--epochs N] [--rounds R] [--install]" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$data" ]; then
    for d in "$root/../shared/data/mnist" /usr/share/datasets/fashion-mnist; do
        [ -e "$d/train-images-idx3-ubyte.gz" ] || [ -e "$d/train-images-idx3-ubyte" ] && { data="$d"; break; }
    done
fi
[ -n "$data" ] || { echo "no MNIST files found: give --data DIR" >&2; exit 2; }
if [ "$install" = 1 ]; then
    python3 -c 'import torch' 2>/dev/null || pip install -q torch --index-url https://download.pytorch.org/whl/cpu || pip install -q torch || echo "could not install torch" >&2
    python3 -c 'import jax' 2>/dev/null || pip install -q 'jax[cpu]' || echo "could not install jax" >&2
fi
"$root/scripts/ensure-deps"
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null 2>&1 || true; }
(cd "$root" && swift build -c release --product nabla >/dev/null)
nabla="$(cd "$root" && swift build -c release --show-bin-path)/nabla"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
. "$root/bench/interleave.sh"
cc -O2 -o "$work/sgemm_bound" "$root/bench/sgemm_bound.c" $(pkg-config --cflags --libs openblas)

peers=""
for p in numpy torch jax; do python3 -c "import $p" 2>/dev/null && peers="$peers $p"; done
echo "data: $data; $(nproc) cores; $rounds rounds of nabla and each of:${peers:- (no peer installed: bench/mnist.sh --install)}; $epochs epochs a run, the fastest counts"

# One nabla run: "seconds_per_epoch peak_kB test_accuracy".
run_nabla() {
    /usr/bin/time -f "%M" -o "$work/mem" "$nabla" mnist --data "$data" --epochs "$epochs" --batch 128 --opt sgd --lr 0.1 > "$work/out" 2>&1
    local t acc
    t="$(fastest_epoch "$work/out")"
    acc="$(grep '^test accuracy' "$work/out" | grep -oE '[0-9.]+')"
    echo "$t $(tail -1 "$work/mem") $acc"
}
# One peer run: "seconds_per_epoch peak_kB test_accuracy".
run_peer() {
    /usr/bin/time -f "%M" -o "$work/mem" python3 "$root/bench/mnist_peers.py" "$data" "$epochs" "$1" > "$work/out" 2>&1
    read -r _ t acc < "$work/out"
    echo "$t $(tail -1 "$work/mem") $(awk -v a="$acc" 'BEGIN{printf "%.2f", a*100}')"
}

interleave "$rounds" $peers
report $peers
bound="$("$work/sgemm_bound")"
tn="$(awk '$1=="nabla"{print $3}' "$work/runs" | median)"
echo "sgemm bound here: $bound; nabla's epoch is $(awk -v a="$tn" -v b="$(echo "$bound" | grep -oE '[0-9.]+ s' | grep -oE '[0-9.]+')" 'BEGIN{printf "%.2f", a/b}')x it"
