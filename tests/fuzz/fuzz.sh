#!/usr/bin/env bash
# fuzz.sh — builds one libFuzzer target of the store with clang (-fsanitize=fuzzer,address,
# undefined; a small build of its own, next to the main one, so that the main build keeps its
# compiler) and runs it for SECONDS: fuzz.sh TARGET SECONDS [libFuzzer options]. Exits 77 when
# clang cannot build fuzzers here. The corpus persists in the build folder between runs.
set -u
target=${1:?target}
secs=${2:?seconds}
shift 2
src=${TACL_SOURCE_DIR:?TACL_SOURCE_DIR not set}
out=${TACL_BUILD_DIR:?TACL_BUILD_DIR not set}/fuzz
CC=${TACL_FUZZ_CC:-clang}
mkdir -p "$out/corpus-$target"
probe="$out/probe.c"
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$probe"
if ! command -v "$CC" >/dev/null || ! "$CC" -fsanitize=fuzzer "$probe" -o "$out/probe" 2>/dev/null; then
    echo "SKIP: $CC cannot build libFuzzer targets here (install clang and libclang-rt-14-dev)"
    exit 77
fi
bin="$out/$target"
sources=("$src/tests/fuzz/$target.c" "$src/src/boot/store_server.c" "$src/src/boot/store_client.c"
    "$src"/src/core/{auth,sha256,settings,log,status}.c)
newest=$(ls -t "${sources[@]}" "$src"/src/boot/*.h "$src"/src/core/*.h "$src/tests/fuzz/fuzz_common.h" | head -1)
if [ ! -x "$bin" ] || [ "$newest" -nt "$bin" ]; then
    "$CC" -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -DTACL_HAVE_HWLOC=0 -DTACL_HAVE_FYAML=0 -I"$src/include" -I"$src/src" -I"$src/src/core" \
        "${sources[@]}" -lpthread -o "$bin.tmp" || { echo "FAIL: building $target"; exit 1; }
    mv "$bin.tmp" "$bin"
fi
# Unauthenticated peers must not be flooded: the library's own logging is off in the target.
exec "$bin" -max_total_time="$secs" -max_len=4096 -timeout=30 -print_final_stats=1 \
    "$@" "$out/corpus-$target" "$src/tests/fuzz/seeds"
