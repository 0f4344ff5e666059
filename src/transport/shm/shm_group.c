/* shm_group.c — the shared-memory group of shm_group.h: segment layout, the step protocol
 * (sequence-numbered flags, double-buffered slots, spin/yield/futex waits with liveness and
 * deadline checks, fingerprint comparison) and the direct algorithms of every collective.
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

#include "clock.h"
#include "log.h"
#include "proc.h"
#include "reduce.h"
#include "settings.h"
#include "transport/shm/shm_pool.h"
#include "transport/shm/shm_seg.h"
#include "transport/shm/shm_sync.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Rank r's line that says on which CPU it last waited. */
static inline shm_where_t *shm_where(tacl__shm_group_t *g, int r)
{
    return (shm_where_t *)(g->ctrl + (size_t)r * SHM_RANK_CTRL + 2 * sizeof(shm_ctrl_t));
}

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

/* Rank r's buffer for step s. Buffer k starts (k * 17 mod 64) cache lines into its own page
 * stride, so that no two buffers share their address bits below 4 KiB: a reduction that loads
 * a peer's buffer while storing into its own would otherwise hit 4K-aliasing stalls (measured:
 * 128 KiB two-phase all_reduce 2x slower on the development VM without it). */
static inline char *shm_buf(tacl__shm_group_t *g, int r, uint64_t s)
{
    size_t k = (size_t)r * 2 + (size_t)(s & 1);
    return g->data + k * (g->slot + SHM_PAGE) + (k * 17 % 64) * SHM_ALIGN;
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

/* Bytes [off, off + q) of a block of len bytes: how many exist. */
static inline size_t shm_piece(size_t len, size_t off, size_t q)
{
    return len > off ? shm_min(q, len - off) : 0;
}

/* ---- Errors. ---- */

static void shm_describe(const tacl__fp_t *fp, char *buf, size_t len)
{
    if (fp)
        tacl__fp_format(fp, buf, len);
    else
        snprintf(buf, len, "a shared-memory operation");
}

/* Makes the group unusable after st, and tells ranks still waiting in the segment. */
static tacl_status_t shm_break(tacl__shm_group_t *g, tacl_status_t st, tacl__errbuf_t *eb)
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
    shm_break(g, st, NULL);
}

tacl_status_t tacl__shm_check_usable(tacl__shm_group_t *g, const tacl__fp_t *fp, tacl__errbuf_t *eb)
{
    if (g->broken == TACL_OK) return TACL_OK;
    char what[160];
    shm_describe(fp, what, sizeof what);
    return tacl__err(eb, g->broken, TACL_SUB_SHM,
                     "%s: the shared-memory group is unusable after an earlier error: %s", what,
                     g->broken_msg);
}

/* ---- Steps. ---- */

static void shm_publish(tacl__shm_group_t *g, uint64_t s)
{
    /* seq_cst store then load: either the sleeper sees the flag or we see the sleeper. */
    atomic_store(&shm_ctrl(g, g->rank, s)->flag, s);
    if (atomic_load(&g->hdr->sleepers) > 0) {
        atomic_fetch_add(&g->hdr->wake, 1);
        tacl__shm_futex_wake(&g->hdr->wake, 0);
    }
}

static tacl_status_t shm_waited_too_long(tacl__shm_group_t *g, uint64_t s, const tacl__fp_t *fp,
                                         uint64_t started, tacl__errbuf_t *eb)
{
    char what[160], who[512];
    size_t n = 0;
    int missing = 0;
    shm_describe(fp, what, sizeof what);
    who[0] = '\0';
    for (int r = 0; r < g->size && n < sizeof who; r++) {
        if (atomic_load(&shm_ctrl(g, r, s)->flag) >= s) continue;
        int k = snprintf(who + n, sizeof who - n, "%srank %d (pid %d)", n ? ", " : "",
                         g->comm_ranks[r], (int)g->pids[r]);
        if (k > 0) n += (size_t)k;
        missing++;
    }
    tacl__err(eb, TACL_ERR_TIMEOUT, TACL_SUB_SHM,
              "%s on the shared-memory group: timed out after %.3f s at step %llu waiting for "
              "%s on this host (%d did not arrive)",
              what, (double)(tacl__now_ns() - started) * 1e-9, (unsigned long long)s, who, missing);
    return shm_break(g, TACL_ERR_TIMEOUT, eb);
}

