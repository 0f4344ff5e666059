/* route.c — all-pairs shortest routes (see route.h): Dijkstra (sparse graphs) or
 * Floyd-Warshall (dense ones) on the two additive costs, then next hops: the direct edge when
 * it is a shortest route, else the lowest-ranked neighbour on a shortest route. */
#include "topo/route.h"

#include <math.h>
#include <stdlib.h>

struct tacl__routes {
    int n;
    double *cost[TACL_ROUTE_KINDS]; /* [s * n + d]; INFINITY when unreachable */
    int *next[TACL_ROUTE_KINDS];
};

#define R_AT(n, a, b) ((size_t)(a) * (size_t)(n) + (size_t)(b))

void tacl__routes_destroy(tacl__routes_t *r)
{
    if (!r) return;
    for (int k = 0; k < TACL_ROUTE_KINDS; k++) {
        free(r->cost[k]);
        free(r->next[k]);
    }
    free(r);
}

static double route_edge_cost(const tacl__graph_t *g, tacl__route_kind_t kind, int a, int b)
{
    double lat = tacl__graph_lat(g, a, b);
    if (kind == TACL_ROUTE_SMALL) return lat + TACL_ROUTE_HOP_COST_S;
    return lat + (double)TACL_ROUTE_CHUNK_BYTES / tacl__graph_bw(g, a, b);
}

/* Adjacency in CSR form, neighbours ascending, with the edge costs of one kind. */
typedef struct {
    int *start, *nbr;
    double *cost;
} route_adj_t;

static int route_adj_build(const tacl__graph_t *g, tacl__route_kind_t kind, route_adj_t *a)
{
    int n = tacl__graph_size(g);
    size_t m = 0;
    a->start = malloc(((size_t)n + 1) * sizeof(int));
    if (!a->start) return -1;
    for (int v = 0; v < n; v++) {
        a->start[v] = (int)m;
        for (int u = 0; u < n; u++)
            m += tacl__graph_has_edge(g, v, u);
    }
    a->start[n] = (int)m;
    a->nbr = malloc((m + 1) * sizeof(int));
    a->cost = malloc((m + 1) * sizeof(double));
    if (!a->nbr || !a->cost) return -1;
    size_t k = 0;
    for (int v = 0; v < n; v++)
        for (int u = 0; u < n; u++)
            if (tacl__graph_has_edge(g, v, u)) {
                a->nbr[k] = u;
                a->cost[k++] = route_edge_cost(g, kind, v, u);
            }
    return 0;
}

static void route_adj_free(route_adj_t *a)
{
    free(a->start);
    free(a->nbr);
    free(a->cost);
}

/* Dijkstra from src with a binary heap of (distance, rank) entries pushed lazily. */
typedef struct {
    double d;
    int v;
} route_heap_t;

static void route_heap_push(route_heap_t *h, size_t *len, double d, int v)
{
    size_t i = (*len)++;
    h[i].d = d;
    h[i].v = v;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p].d <= h[i].d) break;
        route_heap_t t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
    }
}

static route_heap_t route_heap_pop(route_heap_t *h, size_t *len)
{
    route_heap_t top = h[0];
    h[0] = h[--(*len)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *len && h[l].d < h[m].d) m = l;
        if (r < *len && h[r].d < h[m].d) m = r;
        if (m == i) break;
        route_heap_t t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
    return top;
}

static void route_dijkstra(const route_adj_t *a, int n, int src, double *dist, route_heap_t *heap)
{
    size_t len = 0;
    for (int v = 0; v < n; v++)
        dist[v] = INFINITY;
    dist[src] = 0;
    route_heap_push(heap, &len, 0, src);
    while (len) {
        route_heap_t e = route_heap_pop(heap, &len);
        if (e.d > dist[e.v]) continue;
        for (int k = a->start[e.v]; k < a->start[e.v + 1]; k++) {
            double x = e.d + a->cost[k];
            int u = a->nbr[k];
            if (x < dist[u]) {
                dist[u] = x;
                route_heap_push(heap, &len, x, u);
            }
        }
    }
}

/* Distances by Dijkstra per source on sparse graphs (O(n m log n)), Floyd-Warshall on dense
 * ones (O(n^3) with a tight loop); both give the exact shortest costs. Then the next hop:
 * the direct edge when it is a shortest route, else the lowest-ranked neighbour v with
 * cost(s,v) + dist(v,d) equal to dist(s,d) up to rounding (sums formed in different orders).
 * Every edge costs at least TACL_ROUTE_HOP_COST_S or chunk/bandwidth, far above the
 * tolerance, so the distance to d strictly falls at each hop and routes cannot loop. */
