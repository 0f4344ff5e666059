/* store_server.c — the rendezvous store's server: one thread running an epoll loop (or, for
 * tests and fuzzing, the caller turning it: boot_store_server_poll) over the listening sockets
 * (IPv4 and IPv6) and every client connection, a hash table of keys, and the
 * parked blocking requests (get, wait, multi-get) that are answered the moment their last key
 * is set, or with TACL_ERR_TIMEOUT when the deadline the client sent passes. Only the server
 * thread touches the table and the connections, so the table needs no lock; the client count
 * is published under a mutex for the rank that waits for the others to leave. A connection
 * that sends a malformed, oversized or wrong-version frame is closed with a WARN naming the
 * peer and the reason; everyone else is served on.
 *
 * Hostile peers are bounded: every connection must first pass the job-token challenge-response
 * (store_proto.h) within TACL_STORE_AUTH_TIMEOUT, and finish any frame it starts within
 * TACL_STORE_FRAME_TIMEOUT; buffers grow as bytes arrive (never to a size a header merely
 * announces), and the bytes buffered across all connections stay under TACL_STORE_BUFFER_MAX
 * (the connection that would pass it is closed). Parked requests completed by a set are
 * queued on a run list that the loop drains iteratively, so a chain of pipelined requests
 * cannot recurse. When descriptors run out, the oldest connection that has not authenticated
 * makes room; warnings about bad peers and failed accepts are limited to a burst, then one
 * line a second.
 *
 * This file runs the loop (accepting, deadline sweeps, the clock gap), starts and stops the
 * server; store_table.c holds the key table, store_conn.c the connections and their input,
 * store_wait.c the parked requests, store_handlers.c the requests; store_server_int.h shares
 * their types. */
#include "boot/store_server_int.h"
#include "boot/store_proto.h"
#include "clock.h"
#include "err.h"
#include "settings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How often connections are checked against the authentication and frame deadlines. */
#define SRV_SWEEP_NS 200000000ull
/* A look at the clock this much later than the loop asked for: the server did not run. */
#define SRV_OWN_GAP_NS 300000000ull
/* How long accepting pauses after accept() failed for want of descriptors or memory. */
#define SRV_ACCEPT_PAUSE_NS 100000000ull

/* Adds to one of the server's counters (boot_store_server_stats). */
void boot_store_srv_count(tacl_store_server_t *srv, uint64_t *counter, uint64_t n)
{
    pthread_mutex_lock(&srv->mu);
    *counter += n;
    pthread_mutex_unlock(&srv->mu);
}

static int srv_next_timeout_ms(tacl_store_server_t *srv)
{
    uint64_t best = srv->wmin;
    if (srv->conns && (!best || srv->next_sweep_ns < best)) best = srv->next_sweep_ns;
    if (srv->accept_resume_ns && (!best || srv->accept_resume_ns < best))
        best = srv->accept_resume_ns;
    return best ? tacl__ms_left(best) : -1;
}

/* Between two looks at the clock the loop should have waited about asked_ms (epoll_wait; -1:
 * without limit, so any time) or not at all (0): far longer means this process did not run
 * (stopped, starved), and that time was not the clients' to authenticate or finish a frame in:
 * their clocks move by it. Sets the last look to now. */
static void srv_own_gap(tacl_store_server_t *srv, int asked_ms)
{
    uint64_t now = tacl__now_ns(), took = now - srv->last_look;
    uint64_t asked = asked_ms > 0 ? (uint64_t)asked_ms * 1000000ull : 0;
    if (srv->last_look && asked_ms >= 0 && took > asked + SRV_OWN_GAP_NS) {
        uint64_t lost = took - asked;
        for (srv_conn_t *c = srv->conns; c; c = c->next) {
            c->accepted_ns = c->accepted_ns + lost < now ? c->accepted_ns + lost : now;
            if (c->frame_start_ns)
                c->frame_start_ns = c->frame_start_ns + lost < now ? c->frame_start_ns + lost : now;
        }
        TACL_DEBUG(TACL_SUB_STORE, "store server: did not run for %.2f s", (double)lost * 1e-9);
    }
    srv->last_look = now;
}

