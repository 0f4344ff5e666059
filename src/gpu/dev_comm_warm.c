/* dev_comm_warm.c — a new device communicator's checked warm-up and blocking working comm. */
#include "gpu/dev_comm.h"
#include "gpu/dev_comm_int.h"
#include "clock.h"
#include "settings.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Bytes of the big warm-up all-reduce: large enough for NCCL to pick its bandwidth algorithm,
 * so that its connections too are made then and not in a later call. */
#define DEV_WARM_BIG (8u << 20)

/* Waits out ncclInProgress (a non-blocking communicator enqueuing) until deadline. */
static ncclResult_t dev_settle(const tacl__nccl_t *f, ncclComm_t comm, ncclResult_t r,
                               uint64_t deadline)
{
    unsigned us = 20;
    while (r == ncclInProgress && tacl__now_ns() < deadline) {
        if (f->CommGetAsyncError(comm, &r) != ncclSuccess) return ncclInternalError;
        if (r == ncclInProgress) tacl__dev_sleep_backoff(&us);
    }
    return r;
}

/* A checked warm-up of comm: a one-element all-reduce of 1.0f, which proves that every rank
 * reached the same communicator, and with big an 8 MiB one. NCCL connects peers lazily, at a
 * communicator's first calls, and a blocking communicator's connection setup cannot be
 * interrupted (a peer that died meanwhile holds it in NCCL's connect retries for about a
 * minute), so a communicator is warmed up where the wait is bounded. Every wait ends at
 * deadline: ncclInProgress then means the warm-up did not complete; why says what failed. */
static ncclResult_t dev_warm(const tacl__nccl_lib_t *nccl, const tacl__cudart_lib_t *rtl,
                             ncclComm_t comm, int size, int big, uint64_t deadline, char *why,
                             size_t whylen)
{
    const tacl__cudart_t *rt = &rtl->fn;
    const tacl__nccl_t *f = &nccl->fn;
    const size_t bytes = big ? DEV_WARM_BIG : sizeof(float);
    void *buf = NULL, *stream = NULL;
    ncclResult_t r = ncclSuccess;
    float one = 1.0f, got = 0.0f;
    tacl_cudaError_t e;
    if ((e = rt->Malloc(&buf, bytes)) != TACL_CUDA_SUCCESS ||
        (e = rt->StreamCreate(&stream)) != TACL_CUDA_SUCCESS ||
        (e = rt->Memset(buf, 0, bytes)) != TACL_CUDA_SUCCESS ||
        (e = rt->Memcpy(buf, &one, sizeof one, TACL_CUDA_MEMCPY_H2D)) != TACL_CUDA_SUCCESS) {
        rt->GetLastError();
        snprintf(why, whylen, "warm-up allocation failed: %s", tacl__cudart_strerror(rtl, e));
        r = ncclUnhandledCudaError;
        goto out;
    }
    r = dev_settle(f, comm, f->AllReduce(buf, buf, 1, ncclFloat32, ncclSum, comm, stream),
                   deadline);
    if (r == ncclSuccess && big)
        r = dev_settle(f, comm,
                       f->AllReduce((char *)buf + 256, (char *)buf + 256, (bytes - 256) / 4,
                                    ncclFloat32, ncclSum, comm, stream),
                       deadline);
    if (r != ncclSuccess) {
        snprintf(why, whylen, "warm-up all_reduce failed: %s", tacl__nccl_strerror(nccl, r));
        goto out;
    }
    unsigned us = 20;
    while ((e = rt->StreamQuery(stream)) == TACL_CUDA_ERROR_NOT_READY && tacl__now_ns() < deadline)
        tacl__dev_sleep_backoff(&us);
    if (e != TACL_CUDA_SUCCESS) {
        rt->GetLastError();
        snprintf(why, whylen, "warm-up all_reduce %s",
                 e == TACL_CUDA_ERROR_NOT_READY ? "did not complete in time (a peer may be gone)"
                                                : "failed on the GPU");
        r = e == TACL_CUDA_ERROR_NOT_READY ? ncclInProgress : ncclUnhandledCudaError;
        goto out;
    }
    if ((e = rt->Memcpy(&got, buf, sizeof got, TACL_CUDA_MEMCPY_D2H)) != TACL_CUDA_SUCCESS) {
        rt->GetLastError();
        snprintf(why, whylen, "warm-up copy failed: %s", tacl__cudart_strerror(rtl, e));
        r = ncclUnhandledCudaError;
    } else if (got != (float)size) {
        snprintf(why, whylen, "warm-up all_reduce gave %g, expected %d (the number of ranks)",
                 (double)got, size);
        r = ncclInternalError;
    }
out:
    /* cudaFree waits for the device: the stream and buffer of a warm-up still running (a peer
     * gone mid-way) stay allocated rather than hang here; the caller aborts the communicator. */
    if (!stream || rt->StreamQuery(stream) == TACL_CUDA_SUCCESS) {
        if (stream) rt->StreamDestroy(stream);
        if (buf) rt->Free(buf);
    } else {
        rt->GetLastError();
    }
    return r;
}

/* The new communicator's checked warm-up, bounded by its timeout. */
tacl_status_t tacl__dev_warmup(tacl_dev_comm_t *dc)
{
    char why[160];
    ncclResult_t r = dev_warm(dc->nccl, dc->rt, dc->comm, dc->size, 0,
                              tacl__deadline_ns(dc->timeout_s), why, sizeof why);
    if (r == ncclSuccess) return TACL_OK;
    return tacl__err(&dc->eb, r == ncclInProgress ? TACL_ERR_TIMEOUT : TACL_ERR_GPU, TACL_SUB_GPU,
                     "rank %d (GPU %d): %s (%s)", dc->rank, dc->device, why,
                     tacl__dev_nccl_detail(dc));
}

