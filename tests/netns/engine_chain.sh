#!/usr/bin/env bash
# engine_chain.sh — builds the chain A–B–C out of three network namespaces and two veth pairs
# (names carry this shell's pid), runs test_engine_netns in them, and removes everything on any
# exit. Exits 77 when namespaces cannot be made here (no root / no CAP_SYS_ADMIN).
set -u
prog="$1"
id=$$
A="tacl-eA-$id" B="tacl-eB-$id" C="tacl-eC-$id"
cleanup() {
    for ns in "$A" "$B" "$C"; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT
if ! ip netns add "$A" 2>/dev/null; then
    echo "SKIP: cannot create network namespaces here (needs root and iproute2)"
    exit 77
fi
set -e
ip netns add "$B"
ip netns add "$C"
# Interface names are at most 15 characters: a pid suffix keeps parallel runs apart.
ip link add "ea$id" netns "$A" type veth peer name "eb$id" netns "$B"
ip link add "ec$id" netns "$B" type veth peer name "ed$id" netns "$C"
ip -n "$A" addr add 10.77.1.1/24 dev "ea$id"
ip -n "$B" addr add 10.77.1.2/24 dev "eb$id"
ip -n "$B" addr add 10.77.2.1/24 dev "ec$id"
ip -n "$C" addr add 10.77.2.2/24 dev "ed$id"
for pair in "$A ea$id" "$B eb$id" "$B ec$id" "$C ed$id"; do
    set -- $pair
    ip -n "$1" link set "$2" up
done
# A and C route everything through B, which does not forward: their connects to each other
# vanish (a timeout, the hard case for the probe) instead of failing at once.
ip -n "$A" route add default via 10.77.1.2
ip -n "$C" route add default via 10.77.2.1
ip netns exec "$B" sysctl -qw net.ipv4.ip_forward=0
set +e
"$prog" chain "$A" "$B" "$C" || exit 1
"$prog" full "$A" "$B" "$C"