/* 1 when a rank that has not yet published step s (from r on) last waited on the CPU that runs
 * us now: it cannot make progress while we spin. */
static int shm_shares_cpu(tacl__shm_group_t *g, int r, uint64_t s)
{
    int cpu = sched_getcpu();
    if (cpu < 0) return 0;
    for (int q = r; q < g->size; q++)
        if (atomic_load_explicit(&shm_where(g, q)->cpu, memory_order_relaxed) == cpu &&
            atomic_load_explicit(&shm_ctrl(g, q, s)->flag, memory_order_relaxed) < s)
            return 1;
    return 0;
}

/* Moves the calling thread off its CPU, which a rank it waits for shares: to any other CPU of
 * its affinity mask, which it then gets back unchanged, so that the scheduler places it anew.
 * Two ranks that ping-pong on one CPU stay there (each wakes the other where it runs), and each
 * of their steps then costs a context switch, while a CPU next to them may be free. */
static void shm_leave_cpu(tacl__shm_group_t *g)
{
    cpu_set_t mine, other;
    if (g->cpu < 0 || sched_getaffinity(0, sizeof mine, &mine) != 0) return;
    other = mine;
    CPU_CLR(g->cpu, &other);
    if (CPU_COUNT(&other) == 0) return;
    if (sched_setaffinity(0, sizeof other, &other) == 0) sched_setaffinity(0, sizeof mine, &mine);
    g->cpu = sched_getcpu();
    atomic_store_explicit(&shm_where(g, g->rank)->cpu, g->cpu, memory_order_relaxed);
}

/* Another rank gave up, perhaps on a member it found stalled or dead: its notice to this rank's
 * engine travels over tcp, the segment's flag came at once. Wait for the notice a moment
 * (bounded), so that whoever sees the error also sees that member not alive. */
static void shm_await_notice(tacl__shm_group_t *g)
{
    uint64_t until = tacl__now_ns() + SHM_NOTICE_NS;
    for (int q = 0; g->peer_alive && q < g->size; q++) {
        if (q == g->rank) continue;
        while (g->peer_alive(g->alive_ctx, q) &&
               (tacl__shm_pid_stopped(g->pids[q]) || tacl__shm_pid_dead(g->pids[q])) &&
               tacl__now_ns() < until)
            usleep(1000);
    }
}

/* Waits until every rank has published step s: spins (unless a late rank shares our CPU, to
 * which it yields instead), then sleeps on the segment's futex word, checking the deadline, the
 * abort notice and the late ranks' liveness as it goes. */
