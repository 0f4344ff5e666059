/* mq.c — the broadcast message queue's public calls (tacl_mq_*): collective creation (agreed
 * options, the rings of every host, the cross-host path), enqueue on the writer, dequeue (a
 * view or a copy) and release on the readers, liveness through the engine, and the errors that
 * leave a queue unusable. Roles: the writer; a local reader (reads its host's ring); a host
 * leader (first rank of a host without the writer: receives over the engine and, when its host
 * has other ranks, writes their ring). */
#include "group/mq.h"

#include "boot/store_coll.h"
#include "clock.h"
#include "coll/coll.h"
#include "settings.h"
#include "transport/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MQ_CHUNK_MIN  64u
#define MQ_CHUNK_MAX  (1ull << 30)
#define MQ_CHUNKS_MIN 2u
#define MQ_CHUNKS_MAX (1u << 20)
#define MQ_RING_MAX   (1ull << 40)

enum { MQ_WRITER, MQ_READER, MQ_LEADER };

struct tacl_mq {
    tacl__errbuf_t eb;
    tacl_comm_t *comm;
    uint64_t id;
    int writer, role;
    mq_ring_t *ring; /* this host's ring (NULL when this rank is alone on its host) */
    mq_remote_t *remote;
    int *group; /* world ranks of the members */
    unsigned live_gen;
    /* Reader state. */
    int held;        /* a view is out (tacl_mq_release not yet called) */
    int held_ring;   /* ... and it points into the ring */
    int republished; /* leader: the current message is in this host's ring */
    char *priv;
    size_t priv_cap;
    tacl_status_t broken;
    char broken_msg[TACL_ERRMSG_MAX];
};

/* ---- Errors and liveness. ---- */

static tacl_status_t mq_fail(tacl_mq_t *q, tacl_status_t st, int breaks)
{
    tacl__err_keep(&q->eb, st);
    if (breaks && q->broken == TACL_OK) {
        q->broken = st;
        snprintf(q->broken_msg, sizeof q->broken_msg, "%s", q->eb.msg);
        /* The readers of a ring this rank writes learn the cause, not a mere close. */
        if (q->role != MQ_READER) mq_ring_abort(q->ring, st, q->broken_msg);
    }
    return st;
}

static tacl_status_t mq_usable(tacl_mq_t *q, const char *what)
{
    if (q->broken == TACL_OK) return TACL_OK;
    return tacl__err(&q->eb, q->broken, TACL_SUB_COLL,
                     "%s: the message queue is unusable after an earlier error: %s", what,
                     q->broken_msg);
}

/* Any member lost (dead or cut off), as the engine knows it: one atomic load while nothing
 * changed. */
static tacl_status_t mq_live(void *ctx, tacl__errbuf_t *eb)
{
    tacl_mq_t *q = ctx;
    tacl_comm_t *c = q->comm;
    unsigned g = comm_live_gen(c);
    if (g == q->live_gen) return TACL_OK;
    for (int r = 0; r < c->size; r++) {
        if (r == c->rank || tacl__engine_peer_alive(c->world->engine, c->wranks[r])) continue;
        return tacl__err(eb, TACL_ERR_PEER_LOST, TACL_SUB_COLL,
                         "message queue: %s rank %d (host %s) is lost (dead or cut off)",
                         r == q->writer ? "the writer," : "reader", r, tacl_comm_host_id(c, r));
    }
    q->live_gen = g;
    return TACL_OK;
}

static uint64_t mq_deadline(tacl_mq_t *q)
{
    return tacl__deadline_ns(q->comm->timeout_s);
}

/* ---- Create / destroy. ---- */

typedef struct {
    uint64_t writer, chunk_bytes, chunks;
} mq_agree_t;

typedef struct {
    int32_t st;
    char why[300];
} mq_outcome_t;

