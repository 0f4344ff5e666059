/* dev_comm.c — device communicators: creation (NCCL versions compared across ranks, rank 0's
 * unique id broadcast, non-blocking ncclCommInitRankConfig polled under the timeout, a host-side
 * all-gather of "joined" flags so that every rank names the ranks that never joined, a warm-up
 * all-reduce checked for its value), the asynchronous-error watch, bounded stream waits and a
 * destroy that cannot hang (abort when finalize does not complete in time). */
#include "gpu/dev_comm.h"
#include "clock.h"
#include "settings.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What every rank tells the others before NCCL is touched. */
typedef struct {
    int32_t version; /* NCCL version loaded, or -1 */
    int32_t status;  /* tacl_status_t of this rank's preparation */
    int32_t device;
    int32_t pad;
} dev_hello_t;

static void dev_sleep_backoff(unsigned *us)
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
        if (now - start > DEV_SPIN_NS) dev_sleep_backoff(&us);
        if (dc->nccl->fn.CommGetAsyncError(dc->comm, &r) != ncclSuccess) return ncclInternalError;
    }
    return r;
}

static const char *dev_nccl_detail(tacl_dev_comm_t *dc)
{
    if (dc->nccl->fn.GetLastError && dc->comm) {
        const char *s = dc->nccl->fn.GetLastError(dc->comm);
        if (s && s[0]) return s;
    }
    return "no further detail";
}

static void dev_abort(tacl_dev_comm_t *dc)
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
        dev_abort(dc);
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
    return tacl__err(&dc->eb, a == ncclRemoteError ? TACL_ERR_PEER_LOST : TACL_ERR_GPU,
                     TACL_SUB_GPU,
                     "rank %d (GPU %d): NCCL reports an asynchronous error: %s (%s); a peer may "
                     "have failed or exited",
                     dc->rank, dc->device, tacl__nccl_strerror(dc->nccl, a), dev_nccl_detail(dc));
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
            dev_abort(dc);
            return tacl__err(&dc->eb, TACL_ERR_TIMEOUT, TACL_SUB_GPU,
                             "rank %d (GPU %d): device work did not complete within %.1f s (a peer "
                             "of the %d-rank communicator may be gone); the communicator was "
                             "aborted",
                             dc->rank, dc->device, dc->timeout_s, dc->size);
        }
        dev_sleep_backoff(&us);
    }
}

static tacl_status_t dev_boot_single_bcast(void *ctx, void *buf, size_t len, int root,
                                           tacl__errbuf_t *eb)
{
    (void)ctx, (void)buf, (void)len, (void)root, (void)eb;
    return TACL_OK;
}

static tacl_status_t dev_boot_single_allgather(void *ctx, const void *mine, size_t len, void *all,
                                               tacl__errbuf_t *eb)
{
    (void)ctx, (void)eb;
    memcpy(all, mine, len);
    return TACL_OK;
}

tacl__dev_boot_t tacl__dev_boot_single(double timeout_s)
{
    tacl__dev_boot_t b = {
        dev_boot_single_bcast, dev_boot_single_allgather, NULL, 0, 1, timeout_s, NULL, NULL};
    return b;
}

/* Writes "1, 3, 4" (the ranks whose flag differs from ok) into buf. */
static void dev_rank_list(const int32_t *flags, int n, int32_t ok, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int r = 0; r < n && o < len; r++)
        if (flags[r] != ok) o += (size_t)snprintf(buf + o, len - o, "%s%d", o ? ", " : "", r);
}

/* Checks this rank's side before anything collective happens: libraries, device index. */
static tacl_status_t dev_prepare(tacl_dev_comm_t *dc, int device)
{
    TACL_CHECK(tacl__nccl_get(&dc->nccl, &dc->eb));
    TACL_CHECK(tacl__cudart_get(&dc->rt, &dc->eb));
    int n = 0;
    tacl_cudaError_t e = dc->rt->fn.GetDeviceCount(&n);
    if (e != TACL_CUDA_SUCCESS) {
        dc->rt->fn.GetLastError();
        return tacl__err(&dc->eb, TACL_ERR_UNAVAILABLE, TACL_SUB_GPU,
                         "rank %d: cudaGetDeviceCount failed: %s", dc->rank,
                         tacl__cudart_strerror(dc->rt, e));
    }
    if (device < 0 || device >= n)
        return tacl__err(&dc->eb, TACL_ERR_INVALID, TACL_SUB_GPU,
                         "rank %d: GPU %d does not exist (this process sees %d GPU(s))", dc->rank,
                         device, n);
    return TACL_OK;
}

