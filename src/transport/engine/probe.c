/* probe.c — the engine's tcp handshakes: the acceptor thread that answers them for the
 * engine's life, and the parallel non-blocking connects (every address of a peer at once, first
 * handshake wins, further connections to the winning address) that create's reachability tests
 * and the dialers (dial.c) run. Connections made reach the progress thread as events.
 *
 * Every connection proves the job token both ways before it counts (core/auth.h): the
 * acceptor sends a challenge (a fresh nonce), the connecting rank's hello carries its own nonce
 * and HMAC(token, "tacl-engine connect" || both nonces || the hello's identity fields), and the
 * ack carries the acceptor's HMAC over "tacl-engine accept" and the ack's fields. An outsider
 * cannot join the world or have a connection taken as a rank's; a wrong token is refused with
 * the peer's address named on both sides. */
#include "transport/engine/probe_int.h"

#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A refused connection's warning: a burst, then one a second (anyone may connect). */
__attribute__((format(printf, 2, 3))) static void probe_refused(tacl__probe_t *p, const char *fmt,
                                                                ...)
{
    unsigned skipped = 0;
    if (!tacl__log_enabled(TACL_LOG_WARN, TACL_SUB_NET) ||
        !tacl__ratelimit_pass(&p->rl, PROBE_LOG_BURST, &skipped))
        return;
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    TACL_WARN(TACL_SUB_NET, "%s%s", line, tacl__ratelimit_note(skipped));
}

static void probe_drop_pending(tacl__probe_t *p, int i)
{
    close(p->pending[i].fd);
    p->pending[i] = p->pending[--p->npending];
}

/* Reads what the pending connection i has sent; answers a complete hello. */
static void probe_serve_pending(tacl__probe_t *p, int i)
{
    probe_pending_t *q = &p->pending[i];
    ssize_t n = recv(q->fd, (char *)&q->hello + q->got, sizeof q->hello - q->got, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        probe_drop_pending(p, i);
        return;
    }
    if (n < 0) return;
    q->got += (size_t)n;
    if (q->got < sizeof q->hello) return;
    probe_hello_t *h = &q->hello;
    probe_ack_t ack = {.magic = PROBE_ACK_MAGIC, .rank = p->rank, .nonce = p->nonce};
    int ok = 0, probe_only = (h->idx & PROBE_ONLY) != 0, idx = h->idx & ~PROBE_ONLY;
    uint8_t want[TACL_AUTH_MAC_LEN];
    tacl__auth_mac(&p->auth, PROBE_LABEL_CONNECT, q->snonce, h->cnonce, h, PROBE_MAC_CTX, want);
    if (h->magic != PROBE_HELLO_MAGIC) {
        probe_refused(p,
                      "rank %d refused a connection from %s: it did not answer the job-token "
                      "challenge (not a tacl rank of this version)",
                      p->rank, q->peer);
        probe_drop_pending(p, i);
        return;
    } else if (!tacl__mac_equal(want, h->mac, sizeof want)) {
        ack.status = 3;
        probe_refused(p,
                      "rank %d refused a connection from %s (claiming rank %d): wrong job token "
                      "(this rank's is from %s)",
                      p->rank, q->peer, h->src, p->auth.source);
    } else if (h->nonce != p->nonce) {
        ack.status = 1;
        probe_refused(p, "rank %d refused a connection from %s: it belongs to another run", p->rank,
                      q->peer);
    } else if (h->dst != p->rank || h->src < 0 || h->src >= p->size || idx < 0 ||
               idx >= TACL_PROBE_MAX_CONNS) {
        ack.status = 2;
        probe_refused(p,
                      "rank %d refused a connection from rank %d meant for rank %d (connection %d)",
                      p->rank, h->src, h->dst, h->idx);
    } else if (probe_only) {
        ok = 1;
    } else {
        /* Both ranks of a pair may dial each other at once: the lower rank's dial is kept. */
        pthread_mutex_lock(&p->mu);
        if (p->pstate[h->src] == PEER_DIALING && h->src > p->rank && idx == 0) {
            ack.status = 4;
        } else {
            p->pstate[h->src] = PEER_CONNECTED;
            ok = 1;
        }
        pthread_mutex_unlock(&p->mu);
    }
    if (ack.status != 3)
        tacl__auth_mac(&p->auth, PROBE_LABEL_ACCEPT, q->snonce, h->cnonce, &ack, PROBE_MAC_CTX,
                       ack.mac);
    const char *why;
    if (tacl__tcp_send_all(q->fd, &ack, sizeof ack, tacl__deadline_ns(1.0), &why) != 0) ok = 0;
    if (!ok || probe_only) {
        /* A reachability test has served its purpose once answered. */
        probe_drop_pending(p, i);
        return;
    }
    pthread_mutex_lock(&p->mu);
    tacl__probe_event(p, h->src, q->fd, NULL);
    pthread_mutex_unlock(&p->mu);
    p->pending[i] = p->pending[--p->npending];
}

