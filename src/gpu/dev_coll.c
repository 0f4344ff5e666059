/* dev_coll.c — collectives and point-to-point on device memory through the loaded NCCL. Every
 * call passes one gate (dev_enter: handle, asynchronous-error watch, dtype/op mapping, buffers on
 * the communicator's GPU) and is enqueued on the caller's stream with no stream synchronisation,
 * so it can be captured in a CUDA graph. The only host wait is NCCL's own ncclInProgress (lazy
 * connection setup of a non-blocking communicator), bounded by the communicator's timeout. */
#include "gpu/dev_comm.h"

#include <stdint.h>
#include <string.h>

static const ncclDataType_t dev_dtype_map[TACL_DTYPE_COUNT] = {
    [TACL_INT8] = ncclInt8,       [TACL_UINT8] = ncclUint8,       [TACL_INT32] = ncclInt32,
    [TACL_UINT32] = ncclUint32,   [TACL_INT64] = ncclInt64,       [TACL_UINT64] = ncclUint64,
    [TACL_FLOAT16] = ncclFloat16, [TACL_BFLOAT16] = ncclBfloat16, [TACL_FLOAT32] = ncclFloat32,
    [TACL_FLOAT64] = ncclFloat64,
};

/* tacl's MIN/MAX order differs from NCCL's (ncclMax = 2, ncclMin = 3). */
static const ncclRedOp_t dev_op_map[TACL_OP_COUNT] = {
    [TACL_SUM] = ncclSum, [TACL_PROD] = ncclProd, [TACL_MIN] = ncclMin,
    [TACL_MAX] = ncclMax, [TACL_AVG] = ncclAvg,
};

static tacl_status_t dev_enter(tacl_dev_comm_t *dc, const char *what)
{
    if (!dc)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_GPU, "%s: device communicator is NULL",
                         what);
    tacl_status_t st = tacl_dev_comm_check(dc);
    if (st != TACL_OK) return tacl__err_prefix(&dc->eb, st, "%s", what);
    return TACL_OK;
}

static tacl_status_t dev_map(tacl_dev_comm_t *dc, const char *what, tacl_dtype_t dt, int use_op,
                             tacl_op_t op, ncclDataType_t *ndt, ncclRedOp_t *nop)
{
    if ((int)dt < 0 || dt >= TACL_DTYPE_COUNT)
        return tacl__err(&dc->eb, TACL_ERR_INVALID, TACL_SUB_GPU, "%s: unknown dtype %d", what,
                         (int)dt);
    if (dt == TACL_BFLOAT16 && dc->version < TACL_NCCL_VERSION(2, 10, 0))
        return tacl__err(&dc->eb, TACL_ERR_UNAVAILABLE, TACL_SUB_GPU,
                         "%s: bfloat16 needs NCCL >= 2.10 (loaded: %d)", what, dc->version);
    *ndt = dev_dtype_map[dt];
    if (!use_op) return TACL_OK;
    if ((int)op < 0 || op >= TACL_OP_COUNT)
        return tacl__err(&dc->eb, TACL_ERR_INVALID, TACL_SUB_GPU, "%s: unknown op %d", what,
                         (int)op);
    if (op == TACL_AVG && dc->version < TACL_NCCL_VERSION(2, 10, 0))
        return tacl__err(&dc->eb, TACL_ERR_UNAVAILABLE, TACL_SUB_GPU,
                         "%s: avg needs NCCL >= 2.10 (ncclAvg); the loaded NCCL is %d", what,
                         dc->version);
    *nop = dev_op_map[op];
    return TACL_OK;
}

/* Two-way set-associative: an address may sit in slot s or s ^ 1 of a multiplicative hash,
 * so that a call's send and receive buffers never evict each other. */
static size_t dev_buf_slot(const void *p)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 58) % TACL_DEV_BUF_CACHE;
}

static int dev_buf_known(const tacl_dev_comm_t *dc, const void *p, size_t s)
{
    return dc->buf_ok[s] == p || dc->buf_ok[s ^ 1] == p;
}

