/* doctor_verdict.c — the doctor's verdict and outputs on hand-made reports (no ranks needed):
 * a chain A-B-C (relay B named with the bottleneck bandwidth, pipeline order, groups linked
 * all-to-all, store on B), a 4-ring without its diagonals (pipeline order exists, no store
 * host), two components (DISCONNECTED, exit status 1), one host, a full mesh of two hosts with
 * two ranks each, failed smoke tests, the CPUs each host's ranks may use (affinity masks,
 * quotas) and the warning where they are fewer than the ranks, the links of 40 ranks summed up
 * by host pair with the pairs that stand out, 50 hosts (no host matrix: the pairs without a
 * link), the JSON and Graphviz forms of the chain, and the per-pair notes of 300 ranks. */
#include "check.h"
#include "topo/cluster.h"
#include "topo/doctor_report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A report for hosts[rank] with direct links between the listed rank pairs, each measured at
 * gbs[k] GB/s and lat[k] us. */
static tacl__doctor_report_t *make(int n, const char *const *hosts, int nl, const int (*pairs)[2],
                                   const double *gbs, const double *lat)
{
    tacl__doctor_report_t *r;
    CHECK_OK(tacl__doctor_report_create(n, &r));
    for (int i = 0; i < n; i++)
        CHECK_OK(tacl__doctor_report_set_host(r, i, hosts[i]));
    for (int k = 0; k < nl; k++) {
        int a = pairs[k][0], b = pairs[k][1];
        r->reach[a * n + b] = r->reach[b * n + a] = 1;
        int lo = a < b ? a : b, hi = a < b ? b : a;
        r->links[lo * n + hi].gbs = gbs ? gbs[k] : -1;
        r->links[lo * n + hi].lat_us = lat ? lat[k] : -1;
        char t[64];
        snprintf(t, sizeof t, "tcp 10.0.%d.%d:1234 (eth0)", a, b);
        CHECK(tacl__doctor_set_info(r, a, b, t) == TACL_OK);
        snprintf(t, sizeof t, "tcp 10.0.%d.%d:1234 (eth0)", b, a);
        CHECK(tacl__doctor_set_info(r, b, a, t) == TACL_OK);
    }
    /* Ranks of one host always reach each other (shared memory). */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (!strcmp(hosts[i], hosts[j])) r->reach[i * n + j] = 1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != j && !r->reach[i * n + j]) {
                char t[80];
                snprintf(t, sizeof t, "connect to 10.9.%d.%d:1234: No route to host", i, j);
                CHECK(tacl__doctor_set_info(r, i, j, t) == TACL_OK);
            }
    snprintf(r->store, sizeof r->store, "10.0.0.1:29500");
    for (int k = 0; k < TACL_DOCTOR_NSMOKE; k++) {
        r->smoke[k].ran = 1;
        r->smoke[k].secs = 0.01 * (k + 1);
        r->smoke[k].msg[0] = '\0';
    }
    CHECK_OK(tacl__doctor_finish(r));
    return r;
}

typedef void (*writer_t)(const tacl__doctor_report_t *, FILE *);

static char *render(const tacl__doctor_report_t *r, writer_t w)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f);
    w(r, f);
    fclose(f);
    return buf;
}

