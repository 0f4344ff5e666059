#!/usr/bin/env bash
# harness_chain.sh — the chain A-B-C: A reaches B, B reaches C, A cannot reach C (no route, and
# with a route through B still not, because B does not forward); a cut link is unreachable
# until restored; data flows over an edge.
set -euo pipefail
source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
netns_init
[ -x "${NETNS_TCP:-}" ] || netns_skip "TACL_NETNS_TCP (the harness_tcp helper) not built"
netns_host A B C
netns_link A B
netns_link B C
[ "$(netns_list | wc -l)" = 3 ] || netns_fail "expected 3 namespaces, got: $(netns_list)"
[ "$(netns_addr A B)" = 10.100.1.1 ] && [ "$(netns_addr C B)" = 10.100.2.2 ] ||
    netns_fail "unexpected addresses $(netns_addr A B) $(netns_addr C B)"

for pair in "A B" "B A" "B C" "C B"; do
    # shellcheck disable=SC2086
    netns_reachable $pair || netns_fail "$pair: expected reachable"
done
out=$(netns_probe A "$(netns_addr C B)")
[[ "$out" == *"Network is unreachable"* ]] || netns_fail "A -> C: expected 'Network is unreachable', got '$out'"
NETNS_ANY_ADDR=1 netns_reachable A C 1 && netns_fail "A reached C"
NETNS_ANY_ADDR=1 netns_reachable C A 1 && netns_fail "C reached A"

# Even with a route through B, B does not forward: no host is a router unless a test says so.
netns_exec A ip route add "$(netns_addr C B)/32" via "$(netns_addr B A)"
out=$(netns_probe A "$(netns_addr C B)" 1)
case "$out" in ok | *refused*) netns_fail "A reached C through B: '$out'" ;; esac
netns_exec A ip route del "$(netns_addr C B)/32"

# A default route through a B that does not forward: B drops silently, the connect times out.
netns_gateway A B
out=$(netns_probe A "$(netns_addr C B)" 1)
[[ "$out" == *"timed out"* ]] || netns_fail "A -> C via a non-forwarding gateway: expected a timeout, got '$out'"
netns_exec A ip route del default

# With routing through B (B forwards), A reaches C; taken away, it does not.
netns_route A C B
netns_reachable A C 2 || netns_fail "A cannot reach C with routing through B"
netns_reachable C A 2 || netns_fail "C cannot reach A with routing through B"
netns_unroute A C B
out=$(netns_probe A "$(netns_addr C B)" 1)
case "$out" in ok | *refused*) netns_fail "A still reaches C after unroute: '$out'" ;; esac

# Data over an edge.
pf="$(mktemp -u /tmp/tacl-netns-$$-port.XXXXXX)"
trap 'rm -f "$pf" "$pf.out"; netns_cleanup' EXIT
netns_bg B "$NETNS_TCP" serve "$(netns_addr B A)" "$pf" 1 10 >"$pf.out"
srv=$NETNS_LAST_PID
netns_wait_file "$pf" 5 || netns_fail "server in B did not start"
netns_exec A "$NETNS_TCP" send "$(netns_addr B A)" "$(cat "$pf")" 0.2 >/dev/null
wait "$srv" || netns_fail "server in B failed"
bytes=$(sed -n 's/^conn bytes=\([0-9]*\).*/\1/p' "$pf.out")
[ "${bytes:-0}" -gt 0 ] || netns_fail "no data from A to B: $(cat "$pf.out")"

# Cut mid-test: unreachable (the route went with the link), then back.
netns_cut A B
out=$(netns_probe A "$(netns_addr B A)" 1)
case "$out" in ok | *refused*) netns_fail "A reached B over a cut link: '$out'" ;; esac
netns_reachable B C || netns_fail "B-C must survive the cut of A-B"
netns_restore A B
ok=0
for _ in $(seq 20); do netns_reachable A B 1 && { ok=1; break; }; sleep 0.1; done
[ $ok = 1 ] || netns_fail "A-B not reachable after restore"
echo "chain: ok"
