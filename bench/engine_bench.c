/* engine_bench.c — point-to-point engine figures between two forked ranks: ping-pong latency
 * (half the round trip) and streaming bandwidth (a window of messages in flight), 8 B .. 64 MiB.
 * Usage: engine_bench shm|tcp|relay [max_bytes]. tcp runs over loopback (TACL_SOCKET_IFNAME=lo,
 * different host ids); shm gives both ranks one host id; relay is tcp between ranks 0 and 2 of
 * a chain 0-1-2 (direct 0-2 forbidden), every fragment forwarded by rank 1's progress thread
 * while its application waits. */
#include "clock.h"
#include "transport/engine.h"
#include "xchg_fork.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define WINDOW 8

static int same_host, relay;
static size_t max_bytes = 64u << 20;

static int bench_fail(const char *what, tacl_status_t st)
{
    fprintf(stderr, "engine_bench: %s: %s: %s\n", what, tacl_status_name(st), tacl_last_error());
    return 1;
}

static int bench_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    static const char *split[] = {"h0", "h1", "h2"}, *same[] = {"h", "h", "h"};
    static const uint8_t chain[9] = {1, 1, 0, 1, 1, 1, 0, 1, 1};
    tacl__engine_config_t cfg = {.rank = rank,
                                 .size = size,
                                 .xchg = x,
                                 .host_ids = same_host ? same : split,
                                 .probe_timeout_s = 2,
                                 .timeout_s = 30,
                                 .allowed = relay ? chain : NULL};
    tacl__engine_t *e;
    tacl__errbuf_t eb;
    tacl_status_t st = tacl__engine_create(&cfg, &e, &eb);
    if (st != TACL_OK) return bench_fail("create", st);
    uint8_t one = 1, all[3];
    if (relay && rank == 1) {
        tacl__xchg_allgather(x, &one, 1, all, &eb); /* the application waits; the engine relays */
        tacl__engine_destroy(e);
        return 0;
    }
    int peer = relay ? 2 - rank : 1 - rank;
    if (relay) {
        int hops[3] = {1, 1, 1};
        hops[rank] = -1;
        st = tacl__engine_set_routes(e, hops);
        if (st != TACL_OK) return bench_fail("routes", st);
    }
    if (rank == 0) {
        printf("# link: %s%s\n", tacl__engine_link_info(e, 1), relay ? " (relay to rank 2)" : "");
        printf("%12s %12s %12s %14s\n", "bytes", "iters", "lat_us", "stream_GB/s");
    }
    uint8_t *buf = malloc(max_bytes * WINDOW), *rbuf = malloc(max_bytes * WINDOW);
    /* Touch every page first: page faults are not what this measures. */
    memset(buf, 1, max_bytes * WINDOW);
    memset(rbuf, 0, max_bytes * WINDOW);
    uint64_t seq = 0;
    static const size_t sizes[] = {8,      64,       512,      4096,      32768,
                                   262144, 1u << 20, 4u << 20, 16u << 20, 64u << 20};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0] && sizes[si] <= max_bytes; si++) {
        size_t n = sizes[si];
        size_t iters = (256u << 20) / (n + 1);
        if (iters > 5000) iters = 5000;
        if (iters < 8) iters = 8;
        tacl__req_t *r[2 * WINDOW];
        /* Ping-pong: rank 0 sends, rank 1 answers. One warm-up round. */
        uint64_t t0 = 0;
        for (size_t i = 0; i <= iters; i++) {
            if (i == 1) t0 = tacl__now_ns();
            tacl__msg_key_t k = {.comm_id = 1, .tag = n, .seq = seq++};
            if (rank == 0) {
                st = tacl__engine_isend(e, peer, &k, NULL, buf, n, &r[0]);
                if (st == TACL_OK) st = tacl__engine_irecv(e, peer, &k, NULL, rbuf, n, &r[1]);
            } else {
                st = tacl__engine_irecv(e, peer, &k, NULL, rbuf, n, &r[0]);
                if (st == TACL_OK)
                    st = tacl__engine_wait(e, r, 1, tacl__deadline_ns(30), NULL, 0, &eb);
                if (st == TACL_OK) st = tacl__engine_isend(e, peer, &k, NULL, buf, n, &r[1]);
                r[0] = r[1];
            }
            if (st == TACL_OK)
                st =
                    tacl__engine_wait(e, r, rank == 0 ? 2 : 1, tacl__deadline_ns(30), NULL, 0, &eb);
            if (st != TACL_OK) return bench_fail("ping-pong", st);
        }
        double lat = (double)(tacl__now_ns() - t0) * 1e-9 / (double)iters / 2;
        /* Streaming: windows of WINDOW messages one way, then a 1-byte acknowledgement. */
        size_t rounds = iters / WINDOW + 2;
        t0 = tacl__now_ns();
        for (size_t i = 0; i < rounds; i++) {
            for (int w = 0; w < WINDOW; w++) {
                tacl__msg_key_t k = {.comm_id = 2, .tag = n, .seq = seq++};
                st = rank == 0
                         ? tacl__engine_isend(e, peer, &k, NULL, buf + (size_t)w * n, n, &r[w])
                         : tacl__engine_irecv(e, peer, &k, NULL, rbuf + (size_t)w * n, n, &r[w]);
                if (st != TACL_OK) return bench_fail("stream", st);
            }
            st = tacl__engine_wait(e, r, WINDOW, tacl__deadline_ns(60), NULL, 0, &eb);
            if (st != TACL_OK) return bench_fail("stream wait", st);
        }
        tacl__msg_key_t k = {.comm_id = 3, .tag = n, .seq = seq++};
        uint8_t ack = 0;
        st = rank != 0 ? tacl__engine_isend(e, peer, &k, NULL, &ack, 1, &r[0])
                       : tacl__engine_irecv(e, peer, &k, NULL, &ack, 1, &r[0]);
        if (st == TACL_OK) st = tacl__engine_wait(e, r, 1, tacl__deadline_ns(30), NULL, 0, &eb);
        if (st != TACL_OK) return bench_fail("ack", st);
        double bw = (double)n * WINDOW * (double)rounds / ((double)(tacl__now_ns() - t0) * 1e-9);
        if (rank == 0) printf("%12zu %12zu %12.2f %14.3f\n", n, iters, lat * 1e6, bw * 1e-9);
        fflush(stdout);
    }
    tacl__xchg_allgather(x, &one, 1, all, &eb);
    tacl__engine_destroy(e);
    free(buf);
    free(rbuf);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "shm";
    if (argc > 2) max_bytes = strtoull(argv[2], NULL, 0);
    same_host = strcmp(mode, "shm") == 0;
    relay = strcmp(mode, "relay") == 0;
    if (!same_host) setenv("TACL_SOCKET_IFNAME", "lo", 0);
    int status[3], n = relay ? 3 : 2, bad = 0;
    if (xchg_fork_run(n, bench_child, NULL, 600, status) != 0) return 1;
    for (int r = 0; r < n; r++)
        bad |= !WIFEXITED(status[r]) || WEXITSTATUS(status[r]);
    return bad;
}