static tacl_status_t mq_open_ring(tacl_mq_t *q, const mq_agree_t *o, uint64_t spin_ns)
{
    tacl_comm_t *c = q->comm;
    if (c->local_size < 2) return TACL_OK;
    int h = c->host_of[c->rank];
    int rw = h == c->host_of[q->writer] ? q->writer : c->leaders[h];
    int wi = 0;
    const char **hosts = malloc((size_t)c->local_size * sizeof *hosts);
    if (!hosts) return tacl__err(&q->eb, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    for (int i = 0; i < c->local_size; i++) {
        hosts[i] = tacl_comm_host_id(c, c->local_ranks[i]);
        if (c->local_ranks[i] == rw) wi = i;
    }
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%smq%llx/h%d/", c->world->boot->prefix,
             (unsigned long long)q->id, h);
    boot_store_xchg_ctx_t ctx;
    tacl__xchg_t x;
    boot_store_xchg_init(&x, &ctx, c->world->boot->store, prefix, c->local_rank, c->local_size);
    mq_ring_config_t cfg = {
        &x,      wi, (size_t)o->chunk_bytes, (size_t)o->chunks, spin_ns, c->local_ranks, hosts,
        mq_live, q};
    tacl_status_t st = mq_ring_open(&cfg, &q->ring, &q->eb);
    free(hosts);
    return st;
}

