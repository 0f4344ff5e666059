/* sched.h — which algorithm an all_reduce (and the collectives built like it) uses on a given
 * reachability graph, and why; plus the cut lower bound and the predicted time of the chosen
 * schedule, which benchmarks print next to what they measure. Pure computation over graph.h.
 *
 * The rule (docs/ARCHITECTURE.md, DESIGN §Topology):
 *   1 rank                -> SINGLE (nothing to send);
 *   disconnected          -> TACL_ERR_DISCONNECTED listing the components;
 *   full mesh             -> MESH: ring over the best-bottleneck cycle for large messages,
 *                            recursive doubling for small ones;
 *   Hamiltonian cycle     -> RING on that cycle (the one with the largest bottleneck);
 *   otherwise             -> TREE: pipelined reduce + broadcast over a spanning tree rooted at
 *                            the graph centre, or MULTITREE (several trees, data split by
 *                            weight) when the packing predicts >= 10% less time.
 *
 * Time model (alpha-beta per link; links full duplex; M bytes; l the largest latency and b
 * the bottleneck bandwidth of the edges used; c = min(M, TACL_SCHED_CHUNK_BYTES)):
 *   ring of n:             2 (n-1) (l + M / (n b))
 *   recursive doubling:    ceil(log2 n) (l + M / b)
 *   tree of height h:      M / b + (2h - 1) c / b + 2 h l   (reduce and broadcast pipelined)
 *   multi-tree:            the slowest tree, each carrying weight_i M at its rate_i
 * Lower bound (cut bound): every element must cross every cut both ways, so
 *   T >= max(M / mincut_bandwidth, latency diameter). For the chain A-B-C this is M/b, which
 *   the tree rooted at B meets; a ring relayed through B would take 4M/(3b). */
#ifndef TACL_TOPO_SCHED_H
#define TACL_TOPO_SCHED_H

#include "topo/graph.h"

#include <stddef.h>

#define TACL_SCHED_CHUNK_BYTES (256 * 1024)
#define TACL_SCHED_MAX_TREES   8

typedef enum {
    TACL_SCHED_SINGLE = 0,
    TACL_SCHED_MESH,
    TACL_SCHED_RING,
    TACL_SCHED_TREE,
    TACL_SCHED_MULTITREE
} tacl_sched_kind_t;

typedef struct {
    tacl_sched_kind_t kind;
    int n;
    int *ring;             /* MESH, RING: cycle order, n entries, ring[0] = 0 */
    double ring_bw;        /* bottleneck bandwidth of the ring */
    int root;              /* TREE, MULTITREE: the centre */
    int eccentricity;      /* of the root, in hops */
    tacl_tree_t *tree;     /* TREE */
    tacl_forest_t *forest; /* MULTITREE */
    double bytes;          /* message size the predictions are for */
    double predicted_s;    /* time model above for the chosen algorithm */
    double lower_bound_s;  /* cut bound */
    char reason[512];      /* one line: what was chosen and why */
} tacl_sched_t;

/* Chooses the all_reduce schedule of bytes bytes on g. */
tacl_status_t tacl_sched_all_reduce(const tacl_graph_t *g, double bytes, tacl_sched_t **out,
                                    tacl_errbuf_t *eb);
void tacl_sched_destroy(tacl_sched_t *s);
const char *tacl_sched_kind_name(tacl_sched_kind_t kind);
/* Cut lower bound on all_reduce time of bytes bytes (0 for one rank, or when disconnected). */
double tacl_sched_lower_bound(const tacl_graph_t *g, double bytes);
/* Model times (see above). */
double tacl_sched_ring_time(int n, double bw, double lat, double bytes);
double tacl_sched_recdbl_time(int n, double bw, double lat, double bytes);
double tacl_sched_tree_time(const tacl_tree_t *t, double rate, double bytes);
/* Multi-line description: kind, reason, ring order or tree parents, weights, times. */
void tacl_sched_format(const tacl_sched_t *s, char *buf, size_t len);

#endif
