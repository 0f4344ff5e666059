#!/usr/bin/env bash
# run.sh — tests of `tacl run`: run.sh CASE RUN_RANK. Each case is its own CTest entry. The rank
# program (run_rank) leaves pid/marker/env files in a scratch folder; the script checks exit
# statuses, messages, files and, by pid, that no rank or child of a rank survives. The trap
# kills (by pid) only processes this script started and removes the folder, also on failure.
set -u
case_name=${1:?case}
RR=${2:?run_rank path}
CLI=${TACL_CLI:?TACL_CLI not set}
DIR=$(mktemp -d "/tmp/tacl-run-$$-XXXXXX")
BG=""

cleanup() {
    if [ -n "$BG" ] && [ -e "/proc/$BG" ]; then kill -9 "$BG" 2>/dev/null; fi
    for f in "$DIR"/pid.* "$DIR"/child.*; do
        [ -f "$f" ] || continue
        p=$(cat "$f")
        # Only a process that is still one of our rank programs (pids can be reused).
        if grep -q run_rank "/proc/$p/cmdline" 2>/dev/null; then kill -9 "$p" 2>/dev/null; fi
    done
    rm -rf "$DIR"
}
trap cleanup EXIT

fail() {
    echo "FAIL ($case_name): $*" >&2
    for f in "$DIR"/stderr "$DIR"/stdout; do
        [ -f "$f" ] && { echo "--- $f:" >&2; head -c 4000 "$f" >&2; }
    done
    exit 1
}

now() { date +%s.%N; }
elapsed_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# True when pid is no live process (absent, or a zombie awaiting its reaper).
gone() {
    [ -e "/proc/$1" ] || return 0
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -z "$st" ] || [ "$st" = Z ]
}

# wait_files PREFIX N SECONDS: until N files DIR/PREFIX.* exist.
wait_files() {
    local deadline n
    deadline=$(awk -v s="$3" -v t="$(now)" 'BEGIN { printf "%.3f", t + s }')
    while :; do
        n=$(find "$DIR" -maxdepth 1 -name "$1.*" | wc -l)
        [ "$n" -ge "$2" ] && return 0
        lt "$(now)" "$deadline" || fail "only $n of $2 $1 files after $3 s"
        [ -n "$BG" ] && gone "$BG" && fail "tacl run ended before $2 $1 files appeared"
        sleep 0.02
    done
}

# wait_bg SECONDS: waits for the background tacl run; sets RC (fails after SECONDS).
wait_bg() {
    local deadline
    deadline=$(awk -v s="$1" -v t="$(now)" 'BEGIN { printf "%.3f", t + s }')
    while ! gone "$BG"; do
        lt "$(now)" "$deadline" || fail "tacl run still running after $1 s"
        sleep 0.02
    done
    wait "$BG"
    RC=$?
    BG=""
}

# all_gone PREFIX SECONDS: every pid listed in DIR/PREFIX.* is gone within SECONDS.
all_gone() {
    local deadline f p
    deadline=$(awk -v s="$2" -v t="$(now)" 'BEGIN { printf "%.3f", t + s }')
    for f in "$DIR"/"$1".*; do
        [ -f "$f" ] || continue
        p=$(cat "$f")
        while ! gone "$p"; do
            lt "$(now)" "$deadline" || fail "process $p ($f) still alive"
            sleep 0.02
        done
    done
}

expect_in() { grep -qF -- "$2" "$1" || fail "'$1' lacks: $2"; }

