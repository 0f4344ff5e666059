/* mq_ring.c — the same-host ring of the broadcast queue (see mq.h): segment layout, the
 * writer's and readers' fast paths (C11 acquire/release on per-chunk sequence numbers and
 * per-reader positions, each on its own cache line, no locks), their waits (bounded spin, then
 * a futex sleep that the other side ends only when a sleeper says it sleeps), liveness checks
 * while waiting, and the reports that name the readers a full ring waits for.
 *
 * Ordering. The writer fills a chunk, stores its header's sequence number (seq_cst) and then
 * loads the readers' sleeper count; a reader about to sleep increments that count (seq_cst)
 * and then re-reads the sequence number. Whichever comes second sees the other, so a wake-up is
 * never lost. A reader sleeps on the sequence number of the very chunk it waits for (the futex
 * word), so a wake that lands between its re-check and its sleep finds the word changed, and a
 * sleeper is woken by that chunk only, not by every chunk of a large message. The writer makes
 * the wake call only while the sleeper count is nonzero: no system call on the fast path.
 * Releases mirror it: a reader stores its position, then loads the writer's sleeper count, and
 * the writer sleeps on a word of its own that a waking reader bumps.
 *
 * Every page of the segment is mapped in each process when the queue is created, so that a
 * ring's first lap does not pay page faults (a 64 KiB chunk is 16 of them) inside messages. */
#include "group/mq.h"

#include "clock.h"
#include "log.h"
#include "proc.h"
#include "transport/shm/shm_seg.h"
#include "transport/shm/shm_sync.h"

#include <immintrin.h>
#include <sched.h>
#include <sys/mman.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MQ_LINE                                                                                    \
    128 /* a line per writer/reader word: no false sharing, even with the                          \
           adjacent-line prefetcher */
#define MQ_CHDR      64
#define MQ_MAGIC     0x71616d74u
#define MQ_SLICE_NS  50000000ull    /* longest futex sleep: liveness checks this often */
#define MQ_PID_NS    50000000ull    /* pid checks while waiting */
#define MQ_WARN_NS   1000000000ull  /* a full ring is reported after this long ... */
#define MQ_REWARN_NS 10000000000ull /* ... and again at most this often */

typedef struct {
    uint32_t magic, nreaders;
    uint64_t nchunks, chunk_bytes;
} mq_seg_hdr_t;

typedef struct {
    _Atomic uint32_t wake;     /* the writer's futex word, bumped by a waking reader */
    _Atomic uint32_t sleepers; /* processes of this side inside (or entering) a futex wait */
} mq_wake_t;

typedef struct {
    _Atomic uint64_t tail; /* chunks released by this reader (absolute count) */
    _Atomic uint64_t msgs; /* messages released */
    _Atomic uint32_t closed;
} mq_rline_t;

typedef struct {
    /* Absolute index + 1 (mod 2^32) of the chunk last written into this slot; readers sleep on
     * it. 32 bits tell laps apart: the value a slot held before is n (< 2^32) less. */
    _Atomic uint32_t seq;
    uint64_t len;  /* length of the message that starts here */
    uint32_t skip; /* the writer skipped from here to the ring's start */
} mq_chdr_t;

typedef struct {
    _Atomic int32_t st; /* nonzero once msg is complete: the writer will write no more */
    char msg[TACL_ERRMSG_MAX];
} mq_abort_t;

struct mq_ring {
    tacl__shm_seg_t seg;
    mq_wake_t *rwake, *wwake; /* readers sleep on rwake, the writer on wwake */
    mq_rline_t *rl;           /* per reader index, MQ_LINE apart */
    char *chdr;               /* per slot, MQ_CHDR apart */
    mq_abort_t *ab;
    char *data;
    uint64_t n, cb;
    int nreaders, me; /* me: reader index, -1 for the writer */
    int yield;        /* more ranks on the host than cores: yield while spinning */
    uint64_t spin_ns;
    mq_live_fn live;
    void *live_ctx;
    /* Who is who, for messages: the writer's and each reader's communicator rank, host, pid. */
    int wrank;
    const char *whost;
    int32_t wpid;
    int *rranks;
    char **rhosts;
    int32_t *rpids;
    uint64_t next_pid_ns;
    /* Writer. */
    uint64_t pos, free_upto, msgs, put_done, warn_ns;
    uint64_t *seen_tail, *seen_ns; /* per reader: last position seen and when it moved */
    /* Reader. */
    uint64_t tail, rmsgs, cur_len, cur_k, copy_done;
    int cur_valid, holding;
};

