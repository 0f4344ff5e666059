/* shm_group_int.h — the shared-memory group's insides, for the files of src/transport/shm that
 * run on it (shm_group.c: create, destroy, errors, checks; shm_step.c: the step; shm_coll.c and
 * shm_move.c: the collectives; shm_mem.c: memory the group's ranks map from each other;
 * shm_copy.c: copies shared with the helper threads): the
 * segment's layout, the step primitives and the inline helpers they share. See shm_group.c for
 * the protocol. */
#ifndef TACL_TRANSPORT_SHM_GROUP_INT_H
#define TACL_TRANSPORT_SHM_GROUP_INT_H

#include "transport/shm/shm_group.h"
#include "transport/shm/shm_pool.h"
#include "transport/shm/shm_seg.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SHM_LINE          128
#define SHM_RANK_CTRL     192 /* per rank: two control lines (one per step parity), where it runs */
#define SHM_PAGE          4096
#define SHM_ALIGN         64           /* slices start on cache lines */
#define SHM_LIVE_NS       5000000ull   /* pid checks while waiting: every 5 ms */
#define SHM_NOTICE_NS     200000000ull /* an adopted failure waits this long for the notice */
#define SHM_YIELD_NS      50000ull     /* yield this long to a rank on our CPU, then sleep */
#define SHM_OVER_YIELD_NS 1000000ull   /* yield this long when ranks outnumber cores, then sleep */
#define SHM_SHARED_WAITS  8            /* waits for a rank on our CPU before we leave the CPU */
#define SHM_MOVE_NS       10000000ull  /* and at most once per 10 ms */
#define SHM_SLEEP_NS      5000000ull   /* longest futex sleep: the liveness period */
#define SHM_SLOT_MIN      SHM_PAGE
#define SHM_SLOT_MAX      (256ull << 20)
#define SHM_BLOCK         16384        /* bytes reduced, then copied out while still in L1 */
#define SHM_MT_MIN_BYTES  (256u << 10) /* chunks this large use the helper threads */
#define SHM_TASK_BYTES    (64u << 10)  /* a task of a large phase: microseconds of work */

typedef struct {
    _Atomic uint32_t wake;     /* futex word: bumped by a publisher when someone sleeps */
    _Atomic uint32_t sleepers; /* ranks inside FUTEX_WAIT (or about to be) */
    char pad0[SHM_LINE - 8];
    _Atomic int32_t abort_claim; /* first rank to give up wins the right to write abort_msg */
    _Atomic int32_t abort_st;    /* nonzero once abort_msg is complete */
    int32_t abort_rank;
    char abort_msg[TACL_ERRMSG_MAX];
} shm_hdr_t;

/* Each rank owns two cache lines, one per step parity, written only by it. A step's flag, the
 * operation's fingerprint and aux, and a tiny payload share one line, so that a peer learns all
 * of them with a single cache-line transfer. */
#define SHM_INLINE 16
typedef struct {
    _Atomic uint64_t flag; /* last step of this parity published */
    uint64_t aux;          /* the number carried by an operation's first step */
    tacl__fp_t fp;         /* the fingerprint of an operation's first step */
    char inl[SHM_INLINE];  /* payload of one-shot reductions of at most SHM_INLINE bytes */
} shm_ctrl_t;

_Static_assert(sizeof(shm_ctrl_t) == 64, "a step's control is one cache line");

/* Where a rank runs: the CPU of its last wait (written only when it changes), so that a rank
 * waiting for a peer that shares its CPU yields at once instead of spinning: the peer cannot
 * run while we spin. */
typedef struct {
    _Atomic int32_t cpu;
    char pad[60];
} shm_where_t;

typedef struct {
    int32_t pid;
    int32_t pad;
    uint64_t slot;
    uint64_t oneshot;
} shm_hello_t;

struct tacl__shm_group {
    tacl__shm_seg_t seg;
    tacl__shm_pool_t *pool; /* helpers for large all_reduce phases (TACL_SHM_THREADS > 1) */
    shm_hdr_t *hdr;
    char *ctrl; /* per rank SHM_RANK_CTRL bytes: its two control lines, then shm_where_t */
    char *data; /* rank r's buffer of parity p: see shm_buf */
    char *cnt;  /* rank r's counts of parity p: see shm_cnt */
    size_t cnt_stride;
    size_t slot, oneshot;
    int rank, size;
    int *comm_ranks;
    int32_t *pids;
    uint64_t *aux; /* the aux of every rank, read at the last first-step */
    uint64_t step;
    uint64_t spin_ns;
    int cpu;            /* the CPU in my shm_where_t */
    int shared_waits;   /* consecutive waits for a rank that shares my CPU */
    uint64_t next_move; /* earliest time of the next shm_leave_cpu */
    tacl_status_t broken;
    char broken_msg[TACL_ERRMSG_MAX];
    int (*peer_alive)(void *ctx, int group_rank); /* see tacl__shm_group_config_t */
    void *alive_ctx;
    struct shm_mem_region *mem; /* memory the ranks map from each other (shm_mem.c) */
    int nmem;                   /* its regions */
    int shared_mem;             /* those that every rank maps (the same on every rank) */
    uint32_t mem_ids;           /* regions made so far: the next one's id is mem_ids + 1 */
    uint64_t mem_direct;        /* operations run straight in those regions */
};

