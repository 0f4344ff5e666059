/* graph.c — the reachability graph and its algorithms (see graph.h): storage of declared
 * directions with a symmetrised view kept up to date, components, BFS distances and centre,
 * Hamiltonian cycles (Held-Karp bitmask DP for small graphs, budgeted Warnsdorff search for
 * large ones), spanning trees (BFS and maximum-bandwidth Prim), multi-tree packing by
 * multiplicative weights and the Stoer-Wagner minimum cut. Every tie is broken by a fixed rule
 * (usually the lowest rank) so that all ranks compute the same answer from the same graph.
 *
 * This file holds the storage, the queries, components, distances and the centre (and the
 * round-robin pairing); graph_ring.c the Hamiltonian cycles, graph_trees.c the spanning trees
 * and multi-tree packing, graph_cut.c the minimum cut; graph_int.h shares the storage. */
#include "topo/graph_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The class graph's link a - b (a != b): 0 within a class, 1 between. */
static inline int graph_kind(const tacl__graph_t *g, int a, int b)
{
    return g->cls[a] != g->cls[b];
}

tacl_status_t tacl__graph_create(int n, tacl__graph_t **out)
{
    if (n < 1 || n > TACL_GRAPH_MAX_RANKS)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "graph of %d ranks: expected 1..%d ranks", n, TACL_GRAPH_MAX_RANKS);
    tacl__graph_t *g = calloc(1, sizeof *g);
    size_t nn = (size_t)n * (size_t)n;
    if (!g) goto err_nomem;
    g->n = n;
    g->dbw = calloc(nn, sizeof(double));
    g->dlat = calloc(nn, sizeof(double));
    g->bw = calloc(nn, sizeof(double));
    g->lat = calloc(nn, sizeof(double));
    if (!g->dbw || !g->dlat || !g->bw || !g->lat) goto err_free;
    *out = g;
    return TACL_OK;
err_free:
    tacl__graph_destroy(g);
err_nomem:
    return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "graph of %d ranks: out of memory", n);
}

void tacl__graph_destroy(tacl__graph_t *g)
{
    if (!g) return;
    free(g->cls);
    free(g->dbw);
    free(g->dlat);
    free(g->bw);
    free(g->lat);
    free(g);
}

tacl_status_t tacl__graph_clone(const tacl__graph_t *g, tacl__graph_t **out)
{
    tacl__graph_t *c;
    if (g->cls)
        return tacl__graph_classes(g->n, g->cls, g->cbw[0], g->clat[0], g->cbw[1], g->clat[1], out);
    TACL_CHECK(tacl__graph_create(g->n, &c));
    size_t bytes = (size_t)g->n * (size_t)g->n * sizeof(double);
    memcpy(c->dbw, g->dbw, bytes);
    memcpy(c->dlat, g->dlat, bytes);
    memcpy(c->bw, g->bw, bytes);
    memcpy(c->lat, g->lat, bytes);
    *out = c;
    return TACL_OK;
}

/* A pair declared in one direction only is usable with that direction's values (the transport
 * connects the way that works and then talks both ways); declared both ways, the slower
 * bandwidth and the larger latency bound what a collective sees. */
static void graph_sym_pair(tacl__graph_t *g, int a, int b)
{
    double x = g->dbw[G_AT(g, a, b)], y = g->dbw[G_AT(g, b, a)];
    double lx = g->dlat[G_AT(g, a, b)], ly = g->dlat[G_AT(g, b, a)];
    double bw, lat;
    if (x > 0 && y > 0) {
        bw = x < y ? x : y;
        lat = lx > ly ? lx : ly;
    } else if (x > 0) {
        bw = x;
        lat = lx;
    } else {
        bw = y;
        lat = ly;
    }
    g->bw[G_AT(g, a, b)] = g->bw[G_AT(g, b, a)] = bw;
    g->lat[G_AT(g, a, b)] = g->lat[G_AT(g, b, a)] = bw > 0 ? lat : 0;
}

/* Class graph g's n x n matrix of one figure (v[0] within a class, v[1] between; 0 on the
 * diagonal). */
static void graph_class_fill(const tacl__graph_t *g, const double *v, double *m)
{
    for (int a = 0; a < g->n; a++)
        for (int b = 0; b < g->n; b++)
            m[G_AT(g, a, b)] = a == b ? 0 : v[graph_kind(g, a, b)];
}

