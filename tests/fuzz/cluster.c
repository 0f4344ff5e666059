/* cluster.c — libFuzzer target: cluster description files (YAML or JSON, docs/CLUSTER_FORMAT.md)
 * read from memory with the reader tacl uses for files. A refusal must be TACL_ERR_CONFIG with a
 * "file:line:column:" message. An accepted cluster must be consistent (host indices of links,
 * unreachable pairs, rank map and store inside the host list, positive link bandwidths, unique
 * host names), must survive its consumers (link lookup, widest route, components, the JSON
 * writer) and must read back from its own JSON with the same shape. Accepted files are also
 * given to TACL_TOPO=file's reader (tacl__topo_file_links), which maps ranks to their hosts.
 * fuzz-sources: src/topo/cluster_file.c src/topo/cluster_file_read.c src/topo/cluster_file_hosts.c
 * fuzz-sources: src/topo/cluster.c src/topo/cluster_routes.c src/topo/cluster_presets.c
 * fuzz-sources: src/topo/cluster_json.c src/topo/topofile.c
 * fuzz-sources: src/core/log.c src/core/status.c src/core/settings.c
 * fuzz-libs: -lfyaml
 * fuzz-seeds: tests/data/cluster
 */
#include "fuzz_assert.h"
#include "log.h"
#include "topo/cluster.h"
#include "topo/cluster_file.h"
#include "topo/topofile.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A refusal names the document and a position. */
static void cl_refused(tacl_status_t st, const char *name)
{
    FUZZ_ASSERT(st == TACL_ERR_CONFIG);
    const char *msg = tacl_last_error();
    FUZZ_ASSERT(strstr(msg, name) != NULL);
}

static void cl_check(const tacl_cluster_t *c)
{
    FUZZ_ASSERT(c->nhosts >= 1);
    for (int i = 0; i < c->nhosts; i++) {
        const tacl__cluster_host_t *h = &c->hosts[i];
        FUZZ_ASSERT(h->name[0] && h->ngpus >= 0 && h->ngpus <= 4096);
        FUZZ_ASSERT(h->naddrs >= 0 && h->naddrs <= TACL_CLUSTER_ADDRS);
        if (c->nhosts <= 256) FUZZ_ASSERT(tacl__cluster_find_host(c, h->name) == i); /* unique */
    }
    for (int i = 0; i < c->nlinks; i++) {
        const tacl__cluster_link_t *l = &c->links[i];
        FUZZ_ASSERT(l->a >= 0 && l->a < l->b && l->b < c->nhosts);
        FUZZ_ASSERT(l->gbs > 0 && l->lat_us >= 0);
        double g, lat;
        FUZZ_ASSERT(tacl__cluster_link(c, l->a, l->b, &g, &lat) && g == l->gbs);
    }
    for (int i = 0; i < c->nunreach; i++)
        FUZZ_ASSERT(c->unreach[i][0] >= 0 && c->unreach[i][0] < c->unreach[i][1] &&
                    c->unreach[i][1] < c->nhosts);
    FUZZ_ASSERT(c->nranks >= 0);
    for (int r = 0; r < c->nranks; r++) {
        FUZZ_ASSERT(c->ranks[r].host >= 0 && c->ranks[r].host < c->nhosts);
        FUZZ_ASSERT(c->ranks[r].device >= 0);
    }
    FUZZ_ASSERT(c->store_host >= -1 && c->store_host < c->nhosts);
    if (c->has_default) FUZZ_ASSERT(c->default_gbs > 0);

    /* Consumers, on clusters of up to 256 hosts (their scans are quadratic in hosts; the bound
     * keeps runs fast, the reader itself is exercised at every size up to its limit). */
    if (c->nhosts <= 256) {
        int path[8];
        double g = 0, lat = 0;
        int len = tacl__cluster_route(c, 0, c->nhosts - 1, path, 8, &g, &lat);
        FUZZ_ASSERT(len >= 0 && len <= c->nhosts);
        if (len) {
            FUZZ_ASSERT(path[0] == 0 && (len > 8 || path[len - 1] == c->nhosts - 1));
            FUZZ_ASSERT(g > 0 && lat >= 0);
        }
        int *comp = malloc(sizeof(int) * (size_t)c->nhosts);
        FUZZ_ASSERT(comp);
        int nc = tacl__cluster_components(c, comp);
        FUZZ_ASSERT(nc >= 1 && nc <= c->nhosts);
        for (int i = 0; i < c->nhosts; i++)
            FUZZ_ASSERT(comp[i] >= 0 && comp[i] < nc);
        if (len) FUZZ_ASSERT(comp[0] == comp[c->nhosts - 1]);
        free(comp);
    }
    (void)tacl__cluster_total_gpus(c);
}

