/* fault_stall.c — tacl_comm_destroy is bounded by what the library already knows. A rank
 * stopped with SIGSTOP (alive, silent) is declared stalled once every link to it has been
 * silent for 3.5 heartbeats: the survivors' collective fails naming it, tacl_comm_peer_alive
 * says 0 for it at once, and their destroy returns within seconds instead of waiting the whole
 * TACL_TIMEOUT at the leave barrier (with the store external, and hosted by rank 0, which must
 * not keep it up for the stopped rank's connection). A store that stopped answering (a store
 * call already timed out) is not waited for again by destroy. */
#include "check.h"
#include "clock.h"
#include "mp_world.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define STALL_TIMEOUT "TACL_TIMEOUT=60"

/* Everyone has finished the previous operation (met through the store) before one acts. */
static void stall_sync(tacl_comm_t *w, const char *name)
{
    tacl_store_t *store = tacl_comm_store(w);
    char add[64], go[64];
    snprintf(add, sizeof add, "%s-n", name);
    snprintf(go, sizeof go, "%s-go", name);
    int64_t arrived = 0;
    CHECK_OK(tacl_store_add(store, add, 1, &arrived));
    if (arrived == tacl_comm_size(w)) CHECK_OK(tacl_store_set(store, go, "1", 1));
    const char *keys[] = {go};
    CHECK_OK(tacl_store_wait(store, keys, 1));
}

static int stall_body(tacl_comm_t *unused, void *arg)
{
    (void)unused;
    (void)arg;
    tacl_comm_t *w;
    CHECK_OK(tacl_init(&w));
    int me = tacl_comm_rank(w), n = tacl_comm_size(w), victim = n - 1;
    size_t count = 1 << 12;
    float *x = calloc(count, sizeof *x);
    CHECK(x);
    CHECK_OK(tacl_all_reduce(w, x, x, count, TACL_FLOAT32, TACL_SUM));
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    if (me == victim) CHECK_OK(tacl_store_set(tacl_comm_store(w), "stall-pid", pid, strlen(pid)));
    stall_sync(w, "stall");
    if (me == victim) {
        raise(SIGSTOP);
        _exit(9); /* never reached: rank 0 kills it */
    }
    uint64_t t0 = tacl__now_ns();
    tacl_status_t st = TACL_OK;
    for (int i = 0; i < 100000 && st == TACL_OK; i++)
        st = tacl_all_reduce(w, x, x, count, TACL_FLOAT32, TACL_SUM);
    double el = (double)(tacl__now_ns() - t0) * 1e-9;
    CHECK(st != TACL_OK);
    char want[32];
    snprintf(want, sizeof want, "rank %d", victim);
    CHECK_CONTAINS(tacl_comm_last_error(w), want);
    CHECK(el < 20.0);
    /* Declared stalled by the error above: not alive, at once. */
    CHECK(tacl_comm_peer_alive(w, victim) == 0);
    for (int r = 0; r < victim; r++)
        CHECK(tacl_comm_peer_alive(w, r) == 1);
    void *vp;
    size_t vl;
    CHECK_OK(tacl_store_get(tacl_comm_store(w), "stall-pid", &vp, &vl));
    int vpid = atoi(vp);
    tacl_free(vp);
    uint64_t t1 = tacl__now_ns();
    tacl_comm_destroy(w);
    double dl = (double)(tacl__now_ns() - t1) * 1e-9;
    fprintf(stderr, "rank %d: error after %.1f s, destroy took %.2f s\n", me, el, dl);
    if (me == 0) kill(vpid, SIGKILL);
    free(x);
    CHECK(dl < 8.0);
    return 0;
}

static int store_body(tacl_comm_t *unused, void *arg)
{
    (void)unused;
    (void)arg;
    tacl_comm_t *w;
    CHECK_OK(tacl_init(&w));
    int me = tacl_comm_rank(w);
    CHECK_OK(tacl_barrier(w));
    if (me == 0) CHECK(kill(mpw_store_pid(), SIGSTOP) == 0);
    CHECK_OK(tacl_barrier(w));
    tacl_store_t *store = tacl_comm_store(w);
    tacl_store_set_timeout(store, 1.0);
    void *v;
    size_t l;
    CHECK_ST(tacl_store_get(store, "never-set", &v, &l), TACL_ERR_TIMEOUT);
    CHECK_CONTAINS(tacl_store_last_error(store), "no reply");
    uint64_t t1 = tacl__now_ns();
    tacl_comm_destroy(w);
    double dl = (double)(tacl__now_ns() - t1) * 1e-9;
    fprintf(stderr, "rank %d: destroy with a stopped store took %.2f s\n", me, dl);
    CHECK(dl < 8.0);
    if (me == 0) kill(mpw_store_pid(), SIGKILL);
    return 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &al) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void stall_case(const char *name, int n, const char *hosts, int own_store)
{
    char env[256];
    if (own_store)
        snprintf(env, sizeof env, "%s;TACL_MASTER_PORT=%d", STALL_TIMEOUT, free_port());
    else
        snprintf(env, sizeof env, "%s", STALL_TIMEOUT);
    mpw_opts_t o = {.timeout_s = 90, .no_init = 1, .host_ids = hosts, .env = env};
    mpw_run(n, stall_body, NULL, &o);
    for (int r = 0; r < n - 1; r++)
        if (mpw_rank_status(r) != 0) {
            fprintf(stderr, "%s: rank %d failed\n", name, r);
            exit(1);
        }
    CHECK(mpw_rank_signal(n - 1) == SIGKILL);
    printf("%s: ok\n", name);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    if (!strcmp(which, "all") || !strcmp(which, "shm"))
        stall_case("stall, one host, external store", 3, NULL, 0);
    if (!strcmp(which, "all") || !strcmp(which, "tcp"))
        stall_case("stall, three hosts, store on rank 0", 3, "hA,hB,hC", 1);
    if (!strcmp(which, "all") || !strcmp(which, "store")) {
        mpw_opts_t o = {.timeout_s = 60, .no_init = 1, .host_ids = "hA,hB", .env = STALL_TIMEOUT};
        CHECK(mpw_run(2, store_body, NULL, &o) == 0);
        printf("stopped store: ok\n");
    }
    return 0;
}
