/* algo.h — what a collective algorithm works with: the call's arguments in bytes and
 * elements, its fingerprint and deadline, and point-to-point steps on the engine keyed by
 * (communicator, operation number, step), so that the messages of different steps and
 * operations can never be confused. Algorithms are written once against this interface. */
#ifndef TACL_COLL_ALGO_H
#define TACL_COLL_ALGO_H

#include "coll/comm.h"
#include "topo/graph.h"
#include "transport/engine.h"

#include <stddef.h>

typedef struct {
    tacl_comm_t *c;
    tacl__fp_t fp;
    uint64_t deadline;
    uint64_t step; /* next message tag */
    /* The operation's agreement messages still pending (coll.c): every wait of the algorithm
     * fails at once when one of them has failed (another rank called something else). */
    tacl__req_t **agree;
    int nagree;
} coll_ctx_t;

/* Arguments of a collective, normalised by the entry point (coll.c). */
typedef struct {
    tacl__coll_t kind;
    const void *send;
    void *recv;
    size_t count; /* elements (per rank block for gather/scatter/all_gather/all_to_all) */
    tacl_dtype_t dt;
    tacl_op_t op;
    int root;
    size_t esz;
    /* v-variants (elements) */
    const size_t *send_counts, *send_displs, *recv_counts, *recv_displs;
    int nested; /* run inside an operation whose ranks already agreed (host leaders): a forced
                   algorithm that cannot run here gives way to the selector's choice */
} coll_args_t;

#define COLL_MAX_REQS 64

/* What each collective is (coll_kind.c): it reduces; it has a root; it takes fixed blocks of
 * count elements per rank (the engine algorithms run the v-variant); its own messages prove
 * that every rank made the same call when it carries data (always: even without); how the
 * cost model counts its bytes; which ranks need a send and a recv buffer (the v-variants
 * decide by their counts). */
enum { COLL_NEED_NONE, COLL_NEED_ALL, COLL_NEED_ROOT }; /* buffers needed (count > 0) */
typedef struct {
    unsigned reduction : 1, rooted : 1, fixed : 1, by_data : 1, always_by_data : 1;
    unsigned bytes : 2;
    unsigned send : 2, recv : 2; /* COLL_NEED_*: on every rank, on the root only, none */
} coll_kind_info_t;
const coll_kind_info_t *coll_kind(tacl__coll_t k);
/* Bytes the cost model charges a on c: the vector, the n blocks of the fixed-block kinds, the
 * receive total of all_gatherv, 0 for all_to_allv and barrier; the same on every rank. */
double coll_model_bytes(const tacl_comm_t *c, const coll_args_t *a);
/* The fingerprint every rank must agree on. */
tacl__fp_t coll_fingerprint(const tacl_comm_t *c, const coll_args_t *a);
/* Starts an operation of a on c: fingerprint, deadline, the communicator's next operation
 * number; agree is room for the gate's agreement requests (NULL: none, a nested operation). */
void coll_ctx_init(coll_ctx_t *x, tacl_comm_t *c, const coll_args_t *a, tacl__req_t **agree);

/* Posts a send / receive of one step's message (tag = ctx step) to/from comm rank peer. */
tacl_status_t coll_isend(coll_ctx_t *x, int peer, uint64_t tag, const void *buf, size_t len,
                         tacl__req_t **req);
tacl_status_t coll_irecv(coll_ctx_t *x, int peer, uint64_t tag, void *buf, size_t len,
                         tacl__req_t **req);
/* Waits for n requests under the call's deadline, failing on the communicator's dead ranks. */
tacl_status_t coll_wait(coll_ctx_t *x, tacl__req_t **reqs, int n);
/* Sends to one peer and receives from another in one step, then waits for both. */
tacl_status_t coll_sendrecv(coll_ctx_t *x, int to, const void *sbuf, size_t slen, int from,
                            void *rbuf, size_t rlen);

/* Algorithms over the engine (comm ranks; in place when send == recv). */
tacl_status_t algo_allreduce_ring(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_allreduce_rd(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_allreduce_rhd(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_allreduce_tree(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_reduce_tree(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_bcast_tree(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_allgatherv_ring(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_allgatherv_tree(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_reduce_scatter_ring(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_reduce_scatter_tree(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_gatherv_direct(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_scatterv_direct(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_alltoallv_pairwise(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_barrier_dissem(coll_ctx_t *x, const coll_args_t *a);

/* The shared-memory group of a one-host communicator (algo_shm.c); all_gatherv also runs
 * all_gather (recv_counts NULL: fixed blocks). */
tacl_status_t algo_shm_all_reduce(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_shm_reduce(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_shm_broadcast(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_shm_reduce_scatter(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_shm_barrier(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_shm_all_gatherv(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_shm_gather(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_shm_scatter(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_shm_all_to_all(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_shm_all_to_allv(coll_ctx_t *x, const coll_args_t *a);

/* Hierarchical: shm inside each host, leaders across (algo_hier.c). */
tacl_status_t algo_allreduce_hier(coll_ctx_t *x, const coll_args_t *a);

/* Spanning tree of the communicator rooted at root (comm ranks): parent and children. */
typedef struct {
    int parent; /* -1 at the root */
    int nchildren;
    int *children; /* malloc'd; coll_tree_node_free */
    int height;    /* of the whole tree (the same on every rank): sets the pipeline's chunks */
} coll_tree_node_t;
/* chain = 1 asks for a chain (pipelines best on a full mesh for large messages); otherwise a
 * binomial tree on a full mesh, a BFS tree over direct links elsewhere. */
tacl_status_t coll_tree_node(tacl_comm_t *c, int root, int chain, coll_tree_node_t *out);
void coll_tree_node_free(coll_tree_node_t *t);

/* Pipelined reduce (towards each tree's root) and/or broadcast (from it) of ntrees independent
 * parts at once: part i (bufs[i], counts[i] elements, in place) runs on trees[i]. Chunks of the
 * parts are interleaved in proportion to their sizes, in the same order on every rank
 * (algo_tree.c). */
tacl_status_t coll_trees_run(coll_ctx_t *x, const coll_tree_node_t *trees, char *const *bufs,
                             const size_t *counts, int ntrees, const coll_args_t *a, int reduce,
                             int bcast);

/* Multi-tree all_reduce (algo_multitree.c): the trees of tacl__forest_pack, the vector split by
 * their weights. */
struct coll_mtree {
    tacl__forest_t *forest;  /* all_reduce; NULL when one tree is as good */
    tacl__forest_t **rooted; /* broadcast/reduce per root, computed on first use */
    unsigned char *known;    /* rooted[r] computed (it may be NULL: one tree is as good) */
};
/* Allocates c->mtree for a communicator that is not a full mesh (coll_topo.c). */
tacl_status_t coll_mtree_create(tacl_comm_t *c, tacl__errbuf_t *eb);
void coll_mtree_destroy(tacl_comm_t *c);
/* The packing for broadcast/reduce rooted at root when tacl__sched_build prefers it, else NULL;
 * deterministic, so every rank gets the same answer. */
const tacl__forest_t *coll_mtree_rooted(tacl_comm_t *c, int root);
tacl_status_t algo_allreduce_multitree(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_bcast_multitree(coll_ctx_t *x, const coll_args_t *a);
tacl_status_t algo_reduce_multitree(coll_ctx_t *x, const coll_args_t *a);

#endif