static tacl_status_t shm_wait(tacl__shm_group_t *g, uint64_t s, const tacl__fp_t *fp,
                              uint64_t deadline, tacl__errbuf_t *eb)
{
    int r = 0;
    uint64_t started = 0, spin_end = 0, yield_end = 0, next_live = 0;
    for (;;) {
        while (r < g->size &&
               atomic_load_explicit(&shm_ctrl(g, r, s)->flag, memory_order_acquire) >= s)
            r++;
        if (r == g->size) return TACL_OK;
        uint64_t now = tacl__now_ns();
        if (!started) {
            started = now;
            spin_end = now + g->spin_ns;
            yield_end = spin_end + (g->spin_ns ? SHM_YIELD_NS : SHM_OVER_YIELD_NS);
            next_live = now + SHM_LIVE_NS;
            int cpu = sched_getcpu();
            if (cpu != g->cpu) {
                g->cpu = cpu;
                atomic_store_explicit(&shm_where(g, g->rank)->cpu, cpu, memory_order_relaxed);
            }
        }
        int shared = now < yield_end && shm_shares_cpu(g, r, s);
        if (shared && g->spin_ns && now == started && ++g->shared_waits >= SHM_SHARED_WAITS &&
            now >= g->next_move) {
            shm_leave_cpu(g);
            g->shared_waits = 0;
            g->next_move = now + SHM_MOVE_NS;
            continue;
        }
        if (!shared && now == started) g->shared_waits = 0;
        if (now < spin_end && !shared) {
            /* Poll between pauses (a PAUSE is tens of cycles on some CPUs: a batch of them
             * would notice the flag late) and read the clock only once per batch. */
            for (int i = 0; i < 64; i++) {
                if (atomic_load_explicit(&shm_ctrl(g, r, s)->flag, memory_order_acquire) >= s)
                    break;
                _mm_pause();
            }
            continue;
        }
        int32_t ast = atomic_load_explicit(&g->hdr->abort_st, memory_order_acquire);
        if (ast != 0) {
            char what[160];
            shm_describe(fp, what, sizeof what);
            /* The segment is shared: check what another process wrote before using it. */
            int ar = g->hdr->abort_rank;
            tacl_status_t ab =
                ast > 0 && ast < TACL_STATUS_COUNT_ ? (tacl_status_t)ast : TACL_ERR_PROTOCOL;
            tacl__err(eb, ab, TACL_SUB_SHM, "%s on the shared-memory group: rank %d gave up: %.*s",
                      what, ar >= 0 && ar < g->size ? g->comm_ranks[ar] : -1,
                      (int)sizeof g->hdr->abort_msg - 1, g->hdr->abort_msg);
            shm_await_notice(g);
            return shm_break(g, ab, eb);
        }
        if (now >= next_live) {
            next_live = now + SHM_LIVE_NS;
            for (int q = r; q < g->size; q++) {
                if (atomic_load(&shm_ctrl(g, q, s)->flag) >= s || !tacl__shm_pid_dead(g->pids[q]))
                    continue;
                char what[160];
                shm_describe(fp, what, sizeof what);
                tacl__err(eb, TACL_ERR_PEER_LOST, TACL_SUB_SHM,
                          "rank %d (pid %d) on this host died during %s (shared-memory group, "
                          "step %llu)",
                          g->comm_ranks[q], (int)g->pids[q], what, (unsigned long long)s);
                return shm_break(g, TACL_ERR_PEER_LOST, eb);
            }
            /* Stalled: silent to the engine AND stopped by the kernel's account. Silence alone
             * is not enough here: heartbeats of a process starved by a loaded CPU are late too,
             * and failing a same-host operation for that would turn load into errors. */
            for (int q = r; g->peer_alive && q < g->size; q++) {
                if (atomic_load(&shm_ctrl(g, q, s)->flag) >= s || g->peer_alive(g->alive_ctx, q) ||
                    !tacl__shm_pid_stopped(g->pids[q]))
                    continue;
                char what[160];
                shm_describe(fp, what, sizeof what);
                tacl__err(eb, TACL_ERR_PEER_LOST, TACL_SUB_SHM,
                          "rank %d (pid %d) on this host is stopped (SIGSTOP or a debugger) during "
                          "%s (shared-memory group, step %llu) and sent no heartbeat for 3.5 "
                          "heartbeat periods (TACL_HEARTBEAT), so it is declared stalled",
                          g->comm_ranks[q], (int)g->pids[q], what, (unsigned long long)s);
                return shm_break(g, TACL_ERR_PEER_LOST, eb);
            }
        }
        if (now >= deadline) return shm_waited_too_long(g, s, fp, started, eb);
        /* Yield only to a rank that may be waiting for our CPU: where ranks outnumber cores,
         * or to a late rank that shares our CPU. Otherwise a yield hands the CPU to whatever
         * else runs there for a whole slice, with no claim to get it back when the peer
         * arrives; a futex sleeper is woken by the peer's publish and placed at once. */
        if (now < yield_end && (shared || !g->spin_ns)) {
            sched_yield();
            continue;
        }
        /* Sleep: announce ourselves, re-check, then wait on the word a publisher bumps. */
        uint32_t w = atomic_load(&g->hdr->wake);
        atomic_fetch_add(&g->hdr->sleepers, 1);
        if (atomic_load(&shm_ctrl(g, r, s)->flag) < s && atomic_load(&g->hdr->abort_st) == 0) {
            uint64_t left = deadline - now, ns = left < SHM_SLEEP_NS ? left : SHM_SLEEP_NS;
            tacl__shm_futex_wait(&g->hdr->wake, w, ns, 0);
        }
        atomic_fetch_sub(&g->hdr->sleepers, 1);
    }
}

