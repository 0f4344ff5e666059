/* engine.c — the point-to-point engine with ranks as threads of one process, every rank its
 * own engine over loopback tcp (or shm rings when the ranks share a host id). One scenario per
 * CTest entry, chosen by argv[1]: sizes, order, mismatch, timeout, route, self. */
#include "check.h"
#include "clock.h"
#include "transport/engine.h"
#include "transport/transport.h"
#include "xchg_threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct world world_t;
typedef void (*rank_fn)(world_t *w, int rank, tacl__engine_t *e);

struct world {
    int size;
    xchg_threads_t *x;
    const char **hosts;
    const uint8_t *allowed;
    rank_fn fn;
    _Atomic int flag; /* scenario-specific */
};

typedef struct {
    world_t *w;
    int rank;
} rank_arg_t;

static void *rank_main(void *p)
{
    rank_arg_t *a = p;
    tacl__xchg_t x;
    xchg_threads_member(a->w->x, a->rank, &x);
    tacl__engine_config_t cfg = {.rank = a->rank,
                                 .size = a->w->size,
                                 .xchg = &x,
                                 .host_ids = a->w->hosts,
                                 .probe_timeout_s = 2.0,
                                 .timeout_s = 20.0,
                                 .allowed = a->w->allowed};
    tacl__engine_t *e = NULL;
    tacl__errbuf_t eb;
    CHECK_OK(tacl__engine_create(&cfg, &e, &eb));
    a->w->fn(a->w, a->rank, e);
    /* Nobody destroys its engine while another still receives from it. */
    uint8_t one = 1, all[16];
    CHECK_OK(tacl__xchg_allgather(&x, &one, 1, all, &eb));
    tacl__engine_destroy(e);
    return NULL;
}

static void run_world(int size, int same_host, const uint8_t *allowed, rank_fn fn, world_t *w)
{
    static const char *split[] = {"h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7"};
    static const char *same[] = {"h", "h", "h", "h", "h", "h", "h", "h"};
    w->size = size;
    w->x = xchg_threads_create(size);
    w->hosts = same_host ? same : split;
    w->allowed = allowed;
    w->fn = fn;
    pthread_t t[8];
    rank_arg_t a[8];
    for (int r = 0; r < size; r++) {
        a[r] = (rank_arg_t){w, r};
        CHECK(pthread_create(&t[r], NULL, rank_main, &a[r]) == 0);
    }
    for (int r = 0; r < size; r++)
        pthread_join(t[r], NULL);
    xchg_threads_destroy(w->x);
}

static uint8_t pattern(size_t i, int seed)
{
    return (uint8_t)((i * 2654435761u) >> 13) ^ (uint8_t)seed;
}

static uint64_t dl(double s)
{
    return tacl__deadline_ns(s);
}

/* ---- sizes: 0, 1, 4095, 1 MiB + 3, 64 MiB both ways, values checked. ---- */
static void sizes_rank(world_t *w, int rank, tacl__engine_t *e)
{
    static const size_t lens[] = {0, 1, 4095, (1u << 20) + 3, 64u << 20};
    int peer = 1 - rank;
    CHECK(tacl__engine_reach(e)[0 * 2 + 1] == 1 && tacl__engine_reach(e)[1 * 2 + 0] == 1);
    const char *info = tacl__engine_link_info(e, peer);
    CHECK_CONTAINS(info, "tcp ");
    /* The path under test is the one taken. */
    const char *nc = getenv("TACL_SOCKET_NCONNS");
    if (nc && !strcmp(nc, "3")) CHECK_CONTAINS(info, ", 3 connections");
    if (w->flag == 1) CHECK_CONTAINS(info, "+ shm ring");
    if (w->flag == 0) CHECK(strstr(info, "shm") == NULL);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = lens[i];
        uint8_t *out = malloc(n + 1), *in = malloc(n + 1);
        CHECK(out && in);
        for (size_t k = 0; k < n; k++)
            out[k] = pattern(k, rank * 7 + (int)i);
        memset(in, 0xEE, n + 1);
        tacl__msg_key_t key = {.comm_id = 42, .tag = i, .seq = 1};
        tacl__req_t *r[2];
        tacl__errbuf_t eb;
        CHECK_OK(tacl__engine_irecv(e, peer, &key, NULL, in, n, &r[0]));
        CHECK_OK(tacl__engine_isend(e, peer, &key, NULL, out, n, &r[1]));
        int group[2] = {0, 1};
        CHECK_OK(tacl__engine_wait(e, r, 2, dl(30), group, 2, &eb));
        for (size_t k = 0; k < n; k++)
            if (in[k] != pattern(k, peer * 7 + (int)i)) {
                fprintf(stderr, "rank %d: size %zu: byte %zu is %u, expected %u\n", rank, n, k,
                        in[k], pattern(k, peer * 7 + (int)i));
                exit(1);
            }
        CHECK(in[n] == 0xEE); /* nothing past the end */
        free(out);
        free(in);
    }
}

