/* cli_run_start.c — `tacl run` starting a rank (its process group, PR_SET_PDEATHSIG, stdin,
 * tacl's and torchrun's variables, exec) and the guard process that kills the ranks' groups
 * should tacl run be killed. */
#include "cli_run.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void run_setenv_int(const char *name, int v)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%d", v);
    setenv(name, buf, 1);
}

/* In the child, between fork and exec. tacl run is single-threaded, so setenv and stdio are
 * safe here; any failure ends the child with _exit, never returning into the supervisor. */
void run_child(const run_opts_t *o, int local, const char *addr, int port, const char *run_id,
               pid_t parent, const sigset_t *orig_mask, int pipes[2][2])
{
    setpgid(0, 0);
    /* Die with tacl run; if it died before prctl took effect, the parent is already another. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(126);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, orig_mask, NULL);
    /* Local rank 0 keeps stdin unless it is a terminal, which a background process group
     * cannot read; the other ranks read nothing (mpirun's convention). */
    if (local != 0 || isatty(0)) {
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) {
            dup2(nul, 0);
            close(nul);
        }
    }
    if (o->tag_output) {
        dup2(pipes[0][1], 1);
        dup2(pipes[1][1], 2);
    }
    int rank = o->node_rank * o->nproc + local, size = o->nproc * o->nnodes;
    run_setenv_int("TACL_RANK", rank);
    run_setenv_int("TACL_WORLD_SIZE", size);
    run_setenv_int("TACL_LOCAL_RANK", local);
    run_setenv_int("TACL_LOCAL_WORLD_SIZE", o->nproc);
    setenv("TACL_MASTER_ADDR", addr, 1);
    run_setenv_int("TACL_MASTER_PORT", port);
    setenv("TACL_RUN_ID", run_id, 1);
    run_setenv_int("RANK", rank);
    run_setenv_int("WORLD_SIZE", size);
    run_setenv_int("LOCAL_RANK", local);
    run_setenv_int("LOCAL_WORLD_SIZE", o->nproc);
    run_setenv_int("GROUP_RANK", o->node_rank);
    run_setenv_int("GROUP_WORLD_SIZE", o->nnodes);
    run_setenv_int("ROLE_RANK", rank);
    run_setenv_int("ROLE_WORLD_SIZE", size);
    setenv("ROLE_NAME", "default", 1);
    setenv("MASTER_ADDR", addr, 1);
    run_setenv_int("MASTER_PORT", port);
    setenv("TORCHELASTIC_RUN_ID", run_id, 1);
    setenv("TORCHELASTIC_RESTART_COUNT", "0", 1);
    setenv("TORCHELASTIC_MAX_RESTARTS", "0", 1);
    execvp(o->prog[0], o->prog);
    int err = errno;
    dprintf(2, "tacl run: rank %d: cannot execute '%s': %s\n", rank, o->prog[0], strerror(err));
    _exit(err == ENOENT ? 127 : 126);
}

/* The guard: a process forked before the ranks that outlives a tacl run killed with SIGKILL.
 * PR_SET_PDEATHSIG kills each rank with tacl run, but not what a rank started; the guard holds
 * the read end of a pipe that only tacl run can write, learns each rank's process group from
 * it, and on end of file without the final 'done' (tacl run is gone) kills those groups. It
 * ignores the terminal's signals, which tacl run forwards itself. */
static void run_guard_main(int rfd, pid_t parent)
{
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        close(nul);
    }
    int cap = 64, n = 0;
    int32_t *pgids = malloc((size_t)cap * sizeof *pgids);
    for (;;) {
        int32_t v;
        ssize_t got = read(rfd, &v, sizeof v);
        if (got < 0 && errno == EINTR) continue;
        if (got == (ssize_t)sizeof v && v == 0) _exit(0); /* "done": tacl run cleaned up */
        if (got != (ssize_t)sizeof v) break;
        if (pgids && n == cap) {
            int32_t *m = realloc(pgids, (size_t)cap * 2 * sizeof *m);
            if (m) {
                pgids = m;
                cap *= 2;
            }
        }
        if (pgids && n < cap) pgids[n++] = v;
    }
    int killed = 0;
    for (int i = 0; pgids && i < n; i++)
        killed += kill(-(pid_t)pgids[i], SIGKILL) == 0;
    if (killed)
        dprintf(2, "tacl run: supervisor (pid %d) is gone; killed what remained of %d rank%s\n",
                (int)parent, killed, killed == 1 ? "" : "s");
    _exit(0);
}

/* Starts the guard; returns the write end of its pipe (-1 when it could not start: tacl run
 * then works without it, and only a SIGKILL of tacl run can leave a rank's children behind). */
int run_guard_start(pid_t *guard_pid)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        setpgid(0, 0);
        run_guard_main(p[0], parent);
    }
    close(p[0]);
    if (pid < 0) {
        close(p[1]);
        return -1;
    }
    *guard_pid = pid;
    return p[1];
}

void run_guard_tell(int gfd, int32_t v)
{
    if (gfd >= 0 && write(gfd, &v, sizeof v) != (ssize_t)sizeof v)
        TACL_DEBUG(TACL_SUB_BOOT, "tacl run: guard pipe write failed: %s", strerror(errno));
}
