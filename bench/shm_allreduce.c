/* shm_allreduce.c — float32 sum all_reduce through the shared-memory group, 8 B to 64 MiB,
 * ranks as forked processes: per size the mean time per operation, the median (p50) and 99th
 * percentile (p99) of each rank's per-iteration times (the slowest rank's are reported), and
 * bus bandwidth (nccl-tests: 2(n-1)/n * bytes / mean time). With --mpi PATH it also runs Open
 * MPI's MPI_Allreduce (bench/mpi_allreduce, through `mpirun --allow-run-as-root -np N`; under a
 * taskset mask of fewer cores than ranks mpirun leaves its ranks unbound within the mask, while
 * --bind-to none --oversubscribe made Open MPI crawl) on the same sizes, timed the same way, and
 * prints the ratios per size; it also measures memcpy bandwidth on 64 MiB (a STREAM-like copy)
 * and the fraction of it that the all_reduce bus bandwidth reaches. On a machine shared with
 * other work the two sweeps alternate (-r rounds, default 2: MPI, tacl, MPI, tacl) and each
 * keeps, per size, the round with the best mean time.
 * --mem takes tacl's buffers from memory the ranks map from each other (tacl_mem_alloc's), so
 * that all_reduce reads and writes the peers' buffers directly (Open MPI's stay malloc'd).
 * --hog starts one busy-loop process per online core before the first sweep and kills them
 * after the last, so that both libraries run on a machine whose every core is contended.
 * Each size runs 256 MiB / size iterations (20 to 20000), fewer when the warm-up says they would
 * take longer than -t seconds (default 2), never fewer than 20.
 * Usage: shm_allreduce [-n ranks] [-m max_bytes | -s size,size,...] [-r rounds] [-t seconds]
 *                      [--mem] [--hog] [--mpi path/to/mpi_allreduce] */
#include "bench_hog.h"
#include "bench_stats.h"
#include "clock.h"
#include "mp_fork.h"
#include "transport/shm/shm_group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BENCH_SIZES     40
#define BENCH_MAX_ITERS 20000

typedef struct {
    size_t maxb;
    int nsizes;
    size_t bytes[BENCH_SIZES];
    bench_stat_t mpi[BENCH_SIZES];  /* best round by mean; mean 0: not measured */
    bench_stat_t tacl[BENCH_SIZES]; /* best round by mean (written by rank 0 of each round) */
    double copy_gbs, budget_s;
    int mem; /* --mem: the buffers come from the group's shared memory (tacl_mem_alloc's) */
    double it[MP_MAX_RANKS][BENCH_MAX_ITERS]; /* seconds per iteration, per rank, current size */
} bench_t;

static int bench_iters(size_t bytes)
{
    size_t it = (256u << 20) / (bytes ? bytes : 1);
    return it < 20 ? 20 : it > BENCH_MAX_ITERS ? BENCH_MAX_ITERS : (int)it;
}

static double bench_copy_gbs(void)
{
    size_t n = 64u << 20;
    char *a = malloc(n), *b = malloc(n);
    if (!a || !b) return 0;
    memset(a, 1, n);
    memset(b, 2, n);
    double best = 0;
    for (int i = 0; i < 10; i++) {
        uint64_t t0 = tacl__now_ns();
        memcpy(i & 1 ? a : b, i & 1 ? b : a, n);
        double gbs = (double)n / (double)(tacl__now_ns() - t0);
        if (gbs > best) best = gbs;
    }
    free(a);
    free(b);
    return best;
}

static void bench_keep(bench_stat_t *best, const bench_stat_t *s)
{
    if (best->mean == 0 || s->mean < best->mean) *best = *s;
}

