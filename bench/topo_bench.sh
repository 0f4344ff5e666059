#!/usr/bin/env bash
# topo_bench.sh — all_reduce schedules on shaped network-namespace clusters (tc tbf on every
# data link, so that the timings measure the schedule, not the 2 CPUs). Needs root.
#   bash bench/topo_bench.sh [BUILD_DIR] [RATE] [MIB] [ITERS]      (defaults: build 300mbit 64 3)
# Shapes, each link at RATE = b unless said otherwise; M = MIB MiB of float32:
#   chain3  A-B-C: default (tree at B) vs ring relayed through B (TACL_ALGO=allreduce:ring);
#           bound M/b; ring model 4M/(3b)
#   mesh4   4-host full mesh: default vs ring (TACL_ALGO=allreduce:ring)
#   line5   A-B-C-D-E: default (tree at C) vs bound M/b, and the relayed ring
#   kite4   triangle A-B-C at b plus C-D at 2b (no Hamiltonian cycle; links measured at init,
#           TACL_TOPO_MEASURE=1): default (multi-tree) vs one tree (TACL_ALGO=allreduce:tree);
#           bound M/(2b) (cut), packing model M/(1.5b); the same for broadcast from C
# Prints one line per run (best and mean of ITERS after one warm-up) and the ratios.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
rate=${2:-300mbit}
mib=${3:-64}
iters=${4:-3}
export TACL_SOURCE_DIR=$here
# The ranks are started by hand: they need the job's secret (docs/SECURITY.md).
export TACL_STORE_TOKEN=${TACL_STORE_TOKEN:-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')}
TACL_CLI=$build/tools/tacl/tacl
[ -x "$TACL_CLI" ] || TACL_CLI=$(find "$build" -name tacl -type f -perm -u+x | head -1)
rank_bin=$build/bench/topo_allreduce
[ -x "$rank_bin" ] || { echo "build $rank_bin first" >&2; exit 1; }
source "$here/tests/netns/lib.sh"
source "$here/bench/lib_topo.sh"
netns_init
bytes=$((mib * 1024 * 1024))
bps=$(netns_rate_bytes "$rate")
half=${rate%%[a-zA-Z]*}
double_rate="$((half * 2))${rate#"$half"}"
out=$(mktemp -d)
trap 'rm -rf "$out"; netns_cleanup' EXIT
port=$((20000 + RANDOM % 20000))
echo "# topo_bench: rate $rate ($bps B/s per direction), M = $mib MiB, $iters iterations"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(lscpu | grep 'Model name' | sed 's/ *Model name: *//')"

# cluster NAME HOST... -- EDGE... : fresh hosts (prefixed by NAME) and shaped edges ("A B [rate]").
declare -a H
cluster() {
    local name=$1
    shift
    H=()
    while [ "$1" != -- ]; do H+=("$1"); shift; done
    shift
    netns_host "${name}S" "${H[@]/#/$name}"
    local e
    for e in "$@"; do
        set -- $e
        netns_link "$name$1" "$name$2" "${3:-$rate}"
    done
    for e in "${H[@]}"; do netns_link "${name}S" "$name$e"; done
}

# run NAME LABEL ENV... : the ranks of cluster NAME (one per host), prints rank 0's line.
# OP (environment of the script, default all_reduce) picks the collective.
OP=all_reduce
run() {
    local name=$1 label=$2
    shift 2
    topo_store "$TACL_CLI" "$name"
    sleep 0.3
    topo_ranks "$name" "bench-$$-$port" 300 "$out/" "${H[@]}" -- "$@" -- \
        "$rank_bin" bench "$bytes" "$iters" "$OP"
    if [ "$topo_fails" != 0 ]; then
        echo "$name $label: $topo_fails rank(s) failed" >&2
        cat "$out"/* >&2
        return 1
    fi
    topo_result "$out/0"
    printf '%-7s %-26s algo %-9s best %7.3f s  mean %7.3f s\n' "$name" "$label" "$algo" "$best" "$mean"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

bound=$(awk -v m="$bytes" -v b="$bps" 'BEGIN { printf "%.3f", m / b }')
cluster ch A B C -- "A B" "B C"
run ch "default" || exit 1
t_tree=$best
run ch "ring (relayed via B)" TACL_ALGO=allreduce:ring || exit 1
t_ring=$best
ring_model=$(awk -v m="$bytes" -v b="$bps" 'BEGIN { printf "%.3f", 4 * m / (3 * b) }')
echo "chain3: bound M/b = $bound s, ring model 4M/(3b) = $ring_model s; tree/bound $(ratio "$t_tree" "$bound"), ring/bound $(ratio "$t_ring" "$bound"), ring/tree $(ratio "$t_ring" "$t_tree")"

cluster me A B C D -- "A B" "A C" "A D" "B C" "B D" "C D"
run me "default" || exit 1
t_def=$best
run me "ring" TACL_ALGO=allreduce:ring || exit 1
t_ring=$best
ring_model=$(awk -v m="$bytes" -v b="$bps" 'BEGIN { printf "%.3f", 1.5 * m / b }')
echo "mesh4: ring model 2(n-1)/n M/b = $ring_model s; default/ring $(ratio "$t_def" "$t_ring")"

cluster li A B C D E -- "A B" "B C" "C D" "D E"
run li "default" || exit 1
t_tree=$best
run li "ring (relayed)" TACL_ALGO=allreduce:ring || exit 1
t_ring=$best
echo "line5: bound M/b = $bound s; tree/bound $(ratio "$t_tree" "$bound"), ring/bound $(ratio "$t_ring" "$bound")"

cluster ki A B C D -- "A B" "B C" "A C" "C D $double_rate"
run ki "default (measured links)" TACL_TOPO_MEASURE=1 || exit 1
t_mt=$best
run ki "one tree" TACL_TOPO_MEASURE=1 TACL_ALGO=allreduce:tree || exit 1
t_tree=$best
kb=$(awk -v m="$bytes" -v b="$bps" 'BEGIN { printf "%.3f", m / (2 * b) }')
km=$(awk -v m="$bytes" -v b="$bps" 'BEGIN { printf "%.3f", m / (1.5 * b) }')
OP=broadcast
run ki "broadcast default" TACL_TOPO_MEASURE=1 || exit 1
t_bmt=$best
run ki "broadcast one tree" TACL_TOPO_MEASURE=1 TACL_ALGO=broadcast:tree || exit 1
t_btree=$best
OP=all_reduce
echo "kite4 broadcast from C: multitree/tree $(ratio "$t_bmt" "$t_btree")"
echo "kite4: cut bound M/(2b) = $kb s, packing model M/(1.5b) = $km s, one tree M/b = $bound s; multitree/tree $(ratio "$t_mt" "$t_tree"), multitree/model $(ratio "$t_mt" "$km")"