static int route_fill(const tacl__graph_t *g, tacl__route_kind_t kind, double *c, int *next)
{
    int n = tacl__graph_size(g);
    route_adj_t a = {0};
    if (route_adj_build(g, kind, &a)) {
        route_adj_free(&a);
        return -1;
    }
    size_t m = (size_t)a.start[n];
    double logn = n > 1 ? log2((double)n) : 1, cmin = INFINITY, cmax = 0;
    for (size_t k = 0; k < m; k++) {
        cmin = a.cost[k] < cmin ? a.cost[k] : cmin;
        cmax = a.cost[k] > cmax ? a.cost[k] : cmax;
    }
    if (m == (size_t)n * (size_t)(n - 1) && cmax <= 2 * cmin) {
        /* A full mesh whose dearest edge costs at most two of its cheapest: no detour of two
         * or more hops beats a direct edge, so the costs are the edges' (O(n^2) instead of
         * O(n^3), which matters for large full meshes). */
        for (int x = 0; x < n; x++) {
            c[R_AT(n, x, x)] = 0;
            for (int k = a.start[x]; k < a.start[x + 1]; k++)
                c[R_AT(n, x, a.nbr[k])] = a.cost[k];
        }
    } else if ((double)m * logn < (double)n * (double)n) {
        route_heap_t *heap = malloc((m + 1) * sizeof *heap);
        if (!heap) {
            route_adj_free(&a);
            return -1;
        }
        for (int s = 0; s < n; s++)
            route_dijkstra(&a, n, s, c + (size_t)s * n, heap);
        free(heap);
    } else {
        for (int x = 0; x < n; x++)
            for (int y = 0; y < n; y++)
                c[R_AT(n, x, y)] = x == y ? 0 : INFINITY;
        for (int x = 0; x < n; x++)
            for (int k = a.start[x]; k < a.start[x + 1]; k++)
                c[R_AT(n, x, a.nbr[k])] = a.cost[k];
        for (int k = 0; k < n; k++)
            for (int x = 0; x < n; x++) {
                double xk = c[R_AT(n, x, k)];
                if (isinf(xk)) continue;
                double *row = c + (size_t)x * n, *krow = c + (size_t)k * n;
                for (int y = 0; y < n; y++) {
                    double x = xk + krow[y]; /* branch-free: the compiler vectorises it */
                    row[y] = x < row[y] ? x : row[y];
                }
            }
    }
    for (int s = 0; s < n; s++)
        for (int d = 0; d < n; d++) {
            double want = c[R_AT(n, s, d)];
            int best = -1;
            if (s == d) {
                best = s;
            } else if (!isinf(want)) {
                double tol = 1e-9 * want, best_x = INFINITY;
                if (tacl__graph_has_edge(g, s, d) && route_edge_cost(g, kind, s, d) <= want + tol)
                    best = d;
                for (int k = a.start[s]; k < a.start[s + 1] && best < 0; k++) {
                    double x = a.cost[k] + c[R_AT(n, a.nbr[k], d)];
                    if (x <= want + tol) best = a.nbr[k];
                    if (x < best_x) best_x = x;
                }
                /* Unreachable in exact arithmetic; keeps a route if rounding ever disagrees. */
                for (int k = a.start[s]; k < a.start[s + 1] && best < 0; k++)
                    if (a.cost[k] + c[R_AT(n, a.nbr[k], d)] <= best_x) best = a.nbr[k];
            }
            next[R_AT(n, s, d)] = best;
        }
    route_adj_free(&a);
    return 0;
}

tacl_status_t tacl__routes_build(const tacl__graph_t *g, tacl__routes_t **out, tacl__errbuf_t *eb)
{
    int n = tacl__graph_size(g);
    size_t nn = (size_t)n * (size_t)n;
    tacl__routes_t *r = calloc(1, sizeof *r);
    if (!r) goto err_nomem;
    r->n = n;
    for (int k = 0; k < TACL_ROUTE_KINDS; k++) {
        r->cost[k] = malloc(nn * sizeof(double));
        r->next[k] = malloc(nn * sizeof(int));
        if (!r->cost[k] || !r->next[k]) goto err_free;
        if (route_fill(g, (tacl__route_kind_t)k, r->cost[k], r->next[k])) goto err_free;
    }
    *out = r;
    return TACL_OK;
err_free:
    tacl__routes_destroy(r);
err_nomem:
    return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "routes for %d ranks: out of memory", n);
}

static int route_args_ok(const tacl__routes_t *r, tacl__route_kind_t kind, int src, int dst)
{
    return (int)kind >= 0 && kind < TACL_ROUTE_KINDS && src >= 0 && dst >= 0 && src < r->n &&
           dst < r->n;
}

int tacl__routes_next_hop(const tacl__routes_t *r, tacl__route_kind_t kind, int src, int dst)
{
    if (!route_args_ok(r, kind, src, dst)) return -1;
    return r->next[kind][R_AT(r->n, src, dst)];
}

double tacl__routes_cost(const tacl__routes_t *r, tacl__route_kind_t kind, int src, int dst)
{
    if (!route_args_ok(r, kind, src, dst)) return -1;
    double c = r->cost[kind][R_AT(r->n, src, dst)];
    return isinf(c) ? -1 : c;
}

int tacl__routes_hops(const tacl__routes_t *r, tacl__route_kind_t kind, int src, int dst)
{
    if (tacl__routes_next_hop(r, kind, src, dst) < 0) return -1;
    int h = 0;
    for (int v = src; v != dst && h <= r->n; h++)
        v = r->next[kind][R_AT(r->n, v, dst)];
    return h > r->n ? -1 : h;
}

int tacl__routes_path(const tacl__routes_t *r, tacl__route_kind_t kind, int src, int dst, int *path,
                      int maxlen)
{
    if (tacl__routes_next_hop(r, kind, src, dst) < 0 || maxlen < 1) return -1;
    int len = 0, v = src;
    path[len++] = v;
    while (v != dst) {
        if (len >= maxlen || len > r->n) return -1;
        v = r->next[kind][R_AT(r->n, v, dst)];
        path[len++] = v;
    }
    return len;
}