static void bench_run_mpi(bench_t *b, const char *path, int n)
{
    char cmd[2048];
    /* More ranks than cores: mpirun refuses without --oversubscribe (and then yields when
     * idle, as tacl's waits do in that case). */
    int over = n > (int)sysconf(_SC_NPROCESSORS_ONLN);
    int k = snprintf(cmd, sizeof cmd, "mpirun --allow-run-as-root%s -np %d %s %zu %g",
                     over ? " --oversubscribe" : "", n, path, b->maxb, b->budget_s);
    for (int i = 0; i < b->nsizes && k > 0 && (size_t)k < sizeof cmd - 32; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " %zu", b->bytes[i]);
    snprintf(cmd + k, sizeof cmd - (size_t)k, " 2>/dev/null");
    FILE *p = popen(cmd, "r");
    if (!p) return;
    size_t bytes;
    bench_stat_t s;
    while (fscanf(p, "%zu %lf %lf %lf", &bytes, &s.mean, &s.p50, &s.p99) == 4)
        for (int i = 0; i < b->nsizes; i++)
            if (b->bytes[i] == bytes) bench_keep(&b->mpi[i], &s);
    if (pclose(p) != 0) fprintf(stderr, "shm_allreduce: '%s' failed\n", cmd);
}

/* One all_reduce of the benchmark on group g, with the next sequence number. */
static tacl_status_t bench_op(tacl__shm_group_t *g, const void *s, void *r, size_t count,
                              tacl_dtype_t dt, tacl_op_t op, uint64_t *seq, tacl__errbuf_t *eb)
{
    tacl__fp_t fp = {TACL_COLL_ALL_REDUCE, dt, op, -1, count, ++*seq};
    return tacl__shm_all_reduce(g, s, r, count, dt, op, &fp, tacl__deadline_ns(60), eb);
}

static tacl_status_t bench_barrier(tacl__shm_group_t *g, uint64_t *seq, tacl__errbuf_t *eb)
{
    tacl__fp_t fp = {TACL_COLL_BARRIER, 0, 0, -1, 0, ++*seq};
    return tacl__shm_barrier(g, &fp, tacl__deadline_ns(60), eb);
}

/* Times one size on this rank: per-iteration seconds into b->it[rank], the mean into *mean. */
static tacl_status_t bench_size(bench_t *b, tacl__shm_group_t *g, int rank, const float *a,
                                float *o, size_t bytes, uint64_t *seq, int *iters, double *mean,
                                tacl__errbuf_t *eb)
{
    size_t count = bytes / 4;
    tacl_status_t st = bench_op(g, a, o, count, TACL_FLOAT32, TACL_SUM, seq, eb);
    uint64_t w0 = tacl__now_ns();
    for (int i = 0; i < 5 && st == TACL_OK; i++)
        st = bench_op(g, a, o, count, TACL_FLOAT32, TACL_SUM, seq, eb);
    /* Every rank must take the same number of iterations: agree on the slowest warm-up. */
    double warm = (double)(tacl__now_ns() - w0) * 1e-9 / 5;
    if (st == TACL_OK) st = bench_op(g, &warm, &warm, 1, TACL_FLOAT64, TACL_MAX, seq, eb);
    int it = bench_iters(bytes);
    if (warm > 0 && b->budget_s / warm < it)
        it = b->budget_s / warm < 20 ? 20 : (int)(b->budget_s / warm);
    if (st == TACL_OK) st = bench_barrier(g, seq, eb);
    uint64_t t0 = tacl__now_ns(), prev = t0;
    for (int i = 0; i < it && st == TACL_OK; i++) {
        st = bench_op(g, a, o, count, TACL_FLOAT32, TACL_SUM, seq, eb);
        uint64_t now = tacl__now_ns();
        b->it[rank][i] = (double)(now - prev) * 1e-9;
        prev = now;
    }
    if (st == TACL_OK) st = bench_barrier(g, seq, eb);
    *iters = it;
    *mean = (double)(tacl__now_ns() - t0) * 1e-9 / it;
    return st;
}

