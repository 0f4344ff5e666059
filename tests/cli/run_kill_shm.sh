#!/usr/bin/env bash
# run_kill_shm.sh HELLO [RUNS] — jobs stopped in their first milliseconds (SIGTERM or SIGKILL to
# `tacl run`, or to one of its ranks, while the ranks join the world and build their shared
# memory) leave no shared-memory segment behind. Runs in a private mount namespace with its own
# /dev/shm, so only this test's jobs can put anything there; after each job every process it
# started has ended and /dev/shm must be empty of tacl segments. Needs root (unshare, mount):
# exits 77 otherwise. Kills only the pids it started (tacl run, and its children by pid).
set -u
HELLO=${1:?hello program}
RUNS=${2:-32}
CLI=${TACL_CLI:?TACL_CLI not set}

if [ "${TACL_KILL_SHM_INNER:-}" != 1 ]; then
    command -v unshare >/dev/null || { echo "SKIP: unshare not found" >&2; exit 77; }
    [ "$(id -u)" = 0 ] || { echo "SKIP: needs root for a private /dev/shm" >&2; exit 77; }
    TACL_KILL_SHM_INNER=1 exec unshare -m --propagation private bash "$0" "$@"
fi
mount -t tmpfs -o size=256m tacl-test-shm /dev/shm || { echo "SKIP: cannot mount /dev/shm" >&2; exit 77; }

fail() {
    echo "FAIL: $*" >&2
    ls -la /dev/shm >&2
    exit 1
}

# Children of pid (the ranks and the guard of a tacl run), from /proc.
children() {
    cat /proc/"$1"/task/*/children 2>/dev/null
}

leaks=0
for i in $(seq 1 "$RUNS"); do
    mode=$((i % 4))           # 0/1: SIGTERM/SIGKILL to tacl run; 2/3: to a rank
    delay_ms=$(( (i * 7) % 60 ))
    port=$((20000 + (RANDOM % 12000)))
    "$CLI" run -n 4 --master-port "$port" -- "$HELLO" >/dev/null 2>&1 &
    run=$!
    sleep "$(printf '0.%03d' "$delay_ms")"
    kids=$(children "$run")
    case $mode in
    0) kill -TERM "$run" 2>/dev/null ;;
    1) kill -KILL "$run" 2>/dev/null ;;
    2 | 3)
        victim=$(echo "$kids" | tr ' ' '\n' | grep -v '^$' | head -n 1)
        sig=TERM
        [ $mode = 3 ] && sig=KILL
        [ -n "$victim" ] && kill -"$sig" "$victim" 2>/dev/null
        ;;
    esac
    # Every process of the job ends (tacl run stops the rest; the ranks die with it).
    for _ in $(seq 1 200); do
        alive=0
        for p in $run $kids; do [ -e /proc/"$p" ] && ! grep -q '^State:.*Z' /proc/"$p"/status 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.05
    done
    [ $alive = 0 ] || fail "run $i: the job's processes still run 10 s after the signal"
    wait "$run" 2>/dev/null
    left=$(ls /dev/shm | grep -c '^tacl-')
    if [ "$left" -gt 0 ]; then
        echo "run $i (mode $mode, ${delay_ms} ms): $(ls /dev/shm | grep '^tacl-' | tr '\n' ' ')" >&2
        leaks=$((leaks + left))
        rm -f /dev/shm/tacl-*
    fi
done
[ $leaks = 0 ] || fail "$leaks shared-memory segment(s) outlived their job in $RUNS runs"
# The same jobs, left alone, do complete: the kills above hit jobs that were really running.
"$CLI" run -n 4 -- "$HELLO" >/dev/null 2>&1 || fail "an undisturbed job failed"
[ "$(ls /dev/shm | grep -c '^tacl-')" = 0 ] || fail "an undisturbed job left a segment"
echo "$RUNS jobs stopped during init: no segment left"