/* The JSON the doctor writes must read back into the same shape. */
static void cl_round_trip(const tacl_cluster_t *c)
{
    char *json = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&json, &len);
    FUZZ_ASSERT(f);
    FUZZ_ASSERT(tacl_cluster_write_json(c, f) == TACL_OK);
    FUZZ_ASSERT(fclose(f) == 0);
    tacl__doc_t d;
    tacl_status_t st = tacl__doc_parse("fuzz.json", json, &d);
    tacl_cluster_t *c2 = NULL;
    if (st == TACL_OK) st = tacl__cluster_read(&d, &c2);
    tacl__doc_close(&d);
    if (st != TACL_OK) fprintf(stderr, "fuzz: JSON written:\n%s\n", json);
    FUZZ_ASSERT(st == TACL_OK);
    FUZZ_ASSERT(c2->nhosts == c->nhosts && c2->nlinks == c->nlinks && c2->nunreach == c->nunreach &&
                c2->nranks == c->nranks && c2->store_host == c->store_host &&
                c2->has_default == c->has_default);
    for (int i = 0; i < c->nhosts; i++) {
        FUZZ_ASSERT(!strcmp(c2->hosts[i].name, c->hosts[i].name));
        FUZZ_ASSERT(c2->hosts[i].ngpus == c->hosts[i].ngpus);
    }
    for (int i = 0; i < c->nlinks; i++)
        FUZZ_ASSERT(c2->links[i].a == c->links[i].a && c2->links[i].b == c->links[i].b);
    for (int r = 0; r < c->nranks; r++)
        FUZZ_ASSERT(c2->ranks[r].host == c->ranks[r].host &&
                    c2->ranks[r].device == c->ranks[r].device);
    tacl_cluster_destroy(c2);
    free(json);
}

/* TACL_TOPO=file reads the same text from a file; up to 8 ranks named after hosts. */
static void cl_topofile(const tacl_cluster_t *c, const char *text)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/tacl-fuzz-cluster-%d.yaml", (int)getpid());
    FILE *f = fopen(path, "w");
    FUZZ_ASSERT(f);
    FUZZ_ASSERT(fputs(text, f) >= 0 && fclose(f) == 0);
    int n = c->nhosts < 8 ? c->nhosts : 8;
    const char *ids[8];
    for (int r = 0; r < n; r++)
        ids[r] = c->hosts[(r * 7) % c->nhosts].name;
    tacl__topo_links_t l = {0};
    tacl__errbuf_t eb;
    tacl_status_t st = tacl__topo_file_links(path, n, ids, &l, &eb);
    unlink(path);
    FUZZ_ASSERT(st == TACL_OK); /* every rank names a host of the file */
    FUZZ_ASSERT(l.n == n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            size_t k = (size_t)i * (size_t)n + (size_t)j, t = (size_t)j * (size_t)n + (size_t)i;
            FUZZ_ASSERT(l.allowed[k] == l.allowed[t]); /* links are symmetric */
            if (l.allowed[k]) FUZZ_ASSERT(l.bw[k] > 0 && l.lat[k] >= 0);
        }
    tacl__topo_links_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        setenv("TACL_LOG", "none", 1);
        tacl__log_reload();
        quiet = 1;
    }
    char *text = malloc(size + 1);
    FUZZ_ASSERT(text);
    memcpy(text, data, size);
    text[size] = '\0';
    tacl__doc_t d;
    tacl_status_t st = tacl__doc_parse("fuzz.yaml", text, &d);
    tacl_cluster_t *c = NULL;
    if (st == TACL_OK) {
        st = tacl__cluster_read(&d, &c);
        tacl__doc_close(&d);
    }
    if (st != TACL_OK) {
        cl_refused(st, "fuzz.yaml");
        FUZZ_ASSERT(c == NULL);
    } else {
        cl_check(c);
        if (c->nhosts <= 256) cl_round_trip(c);
        if (c->nhosts <= 256 && !memchr(data, '\0', size)) cl_topofile(c, text);
        tacl_cluster_destroy(c);
    }
    free(text);
    return 0;
}