static inline mq_rline_t *ring_rl(mq_ring_t *r, int i)
{
    return (mq_rline_t *)((char *)r->rl + (size_t)i * MQ_LINE);
}

static inline mq_chdr_t *ring_ch(mq_ring_t *r, uint64_t idx)
{
    return (mq_chdr_t *)(r->chdr + (size_t)(idx % r->n) * MQ_CHDR);
}

static inline char *ring_data(mq_ring_t *r, uint64_t idx)
{
    return r->data + (size_t)(idx % r->n) * r->cb;
}

static inline uint64_t ring_chunks(const mq_ring_t *r, uint64_t len)
{
    return len ? (len + r->cb - 1) / r->cb : 1;
}

size_t mq_ring_capacity(const mq_ring_t *r)
{
    return (size_t)(r->n * r->cb);
}

static void ring_wake(mq_wake_t *w)
{
    if (atomic_load(&w->sleepers) == 0) return;
    atomic_fetch_add(&w->wake, 1);
    tacl__shm_futex_wake(&w->wake, 0);
}

/* ---- Conditions the waits wait for. ---- */

typedef struct {
    uint64_t idx; /* reader: chunk that must be published; writer: end of the room needed */
} ring_arg_t;

static int ring_published(mq_ring_t *r, const ring_arg_t *a)
{
    return atomic_load_explicit(&ring_ch(r, a->idx)->seq, memory_order_acquire) ==
           (uint32_t)(a->idx + 1);
}

/* The room up to chunk end (exclusive) is free: every reader has released end - n. */
static int ring_room(mq_ring_t *r, const ring_arg_t *a)
{
    if (a->idx <= r->free_upto) return 1;
    uint64_t m = UINT64_MAX;
    for (int i = 0; i < r->nreaders; i++) {
        uint64_t t = atomic_load_explicit(&ring_rl(r, i)->tail, memory_order_acquire);
        if (t < m) m = t;
    }
    r->free_upto = m + r->n;
    return a->idx <= r->free_upto;
}

/* ---- Reports and checks of the slow path. ---- */

/* The readers that hold back the room up to end: "rank 3 (host h, pid 12): 7 messages behind,
 * no progress for 1.2 s; ...". Returns how many. */
static int ring_laggards(mq_ring_t *r, uint64_t end, uint64_t now, char *buf, size_t len)
{
    size_t off = 0;
    int k = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->nreaders; i++) {
        uint64_t t = atomic_load(&ring_rl(r, i)->tail);
        if (t + r->n >= end) continue;
        uint64_t m = atomic_load(&ring_rl(r, i)->msgs);
        int w = snprintf(buf + off, len - off,
                         "%srank %d (host %s, pid %d): %llu message(s) behind, no progress for "
                         "%.1f s",
                         k ? "; " : "", r->rranks[i], r->rhosts[i], (int)r->rpids[i],
                         (unsigned long long)(r->msgs > m ? r->msgs - m : 0),
                         (double)(now - r->seen_ns[i]) * 1e-9);
        if (w > 0) off += (size_t)w < len - off ? (size_t)w : len - off - 1;
        k++;
    }
    return k;
}

static void ring_track(mq_ring_t *r, uint64_t now)
{
    for (int i = 0; i < r->nreaders; i++) {
        uint64_t t = atomic_load(&ring_rl(r, i)->tail);
        if (t != r->seen_tail[i]) {
            r->seen_tail[i] = t;
            r->seen_ns[i] = now;
        }
    }
}

