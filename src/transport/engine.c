/* engine.c — the point-to-point engine (engine.h): creation (listen, address exchange, probe,
 * reachability agreement, shm rings for same-host pairs), the progress thread (epoll over every
 * tcp socket plus an eventfd, shm rings polled while it spins), framing of fragments on links,
 * exact-key matching of posted receives and unexpected messages, striping of large messages over
 * several connections, forwarding of fragments for other ranks along next_hop, and liveness
 * (EOF = death, silence = cut link, both flooded to every rank).
 *
 * Threads: the application calls isend/irecv/wait; the progress thread owns every link, queue
 * and match-table entry. The two meet only in the command queue (requests handed over under a
 * small lock), in the requests' done flags, and in the liveness tables (atomics plus a lock for
 * their texts). So the data path takes no lock beyond the hand-over. */
#include "transport/engine.h"
#include "transport/engine_credit.h"

#include "clock.h"
#include "settings.h"
#include "transport/engine_frame.h"
#include "transport/shm/shm_link.h"
#include "transport/transport.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sched.h>
#include <sys/uio.h>
#include <unistd.h>

#define ENG_STAGE_BYTES   (64 * 1024)
#define ENG_SCRATCH_BYTES (64 * 1024)
#define ENG_READ_BUDGET   (8u << 20) /* bytes one connection may read before others get a turn */
#define ENG_SPIN_NS       100000ull  /* the progress thread polls this long after its last work */
#define ENG_WAIT_SPIN_NS  50000ull   /* tacl__engine_wait polls this long before it sleeps */
#define ENG_TICK_NS       100000000ull
#define ENG_CUT_BEATS     3.5 /* a link silent for this many heartbeats is cut */
/* Silence on our own link that confirms another rank's report of a silent peer. */
#define ENG_STALL_BEATS 2.5
#define ENG_MSG_BUCKETS 4096
#define ENG_MAX_IOV     64
#define ENG_POOL_SLOTS  32
#define ENG_POOL_BYTES  (256u << 20) /* at most this much kept in the pool */

/* ---- Requests, queued frames, messages, connections, links. ---- */

struct tacl__req {
    int is_send, peer;
    tacl__msg_key_t key;
    tacl__fp_t fp;
    int has_fp;
    uint8_t *buf;
    size_t len;
    int link;                   /* send: the neighbour whose link carries it */
    uint32_t frames_left;       /* send: frames not yet written */
    struct tacl__req *cma_next; /* send: in its link's list of RTSs awaiting their FIN */
    struct tacl__req *cw_next;  /* routed send: in its destination's queue awaiting credit */
    size_t cw_off;              /* routed send: first byte not yet queued (engine_credit.h) */
    _Atomic int done;
    _Atomic int cancelled;
    unsigned cut_gen; /* links cut before it was posted */
    tacl_status_t st;
    char msg[400];
};

typedef struct eng_tx {
    struct eng_tx *next;
    tacl__frame_hdr_t hdr;
    const uint8_t *payload;
    uint8_t *owned;   /* freed once written: forwarded fragments, control texts */
    size_t owned_cap; /* owned came from the buffer pool (forwarded fragments) */
    tacl__req_t *req;
    size_t done; /* bytes of header + payload written */
    int relayed; /* counted in the relay's held bytes (engine_credit.h) */
} eng_tx_t;

/* One message being received or waiting for its receive: an entry of the match table. */
typedef struct eng_msg {
    struct eng_msg *next;
    int src;
    tacl__msg_key_t key;
    tacl__req_t *req; /* posted receive, or NULL (unexpected message) */
    int have_hdr;     /* a fragment arrived: total and fp are known */
    int has_fp;
    tacl__fp_t fp;
    uint64_t total, got;
    uint8_t *dest; /* where fragments land: req->buf, own, or NULL (discard) */
    uint8_t *own;
    size_t own_cap;
    int cma, cma_pid; /* announced by a CMA_RTS: the bytes wait in process cma_pid */
    uint64_t cma_addr;
} eng_msg_t;

#define ENG_POISON_SLOTS 16

enum { ENG_RX_HDR, ENG_RX_PAY };
enum { ENG_TGT_DISCARD, ENG_TGT_MSG, ENG_TGT_FWD, ENG_TGT_CTRL };
enum { ENG_LINK_UP, ENG_LINK_CUT, ENG_LINK_DEAD };

struct eng_link;

typedef struct {
    const tacl__link_ops_t *ops;
    void *impl; /* NULL once closed */
    struct eng_link *link;
    int fd, out_armed;
    eng_tx_t *txh, *txt;
    uint8_t *stage;
    size_t st_off, st_len;
    int rx_state, tgt;
    tacl__frame_hdr_t hdr;
    size_t hdr_got, pay_left;
    eng_msg_t *msg;
    eng_tx_t *fwd;
    char ctrl[256];
} eng_conn_t;

typedef struct eng_link {
    int peer, state, draining;
    eng_conn_t *tcp[TACL_PROBE_MAX_CONNS];
    int ntcp;
    eng_conn_t *shm; /* data goes here when set; tcp[0] stays the control channel */
    uint64_t last_rx, last_tx;
    unsigned rr;
    tacl__req_t *cma_pending; /* sends whose RTS awaits its FIN */
    int cma_off;              /* a process_vm_readv between the pair failed: use the ring */
} eng_link_t;

typedef struct eng_cmd {
    struct eng_cmd *next;
    int cancel;
    tacl__req_t *req;
} eng_cmd_t;

struct tacl__engine {
    int rank, size;
    char **hosts;
    uint8_t *reach;
    char (*info)[256];
    eng_link_t **links; /* size entries, NULL where no direct link */
    _Atomic int *next_hop;
    size_t frag, cma_min; /* cma_min 0: single-copy shm transfers off */
    double hb;

    /* Liveness: flags read by any thread, texts under live_mu. */
    pthread_mutex_t live_mu;
    _Atomic unsigned char *dead;
    _Atomic unsigned char *cut; /* size*size, symmetric */
    char (*dead_how)[200];
    char cut_how[240];
    _Atomic unsigned cut_gen;  /* links cut so far */
    _Atomic unsigned live_gen; /* deaths and cuts so far (tacl__engine_live_gen) */
    int cut_a, cut_b;          /* the last one (under live_mu) */

    pthread_t pt;
    int pt_started, epfd, evfd;
    _Atomic int stop, pt_sleeping, waiters, restart_clocks;
    pthread_mutex_t qmu;
    eng_cmd_t *qh, *qt;
    pthread_mutex_t done_mu;
    pthread_cond_t done_cv;
    int completed; /* progress thread only: a request completed since the last signal */

    eng_msg_t **bucket;
    /* Operations other ranks reported failed (tacl__engine_abort_op): receives of the same
     * (comm, seq) fail at once with the reported status. Progress thread only. */
    struct {
        uint64_t comm_id, seq;
        tacl_status_t st;
        char msg[400];
    } poison[ENG_POISON_SLOTS];
    unsigned npoison;
    struct {
        uint8_t *p;
        size_t cap;
    } pool[ENG_POOL_SLOTS]; /* freed unexpected-message buffers, kept for reuse */
    size_t pool_bytes;
    /* Flow control of routed sends: counters, and per destination the sends waiting for credit
     * (FIFO, so a flow's messages leave in order). Progress thread only. */
    eng_credit_t *credit;
    tacl__req_t **cw_head, **cw_tail;
    uint8_t scratch[ENG_SCRATCH_BYTES];
};

static const char *eng_host(const tacl__engine_t *e, int r)
{
    return r >= 0 && r < e->size && e->hosts[r] ? e->hosts[r] : "?";
}

static void eng_complete(tacl__engine_t *e, tacl__req_t *r, tacl_status_t st)
{
    r->st = st;
    atomic_store_explicit(&r->done, 1, memory_order_release);
    e->completed = 1;
}

static void eng_signal_waiters(tacl__engine_t *e)
{
    if (atomic_load(&e->waiters) > 0) {
        pthread_mutex_lock(&e->done_mu);
        pthread_cond_broadcast(&e->done_cv);
        pthread_mutex_unlock(&e->done_mu);
    }
}

/* ---- Buffers of unexpected messages. ----
 * A stream that runs ahead of its receives lands in unexpected-message buffers; large ones
 * come from mmap in malloc, and a fresh mapping per message costs more in page faults than the
 * copy. The progress thread keeps a few freed ones for reuse. */

static uint8_t *eng_buf_get(tacl__engine_t *e, size_t n, size_t *cap)
{
    int best = -1;
    for (int i = 0; i < ENG_POOL_SLOTS; i++)
        if (e->pool[i].p && e->pool[i].cap >= n && e->pool[i].cap / 2 <= n &&
            (best < 0 || e->pool[i].cap < e->pool[best].cap))
            best = i;
    if (best >= 0) {
        uint8_t *p = e->pool[best].p;
        *cap = e->pool[best].cap;
        e->pool_bytes -= *cap;
        e->pool[best].p = NULL;
        return p;
    }
    *cap = n ? n : 1;
    return malloc(*cap);
}

static void eng_buf_put(tacl__engine_t *e, uint8_t *p, size_t cap)
{
    if (!p) return;
    if (cap >= 65536 && e->pool_bytes + cap <= ENG_POOL_BYTES) {
        for (int i = 0; i < ENG_POOL_SLOTS; i++)
            if (!e->pool[i].p) {
                e->pool[i].p = p;
                e->pool[i].cap = cap;
                e->pool_bytes += cap;
                return;
            }
    }
    free(p);
}

/* ---- Match table. ---- */

static size_t eng_hash(int src, const tacl__msg_key_t *k)
{
    uint64_t h = (uint64_t)src * 0x9e3779b97f4a7c15ull;
    h ^= k->comm_id + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
    h ^= k->tag + 0x8cb92ba72f3d8dd7ull + (h << 6) + (h >> 2);
    h ^= k->seq + 0x7f4a7c159e3779b9ull + (h << 6) + (h >> 2);
    return (size_t)(h % ENG_MSG_BUCKETS);
}

static eng_msg_t *eng_msg_find(tacl__engine_t *e, int src, const tacl__msg_key_t *k)
{
    for (eng_msg_t *m = e->bucket[eng_hash(src, k)]; m; m = m->next)
        if (m->src == src && m->key.comm_id == k->comm_id && m->key.tag == k->tag &&
            m->key.seq == k->seq)
            return m;
    return NULL;
}

static eng_msg_t *eng_msg_new(tacl__engine_t *e, int src, const tacl__msg_key_t *k)
{
    eng_msg_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->src = src;
    m->key = *k;
    size_t b = eng_hash(src, k);
    m->next = e->bucket[b];
    e->bucket[b] = m;
    return m;
}

static void eng_msg_free(tacl__engine_t *e, eng_msg_t *m)
{
    eng_msg_t **pp = &e->bucket[eng_hash(m->src, &m->key)];
    while (*pp && *pp != m)
        pp = &(*pp)->next;
    if (*pp) *pp = m->next;
    eng_buf_put(e, m->own, m->own_cap);
    free(m);
}

