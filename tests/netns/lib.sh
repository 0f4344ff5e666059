# lib.sh — network-namespace test harness: builds small "clusters" of hosts on one machine.
# Each host is a network namespace tacl-<pid>-<name>; each edge is a veth pair with its own
# /24 subnet; IP forwarding is off, so hosts that share no edge cannot reach each other (the
# A-B-C chain where A cannot reach C). Links can be shaped (rate with tbf, delay with netem
# where the kernel has it) and cut mid-test. Cleanup always runs (trap on EXIT, INT, TERM): it
# kills only the processes the harness started, by pid, and deletes only its namespaces.
#
# Usage (bash; the test is a CTest entry with LABELS netns):
#   source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
#   netns_init                        # exit 77 with the reason unless root and netns work
#   netns_host A B C                  # names: [A-Za-z0-9_], at most 12 characters
#   netns_link A B                    # edge A-B; addresses: $(netns_addr A B) is A's side
#   netns_link B C 20mbit 5ms         # optionally shaped: rate (tc units), delay
#   netns_exec A cmd args...          # run in host A (foreground)
#   netns_bg A cmd args...            # run in host A in the background; pid in NETNS_LAST_PID
#   netns_reachable A B [timeout_s]   # 0 when A can open TCP to B's address on the A-B link
#                                     # (or to any address of B, with NETNS_ANY_ADDR=1)
#   netns_cut A B / netns_restore A B # link down / up (both ends)
#   netns_shape A B RATE [DELAY]      # (re)shape both directions of A-B
#   netns_list                        # namespaces of this harness still present
#   netns_route A C B                 # IP routing A <-> C through B (B forwards; DESIGN's
#                                     # "case 1"); netns_unroute A C B takes it away
#   netns_gateway A B                 # default route of A via B; with B not forwarding, A's
#                                     # connects to non-neighbours time out (silent drop)
#                                     # instead of failing at once with ENETUNREACH
#   netns_wait_file FILE [timeout_s]  # 0 once FILE is non-empty (a port file), 1 on timeout
# A test that sets its own EXIT trap must call netns_cleanup from it.
# Helper for traffic: $NETNS_TCP serve|send|probe (tests/netns/harness_tcp.c; see its header).
# Variables: NETNS_PREFIX (tacl-<pid>-), NETNS_TCP (the harness_tcp helper, from the test's
# environment TACL_NETNS_TCP), NETNS_DELAY_OK (1 when netem delay works here), NETNS_LOG.
# Addresses: edge k (in creation order) uses 10.(100 + k/250).(k%250).0/24; the host named
# first in netns_link gets .1, the other .2. Every namespace has lo up.

NETNS_PREFIX=""
NETNS_HOSTS=()
NETNS_PIDS=()
NETNS_NLINKS=0
NETNS_DELAY_OK=""
NETNS_LAST_PID=""
declare -A NETNS_ADDR=()  # "A B" -> A's address on the A-B link
declare -A NETNS_IFACE=() # "A B" -> A's interface name on the A-B link
NETNS_TCP="${NETNS_TCP:-${TACL_NETNS_TCP:-}}"

netns_log() { echo "netns: $*" >&2; }

netns_skip() {
    echo "SKIP: $*" >&2
    exit 77
}

netns_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# netns_init: check that this can run, install the cleanup trap.
netns_init() {
    [ "$(id -u)" = 0 ] || netns_skip "network-namespace tests need root (uid $(id -u))"
    command -v ip >/dev/null || netns_skip "iproute2 (ip) not installed"
    NETNS_PREFIX="tacl-$$-"
    trap netns_cleanup EXIT
    trap 'netns_cleanup; trap - INT; kill -INT $$' INT
    trap 'netns_cleanup; trap - TERM; kill -TERM $$' TERM
    local probe="${NETNS_PREFIX}probe"
    if ! ip netns add "$probe" 2>/dev/null; then
        netns_skip "'ip netns add' fails here (no CAP_SYS_ADMIN or no netns support)"
    fi
    ip netns del "$probe"
}

netns_ns() { echo "${NETNS_PREFIX}$1"; }

# netns_host NAME...: one namespace per name, lo up, forwarding off.
netns_host() {
    local h
    for h in "$@"; do
        [[ "$h" =~ ^[A-Za-z0-9_]{1,12}$ ]] || netns_fail "host name '$h': expected 1-12 of [A-Za-z0-9_]"
        ip netns add "$(netns_ns "$h")" || netns_fail "ip netns add $(netns_ns "$h") failed"
        NETNS_HOSTS+=("$h")
        ip -n "$(netns_ns "$h")" link set lo up
        ip netns exec "$(netns_ns "$h")" sh -c 'echo 0 > /proc/sys/net/ipv4/ip_forward' 2>/dev/null ||
            true
    done
}

