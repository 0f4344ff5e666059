/* test_mem.c — tacl_mem_alloc / tacl_mem_free and the all_reduce that works in that memory.
 * "values N": N ranks on one host; regions are zeroed, page-aligned and mapped by every rank;
 * all_reduce of float32/float64/int32/bfloat16 with sum, max, min and avg, out of place (send
 * and recv in two regions at offsets that differ per rank, one ending at its region's last
 * byte) and in place, each result checked against values computed here and bitwise against the
 * copying path on malloc'd buffers (also for sums whose bits depend on the order of the
 * additions); reduce_scatter with sends in shared memory into a region, malloc'd memory and in
 * place, checked alike; one rank's recv malloc'd (every rank copies, right values);
 * sizes below the direct path; mismatched allocations and frees (TACL_ERR_MISMATCH on every
 * rank, the communicator usable after), a pointer that is no region and arguments refused on
 * one rank only (TACL_ERR_INVALID there, TACL_ERR_MISMATCH at once elsewhere); all_gather(v)
 * with sends in shared memory (out of place, into malloc'd memory, in place, a rank sending
 * nothing; run straight in that memory, checked by the group's count), a rank's send malloc'd
 * and small counts (copied), and counts that disagree (TACL_ERR_MISMATCH naming the pair);
 * broadcast from a root's region (straight from it) and from its malloc'd memory (copied unless
 * its recv is in a region).
 * "kill [all_reduce|all_gather|broadcast]": 3 ranks, rank 2 killed with SIGKILL before that
 * collective in shared memory: the others fail with TACL_ERR_PEER_LOST naming it, within
 * seconds. "unshared" (root): one rank changes
 * its user and cannot map the others' memory, so none is shared and all copy, with right
 * values. "hier": 4 ranks on 2 fake hosts, the
 * collectives crossing hosts with each host's buffers in its regions. "hosts": 3 ranks on 3 fake
 * hosts (no shared-memory group): the memory is ordinary memory, all_reduce in it right, frees
 * checked. */
#include "check.h"
#include "coll/comm.h"
#include "mp_world.h"
#include "transport/shm/shm_group.h"
#include "typed.h"

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <unistd.h>

#define REGION (8u << 20)
#define COUNT  300007 /* past every threshold of the copying path's one-shot form */

/* Rank r's element i: small integers, exact in every type checked. */
static double mem_in(int r, size_t i)
{
    return (double)((r * 5 + i * 3) % 7) - 3;
}

static double mem_expect(int n, size_t i, tacl_op_t op, tacl_dtype_t dt)
{
    double acc = mem_in(0, i);
    for (int r = 1; r < n; r++) {
        double v = mem_in(r, i);
        acc = op == TACL_MAX ? fmax(acc, v) : op == TACL_MIN ? fmin(acc, v) : acc + v;
    }
    if (op == TACL_AVG) acc = tv_is_float(dt) ? acc / n : trunc(acc / n);
    return acc;
}

/* The all_reduce of (send, recv) checked against mem_expect and, bitwise, against the same
 * all_reduce on malloc'd buffers (the copying path). */
static int mem_check(tacl_comm_t *w, const char *send_at, char *recv_at, size_t count,
                     tacl_dtype_t dt, tacl_op_t op, const char *what)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    size_t es = tacl_dtype_size(dt);
    char *ref = malloc(count * es);
    CHECK(ref);
    for (size_t i = 0; i < count; i++)
        tv_set(ref, i, dt, mem_in(me, i));
    if (send_at != recv_at)
        for (size_t i = 0; i < count; i++)
            tv_set((char *)send_at, i, dt, mem_in(me, i));
    else
        memcpy(recv_at, ref, count * es);
    OK(tacl_all_reduce(w, send_at, recv_at, count, dt, op));
    OK(tacl_all_reduce(w, ref, ref, count, dt, op));
    int bad = 0;
    for (size_t i = 0; i < count && bad < 3; i++) {
        double e = mem_expect(n, i, op, dt), g = tv_get(recv_at, i, dt);
        if (fabs(g - e) > tv_tol(dt, e) + (op == TACL_AVG ? fabs(e) * 1e-2 : 0)) {
            fprintf(stderr, "rank %d: %s %s %d count %zu: [%zu] = %g, expected %g\n", me, what,
                    tacl_dtype_name(dt), (int)op, count, i, g, e);
            bad++;
        }
    }
    if (!bad && memcmp(ref, recv_at, count * es) != 0) {
        fprintf(stderr, "rank %d: %s %s: not the copying path's bits\n", me, what,
                tacl_dtype_name(dt));
        bad = 1;
    }
    free(ref);
    return bad;
}