/* 1 (and the request's message written) when message m cannot satisfy receive r. */
static int eng_mismatch(tacl__engine_t *e, tacl__req_t *r, const eng_msg_t *m)
{
    /* Different calls first: they explain a different length too. */
    if (r->has_fp && m->has_fp && !tacl__fp_equal(&r->fp, &m->fp)) {
        char theirs[160], ours[160], tag[40] = "";
        tacl__fp_format(&m->fp, theirs, sizeof theirs);
        tacl__fp_format(&r->fp, ours, sizeof ours);
        if (r->key.tag < TACL_ENGINE_AGREE_TAG)
            snprintf(tag, sizeof tag, " (tag %llu)", (unsigned long long)r->key.tag);
        snprintf(r->msg, sizeof r->msg, "rank %d (host %s) called %s but rank %d called %s: %s%s",
                 r->peer, eng_host(e, r->peer), theirs, e->rank, ours,
                 tacl__fp_diff(&m->fp, &r->fp), tag);
        return 1;
    }
    if (m->total != r->len) {
        snprintf(r->msg, sizeof r->msg,
                 "rank %d received a message of %llu bytes from rank %d (host %s) but expected "
                 "%zu bytes (comm %llx, tag %llu, seq %llu)",
                 e->rank, (unsigned long long)m->total, r->peer, eng_host(e, r->peer), r->len,
                 (unsigned long long)r->key.comm_id, (unsigned long long)r->key.tag,
                 (unsigned long long)r->key.seq);
        return 1;
    }
    return 0;
}

/* Fails every posted receive of (comm_id, seq) with st and msg. */
static void eng_poison_posted(tacl__engine_t *e, uint64_t comm_id, uint64_t seq, tacl_status_t st,
                              const char *msg)
{
    for (size_t b = 0; b < ENG_MSG_BUCKETS; b++) {
        eng_msg_t *m = e->bucket[b];
        while (m) {
            eng_msg_t *next = m->next;
            if (m->req && !m->have_hdr && m->key.comm_id == comm_id && m->key.seq == seq &&
                m->key.tag != TACL_ENGINE_ABORT_TAG) {
                tacl__req_t *r = m->req;
                m->req = NULL;
                snprintf(r->msg, sizeof r->msg, "%s", msg);
                eng_msg_free(e, m);
                eng_complete(e, r, st);
            }
            m = next;
        }
    }
}

/* An abort notice (tacl__engine_abort_op) has arrived: remember it, fail what waits on it. */
static void eng_poison_arrive(tacl__engine_t *e, eng_msg_t *m)
{
    unsigned slot = e->npoison++ % ENG_POISON_SLOTS;
    int32_t st = TACL_ERR_INTERNAL;
    if (m->own && m->total >= sizeof st) memcpy(&st, m->own, sizeof st);
    e->poison[slot].comm_id = m->key.comm_id;
    e->poison[slot].seq = m->key.seq;
    e->poison[slot].st = (tacl_status_t)st;
    int tl = m->own && m->total > sizeof st ? (int)(m->total - sizeof st) : 0;
    snprintf(e->poison[slot].msg, sizeof e->poison[slot].msg, "%.*s" TACL_ENGINE_NOTICE_MARK "%d)",
             tl, m->own ? (const char *)m->own + sizeof st : "", m->src);
    TACL_INFO(TACL_SUB_NET, "rank %d: rank %d reports operation %llu of comm %llx failed: %s",
              e->rank, m->src, (unsigned long long)m->key.seq, (unsigned long long)m->key.comm_id,
              e->poison[slot].msg);
    eng_poison_posted(e, m->key.comm_id, m->key.seq, (tacl_status_t)st, e->poison[slot].msg);
}

/* Every byte of m has arrived. */
static void eng_msg_done(tacl__engine_t *e, eng_msg_t *m)
{
    if (m->key.tag == TACL_ENGINE_ABORT_TAG && !m->req) {
        eng_poison_arrive(e, m);
        eng_msg_free(e, m);
        return;
    }
    if (m->req) {
        if (m->dest != m->req->buf && m->total) memcpy(m->req->buf, m->own, m->total);
        tacl__req_t *r = m->req;
        m->req = NULL;
        eng_msg_free(e, m);
        eng_complete(e, r, TACL_OK);
    } else if (!m->dest) {
        eng_msg_free(e, m); /* consumed by a receive that failed on it */
    }
    /* else: an unexpected message, complete, waiting in the table for its receive */
}

static void eng_cma_pull(tacl__engine_t *e, eng_msg_t *m);

/* The progress thread's side of tacl__engine_irecv. */
static void eng_post_recv(tacl__engine_t *e, tacl__req_t *r)
{
    unsigned np = e->npoison < ENG_POISON_SLOTS ? e->npoison : ENG_POISON_SLOTS;
    for (unsigned i = 0; i < np; i++) {
        if (e->poison[i].comm_id != r->key.comm_id || e->poison[i].seq != r->key.seq) continue;
        snprintf(r->msg, sizeof r->msg, "%s", e->poison[i].msg);
        eng_complete(e, r, e->poison[i].st);
        return;
    }
    eng_msg_t *m = eng_msg_find(e, r->peer, &r->key);
    if (!m) {
        m = eng_msg_new(e, r->peer, &r->key);
        if (!m) {
            snprintf(r->msg, sizeof r->msg, "rank %d: out of memory posting a receive", e->rank);
            eng_complete(e, r, TACL_ERR_NOMEM);
            return;
        }
        m->req = r;
        return;
    }
    if (m->req || !m->have_hdr) {
        snprintf(r->msg, sizeof r->msg,
                 "rank %d: a receive from rank %d with the same key (comm %llx, tag %llu, seq "
                 "%llu) is already posted",
                 e->rank, r->peer, (unsigned long long)r->key.comm_id,
                 (unsigned long long)r->key.tag, (unsigned long long)r->key.seq);
        eng_complete(e, r, TACL_ERR_INVALID);
        return;
    }
    if (m->cma) { /* announced, still in the sender's memory: copy it now */
        m->req = r;
        eng_cma_pull(e, m);
        return;
    }
    if (eng_mismatch(e, r, m)) {
        /* The message is consumed by this failed receive; fragments still due are dropped. */
        m->dest = NULL;
        eng_buf_put(e, m->own, m->own_cap);
        m->own = NULL;
        if (m->got == m->total) eng_msg_free(e, m);
        eng_complete(e, r, TACL_ERR_MISMATCH);
        return;
    }
    if (m->got == m->total) {
        if (m->total) memcpy(r->buf, m->own, m->total);
        eng_msg_free(e, m);
        eng_complete(e, r, TACL_OK);
        return;
    }
    m->req = r; /* still arriving into own; copied on completion */
}

/* A DATA fragment header for this rank arrived: the entry its payload belongs to, or NULL when
 * the payload is to be dropped. */
static eng_msg_t *eng_msg_arrive(tacl__engine_t *e, const tacl__frame_hdr_t *h)
{
    tacl__msg_key_t k = {h->comm_id, h->tag, h->seq};
    eng_msg_t *m = eng_msg_find(e, h->src, &k);
    if (!m) {
        m = eng_msg_new(e, h->src, &k);
        if (!m || !(m->own = eng_buf_get(e, h->total, &m->own_cap))) {
            TACL_WARN(TACL_SUB_NET, "rank %d: out of memory buffering %llu bytes from rank %d",
                      e->rank, (unsigned long long)h->total, h->src);
            if (m) eng_msg_free(e, m);
            return NULL;
        }
        m->have_hdr = 1;
        m->total = h->total;
        m->has_fp = (h->flags & TACL_FRAME_HAS_FP) != 0;
        m->fp = h->fp;
        m->dest = m->own;
    } else if (!m->have_hdr) {
        m->have_hdr = 1;
        m->total = h->total;
        m->has_fp = (h->flags & TACL_FRAME_HAS_FP) != 0;
        m->fp = h->fp;
        if (eng_mismatch(e, m->req, m)) {
            tacl__req_t *r = m->req;
            m->req = NULL;
            m->dest = NULL;
            eng_complete(e, r, TACL_ERR_MISMATCH);
        } else {
            m->dest = m->req->buf;
        }
    } else if (h->total != m->total) {
        TACL_WARN(TACL_SUB_NET,
                  "rank %d: fragment from rank %d says %llu bytes, earlier ones said %llu; dropped",
                  e->rank, h->src, (unsigned long long)h->total, (unsigned long long)m->total);
        return NULL;
    }
    if (h->offset + h->len > m->total || m->got + h->len > m->total) {
        TACL_WARN(TACL_SUB_NET, "rank %d: fragment from rank %d out of bounds (tag %llu); dropped",
                  e->rank, h->src, (unsigned long long)h->tag);
        return NULL;
    }
    return m;
}

/* ---- Liveness. ---- */

static eng_conn_t *eng_ctrl_conn(eng_link_t *l)
{
    return l->ntcp ? l->tcp[0] : l->shm;
}

static void eng_flush(tacl__engine_t *e, eng_conn_t *c);

static void eng_enqueue(eng_conn_t *c, eng_tx_t *t)
{
    t->next = NULL;
    if (c->txt)
        c->txt->next = t;
    else
        c->txh = t;
    c->txt = t;
}