static int bench_rank(mp_ctx_t *ctx, void *arg)
{
    bench_t *b = arg;
    tacl__errbuf_t eb;
    int ranks[MP_MAX_RANKS], n = ctx->size;
    for (int r = 0; r < n; r++)
        ranks[r] = r;
    tacl__shm_group_config_t cfg = {.xchg = &ctx->xchg, .comm_ranks = ranks, .timeout_s = 30.0};
    tacl__shm_group_t *g;
    if (tacl__shm_group_create(&cfg, &g, &eb) != TACL_OK) {
        fprintf(stderr, "rank %d: %s\n", ctx->rank, eb.msg);
        return 1;
    }
    float *a = NULL, *o = NULL;
    if (b->mem) {
        /* Memory every rank maps (what tacl_mem_alloc gives a communicator's host). */
        void *pa = NULL, *po = NULL;
        tacl__fp_t fa = {TACL_COLL_MEM_ALLOC, 0, 0, -1, b->maxb, 0}, fo = fa;
        if (tacl__shm_mem_alloc(g, b->maxb, &fa, tacl__deadline_ns(30), &pa, &eb) != TACL_OK ||
            tacl__shm_mem_alloc(g, b->maxb, &fo, tacl__deadline_ns(30), &po, &eb) != TACL_OK) {
            fprintf(stderr, "rank %d: %s\n", ctx->rank, eb.msg);
            return 1;
        }
        if (!tacl__shm_mem_shared(g, pa, b->maxb))
            fprintf(stderr,
                    "rank %d: --mem: the ranks cannot map each other's memory; "
                    "all_reduce copies as usual\n",
                    ctx->rank);
        a = pa;
        o = po;
    } else {
        a = malloc(b->maxb);
        o = malloc(b->maxb);
    }
    double *tmp = malloc(sizeof(double) * BENCH_MAX_ITERS);
    if (!a || !o || !tmp) return 1;
    /* Fault in this process's row of per-iteration times now: the first write to each of its
     * pages inside a timed loop (every 512 iterations) would add a page fault to that
     * iteration, and every rank waits for the faulting one, so at 8 ranks 1.6% of the first
     * size's iterations would carry one and show up as its p99. */
    memset(b->it[ctx->rank], 0, sizeof b->it[ctx->rank]);
    for (size_t i = 0; i < b->maxb / 4; i++)
        a[i] = (float)(i % 97) * 0.25f;
    uint64_t seq = 0;
    for (int s = 0; s < b->nsizes; s++) {
        int iters = 0;
        double mean = 0;
        tacl_status_t st = bench_size(b, g, ctx->rank, a, o, b->bytes[s], &seq, &iters, &mean, &eb);
        if (st != TACL_OK) {
            fprintf(stderr, "rank %d: %s\n", ctx->rank, eb.msg);
            return 1;
        }
        if (ctx->rank != 0) continue;
        /* Each rank's percentiles of its own iterations; the slowest rank's are reported (as
         * for the mean). The closing barrier ordered every rank's times before this read. */
        bench_stat_t stat = {mean * 1e6, 0, 0};
        for (int r = 0; r < n; r++) {
            double p50, p99;
            memcpy(tmp, b->it[r], (size_t)iters * sizeof(double));
            bench_percentiles(tmp, iters, &p50, &p99);
            if (p50 * 1e6 > stat.p50) stat.p50 = p50 * 1e6;
            if (p99 * 1e6 > stat.p99) stat.p99 = p99 * 1e6;
        }
        bench_keep(&b->tacl[s], &stat);
    }
    tacl__shm_group_destroy(g); /* unmaps the --mem buffers too */
    free(tmp);
    if (!b->mem) {
        free(a);
        free(o);
    }
    return 0;
}

