/* shm_coll.c — the shared-memory group's reductions: all_reduce and reduce (one-shot, or
 * chunked through the slots with helper threads), and reduce_scatter. */
#include "transport/shm/shm_group_int.h"

#include "reduce.h"
#include "transport/shm/shm_pool.h"

#include <stdint.h>
#include <string.h>

/* ---- Large all_reduce phases, cut into tasks that the caller and its helpers share. ---- */

enum { SHM_PHASE_COPY_IN, SHM_PHASE_REDUCE, SHM_PHASE_COPY_OUT };

typedef struct {
    tacl__shm_group_t *g;
    const char *in; /* the chunk's input */
    char *out;      /* the chunk's output (NULL: not wanted here) */
    size_t c, per, lo_me, hi_me, es, tile;
    size_t shift; /* where my data starts in my slots (shm_ar_shift); the peers' in g->aux */
    tacl_dtype_t dt;
    tacl_op_t op;
    int phase;
} shm_ar_job_t;

/* Tasks of the job's phase: tiles of my slice (reduce), or of the rest of the chunk (copies). */
static unsigned shm_ar_tasks(const shm_ar_job_t *j)
{
    size_t mine = j->hi_me - j->lo_me, len = j->phase == SHM_PHASE_REDUCE ? mine : j->c - mine;
    return (unsigned)((len + j->tile - 1) / j->tile);
}

/* Rank r's data in its buffer of the step just taken: its slot plus the shift it published with
 * the operation's first step (kept below a page, whatever the segment holds). */
static inline const char *shm_ar_cur(tacl__shm_group_t *g, int r)
{
    return shm_cur(g, r) + (g->aux[r] & (SHM_PAGE - SHM_ALIGN));
}

/* Where my data starts in my slots for this operation: the cache-line offset that keeps both of
 * my slots farthest, modulo 4 KiB, from the caller's input and output. A copy whose source and
 * destination are a few bytes apart modulo 4 KiB has its loads wait on unrelated stores
 * (4K aliasing); with the slots at fixed offsets, the usual malloc'd buffer (a page plus 16
 * bytes) sat 16 bytes from one of them, and every large all_reduce that used that slot took 3x
 * as long (measured on the 2-core development VM: 1 MiB between 2 ranks, 850-1050 us against
 * 330-350 us, in alternate runs as the step parity chose the slot). */
static size_t shm_ar_shift(tacl__shm_group_t *g, const void *in, const void *out)
{
    const uintptr_t user[2] = {(uintptr_t)in, (uintptr_t)(out ? out : in)};
    size_t best = 0, best_d = 0;
    for (size_t c = 0; c < SHM_PAGE; c += SHM_ALIGN) {
        size_t d = SHM_PAGE;
        for (uint64_t p = 0; p < 2; p++) {
            uintptr_t b = (uintptr_t)shm_buf(g, g->rank, p) + c;
            for (int k = 0; k < 2; k++) {
                size_t x = (size_t)((b - user[k]) & (SHM_PAGE - 1));
                size_t dist = x < SHM_PAGE - x ? x : SHM_PAGE - x;
                if (dist < d) d = dist;
            }
        }
        if (d > best_d) {
            best_d = d;
            best = c;
        }
    }
    return best;
}

/* Elements [a, b) of the chunk, all outside my slice: copied into my slot (copy-in), or out of
 * their owners' slots (copy-out; element x belongs to rank x / per). */
static void shm_ar_copy(const shm_ar_job_t *j, size_t a, size_t b)
{
    tacl__shm_group_t *g = j->g;
    const size_t es = j->es;
    if (a >= b) return;
    if (j->phase == SHM_PHASE_COPY_IN) {
        memcpy(shm_next(g) + j->shift + a * es, j->in + a * es, (b - a) * es);
        return;
    }
    for (size_t x = a; x < b;) {
        size_t r = x / j->per, e = shm_min(b, (r + 1) * j->per);
        memcpy(j->out + x * es, shm_ar_cur(g, (int)r) + x * es, (e - x) * es);
        x = e;
    }
}

static void shm_ar_task(void *arg, unsigned k)
{
    const shm_ar_job_t *j = arg;
    tacl__shm_group_t *g = j->g;
    const int n = g->size, me = g->rank;
    const size_t es = j->es;
    if (j->phase == SHM_PHASE_REDUCE) {
        /* My slice, one L1-sized block at a time: reduce into my slot for the others and,
         * while the block is hot, copy it to recv (a second pass over memory saved). */
        const void *srcs[n];
        size_t a = j->lo_me + (size_t)k * j->tile, b = shm_min(a + j->tile, j->hi_me);
        size_t blk = SHM_BLOCK / es;
        for (size_t x = a; x < b; x += blk) {
            size_t m = shm_min(blk, b - x);
            for (int r = 0; r < n; r++)
                srcs[r] = r == me ? (const void *)(j->in + x * es)
                                  : (const void *)(shm_ar_cur(g, r) + x * es);
            char *dst = shm_next(g) + j->shift + x * es;
            tacl__reduce_many(dst, srcs, n, m, j->dt, j->op);
            tacl__reduce_finish(dst, m, j->dt, j->op, n);
            if (j->out) memcpy(j->out + x * es, dst, m * es);
        }
        return;
    }
    /* Tile k of the chunk with my slice taken out, mapped back: the part before my slice and
     * the part after it. */
    size_t mine = j->hi_me - j->lo_me;
    size_t p0 = (size_t)k * j->tile, p1 = shm_min(p0 + j->tile, j->c - mine);
    if (p0 < j->lo_me) shm_ar_copy(j, p0, shm_min(p1, j->lo_me));
    if (p1 > j->lo_me) shm_ar_copy(j, (p0 > j->lo_me ? p0 : j->lo_me) + mine, p1 + mine);
}

