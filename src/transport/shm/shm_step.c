/* shm_step.c — the shared-memory group's step: publishing it, waiting for every rank (spin,
 * yield, futex sleep; deadline, abort notice, liveness) and comparing fingerprints. */
#include "transport/shm/shm_group_int.h"

#include "clock.h"
#include "transport/shm/shm_sync.h"

#include <immintrin.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
    tacl__shm_describe(fp, what, sizeof what);
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
    return tacl__shm_break(g, TACL_ERR_TIMEOUT, eb);
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
            tacl__shm_describe(fp, what, sizeof what);
            /* The segment is shared: check what another process wrote before using it. */
            int ar = g->hdr->abort_rank;
            tacl_status_t ab =
                ast > 0 && ast < TACL_STATUS_COUNT_ ? (tacl_status_t)ast : TACL_ERR_PROTOCOL;
            tacl__err(eb, ab, TACL_SUB_SHM, "%s on the shared-memory group: rank %d gave up: %.*s",
                      what, ar >= 0 && ar < g->size ? g->comm_ranks[ar] : -1,
                      (int)sizeof g->hdr->abort_msg - 1, g->hdr->abort_msg);
            shm_await_notice(g);
            return tacl__shm_break(g, ab, eb);
        }
        if (now >= next_live) {
            next_live = now + SHM_LIVE_NS;
            for (int q = r; q < g->size; q++) {
                if (atomic_load(&shm_ctrl(g, q, s)->flag) >= s || !tacl__shm_pid_dead(g->pids[q]))
                    continue;
                char what[160];
                tacl__shm_describe(fp, what, sizeof what);
                tacl__err(eb, TACL_ERR_PEER_LOST, TACL_SUB_SHM,
                          "rank %d (pid %d) on this host died during %s (shared-memory group, "
                          "step %llu)",
                          g->comm_ranks[q], (int)g->pids[q], what, (unsigned long long)s);
                return tacl__shm_break(g, TACL_ERR_PEER_LOST, eb);
            }
            /* Stalled: silent to the engine AND stopped by the kernel's account. Silence alone
             * is not enough here: heartbeats of a process starved by a loaded CPU are late too,
             * and failing a same-host operation for that would turn load into errors. */
            for (int q = r; g->peer_alive && q < g->size; q++) {
                if (atomic_load(&shm_ctrl(g, q, s)->flag) >= s || g->peer_alive(g->alive_ctx, q) ||
                    !tacl__shm_pid_stopped(g->pids[q]))
                    continue;
                char what[160];
                tacl__shm_describe(fp, what, sizeof what);
                tacl__err(eb, TACL_ERR_PEER_LOST, TACL_SUB_SHM,
                          "rank %d (pid %d) on this host is stopped (SIGSTOP or a debugger) during "
                          "%s (shared-memory group, step %llu) and sent no heartbeat for 3.5 "
                          "heartbeat periods (TACL_HEARTBEAT), so it is declared stalled",
                          g->comm_ranks[q], (int)g->pids[q], what, (unsigned long long)s);
                return tacl__shm_break(g, TACL_ERR_PEER_LOST, eb);
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
