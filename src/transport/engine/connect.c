/* connect.c — a pair's tcp connections, made when the pair first needs one rather than for
 * every pair at create: sockets and memory per rank grow with the peers it talks to. A link
 * starts with a placeholder connection (no socket) where its first frames queue; the first flush
 * of a queued frame asks the dialer thread (probe.c) for the connections, which arrive with the
 * peer's own dials as events that the progress thread attaches here. Of a pair, the rank the
 * create-time probe found able to connect dials (the lower one where both can); a dial that
 * fails, or a needed link still unconnected after dial_wait_ns, takes the link down: refused or
 * reset = the peer's listener is gone (its process), anything else a cut. */
#include "transport/engine/engine_int.h"

#include "clock.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

tacl__eng_conn_t *tacl__eng_conn_placeholder(tacl__eng_link_t *l)
{
    tacl__eng_conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->ops = &tacl__tcp_ops;
    c->link = l;
    c->fd = -1;
    return c;
}

void tacl__eng_need(tacl__engine_t *e, tacl__eng_link_t *l)
{
    if (l->wired || l->dial_since || l->state != ENG_LINK_UP) return;
    l->dial_since = tacl__now_ns();
    if (e->dial_self[l->peer])
        tacl__probe_dial(e->probe, l->peer, &e->dial_addr[l->peer * TACL_TCP_MAX_ADDRS],
                         e->dial_naddr[l->peer]);
}

static void eng_attach(tacl__engine_t *e, int peer, int fd)
{
    tacl__eng_link_t *l = peer >= 0 && peer < e->size ? e->links[peer] : NULL;
    void *impl = l && l->state != ENG_LINK_DEAD ? tacl__tcp_conn_wrap(fd) : NULL;
    if (!impl) {
        close(fd);
        return;
    }
    if (l->state == ENG_LINK_CUT) {
        /* Came after this rank gave the link up (its dial timed out): kept open and unused,
         * like the link's other sockets, so that the peer does not read a death. */
        tacl__eng_conn_t *c =
            l->ntcp < ENG_LINK_CONNS ? tacl__eng_conn_new(l, &tacl__tcp_ops, impl, fd) : NULL;
        if (c)
            l->tcp[l->ntcp++] = c;
        else
            tacl__tcp_ops.close(impl);
        return;
    }
    tacl__eng_conn_t *c = NULL;
    if (!l->wired) {
        c = l->tcp[0];
        if (c->ops->direct_min && !c->stage && !(c->stage = malloc(ENG_STAGE_BYTES))) c = NULL;
        if (c) {
            c->impl = impl;
            c->fd = fd;
        }
    } else if (l->ntcp < ENG_LINK_CONNS) {
        c = tacl__eng_conn_new(l, &tacl__tcp_ops, impl, fd);
        if (c) l->tcp[l->ntcp++] = c;
    }
    if (!c) {
        tacl__tcp_ops.close(impl); /* a connection more than the link holds, or no memory */
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    c->out_armed = 0;
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        char how[160];
        snprintf(how, sizeof how, "epoll_ctl on its new connection: %s", strerror(errno));
        tacl__eng_link_down(e, l, ENG_LINK_CUT, how);
        return;
    }
    if (!l->wired) {
        l->wired = 1;
        l->last_rx = l->last_tx = tacl__now_ns();
        TACL_DEBUG(TACL_SUB_NET, "rank %d: connected to rank %d (host %s)", e->rank, peer,
                   eng_host(e, peer));
    }
    if (c->txh) tacl__eng_flush(e, c);
    /* Bytes the peer sent at once may already wait (epoll reports them too). */
}

static void eng_dial_failed(tacl__engine_t *e, int peer, const char *why)
{
    tacl__eng_link_t *l = peer >= 0 && peer < e->size ? e->links[peer] : NULL;
    if (!l || l->state != ENG_LINK_UP || l->wired) return; /* the peer's own dial made it */
    /* A connection closed in the handshake: the peer's process ended while answering it, or
     * its acceptor let go of it (flooded). One more dial tells: refused when the process is
     * gone, answered when it is not. */
    int closed = strstr(why, "closed ") != NULL;
    if (closed && !l->redialed) {
        l->redialed = 1;
        tacl__probe_dial(e->probe, peer, &e->dial_addr[peer * TACL_TCP_MAX_ADDRS],
                         e->dial_naddr[peer]);
        return;
    }
    char how[200];
    snprintf(how, sizeof how, "cannot connect to rank %d: %.150s", peer, why);
    /* A refusal or a reset comes from the peer's host: its listener, open for the engine's
     * life, is gone (with the connections waiting in its backlog); so is a peer that closed
     * the handshake twice. */
    int gone = closed || strstr(why, strerror(ECONNREFUSED)) || strstr(why, strerror(ECONNRESET));
    tacl__eng_link_down(e, l, gone ? ENG_LINK_DEAD : ENG_LINK_CUT, how);
}

void tacl__eng_take_conns(tacl__engine_t *e)
{
    tacl__probe_event_t *ev = tacl__probe_collect(e->probe);
    while (ev) {
        tacl__probe_event_t *next = ev->next;
        if (ev->fd >= 0)
            eng_attach(e, ev->peer, ev->fd);
        else
            eng_dial_failed(e, ev->peer, ev->fail);
        free(ev);
        ev = next;
    }
}

void tacl__eng_first_dials(tacl__engine_t *e)
{
    for (int k = 0; k < e->ntree; k++) {
        tacl__eng_link_t *l = e->links[e->tree_nb[k]];
        /* Both may dial a pair that connects either way: the lower rank starts. */
        if (l && e->dial_self[l->peer] && (e->rank < l->peer || e->dial_self[l->peer] == 2))
            tacl__eng_need(e, l);
    }
    /* A pair that connects from this side only: the peer cannot ask for it. */
    for (int p = 0; p < e->size; p++) {
        tacl__eng_link_t *l = e->links[p];
        if (l && e->dial_self[p] == 2) tacl__eng_need(e, l);
    }
}

void tacl__eng_dial_expired(tacl__engine_t *e, tacl__eng_link_t *l, uint64_t now)
{
    if (l->wired || !l->dial_since || l->state != ENG_LINK_UP || now < l->dial_since ||
        now - l->dial_since < e->dial_wait_ns)
        return;
    char how[160];
    snprintf(how, sizeof how, "no connection with rank %d within %.1f s of needing one", l->peer,
             (double)(now - l->dial_since) * 1e-9);
    tacl__eng_link_down(e, l, ENG_LINK_CUT, how);
}
