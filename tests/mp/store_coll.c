/* store_coll.c — the store all-gather and barrier with ranks as processes. "ag64": 64 ranks,
 * three all-gathers of rank-dependent values (checked against values computed here) and a
 * barrier, through the tacl__xchg_t interface; afterwards only the last call's result remains
 * (each rank deleted its own keys, the root the earlier results). "mismatch": ranks contributing
 * different lengths fail with TACL_ERR_MISMATCH naming the other rank and both lengths. "timeout":
 * a rank that never arrives is named (by its key) in the others' TACL_ERR_TIMEOUT. */
#include "boot/store_coll.h"
#include "boot/store_int.h"
#include "check.h"
#include "clock.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SC_MAX 64

static int sc_port;
static pid_t sc_kids[SC_MAX];
static int sc_nkids;
static pid_t sc_parent;
static int sc_port_pipe[2]; /* the parent sends the server's port to each rank */

typedef struct {
    int status;
    double elapsed;
    char msg[1024];
} sc_result_t;

static sc_result_t *sc_res;

static void sc_kill_all(void)
{
    if (getpid() != sc_parent) return; /* a rank exiting on a failed CHECK */
    for (int i = 0; i < sc_nkids; i++)
        if (sc_kids[i] > 0) {
            kill(sc_kids[i], SIGKILL);
            waitpid(sc_kids[i], NULL, 0);
        }
}

/* Forks n ranks before the server (and its thread) exists: a child forked from a threaded
 * process can inherit a lock held by another thread (sanitizer allocators do not all guard
 * fork). The ranks read the port from a pipe once the server is up. */
static void sc_spawn(int n, void (*fn)(int, int))
{
    fflush(NULL);
    sc_nkids = 0;
    for (int r = 0; r < n; r++) {
        pid_t p = fork();
        CHECK(p >= 0);
        if (p == 0) {
            if (read(sc_port_pipe[0], &sc_port, sizeof sc_port) != sizeof sc_port) _exit(3);
            fn(r, n);
            _exit(0);
        }
        sc_kids[sc_nkids++] = p;
    }
}

static void sc_wait(void)
{
    for (int i = 0; i < sc_nkids; i++)
        CHECK(write(sc_port_pipe[1], &sc_port, sizeof sc_port) == sizeof sc_port);
    for (int i = 0; i < sc_nkids; i++) {
        int ws;
        CHECK(waitpid(sc_kids[i], &ws, 0) == sc_kids[i]);
        sc_kids[i] = 0;
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
            fprintf(stderr, "rank %d ended with status 0x%x\n", i, ws);
            exit(1);
        }
    }
}

static uint64_t sc_value(int round, int rank, int word)
{
    return (uint64_t)round * 1000003u + (uint64_t)rank * 7919u + (uint64_t)word;
}

static void sc_ag_rank(int r, int n)
{
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", sc_port, 20, &st));
    tacl__xchg_t x;
    boot_store_xchg_ctx_t ctx;
    boot_store_xchg_init(&x, &ctx, st, "coll/", r, n);
    CHECK(x.rank == r && x.size == n);
    tacl__errbuf_t eb;
    uint64_t mine[2], all[SC_MAX * 2];
    double t0 = tacl__now_s();
    for (int round = 0; round < 3; round++) {
        mine[0] = sc_value(round, r, 0);
        mine[1] = sc_value(round, r, 1);
        CHECK_OK(tacl__xchg_allgather(&x, mine, sizeof mine, all, &eb));
        for (int i = 0; i < n; i++)
            CHECK(all[2 * i] == sc_value(round, i, 0) && all[2 * i + 1] == sc_value(round, i, 1));
    }
    CHECK_OK(boot_store_barrier(&ctx, &eb));
    sc_res[r].elapsed = tacl__now_s() - t0;
    tacl_store_close(st);
}

static void sc_mismatch_rank(int r, int n)
{
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", sc_port, 20, &st));
    boot_store_xchg_ctx_t ctx;
    tacl__xchg_t x;
    boot_store_xchg_init(&x, &ctx, st, "mm/", r, n);
    char mine[8] = "abcdefg", all[32];
    tacl__errbuf_t eb = {{0}};
    sc_res[r].status = boot_store_allgather(&ctx, mine, r == 1 ? 5 : 4, all, &eb);
    snprintf(sc_res[r].msg, sizeof sc_res[r].msg, "%s", eb.msg);
    tacl_store_close(st);
}

static void sc_timeout_rank(int r, int n)
{
    if (r == 2) return; /* never arrives */
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", sc_port, 20, &st));
    tacl_store_set_timeout(st, 0.5);
    boot_store_xchg_ctx_t ctx;
    tacl__xchg_t x;
    boot_store_xchg_init(&x, &ctx, st, "to/", r, n);
    tacl__errbuf_t eb = {{0}};
    sc_res[r].status = boot_store_barrier(&ctx, &eb);
    snprintf(sc_res[r].msg, sizeof sc_res[r].msg, "%s", eb.msg);
    tacl_store_close(st);
}

