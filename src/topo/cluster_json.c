/* cluster_json.c — the cluster description's JSON writer (what cluster_file.c reads back). */
#include "topo/cluster.h"

#include <stdio.h>

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
