/* engine_relay.c — flow control of routed traffic on a real chain A–B–C (one process per network
 * namespace, names on the command line; engine_relay.sh shapes B–C slower than A–B, so a relay
 * without back-pressure piles up what A sends). Modes:
 *   oneway   A streams far more than TACL_RELAY_WINDOW to C, which posts its receives late: the
 *            data arrives intact and in order, and B never holds more than the window of the
 *            flow (tacl__engine_relay_stats), and holds nothing at the end.
 *   cross    A→C and C→A at once, both destinations late (two flows crossing one relay in
 *            opposite directions): both complete, each flow bounded by the window on B.
 *   unbound  oneway with TACL_RELAY_WINDOW=0: B must hold over twice the window at some point,
 *            which shows that this chain congests the relay (the bound above is not vacuous).
 *   cap      B runs with TACL_RELAY_MAX_BYTES=1, below one fragment: B drops every fragment of
 *            A's stream (engine_relay.sh checks B's log names the flow) and returns its credit,
 *            so A's sends still complete; C's receives fail with TACL_ERR_TIMEOUT naming rank 0. */
#include "check.h"
#include "clock.h"
#include "transport/engine.h"
#include "xchg_fork.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WINDOW   (1u << 20)
#define FRAG     65536
#define NMSG     12
#define MSG      ((2u << 20) + 77) /* not a multiple of the fragment */
#define LATE_US  700000            /* destinations post their receives this late */
#define DEADLINE 40.0

static char **ns_names;
static const char *mode;

static uint8_t pattern(size_t i, int msg, int src)
{
    return (uint8_t)(((i + 131u * (unsigned)msg) * 2654435761u) >> 13) ^ (uint8_t)(src * 37);
}