case "$case_name" in
env)
    # One node: variables of tacl and torchrun, bootstrap agreeing with them, stdin to rank 0.
    echo piped | "$CLI" run -n 3 -- "$RR" env "$DIR" 2>"$DIR/stderr" || fail "rc $?"
    port=$(sed -n 's/^TACL_MASTER_PORT=//p' "$DIR/env.0")
    [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || fail "port '$port'"
    for r in 0 1 2; do
        stdin=""
        [ $r = 0 ] && stdin=piped
        id="port-$port"
        cat >"$DIR/want" <<EOF
TACL_RANK=$r
TACL_WORLD_SIZE=3
TACL_LOCAL_RANK=$r
TACL_LOCAL_WORLD_SIZE=3
TACL_MASTER_ADDR=127.0.0.1
TACL_MASTER_PORT=$port
TACL_RUN_ID=$id
RANK=$r
WORLD_SIZE=3
LOCAL_RANK=$r
LOCAL_WORLD_SIZE=3
GROUP_RANK=0
GROUP_WORLD_SIZE=1
MASTER_ADDR=127.0.0.1
MASTER_PORT=$port
TORCHELASTIC_RUN_ID=$id
boot=tacl $r/3 local $r/3 master 127.0.0.1:$port run $id
stdin=$stdin
EOF
        diff "$DIR/want" "$DIR/env.$r" >&2 || fail "rank $r environment differs"
    done
    rm -f "$DIR"/env.*
    # Node 1 of 3, two ranks per node, given master; a run id from the environment.
    TACL_RUN_ID=job42 "$CLI" run -n 2 --nnodes 3 --node-rank 1 --master-addr 10.1.2.3 \
        --master-port 1234 -- "$RR" env "$DIR" </dev/null 2>"$DIR/stderr" || fail "rc $?"
    [ "$(ls "$DIR" | grep -c '^env\.')" = 2 ] || fail "expected env.2 and env.3 only"
    for r in 2 3; do
        l=$((r - 2))
        cat >"$DIR/want" <<EOF
TACL_RANK=$r
TACL_WORLD_SIZE=6
TACL_LOCAL_RANK=$l
TACL_LOCAL_WORLD_SIZE=2
TACL_MASTER_ADDR=10.1.2.3
TACL_MASTER_PORT=1234
TACL_RUN_ID=job42
RANK=$r
WORLD_SIZE=6
LOCAL_RANK=$l
LOCAL_WORLD_SIZE=2
GROUP_RANK=1
GROUP_WORLD_SIZE=3
MASTER_ADDR=10.1.2.3
MASTER_PORT=1234
TORCHELASTIC_RUN_ID=job42
boot=tacl $r/6 local $l/2 master 10.1.2.3:1234 run job42
stdin=
EOF
        diff "$DIR/want" "$DIR/env.$r" >&2 || fail "rank $r environment differs"
    done
    ;;
hello)
    # The README's main job: every rank names itself, its host and its launcher.
    hello="$TACL_BUILD_DIR/examples/hello"
    [ -x "$hello" ] || fail "$hello not built"
    host="$(hostname)/$(cat /proc/sys/kernel/random/boot_id)/net:$(readlink /proc/self/ns/net | tr -dc 0-9)"
    "$CLI" run -n 4 -- "$hello" >"$DIR/stdout" 2>"$DIR/stderr" || fail "rc $?"
    for r in 0 1 2 3; do
        echo "rank $r of 4 (local $r of 4) on host $host, launcher tacl, all_reduce ok"
    done >"$DIR/want"
    sort "$DIR/stdout" | diff "$DIR/want" - >&2 || fail "hello output differs"
    ;;