/* Large records shared per host: ranks 0-3 and 4-7 are two hosts (leaders 0 and 4). */
#define SC_SHARE_WORDS 4096 /* 32 KiB per rank: the record is past the inline size */
static void sc_share_rank(int r, int n)
{
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", sc_port, 20, &st));
    tacl__xchg_t x;
    boot_store_xchg_ctx_t ctx;
    boot_store_xchg_init(&x, &ctx, st, "share/", r, n);
    boot_store_xchg_share(&ctx, r < 4 ? 0 : 4);
    uint64_t *mine = malloc(SC_SHARE_WORDS * sizeof *mine);
    uint64_t *all = malloc((size_t)n * SC_SHARE_WORDS * sizeof *all);
    CHECK(mine && all);
    tacl__errbuf_t eb;
    for (int round = 0; round < 3; round++) {
        for (int w = 0; w < SC_SHARE_WORDS; w++)
            mine[w] = sc_value(round, r, w);
        CHECK_OK(tacl__xchg_allgather(&x, mine, SC_SHARE_WORDS * sizeof *mine, all, &eb));
        for (int i = 0; i < n; i++)
            for (int w = 0; w < SC_SHARE_WORDS; w++)
                CHECK(all[(size_t)i * SC_SHARE_WORDS + w] == sc_value(round, i, w));
    }
    boot_store_xchg_close(&ctx);
    free(mine);
    free(all);
    tacl_store_close(st);
}

int main(int argc, char **argv)
{
    if (argc < 2) SKIP("usage: store_coll ag64|mismatch|timeout|share");
    sc_res = mmap(NULL, sizeof *sc_res * SC_MAX, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                  -1, 0);
    CHECK(sc_res != MAP_FAILED);
    if (strcmp(argv[1], "ag64") && strcmp(argv[1], "mismatch") && strcmp(argv[1], "timeout") &&
        strcmp(argv[1], "share"))
        SKIP("unknown scenario '%s'", argv[1]);
    sc_parent = getpid();
    atexit(sc_kill_all);
    CHECK(pipe(sc_port_pipe) == 0);
    int n = !strcmp(argv[1], "ag64")       ? 64
            : !strcmp(argv[1], "mismatch") ? 2
            : !strcmp(argv[1], "share")    ? 8
                                           : 3;
    sc_spawn(n, !strcmp(argv[1], "ag64")       ? sc_ag_rank
                : !strcmp(argv[1], "mismatch") ? sc_mismatch_rank
                : !strcmp(argv[1], "share")    ? sc_share_rank
                                               : sc_timeout_rank);
    tacl_store_server_t *srv;
    CHECK_OK(tacl_store_server_start("127.0.0.1", 0, &srv));
    sc_port = tacl_store_server_port(srv);
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", sc_port, 5, &st));
    if (!strcmp(argv[1], "ag64")) {
        sc_wait();
        double worst = 0;
        for (int r = 0; r < 64; r++)
            worst = sc_res[r].elapsed > worst ? sc_res[r].elapsed : worst;
        printf("64 ranks: 3 all-gathers + barrier in %.3f s (slowest rank)\n", worst);
        /* Only the barrier's result (call 3) remains: every rank deleted its own keys, the
         * root the earlier results. */
        int64_t n;
        CHECK_OK(tacl_store_num_keys(st, &n));
        CHECK(n == 1);
        const char *kp[1] = {"coll/3/all"};
        int all;
        CHECK_OK(tacl_store_check(st, kp, 1, &all));
        CHECK(all == 1);
    } else if (!strcmp(argv[1], "share")) {
        sc_wait();
        /* Per round the records leave the store twice: to the root (its multi-get) and to host
         * B's leader; unshared they would leave 8 times (the root's, then 7 gets). A rank that
         * cannot read its leader's memfd reads the store's copy (correct, and logged at
         * debug): a few of those are allowed, half the unshared traffic is not. */
        boot_store_stats_t ss;
        boot_store_server_stats(srv, &ss);
        uint64_t rec = 8 * SC_SHARE_WORDS * 8;
        printf("share: %llu bytes out for 3 results of %llu bytes\n",
               (unsigned long long)ss.bytes_out, (unsigned long long)rec);
        CHECK(ss.bytes_out > 6 * rec && ss.bytes_out < 12 * rec);
        int64_t nk;
        CHECK_OK(tacl_store_num_keys(st, &nk));
        CHECK(nk == 3); /* the last result and the two hosts' keys of it */
    } else if (!strcmp(argv[1], "mismatch")) {
        sc_wait();
        CHECK(sc_res[0].status == TACL_ERR_MISMATCH && sc_res[1].status == TACL_ERR_MISMATCH);
        CHECK_CONTAINS(sc_res[0].msg, "rank 1 contributed 5 bytes, this rank 4");
        CHECK_CONTAINS(sc_res[1].msg, "rank 0 contributed 4 bytes, this rank 5");
    } else if (!strcmp(argv[1], "timeout")) {
        sc_wait();
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", sc_port);
        for (int r = 0; r < 2; r++) {
            CHECK(sc_res[r].status == TACL_ERR_TIMEOUT);
            CHECK_CONTAINS(sc_res[r].msg, "'to/0/2'");
            CHECK_CONTAINS(sc_res[r].msg, "1 of 3 keys");
            CHECK_CONTAINS(sc_res[r].msg, addr);
        }
    } else {
        SKIP("unknown scenario '%s'", argv[1]);
    }
    tacl_store_close(st);
    tacl_store_server_stop(srv);
    printf("store_coll %s: ok\n", argv[1]);
    return 0;
}
