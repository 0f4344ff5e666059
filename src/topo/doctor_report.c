/* doctor_report.c — the doctor's findings in words: host names and the host graph derived from
 * the rank matrix, the verdict (components, unreachable pairs and the relays tacl routes them
 * through, a pipeline order over direct links, groups of hosts linked all-to-all, where to host
 * the store, the smoke tests), and the table, JSON and Graphviz outputs. Pure computation over
 * a filled tacl__doctor_report_t, so hand-made matrices test it. Host-level reasoning is what a
 * person deploying a job acts on (NCCL and Gloo place groups on hosts), so the verdict speaks
 * of hosts; the table keeps the rank detail. */
#include "topo/doctor_report.h"

#include "topo/cluster.h"

#include <stdlib.h>
#include <string.h>

#define DOCTOR_LIST_MAX     8  /* items a verdict line names before "and k more" */
#define DOCTOR_HAM_MAX      16 /* hosts up to which the pipeline order is searched exactly */
#define DOCTOR_CLQ_MAX      32 /* hosts up to which groups linked all-to-all are listed */
#define DOCTOR_MATRIX_MAX   48 /* ranks (hosts) up to which the rank (host) matrix is printed */
#define DOCTOR_PAIRS_LISTED 40 /* host pairs without a link listed where there is no matrix */

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
    r->info = calloc(nn, sizeof *r->info);
    r->links = calloc(nn, sizeof *r->links);
    r->comp = calloc((size_t)n, sizeof *r->comp);
    r->cpu = calloc((size_t)n, sizeof *r->cpu);
    if (!r->host_ids || !r->host_names || !r->host_of || !r->reach || !r->info || !r->links ||
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
    free(r->info);
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

/* ---- Verdict helpers. ---- */

static int doctor_hlinked(const tacl__doctor_report_t *r, int a, int b)
{
    return r->hreach[(size_t)a * (size_t)r->nhosts + (size_t)b];
}

/* The OS-level reason a rank of host a could not reach a rank of host b, from either side. */
static const char *doctor_why(const tacl__doctor_report_t *r, int a, int b, int *ri, int *rj)
{
    size_t n = (size_t)r->n;
    for (size_t i = 0; i < n; i++) {
        if (r->host_of[i] != a) continue;
        for (size_t j = 0; j < n; j++) {
            if (r->host_of[j] != b) continue;
            *ri = (int)i;
            *rj = (int)j;
            if (r->info[i * n + j][0]) return r->info[i * n + j];
            if (r->info[j * n + i][0]) {
                *ri = (int)j;
                *rj = (int)i;
                return r->info[j * n + i];
            }
        }
    }
    return "";
}

/* Exact Hamiltonian path search over the host graph (bitmask DP); order receives H hosts. */
static int doctor_ham_path(const tacl__doctor_report_t *r, int *order)
{
    int H = r->nhosts;
    if (H < 2 || H > DOCTOR_HAM_MAX) return 0;
    size_t states = (size_t)1 << H;
    int8_t *par = malloc(states * (size_t)H); /* -1 unreachable, -2 start, else previous host */
    if (!par) return 0;
    memset(par, -1, states * (size_t)H);
    for (int v = 0; v < H; v++)
        par[((size_t)1 << v) * (size_t)H + (size_t)v] = -2;
    for (size_t m = 1; m < states; m++)
        for (int v = 0; v < H; v++) {
            if (par[m * (size_t)H + (size_t)v] == -1) continue;
            for (int u = 0; u < H; u++) {
                if ((m >> u) & 1 || !doctor_hlinked(r, v, u)) continue;
                size_t m2 = m | ((size_t)1 << u);
                if (par[m2 * (size_t)H + (size_t)u] == -1)
                    par[m2 * (size_t)H + (size_t)u] = (int8_t)v;
            }
        }
    size_t full = states - 1;
    int end = -1, found = 0;
    for (int v = 0; v < H && end < 0; v++)
        if (par[full * (size_t)H + (size_t)v] != -1) end = v;
    if (end >= 0) {
        size_t m = full;
        int v = end;
        for (int k = H - 1; k >= 0; k--) {
            order[k] = v;
            int p = par[m * (size_t)H + (size_t)v];
            m &= ~((size_t)1 << v);
            v = p;
        }
        found = 1;
        /* Read it from the lower-numbered end, as people number stages. */
        if (order[0] > order[H - 1])
            for (int a = 0, b = H - 1; a < b; a++, b--) {
                int t = order[a];
                order[a] = order[b];
                order[b] = t;
            }
    }
    free(par);
    return found;
}

typedef struct {
    const tacl__doctor_report_t *r;
    uint32_t found[DOCTOR_LIST_MAX];
    int nfound, more;
} doctor_clq_t;

/* Bron–Kerbosch with pivoting over host bitmasks: maximal groups of hosts linked all-to-all. */
static void doctor_bk(doctor_clq_t *c, uint32_t R, uint32_t P, uint32_t X, const uint32_t *adj)
{
    if (!P && !X) {
        if (__builtin_popcount(R) < 2) return;
        if (c->nfound < DOCTOR_LIST_MAX)
            c->found[c->nfound++] = R;
        else
            c->more++;
        return;
    }
    int pivot = __builtin_ctz(P | X);
    uint32_t cand = P & ~adj[pivot];
    while (cand) {
        int v = __builtin_ctz(cand);
        uint32_t bit = 1u << v;
        doctor_bk(c, R | bit, P & adj[v], X & adj[v], adj);
        P &= ~bit;
        X |= bit;
        cand &= ~bit;
    }
}

static void doctor_hostset(const tacl__doctor_report_t *r, FILE *f, uint32_t set)
{
    int first = 1;
    fputc('{', f);
    for (int h = 0; h < r->nhosts && h < 32; h++)
        if ((set >> h) & 1) {
            fprintf(f, "%s%s", first ? "" : ", ", r->host_names[h]);
            first = 0;
        }
    fputc('}', f);
}

static void doctor_verdict_components(const tacl__doctor_report_t *r, FILE *f)
{
    fprintf(f, "  - DISCONNECTED: the %d hosts form %d groups that cannot reach each other:",
            r->nhosts, r->ncomp);
    for (int k = 0; k < r->ncomp; k++) {
        fprintf(f, " {");
        int first = 1;
        for (int h = 0; h < r->nhosts; h++) {
            if (r->comp[h] != k) continue;
            fprintf(f, "%s%s (rank", first ? "" : ", ", r->host_names[h]);
            int fr = 1;
            for (int i = 0; i < r->n; i++)
                if (r->host_of[i] == h) {
                    fprintf(f, "%s%d", fr ? " " : ",", i);
                    fr = 0;
                }
            fputc(')', f);
            first = 0;
        }
        fputc('}', f);
    }
    fprintf(f, ". tacl_init fails with TACL_ERR_DISCONNECTED, and so does any NCCL, Gloo or tacl "
               "job spanning two groups: run one job per group, or join them (routes, firewall, "
               "TACL_SOCKET_IFNAME)\n");
}

static void doctor_verdict_unreachable(const tacl__doctor_report_t *r, FILE *f)
{
    int H = r->nhosts, listed = 0, more = 0;
    int *path = malloc((size_t)H * sizeof *path);
    if (!path) return;
    for (int a = 0; a < H; a++)
        for (int b = a + 1; b < H; b++) {
            if (doctor_hlinked(r, a, b)) continue;
            if (listed >= DOCTOR_LIST_MAX) {
                more++;
                continue;
            }
            listed++;
            int ri = -1, rj = -1;
            const char *why = doctor_why(r, a, b, &ri, &rj);
            fprintf(f, "  - %s<->%s: unreachable", r->host_names[a], r->host_names[b]);
            /* The engine's note usually names both directions itself ("rank 0 to 2: ..."). */
            if (why[0] && !strncmp(why, "rank ", 5))
                fprintf(f, " (%s)", why);
            else if (why[0])
                fprintf(f, " (rank %d -> rank %d: %s)", ri, rj, why);
            fprintf(f,
                    ". An NCCL or Gloo group spanning %s and %s (e.g. a TP group over them) "
                    "needs %s<->%s and will fail or hang",
                    r->host_names[a], r->host_names[b], r->host_names[a], r->host_names[b]);
            double gbs = 0;
            int len = r->comp[a] == r->comp[b] ? tacl__doctor_host_path(r, a, b, path, H, &gbs) : 0;
            if (len > 2) {
                fprintf(f, "; tacl routes it through ");
                for (int k = 1; k < len - 1; k++)
                    fprintf(f, "%s%s", k > 1 ? ", " : "", r->host_names[path[k]]);
                if (gbs > 0)
                    fprintf(f, " (relay) at up to %.3g GB/s (its slowest link on the way)", gbs);
                else
                    fprintf(f, " (relay)");
            } else {
                fprintf(f, "; no relay connects them");
            }
            fputc('\n', f);
        }
    if (more) fprintf(f, "  - ... and %d more unreachable host pairs (see the table)\n", more);
    free(path);
}

static void doctor_verdict_layouts(const tacl__doctor_report_t *r, FILE *f)
{
    int H = r->nhosts;
    int *order = malloc((size_t)H * sizeof *order);
    if (!order) return;
    if (doctor_ham_path(r, order)) {
        fprintf(f, "  - pipeline stages ");
        for (int k = 0; k < H; k++)
            fprintf(f, "%s%s", k ? "->" : "", r->host_names[order[k]]);
        fprintf(f, " need only ");
        for (int k = 0; k + 1 < H; k++)
            fprintf(f, "%s%s-%s", k ? (k + 2 == H ? " and " : ", ") : "", r->host_names[order[k]],
                    r->host_names[order[k + 1]]);
        fprintf(f, ": all linked directly, so PP across these hosts works with NCCL or Gloo\n");
    } else if (H <= DOCTOR_HAM_MAX) {
        fprintf(f,
                "  - no order of the %d hosts links every pair of consecutive pipeline stages "
                "directly: PP across all of them needs a relay (tacl) for some stage\n",
                H);
    }
    free(order);
    if (H > DOCTOR_CLQ_MAX) return;
    uint32_t adj[DOCTOR_CLQ_MAX] = {0};
    for (int a = 0; a < H; a++)
        for (int b = 0; b < H; b++)
            if (a != b && doctor_hlinked(r, a, b)) adj[a] |= 1u << b;
    doctor_clq_t c = {.r = r};
    uint32_t all = H == 32 ? 0xffffffffu : (1u << H) - 1;
    doctor_bk(&c, 0, all, 0, adj);
    if (!c.nfound) return;
    fprintf(f, "  - groups of hosts linked all-to-all (TP or DP groups NCCL and Gloo can use "
               "without relays): ");
    for (int k = 0; k < c.nfound; k++) {
        if (k) fprintf(f, ", ");
        doctor_hostset(r, f, c.found[k]);
    }
    if (c.more) fprintf(f, " and %d more", c.more);
    fputc('\n', f);
}

static tacl_status_t doctor_to_cluster(const tacl__doctor_report_t *r, tacl_cluster_t **out);

static void doctor_verdict_store(const tacl__doctor_report_t *r, FILE *f)
{
    int H = r->nhosts, nc = 0;
    if (H == 1) {
        fprintf(f, "  - store: any address of the one host (this run met at %s)\n",
                r->store[0] ? r->store : "?");
        return;
    }
    fprintf(f, "  - host the store where every rank reaches it: ");
    for (int h = 0; h < H; h++) {
        int all = 1;
        for (int q = 0; q < H && all; q++)
            all = doctor_hlinked(r, h, q);
        if (!all) continue;
        if (nc < DOCTOR_LIST_MAX) fprintf(f, "%s%s", nc ? ", " : "", r->host_names[h]);
        nc++;
    }
    if (nc > DOCTOR_LIST_MAX) fprintf(f, " and %d more", nc - DOCTOR_LIST_MAX);
    tacl_cluster_t *c = NULL;
    if (nc) {
        fprintf(f, " (linked directly to every other host)");
        /* The one that --json names and `tacl plan` uses: the same choice. */
        if (doctor_to_cluster(r, &c) == TACL_OK && c->store_host >= 0)
            fprintf(f, "; --json and tacl plan put it on %s", c->hosts[c->store_host].name);
        tacl_cluster_destroy(c);
    } else
        fprintf(f, "no host is linked directly to every other; use a network every host "
                   "reaches, as this run did");
    if (r->store[0]) fprintf(f, "; this run met at %s", r->store);
    fputc('\n', f);
}

static void doctor_verdict_smoke(const tacl__doctor_report_t *r, FILE *f)
{
    int ran = 0, failed = 0;
    for (int k = 0; k < TACL_DOCTOR_NSMOKE; k++) {
        const tacl__doctor_smoke_t *s = &r->smoke[k];
        if (!s->ran) continue;
        ran++;
        if (!s->nfail) continue;
        failed++;
        fprintf(f, "  - %s FAILED on %d of %d ranks: %s\n", doctor_smoke_names[k], s->nfail, r->n,
                s->msg);
    }
    if (!ran) {
        fprintf(f, "  - collective smoke tests not run: %s\n", r->smoke[0].msg);
    } else if (!failed) {
        fprintf(f, "  - collectives work: ");
        int first = 1;
        for (int k = 0; k < TACL_DOCTOR_NSMOKE; k++)
            if (r->smoke[k].ran) {
                fprintf(f, "%s%s", first ? "" : ", ", doctor_smoke_names[k]);
                first = 0;
            }
        fprintf(f, " passed with checked values on all %d ranks\n", r->n);
    }
}

void tacl__doctor_write_verdict(const tacl__doctor_report_t *r, FILE *f)
{
    int H = r->nhosts;
    fprintf(f, "Verdict\n");
    if (r->ncomp > 1) {
        doctor_verdict_components(r, f);
    } else if (tacl__doctor_full_mesh(r)) {
        if (H == 1)
            fprintf(f,
                    "  - one host: all %d ranks reach each other (shared memory); any layout "
                    "(TP, PP, DP) works within it\n",
                    r->n);
        else
            fprintf(f,
                    "  - full mesh: all %d hosts reach each other directly; NCCL, Gloo and "
                    "tacl can use any layout (TP, PP, DP) across them\n",
                    H);
    } else {
        fprintf(f,
                "  - connected but not a full mesh: tacl works over all %d hosts (it relays "
                "between hosts without a direct link); NCCL and Gloo need a direct link "
                "between every pair of hosts of a group\n",
                H);
    }
    if (!tacl__doctor_full_mesh(r)) doctor_verdict_unreachable(r, f);
    if (!tacl__doctor_full_mesh(r) && r->ncomp == 1 && H > 1) doctor_verdict_layouts(r, f);
    doctor_verdict_store(r, f);
    tacl__doctor_verdict_cpus(r, f);
    doctor_verdict_smoke(r, f);
    size_t n = (size_t)r->n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (tacl__doctor_link_err(r, (int)i, (int)j)[0])
                fprintf(f, "  - ranks %zu-%zu (%s-%s) are linked but the measurement failed: %s\n",
                        i, j, r->host_names[r->host_of[i]], r->host_names[r->host_of[j]],
                        tacl__doctor_link_err(r, (int)i, (int)j));
}

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
                none += !doctor_hlinked(r, a, b);
        fprintf(f, "\nHost reachability: %d hosts, %zu of %zu host pairs without a direct link%s\n",
                H, none, (size_t)H * (size_t)(H - 1) / 2, none ? ":" : "");
        for (int a = 0; a < H && shown < DOCTOR_PAIRS_LISTED; a++)
            for (int b = a + 1; b < H && shown < DOCTOR_PAIRS_LISTED; b++)
                if (!doctor_hlinked(r, a, b)) {
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
                fprintf(f, " %3s", a == b ? "=" : doctor_hlinked(r, a, b) ? "+" : ".");
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
            fprintf(f, "  %-17s %-5s %s\n", doctor_smoke_names[k], "skip", s->msg);
            continue;
        }
        char extra[64] = "";
        if (s->gbs > 0) {
            char b[32];
            tacl__doctor_fmt_gbs(b, sizeof b, s->gbs);
            snprintf(extra, sizeof extra, "  (%s)", b);
        }
        fprintf(f, "  %-17s %-5s %8.4f s%s%s%s\n", doctor_smoke_names[k],
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
static tacl_status_t doctor_to_cluster(const tacl__doctor_report_t *r, tacl_cluster_t **out)
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
            if (doctor_hlinked(r, a, b))
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
    TACL_CHECK(doctor_to_cluster(r, &c));
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
            if (doctor_hlinked(r, a, b)) {
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