token)
    # tacl run gives its ranks one fresh job token; the caller's passes through.
    save='printf %s "$TACL_STORE_TOKEN" > "$0/tok.$1.$TACL_RANK"'
    env -u TACL_STORE_TOKEN "$CLI" run -n 2 -- sh -c "$save" "$DIR" a || fail "rc $?"
    env -u TACL_STORE_TOKEN "$CLI" run -n 1 -- sh -c "$save" "$DIR" b || fail "rc $?"
    TACL_STORE_TOKEN=mine "$CLI" run -n 1 -- sh -c "$save" "$DIR" c || fail "rc $?"
    t0=$(cat "$DIR/tok.a.0") t1=$(cat "$DIR/tok.a.1") t2=$(cat "$DIR/tok.b.0")
    [ ${#t0} = 64 ] && [ "$t0" = "$t1" ] || fail "ranks of one job got tokens '$t0' and '$t1'"
    [ "$t0" != "$t2" ] || fail "two jobs got the same token"
    [ "$(cat "$DIR/tok.c.0")" = mine ] || fail "the caller's token did not pass through"
    hello="$TACL_BUILD_DIR/examples/hello"
    env -u TACL_STORE_TOKEN "$CLI" run -n 2 -- "$hello" >"$DIR/stdout" 2>"$DIR/stderr" ||
        fail "hello under tacl run without a caller's token: rc $?"
    # Ranks started by hand with torchrun's variables and no token fail at init, saying how.
    # A port below the ephemeral range, so that no client socket of another test holds it.
    port=$((20000 + RANDOM % 10000))
    export TACL_STORE_TIMEOUT=20 TACL_TIMEOUT=20
    for r in 0 1; do
        env -u TACL_STORE_TOKEN RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
            "$hello" >"$DIR/out.$r" 2>"$DIR/err.$r" &
    done
    wait
    for r in 0 1; do
        expect_in "$DIR/err.$r" "rank $r of 2: no job token"
        expect_in "$DIR/err.$r" "TACL_STORE_TOKEN_FILE"
        expect_in "$DIR/err.$r" "TACL_AUTH=0"
    done
    # ... and run when the user opts out explicitly.
    for r in 0 1; do
        env -u TACL_STORE_TOKEN TACL_AUTH=0 RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 \
            MASTER_PORT=$port "$hello" >"$DIR/out.$r" 2>"$DIR/err.$r" &
    done
    wait
    for r in 0 1; do expect_in "$DIR/out.$r" "rank $r of 2"; done
    # A rank with another job's token is refused; both sides name the other's address.
    port=$((20000 + RANDOM % 10000))
    for r in 0 1; do
        TACL_STORE_TIMEOUT=4 TACL_STORE_TOKEN="secret-$r" RANK=$r WORLD_SIZE=2 \
            MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$hello" >"$DIR/out.$r" 2>"$DIR/err.$r" &
        [ $r = 0 ] && sleep 0.5 # rank 0 hosts the store before rank 1 knocks
    done
    wait
    expect_in "$DIR/err.1" "the store at 127.0.0.1:$port refused this process's job token"
    expect_in "$DIR/err.0" "store server: closing connection from 127.0.0.1:"
    expect_in "$DIR/err.0" "refused: wrong job token"
    # Several nodes need the user's token; so does a standalone store.
    env -u TACL_STORE_TOKEN "$CLI" run -n 1 --nnodes 2 --node-rank 0 --master-addr 127.0.0.1 \
        -- true 2>"$DIR/stderr" && fail "tacl run over 2 nodes without a token succeeded"
    expect_in "$DIR/stderr" "needs the same secret on every node"
    env -u TACL_STORE_TOKEN "$CLI" store --port 0 2>"$DIR/stderr" && fail "tacl store ran"
    expect_in "$DIR/stderr" "tacl store: no job token"
    ;;
exit)
    "$CLI" run -n 4 -- true || fail "all ranks exit 0, tacl run exited $?"
    "$CLI" run -n 4 -- "$RR" fail "$DIR" 2 7 2>"$DIR/stderr"
    RC=$?
    [ $RC = 7 ] || fail "rank 2 exited 7, tacl run exited $RC"
    expect_in "$DIR/stderr" "tacl run: rank 2 (pid $(cat "$DIR/pid.2")) exited with status 7; stopping the other 3 ranks"
    [ "$(grep -c 'tacl run: rank' "$DIR/stderr")" = 1 ] || fail "only the failed rank is reported"
    all_gone pid 1
    "$CLI" run -n 2 -- /nonexistent/prog 2>"$DIR/stderr"
    RC=$?
    [ $RC = 127 ] || fail "missing program: exit $RC, expected 127"
    expect_in "$DIR/stderr" "cannot execute '/nonexistent/prog': No such file or directory"
    "$CLI" run -n 1 -- sh -c 'kill -SEGV $$' 2>"$DIR/stderr"
    RC=$?
    [ $RC = 139 ] || fail "segfault: exit $RC, expected 139"
    expect_in "$DIR/stderr" "tacl run: rank 0 (pid "
    expect_in "$DIR/stderr" ") was killed by signal 11 (Segmentation fault)"
    ;;
kill9)
    # kill -9 of one rank of 8 ends the job quickly, names the rank, leaves nothing behind
    # (each rank also started a child of its own in its process group).
    "$CLI" run -n 8 -- "$RR" spawn "$DIR" 2>"$DIR/stderr" &
    BG=$!
    wait_files pid 8 20
    victim=$(cat "$DIR/pid.5")
    t0=$(now)
    kill -9 "$victim"
    wait_bg 10
    took=$(elapsed_since "$t0")
    lt "$took" 10 || fail "job took $took s to end"
    [ $RC = 137 ] || fail "exit $RC, expected 137"
    expect_in "$DIR/stderr" "tacl run: rank 5 (pid $victim) was killed by signal 9 (Killed)"
    all_gone pid 1
    all_gone child 2
    echo "job ended $took s after the kill"
    ;;
