/* algo_cost.c — predicted times of every registry row (the model in algo_cost.h). n ranks, M
 * the call's model bytes, b and l the slowest bandwidth and largest latency of the links the
 * algorithm uses, each step also paying COST_ENGINE_STEP_S, R = COST_REDUCE_BW, p the largest
 * power of two <= n, k = log2 p, h a tree's height, ch = min(M, TACL_SCHED_CHUNK_BYTES):
 *   shm        all_reduce 2 s + 2(n-1)/n M/B; reduce, broadcast s + M/B; the rest
 *              s + (n-1)/n M/B (s = COST_SHM_STEP_S, B = the group's bus bandwidth)
 *   ring       all_reduce 2(n-1)(l + M/(nb)) + (n-1)/n M/R; all_gather (n-1)(l + M/(nb));
 *              reduce_scatter the same + (n-1)/n M/R; only on a ring of direct links
 *   rd         (k + 2e)(l + M/b) + (k + e) M/R, e = 1 when n is not a power of two (fold)
 *   rhd        2k l + 2(p-1)/p M/b + (p-1)/p M/R, + e (2(l + M/b) + M/R)
 *   tree       over a graph that is not a full mesh: the BFS tree the algorithm builds, timed
 *              by tacl__sched_tree_op_time (topo/sched.h), + 2h steps + M/R; on a full mesh
 *              the binomial tree's root serves h children through one port (h M/b), and
 *              broadcast/reduce above 64 KiB run as a chain M/b + (n-2) ch/b + (n-1) l
 *   multitree  the slowest tree of the packing with its share and rate, + every tree's steps
 *   hier       shm reduce + the best of rd/rhd/ring among host leaders + shm broadcast
 *   direct     gather/scatter l + (n-1) steps + (n-1)/n M/b; all_to_all (n-1) l + (n-1)/n M/b;
 *              barrier ceil(log2 n) l */
#include "coll/algo_cost.h"
#include "topo/graph.h"
#include "topo/sched.h"

#include <math.h>
#include <stdlib.h>

#define COST_TREE_SMALL_BYTES (64 * 1024) /* algo_tree.c: chain above, binomial below */

static double cost_step(double lat)
{
    return lat + COST_ENGINE_STEP_S;
}

static double cost_reduce(const coll_args_t *a, double bytes)
{
    return coll_kind(a->kind)->reduction ? bytes / COST_REDUCE_BW : 0;
}

static int cost_log2_floor(int n)
{
    int k = 0;
    while ((2 << k) <= n)
        k++;
    return k;
}

static int cost_log2_ceil(int n)
{
    int k = 0;
    while ((1 << k) < n)
        k++;
    return k;
}

/* all_reduce formulas over n ranks at b, l (per step, engine included), M bytes. */
static double cost_ring_ar(int n, double b, double l, double m)
{
    return 2.0 * (n - 1) * (l + m / (n * b)) + (n - 1.0) / n * m / COST_REDUCE_BW;
}

static double cost_rd_ar(int n, double b, double l, double m)
{
    int k = cost_log2_floor(n), e = n != (1 << k);
    return (k + 2.0 * e) * (l + m / b) + (k + e) * m / COST_REDUCE_BW;
}

static double cost_rhd_ar(int n, double b, double l, double m)
{
    int k = cost_log2_floor(n), p = 1 << k, e = n != p;
    double t = 2.0 * k * l + 2.0 * (p - 1) / p * m / b + (p - 1.0) / p * m / COST_REDUCE_BW;
    return t + e * (2.0 * (l + m / b) + m / COST_REDUCE_BW);
}

static double cost_shm_bw(const tacl_comm_t *c)
{
    return c->cost.host_bw > COST_SHM_BUSBW ? c->cost.host_bw : COST_SHM_BUSBW;
}

double cost_shm(tacl_comm_t *c, const coll_args_t *a, double m)
{
    double n = c->size, s = COST_SHM_STEP_S, bw = cost_shm_bw(c);
    switch (a->kind) {
    case TACL_COLL_ALL_REDUCE:
        return 2 * s + 2 * (n - 1) / n * m / bw;
    case TACL_COLL_REDUCE:
    case TACL_COLL_BROADCAST:
        return s + m / bw;
    default:
        return s + (n - 1) / n * m / bw;
    }
}

