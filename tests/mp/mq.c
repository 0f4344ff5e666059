/* mq.c — the broadcast message queue (tacl_mq_*) with forked ranks: every message checked
 * (content and order) for sizes from 0 bytes to several rings, with views, copies and a buffer
 * too small, on 1, 3 and 7 readers of one host and on fake hosts (host leaders passing messages
 * on through their hosts' rings); the ring wraps around many times; views on the writer's host
 * lie in the shared segment; creation errors (mismatched options, a ring larger than /dev/shm);
 * a killed reader and a killed writer (TACL_ERR_PEER_LOST naming them, within seconds); a
 * stopped reader (on the writer's host, or a remote host's leader) named in the writer's
 * timeout (rank, host, messages behind), after which the
 * queue still works; an idle blocked reader's CPU measured from /proc; no segment left in
 * /dev/shm. `--env MODE` runs one rank of a job started elsewhere (tests/netns/mq_chain.sh). */
#include "check.h"
#include "clock.h"
#include "mp_world.h"

#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

static const size_t sizes_small[] = {0,    1,    7,    64,   255,  256,  257,  1000,
                                     1024, 2047, 2048, 2049, 3000, 5000, 8205, 40};
#define NSIZES (sizeof sizes_small / sizeof sizes_small[0])

static uint8_t pat(uint64_t msg, size_t j)
{
    return (uint8_t)(msg * 131u + j * 7u + (j >> 8) + 1u);
}

static void fill(uint8_t *b, uint64_t msg, size_t len)
{
    for (size_t j = 0; j < len; j++)
        b[j] = pat(msg, j);
}

static void expect(const void *p, size_t len, uint64_t msg, size_t want, int rank)
{
    if (len != want) {
        fprintf(stderr, "rank %d: message %llu has %zu bytes, expected %zu\n", rank,
                (unsigned long long)msg, len, want);
        exit(1);
    }
    const uint8_t *b = p;
    for (size_t j = 0; j < len; j++)
        if (b[j] != pat(msg, j)) {
            fprintf(stderr, "rank %d: message %llu byte %zu is %u, expected %u\n", rank,
                    (unsigned long long)msg, j, b[j], pat(msg, j));
            exit(1);
        }
}

/* 1 when p lies in a mapping of a tacl-mq shared segment (the zero-copy view). */
static int in_mq_segment(const void *p)
{
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f);
    char line[512];
    int found = 0;
    uintptr_t a = (uintptr_t)p;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) != 2) continue;
        if (a >= lo && a < hi && strstr(line, "tacl-mq-")) found = 1;
    }
    fclose(f);
    return found;
}

/* Publishes this rank's pid; returns every rank's (through the store). */
static int *share_pids(tacl_comm_t *w)
{
    int n = tacl_comm_size(w), me = tacl_comm_rank(w);
    int *pids = calloc((size_t)n, sizeof *pids);
    CHECK(pids);
    int32_t mine = (int32_t)getpid(), *all = calloc((size_t)n, sizeof *all);
    CHECK(all);
    CHECK_OK(tacl_all_gather(w, &mine, all, 1, TACL_INT32));
    for (int r = 0; r < n; r++)
        pids[r] = all[r];
    free(all);
    (void)me;
    return pids;
}

/* No /dev/shm entry made by any of these pids (segment names carry their creator's pid). */
static void check_no_segments(const int *pids, int n)
{
    DIR *d = opendir("/dev/shm");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid;
        if (sscanf(e->d_name, "tacl-mq-%d-", &pid) != 1) continue;
        for (int r = 0; r < n; r++)
            if (pid == pids[r]) {
                fprintf(stderr, "left in /dev/shm: %s\n", e->d_name);
                exit(1);
            }
    }
    closedir(d);
}

/* Store-based meeting point that does not use the queue or the links. */
static void meet(tacl_comm_t *w, const char *name)
{
    tacl_store_t *st = tacl_comm_store(w);
    char key[96], go[112];
    snprintf(key, sizeof key, "mq-meet-%s", name);
    snprintf(go, sizeof go, "%s-go", key);
    int64_t v = 0;
    CHECK_OK(tacl_store_add(st, key, 1, &v));
    if (v == tacl_comm_size(w)) CHECK_OK(tacl_store_set(st, go, "1", 1));
    const char *keys[] = {go};
    CHECK_OK(tacl_store_wait(st, keys, 1));
}

/* ---- Every message checked. ---- */

