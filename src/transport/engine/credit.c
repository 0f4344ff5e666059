/* credit.c — the counters behind the flow control of routed traffic (credit.h):
 * per destination, the bytes this rank has in flight on routed flows; per (src, dst), the bytes
 * this rank holds as a relay and the most it ever held (allocated when the rank first relays,
 * so that ranks that never do pay nothing for the size^2 table). The engine decides what to do
 * with the answers (queue at the sender, drop at a relay); this file only counts. Counters a test
 * may read from another thread are atomics; everything else belongs to the progress thread. */
#include "transport/engine/credit.h"

#include <stdatomic.h>
#include <stdlib.h>

typedef struct {
    _Atomic uint64_t held, peak; /* bytes of one (src, dst) flow held as a relay */
} eng_flow_t;

struct tacl__credit {
    int size;
    size_t window, cap;
    uint64_t *inflight;         /* size: per destination */
    _Atomic(eng_flow_t *) flow; /* size*size, NULL until the first relayed fragment */
    _Atomic uint64_t total, total_peak;
    uint64_t dropped;
};

tacl__credit_t *tacl__credit_new(int size, size_t window, size_t cap)
{
    tacl__credit_t *cr = calloc(1, sizeof *cr);
    if (!cr) return NULL;
    cr->size = size;
    cr->window = window;
    cr->cap = cap;
    cr->inflight = calloc((size_t)size, sizeof *cr->inflight);
    if (!cr->inflight) {
        tacl__credit_free(cr);
        return NULL;
    }
    return cr;
}

void tacl__credit_free(tacl__credit_t *cr)
{
    if (!cr) return;
    free(cr->inflight);
    free(atomic_load(&cr->flow));
    free(cr);
}

size_t tacl__credit_window(const tacl__credit_t *cr)
{
    return cr->window;
}

int tacl__credit_take(tacl__credit_t *cr, int dst, size_t len)
{
    uint64_t *f = &cr->inflight[dst];
    /* Always one fragment when nothing is in flight, whatever the window: no flow can stall. */
    if (len && cr->window && *f && *f + len > cr->window) return 0;
    *f += len;
    return 1;
}

void tacl__credit_give(tacl__credit_t *cr, int dst, size_t len)
{
    uint64_t *f = &cr->inflight[dst];
    *f = *f > len ? *f - len : 0; /* a peer's excess credit cannot widen the window */
}

uint64_t tacl__credit_inflight(const tacl__credit_t *cr, int dst)
{
    return cr->inflight[dst];
}

int tacl__credit_relay_hold(tacl__credit_t *cr, int src, int dst, size_t len)
{
    uint64_t t = atomic_load_explicit(&cr->total, memory_order_relaxed);
    if (cr->cap && t + len > cr->cap) return 0;
    atomic_store_explicit(&cr->total, t + len, memory_order_relaxed);
    if (t + len > atomic_load_explicit(&cr->total_peak, memory_order_relaxed))
        atomic_store_explicit(&cr->total_peak, t + len, memory_order_relaxed);
    eng_flow_t *fl = atomic_load_explicit(&cr->flow, memory_order_relaxed);
    if (!fl) { /* out of memory: the totals still bound the relay, only per-flow stats are 0 */
        fl = calloc((size_t)cr->size * (size_t)cr->size, sizeof *fl);
        atomic_store_explicit(&cr->flow, fl, memory_order_release);
        if (!fl) return 1;
    }
    eng_flow_t *f = &fl[(size_t)src * (size_t)cr->size + (size_t)dst];
    uint64_t h = atomic_load_explicit(&f->held, memory_order_relaxed) + len;
    atomic_store_explicit(&f->held, h, memory_order_relaxed);
    if (h > atomic_load_explicit(&f->peak, memory_order_relaxed))
        atomic_store_explicit(&f->peak, h, memory_order_relaxed);
    return 1;
}

void tacl__credit_relay_release(tacl__credit_t *cr, int src, int dst, size_t len)
{
    eng_flow_t *fl = atomic_load_explicit(&cr->flow, memory_order_relaxed);
    if (fl) {
        eng_flow_t *f = &fl[(size_t)src * (size_t)cr->size + (size_t)dst];
        uint64_t h = atomic_load_explicit(&f->held, memory_order_relaxed);
        atomic_store_explicit(&f->held, h > len ? h - len : 0, memory_order_relaxed);
    }
    uint64_t t = atomic_load_explicit(&cr->total, memory_order_relaxed);
    atomic_store_explicit(&cr->total, t > len ? t - len : 0, memory_order_relaxed);
}

uint64_t tacl__credit_relay_dropped(tacl__credit_t *cr)
{
    return ++cr->dropped;
}

uint64_t tacl__credit_relay_total(const tacl__credit_t *cr)
{
    return atomic_load_explicit(&cr->total, memory_order_relaxed);
}

size_t tacl__credit_relay_cap(const tacl__credit_t *cr)
{
    return cr->cap;
}

void tacl__credit_relay_stats(const tacl__credit_t *cr, int src, int dst, uint64_t *cur,
                              uint64_t *peak)
{
    if (src < 0) {
        *cur = atomic_load_explicit(&cr->total, memory_order_relaxed);
        *peak = atomic_load_explicit(&cr->total_peak, memory_order_relaxed);
        return;
    }
    eng_flow_t *fl = atomic_load_explicit(&cr->flow, memory_order_acquire);
    *cur = *peak = 0;
    if (!fl) return;
    eng_flow_t *f = &fl[(size_t)src * (size_t)cr->size + (size_t)dst];
    *cur = atomic_load_explicit(&f->held, memory_order_relaxed);
    *peak = atomic_load_explicit(&f->peak, memory_order_relaxed);
}
