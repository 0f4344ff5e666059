/* graph.c (test) — the topology algorithms on the graphs that matter (chain A-B-C, a 4-ring
 * missing one edge, a star, a 5-line, a full mesh, two components, asymmetric declarations)
 * with the exact cycles, trees, routes and schedules expected; then random graphs checked
 * against brute force (permutations for rings, all simple paths for routes, all subsets for
 * the minimum cut, thresholds for the bottleneck tree). */
#include "check.h"
#include "topo/graph.h"
#include "topo/route.h"
#include "topo/sched.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GB 1e9

static tacl__graph_t *gt_make(int n, const int (*edges)[2], int ne, double bw, double lat)
{
    tacl__graph_t *g;
    CHECK_OK(tacl__graph_create(n, &g));
    for (int i = 0; i < ne; i++)
        CHECK_OK(tacl__graph_add_link(g, edges[i][0], edges[i][1], bw, lat));
    return g;
}

static int gt_near(double a, double b)
{
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= 1e-9 * (fabs(a) + fabs(b)) + 1e-15;
}

/* A valid Hamiltonian cycle of g: a permutation starting at 0 whose consecutive pairs (and
 * the closing pair) are edges. Returns its bottleneck bandwidth, or -1 when invalid. */
static double gt_cycle_bottleneck(const tacl__graph_t *g, const int *order) /* n <= 256 */
{
    int n = tacl__graph_size(g);
    int seen[256] = {0};
    double b = INFINITY;
    if (order[0] != 0) return -1;
    for (int i = 0; i < n; i++) {
        if (order[i] < 0 || order[i] >= n || seen[order[i]]++) return -1;
        int u = order[i], v = order[(i + 1) % n];
        if (!tacl__graph_has_edge(g, u, v)) return -1;
        if (tacl__graph_bw(g, u, v) < b) b = tacl__graph_bw(g, u, v);
    }
    return b;
}

static void gt_check_parents(const tacl__tree_t *t, const int *want)
{
    for (int v = 0; v < t->n; v++) {
        if (t->parent[v] != want[v])
            fprintf(stderr, "rank %d: parent %d, expected %d\n", v, t->parent[v], want[v]);
        CHECK(t->parent[v] == want[v]);
    }
}

/* The tree's own invariants: order is a permutation, root first, every rank after its
 * parent; children lists agree with parents; depths follow parents. */
static void gt_check_tree(const tacl__graph_t *g, const tacl__tree_t *t)
{
    int n = t->n, pos[256];
    CHECK(t->order[0] == t->root && t->parent[t->root] == -1 && t->depth[t->root] == 0);
    for (int i = 0; i < n; i++)
        pos[t->order[i]] = i;
    int nchild = 0;
    for (int v = 0; v < n; v++) {
        if (v == t->root) continue;
        CHECK(tacl__graph_has_edge(g, v, t->parent[v]));
        CHECK(pos[t->parent[v]] < pos[v]);
        CHECK(t->depth[v] == t->depth[t->parent[v]] + 1);
        int found = 0;
        for (int i = t->child_start[t->parent[v]]; i < t->child_start[t->parent[v] + 1]; i++)
            found += t->child[i] == v;
        CHECK(found == 1);
        nchild++;
    }
    CHECK(t->child_start[n] == nchild);
}

/* ---- The named graphs. ---- */

static void test_chain(void)
{
    /* A=0 - B=1 - C=2, 10 GB/s, 5 us. */
    const int e[][2] = {{0, 1}, {1, 2}};
    tacl__graph_t *g = gt_make(3, e, 2, 10 * GB, 5e-6);
    tacl__errbuf_t eb = {{0}};
    int order[3], centre = -1, ecc = -1;
    CHECK(!tacl__graph_has_edge(g, 0, 2) && tacl__graph_has_edge(g, 2, 1));
    CHECK_OK(tacl__graph_check_connected(g, &eb));
    CHECK_OK(tacl__graph_centre(g, &centre, &ecc, &eb));
    CHECK(centre == 1 && ecc == 1);
    CHECK_ST(tacl__graph_hamiltonian_cycle(g, order, NULL, &eb), TACL_ERR_NOT_FOUND);
    CHECK_CONTAINS(eb.msg, "rank 0 has degree 1");

    tacl__routes_t *r;
    CHECK_OK(tacl__routes_build(g, &r, &eb));
    for (int k = 0; k < TACL_ROUTE_KINDS; k++) {
        CHECK(tacl__routes_next_hop(r, k, 0, 2) == 1 && tacl__routes_next_hop(r, k, 2, 0) == 1);
        CHECK(tacl__routes_next_hop(r, k, 1, 2) == 2 && tacl__routes_next_hop(r, k, 1, 1) == 1);
        CHECK(tacl__routes_hops(r, k, 0, 2) == 2);
        int path[3];
        CHECK(tacl__routes_path(r, k, 0, 2, path, 3) == 3);
        CHECK(path[0] == 0 && path[1] == 1 && path[2] == 2);
        CHECK(tacl__routes_path(r, k, 0, 2, path, 2) == -1); /* does not fit */
    }
    CHECK(
        gt_near(tacl__routes_cost(r, TACL_ROUTE_SMALL, 0, 2), 2 * (5e-6 + TACL_ROUTE_HOP_COST_S)));
    CHECK(gt_near(tacl__routes_cost(r, TACL_ROUTE_LARGE, 2, 0),
                  2 * (5e-6 + TACL_ROUTE_CHUNK_BYTES / (10 * GB))));
    CHECK(tacl__routes_next_hop(r, 0, 0, 7) == -1);
    tacl__routes_destroy(r);

    /* Schedule: tree rooted at B; the cut bound is M/b (DESIGN's worked example) and the
     * pipelined tree's prediction is M/b plus one chunk and two latencies per level. */
    double M = 64.0 * 1024 * 1024, b = 10 * GB;
    tacl__sched_t *s;
    CHECK_OK(tacl__sched_all_reduce(g, M, &s, &eb));
    CHECK(s->kind == TACL_SCHED_TREE && s->root == 1 && s->eccentricity == 1);
    CHECK_CONTAINS(s->reason, "no Hamiltonian cycle");
    CHECK_CONTAINS(s->reason, "spanning tree rooted at rank 1 (centre, eccentricity 1)");
    const int want[] = {1, -1, 1};
    gt_check_parents(s->tree, want);
    gt_check_tree(g, s->tree);
    CHECK(s->tree->height == 1 && s->tree->order[0] == 1);
    CHECK(gt_near(s->lower_bound_s, M / b));
    /* One stage (height 1): chunks of M/64. */
    double c = (double)tacl__sched_chunk_bytes(M, 1);
    CHECK(c == M / 64);
    CHECK(gt_near(s->predicted_s, M / b + c / b + 2 * 5e-6));
    /* The relayed ring the tree replaces: 4M/(3b) at this size, slower than the tree. */
    CHECK(tacl__sched_ring_time(3, b, 0, M) > s->predicted_s);
    CHECK(gt_near(tacl__sched_ring_time(3, b, 0, M), 4 * M / (3 * b)));
    char text[1024];
    tacl__sched_format(s, text, sizeof text);
    CHECK_CONTAINS(text, "predicted: ");
    CHECK_CONTAINS(text, "schedule: all_reduce tree");
    CHECK_CONTAINS(text, "tree 0 parents: 1 -1 1");
    tacl__sched_destroy(s);

    /* Broadcast from A: the path rooted at A, M/b plus one chunk and a latency per level. */
    CHECK_OK(tacl__sched_build(g, TACL_SCHED_BROADCAST, 0, M, &s, &eb));
    CHECK(s->kind == TACL_SCHED_TREE && s->root == 0 && s->eccentricity == 2);
    const int want_b[] = {-1, 0, 1};
    gt_check_parents(s->tree, want_b);
    /* Height 2: two stages, chunks of M/128. */
    double cb = (double)tacl__sched_chunk_bytes(M, 2);
    CHECK(cb == M / 128);
    CHECK(gt_near(s->predicted_s, M / b + cb / b + 2 * 5e-6));
    CHECK(gt_near(s->lower_bound_s, M / b));
    CHECK_CONTAINS(s->reason, "spanning tree rooted at rank 0 (the root, eccentricity 2)");
    tacl__sched_destroy(s);
    /* All-gather: tree at B; each edge carries 2/3 of the result one way (the cut bound). */
    CHECK_OK(tacl__sched_build(g, TACL_SCHED_ALL_GATHER, 2, M, &s, &eb));
    CHECK(s->kind == TACL_SCHED_TREE && s->root == 1 && s->op == TACL_SCHED_ALL_GATHER);
    CHECK(gt_near(s->predicted_s, 2 * M / (3 * b) + c / b + 2 * 5e-6));
    CHECK(gt_near(s->lower_bound_s, 2 * M / (3 * b)));
    tacl__sched_destroy(s);
    CHECK_ST(tacl__sched_build(g, TACL_SCHED_REDUCE, 3, M, &s, &eb), TACL_ERR_INVALID);
    CHECK_CONTAINS(eb.msg, "root 3 (expected 0..2)");
    CHECK(!strcmp(tacl__sched_op_name(TACL_SCHED_REDUCE_SCATTER), "reduce_scatter"));
    tacl__graph_destroy(g);
}

