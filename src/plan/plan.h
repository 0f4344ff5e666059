/* plan.h — the serving planner: given a cluster description, a model and a workload, it
 * evaluates every layout DP x PP x TP (and EP for MoE models) on the cluster's GPUs, with the
 * constraints vLLM imposes (heads divisible by TP, layers split over stages, reachability of
 * every pair that NCCL/Gloo will connect) and the cost model of docs/COST_MODEL.md, and ranks
 * them. Pure computation: no I/O except the printers at the bottom. */
#ifndef TACL_PLAN_PLAN_H
#define TACL_PLAN_PLAN_H

#include "plan/model.h"
#include "topo/cluster.h"

#include <stdint.h>
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
} tacl__workload_t;

/* Constants of the cost model (docs/COST_MODEL.md says where each comes from). */
typedef struct {
    double eta_hbm;        /* achieved fraction of HBM bandwidth in decode */
    double eta_mm;         /* achieved fraction of tensor TFLOP/s in decode GEMMs */
    double eta_prefill;    /* achieved fraction of tensor TFLOP/s in prefill */
    double eta_bus;        /* achieved fraction of link bandwidth by ring collectives */
    double alpha_gpu_us;   /* all-reduce start-up inside a host, replayed from a CUDA graph */
    double alpha_eager_us; /* the same launched eagerly (a kernel launch and NCCL's host work) */
    double alpha_net_us;   /* extra start-up of a collective or send crossing hosts */
    double alpha_p2p_us;   /* start-up of a PP send/recv */
    double layer_us;       /* fixed time per layer and step: kernel gaps, norms, sampling share */
} tacl__costmodel_t;

void tacl__workload_default(tacl__workload_t *w);
void tacl__costmodel_default(tacl__costmodel_t *cm);

/* All-reduce time (us) of M bytes over n ranks with per-rank link bandwidth bw_gbs (alpha-beta
 * ring model); exposed for the calibration benchmark. */
double tacl__plan_allreduce_us(const tacl__costmodel_t *cm, double bytes, int n, double bw_gbs,
                               double alpha_us);

/* ---- One collective, as the cost model sees it (`tacl plan --predict`). ---- */
typedef enum {
    TACL_PRED_ALL_REDUCE = 0,
    TACL_PRED_ALL_GATHER,
    TACL_PRED_REDUCE_SCATTER,
    TACL_PRED_BROADCAST,
    TACL_PRED_ALL_TO_ALL,
    TACL_PRED_SENDRECV,
    TACL_PRED_NCOLL
} tacl__pred_coll_t;

/* "all_reduce", "allreduce", "ar", ...; -1 when unknown. */
int tacl__pred_coll_parse(const char *s);
const char *tacl__pred_coll_name(tacl__pred_coll_t k);

/* A measured fit of one collective (calibration file): t = alpha + f(n) * bytes / busbw. */
typedef struct {
    char coll[24];    /* collective name */
    char backend[8];  /* "gpu" or "host" */
    int graph;        /* GPU: timed as CUDA-graph replays */
    int ranks, hosts; /* the group it was measured on (hosts 0: unknown) */
    double alpha_us;  /* start-up */
    double busbw_gbs; /* achieved bus bandwidth */
    double err_mean;  /* mean |relative error| of the fit over its points */
    double err_max;   /* worst |relative error| */
    int npoints;
} tacl__calib_fit_t;

#define TACL_CALIB_MAX 64
typedef struct {
    int nfits;
    tacl__calib_fit_t fits[TACL_CALIB_MAX];
} tacl__calib_t;

/* The bus-bandwidth factor f(n) of a collective (all-reduce 2(n-1)/n, gathers (n-1)/n, ...). */
double tacl__pred_busfactor(tacl__pred_coll_t k, int n);
/* Fits alpha and busbw to (bytes, us) points by least squares on relative error (weights
 * 1/t^2); err_* are filled from the fit's own points. Needs n >= 2 distinct sizes. */
