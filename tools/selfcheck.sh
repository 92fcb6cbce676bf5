#!/usr/bin/env bash
# The long run of random programs against finite differences (docs/reliability.md):
#
#   tools/selfcheck.sh [PROGRAMS] [FIRST_SEED]      # default: 100000 programs from seed 1
#
# Builds nabla in release mode and runs `nabla selfcheck`, which prints its figures every
# 10,000 programs and at the end, and each failure shrunk to a small program.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/ensure-deps"
(cd "$root" && swift build -c release --product nabla >/dev/null)
exec "$(cd "$root" && swift build -c release --show-bin-path)/nabla" selfcheck --programs "${1:-100000}" --seed "${2:-1}"
