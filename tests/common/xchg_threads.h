/* xchg_threads.h — a tacl__xchg_t for tests that run ranks as threads of one process: an
 * all-gather through a shared array and a barrier (no deadline is needed: every thread of the
 * test takes part, and the test's CTest timeout bounds a bug). */
#ifndef TACL_TEST_XCHG_THREADS_H
#define TACL_TEST_XCHG_THREADS_H

#include "xchg.h"

#include <pthread.h>

typedef struct xchg_threads xchg_threads_t;

/* The shared state of size threads; NULL when out of memory. */
xchg_threads_t *xchg_threads_create(int size);
void xchg_threads_destroy(xchg_threads_t *x);
/* Thread rank's view: fills *out (valid while x lives). */
void xchg_threads_member(xchg_threads_t *x, int rank, tacl__xchg_t *out);

#endif