static void probe_format_peer(const struct sockaddr_storage *ss, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6 &&
        IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)ss)->sin6_addr)) {
        /* An IPv4 peer of the dual-stack listener: shown as the IPv4 address it is. */
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, host, sizeof host);
        snprintf(buf, len, "%s:%u", host, ntohs(s6->sin6_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
    } else if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
    } else {
        snprintf(buf, len, "(unknown address)");
    }
}

static void *probe_acceptor(void *arg)
{
    tacl__probe_t *p = arg;
    struct pollfd pf[PROBE_MAX_PENDING + 2];
    for (;;) {
        pf[0] = (struct pollfd){.fd = p->stop_pipe[0], .events = POLLIN};
        pf[1] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
        for (int i = 0; i < p->npending; i++)
            pf[2 + i] = (struct pollfd){.fd = p->pending[i].fd, .events = POLLIN};
        int n = p->npending;
        if (poll(pf, (nfds_t)(2 + n), 200) < 0 && errno != EINTR) break;
        if (pf[0].revents) break;
        uint64_t now = tacl__now_ns();
        for (int i = n - 1; i >= 0; i--) {
            if (pf[2 + i].revents)
                probe_serve_pending(p, i);
            else if (now > p->pending[i].deadline_ns)
                probe_drop_pending(p, i);
        }
        if (pf[1].revents) {
            for (;;) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof ss;
                int fd = accept4(p->lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0) break;
                if (p->npending == PROBE_MAX_PENDING) {
                    /* Full (connections that never say hello): the oldest goes, so a flood
                     * cannot keep a rank's real dial out for long. */
                    int old = 0;
                    for (int k = 1; k < p->npending; k++)
                        if (p->pending[k].deadline_ns < p->pending[old].deadline_ns) old = k;
                    probe_drop_pending(p, old);
                }
                tacl__tcp_tune(fd);
                probe_pending_t *q = &p->pending[p->npending];
                *q = (probe_pending_t){.fd = fd, .deadline_ns = tacl__deadline_ns(10.0)};
                probe_format_peer(&ss, q->peer, sizeof q->peer);
                probe_chal_t c = {.magic = PROBE_CHAL_MAGIC};
                /* A fresh socket takes 40 bytes at once; one that does not is dropped. */
                if (tacl__auth_random(q->snonce, sizeof q->snonce) != 0) {
                    close(fd);
                    continue;
                }
                memcpy(c.nonce, q->snonce, sizeof c.nonce);
                if (send(fd, &c, sizeof c, MSG_NOSIGNAL) != (ssize_t)sizeof c) {
                    close(fd);
                    continue;
                }
                p->npending++;
            }
        }
    }
    return NULL;
}

static void probe_free(tacl__probe_t *p)
{
    free(p->pstate);
    free(p->dwant);
    free(p->crossed);
    free(p->daddr);
    free(p->dnaddr);
    free(p);
}

