/* bench_hog.h — a CPU hog for the host benchmarks: one busy-loop process per online core,
 * started by the benchmark and killed (by pid) when it stops; each hog also dies with the
 * benchmark (PR_SET_PDEATHSIG), so none outlives a crashed run. */
#ifndef TACL_BENCH_HOG_H
#define TACL_BENCH_HOG_H

#include <sys/types.h>

#define BENCH_HOG_MAX 1024

typedef struct {
    int n;
    pid_t pids[BENCH_HOG_MAX];
} bench_hog_t;

/* 0 when one hog per online core runs; -1 (and none left running) otherwise. */
int bench_hog_start(bench_hog_t *h);
void bench_hog_stop(bench_hog_t *h);

#endif
