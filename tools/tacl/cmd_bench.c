/* cmd_bench.c — `tacl bench <collective>`: measures a collective the way nccl-tests does (same
 * flags, columns and bus-bandwidth formulas), run under `tacl run -n N`, mpirun, srun or
 * torchrun. Out-of-place and in-place times per size, results checked on the -c iterations,
 * #wrong counted, a progress line on stderr during long runs, and -J for JSON lines. */
#include "cli.h"
#include "cli_bench.h"
#include "clock.h"
#include "elem.h"
#include "tacl.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const bench_coll_info_t bench_colls[B_COUNT] = {
    {"all_reduce", "allreduce", 0, 1},
    {"all_gather", "allgather", 0, 0},
    {"reduce_scatter", "reducescatter", 0, 1},
    {"broadcast", "bcast", 1, 0},
    {"reduce", "reduce", 1, 1},
    {"all_to_all", "alltoall", 0, 0},
    {"gather", "gather", 1, 0},
    {"scatter", "scatter", 1, 0},
    {"sendrecv", "sendrecv", 0, 0},
};

/* "8", "1.5K", "64M", "2G" (binary multiples): 0 and *out on success, -1 for anything else
 * (an unknown suffix, trailing characters, a negative or absurd size). */
static int bench_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0)) return -1;
    switch (*end) {
    case 'K':
    case 'k':
        v *= 1024;
        end++;
        break;
    case 'M':
    case 'm':
        v *= 1024 * 1024;
        end++;
        break;
    case 'G':
    case 'g':
        v *= 1024.0 * 1024 * 1024;
        end++;
        break;
    default:
        break;
    }
    if (*end != '\0' || v > 1e15) return -1;
    *out = (size_t)v;
    return 0;
}

/* A whole decimal integer in [lo, hi]. */
static int bench_parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int bench_parse_dtype(const char *s, tacl_dtype_t *out)
{
    static const struct {
        const char *n;
        tacl_dtype_t dt;
    } names[] = {{"int8", TACL_INT8},       {"char", TACL_INT8},         {"uint8", TACL_UINT8},
                 {"int32", TACL_INT32},     {"int", TACL_INT32},         {"uint32", TACL_UINT32},
                 {"int64", TACL_INT64},     {"uint64", TACL_UINT64},     {"half", TACL_FLOAT16},
                 {"float16", TACL_FLOAT16}, {"bfloat16", TACL_BFLOAT16}, {"bf16", TACL_BFLOAT16},
                 {"float", TACL_FLOAT32},   {"float32", TACL_FLOAT32},   {"double", TACL_FLOAT64},
                 {"float64", TACL_FLOAT64}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(s, names[i].n)) {
            *out = names[i].dt;
            return 0;
        }
    return -1;
}

static int bench_parse_op(const char *s, tacl_op_t *out)
{
    for (int i = 0; i < TACL_OP_COUNT; i++)
        if (!strcasecmp(s, tacl_op_name((tacl_op_t)i))) {
            *out = (tacl_op_t)i;
            return 0;
        }
    return -1;
}

/* Element i of rank r's input: small integers, so every type and op has an exact result. */
static double bench_in(int r, size_t i, tacl_op_t op)
{
    if (op == TACL_PROD) return (r + i) % 7 == 0 ? 2 : 1;
    return (double)((r + i) % 4);
}

#define bench_set tacl__elem_set
#define bench_get tacl__elem_get

/* Sizes: send count per rank and receive count per rank for a message of bytes bytes. */
static void bench_counts(bench_coll_t c, size_t bytes, size_t esz, int n, size_t *scount,
                         size_t *rcount, size_t *count)
{
    size_t elems = bytes / esz;
    switch (c) {
    case B_ALL_GATHER:
    case B_GATHER:
        *count = elems / (size_t)n; /* per rank */
        *scount = *count;
        *rcount = *count * (size_t)n;
        break;
    case B_REDUCE_SCATTER:
    case B_SCATTER:
        *count = elems / (size_t)n;
        *scount = *count * (size_t)n;
        *rcount = *count;
        break;
    case B_ALL_TO_ALL:
        *count = elems / (size_t)n;
        *scount = *rcount = *count * (size_t)n;
        break;
    default:
        *count = *scount = *rcount = elems;
        break;
    }
}

