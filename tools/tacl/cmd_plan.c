/* cmd_plan.c — `tacl plan`: reads a cluster description and a model (preset or config.json),
 * searches every serving layout and prints the ranked table, the rejected layouts with their
 * reasons, the chosen placement and the vLLM command line of each host (-J: JSON, --dot:
 * Graphviz). Exit status 0 when a layout fits, 1 when none does or an input is bad. */
#include "cli.h"
#include "plan/plan.h"
#include "topo/cluster_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int plan_num(const char *opt, const char *v, double min, double *out)
{
    char *end;
    double x = v ? strtod(v, &end) : 0;
    if (!v || end == v || *end || !(x >= min)) {
        fprintf(stderr, "tacl plan: %s: expected a number >= %g, found '%s'\n", opt, min,
                v ? v : "(nothing)");
        return 0;
    }
    *out = x;
    return 1;
}

/* Bytes per element for a dtype or quantisation name. */
static double plan_dtype_bytes(const char *s)
{
    if (!strcasecmp(s, "bf16") || !strcasecmp(s, "fp16") || !strcasecmp(s, "bfloat16") ||
        !strcasecmp(s, "float16") || !strcasecmp(s, "auto"))
        return 2;
    if (!strcasecmp(s, "fp8") || !strcasecmp(s, "int8") || !strcasecmp(s, "fp8_e4m3") ||
        !strcasecmp(s, "fp8_e5m2"))
        return 1;
    if (!strcasecmp(s, "int4") || !strcasecmp(s, "awq") || !strcasecmp(s, "gptq") ||
        !strcasecmp(s, "fp4") || !strcasecmp(s, "nvfp4"))
        return 0.5;
    if (!strcasecmp(s, "fp32") || !strcasecmp(s, "float32")) return 4;
    return 0;
}

static int plan_run(int argc, char **argv)
{
    const char *cluster_path = NULL, *model_arg = NULL, *vllm_model = NULL, *pick = NULL;
    int json = 0, dot = 0;
    double rows = 10, v;
    tacl_workload_t w;
    tacl_workload_default(&w);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1;
        if (!strcmp(a, "--cluster"))
            cluster_path = val;
        else if (!strcmp(a, "--model"))
            model_arg = val;
        else if (!strcmp(a, "--served-model"))
            vllm_model = val;
        else if (!strcmp(a, "--layout"))
            pick = val;
        else if (!strcmp(a, "--prompt")) {
            if (!plan_num(a, val, 1, &v)) return 2;
            w.prompt_len = (long)v;
        } else if (!strcmp(a, "--output")) {
            if (!plan_num(a, val, 1, &v)) return 2;
            w.output_len = (long)v;
        } else if (!strcmp(a, "--concurrency")) {
            if (!plan_num(a, val, 1, &v)) return 2;
            w.concurrency = (long)v;
        } else if (!strcmp(a, "--rate")) {
            if (!plan_num(a, val, 0, &w.rate)) return 2;
        } else if (!strcmp(a, "--ttft")) {
            if (!plan_num(a, val, 0, &w.ttft_ms)) return 2;
        } else if (!strcmp(a, "--tpot")) {
            if (!plan_num(a, val, 0, &w.tpot_ms)) return 2;
        } else if (!strcmp(a, "--gpu-memory-utilization") || !strcmp(a, "--mem-util")) {
            if (!plan_num(a, val, 0.01, &w.mem_util) || w.mem_util > 1) {
                fprintf(stderr, "tacl plan: %s: expected a fraction in (0, 1]\n", a);
                return 2;
            }
        } else if (!strcmp(a, "--overhead-gb")) {
            if (!plan_num(a, val, 0, &w.overhead_gb)) return 2;
        } else if (!strcmp(a, "--quantization") || !strcmp(a, "--weight-dtype") ||
                   !strcmp(a, "--kv-cache-dtype")) {
            double b = val ? plan_dtype_bytes(val) : 0;
            if (b <= 0) {
                fprintf(stderr,
                        "tacl plan: %s: expected bf16, fp16, fp8, int8, int4, awq, gptq or "
                        "fp32, found '%s'\n",
                        a, val ? val : "(nothing)");
                return 2;
            }
            if (!strcmp(a, "--kv-cache-dtype")) {
                w.kv_bytes = b;
                snprintf(w.kv_dtype, sizeof w.kv_dtype, "%s", b < 2 ? val : "");
            } else {
                w.weight_bytes = b;
                snprintf(w.quant, sizeof w.quant, "%s", b < 2 ? val : "");
            }
        } else if (!strcmp(a, "--max-tp")) {
            if (!plan_num(a, val, 1, &v)) return 2;
            w.max_tp = (int)v;
        } else if (!strcmp(a, "--rows")) {
            if (!plan_num(a, val, 0, &rows)) return 2;
        } else {
            used = 0;
            if (!strcmp(a, "-J") || !strcmp(a, "--json"))
                json = 1;
            else if (!strcmp(a, "--dot"))
                dot = 1;
            else if (!strcmp(a, "--allow-routing"))
                w.allow_routing = 1;
            else {
                fprintf(stderr, "tacl plan: unknown option '%s' (tacl plan --help)\n", a);
                return 2;
            }
        }
        if (used) {
            if (!val) {
                fprintf(stderr, "tacl plan: %s needs a value\n", a);
                return 2;
            }
            i++;
        }
    }
    if (!cluster_path || !model_arg) {
        fprintf(stderr, "tacl plan: expected --cluster FILE and --model NAME|config.json\n");
        return 2;
    }
    tacl_cluster_t *c = NULL;
    tacl_model_t m;
    tacl_plan_t *p = NULL;
    if (tacl_cluster_load(cluster_path, &c) != TACL_OK ||
        tacl_model_load(model_arg, &m) != TACL_OK ||
        tacl_plan_create(c, &m, &w, NULL, &p) != TACL_OK) {
        fprintf(stderr, "tacl plan: %s\n", tacl_last_error());
        tacl_cluster_destroy(c);
        return 1;
    }
    if (pick) {
        /* Show this layout as the chosen one (its placement, settings, vLLM lines). */
        int tp = 0, pp = 1, ep = 0, i;
        if (sscanf(pick, "%d,%d,%d", &tp, &pp, &ep) < 1 || tp < 1 || pp < 1 || ep < 0) {
            fprintf(stderr, "tacl plan: --layout: expected TP[,PP[,EP]], found '%s'\n", pick);
            tacl_plan_destroy(p);
            tacl_cluster_destroy(c);
            return 2;
        }
        const tacl_layout_t *l = tacl_plan_find(p, tp, pp, ep);
        if (!l || l->state != TACL_LAYOUT_OK) {
            fprintf(stderr, "tacl plan: layout TP%d PP%d%s: %s\n", tp, pp, ep > 1 ? " EP" : "",
                    l ? l->reason : "not among the layouts searched (more GPUs than the cluster?)");
            tacl_plan_destroy(p);
            tacl_cluster_destroy(c);
            return 1;
        }
        for (i = 0; &p->layouts[i] != l; i++) {
        }
        p->best = i;
    }
    /* vLLM takes the checkpoint's folder, not its config.json. */
    char dir[1024];
    const char *served = vllm_model ? vllm_model : model_arg;
    const char *slash = strrchr(model_arg, '/');
    if (!vllm_model && slash && !strcmp(slash + 1, "config.json") &&
        (size_t)(slash - model_arg) < sizeof dir) {
        memcpy(dir, model_arg, (size_t)(slash - model_arg));
        dir[slash - model_arg] = 0;
        served = dir;
    }
    if (json)
        tacl_plan_print_json(p, served, stdout);
    else if (dot)
        tacl_plan_print_dot(p, stdout);
    else
        tacl_plan_print_text(p, served, (int)rows, stdout);
    int rc = p->best >= 0 ? 0 : 1;
    tacl_plan_destroy(p);
    tacl_cluster_destroy(c);
    return rc;
}

