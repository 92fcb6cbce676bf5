#!/usr/bin/env bash
# The MNIST benchmark: a 784-256-10 MLP (ReLU, softmax cross-entropy), batch 128,
# SGD lr 0.1, one epoch over the 60,000 training images, seconds per epoch:
# nabla (release build) side by side with numpy, PyTorch CPU (2 threads) and JAX (jit).
#
#   bench/mnist.sh [--data DIR] [--epochs N] [--install]
#
# --data: the folder with the four MNIST files (default: ../shared/data/mnist, then
#         Debian's Fashion-MNIST); --install: pip install torch (CPU) and jax if missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data=""; epochs=2; install=0
while [ $# -gt 0 ]; do
    case "$1" in
        --data) data="$2"; shift ;;
        --epochs) epochs="$2"; shift ;;
        --install) install=1 ;;
        *) echo "usage: bench/mnist.sh [--data DIR] [--epochs N] [--install]" >&2; exit 2 ;;
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
(cd "$root" && swift build -c release --product nabla >/dev/null)
nabla="$(cd "$root" && swift build -c release --show-bin-path)/nabla"
echo "data: $data; $(nproc) cores; $epochs epochs, the fastest one counts"
script="$(mktemp)"
cat > "$script" <<NABLA
seed 1
:data mnist dir=$data
:mlp net 784-256-10 act=relu init=he
L = cross_entropy(net, Y)
:train L epochs=$epochs batch=128 opt=sgd lr=0.1 every=1
NABLA
out="$("$nabla" "$script")"
rm -f "$script"
# The per-epoch times: each progress line shows the cumulative time ("12.3 s").
nabla_epoch="$(echo "$out" | grep -E '^epoch ' | grep -oE '[0-9.]+ s( |$)' | awk '{print $1}' | awk 'NR==1{prev=0} {d=$1-prev; prev=$1; if (min=="" || d<min) min=d} END{printf "%.3f", min}')"
nabla_acc="$(echo "$out" | grep '^trained' | sed -E 's/.*test loss [^,]*, accuracy ([0-9.]+)%.*/\1/')"
printf "%-8s %8s %10s %8s\n" "" "s/epoch" "test acc" "ratio"
printf "%-8s %8s %9s%% %8s\n" nabla "$nabla_epoch" "$nabla_acc" "1.00"
python3 "$root/bench/mnist_peers.py" "$data" "$epochs" numpy torch jax | while read -r name t acc; do
    if [ "$t" = missing ]; then printf "%-8s %8s\n" "$name" "missing (bench/mnist.sh --install)"; continue; fi
    ratio="$(awk -v a="$t" -v b="$nabla_epoch" 'BEGIN{printf "%.2f", a/b}')"
    printf "%-8s %8s %9.2f%% %8s\n" "$name" "$t" "$(awk -v a="$acc" 'BEGIN{print a*100}')" "$ratio"
done
echo "(ratio: the peer's time over nabla's; above 1 means nabla is faster)"
