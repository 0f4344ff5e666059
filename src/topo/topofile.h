/* topofile.h — the link weights and restrictions a world's topology starts from, per pair of
 * ranks: from a cluster description (TACL_TOPO=file, TACL_TOPO_FILE: declared bandwidth and
 * latency; pairs of hosts the file does not link are not used directly) or measured on the
 * live engine (TACL_TOPO_MEASURE: ping-pong and streamed transfer per linked pair, results
 * all-gathered so that every rank weights its graph alike). tacl_init and the doctor use both;
 * the collectives only see the resulting matrices. */
#ifndef TACL_TOPO_TOPOFILE_H
#define TACL_TOPO_TOPOFILE_H

#include "err.h"
#include "xchg.h"

#include <stddef.h>
#include <stdint.h>

struct tacl__engine;

/* Per-pair figures among n ranks (row-major n*n; diagonal unused). */
typedef struct {
    int n;
    uint8_t *allowed; /* 1: the pair may use a direct link */
    double *bw;       /* bytes/s per direction, 0 where not linked */
    double *lat;      /* one-way latency, seconds */
} tacl__topo_links_t;

/* Same-host pairs of a file-declared topology get this bandwidth (shm; only ratios matter). */
#define TACL_TOPO_SAME_HOST_BW 2e10

/* Maps each rank to a host of the cluster file path and fills out from its links. A rank's
 * host is the entry whose name or address equals its host id (host_ids[r]), else the id's
 * hostname part (before the first '/'), else the file's `ranks` map. Errors (recorded in eb):
 * TACL_ERR_CONFIG with file:line:column for a bad file, TACL_ERR_CONFIG naming the rank and
 * its host id when it matches no host. */
tacl_status_t tacl__topo_file_links(const char *path, int n, const char *const *host_ids,
                                    tacl__topo_links_t *out, tacl__errbuf_t *eb);

/* Measures every directly linked pair (reach: n*n, identical on every rank) over engine e:
 * latency by ping-pong (half the median round trip of 16), bandwidth by streaming bytes each
 * way. Pairs run in rounds of a round-robin tournament, so each rank is in one pair at a time.
 * Collective over the world (x); every rank returns the same matrices: bandwidth of a pair =
 * the smaller of its two directions. Bounded by timeout_s. */
tacl_status_t tacl__topo_measure(struct tacl__engine *e, const tacl__xchg_t *x,
                                 const uint8_t *reach, size_t bytes, double timeout_s,
                                 tacl__topo_links_t *out, tacl__errbuf_t *eb);

void tacl__topo_links_free(tacl__topo_links_t *l);

#endif