static void test_chain(void)
{
    const char *hosts[] = {"A", "B", "C"};
    const int pairs[][2] = {{0, 1}, {1, 2}};
    const double gbs[] = {2.5, 1.25}, lat[] = {20, 30};
    tacl__doctor_report_t *r = make(3, hosts, 2, pairs, gbs, lat);
    CHECK(r->nhosts == 3 && r->ncomp == 1);
    CHECK(!tacl__doctor_full_mesh(r));
    int path[3];
    double bw = 0;
    CHECK(tacl__doctor_host_path(r, 0, 2, path, 3, &bw) == 3);
    CHECK(path[0] == 0 && path[1] == 1 && path[2] == 2);
    CHECK(bw == 1.25); /* the bottleneck of A-B (2.5) and B-C (1.25) */
    CHECK(tacl__doctor_host_path(r, 0, 2, path, 2, &bw) == 0); /* does not fit */
    CHECK(tacl__doctor_status(r) == 0);
    char *v = render(r, tacl__doctor_write_verdict);
    CHECK_CONTAINS(v, "connected but not a full mesh");
    CHECK_CONTAINS(v, "A<->C: unreachable (rank 0 -> rank 2: connect to 10.9.0.2:1234: No route "
                      "to host)");
    CHECK_CONTAINS(v, "tacl routes it through B (relay) at up to 1.25 GB/s (its slowest link");
    CHECK_CONTAINS(v, "pipeline stages A->B->C need only A-B and B-C");
    CHECK_CONTAINS(v, "{A, B}, {B, C}");
    CHECK_CONTAINS(v, "host the store where every rank reaches it: B (linked directly");
    CHECK_CONTAINS(v, "; --json and tacl plan put it on B"); /* tacl__cluster_store_pick */
    CHECK_CONTAINS(v, "collectives work: all_reduce, all_gather, broadcast, routed send/recv");
    CHECK(!strstr(v, "A<->B") && !strstr(v, "B<->C"));
    free(v);

    char *t = render(r, tacl__doctor_write_table);
    CHECK_CONTAINS(t, "0-1       A-B");
    CHECK_CONTAINS(t, "20.0 us");
    CHECK_CONTAINS(t, "2.50 GB/s");
    CHECK_CONTAINS(t, "UNREACHABLE: connect to 10.9.0.2:1234: No route to host");
    CHECK_CONTAINS(t, "(rank 2's side: connect to 10.9.2.0:1234: No route to host)");
    CHECK_CONTAINS(t, "Verdict\n");
    free(t);

    char *j = NULL;
    size_t jlen = 0;
    FILE *jf = open_memstream(&j, &jlen);
    CHECK(jf);
    CHECK_OK(tacl__doctor_write_json(r, jf));
    fclose(jf);
    CHECK_CONTAINS(j,
                   "{\"hosts\": [\"A\", \"B\"], \"bandwidth\": \"2.5GB/s\", \"latency_us\": 20}");
    CHECK_CONTAINS(j,
                   "{\"hosts\": [\"B\", \"C\"], \"bandwidth\": \"1.25GB/s\", \"latency_us\": 30}");
    CHECK_CONTAINS(j, "\"unreachable\": [[\"A\", \"C\"]]");
    CHECK_CONTAINS(j, "\"store\": \"B\"");
#if TACL_HAVE_FYAML
    /* Round trip through the cluster reader: the file is a cluster description. */
    char file[64];
    snprintf(file, sizeof file, "/tmp/tacl-doctor-verdict-%d.json", (int)getpid());
    FILE *out = fopen(file, "w");
    CHECK(out);
    fputs(j, out);
    fclose(out);
    tacl_cluster_t *c = NULL;
    tacl_status_t lst = tacl_cluster_load(file, &c);
    unlink(file);
    CHECK_OK(lst);
    CHECK(c->nhosts == 3 && c->nlinks == 2 && c->nunreach == 1 && c->store_host == 1);
    double g = 0, l = 0;
    CHECK(tacl__cluster_link(c, 1, 2, &g, &l) && g == 1.25 && l == 30);
    CHECK(!tacl__cluster_link(c, 0, 2, &g, &l));
    tacl_cluster_destroy(c);
#endif
    free(j);

    char *d = render(r, tacl__doctor_write_dot);
    CHECK_CONTAINS(d, "h0 -- h1 [label=\"2.50 GB/s\\n20.0 us\"]");
    CHECK_CONTAINS(d, "h0 -- h2 [style=dashed, color=red, label=\"unreachable\"]");
    CHECK(!strstr(d, "h1 -- h2 [style=dashed"));
    free(d);
    tacl__doctor_report_destroy(r);
}

static void test_ring_without_diagonals(void)
{
    const char *hosts[] = {"n0", "n1", "n2", "n3"};
    const int pairs[][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 0}};
    tacl__doctor_report_t *r = make(4, hosts, 4, pairs, NULL, NULL);
    char *v = render(r, tacl__doctor_write_verdict);
    CHECK_CONTAINS(v, "n0<->n2: unreachable");
    CHECK_CONTAINS(v, "n1<->n3: unreachable");
    CHECK_CONTAINS(v, "pipeline stages n0->n1->n2->n3 need only n0-n1, n1-n2 and n2-n3");
    CHECK_CONTAINS(v, "no host is linked directly to every other");
    /* Unmeasured links: the relay is named without a rate. */
    CHECK_CONTAINS(v, "tacl routes it through n1 (relay)\n");
    free(v);
    tacl__doctor_report_destroy(r);
}

