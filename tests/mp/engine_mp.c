/* engine_mp.c — the point-to-point engine with ranks as forked processes (exchange through
 * the parent, tests/common/xchg_fork.h). Scenarios by argv[1]:
 *   sizes_shm  two processes of one host move 0 B .. 64 MiB through the shm rings
 *   sizes_cma  the same with single-copy transfers (TACL_SHM_CMA_BYTES=4096)
 *   cma_fallback  as sizes_cma, but rank 1 may not read rank 0's memory (rank 0 not dumpable,
 *              rank 1 without CAP_SYS_PTRACE): 0->1 falls back from single copy to the ring
 *   bad_ifname rank 1's TACL_SOCKET_IFNAME selects nothing: both ranks' creates fail at once,
 *              rank 0's naming rank 1
 *   kill       a rank is SIGKILLed after create: every other rank's wait fails with
 *              TACL_ERR_PEER_LOST naming it within a few seconds (tcp links)
 *   kill_shm   the same between ranks of one host (shm links, tcp as control channel)
 *   kill_chain chain 0-1-2 (0-2 forbidden), rank 2 SIGKILLed: rank 0, not its neighbour, learns
 *              it from rank 1's flood and fails with PEER_LOST naming rank 2 and the reporter
 *   kill_relay chain 0-1-2, the relay 1 is SIGKILLed: 0 and 2, both alive, fail with
 *              TACL_ERR_UNREACHABLE naming the lost relay
 *   dial_stalled  rank 2 stopped before rank 0 ever talked to it: rank 0's dial (connections
 *              are made on first use) fails after the probe timeout, naming the connect, and
 *              does not hold up rank 0's first message to rank 3
 *   dial_late  as dial_stalled, then rank 2 resumes and dials rank 0, which has cut the link:
 *              the late connection is kept open, rank 2 reads no death of rank 0; and rank 2's
 *              own dial to rank 3, in flight while it was stopped, still succeeds
 *   hostile    five hosts; rank 0 opens silent and garbage connections to the others'
 *              listeners while every pair makes its first exchange: all of it arrives
 *   crossing   six hosts, every rank's first messages to every other at the same moment (pairs
 *              dial each other at once; 4 connections per pair), three engine lifetimes
 *   cut        a rank is SIGSTOPped after a first message: its peer's wait fails with
 *              TACL_ERR_UNREACHABLE (alive but silent) after about 3.5 heartbeats, not at the
 *              deadline
 *   stall_idle three ranks of three hosts, rank 2 SIGSTOPped while nobody sends anything: the
 *              others, without a request in flight, still come to see it stalled within seconds
 *              (rank 1 watches its successor; rank 0 learns from rank 1 and probes its own link)
 *   lazy_shm   four ranks of one host, only 0 and 1 talk (both ways, one large message through
 *              the ring): exactly the pair 0-1 maps a ring segment, ranks 2 and 3 map none, and
 *              the doctor's text still names the ring for every pair */
#include "check.h"
#include "clock.h"
#include "transport/engine.h"
#include "xchg_fork.h"

#include <errno.h>
#include <linux/capability.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int same_host, cma_block;
static const uint8_t *allowed;

/* Every rank's process id, by rank. */
static void mp_pids(const tacl__xchg_t *x, int *pids)
{
    int pid = (int)getpid();
    tacl__errbuf_t eb;
    CHECK_OK(tacl__xchg_allgather(x, &pid, sizeof pid, pids, &eb));
}

static tacl__engine_t *mp_create(int rank, int size, const tacl__xchg_t *x)
{
    static const char *split[] = {"h0", "h1", "h2", "h3", "h4", "h5"};
    static const char *same[] = {"h", "h", "h", "h", "h", "h"};
    tacl__engine_config_t cfg = {.rank = rank,
                                 .size = size,
                                 .xchg = x,
                                 .host_ids = same_host ? same : split,
                                 .probe_timeout_s = 2.0,
                                 .timeout_s = 20.0,
                                 .allowed = allowed};
    tacl__engine_t *e = NULL;
    tacl__errbuf_t eb;
    CHECK_OK(tacl__engine_create(&cfg, &e, &eb));
    return e;
}

static void mp_barrier(const tacl__xchg_t *x)
{
    uint8_t one = 1, all[8];
    tacl__errbuf_t eb;
    CHECK_OK(tacl__xchg_allgather(x, &one, 1, all, &eb));
}

/* The common start of a scenario: every rank's pid into pids, the engine, and a barrier after
 * every rank has one. */
