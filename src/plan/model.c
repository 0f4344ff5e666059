/* model.c — model descriptions: the built-in presets (values copied from each model's
 * config.json on the Hugging Face hub), the config.json reader, and the parameter and KV-cache
 * sizes derived from the shape (docs/COST_MODEL.md gives the formulas). */
#include "plan/model.h"
#include "topo/cluster_file.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#if TACL_HAVE_FYAML
#include <libfyaml.h>
#endif

/* name, hidden, layers, heads, kv_heads, head_dim, inter, vocab, tie, experts, top-k,
 * moe_inter, shared, first_dense, q_lora, kv_lora, nope, rope, v_head, wbytes, kvbytes, dtype */
static const tacl__model_t model_presets[] = {
    {"Llama-3-8B", 4096, 32, 32, 8, 128, 14336, 128256, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2,
     "bfloat16"},
    {"Llama-3-70B", 8192, 80, 64, 8, 128, 28672, 128256, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2,
     "bfloat16"},
    {"Llama-3.1-8B", 4096, 32, 32, 8, 128, 14336, 128256, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2,
     "bfloat16"},
    {"Llama-3.1-70B", 8192, 80, 64, 8, 128, 28672, 128256, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2,
     "bfloat16"},
    {"Llama-3.1-405B",
     16384,
     126,
     128,
     8,
     128,
     53248,
     128256,
     0,
     0,
     0,
     0,
     0,
     0,
     0,
     0,
     0,
     0,
     0,
     2,
     2,
     "bfloat16"},
    {"Llama-3.2-1B", 2048, 16, 32, 8, 64, 8192, 128256, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2,
     "bfloat16"},
    {"Llama-3.2-3B", 3072, 28, 24, 8, 128, 8192, 128256, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2,
     "bfloat16"},
    {"Qwen2.5-7B", 3584, 28, 28, 4, 128, 18944, 152064, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2,
     "bfloat16"},
    {"Qwen2.5-32B", 5120, 64, 40, 8, 128, 27648, 152064, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2,
     "bfloat16"},
    {"Qwen2.5-72B", 8192, 80, 64, 8, 128, 29568, 152064, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2,
     "bfloat16"},
    {"Mixtral-8x7B", 4096, 32, 32, 8, 128, 14336, 32000, 0, 8, 2,
     14336,          0,    0,  0,  0, 0,   0,     0,     2, 2, "bfloat16"},
    {"Mixtral-8x22B", 6144, 56, 48, 8, 128, 16384, 32768, 0, 8, 2,
     16384,           0,    0,  0,  0, 0,   0,     0,     2, 2, "bfloat16"},
    {"Qwen3-235B-A22B",
     4096,
     94,
     64,
     4,
     128,
     12288,
     151936,
     0,
     128,
     8,
     1536,
     0,
     0,
     0,
     0,
     0,
     0,
     0,
     2,
     2,
     "bfloat16"},
    /* DeepSeek-V3 ships fp8 weights (quantization_config: fp8, 128x128 blocks). */
    {"DeepSeek-V3", 7168, 61, 128,  128, 192, 18432, 129280, 0, 256, 8,
     2048,          1,    3,  1536, 512, 128, 64,    128,    1, 2,   "fp8"},
};
#define MODEL_NPRESETS ((int)(sizeof model_presets / sizeof model_presets[0]))

/* The Hugging Face id vLLM is given for each preset (the instruction-tuned checkpoint where
 * the family publishes one), in the order of model_presets. */
static const char *const model_hf_ids[] = {
    "meta-llama/Meta-Llama-3-8B-Instruct",
    "meta-llama/Meta-Llama-3-70B-Instruct",
    "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Llama-3.1-70B-Instruct",
    "meta-llama/Llama-3.1-405B-Instruct",
    "meta-llama/Llama-3.2-1B-Instruct",
    "meta-llama/Llama-3.2-3B-Instruct",
    "Qwen/Qwen2.5-7B-Instruct",
    "Qwen/Qwen2.5-32B-Instruct",
    "Qwen/Qwen2.5-72B-Instruct",
    "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "mistralai/Mixtral-8x22B-Instruct-v0.1",
    "Qwen/Qwen3-235B-A22B",
    "deepseek-ai/DeepSeek-V3",
};
_Static_assert(sizeof model_hf_ids / sizeof model_hf_ids[0] == MODEL_NPRESETS,
               "one Hugging Face id per preset");