signal)
    # SIGTERM and SIGINT to tacl run reach every rank (their handlers leave markers).
    for sig in TERM INT; do
        rm -f "$DIR"/pid.* "$DIR"/marker.*
        # A background job of a script starts with SIGINT ignored, which tacl run respects:
        # give it the default disposition, as a terminal's foreground job has.
        env --default-signal=INT "$CLI" run -n 4 -- "$RR" marker "$DIR" 2>"$DIR/stderr" &
        BG=$!
        wait_files pid 4 20
        kill -s $sig "$BG"
        wait_bg 10
        num=$(kill -l $sig)
        [ $RC = $((128 + num)) ] || fail "SIG$sig: exit $RC, expected $((128 + num))"
        for r in 0 1 2 3; do
            [ -f "$DIR/marker.$r" ] || fail "rank $r did not see SIG$sig"
            grep -qx "signal $num" "$DIR/marker.$r" || fail "rank $r marker: $(cat "$DIR/marker.$r")"
        done
        expect_in "$DIR/stderr" "received signal $num"
        all_gone pid 1
    done
    # A signal tacl run was started ignoring (SIGHUP under nohup) stays ignored by the job.
    rm -f "$DIR"/pid.* "$DIR"/marker.*
    (
        trap '' HUP
        exec "$CLI" run -n 2 -- "$RR" marker "$DIR" 2>"$DIR/stderr"
    ) &
    BG=$!
    wait_files pid 2 20
    kill -HUP "$BG"
    sleep 0.3
    gone "$BG" && fail "SIGHUP ended a job started with SIGHUP ignored"
    [ -e "$DIR/marker.0" ] && fail "SIGHUP reached a rank"
    kill -TERM "$BG"
    wait_bg 10
    [ $RC = 143 ] || fail "SIGTERM after an ignored SIGHUP: exit $RC"
    all_gone pid 1
    ;;
orphans)
    # kill -9 of tacl run itself: the ranks die with it (PR_SET_PDEATHSIG), and the children
    # the ranks started die too (tacl run's guard kills the ranks' process groups).
    "$CLI" run -n 4 -- "$RR" spawn "$DIR" 2>"$DIR/stderr" &
    BG=$!
    wait_files pid 4 20
    supervisor=$BG
    kill -9 "$BG"
    wait_bg 5
    all_gone pid 5
    all_gone child 5
    deadline=$(awk -v t="$(now)" 'BEGIN { printf "%.3f", t + 5 }')
    until grep -q "supervisor (pid $supervisor) is gone" "$DIR/stderr"; do
        lt "$(now)" "$deadline" || fail "the guard did not report"
        sleep 0.02
    done
    expect_in "$DIR/stderr" "tacl run: supervisor (pid $supervisor) is gone; killed what remained of 4 ranks"
    ;;
grace)
    # Ranks that ignore SIGTERM get SIGKILL after the grace period; the failed rank decides
    # the exit status.
    t0=$(now)
    "$CLI" run -n 3 --grace 0.5 -- "$RR" stubborn "$DIR" 1 2>"$DIR/stderr"
    RC=$?
    took=$(elapsed_since "$t0")
    [ $RC = 1 ] || fail "exit $RC, expected 1"
    expect_in "$DIR/stderr" "tacl run: rank 1 (pid $(cat "$DIR/pid.1")) exited with status 1; stopping the other 2 ranks"
    expect_in "$DIR/stderr" "tacl run: rank 0 (pid $(cat "$DIR/pid.0")) still running 0.5 s after the stop signal; killing it"
    expect_in "$DIR/stderr" "tacl run: rank 2 (pid $(cat "$DIR/pid.2")) still running 0.5 s"
    lt 0.45 "$took" || fail "ended after $took s, before the 0.5 s grace period"
    lt "$took" 8 || fail "took $took s"
    all_gone pid 1
    ;;