/* A class graph becomes an ordinary one (before a change): its links declared both ways. */
static tacl_status_t graph_materialise(tacl__graph_t *g)
{
    if (!g->cls) return TACL_OK;
    size_t nn = (size_t)g->n * (size_t)g->n;
    double *m[4];
    for (int k = 0; k < 4; k++)
        m[k] = malloc(nn * sizeof(double));
    if (!m[0] || !m[1] || !m[2] || !m[3]) {
        for (int k = 0; k < 4; k++)
            free(m[k]);
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "graph of %d ranks: out of memory",
                         g->n);
    }
    graph_class_fill(g, g->cbw, m[0]);
    graph_class_fill(g, g->clat, m[1]);
    memcpy(m[2], m[0], nn * sizeof(double));
    memcpy(m[3], m[1], nn * sizeof(double));
    g->dbw = m[0];
    g->dlat = m[1];
    g->bw = m[2];
    g->lat = m[3];
    free(g->cls);
    g->cls = NULL;
    return TACL_OK;
}

/* An ordinary copy of class graph g, for the algorithms that work on the matrices. */
tacl_status_t tacl__graph_ordinary(const tacl__graph_t *g, tacl__graph_t **out)
{
    TACL_CHECK(tacl__graph_clone(g, out));
    tacl_status_t st = graph_materialise(*out);
    if (st != TACL_OK) {
        tacl__graph_destroy(*out);
        *out = NULL;
    }
    return st;
}

/* The symmetrised bandwidths as an n x n matrix: the graph's own, or (class graph) a new one
 * in *owned for the caller to free; NULL out of memory. */
const double *tacl__graph_bw_matrix(const tacl__graph_t *g, double **owned)
{
    *owned = NULL;
    if (!g->cls) return g->bw;
    size_t nn = (size_t)g->n * (size_t)g->n;
    double *m = malloc(nn * sizeof(double));
    if (!m) return NULL;
    graph_class_fill(g, g->cbw, m);
    *owned = m;
    return m;
}

tacl_status_t tacl__graph_classes(int n, const int *cls, double same_bw, double same_lat,
                                  double other_bw, double other_lat, tacl__graph_t **out)
{
    if (n < 1 || n > TACL_GRAPH_MAX_RANKS)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "graph of %d ranks: expected 1..%d ranks", n, TACL_GRAPH_MAX_RANKS);
    if (!(same_bw > 0) || !(other_bw > 0) || !(same_lat >= 0) || !(other_lat >= 0))
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "class graph: bandwidths %g, %g must be > 0 and latencies %g, %g >= 0",
                         same_bw, other_bw, same_lat, other_lat);
    tacl__graph_t *g = calloc(1, sizeof *g);
    if (g) g->cls = malloc((size_t)n * sizeof *g->cls);
    if (!g || !g->cls) {
        free(g);
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "graph of %d ranks: out of memory",
                         n);
    }
    g->n = n;
    for (int v = 0; v < n; v++)
        g->cls[v] = cls ? cls[v] : 0;
    g->cbw[0] = same_bw;
    g->clat[0] = same_lat;
    g->cbw[1] = other_bw;
    g->clat[1] = other_lat;
    *out = g;
    return TACL_OK;
}

tacl_status_t tacl__graph_add_edge(tacl__graph_t *g, int a, int b, double bw, double lat)
{
    if (a < 0 || b < 0 || a >= g->n || b >= g->n || a == b)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "edge %d -> %d: expected two different ranks in 0..%d", a, b, g->n - 1);
    if (!(bw > 0) || !(lat >= 0))
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "edge %d -> %d: bandwidth %g must be > 0 and latency %g >= 0", a, b, bw,
                         lat);
    TACL_CHECK(graph_materialise(g));
    g->dbw[G_AT(g, a, b)] = bw;
    g->dlat[G_AT(g, a, b)] = lat;
    graph_sym_pair(g, a, b);
    return TACL_OK;
}

tacl_status_t tacl__graph_add_link(tacl__graph_t *g, int a, int b, double bw, double lat)
{
    TACL_CHECK(tacl__graph_add_edge(g, a, b, bw, lat));
    return tacl__graph_add_edge(g, b, a, bw, lat);
}

void tacl__graph_remove_link(tacl__graph_t *g, int a, int b)
{
    if (a < 0 || b < 0 || a >= g->n || b >= g->n || a == b) return;
    if (graph_materialise(g) != TACL_OK) return; /* out of memory: the link stays */
    g->dbw[G_AT(g, a, b)] = g->dbw[G_AT(g, b, a)] = 0;
    g->dlat[G_AT(g, a, b)] = g->dlat[G_AT(g, b, a)] = 0;
    graph_sym_pair(g, a, b);
}