/* Values whose sum depends on the order of the additions: the direct path must reduce in rank
 * order, as the copying path does, and give its bits. */
static int mem_bits(tacl_comm_t *w, char *send_at, char *recv_at, size_t count, tacl_dtype_t dt)
{
    int me = tacl_comm_rank(w);
    size_t es = tacl_dtype_size(dt);
    char *ref = malloc(count * es);
    CHECK(ref);
    for (size_t i = 0; i < count; i++) {
        tv_set(ref, i, dt, sin((double)(me * 7919 + i)) * 3.3);
        tv_set(send_at, i, dt, sin((double)(me * 7919 + i)) * 3.3);
    }
    OK(tacl_all_reduce(w, send_at, recv_at, count, dt, TACL_SUM));
    OK(tacl_all_reduce(w, ref, ref, count, dt, TACL_SUM));
    int bad = memcmp(ref, recv_at, count * es) != 0;
    if (bad)
        fprintf(stderr, "rank %d: %s sums differ from the copying path's\n", me,
                tacl_dtype_name(dt));
    free(ref);
    return bad;
}

/* reduce_scatter with every rank's send at send_at (its block me of n goes to recv_at; recv_at
 * may be ordinary memory, or the rank's own block of send_at), against mem_expect of the
 * block's elements and the copying path's bits (sin values: order-dependent sums). */
static int mem_rs(tacl_comm_t *w, char *send_at, char *recv_at, size_t block, tacl_dtype_t dt,
                  tacl_op_t op, const char *what)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w), bad = 0;
    size_t es = tacl_dtype_size(dt), total = block * (size_t)n;
    char *ref = malloc(total * es), *rref = malloc(block * es);
    CHECK(ref && rref);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < total; i++) {
            double v = pass ? sin((double)(me * 7919 + i)) * 3.3 : mem_in(me, i);
            tv_set(ref, i, dt, v);
            tv_set(send_at, i, dt, v);
        }
        OK(tacl_reduce_scatter(w, send_at, recv_at, block, dt, pass ? TACL_SUM : op));
        OK(tacl_reduce_scatter(w, ref, rref, block, dt, pass ? TACL_SUM : op));
        for (size_t i = 0; !pass && i < block && bad < 3; i++) {
            size_t j = (size_t)me * block + i;
            double e = mem_expect(n, j, op, dt), g = tv_get(recv_at, i, dt);
            if (fabs(g - e) > tv_tol(dt, e) + (op == TACL_AVG ? fabs(e) * 1e-2 : 0)) {
                fprintf(stderr, "rank %d: reduce_scatter %s %s [%zu] = %g, expected %g\n", me, what,
                        tacl_dtype_name(dt), i, g, e);
                bad++;
            }
        }
        if (!bad && memcmp(rref, recv_at, block * es) != 0) {
            fprintf(stderr,
                    "rank %d: reduce_scatter %s %s (pass %d): not the copying path's "
                    "bits\n",
                    me, what, tacl_dtype_name(dt), pass);
            bad++;
        }
    }
    free(ref);
    free(rref);
    return bad;
}

