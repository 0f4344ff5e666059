/* test_coll.c — every host collective on n ranks (argv[1]; TACL_TEST_HOSTS=k spreads them over
 * k fake hosts so that the tcp and hierarchical paths run too), several types and ops,
 * counts {0, 1, 7, 1000, 2^20+3}, in place and out of place, each result checked against a
 * value computed independently here; all_reduce results checked bitwise identical on every
 * rank. */
#include "check.h"
#include "mp_world.h"
#include "typed.h"

#include <math.h>
#include <stdint.h>
#include <unistd.h>

static const size_t coll_counts[] = {0, 1, 7, 1000, (1u << 20) + 3};
#define NCOUNTS (sizeof coll_counts / sizeof coll_counts[0])
#define BIG     ((1u << 20) + 3)

static int fails;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (fails++ < 10) {                                                                    \
                fprintf(stderr, "rank %d: ", me);                                                  \
                fprintf(stderr, __VA_ARGS__);                                                      \
                fprintf(stderr, "\n");                                                             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* Input of rank r, element i: small integers so that every type holds every result exactly. */
static double in_val(int r, size_t i, tacl_op_t op)
{
    if (op == TACL_PROD) return (r + i) % 5 == 0 ? 2 : 1;
    return (double)((r + i) % 3) + 1;
}

static double expect_red(int n, size_t i, tacl_op_t op, tacl_dtype_t dt)
{
    double acc = in_val(0, i, op);
    for (int r = 1; r < n; r++) {
        double v = in_val(r, i, op);
        switch (op) {
        case TACL_SUM:
        case TACL_AVG:
            acc += v;
            break;
        case TACL_PROD:
            acc *= v;
            break;
        case TACL_MIN:
            acc = v < acc ? v : acc;
            break;
        case TACL_MAX:
            acc = v > acc ? v : acc;
            break;
        default:
            break;
        }
    }
    if (op == TACL_AVG) acc = tv_is_float(dt) ? acc / n : floor(acc / n);
    return acc;
}

static void *xalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    CHECK(p);
    return p;
}

static int check_red(int me, const void *buf, size_t count, int n, tacl_op_t op, tacl_dtype_t dt,
                     const char *what)
{
    for (size_t i = 0; i < count; i++) {
        double e = expect_red(n, i, op, dt), g = tv_get(buf, i, dt);
        double tol = tv_tol(dt, e) + (op == TACL_AVG && tv_is_float(dt) ? fabs(e) * 1e-2 : 0);
        if (fabs(g - e) > tol) {
            EXPECT(0, "%s %s %s count %zu: [%zu] = %g, expected %g", what, tacl_dtype_name(dt),
                   tacl_op_name(op), count, i, g, e);
            return 1;
        }
    }
    return 0;
}

static int t_all_reduce(tacl_comm_t *w)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    for (int dt = 0; dt < TACL_DTYPE_COUNT; dt++) {
        size_t esz = tacl_dtype_size(dt);
        for (int op = 0; op < TACL_OP_COUNT; op++) {
            for (size_t ci = 0; ci < NCOUNTS; ci++) {
                size_t count = coll_counts[ci];
                /* The largest count for every type with sum, and for float32 with every op. */
                if (count == BIG && op != TACL_SUM && dt != TACL_FLOAT32) continue;
                for (int inplace = 0; inplace < 2; inplace++) {
                    char *s = xalloc(count * esz), *r = inplace ? s : xalloc(count * esz);
                    for (size_t i = 0; i < count; i++)
                        tv_set(s, i, dt, in_val(me, i, op));
                    OK(tacl_all_reduce(w, s, r, count, dt, op));
                    check_red(me, r, count, n, op, dt,
                              inplace ? "all_reduce(in place)" : "all_reduce");
                    if (!inplace) free(r);
                    free(s);
                }
            }
        }
    }
    /* Bitwise identical results on every rank for inexact float inputs. */
    const tacl_dtype_t fdt[] = {TACL_FLOAT16, TACL_BFLOAT16, TACL_FLOAT32, TACL_FLOAT64};
    const size_t fcounts[] = {7, 5000, 300000};
    for (size_t k = 0; k < 4; k++) {
        for (size_t ci = 0; ci < 3; ci++) {
            size_t count = fcounts[ci], esz = tacl_dtype_size(fdt[k]);
            char *b = xalloc(count * esz), *all = xalloc(count * esz * (size_t)n);
            for (size_t i = 0; i < count; i++)
                tv_set(b, i, fdt[k], sin((double)(me * 7919 + i)) * 3.3);
            OK(tacl_all_reduce(w, b, b, count, fdt[k], TACL_SUM));
            OK(tacl_all_gather(w, b, all, count * esz, TACL_UINT8));
            for (int q = 0; q < n; q++)
                EXPECT(!memcmp(all, all + (size_t)q * count * esz, count * esz),
                       "all_reduce %s count %zu: rank %d's result differs bitwise from rank 0's",
                       tacl_dtype_name(fdt[k]), count, q);
            free(b);
            free(all);
        }
    }
    return 0;
}

