/* coll.c — the one entry point of every host collective: each public call packs its arguments,
 * is checked here (TACL_ERR_INVALID before anything is sent), gets its fingerprint and
 * deadline, and is handed to the algorithm coll_select() picks. Errors are recorded in the
 * communicator's last-error message; a lost peer marks the communicator broken. */
#include "coll/coll.h"
#include "clock.h"
#include "reduce.h"
#include "transport/shm/shm_group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *coll_what(tacl_coll_t k)
{
    return tacl_coll_name(k);
}

tacl_status_t coll_check_comm(tacl_comm_t *c, const char *what)
{
    if (!c) return tacl_err(NULL, TACL_ERR_INVALID, TACL_SUB_COLL, "%s: NULL communicator", what);
    if (c->magic != COMM_MAGIC)
        return tacl_err(NULL, TACL_ERR_INVALID, TACL_SUB_COLL,
                        "%s: not a live communicator (used after tacl_comm_destroy?)", what);
    if (c->broken)
        return tacl_err(&c->err, c->broken_st, TACL_SUB_COLL,
                        "%s: communicator unusable after an earlier failure (%s); destroy it", what,
                        tacl_status_name(c->broken_st));
    return TACL_OK;
}

tacl_status_t comm_fail(tacl_comm_t *c, tacl_status_t st)
{
    if (st == TACL_ERR_PEER_LOST) {
        c->broken = 1;
        c->broken_st = st;
    }
    return st;
}

static int coll_is_reduction(tacl_coll_t k)
{
    return k == TACL_COLL_ALL_REDUCE || k == TACL_COLL_REDUCE || k == TACL_COLL_REDUCE_SCATTER;
}

static int coll_is_rooted(tacl_coll_t k)
{
    return k == TACL_COLL_REDUCE || k == TACL_COLL_BROADCAST || k == TACL_COLL_GATHER ||
           k == TACL_COLL_SCATTER;
}

/* Argument checks shared by every collective; messages name the call and the argument. */
static tacl_status_t coll_validate(tacl_comm_t *c, const coll_args_t *a)
{
    const char *what = coll_what(a->kind);
    TACL_CHECK(coll_check_comm(c, what));
    if (a->esz == 0)
        return tacl_err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL, "%s: unknown dtype %d", what,
                        (int)a->dt);
    if (coll_is_reduction(a->kind) && ((int)a->op < 0 || a->op >= TACL_OP_COUNT))
        return tacl_err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                        "%s: unknown reduction op %d (expected sum, prod, min, max or avg)", what,
                        (int)a->op);
    if (coll_is_rooted(a->kind) && (a->root < 0 || a->root >= c->size))
        return tacl_err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                        "%s: root %d out of range (communicator size %d)", what, a->root, c->size);
    size_t n = (size_t)c->size;
    if (a->count > SIZE_MAX / a->esz / n)
        return tacl_err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                        "%s: count %zu of %s overflows the address space", what, a->count,
                        tacl_dtype_name(a->dt));
    int me_root = a->root == c->rank;
    int need_send = 0, need_recv = 0;
    switch (a->kind) {
    case TACL_COLL_ALL_REDUCE:
    case TACL_COLL_ALL_GATHER:
    case TACL_COLL_REDUCE_SCATTER:
    case TACL_COLL_ALL_TO_ALL:
        need_send = need_recv = a->count > 0;
        break;
    case TACL_COLL_REDUCE:
    case TACL_COLL_GATHER:
        need_send = a->count > 0;
        need_recv = a->count > 0 && me_root;
        break;
    case TACL_COLL_BROADCAST:
        need_send = a->count > 0 && me_root;
        need_recv = a->count > 0;
        break;
    case TACL_COLL_SCATTER:
        need_send = a->count > 0 && me_root;
        need_recv = a->count > 0;
        break;
    case TACL_COLL_ALL_GATHERV: {
        if (!a->recv_counts || !a->recv_displs)
            return tacl_err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                            "%s: recv_counts and displs must not be NULL", what);
        if (a->recv_counts[c->rank] != a->count)
            return tacl_err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                            "%s: send_count %zu differs from recv_counts[%d] = %zu", what, a->count,
                            c->rank, a->recv_counts[c->rank]);
        size_t total = 0;
        for (int r = 0; r < c->size; r++)
            total += a->recv_counts[r];
        need_send = a->count > 0;
        need_recv = total > 0;
        break;
    }
    case TACL_COLL_ALL_TO_ALLV: {
        if (!a->send_counts || !a->send_displs || !a->recv_counts || !a->recv_displs)
            return tacl_err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                            "%s: count and displacement arrays must not be NULL", what);
        size_t ts = 0, tr = 0;
        for (int r = 0; r < c->size; r++) {
            ts += a->send_counts[r];
            tr += a->recv_counts[r];
        }
        need_send = ts > 0;
        need_recv = tr > 0;
        break;
    }
    default:
        break;
    }
    if (need_send && !a->send)
        return tacl_err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                        "%s: NULL send buffer with count %zu on rank %d", what, a->count, c->rank);
    if (need_recv && !a->recv)
        return tacl_err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                        "%s: NULL recv buffer with count %zu on rank %d", what, a->count, c->rank);
    return TACL_OK;
}

