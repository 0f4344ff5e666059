/* nccl.h — tacl's own declaration of the part of NCCL's C API it uses (no NCCL header is needed
 * to build tacl), and the loader that picks one NCCL (or RCCL, same API) at run time. Enum values
 * and struct layouts follow NCCL's nccl.h; ncclConfig_t is declared in its 2.18 layout, which
 * every NCCL >= 2.14 accepts (NCCL copies `size` bytes and reads `version` to know which fields
 * were set). The candidate order and what is logged are described in docs/GPU.md. */
#ifndef TACL_GPU_NCCL_H
#define TACL_GPU_NCCL_H

#include "err.h"
#include "gpu/gpu_dl.h"

#include <limits.h>
#include <stddef.h>

typedef enum {
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
    ncclRemoteError = 6,
    ncclInProgress = 7,
} ncclResult_t;

typedef enum {
    ncclInt8 = 0,
    ncclUint8 = 1,
    ncclInt32 = 2,
    ncclUint32 = 3,
    ncclInt64 = 4,
    ncclUint64 = 5,
    ncclFloat16 = 6,
    ncclFloat32 = 7,
    ncclFloat64 = 8,
    ncclBfloat16 = 9,
} ncclDataType_t;

typedef enum { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 } ncclRedOp_t;

typedef struct ncclComm *ncclComm_t;
typedef struct {
    char internal[128];
} ncclUniqueId;
typedef void *tacl_cudaStream_t;

#define TACL_NCCL_VERSION(x, y, z) ((x)*10000 + (y)*100 + (z))
#define TACL_NCCL_CONFIG_MAGIC     0xcafebeefu
#define TACL_NCCL_CONFIG_UNDEF_INT INT_MIN

typedef struct {
    size_t size;
    unsigned int magic;
    unsigned int version;
    int blocking;
    int cgaClusterSize;
    int minCTAs;
    int maxCTAs;
    const char *netName;
    int splitShare;
} tacl_ncclConfig_t;

/* NCCL_CONFIG_INITIALIZER for the layout above, with blocking chosen by the caller. */
static inline tacl_ncclConfig_t tacl__nccl_config(int blocking)
{
    tacl_ncclConfig_t c = {sizeof(tacl_ncclConfig_t),   TACL_NCCL_CONFIG_MAGIC,
                           TACL_NCCL_VERSION(2, 18, 0), blocking,
                           TACL_NCCL_CONFIG_UNDEF_INT,  TACL_NCCL_CONFIG_UNDEF_INT,
                           TACL_NCCL_CONFIG_UNDEF_INT,  NULL,
                           TACL_NCCL_CONFIG_UNDEF_INT};
    return c;
}

/* The function table: one member per NCCL entry point tacl calls. Optional members are NULL
 * when the loaded library lacks them (older NCCL, RCCL). */
