#!/usr/bin/env bash
# coll_cut.sh SHAPE — a link cut (netns_cut) in the middle of a long all_reduce loop
# (bench/topo_allreduce.c loop) must never hang:
#   chain  A-B-C, cut A-B: A is cut off, so every rank fails within seconds with
#          TACL_ERR_UNREACHABLE naming the link "link 0 (host A) - 1 (host B) cut" (or, on the
#          rank that saw it first, the peer it can no longer reach);
#   ring4  A-B-C-D-A, cut A-B: another path exists; every rank either completes the loop (the
#          engine rerouted) or fails naming the cut link — never a timeout, never a hang, and
#          all ranks agree on which of the two happened.
# Heartbeats every 0.3 s: a silent link is declared cut after about 1 s. TACL_TIMEOUT is 40 s,
# so a failure by timeout (a hang cut short) is told apart from cut detection.
set -u
source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
netns_init
shape=$1
case $shape in
chain) hosts=(A B C); edges=("A B" "B C") ;;
ring4) hosts=(A B C D); edges=("A B" "B C" "C D" "D A") ;;
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
        TACL_RUN_ID="cut-$$" TACL_TIMEOUT=40 TACL_STORE_TIMEOUT=20 TACL_PROBE_TIMEOUT=1 \
        TACL_HEARTBEAT=0.3 "$TACL_TOPO_RANK" loop 12 >"$out/rank$r" 2>&1
    pids+=("$NETNS_LAST_PID")
    r=$((r + 1))
done
# Cut once every rank is inside the loop.
for ((i = 0; i < 200; i++)); do
    k=0
    for ((q = 0; q < n; q++)); do grep -q looping "$out/rank$q" 2>/dev/null && k=$((k + 1)); done
    [ "$k" = "$n" ] && break
    sleep 0.1
done
[ "$k" = "$n" ] || { cat "$out"/rank*; netns_fail "ranks did not all start looping"; }
sleep 0.5
cut_at=$(date +%s.%N)
netns_cut A B
echo "cut A-B at $cut_at"
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
cat "$out"/rank*
errors=$(cat "$out"/rank* | grep -c ": error at ")
completed=$(cat "$out"/rank* | grep -c "completed")
! grep -q "TACL_ERR_TIMEOUT" "$out"/rank* || netns_fail "a rank timed out instead of seeing the cut"
if [ "$shape" = chain ]; then
    [ "$errors" = "$n" ] || netns_fail "$errors of $n ranks reported an error, expected all"
else
    [ "$errors" = "$n" ] || [ "$completed" = "$n" ] ||
        netns_fail "ranks disagree: $errors failed, $completed completed"
fi
if [ "$errors" -gt 0 ]; then
    for ((q = 0; q < n; q++)); do
        line=$(grep ": error at " "$out/rank$q") || netns_fail "rank $q: no error line"
        echo "$line" | grep -q "TACL_ERR_UNREACHABLE\|TACL_ERR_PEER_LOST" ||
            netns_fail "rank $q: unexpected status: $line"
        echo "$line" | grep -q "link 0 (host A) - 1 (host B) cut" ||
            netns_fail "rank $q: the error does not name the cut link: $line"
        t=$(echo "$line" | sed 's/.*error at \([0-9.]*\).*/\1/')
        # Detection within seconds (heartbeat 0.3 s; generous for a loaded 2-core machine).
        awk -v t="$t" -v c="$cut_at" 'BEGIN { exit !(t - c < 15) }' ||
            netns_fail "rank $q: error $(awk -v t="$t" -v c="$cut_at" 'BEGIN{print t-c}') s after the cut"
    done
    echo "$shape: every rank failed naming the cut link"
else
    echo "$shape: every rank completed over the remaining links"
fi
exit 0
