#!/usr/bin/env bash
# bounds.sh CASE HELLO — bad settings and arguments are refused at once with a message that
# names them, and waits are never silent:
#   settings  TACL_TIMEOUT 0/-1/abc, TACL_WORLD_SIZE beyond the maximum, TACL_ALGO and
#             TACL_REDUCE_ISA values that name nothing: tacl_init fails within seconds.
#   cli       tacl bench/version/topo/plan argument errors: exit 2 (usage) or a precise message.
#   progress  a mistyped store address and a rank that never comes: warn lines every ~5 s that
#             say what is tried and who is missing, long before the store timeout.
set -u
case_name=${1:?case}
HELLO=${2:?hello program}
CLI=${TACL_CLI:?TACL_CLI not set}
DIR=$(mktemp -d "/tmp/tacl-bounds-$$-XXXXXX")
BG=()
cleanup() {
    for p in "${BG[@]}"; do [ -e /proc/"$p" ] && kill -9 "$p" 2>/dev/null; done
    rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
    echo "FAIL ($case_name): $*" >&2
    [ -f "$DIR/err" ] && { echo "--- stderr:" >&2; head -c 3000 "$DIR/err" >&2; }
    exit 1
}

# expect_fail "ENV..." TEXT: hello with ENV fails within 5 s and stderr contains TEXT.
expect_fail() {
    local envs=$1 text=$2 t0 t1 rc
    t0=$(date +%s.%N)
    env -i PATH="$PATH" $envs timeout 30 "$HELLO" >/dev/null 2>"$DIR/err"
    rc=$?
    t1=$(date +%s.%N)
    [ $rc != 0 ] || fail "$envs: accepted"
    [ $rc != 124 ] || fail "$envs: still running after 30 s"
    grep -qF -- "$text" "$DIR/err" || fail "$envs: message lacks '$text'"
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 5) }' || fail "$envs: took $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') s"
    echo "ok: $envs -> $(head -c 160 "$DIR/err")"
}

# expect_cli RC TEXT ARGS...: tacl ARGS exits RC and prints TEXT on stderr.
expect_cli() {
    local want=$1 text=$2 rc
    shift 2
    "$CLI" "$@" >/dev/null 2>"$DIR/err"
    rc=$?
    [ "$rc" = "$want" ] || fail "tacl $*: exit $rc, expected $want"
    grep -qF -- "$text" "$DIR/err" || fail "tacl $*: message lacks '$text'"
    echo "ok: tacl $* -> $rc: $(head -n 1 "$DIR/err")"
}

case $case_name in
settings)
    expect_fail "TACL_TIMEOUT=0" 'TACL_TIMEOUT="0": expected a number of seconds > 0'
    expect_fail "TACL_TIMEOUT=-1" 'TACL_TIMEOUT="-1": expected a number of seconds > 0'
    expect_fail "TACL_STORE_TIMEOUT=abc" 'TACL_STORE_TIMEOUT="abc": expected a number of seconds'
    expect_fail "TACL_HEARTBEAT=0" 'TACL_HEARTBEAT="0"'
    expect_fail "TACL_RANK=0 TACL_WORLD_SIZE=2000000000" "world size 2000000000 exceeds the largest supported world, 8192 ranks"
    expect_fail "TACL_RANK=0 TACL_WORLD_SIZE=100000" "world size 100000 exceeds the largest supported world"
    expect_fail "TACL_ALGO=allreduce:bogus" "TACL_ALGO=\"allreduce:bogus\": 'bogus' is not a known algorithm"
    expect_fail "TACL_ALGO=allreduc:ring" "'allreduc' is not a known collective"
    expect_fail "TACL_REDUCE_ISA=avx9000" 'TACL_REDUCE_ISA="avx9000": expected auto, scalar, avx2 or avx512'
    # The valid forms still work.
    env -i PATH="$PATH" TACL_ALGO="allreduce:ring;broadcast:tree" TACL_TIMEOUT=30 TACL_REDUCE_ISA=scalar \
        "$HELLO" >/dev/null 2>"$DIR/err" || fail "valid settings refused"
    ;;
cli)
    expect_cli 2 "unknown option '--bogus'" bench all_reduce --bogus
    expect_cli 2 "-e 64Q: expected a size in bytes" bench all_reduce -e 64Q
    expect_cli 2 "-e 8garbage: expected a size in bytes" bench all_reduce -e 8garbage
    expect_cli 2 "-n 0x: not a valid number" bench all_reduce -n 0x
    expect_cli 2 "unexpected argument '--bogus'" version --bogus
    expect_cli 2 "--source 'bogus': expected auto, hwloc or sysfs" topo --source bogus
    if "$CLI" version | grep -q "yaml/json=yes"; then
        : >"$DIR/empty.yaml"
        expect_cli 1 "empty.yaml: the file is empty" plan --cluster "$DIR/empty.yaml" --model llama3-8b
        expect_cli 1 "missing.yaml: no such file" plan --cluster "$DIR/missing.yaml" --model llama3-8b
    else
        echo "(no libfyaml: cluster file messages not checked)"
    fi
    ;;
progress)
    port=$((20000 + RANDOM % 12000))
    # A rank whose store address is wrong (nothing listens there).
    env -i PATH="$PATH" TACL_STORE_TOKEN=bounds-secret TACL_RANK=1 TACL_WORLD_SIZE=2 TACL_MASTER_ADDR=127.0.0.3 \
        TACL_MASTER_PORT=$port TACL_STORE_TIMEOUT=7 "$HELLO" >/dev/null 2>"$DIR/typo" &
    BG+=($!)
    # Rank 0 of 2 whose rank 1 never comes.
    env -i PATH="$PATH" TACL_STORE_TOKEN=bounds-secret TACL_RANK=0 TACL_WORLD_SIZE=2 TACL_MASTER_PORT=$((port + 1)) \
        TACL_STORE_TIMEOUT=7 "$HELLO" >/dev/null 2>"$DIR/alone" &
    BG+=($!)
    for p in "${BG[@]}"; do wait "$p"; done
    cp "$DIR/typo" "$DIR/err"
    grep -q "WARN boot: rank 1 of 2: still trying to reach the store at 127.0.0.3:$port (5 s of 7 s): cannot connect" "$DIR/typo" ||
        fail "no progress line for the mistyped address"
    [ "$(grep -c "still trying" "$DIR/typo")" = 1 ] || fail "progress lines are not ~5 s apart"
    cp "$DIR/alone" "$DIR/err"
    grep -q "WARN boot: rank 0 of 2: still waiting after 5 s (of 7 s) for ranks to join run 'port-$((port + 1))'.*rank/1'" "$DIR/alone" ||
        fail "no progress line naming the missing rank"
    grep -q "rank that never joined: 1 (1 of 2)" "$DIR/alone" || fail "final error does not name rank 1"
    echo "ok: $(grep -h "still" "$DIR/typo" "$DIR/alone" | cut -c1-200)"
    ;;
*) fail "unknown case" ;;
esac
echo "$case_name: ok"