static void eng_send_ctrl(tacl__engine_t *e, eng_link_t *l, int kind, int src, uint64_t a,
                          uint64_t b, const char *text)
{
    if (l->state != ENG_LINK_UP) return;
    eng_conn_t *c = eng_ctrl_conn(l);
    eng_tx_t *t = calloc(1, sizeof *t);
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
    eng_enqueue(c, t);
    eng_flush(e, c);
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

static void eng_tx_free(tacl__engine_t *e, eng_tx_t *t)
{
    if (t->relayed && e) eng_credit_relay_release(e->credit, t->hdr.src, t->hdr.dst, t->hdr.len);
    if (t->owned_cap && e)
        eng_buf_put(e, t->owned, t->owned_cap);
    else
        free(t->owned);
    free(t);
}

static void eng_conn_close(tacl__engine_t *e, eng_conn_t *c)
{
    if (!c) return;
    while (c->txh) {
        eng_tx_t *t = c->txh;
        c->txh = t->next;
        eng_tx_free(e, t);
    }
    c->txt = NULL;
    if (c->fwd) {
        eng_tx_free(e, c->fwd);
        c->fwd = NULL;
    }
    if (c->impl) c->ops->close(c->impl);
    c->impl = NULL;
    free(c->stage);
    c->stage = NULL;
}

/* The link is unusable; state says whether the peer died (EOF, reset) or only the link is cut
 * (silence). Queued frames are dropped: their requests stay incomplete and their waits fail
 * naming the peer. A cut link keeps its sockets open (unused) so that the peer does not read
 * our close as our death. */
static int eng_read(tacl__engine_t *e, eng_conn_t *c);

static void eng_link_down(tacl__engine_t *e, eng_link_t *l, int state, const char *how)
{
    if (l->state != ENG_LINK_UP || l->draining) return;
    eng_conn_t *all[TACL_PROBE_MAX_CONNS + 1];
    int n = 0;
    for (int i = 0; i < l->ntcp; i++)
        all[n++] = l->tcp[i];
    if (l->shm) all[n++] = l->shm;
    if (state == ENG_LINK_DEAD) {
        /* What the peer sent before it went is still delivered: its last message may sit in
         * the shm ring, or on another connection, behind the EOF we saw first. */
        l->draining = 1;
        for (int i = 0; i < n; i++)
            if (all[i]->impl) eng_read(e, all[i]);
        l->draining = 0;
        if (l->state != ENG_LINK_UP) return;
    }
    l->state = state;
    for (int i = 0; i < n; i++) {
        if (all[i]->fd >= 0) epoll_ctl(e->epfd, EPOLL_CTL_DEL, all[i]->fd, NULL);
        if (state == ENG_LINK_DEAD) {
            eng_conn_close(e, all[i]);
        } else {
            eng_tx_t *t;
            while ((t = all[i]->txh)) {
                all[i]->txh = t->next;
                eng_tx_free(e, t);
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

/* ---- Writing. ---- */

static void eng_arm_out(tacl__engine_t *e, eng_conn_t *c, int on)
{
    if (c->fd < 0 || c->out_armed == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(e->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->out_armed = on;
}

static void eng_wake_peer(tacl__engine_t *e, eng_link_t *l)
{
    if (l->state != ENG_LINK_UP || !l->shm || !l->shm->impl ||
        !tacl__shm_link_peer_sleeping(l->shm->impl))
        return;
    eng_conn_t *c = l->tcp[0];
    if (c->txh) return; /* something is on its way there already */
    eng_tx_t *t = calloc(1, sizeof *t);
    if (!t) return;
    t->hdr = (tacl__frame_hdr_t){
        .magic = TACL_FRAME_MAGIC, .kind = TACL_FRAME_WAKE, .src = e->rank, .dst = l->peer};
    eng_enqueue(c, t);
    eng_flush(e, c);
}

static void eng_flush(tacl__engine_t *e, eng_conn_t *c)
{
    eng_link_t *l = c->link;
    size_t wrote = 0;
    while (c->txh && c->impl) {
        struct iovec iov[ENG_MAX_IOV];
        int n = 0;
        for (eng_tx_t *t = c->txh; t && n + 2 <= ENG_MAX_IOV; t = t->next) {
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
            eng_link_down(e, l, ENG_LINK_DEAD, how);
            return;
        }
        if (w == 0) break;
        wrote += (size_t)w;
        size_t left = (size_t)w;
        while (left && c->txh) {
            eng_tx_t *t = c->txh;
            size_t need = sizeof t->hdr + t->hdr.len - t->done;
            if (left < need) {
                t->done += left;
                break;
            }
            left -= need;
            c->txh = t->next;
            if (!c->txh) c->txt = NULL;
            if (t->req && --t->req->frames_left == 0) eng_complete(e, t->req, TACL_OK);
            eng_tx_free(e, t);
        }
    }
    if (wrote) {
        l->last_tx = tacl__now_ns();
        if (c == l->shm) eng_wake_peer(e, l);
    }
    if (c->impl) eng_arm_out(e, c, c->txh != NULL);
}

/* ---- Single-copy transfers between processes of one host (CMA). ----
 * A large send on a shm link queues only an RTS frame carrying its address; the receiver copies
 * straight from the sender's memory with process_vm_readv, into the posted receive's buffer
 * (one copy) or, when none is posted yet, into an unexpected-message buffer, and answers FIN,
 * which completes the send (frames_left: 1 for the RTS written, 1 for the FIN). Where the kernel
 * refuses (ptrace rules, Yama), the FIN says so and the sender sends the message through the ring
 * instead; that pair uses the ring from then on. */

static void eng_cma_fin_send(tacl__engine_t *e, eng_link_t *l, const eng_msg_t *m, int retry)
{
    if (!l || l->state != ENG_LINK_UP) return;
    eng_tx_t *t = calloc(1, sizeof *t);
    if (!t) return; /* the sender's wait will time out naming us */
    t->hdr = (tacl__frame_hdr_t){.magic = TACL_FRAME_MAGIC,
                                 .kind = TACL_FRAME_CMA_FIN,
                                 .src = e->rank,
                                 .dst = l->peer,
                                 .comm_id = m->key.comm_id,
                                 .tag = m->key.tag,
                                 .seq = m->key.seq,
                                 .total = (uint64_t)retry};
    eng_conn_t *c = l->shm ? l->shm : eng_ctrl_conn(l);
    eng_enqueue(c, t);
    eng_flush(e, c);
}

/* Copies m's total bytes from the sender's memory into dst: 0, or the errno. */
static int eng_cma_copy(const eng_msg_t *m, uint8_t *dst)
{
    size_t done = 0;
    while (done < m->total) {
        struct iovec lo = {dst + done, m->total - done};
        struct iovec re = {(void *)(uintptr_t)(m->cma_addr + done), m->total - done};
        ssize_t n = process_vm_readv(m->cma_pid, &lo, 1, &re, 1, 0);
        if (n > 0)
            done += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            return n < 0 ? errno : EIO;
    }
    return 0;
}

/* m is announced (cma) and has its receive: copy, complete, answer. */
static void eng_cma_pull(tacl__engine_t *e, eng_msg_t *m)
{
    eng_link_t *l = e->links[m->src];
    tacl__req_t *r = m->req;
    if (eng_mismatch(e, r, m)) {
        m->req = NULL;
        eng_complete(e, r, TACL_ERR_MISMATCH);
        eng_cma_fin_send(e, l, m, 0);
        eng_msg_free(e, m);
        return;
    }
    int err = eng_cma_copy(m, r->buf);
    if (err) {
        /* Back to an ordinary posted receive: the bytes come through the ring. */
        TACL_INFO(TACL_SUB_SHM,
                  "rank %d: cannot read rank %d's memory (%s): same-host transfers between them "
                  "go through the ring",
                  e->rank, m->src, strerror(err));
        if (l) l->cma_off = 1;
        m->cma = 0;
        m->have_hdr = 0;
        m->got = 0;
        eng_cma_fin_send(e, l, m, 1);
        return;
    }
    m->req = NULL;
    eng_cma_fin_send(e, l, m, 0);
    eng_msg_free(e, m);
    eng_complete(e, r, TACL_OK);
}

static void eng_cma_rts(tacl__engine_t *e, eng_link_t *l, const tacl__frame_hdr_t *h)
{
    tacl__msg_key_t k = {h->comm_id, h->tag, h->seq};
    eng_msg_t *m = eng_msg_find(e, h->src, &k);
    if (m && m->have_hdr) {
        TACL_WARN(TACL_SUB_SHM, "rank %d: second message from rank %d with tag %llu seq %llu",
                  e->rank, h->src, (unsigned long long)h->tag, (unsigned long long)h->seq);
        eng_msg_t dup = {.key = k};
        eng_cma_fin_send(e, l, &dup, 0);
        return;
    }
    if (!m && !(m = eng_msg_new(e, h->src, &k))) {
        eng_msg_t dup = {.key = k};
        eng_cma_fin_send(e, l, &dup, 1); /* the ring path buffers it, or fails loudly */
        return;
    }
    m->have_hdr = 1;
    m->total = h->total;
    m->has_fp = (h->flags & TACL_FRAME_HAS_FP) != 0;
    m->fp = h->fp;
    m->cma = 1;
    m->cma_pid = (int)h->hops;
    m->cma_addr = h->offset;
    if (m->req) {
        eng_cma_pull(e, m);
        return;
    }
    /* No receive yet: copy into a buffer now, so that the send completes without waiting for
     * the receive (sends stay eager, as on the ring; an exchange of blocking sends must not
     * deadlock because its messages are large). */
    int err = (m->own = eng_buf_get(e, m->total, &m->own_cap)) ? eng_cma_copy(m, m->own) : ENOMEM;
    if (err) {
        TACL_INFO(TACL_SUB_SHM,
                  "rank %d: cannot read rank %d's memory (%s): same-host transfers between them "
                  "go through the ring",
                  e->rank, m->src, strerror(err));
        l->cma_off = 1;
        eng_msg_t copy = *m;
        eng_msg_free(e, m);
        eng_cma_fin_send(e, l, &copy, 1);
        return;
    }
    m->cma = 0;
    m->dest = m->own;
    m->got = m->total; /* a complete unexpected message */
    eng_cma_fin_send(e, l, m, 0);
}

static void eng_submit_send(tacl__engine_t *e, tacl__req_t *r);

static void eng_cma_fin(tacl__engine_t *e, eng_link_t *l, const tacl__frame_hdr_t *h)
{
    tacl__req_t **pp = &l->cma_pending;
    while (*pp && !((*pp)->key.comm_id == h->comm_id && (*pp)->key.tag == h->tag &&
                    (*pp)->key.seq == h->seq))
        pp = &(*pp)->cma_next;
    tacl__req_t *r = *pp;
    if (!r) return; /* cancelled meanwhile */
    *pp = r->cma_next;
    r->cma_next = NULL;
    if (h->total == 1) {
        l->cma_off = 1;
        eng_submit_send(e, r);
    } else if (--r->frames_left == 0) {
        eng_complete(e, r, TACL_OK);
    }
}

/* ---- Reading. ---- */

static int eng_data_conns(eng_link_t *l, eng_conn_t ***out)
{
    if (l->shm) {
        *out = &l->shm;
        return 1;
    }
    *out = l->tcp;
    return l->ntcp;
}

static eng_conn_t *eng_pick_conn(eng_link_t *l)
{
    eng_conn_t **dc;
    int n = eng_data_conns(l, &dc);
    return dc[l->rr++ % (unsigned)n];
}

static void eng_forward(tacl__engine_t *e, eng_tx_t *t);

/* Queues a credit ahead of the data waiting on c (behind a frame already half written): a credit
 * that waits behind megabytes of data stalls its flow for as long. */
static void eng_enqueue_credit(tacl__engine_t *e, eng_conn_t *c, eng_tx_t *t)
{
    if (!c->txh || (c->txh->done == 0 && c->txh->hdr.kind != TACL_FRAME_CREDIT)) {
        t->next = c->txh;
        c->txh = t;
        if (!c->txt) c->txt = t;
    } else {
        eng_tx_t *p = c->txh; /* after the half-written frame and the credits already queued */
        while (p->next && p->next->hdr.kind == TACL_FRAME_CREDIT)
            p = p->next;
        t->next = p->next;
        p->next = t;
        if (c->txt == p) c->txt = t;
    }
    eng_flush(e, c);
}

/* Sends a CREDIT frame for len bytes of the routed flow (to, from) back to rank to, on behalf of
 * rank from (this rank when it is the destination; the destination when a relay drops), along
 * next_hop or, while this rank has no route to rank to yet (routes are set after create, data may
 * come before), back over the link via the fragment came on. */
static void eng_credit_send(tacl__engine_t *e, int from, int to, uint64_t len, eng_link_t *via)
{
    eng_tx_t *t = calloc(1, sizeof *t);
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
    eng_forward(e, t);
}

/* A relayed DATA fragment t will not reach its destination: its sender gets the credit back. */
static void eng_credit_refund(tacl__engine_t *e, const eng_tx_t *t)
{
    if (t->hdr.kind == TACL_FRAME_DATA && t->hdr.len)
        eng_credit_send(e, t->hdr.dst, t->hdr.src, t->hdr.len, NULL);
}

/* Forwards a fragment for another rank; takes t. */
static void eng_forward(tacl__engine_t *e, eng_tx_t *t)
{
    int dst = t->hdr.dst;
    int hop = atomic_load(&e->next_hop[dst]);
    eng_link_t *l = hop >= 0 && hop != e->rank ? e->links[hop] : NULL;
    /* Routes that disagree between ranks must not make a fragment circle forever. */
    if (++t->hdr.hops > (uint32_t)e->size) {
        TACL_WARN(TACL_SUB_NET,
                  "rank %d: dropped a fragment from rank %d for rank %d after %u hops: the "
                  "ranks' routes form a loop",
                  e->rank, t->hdr.src, dst, t->hdr.hops);
        eng_credit_refund(e, t);
        eng_tx_free(e, t);
        return;
    }
    if (!l || l->state != ENG_LINK_UP) {
        TACL_WARN(TACL_SUB_NET,
                  "rank %d: dropped a fragment from rank %d for rank %d: no live route "
                  "(next hop %d)",
                  e->rank, t->hdr.src, dst, hop);
        eng_credit_refund(e, t);
        eng_tx_free(e, t);
        return;
    }
    if (t->hdr.kind == TACL_FRAME_CREDIT) {
        eng_enqueue_credit(e, eng_ctrl_conn(l), t);
        return;
    }
    eng_conn_t *c = eng_pick_conn(l);
    eng_enqueue(c, t);
    eng_flush(e, c);
}

/* Another rank cut its link to x for silence: when x has been silent on our own link too for
 * ENG_STALL_BEATS, it is stalled (a stopped process, not a cut wire), and our link to it is cut
 * now, before the notice is recorded, so that whoever sees the notice also sees x stalled. */
static void eng_confirm_silence(tacl__engine_t *e, int x)
{
    if (x < 0 || x >= e->size || x == e->rank || !e->links[x]) return;
    eng_link_t *l = e->links[x];
    uint64_t now = tacl__now_ns(), hb = (uint64_t)(e->hb * 1e9);
    if (l->state != ENG_LINK_UP || now - l->last_rx <= (uint64_t)(ENG_STALL_BEATS * hb)) return;
    char how[160];
    snprintf(how, sizeof how, "no traffic from rank %d for %.1f s (heartbeat %.1f s)", x,
             (double)(now - l->last_rx) * 1e-9, e->hb);
    eng_link_down(e, l, ENG_LINK_CUT, how);
}

static void eng_credit_resume(tacl__engine_t *e, int dst);

/* A CREDIT frame: for this rank (its flow to h->src may send h->total more bytes), or to pass
 * on. Credits are never subject to credits, so they always make progress. */
static void eng_credit_arrive(tacl__engine_t *e, const tacl__frame_hdr_t *h)
{
    if (h->dst != e->rank) {
        eng_tx_t *t = calloc(1, sizeof *t);
        if (!t) return;
        t->hdr = *h;
        eng_forward(e, t);
        return;
    }
    eng_credit_give(e->credit, h->src, (size_t)h->total);
    eng_credit_resume(e, h->src);
}

static void eng_ctrl_frame(tacl__engine_t *e, eng_conn_t *c)
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

/* A complete header is in c->hdr: choose where the payload goes. 0 when the link went down. */
static int eng_on_header(tacl__engine_t *e, eng_conn_t *c)
{
    tacl__frame_hdr_t *h = &c->hdr;
    const char *bad = NULL;
    c->tgt = ENG_TGT_DISCARD;
    c->msg = NULL;
    switch (tacl__frame_check(h, e->rank, e->size, c->link->peer, &bad)) {
    case TACL_FRAME_RELAY: {
        eng_tx_t *t = NULL;
        if (!eng_credit_relay_hold(e->credit, h->src, h->dst, h->len)) {
            /* Only senders with a larger window than ours, or more flows than the cap was sized
             * for, get here: the operation ends at its deadline on rank dst. Logged at the 1st,
             * 2nd, 4th, 8th... drop so that a stream of them cannot flood the log. */
            uint64_t nd = eng_credit_relay_dropped(e->credit);
            if (!(nd & (nd - 1)))
                TACL_WARN(TACL_SUB_NET,
                          "rank %d: relay buffer full (%llu of TACL_RELAY_MAX_BYTES=%zu bytes "
                          "held): dropped a %u-byte fragment of the flow from rank %d to rank %d "
                          "(%llu fragments dropped so far)",
                          e->rank, (unsigned long long)eng_credit_relay_total(e->credit),
                          eng_credit_relay_cap(e->credit), h->len, h->src, h->dst,
                          (unsigned long long)nd);
            if (h->len) eng_credit_send(e, h->dst, h->src, h->len, c->link);
        } else if ((t = calloc(1, sizeof *t)) &&
                   (t->owned = eng_buf_get(e, h->len, &t->owned_cap))) {
            t->hdr = *h;
            t->payload = t->owned;
            t->relayed = 1;
            c->fwd = t;
            c->tgt = ENG_TGT_FWD;
        } else {
            eng_credit_relay_release(e->credit, h->src, h->dst, h->len);
            if (h->len) eng_credit_send(e, h->dst, h->src, h->len, c->link);
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
        if ((c->msg = eng_msg_arrive(e, h))) c->tgt = ENG_TGT_MSG;
        break;
    case TACL_FRAME_CTRL:
        c->tgt = ENG_TGT_CTRL;
        break;
    case TACL_FRAME_CMA:
        if (h->kind == TACL_FRAME_CMA_RTS)
            eng_cma_rts(e, c->link, h);
        else
            eng_cma_fin(e, c->link, h);
        break;
    case TACL_FRAME_GRANT:
        eng_credit_arrive(e, h);
        break;
    case TACL_FRAME_IDLE:
    case TACL_FRAME_BAD:
        break;
    }
    if (bad) {
        char how[160];
        snprintf(how, sizeof how, "protocol error from rank %d: %s", c->link->peer, bad);
        eng_link_down(e, c->link, ENG_LINK_DEAD, how);
        return 0;
    }
    c->pay_left = h->len;
    return 1;
}

static void eng_on_frame(tacl__engine_t *e, eng_conn_t *c)
{
    /* A routed fragment has left the relays: its sender may send that much more (once the
     * fragment is consumed here, as the credit's send may take the link down). */
    int credit = c->hdr.kind == TACL_FRAME_DATA && c->hdr.dst == e->rank && c->hdr.hops;
    switch (c->tgt) {
    case ENG_TGT_MSG:
        c->msg->got += c->hdr.len;
        if (c->msg->got == c->msg->total) eng_msg_done(e, c->msg);
        break;
    case ENG_TGT_FWD: {
        eng_tx_t *t = c->fwd;
        c->fwd = NULL;
        eng_forward(e, t);
        break;
    }
    case ENG_TGT_CTRL:
        eng_ctrl_frame(e, c);
        break;
    default:
        break;
    }
    c->msg = NULL;
    if (credit && c->hdr.len) eng_credit_send(e, e->rank, c->hdr.src, c->hdr.len, c->link);
}

static uint8_t *eng_rx_dest(eng_conn_t *c)
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
static int eng_read(tacl__engine_t *e, eng_conn_t *c)
{
    eng_link_t *l = c->link;
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
            eng_link_down(e, l, ENG_LINK_DEAD, how);
        }
        break;
    }
    if (total) {
        l->last_rx = tacl__now_ns();
        if (c == l->shm) eng_wake_peer(e, l); /* it may be waiting for ring space */
    }
    return total > 0;
}

/* ---- Commands from application threads. ---- */

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
    eng_msg_t *m = eng_msg_arrive(e, &h);
    if (!m) {
        snprintf(r->msg, sizeof r->msg, "rank %d: send to itself failed (out of memory)", e->rank);
        eng_complete(e, r, TACL_ERR_NOMEM);
        return;
    }
    if (m->dest && r->len) memcpy(m->dest, r->buf, r->len);
    m->got = m->total;
    eng_msg_done(e, m);
    eng_complete(e, r, TACL_OK);
}

/* Queues r's DATA fragments from byte off on link l; routed: only while the flow's credit
 * allows. Returns the first byte not queued (r->len when all are). */
static size_t eng_queue_frags(tacl__engine_t *e, tacl__req_t *r, eng_link_t *l, size_t off,
                              int routed)
{
    eng_conn_t *touched[TACL_PROBE_MAX_CONNS + 1];
    int nt = 0;
    do {
        size_t len = r->len - off < e->frag ? r->len - off : e->frag;
        if (routed && !eng_credit_take(e->credit, r->peer, len)) break;
        eng_tx_t *t = calloc(1, sizeof *t);
        if (!t) {
            /* Frames already queued will be written; this request can only fail. */
            if (routed) eng_credit_give(e->credit, r->peer, len);
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
        eng_conn_t *c = eng_pick_conn(l);
        eng_enqueue(c, t);
        int seen = 0;
        for (int k = 0; k < nt; k++)
            seen |= touched[k] == c;
        if (!seen) touched[nt++] = c;
        off += len;
    } while (off < r->len);
    for (int k = 0; k < nt; k++)
        eng_flush(e, touched[k]);
    return off;
}

/* Queues what the credit of the flow to dst allows from its waiting sends, in order. */
static void eng_credit_resume(tacl__engine_t *e, int dst)
{
    tacl__req_t *r;
    while ((r = e->cw_head[dst])) {
        eng_link_t *l = e->links[r->link];
        size_t off = r->cw_off;
        if (!l || l->state != ENG_LINK_UP) {
            if (!atomic_load(&r->done)) {
                snprintf(r->msg, sizeof r->msg,
                         "rank %d cannot send to rank %d (host %s): the link to rank %d is down",
                         e->rank, r->peer, eng_host(e, r->peer), r->link);
                eng_complete(e, r, TACL_ERR_UNREACHABLE);
            }
            off = r->len;
        } else {
            off = eng_queue_frags(e, r, l, off, 1);
        }
        if (off < r->len) {
            r->cw_off = off;
            return;
        }
        e->cw_head[dst] = r->cw_next;
        if (!e->cw_head[dst]) e->cw_tail[dst] = NULL;
        r->cw_next = NULL;
    }
}

static void eng_submit_send(tacl__engine_t *e, tacl__req_t *r)
{
    if (r->peer == e->rank) {
        eng_self_send(e, r);
        return;
    }
    eng_link_t *l = e->links[r->link];
    if (!l || l->state != ENG_LINK_UP) {
        snprintf(r->msg, sizeof r->msg,
                 "rank %d cannot send to rank %d (host %s): the link to rank %d is down", e->rank,
                 r->peer, eng_host(e, r->peer), r->link);
        eng_complete(e, r, r->link == r->peer ? TACL_ERR_PEER_LOST : TACL_ERR_UNREACHABLE);
        return;
    }
    if (l->shm && !l->cma_off && e->cma_min && r->len >= e->cma_min && r->link == r->peer) {
        eng_tx_t *t = calloc(1, sizeof *t);
        if (t) {
            t->hdr = (tacl__frame_hdr_t){.magic = TACL_FRAME_MAGIC,
                                         .kind = TACL_FRAME_CMA_RTS,
                                         .flags = r->has_fp ? TACL_FRAME_HAS_FP : 0,
                                         .src = e->rank,
                                         .dst = r->peer,
                                         .hops = (uint32_t)getpid(),
                                         .comm_id = r->key.comm_id,
                                         .tag = r->key.tag,
                                         .seq = r->key.seq,
                                         .total = r->len,
                                         .offset = (uint64_t)(uintptr_t)r->buf,
                                         .fp = r->fp};
            t->req = r;
            r->frames_left = 2;
            r->cma_next = l->cma_pending;
            l->cma_pending = r;
            eng_enqueue(l->shm, t);
            eng_flush(e, l->shm);
            return;
        }
    }
    size_t nf = r->len ? (r->len + e->frag - 1) / e->frag : 1;
    r->frames_left = (uint32_t)nf;
    if (r->link != r->peer) {
        /* Routed: the fragments leave as the flow's credit allows (engine_credit.h). */
        r->cw_off = 0;
        r->cw_next = NULL;
        if (e->cw_tail[r->peer])
            e->cw_tail[r->peer]->cw_next = r;
        else
            e->cw_head[r->peer] = r;
        e->cw_tail[r->peer] = r;
        eng_credit_resume(e, r->peer);
        return;
    }
    eng_queue_frags(e, r, l, 0, 0);
}

static void eng_cancel(tacl__engine_t *e, tacl__req_t *r)
{
    if (atomic_load(&r->done)) goto out;
    if (!r->is_send) {
        eng_msg_t *m = eng_msg_find(e, r->peer, &r->key);
        if (m && m->req == r) {
            m->req = NULL;
            if (!m->have_hdr) {
                eng_msg_free(e, m);
            } else {
                /* Fragments still due are dropped; a connection in the middle of one reads
                 * its destination from m->dest at every step, so this is safe. */
                m->dest = NULL;
                eng_buf_put(e, m->own, m->own_cap);
                m->own = NULL;
            }
        }
    } else if (r->peer != e->rank && e->links[r->link]) {
        eng_link_t *l = e->links[r->link];
        int routed = r->link != r->peer;
        for (tacl__req_t **pp = &e->cw_head[r->peer], *prev = NULL; routed && *pp;
             prev = *pp, pp = &(*pp)->cw_next)
            if (*pp == r) { /* still waiting for credit: the rest is never sent */
                *pp = r->cw_next;
                if (e->cw_tail[r->peer] == r) e->cw_tail[r->peer] = prev;
                break;
            }
        for (tacl__req_t **pp = &l->cma_pending; *pp; pp = &(*pp)->cma_next)
            if (*pp == r) {
                /* A reader may still copy from the buffer; it only gets the bytes wrong. */
                *pp = r->cma_next;
                break;
            }
        eng_conn_t *all[TACL_PROBE_MAX_CONNS + 1];
        int n = 0;
        for (int i = 0; i < l->ntcp; i++)
            all[n++] = l->tcp[i];
        if (l->shm) all[n++] = l->shm;
        for (int i = 0; i < n; i++) {
            eng_conn_t *c = all[i];
            eng_tx_t **pp = &c->txh, *prev = NULL;
            while (*pp) {
                eng_tx_t *t = *pp;
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
                if (routed) eng_credit_give(e->credit, r->peer, t->hdr.len); /* never sent */
                free(t);
            }
        }
    }
out:
    atomic_store_explicit(&r->cancelled, 1, memory_order_release);
    e->completed = 1;
}

static int eng_drain_cmds(tacl__engine_t *e)
{
    pthread_mutex_lock(&e->qmu);
    eng_cmd_t *q = e->qh;
    e->qh = e->qt = NULL;
    pthread_mutex_unlock(&e->qmu);
    int any = q != NULL;
    while (q) {
        eng_cmd_t *next = q->next;
        if (q->cancel)
            eng_cancel(e, q->req);
        else if (q->req->is_send)
            eng_submit_send(e, q->req);
        else
            eng_post_recv(e, q->req);
        free(q);
        q = next;
    }
    return any;
}

static void eng_wake(tacl__engine_t *e)
{
    uint64_t one = 1;
    if (write(e->evfd, &one, sizeof one) != sizeof one)
        TACL_DEBUG(TACL_SUB_NET, "eventfd write: %s", strerror(errno));
}

static tacl_status_t eng_push(tacl__engine_t *e, tacl__req_t *r, int cancel)
{
    eng_cmd_t *c = malloc(sizeof *c);
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
    if (atomic_load(&e->pt_sleeping)) eng_wake(e);
    return TACL_OK;
}

/* ---- The progress thread. ---- */

static void eng_tick(tacl__engine_t *e)
{
    uint64_t now = tacl__now_ns(), hb = (uint64_t)(e->hb * 1e9);
    for (int p = 0; p < e->size; p++) {
        eng_link_t *l = e->links[p];
        if (!l || l->state != ENG_LINK_UP) continue;
        if (now - l->last_tx >= hb) {
            eng_conn_t *c = eng_ctrl_conn(l);
            eng_tx_t *t = calloc(1, sizeof *t);
            if (t) {
                t->hdr = (tacl__frame_hdr_t){.magic = TACL_FRAME_MAGIC,
                                             .kind = TACL_FRAME_HEARTBEAT,
                                             .src = e->rank,
                                             .dst = p};
                eng_enqueue(c, t);
                eng_flush(e, c);
            }
        }
        if (l->state == ENG_LINK_UP && now - l->last_rx > (uint64_t)(ENG_CUT_BEATS * hb)) {
            char how[160];
            snprintf(how, sizeof how, "no traffic from rank %d for %.1f s (heartbeat %.1f s)", p,
                     (double)(now - l->last_rx) * 1e-9, e->hb);
            eng_link_down(e, l, ENG_LINK_CUT, how);
        }
    }
}

static int eng_poll_shm(tacl__engine_t *e)
{
    int work = 0;
    for (int p = 0; p < e->size; p++) {
        eng_link_t *l = e->links[p];
        if (!l || !l->shm || l->state != ENG_LINK_UP) continue;
        if (l->shm->ops->readable(l->shm->impl)) work |= eng_read(e, l->shm);
        if (l->state == ENG_LINK_UP && l->shm->txh && tacl__shm_link_writable(l->shm->impl)) {
            eng_flush(e, l->shm);
            work = 1;
        }
    }
    return work;
}

static void eng_set_sleeping(tacl__engine_t *e, int on)
{
    atomic_store(&e->pt_sleeping, on);
    for (int p = 0; p < e->size; p++) {
        eng_link_t *l = e->links[p];
        if (l && l->shm && l->shm->impl) tacl__shm_link_set_sleeping(l->shm->impl, on);
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
        eng_link_t *l = e->links[p];
        if (!l || !l->shm || l->state != ENG_LINK_UP) continue;
        busy = l->shm->ops->readable(l->shm->impl) ||
               (l->shm->txh && tacl__shm_link_writable(l->shm->impl));
    }
    if (busy) eng_set_sleeping(e, 0);
    return !busy;
}

static void *eng_progress(void *arg)
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
        }
        int work = eng_drain_cmds(e);
        work |= eng_poll_shm(e);
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
            eng_conn_t *c = evs[i].data.ptr;
            work = 1;
            if (!c) {
                uint64_t v;
                if (read(e->evfd, &v, sizeof v) < 0) { /* nothing to do: it only wakes us */
                }
                continue;
            }
            if (!c->impl || c->link->state != ENG_LINK_UP) continue;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) eng_read(e, c);
            if ((evs[i].events & EPOLLOUT) && c->impl && c->link->state == ENG_LINK_UP)
                eng_flush(e, c);
        }
        now = tacl__now_ns();
        if (work) last_work = now;
        if (now >= next_tick) {
            eng_tick(e);
            next_tick = now + ENG_TICK_NS;
        }
        if (e->completed) {
            e->completed = 0;
            eng_signal_waiters(e);
        }
    }
    return NULL;
}

/* ---- Creation. ---- */

typedef struct {
    uint64_t nonce;
    int32_t naddr, pid;
    int32_t status; /* a rank that cannot listen still joins the exchange, and says so */
    int32_t pad;
    tacl__tcp_addr_t addr[TACL_TCP_MAX_ADDRS];
} eng_card_t;

typedef struct {
    uint8_t ok, pad;
    uint16_t mask;
    char info[124];
} eng_row_t;

typedef struct {
    int fd, rank;
    uint64_t deadline_ns;
} eng_pair_t;

/* The 2-rank exchange over a pair's first tcp connection, for tacl__shm_link_open. */
static tacl_status_t eng_pair_allgather(void *ctx, const void *mine, size_t len, void *all,
                                        tacl__errbuf_t *eb)
{
    eng_pair_t *p = ctx;
    const char *why = NULL;
    uint8_t *a = all;
    if (tacl__tcp_send_all(p->fd, mine, len, p->deadline_ns, &why) != 0 ||
        tacl__tcp_recv_all(p->fd, a + (size_t)(1 - p->rank) * len, len, p->deadline_ns, &why) != 0)
        return tacl__err(eb, TACL_ERR_UNREACHABLE, TACL_SUB_SHM,
                         "shm setup with the peer over tcp failed: %s", why);
    memcpy(a + (size_t)p->rank * len, mine, len);
    return TACL_OK;
}

static eng_conn_t *eng_conn_new(eng_link_t *l, const tacl__link_ops_t *ops, void *impl, int fd)
{
    eng_conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->ops = ops;
    c->impl = impl;
    c->link = l;
    c->fd = fd;
    if (ops->direct_min && !(c->stage = malloc(ENG_STAGE_BYTES))) {
        free(c);
        return NULL;
    }
    return c;
}

static void eng_free_link(eng_link_t *l)
{
    if (!l) return;
    for (int i = 0; i < l->ntcp; i++) {
        eng_conn_close(NULL, l->tcp[i]);
        free(l->tcp[i]);
    }
    if (l->shm) {
        eng_conn_close(NULL, l->shm);
        free(l->shm);
    }
    free(l);
}

void tacl__engine_destroy(tacl__engine_t *e)
{
    if (!e) return;
    if (e->pt_started) {
        atomic_store(&e->stop, 1);
        uint64_t one = 1;
        if (write(e->evfd, &one, sizeof one) < 0) { /* the thread also wakes on its tick */
        }
        pthread_join(e->pt, NULL);
    }
    if (e->links)
        for (int p = 0; p < e->size; p++)
            eng_free_link(e->links[p]);
    if (e->bucket) {
        for (int b = 0; b < ENG_MSG_BUCKETS; b++)
            while (e->bucket[b])
                eng_msg_free(e, e->bucket[b]);
    }
    while (e->qh) {
        eng_cmd_t *c = e->qh;
        e->qh = c->next;
        free(c);
    }
    for (int i = 0; i < ENG_POOL_SLOTS; i++)
        free(e->pool[i].p);
    if (e->epfd >= 0) close(e->epfd);
    if (e->evfd >= 0) close(e->evfd);
    if (e->hosts)
        for (int r = 0; r < e->size; r++)
            free(e->hosts[r]);
    free(e->hosts);
    free(e->reach);
    free(e->info);
    free(e->links);
    free(e->next_hop);
    free((void *)e->dead);
    free((void *)e->cut);
    free(e->dead_how);
    free(e->bucket);
    eng_credit_free(e->credit);
    free(e->cw_head);
    free(e->cw_tail);
    pthread_mutex_destroy(&e->live_mu);
    pthread_mutex_destroy(&e->qmu);
    pthread_mutex_destroy(&e->done_mu);
    pthread_cond_destroy(&e->done_cv);
    free(e);
}

static tacl_status_t eng_alloc(const tacl__engine_config_t *cfg, tacl__engine_t **out,
                               tacl__errbuf_t *eb)
{
    int n = cfg->size;
    tacl__engine_t *e = calloc(1, sizeof *e);
    if (!e) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    e->rank = cfg->rank;
    e->size = n;
    e->epfd = e->evfd = -1;
    pthread_mutex_init(&e->live_mu, NULL);
    pthread_mutex_init(&e->qmu, NULL);
    pthread_mutex_init(&e->done_mu, NULL);
    pthread_cond_init(&e->done_cv, NULL);
    e->hosts = calloc((size_t)n, sizeof *e->hosts);
    e->reach = calloc((size_t)n * (size_t)n, 1);
    e->info = calloc((size_t)n, sizeof *e->info);
    e->links = calloc((size_t)n, sizeof *e->links);
    e->next_hop = calloc((size_t)n, sizeof *e->next_hop);
    e->dead = calloc((size_t)n, 1);
    e->cut = calloc((size_t)n * (size_t)n, 1);
    e->dead_how = calloc((size_t)n, sizeof *e->dead_how);
    e->bucket = calloc(ENG_MSG_BUCKETS, sizeof *e->bucket);
    long window = tacl__setting_int(TACL_SET_RELAY_WINDOW);
    long relay_cap = tacl__setting_int(TACL_SET_RELAY_MAX_BYTES);
    e->credit =
        eng_credit_new(n, window > 0 ? (size_t)window : 0, relay_cap > 0 ? (size_t)relay_cap : 0);
    e->cw_head = calloc((size_t)n, sizeof *e->cw_head);
    e->cw_tail = calloc((size_t)n, sizeof *e->cw_tail);
    int ok = e->hosts && e->reach && e->info && e->links && e->next_hop && e->dead && e->cut &&
             e->dead_how && e->bucket && e->credit && e->cw_head && e->cw_tail;
    for (int r = 0; ok && r < n; r++)
        ok = (e->hosts[r] = strdup(cfg->host_ids[r] ? cfg->host_ids[r] : "?")) != NULL;
    if (!ok) {
        tacl__engine_destroy(e);
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    }
    *out = e;
    return TACL_OK;
}

static tacl_status_t eng_build_link(tacl__engine_t *e, int peer, const int *fds, int shm_ok,
                                    double timeout_s, tacl__errbuf_t *eb)
{
    eng_link_t *l = calloc(1, sizeof *l);
    if (!l) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    l->peer = peer;
    l->last_rx = l->last_tx = tacl__now_ns();
    e->links[peer] = l;
    for (int k = 0; k < TACL_PROBE_MAX_CONNS; k++) {
        if (fds[k] < 0) continue;
        void *impl = tacl__tcp_conn_wrap(fds[k]);
        eng_conn_t *c = impl ? eng_conn_new(l, &tacl__tcp_ops, impl, fds[k]) : NULL;
        if (!c) {
            if (impl)
                tacl__tcp_ops.close(impl);
            else
                close(fds[k]);
            for (int j = k + 1; j < TACL_PROBE_MAX_CONNS; j++)
                if (fds[j] >= 0) close(fds[j]);
            return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
        }
        l->tcp[l->ntcp++] = c;
    }
    if (!shm_ok) return TACL_OK;
    eng_pair_t pc = {.fd = l->tcp[0]->fd,
                     .rank = e->rank < peer ? 0 : 1,
                     .deadline_ns = tacl__deadline_ns(timeout_s)};
    tacl__xchg_t pair = {.allgather = eng_pair_allgather, .ctx = &pc, .rank = pc.rank, .size = 2};
    long ring = tacl__setting_int(TACL_SET_SHM_RING_BYTES);
    void *impl = NULL;
    tacl__errbuf_t seb;
    tacl_status_t st =
        tacl__shm_link_open(&pair, ring > 0 ? (size_t)ring : (1u << 20), &impl, &seb);
    if (st == TACL_ERR_UNREACHABLE) return tacl__err_keep(eb, st);
    if (st != TACL_OK) {
        /* Both sides see the failure (the segment's exchange carries it): both use tcp. */
        TACL_WARN(TACL_SUB_SHM, "rank %d: shm link to rank %d unavailable, using tcp: %s", e->rank,
                  peer, seb.msg);
        return TACL_OK;
    }
    if (!(l->shm = eng_conn_new(l, &tacl__shm_link_ops, impl, -1))) {
        tacl__shm_link_ops.close(impl);
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    }
    size_t n = strlen(e->info[peer]);
    snprintf(e->info[peer] + n, sizeof e->info[peer] - n, " + shm ring");
    return TACL_OK;
}

tacl_status_t tacl__engine_create(const tacl__engine_config_t *cfg, tacl__engine_t **out,
                                  tacl__errbuf_t *eb)
{
    if (!cfg || !out || !cfg->xchg || !cfg->host_ids || cfg->size < 1 || cfg->rank < 0 ||
        cfg->rank >= cfg->size || cfg->xchg->size != cfg->size || cfg->xchg->rank != cfg->rank)
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_NET,
                         "tacl_engine_create: bad configuration (rank %d of %d, exchange of %d)",
                         cfg ? cfg->rank : -1, cfg ? cfg->size : -1,
                         cfg && cfg->xchg ? cfg->xchg->size : -1);
    int me = cfg->rank, n = cfg->size;
    double timeout = cfg->timeout_s > 0 ? cfg->timeout_s : tacl__setting_dbl(TACL_SET_TIMEOUT);
    double probe =
        cfg->probe_timeout_s > 0 ? cfg->probe_timeout_s : tacl__setting_dbl(TACL_SET_PROBE_TIMEOUT);
    uint64_t deadline = tacl__deadline_ns(timeout);
    const char *topo = tacl__setting_str(TACL_SET_TOPO);
    int full = strcmp(topo, "full") == 0;
    long nconns = tacl__setting_int(TACL_SET_SOCKET_NCONNS);
    if (nconns < 1) nconns = 1;
    if (nconns > TACL_PROBE_MAX_CONNS) nconns = TACL_PROBE_MAX_CONNS;
    int shm_disable = tacl__setting_bool(TACL_SET_SHM_DISABLE);

    tacl__engine_t *e = NULL;
    TACL_CHECK(eng_alloc(cfg, &e, eb));
    e->hb = tacl__setting_dbl(TACL_SET_HEARTBEAT);
    if (e->hb <= 0) e->hb = 1;
    long frag = tacl__setting_int(TACL_SET_FRAG_BYTES);
    e->frag = frag >= 4096 ? (size_t)frag : (512u << 10);
    long cma = tacl__setting_int(TACL_SET_SHM_CMA_BYTES);
    e->cma_min = cma > 0 ? (size_t)cma : 0;
    for (int d = 0; d < n; d++)
        atomic_store(&e->next_hop[d], -1);

    tacl_status_t st;
    eng_card_t *cards = calloc((size_t)n, sizeof *cards);
    eng_row_t *rows = calloc((size_t)n * (size_t)n, sizeof *rows);
    int *ofds = malloc(sizeof *ofds * (size_t)n * TACL_PROBE_MAX_CONNS);
    int *ifds = malloc(sizeof *ifds * (size_t)n * TACL_PROBE_MAX_CONNS);
    uint16_t *mask = calloc((size_t)n, sizeof *mask), *expect = calloc((size_t)n, sizeof *expect);
    uint8_t *want = calloc((size_t)n, 1);
    int *naddr = calloc((size_t)n, sizeof *naddr);
    tacl__tcp_addr_t *addrs = calloc((size_t)n * TACL_TCP_MAX_ADDRS, sizeof *addrs);
    char(*info)[120] = calloc((size_t)n, sizeof *info);
    tacl__probe_t *probe_h = NULL;
    int lfd = -1, port = 0;
    if (!cards || !rows || !ofds || !ifds || !mask || !expect || !want || !naddr || !addrs ||
        !info) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
        goto err;
    }
    for (int i = 0; i < n * TACL_PROBE_MAX_CONNS; i++)
        ofds[i] = ifds[i] = -1;

    /* 1. Listen and publish every address; rank 0's nonce becomes the run's. */
    eng_card_t mine = {.pid = (int32_t)getpid()};
    if (getrandom(&mine.nonce, sizeof mine.nonce, 0) != sizeof mine.nonce)
        mine.nonce = tacl__now_ns() ^ ((uint64_t)getpid() << 32);
    st = tacl__tcp_listen(&lfd, &port, eb);
    if (st == TACL_OK)
        st = tacl__tcp_local_addrs(tacl__setting_str(TACL_SET_SOCKET_IFNAME), port, mine.addr,
                                   TACL_TCP_MAX_ADDRS, &mine.naddr, eb);
    mine.status = st;
    tacl_status_t xst = tacl__xchg_allgather(cfg->xchg, &mine, sizeof mine, cards, eb);
    if (st != TACL_OK) goto err; /* this rank's own message stands */
    st = xst;
    if (st != TACL_OK) goto err;
    for (int r = 0; r < n; r++)
        if (cards[r].status != TACL_OK) {
            /* Every rank fails now instead of waiting for the one that cannot take part. */
            st = tacl__err(eb, (tacl_status_t)cards[r].status, TACL_SUB_NET,
                           "rank %d (host %s) could not set up its tcp listener (%s; its log says "
                           "why)",
                           r, cfg->host_ids[r] ? cfg->host_ids[r] : "?",
                           tacl_status_str((tacl_status_t)cards[r].status));
            goto err;
        }
    uint64_t nonce = cards[0].nonce;
    st = tacl__probe_start(lfd, me, n, nonce, &probe_h, eb);
    if (st != TACL_OK) goto err;
    lfd = -1;

    /* 2. Probe: connect to every higher rank that the topology allows. */
    for (int j = 0; j < n; j++) {
        naddr[j] = cards[j].naddr < TACL_TCP_MAX_ADDRS ? cards[j].naddr : TACL_TCP_MAX_ADDRS;
        memcpy(&addrs[j * TACL_TCP_MAX_ADDRS], cards[j].addr, sizeof cards[j].addr);
        int allowed = !cfg->allowed || (cfg->allowed[me * n + j] && cfg->allowed[j * n + me]);
        want[j] = j != me && allowed;
        if (j != me && !allowed) snprintf(info[j], sizeof info[j], "not used: topology forbids it");
    }
    char(*pinfo)[120] = calloc((size_t)n, sizeof *pinfo);
    if (!pinfo) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
        goto err;
    }
    tacl__probe_connect(probe_h, addrs, naddr, want, (int)nconns, full ? timeout : probe, ofds,
                        mask, pinfo);
    for (int j = 0; j < n; j++) {
        eng_row_t *r = &rows[me * n + j];
        if (want[j]) {
            r->ok = mask[j] & 1;
            r->mask = mask[j];
            memcpy(info[j], pinfo[j], sizeof info[j]);
        }
        snprintf(r->info, sizeof r->info, "%s", info[j]);
    }
    free(pinfo);

    /* 3. Everyone gets every row: the identical matrix. */
    eng_row_t *myrow = malloc(sizeof *myrow * (size_t)n);
    if (!myrow) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
        goto err;
    }
    memcpy(myrow, &rows[me * n], sizeof *myrow * (size_t)n);
    st = tacl__xchg_allgather(cfg->xchg, myrow, sizeof *myrow * (size_t)n, rows, eb);
    free(myrow);
    if (st != TACL_OK) goto err;
    /* Both ends of a pair tried: the lower rank's connection is used when it worked, else the
     * higher rank's (a pair that connects in one direction only is still a link). */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            e->reach[i * n + j] = e->reach[j * n + i] = rows[i * n + j].ok || rows[j * n + i].ok;
    for (int j = 0; j < n; j++) {
        if (j == me) continue;
        int lo = me < j ? me : j, hi = me < j ? j : me;
        int conn_by = rows[lo * n + hi].ok ? lo : rows[hi * n + lo].ok ? hi : -1;
        if (conn_by >= 0) {
            snprintf(e->info[j], sizeof e->info[j], "%.123s",
                     rows[conn_by * n + (lo + hi - conn_by)].info);
        } else if (!strcmp(rows[lo * n + hi].info, rows[hi * n + lo].info)) {
            snprintf(e->info[j], sizeof e->info[j], "%.123s", rows[lo * n + hi].info);
        } else {
            snprintf(e->info[j], sizeof e->info[j], "rank %d to %d: %.90s; rank %d to %d: %.90s",
                     lo, hi, rows[lo * n + hi].info, hi, lo, rows[hi * n + lo].info);
        }
        if (conn_by == j) expect[j] = rows[j * n + me].mask;
        if (conn_by != me)
            for (int k = 0; k < TACL_PROBE_MAX_CONNS; k++) {
                int *fd = &ofds[j * TACL_PROBE_MAX_CONNS + k];
                if (*fd >= 0) close(*fd); /* the peer's connection serves this pair */
                *fd = -1;
            }
    }
    if (full) {
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (!e->reach[i * n + j] &&
                    (!cfg->allowed || (cfg->allowed[i * n + j] && cfg->allowed[j * n + i]))) {
                    st = tacl__err(eb, TACL_ERR_UNREACHABLE, TACL_SUB_NET,
                                   "TACL_TOPO=full but rank %d (host %s) cannot connect to rank "
                                   "%d (host %s): %s",
                                   i, cfg->host_ids[i], j, cfg->host_ids[j], rows[i * n + j].info);
                    goto err;
                }
    }

    /* 4. Collect the connections the lower ranks made to us. From here on a rank that fails
     * still joins the last exchange (step 7), so that every rank fails at once. */
    st = tacl__probe_take_incoming(probe_h, expect, ifds, deadline, eb);
    if (st == TACL_OK) {
        tacl__probe_stop(probe_h);
        probe_h = NULL;
    }

    /* 5. Links, in the global order of pairs (so that the shm setups never wait in a cycle). */
    for (int j = 0; j < n && st == TACL_OK; j++) {
        if (j == me || !e->reach[me * n + j]) continue;
        int *fds = expect[j] ? &ifds[j * TACL_PROBE_MAX_CONNS] : &ofds[j * TACL_PROBE_MAX_CONNS];
        int shm_ok = !shm_disable && strcmp(e->hosts[j], e->hosts[me]) == 0;
        st = eng_build_link(e, j, fds, shm_ok, timeout, eb);
        for (int k = 0; k < TACL_PROBE_MAX_CONNS; k++)
            fds[k] = -1; /* owned by the link now */
        if (st != TACL_OK)
            tacl__err_prefix(eb, st, "rank %d: link to rank %d (host %s)", me, j, e->hosts[j]);
        else
            atomic_store(&e->next_hop[j], j);
    }

    /* 6. The progress thread takes over every link. */
    if (st == TACL_OK) {
        e->epfd = epoll_create1(EPOLL_CLOEXEC);
        e->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (e->epfd < 0 || e->evfd < 0)
            st = tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_NET, "epoll/eventfd: %s", strerror(errno));
    }
    if (st == TACL_OK) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->evfd, &ev);
        for (int j = 0; j < n && st == TACL_OK; j++) {
            eng_link_t *l = e->links[j];
            for (int k = 0; l && k < l->ntcp && st == TACL_OK; k++) {
                ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = l->tcp[k]};
                if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, l->tcp[k]->fd, &ev) != 0)
                    st = tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_NET, "epoll_ctl: %s",
                                   strerror(errno));
            }
        }
    }
    if (st == TACL_OK) {
        int pe = pthread_create(&e->pt, NULL, eng_progress, e);
        if (pe == 0)
            e->pt_started = 1;
        else
            st = tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_NET,
                           "cannot start the progress thread: %s", strerror(pe));
    }
    if (st != TACL_OK) {
        /* Close what this rank holds first: a peer waiting on one of these sockets (its shm
         * setup with us) sees the close now instead of at its deadline. */
        if (probe_h) tacl__probe_stop(probe_h);
        probe_h = NULL;
        for (int i = 0; i < n * TACL_PROBE_MAX_CONNS; i++) {
            if (ofds[i] >= 0) close(ofds[i]);
            if (ifds[i] >= 0) close(ifds[i]);
            ofds[i] = ifds[i] = -1;
        }
        for (int j = 0; j < n; j++) {
            eng_free_link(e->links[j]);
            e->links[j] = NULL;
        }
    }

    /* 7. Everyone's outcome; and nobody sends before every progress thread runs (heartbeats
     * start together). */
    int32_t mst = (int32_t)st, *msts = (int32_t *)(void *)rows; /* rows is large enough */
    tacl_status_t fst = tacl__xchg_allgather(cfg->xchg, &mst, sizeof mst, msts, eb);
    if (st != TACL_OK) goto err; /* this rank's own message stands */
    st = fst;
    if (st != TACL_OK) goto err;
    for (int r = 0; r < n; r++)
        if (msts[r] != TACL_OK) {
            st = tacl__err(eb, (tacl_status_t)msts[r], TACL_SUB_NET,
                           "rank %d (host %s) could not set up its links (%s; its log says why)", r,
                           cfg->host_ids[r] ? cfg->host_ids[r] : "?",
                           tacl_status_str((tacl_status_t)msts[r]));
            goto err;
        }
    atomic_store(&e->restart_clocks, 1); /* the progress thread owns the links' clocks */
    eng_wake(e);

    free(cards);
    free(rows);
    free(ofds);
    free(ifds);
    free(mask);
    free(expect);
    free(want);
    free(naddr);
    free(addrs);
    free(info);
    TACL_INFO(TACL_SUB_NET, "rank %d: engine up (%d ranks, %ld connections per peer)", me, n,
              nconns);
    *out = e;
    return TACL_OK;