/* Closes connections past their authentication or frame deadline. */
static void srv_sweep(tacl_store_server_t *srv)
{
    uint64_t now = tacl__now_ns();
    if (now < srv->next_sweep_ns) return;
    srv->next_sweep_ns = now + SRV_SWEEP_NS;
    uint64_t auth_ns = (uint64_t)(srv->auth_timeout_s * 1e9);
    uint64_t frame_ns = (uint64_t)(srv->frame_timeout_s * 1e9);
    for (srv_conn_t *c = srv->conns; c; c = c->next) {
        if (c->dead) continue;
        if (!c->authed && now - c->accepted_ns > auth_ns)
            boot_store_srv_conn_fail(c,
                                     "did not authenticate within %.1f s (TACL_STORE_AUTH_TIMEOUT)",
                                     srv->auth_timeout_s);
        else if (c->authed && !c->waiting && c->frame_start_ns &&
                 now - c->frame_start_ns > frame_ns)
            boot_store_srv_conn_fail(c,
                                     "did not finish its frame within %.1f s (%zu bytes received; "
                                     "TACL_STORE_FRAME_TIMEOUT)",
                                     srv->frame_timeout_s, c->in_len);
    }
}

static void srv_format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6 &&
        IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
        /* An IPv4 client of the dual-stack socket: named by its IPv4 address. */
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, host, sizeof host);
        snprintf(buf, len, "%s:%u", host, ntohs(s6->sin6_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
    } else {
        snprintf(buf, len, "(family %d)", sa->sa_family);
    }
}

/* Out of descriptors: closes the oldest connection that has not authenticated (its fd now,
 * its state at the end of the iteration). Returns 1 when one was closed. */
static int srv_evict_unauthed(tacl_store_server_t *srv)
{
    srv_conn_t *victim = NULL;
    for (srv_conn_t *c = srv->conns; c; c = c->next)
        if (!c->authed && !c->dead && c->fd >= 0 &&
            (!victim || c->accepted_ns < victim->accepted_ns))
            victim = c;
    if (!victim) return 0;
    boot_store_srv_conn_fail(victim,
                             "out of file descriptors: closing the oldest connection that has not "
                             "authenticated to make room");
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, victim->fd, NULL);
    close(victim->fd);
    victim->fd = -1;
    return 1;
}

/* Stops watching the listening sockets for a moment (accept failed and would fail again). */
static void srv_accept_pause(tacl_store_server_t *srv, int on)
{
    for (int i = 0; i < srv->nlfd; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &srv->lfd[i]};
        epoll_ctl(srv->epfd, on ? EPOLL_CTL_DEL : EPOLL_CTL_ADD, srv->lfd[i], &ev);
    }
    srv->accept_resume_ns = on ? tacl__now_ns() + SRV_ACCEPT_PAUSE_NS : 0;
}

