/* cluster_routes.c — widest-path routes over a cluster's links, components, the store pick. */
#include "topo/cluster.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Binary max-heap of hosts keyed by (bandwidth desc, hops asc), with lazy deletion. */
typedef struct {
    double bw;
    int hops, v;
} cluster_hent_t;

static int cluster_hbetter(const cluster_hent_t *x, const cluster_hent_t *y)
{
    return x->bw > y->bw || (x->bw == y->bw && x->hops < y->hops);
}

static void cluster_hpush(cluster_hent_t *h, int *n, cluster_hent_t e)
{
    int i = (*n)++;
    h[i] = e;
    while (i > 0 && cluster_hbetter(&h[i], &h[(i - 1) / 2])) {
        cluster_hent_t t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static cluster_hent_t cluster_hpop(cluster_hent_t *h, int *n)
{
    cluster_hent_t top = h[0];
    h[0] = h[--(*n)];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, b = i;
        if (l < *n && cluster_hbetter(&h[l], &h[b])) b = l;
        if (r < *n && cluster_hbetter(&h[r], &h[b])) b = r;
        if (b == i) break;
        cluster_hent_t t = h[i];
        h[i] = h[b];
        h[b] = t;
        i = b;
    }
    return top;
}

int tacl__cluster_route(const tacl_cluster_t *c, int a, int b, int *path, int maxpath, double *gbs,
                        double *lat_us)
{
    int n = c->nhosts;
    if (a < 0 || b < 0 || a >= n || b >= n) return 0;
    double w, l;
    if (a == b || tacl__cluster_link(c, a, b, &w, &l)) {
        if (a == b) w = INFINITY, l = 0;
        if (maxpath >= 1) path[0] = a;
        if (maxpath >= 2 && a != b) path[1] = b;
        *gbs = w;
        *lat_us = l;
        return a == b ? 1 : 2;
    }
    if (c->has_default) {
        /* Every pair but the listed ones is linked: a relay linked to both ends almost always
         * exists, and the widest such two-hop path is found in O(n). */
        int relay = -1;
        double rbw = -1, rlat = 0, w2, l2;
        for (int v = 0; v < n; v++) {
            if (v == a || v == b || !tacl__cluster_link(c, a, v, &w, &l) ||
                !tacl__cluster_link(c, v, b, &w2, &l2))
                continue;
            double bw = w < w2 ? w : w2;
            if (bw > rbw || (bw == rbw && l + l2 < rlat)) relay = v, rbw = bw, rlat = l + l2;
        }
        if (relay >= 0) {
            int hp[3] = {a, relay, b};
            for (int i = 0; i < 3 && i < maxpath; i++)
                path[i] = hp[i];
            *gbs = rbw;
            *lat_us = rlat;
            return 3;
        }
    }
    /* Dijkstra on (bottleneck bandwidth desc, hops asc) with a heap; neighbours from the
     * adjacency of explicit links, or every host under a default link. */
    double *best = malloc(sizeof(double) * (size_t)n);
    double *lat = malloc(sizeof(double) * (size_t)n);
    int *hops = malloc(sizeof(int) * (size_t)n), *prev = malloc(sizeof(int) * (size_t)n);
    char *done = calloc((size_t)n, 1);
    /* Under a default link this is reached only when no host is linked to both ends; the heap
     * is then bounded (32 entries per host) and a relaxation past it is dropped. */
    size_t hcap = (c->has_default ? (size_t)n * 32 : 2 * (size_t)c->nlinks) + 2;
    cluster_hent_t *heap = malloc(sizeof *heap * hcap);
    int found = 0, hn = 0;
    if (!best || !lat || !hops || !prev || !done || !heap || (!c->has_default && !c->finished))
        goto out;
    for (int i = 0; i < n; i++)
        best[i] = -1, hops[i] = 1 << 30, prev[i] = -1, lat[i] = 0;
    best[a] = INFINITY;
    hops[a] = 0;
    cluster_hpush(heap, &hn, (cluster_hent_t){INFINITY, 0, a});
    while (hn) {
        cluster_hent_t e = cluster_hpop(heap, &hn);
        int u = e.v;
        if (done[u] || e.bw != best[u] || e.hops != hops[u]) continue;
        if (u == b) break;
        done[u] = 1;
        int deg = c->has_default ? n : c->adj_off[u + 1] - c->adj_off[u];
        for (int k = 0; k < deg; k++) {
            int v;
            if (c->has_default) {
                v = k;
                if (done[v] || v == u || !tacl__cluster_link(c, u, v, &w, &l)) continue;
            } else {
                const tacl__cluster_link_t *lk = &c->links[c->adj[c->adj_off[u] + k]];
                v = lk->a == u ? lk->b : lk->a;
                w = lk->gbs, l = lk->lat_us;
                if (done[v]) continue;
            }
            double bw = w < best[u] ? w : best[u];
            if (bw > best[v] || (bw == best[v] && hops[u] + 1 < hops[v])) {
                best[v] = bw;
                hops[v] = hops[u] + 1;
                prev[v] = u;
                lat[v] = lat[u] + l;
                if ((size_t)hn < hcap) cluster_hpush(heap, &hn, (cluster_hent_t){bw, hops[v], v});
            }
        }
    }
    if (best[b] >= 0) {
        int len = hops[b] + 1;
        for (int v = b, i = len - 1; v >= 0; v = prev[v], i--)
            if (i < maxpath) path[i] = v;
        *gbs = best[b];
        *lat_us = lat[b];
        found = len;
    }
out:
    free(best);
    free(lat);
    free(hops);
    free(prev);
    free(done);
    free(heap);
    return found;
}

int tacl__cluster_components(const tacl_cluster_t *c, int *comp)
{
    int n = c->nhosts, ncomp = 0;
    int *stack = malloc(sizeof(int) * (size_t)(n ? n : 1));
    /* Hosts not yet placed, as a list: under a default link a host's neighbours are all the
     * others but a few, so each step removes most of the list (O(n + unreachable pairs)). */
    int *nxt = malloc(sizeof(int) * (size_t)(n + 1)), *prv = malloc(sizeof(int) * (size_t)(n + 1));
    if (!stack || !nxt || !prv || (!c->has_default && !c->finished)) {
        free(stack);
        free(nxt);
        free(prv);
        return -1;
    }
    for (int i = 0; i < n; i++)
        comp[i] = -1;
    /* List head is n; nodes 0..n-1. */
    for (int i = 0; i <= n; i++)
        nxt[i] = i + 1 <= n ? i + 1 : n, prv[i] = i ? i - 1 : n;
    nxt[n] = n ? 0 : n, prv[0] = n, prv[n] = n ? n - 1 : n;
    if (n) nxt[n - 1] = n;
#define CL_UNLINK(v) (nxt[prv[v]] = nxt[v], prv[nxt[v]] = prv[v])
    for (int s = 0; s < n; s++) {
        if (comp[s] >= 0) continue;
        int top = 0;
        stack[top++] = s;
        comp[s] = ncomp;
        CL_UNLINK(s);
        while (top) {
            int u = stack[--top];
            double w, l;
            if (c->has_default) {
                for (int v = nxt[n]; v != n;) {
                    int after = nxt[v];
                    if (tacl__cluster_link(c, u, v, &w, &l)) {
                        comp[v] = ncomp;
                        stack[top++] = v;
                        CL_UNLINK(v);
                    }
                    v = after;
                }
            } else {
                for (int k = c->adj_off[u]; k < c->adj_off[u + 1]; k++) {
                    const tacl__cluster_link_t *lk = &c->links[c->adj[k]];
                    int v = lk->a == u ? lk->b : lk->a;
                    if (comp[v] >= 0) continue;
                    comp[v] = ncomp;
                    stack[top++] = v;
                    CL_UNLINK(v);
                }
            }
        }
        ncomp++;
    }
#undef CL_UNLINK
    free(stack);
    free(nxt);
    free(prv);
    return ncomp;
}

/* ---- Where the store goes. ---- */

/* A set of host indices: open addressing over 2k+ slots (-1 empty), so that a small set of a
 * large cluster costs O(k), not O(hosts). */
typedef struct {
    int *slot;
    uint32_t mask;
} cluster_set_t;

static int cluster_set_has(const cluster_set_t *t, int h)
{
    for (uint32_t i = ((uint32_t)h * 2654435761u) & t->mask; t->slot[i] >= 0; i = (i + 1) & t->mask)
        if (t->slot[i] == h) return 1;
    return 0;
}

/* Adds h; returns 1 when it was new. */
static int cluster_set_add(cluster_set_t *t, int h)
{
    uint32_t i = ((uint32_t)h * 2654435761u) & t->mask;
    for (; t->slot[i] >= 0; i = (i + 1) & t->mask)
        if (t->slot[i] == h) return 0;
    t->slot[i] = h;
    return 1;
}

/* 1 when host s is directly linked to every host of the set (k distinct hosts), and the slowest
 * of those links in *minbw. Under a default link only the listed links and unreachable pairs
 * can differ from it; otherwise s's adjacency must cover the set. */
static int cluster_store_ok(const tacl_cluster_t *c, const cluster_set_t *set, int k, int s,
                            double *minbw)
{
    int covered = cluster_set_has(set, s); /* s itself */
    double mb = INFINITY;
    if (c->has_default) {
        for (int i = 0; i < c->nunreach; i++) {
            int a = c->unreach[i][0], b = c->unreach[i][1];
            if ((a == s && cluster_set_has(set, b)) || (b == s && cluster_set_has(set, a)))
                return 0;
        }
        if (k - covered > 0) mb = c->default_gbs;
    }
    int n = 0;
    for (int j = c->adj_off[s]; j < c->adj_off[s + 1]; j++) {
        const tacl__cluster_link_t *l = &c->links[c->adj[j]];
        if (!cluster_set_has(set, l->a == s ? l->b : l->a)) continue;
        n++;
        if (l->gbs < mb) mb = l->gbs; /* a listed link replaces the default for its pair */
    }
    if (!c->has_default && n + covered < k) return 0;
    *minbw = mb;
    return 1;
}

int tacl__cluster_store_pick(const tacl_cluster_t *c, const int *hosts, int k, int prefer)
{
    int n = c->nhosts;
    if (!c->finished || n == 0) return -1;
    if (!hosts) k = n;
    uint32_t cap = 4;
    while (cap < 2u * (uint32_t)k + 2)
        cap *= 2;
    cluster_set_t set = {malloc(sizeof(int) * cap), cap - 1};
    if (!set.slot) return -1;
    memset(set.slot, 0xff, sizeof(int) * cap);
    int kk = 0; /* distinct hosts of the set */
    for (int i = 0; i < k; i++) {
        int h = hosts ? hosts[i] : i;
        if (h >= 0 && h < n) kk += cluster_set_add(&set, h);
    }
    int pick = -1;
    double bw, best = -1;
    if (c->store_host >= 0 && cluster_store_ok(c, &set, kk, c->store_host, &bw))
        pick = c->store_host;
    else if (prefer >= 0 && prefer < n && cluster_set_has(&set, prefer) &&
             cluster_store_ok(c, &set, kk, prefer, &bw))
        pick = prefer;
    else
        for (int i = 0; i < k; i++) {
            int h = hosts ? hosts[i] : i;
            if (h < 0 || h >= n || !cluster_store_ok(c, &set, kk, h, &bw)) continue;
            if (bw > best) best = bw, pick = h;
        }
    free(set.slot);
    return pick;
}
