# lib_topo.sh — the launch of one job on a cluster of network namespaces, shared by
# bench/topo_bench.sh and bench/topo_bound.sh (sourced, after tests/netns/lib.sh). A cluster
# PREFIX is hosts PREFIX<HOST> and a management host PREFIXS linked to each (netns_host,
# netns_link); the store runs on PREFIXS, one rank on each host, started by hand with tacl's
# launcher variables. Uses and sets the sourcing script's `port` (the last port taken).

# topo_store CLI PREFIX: takes the next port (port += 1) and starts `CLI store` on it in PREFIXS
# (output discarded); its pid in topo_store_pid.
topo_store() {
    port=$((port + 1))
    netns_bg "${2}S" "$1" store --port "$port" >/dev/null 2>&1
    topo_store_pid=$NETNS_LAST_PID
}

# topo_ranks PREFIX RUN_ID TIMEOUT_S OUT HOST... -- [VAR=VALUE...] -- COMMAND [ARG...]:
# one rank of COMMAND per HOST (rank r on the r-th HOST, world size the number of HOSTs, host
# id HOST), against the store of topo_store on `port`, with TACL_RUN_ID=RUN_ID,
# TACL_TIMEOUT=TIMEOUT_S, TACL_PROBE_TIMEOUT=1 and then VAR=VALUE... in its environment; rank r
# writes its stdout and stderr to OUT followed by r. Waits for every rank, then stops the store
# (topo_store_pid). topo_fails: how many ranks failed.
topo_ranks() {
    local prefix=$1 run_id=$2 timeout_s=$3 outp=$4
    shift 4
    local hs=() envs=() pids=() h p r=0
    while [ "$1" != -- ]; do hs+=("$1"); shift; done
    shift
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    local n=${#hs[@]}
    topo_fails=0
    for h in "${hs[@]}"; do
        netns_bg "$prefix$h" env TACL_RANK=$r TACL_WORLD_SIZE=$n TACL_HOST_ID="$h" \
            TACL_MASTER_ADDR="$(netns_addr "${prefix}S" "$prefix$h")" TACL_MASTER_PORT=$port \
            TACL_RUN_ID="$run_id" TACL_TIMEOUT=$timeout_s TACL_PROBE_TIMEOUT=1 \
            ${envs[@]+"${envs[@]}"} "$@" >"$outp$r" 2>&1
        pids+=("$NETNS_LAST_PID")
        r=$((r + 1))
    done
    for p in "${pids[@]}"; do wait "$p" || topo_fails=$((topo_fails + 1)); done
    kill "$topo_store_pid" 2>/dev/null
    wait "$topo_store_pid" 2>/dev/null
}

# topo_result FILE: best, mean and algo from the "topo_allreduce ..." line of a rank's output
# (bench/topo_allreduce.c).
topo_result() {
    local line
    line=$(grep topo_allreduce "$1")
    best=$(echo "$line" | sed 's/.*best_s \([0-9.]*\).*/\1/')
    mean=$(echo "$line" | sed 's/.*mean_s \([0-9.]*\).*/\1/')
    algo=$(echo "$line" | sed 's/.*algo \([a-z]*\).*/\1/')
}