tacl_status_t tacl__probe_start(int lfd, int rank, int size, uint64_t nonce, tacl__probe_t **out,
                                tacl__errbuf_t *eb)
{
    tacl__probe_t *p = calloc(1, sizeof *p);
    if (!p) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    p->wake_fd = -1;
    p->pstate = calloc((size_t)size, 1);
    p->dwant = calloc((size_t)size, 1);
    p->crossed = calloc((size_t)size, 1);
    p->daddr = calloc((size_t)size * TACL_TCP_MAX_ADDRS, sizeof *p->daddr);
    p->dnaddr = calloc((size_t)size, sizeof *p->dnaddr);
    if (!p->pstate || !p->dwant || !p->crossed || !p->daddr || !p->dnaddr) {
        probe_free(p);
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    }
    tacl_status_t ast = tacl__auth_get(&p->auth, eb);
    if (ast != TACL_OK) {
        probe_free(p);
        return ast;
    }
    p->lfd = lfd;
    p->rank = rank;
    p->size = size;
    p->nonce = nonce;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->dcv, NULL);
    if (pipe(p->stop_pipe) != 0) {
        tacl_status_t st =
            tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_NET, "pipe() failed: %s", strerror(errno));
        probe_free(p);
        return st;
    }
    int e = pthread_create(&p->thread, NULL, probe_acceptor, p);
    if (e != 0) {
        close(p->stop_pipe[0]);
        close(p->stop_pipe[1]);
        probe_free(p);
        return tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_NET, "cannot start the acceptor thread: %s",
                         strerror(e));
    }
    *out = p;
    return TACL_OK;
}

typedef struct {
    int fd, peer, addr, idx;
    int stage; /* 0 connecting, 3 reading the challenge, 2 due to say hello, 1 reading the ack */
    size_t got;
    probe_chal_t chal;
    probe_ack_t ack;
    uint8_t cnonce[TACL_AUTH_NONCE_LEN];
    uint64_t deadline_ns;
} probe_attempt_t;

/* Between two looks at the clock (*last, then now) this thread should have waited about ms:
 * far longer means this process did not run (stopped, or starved), and that time is not the
 * peers' to answer in: every attempt's deadline moves by it. Sets *last to now. A deadline
 * found passed is acted on only right after a look (see the caller). */
static void probe_own_gap(probe_attempt_t *at, int na, uint64_t *last, int ms)
{
    uint64_t now = tacl__now_ns(), took = now - *last, asked = (uint64_t)ms * 1000000ull;
    if (took > asked + PROBE_OWN_GAP_NS)
        for (int i = 0; i < na; i++)
            at[i].deadline_ns += took - asked;
    *last = now;
}

static void probe_note(char *info, const char *fmt, const char *a, const char *b)
{
    /* The text is cut at the field's size; the first addresses' errors matter most. */
    char one[256];
    size_t n = strlen(info);
    int k = snprintf(one, sizeof one, fmt, n ? "; " : "", a, b);
    if (k < 0 || n >= 119) return;
    size_t room = 119 - n, len = (size_t)k < room ? (size_t)k : room;
    memcpy(info + n, one, len);
    info[n + len] = '\0';
}

