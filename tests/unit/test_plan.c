/* test_plan.c — the planner's decisions and their reasons: model sizes against the published
 * parameter counts, config.json reading and its errors, the seeds' chain (pipeline over A, B,
 * C; TP over [A,B,C] rejected for reachability; tacl routing as the alternative), replicas
 * when the model fits a host, heads not divisible by TP, uneven layer splits on uneven memory,
 * expert-parallel layouts for MoE models, the closest layout when nothing fits, and a
 * 1024-host cluster. */
#include "check.h"
#include "plan/plan.h"
#include "topo/cluster_file.h"

#include <math.h>

static char cl_path[1024];

static const char *data(const char *rel)
{
    const char *src = getenv("TACL_SOURCE_DIR");
    snprintf(cl_path, sizeof cl_path, "%s/tests/data/%s", src ? src : ".", rel);
    return cl_path;
}

static tacl__plan_t *run(const char *cluster, const char *model, tacl__workload_t *w,
                         tacl_cluster_t **cout)
{
    tacl_cluster_t *c = NULL;
    tacl__model_t m;
    tacl__plan_t *p = NULL;
    CHECK_OK(tacl_cluster_load(data(cluster), &c));
    if (strchr(model, '/'))
        CHECK_OK(tacl__model_load(data(model), &m));
    else
        CHECK_OK(tacl__model_load(model, &m));
    CHECK_OK(tacl__plan_create(c, &m, w, NULL, &p));
    *cout = c;
    return p;
}

static int rel_close(double got, double want, double tol)
{
    return fabs(got - want) <= tol * fabs(want);
}

/* Distinct hosts of slots [a, b). */
static int nhosts_in(const tacl__plan_t *p, int a, int b)
{
    int n = 0;
    for (int s = a; s < b; s++) {
        int seen = 0;
        for (int t = a; t < s; t++)
            seen |= p->slot_host[t] == p->slot_host[s];
        n += !seen;
    }
    return n;
}

