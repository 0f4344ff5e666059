/* store_client.c — the rendezvous store's client handle: connecting with retries and backoff
 * until the connect timeout, one synchronous request/response exchange per call (so a handle
 * serves one thread at a time), the per-handle timeout that bounds every call, and the error
 * messages that name the store's address and the keys involved. A blocking request carries its
 * timeout to the server, which answers TACL_ERR_TIMEOUT with the keys still missing; should
 * that answer not come either, the client gives up shortly after, drops the connection and
 * reconnects on its next call, so a late reply can never be mistaken for the next one's. Every
 * connection starts with the job-token challenge-response (store_proto.h): the client proves
 * it knows the token and checks that the store does too; a refusal is not retried. */
#include "boot/store_int.h"
#include "boot/store_proto.h"
#include "clock.h"
#include "err.h"
#include "settings.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long past its own deadline a client waits for the server's timeout reply. */
#define CLI_REPLY_MARGIN_S 1.0
/* Backoff between connection attempts: starts small (a server that is just starting), grows
 * to at most this. */
#define CLI_BACKOFF_MAX_S 0.5

struct tacl_store {
    int fd; /* -1 after a broken exchange: the next call reconnects */
    int port;
    char host[256];
    char addr[300]; /* host:port for messages */
    double timeout_s;
    tacl__errbuf_t eb;
};

typedef struct {
    tacl_status_t status;
    uint32_t n;
    uint8_t *body; /* malloc'd; items point into it */
    const uint8_t **items;
    uint32_t *lens;
} cli_resp_t;

static void cli_resp_free(cli_resp_t *r)
{
    free(r->body);
    free(r->items);
    free(r->lens);
    memset(r, 0, sizeof *r);
}

static double cli_default_timeout(void)
{
    double t = tacl__setting_dbl(TACL_SET_STORE_TIMEOUT);
    return t > 0 ? t : 300.0;
}

static void cli_format_addr(char *buf, size_t len, const char *host, int port)
{
    if (strchr(host, ':'))
        snprintf(buf, len, "[%s]:%d", host, port);
    else
        snprintf(buf, len, "%s:%d", host, port);
}

/* Writes "'a', 'b', 'c' and 5 more" into buf. */
static void cli_format_keys(char *buf, size_t len, const char *const *keys, size_t n)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < len; i++) {
        if (i == 6 && n > 7) {
            snprintf(buf + off, len - off, " and %zu more", n - i);
            return;
        }
        int m = snprintf(buf + off, len - off, "%s'%.120s'", i ? ", " : "", keys[i]);
        if (m < 0) return;
        off += (size_t)m;
    }
}

/* One connection attempt to every address of host:port, each bounded by deadline. */
static int cli_connect_once(const char *host, int port, uint64_t deadline, int *err,
                            const char **gai)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int g = getaddrinfo(host, ps, &hints, &res);
    if (g != 0) {
        *gai = gai_strerror(g);
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            *err = errno;
            continue;
        }
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int pr;
            do {
                pr = poll(&p, 1, tacl__ms_left(deadline));
            } while (pr < 0 && errno == EINTR);
            if (pr == 0) {
                errno = ETIMEDOUT;
                rc = -1;
            } else {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                errno = soerr;
                rc = soerr ? -1 : 0;
            }
        }
        if (rc == 0) break;
        *err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

static int cli_io(int fd, void *buf, size_t len, int sending, uint64_t deadline);

