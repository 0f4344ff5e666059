#!/usr/bin/env bash
# deps.sh — makes sure tacl can build: the required tools (a C compiler, make, cmake >= 3.18,
# wherever they come from: Debian packages, pip, a module system) must be on PATH; the optional
# Debian 12 packages (hwloc: tacl topo; libfyaml: cluster/model files; Open MPI: benchmark
# peer and mpirun bootstrap test; iproute2: network-namespace tests; Python with pytest, numpy,
# torch, pip and wheel: the Python package's tests and its offline pip install; clang with its
# fuzzer runtime: the fuzz tests) are installed when
# possible (as root, apt reachable). It never fails for an optional package: it says which are
# missing and what that turns off, and exits 0 whenever the required tools exist. Offline, apt
# is tried once with a bounded wait.
set -uo pipefail
required=(cc make cmake) # commands
declare -A required_pkg=([cc]=gcc [make]=make [cmake]=cmake)
optional=(pkgconf libhwloc-dev libfyaml-dev libopenmpi-dev openmpi-bin iproute2 procps python3
    python3-pytest python3-numpy python3-torch python3-pip python3-setuptools python3-wheel
    clang libclang-rt-14-dev)
declare -A feature=(
    [pkgconf]="optional libraries are found through pkg-config: hwloc and libfyaml off"
    [libhwloc-dev]="tacl topo reads sysfs only"
    [libfyaml-dev]="cluster and model files (tacl plan, TACL_TOPO_FILE) unavailable"
    [libopenmpi-dev]="no Open MPI benchmark peer"
    [openmpi-bin]="no mpirun bootstrap test"
    [iproute2]="network-namespace tests skip"
    [procps]="some test helpers unavailable"
    [python3]="PyTorch's NCCL is not looked for in site-packages"
    [python3-pytest]="Python tests skip"
    [python3-numpy]="Python tests skip"
    [python3-torch]="Python tests skip"
    [python3-pip]="no offline pip install of the Python package"
    [python3-setuptools]="no offline pip install of the Python package"
    [python3-wheel]="no offline pip install of the Python package"
    [clang]="fuzz tests skip"
    [libclang-rt-14-dev]="fuzz tests skip"
)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing_tools=()
for t in "${required[@]}"; do command -v "$t" >/dev/null 2>&1 || missing_tools+=("$t"); done
missing_opt=()
for p in "${optional[@]}"; do installed "$p" || missing_opt+=("$p"); done
[ ${#missing_tools[@]} -eq 0 ] && [ ${#missing_opt[@]} -eq 0 ] && exit 0

want=()
for t in "${missing_tools[@]}"; do want+=("${required_pkg[$t]}"); done
want+=("${missing_opt[@]}")
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "tacl: installing ${want[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if timeout 120 apt-get update -qq >/dev/null 2>&1; then
        # All at once, else one by one: one unavailable package must not stop the others.
        if ! timeout 900 apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null 2>&1; then
            for p in "${want[@]}"; do
                timeout 600 apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 ||
                    echo "tacl: could not install $p" >&2
            done
        fi
    else
        echo "tacl: apt-get update failed (offline?); installing nothing" >&2
    fi
elif [ ${#want[@]} -gt 0 ]; then
    echo "tacl: to install what is missing: sudo apt-get install ${want[*]}" >&2
fi

still_tools=()
for t in "${required[@]}"; do command -v "$t" >/dev/null 2>&1 || still_tools+=("$t"); done
for p in "${optional[@]}"; do
    installed "$p" || echo "tacl: optional package $p is missing: ${feature[$p]}" >&2
done
if [ ${#still_tools[@]} -gt 0 ]; then
    echo "tacl: required tools missing: ${still_tools[*]} (Debian: apt-get install" \
        "$(for t in "${still_tools[@]}"; do printf '%s ' "${required_pkg[$t]}"; done | sed 's/ $//'))" >&2
    exit 1
fi
exit 0
