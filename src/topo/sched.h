/* sched.h — which algorithm a collective uses on a given reachability graph, and why; plus
 * the cut lower bound and the predicted time of the chosen schedule, which benchmarks print
 * next to what they measure. Pure computation over graph.h.
 *
 * The rule (DESIGN §Topology), for all_reduce, all_gather and reduce_scatter:
 *   1 rank                -> SINGLE (nothing to send);
 *   disconnected          -> TACL_ERR_DISCONNECTED listing the components;
 *   full mesh             -> MESH: ring over the best-bottleneck cycle for large messages,
 *                            recursive doubling for small ones;
 *   Hamiltonian cycle     -> RING on that cycle (the one with the largest bottleneck);
 *   otherwise             -> TREE: pipelined over a spanning tree rooted at the graph centre
 *                            (all_reduce: reduce + broadcast; all_gather: gather + broadcast;
 *                            reduce_scatter: reduce + scatter), or, for all_reduce,
 *                            MULTITREE (several trees, data split by weight) when the packing
 *                            predicts >= 10% less time.
 * For broadcast and reduce (rooted): TREE rooted at the root on any graph (a star on a full
 * mesh), or MULTITREE rooted there when >= 10% faster.
 *
 * Time model (alpha-beta per link; links full duplex; M bytes = the whole buffer (all_gather:
 * the gathered result); l the largest latency and b the bottleneck bandwidth of the edges
 * used; h the tree height; c the pipeline chunk, tacl__sched_chunk_bytes(M, stages) with
 * stages = 2h-1 for the two-phase trees and h for broadcast/reduce):
 *   all_reduce    ring 2 (n-1) (l + M/(n b)); rec. doubling ceil(log2 n) (l + M/b);
 *                 tree M/b + (2h-1) c/b + 2h l (reduce and broadcast pipelined together)
 *   all_gather,   ring (n-1) (l + M/(n b)); rec. doubling ceil(log2 n) l + (n-1)/n M/b;
 *   reduce_scatter tree max over edges e of max(s_e, n-s_e)/n M / b_e + (2h-1) c/b + 2h l,
 *                 s_e the number of ranks below e
 *   broadcast,    tree M/b + (h-1) c/b + h l
 *   reduce
 *   multi-tree    the slowest tree, each carrying weight_i M at its rate_i
 * Lower bound (cut bound): data must cross every cut. all_reduce: every element both ways,
 *   T >= M / mincut; broadcast/reduce: every element once into the side without the root,
 *   T >= M / mincut; all_gather/reduce_scatter: the k ranks of one side miss (n-k)/n M from the
 *   other, T >= max(k, n-k)/n M / cut for the minimum cut found. Each also >= the latency of
 *   the longest necessary route. For the chain A-B-C all_reduce this is M/b, which the tree
 *   rooted at B meets; a ring relayed through B would take 4M/(3b).
 * Why one tree at the centre is the schedule for stars, lines and chains (graphs that are
 * trees): every link is a cut, so it must carry M each way; the centre tree sends partial sums
 * up and results down each link at the same time, M each way, so it is at the bound but for
 * its pipeline fill. Splitting the data between opposite chains (half reduced towards one end
 * and broadcast back, half the other way), or a reduce-scatter + all-gather along the line,
 * also loads each link with M each way, with a pipeline twice as deep or n-1 phases; what is
 * left to win is the fill, hence chunks that shrink with the depth. bench/topo_bound.sh
 * measures these shapes against the same all_reduce over the one bottleneck link. */
#ifndef TACL_TOPO_SCHED_H
#define TACL_TOPO_SCHED_H

#include "topo/graph.h"

#include <stddef.h>

/* Pipeline chunks of the tree schedules: a pipeline of s stages (chunk times before the last
 * link starts its final chunk: 2h-1 for reduce + broadcast over a tree of height h) costs
 * (s - 1) c / b more than M / b, so c = M / (TACL_SCHED_CHUNKS_PER_STAGE s) keeps that near 1/64
 * of the transfer whatever the height, within [TACL_SCHED_CHUNK_MIN, TACL_SCHED_CHUNK_MAX] (each
 * chunk is one message per link: below some tens of KiB the per-message work shows; above a
 * MiB nothing more is saved). */