tacl_status_t boot_store_auth_client(int fd, const char *addr, const tacl__auth_t *auth,
                                     uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    uint8_t g[STORE_GREET_LEN], h[STORE_HELLO_LEN], v[STORE_VERDICT_LEN];
    const char *stage = "greeting";
    if (cli_io(fd, g, sizeof g, 0, deadline_ns) != 0) goto err_io;
    if (store_get_u32(g) != STORE_AUTH_MAGIC || store_get_u16(g + 4) != STORE_VERSION)
        return tacl__err(eb, TACL_ERR_PROTOCOL, TACL_SUB_STORE,
                         "the store at %s greeted with magic 0x%08x version %u: is a tacl store of "
                         "protocol version %u listening there?",
                         addr, store_get_u32(g), store_get_u16(g + 4), STORE_VERSION);
    int server_on = store_get_u16(g + 6) & STORE_AUTH_FLAG_ON;
    store_put_u32(h, STORE_AUTH_MAGIC);
    store_put_u16(h + 4, STORE_VERSION);
    store_put_u16(h + 6, auth->on ? STORE_AUTH_FLAG_ON : 0);
    if (tacl__auth_random(h + 8, TACL_AUTH_NONCE_LEN) != 0)
        return tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_STORE,
                         "store at %s: cannot draw a random nonce (getrandom failed)", addr);
    tacl__auth_mac(auth, STORE_LABEL_CLIENT, g + 8, h + 8, NULL, 0, h + 40);
    stage = "hello";
    if (cli_io(fd, h, sizeof h, 1, deadline_ns) != 0) goto err_io;
    stage = "verdict";
    if (cli_io(fd, v, sizeof v, 0, deadline_ns) != 0) goto err_io;
    const char *why = !auth->on    ? " (this process runs with TACL_AUTH=0)"
                      : !server_on ? " (the store runs with TACL_AUTH=0)"
                                   : "";
    if (store_get_u32(v) != STORE_AUTH_MAGIC || store_get_u16(v + 6) != 0)
        return tacl__err(eb, TACL_ERR_AUTH, TACL_SUB_STORE,
                         "the store at %s refused this process's job token (from %s)%s: %s", addr,
                         auth->source, why, TACL_AUTH_HINT);
    uint8_t want[TACL_AUTH_MAC_LEN];
    tacl__auth_mac(auth, STORE_LABEL_SERVER, g + 8, h + 8, NULL, 0, want);
    if (!tacl__mac_equal(want, v + 8, sizeof want))
        return tacl__err(eb, TACL_ERR_AUTH, TACL_SUB_STORE,
                         "the store at %s accepted this process but could not prove it knows the "
                         "job token (from %s)%s: it is not this job's store",
                         addr, auth->source, why);
    return TACL_OK;

err_io:;
    int e = errno;
    return tacl__err(eb, e == ETIMEDOUT ? TACL_ERR_TIMEOUT : TACL_ERR_CLOSED, TACL_SUB_STORE,
                     "the store at %s %s during the job-token handshake (waiting for its %s)%s%s",
                     addr, e == ETIMEDOUT ? "did not answer in time" : "closed the connection",
                     stage, e == EPIPE || e == ETIMEDOUT ? "" : ": ",
                     e == EPIPE || e == ETIMEDOUT ? "" : strerror(e));
}

tacl_status_t boot_store_auth_require(int rank, int size, tacl__errbuf_t *eb)
{
    tacl__auth_t a;
    tacl_status_t st = tacl__auth_configured(&a, eb);
    if (st == TACL_ERR_NOT_FOUND)
        return tacl__err(eb, TACL_ERR_AUTH, TACL_SUB_BOOT,
                         "rank %d of %d: no job token, so anyone who reaches the store or a rank "
                         "could join this job: %s",
                         rank, size, TACL_AUTH_HINT);
    if (st != TACL_OK) return tacl__err_prefix(eb, st, "rank %d of %d", rank, size);
    if (!a.on)
        TACL_INFO(TACL_SUB_BOOT, "rank %d of %d: authentication is off (TACL_AUTH=0)", rank, size);
    return TACL_OK;
}

/* Connects st->fd, retrying with backoff until timeout_s passes (once when retry is 0). A
 * store that refuses the token or is not a tacl store ends the attempts at once. */
