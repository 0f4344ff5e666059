/* cmd_run.c — `tacl run`: starts the local ranks of a job, like torchrun's --standalone or
 * --nnodes mode, and supervises them. Each rank gets tacl's and torchrun's variables, so a
 * tacl program and a PyTorch one both bootstrap from them. Each rank runs in its own process
 * group (signals reach whatever it starts) and dies with tacl run (PR_SET_PDEATHSIG); a guard
 * process kills the ranks' groups should tacl run itself be killed. The supervisor waits on one
 * signalfd (SIGCHLD, SIGINT, SIGTERM, SIGHUP) and, with --tag-output, the ranks' output pipes:
 * the first rank that fails stops the others (SIGTERM, then SIGKILL after the grace period)
 * and decides the exit status; a signal to tacl run is forwarded to every rank the same way. */
#include "auth.h"
#include "cli.h"
#include "clock.h"
#include "log.h"
#include "settings.h"
#include "tacl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUN_MAX_RANKS    4096
#define RUN_LINE_MAX     65536 /* a longer line is forwarded in pieces */
#define RUN_DRAIN_S      2.0   /* after the last rank exits, output still in flight may arrive */
#define RUN_DEFAULT_PORT 29500

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

static void run_writeall(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* our own output is gone (EPIPE): nothing left to tell */
        p += w;
        n -= (size_t)w;
    }
}

/* Tagged output is gathered in a batch of whole lines and written with as few write() calls as
 * possible; only tacl run writes to its stdout and stderr, so whole lines never interleave. */
typedef struct {
    int fd;
    size_t len;
    char buf[65536];
} run_batch_t;

static run_batch_t run_batch; /* tacl run is single-threaded */

static void run_batch_flush(run_batch_t *b)
{
    run_writeall(b->fd, b->buf, b->len);
    b->len = 0;
}

/* Appends "[rank] line\n" to the batch (a line larger than the batch goes out directly). */
static void run_emit(run_batch_t *b, int rank, const char *line, size_t n)
{
    char prefix[24];
    size_t plen = (size_t)snprintf(prefix, sizeof prefix, "[%d] ", rank);
    if (b->len + plen + n + 1 > sizeof b->buf) run_batch_flush(b);
    if (plen + n + 1 > sizeof b->buf) {
        run_writeall(b->fd, prefix, plen);
        run_writeall(b->fd, line, n);
        run_writeall(b->fd, "\n", 1);
        return;
    }
    memcpy(b->buf + b->len, prefix, plen);
    memcpy(b->buf + b->len + plen, line, n);
    b->buf[b->len + plen + n] = '\n';
    b->len += plen + n + 1;
}

/* Forwards the unfinished line of a stream that ends, with a newline added. */
static void run_stream_finish(run_stream_t *s, int rank)
{
    if (!s->len) return;
    run_batch.fd = s->out_fd;
    run_batch.len = 0;
    run_emit(&run_batch, rank, s->buf, s->len);
    run_batch_flush(&run_batch);
    s->len = 0;
}

/* Reads what the pipe has; forwards complete lines; at EOF the unfinished line too. Lines
 * longer than RUN_LINE_MAX are forwarded in pieces of that size. */
static void run_stream_read(run_stream_t *s, int rank)
{
    char tmp[65536];
    ssize_t n;
    do {
        n = read(s->fd, tmp, sizeof tmp);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
        run_stream_finish(s, rank);
        close(s->fd);
        s->fd = -1;
        return;
    }
    run_batch_t *b = &run_batch;
    b->fd = s->out_fd;
    b->len = 0;
    const char *p = tmp, *end = tmp + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t chunk = (size_t)((nl ? nl : end) - p);
        if (nl && s->len == 0) {
            run_emit(b, rank, p, chunk); /* the common case: a whole line in this read */
        } else {
            const char *q = p;
            size_t left = chunk;
            while (left > 0) {
                if (s->len == RUN_LINE_MAX) {
                    run_emit(b, rank, s->buf, s->len);
                    s->len = 0;
                }
                size_t c = RUN_LINE_MAX - s->len < left ? RUN_LINE_MAX - s->len : left;
                memcpy(s->buf + s->len, q, c);
                s->len += c;
                q += c;
                left -= c;
            }
            if (nl) {
                run_emit(b, rank, s->buf, s->len);
                s->len = 0;
            }
        }
        p = nl ? nl + 1 : end;
    }
    run_batch_flush(b);
}

