/* shm_group.h — the shared-memory transport: one POSIX shared segment per same-host group of
 * ranks, holding a slot per rank (staging buffer, flags, fingerprint, pid), on which the
 * direct algorithms run: each rank reduces its slice straight from the others' slots.
 * The segment has a unique name and is unlinked as soon as every rank has mapped it, so a
 * crash leaves nothing in /dev/shm. Waits spin briefly, then sleep on a futex in the segment,
 * and check the other ranks' pids, so a dead local peer is an error within milliseconds.
 *
 * Every call takes the operation's fingerprint: all ranks publish theirs in their slot and
 * compare, so mismatched calls fail with TACL_ERR_MISMATCH on every rank. */
#ifndef TACL_TRANSPORT_SHM_GROUP_H
#define TACL_TRANSPORT_SHM_GROUP_H

#include "err.h"
#include "fp.h"
#include "tacl.h"
#include "xchg.h"

#include <stdint.h>

typedef struct tacl__shm_group tacl__shm_group_t;

typedef struct {
    const tacl__xchg_t *xchg; /* all-gather over the group (rank/size = group rank/size) */
    const int *comm_ranks;    /* communicator rank of each group member, for messages */
    double timeout_s;         /* bound on create */
    /* Optional: 0 when the caller's liveness knowledge (the engine) has declared group rank r
     * lost or stalled, so that waits for it fail at once (a stopped process has a live pid). */
    int (*peer_alive)(void *ctx, int group_rank);
    void *alive_ctx;
} tacl__shm_group_config_t;

tacl_status_t tacl__shm_group_create(const tacl__shm_group_config_t *cfg, tacl__shm_group_t **out,
                                     tacl__errbuf_t *eb);
void tacl__shm_group_destroy(tacl__shm_group_t *g);
/* Breaks the group with st and msg, for a failure outside it (e.g. the host leader's step
 * across hosts): every rank waiting in, or later calling, the group gets that error. */
void tacl__shm_group_abort(tacl__shm_group_t *g, tacl_status_t st, const char *msg);

/* Collectives within the group. Semantics and in-place forms as the public API in tacl.h
 * (roots are group ranks); other overlaps of send and recv are the caller's to refuse. The
 * v-variants compare every pair's counts on both of its ranks: both fail with
 * TACL_ERR_MISMATCH naming sender, receiver and both counts, and the group stays in step. All
 * return within deadline_ns. */
tacl_status_t tacl__shm_all_reduce(tacl__shm_group_t *g, const void *send, void *recv, size_t count,
                                   tacl_dtype_t dt, tacl_op_t op, const tacl__fp_t *fp,
                                   uint64_t deadline_ns, tacl__errbuf_t *eb);
tacl_status_t tacl__shm_reduce(tacl__shm_group_t *g, const void *send, void *recv, size_t count,
                               tacl_dtype_t dt, tacl_op_t op, int root, const tacl__fp_t *fp,
                               uint64_t deadline_ns, tacl__errbuf_t *eb);
tacl_status_t tacl__shm_broadcast(tacl__shm_group_t *g, const void *send, void *recv, size_t bytes,
                                  int root, const tacl__fp_t *fp, uint64_t deadline_ns,
                                  tacl__errbuf_t *eb);
/* recv_counts/displs in bytes; all_gather is the equal-count case. */
tacl_status_t tacl__shm_all_gatherv(tacl__shm_group_t *g, const void *send, size_t send_bytes,
                                    void *recv, const size_t *recv_bytes, const size_t *displs,
                                    const tacl__fp_t *fp, uint64_t deadline_ns, tacl__errbuf_t *eb);
tacl_status_t tacl__shm_reduce_scatter(tacl__shm_group_t *g, const void *send, void *recv,
                                       size_t recv_count, tacl_dtype_t dt, tacl_op_t op,
                                       const tacl__fp_t *fp, uint64_t deadline_ns,
                                       tacl__errbuf_t *eb);
/* gather/scatter/all_to_all(v) in bytes per rank block (displacements in bytes). */
tacl_status_t tacl__shm_gatherv(tacl__shm_group_t *g, const void *send, size_t send_bytes,
                                void *recv, const size_t *recv_bytes, const size_t *displs,
                                int root, const tacl__fp_t *fp, uint64_t deadline_ns,
                                tacl__errbuf_t *eb);
tacl_status_t tacl__shm_scatterv(tacl__shm_group_t *g, const void *send, const size_t *send_bytes,
                                 const size_t *displs, void *recv, size_t recv_bytes, int root,
                                 const tacl__fp_t *fp, uint64_t deadline_ns, tacl__errbuf_t *eb);
tacl_status_t tacl__shm_all_to_allv(tacl__shm_group_t *g, const void *send,
                                    const size_t *send_bytes, const size_t *send_displs, void *recv,
                                    const size_t *recv_bytes, const size_t *recv_displs,
                                    const tacl__fp_t *fp, uint64_t deadline_ns, tacl__errbuf_t *eb);
tacl_status_t tacl__shm_barrier(tacl__shm_group_t *g, const tacl__fp_t *fp, uint64_t deadline_ns,
                                tacl__errbuf_t *eb);

/* Memory the group's ranks map from each other (shm_mem.c), collective over the group in the
 * same order on every rank (fp's count: bytes). *out is this rank's region (page-aligned,
 * zeroed). Every rank maps every other's region, or (a rank could not open or map a peer's:
 * /proc/<pid>/fd closed to it) none does and each keeps its own as ordinary memory. A rank that
 * cannot make its region fails the call on every rank, naming it. */
tacl_status_t tacl__shm_mem_alloc(tacl__shm_group_t *g, size_t bytes, const tacl__fp_t *fp,
                                  uint64_t deadline_ns, void **out, tacl__errbuf_t *eb);
/* Collective: every rank passes its region of the same allocation (else TACL_ERR_MISMATCH on
 * every rank; p not from tacl__shm_mem_alloc anywhere: TACL_ERR_INVALID). fp's count is set here.
 */
tacl_status_t tacl__shm_mem_free(tacl__shm_group_t *g, void *p, tacl__fp_t *fp,
                                 uint64_t deadline_ns, tacl__errbuf_t *eb);
/* 1 when [p, p + bytes) lies in one of this rank's regions that every rank maps. */
int tacl__shm_mem_shared(const tacl__shm_group_t *g, const void *p, size_t bytes);
/* How many operations ran straight in that memory (all_reduce, reduce_scatter, all_gatherv,
 * broadcast). */
uint64_t tacl__shm_mem_direct_ops(const tacl__shm_group_t *g);

#endif
