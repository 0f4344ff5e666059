/* plan.c — the layout search and the cost model. Each layout (TP, PP, DP, EP) is placed on
 * the cluster's GPUs in one fixed order (hosts along a path of the link graph, GPUs in device
 * order; replica r, stage s, TP rank t at slot (r*PP + s)*TP + t, as vLLM numbers ranks), its
 * groups are checked for the pairs NCCL will connect, its layers are split over the stages and
 * its memory, KV capacity, TTFT, TPOT and throughput are estimated (docs/COST_MODEL.md).
 * Replicas whose inputs are identical share one evaluation, which is what keeps a 1024-host
 * cluster within a second: the search is exact (every layout, every replica checked), only the
 * arithmetic is shared. */
#include "plan/plan.h"
#include "clock.h"

#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void tacl__workload_default(tacl__workload_t *w)
{
    memset(w, 0, sizeof *w);
    w->prompt_len = 2048;
    w->output_len = 512;
    w->concurrency = 64;
    w->mem_util = 0.9;
    w->overhead_gb = 2;
}

void tacl__costmodel_default(tacl__costmodel_t *cm)
{
    cm->eta_hbm = 0.7;
    cm->eta_mm = 0.5;
    cm->eta_prefill = 0.6;
    cm->eta_bus = 0.78;
    cm->alpha_gpu_us = 8;
    cm->alpha_eager_us = 10;
    cm->alpha_net_us = 20;
    cm->alpha_p2p_us = 10;
    cm->layer_us = 25;
}

double tacl__plan_allreduce_us(const tacl__costmodel_t *cm, double bytes, int n, double bw_gbs,
                               double alpha_us)
{
    if (n <= 1) return 0;
    return alpha_us + 2.0 * (n - 1) / n * bytes / (bw_gbs * cm->eta_bus * 1e3);
}

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

static tacl_status_t plan_slots(tacl__plan_t *p)
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

/* ---- Groups and links. ---- */

typedef struct {
    int n, k;         /* ranks, distinct hosts */
    int gmax;         /* most ranks of the group on one host */
    double intra_gbs; /* slowest GPU-GPU link inside a host */
    double inter_gbs; /* slowest host link (direct, or the routed tree's) */
    double lat_us;    /* worst host-link latency */
    int routed;       /* a pair is reached through tacl's routing */
    int missing;      /* a pair has no link and routing is not allowed (or impossible) */
    int ma, mb;       /* the first missing pair */
    int ba, bb;       /* the slowest host link */
} plan_group_t;

static double plan_gpu_pair_gbs(const tacl__cluster_host_t *h, int d0, int d1)
{
    if (h->gpu_bw && d0 < h->ngpus && d1 < h->ngpus) return h->gpu_bw[d0 * h->ngpus + d1];
    return h->gpu_link_gbs;
}

/* Describes the group made of slots idx[0..n): hosts, links, and whether NCCL can connect
 * it (every pair of its hosts linked) or tacl must route. */
/* Pairs among a set of hosts: the slowest link, the worst latency, whether a pair must be
 * routed (allow_routing) or is missing. Small sets check every pair; large ones (EP groups or
 * control planes over hundreds of hosts) use the structure of the description instead: under
 * a default link only the listed links and unreachable pairs can differ from it, so the cost is
 * O(k + links + unreachable pairs) rather than O(k^2). */
static void plan_hostset(const tacl__plan_t *p, const int *hosts, int k, plan_group_t *g)
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
static void plan_group(const tacl__plan_t *p, const int *idx, int n, plan_group_t *g)
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
                double bw =
                    plan_gpu_pair_gbs(&c->hosts[h], p->slot_dev[idx[i]], p->slot_dev[idx[i2]]);
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
static double plan_group_ar_us(const tacl__plan_t *p, const plan_group_t *g, double bytes)
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
static double plan_group_a2a_us(const tacl__plan_t *p, const plan_group_t *g, double bytes)
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
    plan_group_t g;
    plan_group(p, slots, n, &g);
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

/* ---- One layout. ---- */

typedef struct {
    /* inputs of one replica, compared between replicas to share evaluations */
    double *cap, *hbm, *tflops;     /* per stage: usable bytes, GB/s, TFLOP/s (slowest GPU) */
    plan_group_t *tpg, *epg;        /* per stage */
    double *pp_gbs, *pp_lat, *pp_x; /* per boundary: bandwidth, latency, crosses hosts */
    int *pp_a, *pp_b;               /* per boundary: the slowest pair's hosts */
} plan_rep_t;

typedef struct {
    int tp, pp, dp, ep, L;
    double w_layer, k_layer; /* bytes per GPU per layer: weights, KV per token */
    double embed_b, head_b;  /* bytes per GPU on the first / last stage */
    double act_params_layer; /* active parameters per GPU per layer (per token) */
    double moe_frac_layers;  /* fraction of layers that are MoE */
    double expert_b_gpu;     /* bytes of all routed experts per GPU per MoE layer */
    double dense_read_b;     /* bytes per GPU per layer read whatever the routing */
    double experts_gpu;      /* routed experts held per GPU per MoE layer */
} plan_shape_t;

/* Layers per stage at KV budget T tokens: n_s = floor((cap - fixed) / (w + T k)). */
static int plan_fit_layers(const plan_shape_t *sh, const plan_rep_t *r, double T, int *n)
{
    long sum = 0;
    for (int s = 0; s < sh->pp; s++) {
        double fixed = (s == 0 ? sh->embed_b : 0) + (s == sh->pp - 1 ? sh->head_b : 0);
        double room = r->cap[s] - fixed;
        double per = sh->w_layer + T * sh->k_layer;
        long k = room > 0 ? (long)floor(room / per) : 0;
        if (k < 1) return 0;
        if (k > sh->L) k = sh->L;
        n[s] = (int)k;
        sum += k;
    }
    return sum >= sh->L;
}

/* KV tokens that a split leaves room for (negative: the split does not fit). */
static double plan_split_tokens(const plan_shape_t *sh, const plan_rep_t *r, const int *n,
                                double *worst_missing, double *max_w)
{
    double T = INFINITY;
    *worst_missing = 0;
    *max_w = 0;
    for (int s = 0; s < sh->pp; s++) {
        double fixed = (s == 0 ? sh->embed_b : 0) + (s == sh->pp - 1 ? sh->head_b : 0);
        double wts = fixed + n[s] * sh->w_layer;
        double room = r->cap[s] - wts;
        if (wts > *max_w) *max_w = wts;
        if (-room > *worst_missing) *worst_missing = -room;
        double t = room / (n[s] * sh->k_layer);
        if (t < T) T = t;
    }
    return T;
}

/* vLLM's default split (get_pp_indices): L/PP each, the remainder to the stages before the
 * last, from the second-to-last backwards. */
static void plan_default_split(int L, int pp, int *n)
{
    for (int s = 0; s < pp; s++)
        n[s] = L / pp;
    for (int i = 2; i < L % pp + 2; i++)
        n[pp - i]++;
}

typedef struct plan_res {
    int fits, custom;
    double kv_tokens, missing, wmax;
    double ttft_ms, tpot_ms, tok_s;
    long conc;
    char bneck[192];
    int ba, bb; /* hosts of the bottleneck link (-1: not a link) */
    int la, lb; /* the inter-host link costing the most time per token, bottleneck or not */
} plan_res_t;

