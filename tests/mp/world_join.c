/* world_join.c — boot_world_join with ranks as processes (fork). One scenario per CTest entry
 * (argv[1]): agree (8 ranks on two host ids: rank, local rank/size, gathered host ids and pids,
 * an all-gather and a barrier through the world's xchg), runid and size (a rank of another job
 * or world size refused with both values and the store address; the others time out naming the
 * missing rank), dup (a second process claiming rank 2 refused naming both claimants), existing
 * (a store already running at the address is used, and cleaned when the last rank leaves),
 * unreachable (address and OS error), leave (the host's leave waits for connected ranks only
 * up to the grace; a rank's leave does not hang when the store is gone), leavewait (the host,
 * knowing a rank may never leave, still waits for ranks leaving one after another), busy (rank 0
 * finds the port taken by something that is not a store: it fails within seconds). Children report
 * through a shared mapping; the parent kills every child it started on exit. */
#include "boot/store_int.h"
#include "boot/world.h"
#include "check.h"
#include "clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define WJ_MAX 16

typedef struct {
    int done, status, rank, size, local_rank, local_size, hosting, pid;
    int pids[WJ_MAX];
    char host_ids[WJ_MAX][64];
    double elapsed;
    char msg[1024];
} wj_result_t;

static wj_result_t *wj_res;
static pid_t wj_pids[WJ_MAX + 1];
static int wj_n;
static int wj_port;
static char wj_run[64];
static int wj_base; /* the test's pid: host ids are unique to this run */

static pid_t wj_parent;
static int wj_go[2]; /* "existing": the ranks start once the parent's store is up */

static void wj_kill_all(void)
{
    if (getpid() != wj_parent) return; /* a child exiting on a failed CHECK */
    for (int i = 0; i < wj_n; i++) {
        if (wj_pids[i] > 0) {
            kill(wj_pids[i], SIGKILL);
            waitpid(wj_pids[i], NULL, 0);
            wj_pids[i] = 0;
        }
    }
}

static int wj_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof sa;
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void wj_bs(tacl_bootstrap_t *bs, int rank, int size, const char *run)
{
    memset(bs, 0, sizeof *bs);
    bs->launcher = TACL_LAUNCHER_EXPLICIT;
    bs->rank = rank;
    bs->size = size;
    bs->local_size = -1;
    snprintf(bs->master_addr, sizeof bs->master_addr, "127.0.0.1");
    bs->master_port = wj_port;
    snprintf(bs->run_id, sizeof bs->run_id, "%s", run);
}

/* Blocks (in a child) until key exists at the store, through a separate handle. */
static void wj_wait_key(const char *key)
{
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", wj_port, 10, &st));
    const char *k[1] = {key};
    CHECK_OK(tacl_store_wait(st, k, 1));
    tacl_store_close(st);
}

static void wj_set_key(const char *key)
{
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", wj_port, 10, &st));
    CHECK_OK(tacl_store_set(st, key, "1", 1));
    tacl_store_close(st);
}

/* Joins as slot idx and records the outcome; on success leaves again unless keep is set. */
static int wj_join(int idx, const tacl_bootstrap_t *bs, const char *host, double tmo,
                   boot_world_t *w)
{
    wj_result_t *r = &wj_res[idx];
    r->pid = getpid();
    tacl__errbuf_t eb = {{0}};
    double t0 = tacl__now_s();
    tacl_status_t st = boot_world_join(bs, host, tmo, w, &eb);
    r->elapsed = tacl__now_s() - t0;
    r->status = st;
    snprintf(r->msg, sizeof r->msg, "%s", eb.msg);
    if (st == TACL_OK) {
        r->rank = w->rank;
        r->size = w->size;
        r->local_rank = w->local_rank;
        r->local_size = w->local_size;
        r->hosting = w->server != NULL;
        for (int i = 0; i < w->size && i < WJ_MAX; i++) {
            r->pids[i] = w->pids[i];
            snprintf(r->host_ids[i], sizeof r->host_ids[i], "%s", w->host_ids[i]);
        }
    }
    r->done = 1;
    return st;
}

