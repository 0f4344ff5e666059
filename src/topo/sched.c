/* sched.c — schedule choice for all_reduce on a reachability graph (see sched.h for the rule,
 * the time model and the cut bound). */
#include "topo/sched.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tacl_sched_kind_name(tacl_sched_kind_t kind)
{
    switch (kind) {
    case TACL_SCHED_SINGLE:
        return "single";
    case TACL_SCHED_MESH:
        return "mesh";
    case TACL_SCHED_RING:
        return "ring";
    case TACL_SCHED_TREE:
        return "tree";
    case TACL_SCHED_MULTITREE:
        return "multitree";
    }
    return "unknown";
}

void tacl_sched_destroy(tacl_sched_t *s)
{
    if (!s) return;
    free(s->ring);
    tacl_tree_destroy(s->tree);
    tacl_forest_destroy(s->forest);
    free(s);
}

double tacl_sched_ring_time(int n, double bw, double lat, double bytes)
{
    if (n < 2) return 0;
    return 2.0 * (n - 1) * (lat + bytes / ((double)n * bw));
}

double tacl_sched_recdbl_time(int n, double bw, double lat, double bytes)
{
    if (n < 2) return 0;
    return ceil(log2((double)n)) * (lat + bytes / bw);
}

double tacl_sched_tree_time(const tacl_tree_t *t, double rate, double bytes)
{
    if (t->height == 0 || !(rate > 0)) return 0;
    double c = bytes < TACL_SCHED_CHUNK_BYTES ? bytes : TACL_SCHED_CHUNK_BYTES;
    int h = t->height;
    return bytes / rate + (2.0 * h - 1) * c / t->bottleneck + 2.0 * h * t->max_lat;
}

static double sched_forest_time(const tacl_forest_t *f, double bytes)
{
    double worst = 0;
    for (int i = 0; i < f->ntrees; i++) {
        double t = tacl_sched_tree_time(f->trees[i], f->rate[i], f->weight[i] * bytes);
        if (t > worst) worst = t;
    }
    return worst;
}

/* Largest over pairs of the smallest total latency between them (Floyd-Warshall; skipped
 * above 512 ranks, where it would cost more than it tells). */
static double sched_lat_diameter(const tacl_graph_t *g)
{
    int n = tacl_graph_size(g);
    if (n < 2 || n > 512) return 0;
    double *d = malloc((size_t)n * (size_t)n * sizeof(double));
    if (!d) return 0;
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++)
            d[(size_t)a * n + b] = a == b                         ? 0
                                   : tacl_graph_has_edge(g, a, b) ? tacl_graph_lat(g, a, b)
                                                                  : INFINITY;
    for (int k = 0; k < n; k++)
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++) {
                double x = d[(size_t)a * n + k] + d[(size_t)k * n + b];
                if (x < d[(size_t)a * n + b]) d[(size_t)a * n + b] = x;
            }
    double diam = 0;
    for (size_t i = 0; i < (size_t)n * n; i++)
        if (!isinf(d[i]) && d[i] > diam) diam = d[i];
    free(d);
    return diam;
}

double tacl_sched_lower_bound(const tacl_graph_t *g, double bytes)
{
    if (tacl_graph_size(g) < 2) return 0;
    double cut = tacl_graph_min_cut(g, NULL);
    if (!(cut > 0)) return 0;
    double bw_bound = bytes / cut, lat_bound = sched_lat_diameter(g);
    return bw_bound > lat_bound ? bw_bound : lat_bound;
}

static double sched_ring_lat(const tacl_graph_t *g, const int *ring, int n)
{
    double l = 0;
    for (int i = 0; i < n; i++) {
        double x = tacl_graph_lat(g, ring[i], ring[(i + 1) % n]);
        if (x > l) l = x;
    }
    return l;
}

