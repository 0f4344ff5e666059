/* comm.h — the communicator object and the world it belongs to. A world is what tacl_init
 * builds once per process: the store, the engine (links, routes, liveness) and the topology of
 * every world rank. Communicators (the world one and those made by split) are views of a world:
 * a rank list, an id that keys their messages, a same-host shared-memory group, and the
 * schedule chosen for their shape. */
#ifndef TACL_COLL_COMM_H
#define TACL_COLL_COMM_H

#include "err.h"
#include "fp.h"
#include "tacl.h"
#include "xchg.h"

#include <pthread.h>
#include <stdint.h>

#include "boot/world.h"

struct tacl__engine;
struct tacl__graph;
struct tacl__shm_group;

#define TACL_HOST_ID_MAX 192

typedef struct tacl__world {
    int refs; /* communicators alive on this world (protected by lock) */
    pthread_mutex_t lock;
    int rank, size;
    tacl_bootstrap_t bs;
    boot_world_t *boot; /* store, server, host ids, pids, world all-gather (boot->xchg) */
    struct tacl__engine *engine;
    char (*host_ids)[TACL_HOST_ID_MAX]; /* per world rank */
    int *host_of;                       /* world rank -> host index (first-seen order) */
    int nhosts;
    uint8_t *reach;    /* size*size direct links, identical on every rank */
    int *next_hop;     /* routes from this rank */
    double *link_bw;   /* size*size bytes/s from TACL_TOPO_FILE or TACL_TOPO_MEASURE, else NULL */
    double *link_lat;  /* size*size seconds, alongside link_bw */
    double timeout_s;  /* default for communicators */
    uint64_t comm_ids; /* comms created by this process (for id derivation) */
} tacl__world_t;

/* Algorithms a communicator may use (rows of algo_registry.c); chosen per call by
 * coll_select(). */
typedef enum {
    COLL_ALGO_AUTO = 0,
    COLL_ALGO_SHM,       /* all ranks on one host: direct shared-memory algorithms */
    COLL_ALGO_RING,      /* ring over the communicator's ring order */
    COLL_ALGO_RD,        /* recursive doubling (whole vectors; small messages) */
    COLL_ALGO_TREE,      /* pipelined spanning tree (reduce + broadcast) */
    COLL_ALGO_HIER,      /* shm inside hosts, another algorithm among host leaders */
    COLL_ALGO_DIRECT,    /* every rank straight to/from the peers (routed when needed) */
    COLL_ALGO_MULTITREE, /* several pipelined trees, the vector split by their rates */
    COLL_ALGO_RHD,       /* recursive halving-doubling (Rabenseifner; medium messages) */
    COLL_ALGO_COUNT
} coll_algo_t;

/* The selector's memory (select.c): per collective and size class, the row chosen (its index in
 * coll_algo_rows + 1; 0 before the first call of that class), the root it was chosen for (-1
 * where the root does not change the choice) and its prediction. */
#define COLL_SIZE_CLASSES 64
typedef struct {
    signed char algo;
    int root;
    double predicted_s;
} coll_pick_cache_t;

/* Figures of the communicator's graph the cost model uses (algo_cost.c): slowest bandwidth and
 * largest latency over all linked pairs, over the ring order's consecutive pairs, over the
 * linked pairs of host leaders (lead_mesh: every pair linked); the fastest same-host link;
 * the ranks of the fullest host. */
typedef struct {
    double mesh_bw, mesh_lat;
    double ring_bw, ring_lat;
    double lead_bw, lead_lat;
    int lead_mesh;
    double host_bw;
    int max_local;
} coll_cost_shape_t;

/* Tag of a live communicator; destroy clears it, so most calls on a destroyed handle fail with
 * TACL_ERR_INVALID instead of using freed state (not once the memory is reused). */
#define COMM_MAGIC 0x7461636cu