tacl_status_t tacl__graph_full(int n, double bw, double lat, tacl__graph_t **out)
{
    return tacl__graph_classes(n, NULL, bw, lat, bw, lat, out);
}

int tacl__graph_size(const tacl__graph_t *g)
{
    return g->n;
}

int tacl__graph_has_edge(const tacl__graph_t *g, int a, int b)
{
    if (a < 0 || b < 0 || a >= g->n || b >= g->n || a == b) return 0;
    return g->cls || g->bw[G_AT(g, a, b)] > 0;
}

double tacl__graph_bw(const tacl__graph_t *g, int a, int b)
{
    if (!tacl__graph_has_edge(g, a, b)) return 0.0;
    return g->cls ? g->cbw[graph_kind(g, a, b)] : g->bw[G_AT(g, a, b)];
}

double tacl__graph_lat(const tacl__graph_t *g, int a, int b)
{
    if (!tacl__graph_has_edge(g, a, b)) return 0.0;
    return g->cls ? g->clat[graph_kind(g, a, b)] : g->lat[G_AT(g, a, b)];
}

int tacl__graph_degree(const tacl__graph_t *g, int v)
{
    int d = 0;
    for (int u = 0; u < g->n; u++)
        d += tacl__graph_has_edge(g, v, u);
    return d;
}

int tacl__graph_is_full_mesh(const tacl__graph_t *g)
{
    if (g->cls) return 1;
    for (int a = 0; a < g->n; a++)
        for (int b = a + 1; b < g->n; b++)
            if (!tacl__graph_has_edge(g, a, b)) return 0;
    return 1;
}

/* ---- Components and distances. ---- */

tacl_status_t tacl__graph_components(const tacl__graph_t *g, int *comp, int *ncomp)
{
    int n = g->n, nc = 0;
    int *queue = malloc((size_t)n * sizeof(int));
    if (!queue)
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO,
                         "components of %d ranks: out of memory", n);
    for (int v = 0; v < n; v++)
        comp[v] = -1;
    for (int s = 0; s < n; s++) {
        if (comp[s] >= 0) continue;
        int head = 0, tail = 0;
        comp[s] = nc;
        queue[tail++] = s;
        while (head < tail) {
            int v = queue[head++];
            for (int u = 0; u < n; u++)
                if (comp[u] < 0 && tacl__graph_has_edge(g, v, u)) {
                    comp[u] = nc;
                    queue[tail++] = u;
                }
        }
        nc++;
    }
    free(queue);
    *ncomp = nc;
    return TACL_OK;
}

/* Appends "a" or "a-b" for a run of consecutive ranks. */
static size_t graph_fmt_run(char *buf, size_t len, size_t pos, int first, int last, int sep)
{
    int w;
    if (pos >= len) return pos;
    if (first == last)
        w = snprintf(buf + pos, len - pos, "%s%d", sep ? "," : "", first);
    else if (last == first + 1)
        w = snprintf(buf + pos, len - pos, "%s%d,%d", sep ? "," : "", first, last);
    else
        w = snprintf(buf + pos, len - pos, "%s%d-%d", sep ? "," : "", first, last);
    return w < 0 ? len : pos + (size_t)w;
}

void tacl__graph_format_components(const tacl__graph_t *g, char *buf, size_t len)
{
    int n = g->n, nc;
    int *comp = malloc((size_t)n * sizeof(int));
    if (!len) goto out;
    buf[0] = '\0';
    if (!comp || tacl__graph_components(g, comp, &nc) != TACL_OK) goto out;
    size_t pos = 0;
    for (int c = 0; c < nc && pos < len; c++) {
        int w = snprintf(buf + pos, len - pos, "%s{", c ? " " : "");
        pos = w < 0 ? len : pos + (size_t)w;
        int first = -1, last = -1, sep = 0;
        for (int v = 0; v <= n; v++) {
            if (v < n && comp[v] == c) {
                if (first >= 0 && v == last + 1) {
                    last = v;
                    continue;
                }
                if (first >= 0) pos = graph_fmt_run(buf, len, pos, first, last, sep++);
                first = last = v;
            }
        }
        if (first >= 0) pos = graph_fmt_run(buf, len, pos, first, last, sep);
        if (pos < len) {
            w = snprintf(buf + pos, len - pos, "}");
            pos = w < 0 ? len : pos + (size_t)w;
        }
    }
out:
    free(comp);
}