static void test_disconnected(void)
{
    const char *hosts[] = {"A", "B", "C", "D"};
    const int pairs[][2] = {{0, 1}, {2, 3}};
    tacl__doctor_report_t *r = make(4, hosts, 2, pairs, NULL, NULL);
    for (int k = 0; k < TACL_DOCTOR_NSMOKE; k++) {
        r->smoke[k].ran = 0;
        snprintf(r->smoke[k].msg, sizeof r->smoke[k].msg, "the graph is disconnected");
    }
    CHECK(r->ncomp == 2);
    CHECK(r->comp[0] == 0 && r->comp[1] == 0 && r->comp[2] == 1 && r->comp[3] == 1);
    CHECK(tacl__doctor_status(r) == 1);
    char *v = render(r, tacl__doctor_write_verdict);
    CHECK_CONTAINS(v, "DISCONNECTED: the 4 hosts form 2 groups that cannot reach each other: "
                      "{A (rank 0), B (rank 1)} {C (rank 2), D (rank 3)}");
    CHECK_CONTAINS(v, "A<->C: unreachable");
    CHECK_CONTAINS(v, "no relay connects them");
    CHECK_CONTAINS(v, "collective smoke tests not run: the graph is disconnected");
    CHECK(!strstr(v, "pipeline stages"));
    free(v);
    tacl__doctor_report_destroy(r);
}

static void test_one_host_and_full_mesh(void)
{
    const char *one[] = {"h", "h", "h"};
    tacl__doctor_report_t *r = make(3, one, 0, NULL, NULL, NULL);
    CHECK(r->nhosts == 1 && tacl__doctor_full_mesh(r));
    char *v = render(r, tacl__doctor_write_verdict);
    CHECK_CONTAINS(v, "one host: all 3 ranks reach each other");
    CHECK_CONTAINS(v, "store: any address of the one host (this run met at 10.0.0.1:29500)");
    free(v);
    tacl__doctor_report_destroy(r);

    /* Two hosts, two ranks each, every cross-host pair linked; the host link carries the best
     * pair's figures. Host ids with a common hostname are shown whole. */
    const char *two[] = {"x/b1/net:1", "x/b1/net:1", "x/b1/net:2", "x/b1/net:2"};
    const int pairs[][2] = {{0, 2}, {0, 3}, {1, 2}, {1, 3}};
    const double gbs[] = {1, 3, 2, 0.5}, lat[] = {10, 12, 8, 9};
    r = make(4, two, 4, pairs, gbs, lat);
    CHECK(r->nhosts == 2 && tacl__doctor_full_mesh(r));
    CHECK(!strcmp(r->host_names[0], "x/b1/net:1"));
    CHECK(r->hgbs[1] == 3 && r->hlat[1] == 8);
    v = render(r, tacl__doctor_write_verdict);
    CHECK_CONTAINS(v, "full mesh: all 2 hosts reach each other directly");
    CHECK(!strstr(v, "unreachable"));
    free(v);
    /* A failed smoke test makes the exit status 1 and is reported with its message. */
    r->smoke[TACL_DOCTOR_ALL_REDUCE].nfail = 2;
    snprintf(r->smoke[TACL_DOCTOR_ALL_REDUCE].msg, TACL_DOCTOR_MSG_MAX,
             "rank 3: element 5 of 65536 float64 sums is 1, expected 10");
    CHECK(tacl__doctor_status(r) == 1);
    v = render(r, tacl__doctor_write_verdict);
    CHECK_CONTAINS(v, "all_reduce FAILED on 2 of 4 ranks: rank 3: element 5 of 65536 float64 "
                      "sums is 1, expected 10");
    CHECK(!strstr(v, "collectives work"));
    free(v);
    tacl__doctor_report_destroy(r);

    /* Graphviz labels escape what TACL_HOST_ID may hold. */
    const char *odd[] = {"a\"b", "c\\d"};
    const int p0[][2] = {{0, 1}};
    r = make(2, odd, 1, p0, NULL, NULL);
    v = render(r, tacl__doctor_write_dot);
    CHECK_CONTAINS(v, "h0 [label=\"a\\\"b\\nranks 0\"];");
    CHECK_CONTAINS(v, "h1 [label=\"c\\\\d\\nranks 1\"];");
    free(v);
    tacl__doctor_report_destroy(r);

    /* Distinct hostnames are shortened to the hostname. */
    const char *named[] = {"gpu1/boot/net:1", "gpu2/boot/net:1"};
    const int p1[][2] = {{0, 1}};
    r = make(2, named, 1, p1, NULL, NULL);
    CHECK(!strcmp(r->host_names[0], "gpu1") && !strcmp(r->host_names[1], "gpu2"));
    tacl__doctor_report_destroy(r);
}

