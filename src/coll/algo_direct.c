/* algo_direct.c — collectives where every rank talks straight to the peers it exchanges data
 * with: gather and scatter at the root, all_to_all between every pair. The engine routes the
 * messages of pairs without a direct link through the ranks in between, so these work on any
 * connected graph. Everything is posted at once; the engine overlaps the transfers. */
#include "coll/algo.h"

#include <stdlib.h>
#include <string.h>

tacl_status_t algo_gatherv_direct(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    size_t esz = a->esz;
    uint64_t tag = x->step++;
    if (c->rank != a->root) {
        tacl__req_t *r;
        TACL_CHECK(coll_isend(x, a->root, tag, a->send, a->recv_counts[c->rank] * esz, &r));
        return coll_wait(x, &r, 1);
    }
    tacl__req_t **reqs = malloc((size_t)c->size * sizeof *reqs);
    if (!reqs) return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    int n = 0;
    tacl_status_t st = TACL_OK;
    for (int r = 0; r < c->size && st == TACL_OK; r++) {
        char *dst = (char *)a->recv + a->recv_displs[r] * esz;
        if (r == c->rank) {
            if (dst != a->send && a->recv_counts[r]) memmove(dst, a->send, a->recv_counts[r] * esz);
            continue;
        }
        st = coll_irecv(x, r, tag, dst, a->recv_counts[r] * esz, &reqs[n]);
        if (st == TACL_OK) n++;
    }
    tacl_status_t wst = coll_wait(x, reqs, n);
    free(reqs);
    return st != TACL_OK ? st : wst;
}

tacl_status_t algo_scatterv_direct(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    size_t esz = a->esz;
    uint64_t tag = x->step++;
    if (c->rank != a->root) {
        tacl__req_t *r;
        TACL_CHECK(coll_irecv(x, a->root, tag, a->recv, a->send_counts[c->rank] * esz, &r));
        return coll_wait(x, &r, 1);
    }
    tacl__req_t **reqs = malloc((size_t)c->size * sizeof *reqs);
    if (!reqs) return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    int n = 0;
    tacl_status_t st = TACL_OK;
    for (int r = 0; r < c->size && st == TACL_OK; r++) {
        const char *src = (const char *)a->send + a->send_displs[r] * esz;
        if (r == c->rank) {
            if (src != a->recv && a->send_counts[r]) memmove(a->recv, src, a->send_counts[r] * esz);
            continue;
        }
        st = coll_isend(x, r, tag, src, a->send_counts[r] * esz, &reqs[n]);
        if (st == TACL_OK) n++;
    }
    tacl_status_t wst = coll_wait(x, reqs, n);
    free(reqs);
    return st != TACL_OK ? st : wst;
}

tacl_status_t algo_alltoallv_pairwise(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    size_t esz = a->esz, n = (size_t)c->size;
    uint64_t tag = x->step++;
    /* In place (or overlapping buffers): send from a copy. */
    size_t send_span = 0, recv_span = 0;
    for (size_t r = 0; r < n; r++) {
        size_t se = (a->send_displs[r] + a->send_counts[r]) * esz;
        size_t re = (a->recv_displs[r] + a->recv_counts[r]) * esz;
        if (se > send_span) send_span = se;
        if (re > recv_span) recv_span = re;
    }
    const char *send = a->send;
    char *copy = NULL;
    if (send_span && recv_span && (const char *)a->recv < send + send_span &&
        send < (const char *)a->recv + recv_span) {
        copy = malloc(send_span);
        if (!copy) return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
        memcpy(copy, send, send_span);
        send = copy;
    }
    tacl__req_t **reqs = malloc(2 * n * sizeof *reqs);
    if (!reqs) {
        free(copy);
        return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    }
    int nr = 0, nrecv = 0, bad = -1;
    tacl_status_t st = TACL_OK;
    /* Both ranks of every pair check both directions: a message's length is the sender's count
     * (checked against the receive), and its fingerprint's count is what the sender expects
     * back (checked against what the receiver sends). A disagreement fails both ranks. */
    coll_ctx_t px = *x;
    /* Pairwise order (peer r+s receives while r-s sends) spreads the load over links. */
    for (size_t s = 1; s < n && st == TACL_OK; s++) {
        int from = (int)((c->rank + n - s) % n);
        px.fp.count = a->send_counts[from];
        st = coll_irecv(&px, from, tag, (char *)a->recv + a->recv_displs[from] * esz,
                        a->recv_counts[from] * esz, &reqs[nr]);
        if (st == TACL_OK) nr++;
    }
    nrecv = nr;
    for (size_t s = 1; s < n && st == TACL_OK; s++) {
        int to = (int)((c->rank + s) % n);
        px.fp.count = a->recv_counts[to];
        st = coll_isend(&px, to, tag, send + a->send_displs[to] * esz, a->send_counts[to] * esz,
                        &reqs[nr]);
        if (st == TACL_OK) nr++;
    }
    if (a->send_counts[c->rank]) {
        memmove((char *)a->recv + a->recv_displs[c->rank] * esz,
                send + a->send_displs[c->rank] * esz, a->send_counts[c->rank] * esz);
    }
    /* Receives one by one, so that a failure names its peer; then the sends. The first failure
     * is the one reported: later waits overwrite the message, so it is recorded again. */
    tacl_status_t wst = TACL_OK;
    char first[TACL_ERRMSG_MAX];
    for (int i = 0; i < nr; i++) {
        tacl_status_t one = coll_wait(x, &reqs[i], 1);
        if (one == TACL_OK || wst != TACL_OK) continue;
        wst = one;
        if (i < nrecv) bad = (int)((c->rank + n - (size_t)i - 1) % n);
        if (i < nrecv && one == TACL_ERR_MISMATCH && strncmp(c->err.msg, "all_to_allv", 11) != 0) {
            char why[TACL_ERRMSG_MAX];
            snprintf(why, sizeof why, "%s", c->err.msg);
            tacl__err(&c->err, one, TACL_SUB_COLL,
                      "all_to_allv: the exchange between rank %d and rank %d failed: rank %d "
                      "sends %zu and expects %zu elements of %s from rank %d (in fingerprints "
                      "below, count is what rank %d expects from rank %d, and what rank %d "
                      "sends it): %s",
                      c->rank, bad, c->rank, a->send_counts[bad], a->recv_counts[bad],
                      tacl_dtype_name(a->dt), bad, bad, c->rank, c->rank, why);
        }
        snprintf(first, sizeof first, "%s", c->err.msg);
    }
    if (st == TACL_OK && wst != TACL_OK) tacl__err(&c->err, wst, TACL_SUB_COLL, "%s", first);
    free(reqs);
    free(copy);
    return st != TACL_OK ? st : wst;
}
