/* cluster.c — the in-memory cluster description: building it, looking links up, widest-path
 * routes over declared links, components, the GPU preset table, unit parsing, and the JSON
 * writer (the format cluster_file.c reads back). */
#include "topo/cluster.h"

#include <ctype.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Figures from the vendors' data sheets (dense bf16, no sparsity; bandwidths per direction;
 * memory as nvidia-smi / rocm-smi report it). Sources in docs/COST_MODEL.md. */
static const tacl__gpu_spec_t cluster_gpu_presets[] = {
    {"H100-80GB", 81559.0 * 1048576, 3350, 989, 450, 64},
    {"H100-94GB", 95830.0 * 1048576, 3900, 835, 300, 64}, /* H100 NVL (PCIe + NVLink bridge) */
    {"H100-PCIe", 81559.0 * 1048576, 2000, 756, 0, 64},
    {"H200-141GB", 143771.0 * 1048576, 4800, 989, 450, 64},
    {"B200-180GB", 183359.0 * 1048576, 8000, 2250, 900, 64},
    {"A100-80GB", 81920.0 * 1048576, 2039, 312, 300, 32},
    {"A100-40GB", 40960.0 * 1048576, 1555, 312, 300, 32},
    {"L40S", 46068.0 * 1048576, 864, 362, 0, 32},
    {"L4", 23034.0 * 1048576, 300, 121, 0, 32},
    {"A10G", 23028.0 * 1048576, 600, 125, 0, 32},
    {"RTX4090", 24564.0 * 1048576, 1008, 165, 0, 32},
    {"MI300X", 196592.0 * 1048576, 5300, 1307, 448, 64},
};
#define CLUSTER_NPRESETS ((int)(sizeof cluster_gpu_presets / sizeof cluster_gpu_presets[0]))

const tacl__gpu_spec_t *tacl__gpu_preset_at(int i)
{
    return i >= 0 && i < CLUSTER_NPRESETS ? &cluster_gpu_presets[i] : NULL;
}

const tacl__gpu_spec_t *tacl__gpu_preset(const char *name)
{
    if (!name) return NULL;
    for (int i = 0; i < CLUSTER_NPRESETS; i++)
        if (!strcasecmp(name, cluster_gpu_presets[i].name)) return &cluster_gpu_presets[i];
    /* A bare family name ("H100", "H200", "A100") means the SXM part with the most memory,
     * which is what clusters mostly run; the prefix must end at a '-' of the preset name. */
    size_t n = strlen(name);
    for (int i = 0; i < CLUSTER_NPRESETS; i++)
        if (!strncasecmp(name, cluster_gpu_presets[i].name, n) &&
            cluster_gpu_presets[i].name[n] == '-')
            return &cluster_gpu_presets[i];
    return NULL;
}

double tacl__gpu_link_class_gbs(const char *cls, const tacl__gpu_spec_t *g)
{
    double pcie = g && g->pcie_gbs > 0 ? g->pcie_gbs : 32;
    if (!cls || !cls[0]) return 0;
    if (!strcasecmp(cls, "NVLink") || !strcasecmp(cls, "NVSwitch") || !strcasecmp(cls, "xGMI"))
        return g && g->nvlink_gbs > 0 ? g->nvlink_gbs : 0;
    if ((cls[0] == 'N' || cls[0] == 'n') && (cls[1] == 'V' || cls[1] == 'v') &&
        isdigit((unsigned char)cls[2])) {
        /* nvidia-smi topo: NV<n> = n bonded links of 25 GB/s; digits only, n sane. */
        char *end;
        long n = strtol(cls + 2, &end, 10);
        return *end || n < 1 || n > 1024 ? 0 : 25.0 * (double)n;
    }
    if (!strcasecmp(cls, "PCIe") || !strcasecmp(cls, "PIX") || !strcasecmp(cls, "PXB")) return pcie;
    if (!strcasecmp(cls, "PHB") || !strcasecmp(cls, "NODE")) return 0.8 * pcie;
    if (!strcasecmp(cls, "SYS")) return 0.5 * pcie; /* crosses the inter-socket link */
    return 0;
}