static int t_reduce_bcast(tacl_comm_t *w)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    const tacl_dtype_t dts[] = {TACL_INT32, TACL_FLOAT32, TACL_BFLOAT16, TACL_UINT64};
    for (size_t k = 0; k < 4; k++) {
        tacl_dtype_t dt = dts[k];
        size_t esz = tacl_dtype_size(dt);
        for (size_t ci = 0; ci < NCOUNTS; ci++) {
            size_t count = coll_counts[ci];
            for (int inplace = 0; inplace < 2; inplace++) {
                tacl_op_t op = inplace ? TACL_MAX : TACL_SUM;
                int root = (n - 1 + (int)ci) % n;
                char *s = xalloc(count * esz), *r = inplace ? s : xalloc(count * esz);
                for (size_t i = 0; i < count; i++)
                    tv_set(s, i, dt, in_val(me, i, op));
                OK(tacl_reduce(w, s, r, count, dt, op, root));
                if (me == root) check_red(me, r, count, n, op, dt, "reduce");
                if (!inplace) free(r);
                /* broadcast from another root */
                int broot = (int)(ci + k) % n;
                char *b = xalloc(count * esz), *bo = inplace ? b : xalloc(count * esz);
                for (size_t i = 0; i < count; i++)
                    tv_set(b, i, dt, me == broot ? (double)((i * 7 + (size_t)broot) % 100) : 0);
                OK(tacl_broadcast(w, b, bo, count, dt, broot));
                for (size_t i = 0; i < count; i++) {
                    double e = (double)((i * 7 + (size_t)broot) % 100);
                    if (tv_get(bo, i, dt) != e) {
                        EXPECT(0, "broadcast %s count %zu root %d: [%zu] = %g, expected %g",
                               tacl_dtype_name(dt), count, broot, i, tv_get(bo, i, dt), e);
                        break;
                    }
                }
                if (!inplace) free(bo);
                free(b);
                free(s);
            }
        }
    }
    return 0;
}

