/* plan_out.c — what `tacl plan` prints: the ranked table, the rejected layouts with their
 * reasons, the chosen layout's placement per host and per rank, the backend settings, the vLLM
 * command line of every host, and the same as JSON or as a Graphviz picture. */
#include "plan/plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void out_layout_name(const tacl_layout_t *l, char *buf, size_t len)
{
    if (l->ep > 1)
        snprintf(buf, len, "TP%d PP%d DP%d EP%d", l->tp, l->pp, l->dp, l->ep);
    else
        snprintf(buf, len, "TP%d PP%d DP%d", l->tp, l->pp, l->dp);
}

static void out_partition(const tacl_layout_t *l, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = 0;
    for (int s = 0; s < l->pp && k < len; s++)
        k += (size_t)snprintf(buf + k, len - k, "%s%d", s ? "," : "", l->layers[s]);
}

static const char *out_addr(const tacl_cluster_host_t *h)
{
    return h->naddrs ? h->addrs[0] : h->name;
}

/* The instances of a layout: vLLM processes that share a rendezvous. Dense models run one
 * instance per replica; EP runs one instance over all DP ranks. */
static void out_instances(const tacl_layout_t *l, int *ninst, int *size)
{
    *size = l->ep > 1 ? l->dp * l->tp * l->pp : l->tp * l->pp;
    *ninst = l->ep > 1 ? 1 : l->dp;
}

static void out_env(const tacl_plan_t *p, const tacl_layout_t *l, const tacl_cluster_host_t *h,
                    int multi, FILE *f)
{
    char part[512];
    if (l->custom_split) {
        out_partition(l, part, sizeof part);
        fprintf(f, "VLLM_PP_LAYER_PARTITION=%s ", part);
    }
    if (h->ifname[0])
        fprintf(f, "NCCL_SOCKET_IFNAME=%s GLOO_SOCKET_IFNAME=%s ", h->ifname, h->ifname);
    if (multi && h->naddrs) fprintf(f, "VLLM_HOST_IP=%s ", h->addrs[0]);
    (void)p;
}

void tacl_plan_print_vllm(const tacl_plan_t *p, const tacl_layout_t *l, const char *model_arg,
                          FILE *f)
{
    const tacl_cluster_t *c = p->cluster;
    int ninst, size;
    out_instances(l, &ninst, &size);
    int *hosts = malloc(sizeof(int) * (size_t)size), *cnt = malloc(sizeof(int) * (size_t)size);
    if (!hosts || !cnt) goto out;
    for (int i = 0; i < ninst; i++) {
        int k = 0, base = i * size;
        for (int s = base; s < base + size; s++) {
            int j;
            for (j = 0; j < k && hosts[j] != p->slot_host[s]; j++) {
            }
            if (j == k) hosts[k] = p->slot_host[s], cnt[k++] = 0;
            cnt[j]++;
        }
        int even = 1;
        for (int j = 1; j < k; j++)
            even &= cnt[j] == cnt[0];
        for (int j = 0; j < k; j++) {
            const tacl_cluster_host_t *h = &c->hosts[hosts[j]];
            fprintf(f, "  # instance %d, host %s (node %d of %d)\n  ", i, h->name, j, k);
            /* The devices of this instance on this host, in rank order. */
            int ndev = 0, contiguous = 1, first = -1;
            char devs[512] = "";
            for (int s = base; s < base + size; s++) {
                if (p->slot_host[s] != hosts[j]) continue;
                size_t n = strlen(devs);
                snprintf(devs + n, sizeof devs - n, "%s%d", ndev ? "," : "", p->slot_dev[s]);
                if (first < 0) first = p->slot_dev[s];
                contiguous &= p->slot_dev[s] == ndev;
                ndev++;
            }
            if (!contiguous || ndev != h->ngpus) fprintf(f, "CUDA_VISIBLE_DEVICES=%s ", devs);
            out_env(p, l, h, k > 1, f);
            fprintf(f, "vllm serve %s --tensor-parallel-size %d --pipeline-parallel-size %d",
                    model_arg, l->tp, l->pp);
            if (ninst > 1) fprintf(f, " --port %d", 8000 + i);
            fprintf(f, " --max-model-len %ld", p->w.prompt_len + p->w.output_len);
            if (p->w.mem_util != 0.9) fprintf(f, " --gpu-memory-utilization %g", p->w.mem_util);
            if (p->w.quant[0]) fprintf(f, " --quantization %s", p->w.quant);
            if (p->w.kv_dtype[0]) fprintf(f, " --kv-cache-dtype %s", p->w.kv_dtype);
            if (l->ep > 1) {
                int local = cnt[j] / (l->tp * l->pp);
                fprintf(f, " --data-parallel-size %d --enable-expert-parallel", l->dp);
                if (k > 1) {
                    int start = 0;
                    for (int q = 0; q < j; q++)
                        start += cnt[q] / (l->tp * l->pp);
                    fprintf(f,
                            " --data-parallel-size-local %d --data-parallel-address %s "
                            "--data-parallel-rpc-port 13345",
                            local, out_addr(&c->hosts[hosts[0]]));
                    if (j) fprintf(f, " --data-parallel-start-rank %d --headless", start);
                }
            } else if (k > 1) {
                if (even) {
                    fprintf(f, " --nnodes %d --node-rank %d --master-addr %s --master-port 29501",
                            k, j, out_addr(&c->hosts[hosts[0]]));
                    if (j) fprintf(f, " --headless");
                } else {
                    /* vLLM's multiprocessing backend wants the same GPU count per node. */
                    fprintf(f, " --distributed-executor-backend ray");
                    if (j)
                        fprintf(f, "   # on this host instead: ray start --address=%s:6379",
                                out_addr(&c->hosts[hosts[0]]));
                    else
                        fprintf(f, "   # first: ray start --head --port=6379");
                }
            }
            fprintf(f, "\n");
        }
    }
out:
    free(hosts);
    free(cnt);
}