static int run_parse_int(const char *opt, const char *v, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || end == v || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "tacl run: %s needs an integer from %d to %d, got '%s'\n", opt, lo, hi,
                v ? v : "(nothing)");
        return -1;
    }
    *out = (int)x;
    return 0;
}

/* Returns 0, or 2 (usage error) after saying why. */
static int run_parse(int argc, char **argv, run_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->nproc = -1;
    o->nnodes = 1;
    o->master_port = -1;
    o->grace_s = 3.0;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-') break; /* the program starts here */
        if (!strcmp(a, "-n") || !strcmp(a, "--nproc-per-node") || !strcmp(a, "--nproc")) {
            if (run_parse_int(a, v, 1, RUN_MAX_RANKS, &o->nproc)) return 2;
            i++;
        } else if (!strcmp(a, "--nnodes")) {
            if (run_parse_int(a, v, 1, RUN_MAX_RANKS, &o->nnodes)) return 2;
            i++;
        } else if (!strcmp(a, "--node-rank")) {
            if (run_parse_int(a, v, 0, RUN_MAX_RANKS - 1, &o->node_rank)) return 2;
            i++;
        } else if (!strcmp(a, "--master-addr")) {
            if (!v || !v[0] || strlen(v) > 255) {
                fprintf(stderr, "tacl run: --master-addr needs a host name or address\n");
                return 2;
            }
            o->master_addr = v;
            i++;
        } else if (!strcmp(a, "--master-port")) {
            if (run_parse_int(a, v, 1, 65535, &o->master_port)) return 2;
            i++;
        } else if (!strcmp(a, "--tag-output")) {
            o->tag_output = 1;
        } else if (!strcmp(a, "--grace")) {
            char *end;
            errno = 0;
            o->grace_s = v ? strtod(v, &end) : -1;
            if (!v || end == v || *end || errno || !(o->grace_s >= 0 && o->grace_s <= 86400)) {
                fprintf(stderr, "tacl run: --grace needs seconds from 0 to 86400, got '%s'\n",
                        v ? v : "(nothing)");
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "tacl run: unknown option '%s' (tacl run --help)\n", a);
            return 2;
        }
    }
    if (o->nproc < 0) {
        fprintf(stderr, "tacl run: -n N (ranks on this node) is required\n");
        return 2;
    }
    if (i >= argc) {
        fprintf(stderr, "tacl run: no program given (tacl run -n N -- prog args...)\n");
        return 2;
    }
    if (o->node_rank >= o->nnodes) {
        fprintf(stderr, "tacl run: --node-rank %d is not below --nnodes %d\n", o->node_rank,
                o->nnodes);
        return 2;
    }
    if ((long)o->nproc * o->nnodes > RUN_MAX_RANKS) {
        fprintf(stderr, "tacl run: %d ranks on each of %d nodes exceed %d ranks\n", o->nproc,
                o->nnodes, RUN_MAX_RANKS);
        return 2;
    }
    if (o->nnodes > 1 && !o->master_addr) {
        fprintf(stderr,
                "tacl run: --nnodes %d needs --master-addr (the host of node rank 0, "
                "where rank 0 hosts the store)\n",
                o->nnodes);
        return 2;
    }
    o->prog = argv + i;
    return 0;
}

/* Binds port (0: any) on the wildcard address, dual-stack where IPv6 exists, as rank 0's store
 * will; returns the port bound, or -1. The socket is closed again. */
static int run_try_port(int port)
{
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    memset(&a6, 0, sizeof a6);
    memset(&a4, 0, sizeof a4);
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_any;
    a6.sin6_port = htons((uint16_t)port);
    a4.sin_family = AF_INET;
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    a4.sin_port = htons((uint16_t)port);
    int got = -1, zero = 0;
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        socklen_t len = sizeof a6;
        if (bind(fd, (struct sockaddr *)&a6, sizeof a6) == 0 &&
            getsockname(fd, (struct sockaddr *)&a6, &len) == 0)
            got = ntohs(a6.sin6_port);
        int e = errno;
        close(fd);
        if (got > 0 || e == EADDRINUSE) return got;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* no IPv6 on this host */
    if (fd < 0) return -1;
    socklen_t len = sizeof a4;
    if (bind(fd, (struct sockaddr *)&a4, sizeof a4) == 0 &&
        getsockname(fd, (struct sockaddr *)&a4, &len) == 0)
        got = ntohs(a4.sin_port);
    close(fd);
    return got;
}

