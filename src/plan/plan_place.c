/* plan_place.c — placement order (hosts, slots) and the cluster symmetry the search uses. */
#include "plan/plan_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- Placement order. ---- */

/* Orders hosts along a path of the link graph so that consecutive pipeline stages land on
 * linked hosts: the file's order when it already is such a path, else a greedy walk that
 * starts at a host of least degree and steps to the unvisited neighbour of least degree
 * (Warnsdorff's rule), jumping to the next unvisited host when stuck. */
static int plan_host_order(const tacl_cluster_t *c, int *order)
{
    int n = c->nhosts, ok = 1;
    double w, l;
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = 0; i + 1 < n && ok; i++)
        ok = tacl__cluster_link(c, i, i + 1, &w, &l);
    if (ok) return 0;
    char *used = calloc((size_t)n, 1);
    int *deg = calloc((size_t)n, sizeof *deg);
    if (!deg || !used) {
        free(deg);
        free(used);
        return 0; /* keep the file's order */
    }
    if (c->has_default) {
        /* Nearly every pair is linked: walk the file's order, stepping over a host that the
         * current one cannot reach to the next that it can (O(n + unreachable pairs)). */
        int k = 0, cur = -1, first = 0;
        while (k < n) {
            while (first < n && used[first])
                first++;
            int next = first;
            if (cur >= 0)
                for (int j = first; j < n; j++)
                    if (!used[j] && tacl__cluster_link(c, cur, j, &w, &l)) {
                        next = j;
                        break;
                    }
            used[next] = 1;
            order[k++] = cur = next;
        }
        free(deg);
        free(used);
        return 0;
    }
    /* Explicit links only: Warnsdorff's walk over the adjacency, O(n + links) per step
     * bounded by the degrees. */
    int *deg0 = malloc(sizeof(int) * (size_t)n); /* degrees before the walk */
    if (!deg0) {
        free(deg);
        free(used);
        return 0;
    }
    for (int i = 0; i < n; i++)
        deg0[i] = deg[i] = c->adj_off[i + 1] - c->adj_off[i];
    int cur = -1, scan = 0;
    for (int k = 0; k < n; k++) {
        int next = -1;
        if (cur >= 0)
            for (int e = c->adj_off[cur]; e < c->adj_off[cur + 1]; e++) {
                const tacl__cluster_link_t *lk = &c->links[c->adj[e]];
                int j = lk->a == cur ? lk->b : lk->a;
                if (!used[j] &&
                    (next < 0 || deg[j] < deg[next] || (deg[j] == deg[next] && j < next)))
                    next = j;
            }
        if (next < 0) {
            /* Stuck: the unvisited host of least degree (a chain's end); hosts linked to no
             * one come last, so that they do not shift every replica off host boundaries. */
            int lo = -1;
            for (int j = scan; j < n; j++)
                if (!used[j] && (lo < 0 || (deg0[lo] == 0 && deg0[j] > 0) ||
                                 ((deg0[j] > 0) == (deg0[lo] > 0) && deg[j] < deg[lo])))
                    lo = j;
            next = lo;
        }
        if (next < 0) break; /* cannot happen: k < n hosts remain */
        used[next] = 1;
        order[k] = next;
        while (scan < n && used[scan])
            scan++;
        for (int e = c->adj_off[next]; e < c->adj_off[next + 1]; e++) {
            const tacl__cluster_link_t *lk = &c->links[c->adj[e]];
            deg[lk->a == next ? lk->b : lk->a]--;
        }
        cur = next;
    }
    free(deg0);
    free(deg);
    free(used);
    return 0;
}