static tacl__engine_t *mp_start(int rank, int size, const tacl__xchg_t *x, int *pids)
{
    mp_pids(x, pids);
    tacl__engine_t *e = mp_create(rank, size, x);
    mp_barrier(x);
    return e;
}

static uint8_t pattern(size_t i, int seed)
{
    return (uint8_t)((i * 2654435761u) >> 13) ^ (uint8_t)seed;
}

/* Makes process_vm_readv from rank 1 into rank 0 fail, as Yama or a container would; 77 when
 * this machine does not let the test arrange it. */
static int cma_block_setup(int rank, const tacl__xchg_t *x)
{
    int pids[2];
    tacl__errbuf_t eb;
    mp_pids(x, pids);
    if (rank == 0) CHECK(prctl(PR_SET_DUMPABLE, 0) == 0);
    if (rank == 1) {
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        CHECK(syscall(SYS_capget, &h, d) == 0);
        d[0].effective &= ~(1u << CAP_SYS_PTRACE);
        CHECK(syscall(SYS_capset, &h, d) == 0);
    }
    int blocked = 1, all[2];
    CHECK_OK(tacl__xchg_allgather(x, &blocked, sizeof blocked, all, &eb)); /* both are set up */
    if (rank == 1) {
        char probe = 0;
        /* Any address mapped in both (forked from one parent). */
        struct iovec lo = {&probe, 1}, re = {&pids[0], 1};
        blocked = process_vm_readv(pids[0], &lo, 1, &re, 1, 0) < 0 && errno == EPERM;
    }
    CHECK_OK(tacl__xchg_allgather(x, &blocked, sizeof blocked, all, &eb));
    return all[1] ? 0 : 77;
}

static int sizes_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    if (cma_block && cma_block_setup(rank, x) != 0) return 77;
    tacl__engine_t *e = mp_create(rank, size, x);
    int peer = 1 - rank;
    CHECK_CONTAINS(tacl__engine_link_info(e, peer), "shm ring");
    static const size_t lens[] = {0, 1, 4095, (1u << 20) + 3, 64u << 20};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = lens[i];
        uint8_t *out = malloc(n + 1), *in = malloc(n + 1);
        CHECK(out && in);
        for (size_t k = 0; k < n; k++)
            out[k] = pattern(k, rank + (int)i);
        tacl__msg_key_t key = {.comm_id = 3, .tag = i};
        tacl__req_t *r[2];
        tacl__errbuf_t eb;
        CHECK_OK(tacl__engine_irecv(e, peer, &key, NULL, in, n, &r[0]));
        CHECK_OK(tacl__engine_isend(e, peer, &key, NULL, out, n, &r[1]));
        CHECK_OK(tacl__engine_wait(e, r, 2, tacl__deadline_ns(30), NULL, 0, &eb));
        for (size_t k = 0; k < n; k++)
            CHECK(in[k] == pattern(k, peer + (int)i));
        free(out);
        free(in);
    }
    mp_barrier(x);
    tacl__engine_destroy(e);
    return 0;
}

static int bad_ifname_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    if (rank == 1) setenv("TACL_SOCKET_IFNAME", "=no-such-if0", 1);
    static const char *hosts[] = {"h0", "h1"};
    tacl__engine_config_t cfg = {.rank = rank,
                                 .size = size,
                                 .xchg = x,
                                 .host_ids = hosts,
                                 .probe_timeout_s = 2.0,
                                 .timeout_s = 20.0};
    tacl__engine_t *e = NULL;
    tacl__errbuf_t eb;
    uint64_t t0 = tacl__now_ns();
    CHECK_ST(tacl__engine_create(&cfg, &e, &eb), TACL_ERR_CONFIG);
    CHECK((double)(tacl__now_ns() - t0) * 1e-9 < 2.0);
    CHECK_CONTAINS(eb.msg, rank == 0 ? "rank 1 (host h1) could not set up its tcp listener"
                                     : "TACL_SOCKET_IFNAME=\"=no-such-if0\" selects none");
    return 0;
}

