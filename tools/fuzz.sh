#!/usr/bin/env bash
# Fuzzing with libFuzzer and AddressSanitizer (docs/reliability.md):
#
#   tools/fuzz.sh [RUNS] [line|data|npz|stdin ...]     # default: 200000 executions of each target
#
# line: text through the whole line path (lexer, parser, evaluation, commands), seeded by the
#       lessons, the examples and the docs' code (fuzz/seeds/line);
# data: files through the IDX reader and the weights loader (fuzz/seeds/data);
# npz:  the .npy member of a well-formed zip (right CRC-32 and sizes, stored and deflated);
# stdin: standard input, a statement at a time under a 4 KB script limit (fuzz/seeds/line).
# The corpus grows in a temporary folder; a crash, a hang (10 s) or an out-of-memory (2 GB)
# is saved under fuzz/crashes/ and ends the run with a failure. A crash that was fixed goes
# into fuzz/regressions/TARGET/, which the tests replay.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-200000}"
shift || true

[ $# -gt 0 ] && targets=("$@") || targets=(line data npz stdin)
"$root/scripts/ensure-deps"
(cd "$root" && swift build -c release --product nabla-fuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DNABLA_FUZZ >/dev/null)
bin="$root/.build-fuzz/release/nabla-fuzz"
mkdir -p "$root/fuzz/crashes"
status=0
for target in "${targets[@]}"; do
    work="$(mktemp -d)"
    seeds="$target"; [ "$target" = stdin ] && seeds=line; [ "$target" = npz ] && seeds=data
    cp "$root/fuzz/seeds/$seeds/"* "$root/fuzz/regressions/$target/"* "$work/" 2>/dev/null || true
    echo "== $target: $runs executions (corpus: $(ls "$work" | wc -l) seeds)"
    start=$(date +%s)
    if NABLA_FUZZ_TARGET="$target" "$bin" -runs="$runs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -artifact_prefix="$root/fuzz/crashes/$target-" -print_final_stats=1 "$work" > "$work.log" 2>&1; then
        echo "   no crash, no hang, no out-of-memory in $(( $(date +%s) - start )) s"
    else
        status=1
        echo "   FAILED: see $work.log and fuzz/crashes/"
    fi
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|cov:" "$work.log" | tail -3 | sed 's/^/   /' || true
    rm -rf "$work"
done
exit $status
