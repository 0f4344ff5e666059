/* shm_pool.h — helper threads that share the work of one job with the calling thread. A job is a
 * count of numbered tasks; every participant (the caller or a helper) takes the next task that
 * nobody has taken yet, so a helper that the scheduler has parked costs nothing: the others take
 * its share, and the caller only ever waits for tasks that a helper has started. Idle helpers
 * spin briefly, then sleep on a futex; the caller wakes them only when some sleep. On a loaded
 * machine (more runnable threads than cores, a helper parked inside its task, helpers short of
 * their share) fewer helpers or none take tasks, and more again after a quiet period (see
 * shm_pool.c). */
#ifndef TACL_TRANSPORT_SHM_POOL_H
#define TACL_TRANSPORT_SHM_POOL_H

#include <stddef.h>

#define TACL_SHM_POOL_MAX_TASKS 65535u

typedef struct tacl__shm_pool tacl__shm_pool_t;
typedef void (*tacl__shm_task_fn)(void *arg, unsigned task);

/* A pool of `helpers` threads (>= 1); NULL when no thread could be started. */
tacl__shm_pool_t *tacl__shm_pool_create(int helpers);
void tacl__shm_pool_destroy(tacl__shm_pool_t *p);
/* Runs fn(arg, k) once for every k in [0, ntasks) on the caller and whichever helpers join, and
 * returns when every task has finished; beyond TACL_SHM_POOL_MAX_TASKS tasks (what one job's
 * ticket holds) in batches of that many, one after the other. p may be NULL (the caller runs
 * every task). Not reentrant: one caller per pool. */
void tacl__shm_pool_run(tacl__shm_pool_t *p, unsigned ntasks, tacl__shm_task_fn fn, void *arg);
/* Between hold(p, 1) and hold(p, 0) the caller is inside an operation whose jobs follow one
 * another after waits for other processes: idle helpers then poll for the next job for as long
 * as a shm wait spins (2 ms) instead of 50 us, so that they are not asleep when it comes (a
 * helper woken from its futex misses the start of a short job, the caller takes its share, and
 * the whole group then waits for this rank). p may be NULL. */
void tacl__shm_pool_hold(tacl__shm_pool_t *p, int on);
/* Helpers asleep on their futex now (for tests). */
int tacl__shm_pool_sleeping(const tacl__shm_pool_t *p);
/* Tasks run by helpers since the pool was created (for tests and diagnostics). */
unsigned long tacl__shm_pool_helped(const tacl__shm_pool_t *p);
/* Helpers allowed to take tasks now (0 for NULL), and the jobs after which one fewer was let in
 * (a parked helper, or helpers short of their share): for tests and diagnostics. */
int tacl__shm_pool_active(const tacl__shm_pool_t *p);
unsigned long tacl__shm_pool_stalls(const tacl__shm_pool_t *p);
/* Times every helper was kept out because the load sign said the machine (or this process's
 * control group) was loaded. */
unsigned long tacl__shm_pool_loads(const tacl__shm_pool_t *p);
/* Where the pool reads the system's runnable-thread count (tacl__proc_runnable by default; NULL:
 * never loaded) and the cores it compares it with: for tests. */
void tacl__shm_pool_set_runnable(tacl__shm_pool_t *p, int (*runnable)(void), int cores);
/* Or the control group's CPU pressure: pressure(path) returns the microseconds its tasks have
 * waited for a CPU so far (tacl__proc_pressure_read by default where this process may use fewer
 * CPUs than the system has), -1 when unreadable: for tests. */
void tacl__shm_pool_set_pressure(tacl__shm_pool_t *p, long long (*pressure)(const char *path),
                                 const char *path);
/* Which load sign the pool reads, in words, into buf (for diagnostics). */
const char *tacl__shm_pool_load_sign(const tacl__shm_pool_t *p, char *buf, size_t len);

#endif