static int kill_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    tacl__engine_t *e = mp_create(rank, size, x);
    if (rank == 2) raise(SIGKILL);
    /* Rank 0 waits for rank 1 (who never sends): the death of rank 2, a member of the group,
     * fails it. Rank 1 waits for rank 2 itself. */
    int src = rank == 0 ? 1 : 2;
    uint8_t in[16];
    tacl__msg_key_t key = {.comm_id = 1, .tag = 1};
    tacl__req_t *r;
    tacl__errbuf_t eb;
    int group[2] = {rank, 2};
    uint64_t t0 = tacl__now_ns();
    CHECK_OK(tacl__engine_irecv(e, src, &key, NULL, in, sizeof in, &r));
    CHECK_ST(tacl__engine_wait(e, &r, 1, tacl__deadline_ns(20), group, 2, &eb), TACL_ERR_PEER_LOST);
    double took = (double)(tacl__now_ns() - t0) * 1e-9;
    fprintf(stderr, "rank %d: failed after %.2f s: %s\n", rank, took, eb.msg);
    CHECK(took < 5.0);
    CHECK_CONTAINS(eb.msg, same_host ? "rank 2 (host h) lost" : "rank 2 (host h2) lost");
    CHECK(!tacl__engine_peer_alive(e, 2));
    CHECK(tacl__engine_peer_alive(e, 1 - rank));
    /* The survivors still talk to each other (and neither leaves before the other is done). */
    tacl__msg_key_t k2 = {.comm_id = 1, .tag = 2};
    uint8_t out[4] = {1, 2, 3, (uint8_t)rank}, got[4];
    tacl__req_t *rr[2];
    int pair[2] = {0, 1};
    CHECK_OK(tacl__engine_irecv(e, 1 - rank, &k2, NULL, got, 4, &rr[0]));
    CHECK_OK(tacl__engine_isend(e, 1 - rank, &k2, NULL, out, 4, &rr[1]));
    CHECK_OK(tacl__engine_wait(e, rr, 2, tacl__deadline_ns(10), pair, 2, &eb));
    CHECK(got[3] == 1 - rank);
    tacl__engine_destroy(e);
    return 0;
}

static int kill_chain_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    tacl__engine_t *e = mp_create(rank, size, x);
    CHECK(!tacl__engine_reach(e)[0 * 3 + 2]);
    if (rank == 2) raise(SIGKILL);
    if (rank == 1) {
        /* Stays up (its link to rank 0 carries the news) until rank 0 is done. */
        tacl__msg_key_t k = {.comm_id = 2, .tag = 9};
        uint8_t b;
        tacl__req_t *r;
        tacl__errbuf_t eb;
        int group[1] = {0};
        CHECK_OK(tacl__engine_irecv(e, 0, &k, NULL, &b, 1, &r));
        CHECK_OK(tacl__engine_wait(e, &r, 1, tacl__deadline_ns(20), group, 1, &eb));
        tacl__engine_destroy(e);
        return 0;
    }
    int hops[3] = {-1, 1, 1};
    CHECK_OK(tacl__engine_set_routes(e, hops));
    uint8_t in[16];
    tacl__msg_key_t key = {.comm_id = 1, .tag = 1};
    tacl__req_t *r;
    tacl__errbuf_t eb;
    uint64_t t0 = tacl__now_ns();
    CHECK_OK(tacl__engine_irecv(e, 2, &key, NULL, in, sizeof in, &r));
    CHECK_ST(tacl__engine_wait(e, &r, 1, tacl__deadline_ns(20), NULL, 0, &eb), TACL_ERR_PEER_LOST);
    double took = (double)(tacl__now_ns() - t0) * 1e-9;
    fprintf(stderr, "rank 0: failed after %.2f s: %s\n", took, eb.msg);
    CHECK(took < 5.0);
    CHECK_CONTAINS(eb.msg, "rank 2 (host h2) lost");
    CHECK_CONTAINS(eb.msg, "seen by rank 1");
    tacl__msg_key_t k = {.comm_id = 2, .tag = 9};
    uint8_t b = 1;
    CHECK_OK(tacl__engine_isend(e, 1, &k, NULL, &b, 1, &r));
    CHECK_OK(tacl__engine_wait(e, &r, 1, tacl__deadline_ns(10), NULL, 0, &eb));
    tacl__engine_destroy(e);
    return 0;
}

