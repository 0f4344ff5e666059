#!/usr/bin/env bash
# topo_measure_local.sh HELLO — TACL_TOPO_MEASURE on one host, through `tacl run`: beyond
# TACL_TOPO_MEASURE_MAX_RANKS nothing is measured and rank 0 warns with the count and the limit
# (the job still runs: hello checks its all_reduce); at 3 ranks every link is logged; at 34 ranks
# (561 links) rank 0 logs one summary line (count, spread, slowest link) instead of each link.
set -u
HELLO=${1:?hello path}
CLI=${TACL_CLI:?TACL_CLI not set}
DIR=$(mktemp -d "/tmp/tacl-meas-$$-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
fail() {
    echo "FAIL: $*" >&2
    head -c 3000 "$DIR/err" >&2
    exit 1
}
run() { # N, extra env...
    local n=$1
    shift
    env TACL_TOPO_MEASURE=1 TACL_TOPO_MEASURE_BYTES=4096 TACL_LOG=info TACL_TIMEOUT=120 "$@" \
        "$CLI" run -n "$n" -- "$HELLO" >"$DIR/out" 2>"$DIR/err" || fail "$n ranks: exit $?"
    [ "$(grep -c 'all_reduce ok' "$DIR/out")" = "$n" ] || fail "$n ranks: not every rank ran"
}

run 3 TACL_TOPO_MEASURE_MAX_RANKS=2
grep -q "TACL_TOPO_MEASURE: links not measured: 3 ranks is more than TACL_TOPO_MEASURE_MAX_RANKS=2" \
    "$DIR/err" || fail "no warning beyond the limit"
[ "$(grep -c 'links not measured' "$DIR/err")" = 1 ] || fail "the warning is rank 0's alone"
! grep -q "links measured in" "$DIR/err" || fail "measured beyond the limit"

run 3
grep -q "links measured in" "$DIR/err" || fail "3 ranks: nothing measured"
[ "$(grep -cE '  link [0-9]+-[0-9]+: .* MB/s, latency' "$DIR/err")" = 3 ] ||
    fail "3 ranks: expected the 3 links listed"

run 34
grep -q "links measured in" "$DIR/err" || fail "34 ranks: nothing measured"
grep -qE "  561 links: bandwidth min [0-9.e+]+, median [0-9.e+]+, max [0-9.e+]+ MB/s; latency min .* slowest link [0-9]+-[0-9]+ \(" \
    "$DIR/err" || fail "34 ranks: no summary line"
! grep -qE '  link [0-9]+-[0-9]+: ' "$DIR/err" || fail "34 ranks: links listed one by one"
echo "topo_measure_local: passed"
