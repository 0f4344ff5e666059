/* store_client.c — the rendezvous store's client handle: creating one (tacl_store_connect, or
 * boot_store_probe that asks once whether a tacl store answers), closing it, the per-handle
 * timeout that bounds every call, and the one synchronous request/response exchange every
 * operation goes through (so a handle serves one thread at a time), with the error messages
 * that name the store's address and the keys involved. A blocking request carries its timeout
 * to the server, which answers TACL_ERR_TIMEOUT with the keys still missing; should that answer
 * not come either, the client gives up shortly after, drops the connection and reconnects on
 * its next call, so a late reply can never be mistaken for the next one's. Connecting with
 * retries and backoff and the job-token handshake are store_client_conn.c's; the operations
 * (set, get, wait, multi-get, add, ...) store_client_ops.c's; store_client_int.h is what the
 * three share. */
#include "boot/store_client_int.h"
#include "clock.h"
#include "err.h"
#include "settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long past its own deadline a client waits for the server's timeout reply. */
#define CLI_REPLY_MARGIN_S 1.0

void boot_store_cli_resp_free(cli_resp_t *r)
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

/* One request/response exchange. keys (nkeys of the items) name the request in messages.
 * blocking: the request may wait at the server; the server is told the time left. */
tacl_status_t boot_store_cli_call(tacl_store_t *st, store_op_t op, uint32_t n,
                                  const void *const *items, const size_t *lens,
                                  const char *const *keys, size_t nkeys, int blocking,
                                  cli_resp_t *resp)
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
    if (st->fd < 0) TACL_CHECK(boot_store_cli_connect(st, st->timeout_s, 1));

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
    int rc = boot_store_cli_io(st->fd, req, STORE_HDR_LEN + (size_t)body, 1, deadline);
    free(req);
    if (rc == 0) rc = boot_store_cli_io(st->fd, hdr, sizeof hdr, 0, reply_deadline);
    cli_format_keys(kd, sizeof kd, keys, nkeys);
    if (rc != 0) {
        int e = errno;
        boot_store_cli_drop(st);
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
        boot_store_cli_drop(st);
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
        boot_store_cli_resp_free(&r);
        boot_store_cli_drop(st);
        return tacl__err(&st->eb, TACL_ERR_NOMEM, TACL_SUB_STORE,
                         "store %s at %s: out of memory for a %u-byte reply", store_op_name(op),
                         st->addr, rbody);
    }
    if (boot_store_cli_io(st->fd, r.body, rbody, 0, reply_deadline) != 0) {
        int e = errno;
        boot_store_cli_resp_free(&r);
        boot_store_cli_drop(st);
        return tacl__err(&st->eb, e == ETIMEDOUT ? TACL_ERR_TIMEOUT : TACL_ERR_CLOSED,
                         TACL_SUB_STORE, "store %s at %s: reply cut short: %s", store_op_name(op),
                         st->addr, e == EPIPE ? "the store closed the connection" : strerror(e));
    }
    const char *bad = store_parse_items(r.body, rbody, rn, r.items, r.lens);
    if (bad) {
        boot_store_cli_resp_free(&r);
        boot_store_cli_drop(st);
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
        boot_store_cli_resp_free(&r);
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
        boot_store_cli_resp_free(&r);
        return s;
    }
    *resp = r;
    return TACL_OK;
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
    tacl_status_t s = boot_store_cli_connect(st, st->timeout_s, 1);
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
    tacl_status_t s = boot_store_cli_connect(st, timeout_s, 0);
    cli_resp_t r;
    if (s == TACL_OK) s = boot_store_cli_call(st, STORE_OP_PING, 0, NULL, NULL, NULL, 0, 0, &r);
    if (s == TACL_OK) {
        int ok = r.n == 1 && r.lens[0] == 10 && !memcmp(r.items[0], "tacl-store", 10);
        boot_store_cli_resp_free(&r);
        if (!ok)
            s = tacl__err(&st->eb, TACL_ERR_PROTOCOL, TACL_SUB_STORE,
                          "something answers at %s but not as a tacl store", st->addr);
    } else if (s != TACL_ERR_UNREACHABLE && s != TACL_ERR_AUTH) {
        s = tacl__err_prefix(NULL, TACL_ERR_PROTOCOL,
                             "something accepts connections at %s but is not a tacl store",
                             st->addr);
    }
    if (s != TACL_OK) {
        boot_store_cli_drop(st);
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
    boot_store_cli_drop(st);
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