const char *tacl__model_hf_id(const char *name)
{
    for (int i = 0; name && i < MODEL_NPRESETS; i++)
        if (!strcasecmp(name, model_presets[i].name)) return model_hf_ids[i];
    return NULL;
}

const tacl__model_t *tacl__model_preset_at(int i)
{
    return i >= 0 && i < MODEL_NPRESETS ? &model_presets[i] : NULL;
}

const tacl__model_t *tacl__model_preset(const char *name)
{
    if (!name) return NULL;
    for (int i = 0; i < MODEL_NPRESETS; i++)
        if (!strcasecmp(name, model_presets[i].name)) return &model_presets[i];
    /* Hub ids ("meta-llama/Meta-Llama-3-70B-Instruct") name the same shapes. */
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (!strncasecmp(base, "Meta-", 5)) base += 5;
    for (int i = 0; i < MODEL_NPRESETS; i++) {
        size_t n = strlen(model_presets[i].name);
        if (!strncasecmp(base, model_presets[i].name, n) &&
            (base[n] == 0 || base[n] == '-' || base[n] == '_'))
            return &model_presets[i];
    }
    return NULL;
}

/* ---- Derived sizes. ---- */

double tacl__model_attn_params(const tacl__model_t *m)
{
    double h = (double)m->hidden, nh = (double)m->heads;
    if (m->kv_lora_rank > 0) {
        double qk = (double)(m->qk_nope_dim + m->qk_rope_dim);
        double q = m->q_lora_rank > 0 ? h * m->q_lora_rank + (double)m->q_lora_rank * nh * qk
                                      : h * nh * qk;
        double kv_a = h * (double)(m->kv_lora_rank + m->qk_rope_dim);
        double kv_b = (double)m->kv_lora_rank * nh * (double)(m->qk_nope_dim + m->v_head_dim);
        double o = nh * (double)m->v_head_dim * h;
        return q + kv_a + kv_b + o;
    }
    double hd = (double)m->head_dim;
    return h * nh * hd * 2 + 2 * h * (double)m->kv_heads * hd;
}

int tacl__model_is_moe_layer(const tacl__model_t *m, int layer)
{
    return m->experts > 0 && layer >= m->first_dense;
}

double tacl__model_expert_params(const tacl__model_t *m)
{
    return 3.0 * (double)m->hidden * (double)(m->moe_inter ? m->moe_inter : m->inter);
}

double tacl__model_mlp_params(const tacl__model_t *m, int layer)
{
    if (!tacl__model_is_moe_layer(m, layer)) return 3.0 * (double)m->hidden * (double)m->inter;
    /* routed experts + shared experts + router */
    return tacl__model_expert_params(m) * (double)(m->experts + m->shared_experts) +
           (double)m->hidden * (double)m->experts;
}

double tacl__model_embed_params(const tacl__model_t *m)
{
    return (double)m->vocab * (double)m->hidden;
}

double tacl__model_total_params(const tacl__model_t *m)
{
    double p = tacl__model_embed_params(m) * (m->tie_embed ? 1 : 2);
    for (int l = 0; l < m->layers; l++)
        p += tacl__model_attn_params(m) + tacl__model_mlp_params(m, l);
    return p;
}

double tacl__model_active_params(const tacl__model_t *m)
{
    double p = tacl__model_embed_params(m) * (m->tie_embed ? 1 : 2);
    for (int l = 0; l < m->layers; l++) {
        p += tacl__model_attn_params(m);
        if (tacl__model_is_moe_layer(m, l))
            p += tacl__model_expert_params(m) * (double)(m->experts_per_tok + m->shared_experts);
        else
            p += tacl__model_mlp_params(m, l);
    }
    return p;
}

double tacl__model_kv_elems(const tacl__model_t *m)
{
    /* MLA caches the compressed latent plus the rope key, shared by all heads. */
    if (m->kv_lora_rank > 0) return (double)(m->kv_lora_rank + m->qk_rope_dim);
    return 2.0 * (double)m->kv_heads * (double)m->head_dim;
}

/* ---- config.json ---- */

#if TACL_HAVE_FYAML
/* Reads an optional integer field; absent leaves *out unchanged. */
static tacl_status_t model_int(const tacl__doc_t *d, struct fy_node *root, const char *key,
                               long *out)
{
    struct fy_node *v = tacl__doc_get(root, key);
    if (!v) return TACL_OK;
    const char *s = fy_node_is_scalar(v) ? fy_node_get_scalar0(v) : NULL;
    if (s && !strcmp(s, "null")) return TACL_OK;
    return tacl__doc_int(d, v, key, 0, 1L << 40, out);
}

