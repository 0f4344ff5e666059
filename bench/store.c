/* store.c — benchmark of the rendezvous store: set+get pairs per second from 1, 8 and 64
 * client processes against a server on this host, and the wall time for 8 and 64 ranks
 * (processes, rank 0 hosting the store) to complete boot_world_join plus one all-gather,
 * measured from just before the first fork to the last rank's finish (CLOCK_MONOTONIC is
 * system-wide, so the ranks' timestamps compare). Prints a markdown table for
 * bench/RESULTS.md. usage: bench_store [--seconds S] */
#include "auth.h"
#include "boot/store_int.h"
#include "boot/world.h"
#include "clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BS_MAX 64

static int bs_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static int bs_wait_children(pid_t *kids, int n)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int ws;
        waitpid(kids[i], &ws, 0);
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) bad++;
    }
    return bad;
}

/* One client: waits for "go", then set+get of its own key until the time is up. */
static void bs_client(int port, int id, double seconds, uint64_t *pairs)
{
    tacl_store_t *st;
    if (tacl_store_connect("127.0.0.1", port, 30, &st) != TACL_OK) _exit(1);
    const char *go[1] = {"bench/go"};
    if (tacl_store_wait(st, go, 1) != TACL_OK) _exit(1);
    char key[32], val[32];
    snprintf(key, sizeof key, "bench/k/%d", id);
    uint64_t end = tacl__deadline_ns(seconds), n = 0;
    while (tacl__now_ns() < end) {
        int len = snprintf(val, sizeof val, "%d-%llu", id, (unsigned long long)n);
        void *v;
        size_t vl;
        if (tacl_store_set(st, key, val, (size_t)len) != TACL_OK) _exit(1);
        if (tacl_store_get(st, key, &v, &vl) != TACL_OK) _exit(1);
        if (vl != (size_t)len || memcmp(v, val, vl)) _exit(1);
        tacl_free(v);
        n++;
    }
    *pairs = n;
    tacl_store_close(st);
}

static int bs_ops(int nclients, double seconds)
{
    uint64_t *pairs = mmap(NULL, sizeof *pairs * BS_MAX, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    tacl_store_server_t *srv;
    if (pairs == MAP_FAILED || tacl_store_server_start("127.0.0.1", 0, &srv) != TACL_OK) {
        fprintf(stderr, "bench_store: cannot start a server: %s\n", tacl_last_error());
        return 1;
    }
    int port = tacl_store_server_port(srv);
    pid_t kids[BS_MAX];
    fflush(NULL);
    for (int i = 0; i < nclients; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            bs_client(port, i, seconds, &pairs[i]);
            _exit(0);
        }
    }
    tacl_store_t *st;
    if (tacl_store_connect("127.0.0.1", port, 10, &st) != TACL_OK) return 1;
    uint64_t until = tacl__deadline_ns(30);
    while (boot_store_server_nclients(srv) < nclients + 1 && tacl__now_ns() < until)
        usleep(1000);
    tacl_store_set(st, "bench/go", "1", 1);
    tacl_store_close(st);
    int bad = bs_wait_children(kids, nclients);
    uint64_t total = 0;
    for (int i = 0; i < nclients; i++)
        total += pairs[i];
    tacl_store_server_stop(srv);
    munmap(pairs, sizeof *pairs * BS_MAX);
    if (bad) {
        fprintf(stderr, "bench_store: %d client(s) failed\n", bad);
        return 1;
    }
    printf("| set+get, %2d client processes | %10.0f pairs/s | %10.0f ops/s |\n", nclients,
           (double)total / seconds, 2.0 * (double)total / seconds);
    return 0;
}

/* n ranks join the world and all-gather 64 bytes; returns the wall time in seconds. */
static double bs_world(int n, int round)
{
    uint64_t *done = mmap(NULL, sizeof *done * BS_MAX, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (done == MAP_FAILED) return -1;
    int port = bs_free_port();
    pid_t kids[BS_MAX];
    fflush(NULL);
    uint64_t t0 = tacl__now_ns();
    for (int r = 0; r < n; r++) {
        kids[r] = fork();
        if (kids[r] == 0) {
            tacl_bootstrap_t bs = {.launcher = TACL_LAUNCHER_EXPLICIT,
                                   .rank = r,
                                   .size = n,
                                   .master_port = port,
                                   .local_size = -1};
            snprintf(bs.master_addr, sizeof bs.master_addr, "127.0.0.1");
            snprintf(bs.run_id, sizeof bs.run_id, "bench-%d-%d", (int)getppid(), round);
            boot_world_t w;
            tacl__errbuf_t eb;
            if (boot_world_join(&bs, "bench-host", 30, &w, &eb) != TACL_OK) {
                fprintf(stderr, "rank %d: %s\n", r, eb.msg);
                _exit(1);
            }
            char mine[64], *all = malloc((size_t)n * 64);
            memset(mine, r, sizeof mine);
            if (tacl__xchg_allgather(&w.xchg, mine, sizeof mine, all, &eb) != TACL_OK) _exit(1);
            for (int i = 0; i < n; i++)
                if (all[i * 64] != (char)i) _exit(1);
            done[r] = tacl__now_ns();
            boot_world_leave(&w);
            free(all);
            _exit(0);
        }
    }
    int bad = bs_wait_children(kids, n);
    uint64_t last = 0;
    for (int r = 0; r < n; r++)
        last = done[r] > last ? done[r] : last;
    munmap(done, sizeof *done * BS_MAX);
    return bad ? -1 : (double)(last - t0) * 1e-9;
}

int main(int argc, char **argv)
{
    double seconds = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_store [--seconds S]\n");
            return 2;
        }
    }
    if (seconds <= 0) seconds = 2;
    /* The ranks are forked here, as a launcher would start them: they share one job token. */
    char tok[80];
    if (!getenv("TACL_STORE_TOKEN") && !getenv("TACL_STORE_TOKEN_FILE") &&
        tacl__auth_new_token(tok, sizeof tok) == 0)
        setenv("TACL_STORE_TOKEN", tok, 1);
    printf("| measurement | rate / time | |\n|---|---|---|\n");
    int counts[] = {1, 8, 64};
    for (int i = 0; i < 3; i++)
        if (bs_ops(counts[i], seconds) != 0) return 1;
    int ranks[] = {8, 64};
    for (int i = 0; i < 2; i++) {
        double best = 1e9, worst = 0;
        for (int rep = 0; rep < 5; rep++) {
            double t = bs_world(ranks[i], i * 10 + rep);
            if (t < 0) {
                fprintf(stderr, "bench_store: world of %d failed\n", ranks[i]);
                return 1;
            }
            best = t < best ? t : best;
            worst = t > worst ? t : worst;
        }
        printf("| world join + 1 all-gather, %2d ranks (5 runs) | best %.1f ms | worst %.1f ms "
               "|\n",
               ranks[i], best * 1e3, worst * 1e3);
    }
    return 0;
}
