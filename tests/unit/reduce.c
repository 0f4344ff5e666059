/* reduce.c (test) — the reduction kernels: every dtype x op x count x number of sources, on
 * every kernel family this CPU has (scalar, avx2, avx512; each in a forked child with
 * TACL_REDUCE_ISA set), against references written here; 16-bit floats against float32
 * accumulation rounded once by the compiler's own _Float16 conversion (half) or a
 * nearest-by-distance search (bfloat16); and the families' outputs compared bitwise. */
#include "check.h"
#include "reduce.h"

#include <math.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSRC_MAX 11
static const size_t counts[] = {0, 1, 7, 31, 1000, 4099};
static const int nsrcs[] = {1, 2, 3, 4, 5, 6, 7, 8, 11};

static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t hash = 1469598103934665603ull;
static void hash_bytes(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        hash = (hash ^ c[i]) * 1099511628211ull;
}

/* ---- Independent 16-bit references. ---- */
static float ref_half_to_float(uint16_t h)
{
    _Float16 x;
    memcpy(&x, &h, 2);
    return (float)x;
}

static uint16_t ref_float_to_half(float f)
{
    _Float16 x = (_Float16)f;
    uint16_t h;
    memcpy(&h, &x, 2);
    return h;
}

static float ref_bf16_to_float(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Nearest bfloat16 by comparing distances in double; ties to the even one. */
static uint16_t ref_float_to_bf16(float f)
{
    if (isnan(f)) return 0x7fc0;
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t lo = (uint16_t)(u >> 16), hi = (uint16_t)(lo + 1);
    double dl = fabs((double)f - (double)ref_bf16_to_float(lo));
    double vh = (double)ref_bf16_to_float(hi);
    if ((hi & 0x7f80) == 0x7f80 && (hi & 0x7f)) return lo; /* would step into NaN */
    double dh =
        isinf(vh) ? (fabs((double)f) >= 3.3961775292e38 ? 0 : INFINITY) : fabs((double)f - vh);
    if (dh < dl || (dh == dl && !(hi & 1))) return hi;
    return lo;
}

/* ---- Reference element reduction: acc (op) x for every type, in a double/int64 domain. ---- */
typedef union {
    int64_t i;
    uint64_t u;
    double d;
    float f;
} val_t;

static int is_int(tacl_dtype_t dt)
{
    return dt <= TACL_UINT64;
}
static int is_signed(tacl_dtype_t dt)
{
    return dt == TACL_INT8 || dt == TACL_INT32 || dt == TACL_INT64;
}

static val_t load(tacl_dtype_t dt, const void *p, size_t i)
{
    val_t v = {0};
    switch (dt) {
    case TACL_INT8:
        v.i = ((const int8_t *)p)[i];
        break;
    case TACL_UINT8:
        v.u = ((const uint8_t *)p)[i];
        break;
    case TACL_INT32:
        v.i = ((const int32_t *)p)[i];
        break;
    case TACL_UINT32:
        v.u = ((const uint32_t *)p)[i];
        break;
    case TACL_INT64:
        v.i = ((const int64_t *)p)[i];
        break;
    case TACL_UINT64:
        v.u = ((const uint64_t *)p)[i];
        break;
    case TACL_FLOAT16:
        v.f = ref_half_to_float(((const uint16_t *)p)[i]);
        break;
    case TACL_BFLOAT16:
        v.f = ref_bf16_to_float(((const uint16_t *)p)[i]);
        break;
    case TACL_FLOAT32:
        v.f = ((const float *)p)[i];
        break;
    case TACL_FLOAT64:
        v.d = ((const double *)p)[i];
        break;
    default:
        break;
    }
    return v;
}

static void store(tacl_dtype_t dt, void *p, size_t i, val_t v)
{
    switch (dt) {
    case TACL_INT8:
        ((int8_t *)p)[i] = (int8_t)v.u;
        break;
    case TACL_UINT8:
        ((uint8_t *)p)[i] = (uint8_t)v.u;
        break;
    case TACL_INT32:
        ((int32_t *)p)[i] = (int32_t)v.u;
        break;
    case TACL_UINT32:
        ((uint32_t *)p)[i] = (uint32_t)v.u;
        break;
    case TACL_INT64:
        ((int64_t *)p)[i] = (int64_t)v.u;
        break;
    case TACL_UINT64:
        ((uint64_t *)p)[i] = v.u;
        break;
    case TACL_FLOAT16:
        ((uint16_t *)p)[i] = ref_float_to_half(v.f);
        break;
    case TACL_BFLOAT16:
        ((uint16_t *)p)[i] = ref_float_to_bf16(v.f);
        break;
    case TACL_FLOAT32:
        ((float *)p)[i] = v.f;
        break;
    case TACL_FLOAT64:
        ((double *)p)[i] = v.d;
        break;
    default:
        break;
    }
}

/* Wraps an integer result to the type's width (and sign-extends signed types). */
static val_t wrap(tacl_dtype_t dt, val_t v)
{
    switch (dt) {
    case TACL_INT8:
        v.i = (int8_t)v.u;
        break;
    case TACL_UINT8:
        v.u = (uint8_t)v.u;
        break;
    case TACL_INT32:
        v.i = (int32_t)v.u;
        break;
    case TACL_UINT32:
        v.u = (uint32_t)v.u;
        break;
    default:
        break;
    }
    return v;
}

static val_t ref_op(tacl_dtype_t dt, tacl_op_t op, val_t a, val_t b)
{
    val_t r = a;
    if (is_int(dt)) {
        int s = is_signed(dt);
        switch (op) {
        case TACL_SUM:
        case TACL_AVG:
            r.u = a.u + b.u;
            break;
        case TACL_PROD:
            r.u = a.u * b.u;
            break;
        case TACL_MIN:
            r = (s ? b.i < a.i : b.u < a.u) ? b : a;
            break;
        case TACL_MAX:
            r = (s ? b.i > a.i : b.u > a.u) ? b : a;
            break;
        default:
            break;
        }
        return wrap(dt, r);
    }
    /* Documented NaN rules: a NaN sum/product is the canonical NaN; min/max keep the left NaN,
     * else the right NaN; of equal values they keep the right one. */
    if (dt == TACL_FLOAT64) {
        double x = a.d, y = b.d;
        switch (op) {
        case TACL_SUM:
        case TACL_AVG:
            r.d = isnan(x + y) ? NAN : x + y;
            break;
        case TACL_PROD:
            r.d = isnan(x * y) ? NAN : x * y;
            break;
        case TACL_MIN:
            r.d = isnan(x) ? x : isnan(y) ? y : (x < y ? x : y);
            break;
        case TACL_MAX:
            r.d = isnan(x) ? x : isnan(y) ? y : (x > y ? x : y);
            break;
        default:
            break;
        }
    } else {
        float x = a.f, y = b.f;
        switch (op) {
        case TACL_SUM:
        case TACL_AVG:
            r.f = isnan(x + y) ? NAN : x + y;
            break;
        case TACL_PROD:
            r.f = isnan(x * y) ? NAN : x * y;
            break;
        case TACL_MIN:
            r.f = isnan(x) ? x : isnan(y) ? y : (x < y ? x : y);
            break;
        case TACL_MAX:
            r.f = isnan(x) ? x : isnan(y) ? y : (x > y ? x : y);
            break;
        default:
            break;
        }
    }
    return r;
}

static val_t ref_avg(tacl_dtype_t dt, val_t v, int n)
{
    if (is_signed(dt))
        v.i = wrap(dt, v).i / n;
    else if (is_int(dt))
        v.u = wrap(dt, v).u / (uint64_t)n;
    else if (dt == TACL_FLOAT64)
        v.d = v.d / n;
    else
        v.f = v.f / (float)n;
    return v;
}

/* Random contents: integers over their whole range; floats mostly moderate (so that sums and
 * products stay finite and the rounding is exercised), with a few specials. */
static void fill(tacl_dtype_t dt, void *p, size_t count, int specials)
{
    size_t es = tacl_dtype_size(dt);
    for (size_t i = 0; i < count; i++) {
        uint64_t r = rng();
        if (is_int(dt)) {
            memcpy((char *)p + i * es, &r, es);
            continue;
        }
        val_t v;
        double x = ((double)(r >> 11) / 9007199254740992.0 - 0.5) * 8.0;
        if (specials && (r & 63) == 0) {
            static const double sp[] = {NAN, INFINITY, -INFINITY, -0.0, 0.0, 1e-40, -NAN};
            x = sp[(r >> 8) % 7];
        }
        if (dt == TACL_FLOAT64) {
            v.d = x;
        } else {
            v.f = (float)x;
        }
        store(dt, p, i, v);
    }
}

static int same_elem(tacl_dtype_t dt, const void *a, const void *b, size_t i)
{
    size_t es = tacl_dtype_size(dt);
    if (!memcmp((const char *)a + i * es, (const char *)b + i * es, es)) return 1;
    /* 16-bit NaNs: the reference conversions do not promise a payload. */
    if (dt == TACL_FLOAT16 || dt == TACL_BFLOAT16) {
        val_t x = load(dt, a, i), y = load(dt, b, i);
        return isnan(x.f) && isnan(y.f);
    }
    return 0;
}

static void check_case(tacl_dtype_t dt, tacl_op_t op, size_t count, int n, int specials,
                       int misalign)
{
    size_t es = tacl_dtype_size(dt), bytes = (count + 1) * es;
    char *src[NSRC_MAX];
    const void *srcp[NSRC_MAX];
    for (int k = 0; k < n; k++) {
        src[k] = malloc(bytes + 1);
        CHECK(src[k]);
        fill(dt, src[k] + (misalign ? es : 0), count, specials);
        srcp[k] = src[k] + (misalign ? es : 0);
    }
    char *want = calloc(1, bytes + 1), *got = calloc(1, bytes + 1), *got2 = calloc(1, bytes + 1);
    CHECK(want && got && got2);
    for (size_t i = 0; i < count; i++) {
        val_t acc = load(dt, srcp[0], i);
        for (int k = 1; k < n; k++)
            acc = ref_op(dt, op, acc, load(dt, srcp[k], i));
        store(dt, want, i, acc);
        /* avg: the sum is rounded to the type (reduce_many), then divided (reduce_finish). */
        if (op == TACL_AVG) store(dt, want, i, ref_avg(dt, load(dt, want, i), n));
    }
    char *g = got + (misalign ? es : 0);
    tacl__reduce_many(g, srcp, n, count, dt, op);
    tacl__reduce_finish(g, count, dt, op, n);
    for (size_t i = 0; i < count; i++) {
        if (!same_elem(dt, g, want, i)) {
            fprintf(stderr,
                    "reduce_many %s %s n=%d count=%zu isa=%s: element %zu differs from the "
                    "reference\n",
                    tacl_dtype_name(dt), tacl_op_name(op), n, count, tacl__reduce_isa(), i);
            exit(1);
        }
    }
    hash_bytes(g, count * es);
    if (n == 2 && op != TACL_AVG) {
        /* reduce2 out of place, and reduce_inplace into a copy of source 0. */
        memset(got2, 0, bytes);
        tacl__reduce2(got2, srcp[0], srcp[1], count, dt, op);
        CHECK(!memcmp(got2, g, count * es));
        memcpy(got2, srcp[0], count * es);
        tacl__reduce_inplace(got2, srcp[1], count, dt, op);
        CHECK(!memcmp(got2, g, count * es));
        /* dst aliasing srcs[0]. */
        tacl__reduce2(src[0] + (misalign ? es : 0), srcp[0], srcp[1], count, dt, op);
        CHECK(!memcmp(srcp[0], g, count * es));
    }
    for (int k = 0; k < n; k++)
        free(src[k]);
    free(want);
    free(got);
    free(got2);
}

static void check_conversions(void)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float a = tacl__half_to_float((uint16_t)h), b = ref_half_to_float((uint16_t)h);
        CHECK((isnan(a) && isnan(b)) || !memcmp(&a, &b, 4));
        if (!isnan(a)) CHECK(tacl__float_to_half(a) == h);
        CHECK(tacl__float_to_bf16(tacl__bf16_to_float((uint16_t)h)) == h ||
              isnan(ref_bf16_to_float((uint16_t)h)));
    }
    /* Random bit patterns cover every exponent, including half subnormals and overflow. */
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = (uint32_t)rng();
        if (i & 1) u = (u & 0x8fffffffu) | 0x30000000u; /* concentrate near half's range */
        float f;
        memcpy(&f, &u, 4);
        uint16_t h = tacl__float_to_half(f), rh = ref_float_to_half(f);
        if (isnan(f)) {
            CHECK((h & 0x7c00) == 0x7c00 && (h & 0x3ff));
        } else if (h != rh) {
            fprintf(stderr, "float_to_half(%a) = 0x%04x, expected 0x%04x\n", (double)f, h, rh);
            exit(1);
        }
        uint16_t b = tacl__float_to_bf16(f), rb = ref_float_to_bf16(f);
        if (isnan(f)) {
            CHECK((b & 0x7f80) == 0x7f80 && (b & 0x7f));
        } else if (b != rb) {
            fprintf(stderr, "float_to_bf16(%a) = 0x%04x, expected 0x%04x\n", (double)f, b, rb);
            exit(1);
        }
    }
}

