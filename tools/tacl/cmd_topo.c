/* cmd_topo.c — `tacl topo`: what this host has for communication (CPU packages, cores, NUMA
 * nodes, NICs with addresses, GPUs and the PCI relation matrix of GPUs and NICs, like
 * `nvidia-smi topo -m` but from sysfs), as text or --json; and, with --graph, the schedule,
 * routes and time bounds tacl would use for an all_reduce over a given reachability graph. */
#include "cli.h"
#include "gpu/nvml.h"
#include "settings.h"
#include "tacl.h"
#include "topo/graph.h"
#include "topo/hostinfo.h"
#include "topo/route.h"
#include "topo/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A PCI device of the matrix: GPUs first, then NICs that sit on PCI. */
typedef struct {
    char label[16];
    const char *path;
    int numa;
} topo_dev_t;

static int topo_devices(const tacl__hostinfo_t *h, topo_dev_t **out)
{
    topo_dev_t *d = calloc((size_t)(h->ngpus + h->nnics) + 1, sizeof *d);
    int n = 0, nic = 0;
    if (!d) return -1;
    for (int i = 0; i < h->ngpus; i++) {
        snprintf(d[n].label, sizeof d[n].label, "GPU%d", i);
        d[n].path = h->gpus[i].path;
        d[n++].numa = h->gpus[i].numa;
    }
    for (int i = 0; i < h->nnics; i++) {
        if (!h->nics[i].pci[0]) continue;
        snprintf(d[n].label, sizeof d[n].label, "NIC%d", nic++);
        d[n].path = h->nics[i].path;
        d[n++].numa = h->nics[i].numa;
    }
    *out = d;
    return n;
}

static void topo_json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void topo_print_text(const tacl__hostinfo_t *h)
{
    printf("host: %s\n", h->hostname);
    printf("source: %s%s%s\n", h->source, h->root[0] ? ", sysfs root " : "", h->root);
    if (h->note[0]) printf("note: %s\n", h->note);
    printf("cpus: %d packages, %d cores, %d PUs\n", h->npackages, h->ncores, h->npus);
    printf("numa nodes: %d\n", h->nnuma);
    for (int i = 0; i < h->nnuma; i++) {
        const tacl__numa_info_t *n = &h->numa[i];
        printf("  node %d: cpus %s (%d)", n->id, n->cpus, n->ncpus);
        if (n->mem_kb >= 0) printf(", memory %.1f GiB", (double)n->mem_kb / (1024.0 * 1024.0));
        printf("\n");
    }
    printf("nics: %d\n", h->nnics);
    for (int i = 0; i < h->nnics; i++) {
        const tacl__nic_info_t *x = &h->nics[i];
        printf("  %-12s %-7s pci %-12s numa %-2d", x->name, x->state, x->pci[0] ? x->pci : "-",
               x->numa);
        if (x->speed_mbps > 0)
            printf(" speed %ld Mb/s", x->speed_mbps);
        else
            printf(" speed -");
        for (int a = 0; a < x->naddrs; a++)
            printf(" %s", x->addrs[a]);
        printf("\n");
    }
    printf("gpus: %d\n", h->ngpus);
    for (int i = 0; i < h->ngpus; i++) {
        const tacl__gpu_info_t *g = &h->gpus[i];
        printf("  GPU%d %-6s %04x:%04x class 0x%06x pci %s numa %d\n", i, g->vendor_name, g->vendor,
               g->device, g->pci_class, g->pci, g->numa);
    }
    topo_dev_t *d;
    int nd = topo_devices(h, &d);
    if (nd <= 0) {
        if (nd == 0) free(d);
        return;
    }
    printf("pci matrix (GPUs, then NICs on PCI in the order above):\n       ");
    for (int j = 0; j < nd; j++)
        printf(j + 1 < nd ? "%-6s" : "%s", d[j].label);
    printf("\n");
    for (int i = 0; i < nd; i++) {
        printf("  %-5s", d[i].label);
        for (int j = 0; j < nd; j++)
            printf(j + 1 < nd ? "%-6s" : "%s",
                   tacl__pci_link_name(tacl__pci_link(d[i].path, d[i].numa, d[j].path, d[j].numa)));
        printf("\n");
    }
    printf("legend: X self, PIX one PCIe switch, PXB several PCIe switches, PHB a PCIe host "
           "bridge, NODE host bridges of one NUMA node, SYS across NUMA nodes\n");
    printf("(NVLink links come from NVML, on hosts with the GPU runtime)\n");
    free(d);
}