/* Polls a non-blocking init until it completes or the deadline passes. */
static ncclResult_t dev_init_nccl(tacl_dev_comm_t *dc, ncclUniqueId id, int *timed_out)
{
    const tacl__nccl_t *f = &dc->nccl->fn;
    *timed_out = 0;
    if (!f->CommInitRankConfig || !f->CommGetAsyncError) {
        /* NCCL < 2.14: blocking init only, which no deadline can bound. */
        TACL_WARN(TACL_SUB_GPU,
                  "rank %d: this NCCL has no non-blocking init; ncclCommInitRank cannot be "
                  "bounded by the timeout",
                  dc->rank);
        return f->CommInitRank(&dc->comm, dc->size, id, dc->rank);
    }
    /* Non-blocking (the default) bounds init by the timeout, but NCCL then enqueues every call
     * in the background, which costs tens of microseconds per small collective; TACL_NCCL_BLOCKING
     * trades the bounded init for NCCL's direct enqueue. */
    int blocking = !strcmp(tacl__setting_str(TACL_SET_NCCL_BLOCKING), "1");
    dc->blocking = blocking;
    if (blocking)
        TACL_INFO(TACL_SUB_GPU, "rank %d: blocking NCCL communicator (TACL_NCCL_BLOCKING=1)",
                  dc->rank);
    tacl_ncclConfig_t cfg = tacl__nccl_config(blocking);
    ncclResult_t r = f->CommInitRankConfig(&dc->comm, dc->size, id, dc->rank, &cfg);
    if (r != ncclInProgress) return r;
    uint64_t deadline = tacl__deadline_ns(dc->timeout_s);
    unsigned us = 50;
    while (r == ncclInProgress) {
        if (tacl__ms_left(deadline) == 0) {
            *timed_out = 1;
            return ncclInProgress;
        }
        dev_sleep_backoff(&us);
        ncclResult_t q = f->CommGetAsyncError(dc->comm, &r);
        if (q != ncclSuccess) return q;
    }
    return r;
}

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
        if (r == ncclInProgress) dev_sleep_backoff(&us);
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
        dev_sleep_backoff(&us);
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
static tacl_status_t dev_warmup(tacl_dev_comm_t *dc)
{
    char why[160];
    ncclResult_t r = dev_warm(dc->nccl, dc->rt, dc->comm, dc->size, 0,
                              tacl__deadline_ns(dc->timeout_s), why, sizeof why);
    if (r == ncclSuccess) return TACL_OK;
    return tacl__err(&dc->eb, r == ncclInProgress ? TACL_ERR_TIMEOUT : TACL_ERR_GPU, TACL_SUB_GPU,
                     "rank %d (GPU %d): %s (%s)", dc->rank, dc->device, why, dev_nccl_detail(dc));
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

static tacl_status_t dev_working_comm(tacl_dev_comm_t *dc, const tacl__dev_boot_t *b)
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
        if (flags) dev_rank_list(flags, dc->size, 1, who, sizeof who);
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

tacl_status_t tacl__dev_comm_create_boot(const tacl__dev_boot_t *b, int device,
                                         tacl_dev_comm_t **out)
{
    if (!b || !out || b->size < 1 || b->rank < 0 || b->rank >= b->size)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_GPU,
                         "device communicator: bad bootstrap (rank %d of %d) or NULL output",
                         b ? b->rank : -1, b ? b->size : 0);
    tacl_dev_comm_t *dc = calloc(1, sizeof *dc);
    if (!dc) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_GPU, "out of memory");
    dc->rank = b->rank;
    dc->size = b->size;
    dc->device = device;
    dc->timeout_s = b->timeout_s > 0 ? b->timeout_s : tacl__setting_dbl(TACL_SET_TIMEOUT);
    dc->alive = b->alive;
    dc->live_gen = b->live_gen;
    dc->alive_ctx = b->ctx;
    const char *cb = tacl__setting_str(TACL_SET_GPU_CHECK_BUFFERS);
    dc->check_bufs = !strcmp(cb, "0") ? 0 : !strcmp(cb, "cache") ? 1 : 2;
    if (dc->check_bufs == 2 && strcmp(cb, "always"))
        TACL_WARN(TACL_SUB_GPU, "TACL_GPU_CHECK_BUFFERS=%s is not always, cache or 0; using always",
                  cb);
    char my_err[TACL_ERRMSG_MAX] = "";
    tacl_status_t st;
    int32_t *flags = NULL;
    dev_hello_t *hello = calloc((size_t)b->size, sizeof *hello);
    flags = calloc((size_t)b->size, sizeof *flags);
    if (!hello || !flags) {
        st = tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_GPU, "out of memory");
        goto err_free;
    }

    /* 1. Every rank says which NCCL it loaded (or that it could not), then all decide alike. */
    dev_hello_t me = {-1, TACL_OK, device, 0};
    me.status = dev_prepare(dc, device);
    if (me.status == TACL_OK)
        me.version = dc->nccl->version;
    else
        memcpy(my_err, dc->eb.msg, sizeof my_err);
    if ((st = b->allgather(b->ctx, &me, sizeof me, hello, &dc->eb)) != TACL_OK) goto err_free;
    {
        char bad[256], vers[768];
        size_t o = 0;
        int nbad = 0, differ = 0;
        bad[0] = vers[0] = '\0';
        for (int r = 0; r < b->size; r++) {
            if (hello[r].status != TACL_OK) {
                o += (size_t)snprintf(bad + o, o < sizeof bad ? sizeof bad - o : 0, "%s%d",
                                      nbad ? ", " : "", r);
                nbad++;
            }
            if (hello[r].version != hello[0].version) differ = 1;
        }
        if (nbad) {
            st = tacl__err(
                &dc->eb, me.status != TACL_OK ? (tacl_status_t)me.status : TACL_ERR_UNAVAILABLE,
                TACL_SUB_GPU,
                "device communicator: rank(s) %s could not prepare NCCL on their GPU%s%s", bad,
                my_err[0] ? "; here: " : "", my_err);
            goto err_free;
        }
        if (differ) {
            size_t v = 0;
            for (int r = 0; r < b->size && v < sizeof vers; r++) {
                char s[32];
                tacl__nccl_version_str(hello[r].version, s, sizeof s);
                v += (size_t)snprintf(vers + v, sizeof vers - v, "%srank %d: %s", r ? ", " : "", r,
                                      s);
            }
            st = tacl__err(&dc->eb, TACL_ERR_MISMATCH, TACL_SUB_GPU,
                           "device communicator: ranks loaded different NCCL versions (%s); set "
                           "TACL_NCCL_SO_PATH or TACL_USE_PYTORCH_NCCL alike on every rank",
                           vers);
            goto err_free;
        }
    }
    dc->version = dc->nccl->version;

    /* 2. Rank 0's unique id (prefixed by its status) goes to every rank. */
    struct {
        int32_t status;
        ncclUniqueId id;
    } uid;
    memset(&uid, 0, sizeof uid);
    if (b->rank == 0) {
        ncclResult_t r = dc->nccl->fn.GetUniqueId(&uid.id);
        uid.status = r;
        if (r != ncclSuccess)
            tacl__err(&dc->eb, TACL_ERR_GPU, TACL_SUB_GPU, "rank 0: ncclGetUniqueId failed: %s",
                      tacl__nccl_strerror(dc->nccl, r));
    }
    if ((st = b->bcast(b->ctx, &uid, sizeof uid, 0, &dc->eb)) != TACL_OK) goto err_free;
    if (uid.status != ncclSuccess) {
        st = tacl__err(&dc->eb, TACL_ERR_GPU, TACL_SUB_GPU,
                       "device communicator: rank 0 could not create an NCCL unique id: %s",
                       tacl__nccl_strerror(dc->nccl, (ncclResult_t)uid.status));
        goto err_free;
    }

    /* 3. Non-blocking init under the deadline. */
    int prev = -1, timed_out = 0;
    dc->rt->fn.GetDevice(&prev);
    dc->rt->fn.SetDevice(device);
    ncclResult_t r = dev_init_nccl(dc, uid.id, &timed_out);
    if (r != ncclSuccess) {
        if (timed_out)
            snprintf(my_err, sizeof my_err, "rank %d: NCCL init did not complete within %.1f s",
                     dc->rank, dc->timeout_s);
        else
            snprintf(my_err, sizeof my_err, "rank %d: NCCL init failed: %s (%s)", dc->rank,
                     tacl__nccl_strerror(dc->nccl, r), dev_nccl_detail(dc));
        TACL_WARN(TACL_SUB_GPU, "%s", my_err);
        dev_abort(dc);
    }

    /* 4. Who joined: every rank learns the same list, so that all report the same ranks. */
    /* 1: joined; 0: did not complete in time; -1: NCCL refused (a quick, named failure, such as
     * two ranks on one GPU, is not a timeout). */
    int32_t joined = r == ncclSuccess ? 1 : timed_out ? 0 : -1;
    if ((st = b->allgather(b->ctx, &joined, sizeof joined, flags, &dc->eb)) != TACL_OK)
        goto err_abort;
    {
        char missing[256], failed[256];
        int any_failed = 0;
        for (int q = 0; q < b->size; q++)
            any_failed |= flags[q] == -1;
        dev_rank_list(flags, b->size, 1, missing, sizeof missing);
        if (any_failed) {
            for (int q = 0; q < b->size; q++)
                flags[q] = flags[q] == -1 ? 0 : 1;
            dev_rank_list(flags, b->size, 1, failed, sizeof failed);
            st = tacl__err(&dc->eb, TACL_ERR_GPU, TACL_SUB_GPU,
                           "device communicator of %d ranks: NCCL init failed on rank(s) %s%s%s",
                           b->size, failed, my_err[0] ? "; " : "", my_err);
            goto err_abort;
        }
        if (missing[0]) {
            st = tacl__err(&dc->eb, TACL_ERR_TIMEOUT, TACL_SUB_GPU,
                           "device communicator of %d ranks: rank(s) %s never joined NCCL within "
                           "%.1f s%s%s",
                           b->size, missing, dc->timeout_s, my_err[0] ? "; " : "", my_err);
            goto err_abort;
        }
    }

    /* 5. Warm-up. */
    if ((st = dev_warmup(dc)) != TACL_OK) goto err_abort;
    /* 6. The working communicator. */
    if ((st = dev_working_comm(dc, b)) != TACL_OK) goto err_abort;
    if (prev >= 0) dc->rt->fn.SetDevice(prev);
    char v[32];
    tacl__nccl_version_str(dc->version, v, sizeof v);
    TACL_INFO(TACL_SUB_GPU, "rank %d: device communicator of %d ranks on GPU %d ready (NCCL %s)",
              dc->rank, dc->size, device, v);
    free(hello);
    free(flags);
    *out = dc;
    return TACL_OK;

