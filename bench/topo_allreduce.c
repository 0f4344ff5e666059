/* topo_allreduce.c — one rank of a topology benchmark or test, started by a script in network
 * namespaces with tacl's launcher variables (bench/topo_bench.sh, tests/netns/coll_cut.sh,
 * tests/netns/topo_measure.sh). Modes:
 *   bench BYTES ITERS [broadcast]  all_reduce (float32 sum; or broadcast from the centre) of
 *                      BYTES, one warm-up then ITERS timed calls each after a barrier; values
 *                      checked; rank 0 prints the algorithm, the best and mean time;
 *   loop SECONDS       all_reduce of 4 MiB (int32) repeated for SECONDS, values checked; prints
 *                      "looping" once, then "completed N" or the error with its wall-clock time
 *                      (exit 2), so that a script can cut a link meanwhile;
 *   measure            prints the link bandwidths and latencies the world uses (with
 *                      TACL_TOPO_MEASURE=1: measured), one line per linked pair. */
#include "coll/coll.h"
#include "tacl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static int run_bench(tacl_comm_t *w, size_t bytes, int iters, int bcast)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    size_t count = bytes / sizeof(float);
    float *a = malloc(count * sizeof *a + 1);
    if (!a) return 1;
    int root = w->centre;
    coll_args_t args = {.kind = bcast ? TACL_COLL_BROADCAST : TACL_COLL_ALL_REDUCE,
                        .count = count,
                        .esz = sizeof(float),
                        .root = root};
    coll_pick_t pick;
    if (coll_select(w, &args, &pick) != TACL_OK) goto fail;
    double best = 1e30, sum = 0;
    for (int it = -1; it < iters; it++) {
        for (size_t i = 0; i < count; i++)
            a[i] = bcast && me != root ? -1.0f : (float)((me + i) % 5);
        if (tacl_barrier(w) != TACL_OK) goto fail;
        double t0 = now_s();
        tacl_status_t st = bcast ? tacl_broadcast(w, a, a, count, TACL_FLOAT32, root)
                                 : tacl_all_reduce(w, a, a, count, TACL_FLOAT32, TACL_SUM);
        if (st != TACL_OK) goto fail;
        double dt = now_s() - t0;
        for (size_t i = 0; i < count; i += 4099) {
            float want = 0;
            for (int r = 0; r < n; r++)
                if (!bcast || r == root) want += (float)((r + i) % 5);
            if (a[i] != want) {
                fprintf(stderr, "rank %d: element %zu = %g, expected %g\n", me, i, a[i], want);
                free(a);
                return 1;
            }
        }
        if (it < 0) continue;
        /* The slowest rank's time is the collective's. */
        double slowest = dt;
        if (tacl_all_reduce(w, &dt, &slowest, 1, TACL_FLOAT64, TACL_MAX) != TACL_OK) goto fail;
        sum += slowest;
        if (slowest < best) best = slowest;
    }
    if (me == 0)
        printf("topo_allreduce %s ranks %d bytes %zu algo %s (%s) predicted_s %.4f iters %d "
               "best_s %.4f mean_s %.4f\n",
               bcast ? "broadcast" : "all_reduce", n, bytes, pick.row->name, pick.why,
               pick.predicted_s, iters, best, sum / iters);
    free(a);
    return 0;
fail:
    fprintf(stderr, "rank %d: %s\n", me, tacl_comm_last_error(w));
    free(a);
    return 1;
}

static int run_loop(tacl_comm_t *w, double seconds)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    size_t count = (4u << 20) / sizeof(int32_t);
    int32_t *a = malloc(count * sizeof *a);
    if (!a) return 1;
    double end = now_s() + seconds;
    long iters = 0;
    while (now_s() < end) {
        for (size_t i = 0; i < count; i++)
            a[i] = (int32_t)(me + 1 + (int)(i % 7));
        tacl_status_t st = tacl_all_reduce(w, a, a, count, TACL_INT32, TACL_SUM);
        if (st != TACL_OK) {
            printf("rank %d: error at %.3f after %ld iterations: %s: %s\n", me, wall_s(), iters,
                   tacl_status_name(st), tacl_comm_last_error(w));
            fflush(stdout);
            free(a);
            return 2;
        }
        for (size_t i = 0; i < count; i += 997)
            if (a[i] != (int32_t)(n * (n + 1) / 2 + n * (int)(i % 7))) {
                printf("rank %d: wrong value %d at %zu\n", me, a[i], i);
                free(a);
                return 1;
            }
        if (iters++ == 0) {
            printf("rank %d: looping\n", me);
            fflush(stdout);
        }
    }
    printf("rank %d: completed %ld iterations\n", me, iters);
    free(a);
    return 0;
}

static int run_measure(tacl_comm_t *w)
{
    const tacl__world_t *wo = w->world;
    int n = wo->size;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (wo->link_bw && wo->link_bw[i * n + j] > 0)
                printf("rank %d: link %d-%d bw_Bps %.6g lat_s %.6g\n", wo->rank, i, j,
                       wo->link_bw[i * n + j], wo->link_lat[i * n + j]);
    return wo->link_bw ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s bench BYTES ITERS | loop SECONDS | measure\n", argv[0]);
        return 1;
    }
    tacl_comm_t *w;
    tacl_status_t st = tacl_init(&w);
    if (st != TACL_OK) {
        fprintf(stderr, "tacl_init: %s: %s\n", tacl_status_name(st), tacl_last_error());
        return 3;
    }
    int rc;
    if (!strcmp(argv[1], "bench") && argc > 3)
        rc = run_bench(w, strtoull(argv[2], NULL, 0), atoi(argv[3]),
                       argc > 4 && !strcmp(argv[4], "broadcast"));
    else if (!strcmp(argv[1], "loop") && argc > 2)
        rc = run_loop(w, atof(argv[2]));
    else if (!strcmp(argv[1], "measure"))
        rc = run_measure(w);
    else
        rc = 1;
    fflush(stdout);
    tacl_comm_destroy(w);
    return rc;
}
