/* shm_group.c (test) — the shared-memory group with ranks as forked processes (mp_fork.h).
 * `shm_group ops N`: every collective on N ranks, several types and operators, counts from 0 to
 * 2^20+3, in place and out of place, against expectations computed here from every rank's
 * inputs (each rank can generate any rank's data); all_reduce results are also compared bitwise
 * across ranks; large all_reduce and reduce with each rank's buffers at its own offsets modulo
 * 4 KiB. `shm_group errors`: mismatched calls (count, operator, root, v-sizes) fail on
 * every rank and leave the group usable; a missing rank gives TIMEOUT naming it and breaks the
 * group; a rank killed mid-operation gives PEER_LOST naming it within a second. Every run ends
 * by checking that no segment of ours is left in /dev/shm. */
#include "check.h"
#include "clock.h"
#include "mp_fork.h"
#include "transport/shm/shm_group.h"
#include "transport/shm/shm_group_int.h"

#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BIG ((1u << 20) + 3)

static uint64_t seq;

static tacl__fp_t mkfp(tacl__coll_t coll, tacl_dtype_t dt, tacl_op_t op, int root, uint64_t count)
{
    tacl__fp_t fp = {(uint32_t)coll, (uint32_t)dt, (uint32_t)op, root, count, ++seq};
    return fp;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t key(int salt, int r, size_t i)
{
    return mix(((uint64_t)salt << 48) ^ ((uint64_t)r << 40) ^ i);
}

/* ---- Typed data: every rank's element i is a function of (salt, rank, i). ---- */
typedef struct {
    tacl_dtype_t dt;
    tacl_op_t op;
    int exact; /* floats: small integers (exact in every type), else random in [-4, 4) */
} tcase_t;

static uint16_t f2h(float f)
{
    _Float16 h = (_Float16)f;
    uint16_t u;
    memcpy(&u, &h, 2);
    return u;
}

static float h2f(uint16_t u)
{
    _Float16 h;
    memcpy(&h, &u, 2);
    return (float)h;
}

static double elem_real(const tcase_t *c, int salt, int r, size_t i)
{
    uint64_t k = key(salt, r, i);
    if (c->exact) return (double)((int)(k % 5) - 2);
    return ((double)(k >> 11) / 9007199254740992.0 - 0.5) * 8.0;
}

static void put(const tcase_t *c, void *buf, size_t i, int salt, int r)
{
    uint64_t k = key(salt, r, i);
    double v = elem_real(c, salt, r, i);
    size_t es = tacl_dtype_size(c->dt);
    switch (c->dt) {
    case TACL_FLOAT16:
        ((uint16_t *)buf)[i] = f2h((float)v);
        break;
    case TACL_BFLOAT16: { /* small integers: exact, the top half of the float */
        float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, 4);
        ((uint16_t *)buf)[i] = (uint16_t)(u >> 16);
        break;
    }
    case TACL_FLOAT32:
        ((float *)buf)[i] = (float)v;
        break;
    case TACL_FLOAT64:
        ((double *)buf)[i] = v;
        break;
    default:
        memcpy((char *)buf + i * es, &k, es);
        break;
    }
}

static void fill(const tcase_t *c, void *buf, size_t count, int salt, int r)
{
    for (size_t i = 0; i < count; i++)
        put(c, buf, i, salt, r);
}

