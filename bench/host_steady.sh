#!/usr/bin/env bash
# host_steady.sh — is the host all_reduce steady, and faster than Open MPI, on an idle machine and
# on one whose every core is busy? Runs bench/shm_allreduce (tacl's shared-memory all_reduce and
# Open MPI's MPI_Allreduce in the same invocation, float32 sum, timed the same way) RUNS times
# (default 5) per rank count, without and with a CPU hog (one busy-loop process per core,
# started and killed by the benchmark), and prints every run: per size the p50 and p99 of the
# per-iteration times of both, the ratios, and whether each target holds:
#   no hog, 8 B:      tacl mean time <= 1.0x Open MPI's
#   no hog, >= 1 MiB: tacl busbw >= 1.5x Open MPI's (2 ranks), >= 3x (more ranks)
#   no hog, 4+ ranks: tacl p99 <= 3x its p50 at every size
#   hog, every size:  tacl p50 <= Open MPI's p50
# then a summary: per size and case, the ratio of each run.
#
# Usage: bash bench/host_steady.sh [BUILD_DIR] [RANKS...]
#   BUILD_DIR defaults to build (scripts/build.sh); RANKS default to 2 on a machine with fewer
#   than 16 cores and to "4 8" otherwise. Needs Open MPI (mpirun, and bench/mpi_allreduce, built
#   when CMake finds MPI). Environment: RUNS (5), ROUNDS (2: within a run the Open MPI and tacl
#   sweeps alternate twice and each keeps its better round per size, so that neither is measured
#   only in a busy moment of a shared machine), SIZES (8,1M,2M,4M,8M,16M,32M,64M), BUDGET
#   (seconds per size and library, 1), HOG (both, no: only without the hog, yes: only with it),
#   OUT (folder for the raw outputs; default a new
#   /tmp/host_steady.XXXXXX), MEM (yes: tacl's buffers from memory the ranks map from each other,
#   tacl_mem_alloc's, so that all_reduce works in the peers' buffers directly; Open MPI's stay
#   malloc'd). Exit status 0 when every target held in every run, 1 otherwise.
set -u
build=${1:-build}
shift || true
ranks=("$@")
cores=$(nproc)
if [ ${#ranks[@]} -eq 0 ]; then
    if [ "$cores" -ge 16 ]; then ranks=(4 8); else ranks=(2); fi
fi
runs=${RUNS:-5}
rounds=${ROUNDS:-2}
sizes=${SIZES:-8,1M,2M,4M,8M,16M,32M,64M}
budget=${BUDGET:-1}
case ${MEM:-no} in
yes) mem=--mem ;;
no) mem= ;;
*) echo "host_steady: MEM=${MEM}: expected yes or no" >&2; exit 2 ;;
esac
case ${HOG:-both} in
both) hogs=("" --hog) ;;
no) hogs=("") ;;
yes) hogs=(--hog) ;;
*) echo "host_steady: HOG=${HOG}: expected both, no or yes" >&2; exit 2 ;;
esac
bench=$build/bench/shm_allreduce
mpi=$build/bench/mpi_allreduce
[ -x "$bench" ] || { echo "host_steady: $bench not built (bash scripts/build.sh)" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "host_steady: mpirun not found (Debian: openmpi-bin)" >&2; exit 2; }
[ -x "$mpi" ] || { echo "host_steady: $mpi not built (Debian: libopenmpi-dev, then rebuild)" >&2; exit 2; }
out=${OUT:-$(mktemp -d /tmp/host_steady.XXXXXX)}
mkdir -p "$out"
summary=$out/summary.txt
: >"$summary"
fails=0

