/* dev_extra.c — the optional NCCL features, used when the loaded NCCL has them: communicator
 * split (ncclCommSplit), buffer registration (ncclCommRegister), NCCL's allocator (ncclMemAlloc)
 * and symmetric windows (ncclCommWindowRegister). Without them each call returns
 * TACL_ERR_UNAVAILABLE naming the missing symbol and the loaded NCCL's version. */
#include "gpu/dev_comm.h"
#include "clock.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tacl_status_t extra_missing(tacl_dev_comm_t *dc, const tacl__nccl_lib_t *lib,
                                   const char *what, const char *sym)
{
    char v[32];
    tacl__nccl_version_str(lib->version, v, sizeof v);
    return tacl__err(dc ? &dc->eb : NULL, TACL_ERR_UNAVAILABLE, TACL_SUB_GPU,
                     "%s: the loaded NCCL %s (%s) has no %s", what, v, lib->cand[lib->chosen].file,
                     sym);
}

static tacl_status_t extra_result(tacl_dev_comm_t *dc, const char *what, ncclResult_t r)
{
    if (r == ncclSuccess) return TACL_OK;
    return tacl__err(&dc->eb, r == ncclInProgress ? TACL_ERR_TIMEOUT : TACL_ERR_GPU, TACL_SUB_GPU,
                     "%s: rank %d (GPU %d): %s", what, dc->rank, dc->device,
                     r == ncclInProgress ? "did not complete within the timeout"
                                         : tacl__nccl_strerror(dc->nccl, r));
}

tacl_status_t tacl_dev_comm_split(tacl_dev_comm_t *dc, int color, int key, tacl_dev_comm_t **out)
{
    static const char w[] = "tacl_dev_comm_split";
    if (!out) return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_GPU, "%s: out is NULL", w);
    TACL_CHECK(tacl_dev_comm_check(dc));
    const tacl__nccl_t *f = &dc->nccl->fn;
    if (!f->CommSplit || !f->CommGetAsyncError)
        return extra_missing(dc, dc->nccl, w, "ncclCommSplit");
    tacl_dev_comm_t *nc = calloc(1, sizeof *nc);
    if (!nc) return tacl__err(&dc->eb, TACL_ERR_NOMEM, TACL_SUB_GPU, "%s: out of memory", w);
    *nc = *dc;
    nc->comm = NULL;
    nc->group_depth = 0;
    memset(&nc->eb, 0, sizeof nc->eb);
    tacl_ncclConfig_t cfg = tacl__nccl_config(dc->blocking);
    /* NCCL_SPLIT_NOCOLOR is -1: this rank takes part in the split but joins no communicator. */
    ncclResult_t r = f->CommSplit(dc->comm, color < 0 ? -1 : color, key, &nc->comm, &cfg);
    if (r == ncclInProgress) {
        if (nc->comm) {
            r = tacl__dev_wait_nccl(nc, r);
        } else {
            /* No new communicator to poll (no color): the parent carries the state. */
            r = tacl__dev_wait_nccl(dc, r);
        }
    }
    if (r != ncclSuccess) {
        tacl_status_t st = extra_result(dc, w, r);
        if (nc->comm && f->CommAbort) f->CommAbort(nc->comm);
        free(nc);
        return st;
    }
    if (!nc->comm) {
        free(nc);
        if (color >= 0)
            return tacl__err(&dc->eb, TACL_ERR_GPU, TACL_SUB_GPU,
                             "%s: rank %d: ncclCommSplit (color %d) returned no communicator", w,
                             dc->rank, color);
        *out = NULL;
        return TACL_OK;
    }
    f->CommUserRank(nc->comm, &nc->rank);
    f->CommCount(nc->comm, &nc->size);
    *out = nc;
    return TACL_OK;
}

