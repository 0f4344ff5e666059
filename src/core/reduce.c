/* reduce.c — the element-wise reduction kernels of reduce.h and their run-time dispatch. One
 * template (RED_FAMILY) is instantiated three times: plain (scalar), target("avx2,f16c") and
 * target("avx512f,avx512bw"); the compiler vectorises the element-wise loops for each target,
 * and the 16-bit conversions are written by hand with F16C / AVX2 / AVX-512 intrinsics.
 * Every kernel performs, per element, exactly the same IEEE operations in the same order
 * whatever the target (no reassociation across elements, no FMA: reductions only add,
 * multiply, compare and divide), so every family gives bitwise identical results; the unit
 * test checks that. 16-bit floats are widened to float32 one block at a time, the whole chain
 * of sources is reduced in float32, and the block is rounded to nearest even once.
 *
 * NaN rules (all families): a sum or product that is a NaN is the canonical quiet NaN (positive,
 * payload 0: 0x7fc00000 for float32). min/max: if either operand is a NaN the result is a NaN,
 * namely the left operand when it is one, else the right one; of two equal values (+0/-0)
 * the right operand is kept. In a chain s0 (op) s1 (op) ... "left" is the accumulator. */
#pragma GCC optimize("O3", "fp-contract=off")

#include "reduce.h"
#include "log.h"
#include "settings.h"

#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* ---- Exact scalar conversions (the reference every vector path must match). ---- */

