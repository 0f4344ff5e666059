/* cmd_bench.c — `tacl bench <collective>`: measures a collective the way nccl-tests does (same
 * flags, columns and bus-bandwidth formulas), run under `tacl run -n N`, mpirun, srun or
 * torchrun. Out-of-place and in-place times per size, results checked on the -c iterations,
 * #wrong counted, a progress line on stderr during long runs, and -J for JSON lines. This file
 * owns the run: the buffers, the loop over sizes (timing, percentiles, checks, agreed on by
 * every rank) and the help text; cli_bench_opts.c parses the options, cli_bench_host.c and
 * cli_bench_gpu.c are the backends, cli_bench_check.c makes and checks the values and
 * cli_bench_out.c prints. */
#include "cli.h"
#include "cli_bench.h"
#include "clock.h"
#include "tacl.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sizes: send count per rank and receive count per rank for a message of bytes bytes. */
static void bench_counts(bench_coll_t c, size_t bytes, size_t esz, int n, size_t *scount,
                         size_t *rcount, size_t *count)
{
    size_t elems = bytes / esz;
    switch (c) {
    case B_ALL_GATHER:
    case B_GATHER:
        *count = elems / (size_t)n; /* per rank */
        *scount = *count;
        *rcount = *count * (size_t)n;
        break;
    case B_REDUCE_SCATTER:
    case B_SCATTER:
        *count = elems / (size_t)n;
        *scount = *count * (size_t)n;
        *rcount = *count;
        break;
    case B_ALL_TO_ALL:
        *count = elems / (size_t)n;
        *scount = *rcount = *count * (size_t)n;
        break;
    default:
        *count = *scount = *rcount = elems;
        break;
    }
}