/* ---- order: many keys, receives posted in another order than the sends, two senders. ---- */
#define ORDER_N 200
static void order_rank(world_t *w, int rank, tacl__engine_t *e)
{
    (void)w;
    tacl__errbuf_t eb;
    if (rank != 1) {
        /* Sends tags 0..N-1 in order; message t is 3t+1 bytes of (rank, t). */
        static _Thread_local uint8_t bufs[ORDER_N][3 * ORDER_N + 1];
        tacl__req_t *r[ORDER_N];
        for (int t = 0; t < ORDER_N; t++) {
            memset(bufs[t], rank * 100 + t % 100, sizeof bufs[t]);
            tacl__msg_key_t key = {.comm_id = 7, .tag = (uint64_t)t, .seq = 0};
            CHECK_OK(tacl__engine_isend(e, 1, &key, NULL, bufs[t], (size_t)(3 * t + 1), &r[t]));
        }
        CHECK_OK(tacl__engine_wait(e, r, ORDER_N, dl(20), NULL, 0, &eb));
        return;
    }
    /* Half the messages arrive before their receive is posted (unexpected path). */
    usleep(200000);
    static uint8_t in[2][ORDER_N][3 * ORDER_N + 1];
    tacl__req_t *r[2 * ORDER_N];
    int k = 0;
    for (int t = ORDER_N - 1; t >= 0; t--)
        for (int s = 0; s < 2; s++) {
            int src = s == 0 ? 0 : 2;
            tacl__msg_key_t key = {.comm_id = 7, .tag = (uint64_t)t, .seq = 0};
            CHECK_OK(
                tacl__engine_irecv(e, src, &key, NULL, in[s][t], (size_t)(3 * t + 1), &r[k++]));
        }
    CHECK_OK(tacl__engine_wait(e, r, k, dl(20), NULL, 0, &eb));
    for (int s = 0; s < 2; s++)
        for (int t = 0; t < ORDER_N; t++)
            for (int b = 0; b < 3 * t + 1; b++)
                CHECK(in[s][t][b] == (uint8_t)((s == 0 ? 0 : 2) * 100 + t % 100));
}