static void out_backend(const tacl_plan_t *p, const tacl_layout_t *l, FILE *f)
{
    const tacl_cluster_t *c = p->cluster;
    fprintf(f, "backend settings:\n");
    int cross = 0;
    for (int s = 1; s < l->gpus_used; s++)
        cross |= p->slot_host[s] != p->slot_host[0];
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
        out_partition(l, part, sizeof part);
        fprintf(f,
                "  VLLM_PP_LAYER_PARTITION=%s (uneven memory: vLLM's even split does not "
                "fit as well)\n",
                part);
    }
    if (l->routed)
        fprintf(f, "  tacl routing: groups reach unlinked pairs through relays (run the "
                   "collectives on tacl; NCCL alone cannot)\n");
}

static void out_placement(const tacl_plan_t *p, const tacl_layout_t *l, FILE *f)
{
    const tacl_cluster_t *c = p->cluster;
    int first_layer[1024];
    for (int s = 0, a = 0; s < l->pp && s < 1024; s++)
        first_layer[s] = a, a += l->layers[s];
    fprintf(f, "placement per host:\n");
    for (int h = 0; h < c->nhosts; h++) {
        int any = 0;
        for (int s = 0; s < l->gpus_used; s++) {
            if (p->slot_host[s] != h) continue;
            if (!any) fprintf(f, "  %-12s", c->hosts[h].name);
            int rep = s / (l->tp * l->pp), st = (s / l->tp) % l->pp;
            fprintf(f, " GPU%d=r%d(dp%d,pp%d,tp%d)", p->slot_dev[s], s, rep, st, s % l->tp);
            any = 1;
        }
        if (any)
            fprintf(f, "\n");
        else if (c->hosts[h].ngpus)
            fprintf(f, "  %-12s idle\n", c->hosts[h].name);
    }
    fprintf(f, "placement per rank:\n");
    int shown = 0;
    for (int s = 0; s < l->gpus_used; s++) {
        if (shown++ == 64) {
            fprintf(f, "  ... %d more ranks (-J lists all)\n", l->gpus_used - 64);
            break;
        }
        int rep = s / (l->tp * l->pp), st = (s / l->tp) % l->pp;
        int a = st < 1024 ? first_layer[st] : 0;
        fprintf(f, "  rank %-4d host %-10s GPU %-2d replica %-3d stage %-2d (layers %d-%d) tp %d\n",
                s, c->hosts[p->slot_host[s]].name, p->slot_dev[s], rep, st, a,
                a + l->layers[st] - 1, s % l->tp);
    }
}

