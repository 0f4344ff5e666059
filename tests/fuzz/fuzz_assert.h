/* fuzz_assert.h — the one check every fuzz target uses: a failed condition is a finding, so it
 * prints where and what (with tacl's last error) and aborts, which libFuzzer records as a crash
 * with the input that caused it. */
#ifndef TACL_FUZZ_ASSERT_H
#define TACL_FUZZ_ASSERT_H

#include "tacl.h"

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_ASSERT(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz: %s:%d: %s failed (last error: %s)\n", __FILE__, __LINE__, #c,   \
                    tacl_last_error());                                                            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
