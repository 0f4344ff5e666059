#!/usr/bin/env bash
# topo_measure.sh — TACL_TOPO_MEASURE=1 on a chain A-B-C whose links are shaped with tbf to
# 100 Mbit/s (A-B) and 400 Mbit/s (B-C): every rank ends init with the same measured matrix
# (all-gathered), exactly the two linked pairs appear, and the 4x slower link measures slower
# (by at least 2x, far from the noise; the figures themselves are not asserted).
set -u
source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
netns_init
hosts=(A B C)
netns_host S "${hosts[@]}"
netns_link A B 100mbit
netns_link B C 400mbit
for h in "${hosts[@]}"; do netns_link S "$h"; done
out=$(mktemp -d)
trap 'rm -rf "$out"; netns_cleanup' EXIT
port=$((20000 + RANDOM % 20000))
netns_bg S "$TACL_CLI" store --port "$port"
sleep 0.3
pids=()
r=0
for h in "${hosts[@]}"; do
    netns_bg "$h" env TACL_RANK=$r TACL_WORLD_SIZE=3 TACL_HOST_ID="$h" \
        TACL_MASTER_ADDR="$(netns_addr S "$h")" TACL_MASTER_PORT=$port TACL_RUN_ID="meas-$$" \
        TACL_TIMEOUT=60 TACL_PROBE_TIMEOUT=1 TACL_TOPO_MEASURE=1 TACL_LOG=info \
        "$TACL_TOPO_RANK" measure >"$out/rank$r" 2>"$out/log$r"
    pids+=("$NETNS_LAST_PID")
    r=$((r + 1))
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
cat "$out"/rank* "$out"/log0
[ "$fails" = 0 ] || netns_fail "$fails rank(s) failed"
for q in 0 1 2; do sed 's/^rank [0-9]*: //' "$out/rank$q" >"$out/m$q"; done
cmp -s "$out/m0" "$out/m1" && cmp -s "$out/m0" "$out/m2" ||
    netns_fail "ranks hold different measured matrices"
[ "$(grep -c '^link' "$out/m0")" = 2 ] || netns_fail "expected the 2 links of the chain"
grep -q '^link 0-1 ' "$out/m0" && grep -q '^link 1-2 ' "$out/m0" || netns_fail "links 0-1, 1-2 missing"
ab=$(awk '/^link 0-1 /{print $3}' "$out/m0")
bc=$(awk '/^link 1-2 /{print $3}' "$out/m0")
awk -v a="$ab" -v b="$bc" 'BEGIN { exit !(a > 0 && b > 2 * a) }' ||
    netns_fail "A-B (100 Mbit/s) measured $ab B/s, B-C (400 Mbit/s) $bc B/s: expected B-C > 2x A-B"
grep -q "links measured in" "$out/log0" || netns_fail "rank 0 did not log the measurement"
echo "measured: A-B $ab B/s, B-C $bc B/s"