/* Expected result of reducing element i over ranks 0..n-1 in rank order. */
static void expect(const tcase_t *c, void *out, size_t i, int salt, int n, size_t src_i)
{
    size_t es = tacl_dtype_size(c->dt);
    tacl_op_t op = c->op;
    if (c->dt <= TACL_UINT64) {
        int sgn = c->dt == TACL_INT8 || c->dt == TACL_INT32 || c->dt == TACL_INT64;
        int bits = (int)es * 8;
        uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
        uint64_t acc = key(salt, 0, src_i) & mask;
        for (int r = 1; r < n; r++) {
            uint64_t v = key(salt, r, src_i) & mask;
            int64_t sa = (int64_t)(acc << (64 - bits)) >> (64 - bits);
            int64_t sv = (int64_t)(v << (64 - bits)) >> (64 - bits);
            if (op == TACL_SUM || op == TACL_AVG)
                acc = (acc + v) & mask;
            else if (op == TACL_PROD)
                acc = (acc * v) & mask;
            else if (op == TACL_MIN)
                acc = (sgn ? sv < sa : v < acc) ? v : acc;
            else
                acc = (sgn ? sv > sa : v > acc) ? v : acc;
        }
        memcpy((char *)out + i * es, &acc, es);
        return;
    }
    if (c->dt == TACL_FLOAT64) {
        double acc = elem_real(c, salt, 0, src_i);
        for (int r = 1; r < n; r++) {
            double v = elem_real(c, salt, r, src_i);
            if (op == TACL_SUM || op == TACL_AVG)
                acc = acc + v;
            else if (op == TACL_PROD)
                acc = acc * v;
            else if (op == TACL_MIN)
                acc = v < acc ? v : acc;
            else
                acc = v > acc ? v : acc;
        }
        if (op == TACL_AVG) acc = acc / n;
        ((double *)out)[i] = acc;
        return;
    }
    float acc = (float)elem_real(c, salt, 0, src_i);
    for (int r = 1; r < n; r++) {
        float v = (float)elem_real(c, salt, r, src_i);
        if (op == TACL_SUM || op == TACL_AVG)
            acc = acc + v;
        else if (op == TACL_PROD)
            acc = acc * v;
        else if (op == TACL_MIN)
            acc = v < acc ? v : acc;
        else
            acc = v > acc ? v : acc;
    }
    if (c->dt == TACL_FLOAT32) {
        if (op == TACL_AVG) acc = acc / (float)n;
        ((float *)out)[i] = acc;
    } else if (c->dt == TACL_FLOAT16) {
        uint16_t h = f2h(acc);
        if (op == TACL_AVG) h = f2h(h2f(h) / (float)n); /* the sum rounds, then the division */
        ((uint16_t *)out)[i] = h;
    } else { /* bfloat16 data are small integers: their products and sums are exact */
        uint32_t u;
        memcpy(&u, &acc, 4);
        ((uint16_t *)out)[i] = (uint16_t)(u >> 16);
    }
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    CHECK(p);
    return p;
}

static uint64_t fnv(const void *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
    return h;
}

static uint64_t dl(void)
{
    return tacl__deadline_ns(20.0);
}

/* ---- The ops run. ---- */

static const tcase_t ar_cases[] = {
    {TACL_FLOAT32, TACL_SUM, 0}, {TACL_INT32, TACL_MAX, 0},     {TACL_INT32, TACL_SUM, 0},
    {TACL_INT32, TACL_PROD, 0},  {TACL_INT8, TACL_MIN, 0},      {TACL_UINT8, TACL_MAX, 0},
    {TACL_INT64, TACL_SUM, 0},   {TACL_UINT64, TACL_MIN, 0},    {TACL_FLOAT64, TACL_AVG, 0},
    {TACL_FLOAT16, TACL_SUM, 1}, {TACL_BFLOAT16, TACL_PROD, 1}, {TACL_FLOAT16, TACL_AVG, 1},
    {TACL_FLOAT32, TACL_MAX, 0},
};
static const size_t ar_counts[] = {0, 1, 7, 1000, 5000, BIG};

