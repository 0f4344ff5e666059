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
 * line a second. */
#include "boot/store_int.h"
#include "boot/store_proto.h"
#include "auth.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "settings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Bytes a connection may buffer while its blocking request is parked: clients do not pipeline,
 * so more than this is a misbehaving peer. */
#define SRV_PARKED_INPUT_MAX (1u << 20)
/* Reply buffer a connection keeps between replies; larger ones are freed once sent. */
#define SRV_OUT_KEEP (64u << 10)
/* Missing keys named in a timeout reply (the count of all missing ones is sent too). */
#define SRV_TIMEOUT_NAMES 16
/* How often connections are checked against the authentication and frame deadlines. */
#define SRV_SWEEP_NS 200000000ull
/* A look at the clock this much later than the loop asked for: the server did not run. */
#define SRV_OWN_GAP_NS 300000000ull
/* How long accepting pauses after accept() failed for want of descriptors or memory. */
#define SRV_ACCEPT_PAUSE_NS 100000000ull

/* Parked requests are indexed by the hash of the first key each still misses, so that a set
 * looks only at the requests waiting for that key: thousands of parked clients cost a set
 * nothing unless they wait for its key. */
#define SRV_WAIT_BUCKETS 4096u

/* WARN lines per kind: a burst of this many, then one a second; the next line logged says how
 * many were left out (they still go to the DEBUG log). */
#define SRV_LOG_BURST 20.0

typedef struct srv_entry {
    struct srv_entry *next;
    uint64_t hash;
    uint32_t klen, vlen;
    uint8_t *val;
    char key[]; /* klen bytes + NUL */
} srv_entry_t;

typedef struct {
    srv_entry_t **buckets;
    size_t nbuckets, count;
} srv_table_t;

typedef struct srv_conn {
    struct srv_conn *prev, *next;   /* every connection */
    struct srv_conn *wprev, *wnext; /* parked connections */
    struct srv_conn *hprev, *hnext; /* parked connections waiting for keys of one hash bucket */
    uint32_t hbucket;               /* that bucket: of the first key still missing */
    struct srv_conn *rnext;         /* run list: input to process again */
    struct tacl_store_server *srv;
    int fd;   /* -1 once closed early to free a descriptor */
    int dead; /* closed by srv_reap at the end of the loop iteration */
    int queued, closing, authed;
    int want_out;
    uint64_t accepted_ns, frame_start_ns; /* frame_start_ns: 0 when no frame is in progress */
    uint8_t nonce[TACL_AUTH_NONCE_LEN];
    char peer[INET6_ADDRSTRLEN + 16];
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    /* The parked blocking request: its frame is copied so that wkeys can point into it. */
    int waiting, wready;
    uint16_t wop;
    uint8_t *wframe;
    const uint8_t **wkeys;
    uint32_t *wlens;
    uint32_t nw, wnext_missing;
    uint64_t wdeadline; /* 0: none */
} srv_conn_t;

struct tacl_store_server {
    int lfd[2];
    int nlfd;
    int epfd, evfd;
    int port;
    pthread_t thread;
    srv_table_t table;
    srv_conn_t *conns, *waiters;
    srv_conn_t *wbuckets[SRV_WAIT_BUCKETS]; /* parked connections by their first missing key */
    uint64_t wmin; /* no parked request's deadline is before this (0: none pending) */
    int reap;      /* some connection may be dead: srv_reap has work */
    srv_conn_t *run_head, *run_tail;
    tacl__auth_t auth;
    double auth_timeout_s, frame_timeout_s;
    size_t buffered, buffer_max; /* bytes of every connection's input and output buffers */
    uint64_t next_sweep_ns, accept_resume_ns; /* accept_resume_ns: 0 when accepting */
    uint64_t last_look;                       /* the loop's last look at the clock */
    tacl__ratelimit_t rl_conn, rl_accept;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nclients;             /* under mu */
    boot_store_stats_t stats; /* under mu (the server thread adds, anyone reads) */
    int polled;               /* no thread: the caller runs the loop (boot_store_server_poll) */
};

/* Adds to one of the server's counters (boot_store_server_stats). */
static void srv_count(tacl_store_server_t *srv, uint64_t *counter, uint64_t n)
{
    pthread_mutex_lock(&srv->mu);
    *counter += n;
    pthread_mutex_unlock(&srv->mu);
}

/* ---- The key table. ---- */

static uint64_t srv_hash(const uint8_t *k, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    return h;
}

static srv_entry_t **srv_table_slot(srv_table_t *t, const uint8_t *k, uint32_t n, uint64_t h)
{
    srv_entry_t **p = &t->buckets[h & (t->nbuckets - 1)];
    for (; *p; p = &(*p)->next)
        if ((*p)->hash == h && (*p)->klen == n && !memcmp((*p)->key, k, n)) break;
    return p;
}

static srv_entry_t *srv_table_find(srv_table_t *t, const uint8_t *k, uint32_t n)
{
    return *srv_table_slot(t, k, n, srv_hash(k, n));
}

