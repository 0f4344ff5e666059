/* cluster.h — the cluster description: hosts (addresses, GPUs with their type, memory and link
 * class or matrix), links between hosts with bandwidth and latency, unreachable pairs, an
 * optional rank map and store host. One structure serves `tacl plan` (which layouts fit),
 * TACL_TOPO_FILE (declared or restricted links) and `tacl doctor --json` (what was measured).
 * Files are read by cluster_file.c and written by tacl_cluster_write_json(); the format is
 * documented in docs/CLUSTER_FORMAT.md. Units inside the structure: bytes, GB/s (1e9 bytes
 * per second), microseconds. */
#ifndef TACL_TOPO_CLUSTER_H
#define TACL_TOPO_CLUSTER_H

#include "tacl.h"
#include "err.h"

#include <stdio.h>

#define TACL_CLUSTER_NAME_MAX 64
#define TACL_CLUSTER_ADDRS    4
/* Bounds on what one description may hold (docs/CLUSTER_FORMAT.md, "Limits"): every query and
 * the planner stay near-linear in hosts and links, a file beyond these fails at once, and a file
 * cannot make the reader allocate and scan without bound (GPU matrix entries in all). */
#define TACL_CLUSTER_HOSTS_MAX  65536
#define TACL_CLUSTER_LINKS_MAX  (4 << 20)
#define TACL_CLUSTER_FILE_MAX   (64 << 20) /* bytes of a cluster file */
#define TACL_CLUSTER_MATRIX_MAX (1L << 24)

/* What a GPU type brings to the cost model. Figures are per GPU; bandwidths per direction. */
typedef struct {
    char name[32];     /* "H100-80GB", or "custom" */
    double mem_bytes;  /* device memory as the driver reports it */
    double hbm_gbs;    /* memory bandwidth, GB/s */
    double tflops;     /* dense bf16 tensor TFLOP/s */
    double nvlink_gbs; /* GPU-GPU NVLink/xGMI bandwidth per direction, GB/s (0: none) */
    double pcie_gbs;   /* host link per direction, GB/s */
} tacl__gpu_spec_t;

typedef struct {
    char name[TACL_CLUSTER_NAME_MAX];
    char addrs[TACL_CLUSTER_ADDRS][TACL_CLUSTER_NAME_MAX];
    char nets[TACL_CLUSTER_ADDRS][32]; /* network of each address ("": the common one) */
    int naddrs;
    char ifname[32]; /* network interface the hosts' links use (NCCL_SOCKET_IFNAME) */
    int ngpus;
    tacl__gpu_spec_t gpu;
    char gpu_link[16];   /* link class as written ("NVLink", "NV18", "PCIe", "SYS", "matrix") */
    double gpu_link_gbs; /* GPU-GPU bandwidth inside the host (the slowest pair of a matrix) */
    double *gpu_bw;      /* ngpus x ngpus GB/s when a matrix was given, else NULL */
} tacl__cluster_host_t;

typedef struct {
    int a, b;      /* host indices, a < b */
    double gbs;    /* GB/s per direction */
    double lat_us; /* one-way latency */
} tacl__cluster_link_t;

typedef struct {
    int host, device;
} tacl__cluster_rank_t;

struct tacl_cluster {
    char name[TACL_CLUSTER_NAME_MAX];
    char source[256]; /* file it came from ("" when built in memory) */
    int nhosts;
    tacl__cluster_host_t *hosts;
    int nlinks;
    tacl__cluster_link_t *links; /* sorted by (a, b); explicit links */
    int has_default;             /* every pair not listed is linked with default_* */
    double default_gbs, default_lat_us;
    int nunreach;
    int (*unreach)[2]; /* sorted pairs (a < b) with no link even under a default */
    int nranks;        /* 0: ranks fill hosts in order, one per GPU */
    tacl__cluster_rank_t *ranks;
    int store_host; /* host of the rendezvous store, -1 when not declared */
    /* Lookup structures (cluster.c): a hash of host names and addresses, kept as hosts are
     * added, and the adjacency of explicit links (CSR), built by tacl__cluster_finish. */
    int *name_hash, name_cap, name_used;
    int *adj_off, *adj; /* adj[adj_off[h] .. adj_off[h+1]) = indices into links */
    int *link_row;      /* links[link_row[a] .. link_row[a+1]) have that a */
    int finished;       /* links sorted, deduplicated and indexed */
    int unreach_sorted; /* unreachable pairs sorted (count at the last sort) */
};