/* ---- mismatch: wrong length, then wrong fingerprint; both sides of each case. ---- */
static void mismatch_rank(world_t *w, int rank, tacl__engine_t *e)
{
    (void)w;
    tacl__errbuf_t eb;
    tacl__fp_t fa = {.coll = TACL_COLL_ALL_REDUCE,
                     .dtype = TACL_FLOAT32,
                     .op = TACL_SUM,
                     .root = -1,
                     .count = 10,
                     .seq = 3};
    tacl__fp_t fb = {
        .coll = TACL_COLL_BROADCAST, .dtype = TACL_FLOAT32, .root = 0, .count = 10, .seq = 3};
    uint8_t buf[64] = {0}, in[64];
    tacl__req_t *r;
    tacl__msg_key_t k1 = {.comm_id = 1, .tag = 1, .seq = 1},
                    k2 = {.comm_id = 1, .tag = 2, .seq = 1};
    if (rank == 0) {
        CHECK_OK(tacl__engine_isend(e, 1, &k1, NULL, buf, 40, &r));
        CHECK_OK(tacl__engine_wait(e, &r, 1, dl(10), NULL, 0, &eb));
        CHECK_OK(tacl__engine_isend(e, 1, &k2, &fa, buf, 40, &r));
        CHECK_OK(tacl__engine_wait(e, &r, 1, dl(10), NULL, 0, &eb));
    } else {
        CHECK_OK(tacl__engine_irecv(e, 0, &k1, NULL, in, 32, &r));
        CHECK_ST(tacl__engine_wait(e, &r, 1, dl(10), NULL, 0, &eb), TACL_ERR_MISMATCH);
        CHECK_CONTAINS(eb.msg, "40 bytes from rank 0 (host h0) but expected 32");
        CHECK_OK(tacl__engine_irecv(e, 0, &k2, &fb, in, 40, &r));
        CHECK_ST(tacl__engine_wait(e, &r, 1, dl(10), NULL, 0, &eb), TACL_ERR_MISMATCH);
        CHECK_CONTAINS(eb.msg, "rank 0 (host h0) called all_reduce(count=10, float, sum, seq=3)");
        CHECK_CONTAINS(eb.msg, "rank 1 called broadcast(count=10, float, root=0, seq=3)");
        /* The engine still works after both. */
        tacl__msg_key_t k3 = {.comm_id = 1, .tag = 3, .seq = 1};
        CHECK_OK(tacl__engine_isend(e, 0, &k3, NULL, "ok", 3, &r));
        CHECK_OK(tacl__engine_wait(e, &r, 1, dl(10), NULL, 0, &eb));
    }
    if (rank == 0) {
        tacl__msg_key_t k3 = {.comm_id = 1, .tag = 3, .seq = 1};
        CHECK_OK(tacl__engine_irecv(e, 1, &k3, NULL, in, 3, &r));
        CHECK_OK(tacl__engine_wait(e, &r, 1, dl(10), NULL, 0, &eb));
        CHECK(strcmp((char *)in, "ok") == 0);
    }
}

/* ---- timeout: rank 1 waits for a message rank 0 never sends. ---- */
static void timeout_rank(world_t *w, int rank, tacl__engine_t *e)
{
    (void)w;
    if (rank != 1) return;
    tacl__errbuf_t eb;
    uint8_t in[8];
    tacl__req_t *r[2];
    tacl__msg_key_t k = {.comm_id = 5, .tag = 9, .seq = 4};
    CHECK_OK(tacl__engine_irecv(e, 0, &k, NULL, in, 8, &r[0]));
    CHECK_OK(tacl__engine_irecv(e, 2, &k, NULL, in, 8, &r[1]));
    uint64_t t0 = tacl__now_ns();
    CHECK_ST(tacl__engine_wait(e, r, 2, dl(0.5), NULL, 0, &eb), TACL_ERR_TIMEOUT);
    double took = (double)(tacl__now_ns() - t0) * 1e-9;
    CHECK(took >= 0.45 && took < 2.0);
    CHECK_CONTAINS(eb.msg, "waiting for rank 0 (host h0)");
    CHECK_CONTAINS(eb.msg, "waiting for rank 2 (host h2)");
    CHECK_CONTAINS(eb.msg, "tag 9, seq 4");
}

