/* store_handlers.c — the store server's requests: arity and size limits, then each op. */
#include "boot/store_server_int.h"
#include "boot/store_proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    boot_store_srv_reply(srv, c, st, 1, it, ln);
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
void boot_store_srv_handle(tacl_store_server_t *srv, srv_conn_t *c, const uint8_t *frame)
{
    boot_store_srv_count(srv, &srv->stats.requests, 1);
    uint16_t op = store_get_u16(frame + 6);
    uint32_t n = store_get_u32(frame + 8), body_len = store_get_u32(frame + 12);
    uint32_t timeout_ms = store_get_u32(frame + 16);
    const uint8_t **it = malloc((n ? n : 1) * sizeof *it);
    uint32_t *ln = malloc((n ? n : 1) * sizeof *ln);
    if (!it || !ln) {
        boot_store_srv_conn_fail(c, "out of memory for a %s request of %u items", store_op_name(op),
                                 n);
        goto done;
    }
    const char *bad = store_parse_items(frame + STORE_HDR_LEN, body_len, n, it, ln);
    if (bad) {
        boot_store_srv_conn_fail(c, "malformed %s request: %s", store_op_name(op), bad);
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
        boot_store_srv_conn_fail(c, "%s request with %u items, expected %d", store_op_name(op), n,
                                 arity);
        goto done;
    }
    for (int i = 0; i < nkeys; i++) {
        if (ln[i] > STORE_KEY_MAX) {
            boot_store_srv_conn_fail(c, "%s request with a key of %u bytes (limit %u)",
                                     store_op_name(op), ln[i], STORE_KEY_MAX);
            goto done;
        }
    }
    for (int i = 1; i <= val_items; i++) {
        if (ln[i] > STORE_VALUE_MAX) {
            boot_store_srv_conn_fail(c, "%s request with a value of %u bytes (limit %u)",
                                     store_op_name(op), ln[i], STORE_VALUE_MAX);
            goto done;
        }
    }

    switch (op) {
    case STORE_OP_PING: {
        const void *items[1] = {"tacl-store"};
        uint32_t lens[1] = {10};
        boot_store_srv_reply(srv, c, TACL_OK, 1, items, lens);
        break;
    }
    case STORE_OP_SET:
        if (!boot_store_srv_table_set(&srv->table, it[0], ln[0], it[1], ln[1])) {
            srv_reply_msg(srv, c, TACL_ERR_NOMEM, "store server out of memory");
            break;
        }
        boot_store_srv_reply(srv, c, TACL_OK, 0, NULL, NULL);
        boot_store_srv_notify(srv, it[0], ln[0]);
        break;
    case STORE_OP_GET:
    case STORE_OP_WAIT:
    case STORE_OP_MULTI_GET: {
        uint32_t miss;
        if (boot_store_srv_all_exist(srv, it, ln, n, 0, &miss))
            boot_store_srv_answer_blocking(srv, c, op, it, ln, n);
        else
            boot_store_srv_park(srv, c, op, frame, STORE_HDR_LEN + (size_t)body_len, n, miss,
                                timeout_ms);
        break;
    }
    case STORE_OP_ADD: {
        if (ln[1] != 8) {
            boot_store_srv_conn_fail(c, "add request with a %u-byte delta, expected 8", ln[1]);
            break;
        }
        int64_t delta = (int64_t)store_get_u64(it[1]), cur = 0, sum;
        srv_entry_t *e = boot_store_srv_table_find(&srv->table, it[0], ln[0]);
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
        if (!boot_store_srv_table_set(&srv->table, it[0], ln[0], txt, (uint32_t)m)) {
            srv_reply_msg(srv, c, TACL_ERR_NOMEM, "store server out of memory");
            break;
        }
        uint8_t out[8];
        store_put_u64(out, (uint64_t)sum);
        const void *items[1] = {out};
        uint32_t lens[1] = {8};
        boot_store_srv_reply(srv, c, TACL_OK, 1, items, lens);
        boot_store_srv_notify(srv, it[0], ln[0]);
        break;
    }
    case STORE_OP_CAS: {
        srv_entry_t *e = boot_store_srv_table_find(&srv->table, it[0], ln[0]);
        int swap = e ? (e->vlen == ln[1] && !memcmp(e->val, it[1], ln[1])) : ln[1] == 0;
        if (swap) {
            e = boot_store_srv_table_set(&srv->table, it[0], ln[0], it[2], ln[2]);
            if (!e) {
                srv_reply_msg(srv, c, TACL_ERR_NOMEM, "store server out of memory");
                break;
            }
        }
        /* A missing key that was not created holds nothing: an empty value comes back. */
        const void *items[1] = {e ? (const void *)e->val : ""};
        uint32_t lens[1] = {e ? e->vlen : 0};
        boot_store_srv_reply(srv, c, TACL_OK, 1, items, lens);
        if (swap) boot_store_srv_notify(srv, it[0], ln[0]);
        break;
    }
    case STORE_OP_DELETE: {
        uint8_t d = (uint8_t)boot_store_srv_table_delete(&srv->table, it[0], ln[0]);
        const void *items[1] = {&d};
        uint32_t lens[1] = {1};
        boot_store_srv_reply(srv, c, TACL_OK, 1, items, lens);
        break;
    }
    case STORE_OP_CHECK: {
        uint32_t miss;
        uint8_t all = (uint8_t)boot_store_srv_all_exist(srv, it, ln, n, 0, &miss);
        const void *items[1] = {&all};
        uint32_t lens[1] = {1};
        boot_store_srv_reply(srv, c, TACL_OK, 1, items, lens);
        break;
    }
    case STORE_OP_NUM_KEYS: {
        uint8_t out[8];
        store_put_u64(out, (uint64_t)srv->table.count);
        const void *items[1] = {out};
        uint32_t lens[1] = {8};
        boot_store_srv_reply(srv, c, TACL_OK, 1, items, lens);
        break;
    }
    case STORE_OP_DEL_PREFIX: {
        uint8_t out[8];
        store_put_u64(out, (uint64_t)boot_store_srv_table_delete_prefix(&srv->table, it[0], ln[0]));
        const void *items[1] = {out};
        uint32_t lens[1] = {8};
        boot_store_srv_reply(srv, c, TACL_OK, 1, items, lens);
        break;
    }
    default:
        boot_store_srv_conn_fail(c, "unknown op %u",
                                 op); /* unreachable: the header check knows ops */
        break;
    }
done:
    free(it);
    free(ln);
}
