/* gpu_nccl_raw.c — the raw-NCCL peer of `tacl bench --gpu`: the same NCCL library (found by
 * tacl's loader, so both measure the same build) called directly from C, one process per GPU,
 * under `tacl run -n N -- gpu_nccl_raw [min_bytes max_bytes iters [raw|tacl|both [reps]]]`:
 * ncclCommInitRank, ncclAllReduce (float32, sum, out of place) on one stream, CUDA-event timing,
 * nccl-tests' columns on rank 0, plus the host time per enqueue (host(us)). The host
 * communicator only carries the unique id and the timings.
 *   tacl: the same loop calls tacl_dev_all_reduce on a tacl device communicator instead.
 *   both: one process holds both communicators and alternates a raw loop and a tacl loop reps
 *         times (default 5) per size, printing the median of each and the difference; small
 *         calls are bound by the host's enqueue rate, which differs more between two launches
 *         (cores, clocks) than between the two paths, so only this mode compares them. */
#include "clock.h"
#include "gpu/cudart.h"
#include "gpu/nccl.h"
#include "tacl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAW_CHECK(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "gpu_nccl_raw: " __VA_ARGS__);                                         \
            fprintf(stderr, "\n");                                                                 \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* One all-reduce, enqueued raw or through tacl; 1 when it was accepted. */
static int raw_call(const tacl__nccl_t *nc, ncclComm_t comm, tacl_dev_comm_t *dc, const void *s,
                    void *r, size_t count, void *stream)
{
    if (dc) return tacl_dev_all_reduce(dc, s, r, count, TACL_FLOAT32, TACL_SUM, stream) == TACL_OK;
    return nc->AllReduce(s, r, count, ncclFloat32, ncclSum, comm, stream) == ncclSuccess;
}

typedef struct {
    const tacl__cudart_t *rt;
    const tacl__nccl_t *nc;
    tacl_comm_t *w;
    ncclComm_t comm;
    tacl_dev_comm_t *dc;
    void *s, *r, *stream, *e0, *e1;
} raw_ctx_t;

/* One timed loop of iters calls (raw, or through tacl when use_tacl), after a warm-up and a
 * barrier; the slowest rank's device time and host enqueue time per call, in seconds. */
static int raw_time(raw_ctx_t *x, int use_tacl, size_t count, int iters, double *t, double *host)
{
    tacl_dev_comm_t *dc = use_tacl ? x->dc : NULL;
    for (int i = 0; i < 5; i++)
        RAW_CHECK(raw_call(x->nc, x->comm, dc, x->s, x->r, count, x->stream), "all_reduce: %s",
                  dc ? tacl_dev_comm_last_error(dc) : "NCCL error");
    x->rt->StreamSynchronize(x->stream);
    tacl_barrier(x->w);
    x->rt->EventRecord(x->e0, x->stream);
    double h0 = tacl__now_s();
    for (int i = 0; i < iters; i++)
        raw_call(x->nc, x->comm, dc, x->s, x->r, count, x->stream);
    *host = (tacl__now_s() - h0) / iters;
    x->rt->EventRecord(x->e1, x->stream);
    RAW_CHECK(x->rt->StreamSynchronize(x->stream) == 0, "stream failed at %zu elements", count);
    float ms = 0;
    x->rt->EventElapsedTime(&ms, x->e0, x->e1);
    *t = (double)ms * 1e-3 / iters;
    tacl_all_reduce(x->w, t, t, 1, TACL_FLOAT64, TACL_MAX);
    tacl_all_reduce(x->w, host, host, 1, TACL_FLOAT64, TACL_MAX);
    return 0;
}

