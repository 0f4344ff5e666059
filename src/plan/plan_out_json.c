/* plan_out_json.c — `tacl plan -J`: the cluster, model and workload, every layout, the unequal
 * hosts' set, the chosen layout's placement, store and vLLM argv/env per host, as JSON. */
#include "plan/plan_int.h"

#include <math.h>
#include <stdlib.h>

static void out_jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fprintf(f, "\\n");
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void out_jnum(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fprintf(f, "null");
}

static void out_jlayout(const tacl__plan_t *p, const tacl__layout_t *l, FILE *f)
{
    fprintf(f, "{\"tp\": %d, \"pp\": %d, \"dp\": %d, \"ep\": %d, \"state\": \"%s\", ", l->tp, l->pp,
            l->dp, l->ep,
            l->state == TACL_LAYOUT_OK      ? "ok"
            : l->state == TACL_LAYOUT_NOFIT ? "nofit"
                                            : "rejected");
    fprintf(f,
            "\"fits\": %s, \"meets_targets\": %s, \"routed\": %s, \"gpus\": %d, "
            "\"partial\": %s, \"replicas_possible\": %d, ",
            l->state == TACL_LAYOUT_OK ? "true" : "false", l->meets ? "true" : "false",
            l->routed ? "true" : "false", l->gpus_used, l->reps ? "true" : "false",
            l->dp_full ? l->dp_full : l->dp);
    if (l->state != TACL_LAYOUT_REJECTED) {
        fprintf(f, "\"weight_gb_per_gpu\": ");
        out_jnum(f, l->weight_gb);
        fprintf(f, ", \"kv_tokens\": ");
        out_jnum(f, l->kv_tokens);
        fprintf(f, ", \"layers\": [");
        for (int s = 0; s < l->pp; s++)
            fprintf(f, "%s%d", s ? ", " : "", l->layers[s]);
        fprintf(f, "], \"custom_split\": %s, ", l->custom_split ? "true" : "false");
    }
    if (l->state == TACL_LAYOUT_OK) {
        fprintf(f, "\"ttft_ms\": ");
        out_jnum(f, l->ttft_ms);
        fprintf(f, ", \"tpot_ms\": ");
        out_jnum(f, l->tpot_ms);
        fprintf(f, ", \"tokens_per_s\": ");
        out_jnum(f, l->tok_s);
        fprintf(f, ", \"requests_per_replica\": %ld, \"bottleneck\": ", l->conc_replica);
        out_jstr(f, l->bottleneck);
        fprintf(f, ", ");
    }
    if (l->state == TACL_LAYOUT_NOFIT) {
        fprintf(f, "\"missing_gb_per_gpu\": ");
        out_jnum(f, l->missing_gb);
        fprintf(f, ", ");
    }
    if (l->state == TACL_LAYOUT_OK) {
        /* The collectives of one decode step of this layout's first replica: the TP
         * all-reduce of the batch's hidden states and the PP send between stages 0 and 1. */
        double act = (double)l->conc_replica * (double)p->model.hidden * 2;
        int slots[2], *tps = malloc(sizeof(int) * (size_t)l->tp);
        tacl__pred_t pr;
        fprintf(f, "\"predict\": {");
        if (tps && l->tp > 1) {
            for (int t = 0; t < l->tp; t++)
                tps[t] = tacl__layout_slot(l, t);
            if (tacl__plan_predict(p, TACL_PRED_ALL_REDUCE, act, tps, l->tp, p->calib, &pr) ==
                TACL_OK)
                fprintf(f,
                        "\"tp_all_reduce\": {\"bytes\": %.0f, \"eager_us\": %.4g, "
                        "\"graph_us\": %.4g}%s",
                        act, pr.eager_us, pr.graph_us, l->pp > 1 ? ", " : "");
        }
        if (l->pp > 1) {
            slots[0] = tacl__layout_slot(l, 0), slots[1] = tacl__layout_slot(l, l->tp);
            if (tacl__plan_predict(p, TACL_PRED_SENDRECV, 2 * act, slots, 2, p->calib, &pr) ==
                TACL_OK)
                fprintf(f,
                        "\"pp_send\": {\"bytes\": %.0f, \"eager_us\": %.4g, \"graph_us\": "
                        "%.4g}",
                        2 * act, pr.eager_us, pr.graph_us);
        }
        fprintf(f, "}, ");
        free(tps);
    }
    fprintf(f, "\"reason\": ");
    out_jstr(f, l->reason);
    fprintf(f, ", \"note\": ");
    out_jstr(f, l->note);
    fprintf(f, "}");
}

