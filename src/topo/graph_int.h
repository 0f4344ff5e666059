/* graph_int.h — what the graph's files share (graph.c, graph_ring.c, graph_trees.c,
 * graph_cut.c): the graph's storage and the helpers graph.c offers the algorithms. */
#ifndef TACL_TOPO_GRAPH_INT_H
#define TACL_TOPO_GRAPH_INT_H

#include "topo/graph.h"

#include <stddef.h>

struct tacl__graph {
    int n;
    double *dbw, *dlat; /* declared per direction: [a * n + b] for a -> b; dbw 0 = none */
    double *bw, *lat;   /* symmetrised view, recomputed per pair on every change */
    /* A full mesh by classes (tacl__graph_classes): the four matrices are NULL until a change
     * needs them; link a - b has (cbw, clat)[cls[a] != cls[b]]. */
    int *cls;
    double cbw[2], clat[2];
};

#define G_AT(g, a, b) ((size_t)(a) * (size_t)(g)->n + (size_t)(b))

/* An ordinary copy of class graph g, for the algorithms that work on the matrices. */
tacl_status_t tacl__graph_ordinary(const tacl__graph_t *g, tacl__graph_t **out);
/* The symmetrised bandwidths as an n x n matrix: the graph's own, or (class graph) a new one
 * in *owned for the caller to free; NULL out of memory. */
const double *tacl__graph_bw_matrix(const tacl__graph_t *g, double **owned);
/* Total bandwidth of the links of rank v. */
double tacl__graph_node_bw(const tacl__graph_t *g, int v);

#endif