echo "# host_steady: $(date -u '+%Y-%m-%d %H:%M UTC'), $cores cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), commit $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "# settings: $(env | grep '^TACL_' | tr '\n' ' ')(others default)${mem:+, tacl buffers from tacl_mem_alloc (--mem)}; raw outputs in $out"
for n in "${ranks[@]}"; do
    for hog in "${hogs[@]}"; do
        case_name="${n} ranks, $([ -n "$hog" ] && echo "hog on every core" || echo "no hog")"
        for run in $(seq 1 "$runs"); do
            raw=$out/n${n}${hog:+_hog}_run$run.txt
            load=$(cut -d' ' -f1 /proc/loadavg)
            if ! "$bench" -n "$n" -s "$sizes" -r "$rounds" -t "$budget" $hog $mem --mpi "$mpi" >"$raw" 2>&1; then
                echo "== $case_name, run $run/$runs: shm_allreduce failed (see $raw)"
                tail -5 "$raw"
                fails=$((fails + 1))
                continue
            fi
            echo "== $case_name, run $run/$runs (load average before: $load) =="
            # Columns of shm_allreduce: bytes tacl_us tacl_p50 tacl_p99 busbw ompi_us ompi_p50
            # ompi_p99 ompi_bw speedup p50x bw/copy
            awk -v n="$n" -v hog="${hog:+1}" -v run="$run" -v cname="$case_name" -v sum="$summary" '
                BEGIN {
                    printf "%10s %10s %10s %10s %10s %8s %8s %8s %8s  %s\n", "bytes", "tacl_p50",
                        "tacl_p99", "ompi_p50", "ompi_p99", "time_x", "busbw_x", "p50_x", "p99/p50",
                        "target"
                    bad = 0
                }
                $1 ~ /^[0-9]+$/ && $6 != "-" {
                    b = $1; tm = $2; t50 = $3; t99 = $4; om = $6; o50 = $7; o99 = $8
                    tx = tm / om; bx = om / tm; px = t50 / o50; tail = t50 > 0 ? t99 / t50 : 0
                    verdict = ""; ok = 1; ratio = 0
                    if (hog) {
                        verdict = sprintf("p50 <= ompi p50: %s", px <= 1.0 ? "ok" : "MISSED")
                        ok = px <= 1.0; ratio = px
                    } else if (b < 1048576) {
                        verdict = sprintf("time <= 1.0x: %s", tx <= 1.0 ? "ok" : "MISSED")
                        ok = tx <= 1.0; ratio = tx
                    } else {
                        want = n == 2 ? 1.5 : 3.0
                        verdict = sprintf("busbw >= %.1fx: %s", want, bx >= want ? "ok" : "MISSED")
                        ok = bx >= want; ratio = bx
                    }
                    if (!hog && n > 2) {
                        verdict = verdict sprintf("; p99 <= 3x p50: %s", tail <= 3 ? "ok" : "MISSED")
                        ok = ok && tail <= 3
                    }
                    if (!ok) bad++
                    printf "%10d %10.2f %10.2f %10.2f %10.2f %7.2fx %7.2fx %7.2fx %8.2f  %s\n", b,
                        t50, t99, o50, o99, tx, bx, px, tail, verdict
                    printf "%s|%d|%d|%.2f|%.2f|%s\n", cname, b, run, ratio, tail,
                        ok ? "" : "*" >> sum
                }
                END { exit bad > 0 }' "$raw" || fails=$((fails + 1))
        done
    done
done

echo
echo "# Summary: per case and size, the ratio of each run (hog: tacl p50 / ompi p50, lower is"
echo "# better; no hog, 8 B: tacl time / ompi time, lower is better; no hog, >= 1 MiB: busbw"
echo "# tacl / ompi, higher is better), then tacl's p99/p50 per run; * marks a missed target."
awk -F'|' '
    { key = $1 "|" $2; if (!(key in seen)) { seen[key] = 1; order[++k] = key }
      r[key] = r[key] sprintf(" %6.2f%s", $4, $6 == "*" ? "*" : " ")
      t[key] = t[key] sprintf(" %5.1f", $5) }
    END { for (i = 1; i <= k; i++) { split(order[i], p, "|")
          printf "%-26s %10s  ratio:%s  p99/p50:%s\n", p[1], p[2], r[order[i]], t[order[i]] } }' \
    "$summary"
if [ "$fails" -eq 0 ]; then
    echo "# every target held in every run"
    exit 0
fi
echo "# $fails run(s) missed a target or failed"
exit 1
