/* doctor_output.c — the doctor's table (verdict included), cluster-format JSON and Graphviz. */
#include "topo/doctor_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOCTOR_MATRIX_MAX   48 /* ranks (hosts) up to which the rank (host) matrix is printed */
#define DOCTOR_PAIRS_LISTED 40 /* host pairs without a link listed where there is no matrix */

/* ---- Table. ---- */

void tacl__doctor_write_table(const tacl__doctor_report_t *r, FILE *f)
{
    tacl__doctor_write_table_pairs(r, f, 0);
}

void tacl__doctor_write_table_pairs(const tacl__doctor_report_t *r, FILE *f, int every_pair)
{
    size_t n = (size_t)r->n;
    int H = r->nhosts;
    fprintf(f, "tacl doctor: %d rank%s on %d host%s, store %s, probe timeout %.1f s, %.1f s\n\n",
            r->n, r->n == 1 ? "" : "s", H, H == 1 ? "" : "s", r->store[0] ? r->store : "?",
            r->probe_timeout_s, r->elapsed_s);
    fprintf(f, "Hosts\n");
    for (int h = 0; h < H; h++) {
        fprintf(f, "  %-16s ranks", r->host_names[h]);
        /* Runs of consecutive ranks as "a-b": 1,024 ranks of one host are "0-1023". */
        for (size_t i = 0; i < n; i++) {
            if (r->host_of[i] != h) continue;
            size_t e = i;
            while (e + 1 < n && r->host_of[e + 1] == h)
                e++;
            if (e > i)
                fprintf(f, " %zu-%zu", i, e);
            else
                fprintf(f, " %zu", i);
            i = e;
        }
        if (strcmp(r->host_names[h], r->host_ids[h])) fprintf(f, "   (%s)", r->host_ids[h]);
        fputc('\n', f);
    }
    tacl__doctor_table_cpus(r, f);
    if (H > DOCTOR_MATRIX_MAX) {
        /* Too wide for a matrix: the host pairs without a direct link. */
        size_t none = 0, shown = 0;
        for (int a = 0; a < H; a++)
            for (int b = a + 1; b < H; b++)
                none += !tacl__doctor_hlinked(r, a, b);
        fprintf(f, "\nHost reachability: %d hosts, %zu of %zu host pairs without a direct link%s\n",
                H, none, (size_t)H * (size_t)(H - 1) / 2, none ? ":" : "");
        for (int a = 0; a < H && shown < DOCTOR_PAIRS_LISTED; a++)
            for (int b = a + 1; b < H && shown < DOCTOR_PAIRS_LISTED; b++)
                if (!tacl__doctor_hlinked(r, a, b)) {
                    fprintf(f, "  %s-%s\n", r->host_names[a], r->host_names[b]);
                    shown++;
                }
        if (none > shown)
            fprintf(f, "  ... and %zu more (tacl doctor --dot draws them all)\n", none - shown);
    } else if (H > 1) {
        fprintf(f, "\nHost reachability (+ direct link, . unreachable)\n  %-16s", "");
        for (int b = 0; b < H; b++)
            fprintf(f, " %3d", b);
        fputc('\n', f);
        for (int a = 0; a < H; a++) {
            fprintf(f, "  %-12.12s %3d", r->host_names[a], a);
            for (int b = 0; b < H; b++)
                fprintf(f, " %3s", a == b ? "=" : tacl__doctor_hlinked(r, a, b) ? "+" : ".");
            fputc('\n', f);
        }
    }
    if (n <= DOCTOR_MATRIX_MAX) {
        fprintf(f, "\nRank reachability (+ direct link, . unreachable)\n  %-16s", "");
        for (size_t j = 0; j < n; j++)
            fprintf(f, " %3zu", j);
        fputc('\n', f);
        for (size_t i = 0; i < n; i++) {
            fprintf(f, "  %-12.12s %3zu", r->host_names[r->host_of[i]], i);
            for (size_t j = 0; j < n; j++)
                fprintf(f, " %3s",
                        i == j                                         ? "="
                        : (r->reach[i * n + j] || r->reach[j * n + i]) ? "+"
                                                                       : ".");
            fputc('\n', f);
        }
    }
    tacl__doctor_table_links(r, f, every_pair);
    fprintf(f, "\nCollective smoke tests (values checked on every rank)\n");
    for (int k = 0; k < TACL_DOCTOR_NSMOKE; k++) {
        const tacl__doctor_smoke_t *s = &r->smoke[k];
        if (!s->ran) {
            fprintf(f, "  %-17s %-5s %s\n", tacl__doctor_smoke_name(k), "skip", s->msg);
            continue;
        }
        char extra[64] = "";
        if (s->gbs > 0) {
            char b[32];
            tacl__doctor_fmt_gbs(b, sizeof b, s->gbs);
            snprintf(extra, sizeof extra, "  (%s)", b);
        }
        fprintf(f, "  %-17s %-5s %8.4f s%s%s%s\n", tacl__doctor_smoke_name(k),
                s->nfail ? "FAIL" : "pass", s->secs, extra, s->msg[0] ? "  " : "", s->msg);
    }
    fputc('\n', f);
    tacl__doctor_write_verdict(r, f);
}