static double bench_busbw_factor(bench_coll_t c, int n)
{
    switch (c) {
    case B_ALL_REDUCE:
        return 2.0 * (n - 1) / n;
    case B_ALL_GATHER:
    case B_REDUCE_SCATTER:
    case B_ALL_TO_ALL:
    case B_GATHER:
    case B_SCATTER:
        return (double)(n - 1) / n;
    default:
        return 1.0;
    }
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void bench_percentiles(double *v, int n, double *p50, double *p99)
{
    *p50 = *p99 = 0;
    if (n <= 0) return;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    int k50 = (n + 1) / 2, k99 = (int)ceil(0.99 * n);
    *p50 = v[k50 - 1];
    *p99 = v[(k99 < 1 ? 1 : k99 > n ? n : k99) - 1];
}

static int bench_run(int argc, char **argv)
{
    bench_opts_t o;
    if (bench_parse(argc, argv, &o)) return bench_usage();
    tacl_comm_t *w;
    tacl_status_t st = tacl_init(&w);
    if (st != TACL_OK) {
        fprintf(stderr, "tacl bench: init failed: %s: %s\n", tacl_status_name(st),
                tacl_last_error());
        return 1;
    }
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    if (bench_colls[o.coll].rooted && (o.root < 0 || o.root >= n)) {
        if (me == 0) fprintf(stderr, "tacl bench: root %d out of range (%d ranks)\n", o.root, n);
        tacl_comm_destroy(w);
        return 2;
    }
    size_t esz = tacl_dtype_size(o.dt);
    if (me == 0 && !o.json) bench_print_header(&o, w);
    bench_backend_t bk;
    bench_host_backend(w, o.mem, &bk);
    if (o.gpu && (st = bench_gpu_backend(w, &bk)) != TACL_OK) {
        fprintf(stderr, "tacl bench: rank %d: no GPU backend: %s\n", me, tacl_last_error());
        tacl_comm_destroy(w);
        return 1;
    }
    size_t maxs, maxr, maxc;
    bench_counts(o.coll, o.maxb, esz, n, &maxs, &maxr, &maxc);
    size_t maxio = (maxs > maxr ? maxs : maxr) * esz + 64;
    /* Host staging (fill and check) and the backend's buffers (out of place: s, r; in place:
     * ip). */
    char *hs = malloc(maxio), *hr = malloc(maxio);
    char *s = bk.alloc(bk.ctx, maxs * esz + 64), *r = bk.alloc(bk.ctx, maxr * esz + 64),
         *ip = bk.alloc(bk.ctx, maxio);
    /* Per-iteration times of this rank. */
    double *its = malloc((size_t)o.iters * sizeof(double));
    if (!hs || !hr || !s || !r || !ip || !its) {
        fprintf(stderr, "tacl bench: cannot allocate %s buffers for %zu bytes\n", bk.name, o.maxb);
        tacl_comm_destroy(w);
        return 1;
    }
    /* Fault in the per-iteration times now, not on a first write inside a timed iteration. */
    memset(its, 0, (size_t)o.iters * sizeof(double));
    double bw_sum = 0;
    int nsizes = 0, rc = 0;
    size_t total_wrong = 0;
    uint64_t t_start = tacl__now_ns(), t_progress = t_start;
    for (size_t bytes = o.minb; bytes <= o.maxb;
         bytes = o.stepb ? bytes + o.stepb : (size_t)((double)(bytes ? bytes : 1) * o.factor)) {
        size_t scount, rcount, count;
        bench_counts(o.coll, bytes, esz, n, &scount, &rcount, &count);
        bench_row_t row = {.bytes = bytes, .count = count, .p50 = {-1, -1}, .p99 = {-1, -1}};
        for (int inplace = 0; inplace < 2 && st == TACL_OK; inplace++) {
            /* In place: the input sits where the collective reads it inside the output. */
            char *sb = s, *rb = r;
            if (inplace) {
                rb = ip;
                sb = ip;
                if (o.coll == B_ALL_GATHER || o.coll == B_GATHER)
                    sb = ip + (size_t)me * count * esz;
                if (o.coll == B_REDUCE_SCATTER || o.coll == B_SCATTER)
                    rb = ip + (size_t)me * count * esz;
                if (o.coll == B_SENDRECV) sb = s;
            }
            bench_fill(&o, me, n, hs, scount);
            st = bk.upload(bk.ctx, sb, hs, scount * esz);
            if (st == TACL_OK) st = bk.time(bk.ctx, &o, sb, rb, count, &row.t[inplace], its);
            if (st == TACL_OK)
                st =
                    tacl_all_reduce(w, &row.t[inplace], &row.t[inplace], 1, TACL_FLOAT64, TACL_MAX);
            if (st == TACL_OK && bk.iter_times) {
                /* Each rank's percentiles of its own iterations, then the slowest rank's (as
                 * for the mean: per-iteration maxima across ranks would add up the jitter of
                 * ranks that take turns running ahead). */
                double pc[2];
                bench_percentiles(its, o.iters, &pc[0], &pc[1]);
                st = tacl_all_reduce(w, pc, pc, 2, TACL_FLOAT64, TACL_MAX);
                row.p50[inplace] = pc[0];
                row.p99[inplace] = pc[1];
            }
            for (int c = 0; c < o.check && st == TACL_OK; c++) {
                st = bk.upload(bk.ctx, sb, hs, scount * esz);
                if (st == TACL_OK) st = bk.call(bk.ctx, &o, sb, rb, count);
                if (st == TACL_OK) st = bk.download(bk.ctx, hr, rb, rcount * esz);
                if (st == TACL_OK) row.wrong[inplace] += bench_wrong(&o, me, n, hr, count, rcount);
            }
            if (st == TACL_OK) {
                double wd = (double)row.wrong[inplace];
                st = tacl_all_reduce(w, &wd, &wd, 1, TACL_FLOAT64, TACL_SUM);
                row.wrong[inplace] = (size_t)wd;
            }
        }
        if (st != TACL_OK) {
            fprintf(stderr, "tacl bench: rank %d: %s at %zu bytes: %s\n", me, tacl_status_name(st),
                    bytes, bk.last_error(bk.ctx));
            rc = 1;
            break;
        }
        for (int k = 0; k < 2; k++) {
            row.algbw[k] = row.t[k] > 0 ? (double)bytes / row.t[k] * 1e-9 : 0;
            row.busbw[k] = row.algbw[k] * bench_busbw_factor(o.coll, n);
        }
        bw_sum += row.busbw[0];
        nsizes++;
        total_wrong += row.wrong[0] + row.wrong[1];
        if (me == 0) {
            bench_print_row(&o, n, &row);
            uint64_t now = tacl__now_ns();
            if (now - t_progress > 5000000000ull) {
                fprintf(stderr, "# progress: %zu bytes done, %.0f s elapsed\n", bytes,
                        (double)(now - t_start) * 1e-9);
                t_progress = now;
            }
        }
        if (o.stepb == 0 && bytes == 0) break;
    }
    if (me == 0 && !o.json && rc == 0) bench_print_footer(total_wrong, bw_sum, nsizes);
    bk.release(bk.ctx, s);
    bk.release(bk.ctx, r);
    bk.release(bk.ctx, ip);
    if (bk.fini) bk.fini(bk.ctx);
    free(hs);
    free(hr);
    free(its);
    tacl_comm_destroy(w);
    return rc ? rc : (total_wrong ? 1 : 0);
}

const tacl_cmd_t tacl_cmd_bench = {
    .name = "bench",
    .summary = "measure a collective (nccl-tests format); run under tacl run or mpirun",
    .usage =
        "usage: tacl bench <collective> [options]   (under tacl run -n N, mpirun, srun, torchrun)\n"
        "\n"
        "collectives: all_reduce all_gather reduce_scatter broadcast reduce all_to_all gather\n"
        "             scatter sendrecv\n"
        "  -b SIZE   smallest message (default 8; K, M, G suffixes)\n"
        "  -e SIZE   largest message (default 64M)\n"
        "  -f F      multiply the size by F each step (default 2)\n"
        "  -i SIZE   add SIZE each step instead\n"
        "  -n N      timed iterations per size (default 20)\n"
        "  -w N      warm-up iterations (default 5)\n"
        "  -c N      checked iterations per size, values verified (default 1; 0 = none)\n"
        "  -d TYPE   int8 uint8 int32 uint32 int64 uint64 half bfloat16 float double\n"
        "  -o OP     sum prod min max avg (default sum)\n"
        "  -r ROOT   root of rooted collectives (default 0)\n"
        "  -J        one JSON object per size instead of the table\n"
        "  --gpu     device buffers and device collectives (NCCL), one process per GPU\n"
        "  -G        with --gpu: capture the timed iterations in a CUDA graph, replay it\n"
        "  --mem     host buffers from tacl_mem_alloc, which the host's ranks map from each\n"
        "            other (all_reduce and reduce_scatter then skip the copies)\n"
        "\n"
        "Columns as nccl-tests: time is the slowest rank's mean; algbw = size / time;\n"
        "busbw = algbw x 2(n-1)/n (all_reduce), (n-1)/n (all_gather, reduce_scatter,\n"
        "all_to_all, gather, scatter), 1 (broadcast, reduce, sendrecv). The last four columns\n"
        "(JSON: p50_us, p99_us) are the median and 99th percentile of the per-iteration times,\n"
        "out of place then in place, of the slowest rank (host runs; - or null with --gpu,\n"
        "which times the iterations as one).\n",
    .run = bench_run,
};
