/* shm_pool.c — the work-sharing helper threads of shm_pool.h.
 *
 * One 64-bit ticket describes the current job: generation (32 bits), task count (16) and the
 * next task to take (16). A participant takes task k by a compare-and-swap of the ticket from
 * (gen, n, k) to (gen, n, k + 1), so a helper that wakes up late, after its job ended, can never
 * take a task of the next job by mistake: the generation has moved. The caller publishes fn/arg
 * before the ticket and changes them only after every task of the job has reported done, so a
 * participant that won a task reads the job that task belongs to. */
#include "transport/shm/shm_pool.h"

#include "clock.h"
#include "transport/shm/shm_sync.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define POOL_SPIN_NS  50000ull     /* an idle helper polls this long before it sleeps */
#define POOL_YIELD_NS 20000ull     /* the caller polls this long for started tasks, then yields */
#define POOL_SLEEP_NS 100000000ull /* longest sleep of an idle helper (re-checks stop) */

struct tacl__shm_pool {
    _Atomic uint64_t ticket; /* gen << 32 | ntasks << 16 | next */
    _Atomic unsigned done;   /* tasks of the current job finished */
    char pad0[64 - 12];
    _Atomic uint32_t wake;     /* futex word of sleeping helpers: bumped to wake them */
    _Atomic uint32_t sleepers; /* helpers inside (or about to enter) their futex wait */
    _Atomic int stop;
    _Atomic unsigned long helped;
    tacl__shm_task_fn fn; /* the current job */
    void *arg;
    uint32_t gen; /* written by the caller only */
    int nhelpers;
    pthread_t *tids;
};

static inline int pool_has_work(uint64_t t)
{
    return (t & 0xffff) < ((t >> 16) & 0xffff);
}

/* Takes and runs tasks of the current job until none is left; the number run. */
static unsigned pool_take(tacl__shm_pool_t *p)
{
    unsigned ran = 0;
    uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
    while (pool_has_work(t)) {
        if (!atomic_compare_exchange_weak_explicit(&p->ticket, &t, t + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        p->fn(p->arg, (unsigned)(t & 0xffff));
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
        ran++;
        t = atomic_load_explicit(&p->ticket, memory_order_acquire);
    }
    return ran;
}

static void *pool_helper(void *arg)
{
    tacl__shm_pool_t *p = arg;
    while (!atomic_load(&p->stop)) {
        unsigned ran = pool_take(p);
        if (ran) {
            atomic_fetch_add_explicit(&p->helped, ran, memory_order_relaxed);
            continue;
        }
        /* Idle: poll a little (the next phase of an operation follows within microseconds),
         * then sleep. Never for long in a busy loop: the cores belong to the ranks first. */
        uint64_t until = tacl__now_ns() + POOL_SPIN_NS;
        int work = 0;
        while (!(work = pool_has_work(atomic_load_explicit(&p->ticket, memory_order_acquire))) &&
               !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
            for (int i = 0; i < 64; i++)
                _mm_pause();
            if (tacl__now_ns() >= until) break;
        }
        if (work) continue;
        /* seq_cst increment then load: either the caller sees us sleeping or we see its job. */
        uint32_t w = atomic_load(&p->wake);
        atomic_fetch_add(&p->sleepers, 1);
        if (!pool_has_work(atomic_load(&p->ticket)) && !atomic_load(&p->stop))
            tacl__shm_futex_wait(&p->wake, w, POOL_SLEEP_NS, 1);
        atomic_fetch_sub(&p->sleepers, 1);
    }
    return NULL;
}

void tacl__shm_pool_destroy(tacl__shm_pool_t *p)
{
    if (!p) return;
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->wake, 1);
    tacl__shm_futex_wake(&p->wake, 1);
    for (int i = 0; i < p->nhelpers; i++)
        pthread_join(p->tids[i], NULL);
    free(p->tids);
    free(p);
}

tacl__shm_pool_t *tacl__shm_pool_create(int helpers)
{
    if (helpers < 1) return NULL;
    tacl__shm_pool_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->tids = calloc((size_t)helpers, sizeof *p->tids);
    if (!p->tids) {
        free(p);
        return NULL;
    }
    for (int i = 0; i < helpers; i++) {
        if (pthread_create(&p->tids[i], NULL, pool_helper, p) != 0) break;
        p->nhelpers++;
    }
    if (p->nhelpers == 0) {
        tacl__shm_pool_destroy(p);
        return NULL;
    }
    return p;
}

void tacl__shm_pool_run(tacl__shm_pool_t *p, unsigned ntasks, tacl__shm_task_fn fn, void *arg)
{
    if (!p || ntasks <= 1) {
        for (unsigned k = 0; k < ntasks; k++)
            fn(arg, k);
        return;
    }
    if (ntasks > TACL_SHM_POOL_MAX_TASKS) ntasks = TACL_SHM_POOL_MAX_TASKS;
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    p->gen++;
    /* seq_cst store then load: pairs with the helpers' sleepers increment then ticket load. */
    atomic_store(&p->ticket, (uint64_t)p->gen << 32 | (uint64_t)ntasks << 16);
    if (atomic_load(&p->sleepers) > 0) {
        atomic_fetch_add(&p->wake, 1);
        tacl__shm_futex_wake(&p->wake, 1);
    }
    pool_take(p);
    /* Only tasks that a helper has started remain: each is a few microseconds of work, unless
     * its helper was descheduled inside it, in which case yielding lets it finish sooner. */
    uint64_t yield_at = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) < ntasks) {
        for (int i = 0; i < 64; i++)
            _mm_pause();
        uint64_t now = tacl__now_ns();
        if (!yield_at)
            yield_at = now + POOL_YIELD_NS;
        else if (now >= yield_at)
            sched_yield();
    }
}

unsigned long tacl__shm_pool_helped(const tacl__shm_pool_t *p)
{
    return p ? atomic_load_explicit(&p->helped, memory_order_relaxed) : 0;
}