static void wj_spawn(int idx, void (*fn)(int))
{
    fflush(NULL);
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) {
        fn(idx);
        _exit(0);
    }
    wj_pids[wj_n++] = p;
}

/* Waits for every child; fails the test when one crashes or all do not end within t. */
static void wj_wait_all(double t)
{
    uint64_t deadline = tacl__deadline_ns(t);
    int left = wj_n;
    while (left) {
        for (int i = 0; i < wj_n; i++) {
            if (wj_pids[i] <= 0) continue;
            int ws;
            pid_t p = waitpid(wj_pids[i], &ws, WNOHANG);
            if (p == 0) continue;
            wj_pids[i] = 0;
            left--;
            if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
                fprintf(stderr, "child %d ended with status 0x%x\n", i, ws);
                exit(1);
            }
        }
        if (left && tacl__now_ns() > deadline) {
            fprintf(stderr, "children still running after %.0f s\n", t);
            exit(1);
        }
        usleep(5000);
    }
}

static const char *wj_host(int rank)
{
    static char h[64];
    int a = rank == 0 || rank == 2 || rank == 4 || rank >= 6;
    snprintf(h, sizeof h, "host%c-%d", a ? 'A' : 'B', wj_base);
    return h;
}

/* ---- agree ---- */
static void wj_agree_child(int r)
{
    tacl_bootstrap_t bs;
    wj_bs(&bs, r, 8, wj_run);
    boot_world_t w;
    char host[64];
    snprintf(host, sizeof host, "%s", wj_host(r));
    CHECK_OK(wj_join(r, &bs, host, 20, &w));
    /* An all-gather through the world's exchange, values from every rank checked. */
    struct {
        int64_t v;
        char name[8];
    } mine = {.v = r * 1000 + 7}, all[8];
    snprintf(mine.name, sizeof mine.name, "r%d", r);
    tacl__errbuf_t eb;
    for (int round = 0; round < 3; round++) {
        mine.v = r * 1000 + 7 + round;
        CHECK_OK(tacl__xchg_allgather(&w.xchg, &mine, sizeof mine, all, &eb));
        for (int i = 0; i < 8; i++) {
            char want[8];
            snprintf(want, sizeof want, "r%d", i);
            CHECK(all[i].v == i * 1000 + 7 + round && !strcmp(all[i].name, want));
        }
    }
    CHECK_OK(boot_store_barrier(&w.xctx, &eb));
    boot_world_leave(&w);
}

static void wj_agree(void)
{
    for (int r = 0; r < 8; r++)
        wj_spawn(r, wj_agree_child);
    wj_wait_all(30);
    int la = 0, lb = 0;
    for (int r = 0; r < 8; r++) {
        wj_result_t *x = &wj_res[r];
        CHECK(x->done && x->status == TACL_OK && x->rank == r && x->size == 8);
        CHECK(x->hosting == (r == 0));
        const char *h = wj_host(r);
        int want_lr = h[4] == 'A' ? la++ : lb++;
        CHECK(x->local_rank == want_lr);
        CHECK(x->local_size == (h[4] == 'A' ? 5 : 3));
        for (int i = 0; i < 8; i++) {
            CHECK(x->pids[i] == wj_res[i].pid);
            CHECK(!strcmp(x->host_ids[i], wj_host(i)));
        }
    }
}

/* ---- runid / size: one rank of another job or world size ---- */
static int wj_odd;          /* the rank that differs */
static const char *wj_mode; /* "runid" or "size" */

static void wj_mismatch_child(int r)
{
    tacl_bootstrap_t bs;
    int odd = r == wj_odd;
    wj_bs(&bs, r, odd && !strcmp(wj_mode, "size") ? 9 : 8,
          odd && !strcmp(wj_mode, "runid") ? "other-job" : wj_run);
    if (odd) wj_wait_key("tacl/run"); /* the job has met: this rank comes second */
    boot_world_t w;
    /* Rank 0 hosts the store: it waits longest so that the others' timeouts come from it. */
    if (wj_join(r, &bs, wj_host(r), odd ? 5 : r == 0 ? 3.5 : 2.0, &w) == TACL_OK)
        boot_world_leave(&w);
}

