/* shm_group.c — the shared-memory group of shm_group.h: create and destroy (the segment's
 * layout, the sizes every rank adopts from rank 0), breaking the group on errors, and the checks
 * that every collective makes of its arguments.
 *
 * Files. shm_step.c: the step primitive (publish, then wait with spin/yield/futex and liveness
 * and deadline checks, fingerprint comparison); shm_coll.c: the reductions (all_reduce, reduce,
 * reduce_scatter); shm_move.c: the collectives that move data without reducing it (broadcast,
 * all_gatherv, gatherv, scatterv, all_to_allv) and the barrier; shm_mem.c: memory the ranks map
 * from each other; shm_group_int.h: the segment's layout and the helpers these files share.
 *
 * Protocol. Every operation is a sequence of steps that all ranks take in the same order; a
 * rank's step counter is never reset. In step s a rank writes what it contributes into its own
 * buffer of parity s % 2, then publishes s in its flag, then waits until every rank's flag is
 * >= s and reads the others' parity-(s % 2) buffers. Publishing s+1 therefore means "I have
 * finished reading the buffers of step s-1", which is why a rank may overwrite its parity
 * buffer of step s+1 as soon as it has seen everyone at s: consecutive steps and operations
 * need no extra barrier. The first step of every operation also carries the caller's
 * fingerprint and one number (aux: a size the others need) in the rank's control line.
 *
 * Errors. A fingerprint mismatch is seen by every rank at the same first step, so every rank
 * returns TACL_ERR_MISMATCH having completed the same steps: the group stays usable. A timeout
 * or a dead peer leaves the ranks at different steps: the group is then broken and every later
 * call returns the same error; the first rank that gives up also posts its message in the
 * segment so that ranks still waiting fail at once instead of at their own deadline. */
#include "transport/shm/shm_group.h"
#include "transport/shm/shm_group_int.h"

#include "log.h"
#include "proc.h"
#include "settings.h"
#include "transport/shm/shm_pool.h"
#include "transport/shm/shm_seg.h"
#include "transport/shm/shm_sync.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The default one-shot threshold for n ranks from the base (TACL_SHM_ONESHOT_BYTES' default):
 * base / (2 (n - 1)) rounded down to a power of two, at least 512 bytes; 4 x base for 2 ranks.
 * The threshold is inclusive, so it sits just below the measured crossover. */
static long shm_oneshot_default(long base, int n)
{
    if (n <= 2) return base * 4;
    long v = base / (2 * (n - 1)), p = 512;
    while (p * 2 <= v)
        p *= 2;
    return p;
}

/* The default number of threads per rank (the caller and its helpers) for large all_reduce
 * phases: the CPUs this process may keep busy (tacl__proc_cpus) divided among the ranks, 1 to 4.
 * One thread streams about one core's copy rate, and the large phases are copy-bound: on a
 * 16-core host, 4 ranks with 3-4 threads each reached 3.4-5.0x Open MPI's busbw at 1-16 MiB
 * where 2 threads reached 2.0-3.7x, and 8 ranks with 2 threads about 1.5x the rate of 1. A loaded
 * machine, where helpers would only take turns with the ranks' threads, is the pool's business:
 * it keeps them out while that lasts (shm_pool.c), so a default that fills the cores costs
 * nothing there. */
static long shm_threads_default(int cores, int n)
{
    long t = cores / (n > 0 ? n : 1);
    return t < 1 ? 1 : t > 4 ? 4 : t;
}

/* ---- Errors. ---- */

void tacl__shm_describe(const tacl__fp_t *fp, char *buf, size_t len)
{
    if (fp)
        tacl__fp_format(fp, buf, len);
    else
        snprintf(buf, len, "a shared-memory operation");
}

/* Makes the group unusable after st, and tells ranks still waiting in the segment. */
tacl_status_t tacl__shm_break(tacl__shm_group_t *g, tacl_status_t st, tacl__errbuf_t *eb)
{
    const char *msg = tacl_last_error();
    g->broken = st;
    snprintf(g->broken_msg, sizeof g->broken_msg, "%s", msg);
    int32_t zero = 0;
    if (atomic_compare_exchange_strong(&g->hdr->abort_claim, &zero, 1)) {
        g->hdr->abort_rank = g->rank;
        snprintf(g->hdr->abort_msg, sizeof g->hdr->abort_msg, "%s", msg);
        atomic_store_explicit(&g->hdr->abort_st, (int32_t)st, memory_order_release);
        atomic_fetch_add(&g->hdr->wake, 1);
        tacl__shm_futex_wake(&g->hdr->wake, 0);
    }
    return tacl__err_keep(eb, st);
}

void tacl__shm_group_abort(tacl__shm_group_t *g, tacl_status_t st, const char *msg)
{
    if (!g || g->broken != TACL_OK) return;
    tacl__err(NULL, st, TACL_SUB_SHM, "%s", msg);
    tacl__shm_break(g, st, NULL);
}