/* all_gatherv with every rank's send at send_at (rank q contributes cnt[q] = base + 7q elements,
 * or none for rank 0 when zero0, of int32 q * 1000003 + i; blocks in reverse rank order in
 * recv_at, with a gap after each), or in place (send_at NULL: the rank's own block of recv_at).
 * Every element checked, the gaps untouched; direct: whether it must run straight in shared
 * memory (the group's count of such operations moves by one), must copy (0) or either (-1). */
static int mem_ag(tacl_comm_t *w, char *send_at, char *recv_at, size_t base, int zero0, int direct,
                  const char *what)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w), bad = 0;
    size_t cnt[16], dsp[16], total = 0;
    CHECK(n <= 16);
    for (int q = n - 1; q >= 0; q--) {
        cnt[q] = zero0 && q == 0 ? 0 : base + 7 * (size_t)q;
        dsp[q] = total;
        total += cnt[q] + 5;
    }
    int32_t *r = (int32_t *)recv_at, *s = send_at ? (int32_t *)send_at : r + dsp[me];
    for (size_t i = 0; i < total; i++)
        r[i] = -7;
    for (size_t i = 0; i < cnt[me]; i++)
        s[i] = me * 1000003 + (int32_t)i;
    uint64_t ops = tacl__shm_mem_direct_ops(w->shm);
    OK(tacl_all_gatherv(w, s, cnt[me], r, cnt, dsp, TACL_INT32));
    if (direct >= 0 && tacl__shm_mem_direct_ops(w->shm) != ops + (direct ? 1 : 0)) {
        fprintf(stderr, "rank %d: all_gatherv %s: %s shared memory\n", me, what,
                direct ? "did not run straight in" : "ran straight in");
        bad++;
    }
    for (int q = 0; q < n && bad < 3; q++) {
        for (size_t i = 0; i < cnt[q] && bad < 3; i++)
            if (r[dsp[q] + i] != q * 1000003 + (int32_t)i) {
                fprintf(stderr, "rank %d: all_gatherv %s: block %d [%zu] = %d, expected %d\n", me,
                        what, q, i, r[dsp[q] + i], q * 1000003 + (int)i);
                bad++;
            }
        for (size_t i = 0; i < 5; i++)
            if (r[dsp[q] + cnt[q] + i] != -7) {
                fprintf(stderr, "rank %d: all_gatherv %s: gap after block %d written\n", me, what,
                        q);
                bad++;
                break;
            }
    }
    return bad;
}

/* broadcast of count int64 from root: its data at send_at (root) into recv_at (every rank; the
 * root's recv_at may equal send_at), every element checked; direct as in mem_ag. */
static int mem_bc(tacl_comm_t *w, char *send_at, char *recv_at, size_t count, int root, int direct,
                  const char *what)
{
    int me = tacl_comm_rank(w), bad = 0;
    int64_t *r = (int64_t *)recv_at, *s = (int64_t *)send_at;
    for (size_t i = 0; i < count; i++)
        r[i] = -1;
    if (me == root)
        for (size_t i = 0; i < count; i++)
            s[i] = (int64_t)(i * 2654435761u) ^ root;
    uint64_t ops = tacl__shm_mem_direct_ops(w->shm);
    OK(tacl_broadcast(w, me == root ? s : NULL, r, count, TACL_INT64, root));
    if (direct >= 0 && tacl__shm_mem_direct_ops(w->shm) != ops + (direct ? 1 : 0)) {
        fprintf(stderr, "rank %d: broadcast %s: %s shared memory\n", me, what,
                direct ? "did not run straight in" : "ran straight in");
        bad++;
    }
    for (size_t i = 0; i < count && bad < 3; i++)
        if (r[i] != ((int64_t)(i * 2654435761u) ^ root)) {
            fprintf(stderr, "rank %d: broadcast %s [%zu] = %lld\n", me, what, i, (long long)r[i]);
            bad++;
        }
    return bad;
}