/* "0-1-3-2"; past 12 ranks the first 6 and the last 2 ("0-1-2-3-4-5-...-62-63"). */
static void sched_fmt_order(const int *order, int n, char *buf, size_t len)
{
    size_t pos = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && pos < len; i++) {
        int w;
        if (n > 12 && i == 6) {
            w = snprintf(buf + pos, len - pos, "-...");
            i = n - 3;
        } else {
            w = snprintf(buf + pos, len - pos, "%s%d", i ? "-" : "", order[i]);
        }
        pos = w < 0 ? len : pos + (size_t)w;
    }
}

static tacl_status_t sched_tree_choice(const tacl_graph_t *g, tacl_sched_t *s, double bytes,
                                       const char *why, tacl_errbuf_t *eb)
{
    tacl_tree_t *bfs = NULL, *mbw = NULL;
    TACL_CHECK(tacl_graph_centre(g, &s->root, &s->eccentricity, eb));
    TACL_CHECK(tacl_tree_build(g, s->root, TACL_TREE_BFS, &bfs, eb));
    tacl_status_t st = tacl_tree_build(g, s->root, TACL_TREE_MAX_BW, &mbw, eb);
    if (st != TACL_OK) {
        tacl_tree_destroy(bfs);
        return st;
    }
    /* Of the two single trees keep the faster by the model (the BFS tree on a tie). */
    double tb = tacl_sched_tree_time(bfs, bfs->bottleneck, bytes);
    double tm = tacl_sched_tree_time(mbw, mbw->bottleneck, bytes);
    const char *tree_kind = "BFS";
    if (tm < tb) {
        tacl_tree_destroy(bfs);
        s->tree = mbw;
        tree_kind = "max-bandwidth";
    } else {
        tacl_tree_destroy(mbw);
        s->tree = bfs;
    }
    s->kind = TACL_SCHED_TREE;
    s->predicted_s = tacl_sched_tree_time(s->tree, s->tree->bottleneck, bytes);
    tacl_forest_t *f = NULL;
    st = tacl_forest_pack(g, s->root, TACL_SCHED_MAX_TREES, &f, eb);
    if (st != TACL_OK) return st;
    double tf = sched_forest_time(f, bytes);
    if (f->ntrees > 1 && tf < 0.9 * s->predicted_s) {
        s->kind = TACL_SCHED_MULTITREE;
        s->forest = f;
        s->predicted_s = tf;
        snprintf(s->reason, sizeof s->reason,
                 "%.200s; %d spanning trees rooted at rank %d (centre, eccentricity %d) packed by "
                 "bandwidth, total rate %.3g B/s",
                 why, f->ntrees, s->root, s->eccentricity, f->total_rate);
        tacl_tree_destroy(s->tree);
        s->tree = NULL;
    } else {
        tacl_forest_destroy(f);
        snprintf(s->reason, sizeof s->reason,
                 "%.200s; spanning tree rooted at rank %d (centre, eccentricity %d), %s tree of "
                 "height %d",
                 why, s->root, s->eccentricity, tree_kind, s->tree->height);
    }
    return TACL_OK;
}