tacl_status_t tacl__shm_check_usable(tacl__shm_group_t *g, const tacl__fp_t *fp, tacl__errbuf_t *eb)
{
    if (g->broken == TACL_OK) return TACL_OK;
    char what[160];
    tacl__shm_describe(fp, what, sizeof what);
    return tacl__err(eb, g->broken, TACL_SUB_SHM,
                     "%s: the shared-memory group is unusable after an earlier error: %s", what,
                     g->broken_msg);
}

/* ---- Create / destroy. ---- */

static size_t shm_round(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

tacl_status_t tacl__shm_group_create(const tacl__shm_group_config_t *cfg, tacl__shm_group_t **out,
                                     tacl__errbuf_t *eb)
{
    const tacl__xchg_t *x = cfg->xchg;
    int n = x->size;
    tacl_status_t st;
    if (n < 1 || x->rank < 0 || x->rank >= n)
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_SHM,
                         "shared-memory group: rank %d of %d is not a valid member", x->rank, n);
    tacl__shm_group_t *g = calloc(1, sizeof *g);
    if (!g) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_SHM, "out of memory");
    g->rank = x->rank;
    g->size = n;
    g->comm_ranks = calloc((size_t)n, sizeof *g->comm_ranks);
    g->pids = calloc((size_t)n, sizeof *g->pids);
    g->aux = calloc((size_t)n, sizeof *g->aux);
    shm_hello_t *hello = calloc((size_t)n, sizeof *hello);
    if (!g->comm_ranks || !g->pids || !g->aux || !hello) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_SHM, "out of memory");
        goto err_free;
    }
    for (int r = 0; r < n; r++)
        g->comm_ranks[r] = cfg->comm_ranks ? cfg->comm_ranks[r] : r;
    g->peer_alive = cfg->peer_alive;
    g->alive_ctx = cfg->alive_ctx;

    /* Everyone adopts rank 0's sizes, so that settings that differ between processes cannot
     * give the ranks different layouts. */
    long slot = tacl__setting_int(TACL_SET_SHM_SLOT_BYTES);
    long oneshot = tacl__setting_int(TACL_SET_SHM_ONESHOT_BYTES);
    /* The default threshold shrinks with the group: one-shot reads n vectors per rank, two-phase
     * about three plus a second step. Measured crossovers (16-core Xeon): 8-16 KiB at 2 ranks,
     * 2-4 KiB at 4, 1 KiB at 8, so 16 KiB / (2 (n - 1)), a power of two at or below. Two ranks
     * keep one step up to 64 KiB: equal there on the Xeon, and on a loaded 2-core VM, where
     * every step may wait for the peer to be scheduled, one step was up to 5x faster. */
    if (!tacl__setting_is_set(TACL_SET_SHM_ONESHOT_BYTES))
        oneshot = shm_oneshot_default(oneshot, n);
    if (slot < (long)SHM_SLOT_MIN) slot = SHM_SLOT_MIN;
    if ((unsigned long)slot > SHM_SLOT_MAX) slot = (long)SHM_SLOT_MAX;
    shm_hello_t mine = {.pid = (int32_t)getpid(),
                        .slot = shm_round((size_t)slot, SHM_PAGE),
                        .oneshot = oneshot < 0 ? 0 : (uint64_t)oneshot};
    st = tacl__xchg_allgather(x, &mine, sizeof mine, hello, eb);
    if (st != TACL_OK) goto err_free;
    for (int r = 0; r < n; r++)
        g->pids[r] = hello[r].pid;
    g->slot = (size_t)hello[0].slot;
    g->oneshot = (size_t)hello[0].oneshot;

    size_t ctrl_off = shm_round(sizeof(shm_hdr_t), SHM_PAGE);
    size_t data_off = ctrl_off + shm_round((size_t)n * SHM_RANK_CTRL, SHM_PAGE);
    size_t cnt_off = data_off + (size_t)n * 2 * SHM_BUF_STRIDE(g);
    g->cnt_stride = shm_round((size_t)n * 2 * sizeof(uint64_t), SHM_ALIGN);
    size_t total = cnt_off + shm_round((size_t)n * 2 * g->cnt_stride, SHM_PAGE);
    st = tacl__shm_seg_open(x, "grp", total, &g->seg, eb);
    if (st != TACL_OK) goto err_free;
    g->hdr = (shm_hdr_t *)g->seg.base;
    g->ctrl = (char *)g->seg.base + ctrl_off;
    g->data = (char *)g->seg.base + data_off;
    g->cnt = (char *)g->seg.base + cnt_off;
    g->cpu = -1;
    atomic_store(&shm_where(g, g->rank)->cpu, -1);

    long spin = tacl__setting_int(TACL_SET_SHM_SPIN_US);
    if (!tacl__setting_is_set(TACL_SET_SHM_SPIN_US) && n > tacl__proc_cpus()) spin = 0;
    g->spin_ns = spin > 0 ? (uint64_t)spin * 1000ull : 0;
    long threads = tacl__setting_int(TACL_SET_SHM_THREADS);
    if (!tacl__setting_is_set(TACL_SET_SHM_THREADS))
        threads = shm_threads_default(tacl__proc_cpus(), n);
    if (threads > 1) {
        g->pool = tacl__shm_pool_create(threads > 64 ? 63 : (int)threads - 1);
        if (!g->pool) {
            TACL_WARN(TACL_SUB_SHM,
                      "TACL_SHM_THREADS=%ld: cannot start helper threads; "
                      "using one thread",
                      threads);
        } else {
            char sign[640];
            TACL_DEBUG(TACL_SUB_SHM, "shared-memory group: rank %d: %ld threads; load sign: %s",
                       g->rank, threads, tacl__shm_pool_load_sign(g->pool, sign, sizeof sign));
        }
    }
    free(hello);
    TACL_DEBUG(TACL_SUB_SHM,
               "shared-memory group: rank %d of %d, segment %s (%zu bytes), slot %zu, one-shot "
               "up to %zu bytes, spin %llu us",
               g->rank, n, g->seg.name, total, g->slot, g->oneshot,
               (unsigned long long)(g->spin_ns / 1000));
    *out = g;
    return TACL_OK;

