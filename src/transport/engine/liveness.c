/* liveness.c — peers' liveness. EOF or reset = the peer is dead. Silence = the link is cut, but
 * only where silence is evidence: a link is watched while requests use it or it carried data
 * lately (ENG_USE_BEATS), and only watched links carry heartbeats (asking the peer to answer) and
 * are judged by their silence, so liveness traffic grows with the links in use, not with the
 * square of the world. Silence is counted without the gaps in which our own progress thread did
 * not run (progress.c). A peer of this host (same pid namespace) is judged by the kernel, not by
 * its silence: it is stalled when /proc shows its process stopped, and a silent peer that is
 * merely starved of CPU is left alone. Besides the links in use, each rank looks after the next
 * rank of its host (in /proc) and watches the next rank of another host (heartbeats), so a
 * stalled rank is found even where no traffic flows, at a cost linear in the world.
 * Deaths and cuts reach every rank as DEAD and CUT frames along the notice tree (pairs.c) and
 * are kept in the tables that waits and tacl__engine_peer_alive read from any thread; a link
 * still without a connection (connect.c) is judged by its dial, not by silence, and a peer of
 * this host without one whose process is gone from /proc is dead; a cut is logged as a warning
 * by the rank that saw it, and only at info level by the ranks it is reported to. */
#include "transport/engine/engine_int.h"

#include "clock.h"
#include "log.h"
#include "proc.h"

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

/* Notices travel along the notice tree (pairs.c), whose links are made at create; where a
 * neighbour in it is gone, over every connected link as well, so the news still crosses. */
static int eng_notice_to(tacl__engine_t *e, int p)
{
    tacl__eng_link_t *l = e->links[p];
    if (!l || l->state != ENG_LINK_UP) return 0;
    int broken = 0;
    for (int k = 0; k < e->ntree; k++) {
        int q = e->tree_nb[k];
        if (q == p) return 1;
        broken |= !e->links[q] || e->links[q]->state != ENG_LINK_UP || atomic_load(&e->dead[q]);
    }
    return broken && l->wired;
}

static void eng_flood(tacl__engine_t *e, int kind, int src, uint64_t a, uint64_t b,
                      const char *text, int except)
{
    for (int p = 0; p < e->size; p++)
        if (p != except && eng_notice_to(e, p))
            eng_send_ctrl(e, e->links[p], kind, src, a, b, text);
}

/* r is dead (how says why), reported by reporter over our link to from. */
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
    /* Along the tree: a notice costs a frame per link of the tree, not one per pair, also when
     * every rank leaves at once. */
    for (int p = 0; p < e->size; p++)
        if (p != from && p != r && eng_notice_to(e, p))
            eng_send_ctrl(e, e->links[p], TACL_FRAME_DEAD, reporter, (uint64_t)r, 0, how);
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
    if (a == e->rank || b == e->rank)
        TACL_WARN(TACL_SUB_NET, "rank %d: link %d-%d cut: %s", e->rank, a, b, how);
    else
        TACL_INFO(TACL_SUB_NET, "rank %d: link %d-%d cut: %s", e->rank, a, b, how);
    eng_flood(e, TACL_FRAME_CUT, e->rank, (uint64_t)a, (uint64_t)b, how, from);
    e->completed = 1;
}

/* The link is unusable; state says whether the peer died (EOF, reset) or only the link is cut
 * (silence). Queued frames are dropped: their requests stay incomplete and their waits fail
 * naming the peer. A cut link keeps its sockets open (unused) so that the peer does not read
 * our close as our death. */
