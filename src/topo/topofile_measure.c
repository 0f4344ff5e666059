/* topofile_measure.c — TACL_TOPO_MEASURE: latency and bandwidth of every direct link, measured
 * on the live engine. Pairs are scheduled as a round-robin tournament (circle method), so each
 * rank is in at most one pair per round and a measurement never shares a rank's NIC or CPU with
 * another; a rank reaches its next pair only when its current partner answers, which keeps
 * rounds apart without a barrier. The lower rank of a pair times a ping-pong (latency = half
 * the median round trip) and each side times its own streamed send up to the peer's
 * acknowledgement. Rows are all-gathered, so every rank builds the same weighted graph. */
#include "clock.h"
#include "topo/graph.h"
#include "topo/topofile.h"
#include "topo/graph.h"
#include "transport/engine.h"

#include <stdlib.h>
#include <string.h>

#define MEAS_COMM_ID 0x746f706f6d656173ull /* "topomeas": a key space of its own */
#define MEAS_PINGS   16

static int meas_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static tacl_status_t meas_xfer(tacl__engine_t *e, int peer, int send, uint64_t tag, void *buf,
                               size_t len, uint64_t deadline, tacl__errbuf_t *eb)
{
    tacl__msg_key_t k = {MEAS_COMM_ID, tag, 0};
    tacl__req_t *r;
    tacl_status_t st = send ? tacl__engine_isend(e, peer, &k, NULL, buf, len, &r)
                            : tacl__engine_irecv(e, peer, &k, NULL, buf, len, &r);
    if (st != TACL_OK) return tacl__err_keep(eb, st);
    return tacl__engine_wait(e, &r, 1, deadline, &peer, 1, eb);
}

/* One pair; me is lo or hi. Fills lat (lo only) and bw of me's sending direction. */
static tacl_status_t meas_pair(tacl__engine_t *e, int me, int peer, uint64_t tag0, char *big,
                               size_t bytes, uint64_t deadline, double *lat, double *bw,
                               tacl__errbuf_t *eb)
{
    int lo = me < peer;
    char b8[8] = {0};
    double rtt[MEAS_PINGS];
    /* Ping-pong; the first exchange (untimed) also waits for the peer to reach this pair. */
    for (int i = 0; i <= MEAS_PINGS; i++) {
        uint64_t t0 = tacl__now_ns();
        uint64_t tag = tag0 + (uint64_t)i * 2;
        if (lo) {
            TACL_CHECK(meas_xfer(e, peer, 1, tag, b8, sizeof b8, deadline, eb));
            TACL_CHECK(meas_xfer(e, peer, 0, tag + 1, b8, sizeof b8, deadline, eb));
        } else {
            TACL_CHECK(meas_xfer(e, peer, 0, tag, b8, sizeof b8, deadline, eb));
            TACL_CHECK(meas_xfer(e, peer, 1, tag + 1, b8, sizeof b8, deadline, eb));
        }
        if (i > 0) rtt[i - 1] = (double)(tacl__now_ns() - t0) * 1e-9;
    }
    if (lo) {
        qsort(rtt, MEAS_PINGS, sizeof rtt[0], meas_cmp);
        *lat = rtt[MEAS_PINGS / 2] / 2;
    }
    /* Streams: lo -> hi, then hi -> lo; the receiver acknowledges with 8 bytes. */
    uint64_t ts = tag0 + 2 * (MEAS_PINGS + 1);
    for (int dir = 0; dir < 2; dir++) {
        int sending = (dir == 0) == lo;
        uint64_t t0 = tacl__now_ns();
        TACL_CHECK(meas_xfer(e, peer, sending, ts + (uint64_t)dir * 2, big, bytes, deadline, eb));
        TACL_CHECK(
            meas_xfer(e, peer, !sending, ts + (uint64_t)dir * 2 + 1, b8, sizeof b8, deadline, eb));
        double dt = (double)(tacl__now_ns() - t0) * 1e-9;
        if (sending) *bw = (double)bytes / (dt > 1e-9 ? dt : 1e-9);
    }
    return TACL_OK;
}

tacl_status_t tacl__topo_measure(tacl__engine_t *e, const tacl__xchg_t *x, const uint8_t *reach,
                                 size_t bytes, double timeout_s, tacl__topo_links_t *out,
                                 tacl__errbuf_t *eb)
{
    int n = x->size, me = x->rank, m = n % 2 ? n + 1 : n;
    size_t nn = (size_t)n * (size_t)n;
    uint64_t deadline = tacl__deadline_ns(timeout_s);
    if (bytes < 8) bytes = 8;
    tacl__topo_links_t l = {n, calloc(nn, 1), calloc(nn, sizeof(double)),
                            calloc(nn, sizeof(double))};
    double *row = calloc(2 * (size_t)n, sizeof *row); /* bw to each peer, lat to each */
    double *all = calloc(2 * nn, sizeof *all);        /* every rank's row */
    char *big = malloc(bytes);
    tacl_status_t st = TACL_OK;
    if (!l.allowed || !l.bw || !l.lat || !row || !all || !big) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "out of memory");
        goto out;
    }
    memset(big, 0x5a, bytes);
    for (int r = 0; r < m - 1 && st == TACL_OK; r++) {
        int peer = tacl__round_robin_partner(n, r, me);
        if (peer < 0 || !reach[(size_t)me * (size_t)n + (size_t)peer]) continue;
        st = meas_pair(e, me, peer, (uint64_t)r << 8, big, bytes, deadline, &row[n + peer],
                       &row[peer], eb);
        if (st != TACL_OK)
            st = tacl__err_prefix(eb, st, "measuring link %d-%d (round %d)", me, peer, r);
    }
    if (st != TACL_OK) goto out;
    st = tacl__xchg_allgather(x, row, 2 * (size_t)n * sizeof *row, all, eb);
    if (st != TACL_OK) goto out;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            size_t k = (size_t)i * (size_t)n + (size_t)j;
            if (i == j || !reach[k]) continue;
            double bij = all[(size_t)i * 2 * (size_t)n + (size_t)j];
            double bji = all[(size_t)j * 2 * (size_t)n + (size_t)i];
            int lo = i < j ? i : j, hi = i < j ? j : i;
            l.allowed[k] = 1;
            l.bw[k] = bij < bji ? bij : bji;
            l.lat[k] = all[(size_t)lo * 2 * (size_t)n + (size_t)n + (size_t)hi];
            if (!(l.bw[k] > 0)) l.bw[k] = 1; /* a zero-time anomaly must not drop the edge */
        }
    *out = l;
    l = (tacl__topo_links_t){0};
out:
    tacl__topo_links_free(&l);
    free(row);
    free(all);
    free(big);
    return st;
}
