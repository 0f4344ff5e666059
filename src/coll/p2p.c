/* p2p.c — point-to-point on communicators: the steps collective algorithms are made of
 * (keyed by operation number and step) and the public tagged send/recv (keyed by a
 * per-(peer, tag) counter so that messages with the same tag arrive in order). */
#include "coll/algo.h"
#include "coll/coll.h"
#include "clock.h"

#include <stdio.h>
#include <stdlib.h>

/* Tags of point-to-point messages live above collective step tags. */
#define P2P_TAG_BASE (1ull << 62)
#define P2P_ID_SALT  0x50325020ull /* "P2P " */

struct coll_p2p_ctr {
    int64_t key; /* (peer << 33) | (tag << 1) | is_recv ; -1 empty */
    uint64_t n;
};

tacl_status_t coll_isend(coll_ctx_t *x, int peer, uint64_t tag, const void *buf, size_t len,
                         tacl__req_t **req)
{
    tacl__msg_key_t k = {x->c->id, tag, x->fp.seq};
    tacl_status_t st =
        tacl__engine_isend(x->c->world->engine, x->c->wranks[peer], &k, &x->fp, buf, len, req);
    return st == TACL_OK ? st : tacl__err_keep(&x->c->err, st);
}

tacl_status_t coll_irecv(coll_ctx_t *x, int peer, uint64_t tag, void *buf, size_t len,
                         tacl__req_t **req)
{
    tacl__msg_key_t k = {x->c->id, tag, x->fp.seq};
    tacl_status_t st =
        tacl__engine_irecv(x->c->world->engine, x->c->wranks[peer], &k, &x->fp, buf, len, req);
    return st == TACL_OK ? st : tacl__err_keep(&x->c->err, st);
}

tacl_status_t coll_wait(coll_ctx_t *x, tacl__req_t **reqs, int n)
{
    if (n == 0) return TACL_OK;
    const tacl_comm_t *g = x->c->watch ? x->c->watch : x->c;
    return tacl__engine_wait_watch(x->c->world->engine, reqs, n, x->agree, x->nagree, x->deadline,
                                   g->wranks, g->size, &x->c->err);
}

tacl_status_t coll_sendrecv(coll_ctx_t *x, int to, const void *sbuf, size_t slen, int from,
                            void *rbuf, size_t rlen)
{
    tacl__req_t *r[2];
    int n = 0;
    uint64_t tag = x->step++;
    tacl_status_t st = coll_irecv(x, from, tag, rbuf, rlen, &r[n]);
    if (st != TACL_OK) return st;
    n++;
    st = coll_isend(x, to, tag, sbuf, slen, &r[n]);
    if (st == TACL_OK) n++;
    tacl_status_t wst = coll_wait(x, r, n);
    return st != TACL_OK ? st : wst;
}

/* Next sequence number of (peer, tag, direction) on c: grows the table as needed. */
static uint64_t p2p_next(tacl_comm_t *c, int peer, int tag, int is_recv)
{
    int64_t key = ((int64_t)peer << 33) | ((int64_t)(uint32_t)tag << 1) | is_recv;
    if (c->p2p_len * 2 >= c->p2p_cap) {
        size_t ncap = c->p2p_cap ? c->p2p_cap * 2 : 64;
        struct coll_p2p_ctr *nt = malloc(ncap * sizeof *nt);
        if (!nt) return UINT64_MAX;
        for (size_t i = 0; i < ncap; i++)
            nt[i].key = -1;
        for (size_t i = 0; i < c->p2p_cap; i++) {
            if (c->p2p[i].key < 0) continue;
            size_t h = (size_t)((uint64_t)c->p2p[i].key * 0x9e3779b97f4a7c15ull) & (ncap - 1);
            while (nt[h].key >= 0)
                h = (h + 1) & (ncap - 1);
            nt[h] = c->p2p[i];
        }
        free(c->p2p);
        c->p2p = nt;
        c->p2p_cap = ncap;
    }
    size_t h = (size_t)((uint64_t)key * 0x9e3779b97f4a7c15ull) & (c->p2p_cap - 1);
    while (c->p2p[h].key >= 0 && c->p2p[h].key != key)
        h = (h + 1) & (c->p2p_cap - 1);
    if (c->p2p[h].key < 0) {
        c->p2p[h].key = key;
        c->p2p[h].n = 0;
        c->p2p_len++;
    }
    return c->p2p[h].n++;
}

