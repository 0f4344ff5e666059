/* store_coll.h — collectives among a fixed set of ranks through the rendezvous store, for the
 * time before any communicator exists, shaped so that the store's work grows as n, not n^2:
 * every rank sets its own key, one rank (the root, rank 0 of the set) takes them all in one
 * multi-key get that the server answers once every key exists, and publishes them as one key
 * (every record's length, then the records); the others get that one key. An all-gather is
 * thus n sets, one multi-get, one set, n - 1 gets and n deletes; a barrier is an all-gather of
 * nothing, so a timeout names the ranks that never arrived. Keys are "<prefix><call>/<rank>"
 * and "<prefix><call>/all" with a per-context call counter, so calls never collide. Once a rank
 * has the result of a call it deletes its own key of that call (the root has read it), and the
 * root deletes the previous call's result once every rank has arrived at the current one, so
 * the store holds at most one call's keys and two results per context. With
 * boot_store_xchg_share, a host's leader reads each result once for the host (store_share.h).
 * Every rank of the set must make the same sequence of calls. A context serves one thread, as
 * its store handle does. */
#ifndef TACL_BOOT_STORE_COLL_H
#define TACL_BOOT_STORE_COLL_H

#include "boot/store_share.h"
#include "err.h"
#include "tacl.h"
#include "xchg.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    tacl_store_t *st;
    char prefix[192];
    int rank, size;
    uint64_t calls;     /* collective calls made through this context */
    int host_leader;    /* rank (in the set) that reads results for this rank's host; -1: each
                           rank reads its own (boot_store_xchg_share) */
    boot_share_t share; /* the leader's memfd of the latest result */
} boot_store_xchg_ctx_t;

/* Fills ctx and x so that tacl__xchg_allgather(x, ...) runs boot_store_allgather on ctx.
 * prefix (copied; at most 191 bytes) must be the same on every rank and unique to the set. */
void boot_store_xchg_init(tacl__xchg_t *x, boot_store_xchg_ctx_t *ctx, tacl_store_t *st,
                          const char *prefix, int rank, int size);
/* Results are read once per host: host_leader (the lowest rank of this rank's host in the set)
 * reads them from the store and shares them with the host's other ranks (store_share.h). Every
 * rank of a host must name the same leader. Undo with boot_store_xchg_close. */
void boot_store_xchg_share(boot_store_xchg_ctx_t *ctx, int host_leader);
/* Closes what the context holds (the leader's memfd); the context stays usable. */
void boot_store_xchg_close(boot_store_xchg_ctx_t *ctx);
/* all[r * len ...] receives rank r's len bytes. A rank that contributed another length gives
 * TACL_ERR_MISMATCH naming it; ranks that never arrive give TACL_ERR_TIMEOUT naming their keys
 * (the last path component is the rank) within the store handle's timeout. */
tacl_status_t boot_store_allgather(boot_store_xchg_ctx_t *ctx, const void *mine, size_t len,
                                   void *all, tacl__errbuf_t *eb);
tacl_status_t boot_store_barrier(boot_store_xchg_ctx_t *ctx, tacl__errbuf_t *eb);

/* A gather to the root (rank 0 of the set) alone, for results that only the root needs: each
 * rank sets its record (any length up to the store's value bound; ranks may differ) and
 * returns; the root takes the records in multi-gets of about SC_BATCH_BYTES of values each, so
 * that n records of any total size pass (one all-gather record must fit in one store value),
 * hands each to take(arg, rank, val, len) in rank order (val is valid during the call only;
 * a take that fails ends the gather with its status), then deletes the call's keys. Takes a
 * call number in the same sequence as boot_store_allgather (every rank of the set makes the
 * same sequence of both). Errors as boot_store_allgather's; a rank that never sets its record
 * gives the root TACL_ERR_TIMEOUT naming the missing keys. take is used on the root only and
 * may be NULL elsewhere. */
typedef tacl_status_t (*boot_store_take_fn)(void *arg, int rank, const void *val, size_t len,
                                            tacl__errbuf_t *eb);
tacl_status_t boot_store_gather_root(boot_store_xchg_ctx_t *ctx, const void *mine, size_t len,
                                     boot_store_take_fn take, void *arg, tacl__errbuf_t *eb);

/* The gather-and-publish step on its own: keys[0..n-1] are set (or about to be) by their
 * owners; rank 0 of the set (me == 0) takes them in one multi-get and sets allkey to them all,
 * the others get allkey, within the handle's timeout; when it does not come, a very short
 * multi-get of keys either returns the records (rank 0 went away after they all arrived) or
 * fails naming the keys still missing. With direct, the others take the records themselves in
 * one multi-get, which fails naming the missing keys when the wait times out (a caller that
 * waits in slices does so in the last one, so that a failing join names the missing ranks
 * even when the store's host stops at the same moment). vals[r] (tacl_free) and lens[r] as
 * boot_store_multi_get gives them; set only on success. Errors are the store's (on the
 * handle's last error). */
tacl_status_t boot_store_gather_publish(tacl_store_t *st, const char *const *keys, size_t n, int me,
                                        const char *allkey, int direct, void **vals, size_t *lens);

#endif
