/* coll.h — internals of the collective entry point shared by the files of src/coll. */
#ifndef TACL_COLL_COLL_H
#define TACL_COLL_COLL_H

#include "coll/algo.h"
#include "coll/algo_registry.h"

/* Fails with TACL_ERR_INVALID for a NULL communicator and with the recorded status for a
 * communicator broken by an earlier failure. */
tacl_status_t coll_check_comm(tacl_comm_t *c, const char *what);
/* Gate checks (coll_check.c), TACL_ERR_INVALID naming the argument: every byte size and
 * displacement of the call fits size_t (v-arrays must be non-NULL); the bytes this rank reads
 * overlap the bytes it writes only in the in-place forms of tacl.h. Sizes before overlap. */
tacl_status_t coll_check_sizes(tacl_comm_t *c, const coll_args_t *a, const char *what);
tacl_status_t coll_check_overlap(tacl_comm_t *c, const coll_args_t *a, const char *what);
/* The selector's answer: the row, its predicted seconds at the call's size class, and why. */
typedef struct {
    const coll_algo_row_t *row;
    double predicted_s;
    const char *why; /* "forced by TACL_ALGO" or "fastest by the cost model" */
} coll_pick_t;
/* The row that runs a (checked) on c (select.c); TACL_ERR_INVALID, recorded in c->err, when
 * TACL_ALGO forces a row that cannot run it on c. */
tacl_status_t coll_select(tacl_comm_t *c, const coll_args_t *a, coll_pick_t *out);
/* The model's scores of a at bytes (every registry row, INFINITY where it does not run or
 * apply) into times[coll_algo_nrows]; returns the chosen row's time. Does not keep or log. */
double coll_select_scores(tacl_comm_t *c, const coll_args_t *a, double bytes, double *times);
/* Size class of a call of bytes model bytes (0 for none, k for [2^(k-1), 2^k)), and the size
 * the model scores a class at (its geometric middle). */
int coll_size_class(double bytes);
double coll_size_class_bytes(int k);
const char *coll_algo_name(coll_algo_t a);
/* TACL_OK when TACL_ALGO is unset or well formed, else TACL_ERR_CONFIG naming the bad entry. */
tacl_status_t coll_algo_check(void);
/* Parses TACL_ALGO; returns the algorithm forced for kind, or COLL_ALGO_AUTO. */
coll_algo_t coll_algo_forced(tacl__coll_t kind);

#endif