static tacl_status_t ring_check_writer(mq_ring_t *r, uint64_t end, uint64_t now, tacl__errbuf_t *eb)
{
    for (int i = 0; i < r->nreaders; i++) {
        uint64_t t = atomic_load(&ring_rl(r, i)->tail);
        if (t + r->n >= end) continue;
        if (atomic_load(&ring_rl(r, i)->closed))
            return tacl__err(eb, TACL_ERR_CLOSED, TACL_SUB_SHM,
                             "message queue: reader rank %d (host %s) closed its end of the queue "
                             "and the ring is full",
                             r->rranks[i], r->rhosts[i]);
        if (now >= r->next_pid_ns && tacl__shm_pid_dead(r->rpids[i]))
            return tacl__err(eb, TACL_ERR_PEER_LOST, TACL_SUB_SHM,
                             "message queue: reader rank %d (host %s, pid %d) died", r->rranks[i],
                             r->rhosts[i], (int)r->rpids[i]);
    }
    return TACL_OK;
}

static tacl_status_t ring_check_reader(mq_ring_t *r, uint64_t now, tacl__errbuf_t *eb)
{
    int32_t st = atomic_load_explicit(&r->ab->st, memory_order_acquire);
    if (st != 0) {
        tacl_status_t s = st > 0 && st < TACL_STATUS_COUNT_ ? (tacl_status_t)st : TACL_ERR_PROTOCOL;
        if (s == TACL_ERR_CLOSED)
            return tacl__err(eb, s, TACL_SUB_SHM, "%.*s", (int)sizeof r->ab->msg - 1, r->ab->msg);
        return tacl__err(eb, s, TACL_SUB_SHM,
                         "message queue: the writer of this host's ring, rank %d, failed: %.*s",
                         r->wrank, (int)sizeof r->ab->msg - 1, r->ab->msg);
    }
    if (now >= r->next_pid_ns && tacl__shm_pid_dead(r->wpid))
        return tacl__err(
            eb, TACL_ERR_PEER_LOST, TACL_SUB_SHM,
            "message queue: the writer of this host's ring, rank %d (host %s, pid %d), "
            "died",
            r->wrank, r->whost, (int)r->wpid);
    return TACL_OK;
}

/* Waits until cond(r, a) holds: spin (polling between pauses, or yielding when the host has
 * more ranks than cores) for spin_ns, then sleep on the side's futex word in slices, checking
 * liveness, the writer's close notice and the deadline between slices. */
static tacl_status_t ring_wait(mq_ring_t *r, int (*cond)(mq_ring_t *, const ring_arg_t *),
                               const ring_arg_t *a, uint64_t deadline, tacl__errbuf_t *eb)
{
    if (cond(r, a)) return TACL_OK;
    uint64_t start = tacl__now_ns(), now = start, spin_end = start + r->spin_ns;
    while (now < spin_end) {
        if (r->yield) {
            /* A yield may give the core away for a whole slice: read the clock after each. */
            if (cond(r, a)) return TACL_OK;
            sched_yield();
        } else {
            /* Poll between pauses; read the clock once per batch. */
            for (int i = 0; i < 64; i++) {
                if (cond(r, a)) return TACL_OK;
                _mm_pause();
            }
        }
        now = tacl__now_ns();
    }
    int writer = r->me < 0;
    mq_wake_t *wk = writer ? r->wwake : r->rwake;
    if (writer) ring_track(r, start);
    for (;;) {
        if (cond(r, a)) return TACL_OK;
        now = tacl__now_ns();
        tacl_status_t st =
            writer ? ring_check_writer(r, a->idx, now, eb) : ring_check_reader(r, now, eb);
        if (st == TACL_OK && r->live) st = r->live(r->live_ctx, eb);
        if (st != TACL_OK) return cond(r, a) ? TACL_OK : st;
        if (now >= r->next_pid_ns) r->next_pid_ns = now + MQ_PID_NS;
        if (writer) {
            ring_track(r, now);
            if (now >= deadline || (now - start >= MQ_WARN_NS && now >= r->warn_ns)) {
                char who[768];
                int k = ring_laggards(r, a->idx, now, who, sizeof who);
                if (now >= deadline)
                    return tacl__err(eb, TACL_ERR_TIMEOUT, TACL_SUB_SHM,
                                     "message queue full for %.1f s (the deadline): waiting for %d "
                                     "reader(s) on this host: %s",
                                     (double)(now - start) * 1e-9, k, who);
                TACL_WARN(TACL_SUB_SHM,
                          "message queue full for %.1f s: waiting for %d reader(s) on this host: "
                          "%s",
                          (double)(now - start) * 1e-9, k, who);
                r->warn_ns = now + MQ_REWARN_NS;
            }
        } else if (now >= deadline) {
            return tacl__err(eb, TACL_ERR_TIMEOUT, TACL_SUB_SHM,
                             "no message within %.1f s (the deadline) in this host's ring, written "
                             "by rank %d (host %s)",
                             (double)(now - start) * 1e-9, r->wrank, r->whost);
        }
        /* The word slept on: the writer's own, or the sequence number of the awaited chunk. */
        _Atomic uint32_t *word = writer ? &wk->wake : &ring_ch(r, a->idx)->seq;
        uint32_t w = atomic_load(word);
        atomic_fetch_add(&wk->sleepers, 1);
        /* The re-check's loads are acquire only; the fence makes the pair with the other side's
         * seq_cst store and sleeper load a proper Dekker handshake in C11 terms. */
        atomic_thread_fence(memory_order_seq_cst);
        if (!cond(r, a) && (writer || atomic_load(&r->ab->st) == 0)) {
            uint64_t left = deadline - now;
            tacl__shm_futex_wait(word, w, left < MQ_SLICE_NS ? left : MQ_SLICE_NS, 0);
        }
        atomic_fetch_sub(&wk->sleepers, 1);
    }
}