/* all_gather in memory: the cases of mem_ag, a plain all_gather, a rank whose send is malloc'd
 * (every rank copies), and counts that disagree between ranks (TACL_ERR_MISMATCH on every rank
 * naming the pair, the communicator usable after). a and b: regions of REGION bytes. */
static int mem_gathers(tacl_comm_t *w, char *a, char *b)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    const size_t base = 40001; /* past the copying path's one-shot size */
    char *own = malloc(REGION);
    CHECK(own);
    int bad = mem_ag(w, a + 64 * (size_t)me, b, base, 0, 1, "out of place");
    bad += mem_ag(w, a, own, base, 0, 1, "into malloc'd memory");
    bad += mem_ag(w, NULL, a, base, 0, 1, "in place");
    bad += mem_ag(w, a + 4096, b + 4, base, 1, 1, "rank 0 sends nothing");
    bad += mem_ag(w, me == 1 ? own : a, b, base, 0, 0, "one rank's send malloc'd");
    bad += mem_ag(w, a, b, 3, 0, 0, "below the direct path");
    /* Plain all_gather of float64: its values bitwise. */
    size_t count = 90001;
    double *s = (double *)a, *r = (double *)b;
    for (size_t i = 0; i < count; i++)
        s[i] = sin((double)(me * 7919 + i));
    OK(tacl_all_gather(w, s, r, count, TACL_FLOAT64));
    for (int q = 0; q < n; q++)
        for (size_t i = 0; i < count; i += 997)
            if (r[(size_t)q * count + i] != sin((double)(q * 7919 + i))) {
                fprintf(stderr, "rank %d: all_gather float64 block %d [%zu] wrong\n", me, q, i);
                bad++;
                break;
            }
    /* Rank n-1 sends one element more than the others expect of it, and expects one fewer of
     * rank 0 (the totals agree, so only the pairs can tell). */
    size_t cnt[16], dsp[16];
    for (int q = 0; q < n; q++) {
        cnt[q] = base + (me == n - 1 && q == n - 1) - (me == n - 1 && q == 0);
        dsp[q] = (size_t)q * (base + 1);
    }
    tacl_status_t st = tacl_all_gatherv(w, a, cnt[me], own, cnt, dsp, TACL_INT32);
    CHECK(st == TACL_ERR_MISMATCH);
    char want[96];
    if (me == n - 1)
        snprintf(want, sizeof want,
                 "rank 0 sends %zu elements of int32 to rank %d but rank %d "
                 "expects %zu",
                 base, n - 1, n - 1, base - 1);
    else
        snprintf(want, sizeof want,
                 "rank %d sends %zu elements of int32 to rank %d but rank %d "
                 "expects %zu",
                 n - 1, base + 1, me, me, base);
    CHECK_CONTAINS(tacl_comm_last_error(w), want);
    bad += mem_ag(w, a, b, base, 0, 1, "after the mismatch");
    /* broadcast from the root's region, into a region, malloc'd memory and in place (the root's
     * recv is its send), from the root's malloc'd memory into its region (the peers read its
     * recv); from and into malloc'd memory (copied); below the direct path. */
    bad += mem_bc(w, a + 4096, b + 8 * (size_t)me, 200003, n - 1, 1, "into a region");
    bad += mem_bc(w, a, own, 200003, 1, 1, "into malloc'd memory");
    bad += mem_bc(w, b, b, 200003, 0, 1, "in place");
    bad += mem_bc(w, own, b, 200003, 0, 1, "from malloc'd memory into the root's region");
    bad += mem_bc(w, own, own, 200003, 0, 0, "from and into malloc'd memory");
    bad += mem_bc(w, a, b, 5, 1, 0, "below the direct path");
    free(own);
    return bad;
}