double cost_ring(tacl_comm_t *c, const coll_args_t *a, double m)
{
    if (!c->ring_direct) return INFINITY; /* relayed through other ranks: forced only */
    int n = c->size;
    double b = c->cost.ring_bw, l = cost_step(c->cost.ring_lat);
    if (a->kind == TACL_COLL_ALL_REDUCE) return cost_ring_ar(n, b, l, m);
    return (n - 1) * (l + m / (n * b)) + (n - 1.0) / n * cost_reduce(a, m);
}

double cost_rd(tacl_comm_t *c, const coll_args_t *a, double m)
{
    (void)a;
    if (!c->full_mesh) return INFINITY;
    return cost_rd_ar(c->size, c->cost.mesh_bw, cost_step(c->cost.mesh_lat), m);
}

double cost_rhd(tacl_comm_t *c, const coll_args_t *a, double m)
{
    (void)a;
    if (!c->full_mesh) return INFINITY;
    return cost_rhd_ar(c->size, c->cost.mesh_bw, cost_step(c->cost.mesh_lat), m);
}

static tacl__sched_op_t cost_sched_op(tacl__coll_t kind)
{
    switch (kind) {
    case TACL_COLL_BROADCAST:
        return TACL_SCHED_BROADCAST;
    case TACL_COLL_REDUCE:
        return TACL_SCHED_REDUCE;
    case TACL_COLL_ALL_GATHER:
    case TACL_COLL_ALL_GATHERV:
        return TACL_SCHED_ALL_GATHER;
    case TACL_COLL_REDUCE_SCATTER:
        return TACL_SCHED_REDUCE_SCATTER;
    default:
        return TACL_SCHED_ALL_REDUCE;
    }
}

/* Broadcast (or reduce) of m bytes from one rank of a full mesh, as algo_tree.c runs it. */
static double cost_mesh_rooted(int n, double b, double l, double m)
{
    int h = cost_log2_ceil(n);
    double ch = (double)tacl__sched_chunk_bytes(m, h);
    if (ch > m) ch = m;
    if (m > COST_TREE_SMALL_BYTES) return m / b + (n - 2) * ch / b + (n - 1) * l;
    return h * (l + m / b);
}

double cost_tree(tacl_comm_t *c, const coll_args_t *a, double m)
{
    int n = c->size;
    tacl__sched_op_t op = cost_sched_op(a->kind);
    int rooted = coll_kind(a->kind)->rooted;
    if (c->full_mesh) {
        double b = c->cost.mesh_bw, l = cost_step(c->cost.mesh_lat);
        int h = cost_log2_ceil(n);
        double ch = (double)tacl__sched_chunk_bytes(m, 2 * h - 1);
        if (ch > m) ch = m;
        if (rooted) return cost_mesh_rooted(n, b, l, m) + cost_reduce(a, m);
        if (op == TACL_SCHED_ALL_REDUCE)
            return h * m / b + (2.0 * h - 1) * ch / b + 2.0 * h * l + h * m / COST_REDUCE_BW;
        /* gather to the centre (or reduce there), then broadcast (or scatter) */
        return (n - 1.0) / n * m / b + (n - 1) * l + cost_mesh_rooted(n, b, l, m) +
               cost_reduce(a, m);
    }
    tacl__tree_t *t;
    tacl__errbuf_t eb;
    if (tacl__tree_build(c->graph, rooted ? a->root : c->centre, TACL_TREE_BFS, &t, &eb) != TACL_OK)
        return INFINITY;
    double x = tacl__sched_tree_op_time(c->graph, t, op, t->bottleneck, m) +
               2.0 * t->height * COST_ENGINE_STEP_S + cost_reduce(a, m);
    tacl__tree_destroy(t);
    return x;
}

