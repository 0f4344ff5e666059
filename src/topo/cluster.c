/* cluster.c — the in-memory cluster description: building it (hosts, addresses, links,
 * unreachable pairs), the name hash and the link adjacency that keep lookups near-linear, and
 * the queries on them (hosts by name or address, links, GPU count, the address to reach a host
 * by). Routes, components and the store pick are in cluster_routes.c, GPU presets and units in
 * cluster_presets.c, the JSON writer in cluster_json.c. */
#include "topo/cluster.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- Building. ---- */

tacl_status_t tacl__cluster_create(tacl_cluster_t **out)
{
    tacl_cluster_t *c = calloc(1, sizeof *c);
    if (!c) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "cluster: out of memory");
    c->store_host = -1;
    *out = c;
    return TACL_OK;
}

void tacl_cluster_destroy(tacl_cluster_t *c)
{
    if (!c) return;
    for (int i = 0; i < c->nhosts; i++)
        free(c->hosts[i].gpu_bw);
    free(c->hosts);
    free(c->links);
    free(c->unreach);
    free(c->ranks);
    free(c->name_hash);
    free(c->adj_off);
    free(c->adj);
    free(c->link_row);
    free(c);
}

/* ---- Name lookup: open addressing over host names and addresses. An entry is
 * host * 8 + 1 + which (0: the name, 1..TACL_CLUSTER_ADDRS: an address); 0 is empty. ---- */

static uint32_t cluster_hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static const char *cluster_entry_str(const tacl_cluster_t *c, int e)
{
    int h = (e - 1) / 8, which = (e - 1) % 8;
    return which == 0 ? c->hosts[h].name : c->hosts[h].addrs[which - 1];
}

static void cluster_hash_put(tacl_cluster_t *c, int e)
{
    uint32_t m = (uint32_t)c->name_cap - 1, i = cluster_hash_str(cluster_entry_str(c, e)) & m;
    while (c->name_hash[i])
        i = (i + 1) & m;
    c->name_hash[i] = e;
    c->name_used++;
}

/* Makes room for one more entry (rehashing at half load). */
static int cluster_hash_reserve(tacl_cluster_t *c)
{
    if (c->name_cap && 2 * (c->name_used + 1) <= c->name_cap) return 1;
    int cap = c->name_cap ? 2 * c->name_cap : 64;
    int *t = calloc((size_t)cap, sizeof *t);
    if (!t) return 0;
    int *old = c->name_hash, oldcap = c->name_cap;
    c->name_hash = t, c->name_cap = cap, c->name_used = 0;
    for (int i = 0; i < oldcap; i++)
        if (old[i]) cluster_hash_put(c, old[i]);
    free(old);
    return 1;
}

/* Grows an array of elements of size sz to hold n + 1, doubling at powers of two. */
static int cluster_grow(void **arr, int n, size_t sz)
{
    /* Capacity is 4, then doubles: grow only when n is 0 or a full power of two >= 4. */
    if ((n > 0 && n < 4) || (n & (n - 1))) return 1;
    size_t cap = n ? (size_t)n * 2 : 4;
    void *p = realloc(*arr, cap * sz);
    if (!p) return 0;
    *arr = p;
    return 1;
}

tacl_status_t tacl__cluster_add_host(tacl_cluster_t *c, const char *name, int ngpus,
                                     const char *gpu_type, int *index)
{
    const tacl__gpu_spec_t *g = NULL;
    if (gpu_type && !(g = tacl__gpu_preset(gpu_type)))
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "cluster: host %s: unknown GPU type '%s'", name, gpu_type);
    if (!cluster_grow((void **)&c->hosts, c->nhosts, sizeof *c->hosts))
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "cluster: out of memory");
    tacl__cluster_host_t *h = &c->hosts[c->nhosts];
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", name);
    h->ngpus = ngpus;
    if (!cluster_hash_reserve(c))
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "cluster: out of memory");
    cluster_hash_put(c, c->nhosts * 8 + 1);
    if (g) {
        h->gpu = *g;
        snprintf(h->gpu_link, sizeof h->gpu_link, "%s", g->nvlink_gbs > 0 ? "NVLink" : "PCIe");
        h->gpu_link_gbs = tacl__gpu_link_class_gbs(h->gpu_link, g);
    }
    *index = c->nhosts++;
    return TACL_OK;
}

