/* plan.h — the serving planner: given a cluster description, a model and a workload, it
 * evaluates every layout DP x PP x TP (and EP for MoE models) on the cluster's GPUs, with the
 * constraints vLLM imposes (heads divisible by TP, layers split over stages, reachability of
 * every pair that NCCL/Gloo will connect) and the cost model of docs/COST_MODEL.md, and ranks
 * them. Pure computation: no I/O except the printers at the bottom. */
#ifndef TACL_PLAN_PLAN_H
#define TACL_PLAN_PLAN_H

#include "plan/model.h"
#include "topo/cluster.h"

#include <stdio.h>

typedef struct {
    long prompt_len, output_len; /* tokens per request */
    long concurrency;            /* requests in flight over the whole deployment */
    double rate;                 /* target requests/s (0: none) */
    double ttft_ms, tpot_ms;     /* targets (0: none) */
    double mem_util;             /* fraction of GPU memory vLLM may use (default 0.9) */
    double overhead_gb;          /* per GPU: CUDA context, activations, graphs (default 2) */
    double weight_bytes;         /* override the model's bytes per weight (0: keep) */
    double kv_bytes;             /* override bytes per KV element (0: keep) */
    int allow_routing;           /* accept groups whose missing pairs tacl routes */
    int max_tp;                  /* 0: up to 8 hosts' worth of GPUs */
    char quant[16];              /* vLLM --quantization to pass on ("" none) */
    char kv_dtype[16];           /* vLLM --kv-cache-dtype to pass on ("" auto) */
} tacl_workload_t;

/* Constants of the cost model (docs/COST_MODEL.md says where each comes from). */
typedef struct {
    double eta_hbm;      /* achieved fraction of HBM bandwidth in decode */
    double eta_mm;       /* achieved fraction of tensor TFLOP/s in decode GEMMs */
    double eta_prefill;  /* achieved fraction of tensor TFLOP/s in prefill */
    double eta_bus;      /* achieved fraction of link bandwidth by ring collectives */
    double alpha_gpu_us; /* all-reduce start-up inside a host (custom AR / NCCL, graphs) */
    double alpha_net_us; /* extra start-up of a collective or send crossing hosts */
    double alpha_p2p_us; /* start-up of a PP send/recv */
    double layer_us;     /* fixed time per layer and step: kernel gaps, norms, sampling share */
} tacl_costmodel_t;

void tacl_workload_default(tacl_workload_t *w);
void tacl_costmodel_default(tacl_costmodel_t *cm);

/* All-reduce time (us) of M bytes over n ranks with per-rank link bandwidth bw_gbs (alpha-beta
 * ring model); exposed for the calibration benchmark. */
double tacl_plan_allreduce_us(const tacl_costmodel_t *cm, double bytes, int n, double bw_gbs,
                              double alpha_us);

enum { TACL_LAYOUT_OK = 0, TACL_LAYOUT_NOFIT = 1, TACL_LAYOUT_REJECTED = 2 };

typedef struct {
    int tp, pp, dp, ep; /* ep > 1: experts spread over dp x tp GPUs (enable-expert-parallel) */
    int state;          /* TACL_LAYOUT_* */
    int meets;          /* fits and meets the TTFT/TPOT/rate targets */
    int routed;         /* a group relies on tacl's routing (allow_routing) */
    int custom_split;   /* layers[] differs from vLLM's default split */
    int gpus_used;
    char reason[768];     /* rejected / does not fit: why (all reasons, "; "-separated) */
    char note[768];       /* control-plane requirements and other remarks */
    char bottleneck[192]; /* the slowest link or resource and its share of a token's time */
    int bneck_a, bneck_b; /* hosts of the bottleneck link (-1: not a link) */
    int link_a, link_b;   /* the inter-host link costing the most per token (-1: none) */
    double weight_gb;     /* weights on the fullest GPU */
    double missing_gb;    /* NOFIT: memory missing on the fullest GPU */
    double kv_tokens;     /* KV-cache capacity of one replica (instance for EP) */
    long conc_replica;    /* requests per replica the KV cache allows */
    double ttft_ms, tpot_ms, tok_s;
    int *layers; /* pp entries: layers per stage */
} tacl_layout_t;

/* Per-host scratch arrays of the search (an epoch stamp marks the hosts of the current set). */
typedef struct {
    int epoch;
    int *mark, *hosts, *cnt, *pos;
    int uniform_gpus;       /* GPUs per host when all hosts are identical (else 0) */
    int *special_prefix;    /* slots before i on hosts named by a link or unreachable pair */
    struct plan_res *cache; /* one evaluation per GPU offset (plan.c) */
    char *cache_ok;
} tacl_plan_scratch_t;

typedef struct {
    const tacl_cluster_t *cluster;
    tacl_model_t model;
    tacl_workload_t w;
    tacl_costmodel_t cm;
    int nslots; /* GPUs in placement order */
    int *slot_host, *slot_dev;
    int nlayouts;
    tacl_layout_t *layouts; /* ranked: usable ones first, best first */
    int best;               /* index of the chosen layout, -1 when none fits */
    int closest;            /* none fits: the layout missing the least memory, else -1 */
    double plan_ms;         /* time the search took */
    long evaluated;         /* replicas costed (after memoisation) */
    tacl_plan_scratch_t *scratch;
} tacl_plan_t;

/* Evaluates and ranks every layout. Errors: TACL_ERR_INVALID (empty cluster, bad workload). */
tacl_status_t tacl_plan_create(const tacl_cluster_t *c, const tacl_model_t *m,
                               const tacl_workload_t *w, const tacl_costmodel_t *cm,
                               tacl_plan_t **out);
void tacl_plan_destroy(tacl_plan_t *p);
/* The layout with these sizes (ep 0: any), or NULL. */
const tacl_layout_t *tacl_plan_find(const tacl_plan_t *p, int tp, int pp, int ep);

/* Printers (plan_out.c). max_rows 0: all layouts. model_arg: what the user gave (for vLLM). */
void tacl_plan_print_text(const tacl_plan_t *p, const char *model_arg, int max_rows, FILE *f);
void tacl_plan_print_json(const tacl_plan_t *p, const char *model_arg, FILE *f);
void tacl_plan_print_dot(const tacl_plan_t *p, FILE *f);
/* The vLLM command line for each host of layout l. */
void tacl_plan_print_vllm(const tacl_plan_t *p, const tacl_layout_t *l, const char *model_arg,
                          FILE *f);

#endif
