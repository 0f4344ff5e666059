/* cli_bench_gpu.c — the GPU backend of `tacl bench --gpu`: device buffers from the CUDA runtime
 * tacl loaded, a device communicator over the world (one process per GPU), calls enqueued on
 * one stream and timed with CUDA events as nccl-tests does; with -G the timed iterations are
 * captured once in a CUDA graph and the graph is replayed. */
#include "cli_bench.h"
#include "err.h"
#include "gpu/cudart.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    tacl_comm_t *w;
    tacl_dev_comm_t *dc;
    const tacl__cudart_t *rt;
    const tacl__cudart_lib_t *lib;
    void *stream;
    void *ev[2];
    char err[512];
} bench_gpu_t;

static tacl_status_t bench_gpu_cuda(bench_gpu_t *g, tacl_cudaError_t e, const char *what)
{
    if (e == TACL_CUDA_SUCCESS) return TACL_OK;
    snprintf(g->err, sizeof g->err, "%s: %s", what, tacl__cudart_strerror(g->lib, e));
    return tacl__err(NULL, TACL_ERR_GPU, TACL_SUB_GPU, "%s", g->err);
}

static void *bench_gpu_alloc(void *ctx, size_t bytes)
{
    bench_gpu_t *g = ctx;
    void *p = NULL;
    if (g->rt->Malloc(&p, bytes ? bytes : 1) != TACL_CUDA_SUCCESS) return NULL;
    return p;
}

static void bench_gpu_release(void *ctx, void *p)
{
    bench_gpu_t *g = ctx;
    if (p) g->rt->Free(p);
}

static tacl_status_t bench_gpu_upload(void *ctx, void *dst, const void *src, size_t bytes)
{
    bench_gpu_t *g = ctx;
    if (!bytes) return TACL_OK;
    return bench_gpu_cuda(g, g->rt->Memcpy(dst, src, bytes, TACL_CUDA_MEMCPY_H2D), "cudaMemcpy");
}

static tacl_status_t bench_gpu_download(void *ctx, void *dst, const void *src, size_t bytes)
{
    bench_gpu_t *g = ctx;
    if (!bytes) return TACL_OK;
    return bench_gpu_cuda(g, g->rt->Memcpy(dst, src, bytes, TACL_CUDA_MEMCPY_D2H), "cudaMemcpy");
}

/* Enqueues one call on the stream; nothing waits here (so it can be captured). */
static tacl_status_t bench_gpu_enqueue(bench_gpu_t *g, const bench_opts_t *o, const void *s,
                                       void *r, size_t count)
{
    tacl_dev_comm_t *dc = g->dc;
    void *st = g->stream;
    int me = tacl_dev_comm_rank(dc), n = tacl_dev_comm_size(dc);
    switch (o->coll) {
    case B_ALL_REDUCE:
        return tacl_dev_all_reduce(dc, s, r, count, o->dt, o->op, st);
    case B_ALL_GATHER:
        return tacl_dev_all_gather(dc, s, r, count, o->dt, st);
    case B_REDUCE_SCATTER:
        return tacl_dev_reduce_scatter(dc, s, r, count, o->dt, o->op, st);
    case B_BROADCAST:
        return tacl_dev_broadcast(dc, s, r, count, o->dt, o->root, st);
    case B_REDUCE:
        return tacl_dev_reduce(dc, s, r, count, o->dt, o->op, o->root, st);
    case B_ALL_TO_ALL:
        return tacl_dev_all_to_all(dc, s, r, count, o->dt, st);
    case B_GATHER:
        return tacl_dev_gather(dc, s, r, count, o->dt, o->root, st);
    case B_SCATTER:
        return tacl_dev_scatter(dc, s, r, count, o->dt, o->root, st);
    case B_SENDRECV: {
        tacl_status_t x = tacl_dev_group_start(dc);
        if (x == TACL_OK) x = tacl_dev_send(dc, s, count, o->dt, (me + 1) % n, st);
        if (x == TACL_OK) x = tacl_dev_recv(dc, r, count, o->dt, (me - 1 + n) % n, st);
        tacl_status_t y = tacl_dev_group_end(dc);
        return x != TACL_OK ? x : y;
    }
    default:
        return TACL_ERR_INVALID;
    }
}

static tacl_status_t bench_gpu_call(void *ctx, const bench_opts_t *o, const void *s, void *r,
                                    size_t count)
{
    bench_gpu_t *g = ctx;
    TACL_CHECK(bench_gpu_enqueue(g, o, s, r, count));
    return tacl_dev_comm_sync(g->dc, g->stream);
}

