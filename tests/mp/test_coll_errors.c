/* test_coll_errors.c — what a collective says when it cannot do its job, on one host (shared
 * memory) and across fake hosts (tcp): invalid arguments (TACL_ERR_INVALID before anything is
 * sent), mismatched calls (TACL_ERR_MISMATCH on every rank with both fingerprints), a rank
 * that does not arrive (TACL_ERR_TIMEOUT naming it), and a rank killed mid-operation
 * (TACL_ERR_PEER_LOST naming it, within seconds); "forced": an algorithm TACL_ALGO forces
 * where it cannot run (TACL_ERR_INVALID naming it). */
#include "check.h"
#include "clock.h"
#include "mp_world.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static int invalid_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    float x[4] = {0};
    CHECK_ST(tacl_all_reduce(w, NULL, x, 4, TACL_FLOAT32, TACL_SUM), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "NULL send buffer");
    CHECK_ST(tacl_all_reduce(w, x, x, 4, (tacl_dtype_t)77, TACL_SUM), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "unknown dtype 77");
    CHECK_ST(tacl_all_reduce(w, x, x, 4, TACL_FLOAT32, (tacl_op_t)9), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "unknown reduction op 9");
    CHECK_ST(tacl_broadcast(w, x, x, 4, TACL_FLOAT32, 5), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "root 5 out of range (communicator size 2)");
    CHECK_ST(tacl_send(w, x, 1, TACL_FLOAT32, tacl_comm_rank(w), 0), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "not another rank");
    CHECK_ST(tacl_all_reduce(NULL, x, x, 4, TACL_FLOAT32, TACL_SUM), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "NULL communicator");
    /* NULL with count 0 is fine, and the communicator still works after rejected calls. */
    CHECK_OK(tacl_all_reduce(w, NULL, NULL, 0, TACL_FLOAT32, TACL_SUM));
    x[0] = 1;
    CHECK_OK(tacl_all_reduce(w, x, x, 1, TACL_FLOAT32, TACL_SUM));
    CHECK(x[0] == 2.0f);
    return 0;
}

/* Counts whose byte size, displacement end or sum wraps: TACL_ERR_INVALID naming the argument on
 * every rank (each passes the same arguments), for plain, v-variant and point-to-point calls. */
static int overflow_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    float x[64] = {0};
    const size_t big = SIZE_MAX / 2, q62 = (size_t)1 << 62;
    char want[160];
    CHECK_ST(tacl_all_reduce(w, x, x, big, TACL_FLOAT64, TACL_SUM), TACL_ERR_INVALID);
    snprintf(want, sizeof want, "all_reduce: count=%zu elements of double overflow size_t", big);
    CHECK_CONTAINS(tacl_comm_last_error(w), want);
    CHECK_ST(tacl_broadcast(w, x, x, q62, TACL_FLOAT32, 0), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "count=4611686018427387904 elements of float");
    CHECK_ST(tacl_all_gather(w, x, x + 8, big + 1, TACL_UINT8), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "elements of uint8 times 2 ranks overflow size_t");
    CHECK_ST(tacl_reduce_scatter(w, x, x + 8, big + 1, TACL_INT8, TACL_SUM), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "times 2 ranks overflow size_t");
    CHECK_ST(tacl_all_to_all(w, x, x + 8, SIZE_MAX / 4, TACL_FLOAT32), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "all_to_all: count=");
    CHECK_ST(tacl_gather(w, x, x + 8, big, TACL_INT32, 0), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "gather: count=");
    CHECK_ST(tacl_scatter(w, x, x + 8, big, TACL_INT32, 0), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "scatter: count=");

    int me = tacl_comm_rank(w);
    size_t cnt[2] = {1, q62}, dsp[2] = {0, 4};
    CHECK_ST(tacl_all_gatherv(w, x, 1, x + 8, cnt, dsp, TACL_FLOAT32), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w),
                   "all_gatherv: recv_counts[1]=4611686018427387904 elements of float overflow "
                   "size_t");
    size_t one[2] = {1, 1}, far[2] = {0, SIZE_MAX}, half[2] = {0, big};
    CHECK_ST(tacl_all_gatherv(w, x, 1, x + 8, one, far, TACL_FLOAT32), TACL_ERR_INVALID);
    snprintf(want, sizeof want, "displs[1]=%zu + recv_counts[1]=1 elements overflow size_t",
             (size_t)SIZE_MAX);
    CHECK_CONTAINS(tacl_comm_last_error(w), want);
    CHECK_ST(tacl_all_gatherv(w, x, 1, x + 8, one, half, TACL_FLOAT32), TACL_ERR_INVALID);
    snprintf(want, sizeof want,
             "displs[1]=%zu + recv_counts[1]=1 elements of float overflow size_t", big);
    CHECK_CONTAINS(tacl_comm_last_error(w), want);

    /* every rank: its count for the other rank wraps */
    size_t z[2] = {0, 0}, rc[2] = {1, 1}, bad1[2] = {1, q62}, bad0[2] = {q62, 1};
    const size_t *s_c = me == 0 ? bad1 : bad0;
    CHECK_ST(tacl_all_to_allv(w, x, s_c, dsp, x + 8, rc, dsp, TACL_FLOAT32), TACL_ERR_INVALID);
    snprintf(want, sizeof want,
             "all_to_allv: send_counts[%d]=4611686018427387904 elements of float overflow "
             "size_t",
             me == 0 ? 1 : 0);
    CHECK_CONTAINS(tacl_comm_last_error(w), want);
    CHECK_ST(tacl_all_to_allv(w, x, rc, dsp, x + 8, s_c, dsp, TACL_FLOAT32), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "recv_counts[");
    CHECK_CONTAINS(tacl_comm_last_error(w), "=4611686018427387904 elements of float overflow");
    size_t huge[2] = {big + 1, big + 1};
    CHECK_ST(tacl_all_to_allv(w, x, huge, z, x + 8, huge, z, TACL_UINT8), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "the sum of send_counts (up to [1]) overflows size_t");

    int peer = 1 - me;
    CHECK_ST(tacl_send(w, x, big, TACL_FLOAT64, peer, 3), TACL_ERR_INVALID);
    snprintf(want, sizeof want, "tacl_send: count=%zu elements of double overflow size_t", big);
    CHECK_CONTAINS(tacl_comm_last_error(w), want);
    CHECK_ST(tacl_recv(w, x, big, TACL_FLOAT64, peer, 3), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "tacl_recv: count=");
    /* A rank's count to itself is its own to agree on. */
    size_t self_s[2] = {1, 1}, self_r[2] = {2, 2}, d4[2] = {0, 4};
    CHECK_ST(tacl_all_to_allv(w, x, self_s, d4, x + 16, self_r, d4, TACL_FLOAT32),
             TACL_ERR_INVALID);
    snprintf(want, sizeof want,
             "sends itself send_counts[%d]=1 elements but expects recv_counts[%d]=2", me, me);
    CHECK_CONTAINS(tacl_comm_last_error(w), want);
    /* Nothing was sent: the communicator still works. */
    x[0] = 1;
    CHECK_OK(tacl_all_reduce(w, x, x, 1, TACL_FLOAT32, TACL_SUM));
    CHECK(x[0] == 2.0f);
    return 0;
}