static inline uint32_t reduce_f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float reduce_u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float tacl__half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) /* inf, or NaN made quiet (as F16C's vcvtph2ps does) */
        return reduce_u2f(sign | 0x7f800000 | (man ? 0x400000 | (man << 13) : 0));
    if (exp == 0) {
        if (!man) return reduce_u2f(sign);
        /* Subnormal: man * 2^-24, exact in float32. */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return reduce_u2f(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t tacl__float_to_half(float f)
{
    uint32_t x = reduce_f2u(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7fffffff;
    if (x > 0x7f800000) /* NaN: quiet, payload truncated (F16C's vcvtps2ph does the same) */
        return (uint16_t)(sign | 0x7e00 | ((x >> 13) & 0x3ff));
    if (x >= 0x47800000) return (uint16_t)(sign | 0x7c00); /* >= 65536 (and inf): inf */
    if (x < 0x38800000) {                                  /* below 2^-14: half subnormal */
        if (x < 0x33000000) return sign;                   /* < 2^-25 rounds to zero */
        uint32_t m = (x & 0x7fffff) | 0x800000;
        int shift = 126 - (int)(x >> 23); /* 14..24 */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    /* Normal: rebias the exponent, round the 13 dropped bits to nearest even; a carry out of
     * the mantissa correctly bumps the exponent (up to inf for 65520..65535). */
    uint32_t r = x - 0x38000000;
    r = (r + 0xfff + ((r >> 13) & 1)) >> 13;
    return (uint16_t)(sign | r);
}

float tacl__bf16_to_float(uint16_t b)
{
    return reduce_u2f((uint32_t)b << 16);
}

static inline uint16_t reduce_f2bf(uint32_t u)
{
    /* Round to nearest even; a NaN stays a (quiet) NaN instead of rounding into inf. */
    uint32_t r = (u + 0x7fff + ((u >> 16) & 1)) >> 16;
    uint32_t q = (u >> 16) | 0x40;
    return (uint16_t)((u & 0x7fffffff) > 0x7f800000 ? q : r);
}

uint16_t tacl__float_to_bf16(float f)
{
    return reduce_f2bf(reduce_f2u(f));
}

/* ---- The kernel template. ---- */

typedef void (*reduce_bin_fn)(void *d, const void *a, const void *b, size_t n);
typedef void (*reduce_bin4_fn)(void *d, const void *a, const void *b, const void *c, const void *e,
                               size_t n);
typedef void (*reduce_in_fn)(float *o, const uint16_t *s, size_t n);
typedef void (*reduce_out_fn)(uint16_t *o, const float *s, size_t n);

typedef struct {
    const char *name;
    reduce_bin_fn bin[TACL_DTYPE_COUNT][4];   /* sum, prod, min, max (avg reduces as sum) */
    reduce_bin4_fn bin4[TACL_DTYPE_COUNT][4]; /* the same, of four sources in one pass */
    reduce_in_fn half_in, bf16_in;
    reduce_out_fn half_out, bf16_out;
} reduce_family_t;

/* Integer arithmetic wraps: signed types compute in their unsigned counterpart. */
#define RED_ISUM(T, U)  (T)((U)x + (U)y)
#define RED_IPROD(T, U) (T)((U)x * (U)y)
#define RED_MIN(T, U)   (y < x ? y : x)
#define RED_MAX(T, U)   (y > x ? y : x)
/* A NaN sum or product is the canonical quiet NaN: which input NaN an add propagates depends
 * on the operand order the compiler picked, which may differ between families. */
#define RED_FSUM(T, U)  ((x + y) != (x + y) ? (T)NAN : (x + y))
#define RED_FPROD(T, U) ((x * y) != (x * y) ? (T)NAN : (x * y))
#define RED_FMIN(T, U)  ((x != x || x < y) ? x : y)
#define RED_FMAX(T, U)  ((x != x || x > y) ? x : y)

#define RED_BIN(fam, attr, name, T, U, EXPR)                                                       \
    attr static void reduce_##fam##_##name(void *dv, const void *av, const void *bv, size_t n)     \
    {                                                                                              \
        T *d = (T *)dv;                                                                            \
        const T *a = (const T *)av, *b = (const T *)bv;                                            \
        for (size_t i = 0; i < n; i++) {                                                           \
            T x = a[i], y = b[i];                                                                  \
            d[i] = EXPR(T, U);                                                                     \
        }                                                                                          \
    }

/* d = ((a op b) op c) op e element by element: the same operations in the same order as three
 * passes of RED_BIN, in one pass that streams four sources at once (more cache misses in
 * flight: the sources of a shared-memory reduction sit in other cores' caches). */
#define RED_BIN4(fam, attr, name, T, U, EXPR)                                                      \
    attr static void reduce_##fam##_##name##4(void *dv, const void *av, const void *bv,            \
                                              const void *cv, const void *ev, size_t n)            \
    {                                                                                              \
        T *d = (T *)dv;                                                                            \
        const T *a = (const T *)av, *b = (const T *)bv, *c = (const T *)cv, *e = (const T *)ev;    \
        for (size_t i = 0; i < n; i++) {                                                           \
            T x = a[i], y = b[i];                                                                  \
            x = EXPR(T, U);                                                                        \
            y = c[i];                                                                              \
            x = EXPR(T, U);                                                                        \
            y = e[i];                                                                              \
            d[i] = EXPR(T, U);                                                                     \
        }                                                                                          \
    }

#define RED_OP(fam, attr, name, T, U, EXPR)                                                        \
    RED_BIN(fam, attr, name, T, U, EXPR)                                                           \
    RED_BIN4(fam, attr, name, T, U, EXPR)

#define RED_INT_TYPE(fam, attr, tn, T, U)                                                          \
    RED_OP(fam, attr, tn##_sum, T, U, RED_ISUM)                                                    \
    RED_OP(fam, attr, tn##_prod, T, U, RED_IPROD)                                                  \
    RED_OP(fam, attr, tn##_min, T, U, RED_MIN)                                                     \
    RED_OP(fam, attr, tn##_max, T, U, RED_MAX)

#define RED_FLT_TYPE(fam, attr, tn, T)                                                             \
    RED_OP(fam, attr, tn##_sum, T, T, RED_FSUM)                                                    \
    RED_OP(fam, attr, tn##_prod, T, T, RED_FPROD)                                                  \
    RED_OP(fam, attr, tn##_min, T, T, RED_FMIN)                                                    \
    RED_OP(fam, attr, tn##_max, T, T, RED_FMAX)

#define RED_ROW(fam, tn)                                                                           \
    {                                                                                              \
        reduce_##fam##_##tn##_sum, reduce_##fam##_##tn##_prod, reduce_##fam##_##tn##_min,          \
            reduce_##fam##_##tn##_max                                                              \
    }

#define RED_ROW4(fam, tn)                                                                          \
    {                                                                                              \
        reduce_##fam##_##tn##_sum4, reduce_##fam##_##tn##_prod4, reduce_##fam##_##tn##_min4,       \
            reduce_##fam##_##tn##_max4                                                             \
    }

#define RED_FAMILY(fam, attr)                                                                      \
    RED_INT_TYPE(fam, attr, i8, int8_t, uint8_t)                                                   \
    RED_INT_TYPE(fam, attr, u8, uint8_t, uint8_t)                                                  \
    RED_INT_TYPE(fam, attr, i32, int32_t, uint32_t)                                                \
    RED_INT_TYPE(fam, attr, u32, uint32_t, uint32_t)                                               \
    RED_INT_TYPE(fam, attr, i64, int64_t, uint64_t)                                                \
    RED_INT_TYPE(fam, attr, u64, uint64_t, uint64_t)                                               \
    RED_FLT_TYPE(fam, attr, f32, float)                                                            \
    RED_FLT_TYPE(fam, attr, f64, double)

#define RED_TABLE(fam, label, hin, hout, bin_, bout)                                               \
    static const reduce_family_t reduce_family_##fam = {                                           \
        .name = label,                                                                             \
        .bin = {RED_ROW(fam, i8), RED_ROW(fam, u8), RED_ROW(fam, i32), RED_ROW(fam, u32),          \
                RED_ROW(fam, i64), RED_ROW(fam, u64), RED_ROW(fam, f32), RED_ROW(fam, f32),        \
                RED_ROW(fam, f32), RED_ROW(fam, f64)},                                             \
        .bin4 = {RED_ROW4(fam, i8), RED_ROW4(fam, u8), RED_ROW4(fam, i32), RED_ROW4(fam, u32),     \
                 RED_ROW4(fam, i64), RED_ROW4(fam, u64), RED_ROW4(fam, f32), RED_ROW4(fam, f32),   \
                 RED_ROW4(fam, f32), RED_ROW4(fam, f64)},                                          \
        .half_in = hin,                                                                            \
        .bf16_in = bin_,                                                                           \
        .half_out = hout,                                                                          \
        .bf16_out = bout,                                                                          \
    };

/* Scalar family: the compiler may still use SSE2 (x86-64 baseline), which is IEEE too. */
RED_FAMILY(scalar, )

static void reduce_scalar_bf16_in(float *o, const uint16_t *s, size_t n)
{
    uint32_t *ou = (uint32_t *)o;
    for (size_t i = 0; i < n; i++)
        ou[i] = (uint32_t)s[i] << 16;
}

static void reduce_scalar_bf16_out(uint16_t *o, const float *s, size_t n)
{
    const uint32_t *su = (const uint32_t *)s;
    for (size_t i = 0; i < n; i++)
        o[i] = reduce_f2bf(su[i]);
}

static void reduce_scalar_half_in(float *o, const uint16_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        o[i] = tacl__half_to_float(s[i]);
}

static void reduce_scalar_half_out(uint16_t *o, const float *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        o[i] = tacl__float_to_half(s[i]);
}

RED_TABLE(scalar, "scalar", reduce_scalar_half_in, reduce_scalar_half_out, reduce_scalar_bf16_in,
          reduce_scalar_bf16_out)

#if defined(__x86_64__) && defined(__GNUC__)
#define REDUCE_HAVE_X86 1
#define RED_AVX2        __attribute__((target("avx2,f16c")))
#define RED_AVX512      __attribute__((target("avx512f,avx512bw,avx2,f16c")))

RED_FAMILY(avx2, RED_AVX2)
RED_FAMILY(avx512, RED_AVX512)

/* F16C conversions are exact and round to nearest even, like the scalar reference; the tails
 * use the scalar functions. */
RED_AVX2 static void reduce_avx2_half_in(float *o, const uint16_t *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(o + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
    for (; i < n; i++)
        o[i] = tacl__half_to_float(s[i]);
}

RED_AVX2 static void reduce_avx2_half_out(uint16_t *o, const float *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(
            (__m128i *)(o + i),
            _mm256_cvtps_ph(_mm256_loadu_ps(s + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++)
        o[i] = tacl__float_to_half(s[i]);
}

RED_AVX512 static void reduce_avx512_half_in(float *o, const uint16_t *s, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(o + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(s + i))));
    for (; i < n; i++)
        o[i] = tacl__half_to_float(s[i]);
}

RED_AVX512 static void reduce_avx512_half_out(uint16_t *o, const float *s, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256(
            (__m256i *)(o + i),
            _mm512_cvtps_ph(_mm512_loadu_ps(s + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++)
        o[i] = tacl__float_to_half(s[i]);
}

/* bfloat16 by hand: the compiler's version of the narrowing (32 -> 16 bits) is slow. Same
 * arithmetic as reduce_f2bf: round to nearest even, NaN kept quiet. */
RED_AVX2 static inline __m256i reduce_avx2_f2bf(__m256i u)
{
    const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff);
    __m256i hi = _mm256_srli_epi32(u, 16);
    __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(u, bias), _mm256_and_si256(hi, one)), 16);
    __m256i q = _mm256_or_si256(hi, _mm256_set1_epi32(0x40));
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                     _mm256_set1_epi32(0x7f800000));
    return _mm256_blendv_epi8(r, q, nan);
}

RED_AVX2 static void reduce_avx2_bf16x_in(float *o, const uint16_t *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + i)));
        _mm256_storeu_si256((__m256i *)(o + i), _mm256_slli_epi32(w, 16));
    }
    for (; i < n; i++)
        o[i] = tacl__bf16_to_float(s[i]);
}

RED_AVX2 static void reduce_avx2_bf16x_out(uint16_t *o, const float *s, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a = reduce_avx2_f2bf(_mm256_loadu_si256((const __m256i *)(s + i)));
        __m256i b = reduce_avx2_f2bf(_mm256_loadu_si256((const __m256i *)(s + i + 8)));
        /* packus works per 128-bit lane; the permute puts the four quarters in order. */
        __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);
        _mm256_storeu_si256((__m256i *)(o + i), p);
    }
    for (; i < n; i++)
        o[i] = tacl__float_to_bf16(s[i]);
}

RED_AVX512 static void reduce_avx512_bf16x_in(float *o, const uint16_t *s, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(s + i)));
        _mm512_storeu_si512((void *)(o + i), _mm512_slli_epi32(w, 16));
    }
    for (; i < n; i++)
        o[i] = tacl__bf16_to_float(s[i]);
}

