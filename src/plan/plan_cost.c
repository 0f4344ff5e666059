/* plan_cost.c — the cost model: its constants, a layout's shape per GPU, one replica's cost. */
#include "plan/plan_int.h"

#include <math.h>
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

/* ---- One layout. ---- */

/* Layers per stage at KV budget T tokens: n_s = floor((cap - fixed) / (w + T k)). */
static int plan_fit_layers(const tacl__plan_shape_t *sh, const tacl__plan_rep_t *r, double T,
                           int *n)
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
static double plan_split_tokens(const tacl__plan_shape_t *sh, const tacl__plan_rep_t *r,
                                const int *n, double *worst_missing, double *max_w)
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

void tacl__plan_cost(const tacl__plan_t *p, const tacl__plan_shape_t *sh, const tacl__plan_rep_t *r,
                     int *n, tacl__plan_res_t *res)
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
        double t_ar = 2 * n[s] * tacl__plan_group_ar_us(p, &r->tpg[s], mb * h * act_b);
        double t_a2a = 0;
        if (sh->ep > 1)
            t_a2a = 2 * moe_layers *
                    tacl__plan_group_a2a_us(p, &r->epg[s], mb * m->experts_per_tok * h * act_b);
        double t = (t_mem > t_cmp ? t_mem : t_cmp) + t_ar + t_a2a + n[s] * cm->layer_us;
        t_sum += t;
        if (t > t_max) t_max = t;
        if (r->tpg[s].k > 1 && t_ar > worst_link)
            worst_link = t_ar, res->la = r->tpg[s].ba, res->lb = r->tpg[s].bb;
        if (sh->ep > 1 && r->epg[s].k > 1 && t_a2a > worst_link)
            worst_link = t_a2a, res->la = r->epg[s].ba, res->lb = r->epg[s].bb;
        if (t_ar > worst_comm) {
            worst_comm = t_ar;
            const tacl__plan_group_t *g = &r->tpg[s];
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
            const tacl__plan_group_t *g = &r->epg[s];
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
                (tacl__plan_group_ar_us(p, &r->tpg[s], P * h * act_b) +
                 (r->tpg[s].n > 1 ? cm->alpha_eager_us - cm->alpha_gpu_us : 0));
        if (sh->ep > 1)
            ttft += 2 * n[s] * sh->moe_frac_layers *
                    tacl__plan_group_a2a_us(p, &r->epg[s], P * m->experts_per_tok * h * act_b);
        if (s + 1 < pp)
            ttft += cm->alpha_p2p_us + (r->pp_x[s] > 0 ? cm->alpha_net_us + r->pp_lat[s] : 0) +
                    2 * P * h * act_b / (r->pp_gbs[s] * cm->eta_bus * 1e3);
    }
    res->ttft_ms = ttft / 1e3;
}

void tacl__plan_shape(const tacl__plan_t *p, int tp, int pp, int dp, int ep, tacl__plan_shape_t *sh)
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