void tacl__eng_link_down(tacl__engine_t *e, tacl__eng_link_t *l, int state, const char *how)
{
    if (l->state != ENG_LINK_UP || l->draining) return;
    tacl__eng_conn_t *all[ENG_LINK_CONNS + 1];
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

static void eng_cut_silent(tacl__engine_t *e, tacl__eng_link_t *l, uint64_t silence,
                           const char *state)
{
    char how[200];
    snprintf(how, sizeof how, "no traffic from rank %d for %.1f s (heartbeat %.1f s)%s", l->peer,
             (double)silence * 1e-9, e->hb, state);
    tacl__eng_link_down(e, l, ENG_LINK_CUT, how);
}

/* A peer of this host: 1 (and the link cut) when its process has been seen stopped for
 * ENG_STALL_BEATS heartbeats; looked at once per heartbeat at most. Silence alone is no evidence
 * here: a process starved of CPU is silent too. A process that is gone shows as EOF. */
static int eng_check_local(tacl__engine_t *e, tacl__eng_link_t *l, uint64_t now, uint64_t hb,
                           int at_once)
{
    if (!at_once && now - l->last_check < hb) return 0;
    l->last_check = now;
    char st = tacl__proc_state(e->pids[l->peer]);
    if (!st && !l->wired) {
        /* Gone, and no connection of ours will show its close. */
        tacl__eng_link_down(e, l, ENG_LINK_DEAD, "its process is gone");
        return 1;
    }
    if (st != 'T' && st != 't') {
        l->stopped_since = 0;
        return 0;
    }
    if (!l->stopped_since) l->stopped_since = now;
    if (!at_once && now - l->stopped_since < (uint64_t)(ENG_STALL_BEATS * hb)) return 0;
    eng_cut_silent(e, l, now - l->last_rx, ", and its process is stopped");
    return 1;
}

/* Another rank cut its link to x for silence. A peer of this host is checked in /proc at once.
 * Another is stalled (a stopped process, not a cut wire) when our own watched link to it has been
 * silent for ENG_STALL_BEATS too, and our link is cut now, before the notice is recorded, so that
 * whoever sees the notice also sees x stalled; when we have not watched that link lately, we
 * watch it now (a probe) and our own silence rule decides. */
static void eng_confirm_silence(tacl__engine_t *e, int x)
{
    if (x < 0 || x >= e->size || x == e->rank || !e->links[x]) return;
    tacl__eng_link_t *l = e->links[x];
    if (l->state != ENG_LINK_UP) return;
    uint64_t now = tacl__now_ns(), hb = (uint64_t)(e->hb * 1e9);
    if (e->local[x]) {
        eng_check_local(e, l, now, hb, 1);
        return;
    }
    uint64_t from = l->last_rx > l->watch_since ? l->last_rx : l->watch_since;
    if (l->wired && l->watch_since && now - from > (uint64_t)(ENG_STALL_BEATS * hb)) {
        eng_cut_silent(e, l, now - from, "");
        return;
    }
    l->probe_until = now + (uint64_t)((ENG_CUT_BEATS + 1) * hb);
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

static void eng_heartbeat(tacl__engine_t *e, tacl__eng_link_t *l, int ask)
{
    tacl__eng_conn_t *c = eng_ctrl_conn(l);
    tacl__eng_tx_t *t = calloc(1, sizeof *t);
    if (!t) return;
    t->hdr = (tacl__frame_hdr_t){.magic = TACL_FRAME_MAGIC,
                                 .kind = TACL_FRAME_HEARTBEAT,
                                 .flags = ask ? TACL_FRAME_ASK : 0,
                                 .src = e->rank,
                                 .dst = l->peer};
    tacl__eng_enqueue(c, t);
    tacl__eng_flush(e, c);
}

/* The next rank of this host after this one (in rank order, around) that is not known dead or
 * stalled here: each rank looks after that one, once per heartbeat, unless it heard from it. */
static void eng_watch_host(tacl__engine_t *e, uint64_t now, uint64_t hb)
{
    if (now - e->host_check < hb) return;
    e->host_check = now;
    for (int k = 1; k < e->size; k++) {
        int p = (e->rank + k) % e->size;
        tacl__eng_link_t *l = e->links[p];
        if (!e->local[p] || !l || l->state != ENG_LINK_UP || atomic_load(&e->dead[p])) continue;
        if (now - l->last_rx > hb) eng_check_local(e, l, now, hb, 0);
        return;
    }
}

void tacl__eng_tick(tacl__engine_t *e)
{
    uint64_t now = tacl__now_ns(), hb = (uint64_t)(e->hb * 1e9);
    int n = e->size;
    /* The links the pending requests need: the peer's own, or the first hop towards it. */
    memset(e->use, 0, (size_t)n);
    for (int d = 0; d < n; d++) {
        if (!e->pending[d]) continue;
        int h = e->links[d] ? d : atomic_load(&e->next_hop[d]);
        if (h >= 0 && h < n) e->use[h] = 1;
    }
    /* Besides, each rank watches the next rank of another host (in rank order, around) that it
     * has a live link to: a stalled rank is found even where no traffic flows, at the cost of one
     * watched link per rank (ranks of this host: eng_watch_host). */
    for (int k = 1; k < n; k++) {
        int p = (e->rank + k) % n;
        tacl__eng_link_t *l = e->links[p];
        if (e->local[p] || !l || l->state != ENG_LINK_UP || atomic_load(&e->dead[p])) continue;
        e->use[p] = 1;
        break;
    }
    for (int p = 0; p < n; p++) {
        tacl__eng_link_t *l = e->links[p];
        if (!l || l->state != ENG_LINK_UP) continue;
        /* A link a request waits on gets its connection even when this rank only receives: a
         * peer that cannot be reached is then known now, not at the request's deadline. */
        if (e->use[p] && !l->wired) tacl__eng_need(e, l);
        tacl__eng_dial_expired(e, l, now);
        if (l->state != ENG_LINK_UP) continue;
        int watched = e->use[p] || now - l->last_data < (uint64_t)(ENG_USE_BEATS * hb) ||
                      now < l->probe_until;
        if (!watched) {
            l->watch_since = 0;
        } else if (!l->watch_since) {
            l->watch_since = now;
        }
        if (e->local[p]) {
            /* Judged by the kernel's account of its process, not by heartbeats. */
            if (watched && now - l->last_rx > (uint64_t)(ENG_CUT_BEATS * hb))
                eng_check_local(e, l, now, hb, 0);
            continue;
        }
        int asked = l->asked_rx && now - l->asked_rx < (uint64_t)(ENG_CUT_BEATS * hb);
        if ((watched || asked) && now - l->last_tx >= hb) eng_heartbeat(e, l, watched);
        /* Silence counts once a connection is made (a heartbeat asks for it). */
        if (!watched || l->state != ENG_LINK_UP || !l->wired) continue;
        uint64_t from = l->last_rx > l->watch_since ? l->last_rx : l->watch_since;
        if (now - from > (uint64_t)(ENG_CUT_BEATS * hb)) eng_cut_silent(e, l, now - from, "");
    }
    eng_watch_host(e, now, hb);
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