/* Overlapping send and recv: only the in-place forms of tacl.h are accepted; anything else is
 * TACL_ERR_INVALID on every rank (each passes the same kind of overlap), naming the buffers and
 * the in-place form. Interleaved but disjoint all_to_allv blocks are fine. */
static int overlap_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    float b[64];
    for (int i = 0; i < 64; i++)
        b[i] = (float)(me + 1);
    CHECK_ST(tacl_all_reduce(w, b, b + 1, 4, TACL_FLOAT32, TACL_SUM), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "all_reduce: recv buffer");
    CHECK_CONTAINS(tacl_comm_last_error(w), "overlaps send buffer");
    CHECK_CONTAINS(tacl_comm_last_error(w), "in place: send == recv");
    /* all_gather: send == recv is in place on rank 0 only; send == recv + 1 element on none */
    CHECK_ST(tacl_all_gather(w, me == 0 ? b + 1 : b, b, 4, TACL_FLOAT32), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "send == recv + rank * count * dtype size");
    CHECK_ST(tacl_reduce_scatter(w, b, b + 4 * me + 1, 4, TACL_FLOAT32, TACL_SUM),
             TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "recv == send + rank * recv_count * dtype size");
    CHECK_ST(tacl_all_to_all(w, b, b + 1, 4, TACL_FLOAT32), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "all_to_all: recv buffer");
    size_t cnt[2] = {2, 2}, dsp[2] = {0, 8};
    /* my block goes to [8 me, +2); send sits over the other rank's block */
    CHECK_ST(tacl_all_gatherv(w, b + 8 * (1 - me), 2, b, cnt, dsp, TACL_FLOAT32), TACL_ERR_INVALID);
    char want[64];
    snprintf(want, sizeof want, "recv block %d", 1 - me);
    CHECK_CONTAINS(tacl_comm_last_error(w), want);
    CHECK_CONTAINS(tacl_comm_last_error(w), "send == recv + displs[rank]");
    /* all_to_allv in one buffer (recv != send, so not in place): send blocks at 0 and 4, recv
     * blocks 2 elements later (disjoint: accepted), then 1 later (recv block 0 overlaps send
     * block 0: refused). */
    float v[10];
    size_t c2[2] = {2, 2}, d2[2] = {0, 4};
    for (int q = 0; q < 2; q++)
        for (int i = 0; i < 2; i++)
            v[d2[q] + (size_t)i] = (float)(me * 100 + q * 10 + i);
    CHECK_OK(tacl_all_to_allv(w, v, c2, d2, v + 2, c2, d2, TACL_FLOAT32));
    for (int q = 0; q < n; q++)
        for (int i = 0; i < 2; i++)
            CHECK(v[2 + d2[q] + (size_t)i] == (float)(q * 100 + me * 10 + i));
    CHECK_ST(tacl_all_to_allv(w, v, c2, d2, v + 1, c2, d2, TACL_FLOAT32), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "recv block 0");
    CHECK_CONTAINS(tacl_comm_last_error(w), "overlaps send block 0");
    /* The defined forms still work. */
    float g[8] = {0};
    g[4 * me] = (float)me;
    CHECK_OK(tacl_all_gather(w, g + 4 * me, g, 4, TACL_FLOAT32));
    CHECK(g[0] == 0.0f && g[4] == 1.0f);
    return 0;
}