typedef struct {
    ncclResult_t (*GetVersion)(int *version);
    ncclResult_t (*GetUniqueId)(ncclUniqueId *id);
    ncclResult_t (*CommInitRank)(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
    ncclResult_t (*CommInitAll)(ncclComm_t *comms, int ndev, const int *devlist);
    ncclResult_t (*CommDestroy)(ncclComm_t comm);
    ncclResult_t (*CommCount)(const ncclComm_t comm, int *count);
    ncclResult_t (*CommCuDevice)(const ncclComm_t comm, int *device);
    ncclResult_t (*CommUserRank)(const ncclComm_t comm, int *rank);
    const char *(*GetErrorString)(ncclResult_t r);
    ncclResult_t (*AllReduce)(const void *send, void *recv, size_t count, ncclDataType_t dt,
                              ncclRedOp_t op, ncclComm_t comm, tacl_cudaStream_t stream);
    ncclResult_t (*Reduce)(const void *send, void *recv, size_t count, ncclDataType_t dt,
                           ncclRedOp_t op, int root, ncclComm_t comm, tacl_cudaStream_t stream);
    ncclResult_t (*Broadcast)(const void *send, void *recv, size_t count, ncclDataType_t dt,
                              int root, ncclComm_t comm, tacl_cudaStream_t stream);
    ncclResult_t (*AllGather)(const void *send, void *recv, size_t sendcount, ncclDataType_t dt,
                              ncclComm_t comm, tacl_cudaStream_t stream);
    ncclResult_t (*ReduceScatter)(const void *send, void *recv, size_t recvcount, ncclDataType_t dt,
                                  ncclRedOp_t op, ncclComm_t comm, tacl_cudaStream_t stream);
    ncclResult_t (*Send)(const void *buf, size_t count, ncclDataType_t dt, int peer,
                         ncclComm_t comm, tacl_cudaStream_t stream);
    ncclResult_t (*Recv)(void *buf, size_t count, ncclDataType_t dt, int peer, ncclComm_t comm,
                         tacl_cudaStream_t stream);
    ncclResult_t (*GroupStart)(void);
    ncclResult_t (*GroupEnd)(void);
    /* Optional. */
    ncclResult_t (*CommInitRankConfig)(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank,
                                       tacl_ncclConfig_t *config);
    ncclResult_t (*CommAbort)(ncclComm_t comm);
    ncclResult_t (*CommFinalize)(ncclComm_t comm);
    ncclResult_t (*CommGetAsyncError)(ncclComm_t comm, ncclResult_t *async_error);
    ncclResult_t (*CommSplit)(ncclComm_t comm, int color, int key, ncclComm_t *newcomm,
                              tacl_ncclConfig_t *config);
    ncclResult_t (*CommRegister)(const ncclComm_t comm, void *buf, size_t size, void **handle);
    ncclResult_t (*CommDeregister)(const ncclComm_t comm, void *handle);
    ncclResult_t (*MemAlloc)(void **ptr, size_t size);
    ncclResult_t (*MemFree)(void *ptr);
    ncclResult_t (*CommWindowRegister)(ncclComm_t comm, void *buf, size_t size, void **win,
                                       int flags);
    ncclResult_t (*CommWindowDeregister)(ncclComm_t comm, void *win);
    const char *(*GetLastError)(ncclComm_t comm);
} tacl__nccl_t;

/* Where to look (the settings, or a test's own choices). system_names: sonames tried with the
 * dynamic linker's search after the explicit and PyTorch candidates, NULL-terminated
 * (default {"libnccl.so.2", "librccl.so.1", NULL}). */
typedef struct {
    const char *explicit_path; /* TACL_NCCL_SO_PATH ("" or NULL: none) */
    const char *use_pytorch;   /* "auto", "1" or "0" (TACL_USE_PYTORCH_NCCL) */
    const char *python;        /* TACL_PYTHON */
    const char *const *system_names;
} tacl__nccl_search_t;

#define TACL_NCCL_MAX_CANDS 8

/* The outcome of one search: every candidate considered, and the one loaded (chosen < 0: none). */
typedef struct {
    gpu_cand_t cand[TACL_NCCL_MAX_CANDS];
    int ncand;
    int chosen;
    void *handle;
    tacl__nccl_t fn;
    int version;
} tacl__nccl_lib_t;

/* Runs the search described by s, logging each candidate (INFO, gpu) and a WARN when a requested
 * choice fails and the search falls back. probe_all: evaluate every candidate even after one
 * loads (for `tacl info --gpu`; the extra ones are closed again). On success fills *out (which
 * then owns the handle); when none loads returns TACL_ERR_UNAVAILABLE naming every path tried
 * and why, with out->cand still describing them. */
tacl_status_t tacl__nccl_search(const tacl__nccl_search_t *s, int probe_all, tacl__nccl_lib_t *out,
                                tacl__errbuf_t *eb);

/* The process-wide NCCL, loaded once under a lock from the TACL_* settings. Later calls return
 * the same library (or the same failure). */
tacl_status_t tacl__nccl_get(const tacl__nccl_lib_t **out, tacl__errbuf_t *eb);

/* "2.28.3" from 22803 (and the pre-2.9 encoding 2708 -> "2.7.8"). */
void tacl__nccl_version_str(int code, char *buf, size_t len);

/* NCCL's own message for r ("unhandled cuda error" ...), via the loaded library when there is one.
 */
const char *tacl__nccl_strerror(const tacl__nccl_lib_t *lib, ncclResult_t r);

#endif