# Converts a tc rate ("20mbit", "1gbit", "500kbit", "1000000bit") to bytes per second.
netns_rate_bytes() {
    local r="$1" num unit
    num="${r%%[a-zA-Z]*}"
    unit="${r#"$num"}"
    case "$unit" in
    bit | "") echo $((num / 8)) ;;
    kbit) echo $((num * 1000 / 8)) ;;
    mbit) echo $((num * 1000000 / 8)) ;;
    gbit) echo $((num * 1000000000 / 8)) ;;
    *) netns_fail "rate '$r': expected a number with bit, kbit, mbit or gbit" ;;
    esac
}

# Shapes the egress of one interface. tbf for the rate (burst: 10 ms worth, at least 16 KB,
# which tbf needs at the timer resolution); netem for the delay when the kernel has it,
# otherwise the delay is left out with a message and NETNS_DELAY_OK=0.
netns_shape_iface() {
    local ns="$1" dev="$2" rate="$3" delay="$4"
    tc -n "$ns" qdisc del dev "$dev" root 2>/dev/null || true
    [ -n "$rate" ] || [ -n "$delay" ] || return 0
    local parent="root"
    if [ -n "$delay" ] && [ "$NETNS_DELAY_OK" != 0 ]; then
        if tc -n "$ns" qdisc add dev "$dev" root handle 1: netem delay "$delay" 2>/dev/null; then
            NETNS_DELAY_OK=1
            parent="parent 1:1"
        else
            NETNS_DELAY_OK=0
            netns_log "netem is not available in this kernel: delay $delay not applied (rate only)"
        fi
    elif [ -n "$delay" ]; then
        netns_log "netem unavailable: delay $delay on $dev not applied"
    fi
    if [ -n "$rate" ]; then
        local bps burst
        bps=$(netns_rate_bytes "$rate")
        burst=$((bps / 100))
        [ "$burst" -ge 16384 ] || burst=16384
        # shellcheck disable=SC2086
        tc -n "$ns" qdisc add dev "$dev" $parent handle 10: tbf rate "$rate" burst "$burst" \
            latency 100ms || netns_fail "tc tbf rate $rate on $dev in $ns failed"
    fi
}

# netns_link A B [RATE] [DELAY]: veth pair between A and B with a fresh /24.
netns_link() {
    local a="$1" b="$2" rate="${3:-}" delay="${4:-}"
    [ -n "${NETNS_IFACE["$a $b"]:-}" ] && netns_fail "link $a-$b exists already"
    local k=$((NETNS_NLINKS + 1))
    local net="10.$((100 + k / 250)).$((k % 250))"
    local ia="v$k-$b" ib="v$k-$a"
    ia="${ia:0:15}"
    ib="${ib:0:15}"
    ip -n "$(netns_ns "$a")" link add name "$ia" type veth peer name "$ib" netns "$(netns_ns "$b")" ||
        netns_fail "veth $a-$b failed"
    ip -n "$(netns_ns "$a")" addr add "$net.1/24" dev "$ia"
    ip -n "$(netns_ns "$b")" addr add "$net.2/24" dev "$ib"
    ip -n "$(netns_ns "$a")" link set "$ia" up
    ip -n "$(netns_ns "$b")" link set "$ib" up
    NETNS_NLINKS=$k
    NETNS_ADDR["$a $b"]="$net.1"
    NETNS_ADDR["$b $a"]="$net.2"
    NETNS_IFACE["$a $b"]="$ia"
    NETNS_IFACE["$b $a"]="$ib"
    if [ -n "$rate" ] || [ -n "$delay" ]; then netns_shape "$a" "$b" "$rate" "$delay"; fi
}

# netns_addr A B: A's address on the A-B link.
netns_addr() {
    local x="${NETNS_ADDR["$1 $2"]:-}"
    [ -n "$x" ] || netns_fail "no link $1-$2"
    echo "$x"
}

netns_shape() {
    local a="$1" b="$2" rate="${3:-}" delay="${4:-}"
    netns_shape_iface "$(netns_ns "$a")" "${NETNS_IFACE["$a $b"]}" "$rate" "$delay"
    netns_shape_iface "$(netns_ns "$b")" "${NETNS_IFACE["$b $a"]}" "$rate" "$delay"
}

netns_cut() {
    ip -n "$(netns_ns "$1")" link set "${NETNS_IFACE["$1 $2"]}" down
    ip -n "$(netns_ns "$2")" link set "${NETNS_IFACE["$2 $1"]}" down
}

netns_restore() {
    ip -n "$(netns_ns "$1")" link set "${NETNS_IFACE["$1 $2"]}" up
    ip -n "$(netns_ns "$2")" link set "${NETNS_IFACE["$2 $1"]}" up
}

