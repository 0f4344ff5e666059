/* liveness.c — peers' liveness: heartbeats on idle links, EOF or reset = the peer is dead,
 * silence = the link is cut; both flooded to every rank as DEAD and CUT frames, and kept in the
 * tables that waits and tacl__engine_peer_alive read from any thread. */
#include "transport/engine/engine_int.h"

#include "clock.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

static void eng_send_ctrl(tacl__engine_t *e, tacl__eng_link_t *l, int kind, int src, uint64_t a,
                          uint64_t b, const char *text)
{
    if (l->state != ENG_LINK_UP) return;
    tacl__eng_conn_t *c = eng_ctrl_conn(l);
    tacl__eng_tx_t *t = calloc(1, sizeof *t);
    size_t n = text ? strlen(text) : 0;
    if (n > 255) n = 255;
    if (!t || (n && !(t->owned = malloc(n)))) {
        free(t);
        return;
    }
    if (n) memcpy(t->owned, text, n);
    t->payload = t->owned;
    t->hdr = (tacl__frame_hdr_t){.magic = TACL_FRAME_MAGIC,
                                 .kind = (uint16_t)kind,
                                 .src = src,
                                 .dst = -1,
                                 .len = (uint32_t)n,
                                 .tag = a,
                                 .seq = b};
    tacl__eng_enqueue(c, t);
    tacl__eng_flush(e, c);
}

static void eng_flood(tacl__engine_t *e, int kind, int src, uint64_t a, uint64_t b,
                      const char *text, int except)
{
    for (int p = 0; p < e->size; p++)
        if (e->links[p] && p != except) eng_send_ctrl(e, e->links[p], kind, src, a, b, text);
}

static void eng_mark_dead(tacl__engine_t *e, int r, int reporter, const char *how, int from)
{
    if (r < 0 || r >= e->size || r == e->rank) return;
    pthread_mutex_lock(&e->live_mu);
    if (atomic_load(&e->dead[r])) {
        pthread_mutex_unlock(&e->live_mu);
        return;
    }
    snprintf(e->dead_how[r], sizeof e->dead_how[r], "%s", how);
    atomic_store(&e->dead[r], 1);
    atomic_fetch_add(&e->live_gen, 1);
    pthread_mutex_unlock(&e->live_mu);
    TACL_INFO(TACL_SUB_NET, "rank %d: rank %d (host %s) lost: %s", e->rank, r, eng_host(e, r), how);
    eng_flood(e, TACL_FRAME_DEAD, reporter, (uint64_t)r, 0, how, from);
    e->completed = 1; /* wake waiters so that they see it */
}

static void eng_mark_cut(tacl__engine_t *e, int a, int b, const char *how, int from)
{
    if (a < 0 || b < 0 || a >= e->size || b >= e->size || a == b) return;
    pthread_mutex_lock(&e->live_mu);
    if (atomic_load(&e->cut[a * e->size + b])) {
        pthread_mutex_unlock(&e->live_mu);
        return;
    }
    if (a > b) {
        int t = a;
        a = b;
        b = t;
    }
    snprintf(e->cut_how, sizeof e->cut_how, "link %d (host %.40s) - %d (host %.40s) cut: %s", a,
             eng_host(e, a), b, eng_host(e, b), how);
    e->cut_a = a;
    e->cut_b = b;
    atomic_fetch_add(&e->cut_gen, 1);
    atomic_store(&e->cut[a * e->size + b], 1);
    atomic_store(&e->cut[b * e->size + a], 1);
    atomic_fetch_add(&e->live_gen, 1);
    pthread_mutex_unlock(&e->live_mu);
    TACL_WARN(TACL_SUB_NET, "rank %d: link %d-%d cut: %s", e->rank, a, b, how);
    eng_flood(e, TACL_FRAME_CUT, e->rank, (uint64_t)a, (uint64_t)b, how, from);
    e->completed = 1;
}

void tacl__eng_link_down(tacl__engine_t *e, tacl__eng_link_t *l, int state, const char *how)
{
    if (l->state != ENG_LINK_UP || l->draining) return;
    tacl__eng_conn_t *all[TACL_PROBE_MAX_CONNS + 1];
    int n = 0;
    for (int i = 0; i < l->ntcp; i++)
        all[n++] = l->tcp[i];
    if (l->over) all[n++] = l->over;
    if (state == ENG_LINK_DEAD) {
        /* What the peer sent before it went is still delivered: its last message may sit in
         * the shm ring, or on another connection, behind the EOF we saw first. */
        l->draining = 1;
        for (int i = 0; i < n; i++)
            if (all[i]->impl) tacl__eng_read(e, all[i]);
        l->draining = 0;
        if (l->state != ENG_LINK_UP) return;
    }
    l->state = state;
    for (int i = 0; i < n; i++) {
        if (all[i]->fd >= 0) epoll_ctl(e->epfd, EPOLL_CTL_DEL, all[i]->fd, NULL);
        if (state == ENG_LINK_DEAD) {
            tacl__eng_conn_close(e, all[i]);
        } else {
            tacl__eng_tx_t *t;
            while ((t = all[i]->txh)) {
                all[i]->txh = t->next;
                tacl__eng_tx_free(e, t);
            }
            all[i]->txt = NULL;
        }
    }
    char txt[200];
    if (state == ENG_LINK_DEAD) {
        snprintf(txt, sizeof txt, "%s (seen by rank %d)", how, e->rank);
        eng_mark_dead(e, l->peer, e->rank, txt, l->peer);
    } else {
        snprintf(txt, sizeof txt, "%s (seen by rank %d)", how, e->rank);
        eng_mark_cut(e, e->rank, l->peer, txt, l->peer);
    }
}