static void dev_buf_remember(tacl_dev_comm_t *dc, const void *p, size_t s)
{
    if (dc->buf_ok[s] && !dc->buf_ok[s ^ 1])
        s ^= 1;
    else if (dc->buf_ok[s])
        dc->buf_ok[s ^ 1] = dc->buf_ok[s]; /* the older one moves over */
    dc->buf_ok[s] = p;
}

/* The buffer must be device (or managed) memory of the communicator's GPU: checked on every
 * call by default; with TACL_GPU_CHECK_BUFFERS=cache the answer is kept per address (callers
 * reuse few buffers; cudaPointerGetAttributes is most of tacl's own per-call cost). */
static tacl_status_t dev_check_buf(tacl_dev_comm_t *dc, const char *what, const char *which,
                                   const void *p, size_t count)
{
    if (count == 0) return TACL_OK;
    if (!p)
        return tacl__err(&dc->eb, TACL_ERR_INVALID, TACL_SUB_GPU, "%s: %s buffer is NULL", what,
                         which);
    if (dc->check_bufs == 0) return TACL_OK;
    size_t slot = dev_buf_slot(p);
    if (dc->check_bufs == 1 && dev_buf_known(dc, p, slot)) return TACL_OK;
    tacl_cudaPointerAttributes_t a;
    memset(&a, 0, sizeof a);
    tacl_cudaError_t e = dc->rt->fn.PointerGetAttributes(&a, p);
    if (e != TACL_CUDA_SUCCESS) {
        dc->rt->fn.GetLastError();
        return tacl__err(&dc->eb, TACL_ERR_INVALID, TACL_SUB_GPU,
                         "%s: %s buffer %p is not GPU memory (cudaPointerGetAttributes: %s)", what,
                         which, p, tacl__cudart_strerror(dc->rt, e));
    }
    if (a.type != TACL_CUDA_MEM_DEVICE && a.type != TACL_CUDA_MEM_MANAGED)
        return tacl__err(&dc->eb, TACL_ERR_INVALID, TACL_SUB_GPU,
                         "%s: %s buffer %p is host memory; rank %d's device communicator needs "
                         "memory on GPU %d",
                         what, which, p, dc->rank, dc->device);
    if (a.type == TACL_CUDA_MEM_DEVICE && a.device != dc->device)
        return tacl__err(&dc->eb, TACL_ERR_INVALID, TACL_SUB_GPU,
                         "%s: %s buffer %p is on GPU %d but rank %d's device communicator uses "
                         "GPU %d",
                         what, which, p, a.device, dc->rank, dc->device);
    dev_buf_remember(dc, p, slot);
    return TACL_OK;
}

/* count elements of dt, times mult (ranks' blocks), must fit size_t in bytes. */
static tacl_status_t dev_check_count(tacl_dev_comm_t *dc, const char *what, const char *name,
                                     size_t count, size_t mult, tacl_dtype_t dt)
{
    size_t b;
    if (!__builtin_mul_overflow(count, tacl_dtype_size(dt), &b) &&
        !__builtin_mul_overflow(b, mult, &b))
        return TACL_OK;
    if (mult > 1)
        return tacl__err(&dc->eb, TACL_ERR_INVALID, TACL_SUB_GPU,
                         "%s: %s=%zu elements of %s times %zu ranks overflow size_t (rank %d)",
                         what, name, count, tacl_dtype_name(dt), mult, dc->rank);
    return tacl__err(&dc->eb, TACL_ERR_INVALID, TACL_SUB_GPU,
                     "%s: %s=%zu elements of %s overflow size_t (rank %d)", what, name, count,
                     tacl_dtype_name(dt), dc->rank);
}

static tacl_status_t dev_check_root(tacl_dev_comm_t *dc, const char *what, int root,
                                    const char *role)
{
    if (root < 0 || root >= dc->size)
        return tacl__err(&dc->eb, TACL_ERR_INVALID, TACL_SUB_GPU,
                         "%s: %s %d is out of range (communicator of %d ranks)", what, role, root,
                         dc->size);
    return TACL_OK;
}