err:
    if (probe_h) tacl__probe_stop(probe_h);
    if (lfd >= 0) close(lfd);
    for (int i = 0; ofds && ifds && i < n * TACL_PROBE_MAX_CONNS; i++) {
        if (ofds[i] >= 0) close(ofds[i]);
        if (ifds[i] >= 0) close(ifds[i]);
    }
    free(cards);
    free(rows);
    free(ofds);
    free(ifds);
    free(mask);
    free(expect);
    free(want);
    free(naddr);
    free(addrs);
    free(info);
    tacl__engine_destroy(e);
    return st;
}

/* ---- Queries. ---- */

const uint8_t *tacl__engine_reach(const tacl__engine_t *e)
{
    return e->reach;
}

const char *tacl__engine_link_info(const tacl__engine_t *e, int peer)
{
    if (peer < 0 || peer >= e->size) return "";
    return e->info[peer];
}

void tacl__engine_relay_stats(const tacl__engine_t *e, int src, int dst, uint64_t *cur,
                              uint64_t *peak)
{
    if (src >= e->size || dst < 0 || dst >= e->size) src = -1;
    eng_credit_relay_stats(e->credit, src, dst, cur, peak);
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

/* 1 when a path of live links leads from this rank to r. */
static int eng_live_path(const tacl__engine_t *e, int r)
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
    return !atomic_load(&e->dead[rank]) && eng_live_path(e, rank);
}

