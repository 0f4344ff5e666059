/* shm_allreduce.c — float32 sum all_reduce through the shared-memory group, 8 B to 64 MiB,
 * ranks as forked processes: time per operation and bus bandwidth (nccl-tests: 2(n-1)/n *
 * bytes / time). With --mpi PATH it first runs Open MPI's MPI_Allreduce (bench/mpi_allreduce,
 * through `mpirun --allow-run-as-root -np N`; under a taskset mask of fewer cores than ranks
 * mpirun leaves its ranks unbound within the mask, while --bind-to none --oversubscribe made
 * Open MPI crawl) on the same sizes and prints the ratio per size;
 * it also measures memcpy bandwidth on 64 MiB (a STREAM-like copy) and the fraction of it that
 * the all_reduce bus bandwidth reaches. On a machine shared with other work the two sweeps
 * alternate (-r rounds, default 2: MPI, tacl, MPI, tacl) and each keeps its best time per size,
 * so that neither side is measured only in a busy moment.
 * Usage: shm_allreduce [-n ranks] [-m max_bytes] [-r rounds] [--mpi path/to/mpi_allreduce] */
#include "clock.h"
#include "mp_fork.h"
#include "transport/shm/shm_group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BENCH_SIZES 40

typedef struct {
    size_t maxb;
    int nsizes;
    size_t bytes[BENCH_SIZES];
    double mpi_us[BENCH_SIZES];   /* best of the rounds; 0: not measured */
    double tacl__us[BENCH_SIZES]; /* best of the rounds (written by rank 0 of each round) */
    double copy_gbs;
} bench_t;

static int bench_iters(size_t bytes)
{
    size_t it = (256u << 20) / (bytes ? bytes : 1);
    return it < 20 ? 20 : it > 20000 ? 20000 : (int)it;
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

static void bench_run_mpi(bench_t *b, const char *path, int n)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mpirun --allow-run-as-root -np %d %s %zu 2>/dev/null", n, path,
             b->maxb);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    size_t bytes;
    double us;
    while (fscanf(p, "%zu %lf", &bytes, &us) == 2)
        for (int i = 0; i < b->nsizes; i++)
            if (b->bytes[i] == bytes && (b->mpi_us[i] == 0 || us < b->mpi_us[i])) b->mpi_us[i] = us;
    if (pclose(p) != 0) fprintf(stderr, "shm_allreduce: '%s' failed\n", cmd);
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
    float *a = malloc(b->maxb), *o = malloc(b->maxb);
    for (size_t i = 0; i < b->maxb / 4; i++)
        a[i] = (float)(i % 97) * 0.25f;
    uint64_t seq = 0;
    for (int s = 0; s < b->nsizes; s++) {
        size_t bytes = b->bytes[s], count = bytes / 4;
        int iters = bench_iters(bytes);
        tacl__fp_t fp = {TACL_COLL_ALL_REDUCE, TACL_FLOAT32, TACL_SUM, -1, count, 0};
        tacl_status_t st = TACL_OK;
        for (int i = 0; i < 5 && st == TACL_OK; i++) {
            fp.seq = ++seq;
            st = tacl__shm_all_reduce(g, a, o, count, TACL_FLOAT32, TACL_SUM, &fp,
                                      tacl__deadline_ns(30), &eb);
        }
        tacl__fp_t bfp = {TACL_COLL_BARRIER, 0, 0, -1, 0, ++seq};
        if (st == TACL_OK) st = tacl__shm_barrier(g, &bfp, tacl__deadline_ns(30), &eb);
        uint64_t t0 = tacl__now_ns();
        for (int i = 0; i < iters && st == TACL_OK; i++) {
            fp.seq = ++seq;
            st = tacl__shm_all_reduce(g, a, o, count, TACL_FLOAT32, TACL_SUM, &fp,
                                      tacl__deadline_ns(30), &eb);
        }
        bfp.seq = ++seq;
        if (st == TACL_OK) st = tacl__shm_barrier(g, &bfp, tacl__deadline_ns(30), &eb);
        if (st != TACL_OK) {
            fprintf(stderr, "rank %d: %s\n", ctx->rank, eb.msg);
            return 1;
        }
        double us = (double)(tacl__now_ns() - t0) * 1e-3 / iters;
        if (ctx->rank == 0 && (b->tacl__us[s] == 0 || us < b->tacl__us[s])) b->tacl__us[s] = us;
    }
    tacl__shm_group_destroy(g);
    free(a);
    free(o);
    return 0;
}

static void bench_print(const bench_t *b, int n, int rounds)
{
    printf("# float32 sum all_reduce, %d ranks%s; best of %d alternating rounds; busbw = "
           "2(n-1)/n * bytes / time\n",
           n,
           n > (int)sysconf(_SC_NPROCESSORS_ONLN) ? " (oversubscribed: more ranks than cores)" : "",
           rounds);
    printf("# memcpy 64 MiB: %.2f GB/s\n", b->copy_gbs);
    printf("%12s %12s %10s %12s %10s %9s %9s\n", "bytes", "tacl_us", "busbw", "ompi_us", "ompi_bw",
           "speedup", "bw/copy");
    for (int s = 0; s < b->nsizes; s++) {
        double us = b->tacl__us[s], f = 2.0 * (n - 1) / n * (double)b->bytes[s];
        double bw = us > 0 ? f / (us * 1e3) : 0;
        if (b->mpi_us[s] > 0)
            printf("%12zu %12.2f %10.2f %12.2f %10.2f %8.2fx %8.0f%%\n", b->bytes[s], us, bw,
                   b->mpi_us[s], f / (b->mpi_us[s] * 1e3), b->mpi_us[s] / us,
                   100.0 * bw / b->copy_gbs);
        else
            printf("%12zu %12.2f %10.2f %12s %10s %9s %8.0f%%\n", b->bytes[s], us, bw, "-", "-",
                   "-", 100.0 * bw / b->copy_gbs);
    }
}

int main(int argc, char **argv)
{
    int n = 2, rounds = 2;
    const char *mpi = NULL;
    /* Shared with the forked ranks, which record their times in it. */
    bench_t *b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) return 1;
    memset(b, 0, sizeof *b);
    b->maxb = 64u << 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-m") && i + 1 < argc)
            b->maxb = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mpi") && i + 1 < argc)
            mpi = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [-n ranks] [-m max_bytes] [-r rounds] [--mpi "
                    "mpi_allreduce]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n < 1 || n > MP_MAX_RANKS || b->maxb < 8 || rounds < 1) return 2;
    for (size_t s = 8; s <= b->maxb && b->nsizes < BENCH_SIZES; s *= 2)
        b->bytes[b->nsizes++] = s;
    b->copy_gbs = bench_copy_gbs();
    mp_result_t res[MP_MAX_RANKS];
    for (int r = 0; r < rounds; r++) {
        if (mpi) bench_run_mpi(b, mpi, n);
        if (mp_run(n, bench_rank, b, 600, res) != 0 || !mp_all_ok(res, n)) return 1;
    }
    bench_print(b, n, rounds);
    return 0;
}