static void test_ring_missing_edge(void)
{
    /* 4-ring 0-1-2-3-0 without 3-0: the path 0-1-2-3. */
    const int e[][2] = {{0, 1}, {1, 2}, {2, 3}};
    tacl__graph_t *g = gt_make(4, e, 3, GB, 0);
    tacl__errbuf_t eb = {{0}};
    int order[4], centre, ecc;
    CHECK_ST(tacl__graph_hamiltonian_cycle(g, order, NULL, &eb), TACL_ERR_NOT_FOUND);
    CHECK_OK(tacl__graph_centre(g, &centre, &ecc, &eb));
    CHECK(centre == 1 && ecc == 2); /* 1 and 2 tie on eccentricity and bandwidth */
    tacl__sched_t *s;
    CHECK_OK(tacl__sched_all_reduce(g, 1e6, &s, &eb));
    CHECK(s->kind == TACL_SCHED_TREE && s->root == 1);
    const int want[] = {1, -1, 1, 2};
    gt_check_parents(s->tree, want);
    CHECK(s->tree->height == 2);
    tacl__sched_destroy(s);

    /* With the edge back, the ring: order 0-3-2-1 (reconstruction takes the lowest last rank
     * before 0, which is 1). */
    CHECK_OK(tacl__graph_add_link(g, 3, 0, GB, 0));
    double bn = 0;
    CHECK_OK(tacl__graph_hamiltonian_cycle(g, order, &bn, &eb));
    CHECK(order[0] == 0 && order[1] == 3 && order[2] == 2 && order[3] == 1 && bn == GB);
    CHECK_OK(tacl__sched_all_reduce(g, 1e6, &s, &eb));
    CHECK(s->kind == TACL_SCHED_RING);
    CHECK_CONTAINS(s->reason, "Hamiltonian cycle 0-3-2-1: ring on that order");
    CHECK(gt_near(s->predicted_s, 2.0 * 3 * (1e6 / (4 * GB))));
    CHECK(gt_near(s->lower_bound_s, 1e6 / (2 * GB))); /* min cut of a 4-cycle: 2 links */
    tacl__sched_destroy(s);
    CHECK_OK(tacl__sched_build(g, TACL_SCHED_REDUCE_SCATTER, 0, 1e6, &s, &eb));
    CHECK(s->kind == TACL_SCHED_RING && gt_near(s->predicted_s, 3 * (1e6 / (4 * GB))));
    CHECK(s->lower_bound_s > 0 && s->lower_bound_s <= s->predicted_s);
    tacl__sched_destroy(s);

    /* Cutting a link mid-run: the graph shrinks back to the path. */
    tacl__graph_remove_link(g, 0, 3);
    CHECK(!tacl__graph_has_edge(g, 3, 0) && tacl__graph_degree(g, 0) == 1);
    tacl__graph_destroy(g);
}

static void test_star(void)
{
    /* Centre 2 with leaves 0, 1, 3, 4. */
    const int e[][2] = {{2, 0}, {2, 1}, {2, 3}, {2, 4}};
    tacl__graph_t *g = gt_make(5, e, 4, GB, 1e-6);
    tacl__errbuf_t eb = {{0}};
    tacl__sched_t *s;
    CHECK_OK(tacl__sched_all_reduce(g, 1e6, &s, &eb));
    CHECK(s->kind == TACL_SCHED_TREE && s->root == 2 && s->eccentricity == 1);
    const int want[] = {2, 2, -1, 2, 2};
    gt_check_parents(s->tree, want);
    CHECK(tacl__tree_nchildren(s->tree, 2) == 4);
    CHECK(s->tree->child[s->tree->child_start[2]] == 0);
    CHECK_CONTAINS(s->reason, "rank 0 has degree 1");
    tacl__sched_destroy(s);
    tacl__routes_t *r;
    CHECK_OK(tacl__routes_build(g, &r, &eb));
    CHECK(tacl__routes_next_hop(r, TACL_ROUTE_SMALL, 0, 4) == 2);
    CHECK(tacl__routes_hops(r, TACL_ROUTE_LARGE, 3, 1) == 2);
    tacl__routes_destroy(r);
    CHECK(gt_near(tacl__graph_min_cut(g, NULL), GB));
    tacl__graph_destroy(g);
}

