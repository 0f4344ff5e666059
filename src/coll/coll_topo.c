/* coll_topo.c — the shape of a communicator and the schedule that fits it: the graph of direct
 * links among its ranks (from the world's probed reachability, weighted by the bandwidth and
 * latency a topology file declared or TACL_TOPO_MEASURE measured), whether it is a full mesh,
 * a ring order (host-grouped on a full mesh so that the ring crosses each host boundary once;
 * a Hamiltonian cycle of direct links otherwise), the graph's centre, where tree algorithms
 * are rooted, and the bandwidth-weighted tree packing all_reduce uses when it beats one tree.
 * The schedule of every collective (tacl__sched_build) and its reason are logged at INFO; the
 * figures the cost model needs are kept (cost_shape_init). */
#include "coll/algo_cost.h"
#include "coll/coll.h"
#include "topo/graph.h"
#include "topo/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int topo_linked(const tacl_comm_t *c, int i, int j)
{
    const tacl__world_t *w = c->world;
    return w->reach[(size_t)c->wranks[i] * (size_t)w->size + (size_t)c->wranks[j]] != 0;
}

/* Declared or measured figures when the world has them (both directions: the graph keeps the
 * smaller bandwidth and the larger latency), else the cost model's defaults for a same-host or
 * another-host link (algo_cost.h): its predictions are absolute, as the shm group's rates are,
 * so the figures must be plausible, not only their ratios. */
static void topo_add_link(tacl_comm_t *c, int i, int j)
{
    const tacl__world_t *w = c->world;
    size_t n = (size_t)w->size, a = (size_t)c->wranks[i], b = (size_t)c->wranks[j];
    if (w->link_bw && w->link_bw[a * n + b] > 0 && w->link_bw[b * n + a] > 0) {
        tacl__graph_add_edge(c->graph, i, j, w->link_bw[a * n + b], w->link_lat[a * n + b]);
        tacl__graph_add_edge(c->graph, j, i, w->link_bw[b * n + a], w->link_lat[b * n + a]);
    } else if (c->host_of[i] == c->host_of[j]) {
        tacl__graph_add_link(c->graph, i, j, COST_LINK_HOST_BW, COST_LINK_HOST_LAT);
    } else {
        tacl__graph_add_link(c->graph, i, j, COST_LINK_NET_BW, COST_LINK_NET_LAT);
    }
}

/* Schedules of every collective at TOPO_LOG_BYTES, logged once per communicator (rank 0), and
 * the multi-tree packing of all_reduce kept when tacl__sched_build chooses it. Every rank
 * computes the all_reduce schedule: the graph is identical everywhere, so the trees are too. */
#define TOPO_LOG_BYTES     (64.0 * 1024 * 1024)
#define TOPO_LOG_MAX_RANKS 64

static tacl_status_t topo_schedules(tacl_comm_t *c, tacl__errbuf_t *eb)
{
    static const tacl__sched_op_t ops[] = {TACL_SCHED_ALL_REDUCE, TACL_SCHED_BROADCAST,
                                           TACL_SCHED_REDUCE, TACL_SCHED_ALL_GATHER,
                                           TACL_SCHED_REDUCE_SCATTER};
    int nops = c->rank == 0 && c->size <= TOPO_LOG_MAX_RANKS ? 5 : 1;
    if (!c->full_mesh) TACL_CHECK(coll_mtree_create(c, eb));
    if (c->full_mesh && nops == 1) return TACL_OK; /* nothing to keep, nothing to log */
    for (int i = 0; i < nops; i++) {
        tacl__sched_t *s;
        tacl__errbuf_t tmp;
        tacl_status_t st = tacl__sched_build(c->graph, ops[i], c->centre, TOPO_LOG_BYTES, &s, &tmp);
        if (st != TACL_OK) {
            /* Only the optional packing depends on this; the communicator still works. */
            TACL_INFO(TACL_SUB_TOPO, "communicator %llx: no %s schedule: %s",
                      (unsigned long long)c->id, tacl__sched_op_name(ops[i]), tmp.msg);
            continue;
        }
        if (ops[i] == TACL_SCHED_ALL_REDUCE && s->kind == TACL_SCHED_MULTITREE && c->mtree &&
            !c->mtree->forest) {
            c->mtree->forest = s->forest;
            s->forest = NULL;
        }
        if (c->rank == 0) {
            /* What runs is the selector's choice, logged with its own prediction on first use
             * of each size class (select.c). */
            TACL_INFO(TACL_SUB_TOPO,
                      "communicator %llx schedule %s%s: %s (%s); predicted %.4g s for %.0f MiB, "
                      "cut bound %.4g s",
                      (unsigned long long)c->id, tacl__sched_op_name(ops[i]),
                      ops[i] == TACL_SCHED_BROADCAST || ops[i] == TACL_SCHED_REDUCE
                          ? " (root at the centre)"
                          : "",
                      tacl__sched_kind_name(s->kind), s->reason, s->predicted_s,
                      TOPO_LOG_BYTES / (1024 * 1024), s->lower_bound_s);
        }
        tacl__sched_destroy(s);
    }
    return TACL_OK;
}