tacl_status_t tacl__cluster_set_link(tacl_cluster_t *c, int a, int b, double gbs, double lat_us)
{
    if (a == b || a < 0 || b < 0 || a >= c->nhosts || b >= c->nhosts)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "cluster: link %d-%d: expected two different hosts of %d", a, b,
                         c->nhosts);
    if (c->nlinks >= TACL_CLUSTER_LINKS_MAX)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "cluster: more than %d links; expected at most that many (write a "
                         "default_link and list the exceptions instead)",
                         TACL_CLUSTER_LINKS_MAX);
    if (a > b) {
        int t = a;
        a = b;
        b = t;
    }
    /* Appended, and deduplicated (the last declaration wins) by tacl__cluster_finish: a check
     * here would make reading a file quadratic in its links. */
    if (!cluster_grow((void **)&c->links, c->nlinks, sizeof *c->links))
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "cluster: out of memory");
    c->links[c->nlinks++] = (tacl__cluster_link_t){a, b, gbs, lat_us};
    c->finished = 0;
    return TACL_OK;
}

tacl_status_t tacl__cluster_add_address(tacl_cluster_t *c, int h, const char *addr, const char *net)
{
    if (h < 0 || h >= c->nhosts || !addr)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "cluster: address for host %d: expected a host of %d and an address", h,
                         c->nhosts);
    tacl__cluster_host_t *ho = &c->hosts[h];
    if (ho->naddrs >= TACL_CLUSTER_ADDRS)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "cluster: host %s: expected at most %d addresses", ho->name,
                         TACL_CLUSTER_ADDRS);
    if (strlen(addr) >= sizeof ho->addrs[0] || (net && strlen(net) >= sizeof ho->nets[0]))
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "cluster: host %s: address '%s': expected at most %zu characters "
                         "(network name: %zu)",
                         ho->name, addr, sizeof ho->addrs[0] - 1, sizeof ho->nets[0] - 1);
    if (!cluster_hash_reserve(c))
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "cluster: out of memory");
    snprintf(ho->addrs[ho->naddrs], sizeof ho->addrs[0], "%s", addr);
    snprintf(ho->nets[ho->naddrs], sizeof ho->nets[0], "%s", net ? net : "");
    ho->naddrs++;
    cluster_hash_put(c, h * 8 + 1 + ho->naddrs);
    return TACL_OK;
}

tacl_status_t tacl__cluster_set_unreachable(tacl_cluster_t *c, int a, int b)
{
    if (a == b || a < 0 || b < 0 || a >= c->nhosts || b >= c->nhosts)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "cluster: unreachable pair %d-%d: expected two different hosts", a, b);
    if (!cluster_grow((void **)&c->unreach, c->nunreach, sizeof *c->unreach))
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "cluster: out of memory");
    c->unreach[c->nunreach][0] = a < b ? a : b;
    c->unreach[c->nunreach][1] = a < b ? b : a;
    c->nunreach++;
    return TACL_OK;
}

static int cluster_link_cmp(const void *x, const void *y)
{
    const tacl__cluster_link_t *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return (p->b > q->b) - (p->b < q->b);
}

static int cluster_pair_cmp(const void *x, const void *y)
{
    const int *p = x, *q = y;
    if (p[0] != q[0]) return p[0] < q[0] ? -1 : 1;
    return (p[1] > q[1]) - (p[1] < q[1]);
}

/* A link with its declaration order: sorting by (a, b, seq) keeps duplicates in the order they
 * were declared, so that the last one of a pair wins. */
typedef struct {
    tacl__cluster_link_t l;
    int seq;
} cluster_seq_link_t;

static int cluster_link_seq_cmp(const void *x, const void *y)
{
    const cluster_seq_link_t *p = x, *q = y;
    int r = cluster_link_cmp(&p->l, &q->l);
    return r ? r : (p->seq > q->seq) - (p->seq < q->seq);
}

tacl_status_t tacl__cluster_finish(tacl_cluster_t *c)
{
    if (c->nunreach && c->unreach_sorted != c->nunreach) {
        qsort(c->unreach, (size_t)c->nunreach, sizeof *c->unreach, cluster_pair_cmp);
        c->unreach_sorted = c->nunreach;
    }
    if (c->finished) return TACL_OK;
    if (c->nlinks) {
        size_t n = (size_t)c->nlinks;
        cluster_seq_link_t *t = malloc(n * sizeof *t);
        if (!t) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "cluster: out of memory");
        for (size_t i = 0; i < n; i++)
            t[i].l = c->links[i], t[i].seq = (int)i;
        qsort(t, n, sizeof *t, cluster_link_seq_cmp);
        int k = 0;
        for (size_t i = 0; i < n; i++) {
            if (k && c->links[k - 1].a == t[i].l.a && c->links[k - 1].b == t[i].l.b)
                c->links[k - 1] = t[i].l; /* a later declaration of the same pair */
            else
                c->links[k++] = t[i].l;
        }
        free(t);
        c->nlinks = k;
    }
    /* Adjacency of the explicit links (CSR). */
    free(c->adj_off);
    free(c->adj);
    c->adj_off = calloc((size_t)c->nhosts + 1, sizeof *c->adj_off);
    c->adj = malloc(sizeof *c->adj * (size_t)(2 * c->nlinks + 1));
    if (!c->adj_off || !c->adj) {
        free(c->adj_off);
        free(c->adj);
        c->adj_off = c->adj = NULL;
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "cluster: out of memory");
    }
    free(c->link_row);
    c->link_row = calloc((size_t)c->nhosts + 1, sizeof *c->link_row);
    if (!c->link_row)
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "cluster: out of memory");
    for (int i = 0; i < c->nlinks; i++)
        c->link_row[c->links[i].a + 1]++;
    for (int h = 0; h < c->nhosts; h++)
        c->link_row[h + 1] += c->link_row[h];
    for (int i = 0; i < c->nlinks; i++)
        c->adj_off[c->links[i].a + 1]++, c->adj_off[c->links[i].b + 1]++;
    for (int h = 0; h < c->nhosts; h++)
        c->adj_off[h + 1] += c->adj_off[h];
    int *fill = malloc(sizeof(int) * (size_t)(c->nhosts ? c->nhosts : 1));
    if (!fill) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "cluster: out of memory");
    memcpy(fill, c->adj_off, sizeof(int) * (size_t)c->nhosts);
    for (int i = 0; i < c->nlinks; i++)
        c->adj[fill[c->links[i].a]++] = i, c->adj[fill[c->links[i].b]++] = i;
    free(fill);
    c->finished = 1;
    return TACL_OK;
}