/* Rank i may use CPUs [lo, hi] under quota q (0: none) in control group grp. */
static void cpu_set(tacl__doctor_report_t *r, int i, int lo, int hi, int q, uint64_t grp)
{
    tacl__doctor_cpu_t *c = &r->cpu[i];
    memset(c, 0, sizeof *c);
    c->known = 1;
    c->online = 64;
    c->quota = q;
    c->group = grp;
    for (int k = lo; k <= hi; k++)
        c->mask[k / 8] |= (uint8_t)(1u << (k % 8));
}

/* The CPUs a host's ranks may use: the union of their masks, bounded by the quotas of their
 * control groups (one quota per group) when every rank has one; the verdict warns only where
 * the ranks outnumber them, naming the host, the count, the CPUs and the quota. */
static void test_cpus(void)
{
    const char *hosts[] = {"a", "a", "a", "a", "b", "b"};
    const int pairs[][2] = {{0, 4}, {0, 5}, {1, 4}, {1, 5}, {2, 4}, {2, 5}, {3, 4}, {3, 5}};
    tacl__doctor_report_t *r = make(6, hosts, 8, pairs, NULL, NULL);
    int nr, q;
    char list[64];
    /* Not reported: no CPU section, no warning. */
    CHECK(tacl__doctor_host_cpus(r, 0, &nr, &q, list, sizeof list) == -1 && nr == 4);
    char *t = render(r, tacl__doctor_write_table), *v = render(r, tacl__doctor_write_verdict);
    CHECK(!strstr(t, "CPUs the ranks may use") && !strstr(v, "may use"));
    free(t);
    free(v);
    /* Host a: ranks pinned two by two to CPUs 0 and 1; host b: all of 0-63, one group with a
     * quota of 2 CPUs for both ranks: both hosts are short. */
    cpu_set(r, 0, 0, 0, 0, 1);
    cpu_set(r, 1, 0, 0, 0, 1);
    cpu_set(r, 2, 1, 1, 0, 1);
    cpu_set(r, 3, 1, 1, 0, 1);
    cpu_set(r, 4, 0, 63, 1, 7);
    cpu_set(r, 5, 0, 63, 1, 7);
    CHECK(tacl__doctor_host_cpus(r, 0, &nr, &q, list, sizeof list) == 2 && nr == 4 && q == 0);
    CHECK(!strcmp(list, "0-1"));
    CHECK(tacl__doctor_host_cpus(r, 1, &nr, &q, list, sizeof list) == 1 && nr == 2 && q == 1);
    CHECK(!strcmp(list, "0-63"));
    v = render(r, tacl__doctor_write_verdict);
    CHECK_CONTAINS(v, "host a: its 4 ranks may use 2 CPUs (affinity 0-1): they take turns");
    CHECK_CONTAINS(v, "host b: its 2 ranks may use 1 CPU (affinity 0-63, CPU quota 1)");
    CHECK(tacl__doctor_status(r) == 0); /* slow, not broken */
    free(v);
    t = render(r, tacl__doctor_write_table);
    CHECK_CONTAINS(t, "  a                4 ranks, 2 CPUs of 64 online (affinity 0-1): more ranks "
                      "than CPUs");
    CHECK_CONTAINS(t, "  b                2 ranks, 1 CPU of 64 online (affinity 0-63; quota 1): "
                      "more ranks than CPUs");
    free(t);
    /* Each rank of b in a group of its own with a quota of 1: 2 CPUs for 2 ranks. Host a's
     * ranks on 0-3, 8, 10-11: enough. No warning. */
    cpu_set(r, 4, 0, 63, 1, 8);
    cpu_set(r, 5, 0, 63, 1, 9);
    cpu_set(r, 0, 0, 3, 0, 1);
    cpu_set(r, 1, 8, 8, 0, 1);
    cpu_set(r, 2, 10, 11, 0, 1);
    CHECK(tacl__doctor_host_cpus(r, 0, &nr, &q, list, sizeof list) == 7);
    CHECK(!strcmp(list, "0-3,8,10-11"));
    CHECK(tacl__doctor_host_cpus(r, 1, &nr, &q, list, sizeof list) == 2 && q == 2);
    v = render(r, tacl__doctor_write_verdict);
    CHECK(!strstr(v, "may use"));
    free(v);
    /* Quotas as large as another rank may claim: no overflow, the masks bound the count. */
    cpu_set(r, 4, 0, 63, INT32_MAX, 8);
    cpu_set(r, 5, 0, 63, INT32_MAX, 9);
    CHECK(tacl__doctor_host_cpus(r, 1, &nr, &q, list, sizeof list) == 64 && q == 2 << 20);
    /* A rank without a quota: the masks alone count. A rank that did not report: unknown. */
    cpu_set(r, 5, 0, 63, 0, 9);
    CHECK(tacl__doctor_host_cpus(r, 1, &nr, &q, list, sizeof list) == 64 && q == 0);
    r->cpu[3].known = 0;
    CHECK(tacl__doctor_host_cpus(r, 0, &nr, &q, NULL, 0) == -1);
    t = render(r, tacl__doctor_write_table);
    CHECK_CONTAINS(t, "  a                not reported by every rank");
    free(t);
    tacl__doctor_report_destroy(r);
}

