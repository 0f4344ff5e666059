/* cmd_plan.c — `tacl plan`: reads a cluster description and a model (preset or config.json),
 * searches every serving layout and prints the ranked table, the rejected layouts with their
 * reasons, the chosen placement and the vLLM command line of each host (-J: JSON, --dot:
 * Graphviz). `--predict COLL SIZE --gpus ...` prints the cost model's time for one collective;
 * `--calibrate FILE...` turns bench or doctor output into a calibration file, which
 * `--calibration FILE` feeds to the model. Exit status 0 when a layout fits (or a prediction
 * was made), 1 when none does or an input is bad, 2 on a usage error. */
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

/* A cluster whose hosts cannot reach each other is almost always a file missing its links. */
static void plan_warn_links(const tacl_cluster_t *c)
{
    if (c->nhosts > 1 && c->nlinks == 0 && !c->has_default)
        fprintf(stderr,
                "tacl plan: warning: %s: %d hosts but no links: and no default_link:, so no two "
                "hosts can reach each other (absent links are unreachable; "
                "docs/CLUSTER_FORMAT.md)\n",
                c->source, c->nhosts);
}

/* "1MiB", "64K", "2GB", "4096" -> bytes (K/M/G and KiB/MiB/GiB: powers of 1024; KB/MB/GB:
 * powers of 1000). */
static int plan_size(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v >= 0)) return 0;
    static const struct {
        const char *u;
        double m;
    } units[] = {{"", 1},        {"B", 1},         {"K", 1024},         {"KiB", 1024},
                 {"M", 1048576}, {"MiB", 1048576}, {"G", 1073741824.0}, {"GiB", 1073741824.0},
                 {"KB", 1e3},    {"MB", 1e6},      {"GB", 1e9}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].u)) {
            *out = v * units[i].m;
            return 1;
        }
    return 0;
}

/* --gpus: N (the first N GPUs in placement order) or HOST[:D|:D0-D1][,HOST...]. */
static int plan_gpus(const tacl__plan_t *p, const char *spec, int *slots, int max)
{
    const tacl_cluster_t *c = p->cluster;
    char *end;
    long n = strtol(spec, &end, 10);
    if (end != spec && !*end) {
        if (n < 1 || n > p->nslots || n > max) {
            fprintf(stderr, "tacl plan: --gpus %s: expected 1..%d GPUs\n", spec, p->nslots);
            return -1;
        }
        for (int i = 0; i < n; i++)
            slots[i] = i;
        return (int)n;
    }
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec);
    int k = 0;
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        int d0 = 0, d1 = -1;
        if (colon) {
            *colon = 0;
            if (sscanf(colon + 1, "%d-%d", &d0, &d1) == 1) d1 = d0;
        }
        int h = tacl__cluster_find_host(c, item);
        if (h < 0) {
            fprintf(stderr, "tacl plan: --gpus: expected a host of the cluster, found '%s'\n",
                    item);
            return -1;
        }
        if (d1 < 0) d1 = c->hosts[h].ngpus - 1;
        for (int d = d0; d <= d1; d++) {
            int s;
            for (s = 0; s < p->nslots && !(p->slot_host[s] == h && p->slot_dev[s] == d); s++) {
            }
            if (s == p->nslots || k >= max) {
                fprintf(stderr, "tacl plan: --gpus: host %s has no GPU %d (it has %d)\n",
                        c->hosts[h].name, d, c->hosts[h].ngpus);
                return -1;
            }
            slots[k++] = s;
        }
    }
    return k;
}

/* --predict --backend host: tacl's collectives on host memory have no model constants; a
 * fit measured by `tacl bench` (host run) answers. */
