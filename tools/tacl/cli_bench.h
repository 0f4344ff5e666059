/* cli_bench.h — what `tacl bench` shares between its host path (cmd_bench.c) and its GPU path
 * (cli_bench_gpu.c): the options, the collective table, and the backend a run goes through
 * (where buffers live, how a call is issued and timed). */
#ifndef TACL_CLI_BENCH_H
#define TACL_CLI_BENCH_H

#include "tacl.h"

#include <stddef.h>

typedef enum {
    B_ALL_REDUCE,
    B_ALL_GATHER,
    B_REDUCE_SCATTER,
    B_BROADCAST,
    B_REDUCE,
    B_ALL_TO_ALL,
    B_GATHER,
    B_SCATTER,
    B_SENDRECV,
    B_COUNT
} bench_coll_t;

typedef struct {
    const char *name, *alias;
    int rooted, reduces;
} bench_coll_info_t;
extern const bench_coll_info_t bench_colls[B_COUNT];

typedef struct {
    bench_coll_t coll;
    size_t minb, maxb;
    double factor;
    size_t stepb;
    int iters, warmup, check;
    tacl_dtype_t dt;
    tacl_op_t op;
    int root;
    int json;
    int gpu;   /* --gpu: device buffers, one process per GPU */
    int graph; /* -G: the timed iterations are captured in a CUDA graph and replayed */
    int mem;   /* --mem: host buffers from tacl_mem_alloc (the host's ranks map them) */
} bench_opts_t;

/* Where a run's buffers live and how its calls are issued and timed. */
typedef struct {
    const char *name;
    void *ctx;
    void *(*alloc)(void *ctx, size_t bytes);
    void (*release)(void *ctx, void *p);
    tacl_status_t (*upload)(void *ctx, void *dst, const void *src, size_t bytes);
    tacl_status_t (*download)(void *ctx, void *dst, const void *src, size_t bytes);
    /* One call of the collective (completed before returning). */
    tacl_status_t (*call)(void *ctx, const bench_opts_t *o, const void *s, void *r, size_t count);
    /* Mean seconds per call on this rank over o->iters calls after o->warmup; with
     * iter_times, also each call's seconds into iter_s[0 .. o->iters). */
    tacl_status_t (*time)(void *ctx, const bench_opts_t *o, const void *s, void *r, size_t count,
                          double *out, double *iter_s);
    const char *(*last_error)(void *ctx);
    void (*fini)(void *ctx);
    int iter_times; /* 1: time() measures every call (the host); 0: only the mean (the GPU) */
} bench_backend_t;

/* The median and 99th percentile (nearest rank) of v[0 .. n), sorted in place. */
void bench_percentiles(double *v, int n, double *p50, double *p99);

/* The GPU backend over host communicator w: device = local rank modulo the GPUs present. */
tacl_status_t bench_gpu_backend(tacl_comm_t *w, bench_backend_t *out);

#endif