static tacl_status_t cli_connect(tacl_store_t *st, double timeout_s, int retry)
{
    uint64_t deadline = tacl__deadline_ns(timeout_s);
    double backoff = 0.01;
    int err = 0, attempts = 0;
    const char *gai = NULL;
    tacl__auth_t auth;
    TACL_CHECK(tacl__auth_get(&auth, &st->eb));
    for (;;) {
        attempts++;
        gai = NULL;
        int fd = cli_connect_once(st->host, st->port, deadline, &err, &gai);
        if (fd >= 0) {
            tacl_status_t s = boot_store_auth_client(fd, st->addr, &auth, deadline, &st->eb);
            if (s == TACL_ERR_AUTH || s == TACL_ERR_PROTOCOL || s == TACL_ERR_SYSTEM) {
                close(fd);
                return s;
            }
            if (s != TACL_OK) {
                /* Closed before the verdict (a store out of descriptors) or slow: retry. */
                close(fd);
                err = ECONNRESET;
                fd = -1;
            }
        }
        if (fd >= 0) {
            st->fd = fd;
            if (attempts > 1)
                TACL_DEBUG(TACL_SUB_STORE, "connected to store at %s after %d attempts", st->addr,
                           attempts);
            return TACL_OK;
        }
        if (!retry || tacl__now_ns() >= deadline) break;
        double left = (double)tacl__ms_left(deadline) / 1e3;
        double nap = backoff < left ? backoff : left;
        struct timespec ts = {.tv_sec = (time_t)nap, .tv_nsec = (long)((nap - (time_t)nap) * 1e9)};
        nanosleep(&ts, NULL);
        backoff = backoff * 2 < CLI_BACKOFF_MAX_S ? backoff * 2 : CLI_BACKOFF_MAX_S;
    }
    return tacl__err(&st->eb, TACL_ERR_UNREACHABLE, TACL_SUB_STORE,
                     "cannot connect to the store at %s within %.1f s (%d attempt%s): %s", st->addr,
                     timeout_s, attempts, attempts == 1 ? "" : "s", gai ? gai : strerror(err));
}

static void cli_drop(tacl_store_t *st)
{
    if (st->fd >= 0) close(st->fd);
    st->fd = -1;
}

/* Sends or receives exactly len bytes before deadline. Returns 0, or -1 with errno (ETIMEDOUT
 * when the deadline passed, EPIPE for a closed stream). */
static int cli_io(int fd, void *buf, size_t len, int sending, uint64_t deadline)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = sending ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0) {
            errno = EPIPE;
            return -1;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
        struct pollfd pf = {.fd = fd, .events = sending ? POLLOUT : POLLIN};
        int ms = tacl__ms_left(deadline);
        if (ms == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (poll(&pf, 1, ms) < 0 && errno != EINTR) return -1;
    }
    return 0;
}

/* One request/response exchange. keys (nkeys of the items) name the request in messages.
 * blocking: the request may wait at the server; the server is told the time left. */