static int t_gathers(tacl_comm_t *w)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    const tacl_dtype_t dts[] = {TACL_INT8, TACL_FLOAT32};
    for (size_t k = 0; k < 2; k++) {
        tacl_dtype_t dt = dts[k];
        size_t esz = tacl_dtype_size(dt);
        for (size_t ci = 0; ci < NCOUNTS; ci++) {
            size_t count = coll_counts[ci];
            if (count == BIG && n > 4) count = 100003; /* keep n * count in budget */
            size_t total = count * (size_t)n;
            for (int inplace = 0; inplace < 2; inplace++) {
                char *r = xalloc(total * esz);
                char *s = inplace ? r + (size_t)me * count * esz : xalloc(count * esz);
                for (size_t i = 0; i < count; i++)
                    tv_set(s, i, dt, (double)((me * 3 + i) % 50));
                OK(tacl_all_gather(w, s, r, count, dt));
                for (int q = 0; q < n; q++)
                    for (size_t i = 0; i < count; i++)
                        if (tv_get(r, (size_t)q * count + i, dt) != (double)((q * 3 + i) % 50)) {
                            EXPECT(0, "all_gather %s count %zu: block %d [%zu] = %g",
                                   tacl_dtype_name(dt), count, q, i,
                                   tv_get(r, (size_t)q * count + i, dt));
                            q = n;
                            break;
                        }
                /* gather to the last rank, scatter from rank 0 */
                int root = n - 1;
                char *g = xalloc(total * esz);
                char *gs = inplace && me == root ? g + (size_t)me * count * esz : s;
                if (gs != s) memcpy(gs, s, count * esz);
                OK(tacl_gather(w, gs, g, count, dt, root));
                if (me == root)
                    for (size_t j = 0; j < total; j++) {
                        size_t q = j / (count ? count : 1), i = j % (count ? count : 1);
                        if (tv_get(g, j, dt) != (double)((q * 3 + i) % 50)) {
                            EXPECT(0, "gather %s count %zu: [%zu] wrong", tacl_dtype_name(dt),
                                   count, j);
                            break;
                        }
                    }
                char *so = xalloc(count * esz);
                OK(tacl_scatter(w, r, so, count, dt, 0));
                for (size_t i = 0; i < count; i++)
                    if (tv_get(so, i, dt) != (double)((me * 3 + i) % 50)) {
                        EXPECT(0, "scatter %s count %zu: [%zu] wrong", tacl_dtype_name(dt), count,
                               i);
                        break;
                    }
                free(so);
                free(g);
                if (!inplace) free(s);
                free(r);
            }
        }
    }
    /* all_gatherv: rank q contributes q + 3 elements, blocks stored in reverse rank order. */
    size_t *cnt = xalloc((size_t)n * sizeof *cnt), *dsp = xalloc((size_t)n * sizeof *dsp);
    size_t total = 0;
    for (int q = n - 1; q >= 0; q--) {
        cnt[q] = (size_t)q + 3;
        dsp[q] = total;
        total += cnt[q];
    }
    int64_t *s = xalloc(cnt[me] * 8), *r = xalloc(total * 8);
    for (size_t i = 0; i < cnt[me]; i++)
        s[i] = me * 1000 + (int64_t)i;
    OK(tacl_all_gatherv(w, s, cnt[me], r, cnt, dsp, TACL_INT64));
    for (int q = 0; q < n; q++)
        for (size_t i = 0; i < cnt[q]; i++)
            EXPECT(r[dsp[q] + i] == q * 1000 + (int64_t)i, "all_gatherv block %d [%zu] = %lld", q,
                   i, (long long)r[dsp[q] + i]);
    free(s);
    free(r);
    /* The displacements are each rank's own layout: here rotated by rank (block me first). */
    total = 0;
    for (int k = 0; k < n; k++) {
        int q = (me + k) % n;
        dsp[q] = total;
        total += cnt[q] + 1;
    }
    s = xalloc(cnt[me] * 8);
    r = xalloc(total * 8);
    for (size_t i = 0; i < cnt[me]; i++)
        s[i] = me * 1000 + (int64_t)i + 7;
    OK(tacl_all_gatherv(w, s, cnt[me], r, cnt, dsp, TACL_INT64));
    for (int q = 0; q < n; q++)
        for (size_t i = 0; i < cnt[q]; i++)
            EXPECT(r[dsp[q] + i] == q * 1000 + (int64_t)i + 7,
                   "all_gatherv (rotated layout) block %d [%zu] = %lld", q, i,
                   (long long)r[dsp[q] + i]);
    free(s);
    free(r);
    free(cnt);
    free(dsp);
    return 0;
}

static int t_reduce_scatter(tacl_comm_t *w)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    const tacl_dtype_t dts[] = {TACL_FLOAT32, TACL_INT64, TACL_FLOAT16};
    const tacl_op_t ops[] = {TACL_SUM, TACL_MIN, TACL_AVG};
    for (size_t k = 0; k < 3; k++) {
        tacl_dtype_t dt = dts[k];
        size_t esz = tacl_dtype_size(dt);
        for (size_t ci = 0; ci < NCOUNTS; ci++) {
            size_t count = coll_counts[ci];
            if (count == BIG && n > 4) count = 100003;
            size_t total = count * (size_t)n;
            for (int inplace = 0; inplace < 2; inplace++) {
                tacl_op_t op = ops[(k + (size_t)inplace) % 3];
                char *s = xalloc(total * esz);
                /* element j of the full vector has index j */
                for (size_t j = 0; j < total; j++)
                    tv_set(s, j, dt, in_val(me, j, op));
                char *r = inplace ? s + (size_t)me * count * esz : xalloc(count * esz);
                OK(tacl_reduce_scatter(w, s, r, count, dt, op));
                for (size_t i = 0; i < count; i++) {
                    size_t j = (size_t)me * count + i;
                    double e = expect_red(n, j, op, dt), g = tv_get(r, i, dt);
                    double tol = tv_tol(dt, e) + (op == TACL_AVG ? fabs(e) * 1e-2 : 0);
                    if (fabs(g - e) > tol) {
                        EXPECT(0, "reduce_scatter %s %s count %zu: [%zu] = %g, expected %g",
                               tacl_dtype_name(dt), tacl_op_name(op), count, i, g, e);
                        break;
                    }
                }
                if (!inplace) free(r);
                free(s);
            }
        }
    }
    return 0;
}