/* The fingerprint every rank must agree on. */
static tacl_fp_t coll_fingerprint(tacl_comm_t *c, const coll_args_t *a)
{
    tacl_fp_t fp = {(uint32_t)a->kind, (uint32_t)a->dt, 0, -1, a->count, c->seq};
    if (coll_is_reduction(a->kind)) fp.op = (uint32_t)a->op;
    if (coll_is_rooted(a->kind)) fp.root = a->root;
    if (a->kind == TACL_COLL_ALL_GATHERV) {
        size_t total = 0;
        for (int r = 0; r < c->size; r++)
            total += a->recv_counts[r];
        fp.count = total;
    } else if (a->kind == TACL_COLL_ALL_TO_ALLV || a->kind == TACL_COLL_BARRIER) {
        fp.count = 0;
    }
    return fp;
}

/* One rank: every collective is a copy (or nothing). */
static tacl_status_t coll_run_self(const coll_args_t *a)
{
    size_t bytes = a->count * a->esz;
    switch (a->kind) {
    case TACL_COLL_ALL_GATHERV:
        bytes = a->recv_counts[0] * a->esz;
        if (a->recv && a->send != (char *)a->recv + a->recv_displs[0] * a->esz)
            memmove((char *)a->recv + a->recv_displs[0] * a->esz, a->send, bytes);
        return TACL_OK;
    case TACL_COLL_ALL_TO_ALLV:
        bytes = a->send_counts[0] * a->esz;
        if (bytes)
            memmove((char *)a->recv + a->recv_displs[0] * a->esz,
                    (const char *)a->send + a->send_displs[0] * a->esz, bytes);
        return TACL_OK;
    case TACL_COLL_BARRIER:
        return TACL_OK;
    default:
        if (bytes && a->send != a->recv) memmove(a->recv, a->send, bytes);
        return TACL_OK;
    }
}

