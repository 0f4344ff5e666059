/* frame.c — the validation of a received fragment header (frame.h): every check
 * the engine relies on before it writes a payload anywhere or acts on a control frame, in one
 * place without side effects, so that it can be fuzzed exactly as the engine runs it. */
#include "transport/engine/frame.h"

static int frame_rank_ok(int64_t r, int size)
{
    return r >= 0 && r < size;
}

tacl__frame_class_t tacl__frame_check(const tacl__frame_hdr_t *h, int rank, int size, int peer,
                                      const char **why)
{
    const char *bad = NULL;
    tacl__frame_class_t cls = TACL_FRAME_BAD;
    if (h->magic != TACL_FRAME_MAGIC) {
        bad = "bad frame magic";
    } else if (h->kind == TACL_FRAME_DATA) {
        if (!frame_rank_ok(h->dst, size) || !frame_rank_ok(h->src, size))
            bad = "frame with a rank out of range";
        else if (h->offset > h->total || h->len > h->total - h->offset) /* no wrap-around */
            bad = "fragment outside its message (offset + len past total)";
        else
            cls = h->dst == rank ? TACL_FRAME_LOCAL : TACL_FRAME_RELAY;
    } else if (h->kind == TACL_FRAME_DEAD || h->kind == TACL_FRAME_CUT) {
        /* tag (and seq for CUT) name ranks: compared as 64-bit values, not truncated to int. */
        if (h->len > TACL_FRAME_CTRL_MAX)
            bad = "control frame too long";
        else if (!frame_rank_ok(h->src, size) || h->tag >= (uint64_t)size ||
                 (h->kind == TACL_FRAME_CUT && h->seq >= (uint64_t)size))
            bad = "control frame naming a rank out of range";
        else
            cls = TACL_FRAME_CTRL;
    } else if (h->kind == TACL_FRAME_CMA_RTS || h->kind == TACL_FRAME_CMA_FIN) {
        if (h->len || h->src != peer || h->dst != rank)
            bad = "single-copy frame with a payload or not from the direct peer";
        else
            cls = TACL_FRAME_CMA;
    } else if (h->kind == TACL_FRAME_CREDIT) {
        if (h->len || !frame_rank_ok(h->dst, size) || !frame_rank_ok(h->src, size))
            bad = "credit frame with a payload or a rank out of range";
        else
            cls = TACL_FRAME_GRANT;
    } else if (h->kind == TACL_FRAME_LINK) {
        if (h->len > TACL_LINK_MSG_MAX || h->src != peer || h->dst != rank)
            bad = "link-opening frame too long or not from the direct peer";
        else if (h->tag < TACL_LINK_STEP_ASK || h->tag > TACL_LINK_STEP_GIVEUP)
            bad = "link-opening frame of an unknown step";
        else
            cls = TACL_FRAME_SETUP;
    } else if (h->kind == TACL_FRAME_HEARTBEAT || h->kind == TACL_FRAME_WAKE) {
        if (h->len)
            bad = "heartbeat with a payload";
        else
            cls = TACL_FRAME_IDLE;
    } else {
        bad = "unknown frame kind";
    }
    if (why) *why = bad;
    return cls;
}