static int plan_predict_host(int k, double bytes, const char *gpus, const tacl__calib_t *cal,
                             int json)
{
    int n = atoi(gpus);
    const tacl__calib_fit_t *x = tacl__calib_find(cal, k, "host", 0, n);
    if (n < 1 || !x) {
        fprintf(stderr,
                "tacl plan: --predict --backend host: expected --calibration with a host "
                "`tacl bench` run of %s on %s ranks (--gpus N gives the ranks)\n",
                tacl__pred_coll_name(k), gpus);
        return 1;
    }
    double t = tacl__calib_time(x, k, bytes);
    if (json)
        printf("{\"collective\": \"%s\", \"backend\": \"host\", \"bytes\": %.0f, \"ranks\": %d, "
               "\"time_us\": %.6g, \"alpha_us\": %.6g, \"busbw_gbs\": %.6g, \"fit_err_mean\": "
               "%.4g, \"fit_err_max\": %.4g}\n",
               tacl__pred_coll_name(k), bytes, n, t, x->alpha_us, x->busbw_gbs, x->err_mean,
               x->err_max);
    else
        printf("predict: %s of %.0f bytes over %d ranks on host memory: %.2f us (measured fit: "
               "start-up %.2f us, %.4g GB/s bus bandwidth; mean error %.1f%%, worst %.1f%%)\n",
               tacl__pred_coll_name(k), bytes, n, t, x->alpha_us, x->busbw_gbs, 100 * x->err_mean,
               100 * x->err_max);
    return 0;
}

