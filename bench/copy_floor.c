/* copy_floor.c — the floor of a copying host all_reduce on this machine: the copies and the
 * reduction of tacl's large shared-memory all_reduce (src/transport/shm/shm_coll.c), done by
 * threads of one process that wait for each other with spin barriers, so that what is left is
 * the memory traffic alone: no processes, no futexes, no fingerprints, no helper hand-off.
 *
 * Per rank r (each rank is `-t` threads), float32, message of S bytes cut into n slices:
 *   copy-in:  rank r copies its input, all but its own slice, into its slot A;
 *   reduce:   rank r sums its slice from its input and the n-1 other slots A, in 16 KiB blocks,
 *             with tacl's reduction kernel, into its output, and copies each block while hot into
 * its slot B; copy-out: rank r copies slice q from rank q's slot B into its output, for every q !=
 * r. A barrier of all threads follows copy-in and reduce (the all_reduce's two steps). This moves
 * about (n-1)/n S in, S reduced, (n-1)/n S out per rank: what every copying design moves when
 * the callers' buffers are private to their processes. The times are per all_reduce: mean, p50
 * and p99 over the iterations; each size is checked once against the expected sum.
 *
 * Messages larger than a chunk (-c, default 1 MiB: TACL_SHM_SLOT_BYTES's default) go through
 * the slots chunk by chunk, with the same barriers per chunk, as in tacl.
 *
 * Usage: copy_floor [-n ranks] [-t threads per rank] [-s size,size,...] [-c chunk bytes]
 *                   [-i iterations] */
#include "clock.h"
#include "reduce.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLOOR_MAX_RANKS 64
#define FLOOR_MAX_THR   16
#define FLOOR_BLOCK     (16384 / sizeof(float))
#define FLOOR_MAX_ITERS 5000

typedef struct {
    int n, t, iters;
    size_t count, chunk; /* elements: the message, and a chunk of it (a slot's worth) */
    float *in[FLOOR_MAX_RANKS], *out[FLOOR_MAX_RANKS], *a[FLOOR_MAX_RANKS], *b[FLOOR_MAX_RANKS];
    char *mem[FLOOR_MAX_RANKS][4]; /* the allocations behind in, a, out, b */
    _Atomic unsigned arrived;
    _Atomic unsigned sense;
    double *times; /* per iteration, written by thread 0 */
} floor_t;

typedef struct {
    floor_t *f;
    int rank, thr;
} floor_arg_t;

static void floor_barrier(floor_t *f, unsigned *local)
{
    unsigned total = (unsigned)(f->n * f->t);
    *local ^= 1u;
    if (atomic_fetch_add(&f->arrived, 1) + 1 == total) {
        atomic_store(&f->arrived, 0);
        atomic_store(&f->sense, *local);
        return;
    }
    while (atomic_load_explicit(&f->sense, memory_order_acquire) != *local)
        _mm_pause();
}

/* This thread's part [lo, hi) of the element range [a, b). */
static void floor_part(size_t a, size_t b, int thr, int t, size_t *lo, size_t *hi)
{
    size_t len = b - a, per = (len + (size_t)t - 1) / (size_t)t;
    *lo = a + per * (size_t)thr;
    *hi = *lo + per;
    if (*lo > b) *lo = b;
    if (*hi > b) *hi = b;
}

/* This thread's part of elements [a, b) of the message: from src[x - sbase] to dst[x - dbase]
 * (a slot holds one chunk, from the chunk's first element; a user buffer the whole message). */
static void floor_copy_range(float *dst, size_t dbase, const float *src, size_t sbase, size_t a,
                             size_t b, int thr, int t)
{
    size_t lo, hi;
    floor_part(a, b, thr, t, &lo, &hi);
    if (hi > lo) memcpy(dst + (lo - dbase), src + (lo - sbase), (hi - lo) * sizeof(float));
}

