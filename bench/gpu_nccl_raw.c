/* gpu_nccl_raw.c — the raw-NCCL peer of `tacl bench --gpu`: the same NCCL library (found by
 * tacl's loader, so both measure the same build) called directly from C, one process per GPU
 * under `tacl run -n N -- gpu_nccl_raw [min_bytes max_bytes iters]`: ncclCommInitRank,
 * ncclAllReduce (float32, sum, out of place) on one stream, CUDA-event timing, nccl-tests'
 * columns on rank 0. The host communicator only carries the unique id and the timings. */
#include "gpu/cudart.h"
#include "gpu/nccl.h"
#include "tacl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAW_CHECK(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "gpu_nccl_raw: " __VA_ARGS__);                                         \
            fprintf(stderr, "\n");                                                                 \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    size_t lo = argc > 1 ? strtoull(argv[1], NULL, 0) : 8;
    size_t hi = argc > 2 ? strtoull(argv[2], NULL, 0) : (size_t)1 << 30;
    int iters = argc > 3 ? atoi(argv[3]) : 20;
    const tacl_cudart_lib_t *cl;
    const tacl_nccl_lib_t *nl;
    RAW_CHECK(tacl_cudart_get(&cl, NULL) == TACL_OK, "%s", tacl_last_error());
    RAW_CHECK(tacl_nccl_get(&nl, NULL) == TACL_OK, "%s", tacl_last_error());
    const tacl_cudart_t *rt = &cl->fn;
    const tacl_nccl_t *nc = &nl->fn;
    tacl_comm_t *w;
    RAW_CHECK(tacl_init(&w) == TACL_OK, "%s", tacl_last_error());
    int rank = tacl_comm_rank(w), size = tacl_comm_size(w), ngpu = 0;
    RAW_CHECK(rt->GetDeviceCount(&ngpu) == 0 && ngpu > 0, "no GPU");
    rt->SetDevice(tacl_comm_local_rank(w) % ngpu);
    ncclUniqueId id;
    if (rank == 0) RAW_CHECK(nc->GetUniqueId(&id) == 0, "ncclGetUniqueId failed");
    RAW_CHECK(tacl_broadcast(w, &id, &id, sizeof id, TACL_UINT8, 0) == TACL_OK, "broadcast");
    ncclComm_t comm;
    RAW_CHECK(nc->CommInitRank(&comm, size, id, rank) == 0, "ncclCommInitRank failed");
    void *s, *r, *stream, *e0, *e1;
    RAW_CHECK(rt->Malloc(&s, hi) == 0 && rt->Malloc(&r, hi) == 0, "cudaMalloc of %zu bytes", hi);
    rt->Memset(s, 0, hi);
    rt->StreamCreate(&stream);
    rt->EventCreate(&e0);
    rt->EventCreate(&e1);
    if (rank == 0) {
        char v[32];
        tacl_nccl_version_str(nl->version, v, sizeof v);
        printf("# raw NCCL %s (%s) all_reduce, %d ranks, one process per GPU\n", v,
               nl->cand[nl->chosen].path, size);
        printf("#%11s %12s %8s %10s %8s %8s\n", "size(B)", "count", "type", "time(us)", "algbw",
               "busbw");
    }
    for (size_t bytes = lo; bytes <= hi; bytes *= 2) {
        size_t count = bytes / 4;
        for (int i = 0; i < 5; i++)
            nc->AllReduce(s, r, count, ncclFloat32, ncclSum, comm, stream);
        rt->StreamSynchronize(stream);
        tacl_barrier(w);
        rt->EventRecord(e0, stream);
        for (int i = 0; i < iters; i++)
            nc->AllReduce(s, r, count, ncclFloat32, ncclSum, comm, stream);
        rt->EventRecord(e1, stream);
        RAW_CHECK(rt->StreamSynchronize(stream) == 0, "stream failed at %zu bytes", bytes);
        float ms = 0;
        rt->EventElapsedTime(&ms, e0, e1);
        double t = (double)ms * 1e-3 / iters;
        tacl_all_reduce(w, &t, &t, 1, TACL_FLOAT64, TACL_MAX);
        double algbw = (double)bytes / t * 1e-9;
        if (rank == 0)
            printf(" %11zu %12zu %8s %10.2f %8.2f %8.2f\n", bytes, count, "float", t * 1e6, algbw,
                   algbw * 2.0 * (size - 1) / size);
        fflush(stdout);
    }
    nc->CommDestroy(comm);
    rt->Free(s);
    rt->Free(r);
    tacl_comm_destroy(w);
    return 0;
}
