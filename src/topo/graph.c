/* graph.c — the reachability graph and its algorithms (see graph.h): storage of declared
 * directions with a symmetrised view kept up to date, components, BFS distances and centre,
 * Hamiltonian cycles (Held-Karp bitmask DP for small graphs, budgeted Warnsdorff search for
 * large ones), spanning trees (BFS and maximum-bandwidth Prim), multi-tree packing by
 * multiplicative weights and the Stoer-Wagner minimum cut. Every tie is broken by a fixed rule
 * (usually the lowest rank) so that all ranks compute the same answer from the same graph. */
#include "topo/graph.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tacl__graph {
    int n;
    double *dbw, *dlat; /* declared per direction: [a * n + b] for a -> b; dbw 0 = none */
    double *bw, *lat;   /* symmetrised view, recomputed per pair on every change */
    /* A full mesh by classes (tacl__graph_classes): the four matrices are NULL until a change
     * needs them; link a - b has (cbw, clat)[cls[a] != cls[b]]. */
    int *cls;
    double cbw[2], clat[2];
};

#define G_AT(g, a, b) ((size_t)(a) * (size_t)(g)->n + (size_t)(b))

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
static tacl_status_t graph_ordinary(const tacl__graph_t *g, tacl__graph_t **out)
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
static const double *graph_bw_matrix(const tacl__graph_t *g, double **owned)
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

static double graph_node_bw(const tacl__graph_t *g, int v)
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
        double bw = graph_node_bw(g, v);
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

/* ---- Hamiltonian cycles. ---- */

/* Held-Karp reachability DP over subsets containing rank 0, restricted to edges of bandwidth
 * >= thr. dp[mask] is the set of ranks v such that a path from 0 visits exactly mask and ends
 * at v. Fills order (order[0] = 0) and returns 1 when a cycle exists. Reconstruction walks
 * back taking the lowest candidate each time, so the answer is deterministic. */
static int graph_ham_dp(const tacl__graph_t *g, double thr, uint16_t *dp, int *order)
{
    int n = g->n;
    uint16_t adj[TACL_GRAPH_HAM_EXACT_MAX] = {0};
    for (int v = 0; v < n; v++) {
        adj[v] = 0;
        for (int u = 0; u < n; u++)
            if (tacl__graph_bw(g, v, u) >= thr && tacl__graph_has_edge(g, v, u))
                adj[v] |= (uint16_t)(1u << u);
    }
    uint32_t full = (1u << n) - 1;
    memset(dp, 0, ((size_t)1 << n) * sizeof(uint16_t));
    dp[1] = 1;
    for (uint32_t mask = 1; mask <= full; mask += 2) { /* masks containing rank 0 */
        uint16_t ends = dp[mask];
        while (ends) {
            int v = __builtin_ctz(ends);
            ends &= (uint16_t)(ends - 1);
            uint32_t next = adj[v] & ~mask & full;
            while (next) {
                int u = __builtin_ctz(next);
                next &= next - 1;
                dp[mask | (1u << u)] |= (uint16_t)(1u << u);
            }
        }
    }
    uint16_t last = dp[full] & adj[0];
    if (!last) return 0;
    uint32_t mask = full;
    int v = __builtin_ctz(last);
    for (int pos = n - 1; pos > 0; pos--) {
        order[pos] = v;
        mask &= ~(1u << v);
        uint16_t prev = dp[mask] & adj[v];
        if (pos > 1) v = __builtin_ctz(prev);
    }
    order[0] = 0;
    return 1;
}

typedef struct {
    const tacl__graph_t *g;
    int *order, *visited;
    long budget;
} graph_dfs_t;

static int graph_unvisited_degree(const graph_dfs_t *s, int v)
{
    int d = 0;
    for (int u = 0; u < s->g->n; u++)
        d += !s->visited[u] && tacl__graph_has_edge(s->g, v, u);
    return d;
}

/* Pruning after the path end moved from v to u (pos ranks placed): every unvisited neighbour
 * of v lost a possible neighbour and must still have two (unvisited ones, u as the next rank,
 * rank 0 as the last); rank 0 must keep an unvisited neighbour to close the cycle. */
