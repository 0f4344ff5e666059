/* plan_bench.c — the planner's figures for bench/RESULTS.md: (1) the alpha-beta all-reduce
 * model fitted to measured NCCL all_reduce times (tests/data/plan/anchors) with the prediction
 * error per size; (2) predicted decode time per token against published vLLM measurements
 * (docs/COST_MODEL.md cites them); (3) planning time of a 3-host chain and of a 1024-host,
 * 8192-GPU cluster. Prints markdown. Usage: plan_bench [anchors-dir] */
#include "plan/plan.h"
#include "topo/cluster_file.h"
#include "clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PB_MAXPTS 64

/* Reads "size time" rows of the all_reduce section of an anchors file. */
static int pb_read(const char *path, double *size, double *us)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    int n = 0, in_ar = 0;
    while (fgets(line, sizeof line, f) && n < PB_MAXPTS) {
        if (line[0] == '#') {
            if (strstr(line, "all_reduce"))
                in_ar = 1;
            else if (strstr(line, "all_gather") || strstr(line, "reduce_scatter"))
                in_ar = 0;
            continue;
        }
        double s, t;
        if (in_ar && sscanf(line, "%lf %lf", &s, &t) == 2) size[n] = s, us[n++] = t;
    }
    fclose(f);
    return n;
}

/* Least squares on relative error: t = alpha + f*M/beta, weights 1/t^2. */
static void pb_fit(const double *size, const double *us, int n, int ranks, double *alpha,
                   double *beta_gbs)
{
    double f = 2.0 * (ranks - 1) / ranks;
    double s00 = 0, s01 = 0, s11 = 0, b0 = 0, b1 = 0;
    for (int i = 0; i < n; i++) {
        double w = 1 / (us[i] * us[i]), x = f * size[i];
        s00 += w, s01 += w * x, s11 += w * x * x;
        b0 += w * us[i], b1 += w * x * us[i];
    }
    double det = s00 * s11 - s01 * s01;
    double a = (b0 * s11 - b1 * s01) / det, k = (s00 * b1 - s01 * b0) / det; /* us per byte */
    *alpha = a;
    *beta_gbs = 1 / (k * 1e3);
}

static void pb_calibrate(const char *dir)
{
    static const struct {
        const char *file, *what;
        int ranks;
    } sets[] = {
        {"ncclraw_2_eager.txt", "NCCL 2.28.3 from C, 2x H200", 2},
        {"ncclraw_4_eager.txt", "NCCL 2.28.3 from C, 4x H200", 4},
        {"nccl_2.txt", "torch.distributed NCCL 2.28.9, 2x H200", 2},
        {"nccl_4.txt", "torch.distributed NCCL 2.28.9, 4x H200", 4},
    };
    tacl_costmodel_t cm;
    tacl_costmodel_default(&cm);
    cm.eta_bus = 1; /* the fit gives the achieved bandwidth directly */
    printf("## alpha-beta all-reduce model fitted to measured NCCL all_reduce (H200, NV18)\n\n");
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        char path[1200];
        double size[PB_MAXPTS], us[PB_MAXPTS], a, b;
        snprintf(path, sizeof path, "%s/%s", dir, sets[k].file);
        int n = pb_read(path, size, us);
        if (n < 2) {
            printf("%s: cannot read %s\n\n", sets[k].what, path);
            continue;
        }
        pb_fit(size, us, n, sets[k].ranks, &a, &b);
        printf("### %s (%s)\n\nfit: alpha = %.1f us, beta (bus bandwidth) = %.0f GB/s = %.2f x "
               "450 GB/s NVLink\n\n| size (B) | measured (us) | predicted (us) | error |\n"
               "|---:|---:|---:|---:|\n",
               sets[k].what, sets[k].file, a, b, b / 450);
        double sum = 0, worst = 0;
        for (int i = 0; i < n; i++) {
            double pred = tacl_plan_allreduce_us(&cm, size[i], sets[k].ranks, b, a);
            double err = (pred - us[i]) / us[i];
            sum += fabs(err);
            if (fabs(err) > fabs(worst)) worst = err;
            printf("| %.0f | %.2f | %.2f | %+.1f%% |\n", size[i], us[i], pred, 100 * err);
        }
        printf("\nmean |error| %.1f%%, worst %+.1f%%\n\n", 100 * sum / n, 100 * worst);
    }
}

/* Published decode measurements: vLLM v0.6.0 on H100-80GB-SXM, LambdaLabsML/vllm-benchmark
 * results/prompt_10 (10 prompts at infinite rate, multi-step scheduling of 10: the per-token
 * time is the inter-token latency / 10). Batch = requests still decoding in that stretch;
 * context ~ 200 prompt + 300 generated tokens. */