static tacl_status_t cli_call(tacl_store_t *st, store_op_t op, uint32_t n, const void *const *items,
                              const size_t *lens, const char *const *keys, size_t nkeys,
                              int blocking, cli_resp_t *resp)
{
    char kd[600];
    uint64_t start = tacl__now_ns();
    uint64_t deadline = start + (uint64_t)(st->timeout_s * 1e9);
    uint64_t body = 0;
    for (uint32_t i = 0; i < n; i++) {
        body += 4 + (uint64_t)lens[i];
        /* Keys come first in every request; values follow. */
        size_t limit = i < nkeys ? STORE_KEY_MAX : STORE_VALUE_MAX;
        if (lens[i] > limit) {
            cli_format_keys(kd, sizeof kd, keys, nkeys ? 1 : 0);
            return tacl__err(&st->eb, TACL_ERR_INVALID, TACL_SUB_STORE,
                             "store %s of %s at %s: %s of %zu bytes exceeds the limit of %zu",
                             store_op_name(op), kd, st->addr, i < nkeys ? "key" : "value", lens[i],
                             limit);
        }
    }
    if (n > STORE_ITEMS_MAX || body > STORE_FRAME_MAX)
        return tacl__err(&st->eb, TACL_ERR_INVALID, TACL_SUB_STORE,
                         "store %s at %s: %u keys / %llu bytes exceed the limits (%u keys, %u "
                         "bytes per request)",
                         store_op_name(op), st->addr, n, (unsigned long long)body, STORE_ITEMS_MAX,
                         STORE_FRAME_MAX);
    if (st->fd < 0) TACL_CHECK(cli_connect(st, st->timeout_s, 1));

    uint8_t *req = malloc(STORE_HDR_LEN + (size_t)body);
    if (!req) return tacl__err(&st->eb, TACL_ERR_NOMEM, TACL_SUB_STORE, "store: out of memory");
    uint32_t tmo_ms =
        blocking ? (uint32_t)(tacl__ms_left(deadline) ? tacl__ms_left(deadline) : 1) : 0;
    store_put_hdr(req, (uint16_t)op, n, (uint32_t)body, tmo_ms);
    uint8_t *p = req + STORE_HDR_LEN;
    for (uint32_t i = 0; i < n; i++) {
        store_put_u32(p, (uint32_t)lens[i]);
        if (lens[i]) memcpy(p + 4, items[i], lens[i]);
        p += 4 + lens[i];
    }
    uint64_t reply_deadline = deadline + (blocking ? (uint64_t)(CLI_REPLY_MARGIN_S * 1e9) : 0);
    uint8_t hdr[STORE_HDR_LEN];
    int rc = cli_io(st->fd, req, STORE_HDR_LEN + (size_t)body, 1, deadline);
    free(req);
    if (rc == 0) rc = cli_io(st->fd, hdr, sizeof hdr, 0, reply_deadline);
    cli_format_keys(kd, sizeof kd, keys, nkeys);
    if (rc != 0) {
        int e = errno;
        cli_drop(st);
        if (e == ETIMEDOUT)
            return tacl__err(&st->eb, TACL_ERR_TIMEOUT, TACL_SUB_STORE,
                             "store %s%s%s at %s: no reply within %.1f s", store_op_name(op),
                             nkeys ? " of " : "", kd, st->addr, st->timeout_s);
        return tacl__err(&st->eb, TACL_ERR_CLOSED, TACL_SUB_STORE,
                         "store %s%s%s at %s: connection lost: %s", store_op_name(op),
                         nkeys ? " of " : "", kd, st->addr,
                         e == EPIPE ? "the store closed the connection" : strerror(e));
    }
    uint32_t rn = store_get_u32(hdr + 8), rbody = store_get_u32(hdr + 12);
    if (store_get_u32(hdr) != STORE_MAGIC || store_get_u16(hdr + 4) != STORE_VERSION ||
        rn > STORE_ITEMS_MAX || rbody > STORE_FRAME_MAX || (uint64_t)rn * 4 > rbody) {
        cli_drop(st);
        return tacl__err(&st->eb, TACL_ERR_PROTOCOL, TACL_SUB_STORE,
                         "store %s at %s: malformed reply header (magic 0x%08x version %u, %u "
                         "items, %u bytes): is a tacl store of protocol version %u listening "
                         "there?",
                         store_op_name(op), st->addr, store_get_u32(hdr), store_get_u16(hdr + 4),
                         rn, rbody, STORE_VERSION);
    }
    cli_resp_t r = {.status = (tacl_status_t)store_get_u16(hdr + 6), .n = rn};
    r.body = malloc(rbody ? rbody : 1);
    r.items = malloc((rn ? rn : 1) * sizeof *r.items);
    r.lens = malloc((rn ? rn : 1) * sizeof *r.lens);
    if (!r.body || !r.items || !r.lens) {
        cli_resp_free(&r);
        cli_drop(st);
        return tacl__err(&st->eb, TACL_ERR_NOMEM, TACL_SUB_STORE,
                         "store %s at %s: out of memory for a %u-byte reply", store_op_name(op),
                         st->addr, rbody);
    }
    if (cli_io(st->fd, r.body, rbody, 0, reply_deadline) != 0) {
        int e = errno;
        cli_resp_free(&r);
        cli_drop(st);
        return tacl__err(&st->eb, e == ETIMEDOUT ? TACL_ERR_TIMEOUT : TACL_ERR_CLOSED,
                         TACL_SUB_STORE, "store %s at %s: reply cut short: %s", store_op_name(op),
                         st->addr, e == EPIPE ? "the store closed the connection" : strerror(e));
    }
    const char *bad = store_parse_items(r.body, rbody, rn, r.items, r.lens);
    if (bad) {
        cli_resp_free(&r);
        cli_drop(st);
        return tacl__err(&st->eb, TACL_ERR_PROTOCOL, TACL_SUB_STORE,
                         "store %s at %s: malformed reply: %s", store_op_name(op), st->addr, bad);
    }
    if (r.status == TACL_ERR_TIMEOUT && rn >= 1 && r.lens[0] == 8) {
        /* The server names the keys still missing. */
        uint64_t missing = store_get_u64(r.items[0]);
        size_t off = 0;
        kd[0] = '\0';
        for (uint32_t i = 1; i < rn && off < sizeof kd; i++) {
            int m = snprintf(kd + off, sizeof kd - off, "%s'%.*s'", i > 1 ? ", " : "",
                             (int)(r.lens[i] > 120 ? 120 : r.lens[i]), (const char *)r.items[i]);
            if (m < 0) break;
            off += (size_t)m;
        }
        if (missing > rn - 1 && off < sizeof kd)
            snprintf(kd + off, sizeof kd - off, " and %llu more",
                     (unsigned long long)(missing - (rn - 1)));
        cli_resp_free(&r);
        return tacl__err(&st->eb, TACL_ERR_TIMEOUT, TACL_SUB_STORE,
                         "store %s at %s timed out after %.1f s waiting for %llu of %zu key%s: %s",
                         store_op_name(op), st->addr, st->timeout_s, (unsigned long long)missing,
                         nkeys, nkeys == 1 ? "" : "s", kd);
    }
    if (r.status != TACL_OK) {
        tacl_status_t s =
            r.status > TACL_OK && r.status < TACL_STATUS_COUNT_ ? r.status : TACL_ERR_PROTOCOL;
        int ml = rn >= 1 ? (int)(r.lens[0] > 600 ? 600 : r.lens[0]) : 0;
        tacl__err(&st->eb, s, TACL_SUB_STORE, "store %s%s%s at %s failed: %.*s", store_op_name(op),
                  nkeys ? " of " : "", kd, st->addr, ml, rn >= 1 ? (const char *)r.items[0] : "");
        cli_resp_free(&r);
        return s;
    }
    *resp = r;
    return TACL_OK;
}

