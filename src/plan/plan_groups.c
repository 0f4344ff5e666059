/* plan_groups.c — groups of GPUs: their hosts and links, and their collectives' times. */
#include "plan/plan_int.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---- Groups and links. ---- */

double tacl__plan_gpu_pair_gbs(const tacl__cluster_host_t *h, int d0, int d1)
{
    if (h->gpu_bw && d0 < h->ngpus && d1 < h->ngpus) return h->gpu_bw[d0 * h->ngpus + d1];
    return h->gpu_link_gbs;
}

/* Pairs among a set of hosts: the slowest link, the worst latency, whether a pair must be
 * routed (allow_routing) or is missing. Small sets check every pair; large ones (EP groups or
 * control planes over hundreds of hosts) use the structure of the description instead: under
 * a default link only the listed links and unreachable pairs can differ from it, so the cost is
 * O(k + links + unreachable pairs) rather than O(k^2). */
static void plan_hostset(const tacl__plan_t *p, const int *hosts, int k, tacl__plan_group_t *g)
{
    const tacl_cluster_t *c = p->cluster;
    double bw, lat;
    int path[64];
    if (k <= 1) return;
    if (k > 2 && !c->has_default && p->scratch->adjbits && p->scratch->links_uniform) {
        /* Dense explicit links, all alike: a word-parallel test of each host's neighbours
         * against the set (O(k n / 64)); the figures are the common ones. */
        const uint64_t *adj = p->scratch->adjbits;
        int words = (c->nhosts + 63) / 64;
        uint64_t *set = p->scratch->setbits;
        memset(set, 0, sizeof(uint64_t) * (size_t)words);
        for (int i = 0; i < k; i++)
            set[hosts[i] / 64] |= 1ull << (hosts[i] % 64);
        g->inter_gbs = c->links[0].gbs, g->lat_us = c->links[0].lat_us;
        g->ba = hosts[0], g->bb = hosts[1];
        for (int i = 0; i < k; i++) {
            const uint64_t *row = adj + (size_t)hosts[i] * (size_t)words;
            int in = 0;
            for (int w = 0; w < words; w++)
                in += __builtin_popcountll(row[w] & set[w]);
            if (in >= k - 1) continue;
            for (int j = 0; j < k; j++) {
                int v = hosts[j];
                if (v == hosts[i] || (row[v / 64] >> (v % 64) & 1)) continue;
                if (p->w.allow_routing &&
                    tacl__cluster_route(c, hosts[i], v, path, 64, &bw, &lat) > 0) {
                    g->routed = 1;
                    if (bw < g->inter_gbs) g->inter_gbs = bw, g->ba = hosts[i], g->bb = v;
                    if (lat > g->lat_us) g->lat_us = lat;
                } else {
                    g->ma = hosts[i] < v ? hosts[i] : v, g->mb = hosts[i] < v ? v : hosts[i];
                    g->missing = 1;
                    return;
                }
            }
        }
        return;
    }
    if (k > 32 && !c->has_default) {
        /* Explicit links only: walk the set's adjacency (O(sum of degrees), not O(k^2)); a
         * host with fewer than k-1 neighbours in the set names a missing pair. */
        int stamp = ++p->scratch->epoch, *mk = p->scratch->mark;
        for (int i = 0; i < k; i++)
            mk[hosts[i]] = stamp;
        for (int i = 0; i < k; i++) {
            int u = hosts[i], in = 0;
            for (int e = c->adj_off[u]; e < c->adj_off[u + 1]; e++) {
                const tacl__cluster_link_t *l = &c->links[c->adj[e]];
                int v = l->a == u ? l->b : l->a;
                if (mk[v] != stamp) continue;
                in++;
                if (v < u) continue; /* each pair once */
                if (l->gbs < g->inter_gbs) g->inter_gbs = l->gbs, g->ba = l->a, g->bb = l->b;
                if (l->lat_us > g->lat_us) g->lat_us = l->lat_us;
            }
            if (in >= k - 1) continue;
            /* u misses a partner: find the first, then route it or report it. */
            int stamp2 = ++p->scratch->epoch2, *m2 = p->scratch->mark2;
            for (int e = c->adj_off[u]; e < c->adj_off[u + 1]; e++) {
                const tacl__cluster_link_t *l = &c->links[c->adj[e]];
                m2[l->a == u ? l->b : l->a] = stamp2;
            }
            for (int j = 0; j < k; j++) {
                int v = hosts[j];
                if (v == u || m2[v] == stamp2 || v < u) continue;
                if (p->w.allow_routing && tacl__cluster_route(c, u, v, path, 64, &bw, &lat) > 0) {
                    g->routed = 1;
                    if (bw < g->inter_gbs) g->inter_gbs = bw, g->ba = u, g->bb = v;
                    if (lat > g->lat_us) g->lat_us = lat;
                } else {
                    if (!g->missing) g->ma = u, g->mb = v;
                    g->missing = 1;
                    return;
                }
            }
        }
        return;
    }
    if (k <= 32 || !c->has_default) {
        for (int a = 0; a < k; a++)
            for (int b = a + 1; b < k; b++) {
                if (tacl__cluster_link(c, hosts[a], hosts[b], &bw, &lat)) {
                } else if (p->w.allow_routing &&
                           tacl__cluster_route(c, hosts[a], hosts[b], path, 64, &bw, &lat) > 0) {
                    g->routed = 1;
                    bw *= 0.999999; /* name the routed pair when it ties with a direct link */
                } else {
                    if (!g->missing) g->ma = hosts[a], g->mb = hosts[b];
                    g->missing = 1;
                    continue;
                }
                if (bw < g->inter_gbs) g->inter_gbs = bw, g->ba = hosts[a], g->bb = hosts[b];
                if (lat > g->lat_us) g->lat_us = lat;
            }
        return;
    }
    int stamp = ++p->scratch->epoch;
    for (int i = 0; i < k; i++)
        p->scratch->mark[hosts[i]] = stamp;
    int *mk = p->scratch->mark;
    g->inter_gbs = c->default_gbs, g->lat_us = c->default_lat_us;
    g->ba = hosts[0], g->bb = hosts[1];
    for (int i = 0; i < c->nlinks; i++) {
        const tacl__cluster_link_t *l = &c->links[i];
        if (mk[l->a] != stamp || mk[l->b] != stamp) continue;
        if (l->gbs < g->inter_gbs) g->inter_gbs = l->gbs, g->ba = l->a, g->bb = l->b;
        if (l->lat_us > g->lat_us) g->lat_us = l->lat_us;
    }
    for (int i = 0; i < c->nunreach; i++) {
        int a = c->unreach[i][0], b = c->unreach[i][1];
        if (mk[a] != stamp || mk[b] != stamp) continue;
        if (p->w.allow_routing && tacl__cluster_route(c, a, b, path, 64, &bw, &lat) > 0) {
            g->routed = 1;
            if (bw < g->inter_gbs) g->inter_gbs = bw, g->ba = a, g->bb = b;
            if (lat > g->lat_us) g->lat_us = lat;
        } else {
            if (!g->missing) g->ma = a, g->mb = b;
            g->missing = 1;
        }
    }
}

