/* mq.h — internals of the broadcast message queue (tacl_mq_*): one writer, every other rank of
 * the communicator a reader. On each host the messages sit in one shared-memory ring (mq_ring.c):
 * the writer's own ring on its host, and on every other host a ring that the host's leader (its
 * first rank) fills with what it receives from the writer over the engine (mq_remote.c), so each
 * remote host gets one copy whatever its number of readers. mq.c holds the public calls and the
 * collective creation. */
#ifndef TACL_GROUP_MQ_H
#define TACL_GROUP_MQ_H

#include "err.h"
#include "tacl.h"
#include "xchg.h"

#include <stddef.h>
#include <stdint.h>

struct tacl__req;
struct tacl__engine;

/* ---- The same-host ring (mq_ring.c). ----
 * A segment holds nchunks chunks of chunk_bytes, one header line per chunk (the absolute index
 * + 1 of the chunk last written there, and its message's length), a line per reader (chunks and
 * messages it has released) and the sleep words of both sides. A message takes
 * max(1, ceil(len / chunk_bytes)) consecutive chunks; one that fits in the ring never wraps
 * (the writer skips to the ring's start), so a reader can read it in place. */
typedef struct mq_ring mq_ring_t;

/* Called from the slow path of every wait (about every 50 ms while sleeping): a status other
 * than TACL_OK ends the wait with it (the callback has recorded the message). */
typedef tacl_status_t (*mq_live_fn)(void *ctx, tacl__errbuf_t *eb);

typedef struct {
    const tacl__xchg_t *xchg; /* the host's ranks of the queue (rank 0 creates the segment) */
    int writer;               /* xchg rank of the ring's writer */
    size_t chunk_bytes, chunks;
    uint64_t spin_ns;
    const int *comm_ranks;    /* per xchg rank: its rank in the communicator (for messages) */
    const char *const *hosts; /* per xchg rank: its host id */
    mq_live_fn live;
    void *live_ctx;
} mq_ring_config_t;

tacl_status_t mq_ring_open(const mq_ring_config_t *cfg, mq_ring_t **out, tacl__errbuf_t *eb);
/* Tells the readers that no more messages will come (st: TACL_ERR_CLOSED when the writer closes,
 * another status when it failed) and unmaps. */
void mq_ring_close(mq_ring_t *r, tacl_status_t st, const char *why);
/* Writer: the same notice without closing (the first notice sticks; readers get it once they
 * have read what was queued before it). */
void mq_ring_abort(mq_ring_t *r, tacl_status_t st, const char *why);
/* Writer: copies len bytes into the ring (waiting for room until deadline_ns). A message that
 * fits in the ring waits for all its room first, so a timeout leaves nothing written; a larger
 * one streams, and *partial (if not NULL) says whether a failure left part of it written (a
 * later call with the same message resumes). */
tacl_status_t mq_ring_put(mq_ring_t *r, const void *buf, size_t len, uint64_t deadline_ns,
                          int *partial, tacl__errbuf_t *eb);
/* Reader: waits for the next message and gives its length (the reader stays at it). */
tacl_status_t mq_ring_next(mq_ring_t *r, size_t *len, uint64_t deadline_ns, tacl__errbuf_t *eb);
/* Reader, after mq_ring_next: a view of the message in place (NULL when it is larger than the
 * ring: use mq_ring_copy), held until mq_ring_release. */
tacl_status_t mq_ring_view(mq_ring_t *r, const void **view, uint64_t deadline_ns,
                           tacl__errbuf_t *eb);
/* Reader, after mq_ring_next: copies the message into buf (room for its length) as its chunks
 * are published and releases it. A message larger than the ring is released chunk by chunk and
 * a failure part-way resumes at the next call with the same buf. */
tacl_status_t mq_ring_copy(mq_ring_t *r, void *buf, uint64_t deadline_ns, tacl__errbuf_t *eb);
/* Reader: releases the message held by mq_ring_view. */
void mq_ring_release(mq_ring_t *r);
/* Bytes of the ring's data area (messages up to this size are read in place). */
size_t mq_ring_capacity(const mq_ring_t *r);

/* ---- The cross-host path (mq_remote.c), on the engine. ----
 * The writer sends every message to each remote host's leader: a fixed-size frame (length and,
 * for small messages, the payload) and, for larger ones, the payload as a second message; keys
 * are (queue id, tag, message number), so routing through relays keeps every message. Leaders
 * acknowledge what they have released every window / 4 messages; the writer keeps at most
 * `window` messages unacknowledged per host, which bounds the memory a slow host can pin. */
typedef struct mq_remote mq_remote_t;

typedef struct {
    struct tacl__engine *engine;
    uint64_t id;      /* the queue's key in the engine (unique per queue) */
    int writer_wrank; /* world rank of the writer */
    int nleaders;     /* writer only: remote host leaders */
    const int *leader_wranks;
    const int *leader_cranks;
    const char *const *leader_hosts;
    const int *group; /* world ranks of the queue's members (their death fails waits) */
    int group_size;
    uint64_t window; /* messages in flight per remote host */
} mq_remote_config_t;

tacl_status_t mq_remote_create(const mq_remote_config_t *cfg, mq_remote_t **out,
                               tacl__errbuf_t *eb);
void mq_remote_destroy(mq_remote_t *m);
/* Writer: waits until every remote host has window room for one more message (nothing is sent,
 * so a timeout leaves the queue as it was). */
tacl_status_t mq_remote_reserve(mq_remote_t *m, uint64_t deadline_ns, tacl__errbuf_t *eb);
/* Writer: sends the message to every remote leader (waiting for window room and for the sends
 * to leave buf, until deadline_ns). */
tacl_status_t mq_remote_send(mq_remote_t *m, const void *buf, size_t len, uint64_t deadline_ns,
                             tacl__errbuf_t *eb);
/* Writer: tells every remote leader that no more messages will come (their readers then get
 * TACL_ERR_CLOSED once they have read the rest); waits at most until deadline_ns. */
void mq_remote_close(mq_remote_t *m, uint64_t deadline_ns);
/* Leader: receives the next message into a buffer owned by m (valid until the next call). A
 * failure (timeout) keeps what has arrived; the next call continues. */
tacl_status_t mq_remote_recv(mq_remote_t *m, const void **buf, size_t *len, uint64_t deadline_ns,
                             tacl__errbuf_t *eb);
/* Leader: the message from mq_remote_recv has been consumed (acknowledges in batches). */
tacl_status_t mq_remote_done(mq_remote_t *m, uint64_t deadline_ns, tacl__errbuf_t *eb);

#endif