unsigned tacl__engine_live_gen(const tacl__engine_t *e)
{
    return atomic_load(&e->live_gen);
}

/* ---- Requests. ---- */

static tacl__req_t *eng_req_new(tacl__engine_t *e, int is_send, int peer,
                                const tacl__msg_key_t *key, const tacl__fp_t *fp, const void *buf,
                                size_t len)
{
    tacl__req_t *r = calloc(1, sizeof *r);
    if (!r) {
        tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_NET, "rank %d: out of memory", e->rank);
        return NULL;
    }
    r->is_send = is_send;
    r->peer = peer;
    r->cut_gen = atomic_load(&e->cut_gen);
    r->key = *key;
    if (fp) {
        r->fp = *fp;
        r->has_fp = 1;
    }
    r->buf = (uint8_t *)buf;
    r->len = len;
    return r;
}

static tacl_status_t eng_check_args(tacl__engine_t *e, const char *what, int peer,
                                    const tacl__msg_key_t *key, const void *buf, size_t len,
                                    tacl__req_t **req)
{
    if (!e || !key || !req || (len && !buf) || len > UINT32_MAX * (uint64_t)e->frag)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_NET, "%s: NULL argument", what);
    if (peer < 0 || peer >= e->size)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_NET,
                         "%s: rank %d out of range (world of %d)", what, peer, e->size);
    return TACL_OK;
}

