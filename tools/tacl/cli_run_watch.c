/* cli_run_watch.c — `tacl run`'s supervisor: the ranks' output forwarded line by line with a
 * "[rank] " prefix, signals forwarded, ranks reaped, and the job stopped on the first failure. */
#include "cli_run.h"
#include "clock.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUN_DRAIN_S 2.0 /* after the last rank exits, output still in flight may arrive */

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

static void run_signal_all(run_state_t *s, int sig)
{
    int n = s->o->nproc;
    for (int i = 0; i < n; i++)
        if (s->ranks[i].running) kill(-s->ranks[i].pid, sig);
}

void run_stop_all(run_state_t *s, int sig)
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

void run_supervise(run_state_t *s, int sfd)
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
