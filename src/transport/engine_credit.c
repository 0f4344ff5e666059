/* engine_credit.c — the counters behind the flow control of routed traffic (engine_credit.h):
 * per destination, the bytes this rank has in flight on routed flows; per (src, dst), the bytes
 * this rank holds as a relay and the most it ever held. The engine decides what to do with the
 * answers (queue at the sender, drop at a relay); this file only counts. Counters a test may read
 * from another thread are atomics; everything else belongs to the progress thread. */
#include "transport/engine_credit.h"

#include <stdatomic.h>
#include <stdlib.h>

struct eng_credit {
    int size;
    size_t window, cap;
    uint64_t *inflight;          /* size: per destination */
    _Atomic uint64_t *held;      /* size*size: per (src, dst) flow held as a relay */
    _Atomic uint64_t *held_peak; /* size*size */
    _Atomic uint64_t total, total_peak;
    uint64_t dropped;
};

eng_credit_t *eng_credit_new(int size, size_t window, size_t cap)
{
    eng_credit_t *cr = calloc(1, sizeof *cr);
    if (!cr) return NULL;
    size_t nn = (size_t)size * (size_t)size;
    cr->size = size;
    cr->window = window;
    cr->cap = cap;
    cr->inflight = calloc((size_t)size, sizeof *cr->inflight);
    cr->held = calloc(nn, sizeof *cr->held);
    cr->held_peak = calloc(nn, sizeof *cr->held_peak);
    if (!cr->inflight || !cr->held || !cr->held_peak) {
        eng_credit_free(cr);
        return NULL;
    }
    return cr;
}

void eng_credit_free(eng_credit_t *cr)
{
    if (!cr) return;
    free(cr->inflight);
    free((void *)cr->held);
    free((void *)cr->held_peak);
    free(cr);
}

size_t eng_credit_window(const eng_credit_t *cr)
{
    return cr->window;
}

int eng_credit_take(eng_credit_t *cr, int dst, size_t len)
{
    uint64_t *f = &cr->inflight[dst];
    /* Always one fragment when nothing is in flight, whatever the window: no flow can stall. */
    if (len && cr->window && *f && *f + len > cr->window) return 0;
    *f += len;
    return 1;
}

void eng_credit_give(eng_credit_t *cr, int dst, size_t len)
{
    uint64_t *f = &cr->inflight[dst];
    *f = *f > len ? *f - len : 0; /* a peer's excess credit cannot widen the window */
}

uint64_t eng_credit_inflight(const eng_credit_t *cr, int dst)
{
    return cr->inflight[dst];
}

int eng_credit_relay_hold(eng_credit_t *cr, int src, int dst, size_t len)
{
    uint64_t t = atomic_load_explicit(&cr->total, memory_order_relaxed);
    if (cr->cap && t + len > cr->cap) return 0;
    atomic_store_explicit(&cr->total, t + len, memory_order_relaxed);
    if (t + len > atomic_load_explicit(&cr->total_peak, memory_order_relaxed))
        atomic_store_explicit(&cr->total_peak, t + len, memory_order_relaxed);
    size_t i = (size_t)src * (size_t)cr->size + (size_t)dst;
    uint64_t h = atomic_load_explicit(&cr->held[i], memory_order_relaxed) + len;
    atomic_store_explicit(&cr->held[i], h, memory_order_relaxed);
    if (h > atomic_load_explicit(&cr->held_peak[i], memory_order_relaxed))
        atomic_store_explicit(&cr->held_peak[i], h, memory_order_relaxed);
    return 1;
}

void eng_credit_relay_release(eng_credit_t *cr, int src, int dst, size_t len)
{
    size_t i = (size_t)src * (size_t)cr->size + (size_t)dst;
    uint64_t h = atomic_load_explicit(&cr->held[i], memory_order_relaxed);
    atomic_store_explicit(&cr->held[i], h > len ? h - len : 0, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&cr->total, memory_order_relaxed);
    atomic_store_explicit(&cr->total, t > len ? t - len : 0, memory_order_relaxed);
}

uint64_t eng_credit_relay_dropped(eng_credit_t *cr)
{
    return ++cr->dropped;
}

uint64_t eng_credit_relay_total(const eng_credit_t *cr)
{
    return atomic_load_explicit(&cr->total, memory_order_relaxed);
}

size_t eng_credit_relay_cap(const eng_credit_t *cr)
{
    return cr->cap;
}

void eng_credit_relay_stats(const eng_credit_t *cr, int src, int dst, uint64_t *cur, uint64_t *peak)
{
    if (src < 0) {
        *cur = atomic_load_explicit(&cr->total, memory_order_relaxed);
        *peak = atomic_load_explicit(&cr->total_peak, memory_order_relaxed);
        return;
    }
    size_t i = (size_t)src * (size_t)cr->size + (size_t)dst;
    *cur = atomic_load_explicit(&cr->held[i], memory_order_relaxed);
    *peak = atomic_load_explicit(&cr->held_peak[i], memory_order_relaxed);
}