/* A port for rank 0's store, free at this moment on every address. Rank 0 binds it moments
 * later, so it is taken outside the kernel's ephemeral range when possible: a port from that
 * range can be handed meanwhile to any socket that connects out or binds port 0 (NCCL's, a
 * previous job's), which rank 0 would then find taken. Like torchrun's --standalone, a program
 * that binds the same port explicitly in between is still possible; rank 0 then fails within
 * seconds naming the port. */
static int run_free_port(void)
{
    int lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2) lo = 32768, hi = 60999;
        fclose(f);
    }
    int a = 0, b = -1; /* the candidate range [a, b] */
    if (lo > 20000)
        a = 20000, b = lo - 1;
    else if (hi < 64000)
        a = hi + 1, b = 65535;
    unsigned seed = (unsigned)getpid() * 2654435761u ^ (unsigned)tacl__now_ns();
    for (int i = 0; i < 64 && b >= a; i++) {
        seed = seed * 1103515245u + 12345u;
        int port = run_try_port(a + (int)((seed >> 8) % (unsigned)(b - a + 1)));
        if (port > 0) return port;
    }
    return run_try_port(0);
}

static void run_setenv_int(const char *name, int v)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%d", v);
    setenv(name, buf, 1);
}

/* In the child, between fork and exec. tacl run is single-threaded, so setenv and stdio are
 * safe here; any failure ends the child with _exit, never returning into the supervisor. */
static void run_child(const run_opts_t *o, int local, const char *addr, int port,
                      const char *run_id, pid_t parent, const sigset_t *orig_mask, int pipes[2][2])
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

static void run_signal_all(run_state_t *s, int sig)
{
    int n = s->o->nproc;
    for (int i = 0; i < n; i++)
        if (s->ranks[i].running) kill(-s->ranks[i].pid, sig);
}

static void run_stop_all(run_state_t *s, int sig)
{
    run_signal_all(s, sig);
    if (!s->stopping) s->kill_at_ns = tacl__deadline_ns(s->o->grace_s);
    s->stopping = 1;
}

static void run_describe(char *buf, size_t len, int status)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

static void run_reap(run_state_t *s)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        run_rank_t *r = NULL;
        for (int i = 0; i < s->o->nproc; i++)
            if (s->ranks[i].running && s->ranks[i].pid == pid) r = &s->ranks[i];
        if (!r) continue;
        r->running = 0;
        s->nrunning--;
        /* What the rank left behind in its group goes with it: no orphans. The group id
         * cannot have been reused yet, since its leader was reaped just now. */
        kill(-pid, SIGKILL);
        int bad = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
        if (!bad || s->stopping) continue;
        char how[128];
        run_describe(how, sizeof how, status);
        s->failed_rank = r->rank;
        s->exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        if (s->nrunning > 0)
            fprintf(stderr, "tacl run: rank %d (pid %d) %s; stopping the other %d rank%s\n",
                    r->rank, (int)pid, how, s->nrunning, s->nrunning == 1 ? "" : "s");
        else
            fprintf(stderr, "tacl run: rank %d (pid %d) %s\n", r->rank, (int)pid, how);
        run_stop_all(s, SIGTERM);
    }
}

static void run_on_signal(run_state_t *s, int sig)
{
    if (sig == SIGCHLD) {
        run_reap(s);
        return;
    }
    if (s->got_signal) {
        /* A second interrupt means now. */
        fprintf(stderr, "tacl run: %s again: killing the ranks\n", strsignal(sig));
        run_signal_all(s, SIGKILL);
        s->killed = 1;
        return;
    }
    s->got_signal = sig;
    if (s->failed_rank < 0) s->exit_code = 128 + sig;
    fprintf(stderr, "tacl run: received signal %d (%s); forwarding it to %d rank%s\n", sig,
            strsignal(sig), s->nrunning, s->nrunning == 1 ? "" : "s");
    run_stop_all(s, sig);
}

static int run_open_streams(const run_state_t *s)
{
    int n = 0;
    for (int i = 0; i < s->o->nproc; i++)
        n += (s->ranks[i].out[0].fd >= 0) + (s->ranks[i].out[1].fd >= 0);
    return n;
}