/* ---- Writer. ---- */

static void ring_publish(mq_ring_t *r, uint64_t idx, uint64_t len, uint32_t skip)
{
    mq_chdr_t *ch = ring_ch(r, idx);
    ch->len = len;
    ch->skip = skip;
    atomic_store(&ch->seq, (uint32_t)(idx + 1)); /* seq_cst: before the sleeper load below */
    if (atomic_load(&r->rwake->sleepers) != 0) tacl__shm_futex_wake(&ch->seq, 0);
}

tacl_status_t mq_ring_put(mq_ring_t *r, const void *buf, size_t len, uint64_t deadline_ns,
                          int *partial, tacl__errbuf_t *eb)
{
    uint64_t n = r->n, cb = r->cb, k = ring_chunks(r, len);
    const char *src = buf;
    if (partial) *partial = 0;
    if (k <= n) {
        uint64_t slot = r->pos % n;
        if (slot + k > n) {
            /* It would wrap: mark the rest of the ring skipped (readers jump to its start). A
             * failure after this leaves a consistent ring, merely one lap further. */
            ring_arg_t a = {r->pos + 1};
            TACL_CHECK(ring_wait(r, ring_room, &a, deadline_ns, eb));
            ring_publish(r, r->pos, 0, 1);
            r->pos += n - slot;
        }
        ring_arg_t a = {r->pos + k};
        TACL_CHECK(ring_wait(r, ring_room, &a, deadline_ns, eb));
        for (uint64_t i = 0; i < k; i++) {
            uint64_t off = i * cb, part = len - off < cb ? len - off : cb;
            if (part) memcpy(ring_data(r, r->pos), src + off, part);
            ring_publish(r, r->pos++, len, 0);
        }
        r->msgs++;
        return TACL_OK;
    }
    /* Larger than the ring: chunk by chunk as readers free room. */
    for (uint64_t i = r->put_done; i < k; i++) {
        ring_arg_t a = {r->pos + 1};
        tacl_status_t st = ring_wait(r, ring_room, &a, deadline_ns, eb);
        if (st != TACL_OK) {
            if (partial) *partial = r->put_done > 0;
            return st;
        }
        uint64_t off = i * cb, part = len - off < cb ? len - off : cb;
        memcpy(ring_data(r, r->pos), src + off, part);
        ring_publish(r, r->pos++, len, 0);
        r->put_done++;
    }
    r->put_done = 0;
    r->msgs++;
    return TACL_OK;
}

/* ---- Reader. ---- */

static void ring_set_tail(mq_ring_t *r, uint64_t tail, int msg_done)
{
    mq_rline_t *me = ring_rl(r, r->me);
    if (msg_done) atomic_store_explicit(&me->msgs, ++r->rmsgs, memory_order_relaxed);
    r->tail = tail;
    atomic_store(&me->tail, tail); /* seq_cst: ordered before the writer's sleeper load */
    ring_wake(r->wwake);
}