static void plan_cost(const tacl__plan_t *p, const plan_shape_t *sh, const plan_rep_t *r, int *n,
                      plan_res_t *res)
{
    const tacl__model_t *m = &p->model;
    const tacl__costmodel_t *cm = &p->cm;
    const tacl_cluster_t *c = p->cluster;
    int pp = sh->pp;
    memset(res, 0, sizeof *res);
    res->ba = res->bb = res->la = res->lb = -1;

    /* Split: vLLM's default unless a KV-balanced split holds 5% more tokens. */
    int *opt = malloc(sizeof(int) * (size_t)pp);
    if (!opt) return;
    plan_default_split(sh->L, pp, n);
    double miss, wmax;
    double T = plan_split_tokens(sh, r, n, &miss, &wmax);
    if (pp > 1) {
        /* No stage holds more tokens than its whole memory's worth of one layer's KV: the
         * search starts there and stops at a quarter of a token. */
        double lo = 0, hi = 0;
        for (int s = 0; s < pp; s++)
            if (r->cap[s] / sh->k_layer > hi) hi = r->cap[s] / sh->k_layer;
        hi = hi > 0 && isfinite(hi) ? hi + 1 : 1e12;
        if (plan_fit_layers(sh, r, 0, opt)) {
            for (int it = 0; it < 60 && hi - lo > 0.25; it++) {
                double mid = 0.5 * (lo + hi);
                if (plan_fit_layers(sh, r, mid, opt))
                    lo = mid;
                else
                    hi = mid;
            }
            plan_fit_layers(sh, r, lo, opt);
            /* Trim the surplus from the stages holding the most layers. */
            int sum = 0;
            for (int s = 0; s < pp; s++)
                sum += opt[s];
            while (sum > sh->L) {
                int big = 0;
                for (int s = 1; s < pp; s++)
                    if (opt[s] > opt[big]) big = s;
                opt[big]--, sum--;
            }
            double miss2, wmax2;
            double T2 = plan_split_tokens(sh, r, opt, &miss2, &wmax2);
            if (T2 > (T > 0 ? T : 0) * 1.05 + 1) {
                memcpy(n, opt, sizeof(int) * (size_t)pp);
                T = T2, miss = miss2, wmax = wmax2;
                res->custom = 1;
            }
        }
    }
    free(opt);
    res->wmax = wmax / 1e9;
    long need = p->w.prompt_len + p->w.output_len;
    if (miss > 0 || T < need) {
        res->missing = miss > 0 ? miss / 1e9 : (need - T) * sh->k_layer * sh->L / pp / 1e9;
        res->kv_tokens = T > 0 ? T : 0;
        return;
    }
    res->fits = 1;
    res->kv_tokens = T;

    /* Requests per replica: the share of the concurrency, capped by the KV cache. */
    long want = (p->w.concurrency + sh->dp - 1) / sh->dp;
    if (sh->ep > 1) want = p->w.concurrency; /* one instance serves them all */
    long cap = (long)(T / need);
    if (sh->ep > 1) cap *= sh->dp; /* each DP rank has its own cache */
    res->conc = want < cap ? want : cap;
    if (res->conc < 1) res->conc = 1;
    double conc_rank = sh->ep > 1 ? (double)res->conc / sh->dp : (double)res->conc;
    double mb = conc_rank / pp > 1 ? conc_rank / pp : 1; /* micro-batch per stage */
    double ctx = p->w.prompt_len + p->w.output_len / 2.0;
    double h = (double)m->hidden, act_b = 2;

    /* Decode step of each stage for one micro-batch. */
    double t_sum = 0, t_max = 0, t_xfer = 0;
    double worst_comm = 0, worst_link = 0;
    for (int s = 0; s < pp; s++) {
        double moe_layers = n[s] * sh->moe_frac_layers;
        double frac = 1;
        if (m->experts > 0) {
            /* Distinct experts hit by the tokens that reach this GPU's experts. */
            double toks = sh->ep > 1 ? mb * sh->dp : mb;
            frac = 1 - pow(1 - (double)m->experts_per_tok / m->experts, toks);
        }
        double wread = n[s] * sh->dense_read_b + moe_layers * sh->expert_b_gpu * frac +
                       (s == pp - 1 ? sh->head_b : 0);
        double kvread = mb * ctx * n[s] * sh->k_layer;
        double t_mem = (wread + kvread) / (r->hbm[s] * cm->eta_hbm * 1e3); /* us */
        double flops = 2 * sh->act_params_layer * n[s] * mb;
        double t_cmp = flops / (r->tflops[s] * cm->eta_mm * 1e6);
        double t_ar = 2 * n[s] * plan_group_ar_us(p, &r->tpg[s], mb * h * act_b);
        double t_a2a = 0;
        if (sh->ep > 1)
            t_a2a = 2 * moe_layers *
                    plan_group_a2a_us(p, &r->epg[s], mb * m->experts_per_tok * h * act_b);
        double t = (t_mem > t_cmp ? t_mem : t_cmp) + t_ar + t_a2a + n[s] * cm->layer_us;
        t_sum += t;
        if (t > t_max) t_max = t;
        if (r->tpg[s].k > 1 && t_ar > worst_link)
            worst_link = t_ar, res->la = r->tpg[s].ba, res->lb = r->tpg[s].bb;
        if (sh->ep > 1 && r->epg[s].k > 1 && t_a2a > worst_link)
            worst_link = t_a2a, res->la = r->epg[s].ba, res->lb = r->epg[s].bb;
        if (t_ar > worst_comm) {
            worst_comm = t_ar;
            const plan_group_t *g = &r->tpg[s];
            if (g->k > 1)
                snprintf(res->bneck, sizeof res->bneck, "%s-%s %.4gGB/s%s (TP all-reduce)",
                         c->hosts[g->ba].name, c->hosts[g->bb].name, g->inter_gbs,
                         g->routed ? " routed" : ""),
                    res->ba = g->ba, res->bb = g->bb;
            else
                snprintf(res->bneck, sizeof res->bneck, "GPU links %.4gGB/s (TP all-reduce)",
                         g->intra_gbs),
                    res->ba = res->bb = -1;
        }
        if (t_a2a > worst_comm) {
            worst_comm = t_a2a;
            const plan_group_t *g = &r->epg[s];
            if (g->k > 1)
                snprintf(res->bneck, sizeof res->bneck, "%s-%s %.4gGB/s (EP all-to-all)",
                         c->hosts[g->ba].name, c->hosts[g->bb].name, g->inter_gbs),
                    res->ba = g->ba, res->bb = g->bb;
            else
                snprintf(res->bneck, sizeof res->bneck, "GPU links %.4gGB/s (EP all-to-all)",
                         g->intra_gbs),
                    res->ba = res->bb = -1;
        }
        if (s + 1 < pp) {
            double bytes = 2 * mb * h * act_b; /* hidden states and residual */
            double tx = cm->alpha_p2p_us + bytes / (r->pp_gbs[s] * cm->eta_bus * 1e3);
            if (r->pp_x[s] > 0) tx += cm->alpha_net_us + r->pp_lat[s];
            t_xfer += tx;
            if (r->pp_x[s] > 0 && tx > worst_link)
                worst_link = tx, res->la = r->pp_a[s], res->lb = r->pp_b[s];
            if (tx > worst_comm && r->pp_x[s] > 0) {
                worst_comm = tx;
                snprintf(res->bneck, sizeof res->bneck, "%s-%s %.4gGB/s (PP send)",
                         c->hosts[r->pp_a[s]].name, c->hosts[r->pp_b[s]].name, r->pp_gbs[s]);
                res->ba = r->pp_a[s], res->bb = r->pp_b[s];
            }
        }
    }
    double tpot = t_sum + t_xfer;
    if (pp * t_max > tpot) tpot = pp * t_max; /* stages busy with the other micro-batches */
    if (worst_comm < 0.05 * tpot || !res->bneck[0])
        snprintf(res->bneck, sizeof res->bneck, "HBM bandwidth (%.0f%% of a token in links)",
                 100 * worst_comm / tpot),
            res->ba = res->bb = -1;
    else {
        size_t l = strlen(res->bneck);
        snprintf(res->bneck + l, sizeof res->bneck - l, " %.0f%%", 100 * worst_comm / tpot);
    }
    res->tpot_ms = tpot / 1e3;
    res->tok_s = (double)res->conc / (tpot / 1e6); /* of this replica (EP: instance) */

    /* Prefill of one prompt, alone: compute bound, plus its all-reduces and sends. */
    double P = (double)p->w.prompt_len, ttft = 0;
    double heads_gpu = (double)m->heads / sh->tp;
    double hd = m->kv_lora_rank > 0 ? (double)(m->qk_nope_dim + m->qk_rope_dim) : m->head_dim;
    for (int s = 0; s < pp; s++) {
        double flops = 2 * sh->act_params_layer * n[s] * P + 2 * P * P * heads_gpu * hd * n[s];
        ttft += flops / (r->tflops[s] * cm->eta_prefill * 1e6);
        /* Prefill runs eagerly (vLLM captures decode batches only): eager start-up. */
        ttft += 2 * n[s] *
                (plan_group_ar_us(p, &r->tpg[s], P * h * act_b) +
                 (r->tpg[s].n > 1 ? cm->alpha_eager_us - cm->alpha_gpu_us : 0));
        if (sh->ep > 1)
            ttft += 2 * n[s] * sh->moe_frac_layers *
                    plan_group_a2a_us(p, &r->epg[s], P * m->experts_per_tok * h * act_b);
        if (s + 1 < pp)
            ttft += cm->alpha_p2p_us + (r->pp_x[s] > 0 ? cm->alpha_net_us + r->pp_lat[s] : 0) +
                    2 * P * h * act_b / (r->pp_gbs[s] * cm->eta_bus * 1e3);
    }
    res->ttft_ms = ttft / 1e3;
}