tacl_status_t tacl__engine_isend(tacl__engine_t *e, int dst, const tacl__msg_key_t *key,
                                 const tacl__fp_t *fp, const void *buf, size_t len,
                                 tacl__req_t **req)
{
    TACL_CHECK(eng_check_args(e, "tacl_engine_isend", dst, key, buf, len, req));
    int hop = dst;
    if (dst != e->rank) {
        if (atomic_load(&e->dead[dst])) {
            pthread_mutex_lock(&e->live_mu);
            tacl_status_t st =
                tacl__err(NULL, TACL_ERR_PEER_LOST, TACL_SUB_NET, "rank %d (host %s) lost: %s", dst,
                          eng_host(e, dst), e->dead_how[dst]);
            pthread_mutex_unlock(&e->live_mu);
            return st;
        }
        hop = atomic_load(&e->next_hop[dst]);
        if (hop < 0 || !e->links[hop])
            return tacl__err(NULL, TACL_ERR_UNREACHABLE, TACL_SUB_NET,
                             "rank %d cannot send to rank %d (host %s): no direct link and no "
                             "route",
                             e->rank, dst, eng_host(e, dst));
    }
    tacl__req_t *r = eng_req_new(e, 1, dst, key, fp, buf, len);
    if (!r) return TACL_ERR_NOMEM;
    r->link = hop;
    tacl_status_t st = eng_push(e, r, 0);
    if (st != TACL_OK) {
        free(r);
        return st;
    }
    *req = r;
    return TACL_OK;
}

