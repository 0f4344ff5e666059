/* cluster.c — the in-memory cluster description: building it, looking links up, widest-path
 * routes over declared links, components, the GPU preset table, unit parsing, and the JSON
 * writer (the format cluster_file.c reads back). */
#include "topo/cluster.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Figures from the vendors' data sheets (dense bf16, no sparsity; bandwidths per direction;
 * memory as nvidia-smi / rocm-smi report it). Sources in docs/COST_MODEL.md. */
static const tacl_gpu_spec_t cluster_gpu_presets[] = {
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

const tacl_gpu_spec_t *tacl_gpu_preset_at(int i)
{
    return i >= 0 && i < CLUSTER_NPRESETS ? &cluster_gpu_presets[i] : NULL;
}

const tacl_gpu_spec_t *tacl_gpu_preset(const char *name)
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

double tacl_gpu_link_class_gbs(const char *cls, const tacl_gpu_spec_t *g)
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

int tacl_parse_bandwidth(const char *s, const char *bare_unit, double *gbs, const char **why)
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

int tacl_parse_bytes(const char *s, double *bytes, const char **why)
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

int tacl_parse_latency(const char *s, double *us, const char **why)
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

tacl_status_t tacl_cluster_create(tacl_cluster_t **out)
{
    tacl_cluster_t *c = calloc(1, sizeof *c);
    if (!c) return tacl_err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "cluster: out of memory");
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
    free(c);
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

tacl_status_t tacl_cluster_add_host(tacl_cluster_t *c, const char *name, int ngpus,
                                    const char *gpu_type, int *index)
{
    const tacl_gpu_spec_t *g = NULL;
    if (gpu_type && !(g = tacl_gpu_preset(gpu_type)))
        return tacl_err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                        "cluster: host %s: unknown GPU type '%s'", name, gpu_type);
    if (!cluster_grow((void **)&c->hosts, c->nhosts, sizeof *c->hosts))
        return tacl_err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "cluster: out of memory");
    tacl_cluster_host_t *h = &c->hosts[c->nhosts];
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", name);
    h->ngpus = ngpus;
    if (g) {
        h->gpu = *g;
        snprintf(h->gpu_link, sizeof h->gpu_link, "%s", g->nvlink_gbs > 0 ? "NVLink" : "PCIe");
        h->gpu_link_gbs = tacl_gpu_link_class_gbs(h->gpu_link, g);
    }
    *index = c->nhosts++;
    return TACL_OK;
}

tacl_status_t tacl_cluster_set_link(tacl_cluster_t *c, int a, int b, double gbs, double lat_us)
{
    if (a == b || a < 0 || b < 0 || a >= c->nhosts || b >= c->nhosts)
        return tacl_err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                        "cluster: link %d-%d: expected two different hosts of %d", a, b, c->nhosts);
    if (a > b) {
        int t = a;
        a = b;
        b = t;
    }
    for (int i = 0; i < c->nlinks; i++) {
        if (c->links[i].a == a && c->links[i].b == b) {
            c->links[i].gbs = gbs;
            c->links[i].lat_us = lat_us;
            return TACL_OK;
        }
    }
    if (!cluster_grow((void **)&c->links, c->nlinks, sizeof *c->links))
        return tacl_err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "cluster: out of memory");
    c->links[c->nlinks++] = (tacl_cluster_link_t){a, b, gbs, lat_us};
    return TACL_OK;
}

tacl_status_t tacl_cluster_set_unreachable(tacl_cluster_t *c, int a, int b)
{
    if (a == b || a < 0 || b < 0 || a >= c->nhosts || b >= c->nhosts)
        return tacl_err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                        "cluster: unreachable pair %d-%d: expected two different hosts", a, b);
    if (!cluster_grow((void **)&c->unreach, c->nunreach, sizeof *c->unreach))
        return tacl_err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "cluster: out of memory");
    c->unreach[c->nunreach][0] = a < b ? a : b;
    c->unreach[c->nunreach][1] = a < b ? b : a;
    c->nunreach++;
    return TACL_OK;
}

static int cluster_link_cmp(const void *x, const void *y)
{
    const tacl_cluster_link_t *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return (p->b > q->b) - (p->b < q->b);
}

static int cluster_pair_cmp(const void *x, const void *y)
{
    const int *p = x, *q = y;
    if (p[0] != q[0]) return p[0] < q[0] ? -1 : 1;
    return (p[1] > q[1]) - (p[1] < q[1]);
}

void tacl_cluster_finish(tacl_cluster_t *c)
{
    if (c->nlinks) qsort(c->links, (size_t)c->nlinks, sizeof *c->links, cluster_link_cmp);
    if (c->nunreach) qsort(c->unreach, (size_t)c->nunreach, sizeof *c->unreach, cluster_pair_cmp);
}

/* ---- Queries. ---- */

int tacl_cluster_find_host(const tacl_cluster_t *c, const char *name)
{
    for (int i = 0; i < c->nhosts; i++)
        if (!strcmp(c->hosts[i].name, name)) return i;
    for (int i = 0; i < c->nhosts; i++)
        for (int k = 0; k < c->hosts[i].naddrs; k++)
            if (!strcmp(c->hosts[i].addrs[k], name)) return i;
    return -1;
}

