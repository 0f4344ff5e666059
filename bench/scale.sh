#!/usr/bin/env bash
# scale.sh — init-to-first-all_reduce and leave time of worlds of N ranks on this machine, with
# the sockets and shared-memory bytes each rank holds after its first all_reduce:
#
#   bash bench/scale.sh [BUILD_DIR]          (default build; SCALE_NS="8 16 32 64 128", SCALE_RUNS=3)
#
# Each run is `tacl run -n N -- scale_rank` (tests/mp/scale_rank.c). Per run it prints one
# markdown row: N, run, wall time of `tacl run`, init-to-first-all_reduce (earliest rank start
# to the last rank's first all_reduce), leave (from the last rank's call of tacl_comm_destroy
# to the last return: a rank that calls it early waits for the others, as MPI_Finalize does,
# and that wait is the spread of the ranks' arrivals, not leaving), sockets and shm
# MiB per rank (mean), warning lines and "cut" lines on stderr, and whether every rank
# printed the right sum. SCALE_RANK overrides the rank program (e.g. one built on another tree).
set -u
BUILD=${1:-build}
CLI=${TACL_CLI:-$BUILD/tools/tacl/tacl}
RANK=${SCALE_RANK:-$BUILD/tests/scale_rank}
NS=${SCALE_NS:-"8 16 32 64 128"}
RUNS=${SCALE_RUNS:-3}
LIMIT=${SCALE_LIMIT_S:-300}
SUMMARY="$(dirname "$0")/../scripts/scale_summary.awk"   # the per-rank arithmetic, shared with tests/mp/scale.sh
[ -x "$CLI" ] || { echo "scale.sh: no tacl CLI at $CLI (build first)" >&2; exit 1; }
[ -x "$RANK" ] || { echo "scale.sh: no rank program at $RANK (build the tests)" >&2; exit 1; }
[ -r "$SUMMARY" ] || { echo "scale.sh: cannot read $SUMMARY" >&2; exit 1; }
DIR=$(mktemp -d "/tmp/tacl-scale-$$-XXXXXX")
trap 'rm -rf "$DIR"' EXIT

echo "| N | run | tacl run s | init to first all_reduce s | leave s (last in to last out) | sockets/rank | shm MiB/rank | WARN lines | cut lines | ranks ok |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in $NS; do
    for run in $(seq 1 "$RUNS"); do
        t0=$(date +%s.%N)
        timeout -k 5 "$LIMIT" "$CLI" run -n "$n" -- "$RANK" >"$DIR/out" 2>"$DIR/err"
        rc=$?
        t1=$(date +%s.%N)
        warns=$(grep -c ' WARN ' "$DIR/err")
        cuts=$(grep ' WARN ' "$DIR/err" | grep -c ' cut')
        awk -v form=row -v n="$n" -v run="$run" -v wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" \
            -v warns="$warns" -v cuts="$cuts" -v rc="$rc" -f "$SUMMARY" "$DIR/out"
    done
done
