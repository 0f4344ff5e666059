/* mpi_allreduce.c — the Open MPI peer of bench/shm_allreduce: float32 sum MPI_Allreduce from 8 B
 * to a maximum size, doubling, timed as nccl-tests do (warm-up, then the average of many
 * iterations between barriers). Prints "bytes time_us" lines that shm_allreduce joins with its
 * own figures. Run: mpirun --allow-run-as-root -np N mpi_allreduce [max_bytes]. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int mpi_iters(size_t bytes)
{
    size_t it = (256u << 20) / (bytes ? bytes : 1);
    return it < 20 ? 20 : it > 20000 ? 20000 : (int)it;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    size_t maxb = argc > 1 ? strtoull(argv[1], NULL, 0) : (64u << 20);
    float *a = malloc(maxb), *b = malloc(maxb);
    if (!a || !b) MPI_Abort(MPI_COMM_WORLD, 1);
    for (size_t i = 0; i < maxb / 4; i++)
        a[i] = (float)(i % 97) * 0.25f;
    for (size_t bytes = 8; bytes <= maxb; bytes *= 2) {
        int count = (int)(bytes / 4), iters = mpi_iters(bytes);
        for (int i = 0; i < 5; i++)
            MPI_Allreduce(a, b, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int i = 0; i < iters; i++)
            MPI_Allreduce(a, b, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Barrier(MPI_COMM_WORLD);
        double us = (MPI_Wtime() - t0) * 1e6 / iters;
        if (rank == 0) printf("%zu %.3f\n", bytes, us);
        fflush(stdout);
    }
    free(a);
    free(b);
    MPI_Finalize();
    return 0;
}