/* ---- The working communicator. ----
 * A non-blocking communicator bounds init by the timeout, but NCCL then enqueues every call in
 * the background (tens of microseconds per small collective). Once the non-blocking one has
 * proved every rank present (init and warm-up), a second, blocking communicator is made for the
 * work, its init run in a thread so that the caller's wait stays bounded; if any rank cannot
 * make it in time, every rank keeps the non-blocking one. TACL_NCCL_BLOCKING=0 skips this. */
typedef struct {
    /* Copies of what the thread needs: the caller may be gone when it ends. */
    const tacl__nccl_lib_t *nccl;
    const tacl__cudart_lib_t *rt;
    int rank, size, device;
    double timeout_s;
    ncclUniqueId id;
    ncclComm_t comm;
    ncclResult_t r;
    char why[160]; /* what failed, when r != ncclSuccess */
    int done, abandoned;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} dev_init_job_t;

static void *dev_init_thread(void *arg)
{
    dev_init_job_t *j = arg;
    const tacl__nccl_t *f = &j->nccl->fn;
    uint64_t deadline = tacl__deadline_ns(j->timeout_s);
    j->rt->fn.SetDevice(j->device);
    tacl_ncclConfig_t cfg = tacl__nccl_config(1);
    ncclComm_t comm = NULL;
    ncclResult_t r = f->CommInitRankConfig(&comm, j->size, j->id, j->rank, &cfg);
    while (r == ncclInProgress && comm) {
        if (f->CommGetAsyncError(comm, &r) != ncclSuccess) r = ncclInternalError;
        if (r == ncclInProgress) usleep(200);
    }
    if (r != ncclSuccess)
        snprintf(j->why, sizeof j->why, "ncclCommInitRankConfig failed: %s",
                 tacl__nccl_strerror(j->nccl, r));
    else
        r = dev_warm(j->nccl, j->rt, comm, j->size, 1, deadline, j->why, sizeof j->why);
    if (r != ncclSuccess && comm) {
        f->CommAbort(comm);
        comm = NULL;
    }
    pthread_mutex_lock(&j->mu);
    j->comm = comm;
    j->r = r;
    j->done = 1;
    int abandoned = j->abandoned;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (abandoned) { /* the caller gave up on us: clean up alone */
        if (comm) f->CommAbort(comm);
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        free(j);
    }
    return NULL;
}

tacl_status_t tacl__dev_working_comm(tacl_dev_comm_t *dc, const tacl__dev_boot_t *b)
{
    const tacl__nccl_t *f = &dc->nccl->fn;
    if (dc->blocking || !strcmp(tacl__setting_str(TACL_SET_NCCL_BLOCKING), "0") ||
        !f->CommInitRankConfig || !f->CommGetAsyncError || !f->CommAbort)
        return TACL_OK;
    struct {
        int32_t status;
        ncclUniqueId id;
    } uid;
    memset(&uid, 0, sizeof uid);
    if (b->rank == 0) uid.status = f->GetUniqueId(&uid.id);
    TACL_CHECK(b->bcast(b->ctx, &uid, sizeof uid, 0, &dc->eb));
    dev_init_job_t *j = NULL;
    int32_t ok = 0;
    if (uid.status == ncclSuccess && (j = calloc(1, sizeof *j))) {
        j->nccl = dc->nccl;
        j->rt = dc->rt;
        j->rank = dc->rank;
        j->size = dc->size;
        j->device = dc->device;
        j->timeout_s = dc->timeout_s;
        j->id = uid.id;
        pthread_mutex_init(&j->mu, NULL);
        pthread_cond_init(&j->cv, NULL);
        pthread_t t;
        if (pthread_create(&t, NULL, dev_init_thread, j) == 0) {
            pthread_detach(t);
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            double s = dc->timeout_s;
            until.tv_sec += (time_t)s;
            until.tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_mutex_lock(&j->mu);
            while (!j->done)
                if (pthread_cond_timedwait(&j->cv, &j->mu, &until) != 0) break;
            ok = j->done && j->r == ncclSuccess;
            if (!j->done) j->abandoned = 1;
            if (j->done && !ok)
                TACL_WARN(TACL_SUB_GPU, "rank %d: blocking working communicator: %s", dc->rank,
                          j->why);
            pthread_mutex_unlock(&j->mu);
            if (!ok && j->abandoned) j = NULL; /* the thread frees it */
        } else {
            free(j);
            j = NULL;
        }
    }
    int32_t *flags = calloc((size_t)dc->size, sizeof *flags);
    tacl_status_t st = flags ? b->allgather(b->ctx, &ok, sizeof ok, flags, &dc->eb)
                             : tacl__err(&dc->eb, TACL_ERR_NOMEM, TACL_SUB_GPU, "out of memory");
    int all = st == TACL_OK;
    for (int r = 0; all && r < dc->size; r++)
        all = flags[r] == 1;
    if (all) {
        f->CommAbort(dc->comm); /* the probe: idle, every rank switches together */
        dc->comm = j->comm;
        dc->blocking = 1;
        TACL_INFO(TACL_SUB_GPU, "rank %d: blocking working communicator ready", dc->rank);
    } else {
        char who[256];
        if (flags) tacl__dev_rank_list(flags, dc->size, 1, who, sizeof who);
        TACL_WARN(TACL_SUB_GPU,
                  "rank %d: keeping the non-blocking NCCL communicator (small calls are slower): "
                  "rank(s) %s could not make a blocking one within %.1f s",
                  dc->rank, flags ? who : "?", dc->timeout_s);
        if (j && j->done && j->comm) f->CommAbort(j->comm);
    }
    if (j) {
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        free(j);
    }
    free(flags);
    return st;
}
