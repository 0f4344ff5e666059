/* cluster_file_int.h — what the cluster file reader's files share (cluster_file.c: the document
 * layer; cluster_file_read.c: the reader; cluster_file_hosts.c: one entry of hosts). */
#ifndef TACL_TOPO_CLUSTER_FILE_INT_H
#define TACL_TOPO_CLUSTER_FILE_INT_H

#include "topo/cluster_file.h"

/* The scalar text of n, or NULL (with an error naming key) when n is not a scalar; what says
 * what was expected. */
const char *tacl__doc_scalar(const tacl__doc_t *d, struct fy_node *n, const char *key,
                             const char *what);
/* A bandwidth value (bare number: unit bare, "Gb/s" or "GB/s") into *gbs, GB/s. */
tacl_status_t tacl__cf_bandwidth(const tacl__doc_t *d, struct fy_node *n, const char *key,
                                 const char *bare, double *gbs);
/* Reads one entry of hosts (count: N makes N hosts) into c. */
tacl_status_t tacl__cf_host(const tacl__doc_t *d, tacl_cluster_t *c, struct fy_node *m);

#endif
