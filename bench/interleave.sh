# Shared by bench/mnist.sh and bench/cnn.sh (sourced, not run): the rounds that interleave
# nabla with each peer, and the table of medians. The caller defines run_nabla and run_peer,
# each printing "seconds_per_epoch peak_kB test_accuracy", and sets $work.

# The fastest epoch of nabla's progress lines (each shows the cumulative time after the last
# percentage, "acc 91.29%  9.07 s"; an "ETA 1 min 22 s" after it and the status lines within
# a long epoch, "21% of the epoch: ...", are not times to take).
fastest_epoch() {
    grep -E '^epoch ' "$1" | grep -v 'of the epoch' | sed -nE 's/.*%  ([0-9.]+) s( .*|$)/\1/p' \
        | awk -v f="$1" 'NR==1{prev=0} {d=$1-prev; prev=$1; if (min=="" || d<min) min=d}
               END{if (NR==0) {print "no epoch line with its time in " f > "/dev/stderr"; exit 1} printf "%.3f", min}'
}

median() { sort -g | awk '{a[NR]=$1} END{if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# interleave ROUNDS PEERS...: each round runs nabla, then a peer, for every peer; the lines go
# to $work/runs as "name round seconds peak_kB accuracy ratio".
interleave() {
    local rounds="$1"; shift
    : > "$work/runs"
    for r in $(seq 1 "$rounds"); do
        for p in "$@"; do
            read -r tn mn an <<< "$(run_nabla)"
            read -r tp mp ap <<< "$(run_peer "$p")"
            echo "nabla $r $tn $mn $an 1" >> "$work/runs"
            echo "$p $r $tp $mp $ap $(awk -v a="$tp" -v b="$tn" 'BEGIN{printf "%.3f", a/b}')" >> "$work/runs"
            echo "  round $r: nabla $tn s, $p $tp s"
        done
        [ $# -gt 0 ] || { read -r tn mn an <<< "$(run_nabla)"; echo "nabla $r $tn $mn $an 1" >> "$work/runs"; }
    done
}

# report PEERS...: the medians of every contender, side by side.
report() {
    printf "\n%-8s %9s %10s %12s %10s\n" "" "s/epoch" "test acc" "peer/nabla" "peak MB"
    for name in nabla "$@"; do
        local t ratio mem acc
        t="$(awk -v n="$name" '$1==n{print $3}' "$work/runs" | median)"
        ratio="$(awk -v n="$name" '$1==n{print $6}' "$work/runs" | median)"
        mem="$(awk -v n="$name" '$1==n{print $4/1024}' "$work/runs" | median)"
        acc="$(awk -v n="$name" '$1==n{print $5}' "$work/runs" | median)"
        printf "%-8s %9s %9s%% %12s %10.0f\n" "$name" "$t" "$acc" "$ratio" "$mem"
    done
    echo "(s/epoch and peak memory: medians over the rounds; peer/nabla: the median of each round's"
    echo " ratio of the peer's epoch to the nabla run just before it; above 1 means nabla is faster)"
}
