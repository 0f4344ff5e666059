/* dev_comm_int.h — what dev_comm.c, dev_comm_check.c and dev_comm_warm.c share, no one else. */
#ifndef TACL_GPU_DEV_COMM_INT_H
#define TACL_GPU_DEV_COMM_INT_H

#include "gpu/dev_comm.h"

#include <stddef.h>
#include <stdint.h>

/* dev_comm_check.c */

/* Sleeps *us microseconds, then doubles *us up to 1 ms: the back-off of every polling loop. */
void tacl__dev_sleep_backoff(unsigned *us);

/* NCCL's last error message for dc's communicator, or "no further detail". */
const char *tacl__dev_nccl_detail(tacl_dev_comm_t *dc);

/* Aborts dc's NCCL communicator (destroys it where NCCL has no abort) and marks dc broken; does
 * nothing when there is no communicator left. */
void tacl__dev_abort(tacl_dev_comm_t *dc);

/* dev_comm.c */

/* Writes "1, 3, 4" (the ranks whose flag differs from ok) into buf. */
void tacl__dev_rank_list(const int32_t *flags, int n, int32_t ok, char *buf, size_t len);

/* dev_comm_warm.c */

/* The new communicator's checked warm-up, bounded by its timeout. */
tacl_status_t tacl__dev_warmup(tacl_dev_comm_t *dc);

/* Replaces dc's non-blocking communicator by a blocking one when every rank of bootstrap b can
 * make it in time (collective over b; TACL_NCCL_BLOCKING=0 skips it). */
tacl_status_t tacl__dev_working_comm(tacl_dev_comm_t *dc, const tacl__dev_boot_t *b);

#endif