static void check_all_reduce(mp_ctx_t *ctx, tacl__shm_group_t *g, tacl__errbuf_t *eb)
{
    int n = ctx->size, me = ctx->rank, salt = 1;
    for (size_t ci = 0; ci < sizeof ar_cases / sizeof ar_cases[0]; ci++) {
        const tcase_t *c = &ar_cases[ci];
        size_t es = tacl_dtype_size(c->dt);
        for (size_t k = 0; k < sizeof ar_counts / sizeof ar_counts[0]; k++) {
            size_t count = ar_counts[k];
            if (count == BIG && ci >= 2) continue; /* the long vector for two cases only */
            salt++;
            char *send = xmalloc(count * es), *recv = xmalloc(count * es);
            char *want = xmalloc(count * es);
            fill(c, send, count, salt, me);
            for (size_t i = 0; i < count; i++)
                expect(c, want, i, salt, n, i);
            for (int inplace = 0; inplace < 2; inplace++) {
                memset(recv, 0xee, count * es);
                if (inplace) memcpy(recv, send, count * es);
                tacl__fp_t fp = mkfp(TACL_COLL_ALL_REDUCE, c->dt, c->op, -1, count);
                CHECK_OK(tacl__shm_all_reduce(g, inplace ? recv : send, recv, count, c->dt, c->op,
                                              &fp, dl(), eb));
                if (memcmp(recv, want, count * es)) {
                    for (size_t i = 0; i < count; i++)
                        if (memcmp(recv + i * es, want + i * es, es)) {
                            fprintf(stderr,
                                    "rank %d/%d all_reduce %s %s count %zu inplace %d: element "
                                    "%zu differs\n",
                                    me, n, tacl_dtype_name(c->dt), tacl_op_name(c->op), count,
                                    inplace, i);
                            break;
                        }
                    exit(1);
                }
                /* The same bits on every rank. */
                uint64_t h = fnv(recv, count * es), all[MP_MAX_RANKS];
                CHECK_OK(tacl__xchg_allgather(&ctx->xchg, &h, sizeof h, all, NULL));
                for (int r = 0; r < n; r++)
                    CHECK(all[r] == h);
            }
            /* Out of place leaves the input alone. */
            char *again = xmalloc(count * es);
            fill(c, again, count, salt, me);
            CHECK(!memcmp(again, send, count * es));
            free(again);
            free(send);
            free(recv);
            free(want);
        }
    }
}

static void check_reduce(mp_ctx_t *ctx, tacl__shm_group_t *g, tacl__errbuf_t *eb)
{
    int n = ctx->size, me = ctx->rank, root = n - 1, salt = 100;
    static const size_t counts[] = {0, 7, 1000, 5000, BIG};
    for (int ci = 0; ci < 2; ci++) {
        const tcase_t *c = &ar_cases[ci == 0 ? 2 : 0];
        size_t es = tacl_dtype_size(c->dt);
        for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
            size_t count = counts[k];
            salt++;
            char *send = xmalloc(count * es), *recv = me == root ? xmalloc(count * es) : NULL;
            fill(c, send, count, salt, me);
            tacl__fp_t fp = mkfp(TACL_COLL_REDUCE, c->dt, c->op, root, count);
            CHECK_OK(tacl__shm_reduce(g, send, recv, count, c->dt, c->op, root, &fp, dl(), eb));
            if (me == root) {
                char *want = xmalloc(count * es);
                for (size_t i = 0; i < count; i++)
                    expect(c, want, i, salt, n, i);
                CHECK(!memcmp(recv, want, count * es));
                free(want);
            }
            free(send);
            free(recv);
        }
    }
}

/* Large all_reduce and reduce with each rank's buffers at its own offsets modulo 4 KiB (the
 * malloc'd page plus 16 bytes among them): each rank places its data in its slots away from its
 * buffers (shm_ar_shift) and publishes where; values checked on every rank, and the ranks'
 * published shifts must differ in some case (the peers then read at shifts not their own). */
static void check_all_reduce_offsets(mp_ctx_t *ctx, tacl__shm_group_t *g, tacl__errbuf_t *eb)
{
    int n = ctx->size, me = ctx->rank, salt = 300, differed = 0;
    const tcase_t *c = &ar_cases[0];
    size_t es = tacl_dtype_size(c->dt), count = BIG, bytes = count * es;
    char *mem = xmalloc(2 * bytes + 4 * 4096), *want = xmalloc(bytes);
    char *base = (char *)(((uintptr_t)mem + 4095) & ~(uintptr_t)4095);
    for (int t = 0; t < 4; t++) {
        size_t off = ((size_t)me * 1040 + (size_t)t * 16 + (t == 0 ? 16 : 0)) % 4096;
        off &= ~(es - 1);
        char *send = base + off, *recv = base + bytes + 4096 + (off + (size_t)t * 528) % 4096;
        recv = (char *)((uintptr_t)recv & ~(uintptr_t)(es - 1));
        salt++;
        fill(c, send, count, salt, me);
        for (size_t i = 0; i < count; i++)
            expect(c, want, i, salt, n, i);
        tacl__fp_t fp = mkfp(TACL_COLL_ALL_REDUCE, c->dt, c->op, -1, count);
        CHECK_OK(tacl__shm_all_reduce(g, send, recv, count, c->dt, c->op, &fp, dl(), eb));
        CHECK(!memcmp(recv, want, bytes));
        for (int r = 1; r < n; r++)
            if ((g->aux[r] & 4032) != (g->aux[0] & 4032)) differed = 1;
        fp = mkfp(TACL_COLL_REDUCE, c->dt, c->op, n - 1, count);
        CHECK_OK(tacl__shm_reduce(g, send, me == n - 1 ? recv : NULL, count, c->dt, c->op, n - 1,
                                  &fp, dl(), eb));
        if (me == n - 1) CHECK(!memcmp(recv, want, bytes));
    }
    CHECK(n < 2 || differed);
    free(want);
    free(mem);
}

