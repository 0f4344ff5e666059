/* sched.c — schedule choice for collectives on a reachability graph (see sched.h for the rule,
 * the time model and the cut bounds). */
#include "topo/sched.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tacl__sched_kind_name(tacl__sched_kind_t kind)
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

const char *tacl__sched_op_name(tacl__sched_op_t op)
{
    static const char *const names[] = {"all_reduce", "broadcast", "reduce", "all_gather",
                                        "reduce_scatter"};
    return (unsigned)op < TACL_SCHED_OP_COUNT ? names[op] : "unknown";
}

void tacl__sched_destroy(tacl__sched_t *s)
{
    if (!s) return;
    free(s->ring);
    tacl__tree_destroy(s->tree);
    tacl__forest_destroy(s->forest);
    free(s);
}

double tacl__sched_ring_time(int n, double bw, double lat, double bytes)
{
    if (n < 2) return 0;
    return 2.0 * (n - 1) * (lat + bytes / ((double)n * bw));
}

double tacl__sched_recdbl_time(int n, double bw, double lat, double bytes)
{
    if (n < 2) return 0;
    return ceil(log2((double)n)) * (lat + bytes / bw);
}

size_t tacl__sched_chunk_bytes(double bytes, int stages)
{
    if (stages < 1) stages = 1;
    if (!(bytes > 0)) return 0;
    double c = bytes / ((double)TACL_SCHED_CHUNKS_PER_STAGE * stages);
    if (c < TACL_SCHED_CHUNK_MIN) c = TACL_SCHED_CHUNK_MIN;
    if (c > TACL_SCHED_CHUNK_MAX) c = TACL_SCHED_CHUNK_MAX;
    size_t cb = (size_t)c & ~(size_t)4095;
    return bytes < (double)cb ? (size_t)bytes : cb;
}

double tacl__sched_tree_time(const tacl__tree_t *t, double rate, double bytes)
{
    if (t->height == 0 || !(rate > 0)) return 0;
    int h = t->height;
    double c = (double)tacl__sched_chunk_bytes(bytes, 2 * h - 1);
    return bytes / rate + (2.0 * h - 1) * c / t->bottleneck + 2.0 * h * t->max_lat;
}

double tacl__sched_tree_op_time(const tacl__graph_t *g, const tacl__tree_t *t, tacl__sched_op_t op,
                                double rate, double bytes)
{
    int h = t->height, n = t->n;
    if (h == 0 || !(rate > 0)) return 0;
    int rooted = op == TACL_SCHED_BROADCAST || op == TACL_SCHED_REDUCE;
    double c = (double)tacl__sched_chunk_bytes(bytes, rooted ? h : 2 * h - 1);
    double pipe = c / t->bottleneck;
    switch (op) {
    case TACL_SCHED_BROADCAST:
    case TACL_SCHED_REDUCE:
        return bytes / rate + (h - 1.0) * pipe + h * t->max_lat;
    case TACL_SCHED_ALL_GATHER:
    case TACL_SCHED_REDUCE_SCATTER: {
        /* Edge above v carries the blocks of v's subtree one way and all others the other. */
        int *sub = calloc((size_t)n, sizeof(int));
        double worst = 0;
        if (!sub) return bytes / rate + (2.0 * h - 1) * pipe + 2.0 * h * t->max_lat;
        for (int i = n - 1; i >= 0; i--) {
            int v = t->order[i];
            sub[v] += 1;
            if (t->parent[v] >= 0) {
                sub[t->parent[v]] += sub[v];
                int k = sub[v] > n - sub[v] ? sub[v] : n - sub[v];
                double x = (double)k / n * bytes / tacl__graph_bw(g, v, t->parent[v]);
                if (x > worst) worst = x;
            }
        }
        free(sub);
        return worst + (2.0 * h - 1) * pipe + 2.0 * h * t->max_lat;
    }
    default:
        return bytes / rate + (2.0 * h - 1) * pipe + 2.0 * h * t->max_lat;
    }
}