static void plan_addf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void plan_addf(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 4 >= len) return;
    if (n) n += (size_t)snprintf(buf + n, len - n, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
}

static void plan_group_names(const tacl__plan_t *p, const int *idx, int n, char *buf, size_t len)
{
    int last = -1;
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < n && k < len; i++) {
        int h = p->slot_host[idx[i]];
        if (h == last) continue;
        k += (size_t)snprintf(buf + k, len - k, "%s%s", last >= 0 ? "," : "",
                              p->cluster->hosts[h].name);
        last = h;
    }
    if (k < len) snprintf(buf + k, len - k, "]");
}

/* Fills the replica inputs for replica (instance) rep; says why it cannot run (unreachable
 * pairs) in why. */
static int plan_rep_inputs(const tacl__plan_t *p, const plan_shape_t *sh, int rep, plan_rep_t *r,
                           tacl__layout_t *l, int *idx, char *why, size_t whylen)
{
    const tacl_cluster_t *c = p->cluster;
    int tp = sh->tp, pp = sh->pp, ok = 1;
    int base = rep * pp * tp;
    double reserve = p->w.overhead_gb * 1e9;
    for (int s = 0; s < pp; s++) {
        r->cap[s] = INFINITY, r->hbm[s] = INFINITY, r->tflops[s] = INFINITY;
        for (int t = 0; t < tp; t++) {
            int slot = base + s * tp + t;
            const tacl__gpu_spec_t *g = &c->hosts[p->slot_host[slot]].gpu;
            double cap = g->mem_bytes * p->w.mem_util - reserve;
            if (cap < r->cap[s]) r->cap[s] = cap;
            if (g->hbm_gbs < r->hbm[s]) r->hbm[s] = g->hbm_gbs;
            if (g->tflops < r->tflops[s]) r->tflops[s] = g->tflops;
            idx[t] = slot;
        }
        plan_group(p, idx, tp, &r->tpg[s]);
        if (r->tpg[s].missing) {
            char names[256];
            plan_group_names(p, idx, tp, names, sizeof names);
            if (!strstr(why, "needs"))
                plan_addf(why, whylen, "TP group %s needs %s↔%s: unreachable%s", names,
                          c->hosts[r->tpg[s].ma].name, c->hosts[r->tpg[s].mb].name,
                          p->w.allow_routing ? " (no route)"
                                             : " (NCCL connects every pair; tacl could route it: "
                                               "--allow-routing)");
            ok = 0;
        }
        if (sh->ep > 1) {
            /* EP group of stage s: the same stage of every DP rank. */
            int n = 0;
            for (int d = 0; d < sh->dp; d++)
                for (int t = 0; t < tp; t++)
                    idx[n++] = (d * pp + s) * tp + t;
            plan_group(p, idx, n, &r->epg[s]);
            if (r->epg[s].missing) {
                if (!strstr(why, "EP group"))
                    plan_addf(why, whylen,
                              "EP group of stage %d needs %s↔%s: unreachable (all-to-all)", s,
                              c->hosts[r->epg[s].ma].name, c->hosts[r->epg[s].mb].name);
                ok = 0;
            }
        }
    }
    for (int s = 0; s + 1 < pp; s++) {
        r->pp_gbs[s] = INFINITY, r->pp_lat[s] = 0, r->pp_x[s] = 0;
        r->pp_a[s] = r->pp_b[s] = -1;
        int la = -1, lb = -1; /* the host pair looked up last: TP ranks mostly share it */
        for (int t = 0; t < tp; t++) {
            int a = p->slot_host[base + s * tp + t], b = p->slot_host[base + (s + 1) * tp + t];
            double bw, lat;
            int path[64];
            if (a != b && a == la && b == lb) continue; /* same pair, same figures */
            la = a, lb = b;
            if (a == b) {
                bw = plan_gpu_pair_gbs(&c->hosts[a], p->slot_dev[base + s * tp + t],
                                       p->slot_dev[base + (s + 1) * tp + t]);
                lat = 0;
                if (bw <= 0) bw = c->hosts[a].gpu.pcie_gbs;
            } else if (tacl__cluster_link(c, a, b, &bw, &lat)) {
                r->pp_x[s] = 1;
                bw /= tp; /* the TP ranks' sends share the host link */
            } else if (p->w.allow_routing && tacl__cluster_route(c, a, b, path, 64, &bw, &lat)) {
                r->pp_x[s] = 1;
                bw /= tp;
                l->routed = 1;
            } else {
                if (!strstr(why, "PP stages"))
                    plan_addf(why, whylen, "PP stages %d->%d need %s↔%s: unreachable", s, s + 1,
                              c->hosts[a].name, c->hosts[b].name);
                ok = 0;
                continue;
            }
            if (bw < r->pp_gbs[s]) {
                r->pp_gbs[s] = bw, r->pp_lat[s] = lat;
                r->pp_a[s] = a, r->pp_b[s] = b;
            }
        }
    }
    for (int s = 0; s < pp; s++) {
        if (r->tpg[s].routed) l->routed = 1;
        if (sh->ep > 1 && r->epg[s].routed) l->routed = 1;
    }
    return ok;
}