static unsigned char byte_of(int salt, int r, size_t j)
{
    return (unsigned char)key(salt, r, j);
}

static void fill_bytes(char *p, size_t len, int salt, int r)
{
    for (size_t j = 0; j < len; j++)
        p[j] = (char)byte_of(salt, r, j);
}

static int bytes_are(const char *p, size_t len, int salt, int r)
{
    for (size_t j = 0; j < len; j++)
        if ((unsigned char)p[j] != byte_of(salt, r, j)) return 0;
    return 1;
}

static void check_broadcast(mp_ctx_t *ctx, tacl__shm_group_t *g, tacl__errbuf_t *eb)
{
    int n = ctx->size, me = ctx->rank, root = 1 % n, salt = 200;
    static const size_t sizes[] = {0, 7, 4000, (size_t)BIG * 4};
    for (size_t k = 0; k < 4; k++) {
        for (int inplace = 0; inplace < 2; inplace++) {
            size_t b = sizes[k];
            salt++;
            char *send = xmalloc(b), *recv = xmalloc(b);
            memset(recv, 0, b);
            if (me == root) fill_bytes(inplace ? recv : send, b, salt, root);
            tacl__fp_t fp = mkfp(TACL_COLL_BROADCAST, TACL_UINT8, 0, root, b);
            CHECK_OK(tacl__shm_broadcast(g, inplace ? recv : send, recv, b, root, &fp, dl(), eb));
            CHECK(bytes_are(recv, b, salt, root));
            free(send);
            free(recv);
        }
    }
}

/* Block sizes that differ by rank (some empty), laid out in reverse rank order with gaps. */
static size_t vsize(size_t base, int r)
{
    return base ? base + (size_t)r * 3 : (size_t)(r % 2) * 5;
}

static size_t layout(size_t base, int n, size_t *sizes, size_t *displs)
{
    size_t at = 0;
    for (int r = n - 1; r >= 0; r--) {
        sizes[r] = vsize(base, r);
        displs[r] = at;
        at += sizes[r] + 5;
    }
    return at;
}

static void check_all_gatherv(mp_ctx_t *ctx, tacl__shm_group_t *g, tacl__errbuf_t *eb)
{
    int n = ctx->size, me = ctx->rank, salt = 300;
    static const size_t bases[] = {0, 7, 1000, 400000};
    size_t sizes[MP_MAX_RANKS], displs[MP_MAX_RANKS];
    for (size_t k = 0; k < 4; k++) {
        for (int inplace = 0; inplace < 2; inplace++) {
            salt++;
            size_t total = layout(bases[k], n, sizes, displs);
            char *send = xmalloc(sizes[me]), *recv = xmalloc(total);
            memset(recv, 0xee, total);
            fill_bytes(inplace ? recv + displs[me] : send, sizes[me], salt, me);
            tacl__fp_t fp = mkfp(TACL_COLL_ALL_GATHERV, TACL_UINT8, 0, -1, total);
            CHECK_OK(tacl__shm_all_gatherv(g, inplace ? recv + displs[me] : send, sizes[me], recv,
                                           sizes, displs, &fp, dl(), eb));
            for (int r = 0; r < n; r++) {
                CHECK(bytes_are(recv + displs[r], sizes[r], salt, r));
                for (int j = 0; j < 5; j++) /* the gaps are untouched */
                    CHECK((unsigned char)recv[displs[r] + sizes[r] + (size_t)j] == 0xee);
            }
            free(send);
            free(recv);
        }
    }
}

