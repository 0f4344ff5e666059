/* gpu_loader_fake_nccl.c — a stand-in NCCL for the loader tests on machines without GPUs: it
 * exports NCCL's symbols, reports FAKE_NCCL_VERSION from ncclGetVersion, and implements just
 * enough (init that completes or, for the rank named by FAKE_NCCL_HANG_RANK, never does; an
 * all-reduce that copies and records its datatype and op; with FAKE_NCCL_REMOTE_ERROR_AFTER=n,
 * an asynchronous ncclRemoteError once n all-reduces were issued) for the device communicator's
 * logic to run. With FAKE_NCCL_PARTIAL it lacks ncclAllReduce and ncclSend (a broken library). */
#include <stdlib.h>
#include <string.h>

typedef struct {
    char internal[128];
} fake_uid_t;

static int fake_hang;
static int fake_last_dt = -1, fake_last_op = -1;
static int fake_allreduces;

int ncclGetVersion(int *v)
{
    *v = FAKE_NCCL_VERSION;
    return 0;
}

int ncclGetUniqueId(fake_uid_t *id)
{
    memset(id, 7, sizeof *id);
    return 0;
}

int ncclCommInitRankConfig(void **comm, int n, fake_uid_t id, int rank, void *cfg)
{
    (void)n, (void)id, (void)cfg;
    const char *h = getenv("FAKE_NCCL_HANG_RANK");
    const char *f = getenv("FAKE_NCCL_INIT_FAIL_RANK");
    fake_hang = h && atoi(h) == rank;
    if (f && atoi(f) == rank) return 5; /* ncclInvalidUsage, e.g. two ranks on one GPU */
    *comm = malloc(16);
    return 7; /* ncclInProgress: completion is polled */
}

int ncclCommInitRank(void **comm, int n, fake_uid_t id, int rank)
{
    (void)n, (void)id, (void)rank;
    *comm = malloc(16);
    return 0;
}

int ncclCommGetAsyncError(void *comm, int *r)
{
    (void)comm;
    const char *after = getenv("FAKE_NCCL_REMOTE_ERROR_AFTER");
    if (after && fake_allreduces > atoi(after))
        *r = 6; /* ncclRemoteError: a peer is gone */
    else
        *r = fake_hang ? 7 : 0;
    return 0;
}

int ncclCommAbort(void *comm)
{
    free(comm);
    return 0;
}

int ncclCommDestroy(void *comm)
{
    free(comm);
    return 0;
}

int ncclCommFinalize(void *comm)
{
    (void)comm;
    return 0;
}

const char *ncclGetErrorString(int r)
{
    return r == 0 ? "no error" : "fake error";
}

/* What the last all-reduce was asked for (the test reads it through dlsym). */
void fake_nccl_last(int *dt, int *op)
{
    *dt = fake_last_dt;
    *op = fake_last_op;
}

#ifndef FAKE_NCCL_PARTIAL
static size_t fake_size(int dt)
{
    static const size_t s[] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2};
    return dt >= 0 && dt < 10 ? s[dt] : 1;
}

int ncclAllReduce(const void *s, void *r, size_t n, int dt, int op, void *comm, void *stream)
{
    (void)comm, (void)stream;
    fake_last_dt = dt;
    fake_last_op = op;
    fake_allreduces++;
    const char *fail = getenv("FAKE_NCCL_FAIL_ALLREDUCE");
    if (fail && fake_allreduces == atoi(fail)) return 2; /* ncclSystemError */
    if (s != r) memmove(r, s, n * fake_size(dt));
    return 0;
}

int ncclSend(void)
{
    return 0;
}
#endif

#define FAKE_STUB(name)                                                                            \
    int name(void)                                                                                 \
    {                                                                                              \
        return 0;                                                                                  \
    }
FAKE_STUB(ncclCommInitAll)
FAKE_STUB(ncclCommCount)
FAKE_STUB(ncclCommCuDevice)
FAKE_STUB(ncclCommUserRank)
FAKE_STUB(ncclReduce)
FAKE_STUB(ncclBroadcast)
FAKE_STUB(ncclAllGather)
FAKE_STUB(ncclReduceScatter)
FAKE_STUB(ncclRecv)
FAKE_STUB(ncclGroupStart)
FAKE_STUB(ncclGroupEnd)