static void test_line5(void)
{
    const int e[][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 4}};
    double b = 25 * GB, l = 2e-6, M = 1 << 28;
    tacl__graph_t *g = gt_make(5, e, 4, b, l);
    tacl__errbuf_t eb = {{0}};
    tacl__routes_t *r;
    CHECK_OK(tacl__routes_build(g, &r, &eb));
    CHECK(tacl__routes_next_hop(r, TACL_ROUTE_LARGE, 0, 4) == 1);
    CHECK(tacl__routes_next_hop(r, TACL_ROUTE_SMALL, 4, 0) == 3);
    CHECK(tacl__routes_hops(r, TACL_ROUTE_SMALL, 0, 4) == 4);
    tacl__routes_destroy(r);
    tacl__sched_t *s;
    CHECK_OK(tacl__sched_all_reduce(g, M, &s, &eb));
    CHECK(s->kind == TACL_SCHED_TREE && s->root == 2 && s->eccentricity == 2);
    const int want[] = {1, 2, -1, 2, 3};
    gt_check_parents(s->tree, want);
    gt_check_tree(g, s->tree);
    /* Pipelined order: root, its children, grandchildren. */
    CHECK(s->tree->order[0] == 2 && s->tree->order[1] == 1 && s->tree->order[2] == 3);
    CHECK(s->tree->order[3] == 0 && s->tree->order[4] == 4);
    /* Reduce and broadcast over height 2: three stages; M/192 is past the largest chunk. */
    double c = (double)tacl__sched_chunk_bytes(M, 3);
    CHECK(c == TACL_SCHED_CHUNK_MAX);
    CHECK(gt_near(s->predicted_s, M / b + 3 * c / b + 4 * l));
    CHECK(gt_near(s->lower_bound_s, M / b));
    tacl__sched_destroy(s);
    tacl__graph_destroy(g);
}

static void test_full_mesh(void)
{
    tacl__graph_t *g;
    tacl__errbuf_t eb = {{0}};
    CHECK_OK(tacl__graph_full(5, 10 * GB, 1e-6, &g));
    CHECK(tacl__graph_is_full_mesh(g));
    /* One slow link: the ring must avoid it (bottleneck stays 10 GB/s). */
    CHECK_OK(tacl__graph_add_link(g, 0, 1, 1 * GB, 1e-6));
    int order[5];
    double bn;
    CHECK_OK(tacl__graph_hamiltonian_cycle(g, order, &bn, &eb));
    CHECK(bn == 10 * GB && gt_cycle_bottleneck(g, order) == 10 * GB);
    tacl__sched_t *s;
    CHECK_OK(tacl__sched_all_reduce(g, 1 << 26, &s, &eb));
    CHECK(s->kind == TACL_SCHED_MESH);
    CHECK_CONTAINS(s->reason, "full mesh of 5 ranks: ring over 0-");
    CHECK_CONTAINS(s->reason, "ring predicted faster");
    CHECK(gt_near(s->predicted_s, tacl__sched_ring_time(5, 10 * GB, 1e-6, 1 << 26)));
    tacl__sched_destroy(s);
    CHECK_OK(tacl__sched_all_reduce(g, 8, &s, &eb));
    CHECK_CONTAINS(s->reason, "recursive doubling predicted faster");
    tacl__sched_destroy(s);
    tacl__routes_t *r;
    CHECK_OK(tacl__routes_build(g, &r, &eb));
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++)
            if (a != b && !(a + b == 1))
                CHECK(tacl__routes_next_hop(r, TACL_ROUTE_SMALL, a, b) == b);
    /* Large messages from 0 to 1 go around the slow link: via 2, the lowest-ranked of equal
     * two-hop routes (2 * 1 MiB / 10 GB/s < 1 MiB / 1 GB/s). */
    CHECK(tacl__routes_next_hop(r, TACL_ROUTE_LARGE, 0, 1) == 2);
    CHECK(tacl__routes_next_hop(r, TACL_ROUTE_SMALL, 0, 1) == 1);
    tacl__routes_destroy(r);
    CHECK(gt_near(tacl__graph_min_cut(g, NULL), 31 * GB)); /* rank 0 or 1: 3 x 10 + 1 */
    tacl__graph_destroy(g);

    /* Larger than the exact search: identity order on a full mesh. */
    CHECK_OK(tacl__graph_full(24, GB, 0, &g));
    int big[24];
    CHECK_OK(tacl__graph_hamiltonian_cycle(g, big, &bn, &eb));
    for (int i = 0; i < 24; i++)
        CHECK(big[i] == i);
    tacl__graph_destroy(g);
}

static void test_components(void)
{
    const int e[][2] = {{0, 1}, {2, 3}, {3, 4}, {6, 5}};
    tacl__graph_t *g = gt_make(7, e, 4, GB, 0);
    tacl__errbuf_t eb = {{0}};
    int comp[7], nc;
    CHECK_OK(tacl__graph_components(g, comp, &nc));
    CHECK(nc == 3);
    CHECK(comp[0] == 0 && comp[1] == 0 && comp[2] == 1 && comp[4] == 1 && comp[5] == 2);
    CHECK_ST(tacl__graph_check_connected(g, &eb), TACL_ERR_DISCONNECTED);
    CHECK_CONTAINS(eb.msg, "disconnected: 3 components: {0,1} {2-4} {5,6}");
    CHECK_CONTAINS(tacl_last_error(), "{2-4}");
    tacl__sched_t *s = NULL;
    tacl__errbuf_t eb2 = {{0}};
    CHECK_ST(tacl__sched_all_reduce(g, 1e6, &s, &eb2), TACL_ERR_DISCONNECTED);
    CHECK(s == NULL);
    CHECK_CONTAINS(eb2.msg, "3 components");
    int c, ec;
    CHECK_ST(tacl__graph_centre(g, &c, &ec, &eb), TACL_ERR_DISCONNECTED);
    tacl__routes_t *r;
    CHECK_OK(tacl__routes_build(g, &r, &eb));
    CHECK(tacl__routes_next_hop(r, TACL_ROUTE_LARGE, 0, 3) == -1);
    CHECK(tacl__routes_hops(r, TACL_ROUTE_LARGE, 2, 4) == 2);
    CHECK(tacl__routes_cost(r, TACL_ROUTE_SMALL, 1, 6) == -1);
    tacl__routes_destroy(r);
    int side[7];
    CHECK(tacl__graph_min_cut(g, side) == 0);
    CHECK(side[0] == 1 && side[1] == 1 && side[2] == 0);
    tacl__graph_destroy(g);
}

