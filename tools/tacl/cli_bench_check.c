/* cli_bench_check.c — tacl bench's values: each rank's input and the #wrong count of results. */
#include "cli_bench.h"
#include "elem.h"
#include "tacl.h"

#include <math.h>
#include <stddef.h>

/* Element i of rank r's input: small integers, so every type and op has an exact result. */
static double bench_in(int r, size_t i, tacl_op_t op)
{
    if (op == TACL_PROD) return (r + i) % 7 == 0 ? 2 : 1;
    return (double)((r + i) % 4);
}

#define bench_set tacl__elem_set
#define bench_get tacl__elem_get

/* Fills the send buffer; for in-place runs the input goes where the collective expects it. */
void bench_fill(const bench_opts_t *o, int me, int n, char *s, size_t scount)
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
size_t bench_wrong(const bench_opts_t *o, int me, int n, const char *r, size_t count, size_t rcount)
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