RED_AVX512 static void reduce_avx512_bf16x_out(uint16_t *o, const float *s, size_t n)
{
    const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7fff);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i u = _mm512_loadu_si512((const void *)(s + i));
        __m512i hi = _mm512_srli_epi32(u, 16);
        __m512i r = _mm512_srli_epi32(
            _mm512_add_epi32(_mm512_add_epi32(u, bias), _mm512_and_si512(hi, one)), 16);
        __m512i q = _mm512_or_si512(hi, _mm512_set1_epi32(0x40));
        __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
        r = _mm512_mask_blend_epi32(nan, r, q);
        _mm256_storeu_si256((__m256i *)(o + i), _mm512_cvtepi32_epi16(r));
    }
    for (; i < n; i++)
        o[i] = tacl__float_to_bf16(s[i]);
}

RED_TABLE(avx2, "avx2", reduce_avx2_half_in, reduce_avx2_half_out, reduce_avx2_bf16x_in,
          reduce_avx2_bf16x_out)
RED_TABLE(avx512, "avx512", reduce_avx512_half_in, reduce_avx512_half_out, reduce_avx512_bf16x_in,
          reduce_avx512_bf16x_out)
#else
#define REDUCE_HAVE_X86 0
#endif

/* ---- Choice of family (once per process; TACL_REDUCE_ISA overrides for tests). ---- */

