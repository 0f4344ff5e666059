/* mp_fork.c — fork-based ranks and their store-less exchange (see mp_fork.h). */
#include "mp_fork.h"

#include "clock.h"
#include "err.h"

#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    _Atomic uint64_t arrived[MP_MAX_RANKS];
    char data[2][MP_MAX_RANKS][MP_XCHG_MAX];
} mp_shared_t;

typedef struct {
    mp_shared_t *sh;
    int rank, size;
    uint64_t gen;
} mp_xchg_ctx_t;

/* Generation g writes area g % 2; publishing g + 1 implies having read g - 1's area, so two
 * areas suffice (the same argument as the shm group's slots). */
static tacl_status_t mp_allgather(void *vctx, const void *mine, size_t len, void *all,
                                  tacl__errbuf_t *eb)
{
    mp_xchg_ctx_t *c = vctx;
    if (len > MP_XCHG_MAX)
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_BOOT, "mp_xchg: %zu bytes > %d", len,
                         MP_XCHG_MAX);
    uint64_t g = ++c->gen;
    memcpy(c->sh->data[g & 1][c->rank], mine, len);
    atomic_store(&c->sh->arrived[c->rank], g);
    uint64_t deadline = tacl__deadline_ns(20.0);
    for (int r = 0; r < c->size; r++) {
        while (atomic_load(&c->sh->arrived[r]) < g) {
            if (tacl__now_ns() > deadline)
                return tacl__err(eb, TACL_ERR_TIMEOUT, TACL_SUB_BOOT,
                                 "mp_xchg: rank %d did not arrive at exchange %llu", r,
                                 (unsigned long long)g);
            sched_yield();
        }
    }
    for (int r = 0; r < c->size; r++)
        memcpy((char *)all + (size_t)r * len, c->sh->data[g & 1][r], len);
    return TACL_OK;
}

int mp_run(int n, mp_fn_t fn, void *arg, double timeout_s, mp_result_t *res)
{
    if (n < 1 || n > MP_MAX_RANKS) return -1;
    mp_shared_t *sh =
        mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return -1;
    fflush(stdout);
    fflush(stderr);
    int live = 0;
    for (int r = 0; r < n; r++) {
        memset(&res[r], 0, sizeof res[r]);
        pid_t pid = fork();
        if (pid == 0) {
            mp_xchg_ctx_t xc = {sh, r, n, 0};
            mp_ctx_t ctx = {.rank = r, .size = n};
            ctx.xchg = (tacl__xchg_t){.allgather = mp_allgather, .ctx = &xc, .rank = r, .size = n};
            int code = fn(&ctx, arg);
            fflush(stdout);
            fflush(stderr);
            _exit(code);
        }
        res[r].pid = pid;
        if (pid > 0)
            live++;
        else
            res[r].code = -1;
    }
    uint64_t deadline = tacl__deadline_ns(timeout_s);
    int killed = 0;
    while (live > 0) {
        int status;
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p > 0) {
            for (int r = 0; r < n; r++) {
                if (res[r].pid != p) continue;
                res[r].exited = WIFEXITED(status);
                res[r].code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                res[r].sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
                live--;
            }
            continue;
        }
        if (tacl__now_ns() > deadline && !killed) {
            for (int r = 0; r < n; r++) {
                if (res[r].pid > 0 && !res[r].exited && !res[r].sig) {
                    fprintf(stderr,
                            "mp_run: rank %d (pid %d) still running after %.1f s: "
                            "killing it\n",
                            r, (int)res[r].pid, timeout_s);
                    kill(res[r].pid, SIGKILL);
                }
            }
            killed = 1;
        }
        usleep(500);
    }
    munmap(sh, sizeof *sh);
    return killed ? -1 : 0;
}

int mp_all_ok(const mp_result_t *res, int n)
{
    int ok = 1;
    for (int r = 0; r < n; r++) {
        if (res[r].exited && res[r].code == 0) continue;
        fprintf(stderr, "rank %d (pid %d) %s %d\n", r, (int)res[r].pid,
                res[r].exited ? "exited with" : "was killed by signal",
                res[r].exited ? res[r].code : res[r].sig);
        ok = 0;
    }
    return ok;
}
