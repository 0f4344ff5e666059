/* doctor_verdict.c — the doctor's verdict: connectivity, relays, layouts, store, smoke tests. */
#include "topo/doctor_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOCTOR_LIST_MAX 8  /* items a verdict line names before "and k more" */
#define DOCTOR_HAM_MAX  16 /* hosts up to which the pipeline order is searched exactly */
#define DOCTOR_CLQ_MAX  32 /* hosts up to which groups linked all-to-all are listed */

/* Host-level reasoning is what a person deploying a job acts on (NCCL and Gloo place groups on
 * hosts), so the verdict speaks of hosts; the table keeps the rank detail. */

/* ---- Verdict helpers. ---- */

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
            const char *ij = tacl__doctor_info(r, (int)i, (int)j);
            if (ij[0]) return ij;
            const char *ji = tacl__doctor_info(r, (int)j, (int)i);
            if (ji[0]) {
                *ri = (int)j;
                *rj = (int)i;
                return ji;
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
                if ((m >> u) & 1 || !tacl__doctor_hlinked(r, v, u)) continue;
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
            if (tacl__doctor_hlinked(r, a, b)) continue;
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
            if (a != b && tacl__doctor_hlinked(r, a, b)) adj[a] |= 1u << b;
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
            all = tacl__doctor_hlinked(r, h, q);
        if (!all) continue;
        if (nc < DOCTOR_LIST_MAX) fprintf(f, "%s%s", nc ? ", " : "", r->host_names[h]);
        nc++;
    }
    if (nc > DOCTOR_LIST_MAX) fprintf(f, " and %d more", nc - DOCTOR_LIST_MAX);
    tacl_cluster_t *c = NULL;
    if (nc) {
        fprintf(f, " (linked directly to every other host)");
        /* The one that --json names and `tacl plan` uses: the same choice. */
        if (tacl__doctor_to_cluster(r, &c) == TACL_OK && c->store_host >= 0)
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
        fprintf(f, "  - %s FAILED on %d of %d ranks: %s\n", tacl__doctor_smoke_name(k), s->nfail,
                r->n, s->msg);
    }
    if (!ran) {
        fprintf(f, "  - collective smoke tests not run: %s\n", r->smoke[0].msg);
    } else if (!failed) {
        fprintf(f, "  - collectives work: ");
        int first = 1;
        for (int k = 0; k < TACL_DOCTOR_NSMOKE; k++)
            if (r->smoke[k].ran) {
                fprintf(f, "%s%s", first ? "" : ", ", tacl__doctor_smoke_name(k));
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
