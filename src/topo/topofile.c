/* topofile.c — TACL_TOPO=file: a cluster description turned into per-rank-pair link weights
 * and the matrix of pairs allowed to use a direct link (the engine's `allowed`). Ranks are
 * mapped to the file's hosts by host id, hostname, address or the file's rank map; every rank
 * reads the file itself, so a bad file fails init on every rank with the same
 * file:line:column message. */
#include "topo/topofile.h"
#include "topo/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tacl__topo_links_free(tacl__topo_links_t *l)
{
    if (!l) return;
    free(l->allowed);
    free(l->bw);
    free(l->lat);
    memset(l, 0, sizeof *l);
}

/* Host of rank r: id, then the id's hostname part, then the rank map; -1 when none. */
static int topofile_host_of(const tacl_cluster_t *c, int r, const char *id)
{
    int h = tacl__cluster_find_host(c, id);
    if (h >= 0) return h;
    char name[256];
    snprintf(name, sizeof name, "%s", id);
    name[strcspn(name, "/")] = '\0';
    h = tacl__cluster_find_host(c, name);
    if (h >= 0) return h;
    for (int k = 0; k < c->nranks; k++)
        if (k == r) return c->ranks[k].host;
    return -1;
}

tacl_status_t tacl__topo_file_links(const char *path, int n, const char *const *host_ids,
                                    tacl__topo_links_t *out, tacl__errbuf_t *eb)
{
    if (!path || !path[0])
        return tacl__err(eb, TACL_ERR_CONFIG, TACL_SUB_TOPO,
                         "TACL_TOPO=file: expected a cluster description in TACL_TOPO_FILE, found "
                         "none");
    tacl_cluster_t *c;
    tacl_status_t st = tacl_cluster_load(path, &c);
    if (st != TACL_OK) return tacl__err_prefix(eb, st, "TACL_TOPO_FILE");
    size_t nn = (size_t)n * (size_t)n;
    tacl__topo_links_t l = {n, calloc(nn, 1), calloc(nn, sizeof(double)),
                            calloc(nn, sizeof(double))};
    int *host = malloc((size_t)n * sizeof *host);
    if (!l.allowed || !l.bw || !l.lat || !host) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "out of memory");
        goto out;
    }
    for (int r = 0; r < n; r++) {
        host[r] = topofile_host_of(c, r, host_ids[r]);
        if (host[r] < 0) {
            char names[512];
            size_t o = 0;
            names[0] = '\0';
            for (int h = 0; h < c->nhosts && o < sizeof names; h++)
                o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", h ? ", " : "",
                                      c->hosts[h].name);
            st = tacl__err(eb, TACL_ERR_CONFIG, TACL_SUB_TOPO,
                           "%s: rank %d's host id '%s' matches no host of the file (expected a "
                           "name or address among: %s; set TACL_HOST_ID or add a ranks: map)",
                           path, r, host_ids[r], names);
            goto out;
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            size_t k = (size_t)i * (size_t)n + (size_t)j;
            double gbs = 0, lat_us = 0;
            if (host[i] == host[j]) {
                l.allowed[k] = 1;
                l.bw[k] = TACL_TOPO_SAME_HOST_BW;
            } else if (tacl__cluster_link(c, host[i], host[j], &gbs, &lat_us)) {
                l.allowed[k] = 1;
                l.bw[k] = gbs > 0 ? gbs * 1e9 : 1e9; /* graph weights must be > 0 */
                l.lat[k] = lat_us * 1e-6;
            }
        }
    *out = l;
    l = (tacl__topo_links_t){0};
out:
    tacl__topo_links_free(&l);
    free(host);
    tacl_cluster_destroy(c);
    return st;
}