/* Another rank cut its link to x for silence: when x has been silent on our own link too for
 * ENG_STALL_BEATS, it is stalled (a stopped process, not a cut wire), and our link to it is cut
 * now, before the notice is recorded, so that whoever sees the notice also sees x stalled. */
static void eng_confirm_silence(tacl__engine_t *e, int x)
{
    if (x < 0 || x >= e->size || x == e->rank || !e->links[x]) return;
    tacl__eng_link_t *l = e->links[x];
    uint64_t now = tacl__now_ns(), hb = (uint64_t)(e->hb * 1e9);
    if (l->state != ENG_LINK_UP || now - l->last_rx <= (uint64_t)(ENG_STALL_BEATS * hb)) return;
    char how[160];
    snprintf(how, sizeof how, "no traffic from rank %d for %.1f s (heartbeat %.1f s)", x,
             (double)(now - l->last_rx) * 1e-9, e->hb);
    tacl__eng_link_down(e, l, ENG_LINK_CUT, how);
}

void tacl__eng_ctrl_frame(tacl__engine_t *e, tacl__eng_conn_t *c)
{
    const tacl__frame_hdr_t *h = &c->hdr;
    char text[256];
    memcpy(text, c->ctrl, h->len);
    text[h->len] = '\0';
    if (h->kind == TACL_FRAME_DEAD) {
        eng_mark_dead(e, (int)h->tag, h->src, text, c->link->peer);
    } else {
        eng_confirm_silence(e, (int)h->tag);
        eng_confirm_silence(e, (int)h->seq);
        eng_mark_cut(e, (int)h->tag, (int)h->seq, text, c->link->peer);
    }
}

void tacl__eng_tick(tacl__engine_t *e)
{
    uint64_t now = tacl__now_ns(), hb = (uint64_t)(e->hb * 1e9);
    for (int p = 0; p < e->size; p++) {
        tacl__eng_link_t *l = e->links[p];
        if (!l || l->state != ENG_LINK_UP) continue;
        if (now - l->last_tx >= hb) {
            tacl__eng_conn_t *c = eng_ctrl_conn(l);
            tacl__eng_tx_t *t = calloc(1, sizeof *t);
            if (t) {
                t->hdr = (tacl__frame_hdr_t){.magic = TACL_FRAME_MAGIC,
                                             .kind = TACL_FRAME_HEARTBEAT,
                                             .src = e->rank,
                                             .dst = p};
                tacl__eng_enqueue(c, t);
                tacl__eng_flush(e, c);
            }
        }
        if (l->state == ENG_LINK_UP && now - l->last_rx > (uint64_t)(ENG_CUT_BEATS * hb)) {
            char how[160];
            snprintf(how, sizeof how, "no traffic from rank %d for %.1f s (heartbeat %.1f s)", p,
                     (double)(now - l->last_rx) * 1e-9, e->hb);
            tacl__eng_link_down(e, l, ENG_LINK_CUT, how);
        }
    }
}

/* 1 when a path of live links leads from this rank to r. */
int tacl__eng_live_path(const tacl__engine_t *e, int r)
{
    int n = e->size, head = 0, tail = 0;
    int *queue = malloc(sizeof *queue * (size_t)n);
    uint8_t *seen = calloc((size_t)n, 1);
    int found = 0;
    if (!queue || !seen) {
        free(queue);
        free(seen);
        return 1;
    }
    queue[tail++] = e->rank;
    seen[e->rank] = 1;
    while (head < tail && !found) {
        int u = queue[head++];
        for (int v = 0; v < n; v++) {
            if (seen[v] || !e->reach[u * n + v] || atomic_load(&e->cut[u * n + v]) ||
                atomic_load(&e->dead[v]))
                continue;
            if (v == r) found = 1;
            seen[v] = 1;
            queue[tail++] = v;
        }
    }
    free(queue);
    free(seen);
    return found;
}

int tacl__engine_peer_alive(const tacl__engine_t *e, int rank)
{
    if (rank < 0 || rank >= e->size) return 0;
    if (rank == e->rank) return 1;
    /* Our own link to it cut (silence): stalled, even where a relay could still reach it. */
    if (atomic_load(&e->cut[e->rank * e->size + rank])) return 0;
    return !atomic_load(&e->dead[rank]) && tacl__eng_live_path(e, rank);
}

unsigned tacl__engine_live_gen(const tacl__engine_t *e)
{
    return atomic_load(&e->live_gen);
}
