/* coll_check.c — the arithmetic and aliasing checks of the collective gate (coll.c): every
 * count × dtype size, displacement + count and sum of counts is computed without wrapping
 * (TACL_ERR_INVALID naming the argument otherwise), and the bytes a rank reads may overlap the
 * bytes it writes only in the in-place forms tacl.h defines (NCCL's conventions). Both run
 * before anything is sent, on the calling rank's arguments alone. */
#include "coll/coll.h"

#include <stdint.h>
#include <stdio.h>

/* a * b, or 0 when it wraps (*out set only on success). */
static int chk_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static int chk_add(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* One v-array pair (counts[], displs[] or NULL): every block's end in bytes fits size_t; the
 * sum of the counts (elements) and the largest block end (bytes) are returned. */
static tacl_status_t chk_varray(tacl_comm_t *c, const coll_args_t *a, const char *what,
                                const char *cname, const size_t *counts, const char *dname,
                                const size_t *displs, size_t *sum, size_t *span)
{
    size_t s = 0, end_max = 0, b;
    const char *dt = tacl_dtype_name(a->dt);
    for (int r = 0; r < c->size; r++) {
        size_t k = counts[r], end = k;
        if (!chk_mul(k, a->esz, &b))
            return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                             "%s: %s[%d]=%zu elements of %s overflow size_t (rank %d)", what, cname,
                             r, k, dt, c->rank);
        if (displs && !chk_add(displs[r], k, &end))
            return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                             "%s: %s[%d]=%zu + %s[%d]=%zu elements overflow size_t (rank %d)", what,
                             dname, r, displs[r], cname, r, k, c->rank);
        if (!chk_mul(end, a->esz, &b))
            return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                             "%s: %s[%d]=%zu + %s[%d]=%zu elements of %s overflow size_t (rank %d)",
                             what, dname, r, displs ? displs[r] : 0, cname, r, k, dt, c->rank);
        if (!chk_add(s, k, &s))
            return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                             "%s: the sum of %s (up to [%d]) overflows size_t (rank %d)", what,
                             cname, r, c->rank);
        if (k && b > end_max) end_max = b;
    }
    *sum = s;
    *span = end_max;
    return TACL_OK;
}

tacl_status_t coll_check_sizes(tacl_comm_t *c, const coll_args_t *a, const char *what)
{
    size_t b, sum, span;
    const char *dt = tacl_dtype_name(a->dt);
    if (!chk_mul(a->count, a->esz, &b))
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "%s: count=%zu elements of %s overflow size_t (rank %d)", what, a->count,
                         dt, c->rank);
    switch (a->kind) {
    case TACL_COLL_ALL_GATHER:
    case TACL_COLL_REDUCE_SCATTER:
    case TACL_COLL_GATHER:
    case TACL_COLL_SCATTER:
    case TACL_COLL_ALL_TO_ALL:
        if (!chk_mul(b, (size_t)c->size, &b))
            return tacl__err(
                &c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                "%s: count=%zu elements of %s times %d ranks overflow size_t (rank %d)", what,
                a->count, dt, c->size, c->rank);
        return TACL_OK;
    case TACL_COLL_ALL_GATHERV:
        return chk_varray(c, a, what, "recv_counts", a->recv_counts, "displs", a->recv_displs, &sum,
                          &span);
    case TACL_COLL_ALL_TO_ALLV:
        TACL_CHECK(chk_varray(c, a, what, "send_counts", a->send_counts, "send_displs",
                              a->send_displs, &sum, &span));
        return chk_varray(c, a, what, "recv_counts", a->recv_counts, "recv_displs", a->recv_displs,
                          &sum, &span);
    default:
        return TACL_OK;
    }
}

/* ---- Overlap. Sizes are checked: no product below wraps. ---- */

typedef struct {
    uintptr_t lo, hi; /* [lo, hi); empty when lo == hi */
} chk_range_t;

/* bytes at p + off, in integers: a NULL buffer (count 0) with an offset is no pointer to form. */
static chk_range_t chk_range(const void *p, size_t off, size_t bytes)
{
    chk_range_t r = {(uintptr_t)p + off, (uintptr_t)p + off + bytes};
    if (!p || r.hi < r.lo) r.hi = r.lo; /* NULL (count 0), or the top of the address space */
    return r;
}

static int chk_overlap(chk_range_t x, chk_range_t y)
{
    return x.lo < x.hi && y.lo < y.hi && x.lo < y.hi && y.lo < x.hi;
}

static tacl_status_t chk_refuse(tacl_comm_t *c, const char *what, chk_range_t rd, chk_range_t wr,
                                const char *rdname, const char *wrname, const char *inplace)
{
    return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                     "%s: %s [%p, +%zu bytes) overlaps %s [%p, +%zu bytes) on rank %d; the only "
                     "overlap allowed is in place: %s",
                     what, wrname, (void *)wr.lo, (size_t)(wr.hi - wr.lo), rdname, (void *)rd.lo,
                     (size_t)(rd.hi - rd.lo), c->rank, inplace);
}

