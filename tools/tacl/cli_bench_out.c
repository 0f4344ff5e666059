/* cli_bench_out.c — tacl bench's output on rank 0: nccl-tests header, table/JSON rows, summary. */
#include "cli_bench.h"
#include "tacl.h"

#include <stdio.h>

void bench_print_header(const bench_opts_t *o, tacl_comm_t *w)
{
    int n = tacl_comm_size(w);
    const char *cname = bench_colls[o->coll].name;
    printf("# tacl bench %s%s%s: %d ranks, minBytes %zu maxBytes %zu step: %g(factor) warmup "
           "iters: %d iters: %d validation iters: %d\n#\n",
           cname,
           o->gpu   ? " (gpu)"
           : o->mem ? " (tacl_mem_alloc buffers)"
                    : "",
           o->graph ? " (cuda graph)" : "", n, o->minb, o->maxb, o->factor, o->warmup, o->iters,
           o->check);
    for (int r = 0; r < n; r++)
        printf("#  Rank %2d Host %s\n", r, tacl_comm_host_id(w, r));
    printf("#\n#%75s%32s%38s\n", "out-of-place", "in-place", "per-iteration, out / in-place");
    printf("#%11s %12s %8s %6s %6s %9s %7s %7s %6s %9s %7s %7s %6s %9s %9s %9s %9s\n", "size",
           "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time", "algbw",
           "busbw", "#wrong", "p50", "p99", "p50", "p99");
    printf("#%11s %12s %8s %6s %6s %9s %7s %7s %6s %9s %7s %7s %6s %9s %9s %9s %9s\n", "(B)",
           "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "",
           "(us)", "(us)", "(us)", "(us)");
    fflush(stdout);
}

void bench_print_row(const bench_opts_t *o, int n, const bench_row_t *row)
{
    const char *cname = bench_colls[o->coll].name;
    const char *opname = bench_colls[o->coll].reduces ? tacl_op_name(o->op) : "none";
    int root = bench_colls[o->coll].rooted ? o->root : -1;
    /* Percentiles: "-" (table) or null (JSON) where the backend times only the mean. */
    char pj[4][24], pt[4][24];
    for (int k = 0; k < 4; k++) {
        double v = k % 2 ? row->p99[k / 2] : row->p50[k / 2];
        snprintf(pj[k], sizeof pj[k], v >= 0 ? "%.2f" : "null", v * 1e6);
        snprintf(pt[k], sizeof pt[k], v >= 0 ? "%.2f" : "-", v * 1e6);
    }
    if (o->json)
        printf("{\"collective\":\"%s\",\"backend\":\"%s\",\"graph\":%s,"
               "\"ranks\":%d,\"size\":%zu,\"count\":%zu,"
               "\"type\":\"%s\",\"redop\":\"%s\",\"root\":%d,"
               "\"out_of_place\":{\"time_us\":%.2f,\"algbw\":%.3f,\"busbw\":%.3f,"
               "\"wrong\":%zu,\"p50_us\":%s,\"p99_us\":%s},\"in_place\":{\"time_us\":%.2f,"
               "\"algbw\":%.3f,\"busbw\":%.3f,\"wrong\":%zu,\"p50_us\":%s,\"p99_us\":%s}}\n",
               cname, o->gpu ? "gpu" : "host", o->graph ? "true" : "false", n, row->bytes,
               row->count, tacl_dtype_name(o->dt), opname, root, row->t[0] * 1e6, row->algbw[0],
               row->busbw[0], row->wrong[0], pj[0], pj[1], row->t[1] * 1e6, row->algbw[1],
               row->busbw[1], row->wrong[1], pj[2], pj[3]);
    else
        printf(" %11zu %12zu %8s %6s %6d %9.2f %7.2f %7.2f %6zu %9.2f %7.2f %7.2f %6zu %9s "
               "%9s %9s %9s\n",
               row->bytes, row->count, tacl_dtype_name(o->dt), opname, root, row->t[0] * 1e6,
               row->algbw[0], row->busbw[0], row->wrong[0], row->t[1] * 1e6, row->algbw[1],
               row->busbw[1], row->wrong[1], pt[0], pt[1], pt[2], pt[3]);
    fflush(stdout);
}

void bench_print_footer(size_t total_wrong, double bw_sum, int nsizes)
{
    printf("# Out of bounds values : %zu %s\n", total_wrong, total_wrong ? "FAILED" : "OK");
    printf("# Avg bus bandwidth    : %g\n#\n", nsizes ? bw_sum / nsizes : 0);
}
