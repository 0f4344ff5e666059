/* coll.c — the one entry point of every host collective: each public call packs its arguments,
 * is checked here (TACL_ERR_INVALID before anything is sent), gets its fingerprint and
 * deadline, and is handed to the registry row coll_select() picks (algo_registry.h). Errors are
 * recorded in the communicator's last-error message; a lost peer marks the communicator
 * broken. */
#include "coll/coll.h"
#include "clock.h"
#include "reduce.h"
#include "transport/shm/shm_group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *coll_what(tacl__coll_t k)
{
    return tacl__coll_name(k);
}

tacl_status_t coll_check_comm(tacl_comm_t *c, const char *what)
{
    if (!c) return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_COLL, "%s: NULL communicator", what);
    if (c->magic != COMM_MAGIC)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "%s: not a live communicator (used after tacl_comm_destroy?)", what);
    if (c->broken)
        return tacl__err(&c->err, c->broken_st, TACL_SUB_COLL,
                         "%s: communicator unusable after an earlier failure (%s); destroy it",
                         what, tacl_status_name(c->broken_st));
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

/* Argument checks shared by every collective; messages name the call and the argument. */
static tacl_status_t coll_validate(tacl_comm_t *c, const coll_args_t *a)
{
    const char *what = coll_what(a->kind);
    TACL_CHECK(coll_check_comm(c, what));
    if (a->esz == 0)
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL, "%s: unknown dtype %d", what,
                         (int)a->dt);
    if (coll_kind(a->kind)->reduction && ((int)a->op < 0 || a->op >= TACL_OP_COUNT))
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "%s: unknown reduction op %d (expected sum, prod, min, max or avg)", what,
                         (int)a->op);
    if (coll_kind(a->kind)->rooted && (a->root < 0 || a->root >= c->size))
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "%s: root %d out of range (communicator size %d)", what, a->root, c->size);
    if (a->kind == TACL_COLL_ALL_GATHERV && (!a->recv_counts || !a->recv_displs))
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "%s: recv_counts and displs must not be NULL", what);
    if (a->kind == TACL_COLL_ALL_TO_ALLV &&
        (!a->send_counts || !a->send_displs || !a->recv_counts || !a->recv_displs))
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "%s: count and displacement arrays must not be NULL", what);
    TACL_CHECK(coll_check_sizes(c, a, what));
    /* Which buffers this rank needs (coll_kind.c); the v-variants also check their counts. */
    const coll_kind_info_t *k = coll_kind(a->kind);
    int me_root = a->root == c->rank;
    int need_send =
        a->count > 0 && (k->send == COLL_NEED_ALL || (k->send == COLL_NEED_ROOT && me_root));
    int need_recv =
        a->count > 0 && (k->recv == COLL_NEED_ALL || (k->recv == COLL_NEED_ROOT && me_root));
    if (a->kind == TACL_COLL_ALL_GATHERV) {
        if (a->recv_counts[c->rank] != a->count)
            return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                             "%s: send_count %zu differs from recv_counts[%d] = %zu", what,
                             a->count, c->rank, a->recv_counts[c->rank]);
        size_t total = 0;
        for (int r = 0; r < c->size; r++)
            total += a->recv_counts[r];
        need_send = a->count > 0;
        need_recv = total > 0;
    } else if (a->kind == TACL_COLL_ALL_TO_ALLV) {
        if (a->send_counts[c->rank] != a->recv_counts[c->rank])
            return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                             "%s: rank %d sends itself send_counts[%d]=%zu elements but expects "
                             "recv_counts[%d]=%zu",
                             what, c->rank, c->rank, a->send_counts[c->rank], c->rank,
                             a->recv_counts[c->rank]);
        size_t ts = 0, tr = 0;
        for (int r = 0; r < c->size; r++) {
            ts += a->send_counts[r];
            tr += a->recv_counts[r];
        }
        need_send = ts > 0;
        need_recv = tr > 0;
    }
    if (need_send && !a->send)
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "%s: NULL send buffer with count %zu on rank %d", what, a->count, c->rank);
    if (need_recv && !a->recv)
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "%s: NULL recv buffer with count %zu on rank %d", what, a->count, c->rank);
    return coll_check_overlap(c, a, what);
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

