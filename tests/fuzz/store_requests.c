/* store_requests.c — libFuzzer target: sequences of well-formed requests over three
 * authenticated connections to the live store server, pipelined without waiting for replies,
 * on six keys: sets, blocking gets, waits and multi-gets (each with a short deadline), adds,
 * compare-sets, deletes, prefix deletes, checks and key counts, so that parked requests are
 * completed, re-parked, expired and chained across connections in any order. Then every key is
 * set once more and each connection must receive exactly one well-formed reply per request, in
 * order, of the shape its operation calls for.
 * fuzz-sources: src/boot/store_server.c src/boot/store_client.c src/core/auth.c
 * fuzz-sources: src/core/sha256.c src/core/settings.c src/core/log.c src/core/status.c
 */
#include "fuzz_common.h"

#define RQ_CONNS 3
#define RQ_KEYS  6
#define RQ_STEPS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t rq_ops[] = {STORE_OP_SET,      STORE_OP_GET,       STORE_OP_WAIT,
                                  STORE_OP_ADD,      STORE_OP_CAS,       STORE_OP_DELETE,
                                  STORE_OP_CHECK,    STORE_OP_MULTI_GET, STORE_OP_DEL_PREFIX,
                                  STORE_OP_NUM_KEYS, STORE_OP_PING};
#define RQ_NOPS (sizeof rq_ops / sizeof rq_ops[0])

typedef struct {
    uint8_t buf[8192];
    size_t len;
    uint16_t ops[RQ_STEPS];
    int nops;
} rq_conn_t;

static void rq_add(rq_conn_t *c, uint16_t op, int n, const void *const *items, const uint32_t *lens,
                   uint32_t timeout_ms)
{
    uint32_t body = 0;
    for (int i = 0; i < n; i++)
        body += 4 + lens[i];
    if (c->len + STORE_HDR_LEN + body > sizeof c->buf) return;
    uint8_t *p = c->buf + c->len;
    store_put_hdr(p, op, (uint32_t)n, body, timeout_ms);
    p += STORE_HDR_LEN;
    for (int i = 0; i < n; i++) {
        store_put_u32(p, lens[i]);
        memcpy(p + 4, items[i], lens[i]);
        p += 4 + lens[i];
    }
    c->len = (size_t)(p - c->buf);
    c->ops[c->nops++] = op;
}