/* Checks that a reply has n items (and, when len >= 0, that the first is len bytes). */
static tacl_status_t cli_expect(tacl_store_t *st, store_op_t op, cli_resp_t *r, uint32_t n,
                                long len)
{
    if (r->n == n && (len < 0 || (n > 0 && r->lens[0] == (uint32_t)len))) return TACL_OK;
    tacl_status_t s = tacl__err(&st->eb, TACL_ERR_PROTOCOL, TACL_SUB_STORE,
                                "store %s at %s: reply of %u items, expected %u", store_op_name(op),
                                st->addr, r->n, n);
    cli_resp_free(r);
    cli_drop(st);
    return s;
}

static void *cli_dup_value(const uint8_t *v, uint32_t len)
{
    char *p = malloc((size_t)len + 1);
    if (!p) return NULL;
    memcpy(p, v, len);
    p[len] = '\0';
    return p;
}

/* ---- Public API. ---- */

tacl_status_t tacl_store_connect(const char *host, int port, double timeout_s, tacl_store_t **out)
{
    if (!host || !host[0] || !out || port <= 0 || port > 65535)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_STORE,
                         "store connect: need a host and a port in 1..65535 (got '%s', %d)",
                         host ? host : "(null)", port);
    if (strlen(host) >= sizeof((tacl_store_t *)0)->host)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_STORE,
                         "store connect: host name of %zu characters is too long", strlen(host));
    tacl_store_t *st = calloc(1, sizeof *st);
    if (!st) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_STORE, "store: out of memory");
    st->fd = -1;
    st->port = port;
    snprintf(st->host, sizeof st->host, "%s", host);
    cli_format_addr(st->addr, sizeof st->addr, host, port);
    st->timeout_s = timeout_s > 0 ? timeout_s : cli_default_timeout();
    tacl_status_t s = cli_connect(st, st->timeout_s, 1);
    if (s != TACL_OK) {
        free(st);
        return s;
    }
    *out = st;
    return TACL_OK;
}