static int kill_relay_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    tacl__engine_t *e = mp_create(rank, size, x);
    if (rank == 1) raise(SIGKILL);
    int hops[3] = {1, 1, 1};
    hops[rank] = -1;
    CHECK_OK(tacl__engine_set_routes(e, hops));
    uint8_t in[16];
    tacl__msg_key_t key = {.comm_id = 1, .tag = 1};
    tacl__req_t *r;
    tacl__errbuf_t eb;
    CHECK_OK(tacl__engine_irecv(e, 2 - rank, &key, NULL, in, sizeof in, &r));
    CHECK_ST(tacl__engine_wait(e, &r, 1, tacl__deadline_ns(20), NULL, 0, &eb),
             TACL_ERR_UNREACHABLE);
    fprintf(stderr, "rank %d: %s\n", rank, eb.msg);
    char want[128];
    snprintf(want, sizeof want,
             "rank %d (host h%d) is unreachable from rank %d but not known to be lost", 2 - rank,
             2 - rank, rank);
    CHECK_CONTAINS(eb.msg, want);
    CHECK_CONTAINS(eb.msg, "rank 1 (host h1) lost");
    CHECK(!tacl__engine_peer_alive(e, 2 - rank));
    tacl__engine_destroy(e);
    return 0;
}

static int cut_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    int pids[2];
    tacl__errbuf_t eb;
    mp_pids(x, pids);
    tacl__engine_t *e = mp_create(rank, size, x);
    /* A message first, so the pair's connection exists: its silence is what is judged. */
    uint8_t b = 1;
    tacl__msg_key_t k0 = {.comm_id = 1, .tag = 0};
    tacl__req_t *r;
    if (rank == 1)
        CHECK_OK(tacl__engine_isend(e, 0, &k0, NULL, &b, 1, &r));
    else
        CHECK_OK(tacl__engine_irecv(e, 1, &k0, NULL, &b, 1, &r));
    CHECK_OK(tacl__engine_wait(e, &r, 1, tacl__deadline_ns(10), NULL, 0, &eb));
    if (rank == 1) {
        raise(SIGSTOP); /* rank 0 kills us once it has seen the cut */
        return 1;
    }
    uint8_t in[16];
    tacl__msg_key_t key = {.comm_id = 1, .tag = 1};
    uint64_t t0 = tacl__now_ns();
    CHECK_OK(tacl__engine_irecv(e, 1, &key, NULL, in, sizeof in, &r));
    tacl_status_t st = tacl__engine_wait(e, &r, 1, tacl__deadline_ns(15), NULL, 0, &eb);
    double took = (double)(tacl__now_ns() - t0) * 1e-9;
    kill(pids[1], SIGKILL);
    fprintf(stderr, "rank 0: failed after %.2f s: %s\n", took, eb.msg);
    CHECK(st == TACL_ERR_UNREACHABLE);
    CHECK_CONTAINS(eb.msg, "rank 1 (host h1) is unreachable from rank 0 but not known to be lost");
    CHECK_CONTAINS(eb.msg, "no traffic from rank 1");
    CHECK(took > 0.5 && took < 5.0);
    tacl__engine_destroy(e);
    return 0;
}

/* Five hosts, rank 2 stopped by rank 0 before anyone talked to it from rank 0 (0-2 is no link
 * of the notice tree 0-1-2-3-4, and no rank's watch: 0 watches 1, 4 watches 0, so it has no
 * connection yet): rank 0's first receive from it needs one, the dial gets no handshake from
 * the stopped process, and rank 0's wait in an operation of ranks 0 and 2 fails naming the
 * connect that timed out, after the probe timeout (2 s), not at its deadline; meanwhile rank
 * 0's first message to rank 3 (unconnected too) arrives at once. */