void tacl_plan_print_text(const tacl_plan_t *p, const char *model_arg, int max_rows, FILE *f)
{
    const tacl_cluster_t *c = p->cluster;
    const tacl_model_t *m = &p->model;
    double wb = p->w.weight_bytes > 0 ? p->w.weight_bytes : m->weight_bytes;
    fprintf(f, "cluster: %s (%d hosts, %d GPUs)\n", c->source[0] ? c->source : c->name, c->nhosts,
            p->nslots);
    fprintf(f,
            "model:   %s (%.1fB parameters%s, %.3g bytes/weight = %.1f GB, %d layers, %ld "
            "heads, %ld KV heads)\n",
            m->name, tacl_model_total_params(m) / 1e9, m->experts ? ", MoE" : "", wb,
            tacl_model_total_params(m) * wb / 1e9, (int)m->layers, m->heads, m->kv_heads);
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
        const tacl_layout_t *l = &p->layouts[i];
        if (l->state == TACL_LAYOUT_REJECTED) continue;
        if (max_rows && rows >= max_rows) break;
        char name[64];
        out_layout_name(l, name, sizeof name);
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
    int nrej = 0;
    for (int i = 0; i < p->nlayouts; i++)
        nrej += p->layouts[i].state == TACL_LAYOUT_REJECTED;
    if (nrej) {
        fprintf(f, "\nrejected (%d):\n", nrej);
        int shown = 0;
        for (int i = 0; i < p->nlayouts; i++) {
            const tacl_layout_t *l = &p->layouts[i];
            if (l->state != TACL_LAYOUT_REJECTED) continue;
            if (max_rows && shown >= 4 * max_rows) {
                fprintf(f, "  ... %d more (-J lists all)\n", nrej - shown);
                break;
            }
            char name[64];
            out_layout_name(l, name, sizeof name);
            fprintf(f, "  %-22s %s\n", name, l->reason);
            shown++;
        }
    }
    fprintf(f, "\n");
    if (p->best < 0) {
        fprintf(f, "no layout fits this cluster.\n");
        if (p->closest >= 0) {
            const tacl_layout_t *l = &p->layouts[p->closest];
            char name[64];
            out_layout_name(l, name, sizeof name);
            fprintf(f, "closest: %s: %.1f GB missing per GPU (%s)\n", name, l->missing_gb,
                    l->reason);
        }
        return;
    }
    const tacl_layout_t *l = &p->layouts[p->best];
    char name[64], part[512];
    out_layout_name(l, name, sizeof name);
    out_partition(l, part, sizeof part);
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
    tacl_plan_print_vllm(p, l, model_arg, f);
}

/* ---- JSON ---- */

static void out_jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fprintf(f, "\\n");
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void out_jnum(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fprintf(f, "null");
}