/* ---- JSON (cluster description format) and Graphviz. ---- */

/* The cluster description (src/topo/cluster.h) of what was measured: hosts, a link per linked
 * host pair with the best measured figures, the unreachable pairs, and a store host linked
 * to every other host. tacl_cluster_write_json writes it, so `tacl plan --cluster` and
 * TACL_TOPO_FILE read it back. */
/* The cluster description of what was measured (see tacl__doctor_write_json). */
tacl_status_t tacl__doctor_to_cluster(const tacl__doctor_report_t *r, tacl_cluster_t **out)
{
    int H = r->nhosts;
    tacl_cluster_t *c;
    TACL_CHECK(tacl__cluster_create(&c));
    tacl_status_t st = TACL_OK;
    snprintf(c->name, sizeof c->name, "tacl-doctor");
    for (int h = 0; h < H && st == TACL_OK; h++) {
        char name[TACL_CLUSTER_NAME_MAX];
        int idx;
        /* A host id longer than the format's names becomes host<k> (the table has the id). */
        if (strlen(r->host_names[h]) < sizeof name)
            snprintf(name, sizeof name, "%s", r->host_names[h]);
        else
            snprintf(name, sizeof name, "host%d", h);
        st = tacl__cluster_add_host(c, name, 0, NULL, &idx);
    }
    for (int a = 0; a < H && st == TACL_OK; a++)
        for (int b = a + 1; b < H && st == TACL_OK; b++) {
            size_t ab = (size_t)a * (size_t)H + (size_t)b;
            /* A link that could not be measured still exists: a nominal 1e-6 GB/s keeps it a
             * link (0 would read as none). */
            if (tacl__doctor_hlinked(r, a, b))
                st = tacl__cluster_set_link(c, a, b, r->hgbs[ab] > 0 ? r->hgbs[ab] : 1e-6,
                                            r->hlat[ab] > 0 ? r->hlat[ab] : 0);
            else
                st = tacl__cluster_set_unreachable(c, a, b);
        }
    if (st == TACL_OK) st = tacl__cluster_finish(c);
    /* The planner's choice (tacl__cluster_store_pick), so that `tacl plan` on this file puts
     * the store where the doctor says. */
    if (st == TACL_OK && H > 1) c->store_host = tacl__cluster_store_pick(c, NULL, 0, -1);
    if (st != TACL_OK) {
        tacl_cluster_destroy(c);
        return st;
    }
    *out = c;
    return TACL_OK;
}

tacl_status_t tacl__doctor_write_json(const tacl__doctor_report_t *r, FILE *f)
{
    tacl_cluster_t *c;
    TACL_CHECK(tacl__doctor_to_cluster(r, &c));
    tacl_status_t st = tacl_cluster_write_json(c, f);
    tacl_cluster_destroy(c);
    return st;
}

/* Host names come from TACL_HOST_ID and may hold anything: quotes and backslashes are
 * escaped so the label stays one DOT string. */
static void doctor_dot_str(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s >= 0x20) fputc(*s, f);
    }
}

void tacl__doctor_write_dot(const tacl__doctor_report_t *r, FILE *f)
{
    int H = r->nhosts;
    fprintf(f, "graph tacl_doctor {\n  node [shape=box];\n");
    for (int h = 0; h < H; h++) {
        fprintf(f, "  h%d [label=\"", h);
        doctor_dot_str(f, r->host_names[h]);
        fprintf(f, "\\nranks");
        for (int i = 0; i < r->n; i++)
            if (r->host_of[i] == h) fprintf(f, " %d", i);
        fprintf(f, "\"];\n");
    }
    for (int a = 0; a < H; a++)
        for (int b = a + 1; b < H; b++) {
            size_t ab = (size_t)a * (size_t)H + (size_t)b;
            if (tacl__doctor_hlinked(r, a, b)) {
                char bw[32];
                tacl__doctor_fmt_gbs(bw, sizeof bw, r->hgbs[ab] > 0 ? r->hgbs[ab] : -1);
                fprintf(f, "  h%d -- h%d [label=\"%s\\n%.1f us\"];\n", a, b, bw, r->hlat[ab]);
            } else {
                fprintf(f, "  h%d -- h%d [style=dashed, color=red, label=\"unreachable\"];\n", a,
                        b);
            }
        }
    fprintf(f, "}\n");
}