tacl_status_t tacl__engine_irecv(tacl__engine_t *e, int src, const tacl__msg_key_t *key,
                                 const tacl__fp_t *fp, void *buf, size_t len, tacl__req_t **req)
{
    TACL_CHECK(eng_check_args(e, "tacl_engine_irecv", src, key, buf, len, req));
    tacl__req_t *r = eng_req_new(e, 0, src, key, fp, buf, len);
    if (!r) return TACL_ERR_NOMEM;
    tacl_status_t st = eng_push(e, r, 0);
    if (st != TACL_OK) {
        free(r);
        return st;
    }
    *req = r;
    return TACL_OK;
}

int tacl__engine_test(tacl__req_t *req)
{
    return atomic_load_explicit(&req->done, memory_order_acquire);
}

static int eng_all_done(tacl__req_t **reqs, int n)
{
    for (int i = 0; i < n; i++)
        if (reqs[i] && !atomic_load_explicit(&reqs[i]->done, memory_order_acquire)) return 0;
    return 1;
}

static void eng_describe(const tacl__engine_t *e, const tacl__req_t *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s rank %d (host %s): %s of %zu bytes (comm %llx, tag %llu, seq %llu)",
             r->is_send ? "sending to" : "waiting for", r->peer, eng_host(e, r->peer),
             r->is_send ? "send" : "receive", r->len, (unsigned long long)r->key.comm_id,
             (unsigned long long)r->key.tag, (unsigned long long)r->key.seq);
}

