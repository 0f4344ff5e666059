/* engine_netns.c — a real chain A–B–C, one process per network namespace (names given on
 * the command line by engine_chain.sh, which builds the namespaces and veth pairs). A has a
 * default route through B, but B does not forward, so A's connects to C are dropped silently:
 * the probe must give up after its timeout, every rank must agree on the chain matrix, and A↔C
 * traffic must flow through B's progress thread while B's application sleeps (argv[1] chain).
 * With TACL_TOPO=full (argv[1] full) the same chain is an error at create on every rank. */
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

#define PROBE_S 1.0

static char **ns_names;

static uint8_t pattern(size_t i, int seed)
{
    return (uint8_t)((i * 2654435761u) >> 13) ^ (uint8_t)seed;
}

static int chain_child(int rank, int size, const tacl__xchg_t *x, void *arg)
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
                                 .probe_timeout_s = PROBE_S,
                                 .timeout_s = 20.0};
    tacl__engine_t *e = NULL;
    tacl__errbuf_t eb;
    uint64_t t0 = tacl__now_ns();
    CHECK_OK(tacl__engine_create(&cfg, &e, &eb));
    double took = (double)(tacl__now_ns() - t0) * 1e-9;
    fprintf(stderr, "rank %d (%s): create took %.2f s; to %d: %s; to %d: %s\n", rank,
            ns_names[rank], took, (rank + 1) % 3, tacl__engine_link_info(e, (rank + 1) % 3),
            (rank + 2) % 3, tacl__engine_link_info(e, (rank + 2) % 3));
    CHECK(took < PROBE_S + 2.0);
    const uint8_t *m = tacl__engine_reach(e);
    static const uint8_t chain[9] = {0, 1, 0, 1, 0, 1, 0, 1, 0};
    CHECK(memcmp(m, chain, 9) == 0);
    if (rank != 1) CHECK_CONTAINS(tacl__engine_link_info(e, 2 - rank), "10.77.2.2");
    if (rank == 0) CHECK_CONTAINS(tacl__engine_link_info(e, 2), "timed out after 1.0 s");
    if (rank == 1) {
        CHECK_CONTAINS(tacl__engine_link_info(e, 0), "tcp 10.77.");
        usleep(1500000); /* application code; the progress thread forwards meanwhile */
        uint8_t one = 1, all[3];
        CHECK_OK(tacl__xchg_allgather(x, &one, 1, all, &eb));
        tacl__engine_destroy(e);
        return 0;
    }
    int peer = 2 - rank;
    int hops[3] = {1, 1, 1};
    hops[rank] = -1;
    CHECK_OK(tacl__engine_set_routes(e, hops));
    size_t n = (1u << 20) + 3;
    uint8_t *out = malloc(n), *in = malloc(n);
    for (size_t k = 0; k < n; k++)
        out[k] = pattern(k, rank);
    tacl__msg_key_t key = {.comm_id = 11, .tag = 1};
    tacl__req_t *r[2];
    int group[3] = {0, 1, 2};
    uint64_t t1 = tacl__now_ns();
    CHECK_OK(tacl__engine_irecv(e, peer, &key, NULL, in, n, &r[0]));
    CHECK_OK(tacl__engine_isend(e, peer, &key, NULL, out, n, &r[1]));
    CHECK_OK(tacl__engine_wait(e, r, 2, tacl__deadline_ns(10), group, 3, &eb));
    CHECK((double)(tacl__now_ns() - t1) * 1e-9 < 1.4); /* before the relay's application woke */
    for (size_t k = 0; k < n; k++)
        CHECK(in[k] == pattern(k, peer));
    free(out);
    free(in);
    uint8_t one = 1, all[3];
    CHECK_OK(tacl__xchg_allgather(x, &one, 1, all, &eb));
    tacl__engine_destroy(e);
    return 0;
}

/* TACL_TOPO=full on the same chain: every rank's create fails naming the pair that the user
 * declared connected but that is not, after the (short) create timeout. */
static int full_child(int rank, int size, const tacl__xchg_t *x, void *arg)
{
    (void)arg;
    char path[256];
    snprintf(path, sizeof path, "/var/run/netns/%s", ns_names[rank]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(setns(fd, CLONE_NEWNET) == 0);
    close(fd);
    setenv("TACL_TOPO", "full", 1);
    static const char *hosts[] = {"A", "B", "C"};
    tacl__engine_config_t cfg = {.rank = rank,
                                 .size = size,
                                 .xchg = x,
                                 .host_ids = hosts,
                                 .probe_timeout_s = PROBE_S,
                                 .timeout_s = 1.5};
    tacl__engine_t *e = NULL;
    tacl__errbuf_t eb;
    CHECK_ST(tacl__engine_create(&cfg, &e, &eb), TACL_ERR_UNREACHABLE);
    CHECK(e == NULL);
    CHECK_CONTAINS(eb.msg, "TACL_TOPO=full but rank 0 (host A) cannot connect to rank 2 (host C)");
    CHECK_CONTAINS(eb.msg, "timed out after 1.5 s");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s chain|full NS_A NS_B NS_C\n", argv[0]);
        return 2;
    }
    ns_names = argv + 2;
    int status[3];
    CHECK(xchg_fork_run(3, strcmp(argv[1], "full") ? chain_child : full_child, NULL, 30.0,
                        status) == 0);
    int bad = 0;
    for (int r = 0; r < 3; r++)
        if (!WIFEXITED(status[r]) || WEXITSTATUS(status[r]) != 0) {
            fprintf(stderr, "rank %d failed (status 0x%x)\n", r, status[r]);
            bad = 1;
        }
    return bad;
}