static double bench_busbw_factor(bench_coll_t c, int n)
{
    switch (c) {
    case B_ALL_REDUCE:
        return 2.0 * (n - 1) / n;
    case B_ALL_GATHER:
    case B_REDUCE_SCATTER:
    case B_ALL_TO_ALL:
    case B_GATHER:
    case B_SCATTER:
        return (double)(n - 1) / n;
    default:
        return 1.0;
    }
}

static tacl_status_t bench_call(void *ctx, const bench_opts_t *o, const void *s, void *r,
                                size_t count)
{
    tacl_comm_t *w = ctx;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    switch (o->coll) {
    case B_ALL_REDUCE:
        return tacl_all_reduce(w, s, r, count, o->dt, o->op);
    case B_ALL_GATHER:
        return tacl_all_gather(w, s, r, count, o->dt);
    case B_REDUCE_SCATTER:
        return tacl_reduce_scatter(w, s, r, count, o->dt, o->op);
    case B_BROADCAST:
        return tacl_broadcast(w, s, r, count, o->dt, o->root);
    case B_REDUCE:
        return tacl_reduce(w, s, r, count, o->dt, o->op, o->root);
    case B_ALL_TO_ALL:
        return tacl_all_to_all(w, s, r, count, o->dt);
    case B_GATHER:
        return tacl_gather(w, s, r, count, o->dt, o->root);
    case B_SCATTER:
        return tacl_scatter(w, s, r, count, o->dt, o->root);
    case B_SENDRECV: {
        if (n == 1) {
            memmove(r, s, count * tacl_dtype_size(o->dt));
            return TACL_OK;
        }
        int to = (me + 1) % n, from = (me - 1 + n) % n;
        tacl_status_t st;
        if (me % 2 == 0) {
            st = tacl_send(w, s, count, o->dt, to, 0);
            if (st == TACL_OK) st = tacl_recv(w, r, count, o->dt, from, 0);
        } else {
            st = tacl_recv(w, r, count, o->dt, from, 0);
            if (st == TACL_OK) st = tacl_send(w, s, count, o->dt, to, 0);
        }
        return st;
    }
    default:
        return TACL_ERR_INVALID;
    }
}

/* Fills the send buffer; for in-place runs the input goes where the collective expects it. */
static void bench_fill(const bench_opts_t *o, int me, int n, char *s, size_t scount)
{
    size_t count = scount;
    if (o->coll == B_SENDRECV || o->coll == B_ALL_GATHER || o->coll == B_GATHER) count = scount;
    for (size_t i = 0; i < count; i++) {
        double v = bench_in(me, i, o->op);
        if (o->coll == B_ALL_TO_ALL || o->coll == B_SCATTER)
            v = (double)((me * 3 + i) % 16); /* block b goes to rank b */
        if ((o->coll == B_BROADCAST || o->coll == B_SCATTER) && me != o->root) v = 0;
        bench_set(s, i, o->dt, v);
    }
    (void)n;
}

static double bench_red(int n, size_t i, tacl_op_t op, tacl_dtype_t dt)
{
    double acc = bench_in(0, i, op);
    for (int r = 1; r < n; r++) {
        double v = bench_in(r, i, op);
        if (op == TACL_SUM || op == TACL_AVG) acc += v;
        if (op == TACL_PROD) acc *= v;
        if (op == TACL_MIN && v < acc) acc = v;
        if (op == TACL_MAX && v > acc) acc = v;
    }
    if (op == TACL_AVG) {
        acc = tacl__dtype_is_float(dt) ? acc / n : floor(acc / n);
    }
    return acc;
}

