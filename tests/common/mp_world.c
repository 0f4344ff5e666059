/* mp_world.c — fork-based multi-process runner for tests (see mp_world.h). */
#include "mp_world.h"
#include "check.h"
#include "clock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MP_MAX 64
static int mp_status[MP_MAX], mp_signal[MP_MAX];
static pid_t mp_store_pid = -1;

int mpw_store_pid(void)
{
    return (int)mp_store_pid;
}

int mpw_rank_status(int r)
{
    return r >= 0 && r < MP_MAX ? mp_status[r] : -1;
}

int mpw_rank_signal(int r)
{
    return r >= 0 && r < MP_MAX ? mp_signal[r] : 0;
}

static void mp_child(int r, int n, int port, mpw_body_t body, void *arg, const mpw_opts_t *o)
{
    char v[64];
    snprintf(v, sizeof v, "%d", r);
    setenv("TACL_RANK", v, 1);
    snprintf(v, sizeof v, "%d", n);
    setenv("TACL_WORLD_SIZE", v, 1);
    setenv("TACL_MASTER_ADDR", "127.0.0.1", 1);
    snprintf(v, sizeof v, "%d", port);
    setenv("TACL_MASTER_PORT", v, 1);
    snprintf(v, sizeof v, "mp-%d-%d", (int)getppid(), port);
    setenv("TACL_RUN_ID", v, 1);
    if (o && o->host_ids) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", o->host_ids);
        char *save = NULL, *tok = strtok_r(buf, ",", &save);
        for (int i = 0; tok && i < r; i++)
            tok = strtok_r(NULL, ",", &save);
        if (tok) setenv("TACL_HOST_ID", tok, 1);
    }
    if (o && o->env) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", o->env);
        char *save = NULL;
        for (char *kv = strtok_r(buf, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq) continue;
            *eq = '\0';
            setenv(kv, eq + 1, 1);
        }
    }
    tacl_comm_t *world = NULL;
    if (!o || !o->no_init) {
        tacl_status_t st = tacl_init(&world);
        if (st != TACL_OK) {
            fprintf(stderr, "rank %d: tacl_init failed: %s: %s\n", r, tacl_status_name(st),
                    tacl_last_error());
            _exit(3);
        }
    }
    int rc = body(world, arg);
    if (world) tacl_comm_destroy(world);
    fflush(stdout);
    fflush(stderr);
    _exit(rc);
}

int mpw_run(int n, mpw_body_t body, void *arg, const mpw_opts_t *o)
{
    double timeout = o && o->timeout_s > 0 ? o->timeout_s : 60;
    if (n > MP_MAX) return 2;
    /* The store runs in a child of its own: the ranks are forked from a process without
     * threads, so none inherits a lock held by the server thread. */
    int ports[2], hold[2];
    CHECK(pipe(ports) == 0 && pipe(hold) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t store_pid = fork();
    CHECK(store_pid >= 0);
    if (store_pid == 0) {
        close(ports[0]);
        close(hold[1]);
        tacl_store_server_t *srv;
        int port = -1;
        if (tacl_store_server_start("127.0.0.1", 0, &srv) == TACL_OK)
            port = tacl_store_server_port(srv);
        if (write(ports[1], &port, sizeof port) != sizeof port) _exit(1);
        char c;
        while (read(hold[0], &c, 1) > 0) { /* until the parent closes the pipe */
        }
        if (port >= 0) tacl_store_server_stop(srv);
        _exit(0);
    }
    mp_store_pid = store_pid; /* the ranks, forked below, inherit it */
    close(ports[1]);
    close(hold[0]);
    int port = -1;
    if (read(ports[0], &port, sizeof port) != sizeof port || port < 0) {
        fprintf(stderr, "mpw_run: the store process could not start a server\n");
        return 2;
    }
    close(ports[0]);
    pid_t pids[MP_MAX];
    for (int r = 0; r < n; r++) {
        pids[r] = fork();
        if (pids[r] < 0) {
            perror("fork");
            return 2;
        }
        if (pids[r] == 0) {
            close(hold[1]);
            mp_child(r, n, port, body, arg, o);
        }
        mp_status[r] = -1;
        mp_signal[r] = 0;
    }
    uint64_t deadline = tacl__deadline_ns(timeout);
    int left = n, first_fail = 0;
    while (left > 0) {
        int wst;
        pid_t p = waitpid(-1, &wst, WNOHANG);
        if (p == 0) {
            if (tacl__now_ns() > deadline) {
                fprintf(stderr, "mpw_run: %d rank(s) still running after %.0f s; killing them\n",
                        left, timeout);
                for (int r = 0; r < n; r++)
                    if (mp_status[r] == -1 && mp_signal[r] == 0) kill(pids[r], SIGKILL);
                deadline = UINT64_MAX;
                if (!first_fail) first_fail = 124;
            }
            usleep(2000);
            continue;
        }
        if (p < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int r = 0; r < n; r++) {
            if (pids[r] != p) continue;
            left--;
            if (WIFEXITED(wst)) {
                mp_status[r] = WEXITSTATUS(wst);
                if (mp_status[r] != 0) {
                    fprintf(stderr, "mpw_run: rank %d exited with %d\n", r, mp_status[r]);
                    if (!first_fail) first_fail = mp_status[r];
                }
            } else if (WIFSIGNALED(wst)) {
                mp_signal[r] = WTERMSIG(wst);
                fprintf(stderr, "mpw_run: rank %d killed by signal %d\n", r, mp_signal[r]);
                if (!first_fail) first_fail = 128 + mp_signal[r];
            }
        }
    }
    close(hold[1]);
    waitpid(store_pid, NULL, 0);
    return first_fail;
}
