/* algo_ring.c — ring algorithms over the communicator's ring order (a Hamiltonian cycle of
 * direct links when the graph has one): all_reduce as reduce-scatter + all-gather, and the
 * two halves on their own. Each block's reduction is computed once, by one rank, and then
 * copied, so every rank ends with bitwise identical results. */
#include "coll/algo.h"
#include "reduce.h"

#include <stdlib.h>
#include <string.h>

/* Block b of n over count elements: balanced split. */
static void ring_block(size_t count, int n, int b, size_t *off, size_t *len)
{
    size_t base = count / (size_t)n, rem = count % (size_t)n, ub = (size_t)b;
    *off = ub * base + (ub < rem ? ub : rem);
    *len = base + (ub < rem ? 1 : 0);
}

static int ring_mod(int a, int n)
{
    return ((a % n) + n) % n;
}

/* Reduce-scatter phase on buf (count elements) in place: afterwards block (pos + 1) mod n of
 * the ring order holds the full reduction at ring position pos. */
static tacl_status_t ring_rs_phase(coll_ctx_t *x, char *buf, size_t count, tacl_dtype_t dt,
                                   tacl_op_t op, size_t esz, char *tmp)
{
    tacl_comm_t *c = x->c;
    int n = c->size, pos = c->ring_pos;
    int next = c->ring[ring_mod(pos + 1, n)], prev = c->ring[ring_mod(pos - 1, n)];
    for (int s = 0; s < n - 1; s++) {
        size_t so, sl, ro, rl;
        ring_block(count, n, ring_mod(pos - s, n), &so, &sl);
        ring_block(count, n, ring_mod(pos - s - 1, n), &ro, &rl);
        TACL_CHECK(coll_sendrecv(x, next, buf + so * esz, sl * esz, prev, tmp, rl * esz));
        tacl__reduce_inplace(buf + ro * esz, tmp, rl, dt, op);
    }
    return TACL_OK;
}

/* All-gather phase: block (pos + 1) mod n is final here; circulate the final blocks. */
static tacl_status_t ring_ag_phase(coll_ctx_t *x, char *buf, size_t count, size_t esz)
{
    tacl_comm_t *c = x->c;
    int n = c->size, pos = c->ring_pos;
    int next = c->ring[ring_mod(pos + 1, n)], prev = c->ring[ring_mod(pos - 1, n)];
    for (int s = 0; s < n - 1; s++) {
        size_t so, sl, ro, rl;
        ring_block(count, n, ring_mod(pos + 1 - s, n), &so, &sl);
        ring_block(count, n, ring_mod(pos - s, n), &ro, &rl);
        TACL_CHECK(
            coll_sendrecv(x, next, buf + so * esz, sl * esz, prev, buf + ro * esz, rl * esz));
    }
    return TACL_OK;
}

tacl_status_t algo_allreduce_ring(coll_ctx_t *x, const coll_args_t *a)
{
    size_t esz = a->esz, bytes = a->count * esz;
    if (a->send != a->recv && bytes) memmove(a->recv, a->send, bytes);
    if (a->count == 0) return TACL_OK;
    size_t maxblk = (a->count + (size_t)x->c->size - 1) / (size_t)x->c->size;
    char *tmp = malloc(maxblk * esz + 1);
    if (!tmp) return tacl__err(&x->c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    tacl_status_t st = ring_rs_phase(x, a->recv, a->count, a->dt, a->op, esz, tmp);
    if (st == TACL_OK) st = ring_ag_phase(x, a->recv, a->count, esz);
    free(tmp);
    return st;
}

/* All-gather of variable blocks: rank r's block travels the ring; at step s a rank forwards
 * the block it received at step s-1. */
tacl_status_t algo_allgatherv_ring(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    int n = c->size, pos = c->ring_pos;
    int next = c->ring[ring_mod(pos + 1, n)], prev = c->ring[ring_mod(pos - 1, n)];
    char *recv = a->recv;
    size_t esz = a->esz;
    const size_t *cnt = a->recv_counts, *dsp = a->recv_displs;
    char *mine = recv + dsp[c->rank] * esz;
    if (a->send != mine && cnt[c->rank]) memmove(mine, a->send, cnt[c->rank] * esz);
    for (int s = 0; s < n - 1; s++) {
        int sb = c->ring[ring_mod(pos - s, n)], rb = c->ring[ring_mod(pos - s - 1, n)];
        TACL_CHECK(coll_sendrecv(x, next, recv + dsp[sb] * esz, cnt[sb] * esz, prev,
                                 recv + dsp[rb] * esz, cnt[rb] * esz));
    }
    return TACL_OK;
}

/* Reduce-scatter: blocks of recv_count elements in comm-rank order; the ring phase runs on a
 * copy laid out in ring order so that rank r ends with block r. */
tacl_status_t algo_reduce_scatter_ring(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    int n = c->size, pos = c->ring_pos;
    size_t esz = a->esz, blk = a->count * esz;
    if (a->count == 0) return TACL_OK;
    /* Ring position p's reduce-scatter block is (p + 1) mod n; place comm rank
     * ring[(p + 1 - 1)] ... i.e. block index b of the work buffer holds the data destined to
     * the rank at ring position b - 1. */
    char *work = malloc((size_t)n * blk), *tmp = malloc(blk);
    if (!work || !tmp) {
        free(work);
        free(tmp);
        return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    }
    for (int b = 0; b < n; b++) {
        int owner = c->ring[ring_mod(b - 1, n)];
        memcpy(work + (size_t)b * blk, (const char *)a->send + (size_t)owner * blk, blk);
    }
    tacl_status_t st = ring_rs_phase(x, work, a->count * (size_t)n, a->dt, a->op, esz, tmp);
    if (st == TACL_OK) memcpy(a->recv, work + (size_t)ring_mod(pos + 1, n) * blk, blk);
    free(work);
    free(tmp);
    return st;
}