/* Turns NCCL's answer into a status; waits out ncclInProgress outside groups. */
static tacl_status_t dev_done(tacl_dev_comm_t *dc, const char *what, ncclResult_t r)
{
    if (r == ncclInProgress && dc->group_depth == 0) r = tacl__dev_wait_nccl(dc, r);
    if (r == ncclSuccess || (r == ncclInProgress && dc->group_depth > 0)) return TACL_OK;
    if (r == ncclInProgress)
        return tacl__err(&dc->eb, TACL_ERR_TIMEOUT, TACL_SUB_GPU,
                         "%s: rank %d: NCCL did not finish setting up within %.1f s", what,
                         dc->rank, dc->timeout_s);
    return tacl__err(&dc->eb, r == ncclRemoteError ? TACL_ERR_PEER_LOST : TACL_ERR_GPU,
                     TACL_SUB_GPU, "%s: rank %d (GPU %d): NCCL error: %s", what, dc->rank,
                     dc->device, tacl__nccl_strerror(dc->nccl, r));
}

#define DEV_TRY(x)                                                                                 \
    do {                                                                                           \
        tacl_status_t dev_st_ = (x);                                                               \
        if (dev_st_ != TACL_OK) return dev_st_;                                                    \
    } while (0)

tacl_status_t tacl_dev_all_reduce(tacl_dev_comm_t *dc, const void *send, void *recv, size_t count,
                                  tacl_dtype_t dt, tacl_op_t op, void *stream)
{
    static const char w[] = "tacl_dev_all_reduce";
    ncclDataType_t ndt = 0; /* set by dev_map on success */
    ncclRedOp_t nop = 0;
    DEV_TRY(dev_enter(dc, w));
    DEV_TRY(dev_map(dc, w, dt, 1, op, &ndt, &nop));
    DEV_TRY(dev_check_count(dc, w, "count", count, 1, dt));
    DEV_TRY(dev_check_buf(dc, w, "send", send, count));
    DEV_TRY(dev_check_buf(dc, w, "recv", recv, count));
    return dev_done(dc, w, dc->nccl->fn.AllReduce(send, recv, count, ndt, nop, dc->comm, stream));
}

tacl_status_t tacl_dev_reduce(tacl_dev_comm_t *dc, const void *send, void *recv, size_t count,
                              tacl_dtype_t dt, tacl_op_t op, int root, void *stream)
{
    static const char w[] = "tacl_dev_reduce";
    ncclDataType_t ndt = 0; /* set by dev_map on success */
    ncclRedOp_t nop = 0;
    DEV_TRY(dev_enter(dc, w));
    DEV_TRY(dev_map(dc, w, dt, 1, op, &ndt, &nop));
    DEV_TRY(dev_check_count(dc, w, "count", count, 1, dt));
    DEV_TRY(dev_check_root(dc, w, root, "root"));
    DEV_TRY(dev_check_buf(dc, w, "send", send, count));
    if (dc->rank == root) DEV_TRY(dev_check_buf(dc, w, "recv", recv, count));
    return dev_done(dc, w,
                    dc->nccl->fn.Reduce(send, recv, count, ndt, nop, root, dc->comm, stream));
}

tacl_status_t tacl_dev_broadcast(tacl_dev_comm_t *dc, const void *send, void *recv, size_t count,
                                 tacl_dtype_t dt, int root, void *stream)
{
    static const char w[] = "tacl_dev_broadcast";
    ncclDataType_t ndt = 0; /* set by dev_map on success */
    DEV_TRY(dev_enter(dc, w));
    DEV_TRY(dev_map(dc, w, dt, 0, TACL_SUM, &ndt, NULL));
    DEV_TRY(dev_check_count(dc, w, "count", count, 1, dt));
    DEV_TRY(dev_check_root(dc, w, root, "root"));
    if (dc->rank == root) DEV_TRY(dev_check_buf(dc, w, "send", send, count));
    DEV_TRY(dev_check_buf(dc, w, "recv", recv, count));
    return dev_done(dc, w, dc->nccl->fn.Broadcast(send, recv, count, ndt, root, dc->comm, stream));
}

