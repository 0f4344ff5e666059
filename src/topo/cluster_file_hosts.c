/* cluster_file_hosts.c — one entry of a cluster file's hosts: GPU type, GPU links, addresses. */
#include "topo/cluster_file_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if TACL_HAVE_FYAML
#include <libfyaml.h>

static tacl_status_t cf_gpu(const tacl__doc_t *d, struct fy_node *n, tacl__gpu_spec_t *g)
{
    if (fy_node_is_scalar(n)) {
        const char *s = fy_node_get_scalar0(n);
        const tacl__gpu_spec_t *p = tacl__gpu_preset(s);
        if (!p) {
            char list[512] = "";
            for (int i = 0; tacl__gpu_preset_at(i); i++) {
                size_t k = strlen(list);
                snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "",
                         tacl__gpu_preset_at(i)->name);
            }
            return tacl__doc_err(d, n,
                                 "gpu: unknown GPU type '%s'; expected one of: %s (or a mapping "
                                 "with type, memory, hbm_bandwidth, tflops)",
                                 s, list);
        }
        *g = *p;
        return TACL_OK;
    }
    static const char *const keys[] = {
        "type", "memory", "hbm_bandwidth", "tflops", "nvlink_bandwidth", "pcie_bandwidth", NULL};
    TACL_CHECK(tacl__doc_keys(d, n, "gpu", keys));
    struct fy_node *v = tacl__doc_get(n, "type");
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "custom");
    if (v) {
        const char *s = tacl__doc_scalar(d, v, "type", "a GPU type name");
        if (!s) return TACL_ERR_CONFIG;
        const tacl__gpu_spec_t *p = tacl__gpu_preset(s);
        if (p)
            *g = *p;                          /* the preset's figures, overridden by what follows */
        else if (strlen(s) >= sizeof g->name) /* never cut: the JSON writer puts it back */
            return tacl__doc_err(d, v, "type: expected at most %zu characters, found '%s'",
                                 sizeof g->name - 1, s);
        else
            snprintf(g->name, sizeof g->name, "%s", s);
    }
    const char *why;
    if ((v = tacl__doc_get(n, "memory"))) {
        const char *s = tacl__doc_scalar(d, v, "memory", "a size");
        if (!s) return TACL_ERR_CONFIG;
        if (!tacl__parse_bytes(s, &g->mem_bytes, &why))
            return tacl__doc_err(d, v, "memory: expected %s, found '%s'", why, s);
    }
    if ((v = tacl__doc_get(n, "hbm_bandwidth")))
        TACL_CHECK(tacl__cf_bandwidth(d, v, "hbm_bandwidth", "GB/s", &g->hbm_gbs));
    if ((v = tacl__doc_get(n, "tflops"))) TACL_CHECK(tacl__doc_num(d, v, "tflops", 0, &g->tflops));
    if ((v = tacl__doc_get(n, "nvlink_bandwidth")))
        TACL_CHECK(tacl__cf_bandwidth(d, v, "nvlink_bandwidth", "GB/s", &g->nvlink_gbs));
    if ((v = tacl__doc_get(n, "pcie_bandwidth")))
        TACL_CHECK(tacl__cf_bandwidth(d, v, "pcie_bandwidth", "GB/s", &g->pcie_gbs));
    if (g->mem_bytes <= 0 || g->hbm_gbs <= 0 || g->tflops <= 0)
        return tacl__doc_err(d, n,
                             "gpu: expected a known type or memory, hbm_bandwidth and tflops "
                             "(type '%s' is not a preset)",
                             g->name);
    if (g->pcie_gbs <= 0) g->pcie_gbs = 32;
    return TACL_OK;
}

/* One GPU link entry: a class name ("NV18", "PCIe") or a bandwidth (bare number: GB/s). */
static tacl_status_t cf_gpu_link_value(const tacl__doc_t *d, struct fy_node *n, const char *key,
                                       const tacl__gpu_spec_t *g, double *gbs)
{
    const char *s =
        tacl__doc_scalar(d, n, key, "a link class (NVLink, NV18, PCIe, SYS) or bandwidth");
    if (!s) return TACL_ERR_CONFIG;
    if (!strcmp(s, "X") || !strcmp(s, "-")) { /* nvidia-smi topo's diagonal */
        *gbs = 0;
        return TACL_OK;
    }
    *gbs = tacl__gpu_link_class_gbs(s, g);
    const char *why;
    if (*gbs > 0 || tacl__parse_bandwidth(s, "GB/s", gbs, &why)) return TACL_OK;
    return tacl__doc_err(d, n,
                         "%s: expected a link class (NVLink, NV<n>, PCIe, PIX, PXB, PHB, NODE, "
                         "SYS) or a bandwidth, found '%s'",
                         key, s);
}

/* One address of host h: unique among hosts (a name or address names one host), at most
 * TACL_CLUSTER_ADDRS per host. */
