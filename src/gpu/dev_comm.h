/* dev_comm.h — the device communicator's internals: the struct, and creation from any
 * "bootstrap" that can broadcast and all-gather a few bytes among the ranks (the host
 * communicator in production; a test's in-process exchange, or a single rank, in tests). */
#ifndef TACL_GPU_DEV_COMM_H
#define TACL_GPU_DEV_COMM_H

#include "err.h"
#include "gpu/cudart.h"
#include "gpu/nccl.h"

typedef struct {
    /* root's len bytes land in buf on every rank. */
    tacl_status_t (*bcast)(void *ctx, void *buf, size_t len, int root, tacl__errbuf_t *eb);
    /* all[r * len ..] receives rank r's len bytes. */
    tacl_status_t (*allgather)(void *ctx, const void *mine, size_t len, void *all,
                               tacl__errbuf_t *eb);
    void *ctx;
    int rank, size;
    double timeout_s; /* bounds NCCL's init, the warm-up and every later wait */
    /* Optional: 0 when rank is known lost (the host communicator's liveness), so that a dead
     * peer fails device calls at once instead of when NCCL notices. ctx must outlive the
     * device communicator. */
    int (*alive)(void *ctx, int rank);
    /* Optional, with alive: a counter that changes whenever a rank may have been lost; while it
     * keeps the value at which every rank was found alive, calls skip the per-rank look. */
    unsigned (*live_gen)(void *ctx);
} tacl__dev_boot_t;

#define TACL_DEV_BUF_CACHE 64

struct tacl_dev_comm {
    tacl__errbuf_t eb;
    const tacl__nccl_lib_t *nccl;
    const tacl__cudart_lib_t *rt;
    ncclComm_t comm;
    int rank, size, device;
    int version;
    double timeout_s;
    int broken;   /* an asynchronous error was seen, or the communicator was aborted */
    int blocking; /* comm is a blocking NCCL communicator (calls return when enqueued) */
    int (*alive)(void *ctx, int rank); /* from the bootstrap (may be NULL) */
    unsigned (*live_gen)(void *ctx);   /* from the bootstrap (may be NULL) */
    void *alive_ctx;
    unsigned alive_gen; /* live_gen at which every rank was last found alive */
    int alive_known;    /* alive_gen is valid */
    int group_depth;    /* tacl_dev_group_start nesting */
    /* TACL_GPU_CHECK_BUFFERS: 0 never, 1 first sight of an address (cache), 2 every call. */
    int check_bufs;
    const void *buf_ok[TACL_DEV_BUF_CACHE]; /* addresses found on this GPU, direct-mapped */
};

/* Creation over an arbitrary bootstrap (collective over its ranks). */
tacl_status_t tacl__dev_comm_create_boot(const tacl__dev_boot_t *b, int device,
                                         tacl_dev_comm_t **out);

/* A bootstrap for a world of one rank (no exchange needed). */
tacl__dev_boot_t tacl__dev_boot_single(double timeout_s);

/* Waits (bounded by dc's timeout) until a call that answered ncclInProgress has completed;
 * returns the final result. */
ncclResult_t tacl__dev_wait_nccl(tacl_dev_comm_t *dc, ncclResult_t r);

#endif