err_abort:
    dev_abort(dc);
    if (prev >= 0) dc->rt->fn.SetDevice(prev);
err_free:
    free(hello);
    free(flags);
    free(dc);
    return st;
}

void tacl_dev_comm_destroy(tacl_dev_comm_t *dc)
{
    if (!dc) return;
    if (dc->comm) {
        const tacl__nccl_t *f = &dc->nccl->fn;
        int prev = -1;
        dc->rt->fn.GetDevice(&prev);
        dc->rt->fn.SetDevice(dc->device);
        int clean = 0;
        if (!dc->broken && f->CommFinalize && f->CommGetAsyncError) {
            double saved = dc->timeout_s;
            /* Finalize waits for outstanding work, which a dead peer can block forever. */
            if (dc->timeout_s > 30) dc->timeout_s = 30;
            ncclResult_t r = tacl__dev_wait_nccl(dc, f->CommFinalize(dc->comm));
            dc->timeout_s = saved;
            clean = r == ncclSuccess;
            if (!clean)
                TACL_WARN(TACL_SUB_GPU,
                          "rank %d (GPU %d): ncclCommFinalize did not complete (%s); aborting the "
                          "communicator",
                          dc->rank, dc->device,
                          r == ncclInProgress ? "timed out" : tacl__nccl_strerror(dc->nccl, r));
        }
        if (clean)
            f->CommDestroy(dc->comm);
        else
            dev_abort(dc);
        dc->comm = NULL;
        if (prev >= 0) dc->rt->fn.SetDevice(prev);
    }
    free(dc);
}

