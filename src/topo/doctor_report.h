/* doctor_report.h — what `tacl doctor` found, and the pure functions that turn it into words:
 * the report structure (ranks, hosts, the agreed reachability matrix, how each link was made or
 * why not, measured latency and bandwidth per directly linked pair, collective smoke tests),
 * the verdict (what works, what will break and why, where a relay carries traffic, where to
 * host the store) and the three output formats (table, cluster-format JSON, Graphviz). Nothing
 * here talks to other ranks: src/coll/doctor.c fills the report, so the verdict logic is
 * tested on hand-made matrices. */
#ifndef TACL_TOPO_DOCTOR_REPORT_H
#define TACL_TOPO_DOCTOR_REPORT_H

#include "err.h"

#include <stdint.h>
#include <stdio.h>

#define TACL_DOCTOR_HOST_MAX 192
#define TACL_DOCTOR_INFO_MAX 128
#define TACL_DOCTOR_MSG_MAX  256

/* Measurement of one directly linked rank pair (made by the lower rank of the pair). Why a
 * measurement failed is kept apart (tacl__doctor_set_link_err), as few pairs have a reason:
 * the figures of every pair are 16 bytes. */
typedef struct {
    double lat_us; /* one-way latency: half the median ping-pong round trip; < 0: not measured */
    double gbs;    /* streamed bandwidth, GB/s (1e9 bytes/s); < 0: not measured */
} tacl__doctor_link_t;

typedef struct {
    int a, b; /* a < b */
    char err[TACL_DOCTOR_MSG_MAX];
} tacl__doctor_link_err_t;

typedef enum {
    TACL_DOCTOR_ALL_REDUCE = 0,
    TACL_DOCTOR_ALL_GATHER,
    TACL_DOCTOR_BROADCAST,
    TACL_DOCTOR_ROUTED,
    TACL_DOCTOR_NSMOKE
} tacl__doctor_smoke_kind_t;

/* One collective smoke test, over every rank. */
typedef struct {
    int ran;                       /* 0: not run (msg says why) */
    int nfail;                     /* ranks on which it failed (wrong values, error or timeout) */
    double secs;                   /* slowest rank's time */
    double gbs;                    /* routed send/recv: slowest measured rate (GB/s); 0 otherwise */
    char msg[TACL_DOCTOR_MSG_MAX]; /* first failure ("rank 2: ..."), or why it did not run */
} tacl__doctor_smoke_t;

/* The CPUs one rank may use, as it saw them (src/coll/doctor.c fills it). */
#define TACL_DOCTOR_CPU_BYTES 128 /* affinity masks of CPUs 0..1023 */
typedef struct {
    int32_t known;  /* 0: not reported */
    int32_t online; /* its host's online CPUs */
    int32_t quota;  /* CPUs its control group's quota allows (0: no quota) */
    int32_t pad;
    uint64_t group; /* its control groups (tacl__proc_cgroup_id): equal values share a quota */
    uint8_t mask[TACL_DOCTOR_CPU_BYTES]; /* its affinity mask, CPU c in bit c % 8 of byte c / 8 */
} tacl__doctor_cpu_t;

typedef struct tacl__doctor_notes tacl__doctor_notes_t; /* doctor_notes.c */

typedef struct {
    int n;                                    /* ranks */
    int nhosts;                               /* distinct host ids */
    char (*host_ids)[TACL_DOCTOR_HOST_MAX];   /* per host, first-seen order */
    char (*host_names)[TACL_DOCTOR_HOST_MAX]; /* short names for people (tacl__doctor_finish) */
    int *host_of;                             /* rank -> host */
    uint8_t *reach;                           /* n*n direct links, identical on every rank */
    tacl__doctor_notes_t *notes;        /* how rank i reached j or why not: tacl__doctor_info */
    tacl__doctor_link_t *links;         /* n*n, [i*n+j] with i < j */
    tacl__doctor_link_err_t *link_errs; /* the pairs whose measurement failed, and why */
    int nlink_errs;
    tacl__doctor_smoke_t smoke[TACL_DOCTOR_NSMOKE];
    tacl__doctor_cpu_t *cpu; /* n: the CPUs each rank may use (zeroed: not reported) */
    double probe_timeout_s;
    double elapsed_s;
    char store[300]; /* the store the ranks met at ("addr:port") */
    /* Derived by tacl__doctor_finish. */
    int ncomp;       /* components of the host graph */
    int *comp;       /* host -> component (numbered from the component of host 0) */
    uint8_t *hreach; /* nhosts*nhosts: some rank pair of the two hosts is directly linked */
    double *hgbs;    /* nhosts*nhosts: best measured bandwidth between the hosts (0: none) */
    double *hlat;    /* nhosts*nhosts: best measured latency (us; 0: none) */
} tacl__doctor_report_t;

