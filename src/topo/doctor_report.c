/* doctor_report.c — what `tacl doctor` found: the report (ranks, hosts, the reachability matrix,
 * measured links and why a measurement failed, smoke tests) and what tacl__doctor_finish derives
 * from it (host names, the host graph, its components, per-host-pair figures), with the queries
 * the verdict and the outputs use (full mesh, host paths, the exit status). Pure computation over
 * a filled tacl__doctor_report_t, so hand-made matrices test it; doctor_verdict.c words the
 * verdict, doctor_output.c writes the table, JSON and Graphviz. */
#include "topo/doctor_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const doctor_smoke_names[TACL_DOCTOR_NSMOKE] = {"all_reduce", "all_gather",
                                                                   "broadcast", "routed send/recv"};

const char *tacl__doctor_smoke_name(tacl__doctor_smoke_kind_t k)
{
    return (unsigned)k < TACL_DOCTOR_NSMOKE ? doctor_smoke_names[k] : "?";
}

tacl_status_t tacl__doctor_report_create(int n, tacl__doctor_report_t **out)
{
    if (n < 1 || n > 65536)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "doctor report: expected 1 to 65536 ranks, got %d", n);
    tacl__doctor_report_t *r = calloc(1, sizeof *r);
    if (!r) goto nomem;
    size_t nn = (size_t)n * (size_t)n;
    r->n = n;
    r->host_ids = calloc((size_t)n, sizeof *r->host_ids);
    r->host_names = calloc((size_t)n, sizeof *r->host_names);
    r->host_of = calloc((size_t)n, sizeof *r->host_of);
    r->reach = calloc(nn, 1);
    r->notes = tacl__doctor_notes_create(n);
    r->links = calloc(nn, sizeof *r->links);
    r->comp = calloc((size_t)n, sizeof *r->comp);
    r->cpu = calloc((size_t)n, sizeof *r->cpu);
    if (!r->host_ids || !r->host_names || !r->host_of || !r->reach || !r->notes || !r->links ||
        !r->comp || !r->cpu)
        goto nomem;
    for (size_t k = 0; k < nn; k++)
        r->links[k].lat_us = r->links[k].gbs = -1;
    for (int i = 0; i < n; i++) {
        r->host_of[i] = -1;
        r->reach[(size_t)i * (size_t)n + (size_t)i] = 1;
    }
    for (int k = 0; k < TACL_DOCTOR_NSMOKE; k++)
        snprintf(r->smoke[k].msg, sizeof r->smoke[k].msg, "not run");
    *out = r;
    return TACL_OK;
nomem:
    tacl__doctor_report_destroy(r);
    return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "doctor report: out of memory");
}

void tacl__doctor_report_destroy(tacl__doctor_report_t *r)
{
    if (!r) return;
    free(r->host_ids);
    free(r->host_names);
    free(r->host_of);
    free(r->reach);
    tacl__doctor_notes_destroy(r->notes);
    free(r->links);
    free(r->link_errs);
    free(r->comp);
    free(r->cpu);
    free(r->hreach);
    free(r->hgbs);
    free(r->hlat);
    free(r);
}

tacl_status_t tacl__doctor_set_link_err(tacl__doctor_report_t *r, int a, int b, const char *err)
{
    if (a > b) {
        int t = a;
        a = b;
        b = t;
    }
    if (a < 0 || b >= r->n || a == b || !err)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "doctor report: pair %d-%d out of range 0..%d", a, b, r->n - 1);
    tacl__doctor_link_err_t *e = NULL;
    for (int k = 0; k < r->nlink_errs && !e; k++)
        if (r->link_errs[k].a == a && r->link_errs[k].b == b) e = &r->link_errs[k];
    if (!e) {
        tacl__doctor_link_err_t *m =
            realloc(r->link_errs, (size_t)(r->nlink_errs + 1) * sizeof *r->link_errs);
        if (!m)
            return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "doctor report: out of memory");
        r->link_errs = m;
        e = &r->link_errs[r->nlink_errs++];
        e->a = a;
        e->b = b;
    }
    snprintf(e->err, sizeof e->err, "%s", err);
    return TACL_OK;
}

const char *tacl__doctor_link_err(const tacl__doctor_report_t *r, int a, int b)
{
    for (int k = 0; k < r->nlink_errs; k++) {
        const tacl__doctor_link_err_t *e = &r->link_errs[k];
        if ((e->a == a && e->b == b) || (e->a == b && e->b == a)) return e->err;
    }
    return "";
}

tacl_status_t tacl__doctor_report_set_host(tacl__doctor_report_t *r, int rank, const char *host_id)
{
    if (rank < 0 || rank >= r->n || !host_id)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "doctor report: rank %d out of range 0..%d or no host id", rank, r->n - 1);
    for (int h = 0; h < r->nhosts; h++)
        if (!strcmp(r->host_ids[h], host_id)) {
            r->host_of[rank] = h;
            return TACL_OK;
        }
    snprintf(r->host_ids[r->nhosts], TACL_DOCTOR_HOST_MAX, "%s", host_id);
    r->host_of[rank] = r->nhosts++;
    return TACL_OK;
}

/* Host names for people: the hostname part of the id (before the first '/') when those are
 * unique, else the whole ids (network namespaces on one machine share a hostname). */