/* Rank r's control line for step s. */
static inline shm_ctrl_t *shm_ctrl(tacl__shm_group_t *g, int r, uint64_t s)
{
    return (shm_ctrl_t *)(g->ctrl + (size_t)r * SHM_RANK_CTRL) + (s & 1);
}

/* Rank r's per-peer byte counts for step s (v-collectives: what it sends to each rank, then what
 * it expects from each), double-buffered like the data, so that every pair's counts are compared
 * by both of its ranks at the operation's first step. */
static inline uint64_t *shm_cnt(tacl__shm_group_t *g, int r, uint64_t s)
{
    return (uint64_t *)(g->cnt + ((size_t)r * 2 + (size_t)(s & 1)) * g->cnt_stride);
}

/* Rank r's line that says on which CPU it last waited. */
static inline shm_where_t *shm_where(tacl__shm_group_t *g, int r)
{
    return (shm_where_t *)(g->ctrl + (size_t)r * SHM_RANK_CTRL + 2 * sizeof(shm_ctrl_t));
}

static inline size_t shm_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* A data buffer's stride: the slot, up to a page of the layout's offset below, and up to a page
 * of an operation's shift (shm_coll.c: where a large all_reduce puts its data in the slot, away
 * from the caller's buffers modulo 4 KiB). */
#define SHM_BUF_STRIDE(g) ((g)->slot + 2 * (size_t)SHM_PAGE)

/* Rank r's buffer for step s. Buffer k starts (k * 17 mod 64) cache lines into its own page
 * stride, so that no two buffers share their address bits below 4 KiB: a reduction that loads
 * a peer's buffer while storing into its own would otherwise hit 4K-aliasing stalls (measured:
 * 128 KiB two-phase all_reduce 2x slower on the development VM without it). */
static inline char *shm_buf(tacl__shm_group_t *g, int r, uint64_t s)
{
    size_t k = (size_t)r * 2 + (size_t)(s & 1);
    return g->data + k * SHM_BUF_STRIDE(g) + (k * 17 % 64) * SHM_ALIGN;
}

/* My buffer for the step about to be taken, and rank r's buffer of the step just taken. */
static inline char *shm_next(tacl__shm_group_t *g)
{
    return shm_buf(g, g->rank, g->step + 1);
}

static inline char *shm_cur(tacl__shm_group_t *g, int r)
{
    return shm_buf(g, r, g->step);
}

/* memcpy that accepts an empty copy from or to NULL (count-0 calls pass NULL buffers). */
static inline void shm_copy(void *dst, const void *src, size_t len)
{
    if (len) memcpy(dst, src, len);
}

/* The helpers for a job of `bytes` (from SHM_MT_MIN_BYTES; below, the caller alone), and held
 * through an operation of that many bytes (tacl__shm_pool_hold): the pool to release, or NULL. */
static inline tacl__shm_pool_t *shm_pool_for(tacl__shm_group_t *g, size_t bytes)
{
    return bytes >= SHM_MT_MIN_BYTES ? g->pool : NULL;
}

static inline tacl__shm_pool_t *shm_hold(tacl__shm_group_t *g, size_t bytes)
{
    tacl__shm_pool_t *held = shm_pool_for(g, bytes);
    tacl__shm_pool_hold(held, 1);
    return held;
}

/* A copy of blocks cut into SHM_TASK_BYTES tasks for the caller and its helpers (shm_copy.c):
 * init, add blocks (empty ones are skipped; a full job is copied first), run (with the helpers
 * from SHM_MT_MIN_BYTES in all; the job is then empty again). */
#define SHM_COPY_BLOCKS 64
typedef struct {
    tacl__shm_group_t *g;
    int nblk;
    size_t total; /* bytes */
    const char *src[SHM_COPY_BLOCKS];
    char *dst[SHM_COPY_BLOCKS];
    size_t len[SHM_COPY_BLOCKS];
    size_t first[SHM_COPY_BLOCKS + 1]; /* block b's first task; first[nblk]: the tasks */
} tacl__shm_copy_job_t;
void tacl__shm_copy_init(tacl__shm_copy_job_t *j, tacl__shm_group_t *g);
void tacl__shm_copy_add(tacl__shm_copy_job_t *j, char *dst, const char *src, size_t len);
void tacl__shm_copy_task(void *arg, unsigned k);
void tacl__shm_copy_run(tacl__shm_copy_job_t *j);