static int t_alltoall_p2p(tacl_comm_t *w)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    for (size_t ci = 0; ci < NCOUNTS - 1; ci++) {
        size_t count = coll_counts[ci], total = count * (size_t)n;
        for (int inplace = 0; inplace < 2; inplace++) {
            uint32_t *s = xalloc(total * 4), *r = inplace ? s : xalloc(total * 4);
            for (int q = 0; q < n; q++)
                for (size_t i = 0; i < count; i++)
                    s[(size_t)q * count + i] = (uint32_t)(me * 1000000 + q * 10000 + (int)i);
            OK(tacl_all_to_all(w, s, r, count, TACL_UINT32));
            for (int q = 0; q < n; q++)
                for (size_t i = 0; i < count; i++) {
                    uint32_t e = (uint32_t)(q * 1000000 + me * 10000 + (int)i);
                    if (r[(size_t)q * count + i] != e) {
                        EXPECT(0, "all_to_all count %zu: from %d [%zu] = %u, expected %u", count, q,
                               i, r[(size_t)q * count + i], e);
                        q = n;
                        break;
                    }
                }
            if (!inplace) free(r);
            free(s);
        }
    }
    /* all_to_allv: rank a sends (a + b) % 3 + 1 elements to rank b. */
    size_t *sc = xalloc((size_t)n * sizeof(size_t)), *sd = xalloc((size_t)n * sizeof(size_t));
    size_t *rc = xalloc((size_t)n * sizeof(size_t)), *rd = xalloc((size_t)n * sizeof(size_t));
    size_t st = 0, rt = 0;
    for (int q = 0; q < n; q++) {
        sc[q] = (size_t)((me + q) % 3 + 1);
        sd[q] = st;
        st += sc[q];
        rc[q] = (size_t)((q + me) % 3 + 1);
        rd[q] = rt;
        rt += rc[q];
    }
    double *s = xalloc(st * 8), *r = xalloc(rt * 8);
    for (int q = 0; q < n; q++)
        for (size_t i = 0; i < sc[q]; i++)
            s[sd[q] + i] = me * 100 + q + (double)i / 10;
    OK(tacl_all_to_allv(w, s, sc, sd, r, rc, rd, TACL_FLOAT64));
    for (int q = 0; q < n; q++)
        for (size_t i = 0; i < rc[q]; i++)
            EXPECT(r[rd[q] + i] == q * 100 + me + (double)i / 10, "all_to_allv from %d [%zu]", q,
                   i);
    free(s);
    free(r);
    free(sc);
    free(sd);
    free(rc);
    free(rd);
    /* Tagged send/recv around the ring, two messages per tag in order, and a large one. */
    if (n > 1) {
        int to = (me + 1) % n, from = (me - 1 + n) % n;
        int32_t a = me, b = me + 100, ga = -1, gb = -1;
        if (me % 2 == 0) {
            OK(tacl_send(w, &a, 1, TACL_INT32, to, 7));
            OK(tacl_send(w, &b, 1, TACL_INT32, to, 7));
            OK(tacl_recv(w, &ga, 1, TACL_INT32, from, 7));
            OK(tacl_recv(w, &gb, 1, TACL_INT32, from, 7));
        } else {
            OK(tacl_recv(w, &ga, 1, TACL_INT32, from, 7));
            OK(tacl_recv(w, &gb, 1, TACL_INT32, from, 7));
            OK(tacl_send(w, &a, 1, TACL_INT32, to, 7));
            OK(tacl_send(w, &b, 1, TACL_INT32, to, 7));
        }
        EXPECT(ga == from && gb == from + 100, "send/recv order: got %d, %d from %d", ga, gb, from);
        size_t big = 3u << 20;
        uint8_t *bs = xalloc(big), *br = xalloc(big);
        for (size_t i = 0; i < big; i++)
            bs[i] = (uint8_t)(i * 31 + (size_t)me);
        if (me == 0) {
            OK(tacl_send(w, bs, big, TACL_UINT8, n - 1, 9));
        } else if (me == n - 1) {
            OK(tacl_recv(w, br, big, TACL_UINT8, 0, 9));
            for (size_t i = 0; i < big; i++)
                if (br[i] != (uint8_t)(i * 31)) {
                    EXPECT(0, "large recv [%zu] wrong", i);
                    break;
                }
        }
        free(bs);
        free(br);
    }
    OK(tacl_barrier(w));
    return 0;
}