static int graph_ham_feasible(const graph_dfs_t *s, int v, int u, int pos)
{
    const tacl__graph_t *g = s->g;
    int n = g->n, start = s->order[0];
    if (pos == n) return 1;
    if (graph_unvisited_degree(s, start) < 1) return 0;
    for (int w = 0; w < n; w++) {
        if (s->visited[w] || !tacl__graph_has_edge(g, v, w)) continue;
        int avail = graph_unvisited_degree(s, w) + tacl__graph_has_edge(g, w, u) +
                    tacl__graph_has_edge(g, w, start);
        if (avail < 2) return 0;
    }
    return 1;
}

/* Candidates for extending the path from v, into cand (at most deg(v) entries), in Warnsdorff
 * order: fewest unvisited neighbours first, then higher bandwidth, then lower rank. Returns
 * their number. */
static int graph_ham_candidates(const graph_dfs_t *s, int v, int *cand, int *key)
{
    const tacl__graph_t *g = s->g;
    int nc = 0;
    for (int u = 0; u < g->n; u++)
        if (!s->visited[u] && tacl__graph_has_edge(g, v, u)) {
            cand[nc] = u;
            key[nc++] = graph_unvisited_degree(s, u);
        }
    /* Insertion sort: the candidate count is small in the sparse graphs that get here. */
    for (int i = 1; i < nc; i++)
        for (int j = i; j > 0; j--) {
            int a = cand[j - 1], b = cand[j];
            int swap = key[j] < key[j - 1] ||
                       (key[j] == key[j - 1] && tacl__graph_bw(g, v, b) > tacl__graph_bw(g, v, a));
            if (!swap) break;
            int t = cand[j];
            cand[j] = cand[j - 1];
            cand[j - 1] = t;
            t = key[j];
            key[j] = key[j - 1];
            key[j - 1] = t;
        }
    return nc;
}

/* Depth-first search for a cycle through order[0], iterative (no recursion: n may be in the
 * thousands and the caller's thread stack small). Level p holds the candidates for order[p]
 * in pool[base[p] .. base[p] + count[p]) and the next one to try at next[p]; the pool needs at
 * most the sum of degrees along the path, <= 2m + n. Gives up when the budget of steps is
 * spent, so a graph without a cycle costs bounded time. Returns 1 found, 0 not, -1 no memory. */
static int graph_ham_dfs(graph_dfs_t *s)
{
    const tacl__graph_t *g = s->g;
    int n = g->n;
    size_t pool_len = (size_t)n;
    for (int v = 0; v < n; v++)
        pool_len += (size_t)tacl__graph_degree(g, v);
    int *pool = malloc(pool_len * sizeof(int)), *keys = malloc(pool_len * sizeof(int));
    int *base = malloc((size_t)n * sizeof(int)), *count = malloc((size_t)n * sizeof(int));
    int *next = malloc((size_t)n * sizeof(int)), found = 0;
    if (!pool || !keys || !base || !count || !next) {
        found = -1;
        goto out;
    }
    int p = 1;
    base[1] = 0;
    count[1] = graph_ham_candidates(s, s->order[0], pool, keys);
    next[1] = 0;
    while (p >= 1) {
        if (p == n) {
            if (tacl__graph_has_edge(g, s->order[n - 1], s->order[0])) {
                found = 1;
                break;
            }
            p--;
            s->visited[s->order[p]] = 0;
            continue;
        }
        if (next[p] >= count[p] || --s->budget < 0) {
            /* Level exhausted (or out of budget): undo the rank placed at the level below. */
            p--;
            if (p >= 1) s->visited[s->order[p]] = 0;
            if (s->budget < 0) break;
            continue;
        }
        int u = pool[base[p] + next[p]++], v = s->order[p - 1];
        s->visited[u] = 1;
        s->order[p] = u;
        if (!graph_ham_feasible(s, v, u, p + 1)) {
            s->visited[u] = 0;
            continue;
        }
        if (p + 1 < n) {
            base[p + 1] = base[p] + count[p];
            count[p + 1] = graph_ham_candidates(s, u, pool + base[p + 1], keys + base[p + 1]);
            next[p + 1] = 0;
        }
        p++;
    }
out:
    free(pool);
    free(keys);
    free(base);
    free(count);
    free(next);
    return found;
}