/* Rooted overlaps are checked at the root only: one rank, which is every root. */
static int overlap_root_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    float b[16] = {0};
    CHECK_ST(tacl_reduce(w, b, b + 1, 4, TACL_FLOAT32, TACL_SUM, 0), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "reduce: recv buffer");
    CHECK_ST(tacl_broadcast(w, b + 2, b, 4, TACL_FLOAT32, 0), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "broadcast: recv buffer");
    CHECK_ST(tacl_gather(w, b + 1, b, 4, TACL_FLOAT32, 0), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "at the root, send == recv + root * count");
    CHECK_ST(tacl_scatter(w, b, b + 1, 4, TACL_FLOAT32, 0), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "at the root, recv == send + root * count");
    CHECK_OK(tacl_gather(w, b, b, 4, TACL_FLOAT32, 0));
    CHECK_OK(tacl_scatter(w, b, b, 4, TACL_FLOAT32, 0));
    return 0;
}

static int mismatch_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w);
    float x[16] = {0};
    tacl_status_t st = tacl_all_reduce(w, x, x, me == 1 ? 16 : 8, TACL_FLOAT32, TACL_SUM);
    CHECK_ST(st, TACL_ERR_MISMATCH);
    const char *m = tacl_comm_last_error(w);
    CHECK_CONTAINS(m, "all_reduce(count=16");
    CHECK_CONTAINS(m, "all_reduce(count=8");
    /* op mismatch on the next call */
    st = tacl_all_reduce(w, x, x, 8, TACL_FLOAT32, me == 0 ? TACL_MAX : TACL_SUM);
    CHECK_ST(st, TACL_ERR_MISMATCH);
    CHECK_CONTAINS(tacl_comm_last_error(w), "max");
    return 0;
}

/* The message of a v-collective count mismatch names the sender (rank 1), a receiver and the
 * count sent: in the shared-memory group's words, the tcp path's (the exchange's two counts
 * and the engine's message), or the size of the message a receiver got. */
static void check_count_msg(tacl_comm_t *w, const char *what, int sent)
{
    const char *m = tacl_comm_last_error(w);
    char a[64], b[64], c[64];
    snprintf(a, sizeof a, "rank 1 sends %d elements of float to rank", sent);
    snprintf(b, sizeof b, "rank 1 sends %d and expects", sent);
    snprintf(c, sizeof c, "message of %d bytes from rank 1", sent * 4);
    CHECK_CONTAINS(m, what);
    if (!strstr(m, a) && !strstr(m, b) && !strstr(m, c)) {
        fprintf(stderr, "rank %d: \"%s\" names neither the pair nor the counts\n",
                tacl_comm_rank(w), m);
        exit(1);
    }
}

/* all_to_allv where rank 1 sends *arg elements (0 or 2) to every peer that expects 1: every
 * rank is part of a mismatched pair and fails with TACL_ERR_MISMATCH within seconds; then a
 * correct call works on the same communicator. */
static int a2av_counts_body(tacl_comm_t *w, void *arg)
{
    int k = *(const int *)arg, me = tacl_comm_rank(w), n = tacl_comm_size(w);
    size_t sc[8], sd[8], rc[8], rd[8], blk = (size_t)k + 1;
    /* send blocks of k + 1 elements (rank 1 fills k of them), receive blocks of 2 */
    float *s = calloc((size_t)n * blk, sizeof *s), r[16];
    CHECK(s);
    for (int q = 0; q < n; q++) {
        sc[q] = me == 1 && q != 1 ? (size_t)k : 1;
        rc[q] = 1;
        sd[q] = (size_t)q * blk;
        rd[q] = 2 * (size_t)q;
        s[sd[q]] = (float)(me * 10 + q);
        r[2 * q] = r[2 * q + 1] = -1;
    }
    uint64_t t0 = tacl__now_ns();
    CHECK_ST(tacl_all_to_allv(w, s, sc, sd, r, rc, rd, TACL_FLOAT32), TACL_ERR_MISMATCH);
    CHECK((double)(tacl__now_ns() - t0) * 1e-9 < 5.0);
    check_count_msg(w, "all_to_allv", k);
    /* Whatever steps the mismatched call took, the next one runs in step on every rank. */
    for (int q = 0; q < n; q++)
        sc[q] = 1;
    CHECK_OK(tacl_all_to_allv(w, s, sc, sd, r, rc, rd, TACL_FLOAT32));
    for (int q = 0; q < n; q++)
        CHECK(r[2 * q] == (float)(q * 10 + me) && r[2 * q + 1] == -1);
    free(s);
    return 0;
}