static void doctor_names(tacl__doctor_report_t *r)
{
    int unique = 1;
    for (int h = 0; h < r->nhosts; h++) {
        size_t l = strcspn(r->host_ids[h], "/");
        snprintf(r->host_names[h], TACL_DOCTOR_HOST_MAX, "%.*s", (int)l, r->host_ids[h]);
        if (!l) unique = 0;
        for (int q = 0; q < h; q++)
            if (!strcmp(r->host_names[q], r->host_names[h])) unique = 0;
    }
    if (!unique)
        for (int h = 0; h < r->nhosts; h++)
            snprintf(r->host_names[h], TACL_DOCTOR_HOST_MAX, "%s", r->host_ids[h]);
}

tacl_status_t tacl__doctor_finish(tacl__doctor_report_t *r)
{
    int n = r->n, H = r->nhosts;
    for (int i = 0; i < n; i++)
        if (r->host_of[i] < 0)
            return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                             "doctor report: rank %d has no host", i);
    doctor_names(r);
    size_t hh = (size_t)H * (size_t)H;
    free(r->hreach);
    free(r->hgbs);
    free(r->hlat);
    r->hreach = calloc(hh, 1);
    r->hgbs = calloc(hh, sizeof *r->hgbs);
    r->hlat = calloc(hh, sizeof *r->hlat);
    if (!r->hreach || !r->hgbs || !r->hlat)
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "doctor report: out of memory");
    for (int h = 0; h < H; h++)
        r->hreach[(size_t)h * (size_t)H + (size_t)h] = 1;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            if (!r->reach[(size_t)i * (size_t)n + (size_t)j] &&
                !r->reach[(size_t)j * (size_t)n + (size_t)i])
                continue;
            int a = r->host_of[i], b = r->host_of[j];
            if (a == b) continue;
            size_t ab = (size_t)a * (size_t)H + (size_t)b, ba = (size_t)b * (size_t)H + (size_t)a;
            r->hreach[ab] = r->hreach[ba] = 1;
            const tacl__doctor_link_t *l = &r->links[(size_t)i * (size_t)n + (size_t)j];
            if (l->gbs > r->hgbs[ab]) r->hgbs[ab] = r->hgbs[ba] = l->gbs;
            if (l->lat_us >= 0 && (r->hlat[ab] <= 0 || l->lat_us < r->hlat[ab]))
                r->hlat[ab] = r->hlat[ba] = l->lat_us;
        }
    /* Components of the host graph, numbered from host 0's. */
    int *queue = malloc((size_t)H * sizeof *queue);
    if (!queue)
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "doctor report: out of memory");
    for (int h = 0; h < H; h++)
        r->comp[h] = -1;
    r->ncomp = 0;
    for (int s = 0; s < H; s++) {
        if (r->comp[s] >= 0) continue;
        int head = 0, tail = 0;
        queue[tail++] = s;
        r->comp[s] = r->ncomp;
        while (head < tail) {
            int v = queue[head++];
            for (int u = 0; u < H; u++)
                if (r->comp[u] < 0 && r->hreach[(size_t)v * (size_t)H + (size_t)u]) {
                    r->comp[u] = r->ncomp;
                    queue[tail++] = u;
                }
        }
        r->ncomp++;
    }
    free(queue);
    return TACL_OK;
}

int tacl__doctor_full_mesh(const tacl__doctor_report_t *r)
{
    size_t n = (size_t)r->n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (!r->reach[i * n + j] && !r->reach[j * n + i] && r->host_of[i] != r->host_of[j])
                return 0;
    return 1;
}

int tacl__doctor_host_path(const tacl__doctor_report_t *r, int a, int b, int *path, int max,
                           double *gbs)
{
    int H = r->nhosts;
    if (a < 0 || b < 0 || a >= H || b >= H || max < 1) return 0;
    int *prev = malloc((size_t)H * sizeof *prev), *queue = malloc((size_t)H * sizeof *queue);
    int len = 0;
    if (!prev || !queue) goto out;
    for (int h = 0; h < H; h++)
        prev[h] = -2;
    int head = 0, tail = 0;
    queue[tail++] = a;
    prev[a] = -1;
    while (head < tail && prev[b] == -2) {
        int v = queue[head++];
        for (int u = 0; u < H; u++)
            if (prev[u] == -2 && r->hreach[(size_t)v * (size_t)H + (size_t)u]) {
                prev[u] = v;
                queue[tail++] = u;
            }
    }
    if (prev[b] == -2) goto out;
    int hops = 0;
    for (int v = b; v != -1; v = prev[v])
        hops++;
    if (hops > max) goto out;
    double bw = -1;
    int k = hops;
    for (int v = b; v != -1; v = prev[v]) {
        path[--k] = v;
        if (prev[v] >= 0) {
            double g = r->hgbs[(size_t)v * (size_t)H + (size_t)prev[v]];
            if (bw < 0 || g < bw) bw = g;
        }
    }
    if (gbs) *gbs = bw < 0 ? 0 : bw;
    len = hops;
out:
    free(prev);
    free(queue);
    return len;
}

int tacl__doctor_status(const tacl__doctor_report_t *r)
{
    if (r->ncomp > 1) return 1;
    for (int k = 0; k < TACL_DOCTOR_NSMOKE; k++)
        if (r->smoke[k].ran && r->smoke[k].nfail) return 1;
    return 0;
}