/* ---- route: chain 0-1-2 (0-2 forbidden); 0 and 2 exchange through 1 while 1 sleeps. ---- */
static void route_rank(world_t *w, int rank, tacl__engine_t *e)
{
    const uint8_t *reach = tacl__engine_reach(e);
    CHECK(reach[0 * 3 + 1] && reach[1 * 3 + 2] && !reach[0 * 3 + 2] && !reach[2 * 3 + 0]);
    tacl__errbuf_t eb;
    if (rank == 1) {
        /* Application code that makes no tacl call for a while. */
        usleep(2500000);
        atomic_store(&w->flag, 1);
        return;
    }
    int peer = 2 - rank;
    CHECK_CONTAINS(tacl__engine_link_info(e, peer), "forbids");
    size_t n = (4u << 20) + 5;
    uint8_t *out = malloc(n), *in = malloc(n);
    for (size_t k = 0; k < n; k++)
        out[k] = pattern(k, rank);
    tacl__msg_key_t key = {.comm_id = 9, .tag = 1, .seq = 1};
    tacl__req_t *r[2];
    CHECK_ST(tacl__engine_isend(e, peer, &key, NULL, out, n, &r[0]), TACL_ERR_UNREACHABLE);
    char want[80];
    snprintf(want, sizeof want, "rank %d cannot send to rank %d", rank, peer);
    CHECK_CONTAINS(tacl_last_error(), want);
    int hops[3] = {1, 1, 1};
    hops[rank] = -1;
    CHECK_OK(tacl__engine_set_routes(e, hops));
    CHECK_OK(tacl__engine_irecv(e, peer, &key, NULL, in, n, &r[0]));
    CHECK_OK(tacl__engine_isend(e, peer, &key, NULL, out, n, &r[1]));
    int group[3] = {0, 1, 2};
    CHECK_OK(tacl__engine_wait(e, r, 2, dl(10), group, 3, &eb));
    CHECK(atomic_load(&w->flag) == 0); /* done while the relay was still asleep */
    for (size_t k = 0; k < n; k++)
        CHECK(in[k] == pattern(k, peer));
    free(out);
    free(in);
}

/* ---- credit_line: all-to-all on the 4-ring 0-1-2-3 with the 3-0 edge missing (cyclic routed
 * traffic: flows cross every relay in both directions) with a tiny TACL_RELAY_WINDOW, every
 * destination posting its receives late: every sender waits for credit many times (300 KB
 * messages, 16 KB window), credits cross data in both directions, and everything must complete
 * intact, no relay holding more than the window of any flow. (Loopback does not congest a relay;
 * tests/netns/engine_relay.c shows the bound where one would pile up.) ---- */
#define CREDIT_WINDOW 16384
#define CREDIT_FRAG   4096
static void credit_line_rank(world_t *w, int rank, tacl__engine_t *e)
{
    enum { N = 4, M = 3 };
    size_t n = 300001;
    int hops[N];
    for (int d = 0; d < N; d++)
        hops[d] = d == rank ? -1 : d > rank ? rank + 1 : rank - 1;
    CHECK_OK(tacl__engine_set_routes(e, hops));
    /* Every relay has its routes before the first fragment reaches it (a relay without one
     * drops it, as it must). */
    atomic_fetch_add(&w->flag, 1);
    uint64_t until = dl(20);
    while (atomic_load(&w->flag) < N && tacl__now_ns() < until)
        usleep(1000);
    CHECK(atomic_load(&w->flag) >= N);
    uint8_t *out = malloc(n * N * M), *in = malloc(n * N * M);
    CHECK(out && in);
    tacl__req_t *r[2 * N * M];
    int nr = 0;
    for (int d = 0; d < N; d++)
        for (int m = 0; m < M && d != rank; m++) {
            uint8_t *p = out + (size_t)(d * M + m) * n;
            for (size_t k = 0; k < n; k++)
                p[k] = pattern(k, rank * 16 + d * 4 + m);
            tacl__msg_key_t key = {.comm_id = 21, .tag = 2, .seq = (uint64_t)m};
            CHECK_OK(tacl__engine_isend(e, d, &key, NULL, p, n, &r[nr++]));
        }
    usleep(300000); /* late receives: the streams run ahead of them */
    for (int s = 0; s < N; s++)
        for (int m = 0; m < M && s != rank; m++) {
            tacl__msg_key_t key = {.comm_id = 21, .tag = 2, .seq = (uint64_t)m};
            CHECK_OK(
                tacl__engine_irecv(e, s, &key, NULL, in + (size_t)(s * M + m) * n, n, &r[nr++]));
        }
    tacl__errbuf_t eb;
    CHECK_OK(tacl__engine_wait(e, r, nr, dl(30), NULL, 0, &eb));
    for (int s = 0; s < N; s++)
        for (int m = 0; m < M && s != rank; m++)
            for (size_t k = 0; k < n; k++)
                CHECK(in[(size_t)(s * M + m) * n + k] == pattern(k, s * 16 + rank * 4 + m));
    /* Every receive everywhere is complete: no relay holds anything any more. */
    atomic_fetch_add(&w->flag, 1);
    while (atomic_load(&w->flag) < N)
        usleep(1000);
    uint64_t cur, peak, through = 0;
    for (int s = 0; s < N; s++)
        for (int d = 0; d < N; d++) {
            tacl__engine_relay_stats(e, s, d, &cur, &peak);
            CHECK(cur == 0);
            CHECK(peak <= CREDIT_WINDOW);
            int relayed = (s < rank && rank < d) || (d < rank && rank < s);
            CHECK(relayed ? peak > 0 : peak == 0);
            through += relayed;
        }
    tacl__engine_relay_stats(e, -1, 0, &cur, &peak);
    CHECK(cur == 0 && peak <= through * CREDIT_WINDOW);
    free(out);
    free(in);
}

