#!/usr/bin/env bash
# scale_hello.sh BUILD [--hog] N... — `tacl run -n N -- examples/hello` three times per N on this
# host: wall time, ranks that finished, "cut" lines and warning lines of the whole job. --hog
# keeps one busy loop per core running meanwhile (a loaded machine); it kills only those loops.
# Example: bash bench/scale_hello.sh build 8 16 32 64
set -u
b=${1:?build folder}
shift
hogs=()
trap 'for p in "${hogs[@]}"; do kill "$p" 2>/dev/null; done' EXIT
if [ "${1:-}" = --hog ]; then
    shift
    for _ in $(seq "$(nproc)"); do
        sh -c 'while :; do :; done' &
        hogs+=($!)
    done
fi
log=$(mktemp)
for n in "$@"; do
    for i in 1 2 3; do
        s=$(date +%s.%N)
        timeout 300 "$b/tools/tacl/tacl" run -n "$n" -- "$b/examples/hello" >"$log" 2>&1
        rc=$?
        t=$(echo "$(date +%s.%N) - $s" | bc)
        printf 'N=%d run=%d rc=%d time=%.2f s ok=%d cut_lines=%d warn_lines=%d\n' "$n" "$i" "$rc" \
            "$t" "$(grep -c 'all_reduce ok' "$log")" "$(grep -c ' cut' "$log")" \
            "$(grep -c ' WARN ' "$log")"
    done
done
rm -f "$log"