static void topo_print_json(const tacl__hostinfo_t *h)
{
    printf("{\n  \"host\": ");
    topo_json_str(h->hostname);
    printf(",\n  \"source\": ");
    topo_json_str(h->source);
    printf(",\n  \"sysfs_root\": ");
    topo_json_str(h->root);
    printf(",\n  \"note\": ");
    topo_json_str(h->note);
    printf(",\n  \"packages\": %d,\n  \"cores\": %d,\n  \"pus\": %d,\n  \"numa\": [", h->npackages,
           h->ncores, h->npus);
    for (int i = 0; i < h->nnuma; i++) {
        const tacl__numa_info_t *n = &h->numa[i];
        printf("%s\n    {\"id\": %d, \"cpus\": ", i ? "," : "", n->id);
        topo_json_str(n->cpus);
        printf(", \"ncpus\": %d, \"mem_kb\": %lld}", n->ncpus, n->mem_kb);
    }
    printf("\n  ],\n  \"nics\": [");
    for (int i = 0; i < h->nnics; i++) {
        const tacl__nic_info_t *x = &h->nics[i];
        printf("%s\n    {\"name\": ", i ? "," : "");
        topo_json_str(x->name);
        printf(", \"state\": ");
        topo_json_str(x->state);
        printf(", \"pci\": ");
        topo_json_str(x->pci);
        printf(", \"numa\": %d, \"speed_mbps\": %ld, \"mac\": ", x->numa, x->speed_mbps);
        topo_json_str(x->mac);
        printf(", \"addrs\": [");
        for (int a = 0; a < x->naddrs; a++) {
            printf("%s", a ? ", " : "");
            topo_json_str(x->addrs[a]);
        }
        printf("]}");
    }
    printf("\n  ],\n  \"gpus\": [");
    for (int i = 0; i < h->ngpus; i++) {
        const tacl__gpu_info_t *g = &h->gpus[i];
        printf("%s\n    {\"index\": %d, \"vendor\": \"%s\", \"vendor_id\": \"0x%04x\", "
               "\"device_id\": \"0x%04x\", \"class\": \"0x%06x\", \"pci\": ",
               i ? "," : "", i, g->vendor_name, g->vendor, g->device, g->pci_class);
        topo_json_str(g->pci);
        printf(", \"numa\": %d}", g->numa);
    }
    printf("\n  ],\n  \"pci_matrix\": {\"devices\": [");
    topo_dev_t *d;
    int nd = topo_devices(h, &d);
    for (int i = 0; i < nd; i++)
        printf("%s\"%s\"", i ? ", " : "", d[i].label);
    printf("], \"links\": [");
    for (int i = 0; i < nd; i++) {
        printf("%s\n    [", i ? "," : "");
        for (int j = 0; j < nd; j++)
            printf("%s\"%s\"", j ? ", " : "",
                   tacl__pci_link_name(tacl__pci_link(d[i].path, d[i].numa, d[j].path, d[j].numa)));
        printf("]");
    }
    printf("%s]}\n}\n", nd > 0 ? "\n  " : "");
    if (nd >= 0) free(d);
}

