/* coll.h — internals of the collective entry point shared by the files of src/coll. */
#ifndef TACL_COLL_COLL_H
#define TACL_COLL_COLL_H

#include "coll/algo.h"

/* Fails with TACL_ERR_INVALID for a NULL communicator and with the recorded status for a
 * communicator broken by an earlier failure. */
tacl_status_t coll_check_comm(tacl_comm_t *c, const char *what);
/* Gate checks (coll_check.c), TACL_ERR_INVALID naming the argument: every byte size and
 * displacement of the call fits size_t (v-arrays must be non-NULL); the bytes this rank reads
 * overlap the bytes it writes only in the in-place forms of tacl.h. Sizes before overlap. */
tacl_status_t coll_check_sizes(tacl_comm_t *c, const coll_args_t *a, const char *what);
tacl_status_t coll_check_overlap(tacl_comm_t *c, const coll_args_t *a, const char *what);
/* Runs one collective on c: argument checks are done; picks the algorithm and runs it. Also
 * used on internal communicators (host leaders). */
tacl_status_t coll_run(tacl_comm_t *c, const coll_args_t *a);
/* The algorithm coll_run would use, and why (for logs and tacl bench). */
coll_algo_t coll_select(tacl_comm_t *c, const coll_args_t *a, const char **why);
const char *coll_algo_name(coll_algo_t a);
/* TACL_OK when TACL_ALGO is unset or well formed, else TACL_ERR_CONFIG naming the bad entry. */
tacl_status_t coll_algo_check(void);
/* Parses TACL_ALGO; returns the algorithm forced for kind, or COLL_ALGO_AUTO. */
coll_algo_t coll_algo_forced(tacl__coll_t kind);

#endif
