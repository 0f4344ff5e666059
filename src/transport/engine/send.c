/* send.c — the progress thread's side of sends: to itself, straight to a neighbour (fragments
 * striped over the link's data connections), routed (as the flow's credit allows), or single-copy
 * (cma.c); and the cancellation of a request whose wait has ended. */
#include "transport/engine/engine_int.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void eng_self_send(tacl__engine_t *e, tacl__req_t *r)
{
    tacl__frame_hdr_t h = {.magic = TACL_FRAME_MAGIC,
                           .kind = TACL_FRAME_DATA,
                           .src = e->rank,
                           .dst = e->rank,
                           .len = (uint32_t)r->len,
                           .comm_id = r->key.comm_id,
                           .tag = r->key.tag,
                           .seq = r->key.seq,
                           .total = r->len,
                           .flags = r->has_fp ? TACL_FRAME_HAS_FP : 0,
                           .fp = r->fp};
    tacl__eng_msg_t *m = tacl__eng_msg_arrive(e, &h);
    if (!m) {
        snprintf(r->msg, sizeof r->msg, "rank %d: send to itself failed (out of memory)", e->rank);
        eng_complete(e, r, TACL_ERR_NOMEM);
        return;
    }
    if (m->dest && r->len) memcpy(m->dest, r->buf, r->len);
    m->got = m->total;
    tacl__eng_msg_done(e, m);
    eng_complete(e, r, TACL_OK);
}

/* Queues r's DATA fragments from byte off on link l; routed: only while the flow's credit
 * allows. Returns the first byte not queued (r->len when all are). */
size_t tacl__eng_queue_frags(tacl__engine_t *e, tacl__req_t *r, tacl__eng_link_t *l, size_t off,
                             int routed)
{
    tacl__eng_conn_t *touched[ENG_LINK_CONNS + 1];
    int nt = 0;
    l->last_data = e->loop_now;
    do {
        size_t len = r->len - off < e->frag ? r->len - off : e->frag;
        if (routed && !tacl__credit_take(e->credit, r->peer, len)) break;
        tacl__eng_tx_t *t = calloc(1, sizeof *t);
        if (!t) {
            /* Frames already queued will be written; this request can only fail. */
            if (routed) tacl__credit_give(e->credit, r->peer, len);
            r->frames_left = UINT32_MAX;
            snprintf(r->msg, sizeof r->msg, "rank %d: out of memory sending to rank %d", e->rank,
                     r->peer);
            off = r->len;
            break;
        }
        t->hdr = (tacl__frame_hdr_t){.magic = TACL_FRAME_MAGIC,
                                     .kind = TACL_FRAME_DATA,
                                     .flags = r->has_fp ? TACL_FRAME_HAS_FP : 0,
                                     .src = e->rank,
                                     .dst = r->peer,
                                     .len = (uint32_t)len,
                                     .comm_id = r->key.comm_id,
                                     .tag = r->key.tag,
                                     .seq = r->key.seq,
                                     .total = r->len,
                                     .offset = off,
                                     .fp = r->fp};
        t->payload = r->buf + off;
        t->req = r;
        tacl__eng_conn_t *c = tacl__eng_pick_conn(l);
        tacl__eng_enqueue(c, t);
        int seen = 0;
        for (int k = 0; k < nt; k++)
            seen |= touched[k] == c;
        if (!seen) touched[nt++] = c;
        off += len;
    } while (off < r->len);
    for (int k = 0; k < nt; k++)
        tacl__eng_flush(e, touched[k]);
    return off;
}

