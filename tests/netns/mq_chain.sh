#!/usr/bin/env bash
# mq_chain.sh PER — the broadcast message queue across network-namespace hosts wired as the
# chain A-B-C (A cannot reach C; B relays in its progress thread), PER ranks per host: the
# writer on A, readers on A, B and C (C's copy travels through B), every message checked
# (tests/mp/mq.c --env: sizes 0 bytes to several rings, 1 MiB messages, a writer on C too).
# The store runs in a separate namespace S linked to every host (S does not forward).
set -u
source "$TACL_SOURCE_DIR/tests/netns/lib.sh"
netns_init
per=${1:-1}
hosts=(A B C)
netns_host S "${hosts[@]}"
netns_link A B
netns_link B C
for h in "${hosts[@]}"; do netns_link S "$h"; done

port=$((20000 + RANDOM % 20000))
netns_bg S "$TACL_CLI" store --port "$port"
sleep 0.3

n=$((${#hosts[@]} * per))
r=0
pids=()
for h in "${hosts[@]}"; do
    for ((l = 0; l < per; l++)); do
        netns_bg "$h" env TACL_RANK=$r TACL_WORLD_SIZE=$n TACL_LOCAL_RANK=$l \
            TACL_LOCAL_WORLD_SIZE=$per TACL_MASTER_ADDR="$(netns_addr S "$h")" \
            TACL_MASTER_PORT=$port TACL_RUN_ID="netns-mq-$$" TACL_TIMEOUT=60 \
            TACL_STORE_TIMEOUT=20 TACL_PROBE_TIMEOUT=1 "$TACL_TEST_MQ" --env basic
        pids+=("$NETNS_LAST_PID")
        r=$((r + 1))
    done
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=$((fail + 1)); done
[ "$fail" = 0 ] || netns_fail "mq chain ($per per host): $fail of $n ranks failed"
left=$(ls /dev/shm | grep -c '^tacl-mq-' || true)
echo "mq chain: $n ranks ($per per host), every message checked; tacl-mq entries in /dev/shm now: $left"