err_free:
    free(hello);
    free(g->aux);
    free(g->pids);
    free(g->comm_ranks);
    free(g);
    return st;
}

void tacl__shm_group_destroy(tacl__shm_group_t *g)
{
    if (!g) return;
    if (g->pool)
        TACL_DEBUG(TACL_SUB_SHM,
                   "shared-memory group: rank %d: helpers took %lu tasks; one fewer let in %lu "
                   "times (parked or short of their share), none %lu times (the load sign); %d "
                   "allowed at the end",
                   g->rank, tacl__shm_pool_helped(g->pool), tacl__shm_pool_stalls(g->pool),
                   tacl__shm_pool_loads(g->pool), tacl__shm_pool_active(g->pool));
    tacl__shm_pool_destroy(g->pool);
    tacl__shm_mem_release(g);
    tacl__shm_seg_close(&g->seg);
    free(g->aux);
    free(g->pids);
    free(g->comm_ranks);
    free(g);
}

/* ---- Argument checks and count mismatches. ---- */

tacl_status_t tacl__shm_check_type(tacl_dtype_t dt, tacl_op_t op, size_t count, int reducing,
                                   tacl__errbuf_t *eb)
{
    size_t es = tacl_dtype_size(dt);
    if (es == 0)
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_SHM,
                         "shared-memory group: data type %d "
                         "is not a tacl_dtype_t",
                         (int)dt);
    if (reducing && ((int)op < 0 || op >= TACL_OP_COUNT))
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_SHM,
                         "shared-memory group: reduction "
                         "operator %d is not a tacl_op_t",
                         (int)op);
    if (count > SIZE_MAX / 2 / es)
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_SHM,
                         "shared-memory group: count %zu "
                         "of %s overflows",
                         count, tacl_dtype_name(dt));
    return TACL_OK;
}

tacl_status_t tacl__shm_check_root(tacl__shm_group_t *g, int root, tacl__errbuf_t *eb)
{
    if (root < 0 || root >= g->size)
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_SHM,
                         "shared-memory group: root %d is not a group rank (0..%d)", root,
                         g->size - 1);
    return TACL_OK;
}

tacl_status_t tacl__shm_pair_mismatch(tacl__shm_group_t *g, const tacl__fp_t *fp, int sender,
                                      int receiver, uint64_t sent, uint64_t expected,
                                      tacl__errbuf_t *eb)
{
    const char *what = fp ? tacl__coll_name(fp->coll) : "v-collective";
    size_t es = fp ? tacl_dtype_size((tacl_dtype_t)fp->dtype) : 0;
    if (es == 0)
        return tacl__err(eb, TACL_ERR_MISMATCH, TACL_SUB_SHM,
                         "%s on the shared-memory group: rank %d sends %llu bytes to rank %d but "
                         "rank %d expects %llu bytes",
                         what, g->comm_ranks[sender], (unsigned long long)sent,
                         g->comm_ranks[receiver], g->comm_ranks[receiver],
                         (unsigned long long)expected);
    const char *dt = tacl_dtype_name((tacl_dtype_t)fp->dtype);
    return tacl__err(eb, TACL_ERR_MISMATCH, TACL_SUB_SHM,
                     "%s on the shared-memory group: rank %d sends %llu elements of %s to rank %d "
                     "but rank %d expects %llu",
                     what, g->comm_ranks[sender], (unsigned long long)(sent / es), dt,
                     g->comm_ranks[receiver], g->comm_ranks[receiver],
                     (unsigned long long)(expected / es));
}

tacl_status_t tacl__shm_gatherv_pairs(tacl__shm_group_t *g, const tacl__fp_t *fp,
                                      const uint64_t *sent, size_t send_bytes,
                                      const size_t *recv_bytes, tacl__errbuf_t *eb)
{
    const int me = g->rank;
    for (int r = 0; r < g->size; r++) {
        if (sent[r] != recv_bytes[r])
            return tacl__shm_pair_mismatch(g, fp, r, me, sent[r], recv_bytes[r], eb);
        uint64_t want = shm_cnt(g, r, g->step)[me];
        if (want != send_bytes) return tacl__shm_pair_mismatch(g, fp, me, r, send_bytes, want, eb);
    }
    return TACL_OK;
}