static tacl_status_t mq_open_remote(tacl_mq_t *q, const mq_agree_t *o)
{
    tacl_comm_t *c = q->comm;
    int wh = c->host_of[q->writer];
    if (c->nhosts < 2 || (q->role == MQ_READER)) return TACL_OK;
    int *lw = malloc((size_t)c->nhosts * sizeof *lw), *lc = malloc((size_t)c->nhosts * sizeof *lc);
    const char **lh = malloc((size_t)c->nhosts * sizeof *lh);
    tacl_status_t st;
    if (!lw || !lc || !lh) {
        st = tacl__err(&q->eb, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
        goto out;
    }
    int n = 0;
    if (q->role == MQ_WRITER)
        for (int h = 0; h < c->nhosts; h++) {
            if (h == wh) continue;
            lc[n] = c->leaders[h];
            lw[n] = c->wranks[c->leaders[h]];
            lh[n] = tacl_comm_host_id(c, c->leaders[h]);
            n++;
        }
    mq_remote_config_t cfg = {
        c->world->engine, q->id, c->wranks[q->writer], n, lw, lc, lh, q->group, c->size, o->chunks};
    st = mq_remote_create(&cfg, &q->remote, &q->eb);
out:
    free(lw);
    free(lc);
    free(lh);
    return st;
}

static void mq_free(tacl_mq_t *q, tacl_status_t close_st, const char *why)
{
    if (!q) return;
    mq_ring_close(q->ring, close_st, why);
    mq_remote_destroy(q->remote);
    free(q->group);
    free(q->priv);
    free(q);
}

tacl_status_t tacl_mq_create(tacl_comm_t *comm, int writer, const tacl_mq_opts_t *opts,
                             tacl_mq_t **out)
{
    TACL_CHECK(coll_check_comm(comm, "tacl_mq_create"));
    tacl_comm_t *c = comm;
    if (!out)
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL, "tacl_mq_create: out is NULL");
    mq_agree_t mine = {
        (uint64_t)(int64_t)writer,
        opts && opts->chunk_bytes ? opts->chunk_bytes
                                  : (uint64_t)tacl__setting_int(TACL_SET_MQ_CHUNK_BYTES),
        opts && opts->chunks ? opts->chunks : (uint64_t)tacl__setting_int(TACL_SET_MQ_CHUNKS)};
    double spin_us =
        opts && opts->spin_us != 0 ? opts->spin_us : (double)tacl__setting_int(TACL_SET_MQ_SPIN_US);
    uint64_t spin_ns = spin_us > 0 ? (uint64_t)(spin_us * 1000.0) : 0;
    /* Every rank checks the same agreed values, so all fail alike; first agree on them. */
    mq_agree_t *all = malloc((size_t)c->size * sizeof *all);
    if (!all) return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    tacl_status_t st = tacl_all_gather(c, &mine, all, 3, TACL_UINT64);
    if (st != TACL_OK) {
        free(all);
        return tacl__err_prefix(&c->err, st, "tacl_mq_create");
    }
    for (int r = 1; r < c->size; r++)
        if (memcmp(&all[r], &all[0], sizeof mine) != 0) {
            st = tacl__err(&c->err, TACL_ERR_MISMATCH, TACL_SUB_COLL,
                           "tacl_mq_create: rank 0 passed writer %lld, %llu-byte chunks x %llu but "
                           "rank %d passed writer %lld, %llu-byte chunks x %llu",
                           (long long)all[0].writer, (unsigned long long)all[0].chunk_bytes,
                           (unsigned long long)all[0].chunks, r, (long long)all[r].writer,
                           (unsigned long long)all[r].chunk_bytes,
                           (unsigned long long)all[r].chunks);
            free(all);
            return st;
        }
    mq_agree_t o = all[0];
    free(all);
    if ((int64_t)o.writer < 0 || (int64_t)o.writer >= c->size)
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "tacl_mq_create: writer %lld out of range (communicator size %d)",
                         (long long)(int64_t)o.writer, c->size);
    if (o.chunk_bytes < MQ_CHUNK_MIN || o.chunk_bytes > MQ_CHUNK_MAX || o.chunks < MQ_CHUNKS_MIN ||
        o.chunks > MQ_CHUNKS_MAX || o.chunk_bytes * o.chunks > MQ_RING_MAX)
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "tacl_mq_create: %llu chunks of %llu bytes: chunks must be %u..%u, chunk "
                         "bytes %u..%llu, and the ring at most %llu bytes",
                         (unsigned long long)o.chunks, (unsigned long long)o.chunk_bytes,
                         MQ_CHUNKS_MIN, MQ_CHUNKS_MAX, MQ_CHUNK_MIN, MQ_CHUNK_MAX, MQ_RING_MAX);

    tacl_mq_t *q = calloc(1, sizeof *q);
    if (!q || !(q->group = malloc((size_t)c->size * sizeof *q->group))) {
        free(q);
        return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    }
    memcpy(q->group, c->wranks, (size_t)c->size * sizeof *q->group);
    q->comm = c;
    q->writer = (int)o.writer;
    /* The all_gather above advanced the operation counter alike on every rank. */
    q->id = comm_derive_id(c->id, 0x6d7175657565ull, c->seq);
    q->live_gen = comm_live_gen(c) - 1; /* look once at the first check */
    int h = c->host_of[c->rank];
    q->role = c->rank == q->writer                                     ? MQ_WRITER
              : h != c->host_of[q->writer] && c->leaders[h] == c->rank ? MQ_LEADER
                                                                       : MQ_READER;
    st = mq_open_ring(q, &o, spin_ns);
    if (st == TACL_OK) st = mq_open_remote(q, &o);
    /* All ranks or none: every rank learns every other's outcome, and the first failure's
     * cause. */
    mq_outcome_t mo = {(int32_t)st, ""}, *oks = malloc((size_t)c->size * sizeof *oks);
    if (st != TACL_OK) snprintf(mo.why, sizeof mo.why, "%.*s", (int)sizeof mo.why - 1, q->eb.msg);
    if (!oks) {
        st = tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    } else {
        tacl_status_t gst = tacl_all_gather(c, &mo, oks, sizeof mo, TACL_UINT8);
        if (gst != TACL_OK) {
            st = st != TACL_OK ? st : gst;
        } else {
            for (int r = 0; r < c->size; r++)
                if (oks[r].st != TACL_OK) {
                    st = r == c->rank ? st : (tacl_status_t)oks[r].st;
                    tacl__err(&c->err, st, TACL_SUB_COLL, "tacl_mq_create: rank %d (host %s): %.*s",
                              r, tacl_comm_host_id(c, r), (int)sizeof oks[r].why - 1, oks[r].why);
                    break;
                }
        }
    }
    free(oks);
    if (st != TACL_OK) {
        tacl__err_keep(&c->err, st);
        mq_free(q, TACL_ERR_CLOSED, "message queue: the queue could not be created");
        return st;
    }
    *out = q;
    return TACL_OK;
}

void tacl_mq_destroy(tacl_mq_t *q)
{
    if (!q) return;
    char why[160];
    snprintf(why, sizeof why,
             "message queue: rank %d closed the queue (the writer of this host's ring)",
             q->comm->rank);
    if (q->role == MQ_WRITER && q->broken == TACL_OK) {
        double t = q->comm->timeout_s < 2.0 ? q->comm->timeout_s : 2.0;
        mq_remote_close(q->remote, tacl__deadline_ns(t));
    }
    mq_free(q, TACL_ERR_CLOSED, why);
}