static void wj_mismatch(const char *mode, int odd)
{
    wj_mode = mode;
    wj_odd = odd;
    for (int r = 0; r < 8; r++)
        wj_spawn(r, wj_mismatch_child);
    wj_wait_all(30);
    char addr[64], missing[96];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", wj_port);
    snprintf(missing, sizeof missing, "'tacl/%s/rank/%d'", wj_run, odd);
    for (int r = 0; r < 8; r++) {
        wj_result_t *x = &wj_res[r];
        CHECK(x->done);
        if (r == odd) {
            CHECK(x->status == TACL_ERR_BOOTSTRAP);
            CHECK_CONTAINS(x->msg, addr);
            if (!strcmp(mode, "runid")) {
                CHECK_CONTAINS(x->msg, "run id 'other-job' differs from run id");
                CHECK_CONTAINS(x->msg, wj_run);
            } else {
                CHECK_CONTAINS(x->msg, "world size 9 differs from world size 8");
            }
            CHECK(x->elapsed < 3);
        } else {
            CHECK(x->status == TACL_ERR_TIMEOUT);
            CHECK_CONTAINS(x->msg, missing);
            CHECK_CONTAINS(x->msg, addr);
        }
    }
}

/* ---- dup: a ninth process claims rank 2 ---- */
static void wj_dup_child(int idx)
{
    tacl_bootstrap_t bs;
    boot_world_t w;
    char key[128];
    if (idx == 8) {
        wj_bs(&bs, 2, 8, wj_run);
        snprintf(key, sizeof key, "tacl/%s/rank/2", wj_run);
        wj_wait_key(key);
        wj_join(idx, &bs, "hostDup", 5, &w);
        wj_set_key("test/dup-tried");
        return;
    }
    wj_bs(&bs, idx, 8, wj_run);
    CHECK_OK(wj_join(idx, &bs, wj_host(idx), 20, &w));
    /* Stay in the world until the duplicate has been refused. */
    const char *k[1] = {"test/dup-tried"};
    CHECK_OK(tacl_store_wait(w.store, k, 1));
    boot_world_leave(&w);
}

static void wj_dup(void)
{
    for (int i = 0; i < 9; i++)
        wj_spawn(i, wj_dup_child);
    wj_wait_all(30);
    for (int r = 0; r < 8; r++)
        CHECK(wj_res[r].done && wj_res[r].status == TACL_OK && wj_res[r].rank == r);
    wj_result_t *d = &wj_res[8];
    CHECK(d->done && d->status == TACL_ERR_BOOTSTRAP);
    char want[160];
    snprintf(want, sizeof want, "first by host '%s' pid %d, then by host 'hostDup' pid %d",
             wj_host(2), wj_res[2].pid, d->pid);
    CHECK_CONTAINS(d->msg, "rank 2 of run");
    CHECK_CONTAINS(d->msg, want);
}

/* ---- existing: a store already runs at the address ---- */
static void wj_existing_child(int r)
{
    char go;
    if (read(wj_go[0], &go, 1) != 1) _exit(3);
    tacl_bootstrap_t bs;
    wj_bs(&bs, r, 8, wj_run);
    boot_world_t w;
    CHECK_OK(wj_join(r, &bs, wj_host(r), 20, &w));
    boot_world_leave(&w);
}

static void wj_existing(void)
{
    /* The ranks are forked before the server thread exists: a child of a threaded process
     * can inherit a lock held by another thread (sanitizer allocators). */
    CHECK(pipe(wj_go) == 0);
    for (int r = 0; r < 8; r++)
        wj_spawn(r, wj_existing_child);
    tacl_store_server_t *srv;
    CHECK_OK(tacl_store_server_start(NULL, wj_port, &srv));
    CHECK(write(wj_go[1], "gggggggg", 8) == 8);
    wj_wait_all(30);
    for (int r = 0; r < 8; r++)
        CHECK(wj_res[r].done && wj_res[r].status == TACL_OK && !wj_res[r].hosting);
    /* The last rank out deleted the job's keys and the run record. */
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", wj_port, 5, &st));
    int64_t n;
    CHECK_OK(tacl_store_num_keys(st, &n));
    CHECK(n == 0);
    tacl_store_close(st);
    tacl_store_server_stop(srv);
}

