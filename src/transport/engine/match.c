/* match.c — the match table: exact-key (comm, src, tag, seq) entries for posted receives and for
 * messages that arrived before their receive (buffered in recycled unexpected-message buffers),
 * and abort notices of other ranks (tacl__engine_abort_op) that fail receives of their operation.
 *
 * A stream that runs ahead of its receives lands in unexpected-message buffers; large ones come
 * from mmap in malloc, and a fresh mapping per message costs more in page faults than the copy.
 * The progress thread keeps a few freed ones for reuse. */
#include "transport/engine/engine_int.h"

#include "clock.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t *tacl__eng_buf_get(tacl__engine_t *e, size_t n, size_t *cap)
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

void tacl__eng_buf_put(tacl__engine_t *e, uint8_t *p, size_t cap)
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

static size_t eng_hash(int src, const tacl__msg_key_t *k)
{
    uint64_t h = (uint64_t)src * 0x9e3779b97f4a7c15ull;
    h ^= k->comm_id + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
    h ^= k->tag + 0x8cb92ba72f3d8dd7ull + (h << 6) + (h >> 2);
    h ^= k->seq + 0x7f4a7c159e3779b9ull + (h << 6) + (h >> 2);
    return (size_t)(h % ENG_MSG_BUCKETS);
}

tacl__eng_msg_t *tacl__eng_msg_find(tacl__engine_t *e, int src, const tacl__msg_key_t *k)
{
    for (tacl__eng_msg_t *m = e->bucket[eng_hash(src, k)]; m; m = m->next)
        if (m->src == src && m->key.comm_id == k->comm_id && m->key.tag == k->tag &&
            m->key.seq == k->seq)
            return m;
    return NULL;
}

tacl__eng_msg_t *tacl__eng_msg_new(tacl__engine_t *e, int src, const tacl__msg_key_t *k)
{
    tacl__eng_msg_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->src = src;
    m->key = *k;
    size_t b = eng_hash(src, k);
    m->next = e->bucket[b];
    e->bucket[b] = m;
    return m;
}

void tacl__eng_msg_free(tacl__engine_t *e, tacl__eng_msg_t *m)
{
    tacl__eng_msg_t **pp = &e->bucket[eng_hash(m->src, &m->key)];
    while (*pp && *pp != m)
        pp = &(*pp)->next;
    if (*pp) *pp = m->next;
    tacl__eng_buf_put(e, m->own, m->own_cap);
    free(m);
}

/* 1 (and the request's message written) when message m cannot satisfy receive r. */
int tacl__eng_mismatch(tacl__engine_t *e, tacl__req_t *r, const tacl__eng_msg_t *m)
{
    /* Different calls first: they explain a different length too. */
    if (r->has_fp && m->has_fp && !tacl__fp_equal(&r->fp, &m->fp)) {
        char theirs[160], ours[160], tag[40] = "";
        tacl__fp_format(&m->fp, theirs, sizeof theirs);
        tacl__fp_format(&r->fp, ours, sizeof ours);
        if (r->key.tag < TACL_ENGINE_AGREE_TAG)
            snprintf(tag, sizeof tag, " (tag %llu)", (unsigned long long)r->key.tag);
        int k = snprintf(r->msg, sizeof r->msg,
                         "rank %d (host %s) called %s but rank %d called %s: %s%s", r->peer,
                         eng_host(e, r->peer), theirs, e->rank, ours, tacl__fp_diff(&m->fp, &r->fp),
                         tag);
        if (k >= (int)sizeof r->msg) memcpy(r->msg + sizeof r->msg - 4, "...", 4); /* cut */
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
        tacl__eng_msg_t *m = e->bucket[b];
        while (m) {
            tacl__eng_msg_t *next = m->next;
            if (m->req && !m->have_hdr && m->key.comm_id == comm_id && m->key.seq == seq &&
                m->key.tag != TACL_ENGINE_ABORT_TAG) {
                tacl__req_t *r = m->req;
                m->req = NULL;
                snprintf(r->msg, sizeof r->msg, "%s", msg);
                tacl__eng_msg_free(e, m);
                eng_complete(e, r, st);
            }
            m = next;
        }
    }
}

/* An abort notice (tacl__engine_abort_op) has arrived: remember it, fail what waits on it. */
static void eng_poison_arrive(tacl__engine_t *e, tacl__eng_msg_t *m)
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
void tacl__eng_msg_done(tacl__engine_t *e, tacl__eng_msg_t *m)
{
    if (m->key.tag == TACL_ENGINE_ABORT_TAG && !m->req) {
        eng_poison_arrive(e, m);
        tacl__eng_msg_free(e, m);
        return;
    }
    if (m->req) {
        if (m->dest != m->req->buf && m->total) memcpy(m->req->buf, m->own, m->total);
        tacl__req_t *r = m->req;
        m->req = NULL;
        tacl__eng_msg_free(e, m);
        eng_complete(e, r, TACL_OK);
    } else if (!m->dest) {
        tacl__eng_msg_free(e, m); /* consumed by a receive that failed on it */
    }
    /* else: an unexpected message, complete, waiting in the table for its receive */
}

/* The progress thread's side of tacl__engine_irecv. */
void tacl__eng_post_recv(tacl__engine_t *e, tacl__req_t *r)
{
    unsigned np = e->npoison < ENG_POISON_SLOTS ? e->npoison : ENG_POISON_SLOTS;
    for (unsigned i = 0; i < np; i++) {
        if (e->poison[i].comm_id != r->key.comm_id || e->poison[i].seq != r->key.seq) continue;
        snprintf(r->msg, sizeof r->msg, "%s", e->poison[i].msg);
        eng_complete(e, r, e->poison[i].st);
        return;
    }
    tacl__eng_msg_t *m = tacl__eng_msg_find(e, r->peer, &r->key);
    if (!m) {
        m = tacl__eng_msg_new(e, r->peer, &r->key);
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
        tacl__eng_cma_pull(e, m);
        return;
    }
    if (tacl__eng_mismatch(e, r, m)) {
        /* The message is consumed by this failed receive; fragments still due are dropped. */
        m->dest = NULL;
        tacl__eng_buf_put(e, m->own, m->own_cap);
        m->own = NULL;
        if (m->got == m->total) tacl__eng_msg_free(e, m);
        eng_complete(e, r, TACL_ERR_MISMATCH);
        return;
    }
    if (m->got == m->total) {
        if (m->total) memcpy(r->buf, m->own, m->total);
        tacl__eng_msg_free(e, m);
        eng_complete(e, r, TACL_OK);
        return;
    }
    m->req = r; /* still arriving into own; copied on completion */
}

/* A DATA fragment header for this rank arrived: the entry its payload belongs to, or NULL when
 * the payload is to be dropped. */
tacl__eng_msg_t *tacl__eng_msg_arrive(tacl__engine_t *e, const tacl__frame_hdr_t *h)
{
    tacl__msg_key_t k = {h->comm_id, h->tag, h->seq};
    tacl__eng_msg_t *m = tacl__eng_msg_find(e, h->src, &k);
    if (!m) {
        m = tacl__eng_msg_new(e, h->src, &k);
        if (!m || !(m->own = tacl__eng_buf_get(e, h->total, &m->own_cap))) {
            TACL_WARN(TACL_SUB_NET, "rank %d: out of memory buffering %llu bytes from rank %d",
                      e->rank, (unsigned long long)h->total, h->src);
            if (m) tacl__eng_msg_free(e, m);
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
        if (tacl__eng_mismatch(e, m->req, m)) {
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