static int raw_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double raw_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, raw_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    size_t lo = argc > 1 ? strtoull(argv[1], NULL, 0) : 8;
    size_t hi = argc > 2 ? strtoull(argv[2], NULL, 0) : (size_t)1 << 30;
    int iters = argc > 3 ? atoi(argv[3]) : 20;
    const char *mode = argc > 4 ? argv[4] : "raw";
    int reps = argc > 5 ? atoi(argv[5]) : 5;
    int want_raw = strcmp(mode, "tacl") != 0, want_tacl = strcmp(mode, "raw") != 0;
    RAW_CHECK(!strcmp(mode, "raw") || !strcmp(mode, "tacl") || !strcmp(mode, "both"),
              "mode must be raw, tacl or both (got %s)", mode);
    RAW_CHECK(reps >= 1 && reps <= 100, "reps must be 1..100 (got %d)", reps);
    const tacl__cudart_lib_t *cl;
    const tacl__nccl_lib_t *nl;
    RAW_CHECK(tacl__cudart_get(&cl, NULL) == TACL_OK, "%s", tacl_last_error());
    RAW_CHECK(tacl__nccl_get(&nl, NULL) == TACL_OK, "%s", tacl_last_error());
    raw_ctx_t x = {&cl->fn, &nl->fn, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    const tacl__cudart_t *rt = x.rt;
    RAW_CHECK(tacl_init(&x.w) == TACL_OK, "%s", tacl_last_error());
    int rank = tacl_comm_rank(x.w), size = tacl_comm_size(x.w), ngpu = 0;
    RAW_CHECK(rt->GetDeviceCount(&ngpu) == 0 && ngpu > 0, "no GPU");
    int dev = tacl_comm_local_rank(x.w) % ngpu;
    rt->SetDevice(dev);
    if (want_tacl)
        RAW_CHECK(tacl_dev_comm_create(x.w, dev, &x.dc) == TACL_OK, "%s", tacl_last_error());
    if (want_raw) {
        ncclUniqueId id;
        if (rank == 0) RAW_CHECK(x.nc->GetUniqueId(&id) == 0, "ncclGetUniqueId failed");
        RAW_CHECK(tacl_broadcast(x.w, &id, &id, sizeof id, TACL_UINT8, 0) == TACL_OK, "broadcast");
        RAW_CHECK(x.nc->CommInitRank(&x.comm, size, id, rank) == 0, "ncclCommInitRank failed");
    }
    RAW_CHECK(rt->Malloc(&x.s, hi) == 0 && rt->Malloc(&x.r, hi) == 0, "cudaMalloc of %zu bytes",
              hi);
    rt->Memset(x.s, 0, hi);
    rt->StreamCreate(&x.stream);
    rt->EventCreate(&x.e0);
    rt->EventCreate(&x.e1);
    int both = want_raw && want_tacl;
    if (rank == 0) {
        char v[32];
        tacl__nccl_version_str(nl->version, v, sizeof v);
        printf("# %s NCCL %s (%s) all_reduce, %d ranks, one process per GPU\n",
               both       ? "raw vs tacl_dev_all_reduce (one process, alternated) on"
               : want_raw ? "raw"
                          : "tacl_dev_all_reduce on",
               v, nl->cand[nl->chosen].path, size);
        if (both)
            printf("# medians of %d alternations of %d calls each\n#%11s %12s %10s %10s %9s %9s "
                   "%9s\n",
                   reps, iters, "size(B)", "count", "raw(us)", "tacl(us)", "diff(us)", "rawhost",
                   "taclhost");
        else
            printf("#%11s %12s %8s %10s %8s %8s %8s\n", "size(B)", "count", "type", "time(us)",
                   "algbw", "busbw", "host(us)");
    }
    for (size_t bytes = lo; bytes <= hi; bytes *= 2) {
        size_t count = bytes / 4;
        if (both) {
            double tr[100], tt[100], hr[100], ht[100];
            for (int k = 0; k < reps; k++) {
                if (raw_time(&x, 0, count, iters, &tr[k], &hr[k])) return 1;
                if (raw_time(&x, 1, count, iters, &tt[k], &ht[k])) return 1;
            }
            double mr = raw_median(tr, reps), mt = raw_median(tt, reps);
            if (rank == 0)
                printf(" %11zu %12zu %10.2f %10.2f %+9.2f %9.2f %9.2f\n", bytes, count, mr * 1e6,
                       mt * 1e6, (mt - mr) * 1e6, raw_median(hr, reps) * 1e6,
                       raw_median(ht, reps) * 1e6);
        } else {
            double t, host;
            if (raw_time(&x, want_tacl, count, iters, &t, &host)) return 1;
            double algbw = (double)bytes / t * 1e-9;
            if (rank == 0)
                printf(" %11zu %12zu %8s %10.2f %8.2f %8.2f %8.2f\n", bytes, count, "float",
                       t * 1e6, algbw, algbw * 2.0 * (size - 1) / size, host * 1e6);
        }
        fflush(stdout);
    }
    if (x.dc) tacl_dev_comm_destroy(x.dc);
    if (x.comm) x.nc->CommDestroy(x.comm);
    rt->Free(x.s);
    rt->Free(x.r);
    tacl_comm_destroy(x.w);
    return 0;
}
