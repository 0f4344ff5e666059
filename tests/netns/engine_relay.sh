#!/usr/bin/env bash
# engine_relay.sh — the chain A–B–C with B–C shaped slower than A–B (B does not forward IP, so A
# and C talk only through B's engine), then test_engine_relay in each MODE given (see
# engine_relay.c); no run but cap may drop a fragment or a credit. Cleanup is lib.sh's.
set -u
prog="$1"
shift
source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
netns_init
netns_host A B C
netns_link A B
# B-C must stay slower than what A's engine can push through B, else nothing piles up at B (the
# unbound mode checks that something does). Under the sanitizers the engines run several times
# slower (under AddressSanitizer B then read from A hardly faster than it wrote to C at 300
# Mbit/s, and the unbound peak stayed under twice the window in half of the runs), so the link is
# shaped lower there: the timings stay the link's, not the CPU's.
rate=300mbit
cache="${TACL_BUILD_DIR:-.}/CMakeCache.txt"
grep -q "^TACL_SANITIZE:BOOL=ON" "$cache" 2>/dev/null && rate=100mbit
grep -q "^TACL_TSAN:BOOL=ON" "$cache" 2>/dev/null && rate=40mbit
netns_link B C $rate
for mode in "$@"; do
    echo "== $mode"
    log="$(mktemp)"
    "$prog" "$mode" "$(netns_ns A)" "$(netns_ns B)" "$(netns_ns C)" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    if [ "$mode" = cap ]; then
        want="rank 1: relay buffer full (0 of TACL_RELAY_MAX_BYTES=1 bytes held): dropped a 65536-byte fragment of the flow from rank 0 to rank 2 (1 fragments dropped so far)"
        if ! grep -qF "$want" "$log"; then
            echo "FAIL: cap: no log line: $want"
            rc=1
        fi
    # A dropped fragment or credit would shrink a flow's window for good: none may happen here.
    elif grep -q "dropped" "$log"; then
        echo "FAIL: $mode: the engine dropped fragments or credits"
        rc=1
    fi
    rm -f "$log"
    [ "$rc" -eq 0 ] || exit 1
done
