#!/usr/bin/env bash
# gpu_pin.sh CMD... — runs CMD pinned to one core of the GPU's own NUMA node (for use under
# `tacl run`: rank TACL_LOCAL_RANK gets GPU TACL_LOCAL_RANK's CPU affinity list from
# `nvidia-smi topo -m`, and the (4 + local rank)-th core of it), so that small-message timings
# compare code paths, not where the scheduler put the process.
r=${TACL_LOCAL_RANK:-0}
aff=$(nvidia-smi topo -m 2>/dev/null | awk -v g="GPU$r" '$1 == g {
    for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$/ && $(i+1) ~ /^[0-9]+$|^N\/A$/) { print $i; exit } }')
first=${aff%%[-,]*}
[ -n "$first" ] || first=0
exec taskset -c $((first + 4 + r)) "$@"