static const reduce_family_t *reduce_fam = &reduce_family_scalar;
static pthread_once_t reduce_once = PTHREAD_ONCE_INIT;

static void reduce_pick(void)
{
#if REDUCE_HAVE_X86
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
    const reduce_family_t *best = has512 ? &reduce_family_avx512
                                  : has2 ? &reduce_family_avx2
                                         : &reduce_family_scalar;
#else
    int has512 = 0, has2 = 0;
    const reduce_family_t *best = &reduce_family_scalar;
#endif
    const char *want = tacl__setting_str(TACL_SET_REDUCE_ISA);
    reduce_fam = best;
    if (!strcmp(want, "scalar")) {
        reduce_fam = &reduce_family_scalar;
#if REDUCE_HAVE_X86
    } else if (!strcmp(want, "avx2") && has2) {
        reduce_fam = &reduce_family_avx2;
    } else if (!strcmp(want, "avx512") && has512) {
        reduce_fam = &reduce_family_avx512;
#endif
    } else if (!strcmp(want, "avx2") || !strcmp(want, "avx512")) {
        TACL_WARN(TACL_SUB_INIT, "TACL_REDUCE_ISA=%s: this CPU lacks it; using %s", want,
                  best->name);
    } else if (want[0] && strcmp(want, "auto")) {
        TACL_WARN(TACL_SUB_INIT,
                  "TACL_REDUCE_ISA=%s is not one of auto|scalar|avx2|avx512; "
                  "using %s",
                  want, best->name);
    }
    (void)has2;
    (void)has512;
    TACL_DEBUG(TACL_SUB_INIT, "reduction kernels: %s", reduce_fam->name);
}

