/* mp_fork.h — multi-process tests without a store: mp_run forks n ranks that share an
 * anonymous shared mapping through which mp_xchg (a tacl__xchg_t) all-gathers small records.
 * The parent only supervises: it reaps the children as they exit (so a killed rank never
 * lingers as a zombie), kills the ones still running at the timeout (by pid) and reports how
 * each ended. */
#ifndef TACL_TEST_MP_FORK_H
#define TACL_TEST_MP_FORK_H

#include "xchg.h"

#include <sys/types.h>

#define MP_MAX_RANKS 16
#define MP_XCHG_MAX  4096 /* largest record one rank contributes to one all-gather */

typedef struct {
    int rank, size;
    tacl__xchg_t xchg; /* all-gather among the ranks of this run (20 s deadline) */
} mp_ctx_t;

typedef int (*mp_fn_t)(mp_ctx_t *ctx, void *arg);

typedef struct {
    pid_t pid;
    int exited; /* 1: exit code in code; 0: killed by signal sig */
    int code, sig;
} mp_result_t;

/* Runs fn(ctx, arg) in n forked children (its return value is the exit code). Fills res[n]
 * and returns 0 when every child was reaped before timeout_s, -1 when some had to be killed. */
int mp_run(int n, mp_fn_t fn, void *arg, double timeout_s, mp_result_t *res);
/* 1 when every result is a clean exit 0; prints the others. */
int mp_all_ok(const mp_result_t *res, int n);

#endif