static tacl_status_t model_read(const tacl__doc_t *d, tacl__model_t *out)
{
    struct fy_node *root = tacl__doc_root(d), *v;
    if (!root || !fy_node_is_mapping(root))
        return tacl__doc_err(d, root,
                             "expected a config.json object with hidden_size, "
                             "num_hidden_layers, num_attention_heads ...");
    /* Multimodal configs nest the language model under text_config. */
    if ((v = tacl__doc_get(root, "text_config")) && fy_node_is_mapping(v)) root = v;
    tacl__model_t m;
    memset(&m, 0, sizeof m);
    m.head_dim = -1;
    m.kv_heads = -1;
    static const char *const need[] = {"hidden_size", "num_hidden_layers", "num_attention_heads",
                                       "vocab_size"};
    long *needp[] = {&m.hidden, &m.layers, &m.heads, &m.vocab};
    for (int i = 0; i < 4; i++) {
        if (!(v = tacl__doc_get(root, need[i])))
            return tacl__doc_err(d, root, "expected %s (a positive integer) in the model config",
                                 need[i]);
        TACL_CHECK(tacl__doc_int(d, v, need[i], 1, 1L << 40, needp[i]));
    }
    TACL_CHECK(model_int(d, root, "num_key_value_heads", &m.kv_heads));
    TACL_CHECK(model_int(d, root, "head_dim", &m.head_dim));
    TACL_CHECK(model_int(d, root, "intermediate_size", &m.inter));
    TACL_CHECK(model_int(d, root, "num_local_experts", &m.experts));
    TACL_CHECK(model_int(d, root, "n_routed_experts", &m.experts));
    TACL_CHECK(model_int(d, root, "num_experts", &m.experts));
    TACL_CHECK(model_int(d, root, "num_experts_per_tok", &m.experts_per_tok));
    TACL_CHECK(model_int(d, root, "moe_intermediate_size", &m.moe_inter));
    TACL_CHECK(model_int(d, root, "n_shared_experts", &m.shared_experts));
    TACL_CHECK(model_int(d, root, "first_k_dense_replace", &m.first_dense));
    TACL_CHECK(model_int(d, root, "q_lora_rank", &m.q_lora_rank));
    TACL_CHECK(model_int(d, root, "kv_lora_rank", &m.kv_lora_rank));
    TACL_CHECK(model_int(d, root, "qk_nope_head_dim", &m.qk_nope_dim));
    TACL_CHECK(model_int(d, root, "qk_rope_head_dim", &m.qk_rope_dim));
    TACL_CHECK(model_int(d, root, "v_head_dim", &m.v_head_dim));
    if ((v = tacl__doc_get(root, "tie_word_embeddings")))
        TACL_CHECK(tacl__doc_bool(d, v, "tie_word_embeddings", &m.tie_embed));
    if (m.kv_heads < 0) m.kv_heads = m.heads;
    if (m.kv_heads == 0 || m.heads % m.kv_heads)
        return tacl__doc_err(d, tacl__doc_get(root, "num_key_value_heads"),
                             "num_key_value_heads: expected a divisor of num_attention_heads "
                             "(%ld), found %ld",
                             m.heads, m.kv_heads);
    if (m.head_dim < 0) {
        if (m.hidden % m.heads)
            return tacl__doc_err(d, root,
                                 "expected head_dim: hidden_size %ld is not a multiple of "
                                 "num_attention_heads %ld",
                                 m.hidden, m.heads);
        m.head_dim = m.hidden / m.heads;
    }
    if (m.kv_lora_rank > 0) m.head_dim = m.qk_nope_dim + m.qk_rope_dim;
    if (m.inter <= 0 && m.experts == 0)
        return tacl__doc_err(d, root, "expected intermediate_size (a positive integer)");
    if (m.experts > 0 && m.experts_per_tok <= 0)
        return tacl__doc_err(d, root, "MoE config: expected num_experts_per_tok with %ld experts",
                             m.experts);
    /* Bytes per weight: the dtype, unless a quantization_config says fewer. */
    m.weight_bytes = 2;
    snprintf(m.dtype, sizeof m.dtype, "bfloat16");
    if ((v = tacl__doc_get(root, "torch_dtype")) || (v = tacl__doc_get(root, "dtype"))) {
        char s[24];
        TACL_CHECK(tacl__doc_str(d, v, "torch_dtype", s, sizeof s));
        if (strcmp(s, "bfloat16") && strcmp(s, "float16") && strcmp(s, "float32"))
            return tacl__doc_err(
                d, v, "torch_dtype: expected bfloat16, float16 or float32, found '%s'", s);
        /* vLLM serves float32 checkpoints in 16 bits unless told otherwise. */
        snprintf(m.dtype, sizeof m.dtype, "%s", s);
    }
    struct fy_node *q = tacl__doc_get(tacl__doc_root(d), "quantization_config");
    if (q && fy_node_is_mapping(q)) {
        char meth[24] = "";
        long bits = 0;
        if ((v = tacl__doc_get(q, "quant_method")))
            TACL_CHECK(tacl__doc_str(d, v, "quant_method", meth, sizeof meth));
        TACL_CHECK(model_int(d, q, "bits", &bits));
        if (!strcasecmp(meth, "fp8") || !strcasecmp(meth, "fbgemm_fp8") || bits == 8)
            m.weight_bytes = 1;
        else if (bits == 4 || !strcasecmp(meth, "awq"))
            m.weight_bytes = 0.5;
        if (meth[0]) snprintf(m.dtype, sizeof m.dtype, "%s", meth);
    }
    m.kv_bytes = 2;
    snprintf(m.name, sizeof m.name, "%s", d->file);
    *out = m;
    return TACL_OK;
}
#endif