/* Same-host communicator: the direct shared-memory algorithms (v-variants in bytes). */
static tacl_status_t coll_run_shm(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    tacl_shm_group_t *g = c->shm;
    size_t n = (size_t)c->size, esz = a->esz;
    size_t *b1 = NULL, *b2 = NULL, *b3 = NULL, *b4 = NULL;
    tacl_status_t st;
    switch (a->kind) {
    case TACL_COLL_ALL_REDUCE:
        return tacl_shm_all_reduce(g, a->send, a->recv, a->count, a->dt, a->op, &x->fp, x->deadline,
                                   &c->err);
    case TACL_COLL_REDUCE:
        return tacl_shm_reduce(g, a->send, a->recv, a->count, a->dt, a->op, a->root, &x->fp,
                               x->deadline, &c->err);
    case TACL_COLL_BROADCAST:
        return tacl_shm_broadcast(g, a->send, a->recv, a->count * esz, a->root, &x->fp, x->deadline,
                                  &c->err);
    case TACL_COLL_REDUCE_SCATTER:
        return tacl_shm_reduce_scatter(g, a->send, a->recv, a->count, a->dt, a->op, &x->fp,
                                       x->deadline, &c->err);
    case TACL_COLL_BARRIER:
        return tacl_shm_barrier(g, &x->fp, x->deadline, &c->err);
    default:
        break;
    }
    b1 = calloc(n, sizeof *b1);
    b2 = calloc(n, sizeof *b2);
    b3 = calloc(n, sizeof *b3);
    b4 = calloc(n, sizeof *b4);
    if (!b1 || !b2 || !b3 || !b4) {
        st = tacl_err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
        goto out;
    }
    for (size_t r = 0; r < n; r++) {
        switch (a->kind) {
        case TACL_COLL_ALL_GATHER:
        case TACL_COLL_GATHER:
        case TACL_COLL_SCATTER:
        case TACL_COLL_ALL_TO_ALL:
            b1[r] = b3[r] = a->count * esz;
            b2[r] = b4[r] = r * a->count * esz;
            break;
        case TACL_COLL_ALL_GATHERV:
            b1[r] = a->recv_counts[r] * esz;
            b2[r] = a->recv_displs[r] * esz;
            break;
        case TACL_COLL_ALL_TO_ALLV:
            b1[r] = a->send_counts[r] * esz;
            b2[r] = a->send_displs[r] * esz;
            b3[r] = a->recv_counts[r] * esz;
            b4[r] = a->recv_displs[r] * esz;
            break;
        default:
            break;
        }
    }
    switch (a->kind) {
    case TACL_COLL_ALL_GATHER:
    case TACL_COLL_ALL_GATHERV:
        st = tacl_shm_all_gatherv(g, a->send, a->count * esz, a->recv, b1, b2, &x->fp, x->deadline,
                                  &c->err);
        break;
    case TACL_COLL_GATHER:
        st = tacl_shm_gatherv(g, a->send, a->count * esz, a->recv, b1, b2, a->root, &x->fp,
                              x->deadline, &c->err);
        break;
    case TACL_COLL_SCATTER:
        st = tacl_shm_scatterv(g, a->send, b1, b2, a->recv, a->count * esz, a->root, &x->fp,
                               x->deadline, &c->err);
        break;
    case TACL_COLL_ALL_TO_ALL:
    case TACL_COLL_ALL_TO_ALLV:
        st =
            tacl_shm_all_to_allv(g, a->send, b1, b2, a->recv, b3, b4, &x->fp, x->deadline, &c->err);
        break;
    default:
        st = tacl_err(&c->err, TACL_ERR_INTERNAL, TACL_SUB_COLL, "no shm algorithm for %s",
                      coll_what(a->kind));
        break;
    }
out:
    free(b1);
    free(b2);
    free(b3);
    free(b4);
    return st;
}