/* Describes the group made of slots idx[0..n): hosts, links, and whether NCCL can connect
 * it (every pair of its hosts linked) or tacl must route. */
void tacl__plan_group(const tacl__plan_t *p, const int *idx, int n, tacl__plan_group_t *g)
{
    const tacl_cluster_t *c = p->cluster;
    int *hosts = p->scratch->hosts, *cnt = p->scratch->cnt, *pos = p->scratch->pos;
    int stamp = ++p->scratch->epoch, matrix = 0;
    memset(g, 0, sizeof *g);
    g->n = n;
    g->ma = g->mb = g->ba = g->bb = -1;
    g->intra_gbs = INFINITY;
    g->inter_gbs = INFINITY;
    for (int i = 0; i < n; i++) {
        int h = p->slot_host[idx[i]];
        if (p->scratch->mark[h] != stamp) {
            p->scratch->mark[h] = stamp;
            pos[h] = g->k;
            hosts[g->k] = h;
            cnt[g->k++] = 0;
        }
        cnt[pos[h]]++;
        matrix |= c->hosts[h].gpu_bw != NULL;
    }
    for (int j = 0; j < g->k; j++) {
        if (cnt[j] > g->gmax) g->gmax = cnt[j];
        if (cnt[j] > 1 && c->hosts[hosts[j]].gpu_link_gbs < g->intra_gbs)
            g->intra_gbs = c->hosts[hosts[j]].gpu_link_gbs;
    }
    if (matrix) { /* the slowest pair of the group's own GPUs */
        g->intra_gbs = INFINITY;
        for (int i = 0; i < n; i++)
            for (int i2 = i + 1; i2 < n; i2++) {
                int h = p->slot_host[idx[i]];
                if (p->slot_host[idx[i2]] != h) continue;
                double bw = tacl__plan_gpu_pair_gbs(&c->hosts[h], p->slot_dev[idx[i]],
                                                    p->slot_dev[idx[i2]]);
                if (bw < g->intra_gbs) g->intra_gbs = bw;
            }
    }
    if (!(g->intra_gbs > 0)) g->intra_gbs = 1; /* GPUs without a declared link: PCIe-ish */
    plan_hostset(p, hosts, g->k, g);
}

/* All-reduce of bytes over a group (us). Across hosts, NCCL's ring crosses each host link
 * once per direction, carrying 2(N-1)/N of the data, overlapped with the NVLink part; over a
 * routed (non-complete) host graph tacl's pipelined reduce+broadcast on a tree moves M per
 * link (docs/COST_MODEL.md). */