/* Two-colours a connected graph from rank 0 (BFS); returns the size of rank 0's side, -1 when
 * the graph is not bipartite, -2 out of memory. colour (n entries) is scratch. */
static int graph_bipartite_side0(const tacl__graph_t *g, int *colour)
{
    int n = g->n, count = 1, head = 0, tail = 0;
    int *queue = malloc((size_t)n * sizeof(int));
    if (!queue) return -2;
    for (int v = 0; v < n; v++)
        colour[v] = -1;
    colour[0] = 0;
    queue[tail++] = 0;
    while (head < tail) {
        int v = queue[head++];
        for (int u = 0; u < n; u++) {
            if (!tacl__graph_has_edge(g, v, u)) continue;
            if (colour[u] == colour[v]) {
                free(queue);
                return -1;
            }
            if (colour[u] < 0) {
                colour[u] = 1 - colour[v];
                count += colour[u] == 0;
                queue[tail++] = u;
            }
        }
    }
    free(queue);
    return count;
}

static int graph_cmp_double_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

tacl_status_t tacl__graph_hamiltonian_cycle(const tacl__graph_t *g, int *order, double *bottleneck,
                                            tacl__errbuf_t *eb)
{
    int n = g->n;
    if (n == 1) {
        order[0] = 0;
        if (bottleneck) *bottleneck = 0;
        return TACL_OK;
    }
    /* Necessary conditions give the reason a ring is impossible in the common cases. */
    TACL_CHECK(tacl__graph_check_connected(g, eb));
    if (n == 2) {
        order[0] = 0;
        order[1] = 1;
        if (bottleneck) *bottleneck = tacl__graph_bw(g, 0, 1);
        return TACL_OK;
    }
    for (int v = 0; v < n; v++) {
        int d = tacl__graph_degree(g, v);
        if (d < 2)
            return tacl__err(eb, TACL_ERR_NOT_FOUND, TACL_SUB_TOPO,
                             "no Hamiltonian cycle: rank %d has degree %d (a ring needs 2)", v, d);
    }
    int *tmp = malloc((size_t)n * sizeof(int));
    if (!tmp) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "ring search: out of memory");
    /* A cycle alternates sides of a bipartite graph, so unequal sides rule it out (odd grids). */
    int side0 = graph_bipartite_side0(g, tmp);
    if (side0 >= 0 && 2 * side0 != n) {
        free(tmp);
        return tacl__err(
            eb, TACL_ERR_NOT_FOUND, TACL_SUB_TOPO,
            "no Hamiltonian cycle: the graph is bipartite with sides of %d and %d ranks "
            "(a ring alternates sides)",
            side0, n - side0);
    }
    tacl_status_t st = TACL_OK;
    if (n <= TACL_GRAPH_HAM_EXACT_MAX) {
        /* Largest threshold t such that the edges of bandwidth >= t hold a cycle: binary search
         * over the distinct bandwidths (existence is monotone in t). */
        double *bws = malloc((size_t)n * (size_t)n * sizeof(double));
        uint16_t *dp = malloc(((size_t)1 << n) * sizeof(uint16_t));
        int nb = 0;
        if (!bws || !dp) {
            free(bws);
            free(dp);
            free(tmp);
            return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "ring search: out of memory");
        }
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++)
                if (tacl__graph_has_edge(g, a, b)) bws[nb++] = tacl__graph_bw(g, a, b);
        qsort(bws, (size_t)nb, sizeof(double), graph_cmp_double_desc);
        int k = 0;
        for (int i = 0; i < nb; i++)
            if (!k || bws[i] != bws[k - 1]) bws[k++] = bws[i];
        /* bws[0..k) descending; find the smallest index with a cycle. */
        int lo = 0, hi = k - 1, best = -1;
        if (graph_ham_dp(g, bws[k - 1], dp, tmp)) {
            best = k - 1;
            memcpy(order, tmp, (size_t)n * sizeof(int));
            hi = k - 2;
            while (lo <= hi) {
                int mid = (lo + hi) / 2;
                if (graph_ham_dp(g, bws[mid], dp, tmp)) {
                    best = mid;
                    memcpy(order, tmp, (size_t)n * sizeof(int));
                    hi = mid - 1;
                } else {
                    lo = mid + 1;
                }
            }
        }
        if (best < 0)
            st = tacl__err(eb, TACL_ERR_NOT_FOUND, TACL_SUB_TOPO,
                           "no Hamiltonian cycle among %d ranks (exhaustive search)", n);
        else if (bottleneck)
            *bottleneck = bws[best];
        free(bws);
        free(dp);
    } else if (tacl__graph_is_full_mesh(g)) {
        double bmin = 0;
        for (int i = 0; i < n; i++) {
            order[i] = i;
            double b = tacl__graph_bw(g, i, (i + 1) % n);
            if (!i || b < bmin) bmin = b;
        }
        if (bottleneck) *bottleneck = bmin;
    } else {
        int *visited = calloc((size_t)n, sizeof(int));
        graph_dfs_t s = {.g = g, .order = tmp, .visited = visited, .budget = 200000};
        int found = -1;
        if (visited) {
            tmp[0] = 0;
            visited[0] = 1;
            found = graph_ham_dfs(&s);
        }
        free(visited);
        if (found < 0) {
            st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "ring search: out of memory");
        } else if (!found) {
            st = tacl__err(eb, TACL_ERR_NOT_FOUND, TACL_SUB_TOPO,
                           "no Hamiltonian cycle found among %d ranks (heuristic search gave up; "
                           "exact search covers up to %d ranks)",
                           n, TACL_GRAPH_HAM_EXACT_MAX);
        } else {
            memcpy(order, tmp, (size_t)n * sizeof(int));
            if (bottleneck) {
                double bmin = 0;
                for (int i = 0; i < n; i++) {
                    double b = tacl__graph_bw(g, order[i], order[(i + 1) % n]);
                    if (!i || b < bmin) bmin = b;
                }
                *bottleneck = bmin;
            }
        }
    }
    free(tmp);
    return st;
}

