/* algo_shm.c — the shared-memory group's row: every collective of a communicator whose ranks
 * all share one host runs directly on the group's slots (transport/shm/shm_group.h); the
 * fixed-block kinds pass their blocks as byte counts and displacements. */
#include "coll/algo.h"
#include "transport/shm/shm_group.h"

#include <stdlib.h>
#include <string.h>

tacl_status_t algo_shm_all_reduce(coll_ctx_t *x, const coll_args_t *a)
{
    return tacl__shm_all_reduce(x->c->shm, a->send, a->recv, a->count, a->dt, a->op, &x->fp,
                                x->deadline, &x->c->err);
}

tacl_status_t algo_shm_reduce(coll_ctx_t *x, const coll_args_t *a)
{
    return tacl__shm_reduce(x->c->shm, a->send, a->recv, a->count, a->dt, a->op, a->root, &x->fp,
                            x->deadline, &x->c->err);
}

tacl_status_t algo_shm_broadcast(coll_ctx_t *x, const coll_args_t *a)
{
    return tacl__shm_broadcast(x->c->shm, a->send, a->recv, a->count * a->esz, a->root, &x->fp,
                               x->deadline, &x->c->err);
}

tacl_status_t algo_shm_reduce_scatter(coll_ctx_t *x, const coll_args_t *a)
{
    return tacl__shm_reduce_scatter(x->c->shm, a->send, a->recv, a->count, a->dt, a->op, &x->fp,
                                    x->deadline, &x->c->err);
}

tacl_status_t algo_shm_barrier(coll_ctx_t *x, const coll_args_t *a)
{
    (void)a;
    return tacl__shm_barrier(x->c->shm, &x->fp, x->deadline, &x->c->err);
}

/* Byte counts and displacements of n blocks: fixed blocks of count elements, or the given
 * element counts and displacements. */
typedef struct {
    size_t *cnt, *dsp;
} shm_blocks_t;

static tacl_status_t shm_blocks(tacl_comm_t *c, const coll_args_t *a, const size_t *counts,
                                const size_t *displs, shm_blocks_t *b)
{
    size_t n = (size_t)c->size, esz = a->esz;
    b->cnt = malloc(n * sizeof *b->cnt);
    b->dsp = malloc(n * sizeof *b->dsp);
    if (!b->cnt || !b->dsp) {
        free(b->cnt);
        free(b->dsp);
        b->cnt = b->dsp = NULL;
        return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    }
    for (size_t r = 0; r < n; r++) {
        b->cnt[r] = (counts ? counts[r] : a->count) * esz;
        b->dsp[r] = (displs ? displs[r] : r * a->count) * esz;
    }
    return TACL_OK;
}

static void shm_blocks_free(shm_blocks_t *b)
{
    free(b->cnt);
    free(b->dsp);
}

tacl_status_t algo_shm_all_gatherv(coll_ctx_t *x, const coll_args_t *a)
{
    shm_blocks_t b;
    TACL_CHECK(shm_blocks(x->c, a, a->recv_counts, a->recv_displs, &b));
    tacl_status_t st = tacl__shm_all_gatherv(x->c->shm, a->send, a->count * a->esz, a->recv, b.cnt,
                                             b.dsp, &x->fp, x->deadline, &x->c->err);
    shm_blocks_free(&b);
    return st;
}

tacl_status_t algo_shm_gather(coll_ctx_t *x, const coll_args_t *a)
{
    shm_blocks_t b;
    TACL_CHECK(shm_blocks(x->c, a, NULL, NULL, &b));
    tacl_status_t st = tacl__shm_gatherv(x->c->shm, a->send, a->count * a->esz, a->recv, b.cnt,
                                         b.dsp, a->root, &x->fp, x->deadline, &x->c->err);
    shm_blocks_free(&b);
    return st;
}

tacl_status_t algo_shm_scatter(coll_ctx_t *x, const coll_args_t *a)
{
    shm_blocks_t b;
    TACL_CHECK(shm_blocks(x->c, a, NULL, NULL, &b));
    tacl_status_t st =
        tacl__shm_scatterv(x->c->shm, a->send, b.cnt, b.dsp, a->recv, a->count * a->esz, a->root,
                           &x->fp, x->deadline, &x->c->err);
    shm_blocks_free(&b);
    return st;
}

/* In place needs no copy: each step reads a piece of every block before the step and writes
 * the same piece of the same blocks after it. */
tacl_status_t algo_shm_all_to_all(coll_ctx_t *x, const coll_args_t *a)
{
    shm_blocks_t b;
    TACL_CHECK(shm_blocks(x->c, a, NULL, NULL, &b));
    tacl_status_t st = tacl__shm_all_to_allv(x->c->shm, a->send, b.cnt, b.dsp, a->recv, b.cnt,
                                             b.dsp, &x->fp, x->deadline, &x->c->err);
    shm_blocks_free(&b);
    return st;
}

/* In place the layouts differ: later steps would read blocks already overwritten, so the send
 * side is copied first. */
tacl_status_t algo_shm_all_to_allv(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    shm_blocks_t s, r;
    TACL_CHECK(shm_blocks(c, a, a->send_counts, a->send_displs, &s));
    tacl_status_t st = shm_blocks(c, a, a->recv_counts, a->recv_displs, &r);
    if (st != TACL_OK) {
        shm_blocks_free(&s);
        return st;
    }
    const void *send = a->send;
    void *copy = NULL;
    size_t span = 0;
    for (int k = 0; k < c->size; k++)
        if (s.cnt[k] && s.dsp[k] + s.cnt[k] > span) span = s.dsp[k] + s.cnt[k];
    if (span && a->send == a->recv) {
        if (!(copy = malloc(span))) {
            st = tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
            goto out;
        }
        memcpy(copy, a->send, span);
        send = copy;
    }
    st = tacl__shm_all_to_allv(c->shm, send, s.cnt, s.dsp, a->recv, r.cnt, r.dsp, &x->fp,
                               x->deadline, &c->err);
    free(copy);
out:
    shm_blocks_free(&s);
    shm_blocks_free(&r);
    return st;
}
