/* algo_registry.h — every collective algorithm is one row: the collectives it runs (a run
 * function per collective), when it applies to a communicator, and its predicted time from the
 * cost model (algo_cost.c). The selector (select.c) scores the rows that apply; TACL_ALGO
 * forces one. Rows are listed in preference order: a later row is chosen only when the model
 * predicts it at least COST_TIE faster than the best earlier one. */
#ifndef TACL_COLL_ALGO_REGISTRY_H
#define TACL_COLL_ALGO_REGISTRY_H

#include "coll/algo.h"

typedef tacl_status_t (*coll_run_fn)(coll_ctx_t *x, const coll_args_t *a);

typedef struct coll_algo_row {
    coll_algo_t id;
    const char *name;  /* as TACL_ALGO spells it */
    const char *about; /* one phrase for logs: what it does */
    /* Runs (at least partly) over the engine: the gate exchanges agreement messages, expands
     * fixed blocks to v-variants and finishes avg; 0 for the shared-memory group. */
    unsigned engine : 1;
    /* Its first steps cannot watch agreement messages: the gate completes the agreement first. */
    unsigned agree_first : 1;
    /* Whether it can run a on c; if not, *why_not says why. */
    int (*applies)(const tacl_comm_t *c, const coll_args_t *a, const char **why_not);
    /* Seconds the model predicts for a of bytes model bytes on c; INFINITY where the model does
     * not offer it by default (a ring or recursive doubling relayed through other ranks). */
    double (*predict)(tacl_comm_t *c, const coll_args_t *a, double bytes);
    coll_run_fn run[TACL_COLL_COUNT]; /* NULL: does not run that collective */
} coll_algo_row_t;

extern const coll_algo_row_t coll_algo_rows[];
extern const int coll_algo_nrows;

/* The row of algorithm id; NULL for COLL_ALGO_AUTO or an unknown id. */
const coll_algo_row_t *coll_algo_row(coll_algo_t id);
/* The algorithm TACL_ALGO spells s (n bytes), or COLL_ALGO_AUTO. */
coll_algo_t coll_algo_parse(const char *s, size_t n);

#endif