void comm_topo_fini(tacl_comm_t *c)
{
    coll_mtree_destroy(c);
}

/* Whether every pair of members is linked directly. */
static int topo_all_linked(const tacl_comm_t *c)
{
    for (int i = 0; i < c->size; i++)
        for (int j = i + 1; j < c->size; j++)
            if (!topo_linked(c, i, j)) return 0;
    return 1;
}

tacl_status_t comm_topo_init(tacl_comm_t *c, tacl__errbuf_t *eb)
{
    int n = c->size;
    tacl_status_t st;
    if (!c->world->link_bw && topo_all_linked(c)) {
        /* A full mesh without declared or measured figures: the same two kinds of link as
         * topo_add_link's defaults, in O(n) memory. */
        st = tacl__graph_classes(n, c->host_of, COST_LINK_HOST_BW, COST_LINK_HOST_LAT,
                                 COST_LINK_NET_BW, COST_LINK_NET_LAT, &c->graph);
        if (st != TACL_OK) return tacl__err_keep(eb, st);
        return comm_shape_init(c, eb);
    }
    st = tacl__graph_create(n, &c->graph);
    if (st != TACL_OK) return tacl__err_keep(eb, st);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (topo_linked(c, i, j)) topo_add_link(c, i, j);
    return comm_shape_init(c, eb);
}

tacl_status_t comm_shape_init(tacl_comm_t *c, tacl__errbuf_t *eb)
{
    int n = c->size;
    tacl_status_t st;
    c->ring = malloc((size_t)n * sizeof *c->ring);
    if (!c->ring) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "out of memory");
    c->full_mesh = n == 1 || tacl__graph_is_full_mesh(c->graph);
    tacl__errbuf_t tmp;
    int routed = !c->full_mesh && tacl__graph_check_connected(c->graph, &tmp) != TACL_OK;
    if (routed) {
        /* Members linked only through ranks outside the communicator: every message is routed
         * by the engine, so the communicator behaves as a (slower) full mesh. */
        tacl__graph_destroy(c->graph);
        c->graph = NULL;
        st = tacl__graph_full(n, COST_LINK_NET_BW, 2 * COST_LINK_NET_LAT, &c->graph);
        if (st != TACL_OK) return tacl__err_keep(eb, st);
        c->full_mesh = 1;
    }
    if (c->full_mesh) {
        /* Host-grouped ring: ranks of one host consecutive. */
        int k = 0;
        for (int h = 0; h < c->nhosts; h++)
            for (int r = 0; r < n; r++)
                if (c->host_of[r] == h) c->ring[k++] = r;
        c->ring_direct = 1;
        c->centre = 0;
        snprintf(c->sched_reason, sizeof c->sched_reason,
                 "%s of %d ranks on %d hosts: ring, recursive doubling, trees",
                 routed ? "ranks linked only through other ranks (routed), treated as a mesh"
                        : "full mesh",
                 n, c->nhosts);
    } else {
        int ecc = 0;
        double bottleneck = 0;
        st = tacl__graph_centre(c->graph, &c->centre, &ecc, eb);
        if (st != TACL_OK) return st;
        c->ring_direct =
            tacl__graph_hamiltonian_cycle(c->graph, c->ring, &bottleneck, &tmp) == TACL_OK;
        if (c->ring_direct) {
            int o = snprintf(c->sched_reason, sizeof c->sched_reason,
                             "not a full mesh; ring on the Hamiltonian cycle");
            for (int i = 0; i < n && o > 0 && (size_t)o < sizeof c->sched_reason; i++)
                o += snprintf(c->sched_reason + o, sizeof c->sched_reason - (size_t)o, " %d",
                              c->ring[i]);
        } else {
            for (int i = 0; i < n; i++)
                c->ring[i] = i;
            snprintf(c->sched_reason, sizeof c->sched_reason,
                     "not a full mesh and no Hamiltonian cycle (%.200s): pipelined trees rooted at "
                     "the centre, rank %d (eccentricity %d)",
                     tmp.msg, c->centre, ecc);
        }
    }
    for (int i = 0; i < n; i++)
        if (c->ring[i] == c->rank) c->ring_pos = i;
    if (c->rank == 0)
        TACL_INFO(TACL_SUB_TOPO, "communicator %llx of %d ranks: %s", (unsigned long long)c->id, n,
                  c->sched_reason);
    TACL_CHECK(topo_schedules(c, eb));
    cost_shape_init(c);
    return TACL_OK;
}
