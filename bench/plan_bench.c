/* plan_bench.c — the planner's figures for bench/RESULTS.md: (1) the alpha-beta all-reduce
 * model fitted to measured NCCL all_reduce times (tests/data/plan/anchors) with the prediction
 * error per size; (2) predicted decode time per token against published vLLM measurements
 * (docs/COST_MODEL.md cites them); (3) planning time of a 3-host chain, of a 1024-host,
 * 8192-GPU cluster under a default link and with its links written out, and of growing
 * clusters. Prints markdown. Usage: plan_bench [anchors-dir] */
#include "plan/plan.h"
#include "topo/cluster_file.h"
#include "clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fits t = alpha + f(n) M / busbw to each file's all_reduce series through the same reader
 * `tacl plan --calibrate` uses (tacl__calib_from_bench: a `tacl bench` table's time is its 6th
 * column, after size and element count; a "size time" table's is its 2nd), and prints the
 * fit and its error per size. */
static void pb_calibrate(const char *dir)
{
    static const struct {
        const char *file, *what;
    } sets[] = {
        {"ncclraw_2_eager.txt", "NCCL 2.28.3 from C, 2x H200, eager"},
        {"ncclraw_4_eager.txt", "NCCL 2.28.3 from C, 4x H200, eager"},
        {"nccl_2.txt", "torch.distributed NCCL 2.28.9, 2x H200, eager"},
        {"nccl_4.txt", "torch.distributed NCCL 2.28.9, 4x H200, eager"},
    };
    printf("## alpha-beta all-reduce model fitted to measured NCCL all_reduce (H200, NV18)\n\n");
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, sets[k].file);
        tacl__calib_t cal = {0};
        if (tacl__calib_from_bench(path, &cal) != TACL_OK) {
            printf("%s: %s\n\n", sets[k].what, tacl_last_error());
            continue;
        }
        const tacl__calib_fit_t *x = tacl__calib_find(&cal, TACL_PRED_ALL_REDUCE, "gpu", 0, 0);
        for (int i = 0; i < cal.nfits && !x; i++)
            if (!strcmp(cal.fits[i].coll, "all_reduce")) x = &cal.fits[i];
        if (!x) continue;
        printf("### %s (%s)\n\nfit: alpha = %.1f us, busbw = %.0f GB/s = %.2f x 450 GB/s NVLink; "
               "%d points, mean |error| %.1f%%, worst %.1f%%\n\n",
               sets[k].what, sets[k].file, x->alpha_us, x->busbw_gbs, x->busbw_gbs / 450,
               x->npoints, 100 * x->err_mean, 100 * x->err_max);
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
        tacl__model_t m = *tacl__model_preset(pts[i].model);
        tacl__workload_t w;
        tacl__plan_t *p;
        if (tacl__cluster_create(&c) != TACL_OK ||
            tacl__cluster_add_host(c, "h", pts[i].tp, "H100-80GB", &idx) != TACL_OK)
            return;
        tacl__workload_default(&w);
        w.prompt_len = 200, w.output_len = 600, w.concurrency = pts[i].batch;
        if (tacl__plan_create(c, &m, &w, NULL, &p) != TACL_OK) {
            printf("plan failed: %s\n", tacl_last_error());
            tacl_cluster_destroy(c);
            return;
        }
        const tacl__layout_t *l = tacl__plan_find(p, pts[i].tp, 1, 1);
        if (l && l->state == TACL_LAYOUT_OK) {
            double err = (l->tpot_ms - pts[i].measured_ms) / pts[i].measured_ms;
            sum += fabs(err), n++;
            printf("| %s | %d | %d | %.2f | %.2f | %+.1f%% | %s |\n", pts[i].model, pts[i].tp,
                   pts[i].batch, pts[i].measured_ms, l->tpot_ms, 100 * err, pts[i].src);
        }
        tacl__plan_destroy(p);
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
    tacl__model_t m = *tacl__model_preset(model);
    tacl__workload_t w;
    tacl__workload_default(&w);
    w.concurrency = conc;
    if (reps > 64) reps = 64;
    for (int i = 0; i < reps; i++) {
        tacl__plan_t *p;
        uint64_t t0 = tacl__now_ns();
        if (tacl__plan_create(c, &m, &w, NULL, &p) != TACL_OK) return -1;
        t[i] = (double)(tacl__now_ns() - t0) / 1e6;
        tacl__plan_destroy(p);
    }
    qsort(t, (size_t)reps, sizeof t[0], pb_cmp);
    return t[reps / 2];
}