/* The v-variants: block-wise, because blocks need not be contiguous. */
static tacl_status_t chk_blocks(tacl_comm_t *c, const coll_args_t *a, const char *what)
{
    const size_t es = a->esz;
    const int n = c->size;
    if (a->kind == TACL_COLL_ALL_GATHERV) {
        chk_range_t rd = chk_range(a->send, 0, a->count * es);
        if ((uintptr_t)a->send == (uintptr_t)a->recv + a->recv_displs[c->rank] * es) return TACL_OK;
        for (int r = 0; r < n; r++) {
            chk_range_t wr = chk_range(a->recv, a->recv_displs[r] * es, a->recv_counts[r] * es);
            if (!chk_overlap(rd, wr)) continue;
            char blk[48];
            snprintf(blk, sizeof blk, "recv block %d", r);
            return chk_refuse(c, what, rd, wr, "send", blk,
                              "send == recv + displs[rank] * dtype size");
        }
        return TACL_OK;
    }
    /* all_to_allv: send == recv is in place; otherwise compare spans, then blocks. */
    if (a->send == a->recv) return TACL_OK;
    chk_range_t sspan = {UINTPTR_MAX, 0}, rspan = {UINTPTR_MAX, 0};
    for (int r = 0; r < n; r++) {
        chk_range_t s = chk_range(a->send, a->send_displs[r] * es, a->send_counts[r] * es);
        chk_range_t w = chk_range(a->recv, a->recv_displs[r] * es, a->recv_counts[r] * es);
        if (s.lo < s.hi) {
            if (s.lo < sspan.lo) sspan.lo = s.lo;
            if (s.hi > sspan.hi) sspan.hi = s.hi;
        }
        if (w.lo < w.hi) {
            if (w.lo < rspan.lo) rspan.lo = w.lo;
            if (w.hi > rspan.hi) rspan.hi = w.hi;
        }
    }
    if (sspan.lo >= sspan.hi || rspan.lo >= rspan.hi || !chk_overlap(sspan, rspan)) return TACL_OK;
    /* Rare: interleaved or overlapping layouts in one buffer. Pairwise, to name the blocks. */
    for (int r = 0; r < n; r++) {
        chk_range_t w = chk_range(a->recv, a->recv_displs[r] * es, a->recv_counts[r] * es);
        if (!chk_overlap(w, sspan)) continue;
        for (int q = 0; q < n; q++) {
            chk_range_t s = chk_range(a->send, a->send_displs[q] * es, a->send_counts[q] * es);
            if (!chk_overlap(s, w)) continue;
            char sb[48], wb[48];
            snprintf(sb, sizeof sb, "send block %d", q);
            snprintf(wb, sizeof wb, "recv block %d", r);
            return chk_refuse(c, what, s, w, sb, wb, "send == recv");
        }
    }
    return TACL_OK;
}

tacl_status_t coll_check_overlap(tacl_comm_t *c, const coll_args_t *a, const char *what)
{
    const size_t bytes = a->count * a->esz, all = bytes * (size_t)c->size;
    const int me = c->rank, root = a->root;
    const char *s = a->send;
    char *r = a->recv;
    chk_range_t rd, wr;
    const char *form;
    int ok_form;
    switch (a->kind) {
    case TACL_COLL_ALL_REDUCE:
    case TACL_COLL_REDUCE:
    case TACL_COLL_BROADCAST:
        /* reduce writes only at the root, broadcast reads only there */
        if (a->kind != TACL_COLL_ALL_REDUCE && me != root) return TACL_OK;
        rd = chk_range(s, 0, bytes);
        wr = chk_range(r, 0, bytes);
        ok_form = s == r;
        form = "send == recv";
        break;
    case TACL_COLL_ALL_GATHER:
        rd = chk_range(s, 0, bytes);
        wr = chk_range(r, 0, all);
        ok_form = (uintptr_t)s == (uintptr_t)r + (size_t)me * bytes;
        form = "send == recv + rank * count * dtype size";
        break;
    case TACL_COLL_GATHER:
        if (me != root) return TACL_OK;
        rd = chk_range(s, 0, bytes);
        wr = chk_range(r, 0, all);
        ok_form = (uintptr_t)s == (uintptr_t)r + (size_t)root * bytes;
        form = "at the root, send == recv + root * count * dtype size";
        break;
    case TACL_COLL_REDUCE_SCATTER:
        rd = chk_range(s, 0, all);
        wr = chk_range(r, 0, bytes);
        ok_form = (uintptr_t)r == (uintptr_t)s + (size_t)me * bytes;
        form = "recv == send + rank * recv_count * dtype size";
        break;
    case TACL_COLL_SCATTER:
        if (me != root) return TACL_OK;
        rd = chk_range(s, 0, all);
        wr = chk_range(r, 0, bytes);
        ok_form = (uintptr_t)r == (uintptr_t)s + (size_t)root * bytes;
        form = "at the root, recv == send + root * count * dtype size";
        break;
    case TACL_COLL_ALL_TO_ALL:
        rd = chk_range(s, 0, all);
        wr = chk_range(r, 0, all);
        ok_form = s == r;
        form = "send == recv";
        break;
    case TACL_COLL_ALL_GATHERV:
    case TACL_COLL_ALL_TO_ALLV:
        return chk_blocks(c, a, what);
    default:
        return TACL_OK;
    }
    if (ok_form || !chk_overlap(rd, wr)) return TACL_OK;
    return chk_refuse(c, what, rd, wr, "send buffer", "recv buffer", form);
}
