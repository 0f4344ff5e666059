/* progress.c — the command queue between application threads and the progress thread, and the
 * progress thread itself: epoll over every socket plus an eventfd, polled connections (fd -1)
 * read and written while it spins, a tick for liveness, and waiters signalled when requests
 * complete. Before it blocks, it raises the sleeping flag of every polled connection so that the
 * peers wake it with a frame on the pair's control connection. */
#include "transport/engine/engine_int.h"

#include "clock.h"
#include "log.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static void eng_signal_waiters(tacl__engine_t *e)
{
    if (atomic_load(&e->waiters) > 0) {
        pthread_mutex_lock(&e->done_mu);
        pthread_cond_broadcast(&e->done_cv);
        pthread_mutex_unlock(&e->done_mu);
    }
}

static int eng_drain_cmds(tacl__engine_t *e)
{
    pthread_mutex_lock(&e->qmu);
    tacl__eng_cmd_t *q = e->qh;
    e->qh = e->qt = NULL;
    pthread_mutex_unlock(&e->qmu);
    int any = q != NULL;
    while (q) {
        tacl__eng_cmd_t *next = q->next;
        tacl__req_t *r = q->req;
        if (!q->cancel && r->peer != e->rank) { /* the link to it is watched meanwhile */
            r->counted = 1;
            e->pending[r->peer]++;
        }
        if (q->cancel)
            tacl__eng_cancel(e, q->req);
        else if (q->req->is_send)
            tacl__eng_submit_send(e, q->req);
        else
            tacl__eng_post_recv(e, q->req);
        free(q);
        q = next;
    }
    return any;
}

void tacl__eng_wake(tacl__engine_t *e)
{
    uint64_t one = 1;
    if (write(e->evfd, &one, sizeof one) != sizeof one)
        TACL_DEBUG(TACL_SUB_NET, "eventfd write: %s", strerror(errno));
}

tacl_status_t tacl__eng_push(tacl__engine_t *e, tacl__req_t *r, int cancel)
{
    tacl__eng_cmd_t *c = malloc(sizeof *c);
    if (!c) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    c->next = NULL;
    c->cancel = cancel;
    c->req = r;
    pthread_mutex_lock(&e->qmu);
    if (e->qt)
        e->qt->next = c;
    else
        e->qh = c;
    e->qt = c;
    pthread_mutex_unlock(&e->qmu);
    if (atomic_load(&e->pt_sleeping)) tacl__eng_wake(e);
    return TACL_OK;
}

/* Starts a turn of the loop. After a gap in which this thread did not run (a loaded CPU, or
 * this process stopped), the links' silence is counted without the gap: it is our own. */
static void eng_own_gap(tacl__engine_t *e)
{
    uint64_t now = tacl__now_ns(), gap = e->loop_now ? now - e->loop_now : 0;
    e->loop_now = now;
    if (gap <= ENG_SELF_GAP_NS) return;
    uint64_t lost = gap - ENG_TICK_NS;
    for (int p = 0; p < e->size; p++) {
        tacl__eng_link_t *l = e->links[p];
        if (!l) continue;
        l->last_rx = l->last_rx + lost < now ? l->last_rx + lost : now;
        if (l->watch_since)
            l->watch_since = l->watch_since + lost < now ? l->watch_since + lost : now;
        if (l->dial_since && !l->wired)
            l->dial_since = l->dial_since + lost < now ? l->dial_since + lost : now;
    }
    TACL_DEBUG(TACL_SUB_NET, "rank %d: progress thread did not run for %.2f s", e->rank,
               (double)gap * 1e-9);
}

/* The link's connection that the progress thread polls (no fd: a shm ring), or NULL. */
static tacl__eng_conn_t *eng_polled(tacl__eng_link_t *l)
{
    return l && l->over && l->over->fd < 0 ? l->over : NULL;
}