tacl_status_t tacl_sched_all_reduce(const tacl_graph_t *g, double bytes, tacl_sched_t **out,
                                    tacl_errbuf_t *eb)
{
    int n = tacl_graph_size(g);
    if (!(bytes >= 0))
        return tacl_err(eb, TACL_ERR_INVALID, TACL_SUB_TOPO, "schedule: bytes %g must be >= 0",
                        bytes);
    tacl_sched_t *s = calloc(1, sizeof *s);
    if (!s) return tacl_err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "schedule: out of memory");
    s->n = n;
    s->bytes = bytes;
    s->root = 0;
    tacl_status_t st = TACL_OK;
    if (n == 1) {
        s->kind = TACL_SCHED_SINGLE;
        snprintf(s->reason, sizeof s->reason, "single rank: nothing to communicate");
        *out = s;
        return TACL_OK;
    }
    st = tacl_graph_check_connected(g, eb);
    if (st != TACL_OK) goto err;
    s->lower_bound_s = tacl_sched_lower_bound(g, bytes);
    s->ring = malloc((size_t)n * sizeof(int));
    if (!s->ring) {
        st = tacl_err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "schedule: out of memory");
        goto err;
    }
    char order[256];
    tacl_errbuf_t why = {{0}};
    st = tacl_graph_hamiltonian_cycle(g, s->ring, &s->ring_bw, &why);
    if (st == TACL_OK) {
        double lat = sched_ring_lat(g, s->ring, n);
        double tr = tacl_sched_ring_time(n, s->ring_bw, lat, bytes);
        sched_fmt_order(s->ring, n, order, sizeof order);
        if (tacl_graph_is_full_mesh(g)) {
            /* The bottleneck of any edge bounds recursive doubling, which pairs everyone. */
            double bmin = 0, lmax = 0;
            for (int a = 0; a < n; a++)
                for (int b = a + 1; b < n; b++) {
                    double x = tacl_graph_bw(g, a, b), l = tacl_graph_lat(g, a, b);
                    if (bmin == 0 || x < bmin) bmin = x;
                    if (l > lmax) lmax = l;
                }
            double td = tacl_sched_recdbl_time(n, bmin, lmax, bytes);
            s->kind = TACL_SCHED_MESH;
            s->predicted_s = td < tr ? td : tr;
            snprintf(s->reason, sizeof s->reason,
                     "full mesh of %d ranks: ring over %s for large messages, recursive doubling "
                     "for small ones (%s predicted faster at %.0f bytes)",
                     n, order, td < tr ? "recursive doubling" : "ring", bytes);
        } else {
            s->kind = TACL_SCHED_RING;
            s->predicted_s = tr;
            snprintf(s->reason, sizeof s->reason,
                     "Hamiltonian cycle %s: ring on that order (bottleneck %.3g B/s)", order,
                     s->ring_bw);
        }
        *out = s;
        return TACL_OK;
    }
    if (st != TACL_ERR_NOT_FOUND) goto err;
    free(s->ring);
    s->ring = NULL;
    char reason[TACL_ERRMSG_MAX];
    snprintf(reason, sizeof reason, "%s", why.msg);
    st = sched_tree_choice(g, s, bytes, reason, eb);
    if (st != TACL_OK) goto err;
    *out = s;
    return TACL_OK;
err:
    tacl_sched_destroy(s);
    return st;
}

void tacl_sched_format(const tacl_sched_t *s, char *buf, size_t len)
{
    size_t pos = 0;
    int w;
#define SCHED_APPEND(...)                                                                          \
    do {                                                                                           \
        if (pos < len) {                                                                           \
            w = snprintf(buf + pos, len - pos, __VA_ARGS__);                                       \
            pos = w < 0 ? len : pos + (size_t)w;                                                   \
        }                                                                                          \
    } while (0)
    if (!len) return;
    buf[0] = '\0';
    SCHED_APPEND("schedule: %s\nreason: %s\n", tacl_sched_kind_name(s->kind), s->reason);
    if (s->ring) {
        SCHED_APPEND("ring:");
        for (int i = 0; i < s->n; i++)
            SCHED_APPEND(" %d", s->ring[i]);
        SCHED_APPEND("\n");
    }
    const tacl_tree_t *trees[TACL_SCHED_MAX_TREES];
    int nt = 0;
    if (s->tree) trees[nt++] = s->tree;
    for (int i = 0; s->forest && i < s->forest->ntrees; i++)
        trees[nt++] = s->forest->trees[i];
    for (int i = 0; i < nt; i++) {
        SCHED_APPEND("tree %d", i);
        if (s->forest) SCHED_APPEND(" (weight %.3f)", s->forest->weight[i]);
        SCHED_APPEND(" parents:");
        for (int v = 0; v < s->n; v++)
            SCHED_APPEND(" %d", trees[i]->parent[v]);
        SCHED_APPEND("\n");
    }
    SCHED_APPEND("predicted: %.6g s for %.0f bytes; lower bound (cut): %.6g s\n", s->predicted_s,
                 s->bytes, s->lower_bound_s);
#undef SCHED_APPEND
}
