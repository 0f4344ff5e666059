/* relay.c — routed traffic: fragments for other ranks forwarded along next_hop, and the flow
 * control of routed sends (credit.h counts; this file sends, forwards and consumes the CREDIT
 * frames and releases the sends that waited for credit). */
#include "transport/engine/engine_int.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>

/* Queues a credit ahead of the data waiting on c (behind a frame already half written): a credit
 * that waits behind megabytes of data stalls its flow for as long. */
static void eng_enqueue_credit(tacl__engine_t *e, tacl__eng_conn_t *c, tacl__eng_tx_t *t)
{
    if (!c->txh || (c->txh->done == 0 && c->txh->hdr.kind != TACL_FRAME_CREDIT)) {
        t->next = c->txh;
        c->txh = t;
        if (!c->txt) c->txt = t;
    } else {
        tacl__eng_tx_t *p =
            c->txh; /* after the half-written frame and the credits already queued */
        while (p->next && p->next->hdr.kind == TACL_FRAME_CREDIT)
            p = p->next;
        t->next = p->next;
        p->next = t;
        if (c->txt == p) c->txt = t;
    }
    tacl__eng_flush(e, c);
}

/* Sends a CREDIT frame for len bytes of the routed flow (to, from) back to rank to, on behalf of
 * rank from (this rank when it is the destination; the destination when a relay drops), along
 * next_hop or, while this rank has no route to rank to yet (routes are set after create, data may
 * come before), back over the link via the fragment came on. */
void tacl__eng_credit_send(tacl__engine_t *e, int from, int to, uint64_t len, tacl__eng_link_t *via)
{
    tacl__eng_tx_t *t = calloc(1, sizeof *t);
    if (!t) {
        TACL_WARN(TACL_SUB_NET, "rank %d: out of memory returning credit to rank %d", e->rank, to);
        return;
    }
    t->hdr = (tacl__frame_hdr_t){
        .magic = TACL_FRAME_MAGIC, .kind = TACL_FRAME_CREDIT, .src = from, .dst = to, .total = len};
    if (atomic_load(&e->next_hop[to]) < 0 && via && via->state == ENG_LINK_UP) {
        t->hdr.hops = 1;
        eng_enqueue_credit(e, eng_ctrl_conn(via), t);
        return;
    }
    tacl__eng_forward(e, t);
}

/* A relayed DATA fragment t will not reach its destination: its sender gets the credit back. */
static void eng_credit_refund(tacl__engine_t *e, const tacl__eng_tx_t *t)
{
    if (t->hdr.kind == TACL_FRAME_DATA && t->hdr.len)
        tacl__eng_credit_send(e, t->hdr.dst, t->hdr.src, t->hdr.len, NULL);
}

/* Forwards a fragment for another rank; takes t. */
void tacl__eng_forward(tacl__engine_t *e, tacl__eng_tx_t *t)
{
    int dst = t->hdr.dst;
    int hop = atomic_load(&e->next_hop[dst]);
    tacl__eng_link_t *l = hop >= 0 && hop != e->rank ? e->links[hop] : NULL;
    /* Routes that disagree between ranks must not make a fragment circle forever. */
    if (++t->hdr.hops > (uint32_t)e->size) {
        TACL_WARN(TACL_SUB_NET,
                  "rank %d: dropped a fragment from rank %d for rank %d after %u hops: the "
                  "ranks' routes form a loop",
                  e->rank, t->hdr.src, dst, t->hdr.hops);
        eng_credit_refund(e, t);
        tacl__eng_tx_free(e, t);
        return;
    }
    if (!l || l->state != ENG_LINK_UP) {
        TACL_WARN(TACL_SUB_NET,
                  "rank %d: dropped a fragment from rank %d for rank %d: no live route "
                  "(next hop %d)",
                  e->rank, t->hdr.src, dst, hop);
        eng_credit_refund(e, t);
        tacl__eng_tx_free(e, t);
        return;
    }
    if (t->hdr.kind == TACL_FRAME_CREDIT) {
        eng_enqueue_credit(e, eng_ctrl_conn(l), t);
        return;
    }
    l->last_data = e->loop_now;
    tacl__eng_over_want(e, l, NULL);
    tacl__eng_conn_t *c = tacl__eng_pick_conn(l);
    tacl__eng_enqueue(c, t);
    tacl__eng_flush(e, c);
}

/* A CREDIT frame: for this rank (its flow to h->src may send h->total more bytes), or to pass
 * on. Credits are never subject to credits, so they always make progress. */
void tacl__eng_credit_arrive(tacl__engine_t *e, const tacl__frame_hdr_t *h)
{
    if (h->dst != e->rank) {
        tacl__eng_tx_t *t = calloc(1, sizeof *t);
        if (!t) return;
        t->hdr = *h;
        tacl__eng_forward(e, t);
        return;
    }
    tacl__credit_give(e->credit, h->src, (size_t)h->total);
    tacl__eng_flow_resume(e, h->src);
}

/* Queues what the credit of the flow to dst allows from its waiting sends, in order. A send is
 * taken off the flow's list before its fragments are queued: once the last one is, the request
 * may complete and its owner free it at once, so it is touched again only when some of it is
 * left (then it cannot have completed) and goes back to the head of the list. */
void tacl__eng_flow_resume(tacl__engine_t *e, int dst)
{
    tacl__req_t *r;
    while ((r = e->cw_head[dst])) {
        e->cw_head[dst] = r->cw_next;
        if (!e->cw_head[dst]) e->cw_tail[dst] = NULL;
        r->cw_next = NULL;
        tacl__eng_link_t *l = e->links[r->link];
        if (!l || l->state != ENG_LINK_UP) {
            if (!atomic_load(&r->done)) {
                snprintf(r->msg, sizeof r->msg,
                         "rank %d cannot send to rank %d (host %s): the link to rank %d is down",
                         e->rank, r->peer, eng_host(e, r->peer), r->link);
                eng_complete(e, r, TACL_ERR_UNREACHABLE);
            }
            continue;
        }
        size_t len = r->len;
        size_t off = tacl__eng_queue_frags(e, r, l, r->cw_off, 1);
        if (off < len) {
            r->cw_off = off;
            r->cw_next = e->cw_head[dst];
            e->cw_head[dst] = r;
            if (!e->cw_tail[dst]) e->cw_tail[dst] = r;
            return;
        }
    }
}

tacl_status_t tacl__engine_set_routes(tacl__engine_t *e, const int *next_hop)
{
    for (int d = 0; d < e->size; d++) {
        int h = next_hop[d];
        if (d == e->rank) continue;
        if (h < -1 || h >= e->size || (h >= 0 && (h == e->rank || !e->links[h])))
            return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_NET,
                             "rank %d: route to rank %d via rank %d is not a direct link", e->rank,
                             d, h);
    }
    for (int d = 0; d < e->size; d++)
        if (d != e->rank) atomic_store(&e->next_hop[d], next_hop[d]);
    return TACL_OK;
}

void tacl__engine_relay_stats(const tacl__engine_t *e, int src, int dst, uint64_t *cur,
                              uint64_t *peak)
{
    if (src >= e->size || dst < 0 || dst >= e->size) src = -1;
    tacl__credit_relay_stats(e->credit, src, dst, cur, peak);
}
