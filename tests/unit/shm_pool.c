/* shm_pool.c — the helper threads of the shared-memory group (src/transport/shm/shm_pool.h):
 * every task of every job runs exactly once whatever the number of helpers and tasks; helpers
 * do take tasks; and a helper stuck inside a task holds up nothing but that task: the caller and
 * the other helpers finish every other task of the job meanwhile. */
#include "check.h"
#include "clock.h"
#include "transport/shm/shm_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define MAXT 1000

typedef struct {
    _Atomic int runs[MAXT];
    pthread_t caller;
    _Atomic int stuck;    /* 1: the first task a helper takes waits for all the others */
    _Atomic int finished; /* tasks finished in the current job */
    unsigned ntasks;
    _Atomic int others_done_seen; /* the stuck task saw every other task finished */
    uint64_t busy_ns;             /* each task's work (a busy wait) */
} job_t;

static void task(void *arg, unsigned k)
{
    job_t *j = arg;
    CHECK(k < j->ntasks);
    if (!pthread_equal(pthread_self(), j->caller) && atomic_exchange(&j->stuck, 0)) {
        /* A helper held inside its task (as if descheduled there) for up to 5 s: the other
         * tasks must complete without it. */
        uint64_t until = tacl__now_ns() + 5000000000ull;
        while (atomic_load(&j->finished) < (int)j->ntasks - 1 && tacl__now_ns() < until)
            usleep(100);
        if (atomic_load(&j->finished) == (int)j->ntasks - 1) atomic_store(&j->others_done_seen, 1);
    }
    for (uint64_t until = tacl__now_ns() + j->busy_ns; tacl__now_ns() < until;) {
    }
    atomic_fetch_add(&j->runs[k], 1);
    atomic_fetch_add(&j->finished, 1);
}

static job_t job;

static void run_once(tacl__shm_pool_t *p, unsigned n, int stuck, uint64_t busy_ns)
{
    job.busy_ns = busy_ns;
    for (unsigned k = 0; k < MAXT; k++)
        atomic_store(&job.runs[k], 0);
    job.caller = pthread_self();
    job.ntasks = n;
    atomic_store(&job.finished, 0);
    atomic_store(&job.stuck, stuck);
    atomic_store(&job.others_done_seen, 0);
    tacl__shm_pool_run(p, n, task, &job);
    for (unsigned k = 0; k < MAXT; k++)
        if (atomic_load(&job.runs[k]) != (k < n ? 1 : 0)) {
            fprintf(stderr, "task %u of %u ran %d times\n", k, n, atomic_load(&job.runs[k]));
            exit(1);
        }
    CHECK(atomic_load(&job.finished) == (int)n);
}

int main(void)
{
    static const unsigned counts[] = {0, 1, 2, 3, 7, 64, 999};
    /* No pool: the caller runs everything. */
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
        run_once(NULL, counts[c], 0, 0);
    for (int helpers = 1; helpers <= 3; helpers++) {
        tacl__shm_pool_t *p = tacl__shm_pool_create(helpers);
        CHECK(p != NULL);
        for (int rep = 0; rep < 300; rep++)
            for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
                run_once(p, counts[c], 0, 0);
        /* Helpers join when they get a core: jobs of real work (10 us per task), each after a
         * pause that lets the helpers fall asleep, so that waking them is tested too. */
        unsigned long before = tacl__shm_pool_helped(p);
        for (int rep = 0; rep < 2000 && tacl__shm_pool_helped(p) == before; rep++) {
            usleep(2000);
            run_once(p, 200, 0, 10000);
        }
        CHECK(tacl__shm_pool_helped(p) > before);
        /* One helper stuck inside a task: the job still completes, and the stuck task sees all
         * the others finished before it (nobody waited for the stuck helper). */
        int seen = 0;
        for (int rep = 0; rep < 2000 && !seen; rep++) {
            usleep(2000);
            uint64_t t0 = tacl__now_ns();
            run_once(p, 64, 1, 10000);
            CHECK(tacl__now_ns() - t0 < 5000000000ull);
            seen = atomic_load(&job.others_done_seen);
        }
        CHECK(seen);
        tacl__shm_pool_destroy(p);
    }
    CHECK(tacl__shm_pool_create(0) == NULL);
    tacl__shm_pool_destroy(NULL);
    printf("shm_pool: ok\n");
    return 0;
}
