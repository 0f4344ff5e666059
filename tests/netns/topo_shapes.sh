#!/usr/bin/env bash
# topo_shapes.sh SHAPE — every collective with checked values (test_coll --env) on namespace
# hosts whose schedule comes from a topology file (TACL_TOPO_FILE, hosts named by
# TACL_HOST_ID), and the schedule log checked:
#   meshchain  A, B, C wired as a full mesh, the file declares the chain A-B-C: the A-C link
#              is not used (tree at B, A-C traffic routed through B)
#   kite       triangle A-B-C plus C-D, the file declares the triangle at 1 Gb/s and C-D at
#              2 Gb/s: all_reduce runs on the multi-tree packing (the selector's log)
#   fullchain  the chain A-B-C with TACL_TOPO=full (trust a full mesh: no short probe
#              timeout, every pair must connect): init fails on every rank naming A and C
set -u
source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
netns_init
shape=$1
out=$(mktemp -d)
trap 'rm -rf "$out"; netns_cleanup' EXIT
case $shape in
meshchain)
    hosts=(A B C); edges=("A B" "B C" "A C")
    printf 'hosts: [{name: A}, {name: B}, {name: C}]\nlinks:\n  - {path: [A, B, C], bandwidth: 1Gbps}\n' >"$out/topo.yaml"
    want="schedule all_reduce: tree"
    ;;
kite)
    hosts=(A B C D); edges=("A B" "B C" "A C" "C D")
    printf 'hosts: [{name: A}, {name: B}, {name: C}, {name: D}]\nlinks:\n  - {path: [A, B, C, A], bandwidth: 1Gbps}\n  - {hosts: [C, D], bandwidth: 2Gbps}\n' >"$out/topo.yaml"
    want="all_reduce of [0-9]* to [0-9]* bytes: multitree"
    ;;
fullchain)
    hosts=(A B C); edges=("A B" "B C")
    want="TACL_TOPO=full but rank 0 (host A) cannot connect to rank 2 (host C)"
    ;;
*) netns_fail "unknown shape $shape" ;;
esac
topo_env=(TACL_TOPO_FILE="$out/topo.yaml")
[ "$shape" = fullchain ] && topo_env=(TACL_TOPO=full TACL_TIMEOUT=5)
netns_host S "${hosts[@]}"
for e in "${edges[@]}"; do netns_link $e; done
for h in "${hosts[@]}"; do netns_link S "$h"; done
port=$((20000 + RANDOM % 20000))
netns_bg S "$TACL_CLI" store --port "$port"
sleep 0.3
n=${#hosts[@]}
pids=()
r=0
for h in "${hosts[@]}"; do
    netns_bg "$h" env TACL_RANK=$r TACL_WORLD_SIZE=$n TACL_HOST_ID="$h" \
        TACL_MASTER_ADDR="$(netns_addr S "$h")" TACL_MASTER_PORT=$port TACL_RUN_ID="ts-$$" \
        TACL_TIMEOUT=60 TACL_STORE_TIMEOUT=20 TACL_PROBE_TIMEOUT=1 "${topo_env[@]}" \
        TACL_LOG=info TACL_LOG_SUBSYS=topo,coll "$TACL_TEST_COLL" --env >"$out/rank$r" 2>&1
    pids+=("$NETNS_LAST_PID")
    r=$((r + 1))
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=$((fail + 1)); done
if [ "$shape" = fullchain ]; then
    [ "$fail" = "$n" ] || { cat "$out"/rank*; netns_fail "$fail of $n ranks failed init, expected all"; }
    for ((q = 0; q < n; q++)); do
        grep -q "$want" "$out/rank$q" || { cat "$out/rank$q"; netns_fail "rank $q: no '$want'"; }
    done
    echo "$shape: every rank failed init naming the pair"
    exit 0
fi
[ "$fail" = 0 ] || { cat "$out"/rank*; netns_fail "$shape: $fail of $n ranks failed the collectives"; }
grep -q "$want" "$out/rank0" || { cat "$out/rank0"; netns_fail "$shape: no '$want' in rank 0's log"; }
grep "schedule all_reduce" "$out/rank0" | cut -c1-300
echo "$shape: collectives ok on $n ranks, schedule as declared"
