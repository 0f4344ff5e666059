/* store_coll.h — collectives among a fixed set of ranks through the rendezvous store, for the
 * time before any communicator exists: an all-gather (one set per rank plus one multi-key get
 * that the server answers once every rank's key exists) and a barrier (an all-gather of
 * nothing, so a timeout names the ranks that never arrived). Keys are
 * "<prefix><call>/<rank>" with a per-context call counter, so calls never collide; each rank
 * deletes its key of the previous call once the current one completes (every rank has then
 * finished reading it), so the store holds at most one call's keys per context. Every rank of
 * the set must make the same sequence of calls. A context serves one thread, as its store
 * handle does. */
#ifndef TACL_BOOT_STORE_COLL_H
#define TACL_BOOT_STORE_COLL_H

#include "err.h"
#include "tacl.h"
#include "xchg.h"

#include <stdint.h>

typedef struct {
    tacl_store_t *st;
    char prefix[192];
    int rank, size;
    uint64_t calls;    /* collective calls made through this context */
    int64_t prev_call; /* call whose own key is still in the store (-1: none) */
} boot_store_xchg_ctx_t;

/* Fills ctx and x so that tacl__xchg_allgather(x, ...) runs boot_store_allgather on ctx.
 * prefix (copied; at most 191 bytes) must be the same on every rank and unique to the set. */
void boot_store_xchg_init(tacl__xchg_t *x, boot_store_xchg_ctx_t *ctx, tacl_store_t *st,
                          const char *prefix, int rank, int size);
/* all[r * len ...] receives rank r's len bytes. A rank that contributed another length gives
 * TACL_ERR_MISMATCH naming it; ranks that never arrive give TACL_ERR_TIMEOUT naming their keys
 * (the last path component is the rank) within the store handle's timeout. */
tacl_status_t boot_store_allgather(boot_store_xchg_ctx_t *ctx, const void *mine, size_t len,
                                   void *all, tacl__errbuf_t *eb);
tacl_status_t boot_store_barrier(boot_store_xchg_ctx_t *ctx, tacl__errbuf_t *eb);

#endif
