/* cli_bench_opts.c — tacl bench's command line: collective table, options, checks, usage. */
#include "cli_bench.h"
#include "tacl.h"

#include <errno.h>
#include <limits.h>
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

int bench_usage(void)
{
    fputs("usage: tacl bench <collective> [-b min] [-e max] [-f factor | -i step] [-n iters]\n"
          "       [-w warmup] [-c check_iters] [-d dtype] [-o op] [-r root] [-J] [--gpu [-G] | "
          "--mem]\n",
          stderr);
    return 2;
}

int bench_parse(int argc, char **argv, bench_opts_t *o)
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
