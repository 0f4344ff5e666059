/* store_conn.c — store server connections: buffers, replies, close, framing, handshake. */
#include "boot/store_server_int.h"
#include "boot/store_proto.h"
#include "clock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bytes a connection may buffer while its blocking request is parked: clients do not pipeline,
 * so more than this is a misbehaving peer. */
#define SRV_PARKED_INPUT_MAX (1u << 20)
/* Reply buffer a connection keeps between replies; larger ones are freed once sent. */
#define SRV_OUT_KEEP (64u << 10)

/* ---- Connections: output, failure, close. ---- */

static void srv_set_dead(srv_conn_t *c)
{
    c->dead = 1;
    c->srv->reap = 1;
}

/* Resizes one of c's buffers (*buf of *cap bytes) to cap bytes within the server's total
 * budget. Returns 0, or -1 with the connection failed. */
static int srv_conn_resize(srv_conn_t *c, uint8_t **buf, size_t *cap, size_t want, const char *what)
{
    tacl_store_server_t *srv = c->srv;
    if (want > *cap && srv->buffered - *cap + want > srv->buffer_max) {
        boot_store_srv_conn_fail(
            c,
            "%s of %zu bytes would raise the bytes buffered for all connections to %zu, "
            "over the limit of %zu (TACL_STORE_BUFFER_MAX)",
            what, want, srv->buffered - *cap + want, srv->buffer_max);
        return -1;
    }
    uint8_t *p = want ? realloc(*buf, want) : NULL;
    if (want && !p) {
        boot_store_srv_conn_fail(c, "out of memory for a %zu-byte %s", want, what);
        return -1;
    }
    if (!want) free(*buf);
    srv->buffered = srv->buffered - *cap + want;
    *buf = p;
    *cap = want;
    return 0;
}

void boot_store_srv_conn_fail(srv_conn_t *c, const char *fmt, ...)
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
        boot_store_srv_conn_fail(c, "epoll_ctl failed: %s", strerror(errno));
        return;
    }
    c->want_out = want_out;
}

void boot_store_srv_conn_flush(tacl_store_server_t *srv, srv_conn_t *c)
{
    while (c->out_off < c->out_len && !c->dead) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            boot_store_srv_count(srv, &srv->stats.bytes_out, (uint64_t)n);
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
void boot_store_srv_reply(tacl_store_server_t *srv, srv_conn_t *c, tacl_status_t status, uint32_t n,
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
        boot_store_srv_reply(srv, c, TACL_ERR_INVALID, 1, it, ln);
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
    boot_store_srv_conn_flush(srv, c);
}

void boot_store_srv_conn_close(tacl_store_server_t *srv, srv_conn_t *c)
{
    boot_store_srv_unpark(srv, c);
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

void boot_store_srv_reap(tacl_store_server_t *srv)
{
    if (!srv->reap) return;
    srv->reap = 0;
    srv_conn_t *c = srv->conns;
    while (c) {
        srv_conn_t *next = c->next;
        if (c->dead) boot_store_srv_conn_close(srv, c);
        c = next;
    }
}

/* ---- Input: frames and authentication. ---- */

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
void boot_store_srv_send_raw(tacl_store_server_t *srv, srv_conn_t *c, const uint8_t *p, size_t len)
{
    if (c->dead) return;
    if (c->out_len + len > c->out_cap &&
        srv_conn_resize(c, &c->out, &c->out_cap, c->out_len + len > 4096 ? c->out_len + len : 4096,
                        "reply buffer") != 0)
        return;
    memcpy(c->out + c->out_len, p, len);
    c->out_len += len;
    boot_store_srv_conn_flush(srv, c);
}

/* Checks the client's hello at the start of c->in (complete); answers with the verdict. */
static void srv_conn_auth(tacl_store_server_t *srv, srv_conn_t *c)
{
    const uint8_t *h = c->in;
    uint16_t version = store_get_u16(h + 4), flags = store_get_u16(h + 6);
    if (version != STORE_VERSION) {
        boot_store_srv_conn_fail(c, "protocol version %u, this server speaks version %u", version,
                                 STORE_VERSION);
        return;
    }
    uint8_t want[TACL_AUTH_MAC_LEN], v[STORE_VERDICT_LEN] = {0};
    tacl__auth_mac(&srv->auth, STORE_LABEL_CLIENT, c->nonce, h + 8, NULL, 0, want);
    store_put_u32(v, STORE_AUTH_MAGIC);
    store_put_u16(v + 4, STORE_VERSION);
    if (!tacl__mac_equal(want, h + 40, sizeof want)) {
        store_put_u16(v + 6, TACL_ERR_AUTH);
        boot_store_srv_conn_fail(c, "refused: wrong job token%s",
                                 !(flags & STORE_AUTH_FLAG_ON)
                                     ? " (the client runs with TACL_AUTH=0)"
                                 : !srv->auth.on ? " (this store runs with TACL_AUTH=0)"
                                                 : "");
        /* Tell the client why before closing: boot_store_srv_conn_flush closes once the verdict
         * left. */
        c->dead = 0;
        c->closing = 1;
        boot_store_srv_send_raw(srv, c, v, sizeof v);
        srv_set_dead(c);
        return;
    }
    tacl__auth_mac(&srv->auth, STORE_LABEL_SERVER, c->nonce, h + 8, NULL, 0, v + 8);
    c->authed = 1;
    boot_store_srv_send_raw(srv, c, v, sizeof v);
}

void boot_store_srv_conn_process(tacl_store_server_t *srv, srv_conn_t *c)
{
    size_t off = 0;
    if (!c->authed && !c->dead) {
        if (c->in_len >= 4 && store_get_u32(c->in) != STORE_AUTH_MAGIC) {
            boot_store_srv_conn_fail(
                c,
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
            boot_store_srv_conn_fail(c, "%s", why);
            break;
        }
        size_t flen = STORE_HDR_LEN + (size_t)store_get_u32(h + 12);
        if (c->in_len - off < flen) break;
        boot_store_srv_handle(srv, c, h);
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

void boot_store_srv_conn_read(tacl_store_server_t *srv, srv_conn_t *c)
{
    for (;;) {
        if (c->in_len == c->in_cap) {
            /* Grow by doubling as bytes arrive, never straight to the size a header announces:
             * a peer that announces 256 MiB and sends little pins little. */
            size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
            if (c->waiting) {
                if (c->in_cap >= SRV_PARKED_INPUT_MAX) {
                    boot_store_srv_conn_fail(c, "sent %zu bytes while its %s request was pending",
                                             c->in_len, store_op_name(c->wop));
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
            boot_store_srv_count(srv, &srv->stats.bytes_in, (uint64_t)n);
            boot_store_srv_conn_process(srv, c);
            if (c->dead) return;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        /* End of stream or reset: a client that leaves between requests is normal; one that
         * leaves in the middle of a frame is worth a WARN. */
        if (c->in_len > 0 && !c->waiting && c->authed)
            boot_store_srv_conn_fail(
                c, "connection ended in the middle of a frame (%zu of %zu bytes)%s%s", c->in_len,
                srv_conn_need(c), n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
        srv_set_dead(c);
        return;
    }
}
