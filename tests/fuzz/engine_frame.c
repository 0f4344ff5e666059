/* engine_frame.c — libFuzzer target: the 96-byte fragment header the engine receives on a link,
 * through tacl__frame_check (the function eng_on_header calls). The first 3 bytes of an input
 * place the receiver (world size 1-64, its rank, the peer at the other end of the link); the
 * next 96 are the header as it arrives (short inputs are zero-filled). The target states the
 * rules on its own, in 128-bit arithmetic, and requires the same verdict: an accepted DATA
 * fragment has both ranks in the world and [offset, offset + len) inside total (so the engine
 * writes inside the message), a control frame names ranks of the world and has at most 255
 * bytes of text, a single-copy frame comes from the peer for this rank without payload, a
 * heartbeat has no payload, a link-opening frame comes from the peer for this rank with a known
 * step and at most 255 bytes; everything else is refused with a reason.
 * fuzz-sources: src/transport/engine/frame.c src/core/status.c src/core/log.c src/core/settings.c
 */
#include "fuzz_assert.h"
#include "transport/engine/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ef_in_world(long long r, int n)
{
    return 0 <= r && r < n;
}

/* The rules, written independently of src/transport/engine/frame.c. */
static tacl__frame_class_t ef_expect(const tacl__frame_hdr_t *h, int rank, int n, int peer)
{
    if (h->magic != 0x7461636cu) return TACL_FRAME_BAD;
    switch (h->kind) {
    case 1: { /* DATA */
        unsigned __int128 end = (unsigned __int128)h->offset + h->len;
        if (!ef_in_world(h->src, n) || !ef_in_world(h->dst, n) || end > h->total)
            return TACL_FRAME_BAD;
        return h->dst == rank ? TACL_FRAME_LOCAL : TACL_FRAME_RELAY;
    }
    case 4: /* DEAD: tag = the dead rank */
    case 5: /* CUT: tag, seq = the link's ranks */
        if (h->len > 255 || !ef_in_world(h->src, n) || h->tag >= (uint64_t)n) return TACL_FRAME_BAD;
        if (h->kind == 5 && h->seq >= (uint64_t)n) return TACL_FRAME_BAD;
        return TACL_FRAME_CTRL;
    case 6: /* CMA_RTS */
    case 7: /* CMA_FIN */
        return h->len == 0 && h->src == peer && h->dst == rank ? TACL_FRAME_CMA : TACL_FRAME_BAD;
    case 8: /* CREDIT: routed back to dst, no payload */
        return h->len == 0 && ef_in_world(h->src, n) && ef_in_world(h->dst, n) ? TACL_FRAME_GRANT
                                                                               : TACL_FRAME_BAD;
    case 2: /* HEARTBEAT */
    case 3: /* WAKE */
        return h->len == 0 ? TACL_FRAME_IDLE : TACL_FRAME_BAD;
    case 9: /* LINK: steps 1-4 between direct peers, a message of at most 255 bytes */
        return h->len <= 255 && h->src == peer && h->dst == rank && h->tag >= 1 && h->tag <= 4
                   ? TACL_FRAME_SETUP
                   : TACL_FRAME_BAD;
    default:
        return TACL_FRAME_BAD;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    int n = 1 + data[0] % 64, rank = data[1] % n, peer = data[2] % n;
    if (peer == rank && n > 1) peer = (rank + 1) % n;
    tacl__frame_hdr_t h;
    memset(&h, 0, sizeof h);
    memcpy(&h, data + 3, size - 3 < sizeof h ? size - 3 : sizeof h);
    const char *why = "unset";
    tacl__frame_class_t got = tacl__frame_check(&h, rank, n, peer, &why);
    FUZZ_ASSERT(got == ef_expect(&h, rank, n, peer));
    if (got == TACL_FRAME_BAD) {
        FUZZ_ASSERT(why && why[0]); /* the link-down message says why */
    } else {
        FUZZ_ASSERT(why == NULL);
        FUZZ_ASSERT(tacl__frame_check(&h, rank, n, peer, NULL) == got); /* pure */
    }
    if (got == TACL_FRAME_LOCAL || got == TACL_FRAME_RELAY) {
        /* What the engine then relies on (engine/match.c, link_io.c: where the payload lands). */
        FUZZ_ASSERT(h.offset <= h.total && h.total - h.offset >= h.len);
        FUZZ_ASSERT(h.src >= 0 && h.src < n && h.dst >= 0 && h.dst < n);
    }
    if (got == TACL_FRAME_CTRL) FUZZ_ASSERT(h.len <= TACL_FRAME_CTRL_MAX && (int)h.tag < n);
    if (got == TACL_FRAME_SETUP) FUZZ_ASSERT(h.len <= TACL_LINK_MSG_MAX && h.src == peer);
    return 0;
}