static void stream(tacl_comm_t *w, tacl_mq_t *q, const size_t *sizes, int nsizes, int count,
                   int check_views)
{
    int me = tacl_comm_rank(w);
    size_t maxlen = 0;
    for (int i = 0; i < nsizes; i++)
        if (sizes[i] > maxlen) maxlen = sizes[i];
    uint8_t *buf = malloc(maxlen + 1);
    CHECK(buf);
    int local_writer = !strcmp(tacl_comm_host_id(w, me), tacl_comm_host_id(w, 0));
    for (int i = 0; i < count; i++) {
        size_t len = sizes[i % nsizes];
        if (me == 0) {
            fill(buf, (uint64_t)i, len);
            CHECK_OK(tacl_mq_enqueue(q, buf, len));
            continue;
        }
        size_t got = 12345;
        switch (i % 3) {
        case 0: {
            const void *v = NULL;
            CHECK_OK(tacl_mq_dequeue(q, &v, &got));
            expect(v, got, (uint64_t)i, len, me);
            /* A second dequeue before release is refused. */
            if (i % 30 == 0) {
                const void *v2;
                size_t l2;
                CHECK_ST(tacl_mq_dequeue(q, &v2, &l2), TACL_ERR_INVALID);
                CHECK_CONTAINS(tacl_mq_last_error(q), "tacl_mq_release first");
            }
            if (check_views && local_writer && len && len <= (size_t)check_views && i % 10 == 0)
                CHECK(in_mq_segment(v));
            CHECK_OK(tacl_mq_release(q));
            break;
        }
        case 1:
            CHECK_OK(tacl_mq_dequeue_into(q, buf, maxlen, &got));
            expect(buf, got, (uint64_t)i, len, me);
            break;
        default:
            if (len > 0) {
                got = 0;
                CHECK_ST(tacl_mq_dequeue_into(q, buf, len - 1, &got), TACL_ERR_INVALID);
                CHECK(got == len);
                CHECK_CONTAINS(tacl_mq_last_error(q), "stays queued");
            }
            CHECK_OK(tacl_mq_dequeue_into(q, buf, len, &got));
            expect(buf, got, (uint64_t)i, len, me);
            break;
        }
    }
    free(buf);
}

static int basic_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int n = tacl_comm_size(w), me = tacl_comm_rank(w);
    int *pids = share_pids(w);
    /* Small ring (8 chunks of 256 bytes): messages span chunks, skip to the ring's start, exceed
     * the ring (streamed), and the ring wraps around about a hundred times. */
    tacl_mq_opts_t small = {256, 8, 0};
    tacl_mq_t *q = NULL;
    CHECK_OK(tacl_mq_create(w, 0, &small, &q));
    check_no_segments(pids, n); /* unlinked as soon as every rank has mapped it */
    /* Role errors. */
    if (me == 0) {
        const void *v;
        size_t l;
        CHECK_ST(tacl_mq_dequeue(q, &v, &l), TACL_ERR_INVALID);
        CHECK_CONTAINS(tacl_mq_last_error(q), "is the writer");
    } else {
        CHECK_ST(tacl_mq_enqueue(q, "x", 1), TACL_ERR_INVALID);
        CHECK_CONTAINS(tacl_mq_last_error(q), "is a reader of this queue (the writer is rank 0)");
        CHECK_ST(tacl_mq_release(q), TACL_ERR_INVALID);
    }
    stream(w, q, sizes_small, (int)NSIZES, 320, 2048);
    tacl_mq_destroy(q);
    /* Default sizes (64 KiB x 128): up to 1 MiB, read in place even across chunks. */
    static const size_t big[] = {100, 70000, 1 << 20, 3, 524288 + 5, 65536, 0, 1 << 20};
    CHECK_OK(tacl_mq_create(w, 0, NULL, &q));
    stream(w, q, big, 8, 24, 8 << 20);
    tacl_mq_destroy(q);
    /* A writer in the middle of the ranks (not the first of its host). */
    if (n > 2) {
        tacl_mq_opts_t o = {512, 4, 0};
        CHECK_OK(tacl_mq_create(w, n - 1, &o, &q));
        uint8_t b[3000];
        for (int i = 0; i < 40; i++) {
            size_t len = (size_t)(i * 73) % sizeof b;
            size_t got;
            if (me == n - 1) {
                fill(b, (uint64_t)i, len);
                CHECK_OK(tacl_mq_enqueue(q, b, len));
            } else {
                CHECK_OK(tacl_mq_dequeue_into(q, b, sizeof b, &got));
                expect(b, got, (uint64_t)i, len, me);
            }
        }
        tacl_mq_destroy(q);
    }
    check_no_segments(pids, n);
    free(pids);
    return 0;
}