tacl_status_t tacl_dev_all_gather(tacl_dev_comm_t *dc, const void *send, void *recv, size_t count,
                                  tacl_dtype_t dt, void *stream)
{
    static const char w[] = "tacl_dev_all_gather";
    ncclDataType_t ndt = 0; /* set by dev_map on success */
    DEV_TRY(dev_enter(dc, w));
    DEV_TRY(dev_map(dc, w, dt, 0, TACL_SUM, &ndt, NULL));
    DEV_TRY(dev_check_count(dc, w, "count", count, (size_t)dc->size, dt));
    DEV_TRY(dev_check_buf(dc, w, "send", send, count));
    DEV_TRY(dev_check_buf(dc, w, "recv", recv, count * (size_t)dc->size));
    return dev_done(dc, w, dc->nccl->fn.AllGather(send, recv, count, ndt, dc->comm, stream));
}

tacl_status_t tacl_dev_reduce_scatter(tacl_dev_comm_t *dc, const void *send, void *recv,
                                      size_t recv_count, tacl_dtype_t dt, tacl_op_t op,
                                      void *stream)
{
    static const char w[] = "tacl_dev_reduce_scatter";
    ncclDataType_t ndt = 0; /* set by dev_map on success */
    ncclRedOp_t nop = 0;
    DEV_TRY(dev_enter(dc, w));
    DEV_TRY(dev_map(dc, w, dt, 1, op, &ndt, &nop));
    DEV_TRY(dev_check_count(dc, w, "recv_count", recv_count, (size_t)dc->size, dt));
    DEV_TRY(dev_check_buf(dc, w, "send", send, recv_count * (size_t)dc->size));
    DEV_TRY(dev_check_buf(dc, w, "recv", recv, recv_count));
    return dev_done(dc, w,
                    dc->nccl->fn.ReduceScatter(send, recv, recv_count, ndt, nop, dc->comm, stream));
}

tacl_status_t tacl_dev_send(tacl_dev_comm_t *dc, const void *buf, size_t count, tacl_dtype_t dt,
                            int peer, void *stream)
{
    static const char w[] = "tacl_dev_send";
    ncclDataType_t ndt = 0; /* set by dev_map on success */
    DEV_TRY(dev_enter(dc, w));
    DEV_TRY(dev_map(dc, w, dt, 0, TACL_SUM, &ndt, NULL));
    DEV_TRY(dev_check_count(dc, w, "count", count, 1, dt));
    DEV_TRY(dev_check_root(dc, w, peer, "peer"));
    DEV_TRY(dev_check_buf(dc, w, "send", buf, count));
    return dev_done(dc, w, dc->nccl->fn.Send(buf, count, ndt, peer, dc->comm, stream));
}

tacl_status_t tacl_dev_recv(tacl_dev_comm_t *dc, void *buf, size_t count, tacl_dtype_t dt, int peer,
                            void *stream)
{
    static const char w[] = "tacl_dev_recv";
    ncclDataType_t ndt = 0; /* set by dev_map on success */
    DEV_TRY(dev_enter(dc, w));
    DEV_TRY(dev_map(dc, w, dt, 0, TACL_SUM, &ndt, NULL));
    DEV_TRY(dev_check_count(dc, w, "count", count, 1, dt));
    DEV_TRY(dev_check_root(dc, w, peer, "peer"));
    DEV_TRY(dev_check_buf(dc, w, "recv", buf, count));
    return dev_done(dc, w, dc->nccl->fn.Recv(buf, count, ndt, peer, dc->comm, stream));
}

tacl_status_t tacl_dev_group_start(tacl_dev_comm_t *dc)
{
    DEV_TRY(dev_enter(dc, "tacl_dev_group_start"));
    ncclResult_t r = dc->nccl->fn.GroupStart();
    if (r != ncclSuccess) return dev_done(dc, "tacl_dev_group_start", r);
    dc->group_depth++;
    return TACL_OK;
}

tacl_status_t tacl_dev_group_end(tacl_dev_comm_t *dc)
{
    static const char w[] = "tacl_dev_group_end";
    if (!dc)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_GPU, "%s: device communicator is NULL",
                         w);
    if (dc->group_depth <= 0)
        return tacl__err(&dc->eb, TACL_ERR_INVALID, TACL_SUB_GPU,
                         "%s: rank %d: no group is open (call tacl_dev_group_start first)", w,
                         dc->rank);
    dc->group_depth--;
    return dev_done(dc, w, dc->nccl->fn.GroupEnd());
}