netns_exec() {
    local h="$1"
    shift
    ip netns exec "$(netns_ns "$h")" "$@"
}

# netns_bg HOST cmd...: background process in HOST; `ip netns exec` execs the command, so the
# recorded pid is the command's own and cleanup can end exactly it.
netns_bg() {
    local h="$1"
    shift
    ip netns exec "$(netns_ns "$h")" "$@" &
    NETNS_LAST_PID=$!
    NETNS_PIDS+=("$NETNS_LAST_PID")
}

# Every IPv4 address of host B (on all its links).
netns_addrs_of() {
    local key
    for key in "${!NETNS_ADDR[@]}"; do
        [ "${key%% *}" = "$1" ] && echo "${NETNS_ADDR[$key]}"
    done
}

# netns_probe A ADDR [timeout]: prints the helper's verdict ("ok", "connect ...: Connection
# refused", "...: Network is unreachable"). A refused connection means reachable: B's kernel
# answered on a port nobody listens on (9, discard).
netns_probe() {
    local h="$1" addr="$2" t="${3:-2}"
    if [ -n "$NETNS_TCP" ]; then
        netns_exec "$h" "$NETNS_TCP" probe "$addr" 9 "$t" 2>&1 || true
    else
        netns_exec "$h" timeout "$t" bash -c "exec 3<>/dev/tcp/$addr/9 && echo ok" 2>&1 ||
            echo "connect $addr:9: failed or timed out"
    fi
}

# netns_reachable A B [timeout]: 0 when A reaches B's address on the A-B link (or, without such
# a link or with NETNS_ANY_ADDR=1, any address of B).
netns_reachable() {
    local a="$1" b="$2" t="${3:-2}" addrs out x
    if [ -z "${NETNS_ANY_ADDR:-}" ] && [ -n "${NETNS_ADDR["$b $a"]:-}" ]; then
        addrs="${NETNS_ADDR["$b $a"]}"
    else
        addrs=$(netns_addrs_of "$b")
    fi
    for x in $addrs; do
        out=$(netns_probe "$a" "$x" "$t")
        case "$out" in
        ok | *"Connection refused"*) return 0 ;;
        esac
    done
    return 1
}

# The /24 networks of every link of host H, as "10.100.1.0/24".
netns_nets_of() {
    local key
    for key in "${!NETNS_ADDR[@]}"; do
        [ "${key%% *}" = "$1" ] && echo "${NETNS_ADDR[$key]%.*}.0/24"
    done
}

# netns_route A C B: A and C reach each other's addresses through B (which must link both):
# B forwards, A routes C's networks via B's address on A-B and C routes A's via B's on B-C.
netns_route() {
    local a="$1" c="$2" b="$3" net
    local via_a via_c
    via_a=$(netns_addr "$b" "$a")
    via_c=$(netns_addr "$b" "$c")
    netns_exec "$b" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
    for net in $(netns_nets_of "$c"); do
        netns_exec "$a" ip route replace "$net" via "$via_a"
    done
    for net in $(netns_nets_of "$a"); do
        netns_exec "$c" ip route replace "$net" via "$via_c"
    done
}

netns_gateway() {
    netns_exec "$1" ip route replace default via "$(netns_addr "$2" "$1")"
}

netns_unroute() {
    local a="$1" c="$2" b="$3" net
    netns_exec "$b" sh -c 'echo 0 > /proc/sys/net/ipv4/ip_forward'
    for net in $(netns_nets_of "$c"); do
        netns_exec "$a" ip route del "$net" via "$(netns_addr "$b" "$a")" 2>/dev/null || true
    done
    for net in $(netns_nets_of "$a"); do
        netns_exec "$c" ip route del "$net" via "$(netns_addr "$b" "$c")" 2>/dev/null || true
    done
}

netns_wait_file() {
    local f="$1" t="${2:-5}" i
    for ((i = 0; i < t * 20; i++)); do
        [ -s "$f" ] && return 0
        sleep 0.05
    done
    return 1
}

netns_list() {
    ip netns list 2>/dev/null | awk '{print $1}' | grep "^${NETNS_PREFIX}" || true
}

# Kills the processes this harness started (TERM, then KILL after 2 s), then deletes its
# namespaces. Idempotent; runs from the EXIT trap even when the test failed.
netns_cleanup() {
    local p h i
    for p in "${NETNS_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${NETNS_PIDS[@]}"; do
        for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    NETNS_PIDS=()
    for h in "${NETNS_HOSTS[@]}"; do
        ip netns del "$(netns_ns "$h")" 2>/dev/null || true
    done
    NETNS_HOSTS=()
}
