/* cli_run.h — what `tacl run` shares between its files: the options, the ranks and the
 * supervisor's state, and the functions that cmd_run.c (options, the store's port and token, the
 * job from start to end) calls in cli_run_start.c (starting a rank, the guard against orphans)
 * and cli_run_watch.c (supervision: output, signals, reaping, stopping the job). */
#ifndef TACL_CLI_RUN_H
#define TACL_CLI_RUN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RUN_LINE_MAX 65536 /* a longer line is forwarded in pieces */

typedef struct {
    int nproc, nnodes, node_rank;
    const char *master_addr;
    int master_port; /* -1: not given */
    int tag_output;
    double grace_s;
    char **prog; /* NULL-terminated program and arguments */
} run_opts_t;

/* One output pipe of one rank, forwarded line by line with a "[rank] " prefix. */
typedef struct {
    int fd; /* -1 once closed */
    int out_fd;
    char *buf;
    size_t len;
} run_stream_t;

typedef struct {
    int rank; /* global */
    pid_t pid;
    int running;
    run_stream_t out[2]; /* stdout, stderr */
} run_rank_t;

typedef struct {
    const run_opts_t *o;
    run_rank_t *ranks;
    int nrunning;
    int stopping;        /* SIGTERM (or the received signal) sent to every rank */
    int killed;          /* SIGKILL sent */
    uint64_t kill_at_ns; /* when stopping ranks get SIGKILL */
    int failed_rank;     /* -1: none yet */
    int exit_code;       /* from the first failure or signal */
    int got_signal;
} run_state_t;

/* cli_run_start.c. In the child, between fork and exec: never returns. */
void run_child(const run_opts_t *o, int local, const char *addr, int port, const char *run_id,
               pid_t parent, const sigset_t *orig_mask, int pipes[2][2]);
/* Starts the guard; returns the write end of its pipe, or -1 (see there). */
int run_guard_start(pid_t *guard_pid);
/* Tells the guard a rank's process group, or 0: "done". */
void run_guard_tell(int gfd, int32_t v);

/* cli_run_watch.c. Sends sig to every running rank's group; the first time, SIGKILL follows
 * after the grace period. */
void run_stop_all(run_state_t *s, int sig);
/* Forwards output, signals and exits until every rank is reaped and its output drained. */
void run_supervise(run_state_t *s, int sfd);

#endif
