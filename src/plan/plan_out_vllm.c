/* plan_out_vllm.c — the vLLM command line of every host of a layout: the hosts of each
 * instance, each one's environment and argv (printed here, as JSON by plan_out_json.c), and the
 * standalone store a host other than node 0 runs. */
#include "plan/plan_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void out_env_add(tacl__plan_out_cmd_t *m, const char *k, const char *v)
{
    if (m->nenv >= PLAN_OUT_ENVS) return;
    snprintf(m->env[m->nenv][0], sizeof m->env[0][0], "%s", k);
    snprintf(m->env[m->nenv++][1], sizeof m->env[0][1], "%s", v);
}

static void out_arg(tacl__plan_out_cmd_t *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void out_arg(tacl__plan_out_cmd_t *m, const char *fmt, ...)
{
    if (m->argc >= PLAN_OUT_ARGS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->argv[m->argc++], sizeof m->argv[0], fmt, ap);
    va_end(ap);
}

/* Distinct hosts of instance inst in node order (the order of their first rank), with the
 * ranks each holds. Returns the count. */
int tacl__plan_out_inst_hosts(const tacl__plan_t *p, const tacl__layout_t *l, int inst, int *hosts,
                              int *cnt)
{
    int ninst, size, k = 0;
    tacl__plan_out_instances(l, &ninst, &size);
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
void tacl__plan_out_cmd(const tacl__plan_t *p, const tacl__layout_t *l, const char *model_arg,
                        int inst, const int *hosts, const int *cnt, int k, int j, int store,
                        tacl__plan_out_cmd_t *m)
{
    const tacl_cluster_t *c = p->cluster;
    const tacl__cluster_host_t *h = &c->hosts[hosts[j]];
    int ninst, size;
    tacl__plan_out_instances(l, &ninst, &size);
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
        tacl__plan_out_partition(l, part, sizeof part);
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
            out_arg(m, "%d", PLAN_OUT_STORE_PORT);
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
const char *const tacl__plan_out_store_argv[] = {
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
    tacl__plan_out_instances(l, &ninst, &size);
    int *hosts = malloc(sizeof(int) * (size_t)size), *cnt = malloc(sizeof(int) * (size_t)size);
    tacl__plan_out_cmd_t *m = malloc(sizeof *m);
    if (!hosts || !cnt || !m) goto out;
    for (int i = 0; i < ninst; i++) {
        int k = tacl__plan_out_inst_hosts(p, l, i, hosts, cnt);
        int store = tacl__plan_store_host(p, l, i);
        if (store < 0) store = hosts[0];
        if (k > 1 && store != hosts[0]) {
            fprintf(f,
                    "  # instance %d: the store on %s, which every host of the instance "
                    "reaches directly (node 0, %s, is not reached by all); start it first:\n  ",
                    i, c->hosts[store].name, c->hosts[hosts[0]].name);
            for (int a = 0; tacl__plan_out_store_argv[a]; a++) {
                if (a) fputc(' ', f);
                out_shell_word(f, tacl__plan_out_store_argv[a]);
            }
            fprintf(f, " &\n");
        }
        for (int j = 0; j < k; j++) {
            tacl__plan_out_cmd(p, l, model_arg, i, hosts, cnt, k, j, store, m);
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
