/* plan_out.c — what `tacl plan` prints as text: the ranked table, the rejected layouts with their
 * reasons, the chosen layout's placement per host and per rank and its backend settings; and the
 * helpers every printer shares (a layout's name, its layer split, its instances). The vLLM
 * command line of every host is plan_out_vllm.c's, the same as JSON plan_out_json.c's and the
 * Graphviz picture plan_out_dot.c's. */
#include "plan/plan_int.h"

#include <stdlib.h>

void tacl__plan_out_layout_name(const tacl__layout_t *l, char *buf, size_t len)
{
    if (l->ep > 1)
        snprintf(buf, len, "TP%d PP%d DP%d EP%d", l->tp, l->pp, l->dp, l->ep);
    else
        snprintf(buf, len, "TP%d PP%d DP%d", l->tp, l->pp, l->dp);
}

void tacl__plan_out_partition(const tacl__layout_t *l, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = 0;
    for (int s = 0; s < l->pp && k < len; s++)
        k += (size_t)snprintf(buf + k, len - k, "%s%d", s ? "," : "", l->layers[s]);
}

/* The instances of a layout: vLLM processes that share a rendezvous. Dense models run one
 * instance per replica; EP runs one instance over all DP ranks. */
void tacl__plan_out_instances(const tacl__layout_t *l, int *ninst, int *size)
{
    *size = l->ep > 1 ? l->dp * l->tp * l->pp : l->tp * l->pp;
    *ninst = l->ep > 1 ? 1 : l->dp;
}

static void out_backend(const tacl__plan_t *p, const tacl__layout_t *l, FILE *f)
{
    const tacl_cluster_t *c = p->cluster;
    fprintf(f, "backend settings:\n");
    int cross = 0;
    for (int i = 1; i < l->gpus_used; i++)
        cross |= p->slot_host[tacl__layout_slot(l, i)] != p->slot_host[tacl__layout_slot(l, 0)];
    if (!cross) {
        fprintf(f, "  single-host instances: NCCL over NVLink/PCIe, no network settings needed\n");
    } else {
        fprintf(f, "  NCCL for TP/PP/EP data, Gloo for vLLM's CPU groups; both use the interface "
                   "named by NCCL_SOCKET_IFNAME / GLOO_SOCKET_IFNAME");
        int any = 0;
        for (int i = 0; i < c->nhosts; i++)
            any |= c->hosts[i].ifname[0] != 0;
        fprintf(f, "%s\n", any ? " (set per host below)" : " (add ifname: to the hosts)");
        if (l->pp > 1)
            fprintf(f, "  NCCL_RUNTIME_CONNECT=1 (default since NCCL 2.22): PP communicators "
                       "connect only the stages that exchange data\n");
    }
    if (l->custom_split) {
        char part[512];
        tacl__plan_out_partition(l, part, sizeof part);
        fprintf(f,
                "  VLLM_PP_LAYER_PARTITION=%s (uneven memory: vLLM's even split does not "
                "fit as well)\n",
                part);
    }
    if (l->routed)
        fprintf(f, "  tacl routing: groups reach unlinked pairs through relays (run the "
                   "collectives on tacl; NCCL alone cannot)\n");
}

static void out_placement(const tacl__plan_t *p, const tacl__layout_t *l, FILE *f)
{
    const tacl_cluster_t *c = p->cluster;
    int first_layer[1024];
    for (int s = 0, a = 0; s < l->pp && s < 1024; s++)
        first_layer[s] = a, a += l->layers[s];
    fprintf(f, "placement per host:\n");
    /* Each host's GPUs in rank order through per-host lists: one pass, not hosts x GPUs. */
    int *head = malloc(sizeof(int) * (size_t)c->nhosts),
        *next = malloc(sizeof(int) * (size_t)(l->gpus_used + 1));
    if (head && next) {
        for (int h = 0; h < c->nhosts; h++)
            head[h] = -1;
        for (int i = l->gpus_used - 1; i >= 0; i--) {
            int h = p->slot_host[tacl__layout_slot(l, i)];
            next[i] = head[h], head[h] = i;
        }
        for (int h = 0; h < c->nhosts; h++) {
            if (head[h] < 0) {
                if (c->hosts[h].ngpus) fprintf(f, "  %-12s idle\n", c->hosts[h].name);
                continue;
            }
            fprintf(f, "  %-12s", c->hosts[h].name);
            for (int i = head[h]; i >= 0; i = next[i]) {
                int s = tacl__layout_slot(l, i);
                int rep = i / (l->tp * l->pp), st = (i / l->tp) % l->pp;
                fprintf(f, " GPU%d=r%d(dp%d,pp%d,tp%d)", p->slot_dev[s], i, rep, st, i % l->tp);
            }
            fprintf(f, "\n");
        }
    }
    free(head);
    free(next);
    fprintf(f, "placement per rank:\n");
    int shown = 0;
    for (int i = 0; i < l->gpus_used; i++) {
        int s = tacl__layout_slot(l, i);
        if (shown++ == 64) {
            fprintf(f, "  ... %d more ranks (-J lists all)\n", l->gpus_used - 64);
            break;
        }
        int rep = i / (l->tp * l->pp), st = (i / l->tp) % l->pp;
        int a = st < 1024 ? first_layer[st] : 0;
        fprintf(f, "  rank %-4d host %-10s GPU %-2d replica %-3d stage %-2d (layers %d-%d) tp %d\n",
                i, c->hosts[p->slot_host[s]].name, p->slot_dev[s], rep, st, a,
                a + l->layers[st] - 1, i % l->tp);
    }
}