/* ---- Units. ---- */

/* Splits "12.5 GB/s" into 12.5 and "GB/s"; returns 0 when no number leads. */
static int cluster_num_unit(const char *s, double *v, const char **unit)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    double x = strtod(s, &end);
    if (end == s || !isfinite(x) || x < 0) return 0;
    while (isspace((unsigned char)*end))
        end++;
    *v = x;
    *unit = end;
    return 1;
}

int tacl__parse_bandwidth(const char *s, const char *bare_unit, double *gbs, const char **why)
{
    static const struct {
        const char *u;
        double gbs; /* GB/s per unit */
    } units[] = {
        {"Gbps", 0.125},    {"Gb/s", 0.125}, {"Gbit/s", 0.125}, {"Mbps", 0.000125},
        {"Mb/s", 0.000125}, {"Tbps", 125},   {"Tb/s", 125},     {"GB/s", 1},
        {"GBps", 1},        {"MB/s", 0.001}, {"TB/s", 1000},    {"TBps", 1000},
    };
    double v;
    const char *u;
    if (!s || !cluster_num_unit(s, &v, &u)) {
        *why = "a bandwidth such as 100Gbps, 25GB/s or a number";
        return 0;
    }
    if (!*u) u = bare_unit;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        /* Case matters: Gb (bits) and GB (bytes) differ by 8. */
        if (!strcmp(u, units[i].u)) {
            *gbs = v * units[i].gbs;
            return 1;
        }
    }
    *why = "a bandwidth unit: Gbps, Gb/s, Tbps, Mbps (bits) or GB/s, TB/s, MB/s (bytes)";
    return 0;
}

int tacl__parse_bytes(const char *s, double *bytes, const char **why)
{
    static const struct {
        const char *u;
        double b;
    } units[] = {{"", 1e9},   {"GB", 1e9},           {"G", 1e9},         {"TB", 1e12},
                 {"MB", 1e6}, {"GiB", 1073741824.0}, {"MiB", 1048576.0}, {"TiB", 1099511627776.0}};
    double v;
    const char *u;
    if (!s || !cluster_num_unit(s, &v, &u)) {
        *why = "a size such as 80GB, 80GiB or 40960MiB";
        return 0;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (!strcasecmp(u, units[i].u)) {
            *bytes = v * units[i].b;
            return 1;
        }
    }
    *why = "a size unit: GB, GiB, MiB, TB (bare number: GB)";
    return 0;
}

int tacl__parse_latency(const char *s, double *us, const char **why)
{
    double v;
    const char *u;
    if (!s || !cluster_num_unit(s, &v, &u)) {
        *why = "a latency such as 5, 5us or 0.8ms";
        return 0;
    }
    if (!*u || !strcmp(u, "us"))
        *us = v;
    else if (!strcmp(u, "ms"))
        *us = v * 1000;
    else if (!strcmp(u, "ns"))
        *us = v / 1000;
    else if (!strcmp(u, "s"))
        *us = v * 1e6;
    else {
        *why = "a latency unit: us, ms, ns (bare number: us)";
        return 0;
    }
    return 1;
}

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

/* Binary max-heap of hosts keyed by (bandwidth desc, hops asc), with lazy deletion. */
typedef struct {
    double bw;
    int hops, v;
} cluster_hent_t;

static int cluster_hbetter(const cluster_hent_t *x, const cluster_hent_t *y)
{
    return x->bw > y->bw || (x->bw == y->bw && x->hops < y->hops);
}