/* ---- Spanning trees. ---- */

void tacl__tree_destroy(tacl__tree_t *t)
{
    if (!t) return;
    free(t->parent);
    free(t->child_start);
    free(t->child);
    free(t->order);
    free(t->depth);
    free(t);
}

int tacl__tree_nchildren(const tacl__tree_t *t, int v)
{
    return t->child_start[v + 1] - t->child_start[v];
}

tacl_status_t tacl__tree_from_parents(const tacl__graph_t *g, const int *parent, tacl__tree_t **out,
                                      tacl__errbuf_t *eb)
{
    int n = g->n, root = -1;
    for (int v = 0; v < n; v++) {
        if (parent[v] == -1) {
            if (root >= 0)
                return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_TOPO,
                                 "tree: ranks %d and %d both have no parent (expected one root)",
                                 root, v);
            root = v;
        } else if (!tacl__graph_has_edge(g, v, parent[v])) {
            return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_TOPO,
                             "tree: parent %d of rank %d is not a neighbour in the graph",
                             parent[v], v);
        }
    }
    if (root < 0)
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_TOPO, "tree: no rank without a parent");
    tacl__tree_t *t = calloc(1, sizeof *t);
    if (!t) goto err_nomem;
    t->n = n;
    t->root = root;
    t->parent = malloc((size_t)n * sizeof(int));
    t->child_start = calloc((size_t)n + 1, sizeof(int));
    t->child = malloc((size_t)n * sizeof(int));
    t->order = malloc((size_t)n * sizeof(int));
    t->depth = malloc((size_t)n * sizeof(int));
    if (!t->parent || !t->child_start || !t->child || !t->order || !t->depth) goto err_free;
    memcpy(t->parent, parent, (size_t)n * sizeof(int));
    /* Children in CSR form, ascending: count, prefix sums, fill in rank order. */
    for (int v = 0; v < n; v++)
        if (v != root) t->child_start[parent[v] + 1]++;
    for (int v = 0; v < n; v++)
        t->child_start[v + 1] += t->child_start[v];
    int *fill = calloc((size_t)n, sizeof(int));
    if (!fill) goto err_free;
    for (int v = 0; v < n; v++)
        if (v != root) t->child[t->child_start[parent[v]] + fill[parent[v]]++] = v;
    free(fill);
    /* Breadth-first walk from the root: every rank must be reached exactly once (a cycle in
     * the parent array leaves ranks unreached). */
    for (int v = 0; v < n; v++)
        t->depth[v] = -1;
    int head = 0, tail = 0;
    t->order[tail++] = root;
    t->depth[root] = 0;
    t->bottleneck = 0;
    t->max_lat = 0;
    while (head < tail) {
        int v = t->order[head++];
        for (int i = t->child_start[v]; i < t->child_start[v + 1]; i++) {
            int c = t->child[i];
            t->depth[c] = t->depth[v] + 1;
            if (t->depth[c] > t->height) t->height = t->depth[c];
            double b = tacl__graph_bw(g, v, c), l = tacl__graph_lat(g, v, c);
            if (tail == 1 || b < t->bottleneck) t->bottleneck = b;
            if (l > t->max_lat) t->max_lat = l;
            t->order[tail++] = c;
        }
    }
    if (tail != n) {
        int lost = 0;
        while (lost < n && t->depth[lost] >= 0)
            lost++;
        tacl__tree_destroy(t);
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "tree: rank %d is not connected to root %d through parents (a cycle?)",
                         lost, root);
    }
    *out = t;
    return TACL_OK;
