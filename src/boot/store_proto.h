/* store_proto.h — the wire protocol of the rendezvous store, shared by its server and client:
 * frame layout, operation codes, limits, and little-endian encoding helpers.
 *
 * A connection starts with the job-token challenge-response (mutual; the token never travels):
 *
 *   greeting (server): magic_auth u32 | version u16 | flags u16   | server nonce [32]
 *   hello    (client): magic_auth u32 | version u16 | flags u16   | client nonce [32] | mac [32]
 *   verdict  (server): magic_auth u32 | version u16 | status u16  | mac [32]
 *
 * with the client's mac = HMAC(key, "tacl-store client" || server nonce || client nonce) and
 * the server's the same over "tacl-store server" (see core/auth.h); flags bit 0 says the side
 * has a token (it is not running with TACL_AUTH=0). A refused client gets a verdict with status
 * TACL_ERR_AUTH and a zero mac, then the server closes; a client that sends anything else
 * before its hello (an older, unauthenticated client) is closed. Then:
 *
 * Every frame is a 20-byte header followed by a body of `nitems` items, each a u32 length and
 * that many bytes. All integers are little-endian.
 *
 *   request:  magic u32 | version u16 | op u16     | nitems u32 | body_len u32 | timeout_ms u32
 *   response: magic u32 | version u16 | status u16 | nitems u32 | body_len u32 | reserved u32
 *
 * A request whose magic, version, op, item count, lengths or per-op arity is wrong closes that
 * one connection (the server logs why); the limits below bound what a peer can make the server
 * allocate. A response's status is a tacl_status_t; error responses carry the server's message
 * (or, for TACL_ERR_TIMEOUT, the keys still missing) as items. */
#ifndef TACL_BOOT_STORE_PROTO_H
#define TACL_BOOT_STORE_PROTO_H

#include "tacl.h"

#include <stddef.h>
#include <stdint.h>

#define STORE_MAGIC   0x53434154u /* "TACS" on the wire */
#define STORE_VERSION 2u
#define STORE_HDR_LEN 20u

#define STORE_AUTH_MAGIC   0x41434154u /* "TACA" on the wire */
#define STORE_GREET_LEN    40u
#define STORE_HELLO_LEN    72u
#define STORE_VERDICT_LEN  40u
#define STORE_AUTH_FLAG_ON 1u
#define STORE_LABEL_CLIENT "tacl-store client"
#define STORE_LABEL_SERVER "tacl-store server"

/* Limits (the public ones are documented in tacl.h): a key is at most 4 KiB, a value at most
 * 64 MiB, a request names at most 65536 keys, and no frame body exceeds 256 MiB. */
#define STORE_KEY_MAX   TACL_STORE_KEY_MAX
#define STORE_VALUE_MAX TACL_STORE_VALUE_MAX
#define STORE_ITEMS_MAX TACL_STORE_KEYS_MAX
#define STORE_FRAME_MAX (256u << 20)

typedef enum {
    STORE_OP_PING = 1,       /* () -> ("tacl-store") */
    STORE_OP_SET = 2,        /* (key, value) -> () */
    STORE_OP_GET = 3,        /* (key) -> (value); blocks until key exists */
    STORE_OP_WAIT = 4,       /* (key...) -> (); blocks until every key exists */
    STORE_OP_ADD = 5,        /* (key, delta i64) -> (new i64) */
    STORE_OP_CAS = 6,        /* (key, expected, desired) -> (value held afterwards) */
    STORE_OP_DELETE = 7,     /* (key) -> (deleted u8) */
    STORE_OP_CHECK = 8,      /* (key...) -> (all_exist u8) */
    STORE_OP_NUM_KEYS = 9,   /* () -> (count i64) */
    STORE_OP_MULTI_GET = 10, /* (key...) -> (value...); blocks until every key exists */
    STORE_OP_DEL_PREFIX = 11 /* (prefix) -> (deleted i64) */
} store_op_t;

#define STORE_OP_MAX 11

static inline const char *store_op_name(unsigned op)
{
    static const char *const names[] = {"?",     "ping",     "set",         "get",
                                        "wait",  "add",      "compare_set", "delete",
                                        "check", "num_keys", "multi_get",   "delete_prefix"};
    return op <= STORE_OP_MAX ? names[op] : "?";
}

static inline void store_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void store_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void store_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t store_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t store_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t store_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Writes a frame header into p (STORE_HDR_LEN bytes). */
static inline void store_put_hdr(uint8_t *p, uint16_t op_or_status, uint32_t nitems,
                                 uint32_t body_len, uint32_t timeout_ms)
{
    store_put_u32(p, STORE_MAGIC);
    store_put_u16(p + 4, STORE_VERSION);
    store_put_u16(p + 6, op_or_status);
    store_put_u32(p + 8, nitems);
    store_put_u32(p + 12, body_len);
    store_put_u32(p + 16, timeout_ms);
}

/* Splits a body into its items. Returns NULL when well formed, else what is wrong. */
static inline const char *store_parse_items(const uint8_t *body, uint32_t body_len, uint32_t nitems,
                                            const uint8_t **items, uint32_t *lens)
{
    uint32_t off = 0;
    for (uint32_t i = 0; i < nitems; i++) {
        if (body_len - off < 4) return "item length field runs past the end of the frame";
        uint32_t n = store_get_u32(body + off);
        off += 4;
        if (n > body_len - off) return "item runs past the end of the frame";
        items[i] = body + off;
        lens[i] = n;
        off += n;
    }
    if (off != body_len) return "trailing bytes after the last item";
    return NULL;
}

#endif