static void bench_print(const bench_t *b, int n, int rounds, int hog)
{
    printf(
        "# float32 sum all_reduce, %d ranks%s%s%s; best of %d alternating rounds by mean time; "
        "p50/p99 of per-iteration times (slowest rank's); busbw = 2(n-1)/n * bytes / mean\n",
        n, n > (int)sysconf(_SC_NPROCESSORS_ONLN) ? " (oversubscribed: more ranks than cores)" : "",
        hog ? ", with a busy-loop hog on every core" : "",
        b->mem ? ", tacl's buffers in memory the ranks map from each other (--mem)" : "", rounds);
    printf("# memcpy 64 MiB: %.2f GB/s\n", b->copy_gbs);
    printf("%12s %11s %10s %10s %9s %11s %10s %10s %9s %8s %8s %8s\n", "bytes", "tacl_us",
           "tacl_p50", "tacl_p99", "busbw", "ompi_us", "ompi_p50", "ompi_p99", "ompi_bw", "speedup",
           "p50x", "bw/copy");
    for (int s = 0; s < b->nsizes; s++) {
        const bench_stat_t *t = &b->tacl[s], *m = &b->mpi[s];
        double f = 2.0 * (n - 1) / n * (double)b->bytes[s];
        double bw = t->mean > 0 ? f / (t->mean * 1e3) : 0;
        printf("%12zu %11.2f %10.2f %10.2f %9.2f", b->bytes[s], t->mean, t->p50, t->p99, bw);
        if (m->mean > 0 && t->mean > 0)
            printf(" %11.2f %10.2f %10.2f %9.2f %7.2fx %7.2fx", m->mean, m->p50, m->p99,
                   f / (m->mean * 1e3), m->mean / t->mean, t->p50 > 0 ? m->p50 / t->p50 : 0);
        else
            printf(" %11s %10s %10s %9s %8s %8s", "-", "-", "-", "-", "-", "-");
        printf(" %7.0f%%\n", b->copy_gbs > 0 ? 100.0 * bw / b->copy_gbs : 0);
    }
}

static int bench_usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-n ranks] [-m max_bytes | -s size,size,...] [-r rounds] [-t seconds] "
            "[--mem] [--hog] [--mpi mpi_allreduce]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    int n = 2, rounds = 2, hog = 0;
    const char *mpi = NULL, *sizes = NULL;
    /* Shared with the forked ranks, which record their times in it. */
    bench_t *b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) return 1;
    memset(b, 0, sizeof *b);
    b->maxb = 64u << 20;
    b->budget_s = 2.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-m") && i + 1 < argc)
            b->maxb = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            sizes = argv[++i];
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            b->budget_s = atof(argv[++i]);
        else if (!strcmp(argv[i], "--mpi") && i + 1 < argc)
            mpi = argv[++i];
        else if (!strcmp(argv[i], "--hog"))
            hog = 1;
        else if (!strcmp(argv[i], "--mem"))
            b->mem = 1;
        else
            return bench_usage(argv[0]);
    }
    if (sizes) {
        b->nsizes = bench_parse_sizes(sizes, b->bytes, BENCH_SIZES);
        if (b->nsizes <= 0) {
            fprintf(stderr, "%s: -s %s: expected sizes such as 8,1M,64M (multiples of 4 bytes)\n",
                    argv[0], sizes);
            return 2;
        }
        b->maxb = 0;
        for (int i = 0; i < b->nsizes; i++)
            if (b->bytes[i] > b->maxb) b->maxb = b->bytes[i];
    } else {
        for (size_t s = 8; s <= b->maxb && b->nsizes < BENCH_SIZES; s *= 2)
            b->bytes[b->nsizes++] = s;
    }
    if (n < 1 || n > MP_MAX_RANKS || b->maxb < 8 || rounds < 1 || !(b->budget_s > 0))
        return bench_usage(argv[0]);
    b->copy_gbs = bench_copy_gbs();
    bench_hog_t hogs;
    if (hog && bench_hog_start(&hogs) != 0) return 1;
    mp_result_t res[MP_MAX_RANKS];
    int rc = 0;
    for (int r = 0; r < rounds && rc == 0; r++) {
        if (mpi) bench_run_mpi(b, mpi, n);
        if (mp_run(n, bench_rank, b, 600, res) != 0 || !mp_all_ok(res, n)) rc = 1;
    }
    if (hog) bench_hog_stop(&hogs);
    if (rc == 0) bench_print(b, n, rounds, hog);
    return rc;
}
