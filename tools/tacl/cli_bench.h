/* cli_bench.h — what the files of `tacl bench` share: the options, the collective table, the
 * backend a run goes through (where buffers live, how a call is issued and timed) and one size's
 * figures. cmd_bench.c runs (buffers, the loop over sizes); cli_bench_opts.c parses the command
 * line; cli_bench_host.c and cli_bench_gpu.c are the backends; cli_bench_check.c makes and checks
 * the values; cli_bench_out.c prints. */
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

/* One size's figures, out of place ([0]) then in place ([1]), as every rank agreed on them: the
 * slowest rank's mean and percentiles (seconds) and the wrong elements summed over the ranks. */
typedef struct {
    size_t bytes, count;
    double t[2], algbw[2], busbw[2];
    double p50[2], p99[2]; /* < 0: not measured (the backend times only the mean) */
    size_t wrong[2];
} bench_row_t;

/* cmd_bench.c */

/* The median and 99th percentile (nearest rank) of v[0 .. n), sorted in place. */
void bench_percentiles(double *v, int n, double *p50, double *p99);

/* cli_bench_opts.c */

/* Fills o from the command line (defaults for what is not given): 0, or -1 after printing why
 * on stderr. */
int bench_parse(int argc, char **argv, bench_opts_t *o);

/* Prints the short usage on stderr; returns 2 (the usage exit status). */
int bench_usage(void);

/* cli_bench_check.c */

/* Fills the send buffer s (scount elements) with rank me's input. */
void bench_fill(const bench_opts_t *o, int me, int n, char *s, size_t scount);

/* Number of wrong elements in rank me's result r (rcount elements, count per rank). */
size_t bench_wrong(const bench_opts_t *o, int me, int n, const char *r, size_t count,
                   size_t rcount);

/* cli_bench_host.c */

/* The host backend over w: malloc'd buffers, or with mem (--mem) tacl_mem_alloc's. */
void bench_host_backend(tacl_comm_t *w, int mem, bench_backend_t *out);

/* cli_bench_gpu.c */

/* The GPU backend over host communicator w: device = local rank modulo the GPUs present. */
tacl_status_t bench_gpu_backend(tacl_comm_t *w, bench_backend_t *out);

/* cli_bench_out.c (rank 0) */

/* The table's header: the run's parameters, each rank's host, the column names and units. */
void bench_print_header(const bench_opts_t *o, tacl_comm_t *w);

/* One size: a line of the table, or with -J one JSON object. */
void bench_print_row(const bench_opts_t *o, int n, const bench_row_t *row);

/* The table's summary: the wrong values (OK or FAILED) and the average bus bandwidth. */
void bench_print_footer(size_t total_wrong, double bw_sum, int nsizes);

#endif