void tacl__eng_submit_send(tacl__engine_t *e, tacl__req_t *r)
{
    if (r->peer == e->rank) {
        eng_self_send(e, r);
        return;
    }
    tacl__eng_link_t *l = e->links[r->link];
    if (!l || l->state != ENG_LINK_UP) {
        snprintf(r->msg, sizeof r->msg,
                 "rank %d cannot send to rank %d (host %s): the link to rank %d is down", e->rank,
                 r->peer, eng_host(e, r->peer), r->link);
        eng_complete(e, r, r->link == r->peer ? TACL_ERR_PEER_LOST : TACL_ERR_UNREACHABLE);
        return;
    }
    /* The pair's faster link type opens on its first send; direct sends wait for it. */
    if (tacl__eng_over_want(e, l, r->link == r->peer ? r : NULL)) return;
    if (tacl__eng_cma_send(e, l, r)) return;
    size_t nf = r->len ? (r->len + e->frag - 1) / e->frag : 1;
    r->frames_left = (uint32_t)nf;
    if (r->link != r->peer) {
        /* Routed: the fragments leave as the flow's credit allows (credit.h). */
        r->cw_off = 0;
        r->cw_next = NULL;
        if (e->cw_tail[r->peer])
            e->cw_tail[r->peer]->cw_next = r;
        else
            e->cw_head[r->peer] = r;
        e->cw_tail[r->peer] = r;
        tacl__eng_flow_resume(e, r->peer);
        return;
    }
    tacl__eng_queue_frags(e, r, l, 0, 0);
}

void tacl__eng_cancel(tacl__engine_t *e, tacl__req_t *r)
{
    if (atomic_load(&r->done)) goto out;
    if (!r->is_send) {
        tacl__eng_msg_t *m = tacl__eng_msg_find(e, r->peer, &r->key);
        if (m && m->req == r) {
            m->req = NULL;
            if (!m->have_hdr) {
                tacl__eng_msg_free(e, m);
            } else {
                /* Fragments still due are dropped; a connection in the middle of one reads
                 * its destination from m->dest at every step, so this is safe. */
                m->dest = NULL;
                tacl__eng_buf_put(e, m->own, m->own_cap);
                m->own = NULL;
            }
        }
    } else if (r->peer != e->rank && e->links[r->link]) {
        tacl__eng_link_t *l = e->links[r->link];
        int routed = r->link != r->peer;
        for (tacl__req_t **pp = &e->cw_head[r->peer], *prev = NULL; routed && *pp;
             prev = *pp, pp = &(*pp)->cw_next)
            if (*pp == r) { /* still waiting for credit: the rest is never sent */
                *pp = r->cw_next;
                if (e->cw_tail[r->peer] == r) e->cw_tail[r->peer] = prev;
                break;
            }
        tacl__eng_over_unpark(l, r); /* still waiting for its link to open: never sent */
        for (tacl__req_t **pp = &l->cma_pending; *pp; pp = &(*pp)->cma_next)
            if (*pp == r) {
                /* A reader may still copy from the buffer; it only gets the bytes wrong. */
                *pp = r->cma_next;
                break;
            }
        tacl__eng_conn_t *all[ENG_LINK_CONNS + 1];
        int n = 0;
        for (int i = 0; i < l->ntcp; i++)
            all[n++] = l->tcp[i];
        if (l->over) all[n++] = l->over;
        for (int i = 0; i < n; i++) {
            tacl__eng_conn_t *c = all[i];
            tacl__eng_tx_t **pp = &c->txh, *prev = NULL;
            while (*pp) {
                tacl__eng_tx_t *t = *pp;
                if (t->req != r) {
                    prev = t;
                    pp = &t->next;
                    continue;
                }
                if (t->done > 0 && t->hdr.len) {
                    /* Half written: the stream must still carry the rest of it. */
                    t->owned = malloc(t->hdr.len);
                    if (t->owned) memcpy(t->owned, t->payload, t->hdr.len);
                    t->payload = t->owned ? t->owned : e->scratch;
                    t->req = NULL;
                    prev = t;
                    pp = &t->next;
                    continue;
                }
                t->req = NULL;
                if (t->done > 0) {
                    prev = t;
                    pp = &t->next;
                    continue;
                }
                *pp = t->next;
                if (c->txt == t) c->txt = prev;
                if (routed) tacl__credit_give(e->credit, r->peer, t->hdr.len); /* never sent */
                free(t);
            }
        }
    }
    if (r->counted) { /* never completed: its peer is no longer waited for */
        r->counted = 0;
        e->pending[r->peer]--;
    }
out:
    atomic_store_explicit(&r->cancelled, 1, memory_order_release);
    e->completed = 1;
}
