/* reduce.h — element-wise reduction kernels for every (dtype, op) pair: the arithmetic under
 * every host collective. Kernels are chosen at run time for the CPU (AVX-512, AVX2, scalar);
 * float16 and bfloat16 accumulate in float32 and round to nearest even once per call.
 * Results depend only on the inputs and their order, never on the CPU path chosen, so that
 * every rank computes bitwise identical all_reduce results. */
#ifndef TACL_CORE_REDUCE_H
#define TACL_CORE_REDUCE_H

#include "tacl.h"

#include <stddef.h>

/* dst[i] = dst[i] (op) src[i] for i < count. TACL_AVG reduces as TACL_SUM; the caller divides
 * once at the end with tacl__reduce_finish. dst and src may be the same buffer. */
void tacl__reduce_inplace(void *dst, const void *src, size_t count, tacl_dtype_t dt, tacl_op_t op);
/* dst[i] = a[i] (op) b[i]; dst may alias a or b. */
void tacl__reduce2(void *dst, const void *a, const void *b, size_t count, tacl_dtype_t dt,
                   tacl_op_t op);
/* dst[i] = srcs[0][i] (op) srcs[1][i] (op) ... in that order, n >= 1; for 16-bit floats the whole
 * chain accumulates in float32 and rounds once. dst may alias srcs[0]. */
void tacl__reduce_many(void *dst, const void *const *srcs, int n, size_t count, tacl_dtype_t dt,
                       tacl_op_t op);
/* For TACL_AVG: divides every element by n (integers: truncating division). Other ops: no-op. */
void tacl__reduce_finish(void *buf, size_t count, tacl_dtype_t dt, tacl_op_t op, int n);
/* Name of the kernel family in use ("avx512", "avx2", "scalar"), for logs and tacl info. */
const char *tacl__reduce_isa(void);

/* 16-bit float conversions (round to nearest even). */
float tacl__half_to_float(uint16_t h);
uint16_t tacl__float_to_half(float f);
float tacl__bf16_to_float(uint16_t b);
uint16_t tacl__float_to_bf16(float f);

#endif
