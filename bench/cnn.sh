#!/usr/bin/env bash
# The convnet benchmark: the course's simple convolutional network on MNIST (conv 20 5x5,
# ReLU, max-pool 2; conv 40 5x5, ReLU, max-pool 2; dense 640-100 ReLU; dense 100-10;
# cross-entropy; SGD lr 0.05, batch 64, float32), seconds per epoch: nabla (release build)
# against PyTorch CPU (2 threads) and JAX (jit), interleaved as bench/mnist.sh does (nabla,
# PyTorch, nabla, JAX, ... for R rounds), with every contender's peak memory.
#
#   bench/cnn.sh [--data DIR] [--epochs N] [--rounds R] [--count N] [--install]
#
# Each run trains N epochs (default 2; the fastest counts, so JAX's compilation is not timed).
# --count: train on the first N images (default: all 60,000). X holds 64 images (hold=64): the
# definitions stay quick and the peak memory is the training, not the float64 live graph.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data=""; epochs=2; rounds=1; count=""; install=0
while [ $# -gt 0 ]; do
    case "$1" in
        --data) data="$2"; shift ;;
        --epochs) epochs="$2"; shift ;;
        --rounds) rounds="$2"; shift ;;
        --count) count="$2"; shift ;;
        --install) install=1 ;;
        *) echo "usage: bench/cnn.sh [--data DIR] [--epochs N] [--rounds R] [--count N] [--install]" >&2; exit 2 ;;
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
    python3 -c 'import torch' 2>/dev/null || pip install -q torch || echo "could not install torch" >&2
    python3 -c 'import jax' 2>/dev/null || pip install -q 'jax[cpu]' || echo "could not install jax" >&2
fi
"$root/scripts/ensure-deps"
(cd "$root" && swift build -c release --product nabla >/dev/null)
nabla="$(cd "$root" && swift build -c release --show-bin-path)/nabla"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
. "$root/bench/interleave.sh"
cat > "$work/cnn.nabla" <<NABLA
seed 1
:data mnist dir=$data $count hold=64
param K1 = he(20, 1, 5, 5)
param c1 = zeros(20, 1, 1)
param K2 = he(40, 20, 5, 5)
param c2 = zeros(40, 1, 1)
param W3 = randn(640, 100) * 0.0559
param b3 = zeros(100)
param W4 = randn(100, 10) * 0.1
param b4 = zeros(10)
h1 = maxpool(relu(conv2d(reshape(X, -1, 1, 28, 28), K1) + c1), 2)
h2 = maxpool(relu(conv2d(h1, K2) + c2), 2)
z = relu(flatten(h2) @ W3 + b3) @ W4 + b4
L = cross_entropy(z, Y)
:train L epochs=$epochs batch=64 opt=sgd lr=0.05 every=1 precision=f32
NABLA
peers=""
for p in torch jax; do python3 -c "import $p" 2>/dev/null && peers="$peers $p"; done
echo "data: $data; $(nproc) cores; $rounds round(s) of nabla and each of:${peers:- (no peer installed: bench/cnn.sh --install)}; $epochs epoch(s) a run"

run_nabla() {
    /usr/bin/time -f "%M" -o "$work/mem" "$nabla" "$work/cnn.nabla" > "$work/out" 2>&1
    local t acc
    t="$(fastest_epoch "$work/out")"
    acc="$(grep '^trained' "$work/out" | sed -E 's/.*test loss [^,]*, accuracy ([0-9.]+)%.*/\1/')"
    echo "$t $(tail -1 "$work/mem") $acc"
}
run_peer() {
    /usr/bin/time -f "%M" -o "$work/mem" python3 "$root/bench/cnn_peers.py" "$data" "$epochs" "${count:-0}" "$1" > "$work/out" 2>&1
    read -r _ t acc < "$work/out"
    echo "$t $(tail -1 "$work/mem") $(awk -v a="$acc" 'BEGIN{printf "%.2f", a*100}')"
}
interleave "$rounds" $peers
report $peers