static void run_supervise(run_state_t *s, int sfd)
{
    int n = s->o->nproc;
    struct pollfd *pf = calloc((size_t)(2 * n + 1), sizeof *pf);
    run_stream_t **map = calloc((size_t)(2 * n + 1), sizeof *map);
    int *map_rank = calloc((size_t)(2 * n + 1), sizeof *map_rank);
    if (!pf || !map || !map_rank) {
        fprintf(stderr, "tacl run: out of memory; killing the ranks\n");
        run_signal_all(s, SIGKILL);
        s->exit_code = 1;
    }
    uint64_t drain_until = 0;
    while (pf && map && map_rank) {
        if (s->nrunning == 0) {
            if (!drain_until) drain_until = tacl__deadline_ns(RUN_DRAIN_S);
            if (run_open_streams(s) == 0 || tacl__now_ns() >= drain_until) break;
        }
        int np = 0;
        pf[np].fd = sfd;
        pf[np++].events = POLLIN;
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 2; k++) {
                if (s->ranks[i].out[k].fd < 0) continue;
                map[np] = &s->ranks[i].out[k];
                map_rank[np] = s->ranks[i].rank;
                pf[np].fd = s->ranks[i].out[k].fd;
                pf[np++].events = POLLIN;
            }
        }
        int timeout = -1; /* ranks run as long as they need; tacl run only waits for them */
        if (s->stopping && !s->killed) timeout = tacl__ms_left(s->kill_at_ns);
        if (s->nrunning == 0) timeout = tacl__ms_left(drain_until);
        int rc = poll(pf, (nfds_t)np, timeout);
        if (rc < 0 && errno != EINTR) {
            fprintf(stderr, "tacl run: poll failed: %s; killing the ranks\n", strerror(errno));
            run_signal_all(s, SIGKILL);
            s->killed = 1;
            if (s->exit_code == 0) s->exit_code = 1;
            break; /* the blocking wait below collects them */
        }
        if (rc > 0 && (pf[0].revents & POLLIN)) {
            struct signalfd_siginfo si[16];
            ssize_t got = read(sfd, si, sizeof si);
            for (ssize_t j = 0; got > 0 && j < got / (ssize_t)sizeof si[0]; j++)
                run_on_signal(s, (int)si[j].ssi_signo);
        }
        for (int p = 1; rc > 0 && p < np; p++)
            if (pf[p].revents & (POLLIN | POLLHUP | POLLERR)) run_stream_read(map[p], map_rank[p]);
        /* A SIGCHLD may merge with one already pending; reaping here too loses none. */
        run_reap(s);
        if (s->stopping && !s->killed && s->nrunning > 0 && tacl__now_ns() >= s->kill_at_ns) {
            for (int i = 0; i < n; i++)
                if (s->ranks[i].running)
                    fprintf(stderr,
                            "tacl run: rank %d (pid %d) still running %.1f s after the stop "
                            "signal; killing it\n",
                            s->ranks[i].rank, (int)s->ranks[i].pid, s->o->grace_s);
            run_signal_all(s, SIGKILL);
            s->killed = 1;
        }
    }
    /* Only reached with every rank reaped, unless memory ran out or poll failed: then the
     * ranks were sent SIGKILL and this wait is short. */
    while (s->nrunning > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0 && errno != EINTR) break;
        for (int i = 0; i < n; i++)
            if (s->ranks[i].running && s->ranks[i].pid == pid) {
                s->ranks[i].running = 0;
                s->nrunning--;
            }
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++)
            if (s->ranks[i].out[k].fd >= 0) {
                run_stream_finish(&s->ranks[i].out[k], s->ranks[i].rank);
                close(s->ranks[i].out[k].fd);
                s->ranks[i].out[k].fd = -1;
            }
    free(pf);
    free(map);
    free(map_rank);
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
static int run_guard_start(pid_t *guard_pid)
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

static void run_guard_tell(int gfd, int32_t v)
{
    if (gfd >= 0 && write(gfd, &v, sizeof v) != (ssize_t)sizeof v)
        TACL_DEBUG(TACL_SUB_BOOT, "tacl run: guard pipe write failed: %s", strerror(errno));
}