/* Why a pair's measurement failed is kept per pair, in either order, the latest reason only;
 * the verdict and the table say it; other pairs have none. */
static void test_link_errors(void)
{
    const char *hosts[] = {"a", "a", "b"};
    const int pairs[][2] = {{0, 2}, {1, 2}};
    const double gbs[] = {1.5, 2.5}, lat[] = {10, 11};
    tacl__doctor_report_t *r = make(3, hosts, 2, pairs, gbs, lat);
    CHECK(!strcmp(tacl__doctor_link_err(r, 0, 2), ""));
    CHECK_OK(tacl__doctor_set_link_err(r, 2, 0, "first reason"));
    CHECK_OK(tacl__doctor_set_link_err(r, 0, 2, "rank 0 timed out after 2.0 s waiting for rank 2"));
    CHECK(r->nlink_errs == 1);
    CHECK(
        !strcmp(tacl__doctor_link_err(r, 2, 0), "rank 0 timed out after 2.0 s waiting for rank 2"));
    CHECK(!strcmp(tacl__doctor_link_err(r, 1, 2), ""));
    CHECK_ST(tacl__doctor_set_link_err(r, 1, 3, "x"), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "pair 1-3 out of range 0..2");
    CHECK_ST(tacl__doctor_set_link_err(r, 1, 1, "x"), TACL_ERR_INVALID);
    char *v = render(r, tacl__doctor_write_verdict);
    CHECK_CONTAINS(v, "ranks 0-2 (a-b) are linked but the measurement failed: rank 0 timed out "
                      "after 2.0 s waiting for rank 2");
    CHECK(!strstr(v, "ranks 1-2 (a-b) are linked but"));
    free(v);
    char *t = render(r, tacl__doctor_write_table);
    CHECK_CONTAINS(t, "1.50 GB/s  tcp 10.0.0.2:1234 (eth0); measurement failed: rank 0 timed out");
    CHECK_CONTAINS(t, "2.50 GB/s  tcp 10.0.1.2:1234 (eth0)\n");
    free(t);
    tacl__doctor_report_destroy(r);
}

static void render_pairs(const tacl__doctor_report_t *r, FILE *f)
{
    tacl__doctor_write_table_pairs(r, f, 1);
}

/* 40 ranks on hosts h0-h3 (ten each), every pair linked but h0-h3's (100 rank pairs): beyond
 * TACL_DOCTOR_PAIRS_MAX ranks the table summarises by host pair and lists the pairs that stand
 * out: 0-1 (latency 4.5x h0-h0's median), 0-15 (bandwidth a fifth of h0-h1's), 1-2 (failed)
 * and the 100 unreachable ones; 40 are listed. */
