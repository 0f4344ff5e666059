/* dev_comm_check.c — device communicator errors, liveness, the abort and the bounded waits. */
#include "gpu/dev_comm.h"
#include "gpu/dev_comm_int.h"
#include "clock.h"

#include <stdint.h>
#include <unistd.h>

void tacl__dev_sleep_backoff(unsigned *us)
{
    usleep(*us);
    if (*us < 1000) *us *= 2;
}

/* A non-blocking communicator answers every call with ncclInProgress while NCCL enqueues it
 * in the background, which takes microseconds: poll without sleeping first (a sleep would add
 * tens of microseconds to every small collective), then back off for long waits such as lazy
 * connection setup. */
#define DEV_SPIN_NS 500000ull

ncclResult_t tacl__dev_wait_nccl(tacl_dev_comm_t *dc, ncclResult_t r)
{
    if (r != ncclInProgress || !dc->nccl->fn.CommGetAsyncError) return r;
    uint64_t start = tacl__now_ns(), deadline = tacl__deadline_ns(dc->timeout_s);
    unsigned us = 20;
    while (r == ncclInProgress) {
        uint64_t now = tacl__now_ns();
        if (now >= deadline) return ncclInProgress;
        if (now - start > DEV_SPIN_NS) tacl__dev_sleep_backoff(&us);
        if (dc->nccl->fn.CommGetAsyncError(dc->comm, &r) != ncclSuccess) return ncclInternalError;
    }
    return r;
}

const char *tacl__dev_nccl_detail(tacl_dev_comm_t *dc)
{
    if (dc->nccl->fn.GetLastError && dc->comm) {
        const char *s = dc->nccl->fn.GetLastError(dc->comm);
        if (s && s[0]) return s;
    }
    return "no further detail";
}

void tacl__dev_abort(tacl_dev_comm_t *dc)
{
    if (!dc->comm) return;
    if (dc->nccl->fn.CommAbort)
        dc->nccl->fn.CommAbort(dc->comm);
    else
        dc->nccl->fn.CommDestroy(dc->comm);
    dc->comm = NULL;
    dc->broken = 1;
}

tacl_status_t tacl_dev_comm_check(tacl_dev_comm_t *dc)
{
    if (!dc) return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_GPU, "device communicator is NULL");
    if (!dc->comm)
        return tacl__err(&dc->eb, TACL_ERR_CLOSED, TACL_SUB_GPU,
                         "rank %d: the device communicator on GPU %d was aborted after an earlier "
                         "error",
                         dc->rank, dc->device);
    /* The host side's liveness: a per-rank look only when something changed since every rank
     * was last found alive (the common case costs one atomic load). */
    unsigned gen = dc->live_gen ? dc->live_gen(dc->alive_ctx) : 0;
    int look = dc->alive && !(dc->live_gen && dc->alive_known && gen == dc->alive_gen);
    for (int r = 0; look && r < dc->size; r++) {
        if (r == dc->rank || dc->alive(dc->alive_ctx, r)) continue;
        /* The host side saw the peer go: abort now, so that kernels waiting for it end and
         * the caller is not left to NCCL's own, much later, detection. */
        tacl__dev_abort(dc);
        return tacl__err(&dc->eb, TACL_ERR_PEER_LOST, TACL_SUB_GPU,
                         "rank %d (GPU %d): rank %d of the device communicator was lost (seen by "
                         "the host communicator); the NCCL communicator was aborted",
                         dc->rank, dc->device, r);
    }
    if (look) {
        dc->alive_gen = gen;
        dc->alive_known = 1;
    }
    if (!dc->nccl->fn.CommGetAsyncError) return TACL_OK;
    ncclResult_t a = ncclSuccess;
    ncclResult_t r = dc->nccl->fn.CommGetAsyncError(dc->comm, &a);
    if (r == ncclSuccess && (a == ncclSuccess || a == ncclInProgress)) return TACL_OK;
    if (r != ncclSuccess) a = r;
    dc->broken = 1;
    return tacl__err(
        &dc->eb, a == ncclRemoteError ? TACL_ERR_PEER_LOST : TACL_ERR_GPU, TACL_SUB_GPU,
        "rank %d (GPU %d): NCCL reports an asynchronous error: %s (%s); a peer may "
        "have failed or exited",
        dc->rank, dc->device, tacl__nccl_strerror(dc->nccl, a), tacl__dev_nccl_detail(dc));
}

tacl_status_t tacl_dev_comm_sync(tacl_dev_comm_t *dc, void *stream)
{
    TACL_CHECK(tacl_dev_comm_check(dc));
    uint64_t deadline = tacl__deadline_ns(dc->timeout_s);
    unsigned us = 10;
    for (;;) {
        tacl_cudaError_t e = dc->rt->fn.StreamQuery(stream);
        if (e == TACL_CUDA_SUCCESS) return TACL_OK;
        if (e != TACL_CUDA_ERROR_NOT_READY) {
            dc->rt->fn.GetLastError();
            return tacl__err(&dc->eb, TACL_ERR_GPU, TACL_SUB_GPU,
                             "rank %d (GPU %d): the stream failed: %s (CUDA error %d)", dc->rank,
                             dc->device, tacl__cudart_strerror(dc->rt, e), e);
        }
        TACL_CHECK(tacl_dev_comm_check(dc));
        if (tacl__ms_left(deadline) == 0) {
            /* Abort so that NCCL kernels waiting on a dead peer end and the stream drains. */
            tacl__dev_abort(dc);
            return tacl__err(&dc->eb, TACL_ERR_TIMEOUT, TACL_SUB_GPU,
                             "rank %d (GPU %d): device work did not complete within %.1f s (a peer "
                             "of the %d-rank communicator may be gone); the communicator was "
                             "aborted",
                             dc->rank, dc->device, dc->timeout_s, dc->size);
        }
        tacl__dev_sleep_backoff(&us);
    }
}
