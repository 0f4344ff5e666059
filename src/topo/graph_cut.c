/* graph_cut.c — the global minimum cut by bandwidth (Stoer-Wagner; a bound on large graphs). */
#include "topo/graph_int.h"

#include <stdlib.h>
#include <string.h>

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
            double d = tacl__graph_node_bw(g, v);
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