tacl_status_t mq_ring_next(mq_ring_t *r, size_t *len, uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    while (!r->cur_valid) {
        ring_arg_t a = {r->tail};
        TACL_CHECK(ring_wait(r, ring_published, &a, deadline_ns, eb));
        mq_chdr_t *ch = ring_ch(r, r->tail);
        if (ch->skip) {
            ring_set_tail(r, r->tail + (r->n - r->tail % r->n), 0);
            continue;
        }
        r->cur_len = ch->len;
        r->cur_k = ring_chunks(r, ch->len);
        r->copy_done = 0;
        r->cur_valid = 1;
    }
    *len = (size_t)r->cur_len;
    return TACL_OK;
}

tacl_status_t mq_ring_view(mq_ring_t *r, const void **view, uint64_t deadline_ns,
                           tacl__errbuf_t *eb)
{
    if (r->cur_k > r->n) {
        *view = NULL;
        return TACL_OK;
    }
    ring_arg_t a = {r->tail + r->cur_k - 1};
    TACL_CHECK(ring_wait(r, ring_published, &a, deadline_ns, eb));
    r->holding = 1;
    *view = ring_data(r, r->tail);
    return TACL_OK;
}

void mq_ring_release(mq_ring_t *r)
{
    if (!r->holding) return;
    r->holding = 0;
    r->cur_valid = 0;
    ring_set_tail(r, r->tail + r->cur_k, 1);
}

tacl_status_t mq_ring_copy(mq_ring_t *r, void *buf, uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    uint64_t cb = r->cb, len = r->cur_len;
    char *dst = buf;
    int stream = r->cur_k > r->n;
    uint64_t base = stream ? r->tail - r->copy_done : r->tail;
    for (uint64_t i = stream ? r->copy_done : 0; i < r->cur_k; i++) {
        ring_arg_t a = {base + i};
        TACL_CHECK(ring_wait(r, ring_published, &a, deadline_ns, eb));
        uint64_t off = i * cb, part = len - off < cb ? len - off : cb;
        if (part) memcpy(dst + off, ring_data(r, base + i), part);
        if (stream) {
            r->copy_done++;
            ring_set_tail(r, base + i + 1, i + 1 == r->cur_k);
        }
    }
    if (!stream) ring_set_tail(r, r->tail + r->cur_k, 1);
    r->cur_valid = 0;
    r->holding = 0;
    return TACL_OK;
}

/* ---- Open / close. ---- */

static size_t ring_round(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

/* Maps every page of the segment into this process now (as a write would, without changing a
 * byte), instead of one fault at a time inside the first lap's messages. */
static void ring_prefault(char *base, size_t size)
{
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
    if (madvise(base, size, MADV_POPULATE_WRITE) == 0) return;
    /* An older kernel: touch each page with an atomic no-op (other ranks may be writing). */
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t off = 0; off < size; off += pg)
        __atomic_fetch_or((unsigned char *)base + off, 0, __ATOMIC_RELAXED);
}

static void ring_free(mq_ring_t *r)
{
    if (!r) return;
    if (r->rhosts)
        for (int i = 0; i < r->nreaders; i++)
            free(r->rhosts[i]);
    free(r->rhosts);
    free(r->rranks);
    free(r->rpids);
    free(r->seen_tail);
    free(r->seen_ns);
    free((char *)r->whost);
    free(r);
}

