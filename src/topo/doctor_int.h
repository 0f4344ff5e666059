/* doctor_int.h — what the doctor report's files share (doctor_report.c, doctor_verdict.c,
 * doctor_output.c). */
#ifndef TACL_TOPO_DOCTOR_INT_H
#define TACL_TOPO_DOCTOR_INT_H

#include "topo/cluster.h"
#include "topo/doctor_report.h"

/* 1 when some rank pair of hosts a and b is directly linked (tacl__doctor_finish's hreach). */
static inline int tacl__doctor_hlinked(const tacl__doctor_report_t *r, int a, int b)
{
    return r->hreach[(size_t)a * (size_t)r->nhosts + (size_t)b];
}

/* The cluster description of what was measured (see tacl__doctor_write_json; doctor_output.c).
 * The verdict names the store host it picks. */
tacl_status_t tacl__doctor_to_cluster(const tacl__doctor_report_t *r, tacl_cluster_t **out);

#endif