/* Only the pair 1 -> 2 disagrees (rank 1 sends 2, rank 2 expects 1): ranks 1 and 2 fail; the
 * others may succeed, with right data, or fail too; nobody waits long. */
static int a2av_pair_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    size_t sc[8], sd[8], rc[8], rd[8];
    float s[24], r[24];
    for (int q = 0; q < n; q++) {
        sc[q] = me == 1 && q == 2 ? 2 : 1;
        rc[q] = 1;
        sd[q] = rd[q] = 3 * (size_t)q;
        for (int i = 0; i < 3; i++) {
            s[3 * q + i] = (float)(me * 10 + q);
            r[3 * q + i] = -1;
        }
    }
    uint64_t t0 = tacl__now_ns();
    tacl_status_t st = tacl_all_to_allv(w, s, sc, sd, r, rc, rd, TACL_FLOAT32);
    CHECK((double)(tacl__now_ns() - t0) * 1e-9 < 5.0);
    if (me == 1 || me == 2) {
        CHECK_ST(st, TACL_ERR_MISMATCH);
        check_count_msg(w, "all_to_allv", 2);
        CHECK_CONTAINS(tacl_comm_last_error(w), "rank 2");
    } else if (st == TACL_OK) {
        for (int q = 0; q < n; q++)
            CHECK(r[3 * q] == (float)(q * 10 + me) && r[3 * q + 1] == -1);
    } else {
        CHECK_ST(st, TACL_ERR_MISMATCH);
    }
    for (int q = 0; q < n; q++)
        sc[q] = 1;
    CHECK_OK(tacl_all_to_allv(w, s, sc, sd, r, rc, rd, TACL_FLOAT32));
    for (int q = 0; q < n; q++)
        CHECK(r[3 * q] == (float)(q * 10 + me));
    return 0;
}

/* all_gatherv where rank 1 contributes 2 elements: (a) its counts say so, the others expect 1
 * (totals differ); (b) the totals agree (rank 1 expects nothing from rank 0). Every rank is in
 * a mismatched pair and fails. */
static int agv_counts_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    const size_t big = 300000; /* several shared-memory steps */
    size_t rc[8], dsp[8];
    float *s = calloc(big, sizeof *s), *r = calloc(big * (size_t)n, sizeof *r);
    CHECK(s && r);
    /* pass 0: rank 1 contributes 2, the others expect 1 (totals differ); pass 1: the same with
     * totals that agree (rank 1 expects nothing from rank 0); pass 2 (3 ranks): rank 1
     * contributes big (two shm steps) but rank 0 expects less than a step from everyone, totals
     * agreeing: every rank must still take the steps rank 1's data needs. */
    for (int pass = 0; pass < (n == 3 ? 3 : 2); pass++) {
        for (int q = 0; q < n; q++) {
            rc[q] = me == 1 && q == 1 ? 2 : 1;
            dsp[q] = big * (size_t)q;
        }
        if (pass == 1 && me == 1) rc[0] = 0;
        if (pass == 2) {
            const size_t p2[3][3] = {{1, big / 2, big / 2 + 1}, {1, big, 1}, {big, 1, 1}};
            for (int q = 0; q < n; q++)
                rc[q] = p2[me][q];
        }
        uint64_t t0 = tacl__now_ns();
        CHECK_ST(tacl_all_gatherv(w, s, rc[me], r, rc, dsp, TACL_FLOAT32), TACL_ERR_MISMATCH);
        CHECK((double)(tacl__now_ns() - t0) * 1e-9 < 5.0);
        /* shm names the pair and both counts (or, pass 0, the fingerprints' totals); over tcp
         * the fingerprints carry a hash of recv_counts, so the message names two ranks whose
         * counts differ and gives the reporting rank's counts */
        const char *m = tacl_comm_last_error(w);
        CHECK_CONTAINS(m, "all_gatherv");
        CHECK(strstr(m, "rank 1") || pass == 2);
        CHECK(strstr(m, "expects") || strstr(m, "recv_counts") || pass == 0);
    }
    for (int q = 0; q < n; q++)
        rc[q] = 1;
    s[0] = (float)me;
    CHECK_OK(tacl_all_gatherv(w, s, 1, r, rc, dsp, TACL_FLOAT32));
    for (int q = 0; q < n; q++)
        CHECK(r[dsp[q]] == (float)q);
    free(s);
    free(r);
    return 0;
}

