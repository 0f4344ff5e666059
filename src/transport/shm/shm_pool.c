/* shm_pool.c — the work-sharing helper threads of shm_pool.h.
 *
 * One 64-bit ticket describes the current job: generation (32 bits), task count (16) and the
 * next task to take (16). A participant takes task k by a compare-and-swap of the ticket from
 * (gen, n, k) to (gen, n, k + 1), so a helper that wakes up late, after its job ended, can never
 * take a task of the next job by mistake: the generation has moved. The caller publishes fn/arg
 * before the ticket and changes them only after every task of the job has reported done, so a
 * participant that won a task reads the job that task belongs to.
 *
 * Back-off. Helpers pay only where they get cores; where they do not, they are runnable threads
 * that take turns on the cores with the ranks' own threads, and every step of an operation then
 * waits for a rank whose thread lost its turn (measured on a 16-core host with a busy loop per
 * core, 4 ranks: 4 threads each had 10-15x the median time of 1 thread at 1-16 MiB). Three signs
 * say so. The system has more runnable threads than cores (the kernel's count, read at most
 * every 10 ms, above the cores plus one in two readings in a row; the ranks' threads are at most
 * one per core by default, so the excess is other work): no helper takes tasks until two
 * readings in a row are at most the cores. A caller waited far longer than a task takes
 * (microseconds) for a started task: its helper was parked inside it. Helpers took less than
 * half their fair share of the tasks over a window of jobs. On either of the last two the caller
 * lets one helper fewer take tasks. After any sign, one more is let back in after each quiet
 * period. Helpers kept out sleep on a gate, off the run queue.
 *
 * Where this process may use fewer CPUs than the system has (an affinity mask, a cpuset, a CPU
 * quota: a container on a shared host), the system's runnable count is about CPUs it does not
 * run on, and the first sign reads its control group's CPU pressure instead: loaded when the
 * group's tasks spent at least half of the time between two readings waiting for a CPU (behind
 * each other, behind other groups on its CPUs, or throttled by its quota), no longer when less
 * than a tenth. Without a pressure file there (cgroup v1, PSI off, the root group) that sign is
 * off, and the other two remain. */
#include "transport/shm/shm_pool.h"

#include "clock.h"
#include "proc.h"
#include "transport/shm/shm_sync.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define POOL_SPIN_NS    50000ull     /* an idle helper polls this long before it sleeps */
#define POOL_HOLD_NS    2000000ull   /* and this long while the caller holds (an operation) */
#define POOL_YIELD_NS   20000ull     /* the caller polls this long for started tasks, then yields */
#define POOL_SLEEP_NS   100000000ull /* longest sleep of an idle helper (re-checks stop) */
#define POOL_STALL_NS   300000ull    /* a wait this long for a started task: a parked helper */
#define POOL_CALM_NS    100000000ull /* one more helper back in after this long without one */
#define POOL_WINDOW     64u          /* tasks over which the helpers' share is judged */
#define POOL_LOAD_NS    10000000ull  /* the system's runnable count is read at most this often */
#define POOL_LOAD_READS 2            /* readings in a row that change the load verdict */
#define POOL_PSI_SPAN   50000000ull  /* a pressure reading this long after the last: a new base */

struct tacl__shm_pool {
    _Atomic uint64_t ticket; /* gen << 32 | ntasks << 16 | next */
    _Atomic unsigned done;   /* tasks of the current job finished */
    char pad0[64 - 12];
    _Atomic uint32_t wake;     /* futex word of sleeping helpers: bumped to wake them */
    _Atomic uint32_t sleepers; /* helpers inside (or about to enter) their futex wait */
    _Atomic int stop;
    _Atomic int hold; /* see tacl__shm_pool_hold */
    _Atomic unsigned long helped;
    _Atomic int active;    /* helpers [0, active) take tasks; the others wait on gate */
    _Atomic uint32_t gate; /* futex word of the helpers kept out: bumped when active grows */
    _Atomic unsigned long stalls;
    tacl__shm_task_fn fn; /* the current job */
    void *arg;
    uint32_t gen;                             /* written by the caller only, as are the two below */
    uint64_t calm_at;                         /* when active may grow again */
    unsigned win_tasks, win_fair, win_helped; /* the current window: see pool_adapt */
    uint64_t load_at;                         /* next reading of the load sign */
    int loaded;      /* the verdict of the readings: more runnable threads than the cores */
    int load_streak; /* consecutive readings that disagree with it */
    int cores;
    int (*runnable)(void);                   /* the system's runnable count, or NULL */
    long long (*pressure)(const char *path); /* else the group's waiting time (us), or NULL */
    long long psi_total;                     /* the last reading of it, and when */
    uint64_t psi_at;
    char psi_path[512];
    _Atomic unsigned long loads;
    int nhelpers;
    pthread_t *tids;
    struct pool_helper_arg *args;
};

