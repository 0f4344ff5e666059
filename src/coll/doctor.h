/* doctor.h — the measuring side of `tacl doctor`, collective over the world: it joins the world
 * without requiring a connected graph, gathers every rank's link notes, measures latency and
 * bandwidth of each directly linked pair (pairs scheduled in rounds so each rank is in one pair
 * at a time, each pair bounded in time), runs collective smoke tests with checked values when
 * the graph is connected, and gathers everything into a report on rank 0
 * (topo/doctor_report.h says what the report holds and how it is worded; coll/doctor_gather.h
 * how it travels). Also declares the
 * world entry points (defined in world.c) that the doctor builds on. */
#ifndef TACL_COLL_DOCTOR_H
#define TACL_COLL_DOCTOR_H

#include "coll/comm.h"
#include "topo/doctor_report.h"

#include <stdio.h>

typedef struct {
    double pair_timeout_s; /* bound per measured pair and per smoke test (<= 0: setting) */
    size_t max_bytes;      /* largest streamed message (0: TACL_DOCTOR_BYTES) */
    int smoke;             /* run the collective smoke tests (when the graph is connected) */
    FILE *progress;        /* progress lines (rank 0 only), or NULL */
} tacl__doctor_opts_t;

/* Runs the doctor on this rank (collective over the world it joins from the environment).
 * On success *rank is this rank and *out holds the gathered report on rank 0, NULL on the
 * others (rank 0 alone reports; no other rank holds anything of size ranks x ranks). Fails
 * when the world cannot be joined (bootstrap, store, engine) or a gather through the store
 * fails (a rank gone, a malformed record), with that error. */
tacl_status_t tacl__doctor_run(const tacl__doctor_opts_t *opts, int *rank,
                               tacl__doctor_report_t **out, tacl__errbuf_t *eb);

/* world.c: the world without its communicator. With allow_disconnected, a graph of several
 * components is not an error (*ncomp > 1; next hops only for direct links). */
tacl_status_t world_open(const tacl_init_opts_t *opts, int allow_disconnected, tacl__world_t **out,
                         int *ncomp, tacl__errbuf_t *eb);
/* world.c: the world communicator over every rank of w (needs a connected graph); on success it
 * owns w (tacl_comm_destroy releases it). */
tacl_status_t world_comm_create(tacl__world_t *w, tacl_comm_t **out, tacl__errbuf_t *eb);

#endif