static void pb_decode(void)
{
    static const struct {
        const char *model;
        int tp, batch;
        double measured_ms;
        const char *src;
    } pts[] = {
        {"Llama-3-8B", 1, 8, 7.35, "1xH100 Meta-Llama-3-8B-Instruct_tp1: ITL 73.5 ms / 10"},
        {"Llama-3-8B", 1, 2, 7.17, "1xH100 Meta-Llama-3-8B-Instruct_tp1: ITL 71.7 ms / 10"},
        {"Llama-3-70B", 8, 8, 11.9, "8xH100 Meta-Llama-3-70B-Instruct_tp8: ITL 119 ms / 10"},
        {"Llama-3-70B", 8, 2, 11.3, "8xH100 Meta-Llama-3-70B-Instruct_tp8: ITL 113 ms / 10"},
        {"Mixtral-8x7B", 8, 8, 6.6, "8xH100 Mixtral-8x7B-Instruct_tp8: ITL 66 ms / 10"},
        {"Mixtral-8x7B", 8, 2, 4.95, "8xH100 Mixtral-8x7B-Instruct_tp8: ITL 49.5 ms / 10"},
        /* Held out: not looked at when eta_hbm and layer_us were chosen. */
        {"Llama-3-8B", 8, 8, 3.24,
         "held out: 8xH100 Meta-Llama-3-8B-Instruct_tp8: ITL 32.4 ms / 10"},
        {"Llama-3-8B", 8, 2, 2.92,
         "held out: 8xH100 Meta-Llama-3-8B-Instruct_tp8: ITL 29.2 ms / 10"},
    };
    printf("## decode time per token: predicted vs published (vLLM 0.6.0, H100-80GB-SXM)\n\n"
           "| model | TP | batch | measured (ms) | predicted (ms) | error | source |\n"
           "|---|---:|---:|---:|---:|---:|---|\n");
    double sum = 0;
    int n = 0;
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        tacl_cluster_t *c;
        int idx;
        tacl_model_t m = *tacl_model_preset(pts[i].model);
        tacl_workload_t w;
        tacl_plan_t *p;
        if (tacl_cluster_create(&c) != TACL_OK ||
            tacl_cluster_add_host(c, "h", pts[i].tp, "H100-80GB", &idx) != TACL_OK)
            return;
        tacl_workload_default(&w);
        w.prompt_len = 200, w.output_len = 600, w.concurrency = pts[i].batch;
        if (tacl_plan_create(c, &m, &w, NULL, &p) != TACL_OK) {
            printf("plan failed: %s\n", tacl_last_error());
            tacl_cluster_destroy(c);
            return;
        }
        const tacl_layout_t *l = tacl_plan_find(p, pts[i].tp, 1, 1);
        if (l && l->state == TACL_LAYOUT_OK) {
            double err = (l->tpot_ms - pts[i].measured_ms) / pts[i].measured_ms;
            sum += fabs(err), n++;
            printf("| %s | %d | %d | %.2f | %.2f | %+.1f%% | %s |\n", pts[i].model, pts[i].tp,
                   pts[i].batch, pts[i].measured_ms, l->tpot_ms, 100 * err, pts[i].src);
        }
        tacl_plan_destroy(p);
        tacl_cluster_destroy(c);
    }
    if (n) printf("\nmean |error| %.1f%% over %d points\n\n", 100 * sum / n, n);
}

static int pb_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pb_time_plan(const tacl_cluster_t *c, const char *model, long conc, int reps)
{
    double t[64];
    tacl_model_t m = *tacl_model_preset(model);
    tacl_workload_t w;
    tacl_workload_default(&w);
    w.concurrency = conc;
    if (reps > 64) reps = 64;
    for (int i = 0; i < reps; i++) {
        tacl_plan_t *p;
        uint64_t t0 = tacl_now_ns();
        if (tacl_plan_create(c, &m, &w, NULL, &p) != TACL_OK) return -1;
        t[i] = (double)(tacl_now_ns() - t0) / 1e6;
        tacl_plan_destroy(p);
    }
    qsort(t, (size_t)reps, sizeof t[0], pb_cmp);
    return t[reps / 2];
}

static void pb_timing(void)
{
    tacl_cluster_t *chain, *big;
    int i0, i1, i2;
    tacl_cluster_create(&chain);
    tacl_cluster_add_host(chain, "A", 2, "A100-40GB", &i0);
    tacl_cluster_add_host(chain, "B", 2, "A100-40GB", &i1);
    tacl_cluster_add_host(chain, "C", 2, "A100-40GB", &i2);
    tacl_cluster_set_link(chain, i0, i1, 12.5, 5);
    tacl_cluster_set_link(chain, i1, i2, 12.5, 5);
    tacl_cluster_finish(chain);
    tacl_cluster_create(&big);
    for (int i = 0; i < 1024; i++) {
        char name[32];
        snprintf(name, sizeof name, "node%d", i);
        tacl_cluster_add_host(big, name, 8, "H100-80GB", &i0);
    }
    big->has_default = 1, big->default_gbs = 50, big->default_lat_us = 4;
    tacl_cluster_set_unreachable(big, 0, 1023);
    tacl_cluster_finish(big);
    printf("## planning time (median)\n\n| cluster | model | time (ms) |\n|---|---|---:|\n");
    static const char *const models[] = {"Llama-3-70B", "Llama-3.1-405B", "DeepSeek-V3"};
    for (int k = 0; k < 3; k++) {
        printf("| 3-host chain, 6 GPUs | %s | %.3f |\n", models[k],
               pb_time_plan(chain, models[k], 32, 51));
        printf("| 1024 hosts, 8192 GPUs | %s | %.1f |\n", models[k],
               pb_time_plan(big, models[k], 4096, 5));
    }
    printf("\n");
    tacl_cluster_destroy(chain);
    tacl_cluster_destroy(big);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : NULL;
    char buf[1024];
    if (!dir) {
        const char *src = getenv("TACL_SOURCE_DIR");
        snprintf(buf, sizeof buf, "%s/tests/data/plan/anchors", src ? src : ".");
        dir = buf;
    }
    pb_calibrate(dir);
    pb_decode();
    pb_timing();
    return 0;
}