/* ---- pingpong: large messages each followed by small ones, answered by the peer: the last
 * bytes of a burst often sit in the receiver's staging buffer when its read budget runs out,
 * and must still be parsed although the socket has nothing more. ---- */
static void pingpong_rank(world_t *w, int rank, tacl__engine_t *e)
{
    (void)w;
    size_t big = (9u << 20) + 77;
    uint8_t *out = malloc(big), *in = malloc(big), small[3][100];
    tacl__errbuf_t eb;
    for (int it = 0; it < 12; it++) {
        for (size_t k = 0; k < big; k += 4096)
            out[k] = (uint8_t)(it + rank);
        tacl__req_t *r[4];
        tacl__msg_key_t kb = {.comm_id = 4, .tag = 0, .seq = (uint64_t)it};
        int from = it % 2, to = 1 - from; /* the roles alternate */
        if (rank == from) {
            CHECK_OK(tacl__engine_isend(e, to, &kb, NULL, out, big, &r[0]));
            for (int s = 0; s < 3; s++) {
                tacl__msg_key_t ks = {.comm_id = 4, .tag = 1 + (uint64_t)s, .seq = (uint64_t)it};
                memset(small[s], s + it, sizeof small[s]);
                CHECK_OK(tacl__engine_isend(e, to, &ks, NULL, small[s], 100, &r[1 + s]));
            }
        } else {
            CHECK_OK(tacl__engine_irecv(e, from, &kb, NULL, in, big, &r[0]));
            for (int s = 0; s < 3; s++) {
                tacl__msg_key_t ks = {.comm_id = 4, .tag = 1 + (uint64_t)s, .seq = (uint64_t)it};
                CHECK_OK(tacl__engine_irecv(e, from, &ks, NULL, small[s], 100, &r[1 + s]));
            }
        }
        CHECK_OK(tacl__engine_wait(e, r, 4, dl(20), NULL, 0, &eb));
        if (rank == to) {
            for (size_t k = 0; k < big; k += 4096)
                CHECK(in[k] == (uint8_t)(it + from));
            for (int s = 0; s < 3; s++)
                CHECK(small[s][99] == (uint8_t)(s + it));
        }
    }
    free(out);
    free(in);
}

/* ---- self: a rank sends to itself (collectives do), posted before and after. ---- */
static void self_rank(world_t *w, int rank, tacl__engine_t *e)
{
    (void)w;
    tacl__errbuf_t eb;
    char a[6] = "hello", b[6] = {0}, c[6] = {0};
    tacl__msg_key_t k1 = {.tag = 1}, k2 = {.tag = 2};
    tacl__req_t *r[4];
    CHECK_OK(tacl__engine_irecv(e, rank, &k1, NULL, b, 6, &r[0]));
    CHECK_OK(tacl__engine_isend(e, rank, &k1, NULL, a, 6, &r[1]));
    CHECK_OK(tacl__engine_isend(e, rank, &k2, NULL, a, 6, &r[2]));
    CHECK_OK(tacl__engine_wait(e, r, 3, dl(5), NULL, 0, &eb));
    CHECK_OK(tacl__engine_irecv(e, rank, &k2, NULL, c, 6, &r[3]));
    CHECK_OK(tacl__engine_wait(e, &r[3], 1, dl(5), NULL, 0, &eb));
    CHECK(strcmp(b, "hello") == 0 && strcmp(c, "hello") == 0);
    CHECK(tacl__engine_peer_alive(e, 1 - rank));
}