static int run_family(const char *isa, int fd)
{
    setenv("TACL_REDUCE_ISA", isa, 1);
    if (strcmp(tacl__reduce_isa(), isa)) {
        fprintf(stderr, "SKIP family %s: this CPU does not have it (using %s)\n", isa,
                tacl__reduce_isa());
        return 77;
    }
    rng_state = 12345;
    if (!strcmp(isa, "scalar")) check_conversions();
    rng_state = 88172645463325252ull; /* same inputs for every family */
    for (int dt = 0; dt < TACL_DTYPE_COUNT; dt++)
        for (int op = 0; op < TACL_OP_COUNT; op++)
            for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
                for (size_t k = 0; k < sizeof nsrcs / sizeof nsrcs[0]; k++)
                    for (int variant = 0; variant < 2; variant++)
                        check_case((tacl_dtype_t)dt, (tacl_op_t)op, counts[c], nsrcs[k],
                                   op == TACL_MIN || op == TACL_MAX || variant, variant);
    /* A long vector exercises the block loop of every path. */
    for (int dt = 0; dt < TACL_DTYPE_COUNT; dt++)
        check_case((tacl_dtype_t)dt, TACL_SUM, 100003, 5, 0, 1);
    /* Bad arguments are ignored, never a crash. */
    tacl__reduce_many(NULL, NULL, 0, 10, TACL_FLOAT32, TACL_SUM);
    tacl__reduce_finish(NULL, 0, TACL_FLOAT32, TACL_AVG, 4);
    CHECK(write(fd, &hash, sizeof hash) == (ssize_t)sizeof hash);
    return 0;
}

int main(void)
{
    static const char *const isas[] = {"scalar", "avx2", "avx512"};
    uint64_t hashes[3];
    int ran[3] = {0};
    for (int i = 0; i < 3; i++) {
        int p[2];
        CHECK(pipe(p) == 0);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            _exit(run_family(isas[i], p[1]));
        }
        close(p[1]);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77) {
            close(p[0]);
            continue;
        }
        CHECK(WEXITSTATUS(status) == 0);
        CHECK(read(p[0], &hashes[i], sizeof hashes[i]) == (ssize_t)sizeof hashes[i]);
        close(p[0]);
        ran[i] = 1;
        printf("family %s: all cases match the reference (hash %016llx)\n", isas[i],
               (unsigned long long)hashes[i]);
    }
    CHECK(ran[0]);
    for (int i = 1; i < 3; i++)
        if (ran[i]) CHECK(hashes[i] == hashes[0]);
    if (!ran[1] && !ran[2]) SKIP("no vector family on this CPU: only scalar was checked");
    return 0;
}
