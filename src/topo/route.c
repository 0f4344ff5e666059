/* route.c — all-pairs shortest routes (see route.h): Floyd-Warshall on the two additive costs,
 * then next hops chosen as the lowest-ranked neighbour that lies on a shortest path. */
#include "topo/route.h"

#include <math.h>
#include <stdlib.h>

struct tacl_routes {
    int n;
    double *cost[TACL_ROUTE_KINDS]; /* [s * n + d]; INFINITY when unreachable */
    int *next[TACL_ROUTE_KINDS];
};

#define R_AT(n, a, b) ((size_t)(a) * (size_t)(n) + (size_t)(b))

void tacl_routes_destroy(tacl_routes_t *r)
{
    if (!r) return;
    for (int k = 0; k < TACL_ROUTE_KINDS; k++) {
        free(r->cost[k]);
        free(r->next[k]);
    }
    free(r);
}

static double route_edge_cost(const tacl_graph_t *g, tacl_route_kind_t kind, int a, int b)
{
    double lat = tacl_graph_lat(g, a, b);
    if (kind == TACL_ROUTE_SMALL) return lat + TACL_ROUTE_HOP_COST_S;
    return lat + (double)TACL_ROUTE_CHUNK_BYTES / tacl_graph_bw(g, a, b);
}

static void route_fill(const tacl_graph_t *g, tacl_route_kind_t kind, double *c, int *next)
{
    int n = tacl_graph_size(g);
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++)
            c[R_AT(n, a, b)] = a == b                         ? 0
                               : tacl_graph_has_edge(g, a, b) ? route_edge_cost(g, kind, a, b)
                                                              : INFINITY;
    for (int k = 0; k < n; k++)
        for (int a = 0; a < n; a++) {
            double ak = c[R_AT(n, a, k)];
            if (isinf(ak)) continue;
            for (int b = 0; b < n; b++) {
                double x = ak + c[R_AT(n, k, b)];
                if (x < c[R_AT(n, a, b)]) c[R_AT(n, a, b)] = x;
            }
        }
    /* The first hop: the lowest-ranked neighbour v with cost(s,v) + dist(v,d) equal to dist(s,d)
     * up to rounding (the sums were formed in different orders). Every edge costs at least
     * TACL_ROUTE_HOP_COST_S or chunk/bandwidth, far above the tolerance, so the distance to d
     * strictly falls at each hop and routes cannot loop. */
    for (int s = 0; s < n; s++)
        for (int d = 0; d < n; d++) {
            double want = c[R_AT(n, s, d)];
            int best = -1;
            double best_x = INFINITY;
            if (s == d) {
                best = s;
            } else if (!isinf(want)) {
                double tol = 1e-9 * want;
                for (int v = 0; v < n; v++) {
                    if (v == s || !tacl_graph_has_edge(g, s, v)) continue;
                    double x = route_edge_cost(g, kind, s, v) + c[R_AT(n, v, d)];
                    if (x <= want + tol) {
                        best = v;
                        break;
                    }
                    if (x < best_x) {
                        best_x = x;
                        best = v;
                    }
                }
            }
            next[R_AT(n, s, d)] = best;
        }
}

tacl_status_t tacl_routes_build(const tacl_graph_t *g, tacl_routes_t **out, tacl_errbuf_t *eb)
{
    int n = tacl_graph_size(g);
    size_t nn = (size_t)n * (size_t)n;
    tacl_routes_t *r = calloc(1, sizeof *r);
    if (!r) goto err_nomem;
    r->n = n;
    for (int k = 0; k < TACL_ROUTE_KINDS; k++) {
        r->cost[k] = malloc(nn * sizeof(double));
        r->next[k] = malloc(nn * sizeof(int));
        if (!r->cost[k] || !r->next[k]) goto err_free;
        route_fill(g, (tacl_route_kind_t)k, r->cost[k], r->next[k]);
    }
    *out = r;
    return TACL_OK;
err_free:
    tacl_routes_destroy(r);
err_nomem:
    return tacl_err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "routes for %d ranks: out of memory", n);
}

static int route_args_ok(const tacl_routes_t *r, tacl_route_kind_t kind, int src, int dst)
{
    return (int)kind >= 0 && kind < TACL_ROUTE_KINDS && src >= 0 && dst >= 0 && src < r->n &&
           dst < r->n;
}

int tacl_routes_next_hop(const tacl_routes_t *r, tacl_route_kind_t kind, int src, int dst)
{
    if (!route_args_ok(r, kind, src, dst)) return -1;
    return r->next[kind][R_AT(r->n, src, dst)];
}

double tacl_routes_cost(const tacl_routes_t *r, tacl_route_kind_t kind, int src, int dst)
{
    if (!route_args_ok(r, kind, src, dst)) return -1;
    double c = r->cost[kind][R_AT(r->n, src, dst)];
    return isinf(c) ? -1 : c;
}

int tacl_routes_hops(const tacl_routes_t *r, tacl_route_kind_t kind, int src, int dst)
{
    if (tacl_routes_next_hop(r, kind, src, dst) < 0) return -1;
    int h = 0;
    for (int v = src; v != dst && h <= r->n; h++)
        v = r->next[kind][R_AT(r->n, v, dst)];
    return h > r->n ? -1 : h;
}

int tacl_routes_path(const tacl_routes_t *r, tacl_route_kind_t kind, int src, int dst, int *path,
                     int maxlen)
{
    if (tacl_routes_next_hop(r, kind, src, dst) < 0 || maxlen < 1) return -1;
    int len = 0, v = src;
    path[len++] = v;
    while (v != dst) {
        if (len >= maxlen || len > r->n) return -1;
        v = r->next[kind][R_AT(r->n, v, dst)];
        path[len++] = v;
    }
    return len;
}
