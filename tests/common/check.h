/* check.h — the assertions of tacl's tests. A failed CHECK prints file:line, the expression and
 * tacl's last error message, then exits 1; FAIL exits 1 with a reason (an unknown scenario is a
 * failure); SKIP exits 77 with a reason (CTest SKIP_RETURN_CODE).
 * Tests are plain programs: multi-process tests fork and collect children with mp.h. */
#ifndef TACL_TEST_CHECK_H
#define TACL_TEST_CHECK_H

#include "tacl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__,      \
                    #cond, tacl_last_error());                                                     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Checks that call returns status want. */
#define CHECK_ST(call, want)                                                                       \
    do {                                                                                           \
        tacl_status_t check_st_ = (call);                                                          \
        if (check_st_ != (want)) {                                                                 \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n", __FILE__,     \
                    __LINE__, #call, tacl_status_name(check_st_), tacl_status_name(want),          \
                    tacl_last_error());                                                            \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_OK(call) CHECK_ST(call, TACL_OK)

/* Checks that string s contains sub (error messages are part of the contract). */
#define CHECK_CONTAINS(s, sub)                                                                     \
    do {                                                                                           \
        const char *check_s_ = (s);                                                                \
        if (!check_s_ || !strstr(check_s_, (sub))) {                                               \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,         \
                    check_s_ ? check_s_ : "(null)", (sub));                                        \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* In a rank's body (mp_world.h), with its rank `me` and communicator `w` in scope: call must
 * return TACL_OK, else the body prints the rank, the place and the communicator's last error
 * and returns 1. */
#define OK(call)                                                                                   \
    do {                                                                                           \
        tacl_status_t ok_st_ = (call);                                                             \
        if (ok_st_ != TACL_OK) {                                                                   \
            fprintf(stderr, "rank %d: %s:%d: %s: %s\n", me, __FILE__, __LINE__,                    \
                    tacl_status_name(ok_st_), tacl_comm_last_error(w));                            \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "FAIL: ");                                                                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(1);                                                                                   \
    } while (0)

#define SKIP(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "SKIP: ");                                                                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(77);                                                                                  \
    } while (0)

#endif
