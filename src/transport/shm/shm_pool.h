/* shm_pool.h — helper threads that share the work of one job with the calling thread. A job is a
 * count of numbered tasks; every participant (the caller or a helper) takes the next task that
 * nobody has taken yet, so a helper that the scheduler has parked costs nothing: the others take
 * its share, and the caller only ever waits for tasks that a helper has started. Idle helpers
 * spin briefly, then sleep on a futex; the caller wakes them only when some sleep. */
#ifndef TACL_TRANSPORT_SHM_POOL_H
#define TACL_TRANSPORT_SHM_POOL_H

#define TACL_SHM_POOL_MAX_TASKS 65535u

typedef struct tacl__shm_pool tacl__shm_pool_t;
typedef void (*tacl__shm_task_fn)(void *arg, unsigned task);

/* A pool of `helpers` threads (>= 1); NULL when no thread could be started. */
tacl__shm_pool_t *tacl__shm_pool_create(int helpers);
void tacl__shm_pool_destroy(tacl__shm_pool_t *p);
/* Runs fn(arg, k) once for every k in [0, ntasks) (ntasks <= TACL_SHM_POOL_MAX_TASKS) on the
 * caller and whichever helpers join, and returns when every task has finished. p may be NULL
 * (the caller runs every task). Not reentrant: one caller per pool. */
void tacl__shm_pool_run(tacl__shm_pool_t *p, unsigned ntasks, tacl__shm_task_fn fn, void *arg);
/* Tasks run by helpers since the pool was created (for tests and diagnostics). */
unsigned long tacl__shm_pool_helped(const tacl__shm_pool_t *p);

#endif