/* "0-1,1-2:25:5" -> links; bandwidth in GB/s (default 10), latency in us (default 0). */
static int topo_parse_graph(const char *spec, int nranks, tacl__graph_t **out)
{
    int maxr = -1;
    const char *p = spec;
    while (*p) {
        int a, b, used = 0;
        if (sscanf(p, "%d-%d%n", &a, &b, &used) != 2) goto bad;
        if (a > maxr) maxr = a;
        if (b > maxr) maxr = b;
        p += used;
        while (*p && *p != ',')
            p++;
        if (*p == ',') p++;
    }
    if (nranks <= 0) nranks = maxr + 1;
    if (nranks <= 0 || maxr >= nranks) {
        fprintf(stderr, "tacl topo: --graph '%s' names rank %d but --ranks is %d\n", spec, maxr,
                nranks);
        return -1;
    }
    tacl__graph_t *g;
    if (tacl__graph_create(nranks, &g) != TACL_OK) {
        fprintf(stderr, "tacl topo: %s\n", tacl_last_error());
        return -1;
    }
    for (p = spec; *p;) {
        int a, b, used = 0;
        double bw = 10, lat = 0;
        sscanf(p, "%d-%d%n", &a, &b, &used);
        p += used;
        if (*p == ':') {
            char *end;
            bw = strtod(p + 1, &end);
            p = end;
            if (*p == ':') {
                lat = strtod(p + 1, &end);
                p = end;
            }
        }
        if (*p && *p != ',') {
            tacl__graph_destroy(g);
            goto bad;
        }
        if (*p == ',') p++;
        if (tacl__graph_add_link(g, a, b, bw * 1e9, lat * 1e-6) != TACL_OK) {
            fprintf(stderr, "tacl topo: --graph: %s\n", tacl_last_error());
            tacl__graph_destroy(g);
            return -1;
        }
    }
    *out = g;
    return 0;
bad:
    fprintf(stderr, "tacl topo: --graph '%s': expected links like 0-1,1-2:25:5 (a-b[:GB/s[:us]])\n",
            spec);
    return -1;
}

static double topo_parse_bytes(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    switch (*end) {
    case 'K':
    case 'k':
        return v * 1024;
    case 'M':
    case 'm':
        return v * 1024 * 1024;
    case 'G':
    case 'g':
        return v * 1024 * 1024 * 1024;
    case '\0':
        return v;
    }
    return -1;
}

static int topo_graph(const char *spec, int nranks, double bytes, tacl__sched_op_t op, int root)
{
    tacl__graph_t *g;
    if (topo_parse_graph(spec, nranks, &g)) return 2;
    tacl__errbuf_t eb = {{0}};
    tacl__sched_t *s;
    if (tacl__sched_build(g, op, root, bytes, &s, &eb) != TACL_OK) {
        fprintf(stderr, "tacl topo: %s\n", eb.msg);
        tacl__graph_destroy(g);
        return 1;
    }
    /* Room for the reason, the ring and up to TACL_SCHED_MAX_TREES parent lists. */
    size_t len = 4096 + (size_t)tacl__graph_size(g) * 8 * (TACL_SCHED_MAX_TREES + 2);
    char *text = malloc(len);
    if (!text) {
        fprintf(stderr, "tacl topo: out of memory\n");
        tacl__sched_destroy(s);
        tacl__graph_destroy(g);
        return 1;
    }
    tacl__sched_format(s, text, len);
    printf("graph: %d ranks\n%s", tacl__graph_size(g), text);
    free(text);
    tacl__routes_t *r;
    if (tacl__routes_build(g, &r, &eb) == TACL_OK) {
        int n = tacl__graph_size(g);
        printf("next hops (large messages; row = from, column = to):\n     ");
        for (int d = 0; d < n && n <= 32; d++)
            printf(" %3d", d);
        printf("\n");
        for (int a = 0; a < n && n <= 32; a++) {
            printf("  %3d", a);
            for (int d = 0; d < n; d++)
                printf(" %3d", tacl__routes_next_hop(r, TACL_ROUTE_LARGE, a, d));
            printf("\n");
        }
        tacl__routes_destroy(r);
    }
    tacl__sched_destroy(s);
    tacl__graph_destroy(g);
    return 0;
}

/* The GPU link matrix as NVML reports it (NVLink counts, PCIe relations), on a live host; a
 * replayed snapshot (TACL_SYSFS_ROOT) has no NVML to ask. */