/* Compares the cost-relevant inputs of two replicas (host identities aside). */
static int plan_rep_same(const plan_shape_t *sh, const plan_rep_t *a, const plan_rep_t *b)
{
    int pp = sh->pp;
    if (memcmp(a->cap, b->cap, sizeof(double) * (size_t)pp) ||
        memcmp(a->hbm, b->hbm, sizeof(double) * (size_t)pp) ||
        memcmp(a->tflops, b->tflops, sizeof(double) * (size_t)pp))
        return 0;
    for (int s = 0; s < pp; s++) {
        const plan_group_t *x = &a->tpg[s], *y = &b->tpg[s];
        if (x->n != y->n || x->k != y->k || x->gmax != y->gmax || x->intra_gbs != y->intra_gbs ||
            x->inter_gbs != y->inter_gbs || x->lat_us != y->lat_us || x->routed != y->routed)
            return 0;
        if (s + 1 < pp && (a->pp_gbs[s] != b->pp_gbs[s] || a->pp_lat[s] != b->pp_lat[s] ||
                           a->pp_x[s] != b->pp_x[s]))
            return 0;
    }
    return 1;
}

static int plan_rep_alloc(plan_rep_t *r, int pp)
{
    size_t n = (size_t)pp;
    r->cap = calloc(n, sizeof(double));
    r->hbm = calloc(n, sizeof(double));
    r->tflops = calloc(n, sizeof(double));
    r->pp_gbs = calloc(n, sizeof(double));
    r->pp_lat = calloc(n, sizeof(double));
    r->pp_x = calloc(n, sizeof(double));
    r->pp_a = calloc(n, sizeof(int));
    r->pp_b = calloc(n, sizeof(int));
    r->tpg = calloc(n, sizeof(plan_group_t));
    r->epg = calloc(n, sizeof(plan_group_t));
    return r->cap && r->hbm && r->tflops && r->pp_gbs && r->pp_lat && r->pp_x && r->pp_a &&
           r->pp_b && r->tpg && r->epg;
}

static void plan_rep_free(plan_rep_t *r)
{
    free(r->cap);
    free(r->hbm);
    free(r->tflops);
    free(r->pp_gbs);
    free(r->pp_lat);
    free(r->pp_x);
    free(r->pp_a);
    free(r->pp_b);
    free(r->tpg);
    free(r->epg);
}

static void plan_shape(const tacl__plan_t *p, int tp, int pp, int dp, int ep, plan_shape_t *sh)
{
    const tacl__model_t *m = &p->model;
    double wb = p->w.weight_bytes > 0 ? p->w.weight_bytes : m->weight_bytes;
    double kb = p->w.kv_bytes > 0 ? p->w.kv_bytes : m->kv_bytes;
    memset(sh, 0, sizeof *sh);
    sh->tp = tp, sh->pp = pp, sh->dp = dp, sh->ep = ep, sh->L = (int)m->layers;
    double L = (double)m->layers;
    double attn = tacl__model_attn_params(m);
    double dense = 0, experts_all = 0, shared = 0, router = 0, nmoe = 0;
    for (int l = 0; l < m->layers; l++) {
        if (tacl__model_is_moe_layer(m, l)) {
            nmoe++;
            experts_all += tacl__model_expert_params(m) * (double)m->experts;
            shared += tacl__model_expert_params(m) * (double)m->shared_experts;
            router += (double)m->hidden * (double)m->experts;
        } else {
            dense += tacl__model_mlp_params(m, l);
        }
    }
    sh->moe_frac_layers = nmoe / L;
    /* Per layer, averaged over the model (DeepSeek's first dense layers spread evenly). */
    double per_tp = (attn + (dense + shared + router) / L) / tp; /* TP-sharded part */
    double expert_layer = nmoe > 0 ? experts_all / nmoe : 0;     /* per MoE layer */
    sh->experts_gpu = m->experts > 0 ? (ep > 1 ? (double)m->experts / ep : (double)m->experts) : 0;
    sh->expert_b_gpu = expert_layer * wb / (ep > 1 ? ep : tp);
    sh->dense_read_b = per_tp * wb;
    sh->w_layer = sh->dense_read_b + sh->expert_b_gpu * sh->moe_frac_layers;
    /* KV heads: split over TP, one per rank once TP exceeds them (replicated). MLA: whole. */
    double kv = tacl__model_kv_elems(m);
    if (m->kv_lora_rank == 0) {
        double heads = m->kv_heads >= tp ? (double)m->kv_heads / tp : 1;
        kv = 2 * heads * m->head_dim;
    }
    sh->k_layer = kv * kb;
    double embed = tacl__model_embed_params(m) * wb / tp;
    sh->embed_b = embed;
    sh->head_b = (m->tie_embed && pp == 1) ? 0 : embed;
    double act_expert =
        m->experts > 0 ? tacl__model_expert_params(m) * (double)m->experts_per_tok * nmoe / L : 0;
    sh->act_params_layer = (attn + (dense + shared) / L + act_expert) / tp;
}

/* Recently costed replica inputs and their results: replicas repeat with the GPU offset
 * within a host, so a few entries catch most repeats on any regular cluster. */
#define PLAN_MEMO 8
typedef struct {
    int n, next;
    plan_rep_t rep[PLAN_MEMO];
    plan_res_t res[PLAN_MEMO];
    int *layers[PLAN_MEMO];
} plan_memo_t;

/* Evaluates layout (tp, pp, ep) in l (tp, pp, dp, ep already set, reason may hold shape
 * rejections). Replicas that cannot run (an unreachable pair) or do not fit are dropped when
 * others can serve: the layout is then partial (l->reps lists the replicas kept). */
