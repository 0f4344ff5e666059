/* store_coll.c — the store all-gather, barrier and gather to the root with ranks as processes.
 * "ag64": 64 ranks, three all-gathers of rank-dependent values (checked against values computed
 * here) and a barrier, through the tacl__xchg_t interface; afterwards only the last call's
 * result remains (each rank deleted its own keys, the root the earlier results). "mismatch":
 * ranks contributing different lengths fail with TACL_ERR_MISMATCH naming the other rank and
 * both lengths. "timeout": a rank that never arrives is named (by its key) in the others'
 * TACL_ERR_TIMEOUT. "share": records read once per host. "root": 16 ranks, gathers to the root
 * of records of different lengths (empty ones too) between all-gathers, each record checked
 * byte by byte in rank order, no keys left behind. "rootbig": four records of the store's
 * largest value size, more than one reply may carry: the root takes them in several gets.
 * "roottimeout": the root names the rank that never set its record; the others are not held.
 * "doctor": the doctor's records (coll/doctor_gather.h) into a report on the root, and
 * malformed records from one rank refused with its rank named. */
#include "boot/store_coll.h"
#include "coll/doctor_gather.h"
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

/* Rank r of n: a store client (connect timeout, then call timeout where > 0) and the set's
 * collective context under prefix. */
static tacl_store_t *sc_join(int r, int n, const char *prefix, double connect_s, double call_s,
                             boot_store_xchg_ctx_t *ctx, tacl__xchg_t *x)
{
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", sc_port, connect_s, &st));
    if (call_s > 0) tacl_store_set_timeout(st, call_s);
    boot_store_xchg_init(x, ctx, st, prefix, r, n);
    return st;
}

static uint64_t sc_value(int round, int rank, int word)
{
    return (uint64_t)round * 1000003u + (uint64_t)rank * 7919u + (uint64_t)word;
}

static void sc_ag_rank(int r, int n)
{
    tacl__xchg_t x;
    boot_store_xchg_ctx_t ctx;
    tacl_store_t *st = sc_join(r, n, "coll/", 20, 0, &ctx, &x);
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
    tacl__xchg_t x;
    boot_store_xchg_ctx_t ctx;
    tacl_store_t *st = sc_join(r, n, "mm/", 20, 0, &ctx, &x);
    char mine[8] = "abcdefg", all[32];
    tacl__errbuf_t eb = {{0}};
    sc_res[r].status = boot_store_allgather(&ctx, mine, r == 1 ? 5 : 4, all, &eb);
    snprintf(sc_res[r].msg, sizeof sc_res[r].msg, "%s", eb.msg);
    tacl_store_close(st);
}

static void sc_timeout_rank(int r, int n)
{
    if (r == 2) return; /* never arrives */
    tacl__xchg_t x;
    boot_store_xchg_ctx_t ctx;
    tacl_store_t *st = sc_join(r, n, "to/", 20, 0.5, &ctx, &x);
    tacl__errbuf_t eb = {{0}};
    sc_res[r].status = boot_store_barrier(&ctx, &eb);
    snprintf(sc_res[r].msg, sizeof sc_res[r].msg, "%s", eb.msg);
    tacl_store_close(st);
}