tacl_status_t tacl__calib_fit(tacl__pred_coll_t k, int ranks, const double *bytes, const double *us,
                              int n, tacl__calib_fit_t *out);
/* Reads `tacl bench -J` output (JSON lines, host or GPU runs; several runs may be concatenated)
 * and fits each (collective, backend, graph, ranks) series, appended to cal. */
tacl_status_t tacl__calib_from_bench(const char *path, tacl__calib_t *cal);
/* Reads a calibration file written by tacl__calib_write (or a `tacl doctor --json` cluster file,
 * whose measured link figures become host fits). */
tacl_status_t tacl__calib_load(const char *path, tacl__calib_t *cal);
tacl_status_t tacl__calib_write(const tacl__calib_t *cal, FILE *f);
/* The fit of collective k measured with this backend ("gpu", "host"), mode and rank count on
 * one host, or NULL; and its time (us) for `bytes`. */
const tacl__calib_fit_t *tacl__calib_find(const tacl__calib_t *cal, tacl__pred_coll_t k,
                                          const char *backend, int graph, int ranks);
double tacl__calib_time(const tacl__calib_fit_t *x, tacl__pred_coll_t k, double bytes);
/* Sets the cost model's constants from the fits it can use (GPU all-reduce: alpha_gpu_us from
 * graph runs, alpha_eager_us from eager runs, eta_bus from the achieved bandwidth against the
 * GPUs' link figure gpu_link_gbs). */
void tacl__calib_apply(const tacl__calib_t *cal, double gpu_link_gbs, tacl__costmodel_t *cm);

/* The model's time for one collective of `bytes` over the GPUs slots[0..n) of plan p's
 * cluster (slot numbers in placement order), eager and graph-captured. When cal holds a fit
 * measured on the same collective and group size (one host, same rank count), that fit
 * answers (*fit_used set to it); otherwise the alpha-beta model of docs/COST_MODEL.md. */
typedef struct {
    double eager_us, graph_us;
    double alpha_eager_us, alpha_graph_us, beta_us; /* the parts */
    double bw_gbs;                                  /* the slowest link the model used */
    int hosts;                                      /* distinct hosts of the group */
    const tacl__calib_fit_t *fit_eager, *fit_graph; /* calibration used, or NULL */
} tacl__pred_t;
struct tacl__plan;
tacl_status_t tacl__plan_predict(const struct tacl__plan *p, tacl__pred_coll_t k, double bytes,
                                 const int *slots, int n, const tacl__calib_t *cal,
                                 tacl__pred_t *out);

enum { TACL_LAYOUT_OK = 0, TACL_LAYOUT_NOFIT = 1, TACL_LAYOUT_REJECTED = 2 };

typedef struct {
    int tp, pp, dp, ep; /* ep > 1: experts spread over dp x tp GPUs (enable-expert-parallel) */
    int state;          /* TACL_LAYOUT_* */
    int meets;          /* fits and meets the TTFT/TPOT/rate targets */
    int routed;         /* a group relies on tacl's routing (allow_routing) */
    int custom_split;   /* layers[] differs from vLLM's default split */
    int gpus_used;
    int *reps;        /* partial: the replicas kept (slot base = reps[i] * tp * pp); NULL: all */
    int dp_full;      /* replicas the cluster's GPUs would hold (dp < dp_full: partial) */
    char reason[768]; /* rejected / does not fit: why (all reasons, "; "-separated) */
    char note[768];   /* control-plane requirements and other remarks */
    char bottleneck[192]; /* the slowest link or resource and its share of a token's time */
    int bneck_a, bneck_b; /* hosts of the bottleneck link (-1: not a link) */
    int link_a, link_b;   /* the inter-host link costing the most per token (-1: none) */
    double weight_gb;     /* weights on the fullest GPU */
    double missing_gb;    /* NOFIT: memory missing on the fullest GPU */
    double kv_tokens;     /* KV-cache capacity of one replica (instance for EP) */
    long conc_replica;    /* requests per replica the KV cache allows */
    double ttft_ms, tpot_ms, tok_s;
    int *layers; /* pp entries: layers per stage */
} tacl__layout_t;