/* Expands the fixed-count variants to the v-variants the engine algorithms implement. */
static tacl_status_t coll_run_engine(coll_ctx_t *x, const coll_args_t *a, coll_algo_t algo)
{
    tacl_comm_t *c = x->c;
    size_t n = (size_t)c->size;
    coll_args_t v = *a;
    size_t *counts = NULL, *displs = NULL;
    tacl_status_t st;
    int fixed = a->kind == TACL_COLL_ALL_GATHER || a->kind == TACL_COLL_GATHER ||
                a->kind == TACL_COLL_SCATTER || a->kind == TACL_COLL_ALL_TO_ALL;
    if (fixed) {
        counts = malloc(n * sizeof *counts);
        displs = malloc(n * sizeof *displs);
        if (!counts || !displs) {
            free(counts);
            free(displs);
            return tacl_err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
        }
        for (size_t r = 0; r < n; r++) {
            counts[r] = a->count;
            displs[r] = r * a->count;
        }
        v.send_counts = v.recv_counts = counts;
        v.send_displs = v.recv_displs = displs;
    }
    switch (a->kind) {
    case TACL_COLL_ALL_REDUCE:
        st = algo == COLL_ALGO_RING        ? algo_allreduce_ring(x, &v)
             : algo == COLL_ALGO_RD        ? algo_allreduce_rd(x, &v)
             : algo == COLL_ALGO_RHD       ? algo_allreduce_rhd(x, &v)
             : algo == COLL_ALGO_HIER      ? algo_allreduce_hier(x, &v)
             : algo == COLL_ALGO_MULTITREE ? algo_allreduce_multitree(x, &v)
                                           : algo_allreduce_tree(x, &v);
        break;
    case TACL_COLL_REDUCE:
        st = algo == COLL_ALGO_MULTITREE ? algo_reduce_multitree(x, &v) : algo_reduce_tree(x, &v);
        break;
    case TACL_COLL_BROADCAST:
        st = algo == COLL_ALGO_MULTITREE ? algo_bcast_multitree(x, &v) : algo_bcast_tree(x, &v);
        break;
    case TACL_COLL_ALL_GATHER:
    case TACL_COLL_ALL_GATHERV:
        st = algo == COLL_ALGO_RING ? algo_allgatherv_ring(x, &v) : algo_allgatherv_tree(x, &v);
        break;
    case TACL_COLL_REDUCE_SCATTER:
        st = algo == COLL_ALGO_RING ? algo_reduce_scatter_ring(x, &v)
                                    : algo_reduce_scatter_tree(x, &v);
        break;
    case TACL_COLL_GATHER:
        st = algo_gatherv_direct(x, &v);
        break;
    case TACL_COLL_SCATTER:
        st = algo_scatterv_direct(x, &v);
        break;
    case TACL_COLL_ALL_TO_ALL:
    case TACL_COLL_ALL_TO_ALLV:
        st = algo_alltoallv_pairwise(x, &v);
        break;
    case TACL_COLL_BARRIER:
        st = algo_barrier_dissem(x);
        break;
    default:
        st = tacl_err(&c->err, TACL_ERR_INTERNAL, TACL_SUB_COLL, "no algorithm for %s",
                      coll_what(a->kind));
        break;
    }
    free(counts);
    free(displs);
    return st;
}