err_free:
    tacl__tree_destroy(t);
err_nomem:
    return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "tree of %d ranks: out of memory", n);
}

/* Prim's maximum spanning tree on weight matrix w (0 = no edge) from root. Ties in weight go
 * to the shallower attachment, then the lower rank, so that a uniform graph gives its BFS
 * tree rather than a long path. Returns the number of ranks reached, -1 out of memory. */
static int graph_prim(int n, const double *w, int root, int *parent, int *depth)
{
    double *key = malloc((size_t)n * sizeof(double));
    char *in = calloc((size_t)n, 1);
    int reached = -1;
    if (!key || !in) goto out;
    reached = 0;
    for (int v = 0; v < n; v++) {
        key[v] = 0;
        parent[v] = -1;
        depth[v] = 0;
    }
    int v = root;
    for (;;) {
        in[v] = 1;
        reached++;
        for (int u = 0; u < n; u++) {
            double x = w[(size_t)v * n + u];
            if (in[u] || !(x > 0)) continue;
            if (x > key[u] || (x == key[u] && depth[v] + 1 < depth[u])) {
                key[u] = x;
                parent[u] = v;
                depth[u] = depth[v] + 1;
            }
        }
        int next = -1;
        for (int u = 0; u < n; u++) {
            if (in[u] || !(key[u] > 0)) continue;
            if (next < 0 || key[u] > key[next] || (key[u] == key[next] && depth[u] < depth[next]))
                next = u;
        }
        if (next < 0) break;
        v = next;
    }
out:
    free(key);
    free(in);
    return reached;
}