/* ---- cancel: waits that give up in the middle of 64 MiB transfers (a send, then a receive)
 * leave the streams consistent: the next messages arrive intact. ---- */
static void cancel_rank(world_t *w, int rank, tacl__engine_t *e)
{
    (void)w;
    size_t big = 64u << 20;
    uint8_t *buf = malloc(big), small[64];
    tacl__errbuf_t eb;
    tacl__req_t *r;
    tacl__msg_key_t ka = {.comm_id = 8, .tag = 1}, kb = {.comm_id = 8, .tag = 2},
                    kc = {.comm_id = 8, .tag = 3}, kd = {.comm_id = 8, .tag = 4};
    memset(buf, 0x5a, big);
    if (rank == 0) {
        /* A: the send is abandoned after 1 ms (it may also have finished: both are fine). */
        CHECK_OK(tacl__engine_isend(e, 1, &ka, NULL, buf, big, &r));
        tacl_status_t st = tacl__engine_wait(e, &r, 1, dl(0.001), NULL, 0, &eb);
        CHECK(st == TACL_OK || st == TACL_ERR_TIMEOUT);
        if (st == TACL_ERR_TIMEOUT) CHECK_CONTAINS(eb.msg, "sending to rank 1 (host h");
        for (int i = 0; i < 64; i++)
            small[i] = (uint8_t)i;
        CHECK_OK(tacl__engine_isend(e, 1, &kb, NULL, small, 64, &r));
        CHECK_OK(tacl__engine_wait(e, &r, 1, dl(20), NULL, 0, &eb));
        /* C: sent whole; the receiver gives up on it. Then D. */
        CHECK_OK(tacl__engine_isend(e, 1, &kc, NULL, buf, big, &r));
        CHECK_OK(tacl__engine_wait(e, &r, 1, dl(20), NULL, 0, &eb));
        CHECK_OK(tacl__engine_isend(e, 1, &kd, NULL, small, 64, &r));
        CHECK_OK(tacl__engine_wait(e, &r, 1, dl(20), NULL, 0, &eb));
    } else {
        uint8_t *in = malloc(big);
        CHECK_OK(tacl__engine_irecv(e, 0, &ka, NULL, in, big, &r));
        tacl_status_t st = tacl__engine_wait(e, &r, 1, dl(1.0), NULL, 0, &eb);
        CHECK(st == TACL_OK || st == TACL_ERR_TIMEOUT);
        if (st == TACL_OK) CHECK(in[0] == 0x5a && in[big - 1] == 0x5a);
        memset(small, 0, sizeof small);
        CHECK_OK(tacl__engine_irecv(e, 0, &kb, NULL, small, 64, &r));
        CHECK_OK(tacl__engine_wait(e, &r, 1, dl(20), NULL, 0, &eb));
        for (int i = 0; i < 64; i++)
            CHECK(small[i] == (uint8_t)i);
        CHECK_OK(tacl__engine_irecv(e, 0, &kc, NULL, in, big, &r));
        st = tacl__engine_wait(e, &r, 1, dl(0.001), NULL, 0, &eb);
        CHECK(st == TACL_OK || st == TACL_ERR_TIMEOUT);
        if (st == TACL_ERR_TIMEOUT) CHECK_CONTAINS(eb.msg, "waiting for rank 0 (host h");
        memset(small, 0, sizeof small);
        CHECK_OK(tacl__engine_irecv(e, 0, &kd, NULL, small, 64, &r));
        CHECK_OK(tacl__engine_wait(e, &r, 1, dl(20), NULL, 0, &eb));
        for (int i = 0; i < 64; i++)
            CHECK(small[i] == (uint8_t)i);
        free(in);
    }
    free(buf);
}