tacl_status_t tacl_dev_comm_register(tacl_dev_comm_t *dc, void *buf, size_t bytes, void **handle)
{
    static const char w[] = "tacl_dev_comm_register";
    TACL_CHECK(tacl_dev_comm_check(dc));
    if (!dc->nccl->fn.CommRegister) return extra_missing(dc, dc->nccl, w, "ncclCommRegister");
    if (!buf || !handle)
        return tacl__err(&dc->eb, TACL_ERR_INVALID, TACL_SUB_GPU,
                         "%s: buf and handle must not be NULL", w);
    void *h = NULL;
    TACL_CHECK(extra_result(
        dc, w, tacl__dev_wait_nccl(dc, dc->nccl->fn.CommRegister(dc->comm, buf, bytes, &h))));
    *handle = h;
    return TACL_OK;
}

tacl_status_t tacl_dev_comm_deregister(tacl_dev_comm_t *dc, void *handle)
{
    static const char w[] = "tacl_dev_comm_deregister";
    TACL_CHECK(tacl_dev_comm_check(dc));
    if (!dc->nccl->fn.CommDeregister) return extra_missing(dc, dc->nccl, w, "ncclCommDeregister");
    return extra_result(dc, w,
                        tacl__dev_wait_nccl(dc, dc->nccl->fn.CommDeregister(dc->comm, handle)));
}

tacl_status_t tacl_dev_comm_window_register(tacl_dev_comm_t *dc, void *buf, size_t bytes, int flags,
                                            void **win)
{
    static const char w[] = "tacl_dev_comm_window_register";
    TACL_CHECK(tacl_dev_comm_check(dc));
    if (!dc->nccl->fn.CommWindowRegister)
        return extra_missing(dc, dc->nccl, w, "ncclCommWindowRegister");
    if (!buf || !win)
        return tacl__err(&dc->eb, TACL_ERR_INVALID, TACL_SUB_GPU,
                         "%s: buf and win must not be NULL", w);
    void *h = NULL;
    TACL_CHECK(extra_result(
        dc, w,
        tacl__dev_wait_nccl(dc, dc->nccl->fn.CommWindowRegister(dc->comm, buf, bytes, &h, flags))));
    *win = h;
    return TACL_OK;
}

tacl_status_t tacl_dev_comm_window_deregister(tacl_dev_comm_t *dc, void *win)
{
    static const char w[] = "tacl_dev_comm_window_deregister";
    TACL_CHECK(tacl_dev_comm_check(dc));
    if (!dc->nccl->fn.CommWindowDeregister)
        return extra_missing(dc, dc->nccl, w, "ncclCommWindowDeregister");
    return extra_result(dc, w,
                        tacl__dev_wait_nccl(dc, dc->nccl->fn.CommWindowDeregister(dc->comm, win)));
}

tacl_status_t tacl_dev_mem_alloc(size_t bytes, void **out)
{
    const tacl__nccl_lib_t *lib;
    TACL_CHECK(tacl__nccl_get(&lib, NULL));
    if (!lib->fn.MemAlloc) return extra_missing(NULL, lib, "tacl_dev_mem_alloc", "ncclMemAlloc");
    if (!out)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_GPU, "tacl_dev_mem_alloc: out is NULL");
    void *p = NULL;
    ncclResult_t r = lib->fn.MemAlloc(&p, bytes);
    if (r != ncclSuccess)
        return tacl__err(NULL, r == ncclUnhandledCudaError ? TACL_ERR_NOMEM : TACL_ERR_GPU,
                         TACL_SUB_GPU, "tacl_dev_mem_alloc: ncclMemAlloc of %zu bytes failed: %s",
                         bytes, tacl__nccl_strerror(lib, r));
    *out = p;
    return TACL_OK;
}

tacl_status_t tacl_dev_mem_free(void *p)
{
    const tacl__nccl_lib_t *lib;
    TACL_CHECK(tacl__nccl_get(&lib, NULL));
    if (!lib->fn.MemFree) return extra_missing(NULL, lib, "tacl_dev_mem_free", "ncclMemFree");
    ncclResult_t r = lib->fn.MemFree(p);
    if (r != ncclSuccess)
        return tacl__err(NULL, TACL_ERR_GPU, TACL_SUB_GPU, "tacl_dev_mem_free: %s",
                         tacl__nccl_strerror(lib, r));
    return TACL_OK;
}