const char *tacl_mq_last_error(const tacl_mq_t *q)
{
    return q ? q->eb.msg : tacl_last_error();
}

/* ---- Writer. ---- */

tacl_status_t tacl_mq_enqueue(tacl_mq_t *q, const void *buf, size_t len)
{
    if (!q) return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_COLL, "tacl_mq_enqueue: NULL queue");
    TACL_CHECK(mq_usable(q, "tacl_mq_enqueue"));
    if (q->role != MQ_WRITER)
        return tacl__err(&q->eb, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "tacl_mq_enqueue: rank %d is a reader of this queue (the writer is rank "
                         "%d)",
                         q->comm->rank, q->writer);
    if (!buf && len)
        return tacl__err(&q->eb, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "tacl_mq_enqueue: NULL buffer with %zu bytes", len);
    tacl_status_t st = mq_live(q, &q->eb);
    if (st != TACL_OK) return mq_fail(q, st, 1);
    uint64_t deadline = mq_deadline(q);
    int partial = 0;
    /* Room everywhere before anything is written: a full ring or window then times out with
     * nothing queued anywhere, and the queue stays usable. */
    if (q->remote && (st = mq_remote_reserve(q->remote, deadline, &q->eb)) != TACL_OK)
        return mq_fail(q, st, st != TACL_ERR_TIMEOUT);
    if (q->ring && (st = mq_ring_put(q->ring, buf, len, deadline, &partial, &q->eb)) != TACL_OK)
        return mq_fail(q, st, partial || st != TACL_ERR_TIMEOUT);
    if (q->remote && (st = mq_remote_send(q->remote, buf, len, deadline, &q->eb)) != TACL_OK) {
        /* The local readers have it and some hosts may not: the queue cannot go on. */
        return mq_fail(q, st, 1);
    }
    return TACL_OK;
}

/* ---- Readers. ---- */

static tacl_status_t mq_grow(tacl_mq_t *q, size_t len)
{
    if (len <= q->priv_cap) return TACL_OK;
    char *nb = realloc(q->priv, len);
    if (!nb)
        return tacl__err(&q->eb, TACL_ERR_NOMEM, TACL_SUB_COLL,
                         "message queue: out of memory for a message of %zu bytes", len);
    q->priv = nb;
    q->priv_cap = len;
    return TACL_OK;
}

static tacl_status_t mq_reader_check(tacl_mq_t *q, const char *what)
{
    TACL_CHECK(mq_usable(q, what));
    if (q->role == MQ_WRITER)
        return tacl__err(&q->eb, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "%s: rank %d is the writer of this queue", what, q->comm->rank);
    if (q->held)
        return tacl__err(&q->eb, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "%s: the previous message is still held; call tacl_mq_release first",
                         what);
    return TACL_OK;
}

/* A failure while reading: a timeout keeps the queue (the message will still come); anything
 * else (a lost peer, a closed queue) ends it. */
static tacl_status_t mq_read_fail(tacl_mq_t *q, tacl_status_t st)
{
    if (st == TACL_ERR_TIMEOUT)
        tacl__err_prefix(NULL, st, "message queue written by rank %d (host %s), read by rank %d",
                         q->writer, tacl_comm_host_id(q->comm, q->writer), q->comm->rank);
    return mq_fail(q, st, st != TACL_ERR_TIMEOUT);
}

/* Leader: the next message from the writer, written into this host's ring once. */
static tacl_status_t mq_leader_next(tacl_mq_t *q, const void **buf, size_t *len, uint64_t dl)
{
    tacl_status_t st = mq_remote_recv(q->remote, buf, len, dl, &q->eb);
    if (st != TACL_OK) return mq_read_fail(q, st);
    if (q->ring && !q->republished) {
        int partial = 0;
        st = mq_ring_put(q->ring, *buf, *len, dl, &partial, &q->eb);
        if (st != TACL_OK) return mq_read_fail(q, st); /* a retry resumes the same message */
        q->republished = 1;
    }
    return TACL_OK;
}