/* The in-place forms of tacl.h not covered above, each at a small count and at one that takes
 * several shared-memory steps: scatter at the root (recv == send + root * count), all_gatherv
 * (send == recv + displs[rank]), all_to_all with blocks larger than one step, and all_to_allv
 * with send == recv and send and receive layouts that differ (data must be read before the
 * blocks it lands on are written). */
static int t_inplace(tacl_comm_t *w)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    const size_t counts[] = {3, 300007};
    for (size_t ci = 0; ci < 2; ci++) {
        size_t count = counts[ci], total = count * (size_t)n;
        /* scatter in place at every root in turn */
        for (int root = 0; root < n; root++) {
            float *b = xalloc(total * 4);
            for (size_t j = 0; j < total; j++)
                b[j] = me == root ? (float)(j % 1000 + (size_t)root) : -1.0f;
            float *r = me == root ? b + (size_t)root * count : xalloc(count * 4);
            OK(tacl_scatter(w, b, r, count, TACL_FLOAT32, root));
            for (size_t i = 0; i < count; i++) {
                float e = (float)(((size_t)me * count + i) % 1000 + (size_t)root);
                if (r[i] != e) {
                    EXPECT(0, "scatter in place root %d count %zu: [%zu] = %g, expected %g", root,
                           count, i, r[i], e);
                    break;
                }
            }
            if (me != root) free(r);
            free(b);
        }
        /* all_to_all in place, blocks of count elements */
        uint32_t *a = xalloc(total * 4);
        for (int q = 0; q < n; q++)
            for (size_t i = 0; i < count; i++)
                a[(size_t)q * count + i] = (uint32_t)(me * 7919u + (unsigned)q * 104729u + i);
        OK(tacl_all_to_all(w, a, a, count, TACL_UINT32));
        for (int q = 0; q < n; q++)
            for (size_t i = 0; i < count; i++) {
                uint32_t e = (uint32_t)((unsigned)q * 7919u + (unsigned)me * 104729u + i);
                if (a[(size_t)q * count + i] != e) {
                    EXPECT(0, "all_to_all in place count %zu: from %d [%zu] = %u, expected %u",
                           count, q, i, a[(size_t)q * count + i], e);
                    q = n;
                    break;
                }
            }
        free(a);
        /* all_gatherv in place: block q holds q + 1 times the base count, reverse order */
        size_t *cnt = xalloc((size_t)n * sizeof *cnt), *dsp = xalloc((size_t)n * sizeof *dsp);
        size_t gt = 0;
        for (int q = n - 1; q >= 0; q--) {
            cnt[q] = count * (size_t)(q + 1) / 2 + 1;
            dsp[q] = gt;
            gt += cnt[q] + 2;
        }
        int32_t *g = xalloc(gt * 4);
        for (size_t j = 0; j < gt; j++)
            g[j] = -7;
        for (size_t i = 0; i < cnt[me]; i++)
            g[dsp[me] + i] = me * 1000003 + (int32_t)i;
        OK(tacl_all_gatherv(w, g + dsp[me], cnt[me], g, cnt, dsp, TACL_INT32));
        for (int q = 0; q < n; q++) {
            for (size_t i = 0; i < cnt[q]; i++)
                if (g[dsp[q] + i] != q * 1000003 + (int32_t)i) {
                    EXPECT(0, "all_gatherv in place count %zu: block %d [%zu] = %d", count, q, i,
                           g[dsp[q] + i]);
                    break;
                }
            EXPECT(g[dsp[q] + cnt[q]] == -7 && g[dsp[q] + cnt[q] + 1] == -7,
                   "all_gatherv in place: gap after block %d written", q);
        }
        free(g);
        free(cnt);
        free(dsp);
        /* all_to_allv in place: rank a sends base * ((a + 2b) % 3 + 1) / 2 + 1 elements to b;
         * sends packed in rank order, receives packed in reverse rank order. */
        size_t *sc = xalloc((size_t)n * sizeof *sc), *sd = xalloc((size_t)n * sizeof *sd);
        size_t *rc = xalloc((size_t)n * sizeof *rc), *rd = xalloc((size_t)n * sizeof *rd);
        size_t st = 0, rt = 0;
        for (int q = 0; q < n; q++) {
            sc[q] = count * (size_t)((me + 2 * q) % 3 + 1) / 2 + 1;
            sd[q] = st;
            st += sc[q];
        }
        for (int q = n - 1; q >= 0; q--) {
            rc[q] = count * (size_t)((q + 2 * me) % 3 + 1) / 2 + 1;
            rd[q] = rt;
            rt += rc[q];
        }
        double *v = xalloc((st > rt ? st : rt) * 8);
        for (int q = 0; q < n; q++)
            for (size_t i = 0; i < sc[q]; i++)
                v[sd[q] + i] = me * 1e6 + q * 1e3 + (double)(i % 997);
        OK(tacl_all_to_allv(w, v, sc, sd, v, rc, rd, TACL_FLOAT64));
        for (int q = 0; q < n; q++)
            for (size_t i = 0; i < rc[q]; i++) {
                double e = q * 1e6 + me * 1e3 + (double)(i % 997);
                if (v[rd[q] + i] != e) {
                    EXPECT(0, "all_to_allv in place count %zu: from %d [%zu] = %g, expected %g",
                           count, q, i, v[rd[q] + i], e);
                    break;
                }
            }
        free(v);
        free(sc);
        free(sd);
        free(rc);
        free(rd);
    }
    return 0;
}

