#!/usr/bin/env bash
# doctor.sh — `tacl doctor --local 4` on one host: every pair linked (full-mesh verdict on one
# host), latency and bandwidth measured for all 6 pairs, every smoke test passes with checked
# values, progress on stderr, exit status 0, the CPUs the ranks may use; three ranks pinned to
# one CPU get the verdict's warning (--pairs: every pair listed); --json parses; usage errors exit 2 naming the option;
# under mpirun (when installed) the ranks bootstrap from Open MPI and report.
set -euo pipefail
TACL="${TACL_CLI:?TACL_CLI not set}"
tmp="$(mktemp -d /tmp/tacl-doctor-$$.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

rc=0
TACL_DOCTOR_TIMEOUT=10 "$TACL" doctor --local 4 >"$tmp/out" 2>"$tmp/err" || rc=$?
cat "$tmp/out"
[ "$rc" = 0 ] || fail "tacl doctor --local 4 exited $rc: $(cat "$tmp/err")"
grep -q "^tacl doctor: 4 ranks on 1 host," "$tmp/out" || fail "header: $(head -1 "$tmp/out")"
grep -q "one host: all 4 ranks reach each other" "$tmp/out" || fail "no one-host verdict"
for t in all_reduce all_gather broadcast; do
    grep -Eq "^  $t +pass +[0-9.]+ s" "$tmp/out" || fail "$t did not pass: $(grep "$t" "$tmp/out")"
done
grep -Eq "^  routed send/recv +skip +every pair is linked directly" "$tmp/out" ||
    fail "routed send/recv should be skipped on a full mesh"
npairs=$(grep -Ec "^  [0-3]-[0-3] +[^ ]+ +[0-9.]+ us +[0-9.]+ [GM]B/s" "$tmp/out" || true)
[ "$npairs" = 6 ] || fail "expected 6 measured pairs, found $npairs"
grep -q "collectives work: all_reduce, all_gather, broadcast passed with checked values on all 4 ranks" \
    "$tmp/out" || fail "no collectives verdict"
grep -q "^tacl doctor: round 3/3" "$tmp/err" || fail "no progress lines: $(cat "$tmp/err")"
ncpu=$(nproc)
grep -Eq "^  [^ ]+ +4 ranks, [0-9]+ CPUs? of [0-9]+ online \(affinity [0-9]" "$tmp/out" ||
    fail "no CPU line: $(grep -A2 '^CPUs' "$tmp/out")"
if [ "$ncpu" -ge 4 ]; then
    ! grep -q "they take turns on the cores" "$tmp/out" || fail "CPU warning with $ncpu CPUs for 4 ranks"
fi
echo "--local 4: full mesh on one host, smoke tests pass, CPUs reported"

# Three ranks pinned to one CPU: the verdict says they take turns, and the run still passes.
cpu=$(awk '/^Cpus_allowed_list/ { split($2, a, /[-,]/); print a[1] }' /proc/self/status)
rc=0
TACL_DOCTOR_TIMEOUT=10 taskset -c "$cpu" "$TACL" doctor --local 3 --quiet --pairs >"$tmp/pin" \
    2>"$tmp/err" || rc=$?
[ "$rc" = 0 ] || fail "pinned doctor exited $rc: $(cat "$tmp/err")"
grep -q "its 3 ranks may use 1 CPU (affinity $cpu): they take turns on the cores" "$tmp/pin" ||
    fail "no CPU warning when pinned to CPU $cpu: $(sed -n '/^Verdict/,$p' "$tmp/pin")"
grep -Eq "^  [^ ]+ +3 ranks, 1 CPU of [0-9]+ online \(affinity $cpu\): more ranks than CPUs" \
    "$tmp/pin" || fail "CPU table when pinned: $(grep -A2 '^CPUs' "$tmp/pin")"
grep -Eq "^  all_reduce +pass" "$tmp/pin" || fail "pinned: all_reduce did not pass"
npairs=$(grep -Ec "^  [0-2]-[0-2] +[^ ]+ +[0-9.]+ us +[0-9.]+ [GM]B/s" "$tmp/pin" || true)
[ "$npairs" = 3 ] || fail "--pairs: expected 3 measured pairs, found $npairs"
echo "taskset -c $cpu, 3 ranks (--pairs): the verdict says they share one CPU; smoke tests pass"

"$TACL" doctor --local 2 --json --quiet >"$tmp/json" 2>"$tmp/err" || fail "--json: $(cat "$tmp/err")"
python3 -m json.tool "$tmp/json" >/dev/null || fail "--json does not parse: $(cat "$tmp/json")"
[ ! -s "$tmp/err" ] || fail "--quiet printed: $(cat "$tmp/err")"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); assert len(c["hosts"]) == 1 and c["links"] == [], c' \
    "$tmp/json" || fail "--json content"
echo "--json parses: one host, no links"

for bad in "--local 0" "--local x" "--bogus" "--timeout -1"; do
    rc=0
    # shellcheck disable=SC2086
    "$TACL" doctor $bad >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" = 2 ] || fail "tacl doctor $bad exited $rc, expected 2"
    opt=${bad%% *}
    grep -q -- "$opt" "$tmp/err" || fail "tacl doctor $bad: message does not name $opt: $(cat "$tmp/err")"
done
echo "usage errors exit 2 naming the option"

# Under Open MPI's launcher the ranks bootstrap from OMPI_COMM_WORLD_* like any tacl program.
if command -v mpirun >/dev/null; then
    root=()
    [ "$(id -u)" = 0 ] && root=(--allow-run-as-root)
    rc=0
    timeout 60 mpirun "${root[@]}" --oversubscribe -n 2 \
        -x TACL_MASTER_PORT=$((20000 + RANDOM % 12000)) "$TACL" doctor --quiet \
        >"$tmp/mpi" 2>"$tmp/err" || rc=$?
    [ "$rc" = 0 ] || fail "mpirun -n 2 tacl doctor exited $rc: $(cat "$tmp/err")"
    grep -q "^tacl doctor: 2 ranks on 1 host," "$tmp/mpi" || fail "mpirun: $(head -3 "$tmp/mpi")"
    grep -Eq "^  all_reduce +pass" "$tmp/mpi" || fail "mpirun: all_reduce did not pass"
    echo "mpirun -n 2: report from rank 0, smoke tests pass"
else
    echo "mpirun not installed: the Open MPI launch is not checked"
fi

# Without a launcher: a world of one rank, with a hint on stderr.
rc=0
env -u TACL_RANK -u TACL_WORLD_SIZE "$TACL" doctor >"$tmp/one" 2>"$tmp/err" || rc=$?
[ "$rc" = 0 ] || fail "tacl doctor without a launcher exited $rc: $(cat "$tmp/err")"
grep -q "^tacl doctor: 1 rank on 1 host," "$tmp/one" || fail "one rank: $(head -1 "$tmp/one")"
grep -q "no launcher variables, so this is a world of one rank; use --local N" "$tmp/err" ||
    fail "no hint without a launcher: $(cat "$tmp/err")"
echo "without a launcher: one rank, with a hint"