static int plan_predict(const char *cluster_path, const char *gpu_type, const char *coll,
                        const char *size, const char *gpus, const char *backend,
                        const tacl__calib_t *cal, int json)
{
    int k = tacl__pred_coll_parse(coll);
    double bytes;
    if (k < 0) {
        fprintf(stderr,
                "tacl plan: --predict: expected all_reduce, all_gather, reduce_scatter, "
                "broadcast, all_to_all or sendrecv, found '%s'\n",
                coll);
        return 2;
    }
    if (!plan_size(size, &bytes)) {
        fprintf(stderr,
                "tacl plan: --predict: expected a size such as 1MiB, 64K or 4096, "
                "found '%s'\n",
                size);
        return 2;
    }
    if (!gpus) {
        fprintf(stderr, "tacl plan: --predict needs --gpus N or --gpus HOST[:D0-D1],...\n");
        return 2;
    }
    if (backend && !strcmp(backend, "host")) return plan_predict_host(k, bytes, gpus, cal, json);
    if (backend && strcmp(backend, "gpu")) {
        fprintf(stderr, "tacl plan: --backend: expected gpu or host, found '%s'\n", backend);
        return 2;
    }
    tacl_cluster_t *c = NULL;
    tacl_status_t st;
    if (cluster_path) {
        st = tacl_cluster_load(cluster_path, &c);
    } else {
        /* No cluster: one host of --gpu TYPE (H100-80GB) with the GPUs asked for. */
        long n = strtol(gpus, NULL, 10);
        int idx;
        st = tacl__cluster_create(&c);
        if (st == TACL_OK)
            st = tacl__cluster_add_host(c, "host", n > 0 && n <= 4096 ? (int)n : 1,
                                        gpu_type ? gpu_type : "H100-80GB", &idx);
        if (st == TACL_OK) st = tacl__cluster_finish(c);
    }
    tacl__model_t m = *tacl__model_preset("Llama-3-8B"); /* any: only the GPUs matter */
    tacl__workload_t w;
    tacl__costmodel_t cm;
    tacl__plan_t *p = NULL;
    tacl__workload_default(&w);
    tacl__costmodel_default(&cm);
    if (st == TACL_OK && cal) tacl__calib_apply(cal, c->hosts[0].gpu_link_gbs, &cm);
    w.max_tp = 1;
    if (st == TACL_OK) st = tacl__plan_create(c, &m, &w, &cm, &p);
    if (st != TACL_OK) {
        fprintf(stderr, "tacl plan: %s\n", tacl_last_error());
        tacl_cluster_destroy(c);
        return 1;
    }
    int *slots = malloc(sizeof(int) * (size_t)p->nslots), n;
    tacl__pred_t r;
    int rc = 1;
    if (!slots || (n = plan_gpus(p, gpus, slots, p->nslots)) < 1) goto out;
    if (tacl__plan_predict(p, k, bytes, slots, n, cal, &r) != TACL_OK) {
        fprintf(stderr, "tacl plan: %s\n", tacl_last_error());
        goto out;
    }
    if (json) {
        printf("{\"collective\": \"%s\", \"bytes\": %.0f, \"gpus\": %d, \"hosts\": %d, "
               "\"eager_us\": %.6g, \"graph_us\": %.6g, \"alpha_eager_us\": %.6g, "
               "\"alpha_graph_us\": %.6g, \"beta_us\": %.6g, \"link_gbs\": %.6g, "
               "\"eta_bus\": %.4g, \"calibrated_eager\": %s, \"calibrated_graph\": %s",
               tacl__pred_coll_name(k), bytes, n, r.hosts, r.eager_us, r.graph_us, r.alpha_eager_us,
               r.alpha_graph_us, r.beta_us, r.bw_gbs, p->cm.eta_bus, r.fit_eager ? "true" : "false",
               r.fit_graph ? "true" : "false");
        if (r.fit_eager) printf(", \"fit_err_mean\": %.4g", r.fit_eager->err_mean);
        printf("}\n");
    } else {
        printf("predict: %s of %.0f bytes over %d GPU%s on %d host%s (slowest link %.4g GB/s, "
               "eta_bus %.2f)\n",
               tacl__pred_coll_name(k), bytes, n, n == 1 ? "" : "s", r.hosts,
               r.hosts == 1 ? "" : "s", r.bw_gbs, p->cm.eta_bus);
        printf("  eager:          %10.2f us  (start-up %.2f + transfer %.2f)%s\n", r.eager_us,
               r.alpha_eager_us, r.eager_us - r.alpha_eager_us,
               r.fit_eager ? "  [measured fit]" : "");
        printf("  graph-captured: %10.2f us  (start-up %.2f + transfer %.2f)%s\n", r.graph_us,
               r.alpha_graph_us, r.graph_us - r.alpha_graph_us,
               r.fit_graph ? "  [measured fit]" : "");
        const tacl__calib_fit_t *x = r.fit_eager ? r.fit_eager : r.fit_graph;
        if (x)
            printf("  fit: %s %s%s on %d ranks, %d points, mean error %.1f%%, worst %.1f%%\n",
                   x->coll, x->backend, x->graph ? " graph" : "", x->ranks, x->npoints,
                   100 * x->err_mean, 100 * x->err_max);
    }
    rc = 0;
out:
    free(slots);
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);
    return rc;
}

/* --calibrate FILE...: bench (-J lines or table) or doctor JSON -> calibration file on stdout. */
static int plan_calibrate(const char *const *files, int n)
{
    tacl__calib_t *cal = calloc(1, sizeof *cal);
    if (!cal) return 1;
    for (int i = 0; i < n; i++)
        if (tacl__calib_load(files[i], cal) != TACL_OK) {
            fprintf(stderr, "tacl plan: --calibrate: %s\n", tacl_last_error());
            free(cal);
            return 1;
        }
    int rc = tacl__calib_write(cal, stdout) == TACL_OK ? 0 : 1;
    free(cal);
    return rc;
}

