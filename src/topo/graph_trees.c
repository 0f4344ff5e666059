/* graph_trees.c — spanning trees (BFS, maximum-bandwidth Prim) and multi-tree packing. */
#include "topo/graph_int.h"

#include <stdlib.h>
#include <string.h>

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
        const double *w = tacl__graph_bw_matrix(g, &owned);
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
        if (tacl__graph_ordinary(g, &m) != TACL_OK)
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
