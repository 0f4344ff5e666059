/* select.c — the selector's choice on communicator shapes built from graphs (no processes):
 *   model    full mesh of 4 hosts: 8 B -> rd, 64 MiB -> ring, in the order the alpha-beta
 *            formulas of topo/sched.h give; chain A-B-C -> tree at B; kite (triangle at b, a
 *            leaf at 2b) -> multitree for large all_reduce; one host with its shm group -> shm
 *            for every collective and size, even when its links are declared faster than the
 *            group's rate; 2 hosts x 2 ranks -> hier for all_reduce; every choice is the
 *            fastest applicable row by the model unless an earlier row is within COST_TIE;
 *            a size class chooses once (the cache) and its choice is rank-independent.
 *   forced   (TACL_ALGO="allreduce:shm;broadcast:multitree;ring", set here) on the full mesh:
 * all_reduce and broadcast fail with TACL_ERR_INVALID naming the algorithm, the collective and why;
 * all_gather runs the forced ring; scatter (ring does not run it) chooses by the model; inside a
 * hierarchical call (nested) a forced row that cannot run gives way to the model. badconf
 * (TACL_ALGO="broadcast:rd", set here) coll_algo_check fails with TACL_ERR_CONFIG naming the
 * algorithm and what it runs. */
#include "check.h"
#include "coll/algo_cost.h"
#include "coll/coll.h"
#include "topo/graph.h"
#include "topo/sched.h"

#include <math.h>

static double times[COLL_ALGO_COUNT + 1];

/* A communicator of n ranks (this process rank 0) on the given hosts over graph g. */
static tacl_comm_t *shape(tacl__graph_t *g, const int *host_of, int shm_all)
{
    int n = tacl__graph_size(g);
    tacl_comm_t *c = calloc(1, sizeof *c);
    CHECK(c);
    c->size = n;
    c->rank = 0;
    c->id = 0x5e1ec7;
    c->host_of = malloc((size_t)n * sizeof *c->host_of);
    c->leaders = malloc((size_t)n * sizeof *c->leaders);
    CHECK(c->host_of && c->leaders);
    for (int r = 0; r < n; r++) {
        c->host_of[r] = host_of[r];
        if (host_of[r] >= c->nhosts) c->leaders[c->nhosts++] = r;
        if (host_of[r] == host_of[0]) c->local_size++;
    }
    c->graph = g;
    tacl__errbuf_t eb;
    CHECK_OK(comm_shape_init(c, &eb));
    c->shm_all = shm_all;
    return c;
}

static void unshape(tacl_comm_t *c)
{
    comm_topo_fini(c);
    tacl__graph_destroy(c->graph);
    free(c->ring);
    free(c->host_of);
    free(c->leaders);
    free(c);
}

static coll_algo_t pick(tacl_comm_t *c, tacl__coll_t kind, size_t bytes, int root)
{
    coll_args_t a = {.kind = kind, .count = bytes, .esz = 1, .root = root};
    coll_pick_t p;
    CHECK_OK(coll_select(c, &a, &p));
    /* The choice is the model's: no applicable row is COST_TIE faster, and every earlier row
     * is slower. */
    double m = coll_size_class_bytes(coll_size_class(coll_model_bytes(c, &a)));
    double best = coll_select_scores(c, &a, m, times);
    CHECK(fabs(best - p.predicted_s) <= 1e-12 * best);
    for (int i = 0; i < coll_algo_nrows; i++) {
        if (!isfinite(times[i])) continue;
        CHECK(times[i] >= p.predicted_s * (1 - COST_TIE) - 1e-15);
        if (coll_algo_rows[i].id == p.row->id) break;
        CHECK(times[i] > p.predicted_s);
    }
    /* Asking again hits the kept choice. */
    coll_pick_t q;
    CHECK_OK(coll_select(c, &a, &q));
    CHECK(q.row == p.row && q.predicted_s == p.predicted_s);
    return p.row->id;
}

static double row_time(coll_algo_t id)
{
    for (int i = 0; i < coll_algo_nrows; i++)
        if (coll_algo_rows[i].id == id) return times[i];
    return NAN;
}

static tacl_comm_t *full_mesh(int n, const int *host_of, double bw, double lat, int shm_all)
{
    tacl__graph_t *g;
    CHECK_OK(tacl__graph_full(n, bw, lat, &g));
    return shape(g, host_of, shm_all);
}