#define TACL_SCHED_CHUNKS_PER_STAGE 64
#define TACL_SCHED_CHUNK_MIN        (32 * 1024)
#define TACL_SCHED_CHUNK_MAX        (1024 * 1024)
#define TACL_SCHED_MAX_TREES        8

typedef enum {
    TACL_SCHED_SINGLE = 0,
    TACL_SCHED_MESH,
    TACL_SCHED_RING,
    TACL_SCHED_TREE,
    TACL_SCHED_MULTITREE
} tacl__sched_kind_t;

typedef enum {
    TACL_SCHED_ALL_REDUCE = 0,
    TACL_SCHED_BROADCAST,
    TACL_SCHED_REDUCE,
    TACL_SCHED_ALL_GATHER,
    TACL_SCHED_REDUCE_SCATTER,
    TACL_SCHED_OP_COUNT
} tacl__sched_op_t;

typedef struct {
    tacl__sched_op_t op;
    tacl__sched_kind_t kind;
    int n;
    int *ring;              /* MESH, RING: cycle order, n entries, ring[0] = 0 */
    double ring_bw;         /* bottleneck bandwidth of the ring */
    int root;               /* TREE, MULTITREE: the centre, or the root of broadcast/reduce */
    int eccentricity;       /* of the root, in hops */
    tacl__tree_t *tree;     /* TREE */
    tacl__forest_t *forest; /* MULTITREE */
    double bytes;           /* message size the predictions are for */
    double predicted_s;     /* time model above for the chosen algorithm */
    double lower_bound_s;   /* cut bound */
    char reason[512];       /* one line: what was chosen and why */
} tacl__sched_t;

/* Chooses the schedule of op over bytes bytes on g; root matters for broadcast and reduce
 * (0..n-1), and is ignored otherwise. */
tacl_status_t tacl__sched_build(const tacl__graph_t *g, tacl__sched_op_t op, int root, double bytes,
                                tacl__sched_t **out, tacl__errbuf_t *eb);
/* tacl__sched_build(g, TACL_SCHED_ALL_REDUCE, 0, bytes, out, eb). */
tacl_status_t tacl__sched_all_reduce(const tacl__graph_t *g, double bytes, tacl__sched_t **out,
                                     tacl__errbuf_t *eb);
void tacl__sched_destroy(tacl__sched_t *s);
const char *tacl__sched_kind_name(tacl__sched_kind_t kind);
const char *tacl__sched_op_name(tacl__sched_op_t op); /* "all_reduce", "broadcast", ... */
/* Cut lower bound on the time of op over bytes bytes (0 for one rank or when disconnected);
 * root as above. */
double tacl__sched_bound(const tacl__graph_t *g, tacl__sched_op_t op, int root, double bytes);
/* tacl__sched_bound for all_reduce. */
double tacl__sched_lower_bound(const tacl__graph_t *g, double bytes);
/* Chunk size in bytes of a pipeline of stages stages (>= 1) over bytes: see above; a multiple
 * of 4 KiB, and bytes itself when that is smaller. Every rank gets the same value. */
size_t tacl__sched_chunk_bytes(double bytes, int stages);
/* Model times (see above). */
double tacl__sched_ring_time(int n, double bw, double lat, double bytes);   /* all_reduce */
double tacl__sched_recdbl_time(int n, double bw, double lat, double bytes); /* all_reduce */
/* all_reduce over tree t carrying bytes at rate. */
double tacl__sched_tree_time(const tacl__tree_t *t, double rate, double bytes);
/* op over tree t (rate: the bandwidth the tree's share of the data gets; g for edge
 * bandwidths of all_gather / reduce_scatter). */
double tacl__sched_tree_op_time(const tacl__graph_t *g, const tacl__tree_t *t, tacl__sched_op_t op,
                                double rate, double bytes);
/* Multi-line description: kind, reason, ring order or tree parents, weights, times. */
void tacl__sched_format(const tacl__sched_t *s, char *buf, size_t len);

#endif
