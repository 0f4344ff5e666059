#!/usr/bin/env bash
# make_2s4g2n.sh — writes the fake sysfs tree 2s4g2n/ (committed; rerun only to change it): a
# 2-socket host, 16 CPUs (2 packages x 4 cores x 2 threads), NUMA nodes 0 and 1, four GPUs and
# three NICs placed so that every PCI relation occurs once:
#   socket 0, host bridge pci0000:00, root port 00:01.0, one switch (01:00.0):
#     GPU0 03:00.0 (NVIDIA, + audio function 03:00.1), GPU1 04:00.0, ens1f0 05:00.0 (mlx5)
#   socket 0, root port 00:1f.6: eno1 (onboard 1 GbE)
#   socket 1, host bridge pci0000:80, root port 80:01.0, switch 81:00.0:
#     GPU2 83:00.0; a second switch 84:00.0 below it with ens2f0 86:00.0;
#     NVSwitch-like bridge 87:00.0 (NVIDIA, class 0x0680: not a GPU) on root port 80:03.0
#   socket 1, host bridge pci0000:c0: GPU3 c1:00.0 (AMD, class 0x0380)
# Expected: GPU0-GPU1 PIX, GPU2-ens2f0 PXB, GPU0-eno1 PHB, GPU2-GPU3 NODE, GPU0-GPU2 SYS.
set -euo pipefail
cd "$(dirname "$0")"
R=2s4g2n
rm -rf "$R"
mkdir -p "$R/proc/sys/kernel" "$R/sys/bus/pci/devices" "$R/sys/class/net"
echo fake-2s4g >"$R/proc/sys/kernel/hostname"

# CPUs and NUMA nodes.
C="$R/sys/devices/system/cpu"
mkdir -p "$C"
echo 0-15 >"$C/online"
echo 0-15 >"$C/possible"
echo 0-15 >"$C/present"
for i in $(seq 0 15); do
    d="$C/cpu$i/topology"
    mkdir -p "$d"
    [ "$i" = 0 ] || echo 1 >"$C/cpu$i/online"
    pkg=$((i / 8)) core=$(((i % 8) / 2)) sib=$((i - i % 2))
    echo $pkg >"$d/physical_package_id"
    echo $core >"$d/core_id"
    echo 0 >"$d/die_id"
    echo "$sib-$((sib + 1))" >"$d/thread_siblings_list"
    printf '%04x\n' $((3 << sib)) >"$d/thread_siblings"
    echo "$((pkg * 8))-$((pkg * 8 + 7))" >"$d/core_siblings_list"
    printf '%04x\n' $((255 << (pkg * 8))) >"$d/core_siblings"
done
N="$R/sys/devices/system/node"
mkdir -p "$N"
echo 0-1 >"$N/online"
echo 0-1 >"$N/possible"
echo 0-1 >"$N/has_cpu"
echo 0-1 >"$N/has_memory"
for n in 0 1; do
    mkdir -p "$N/node$n"
    echo "$((n * 8))-$((n * 8 + 7))" >"$N/node$n/cpulist"
    printf '%04x\n' $((255 << (n * 8))) >"$N/node$n/cpumap"
    [ $n = 0 ] && echo "10 21" >"$N/node$n/distance" || echo "21 10" >"$N/node$n/distance"
    printf 'Node %d MemTotal:       65536000 kB\nNode %d MemFree:        60000000 kB\n' $n $n \
        >"$N/node$n/meminfo"
done

# PCI devices: dev PATH VENDOR DEVICE CLASS NUMA
dev() {
    local p="$R/sys/devices/$1" bdf
    bdf=$(basename "$1")
    mkdir -p "$p"
    echo "$2" >"$p/vendor"
    echo "$3" >"$p/device"
    echo "$4" >"$p/class"
    echo "$5" >"$p/numa_node"
    ln -s "../../../devices/$1" "$R/sys/bus/pci/devices/$bdf"
}
# net NAME DEVICE-PATH SPEED MAC (DEVICE-PATH empty: virtual)
net() {
    local d
    if [ -n "$2" ]; then
        d="$R/sys/devices/$2/net/$1"
        mkdir -p "$d"
        ln -s "../../../$(basename "$2")" "$d/device"
        ln -s "../../devices/$2/net/$1" "$R/sys/class/net/$1"
    else
        d="$R/sys/devices/virtual/net/$1"
        mkdir -p "$d"
        ln -s "../../devices/virtual/net/$1" "$R/sys/class/net/$1"
    fi
    [ -z "$3" ] || echo "$3" >"$d/speed"
    echo "$4" >"$d/address"
    echo up >"$d/operstate"
}
S0=pci0000:00/0000:00:01.0
dev "$S0" 0x8086 0x2030 0x060400 0
dev "$S0/0000:01:00.0" 0x10b5 0x8796 0x060400 0
for p in 0 1 2; do dev "$S0/0000:01:00.0/0000:02:0$p.0" 0x10b5 0x8796 0x060400 0; done
dev "$S0/0000:01:00.0/0000:02:00.0/0000:03:00.0" 0x10de 0x2330 0x030200 0
dev "$S0/0000:01:00.0/0000:02:00.0/0000:03:00.1" 0x10de 0x22a3 0x040300 0
dev "$S0/0000:01:00.0/0000:02:01.0/0000:04:00.0" 0x10de 0x2330 0x030200 0
dev "$S0/0000:01:00.0/0000:02:02.0/0000:05:00.0" 0x15b3 0x101d 0x020000 0
net ens1f0 "$S0/0000:01:00.0/0000:02:02.0/0000:05:00.0" 200000 b8:3f:d2:00:00:05
dev pci0000:00/0000:00:1f.6 0x8086 0x15b9 0x020000 0
net eno1 pci0000:00/0000:00:1f.6 1000 3c:ec:ef:00:00:01
S1=pci0000:80/0000:80:01.0
dev "$S1" 0x8086 0x2030 0x060400 1
dev "$S1/0000:81:00.0" 0x10b5 0x8796 0x060400 1
dev "$S1/0000:81:00.0/0000:82:00.0" 0x10b5 0x8796 0x060400 1
dev "$S1/0000:81:00.0/0000:82:00.0/0000:83:00.0" 0x10de 0x2330 0x030200 1
dev "$S1/0000:81:00.0/0000:82:01.0" 0x10b5 0x8796 0x060400 1
dev "$S1/0000:81:00.0/0000:82:01.0/0000:84:00.0" 0x10b5 0x8725 0x060400 1
dev "$S1/0000:81:00.0/0000:82:01.0/0000:84:00.0/0000:85:00.0" 0x10b5 0x8725 0x060400 1
dev "$S1/0000:81:00.0/0000:82:01.0/0000:84:00.0/0000:85:00.0/0000:86:00.0" 0x15b3 0x101d 0x020000 1
net ens2f0 "$S1/0000:81:00.0/0000:82:01.0/0000:84:00.0/0000:85:00.0/0000:86:00.0" 200000 b8:3f:d2:00:00:86
dev pci0000:80/0000:80:03.0 0x8086 0x2030 0x060400 1
dev pci0000:80/0000:80:03.0/0000:87:00.0 0x10de 0x22a3 0x068000 1
dev pci0000:c0/0000:c0:01.0 0x1022 0x1483 0x060400 1
dev pci0000:c0/0000:c0:01.0/0000:c1:00.0 0x1002 0x740f 0x038000 1
net lo "" "" 00:00:00:00:00:00
echo unknown >"$R/sys/devices/virtual/net/lo/operstate"
