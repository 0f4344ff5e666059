/* doctor_gather.h — what every rank of `tacl doctor` sends rank 0 for the report, through the
 * store (boot_store_gather_root: only rank 0 reads, so the store carries each record once and
 * no rank but rank 0 holds anything of size ranks x ranks): the rank's link notes, what it
 * measured of its pairs and why measurements failed, its smoke test results and its CPUs.
 * Rank 0 parses every record within bounds (a rank's bytes are checked, never trusted) and
 * fills the report; other ranks pass r = NULL. Every rank makes the same calls in the same
 * order. */
#ifndef TACL_COLL_DOCTOR_GATHER_H
#define TACL_COLL_DOCTOR_GATHER_H

#include "boot/store_coll.h"
#include "topo/doctor_report.h"

#include <stdint.h>

/* What a rank measured of its pair with one peer. */
typedef struct {
    double lat_us, gbs;            /* as tacl__doctor_link_t */
    char err[TACL_DOCTOR_MSG_MAX]; /* why the measurement failed ("" when it did not) */
} tacl__doctor_pair_t;

/* One smoke test as one rank saw it. */
typedef struct {
    int32_t ran, failed;
    double secs, gbs;
    char msg[TACL_DOCTOR_MSG_MAX];
} tacl__doctor_smoke_rank_t;

/* notes[j] (n strings; notes[me] empty): how this rank reached rank j, or why not. They travel
 * as their text only (n NUL-terminated strings), not as n fixed-size fields. */
tacl_status_t tacl__doctor_send_notes(boot_store_xchg_ctx_t *x, const char *const *notes,
                                      tacl__doctor_report_t *r, tacl__errbuf_t *eb);
/* row[j] for the peers j above this rank (the lower rank of a pair records it): the figures
 * (16 bytes a peer), then the failure texts of the pairs that have one. */
tacl_status_t tacl__doctor_send_pairs(boot_store_xchg_ctx_t *x, const tacl__doctor_pair_t *row,
                                      tacl__doctor_report_t *r, tacl__errbuf_t *eb);
/* res[TACL_DOCTOR_NSMOKE]: on rank 0, each test ran where any rank ran it, the slowest
 * rank's time, the slowest routed rate and the first failing rank's message. */
tacl_status_t tacl__doctor_send_smoke(boot_store_xchg_ctx_t *x,
                                      const tacl__doctor_smoke_rank_t *res,
                                      tacl__doctor_report_t *r, tacl__errbuf_t *eb);
tacl_status_t tacl__doctor_send_cpu(boot_store_xchg_ctx_t *x, const tacl__doctor_cpu_t *cpu,
                                    tacl__doctor_report_t *r, tacl__errbuf_t *eb);

#endif
