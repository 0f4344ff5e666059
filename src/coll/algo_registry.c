/* algo_registry.c — the table of algorithms (algo_registry.h): one row per algorithm with the
 * collectives it runs, where it applies and its cost function. Adding an algorithm is adding
 * a row here (and its run functions); the gate and the selector need no edit. */
#include "coll/algo_registry.h"
#include "coll/algo_cost.h"

#include <string.h>
#include <strings.h>

static int applies_shm(const tacl_comm_t *c, const coll_args_t *a, const char **why_not)
{
    (void)a;
    if (c->shm_all) return 1;
    *why_not = c->nhosts > 1 ? "its ranks are on several hosts (the shared-memory group spans one)"
                             : "the communicator has no shared-memory group (TACL_SHM_DISABLE?)";
    return 0;
}

static int applies_any(const tacl_comm_t *c, const coll_args_t *a, const char **why_not)
{
    (void)c;
    (void)a;
    (void)why_not;
    return 1;
}

static int applies_hier(const tacl_comm_t *c, const coll_args_t *a, const char **why_not)
{
    (void)a;
    if (c->nhosts > 1 && c->nhosts < c->size) return 1;
    *why_not = c->nhosts == 1 ? "all its ranks are on one host"
                              : "every host has one rank (nothing to combine inside hosts)";
    return 0;
}

static int applies_multitree(const tacl_comm_t *c, const coll_args_t *a, const char **why_not)
{
    if (!c->mtree) {
        *why_not =
            "it is a full mesh (tree packings are for graphs without a ring of direct links)";
        return 0;
    }
    /* Rooted calls without a packing that beats one tree run on that one tree. */
    if (a->kind != TACL_COLL_ALL_REDUCE || c->mtree->forest) return 1;
    *why_not = "no packing of trees beats one tree on its graph";
    return 0;
}

/* Preference order (see algo_registry.h): the shared-memory group, the hierarchy, then the
 * engine algorithms from the most to the least pipelined. */
const coll_algo_row_t coll_algo_rows[] = {
    {COLL_ALGO_SHM,
     "shm",
     "direct algorithms on the host's shared-memory group",
     0,
     0,
     applies_shm,
     cost_shm,
     {[TACL_COLL_ALL_REDUCE] = algo_shm_all_reduce,
      [TACL_COLL_REDUCE] = algo_shm_reduce,
      [TACL_COLL_BROADCAST] = algo_shm_broadcast,
      [TACL_COLL_ALL_GATHER] = algo_shm_all_gatherv,
      [TACL_COLL_ALL_GATHERV] = algo_shm_all_gatherv,
      [TACL_COLL_REDUCE_SCATTER] = algo_shm_reduce_scatter,
      [TACL_COLL_GATHER] = algo_shm_gather,
      [TACL_COLL_SCATTER] = algo_shm_scatter,
      [TACL_COLL_ALL_TO_ALL] = algo_shm_all_to_all,
      [TACL_COLL_ALL_TO_ALLV] = algo_shm_all_to_allv,
      [TACL_COLL_BARRIER] = algo_shm_barrier}},
    {COLL_ALGO_HIER,
     "hier",
     "shared memory inside hosts, the leaders' best algorithm across",
     1,
     1,
     applies_hier,
     cost_hier,
     {[TACL_COLL_ALL_REDUCE] = algo_allreduce_hier}},
    {COLL_ALGO_RING,
     "ring",
     "ring over the communicator's ring order",
     1,
     0,
     applies_any,
     cost_ring,
     {[TACL_COLL_ALL_REDUCE] = algo_allreduce_ring,
      [TACL_COLL_ALL_GATHER] = algo_allgatherv_ring,
      [TACL_COLL_ALL_GATHERV] = algo_allgatherv_ring,
      [TACL_COLL_REDUCE_SCATTER] = algo_reduce_scatter_ring}},
    {COLL_ALGO_RHD,
     "rhd",
     "recursive halving-doubling",
     1,
     0,
     applies_any,
     cost_rhd,
     {[TACL_COLL_ALL_REDUCE] = algo_allreduce_rhd}},
    {COLL_ALGO_RD,
     "rd",
     "recursive doubling of whole vectors",
     1,
     0,
     applies_any,
     cost_rd,
     {[TACL_COLL_ALL_REDUCE] = algo_allreduce_rd}},
    {COLL_ALGO_TREE,
     "tree",
     "pipelined spanning tree",
     1,
     0,
     applies_any,
     cost_tree,
     {[TACL_COLL_ALL_REDUCE] = algo_allreduce_tree,
      [TACL_COLL_REDUCE] = algo_reduce_tree,
      [TACL_COLL_BROADCAST] = algo_bcast_tree,
      [TACL_COLL_ALL_GATHER] = algo_allgatherv_tree,
      [TACL_COLL_ALL_GATHERV] = algo_allgatherv_tree,
      [TACL_COLL_REDUCE_SCATTER] = algo_reduce_scatter_tree}},
    {COLL_ALGO_MULTITREE,
     "multitree",
     "spanning trees packed by bandwidth",
     1,
     0,
     applies_multitree,
     cost_multitree,
     {[TACL_COLL_ALL_REDUCE] = algo_allreduce_multitree,
      [TACL_COLL_REDUCE] = algo_reduce_multitree,
      [TACL_COLL_BROADCAST] = algo_bcast_multitree}},
    {COLL_ALGO_DIRECT,
     "direct",
     "direct exchanges, routed where no link exists",
     1,
     0,
     applies_any,
     cost_direct,
     {[TACL_COLL_GATHER] = algo_gatherv_direct,
      [TACL_COLL_SCATTER] = algo_scatterv_direct,
      [TACL_COLL_ALL_TO_ALL] = algo_alltoallv_pairwise,
      [TACL_COLL_ALL_TO_ALLV] = algo_alltoallv_pairwise,
      [TACL_COLL_BARRIER] = algo_barrier_dissem}},
};
const int coll_algo_nrows = (int)(sizeof coll_algo_rows / sizeof coll_algo_rows[0]);

const coll_algo_row_t *coll_algo_row(coll_algo_t id)
{
    for (int i = 0; i < coll_algo_nrows; i++)
        if (coll_algo_rows[i].id == id) return &coll_algo_rows[i];
    return NULL;
}

coll_algo_t coll_algo_parse(const char *s, size_t n)
{
    for (int i = 0; i < coll_algo_nrows; i++)
        if (strlen(coll_algo_rows[i].name) == n && !strncasecmp(s, coll_algo_rows[i].name, n))
            return coll_algo_rows[i].id;
    return COLL_ALGO_AUTO;
}

const char *coll_algo_name(coll_algo_t a)
{
    const coll_algo_row_t *r = coll_algo_row(a);
    return r ? r->name : a == COLL_ALGO_AUTO ? "auto" : "?";
}
