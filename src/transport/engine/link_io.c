/* link_io.c — framing on a link's connections: queued frames written as iovecs ({header,
 * payload}, as far as the connection takes them), and incoming bytes parsed frame by frame (small
 * frames through a staging buffer, large payloads straight into their destination), each header
 * judged by tacl__frame_check and its payload routed to the match table, a forward, or a control
 * handler. A polled connection whose peer sleeps in epoll gets a WAKE frame on the control
 * connection after bytes moved. */
#include "transport/engine/engine_int.h"

#include "clock.h"
#include "log.h"
#include "transport/engine/frame.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>

void tacl__eng_enqueue(tacl__eng_conn_t *c, tacl__eng_tx_t *t)
{
    t->next = NULL;
    if (c->txt)
        c->txt->next = t;
    else
        c->txh = t;
    c->txt = t;
}

void tacl__eng_tx_free(tacl__engine_t *e, tacl__eng_tx_t *t)
{
    if (t->relayed && e) tacl__credit_relay_release(e->credit, t->hdr.src, t->hdr.dst, t->hdr.len);
    if (t->owned_cap && e)
        tacl__eng_buf_put(e, t->owned, t->owned_cap);
    else
        free(t->owned);
    free(t);
}

void tacl__eng_conn_close(tacl__engine_t *e, tacl__eng_conn_t *c)
{
    if (!c) return;
    while (c->txh) {
        tacl__eng_tx_t *t = c->txh;
        c->txh = t->next;
        tacl__eng_tx_free(e, t);
    }
    c->txt = NULL;
    if (c->fwd) {
        tacl__eng_tx_free(e, c->fwd);
        c->fwd = NULL;
    }
    if (c->impl) c->ops->close(c->impl);
    c->impl = NULL;
    free(c->stage);
    c->stage = NULL;
}