/* Per-host scratch arrays of the search (an epoch stamp marks the hosts of the current set). */
typedef struct {
    int epoch, epoch2;
    int *mark2;                  /* a second stamp array (group pair checks) */
    uint64_t *adjbits, *setbits; /* dense explicit links: adjacency bitsets (plan_place.c) */
    int links_uniform;           /* every explicit link has the same figures */
    int *mark, *hosts, *cnt, *pos;
    int uniform_gpus;             /* GPUs per host when all hosts are identical (else 0) */
    int *special_prefix;          /* slots before i on hosts named by a link or unreachable pair */
    struct tacl__plan_res *cache; /* one evaluation per GPU offset (plan_eval.c) */
    char *cache_ok;
} tacl__plan_scratch_t;

typedef struct tacl__plan {
    const tacl_cluster_t *cluster;
    tacl__model_t model;
    tacl__workload_t w;
    tacl__costmodel_t cm;
    int nslots; /* GPUs in placement order */
    int *slot_host, *slot_dev;
    int nlayouts;
    tacl__layout_t *layouts; /* ranked: usable ones first, best first */
    int best;                /* index of the chosen layout, -1 when none fits */
    int closest;             /* none fits: the layout missing the least memory, else -1 */
    double plan_ms;          /* time the search took */
    long evaluated;          /* replicas costed (after memoisation) */
    tacl__plan_scratch_t *scratch;
    const tacl__calib_t *calib; /* optional: measured fits for the JSON predictions */
    /* Unequal hosts: the best layout of each class of identical hosts, planned alone, when
     * together they serve more than the best single layout (nmixed 0: no such set). */
    int nmixed;
    struct tacl__plan **mixed;
    tacl_cluster_t **mixed_cluster; /* the class's hosts, as a cluster of their own */
    double mixed_tok_s;
} tacl__plan_t;

/* Slot (placement order) of GPU i of layout l: replicas the layout keeps, in order. */
static inline int tacl__layout_slot(const tacl__layout_t *l, int i)
{
    int size = l->tp * l->pp, r = i / size;
    return (l->reps ? l->reps[r] : r) * size + i % size;
}

/* The store of instance inst of layout l (an instance: a replica, or the whole EP group):
 * tacl__cluster_store_pick over its hosts, preferring its node 0. -1: no host qualifies. */
int tacl__plan_store_host(const tacl__plan_t *p, const tacl__layout_t *l, int inst);

/* Evaluates and ranks every layout. Errors: TACL_ERR_INVALID (empty cluster, bad workload). */
tacl_status_t tacl__plan_create(const tacl_cluster_t *c, const tacl__model_t *m,
                                const tacl__workload_t *w, const tacl__costmodel_t *cm,
                                tacl__plan_t **out);
void tacl__plan_destroy(tacl__plan_t *p);
/* The layout with these sizes (ep 0: any), or NULL. */
const tacl__layout_t *tacl__plan_find(const tacl__plan_t *p, int tp, int pp, int ep);

/* Printers (plan_out.c: text, plan_out_json.c, plan_out_dot.c). max_rows 0: all layouts.
 * model_arg: what the user gave (for vLLM). */
void tacl__plan_print_text(const tacl__plan_t *p, const char *model_arg, int max_rows, FILE *f);
void tacl__plan_print_json(const tacl__plan_t *p, const char *model_arg, FILE *f);
void tacl__plan_print_dot(const tacl__plan_t *p, FILE *f);
/* The vLLM command line for each host of layout l (plan_out_vllm.c). */
void tacl__plan_print_vllm(const tacl__plan_t *p, const tacl__layout_t *l, const char *model_arg,
                           FILE *f);

#endif
