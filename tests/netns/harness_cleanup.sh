#!/usr/bin/env bash
# harness_cleanup.sh — nothing is left behind: a harness script that is killed by TERM, and one
# that fails, both leave no namespace with their prefix and no process they started.
set -euo pipefail
source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
netns_init
tmp="$(mktemp -d /tmp/tacl-netns-$$-cleanup.XXXXXX)"
# If a check below fails, still remove what the children may have left.
outer_cleanup() {
    local p f
    for f in "$tmp"/pid.*; do
        [ -s "$f" ] && p=$(cat "$f") && kill -KILL "$p" 2>/dev/null || true
    done
    for f in "$tmp"/prefix.*; do
        [ -s "$f" ] || continue
        for ns in $(ip netns list | awk '{print $1}' | grep "^$(cat "$f")" || true); do
            ip netns del "$ns" || true
        done
    done
    rm -rf "$tmp"
    netns_cleanup
}
trap outer_cleanup EXIT

child() { # $1: how the child ends (term | fail)
    bash -c '
        source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
        netns_init
        netns_host X Y
        netns_link X Y 10mbit
        netns_bg X sleep 300
        echo "$NETNS_LAST_PID" >"'"$tmp"'/pid.'"$1"'"
        echo "$NETNS_PREFIX" >"'"$tmp"'/prefix.'"$1"'"
        [ "$(netns_list | wc -l)" = 2 ] || exit 3
        case "'"$1"'" in
        term) kill -TERM $$; sleep 5 ;;
        fail) netns_fail "deliberate failure" ;;
        esac' >/dev/null 2>&1
}

for how in term fail; do
    rc=0
    child $how || rc=$?
    case "$how:$rc" in
    term:143 | fail:1) ;;
    *) netns_fail "child ($how) exited $rc" ;;
    esac
    prefix=$(cat "$tmp/prefix.$how")
    pid=$(cat "$tmp/pid.$how")
    left=$(ip netns list | awk '{print $1}' | grep "^$prefix" || true)
    [ -z "$left" ] || netns_fail "child ($how) left namespaces: $left"
    ! kill -0 "$pid" 2>/dev/null || netns_fail "child ($how) left process $pid running"
    echo "child ($how, exit $rc): no namespace with prefix $prefix, process $pid gone"
done
echo "cleanup: ok"