static int dial_stalled_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    int pids[5];
    tacl__errbuf_t eb;
    tacl__engine_t *e = mp_start(rank, size, x, pids);
    if (rank == 2) {
        pause(); /* stopped, then killed by rank 0 */
        return 1;
    }
    tacl__msg_key_t done = {.comm_id = 2, .tag = 9}, ping = {.comm_id = 3, .tag = 1};
    uint8_t b = 0;
    tacl__req_t *r;
    if (rank != 0) {
        /* Rank 3 takes rank 0's message, sent while rank 0's dial to rank 2 hangs; both stay
         * up until rank 0 is done. */
        if (rank == 3) {
            /* Posted late, so that rank 3's own need of the link does not make it first. */
            usleep(1500000);
            CHECK_OK(tacl__engine_irecv(e, 0, &ping, NULL, &b, 1, &r));
            CHECK_OK(tacl__engine_wait(e, &r, 1, tacl__deadline_ns(20), NULL, 0, &eb));
        }
        CHECK_OK(tacl__engine_irecv(e, 0, &done, NULL, &b, 1, &r));
        CHECK_OK(tacl__engine_wait(e, &r, 1, tacl__deadline_ns(20), NULL, 0, &eb));
        tacl__engine_destroy(e);
        return 0;
    }
    CHECK(kill(pids[2], SIGSTOP) == 0);
    uint8_t in[16];
    tacl__msg_key_t key = {.comm_id = 1, .tag = 1};
    uint64_t t0 = tacl__now_ns();
    CHECK_OK(tacl__engine_irecv(e, 2, &key, NULL, in, sizeof in, &r));
    /* Meanwhile rank 0's first message to rank 3 (no connection yet either) goes at once: a
     * dial waiting out a stopped peer does not hold up the others. */
    usleep(300000); /* the dial to rank 2 has started (within a tick of the receive) */
    uint64_t t1 = tacl__now_ns();
    tacl__req_t *rp;
    CHECK_OK(tacl__engine_isend(e, 3, &ping, NULL, &b, 1, &rp));
    CHECK_OK(tacl__engine_wait(e, &rp, 1, tacl__deadline_ns(10), NULL, 0, &eb));
    double ping_s = (double)(tacl__now_ns() - t1) * 1e-9;
    fprintf(stderr, "rank 0: first message to rank 3 took %.3f s\n", ping_s);
    CHECK(ping_s < 1.0);
    /* An operation of ranks 0 and 2: the cut of their link fails it (a path through rank 1,
     * whose own link to rank 2 may have been made before the stop, does not help it). */
    int group[2] = {0, 2};
    tacl_status_t st = tacl__engine_wait(e, &r, 1, tacl__deadline_ns(15), group, 2, &eb);
    double took = (double)(tacl__now_ns() - t0) * 1e-9;
    kill(pids[2], SIGKILL);
    fprintf(stderr, "rank 0: failed after %.2f s: %s\n", took, eb.msg);
    CHECK(st == TACL_ERR_UNREACHABLE);
    CHECK_CONTAINS(eb.msg, "a link between members of this operation went down while it ran: "
                           "link 0 (host h0) - 2 (host h2) cut: cannot connect to rank 2: "
                           "connect to ");
    CHECK_CONTAINS(eb.msg, "timed out after 2.0 s");
    CHECK(took > 1.5 && took < 5.0);
    tacl__req_t *rd[3];
    CHECK_OK(tacl__engine_isend(e, 1, &done, NULL, &b, 1, &rd[0]));
    CHECK_OK(tacl__engine_isend(e, 3, &done, NULL, &b, 1, &rd[1]));
    CHECK_OK(tacl__engine_isend(e, 4, &done, NULL, &b, 1, &rd[2]));
    CHECK_OK(tacl__engine_wait(e, rd, 3, tacl__deadline_ns(10), NULL, 0, &eb));
    tacl__engine_destroy(e);
    return 0;
}

/* Five hosts as in dial_stalled: rank 0's dial to the stopped rank 2 times out and cuts the
 * link 0-2; rank 2 is then resumed and sends to rank 0, whose acceptor hands the late
 * connection over to a link this rank has cut: it is kept open (unused), so rank 2 reads no
 * death of rank 0: its receive from rank 0 times out rather than failing with PEER_LOST. */
static int dial_late_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    int pids[5];
    tacl__errbuf_t eb;
    tacl__engine_t *e = mp_start(rank, size, x, pids);
    tacl__msg_key_t key = {.comm_id = 1, .tag = 1};
    uint8_t b = 7, in[4];
    tacl__req_t *r;
    if (rank == 0) {
        CHECK(kill(pids[2], SIGSTOP) == 0);
        int group[2] = {0, 2};
        CHECK_OK(tacl__engine_irecv(e, 2, &key, NULL, in, 1, &r));
        CHECK_ST(tacl__engine_wait(e, &r, 1, tacl__deadline_ns(15), group, 2, &eb),
                 TACL_ERR_UNREACHABLE);
        CHECK_CONTAINS(eb.msg, "cannot connect to rank 2");
        CHECK(kill(pids[2], SIGCONT) == 0);
    }
    mp_barrier(x); /* rank 2 arrives once resumed */
    if (rank == 2) {
        tacl__msg_key_t k2 = {.comm_id = 1, .tag = 2};
        CHECK_OK(tacl__engine_isend(e, 0, &k2, NULL, &b, 1, &r));
        CHECK_OK(tacl__engine_wait(e, &r, 1, tacl__deadline_ns(10), NULL, 0, &eb));
        CHECK_OK(tacl__engine_irecv(e, 0, &key, NULL, in, 1, &r));
        tacl_status_t st = tacl__engine_wait(e, &r, 1, tacl__deadline_ns(1.5), NULL, 0, &eb);
        fprintf(stderr, "rank 2: receive from rank 0 after the late connection: %s\n", eb.msg);
        CHECK(st == TACL_ERR_TIMEOUT);
    }
    /* Rank 2's own dials that were in flight when it was stopped do not count the stop against
     * the peer: its link to rank 3 (the notice tree's) works once it runs again. */
    tacl__msg_key_t k3 = {.comm_id = 1, .tag = 3};
    if (rank == 2 || rank == 3) {
        if (rank == 2)
            CHECK_OK(tacl__engine_isend(e, 3, &k3, NULL, &b, 1, &r));
        else
            CHECK_OK(tacl__engine_irecv(e, 2, &k3, NULL, in, 1, &r));
        CHECK_OK(tacl__engine_wait(e, &r, 1, tacl__deadline_ns(10), NULL, 0, &eb));
        CHECK(rank == 2 || in[0] == 7);
    }
    mp_barrier(x);
    tacl__engine_destroy(e);
    return 0;
}

