/* xchg.h — an all-gather among a fixed set of ranks, used to set things up before any
 * communicator exists (addresses, shared-segment names, reachability rows). The world's
 * exchange goes through the rendezvous store; tests that run ranks as threads of one process
 * may pass their own. Every call is collective over the set and has the exchange's deadline. */
#ifndef TACL_CORE_XCHG_H
#define TACL_CORE_XCHG_H

#include "err.h"

#include <stddef.h>

typedef struct {
    /* all[r * len .. ] receives rank r's len bytes; every rank passes the same len. */
    tacl_status_t (*allgather)(void *ctx, const void *mine, size_t len, void *all,
                               tacl__errbuf_t *eb);
    void *ctx;
    int rank, size; /* this rank within the set, and the set's size */
} tacl__xchg_t;

static inline tacl_status_t tacl__xchg_allgather(const tacl__xchg_t *x, const void *mine,
                                                 size_t len, void *all, tacl__errbuf_t *eb)
{
    return x->allgather(x->ctx, mine, len, all, eb);
}

#endif