static double sched_forest_time(const tacl__graph_t *g, const tacl__forest_t *f,
                                tacl__sched_op_t op, double bytes)
{
    double worst = 0;
    for (int i = 0; i < f->ntrees; i++) {
        double t = tacl__sched_tree_op_time(g, f->trees[i], op, f->rate[i], f->weight[i] * bytes);
        if (t > worst) worst = t;
    }
    return worst;
}

/* Largest over pairs of the smallest total latency between them: Floyd-Warshall up to 128
 * ranks; above, the hop diameter times the smallest edge latency (still a lower bound, as
 * every route between the farthest pair has that many hops). */
static double sched_lat_diameter(const tacl__graph_t *g)
{
    int n = tacl__graph_size(g);
    if (n < 2) return 0;
    if (n > 128) {
        int *dist = malloc((size_t)n * sizeof(int)), diam = 0;
        double lmin = INFINITY;
        if (!dist) return 0;
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++)
                if (tacl__graph_has_edge(g, a, b) && tacl__graph_lat(g, a, b) < lmin)
                    lmin = tacl__graph_lat(g, a, b);
        /* Eccentricities from two sweeps bound the diameter from below: max(ecc(0),
         * ecc(farthest from 0)) <= diameter, which keeps this a lower bound. */
        int far = 0;
        for (int sweep = 0; sweep < 2; sweep++) {
            if (tacl__graph_hops_from(g, far, dist) != TACL_OK) break;
            int next = far;
            for (int v = 0; v < n; v++)
                if (dist[v] > diam) {
                    diam = dist[v];
                    next = v;
                }
            far = next;
        }
        free(dist);
        return isinf(lmin) ? 0 : diam * lmin;
    }
    double *d = malloc((size_t)n * (size_t)n * sizeof(double));
    if (!d) return 0;
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++)
            d[(size_t)a * n + b] = a == b                          ? 0
                                   : tacl__graph_has_edge(g, a, b) ? tacl__graph_lat(g, a, b)
                                                                   : INFINITY;
    for (int k = 0; k < n; k++)
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++) {
                double x = d[(size_t)a * n + k] + d[(size_t)k * n + b];
                d[(size_t)a * n + b] = x < d[(size_t)a * n + b] ? x : d[(size_t)a * n + b];
            }
    double diam = 0;
    for (size_t i = 0; i < (size_t)n * n; i++)
        if (!isinf(d[i]) && d[i] > diam) diam = d[i];
    free(d);
    return diam;
}

double tacl__sched_bound(const tacl__graph_t *g, tacl__sched_op_t op, int root, double bytes)
{
    int n = tacl__graph_size(g);
    if (n < 2) return 0;
    int *side = malloc((size_t)n * sizeof(int));
    if (!side) return 0;
    double cut = tacl__graph_min_cut(g, side), bw_bound = 0, lat_bound = 0;
    int k = 0;
    for (int v = 0; v < n; v++)
        k += side[v];
    free(side);
    if (!(cut > 0)) return 0;
    if (op == TACL_SCHED_ALL_GATHER || op == TACL_SCHED_REDUCE_SCATTER)
        bw_bound = (double)(k > n - k ? k : n - k) / n * bytes / cut;
    else
        bw_bound = bytes / cut;
    if (op == TACL_SCHED_BROADCAST || op == TACL_SCHED_REDUCE) {
        /* Reaching the farthest rank from the root: its hops times the smallest latency. */
        int *dist = malloc((size_t)n * sizeof(int)), far = 0;
        double lmin = INFINITY;
        if (dist && root >= 0 && root < n && tacl__graph_hops_from(g, root, dist) == TACL_OK)
            for (int v = 0; v < n; v++)
                far = dist[v] > far ? dist[v] : far;
        free(dist);
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++)
                if (tacl__graph_has_edge(g, a, b) && tacl__graph_lat(g, a, b) < lmin)
                    lmin = tacl__graph_lat(g, a, b);
        lat_bound = isinf(lmin) ? 0 : far * lmin;
    } else {
        lat_bound = sched_lat_diameter(g);
    }
    return bw_bound > lat_bound ? bw_bound : lat_bound;
}

double tacl__sched_lower_bound(const tacl__graph_t *g, double bytes)
{
    return tacl__sched_bound(g, TACL_SCHED_ALL_REDUCE, 0, bytes);
}

