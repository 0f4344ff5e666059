/* algo_rd.c — latency-bound algorithms: recursive-doubling all_reduce (log2 n steps of whole
 * vectors; the extra ranks of a non-power-of-two size fold into a partner first) and the
 * dissemination barrier. Operands are always combined lower-group first, so every rank
 * evaluates the same expression and gets bitwise identical results. */
#include "coll/algo.h"
#include "reduce.h"

#include <stdlib.h>
#include <string.h>

tacl_status_t algo_allreduce_rd(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    int n = c->size, r = c->rank;
    size_t bytes = a->count * a->esz;
    char *buf = a->recv;
    if (a->send != a->recv && bytes) memmove(buf, a->send, bytes);
    int p = 1;
    while (p * 2 <= n)
        p *= 2;
    int rem = n - p;
    char *tmp = malloc(bytes + 1);
    if (!tmp) return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    tacl_status_t st = TACL_OK;
    int vr; /* virtual rank among the p participants, -1 when folded out */
    tacl__req_t *req;
    uint64_t fold_tag = x->step++;
    if (r < 2 * rem) {
        if (r % 2 == 0) { /* fold into r + 1, wait for the result */
            st = coll_isend(x, r + 1, fold_tag, buf, bytes, &req);
            if (st == TACL_OK) st = coll_wait(x, &req, 1);
            vr = -1;
        } else {
            st = coll_irecv(x, r - 1, fold_tag, tmp, bytes, &req);
            if (st == TACL_OK) st = coll_wait(x, &req, 1);
            if (st == TACL_OK) tacl__reduce2(buf, tmp, buf, a->count, a->dt, a->op);
            vr = r / 2;
        }
    } else {
        vr = r - rem;
    }
    for (int mask = 1; mask < p && st == TACL_OK; mask <<= 1) {
        uint64_t tag = x->step++;
        if (vr < 0) continue;
        int pv = vr ^ mask;
        int peer = pv < rem ? pv * 2 + 1 : pv + rem;
        tacl__req_t *rq[2];
        st = coll_irecv(x, peer, tag, tmp, bytes, &rq[0]);
        if (st != TACL_OK) break;
        st = coll_isend(x, peer, tag, buf, bytes, &rq[1]);
        if (st != TACL_OK) {
            coll_wait(x, rq, 1);
            break;
        }
        st = coll_wait(x, rq, 2);
        if (st != TACL_OK) break;
        if (pv < vr)
            tacl__reduce2(buf, tmp, buf, a->count, a->dt, a->op);
        else
            tacl__reduce2(buf, buf, tmp, a->count, a->dt, a->op);
    }
    uint64_t unfold_tag = x->step++;
    if (st == TACL_OK && r < 2 * rem) {
        if (r % 2 == 0) {
            st = coll_irecv(x, r + 1, unfold_tag, buf, bytes, &req);
        } else {
            st = coll_isend(x, r - 1, unfold_tag, buf, bytes, &req);
        }
        if (st == TACL_OK) st = coll_wait(x, &req, 1);
    }
    free(tmp);
    return st;
}

tacl_status_t algo_barrier_dissem(coll_ctx_t *x, const coll_args_t *a)
{
    (void)a;
    tacl_comm_t *c = x->c;
    int n = c->size, r = c->rank;
    char dummy = 0, sink;
    for (int k = 1; k < n; k <<= 1)
        TACL_CHECK(coll_sendrecv(x, (r + k) % n, &dummy, 0, (r - k % n + n) % n, &sink, 0));
    return TACL_OK;
}

/* Recursive halving-doubling (Rabenseifner) all_reduce: a reduce-scatter by recursive halving
 * (each step exchanges half of the current range with the partner at distance mask and keeps
 * the reduced other half) and an all-gather by recursive doubling that retraces the halving.
 * Bandwidth as the ring's, log2 n steps instead of 2(n-1); extra ranks of a non-power-of-two
 * size fold in first and get the result at the end. Each element is reduced once, by the rank
 * that owns it after the halving, lower virtual rank's data first: bitwise identical results. */