static void test_asymmetric_and_errors(void)
{
    tacl__graph_t *g;
    tacl__errbuf_t eb = {{0}};
    CHECK_OK(tacl__graph_create(3, &g));
    CHECK_OK(tacl__graph_add_edge(g, 0, 1, 4 * GB, 1e-6)); /* one direction only: usable */
    CHECK_OK(tacl__graph_add_edge(g, 2, 1, 2 * GB, 3e-6));
    CHECK_OK(tacl__graph_add_edge(g, 1, 2, 8 * GB, 1e-6)); /* both: slower bw, larger latency */
    CHECK(tacl__graph_has_edge(g, 1, 0) && tacl__graph_bw(g, 1, 0) == 4 * GB);
    CHECK(tacl__graph_bw(g, 1, 2) == 2 * GB && tacl__graph_lat(g, 2, 1) == 3e-6);
    CHECK_OK(tacl__graph_check_connected(g, &eb));
    CHECK_ST(tacl__graph_add_edge(g, 1, 1, GB, 0), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "edge 1 -> 1: expected two different ranks in 0..2");
    CHECK_ST(tacl__graph_add_edge(g, 0, 2, 0, 0), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "bandwidth 0 must be > 0");
    CHECK_ST(tacl__graph_add_edge(g, 0, 2, GB, NAN), TACL_ERR_INVALID);
    tacl__graph_t *bad;
    CHECK_ST(tacl__graph_create(0, &bad), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "graph of 0 ranks");

    /* Parent arrays that are not trees. */
    tacl__tree_t *t;
    const int cyc[] = {1, 0, -1};
    CHECK_ST(tacl__tree_from_parents(g, (const int[]){-1, -1, 1}, &t, &eb), TACL_ERR_INVALID);
    CHECK_CONTAINS(eb.msg, "ranks 0 and 1 both have no parent");
    CHECK_ST(tacl__tree_from_parents(g, (const int[]){2, 0, -1}, &t, &eb), TACL_ERR_INVALID);
    CHECK_CONTAINS(eb.msg, "parent 2 of rank 0 is not a neighbour");
    CHECK_ST(tacl__tree_from_parents(g, cyc, &t, &eb), TACL_ERR_INVALID);
    CHECK_CONTAINS(eb.msg, "not connected to root 2");
    CHECK_ST(tacl__tree_build(g, 3, TACL_TREE_BFS, &t, &eb), TACL_ERR_INVALID);
    CHECK_ST(tacl__sched_all_reduce(g, -1, &(tacl__sched_t *){NULL}, &eb), TACL_ERR_INVALID);
    tacl__graph_destroy(g);

    /* One rank: nothing to do, but everything answers. */
    CHECK_OK(tacl__graph_create(1, &g));
    tacl__sched_t *s;
    CHECK_OK(tacl__sched_all_reduce(g, 1e6, &s, &eb));
    CHECK(s->kind == TACL_SCHED_SINGLE && s->predicted_s == 0 && s->lower_bound_s == 0);
    tacl__sched_destroy(s);
    tacl__forest_t *f;
    CHECK_OK(tacl__forest_pack(g, 0, 4, &f, &eb));
    CHECK(f->ntrees == 1 && f->weight[0] == 1.0);
    tacl__forest_destroy(f);
    tacl__graph_destroy(g);
}

/* K4 on {0,1,2,3} plus rank 4 hanging off 0 by a fat link, and rank 5 off 4: no Hamiltonian
 * cycle (degree 1), so a tree; K4 holds two edge-disjoint spanning trees, so the packing should
 * come close to doubling the single tree's rate (the 4-5 link, 2b, allows exactly that). */