int tacl_cluster_link(const tacl_cluster_t *c, int a, int b, double *gbs, double *lat_us)
{
    if (a < 0 || b < 0 || a >= c->nhosts || b >= c->nhosts) return 0;
    if (a == b) {
        *gbs = c->hosts[a].gpu_link_gbs;
        *lat_us = 0;
        return 1;
    }
    tacl_cluster_link_t key = {a < b ? a : b, a < b ? b : a, 0, 0};
    const tacl_cluster_link_t *l =
        c->nlinks ? bsearch(&key, c->links, (size_t)c->nlinks, sizeof *c->links, cluster_link_cmp)
                  : NULL;
    if (l) {
        *gbs = l->gbs;
        *lat_us = l->lat_us;
        return 1;
    }
    if (!c->has_default) return 0;
    int pk[2] = {key.a, key.b};
    if (c->nunreach &&
        bsearch(pk, c->unreach, (size_t)c->nunreach, sizeof *c->unreach, cluster_pair_cmp))
        return 0;
    *gbs = c->default_gbs;
    *lat_us = c->default_lat_us;
    return 1;
}

int tacl_cluster_route(const tacl_cluster_t *c, int a, int b, int *path, int maxpath, double *gbs,
                       double *lat_us)
{
    int n = c->nhosts;
    if (a < 0 || b < 0 || a >= n || b >= n) return 0;
    double w, l;
    if (a == b || tacl_cluster_link(c, a, b, &w, &l)) {
        if (a == b) w = INFINITY, l = 0;
        if (maxpath >= 1) path[0] = a;
        if (maxpath >= 2 && a != b) path[1] = b;
        *gbs = w;
        *lat_us = l;
        return a == b ? 1 : 2;
    }
    /* Dijkstra on (bottleneck bandwidth desc, hops asc): O(n^2) with a dense scan, which
     * also covers clusters with a default link (every pair linked unless listed). */
    double *best = malloc(sizeof(double) * (size_t)n);
    double *lat = malloc(sizeof(double) * (size_t)n);
    int *hops = malloc(sizeof(int) * (size_t)n), *prev = malloc(sizeof(int) * (size_t)n);
    char *done = calloc((size_t)n, 1);
    int found = 0;
    if (!best || !lat || !hops || !prev || !done) goto out;
    for (int i = 0; i < n; i++)
        best[i] = -1, hops[i] = 1 << 30, prev[i] = -1, lat[i] = 0;
    best[a] = INFINITY;
    hops[a] = 0;
    for (;;) {
        int u = -1;
        for (int i = 0; i < n; i++)
            if (!done[i] && best[i] >= 0 &&
                (u < 0 || best[i] > best[u] || (best[i] == best[u] && hops[i] < hops[u])))
                u = i;
        if (u < 0 || u == b) break;
        done[u] = 1;
        for (int v = 0; v < n; v++) {
            if (done[v] || v == u || !tacl_cluster_link(c, u, v, &w, &l)) continue;
            double bw = w < best[u] ? w : best[u];
            if (bw > best[v] || (bw == best[v] && hops[u] + 1 < hops[v])) {
                best[v] = bw;
                hops[v] = hops[u] + 1;
                prev[v] = u;
                lat[v] = lat[u] + l;
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
    return found;
}

int tacl_cluster_components(const tacl_cluster_t *c, int *comp)
{
    int n = c->nhosts, ncomp = 0;
    int *stack = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!stack) return -1;
    for (int i = 0; i < n; i++)
        comp[i] = -1;
    for (int s = 0; s < n; s++) {
        if (comp[s] >= 0) continue;
        int top = 0;
        stack[top++] = s;
        comp[s] = ncomp;
        while (top) {
            int u = stack[--top];
            double w, l;
            for (int v = 0; v < n; v++) {
                if (comp[v] >= 0 || !tacl_cluster_link(c, u, v, &w, &l)) continue;
                comp[v] = ncomp;
                stack[top++] = v;
            }
        }
        ncomp++;
    }
    free(stack);
    return ncomp;
}

int tacl_cluster_total_gpus(const tacl_cluster_t *c)
{
    int n = 0;
    for (int i = 0; i < c->nhosts; i++)
        n += c->hosts[i].ngpus;
    return n;
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
        return tacl_err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                        "tacl_cluster_write_json: expected a cluster and an open FILE");
    fprintf(f, "{\n  \"name\": ");
    cluster_json_str(f, c->name);
    fprintf(f, ",\n  \"hosts\": [");
    for (int i = 0; i < c->nhosts; i++) {
        const tacl_cluster_host_t *h = &c->hosts[i];
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        cluster_json_str(f, h->name);
        if (h->naddrs) {
            fprintf(f, ", \"addresses\": [");
            for (int k = 0; k < h->naddrs; k++) {
                if (k) fprintf(f, ", ");
                cluster_json_str(f, h->addrs[k]);
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
        const tacl_cluster_link_t *l = &c->links[i];
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
        return tacl_err(NULL, TACL_ERR_SYSTEM, TACL_SUB_TOPO,
                        "tacl_cluster_write_json: write error on the output stream");
    return TACL_OK;
}