static tacl_status_t bench_gpu_time(void *ctx, const bench_opts_t *o, const void *s, void *r,
                                    size_t count, double *out, double *iter_s)
{
    bench_gpu_t *g = ctx;
    const tacl__cudart_t *rt = g->rt;
    (void)iter_s; /* one pair of events around all the calls: no per-call times */
    for (int i = 0; i < o->warmup; i++)
        TACL_CHECK(bench_gpu_enqueue(g, o, s, r, count));
    TACL_CHECK(tacl_dev_comm_sync(g->dc, g->stream));
    void *graph = NULL, *exec = NULL;
    if (o->graph) {
        TACL_CHECK(bench_gpu_cuda(g,
                                  rt->StreamBeginCapture(g->stream, TACL_CUDA_CAPTURE_THREAD_LOCAL),
                                  "cudaStreamBeginCapture"));
        tacl_status_t st = TACL_OK;
        for (int i = 0; i < o->iters && st == TACL_OK; i++)
            st = bench_gpu_enqueue(g, o, s, r, count);
        tacl_status_t ce =
            bench_gpu_cuda(g, rt->StreamEndCapture(g->stream, &graph), "cudaStreamEndCapture");
        if (st != TACL_OK) return st;
        TACL_CHECK(ce);
        st = bench_gpu_cuda(g, rt->GraphInstantiateWithFlags(&exec, graph, 0),
                            "cudaGraphInstantiate");
        if (st != TACL_OK) {
            rt->GraphDestroy(graph);
            return st;
        }
        /* One replay untimed: the first launch uploads the graph. */
        st = bench_gpu_cuda(g, rt->GraphLaunch(exec, g->stream), "cudaGraphLaunch");
        if (st == TACL_OK) st = tacl_dev_comm_sync(g->dc, g->stream);
        if (st != TACL_OK) {
            rt->GraphExecDestroy(exec);
            rt->GraphDestroy(graph);
            return st;
        }
    }
    tacl_status_t st = tacl_barrier(g->w);
    if (st == TACL_OK)
        st = bench_gpu_cuda(g, rt->EventRecord(g->ev[0], g->stream), "cudaEventRecord");
    if (st == TACL_OK && o->graph)
        st = bench_gpu_cuda(g, rt->GraphLaunch(exec, g->stream), "cudaGraphLaunch");
    for (int i = 0; i < o->iters && st == TACL_OK && !o->graph; i++)
        st = bench_gpu_enqueue(g, o, s, r, count);
    if (st == TACL_OK)
        st = bench_gpu_cuda(g, rt->EventRecord(g->ev[1], g->stream), "cudaEventRecord");
    if (st == TACL_OK) st = tacl_dev_comm_sync(g->dc, g->stream);
    float ms = 0;
    if (st == TACL_OK)
        st = bench_gpu_cuda(g, rt->EventElapsedTime(&ms, g->ev[0], g->ev[1]),
                            "cudaEventElapsedTime");
    if (exec) rt->GraphExecDestroy(exec);
    if (graph) rt->GraphDestroy(graph);
    if (st == TACL_OK) *out = (double)ms * 1e-3 / o->iters;
    return st;
}

static const char *bench_gpu_error(void *ctx)
{
    bench_gpu_t *g = ctx;
    if (g->err[0]) return g->err;
    return tacl_dev_comm_last_error(g->dc);
}

static void bench_gpu_fini(void *ctx)
{
    bench_gpu_t *g = ctx;
    if (g->ev[0]) g->rt->EventDestroy(g->ev[0]);
    if (g->ev[1]) g->rt->EventDestroy(g->ev[1]);
    if (g->dc) tacl_dev_comm_destroy(g->dc);
    if (g->stream) g->rt->StreamDestroy(g->stream);
    free(g);
}

tacl_status_t bench_gpu_backend(tacl_comm_t *w, bench_backend_t *out)
{
    bench_gpu_t *g = calloc(1, sizeof *g);
    if (!g) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_GPU, "out of memory");
    g->w = w;
    tacl_status_t st = tacl__cudart_get(&g->lib, NULL);
    if (st != TACL_OK) {
        free(g);
        return st;
    }
    g->rt = &g->lib->fn;
    int ngpu = 0;
    if (g->rt->GetDeviceCount(&ngpu) != TACL_CUDA_SUCCESS || ngpu < 1) {
        free(g);
        return tacl__err(NULL, TACL_ERR_UNAVAILABLE, TACL_SUB_GPU, "no GPU visible to rank %d",
                         tacl_comm_rank(w));
    }
    int dev = tacl_comm_local_rank(w) % ngpu;
    st = bench_gpu_cuda(g, g->rt->SetDevice(dev), "cudaSetDevice");
    if (st == TACL_OK) st = bench_gpu_cuda(g, g->rt->StreamCreate(&g->stream), "cudaStreamCreate");
    if (st == TACL_OK) st = bench_gpu_cuda(g, g->rt->EventCreate(&g->ev[0]), "cudaEventCreate");
    if (st == TACL_OK) st = bench_gpu_cuda(g, g->rt->EventCreate(&g->ev[1]), "cudaEventCreate");
    if (st == TACL_OK) st = tacl_dev_comm_create(w, dev, &g->dc);
    if (st != TACL_OK) {
        bench_gpu_fini(g);
        return st;
    }
    *out = (bench_backend_t){"gpu",
                             g,
                             bench_gpu_alloc,
                             bench_gpu_release,
                             bench_gpu_upload,
                             bench_gpu_download,
                             bench_gpu_call,
                             bench_gpu_time,
                             bench_gpu_error,
                             bench_gpu_fini,
                             0};
    return TACL_OK;
}