double tacl__plan_group_ar_us(const tacl__plan_t *p, const tacl__plan_group_t *g, double bytes)
{
    const tacl__costmodel_t *cm = &p->cm;
    if (g->n <= 1) return 0;
    double f = 2.0 * (g->n - 1) / g->n, t_in = 0, t_x = 0, a = cm->alpha_gpu_us;
    if (g->gmax > 1) t_in = f * bytes / (g->intra_gbs * cm->eta_bus * 1e3);
    if (g->k > 1) {
        t_x = (g->routed ? 1.0 : f) * bytes / (g->inter_gbs * cm->eta_bus * 1e3);
        a += cm->alpha_net_us + 2.0 * (g->k - 1) * g->lat_us;
    }
    return a + (t_in > t_x ? t_in : t_x);
}

/* All-to-all where every rank sends bytes spread over the others (us). */
double tacl__plan_group_a2a_us(const tacl__plan_t *p, const tacl__plan_group_t *g, double bytes)
{
    const tacl__costmodel_t *cm = &p->cm;
    if (g->n <= 1) return 0;
    double in = bytes * (g->gmax - 1) / g->n / (g->intra_gbs * cm->eta_bus * 1e3), x = 0;
    double a = cm->alpha_gpu_us;
    if (g->k > 1) {
        /* a host sends gmax*bytes*(n-gmax)/n over its k-1 links */
        x = g->gmax * bytes * (g->n - g->gmax) / g->n /
            ((g->k - 1) * g->inter_gbs * cm->eta_bus * 1e3);
        a += cm->alpha_net_us + g->lat_us;
    }
    return a + (in > x ? in : x);
}

/* ---- One collective (`tacl plan --predict`, and per layout in -J). ---- */

tacl_status_t tacl__plan_predict(const tacl__plan_t *p, tacl__pred_coll_t k, double bytes,
                                 const int *slots, int n, const tacl__calib_t *cal,
                                 tacl__pred_t *out)
{
    if (k < 0 || k >= TACL_PRED_NCOLL || n < 1 || !(bytes >= 0) ||
        (k == TACL_PRED_SENDRECV && n != 2))
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_PLAN,
                         "predict: expected a collective, bytes >= 0 and at least one GPU (two "
                         "for sendrecv), found %d GPUs",
                         n);
    for (int i = 0; i < n; i++)
        if (slots[i] < 0 || slots[i] >= p->nslots)
            return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_PLAN,
                             "predict: GPU slot %d: expected 0..%d", slots[i], p->nslots - 1);
    const tacl__costmodel_t *cm = &p->cm;
    tacl__plan_group_t g;
    tacl__plan_group(p, slots, n, &g);
    if (g.missing)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_PLAN,
                         "predict: the group needs %s↔%s, which are not linked",
                         p->cluster->hosts[g.ma].name, p->cluster->hosts[g.mb].name);
    tacl__pred_t r;
    memset(&r, 0, sizeof r);
    r.hosts = g.k;
    double f = tacl__pred_busfactor(k, n), t_in = 0, t_x = 0, a_x = 0;
    double eta = cm->eta_bus * 1e3; /* GB/s -> bytes/us */
    r.bw_gbs = g.k > 1 ? g.inter_gbs : g.intra_gbs;
    if (k == TACL_PRED_ALL_TO_ALL) {
        if (g.gmax > 1) t_in = bytes * (g.gmax - 1) / n / (g.intra_gbs * eta);
        if (g.k > 1) t_x = g.gmax * bytes * (n - g.gmax) / n / ((g.k - 1) * g.inter_gbs * eta);
    } else {
        if (g.gmax > 1) t_in = f * bytes / (g.intra_gbs * eta);
        if (g.k > 1) t_x = (g.routed ? 1.0 : f) * bytes / (g.inter_gbs * eta);
    }
    if (g.k > 1)
        a_x = cm->alpha_net_us +
              (k == TACL_PRED_ALL_TO_ALL || k == TACL_PRED_SENDRECV ? 1.0 : 2.0 * (g.k - 1)) *
                  g.lat_us;
    if (n == 1) t_in = t_x = 0;
    r.beta_us = t_in > t_x ? t_in : t_x;
    double a_graph = k == TACL_PRED_SENDRECV ? cm->alpha_p2p_us : cm->alpha_gpu_us;
    double a_eager = k == TACL_PRED_SENDRECV ? cm->alpha_p2p_us : cm->alpha_eager_us;
    r.alpha_graph_us = n > 1 ? a_graph + a_x : 0;
    r.alpha_eager_us = n > 1 ? a_eager + a_x : 0;
    r.graph_us = r.alpha_graph_us + r.beta_us;
    r.eager_us = r.alpha_eager_us + r.beta_us;
    /* A fit measured on this collective and group size answers directly. */
    for (int graph = 0; graph < 2 && n > 1; graph++) {
        const tacl__calib_fit_t *x = g.k == 1 ? tacl__calib_find(cal, k, "gpu", graph, n) : NULL;
        if (!x) continue;
        double t = tacl__calib_time(x, k, bytes);
        if (graph)
            r.graph_us = t, r.alpha_graph_us = x->alpha_us, r.fit_graph = x;
        else
            r.eager_us = t, r.alpha_eager_us = x->alpha_us, r.fit_eager = x;
    }
    *out = r;
    return TACL_OK;
}