/* A socket connected to the listener a link text names ("tcp 10.0.0.2:4242 (eth0), ..." or
 * "tcp [fd00::2]:4242 (...)"), or -1. */
static int hostile_connect(const char *info)
{
    char host[80] = "", port[16] = "";
    const char *a = strstr(info, "tcp ");
    if (!a) return -1;
    a += 4;
    const char *colon = *a == '[' ? strstr(a, "]:") : strchr(a, ':');
    if (!colon) return -1;
    size_t hl = (size_t)(colon - a) - (*a == '[' ? 1 : 0);
    if (hl >= sizeof host) return -1;
    memcpy(host, a + (*a == '['), hl);
    host[hl] = '\0';
    const char *pp = colon + (*a == '[' ? 2 : 1);
    size_t pl = strspn(pp, "0123456789");
    if (!pl || pl >= sizeof port) return -1;
    memcpy(port, pp, pl);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0) return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* Five hosts; after create rank 0 turns on the others' listeners (which stay open for
 * connections on demand; the link text of a pair names the higher rank's address, where the
 * lower one connects): per rank, 20 connections that never say a word and 5 that take the
 * challenge and answer with 300 bytes of garbage. Meanwhile every rank sends its first message
 * to every other (most pairs dial now): every byte arrives, every wait succeeds. */
static int hostile_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    tacl__engine_t *e = mp_create(rank, size, x);
    int junk[4 * 25], nj = 0;
    if (rank == 0) {
        uint8_t garbage[300];
        for (size_t k = 0; k < sizeof garbage; k++)
            garbage[k] = (uint8_t)(k * 131 + 7);
        for (int p = 1; p < size; p++)
            for (int k = 0; k < 25; k++) {
                int fd = hostile_connect(tacl__engine_link_info(e, p));
                CHECK(fd >= 0);
                junk[nj++] = fd;
                if (k < 20) continue;
                uint8_t chal[40];
                CHECK(recv(fd, chal, sizeof chal, MSG_WAITALL) == (ssize_t)sizeof chal);
                CHECK(send(fd, garbage, sizeof garbage, MSG_NOSIGNAL) > 0);
            }
    }
    mp_barrier(x);
    enum { LEN = 65536 };
    uint8_t *out = malloc((size_t)size * LEN), *in = malloc((size_t)size * LEN);
    CHECK(out && in);
    for (int p = 0; p < size; p++)
        for (size_t k = 0; k < LEN; k++)
            out[(size_t)p * LEN + k] = pattern(k, rank * 16 + p);
    tacl__req_t *r[10];
    int nr = 0;
    tacl__errbuf_t eb;
    tacl__msg_key_t key = {.comm_id = 6, .tag = 1};
    for (int p = 0; p < size; p++) {
        if (p == rank) continue;
        CHECK_OK(tacl__engine_isend(e, p, &key, NULL, out + (size_t)p * LEN, LEN, &r[nr++]));
        CHECK_OK(tacl__engine_irecv(e, p, &key, NULL, in + (size_t)p * LEN, LEN, &r[nr++]));
    }
    CHECK_OK(tacl__engine_wait(e, r, nr, tacl__deadline_ns(10), NULL, 0, &eb));
    for (int p = 0; p < size; p++)
        for (size_t k = 0; p != rank && k < LEN; k++)
            CHECK(in[(size_t)p * LEN + k] == pattern(k, p * 16 + rank));
    free(out);
    free(in);
    mp_barrier(x);
    for (int k = 0; k < nj; k++)
        close(junk[k]);
    tacl__engine_destroy(e);
    return 0;
}