static tacl_status_t p2p_do(tacl_comm_t *c, void *buf, size_t count, tacl_dtype_t dt, int peer,
                            int tag, int is_recv)
{
    const char *what = is_recv ? "tacl_recv" : "tacl_send";
    TACL_CHECK(coll_check_comm(c, what));
    size_t esz = tacl_dtype_size(dt);
    if (esz == 0)
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL, "%s: unknown dtype %d", what,
                         (int)dt);
    if (peer < 0 || peer >= c->size || peer == c->rank)
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "%s: peer %d is not another rank of this communicator (size %d, rank %d)",
                         what, peer, c->size, c->rank);
    if (tag < 0)
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL, "%s: tag %d is negative", what,
                         tag);
    size_t bytes;
    if (__builtin_mul_overflow(count, esz, &bytes))
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "%s: count=%zu elements of %s overflow size_t (rank %d, peer %d, tag %d)",
                         what, count, tacl_dtype_name(dt), c->rank, peer, tag);
    if (!buf && count > 0)
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL, "%s: NULL buffer with count %zu",
                         what, count);
    uint64_t n = p2p_next(c, peer, tag, is_recv);
    if (n == UINT64_MAX) return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    tacl__fp_t fp = {TACL_COLL_P2P, (uint32_t)dt, 0, -1, count, n};
    coll_ctx_t x = {c, fp, tacl__deadline_ns(c->timeout_s), 0, NULL, 0};
    tacl__req_t *r;
    /* Messages live in a key space of their own (an id derived from the communicator's): the
     * per-(peer, tag) counter n would otherwise share numbers with collective operations, and
     * an abort notice for collective n would fail the n-th message of every tag. */
    tacl__msg_key_t k = {comm_derive_id(c->id, P2P_ID_SALT, 0),
                         P2P_TAG_BASE | (uint64_t)(uint32_t)tag, n};
    tacl__engine_t *e = c->world->engine;
    tacl_status_t st = is_recv ? tacl__engine_irecv(e, c->wranks[peer], &k, &fp, buf, bytes, &r)
                               : tacl__engine_isend(e, c->wranks[peer], &k, &fp, buf, bytes, &r);
    if (st != TACL_OK) return tacl__err_keep(&c->err, st);
    st = coll_wait(&x, &r, 1);
    if (st == TACL_ERR_MISMATCH && is_recv) {
        /* The engine names the message's size or fingerprint; say which receive it failed. */
        char why[TACL_ERRMSG_MAX];
        snprintf(why, sizeof why, "%s", c->err.msg);
        tacl__err(&c->err, st, TACL_SUB_COLL,
                  "tacl_recv: rank %d's receive of %zu elements of %s (%zu bytes) from rank %d "
                  "with tag %d does not match the message sent: %s",
                  c->rank, count, tacl_dtype_name(dt), bytes, peer, tag, why);
    }
    return st;
}

tacl_status_t tacl_send(tacl_comm_t *c, const void *buf, size_t count, tacl_dtype_t dt, int peer,
                        int tag)
{
    return p2p_do(c, (void *)buf, count, dt, peer, tag, 0);
}

tacl_status_t tacl_recv(tacl_comm_t *c, void *buf, size_t count, tacl_dtype_t dt, int peer, int tag)
{
    return p2p_do(c, buf, count, dt, peer, tag, 1);
}