/* Point-to-point sizes: a message longer, then shorter, than the posted receive fails the
 * receive naming peer, tag and sizes (the sender's eager send succeeds); then a matching pair
 * works. */
static int p2p_size_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w);
    int32_t v[4] = {7, 8, 9, 10}, got[4] = {-1, -1, -1, -1};
    if (me == 0) {
        CHECK_OK(tacl_send(w, v, 2, TACL_INT32, 1, 5));
        CHECK_OK(tacl_send(w, v, 1, TACL_INT32, 1, 6));
        CHECK_OK(tacl_send(w, v, 3, TACL_INT32, 1, 7));
    } else if (me == 1) {
        CHECK_ST(tacl_recv(w, got, 1, TACL_INT32, 0, 5), TACL_ERR_MISMATCH);
        CHECK_CONTAINS(tacl_comm_last_error(w), "receive of 1 elements of int32 (4 bytes) from "
                                                "rank 0 with tag 5");
        CHECK_CONTAINS(tacl_comm_last_error(w), "count=2");
        CHECK_ST(tacl_recv(w, got, 2, TACL_INT32, 0, 6), TACL_ERR_MISMATCH);
        CHECK_CONTAINS(tacl_comm_last_error(w), "receive of 2 elements of int32 (8 bytes) from "
                                                "rank 0 with tag 6");
        CHECK_CONTAINS(tacl_comm_last_error(w), "count=1");
        CHECK_OK(tacl_recv(w, got, 3, TACL_INT32, 0, 7));
        CHECK(got[0] == 7 && got[1] == 8 && got[2] == 9 && got[3] == -1);
    }
    CHECK_OK(tacl_barrier(w));
    return 0;
}

static int timeout_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w);
    float x[4] = {1, 2, 3, 4};
    tacl_comm_set_timeout(w, 1.0);
    if (me == 1) {
        sleep(3); /* never calls the collective in time */
        return 0;
    }
    uint64_t t0 = tacl__now_ns();
    CHECK_ST(tacl_all_reduce(w, x, x, 4, TACL_FLOAT32, TACL_SUM), TACL_ERR_TIMEOUT);
    double el = (double)(tacl__now_ns() - t0) * 1e-9;
    CHECK(el >= 0.9 && el < 2.9);
    CHECK_CONTAINS(tacl_comm_last_error(w), "rank 1");
    return 0;
}

static int peer_lost_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    size_t count = 1 << 16;
    float *x = calloc(count, sizeof *x);
    CHECK(x);
    CHECK_OK(tacl_all_reduce(w, x, x, count, TACL_FLOAT32, TACL_SUM));
    /* Everyone has finished that operation (met through the store, not the links) before the
     * last rank dies: the death falls between operations for no one. */
    tacl_store_t *store = tacl_comm_store(w);
    int64_t arrived = 0;
    CHECK_OK(tacl_store_add(store, "peer-lost-sync", 1, &arrived));
    if (arrived == n) CHECK_OK(tacl_store_set(store, "peer-lost-go", "1", 1));
    const char *go[] = {"peer-lost-go"};
    CHECK_OK(tacl_store_wait(store, go, 1));
    if (me == n - 1) raise(SIGKILL);
    uint64_t t0 = tacl__now_ns();
    tacl_status_t st = TACL_OK;
    for (int i = 0; i < 100 && st == TACL_OK; i++)
        st = tacl_all_reduce(w, x, x, count, TACL_FLOAT32, TACL_SUM);
    double el = (double)(tacl__now_ns() - t0) * 1e-9;
    CHECK_ST(st, TACL_ERR_PEER_LOST);
    char want[32];
    snprintf(want, sizeof want, "rank %d", n - 1);
    CHECK_CONTAINS(tacl_comm_last_error(w), want);
    CHECK(el < 10.0);
    /* The communicator stays broken, with the same status. */
    CHECK_ST(tacl_all_reduce(w, x, x, count, TACL_FLOAT32, TACL_SUM), TACL_ERR_PEER_LOST);
    free(x);
    return 0;
}

/* ---- Calls the ranks disagree on (every collective path; argv selects the configuration). ----
 * Every rank must fail within seconds (TACL_TIMEOUT is 60 s), with TACL_ERR_MISMATCH naming the
 * rank and field that differ (the rank that rejected its own call: TACL_ERR_INVALID), and the
 * next matched call must give right values on every rank. */

