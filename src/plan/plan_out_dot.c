/* plan_out_dot.c — `tacl plan --dot`: the cluster as a Graphviz graph, the chosen layout's GPUs
 * on each host and the links it uses, its bottleneck in red. */
#include "plan/plan_int.h"

#include <stdlib.h>

void tacl__plan_print_dot(const tacl__plan_t *p, FILE *f)
{
    const tacl_cluster_t *c = p->cluster;
    const tacl__layout_t *l = p->best >= 0 ? &p->layouts[p->best] : NULL;
    static const char *const colors[] = {"lightblue", "palegreen",   "khaki",     "lightpink",
                                         "plum",      "lightsalmon", "lightcyan", "wheat"};
    fprintf(f, "graph tacl_plan {\n  node [shape=record, style=filled, fillcolor=white];\n");
    if (l) {
        char name[64];
        tacl__plan_out_layout_name(l, name, sizeof name);
        fprintf(f, "  label=\"%s: %.1f ms/token, %.0f tokens/s; red: bottleneck\";\n", name,
                l->tpot_ms, l->tok_s);
    }
    /* Each host's GPUs of the layout, as per-host lists (one pass over the GPUs). */
    int *dhead = NULL, *dnext = NULL;
    if (l && (dhead = malloc(sizeof(int) * (size_t)c->nhosts)) &&
        (dnext = malloc(sizeof(int) * (size_t)(l->gpus_used + 1)))) {
        for (int h = 0; h < c->nhosts; h++)
            dhead[h] = -1;
        for (int i = l->gpus_used - 1; i >= 0; i--) {
            int h = p->slot_host[tacl__layout_slot(l, i)];
            dnext[i] = dhead[h], dhead[h] = i;
        }
    } else {
        free(dhead);
        dhead = NULL;
    }
    for (int h = 0; h < c->nhosts; h++) {
        int stage = -1;
        fprintf(f, "  h%d [label=\"{%s|%d x %s", h, c->hosts[h].name, c->hosts[h].ngpus,
                c->hosts[h].gpu.name);
        for (int i = dhead ? dhead[h] : -1; i >= 0; i = dnext[i]) {
            int s = tacl__layout_slot(l, i), st = (i / l->tp) % l->pp;
            if (stage < 0) stage = st;
            fprintf(f, "|GPU%d: r%d pp%d tp%d", p->slot_dev[s], i, st, i % l->tp);
        }
        fprintf(f, "}\"");
        if (stage >= 0) fprintf(f, ", fillcolor=%s", colors[stage % 8]);
        fprintf(f, "];\n");
    }
    /* Links: all declared ones on small clusters (the picture of a big one is unreadable).
     * Links the layout uses are bold; its bottleneck (or, when the GPUs' memory bandwidth is
     * the bottleneck, its most loaded link) is red; pairs the layout's hosts need but lack
     * are dashed. */
    int ra = -1, rb = -1;
    if (l)
        ra = l->bneck_a >= 0 ? l->bneck_a : l->link_a,
        rb = l->bneck_a >= 0 ? l->bneck_b : l->link_b;
    char *used = NULL;
    if (l && c->nhosts <= 64 && (used = calloc((size_t)(c->nhosts * c->nhosts), 1))) {
        int ninst, size;
        tacl__plan_out_instances(l, &ninst, &size);
        for (int i = 0; i < ninst; i++)
            for (int s = i * size; s < (i + 1) * size; s++)
                for (int q = s + 1; q < (i + 1) * size; q++) {
                    int a = p->slot_host[tacl__layout_slot(l, s)],
                        b = p->slot_host[tacl__layout_slot(l, q)];
                    used[a * c->nhosts + b] = used[b * c->nhosts + a] = 1;
                }
    }
    if (c->nhosts <= 64)
        for (int a = 0; a < c->nhosts; a++)
            for (int b = a + 1; b < c->nhosts; b++) {
                double bw, lat;
                int in_use = used && used[a * c->nhosts + b];
                if (!tacl__cluster_link(c, a, b, &bw, &lat)) {
                    if (in_use)
                        fprintf(f, "  h%d -- h%d [style=dashed, color=gray, label=\"no link\"];\n",
                                a, b);
                    continue;
                }
                int bn = (ra == a && rb == b) || (ra == b && rb == a);
                fprintf(f, "  h%d -- h%d [label=\"%.4g GB/s\\n%.3g us%s\"%s%s];\n", a, b, bw, lat,
                        bn ? (l->bneck_a >= 0 ? "\\nbottleneck" : "\\nmost loaded") : "",
                        in_use && !bn ? ", penwidth=2" : "",
                        bn ? ", color=red, penwidth=3, fontcolor=red" : "");
            }
    free(used);
    free(dhead);
    free(dnext);
    fprintf(f, "}\n");
}
