/* xchg_fork.h — multi-process tests: runs a function in size forked children, each given a
 * tacl__xchg_t whose all-gather goes through the parent (a hub over socketpairs made before
 * fork). The parent serves the exchange, kills (by pid) every child still running at the
 * timeout, and reports each child's wait status. A child that dies makes the others' later
 * all-gathers fail instead of hang. */
#ifndef TACL_TEST_XCHG_FORK_H
#define TACL_TEST_XCHG_FORK_H

#include "xchg.h"

typedef int (*xchg_fork_fn)(int rank, int size, const tacl__xchg_t *x, void *arg);

/* Returns after every child ended (exited, died, or was killed at timeout_s). status[r] is
 * child r's wait status (see WIFEXITED ...). Returns 0, or -1 when fork failed. */
int xchg_fork_run(int size, xchg_fork_fn fn, void *arg, double timeout_s, int *status);

#endif