/* Six hosts, no connection yet but the notice tree's: every rank sends its first message to
 * every other rank at the same moment, so most pairs dial each other at once (the lower
 * rank's dial is kept, the higher waits for it), with 4 connections per pair; three engine
 * lifetimes, every byte checked. */
static int crossing_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    enum { LEN = 300000 };
    for (int round = 0; round < 3; round++) {
        tacl__engine_t *e = mp_create(rank, size, x);
        uint8_t *out = malloc((size_t)size * LEN), *in = malloc((size_t)size * LEN);
        CHECK(out && in);
        for (int p = 0; p < size; p++)
            for (size_t k = 0; k < LEN; k++)
                out[(size_t)p * LEN + k] = pattern(k, rank * 64 + p * 8 + round);
        tacl__req_t *r[12];
        int nr = 0;
        tacl__errbuf_t eb;
        tacl__msg_key_t key = {.comm_id = 5, .tag = (uint64_t)round};
        mp_barrier(x);
        for (int p = 0; p < size; p++) {
            if (p == rank) continue;
            CHECK_OK(tacl__engine_isend(e, p, &key, NULL, out + (size_t)p * LEN, LEN, &r[nr++]));
            CHECK_OK(tacl__engine_irecv(e, p, &key, NULL, in + (size_t)p * LEN, LEN, &r[nr++]));
        }
        CHECK_OK(tacl__engine_wait(e, r, nr, tacl__deadline_ns(30), NULL, 0, &eb));
        for (int p = 0; p < size; p++)
            for (size_t k = 0; p != rank && k < LEN; k++)
                CHECK(in[(size_t)p * LEN + k] == pattern(k, p * 64 + rank * 8 + round));
        for (int p = 0; p < size; p++)
            if (p != rank) CHECK(tacl__engine_peer_alive(e, p));
        free(out);
        free(in);
        mp_barrier(x);
        tacl__engine_destroy(e);
    }
    return 0;
}

/* Ring segments this process maps: memfd "tacl-link-..." (or a named /tacl-link-... segment). */
static int lazy_rings_mapped(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "tacl-link-")) n++;
    fclose(f);
    return n;
}

static int stall_idle_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    int pids[3];
    tacl__errbuf_t eb;
    tacl__engine_t *e = mp_start(rank, size, x, pids);
    if (rank == 2) {
        raise(SIGSTOP); /* rank 0 kills us once both have seen the stall */
        return 1;
    }
    uint64_t t0 = tacl__now_ns(), until = tacl__deadline_ns(15);
    while (tacl__engine_peer_alive(e, 2) && tacl__now_ns() < until)
        usleep(10000);
    double took = (double)(tacl__now_ns() - t0) * 1e-9;
    fprintf(stderr, "rank %d: rank 2 seen stalled after %.2f s\n", rank, took);
    CHECK(!tacl__engine_peer_alive(e, 2));
    CHECK(tacl__engine_peer_alive(e, 1 - rank)); /* the live peer stays alive */
    CHECK(took < 8.0);
    /* Rank 1 (the watcher) sees it first and keeps its engine until rank 0 has seen it too
     * (rank 0 says so); then rank 0 ends rank 2. */
    uint8_t note = 1;
    tacl__msg_key_t key = {.comm_id = 3, .tag = 1};
    tacl__req_t *r;
    if (rank == 0)
        CHECK_OK(tacl__engine_isend(e, 1, &key, NULL, &note, 1, &r));
    else
        CHECK_OK(tacl__engine_irecv(e, 0, &key, NULL, &note, 1, &r));
    CHECK_OK(tacl__engine_wait(e, &r, 1, tacl__deadline_ns(15), NULL, 0, &eb));
    if (rank == 0) kill(pids[2], SIGKILL);
    tacl__engine_destroy(e);
    return 0;
}