/* Takes the next step: publishes it (the caller has filled shm_next), waits for everyone and,
 * on an operation's first step (fp != NULL or first), compares fingerprints and reads aux. */
tacl_status_t tacl__shm_step(tacl__shm_group_t *g, int first, const tacl__fp_t *fp, uint64_t aux,
                             uint64_t deadline, tacl__errbuf_t *eb)
{
    uint64_t s = g->step + 1;
    shm_ctrl_t *me = shm_ctrl(g, g->rank, s);
    if (first) {
        if (fp)
            me->fp = *fp;
        else
            memset(&me->fp, 0, sizeof me->fp);
        me->aux = aux;
    }
    shm_publish(g, s);
    tacl_status_t st = shm_wait(g, s, fp, deadline, eb);
    if (st != TACL_OK) return st;
    g->step = s;
    if (!first) return TACL_OK;
    for (int r = 0; r < g->size; r++)
        g->aux[r] = shm_ctrl(g, r, s)->aux;
    const tacl__fp_t *f0 = &shm_ctrl(g, 0, s)->fp;
    for (int r = 1; r < g->size; r++) {
        const tacl__fp_t *fr = &shm_ctrl(g, r, s)->fp;
        if (tacl__fp_equal(f0, fr)) continue;
        /* Every rank names the same pair (rank 0 and the first that differs from it). */
        char a[160], b[160];
        tacl__fp_format(f0, a, sizeof a);
        tacl__fp_format(fr, b, sizeof b);
        return tacl__err(eb, TACL_ERR_MISMATCH, TACL_SUB_SHM,
                         "ranks called mismatched collectives on the shared-memory group: rank "
                         "%d called %s but rank %d called %s: %s",
                         g->comm_ranks[0], a, g->comm_ranks[r], b, tacl__fp_diff(f0, fr));
    }
    return TACL_OK;
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
    size_t cnt_off = data_off + (size_t)n * 2 * (g->slot + SHM_PAGE);
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

/* ---- Collectives. ---- */

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

/* ---- Large all_reduce phases, cut into tasks that the caller and its helpers share. ---- */

enum { SHM_PHASE_COPY_IN, SHM_PHASE_REDUCE, SHM_PHASE_COPY_OUT };

typedef struct {
    tacl__shm_group_t *g;
    const char *in; /* the chunk's input */
    char *out;      /* the chunk's output (NULL: not wanted here) */
    size_t c, per, lo_me, hi_me, es, tile;
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

/* Elements [a, b) of the chunk, all outside my slice: copied into my slot (copy-in), or out of
 * their owners' slots (copy-out; element x belongs to rank x / per). */
static void shm_ar_copy(const shm_ar_job_t *j, size_t a, size_t b)
{
    tacl__shm_group_t *g = j->g;
    const size_t es = j->es;
    if (a >= b) return;
    if (j->phase == SHM_PHASE_COPY_IN) {
        memcpy(shm_next(g) + a * es, j->in + a * es, (b - a) * es);
        return;
    }
    for (size_t x = a; x < b;) {
        size_t r = x / j->per, e = shm_min(b, (r + 1) * j->per);
        memcpy(j->out + x * es, shm_cur(g, (int)r) + x * es, (e - x) * es);
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
                                  : (const void *)(shm_cur(g, r) + x * es);
            char *dst = shm_next(g) + x * es;
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
    for (size_t off = 0; off < count;) {
        size_t c = shm_min(cmax, count - off);
        /* Slice r of this chunk: [lo(r), lo(r+1)), cache-line aligned. */
        job.in = in + off * es;
        job.out = want ? outp + off * es : NULL;
        job.c = c;
        job.per = ((c + (size_t)n - 1) / (size_t)n + align - 1) / align * align;
        job.lo_me = shm_min(job.per * (size_t)me, c);
        job.hi_me = shm_min(job.lo_me + job.per, c);
        tacl__shm_pool_t *pool = c * es >= SHM_MT_MIN_BYTES ? g->pool : NULL;
        job.phase = SHM_PHASE_COPY_IN;
        tacl__shm_pool_run(pool, shm_ar_tasks(&job), shm_ar_task, &job);
        st = tacl__shm_step(g, off == 0, fp, 0, deadline, eb);
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
    tacl__shm_pool_t *held = bytes >= SHM_MT_MIN_BYTES ? g->pool : NULL;
    tacl__shm_pool_hold(held, 1);
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

static tacl_status_t shm_check_root(tacl__shm_group_t *g, int root, tacl__errbuf_t *eb)
{
    if (root < 0 || root >= g->size)
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_SHM,
                         "shared-memory group: root %d is not a group rank (0..%d)", root,
                         g->size - 1);
    return TACL_OK;
}

tacl_status_t tacl__shm_reduce(tacl__shm_group_t *g, const void *send, void *recv, size_t count,
                               tacl_dtype_t dt, tacl_op_t op, int root, const tacl__fp_t *fp,
                               uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    TACL_CHECK(shm_check_root(g, root, eb));
    return shm_reduce_impl(g, send, recv, count, dt, op, root, fp, deadline_ns, eb);
}

tacl_status_t tacl__shm_broadcast(tacl__shm_group_t *g, const void *send, void *recv, size_t bytes,
                                  int root, const tacl__fp_t *fp, uint64_t deadline_ns,
                                  tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    TACL_CHECK(shm_check_root(g, root, eb));
    const int me = g->rank;
    const char *in = send;
    char *outp = recv;
    size_t off = 0;
    if (me == root && bytes && in != outp) memmove(outp, in, bytes);
    do {
        size_t c = shm_min(g->slot, bytes - off);
        if (me == root) shm_copy(shm_next(g), outp + off, c);
        tacl_status_t st = tacl__shm_step(g, off == 0, fp, 0, deadline_ns, eb);
        if (st != TACL_OK) return st;
        if (me != root) shm_copy(outp + off, shm_cur(g, root), c);
        off += c;
    } while (off < bytes);
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

tacl_status_t tacl__shm_all_gatherv(tacl__shm_group_t *g, const void *send, size_t send_bytes,
                                    void *recv, const size_t *recv_bytes, const size_t *displs,
                                    const tacl__fp_t *fp, uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    const int n = g->size, me = g->rank;
    const char *in = send;
    char *outp = recv;
    size_t q = g->slot, maxb = 0, off = 0;
    int bad = -1, bad_send = 0; /* the first pair that disagrees, and my role in it */
    uint64_t bad_exp = 0;       /* what bad expects from me */
    for (int r = 0; r < n; r++)
        maxb += recv_bytes[r];
    if (g->shared_mem > 0 && maxb > g->oneshot) { /* the total: the same wherever fp is */
        int done;
        tacl_status_t st = tacl__shm_mem_all_gatherv(g, send, send_bytes, recv, recv_bytes, displs,
                                                     fp, deadline_ns, &done, eb);
        if (st != TACL_OK || done) return st;
    }
    maxb = 0;
    memcpy(shm_cnt(g, me, g->step + 1), recv_bytes, (size_t)n * sizeof(uint64_t));
    do {
        shm_copy(shm_next(g), in + off, shm_piece(send_bytes, off, q));
        tacl_status_t st = tacl__shm_step(g, off == 0, fp, send_bytes, deadline_ns, eb);
        if (st != TACL_OK) return st;
        if (off == 0) {
            /* Every rank takes as many steps as the largest contribution needs, whatever it
             * expected, so that a mismatch leaves the group in step. */
            for (int r = 0; r < n; r++) {
                if (g->aux[r] > maxb) maxb = g->aux[r];
                if (bad >= 0) continue;
                if (g->aux[r] != recv_bytes[r])
                    bad = r;
                else if ((bad_exp = shm_cnt(g, r, g->step)[me]) != send_bytes)
                    bad = r, bad_send = 1;
            }
        }
        for (int r = 0; r < n; r++) {
            char *dst = outp + displs[r] + off;
            size_t len = shm_piece(shm_min(recv_bytes[r], g->aux[r]), off, q);
            if (len && !(r == me && dst == in + off)) shm_copy(dst, shm_cur(g, r), len);
        }
        off += q;
    } while (off < maxb);
    if (bad >= 0)
        return bad_send ? tacl__shm_pair_mismatch(g, fp, me, bad, send_bytes, bad_exp, eb)
                        : tacl__shm_pair_mismatch(g, fp, bad, me, g->aux[bad], recv_bytes[bad], eb);
    return TACL_OK;
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
    /* Each step carries the same piece of every block, packed: block b's at b * c. */
    size_t cmax = g->slot / ((size_t)n * es);
    size_t off = 0;
    do {
        size_t c = shm_min(cmax, recv_count - off);
        char *mine = shm_next(g);
        for (int b = 0; b < n; b++)
            shm_copy(mine + (size_t)b * c * es, in + ((size_t)b * recv_count + off) * es, c * es);
        tacl_status_t st = tacl__shm_step(g, off == 0, fp, 0, deadline_ns, eb);
        if (st != TACL_OK) return st;
        if (c) {
            for (int r = 0; r < n; r++)
                srcs[r] = shm_cur(g, r) + (size_t)me * c * es;
            tacl__reduce_many(outp + off * es, srcs, n, c, dt, op);
            tacl__reduce_finish(outp + off * es, c, dt, op, n);
        }
        off += c;
    } while (off < recv_count);
    return TACL_OK;
}

tacl_status_t tacl__shm_gatherv(tacl__shm_group_t *g, const void *send, size_t send_bytes,
                                void *recv, const size_t *recv_bytes, const size_t *displs,
                                int root, const tacl__fp_t *fp, uint64_t deadline_ns,
                                tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    TACL_CHECK(shm_check_root(g, root, eb));
    const int n = g->size, me = g->rank;
    const char *in = send;
    char *outp = recv;
    size_t q = g->slot, maxb = 0, off = 0;
    int bad = -1;
    do {
        shm_copy(shm_next(g), in + off, shm_piece(send_bytes, off, q));
        tacl_status_t st = tacl__shm_step(g, off == 0, fp, send_bytes, deadline_ns, eb);
        if (st != TACL_OK) return st;
        if (off == 0) {
            /* Everyone learns the largest block, hence the number of steps, from aux. */
            for (int r = 0; r < n; r++) {
                if (g->aux[r] > maxb) maxb = g->aux[r];
                if (me == root && bad < 0 && g->aux[r] != recv_bytes[r]) bad = r;
            }
        }
        if (me == root) {
            for (int r = 0; r < n; r++) {
                char *dst = outp + displs[r] + off;
                size_t len = shm_piece(shm_min(recv_bytes[r], g->aux[r]), off, q);
                if (len && !(r == me && dst == in + off)) shm_copy(dst, shm_cur(g, r), len);
            }
        }
        off += q;
    } while (off < maxb);
    if (bad >= 0)
        return tacl__err(eb, TACL_ERR_MISMATCH, TACL_SUB_SHM,
                         "gatherv on the shared-memory group: rank %d sent %llu bytes but root "
                         "%d expected %zu",
                         g->comm_ranks[bad], (unsigned long long)g->aux[bad], g->comm_ranks[root],
                         recv_bytes[bad]);
    return TACL_OK;
}

/* Per-destination piece of a slot: a cache-line multiple so that pieces never share lines. */
static size_t shm_piece_size(tacl__shm_group_t *g)
{
    size_t q = g->slot / (size_t)g->size / SHM_ALIGN * SHM_ALIGN;
    return q ? q : SHM_ALIGN;
}

tacl_status_t tacl__shm_scatterv(tacl__shm_group_t *g, const void *send, const size_t *send_bytes,
                                 const size_t *displs, void *recv, size_t recv_bytes, int root,
                                 const tacl__fp_t *fp, uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    TACL_CHECK(shm_check_root(g, root, eb));
    const int n = g->size, me = g->rank;
    const char *in = send;
    char *outp = recv;
    size_t q = shm_piece_size(g), maxb = 0, off = 0;
    if (me == root)
        for (int r = 0; r < n; r++)
            if (send_bytes[r] > maxb) maxb = send_bytes[r];
    /* In place at the root: recv is already where the root's own block is. */
    int root_in_place = me == root && outp == in + displs[me];
    do {
        if (me == root) {
            char *mine = shm_next(g);
            for (int r = 0; r < n; r++)
                shm_copy(mine + (size_t)r * q, in + displs[r] + off,
                         shm_piece(send_bytes[r], off, q));
        }
        tacl_status_t st = tacl__shm_step(g, off == 0, fp, maxb, deadline_ns, eb);
        if (st != TACL_OK) return st;
        if (off == 0) maxb = g->aux[root];
        size_t len = shm_piece(recv_bytes, off, q);
        if (len && !root_in_place) shm_copy(outp + off, shm_cur(g, root) + (size_t)me * q, len);
        off += q;
    } while (off < maxb);
    return TACL_OK;
}

tacl_status_t tacl__shm_all_to_allv(tacl__shm_group_t *g, const void *send,
                                    const size_t *send_bytes, const size_t *send_displs, void *recv,
                                    const size_t *recv_bytes, const size_t *recv_displs,
                                    const tacl__fp_t *fp, uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    const int n = g->size, me = g->rank;
    const char *in = send;
    char *outp = recv;
    size_t q = shm_piece_size(g), mymax = 0, maxb = 0, off = 0;
    for (int r = 0; r < n; r++)
        if (send_bytes[r] > mymax) mymax = send_bytes[r];
    /* My counts travel with the first step: what I send to each rank, what I expect from it.
     * Each rank compares both directions of each of its pairs, so that both ranks of a pair that
     * disagree fail, naming the pair; the others copy their data. */
    uint64_t *cnt = shm_cnt(g, me, g->step + 1);
    memcpy(cnt, send_bytes, (size_t)n * sizeof(uint64_t));
    memcpy(cnt + n, recv_bytes, (size_t)n * sizeof(uint64_t));
    int bad_from = -1, bad_to = -1; /* first pair that disagrees, me receiving / me sending */
    uint64_t bad_sent = 0, bad_exp = 0;
    do {
        char *mine = shm_next(g);
        for (int r = 0; r < n; r++)
            shm_copy(mine + (size_t)r * q, in + send_displs[r] + off,
                     shm_piece(send_bytes[r], off, q));
        tacl_status_t st = tacl__shm_step(g, off == 0, fp, mymax, deadline_ns, eb);
        if (st != TACL_OK) return st;
        if (off == 0) {
            for (int r = 0; r < n; r++) {
                if (g->aux[r] > maxb) maxb = g->aux[r];
                const uint64_t *rc = shm_cnt(g, r, g->step);
                uint64_t to_me = rc[me], wants = rc[n + me];
                if (bad_from < 0 && bad_to < 0 && to_me != recv_bytes[r]) {
                    bad_from = r;
                    bad_sent = to_me;
                } else if (bad_from < 0 && bad_to < 0 && wants != send_bytes[r]) {
                    bad_to = r;
                    bad_exp = wants;
                }
                g->aux[r] = to_me; /* what r really sends me: copy no more */
            }
        }
        for (int r = 0; r < n; r++) {
            size_t len = shm_piece(shm_min(recv_bytes[r], g->aux[r]), off, q);
            if (len) shm_copy(outp + recv_displs[r] + off, shm_cur(g, r) + (size_t)me * q, len);
        }
        off += q;
    } while (off < maxb);
    if (bad_from >= 0)
        return tacl__shm_pair_mismatch(g, fp, bad_from, me, bad_sent, recv_bytes[bad_from], eb);
    if (bad_to >= 0)
        return tacl__shm_pair_mismatch(g, fp, me, bad_to, send_bytes[bad_to], bad_exp, eb);
    return TACL_OK;
}

tacl_status_t tacl__shm_barrier(tacl__shm_group_t *g, const tacl__fp_t *fp, uint64_t deadline_ns,
                                tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    return tacl__shm_step(g, 1, fp, 0, deadline_ns, eb);
}
