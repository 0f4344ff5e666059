/* store_frames.c — libFuzzer target: arbitrary bytes sent to the live store server on an
 * authenticated connection (whatever frames, partial frames or garbage they make, blocking
 * requests included), then end of stream; the target turns the server until it has answered
 * and closed the connection. Every reply must be a well-formed response frame; nothing may stay
 * behind (connections, parked requests); the server must keep serving other clients correctly
 * (fuzz_common.h checks it regularly). ASan/UBSan watch the server, which runs in this
 * process.
 * fuzz-sources: src/boot/store_server.c src/boot/store_client.c src/core/auth.c
 * fuzz-sources: src/boot/store_table.c src/boot/store_conn.c src/boot/store_wait.c
 * fuzz-sources: src/boot/store_handlers.c src/boot/store_client_conn.c src/boot/store_client_ops.c
 * fuzz-sources: src/core/sha256.c src/core/settings.c src/core/log.c src/core/status.c
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_start();
    /* The hello and the input in one send (as a client that pipelines would). */
    static uint8_t out[STORE_HELLO_LEN + 65536];
    uint8_t nonces[2 * TACL_AUTH_NONCE_LEN];
    int fd = fz_dial();
    fz_greet(fd, out, nonces);
    size_t head = size <= sizeof out - STORE_HELLO_LEN ? size : 0;
    memcpy(out + STORE_HELLO_LEN, data, head);
    fz_send(fd, out, STORE_HELLO_LEN + head);
    fz_send(fd, data + head, size - head);
    shutdown(fd, SHUT_WR);
    /* Everything the server sends until it closes (it does at our end of stream). */
    static uint8_t in[4 << 20];
    size_t len = 0;
    uint64_t t0 = tacl__now_ns();
    for (int turned = 0;; turned = 1) {
        if (turned) fz_nudge(t0);
        fz_idle();
        if (fz_drain(fd, in, &len, sizeof in)) break;
    }
    FUZZ_ASSERT(len >= STORE_VERDICT_LEN);
    fz_verdict(in, nonces);
    /* Then whole response frames; the stream may end inside a header only when the server
     * dropped the connection for a bad request before replying. */
    for (size_t off = STORE_VERDICT_LEN; len - off >= STORE_HDR_LEN;) {
        const uint8_t *h = in + off;
        FUZZ_ASSERT(store_get_u32(h) == STORE_MAGIC && store_get_u16(h + 4) == STORE_VERSION);
        uint32_t n = store_get_u32(h + 8), body = store_get_u32(h + 12);
        FUZZ_ASSERT(store_get_u16(h + 6) < TACL_STATUS_COUNT_);
        FUZZ_ASSERT(body <= STORE_FRAME_MAX && (uint64_t)n * 4 <= body);
        FUZZ_ASSERT(len - off - STORE_HDR_LEN >= body);
        const uint8_t **items = malloc((n ? n : 1) * sizeof *items);
        uint32_t *lens = malloc((n ? n : 1) * sizeof *lens);
        FUZZ_ASSERT(items && lens);
        FUZZ_ASSERT(store_parse_items(h + STORE_HDR_LEN, body, n, items, lens) == NULL);
        free(items);
        free(lens);
        off += STORE_HDR_LEN + body;
    }
    fz_close_all(&fd, 1);
    fz_check_alive();
    return 0;
}