tacl_status_t boot_store_probe(const char *host, int port, double timeout_s, tacl_store_t **out)
{
    tacl_store_t *st = calloc(1, sizeof *st);
    if (!st) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_STORE, "store: out of memory");
    st->fd = -1;
    st->port = port;
    snprintf(st->host, sizeof st->host, "%s", host);
    cli_format_addr(st->addr, sizeof st->addr, host, port);
    st->timeout_s = timeout_s;
    tacl_status_t s = cli_connect(st, timeout_s, 0);
    cli_resp_t r;
    if (s == TACL_OK) s = cli_call(st, STORE_OP_PING, 0, NULL, NULL, NULL, 0, 0, &r);
    if (s == TACL_OK) {
        int ok = r.n == 1 && r.lens[0] == 10 && !memcmp(r.items[0], "tacl-store", 10);
        cli_resp_free(&r);
        if (!ok)
            s = tacl__err(&st->eb, TACL_ERR_PROTOCOL, TACL_SUB_STORE,
                          "something answers at %s but not as a tacl store", st->addr);
    } else if (s != TACL_ERR_UNREACHABLE && s != TACL_ERR_AUTH) {
        s = tacl__err_prefix(NULL, TACL_ERR_PROTOCOL,
                             "something accepts connections at %s but is not a tacl store",
                             st->addr);
    }
    if (s != TACL_OK) {
        cli_drop(st);
        free(st);
        return s;
    }
    st->timeout_s = cli_default_timeout();
    *out = st;
    return TACL_OK;
}

void tacl_store_close(tacl_store_t *st)
{
    if (!st) return;
    cli_drop(st);
    free(st);
}

void tacl_store_set_timeout(tacl_store_t *st, double timeout_s)
{
    if (st) st->timeout_s = timeout_s > 0 ? timeout_s : cli_default_timeout();
}

const char *tacl_store_last_error(const tacl_store_t *st)
{
    return st ? st->eb.msg : tacl_last_error();
}

const char *boot_store_addr(const tacl_store_t *st)
{
    return st->addr;
}

double boot_store_timeout(const tacl_store_t *st)
{
    return st->timeout_s;
}

int boot_store_broken(const tacl_store_t *st)
{
    return st->fd < 0;
}

#define CLI_NEED(cond, what)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return tacl__err(st ? &st->eb : NULL, TACL_ERR_INVALID, TACL_SUB_STORE,                \
                             "store %s: %s", __func__, what);                                      \
    } while (0)

tacl_status_t tacl_store_set(tacl_store_t *st, const char *key, const void *val, size_t len)
{
    CLI_NEED(st && key && (val || !len), "needs a handle, a key and a value");
    const void *items[2] = {key, val ? val : ""};
    size_t lens[2] = {strlen(key), len};
    cli_resp_t r;
    TACL_CHECK(cli_call(st, STORE_OP_SET, 2, items, lens, &key, 1, 0, &r));
    cli_resp_free(&r);
    return TACL_OK;
}

tacl_status_t tacl_store_get(tacl_store_t *st, const char *key, void **val, size_t *len)
{
    CLI_NEED(st && key && val && len, "needs a handle, a key and outputs");
    const void *items[1] = {key};
    size_t lens[1] = {strlen(key)};
    cli_resp_t r;
    TACL_CHECK(cli_call(st, STORE_OP_GET, 1, items, lens, &key, 1, 1, &r));
    TACL_CHECK(cli_expect(st, STORE_OP_GET, &r, 1, -1));
    void *v = cli_dup_value(r.items[0], r.lens[0]);
    size_t vl = r.lens[0];
    cli_resp_free(&r);
    if (!v) return tacl__err(&st->eb, TACL_ERR_NOMEM, TACL_SUB_STORE, "store get: out of memory");
    *val = v;
    *len = vl;
    return TACL_OK;
}

