/* store_requests.c — libFuzzer target: sequences of well-formed requests over three
 * authenticated connections to the live store server, pipelined without waiting for replies,
 * on six keys: sets, blocking gets, waits and multi-gets (with a deadline or none), adds,
 * compare-sets, deletes, prefix deletes, checks and key counts, so that parked requests are
 * completed, re-parked, expired and chained across connections. The target turns the server
 * itself: after the three connections, a fourth sets every key once more, and every deadline is
 * let pass at once (no waiting). Then each connection must have received one well-formed reply
 * per request, in order, of the shape its operation calls for, up to a request without a
 * deadline that is still parked: one whose keys are truly missing (a check on the fourth
 * connection says so) and which the server counts. Closing the connections with a reset must
 * leave nothing behind: no connection, no parked request.
 * fuzz-sources: src/boot/store_server.c src/boot/store_client.c src/core/auth.c
 * fuzz-sources: src/boot/store_table.c src/boot/store_conn.c src/boot/store_wait.c
 * fuzz-sources: src/boot/store_handlers.c src/boot/store_client_conn.c src/boot/store_client_ops.c
 * fuzz-sources: src/core/sha256.c src/core/settings.c src/core/log.c src/core/status.c
 */
#include "fuzz_common.h"

#define RQ_CONNS 3 /* fuzzed connections; conns[RQ_CONNS] sets the keys and checks */
#define RQ_KEYS  6
#define RQ_STEPS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t rq_ops[] = {STORE_OP_SET,      STORE_OP_GET,       STORE_OP_WAIT,
                                  STORE_OP_ADD,      STORE_OP_CAS,       STORE_OP_DELETE,
                                  STORE_OP_CHECK,    STORE_OP_MULTI_GET, STORE_OP_DEL_PREFIX,
                                  STORE_OP_NUM_KEYS, STORE_OP_PING};
#define RQ_NOPS (sizeof rq_ops / sizeof rq_ops[0])

static const char *const rq_keys[RQ_KEYS] = {"q/k0", "q/k1", "q/k2", "q/k3", "q/k4", "q/k5"};

typedef struct {
    /* Requests. */
    uint8_t buf[STORE_HELLO_LEN + 8192];
    size_t len, sent;
    uint16_t ops[RQ_STEPS + RQ_CONNS];
    uint32_t tmo[RQ_STEPS + RQ_CONNS]; /* 0: no deadline */
    uint8_t k1[RQ_STEPS + RQ_CONNS], k2[RQ_STEPS + RQ_CONNS];
    int nops;
    /* Replies. */
    int fd;
    uint8_t nonces[2 * TACL_AUTH_NONCE_LEN];
    uint8_t in[1 << 16];
    size_t in_len, in_off;
    int verdict, replies;
    uint8_t check[RQ_STEPS + RQ_CONNS]; /* the value of each check's reply */
} rq_conn_t;

static int rq_blocking(uint16_t op)
{
    return op == STORE_OP_GET || op == STORE_OP_WAIT || op == STORE_OP_MULTI_GET;
}

static void rq_add(rq_conn_t *c, uint16_t op, int n, const void *const *items, const uint32_t *lens,
                   uint32_t timeout_ms, int k1, int k2)
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
    c->ops[c->nops] = op;
    c->tmo[c->nops] = timeout_ms;
    c->k1[c->nops] = (uint8_t)k1;
    c->k2[c->nops] = (uint8_t)k2;
    c->nops++;
}