/* "a shared-memory operation", or fp's description (for messages). */
void tacl__shm_describe(const tacl__fp_t *fp, char *buf, size_t len);
/* Makes the group unusable after st, and tells ranks still waiting in the segment. */
tacl_status_t tacl__shm_break(tacl__shm_group_t *g, tacl_status_t st, tacl__errbuf_t *eb);

/* One step: publishes it (the caller has filled its buffer), waits for every rank and, on an
 * operation's first step (first), compares fingerprints and reads every rank's aux. */
tacl_status_t tacl__shm_step(tacl__shm_group_t *g, int first, const tacl__fp_t *fp, uint64_t aux,
                             uint64_t deadline, tacl__errbuf_t *eb);
/* TACL_OK, or the error that broke the group earlier. */
tacl_status_t tacl__shm_check_usable(tacl__shm_group_t *g, const tacl__fp_t *fp,
                                     tacl__errbuf_t *eb);
/* dt, op (when reducing) and count are valid. */
tacl_status_t tacl__shm_check_type(tacl_dtype_t dt, tacl_op_t op, size_t count, int reducing,
                                   tacl__errbuf_t *eb);
/* root is a group rank. */
tacl_status_t tacl__shm_check_root(tacl__shm_group_t *g, int root, tacl__errbuf_t *eb);

/* A pair of ranks that disagree on a v-collective's counts: sender sends `sent` bytes to
 * receiver, which expects `expected`. Recorded on both ranks of the pair. */
tacl_status_t tacl__shm_pair_mismatch(tacl__shm_group_t *g, const tacl__fp_t *fp, int sender,
                                      int receiver, uint64_t sent, uint64_t expected,
                                      tacl__errbuf_t *eb);

/* all_gatherv's counts, read at its first step: sent[r] bytes come from rank r; the first rank
 * r that disagrees with me (sends other than I expect, or expects other than I send) fails with
 * tacl__shm_pair_mismatch; TACL_OK when none does. */
tacl_status_t tacl__shm_gatherv_pairs(tacl__shm_group_t *g, const tacl__fp_t *fp,
                                      const uint64_t *sent, size_t send_bytes,
                                      const size_t *recv_bytes, tacl__errbuf_t *eb);

/* shm_mem.c. When every rank's send and recv of this large all_reduce lie in regions that all
 * ranks map, runs it there directly (*done = 1); else takes the operation's first step only,
 * and the caller goes on with the copying path (*done = 0). Every rank calls it while the group
 * has a shared region (g->shared_mem), and comes to the same decision. */
tacl_status_t tacl__shm_mem_all_reduce(tacl__shm_group_t *g, const void *send, void *recv,
                                       size_t count, tacl_dtype_t dt, tacl_op_t op,
                                       const tacl__fp_t *fp, uint64_t deadline, int *done,
                                       tacl__errbuf_t *eb);
/* The same for reduce_scatter: when every rank's send lies in a shared region, each rank
 * reduces its block straight from the n sends into its recv (which may be any memory). */
tacl_status_t tacl__shm_mem_reduce_scatter(tacl__shm_group_t *g, const void *send, void *recv,
                                           size_t recv_count, tacl_dtype_t dt, tacl_op_t op,
                                           const tacl__fp_t *fp, uint64_t deadline, int *done,
                                           tacl__errbuf_t *eb);
/* The same for all_gatherv: when every rank's send lies in a shared region, each rank copies
 * the blocks straight from the n sends into its recv (which may be any memory). Counts that
 * disagree between a pair fail as on the copying path. */
tacl_status_t tacl__shm_mem_all_gatherv(tacl__shm_group_t *g, const void *send, size_t send_bytes,
                                        void *recv, const size_t *recv_bytes, const size_t *displs,
                                        const tacl__fp_t *fp, uint64_t deadline, int *done,
                                        tacl__errbuf_t *eb);
/* The same for broadcast: when the root's send (or recv) lies in a shared region, the other
 * ranks copy straight from it. */
tacl_status_t tacl__shm_mem_broadcast(tacl__shm_group_t *g, const void *send, void *recv,
                                      size_t bytes, int root, const tacl__fp_t *fp,
                                      uint64_t deadline, int *done, tacl__errbuf_t *eb);
/* Unmaps every region (the group is going away). */
void tacl__shm_mem_release(tacl__shm_group_t *g);

#endif