/* Large records shared per host: ranks 0-3 and 4-7 are two hosts (leaders 0 and 4). */
#define SC_SHARE_WORDS 4096 /* 32 KiB per rank: the record is past the inline size */
static void sc_share_rank(int r, int n)
{
    tacl__xchg_t x;
    boot_store_xchg_ctx_t ctx;
    tacl_store_t *st = sc_join(r, n, "share/", 20, 0, &ctx, &x);
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

/* ---- Gathers to the root. ---- */

static size_t sc_root_len(int call, int r)
{
    return (size_t)((r * 37 + call * 11) % 5) * 3001;
}

static uint8_t sc_root_byte(int call, int r, size_t i)
{
    return (uint8_t)(call * 31 + r * 7 + (int)(i % 251) * 13);
}

typedef struct {
    int call, next, bad;
} sc_take_t;

/* Records must come in rank order, each as its rank made it. */
static tacl_status_t sc_take(void *arg, int rank, const void *val, size_t len, tacl__errbuf_t *eb)
{
    (void)eb;
    sc_take_t *t = arg;
    const uint8_t *b = val;
    int ok = rank == t->next && len == sc_root_len(t->call, rank);
    for (size_t i = 0; ok && i < len; i++)
        ok = b[i] == sc_root_byte(t->call, rank, i);
    t->next++;
    t->bad += !ok;
    return TACL_OK;
}

static void sc_root_rank(int r, int n)
{
    tacl__xchg_t x;
    boot_store_xchg_ctx_t ctx;
    tacl_store_t *st = sc_join(r, n, "root/", 20, 0, &ctx, &x);
    tacl__errbuf_t eb;
    uint8_t *rec = malloc(5 * 3001);
    CHECK(rec);
    for (int call = 0; call < 2; call++) {
        uint64_t mine[2] = {sc_value(call, r, 0), sc_value(call, r, 1)}, all[SC_MAX * 2];
        CHECK_OK(tacl__xchg_allgather(&x, mine, sizeof mine, all, &eb));
        for (int i = 0; i < n; i++)
            CHECK(all[2 * i] == sc_value(call, i, 0) && all[2 * i + 1] == sc_value(call, i, 1));
        size_t len = sc_root_len(call, r);
        for (size_t i = 0; i < len; i++)
            rec[i] = sc_root_byte(call, r, i);
        sc_take_t t = {.call = call};
        CHECK_OK(boot_store_gather_root(&ctx, rec, len, r == 0 ? sc_take : NULL, &t, &eb));
        if (r == 0) CHECK(t.next == n && t.bad == 0);
    }
    CHECK_OK(boot_store_barrier(&ctx, &eb));
    free(rec);
    tacl_store_close(st);
}

/* Ranks 1-4 each set a record of TACL_STORE_VALUE_MAX bytes: the four do not fit one reply. */
static tacl_status_t sc_take_big(void *arg, int rank, const void *val, size_t len,
                                 tacl__errbuf_t *eb)
{
    (void)eb;
    sc_take_t *t = arg;
    const uint8_t *b = val;
    int ok = rank == t->next && len == (rank ? TACL_STORE_VALUE_MAX : 0);
    for (size_t i = 0; ok && i < len; i += 4093)
        ok = b[i] == sc_root_byte(0, rank, i);
    if (ok && len) ok = b[len - 1] == sc_root_byte(0, rank, len - 1);
    t->next++;
    t->bad += !ok;
    return TACL_OK;
}

static void sc_rootbig_rank(int r, int n)
{
    tacl__xchg_t x;
    boot_store_xchg_ctx_t ctx;
    tacl_store_t *st = sc_join(r, n, "big/", 60, 0, &ctx, &x);
    size_t len = r ? TACL_STORE_VALUE_MAX : 0;
    uint8_t *rec = malloc(len ? len : 1);
    CHECK(rec);
    for (size_t i = 0; i < len; i++)
        rec[i] = sc_root_byte(0, r, i);
    sc_take_t t = {0};
    tacl__errbuf_t eb = {{0}};
    sc_res[r].status = boot_store_gather_root(&ctx, rec, len, sc_take_big, &t, &eb);
    snprintf(sc_res[r].msg, sizeof sc_res[r].msg, "%s", eb.msg);
    if (r == 0) CHECK(t.next == n && t.bad == 0);
    free(rec);
    tacl_store_close(st);
}

static void sc_roottimeout_rank(int r, int n)
{
    if (r == 2) return; /* never arrives */
    tacl__xchg_t x;
    boot_store_xchg_ctx_t ctx;
    tacl_store_t *st = sc_join(r, n, "rt/", 20, 0.5, &ctx, &x);
    tacl__errbuf_t eb = {{0}};
    sc_take_t t = {0};
    double t0 = tacl__now_s();
    sc_res[r].status = boot_store_gather_root(&ctx, "abc", 3, sc_take, &t, &eb);
    sc_res[r].elapsed = tacl__now_s() - t0;
    snprintf(sc_res[r].msg, sizeof sc_res[r].msg, "%s", eb.msg);
    tacl_store_close(st);
}

/* ---- The doctor's records (coll/doctor_gather.h). ---- */

#define SC_DOC_N 4

static void sc_doctor_rank(int r, int n)
{
    tacl__xchg_t x;
    boot_store_xchg_ctx_t ctx;
    tacl_store_t *st = sc_join(r, n, "doc/", 20, 0, &ctx, &x);
    tacl__doctor_report_t *rep = NULL;
    if (r == 0) CHECK_OK(tacl__doctor_report_create(n, &rep));
    tacl__errbuf_t eb = {{0}};
    char text[SC_DOC_N][300];
    const char *notes[SC_DOC_N];
    for (int j = 0; j < n; j++) {
        if (j == 3 && r == 1) /* longer than a report's note: cut at its size */
            snprintf(text[j], sizeof text[j], "%0250d", 7);
        else
            snprintf(text[j], sizeof text[j], j == r ? "" : "tcp from %d to %d", r, j);
        notes[j] = text[j];
    }
    /* 1. Rank 2's notes are three strings for four ranks: refused, rank 2 named. */
    tacl_status_t s;
    if (r == 2)
        s = boot_store_gather_root(&ctx, "a\0b\0c", 6, NULL, NULL, &eb);
    else
        s = tacl__doctor_send_notes(&ctx, notes, rep, &eb);
    if (r == 0) {
        CHECK(s == TACL_ERR_PROTOCOL);
        CHECK_CONTAINS(eb.msg, "rank 2 sent a malformed link notes record (6 bytes)");
    } else {
        CHECK(s == TACL_OK);
    }
    /* 2. Every rank's notes, as sent. */
    CHECK_OK(tacl__doctor_send_notes(&ctx, notes, rep, &eb));
    if (r == 0)
        for (int q = 0; q < n; q++)
            for (int j = 0; j < n; j++) {
                char want[300];
                if (q == 1 && j == 3) {
                    memset(want, '0', TACL_DOCTOR_INFO_MAX - 1);
                    want[TACL_DOCTOR_INFO_MAX - 1] = '\0';
                } else
                    snprintf(want, sizeof want, j == q ? "" : "tcp from %d to %d", q, j);
                CHECK(strcmp(tacl__doctor_info(rep, q, j), want) == 0);
            }
    /* 3. Pair figures of the peers above, a failure text for pair 1-3. */
    tacl__doctor_pair_t row[SC_DOC_N];
    memset(row, 0, sizeof row);
    for (int j = 0; j < n; j++) {
        row[j].lat_us = r * 10 + j;
        row[j].gbs = r + j * 0.5;
        if (r == 1 && j == 3) snprintf(row[j].err, sizeof row[j].err, "boom 1-3");
    }
    CHECK_OK(tacl__doctor_send_pairs(&ctx, row, rep, &eb));
    if (r == 0) {
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++)
                CHECK(rep->links[a * n + b].lat_us == a * 10 + b &&
                      rep->links[a * n + b].gbs == a + b * 0.5);
        CHECK(strcmp(tacl__doctor_link_err(rep, 1, 3), "boom 1-3") == 0);
        CHECK(rep->nlink_errs == 1);
    }
    /* 4. Rank 3 claims a failure for a pair below it; rank 1 sends 5 stray bytes. */
    if (r == 3) {
        uint8_t bad[4 + TACL_DOCTOR_MSG_MAX] = {0}; /* peer 0 */
        s = boot_store_gather_root(&ctx, bad, sizeof bad, NULL, NULL, &eb);
    } else if (r == 1) {
        s = boot_store_gather_root(&ctx, "12345", 5, NULL, NULL, &eb);
    } else {
        s = tacl__doctor_send_pairs(&ctx, row, rep, &eb);
    }
    if (r == 0) {
        CHECK(s == TACL_ERR_PROTOCOL);
        CHECK_CONTAINS(eb.msg, "rank 1 sent a malformed pair figures record (5 bytes)");
    } else {
        CHECK(s == TACL_OK);
    }
    /* 5. Smoke tests: rank 2 saw the all-gather fail; the slowest time is rank 3's. */
    tacl__doctor_smoke_rank_t sm[TACL_DOCTOR_NSMOKE];
    memset(sm, 0, sizeof sm);
    for (int k = 0; k < TACL_DOCTOR_NSMOKE; k++) {
        sm[k].ran = k != TACL_DOCTOR_ROUTED;
        sm[k].secs = 0.25 * (r + 1);
        if (!sm[k].ran) snprintf(sm[k].msg, sizeof sm[k].msg, "one host");
    }
    if (r == 2) {
        sm[TACL_DOCTOR_ALL_GATHER].failed = 1;
        snprintf(sm[TACL_DOCTOR_ALL_GATHER].msg, sizeof sm->msg, "wrong value at 7");
    }
    CHECK_OK(tacl__doctor_send_smoke(&ctx, sm, rep, &eb));
    if (r == 0) {
        const tacl__doctor_smoke_t *ag = &rep->smoke[TACL_DOCTOR_ALL_GATHER];
        CHECK(ag->ran && ag->nfail == 1 && ag->secs == 1.0);
        CHECK(strcmp(ag->msg, "rank 2: wrong value at 7") == 0);
        CHECK(rep->smoke[TACL_DOCTOR_ALL_REDUCE].nfail == 0);
        CHECK(rep->smoke[TACL_DOCTOR_ALL_REDUCE].msg[0] == '\0');
        CHECK(!rep->smoke[TACL_DOCTOR_ROUTED].ran);
        CHECK(strcmp(rep->smoke[TACL_DOCTOR_ROUTED].msg, "one host") == 0);
    }
    /* 6. CPUs, as each rank reported them. */
    tacl__doctor_cpu_t cpu = {.known = 1, .online = 16, .quota = r, .group = 100u + (unsigned)r};
    cpu.mask[0] = (uint8_t)(1u << r);
    CHECK_OK(tacl__doctor_send_cpu(&ctx, &cpu, rep, &eb));
    if (r == 0)
        for (int q = 0; q < n; q++)
            CHECK(rep->cpu[q].known == 1 && rep->cpu[q].quota == q &&
                  rep->cpu[q].group == 100u + (unsigned)q && rep->cpu[q].mask[0] == 1u << q);
    CHECK_OK(boot_store_barrier(&ctx, &eb));
    tacl__doctor_report_destroy(rep);
    tacl_store_close(st);
}