static void test_multitree(void)
{
    const int e[][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
    double b = 10 * GB, M = 1 << 30;
    tacl__graph_t *g = gt_make(6, e, 6, b, 0);
    CHECK_OK(tacl__graph_add_link(g, 0, 4, 4 * b, 0));
    CHECK_OK(tacl__graph_add_link(g, 4, 5, 2 * b, 0));
    tacl__errbuf_t eb = {{0}};
    tacl__forest_t *f;
    CHECK_OK(tacl__forest_pack(g, 0, TACL_SCHED_MAX_TREES, &f, &eb));
    CHECK(f->ntrees >= 2);
    double wsum = 0;
    double load[6][6] = {{0}};
    for (int i = 0; i < f->ntrees; i++) {
        gt_check_tree(g, f->trees[i]);
        CHECK(f->trees[i]->root == 0);
        wsum += f->weight[i];
        for (int v = 1; v < 6; v++) {
            int p = f->trees[i]->parent[v];
            load[v][p] += f->rate[i];
            load[p][v] += f->rate[i];
        }
    }
    CHECK(gt_near(wsum, 1.0));
    for (int a = 0; a < 6; a++)
        for (int c = 0; c < 6; c++)
            CHECK(load[a][c] <= tacl__graph_bw(g, a, c) * (1 + 1e-9));
    /* Optimum for K4 is 2b (Nash-Williams); the packing must beat one tree by a margin. */
    CHECK(f->total_rate > 1.5 * b && f->total_rate <= 2 * b * (1 + 1e-9));
    tacl__forest_destroy(f);
    tacl__sched_t *s;
    CHECK_OK(tacl__sched_all_reduce(g, M, &s, &eb));
    CHECK(s->kind == TACL_SCHED_MULTITREE && s->root == 0 && s->forest);
    CHECK_CONTAINS(s->reason, "spanning trees rooted at rank 0 (centre, eccentricity 2)");
    CHECK(s->predicted_s < M / b && s->predicted_s >= s->lower_bound_s);
    CHECK(gt_near(s->lower_bound_s, M / (2 * b))); /* cutting {5} off: one link of 2b */
    tacl__sched_destroy(s);
    tacl__graph_destroy(g);
}

/* Ham cycle heuristic on a 20-rank graph: a hidden cycle under a relabelling plus chords. */
static void test_large_ring(void)
{
    int n = 20, perm[20];
    for (int i = 0; i < n; i++)
        perm[i] = (i * 7 + 3) % n;
    tacl__graph_t *g;
    CHECK_OK(tacl__graph_create(n, &g));
    for (int i = 0; i < n; i++)
        CHECK_OK(tacl__graph_add_link(g, perm[i], perm[(i + 1) % n], GB, 0));
    CHECK_OK(tacl__graph_add_link(g, perm[0], perm[10], GB, 0));
    CHECK_OK(tacl__graph_add_link(g, perm[5], perm[15], GB, 0));
    int order[20];
    tacl__errbuf_t eb = {{0}};
    CHECK_OK(tacl__graph_hamiltonian_cycle(g, order, NULL, &eb));
    CHECK(gt_cycle_bottleneck(g, order) == GB);
    /* Cut one cycle edge: 0 keeps degree >= 2 only if a chord covers it; remove a link at a
     * rank without a chord, leaving it degree 1. */
    tacl__graph_remove_link(g, perm[2], perm[3]);
    CHECK_ST(tacl__graph_hamiltonian_cycle(g, order, NULL, &eb), TACL_ERR_NOT_FOUND);
    tacl__graph_destroy(g);
}

/* ---- Random graphs against brute force. ---- */

static uint64_t gt_rng = 0x9e3779b97f4a7c15ull;
static uint32_t gt_rand(void)
{
    gt_rng ^= gt_rng << 13;
    gt_rng ^= gt_rng >> 7;
    gt_rng ^= gt_rng << 17;
    return (uint32_t)(gt_rng >> 11);
}

static double bf_best_cycle; /* best bottleneck over all Hamiltonian cycles, -1 none */
static void bf_perm(const tacl__graph_t *g, int *p, int k, int n, int *used)
{
    if (k == n) {
        double b = gt_cycle_bottleneck(g, p);
        if (b > bf_best_cycle) bf_best_cycle = b;
        return;
    }
    for (int v = 1; v < n; v++) {
        if (used[v] || !tacl__graph_has_edge(g, p[k - 1], v)) continue;
        used[v] = 1;
        p[k] = v;
        bf_perm(g, p, k + 1, n, used);
        used[v] = 0;
    }
}

/* Smallest cost over all simple paths s -> d (exhaustive DFS). */
static double bf_path_cost(const tacl__graph_t *g, int kind, int v, int d, int *used)
{
    if (v == d) return 0;
    double best = INFINITY;
    int n = tacl__graph_size(g);
    for (int u = 0; u < n; u++) {
        if (used[u] || !tacl__graph_has_edge(g, v, u)) continue;
        double c = tacl__graph_lat(g, v, u) +
                   (kind == TACL_ROUTE_SMALL ? TACL_ROUTE_HOP_COST_S
                                             : TACL_ROUTE_CHUNK_BYTES / tacl__graph_bw(g, v, u));
        used[u] = 1;
        double rest = bf_path_cost(g, kind, u, d, used);
        used[u] = 0;
        if (c + rest < best) best = c + rest;
    }
    return best;
}

/* Connected using only edges of bandwidth >= t. */
static int bf_connected_at(const tacl__graph_t *g, double t)
{
    int n = tacl__graph_size(g), seen[16] = {0}, stack[16], sp = 0, cnt = 1;
    seen[0] = 1;
    stack[sp++] = 0;
    while (sp) {
        int v = stack[--sp];
        for (int u = 0; u < n; u++)
            if (!seen[u] && tacl__graph_has_edge(g, v, u) && tacl__graph_bw(g, v, u) >= t) {
                seen[u] = 1;
                cnt++;
                stack[sp++] = u;
            }
    }
    return cnt == n;
}

static void test_random_vs_brute_force(void)
{
    const double bws[] = {1 * GB, 2 * GB, 5 * GB, 10 * GB};
    int graphs = 0, with_cycle = 0, connected = 0;
    for (int iter = 0; iter < 1000; iter++) {
        int n = 3 + (int)(gt_rand() % 5); /* 3..7 */
        int pct = 25 + (int)(gt_rand() % 60);
        tacl__graph_t *g;
        CHECK_OK(tacl__graph_create(n, &g));
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++)
                if ((int)(gt_rand() % 100) < pct)
                    CHECK_OK(
                        tacl__graph_add_link(g, a, b, bws[gt_rand() % 4], (gt_rand() % 4) * 1e-6));
        graphs++;
        tacl__errbuf_t eb = {{0}};
        int comp[8], nc;
        CHECK_OK(tacl__graph_components(g, comp, &nc));
        /* Hop distances by relaxation (independent of the BFS under test). */
        int hop[8][8];
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
                hop[a][b] = a == b ? 0 : tacl__graph_has_edge(g, a, b) ? 1 : 99;
        for (int round = 0; round < n; round++)
            for (int a = 0; a < n; a++)
                for (int b = 0; b < n; b++)
                    for (int k = 0; k < n; k++)
                        if (hop[a][k] + hop[k][b] < hop[a][b]) hop[a][b] = hop[a][k] + hop[k][b];
        int bf_nc = 0;
        for (int v = 0; v < n; v++) {
            int first = 1;
            for (int u = 0; u < v; u++)
                if (hop[u][v] < 99) first = 0;
            bf_nc += first;
            CHECK(comp[v] == comp[0] ? hop[0][v] < 99 : hop[0][v] == 99);
        }
        CHECK(nc == bf_nc);

        /* Routes: costs equal the best simple path; next hop is the lowest optimal one. */
        tacl__routes_t *r;
        CHECK_OK(tacl__routes_build(g, &r, &eb));
        for (int k = 0; k < TACL_ROUTE_KINDS; k++)
            for (int s = 0; s < n; s++)
                for (int d = 0; d < n; d++) {
                    int used[8] = {0};
                    used[s] = 1;
                    double want = bf_path_cost(g, k, s, d, used);
                    double got = tacl__routes_cost(r, k, s, d);
                    if (isinf(want)) {
                        CHECK(got == -1 && tacl__routes_next_hop(r, k, s, d) == -1);
                        continue;
                    }
                    CHECK(gt_near(got, want));
                    if (s == d) continue;
                    int lowest = -1;
                    if (tacl__graph_has_edge(g, s, d) &&
                        gt_near(tacl__graph_lat(g, s, d) +
                                    (k == TACL_ROUTE_SMALL
                                         ? TACL_ROUTE_HOP_COST_S
                                         : TACL_ROUTE_CHUNK_BYTES / tacl__graph_bw(g, s, d)),
                                want))
                        lowest = d; /* the direct edge when it is a shortest route */
                    for (int v = 0; v < n && lowest < 0; v++) {
                        if (v == s || !tacl__graph_has_edge(g, s, v)) continue;
                        int u2[8] = {0};
                        u2[s] = u2[v] = 1;
                        double c = tacl__graph_lat(g, s, v) +
                                   (k == TACL_ROUTE_SMALL
                                        ? TACL_ROUTE_HOP_COST_S
                                        : TACL_ROUTE_CHUNK_BYTES / tacl__graph_bw(g, s, v));
                        double rest = v == d ? 0 : bf_path_cost(g, k, v, d, u2);
                        /* A shortest path through v need not avoid s, but a simple one
                         * does, and the optimum is simple. */
                        if (gt_near(c + rest, want)) lowest = v;
                    }
                    if (tacl__routes_next_hop(r, k, s, d) != lowest)
                        fprintf(stderr,
                                "iter %d n %d kind %d %d->%d: next %d, expected %d (cost %g)\n",
                                iter, n, k, s, d, tacl__routes_next_hop(r, k, s, d), lowest, want);
                    CHECK(tacl__routes_next_hop(r, k, s, d) == lowest);
                    int path[8];
                    int len = tacl__routes_path(r, k, s, d, path, 8);
                    CHECK(len >= 2 && path[0] == s && path[len - 1] == d);
                }
        tacl__routes_destroy(r);

        /* Minimum cut against every subset containing rank 0. */
        double bf_cut = INFINITY;
        for (uint32_t m = 1; m < (1u << n) - 1; m += 2) {
            double c = 0;
            for (int a = 0; a < n; a++)
                for (int b = 0; b < n; b++)
                    if ((m >> a & 1) && !(m >> b & 1)) c += tacl__graph_bw(g, a, b);
            if (c < bf_cut) bf_cut = c;
        }
        int side[8];
        double cut = tacl__graph_min_cut(g, side);
        CHECK(gt_near(cut, bf_cut));
        double side_cut = 0;
        int nside = 0;
        for (int a = 0; a < n; a++) {
            nside += side[a];
            for (int b = 0; b < n; b++)
                if (side[a] && !side[b]) side_cut += tacl__graph_bw(g, a, b);
        }
        CHECK(nside > 0 && nside < n && gt_near(side_cut, cut));

        if (nc != 1) {
            tacl__graph_destroy(g);
            continue;
        }
        connected++;
        /* Centre: minimum eccentricity, then largest incident bandwidth, then lowest rank. */
        int centre, ecc, bc = -1, be = 0;
        double bb = 0;
        for (int v = 0; v < n; v++) {
            int e = 0;
            double sb = 0;
            for (int u = 0; u < n; u++) {
                if (hop[v][u] > e) e = hop[v][u];
                sb += tacl__graph_bw(g, v, u);
            }
            if (bc < 0 || e < be || (e == be && sb > bb)) {
                bc = v;
                be = e;
                bb = sb;
            }
        }
        CHECK_OK(tacl__graph_centre(g, &centre, &ecc, &eb));
        CHECK(centre == bc && ecc == be);

        /* Hamiltonian cycle: existence and best bottleneck against all permutations. */
        int order[8], p[8] = {0}, used[8] = {1};
        double bn = 0;
        bf_best_cycle = -1;
        bf_perm(g, p, 1, n, used);
        tacl_status_t st = tacl__graph_hamiltonian_cycle(g, order, &bn, &eb);
        if (bf_best_cycle < 0) {
            CHECK(st == TACL_ERR_NOT_FOUND);
        } else {
            CHECK_OK(st);
            with_cycle++;
            CHECK(gt_cycle_bottleneck(g, order) == bf_best_cycle && bn == bf_best_cycle);
        }

        /* Trees: the BFS tree has hop depths; the max-bandwidth tree's bottleneck is the
         * largest threshold that keeps the graph connected. */
        for (int root = 0; root < n; root++) {
            tacl__tree_t *t;
            CHECK_OK(tacl__tree_build(g, root, TACL_TREE_BFS, &t, &eb));
            gt_check_tree(g, t);
            for (int v = 0; v < n; v++)
                CHECK(t->depth[v] == hop[root][v]);
            tacl__tree_destroy(t);
            CHECK_OK(tacl__tree_build(g, root, TACL_TREE_MAX_BW, &t, &eb));
            gt_check_tree(g, t);
            double want = 0;
            for (int i = 0; i < 4; i++)
                if (bf_connected_at(g, bws[i])) want = bws[i];
            CHECK(t->bottleneck == want);
            tacl__tree_destroy(t);
        }

        /* Packing stays within capacity and is never worse than the best tree. */
        tacl__forest_t *f;
        CHECK_OK(tacl__forest_pack(g, centre, TACL_SCHED_MAX_TREES, &f, &eb));
        double load[8][8] = {{0}}, wsum = 0, best = 0;
        for (int i = 0; i < 4; i++)
            if (bf_connected_at(g, bws[i])) best = bws[i];
        for (int i = 0; i < f->ntrees; i++) {
            wsum += f->weight[i];
            for (int v = 0; v < n; v++) {
                int pa = f->trees[i]->parent[v];
                if (pa < 0) continue;
                load[v][pa] += f->rate[i];
                load[pa][v] += f->rate[i];
            }
        }
        CHECK(gt_near(wsum, 1.0) && f->total_rate >= best * (1 - 1e-9));
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
                CHECK(load[a][b] <= tacl__graph_bw(g, a, b) * (1 + 1e-9));
        CHECK(f->total_rate <= bf_cut * (1 + 1e-9)); /* no packing beats the min cut */
        tacl__forest_destroy(f);

        /* The schedule is a pure function of the graph: same answer twice, never below the
         * cut bound. */
        tacl__sched_t *s1, *s2;
        CHECK_OK(tacl__sched_all_reduce(g, 1 << 24, &s1, &eb));
        CHECK_OK(tacl__sched_all_reduce(g, 1 << 24, &s2, &eb));
        CHECK(s1->kind == s2->kind && !strcmp(s1->reason, s2->reason));
        CHECK(s1->predicted_s >= s1->lower_bound_s * (1 - 1e-9));
        CHECK(gt_near(s1->lower_bound_s, (1 << 24) / bf_cut) ||
              s1->lower_bound_s > (1 << 24) / bf_cut);
        CHECK((s1->kind == TACL_SCHED_RING || s1->kind == TACL_SCHED_MESH) == (bf_best_cycle >= 0));
        tacl__sched_destroy(s1);
        tacl__sched_destroy(s2);
        tacl__graph_destroy(g);
    }
    CHECK(connected > 300 && with_cycle > 100 && with_cycle < connected);
    printf("random graphs: %d (%d connected, %d with a Hamiltonian cycle)\n", graphs, connected,
           with_cycle);
}

