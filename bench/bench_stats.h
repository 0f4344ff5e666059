/* bench_stats.h — what the host benchmarks share: percentiles of per-iteration times and a
 * list of message sizes ("8,1M,64M"). Header-only, so that the Open MPI peer (built with mpicc,
 * without tacl) uses the same definitions. */
#ifndef TACL_BENCH_STATS_H
#define TACL_BENCH_STATS_H

#include <stdlib.h>
#include <string.h>

typedef struct {
    double mean, p50, p99; /* microseconds */
} bench_stat_t;

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile q (0 < q <= 1) of v[0..n) (sorted in place). */
static inline double bench_pct_sorted(const double *v, int n, double q)
{
    int k = (int)(q * n + 0.999999);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return v[k - 1];
}

/* The median and 99th percentile of v[0..n), which is sorted in place; 0 when n == 0. */
static inline void bench_percentiles(double *v, int n, double *p50, double *p99)
{
    *p50 = *p99 = 0;
    if (n <= 0) return;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    *p50 = bench_pct_sorted(v, n, 0.50);
    *p99 = bench_pct_sorted(v, n, 0.99);
}

/* "8,1M,64M" (K/M/G binary multiples) into out[max]: the number of sizes, or -1 for anything
 * that is not a comma-separated list of positive multiples of 4 bytes. */
static inline int bench_parse_sizes(const char *s, size_t *out, int max)
{
    int n = 0;
    while (*s) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s) return -1;
        if (*end == 'K' || *end == 'k')
            v <<= 10, end++;
        else if (*end == 'M' || *end == 'm')
            v <<= 20, end++;
        else if (*end == 'G' || *end == 'g')
            v <<= 30, end++;
        if ((*end != ',' && *end != '\0') || v == 0 || v % 4 || n == max) return -1;
        out[n++] = (size_t)v;
        s = *end ? end + 1 : end;
    }
    return n;
}

#endif