static void plan_eval(tacl__plan_t *p, tacl__layout_t *l)
{
    int tp = l->tp, pp = l->pp, dp = l->dp;
    plan_shape_t sh;
    plan_shape(p, tp, pp, dp, l->ep, &sh);
    l->layers = calloc((size_t)pp, sizeof(int));
    l->dp_full = dp;
    plan_rep_t cur;
    plan_memo_t memo;
    memset(&cur, 0, sizeof cur);
    memset(&memo, 0, sizeof memo);
    int reps = l->ep > 1 ? 1 : dp, alloc_ok = 1;
    int *idx = malloc(sizeof(int) * (size_t)(tp * (dp > 0 ? dp : 1) + 1));
    int *n = malloc(sizeof(int) * (size_t)pp);
    char *fits = calloc((size_t)reps + 1, 1);
    alloc_ok = l->layers && idx && n && fits && plan_rep_alloc(&cur, pp);
    for (int i = 0; i < PLAN_MEMO && alloc_ok; i++)
        alloc_ok = plan_rep_alloc(&memo.rep[i], pp) &&
                   (memo.layers[i] = malloc(sizeof(int) * (size_t)pp)) != NULL;
    if (!alloc_ok) {
        snprintf(l->reason, sizeof l->reason, "out of memory");
        l->state = TACL_LAYOUT_REJECTED;
        goto out;
    }
    if (p->scratch->uniform_gpus > 0)
        memset(p->scratch->cache_ok, 0, (size_t)p->scratch->uniform_gpus);
    plan_res_t res, worst, worst_nofit;
    memset(&res, 0, sizeof res);
    memset(&worst, 0, sizeof worst);
    memset(&worst_nofit, 0, sizeof worst_nofit);
    worst.fits = 1;
    double tok_s = 0, kv_min = INFINITY, conc_sum = 0;
    long conc_min = 0;
    int nkept = 0, nunreach = 0, nnofit = 0, first_bad = -1, have_layers = 0;
    char why[512] = "", first_why[512] = "";
    /* Symmetry: on a cluster of identical hosts under a default link, a replica that touches
     * no host named in a link or unreachable pair is equal to any other replica starting at
     * the same GPU offset within its host, so one evaluation per offset suffices. */
    const tacl__plan_scratch_t *sc = p->scratch;
    int size = tp * pp;
    /* Pass 0 finds the replicas that can serve; when only some can (partial), pass 1 costs
     * them again with the whole concurrency shared among them alone. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (!(nkept > 0 && nkept < reps && l->ep <= 1)) break;
            plan_shape(p, tp, pp, nkept, l->ep, &sh);
            memo.n = memo.next = 0;
            if (p->scratch->uniform_gpus > 0)
                memset(p->scratch->cache_ok, 0, (size_t)p->scratch->uniform_gpus);
            memset(&worst, 0, sizeof worst);
            worst.fits = 1;
            tok_s = 0, kv_min = INFINITY, conc_sum = 0, conc_min = 0, have_layers = 0;
        }
        for (int rep = 0; rep < reps; rep++) {
            int key = -1, ok_rep = 1;
            if (pass == 1 && !fits[rep]) continue;
            if (sc->uniform_gpus > 0 && l->ep <= 1 &&
                sc->special_prefix[rep * size + size] == sc->special_prefix[rep * size])
                key = (rep * size) % sc->uniform_gpus;
            if (l->reason[0]) {
                /* A shape rule rejects the layout whatever the replicas; still say whether a
                 * replica would also need an unreachable pair (a few replicas looked at). */
                why[0] = 0;
                if (rep < 64 && !plan_rep_inputs(p, &sh, rep, &cur, l, idx, why, sizeof why)) {
                    plan_addf(l->reason, sizeof l->reason, "%s", why);
                    break;
                }
                continue;
            }
            if (key >= 0 && sc->cache_ok[key]) {
                res = sc->cache[key];
                ok_rep = sc->cache_ok[key] == 1;
            } else {
                why[0] = 0;
                ok_rep = plan_rep_inputs(p, &sh, rep, &cur, l, idx, why, sizeof why);
                if (!ok_rep) {
                    memset(&res, 0, sizeof res);
                    if (first_bad < 0)
                        first_bad = rep, snprintf(first_why, sizeof first_why, "%s", why);
                } else {
                    int hit = -1;
                    for (int i = 0; i < memo.n && hit < 0; i++)
                        if (plan_rep_same(&sh, &cur, &memo.rep[i])) hit = i;
                    if (hit >= 0) {
                        res = memo.res[hit];
                        memcpy(n, memo.layers[hit], sizeof(int) * (size_t)pp);
                    } else {
                        plan_cost(p, &sh, &cur, n, &res);
                        p->evaluated++;
                        int slot = memo.next;
                        memo.next = (memo.next + 1) % PLAN_MEMO;
                        if (memo.n < PLAN_MEMO) memo.n++;
                        plan_rep_t t = memo.rep[slot];
                        memo.rep[slot] = cur;
                        cur = t;
                        memo.res[slot] = res;
                        memcpy(memo.layers[slot], n, sizeof(int) * (size_t)pp);
                    }
                }
                if (key >= 0) sc->cache[key] = res, sc->cache_ok[key] = ok_rep ? 1 : 2;
            }
            if (!ok_rep) {
                nunreach++;
                if (first_bad < 0) first_bad = rep;
                continue;
            }
            if (!res.fits) {
                nnofit++;
                if (first_bad < 0) first_bad = rep;
                if (nnofit == 1 || res.missing > worst_nofit.missing) worst_nofit = res;
                continue;
            }
            if (pass == 0) fits[rep] = 1, nkept++;
            if (!have_layers) memcpy(l->layers, n, sizeof(int) * (size_t)pp), have_layers = 1;
            tok_s += res.tok_s;
            conc_sum += (double)res.conc;
            if (res.kv_tokens < kv_min) kv_min = res.kv_tokens, conc_min = res.conc;
            if (worst.fits && res.tpot_ms >= worst.tpot_ms) {
                double keep = worst.tok_s;
                worst = res;
                worst.tok_s = keep;
            }
            if (res.ttft_ms > worst.ttft_ms) worst.ttft_ms = res.ttft_ms;
            if (res.custom) worst.custom = 1;
        }
    }
    if (l->reason[0]) {
        l->state = TACL_LAYOUT_REJECTED;
        goto out;
    }
    if (nkept == 0) {
        if (nunreach) {
            plan_addf(l->reason, sizeof l->reason, "%s", first_why);
            l->state = TACL_LAYOUT_REJECTED;
            goto out;
        }
        /* Nothing fits: report the replica missing the most. */
        l->state = TACL_LAYOUT_NOFIT;
        l->missing_gb = worst_nofit.missing;
        l->kv_tokens = worst_nofit.kv_tokens;
        l->weight_gb = worst_nofit.wmax;
        long need = p->w.prompt_len + p->w.output_len;
        if (worst_nofit.missing > 0)
            plan_addf(l->reason, sizeof l->reason,
                      "does not fit: the fullest GPU needs %.1f GB more (weights %.1f GB/GPU)",
                      worst_nofit.missing, worst_nofit.wmax);
        else
            plan_addf(l->reason, sizeof l->reason,
                      "KV cache holds %.0f tokens, one request needs %ld (%.1f GB/GPU missing)",
                      worst_nofit.kv_tokens, need, worst_nofit.missing);
        goto out;
    }
    if (nkept < reps) {
        /* Partial: the replicas that can serve, renumbered in placement order. */
        l->reps = malloc(sizeof(int) * (size_t)nkept);
        if (!l->reps) {
            snprintf(l->reason, sizeof l->reason, "out of memory");
            l->state = TACL_LAYOUT_REJECTED;
            goto out;
        }
        for (int r = 0, k = 0; r < reps; r++)
            if (fits[r]) l->reps[k++] = r;
        int fb = first_bad, h0 = p->slot_host[fb * size], h1 = p->slot_host[fb * size + size - 1];
        char hosts[160], drop[600];
        if (h0 == h1)
            snprintf(hosts, sizeof hosts, "%s", p->cluster->hosts[h0].name);
        else
            snprintf(hosts, sizeof hosts, "%s..%s", p->cluster->hosts[h0].name,
                     p->cluster->hosts[h1].name);
        if (first_why[0])
            snprintf(drop, sizeof drop, "%s", first_why);
        else
            snprintf(drop, sizeof drop, "does not fit (%.1f GB/GPU missing)", worst_nofit.missing);
        plan_addf(l->note, sizeof l->note,
                  "partial: %d of %d replicas serve (%d GPUs idle: %d do not fit, %d have "
                  "unreachable pairs); first dropped: replica on %s: %s",
                  nkept, reps, (reps - nkept) * size, nnofit, nunreach, hosts, drop);
        l->dp = nkept;
    }
    if (nkept < reps) l->gpus_used = nkept * size;
    l->weight_gb = worst.wmax;
    l->custom_split = worst.custom;
    l->state = TACL_LAYOUT_OK;
    l->kv_tokens = kv_min;
    l->conc_replica = conc_min;
    l->ttft_ms = worst.ttft_ms;
    l->tpot_ms = worst.tpot_ms;
    /* Each replica was costed at its share rounded up; only concurrency requests exist. */
    l->tok_s =
        conc_sum > (double)p->w.concurrency ? tok_s * (double)p->w.concurrency / conc_sum : tok_s;
    snprintf(l->bottleneck, sizeof l->bottleneck, "%s", worst.bneck);
    l->bneck_a = worst.ba, l->bneck_b = worst.bb;
    l->link_a = worst.la, l->link_b = worst.lb;
    l->meets = (p->w.ttft_ms <= 0 || l->ttft_ms <= p->w.ttft_ms) &&
               (p->w.tpot_ms <= 0 || l->tpot_ms <= p->w.tpot_ms) &&
               (p->w.rate <= 0 || l->tok_s >= p->w.rate * p->w.output_len);
    if (l->ep > 1 ? conc_min < p->w.concurrency : conc_min * (long)l->dp < p->w.concurrency)
        plan_addf(l->note, sizeof l->note,
                  "the KV cache holds %ld requests per %s, fewer than asked (%ld in all)", conc_min,
                  l->ep > 1 ? "instance" : "replica", p->w.concurrency);