static int values_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    char *a, *b;
    OK(tacl_mem_alloc(w, REGION, (void **)&a));
    OK(tacl_mem_alloc(w, REGION, (void **)&b));
    CHECK(((uintptr_t)a & 4095) == 0 && ((uintptr_t)b & 4095) == 0);
    for (size_t i = 0; i < REGION; i += 4096)
        CHECK(a[i] == 0 && b[i] == 0);
    CHECK(tacl__shm_mem_shared(w->shm, a, REGION) && tacl__shm_mem_shared(w->shm, b, REGION));
    CHECK(!tacl__shm_mem_shared(w->shm, a + 1, REGION)); /* past its end */

    const tacl_dtype_t dts[] = {TACL_FLOAT32, TACL_FLOAT64, TACL_INT32, TACL_BFLOAT16};
    const tacl_op_t ops[] = {TACL_SUM, TACL_MAX, TACL_MIN, TACL_AVG};
    int bad = 0;
    uint64_t ops0 = tacl__shm_mem_direct_ops(w->shm);
    for (size_t d = 0; d < sizeof dts / sizeof *dts; d++)
        for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
            size_t es = tacl_dtype_size(dts[d]), bytes = COUNT * es;
            /* Offsets that differ per rank; rank 0's recv ends at its region's last byte. */
            char *s = a + (size_t)me * 4096 + 64, *r = me == 0 ? b + REGION - bytes : b + 128 * me;
            bad += mem_check(w, s, r, COUNT, dts[d], ops[o], "out of place");
            bad += mem_check(w, a + 256, a + 256, COUNT, dts[d], ops[o], "in place");
        }
    bad += mem_bits(w, a, b, COUNT, TACL_FLOAT32) + mem_bits(w, a, b, COUNT, TACL_FLOAT64);
    /* Each of those ran straight in shared memory: 2 per dtype and op, 1 per mem_bits. */
    uint64_t direct = tacl__shm_mem_direct_ops(w->shm) - ops0;
    if (direct != 2 * 16 + 2) {
        fprintf(stderr, "rank %d: %llu all_reduces ran straight in shared memory, expected 34\n",
                me, (unsigned long long)direct);
        bad++;
    }
    /* reduce_scatter: recv in a region, malloc'd, and in place (the rank's block of send). */
    size_t blk = 70001;
    char *rs = malloc(blk * 8);
    CHECK(rs);
    bad += mem_rs(w, a, b + 64 * me, blk, TACL_FLOAT32, TACL_SUM, "into a region");
    bad += mem_rs(w, a + 4096, rs, blk, TACL_FLOAT64, TACL_MAX, "into malloc'd memory");
    bad += mem_rs(w, a, a + (size_t)me * blk * 4, blk, TACL_FLOAT32, TACL_AVG, "in place");
    bad += mem_rs(w, rs, b, 3, TACL_INT32, TACL_SUM, "malloc'd send");
    free(rs);
    /* One rank's recv is malloc'd: everyone copies; and counts below the direct path. */
    char *own = malloc(COUNT * 4);
    CHECK(own);
    bad += mem_check(w, a, me == n - 1 ? own : b, COUNT, TACL_FLOAT32, TACL_SUM, "mixed");
    bad += mem_check(w, a, b, 3, TACL_FLOAT32, TACL_SUM, "tiny");
    bad += mem_check(w, a, b, 5000, TACL_INT32, TACL_MAX, "small");
    free(own);
    bad += mem_gathers(w, a, b);
    if (bad) return 1;

    /* Mismatched allocations: every rank fails naming both calls, and nothing is kept. */
    void *m = NULL;
    tacl_status_t st = tacl_mem_alloc(w, me == 0 ? 4096 : 8192, &m);
    CHECK(st == TACL_ERR_MISMATCH && m == NULL);
    CHECK_CONTAINS(tacl_comm_last_error(w), "tacl_mem_alloc");
    /* Frees of different regions: every rank fails, both regions stay usable. */
    st = tacl_mem_free(w, me == 0 ? a : b);
    CHECK(st == TACL_ERR_MISMATCH);
    CHECK_CONTAINS(tacl_comm_last_error(w), "tacl_mem_free");
    bad += mem_check(w, a, b, COUNT, TACL_FLOAT32, TACL_SUM, "after the mismatches");
    /* A pointer that is no region, on every rank. */
    int x;
    st = tacl_mem_free(w, &x);
    CHECK(st == TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "is not memory from tacl_mem_alloc");
    /* Arguments refused on one rank only: it says which call it refused, so the others fail at
     * once (not at their timeout). */
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    st = tacl_mem_alloc(w, me == 1 ? 0 : 4096, &m);
    gettimeofday(&t1, NULL);
    CHECK(st == (me == 1 ? TACL_ERR_INVALID : TACL_ERR_MISMATCH));
    CHECK_CONTAINS(tacl_comm_last_error(w), me == 1 ? "0 bytes (expected 1 to 2^46)" : "rank 1");
    CHECK((double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_usec - t0.tv_usec) < 5.0);
    st = tacl_mem_alloc(w, 4096, NULL);
    CHECK(st == TACL_ERR_INVALID);
    OK(tacl_mem_free(w, b));
    OK(tacl_mem_free(w, a));
    st = tacl_mem_free(w, a); /* twice */
    CHECK(st == TACL_ERR_INVALID);
    own = malloc(COUNT * 4);
    CHECK(own);
    bad += mem_check(w, own, own, COUNT, TACL_FLOAT32, TACL_SUM, "after");
    free(own);
    return bad;
}