struct pool_helper_arg {
    tacl__shm_pool_t *p;
    int idx;
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
    const struct pool_helper_arg *h = arg;
    tacl__shm_pool_t *p = h->p;
    while (!atomic_load(&p->stop)) {
        uint32_t g = atomic_load(&p->gate);
        if (h->idx >= atomic_load_explicit(&p->active, memory_order_acquire)) {
            /* Kept out while the machine is loaded: wait for the gate (the caller bumps it
             * after raising active), re-checking stop now and then. */
            if (!atomic_load(&p->stop)) tacl__shm_futex_wait(&p->gate, g, POOL_SLEEP_NS, 1);
            continue;
        }
        unsigned ran = pool_take(p);
        if (ran) {
            atomic_fetch_add_explicit(&p->helped, ran, memory_order_relaxed);
            continue;
        }
        /* Idle: poll a little (the next phase of an operation follows within microseconds,
         * or after the caller's wait for the other ranks while it holds), then sleep. Never for
         * long in a busy loop: the cores belong to the ranks first. Idle time counts from the
         * latest job, also one that ended before we could see it. */
        uint64_t t0 = tacl__now_ns();
        uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
        uint32_t gen = (uint32_t)(t >> 32);
        int work = 0;
        while (!(work = pool_has_work(t)) &&
               !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
            for (int i = 0; i < 64; i++)
                _mm_pause();
            uint64_t now = tacl__now_ns();
            t = atomic_load_explicit(&p->ticket, memory_order_acquire);
            if ((uint32_t)(t >> 32) != gen) {
                gen = (uint32_t)(t >> 32);
                t0 = now;
            }
            uint64_t idle = now - t0;
            if (idle >= POOL_HOLD_NS ||
                (idle >= POOL_SPIN_NS && !atomic_load_explicit(&p->hold, memory_order_relaxed)))
                break;
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
    atomic_fetch_add(&p->gate, 1);
    tacl__shm_futex_wake(&p->gate, 1);
    for (int i = 0; i < p->nhelpers; i++)
        pthread_join(p->tids[i], NULL);
    free(p->tids);
    free(p->args);
    free(p);
}

tacl__shm_pool_t *tacl__shm_pool_create(int helpers)
{
    if (helpers < 1) return NULL;
    tacl__shm_pool_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->tids = calloc((size_t)helpers, sizeof *p->tids);
    p->args = calloc((size_t)helpers, sizeof *p->args);
    if (!p->tids || !p->args) {
        free(p->tids);
        free(p->args);
        free(p);
        return NULL;
    }
    atomic_store(&p->active, helpers);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    p->cores = cores > 0 ? (int)cores : 1;
    if (tacl__proc_cpus() >= p->cores)
        p->runnable = tacl__proc_runnable;
    else if (tacl__proc_pressure_path(p->psi_path, sizeof p->psi_path))
        p->pressure = tacl__proc_pressure_read;
    for (int i = 0; i < helpers; i++) {
        p->args[i] = (struct pool_helper_arg){.p = p, .idx = i};
        if (pthread_create(&p->tids[i], NULL, pool_helper, &p->args[i]) != 0) break;
        p->nhelpers++;
    }
    atomic_store(&p->active, p->nhelpers);
    if (p->nhelpers == 0) {
        tacl__shm_pool_destroy(p);
        return NULL;
    }
    return p;
}

/* The load sign's thresholds. Loaded above the cores plus one (the ranks' threads are at most one
 * per core by default, and this reader counts itself, so the excess is other work); no longer
 * loaded at or below the cores: with the helpers out, a busy loop per core and the ranks' own
 * threads still exceed that, so the verdict does not swing back and forth. Either change takes
 * two readings in a row (pool_adapt): on a 16-core host where 4 ranks of 4 threads filled the
 * cores, single readings above the cores kept some ranks' helpers out in half of the runs, and
 * those ranks then held up the rest. */
static int pool_over(int runnable, int cores, int loaded)
{
    return runnable > (loaded ? cores : cores + 1);
}

/* The pressure thresholds: loaded when the group waited at least half of the span, no longer
 * loaded below a tenth (with the helpers out, a busy loop on each of its CPUs still makes its
 * ranks wait about half of the time). */
static int pool_pressed(uint64_t waited_ns, uint64_t span_ns, int loaded)
{
    return loaded ? waited_ns * 10 >= span_ns : waited_ns * 2 >= span_ns;
}

/* One reading of the load sign: 1 loaded, 0 not, -1 none (unreadable, the sign is off, or the
 * first pressure reading after a pause, which only sets the base: the group's waiting over a
 * span in which this rank ran nothing says little about now). */
static int pool_reading(tacl__shm_pool_t *p, uint64_t now)
{
    if (p->runnable) {
        int r = p->runnable();
        return r < 0 ? -1 : pool_over(r, p->cores, p->loaded);
    }
    if (!p->pressure) return -1;
    long long t = p->pressure(p->psi_path);
    if (t < 0) return -1;
    int v = -1;
    if (p->psi_at && now > p->psi_at && now - p->psi_at <= POOL_PSI_SPAN && t >= p->psi_total)
        v = pool_pressed((uint64_t)(t - p->psi_total) * 1000ull, now - p->psi_at, p->loaded);
    p->psi_total = t;
    p->psi_at = now;
    return v;
}

/* Lets `want` helpers in; those let back in are woken from the gate. */
static void pool_publish(tacl__shm_pool_t *p, int want)
{
    int a = atomic_load_explicit(&p->active, memory_order_relaxed);
    if (want == a) return;
    atomic_store_explicit(&p->active, want, memory_order_release);
    if (want > a) {
        atomic_fetch_add(&p->gate, 1);
        tacl__shm_futex_wake(&p->gate, 1);
    }
}

/* The back-off of the header comment, after a job of ntasks of which helpers ran helped while
 * `allowed` were allowed (stalled: the caller waited for a parked helper). Only the caller
 * writes active, calm_at, the load verdict and the window. */
static void pool_adapt(tacl__shm_pool_t *p, unsigned ntasks, unsigned helped, int allowed,
                       int stalled)
{
    uint64_t now = tacl__now_ns();
    if (now >= p->load_at && (p->runnable || p->pressure)) {
        /* The verdict changes after POOL_LOAD_READS readings in a row that disagree with it:
         * a burst of threads between two readings changes nothing. */
        int over = pool_reading(p, now);
        p->load_at = now + POOL_LOAD_NS;
        if (over < 0) {
            /* no reading: the verdict and the streak stand */
        } else if (over == p->loaded) {
            p->load_streak = 0;
        } else if (++p->load_streak >= POOL_LOAD_READS) {
            p->loaded = over;
            p->load_streak = 0;
            if (over) atomic_fetch_add_explicit(&p->loads, 1, memory_order_relaxed);
        }
    }
    if (p->loaded) {
        /* Every helper out until the count drops; then one more back per quiet period. */
        p->win_tasks = p->win_helped = p->win_fair = 0;
        p->calm_at = now + POOL_CALM_NS;
        pool_publish(p, 0);
        return;
    }
    if (allowed > 0) {
        /* The helpers' fair share: allowed / (allowed + 1) of the tasks. */
        p->win_tasks += ntasks;
        p->win_helped += helped;
        p->win_fair += (unsigned)((uint64_t)ntasks * (unsigned)allowed / (unsigned)(allowed + 1));
        if (p->win_tasks >= POOL_WINDOW) {
            if (2 * p->win_helped < p->win_fair) stalled = 1;
            p->win_tasks = p->win_helped = p->win_fair = 0;
        }
    }
    int a = atomic_load_explicit(&p->active, memory_order_relaxed);
    if (stalled) {
        atomic_fetch_add_explicit(&p->stalls, 1, memory_order_relaxed);
        if (a > 0) a--;
        p->win_tasks = p->win_helped = p->win_fair = 0;
        p->calm_at = now + POOL_CALM_NS;
    } else if (a < p->nhelpers && now >= p->calm_at) {
        a++;
        p->calm_at = now + POOL_CALM_NS;
    }
    pool_publish(p, a);
}

/* One job of at most TACL_SHM_POOL_MAX_TASKS tasks (what the ticket's 16 bits hold). */
static void pool_run_job(tacl__shm_pool_t *p, unsigned ntasks, tacl__shm_task_fn fn, void *arg)
{
    if (!p || ntasks <= 1 || atomic_load_explicit(&p->active, memory_order_relaxed) == 0) {
        for (unsigned k = 0; k < ntasks; k++)
            fn(arg, k);
        if (p && ntasks > 1) pool_adapt(p, ntasks, 0, 0, 0);
        return;
    }
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
    int allowed = atomic_load_explicit(&p->active, memory_order_relaxed);
    unsigned mine = pool_take(p);
    /* Only tasks that a helper has started remain: each is a few microseconds of work, unless
     * its helper was descheduled inside it, in which case yielding lets it finish sooner. */
    uint64_t t0 = 0, now = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) < ntasks) {
        for (int i = 0; i < 64; i++)
            _mm_pause();
        now = tacl__now_ns();
        if (!t0)
            t0 = now;
        else if (now - t0 >= POOL_YIELD_NS)
            sched_yield();
    }
    pool_adapt(p, ntasks, ntasks - mine, allowed, t0 && now - t0 >= POOL_STALL_NS);
}