static void srv_accept(tacl_store_server_t *srv, int lfd)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            int e = errno;
            if ((e == EMFILE || e == ENFILE) && srv_evict_unauthed(srv)) continue;
            unsigned skipped;
            if (tacl__ratelimit_pass(&srv->rl_accept, SRV_LOG_BURST, &skipped))
                TACL_WARN(TACL_SUB_STORE,
                          "store server: accept failed: %s%s; %d connections held%s", strerror(e),
                          e == EMFILE ? " (raise the open-files limit, ulimit -n)" : "",
                          boot_store_server_nclients(srv), tacl__ratelimit_note(skipped));
            /* The socket stays readable: pause instead of spinning on it. */
            srv_accept_pause(srv, 1);
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        srv_conn_t *c = calloc(1, sizeof *c);
        if (!c) {
            TACL_WARN(TACL_SUB_STORE, "store server: out of memory accepting a connection");
            close(fd);
            continue;
        }
        c->fd = fd;
        c->srv = srv;
        c->accepted_ns = tacl__now_ns();
        srv_format_addr((struct sockaddr *)&ss, c->peer, sizeof c->peer);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            TACL_WARN(TACL_SUB_STORE, "store server: epoll_ctl for %s failed: %s", c->peer,
                      strerror(errno));
            close(fd);
            free(c);
            continue;
        }
        c->next = srv->conns;
        if (srv->conns) srv->conns->prev = c;
        srv->conns = c;
        pthread_mutex_lock(&srv->mu);
        srv->nclients++;
        srv->stats.accepted++;
        if (srv->nclients > srv->stats.clients_peak) srv->stats.clients_peak = srv->nclients;
        pthread_mutex_unlock(&srv->mu);
        TACL_DEBUG(TACL_SUB_STORE, "store server: connection from %s", c->peer);
        /* The challenge: a fresh nonce, then the client must prove it knows the token. */
        uint8_t g[STORE_GREET_LEN];
        store_put_u32(g, STORE_AUTH_MAGIC);
        store_put_u16(g + 4, STORE_VERSION);
        store_put_u16(g + 6, srv->auth.on ? STORE_AUTH_FLAG_ON : 0);
        if (tacl__auth_random(c->nonce, sizeof c->nonce) != 0) {
            boot_store_srv_conn_fail(c, "cannot draw a random nonce (getrandom failed)");
            continue;
        }
        memcpy(g + 8, c->nonce, sizeof c->nonce);
        boot_store_srv_send_raw(srv, c, g, sizeof g);
    }
}

/* CPU time of the calling thread (the server's own work, whatever else runs on the host). */
static uint64_t srv_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One turn of the loop: waits up to timeout_ms (-1: no limit) for events, handles them, expires
 * parked requests (all of those with a deadline when expire_all), closes what died. Returns
 * the number of events handled plus requests expired, or -1 when the server is told to stop
 * or epoll failed. */
static int srv_turn(tacl_store_server_t *srv, int timeout_ms, int expire_all)
{
    struct epoll_event evs[64];
    int stop = 0;
    srv_own_gap(srv, 0);
    int n = epoll_wait(srv->epfd, evs, 64, timeout_ms);
    srv_own_gap(srv, timeout_ms);
    if (n < 0 && errno != EINTR) {
        TACL_WARN(TACL_SUB_STORE, "store server: epoll_wait failed: %s; stopping", strerror(errno));
        return -1;
    }
    uint64_t t0 = srv_cpu_ns();
    for (int i = 0; i < n; i++) {
        void *p = evs[i].data.ptr;
        if (p == &srv->evfd) {
            stop = 1;
        } else if (p == &srv->lfd[0] || p == &srv->lfd[1]) {
            srv_accept(srv, *(int *)p);
        } else {
            srv_conn_t *c = p;
            if (c->dead) continue;
            if (evs[i].events & EPOLLOUT) boot_store_srv_conn_flush(srv, c);
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) boot_store_srv_conn_read(srv, c);
            boot_store_srv_run(srv);
        }
    }
    int expired = boot_store_srv_expire(srv, expire_all);
    boot_store_srv_run(srv);
    srv_own_gap(srv, 0);
    srv_sweep(srv);
    if (srv->accept_resume_ns && tacl__now_ns() >= srv->accept_resume_ns) srv_accept_pause(srv, 0);
    boot_store_srv_reap(srv);
    boot_store_srv_count(srv, &srv->stats.cpu_ns, srv_cpu_ns() - t0);
    return stop ? -1 : (n > 0 ? n : 0) + expired;
}

static void *srv_main(void *arg)
{
    tacl_store_server_t *srv = arg;
    while (srv_turn(srv, srv_next_timeout_ms(srv), 0) >= 0) {
    }
    return NULL;
}

/* ---- Start and stop. ---- */

static int srv_listen_on(tacl_store_server_t *srv, const struct sockaddr *sa, socklen_t sl,
                         int *err)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* Unspecified IPv6 address: serve IPv4 clients on the same socket. */
    if (sa->sa_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, sa, sl) != 0 || listen(fd, SOMAXCONN) != 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    srv->lfd[srv->nlfd++] = fd;
    return 0;
}

