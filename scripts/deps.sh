#!/usr/bin/env bash
# deps.sh — installs the Debian 12 packages tacl builds and tests with (as root), or names the
# missing ones and how to install them. Required: build tools. Optional features: hwloc (tacl
# topo), libfyaml (cluster/model files), Open MPI (benchmark peer, mpirun bootstrap test),
# iproute2 (network-namespace tests), Python with pytest, numpy, torch, pip and wheel (the
# Python package's tests and its offline pip install).
set -euo pipefail
pkgs=(gcc make cmake pkgconf libhwloc-dev libfyaml-dev libopenmpi-dev openmpi-bin iproute2 procps python3
  python3-pytest python3-numpy python3-torch python3-pip python3-setuptools python3-wheel)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "tacl: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "tacl: missing Debian packages: ${missing[*]}" >&2
  echo "tacl: install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
