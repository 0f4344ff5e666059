/* nodelist.h — Slurm's compact host-list syntax ("gpu[01-03,07],cpu5,node[1-2]-ib") and its
 * tasks-per-node syntax ("2(x3),1"), parsed strictly: malformed input gives TACL_ERR_INVALID
 * with a message naming the column and what was expected, never a guess. The bootstrap uses
 * them to find the host of rank 0 and the number of tasks on this node. */
#ifndef TACL_BOOT_NODELIST_H
#define TACL_BOOT_NODELIST_H

#include "err.h"

#include <stddef.h>

/* The most hosts a list may expand to when the caller gives no limit. */
#define TACL_NODELIST_MAX 1000000

typedef struct {
    char **hosts; /* count names, in Slurm's order */
    size_t count;
} tacl__nodelist_t;

/* Expands spec into every host name it denotes. Several bracket groups in one name multiply
 * (the leftmost varies slowest); zero padding follows the width of a range's lower bound.
 * max_hosts 0 means TACL_NODELIST_MAX. *out is set only on success; free it with
 * tacl__nodelist_free. */
tacl_status_t tacl__nodelist_expand(const char *spec, size_t max_hosts, tacl__nodelist_t *out);
void tacl__nodelist_free(tacl__nodelist_t *nl);

/* Validates the whole of spec and writes its first host into buf, without expanding the rest
 * (a list of a million nodes costs nothing). *count, when not NULL, receives the host count. */
tacl_status_t tacl__nodelist_first(const char *spec, char *buf, size_t len, size_t *count);

/* SLURM_TASKS_PER_NODE syntax: comma-separated "N" or "N(xM)" (N tasks on each of M nodes).
 * Writes the task count of node node_id (0-based). node_id < 0 asks for the count every node
 * shares; when nodes differ that is TACL_ERR_NOT_FOUND naming the counts found (malformed
 * input is TACL_ERR_INVALID). */
tacl_status_t tacl__slurm_tasks_per_node(const char *spec, int node_id, int *out);

#endif