const tacl_cmd_t tacl_cmd_plan = {
    .name = "plan",
    .summary = "choose a serving layout (TP/PP/DP/EP, placement, vLLM flags) for a cluster",
    .usage =
        "usage: tacl plan --cluster FILE --model NAME|config.json [options]\n\n"
        "Evaluates every layout DP x PP x TP (and EP for MoE models) on the cluster's GPUs and\n"
        "prints them ranked, the reasons rejected layouts were rejected, the chosen placement\n"
        "per host and rank, backend settings, and the vLLM command line for each host.\n"
        "Cluster format: docs/CLUSTER_FORMAT.md. Cost model: docs/COST_MODEL.md.\n\n"
        "  --cluster FILE          cluster description (YAML or JSON)\n"
        "  --model NAME|PATH       preset (Llama-3-8B, Llama-3-70B, Llama-3.1-405B, Qwen2.5-72B,\n"
        "                          Mixtral-8x7B, DeepSeek-V3, ...) or a Hugging Face config.json\n"
        "  --served-model NAME     model name to put on the vLLM command line\n"
        "  --prompt N              prompt tokens per request (2048)\n"
        "  --output N              output tokens per request (512)\n"
        "  --concurrency N         requests in flight over the deployment (64)\n"
        "  --rate R                target requests/s (checked against throughput)\n"
        "  --ttft MS, --tpot MS    latency targets\n"
        "  --gpu-memory-utilization F   fraction of GPU memory for vLLM (0.9)\n"
        "  --overhead-gb G         per-GPU memory outside weights and KV (2)\n"
        "  --quantization Q        weights: bf16, fp8, int8, int4, awq, gptq (the model's)\n"
        "  --kv-cache-dtype D      KV cache: bf16, fp8 (bf16)\n"
        "  --allow-routing         accept groups whose unlinked pairs tacl routes via relays\n"
        "  --max-tp N              largest TP to consider (8 hosts' GPUs)\n"
        "  --rows N                layouts shown in the table (10; 0: all)\n"
        "  --layout TP[,PP[,EP]]   detail this layout instead of the best one\n"
        "  -J, --json              JSON output\n"
        "  --dot                   Graphviz picture of the chosen placement (bottleneck in red)\n",
    .run = plan_run,
};