/* Task base + k of the job that a batch belongs to. */
typedef struct {
    tacl__shm_task_fn fn;
    void *arg;
    unsigned base;
} pool_batch_t;

static void pool_batch_task(void *arg, unsigned k)
{
    const pool_batch_t *b = arg;
    b->fn(b->arg, b->base + k);
}

void tacl__shm_pool_run(tacl__shm_pool_t *p, unsigned ntasks, tacl__shm_task_fn fn, void *arg)
{
    if (ntasks <= TACL_SHM_POOL_MAX_TASKS) {
        pool_run_job(p, ntasks, fn, arg);
        return;
    }
    /* More tasks than a ticket holds (a job over 4 GiB in 64 KiB tasks): in batches, one after
     * the other, each task still exactly once. */
    for (unsigned base = 0; base < ntasks;) {
        unsigned m =
            ntasks - base < TACL_SHM_POOL_MAX_TASKS ? ntasks - base : TACL_SHM_POOL_MAX_TASKS;
        pool_batch_t b = {fn, arg, base};
        pool_run_job(p, m, pool_batch_task, &b);
        base += m;
    }
}

void tacl__shm_pool_hold(tacl__shm_pool_t *p, int on)
{
    if (p) atomic_store_explicit(&p->hold, on != 0, memory_order_relaxed);
}