/* Checks one reply's shape against its operation. */
static void rq_check(uint16_t op, uint16_t status, uint32_t n, const uint32_t *lens)
{
    int blocking = op == STORE_OP_GET || op == STORE_OP_WAIT || op == STORE_OP_MULTI_GET;
    if (status == TACL_ERR_TIMEOUT) {
        FUZZ_ASSERT(blocking && n >= 1 && lens[0] == 8);
        return;
    }
    if (status == TACL_ERR_INVALID) {
        FUZZ_ASSERT(op == STORE_OP_ADD && n == 1); /* adding to a value that is not a number */
        return;
    }
    FUZZ_ASSERT(status == TACL_OK);
    switch (op) {
    case STORE_OP_SET:
    case STORE_OP_WAIT:
        FUZZ_ASSERT(n == 0);
        break;
    case STORE_OP_GET:
    case STORE_OP_CAS:
        FUZZ_ASSERT(n == 1);
        break;
    case STORE_OP_MULTI_GET:
        FUZZ_ASSERT(n == 2);
        break;
    case STORE_OP_ADD:
    case STORE_OP_DEL_PREFIX:
    case STORE_OP_NUM_KEYS:
        FUZZ_ASSERT(n == 1 && lens[0] == 8);
        break;
    case STORE_OP_DELETE:
    case STORE_OP_CHECK:
        FUZZ_ASSERT(n == 1 && lens[0] == 1);
        break;
    case STORE_OP_PING:
        FUZZ_ASSERT(n == 1 && lens[0] == 10);
        break;
    default:
        FUZZ_ASSERT(!"unexpected op");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_start();
    static rq_conn_t conns[RQ_CONNS];
    static const char *const keys[RQ_KEYS] = {"q/k0", "q/k1", "q/k2", "q/k3", "q/k4", "q/k5"};
    static const uint32_t tmo[4] = {1, 3, 10, 30};
    for (int i = 0; i < RQ_CONNS; i++)
        conns[i].len = 0, conns[i].nops = 0;
    size_t off = 0;
    for (int step = 0; step < RQ_STEPS && off + 3 <= size; step++) {
        uint8_t b0 = data[off], b1 = data[off + 1], b2 = data[off + 2];
        off += 3;
        rq_conn_t *c = &conns[(b0 >> 4) % RQ_CONNS];
        uint16_t op = rq_ops[(b0 & 15) % RQ_NOPS];
        const char *k1 = keys[b1 % RQ_KEYS], *k2 = keys[(b1 >> 3) % RQ_KEYS];
        uint32_t vl = b2 & 7;
        if (off + vl > size) vl = (uint32_t)(size - off);
        const uint8_t *v = data + off;
        off += vl;
        uint32_t t = tmo[(b2 >> 3) & 3];
        uint8_t d[8];
        store_put_u64(d, (uint64_t)(int64_t)(int8_t)b2);
        const void *it[3];
        uint32_t ln[3];
        it[0] = k1;
        ln[0] = 4;
        switch (op) {
        case STORE_OP_SET:
            it[1] = v, ln[1] = vl;
            rq_add(c, op, 2, it, ln, 0);
            break;
        case STORE_OP_ADD:
            it[1] = d, ln[1] = 8;
            rq_add(c, op, 2, it, ln, 0);
            break;
        case STORE_OP_CAS:
            it[1] = v, ln[1] = vl / 2, it[2] = v + vl / 2, ln[2] = vl - vl / 2;
            rq_add(c, op, 3, it, ln, 0);
            break;
        case STORE_OP_GET:
        case STORE_OP_DELETE:
            rq_add(c, op, 1, it, ln, op == STORE_OP_GET ? t : 0);
            break;
        case STORE_OP_DEL_PREFIX:
            it[0] = k1, ln[0] = b2 & 1 ? 4 : 2; /* one key, or every key */
            rq_add(c, op, 1, it, ln, 0);
            break;
        case STORE_OP_WAIT:
        case STORE_OP_CHECK:
        case STORE_OP_MULTI_GET:
            it[1] = k2, ln[1] = 4;
            rq_add(c, op, 2, it, ln, op == STORE_OP_CHECK ? 0 : t);
            break;
        default:
            rq_add(c, op, 0, NULL, NULL, 0);
            break;
        }
    }
    int fds[RQ_CONNS];
    for (int i = 0; i < RQ_CONNS; i++) {
        fds[i] = fz_connect();
        fz_send(fds[i], conns[i].buf, conns[i].len);
    }
    /* Every key set once more: what still waits completes (or has expired). */
    tacl_store_t *st;
    FUZZ_ASSERT(tacl_store_connect("127.0.0.1", fz_port, 10, &st) == TACL_OK);
    for (int k = 0; k < RQ_KEYS; k++)
        FUZZ_ASSERT(tacl_store_set(st, keys[k], "7", 1) == TACL_OK);
    tacl_store_close(st);
    for (int i = 0; i < RQ_CONNS; i++) {
        for (int r = 0; r < conns[i].nops; r++) {
            uint8_t h[STORE_HDR_LEN];
            FUZZ_ASSERT(fz_recv(fds[i], h, sizeof h, 10000) == 0);
            FUZZ_ASSERT(store_get_u32(h) == STORE_MAGIC && store_get_u16(h + 4) == STORE_VERSION);
            uint32_t n = store_get_u32(h + 8), body = store_get_u32(h + 12);
            FUZZ_ASSERT(body <= 65536 && (uint64_t)n * 4 <= body);
            static uint8_t b[65536];
            FUZZ_ASSERT(fz_recv(fds[i], b, body, 10000) == 0);
            const uint8_t *items[64];
            uint32_t lens[64];
            FUZZ_ASSERT(n <= 64 && store_parse_items(b, body, n, items, lens) == NULL);
            rq_check(conns[i].ops[r], store_get_u16(h + 6), n, lens);
        }
        close(fds[i]);
    }
    fz_check_alive();
    return 0;
}