void tacl__plan_print_json(const tacl__plan_t *p, const char *model_arg, FILE *f)
{
    const tacl_cluster_t *c = p->cluster;
    const tacl__model_t *m = &p->model;
    fprintf(f, "{\n  \"cluster\": ");
    out_jstr(f, c->source[0] ? c->source : c->name);
    fprintf(f, ", \"hosts\": %d, \"gpus\": %d,\n  \"model\": {\"name\": ", c->nhosts, p->nslots);
    out_jstr(f, m->name);
    fprintf(f,
            ", \"params\": %.6g, \"active_params\": %.6g, \"layers\": %ld, \"heads\": %ld, "
            "\"kv_heads\": %ld, \"experts\": %ld, \"weight_bytes\": %g},\n",
            tacl__model_total_params(m), tacl__model_active_params(m), m->layers, m->heads,
            m->kv_heads, m->experts, p->w.weight_bytes > 0 ? p->w.weight_bytes : m->weight_bytes);
    fprintf(f,
            "  \"workload\": {\"prompt\": %ld, \"output\": %ld, \"concurrency\": %ld, "
            "\"mem_util\": %g, \"ttft_ms\": %g, \"tpot_ms\": %g, \"rate\": %g},\n",
            p->w.prompt_len, p->w.output_len, p->w.concurrency, p->w.mem_util, p->w.ttft_ms,
            p->w.tpot_ms, p->w.rate);
    fprintf(f, "  \"plan_ms\": %.4g,\n  \"layouts\": [", p->plan_ms);
    for (int i = 0; i < p->nlayouts; i++) {
        fprintf(f, "%s\n    ", i ? "," : "");
        out_jlayout(p, &p->layouts[i], f);
    }
    fprintf(f, "\n  ],\n  \"mixed\": ");
    if (p->nmixed) {
        fprintf(f, "{\"tokens_per_s\": %.6g, \"sets\": [", p->mixed_tok_s);
        for (int k = 0; k < p->nmixed; k++) {
            const tacl_cluster_t *sc = p->mixed_cluster[k];
            fprintf(f, "%s\n    {\"gpu\": ", k ? "," : "");
            out_jstr(f, sc->hosts[0].gpu.name);
            fprintf(f, ", \"hosts\": [");
            for (int h = 0; h < sc->nhosts; h++) {
                if (h) fprintf(f, ", ");
                out_jstr(f, sc->hosts[h].name);
            }
            fprintf(f, "], \"concurrency\": %ld, \"layout\": ", p->mixed[k]->w.concurrency);
            out_jlayout(p->mixed[k], &p->mixed[k]->layouts[p->mixed[k]->best], f);
            fprintf(f, "}");
        }
        fprintf(f, "\n  ]}");
    } else {
        fprintf(f, "null");
    }
    fprintf(f, ",\n  \"chosen\": ");
    if (p->best < 0) {
        fprintf(f, "null,\n  \"closest\": ");
        if (p->closest >= 0)
            out_jlayout(p, &p->layouts[p->closest], f);
        else
            fprintf(f, "null");
        fprintf(f, "\n}\n");
        return;
    }
    const tacl__layout_t *l = &p->layouts[p->best];
    out_jlayout(p, l, f);
    fprintf(f, ",\n  \"placement\": [");
    for (int i = 0; i < l->gpus_used; i++) {
        int s = tacl__layout_slot(l, i);
        fprintf(f, "%s\n    {\"rank\": %d, \"host\": ", i ? "," : "", i);
        out_jstr(f, c->hosts[p->slot_host[s]].name);
        fprintf(f, ", \"device\": %d, \"replica\": %d, \"stage\": %d, \"tp_rank\": %d}",
                p->slot_dev[s], i / (l->tp * l->pp), (i / l->tp) % l->pp, i % l->tp);
    }
    fprintf(f, "\n  ],\n  \"store\": [");
    int ninst, size;
    tacl__plan_out_instances(l, &ninst, &size);
    int *hosts = malloc(sizeof(int) * (size_t)size), *cnt = malloc(sizeof(int) * (size_t)size);
    tacl__plan_out_cmd_t *cmd = malloc(sizeof *cmd);
    if (!hosts || !cnt || !cmd) {
        free(hosts);
        free(cnt);
        free(cmd);
        fprintf(f, "],\n  \"vllm\": null\n}\n");
        return;
    }
    /* Per instance: the store host, the address each host uses for it, and the command the
     * store host runs when it is not node 0. */
    for (int i = 0; i < ninst; i++) {
        int k = tacl__plan_out_inst_hosts(p, l, i, hosts, cnt);
        int store = tacl__plan_store_host(p, l, i);
        if (store < 0) store = hosts[0];
        fprintf(f, "%s\n    {\"instance\": %d, \"host\": ", i ? "," : "", i);
        out_jstr(f, c->hosts[store].name);
        fprintf(f, ", \"port\": %d, \"node0\": %s, \"addresses\": {", PLAN_OUT_STORE_PORT,
                store == hosts[0] ? "true" : "false");
        for (int j = 0; j < k; j++) {
            if (j) fprintf(f, ", ");
            out_jstr(f, c->hosts[hosts[j]].name);
            fprintf(f, ": ");
            out_jstr(f, tacl__cluster_addr_for(c, hosts[j], store));
        }
        fprintf(f, "}, \"argv\": ");
        if (k > 1 && store != hosts[0]) {
            fprintf(f, "[");
            for (int a = 0; tacl__plan_out_store_argv[a]; a++) {
                if (a) fprintf(f, ", ");
                out_jstr(f, tacl__plan_out_store_argv[a]);
            }
            fprintf(f, "]}");
        } else {
            fprintf(f, "null}");
        }
    }
    fprintf(f, "\n  ],\n  \"vllm\": [");
    for (int i = 0, first = 1; i < ninst; i++) {
        int k = tacl__plan_out_inst_hosts(p, l, i, hosts, cnt);
        int store = tacl__plan_store_host(p, l, i);
        if (store < 0) store = hosts[0];
        for (int j = 0; j < k; j++, first = 0) {
            tacl__plan_out_cmd(p, l, model_arg, i, hosts, cnt, k, j, store, cmd);
            fprintf(f, "%s\n    {\"instance\": %d, \"node\": %d, \"host\": ", first ? "" : ",", i,
                    j);
            out_jstr(f, c->hosts[hosts[j]].name);
            fprintf(f, ", \"env\": {");
            for (int e = 0; e < cmd->nenv; e++) {
                if (e) fprintf(f, ", ");
                out_jstr(f, cmd->env[e][0]);
                fprintf(f, ": ");
                out_jstr(f, cmd->env[e][1]);
            }
            fprintf(f, "}, \"argv\": [");
            for (int a = 0; a < cmd->argc; a++) {
                if (a) fprintf(f, ", ");
                out_jstr(f, cmd->argv[a]);
            }
            fprintf(f, "]");
            if (cmd->comment[0]) {
                fprintf(f, ", \"comment\": ");
                out_jstr(f, cmd->comment);
            }
            fprintf(f, "}");
        }
    }
    fprintf(f, "\n  ]\n}\n");
    free(hosts);
    free(cnt);
    free(cmd);
}
