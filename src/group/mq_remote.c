/* mq_remote.c — the broadcast queue's path to readers on other hosts (see mq.h): frames and
 * payloads from the writer to each remote host's leader over the engine (routed, so a host
 * behind a relay gets every message), acknowledgements back, and the per-host window that
 * makes a slow remote host hold the writer back (and be named) instead of growing buffers. */
#include "group/mq.h"

#include "clock.h"
#include "log.h"
#include "transport/engine.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MQ_TAG_FRAME 1
#define MQ_TAG_BULK  2
#define MQ_TAG_ACK   3
#define MQ_FRAME     1024 /* every message's first part: its length, and the payload if small */
#define MQ_INLINE    (MQ_FRAME - 16)
#define MQ_CLOSED    UINT64_MAX /* a frame's length when the writer closes the queue */
#define MQ_WARN_NS   1000000000ull
#define MQ_REWARN_NS 10000000000ull

typedef struct {
    uint64_t len;
    uint64_t seq;
    char inl[MQ_INLINE];
} mq_frame_t;

_Static_assert(sizeof(mq_frame_t) == MQ_FRAME, "a frame has a fixed size");

typedef struct {
    int wrank, crank;
    char *host;
    uint64_t sent, acked, ack_seq, ack_val, last_ack_ns;
    tacl__req_t *ack_req;
} mq_peer_t;

struct mq_remote {
    tacl__engine_t *e;
    uint64_t id, window;
    int writer;
    int *group, group_size;
    /* Writer. */
    int npeers;
    mq_peer_t *peers;
    tacl__req_t **reqs;
    mq_frame_t frame;
    uint64_t seq, warn_ns;
    /* Leader. */
    mq_frame_t rframe;
    int have_frame, have_bulk;
    char *buf;
    size_t cap;
    uint64_t rseq, released, acked_out, ack_out_seq, ack_out_val;
};

static tacl_status_t remote_post_ack(mq_remote_t *m, mq_peer_t *p, tacl__errbuf_t *eb)
{
    tacl__msg_key_t k = {m->id, MQ_TAG_ACK, p->ack_seq};
    tacl_status_t st =
        tacl__engine_irecv(m->e, p->wrank, &k, NULL, &p->ack_val, sizeof p->ack_val, &p->ack_req);
    return st == TACL_OK ? st : tacl__err_keep(eb, st);
}

/* Takes in an acknowledgement that has arrived (without waiting for one). */
static tacl_status_t remote_poll_ack(mq_remote_t *m, mq_peer_t *p, tacl__errbuf_t *eb)
{
    if (!p->ack_req || !tacl__engine_test(p->ack_req)) return TACL_OK;
    tacl_status_t st = tacl__engine_wait(m->e, &p->ack_req, 1, tacl__now_ns(), NULL, 0, eb);
    p->ack_req = NULL;
    if (st != TACL_OK) return st;
    if (p->ack_val > p->sent || p->ack_val < p->acked)
        return tacl__err(eb, TACL_ERR_PROTOCOL, TACL_SUB_COLL,
                         "message queue: rank %d (host %s) acknowledged %llu messages; %llu were "
                         "sent, %llu acknowledged before",
                         p->crank, p->host, (unsigned long long)p->ack_val,
                         (unsigned long long)p->sent, (unsigned long long)p->acked);
    p->acked = p->ack_val;
    p->last_ack_ns = tacl__now_ns();
    p->ack_seq++;
    return remote_post_ack(m, p, eb);
}

static void remote_nap(uint64_t waited_ns)
{
    if (waited_ns < 50000) {
        sched_yield();
        return;
    }
    struct timespec ts = {0, waited_ns < 5000000 ? 100000 : 1000000};
    nanosleep(&ts, NULL);
}

