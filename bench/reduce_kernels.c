/* reduce_kernels.c — throughput of the reduction kernels: tacl__reduce_many over n sources of a
 * given size, for a few (dtype, op) pairs, on the kernel family that TACL_REDUCE_ISA selects
 * (default: the best this CPU has). Reports GB/s of source bytes read (n * bytes / time).
 * Usage: reduce_kernels [bytes_per_source] (run with TACL_REDUCE_ISA=scalar|avx2|avx512). */
#include "clock.h"
#include "reduce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    size_t bytes = argc > 1 ? strtoull(argv[1], NULL, 0) : (1u << 20);
    static const struct {
        tacl_dtype_t dt;
        tacl_op_t op;
    } cases[] = {{TACL_FLOAT32, TACL_SUM}, {TACL_FLOAT32, TACL_MAX}, {TACL_BFLOAT16, TACL_SUM},
                 {TACL_FLOAT16, TACL_SUM}, {TACL_INT32, TACL_SUM},   {TACL_FLOAT64, TACL_SUM}};
    static const int ns[] = {2, 4, 8};
    void *src[8];
    for (int k = 0; k < 8; k++) {
        src[k] = malloc(bytes);
        if (!src[k]) return 1;
        memset(src[k], 0x3c, bytes); /* 0x3c3c...: a finite value in every type */
    }
    void *dst = malloc(bytes);
    if (!dst) return 1;
    printf("# kernels: %s, %zu bytes per source; GB/s of sources read\n", tacl__reduce_isa(),
           bytes);
    printf("%-10s %-5s %8s %8s %8s\n", "dtype", "op", "n=2", "n=4", "n=8");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t count = bytes / tacl_dtype_size(cases[c].dt);
        printf("%-10s %-5s", tacl_dtype_name(cases[c].dt), tacl_op_name(cases[c].op));
        for (size_t j = 0; j < 3; j++) {
            int n = ns[j], iters = (int)((512u << 20) / (bytes * (size_t)n)) + 1;
            double best = 0;
            for (int rep = 0; rep < 3; rep++) {
                uint64_t t0 = tacl__now_ns();
                for (int i = 0; i < iters; i++)
                    tacl__reduce_many(dst, (const void *const *)src, n, count, cases[c].dt,
                                      cases[c].op);
                double gbs = (double)bytes * n * iters / (double)(tacl__now_ns() - t0);
                if (gbs > best) best = gbs;
            }
            printf(" %8.2f", best);
        }
        printf("\n");
    }
    for (int k = 0; k < 8; k++)
        free(src[k]);
    free(dst);
    return 0;
}