tacl_status_t tacl__tree_build(const tacl__graph_t *g, int root, tacl__tree_kind_t kind,
                               tacl__tree_t **out, tacl__errbuf_t *eb)
{
    int n = g->n;
    if (root < 0 || root >= n)
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_TOPO, "tree root %d: expected 0..%d", root,
                         n - 1);
    TACL_CHECK(tacl__graph_check_connected(g, eb));
    int *parent = malloc((size_t)n * sizeof(int)), *depth = malloc((size_t)n * sizeof(int));
    tacl_status_t st;
    if (!parent || !depth) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "tree: out of memory");
        goto out;
    }
    if (kind == TACL_TREE_BFS) {
        st = tacl__graph_hops_from(g, root, depth);
        if (st != TACL_OK) {
            tacl__err_keep(eb, st);
            goto out;
        }
        for (int v = 0; v < n; v++) {
            parent[v] = -1;
            if (v == root) continue;
            for (int u = 0; u < n; u++) {
                if (depth[u] != depth[v] - 1 || !tacl__graph_has_edge(g, u, v)) continue;
                if (parent[v] < 0 || tacl__graph_bw(g, u, v) > tacl__graph_bw(g, parent[v], v))
                    parent[v] = u;
            }
        }
    } else {
        double *owned;
        const double *w = graph_bw_matrix(g, &owned);
        int reached = w ? graph_prim(n, w, root, parent, depth) : -1;
        free(owned);
        if (reached < 0) {
            st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "tree: out of memory");
            goto out;
        }
    }
    st = tacl__tree_from_parents(g, parent, out, eb);
out:
    free(parent);
    free(depth);
    return st;
}

/* ---- Multi-tree packing. ---- */

void tacl__forest_destroy(tacl__forest_t *f)
{
    if (!f) return;
    for (int i = 0; i < f->ntrees; i++)
        tacl__tree_destroy(f->trees[i]);
    free(f->trees);
    free(f->rate);
    free(f->weight);
    free(f);
}

/* Iterations of the multiplicative-weights loop; each adds (or reinforces) one tree. Each costs
 * O(n^2), so large graphs get fewer: 64 up to 256 ranks, then 64 * (256/n)^2, at least 4. */
#define GRAPH_PACK_ITERS 64
#define GRAPH_PACK_EPS   0.1

static int graph_same_parents(const int *a, const int *b, int n)
{
    return !memcmp(a, b, (size_t)n * sizeof(int));
}

