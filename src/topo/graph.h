/* graph.h — the reachability graph over the ranks of a communicator and the pure algorithms
 * that run on it: connected components, graph centre, Hamiltonian cycles (rings), spanning
 * trees with a pipelining order, bandwidth-weighted multi-tree packing and the minimum cut.
 * Nothing here does I/O or blocks; every function is deterministic (same input graph, same
 * answer on every rank), which is what lets ranks pick the same schedule without talking.
 *
 * Edges are declared per direction (probing may succeed one way only); the algorithms see the
 * symmetrised graph: a pair connected in either direction is an edge, its bandwidth the smaller
 * of the declared directions and its latency the larger (a collective uses both directions).
 * Bandwidth is in bytes per second (> 0), latency in seconds (>= 0). */
#ifndef TACL_TOPO_GRAPH_H
#define TACL_TOPO_GRAPH_H

#include "err.h"

#define TACL_GRAPH_MAX_RANKS 4096
/* Largest graph on which the Hamiltonian-cycle search is exact (Held-Karp bitmask DP). */
#define TACL_GRAPH_HAM_EXACT_MAX 16

typedef struct tacl__graph tacl__graph_t;

tacl_status_t tacl__graph_create(int n, tacl__graph_t **out);
void tacl__graph_destroy(tacl__graph_t *g);
tacl_status_t tacl__graph_clone(const tacl__graph_t *g, tacl__graph_t **out);
/* Declares a working direction a -> b (replacing an earlier declaration of that direction). */
tacl_status_t tacl__graph_add_edge(tacl__graph_t *g, int a, int b, double bw, double lat);
/* Adds both directions with the same values. */
tacl_status_t tacl__graph_add_link(tacl__graph_t *g, int a, int b, double bw, double lat);
/* Forgets both directions (a link that went down). */
void tacl__graph_remove_link(tacl__graph_t *g, int a, int b);
/* A graph with every pair connected at bandwidth bw and latency lat (a class graph of one
 * class, below). */
tacl_status_t tacl__graph_full(int n, double bw, double lat, tacl__graph_t **out);
/* A full mesh by classes (hosts): link a - b has (same_bw, same_lat) where cls[a] == cls[b] and
 * (other_bw, other_lat) elsewhere (cls NULL: one class). It takes O(n) memory where the others
 * take four n x n matrices (537 MB at 4,096 ranks) until a change (add, remove) makes it an
 * ordinary graph; every query answers as on the ordinary graph of the same links. */
tacl_status_t tacl__graph_classes(int n, const int *cls, double same_bw, double same_lat,
                                  double other_bw, double other_lat, tacl__graph_t **out);

int tacl__graph_size(const tacl__graph_t *g);
/* Symmetrised view; a != b. 0 / 0.0 when there is no edge. */
int tacl__graph_has_edge(const tacl__graph_t *g, int a, int b);
double tacl__graph_bw(const tacl__graph_t *g, int a, int b);
double tacl__graph_lat(const tacl__graph_t *g, int a, int b);
int tacl__graph_degree(const tacl__graph_t *g, int v);
int tacl__graph_is_full_mesh(const tacl__graph_t *g);

/* Connected components: comp[v] is the component of v, numbered in the order of their lowest
 * rank (the component of rank 0 is 0); *ncomp their number. comp has n entries. */
tacl_status_t tacl__graph_components(const tacl__graph_t *g, int *comp, int *ncomp);
/* TACL_OK when connected; else TACL_ERR_DISCONNECTED with a message listing the components
 * ("3 components: {0,1} {2} {3,4}"), recorded in eb. */
tacl_status_t tacl__graph_check_connected(const tacl__graph_t *g, tacl__errbuf_t *eb);
/* Writes "{0,1} {2} {3,4}" (truncated to len) into buf. */
void tacl__graph_format_components(const tacl__graph_t *g, char *buf, size_t len);

/* Round-robin pairing (circle method) of n ranks: in round r (0 <= r < n + (n & 1) - 1) rank x
 * meets the returned rank, or no one (-1, a bye). Every pair meets exactly once and every rank
 * is in one pair per round: how link measurements keep each rank busy with one peer at a time. */
int tacl__round_robin_partner(int n, int r, int x);

/* Hop distances from src (BFS); -1 where unreachable. dist has n entries. */
tacl_status_t tacl__graph_hops_from(const tacl__graph_t *g, int src, int *dist);
/* Centre: the rank of minimum eccentricity (in hops); ties go to the larger total incident
 * bandwidth, then to the lowest rank. Needs a connected graph (TACL_ERR_DISCONNECTED). */