/* ---- Creation errors. ---- */

static int errors_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    tacl_mq_t *q = NULL;
    CHECK_ST(tacl_mq_create(w, me == 1 ? 1 : 0, NULL, &q), TACL_ERR_MISMATCH);
    CHECK_CONTAINS(tacl_comm_last_error(w), "rank 1 passed writer 1");
    CHECK(q == NULL);
    CHECK_ST(tacl_mq_create(w, n, NULL, &q), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "writer 3 out of range");
    tacl_mq_opts_t bad = {16, 8, 0};
    CHECK_ST(tacl_mq_create(w, 0, &bad, &q), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "chunk bytes 64..");
    /* A ring larger than /dev/shm's free space: refused with the figures, not a later SIGBUS. */
    struct statvfs sv;
    CHECK(statvfs("/dev/shm", &sv) == 0);
    unsigned long long avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
    if (avail < (1ull << 38)) {
        tacl_mq_opts_t huge = {1u << 30, (size_t)(avail >> 30) + 2, 0};
        CHECK_ST(tacl_mq_create(w, 0, &huge, &q), TACL_ERR_NOMEM);
        const char *m = tacl_comm_last_error(w);
        CHECK_CONTAINS(m, "/dev/shm has only");
        CHECK_CONTAINS(m, "tacl_mq_create");
        CHECK(q == NULL);
    }
    /* The communicator and a queue still work afterwards; a reader's timeout names the writer
     * and leaves the queue usable. */
    CHECK_OK(tacl_mq_create(w, 0, NULL, &q));
    uint64_t x = 42;
    size_t got;
    if (me == 0) {
        meet(w, "timed-out");
        CHECK_OK(tacl_mq_enqueue(q, &x, sizeof x));
    } else {
        x = 0;
        tacl_comm_set_timeout(w, 0.3);
        uint64_t t0 = tacl__now_ns();
        CHECK_ST(tacl_mq_dequeue_into(q, &x, sizeof x, &got), TACL_ERR_TIMEOUT);
        double el = (double)(tacl__now_ns() - t0) * 1e-9;
        CHECK(el >= 0.29 && el < 3.0);
        CHECK_CONTAINS(tacl_mq_last_error(q), "message queue written by rank 0 (host ");
        tacl_comm_set_timeout(w, 30);
        meet(w, "timed-out");
        CHECK_OK(tacl_mq_dequeue_into(q, &x, sizeof x, &got));
        CHECK(got == sizeof x && x == 42);
    }
    tacl_mq_destroy(q);
    /* The writer closes after 3 messages: readers get all 3, then TACL_ERR_CLOSED. */
    CHECK_OK(tacl_mq_create(w, 0, NULL, &q));
    for (uint64_t i = 0; i < 3; i++) {
        if (me == 0) {
            CHECK_OK(tacl_mq_enqueue(q, &i, sizeof i));
        } else {
            CHECK_OK(tacl_mq_dequeue_into(q, &x, sizeof x, &got));
            CHECK(got == sizeof x && x == i);
        }
    }
    if (me == 0) {
        tacl_mq_destroy(q);
        return 0;
    }
    CHECK_ST(tacl_mq_dequeue_into(q, &x, sizeof x, &got), TACL_ERR_CLOSED);
    CHECK_CONTAINS(tacl_mq_last_error(q), "closed the queue");
    printf("rank %d: %s\n", me, tacl_mq_last_error(q));
    tacl_mq_destroy(q);
    return 0;
}

/* ---- Faults. ---- */

/* victim is killed (SIGKILL) after every rank has read 20 messages; the others must get
 * TACL_ERR_PEER_LOST naming it within seconds. */