tacl_status_t tacl__forest_pack(const tacl__graph_t *g, int root, int max_trees,
                                tacl__forest_t **out, tacl__errbuf_t *eb)
{
    int n = g->n;
    if (root < 0 || root >= n || max_trees < 1)
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "forest: root %d (expected 0..%d), max_trees %d (expected >= 1)", root,
                         n - 1, max_trees);
    TACL_CHECK(tacl__graph_check_connected(g, eb));
    if (g->cls) {
        tacl__graph_t *m;
        if (graph_ordinary(g, &m) != TACL_OK)
            return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "forest: out of memory");
        tacl_status_t st = tacl__forest_pack(m, root, max_trees, out, eb);
        tacl__graph_destroy(m);
        return st;
    }
    size_t nn = (size_t)n * (size_t)n;
    int cap = GRAPH_PACK_ITERS;
    double *len = malloc(nn * sizeof(double)), *w = malloc(nn * sizeof(double));
    double *load = calloc(nn, sizeof(double)), *flow = calloc((size_t)cap, sizeof(double));
    int *parents = malloc((size_t)cap * (size_t)n * sizeof(int));
    int *depth = malloc((size_t)n * sizeof(int)), *pick = malloc((size_t)cap * sizeof(int));
    tacl__forest_t *f = calloc(1, sizeof *f);
    tacl_status_t st = TACL_OK;
    int nt = 0;
    if (!len || !w || !load || !flow || !parents || !depth || !pick || !f) goto err_nomem;
    /* Garg-Koenemann style: edge lengths start at 1/capacity; each round takes the tree of
     * smallest total length (a maximum spanning tree of 1/length), sends its bottleneck
     * capacity along it and lengthens its edges in proportion to how much of them it used,
     * which steers later trees onto idle links. */
    for (size_t i = 0; i < nn; i++)
        len[i] = g->bw[i] > 0 ? 1.0 / g->bw[i] : 0;
    int iters = GRAPH_PACK_ITERS, nedges = 0;
    if (n > 256) {
        double scale = 256.0 / n;
        iters = (int)(GRAPH_PACK_ITERS * scale * scale);
        iters = iters < 4 ? 4 : iters;
    }
    for (int v = 0; v < n; v++)
        nedges += tacl__graph_degree(g, v);
    if (nedges / 2 == n - 1) iters = 1; /* the graph is a tree: its only spanning tree */
    for (int it = 0; it < iters && n > 1; it++) {
        for (size_t i = 0; i < nn; i++)
            w[i] = len[i] > 0 ? 1.0 / len[i] : 0;
        int *par = parents + (size_t)nt * n;
        if (graph_prim(n, w, root, par, depth) < 0) goto err_nomem;
        double fl = 0;
        for (int v = 0; v < n; v++)
            if (v != root && (fl == 0 || g->bw[G_AT(g, v, par[v])] < fl))
                fl = g->bw[G_AT(g, v, par[v])];
        int same = -1;
        for (int t = 0; t < nt && same < 0; t++)
            if (graph_same_parents(parents + (size_t)t * n, par, n)) same = t;
        if (same >= 0)
            flow[same] += fl;
        else
            flow[nt++] = fl;
        for (int v = 0; v < n; v++) {
            if (v == root) continue;
            size_t e = G_AT(g, v, par[v]), r = G_AT(g, par[v], v);
            len[e] *= 1.0 + GRAPH_PACK_EPS * fl / g->bw[e];
            len[r] = len[e];
        }
    }
    if (n == 1) {
        for (int v = 0; v < n; v++)
            parents[v] = -1;
        flow[nt++] = 1.0;
    }
    /* Keep the max_trees largest flows (ties: the earlier tree), then scale so that the most
     * loaded edge is exactly at capacity. */
    int keep = nt < max_trees ? nt : max_trees;
    char *used = calloc((size_t)nt, 1);
    if (!used) goto err_nomem;
    for (int k = 0; k < keep; k++) {
        int best = -1;
        for (int t = 0; t < nt; t++)
            if (!used[t] && (best < 0 || flow[t] > flow[best])) best = t;
        used[best] = 1;
        pick[k] = best;
    }
    free(used);
    /* Kept trees in the order they were found (the first is the best single tree). */
    for (int i = 1; i < keep; i++)
        for (int j = i; j > 0 && pick[j] < pick[j - 1]; j--) {
            int t = pick[j];
            pick[j] = pick[j - 1];
            pick[j - 1] = t;
        }
    double scale = 0;
    for (int k = 0; k < keep; k++) {
        const int *par = parents + (size_t)pick[k] * n;
        for (int v = 0; v < n; v++)
            if (v != root) load[G_AT(g, v, par[v])] += flow[pick[k]];
    }
    for (int v = 0; v < n; v++)
        for (int u = 0; u < n; u++) {
            size_t a = G_AT(g, v, u), b = G_AT(g, u, v);
            double l = load[a] + (a != b ? load[b] : 0);
            if (g->bw[a] > 0 && l / g->bw[a] > scale) scale = l / g->bw[a];
        }
    if (!(scale > 0)) scale = 1;
    f->trees = calloc((size_t)keep, sizeof(tacl__tree_t *));
    f->rate = calloc((size_t)keep, sizeof(double));
    f->weight = calloc((size_t)keep, sizeof(double));
    if (!f->trees || !f->rate || !f->weight) goto err_nomem;
    for (int k = 0; k < keep; k++) {
        st = tacl__tree_from_parents(g, parents + (size_t)pick[k] * n, &f->trees[k], eb);
        if (st != TACL_OK) goto err;
        f->ntrees++;
        f->rate[k] = flow[pick[k]] / scale;
        f->total_rate += f->rate[k];
    }
    /* Never worse than the best single tree: if the packing lost to it (possible after
     * dropping trees), keep only the maximum-bandwidth tree at its full bottleneck. */
    if (n > 1) {
        tacl__tree_t *best = NULL;
        st = tacl__tree_build(g, root, TACL_TREE_MAX_BW, &best, eb);
        if (st != TACL_OK) goto err;
        if (best->bottleneck > f->total_rate) {
            for (int k = 0; k < f->ntrees; k++)
                tacl__tree_destroy(f->trees[k]);
            f->trees[0] = best;
            f->ntrees = 1;
            f->rate[0] = f->total_rate = best->bottleneck;
        } else {
            tacl__tree_destroy(best);
        }
    }
    for (int k = 0; k < f->ntrees; k++)
        f->weight[k] = f->rate[k] / f->total_rate;
    free(len);
    free(w);
    free(load);
    free(flow);
    free(parents);
    free(depth);
    free(pick);
    *out = f;
    return TACL_OK;