tacl_status_t mq_remote_reserve(mq_remote_t *m, uint64_t deadline, tacl__errbuf_t *eb)
{
    uint64_t start = 0;
    for (int i = 0; i < m->npeers; i++) {
        mq_peer_t *p = &m->peers[i];
        for (;;) {
            TACL_CHECK(remote_poll_ack(m, p, eb));
            if (p->sent - p->acked < m->window) break;
            uint64_t now = tacl__now_ns();
            if (!start) start = now;
            if (!tacl__engine_peer_alive(m->e, p->wrank))
                return tacl__err(
                    eb, TACL_ERR_PEER_LOST, TACL_SUB_COLL,
                    "message queue: reader rank %d (host %s) is lost (dead or cut off)", p->crank,
                    p->host);
            if (now >= deadline || (now - start >= MQ_WARN_NS && now >= m->warn_ns)) {
                char who[512];
                snprintf(who, sizeof who,
                         "rank %d (host %s, leader of its host's readers): %llu message(s) "
                         "behind, no progress for %.1f s",
                         p->crank, p->host, (unsigned long long)(p->sent - p->acked),
                         (double)(now - (p->last_ack_ns > start ? p->last_ack_ns : start)) * 1e-9);
                if (now >= deadline)
                    return tacl__err(eb, TACL_ERR_TIMEOUT, TACL_SUB_COLL,
                                     "message queue full for %.1f s (the deadline): waiting for "
                                     "%s",
                                     (double)(now - start) * 1e-9, who);
                TACL_WARN(TACL_SUB_COLL, "message queue full for %.1f s: waiting for %s",
                          (double)(now - start) * 1e-9, who);
                m->warn_ns = now + MQ_REWARN_NS;
            }
            remote_nap(now - start);
        }
    }
    return TACL_OK;
}

tacl_status_t mq_remote_send(mq_remote_t *m, const void *buf, size_t len, uint64_t deadline_ns,
                             tacl__errbuf_t *eb)
{
    TACL_CHECK(mq_remote_reserve(m, deadline_ns, eb));
    m->frame.len = len;
    m->frame.seq = m->seq;
    if (len <= MQ_INLINE && len) memcpy(m->frame.inl, buf, len);
    int n = 0;
    tacl_status_t st = TACL_OK;
    for (int i = 0; i < m->npeers && st == TACL_OK; i++) {
        tacl__msg_key_t k = {m->id, MQ_TAG_FRAME, m->seq};
        st =
            tacl__engine_isend(m->e, m->peers[i].wrank, &k, NULL, &m->frame, MQ_FRAME, &m->reqs[n]);
        if (st != TACL_OK) break;
        n++;
        if (len > MQ_INLINE) {
            k.tag = MQ_TAG_BULK;
            st = tacl__engine_isend(m->e, m->peers[i].wrank, &k, NULL, buf, len, &m->reqs[n]);
            if (st != TACL_OK) break;
            n++;
        }
        m->peers[i].sent++;
    }
    if (st != TACL_OK) tacl__err_keep(eb, st);
    tacl_status_t ws =
        tacl__engine_wait(m->e, m->reqs, n, deadline_ns, m->group, m->group_size, eb);
    m->seq++;
    return st != TACL_OK ? st : ws;
}

tacl_status_t mq_remote_recv(mq_remote_t *m, const void **buf, size_t *len, uint64_t deadline_ns,
                             tacl__errbuf_t *eb)
{
    tacl__req_t *r = NULL;
    if (!m->have_frame) {
        tacl__msg_key_t k = {m->id, MQ_TAG_FRAME, m->rseq};
        TACL_CHECK(tacl__engine_irecv(m->e, m->writer, &k, NULL, &m->rframe, MQ_FRAME, &r));
        TACL_CHECK(tacl__engine_wait(m->e, &r, 1, deadline_ns, m->group, m->group_size, eb));
        if (m->rframe.seq != m->rseq)
            return tacl__err(eb, TACL_ERR_PROTOCOL, TACL_SUB_COLL,
                             "message queue: frame %llu carries number %llu",
                             (unsigned long long)m->rseq, (unsigned long long)m->rframe.seq);
        m->have_frame = 1;
    }
    uint64_t n = m->rframe.len;
    if (n == MQ_CLOSED)
        return tacl__err(eb, TACL_ERR_CLOSED, TACL_SUB_COLL,
                         "message queue: the writer closed the queue after %llu message(s)",
                         (unsigned long long)m->rseq);
    if (n <= MQ_INLINE) {
        *buf = m->rframe.inl;
        *len = (size_t)n;
        return TACL_OK;
    }
    if (!m->have_bulk) {
        if (n > m->cap) {
            char *nb = n < ((uint64_t)1 << 46) ? realloc(m->buf, (size_t)n) : NULL;
            if (!nb)
                return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_COLL,
                                 "message queue: out of memory for a message of %llu bytes",
                                 (unsigned long long)n);
            m->buf = nb;
            m->cap = (size_t)n;
        }
        tacl__msg_key_t k = {m->id, MQ_TAG_BULK, m->rseq};
        TACL_CHECK(tacl__engine_irecv(m->e, m->writer, &k, NULL, m->buf, (size_t)n, &r));
        TACL_CHECK(tacl__engine_wait(m->e, &r, 1, deadline_ns, m->group, m->group_size, eb));
        m->have_bulk = 1;
    }
    *buf = m->buf;
    *len = (size_t)n;
    return TACL_OK;
}

