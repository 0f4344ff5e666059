/* fp.h — the fingerprint of one collective call: what every rank must agree on (operation,
 * count, type, reduction, root) plus the communicator's sequence number. Messages and shared
 * slots carry it so that ranks that called different operations get TACL_ERR_MISMATCH naming
 * both calls instead of corrupted data or a hang. */
#ifndef TACL_CORE_FP_H
#define TACL_CORE_FP_H

#include "tacl.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define TACL_COLL_LIST(X)                                                                          \
    X(TACL_COLL_NONE, "none")                                                                      \
    X(TACL_COLL_ALL_REDUCE, "all_reduce")                                                          \
    X(TACL_COLL_REDUCE, "reduce")                                                                  \
    X(TACL_COLL_BROADCAST, "broadcast")                                                            \
    X(TACL_COLL_ALL_GATHER, "all_gather")                                                          \
    X(TACL_COLL_ALL_GATHERV, "all_gatherv")                                                        \
    X(TACL_COLL_REDUCE_SCATTER, "reduce_scatter")                                                  \
    X(TACL_COLL_GATHER, "gather")                                                                  \
    X(TACL_COLL_SCATTER, "scatter")                                                                \
    X(TACL_COLL_ALL_TO_ALL, "all_to_all")                                                          \
    X(TACL_COLL_ALL_TO_ALLV, "all_to_allv")                                                        \
    X(TACL_COLL_BARRIER, "barrier")                                                                \
    X(TACL_COLL_SPLIT, "comm_split")                                                               \
    X(TACL_COLL_P2P, "send/recv")                                                                  \
    X(TACL_COLL_MEM_ALLOC, "tacl_mem_alloc")                                                       \
    X(TACL_COLL_MEM_FREE, "tacl_mem_free")

typedef enum {
#define TACL_COLL_ENUM_(name, str) name,
    TACL_COLL_LIST(TACL_COLL_ENUM_)
#undef TACL_COLL_ENUM_
        TACL_COLL_COUNT
} tacl__coll_t;

typedef struct {
    uint32_t coll;  /* tacl__coll_t */
    uint32_t dtype; /* tacl_dtype_t */
    uint32_t op;    /* tacl_op_t (reductions), else 0 */
    int32_t root;   /* rooted collectives, else -1 */
    uint64_t count; /* the count every rank must pass (total bytes for the v-variants) */
    uint64_t seq;   /* the communicator's operation number */
} tacl__fp_t;

/* Set in coll by a rank that rejected its call (TACL_ERR_INVALID) but still tells the others
 * which call it was, so that they fail at once instead of waiting for it. */
#define TACL_FP_REJECTED 0x100u

static inline const char *tacl__coll_name(uint32_t c)
{
    static const char *const names[] = {
#define TACL_COLL_NAME_(name, str) str,
        TACL_COLL_LIST(TACL_COLL_NAME_)
#undef TACL_COLL_NAME_
    };
    return c < TACL_COLL_COUNT ? names[c] : "unknown";
}

static inline int tacl__fp_equal(const tacl__fp_t *a, const tacl__fp_t *b)
{
    return a->coll == b->coll && a->dtype == b->dtype && a->op == b->op && a->root == b->root &&
           a->count == b->count && a->seq == b->seq;
}

/* What differs between two fingerprints, in words ("roots differ"); "" when they are equal. */
static inline const char *tacl__fp_diff(const tacl__fp_t *a, const tacl__fp_t *b)
{
    if ((a->coll ^ b->coll) & TACL_FP_REJECTED) return "one rank rejected its arguments";
    if (a->coll != b->coll) return "different collectives";
    if (a->count != b->count) return "counts differ";
    if (a->dtype != b->dtype) return "dtypes differ";
    if (a->op != b->op) return "reduction ops differ";
    if (a->root != b->root) return "roots differ";
    if (a->seq != b->seq) return "operation numbers differ";
    return "";
}

/* "all_reduce(count=10, float, sum, seq=3)"; "an invalid all_reduce(...)" when rejected. */
static inline void tacl__fp_format(const tacl__fp_t *fp, char *buf, size_t len)
{
    uint32_t coll = fp->coll & ~TACL_FP_REJECTED;
    int n = snprintf(buf, len, "%s%s(count=%llu, %s",
                     fp->coll & TACL_FP_REJECTED ? "an invalid " : "", tacl__coll_name(coll),
                     (unsigned long long)fp->count, tacl_dtype_name((tacl_dtype_t)fp->dtype));
    if (n < 0 || (size_t)n >= len) return;
    if (coll == TACL_COLL_ALL_REDUCE || coll == TACL_COLL_REDUCE ||
        coll == TACL_COLL_REDUCE_SCATTER)
        n += snprintf(buf + n, len - (size_t)n, ", %s", tacl_op_name((tacl_op_t)fp->op));
    if (n < 0 || (size_t)n >= len) return;
    if (fp->coll == TACL_COLL_ALL_GATHERV && fp->op)
        n += snprintf(buf + n, len - (size_t)n, ", recv_counts #%08x", (unsigned)fp->op);
    if (n < 0 || (size_t)n >= len) return;
    if (fp->root >= 0) n += snprintf(buf + n, len - (size_t)n, ", root=%d", fp->root);
    if (n < 0 || (size_t)n >= len) return;
    snprintf(buf + n, len - (size_t)n, ", seq=%llu)", (unsigned long long)fp->seq);
}

#endif