/* The reason the wait cannot finish, or TACL_OK while it still may. */
static tacl_status_t eng_wait_failure(tacl__engine_t *e, tacl__req_t **reqs, int n,
                                      tacl__req_t *const *watch, int nw, const int *group,
                                      int gsize, uint64_t deadline_ns, uint64_t start_ns,
                                      tacl__errbuf_t *eb)
{
    for (int i = 0; i < n; i++) {
        tacl__req_t *r = reqs[i];
        if (r && atomic_load_explicit(&r->done, memory_order_acquire) && r->st != TACL_OK)
            return tacl__err(eb, r->st, TACL_SUB_NET, "%s", r->msg);
    }
    for (int i = 0; i < nw; i++) {
        tacl__req_t *r = watch[i];
        if (r && atomic_load_explicit(&r->done, memory_order_acquire) && r->st != TACL_OK)
            return tacl__err(eb, r->st, TACL_SUB_NET, "%s", r->msg);
    }
    pthread_mutex_lock(&e->live_mu);
    int any_cut = e->cut_how[0] != '\0';
    pthread_mutex_unlock(&e->live_mu);
    /* Checked before deaths: a member that failed on the cut and exited looks dead to the
     * others a moment later, but the cut is the cause worth reporting.
     * A link between two members cut while the operation ran may have dropped its frames
     * (they are not resent over another path): no rank can tell whether its messages will still
     * come, so every member fails now, naming the link, rather than at the deadline. */
    unsigned gen = atomic_load(&e->cut_gen);
    for (int i = 0; any_cut && group && i < n; i++) {
        if (!reqs[i] || atomic_load(&reqs[i]->done) || reqs[i]->cut_gen == gen) continue;
        int in_a = 0, in_b = 0;
        pthread_mutex_lock(&e->live_mu);
        for (int k = 0; k < gsize; k++) {
            in_a |= group[k] == e->cut_a;
            in_b |= group[k] == e->cut_b;
        }
        tacl_status_t st = TACL_OK;
        if (in_a && in_b)
            st = tacl__err(eb, TACL_ERR_UNREACHABLE, TACL_SUB_NET,
                           "rank %d: a link between members of this operation went down while it "
                           "ran: %s",
                           e->rank, e->cut_how);
        pthread_mutex_unlock(&e->live_mu);
        if (st != TACL_OK) return st;
        break;
    }
    for (int pass = 0; pass < 2; pass++) {
        int m = pass == 0 ? gsize : n;
        for (int i = 0; i < m; i++) {
            int r;
            if (pass == 0) {
                r = group ? group[i] : -1;
            } else {
                if (!reqs[i] || atomic_load(&reqs[i]->done)) continue;
                r = reqs[i]->peer;
            }
            if (r < 0 || r >= e->size || r == e->rank) continue;
            if (atomic_load(&e->dead[r])) {
                pthread_mutex_lock(&e->live_mu);
                tacl_status_t st =
                    tacl__err(eb, TACL_ERR_PEER_LOST, TACL_SUB_NET, "rank %d (host %s) lost: %s", r,
                              eng_host(e, r), e->dead_how[r]);
                pthread_mutex_unlock(&e->live_mu);
                return st;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        tacl__req_t *r = reqs[i];
        if (!r || atomic_load(&r->done) || r->peer == e->rank) continue;
        if (!eng_live_path(e, r->peer)) {
            /* Say what broke the paths: lost relays and cut links. */
            char why[600];
            size_t used = 0;
            pthread_mutex_lock(&e->live_mu);
            for (int d = 0; d < e->size && used < 400; d++)
                if (atomic_load(&e->dead[d]))
                    used += (size_t)snprintf(why + used, sizeof why - used,
                                             "%srank %d (host %s) lost: %.150s", used ? "; " : "",
                                             d, eng_host(e, d), e->dead_how[d]);
            if (e->cut_how[0] && used < sizeof why - 1)
                snprintf(why + used, sizeof why - used, "%s%.180s", used ? "; " : "", e->cut_how);
            else if (!used)
                snprintf(why, sizeof why, "no direct link and no route");
            tacl_status_t st = tacl__err(eb, TACL_ERR_UNREACHABLE, TACL_SUB_NET,
                                         "rank %d (host %s) is unreachable from rank %d but "
                                         "not known to be lost: %s",
                                         r->peer, eng_host(e, r->peer), e->rank, why);
            pthread_mutex_unlock(&e->live_mu);
            return st;
        }
    }
    /* A member of the operation cut off from this rank (no path of live links) cannot take
     * part, whoever this rank waits for now: fail like for a dead member, naming the link. */
    for (int i = 0; any_cut && group && i < gsize; i++) {
        int r = group[i];
        if (r < 0 || r >= e->size || r == e->rank || eng_live_path(e, r)) continue;
        pthread_mutex_lock(&e->live_mu);
        tacl_status_t st = tacl__err(eb, TACL_ERR_UNREACHABLE, TACL_SUB_NET,
                                     "rank %d (host %s), a member of this operation, is cut off "
                                     "from rank %d: %s",
                                     r, eng_host(e, r), e->rank, e->cut_how);
        pthread_mutex_unlock(&e->live_mu);
        return st;
    }
    if (tacl__now_ns() < deadline_ns) return TACL_OK;
    char what[512] = "";
    size_t used = 0;
    int shown = 0, missing = 0;
    for (int i = 0; i < n; i++) {
        tacl__req_t *r = reqs[i];
        if (!r || atomic_load(&r->done)) continue;
        missing++;
        if (shown < 3 && used < sizeof what - 1) {
            char one[200];
            eng_describe(e, r, one, sizeof one);
            used +=
                (size_t)snprintf(what + used, sizeof what - used, "%s%s", shown ? "; " : "", one);
            shown++;
        }
    }
    if (used > sizeof what - 1) used = sizeof what - 1;
    return tacl__err(eb, TACL_ERR_TIMEOUT, TACL_SUB_NET, "rank %d timed out after %.1f s %s%s",
                     e->rank, (double)(tacl__now_ns() - start_ns) * 1e-9, what,
                     missing > shown ? " (and more)" : "");
}

/* Takes the requests back from the progress thread and frees them. */
static void eng_release(tacl__engine_t *e, tacl__req_t **reqs, int n)
{
    int pending = 0;
    for (int i = 0; i < n; i++) {
        tacl__req_t *r = reqs[i];
        if (!r) continue;
        if (atomic_load_explicit(&r->done, memory_order_acquire)) {
            free(r);
            reqs[i] = NULL;
        } else if (eng_push(e, r, 1) == TACL_OK) {
            pending++;
        } else {
            reqs[i] = NULL; /* cannot cancel: leaked rather than freed under the thread */
        }
    }
    uint64_t deadline = tacl__deadline_ns(5.0);
    for (int i = 0; i < n && pending; i++) {
        tacl__req_t *r = reqs[i];
        if (!r) continue;
        while (!atomic_load_explicit(&r->cancelled, memory_order_acquire) &&
               tacl__now_ns() < deadline)
            usleep(50);
        if (atomic_load_explicit(&r->cancelled, memory_order_acquire))
            free(r);
        else
            TACL_WARN(TACL_SUB_NET, "rank %d: progress thread did not release a request", e->rank);
        reqs[i] = NULL;
    }
}

tacl_status_t tacl__engine_wait(tacl__engine_t *e, tacl__req_t **reqs, int n, uint64_t deadline_ns,
                                const int *group, int group_size, tacl__errbuf_t *eb)
{
    return tacl__engine_wait_watch(e, reqs, n, NULL, 0, deadline_ns, group, group_size, eb);
}

tacl_status_t tacl__engine_wait_watch(tacl__engine_t *e, tacl__req_t **reqs, int n,
                                      tacl__req_t *const *watch, int nw, uint64_t deadline_ns,
                                      const int *group, int group_size, tacl__errbuf_t *eb)
{
    uint64_t start = tacl__now_ns();
    tacl_status_t st = TACL_OK;
    while (!eng_all_done(reqs, n) && tacl__now_ns() - start < ENG_WAIT_SPIN_NS)
        sched_yield();
    while (!eng_all_done(reqs, n)) {
        st = eng_wait_failure(e, reqs, n, watch, nw, group, group_size, deadline_ns, start, eb);
        if (st != TACL_OK) break;
        pthread_mutex_lock(&e->done_mu);
        atomic_fetch_add(&e->waiters, 1);
        if (!eng_all_done(reqs, n)) {
            uint64_t now = tacl__now_ns(), until = now + 100000000ull;
            if (until > deadline_ns) until = deadline_ns > now ? deadline_ns : now;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t abs =
                (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + (until - now);
            ts.tv_sec = (time_t)(abs / 1000000000ull);
            ts.tv_nsec = (long)(abs % 1000000000ull);
            pthread_cond_timedwait(&e->done_cv, &e->done_mu, &ts);
        }
        atomic_fetch_sub(&e->waiters, 1);
        pthread_mutex_unlock(&e->done_mu);
    }
    if (st == TACL_OK) {
        for (int i = 0; i < n; i++)
            if (reqs[i] && reqs[i]->st != TACL_OK) {
                st = tacl__err(eb, reqs[i]->st, TACL_SUB_NET, "%s", reqs[i]->msg);
                break;
            }
    }
    eng_release(e, reqs, n);
    return st;
}

tacl_status_t tacl__engine_abort_op(tacl__engine_t *e, const int *group, int n, uint64_t comm_id,
                                    uint64_t seq, tacl_status_t st, const char *msg,
                                    uint64_t deadline_ns)
{
    size_t tl = strlen(msg);
    if (tl > 380) tl = 380;
    uint8_t *pay = malloc(sizeof(int32_t) + tl);
    tacl__req_t **reqs = calloc((size_t)n, sizeof *reqs);
    if (!pay || !reqs) {
        free(pay);
        free(reqs);
        return TACL_ERR_NOMEM;
    }
    int32_t st32 = (int32_t)st;
    memcpy(pay, &st32, sizeof st32);
    memcpy(pay + sizeof st32, msg, tl);
    tacl__msg_key_t key = {comm_id, TACL_ENGINE_ABORT_TAG, seq};
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (group[i] == e->rank || !tacl__engine_peer_alive(e, group[i])) continue;
        if (tacl__engine_isend(e, group[i], &key, NULL, pay, sizeof st32 + tl, &reqs[k]) == TACL_OK)
            k++;
    }
    TACL_INFO(TACL_SUB_NET, "rank %d: telling %d rank(s) that operation %llu of comm %llx failed",
              e->rank, k, (unsigned long long)seq, (unsigned long long)comm_id);
    tacl__errbuf_t eb;
    tacl_status_t ws = tacl__engine_wait(e, reqs, k, deadline_ns, NULL, 0, &eb);
    free(reqs);
    free(pay);
    return ws;
}
