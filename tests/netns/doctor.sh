#!/usr/bin/env bash
# doctor.sh SHAPE — `tacl doctor` on network-namespace hosts, one rank per host, the store in
# a separate namespace S linked to every host (a management network that does not forward):
#   chain         A-B-C, where A's packets to C are dropped by B (so A's probe of C times
#                 out): the verdict names A<->C unreachable with B as the relay, the routed
#                 send/recv passes, the run ends within the probe timeout plus a few seconds;
#                 --json parses and lists the links A-B, B-C and the pair A-C as unreachable;
#                 --dot has the dashed red edge between A and C
#   disconnected  A-B and C-D: the doctor still reports (exit status 1), listing both
#                 components, and skips the collective smoke tests
#   store         A-B-C with the store on A (no separate store namespace): C's error names the
#                 store address, the OS error, and B as a host it does reach (TACL_HOSTS lists
#                 A, B and C, or Slurm's node list names B); A and B, which reached the store,
#                 name rank 2 as never joined
set -u
source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
netns_init
shape=$1
case $shape in
chain) hosts=(A B C); edges=("A B" "B C") ;;
disconnected) hosts=(A B C D); edges=("A B" "C D") ;;
store) hosts=(A B C); edges=("A B" "B C") ;;
*) netns_fail "unknown shape $shape" ;;
esac
tmp=$(mktemp -d "/tmp/tacl-doctor-$$.XXXXXX")
trap 'rm -rf "$tmp"; netns_cleanup' EXIT
netns_host S "${hosts[@]}"
for e in "${edges[@]}"; do netns_link $e; done
for h in "${hosts[@]}"; do netns_link S "$h"; done

if [ "$shape" = store ]; then
    # The store on A's address of the A-B link: B reaches it, C does not (no forwarding).
    port=$((20000 + RANDOM % 20000))
    addr_a=$(netns_addr A B) addr_b=$(netns_addr B C) addr_c=$(netns_addr C B)
    pids=()
    r=0
    for h in A B C; do
        netns_bg "$h" env TACL_RANK=$r TACL_WORLD_SIZE=3 TACL_LOCAL_RANK=0 \
            TACL_LOCAL_WORLD_SIZE=1 TACL_MASTER_ADDR="$addr_a" TACL_MASTER_PORT=$port \
            TACL_RUN_ID="doctor-$$-store" TACL_HOST_ID="$h" TACL_TIMEOUT=3 \
            TACL_STORE_TIMEOUT=3 TACL_PROBE_TIMEOUT=1 \
            TACL_HOSTS="$addr_a,$addr_b,$addr_c" "$TACL_CLI" doctor --quiet \
            >"$tmp/store.$r.out" 2>"$tmp/store.$r.err"
        pids+=("$NETNS_LAST_PID")
        r=$((r + 1))
    done
    for r in 0 1 2; do
        rc=0
        wait "${pids[$r]}" || rc=$?
        [ "$rc" = 1 ] || netns_fail "store: rank $r exit status $rc, expected 1: $(cat "$tmp/store.$r.err")"
    done
    e2=$(cat "$tmp/store.2.err")
    echo "rank 2: $e2"
    for want in "rank 2 of 3" "store at $addr_a:$port" "Network is unreachable" \
        "of the job's hosts (TACL_HOSTS) this rank reaches: $addr_b (connection refused)" \
        "not: $addr_a (Network is unreachable)" "e.g. $addr_b"; do
        grep -qF "$want" <<<"$e2" || netns_fail "store: rank 2's error lacks '$want'"
    done
    for r in 0 1; do
        e=$(cat "$tmp/store.$r.err")
        echo "rank $r: $e"
        grep -Eq "rank/2'|never joined: 2 \(1 of 3\)" <<<"$e" || netns_fail "store: rank $r does not name rank 2"
    done
    # Without TACL_HOSTS the candidates come from Slurm's node list.
    rc=0
    netns_exec C env TACL_RANK=2 TACL_WORLD_SIZE=3 TACL_MASTER_ADDR="$addr_a" \
        TACL_MASTER_PORT=$port TACL_RUN_ID="doctor-$$-slurm" TACL_HOST_ID=C TACL_STORE_TIMEOUT=1 \
        TACL_PROBE_TIMEOUT=1 SLURM_JOB_NODELIST="$addr_b" "$TACL_CLI" doctor --quiet \
        >/dev/null 2>"$tmp/slurm.err" || rc=$?
    [ "$rc" = 1 ] || netns_fail "store: rank 2 with a Slurm node list exited $rc"
    grep -qF "of the job's hosts (the Slurm node list) this rank reaches: $addr_b (connection refused)" \
        "$tmp/slurm.err" || netns_fail "store: Slurm node list not probed: $(cat "$tmp/slurm.err")"
    # Rank 0 hosts the store, so its check of who is missing always gets an answer.
    grep -qF "rank that never joined: 2 (1 of 3)" "$tmp/store.0.err" ||
        netns_fail "store: rank 0 does not list rank 2 as never joined"
    echo "store: C names B as reachable and A as not; A and B name the missing rank 2"
    exit 0