static tacl_status_t mq_leader_done(tacl_mq_t *q)
{
    q->republished = 0;
    tacl_status_t st = mq_remote_done(q->remote, mq_deadline(q), &q->eb);
    return st == TACL_OK ? st : mq_fail(q, st, 1);
}

tacl_status_t tacl_mq_dequeue(tacl_mq_t *q, const void **buf, size_t *len)
{
    if (!q) return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_COLL, "tacl_mq_dequeue: NULL queue");
    TACL_CHECK(mq_reader_check(q, "tacl_mq_dequeue"));
    if (!buf || !len)
        return tacl__err(&q->eb, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "tacl_mq_dequeue: buf and len must not be NULL");
    uint64_t dl = mq_deadline(q);
    const void *v;
    size_t n;
    tacl_status_t st;
    if (q->role == MQ_LEADER) {
        TACL_CHECK(mq_leader_next(q, &v, &n, dl));
        q->held = 1;
        q->held_ring = 0;
    } else {
        if ((st = mq_ring_next(q->ring, &n, dl, &q->eb)) != TACL_OK ||
            (st = mq_ring_view(q->ring, &v, dl, &q->eb)) != TACL_OK)
            return mq_read_fail(q, st);
        if (v) {
            q->held_ring = 1;
        } else {
            /* Larger than the ring: it streams through, into a private copy. */
            TACL_CHECK(mq_grow(q, n));
            if ((st = mq_ring_copy(q->ring, q->priv, dl, &q->eb)) != TACL_OK)
                return mq_read_fail(q, st);
            v = q->priv;
            q->held_ring = 0;
        }
        q->held = 1;
    }
    *buf = v;
    *len = n;
    return TACL_OK;
}

tacl_status_t tacl_mq_release(tacl_mq_t *q)
{
    if (!q) return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_COLL, "tacl_mq_release: NULL queue");
    if (!q->held)
        return tacl__err(&q->eb, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "tacl_mq_release: no message is held (tacl_mq_dequeue gives one)");
    q->held = 0;
    if (q->role == MQ_LEADER) return mq_leader_done(q);
    if (q->held_ring) mq_ring_release(q->ring);
    q->held_ring = 0;
    return TACL_OK;
}

tacl_status_t tacl_mq_dequeue_into(tacl_mq_t *q, void *buf, size_t cap, size_t *len)
{
    if (!q)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_COLL, "tacl_mq_dequeue_into: NULL queue");
    TACL_CHECK(mq_reader_check(q, "tacl_mq_dequeue_into"));
    if (!len || (!buf && cap))
        return tacl__err(&q->eb, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "tacl_mq_dequeue_into: len must not be NULL, nor buf with cap %zu", cap);
    uint64_t dl = mq_deadline(q);
    const void *v;
    size_t n;
    tacl_status_t st;
    if (q->role == MQ_LEADER) {
        TACL_CHECK(mq_leader_next(q, &v, &n, dl));
    } else if ((st = mq_ring_next(q->ring, &n, dl, &q->eb)) != TACL_OK) {
        return mq_read_fail(q, st);
    }
    if (n > cap) {
        *len = n;
        return tacl__err(&q->eb, TACL_ERR_INVALID, TACL_SUB_COLL,
                         "tacl_mq_dequeue_into: the next message has %zu bytes but the buffer "
                         "only %zu; it stays queued",
                         n, cap);
    }
    if (q->role == MQ_LEADER) {
        if (n) memcpy(buf, v, n);
        TACL_CHECK(mq_leader_done(q));
    } else if (n > mq_ring_capacity(q->ring)) {
        /* Streams through: a failure part-way must be able to resume, so into our copy. */
        TACL_CHECK(mq_grow(q, n));
        if ((st = mq_ring_copy(q->ring, q->priv, dl, &q->eb)) != TACL_OK)
            return mq_read_fail(q, st);
        memcpy(buf, q->priv, n);
    } else if ((st = mq_ring_copy(q->ring, buf, dl, &q->eb)) != TACL_OK) {
        return mq_read_fail(q, st);
    }
    *len = n;
    return TACL_OK;
}