/* ---- unreachable ---- */
static void wj_unreachable(void)
{
    tacl_bootstrap_t bs;
    wj_bs(&bs, 1, 2, wj_run);
    boot_world_t w;
    CHECK(wj_join(0, &bs, "h", 0.5, &w) == TACL_ERR_UNREACHABLE);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", wj_port);
    CHECK_CONTAINS(wj_res[0].msg, "rank 1 of 2");
    CHECK_CONTAINS(wj_res[0].msg, addr);
    CHECK_CONTAINS(wj_res[0].msg, "Connection refused");
    CHECK(wj_res[0].elapsed >= 0.4 && wj_res[0].elapsed < 3);
}

/* ---- busy ---- */
/* Rank 0 finds the port taken by a socket that is bound but not listening (not a store): it
 * fails within its short busy wait (5 s), naming the port and what to do, instead of waiting
 * its whole timeout. The probe must see nothing answering, so the port is held on 0.0.0.0. */
static void wj_busy(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)wj_port)};
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    tacl_bootstrap_t bs;
    wj_bs(&bs, 0, 2, wj_run);
    boot_world_t w;
    CHECK(wj_join(0, &bs, "h", 30, &w) == TACL_ERR_BOOTSTRAP);
    char port[32];
    snprintf(port, sizeof port, "127.0.0.1:%d", wj_port);
    CHECK_CONTAINS(wj_res[0].msg, port);
    CHECK_CONTAINS(wj_res[0].msg, "the port is in use on this host");
    CHECK_CONTAINS(wj_res[0].msg, "TACL_MASTER_PORT");
    CHECK(wj_res[0].elapsed >= 4.0 && wj_res[0].elapsed < 10.0);
    close(fd);
}

/* ---- leave ---- */
static void wj_leave_child(int idx)
{
    tacl_bootstrap_t bs;
    boot_world_t w;
    int rank = idx % 2;
    wj_bs(&bs, rank, 2, wj_run);
    CHECK_OK(wj_join(idx, &bs, "h", 10, &w));
    if (idx == 1) {
        /* Rank 1 goes away without leaving; the host must not wait the grace for it. */
        wj_set_key("test/gone");
        _exit(0);
    }
    if (idx == 0) {
        const char *k[1] = {"test/gone"};
        CHECK_OK(tacl_store_wait(w.store, k, 1));
        usleep(100000);
        double t0 = tacl__now_s();
        boot_world_leave(&w);
        wj_res[0].elapsed = tacl__now_s() - t0;
        return;
    }
}