tacl_status_t tacl__graph_centre(const tacl__graph_t *g, int *centre, int *eccentricity,
                                 tacl__errbuf_t *eb);

/* Hamiltonian cycle maximising the bottleneck (smallest edge) bandwidth. Exact for
 * n <= TACL_GRAPH_HAM_EXACT_MAX; larger graphs use a budgeted depth-first search with
 * Warnsdorff ordering (deterministic, may miss a cycle). order[0] = 0, order[i]-order[i+1] and
 * order[n-1]-order[0] are edges. TACL_ERR_NOT_FOUND when none is known, with the reason
 * ("rank 2 has degree 1"). n = 1: order {0}; n = 2: order {0,1} when the pair is an edge. */
tacl_status_t tacl__graph_hamiltonian_cycle(const tacl__graph_t *g, int *order, double *bottleneck,
                                            tacl__errbuf_t *eb);

typedef enum {
    TACL_TREE_BFS,   /* fewest hops to the root; parent = highest-bandwidth candidate */
    TACL_TREE_MAX_BW /* maximum spanning tree by bandwidth (maximises the bottleneck) */
} tacl__tree_kind_t;

/* A spanning tree. Children of v are child[child_start[v] .. child_start[v + 1]) ascending.
 * order lists the ranks root first, each after its parent: broadcast walks it forwards,
 * reduce backwards (children before their parent), so chunks can be pipelined. */
typedef struct {
    int n, root;
    int *parent; /* parent[root] = -1 */
    int *child_start;
    int *child;
    int *order;
    int *depth;
    int height;        /* largest depth */
    double bottleneck; /* smallest bandwidth of a tree edge (0 for a single rank) */
    double max_lat;    /* largest latency of a tree edge */
} tacl__tree_t;

tacl_status_t tacl__tree_build(const tacl__graph_t *g, int root, tacl__tree_kind_t kind,
                               tacl__tree_t **out, tacl__errbuf_t *eb);
/* Builds a tree from a parent array (parent[root] = -1); checks it is a spanning tree of g. */
tacl_status_t tacl__tree_from_parents(const tacl__graph_t *g, const int *parent, tacl__tree_t **out,
                                      tacl__errbuf_t *eb);
void tacl__tree_destroy(tacl__tree_t *t);
int tacl__tree_nchildren(const tacl__tree_t *t, int v);

/* Multi-tree packing for all_reduce (Blink/ForestColl style), all trees rooted at root.
 * Method: fractional spanning-tree packing by multiplicative weights (Garg-Koenemann): edge
 * lengths start at 1/bandwidth; 64 rounds each take the spanning tree of least total length,
 * route its bottleneck bandwidth along it and lengthen its edges by (1 + 0.1 * used/capacity),
 * so later trees move onto idle links. The max_trees trees that carried most are kept and all
 * rates scaled by one factor so that the most loaded edge is exactly at capacity.
 * A tree all_reduce sends its share up each edge once and down once; links are full duplex, so
 * each direction of an edge carries the sum of the rates of the trees using it.
 * Guarantee: for every edge that sum is <= its bandwidth, so splitting the data in proportion
 * to weight[] keeps every link within capacity; and total_rate >= the bottleneck of the best
 * single tree (when the packing would be worse, the forest is that one tree). The packing
 * approaches the fractional optimum (Nash-Williams/Tutte: min over partitions of crossing
 * bandwidth / (parts - 1)) as rounds grow; it is not guaranteed to reach it. */
typedef struct {
    int ntrees;
    tacl__tree_t **trees;
    double *rate;   /* bytes/s each tree carries */
    double *weight; /* rate / total_rate: the share of the data each tree carries, sums to 1 */
    double total_rate;
} tacl__forest_t;

tacl_status_t tacl__forest_pack(const tacl__graph_t *g, int root, int max_trees,
                                tacl__forest_t **out, tacl__errbuf_t *eb);
void tacl__forest_destroy(tacl__forest_t *f);

/* Global minimum cut by bandwidth (Stoer-Wagner): the smallest total bandwidth of the edges
 * between some set S and the rest. side[v] = 1 for v in S (may be NULL). 0 when disconnected
 * or n < 2 (then side marks a component). */
double tacl__graph_min_cut(const tacl__graph_t *g, int *side);

#endif