static void test_many_ranks(void)
{
    enum { N = 40 };
    const char *hosts[N];
    static const char *names[] = {"h0", "h1", "h2", "h3"};
    for (int i = 0; i < N; i++)
        hosts[i] = names[i / 10];
    static int pairs[N * N][2];
    static double gbs[N * N], lat[N * N];
    int np = 0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            if (i / 10 == 0 && j / 10 == 3) continue;
            int same = i / 10 == j / 10;
            pairs[np][0] = i;
            pairs[np][1] = j;
            lat[np] = i == 0 && j == 1 ? 9.0 : same ? 2.0 : 10.0;
            gbs[np] = i == 0 && j == 15 ? 1.0 : same ? 20.0 : 5.0;
            np++;
        }
    tacl__doctor_report_t *r = make(N, hosts, np, (const int(*)[2])pairs, gbs, lat);
    CHECK_OK(tacl__doctor_set_link_err(r, 1, 2, "rank 1 timed out after 2.0 s waiting for rank 2"));
    char *t = render(r, tacl__doctor_write_table);
    CHECK_CONTAINS(t, "  h1               ranks 10-19\n");
    CHECK_CONTAINS(t, "By host pair (40 ranks: more than 32, so not every rank pair; tacl doctor "
                      "--pairs lists them all)");
    CHECK_CONTAINS(t, "  h0-h0                             45/45 2.0 / 2.0 / 9.0 us            "
                      "20.00 GB/s / 20.00 GB/s / 20.00 GB/s\n");
    CHECK_CONTAINS(t, "  h0-h1                           100/100 10.0 / 10.0 / 10.0 us         "
                      "1.00 GB/s / 5.00 GB/s / 5.00 GB/s\n");
    CHECK_CONTAINS(t, "  h0-h3                             0/100 -");
    CHECK_CONTAINS(t, "Rank pairs that stand out: 103 (unreachable, failed, or 3x off their host "
                      "pair's median)");
    CHECK_CONTAINS(t, "  0-1       h0-h0                         9.0 us   20.00 GB/s  tcp "
                      "10.0.0.1:1234 (eth0) [latency 4.5x its host pair's median]\n");
    CHECK_CONTAINS(t, "  0-15      h0-h1                        10.0 us    1.00 GB/s  tcp "
                      "10.0.0.15:1234 (eth0) [bandwidth 1/5.0 of its host pair's median]\n");
    CHECK_CONTAINS(t, "  1-2       h0-h0                         2.0 us   20.00 GB/s  tcp "
                      "10.0.1.2:1234 (eth0); measurement failed: rank 1 timed out");
    CHECK_CONTAINS(t, "  0-30      h0-h3                              -            -  "
                      "UNREACHABLE: connect to 10.9.0.30:1234: No route to host\n");
    CHECK_CONTAINS(t, "  3-36      h0-h3");
    CHECK(!strstr(t, "  3-37      h0-h3")); /* the 41st */
    CHECK_CONTAINS(t, "  ... and 63 more (tacl doctor --pairs lists every pair)\n");
    CHECK(!strstr(t, "  5-6 ") && !strstr(t, "  0-2 ")); /* ordinary pairs */
    free(t);
    t = render(r, render_pairs);
    CHECK(!strstr(t, "By host pair"));
    CHECK_CONTAINS(t, "  5-6       h0-h0                         2.0 us   20.00 GB/s  tcp "
                      "10.0.5.6:1234 (eth0)\n");
    CHECK_CONTAINS(t, "  38-39     h3-h3");
    CHECK(!strstr(t, "[latency")); /* every pair, as measured */
    free(t);
    /* No pair stands out once the odd ones are ordinary and h0-h3 linked. */
    tacl__doctor_report_destroy(r);
    np = 0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            pairs[np][0] = i;
            pairs[np][1] = j;
            lat[np] = 3.0;
            gbs[np] = 4.0;
            np++;
        }
    r = make(N, hosts, np, (const int(*)[2])pairs, gbs, lat);
    t = render(r, tacl__doctor_write_table);
    CHECK_CONTAINS(t, "No rank pair stands out (unreachable, failed, or 3x off its host pair's "
                      "median).");
    CHECK_CONTAINS(t, "  h2-h3                           100/100 3.0 / 3.0 / 3.0 us");
    free(t);
    tacl__doctor_report_destroy(r);
}

/* 52 ranks on 50 hosts (ranks 50 and 51 on n00 too): no host matrix past 48 hosts, but the host
 * pairs without a link (n00-n49, n01-n02); a host's ranks as runs. */