static inline const reduce_family_t *reduce_get(void)
{
    pthread_once(&reduce_once, reduce_pick);
    return reduce_fam;
}

const char *tacl__reduce_isa(void)
{
    return reduce_get()->name;
}

/* ---- Drivers. ---- */

/* Elements per block: 16-bit floats widen a block into two float32 buffers on the stack; other
 * types reduce a chain of more than two sources one cache-resident block at a time. */
#define REDUCE_BLOCK 1024

static int reduce_op_index(tacl_op_t op)
{
    return op == TACL_AVG ? (int)TACL_SUM : (int)op;
}

static void reduce_many16(const reduce_family_t *f, void *dst, const void *const *srcs, int n,
                          size_t count, tacl_dtype_t dt, int opi)
{
    float acc[REDUCE_BLOCK] __attribute__((aligned(64)));
    float tmp[REDUCE_BLOCK] __attribute__((aligned(64)));
    reduce_in_fn in = dt == TACL_FLOAT16 ? f->half_in : f->bf16_in;
    reduce_out_fn out = dt == TACL_FLOAT16 ? f->half_out : f->bf16_out;
    reduce_bin_fn bin = f->bin[TACL_FLOAT32][opi];
    for (size_t off = 0; off < count; off += REDUCE_BLOCK) {
        size_t m = count - off < REDUCE_BLOCK ? count - off : REDUCE_BLOCK;
        in(acc, (const uint16_t *)srcs[0] + off, m);
        for (int k = 1; k < n; k++) {
            in(tmp, (const uint16_t *)srcs[k] + off, m);
            bin(acc, acc, tmp, m);
        }
        out((uint16_t *)dst + off, acc, m);
    }
}