tacl_status_t tacl__model_parse(const char *name, const char *text, tacl__model_t *out)
{
    tacl__doc_t d;
    TACL_CHECK(tacl__doc_parse(name, text, &d));
#if TACL_HAVE_FYAML
    tacl_status_t st = model_read(&d, out);
#else
    tacl_status_t st = TACL_ERR_UNAVAILABLE;
    (void)out;
#endif
    tacl__doc_close(&d);
    return st;
}

tacl_status_t tacl__model_load(const char *name_or_path, tacl__model_t *out)
{
    const tacl__model_t *p = tacl__model_preset(name_or_path);
    if (p) {
        *out = *p;
        return TACL_OK;
    }
    /* A checkpoint folder (what vLLM is given) holds its config.json. */
    char cfg[1024];
    struct stat sb;
    int exists = stat(name_or_path, &sb) == 0;
    if (exists && S_ISDIR(sb.st_mode) &&
        snprintf(cfg, sizeof cfg, "%s/config.json", name_or_path) < (int)sizeof cfg)
        name_or_path = cfg;
    if (!exists) {
        /* A path (a slash or a file suffix) that is not there is a missing file, not an
         * unknown preset. */
        size_t n = strlen(name_or_path);
        int pathlike = strchr(name_or_path, '/') ||
                       (n > 5 && !strcasecmp(name_or_path + n - 5, ".json")) ||
                       (n > 5 && !strcasecmp(name_or_path + n - 5, ".yaml")) ||
                       (n > 4 && !strcasecmp(name_or_path + n - 4, ".yml"));
        if (pathlike && !tacl__model_preset(name_or_path))
            return tacl__err(NULL, TACL_ERR_NOT_FOUND, TACL_SUB_PLAN,
                             "model %s: no such file (expected a config.json, a checkpoint "
                             "folder holding one, or a preset name)",
                             name_or_path);
        char list[1024] = "";
        for (int i = 0; i < MODEL_NPRESETS; i++) {
            if (strlen(list) + strlen(model_presets[i].name) + 3 >= sizeof list) break;
            if (i) strcat(list, ", ");
            strcat(list, model_presets[i].name);
        }
        return tacl__err(NULL, TACL_ERR_NOT_FOUND, TACL_SUB_PLAN,
                         "model '%s': expected a preset (%s) or the path of a config.json",
                         name_or_path, list);
    }
    FILE *f = fopen(name_or_path, "r");
    if (!f) return tacl__doc_check_file(name_or_path); /* names why */
    fclose(f);
    tacl__doc_t d;
    TACL_CHECK(tacl__doc_load(name_or_path, &d));
#if TACL_HAVE_FYAML
    tacl_status_t st = model_read(&d, out);
#else
    tacl_status_t st = TACL_ERR_UNAVAILABLE;
#endif
    tacl__doc_close(&d);
    return st;
}