/* Number of wrong elements in this rank's result. */
static size_t bench_wrong(const bench_opts_t *o, int me, int n, const char *r, size_t count,
                          size_t rcount)
{
    size_t wrong = 0;
    double tol = o->op == TACL_AVG ? 0.02 : 1e-3;
    for (size_t i = 0; i < rcount; i++) {
        double e;
        switch (o->coll) {
        case B_ALL_REDUCE:
            e = bench_red(n, i, o->op, o->dt);
            break;
        case B_REDUCE:
            if (me != o->root) return 0;
            e = bench_red(n, i, o->op, o->dt);
            break;
        case B_REDUCE_SCATTER:
            e = bench_red(n, (size_t)me * count + i, o->op, o->dt);
            break;
        case B_BROADCAST:
            e = bench_in(o->root, i, o->op);
            break;
        case B_ALL_GATHER:
            e = bench_in((int)(i / count), i % count, o->op);
            break;
        case B_GATHER:
            if (me != o->root) return 0;
            e = bench_in((int)(i / count), i % count, o->op);
            break;
        case B_ALL_TO_ALL:
            e = (double)(((int)(i / count) * 3 + me * count + i % count) % 16);
            break;
        case B_SCATTER:
            e = (double)((o->root * 3 + (size_t)me * count + i) % 16);
            break;
        case B_SENDRECV:
            e = bench_in((me - 1 + n) % n, i, o->op);
            break;
        default:
            e = 0;
            break;
        }
        if (fabs(bench_get(r, i, o->dt) - e) > tol * (fabs(e) + 1)) wrong++;
    }
    return wrong;
}

static int bench_usage(void)
{
    fputs("usage: tacl bench <collective> [-b min] [-e max] [-f factor | -i step] [-n iters]\n"
          "       [-w warmup] [-c check_iters] [-d dtype] [-o op] [-r root] [-J] [--gpu [-G] | "
          "--mem]\n",
          stderr);
    return 2;
}

static int bench_parse(int argc, char **argv, bench_opts_t *o)
{
    *o = (bench_opts_t){.coll = B_ALL_REDUCE,
                        .minb = 8,
                        .maxb = 64 << 20,
                        .factor = 2,
                        .iters = 20,
                        .warmup = 5,
                        .check = 1,
                        .dt = TACL_FLOAT32,
                        .op = TACL_SUM,
                        .root = 0};
    int i = 1;
    if (argc > 1 && argv[1][0] != '-') {
        int found = 0;
        for (int c = 0; c < B_COUNT; c++)
            if (!strcasecmp(argv[1], bench_colls[c].name) ||
                !strcasecmp(argv[1], bench_colls[c].alias)) {
                o->coll = (bench_coll_t)c;
                found = 1;
            }
        if (!found) {
            fprintf(stderr,
                    "tacl bench: unknown collective '%s' (all_reduce, all_gather, "
                    "reduce_scatter, broadcast, reduce, all_to_all, gather, scatter, "
                    "sendrecv)\n",
                    argv[1]);
            return -1;
        }
        i = 2;
    }
    for (; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-J") || !strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (!strcmp(a, "--gpu")) {
            o->gpu = 1;
            continue;
        }
        if (!strcmp(a, "-G")) {
            o->graph = 1;
            continue;
        }
        if (!strcmp(a, "--mem")) {
            o->mem = 1;
            continue;
        }
        static const char *const valued[] = {"-b", "-e", "-f", "-i", "-n",
                                             "-w", "-c", "-r", "-d", "-o"};
        int known = 0;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            known |= !strcmp(a, valued[k]);
        if (!known) {
            fprintf(stderr, "tacl bench: unknown option '%s' (tacl bench --help)\n", a);
            return -1;
        }
        if (!v) {
            fprintf(stderr, "tacl bench: %s needs a value\n", a);
            return -1;
        }
        i++;
        int bad = 0;
        char *fend;
        if (!strcmp(a, "-b") || !strcmp(a, "-e") || !strcmp(a, "-i")) {
            size_t *dst = !strcmp(a, "-b") ? &o->minb : !strcmp(a, "-e") ? &o->maxb : &o->stepb;
            if (bench_parse_size(v, dst)) {
                fprintf(stderr,
                        "tacl bench: %s %s: expected a size in bytes with an optional K, M or G "
                        "suffix (e.g. 8, 64K, 1G)\n",
                        a, v);
                return -1;
            }
        } else if (!strcmp(a, "-f")) {
            o->factor = strtod(v, &fend);
            bad = fend == v || *fend != '\0';
        } else if (!strcmp(a, "-n"))
            bad = bench_parse_int(v, 1, INT_MAX, &o->iters);
        else if (!strcmp(a, "-w"))
            bad = bench_parse_int(v, 0, INT_MAX, &o->warmup);
        else if (!strcmp(a, "-c"))
            bad = bench_parse_int(v, 0, INT_MAX, &o->check);
        else if (!strcmp(a, "-r"))
            bad = bench_parse_int(v, 0, INT_MAX, &o->root);
        if (bad) {
            fprintf(stderr, "tacl bench: %s %s: not a valid number\n", a, v);
            return -1;
        }
        if (!strcmp(a, "-d")) {
            if (bench_parse_dtype(v, &o->dt)) {
                fprintf(stderr, "tacl bench: unknown dtype '%s'\n", v);
                return -1;
            }
        } else if (!strcmp(a, "-o")) {
            if (bench_parse_op(v, &o->op)) {
                fprintf(stderr, "tacl bench: unknown op '%s' (sum, prod, min, max, avg)\n", v);
                return -1;
            }
        }
    }
    if (o->graph && !o->gpu) {
        fprintf(stderr, "tacl bench: -G needs --gpu\n");
        return -1;
    }
    if (o->mem && o->gpu) {
        fprintf(stderr, "tacl bench: --mem is host memory; it does not go with --gpu\n");
        return -1;
    }
    if (o->iters < 1 || o->warmup < 0 || o->check < 0 || o->minb > o->maxb ||
        (o->factor <= 1 && !o->stepb)) {
        fprintf(stderr, "tacl bench: need -n >= 1, -w >= 0, -c >= 0, -b <= -e and -f > 1 or "
                        "-i > 0\n");
        return -1;
    }
    return 0;
}