static void topo_print_nvml(const tacl__hostinfo_t *h)
{
    if (tacl__setting_is_set(TACL_SET_SYSFS_ROOT)) return;
    tacl__gpu_topo_t *t = NULL;
    tacl__errbuf_t eb = {{0}};
    if (tacl__gpu_topo_read(&t, NULL, &eb) == TACL_OK) {
        printf("\nGPU link matrix (NVML):\n");
        tacl__gpu_topo_print(stdout, t);
        free(t);
    } else if (h->ngpus > 0) {
        printf("\nGPU link matrix: NVML unavailable (%s); the relations above come from PCI "
               "paths\n",
               eb.msg);
    }
}

static int topo_run(int argc, char **argv)
{
    int json = 0, nranks = 0, root = 0;
    tacl__sched_op_t op = TACL_SCHED_ALL_REDUCE;
    const char *source = NULL, *graph = NULL;
    double bytes = 64.0 * 1024 * 1024;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--source") && i + 1 < argc) {
            source = argv[++i];
            if (strcmp(source, "auto") && strcmp(source, "hwloc") && strcmp(source, "sysfs")) {
                fprintf(stderr, "tacl topo: --source '%s': expected auto, hwloc or sysfs\n",
                        source);
                return 2;
            }
        } else if (!strcmp(argv[i], "--graph") && i + 1 < argc) {
            graph = argv[++i];
        } else if (!strcmp(argv[i], "--op") && i + 1 < argc) {
            const char *name = argv[++i];
            int k = 0;
            while (k < TACL_SCHED_OP_COUNT &&
                   strcmp(tacl__sched_op_name((tacl__sched_op_t)k), name))
                k++;
            if (k == TACL_SCHED_OP_COUNT) {
                fprintf(stderr,
                        "tacl topo: --op '%s': expected all_reduce, broadcast, reduce, "
                        "all_gather or reduce_scatter\n",
                        name);
                return 2;
            }
            op = (tacl__sched_op_t)k;
        } else if (!strcmp(argv[i], "--root") && i + 1 < argc) {
            root = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--ranks") && i + 1 < argc) {
            nranks = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--bytes") && i + 1 < argc) {
            bytes = topo_parse_bytes(argv[++i]);
            if (bytes < 0) {
                fprintf(stderr, "tacl topo: --bytes '%s': expected a size like 4096, 64K, 1G\n",
                        argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "tacl topo: unknown option '%s' (tacl topo --help)\n", argv[i]);
            return 2;
        }
    }
    if (graph) return topo_graph(graph, nranks, bytes, op, root);
    tacl__errbuf_t eb = {{0}};
    tacl__hostinfo_t *h;
    if (tacl__hostinfo_discover(source, &h, &eb) != TACL_OK) {
        fprintf(stderr, "tacl topo: %s\n", eb.msg);
        return 1;
    }
    if (json) {
        topo_print_json(h);
    } else {
        topo_print_text(h);
        topo_print_nvml(h);
    }
    tacl__hostinfo_destroy(h);
    return 0;
}

const tacl_cmd_t tacl_cmd_topo = {
    .name = "topo",
    .summary = "this host's NUMA nodes, NICs, GPUs and PCI matrix; schedules for a graph",
    .usage = "usage: tacl topo [--json] [--source auto|hwloc|sysfs]\n"
             "       tacl topo --graph EDGES [--ranks N] [--bytes SIZE] [--op OP] [--root R]\n\n"
             "  --json             machine-readable output\n"
             "  --source S         where CPUs and NUMA nodes come from (default: hwloc when\n"
             "                     built with it, else sysfs)\n"
             "  --graph EDGES      explain the schedule of a collective on a reachability graph:\n"
             "                     links a-b[:GB/s[:latency us]], comma-separated, e.g.\n"
             "                     0-1,1-2 (the chain A-B-C); prints the schedule, its reason,\n"
             "                     predicted time, cut lower bound and next-hop table\n"
             "  --ranks N          number of ranks (default: largest rank named + 1)\n"
             "  --bytes SIZE       message size for the predictions (default 64M)\n"
             "  --op OP            all_reduce (default), broadcast, reduce, all_gather,\n"
             "                     reduce_scatter\n"
             "  --root R           root of broadcast and reduce (default 0)\n\n"
             "TACL_SYSFS_ROOT=DIR reads /sys and /proc under DIR (replays another machine).\n",
    .run = topo_run,
};