static int kill_body(tacl_comm_t *w, void *arg)
{
    int victim = *(int *)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    int *pids = share_pids(w);
    tacl_mq_opts_t o = {256, 8, 0};
    tacl_mq_t *q = NULL;
    CHECK_OK(tacl_mq_create(w, 0, &o, &q));
    stream(w, q, sizes_small, (int)NSIZES, 20, 0);
    meet(w, "killed");
    if (me == victim) raise(SIGKILL);
    uint64_t t0 = tacl__now_ns();
    tacl_status_t st = TACL_OK;
    uint8_t b[64] = {0};
    for (int i = 0; i < 100000 && st == TACL_OK; i++) {
        if (me == 0) {
            st = tacl_mq_enqueue(q, b, sizeof b);
            usleep(1000);
        } else {
            size_t got;
            st = tacl_mq_dequeue_into(q, b, sizeof b, &got);
        }
    }
    double el = (double)(tacl__now_ns() - t0) * 1e-9;
    CHECK_ST(st, TACL_ERR_PEER_LOST);
    char want[32];
    snprintf(want, sizeof want, "rank %d", victim);
    CHECK_CONTAINS(tacl_mq_last_error(q), want);
    CHECK(el < 10.0);
    /* The queue stays failed. */
    if (me == 0)
        CHECK_ST(tacl_mq_enqueue(q, b, 1), TACL_ERR_PEER_LOST);
    else {
        size_t got;
        CHECK_ST(tacl_mq_dequeue_into(q, b, sizeof b, &got), TACL_ERR_PEER_LOST);
    }
    CHECK_CONTAINS(tacl_mq_last_error(q), want);
    printf("rank %d: %s after %.2f s: %s\n", me, tacl_status_name(st), el, tacl_mq_last_error(q));
    /* The engine learns of the death too (a ring's pid check may see it first). */
    for (int i = 0; i < 500 && tacl_comm_peer_alive(w, victim); i++)
        usleep(10000);
    CHECK(!tacl_comm_peer_alive(w, victim));
    tacl_mq_destroy(q);
    check_no_segments(pids, n);
    free(pids);
    return 0;
}

/* The writer stops reader 2 (SIGSTOP), fills the ring, and must time out naming it by rank and
 * host with how far behind it is; after SIGCONT the queue carries on and every reader gets
 * every message. */
static int stall_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w);
    int *pids = share_pids(w);
    tacl_mq_opts_t o = {256, 8, 0};
    tacl_mq_t *q = NULL;
    CHECK_OK(tacl_mq_create(w, 0, &o, &q));
    uint8_t b[200];
    int total = 40;
    if (me == 0) {
        meet(w, "stall");
        usleep(100000);
        CHECK(kill(pids[2], SIGSTOP) == 0);
        tacl_comm_set_timeout(w, 1.5);
        tacl_status_t st = TACL_OK;
        int sent = 0;
        uint64_t t0 = tacl__now_ns();
        for (; sent < total && st == TACL_OK; sent++) {
            fill(b, (uint64_t)sent, sizeof b);
            st = tacl_mq_enqueue(q, b, sizeof b);
        }
        double el = (double)(tacl__now_ns() - t0) * 1e-9;
        kill(pids[2], SIGCONT);
        CHECK_ST(st, TACL_ERR_TIMEOUT);
        sent--; /* the one that failed was not queued */
        const char *m = tacl_mq_last_error(q);
        printf("writer: %s after %.2f s: %s\n", tacl_status_name(st), el, m);
        CHECK_CONTAINS(m, "rank 2 (host ");
        CHECK_CONTAINS(m, tacl_comm_host_id(w, 2));
        CHECK_CONTAINS(m, "8 message(s) behind");
        CHECK_CONTAINS(m, "full for");
        CHECK(strstr(m, "rank 1 (") == NULL && strstr(m, "rank 3 (") == NULL);
        const char *np = strstr(m, "no progress for ");
        CHECK(np);
        double stuck = atof(np + strlen("no progress for "));
        CHECK(stuck >= 1.4 && stuck < 6.0);
        CHECK(el >= 1.4 && el < 6.0);
        tacl_comm_set_timeout(w, 20);
        for (; sent < total; sent++) {
            fill(b, (uint64_t)sent, sizeof b);
            CHECK_OK(tacl_mq_enqueue(q, b, sizeof b));
        }
    } else {
        meet(w, "stall");
        for (int i = 0; i < total; i++) {
            size_t got;
            CHECK_OK(tacl_mq_dequeue_into(q, b, sizeof b, &got));
            expect(b, got, (uint64_t)i, sizeof b, me);
        }
    }
    tacl_mq_destroy(q);
    free(pids);
    return 0;
}

/* Sum of the run time of every thread of pid, in ns (/proc/<pid>/task/<tid>/schedstat). */
static uint64_t proc_cpu_ns(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    CHECK(d);
    uint64_t sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[320];
        snprintf(p, sizeof p, "/proc/%d/task/%s/schedstat", pid, e->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        unsigned long long ns = 0;
        if (fscanf(f, "%llu", &ns) == 1) sum += ns;
        fclose(f);
    }
    closedir(d);
    return sum;
}

/* Readers block in dequeue; after 0.3 s the writer measures their CPU over 2 s, then wakes them
 * with a message stamped with its send time. */