static void out_jlayout(const tacl_plan_t *p, const tacl_layout_t *l, FILE *f)
{
    (void)p;
    fprintf(f, "{\"tp\": %d, \"pp\": %d, \"dp\": %d, \"ep\": %d, \"state\": \"%s\", ", l->tp, l->pp,
            l->dp, l->ep,
            l->state == TACL_LAYOUT_OK      ? "ok"
            : l->state == TACL_LAYOUT_NOFIT ? "nofit"
                                            : "rejected");
    fprintf(f, "\"fits\": %s, \"meets_targets\": %s, \"routed\": %s, \"gpus\": %d, ",
            l->state == TACL_LAYOUT_OK ? "true" : "false", l->meets ? "true" : "false",
            l->routed ? "true" : "false", l->gpus_used);
    if (l->state != TACL_LAYOUT_REJECTED) {
        fprintf(f, "\"weight_gb_per_gpu\": ");
        out_jnum(f, l->weight_gb);
        fprintf(f, ", \"kv_tokens\": ");
        out_jnum(f, l->kv_tokens);
        fprintf(f, ", \"layers\": [");
        for (int s = 0; s < l->pp; s++)
            fprintf(f, "%s%d", s ? ", " : "", l->layers[s]);
        fprintf(f, "], \"custom_split\": %s, ", l->custom_split ? "true" : "false");
    }
    if (l->state == TACL_LAYOUT_OK) {
        fprintf(f, "\"ttft_ms\": ");
        out_jnum(f, l->ttft_ms);
        fprintf(f, ", \"tpot_ms\": ");
        out_jnum(f, l->tpot_ms);
        fprintf(f, ", \"tokens_per_s\": ");
        out_jnum(f, l->tok_s);
        fprintf(f, ", \"requests_per_replica\": %ld, \"bottleneck\": ", l->conc_replica);
        out_jstr(f, l->bottleneck);
        fprintf(f, ", ");
    }
    if (l->state == TACL_LAYOUT_NOFIT) {
        fprintf(f, "\"missing_gb_per_gpu\": ");
        out_jnum(f, l->missing_gb);
        fprintf(f, ", ");
    }
    fprintf(f, "\"reason\": ");
    out_jstr(f, l->reason);
    fprintf(f, ", \"note\": ");
    out_jstr(f, l->note);
    fprintf(f, "}");
}

void tacl_plan_print_json(const tacl_plan_t *p, const char *model_arg, FILE *f)
{
    const tacl_cluster_t *c = p->cluster;
    const tacl_model_t *m = &p->model;
    fprintf(f, "{\n  \"cluster\": ");
    out_jstr(f, c->source[0] ? c->source : c->name);
    fprintf(f, ", \"hosts\": %d, \"gpus\": %d,\n  \"model\": {\"name\": ", c->nhosts, p->nslots);
    out_jstr(f, m->name);
    fprintf(f,
            ", \"params\": %.6g, \"active_params\": %.6g, \"layers\": %ld, \"heads\": %ld, "
            "\"kv_heads\": %ld, \"experts\": %ld, \"weight_bytes\": %g},\n",
            tacl_model_total_params(m), tacl_model_active_params(m), m->layers, m->heads,
            m->kv_heads, m->experts, p->w.weight_bytes > 0 ? p->w.weight_bytes : m->weight_bytes);
    fprintf(f,
            "  \"workload\": {\"prompt\": %ld, \"output\": %ld, \"concurrency\": %ld, "
            "\"mem_util\": %g, \"ttft_ms\": %g, \"tpot_ms\": %g, \"rate\": %g},\n",
            p->w.prompt_len, p->w.output_len, p->w.concurrency, p->w.mem_util, p->w.ttft_ms,
            p->w.tpot_ms, p->w.rate);
    fprintf(f, "  \"plan_ms\": %.4g,\n  \"layouts\": [", p->plan_ms);
    for (int i = 0; i < p->nlayouts; i++) {
        fprintf(f, "%s\n    ", i ? "," : "");
        out_jlayout(p, &p->layouts[i], f);
    }
    fprintf(f, "\n  ],\n  \"chosen\": ");
    if (p->best < 0) {
        fprintf(f, "null,\n  \"closest\": ");
        if (p->closest >= 0)
            out_jlayout(p, &p->layouts[p->closest], f);
        else
            fprintf(f, "null");
        fprintf(f, "\n}\n");
        return;
    }
    const tacl_layout_t *l = &p->layouts[p->best];
    out_jlayout(p, l, f);
    fprintf(f, ",\n  \"placement\": [");
    for (int s = 0; s < l->gpus_used; s++) {
        fprintf(f, "%s\n    {\"rank\": %d, \"host\": ", s ? "," : "", s);
        out_jstr(f, c->hosts[p->slot_host[s]].name);
        fprintf(f, ", \"device\": %d, \"replica\": %d, \"stage\": %d, \"tp_rank\": %d}",
                p->slot_dev[s], s / (l->tp * l->pp), (s / l->tp) % l->pp, s % l->tp);
    }
    fprintf(f, "\n  ],\n  \"vllm\": ");
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    if (mf) {
        tacl_plan_print_vllm(p, l, model_arg, mf);
        fclose(mf);
        out_jstr(f, buf ? buf : "");
        free(buf);
    } else {
        fprintf(f, "null");
    }
    fprintf(f, "\n}\n");
}