/* A store serves every rank (and holds their sockets while they wait): raise the soft limit
 * on open files to the hard one, as a busy server should. */
static void srv_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
        TACL_INFO(TACL_SUB_STORE, "store server: open-files limit raised from %llu to %llu",
                  (unsigned long long)was, (unsigned long long)rl.rlim_max);
}

static tacl_status_t srv_start(const char *bind_addr, int port, int polled,
                               tacl_store_server_t **out, int *addr_in_use)
{
    if (addr_in_use) *addr_in_use = 0;
    if (!out || port < 0 || port > 65535)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_STORE,
                         "store server: port %d is not in 0..65535 (or no output handle)", port);
    const char *where = bind_addr && bind_addr[0] ? bind_addr : "*";
    tacl_store_server_t *srv = calloc(1, sizeof *srv);
    if (!srv) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_STORE, "store server: out of memory");
    srv->epfd = srv->evfd = -1;
    srv->lfd[0] = srv->lfd[1] = -1;
    srv->polled = polled;
    tacl_status_t st;
    int err = 0;
    st = tacl__auth_get(&srv->auth, NULL);
    if (st != TACL_OK) {
        tacl__err_prefix(NULL, st, "store server");
        goto err_free;
    }
    srv->auth_timeout_s = tacl__setting_dbl(TACL_SET_STORE_AUTH_TIMEOUT);
    if (srv->auth_timeout_s <= 0) srv->auth_timeout_s = 10;
    srv->frame_timeout_s = tacl__setting_dbl(TACL_SET_STORE_FRAME_TIMEOUT);
    if (srv->frame_timeout_s <= 0) srv->frame_timeout_s = 60;
    long bmax = tacl__setting_int(TACL_SET_STORE_BUFFER_MAX);
    srv->buffer_max = bmax > 0 ? (size_t)bmax : (size_t)1 << 30;
    srv_raise_nofile();
    srv->table.nbuckets = 256;
    srv->table.buckets = calloc(srv->table.nbuckets, sizeof *srv->table.buckets);
    if (!srv->table.buckets) {
        st = tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_STORE, "store server: out of memory");
        goto err_free;
    }
    if (!bind_addr || !bind_addr[0]) {
        struct sockaddr_in6 s6 = {
            .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_any};
        if (srv_listen_on(srv, (struct sockaddr *)&s6, sizeof s6, &err) != 0 &&
            (err == EAFNOSUPPORT || err == EADDRNOTAVAIL)) {
            /* No IPv6 on this host: IPv4 only. */
            struct sockaddr_in s4 = {.sin_family = AF_INET,
                                     .sin_port = htons((uint16_t)port),
                                     .sin_addr.s_addr = htonl(INADDR_ANY)};
            srv_listen_on(srv, (struct sockaddr *)&s4, sizeof s4, &err);
        }
    } else {
        struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                                 .ai_socktype = SOCK_STREAM},
                        *res = NULL;
        char ps[16];
        snprintf(ps, sizeof ps, "%d", port);
        int g = getaddrinfo(bind_addr, ps, &hints, &res);
        if (g != 0) {
            st = tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_STORE,
                           "store server: cannot resolve bind address '%s': %s", bind_addr,
                           gai_strerror(g));
            goto err_free;
        }
        for (struct addrinfo *ai = res; ai && !srv->nlfd; ai = ai->ai_next)
            srv_listen_on(srv, ai->ai_addr, ai->ai_addrlen, &err);
        freeaddrinfo(res);
    }
    if (!srv->nlfd) {
        if (addr_in_use && err == EADDRINUSE) *addr_in_use = 1;
        st = tacl__err(NULL, err == EADDRINUSE ? TACL_ERR_UNAVAILABLE : TACL_ERR_SYSTEM,
                       TACL_SUB_STORE, "store server: cannot listen on %s port %d: %s", where, port,
                       strerror(err));
        goto err_free;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(srv->lfd[0], (struct sockaddr *)&ss, &sl);
    srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    srv->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (srv->epfd < 0 || srv->evfd < 0) {
        st = tacl__err(NULL, TACL_ERR_SYSTEM, TACL_SUB_STORE, "store server: epoll/eventfd: %s",
                       strerror(errno));
        goto err_close;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &srv->evfd};
    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->evfd, &ev);
    for (int i = 0; i < srv->nlfd; i++) {
        ev.data.ptr = &srv->lfd[i];
        epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->lfd[i], &ev);
    }
    pthread_mutex_init(&srv->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->cv, &ca);
    pthread_condattr_destroy(&ca);
    int e = polled ? 0 : pthread_create(&srv->thread, NULL, srv_main, srv);
    if (e != 0) {
        st = tacl__err(NULL, TACL_ERR_SYSTEM, TACL_SUB_STORE,
                       "store server: cannot start its thread: %s", strerror(e));
        pthread_mutex_destroy(&srv->mu);
        pthread_cond_destroy(&srv->cv);
        goto err_close;
    }
    TACL_INFO(TACL_SUB_STORE, "store server listening on %s port %d (job token: %s)", where,
              srv->port, srv->auth.source);
    *out = srv;
    return TACL_OK;