double cost_multitree(tacl_comm_t *c, const coll_args_t *a, double m)
{
    const tacl__forest_t *f = NULL;
    if (c->mtree && a->kind == TACL_COLL_ALL_REDUCE)
        f = c->mtree->forest;
    else if (c->mtree)
        f = coll_mtree_rooted(c, a->root);
    if (!f) return INFINITY;
    tacl__sched_op_t op = cost_sched_op(a->kind);
    double worst = 0;
    int steps = 0;
    for (int i = 0; i < f->ntrees; i++) {
        double t =
            tacl__sched_tree_op_time(c->graph, f->trees[i], op, f->rate[i], f->weight[i] * m);
        worst = t > worst ? t : worst;
        steps += 2 * f->trees[i]->height;
    }
    return worst + steps * COST_ENGINE_STEP_S + cost_reduce(a, m);
}

double cost_hier(tacl_comm_t *c, const coll_args_t *a, double m)
{
    (void)a;
    int nh = c->nhosts;
    double shm = c->cost.max_local > 1 ? COST_SHM_STEP_S + m / cost_shm_bw(c) : 0;
    double b = c->cost.lead_bw, l = cost_step(c->cost.lead_lat), lead;
    if (c->cost.lead_mesh) {
        lead = cost_ring_ar(nh, b, l, m);
        double x = cost_rd_ar(nh, b, l, m), y = cost_rhd_ar(nh, b, l, m);
        lead = x < lead ? x : lead;
        lead = y < lead ? y : lead;
    } else {
        lead = cost_ring_ar(nh, b, 2 * l, 2 * m); /* leaders relayed: each byte crosses twice */
    }
    return 2 * shm + lead;
}

double cost_direct(tacl_comm_t *c, const coll_args_t *a, double m)
{
    int n = c->size;
    double b = c->cost.mesh_bw, l = cost_step(c->cost.mesh_lat) * (c->full_mesh ? 1 : 2);
    switch (a->kind) {
    case TACL_COLL_BARRIER:
        return cost_log2_ceil(n) * l;
    case TACL_COLL_ALL_TO_ALL:
    case TACL_COLL_ALL_TO_ALLV:
        return (n - 1) * l + (n - 1.0) / n * m / b;
    default:
        return l + (n - 1) * COST_ENGINE_STEP_S + (n - 1.0) / n * m / b;
    }
}

void cost_shape_init(tacl_comm_t *c)
{
    coll_cost_shape_t *s = &c->cost;
    const tacl__graph_t *g = c->graph;
    int n = c->size;
    *s = (coll_cost_shape_t){0};
    s->lead_mesh = 1;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            if (!tacl__graph_has_edge(g, i, j)) continue;
            double bw = tacl__graph_bw(g, i, j), lat = tacl__graph_lat(g, i, j);
            if (s->mesh_bw == 0 || bw < s->mesh_bw) s->mesh_bw = bw;
            if (lat > s->mesh_lat) s->mesh_lat = lat;
            if (c->host_of && c->host_of[i] == c->host_of[j] && bw > s->host_bw) s->host_bw = bw;
        }
    for (int i = 0; c->ring_direct && i < n && n > 1; i++) {
        int a = c->ring[i], b = c->ring[(i + 1) % n];
        double bw = tacl__graph_bw(g, a, b), lat = tacl__graph_lat(g, a, b);
        if (s->ring_bw == 0 || bw < s->ring_bw) s->ring_bw = bw;
        if (lat > s->ring_lat) s->ring_lat = lat;
    }
    for (int h = 0; c->leaders && h < c->nhosts; h++)
        for (int k = h + 1; k < c->nhosts; k++) {
            int a = c->leaders[h], b = c->leaders[k];
            if (!tacl__graph_has_edge(g, a, b)) {
                s->lead_mesh = 0;
                continue;
            }
            double bw = tacl__graph_bw(g, a, b), lat = tacl__graph_lat(g, a, b);
            if (s->lead_bw == 0 || bw < s->lead_bw) s->lead_bw = bw;
            if (lat > s->lead_lat) s->lead_lat = lat;
        }
    if (s->lead_bw == 0) {
        s->lead_bw = s->mesh_bw;
        s->lead_lat = s->mesh_lat;
    }
    int *per = calloc((size_t)(c->nhosts > 0 ? c->nhosts : 1), sizeof *per);
    s->max_local = 1;
    for (int r = 0; per && c->host_of && r < n; r++)
        if (++per[c->host_of[r]] > s->max_local) s->max_local = per[c->host_of[r]];
    if (!per) s->max_local = c->local_size > 1 ? c->local_size : 1;
    free(per);
}
