/* overlay.c — opening a pair's faster link type (the shm ring of two ranks of one host) when the
 * pair first sends data, not at create: memory, and the setup's cost, grow with the peers a rank
 * talks to. The type's messages (transport.h) travel as LINK frames on the pair's tcp connection
 * and are handled by both progress threads without blocking: the lower rank offers (asked by the
 * higher one when that one sends first), the higher one accepts and replies, the lower one
 * confirms or offers again. Sends to the peer wait (parked, in order) while it opens, so that
 * every message between the pair goes the faster way (and single-copy transfers apply) from the
 * first; they go on tcp where the type fails. */
#include "transport/engine/engine_int.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

/* Sends step of the opening of type idx (the peer's, when answering a frame we cannot use). */
static void eng_over_send(tacl__engine_t *e, tacl__eng_link_t *l, int step, int idx,
                          const void *msg, size_t len)
{
    if (l->state != ENG_LINK_UP || !l->ntcp) return;
    tacl__eng_tx_t *t = calloc(1, sizeof *t);
    if (!t || (len && !(t->owned = malloc(len)))) {
        free(t);
        return; /* the peer's sends to us stay on tcp until it gives up waiting: its deadline */
    }
    if (len) memcpy(t->owned, msg, len);
    t->payload = t->owned;
    t->hdr = (tacl__frame_hdr_t){.magic = TACL_FRAME_MAGIC,
                                 .kind = TACL_FRAME_LINK,
                                 .src = e->rank,
                                 .dst = l->peer,
                                 .len = (uint32_t)len,
                                 .tag = (uint64_t)step,
                                 .seq = (uint64_t)idx};
    tacl__eng_enqueue(l->tcp[0], t);
    tacl__eng_flush(e, l->tcp[0]);
}

/* The type is open (c) or has failed (c NULL): the parked sends go, in order. */
static void eng_over_done(tacl__engine_t *e, tacl__eng_link_t *l, void *impl, const char *why)
{
    if (impl) {
        const tacl__link_ops_t *ops = l->over_type->ops;
        int fd = ops->fd(impl);
        tacl__eng_conn_t *c = tacl__eng_conn_new(l, ops, impl, fd);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (c && (fd < 0 || epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)) {
            l->over = c;
            l->over_state = ENG_OVER_UP;
            TACL_DEBUG(TACL_SUB_NET, "rank %d: %s link to rank %d open", e->rank,
                       l->over_type->name, l->peer);
        } else {
            free(c ? c->stage : NULL);
            free(c);
            ops->close(impl);
            why = "out of memory";
        }
    }
    if (l->over_state != ENG_OVER_UP) {
        l->over_state = ENG_OVER_FAILED;
        TACL_WARN(l->over_type->log_sub, "rank %d: %s link to rank %d unavailable, using tcp: %s",
                  e->rank, l->over_type->name, l->peer, why ? why : "?");
    }
    tacl__req_t *r = l->park_h;
    l->park_h = l->park_t = NULL;
    while (r) {
        tacl__req_t *next = r->park_next;
        r->park_next = NULL;
        tacl__eng_submit_send(e, r);
        r = next;
    }
}

/* The lower rank: makes the connection and offers it. */
static void eng_over_offer(tacl__engine_t *e, tacl__eng_link_t *l)
{
    char msg[TACL_LINK_MSG_MAX];
    size_t len = 0;
    tacl__errbuf_t eb;
    l->over_state = ENG_OVER_OPENING;
    if (l->over_type->offer(&l->over_pend, msg, &len, &eb) != TACL_OK) {
        l->over_pend = NULL;
        eng_over_send(e, l, TACL_LINK_STEP_GIVEUP, l->over_idx, NULL, 0);
        eng_over_done(e, l, NULL, eb.msg);
        return;
    }
    eng_over_send(e, l, TACL_LINK_STEP_OFFER, l->over_idx, msg, len);
}

int tacl__eng_over_want(tacl__engine_t *e, tacl__eng_link_t *l, tacl__req_t *r)
{
    if (!l->over_type || l->state != ENG_LINK_UP) return 0;
    if (l->over_state == ENG_OVER_IDLE) {
        if (e->rank < l->peer) {
            eng_over_offer(e, l);
        } else {
            l->over_state = ENG_OVER_OPENING;
            eng_over_send(e, l, TACL_LINK_STEP_ASK, l->over_idx, NULL, 0);
        }
    }
    if (l->over_state != ENG_OVER_OPENING || !r) return 0;
    r->park_next = NULL;
    if (l->park_t)
        l->park_t->park_next = r;
    else
        l->park_h = r;
    l->park_t = r;
    return 1;
}

int tacl__eng_over_unpark(tacl__eng_link_t *l, tacl__req_t *r)
{
    for (tacl__req_t **pp = &l->park_h, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->park_next)
        if (*pp == r) {
            *pp = r->park_next;
            if (l->park_t == r) l->park_t = prev;
            r->park_next = NULL;
            return 1;
        }
    return 0;
}

void tacl__eng_over_frame(tacl__engine_t *e, tacl__eng_conn_t *c)
{
    tacl__eng_link_t *l = c->link;
    const tacl__frame_hdr_t *h = &c->hdr;
    int lower = e->rank < l->peer;
    if (!l->over_type || h->seq != (uint64_t)l->over_idx || l->over_state == ENG_OVER_UP ||
        l->over_state == ENG_OVER_FAILED) {
        /* A pair that disagrees on the type (settings that differ between the ranks) stays on
         * tcp: asked or offered, we say no, so that the other side does not wait. */
        if (lower && h->tag == TACL_LINK_STEP_ASK)
            eng_over_send(e, l, TACL_LINK_STEP_GIVEUP, (int)h->seq, NULL, 0);
        else if (!lower && h->tag == TACL_LINK_STEP_OFFER)
            eng_over_send(e, l, TACL_LINK_STEP_REPLY, (int)h->seq, NULL, 0);
        return;
    }
    char out[TACL_LINK_MSG_MAX];
    size_t olen = 0;
    tacl__errbuf_t eb;
    void *impl = NULL;
    switch (h->tag) {
    case TACL_LINK_STEP_ASK:
        if (lower && l->over_state == ENG_OVER_IDLE) eng_over_offer(e, l);
        break;
    case TACL_LINK_STEP_OFFER: {
        if (lower) break;
        l->over_state = ENG_OVER_OPENING;
        int rc = l->over_type->accept(c->ctrl, h->len, &impl, out, &olen, &eb);
        eng_over_send(e, l, TACL_LINK_STEP_REPLY, l->over_idx, out, olen);
        if (rc != 0) eng_over_done(e, l, rc > 0 ? impl : NULL, eb.msg);
        break;
    }
    case TACL_LINK_STEP_REPLY: {
        if (!lower || !l->over_pend) break;
        int rc = l->over_type->confirm(l->over_pend, c->ctrl, h->len, out, &olen, &eb);
        if (rc == 0) {
            eng_over_send(e, l, TACL_LINK_STEP_OFFER, l->over_idx, out, olen);
            break;
        }
        impl = l->over_pend;
        l->over_pend = NULL;
        if (rc < 0) l->over_type->ops->close(impl);
        eng_over_done(e, l, rc > 0 ? impl : NULL, eb.msg);
        break;
    }
    case TACL_LINK_STEP_GIVEUP:
        if (!lower) eng_over_done(e, l, NULL, "the peer could not open it");
        break;
    }
}
