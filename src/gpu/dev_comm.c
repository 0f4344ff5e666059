/* dev_comm.c — device communicators: creation (NCCL versions compared across ranks, rank 0's
 * unique id broadcast, non-blocking ncclCommInitRankConfig polled under the timeout, a host-side
 * all-gather of "joined" flags so that every rank names the ranks that never joined), a destroy
 * that cannot hang (abort when finalize does not complete in time) and the accessors.
 * dev_comm_warm.c owns the warm-up and the blocking working communicator; dev_comm_check.c the
 * asynchronous-error and liveness watch and the bounded waits; dev_coll.c the collectives. */
#include "gpu/dev_comm.h"
#include "gpu/dev_comm_int.h"
#include "clock.h"
#include "settings.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What every rank tells the others before NCCL is touched. */
typedef struct {
    int32_t version; /* NCCL version loaded, or -1 */
    int32_t status;  /* tacl_status_t of this rank's preparation */
    int32_t device;
    int32_t pad;
} dev_hello_t;

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
void tacl__dev_rank_list(const int32_t *flags, int n, int32_t ok, char *buf, size_t len)
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
        tacl__dev_sleep_backoff(&us);
        ncclResult_t q = f->CommGetAsyncError(dc->comm, &r);
        if (q != ncclSuccess) return q;
    }
    return r;
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
                     tacl__nccl_strerror(dc->nccl, r), tacl__dev_nccl_detail(dc));
        TACL_WARN(TACL_SUB_GPU, "%s", my_err);
        tacl__dev_abort(dc);
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
        tacl__dev_rank_list(flags, b->size, 1, missing, sizeof missing);
        if (any_failed) {
            for (int q = 0; q < b->size; q++)
                flags[q] = flags[q] == -1 ? 0 : 1;
            tacl__dev_rank_list(flags, b->size, 1, failed, sizeof failed);
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
    if ((st = tacl__dev_warmup(dc)) != TACL_OK) goto err_abort;
    /* 6. The working communicator. */
    if ((st = tacl__dev_working_comm(dc, b)) != TACL_OK) goto err_abort;
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
    tacl__dev_abort(dc);
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
            tacl__dev_abort(dc);
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
