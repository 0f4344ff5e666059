/* mp_world.h — multi-process tests without a launcher: the parent starts a rendezvous store on port
 * 0, forks n ranks with TACL_RANK/TACL_WORLD_SIZE/TACL_MASTER_* set (as `tacl run` would), each
 * rank calls tacl_init and the test body, and the parent collects exit codes under a deadline,
 * killing (by pid) any rank still running when it passes. */
#ifndef TACL_TEST_MP_WORLD_H
#define TACL_TEST_MP_WORLD_H

#include "tacl.h"

/* Body of one rank; returns 0 on success (non-zero fails the test). */
typedef int (*mpw_body_t)(tacl_comm_t *world, void *arg);

typedef struct {
    double timeout_s;     /* whole run; default 60 */
    int no_init;          /* 1: the body gets world = NULL and calls tacl_init itself */
    const char *host_ids; /* NULL, or a comma-separated TACL_HOST_ID per rank */
    const char *env;      /* NULL, or "K=V;K=V" set in every rank */
} mpw_opts_t;

/* Runs body on n ranks; returns 0 when every rank exited 0, else the first failure's code
 * (after printing which rank failed and how). */
int mpw_run(int n, mpw_body_t body, void *arg, const mpw_opts_t *opts);
/* Exit code of rank r in the last mpw_run (for tests that expect failures). */
int mpw_rank_status(int r);
/* Whether rank r in the last mpw_run was killed by a signal (the signal), else 0. */
int mpw_rank_signal(int r);
/* Pid of the store process of the current (or last) mpw_run; ranks may stop or kill it. */
int mpw_store_pid(void);

#endif