/* Checks one disagreed call on this rank, then a matched all_reduce on the same communicator. */
static void agree_check(tacl_comm_t *w, const char *name, tacl_status_t st, tacl_status_t want,
                        uint64_t t0, const char *const *subs)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    double el = (double)(tacl__now_ns() - t0) * 1e-9;
    const char *msg = tacl_comm_last_error(w);
    if (st != want) {
        fprintf(stderr, "%s: rank %d got %s after %.2f s, expected %s: %s\n", name, me,
                tacl_status_name(st), el, tacl_status_name(want), msg);
        exit(1);
    }
    for (int i = 0; subs[i]; i++)
        if (!strstr(msg, subs[i])) {
            fprintf(stderr, "%s: rank %d: \"%s\" does not contain \"%s\"\n", name, me, msg,
                    subs[i]);
            exit(1);
        }
    if (el >= 10.0) {
        fprintf(stderr, "%s: rank %d took %.2f s to fail\n", name, me, el);
        exit(1);
    }
    if (me == 0 || me == 1) printf("%s: rank %d, %.3f s: %s\n", name, me, el, msg);
    float v[3] = {(float)(me + 1), (float)(2 * (me + 1)), 3.0f};
    tacl_status_t nst = tacl_all_reduce(w, v, v, 3, TACL_FLOAT32, TACL_SUM);
    float sum = (float)(n * (n + 1) / 2);
    if (nst != TACL_OK || v[0] != sum || v[1] != 2 * sum || v[2] != 3.0f * (float)n) {
        fprintf(stderr,
                "%s: rank %d: the next all_reduce gave %s, %g %g %g (expected %g %g %g): %s\n",
                name, me, tacl_status_name(nst), v[0], v[1], v[2], sum, 2 * sum, 3.0 * n,
                tacl_comm_last_error(w));
        exit(1);
    }
}

static int agree_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    float *a = calloc((size_t)n * 8, sizeof *a), *b = calloc((size_t)n * 8, sizeof *b);
    CHECK(a && b);
    for (int i = 0; i < n * 8; i++)
        a[i] = (float)(me * 100 + i);
    int root = me == 1 ? 1 : 0; /* rank 1 disagrees on the root */
    const char *roots[] = {"rank 1", "root=1", "root=0", "roots differ", NULL};
    uint64_t t0 = tacl__now_ns();
    agree_check(w, "broadcast root", tacl_broadcast(w, a, b, 4, TACL_FLOAT32, root),
                TACL_ERR_MISMATCH, t0, roots);
    t0 = tacl__now_ns();
    agree_check(w, "scatter root", tacl_scatter(w, a, b, 4, TACL_FLOAT32, root), TACL_ERR_MISMATCH,
                t0, roots);
    t0 = tacl__now_ns();
    agree_check(w, "reduce root", tacl_reduce(w, a, b, 4, TACL_FLOAT32, TACL_SUM, root),
                TACL_ERR_MISMATCH, t0, roots);
    t0 = tacl__now_ns();
    agree_check(w, "gather root", tacl_gather(w, a, b, 4, TACL_FLOAT32, root), TACL_ERR_MISMATCH,
                t0, roots);

    /* Rank 0 broadcasts while the others all_reduce. */
    const char *kinds[] = {"rank 0", "broadcast(count=4", "all_reduce(count=4",
                           "different collectives", NULL};
    t0 = tacl__now_ns();
    tacl_status_t st = me == 0 ? tacl_broadcast(w, a, a, 4, TACL_FLOAT32, 0)
                               : tacl_all_reduce(w, a, b, 4, TACL_FLOAT32, TACL_SUM);
    agree_check(w, "broadcast vs all_reduce", st, TACL_ERR_MISMATCH, t0, kinds);
    /* The last rank barriers while the others all_to_all. */
    const char *kinds2[] = {"barrier(", "all_to_all(count=2", "different collectives", NULL};
    t0 = tacl__now_ns();
    st = me == n - 1 ? tacl_barrier(w) : tacl_all_to_all(w, a, b, 2, TACL_FLOAT32);
    agree_check(w, "barrier vs all_to_all", st, TACL_ERR_MISMATCH, t0, kinds2);

    /* Count, dtype and op. */
    const char *counts[] = {"all_reduce(count=8", "all_reduce(count=4", "counts differ", NULL};
    t0 = tacl__now_ns();
    st = tacl_all_reduce(w, a, b, me == n - 1 ? 8 : 4, TACL_FLOAT32, TACL_SUM);
    agree_check(w, "all_reduce count", st, TACL_ERR_MISMATCH, t0, counts);
    const char *dtypes[] = {"all_gather(count=2, int32", "all_gather(count=2, float,",
                            "dtypes differ", NULL};
    t0 = tacl__now_ns();
    st = tacl_all_gather(w, a, b, 2, me == 1 ? TACL_INT32 : TACL_FLOAT32);
    agree_check(w, "all_gather dtype", st, TACL_ERR_MISMATCH, t0, dtypes);
    const char *ops[] = {"max", "sum", "reduction ops differ", NULL};
    t0 = tacl__now_ns();
    st = tacl_reduce_scatter(w, a, b, 2, TACL_FLOAT32, me == 0 ? TACL_MAX : TACL_SUM);
    agree_check(w, "reduce_scatter op", st, TACL_ERR_MISMATCH, t0, ops);

    /* One rank rejects its own call: it says why, the others name it. */
    const char *null_self[] = {"NULL send buffer", NULL};
    const char *null_other[] = {"rank 1", "an invalid all_reduce(count=4", NULL};
    t0 = tacl__now_ns();
    st = tacl_all_reduce(w, me == 1 ? NULL : a, b, 4, TACL_FLOAT32, TACL_SUM);
    agree_check(w, "NULL buffer on rank 1", st, me == 1 ? TACL_ERR_INVALID : TACL_ERR_MISMATCH, t0,
                me == 1 ? null_self : null_other);
    const char *root_self[] = {"root 99 out of range", NULL};
    const char *root_other[] = {"rank 1", "an invalid broadcast(count=4", NULL};
    t0 = tacl__now_ns();
    st = tacl_broadcast(w, a, b, 4, TACL_FLOAT32, me == 1 ? 99 : 0);
    agree_check(w, "bad root on rank 1", st, me == 1 ? TACL_ERR_INVALID : TACL_ERR_MISMATCH, t0,
                me == 1 ? root_self : root_other);
    free(a);
    free(b);
    printf("rank %d: every disagreement failed on every rank; the communicator still works\n", me);
    return 0;
}