/* Checks one reply's shape against its request. */
static void rq_check(uint16_t op, uint32_t tmo, uint16_t status, uint32_t n, const uint32_t *lens)
{
    if (status == TACL_ERR_TIMEOUT) {
        FUZZ_ASSERT(rq_blocking(op) && tmo != 0 && n >= 1 && lens[0] == 8);
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

/* Checks what arrived on c since the last call: the verdict, then whole replies. Returns 1
 * when a reply is still incomplete. */
static int rq_parse(rq_conn_t *c)
{
    if (!c->verdict) {
        if (c->in_len < STORE_VERDICT_LEN) return c->in_len > 0;
        fz_verdict(c->in, c->nonces);
        c->verdict = 1;
        c->in_off = STORE_VERDICT_LEN;
    }
    while (c->in_len - c->in_off >= STORE_HDR_LEN) {
        const uint8_t *h = c->in + c->in_off;
        FUZZ_ASSERT(store_get_u32(h) == STORE_MAGIC && store_get_u16(h + 4) == STORE_VERSION);
        uint32_t n = store_get_u32(h + 8), body = store_get_u32(h + 12);
        FUZZ_ASSERT(body <= 65536 && (uint64_t)n * 4 <= body);
        if (c->in_len - c->in_off - STORE_HDR_LEN < body) break;
        const uint8_t *items[64];
        uint32_t lens[64];
        FUZZ_ASSERT(n <= 64 && store_parse_items(h + STORE_HDR_LEN, body, n, items, lens) == NULL);
        FUZZ_ASSERT(c->replies < c->nops);
        int r = c->replies++;
        rq_check(c->ops[r], c->tmo[r], store_get_u16(h + 6), n, lens);
        if (c->ops[r] == STORE_OP_CHECK) c->check[r] = items[0][0];
        c->in_off += STORE_HDR_LEN + body;
    }
    return c->in_off < c->in_len;
}

/* Sends what each connection has not sent yet, then turns the server, letting every deadline
 * pass, and reads until every connection has its replies up to a request without deadline
 * that the server holds parked. Returns how many connections have one. */
static int rq_settle(rq_conn_t *conns, int n)
{
    for (int i = 0; i < n; i++) {
        fz_send(conns[i].fd, conns[i].buf + conns[i].sent, conns[i].len - conns[i].sent);
        conns[i].sent = conns[i].len;
    }
    uint64_t t0 = tacl__now_ns();
    for (int turned = 0;; turned = 1) {
        if (turned) fz_nudge(t0);
        int r, turns = 0;
        while ((r = boot_store_server_poll(fz_srv, 0, 1)) > 0)
            FUZZ_ASSERT(++turns < 1000000);
        FUZZ_ASSERT(r == 0);
        int parked = 0, settled = 1;
        for (int i = 0; i < n; i++) {
            rq_conn_t *c = &conns[i];
            /* Every request is well formed: the server never closes these connections. */
            FUZZ_ASSERT(fz_drain(c->fd, c->in, &c->in_len, sizeof c->in) == 0);
            if (rq_parse(c)) settled = 0;
            if (c->replies < c->nops) {
                if (rq_blocking(c->ops[c->replies]) && c->tmo[c->replies] == 0)
                    parked++;
                else
                    settled = 0; /* its reply is still on its way */
            }
        }
        if (settled && parked == boot_store_server_nparked(fz_srv)) return parked;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_start();
    static rq_conn_t conns[RQ_CONNS + 1];
    static const uint32_t tmo[4] = {0, 1, 30, 0};
    /* Four connections (the last sets keys and checks), each greeted: its buffer starts with
     * its hello, and its requests follow in the same send. */
    for (int i = 0; i <= RQ_CONNS; i++)
        conns[i].fd = fz_dial();
    for (int i = 0; i <= RQ_CONNS; i++) {
        rq_conn_t *c = &conns[i];
        fz_greet(c->fd, c->buf, c->nonces);
        c->len = STORE_HELLO_LEN;
        c->sent = c->in_len = c->in_off = 0;
        c->nops = c->verdict = c->replies = 0;
    }
    size_t off = 0;
    for (int step = 0; step < RQ_STEPS && off + 3 <= size; step++) {
        uint8_t b0 = data[off], b1 = data[off + 1], b2 = data[off + 2];
        off += 3;
        rq_conn_t *c = &conns[(b0 >> 4) % RQ_CONNS];
        uint16_t op = rq_ops[(b0 & 15) % RQ_NOPS];
        int i1 = b1 % RQ_KEYS, i2 = (b1 >> 3) % RQ_KEYS;
        uint32_t vl = b2 & 7;
        if (off + vl > size) vl = (uint32_t)(size - off);
        const uint8_t *v = data + off;
        off += vl;
        uint32_t t = tmo[(b2 >> 3) & 3];
        uint8_t d[8];
        store_put_u64(d, (uint64_t)(int64_t)(int8_t)b2);
        const void *it[3];
        uint32_t ln[3];
        it[0] = rq_keys[i1];
        ln[0] = 4;
        switch (op) {
        case STORE_OP_SET:
            it[1] = v, ln[1] = vl;
            rq_add(c, op, 2, it, ln, 0, i1, i1);
            break;
        case STORE_OP_ADD:
            it[1] = d, ln[1] = 8;
            rq_add(c, op, 2, it, ln, 0, i1, i1);
            break;
        case STORE_OP_CAS:
            it[1] = v, ln[1] = vl / 2, it[2] = v + vl / 2, ln[2] = vl - vl / 2;
            rq_add(c, op, 3, it, ln, 0, i1, i1);
            break;
        case STORE_OP_GET:
        case STORE_OP_DELETE:
            rq_add(c, op, 1, it, ln, op == STORE_OP_GET ? t : 0, i1, i1);
            break;
        case STORE_OP_DEL_PREFIX:
            ln[0] = b2 & 1 ? 4 : 2; /* one key, or every key */
            rq_add(c, op, 1, it, ln, 0, i1, i1);
            break;
        case STORE_OP_WAIT:
        case STORE_OP_CHECK:
        case STORE_OP_MULTI_GET:
            it[1] = rq_keys[i2], ln[1] = 4;
            rq_add(c, op, 2, it, ln, op == STORE_OP_CHECK ? 0 : t, i1, i2);
            break;
        default:
            rq_add(c, op, 0, NULL, NULL, 0, 0, 0);
            break;
        }
    }
    /* The fuzzed connections' requests, served as far as they go; then every key set once
     * more: what waits completes, and what it unblocks runs. */
    for (int i = 0; i < RQ_CONNS; i++) {
        fz_send(conns[i].fd, conns[i].buf, conns[i].len);
        conns[i].sent = conns[i].len;
    }
    fz_idle();
    rq_conn_t *k = &conns[RQ_CONNS];
    for (int i = 0; i < RQ_KEYS; i++) {
        const void *it[2] = {rq_keys[i], "7"};
        uint32_t ln[2] = {4, 1};
        rq_add(k, STORE_OP_SET, 2, it, ln, 0, i, i);
    }
    int parked = rq_settle(conns, RQ_CONNS + 1);
    /* A request still parked waits for a key that is truly missing (else a wake-up was lost). */
    if (parked) {
        int first = k->nops;
        for (int i = 0; i < RQ_CONNS; i++) {
            rq_conn_t *c = &conns[i];
            if (c->replies == c->nops) continue;
            int r = c->replies;
            const void *it[2] = {rq_keys[c->k1[r]], rq_keys[c->k2[r]]};
            uint32_t ln[2] = {4, 4};
            rq_add(k, STORE_OP_CHECK, c->ops[r] == STORE_OP_GET ? 1 : 2, it, ln, 0, c->k1[r],
                   c->k2[r]);
        }
        FUZZ_ASSERT(rq_settle(conns, RQ_CONNS + 1) == parked);
        for (int r = first; r < k->nops; r++)
            FUZZ_ASSERT(k->check[r] == 0);
    }
    int fds[RQ_CONNS + 1];
    for (int i = 0; i <= RQ_CONNS; i++)
        fds[i] = conns[i].fd;
    fz_close_all(fds, RQ_CONNS + 1);
    fz_check_alive();
    return 0;
}