static void model_mesh(void)
{
    static const int hosts[4] = {0, 1, 2, 3};
    double bw = COST_LINK_NET_BW, lat = COST_LINK_NET_LAT;
    tacl_comm_t *c = full_mesh(4, hosts, bw, lat, 0);
    CHECK(c->full_mesh && c->ring_direct);
    double l = lat + COST_ENGINE_STEP_S, small = 8, large = 64.0 * 1024 * 1024;
    /* The formulas of topo/sched.h order them the same way. */
    CHECK(tacl__sched_recdbl_time(4, bw, l, small) < tacl__sched_ring_time(4, bw, l, small));
    CHECK(tacl__sched_ring_time(4, bw, l, large) < tacl__sched_recdbl_time(4, bw, l, large));
    CHECK(pick(c, TACL_COLL_ALL_REDUCE, 8, -1) == COLL_ALGO_RD);
    CHECK(row_time(COLL_ALGO_RD) < row_time(COLL_ALGO_RING));
    CHECK(pick(c, TACL_COLL_ALL_REDUCE, 64u << 20, -1) == COLL_ALGO_RING);
    CHECK(row_time(COLL_ALGO_RING) < row_time(COLL_ALGO_RD));
    CHECK(row_time(COLL_ALGO_RING) < row_time(COLL_ALGO_TREE));
    CHECK(isinf(row_time(COLL_ALGO_SHM)) && isinf(row_time(COLL_ALGO_HIER)) &&
          isinf(row_time(COLL_ALGO_MULTITREE)));
    /* In between, halving-doubling: log2 n steps at the ring's bandwidth. */
    CHECK(pick(c, TACL_COLL_ALL_REDUCE, 64u << 10, -1) == COLL_ALGO_RHD);
    CHECK(pick(c, TACL_COLL_ALL_GATHER, 1u << 20, -1) == COLL_ALGO_RING);
    CHECK(pick(c, TACL_COLL_BROADCAST, 1u << 20, 2) == COLL_ALGO_TREE);
    CHECK(pick(c, TACL_COLL_GATHER, 1u << 20, 1) == COLL_ALGO_DIRECT);
    CHECK(pick(c, TACL_COLL_BARRIER, 0, -1) == COLL_ALGO_DIRECT);
    unshape(c);
}

static void model_chain_kite(void)
{
    static const int hosts[4] = {0, 1, 2, 3};
    tacl__graph_t *g;
    double b = 1.25e8;
    CHECK_OK(tacl__graph_create(3, &g));
    CHECK_OK(tacl__graph_add_link(g, 0, 1, b, 50e-6));
    CHECK_OK(tacl__graph_add_link(g, 1, 2, b, 50e-6));
    tacl_comm_t *c = shape(g, hosts, 0);
    CHECK(!c->full_mesh && !c->ring_direct && c->centre == 1);
    CHECK(pick(c, TACL_COLL_ALL_REDUCE, 4u << 20, -1) == COLL_ALGO_TREE);
    CHECK(isinf(row_time(COLL_ALGO_RING)) && isinf(row_time(COLL_ALGO_RD)));
    /* The tree at B meets the cut bound M/b within its pipeline and steps. */
    double m = coll_size_class_bytes(coll_size_class(4u << 20));
    CHECK(row_time(COLL_ALGO_TREE) >= tacl__sched_lower_bound(c->graph, m));
    CHECK(row_time(COLL_ALGO_TREE) < 1.2 * tacl__sched_lower_bound(c->graph, m));
    CHECK(pick(c, TACL_COLL_ALL_REDUCE, 8, -1) == COLL_ALGO_TREE);
    CHECK(pick(c, TACL_COLL_BROADCAST, 4u << 20, 0) == COLL_ALGO_TREE);
    CHECK(pick(c, TACL_COLL_REDUCE_SCATTER, 4u << 20, -1) == COLL_ALGO_TREE);
    unshape(c);

    /* Kite: triangle 0-1-2 at b, leaf 3 on 2 at 2b: no Hamiltonian cycle; the packing carries
     * 1.5b against one tree's b. */
    CHECK_OK(tacl__graph_create(4, &g));
    CHECK_OK(tacl__graph_add_link(g, 0, 1, b, 50e-6));
    CHECK_OK(tacl__graph_add_link(g, 1, 2, b, 50e-6));
    CHECK_OK(tacl__graph_add_link(g, 0, 2, b, 50e-6));
    CHECK_OK(tacl__graph_add_link(g, 2, 3, 2 * b, 50e-6));
    c = shape(g, hosts, 0);
    CHECK(c->mtree && c->mtree->forest && c->centre == 2);
    CHECK(pick(c, TACL_COLL_ALL_REDUCE, 16u << 20, -1) == COLL_ALGO_MULTITREE);
    CHECK(row_time(COLL_ALGO_MULTITREE) < (1 - COST_TIE) * row_time(COLL_ALGO_TREE));
    CHECK(pick(c, TACL_COLL_BROADCAST, 16u << 20, 2) == COLL_ALGO_MULTITREE);
    /* Small: the packing's extra steps buy nothing. */
    CHECK(pick(c, TACL_COLL_ALL_REDUCE, 8, -1) == COLL_ALGO_TREE);
    unshape(c);
}

