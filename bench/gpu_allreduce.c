/* gpu_allreduce.c — device all-reduce through tacl (tacl_dev_all_reduce over the loaded NCCL),
 * one rank per GPU under `tacl run -n N -- gpu_allreduce [min_bytes max_bytes iters]`, printing
 * nccl-tests' columns (size, count, type, time, algbw, busbw) on rank 0 so the figures compare
 * with all_reduce_perf and bench/gpu_torch_allreduce.py. float32, sum, out of place. */
#include "gpu/cudart.h"
#include "tacl.h"

#include <stdio.h>
#include <stdlib.h>


int main(int argc, char **argv)
{
    size_t lo = argc > 1 ? strtoull(argv[1], NULL, 0) : 1024;
    size_t hi = argc > 2 ? strtoull(argv[2], NULL, 0) : (size_t)256 << 20;
    int iters = argc > 3 ? atoi(argv[3]) : 20;
    const tacl_cudart_lib_t *lib;
    if (tacl_cudart_get(&lib, NULL) != TACL_OK) {
        fprintf(stderr, "gpu_allreduce: %s\n", tacl_last_error());
        return 1;
    }
    const tacl_cudart_t *rt = &lib->fn;
    tacl_comm_t *world;
    if (tacl_init(&world) != TACL_OK) {
        fprintf(stderr, "gpu_allreduce: %s\n", tacl_last_error());
        return 1;
    }
    int rank = tacl_comm_rank(world), size = tacl_comm_size(world), ngpu = 0;
    rt->GetDeviceCount(&ngpu);
    int dev = tacl_comm_local_rank(world) % (ngpu > 0 ? ngpu : 1);
    rt->SetDevice(dev);
    tacl_dev_comm_t *dc;
    if (tacl_dev_comm_create(world, dev, &dc) != TACL_OK) {
        fprintf(stderr, "gpu_allreduce: rank %d: %s\n", rank, tacl_last_error());
        return 1;
    }
    void *a, *b, *stream, *e0, *e1;
    rt->Malloc(&a, hi);
    rt->Malloc(&b, hi);
    rt->Memset(a, 0, hi);
    rt->StreamCreate(&stream);
    rt->EventCreate(&e0);
    rt->EventCreate(&e1);
    if (rank == 0)
        printf("# tacl_dev_all_reduce, %d ranks, NCCL %d\n#%11s %12s %6s %10s %8s %8s\n", size,
               tacl_dev_comm_nccl_version(dc), "size(B)", "count", "type", "time(us)", "algbw",
               "busbw");
    for (size_t bytes = lo; bytes <= hi; bytes *= 2) {
        size_t count = bytes / 4;
        for (int i = 0; i < 5; i++)
            tacl_dev_all_reduce(dc, a, b, count, TACL_FLOAT32, TACL_SUM, stream);
        rt->EventRecord(e0, stream);
        for (int i = 0; i < iters; i++)
            tacl_dev_all_reduce(dc, a, b, count, TACL_FLOAT32, TACL_SUM, stream);
        rt->EventRecord(e1, stream);
        if (tacl_dev_comm_sync(dc, stream) != TACL_OK) {
            fprintf(stderr, "gpu_allreduce: %s\n", tacl_dev_comm_last_error(dc));
            return 1;
        }
        float ms = 0;
        rt->EventElapsedTime(&ms, e0, e1);
        double us = ms * 1e3 / iters, algbw = (double)bytes / us / 1e3;
        if (rank == 0)
            printf("%12zu %12zu %6s %10.2f %8.2f %8.2f\n", bytes, count, "float", us, algbw,
                   algbw * 2.0 * (size - 1) / size);
    }
    tacl_dev_comm_destroy(dc);
    tacl_comm_destroy(world);
    return 0;
}
