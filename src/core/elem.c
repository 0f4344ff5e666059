/* elem.c — element access by dtype (see elem.h). */
#include "elem.h"
#include "reduce.h"

#include <math.h>
#include <stdint.h>

int tacl__dtype_is_float(tacl_dtype_t dt)
{
    return dt == TACL_FLOAT16 || dt == TACL_BFLOAT16 || dt == TACL_FLOAT32 || dt == TACL_FLOAT64;
}

void tacl__elem_set(void *buf, size_t i, tacl_dtype_t dt, double v)
{
    switch (dt) {
    case TACL_INT8:
        ((int8_t *)buf)[i] = (int8_t)v;
        break;
    case TACL_UINT8:
        ((uint8_t *)buf)[i] = (uint8_t)v;
        break;
    case TACL_INT32:
        ((int32_t *)buf)[i] = (int32_t)v;
        break;
    case TACL_UINT32:
        ((uint32_t *)buf)[i] = (uint32_t)v;
        break;
    case TACL_INT64:
        ((int64_t *)buf)[i] = (int64_t)v;
        break;
    case TACL_UINT64:
        ((uint64_t *)buf)[i] = (uint64_t)v;
        break;
    case TACL_FLOAT16:
        ((uint16_t *)buf)[i] = tacl__float_to_half((float)v);
        break;
    case TACL_BFLOAT16:
        ((uint16_t *)buf)[i] = tacl__float_to_bf16((float)v);
        break;
    case TACL_FLOAT32:
        ((float *)buf)[i] = (float)v;
        break;
    case TACL_FLOAT64:
        ((double *)buf)[i] = v;
        break;
    default:
        break;
    }
}

double tacl__elem_get(const void *buf, size_t i, tacl_dtype_t dt)
{
    switch (dt) {
    case TACL_INT8:
        return ((const int8_t *)buf)[i];
    case TACL_UINT8:
        return ((const uint8_t *)buf)[i];
    case TACL_INT32:
        return ((const int32_t *)buf)[i];
    case TACL_UINT32:
        return ((const uint32_t *)buf)[i];
    case TACL_INT64:
        return (double)((const int64_t *)buf)[i];
    case TACL_UINT64:
        return (double)((const uint64_t *)buf)[i];
    case TACL_FLOAT16:
        return tacl__half_to_float(((const uint16_t *)buf)[i]);
    case TACL_BFLOAT16:
        return tacl__bf16_to_float(((const uint16_t *)buf)[i]);
    case TACL_FLOAT32:
        return ((const float *)buf)[i];
    case TACL_FLOAT64:
        return ((const double *)buf)[i];
    default:
        return NAN;
    }
}
