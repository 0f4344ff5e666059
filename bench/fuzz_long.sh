#!/usr/bin/env bash
# fuzz_long.sh — the long fuzzing run: every libFuzzer target of tests/fuzz run until it has made
# at least RUNS executions, spread over JOBS processes (each with its own -seed and -runs, all
# sharing one corpus), then a line per target with its executions and findings (crash, leak,
# timeout, out-of-memory artifacts and failed processes). Exits 1 when anything was found.
#
# Two ways to run it:
#   here (clang present):   bench/fuzz_long.sh [--runs N] [--jobs J] [--targets "a b"]
#     builds the targets with tests/fuzz/fuzz.sh (into BUILD/fuzz, BUILD=build by default) and
#     runs them.
#   build here, run there (a machine without clang, x86-64 Linux):
#     bench/fuzz_long.sh --bundle DIR [--targets ...]   builds, then copies into DIR the
#       binaries (bin/), their seeds (seeds/), this script, LIBS.txt (ldd of every binary) and
#       lib/ with the shared libraries a bare machine may lack (libfyaml.so.0 for cluster;
#       libstdc++.so.6 and libgcc_s.so.1, which libFuzzer's runtime needs);
#     DIR/fuzz_long.sh --bin DIR/bin [--runs N] [--jobs J]   runs the prebuilt binaries there,
#       with LD_LIBRARY_PATH set to DIR/lib (or to --lib PATH).
#
# Options: --runs N (default 10000000), --jobs J (default: the CPU count), --nice K (default 0),
# --out DIR (corpora, logs, artifacts; default BUILD/fuzz-long or ./fuzz-long with --bin),
# --max-len B (default 4096), --timeout S (seconds per input before it counts as a hang; 30).
set -u
here=$(cd "$(dirname "$0")" && pwd)
runs=10000000
jobs=$(nproc 2>/dev/null || echo 1)
nice_k=0
targets="cluster nodelist engine_frame store_frames store_requests"
bundle="" bindir="" libdir="" out="" maxlen=4096 tmo=30
build=${TACL_BUILD_DIR:-build}
while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --nice) nice_k=$2; shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    --bundle) bundle=$2; shift 2 ;;
    --bin) bindir=$2; shift 2 ;;
    --lib) libdir=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --max-len) maxlen=$2; shift 2 ;;
    --timeout) tmo=$2; shift 2 ;;
    -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "fuzz_long.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ -z "$bindir" ]; then
    # Build every target with the project's own script.
    src=$(cd "$here/.." && pwd)
    mkdir -p "$build"
    build=$(cd "$build" && pwd)
    for t in $targets; do
        TACL_SOURCE_DIR=$src TACL_BUILD_DIR=$build bash "$src/tests/fuzz/fuzz.sh" "$t" build \
            >/dev/null || { echo "fuzz_long.sh: cannot build $t (see tests/fuzz/fuzz.sh)" >&2; exit 1; }
    done
    bindir=$build/fuzz
    seeddir=$src/tests/fuzz/seeds
    supp=$src/tests/fuzz/lsan.supp
    extra_cluster=$src/tests/data/cluster
    if [ -n "$bundle" ]; then
        mkdir -p "$bundle/bin" "$bundle/lib" "$bundle/seeds"
        : >"$bundle/LIBS.txt"
        for t in $targets; do
            cp "$bindir/$t" "$bundle/bin/"
            mkdir -p "$bundle/seeds/$t"
            cp -r "$seeddir/$t/." "$bundle/seeds/$t/" 2>/dev/null
            [ "$t" = cluster ] && cp "$extra_cluster"/* "$bundle/seeds/$t/"
            { echo "== $t"; ldd "$bindir/$t"; } >>"$bundle/LIBS.txt"
            # Everything but the C library family, which must be the machine's own.
            ldd "$bindir/$t" | awk '$3 ~ /^\// {print $3}' |
                grep -Ev '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
                while read -r l; do cp -L "$l" "$bundle/lib/"; done
        done
        cp "$0" "$bundle/fuzz_long.sh"
        cp "$supp" "$bundle/lsan.supp"
        echo "bundle in $bundle: run $bundle/fuzz_long.sh --bin $bundle/bin [--runs N] [--jobs J]"
        echo "shared libraries (LIBS.txt):"
        grep -v '^==' "$bundle/LIBS.txt" | awk '{print "  " $1}' | sort -u
        exit 0
    fi
    [ -n "$out" ] || out=$build/fuzz-long
else
    bindir=$(cd "$bindir" && pwd)
    seeddir=$(cd "$bindir/.." && pwd)/seeds
    supp=$(cd "$bindir/.." && pwd)/lsan.supp
    extra_cluster=""
    [ -n "$libdir" ] || libdir=$(cd "$bindir/.." && pwd)/lib
    [ -n "$out" ] || out=$PWD/fuzz-long
fi
# Leaks inside third-party libraries (explained in tests/fuzz/lsan.supp) are not findings.
[ -f "$supp" ] && export LSAN_OPTIONS="suppressions=$supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
[ -n "$libdir" ] && export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
mkdir -p "$out"

echo "fuzz_long: $(uname -n), $(date -u '+%Y-%m-%d %H:%M UTC'), $jobs job(s) per target, nice $nice_k, at least $runs executions per target"
status=0
per=$(((runs + jobs - 1) / jobs))
for t in $targets; do
    [ -x "$bindir/$t" ] || { echo "$t: no binary in $bindir" >&2; status=1; continue; }
    corpus=$out/corpus-$t art=$out/artifacts-$t/
    mkdir -p "$corpus" "$art"
    rm -f "$out/$t".*.log
    seeds=()
    [ -d "$seeddir/$t" ] && seeds+=("$seeddir/$t")
    [ "$t" = cluster ] && [ -n "$extra_cluster" ] && seeds+=("$extra_cluster")
    start=$(date +%s)
    pids=()
    for j in $(seq 1 "$jobs"); do
        nice -n "$nice_k" "$bindir/$t" -runs="$per" -seed="$((j * 7919 + $$))" -max_len="$maxlen" \
            -timeout="$tmo" -print_final_stats=1 -artifact_prefix="$art" "$corpus" "${seeds[@]}" \
            >"$out/$t.$j.log" 2>&1 &
        pids+=($!)
    done
    failed=0
    for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
    secs=$(($(date +%s) - start))
    execs=$(cat "$out/$t".*.log | sed -n 's/^stat::number_of_executed_units: *//p' |
        awk '{s += $1} END {print s + 0}')
    found=$(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) | wc -l)
    cov=$(grep -ho 'cov: [0-9]*' "$out/$t".*.log | awk '{if ($2 > m) m = $2} END {print m + 0}')
    printf '%-15s executions %12s in %6ss  edges %5s  findings %s  failed processes %s\n' \
        "$t" "$execs" "$secs" "$cov" "$found" "$failed"
    if [ "$found" -gt 0 ] || [ "$failed" -gt 0 ]; then
        status=1
        find "$art" -type f | sed 's/^/    /'
        echo "    logs: $out/$t.*.log"
    fi
    [ "$execs" -ge "$runs" ] || echo "    fewer than $runs executions: a process stopped early (see its log)"
done
exit $status
