/* err.h — how tacl records an error: a status plus a message, stored thread-locally (for
 * tacl_last_error) and, when a handle is involved, in that handle's error buffer. The function
 * that first sees an error calls tacl__err(); callers pass the status up without a new message
 * (they may prefix context with tacl__err_prefix). */
#ifndef TACL_CORE_ERR_H
#define TACL_CORE_ERR_H

#include "tacl.h"
#include "log.h"

#include <stdarg.h>

#define TACL_ERRMSG_MAX 1024

/* Per-handle last-error storage; embed one in every handle struct. */
typedef struct {
    char msg[TACL_ERRMSG_MAX];
} tacl__errbuf_t;

/* Formats the message, stores it thread-locally and in eb (when not NULL), logs it at INFO
 * for subsystem sub, and returns st so that callers can write `return tacl__err(...)`. */
tacl_status_t tacl__err(tacl__errbuf_t *eb, tacl_status_t st, tacl__subsys_t sub, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));
tacl_status_t tacl__verr(tacl__errbuf_t *eb, tacl_status_t st, tacl__subsys_t sub, const char *fmt,
                         va_list ap);
/* Prepends "context: " to this thread's last message (and copies it into eb). Returns st. */
tacl_status_t tacl__err_prefix(tacl__errbuf_t *eb, tacl_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Copies this thread's last message into eb (a lower layer set it); returns st. */
tacl_status_t tacl__err_keep(tacl__errbuf_t *eb, tacl_status_t st);
/* Clears the thread-local message. */
void tacl__err_clear(void);

/* Passes a failing status up: `TACL_CHECK(call)` returns the status of call when not TACL_OK,
 * leaving a "-> status" trail at DEBUG level as NCCL's CHECK does. */
#define TACL_CHECK(call)                                                                           \
    do {                                                                                           \
        tacl_status_t tacl__check_st_ = (call);                                                    \
        if (tacl__check_st_ != TACL_OK) {                                                          \
            TACL_DEBUG(TACL_SUB_INIT, "%s:%d -> %s", __FILE__, __LINE__,                           \
                       tacl_status_name(tacl__check_st_));                                         \
            return tacl__check_st_;                                                                \
        }                                                                                          \
    } while (0)

#endif
