#!/usr/bin/env bash
# liveness_load.sh HELLO [N] [RUNS] — a world of N ranks (64) on this host, started RUNS times (2)
# while one busy loop per core keeps the CPU saturated: every rank completes its all_reduce, no
# link is declared cut (heartbeats starved by a loaded CPU are not evidence), and the whole job
# prints fewer than N warning lines. Kills only the busy loops it started.
set -u
HELLO=${1:?hello program}
N=${2:-64}
RUNS=${3:-2}
CLI=${TACL_CLI:?TACL_CLI not set}
out=$(mktemp -d)
hogs=()
cleanup() {
    for p in "${hogs[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$out"
}
trap cleanup EXIT
for _ in $(seq "$(nproc)"); do
    sh -c 'while :; do :; done' &
    hogs+=($!)
done
fail=0
for i in $(seq "$RUNS"); do
    log="$out/run$i"
    start=$(date +%s.%N)
    timeout 100 "$CLI" run -n "$N" -- "$HELLO" >"$log" 2>&1
    rc=$?
    took=$(echo "$(date +%s.%N) - $start" | bc)
    ok=$(grep -c 'all_reduce ok' "$log")
    cuts=$(grep -c ' cut' "$log")
    warns=$(grep -c ' WARN ' "$log")
    echo "run $i: $N ranks, exit $rc, $ok ranks ok, $cuts cut lines, $warns warnings, $took s"
    if [ "$rc" != 0 ] || [ "$ok" != "$N" ] || [ "$cuts" != 0 ] || [ "$warns" -ge "$N" ]; then
        echo "FAIL: run $i (first lines of its output follow)"
        grep -v 'all_reduce ok' "$log" | head -20
        fail=1
    fi
done
exit $fail