static int srv_table_grow(srv_table_t *t)
{
    size_t nb = t->nbuckets * 2;
    srv_entry_t **b = calloc(nb, sizeof *b);
    if (!b) return -1;
    for (size_t i = 0; i < t->nbuckets; i++) {
        srv_entry_t *e = t->buckets[i];
        while (e) {
            srv_entry_t *next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
    return 0;
}

/* Stores a copy of val under k. Returns the entry, or NULL when out of memory. */
static srv_entry_t *srv_table_set(srv_table_t *t, const uint8_t *k, uint32_t n, const void *val,
                                  uint32_t vlen)
{
    uint8_t *v = malloc(vlen ? vlen : 1);
    if (!v) return NULL;
    memcpy(v, val, vlen);
    uint64_t h = srv_hash(k, n);
    srv_entry_t **slot = srv_table_slot(t, k, n, h);
    srv_entry_t *e = *slot;
    if (!e) {
        if (t->count >= t->nbuckets && srv_table_grow(t) == 0) slot = srv_table_slot(t, k, n, h);
        e = malloc(sizeof *e + n + 1);
        if (!e) {
            free(v);
            return NULL;
        }
        e->next = NULL;
        e->hash = h;
        e->klen = n;
        memcpy(e->key, k, n);
        e->key[n] = '\0';
        e->val = NULL;
        *slot = e;
        t->count++;
    }
    free(e->val);
    e->val = v;
    e->vlen = vlen;
    return e;
}

static void srv_entry_free(srv_entry_t *e)
{
    free(e->val);
    free(e);
}

static int srv_table_delete(srv_table_t *t, const uint8_t *k, uint32_t n)
{
    srv_entry_t **slot = srv_table_slot(t, k, n, srv_hash(k, n));
    srv_entry_t *e = *slot;
    if (!e) return 0;
    *slot = e->next;
    srv_entry_free(e);
    t->count--;
    return 1;
}

static int64_t srv_table_delete_prefix(srv_table_t *t, const uint8_t *p, uint32_t n)
{
    int64_t deleted = 0;
    for (size_t i = 0; i < t->nbuckets; i++) {
        srv_entry_t **slot = &t->buckets[i];
        while (*slot) {
            srv_entry_t *e = *slot;
            if (e->klen >= n && !memcmp(e->key, p, n)) {
                *slot = e->next;
                srv_entry_free(e);
                t->count--;
                deleted++;
            } else {
                slot = &e->next;
            }
        }
    }
    return deleted;
}

static void srv_table_free(srv_table_t *t)
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        srv_entry_t *e = t->buckets[i];
        while (e) {
            srv_entry_t *next = e->next;
            srv_entry_free(e);
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = NULL;
}

/* ---- Connections: output, failure, close. ---- */

static void srv_set_dead(srv_conn_t *c)
{
    c->dead = 1;
    c->srv->reap = 1;
}

static void srv_conn_fail(srv_conn_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Resizes one of c's buffers (*buf of *cap bytes) to cap bytes within the server's total
 * budget. Returns 0, or -1 with the connection failed. */
static int srv_conn_resize(srv_conn_t *c, uint8_t **buf, size_t *cap, size_t want, const char *what)
{
    tacl_store_server_t *srv = c->srv;
    if (want > *cap && srv->buffered - *cap + want > srv->buffer_max) {
        srv_conn_fail(c,
                      "%s of %zu bytes would raise the bytes buffered for all connections to %zu, "
                      "over the limit of %zu (TACL_STORE_BUFFER_MAX)",
                      what, want, srv->buffered - *cap + want, srv->buffer_max);
        return -1;
    }
    uint8_t *p = want ? realloc(*buf, want) : NULL;
    if (want && !p) {
        srv_conn_fail(c, "out of memory for a %zu-byte %s", want, what);
        return -1;
    }
    if (!want) free(*buf);
    srv->buffered = srv->buffered - *cap + want;
    *buf = p;
    *cap = want;
    return 0;
}

static void srv_conn_fail(srv_conn_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void srv_conn_fail(srv_conn_t *c, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    unsigned skipped;
    if (tacl__ratelimit_pass(&c->srv->rl_conn, SRV_LOG_BURST, &skipped))
        TACL_WARN(TACL_SUB_STORE, "store server: closing connection from %s: %s%s", c->peer, why,
                  tacl__ratelimit_note(skipped));
    else
        TACL_DEBUG(TACL_SUB_STORE, "store server: closing connection from %s: %s", c->peer, why);
    srv_set_dead(c);
}

static void srv_conn_events(tacl_store_server_t *srv, srv_conn_t *c, int want_out)
{
    if (c->want_out == want_out || c->dead) return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        srv_conn_fail(c, "epoll_ctl failed: %s", strerror(errno));
        return;
    }
    c->want_out = want_out;
}

static void srv_conn_flush(tacl_store_server_t *srv, srv_conn_t *c)
{
    while (c->out_off < c->out_len && !c->dead) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            srv_count(srv, &srv->stats.bytes_out, (uint64_t)n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            srv_conn_events(srv, c, 1);
            return;
        } else {
            /* The peer went away; not a protocol error, so no WARN. */
            TACL_DEBUG(TACL_SUB_STORE, "store server: send to %s failed: %s", c->peer,
                       strerror(errno));
            srv_set_dead(c);
            return;
        }
    }
    c->out_off = c->out_len = 0;
    /* A large reply's buffer goes once it is sent: thousands of clients reading one large key
     * would otherwise keep a copy each, counted against TACL_STORE_BUFFER_MAX. */
    if (c->out_cap > SRV_OUT_KEEP) srv_conn_resize(c, &c->out, &c->out_cap, 0, "reply buffer");
    if (c->closing) {
        srv_set_dead(c);
        return;
    }
    srv_conn_events(srv, c, 0);
}

/* Queues one response frame and tries to send it at once. */
static void srv_reply(tacl_store_server_t *srv, srv_conn_t *c, tacl_status_t status, uint32_t n,
                      const void *const *items, const uint32_t *lens)
{
    if (c->dead) return;
    uint64_t body = 0;
    for (uint32_t i = 0; i < n; i++)
        body += 4 + (uint64_t)lens[i];
    if (body > STORE_FRAME_MAX) {
        char msg[160];
        int m = snprintf(msg, sizeof msg,
                         "reply of %" PRIu64 " bytes exceeds the %u-byte frame "
                         "limit; fetch fewer keys per request",
                         body, STORE_FRAME_MAX);
        const void *it[1] = {msg};
        uint32_t ln[1] = {(uint32_t)m};
        srv_reply(srv, c, TACL_ERR_INVALID, 1, it, ln);
        return;
    }
    size_t need = c->out_len + STORE_HDR_LEN + (size_t)body;
    if (need > c->out_cap) {
        /* Doubling for many small replies, exact for one large one. */
        size_t cap = c->out_cap ? c->out_cap * 2 : 4096;
        if (cap < need) cap = need;
        if (srv_conn_resize(c, &c->out, &c->out_cap, cap, "reply buffer") != 0) return;
    }
    uint8_t *p = c->out + c->out_len;
    store_put_hdr(p, (uint16_t)status, n, (uint32_t)body, 0);
    p += STORE_HDR_LEN;
    for (uint32_t i = 0; i < n; i++) {
        store_put_u32(p, lens[i]);
        if (lens[i]) memcpy(p + 4, items[i], lens[i]);
        p += 4 + lens[i];
    }
    c->out_len = need;
    srv_conn_flush(srv, c);
}

static void srv_reply_msg(tacl_store_server_t *srv, srv_conn_t *c, tacl_status_t st,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void srv_reply_msg(tacl_store_server_t *srv, srv_conn_t *c, tacl_status_t st,
                          const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    if ((size_t)m >= sizeof msg) m = sizeof msg - 1;
    const void *it[1] = {msg};
    uint32_t ln[1] = {(uint32_t)m};
    srv_reply(srv, c, st, 1, it, ln);
}

/* Files parked c under the bucket of its first missing key (c->wnext_missing). */
static void srv_widx_add(tacl_store_server_t *srv, srv_conn_t *c)
{
    uint32_t i = c->wnext_missing;
    c->hbucket = (uint32_t)(srv_hash(c->wkeys[i], c->wlens[i]) & (SRV_WAIT_BUCKETS - 1));
    c->hprev = NULL;
    c->hnext = srv->wbuckets[c->hbucket];
    if (c->hnext) c->hnext->hprev = c;
    srv->wbuckets[c->hbucket] = c;
}

static void srv_widx_del(tacl_store_server_t *srv, srv_conn_t *c)
{
    if (c->hprev)
        c->hprev->hnext = c->hnext;
    else
        srv->wbuckets[c->hbucket] = c->hnext;
    if (c->hnext) c->hnext->hprev = c->hprev;
    c->hprev = c->hnext = NULL;
}

static void srv_unpark(tacl_store_server_t *srv, srv_conn_t *c)
{
    if (!c->waiting) return;
    srv_widx_del(srv, c);
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        srv->waiters = c->wnext;
    if (c->wnext) c->wnext->wprev = c->wprev;
    c->wprev = c->wnext = NULL;
    c->waiting = 0;
    free(c->wframe);
    free(c->wkeys);
    free(c->wlens);
    c->wframe = NULL;
    c->wkeys = NULL;
    c->wlens = NULL;
}

static void srv_conn_close(tacl_store_server_t *srv, srv_conn_t *c)
{
    srv_unpark(srv, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->fd >= 0) {
        epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    TACL_DEBUG(TACL_SUB_STORE, "store server: connection from %s closed", c->peer);
    srv->buffered -= c->in_cap + c->out_cap;
    free(c->in);
    free(c->out);
    free(c);
    pthread_mutex_lock(&srv->mu);
    srv->nclients--;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
}

static void srv_reap(tacl_store_server_t *srv)
{
    if (!srv->reap) return;
    srv->reap = 0;
    srv_conn_t *c = srv->conns;
    while (c) {
        srv_conn_t *next = c->next;
        if (c->dead) srv_conn_close(srv, c);
        c = next;
    }
}

/* ---- Requests. ---- */

static void srv_conn_process(tacl_store_server_t *srv, srv_conn_t *c);

/* Queues c for srv_run: its input is processed again once the current request is done. */
static void srv_run_push(tacl_store_server_t *srv, srv_conn_t *c)
{
    if (c->queued || c->dead) return;
    c->queued = 1;
    c->rnext = NULL;
    if (srv->run_tail)
        srv->run_tail->rnext = c;
    else
        srv->run_head = c;
    srv->run_tail = c;
}

/* Processes queued connections until none is left; a set that completes further parked
 * requests queues them here instead of recursing into them. */
static void srv_run(tacl_store_server_t *srv)
{
    while (srv->run_head) {
        srv_conn_t *c = srv->run_head;
        srv->run_head = c->rnext;
        if (!srv->run_head) srv->run_tail = NULL;
        c->queued = 0;
        if (!c->dead) srv_conn_process(srv, c);
    }
}

static int srv_all_exist(tacl_store_server_t *srv, const uint8_t *const *keys, const uint32_t *lens,
                         uint32_t n, uint32_t from, uint32_t *first_missing)
{
    for (uint32_t i = from; i < n; i++) {
        if (!srv_table_find(&srv->table, keys[i], lens[i])) {
            *first_missing = i;
            return 0;
        }
    }
    return 1;
}

/* Answers a blocking request whose keys all exist. */
static void srv_answer_blocking(tacl_store_server_t *srv, srv_conn_t *c, uint16_t op,
                                const uint8_t *const *keys, const uint32_t *lens, uint32_t n)
{
    if (op == STORE_OP_WAIT) {
        srv_reply(srv, c, TACL_OK, 0, NULL, NULL);
        return;
    }
    const void **vals = malloc((n ? n : 1) * sizeof *vals);
    uint32_t *vlens = malloc((n ? n : 1) * sizeof *vlens);
    if (!vals || !vlens) {
        free(vals);
        free(vlens);
        srv_conn_fail(c, "out of memory answering %s of %u keys", store_op_name(op), n);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        srv_entry_t *e = srv_table_find(&srv->table, keys[i], lens[i]);
        vals[i] = e->val;
        vlens[i] = e->vlen;
    }
    srv_reply(srv, c, TACL_OK, n, vals, vlens);
    free(vals);
    free(vlens);
}

/* A key was created or changed: parked requests waiting for it may now be complete. Each
 * parked request is filed under its first missing key, so a set looks only at the requests of
 * that key's bucket; one that still misses a later key is filed again under that one. */
static void srv_notify(tacl_store_server_t *srv, const uint8_t *key, uint32_t klen)
{
    uint32_t b = (uint32_t)(srv_hash(key, klen) & (SRV_WAIT_BUCKETS - 1));
    size_t nready = 0, cap = 0;
    srv_conn_t **list = NULL;
    srv_conn_t *c = srv->wbuckets[b];
    while (c) {
        srv_conn_t *next = c->hnext;
        uint32_t i = c->wnext_missing, miss;
        if (c->wlens[i] != klen || memcmp(c->wkeys[i], key, klen)) {
            c = next;
            continue;
        }
        /* A key before i may have been deleted since it was passed. */
        if (!srv_all_exist(srv, c->wkeys, c->wlens, c->nw, i + 1, &miss) ||
            !srv_all_exist(srv, c->wkeys, c->wlens, c->nw, 0, &miss)) {
            c->wnext_missing = miss;
            if (miss != i) {
                srv_widx_del(srv, c);
                srv_widx_add(srv, c);
            }
            c = next;
            continue;
        }
        if (nready == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            srv_conn_t **nl = realloc(list, ncap * sizeof *nl);
            if (!nl) {
                srv_conn_fail(c, "out of memory answering its %s", store_op_name(c->wop));
                c = next;
                continue;
            }
            list = nl;
            cap = ncap;
        }
        list[nready++] = c;
        c = next;
    }
    /* Answering unparks, which changes the lists, so the ready set is gathered first. Their
     * further input goes through the run list (srv_run), never through recursion. */
    for (size_t j = 0; j < nready; j++) {
        c = list[j];
        uint16_t op = c->wop;
        uint8_t *frame = c->wframe;
        const uint8_t **keys = c->wkeys;
        uint32_t *lens = c->wlens, n = c->nw;
        c->wframe = NULL;
        c->wkeys = NULL;
        c->wlens = NULL;
        srv_unpark(srv, c);
        srv_answer_blocking(srv, c, op, keys, lens, n);
        free(frame);
        free(keys);
        free(lens);
    }
    for (size_t j = 0; j < nready; j++)
        srv_run_push(srv, list[j]);
    free(list);
}

static void srv_park(tacl_store_server_t *srv, srv_conn_t *c, uint16_t op, const uint8_t *frame,
                     size_t frame_len, uint32_t n, uint32_t first_missing, uint32_t timeout_ms)
{
    c->wframe = malloc(frame_len);
    c->wkeys = malloc(n * sizeof *c->wkeys);
    c->wlens = malloc(n * sizeof *c->wlens);
    if (!c->wframe || !c->wkeys || !c->wlens) {
        free(c->wframe);
        free(c->wkeys);
        free(c->wlens);
        c->wframe = NULL;
        c->wkeys = NULL;
        c->wlens = NULL;
        srv_conn_fail(c, "out of memory parking %s of %u keys", store_op_name(op), n);
        return;
    }
    memcpy(c->wframe, frame, frame_len);
    /* The frame was validated before; re-splitting the copy cannot fail. */
    store_parse_items(c->wframe + STORE_HDR_LEN, (uint32_t)(frame_len - STORE_HDR_LEN), n, c->wkeys,
                      c->wlens);
    c->wop = op;
    c->nw = n;
    c->wnext_missing = first_missing;
    c->wdeadline = timeout_ms ? tacl__now_ns() + (uint64_t)timeout_ms * 1000000ull : 0;
    if (c->wdeadline && (!srv->wmin || c->wdeadline < srv->wmin)) srv->wmin = c->wdeadline;
    srv_count(srv, &srv->stats.parked, 1);
    srv_widx_add(srv, c);
    c->waiting = 1;
    c->wprev = NULL;
    c->wnext = srv->waiters;
    if (srv->waiters) srv->waiters->wprev = c;
    srv->waiters = c;
}

static void srv_reply_timeout(tacl_store_server_t *srv, srv_conn_t *c)
{
    const void *items[SRV_TIMEOUT_NAMES + 1];
    uint32_t lens[SRV_TIMEOUT_NAMES + 1];
    uint8_t count[8];
    uint64_t missing = 0;
    uint32_t n = 1;
    for (uint32_t i = 0; i < c->nw; i++) {
        if (srv_table_find(&srv->table, c->wkeys[i], c->wlens[i])) continue;
        missing++;
        if (n <= SRV_TIMEOUT_NAMES) {
            items[n] = c->wkeys[i];
            lens[n] = c->wlens[i];
            n++;
        }
    }
    store_put_u64(count, missing);
    items[0] = count;
    lens[0] = 8;
    srv_reply(srv, c, TACL_ERR_TIMEOUT, n, items, lens);
}

/* Answers the parked requests whose deadline passed (every one with a deadline when all: a
 * caller that drives the loop itself lets time pass at once) and returns how many.
 * srv->wmin is a lower bound of the pending deadlines (requests answered meanwhile may have
 * held it), so the list is walked only when one may be due, and the walk makes the bound exact
 * again. */
static int srv_expire(tacl_store_server_t *srv, int all)
{
    uint64_t now = tacl__now_ns();
    if (!all && (!srv->wmin || now < srv->wmin)) return 0;
    uint64_t next = 0;
    int k = 0;
    srv_conn_t *c = srv->waiters;
    while (c) {
        srv_conn_t *nc = c->wnext;
        if (c->waiting && c->wdeadline && (all || c->wdeadline <= now)) {
            srv_reply_timeout(srv, c);
            srv_unpark(srv, c);
            srv_run_push(srv, c);
            k++;
        } else if (c->wdeadline && (!next || c->wdeadline < next)) {
            next = c->wdeadline;
        }
        c = nc;
    }
    srv->wmin = next;
    return k;
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
            srv_conn_fail(c, "did not authenticate within %.1f s (TACL_STORE_AUTH_TIMEOUT)",
                          srv->auth_timeout_s);
        else if (c->authed && !c->waiting && c->frame_start_ns &&
                 now - c->frame_start_ns > frame_ns)
            srv_conn_fail(c,
                          "did not finish its frame within %.1f s (%zu bytes received; "
                          "TACL_STORE_FRAME_TIMEOUT)",
                          srv->frame_timeout_s, c->in_len);
    }
}

/* Parses the decimal integer an add stored; 0 when the value is not one. */
static int srv_parse_i64(const uint8_t *v, uint32_t n, int64_t *out)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, v, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (errno || *end || end == buf) return 0;
    *out = x;
    return 1;
}

/* Handles one complete, header-valid frame. */
static void srv_handle(tacl_store_server_t *srv, srv_conn_t *c, const uint8_t *frame)
{
    srv_count(srv, &srv->stats.requests, 1);
    uint16_t op = store_get_u16(frame + 6);
    uint32_t n = store_get_u32(frame + 8), body_len = store_get_u32(frame + 12);
    uint32_t timeout_ms = store_get_u32(frame + 16);
    const uint8_t **it = malloc((n ? n : 1) * sizeof *it);
    uint32_t *ln = malloc((n ? n : 1) * sizeof *ln);
    if (!it || !ln) {
        srv_conn_fail(c, "out of memory for a %s request of %u items", store_op_name(op), n);
        goto done;
    }
    const char *bad = store_parse_items(frame + STORE_HDR_LEN, body_len, n, it, ln);
    if (bad) {
        srv_conn_fail(c, "malformed %s request: %s", store_op_name(op), bad);
        goto done;
    }
    /* Per-op arity, then the key and value limits. */
    int arity = -1, nkeys = (int)n, val_items = 0;
    switch (op) {
    case STORE_OP_PING:
    case STORE_OP_NUM_KEYS:
        arity = 0;
        nkeys = 0;
        break;
    case STORE_OP_SET:
        arity = 2;
        nkeys = 1;
        val_items = 1;
        break;
    case STORE_OP_ADD:
        arity = 2;
        nkeys = 1;
        break;
    case STORE_OP_CAS:
        arity = 3;
        nkeys = 1;
        val_items = 2;
        break;
    case STORE_OP_GET:
    case STORE_OP_DELETE:
    case STORE_OP_DEL_PREFIX:
        arity = 1;
        nkeys = 1;
        break;
    default: /* wait, check, multi-get: any number of keys */
        break;
    }
    if (arity >= 0 && (int)n != arity) {
        srv_conn_fail(c, "%s request with %u items, expected %d", store_op_name(op), n, arity);
        goto done;
    }
    for (int i = 0; i < nkeys; i++) {
        if (ln[i] > STORE_KEY_MAX) {
            srv_conn_fail(c, "%s request with a key of %u bytes (limit %u)", store_op_name(op),
                          ln[i], STORE_KEY_MAX);
            goto done;
        }
    }
    for (int i = 1; i <= val_items; i++) {
        if (ln[i] > STORE_VALUE_MAX) {
            srv_conn_fail(c, "%s request with a value of %u bytes (limit %u)", store_op_name(op),
                          ln[i], STORE_VALUE_MAX);
            goto done;
        }
    }

    switch (op) {
    case STORE_OP_PING: {
        const void *items[1] = {"tacl-store"};
        uint32_t lens[1] = {10};
        srv_reply(srv, c, TACL_OK, 1, items, lens);
        break;
    }
    case STORE_OP_SET:
        if (!srv_table_set(&srv->table, it[0], ln[0], it[1], ln[1])) {
            srv_reply_msg(srv, c, TACL_ERR_NOMEM, "store server out of memory");
            break;
        }
        srv_reply(srv, c, TACL_OK, 0, NULL, NULL);
        srv_notify(srv, it[0], ln[0]);
        break;
    case STORE_OP_GET:
    case STORE_OP_WAIT:
    case STORE_OP_MULTI_GET: {
        uint32_t miss;
        if (srv_all_exist(srv, it, ln, n, 0, &miss))
            srv_answer_blocking(srv, c, op, it, ln, n);
        else
            srv_park(srv, c, op, frame, STORE_HDR_LEN + (size_t)body_len, n, miss, timeout_ms);
        break;
    }
    case STORE_OP_ADD: {
        if (ln[1] != 8) {
            srv_conn_fail(c, "add request with a %u-byte delta, expected 8", ln[1]);
            break;
        }
        int64_t delta = (int64_t)store_get_u64(it[1]), cur = 0, sum;
        srv_entry_t *e = srv_table_find(&srv->table, it[0], ln[0]);
        if (e && !srv_parse_i64(e->val, e->vlen, &cur)) {
            srv_reply_msg(srv, c, TACL_ERR_INVALID,
                          "add: value of key '%.*s' (%u bytes) is not a decimal integer",
                          (int)(ln[0] > 200 ? 200 : ln[0]), (const char *)it[0], e->vlen);
            break;
        }
        if (__builtin_add_overflow(cur, delta, &sum)) {
            srv_reply_msg(srv, c, TACL_ERR_INVALID,
                          "add: %" PRId64 " + %" PRId64 " overflows key '%.*s'", cur, delta,
                          (int)(ln[0] > 200 ? 200 : ln[0]), (const char *)it[0]);
            break;
        }
        char txt[32];
        int m = snprintf(txt, sizeof txt, "%" PRId64, sum);
        if (!srv_table_set(&srv->table, it[0], ln[0], txt, (uint32_t)m)) {
            srv_reply_msg(srv, c, TACL_ERR_NOMEM, "store server out of memory");
            break;
        }
        uint8_t out[8];
        store_put_u64(out, (uint64_t)sum);
        const void *items[1] = {out};
        uint32_t lens[1] = {8};
        srv_reply(srv, c, TACL_OK, 1, items, lens);
        srv_notify(srv, it[0], ln[0]);
        break;
    }
    case STORE_OP_CAS: {
        srv_entry_t *e = srv_table_find(&srv->table, it[0], ln[0]);
        int swap = e ? (e->vlen == ln[1] && !memcmp(e->val, it[1], ln[1])) : ln[1] == 0;
        if (swap) {
            e = srv_table_set(&srv->table, it[0], ln[0], it[2], ln[2]);
            if (!e) {
                srv_reply_msg(srv, c, TACL_ERR_NOMEM, "store server out of memory");
                break;
            }
        }
        /* A missing key that was not created holds nothing: an empty value comes back. */
        const void *items[1] = {e ? (const void *)e->val : ""};
        uint32_t lens[1] = {e ? e->vlen : 0};
        srv_reply(srv, c, TACL_OK, 1, items, lens);
        if (swap) srv_notify(srv, it[0], ln[0]);
        break;
    }
    case STORE_OP_DELETE: {
        uint8_t d = (uint8_t)srv_table_delete(&srv->table, it[0], ln[0]);
        const void *items[1] = {&d};
        uint32_t lens[1] = {1};
        srv_reply(srv, c, TACL_OK, 1, items, lens);
        break;
    }
    case STORE_OP_CHECK: {
        uint32_t miss;
        uint8_t all = (uint8_t)srv_all_exist(srv, it, ln, n, 0, &miss);
        const void *items[1] = {&all};
        uint32_t lens[1] = {1};
        srv_reply(srv, c, TACL_OK, 1, items, lens);
        break;
    }
    case STORE_OP_NUM_KEYS: {
        uint8_t out[8];
        store_put_u64(out, (uint64_t)srv->table.count);
        const void *items[1] = {out};
        uint32_t lens[1] = {8};
        srv_reply(srv, c, TACL_OK, 1, items, lens);
        break;
    }
    case STORE_OP_DEL_PREFIX: {
        uint8_t out[8];
        store_put_u64(out, (uint64_t)srv_table_delete_prefix(&srv->table, it[0], ln[0]));
        const void *items[1] = {out};
        uint32_t lens[1] = {8};
        srv_reply(srv, c, TACL_OK, 1, items, lens);
        break;
    }
    default:
        srv_conn_fail(c, "unknown op %u", op); /* unreachable: the header check knows ops */
        break;
    }
done:
    free(it);
    free(ln);
}

/* Checks a complete header. Returns NULL when acceptable, else what is wrong (in why). */
static const char *srv_check_hdr(const uint8_t *h, char *why, size_t whylen)
{
    uint32_t magic = store_get_u32(h);
    uint16_t version = store_get_u16(h + 4), op = store_get_u16(h + 6);
    uint32_t n = store_get_u32(h + 8), body = store_get_u32(h + 12);
    if (magic != STORE_MAGIC)
        snprintf(why, whylen, "bad magic 0x%08x (expected 0x%08x: not a tacl store client?)", magic,
                 STORE_MAGIC);
    else if (version != STORE_VERSION)
        snprintf(why, whylen, "protocol version %u, this server speaks version %u", version,
                 STORE_VERSION);
    else if (op < STORE_OP_PING || op > STORE_OP_MAX)
        snprintf(why, whylen, "unknown op %u", op);
    else if (n > STORE_ITEMS_MAX)
        snprintf(why, whylen, "%s request with %u items (limit %u)", store_op_name(op), n,
                 STORE_ITEMS_MAX);
    else if (body > STORE_FRAME_MAX)
        snprintf(why, whylen, "%s request with a %u-byte body (limit %u)", store_op_name(op), body,
                 STORE_FRAME_MAX);
    else if ((uint64_t)n * 4 > body)
        snprintf(why, whylen, "%s request with %u items in a %u-byte body", store_op_name(op), n,
                 body);
    else
        return NULL;
    return why;
}

/* Queues raw bytes for c (the authentication messages) and tries to send them. */
static void srv_send_raw(tacl_store_server_t *srv, srv_conn_t *c, const uint8_t *p, size_t len)
{
    if (c->dead) return;
    if (c->out_len + len > c->out_cap &&
        srv_conn_resize(c, &c->out, &c->out_cap, c->out_len + len > 4096 ? c->out_len + len : 4096,
                        "reply buffer") != 0)
        return;
    memcpy(c->out + c->out_len, p, len);
    c->out_len += len;
    srv_conn_flush(srv, c);
}

/* Checks the client's hello at the start of c->in (complete); answers with the verdict. */
static void srv_conn_auth(tacl_store_server_t *srv, srv_conn_t *c)
{
    const uint8_t *h = c->in;
    uint16_t version = store_get_u16(h + 4), flags = store_get_u16(h + 6);
    if (version != STORE_VERSION) {
        srv_conn_fail(c, "protocol version %u, this server speaks version %u", version,
                      STORE_VERSION);
        return;
    }
    uint8_t want[TACL_AUTH_MAC_LEN], v[STORE_VERDICT_LEN] = {0};
    tacl__auth_mac(&srv->auth, STORE_LABEL_CLIENT, c->nonce, h + 8, NULL, 0, want);
    store_put_u32(v, STORE_AUTH_MAGIC);
    store_put_u16(v + 4, STORE_VERSION);
    if (!tacl__mac_equal(want, h + 40, sizeof want)) {
        store_put_u16(v + 6, TACL_ERR_AUTH);
        srv_conn_fail(c, "refused: wrong job token%s",
                      !(flags & STORE_AUTH_FLAG_ON) ? " (the client runs with TACL_AUTH=0)"
                      : !srv->auth.on               ? " (this store runs with TACL_AUTH=0)"
                                                    : "");
        /* Tell the client why before closing: srv_conn_flush closes once the verdict left. */
        c->dead = 0;
        c->closing = 1;
        srv_send_raw(srv, c, v, sizeof v);
        srv_set_dead(c);
        return;
    }
    tacl__auth_mac(&srv->auth, STORE_LABEL_SERVER, c->nonce, h + 8, NULL, 0, v + 8);
    c->authed = 1;
    srv_send_raw(srv, c, v, sizeof v);
}

static void srv_conn_process(tacl_store_server_t *srv, srv_conn_t *c)
{
    size_t off = 0;
    if (!c->authed && !c->dead) {
        if (c->in_len >= 4 && store_get_u32(c->in) != STORE_AUTH_MAGIC) {
            srv_conn_fail(c,
                          "sent 0x%08x before authenticating (expected the job-token hello: a "
                          "client without token support, or not a tacl store client)",
                          store_get_u32(c->in));
            return;
        }
        if (c->in_len < STORE_HELLO_LEN) return;
        srv_conn_auth(srv, c);
        off = STORE_HELLO_LEN;
    }
    while (c->authed && !c->waiting && !c->dead && c->in_len - off >= STORE_HDR_LEN) {
        char why[256];
        const uint8_t *h = c->in + off;
        if (srv_check_hdr(h, why, sizeof why)) {
            srv_conn_fail(c, "%s", why);
            break;
        }
        size_t flen = STORE_HDR_LEN + (size_t)store_get_u32(h + 12);
        if (c->in_len - off < flen) break;
        srv_handle(srv, c, h);
        off += flen;
    }
    if (off && !c->dead) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
        /* What is left is the start of the next frame: its own deadline starts now. */
        c->frame_start_ns = c->in_len ? tacl__now_ns() : 0;
    }
    /* A large value passed through: do not keep its buffer for the connection's lifetime. */
    if (c->in_len == 0 && c->in_cap > (1u << 20))
        srv_conn_resize(c, &c->in, &c->in_cap, 0, "request buffer");
}

/* Bytes the input buffer must hold for the message at its start to be complete. */
static size_t srv_conn_need(const srv_conn_t *c)
{
    if (!c->authed) return STORE_HELLO_LEN;
    if (c->in_len < STORE_HDR_LEN) return STORE_HDR_LEN;
    return STORE_HDR_LEN + (size_t)store_get_u32(c->in + 12);
}

static void srv_conn_read(tacl_store_server_t *srv, srv_conn_t *c)
{
    for (;;) {
        if (c->in_len == c->in_cap) {
            /* Grow by doubling as bytes arrive, never straight to the size a header announces:
             * a peer that announces 256 MiB and sends little pins little. */
            size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
            if (c->waiting) {
                if (c->in_cap >= SRV_PARKED_INPUT_MAX) {
                    srv_conn_fail(c, "sent %zu bytes while its %s request was pending", c->in_len,
                                  store_op_name(c->wop));
                    return;
                }
            } else {
                /* The frame at the start is incomplete (else it was processed), and its header
                 * was checked, so its size is bounded by STORE_FRAME_MAX. */
                size_t need = srv_conn_need(c);
                if (need > c->in_cap && need < cap) cap = need > 4096 ? need : 4096;
            }
            if (srv_conn_resize(c, &c->in, &c->in_cap, cap, "request buffer") != 0) return;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            if (c->in_len == 0) c->frame_start_ns = tacl__now_ns();
            c->in_len += (size_t)n;
            srv_count(srv, &srv->stats.bytes_in, (uint64_t)n);
            srv_conn_process(srv, c);
            if (c->dead) return;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        /* End of stream or reset: a client that leaves between requests is normal; one that
         * leaves in the middle of a frame is worth a WARN. */
        if (c->in_len > 0 && !c->waiting && c->authed)
            srv_conn_fail(c, "connection ended in the middle of a frame (%zu of %zu bytes)%s%s",
                          c->in_len, srv_conn_need(c), n < 0 ? ": " : "",
                          n < 0 ? strerror(errno) : "");
        srv_set_dead(c);
        return;
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
    srv_conn_fail(victim, "out of file descriptors: closing the oldest connection that has not "
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
            srv_conn_fail(c, "cannot draw a random nonce (getrandom failed)");
            continue;
        }
        memcpy(g + 8, c->nonce, sizeof c->nonce);
        srv_send_raw(srv, c, g, sizeof g);
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
            if (evs[i].events & EPOLLOUT) srv_conn_flush(srv, c);
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) srv_conn_read(srv, c);
            srv_run(srv);
        }
    }
    int expired = srv_expire(srv, expire_all);
    srv_run(srv);
    srv_own_gap(srv, 0);
    srv_sweep(srv);
    if (srv->accept_resume_ns && tacl__now_ns() >= srv->accept_resume_ns) srv_accept_pause(srv, 0);
    srv_reap(srv);
    srv_count(srv, &srv->stats.cpu_ns, srv_cpu_ns() - t0);
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
        srv_conn_close(srv, srv->conns);
    for (int i = 0; i < srv->nlfd; i++)
        close(srv->lfd[i]);
    close(srv->epfd);
    close(srv->evfd);
    srv_table_free(&srv->table);
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cv);
    free(srv);
}
