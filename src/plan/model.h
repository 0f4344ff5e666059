/* model.h — what the planner knows about a model: the shape fields of a Hugging Face
 * config.json (dense, GQA, MoE, DeepSeek MLA), bytes per weight and per KV-cache element, and
 * the sizes derived from them (parameters per layer, KV bytes per token). Built-in presets
 * carry the real config values of common models. */
#ifndef TACL_PLAN_MODEL_H
#define TACL_PLAN_MODEL_H

#include "tacl.h"

typedef struct {
    char name[256];
    long hidden, layers, heads, kv_heads, head_dim, inter, vocab;
    int tie_embed;
    /* Mixture of experts (0 experts: dense). */
    long experts, experts_per_tok, moe_inter, shared_experts, first_dense;
    /* Multi-head latent attention (DeepSeek-V2/V3); kv_lora_rank 0: ordinary attention. */
    long q_lora_rank, kv_lora_rank, qk_nope_dim, qk_rope_dim, v_head_dim;
    double weight_bytes; /* per parameter: 2 bf16/fp16, 1 fp8/int8, 0.5 int4 */
    double kv_bytes;     /* per KV-cache element */
    char dtype[24];      /* as the config says (torch_dtype / quantization) */
} tacl__model_t;

/* A preset by name (case-insensitive): Llama-3-8B, Llama-3-70B, Llama-3.1-405B, Qwen2.5-72B,
 * Mixtral-8x7B, DeepSeek-V3 ...; NULL when unknown. */
const tacl__model_t *tacl__model_preset(const char *name);
const tacl__model_t *tacl__model_preset_at(int i);
/* The Hugging Face id of a preset (exact preset name), NULL for anything else. */
const char *tacl__model_hf_id(const char *name);
/* A preset name, or a path to a config.json (or YAML with the same keys). Errors:
 * TACL_ERR_NOT_FOUND (neither), TACL_ERR_CONFIG with file:line:col. */
tacl_status_t tacl__model_load(const char *name_or_path, tacl__model_t *out);
/* Reads a config.json given as text (tests); name appears in messages. */
tacl_status_t tacl__model_parse(const char *name, const char *text, tacl__model_t *out);

/* Derived sizes (parameters, not bytes). */
double tacl__model_attn_params(const tacl__model_t *m);           /* per layer */
double tacl__model_mlp_params(const tacl__model_t *m, int layer); /* per layer, all experts */
double tacl__model_expert_params(const tacl__model_t *m);         /* one routed expert */
int tacl__model_is_moe_layer(const tacl__model_t *m, int layer);
double tacl__model_embed_params(const tacl__model_t *m); /* input embedding */
double tacl__model_total_params(const tacl__model_t *m);
double tacl__model_active_params(const tacl__model_t *m); /* per token (MoE: routed top-k) */
/* KV-cache elements per token per layer for the whole model (before any TP split). */
double tacl__model_kv_elems(const tacl__model_t *m);

#endif