out:
    if (l->state != TACL_LAYOUT_OK && l->state != TACL_LAYOUT_NOFIT)
        l->state = TACL_LAYOUT_REJECTED;
    free(idx);
    free(n);
    free(fits);
    plan_rep_free(&cur);
    for (int i = 0; i < PLAN_MEMO; i++) {
        plan_rep_free(&memo.rep[i]);
        free(memo.layers[i]);
    }
}

/* Ranking: usable layouts meeting the targets, then usable ones, by throughput, then TPOT;
 * then layouts that do not fit by missing memory; then rejected ones. */
static int plan_rank_cmp(const void *x, const void *y)
{
    const tacl__layout_t *a = x, *b = y;
    if (a->state != b->state) return a->state < b->state ? -1 : 1;
    if (a->state == TACL_LAYOUT_OK) {
        if (a->meets != b->meets) return a->meets ? -1 : 1;
        if (a->routed != b->routed) return a->routed ? 1 : -1;
        if (fabs(a->tok_s - b->tok_s) > 1e-3 * (a->tok_s + b->tok_s))
            return a->tok_s > b->tok_s ? -1 : 1;
        if (a->tpot_ms != b->tpot_ms) return a->tpot_ms < b->tpot_ms ? -1 : 1;
        if (a->kv_tokens != b->kv_tokens) return a->kv_tokens > b->kv_tokens ? -1 : 1;
    } else if (a->state == TACL_LAYOUT_NOFIT && a->missing_gb != b->missing_gb) {
        return a->missing_gb < b->missing_gb ? -1 : 1;
    }
    if (a->tp != b->tp) return a->tp < b->tp ? -1 : 1;
    if (a->pp != b->pp) return a->pp < b->pp ? -1 : 1;
    return (a->ep > b->ep) - (a->ep < b->ep);
}

int tacl__plan_store_host(const tacl__plan_t *p, const tacl__layout_t *l, int inst)
{
    int inst_size = l->ep > 1 ? l->dp * l->tp * l->pp : l->tp * l->pp;
    int *hosts = malloc(sizeof(int) * (size_t)inst_size), k = 0;
    if (!hosts) return -1;
    int stamp = ++p->scratch->epoch;
    for (int i = inst * inst_size; i < (inst + 1) * inst_size; i++) {
        int h = p->slot_host[tacl__layout_slot(l, i)];
        if (p->scratch->mark[h] != stamp) p->scratch->mark[h] = stamp, hosts[k++] = h;
    }
    int s = k > 1 ? tacl__cluster_store_pick(p->cluster, hosts, k, hosts[0]) : hosts[0];
    free(hosts);
    return s;
}

/* Control-plane checks for a usable layout: vLLM's Gloo groups and NCCL's bootstrap connect
 * every pair of an instance's hosts, and every host must reach the store. These do not carry
 * data, so a missing pair is a requirement (IP routing through a relay, or tacl's routed
 * control plane), not a rejection. The store goes on a host every host of the instance is
 * linked to (tacl__cluster_store_pick, as the doctor chooses it). */
static void plan_control_plane(const tacl__plan_t *p, tacl__layout_t *l)
{
    const tacl_cluster_t *c = p->cluster;
    if (c->has_default && c->nunreach == 0 && c->store_host < 0) return;
    int inst = l->ep > 1 ? l->dp * l->tp * l->pp : l->tp * l->pp;
    int ninst = l->ep > 1 ? 1 : l->dp, reported = 0;
    int *hosts = malloc(sizeof(int) * (size_t)inst);
    if (!hosts) return;
    for (int i = 0; i < ninst && reported < 3; i++) {
        int k = 0, stamp = ++p->scratch->epoch;
        for (int s = i * inst; s < (i + 1) * inst; s++) {
            int h = p->slot_host[tacl__layout_slot(l, s)];
            if (p->scratch->mark[h] != stamp) p->scratch->mark[h] = stamp, hosts[k++] = h;
        }
        if (k < 2) continue;
        /* Missing pairs: all pairs on small sets, the listed unreachable ones on large sets
         * under a default link, and through the adjacency otherwise. */
        int npairs = 0, pairs[4][2];
        if (c->has_default && k > 32) {
            for (int u = 0; u < c->nunreach && npairs < 4; u++)
                if (p->scratch->mark[c->unreach[u][0]] == stamp &&
                    p->scratch->mark[c->unreach[u][1]] == stamp)
                    pairs[npairs][0] = c->unreach[u][0], pairs[npairs++][1] = c->unreach[u][1];
        } else if (k > 32) {
            for (int a = 0; a < k && npairs < 4; a++) {
                int u = hosts[a], in = 0;
                for (int e = c->adj_off[u]; e < c->adj_off[u + 1]; e++) {
                    const tacl__cluster_link_t *lk = &c->links[c->adj[e]];
                    in += p->scratch->mark[lk->a == u ? lk->b : lk->a] == stamp;
                }
                if (in >= k - 1) continue;
                int st2 = ++p->scratch->epoch2;
                for (int e = c->adj_off[u]; e < c->adj_off[u + 1]; e++) {
                    const tacl__cluster_link_t *lk = &c->links[c->adj[e]];
                    p->scratch->mark2[lk->a == u ? lk->b : lk->a] = st2;
                }
                for (int b = a + 1; b < k && npairs < 4; b++)
                    if (p->scratch->mark2[hosts[b]] != st2)
                        pairs[npairs][0] = u, pairs[npairs++][1] = hosts[b];
            }
        } else {
            for (int a = 0; a < k && npairs < 4; a++)
                for (int b = a + 1; b < k && npairs < 4; b++) {
                    double bw, lat;
                    if (!tacl__cluster_link(c, hosts[a], hosts[b], &bw, &lat))
                        pairs[npairs][0] = hosts[a], pairs[npairs++][1] = hosts[b];
                }
        }
        for (int q = 0; q < npairs && reported < 3; q++) {
            double bw, lat;
            int path[64], ha = pairs[q][0], hb = pairs[q][1];
            int np = tacl__cluster_route(c, ha, hb, path, 64, &bw, &lat);
            if (np > 2)
                plan_addf(l->note, sizeof l->note,
                          "control plane: vLLM's Gloo group and NCCL bootstrap connect "
                          "%s↔%s, which have no link: forward IP through %s (or run the "
                          "control plane on tacl)",
                          c->hosts[ha].name, c->hosts[hb].name, c->hosts[path[1]].name);
            else
                plan_addf(l->note, sizeof l->note, "control plane: %s and %s are disconnected",
                          c->hosts[ha].name, c->hosts[hb].name);
            reported++;
        }
        int store = tacl__plan_store_host(p, l, i);
        if (store < 0) {
            plan_addf(l->note, sizeof l->note,
                      "store: no host of instance %d is linked to all the others; the store "
                      "stays on node 0 (%s), reached through forwarded IP",
                      i, c->hosts[hosts[0]].name);
            reported++;
        } else if (store != hosts[0]) {
            plan_addf(l->note, sizeof l->note,
                      "store: on %s, linked to every host of instance %d (node 0, %s, is "
                      "not); the vLLM lines start it there and point --master-addr at it",
                      c->hosts[store].name, i, c->hosts[hosts[0]].name);
            reported++;
        } else if (c->store_host >= 0 && c->store_host != store) {
            plan_addf(l->note, sizeof l->note,
                      "store: the declared store host %s is not linked to every host of "
                      "instance %d; using %s",
                      c->hosts[c->store_host].name, i, c->hosts[store].name);
            reported++;
        }
    }
    free(hosts);
}

