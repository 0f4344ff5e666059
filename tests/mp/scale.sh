#!/usr/bin/env bash
# scale.sh — a world of N ranks on this machine: `scale.sh N BOUND_S SCALE_RANK` runs
# `tacl run -n N -- scale_rank` (tests/mp/scale_rank.c) and checks that every rank printed the
# right all_reduce sum, that the job succeeded within BOUND_S seconds (generous: it is a bound
# on hangs and on init that grows out of hand, not a benchmark), that no rank logged a "cut"
# link (no rank was stopped or unreachable), that the job logged fewer warning lines than it
# has ranks and that no rank but 0 (the store's host) holds more than 16 sockets. Prints the
# figures of bench/scale.sh for the record.
set -u
N=${1:?ranks}
BOUND=${2:?bound in seconds}
PROG=${3:?scale_rank path}
CLI=${TACL_CLI:?TACL_CLI not set}
SUMMARY="$(dirname "$0")/../../scripts/scale_summary.awk"   # the per-rank arithmetic, shared with bench/scale.sh
[ -r "$SUMMARY" ] || { echo "FAIL (N=$N): cannot read $SUMMARY" >&2; exit 1; }
DIR=$(mktemp -d "/tmp/tacl-scale-$$-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
# The launcher variables of whatever started this test must not leak into the ranks.
unset TACL_RANK TACL_WORLD_SIZE TACL_LOCAL_RANK TACL_LOCAL_WORLD_SIZE TACL_MASTER_ADDR \
    TACL_MASTER_PORT TACL_RUN_ID RANK WORLD_SIZE LOCAL_RANK LOCAL_WORLD_SIZE

fail() {
    echo "FAIL (N=$N): $*" >&2
    echo "--- stderr (first 40 lines):" >&2
    head -n 40 "$DIR/err" >&2
    exit 1
}

t0=$(date +%s.%N)
# tacl run stops every rank when one fails or when it is told to stop (timeout's TERM).
timeout -k 10 "$((BOUND + 30))" "$CLI" run -n "$N" -- "$PROG" >"$DIR/out" 2>"$DIR/err"
rc=$?
el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
[ "$rc" = 0 ] || fail "tacl run exited $rc after $el s"
want=$((N * (N + 1) / 2))
ok=$(grep -c "^scale rank=.* size=$N .* sum=$want ok\$" "$DIR/out")
[ "$ok" = "$N" ] || fail "$ok of $N ranks printed sum=$want"
ranks=$(sed -n 's/^scale rank=\([0-9]*\) .*/\1/p' "$DIR/out" | sort -n | uniq | wc -l)
[ "$ranks" = "$N" ] || fail "$ranks distinct ranks reported, expected $N"
awk -v a="$el" -v b="$BOUND" 'BEGIN { exit !(a < b) }' || fail "took $el s, bound $BOUND s"
cuts=$(grep ' WARN ' "$DIR/err" | grep -c ' cut')
[ "$cuts" = 0 ] || fail "$cuts lines report cut links (no rank was stopped or unreachable)"
warns=$(grep -c ' WARN ' "$DIR/err")
[ "$warns" -lt "$N" ] || fail "$warns warning lines for $N ranks"
# Connections are made when a pair first needs one: a rank holds its store connection, its
# listener, its links of the notice tree and the peers of its collectives, not one per rank of
# the world (rank 0 also serves the store: a connection per rank there).
socks=$(sed -n 's/^scale rank=\([1-9][0-9]*\) .* sockets=\([0-9]*\) .*/\2/p' "$DIR/out" | sort -n | tail -1)
[ "${socks:-0}" -le 16 ] || fail "a rank other than 0 holds $socks sockets (at most 16 expected)"
awk -v form=line -v n="$N" -v wall="$el" -v warns="$warns" -f "$SUMMARY" "$DIR/out"