tacl_status_t algo_allreduce_rhd(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    int n = c->size, r = c->rank;
    size_t esz = a->esz, count = a->count, bytes = count * esz;
    char *buf = a->recv;
    if (a->send != a->recv && bytes) memmove(buf, a->send, bytes);
    int p = 1, levels = 0;
    while (p * 2 <= n) {
        p *= 2;
        levels++;
    }
    int rem = n - p;
    char *tmp = malloc(bytes / 2 + esz + 1);
    size_t *stack = malloc(2 * (size_t)(levels + 1) * sizeof *stack);
    if (!tmp || !stack) {
        free(tmp);
        free(stack);
        return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    }
    tacl_status_t st = TACL_OK;
    tacl__req_t *req;
    int vr;
    uint64_t fold_tag = x->step++;
    if (r < 2 * rem) {
        if (r % 2 == 0) {
            st = coll_isend(x, r + 1, fold_tag, buf, bytes, &req);
            if (st == TACL_OK) st = coll_wait(x, &req, 1);
            vr = -1;
        } else {
            char *whole = malloc(bytes + 1);
            if (!whole) {
                st = tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
            } else {
                st = coll_irecv(x, r - 1, fold_tag, whole, bytes, &req);
                if (st == TACL_OK) st = coll_wait(x, &req, 1);
                if (st == TACL_OK) tacl__reduce2(buf, whole, buf, count, a->dt, a->op);
                free(whole);
            }
            vr = r / 2;
        }
    } else {
        vr = r - rem;
    }
    size_t lo = 0, hi = count;
    int depth = 0;
    /* coll_sendrecv takes one step tag; ranks that sit a level out take theirs too. */
    for (int mask = p / 2; mask >= 1; mask >>= 1) {
        if (vr < 0 || st != TACL_OK) {
            x->step++;
            continue;
        }
        int pv = vr ^ mask, peer = pv < rem ? pv * 2 + 1 : pv + rem;
        size_t mid = lo + (hi - lo) / 2;
        stack[2 * depth] = lo;
        stack[2 * depth + 1] = hi;
        depth++;
        size_t klo = vr & mask ? mid : lo, khi = vr & mask ? hi : mid;
        size_t slo = vr & mask ? lo : mid, shi = vr & mask ? mid : hi;
        st = coll_sendrecv(x, peer, buf + slo * esz, (shi - slo) * esz, peer, tmp,
                           (khi - klo) * esz);
        if (st != TACL_OK) continue;
        char *keep = buf + klo * esz;
        if (pv < vr)
            tacl__reduce2(keep, tmp, keep, khi - klo, a->dt, a->op);
        else
            tacl__reduce2(keep, keep, tmp, khi - klo, a->dt, a->op);
        lo = klo;
        hi = khi;
    }
    for (int mask = 1; mask < p; mask <<= 1) {
        if (vr < 0 || st != TACL_OK) {
            x->step++;
            continue;
        }
        int pv = vr ^ mask, peer = pv < rem ? pv * 2 + 1 : pv + rem;
        depth--;
        size_t plo = stack[2 * depth], phi = stack[2 * depth + 1];
        /* The partner holds the other half of [plo, phi). */
        size_t olo = lo == plo ? hi : plo, ohi = lo == plo ? phi : lo;
        st = coll_sendrecv(x, peer, buf + lo * esz, (hi - lo) * esz, peer, buf + olo * esz,
                           (ohi - olo) * esz);
        lo = plo;
        hi = phi;
    }
    uint64_t unfold_tag = x->step++;
    if (st == TACL_OK && r < 2 * rem) {
        if (r % 2 == 0)
            st = coll_irecv(x, r + 1, unfold_tag, buf, bytes, &req);
        else
            st = coll_isend(x, r - 1, unfold_tag, buf, bytes, &req);
        if (st == TACL_OK) st = coll_wait(x, &req, 1);
    }
    free(tmp);
    free(stack);
    return st;
}