static int idle_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    int *pids = share_pids(w);
    tacl_mq_t *q = NULL;
    CHECK_OK(tacl_mq_create(w, 0, NULL, &q));
    uint64_t stamp;
    size_t got;
    meet(w, "idle");
    if (me == 0) {
        usleep(300000);
        uint64_t c0[8], t0 = tacl__now_ns();
        for (int r = 1; r < n; r++)
            c0[r] = proc_cpu_ns(pids[r]);
        usleep(2000000);
        double el = (double)(tacl__now_ns() - t0);
        for (int r = 1; r < n; r++) {
            double pct = 100.0 * (double)(proc_cpu_ns(pids[r]) - c0[r]) / el;
            printf("reader rank %d: %.3f%% CPU while blocked for 2 s\n", r, pct);
            CHECK(pct < 2.0);
        }
        stamp = tacl__now_ns();
        CHECK_OK(tacl_mq_enqueue(q, &stamp, sizeof stamp));
    } else {
        CHECK_OK(tacl_mq_dequeue_into(q, &stamp, sizeof stamp, &got));
        double us = (double)(tacl__now_ns() - stamp) * 1e-3;
        printf("reader rank %d: woke %.1f us after the enqueue\n", me, us);
        CHECK(got == sizeof stamp);
        CHECK(us < 100000.0);
    }
    tacl_mq_destroy(q);
    free(pids);
    return 0;
}

/* ---- Driver. ---- */

static int run(const char *name, int n, mpw_body_t body, void *arg, const char *hosts,
               const char *env, int victim)
{
    mpw_opts_t o = {.timeout_s = 120, .host_ids = hosts, .env = env};
    int rc = mpw_run(n, body, arg, &o);
    if (victim >= 0) {
        for (int r = 0; r < n; r++)
            if (r != victim && mpw_rank_status(r) != 0) {
                fprintf(stderr, "%s: rank %d failed\n", name, r);
                return 1;
            }
        CHECK(mpw_rank_signal(victim) == SIGKILL);
        rc = 0;
    }
    printf("%s: %d ranks%s%s: %s\n", name, n, hosts ? " on " : "", hosts ? hosts : "",
           rc ? "FAILED" : "ok");
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 2 && !strcmp(argv[1], "--env")) {
        tacl_comm_t *w;
        tacl_status_t st = tacl_init(&w);
        if (st != TACL_OK) {
            fprintf(stderr, "tacl_init: %s: %s\n", tacl_status_name(st), tacl_last_error());
            return 3;
        }
        int rc = basic_body(w, NULL);
        printf("mq rank %d of %d: %s\n", tacl_comm_rank(w), tacl_comm_size(w),
               rc ? "FAILED" : "ok");
        tacl_comm_destroy(w);
        return rc;
    }
    const char *mode = argc > 1 ? argv[1] : "basic";
    const char *env = "TACL_TIMEOUT=30";
    if (!strcmp(mode, "basic")) {
        int readers = argc > 2 ? atoi(argv[2]) : 1;
        return run("basic", readers + 1, basic_body, NULL, NULL, env, -1);
    }
    if (!strcmp(mode, "hosts")) /* writer's host, a host of three (leader + ring), a lone host */
        return run("hosts", 6, basic_body, NULL, "hA,hA,hB,hB,hB,hC", env, -1);
    if (!strcmp(mode, "errors")) {
        int rc = run("errors", 3, errors_body, NULL, NULL, env, -1);
        return rc ? rc : run("errors", 3, errors_body, NULL, "hA,hB,hB", env, -1);
    }
    if (!strcmp(mode, "kill_reader")) {
        int v = 2;
        int rc = run("kill_reader", 4, kill_body, &v, NULL, env, v);
        return rc ? rc : run("kill_reader", 4, kill_body, &v, "hA,hA,hB,hB", env, v);
    }
    if (!strcmp(mode, "kill_writer")) {
        int v = 0;
        int rc = run("kill_writer", 4, kill_body, &v, NULL, env, v);
        return rc ? rc : run("kill_writer", 4, kill_body, &v, "hA,hA,hB,hB", env, v);
    }
    if (!strcmp(mode, "stall")) { /* rank 2: a reader of the writer's ring; a remote leader */
        const char *e = "TACL_TIMEOUT=30;TACL_HEARTBEAT=3";
        int rc = run("stall", 4, stall_body, NULL, NULL, e, -1);
        return rc ? rc : run("stall", 4, stall_body, NULL, "hA,hA,hB,hB", e, -1);
    }
    if (!strcmp(mode, "idle")) { /* readers of the writer's ring; a remote leader and its ring */
        int rc = run("idle", 3, idle_body, NULL, NULL, env, -1);
        return rc ? rc : run("idle", 3, idle_body, NULL, "hA,hB,hB", env, -1);
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