/* Finds whether the hosts are identical (same GPUs, same links inside) and marks the hosts
 * that a link or an unreachable pair names: the symmetry plan_eval exploits. */
static tacl_status_t plan_symmetry(tacl__plan_t *p)
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

static int plan_gcd(int a, int b)
{
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* 1 when hosts a and b have the same GPUs (a class of the mixed search). */
static int plan_same_class(const tacl__cluster_host_t *a, const tacl__cluster_host_t *b)
{
    return a->ngpus == b->ngpus && !memcmp(&a->gpu, &b->gpu, sizeof a->gpu) &&
           a->gpu_link_gbs == b->gpu_link_gbs && !a->gpu_bw && !b->gpu_bw;
}

/* The hosts of class `cls` (host indices with class[h] == cls) as a cluster of their own: their
 * links, default link and unreachable pairs among them, their addresses. */
static tacl_status_t plan_subcluster(const tacl_cluster_t *c, const int *cls_of, int cls,
                                     tacl_cluster_t **out)
{
    tacl_cluster_t *s;
    int *map = malloc(sizeof(int) * (size_t)c->nhosts);
    tacl_status_t st = map ? tacl__cluster_create(&s)
                           : tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_PLAN, "out of memory");
    if (st != TACL_OK) {
        free(map);
        return st;
    }
    snprintf(s->source, sizeof s->source, "%s", c->source[0] ? c->source : c->name);
    s->has_default = c->has_default, s->default_gbs = c->default_gbs;
    s->default_lat_us = c->default_lat_us;
    for (int h = 0; h < c->nhosts && st == TACL_OK; h++) {
        map[h] = -1;
        if (cls_of[h] != cls) continue;
        const tacl__cluster_host_t *src = &c->hosts[h];
        st = tacl__cluster_add_host(s, src->name, src->ngpus, NULL, &map[h]);
        if (st != TACL_OK) break;
        tacl__cluster_host_t *d = &s->hosts[map[h]];
        d->gpu = src->gpu;
        memcpy(d->gpu_link, src->gpu_link, sizeof d->gpu_link);
        d->gpu_link_gbs = src->gpu_link_gbs;
        memcpy(d->ifname, src->ifname, sizeof d->ifname);
        for (int k = 0; k < src->naddrs && st == TACL_OK; k++)
            st = tacl__cluster_add_address(s, map[h], src->addrs[k], src->nets[k]);
        if (c->store_host == h) s->store_host = map[h];
    }
    for (int i = 0; i < c->nlinks && st == TACL_OK; i++) {
        const tacl__cluster_link_t *l = &c->links[i];
        if (map[l->a] >= 0 && map[l->b] >= 0)
            st = tacl__cluster_set_link(s, map[l->a], map[l->b], l->gbs, l->lat_us);
    }
    for (int i = 0; i < c->nunreach && st == TACL_OK; i++) {
        int a = c->unreach[i][0], b = c->unreach[i][1];
        if (map[a] >= 0 && map[b] >= 0) st = tacl__cluster_set_unreachable(s, map[a], map[b]);
    }
    if (st == TACL_OK) st = tacl__cluster_finish(s);
    free(map);
    if (st != TACL_OK) {
        tacl_cluster_destroy(s);
        return st;
    }
    *out = s;
    return TACL_OK;
}

/* Unequal hosts: plans each class of identical hosts alone (its share of the concurrency) and
 * keeps the set when it serves more than the best single layout, so that "TP1 on the H200
 * hosts and TP2 on the L40S hosts" is found although no one layout has both. */
static void plan_mixed(tacl__plan_t *p, const tacl__model_t *m)
{
    const tacl_cluster_t *c = p->cluster;
    if (c->nranks || c->nhosts < 2) return;
    int *cls_of = malloc(sizeof(int) * (size_t)c->nhosts), *rep = NULL, ncls = 0;
    if (!cls_of) return;
    rep = malloc(sizeof(int) * 8);
    for (int h = 0; rep && h < c->nhosts; h++) {
        cls_of[h] = -1;
        if (c->hosts[h].ngpus == 0) continue;
        int k;
        for (k = 0; k < ncls && !plan_same_class(&c->hosts[rep[k]], &c->hosts[h]); k++) {
        }
        if (k == ncls) {
            if (ncls == 8) { /* more classes than a set is worth: none */
                ncls = 0;
                break;
            }
            rep[ncls++] = h;
        }
        cls_of[h] = k;
    }
    if (ncls < 2) goto out;
    p->mixed = calloc((size_t)ncls, sizeof *p->mixed);
    p->mixed_cluster = calloc((size_t)ncls, sizeof *p->mixed_cluster);
    if (!p->mixed || !p->mixed_cluster) goto out;
    /* Two passes: with the whole concurrency, each class says how many requests its best
     * layout holds; then the concurrency is shared in proportion (a load balancer fills the
     * classes by what they hold), and each class is planned with its share. */
    double tok = 0, *hold = calloc((size_t)ncls, sizeof(double)), held = 0;
    tacl_cluster_t **sub = calloc((size_t)ncls, sizeof *sub);
    int served = 0;
    for (int k = 0; hold && sub && k < ncls; k++) {
        tacl__plan_t *sp;
        if (plan_subcluster(c, cls_of, k, &sub[k]) != TACL_OK) continue;
        if (tacl__plan_create(sub[k], m, &p->w, &p->cm, &sp) != TACL_OK) continue;
        if (sp->best >= 0) {
            const tacl__layout_t *b = &sp->layouts[sp->best];
            double h = (double)b->conc_replica * (b->ep > 1 ? 1 : b->dp);
            hold[k] = h < p->w.concurrency ? h : (double)p->w.concurrency;
            held += hold[k];
        }
        tacl__plan_destroy(sp);
    }
    for (int k = 0; hold && sub && k < ncls; k++) {
        if (!sub[k] || hold[k] <= 0) {
            tacl_cluster_destroy(sub ? sub[k] : NULL);
            continue;
        }
        tacl__workload_t w = p->w;
        long share = (long)ceil((double)p->w.concurrency * hold[k] / held);
        w.concurrency = share > 0 ? share : 1;
        tacl__plan_t *sp = NULL;
        if (tacl__plan_create(sub[k], m, &w, &p->cm, &sp) != TACL_OK || sp->best < 0) {
            if (sp) tacl__plan_destroy(sp);
            tacl_cluster_destroy(sub[k]);
            continue;
        }
        tok += sp->layouts[sp->best].tok_s;
        p->mixed[p->nmixed] = sp, p->mixed_cluster[p->nmixed++] = sub[k];
        served++;
    }
    free(hold);
    free(sub);
    double single = p->best >= 0 ? p->layouts[p->best].tok_s : 0;
    if (served >= 2 && tok > 1.05 * single) {
        p->mixed_tok_s = tok;
    } else {
        for (int k = 0; k < p->nmixed; k++) {
            tacl__plan_destroy(p->mixed[k]);
            tacl_cluster_destroy(p->mixed_cluster[k]);
        }
        p->nmixed = 0;
    }
out:
    if (p->nmixed == 0) {
        free(p->mixed);
        free(p->mixed_cluster);
        p->mixed = NULL, p->mixed_cluster = NULL;
    }
    free(rep);
    free(cls_of);
}