/* 1024 hosts x 8 GPUs with their links written out: (a) leaf-spine, every in-leaf pair of 32
 * hosts listed (15,872 links) and a default link across leaves, 100 pairs unreachable; (b) a
 * full mesh with every one of the 523,776 pairs listed and no default. Then hosts doubling
 * from 1024 to 32768 with only ring links written (no default), for the growth in hosts. */
static void pb_timing_written(void)
{
    printf("## planning time, links written out (median)\n\n| cluster | links | model | time "
           "(ms) |\n|---|---:|---|---:|\n");
    for (int kind = 0; kind < 2; kind++) {
        tacl_cluster_t *c;
        int idx;
        tacl__cluster_create(&c);
        for (int i = 0; i < 1024; i++) {
            char name[32];
            snprintf(name, sizeof name, "h%d", i);
            tacl__cluster_add_host(c, name, 8, "H100-80GB", &idx);
        }
        if (kind == 0) {
            c->has_default = 1, c->default_gbs = 25, c->default_lat_us = 6;
            for (int l = 0; l < 1024; l += 32)
                for (int a = l; a < l + 32; a++)
                    for (int b = a + 1; b < l + 32; b++)
                        tacl__cluster_set_link(c, a, b, 50, 3);
            for (int i = 0; i < 100; i++)
                tacl__cluster_set_unreachable(c, (i * 37) % 1024, (i * 37 + 500) % 1024);
        } else {
            for (int a = 0; a < 1024; a++)
                for (int b = a + 1; b < 1024; b++)
                    tacl__cluster_set_link(c, a, b, 50, 3);
        }
        uint64_t t0 = tacl__now_ns();
        tacl__cluster_finish(c);
        double fin = (double)(tacl__now_ns() - t0) / 1e6;
        for (int k = 0; k < 2; k++) {
            const char *model = k ? "DeepSeek-V3" : "Llama-3-70B";
            printf("| 1024 x 8 GPUs, %s | %d | %s | %.1f (+%.1f ms indexing links) |\n",
                   kind ? "full mesh, every pair listed" : "leaf-spine, in-leaf links listed",
                   c->nlinks, model, pb_time_plan(c, model, 4096, 3), fin);
        }
        tacl_cluster_destroy(c);
    }
    for (int n = 1024; n <= 32768; n *= 2) {
        tacl_cluster_t *c;
        int idx;
        tacl__cluster_create(&c);
        for (int i = 0; i < n; i++) {
            char name[32];
            snprintf(name, sizeof name, "h%d", i);
            tacl__cluster_add_host(c, name, 8, "H100-80GB", &idx);
        }
        for (int i = 0; i < n; i++)
            tacl__cluster_set_link(c, i, (i + 1) % n, 50, 3);
        tacl__cluster_finish(c);
        printf("| %d x 8 GPUs, ring (links listed) | %d | Llama-3-70B | %.1f |\n", n, c->nlinks,
               pb_time_plan(c, "Llama-3-70B", 4096, 1));
        tacl_cluster_destroy(c);
    }
    printf("\n");
}

static void pb_timing(void)
{
    tacl_cluster_t *chain, *big;
    int i0, i1, i2;
    tacl__cluster_create(&chain);
    tacl__cluster_add_host(chain, "A", 2, "A100-40GB", &i0);
    tacl__cluster_add_host(chain, "B", 2, "A100-40GB", &i1);
    tacl__cluster_add_host(chain, "C", 2, "A100-40GB", &i2);
    tacl__cluster_set_link(chain, i0, i1, 12.5, 5);
    tacl__cluster_set_link(chain, i1, i2, 12.5, 5);
    tacl__cluster_finish(chain);
    tacl__cluster_create(&big);
    for (int i = 0; i < 1024; i++) {
        char name[32];
        snprintf(name, sizeof name, "node%d", i);
        tacl__cluster_add_host(big, name, 8, "H100-80GB", &i0);
    }
    big->has_default = 1, big->default_gbs = 50, big->default_lat_us = 4;
    tacl__cluster_set_unreachable(big, 0, 1023);
    tacl__cluster_finish(big);
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
    pb_timing_written();
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
