/* plan_int.h — what the planner's files share: the types of a group, a replica and a layout's
 * shape and result, the steps of tacl__plan_create, and what the printers of `tacl plan` share
 * (plan_out*.c: names, instances, the vLLM command of a host) (private to src/plan). */
#ifndef TACL_PLAN_PLAN_INT_H
#define TACL_PLAN_PLAN_INT_H

#include "plan/plan.h"

#include <stddef.h>

/* A group of GPUs, as the cost model sees it (plan_groups.c). */
typedef struct {
    int n, k;         /* ranks, distinct hosts */
    int gmax;         /* most ranks of the group on one host */
    double intra_gbs; /* slowest GPU-GPU link inside a host */
    double inter_gbs; /* slowest host link (direct, or the routed tree's) */
    double lat_us;    /* worst host-link latency */
    int routed;       /* a pair is reached through tacl's routing */
    int missing;      /* a pair has no link and routing is not allowed (or impossible) */
    int ma, mb;       /* the first missing pair */
    int ba, bb;       /* the slowest host link */
} tacl__plan_group_t;

/* One layout: a replica's inputs, the layout's shape per GPU, a replica's result. */
typedef struct {
    /* inputs of one replica, compared between replicas to share evaluations */
    double *cap, *hbm, *tflops;     /* per stage: usable bytes, GB/s, TFLOP/s (slowest GPU) */
    tacl__plan_group_t *tpg, *epg;  /* per stage */
    double *pp_gbs, *pp_lat, *pp_x; /* per boundary: bandwidth, latency, crosses hosts */
    int *pp_a, *pp_b;               /* per boundary: the slowest pair's hosts */
} tacl__plan_rep_t;

typedef struct {
    int tp, pp, dp, ep, L;
    double w_layer, k_layer; /* bytes per GPU per layer: weights, KV per token */
    double embed_b, head_b;  /* bytes per GPU on the first / last stage */
    double act_params_layer; /* active parameters per GPU per layer (per token) */
    double moe_frac_layers;  /* fraction of layers that are MoE */
    double expert_b_gpu;     /* bytes of all routed experts per GPU per MoE layer */
    double dense_read_b;     /* bytes per GPU per layer read whatever the routing */
    double experts_gpu;      /* routed experts held per GPU per MoE layer */
} tacl__plan_shape_t;

typedef struct tacl__plan_res {
    int fits, custom;
    double kv_tokens, missing, wmax;
    double ttft_ms, tpot_ms, tok_s;
    long conc;
    char bneck[192];
    int ba, bb; /* hosts of the bottleneck link (-1: not a link) */
    int la, lb; /* the inter-host link costing the most time per token, bottleneck or not */
} tacl__plan_res_t;

/* plan.c: appends a "; "-separated remark to buf. */
void tacl__plan_addf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* plan_place.c: the slots in placement order; the symmetry tacl__plan_eval exploits. */
tacl_status_t tacl__plan_slots(tacl__plan_t *p);
tacl_status_t tacl__plan_symmetry(tacl__plan_t *p);

/* plan_groups.c: groups of slots, and the time of their collectives (us). */
double tacl__plan_gpu_pair_gbs(const tacl__cluster_host_t *h, int d0, int d1);
void tacl__plan_group(const tacl__plan_t *p, const int *idx, int n, tacl__plan_group_t *g);
double tacl__plan_group_ar_us(const tacl__plan_t *p, const tacl__plan_group_t *g, double bytes);
double tacl__plan_group_a2a_us(const tacl__plan_t *p, const tacl__plan_group_t *g, double bytes);

/* plan_cost.c: a layout's shape per GPU; one replica's layer split (n) and cost. */
void tacl__plan_shape(const tacl__plan_t *p, int tp, int pp, int dp, int ep,
                      tacl__plan_shape_t *sh);
void tacl__plan_cost(const tacl__plan_t *p, const tacl__plan_shape_t *sh, const tacl__plan_rep_t *r,
                     int *n, tacl__plan_res_t *res);

/* plan_eval.c: evaluates layout l. */
void tacl__plan_eval(tacl__plan_t *p, tacl__layout_t *l);

/* plan_mixed.c: unequal hosts, each class planned alone. */
void tacl__plan_mixed(tacl__plan_t *p, const tacl__model_t *m);

/* plan_out.c: what every printer shares. A layout's name ("TP2 PP1 DP4"), its layers per
 * stage ("40,40"), and its instances (vLLM processes that share a rendezvous) with their size. */
void tacl__plan_out_layout_name(const tacl__layout_t *l, char *buf, size_t len);
void tacl__plan_out_partition(const tacl__layout_t *l, char *buf, size_t len);
void tacl__plan_out_instances(const tacl__layout_t *l, int *ninst, int *size);

/* plan_out_vllm.c: the vLLM commands, which plan_out_json.c prints as JSON. */
#define PLAN_OUT_ARGS       48
#define PLAN_OUT_ENVS       8
#define PLAN_OUT_STORE_PORT 29501

/* One host's command of one instance: environment and argv, as printed and as JSON. */
typedef struct {
    int inst, node, nnodes, host, store_host;
    char env[PLAN_OUT_ENVS][2][160];
    int nenv;
    char argv[PLAN_OUT_ARGS][160];
    int argc;
    char comment[160]; /* printed after the command (Ray's second step) */
} tacl__plan_out_cmd_t;

/* The distinct hosts of instance inst in node order, with the ranks each holds; returns the
 * count. */
int tacl__plan_out_inst_hosts(const tacl__plan_t *p, const tacl__layout_t *l, int inst, int *hosts,
                              int *cnt);
/* The command of node j of instance inst (k nodes; store: the store's host). */
void tacl__plan_out_cmd(const tacl__plan_t *p, const tacl__layout_t *l, const char *model_arg,
                        int inst, const int *hosts, const int *cnt, int k, int j, int store,
                        tacl__plan_out_cmd_t *m);
/* The argv of the standalone store a host other than node 0 runs, NULL-terminated. */
extern const char *const tacl__plan_out_store_argv[];

#endif
