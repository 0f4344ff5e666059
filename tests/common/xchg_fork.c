/* xchg_fork.c — the hub of xchg_fork.h. Each round every live child sends [u64 len][bytes];
 * when all have, the parent answers each with [u64 size*len][all bytes]; once a child has
 * gone, every pending and later round is answered [UINT64_MAX] (the exchange is broken). */
#include "xchg_fork.h"

#include "clock.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    int fd;
} xchg_fork_ctx_t;

static int xchg_fork_io(int fd, void *buf, size_t len, int out, uint64_t deadline)
{
    char *p = buf;
    while (len) {
        struct pollfd pf = {.fd = fd, .events = out ? POLLOUT : POLLIN};
        int ms = tacl__ms_left(deadline);
        if (ms == 0 || poll(&pf, 1, ms) < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        ssize_t n = out ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
        if (n <= 0) {
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static tacl_status_t xchg_fork_allgather(void *ctx, const void *mine, size_t len, void *all,
                                         tacl__errbuf_t *eb)
{
    xchg_fork_ctx_t *c = ctx;
    uint64_t deadline = tacl__deadline_ns(60.0), l = len, total;
    if (xchg_fork_io(c->fd, &l, sizeof l, 1, deadline) != 0 ||
        xchg_fork_io(c->fd, (void *)mine, len, 1, deadline) != 0 ||
        xchg_fork_io(c->fd, &total, sizeof total, 0, deadline) != 0)
        return tacl__err(eb, TACL_ERR_BOOTSTRAP, TACL_SUB_BOOT, "test exchange: hub unreachable");
    if (total == UINT64_MAX)
        return tacl__err(eb, TACL_ERR_PEER_LOST, TACL_SUB_BOOT,
                         "test exchange: a rank exited before this all-gather");
    if (xchg_fork_io(c->fd, all, total, 0, deadline) != 0)
        return tacl__err(eb, TACL_ERR_BOOTSTRAP, TACL_SUB_BOOT, "test exchange: short answer");
    return TACL_OK;
}

typedef struct {
    int fd, alive, ready;
    pid_t pid;
    uint64_t len, got_hdr, got;
    unsigned char *buf;
    unsigned char hdr[8];
} xchg_fork_child_t;

int xchg_fork_run(int size, xchg_fork_fn fn, void *arg, double timeout_s, int *status)
{
    xchg_fork_child_t *ch = calloc((size_t)size, sizeof *ch);
    int(*sp)[2] = calloc((size_t)size, sizeof *sp);
    if (!ch || !sp) return -1;
    for (int r = 0; r < size; r++)
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp[r]) != 0) return -1;
    fflush(NULL);
    for (int r = 0; r < size; r++) {
        pid_t pid = fork();
        if (pid < 0) return -1;
        if (pid == 0) {
            /* A test killed at its CTest timeout takes its ranks with it. */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            for (int k = 0; k < size; k++) {
                close(sp[k][0]);
                if (k != r) close(sp[k][1]);
            }
            xchg_fork_ctx_t ctx = {sp[r][1]};
            tacl__xchg_t x = {
                .allgather = xchg_fork_allgather, .ctx = &ctx, .rank = r, .size = size};
            int rc = fn(r, size, &x, arg);
            fflush(NULL);
            _exit(rc);
        }
        ch[r] = (xchg_fork_child_t){.fd = sp[r][0], .alive = 1, .pid = pid};
        close(sp[r][1]);
    }
    uint64_t deadline = tacl__deadline_ns(timeout_s);
    int broken = 0, open_fds = size;
    struct pollfd *pf = calloc((size_t)size, sizeof *pf);
    while (open_fds > 0 && tacl__now_ns() < deadline) {
        for (int r = 0; r < size; r++)
            pf[r] = (struct pollfd){.fd = ch[r].alive ? ch[r].fd : -1, .events = POLLIN};
        if (poll(pf, (nfds_t)size, 100) < 0 && errno != EINTR) break;
        for (int r = 0; r < size; r++) {
            xchg_fork_child_t *c = &ch[r];
            if (!c->alive || !pf[r].revents) continue;
            ssize_t n;
            if (c->got_hdr < 8) {
                n = recv(c->fd, c->hdr + c->got_hdr, 8 - c->got_hdr, 0);
                if (n > 0 && (c->got_hdr += (uint64_t)n) == 8) {
                    memcpy(&c->len, c->hdr, 8);
                    c->buf = malloc(c->len ? c->len : 1);
                    c->got = 0;
                    if (c->len == 0) c->ready = 1;
                }
            } else {
                n = recv(c->fd, c->buf + c->got, c->len - c->got, 0);
                if (n > 0 && (c->got += (uint64_t)n) == c->len) c->ready = 1;
            }
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                c->alive = 0;
                close(c->fd);
                open_fds--;
                broken = 1;
            }
        }
        /* Answer a complete round, or tell everyone waiting that the exchange is broken. */
        int all_ready = 1;
        for (int r = 0; r < size; r++)
            all_ready &= ch[r].alive && ch[r].ready;
        if (broken) {
            for (int r = 0; r < size; r++) {
                if (!ch[r].alive || !ch[r].ready) continue;
                uint64_t bad = UINT64_MAX;
                xchg_fork_io(ch[r].fd, &bad, sizeof bad, 1, tacl__deadline_ns(5.0));
                free(ch[r].buf);
                ch[r].buf = NULL;
                ch[r].ready = 0;
                ch[r].got_hdr = 0;
            }
        } else if (all_ready) {
            uint64_t len = ch[0].len, total = len * (uint64_t)size;
            unsigned char *all = malloc(total ? total : 1);
            for (int r = 0; r < size; r++)
                memcpy(all + (size_t)r * len, ch[r].buf, len);
            for (int r = 0; r < size; r++) {
                xchg_fork_io(ch[r].fd, &total, sizeof total, 1, tacl__deadline_ns(5.0));
                xchg_fork_io(ch[r].fd, all, total, 1, tacl__deadline_ns(5.0));
                free(ch[r].buf);
                ch[r].buf = NULL;
                ch[r].ready = 0;
                ch[r].got_hdr = 0;
            }
            free(all);
        }
    }
    /* Children whose hub socket closed are exiting; wait for them until the deadline, then
     * kill what is left, by pid. */
    for (int r = 0; r < size; r++) {
        int st = 0;
        pid_t w = 0;
        while ((w = waitpid(ch[r].pid, &st, WNOHANG)) == 0 && tacl__now_ns() < deadline)
            usleep(10000);
        if (w == 0) {
            fprintf(stderr, "xchg_fork: rank %d (pid %d) still running at the timeout: killed\n", r,
                    (int)ch[r].pid);
            kill(ch[r].pid, SIGKILL);
            waitpid(ch[r].pid, &st, 0);
        }
        status[r] = st;
        if (ch[r].alive) close(ch[r].fd);
        free(ch[r].buf);
    }
    free(pf);
    free(ch);
    free(sp);
    return 0;
}