fi

if [ "$shape" = chain ]; then
    # A routes C's B-C subnet through B, which does not forward: A's connects to C are
    # silently dropped, so the probe A->C runs into its timeout rather than failing at once.
    cnet=$(netns_addr C B)
    netns_exec A ip route add "${cnet%.*}.0/24" via "$(netns_addr B A)" ||
        netns_fail "route on A to ${cnet%.*}.0/24 via B"
fi

port=$((20000 + RANDOM % 20000))
netns_bg S "$TACL_CLI" store --port "$port"
sleep 0.3
probe=1
n=${#hosts[@]}

# doctor MODE ARGS...: one rank per host; rank 0's stdout in $tmp/MODE.out, every rank's
# stderr in $tmp/MODE.err, rank 0's exit status in $rc0, the others' failures in $fail.
doctor() {
    local mode=$1 r=0 pids=() p
    shift
    for h in "${hosts[@]}"; do
        netns_bg "$h" env TACL_RANK=$r TACL_WORLD_SIZE=$n TACL_LOCAL_RANK=0 \
            TACL_LOCAL_WORLD_SIZE=1 TACL_MASTER_ADDR="$(netns_addr S "$h")" \
            TACL_MASTER_PORT=$port TACL_RUN_ID="doctor-$$-$mode" TACL_HOST_ID="$h" \
            TACL_TIMEOUT=30 TACL_STORE_TIMEOUT=20 TACL_PROBE_TIMEOUT=$probe \
            TACL_DOCTOR_TIMEOUT=5 "$TACL_CLI" doctor "$@" \
            >"$tmp/$mode.$r.out" 2>>"$tmp/$mode.err"
        pids+=("$NETNS_LAST_PID")
        r=$((r + 1))
    done
    fail=0
    wait "${pids[0]}"
    rc0=$?
    for p in "${pids[@]:1}"; do wait "$p" || fail=$((fail + 1)); done
    cp "$tmp/$mode.0.out" "$tmp/$mode.out"
    for ((r = 1; r < n; r++)); do
        [ -s "$tmp/$mode.$r.out" ] && netns_fail "$mode: rank $r printed a report"
    done
    return 0
}

if [ "$shape" = disconnected ]; then
    doctor table
    [ "$rc0" = 1 ] || netns_fail "disconnected: rank 0 exit status $rc0, expected 1; $(cat "$tmp/table.err")"
    [ "$fail" = 0 ] || netns_fail "disconnected: $fail other ranks failed: $(cat "$tmp/table.err")"
    grep -q "DISCONNECTED: the 4 hosts form 2 groups" "$tmp/table.out" ||
        netns_fail "no components line: $(cat "$tmp/table.out")"
    grep -q "{A (rank 0), B (rank 1)} {C (rank 2), D (rank 3)}" "$tmp/table.out" ||
        netns_fail "components not listed: $(grep DISCONN "$tmp/table.out")"
    grep -q "all_reduce *skip *the graph is disconnected" "$tmp/table.out" ||
        netns_fail "smoke tests not skipped: $(cat "$tmp/table.out")"
    # The matrix is still there: A reaches B, not C.
    grep -Eq "^  A +0 +=  +\+ +\. +\.$" "$tmp/table.out" ||
        netns_fail "rank matrix row of A: $(grep -E '^  A ' "$tmp/table.out")"
    echo "disconnected: report with both components, exit status 1"
    exit 0
fi

t0=$(date +%s.%N)
doctor table
t1=$(date +%s.%N)
cat "$tmp/table.out"
[ "$rc0" = 0 ] || netns_fail "chain: rank 0 exit status $rc0: $(cat "$tmp/table.err")"
[ "$fail" = 0 ] || netns_fail "chain: $fail other ranks failed: $(cat "$tmp/table.err")"
el=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
# The probe waits at most $probe s for A<->C; measurements and smoke tests take well under a
# few seconds on veth links.
awk -v e="$el" -v p="$probe" 'BEGIN { exit !(e < p + 6) }' || netns_fail "chain: took $el s, more than the probe timeout $probe s + 6 s"
# The engine's note is cut at 120 characters: "timed ou" is as far as it is sure to get.
grep -q "A<->C: unreachable (rank 0 to 2: .*connect to $cnet:[0-9]*: timed ou" "$tmp/table.out" ||
    netns_fail "no A<->C line with the OS error: $(grep -A12 '^Verdict' "$tmp/table.out")"
grep -q "A<->C: unreachable.*tacl routes it through B (relay) at up to [0-9.]* GB/s" "$tmp/table.out" ||
    netns_fail "relay B not named: $(grep 'A<->C' "$tmp/table.out")"
grep -q "pipeline stages A->B->C need only A-B and B-C" "$tmp/table.out" ||
    netns_fail "no pipeline line: $(grep -A12 '^Verdict' "$tmp/table.out")"
grep -q "host the store where every rank reaches it: B (linked directly" "$tmp/table.out" ||
    netns_fail "store host B not suggested: $(grep store "$tmp/table.out")"
grep -q "routed send/recv  pass" "$tmp/table.out" ||
    netns_fail "routed send/recv did not pass: $(grep -A5 '^Collective' "$tmp/table.out")"
for t in all_reduce all_gather broadcast; do
    grep -q "$t *pass" "$tmp/table.out" || netns_fail "$t did not pass"
done
grep -Eq "^  0-1 +A-B +[0-9.]+ us +[0-9.]+ [GM]B/s +tcp " "$tmp/table.out" ||
    netns_fail "A-B link has no latency/bandwidth/address: $(grep '^  0-1' "$tmp/table.out")"
grep -q "tacl doctor: round" "$tmp/table.err" || netns_fail "no progress lines on stderr"
echo "chain: table verdict ok in $el s"

doctor json --json
[ "$rc0" = 0 ] || netns_fail "--json: exit status $rc0: $(cat "$tmp/json.err")"
python3 -m json.tool "$tmp/json.out" >/dev/null || netns_fail "--json does not parse: $(cat "$tmp/json.out")"
python3 - "$tmp/json.out" <<'EOF' || netns_fail "--json content: $(cat "$tmp/json.out")"
import json, sys
c = json.load(open(sys.argv[1]))
names = [h["name"] for h in c["hosts"]]
assert names == ["A", "B", "C"], names
links = sorted(tuple(sorted(l["hosts"])) for l in c["links"])
assert links == [("A", "B"), ("B", "C")], links
for l in c["links"]:
    assert l["bandwidth"].endswith("GB/s") and float(l["bandwidth"][:-4]) > 0, l
    assert l["latency_us"] > 0, l
assert [sorted(p) for p in c["unreachable"]] == [["A", "C"]], c["unreachable"]
assert c["store"] == "B", c.get("store")
EOF
echo "chain: --json parses, links A-B and B-C measured, A-C unreachable, store B"

doctor dot --dot --no-smoke
[ "$rc0" = 0 ] || netns_fail "--dot: exit status $rc0: $(cat "$tmp/dot.err")"
grep -q '^graph tacl_doctor {' "$tmp/dot.out" || netns_fail "--dot header: $(cat "$tmp/dot.out")"
grep -q 'h0 -- h2 \[style=dashed, color=red' "$tmp/dot.out" ||
    netns_fail "--dot has no dashed red A-C edge: $(cat "$tmp/dot.out")"
grep -q 'h0 -- h1 \[label="[0-9.]* [GM]B/s' "$tmp/dot.out" ||
    netns_fail "--dot A-B edge without bandwidth: $(cat "$tmp/dot.out")"
echo "chain: --dot has the dashed red A-C edge"
