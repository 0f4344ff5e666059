#!/usr/bin/env bash
# fuzz.sh — builds one libFuzzer target with clang (-fsanitize=fuzzer,address,undefined; a small
# build of its own, next to the main one, so that the main build keeps its compiler) and runs it
# for SECONDS: fuzz.sh TARGET SECONDS [libFuzzer options]. SECONDS "build" only builds and prints
# the binary's path. Each target names what it needs in its own first lines:
#   fuzz-sources: files under the source tree compiled with it (besides the target itself)
#   fuzz-libs:    link flags (e.g. -lfyaml; such a target also gets -DTACL_HAVE_FYAML=1)
#   fuzz-seeds:   more seed folders under the source tree (test data it already has)
# Exits 77 when clang cannot build fuzzers here. The corpus persists in the build folder between
# runs; the seeds are tests/fuzz/seeds/TARGET.
set -u
target=${1:?target}
secs=${2:?seconds}
shift 2
src=${TACL_SOURCE_DIR:?TACL_SOURCE_DIR not set}
out=${TACL_BUILD_DIR:?TACL_BUILD_DIR not set}/fuzz
CC=${TACL_FUZZ_CC:-clang}
tsrc="$src/tests/fuzz/$target.c"
[ -f "$tsrc" ] || { echo "FAIL: no fuzz target $tsrc"; exit 1; }
mkdir -p "$out/corpus-$target"
probe="$out/probe.c"
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$probe"
if ! command -v "$CC" >/dev/null || ! "$CC" -fsanitize=fuzzer "$probe" -o "$out/probe" 2>/dev/null; then
    echo "SKIP: $CC cannot build libFuzzer targets here (install clang and libclang-rt-14-dev)"
    exit 77
fi
# The target's declarations: every "fuzz-sources:" / "fuzz-libs:" line of its leading comment.
decl() { sed -n "1,40s/^.*fuzz-$1:\(.*\)\$/\1/p" "$tsrc" | tr '\n' ' '; }
sources=("$tsrc")
for f in $(decl sources); do sources+=("$src/$f"); done
read -r -a libs <<<"$(decl libs)"
fyaml=0
for l in "${libs[@]}"; do [ "$l" = -lfyaml ] && fyaml=1; done
if [ "$fyaml" = 1 ] && ! printf '#include <libfyaml.h>\nint main(void){return 0;}\n' |
    "$CC" -x c - -lfyaml -o "$out/probe-fy" 2>/dev/null; then
    echo "SKIP: $target needs libfyaml (Debian: libfyaml-dev)"
    exit 77
fi
# Sources without coverage feedback (coverage_ignore.txt), where this clang knows the option.
nocov=()
ign="$src/tests/fuzz/coverage_ignore.txt"
if [ -f "$ign" ] && "$CC" -fsanitize=fuzzer -fsanitize-coverage-ignorelist="$ign" "$probe" \
    -o "$out/probe" 2>/dev/null; then
    nocov=(-fsanitize-coverage-ignorelist="$ign")
fi
bin="$out/$target"
newest=$(ls -t "${sources[@]}" "$src"/src/*/*.h "$src"/src/transport/*/*.h "$src"/include/*.h \
    "$src"/tests/fuzz/*.h "$src"/tests/fuzz/*.txt "$0" 2>/dev/null | head -1)
if [ ! -x "$bin" ] || [ "$newest" -nt "$bin" ]; then
    "$CC" -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        "${nocov[@]}" -D_GNU_SOURCE -DTACL_HAVE_HWLOC=0 -DTACL_HAVE_FYAML=$fyaml \
        -I"$src/include" -I"$src/src" -I"$src/src/core" "${sources[@]}" "${libs[@]}" -lpthread -lm -o "$bin.tmp" ||
        { echo "FAIL: building $target"; exit 1; }
    mv "$bin.tmp" "$bin"
fi
if [ "$secs" = build ]; then
    echo "$bin"
    exit 0
fi
mkdir -p "$src/tests/fuzz/seeds/$target"
seeds=("$src/tests/fuzz/seeds/$target")
for d in $(decl seeds); do seeds+=("$src/$d"); done
# Leaks inside third-party libraries are listed (and explained) in lsan.supp.
export LSAN_OPTIONS="suppressions=$src/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# Unauthenticated peers must not be flooded: the library's own logging is off in the targets.
exec "$bin" -max_total_time="$secs" -max_len=4096 -timeout=30 -print_final_stats=1 \
    -artifact_prefix="$out/$target-" "$@" "$out/corpus-$target" "${seeds[@]}"
