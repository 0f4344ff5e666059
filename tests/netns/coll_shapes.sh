#!/usr/bin/env bash
# coll_shapes.sh SHAPE — ranks on network-namespace hosts wired as SHAPE run every collective
# with checked values (test_coll --env), then a routed send from the first rank to the last
# while the ranks between sleep in application code (test_coll --env routed).
# coll_shapes.sh SHAPE counts — instead, v-variant and point-to-point counts that disagree
# between ranks (test_coll_errors --env counts, binary in TACL_TEST_COLL_ERRORS).
#   chain        A-B-C, one rank per host (A cannot reach C)
#   chain2       A-B-C, two ranks per host (shm inside a host, tcp across)
#   ring4        a 4-host ring A-B-C-D-A with the D-A edge cut
#   star         B linked to A, C, D, E
#   line5        A-B-C-D-E
#   disconnected A-B and C-D: init fails on every rank, naming both components
# The store runs in a separate namespace S linked to every host (a management network; S
# does not forward, so it adds no path between hosts); the data links are the SHAPE's.
set -u
source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
netns_init
shape=$1
case $shape in
chain | chain2) hosts=(A B C); edges=("A B" "B C") ;;
ring4) hosts=(A B C D); edges=("A B" "B C" "C D" "D A") ;;
star) hosts=(A B C D E); edges=("B A" "B C" "B D" "B E") ;;
line5) hosts=(A B C D E); edges=("A B" "B C" "C D" "D E") ;;
disconnected) hosts=(A B C D); edges=("A B" "C D") ;;
*) netns_fail "unknown shape $shape" ;;
esac
per=1
[ "$shape" = chain2 ] && per=2
netns_host S "${hosts[@]}"
for e in "${edges[@]}"; do netns_link $e; done
for h in "${hosts[@]}"; do netns_link S "$h"; done
[ "$shape" = ring4 ] && netns_cut D A

port=$((20000 + RANDOM % 20000))
netns_bg S "$TACL_CLI" store --port "$port"
sleep 0.3

n=$((${#hosts[@]} * per))
run() { # run MODE: start every rank, wait, count failures into $fail
    local mode=$1 r=0 pids=()
    for h in "${hosts[@]}"; do
        for ((l = 0; l < per; l++)); do
            netns_bg "$h" env TACL_RANK=$r TACL_WORLD_SIZE=$n TACL_LOCAL_RANK=$l \
                TACL_LOCAL_WORLD_SIZE=$per TACL_MASTER_ADDR="$(netns_addr S "$h")" \
                TACL_MASTER_PORT=$port TACL_RUN_ID="netns-$$-$mode" TACL_TIMEOUT=60 \
                TACL_STORE_TIMEOUT=20 TACL_PROBE_TIMEOUT=1 "$TACL_TEST_COLL" --env $mode
            pids+=("$NETNS_LAST_PID")
            r=$((r + 1))
        done
    done
    fail=0
    for p in "${pids[@]}"; do wait "$p" || fail=$((fail + 1)); done
}

if [ "$shape" = disconnected ]; then
    out=$(mktemp)
    trap 'rm -f "$out"; netns_cleanup' EXIT
    run all >"$out" 2>&1
    [ "$fail" = "$n" ] || netns_fail "$shape: $fail of $n ranks failed init, expected all"
    grep -q "TACL_ERR_DISCONNECTED" "$out" || netns_fail "no TACL_ERR_DISCONNECTED in output"
    grep -q "2 components: {0 (" "$out" || netns_fail "components not listed: $(head -5 "$out")"
    echo "$shape: every rank failed init listing the components"
    exit 0
fi
if [ "${2:-}" = counts ]; then
    TACL_TEST_COLL=$TACL_TEST_COLL_ERRORS run counts
    [ "$fail" = 0 ] || netns_fail "$shape: $fail of $n ranks failed the count mismatch checks"
    echo "$shape: count mismatches fail both ranks of each pair on $n ranks"
    exit 0
fi
run all
[ "$fail" = 0 ] || netns_fail "$shape: $fail of $n ranks failed the collectives"
run routed
[ "$fail" = 0 ] || netns_fail "$shape: $fail of $n ranks failed the routed send"
echo "$shape: collectives and routed send ok on $n ranks"