int tacl_dev_comm_rank(const tacl_dev_comm_t *dc)
{
    return dc ? dc->rank : -1;
}

int tacl_dev_comm_size(const tacl_dev_comm_t *dc)
{
    return dc ? dc->size : 0;
}

int tacl_dev_comm_device(const tacl_dev_comm_t *dc)
{
    return dc ? dc->device : -1;
}

int tacl_dev_comm_nccl_version(const tacl_dev_comm_t *dc)
{
    return dc ? dc->version : 0;
}

void tacl_dev_comm_set_timeout(tacl_dev_comm_t *dc, double timeout_s)
{
    if (dc && timeout_s > 0) dc->timeout_s = timeout_s;
}

const char *tacl_dev_comm_last_error(const tacl_dev_comm_t *dc)
{
    return dc ? dc->eb.msg : "device communicator is NULL";
}

tacl_status_t tacl_nccl_loaded(int *version, const char **path)
{
    const tacl__nccl_lib_t *lib;
    TACL_CHECK(tacl__nccl_get(&lib, NULL));
    if (version) *version = lib->version;
    /* The file actually loaded (a soname candidate resolves to one). */
    const gpu_cand_t *c = &lib->cand[lib->chosen];
    if (path) *path = c->file[0] ? c->file : c->path;
    return TACL_OK;
}