static int eng_poll_links(tacl__engine_t *e)
{
    int work = 0;
    for (int p = 0; p < e->size; p++) {
        tacl__eng_link_t *l = e->links[p];
        tacl__eng_conn_t *c = eng_polled(l);
        if (!c || l->state != ENG_LINK_UP) continue;
        if (c->ops->readable(c->impl)) work |= tacl__eng_read(e, c);
        if (l->state == ENG_LINK_UP && c->txh && c->ops->writable(c->impl)) {
            tacl__eng_flush(e, c);
            work = 1;
        }
    }
    return work;
}

static void eng_set_sleeping(tacl__engine_t *e, int on)
{
    atomic_store(&e->pt_sleeping, on);
    for (int p = 0; p < e->size; p++) {
        tacl__eng_conn_t *c = eng_polled(e->links[p]);
        if (c && c->impl && c->ops->set_sleeping) c->ops->set_sleeping(c->impl, on);
    }
}

/* Raises the sleeping flags, then looks once more for work that raced with them. */
static int eng_may_sleep(tacl__engine_t *e)
{
    eng_set_sleeping(e, 1);
    atomic_thread_fence(memory_order_seq_cst);
    int busy = 0;
    pthread_mutex_lock(&e->qmu);
    busy = e->qh != NULL;
    pthread_mutex_unlock(&e->qmu);
    for (int p = 0; p < e->size && !busy; p++) {
        tacl__eng_link_t *l = e->links[p];
        tacl__eng_conn_t *c = eng_polled(l);
        if (!c || l->state != ENG_LINK_UP) continue;
        busy = c->ops->readable(c->impl) || (c->txh && c->ops->writable(c->impl));
    }
    if (busy) eng_set_sleeping(e, 0);
    return !busy;
}

void *tacl__eng_progress(void *arg)
{
    tacl__engine_t *e = arg;
    uint64_t last_work = tacl__now_ns(), next_tick = last_work + ENG_TICK_NS;
    struct epoll_event evs[64];
    while (!atomic_load(&e->stop)) {
        if (atomic_exchange(&e->restart_clocks, 0)) {
            /* Every rank's thread runs now: silence counts from here. */
            uint64_t now = tacl__now_ns();
            for (int p = 0; p < e->size; p++)
                if (e->links[p]) e->links[p]->last_rx = e->links[p]->last_tx = now;
            tacl__eng_first_dials(e);
        }
        eng_own_gap(e);
        tacl__eng_take_conns(e);
        int work = eng_drain_cmds(e);
        work |= eng_poll_links(e);
        uint64_t now = tacl__now_ns();
        int timeout = 0;
        if (!work && now - last_work > ENG_SPIN_NS && eng_may_sleep(e)) {
            timeout = next_tick > now ? (int)((next_tick - now) / 1000000) + 1 : 0;
        } else if (!work) {
            /* Spinning: let a runnable thread (our application, a peer's progress thread on an
             * oversubscribed machine) have the core; costs little when nobody else waits. */
            sched_yield();
        }
        int n = epoll_wait(e->epfd, evs, 64, timeout);
        if (timeout) eng_set_sleeping(e, 0);
        for (int i = 0; i < n; i++) {
            tacl__eng_conn_t *c = evs[i].data.ptr;
            work = 1;
            if (!c) {
                uint64_t v;
                if (read(e->evfd, &v, sizeof v) < 0) { /* nothing to do: it only wakes us */
                }
                continue;
            }
            if (!c->impl || c->link->state != ENG_LINK_UP) continue;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) tacl__eng_read(e, c);
            if ((evs[i].events & EPOLLOUT) && c->impl && c->link->state == ENG_LINK_UP)
                tacl__eng_flush(e, c);
        }
        now = tacl__now_ns();
        if (work) last_work = now;
        if (now >= next_tick) {
            tacl__eng_tick(e);
            next_tick = now + ENG_TICK_NS;
        }
        if (e->completed) {
            e->completed = 0;
            eng_signal_waiters(e);
        }
    }
    return NULL;
}