/* ---- Queries. ---- */

int tacl__cluster_find_host(const tacl_cluster_t *c, const char *name)
{
    if (!c->name_cap || !name) return -1;
    /* A name beats an address; among addresses the first host declared wins. */
    uint32_t m = (uint32_t)c->name_cap - 1, i = cluster_hash_str(name) & m;
    int best = -1;
    for (; c->name_hash[i]; i = (i + 1) & m) {
        int e = c->name_hash[i], h = (e - 1) / 8;
        if (strcmp(cluster_entry_str(c, e), name)) continue;
        if ((e - 1) % 8 == 0) return h;
        if (best < 0 || h < best) best = h;
    }
    return best;
}

/* The explicit link a-b (a < b), or NULL. Before tacl__cluster_finish the array is unsorted and
 * the last declaration wins. */
static const tacl__cluster_link_t *cluster_find_link(const tacl_cluster_t *c, int a, int b)
{
    tacl__cluster_link_t key = {a, b, 0, 0};
    if (!c->nlinks) return NULL;
    if (c->finished) {
        /* Links are sorted by (a, b): search a's row only. */
        int lo = c->link_row[a], n = c->link_row[a + 1] - lo;
        return n ? bsearch(&key, c->links + lo, (size_t)n, sizeof *c->links, cluster_link_cmp)
                 : NULL;
    }
    for (int i = c->nlinks - 1; i >= 0; i--)
        if (c->links[i].a == a && c->links[i].b == b) return &c->links[i];
    return NULL;
}

static int cluster_is_unreach(const tacl_cluster_t *c, int a, int b)
{
    int pk[2] = {a < b ? a : b, a < b ? b : a};
    if (!c->nunreach) return 0;
    if (c->unreach_sorted == c->nunreach)
        return bsearch(pk, c->unreach, (size_t)c->nunreach, sizeof *c->unreach, cluster_pair_cmp) !=
               NULL;
    for (int i = 0; i < c->nunreach; i++)
        if (c->unreach[i][0] == pk[0] && c->unreach[i][1] == pk[1]) return 1;
    return 0;
}

int tacl__cluster_link(const tacl_cluster_t *c, int a, int b, double *gbs, double *lat_us)
{
    if (a < 0 || b < 0 || a >= c->nhosts || b >= c->nhosts) return 0;
    if (a == b) {
        *gbs = c->hosts[a].gpu_link_gbs;
        *lat_us = 0;
        return 1;
    }
    const tacl__cluster_link_t *l = cluster_find_link(c, a < b ? a : b, a < b ? b : a);
    if (l) {
        *gbs = l->gbs;
        *lat_us = l->lat_us;
        return 1;
    }
    if (!c->has_default || cluster_is_unreach(c, a, b)) return 0;
    *gbs = c->default_gbs;
    *lat_us = c->default_lat_us;
    return 1;
}

int tacl__cluster_total_gpus(const tacl_cluster_t *c)
{
    int n = 0;
    for (int i = 0; i < c->nhosts; i++)
        n += c->hosts[i].ngpus;
    return n;
}

const char *tacl__cluster_addr_for(const tacl_cluster_t *c, int from, int to)
{
    const tacl__cluster_host_t *t = &c->hosts[to];
    if (!t->naddrs) return t->name;
    if (from >= 0 && from != to) {
        const tacl__cluster_host_t *f = &c->hosts[from];
        for (int i = 0; i < t->naddrs; i++)
            for (int j = 0; j < f->naddrs; j++)
                if (!strcmp(t->nets[i], f->nets[j])) return t->addrs[i];
    }
    return t->addrs[0];
}