static int plan_run(int argc, char **argv)
{
    const char *cluster_path = NULL, *model_arg = NULL, *vllm_model = NULL, *pick = NULL;
    const char *pred_coll = NULL, *pred_size = NULL, *gpus_spec = NULL, *gpu_type = NULL;
    const char *calib_path = NULL, *calib_in[16], *backend = NULL;
    int ncalib_in = 0;
    int json = 0, dot = 0;
    double rows = 10, v;
    tacl__workload_t w;
    tacl__workload_default(&w);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1, inline_val = 0;
        char opt[64];
        const char *eq = strncmp(a, "--", 2) ? NULL : strchr(a, '=');
        if (eq && (size_t)(eq - a) < sizeof opt) {
            /* --opt=value: the same as --opt value. */
            memcpy(opt, a, (size_t)(eq - a));
            opt[eq - a] = 0;
            a = opt, val = eq + 1, inline_val = 1;
        }
        if (!strcmp(a, "--predict")) {
            /* Two values: the collective and the size. */
            const char *sz = inline_val ? (i + 1 < argc ? argv[i + 1] : NULL)
                                        : (i + 2 < argc ? argv[i + 2] : NULL);
            if (!val || !sz) {
                fprintf(stderr, "tacl plan: --predict needs a collective and a size (e.g. "
                                "--predict all_reduce 1MiB --gpus 8)\n");
                return 2;
            }
            pred_coll = val, pred_size = sz;
            i += inline_val ? 1 : 2;
            continue;
        }
        if (!strcmp(a, "--calibrate")) {
            if (!val) {
                fprintf(stderr, "tacl plan: --calibrate needs a file\n");
                return 2;
            }
            if (ncalib_in < 16) calib_in[ncalib_in++] = val;
            i += inline_val ? 0 : 1;
            /* More files may follow: --calibrate host.json gpu.json doctor.json */
            while (i + 1 < argc && argv[i + 1][0] != '-' && ncalib_in < 16)
                calib_in[ncalib_in++] = argv[++i];
            continue;
        }
        if (!strcmp(a, "--cluster"))
            cluster_path = val;
        else if (!strcmp(a, "--model"))
            model_arg = val;
        else if (!strcmp(a, "--served-model"))
            vllm_model = val;
        else if (!strcmp(a, "--layout"))
            pick = val;
        else if (!strcmp(a, "--gpus"))
            gpus_spec = val;
        else if (!strcmp(a, "--gpu"))
            gpu_type = val;
        else if (!strcmp(a, "--backend"))
            backend = val;
        else if (!strcmp(a, "--calibration"))
            calib_path = val;
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
            if (inline_val) {
                fprintf(stderr, "tacl plan: %s takes no value\n", a);
                return 2;
            }
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
            if (!inline_val) i++;
        }
    }
    if (ncalib_in) return plan_calibrate(calib_in, ncalib_in);
    tacl__calib_t *cal = NULL;
    if (calib_path) {
        cal = calloc(1, sizeof *cal);
        if (!cal || tacl__calib_load(calib_path, cal) != TACL_OK) {
            fprintf(stderr, "tacl plan: --calibration: %s\n",
                    cal ? tacl_last_error() : "out of memory");
            free(cal);
            return 1;
        }
    }
    if (pred_coll) {
        int rc = plan_predict(cluster_path, gpu_type, pred_coll, pred_size, gpus_spec, backend, cal,
                              json);
        free(cal);
        return rc;
    }
    if (!cluster_path || !model_arg) {
        fprintf(stderr, "tacl plan: expected --cluster FILE and --model NAME|config.json\n");
        free(cal);
        return 2;
    }
    tacl_cluster_t *c = NULL;
    tacl__model_t m;
    tacl__plan_t *p = NULL;
    tacl__costmodel_t cm;
    tacl__costmodel_default(&cm);
    if (tacl_cluster_load(cluster_path, &c) != TACL_OK ||
        tacl__model_load(model_arg, &m) != TACL_OK) {
        fprintf(stderr, "tacl plan: %s\n", tacl_last_error());
        tacl_cluster_destroy(c);
        free(cal);
        return 1;
    }
    plan_warn_links(c);
    if (cal) tacl__calib_apply(cal, c->hosts[0].gpu_link_gbs, &cm);
    if (tacl__plan_create(c, &m, &w, &cm, &p) != TACL_OK) {
        fprintf(stderr, "tacl plan: %s\n", tacl_last_error());
        tacl_cluster_destroy(c);
        free(cal);
        return 1;
    }
    p->calib = cal;
    if (pick) {
        /* Show this layout as the chosen one (its placement, settings, vLLM lines). */
        int tp = 0, pp = 1, ep = 0, i;
        if (sscanf(pick, "%d,%d,%d", &tp, &pp, &ep) < 1 || tp < 1 || pp < 1 || ep < 0) {
            fprintf(stderr, "tacl plan: --layout: expected TP[,PP[,EP]], found '%s'\n", pick);
            tacl__plan_destroy(p);
            tacl_cluster_destroy(c);
            free(cal);
            return 2;
        }
        const tacl__layout_t *l = tacl__plan_find(p, tp, pp, ep);
        if (!l || l->state != TACL_LAYOUT_OK) {
            fprintf(stderr, "tacl plan: layout TP%d PP%d%s: %s\n", tp, pp, ep > 1 ? " EP" : "",
                    l ? l->reason : "not among the layouts searched (more GPUs than the cluster?)");
            tacl__plan_destroy(p);
            tacl_cluster_destroy(c);
            free(cal);
            return 1;
        }
        for (i = 0; &p->layouts[i] != l; i++) {
        }
        p->best = i;
    }
    /* vLLM takes the checkpoint's folder, not its config.json; a preset's Hugging Face id,
     * not the preset's name. */
    char dir[1024];
    const char *served = vllm_model ? vllm_model : model_arg;
    if (!vllm_model && tacl__model_hf_id(model_arg)) served = tacl__model_hf_id(model_arg);
    const char *slash = strrchr(model_arg, '/');
    if (!vllm_model && slash && !strcmp(slash + 1, "config.json") &&
        (size_t)(slash - model_arg) < sizeof dir) {
        memcpy(dir, model_arg, (size_t)(slash - model_arg));
        dir[slash - model_arg] = 0;
        served = dir;
    }
    if (json)
        tacl__plan_print_json(p, served, stdout);
    else if (dot)
        tacl__plan_print_dot(p, stdout);
    else
        tacl__plan_print_text(p, served, (int)rows, stdout);
    int rc = p->best >= 0 || p->nmixed ? 0 : 1;
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);
    free(cal);
    return rc;
}