err_close:
    if (srv->epfd >= 0) close(srv->epfd);
    if (srv->evfd >= 0) close(srv->evfd);
    for (int i = 0; i < srv->nlfd; i++)
        close(srv->lfd[i]);
err_free:
    free(srv->table.buckets);
    free(srv);
    return st;
}

tacl_status_t boot_store_server_start(const char *bind_addr, int port, tacl_store_server_t **out,
                                      int *addr_in_use)
{
    return srv_start(bind_addr, port, 0, out, addr_in_use);
}

tacl_status_t boot_store_server_start_polled(const char *bind_addr, int port,
                                             tacl_store_server_t **out)
{
    return srv_start(bind_addr, port, 1, out, NULL);
}

int boot_store_server_poll(tacl_store_server_t *srv, int timeout_ms, int expire_all)
{
    return srv->polled ? srv_turn(srv, timeout_ms, expire_all) : -1;
}

int boot_store_server_nparked(tacl_store_server_t *srv)
{
    int n = 0;
    for (srv_conn_t *c = srv->polled ? srv->waiters : NULL; c; c = c->wnext)
        n++;
    return n;
}

tacl_status_t tacl_store_server_start(const char *bind_addr, int port, tacl_store_server_t **out)
{
    return boot_store_server_start(bind_addr, port, out, NULL);
}

int tacl_store_server_port(const tacl_store_server_t *srv)
{
    return srv ? srv->port : -1;
}

int boot_store_server_nclients(tacl_store_server_t *srv)
{
    pthread_mutex_lock(&srv->mu);
    int n = srv->nclients;
    pthread_mutex_unlock(&srv->mu);
    return n;
}

void boot_store_server_stats(tacl_store_server_t *srv, boot_store_stats_t *out)
{
    pthread_mutex_lock(&srv->mu);
    *out = srv->stats;
    pthread_mutex_unlock(&srv->mu);
}

int boot_store_server_wait_clients(tacl_store_server_t *srv, int max_clients, uint64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000ull),
                          .tv_nsec = (long)(deadline_ns % 1000000000ull)};
    pthread_mutex_lock(&srv->mu);
    while (srv->nclients > max_clients)
        if (pthread_cond_timedwait(&srv->cv, &srv->mu, &ts) == ETIMEDOUT) break;
    int n = srv->nclients;
    pthread_mutex_unlock(&srv->mu);
    return n;
}

void tacl_store_server_stop(tacl_store_server_t *srv)
{
    if (!srv) return;
    uint64_t one = 1;
    if (!srv->polled) {
        while (write(srv->evfd, &one, sizeof one) < 0 && errno == EINTR) {
        }
        pthread_join(srv->thread, NULL);
    }
    while (srv->conns)
        boot_store_srv_conn_close(srv, srv->conns);
    for (int i = 0; i < srv->nlfd; i++)
        close(srv->lfd[i]);
    close(srv->epfd);
    close(srv->evfd);
    boot_store_srv_table_free(&srv->table);
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cv);
    free(srv);
}