struct tacl_comm {
    uint32_t magic; /* COMM_MAGIC while alive */
    tacl__errbuf_t err;
    tacl__world_t *world;
    uint64_t id;
    int rank, size;
    int *wranks;  /* comm rank -> world rank */
    int *host_of; /* comm rank -> host index within this comm (0..nhosts-1) */
    int nhosts;
    int local_rank, local_size;
    int *local_ranks;            /* comm ranks on this rank's host, in order */
    int *leaders;                /* comm rank of the first rank of each host */
    struct tacl_comm *lead;      /* communicator of the host leaders (NULL if one host or not a
                                    leader) */
    struct tacl__shm_group *shm; /* same-host group (NULL when local_size == 1) */
    int shm_all;                 /* shm holds every rank: the communicator is one host's */
    struct tacl_comm *watch;     /* the leaders' communicator fails its waits when any rank of
                                    this parent dies, not only a leader */
    double timeout_s;
    uint64_t seq;     /* operations issued on this communicator */
    uint64_t nsplits; /* splits issued (part of derived ids) */
    int broken;       /* a failed operation left state unknown; further calls fail */
    tacl_status_t broken_st;

    /* Shape and schedule (coll_topo.c). */
    int full_mesh;             /* every pair of ranks has a direct link */
    int *ring;                 /* ring order (comm ranks); a Hamiltonian cycle when one exists */
    int ring_pos;              /* this rank's index in ring */
    int ring_direct;           /* consecutive ring ranks are linked directly */
    int centre;                /* root of the all_reduce spanning tree */
    struct tacl__graph *graph; /* direct links among the communicator's ranks */
    struct coll_mtree *mtree;  /* all_reduce trees packed by bandwidth when they beat one tree
                                  (coll_topo.c, algo_multitree.c); NULL otherwise */
    char sched_reason[512];
    coll_cost_shape_t cost;

    /* Selector (select.c): choices kept per collective and size class; classes logged. */
    coll_pick_cache_t picks[TACL_COLL_COUNT][COLL_SIZE_CLASSES];
    uint64_t picks_logged[TACL_COLL_COUNT];

    /* tacl_mem_alloc's memory where there is no shared-memory group (mem.c). */
    struct coll_mem *mems;
    int nmems;

    /* Point-to-point sequence counters per (peer, tag), open addressing. */
    struct coll_p2p_ctr *p2p;
    size_t p2p_cap, p2p_len;
};

/* Creates a communicator of world ranks wranks[0..n-1] (this rank among them) with the given
 * id. Collective over those ranks (it sets up their shared-memory group). */
tacl_status_t comm_create(tacl__world_t *w, uint64_t id, const int *wranks, int n, double timeout_s,
                          tacl_comm_t **out, tacl__errbuf_t *eb);
/* Derives a communicator id that every member computes alike. */
uint64_t comm_derive_id(uint64_t parent, uint64_t salt1, uint64_t salt2);
/* Marks the communicator broken after an error that may have left peers mid-operation. */
tacl_status_t comm_fail(tacl_comm_t *c, tacl_status_t st);
/* mem.c: unmaps what tacl_mem_alloc gave out without a shared-memory group. */
void comm_mem_release(tacl_comm_t *c);

void world_release(tacl__world_t *w);
/* The engine's liveness generation (tacl__engine_live_gen): unchanged means no rank died and no
 * link was cut since it was last read. */
unsigned comm_live_gen(const tacl_comm_t *c);

/* Topology: shape and schedule of a communicator (coll_topo.c): comm_topo_init builds the graph
 * of its links from the world, comm_shape_init derives the rest from c->graph, host_of,
 * nhosts and leaders alone. */
tacl_status_t comm_topo_init(tacl_comm_t *c, tacl__errbuf_t *eb);
tacl_status_t comm_shape_init(tacl_comm_t *c, tacl__errbuf_t *eb);
void comm_topo_fini(tacl_comm_t *c);

#endif