tag)
    # Every line tagged with its rank, in order, none lost, unfinished last lines included.
    n=2000
    "$CLI" run -n 4 --tag-output -- "$RR" print "$DIR" $n >"$DIR/stdout" 2>"$DIR/stderr" ||
        fail "rc $?"
    [ "$(wc -l <"$DIR/stdout")" = $((4 * (n + 1))) ] || fail "stdout has $(wc -l <"$DIR/stdout") lines"
    grep -vq '^\[[0-3]\] rank [0-3] ' "$DIR/stdout" && fail "an untagged stdout line"
    for r in 0 1 2 3; do
        { seq 0 $((n - 1)) | sed "s/^/[$r] rank $r line /"; echo "[$r] rank $r unfinished"; } >"$DIR/want"
        grep "^\[$r\] " "$DIR/stdout" | diff -q "$DIR/want" - >/dev/null || fail "rank $r stdout differs"
        grep -qx "\[$r\] rank $r on stderr" "$DIR/stderr" || fail "rank $r stderr line missing"
    done
    # Lines longer than 64 KiB are forwarded in 64 KiB pieces, each tagged; nothing is lost.
    "$CLI" run -n 1 --tag-output -- "$RR" long "$DIR" 200000 >"$DIR/stdout" || fail "rc $?"
    [ "$(awk '{ printf "%d ", length($0) }' "$DIR/stdout")" = "65540 65540 65540 3396 " ] ||
        fail "long line pieces: $(awk '{ printf "%d ", length($0) }' "$DIR/stdout")"
    [ "$(sed 's/^\[0\] //' "$DIR/stdout" | tr -d '\n' | tr -dc x | wc -c)" = 200000 ] &&
        [ "$(sed 's/^\[0\] //' "$DIR/stdout" | tr -d '\nx' | wc -c)" = 0 ] || fail "long line content"
    # Without --tag-output the ranks write to tacl run's own stdout, untouched.
    "$CLI" run -n 2 -- "$RR" print "$DIR" 1 >"$DIR/stdout" 2>/dev/null || fail "rc $?"
    # (the unfinished last line of one rank may run into the other's first: match inside)
    grep -q "rank 0 line 0" "$DIR/stdout" && grep -q "rank 1 line 0" "$DIR/stdout" ||
        fail "untagged output missing"
    grep -q '\[' "$DIR/stdout" && fail "output tagged without --tag-output"
    ;;
usage)
    check_usage() { # expected-substring args...
        local want=$1
        shift
        "$CLI" run "$@" >"$DIR/stdout" 2>"$DIR/stderr"
        local rc=$?
        [ $rc = 2 ] || fail "tacl run $*: exit $rc, expected 2"
        expect_in "$DIR/stderr" "$want"
    }
    check_usage "-n N (ranks on this node) is required" -- true
    check_usage "-n needs an integer from 1 to 4096, got '0'" -n 0 -- true
    check_usage "-n needs an integer from 1 to 4096, got 'x'" -n x -- true
    check_usage "no program given" -n 2
    check_usage "no program given" -n 2 --
    check_usage "--nnodes 2 needs --master-addr" -n 1 --nnodes 2 -- true
    check_usage "--node-rank 2 is not below --nnodes 2" -n 1 --nnodes 2 --node-rank 2 --master-addr h -- true
    check_usage "--master-port needs an integer from 1 to 65535, got '70000'" -n 1 --master-port 70000 -- true
    check_usage "--grace needs seconds from 0 to 86400, got '-1'" -n 1 --grace -1 -- true
    check_usage "unknown option '--bogus'" -n 1 --bogus -- true
    "$CLI" run --help >"$DIR/stdout" || fail "--help exit $?"
    expect_in "$DIR/stdout" "usage: tacl run -n N"
    "$CLI" run -n 1 true || fail "a program without -- runs too"
    ;;
*)
    fail "unknown case"
    ;;
esac
echo "cli_run_$case_name: passed"