typedef struct {
    const char *name;
    int n;
    void (*fn)(int, int);
} sc_scenario_t;

static const sc_scenario_t sc_scenarios[] = {
    {"ag64", 64, sc_ag_rank},
    {"mismatch", 2, sc_mismatch_rank},
    {"timeout", 3, sc_timeout_rank},
    {"share", 8, sc_share_rank},
    {"root", 16, sc_root_rank},
    {"rootbig", 5, sc_rootbig_rank},
    {"roottimeout", 3, sc_roottimeout_rank},
    {"doctor", SC_DOC_N, sc_doctor_rank},
};

int main(int argc, char **argv)
{
    if (argc < 2) FAIL("usage: store_coll SCENARIO (see the file's head)");
    const sc_scenario_t *sc = NULL;
    for (size_t i = 0; i < sizeof sc_scenarios / sizeof *sc_scenarios; i++)
        if (!strcmp(argv[1], sc_scenarios[i].name)) sc = &sc_scenarios[i];
    if (!sc) FAIL("unknown scenario '%s'", argv[1]);
    sc_res = mmap(NULL, sizeof *sc_res * SC_MAX, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                  -1, 0);
    CHECK(sc_res != MAP_FAILED);
    sc_parent = getpid();
    atexit(sc_kill_all);
    CHECK(pipe(sc_port_pipe) == 0);
    sc_spawn(sc->n, sc->fn);
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
    } else if (!strcmp(argv[1], "rootbig")) {
        sc_wait();
        for (int r = 0; r < 5; r++)
            CHECK(sc_res[r].status == TACL_OK);
        int64_t nk;
        CHECK_OK(tacl_store_num_keys(st, &nk));
        CHECK(nk == 0); /* the root deleted the records */
    } else if (!strcmp(argv[1], "roottimeout")) {
        sc_wait();
        CHECK(sc_res[0].status == TACL_ERR_TIMEOUT);
        CHECK_CONTAINS(sc_res[0].msg, "rank 0 of 3: store gather #0 to rank 0 under 'rt/'");
        CHECK_CONTAINS(sc_res[0].msg, "'rt/0/2'");
        CHECK(sc_res[1].status == TACL_OK && sc_res[1].elapsed < 0.4);
    } else {
        sc_wait(); /* root, doctor: the ranks checked everything */
        int64_t nk;
        CHECK_OK(tacl_store_num_keys(st, &nk));
        CHECK(nk == 1); /* the closing barrier's result */
    }
    tacl_store_close(st);
    tacl_store_server_stop(srv);
    printf("store_coll %s: ok\n", argv[1]);
    return 0;
}
