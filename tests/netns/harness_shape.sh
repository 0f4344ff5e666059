#!/usr/bin/env bash
# harness_shape.sh — a link shaped to 40 mbit/s carries about that: a 1.5 s TCP stream measured
# at the receiver lands within 80..105% of the rate (TCP/IP headers take ~4%). A delay is
# checked when netem exists here; otherwise the harness says it left the delay out.
set -euo pipefail
source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
netns_init
[ -x "${NETNS_TCP:-}" ] || netns_skip "TACL_NETNS_TCP (the harness_tcp helper) not built"
netns_host A B
netns_link A B 40mbit
pf="$(mktemp -u /tmp/tacl-netns-$$-port.XXXXXX)"
trap 'rm -f "$pf" "$pf.out"; netns_cleanup' EXIT
netns_exec A tc qdisc show dev "v1-B" | grep -q "tbf.*rate 40Mbit" ||
    netns_fail "no tbf on A's side: $(netns_exec A tc qdisc show dev v1-B)"

netns_bg B "$NETNS_TCP" serve "$(netns_addr B A)" "$pf" 1 20 >"$pf.out"
srv=$NETNS_LAST_PID
netns_wait_file "$pf" 5 || netns_fail "server in B did not start"
netns_exec A "$NETNS_TCP" send "$(netns_addr B A)" "$(cat "$pf")" 1.5 >/dev/null
wait "$srv" || netns_fail "server failed: $(cat "$pf.out")"
rate=$(sed -n 's/.*rate_bps=\([0-9]*\).*/\1/p' "$pf.out")
echo "shaped 40mbit: measured $rate bit/s ($(cat "$pf.out"))"
[ "${rate:-0}" -ge 32000000 ] && [ "$rate" -le 42000000 ] ||
    netns_fail "measured $rate bit/s on a 40mbit link (expected 32e6..42e6)"

# Delay: a refused connect costs one round trip, 2 x 50 ms when each side delays by 50 ms.
netns_shape A B "" 50ms 2>"$pf.out"
if [ "$NETNS_DELAY_OK" = 1 ]; then
    t0=$(date +%s%N)
    netns_reachable A B 2 || netns_fail "A-B unreachable with delay"
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "delay 50ms each way: connect round trip took $ms ms"
    [ "$ms" -ge 95 ] || netns_fail "round trip $ms ms with 2 x 50 ms of delay"
else
    grep -q "netem is not available" "$pf.out" || netns_fail "no message about the missing netem"
    echo "netem unavailable here: delay not tested ($(cat "$pf.out"))"
fi
echo "shape: ok"