/* A request whose items are the keys (wait, multi_get, check): checks the count, builds the
 * item list and calls. */
static tacl_status_t cli_call_keys(tacl_store_t *st, store_op_t op, const char *what,
                                   const char *const *keys, size_t nkeys, int blocking,
                                   cli_resp_t *resp)
{
    if (nkeys > STORE_ITEMS_MAX)
        return tacl__err(&st->eb, TACL_ERR_INVALID, TACL_SUB_STORE,
                         "store %s: %zu keys exceed the limit of %u per request", what, nkeys,
                         STORE_ITEMS_MAX);
    const void **items = malloc((nkeys ? nkeys : 1) * sizeof *items);
    size_t *lens = malloc((nkeys ? nkeys : 1) * sizeof *lens);
    if (!items || !lens) {
        free(items);
        free(lens);
        return tacl__err(&st->eb, TACL_ERR_NOMEM, TACL_SUB_STORE, "store %s: out of memory", what);
    }
    for (size_t i = 0; i < nkeys; i++) {
        items[i] = keys[i];
        lens[i] = strlen(keys[i]);
    }
    tacl_status_t s = cli_call(st, op, (uint32_t)nkeys, items, lens, keys, nkeys, blocking, resp);
    free(items);
    free(lens);
    return s;
}

tacl_status_t tacl_store_wait(tacl_store_t *st, const char *const *keys, size_t nkeys)
{
    CLI_NEED(st && (keys || !nkeys), "needs a handle and keys");
    cli_resp_t r;
    tacl_status_t s = cli_call_keys(st, STORE_OP_WAIT, "wait", keys, nkeys, 1, &r);
    if (s == TACL_OK) cli_resp_free(&r);
    return s;
}

tacl_status_t boot_store_multi_get(tacl_store_t *st, const char *const *keys, size_t nkeys,
                                   void **vals, size_t *lens)
{
    CLI_NEED(st && (keys || !nkeys) && vals && lens, "needs a handle, keys and outputs");
    cli_resp_t r;
    tacl_status_t s = cli_call_keys(st, STORE_OP_MULTI_GET, "multi_get", keys, nkeys, 1, &r);
    if (s != TACL_OK) return s;
    TACL_CHECK(cli_expect(st, STORE_OP_MULTI_GET, &r, (uint32_t)nkeys, -1));
    void **tmp = calloc(nkeys ? nkeys : 1, sizeof *tmp);
    if (!tmp) {
        cli_resp_free(&r);
        return tacl__err(&st->eb, TACL_ERR_NOMEM, TACL_SUB_STORE, "store multi_get: out of memory");
    }
    for (size_t i = 0; i < nkeys; i++) {
        tmp[i] = cli_dup_value(r.items[i], r.lens[i]);
        if (!tmp[i]) {
            for (size_t j = 0; j < i; j++)
                free(tmp[j]);
            free(tmp);
            cli_resp_free(&r);
            return tacl__err(&st->eb, TACL_ERR_NOMEM, TACL_SUB_STORE,
                             "store multi_get: out of memory");
        }
    }
    for (size_t i = 0; i < nkeys; i++) {
        vals[i] = tmp[i];
        lens[i] = r.lens[i];
    }
    free(tmp);
    cli_resp_free(&r);
    return TACL_OK;
}

tacl_status_t tacl_store_add(tacl_store_t *st, const char *key, int64_t delta, int64_t *out)
{
    CLI_NEED(st && key, "needs a handle and a key");
    uint8_t d[8];
    store_put_u64(d, (uint64_t)delta);
    const void *items[2] = {key, d};
    size_t lens[2] = {strlen(key), 8};
    cli_resp_t r;
    TACL_CHECK(cli_call(st, STORE_OP_ADD, 2, items, lens, &key, 1, 0, &r));
    TACL_CHECK(cli_expect(st, STORE_OP_ADD, &r, 1, 8));
    int64_t v = (int64_t)store_get_u64(r.items[0]);
    cli_resp_free(&r);
    if (out) *out = v;
    return TACL_OK;
}

