/* coll_topo.c — the shape of a communicator and the schedule that fits it: the graph of direct
 * links among its ranks (from the world's probed reachability), whether it is a full mesh, a
 * ring order (host-grouped on a full mesh so that the ring crosses each host boundary once; a
 * Hamiltonian cycle of direct links otherwise), and the graph's centre, where tree algorithms
 * are rooted. The choice and its reason are logged at INFO. */
#include "coll/coll.h"
#include "topo/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Links of unknown speed get this nominal bandwidth (bytes/s); only ratios matter here. */
#define TOPO_NOMINAL_BW 1e9

static int topo_linked(const tacl_comm_t *c, int i, int j)
{
    const tacl_world_t *w = c->world;
    return w->reach[(size_t)c->wranks[i] * (size_t)w->size + (size_t)c->wranks[j]] != 0;
}

tacl_status_t comm_topo_init(tacl_comm_t *c, tacl_errbuf_t *eb)
{
    int n = c->size;
    tacl_status_t st = tacl_graph_create(n, &c->graph);
    if (st != TACL_OK) return tacl_err_keep(eb, st);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (topo_linked(c, i, j)) tacl_graph_add_link(c->graph, i, j, TOPO_NOMINAL_BW, 0);
    c->ring = malloc((size_t)n * sizeof *c->ring);
    if (!c->ring) return tacl_err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "out of memory");
    c->full_mesh = n == 1 || tacl_graph_is_full_mesh(c->graph);
    tacl_errbuf_t tmp;
    int routed = !c->full_mesh && tacl_graph_check_connected(c->graph, &tmp) != TACL_OK;
    if (routed) {
        /* Members linked only through ranks outside the communicator: every message is routed
         * by the engine, so the communicator behaves as a (slower) full mesh. */
        tacl_graph_destroy(c->graph);
        c->graph = NULL;
        st = tacl_graph_full(n, TOPO_NOMINAL_BW, 0, &c->graph);
        if (st != TACL_OK) return tacl_err_keep(eb, st);
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
        st = tacl_graph_centre(c->graph, &c->centre, &ecc, eb);
        if (st != TACL_OK) return st;
        c->ring_direct =
            tacl_graph_hamiltonian_cycle(c->graph, c->ring, &bottleneck, &tmp) == TACL_OK;
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
    return TACL_OK;
}