const tacl_cmd_t tacl_cmd_plan = {
    .name = "plan",
    .summary = "choose a serving layout (TP/PP/DP/EP, placement, vLLM flags) for a cluster",
    .usage =
        "usage: tacl plan --cluster FILE --model NAME|config.json [options]\n"
        "       tacl plan --predict COLL SIZE --gpus N|HOST:D0-D1,... [--cluster FILE]\n"
        "       tacl plan --calibrate FILE... > calibration.json\n\n"
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
        "  --predict COLL SIZE     the model's time for one collective (all_reduce, all_gather,\n"
        "                          reduce_scatter, broadcast, all_to_all, sendrecv; SIZE 1MiB,\n"
        "                          64K, 4096), eager and graph-captured; with --gpus and\n"
        "                          --cluster, or alone for one host of --gpu TYPE (H100-80GB)\n"
        "  --gpus N|HOST[:D0-D1],...  the GPUs of --predict (N: the first N in placement order)\n"
        "  --backend gpu|host      --predict for GPU buffers (the model) or host memory (a\n"
        "                          host `tacl bench` fit from --calibration; --gpus N ranks)\n"
        "  --calibration FILE      measured constants: a file from --calibrate, `tacl bench -J`\n"
        "                          output or `tacl doctor --json`\n"
        "  --calibrate FILE...     fit bench/doctor output and print a calibration file\n"
        "  --dot                   Graphviz picture of the chosen placement (bottleneck in red)\n",
    .run = plan_run,
};