static void check_reduce_scatter(mp_ctx_t *ctx, tacl__shm_group_t *g, tacl__errbuf_t *eb)
{
    int n = ctx->size, me = ctx->rank, salt = 400;
    static const size_t counts[] = {0, 1, 7, 1000, 300007};
    for (int ci = 0; ci < 2; ci++) {
        const tcase_t *c = &ar_cases[ci == 0 ? 2 : 12];
        size_t es = tacl_dtype_size(c->dt);
        for (size_t k = 0; k < 5; k++) {
            for (int inplace = 0; inplace < 2; inplace++) {
                size_t rc = counts[k];
                salt++;
                char *send = xmalloc((size_t)n * rc * es), *recv = xmalloc(rc * es);
                char *want = xmalloc(rc * es);
                fill(c, send, (size_t)n * rc, salt, me);
                for (size_t i = 0; i < rc; i++)
                    expect(c, want, i, salt, n, (size_t)me * rc + i);
                tacl__fp_t fp = mkfp(TACL_COLL_REDUCE_SCATTER, c->dt, c->op, -1, rc);
                char *out = inplace ? send + (size_t)me * rc * es : recv;
                CHECK_OK(tacl__shm_reduce_scatter(g, send, out, rc, c->dt, c->op, &fp, dl(), eb));
                CHECK(!memcmp(out, want, rc * es));
                free(send);
                free(recv);
                free(want);
            }
        }
    }
}

static void check_gatherv_scatterv(mp_ctx_t *ctx, tacl__shm_group_t *g, tacl__errbuf_t *eb)
{
    int n = ctx->size, me = ctx->rank, salt = 500;
    static const size_t bases[] = {0, 7, 1000, 400000};
    size_t sizes[MP_MAX_RANKS], displs[MP_MAX_RANKS];
    for (size_t k = 0; k < 4; k++) {
        /* In place: the root's own block already sits in recv (gatherv) / recv is where its
         * block sits in send (scatterv). */
        for (int inplace = 0; inplace < 2; inplace++) {
            size_t total = layout(bases[k], n, sizes, displs);
            /* gatherv to rank 0 */
            salt++;
            char *send = xmalloc(sizes[me]), *recv = xmalloc(total);
            memset(recv, 0xee, total);
            const char *src = send;
            if (inplace && me == 0) {
                fill_bytes(recv + displs[0], sizes[0], salt, 0);
                src = recv + displs[0];
            } else {
                fill_bytes(send, sizes[me], salt, me);
            }
            tacl__fp_t fp = mkfp(TACL_COLL_GATHER, TACL_UINT8, 0, 0, total);
            CHECK_OK(tacl__shm_gatherv(g, src, sizes[me], me == 0 ? recv : NULL,
                                       me == 0 ? sizes : NULL, me == 0 ? displs : NULL, 0, &fp,
                                       dl(), eb));
            if (me == 0)
                for (int r = 0; r < n; r++)
                    CHECK(bytes_are(recv + displs[r], sizes[r], salt, r));
            /* scatterv from rank n-1: block r is rank r's bytes under this salt */
            salt++;
            int root = n - 1;
            if (me == root)
                for (int r = 0; r < n; r++)
                    fill_bytes(recv + displs[r], sizes[r], salt, r);
            char *mine = xmalloc(sizes[me]);
            char *dst = inplace && me == root ? recv + displs[root] : mine;
            fp = mkfp(TACL_COLL_SCATTER, TACL_UINT8, 0, root, total);
            CHECK_OK(tacl__shm_scatterv(g, me == root ? recv : NULL, me == root ? sizes : NULL,
                                        me == root ? displs : NULL, dst, sizes[me], root, &fp, dl(),
                                        eb));
            CHECK(bytes_are(dst, sizes[me], salt, me));
            free(mine);
            free(send);
            free(recv);
        }
    }
}

static size_t a2a_size(size_t k, int src, int dst)
{
    return (size_t)((src * 3 + dst * 5) % 7) * k + (src == dst);
}