void tacl__reduce_many(void *dst, const void *const *srcs, int n, size_t count, tacl_dtype_t dt,
                       tacl_op_t op)
{
    if (n < 1 || count == 0 || (unsigned)dt >= TACL_DTYPE_COUNT || (unsigned)op >= TACL_OP_COUNT)
        return;
    size_t es = tacl_dtype_size(dt);
    if (n == 1) {
        if (dst != srcs[0]) memmove(dst, srcs[0], count * es);
        return;
    }
    const reduce_family_t *f = reduce_get();
    int opi = reduce_op_index(op);
    if (dt == TACL_FLOAT16 || dt == TACL_BFLOAT16) {
        reduce_many16(f, dst, srcs, n, count, dt, opi);
        return;
    }
    reduce_bin_fn bin = f->bin[dt][opi];
    reduce_bin4_fn bin4 = f->bin4[dt][opi];
    if (n == 2) {
        bin(dst, srcs[0], srcs[1], count);
        return;
    }
    /* The chain s0 op s1 op ... in passes over an 8 KiB block of dst that stays in L1: the
     * first pass takes four sources (two when there are fewer), each further pass dst and three
     * more, and each source left over a pass of its own. */
    size_t block = REDUCE_BLOCK * 8 / es;
    for (size_t off = 0; off < count; off += block) {
        size_t m = count - off < block ? count - off : block, o = off * es;
        char *d = (char *)dst + o;
        const char *const *s = (const char *const *)srcs;
        int k;
        if (n >= 4) {
            bin4(d, s[0] + o, s[1] + o, s[2] + o, s[3] + o, m);
            k = 4;
        } else {
            bin(d, s[0] + o, s[1] + o, m);
            k = 2;
        }
        for (; k + 3 <= n; k += 3)
            bin4(d, d, s[k] + o, s[k + 1] + o, s[k + 2] + o, m);
        for (; k < n; k++)
            bin(d, d, s[k] + o, m);
    }
}

void tacl__reduce2(void *dst, const void *a, const void *b, size_t count, tacl_dtype_t dt,
                   tacl_op_t op)
{
    const void *srcs[2] = {a, b};
    tacl__reduce_many(dst, srcs, 2, count, dt, op);
}

void tacl__reduce_inplace(void *dst, const void *src, size_t count, tacl_dtype_t dt, tacl_op_t op)
{
    const void *srcs[2] = {dst, src};
    tacl__reduce_many(dst, srcs, 2, count, dt, op);
}

/* The divisor type D is wide enough for any n (an 8-bit n would wrap at 256 ranks). */
#define RED_DIV_LOOP(T, D)                                                                         \
    do {                                                                                           \
        T *p = (T *)buf;                                                                           \
        for (size_t i = 0; i < count; i++)                                                         \
            p[i] = (T)(p[i] / (D)n);                                                               \
    } while (0)

void tacl__reduce_finish(void *buf, size_t count, tacl_dtype_t dt, tacl_op_t op, int n)
{
    if (op != TACL_AVG || n <= 1 || count == 0) return;
    /* Plain C division for every family: IEEE division is exact-rounded, so the result is the
     * same on every path. */
    switch (dt) {
    case TACL_INT8:
        RED_DIV_LOOP(int8_t, long long);
        break;
    case TACL_UINT8:
        RED_DIV_LOOP(uint8_t, long long);
        break;
    case TACL_INT32:
        RED_DIV_LOOP(int32_t, long long);
        break;
    case TACL_UINT32:
        RED_DIV_LOOP(uint32_t, long long);
        break;
    case TACL_INT64:
        RED_DIV_LOOP(int64_t, long long);
        break;
    case TACL_UINT64:
        RED_DIV_LOOP(uint64_t, unsigned long long);
        break;
    case TACL_FLOAT32:
        RED_DIV_LOOP(float, float);
        break;
    case TACL_FLOAT64:
        RED_DIV_LOOP(double, double);
        break;
    case TACL_FLOAT16:
    case TACL_BFLOAT16: {
        uint16_t *p = (uint16_t *)buf;
        int half = dt == TACL_FLOAT16;
        for (size_t i = 0; i < count; i++) {
            float v = half ? tacl__half_to_float(p[i]) : tacl__bf16_to_float(p[i]);
            v = v / (float)n;
            p[i] = half ? tacl__float_to_half(v) : tacl__float_to_bf16(v);
        }
        break;
    }
    default:
        break;
    }
}