/* Rank 2 dies by SIGKILL; the others then run the collective `arg` names (all_reduce,
 * all_gather or broadcast) straight in shared memory and must fail with TACL_ERR_PEER_LOST
 * naming it, within seconds. */
static int kill_body(tacl_comm_t *w, void *arg)
{
    const char *what = arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    float *a, *b;
    OK(tacl_mem_alloc(w, REGION, (void **)&a));
    OK(tacl_mem_alloc(w, REGION, (void **)&b));
    size_t per = COUNT / (size_t)n;
    uint64_t ops = tacl__shm_mem_direct_ops(w->shm);
    OK(tacl_all_reduce(w, a, a, COUNT, TACL_FLOAT32, TACL_SUM));
    OK(tacl_all_gather(w, a, b, per, TACL_FLOAT32));
    OK(tacl_broadcast(w, me == 1 ? a : NULL, b, COUNT, TACL_FLOAT32, 1));
    CHECK(tacl__shm_mem_direct_ops(w->shm) == ops + 3);
    if (me == 2) kill(getpid(), SIGKILL);
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    tacl_status_t st;
    if (!strcmp(what, "all_gather"))
        st = tacl_all_gather(w, a, b, per, TACL_FLOAT32);
    else if (!strcmp(what, "broadcast"))
        st = tacl_broadcast(w, me == 1 ? a : NULL, b, COUNT, TACL_FLOAT32, 1);
    else
        st = tacl_all_reduce(w, a, a, COUNT, TACL_FLOAT32, TACL_SUM);
    gettimeofday(&t1, NULL);
    double took = (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_usec - t0.tv_usec);
    if (st != TACL_ERR_PEER_LOST || !strstr(tacl_comm_last_error(w), "rank 2") || took > 10) {
        fprintf(stderr, "rank %d: %s: %s after %.1f s: %s\n", me, what, tacl_status_name(st), took,
                tacl_comm_last_error(w));
        return 1;
    }
    return 0;
}

static int hosts_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w);
    CHECK(w->shm == NULL);
    char *a, *b;
    OK(tacl_mem_alloc(w, REGION, (void **)&a));
    OK(tacl_mem_alloc(w, REGION, (void **)&b));
    CHECK(a[0] == 0 && a[REGION - 1] == 0);
    int bad = mem_check(w, a, b, COUNT, TACL_FLOAT32, TACL_SUM, "no group");
    bad += mem_check(w, a, a, COUNT, TACL_INT32, TACL_MAX, "no group, in place");
    OK(tacl_mem_free(w, a));
    CHECK(tacl_mem_free(w, a) == TACL_ERR_INVALID);
    OK(tacl_mem_free(w, b)); /* and tacl_comm_destroy unmaps what is left */
    OK(tacl_mem_alloc(w, 4096, (void **)&a));
    return bad;
}