static int relay_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    char path[256];
    snprintf(path, sizeof path, "/var/run/netns/%s", ns_names[rank]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(setns(fd, CLONE_NEWNET) == 0);
    close(fd);
    static const char *hosts[] = {"A", "B", "C"};
    tacl__engine_config_t cfg = {.rank = rank,
                                 .size = size,
                                 .xchg = x,
                                 .host_ids = hosts,
                                 .probe_timeout_s = 1.0,
                                 .timeout_s = 20.0};
    int capped = !strcmp(mode, "cap");
    if (capped && rank == 1) setenv("TACL_RELAY_MAX_BYTES", "1", 1);
    tacl__engine_t *e = NULL;
    tacl__errbuf_t eb;
    CHECK_OK(tacl__engine_create(&cfg, &e, &eb));
    static const uint8_t chain[9] = {0, 1, 0, 1, 0, 1, 0, 1, 0};
    CHECK(memcmp(tacl__engine_reach(e), chain, 9) == 0);
    int unbound = !strcmp(mode, "unbound"), cross = !strcmp(mode, "cross");
    uint8_t one = 1, all[3];
    if (rank == 1) {
        CHECK_OK(tacl__xchg_allgather(x, &one, 1, all, &eb)); /* A and C are done */
        uint64_t cur, peak, tcur, tpeak;
        for (int s = 0; s <= 2; s += 2) {
            tacl__engine_relay_stats(e, s, 2 - s, &cur, &peak);
            fprintf(stderr, "relay B (%s): flow %d->%d held now %llu, at most %llu (window %u)\n",
                    mode, s, 2 - s, (unsigned long long)cur, (unsigned long long)peak, WINDOW);
            CHECK(cur == 0);
            if ((s == 2 && !cross) || capped) {
                CHECK(peak == 0);
            } else if (unbound) {
                CHECK(peak > 2ull * WINDOW); /* twice the bound: not vacuous */
            } else {
                CHECK(peak > 0);
                CHECK(peak <= WINDOW);
            }
        }
        tacl__engine_relay_stats(e, -1, 0, &tcur, &tpeak);
        CHECK(tcur == 0);
        if (!unbound) CHECK(tpeak <= (cross ? 2ull : 1ull) * WINDOW);
        tacl__engine_destroy(e);
        return 0;
    }
    int peer = 2 - rank;
    int hops[3] = {1, 1, 1};
    hops[rank] = -1;
    CHECK_OK(tacl__engine_set_routes(e, hops));
    int sends = rank == 0 || cross, recvs = rank == 2 || cross;
    uint8_t *out = malloc((size_t)NMSG * MSG), *in = malloc((size_t)NMSG * MSG);
    CHECK(out && in);
    tacl__req_t *r[2 * NMSG];
    int nr = 0, group[3] = {0, 1, 2};
    uint64_t t0 = tacl__now_ns();
    if (sends) {
        for (int m = 0; m < NMSG; m++) {
            uint8_t *p = out + (size_t)m * MSG;
            for (size_t k = 0; k < MSG; k++)
                p[k] = pattern(k, m, rank);
            tacl__msg_key_t key = {.comm_id = 5, .tag = 3, .seq = (uint64_t)m};
            CHECK_OK(tacl__engine_isend(e, peer, &key, NULL, p, MSG, &r[nr++]));
        }
    }
    if (recvs) {
        usleep(LATE_US); /* a slow receiver: the stream runs ahead of its receives */
        memset(in, 0xee, (size_t)NMSG * MSG);
        for (int m = 0; m < NMSG; m++) {
            tacl__msg_key_t key = {.comm_id = 5, .tag = 3, .seq = (uint64_t)m};
            CHECK_OK(tacl__engine_irecv(e, peer, &key, NULL, in + (size_t)m * MSG, MSG, &r[nr++]));
        }
    }
    if (capped && rank == 2) {
        /* Only the receives wait here; nothing of A's stream gets past B. */
        CHECK_ST(tacl__engine_wait(e, r, nr, tacl__deadline_ns(3.0), group, 3, &eb),
                 TACL_ERR_TIMEOUT);
        CHECK_CONTAINS(eb.msg, "rank 2 timed out");
        CHECK_CONTAINS(eb.msg, "rank 0");
        CHECK_OK(tacl__xchg_allgather(x, &one, 1, all, &eb));
        free(out);
        free(in);
        tacl__engine_destroy(e);
        return 0;
    }
    CHECK_OK(tacl__engine_wait(e, r, nr, tacl__deadline_ns(DEADLINE), group, 3, &eb));
    double took = (double)(tacl__now_ns() - t0) * 1e-9;
    fprintf(stderr, "rank %d (%s): %d x %u bytes %s in %.2f s\n", rank, mode, NMSG, MSG,
            cross ? "each way" : (rank == 0 ? "sent" : "received"), took);
    if (recvs)
        for (int m = 0; m < NMSG; m++)
            for (size_t k = 0; k < MSG; k++)
                if (in[(size_t)m * MSG + k] != pattern(k, m, peer)) {
                    fprintf(stderr, "rank %d: message %d byte %zu wrong\n", rank, m, k);
                    CHECK(0);
                }
    CHECK_OK(tacl__xchg_allgather(x, &one, 1, all, &eb));
    free(out);
    free(in);
    tacl__engine_destroy(e);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[1], "oneway") && strcmp(argv[1], "cross") &&
                      strcmp(argv[1], "unbound") && strcmp(argv[1], "cap"))) {
        fprintf(stderr, "usage: %s oneway|cross|unbound|cap NS_A NS_B NS_C\n", argv[0]);
        return 2;
    }
    mode = argv[1];
    ns_names = argv + 2;
    char w[32];
    snprintf(w, sizeof w, "%u", strcmp(mode, "unbound") ? WINDOW : 0);
    setenv("TACL_RELAY_WINDOW", w, 1);
    snprintf(w, sizeof w, "%d", FRAG);
    setenv("TACL_FRAG_BYTES", w, 1);
    int status[3];
    CHECK(xchg_fork_run(3, relay_child, NULL, DEADLINE + 20, status) == 0);
    int bad = 0;
    for (int r = 0; r < 3; r++)
        if (!WIFEXITED(status[r]) || WEXITSTATUS(status[r]) != 0) {
            fprintf(stderr, "rank %d failed (status 0x%x)\n", r, status[r]);
            bad = 1;
        }
    return bad;
}
