#!/usr/bin/env bash
# test.sh — builds tacl (scripts/build.sh) and runs every test with CTest; ends with CTest's
# summary. Extra arguments go to ctest (e.g. -L unit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j2 "$@"
