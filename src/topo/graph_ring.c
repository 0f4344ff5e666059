/* graph_ring.c — Hamiltonian cycles of best bottleneck: exact DP, Warnsdorff DFS above. */
#include "topo/graph_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