int main(void)
{
#if !TACL_HAVE_FYAML
    SKIP("built without libfyaml (Debian: libfyaml-dev): cluster files cannot be read");
#endif
    /* Parameter counts published with the models (model cards / papers). */
    CHECK(rel_close(tacl__model_total_params(tacl__model_preset("Llama-3-8B")), 8.03e9, 0.005));
    CHECK(rel_close(tacl__model_total_params(tacl__model_preset("Llama-3-70B")), 70.6e9, 0.005));
    CHECK(
        rel_close(tacl__model_total_params(tacl__model_preset("Llama-3.1-405B")), 405.9e9, 0.005));
    CHECK(rel_close(tacl__model_total_params(tacl__model_preset("Qwen2.5-72B")), 72.7e9, 0.01));
    CHECK(rel_close(tacl__model_total_params(tacl__model_preset("Mixtral-8x7B")), 46.7e9, 0.005));
    CHECK(rel_close(tacl__model_active_params(tacl__model_preset("Mixtral-8x7B")), 12.9e9, 0.01));
    CHECK(rel_close(tacl__model_total_params(tacl__model_preset("DeepSeek-V3")), 671e9, 0.005));
    CHECK(rel_close(tacl__model_active_params(tacl__model_preset("DeepSeek-V3")), 37e9, 0.02));
    /* KV per token per layer: Llama-3-70B 2 x 8 heads x 128; DeepSeek-V3's latent 512 + 64. */
    CHECK(tacl__model_kv_elems(tacl__model_preset("Llama-3-70B")) == 2 * 8 * 128);
    CHECK(tacl__model_kv_elems(tacl__model_preset("DeepSeek-V3")) == 512 + 64);
    CHECK(tacl__model_preset("meta-llama/Meta-Llama-3-70B-Instruct") ==
          tacl__model_preset("Llama-3-70B"));

    /* config.json: values, defaults, errors with position. */
    tacl__model_t m;
    CHECK_OK(tacl__model_load(data("plan/heads52.json"), &m));
    CHECK(m.heads == 52 && m.kv_heads == 52 && m.head_dim == 128 && m.layers == 60 &&
          m.weight_bytes == 2 && !m.tie_embed);
    tacl__model_t m2; /* a checkpoint folder: its config.json */
    CHECK_OK(tacl__model_load(data("plan/ckpt52"), &m2));
    CHECK(m2.heads == 52 && m2.layers == 60 && strstr(m2.name, "ckpt52/config.json"));
    CHECK_OK(tacl__model_parse("q.json",
                               "{\"hidden_size\": 4096, \"num_hidden_layers\": 2, "
                               "\"num_attention_heads\": 32, \"vocab_size\": 1000, "
                               "\"intermediate_size\": 8, \"quantization_config\": "
                               "{\"quant_method\": \"awq\", \"bits\": 4}}",
                               &m));
    CHECK(m.kv_heads == 32 && m.weight_bytes == 0.5);
    CHECK_ST(tacl__model_load(data("plan/bad_config.json"), &m), TACL_ERR_CONFIG);
    CHECK_CONTAINS(tacl_last_error(),
                   "bad_config.json:3:25: num_hidden_layers: expected an integer");
    CHECK_ST(tacl__model_parse("m.json", "{\"hidden_size\": 4096}", &m), TACL_ERR_CONFIG);
    CHECK_CONTAINS(tacl_last_error(), "m.json:1:3: expected num_hidden_layers");
    CHECK_ST(tacl__model_load("Llama-9-1T", &m), TACL_ERR_NOT_FOUND);
    CHECK_CONTAINS(tacl_last_error(), "expected a preset (Llama-3-8B");

    tacl__workload_t w;
    tacl_cluster_t *c;
    tacl__plan_t *p;
    const tacl__layout_t *l;

    /* The seeds' chain, a model that does not fit one host: pipeline stages over A, B, C. */
    tacl__workload_default(&w);
    w.concurrency = 32;
    p = run("cluster/chain3.yaml", "Llama-3-70B", &w, &c);
    CHECK(p->best >= 0);
    l = &p->layouts[p->best];
    CHECK(l->pp >= 3 && l->tp * l->pp == 6 && l->dp == 1);
    CHECK(nhosts_in(p, 0, 6) == 3);
    for (int s = 0; s < l->pp; s++) /* no TP group crosses a host */
        CHECK(nhosts_in(p, s * l->tp, (s + 1) * l->tp) == 1);
    CHECK(p->slot_host[0] == 0 && p->slot_host[5] == 2); /* stages in chain order A..C */
    CHECK_CONTAINS(l->note, "A↔C, which have no link: forward IP through B");
    CHECK_CONTAINS(l->note, "store: on B, linked to every host of instance 0 (node 0, A, is not)");
    CHECK(tacl__plan_store_host(p, l, 0) == 1);
    l = tacl__plan_find(p, 6, 1, 0);
    CHECK(l && l->state == TACL_LAYOUT_REJECTED);
    CHECK_CONTAINS(l->reason, "TP group [A,B,C] needs A↔C: unreachable");
    /* One host: 141 GB of weights over two 40 GB GPUs. Independently: 70.55 GB per GPU less
     * 40960 MiB x 0.9 - 2 GB of room. */
    l = tacl__plan_find(p, 2, 1, 0);
    CHECK(l && l->state == TACL_LAYOUT_NOFIT);
    double want_missing = 70.553e9 / 1 - (40960.0 * 1048576 * 0.9 - 2e9);
    CHECK(rel_close(l->missing_gb * 1e9, want_missing, 0.01));
    CHECK_CONTAINS(l->reason, "does not fit");
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);

    /* A model that fits one host (one GPU, even): replicas, no group crosses a host. */
    tacl__workload_default(&w);
    p = run("cluster/chain3.yaml", "Llama-3-8B", &w, &c);
    CHECK(p->best >= 0);
    l = &p->layouts[p->best];
    CHECK(l->pp == 1 && l->dp >= 3 && l->tp <= 2);
    for (int r = 0; r < l->dp; r++)
        CHECK(nhosts_in(p, r * l->tp, (r + 1) * l->tp) == 1);
    CHECK(l->note[0] == 0); /* replicas never need A-C */
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);

    /* TP over the chain's three hosts: rejected for NCCL, allowed with tacl's routing at the
     * routed pair's bandwidth (A-B-C at 50 GB/s). */
    tacl__workload_default(&w);
    p = run("cluster/chain3_1gpu.yaml", "plan/heads48.json", &w, &c);
    l = tacl__plan_find(p, 3, 1, 0);
    CHECK(l && l->state == TACL_LAYOUT_REJECTED);
    CHECK_CONTAINS(l->reason, "TP group [A,B,C] needs A↔C: unreachable");
    CHECK_CONTAINS(l->reason, "--allow-routing");
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);
    w.allow_routing = 1;
    p = run("cluster/chain3_1gpu.yaml", "plan/heads48.json", &w, &c);
    l = tacl__plan_find(p, 3, 1, 0);
    CHECK(l && l->state == TACL_LAYOUT_OK && l->routed);
    CHECK_CONTAINS(l->bottleneck, "A-C 50GB/s routed");
    CHECK(!p->layouts[p->best].routed); /* NCCL-only layouts rank first */
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);

    /* 52 heads on 3 GPUs: TP=3 rejected for heads, pipeline offered. */
    tacl__workload_default(&w);
    p = run("cluster/one_host_3gpu.yaml", "plan/heads52.json", &w, &c);
    l = tacl__plan_find(p, 3, 1, 0);
    CHECK(l && l->state == TACL_LAYOUT_REJECTED);
    CHECK_CONTAINS(l->reason, "52 attention heads are not divisible by TP=3");
    l = tacl__plan_find(p, 1, 3, 0);
    CHECK(l && l->state == TACL_LAYOUT_OK);
    CHECK(l->layers[0] + l->layers[1] + l->layers[2] == 60);
    CHECK(p->best >= 0 && p->layouts[p->best].pp > 1);
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);

    /* Uneven memory (80 GB + 40 GB): the first stage takes more layers. Independently: the
     * even split leaves the 40 GB GPU 40 layers x 0.856 GB + 1.05 GB of head, so its KV room
     * is under 1.5 GB; the uneven split must hold far more tokens than that allows. */
    tacl__workload_default(&w);
    w.weight_bytes = 1;
    w.concurrency = 8;
    p = run("cluster/uneven2.yaml", "Llama-3-70B", &w, &c);
    CHECK(p->best >= 0);
    l = &p->layouts[p->best];
    CHECK(l->tp == 1 && l->pp == 2 && l->custom_split);
    CHECK(l->layers[0] + l->layers[1] == 80 && l->layers[0] > l->layers[1] + 10);
    double layer_b = (8192.0 * 8192 * 2 + 2 * 8192.0 * 1024 + 3 * 8192.0 * 28672);
    double even_room = 40960.0 * 1048576 * 0.9 - 2e9 - 40 * layer_b - 128256.0 * 8192;
    double even_tokens = even_room / (40 * 2 * 8 * 128 * 2.0);
    CHECK(even_tokens > 0 && l->kv_tokens > 5 * even_tokens);
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);

    /* MoE: expert-parallel layouts. Mixtral on one 8-GPU host; DeepSeek-V3 (fp8) on two H200
     * hosts, where EP over 16 GPUs holds 1/16 of the experts per GPU instead of 1/8. */
    tacl__workload_default(&w);
    p = run("cluster/h100x8.yaml", "Mixtral-8x7B", &w, &c);
    int ep_ok = 0;
    for (int i = 0; i < p->nlayouts; i++)
        ep_ok += p->layouts[i].ep > 1 && p->layouts[i].state == TACL_LAYOUT_OK;
    CHECK(ep_ok >= 3);
    l = tacl__plan_find(p, 1, 1, 8);
    CHECK(l && l->state == TACL_LAYOUT_OK && l->dp == 8);
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);
    p = run("cluster/h200x2x8.yaml", "DeepSeek-V3", &w, &c);
    const tacl__layout_t *ep16 = tacl__plan_find(p, 8, 1, 16), *ep1 = tacl__plan_find(p, 8, 1, 1);
    CHECK(ep16 && ep1 && ep16->state == TACL_LAYOUT_OK && ep1->state == TACL_LAYOUT_OK);
    double experts_b = 256.0 * 58 * 3 * 7168 * 2048; /* routed experts, fp8: 1 byte each */
    CHECK(
        rel_close((ep1->weight_gb - ep16->weight_gb) * 1e9, experts_b / 8 - experts_b / 16, 0.02));
    CHECK(ep16->kv_tokens > ep1->kv_tokens);
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);

    /* Nothing fits: the closest layout and what it misses per GPU. */
    tacl__workload_default(&w);
    p = run("cluster/chain3.yaml", "Llama-3.1-405B", &w, &c);
    CHECK(p->best < 0 && p->closest >= 0);
    l = &p->layouts[p->closest];
    CHECK(l->state == TACL_LAYOUT_NOFIT && l->missing_gb > 0);
    /* 812 GB over 6 GPUs of 36.65 GB usable: at least 98.6 GB missing per GPU. */
    CHECK(l->missing_gb > 98 && l->missing_gb < 140);
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);

    /* A 1024-host cluster built in memory: plans, and every TP group of the choice stays in a
     * host or spans whole hosts. */
    CHECK_OK(tacl__cluster_create(&c));
    for (int i = 0; i < 1024; i++) {
        char name[32];
        int idx;
        snprintf(name, sizeof name, "n%d", i);
        CHECK_OK(tacl__cluster_add_host(c, name, 8, "H100-80GB", &idx));
    }
    c->has_default = 1, c->default_gbs = 50, c->default_lat_us = 4;
    CHECK_OK(tacl__cluster_finish(c));
    tacl__model_t big = *tacl__model_preset("Llama-3.1-405B");
    tacl__workload_default(&w);
    w.concurrency = 4096;
    CHECK_OK(tacl__plan_create(c, &big, &w, NULL, &p));
    CHECK(p->best >= 0 && p->nslots == 8192);
    l = &p->layouts[p->best];
    CHECK(l->gpus_used <= 8192 && (l->tp <= 8 ? 8 % l->tp == 0 : l->tp % 8 == 0));
    printf("1024 hosts: %d layouts in %.1f ms, chose TP%d PP%d DP%d\n", p->nlayouts, p->plan_ms,
           l->tp, l->pp, l->dp);
    tacl__plan_destroy(p);

    /* Bad input to the planner. */
    tacl_cluster_t *empty;
    int idx;
    CHECK_OK(tacl__cluster_create(&empty));
    CHECK_OK(tacl__cluster_add_host(empty, "cpu-only", 0, NULL, &idx));
    CHECK_ST(tacl__plan_create(empty, &big, &w, NULL, &p), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "has no GPUs");
    w.mem_util = 1.5;
    CHECK_ST(tacl__plan_create(c, &big, &w, NULL, &p), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "memory utilisation");
    tacl_cluster_destroy(empty);
    tacl_cluster_destroy(c);
    printf("plan: ok\n");
    return 0;
}