tacl_status_t mq_remote_done(mq_remote_t *m, uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    m->have_frame = m->have_bulk = 0;
    m->rseq++;
    m->released++;
    uint64_t every = m->window / 4 ? m->window / 4 : 1;
    if (m->released - m->acked_out < every) return TACL_OK;
    /* Eager: completes once the 8 bytes have left, whatever the writer is doing. */
    m->ack_out_val = m->released;
    tacl__msg_key_t k = {m->id, MQ_TAG_ACK, m->ack_out_seq};
    tacl__req_t *r;
    TACL_CHECK(
        tacl__engine_isend(m->e, m->writer, &k, NULL, &m->ack_out_val, sizeof m->ack_out_val, &r));
    TACL_CHECK(tacl__engine_wait(m->e, &r, 1, deadline_ns, m->group, m->group_size, eb));
    m->ack_out_seq++;
    m->acked_out = m->released;
    return TACL_OK;
}

void mq_remote_close(mq_remote_t *m, uint64_t deadline_ns)
{
    if (!m) return;
    m->frame.len = MQ_CLOSED;
    m->frame.seq = m->seq;
    int n = 0;
    for (int i = 0; i < m->npeers; i++) {
        tacl__msg_key_t k = {m->id, MQ_TAG_FRAME, m->seq};
        if (!tacl__engine_peer_alive(m->e, m->peers[i].wrank)) continue;
        if (tacl__engine_isend(m->e, m->peers[i].wrank, &k, NULL, &m->frame, MQ_FRAME,
                               &m->reqs[n]) == TACL_OK)
            n++;
    }
    tacl__errbuf_t eb;
    tacl__engine_wait(m->e, m->reqs, n, deadline_ns, NULL, 0, &eb);
}

void mq_remote_destroy(mq_remote_t *m)
{
    if (!m) return;
    for (int i = 0; i < m->npeers; i++) {
        if (m->peers[i].ack_req) {
            tacl__errbuf_t eb;
            tacl__engine_wait(m->e, &m->peers[i].ack_req, 1, tacl__now_ns(), NULL, 0, &eb);
        }
        free(m->peers[i].host);
    }
    free(m->peers);
    free(m->reqs);
    free(m->group);
    free(m->buf);
    free(m);
}

tacl_status_t mq_remote_create(const mq_remote_config_t *cfg, mq_remote_t **out, tacl__errbuf_t *eb)
{
    mq_remote_t *m = calloc(1, sizeof *m);
    if (!m) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    m->e = cfg->engine;
    m->id = cfg->id;
    m->window = cfg->window ? cfg->window : 1;
    m->writer = cfg->writer_wrank;
    m->group_size = cfg->group_size;
    m->npeers = cfg->nleaders;
    m->group = malloc((size_t)cfg->group_size * sizeof *m->group);
    m->peers = calloc((size_t)(cfg->nleaders ? cfg->nleaders : 1), sizeof *m->peers);
    m->reqs = calloc((size_t)(2 * cfg->nleaders + 1), sizeof *m->reqs);
    if (!m->group || !m->peers || !m->reqs) goto err_nomem;
    memcpy(m->group, cfg->group, (size_t)cfg->group_size * sizeof *m->group);
    for (int i = 0; i < m->npeers; i++) {
        mq_peer_t *p = &m->peers[i];
        p->wrank = cfg->leader_wranks[i];
        p->crank = cfg->leader_cranks[i];
        p->last_ack_ns = tacl__now_ns();
        if (!(p->host = strdup(cfg->leader_hosts[i]))) goto err_nomem;
        tacl_status_t st = remote_post_ack(m, p, eb);
        if (st != TACL_OK) {
            mq_remote_destroy(m);
            return st;
        }
    }
    *out = m;
    return TACL_OK;

err_nomem:
    mq_remote_destroy(m);
    return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
}