static void eng_arm_out(tacl__engine_t *e, tacl__eng_conn_t *c, int on)
{
    if (c->fd < 0 || c->out_armed == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(e->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->out_armed = on;
}

static void eng_wake_peer(tacl__engine_t *e, tacl__eng_link_t *l)
{
    if (l->state != ENG_LINK_UP || !l->over || !l->over->impl || !l->over->ops->peer_sleeping ||
        !l->over->ops->peer_sleeping(l->over->impl))
        return;
    tacl__eng_conn_t *c = l->tcp[0];
    if (c->txh) return; /* something is on its way there already */
    tacl__eng_tx_t *t = calloc(1, sizeof *t);
    if (!t) return;
    t->hdr = (tacl__frame_hdr_t){
        .magic = TACL_FRAME_MAGIC, .kind = TACL_FRAME_WAKE, .src = e->rank, .dst = l->peer};
    tacl__eng_enqueue(c, t);
    tacl__eng_flush(e, c);
}

void tacl__eng_flush(tacl__engine_t *e, tacl__eng_conn_t *c)
{
    tacl__eng_link_t *l = c->link;
    size_t wrote = 0;
    if (!c->impl && !l->wired && c->txh) tacl__eng_need(e, l); /* made when first needed */
    while (c->txh && c->impl) {
        struct iovec iov[ENG_MAX_IOV];
        int n = 0;
        for (tacl__eng_tx_t *t = c->txh; t && n + 2 <= ENG_MAX_IOV; t = t->next) {
            size_t off = t->done;
            if (off < sizeof t->hdr) {
                iov[n].iov_base = (char *)&t->hdr + off;
                iov[n++].iov_len = sizeof t->hdr - off;
                off = 0;
            } else {
                off -= sizeof t->hdr;
            }
            if (t->hdr.len > off) {
                iov[n].iov_base = (void *)(t->payload + off);
                iov[n++].iov_len = t->hdr.len - off;
            }
        }
        ssize_t w = c->ops->writev(c->impl, iov, n);
        if (w < 0) {
            char how[160];
            snprintf(how, sizeof how, "send to rank %d failed: %s", l->peer,
                     errno ? strerror(errno) : "connection closed");
            tacl__eng_link_down(e, l, ENG_LINK_DEAD, how);
            return;
        }
        if (w == 0) break;
        wrote += (size_t)w;
        size_t left = (size_t)w;
        while (left && c->txh) {
            tacl__eng_tx_t *t = c->txh;
            size_t need = sizeof t->hdr + t->hdr.len - t->done;
            if (left < need) {
                t->done += left;
                break;
            }
            left -= need;
            c->txh = t->next;
            if (!c->txh) c->txt = NULL;
            if (t->req && --t->req->frames_left == 0) eng_complete(e, t->req, TACL_OK);
            tacl__eng_tx_free(e, t);
        }
    }
    if (wrote) {
        l->last_tx = tacl__now_ns();
        if (c == l->over) eng_wake_peer(e, l);
    }
    if (c->impl) eng_arm_out(e, c, c->txh != NULL);
}

static int eng_data_conns(tacl__eng_link_t *l, tacl__eng_conn_t ***out)
{
    if (l->over) {
        *out = &l->over;
        return 1;
    }
    *out = l->tcp;
    return l->ntcp;
}

tacl__eng_conn_t *tacl__eng_pick_conn(tacl__eng_link_t *l)
{
    tacl__eng_conn_t **dc;
    int n = eng_data_conns(l, &dc);
    return dc[l->rr++ % (unsigned)n];
}

/* A complete header is in c->hdr: choose where the payload goes. 0 when the link went down. */
static int eng_on_header(tacl__engine_t *e, tacl__eng_conn_t *c)
{
    tacl__frame_hdr_t *h = &c->hdr;
    const char *bad = NULL;
    c->tgt = ENG_TGT_DISCARD;
    c->msg = NULL;
    switch (tacl__frame_check(h, e->rank, e->size, c->link->peer, &bad)) {
    case TACL_FRAME_RELAY: {
        tacl__eng_tx_t *t = NULL;
        c->link->last_data = e->loop_now;
        if (!tacl__credit_relay_hold(e->credit, h->src, h->dst, h->len)) {
            /* Only senders with a larger window than ours, or more flows than the cap was sized
             * for, get here: the operation ends at its deadline on rank dst. Logged at the 1st,
             * 2nd, 4th, 8th... drop so that a stream of them cannot flood the log. */
            uint64_t nd = tacl__credit_relay_dropped(e->credit);
            if (!(nd & (nd - 1)))
                TACL_WARN(TACL_SUB_NET,
                          "rank %d: relay buffer full (%llu of TACL_RELAY_MAX_BYTES=%zu bytes "
                          "held): dropped a %u-byte fragment of the flow from rank %d to rank %d "
                          "(%llu fragments dropped so far)",
                          e->rank, (unsigned long long)tacl__credit_relay_total(e->credit),
                          tacl__credit_relay_cap(e->credit), h->len, h->src, h->dst,
                          (unsigned long long)nd);
            if (h->len) tacl__eng_credit_send(e, h->dst, h->src, h->len, c->link);
        } else if ((t = calloc(1, sizeof *t)) &&
                   (t->owned = tacl__eng_buf_get(e, h->len, &t->owned_cap))) {
            t->hdr = *h;
            t->payload = t->owned;
            t->relayed = 1;
            c->fwd = t;
            c->tgt = ENG_TGT_FWD;
        } else {
            tacl__credit_relay_release(e->credit, h->src, h->dst, h->len);
            if (h->len) tacl__eng_credit_send(e, h->dst, h->src, h->len, c->link);
            /* Dropped: the operation it belongs to ends at its deadline on rank dst. */
            TACL_WARN(TACL_SUB_NET,
                      "rank %d: out of memory for a %u-byte fragment from rank %d to rank %d "
                      "(relayed here); dropped it",
                      e->rank, h->len, h->src, h->dst);
            free(t);
        }
        break;
    }
    case TACL_FRAME_LOCAL:
        c->link->last_data = e->loop_now;
        if ((c->msg = tacl__eng_msg_arrive(e, h))) c->tgt = ENG_TGT_MSG;
        break;
    case TACL_FRAME_CTRL:
    case TACL_FRAME_SETUP:
        c->tgt = ENG_TGT_CTRL;
        break;
    case TACL_FRAME_CMA:
        c->link->last_data = e->loop_now;
        if (h->kind == TACL_FRAME_CMA_RTS)
            tacl__eng_cma_rts(e, c->link, h);
        else
            tacl__eng_cma_fin(e, c->link, h);
        break;
    case TACL_FRAME_GRANT:
        tacl__eng_credit_arrive(e, h);
        break;
    case TACL_FRAME_IDLE:
        /* Asked: the peer watches this link, so it is watched here too (liveness.c). */
        if (h->kind == TACL_FRAME_HEARTBEAT && (h->flags & TACL_FRAME_ASK))
            c->link->asked_rx = e->loop_now;
        break;
    case TACL_FRAME_BAD:
        break;
    }
    if (bad) {
        char how[160];
        snprintf(how, sizeof how, "protocol error from rank %d: %s", c->link->peer, bad);
        tacl__eng_link_down(e, c->link, ENG_LINK_DEAD, how);
        return 0;
    }
    c->pay_left = h->len;
    return 1;
}

static void eng_on_frame(tacl__engine_t *e, tacl__eng_conn_t *c)
{
    /* A routed fragment has left the relays: its sender may send that much more (once the
     * fragment is consumed here, as the credit's send may take the link down). */
    int credit = c->hdr.kind == TACL_FRAME_DATA && c->hdr.dst == e->rank && c->hdr.hops;
    switch (c->tgt) {
    case ENG_TGT_MSG:
        c->msg->got += c->hdr.len;
        if (c->msg->got == c->msg->total) tacl__eng_msg_done(e, c->msg);
        break;
    case ENG_TGT_FWD: {
        tacl__eng_tx_t *t = c->fwd;
        c->fwd = NULL;
        tacl__eng_forward(e, t);
        break;
    }
    case ENG_TGT_CTRL:
        if (c->hdr.kind == TACL_FRAME_LINK)
            tacl__eng_over_frame(e, c);
        else
            tacl__eng_ctrl_frame(e, c);
        break;
    default:
        break;
    }
    c->msg = NULL;
    if (credit && c->hdr.len) tacl__eng_credit_send(e, e->rank, c->hdr.src, c->hdr.len, c->link);
}

static uint8_t *eng_rx_dest(tacl__eng_conn_t *c)
{
    size_t at = c->hdr.len - c->pay_left;
    switch (c->tgt) {
    case ENG_TGT_MSG:
        return c->msg->dest ? c->msg->dest + c->hdr.offset + at : NULL;
    case ENG_TGT_FWD:
        return c->fwd->owned + at;
    case ENG_TGT_CTRL:
        return (uint8_t *)c->ctrl + at;
    default:
        return NULL;
    }
}

/* Reads what c has (up to a budget), frame by frame. 1 when bytes came. */
int tacl__eng_read(tacl__engine_t *e, tacl__eng_conn_t *c)
{
    tacl__eng_link_t *l = c->link;
    size_t total = 0;
    /* Bytes already in the staging buffer are always parsed: epoll only reports the socket, so
     * staged bytes left behind would wait for the next packet, possibly forever. */
    while (c->impl && l->state == ENG_LINK_UP &&
           (total < ENG_READ_BUDGET || c->st_off < c->st_len)) {
        ssize_t n;
        size_t avail = c->st_len - c->st_off;
        if (c->rx_state == ENG_RX_HDR) {
            size_t need = sizeof c->hdr - c->hdr_got;
            if (avail) {
                size_t k = avail < need ? avail : need;
                memcpy((char *)&c->hdr + c->hdr_got, c->stage + c->st_off, k);
                c->st_off += k;
                c->hdr_got += k;
            } else {
                n = c->stage ? c->ops->read(c->impl, c->stage, ENG_STAGE_BYTES)
                             : c->ops->read(c->impl, (char *)&c->hdr + c->hdr_got, need);
                if (n <= 0) goto out_n;
                total += (size_t)n;
                if (c->stage) {
                    c->st_off = 0;
                    c->st_len = (size_t)n;
                } else {
                    c->hdr_got += (size_t)n;
                }
            }
            if (c->hdr_got == sizeof c->hdr) {
                c->hdr_got = 0;
                if (!eng_on_header(e, c)) return 1;
                c->rx_state = ENG_RX_PAY;
            }
        } else {
            uint8_t *d = eng_rx_dest(c);
            if (avail) {
                size_t k = avail < c->pay_left ? avail : c->pay_left;
                if (d) memcpy(d, c->stage + c->st_off, k);
                c->st_off += k;
                c->pay_left -= k;
            } else if (!c->stage || c->pay_left >= c->ops->direct_min) {
                size_t want = c->pay_left;
                if (!d && want > ENG_SCRATCH_BYTES) want = ENG_SCRATCH_BYTES;
                n = c->ops->read(c->impl, d ? d : e->scratch, want);
                if (n <= 0) goto out_n;
                total += (size_t)n;
                c->pay_left -= (size_t)n;
            } else {
                n = c->ops->read(c->impl, c->stage, ENG_STAGE_BYTES);
                if (n <= 0) goto out_n;
                total += (size_t)n;
                c->st_off = 0;
                c->st_len = (size_t)n;
            }
        }
        if (c->rx_state == ENG_RX_PAY && c->pay_left == 0) {
            c->rx_state = ENG_RX_HDR;
            eng_on_frame(e, c);
        }
        continue;
    out_n:
        if (n < 0) {
            char how[160];
            snprintf(how, sizeof how, "connection %s",
                     errno ? strerror(errno) : "closed by the peer (EOF)");
            tacl__eng_link_down(e, l, ENG_LINK_DEAD, how);
        }
        break;
    }
    if (total) {
        l->last_rx = tacl__now_ns();
        if (c == l->over) eng_wake_peer(e, l); /* it may be waiting for ring space */
    }
    return total > 0;
}
