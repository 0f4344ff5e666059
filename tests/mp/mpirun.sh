#!/usr/bin/env bash
# mpirun.sh — `mpirun --allow-run-as-root --oversubscribe -np 3 mpirun_check`: every rank's
# bootstrap matches Open MPI's variables, and the three ranks are 0, 1, 2 of one job. Exits 77
# when mpirun is not installed.
set -u
CHECKER=${1:?mpirun_check path}
command -v mpirun >/dev/null || { echo "SKIP: mpirun not installed (Debian: openmpi-bin)" >&2; exit 77; }
OUT=$(mktemp "/tmp/tacl-mpirun-$$-XXXXXX")
trap 'rm -f "$OUT"' EXIT
# The launcher variables of whatever started this test must not leak into the ranks.
unset TACL_RANK TACL_WORLD_SIZE TACL_LOCAL_RANK TACL_LOCAL_WORLD_SIZE TACL_MASTER_ADDR \
    TACL_MASTER_PORT TACL_RUN_ID RANK WORLD_SIZE LOCAL_RANK LOCAL_WORLD_SIZE
timeout 60 mpirun --allow-run-as-root --oversubscribe -np 3 "$CHECKER" >"$OUT" 2>&1 || {
    echo "FAIL: mpirun exited $?" >&2
    cat "$OUT" >&2
    exit 1
}
cat "$OUT"
ranks=$(sed -n 's/^ok rank \([0-9]*\) of 3 local \([0-9]*\) of 3 run .*/\1 \2/p' "$OUT" | sort)
[ "$ranks" = "$(printf '0 0\n1 1\n2 2')" ] || { echo "FAIL: ranks seen: $ranks" >&2; exit 1; }
[ "$(sed -n 's/^ok .* run //p' "$OUT" | sort -u | wc -l)" = 1 ] || { echo "FAIL: run ids differ" >&2; exit 1; }
