#!/usr/bin/env bash
# coll_agree.sh SHAPE — calls the ranks disagree on, with each rank on its own host
# (tests/mp/test_coll_errors.c agree-rank: root, collective, count, dtype and op mismatches, one
# rank rejecting its own call): every rank fails within seconds naming the rank and field, and
# the next call on the same communicator gives right values.
#   mesh   A, B, C all linked (tcp between every pair);
#   chain  A-B-C (A and C talk through B: routed messages, trees at the centre).
# TACL_TIMEOUT is 60 s and each case asserts less than 10 s, so a hang cut short by the
# timeout fails the test.
set -u
source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
netns_init
shape=$1
case $shape in
mesh) hosts=(A B C); edges=("A B" "B C" "A C") ;;
chain) hosts=(A B C); edges=("A B" "B C") ;;
*) netns_fail "unknown shape $shape" ;;
esac
netns_host S "${hosts[@]}"
for e in "${edges[@]}"; do netns_link $e; done
for h in "${hosts[@]}"; do netns_link S "$h"; done
out=$(mktemp -d)
trap 'rm -rf "$out"; netns_cleanup' EXIT

port=$((20000 + RANDOM % 20000))
netns_bg S "$TACL_CLI" store --port "$port"
sleep 0.3
n=${#hosts[@]}
pids=()
r=0
for h in "${hosts[@]}"; do
    netns_bg "$h" env TACL_RANK=$r TACL_WORLD_SIZE=$n TACL_HOST_ID="$h" \
        TACL_MASTER_ADDR="$(netns_addr S "$h")" TACL_MASTER_PORT=$port \
        TACL_RUN_ID="agree-$$" TACL_TIMEOUT=60 TACL_STORE_TIMEOUT=20 TACL_PROBE_TIMEOUT=1 \
        "$TACL_TEST_COLL_ERRORS" agree-rank >"$out/rank$r" 2>&1
    pids+=("$NETNS_LAST_PID")
    r=$((r + 1))
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
cat "$out"/rank*
[ "$fails" = 0 ] || netns_fail "$fails of $n ranks failed"
for ((q = 0; q < n; q++)); do
    grep -q "every disagreement failed on every rank" "$out/rank$q" ||
        netns_fail "rank $q did not finish its cases"
done
echo "$shape: every disagreement failed on every rank within seconds"
exit 0
