#!/usr/bin/env bash
# build.sh — installs dependencies (scripts/deps.sh), configures and builds tacl into build/.
# Extra arguments go to cmake (e.g. -DTACL_SANITIZE=ON). BUILD_DIR overrides the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
dir=${BUILD_DIR:-build}
cmake -S . -B "$dir" -DTACL_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