/* Expands the fixed-count variants to the v-variants the engine algorithms implement. */
static tacl_status_t coll_run_engine(coll_ctx_t *x, const coll_args_t *a,
                                     const coll_algo_row_t *row)
{
    tacl_comm_t *c = x->c;
    size_t n = (size_t)c->size;
    coll_args_t v = *a;
    size_t *counts = NULL, *displs = NULL;
    tacl_status_t st;
    int fixed = coll_kind(a->kind)->fixed;
    if (a->kind == TACL_COLL_ALL_GATHERV) {
        /* Every rank's recv_counts must be the same vector: its hash rides in the fingerprint
         * (op is unused here), so that ranks whose counts differ anywhere fail, whichever
         * messages the algorithm lets them compare (the tree's broadcast carries no counts). */
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t r = 0; r < n; r++)
            h = (h ^ a->recv_counts[r]) * 0x100000001b3ull;
        x->fp.op = (uint32_t)(h ^ (h >> 32)) | 1u;
    }
    if (fixed) {
        counts = malloc(n * sizeof *counts);
        displs = malloc(n * sizeof *displs);
        if (!counts || !displs) {
            free(counts);
            free(displs);
            return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
        }
        for (size_t r = 0; r < n; r++) {
            counts[r] = a->count;
            displs[r] = r * a->count;
        }
        v.send_counts = v.recv_counts = counts;
        v.send_displs = v.recv_displs = displs;
    }
    st = row->run[a->kind](x, &v);
    free(counts);
    free(displs);
    /* The engine names the message (peer, sizes, fingerprints); say which call it failed, and
     * for all_gatherv this rank's counts (the fingerprint carries only their hash). */
    const char *what = coll_what(a->kind);
    if (st == TACL_ERR_MISMATCH && strncmp(c->err.msg, what, strlen(what)) != 0) {
        char why[TACL_ERRMSG_MAX], mine[256] = "";
        snprintf(why, sizeof why, "%s", c->err.msg);
        if (a->kind == TACL_COLL_ALL_GATHERV) {
            size_t k = (size_t)snprintf(mine, sizeof mine, "; rank %d's recv_counts: [", c->rank);
            for (size_t r = 0; r < n && k < sizeof mine - 32; r++)
                k += (size_t)snprintf(mine + k, sizeof mine - k, "%s%zu", r ? ", " : "",
                                      a->recv_counts[r]);
            snprintf(mine + k, sizeof mine - k, "%s]", k >= sizeof mine - 32 ? ", ..." : "");
        }
        tacl__err(&c->err, st, TACL_SUB_COLL, "%s: %s%s", what, why, mine);
    }
    return st;
}

/* ---- Agreement on the call. ----
 * Over the engine, ranks that called different collectives may exchange messages that never
 * match (other peers, other tags) or none at all (a broadcast root only sends), so the
 * fingerprint check of each data message alone can neither make every rank see a mismatch nor
 * keep every rank from returning TACL_OK. So every operation over the engine also exchanges
 * header-only messages carrying its fingerprint (tags from TACL_ENGINE_AGREE_TAG; the engine
 * compares fingerprints on arrival).
 * - Before the algorithm runs, every rank sends its fingerprint to the next rank and posts the
 *   receive of the previous one's, which the algorithm's waits watch. Calls that differ
 *   anywhere differ between two neighbours, so at least one rank sees the mismatch at once, and
 *   it tells every other rank (tacl__engine_abort_op), whose receives of that operation then fail
 *   with its message. Nobody waits for the timeout.
 * - Where every rank's result depends on every other's messages (all_reduce, all_gather(v),
 *   reduce_scatter with data, all_to_all(v), barrier), those messages, each checked on arrival,
 *   already prove that every rank made the same call: the ring message is all it costs.
 * - Rooted calls (a root that only sends, leaves that only hear from the root) and calls without
 *   data need every rank's fingerprint to reach every rank through checked messages before any
 *   returns TACL_OK. Up to COLL_AGREE_ALL_MAX ranks, each sends its fingerprint to every other
 *   rank, overlapped with the algorithm like the ring message (which is one of them); above,
 *   the ring message is followed by the further rounds of a dissemination (distance 2, 4, ...),
 *   each sent once the previous round's message arrived and matched: log2 n messages each way
 *   instead of n - 1, in sequence. The hierarchical all_reduce completes its agreement before
 *   its first shared-memory step, which could not watch it.
 * A rank that rejected its own call sends its fingerprint, marked TACL_FP_REJECTED, to the next
 * rank. Keys carry the operation number, so nothing of a failed operation can match a later
 * one: the communicator stays usable. On one host the shared-memory group compares fingerprints
 * itself; an engine algorithm forced there (TACL_ALGO) first meets the others in a
 * shared-memory barrier carrying its fingerprint. */

/* Up to this many ranks, calls that need confirmation exchange fingerprints with every rank at
 * once; above, by dissemination. */
#define COLL_AGREE_ALL_MAX 8

/* Whether every rank's completion of (a, fp) over the engine depends on a message chain from
 * every other rank (see above); the algorithms return early without data. */
static int coll_agree_by_data(const coll_args_t *a, const tacl__fp_t *fp,
                              const coll_algo_row_t *row)
{
    const coll_kind_info_t *k = coll_kind(a->kind);
    return k->by_data && (k->always_by_data || fp->count > 0) && !row->agree_first;
}