static void run_case_env(const char *name, int n, mpw_body_t body, void *arg, const char *hosts,
                         const char *env, int expect_kill)
{
    mpw_opts_t o = {.timeout_s = 60, .host_ids = hosts, .env = env ? env : "TACL_TIMEOUT=20"};
    int rc = mpw_run(n, body, arg, &o);
    if (expect_kill) {
        for (int r = 0; r < n - 1; r++)
            if (mpw_rank_status(r) != 0) {
                fprintf(stderr, "%s: rank %d failed\n", name, r);
                exit(1);
            }
        CHECK(mpw_rank_signal(n - 1) == SIGKILL);
    } else if (rc != 0) {
        fprintf(stderr, "%s: failed (%d)\n", name, rc);
        exit(1);
    }
    printf("%s (%s%s%s): ok\n", name, hosts ? hosts : "one host", env ? ", " : "", env ? env : "");
}

static void run_case(const char *name, int n, mpw_body_t body, const char *hosts, int expect_kill)
{
    run_case_env(name, n, body, NULL, hosts, NULL, expect_kill);
}

/* Count mismatches of the v-variants and point-to-point (label fault): one host (shm), one host
 * over tcp, fake hosts. */
static int main_counts(void)
{
    const char *where[][2] = {
        {NULL, NULL}, {NULL, "TACL_TIMEOUT=20;TACL_SHM_DISABLE=1"}, {"hA,hB,hC,hD", NULL}};
    static const int zero = 0, two = 2, many = 300000; /* many: several shm steps */
    for (int k = 0; k < 3; k++) {
        const char *hosts = where[k][0], *env = where[k][1];
        const char *h3 = hosts ? "hA,hB,hC" : NULL, *h2 = hosts ? "hA,hB" : NULL;
        run_case_env("all_to_allv sends 0", 3, a2av_counts_body, (void *)&zero, h3, env, 0);
        run_case_env("all_to_allv sends 2", 3, a2av_counts_body, (void *)&two, h3, env, 0);
        run_case_env("all_to_allv sends many", 3, a2av_counts_body, (void *)&many, h3, env, 0);
        run_case_env("all_to_allv one pair", 4, a2av_pair_body, NULL, hosts, env, 0);
        run_case_env("all_gatherv", 3, agv_counts_body, NULL, h3, env, 0);
        run_case_env("send/recv sizes", 2, p2p_size_body, NULL, h2, env, 0);
    }
    return 0;
}

/* argv: "agree N [HOSTS]" runs the disagreement cases on N ranks (HOSTS: fake host ids; the
 * test's environment picks TACL_SHM_DISABLE and TACL_ALGO); "agree-rank" runs them as one rank
 * of a job launched by others (the netns test); "counts" the count mismatches ("--env counts"
 * as one rank of a job launched by others); no arguments: every other case. */
/* TACL_ALGO=allreduce:hier where the hierarchy cannot run (one host; one rank per host):
 * all_reduce fails on every rank with TACL_ERR_INVALID naming the algorithm, the collective and
 * why, before anything is sent; other collectives and the communicator keep working. */