void tacl__plan_print_text(const tacl__plan_t *p, const char *model_arg, int max_rows, FILE *f)
{
    const tacl_cluster_t *c = p->cluster;
    const tacl__model_t *m = &p->model;
    double wb = p->w.weight_bytes > 0 ? p->w.weight_bytes : m->weight_bytes;
    fprintf(f, "cluster: %s (%d hosts, %d GPUs)\n", c->source[0] ? c->source : c->name, c->nhosts,
            p->nslots);
    fprintf(f,
            "model:   %s (%.1fB parameters%s, %.3g bytes/weight = %.1f GB, %d layers, %ld "
            "heads, %ld KV heads)\n",
            m->name, tacl__model_total_params(m) / 1e9, m->experts ? ", MoE" : "", wb,
            tacl__model_total_params(m) * wb / 1e9, (int)m->layers, m->heads, m->kv_heads);
    fprintf(f, "workload: prompt %ld, output %ld, concurrency %ld, GPU memory utilisation %.2f",
            p->w.prompt_len, p->w.output_len, p->w.concurrency, p->w.mem_util);
    if (p->w.ttft_ms > 0) fprintf(f, ", TTFT <= %g ms", p->w.ttft_ms);
    if (p->w.tpot_ms > 0) fprintf(f, ", TPOT <= %g ms", p->w.tpot_ms);
    if (p->w.rate > 0) fprintf(f, ", rate %g req/s", p->w.rate);
    fprintf(f, "\nsearched %d layouts in %.2f ms\n\n", p->nlayouts, p->plan_ms);

    fprintf(f, "%4s  %-22s %-5s %10s %9s %9s %10s  %s\n", "rank", "layout", "fits", "KV tokens",
            "TTFT ms", "TPOT ms", "tokens/s", "bottleneck");
    int rows = 0;
    for (int i = 0; i < p->nlayouts; i++) {
        const tacl__layout_t *l = &p->layouts[i];
        if (l->state == TACL_LAYOUT_REJECTED) continue;
        if (max_rows && rows >= max_rows) break;
        char name[64];
        tacl__plan_out_layout_name(l, name, sizeof name);
        if (l->state == TACL_LAYOUT_OK)
            fprintf(f, "%4d  %-22s %-5s %10.0f %9.1f %9.2f %10.0f  %s%s%s\n", rows + 1, name,
                    l->meets ? "yes" : "yes*", l->kv_tokens, l->ttft_ms, l->tpot_ms, l->tok_s,
                    l->bottleneck, l->routed ? " [tacl routing]" : "",
                    l->note[0] ? " [see notes]" : "");
        else
            fprintf(f, "%4d  %-22s %-5s %10.0f %9s %9s %10s  %s\n", rows + 1, name, "no",
                    l->kv_tokens, "-", "-", "-", l->reason);
        rows++;
    }
    if (p->w.ttft_ms > 0 || p->w.tpot_ms > 0 || p->w.rate > 0)
        fprintf(f, "(yes*: fits but misses a target)\n");
    /* The notes of every listed layout, not only the chosen one's. */
    for (int i = 0, shown = 0, any = 0; i < p->nlayouts; i++) {
        const tacl__layout_t *l = &p->layouts[i];
        if (l->state != TACL_LAYOUT_OK) continue;
        if (max_rows && shown++ >= max_rows) break;
        if (!l->note[0]) continue;
        char name[64];
        tacl__plan_out_layout_name(l, name, sizeof name);
        if (!any++) fprintf(f, "\nnotes:\n");
        fprintf(f, "  %-22s %s\n", name, l->note);
    }
    int nrej = 0;
    for (int i = 0; i < p->nlayouts; i++)
        nrej += p->layouts[i].state == TACL_LAYOUT_REJECTED;
    if (nrej) {
        fprintf(f, "\nrejected (%d):\n", nrej);
        int shown = 0;
        for (int i = 0; i < p->nlayouts; i++) {
            const tacl__layout_t *l = &p->layouts[i];
            if (l->state != TACL_LAYOUT_REJECTED) continue;
            if (max_rows && shown >= 4 * max_rows) {
                fprintf(f, "  ... %d more (-J lists all)\n", nrej - shown);
                break;
            }
            char name[64];
            tacl__plan_out_layout_name(l, name, sizeof name);
            fprintf(f, "  %-22s %s\n", name, l->reason);
            shown++;
        }
    }
    fprintf(f, "\n");
    if (p->nmixed) {
        /* Unequal hosts: one layout per class of identical hosts serves more. */
        fprintf(f, "best set on unequal hosts: %.0f tokens/s with one layout per kind of host",
                p->mixed_tok_s);
        if (p->best >= 0) fprintf(f, " (the best single layout: %.0f)", p->layouts[p->best].tok_s);
        fprintf(f, "\n");
        for (int k = 0; k < p->nmixed; k++) {
            const tacl__plan_t *sp = p->mixed[k];
            const tacl__layout_t *x = &sp->layouts[sp->best];
            const tacl_cluster_t *sc = p->mixed_cluster[k];
            char name[64];
            tacl__plan_out_layout_name(x, name, sizeof name);
            fprintf(
                f,
                "  %d x %s on %d host%s (%s%s%s): %s, %.0f tokens/s, TPOT %.2f ms, %ld requests\n",
                sc->hosts[0].ngpus, sc->hosts[0].gpu.name, sc->nhosts, sc->nhosts == 1 ? "" : "s",
                sc->hosts[0].name, sc->nhosts > 1 ? ".." : "",
                sc->nhosts > 1 ? sc->hosts[sc->nhosts - 1].name : "", name, x->tok_s, x->tpot_ms,
                sp->w.concurrency);
        }
        fprintf(f, "  vLLM for the set (ports from 8000 per kind of host):\n");
        for (int k = 0; k < p->nmixed; k++)
            tacl__plan_print_vllm(p->mixed[k], &p->mixed[k]->layouts[p->mixed[k]->best], model_arg,
                                  f);
        fprintf(f, "\n");
    }
    if (p->best < 0) {
        fprintf(f, "no layout fits this cluster.\n");
        if (p->closest >= 0) {
            const tacl__layout_t *l = &p->layouts[p->closest];
            char name[64];
            tacl__plan_out_layout_name(l, name, sizeof name);
            fprintf(f, "closest: %s: %.1f GB missing per GPU (%s)\n", name, l->missing_gb,
                    l->reason);
        }
        return;
    }
    const tacl__layout_t *l = &p->layouts[p->best];
    char name[64], part[512];
    tacl__plan_out_layout_name(l, name, sizeof name);
    tacl__plan_out_partition(l, part, sizeof part);
    fprintf(f,
            "chosen: %s  (%d of %d GPUs; %.1f GB weights on the fullest GPU; KV %.0f tokens "
            "per %s, %ld requests)\n",
            name, l->gpus_used, p->nslots, l->weight_gb, l->kv_tokens,
            l->ep > 1 ? "instance" : "replica", l->conc_replica);
    fprintf(f, "  TTFT %.1f ms, TPOT %.2f ms, %.0f tokens/s; bottleneck: %s\n", l->ttft_ms,
            l->tpot_ms, l->tok_s, l->bottleneck);
    fprintf(f, "  layers per stage: %s%s\n", part,
            l->custom_split ? " (uneven: VLLM_PP_LAYER_PARTITION)" : " (vLLM's default split)");
    out_placement(p, l, f);
    out_backend(p, l, f);
    if (l->note[0]) fprintf(f, "notes: %s\n", l->note);
    fprintf(f, "vLLM:\n");
    tacl__plan_print_vllm(p, l, model_arg, f);
}
