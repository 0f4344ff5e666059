/* dtype.c — sizes and names of tacl's data types and reduction operators. */
#include "tacl.h"

static const size_t dtype_sizes[TACL_DTYPE_COUNT] = {1, 1, 4, 4, 8, 8, 2, 2, 4, 8};
static const char *const dtype_names[TACL_DTYPE_COUNT] = {
    "int8", "uint8", "int32", "uint32", "int64", "uint64", "half", "bfloat16", "float", "double"};
static const char *const op_names[TACL_OP_COUNT] = {"sum", "prod", "min", "max", "avg"};

size_t tacl_dtype_size(tacl_dtype_t dt)
{
    return (int)dt >= 0 && dt < TACL_DTYPE_COUNT ? dtype_sizes[dt] : 0;
}

const char *tacl_dtype_name(tacl_dtype_t dt)
{
    return (int)dt >= 0 && dt < TACL_DTYPE_COUNT ? dtype_names[dt] : "unknown";
}

const char *tacl_op_name(tacl_op_t op)
{
    return (int)op >= 0 && op < TACL_OP_COUNT ? op_names[op] : "unknown";
}
