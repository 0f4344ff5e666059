/* world.h — joining the world: every rank meets at the rendezvous store (rank 0 hosts it on
 * master_addr:master_port unless a store already answers there), the ranks agree on the run id
 * and the world size, each claims its rank, and every rank learns every rank's host id and pid
 * (hence local_rank/local_size). Keys live under "tacl/<run_id>/"; the job's identity is the
 * key "tacl/run" ("<run_id>\n<size>"), so a store serves one job at a time and a rank of another
 * job (or with another world size) is refused. Leaving is bounded in time: the last rank to
 * leave deletes the job's keys, and the rank hosting the store keeps it up until every other
 * client has disconnected or TACL_STORE_LEAVE_GRACE passes. */
#ifndef TACL_BOOT_WORLD_H
#define TACL_BOOT_WORLD_H

#include "boot/store_coll.h"
#include "err.h"
#include "tacl.h"
#include "xchg.h"

#define BOOT_HOST_ID_MAX 256

typedef struct {
    tacl_store_t *store;         /* this rank's client (one thread at a time) */
    tacl_store_server_t *server; /* non-NULL on the rank that hosts the store */
    char prefix[128];            /* "tacl/<run_id>/" */
    char run_id[64];
    int rank, size;
    int local_rank, local_size; /* among ranks with this rank's host id, ordered by rank */
    char **host_ids;            /* size entries, gathered */
    int *pids;                  /* size entries, gathered */
    double timeout_s;           /* bound of every store call of this world */
    int incomplete; /* set before leaving: a peer is lost/stalled, or the store failed */
    boot_store_xchg_ctx_t xctx; /* all-gather over the world, under "<prefix>x/" */
    tacl__xchg_t xchg;
} boot_world_t;

/* Joins the world described by bs (rank, size, master_addr, master_port, run_id; an empty
 * run_id means "default", an empty master_addr is allowed for a world of one). host_id names
 * this rank's host (tacl_host_id). timeout_s (<= 0: TACL_STORE_TIMEOUT) bounds the whole join
 * and every later store call. Errors: TACL_ERR_UNREACHABLE (store address and OS error),
 * TACL_ERR_BOOTSTRAP (run id / world size disagreement, rank claimed twice: both values and
 * the store address), TACL_ERR_TIMEOUT (the ranks that never arrived). *out is set only on
 * success; leave it with boot_world_leave. The struct must stay where it is until then (xchg's
 * context points into it): embed it or allocate it, do not copy it. */
tacl_status_t boot_world_join(const tacl_bootstrap_t *bs, const char *host_id, double timeout_s,
                              boot_world_t *out, tacl__errbuf_t *eb);
/* Leaves the world; never blocks past a few seconds plus, on the rank hosting the store, the
 * leave grace (at most WORLD_LEAVE_TIMEOUT_S when w->incomplete says that some rank may never
 * leave). Safe on a zeroed struct. */
void boot_world_leave(boot_world_t *w);

#endif