static double sched_ring_lat(const tacl__graph_t *g, const int *ring, int n)
{
    double l = 0;
    for (int i = 0; i < n; i++) {
        double x = tacl__graph_lat(g, ring[i], ring[(i + 1) % n]);
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

/* Tree schedules: rooted at the root for broadcast/reduce, at the centre otherwise; of the BFS
 * and the maximum-bandwidth tree the faster by the model (BFS on a tie); then the packed
 * forest when it is >= 10% faster (all_reduce, broadcast, reduce). */
static tacl_status_t sched_tree_choice(const tacl__graph_t *g, tacl__sched_t *s, double bytes,
                                       const char *why, tacl__errbuf_t *eb)
{
    tacl__tree_t *bfs = NULL, *mbw = NULL;
    int rooted = s->op == TACL_SCHED_BROADCAST || s->op == TACL_SCHED_REDUCE;
    char where[96];
    if (rooted) {
        int *dist = malloc((size_t)s->n * sizeof(int));
        if (!dist) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "schedule: out of memory");
        tacl_status_t hs = tacl__graph_hops_from(g, s->root, dist);
        s->eccentricity = 0;
        for (int v = 0; hs == TACL_OK && v < s->n; v++)
            s->eccentricity = dist[v] > s->eccentricity ? dist[v] : s->eccentricity;
        free(dist);
        if (hs != TACL_OK) return tacl__err_keep(eb, hs);
        snprintf(where, sizeof where, "rank %d (the root, eccentricity %d)", s->root,
                 s->eccentricity);
    } else {
        TACL_CHECK(tacl__graph_centre(g, &s->root, &s->eccentricity, eb));
        snprintf(where, sizeof where, "rank %d (centre, eccentricity %d)", s->root,
                 s->eccentricity);
    }
    TACL_CHECK(tacl__tree_build(g, s->root, TACL_TREE_BFS, &bfs, eb));
    tacl_status_t st = tacl__tree_build(g, s->root, TACL_TREE_MAX_BW, &mbw, eb);
    if (st != TACL_OK) {
        tacl__tree_destroy(bfs);
        return st;
    }
    double tb = tacl__sched_tree_op_time(g, bfs, s->op, bfs->bottleneck, bytes);
    double tm = tacl__sched_tree_op_time(g, mbw, s->op, mbw->bottleneck, bytes);
    const char *tree_kind = "BFS";
    if (tm < tb) {
        tacl__tree_destroy(bfs);
        s->tree = mbw;
        tree_kind = "max-bandwidth";
    } else {
        tacl__tree_destroy(mbw);
        s->tree = bfs;
    }
    s->kind = TACL_SCHED_TREE;
    s->predicted_s = tacl__sched_tree_op_time(g, s->tree, s->op, s->tree->bottleneck, bytes);
    tacl__forest_t *f = NULL;
    if (s->op == TACL_SCHED_ALL_REDUCE || rooted) {
        st = tacl__forest_pack(g, s->root, TACL_SCHED_MAX_TREES, &f, eb);
        if (st != TACL_OK) return st;
    }
    double tf = f ? sched_forest_time(g, f, s->op, bytes) : 0;
    if (f && f->ntrees > 1 && tf < 0.9 * s->predicted_s) {
        s->kind = TACL_SCHED_MULTITREE;
        s->forest = f;
        s->predicted_s = tf;
        snprintf(s->reason, sizeof s->reason,
                 "%.200s%s%d spanning trees rooted at %s packed by bandwidth, total rate %.3g B/s",
                 why, why[0] ? "; " : "", f->ntrees, where, f->total_rate);
        tacl__tree_destroy(s->tree);
        s->tree = NULL;
    } else {
        tacl__forest_destroy(f);
        snprintf(s->reason, sizeof s->reason,
                 "%.200s%sspanning tree rooted at %s, %s tree of height %d", why,
                 why[0] ? "; " : "", where, tree_kind, s->tree->height);
    }
    return TACL_OK;
}

/* Ring model of the ops that use rings (recursive doubling for the mesh's small messages). */
static double sched_ring_op_time(tacl__sched_op_t op, int n, double bw, double lat, double bytes)
{
    if (op == TACL_SCHED_ALL_REDUCE) return tacl__sched_ring_time(n, bw, lat, bytes);
    return (n - 1) * (lat + bytes / ((double)n * bw));
}

static double sched_recdbl_op_time(tacl__sched_op_t op, int n, double bw, double lat, double bytes)
{
    if (op == TACL_SCHED_ALL_REDUCE) return tacl__sched_recdbl_time(n, bw, lat, bytes);
    return ceil(log2((double)n)) * lat + (n - 1.0) / n * bytes / bw;
}

tacl_status_t tacl__sched_build(const tacl__graph_t *g, tacl__sched_op_t op, int root, double bytes,
                                tacl__sched_t **out, tacl__errbuf_t *eb)
{
    int n = tacl__graph_size(g);
    int rooted = op == TACL_SCHED_BROADCAST || op == TACL_SCHED_REDUCE;
    if (!(bytes >= 0) || (unsigned)op >= TACL_SCHED_OP_COUNT || (rooted && (root < 0 || root >= n)))
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "schedule: op %d (expected 0..%d), root %d (expected 0..%d), bytes %g "
                         "(expected >= 0)",
                         (int)op, TACL_SCHED_OP_COUNT - 1, root, n - 1, bytes);
    tacl__sched_t *s = calloc(1, sizeof *s);
    if (!s) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "schedule: out of memory");
    s->op = op;
    s->n = n;
    s->bytes = bytes;
    s->root = rooted ? root : 0;
    tacl_status_t st = TACL_OK;
    if (n == 1) {
        s->kind = TACL_SCHED_SINGLE;
        snprintf(s->reason, sizeof s->reason, "single rank: nothing to communicate");
        *out = s;
        return TACL_OK;
    }
    st = tacl__graph_check_connected(g, eb);
    if (st != TACL_OK) goto err;
    s->lower_bound_s = tacl__sched_bound(g, op, s->root, bytes);
    if (rooted) {
        st = sched_tree_choice(g, s, bytes, "", eb);
        if (st != TACL_OK) goto err;
        *out = s;
        return TACL_OK;
    }
    s->ring = malloc((size_t)n * sizeof(int));
    if (!s->ring) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "schedule: out of memory");
        goto err;
    }
    char order[256];
    tacl__errbuf_t why = {{0}};
    st = tacl__graph_hamiltonian_cycle(g, s->ring, &s->ring_bw, &why);
    if (st == TACL_OK) {
        double lat = sched_ring_lat(g, s->ring, n);
        double tr = sched_ring_op_time(op, n, s->ring_bw, lat, bytes);
        sched_fmt_order(s->ring, n, order, sizeof order);
        if (tacl__graph_is_full_mesh(g)) {
            /* The bottleneck of any edge bounds recursive doubling, which pairs everyone. */
            double bmin = 0, lmax = 0;
            for (int a = 0; a < n; a++)
                for (int b = a + 1; b < n; b++) {
                    double x = tacl__graph_bw(g, a, b), l = tacl__graph_lat(g, a, b);
                    if (bmin == 0 || x < bmin) bmin = x;
                    if (l > lmax) lmax = l;
                }
            double td = sched_recdbl_op_time(op, n, bmin, lmax, bytes);
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
    tacl__sched_destroy(s);
    return st;
}

tacl_status_t tacl__sched_all_reduce(const tacl__graph_t *g, double bytes, tacl__sched_t **out,
                                     tacl__errbuf_t *eb)
{
    return tacl__sched_build(g, TACL_SCHED_ALL_REDUCE, 0, bytes, out, eb);
}

void tacl__sched_format(const tacl__sched_t *s, char *buf, size_t len)
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
    SCHED_APPEND("schedule: %s %s\nreason: %s\n", tacl__sched_op_name(s->op),
                 tacl__sched_kind_name(s->kind), s->reason);
    if (s->ring) {
        SCHED_APPEND("ring:");
        for (int i = 0; i < s->n; i++)
            SCHED_APPEND(" %d", s->ring[i]);
        SCHED_APPEND("\n");
    }
    const tacl__tree_t *trees[TACL_SCHED_MAX_TREES];
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