static tacl_status_t cf_address(const tacl__doc_t *d, tacl_cluster_t *c, struct fy_node *n, int h,
                                const char *addr, const char *net)
{
    int other = tacl__cluster_find_host(c, addr);
    if (other >= 0 && other != h)
        return tacl__doc_err(d, n, "address %s: also names host %s; expected one host per address",
                             addr, c->hosts[other].name);
    if (c->hosts[h].naddrs >= TACL_CLUSTER_ADDRS)
        return tacl__doc_err(d, n, "host %s: expected at most %d addresses", c->hosts[h].name,
                             TACL_CLUSTER_ADDRS);
    return tacl__cluster_add_address(c, h, addr, net);
}

tacl_status_t tacl__cf_host(const tacl__doc_t *d, tacl_cluster_t *c, struct fy_node *m)
{
    static const char *const keys[] = {"name",       "address", "addresses", "ifname",
                                       "gpus",       "gpu",     "gpu_link",  "gpu_link_bandwidth",
                                       "gpu_matrix", "count",   "network",   NULL};
    TACL_CHECK(tacl__doc_keys(d, m, "hosts[]", keys));
    struct fy_node *v = tacl__doc_get(m, "name");
    char name[TACL_CLUSTER_NAME_MAX];
    if (!v) return tacl__doc_err(d, m, "hosts[]: expected a name (name: A)");
    TACL_CHECK(tacl__doc_str(d, v, "name", name, sizeof name));
    if (!name[0]) return tacl__doc_err(d, m, "hosts[]: name: expected a non-empty host name");
    long count = 1, ngpus = 0;
    int counted = 0;
    if ((v = tacl__doc_get(m, "count"))) {
        TACL_CHECK(tacl__doc_int(d, v, "count", 1, TACL_CLUSTER_HOSTS_MAX, &count));
        counted = 1;
    }
    /* Every name, numbered ones included, must fit where the writer puts it back (a host of
     * its own in JSON), so that a file written by tacl reads back. */
    char last[24];
    int digits = counted ? snprintf(last, sizeof last, "%ld", count - 1) : 0;
    if (strlen(name) + (size_t)digits >= TACL_CLUSTER_NAME_MAX)
        return tacl__doc_err(d, v ? v : m,
                             "host %s: with count %ld, expected a name of at most %d characters",
                             name, count, TACL_CLUSTER_NAME_MAX - 1 - digits);
    if (count > TACL_CLUSTER_HOSTS_MAX - c->nhosts)
        return tacl__doc_err(d, m, "host %s: count %ld makes %ld hosts; expected at most %d in all",
                             name, count, count + c->nhosts, TACL_CLUSTER_HOSTS_MAX);
    if ((v = tacl__doc_get(m, "gpus"))) TACL_CHECK(tacl__doc_int(d, v, "gpus", 0, 4096, &ngpus));
    tacl__gpu_spec_t g = {{0}, 0, 0, 0, 0, 0};
    struct fy_node *gn = tacl__doc_get(m, "gpu");
    if (gn) TACL_CHECK(cf_gpu(d, gn, &g));
    if (ngpus > 0 && !gn)
        return tacl__doc_err(d, m, "host %s: %ld GPUs but no gpu type (e.g. gpu: H100-80GB)", name,
                             ngpus);
    if (!(v = tacl__doc_get(m, "gpus")) && gn) ngpus = 1;
    /* Intra-host GPU links: a class, a bandwidth, or a matrix. */
    char cls[16] = "";
    double link_gbs = 0, *matrix = NULL;
    if (gn) {
        snprintf(cls, sizeof cls, "%s", g.nvlink_gbs > 0 ? "NVLink" : "PCIe");
        link_gbs = tacl__gpu_link_class_gbs(cls, &g);
    }
    if ((v = tacl__doc_get(m, "gpu_link"))) {
        TACL_CHECK(cf_gpu_link_value(d, v, "gpu_link", &g, &link_gbs));
        /* Kept as written (the JSON writer puts it back): never cut, which could split a
         * UTF-8 sequence and make tacl's own output unreadable. */
        if (strlen(fy_node_get_scalar0(v)) >= sizeof cls)
            return tacl__doc_err(d, v, "gpu_link: expected at most %zu characters, found '%s'",
                                 sizeof cls - 1, fy_node_get_scalar0(v));
        snprintf(cls, sizeof cls, "%s", fy_node_get_scalar0(v));
    }
    if ((v = tacl__doc_get(m, "gpu_link_bandwidth")))
        TACL_CHECK(tacl__cf_bandwidth(d, v, "gpu_link_bandwidth", "GB/s", &link_gbs));
    if ((v = tacl__doc_get(m, "gpu_matrix"))) {
        if (!fy_node_is_sequence(v) || fy_node_sequence_item_count(v) != ngpus)
            return tacl__doc_err(d, v, "gpu_matrix: expected %ld rows (one per GPU)", ngpus);
        if (ngpus * ngpus * count > TACL_CLUSTER_MATRIX_MAX)
            return tacl__doc_err(d, v,
                                 "gpu_matrix: %ld GPUs on %ld hosts make %ld entries; expected at "
                                 "most %ld in all",
                                 ngpus, count, ngpus * ngpus * count, TACL_CLUSTER_MATRIX_MAX);
        matrix = calloc((size_t)(ngpus * ngpus), sizeof *matrix);
        if (!matrix) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "out of memory");
        double minbw = 0;
        for (int r = 0; r < ngpus; r++) {
            struct fy_node *row = fy_node_sequence_get_by_index(v, r);
            if (!fy_node_is_sequence(row) || fy_node_sequence_item_count(row) != ngpus) {
                free(matrix);
                return tacl__doc_err(d, row, "gpu_matrix row %d: expected %ld entries", r, ngpus);
            }
            for (int k = 0; k < ngpus; k++) {
                double bw;
                tacl_status_t st = cf_gpu_link_value(d, fy_node_sequence_get_by_index(row, k),
                                                     "gpu_matrix entry", &g, &bw);
                if (st != TACL_OK) {
                    free(matrix);
                    return st;
                }
                matrix[r * ngpus + k] = bw;
                if (r != k && (minbw == 0 || bw < minbw)) minbw = bw;
            }
        }
        snprintf(cls, sizeof cls, "matrix");
        link_gbs = minbw;
    }
    for (long i = 0; i < count; i++) {
        char hn[TACL_CLUSTER_NAME_MAX];
        int k = counted ? snprintf(hn, sizeof hn, "%s%ld", name, i)
                        : snprintf(hn, sizeof hn, "%s", name);
        if (k < 0 || (size_t)k >= sizeof hn) {
            free(matrix);
            return tacl__doc_err(d, m, "hosts[]: name '%s' with its number %ld is too long", name,
                                 i);
        }
        int idx; /* names are checked unique once all are read (cf_unique_names) */
        tacl_status_t st = tacl__cluster_add_host(c, hn, (int)ngpus, NULL, &idx);
        if (st != TACL_OK) {
            free(matrix);
            return st;
        }
        tacl__cluster_host_t *h = &c->hosts[idx];
        h->gpu = g;
        snprintf(h->gpu_link, sizeof h->gpu_link, "%s", cls);
        h->gpu_link_gbs = link_gbs;
        if (matrix) {
            h->gpu_bw = malloc(sizeof(double) * (size_t)(ngpus * ngpus));
            if (!h->gpu_bw) {
                free(matrix);
                return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "out of memory");
            }
            memcpy(h->gpu_bw, matrix, sizeof(double) * (size_t)(ngpus * ngpus));
        }
    }
    free(matrix);
    /* Addresses and interface: only meaningful for a single host. */
    tacl__cluster_host_t *h = &c->hosts[c->nhosts - 1];
    int hi = c->nhosts - 1;
    char net[32] = "";
    if ((v = tacl__doc_get(m, "network")))
        TACL_CHECK(tacl__doc_str(d, v, "network", net, sizeof net));
    if ((v = tacl__doc_get(m, "ifname")))
        TACL_CHECK(tacl__doc_str(d, v, "ifname", h->ifname, sizeof h->ifname));
    if ((v = tacl__doc_get(m, "address"))) {
        char a[TACL_CLUSTER_NAME_MAX];
        TACL_CHECK(tacl__doc_str(d, v, "address", a, sizeof a));
        TACL_CHECK(cf_address(d, c, v, hi, a, net));
    }
    if ((v = tacl__doc_get(m, "addresses"))) {
        if (!fy_node_is_sequence(v))
            return tacl__doc_err(d, v, "addresses: expected a list of addresses");
        void *it = NULL;
        struct fy_node *a;
        while ((a = fy_node_sequence_iterate(v, &it))) {
            char addr[TACL_CLUSTER_NAME_MAX], anet[32];
            snprintf(anet, sizeof anet, "%s", net);
            if (fy_node_is_mapping(a)) {
                /* {address: 192.168.1.2, network: ib}: the network the address is on. */
                static const char *const akeys[] = {"address", "network", NULL};
                TACL_CHECK(tacl__doc_keys(d, a, "addresses[]", akeys));
                struct fy_node *x = tacl__doc_get(a, "address");
                if (!x) return tacl__doc_err(d, a, "addresses[]: expected an address");
                TACL_CHECK(tacl__doc_str(d, x, "addresses[].address", addr, sizeof addr));
                if ((x = tacl__doc_get(a, "network")))
                    TACL_CHECK(tacl__doc_str(d, x, "addresses[].network", anet, sizeof anet));
            } else {
                TACL_CHECK(tacl__doc_str(d, a, "addresses[]", addr, sizeof addr));
            }
            TACL_CHECK(cf_address(d, c, a, hi, addr, anet));
        }
    }
    return TACL_OK;
}

#endif