/* The job's secret: a token the user set (TACL_STORE_TOKEN or TACL_STORE_TOKEN_FILE) passes to
 * the ranks through the environment; on one node tacl run draws a fresh one for this job. A
 * job over several nodes needs the same secret on every node, which only the user can give. */
static int run_token(const run_opts_t *o)
{
    tacl__auth_t a;
    tacl_status_t st = tacl__auth_configured(&a, NULL);
    if (st == TACL_OK) return 0;
    if (st != TACL_ERR_NOT_FOUND) {
        fprintf(stderr, "tacl run: %s\n", tacl_last_error());
        return 1;
    }
    if (o->nnodes > 1) {
        fprintf(stderr,
                "tacl run: a job over %d nodes needs the same secret on every node: set "
                "TACL_STORE_TOKEN, or TACL_STORE_TOKEN_FILE naming a file readable by you "
                "only, in each node's tacl run (TACL_AUTH=0 turns authentication off)\n",
                o->nnodes);
        return 1;
    }
    char tok[80];
    if (tacl__auth_new_token(tok, sizeof tok) != 0 || setenv("TACL_STORE_TOKEN", tok, 1) != 0) {
        fprintf(stderr, "tacl run: cannot generate the job's token: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

static int run_run(int argc, char **argv)
{
    run_opts_t o;
    int rc = run_parse(argc, argv, &o);
    if (rc) return rc;

    char addr[256];
    snprintf(addr, sizeof addr, "%s", o.master_addr ? o.master_addr : "127.0.0.1");
    int port = o.master_port;
    if (port < 0 && o.nnodes == 1) {
        port = run_free_port();
        if (port < 0) {
            fprintf(stderr, "tacl run: cannot find a free port for the store: %s\n",
                    strerror(errno));
            return 1;
        }
    } else if (port < 0) {
        port = RUN_DEFAULT_PORT;
    }
    /* Every node derives the same run id from the master, as tacl_bootstrap_from_env does. */
    char run_id[512];
    if (tacl__setting_is_set(TACL_SET_RUN_ID))
        snprintf(run_id, sizeof run_id, "%s", tacl__setting_str(TACL_SET_RUN_ID));
    else
        snprintf(run_id, sizeof run_id, "port-%d", port);
    if (run_token(&o) != 0) return 1;

    /* Signals arrive through a signalfd; the ranks get the original mask back before exec. A
     * signal that tacl run was started ignoring (SIGHUP under nohup, SIGINT of a background
     * job of a script) stays ignored, for tacl run and its ranks alike. SIGCHLD must not be
     * ignored: the kernel would reap the ranks before tacl run could learn their status. */
    sigset_t mask, orig;
    static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP};
    signal(SIGCHLD, SIG_DFL);
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) {
        struct sigaction sa;
        if (sigaction(forwarded[i], NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) continue;
        sigaddset(&mask, forwarded[i]);
    }
    sigprocmask(SIG_BLOCK, &mask, &orig);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (sfd < 0) {
        fprintf(stderr, "tacl run: signalfd failed: %s\n", strerror(errno));
        sigprocmask(SIG_SETMASK, &orig, NULL);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    run_state_t s;
    memset(&s, 0, sizeof s);
    s.o = &o;
    s.failed_rank = -1;
    s.ranks = calloc((size_t)o.nproc, sizeof *s.ranks);
    if (!s.ranks) {
        fprintf(stderr, "tacl run: out of memory\n");
        close(sfd);
        return 1;
    }
    pid_t self = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t guard = -1;
    int gfd = run_guard_start(&guard);
    for (int i = 0; i < o.nproc; i++) {
        run_rank_t *r = &s.ranks[i];
        r->rank = o.node_rank * o.nproc + i;
        r->out[0].fd = r->out[1].fd = -1;
        int pipes[2][2] = {{-1, -1}, {-1, -1}};
        const char *fail = NULL;
        if (o.tag_output) {
            for (int k = 0; k < 2 && !fail; k++) {
                if (pipe2(pipes[k], O_CLOEXEC) != 0) fail = "pipe";
                r->out[k].out_fd = k + 1;
                r->out[k].buf = malloc(RUN_LINE_MAX);
                if (!fail && !r->out[k].buf) fail = "malloc";
            }
        }
        pid_t pid = fail ? -1 : fork();
        if (pid == 0) run_child(&o, i, addr, port, run_id, self, &orig, pipes);
        if (pid < 0 && !fail) fail = "fork";
        for (int k = 0; k < 2; k++) {
            if (pipes[k][1] >= 0) close(pipes[k][1]);
            if (fail && pipes[k][0] >= 0) close(pipes[k][0]);
        }
        if (fail) {
            fprintf(stderr, "tacl run: cannot start rank %d: %s failed: %s\n", r->rank, fail,
                    strerror(errno));
            run_stop_all(&s, SIGKILL);
            s.killed = 1;
            s.exit_code = 1;
            break;
        }
        setpgid(pid, pid); /* also here, so that no signal finds the group missing */
        run_guard_tell(gfd, (int32_t)pid);
        r->pid = pid;
        r->running = 1;
        s.nrunning++;
        for (int k = 0; k < 2 && o.tag_output; k++) {
            r->out[k].fd = pipes[k][0];
            fcntl(r->out[k].fd, F_SETFL, fcntl(r->out[k].fd, F_GETFL) | O_NONBLOCK);
        }
    }
    run_supervise(&s, sfd);
    if (gfd >= 0) {
        /* The guard exits on "done" at once; one that does not within a second is killed. */
        run_guard_tell(gfd, 0);
        close(gfd);
        uint64_t deadline = tacl__deadline_ns(1.0);
        pid_t w;
        while ((w = waitpid(guard, NULL, WNOHANG)) == 0 && tacl__now_ns() < deadline)
            usleep(1000);
        if (w == 0) {
            kill(guard, SIGKILL);
            waitpid(guard, NULL, 0);
        }
    }
    for (int i = 0; i < o.nproc; i++) {
        free(s.ranks[i].out[0].buf);
        free(s.ranks[i].out[1].buf);
    }
    free(s.ranks);
    close(sfd);
    sigprocmask(SIG_SETMASK, &orig, NULL);
    return s.exit_code;
}

const tacl_cmd_t tacl_cmd_run = {
    .name = "run",
    .summary = "start N local ranks with tacl's and torchrun's variables, and supervise them",
    .usage =
        "usage: tacl run -n N [--nnodes K --node-rank I --master-addr A --master-port P]\n"
        "                [--tag-output] [--grace S] -- prog args...\n\n"
        "Starts N ranks of prog on this node, ranks I*N .. I*N+N-1 of a world of N*K, each with\n"
        "TACL_RANK, TACL_WORLD_SIZE, TACL_LOCAL_RANK, TACL_LOCAL_WORLD_SIZE, TACL_MASTER_ADDR,\n"
        "TACL_MASTER_PORT, TACL_RUN_ID and torchrun's RANK, WORLD_SIZE, LOCAL_RANK,\n"
        "LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_RUN_ID set.\n\n"
        "  -n N             ranks on this node (required)\n"
        "  --nnodes K       nodes in the job (default 1); run tacl run once on each node\n"
        "  --node-rank I    this node's index, 0 .. K-1 (default 0)\n"
        "  --master-addr A  host of rank 0's store (default 127.0.0.1; required with K > 1)\n"
        "  --master-port P  its port (default: a free port on one node, 29500 on several)\n"
        "  --tag-output     prefix every output line with \"[rank] \"\n"
        "  --grace S        seconds between SIGTERM and SIGKILL when stopping (default 3)\n\n"
        "Every rank gets TACL_STORE_TOKEN, the job's secret: the one set for tacl run, else a\n"
        "fresh random one (with K > 1 the user must set the same one on every node).\n"
        "The run id is TACL_RUN_ID when set, else \"port-<port>\" (the same on every node,\n"
        "however it names the master). Local rank 0 reads stdin unless it is a terminal;\n"
        "other ranks read /dev/null.\n"
        "When a rank exits non-zero or is killed, the others are stopped (SIGTERM, then SIGKILL\n"
        "after the grace period) and tacl run exits with that rank's status (128+signal).\n"
        "SIGINT, SIGTERM and SIGHUP are forwarded to every rank (a second one kills them);\n"
        "tacl run then exits with 128+signal. One that tacl run was started ignoring (nohup)\n"
        "stays ignored. Ranks die with tacl run (PR_SET_PDEATHSIG), and what they started\n"
        "dies with them (a process group per rank, killed when the rank ends or tacl run dies).\n",
    .run = run_run,
};
