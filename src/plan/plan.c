/* plan.c — the layout search: the candidate layouts and vLLM's shape rules, their ranking, the
 * control-plane and store notes, and create/destroy/find. Each layout (TP, PP, DP, EP) is placed on
 * the cluster's GPUs in one fixed order (hosts along a path of the link graph, GPUs in device
 * order; replica r, stage s, TP rank t at slot (r*PP + s)*TP + t, as vLLM numbers ranks;
 * plan_place.c), its groups are checked for the pairs NCCL will connect (plan_groups.c), its
 * layers are split over the stages and its memory, KV capacity, TTFT, TPOT and throughput are
 * estimated (plan_cost.c, docs/COST_MODEL.md). Replicas whose inputs are identical share one
 * evaluation (plan_eval.c), which is what keeps a 1024-host cluster within a second: the search
 * is exact (every layout, every replica checked), only the arithmetic is shared. Unequal hosts
 * are also planned class by class (plan_mixed.c). */
#include "plan/plan_int.h"
#include "clock.h"

#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void tacl__plan_addf(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 4 >= len) return;
    if (n) n += (size_t)snprintf(buf + n, len - n, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
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
                tacl__plan_addf(l->note, sizeof l->note,
                                "control plane: vLLM's Gloo group and NCCL bootstrap connect "
                                "%s↔%s, which have no link: forward IP through %s (or run the "
                                "control plane on tacl)",
                                c->hosts[ha].name, c->hosts[hb].name, c->hosts[path[1]].name);
            else
                tacl__plan_addf(l->note, sizeof l->note,
                                "control plane: %s and %s are disconnected", c->hosts[ha].name,
                                c->hosts[hb].name);
            reported++;
        }
        int store = tacl__plan_store_host(p, l, i);
        if (store < 0) {
            tacl__plan_addf(l->note, sizeof l->note,
                            "store: no host of instance %d is linked to all the others; the store "
                            "stays on node 0 (%s), reached through forwarded IP",
                            i, c->hosts[hosts[0]].name);
            reported++;
        } else if (store != hosts[0]) {
            tacl__plan_addf(l->note, sizeof l->note,
                            "store: on %s, linked to every host of instance %d (node 0, %s, is "
                            "not); the vLLM lines start it there and point --master-addr at it",
                            c->hosts[store].name, i, c->hosts[hosts[0]].name);
            reported++;
        } else if (c->store_host >= 0 && c->store_host != store) {
            tacl__plan_addf(l->note, sizeof l->note,
                            "store: the declared store host %s is not linked to every host of "
                            "instance %d; using %s",
                            c->hosts[c->store_host].name, i, c->hosts[store].name);
            reported++;
        }
    }
    free(hosts);
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
    if (st == TACL_OK) st = tacl__plan_slots(p);
    if (st == TACL_OK) st = tacl__plan_symmetry(p);
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
                    tacl__plan_addf(l->reason, sizeof l->reason,
                                    "%ld attention heads are not divisible by TP=%d", m->heads, tp);
                if (m->kv_lora_rank == 0 && m->kv_heads % tp && tp % m->kv_heads)
                    tacl__plan_addf(l->reason, sizeof l->reason,
                                    "%ld KV heads: TP=%d neither divides them nor is a multiple",
                                    m->kv_heads, tp);
                if (l->ep > 1 && m->experts % l->ep)
                    tacl__plan_addf(l->reason, sizeof l->reason,
                                    "%ld experts are not divisible by EP=%d", m->experts, l->ep);
                tacl__plan_eval(p, l);
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
    tacl__plan_mixed(p, m);
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