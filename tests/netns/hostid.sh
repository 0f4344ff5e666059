#!/usr/bin/env bash
# hostid.sh — ranks in two network namespaces of one machine get different host ids: creates
# tacl-hid-<pid>-a and -b, runs one two-node job with `tacl run` (a node in each, through
# `ip netns exec`), and compares every rank's id with one built here from hostname, boot id
# and the namespace's inode. The namespaces are deleted in a trap, also on failure. Exits 77
# when not root or ip netns fails.
set -u
PRINT=${1:?hostid_print path}
CLI=${TACL_CLI:?TACL_CLI not set}
skip() { echo "SKIP: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"
A="tacl-hid-$$-a"
B="tacl-hid-$$-b"
cleanup() {
    ip netns del "$A" 2>/dev/null
    ip netns del "$B" 2>/dev/null
}
trap cleanup EXIT
ip netns add "$A" 2>/dev/null || skip "ip netns add failed (no CAP_SYS_ADMIN?)"
ip netns add "$B" 2>/dev/null || skip "ip netns add failed"
unset TACL_HOST_ID TACL_SYSFS_ROOT
base="$(hostname)/$(cat /proc/sys/kernel/random/boot_id)"
# One job of two "nodes": node 0 in namespace A (ranks 0, 1), node 1 in B (ranks 2, 3).
node=0
for ns in "$A" "$B"; do
    ino=$(ip netns exec "$ns" readlink /proc/self/ns/net | tr -dc 0-9)
    [ -n "$ino" ] || fail "no namespace inode for $ns"
    out=$(ip netns exec "$ns" "$CLI" run -n 2 --nnodes 2 --node-rank $node --master-addr 10.0.0.1 \
        -- "$PRINT" | sort) || fail "tacl run in $ns failed"
    r0=$((2 * node))
    r1=$((2 * node + 1))
    node=$((node + 1))
    want=$(printf 'rank %d host %s/net:%s\nrank %d host %s/net:%s' $r0 "$base" "$ino" $r1 "$base" "$ino")
    [ "$out" = "$want" ] || fail "in $ns got:
$out
expected:
$want"
    eval "id_${ns##*-}=\$ino"
done
[ "$id_a" != "$id_b" ] || fail "both namespaces gave net:$id_a"
own=$("$PRINT" | sed 's/^rank 0 host //')
[ "$own" = "$base/net:$(readlink /proc/self/ns/net | tr -dc 0-9)" ] || fail "host id here: $own"
echo "namespaces $A and $B: net:$id_a and net:$id_b; here: $own"
