/* scale_model.h — closed forms of what tacl's init asks of the rendezvous store and of the
 * network, per phase, for n ranks on h hosts (l = n / h ranks per host). bench/scale_sim.c
 * runs the real protocol and compares its measured counts with these (--check); the figures
 * follow the code of src/boot (world.c, store_coll.c) and src/coll/world.c:
 *
 * - join: rank 0 pings for a store already running (1 request); every rank compare-sets the
 *   run record and its claim (2 each); rank 0 takes the claims in one multi-get and sets the
 *   published record (2); the others get it (1 each).
 * - a store all-gather (store_coll.c), call c of its context: n sets, one multi-get and one
 *   set by the root, n - 1 gets, n deletes of the ranks' own keys, and for c > 0 the root's
 *   delete of the previous result; with several ranks per host (store_share.h) each host's
 *   leader also sets the host's key (h), which the others get instead of the result, and for
 *   c > 0 deletes its previous one (h). Records over 16 KiB then leave the store h times,
 *   not n - 1.
 * - cards by peers: each rank sets its card (1) and takes the cards of the peers it connects
 *   to in one multi-get (1).
 * - the probe plan (src/transport/engine/pairs.c): each pair of hosts (a < b) is probed by one
 *   pair of ranks, the rank of local index b mod l on host a and the rank of local index a mod l
 *   on host b, one test connection each way (closed once answered), so a rank has about
 *   (h - 1) / l probe partners; the first collectives add the host leaders' ring (2 peers for
 *   local rank 0; none when h == 1).
 * - leave: every rank adds itself to the leave count and waits for go (the last one sets it;
 *   waits that time out in 1 s slices are repeated), then adds itself to the count of ranks
 *   gone; the last one deletes the job's keys (2). */
#ifndef TACL_BENCH_SCALE_MODEL_H
#define TACL_BENCH_SCALE_MODEL_H

#include <stdint.h>

static inline uint64_t scale_model_join_requests(uint64_t n)
{
    return 3 * n + 2;
}

static inline uint64_t scale_model_allgather_requests(uint64_t n, uint64_t h, uint64_t call)
{
    uint64_t shared = n > h ? h * (1 + (call > 0)) : 0;
    return 3 * n + 1 + (call > 0) + shared;
}

static inline uint64_t scale_model_cards_peers_requests(uint64_t n)
{
    return 2 * n;
}

/* At least (slow waits repeat). */
static inline uint64_t scale_model_leave_requests(uint64_t n)
{
    return 3 * n + 2;
}

/* The pair of hosts a != b is probed from local index *from_l of min(a, b) to local index *to_l
 * of max(a, b). */
static inline void scale_model_probe_pair(int a, int b, int l, int *from_l, int *to_l)
{
    int lo = a < b ? a : b, hi = a < b ? b : a;
    *from_l = hi % l;
    *to_l = lo % l;
}

#endif