/* The large path of shm_reduce_impl (see there), chunk by chunk through the slots. */
static tacl_status_t shm_reduce_chunks(tacl__shm_group_t *g, const char *in, char *outp,
                                       size_t count, tacl_dtype_t dt, tacl_op_t op, int want,
                                       const tacl__fp_t *fp, uint64_t deadline, tacl__errbuf_t *eb)
{
    const int n = g->size, me = g->rank;
    const size_t es = tacl_dtype_size(dt), cmax = g->slot / es;
    tacl_status_t st;
    const size_t align = SHM_ALIGN / es > 0 ? SHM_ALIGN / es : 1;
    shm_ar_job_t job = {.g = g, .es = es, .dt = dt, .op = op};
    job.tile = (SHM_TASK_BYTES / es + align - 1) / align * align;
    job.shift = shm_ar_shift(g, in, want ? outp : NULL);
    for (size_t off = 0; off < count;) {
        size_t c = shm_min(cmax, count - off);
        /* Slice r of this chunk: [lo(r), lo(r+1)), cache-line aligned. */
        job.in = in + off * es;
        job.out = want ? outp + off * es : NULL;
        job.c = c;
        job.per = ((c + (size_t)n - 1) / (size_t)n + align - 1) / align * align;
        job.lo_me = shm_min(job.per * (size_t)me, c);
        job.hi_me = shm_min(job.lo_me + job.per, c);
        tacl__shm_pool_t *pool = shm_pool_for(g, c * es);
        job.phase = SHM_PHASE_COPY_IN;
        tacl__shm_pool_run(pool, shm_ar_tasks(&job), shm_ar_task, &job);
        st = tacl__shm_step(g, off == 0, fp, job.shift, deadline, eb);
        if (st != TACL_OK) return st;
        job.phase = SHM_PHASE_REDUCE;
        tacl__shm_pool_run(pool, shm_ar_tasks(&job), shm_ar_task, &job);
        st = tacl__shm_step(g, 0, fp, 0, deadline, eb);
        if (st != TACL_OK) return st;
        job.phase = SHM_PHASE_COPY_OUT;
        if (want) tacl__shm_pool_run(pool, shm_ar_tasks(&job), shm_ar_task, &job);
        off += c;
    }
    return TACL_OK;
}

/* all_reduce (root < 0) and reduce (root >= 0: only the root writes recv).
 * Small messages: one step per slot-sized chunk; every rank that needs the result reduces the
 * whole chunk from all slots in rank order. Large: per chunk, every rank copies its input
 * except its own slice into its slot (step), reduces its slice from the slots and its own
 * input in rank order into its other buffer (step), and the ranks copy the slices out. Both
 * reduce each element in rank order, so every rank and both paths give the same bits. */
static tacl_status_t shm_reduce_impl(tacl__shm_group_t *g, const void *send, void *recv,
                                     size_t count, tacl_dtype_t dt, tacl_op_t op, int root,
                                     const tacl__fp_t *fp, uint64_t deadline, tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    TACL_CHECK(tacl__shm_check_type(dt, op, count, 1, eb));
    const int n = g->size, me = g->rank, want = root < 0 || root == me;
    const size_t es = tacl_dtype_size(dt), bytes = count * es;
    const char *in = send;
    char *outp = recv;
    const void *srcs[n];
    tacl_status_t st;
    if (n == 1) {
        if (count && want && in != outp) memmove(outp, in, bytes);
        return tacl__shm_step(g, 1, fp, 0, deadline, eb);
    }
    size_t cmax = g->slot / es;
    if (bytes <= g->oneshot) {
        size_t off = 0;
        /* A payload that fits travels in the control line with the flag. */
        const int inl = bytes <= SHM_INLINE;
        do {
            size_t c = shm_min(cmax, count - off);
            shm_copy(inl ? shm_ctrl(g, me, g->step + 1)->inl : shm_next(g), in + off * es, c * es);
            st = tacl__shm_step(g, off == 0, fp, 0, deadline, eb);
            if (st != TACL_OK) return st;
            if (want && c) {
                for (int r = 0; r < n; r++)
                    srcs[r] = inl ? (const void *)shm_ctrl(g, r, g->step)->inl
                                  : (const void *)shm_cur(g, r);
                tacl__reduce_many(outp + off * es, srcs, n, c, dt, op);
                tacl__reduce_finish(outp + off * es, c, dt, op, n);
            }
            off += c;
        } while (off < count);
        return TACL_OK;
    }
    if (root < 0 && g->shared_mem > 0) {
        int done;
        st = tacl__shm_mem_all_reduce(g, send, recv, count, dt, op, fp, deadline, &done, eb);
        if (st != TACL_OK || done) return st;
    }
    /* Helpers poll through the waits between phases (tacl__shm_pool_hold). */
    tacl__shm_pool_t *held = shm_hold(g, bytes);
    st = shm_reduce_chunks(g, in, outp, count, dt, op, want, fp, deadline, eb);
    tacl__shm_pool_hold(held, 0);
    return st;
}

