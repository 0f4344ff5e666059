/* typed.c — element access by dtype for tests (see typed.h). */
#include "typed.h"

#include <math.h>
#include <stdint.h>

double tv_tol(tacl_dtype_t dt, double expect)
{
    double a = fabs(expect);
    switch (dt) {
    case TACL_FLOAT16:
        return a * 2e-3 + 1e-3;
    case TACL_BFLOAT16:
        return a * 1.6e-2 + 1e-2;
    case TACL_FLOAT32:
        return a * 1e-6 + 1e-6;
    case TACL_FLOAT64:
        return a * 1e-12 + 1e-12;
    default:
        return 0;
    }
}