static void test_many_hosts(void)
{
    enum { N = 52 };
    static char names[N][8];
    const char *hosts[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "n%02d", i < 50 ? i : 0);
        hosts[i] = names[i];
    }
    static int pairs[N * N][2];
    int np = 0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            int a = i < 50 ? i : 0, b = j < 50 ? j : 0, lo = a < b ? a : b, hi = a < b ? b : a;
            if ((lo == 0 && hi == 49) || (lo == 1 && hi == 2)) continue;
            pairs[np][0] = i;
            pairs[np][1] = j;
            np++;
        }
    tacl__doctor_report_t *r = make(N, hosts, np, (const int(*)[2])pairs, NULL, NULL);
    CHECK(r->nhosts == 50);
    char *t = render(r, tacl__doctor_write_table);
    CHECK_CONTAINS(t, "  n00              ranks 0 50-51\n");
    CHECK_CONTAINS(t, "  n07              ranks 7\n");
    CHECK_CONTAINS(t, "Host reachability: 50 hosts, 2 of 1225 host pairs without a direct link:\n"
                      "  n00-n49\n  n01-n02\n");
    CHECK(!strstr(t, "Host reachability (+ direct link"));
    CHECK(!strstr(t, "Rank reachability"));
    free(t);
    tacl__doctor_report_destroy(r);
}

static void test_errors(void)
{
    tacl__doctor_report_t *r;
    CHECK_ST(tacl__doctor_report_create(0, &r), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "expected 1 to 65536 ranks, got 0");
    CHECK_OK(tacl__doctor_report_create(2, &r));
    CHECK_ST(tacl__doctor_report_set_host(r, 2, "A"), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "rank 2 out of range 0..1");
    CHECK_OK(tacl__doctor_report_set_host(r, 0, "A"));
    CHECK_ST(tacl__doctor_finish(r), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "rank 1 has no host");
    tacl__doctor_report_destroy(r);
}

/* The notes of 300 ranks: texts shared by many pairs (a peer's address), texts of one pair,
 * one past TACL_DOCTOR_INFO_MAX (cut), "" (none): each read back as set, across the table's
 * growth; setting a pair again replaces its text. */
static void test_notes(void)
{
    const int n = 300;
    tacl__doctor_report_t *r;
    CHECK_OK(tacl__doctor_report_create(n, &r));
    char t[200], want[200];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            if ((i + j) % 97 == 0)
                snprintf(t, sizeof t, "connect to 10.9.%d.%d:1234: No route to host", i, j);
            else
                snprintf(t, sizeof t, "tcp 10.0.%d.%d:%d (eth0)", j / 256, j % 256, 40000 + j);
            CHECK_OK(tacl__doctor_set_info(r, i, j, t));
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j)
                want[0] = '\0';
            else if ((i + j) % 97 == 0)
                snprintf(want, sizeof want, "connect to 10.9.%d.%d:1234: No route to host", i, j);
            else
                snprintf(want, sizeof want, "tcp 10.0.%d.%d:%d (eth0)", j / 256, j % 256,
                         40000 + j);
            if (strcmp(tacl__doctor_info(r, i, j), want) != 0) {
                fprintf(stderr, "note %d-%d: '%s', expected '%s'\n", i, j,
                        tacl__doctor_info(r, i, j), want);
                exit(1);
            }
        }
    memset(t, 'x', sizeof t - 1);
    t[sizeof t - 1] = '\0';
    CHECK_OK(tacl__doctor_set_info(r, 0, 1, t));
    CHECK(strlen(tacl__doctor_info(r, 0, 1)) == TACL_DOCTOR_INFO_MAX - 1);
    CHECK(strncmp(tacl__doctor_info(r, 0, 1), t, TACL_DOCTOR_INFO_MAX - 1) == 0);
    CHECK_OK(tacl__doctor_set_info(r, 0, 2, ""));
    CHECK(strcmp(tacl__doctor_info(r, 0, 2), "") == 0);
    CHECK(strcmp(tacl__doctor_info(r, 1, 2), "tcp 10.0.0.2:40002 (eth0)") == 0);
    tacl__doctor_report_destroy(r);
}

int main(void)
{
    test_notes();
    test_chain();
    test_ring_without_diagonals();
    test_disconnected();
    test_one_host_and_full_mesh();
    test_cpus();
    test_link_errors();
    test_many_ranks();
    test_many_hosts();
    test_errors();
    printf("doctor verdict: all checks passed\n");
    return 0;
}
