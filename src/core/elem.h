/* elem.h — reading and writing one element of any tacl dtype as a double: for tools and tests
 * that fill buffers and verify results of every type with one piece of code. Not for hot
 * paths. */
#ifndef TACL_CORE_ELEM_H
#define TACL_CORE_ELEM_H

#include "tacl.h"

#include <stddef.h>

void tacl__elem_set(void *buf, size_t i, tacl_dtype_t dt, double v);
double tacl__elem_get(const void *buf, size_t i, tacl_dtype_t dt);
int tacl__dtype_is_float(tacl_dtype_t dt);

#endif