static int coll_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w);
    if (t_all_reduce(w) || t_reduce_bcast(w) || t_gathers(w) || t_reduce_scatter(w) ||
        t_alltoall_p2p(w) || t_inplace(w))
        return 1;
    if (fails) fprintf(stderr, "rank %d: %d check(s) failed\n", me, fails);
    return fails ? 1 : 0;
}

/* Routed point-to-point: rank 0 sends to the last rank while every other rank sleeps in
 * application code (it makes no tacl call): relays forward from their progress threads. */
static int routed_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    size_t big = 8u << 20;
    uint8_t *b = xalloc(big);
    OK(tacl_barrier(w));
    if (me == 0) {
        for (size_t i = 0; i < big; i++)
            b[i] = (uint8_t)(i * 13 + 1);
        OK(tacl_send(w, b, big, TACL_UINT8, n - 1, 3));
    } else if (me == n - 1) {
        OK(tacl_recv(w, b, big, TACL_UINT8, 0, 3));
        for (size_t i = 0; i < big; i++)
            if (b[i] != (uint8_t)(i * 13 + 1)) {
                EXPECT(0, "routed message byte %zu wrong", i);
                break;
            }
    } else {
        sleep(2);
    }
    free(b);
    OK(tacl_barrier(w));
    return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
    /* --env [routed]: one rank of a job started by someone else (tacl run, a netns test). */
    if (argc > 1 && !strcmp(argv[1], "--env")) {
        tacl_comm_t *w;
        tacl_status_t st = tacl_init(&w);
        if (st != TACL_OK) {
            fprintf(stderr, "tacl_init: %s: %s\n", tacl_status_name(st), tacl_last_error());
            return 3;
        }
        int rc = argc > 2 && !strcmp(argv[2], "routed") ? routed_body(w, NULL) : coll_body(w, NULL);
        printf("test_coll rank %d of %d: %s\n", tacl_comm_rank(w), tacl_comm_size(w),
               rc ? "FAILED" : "ok");
        tacl_comm_destroy(w);
        return rc;
    }
    int n = argc > 1 ? atoi(argv[1]) : 4;
    int hosts = getenv("TACL_TEST_HOSTS") ? atoi(getenv("TACL_TEST_HOSTS")) : 1;
    char ids[512] = "";
    if (hosts > 1) {
        size_t o = 0;
        for (int r = 0; r < n; r++)
            o += (size_t)snprintf(ids + o, sizeof ids - o, "%sfakehost%d", r ? "," : "",
                                  r * hosts / n);
    }
    mpw_opts_t o = {.timeout_s = 240, .host_ids = hosts > 1 ? ids : NULL};
    int rc = mpw_run(n, coll_body, NULL, &o);
    printf("test_coll: %d ranks on %d host(s): %s\n", n, hosts, rc ? "FAILED" : "ok");
    return rc ? 1 : 0;
}