enum { COLL_AGREE_NEXT, COLL_AGREE_RING, COLL_AGREE_ALL };

/* Posts the agreement messages of fp into x->agree (room for 2 * COLL_AGREE_ALL_MAX): to the
 * next rank (NEXT), and the receive of the previous one's (RING), or to and from every rank
 * (ALL). */
static tacl_status_t coll_agree_post(coll_ctx_t *x, const tacl__fp_t *fp, int mode)
{
    tacl_comm_t *c = x->c;
    tacl__engine_t *e = c->world->engine;
    int n = c->size, prev = (c->rank + n - 1) % n, next = (c->rank + 1) % n;
    tacl__msg_key_t k = {c->id, TACL_ENGINE_AGREE_TAG, fp->seq};
    tacl_status_t st = TACL_OK;
    x->nagree = 0;
    for (int r = 0; r < n && st == TACL_OK; r++) {
        if (r == c->rank) continue;
        if (mode == COLL_AGREE_ALL || (mode == COLL_AGREE_RING && r == prev)) {
            st = tacl__engine_irecv(e, c->wranks[r], &k, fp, NULL, 0, &x->agree[x->nagree]);
            if (st != TACL_OK) break;
            x->nagree++;
        }
        if (mode == COLL_AGREE_ALL || r == next) {
            st = tacl__engine_isend(e, c->wranks[r], &k, fp, NULL, 0, &x->agree[x->nagree]);
            if (st == TACL_OK) x->nagree++;
        }
    }
    return st == TACL_OK ? st : tacl__err_keep(&c->err, st);
}

/* The dissemination rounds after the ring message (distance 2, 4, ...). */
static tacl_status_t coll_agree_confirm(coll_ctx_t *x, tacl__errbuf_t *eb)
{
    tacl_comm_t *c = x->c;
    tacl__engine_t *e = c->world->engine;
    const tacl_comm_t *g = c->watch ? c->watch : c;
    int n = c->size;
    tacl_status_t st = TACL_OK;
    for (int k = 1, d = 2; d < n && st == TACL_OK; k++, d *= 2) {
        tacl__msg_key_t key = {c->id, TACL_ENGINE_AGREE_TAG + (uint64_t)k, x->fp.seq};
        tacl__req_t *r[2];
        st = tacl__engine_irecv(e, c->wranks[(c->rank + n - d % n) % n], &key, &x->fp, NULL, 0,
                                &r[0]);
        if (st != TACL_OK) return tacl__err_keep(eb, st);
        st = tacl__engine_isend(e, c->wranks[(c->rank + d) % n], &key, &x->fp, NULL, 0, &r[1]);
        if (st != TACL_OK) {
            tacl__err_keep(eb, st);
            tacl__errbuf_t scratch;
            (void)tacl__engine_wait(e, r, 1, 0, NULL, 0, &scratch); /* releases the receive */
            return st;
        }
        st = tacl__engine_wait(e, r, 2, x->deadline, g->wranks, g->size, eb);
    }
    return st;
}

/* Completes the agreement after the algorithm ended with st; confirm: the dissemination rounds
 * too. Once the call has failed the others' messages may never come: the ring message is
 * released at once, and a disagreement already seen wins over st (it explains it). */
static tacl_status_t coll_agree_finish(coll_ctx_t *x, tacl_status_t st, int confirm)
{
    tacl_comm_t *c = x->c;
    if (!x->nagree) return st;
    const tacl_comm_t *g = c->watch ? c->watch : c;
    tacl__errbuf_t eb;
    char kept[TACL_ERRMSG_MAX];
    snprintf(kept, sizeof kept, "%s", c->err.msg);
    tacl_status_t ast = tacl__engine_wait(c->world->engine, x->agree, x->nagree,
                                          st == TACL_OK ? x->deadline : 0, g->wranks, g->size, &eb);
    x->nagree = 0;
    if (ast == TACL_OK && st == TACL_OK && confirm) ast = coll_agree_confirm(x, &eb);
    if (ast == TACL_ERR_MISMATCH) return tacl__err(&c->err, ast, TACL_SUB_COLL, "%s", eb.msg);
    if (st != TACL_OK) return tacl__err(&c->err, st, TACL_SUB_COLL, "%s", kept);
    if (ast != TACL_OK) return tacl__err(&c->err, ast, TACL_SUB_COLL, "%s", eb.msg);
    return TACL_OK;
}

/* A call this rank rejected (st, message in c->err): the other ranks wait for it, so it still
 * takes its operation number and tells them which call it rejected (TACL_FP_REJECTED), so that
 * they fail at once with TACL_ERR_MISMATCH naming this rank and the communicator stays usable. */
