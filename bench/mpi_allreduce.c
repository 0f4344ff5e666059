/* mpi_allreduce.c — the Open MPI peer of bench/shm_allreduce: float32 sum MPI_Allreduce, timed
 * as shm_allreduce times tacl (warm-up, then many iterations between barriers; the iteration
 * count agreed from the slowest rank's warm-up so that a size takes about budget seconds, 20 to
 * 20000 iterations). Prints "bytes mean_us p50_us p99_us" lines (p50/p99 of each rank's
 * per-iteration times, the slowest rank's) that shm_allreduce joins with its own.
 * Run: mpirun --allow-run-as-root -np N mpi_allreduce [max_bytes [budget_s [size...]]]
 * (no sizes: every power of two from 8 bytes to max_bytes). */
#include "bench_stats.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#define MPI_MAX_ITERS 20000

static int mpi_iters(size_t bytes, double warm, double budget)
{
    size_t it = (256u << 20) / (bytes ? bytes : 1);
    int n = it < 20 ? 20 : it > MPI_MAX_ITERS ? MPI_MAX_ITERS : (int)it;
    if (warm > 0 && budget / warm < n) n = budget / warm < 20 ? 20 : (int)(budget / warm);
    return n;
}

static void mpi_size(size_t bytes, const float *a, float *b, double budget, int rank, double *mine)
{
    int count = (int)(bytes / 4);
    MPI_Allreduce(a, b, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    double w0 = MPI_Wtime();
    for (int i = 0; i < 5; i++)
        MPI_Allreduce(a, b, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    double warm = (MPI_Wtime() - w0) / 5;
    MPI_Allreduce(MPI_IN_PLACE, &warm, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    int iters = mpi_iters(bytes, warm, budget);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime(), prev = t0;
    for (int i = 0; i < iters; i++) {
        MPI_Allreduce(a, b, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double now = MPI_Wtime();
        mine[i] = now - prev;
        prev = now;
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double mean = (MPI_Wtime() - t0) / iters;
    /* Each rank's percentiles of its own iterations; the slowest rank's are reported. */
    double pc[2], worst[2];
    bench_percentiles(mine, iters, &pc[0], &pc[1]);
    MPI_Reduce(pc, worst, 2, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("%zu %.3f %.3f %.3f\n", bytes, mean * 1e6, worst[0] * 1e6, worst[1] * 1e6);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    size_t maxb = argc > 1 ? strtoull(argv[1], NULL, 0) : (64u << 20);
    double budget = argc > 2 ? atof(argv[2]) : 2.0;
    float *a = malloc(maxb), *b = malloc(maxb);
    double *mine = malloc(sizeof(double) * MPI_MAX_ITERS);
    if (!a || !b || !mine || !(budget > 0)) MPI_Abort(MPI_COMM_WORLD, 1);
    /* Fault in the per-iteration times before any timed loop (as bench/shm_allreduce.c). */
    memset(mine, 0, sizeof(double) * MPI_MAX_ITERS);
    for (size_t i = 0; i < maxb / 4; i++)
        a[i] = (float)(i % 97) * 0.25f;
    if (argc > 3)
        for (int i = 3; i < argc; i++) {
            size_t bytes = strtoull(argv[i], NULL, 0);
            if (bytes >= 4 && bytes <= maxb) mpi_size(bytes, a, b, budget, rank, mine);
        }
    else
        for (size_t bytes = 8; bytes <= maxb; bytes *= 2)
            mpi_size(bytes, a, b, budget, rank, mine);
    free(a);
    free(b);
    free(mine);
    MPI_Finalize();
    return 0;
}