/* ---- eager: both ranks send 4 MiB and wait for their send before posting the receive; sends
 * must complete without the matching receive (buffered at the receiver), on every path. ---- */
static void eager_rank(world_t *w, int rank, tacl__engine_t *e)
{
    (void)w;
    size_t n = 4u << 20;
    uint8_t *out = malloc(n), *in = malloc(n);
    for (size_t k = 0; k < n; k++)
        out[k] = pattern(k, rank + 40);
    tacl__msg_key_t key = {.comm_id = 12, .tag = 1};
    tacl__req_t *r;
    tacl__errbuf_t eb;
    CHECK_OK(tacl__engine_isend(e, 1 - rank, &key, NULL, out, n, &r));
    CHECK_OK(tacl__engine_wait(e, &r, 1, dl(10), NULL, 0, &eb));
    memset(out, 0, n); /* the send is complete: the buffer is ours again */
    CHECK_OK(tacl__engine_irecv(e, 1 - rank, &key, NULL, in, n, &r));
    CHECK_OK(tacl__engine_wait(e, &r, 1, dl(10), NULL, 0, &eb));
    for (size_t k = 0; k < n; k++)
        CHECK(in[k] == pattern(k, 1 - rank + 40));
    free(out);
    free(in);
}

/* ---- ifname: TACL_SOCKET_IFNAME selection (NCCL syntax) and a selection of nothing. ---- */
static void ifname_scenario(void)
{
    CHECK(tacl__tcp_ifname_match("eth", "eth0"));
    CHECK(tacl__tcp_ifname_match("ib,eth", "eth1"));
    CHECK(!tacl__tcp_ifname_match("ib,eth", "lo"));
    CHECK(!tacl__tcp_ifname_match("^eth", "eth0"));
    CHECK(tacl__tcp_ifname_match("^eth", "ib0"));
    CHECK(tacl__tcp_ifname_match("=eth0", "eth0"));
    CHECK(!tacl__tcp_ifname_match("=eth0", "eth01"));
    CHECK(!tacl__tcp_ifname_match("^=eth0", "eth0"));
    CHECK(tacl__tcp_ifname_match("^=eth0", "eth01"));
    tacl__tcp_addr_t a[8];
    int n = 0;
    tacl__errbuf_t eb;
    CHECK_OK(tacl__tcp_local_addrs("=lo", 1234, a, 8, &n, &eb));
    int v4 = 0;
    for (int i = 0; i < n; i++) {
        char txt[80];
        tacl__tcp_addr_format(&a[i], txt, sizeof txt);
        CHECK(strcmp(a[i].ifname, "lo") == 0);
        if (!strcmp(txt, "127.0.0.1:1234")) v4 = 1;
    }
    CHECK(v4);
    /* Default: loopback only when nothing else is up. */
    CHECK_OK(tacl__tcp_local_addrs("", 1, a, 8, &n, &eb));
    CHECK(n >= 1);
    CHECK_ST(tacl__tcp_local_addrs("=no-such-if0", 1, a, 8, &n, &eb), TACL_ERR_CONFIG);
    CHECK_CONTAINS(eb.msg, "TACL_SOCKET_IFNAME=\"=no-such-if0\" selects none");
    /* The engine reports it at create. */
    setenv("TACL_SOCKET_IFNAME", "=no-such-if0", 1);
    xchg_threads_t *x = xchg_threads_create(1);
    tacl__xchg_t xm;
    xchg_threads_member(x, 0, &xm);
    const char *hosts[1] = {"h0"};
    tacl__engine_config_t cfg = {
        .rank = 0, .size = 1, .xchg = &xm, .host_ids = hosts, .probe_timeout_s = 1, .timeout_s = 5};
    tacl__engine_t *e = NULL;
    CHECK_ST(tacl__engine_create(&cfg, &e, &eb), TACL_ERR_CONFIG);
    CHECK(e == NULL);
    CHECK_CONTAINS(eb.msg, "no usable network interface");
    unsetenv("TACL_SOCKET_IFNAME");
    /* A world of one works: nothing to connect. */
    CHECK_OK(tacl__engine_create(&cfg, &e, &eb));
    CHECK(tacl__engine_reach(e)[0] == 0);
    tacl__engine_destroy(e);
    xchg_threads_destroy(x);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "sizes";
    world_t w = {0};
    if (!strcmp(what, "sizes")) {
        setenv("TACL_SOCKET_NCONNS", "1", 1);
        run_world(2, 0, NULL, sizes_rank, &w);
    } else if (!strcmp(what, "sizes_nconns")) {
        setenv("TACL_SOCKET_NCONNS", "3", 1);
        setenv("TACL_FRAG_BYTES", "262144", 1);
        run_world(2, 0, NULL, sizes_rank, &w);
    } else if (!strcmp(what, "sizes_shm")) {
        setenv("TACL_SHM_RING_BYTES", "65536", 1); /* small ring: wrap-around and back-pressure */
        w.flag = 1;
        run_world(2, 1, NULL, sizes_rank, &w);
    } else if (!strcmp(what, "sizes_cma")) {
        setenv("TACL_SHM_CMA_BYTES", "4096", 1); /* 4095 B on the ring, larger ones copied once */
        w.flag = 1;
        run_world(2, 1, NULL, sizes_rank, &w);
    } else if (!strcmp(what, "sizes_shm_disabled")) {
        setenv("TACL_SHM_DISABLE", "1", 1);
        run_world(2, 1, NULL, sizes_rank, &w);
    } else if (!strcmp(what, "order")) {
        run_world(3, 0, NULL, order_rank, &w);
    } else if (!strcmp(what, "order_shm")) {
        run_world(3, 1, NULL, order_rank, &w);
    } else if (!strcmp(what, "mismatch")) {
        run_world(2, 0, NULL, mismatch_rank, &w);
    } else if (!strcmp(what, "timeout")) {
        run_world(3, 0, NULL, timeout_rank, &w);
    } else if (!strcmp(what, "route")) {
        static const uint8_t allowed[9] = {1, 1, 0, 1, 1, 1, 0, 1, 1};
        run_world(3, 0, allowed, route_rank, &w);
    } else if (!strcmp(what, "credit_line")) {
        static const uint8_t allowed[16] = {1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1};
        char v[32];
        snprintf(v, sizeof v, "%d", CREDIT_WINDOW);
        setenv("TACL_RELAY_WINDOW", v, 1);
        snprintf(v, sizeof v, "%d", CREDIT_FRAG);
        setenv("TACL_FRAG_BYTES", v, 1);
        run_world(4, 0, allowed, credit_line_rank, &w);
    } else if (!strcmp(what, "pingpong")) {
        setenv("TACL_SOCKET_NCONNS", "1", 1);
        run_world(2, 0, NULL, pingpong_rank, &w);
    } else if (!strcmp(what, "cancel")) {
        run_world(2, 0, NULL, cancel_rank, &w);
    } else if (!strcmp(what, "cancel_shm")) {
        run_world(2, 1, NULL, cancel_rank, &w);
    } else if (!strcmp(what, "eager")) {
        run_world(2, 0, NULL, eager_rank, &w);
    } else if (!strcmp(what, "eager_shm")) {
        run_world(2, 1, NULL, eager_rank, &w);
    } else if (!strcmp(what, "eager_cma")) {
        setenv("TACL_SHM_CMA_BYTES", "65536", 1);
        run_world(2, 1, NULL, eager_rank, &w);
    } else if (!strcmp(what, "cancel_cma")) {
        setenv("TACL_SHM_CMA_BYTES", "65536", 1);
        run_world(2, 1, NULL, cancel_rank, &w);
    } else if (!strcmp(what, "ifname")) {
        ifname_scenario();
    } else if (!strcmp(what, "self")) {
        run_world(2, 1, NULL, self_rank, &w);
    } else {
        fprintf(stderr, "unknown scenario %s\n", what);
        return 2;
    }
    return 0;
}