static tacl_status_t coll_reject(tacl_comm_t *c, const coll_args_t *a, tacl_status_t st)
{
    if (!c || c->broken || c->size == 1) return st;
    char kept[TACL_ERRMSG_MAX];
    snprintf(kept, sizeof kept, "%s", c->err.msg);
    /* Only the scalar arguments: the arrays of a rejected call may be NULL. */
    tacl__fp_t fp = {
        (uint32_t)a->kind | TACL_FP_REJECTED, (uint32_t)a->dt, 0, -1, a->count, c->seq};
    if (coll_kind(a->kind)->reduction) fp.op = (uint32_t)a->op;
    if (coll_kind(a->kind)->rooted) fp.root = a->root;
    tacl__req_t *agree[2];
    coll_ctx_t x = {c, fp, tacl__deadline_ns(c->timeout_s), 0, agree, 0};
    c->seq++;
    tacl__errbuf_t eb;
    if (c->shm_all) {
        (void)tacl__shm_barrier(c->shm, &fp, x.deadline, &eb);
    } else {
        /* The next rank sees the mismatch and tells the others. This rank need not learn the
         * others' calls, and must not wait for them: they may be rejecting theirs too. */
        (void)coll_agree_post(&x, &fp, COLL_AGREE_NEXT);
        (void)tacl__engine_wait(c->world->engine, x.agree, x.nagree, x.deadline, NULL, 0, &eb);
    }
    return tacl__err(&c->err, st, TACL_SUB_COLL, "%s", kept);
}

/* Runs a (checked) on c with the row pick chose. */
static tacl_status_t coll_run(tacl_comm_t *c, const coll_args_t *a, const coll_pick_t *pick)
{
    tacl__req_t *agree[2 * COLL_AGREE_ALL_MAX];
    coll_ctx_t x;
    coll_ctx_init(&x, c, a, agree);
    const coll_algo_row_t *row = pick->row;
    TACL_TRACE(TACL_SUB_COLL, "%s count %zu on comm %llx: %s (%s)", coll_what(a->kind), a->count,
               (unsigned long long)c->id, row->name, pick->why);
    tacl_status_t st = TACL_OK;
    int shm_agreed = 0; /* the shared-memory group saw the mismatch on every rank */
    int confirm = 0;    /* the agreement needs its dissemination rounds */
    if (!row->engine) {
        st = row->run[a->kind](&x, a);
    } else {
        if (c->shm_all) {
            st = tacl__shm_barrier(c->shm, &x.fp, x.deadline, &c->err);
            shm_agreed = st == TACL_ERR_MISMATCH;
        } else {
            int by_data = coll_agree_by_data(a, &x.fp, row);
            int all = !by_data && c->size <= COLL_AGREE_ALL_MAX;
            confirm = !by_data && !all;
            st = coll_agree_post(&x, &x.fp, all ? COLL_AGREE_ALL : COLL_AGREE_RING);
            if (st == TACL_OK && row->agree_first) st = coll_agree_finish(&x, st, confirm);
        }
        if (st == TACL_OK) st = coll_run_engine(&x, a, row);
        st = coll_agree_finish(&x, st, confirm);
    }
    /* A failure reported by another rank's notice (tacl__engine_abort_op) is known to all. */
    if (st == TACL_ERR_MISMATCH && row->engine && !shm_agreed &&
        !strstr(c->err.msg, TACL_ENGINE_NOTICE_MARK)) {
        /* Only the ranks that received a disagreeing message (or one of the wrong length: the
         * counts of the v-variants are not in the fingerprint) saw the mismatch; tell the
         * others, who would otherwise wait for messages that will never come. */
        char msg[TACL_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", c->err.msg);
        tacl__engine_abort_op(c->world->engine, c->wranks, c->size, c->id, x.fp.seq, st, msg,
                              tacl__deadline_ns(2.0));
    }
    if (st != TACL_OK) return comm_fail(c, st);
    /* avg: the engine algorithms summed; divide once where the result lands. The shm group
     * does the whole average itself. */
    if (row->engine && coll_kind(a->kind)->reduction && a->op == TACL_AVG) {
        if (a->kind == TACL_COLL_ALL_REDUCE || a->kind == TACL_COLL_REDUCE_SCATTER ||
            c->rank == a->root)
            tacl__reduce_finish(a->recv, a->count, a->dt, a->op, c->size);
    }
    return TACL_OK;
}

static tacl_status_t coll_call(tacl_comm_t *c, coll_args_t *a)
{
    a->esz = tacl_dtype_size(a->dt);
    tacl_status_t st = coll_validate(c, a);
    if (st != TACL_OK) return coll_reject(c, a, st);
    if (c->size == 1) {
        c->seq++;
        return coll_run_self(a);
    }
    coll_pick_t pick;
    st = coll_select(c, a, &pick);
    if (st != TACL_OK) return coll_reject(c, a, st);
    return coll_run(c, a, &pick);
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