tacl_status_t tacl__shm_all_reduce(tacl__shm_group_t *g, const void *send, void *recv, size_t count,
                                   tacl_dtype_t dt, tacl_op_t op, const tacl__fp_t *fp,
                                   uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    return shm_reduce_impl(g, send, recv, count, dt, op, -1, fp, deadline_ns, eb);
}

tacl_status_t tacl__shm_reduce(tacl__shm_group_t *g, const void *send, void *recv, size_t count,
                               tacl_dtype_t dt, tacl_op_t op, int root, const tacl__fp_t *fp,
                               uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_root(g, root, eb));
    return shm_reduce_impl(g, send, recv, count, dt, op, root, fp, deadline_ns, eb);
}

/* reduce_scatter's reduction of one step: tiles of my block, each reduced from the n slots in
 * rank order (so any split gives the same bits). */
typedef struct {
    const void *const *srcs; /* my block's piece in every rank's slot */
    char *out;
    size_t c, es;
    int n;
    tacl_dtype_t dt;
    tacl_op_t op;
    size_t tile; /* elements per task */
} shm_rs_job_t;

static void shm_rs_task(void *arg, unsigned k)
{
    const shm_rs_job_t *j = arg;
    size_t a = (size_t)k * j->tile, m = shm_min(j->tile, j->c - a);
    const void *srcs[j->n];
    for (int r = 0; r < j->n; r++)
        srcs[r] = (const char *)j->srcs[r] + a * j->es;
    tacl__reduce_many(j->out + a * j->es, srcs, j->n, m, j->dt, j->op);
    tacl__reduce_finish(j->out + a * j->es, m, j->dt, j->op, j->n);
}

tacl_status_t tacl__shm_reduce_scatter(tacl__shm_group_t *g, const void *send, void *recv,
                                       size_t recv_count, tacl_dtype_t dt, tacl_op_t op,
                                       const tacl__fp_t *fp, uint64_t deadline_ns,
                                       tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    TACL_CHECK(tacl__shm_check_type(dt, op, recv_count, 1, eb));
    const int n = g->size, me = g->rank;
    const size_t es = tacl_dtype_size(dt);
    const char *in = send;
    char *outp = recv;
    const void *srcs[n];
    if (g->shared_mem > 0 && recv_count > 0) {
        int done;
        tacl_status_t st = tacl__shm_mem_reduce_scatter(g, send, recv, recv_count, dt, op, fp,
                                                        deadline_ns, &done, eb);
        if (st != TACL_OK || done) return st;
    }
    /* Each step carries the same piece of every block, packed: block b's at b * c. Large steps'
     * copies and reduction are shared with the helpers, which poll through the waits in
     * between (tacl__shm_pool_hold). */
    size_t cmax = g->slot / ((size_t)n * es);
    size_t off = 0;
    tacl__shm_pool_t *held = shm_hold(g, recv_count * es * (size_t)n);
    tacl_status_t st = TACL_OK;
    tacl__shm_copy_job_t job;
    tacl__shm_copy_init(&job, g);
    do {
        size_t c = shm_min(cmax, recv_count - off);
        char *mine = shm_next(g);
        for (int b = 0; b < n && c; b++)
            tacl__shm_copy_add(&job, mine + (size_t)b * c * es,
                               in + ((size_t)b * recv_count + off) * es, c * es);
        tacl__shm_copy_run(&job);
        st = tacl__shm_step(g, off == 0, fp, 0, deadline_ns, eb);
        if (st != TACL_OK) break;
        if (c) {
            for (int r = 0; r < n; r++)
                srcs[r] = shm_cur(g, r) + (size_t)me * c * es;
            shm_rs_job_t rj = {.srcs = srcs,
                               .out = outp + off * es,
                               .c = c,
                               .es = es,
                               .n = n,
                               .dt = dt,
                               .op = op,
                               .tile = shm_min(c, SHM_TASK_BYTES / es)};
            tacl__shm_pool_run(shm_pool_for(g, c * es * (size_t)n),
                               (unsigned)((c + rj.tile - 1) / rj.tile), shm_rs_task, &rj);
        }
        off += c;
    } while (off < recv_count);
    tacl__shm_pool_hold(held, 0);
    return st;
}