/* Rank 1 drops to another user after joining: it cannot open the others' memfds (their
 * /proc/<pid>/fd is closed to it), so no region is shared and every rank copies, alike. */
static int unshared_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w);
    if (me == 1) CHECK(setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0);
    char *a, *b;
    OK(tacl_mem_alloc(w, REGION, (void **)&a));
    OK(tacl_mem_alloc(w, REGION, (void **)&b));
    CHECK(!tacl__shm_mem_shared(w->shm, a, REGION) && !tacl__shm_mem_shared(w->shm, b, REGION));
    int bad = mem_check(w, a, b, COUNT, TACL_FLOAT32, TACL_SUM, "not shared");
    bad += mem_rs(w, a, b, 70001, TACL_FLOAT32, TACL_MAX, "not shared");
    OK(tacl_mem_free(w, a));
    OK(tacl_mem_free(w, b));
    return bad;
}

/* 4 ranks on 2 fake hosts: the hosts' groups have the regions, the collectives cross hosts. */
static int hier_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w);
    CHECK(w->shm != NULL && !w->shm_all);
    char *a, *b;
    OK(tacl_mem_alloc(w, REGION, (void **)&a));
    OK(tacl_mem_alloc(w, REGION, (void **)&b));
    CHECK(tacl__shm_mem_shared(w->shm, a, REGION));
    int bad = mem_check(w, a, b, COUNT, TACL_FLOAT32, TACL_SUM, "two hosts");
    bad += mem_check(w, a, a, COUNT, TACL_INT32, TACL_MAX, "two hosts, in place");
    bad += mem_rs(w, a, b, 70001, TACL_FLOAT32, TACL_SUM, "two hosts");
    bad += mem_ag(w, a, b, 40001, 0, -1, "two hosts");
    bad += mem_bits(w, a, b, COUNT, TACL_FLOAT64);
    OK(tacl_mem_free(w, b));
    OK(tacl_mem_free(w, a));
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 2) FAIL("usage: test_mem values N | kill [COLL] | unshared | hier | hosts");
    mpw_opts_t o = {.timeout_s = 240};
    int rc;
    if (!strcmp(argv[1], "values")) {
        int n = argc > 2 ? atoi(argv[2]) : 3;
        rc = mpw_run(n, values_body, NULL, &o);
    } else if (!strcmp(argv[1], "kill")) {
        o.env = "TACL_TIMEOUT=60";
        const char *coll = argc > 2 ? argv[2] : "all_reduce";
        if (strcmp(coll, "all_reduce") && strcmp(coll, "all_gather") && strcmp(coll, "broadcast"))
            FAIL("kill: unknown collective '%s'", coll);
        rc = mpw_run(3, kill_body, (void *)coll, &o);
        if (mpw_rank_signal(2) == SIGKILL && mpw_rank_status(0) == 0 && mpw_rank_status(1) == 0)
            rc = 0;
        else
            rc = 1;
    } else if (!strcmp(argv[1], "unshared")) {
        if (geteuid() != 0) SKIP("unshared: a rank changes its user, which needs root");
        rc = mpw_run(3, unshared_body, NULL, &o);
    } else if (!strcmp(argv[1], "hier")) {
        o.host_ids = "fake0,fake0,fake1,fake1";
        rc = mpw_run(4, hier_body, NULL, &o);
    } else if (!strcmp(argv[1], "hosts")) {
        o.host_ids = "fake0,fake1,fake2";
        rc = mpw_run(3, hosts_body, NULL, &o);
    } else {
        FAIL("unknown scenario '%s'", argv[1]);
    }
    printf("test_mem %s: %s\n", argv[1], rc ? "FAILED" : "ok");
    return rc ? 1 : 0;
}
