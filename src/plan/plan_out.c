/* plan_out.c — what `tacl plan` prints: the ranked table, the rejected layouts with their
 * reasons, the chosen layout's placement per host and per rank, the backend settings, the vLLM
 * command line of every host, and the same as JSON or as a Graphviz picture. */
#include "plan/plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void out_layout_name(const tacl__layout_t *l, char *buf, size_t len)
{
    if (l->ep > 1)
        snprintf(buf, len, "TP%d PP%d DP%d EP%d", l->tp, l->pp, l->dp, l->ep);
    else
        snprintf(buf, len, "TP%d PP%d DP%d", l->tp, l->pp, l->dp);
}

static void out_partition(const tacl__layout_t *l, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = 0;
    for (int s = 0; s < l->pp && k < len; s++)
        k += (size_t)snprintf(buf + k, len - k, "%s%d", s ? "," : "", l->layers[s]);
}

/* The instances of a layout: vLLM processes that share a rendezvous. Dense models run one
 * instance per replica; EP runs one instance over all DP ranks. */
static void out_instances(const tacl__layout_t *l, int *ninst, int *size)
{
    *size = l->ep > 1 ? l->dp * l->tp * l->pp : l->tp * l->pp;
    *ninst = l->ep > 1 ? 1 : l->dp;
}

#define OUT_ARGS       48
#define OUT_ENVS       8
#define OUT_STORE_PORT 29501

/* One host's command of one instance: environment and argv, as printed and as JSON. */
typedef struct {
    int inst, node, nnodes, host, store_host;
    char env[OUT_ENVS][2][160];
    int nenv;
    char argv[OUT_ARGS][160];
    int argc;
    char comment[160]; /* printed after the command (Ray's second step) */
} out_cmd_t;

static void out_env_add(out_cmd_t *m, const char *k, const char *v)
{
    if (m->nenv >= OUT_ENVS) return;
    snprintf(m->env[m->nenv][0], sizeof m->env[0][0], "%s", k);
    snprintf(m->env[m->nenv++][1], sizeof m->env[0][1], "%s", v);
}