/* ---- Building. ---- */
tacl_status_t tacl__cluster_create(tacl_cluster_t **out);
/* Appends a host with ngpus GPUs of the preset gpu_type (NULL: no GPUs); returns its index. */
tacl_status_t tacl__cluster_add_host(tacl_cluster_t *c, const char *name, int ngpus,
                                     const char *gpu_type, int *index);
/* Declares (or replaces) the link a-b. */
tacl_status_t tacl__cluster_set_link(tacl_cluster_t *c, int a, int b, double gbs, double lat_us);
tacl_status_t tacl__cluster_set_unreachable(tacl_cluster_t *c, int a, int b);
/* Adds an address of host h on network net ("" or NULL: the common network). */
tacl_status_t tacl__cluster_add_address(tacl_cluster_t *c, int h, const char *addr,
                                        const char *net);
/* Sorts links and pairs for lookup (a link declared twice keeps its last figures) and indexes
 * them; the parser calls it, so do builders before queries. O(links log links). */
tacl_status_t tacl__cluster_finish(tacl_cluster_t *c);

/* ---- Queries. ---- */
int tacl__cluster_find_host(const tacl_cluster_t *c, const char *name); /* -1: none */
/* 1 when a and b have a direct link (a == b: the host itself, with its GPU link figures). */
int tacl__cluster_link(const tacl_cluster_t *c, int a, int b, double *gbs, double *lat_us);
/* Widest path a -> b over direct links (ties: fewest hops). path receives up to maxpath host
 * indices from a to b. Returns the number of hosts on the path, 0 when b cannot be reached. */
int tacl__cluster_route(const tacl_cluster_t *c, int a, int b, int *path, int maxpath, double *gbs,
                        double *lat_us);
/* Connected components of the host graph: comp[h] = component id; returns the count. */
int tacl__cluster_components(const tacl_cluster_t *c, int *comp);
int tacl__cluster_total_gpus(const tacl_cluster_t *c);
/* The host of a rendezvous store for the hosts hosts[0..k) (NULL: every host): one directly
 * linked to each of them, so that every host reaches it without a relay. Preference: the
 * declared store (c->store_host, which may lie outside the set), then prefer (e.g. vLLM's node
 * 0; -1: none), then the eligible host of the set whose slowest link to the others is the
 * fastest (ties: the first). Returns -1 when no host qualifies. The doctor's JSON and the
 * planner both call it, so they agree. O(k) per candidate looked at, each costing its degree
 * plus the unreachable pairs. */
int tacl__cluster_store_pick(const tacl_cluster_t *c, const int *hosts, int k, int prefer);
/* The address by which host `from` reaches host `to`: the first address of `to` on a network
 * `from` has an address on, else its first address, else its name. */
const char *tacl__cluster_addr_for(const tacl_cluster_t *c, int from, int to);

/* ---- GPU presets and units. ---- */
/* Looks a GPU type up ("H100-80GB", case-insensitive; also "H100", "H200"...). */
const tacl__gpu_spec_t *tacl__gpu_preset(const char *name);
const tacl__gpu_spec_t *tacl__gpu_preset_at(int i); /* NULL past the end */
/* "100Gbps", "100 Gb/s", "25GB/s", "1.6Tbps", "3.35TB/s", bare number (unit bare_unit: "Gb/s"
 * or "GB/s") -> GB/s. Returns 0 and sets *why on a malformed value. */
int tacl__parse_bandwidth(const char *s, const char *bare_unit, double *gbs, const char **why);
/* "80GB", "80 GiB", "141G", "40960MiB", bare number = GB -> bytes. */
int tacl__parse_bytes(const char *s, double *bytes, const char **why);
/* "5", "5us", "2.5ms", "800ns" -> microseconds (bare number = us). */
int tacl__parse_latency(const char *s, double *us, const char **why);
/* GPU-GPU bandwidth of a link class ("NVLink", "NV18", "PCIe", "PIX", "PXB", "PHB", "NODE",
 * "SYS") for a GPU of spec g; 0 when the class is unknown. */
double tacl__gpu_link_class_gbs(const char *cls, const tacl__gpu_spec_t *g);

#endif