tacl_status_t tacl__plan_slots(tacl__plan_t *p)
{
    const tacl_cluster_t *c = p->cluster;
    int total = c->nranks ? c->nranks : tacl__cluster_total_gpus(c);
    p->slot_host = malloc(sizeof(int) * (size_t)(total ? total : 1));
    p->slot_dev = malloc(sizeof(int) * (size_t)(total ? total : 1));
    int *order = malloc(sizeof(int) * (size_t)c->nhosts);
    if (!p->slot_host || !p->slot_dev || !order) {
        free(order);
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_PLAN, "out of memory");
    }
    if (c->nranks) {
        for (int r = 0; r < c->nranks; r++) {
            p->slot_host[r] = c->ranks[r].host;
            p->slot_dev[r] = c->ranks[r].device;
        }
    } else {
        plan_host_order(c, order);
        int k = 0;
        for (int i = 0; i < c->nhosts; i++)
            for (int g = 0; g < c->hosts[order[i]].ngpus; g++) {
                p->slot_host[k] = order[i];
                p->slot_dev[k++] = g;
            }
    }
    free(order);
    p->nslots = total;
    return TACL_OK;
}

/* Finds whether the hosts are identical (same GPUs, same links inside) and marks the hosts
 * that a link or an unreachable pair names: the symmetry tacl__plan_eval exploits. */
tacl_status_t tacl__plan_symmetry(tacl__plan_t *p)
{
    const tacl_cluster_t *c = p->cluster;
    tacl__plan_scratch_t *sc = p->scratch;
    /* Dense explicit links (a full mesh written out): adjacency bitsets, so that a group over
     * hundreds of hosts is checked a word at a time (up to 8192 hosts: 8 MiB). */
    if (!c->has_default && c->nhosts > 32 && c->nhosts <= 8192 &&
        (double)c->nlinks > 4.0 * c->nhosts) {
        size_t words = ((size_t)c->nhosts + 63) / 64;
        sc->adjbits = calloc(words * (size_t)c->nhosts, sizeof(uint64_t));
        sc->setbits = calloc(words, sizeof(uint64_t));
        if (!sc->adjbits || !sc->setbits) {
            free(sc->adjbits);
            free(sc->setbits);
            sc->adjbits = sc->setbits = NULL; /* the adjacency walk still answers */
        } else {
            sc->links_uniform = 1;
            for (int i = 0; i < c->nlinks; i++) {
                const tacl__cluster_link_t *l = &c->links[i];
                sc->adjbits[(size_t)l->a * words + (size_t)l->b / 64] |= 1ull << (l->b % 64);
                sc->adjbits[(size_t)l->b * words + (size_t)l->a / 64] |= 1ull << (l->a % 64);
                sc->links_uniform &= l->gbs == c->links[0].gbs && l->lat_us == c->links[0].lat_us;
            }
        }
    }
    int uniform = c->has_default && !c->nranks && c->hosts[0].ngpus > 0;
    for (int h = 1; h < c->nhosts && uniform; h++) {
        const tacl__cluster_host_t *a = &c->hosts[0], *b = &c->hosts[h];
        uniform = a->ngpus == b->ngpus && !memcmp(&a->gpu, &b->gpu, sizeof a->gpu) &&
                  a->gpu_link_gbs == b->gpu_link_gbs && !a->gpu_bw && !b->gpu_bw;
    }
    if (!uniform) return TACL_OK;
    char *special = calloc((size_t)c->nhosts, 1);
    sc->special_prefix = calloc((size_t)p->nslots + 1, sizeof(int));
    sc->cache = calloc((size_t)c->hosts[0].ngpus, sizeof *sc->cache);
    sc->cache_ok = calloc((size_t)c->hosts[0].ngpus, 1);
    if (!special || !sc->special_prefix || !sc->cache || !sc->cache_ok) {
        free(special);
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_PLAN, "out of memory");
    }
    for (int i = 0; i < c->nlinks; i++)
        special[c->links[i].a] = special[c->links[i].b] = 1;
    for (int i = 0; i < c->nunreach; i++)
        special[c->unreach[i][0]] = special[c->unreach[i][1]] = 1;
    for (int s = 0; s < p->nslots; s++)
        sc->special_prefix[s + 1] = sc->special_prefix[s] + special[p->slot_host[s]];
    free(special);
    sc->uniform_gpus = c->hosts[0].ngpus;
    return TACL_OK;
}