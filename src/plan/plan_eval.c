/* plan_eval.c — one layout: its replicas' inputs and checks, memoised costs, the result. */
#include "plan/plan_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
static int plan_rep_inputs(const tacl__plan_t *p, const tacl__plan_shape_t *sh, int rep,
                           tacl__plan_rep_t *r, tacl__layout_t *l, int *idx, char *why,
                           size_t whylen)
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
        tacl__plan_group(p, idx, tp, &r->tpg[s]);
        if (r->tpg[s].missing) {
            char names[256];
            plan_group_names(p, idx, tp, names, sizeof names);
            if (!strstr(why, "needs"))
                tacl__plan_addf(why, whylen, "TP group %s needs %s↔%s: unreachable%s", names,
                                c->hosts[r->tpg[s].ma].name, c->hosts[r->tpg[s].mb].name,
                                p->w.allow_routing
                                    ? " (no route)"
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
            tacl__plan_group(p, idx, n, &r->epg[s]);
            if (r->epg[s].missing) {
                if (!strstr(why, "EP group"))
                    tacl__plan_addf(why, whylen,
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
                bw = tacl__plan_gpu_pair_gbs(&c->hosts[a], p->slot_dev[base + s * tp + t],
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
                    tacl__plan_addf(why, whylen, "PP stages %d->%d need %s↔%s: unreachable", s,
                                    s + 1, c->hosts[a].name, c->hosts[b].name);
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
static int plan_rep_same(const tacl__plan_shape_t *sh, const tacl__plan_rep_t *a,
                         const tacl__plan_rep_t *b)
{
    int pp = sh->pp;
    if (memcmp(a->cap, b->cap, sizeof(double) * (size_t)pp) ||
        memcmp(a->hbm, b->hbm, sizeof(double) * (size_t)pp) ||
        memcmp(a->tflops, b->tflops, sizeof(double) * (size_t)pp))
        return 0;
    for (int s = 0; s < pp; s++) {
        const tacl__plan_group_t *x = &a->tpg[s], *y = &b->tpg[s];
        if (x->n != y->n || x->k != y->k || x->gmax != y->gmax || x->intra_gbs != y->intra_gbs ||
            x->inter_gbs != y->inter_gbs || x->lat_us != y->lat_us || x->routed != y->routed)
            return 0;
        if (s + 1 < pp && (a->pp_gbs[s] != b->pp_gbs[s] || a->pp_lat[s] != b->pp_lat[s] ||
                           a->pp_x[s] != b->pp_x[s]))
            return 0;
    }
    return 1;
}

static int plan_rep_alloc(tacl__plan_rep_t *r, int pp)
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
    r->tpg = calloc(n, sizeof(tacl__plan_group_t));
    r->epg = calloc(n, sizeof(tacl__plan_group_t));
    return r->cap && r->hbm && r->tflops && r->pp_gbs && r->pp_lat && r->pp_x && r->pp_a &&
           r->pp_b && r->tpg && r->epg;
}

static void plan_rep_free(tacl__plan_rep_t *r)
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

/* Recently costed replica inputs and their results: replicas repeat with the GPU offset
 * within a host, so a few entries catch most repeats on any regular cluster. */
#define PLAN_MEMO 8
typedef struct {
    int n, next;
    tacl__plan_rep_t rep[PLAN_MEMO];
    tacl__plan_res_t res[PLAN_MEMO];
    int *layers[PLAN_MEMO];
} plan_memo_t;

/* Evaluates layout (tp, pp, ep) in l (tp, pp, dp, ep already set, reason may hold shape
 * rejections). Replicas that cannot run (an unreachable pair) or do not fit are dropped when
 * others can serve: the layout is then partial (l->reps lists the replicas kept). */
void tacl__plan_eval(tacl__plan_t *p, tacl__layout_t *l)
{
    int tp = l->tp, pp = l->pp, dp = l->dp;
    tacl__plan_shape_t sh;
    tacl__plan_shape(p, tp, pp, dp, l->ep, &sh);
    l->layers = calloc((size_t)pp, sizeof(int));
    l->dp_full = dp;
    tacl__plan_rep_t cur;
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
    tacl__plan_res_t res, worst, worst_nofit;
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
            tacl__plan_shape(p, tp, pp, nkept, l->ep, &sh);
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
                    tacl__plan_addf(l->reason, sizeof l->reason, "%s", why);
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
                        tacl__plan_cost(p, &sh, &cur, n, &res);
                        p->evaluated++;
                        int slot = memo.next;
                        memo.next = (memo.next + 1) % PLAN_MEMO;
                        if (memo.n < PLAN_MEMO) memo.n++;
                        tacl__plan_rep_t t = memo.rep[slot];
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
            tacl__plan_addf(l->reason, sizeof l->reason, "%s", first_why);
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
            tacl__plan_addf(
                l->reason, sizeof l->reason,
                "does not fit: the fullest GPU needs %.1f GB more (weights %.1f GB/GPU)",
                worst_nofit.missing, worst_nofit.wmax);
        else
            tacl__plan_addf(
                l->reason, sizeof l->reason,
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
        tacl__plan_addf(l->note, sizeof l->note,
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
        tacl__plan_addf(l->note, sizeof l->note,
                        "the KV cache holds %ld requests per %s, fewer than asked (%ld in all)",
                        conc_min, l->ep > 1 ? "instance" : "replica", p->w.concurrency);
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