/* Hidden cycles: a random relabelling of the cycle 0..n-1 plus random chords, 17..80 ranks
 * (beyond the exact search). The heuristic must find a valid cycle in every one. */
static void test_hidden_cycles(void)
{
    int found = 0;
    for (int iter = 0; iter < 40; iter++) {
        int n = 17 + (int)(gt_rand() % 64), perm[80], order[80];
        for (int i = 0; i < n; i++)
            perm[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = (int)(gt_rand() % (uint32_t)(i + 1)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        tacl__graph_t *g;
        CHECK_OK(tacl__graph_create(n, &g));
        for (int i = 0; i < n; i++)
            CHECK_OK(tacl__graph_add_link(g, perm[i], perm[(i + 1) % n], GB, 0));
        for (int c = 0; c < n / 2; c++) {
            int a = (int)(gt_rand() % (uint32_t)n), b = (int)(gt_rand() % (uint32_t)n);
            if (a != b) CHECK_OK(tacl__graph_add_link(g, a, b, GB, 0));
        }
        tacl__errbuf_t eb = {{0}};
        CHECK_OK(tacl__graph_hamiltonian_cycle(g, order, NULL, &eb));
        CHECK(gt_cycle_bottleneck(g, order) == GB);
        found++;
        tacl__graph_destroy(g);
    }
    CHECK(found == 40);
}

/* k x k grids: even sides have a cycle (the heuristic must find it), odd sides are bipartite
 * with unequal sides and have none. */
static void test_grids(void)
{
    for (int k = 5; k <= 10; k++) {
        int n = k * k, order[100];
        tacl__graph_t *g;
        CHECK_OK(tacl__graph_create(n, &g));
        for (int r = 0; r < k; r++)
            for (int c = 0; c < k; c++) {
                if (c + 1 < k) CHECK_OK(tacl__graph_add_link(g, r * k + c, r * k + c + 1, GB, 0));
                if (r + 1 < k) CHECK_OK(tacl__graph_add_link(g, r * k + c, (r + 1) * k + c, GB, 0));
            }
        tacl__errbuf_t eb = {{0}};
        tacl_status_t st = tacl__graph_hamiltonian_cycle(g, order, NULL, &eb);
        if (k % 2) {
            CHECK(st == TACL_ERR_NOT_FOUND);
            char want[128];
            snprintf(want, sizeof want, "bipartite with sides of %d and %d ranks", (n + 1) / 2,
                     n / 2);
            CHECK_CONTAINS(eb.msg, want);
        } else {
            CHECK_OK(st);
            CHECK(gt_cycle_bottleneck(g, order) == GB);
        }
        tacl__graph_destroy(g);
    }
}

/* The exact search at its size limit stays fast and finds the hidden cycle. */
static void test_exact_limit(void)
{
    int n = TACL_GRAPH_HAM_EXACT_MAX;
    tacl__graph_t *g;
    CHECK_OK(tacl__graph_create(n, &g));
    for (int i = 0; i < n; i++)
        CHECK_OK(tacl__graph_add_link(g, (i * 5) % n, ((i + 1) * 5) % n, 2 * GB, 0));
    for (int i = 0; i < n; i += 3)
        CHECK_OK(tacl__graph_add_link(g, i, (i + 2) % n, GB, 0));
    int order[TACL_GRAPH_HAM_EXACT_MAX];
    double bn;
    tacl__errbuf_t eb = {{0}};
    CHECK_OK(tacl__graph_hamiltonian_cycle(g, order, &bn, &eb));
    CHECK(bn == 2 * GB && gt_cycle_bottleneck(g, order) == 2 * GB);
    tacl__graph_destroy(g);
}

/* Round-robin pairing: symmetric, every pair exactly once, one pair per rank per round. */
static void test_round_robin(void)
{
    for (int n = 1; n <= 9; n++) {
        int rounds = n + (n & 1) - 1;
        int met[9][9] = {{0}};
        for (int r = 0; r < rounds; r++)
            for (int x = 0; x < n; x++) {
                int p = tacl__round_robin_partner(n, r, x);
                if (p < 0) continue;
                CHECK(p < n && p != x);
                CHECK(tacl__round_robin_partner(n, r, p) == x);
                met[x][p]++;
            }
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
                CHECK(met[a][b] == (a != b));
    }
    CHECK(tacl__round_robin_partner(4, 0, 7) == -1);
}

/* Two trees are the same tree. */
static void gt_same_tree(const tacl__tree_t *a, const tacl__tree_t *b)
{
    CHECK(a->n == b->n && a->root == b->root && a->height == b->height);
    CHECK(a->bottleneck == b->bottleneck && a->max_lat == b->max_lat);
    for (int v = 0; v < a->n; v++)
        CHECK(a->parent[v] == b->parent[v] && a->order[v] == b->order[v] &&
              a->depth[v] == b->depth[v]);
}

/* A class graph (full mesh by hosts, O(n) memory) answers every query exactly as the ordinary
 * graph of the same links: edges, weights, degrees, components, distances, centre, rings, both
 * kinds of tree, the multi-tree packing, the minimum cut, routes and schedules; a change makes
 * it an ordinary graph that behaves as the ordinary one given the same change. */
static void test_classes(void)
{
    static const int layouts[][12] = {
        {0},                                 /* 1 rank */
        {0, 0},                              /* one host */
        {0, 1},                              /* two hosts */
        {0, 0, 0, 0, 1, 1, 1, 1},            /* 2 hosts of 4 */
        {0, 0, 1, 1, 2, 2},                  /* 3 hosts of 2 */
        {0, 1, 0, 1, 2, 0, 2, 1, 0, 2, 1, 2} /* interleaved, 12 ranks */
    };
    static const int sizes[] = {1, 2, 2, 8, 6, 12};
    const double hbw = 40e9, hlat = 1e-6, nbw = 12.5e9, nlat = 8e-6;
    for (size_t L = 0; L < sizeof sizes / sizeof sizes[0]; L++) {
        int n = sizes[L];
        const int *cls = layouts[L];
        tacl__graph_t *c, *o, *cc;
        CHECK_OK(tacl__graph_classes(n, cls, hbw, hlat, nbw, nlat, &c));
        CHECK_OK(tacl__graph_create(n, &o));
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++)
                CHECK_OK(tacl__graph_add_link(o, a, b, cls[a] == cls[b] ? hbw : nbw,
                                              cls[a] == cls[b] ? hlat : nlat));
        CHECK_OK(tacl__graph_clone(c, &cc));
        const tacl__graph_t *gs[2] = {c, cc};
        for (int k = 0; k < 2; k++) {
            const tacl__graph_t *g = gs[k];
            CHECK(tacl__graph_size(g) == n);
            CHECK(tacl__graph_is_full_mesh(g) == tacl__graph_is_full_mesh(o));
            for (int a = -1; a <= n; a++)
                for (int b = -1; b <= n; b++) {
                    CHECK(tacl__graph_has_edge(g, a, b) == tacl__graph_has_edge(o, a, b));
                    CHECK(tacl__graph_bw(g, a, b) == tacl__graph_bw(o, a, b));
                    CHECK(tacl__graph_lat(g, a, b) == tacl__graph_lat(o, a, b));
                }
            int comp[12], comp2[12], nc, nc2, d1[12], d2[12], ce, ce2, ecc, ecc2;
            for (int v = 0; v < n; v++)
                CHECK(tacl__graph_degree(g, v) == tacl__graph_degree(o, v));
            CHECK_OK(tacl__graph_components(g, comp, &nc));
            CHECK_OK(tacl__graph_components(o, comp2, &nc2));
            CHECK(nc == nc2 && !memcmp(comp, comp2, (size_t)n * sizeof *comp));
            CHECK_OK(tacl__graph_hops_from(g, n - 1, d1));
            CHECK_OK(tacl__graph_hops_from(o, n - 1, d2));
            CHECK(!memcmp(d1, d2, (size_t)n * sizeof *d1));
            tacl__errbuf_t eb = {{0}}, eb2 = {{0}};
            CHECK_OK(tacl__graph_centre(g, &ce, &ecc, &eb));
            CHECK_OK(tacl__graph_centre(o, &ce2, &ecc2, &eb));
            CHECK(ce == ce2 && ecc == ecc2);
            int r1[12], r2[12];
            double b1 = 0, b2 = 0;
            tacl_status_t s1 = tacl__graph_hamiltonian_cycle(g, r1, &b1, &eb);
            tacl_status_t s2 = tacl__graph_hamiltonian_cycle(o, r2, &b2, &eb2);
            CHECK(s1 == s2 && !strcmp(eb.msg, eb2.msg));
            if (s1 == TACL_OK) CHECK(b1 == b2 && !memcmp(r1, r2, (size_t)n * sizeof *r1));
            for (int kind = 0; kind < 2; kind++)
                for (int root = 0; root < n; root++) {
                    tacl__tree_t *t1, *t2;
                    CHECK_OK(tacl__tree_build(g, root, (tacl__tree_kind_t)kind, &t1, &eb));
                    CHECK_OK(tacl__tree_build(o, root, (tacl__tree_kind_t)kind, &t2, &eb));
                    gt_same_tree(t1, t2);
                    tacl__tree_destroy(t1);
                    tacl__tree_destroy(t2);
                }
            tacl__forest_t *f1, *f2;
            CHECK_OK(tacl__forest_pack(g, 0, 4, &f1, &eb));
            CHECK_OK(tacl__forest_pack(o, 0, 4, &f2, &eb));
            CHECK(f1->ntrees == f2->ntrees && f1->total_rate == f2->total_rate);
            for (int t = 0; t < f1->ntrees; t++) {
                CHECK(f1->rate[t] == f2->rate[t] && f1->weight[t] == f2->weight[t]);
                gt_same_tree(f1->trees[t], f2->trees[t]);
            }
            tacl__forest_destroy(f1);
            tacl__forest_destroy(f2);
            int side1[12], side2[12];
            CHECK(tacl__graph_min_cut(g, side1) == tacl__graph_min_cut(o, side2));
            CHECK(!memcmp(side1, side2, (size_t)n * sizeof *side1));
            tacl__routes_t *q1, *q2;
            CHECK_OK(tacl__routes_build(g, &q1, &eb));
            CHECK_OK(tacl__routes_build(o, &q2, &eb));
            for (int kind = 0; kind < TACL_ROUTE_KINDS; kind++)
                for (int a = 0; a < n; a++)
                    for (int b = 0; b < n; b++)
                        CHECK(tacl__routes_next_hop(q1, (tacl__route_kind_t)kind, a, b) ==
                              tacl__routes_next_hop(q2, (tacl__route_kind_t)kind, a, b));
            tacl__routes_destroy(q1);
            tacl__routes_destroy(q2);
            for (int op = 0; op < TACL_SCHED_OP_COUNT; op++) {
                tacl__sched_t *x1, *x2;
                tacl_status_t t1 =
                    tacl__sched_build(g, (tacl__sched_op_t)op, 0, 64.0 * 1024 * 1024, &x1, &eb);
                tacl_status_t t2 =
                    tacl__sched_build(o, (tacl__sched_op_t)op, 0, 64.0 * 1024 * 1024, &x2, &eb2);
                CHECK(t1 == t2);
                if (t1 != TACL_OK) continue;
                CHECK(x1->kind == x2->kind && x1->predicted_s == x2->predicted_s &&
                      x1->lower_bound_s == x2->lower_bound_s && !strcmp(x1->reason, x2->reason));
                tacl__sched_destroy(x1);
                tacl__sched_destroy(x2);
            }
        }
        /* A change: the class graph becomes ordinary and follows the same edits. */
        if (n >= 3) {
            tacl__graph_remove_link(c, 0, n - 1);
            tacl__graph_remove_link(o, 0, n - 1);
            CHECK_OK(tacl__graph_add_edge(c, 1, 2, 3e9, 2e-6));
            CHECK_OK(tacl__graph_add_edge(o, 1, 2, 3e9, 2e-6));
            CHECK(!tacl__graph_is_full_mesh(c));
            for (int a = 0; a < n; a++)
                for (int b = 0; b < n; b++) {
                    CHECK(tacl__graph_has_edge(c, a, b) == tacl__graph_has_edge(o, a, b));
                    CHECK(tacl__graph_bw(c, a, b) == tacl__graph_bw(o, a, b));
                    CHECK(tacl__graph_lat(c, a, b) == tacl__graph_lat(o, a, b));
                }
            CHECK(tacl__graph_min_cut(c, NULL) == tacl__graph_min_cut(o, NULL));
        }
        tacl__graph_destroy(c);
        tacl__graph_destroy(cc);
        tacl__graph_destroy(o);
    }
    /* One class (cls NULL); bad arguments are refused. */
    tacl__graph_t *g;
    CHECK_OK(tacl__graph_classes(5, NULL, 7e9, 0, 1e9, 1, &g));
    CHECK(tacl__graph_bw(g, 0, 4) == 7e9 && tacl__graph_lat(g, 4, 0) == 0);
    tacl__graph_destroy(g);
    CHECK(tacl__graph_classes(0, NULL, 1, 0, 1, 0, &g) == TACL_ERR_INVALID);
    CHECK(tacl__graph_classes(TACL_GRAPH_MAX_RANKS + 1, NULL, 1, 0, 1, 0, &g) == TACL_ERR_INVALID);
    CHECK(tacl__graph_classes(3, NULL, 0, 0, 1, 0, &g) == TACL_ERR_INVALID);
    CHECK(tacl__graph_classes(3, NULL, 1, -1, 1, 0, &g) == TACL_ERR_INVALID);
    CHECK(tacl__graph_classes(3, NULL, 1, 0, NAN, 0, &g) == TACL_ERR_INVALID);
    /* 4,096 ranks on 512 hosts: a class graph, where the ordinary one is 537 MB. */
    int *big = malloc(TACL_GRAPH_MAX_RANKS * sizeof *big);
    CHECK(big != NULL);
    for (int v = 0; v < TACL_GRAPH_MAX_RANKS; v++)
        big[v] = v / 8;
    CHECK_OK(tacl__graph_classes(TACL_GRAPH_MAX_RANKS, big, hbw, hlat, nbw, nlat, &g));
    CHECK(tacl__graph_is_full_mesh(g));
    CHECK(tacl__graph_bw(g, 8, 15) == hbw && tacl__graph_bw(g, 7, 8) == nbw);
    tacl__graph_destroy(g);
    free(big);
}

int main(void)
{
    test_round_robin();
    test_chain();
    test_ring_missing_edge();
    test_star();
    test_line5();
    test_full_mesh();
    test_components();
    test_asymmetric_and_errors();
    test_multitree();
    test_large_ring();
    test_exact_limit();
    test_grids();
    test_hidden_cycles();
    test_random_vs_brute_force();
    test_classes();
    printf("graph: ok\n");
    return 0;
}