/* The notes of pair (i, j): how rank i reached j, or why it did not ("" when none). Texts are
 * kept once each (at most TACL_DOCTOR_INFO_MAX - 1 bytes); the setter fails only for memory. */
tacl_status_t tacl__doctor_set_info(tacl__doctor_report_t *r, int i, int j, const char *text);
const char *tacl__doctor_info(const tacl__doctor_report_t *r, int i, int j);
tacl__doctor_notes_t *tacl__doctor_notes_create(int n);
void tacl__doctor_notes_destroy(tacl__doctor_notes_t *t);

/* Allocates a report for n ranks: every link unmeasured (-1), every smoke test not run. */
tacl_status_t tacl__doctor_report_create(int n, tacl__doctor_report_t **out);
void tacl__doctor_report_destroy(tacl__doctor_report_t *r);
/* Sets rank r's host (hosts numbered in first-seen order by id). */
tacl_status_t tacl__doctor_report_set_host(tacl__doctor_report_t *r, int rank, const char *host_id);
/* Records why the measurement of pair a-b failed (replacing an earlier reason; a and b in
 * either order); "" for a pair without one. */
tacl_status_t tacl__doctor_set_link_err(tacl__doctor_report_t *r, int a, int b, const char *err);
const char *tacl__doctor_link_err(const tacl__doctor_report_t *r, int a, int b);
/* Derives host names, the host graph, its components and per-host-pair figures. Call once
 * host_of, reach and links are filled, before any output. */
tacl_status_t tacl__doctor_finish(tacl__doctor_report_t *r);

/* 1 when every pair of ranks is linked directly (same-host pairs count as linked). */
int tacl__doctor_full_mesh(const tacl__doctor_report_t *r);
/* Hosts on the fewest-hops path a -> b over direct host links (path gets up to max entries,
 * a first). Returns the number of hosts on it, 0 when b is not reachable. *gbs receives the
 * smallest measured bandwidth along it (0 when a link was not measured). */
int tacl__doctor_host_path(const tacl__doctor_report_t *r, int a, int b, int *path, int max,
                           double *gbs);
/* Exit status the doctor gives: 0 when the graph is connected and every smoke test that ran
 * passed, 1 otherwise. */
int tacl__doctor_status(const tacl__doctor_report_t *r);

/* Outputs. The table includes the verdict. */
void tacl__doctor_write_verdict(const tacl__doctor_report_t *r, FILE *f);
void tacl__doctor_write_table(const tacl__doctor_report_t *r, FILE *f);
/* The table with its "Links" section (doctor_links.c) listing every rank pair when every_pair
 * is set or the ranks are at most TACL_DOCTOR_PAIRS_MAX; else a line per host pair (rank pairs
 * linked; latency and bandwidth: lowest, median, highest) and the rank pairs that stand out
 * (unreachable, measurement failed, or latency or bandwidth 3x off their host pair's median:
 * the first 40, then their count). tacl__doctor_write_table is this without every_pair. */
#define TACL_DOCTOR_PAIRS_MAX 32
void tacl__doctor_write_table_pairs(const tacl__doctor_report_t *r, FILE *f, int every_pair);
void tacl__doctor_table_links(const tacl__doctor_report_t *r, FILE *f, int every_pair);
/* "1.25 GB/s", "12.5 MB/s" (under 0.1 GB/s) or "-" (gbs < 0: not measured). */
void tacl__doctor_fmt_gbs(char *buf, size_t len, double gbs);
/* The cluster description format (docs/CLUSTER_FORMAT.md, written by tacl_cluster_write_json)
 * with the measured links, the unreachable host pairs and the suggested store host. */
tacl_status_t tacl__doctor_write_json(const tacl__doctor_report_t *r, FILE *f);
/* Graphviz: hosts as boxes, links labelled with bandwidth and latency, unreachable pairs as
 * dashed red edges. */
void tacl__doctor_write_dot(const tacl__doctor_report_t *r, FILE *f);

const char *tacl__doctor_smoke_name(tacl__doctor_smoke_kind_t k);

/* doctor_cpus.c. The CPUs host h's ranks may use together: the union of their affinity masks,
 * bounded by their control groups' quotas when every rank has one (ranks of one group share its
 * quota); *ranks gets the host's ranks, *quota the quota bound (0: none), list the union as
 * "0-3,8" (list may be NULL). -1 when a rank of the host did not report. */
int tacl__doctor_host_cpus(const tacl__doctor_report_t *r, int h, int *ranks, int *quota,
                           char *list, size_t len);
/* The verdict's line for each host whose ranks outnumber the CPUs they may use. */
void tacl__doctor_verdict_cpus(const tacl__doctor_report_t *r, FILE *f);
/* The table's CPU section (nothing when no rank reported). */
void tacl__doctor_table_cpus(const tacl__doctor_report_t *r, FILE *f);

#endif