static int lazy_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    tacl__engine_t *e = mp_create(rank, size, x);
    for (int p = 0; p < size; p++)
        if (p != rank) CHECK_CONTAINS(tacl__engine_link_info(e, p), "+ shm ring");
    CHECK(lazy_rings_mapped() == 0); /* nothing opened at create */
    mp_barrier(x);
    if (rank < 2) {
        size_t len = 4u << 20;
        uint8_t *out = malloc(len), *in = malloc(len);
        CHECK(out && in);
        for (size_t i = 0; i < len; i++)
            out[i] = pattern(i, rank);
        tacl__msg_key_t key = {.comm_id = 7, .tag = 1};
        tacl__req_t *r[2];
        tacl__errbuf_t eb;
        CHECK_OK(tacl__engine_isend(e, 1 - rank, &key, NULL, out, len, &r[0]));
        CHECK_OK(tacl__engine_irecv(e, 1 - rank, &key, NULL, in, len, &r[1]));
        CHECK_OK(tacl__engine_wait(e, r, 2, tacl__deadline_ns(20), NULL, 0, &eb));
        for (size_t i = 0; i < len; i++)
            CHECK(in[i] == pattern(i, 1 - rank));
        free(out);
        free(in);
    }
    mp_barrier(x);
    int mapped = lazy_rings_mapped();
    fprintf(stderr, "rank %d maps %d ring segment(s)\n", rank, mapped);
    CHECK(mapped == (rank < 2 ? 1 : 0));
    mp_barrier(x);
    tacl__engine_destroy(e);
    return 0;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "kill";
    int status[6] = {0}, size;
    xchg_fork_fn fn;
    int victim = -1, victim_sig = 0;
    if (!strcmp(what, "sizes_shm") || !strcmp(what, "sizes_cma") || !strcmp(what, "cma_fallback")) {
        same_host = 1;
        cma_block = !strcmp(what, "cma_fallback");
        if (cma_block || !strcmp(what, "sizes_cma")) setenv("TACL_SHM_CMA_BYTES", "4096", 1);
        size = 2;
        fn = sizes_child;
    } else if (!strcmp(what, "bad_ifname")) {
        size = 2;
        fn = bad_ifname_child;
    } else if (!strcmp(what, "kill") || !strcmp(what, "kill_shm")) {
        same_host = !strcmp(what, "kill_shm");
        size = 3;
        fn = kill_child;
        victim = 2;
        victim_sig = SIGKILL;
    } else if (!strcmp(what, "kill_chain")) {
        static const uint8_t chain[9] = {1, 1, 0, 1, 1, 1, 0, 1, 1};
        allowed = chain;
        size = 3;
        fn = kill_chain_child;
        victim = 2;
        victim_sig = SIGKILL;
    } else if (!strcmp(what, "kill_relay")) {
        static const uint8_t chain[9] = {1, 1, 0, 1, 1, 1, 0, 1, 1};
        allowed = chain;
        size = 3;
        fn = kill_relay_child;
        victim = 1;
        victim_sig = SIGKILL;
    } else if (!strcmp(what, "stall_idle")) {
        setenv("TACL_HEARTBEAT", "0.3", 1);
        size = 3;
        fn = stall_idle_child;
        victim = 2;
        victim_sig = SIGKILL;
    } else if (!strcmp(what, "lazy_shm")) {
        same_host = 1;
        size = 4;
        fn = lazy_child;
    } else if (!strcmp(what, "dial_stalled")) {
        setenv("TACL_HEARTBEAT", "5", 1); /* rank 1's watch of rank 2 stays out of it */
        size = 5;
        fn = dial_stalled_child;
        victim = 2;
        victim_sig = SIGKILL;
    } else if (!strcmp(what, "dial_late")) {
        setenv("TACL_HEARTBEAT", "5", 1);
        size = 5;
        fn = dial_late_child;
    } else if (!strcmp(what, "hostile")) {
        size = 5;
        fn = hostile_child;
    } else if (!strcmp(what, "crossing")) {
        setenv("TACL_SOCKET_NCONNS", "4", 1);
        size = 6;
        fn = crossing_child;
    } else if (!strcmp(what, "cut")) {
        setenv("TACL_HEARTBEAT", "0.3", 1);
        size = 2;
        fn = cut_child;
        victim = 1;
        victim_sig = SIGKILL;
    } else {
        fprintf(stderr, "unknown scenario %s\n", what);
        return 2;
    }
    CHECK(xchg_fork_run(size, fn, NULL, 40.0, status) == 0);
    if (WIFEXITED(status[0]) && WEXITSTATUS(status[0]) == 77) SKIP("cannot deny memory reads here");
    int bad = 0;
    for (int r = 0; r < size; r++) {
        if (r == victim) {
            if (!WIFSIGNALED(status[r]) || WTERMSIG(status[r]) != victim_sig) {
                fprintf(stderr, "rank %d: expected death by signal %d, status 0x%x\n", r,
                        victim_sig, status[r]);
                bad = 1;
            }
        } else if (!WIFEXITED(status[r]) || WEXITSTATUS(status[r]) != 0) {
            fprintf(stderr, "rank %d failed (status 0x%x)\n", r, status[r]);
            bad = 1;
        }
    }
    return bad;
}