static tacl_status_t bench_host_time(void *ctx, const bench_opts_t *o, const void *s, void *r,
                                     size_t count, double *out, double *iter_s)
{
    tacl_comm_t *w = ctx;
    tacl_status_t st;
    for (int i = 0; i < o->warmup; i++)
        if ((st = bench_call(w, o, s, r, count)) != TACL_OK) return st;
    if ((st = tacl_barrier(w)) != TACL_OK) return st;
    uint64_t t0 = tacl__now_ns(), prev = t0;
    for (int i = 0; i < o->iters; i++) {
        if ((st = bench_call(w, o, s, r, count)) != TACL_OK) return st;
        uint64_t now = tacl__now_ns();
        iter_s[i] = (double)(now - prev) * 1e-9;
        prev = now;
    }
    *out = (double)(prev - t0) * 1e-9 / o->iters;
    return TACL_OK;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void bench_percentiles(double *v, int n, double *p50, double *p99)
{
    *p50 = *p99 = 0;
    if (n <= 0) return;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    int k50 = (n + 1) / 2, k99 = (int)ceil(0.99 * n);
    *p50 = v[k50 - 1];
    *p99 = v[(k99 < 1 ? 1 : k99 > n ? n : k99) - 1];
}

static void *bench_host_alloc(void *ctx, size_t bytes)
{
    (void)ctx;
    return malloc(bytes ? bytes : 1);
}

static void bench_host_release(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/* --mem: every rank allocates and frees the same buffers in the same order, as tacl_mem_alloc
 * and tacl_mem_free (collective) need. */
static void *bench_mem_alloc(void *ctx, size_t bytes)
{
    void *p = NULL;
    return tacl_mem_alloc(ctx, bytes ? bytes : 1, &p) == TACL_OK ? p : NULL;
}

static void bench_mem_release(void *ctx, void *p)
{
    if (p) (void)tacl_mem_free(ctx, p);
}

static tacl_status_t bench_host_copy(void *ctx, void *dst, const void *src, size_t bytes)
{
    (void)ctx;
    if (bytes && dst != src) memmove(dst, src, bytes);
    return TACL_OK;
}

static const char *bench_host_error(void *ctx)
{
    return tacl_comm_last_error(ctx);
}

static int bench_run(int argc, char **argv)
{
    bench_opts_t o;
    if (bench_parse(argc, argv, &o)) return bench_usage();
    tacl_comm_t *w;
    tacl_status_t st = tacl_init(&w);
    if (st != TACL_OK) {
        fprintf(stderr, "tacl bench: init failed: %s: %s\n", tacl_status_name(st),
                tacl_last_error());
        return 1;
    }
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    if (bench_colls[o.coll].rooted && (o.root < 0 || o.root >= n)) {
        if (me == 0) fprintf(stderr, "tacl bench: root %d out of range (%d ranks)\n", o.root, n);
        tacl_comm_destroy(w);
        return 2;
    }
    size_t esz = tacl_dtype_size(o.dt);
    const char *cname = bench_colls[o.coll].name;
    const char *opname = bench_colls[o.coll].reduces ? tacl_op_name(o.op) : "none";
    if (me == 0 && !o.json) {
        printf("# tacl bench %s%s%s: %d ranks, minBytes %zu maxBytes %zu step: %g(factor) warmup "
               "iters: %d iters: %d validation iters: %d\n#\n",
               cname,
               o.gpu   ? " (gpu)"
               : o.mem ? " (tacl_mem_alloc buffers)"
                       : "",
               o.graph ? " (cuda graph)" : "", n, o.minb, o.maxb, o.factor, o.warmup, o.iters,
               o.check);
        for (int r = 0; r < n; r++)
            printf("#  Rank %2d Host %s\n", r, tacl_comm_host_id(w, r));
        printf("#\n#%75s%32s%38s\n", "out-of-place", "in-place", "per-iteration, out / in-place");
        printf("#%11s %12s %8s %6s %6s %9s %7s %7s %6s %9s %7s %7s %6s %9s %9s %9s %9s\n", "size",
               "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time",
               "algbw", "busbw", "#wrong", "p50", "p99", "p50", "p99");
        printf("#%11s %12s %8s %6s %6s %9s %7s %7s %6s %9s %7s %7s %6s %9s %9s %9s %9s\n", "(B)",
               "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)",
               "", "(us)", "(us)", "(us)", "(us)");
        fflush(stdout);
    }
    bench_backend_t bk = {"host",
                          w,
                          bench_host_alloc,
                          bench_host_release,
                          bench_host_copy,
                          bench_host_copy,
                          bench_call,
                          bench_host_time,
                          bench_host_error,
                          NULL,
                          1};
    if (o.mem) {
        bk.name = "tacl_mem_alloc";
        bk.alloc = bench_mem_alloc;
        bk.release = bench_mem_release;
    }
    if (o.gpu && (st = bench_gpu_backend(w, &bk)) != TACL_OK) {
        fprintf(stderr, "tacl bench: rank %d: no GPU backend: %s\n", me, tacl_last_error());
        tacl_comm_destroy(w);
        return 1;
    }
    size_t maxs, maxr, maxc;
    bench_counts(o.coll, o.maxb, esz, n, &maxs, &maxr, &maxc);
    size_t maxio = (maxs > maxr ? maxs : maxr) * esz + 64;
    /* Host staging (fill and check) and the backend's buffers (out of place: s, r; in place:
     * ip). */
    char *hs = malloc(maxio), *hr = malloc(maxio);
    char *s = bk.alloc(bk.ctx, maxs * esz + 64), *r = bk.alloc(bk.ctx, maxr * esz + 64),
         *ip = bk.alloc(bk.ctx, maxio);
    /* Per-iteration times of this rank. */
    double *its = malloc((size_t)o.iters * sizeof(double));
    if (!hs || !hr || !s || !r || !ip || !its) {
        fprintf(stderr, "tacl bench: cannot allocate %s buffers for %zu bytes\n", bk.name, o.maxb);
        tacl_comm_destroy(w);
        return 1;
    }
    /* Fault in the per-iteration times now, not on a first write inside a timed iteration. */
    memset(its, 0, (size_t)o.iters * sizeof(double));
    double bw_sum = 0;
    int nsizes = 0, rc = 0;
    size_t total_wrong = 0;
    uint64_t t_start = tacl__now_ns(), t_progress = t_start;
    for (size_t bytes = o.minb; bytes <= o.maxb;
         bytes = o.stepb ? bytes + o.stepb : (size_t)((double)(bytes ? bytes : 1) * o.factor)) {
        size_t scount, rcount, count;
        bench_counts(o.coll, bytes, esz, n, &scount, &rcount, &count);
        double t[2] = {0, 0}, p50[2] = {-1, -1}, p99[2] = {-1, -1};
        size_t wrong[2] = {0, 0};
        for (int inplace = 0; inplace < 2 && st == TACL_OK; inplace++) {
            /* In place: the input sits where the collective reads it inside the output. */
            char *sb = s, *rb = r;
            if (inplace) {
                rb = ip;
                sb = ip;
                if (o.coll == B_ALL_GATHER || o.coll == B_GATHER)
                    sb = ip + (size_t)me * count * esz;
                if (o.coll == B_REDUCE_SCATTER || o.coll == B_SCATTER)
                    rb = ip + (size_t)me * count * esz;
                if (o.coll == B_SENDRECV) sb = s;
            }
            bench_fill(&o, me, n, hs, scount);
            st = bk.upload(bk.ctx, sb, hs, scount * esz);
            if (st == TACL_OK) st = bk.time(bk.ctx, &o, sb, rb, count, &t[inplace], its);
            if (st == TACL_OK)
                st = tacl_all_reduce(w, &t[inplace], &t[inplace], 1, TACL_FLOAT64, TACL_MAX);
            if (st == TACL_OK && bk.iter_times) {
                /* Each rank's percentiles of its own iterations, then the slowest rank's (as
                 * for the mean: per-iteration maxima across ranks would add up the jitter of
                 * ranks that take turns running ahead). */
                double pc[2];
                bench_percentiles(its, o.iters, &pc[0], &pc[1]);
                st = tacl_all_reduce(w, pc, pc, 2, TACL_FLOAT64, TACL_MAX);
                p50[inplace] = pc[0];
                p99[inplace] = pc[1];
            }
            for (int c = 0; c < o.check && st == TACL_OK; c++) {
                st = bk.upload(bk.ctx, sb, hs, scount * esz);
                if (st == TACL_OK) st = bk.call(bk.ctx, &o, sb, rb, count);
                if (st == TACL_OK) st = bk.download(bk.ctx, hr, rb, rcount * esz);
                if (st == TACL_OK) wrong[inplace] += bench_wrong(&o, me, n, hr, count, rcount);
            }
            if (st == TACL_OK) {
                double wd = (double)wrong[inplace];
                st = tacl_all_reduce(w, &wd, &wd, 1, TACL_FLOAT64, TACL_SUM);
                wrong[inplace] = (size_t)wd;
            }
        }
        if (st != TACL_OK) {
            fprintf(stderr, "tacl bench: rank %d: %s at %zu bytes: %s\n", me, tacl_status_name(st),
                    bytes, bk.last_error(bk.ctx));
            rc = 1;
            break;
        }
        double algbw[2], busbw[2];
        for (int k = 0; k < 2; k++) {
            algbw[k] = t[k] > 0 ? (double)bytes / t[k] * 1e-9 : 0;
            busbw[k] = algbw[k] * bench_busbw_factor(o.coll, n);
        }
        bw_sum += busbw[0];
        nsizes++;
        total_wrong += wrong[0] + wrong[1];
        if (me == 0) {
            int root = bench_colls[o.coll].rooted ? o.root : -1;
            /* Percentiles: "-" (table) or null (JSON) where the backend times only the mean. */
            char pj[4][24], pt[4][24];
            for (int k = 0; k < 4; k++) {
                double v = k % 2 ? p99[k / 2] : p50[k / 2];
                snprintf(pj[k], sizeof pj[k], v >= 0 ? "%.2f" : "null", v * 1e6);
                snprintf(pt[k], sizeof pt[k], v >= 0 ? "%.2f" : "-", v * 1e6);
            }
            if (o.json)
                printf(
                    "{\"collective\":\"%s\",\"backend\":\"%s\",\"graph\":%s,"
                    "\"ranks\":%d,\"size\":%zu,\"count\":%zu,"
                    "\"type\":\"%s\",\"redop\":\"%s\",\"root\":%d,"
                    "\"out_of_place\":{\"time_us\":%.2f,\"algbw\":%.3f,\"busbw\":%.3f,"
                    "\"wrong\":%zu,\"p50_us\":%s,\"p99_us\":%s},\"in_place\":{\"time_us\":%.2f,"
                    "\"algbw\":%.3f,\"busbw\":%.3f,\"wrong\":%zu,\"p50_us\":%s,\"p99_us\":%s}}\n",
                    cname, o.gpu ? "gpu" : "host", o.graph ? "true" : "false", n, bytes, count,
                    tacl_dtype_name(o.dt), opname, root, t[0] * 1e6, algbw[0], busbw[0], wrong[0],
                    pj[0], pj[1], t[1] * 1e6, algbw[1], busbw[1], wrong[1], pj[2], pj[3]);
            else
                printf(" %11zu %12zu %8s %6s %6d %9.2f %7.2f %7.2f %6zu %9.2f %7.2f %7.2f %6zu %9s "
                       "%9s %9s %9s\n",
                       bytes, count, tacl_dtype_name(o.dt), opname, root, t[0] * 1e6, algbw[0],
                       busbw[0], wrong[0], t[1] * 1e6, algbw[1], busbw[1], wrong[1], pt[0], pt[1],
                       pt[2], pt[3]);
            fflush(stdout);
            uint64_t now = tacl__now_ns();
            if (now - t_progress > 5000000000ull) {
                fprintf(stderr, "# progress: %zu bytes done, %.0f s elapsed\n", bytes,
                        (double)(now - t_start) * 1e-9);
                t_progress = now;
            }
        }
        if (o.stepb == 0 && bytes == 0) break;
    }
    if (me == 0 && !o.json && rc == 0) {
        printf("# Out of bounds values : %zu %s\n", total_wrong, total_wrong ? "FAILED" : "OK");
        printf("# Avg bus bandwidth    : %g\n#\n", nsizes ? bw_sum / nsizes : 0);
    }
    bk.release(bk.ctx, s);
    bk.release(bk.ctx, r);
    bk.release(bk.ctx, ip);
    if (bk.fini) bk.fini(bk.ctx);
    free(hs);
    free(hr);
    free(its);
    tacl_comm_destroy(w);
    return rc ? rc : (total_wrong ? 1 : 0);
}

const tacl_cmd_t tacl_cmd_bench = {
    .name = "bench",
    .summary = "measure a collective (nccl-tests format); run under tacl run or mpirun",
    .usage =
        "usage: tacl bench <collective> [options]   (under tacl run -n N, mpirun, srun, torchrun)\n"
        "\n"
        "collectives: all_reduce all_gather reduce_scatter broadcast reduce all_to_all gather\n"
        "             scatter sendrecv\n"
        "  -b SIZE   smallest message (default 8; K, M, G suffixes)\n"
        "  -e SIZE   largest message (default 64M)\n"
        "  -f F      multiply the size by F each step (default 2)\n"
        "  -i SIZE   add SIZE each step instead\n"
        "  -n N      timed iterations per size (default 20)\n"
        "  -w N      warm-up iterations (default 5)\n"
        "  -c N      checked iterations per size, values verified (default 1; 0 = none)\n"
        "  -d TYPE   int8 uint8 int32 uint32 int64 uint64 half bfloat16 float double\n"
        "  -o OP     sum prod min max avg (default sum)\n"
        "  -r ROOT   root of rooted collectives (default 0)\n"
        "  -J        one JSON object per size instead of the table\n"
        "  --gpu     device buffers and device collectives (NCCL), one process per GPU\n"
        "  -G        with --gpu: capture the timed iterations in a CUDA graph, replay it\n"
        "  --mem     host buffers from tacl_mem_alloc, which the host's ranks map from each\n"
        "            other (all_reduce and reduce_scatter then skip the copies)\n"
        "\n"
        "Columns as nccl-tests: time is the slowest rank's mean; algbw = size / time;\n"
        "busbw = algbw x 2(n-1)/n (all_reduce), (n-1)/n (all_gather, reduce_scatter,\n"
        "all_to_all, gather, scatter), 1 (broadcast, reduce, sendrecv). The last four columns\n"
        "(JSON: p50_us, p99_us) are the median and 99th percentile of the per-iteration times,\n"
        "out of place then in place, of the slowest rank (host runs; - or null with --gpu,\n"
        "which times the iterations as one).\n",
    .run = bench_run,
};