static void out_arg(out_cmd_t *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_arg(out_cmd_t *m, const char *fmt, ...)
{
    if (m->argc >= OUT_ARGS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->argv[m->argc++], sizeof m->argv[0], fmt, ap);
    va_end(ap);
}

/* Distinct hosts of instance inst in node order (the order of their first rank), with the
 * ranks each holds. Returns the count. */
static int out_inst_hosts(const tacl__plan_t *p, const tacl__layout_t *l, int inst, int *hosts,
                          int *cnt)
{
    int ninst, size, k = 0;
    out_instances(l, &ninst, &size);
    for (int i = inst * size; i < (inst + 1) * size; i++) {
        int h = p->slot_host[tacl__layout_slot(l, i)], j;
        for (j = 0; j < k && hosts[j] != h; j++) {
        }
        if (j == k) hosts[k] = h, cnt[k++] = 0;
        cnt[j]++;
    }
    return k;
}

/* The command of node j of instance inst. */
static void out_cmd(const tacl__plan_t *p, const tacl__layout_t *l, const char *model_arg, int inst,
                    const int *hosts, const int *cnt, int k, int j, int store, out_cmd_t *m)
{
    const tacl_cluster_t *c = p->cluster;
    const tacl__cluster_host_t *h = &c->hosts[hosts[j]];
    int ninst, size;
    out_instances(l, &ninst, &size);
    memset(m, 0, sizeof *m);
    m->inst = inst, m->node = j, m->nnodes = k, m->host = hosts[j], m->store_host = store;
    /* The devices of this instance on this host, in rank order. */
    int ndev = 0, contiguous = 1;
    char devs[160] = "";
    for (int i = inst * size; i < (inst + 1) * size; i++) {
        int s = tacl__layout_slot(l, i);
        if (p->slot_host[s] != hosts[j]) continue;
        size_t n = strlen(devs);
        snprintf(devs + n, sizeof devs - n, "%s%d", ndev ? "," : "", p->slot_dev[s]);
        contiguous &= p->slot_dev[s] == ndev;
        ndev++;
    }
    if (!contiguous || ndev != h->ngpus) out_env_add(m, "CUDA_VISIBLE_DEVICES", devs);
    if (l->custom_split) {
        char part[160];
        out_partition(l, part, sizeof part);
        out_env_add(m, "VLLM_PP_LAYER_PARTITION", part);
    }
    if (h->ifname[0]) {
        out_env_add(m, "NCCL_SOCKET_IFNAME", h->ifname);
        out_env_add(m, "GLOO_SOCKET_IFNAME", h->ifname);
    }
    /* The address this host's peers use for it: the one on the store's network. */
    if (k > 1 && h->naddrs)
        out_env_add(m, "VLLM_HOST_IP", tacl__cluster_addr_for(c, store, hosts[j]));
    out_arg(m, "vllm");
    out_arg(m, "serve");
    out_arg(m, "%s", model_arg);
    out_arg(m, "--tensor-parallel-size");
    out_arg(m, "%d", l->tp);
    out_arg(m, "--pipeline-parallel-size");
    out_arg(m, "%d", l->pp);
    if (ninst > 1) out_arg(m, "--port"), out_arg(m, "%d", 8000 + inst);
    out_arg(m, "--max-model-len");
    out_arg(m, "%ld", p->w.prompt_len + p->w.output_len);
    if (p->w.mem_util != 0.9)
        out_arg(m, "--gpu-memory-utilization"), out_arg(m, "%g", p->w.mem_util);
    if (p->w.quant[0]) out_arg(m, "--quantization"), out_arg(m, "%s", p->w.quant);
    if (p->w.kv_dtype[0]) out_arg(m, "--kv-cache-dtype"), out_arg(m, "%s", p->w.kv_dtype);
    int even = 1;
    for (int q = 1; q < k; q++)
        even &= cnt[q] == cnt[0];
    if (l->ep > 1) {
        out_arg(m, "--data-parallel-size");
        out_arg(m, "%d", l->dp);
        out_arg(m, "--enable-expert-parallel");
        if (k > 1) {
            int start = 0;
            for (int q = 0; q < j; q++)
                start += cnt[q] / (l->tp * l->pp);
            out_arg(m, "--data-parallel-size-local");
            out_arg(m, "%d", cnt[j] / (l->tp * l->pp));
            out_arg(m, "--data-parallel-address");
            out_arg(m, "%s", tacl__cluster_addr_for(c, hosts[j], store));
            out_arg(m, "--data-parallel-rpc-port");
            out_arg(m, "13345");
            if (j) {
                out_arg(m, "--data-parallel-start-rank");
                out_arg(m, "%d", start);
                out_arg(m, "--headless");
            }
        }
    } else if (k > 1) {
        if (even) {
            out_arg(m, "--nnodes");
            out_arg(m, "%d", k);
            out_arg(m, "--node-rank");
            out_arg(m, "%d", j);
            out_arg(m, "--master-addr");
            out_arg(m, "%s", tacl__cluster_addr_for(c, hosts[j], store));
            out_arg(m, "--master-port");
            out_arg(m, "%d", OUT_STORE_PORT);
            if (j) out_arg(m, "--headless");
        } else {
            /* vLLM's multiprocessing backend wants the same GPU count per node. */
            out_arg(m, "--distributed-executor-backend");
            out_arg(m, "ray");
            if (j)
                snprintf(m->comment, sizeof m->comment,
                         "on this host instead: ray start --address=%s:6379",
                         tacl__cluster_addr_for(c, hosts[j], store));
            else
                snprintf(m->comment, sizeof m->comment, "first: ray start --head --port=6379");
        }
    }
}

/* The standalone store a host other than node 0 runs (torch's TCPStore, which vLLM's ranks
 * reach through --master-addr; rank 0 then connects to it like every other rank). */
static const char *const out_store_argv[] = {
    "python3", "-c",
    "import time, torch.distributed as d; s = d.TCPStore('0.0.0.0', 29501, is_master=True, "
    "wait_for_workers=False); time.sleep(1e9)",
    NULL};

static void out_shell_word(FILE *f, const char *w)
{
    if (strpbrk(w, " '\"$;&|()<>*?`\\!")) {
        fputc('\'', f);
        for (; *w; w++)
            if (*w == '\'')
                fprintf(f, "'\\''");
            else
                fputc(*w, f);
        fputc('\'', f);
    } else {
        fputs(w, f);
    }
}

void tacl__plan_print_vllm(const tacl__plan_t *p, const tacl__layout_t *l, const char *model_arg,
                           FILE *f)
{
    const tacl_cluster_t *c = p->cluster;
    int ninst, size;
    out_instances(l, &ninst, &size);
    int *hosts = malloc(sizeof(int) * (size_t)size), *cnt = malloc(sizeof(int) * (size_t)size);
    out_cmd_t *m = malloc(sizeof *m);
    if (!hosts || !cnt || !m) goto out;
    for (int i = 0; i < ninst; i++) {
        int k = out_inst_hosts(p, l, i, hosts, cnt);
        int store = tacl__plan_store_host(p, l, i);
        if (store < 0) store = hosts[0];
        if (k > 1 && store != hosts[0]) {
            fprintf(f,
                    "  # instance %d: the store on %s, which every host of the instance "
                    "reaches directly (node 0, %s, is not reached by all); start it first:\n  ",
                    i, c->hosts[store].name, c->hosts[hosts[0]].name);
            for (int a = 0; out_store_argv[a]; a++) {
                if (a) fputc(' ', f);
                out_shell_word(f, out_store_argv[a]);
            }
            fprintf(f, " &\n");
        }
        for (int j = 0; j < k; j++) {
            out_cmd(p, l, model_arg, i, hosts, cnt, k, j, store, m);
            fprintf(f, "  # instance %d, host %s (node %d of %d)\n  ", i, c->hosts[hosts[j]].name,
                    j, k);
            for (int e = 0; e < m->nenv; e++)
                fprintf(f, "%s=%s ", m->env[e][0], m->env[e][1]);
            for (int a = 0; a < m->argc; a++) {
                if (a) fputc(' ', f);
                out_shell_word(f, m->argv[a]);
            }
            if (m->comment[0]) fprintf(f, "   # %s", m->comment);
            fprintf(f, "\n");
        }
    }
out:
    free(hosts);
    free(cnt);
    free(m);
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
    /* The notes of every listed layout, not only the chosen one's. */
    for (int i = 0, shown = 0, any = 0; i < p->nlayouts; i++) {
        const tacl__layout_t *l = &p->layouts[i];
        if (l->state != TACL_LAYOUT_OK) continue;
        if (max_rows && shown++ >= max_rows) break;
        if (!l->note[0]) continue;
        char name[64];
        out_layout_name(l, name, sizeof name);
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
            out_layout_name(l, name, sizeof name);
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
            out_layout_name(x, name, sizeof name);
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
            out_layout_name(l, name, sizeof name);
            fprintf(f, "closest: %s: %.1f GB missing per GPU (%s)\n", name, l->missing_gb,
                    l->reason);
        }
        return;
    }
    const tacl__layout_t *l = &p->layouts[p->best];
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
    tacl__plan_print_vllm(p, l, model_arg, f);
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

static void out_jlayout(const tacl__plan_t *p, const tacl__layout_t *l, FILE *f)
{
    fprintf(f, "{\"tp\": %d, \"pp\": %d, \"dp\": %d, \"ep\": %d, \"state\": \"%s\", ", l->tp, l->pp,
            l->dp, l->ep,
            l->state == TACL_LAYOUT_OK      ? "ok"
            : l->state == TACL_LAYOUT_NOFIT ? "nofit"
                                            : "rejected");
    fprintf(f,
            "\"fits\": %s, \"meets_targets\": %s, \"routed\": %s, \"gpus\": %d, "
            "\"partial\": %s, \"replicas_possible\": %d, ",
            l->state == TACL_LAYOUT_OK ? "true" : "false", l->meets ? "true" : "false",
            l->routed ? "true" : "false", l->gpus_used, l->reps ? "true" : "false",
            l->dp_full ? l->dp_full : l->dp);
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
    if (l->state == TACL_LAYOUT_OK) {
        /* The collectives of one decode step of this layout's first replica: the TP
         * all-reduce of the batch's hidden states and the PP send between stages 0 and 1. */
        double act = (double)l->conc_replica * (double)p->model.hidden * 2;
        int slots[2], *tps = malloc(sizeof(int) * (size_t)l->tp);
        tacl__pred_t pr;
        fprintf(f, "\"predict\": {");
        if (tps && l->tp > 1) {
            for (int t = 0; t < l->tp; t++)
                tps[t] = tacl__layout_slot(l, t);
            if (tacl__plan_predict(p, TACL_PRED_ALL_REDUCE, act, tps, l->tp, p->calib, &pr) ==
                TACL_OK)
                fprintf(f,
                        "\"tp_all_reduce\": {\"bytes\": %.0f, \"eager_us\": %.4g, "
                        "\"graph_us\": %.4g}%s",
                        act, pr.eager_us, pr.graph_us, l->pp > 1 ? ", " : "");
        }
        if (l->pp > 1) {
            slots[0] = tacl__layout_slot(l, 0), slots[1] = tacl__layout_slot(l, l->tp);
            if (tacl__plan_predict(p, TACL_PRED_SENDRECV, 2 * act, slots, 2, p->calib, &pr) ==
                TACL_OK)
                fprintf(f,
                        "\"pp_send\": {\"bytes\": %.0f, \"eager_us\": %.4g, \"graph_us\": "
                        "%.4g}",
                        2 * act, pr.eager_us, pr.graph_us);
        }
        fprintf(f, "}, ");
        free(tps);
    }
    fprintf(f, "\"reason\": ");
    out_jstr(f, l->reason);
    fprintf(f, ", \"note\": ");
    out_jstr(f, l->note);
    fprintf(f, "}");
}

void tacl__plan_print_json(const tacl__plan_t *p, const char *model_arg, FILE *f)
{
    const tacl_cluster_t *c = p->cluster;
    const tacl__model_t *m = &p->model;
    fprintf(f, "{\n  \"cluster\": ");
    out_jstr(f, c->source[0] ? c->source : c->name);
    fprintf(f, ", \"hosts\": %d, \"gpus\": %d,\n  \"model\": {\"name\": ", c->nhosts, p->nslots);
    out_jstr(f, m->name);
    fprintf(f,
            ", \"params\": %.6g, \"active_params\": %.6g, \"layers\": %ld, \"heads\": %ld, "
            "\"kv_heads\": %ld, \"experts\": %ld, \"weight_bytes\": %g},\n",
            tacl__model_total_params(m), tacl__model_active_params(m), m->layers, m->heads,
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
    fprintf(f, "\n  ],\n  \"mixed\": ");
    if (p->nmixed) {
        fprintf(f, "{\"tokens_per_s\": %.6g, \"sets\": [", p->mixed_tok_s);
        for (int k = 0; k < p->nmixed; k++) {
            const tacl_cluster_t *sc = p->mixed_cluster[k];
            fprintf(f, "%s\n    {\"gpu\": ", k ? "," : "");
            out_jstr(f, sc->hosts[0].gpu.name);
            fprintf(f, ", \"hosts\": [");
            for (int h = 0; h < sc->nhosts; h++) {
                if (h) fprintf(f, ", ");
                out_jstr(f, sc->hosts[h].name);
            }
            fprintf(f, "], \"concurrency\": %ld, \"layout\": ", p->mixed[k]->w.concurrency);
            out_jlayout(p->mixed[k], &p->mixed[k]->layouts[p->mixed[k]->best], f);
            fprintf(f, "}");
        }
        fprintf(f, "\n  ]}");
    } else {
        fprintf(f, "null");
    }
    fprintf(f, ",\n  \"chosen\": ");
    if (p->best < 0) {
        fprintf(f, "null,\n  \"closest\": ");
        if (p->closest >= 0)
            out_jlayout(p, &p->layouts[p->closest], f);
        else
            fprintf(f, "null");
        fprintf(f, "\n}\n");
        return;
    }
    const tacl__layout_t *l = &p->layouts[p->best];
    out_jlayout(p, l, f);
    fprintf(f, ",\n  \"placement\": [");
    for (int i = 0; i < l->gpus_used; i++) {
        int s = tacl__layout_slot(l, i);
        fprintf(f, "%s\n    {\"rank\": %d, \"host\": ", i ? "," : "", i);
        out_jstr(f, c->hosts[p->slot_host[s]].name);
        fprintf(f, ", \"device\": %d, \"replica\": %d, \"stage\": %d, \"tp_rank\": %d}",
                p->slot_dev[s], i / (l->tp * l->pp), (i / l->tp) % l->pp, i % l->tp);
    }
    fprintf(f, "\n  ],\n  \"store\": [");
    int ninst, size;
    out_instances(l, &ninst, &size);
    int *hosts = malloc(sizeof(int) * (size_t)size), *cnt = malloc(sizeof(int) * (size_t)size);
    out_cmd_t *cmd = malloc(sizeof *cmd);
    if (!hosts || !cnt || !cmd) {
        free(hosts);
        free(cnt);
        free(cmd);
        fprintf(f, "],\n  \"vllm\": null\n}\n");
        return;
    }
    /* Per instance: the store host, the address each host uses for it, and the command the
     * store host runs when it is not node 0. */
    for (int i = 0; i < ninst; i++) {
        int k = out_inst_hosts(p, l, i, hosts, cnt);
        int store = tacl__plan_store_host(p, l, i);
        if (store < 0) store = hosts[0];
        fprintf(f, "%s\n    {\"instance\": %d, \"host\": ", i ? "," : "", i);
        out_jstr(f, c->hosts[store].name);
        fprintf(f, ", \"port\": %d, \"node0\": %s, \"addresses\": {", OUT_STORE_PORT,
                store == hosts[0] ? "true" : "false");
        for (int j = 0; j < k; j++) {
            if (j) fprintf(f, ", ");
            out_jstr(f, c->hosts[hosts[j]].name);
            fprintf(f, ": ");
            out_jstr(f, tacl__cluster_addr_for(c, hosts[j], store));
        }
        fprintf(f, "}, \"argv\": ");
        if (k > 1 && store != hosts[0]) {
            fprintf(f, "[");
            for (int a = 0; out_store_argv[a]; a++) {
                if (a) fprintf(f, ", ");
                out_jstr(f, out_store_argv[a]);
            }
            fprintf(f, "]}");
        } else {
            fprintf(f, "null}");
        }
    }
    fprintf(f, "\n  ],\n  \"vllm\": [");
    for (int i = 0, first = 1; i < ninst; i++) {
        int k = out_inst_hosts(p, l, i, hosts, cnt);
        int store = tacl__plan_store_host(p, l, i);
        if (store < 0) store = hosts[0];
        for (int j = 0; j < k; j++, first = 0) {
            out_cmd(p, l, model_arg, i, hosts, cnt, k, j, store, cmd);
            fprintf(f, "%s\n    {\"instance\": %d, \"node\": %d, \"host\": ", first ? "" : ",", i,
                    j);
            out_jstr(f, c->hosts[hosts[j]].name);
            fprintf(f, ", \"env\": {");
            for (int e = 0; e < cmd->nenv; e++) {
                if (e) fprintf(f, ", ");
                out_jstr(f, cmd->env[e][0]);
                fprintf(f, ": ");
                out_jstr(f, cmd->env[e][1]);
            }
            fprintf(f, "}, \"argv\": [");
            for (int a = 0; a < cmd->argc; a++) {
                if (a) fprintf(f, ", ");
                out_jstr(f, cmd->argv[a]);
            }
            fprintf(f, "]");
            if (cmd->comment[0]) {
                fprintf(f, ", \"comment\": ");
                out_jstr(f, cmd->comment);
            }
            fprintf(f, "}");
        }
    }
    fprintf(f, "\n  ]\n}\n");
    free(hosts);
    free(cnt);
    free(cmd);
}

/* ---- Graphviz ---- */

void tacl__plan_print_dot(const tacl__plan_t *p, FILE *f)
{
    const tacl_cluster_t *c = p->cluster;
    const tacl__layout_t *l = p->best >= 0 ? &p->layouts[p->best] : NULL;
    static const char *const colors[] = {"lightblue", "palegreen",   "khaki",     "lightpink",
                                         "plum",      "lightsalmon", "lightcyan", "wheat"};
    fprintf(f, "graph tacl_plan {\n  node [shape=record, style=filled, fillcolor=white];\n");
    if (l) {
        char name[64];
        out_layout_name(l, name, sizeof name);
        fprintf(f, "  label=\"%s: %.1f ms/token, %.0f tokens/s; red: bottleneck\";\n", name,
                l->tpot_ms, l->tok_s);
    }
    /* Each host's GPUs of the layout, as per-host lists (one pass over the GPUs). */
    int *dhead = NULL, *dnext = NULL;
    if (l && (dhead = malloc(sizeof(int) * (size_t)c->nhosts)) &&
        (dnext = malloc(sizeof(int) * (size_t)(l->gpus_used + 1)))) {
        for (int h = 0; h < c->nhosts; h++)
            dhead[h] = -1;
        for (int i = l->gpus_used - 1; i >= 0; i--) {
            int h = p->slot_host[tacl__layout_slot(l, i)];
            dnext[i] = dhead[h], dhead[h] = i;
        }
    } else {
        free(dhead);
        dhead = NULL;
    }
    for (int h = 0; h < c->nhosts; h++) {
        int stage = -1;
        fprintf(f, "  h%d [label=\"{%s|%d x %s", h, c->hosts[h].name, c->hosts[h].ngpus,
                c->hosts[h].gpu.name);
        for (int i = dhead ? dhead[h] : -1; i >= 0; i = dnext[i]) {
            int s = tacl__layout_slot(l, i), st = (i / l->tp) % l->pp;
            if (stage < 0) stage = st;
            fprintf(f, "|GPU%d: r%d pp%d tp%d", p->slot_dev[s], i, st, i % l->tp);
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
                    int a = p->slot_host[tacl__layout_slot(l, s)],
                        b = p->slot_host[tacl__layout_slot(l, q)];
                    used[a * c->nhosts + b] = used[b * c->nhosts + a] = 1;
                }
    }
    if (c->nhosts <= 64)
        for (int a = 0; a < c->nhosts; a++)
            for (int b = a + 1; b < c->nhosts; b++) {
                double bw, lat;
                int in_use = used && used[a * c->nhosts + b];
                if (!tacl__cluster_link(c, a, b, &bw, &lat)) {
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
    free(dhead);
    free(dnext);
    fprintf(f, "}\n");
}