tacl_status_t tacl__plan_create(const tacl_cluster_t *c, const tacl__model_t *m,
                                const tacl__workload_t *w, const tacl__costmodel_t *cm,
                                tacl__plan_t **out)
{
    uint64_t t0 = tacl__now_ns();
    if (!c || !m || !w || !out)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_PLAN,
                         "tacl_plan_create: expected a cluster, a model and a workload");
    if (tacl__cluster_total_gpus(c) == 0)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_PLAN,
                         "cluster %s has no GPUs (give hosts gpus: N and gpu: TYPE)",
                         c->source[0] ? c->source : c->name);
    if (w->prompt_len < 1 || w->output_len < 1 || w->concurrency < 1 || w->mem_util <= 0 ||
        w->mem_util > 1)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_PLAN,
                         "workload: expected prompt and output lengths >= 1, concurrency "
                         ">= 1 and 0 < memory utilisation <= 1");
    tacl__plan_t *p = calloc(1, sizeof *p);
    if (!p) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_PLAN, "out of memory");
    p->cluster = c;
    p->model = *m;
    p->w = *w;
    if (cm)
        p->cm = *cm;
    else
        tacl__costmodel_default(&p->cm);
    p->best = p->closest = -1;
    tacl_status_t st = TACL_OK;
    size_t nh = (size_t)c->nhosts;
    p->scratch = calloc(1, sizeof *p->scratch);
    if (p->scratch) {
        p->scratch->mark = calloc(nh, sizeof(int));
        p->scratch->hosts = calloc(nh, sizeof(int));
        p->scratch->cnt = calloc(nh, sizeof(int));
        p->scratch->pos = calloc(nh, sizeof(int));
        p->scratch->mark2 = calloc(nh, sizeof(int));
    }
    if (!p->scratch || !p->scratch->mark || !p->scratch->hosts || !p->scratch->cnt ||
        !p->scratch->pos || !p->scratch->mark2)
        st = tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_PLAN, "out of memory");
    if (st == TACL_OK) st = plan_slots(p);
    if (st == TACL_OK) st = plan_symmetry(p);
    if (st != TACL_OK) {
        tacl__plan_destroy(p);
        return st;
    }
    int G = p->nslots, gmax = 1;
    for (int i = 0; i < c->nhosts; i++)
        if (c->hosts[i].ngpus > gmax) gmax = c->hosts[i].ngpus;
    int max_tp = w->max_tp > 0 ? w->max_tp : 8 * gmax;
    if (max_tp > G) max_tp = G;
    /* Candidates: every TP up to a host's GPUs, then whole hosts' worth; every PP up to the
     * layers (and the GPUs); EP (one instance over all DP ranks) for MoE models. */
    int cap = 0;
    for (int tp = 1; tp <= max_tp; tp++) {
        if (tp > gmax && tp % gmax) continue;
        for (int pp = 1; pp * tp <= G && pp <= m->layers; pp++)
            cap += m->experts > 0 ? 2 : 1;
    }
    p->layouts = calloc((size_t)(cap ? cap : 1), sizeof *p->layouts);
    if (!p->layouts) {
        tacl__plan_destroy(p);
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_PLAN, "out of memory");
    }
    for (int tp = 1; tp <= max_tp; tp++) {
        if (tp > gmax && tp % gmax) continue;
        for (int pp = 1; pp * tp <= G && pp <= m->layers; pp++) {
            for (int e = 0; e < (m->experts > 0 ? 2 : 1); e++) {
                int dp = G / (tp * pp);
                if (e == 1 && dp * tp < 2) continue;
                tacl__layout_t *l = &p->layouts[p->nlayouts++];
                l->tp = tp, l->pp = pp, l->dp = dp, l->ep = e ? dp * tp : 1;
                l->bneck_a = l->bneck_b = l->link_a = l->link_b = -1;
                l->gpus_used = dp * tp * pp;
                /* Shape rules vLLM enforces. */
                if (m->heads % tp)
                    plan_addf(l->reason, sizeof l->reason,
                              "%ld attention heads are not divisible by TP=%d", m->heads, tp);
                if (m->kv_lora_rank == 0 && m->kv_heads % tp && tp % m->kv_heads)
                    plan_addf(l->reason, sizeof l->reason,
                              "%ld KV heads: TP=%d neither divides them nor is a multiple",
                              m->kv_heads, tp);
                if (l->ep > 1 && m->experts % l->ep)
                    plan_addf(l->reason, sizeof l->reason, "%ld experts are not divisible by EP=%d",
                              m->experts, l->ep);
                (void)plan_gcd;
                plan_eval(p, l);
            }
        }
    }
    qsort(p->layouts, (size_t)p->nlayouts, sizeof *p->layouts, plan_rank_cmp);
    for (int i = 0; i < p->nlayouts; i++) {
        if (p->layouts[i].state == TACL_LAYOUT_OK && p->best < 0) p->best = i;
        if (p->layouts[i].state == TACL_LAYOUT_NOFIT && p->closest < 0) p->closest = i;
    }
    if (p->best >= 0) p->closest = -1;
    /* Control-plane notes for the layouts anyone will read. */
    for (int i = 0, shown = 0; i < p->nlayouts && shown < 32; i++)
        if (p->layouts[i].state == TACL_LAYOUT_OK) plan_control_plane(p, &p->layouts[i]), shown++;
    plan_mixed(p, m);
    p->plan_ms = (double)(tacl__now_ns() - t0) / 1e6;
    TACL_INFO(TACL_SUB_PLAN, "%d layouts, %ld replica evaluations, %.2f ms", p->nlayouts,
              p->evaluated, p->plan_ms);
    *out = p;
    return TACL_OK;
}

void tacl__plan_destroy(tacl__plan_t *p)
{
    if (!p) return;
    for (int i = 0; i < p->nlayouts; i++) {
        free(p->layouts[i].layers);
        free(p->layouts[i].reps);
    }
    for (int k = 0; k < p->nmixed; k++) {
        tacl__plan_destroy(p->mixed[k]);
        tacl_cluster_destroy(p->mixed_cluster[k]);
    }
    free(p->mixed);
    free(p->mixed_cluster);
    free(p->layouts);
    free(p->slot_host);
    free(p->slot_dev);
    if (p->scratch) {
        free(p->scratch->mark);
        free(p->scratch->hosts);
        free(p->scratch->cnt);
        free(p->scratch->pos);
        free(p->scratch->mark2);
        free(p->scratch->adjbits);
        free(p->scratch->setbits);
        free(p->scratch->special_prefix);
        free(p->scratch->cache);
        free(p->scratch->cache_ok);
        free(p->scratch);
    }
    free(p);
}

const tacl__layout_t *tacl__plan_find(const tacl__plan_t *p, int tp, int pp, int ep)
{
    for (int i = 0; i < p->nlayouts; i++) {
        const tacl__layout_t *l = &p->layouts[i];
        if (l->tp == tp && l->pp == pp && (ep == 0 || l->ep == ep)) return l;
    }
    return NULL;
}