static void cluster_hpush(cluster_hent_t *h, int *n, cluster_hent_t e)
{
    int i = (*n)++;
    h[i] = e;
    while (i > 0 && cluster_hbetter(&h[i], &h[(i - 1) / 2])) {
        cluster_hent_t t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static cluster_hent_t cluster_hpop(cluster_hent_t *h, int *n)
{
    cluster_hent_t top = h[0];
    h[0] = h[--(*n)];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, b = i;
        if (l < *n && cluster_hbetter(&h[l], &h[b])) b = l;
        if (r < *n && cluster_hbetter(&h[r], &h[b])) b = r;
        if (b == i) break;
        cluster_hent_t t = h[i];
        h[i] = h[b];
        h[b] = t;
        i = b;
    }
    return top;
}

int tacl__cluster_route(const tacl_cluster_t *c, int a, int b, int *path, int maxpath, double *gbs,
                        double *lat_us)
{
    int n = c->nhosts;
    if (a < 0 || b < 0 || a >= n || b >= n) return 0;
    double w, l;
    if (a == b || tacl__cluster_link(c, a, b, &w, &l)) {
        if (a == b) w = INFINITY, l = 0;
        if (maxpath >= 1) path[0] = a;
        if (maxpath >= 2 && a != b) path[1] = b;
        *gbs = w;
        *lat_us = l;
        return a == b ? 1 : 2;
    }
    if (c->has_default) {
        /* Every pair but the listed ones is linked: a relay linked to both ends almost always
         * exists, and the widest such two-hop path is found in O(n). */
        int relay = -1;
        double rbw = -1, rlat = 0, w2, l2;
        for (int v = 0; v < n; v++) {
            if (v == a || v == b || !tacl__cluster_link(c, a, v, &w, &l) ||
                !tacl__cluster_link(c, v, b, &w2, &l2))
                continue;
            double bw = w < w2 ? w : w2;
            if (bw > rbw || (bw == rbw && l + l2 < rlat)) relay = v, rbw = bw, rlat = l + l2;
        }
        if (relay >= 0) {
            int hp[3] = {a, relay, b};
            for (int i = 0; i < 3 && i < maxpath; i++)
                path[i] = hp[i];
            *gbs = rbw;
            *lat_us = rlat;
            return 3;
        }
    }
    /* Dijkstra on (bottleneck bandwidth desc, hops asc) with a heap; neighbours from the
     * adjacency of explicit links, or every host under a default link. */
    double *best = malloc(sizeof(double) * (size_t)n);
    double *lat = malloc(sizeof(double) * (size_t)n);
    int *hops = malloc(sizeof(int) * (size_t)n), *prev = malloc(sizeof(int) * (size_t)n);
    char *done = calloc((size_t)n, 1);
    /* Under a default link this is reached only when no host is linked to both ends; the heap
     * is then bounded (32 entries per host) and a relaxation past it is dropped. */
    size_t hcap = (c->has_default ? (size_t)n * 32 : 2 * (size_t)c->nlinks) + 2;
    cluster_hent_t *heap = malloc(sizeof *heap * hcap);
    int found = 0, hn = 0;
    if (!best || !lat || !hops || !prev || !done || !heap || (!c->has_default && !c->finished))
        goto out;
    for (int i = 0; i < n; i++)
        best[i] = -1, hops[i] = 1 << 30, prev[i] = -1, lat[i] = 0;
    best[a] = INFINITY;
    hops[a] = 0;
    cluster_hpush(heap, &hn, (cluster_hent_t){INFINITY, 0, a});
    while (hn) {
        cluster_hent_t e = cluster_hpop(heap, &hn);
        int u = e.v;
        if (done[u] || e.bw != best[u] || e.hops != hops[u]) continue;
        if (u == b) break;
        done[u] = 1;
        int deg = c->has_default ? n : c->adj_off[u + 1] - c->adj_off[u];
        for (int k = 0; k < deg; k++) {
            int v;
            if (c->has_default) {
                v = k;
                if (done[v] || v == u || !tacl__cluster_link(c, u, v, &w, &l)) continue;
            } else {
                const tacl__cluster_link_t *lk = &c->links[c->adj[c->adj_off[u] + k]];
                v = lk->a == u ? lk->b : lk->a;
                w = lk->gbs, l = lk->lat_us;
                if (done[v]) continue;
            }
            double bw = w < best[u] ? w : best[u];
            if (bw > best[v] || (bw == best[v] && hops[u] + 1 < hops[v])) {
                best[v] = bw;
                hops[v] = hops[u] + 1;
                prev[v] = u;
                lat[v] = lat[u] + l;
                if ((size_t)hn < hcap) cluster_hpush(heap, &hn, (cluster_hent_t){bw, hops[v], v});
            }
        }
    }
    if (best[b] >= 0) {
        int len = hops[b] + 1;
        for (int v = b, i = len - 1; v >= 0; v = prev[v], i--)
            if (i < maxpath) path[i] = v;
        *gbs = best[b];
        *lat_us = lat[b];
        found = len;
    }
out:
    free(best);
    free(lat);
    free(hops);
    free(prev);
    free(done);
    free(heap);
    return found;
}

int tacl__cluster_components(const tacl_cluster_t *c, int *comp)
{
    int n = c->nhosts, ncomp = 0;
    int *stack = malloc(sizeof(int) * (size_t)(n ? n : 1));
    /* Hosts not yet placed, as a list: under a default link a host's neighbours are all the
     * others but a few, so each step removes most of the list (O(n + unreachable pairs)). */
    int *nxt = malloc(sizeof(int) * (size_t)(n + 1)), *prv = malloc(sizeof(int) * (size_t)(n + 1));
    if (!stack || !nxt || !prv || (!c->has_default && !c->finished)) {
        free(stack);
        free(nxt);
        free(prv);
        return -1;
    }
    for (int i = 0; i < n; i++)
        comp[i] = -1;
    /* List head is n; nodes 0..n-1. */
    for (int i = 0; i <= n; i++)
        nxt[i] = i + 1 <= n ? i + 1 : n, prv[i] = i ? i - 1 : n;
    nxt[n] = n ? 0 : n, prv[0] = n, prv[n] = n ? n - 1 : n;
    if (n) nxt[n - 1] = n;
#define CL_UNLINK(v) (nxt[prv[v]] = nxt[v], prv[nxt[v]] = prv[v])
    for (int s = 0; s < n; s++) {
        if (comp[s] >= 0) continue;
        int top = 0;
        stack[top++] = s;
        comp[s] = ncomp;
        CL_UNLINK(s);
        while (top) {
            int u = stack[--top];
            double w, l;
            if (c->has_default) {
                for (int v = nxt[n]; v != n;) {
                    int after = nxt[v];
                    if (tacl__cluster_link(c, u, v, &w, &l)) {
                        comp[v] = ncomp;
                        stack[top++] = v;
                        CL_UNLINK(v);
                    }
                    v = after;
                }
            } else {
                for (int k = c->adj_off[u]; k < c->adj_off[u + 1]; k++) {
                    const tacl__cluster_link_t *lk = &c->links[c->adj[k]];
                    int v = lk->a == u ? lk->b : lk->a;
                    if (comp[v] >= 0) continue;
                    comp[v] = ncomp;
                    stack[top++] = v;
                    CL_UNLINK(v);
                }
            }
        }
        ncomp++;
    }
#undef CL_UNLINK
    free(stack);
    free(nxt);
    free(prv);
    return ncomp;
}

int tacl__cluster_total_gpus(const tacl_cluster_t *c)
{
    int n = 0;
    for (int i = 0; i < c->nhosts; i++)
        n += c->hosts[i].ngpus;
    return n;
}

/* ---- Where the store goes. ---- */

/* A set of host indices: open addressing over 2k+ slots (-1 empty), so that a small set of a
 * large cluster costs O(k), not O(hosts). */
typedef struct {
    int *slot;
    uint32_t mask;
} cluster_set_t;

static int cluster_set_has(const cluster_set_t *t, int h)
{
    for (uint32_t i = ((uint32_t)h * 2654435761u) & t->mask; t->slot[i] >= 0; i = (i + 1) & t->mask)
        if (t->slot[i] == h) return 1;
    return 0;
}

/* Adds h; returns 1 when it was new. */
static int cluster_set_add(cluster_set_t *t, int h)
{
    uint32_t i = ((uint32_t)h * 2654435761u) & t->mask;
    for (; t->slot[i] >= 0; i = (i + 1) & t->mask)
        if (t->slot[i] == h) return 0;
    t->slot[i] = h;
    return 1;
}

/* 1 when host s is directly linked to every host of the set (k distinct hosts), and the slowest
 * of those links in *minbw. Under a default link only the listed links and unreachable pairs
 * can differ from it; otherwise s's adjacency must cover the set. */
static int cluster_store_ok(const tacl_cluster_t *c, const cluster_set_t *set, int k, int s,
                            double *minbw)
{
    int covered = cluster_set_has(set, s); /* s itself */
    double mb = INFINITY;
    if (c->has_default) {
        for (int i = 0; i < c->nunreach; i++) {
            int a = c->unreach[i][0], b = c->unreach[i][1];
            if ((a == s && cluster_set_has(set, b)) || (b == s && cluster_set_has(set, a)))
                return 0;
        }
        if (k - covered > 0) mb = c->default_gbs;
    }
    int n = 0;
    for (int j = c->adj_off[s]; j < c->adj_off[s + 1]; j++) {
        const tacl__cluster_link_t *l = &c->links[c->adj[j]];
        if (!cluster_set_has(set, l->a == s ? l->b : l->a)) continue;
        n++;
        if (l->gbs < mb) mb = l->gbs; /* a listed link replaces the default for its pair */
    }
    if (!c->has_default && n + covered < k) return 0;
    *minbw = mb;
    return 1;
}

int tacl__cluster_store_pick(const tacl_cluster_t *c, const int *hosts, int k, int prefer)
{
    int n = c->nhosts;
    if (!c->finished || n == 0) return -1;
    if (!hosts) k = n;
    uint32_t cap = 4;
    while (cap < 2u * (uint32_t)k + 2)
        cap *= 2;
    cluster_set_t set = {malloc(sizeof(int) * cap), cap - 1};
    if (!set.slot) return -1;
    memset(set.slot, 0xff, sizeof(int) * cap);
    int kk = 0; /* distinct hosts of the set */
    for (int i = 0; i < k; i++) {
        int h = hosts ? hosts[i] : i;
        if (h >= 0 && h < n) kk += cluster_set_add(&set, h);
    }
    int pick = -1;
    double bw, best = -1;
    if (c->store_host >= 0 && cluster_store_ok(c, &set, kk, c->store_host, &bw))
        pick = c->store_host;
    else if (prefer >= 0 && prefer < n && cluster_set_has(&set, prefer) &&
             cluster_store_ok(c, &set, kk, prefer, &bw))
        pick = prefer;
    else
        for (int i = 0; i < k; i++) {
            int h = hosts ? hosts[i] : i;
            if (h < 0 || h >= n || !cluster_store_ok(c, &set, kk, h, &bw)) continue;
            if (bw > best) best = bw, pick = h;
        }
    free(set.slot);
    return pick;
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

/* ---- Writer. ---- */

static void cluster_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

tacl_status_t tacl_cluster_write_json(const tacl_cluster_t *c, FILE *f)
{
    if (!c || !f)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "tacl_cluster_write_json: expected a cluster and an open FILE");
    fprintf(f, "{\n  \"name\": ");
    cluster_json_str(f, c->name);
    fprintf(f, ",\n  \"hosts\": [");
    for (int i = 0; i < c->nhosts; i++) {
        const tacl__cluster_host_t *h = &c->hosts[i];
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        cluster_json_str(f, h->name);
        if (h->naddrs) {
            fprintf(f, ", \"addresses\": [");
            for (int k = 0; k < h->naddrs; k++) {
                if (k) fprintf(f, ", ");
                if (h->nets[k][0]) fprintf(f, "{\"address\": ");
                cluster_json_str(f, h->addrs[k]);
                if (h->nets[k][0]) {
                    fprintf(f, ", \"network\": ");
                    cluster_json_str(f, h->nets[k]);
                    fprintf(f, "}");
                }
            }
            fprintf(f, "]");
        }
        if (h->ifname[0]) {
            fprintf(f, ", \"ifname\": ");
            cluster_json_str(f, h->ifname);
        }
        fprintf(f, ", \"gpus\": %d", h->ngpus);
        if (h->ngpus) {
            /* The full figures, so that measured values (doctor) survive a round trip. */
            fprintf(f, ",\n     \"gpu\": {\"type\": ");
            cluster_json_str(f, h->gpu.name);
            fprintf(f,
                    ", \"memory\": \"%.0fMiB\", \"hbm_bandwidth\": \"%.6gGB/s\", "
                    "\"tflops\": %.6g, \"nvlink_bandwidth\": \"%.6gGB/s\", "
                    "\"pcie_bandwidth\": \"%.6gGB/s\"}",
                    h->gpu.mem_bytes / 1048576.0, h->gpu.hbm_gbs, h->gpu.tflops, h->gpu.nvlink_gbs,
                    h->gpu.pcie_gbs);
            if (h->gpu_bw) {
                fprintf(f, ",\n     \"gpu_matrix\": [");
                for (int r = 0; r < h->ngpus; r++) {
                    fprintf(f, "%s[", r ? ", " : "");
                    for (int k = 0; k < h->ngpus; k++)
                        fprintf(f, "%s%.6g", k ? ", " : "", h->gpu_bw[r * h->ngpus + k]);
                    fprintf(f, "]");
                }
                fprintf(f, "]");
            } else {
                fprintf(f, ", \"gpu_link\": ");
                cluster_json_str(f, h->gpu_link);
                fprintf(f, ", \"gpu_link_bandwidth\": \"%.6gGB/s\"", h->gpu_link_gbs);
            }
        }
        fprintf(f, "}");
    }
    fprintf(f, "\n  ],\n  \"links\": [");
    for (int i = 0; i < c->nlinks; i++) {
        const tacl__cluster_link_t *l = &c->links[i];
        fprintf(f, "%s\n    {\"hosts\": [", i ? "," : "");
        cluster_json_str(f, c->hosts[l->a].name);
        fprintf(f, ", ");
        cluster_json_str(f, c->hosts[l->b].name);
        fprintf(f, "], \"bandwidth\": \"%.9gGB/s\", \"latency_us\": %.6g}", l->gbs, l->lat_us);
    }
    fprintf(f, "%s]", c->nlinks ? "\n  " : "");
    if (c->has_default)
        fprintf(f, ",\n  \"default_link\": {\"bandwidth\": \"%.9gGB/s\", \"latency_us\": %.6g}",
                c->default_gbs, c->default_lat_us);
    if (c->nunreach) {
        fprintf(f, ",\n  \"unreachable\": [");
        for (int i = 0; i < c->nunreach; i++) {
            fprintf(f, "%s[", i ? ", " : "");
            cluster_json_str(f, c->hosts[c->unreach[i][0]].name);
            fprintf(f, ", ");
            cluster_json_str(f, c->hosts[c->unreach[i][1]].name);
            fprintf(f, "]");
        }
        fprintf(f, "]");
    }
    if (c->nranks) {
        fprintf(f, ",\n  \"ranks\": [");
        for (int i = 0; i < c->nranks; i++) {
            fprintf(f, "%s\n    {\"rank\": %d, \"host\": ", i ? "," : "", i);
            cluster_json_str(f, c->hosts[c->ranks[i].host].name);
            fprintf(f, ", \"device\": %d}", c->ranks[i].device);
        }
        fprintf(f, "\n  ]");
    }
    if (c->store_host >= 0) {
        fprintf(f, ",\n  \"store\": ");
        cluster_json_str(f, c->hosts[c->store_host].name);
    }
    fprintf(f, "\n}\n");
    if (ferror(f))
        return tacl__err(NULL, TACL_ERR_SYSTEM, TACL_SUB_TOPO,
                         "tacl_cluster_write_json: write error on the output stream");
    return TACL_OK;
}
