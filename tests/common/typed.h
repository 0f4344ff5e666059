/* typed.h — reading and writing elements of any tacl dtype as doubles, so that tests can
 * compute expected values once and check every type. */
#ifndef TACL_TEST_TYPED_H
#define TACL_TEST_TYPED_H

#include "elem.h"
#include "tacl.h"

#include <stddef.h>

#define tv_set      tacl__elem_set
#define tv_get      tacl__elem_get
#define tv_is_float tacl__dtype_is_float
/* Tolerance for comparing a computed value of dt against an exact expectation. */
double tv_tol(tacl_dtype_t dt, double expect);

#endif