/* ---- Graphviz ---- */

void tacl_plan_print_dot(const tacl_plan_t *p, FILE *f)
{
    const tacl_cluster_t *c = p->cluster;
    const tacl_layout_t *l = p->best >= 0 ? &p->layouts[p->best] : NULL;
    static const char *const colors[] = {"lightblue", "palegreen",   "khaki",     "lightpink",
                                         "plum",      "lightsalmon", "lightcyan", "wheat"};
    fprintf(f, "graph tacl_plan {\n  node [shape=record, style=filled, fillcolor=white];\n");
    if (l) {
        char name[64];
        out_layout_name(l, name, sizeof name);
        fprintf(f, "  label=\"%s: %.1f ms/token, %.0f tokens/s; red: bottleneck\";\n", name,
                l->tpot_ms, l->tok_s);
    }
    for (int h = 0; h < c->nhosts; h++) {
        int stage = -1;
        fprintf(f, "  h%d [label=\"{%s|%d x %s", h, c->hosts[h].name, c->hosts[h].ngpus,
                c->hosts[h].gpu.name);
        if (l)
            for (int s = 0; s < l->gpus_used; s++)
                if (p->slot_host[s] == h) {
                    int st = (s / l->tp) % l->pp;
                    if (stage < 0) stage = st;
                    fprintf(f, "|GPU%d: r%d pp%d tp%d", p->slot_dev[s], s, st, s % l->tp);
                }
        fprintf(f, "}\"");
        if (stage >= 0) fprintf(f, ", fillcolor=%s", colors[stage % 8]);
        fprintf(f, "];\n");
    }
    /* Links: all declared ones on small clusters (the picture of a big one is unreadable).
     * Links the layout uses are bold; its bottleneck (or, when the GPUs' memory bandwidth is
     * the bottleneck, its most loaded link) is red; pairs the layout's hosts need but lack
     * are dashed. */
    int ra = -1, rb = -1;
    if (l)
        ra = l->bneck_a >= 0 ? l->bneck_a : l->link_a,
        rb = l->bneck_a >= 0 ? l->bneck_b : l->link_b;
    char *used = NULL;
    if (l && c->nhosts <= 64 && (used = calloc((size_t)(c->nhosts * c->nhosts), 1))) {
        int ninst, size;
        out_instances(l, &ninst, &size);
        for (int i = 0; i < ninst; i++)
            for (int s = i * size; s < (i + 1) * size; s++)
                for (int q = s + 1; q < (i + 1) * size; q++) {
                    int a = p->slot_host[s], b = p->slot_host[q];
                    used[a * c->nhosts + b] = used[b * c->nhosts + a] = 1;
                }
    }
    if (c->nhosts <= 64)
        for (int a = 0; a < c->nhosts; a++)
            for (int b = a + 1; b < c->nhosts; b++) {
                double bw, lat;
                int in_use = used && used[a * c->nhosts + b];
                if (!tacl_cluster_link(c, a, b, &bw, &lat)) {
                    if (in_use)
                        fprintf(f, "  h%d -- h%d [style=dashed, color=gray, label=\"no link\"];\n",
                                a, b);
                    continue;
                }
                int bn = (ra == a && rb == b) || (ra == b && rb == a);
                fprintf(f, "  h%d -- h%d [label=\"%.4g GB/s\\n%.3g us%s\"%s%s];\n", a, b, bw, lat,
                        bn ? (l->bneck_a >= 0 ? "\\nbottleneck" : "\\nmost loaded") : "",
                        in_use && !bn ? ", penwidth=2" : "",
                        bn ? ", color=red, penwidth=3, fontcolor=red" : "");
            }
    free(used);
    fprintf(f, "}\n");
}
