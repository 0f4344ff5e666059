/* credit.h — flow control of routed point-to-point traffic (the engine's bookkeeping for
 * it; the engine's progress thread is the only caller except for the stats reads).
 *
 * A routed flow is the traffic from rank src to rank dst when they have no direct link. The
 * sender may have at most `window` bytes of a flow's fragments written or queued beyond its
 * first hop that the destination has not yet credited; the destination returns one CREDIT frame
 * per routed fragment as soon as the fragment has arrived (the receive need not be posted: sends
 * are eager, so credit never waits for the application and cyclic routed traffic cannot
 * deadlock). Relays never stop reading a link; they only account for what they hold, which is
 * at most `window` bytes per flow through them (a fragment larger than the window is always let
 * through alone so that progress is guaranteed: the bound is max(window, fragment)). The sum over
 * flows has a cap; a fragment that would exceed it is dropped (its credit returned) and the drop
 * is logged naming the flow. */
#ifndef TACL_TRANSPORT_ENGINE_CREDIT_H
#define TACL_TRANSPORT_ENGINE_CREDIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct tacl__credit tacl__credit_t;

/* window: bytes in flight per routed flow (0: unlimited); cap: bytes a relay may hold over all
 * flows (0: unlimited). NULL when out of memory. */
tacl__credit_t *tacl__credit_new(int size, size_t window, size_t cap);
void tacl__credit_free(tacl__credit_t *cr);
size_t tacl__credit_window(const tacl__credit_t *cr);

/* Sender: 1 and len bytes taken from flow (self, dst)'s window when they fit (always when
 * nothing is in flight), else 0 (the fragment stays in the sender's queue). */
int tacl__credit_take(tacl__credit_t *cr, int dst, size_t len);
/* Sender: credit for len bytes of the flow to dst came back (or was never used). */
void tacl__credit_give(tacl__credit_t *cr, int dst, size_t len);
/* Sender: bytes of the flow to dst in flight now. */
uint64_t tacl__credit_inflight(const tacl__credit_t *cr, int dst);

/* Relay: a fragment of len bytes of flow (src, dst) is to be held here. 0 when holding it would
 * pass the cap (nothing counted; the caller drops it and logs). */
int tacl__credit_relay_hold(tacl__credit_t *cr, int src, int dst, size_t len);
/* Relay: the fragment has been written on (or dropped). */
void tacl__credit_relay_release(tacl__credit_t *cr, int src, int dst, size_t len);
/* Relay: counts one more fragment dropped over the cap; returns the count so far. */
uint64_t tacl__credit_relay_dropped(tacl__credit_t *cr);
/* Relay: bytes held now for all flows, and the cap. */
uint64_t tacl__credit_relay_total(const tacl__credit_t *cr);
size_t tacl__credit_relay_cap(const tacl__credit_t *cr);
/* Relay, any thread: bytes of flow (src, dst) held now and the most ever held at once (src -1:
 * all flows together). */
void tacl__credit_relay_stats(const tacl__credit_t *cr, int src, int dst, uint64_t *cur,
                              uint64_t *peak);

#endif