tacl_status_t mq_ring_open(const mq_ring_config_t *cfg, mq_ring_t **out, tacl__errbuf_t *eb)
{
    const tacl__xchg_t *x = cfg->xchg;
    int nr = x->size - 1;
    tacl_status_t st;
    mq_ring_t *r = calloc(1, sizeof *r);
    int32_t *pids = calloc((size_t)x->size, sizeof *pids);
    if (!r || !pids) {
        free(pids);
        free(r);
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_SHM, "out of memory");
    }
    r->n = cfg->chunks;
    r->cb = ring_round(cfg->chunk_bytes, 64);
    r->nreaders = nr;
    r->spin_ns = cfg->spin_ns;
    r->yield = x->size > tacl__proc_cpus();
    r->live = cfg->live;
    r->live_ctx = cfg->live_ctx;
    r->me = x->rank == cfg->writer ? -1 : (x->rank < cfg->writer ? x->rank : x->rank - 1);
    r->rranks = calloc((size_t)nr, sizeof *r->rranks);
    r->rhosts = calloc((size_t)nr, sizeof *r->rhosts);
    r->rpids = calloc((size_t)nr, sizeof *r->rpids);
    r->seen_tail = calloc((size_t)nr, sizeof *r->seen_tail);
    r->seen_ns = calloc((size_t)nr, sizeof *r->seen_ns);
    r->whost = strdup(cfg->hosts[cfg->writer]);
    if (!r->rranks || !r->rhosts || !r->rpids || !r->seen_tail || !r->seen_ns || !r->whost) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_SHM, "out of memory");
        goto err_free;
    }
    int32_t mine = (int32_t)getpid();
    st = tacl__xchg_allgather(x, &mine, sizeof mine, pids, eb);
    if (st != TACL_OK) goto err_free;
    for (int i = 0; i < nr; i++)
        r->seen_ns[i] = tacl__now_ns();
    r->wrank = cfg->comm_ranks[cfg->writer];
    r->wpid = pids[cfg->writer];
    for (int q = 0, i = 0; q < x->size; q++) {
        if (q == cfg->writer) continue;
        r->rranks[i] = cfg->comm_ranks[q];
        r->rpids[i] = pids[q];
        if (!(r->rhosts[i] = strdup(cfg->hosts[q]))) {
            st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_SHM, "out of memory");
            goto err_free;
        }
        i++;
    }
    size_t off_rl = 3 * MQ_LINE, off_ch = off_rl + (size_t)nr * MQ_LINE;
    size_t off_ab = ring_round(off_ch + (size_t)r->n * MQ_CHDR, MQ_LINE);
    size_t off_data = ring_round(off_ab + sizeof(mq_abort_t), 4096);
    size_t size = off_data + (size_t)(r->n * r->cb);
    st = tacl__shm_seg_open_reserved(x, "mq", size, &r->seg, eb);
    if (st != TACL_OK) goto err_free;
    char *b = r->seg.base;
    ring_prefault(b, size);
    mq_seg_hdr_t *h = (mq_seg_hdr_t *)b;
    r->rwake = (mq_wake_t *)(b + MQ_LINE);
    r->wwake = (mq_wake_t *)(b + 2 * MQ_LINE);
    r->rl = (mq_rline_t *)(b + off_rl);
    r->chdr = b + off_ch;
    r->ab = (mq_abort_t *)(b + off_ab);
    r->data = b + off_data;
    /* Every rank sized the segment from the same agreed options; say so in it (the segment is
     * zero-filled, so no chunk reads as published before the writer writes it). */
    if (x->rank == 0) {
        h->nreaders = (uint32_t)nr;
        h->nchunks = r->n;
        h->chunk_bytes = r->cb;
        atomic_thread_fence(memory_order_release);
        h->magic = MQ_MAGIC;
    }
    free(pids);
    *out = r;
    return TACL_OK;

err_free:
    free(pids);
    ring_free(r);
    return st;
}

void mq_ring_abort(mq_ring_t *r, tacl_status_t st, const char *why)
{
    if (!r || r->me >= 0) return;
    if (atomic_load(&r->ab->st) == 0) {
        snprintf(r->ab->msg, sizeof r->ab->msg, "%s", why);
        atomic_store_explicit(&r->ab->st, (int32_t)st, memory_order_release);
    }
    /* Readers that have read everything sleep on the next chunk's word. (One that re-checked
     * just before the notice sleeps on until its slice ends, then sees it.) */
    tacl__shm_futex_wake(&ring_ch(r, r->pos)->seq, 0);
}

void mq_ring_close(mq_ring_t *r, tacl_status_t st, const char *why)
{
    if (!r) return;
    if (r->me < 0) {
        mq_ring_abort(r, st, why);
    } else {
        atomic_store(&ring_rl(r, r->me)->closed, 1);
        atomic_fetch_add(&r->wwake->wake, 1);
        tacl__shm_futex_wake(&r->wwake->wake, 0);
    }
    tacl__shm_seg_close(&r->seg);
    ring_free(r);
}
