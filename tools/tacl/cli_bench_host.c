/* cli_bench_host.c — tacl bench's host backend: malloc/--mem buffers, calls, per-call times. */
#include "cli_bench.h"
#include "clock.h"
#include "tacl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static tacl_status_t bench_call(void *ctx, const bench_opts_t *o, const void *s, void *r,
                                size_t count)
{
    tacl_comm_t *w = ctx;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    switch (o->coll) {
    case B_ALL_REDUCE:
        return tacl_all_reduce(w, s, r, count, o->dt, o->op);
    case B_ALL_GATHER:
        return tacl_all_gather(w, s, r, count, o->dt);
    case B_REDUCE_SCATTER:
        return tacl_reduce_scatter(w, s, r, count, o->dt, o->op);
    case B_BROADCAST:
        return tacl_broadcast(w, s, r, count, o->dt, o->root);
    case B_REDUCE:
        return tacl_reduce(w, s, r, count, o->dt, o->op, o->root);
    case B_ALL_TO_ALL:
        return tacl_all_to_all(w, s, r, count, o->dt);
    case B_GATHER:
        return tacl_gather(w, s, r, count, o->dt, o->root);
    case B_SCATTER:
        return tacl_scatter(w, s, r, count, o->dt, o->root);
    case B_SENDRECV: {
        if (n == 1) {
            memmove(r, s, count * tacl_dtype_size(o->dt));
            return TACL_OK;
        }
        int to = (me + 1) % n, from = (me - 1 + n) % n;
        tacl_status_t st;
        if (me % 2 == 0) {
            st = tacl_send(w, s, count, o->dt, to, 0);
            if (st == TACL_OK) st = tacl_recv(w, r, count, o->dt, from, 0);
        } else {
            st = tacl_recv(w, r, count, o->dt, from, 0);
            if (st == TACL_OK) st = tacl_send(w, s, count, o->dt, to, 0);
        }
        return st;
    }
    default:
        return TACL_ERR_INVALID;
    }
}

static tacl_status_t bench_host_time(void *ctx, const bench_opts_t *o, const void *s, void *r,
                                     size_t count, double *out, double *iter_s)
{
    tacl_comm_t *w = ctx;
    tacl_status_t st;
    for (int i = 0; i < o->warmup; i++)
        if ((st = bench_call(w, o, s, r, count)) != TACL_OK) return st;
    if ((st = tacl_barrier(w)) != TACL_OK) return st;
    uint64_t t0 = tacl__now_ns(), prev = t0;
    for (int i = 0; i < o->iters; i++) {
        if ((st = bench_call(w, o, s, r, count)) != TACL_OK) return st;
        uint64_t now = tacl__now_ns();
        iter_s[i] = (double)(now - prev) * 1e-9;
        prev = now;
    }
    *out = (double)(prev - t0) * 1e-9 / o->iters;
    return TACL_OK;
}

static void *bench_host_alloc(void *ctx, size_t bytes)
{
    (void)ctx;
    return malloc(bytes ? bytes : 1);
}

static void bench_host_release(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/* --mem: every rank allocates and frees the same buffers in the same order, as tacl_mem_alloc
 * and tacl_mem_free (collective) need. */
static void *bench_mem_alloc(void *ctx, size_t bytes)
{
    void *p = NULL;
    return tacl_mem_alloc(ctx, bytes ? bytes : 1, &p) == TACL_OK ? p : NULL;
}

static void bench_mem_release(void *ctx, void *p)
{
    if (p) (void)tacl_mem_free(ctx, p);
}

static tacl_status_t bench_host_copy(void *ctx, void *dst, const void *src, size_t bytes)
{
    (void)ctx;
    if (bytes && dst != src) memmove(dst, src, bytes);
    return TACL_OK;
}

static const char *bench_host_error(void *ctx)
{
    return tacl_comm_last_error(ctx);
}

/* The host backend over w: malloc'd buffers, or with mem (--mem) tacl_mem_alloc's. */
void bench_host_backend(tacl_comm_t *w, int mem, bench_backend_t *out)
{
    bench_backend_t bk = {"host",
                          w,
                          bench_host_alloc,
                          bench_host_release,
                          bench_host_copy,
                          bench_host_copy,
                          bench_call,
                          bench_host_time,
                          bench_host_error,
                          NULL,
                          1};
    if (mem) {
        bk.name = "tacl_mem_alloc";
        bk.alloc = bench_mem_alloc;
        bk.release = bench_mem_release;
    }
    *out = bk;
}
