#!/usr/bin/env bash
# topo_bound.sh — all_reduce on graphs that are not full meshes against the same all_reduce
# over their one bottleneck link between two hosts (the cut bound of those graphs), in the same
# run on shaped network namespaces (tc tbf on every data link; the store on an unshaped
# management namespace). Needs root.
#   bash bench/topo_bound.sh [BUILD_DIR] [RATE] [MIB] [ITERS] [ROUNDS] [SHAPES]
#   (defaults: build 100mbit 16 3 3 "star line5 chainu")
# With b = RATE:
#   ref     two hosts A-B at b (the reference: every graph below has a cut of one link at b)
#   star    hub H and leaves A B C, every link at b
#   line5   A-B-C-D-E, every link at b
#   chainu  A-B at 2b, B-C at b (unequal links; the slow one is the cut)
# Rounds run every configuration once each, in turn, so that a change of load on the machine
# shifts all of them alike; each run is one warm-up then ITERS timed all_reduce calls of MIB
# MiB of float32 (the slowest rank's time; values checked). Prints one line per run, then per
# shape "ratio SHAPE BEST_RATIO MEAN_RATIO" (best over all runs of the shape / best of ref; the
# same for the means of the per-run means). TACL_TOPO_RANK: the rank binary (default
# BUILD_DIR/bench/topo_allreduce); TACL_CLI: the tacl CLI (for `tacl store`). TACL_BOUND_STOP=X
# ends the rounds early, from the second on, once every shape's best ratio is <= X (the test's
# use: more rounds only when the shared machine's load spoiled the first ones).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
rate=${2:-100mbit}
mib=${3:-16}
iters=${4:-3}
rounds=${5:-3}
shapes=${6:-"star line5 chainu"}
export TACL_SOURCE_DIR=${TACL_SOURCE_DIR:-$here}
# The ranks are started by hand: they need the job's secret (docs/SECURITY.md).
export TACL_STORE_TOKEN=${TACL_STORE_TOKEN:-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')}
cli=${TACL_CLI:-$build/tools/tacl/tacl}
rank_bin=${TACL_TOPO_RANK:-$build/bench/topo_allreduce}
source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
source "$here/bench/lib_topo.sh"
netns_init
[ -x "$cli" ] || netns_fail "no tacl CLI at $cli (build it, or set TACL_CLI)"
[ -x "$rank_bin" ] || netns_fail "no rank binary at $rank_bin (build topo_allreduce)"
bytes=$((mib * 1024 * 1024))
num=${rate%%[a-zA-Z]*}
unit=${rate#"$num"}
fast="$((num * 2))$unit"
out=$(mktemp -d)
trap 'rm -rf "$out"; netns_cleanup' EXIT
port=$((20000 + RANDOM % 10000))

# cluster NAME HOST... -- EDGE... : hosts NAME<HOST> and a management host NAMES linked to each
# (unshaped); EDGE is "A B [RATE]" (default: b).
declare -A HOSTS=()
cluster() {
    local name=$1 e
    shift
    local hs=()
    while [ "$1" != -- ]; do hs+=("$1"); shift; done
    shift
    netns_host "${name}S" "${hs[@]/#/$name}"
    for e in "$@"; do
        set -- $e
        netns_link "$name$1" "$name$2" "${3:-$rate}"
    done
    for e in "${hs[@]}"; do netns_link "${name}S" "$name$e"; done
    HOSTS[$name]="${hs[*]}"
}

# run NAME: one all_reduce run on cluster NAME (one rank per host); sets best, mean, algo.
run() {
    local name=$1
    topo_store "$cli" "$name"
    local hs
    read -ra hs <<<"${HOSTS[$name]}"
    rm -f "$out"/r*
    topo_ranks "$name" "bound-$$-$port" 120 "$out/r" "${hs[@]}" -- -- \
        "$rank_bin" bench "$bytes" "$iters"
    if [ "$topo_fails" != 0 ]; then
        cat "$out"/r* >&2
        netns_fail "$name: $topo_fails rank(s) failed"
    fi
    topo_result "$out/r0"
}

echo "# topo_bound: b = $rate, M = $mib MiB, $iters iterations x $rounds rounds; $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
cluster ref A B -- "A B"
for s in $shapes; do
    case $s in
    star) cluster star H A B C -- "H A" "H B" "H C" ;;
    line5) cluster line5 A B C D E -- "A B" "B C" "C D" "D E" ;;
    chainu) cluster chainu A B C -- "A B $fast" "B C" ;;
    *) netns_fail "unknown shape $s (star, line5, chainu)" ;;
    esac
done
declare -A BEST=() MEANS=()
# all_within X: 0 when every shape's best so far is <= X times the reference's best.
all_within() {
    local s
    for s in $shapes; do
        awk -v a="${BEST[$s]}" -v b="${BEST[ref]}" -v x="$1" 'BEGIN { exit !(a <= x * b) }' || return 1
    done
}
for ((k = 1; k <= rounds; k++)); do
    if [ "$k" -gt 2 ] && [ -n "${TACL_BOUND_STOP:-}" ] && all_within "$TACL_BOUND_STOP"; then
        echo "every ratio <= $TACL_BOUND_STOP after $((k - 1)) rounds: stopping"
        break
    fi
    for s in ref $shapes; do
        run "$s"
        printf 'round %d %-7s algo %-9s best %7.3f s  mean %7.3f s\n' "$k" "$s" "$algo" "$best" "$mean"
        if [ -z "${BEST[$s]:-}" ] || awk -v a="$best" -v b="${BEST[$s]}" 'BEGIN { exit !(a < b) }'; then
            BEST[$s]=$best
        fi
        MEANS[$s]="${MEANS[$s]:-} $mean"
    done
done
avg() { echo "$1" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.4f", s / NF }'; }
bound=$(awk -v m="$bytes" -v b="$(netns_rate_bytes "$rate")" 'BEGIN { printf "%.3f", m / b }')
echo "ref: best ${BEST[ref]} s, mean $(avg "${MEANS[ref]}") s; M/b = $bound s"
for s in $shapes; do
    awk -v s="$s" -v a="${BEST[$s]}" -v b="${BEST[ref]}" -v ma="$(avg "${MEANS[$s]}")" \
        -v mb="$(avg "${MEANS[ref]}")" 'BEGIN { printf "ratio %s %.3f %.3f\n", s, a / b, ma / mb }'
done