tacl_status_t tacl_store_compare_set(tacl_store_t *st, const char *key, const void *expected,
                                     size_t expected_len, const void *desired, size_t desired_len,
                                     void **out, size_t *out_len)
{
    CLI_NEED(st && key && (expected || !expected_len) && (desired || !desired_len),
             "needs a handle, a key, expected and desired values");
    const void *items[3] = {key, expected ? expected : "", desired ? desired : ""};
    size_t lens[3] = {strlen(key), expected_len, desired_len};
    cli_resp_t r;
    TACL_CHECK(cli_call(st, STORE_OP_CAS, 3, items, lens, &key, 1, 0, &r));
    TACL_CHECK(cli_expect(st, STORE_OP_CAS, &r, 1, -1));
    if (out) {
        void *v = cli_dup_value(r.items[0], r.lens[0]);
        if (!v) {
            cli_resp_free(&r);
            return tacl__err(&st->eb, TACL_ERR_NOMEM, TACL_SUB_STORE,
                             "store compare_set: out of memory");
        }
        *out = v;
    }
    if (out_len) *out_len = r.lens[0];
    cli_resp_free(&r);
    return TACL_OK;
}

tacl_status_t tacl_store_delete(tacl_store_t *st, const char *key, int *deleted)
{
    CLI_NEED(st && key, "needs a handle and a key");
    const void *items[1] = {key};
    size_t lens[1] = {strlen(key)};
    cli_resp_t r;
    TACL_CHECK(cli_call(st, STORE_OP_DELETE, 1, items, lens, &key, 1, 0, &r));
    TACL_CHECK(cli_expect(st, STORE_OP_DELETE, &r, 1, 1));
    int d = r.items[0][0] != 0;
    cli_resp_free(&r);
    if (deleted) *deleted = d;
    return TACL_OK;
}

tacl_status_t boot_store_delete_prefix(tacl_store_t *st, const char *prefix, int64_t *deleted)
{
    CLI_NEED(st && prefix, "needs a handle and a prefix");
    const void *items[1] = {prefix};
    size_t lens[1] = {strlen(prefix)};
    cli_resp_t r;
    TACL_CHECK(cli_call(st, STORE_OP_DEL_PREFIX, 1, items, lens, &prefix, 1, 0, &r));
    TACL_CHECK(cli_expect(st, STORE_OP_DEL_PREFIX, &r, 1, 8));
    int64_t d = (int64_t)store_get_u64(r.items[0]);
    cli_resp_free(&r);
    if (deleted) *deleted = d;
    return TACL_OK;
}

tacl_status_t tacl_store_check(tacl_store_t *st, const char *const *keys, size_t nkeys,
                               int *all_exist)
{
    CLI_NEED(st && (keys || !nkeys) && all_exist, "needs a handle, keys and an output");
    cli_resp_t r;
    tacl_status_t s = cli_call_keys(st, STORE_OP_CHECK, "check", keys, nkeys, 0, &r);
    if (s != TACL_OK) return s;
    TACL_CHECK(cli_expect(st, STORE_OP_CHECK, &r, 1, 1));
    *all_exist = r.items[0][0] != 0;
    cli_resp_free(&r);
    return TACL_OK;
}

tacl_status_t tacl_store_num_keys(tacl_store_t *st, int64_t *out)
{
    CLI_NEED(st && out, "needs a handle and an output");
    cli_resp_t r;
    TACL_CHECK(cli_call(st, STORE_OP_NUM_KEYS, 0, NULL, NULL, NULL, 0, 0, &r));
    TACL_CHECK(cli_expect(st, STORE_OP_NUM_KEYS, &r, 1, 8));
    *out = (int64_t)store_get_u64(r.items[0]);
    cli_resp_free(&r);
    return TACL_OK;
}
