/* coll_kind.c — what each collective is, in one table: whether it reduces, has a root, takes
 * fixed per-rank blocks (expanded to the v-variants the engine algorithms run), proves every
 * rank's agreement by its own data, and how many bytes the cost model charges it. The gate
 * (coll.c), the selector (select.c) and the algorithms consult it instead of switching on the
 * kind; coll_ctx_init gives an operation its fingerprint, deadline and number. */
#include "coll/coll.h"
#include "clock.h"

/* Bytes the model charges: the vector (REDUCE, BROADCAST, ALL_REDUCE), n blocks of count (the
 * fixed-block kinds: the gathered or scattered whole), the agreed receive total (all_gatherv),
 * or nothing (all_to_allv: its counts differ per rank, and every rank must choose alike). */
enum { KIND_BYTES_VEC, KIND_BYTES_BLOCKS, KIND_BYTES_RECV_COUNTS, KIND_BYTES_NONE };

#define ALL  COLL_NEED_ALL
#define ROOT COLL_NEED_ROOT
static const coll_kind_info_t kind_info[TACL_COLL_COUNT] = {
    [TACL_COLL_ALL_REDUCE] =
        {.reduction = 1, .by_data = 1, .bytes = KIND_BYTES_VEC, .send = ALL, .recv = ALL},
    [TACL_COLL_REDUCE] =
        {.reduction = 1, .rooted = 1, .bytes = KIND_BYTES_VEC, .send = ALL, .recv = ROOT},
    [TACL_COLL_BROADCAST] = {.rooted = 1, .bytes = KIND_BYTES_VEC, .send = ROOT, .recv = ALL},
    [TACL_COLL_ALL_GATHER] =
        {.fixed = 1, .by_data = 1, .bytes = KIND_BYTES_BLOCKS, .send = ALL, .recv = ALL},
    [TACL_COLL_ALL_GATHERV] = {.by_data = 1, .bytes = KIND_BYTES_RECV_COUNTS},
    [TACL_COLL_REDUCE_SCATTER] =
        {.reduction = 1, .by_data = 1, .bytes = KIND_BYTES_BLOCKS, .send = ALL, .recv = ALL},
    [TACL_COLL_GATHER] =
        {.rooted = 1, .fixed = 1, .bytes = KIND_BYTES_BLOCKS, .send = ALL, .recv = ROOT},
    [TACL_COLL_SCATTER] =
        {.rooted = 1, .fixed = 1, .bytes = KIND_BYTES_BLOCKS, .send = ROOT, .recv = ALL},
    [TACL_COLL_ALL_TO_ALL] = {.fixed = 1,
                              .by_data = 1,
                              .always_by_data = 1,
                              .bytes = KIND_BYTES_BLOCKS,
                              .send = ALL,
                              .recv = ALL},
    [TACL_COLL_ALL_TO_ALLV] = {.by_data = 1, .always_by_data = 1, .bytes = KIND_BYTES_NONE},
    [TACL_COLL_BARRIER] = {.by_data = 1, .always_by_data = 1, .bytes = KIND_BYTES_NONE},
};
#undef ALL
#undef ROOT

const coll_kind_info_t *coll_kind(tacl__coll_t k)
{
    static const coll_kind_info_t none = {.bytes = KIND_BYTES_NONE};
    return (unsigned)k < TACL_COLL_COUNT ? &kind_info[k] : &none;
}

double coll_model_bytes(const tacl_comm_t *c, const coll_args_t *a)
{
    double b = 0;
    switch (coll_kind(a->kind)->bytes) {
    case KIND_BYTES_VEC:
        return (double)a->count * (double)a->esz;
    case KIND_BYTES_BLOCKS:
        return (double)c->size * (double)a->count * (double)a->esz;
    case KIND_BYTES_RECV_COUNTS:
        for (int r = 0; a->recv_counts && r < c->size; r++)
            b += (double)a->recv_counts[r];
        return b * (double)a->esz;
    default:
        return 0;
    }
}

tacl__fp_t coll_fingerprint(const tacl_comm_t *c, const coll_args_t *a)
{
    const coll_kind_info_t *k = coll_kind(a->kind);
    tacl__fp_t fp = {(uint32_t)a->kind, (uint32_t)a->dt, 0, -1, a->count, c->seq};
    if (k->reduction) fp.op = (uint32_t)a->op;
    if (k->rooted) fp.root = a->root;
    if (a->kind == TACL_COLL_ALL_GATHERV) {
        size_t total = 0;
        for (int r = 0; r < c->size; r++)
            total += a->recv_counts[r];
        fp.count = total;
    } else if (k->bytes == KIND_BYTES_NONE) {
        fp.count = 0;
    }
    return fp;
}

void coll_ctx_init(coll_ctx_t *x, tacl_comm_t *c, const coll_args_t *a, tacl__req_t **agree)
{
    *x = (coll_ctx_t){c, coll_fingerprint(c, a), tacl__deadline_ns(c->timeout_s), 0, agree, 0};
    c->seq++;
}
