/* store_frames.c — libFuzzer target: arbitrary bytes sent to the live store server on an
 * authenticated connection (whatever frames, partial frames or garbage they make), then end of
 * stream. Every reply must be a well-formed response frame; the server must stay up and keep
 * serving other clients correctly (fuzz_common.h checks it regularly). ASan/UBSan watch the
 * server thread, which runs in this process.
 * fuzz-sources: src/boot/store_server.c src/boot/store_client.c src/core/auth.c
 * fuzz-sources: src/core/sha256.c src/core/settings.c src/core/log.c src/core/status.c
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_start();
    int fd = fz_connect();
    fz_send(fd, data, size);
    shutdown(fd, SHUT_WR);
    /* Replies until the server closes (it does at our end of stream). */
    for (;;) {
        uint8_t h[STORE_HDR_LEN];
        if (fz_recv(fd, h, sizeof h, 5000) != 0) break;
        FUZZ_ASSERT(store_get_u32(h) == STORE_MAGIC && store_get_u16(h + 4) == STORE_VERSION);
        uint32_t n = store_get_u32(h + 8), body = store_get_u32(h + 12);
        FUZZ_ASSERT(store_get_u16(h + 6) < TACL_STATUS_COUNT_);
        FUZZ_ASSERT(body <= STORE_FRAME_MAX && (uint64_t)n * 4 <= body);
        uint8_t *b = malloc(body ? body : 1);
        FUZZ_ASSERT(b);
        FUZZ_ASSERT(fz_recv(fd, b, body, 5000) == 0);
        const uint8_t **items = malloc((n ? n : 1) * sizeof *items);
        uint32_t *lens = malloc((n ? n : 1) * sizeof *lens);
        FUZZ_ASSERT(items && lens);
        FUZZ_ASSERT(store_parse_items(b, body, n, items, lens) == NULL);
        free(items);
        free(lens);
        free(b);
    }
    close(fd);
    fz_check_alive();
    return 0;
}