static int forced_body(tacl_comm_t *w, void *arg)
{
    const char *why = arg;
    float x[4] = {1, 2, 3, 4};
    for (int k = 0; k < 2; k++) {
        CHECK_ST(tacl_all_reduce(w, x, x, 4, TACL_FLOAT32, TACL_SUM), TACL_ERR_INVALID);
        CHECK_CONTAINS(tacl_comm_last_error(w),
                       "all_reduce: TACL_ALGO forces 'hier', which cannot run all_reduce");
        CHECK_CONTAINS(tacl_comm_last_error(w), why);
        CHECK(x[0] == 1 && x[3] == 4); /* untouched */
        if (tacl_comm_rank(w) == 0) x[1] = 7;
        CHECK_OK(tacl_broadcast(w, x, x, 4, TACL_FLOAT32, 0));
        CHECK(x[1] == 7);
        x[1] = 2;
        CHECK_OK(tacl_barrier(w));
    }
    return 0;
}

static int main_forced(void)
{
    static const struct {
        int n;
        const char *hosts, *why;
    } cases[] = {{2, NULL, "all its ranks are on one host"},
                 {3, "hA,hB,hC", "every host has one rank"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mpw_opts_t o = {.timeout_s = 60,
                        .host_ids = cases[i].hosts,
                        .env = "TACL_ALGO=allreduce:hier;TACL_TIMEOUT=30"};
        if (mpw_run(cases[i].n, forced_body, (void *)cases[i].why, &o) != 0) {
            fprintf(stderr, "forced on %d ranks: failed\n", cases[i].n);
            return 1;
        }
        printf("forced on %d ranks (%s): ok\n", cases[i].n,
               cases[i].hosts ? cases[i].hosts : "one host");
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "forced")) return main_forced();
    if (argc >= 2 && !strcmp(argv[1], "agree-rank")) {
        tacl_comm_t *w;
        tacl_status_t st = tacl_init(&w);
        if (st != TACL_OK) {
            fprintf(stderr, "tacl_init: %s: %s\n", tacl_status_name(st), tacl_last_error());
            return 3;
        }
        int rc = agree_body(w, NULL);
        tacl_comm_destroy(w);
        return rc;
    }
    if (argc >= 3 && !strcmp(argv[1], "agree")) {
        mpw_opts_t o = {
            .timeout_s = 100, .host_ids = argc > 3 ? argv[3] : NULL, .env = "TACL_TIMEOUT=60"};
        int rc = mpw_run(atoi(argv[2]), agree_body, NULL, &o);
        if (rc != 0) {
            fprintf(stderr, "agree: failed (%d)\n", rc);
            return 1;
        }
        printf("agree on %s ranks (%s): ok\n", argv[2], argc > 3 ? argv[3] : "one host");
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "counts")) return main_counts();
    /* --env counts: one rank of a job started by someone else (a netns test), 3+ ranks. */
    if (argc > 2 && !strcmp(argv[1], "--env") && !strcmp(argv[2], "counts")) {
        tacl_comm_t *w;
        tacl_status_t st = tacl_init(&w);
        if (st != TACL_OK) {
            fprintf(stderr, "tacl_init: %s: %s\n", tacl_status_name(st), tacl_last_error());
            return 3;
        }
        static const int zero = 0, two = 2;
        int rc = a2av_counts_body(w, (void *)&zero) || a2av_counts_body(w, (void *)&two) ||
                 a2av_pair_body(w, NULL) || agv_counts_body(w, NULL) || p2p_size_body(w, NULL);
        printf("test_coll_errors counts rank %d of %d: %s\n", tacl_comm_rank(w), tacl_comm_size(w),
               rc ? "FAILED" : "ok");
        tacl_comm_destroy(w);
        return rc;
    }
    const char *two = "hA,hB", *three = "hA,hB,hC", *four = "hA,hA,hB,hB";
    run_case("invalid", 2, invalid_body, NULL, 0);
    run_case("invalid", 2, invalid_body, two, 0);
    run_case("overflow", 2, overflow_body, NULL, 0);
    run_case("overlap", 2, overlap_body, NULL, 0);
    run_case("overlap", 2, overlap_body, two, 0);
    run_case("overlap at the root", 1, overlap_root_body, NULL, 0);
    run_case("mismatch", 2, mismatch_body, NULL, 0);
    run_case("mismatch", 2, mismatch_body, two, 0);
    run_case("mismatch", 3, mismatch_body, three, 0);
    run_case("timeout", 3, timeout_body, NULL, 0);
    run_case("timeout", 3, timeout_body, three, 0);
    run_case("peer_lost", 3, peer_lost_body, NULL, 1);
    run_case("peer_lost", 3, peer_lost_body, three, 1);
    run_case("peer_lost", 4, peer_lost_body, four, 1);
    return 0;
}