void tacl__probe_connect(tacl__probe_t *p, const tacl__tcp_addr_t *addrs, const int *naddr,
                         const uint8_t *want, int nconns, int probe_only, double timeout_s,
                         int *fds, uint16_t *mask, uint8_t *won_addr, char (*info)[120])
{
    int size = p->size, cap = 0, na = 0;
    for (int j = 0; j < size; j++) {
        cap += want[j] ? naddr[j] + nconns : 0;
        mask[j] = 0;
        if (won_addr) won_addr[j] = 0;
        info[j][0] = '\0';
        for (int k = 0; k < TACL_PROBE_MAX_CONNS; k++)
            fds[j * TACL_PROBE_MAX_CONNS + k] = -1;
    }
    probe_attempt_t *at = calloc((size_t)cap + 1, sizeof *at);
    struct pollfd *pf = calloc((size_t)cap + 1, sizeof *pf);
    size_t nz = size > 0 ? (size_t)size : 1;
    int *won = calloc(nz, sizeof *won); /* 1 + address index of the winner */
    uint8_t *busy = calloc(nz, 1);      /* a connection to j is in its handshake */
    if (!at || !pf || !won || !busy) {
        for (int j = 0; j < size; j++)
            if (want[j]) snprintf(info[j], 120, "out of memory while connecting");
        goto out;
    }
    /* The first look at the clock comes before the deadline is set: a stop while the
     * attempts are being started (before the loop) is then a gap like any other. */
    uint64_t last = tacl__now_ns();
    uint64_t deadline = tacl__deadline_ns(timeout_s);
    char txt[80];
    for (int j = 0; j < size; j++) {
        if (!want[j]) continue;
        for (int k = 0; k < naddr[j]; k++) {
            const tacl__tcp_addr_t *a = &addrs[j * TACL_TCP_MAX_ADDRS + k];
            int err = 0, fd = tacl__tcp_connect_start(a, &err);
            if (fd < 0) {
                tacl__tcp_addr_format(a, txt, sizeof txt);
                probe_note(info[j], "%sconnect to %s: %s", txt, strerror(err));
                continue;
            }
            at[na++] = (probe_attempt_t){.fd = fd, .peer = j, .addr = k, .deadline_ns = deadline};
        }
    }
    while (na > 0) {
        int ms = 1000000;
        for (int i = 0; i < na; i++) {
            static const short want_ev[4] = {POLLOUT, POLLIN, 0, POLLIN};
            pf[i] = (struct pollfd){.fd = at[i].fd, .events = want_ev[at[i].stage]};
            if (at[i].stage == 2 && !busy[at[i].peer]) ms = 0; /* its turn to say hello */
            int left = tacl__ms_left(at[i].deadline_ns);
            if (left < ms) ms = left;
        }
        if (ms > 100) ms = 100; /* an engine being destroyed stops its dialer */
        if (atomic_load(&p->dstop)) break;
        probe_own_gap(at, na, &last, 0);
        if (poll(pf, (nfds_t)na, ms) < 0 && errno != EINTR) break;
        probe_own_gap(at, na, &last, ms);
        for (int i = na - 1; i >= 0; i--) {
            probe_attempt_t *t = &at[i];
            const tacl__tcp_addr_t *a = &addrs[t->peer * TACL_TCP_MAX_ADDRS + t->addr];
            const char *fail = NULL;
            char why[64];
            if (won[t->peer] && t->idx == 0) {
                fail = ""; /* another address won the race: drop silently */
            } else if (pf[i].revents && t->stage == 0) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err)
                    fail = strerror(err);
                else
                    t->stage = 3; /* connected: the acceptor's challenge comes first */
            } else if (pf[i].revents && t->stage == 3) {
                ssize_t n =
                    recv(t->fd, (char *)&t->chal + t->got, sizeof t->chal - t->got, MSG_DONTWAIT);
                if (n == 0)
                    fail = "closed before its job-token challenge (not a tacl rank?)";
                else if (n < 0 && errno != EAGAIN && errno != EINTR)
                    fail = strerror(errno);
                else if (n > 0 && (t->got += (size_t)n) == sizeof t->chal) {
                    t->got = 0;
                    if (t->chal.magic != PROBE_CHAL_MAGIC)
                        fail = "the listener is not a tacl rank of this version";
                    else
                        t->stage = 2; /* say hello when no other address is doing so */
                }
            }
            if (!fail && t->stage == 2 && (t->idx > 0 || !busy[t->peer])) {
                /* Only one connection per peer handshakes at a time: the acceptor keeps every
                 * connection that says hello, so a second one would be a stray. */
                probe_hello_t h = {
                    PROBE_HELLO_MAGIC, p->rank, t->peer, t->idx | (probe_only ? PROBE_ONLY : 0),
                    p->nonce,          {0},     {0}};
                if (tacl__auth_random(t->cnonce, sizeof t->cnonce) != 0) {
                    fail = "getrandom failed";
                    goto failed;
                }
                memcpy(h.cnonce, t->cnonce, sizeof h.cnonce);
                tacl__auth_mac(&p->auth, PROBE_LABEL_CONNECT, t->chal.nonce, t->cnonce, &h,
                               PROBE_MAC_CTX, h.mac);
                if (send(t->fd, &h, sizeof h, MSG_NOSIGNAL) != (ssize_t)sizeof h) {
                    fail = strerror(errno);
                } else {
                    t->stage = 1;
                    if (t->idx == 0) busy[t->peer] = 1;
                }
            } else if (pf[i].revents && t->stage == 1) {
                ssize_t n =
                    recv(t->fd, (char *)&t->ack + t->got, sizeof t->ack - t->got, MSG_DONTWAIT);
                if (n == 0)
                    fail = "closed during the handshake (not a tacl rank?)";
                else if (n < 0 && errno != EAGAIN && errno != EINTR)
                    fail = strerror(errno);
                else if (n > 0 && (t->got += (size_t)n) == sizeof t->ack) {
                    uint8_t want[TACL_AUTH_MAC_LEN];
                    tacl__auth_mac(&p->auth, PROBE_LABEL_ACCEPT, t->chal.nonce, t->cnonce, &t->ack,
                                   PROBE_MAC_CTX, want);
                    if (t->ack.magic != PROBE_ACK_MAGIC) {
                        fail = "the listener is not a tacl rank";
                    } else if (t->ack.status == 3) {
                        fail = "the listener refused this rank's job token (TACL_STORE_TOKEN)";
                    } else if (!tacl__mac_equal(want, t->ack.mac, sizeof want)) {
                        fail = "the listener could not prove it knows the job token";
                    } else if (t->ack.status == 1) {
                        fail = "the listener belongs to another run";
                    } else if (t->ack.status == 4) {
                        p->crossed[t->peer] = 1; /* its own dial to us is the one kept */
                        fail = "";
                    } else if (t->ack.status != 0 || t->ack.rank != t->peer) {
                        snprintf(why, sizeof why, "the listener is rank %d, not rank %d",
                                 t->ack.rank, t->peer);
                        fail = why;
                    } else {
                        /* Handshake complete: this connection is the link's number idx. */
                        fds[t->peer * TACL_PROBE_MAX_CONNS + t->idx] = t->fd;
                        mask[t->peer] |= (uint16_t)(1u << t->idx);
                        if (t->idx == 0) {
                            won[t->peer] = 1 + t->addr;
                            uint64_t d2 = tacl__deadline_ns(timeout_s);
                            for (int k = 1; k < nconns && na < cap; k++) {
                                int err = 0, fd = tacl__tcp_connect_start(a, &err);
                                if (fd < 0) continue;
                                at[na++] = (probe_attempt_t){.fd = fd,
                                                             .peer = t->peer,
                                                             .addr = t->addr,
                                                             .idx = k,
                                                             .deadline_ns = d2};
                            }
                        }
                        *t = at[--na];
                        continue;
                    }
                }
            } else if (tacl__now_ns() >= t->deadline_ns &&
                       tacl__now_ns() - last < PROBE_OWN_GAP_NS) {
                snprintf(why, sizeof why, "timed out after %.1f s", timeout_s);
                fail = why;
            }
        failed:
            if (!fail) continue;
            if (t->stage == 1 && t->idx == 0) busy[t->peer] = 0;
            if (fail[0] && t->idx == 0) {
                tacl__tcp_addr_format(a, txt, sizeof txt);
                probe_note(info[t->peer], "%sconnect to %s: %s", txt, fail);
            } else if (fail[0]) {
                TACL_INFO(TACL_SUB_NET, "rank %d: extra connection %d to rank %d failed: %s",
                          p->rank, t->idx, t->peer, fail);
            }
            close(t->fd);
            *t = at[--na];
        }
    }
    for (int j = 0; j < size; j++) {
        if (!want[j] || !won[j]) continue;
        const tacl__tcp_addr_t *a = &addrs[j * TACL_TCP_MAX_ADDRS + won[j] - 1];
        if (won_addr) won_addr[j] = (uint8_t)won[j];
        tacl__tcp_addr_format(a, txt, sizeof txt);
        snprintf(info[j], 120, "tcp %s (%s), %d connection%s", txt, a->ifname,
                 __builtin_popcount(mask[j]), __builtin_popcount(mask[j]) > 1 ? "s" : "");
    }
out:
    for (int i = 0; i < na; i++)
        close(at[i].fd);
    free(at);
    free(pf);
    free(won);
    free(busy);
}

void tacl__probe_stop(tacl__probe_t *p)
{
    if (!p) return;
    if (write(p->stop_pipe[1], "x", 1) != 1)
        TACL_WARN(TACL_SUB_NET, "cannot signal the acceptor thread: %s", strerror(errno));
    pthread_join(p->thread, NULL);
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->dstop, 1);
    pthread_cond_broadcast(&p->dcv);
    int nd = p->ndthreads;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < nd; i++)
        pthread_join(p->dthread[i], NULL);
    for (int i = 0; i < p->npending; i++)
        close(p->pending[i].fd);
    tacl__probe_event_t *ev = p->evh;
    while (ev) {
        tacl__probe_event_t *next = ev->next;
        if (ev->fd >= 0) close(ev->fd);
        free(ev);
        ev = next;
    }
    close(p->stop_pipe[0]);
    close(p->stop_pipe[1]);
    close(p->lfd);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->dcv);
    probe_free(p);
}