int tacl__shm_pool_sleeping(const tacl__shm_pool_t *p)
{
    return p ? (int)atomic_load(&p->sleepers) : 0;
}

int tacl__shm_pool_active(const tacl__shm_pool_t *p)
{
    return p ? atomic_load(&p->active) : 0;
}

unsigned long tacl__shm_pool_stalls(const tacl__shm_pool_t *p)
{
    return p ? atomic_load_explicit(&p->stalls, memory_order_relaxed) : 0;
}

unsigned long tacl__shm_pool_loads(const tacl__shm_pool_t *p)
{
    return p ? atomic_load_explicit(&p->loads, memory_order_relaxed) : 0;
}

void tacl__shm_pool_set_runnable(tacl__shm_pool_t *p, int (*runnable)(void), int cores)
{
    if (!p) return;
    p->runnable = runnable;
    p->pressure = NULL;
    p->cores = cores > 0 ? cores : 1;
    p->load_at = 0;
    p->loaded = 0;
    p->load_streak = 0;
}

void tacl__shm_pool_set_pressure(tacl__shm_pool_t *p, long long (*pressure)(const char *path),
                                 const char *path)
{
    if (!p) return;
    p->runnable = NULL;
    p->pressure = pressure;
    snprintf(p->psi_path, sizeof p->psi_path, "%s", path ? path : "");
    p->psi_at = 0;
    p->psi_total = 0;
    p->load_at = 0;
    p->loaded = 0;
    p->load_streak = 0;
}

const char *tacl__shm_pool_load_sign(const tacl__shm_pool_t *p, char *buf, size_t len)
{
    if (!p || (!p->runnable && !p->pressure))
        snprintf(buf, len, "off");
    else if (p->runnable)
        snprintf(buf, len, "the system's runnable threads against its %d cores", p->cores);
    else
        snprintf(buf, len, "the CPU pressure of this process's control group (%s)", p->psi_path);
    return buf;
}

unsigned long tacl__shm_pool_helped(const tacl__shm_pool_t *p)
{
    return p ? atomic_load_explicit(&p->helped, memory_order_relaxed) : 0;
}