err_nomem:
    st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "forest of %d ranks: out of memory", n);
err:
    free(len);
    free(w);
    free(load);
    free(flow);
    free(parents);
    free(depth);
    free(pick);
    tacl__forest_destroy(f);
    return st;
}

/* ---- Minimum cut. ---- */

/* Stoer-Wagner is O(n^3); above this size the smallest weighted degree (an upper bound of the
 * minimum cut, so M / it is still a valid lower bound on time) is used instead. */
#define GRAPH_MINCUT_EXACT_MAX 256

double tacl__graph_min_cut(const tacl__graph_t *g, int *side)
{
    int n = g->n, nc;
    int *comp = malloc((size_t)n * sizeof(int));
    double best = 0;
    if (!comp || tacl__graph_components(g, comp, &nc) != TACL_OK) {
        free(comp);
        return 0;
    }
    if (n < 2 || nc > 1) {
        if (side)
            for (int v = 0; v < n; v++)
                side[v] = comp[v] == 0;
        free(comp);
        return 0;
    }
    free(comp);
    if (n > GRAPH_MINCUT_EXACT_MAX) {
        int arg = 0;
        for (int v = 0; v < n; v++) {
            double d = graph_node_bw(g, v);
            if (!v || d < best) {
                best = d;
                arg = v;
            }
        }
        if (side)
            for (int v = 0; v < n; v++)
                side[v] = v == arg;
        return best;
    }
    size_t nn = (size_t)n * (size_t)n;
    double *w = malloc(nn * sizeof(double)), *key = malloc((size_t)n * sizeof(double));
    int *grp = malloc((size_t)n * sizeof(int)), *alive = malloc((size_t)n * sizeof(int));
    char *added = malloc((size_t)n);
    best = -1;
    if (!w || !key || !grp || !alive || !added) {
        best = 0;
        goto out;
    }
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++)
            w[(size_t)a * n + b] = tacl__graph_bw(g, a, b);
    for (int v = 0; v < n; v++) {
        grp[v] = v;
        alive[v] = 1;
    }
    for (int phase = n; phase > 1; phase--) {
        int prev = -1, last = -1;
        memset(added, 0, (size_t)n);
        for (int v = 0; v < n; v++)
            key[v] = 0;
        for (int it = 0; it < phase; it++) {
            int sel = -1;
            for (int v = 0; v < n; v++)
                if (alive[v] && !added[v] && (sel < 0 || key[v] > key[sel])) sel = v;
            added[sel] = 1;
            prev = last;
            last = sel;
            for (int v = 0; v < n; v++)
                if (alive[v] && !added[v]) key[v] += w[(size_t)sel * n + v];
        }
        /* Cut of the phase: the super-vertex added last against the rest. */
        if (best < 0 || key[last] < best) {
            best = key[last];
            if (side)
                for (int v = 0; v < n; v++)
                    side[v] = grp[v] == last;
        }
        for (int v = 0; v < n; v++) {
            if (grp[v] == last) grp[v] = prev;
            w[(size_t)prev * n + v] += w[(size_t)last * n + v];
            w[(size_t)v * n + prev] = w[(size_t)prev * n + v];
        }
        w[(size_t)prev * n + prev] = 0;
        alive[last] = 0;
    }
out:
    free(w);
    free(key);
    free(grp);
    free(alive);
    free(added);
    return best < 0 ? 0 : best;
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