static void wj_leave(void)
{
    setenv("TACL_STORE_LEAVE_GRACE", "5", 1);
    wj_spawn(0, wj_leave_child);
    wj_spawn(1, wj_leave_child);
    wj_wait_all(20);
    CHECK(wj_res[0].elapsed < 1.0); /* no one left connected: no grace spent */

    /* A rank that stays connected but never leaves holds the host for the grace only. */
    setenv("TACL_STORE_LEAVE_GRACE", "0.5", 1);
    wj_port = wj_free_port();
    snprintf(wj_run, sizeof wj_run, "leave2-%d", (int)getpid());
    tacl_bootstrap_t bs;
    wj_bs(&bs, 0, 2, wj_run);
    boot_world_t w;
    pid_t p = fork();
    if (p == 0) {
        wj_bs(&bs, 1, 2, wj_run);
        boot_world_t w1;
        CHECK_OK(boot_world_join(&bs, "h", 10, &w1, NULL));
        pause(); /* hung, still connected; the parent kills it */
        _exit(0);
    }
    wj_pids[wj_n++] = p;
    CHECK_OK(boot_world_join(&bs, "h", 10, &w, NULL));
    double t0 = tacl__now_s();
    boot_world_leave(&w);
    double el = tacl__now_s() - t0;
    CHECK(el >= 0.4 && el < 3.0);

    /* A rank whose store host is gone leaves within its short leave bound. */
    wj_port = wj_free_port();
    snprintf(wj_run, sizeof wj_run, "leave3-%d", (int)getpid());
    p = fork();
    if (p == 0) {
        wj_bs(&bs, 0, 2, wj_run);
        boot_world_t w0;
        CHECK_OK(boot_world_join(&bs, "h", 10, &w0, NULL));
        const char *k[1] = {"test/joined1"};
        CHECK_OK(tacl_store_wait(w0.store, k, 1));
        _exit(0); /* the store dies with this process */
    }
    wj_pids[wj_n++] = p;
    wj_bs(&bs, 1, 2, wj_run);
    CHECK_OK(boot_world_join(&bs, "h", 10, &w, NULL));
    CHECK_OK(tacl_store_set(w.store, "test/joined1", "1", 1));
    waitpid(p, NULL, 0);
    wj_pids[wj_n - 1] = 0;
    t0 = tacl__now_s();
    boot_world_leave(&w);
    el = tacl__now_s() - t0;
    CHECK(el < 3.0);
}

/* ---- leavewait: the store's host, knowing a rank may never leave, still waits for the ranks
 * that are leaving one after another (each within the 2 s pause), instead of stopping the
 * store under them ---- */
static void wj_leavewait_child(int idx)
{
    tacl_bootstrap_t bs;
    boot_world_t w;
    wj_bs(&bs, idx, 4, wj_run);
    CHECK_OK(wj_join(idx, &bs, "h", 10, &w));
    if (idx == 0) {
        w.incomplete = 1;
        double t0 = tacl__now_s();
        boot_world_leave(&w);
        wj_res[0].elapsed = tacl__now_s() - t0;
        return;
    }
    usleep((useconds_t)idx * 1200000);
    boot_world_leave(&w);
}

static void wj_leavewait(void)
{
    setenv("TACL_STORE_LEAVE_GRACE", "10", 1);
    for (int r = 0; r < 4; r++)
        wj_spawn(r, wj_leavewait_child);
    wj_wait_all(30);
    /* Rank 3 leaves about 3.6 s after the others joined: waited for, and no longer than the
     * 2 s pause after it. */
    fprintf(stderr, "leavewait: the store's host left after %.2f s\n", wj_res[0].elapsed);
    CHECK(wj_res[0].elapsed > 3.0 && wj_res[0].elapsed < 6.0);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        FAIL("usage: world_join agree|runid|size|dup|existing|unreachable|leave|leavewait|busy");
    wj_res = mmap(NULL, sizeof *wj_res * (WJ_MAX + 1), PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(wj_res != MAP_FAILED);
    wj_parent = getpid();
    atexit(wj_kill_all);
    wj_base = (int)getpid();
    wj_port = wj_free_port();
    snprintf(wj_run, sizeof wj_run, "job-%d", (int)getpid());
    const char *s = argv[1];
    if (!strcmp(s, "agree"))
        wj_agree();
    else if (!strcmp(s, "runid"))
        wj_mismatch("runid", 5);
    else if (!strcmp(s, "size"))
        wj_mismatch("size", 3);
    else if (!strcmp(s, "dup"))
        wj_dup();
    else if (!strcmp(s, "existing"))
        wj_existing();
    else if (!strcmp(s, "unreachable"))
        wj_unreachable();
    else if (!strcmp(s, "leave"))
        wj_leave();
    else if (!strcmp(s, "leavewait"))
        wj_leavewait();
    else if (!strcmp(s, "busy"))
        wj_busy();
    else
        FAIL("unknown scenario '%s'", s);
    printf("world_join %s: ok\n", s);
    return 0;
}