static void model_hosts(void)
{
    /* One host: the shm group for every collective and size, even over links declared faster
     * than the group's own rate. */
    static const int one[4] = {0, 0, 0, 0}, two[4] = {0, 0, 1, 1};
    for (int fast = 0; fast < 2; fast++) {
        tacl_comm_t *c = full_mesh(4, one, fast ? 50e9 : COST_LINK_HOST_BW, COST_LINK_HOST_LAT, 1);
        for (int k = TACL_COLL_ALL_REDUCE; k <= TACL_COLL_BARRIER; k++) {
            CHECK(pick(c, (tacl__coll_t)k, 8, 1) == COLL_ALGO_SHM);
            CHECK(pick(c, (tacl__coll_t)k, 64u << 20, 1) == COLL_ALGO_SHM);
        }
        unshape(c);
    }
    /* Two hosts of two ranks: shared memory inside, leaders across. */
    tacl__graph_t *g;
    CHECK_OK(tacl__graph_create(4, &g));
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            CHECK_OK(tacl__graph_add_link(
                g, i, j, two[i] == two[j] ? COST_LINK_HOST_BW : COST_LINK_NET_BW,
                two[i] == two[j] ? COST_LINK_HOST_LAT : COST_LINK_NET_LAT));
    tacl_comm_t *c = shape(g, two, 0);
    CHECK(c->nhosts == 2 && c->cost.max_local == 2 && c->cost.lead_mesh);
    CHECK(pick(c, TACL_COLL_ALL_REDUCE, 8, -1) == COLL_ALGO_HIER);
    CHECK(pick(c, TACL_COLL_ALL_REDUCE, 64u << 20, -1) == COLL_ALGO_HIER);
    CHECK(row_time(COLL_ALGO_HIER) < row_time(COLL_ALGO_RING));
    unshape(c);
}

static void forced(void)
{
    static const int hosts[4] = {0, 1, 2, 3}, two[4] = {0, 0, 1, 1};
    tacl_comm_t *c = full_mesh(4, hosts, COST_LINK_NET_BW, COST_LINK_NET_LAT, 0);
    coll_pick_t p;
    coll_args_t a = {.kind = TACL_COLL_ALL_REDUCE, .count = 1024, .esz = 4, .root = -1};
    CHECK_ST(coll_select(c, &a, &p), TACL_ERR_INVALID);
    CHECK_CONTAINS(c->err.msg, "all_reduce: TACL_ALGO forces 'shm', which cannot run all_reduce");
    CHECK_CONTAINS(c->err.msg, "several hosts");
    a.kind = TACL_COLL_BROADCAST;
    a.root = 0;
    CHECK_ST(coll_select(c, &a, &p), TACL_ERR_INVALID);
    CHECK_CONTAINS(c->err.msg, "forces 'multitree', which cannot run broadcast");
    CHECK_CONTAINS(c->err.msg, "full mesh");
    a.kind = TACL_COLL_ALL_GATHER;
    a.root = -1;
    CHECK_OK(coll_select(c, &a, &p));
    CHECK(p.row->id == COLL_ALGO_RING);
    CHECK_CONTAINS(p.why, "forced by TACL_ALGO");
    a.kind = TACL_COLL_SCATTER;
    a.root = 1;
    CHECK_OK(coll_select(c, &a, &p));
    CHECK(p.row->id == COLL_ALGO_DIRECT);
    CHECK_CONTAINS(p.why, "cost model");
    /* Inside a hierarchical call the leaders' communicator chooses for itself. */
    a.kind = TACL_COLL_ALL_REDUCE;
    a.root = -1;
    a.nested = 1;
    CHECK_OK(coll_select(c, &a, &p));
    CHECK(p.row->id == COLL_ALGO_RD);
    unshape(c);
    /* shm forced where it can run. */
    tacl__graph_t *g;
    CHECK_OK(tacl__graph_full(4, COST_LINK_HOST_BW, COST_LINK_HOST_LAT, &g));
    c = shape(g, (const int[4]){0, 0, 0, 0}, 1);
    a.nested = 0;
    CHECK_OK(coll_select(c, &a, &p));
    CHECK(p.row->id == COLL_ALGO_SHM);
    unshape(c);
    (void)two;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "model";
    if (!strcmp(mode, "model")) {
        model_mesh();
        model_chain_kite();
        model_hosts();
    } else if (!strcmp(mode, "forced")) {
        /* TACL_ALGO is read once, at the first selection. */
        setenv("TACL_ALGO", "allreduce:shm;broadcast:multitree;ring", 1);
        forced();
    } else if (!strcmp(mode, "badconf")) {
        setenv("TACL_ALGO", "broadcast:rd", 1);
        CHECK_ST(coll_algo_check(), TACL_ERR_CONFIG);
        CHECK_CONTAINS(tacl_last_error(),
                       "algorithm 'rd' does not run broadcast (it runs all_reduce)");
    } else {
        fprintf(stderr, "usage: %s model|forced|badconf\n", argv[0]);
        return 2;
    }
    printf("select %s: ok\n", mode);
    return 0;
}