static void floor_reduce(floor_t *f, int r, size_t off, size_t lo, size_t hi)
{
    const void *srcs[FLOOR_MAX_RANKS];
    for (size_t x = lo; x < hi; x += FLOOR_BLOCK) {
        size_t m = hi - x < FLOOR_BLOCK ? hi - x : FLOOR_BLOCK;
        for (int q = 0; q < f->n; q++)
            srcs[q] = q == r ? (const void *)(f->in[r] + x) : (const void *)(f->a[q] + (x - off));
        /* tacl's own reduction kernel, as the all_reduce calls it. */
        tacl__reduce_many(f->out[r] + x, srcs, f->n, m, TACL_FLOAT32, TACL_SUM);
        memcpy(f->b[r] + (x - off), f->out[r] + x, m * sizeof(float));
    }
}

static void *floor_thread(void *p)
{
    floor_arg_t *arg = p;
    floor_t *f = arg->f;
    const int r = arg->rank, t = f->t, thr = arg->thr, n = f->n;
    unsigned local = 0;
    floor_barrier(f, &local);
    for (int it = 0; it < f->iters; it++) {
        uint64_t t0 = tacl__now_ns();
        for (size_t off = 0; off < f->count; off += f->chunk) {
            /* Chunk [off, off + c) of the message, slice q of it [lo(q), hi(q)). */
            const size_t c = f->count - off < f->chunk ? f->count - off : f->chunk;
            const size_t per = ((c + (size_t)n - 1) / (size_t)n + 15) / 16 * 16;
            size_t lo[FLOOR_MAX_RANKS], hi[FLOOR_MAX_RANKS];
            for (int q = 0; q < n; q++) {
                lo[q] = off + (per * (size_t)q < c ? per * (size_t)q : c);
                hi[q] = off + (per * (size_t)(q + 1) < c ? per * (size_t)(q + 1) : c);
            }
            floor_copy_range(f->a[r], off, f->in[r], 0, off, lo[r], thr, t);
            floor_copy_range(f->a[r], off, f->in[r], 0, hi[r], off + c, thr, t);
            floor_barrier(f, &local);
            size_t a, b;
            floor_part(lo[r], hi[r], thr, t, &a, &b);
            floor_reduce(f, r, off, a, b);
            floor_barrier(f, &local);
            for (int q = 0; q < n; q++)
                if (q != r) floor_copy_range(f->out[r], 0, f->b[q], off, lo[q], hi[q], thr, t);
        }
        /* The next chunk's copy-in writes slot A, read by this chunk's reduce, and its reduce
         * writes slot B, read by this copy-out: the barriers in between order them. Time the
         * all_reduce up to here on thread 0 of rank 0. */
        if (r == 0 && thr == 0) f->times[it] = (double)(tacl__now_ns() - t0) * 1e-3;
    }
    floor_barrier(f, &local);
    return NULL;
}

static int floor_cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static size_t floor_parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (*end == 'K' || *end == 'k') v *= 1024;
    if (*end == 'M' || *end == 'm') v *= 1024 * 1024;
    return (size_t)v;
}