tacl_status_t coll_run(tacl_comm_t *c, const coll_args_t *a)
{
    coll_ctx_t x = {c, coll_fingerprint(c, a), tacl_deadline_ns(c->timeout_s), 0};
    c->seq++;
    if (c->size == 1) return coll_run_self(a);
    const char *why = "";
    coll_algo_t algo = coll_select(c, a, &why);
    TACL_TRACE(TACL_SUB_COLL, "%s count %zu on comm %llx: %s (%s)", coll_what(a->kind), a->count,
               (unsigned long long)c->id, coll_algo_name(algo), why);
    tacl_status_t st = algo == COLL_ALGO_SHM ? coll_run_shm(&x, a) : coll_run_engine(&x, a, algo);
    if (st == TACL_ERR_MISMATCH && algo != COLL_ALGO_SHM) {
        /* Only the ranks that received from a mismatched peer saw it; tell the others, who
         * would otherwise wait for messages that will never come. */
        char msg[TACL_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", c->err.msg);
        tacl_engine_abort_op(c->world->engine, c->wranks, c->size, c->id, x.fp.seq, st, msg,
                             tacl_deadline_ns(2.0));
    }
    if (st != TACL_OK) return comm_fail(c, st);
    /* avg: the algorithms summed; divide once where the result lands. The shm group does
     * the whole average itself. */
    if (algo != COLL_ALGO_SHM && coll_is_reduction(a->kind) && a->op == TACL_AVG) {
        if (a->kind == TACL_COLL_ALL_REDUCE || a->kind == TACL_COLL_REDUCE_SCATTER ||
            c->rank == a->root)
            tacl_reduce_finish(a->recv, a->count, a->dt, a->op, c->size);
    }
    return TACL_OK;
}

static tacl_status_t coll_call(tacl_comm_t *c, coll_args_t *a)
{
    a->esz = tacl_dtype_size(a->dt);
    TACL_CHECK(coll_validate(c, a));
    return coll_run(c, a);
}

tacl_status_t tacl_all_reduce(tacl_comm_t *c, const void *send, void *recv, size_t count,
                              tacl_dtype_t dt, tacl_op_t op)
{
    coll_args_t a = {.kind = TACL_COLL_ALL_REDUCE,
                     .send = send,
                     .recv = recv,
                     .count = count,
                     .dt = dt,
                     .op = op,
                     .root = -1};
    return coll_call(c, &a);
}

tacl_status_t tacl_reduce(tacl_comm_t *c, const void *send, void *recv, size_t count,
                          tacl_dtype_t dt, tacl_op_t op, int root)
{
    coll_args_t a = {.kind = TACL_COLL_REDUCE,
                     .send = send,
                     .recv = recv,
                     .count = count,
                     .dt = dt,
                     .op = op,
                     .root = root};
    return coll_call(c, &a);
}

tacl_status_t tacl_broadcast(tacl_comm_t *c, const void *send, void *recv, size_t count,
                             tacl_dtype_t dt, int root)
{
    coll_args_t a = {.kind = TACL_COLL_BROADCAST,
                     .send = send,
                     .recv = recv,
                     .count = count,
                     .dt = dt,
                     .root = root};
    return coll_call(c, &a);
}

tacl_status_t tacl_all_gather(tacl_comm_t *c, const void *send, void *recv, size_t count,
                              tacl_dtype_t dt)
{
    coll_args_t a = {.kind = TACL_COLL_ALL_GATHER,
                     .send = send,
                     .recv = recv,
                     .count = count,
                     .dt = dt,
                     .root = -1};
    return coll_call(c, &a);
}

tacl_status_t tacl_all_gatherv(tacl_comm_t *c, const void *send, size_t send_count, void *recv,
                               const size_t *recv_counts, const size_t *displs, tacl_dtype_t dt)
{
    coll_args_t a = {.kind = TACL_COLL_ALL_GATHERV,
                     .send = send,
                     .recv = recv,
                     .count = send_count,
                     .dt = dt,
                     .root = -1,
                     .recv_counts = recv_counts,
                     .recv_displs = displs};
    return coll_call(c, &a);
}

tacl_status_t tacl_reduce_scatter(tacl_comm_t *c, const void *send, void *recv, size_t recv_count,
                                  tacl_dtype_t dt, tacl_op_t op)
{
    coll_args_t a = {.kind = TACL_COLL_REDUCE_SCATTER,
                     .send = send,
                     .recv = recv,
                     .count = recv_count,
                     .dt = dt,
                     .op = op,
                     .root = -1};
    return coll_call(c, &a);
}

tacl_status_t tacl_gather(tacl_comm_t *c, const void *send, void *recv, size_t count,
                          tacl_dtype_t dt, int root)
{
    coll_args_t a = {.kind = TACL_COLL_GATHER,
                     .send = send,
                     .recv = recv,
                     .count = count,
                     .dt = dt,
                     .root = root};
    return coll_call(c, &a);
}

tacl_status_t tacl_scatter(tacl_comm_t *c, const void *send, void *recv, size_t count,
                           tacl_dtype_t dt, int root)
{
    coll_args_t a = {.kind = TACL_COLL_SCATTER,
                     .send = send,
                     .recv = recv,
                     .count = count,
                     .dt = dt,
                     .root = root};
    return coll_call(c, &a);
}

tacl_status_t tacl_all_to_all(tacl_comm_t *c, const void *send, void *recv, size_t count,
                              tacl_dtype_t dt)
{
    coll_args_t a = {.kind = TACL_COLL_ALL_TO_ALL,
                     .send = send,
                     .recv = recv,
                     .count = count,
                     .dt = dt,
                     .root = -1};
    return coll_call(c, &a);
}

tacl_status_t tacl_all_to_allv(tacl_comm_t *c, const void *send, const size_t *send_counts,
                               const size_t *send_displs, void *recv, const size_t *recv_counts,
                               const size_t *recv_displs, tacl_dtype_t dt)
{
    coll_args_t a = {.kind = TACL_COLL_ALL_TO_ALLV,
                     .send = send,
                     .recv = recv,
                     .count = 0,
                     .dt = dt,
                     .root = -1,
                     .send_counts = send_counts,
                     .send_displs = send_displs,
                     .recv_counts = recv_counts,
                     .recv_displs = recv_displs};
    return coll_call(c, &a);
}

tacl_status_t tacl_barrier(tacl_comm_t *c)
{
    coll_args_t a = {.kind = TACL_COLL_BARRIER, .dt = TACL_UINT8, .root = -1};
    return coll_call(c, &a);
}