static void check_all_to_allv(mp_ctx_t *ctx, tacl__shm_group_t *g, tacl__errbuf_t *eb)
{
    int n = ctx->size, me = ctx->rank, salt = 600;
    static const size_t ks[] = {0, 1, 100, 50000, 300000};
    for (size_t k = 0; k < 5; k++) {
        salt++;
        size_t ss[MP_MAX_RANKS], sd[MP_MAX_RANKS], rs[MP_MAX_RANKS], rd[MP_MAX_RANKS];
        size_t st = 0, rt = 0;
        for (int r = 0; r < n; r++) {
            ss[r] = a2a_size(ks[k], me, r);
            sd[r] = st;
            st += ss[r] + 3;
            rs[r] = a2a_size(ks[k], r, me);
            rd[r] = rt;
            rt += rs[r] + 3;
        }
        char *send = xmalloc(st), *recv = xmalloc(rt);
        for (int r = 0; r < n; r++)
            fill_bytes(send + sd[r], ss[r], salt + 1000 * r, me); /* block me -> r */
        tacl__fp_t fp = mkfp(TACL_COLL_ALL_TO_ALLV, TACL_UINT8, 0, -1, 0);
        CHECK_OK(tacl__shm_all_to_allv(g, send, ss, sd, recv, rs, rd, &fp, dl(), eb));
        for (int r = 0; r < n; r++)
            CHECK(bytes_are(recv + rd[r], rs[r], salt + 1000 * me, r)); /* block r -> me */
        free(send);
        free(recv);
    }
}

static void check_barrier(mp_ctx_t *ctx, tacl__shm_group_t *g, tacl__errbuf_t *eb)
{
    if (ctx->size < 2) return;
    /* Rank 0 arrives 50 ms late: nobody may leave before it arrived (CLOCK_MONOTONIC is one
     * clock for every process of the host, so the times compare across ranks). */
    uint64_t times[MP_MAX_RANKS], t;
    tacl__fp_t fp = mkfp(TACL_COLL_BARRIER, 0, 0, -1, 0);
    CHECK_OK(tacl__shm_barrier(g, &fp, dl(), eb));
    if (ctx->rank == 0) usleep(50000);
    uint64_t arrived = tacl__now_ns();
    fp = mkfp(TACL_COLL_BARRIER, 0, 0, -1, 0);
    CHECK_OK(tacl__shm_barrier(g, &fp, dl(), eb));
    uint64_t left = tacl__now_ns();
    t = ctx->rank == 0 ? arrived : left;
    CHECK_OK(tacl__xchg_allgather(&ctx->xchg, &t, sizeof t, times, NULL));
    CHECK(left >= times[0]);
}

static void check_no_segment_left(const mp_result_t *res, int n)
{
    DIR *d = opendir("/dev/shm");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        for (int r = 0; r < n; r++) {
            char tag[64];
            snprintf(tag, sizeof tag, "tacl-grp-%d-", (int)res[r].pid);
            if (strstr(e->d_name, tag)) {
                fprintf(stderr, "left in /dev/shm: %s\n", e->d_name);
                exit(1);
            }
        }
    }
    closedir(d);
}

static tacl__shm_group_t *make_group(mp_ctx_t *ctx, const int *comm_ranks, tacl__errbuf_t *eb)
{
    tacl__shm_group_config_t cfg = {
        .xchg = &ctx->xchg, .comm_ranks = comm_ranks, .timeout_s = 10.0};
    tacl__shm_group_t *g = NULL;
    CHECK_OK(tacl__shm_group_create(&cfg, &g, eb));
    return g;
}

static int ops_main(mp_ctx_t *ctx, void *arg)
{
    (void)arg;
    tacl__errbuf_t eb;
    int ranks[MP_MAX_RANKS];
    for (int r = 0; r < ctx->size; r++)
        ranks[r] = r;
    tacl__shm_group_t *g = make_group(ctx, ranks, &eb);
    check_all_reduce(ctx, g, &eb);
    check_reduce(ctx, g, &eb);
    check_all_reduce_offsets(ctx, g, &eb);
    check_broadcast(ctx, g, &eb);
    check_all_gatherv(ctx, g, &eb);
    check_reduce_scatter(ctx, g, &eb);
    check_gatherv_scatterv(ctx, g, &eb);
    check_all_to_allv(ctx, g, &eb);
    check_barrier(ctx, g, &eb);
    tacl__shm_group_destroy(g);
    return 0;
}

/* ---- The errors run (3 ranks, communicator ranks 10, 11, 12). ---- */

static void expect_err(tacl_status_t st, tacl_status_t want, const char *msg, const char *sub)
{
    if (st != want) {
        fprintf(stderr, "got %s, expected %s: %s\n", tacl_status_name(st), tacl_status_name(want),
                msg);
        exit(1);
    }
    CHECK_CONTAINS(msg, sub);
}

