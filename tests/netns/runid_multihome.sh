#!/usr/bin/env bash
# runid_multihome.sh HELLO — ranks that reach the store's host through different addresses
# form one job without TACL_RUN_ID: chain A-B-C, rank 0 on B hosts the store and names it
# 127.0.0.1, rank 1 on A uses B's address on the A-B link, rank 2 on C B's address on the B-C
# link. The default run id must not depend on that spelling (it once was "<addr>:<port>", and
# the ranks were refused with "run id '10.x.y.z:port' differs from run id '127.0.0.1:port'").
set -u
HELLO=${1:?hello program}
source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
netns_init
netns_host A B C
netns_link A B
netns_link B C
out=$(mktemp -d)
trap 'rm -rf "$out"; netns_cleanup' EXIT
port=$((20000 + RANDOM % 20000))
common=(TACL_WORLD_SIZE=3 TACL_MASTER_PORT=$port TACL_TIMEOUT=30 TACL_STORE_TIMEOUT=20
    TACL_PROBE_TIMEOUT=1)
netns_bg B env "${common[@]}" TACL_RANK=0 TACL_HOST_ID=B TACL_MASTER_ADDR=127.0.0.1 \
    "$HELLO" >"$out/rank0" 2>&1
p0=$NETNS_LAST_PID
netns_bg A env "${common[@]}" TACL_RANK=1 TACL_HOST_ID=A TACL_MASTER_ADDR="$(netns_addr B A)" \
    "$HELLO" >"$out/rank1" 2>&1
p1=$NETNS_LAST_PID
netns_bg C env "${common[@]}" TACL_RANK=2 TACL_HOST_ID=C TACL_MASTER_ADDR="$(netns_addr B C)" \
    "$HELLO" >"$out/rank2" 2>&1
p2=$NETNS_LAST_PID
fails=0
for p in $p0 $p1 $p2; do wait "$p" || fails=$((fails + 1)); done
cat "$out"/rank*
[ "$fails" = 0 ] || netns_fail "$fails rank(s) failed"
[ "$(cat "$out"/rank* | grep -c "all_reduce ok")" = 3 ] || netns_fail "not every rank reported"
echo "one job through three spellings of the store's address: ok"