/* The composite operations below are grouped point-to-point, as NCCL's documentation shows;
 * sends to self are allowed inside a group. Arguments are checked before the group opens so
 * that an invalid call leaves no group behind. */
static tacl_status_t dev_grouped(tacl_dev_comm_t *dc, const char *w, int kind, const void *send,
                                 void *recv, size_t count, tacl_dtype_t dt, int root, void *stream)
{
    ncclDataType_t ndt = 0; /* set by dev_map on success */
    size_t es = tacl_dtype_size(dt);
    DEV_TRY(dev_enter(dc, w));
    DEV_TRY(dev_map(dc, w, dt, 0, TACL_SUM, &ndt, NULL));
    DEV_TRY(dev_check_count(dc, w, "count", count, (size_t)dc->size, dt));
    size_t all = count * (size_t)dc->size;
    int is_root = dc->rank == root;
    if (kind == 0) { /* all_to_all */
        DEV_TRY(dev_check_buf(dc, w, "send", send, all));
        DEV_TRY(dev_check_buf(dc, w, "recv", recv, all));
    } else {
        DEV_TRY(dev_check_root(dc, w, root, "root"));
        DEV_TRY(dev_check_buf(dc, w, "send", send,
                              kind == 1 || is_root ? (kind == 1 ? count : all) : 0));
        DEV_TRY(dev_check_buf(dc, w, "recv", recv,
                              kind == 2 || is_root ? (kind == 2 ? count : all) : 0));
    }
    const tacl__nccl_t *f = &dc->nccl->fn;
    ncclResult_t r = f->GroupStart();
    if (r != ncclSuccess) return dev_done(dc, w, r);
    dc->group_depth++;
    ncclResult_t first = ncclSuccess;
    for (int p = 0; p < dc->size; p++) {
        ncclResult_t a = ncclSuccess, b = ncclSuccess;
        if (kind == 0) {
            a = f->Send((const char *)send + (size_t)p * count * es, count, ndt, p, dc->comm,
                        stream);
            b = f->Recv((char *)recv + (size_t)p * count * es, count, ndt, p, dc->comm, stream);
        } else if (kind == 1) { /* gather: everyone sends to root, root receives block p */
            if (p == 0) a = f->Send(send, count, ndt, root, dc->comm, stream);
            if (is_root)
                b = f->Recv((char *)recv + (size_t)p * count * es, count, ndt, p, dc->comm, stream);
        } else { /* scatter: root sends block p, everyone receives from root */
            if (is_root)
                a = f->Send((const char *)send + (size_t)p * count * es, count, ndt, p, dc->comm,
                            stream);
            if (p == 0) b = f->Recv(recv, count, ndt, root, dc->comm, stream);
        }
        if (first == ncclSuccess && a != ncclSuccess && a != ncclInProgress) first = a;
        if (first == ncclSuccess && b != ncclSuccess && b != ncclInProgress) first = b;
    }
    dc->group_depth--;
    r = f->GroupEnd();
    if (first != ncclSuccess) return dev_done(dc, w, first);
    return dev_done(dc, w, r);
}

tacl_status_t tacl_dev_all_to_all(tacl_dev_comm_t *dc, const void *send, void *recv, size_t count,
                                  tacl_dtype_t dt, void *stream)
{
    return dev_grouped(dc, "tacl_dev_all_to_all", 0, send, recv, count, dt, 0, stream);
}

tacl_status_t tacl_dev_gather(tacl_dev_comm_t *dc, const void *send, void *recv, size_t count,
                              tacl_dtype_t dt, int root, void *stream)
{
    return dev_grouped(dc, "tacl_dev_gather", 1, send, recv, count, dt, root, stream);
}

tacl_status_t tacl_dev_scatter(tacl_dev_comm_t *dc, const void *send, void *recv, size_t count,
                               tacl_dtype_t dt, int root, void *stream)
{
    return dev_grouped(dc, "tacl_dev_scatter", 2, send, recv, count, dt, root, stream);
}