static int errors_main(mp_ctx_t *ctx, void *arg)
{
    (void)arg;
    static const int ranks[3] = {10, 11, 12};
    int me = ctx->rank;
    tacl__errbuf_t eb;
    tacl__shm_group_t *g = make_group(ctx, ranks, &eb);
    int32_t v[16], out[16];
    for (int i = 0; i < 16; i++)
        v[i] = me + i;

    /* Count mismatch: every rank fails, naming rank 0's and rank 2's calls. */
    size_t cnt = me == 2 ? 11 : 10;
    tacl__fp_t fp = mkfp(TACL_COLL_ALL_REDUCE, TACL_INT32, TACL_SUM, -1, cnt);
    tacl_status_t st = tacl__shm_all_reduce(g, v, out, cnt, TACL_INT32, TACL_SUM, &fp, dl(), &eb);
    expect_err(st, TACL_ERR_MISMATCH, eb.msg, "rank 10 called all_reduce(count=10, int32, sum");
    CHECK_CONTAINS(eb.msg, "rank 12 called all_reduce(count=11, int32, sum");
    CHECK_CONTAINS(tacl_last_error(), "rank 12 called all_reduce(count=11");

    /* The group stays usable. */
    fp = mkfp(TACL_COLL_ALL_REDUCE, TACL_INT32, TACL_SUM, -1, 16);
    CHECK_OK(tacl__shm_all_reduce(g, v, out, 16, TACL_INT32, TACL_SUM, &fp, dl(), &eb));
    for (int i = 0; i < 16; i++)
        CHECK(out[i] == 3 * i + 3);

    /* Operator mismatch, then root mismatch. */
    tacl_op_t op = me == 1 ? TACL_MAX : TACL_SUM;
    fp = mkfp(TACL_COLL_ALL_REDUCE, TACL_INT32, op, -1, 16);
    st = tacl__shm_all_reduce(g, v, out, 16, TACL_INT32, op, &fp, dl(), &eb);
    expect_err(st, TACL_ERR_MISMATCH, eb.msg, "rank 10 called all_reduce(count=16, int32, sum");
    CHECK_CONTAINS(eb.msg, "rank 11 called all_reduce(count=16, int32, max");
    int root = me == 0 ? 0 : 1;
    fp = mkfp(TACL_COLL_REDUCE, TACL_INT32, TACL_SUM, root, 16);
    st = tacl__shm_reduce(g, v, out, 16, TACL_INT32, TACL_SUM, root, &fp, dl(), &eb);
    expect_err(st, TACL_ERR_MISMATCH, eb.msg, "root=0");
    CHECK_CONTAINS(eb.msg, "rank 11 called reduce(count=16, int32, sum, root=1");

    /* all_gatherv where rank 2 contributes 8 bytes but the others (and rank 2's own counts)
     * expect 4: every rank fails, naming the pair it is part of. */
    size_t sizes[3] = {4, 4, 4}, displs[3] = {0, 8, 16};
    char buf[32];
    fp = mkfp(TACL_COLL_ALL_GATHERV, TACL_UINT8, 0, -1, 12);
    st = tacl__shm_all_gatherv(g, v, me == 2 ? 8 : 4, buf, sizes, displs, &fp, dl(), &eb);
    expect_err(st, TACL_ERR_MISMATCH, eb.msg, "rank 12 sends 8 elements of uint8 to rank 1");
    CHECK_CONTAINS(eb.msg, "expects 4");

    fp = mkfp(TACL_COLL_BARRIER, 0, 0, -1, 0);
    CHECK_OK(tacl__shm_barrier(g, &fp, dl(), &eb));

    /* Waiting ranks sleep: rank 0 arrives 300 ms late, and the others may burn only a small
     * part of that in CPU time (a spin, a yield phase, then the futex). */
    if (me == 0) usleep(300000);
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    fp = mkfp(TACL_COLL_BARRIER, 0, 0, -1, 0);
    CHECK_OK(tacl__shm_barrier(g, &fp, dl(), &eb));
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9;
    if (me != 0 && cpu > 0.1) {
        fprintf(stderr, "rank %d burnt %.3f s of CPU waiting 0.3 s for a barrier\n", me, cpu);
        exit(1);
    }

    /* Rank 2 stays away: the others time out naming it, and the group is broken for them. */
    int32_t pids[3], mypid = (int32_t)getpid();
    CHECK_OK(tacl__xchg_allgather(&ctx->xchg, &mypid, sizeof mypid, pids, NULL));
    if (me != 2) {
        char want[64];
        snprintf(want, sizeof want, "rank 12 (pid %d)", (int)pids[2]);
        fp = mkfp(TACL_COLL_BARRIER, 0, 0, -1, 0);
        uint64_t t0 = tacl__now_ns();
        st = tacl__shm_barrier(g, &fp, tacl__deadline_ns(0.3), &eb);
        double took = (double)(tacl__now_ns() - t0) * 1e-9;
        if (st == TACL_ERR_TIMEOUT)
            CHECK_CONTAINS(eb.msg, want);
        else
            expect_err(st, TACL_ERR_TIMEOUT, eb.msg, "gave up"); /* other rank posted first */
        CHECK(took >= 0.25 && took < 2.0);
        fp = mkfp(TACL_COLL_ALL_REDUCE, TACL_INT32, TACL_SUM, -1, 16);
        st = tacl__shm_all_reduce(g, v, out, 16, TACL_INT32, TACL_SUM, &fp, dl(), &eb);
        expect_err(st, TACL_ERR_TIMEOUT, eb.msg, "unusable after an earlier error");
    }
    CHECK_OK(tacl__xchg_allgather(&ctx->xchg, &mypid, sizeof mypid, pids, NULL));
    tacl__shm_group_destroy(g);
    seq = 1000; /* ranks 0 and 1 made two more calls than rank 2 */

    /* A fresh group; rank 1 dies (SIGALRM, default action) in the middle of all_reduces. */
    g = make_group(ctx, ranks, &eb);
    size_t count = 1 << 18;
    float *a = xmalloc(count * 4), *b = xmalloc(count * 4);
    for (size_t i = 0; i < count; i++)
        a[i] = 1.0f;
    if (me == 1) {
        struct itimerval it = {{0, 0}, {0, 20000}};
        setitimer(ITIMER_REAL, &it, NULL);
    }
    uint64_t last_ok = tacl__now_ns();
    for (int it = 0; it < 100000; it++) {
        fp = mkfp(TACL_COLL_ALL_REDUCE, TACL_FLOAT32, TACL_SUM, -1, count);
        st = tacl__shm_all_reduce(g, a, b, count, TACL_FLOAT32, TACL_SUM, &fp, dl(), &eb);
        if (st != TACL_OK) break;
        CHECK(b[0] == 3.0f && b[count - 1] == 3.0f);
        last_ok = tacl__now_ns();
    }
    CHECK(me != 1); /* rank 1 never gets here */
    char want[96];
    snprintf(want, sizeof want, "rank 11 (pid %d) on this host died during all_reduce(count=%zu",
             (int)pids[1], count);
    expect_err(st, TACL_ERR_PEER_LOST, eb.msg, want);
    CHECK(tacl__now_ns() - last_ok < 1000000000ull);
    tacl__shm_group_destroy(g);
    free(a);
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    if (access("/dev/shm", W_OK) != 0) SKIP("/dev/shm is not writable here");
    mp_result_t res[MP_MAX_RANKS];
    if (argc >= 3 && !strcmp(argv[1], "ops")) {
        int n = atoi(argv[2]);
        CHECK(n >= 1 && n <= MP_MAX_RANKS);
        CHECK(mp_run(n, ops_main, NULL, 100.0, res) == 0);
        check_no_segment_left(res, n);
        CHECK(mp_all_ok(res, n));
        printf("shm group: every collective correct on %d ranks\n", n);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "errors")) {
        CHECK(mp_run(3, errors_main, NULL, 60.0, res) == 0);
        check_no_segment_left(res, 3);
        CHECK(res[1].sig == SIGALRM);
        CHECK(res[0].exited && res[0].code == 0 && res[2].exited && res[2].code == 0);
        printf("shm group: mismatch, timeout and peer loss reported on every rank\n");
        return 0;
    }
    fprintf(stderr, "usage: %s ops N | errors\n", argv[0]);
    return 2;
}