static int floor_run(int n, int t, size_t bytes, size_t chunk, int iters)
{
    floor_t *f = calloc(1, sizeof *f);
    if (!f) return 1;
    f->n = n;
    f->t = t;
    f->iters = iters;
    f->count = bytes / sizeof(float);
    f->chunk = chunk / sizeof(float) ? chunk / sizeof(float) : 1;
    f->times = calloc((size_t)iters, sizeof *f->times);
    int bad = !f->times;
    for (int r = 0; r < n && !bad; r++) {
        /* The four buffers a quarter of a page apart modulo 4 KiB: copies between buffers at
         * the same offset would stall on 4K aliasing, which tacl avoids (shm_ar_shift). */
        for (int k = 0; k < 4; k++) {
            size_t len = k == 1 || k == 3 ? (chunk < bytes ? chunk : bytes) : bytes;
            char *m = aligned_alloc(4096, (len + 4096) / 4096 * 4096 + 4096);
            if (!m) {
                bad = 1;
                break;
            }
            f->mem[r][k] = m;
        }
        if (bad) break;
        f->in[r] = (float *)f->mem[r][0];
        f->a[r] = (float *)(f->mem[r][1] + 1024);
        f->out[r] = (float *)(f->mem[r][2] + 2048);
        f->b[r] = (float *)(f->mem[r][3] + 3072);
        for (size_t i = 0; i < f->count; i++)
            f->in[r][i] = (float)((r + 1) * (int)(i % 7 + 1));
    }
    pthread_t tid[FLOOR_MAX_RANKS * FLOOR_MAX_THR];
    floor_arg_t args[FLOOR_MAX_RANKS * FLOOR_MAX_THR];
    int started = 0;
    for (int k = 0; k < n * t && !bad; k++) {
        args[k] = (floor_arg_t){.f = f, .rank = k / t, .thr = k % t};
        if (pthread_create(&tid[k], NULL, floor_thread, &args[k]) != 0)
            bad = 1;
        else
            started++;
    }
    for (int k = 0; k < started; k++)
        pthread_join(tid[k], NULL);
    if (!bad) {
        /* Every rank's output: sum over ranks of (r+1) * (i%7+1). */
        float tri = (float)(n * (n + 1) / 2);
        for (int r = 0; r < n && !bad; r++)
            for (size_t i = 0; i < f->count; i++)
                if (f->out[r][i] != tri * (float)(i % 7 + 1)) {
                    fprintf(stderr, "copy_floor: rank %d element %zu is %g, expected %g\n", r, i,
                            f->out[r][i], tri * (float)(i % 7 + 1));
                    bad = 1;
                    break;
                }
    }
    if (!bad) {
        double mean = 0;
        for (int i = 0; i < iters; i++)
            mean += f->times[i];
        mean /= iters;
        qsort(f->times, (size_t)iters, sizeof *f->times, floor_cmp);
        double p50 = f->times[iters / 2], p99 = f->times[(size_t)(iters * 0.99)];
        double busbw = 2.0 * (n - 1) / n * (double)bytes / (mean * 1e3);
        printf("%12zu %10.2f %10.2f %10.2f %9.2f\n", bytes, mean, p50, p99, busbw);
    }
    for (int r = 0; r < n; r++)
        for (int k = 0; k < 4; k++)
            free(f->mem[r][k]);
    free(f->times);
    free(f);
    return bad;
}

int main(int argc, char **argv)
{
    int n = 8, t = 2, iters = 0;
    size_t chunk = 1u << 20;
    const char *sizes = "1M,2M,4M,8M,16M,64M";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            t = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            sizes = argv[++i];
        else if (!strcmp(argv[i], "-c") && i + 1 < argc)
            chunk = floor_parse_size(argv[++i]) / 64 * 64;
        else if (!strcmp(argv[i], "-i") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: copy_floor [-n ranks] [-t threads per rank] "
                            "[-s size,size,...] [-c chunk bytes] [-i iterations]\n");
            return 2;
        }
    }
    if (n < 2 || n > FLOOR_MAX_RANKS || t < 1 || t > FLOOR_MAX_THR || iters < 0 ||
        iters > FLOOR_MAX_ITERS || chunk < (size_t)n * 64) {
        fprintf(stderr, "copy_floor: -n 2..%d, -t 1..%d, -i 0..%d, -c at least 64 bytes a rank\n",
                FLOOR_MAX_RANKS, FLOOR_MAX_THR, FLOOR_MAX_ITERS);
        return 2;
    }
    printf("# copy_floor: the copies and reduction of a copying all_reduce, %d ranks x %d threads "
           "of one process, spin barriers, chunks of %zu bytes; float32 sum; time per all_reduce "
           "(us), busbw GB/s\n",
           n, t, chunk);
    printf("%12s %10s %10s %10s %9s\n", "bytes", "mean_us", "p50_us", "p99_us", "busbw");
    char *list = strdup(sizes);
    int rc = 0;
    for (char *save = NULL, *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        size_t bytes = floor_parse_size(s) / 64 * 64;
        if (bytes < (size_t)n * 64) continue;
        int it = iters ? iters : (int)((512u << 20) / bytes);
        if (it < 20) it = 20;
        if (it > FLOOR_MAX_ITERS) it = FLOOR_MAX_ITERS;
        rc |= floor_run(n, t, bytes, chunk, it);
    }
    free(list);
    return rc;
}