tacl_status_t tacl__graph_check_connected(const tacl__graph_t *g, tacl__errbuf_t *eb)
{
    int nc;
    int *comp = malloc((size_t)g->n * sizeof(int));
    tacl_status_t st = comp ? tacl__graph_components(g, comp, &nc) : TACL_ERR_NOMEM;
    free(comp);
    if (st != TACL_OK)
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "components: out of memory");
    if (nc == 1) return TACL_OK;
    char list[768];
    tacl__graph_format_components(g, list, sizeof list);
    return tacl__err(eb, TACL_ERR_DISCONNECTED, TACL_SUB_TOPO,
                     "reachability graph of %d ranks is disconnected: %d components: %s (ranks in "
                     "different components cannot reach each other, even through relays)",
                     g->n, nc, list);
}

tacl_status_t tacl__graph_hops_from(const tacl__graph_t *g, int src, int *dist)
{
    int n = g->n;
    if (src < 0 || src >= n)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO, "hops from rank %d: expected 0..%d",
                         src, n - 1);
    int *queue = malloc((size_t)n * sizeof(int));
    if (!queue)
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "hops of %d ranks: out of memory", n);
    for (int v = 0; v < n; v++)
        dist[v] = -1;
    int head = 0, tail = 0;
    dist[src] = 0;
    queue[tail++] = src;
    while (head < tail) {
        int v = queue[head++];
        for (int u = 0; u < n; u++)
            if (dist[u] < 0 && tacl__graph_has_edge(g, v, u)) {
                dist[u] = dist[v] + 1;
                queue[tail++] = u;
            }
    }
    free(queue);
    return TACL_OK;
}

double tacl__graph_node_bw(const tacl__graph_t *g, int v)
{
    double s = 0;
    for (int u = 0; u < g->n; u++)
        s += tacl__graph_bw(g, v, u);
    return s;
}

tacl_status_t tacl__graph_centre(const tacl__graph_t *g, int *centre, int *eccentricity,
                                 tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__graph_check_connected(g, eb));
    int n = g->n, best = -1, best_ecc = 0;
    double best_bw = 0;
    /* One BFS per rank over adjacency lists: O(n m) rather than O(n^3) on the matrix. */
    int *start = malloc(((size_t)n + 1) * sizeof(int)), *dist = malloc((size_t)n * sizeof(int));
    int *queue = malloc((size_t)n * sizeof(int)), *nbr = NULL;
    size_t m = 0;
    if (start && dist && queue) {
        for (int v = 0; v < n; v++) {
            start[v] = (int)m;
            m += (size_t)tacl__graph_degree(g, v);
        }
        start[n] = (int)m;
        nbr = malloc((m + 1) * sizeof(int));
    }
    if (!nbr) {
        free(start);
        free(dist);
        free(queue);
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "centre: out of memory");
    }
    for (int v = 0, k = 0; v < n; v++)
        for (int u = 0; u < n; u++)
            if (tacl__graph_has_edge(g, v, u)) nbr[k++] = u;
    for (int v = 0; v < n; v++) {
        for (int u = 0; u < n; u++)
            dist[u] = -1;
        int head = 0, tail = 0, ecc = 0;
        dist[v] = 0;
        queue[tail++] = v;
        while (head < tail) {
            int x = queue[head++];
            ecc = dist[x];
            for (int k = start[x]; k < start[x + 1]; k++)
                if (dist[nbr[k]] < 0) {
                    dist[nbr[k]] = dist[x] + 1;
                    queue[tail++] = nbr[k];
                }
        }
        double bw = tacl__graph_node_bw(g, v);
        if (best < 0 || ecc < best_ecc || (ecc == best_ecc && bw > best_bw)) {
            best = v;
            best_ecc = ecc;
            best_bw = bw;
        }
    }
    free(start);
    free(nbr);
    free(dist);
    free(queue);
    *centre = best;
    if (eccentricity) *eccentricity = best_ecc;
    return TACL_OK;
}

int tacl__round_robin_partner(int n, int r, int x)
{
    int m = n + (n & 1), k = m - 1, p;
    if (k <= 0 || x < 0 || x >= n) return -1;
    if (x == m - 1)
        p = r % k;
    else if (x == r % k)
        p = m - 1;
    else
        p = ((2 * r - x) % k + k) % k;
    return p < n && p != x ? p : -1;
}
