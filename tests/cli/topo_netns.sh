#!/usr/bin/env bash
# topo_netns.sh — `tacl topo` inside a harness host sees that namespace's interfaces and their
# addresses (the veth of each edge), and nothing of the host outside it.
set -euo pipefail
source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
netns_init
netns_host A B C
netns_link A B
netns_link A C
out=$(netns_exec A "$TACL_CLI" topo)
echo "$out" | grep -q "^  v1-B .* $(netns_addr A B)/24" || netns_fail "v1-B with $(netns_addr A B)/24 missing: $out"
echo "$out" | grep -q "^  v2-C .* $(netns_addr A C)/24" || netns_fail "v2-C missing: $out"
echo "$out" | grep -q "^nics: 3$" || netns_fail "expected lo + 2 veths: $out"
out=$(netns_exec B "$TACL_CLI" topo --json)
echo "$out" | grep -q "\"$(netns_addr B A)/24\"" || netns_fail "B's address missing: $out"
echo "topo_netns: ok"
