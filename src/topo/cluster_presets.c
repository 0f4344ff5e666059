/* cluster_presets.c — GPU presets, GPU link classes, and the units cluster files write. */
#include "topo/cluster.h"

#include <ctype.h>
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
