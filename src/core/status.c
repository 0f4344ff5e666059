/* status.c — status names and messages (from TACL_STATUS_LIST), the thread-local and
 * per-handle last-error messages, and the few trivial public helpers of the core layer. */
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char err_last[TACL_ERRMSG_MAX];

const char *tacl_status_str(tacl_status_t st)
{
    switch (st) {
#define TACL_STATUS_STR_(name, value, msg)                                                         \
    case name:                                                                                     \
        return msg;
        TACL_STATUS_LIST(TACL_STATUS_STR_)
#undef TACL_STATUS_STR_
    default:
        return "unknown status";
    }
}

const char *tacl_status_name(tacl_status_t st)
{
    switch (st) {
#define TACL_STATUS_NAME_(name, value, msg)                                                        \
    case name:                                                                                     \
        return #name;
        TACL_STATUS_LIST(TACL_STATUS_NAME_)
#undef TACL_STATUS_NAME_
    default:
        return "TACL_STATUS_UNKNOWN";
    }
}

const char *tacl_last_error(void)
{
    return err_last;
}

const char *tacl_version(void)
{
    return TACL_VERSION_STRING;
}

void tacl_free(void *p)
{
    free(p);
}

tacl_status_t tacl__verr(tacl__errbuf_t *eb, tacl_status_t st, tacl__subsys_t sub, const char *fmt,
                         va_list ap)
{
    vsnprintf(err_last, sizeof err_last, fmt, ap);
    if (eb) memcpy(eb->msg, err_last, sizeof eb->msg);
    TACL_INFO(sub, "%s: %s", tacl_status_name(st), err_last);
    return st;
}

tacl_status_t tacl__err(tacl__errbuf_t *eb, tacl_status_t st, tacl__subsys_t sub, const char *fmt,
                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    tacl__verr(eb, st, sub, fmt, ap);
    va_end(ap);
    return st;
}

tacl_status_t tacl__err_prefix(tacl__errbuf_t *eb, tacl_status_t st, const char *fmt, ...)
{
    char prefix[TACL_ERRMSG_MAX], old[TACL_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err_last, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof err_last - 3) n = sizeof err_last - 3;
    memcpy(err_last, prefix, n);
    memcpy(err_last + n, ": ", 2);
    size_t rest = sizeof err_last - n - 3;
    size_t olen = strnlen(old, rest);
    memcpy(err_last + n + 2, old, olen);
    err_last[n + 2 + olen] = '\0';
    if (eb) memcpy(eb->msg, err_last, sizeof eb->msg);
    return st;
}

tacl_status_t tacl__err_keep(tacl__errbuf_t *eb, tacl_status_t st)
{
    if (eb) memcpy(eb->msg, err_last, sizeof eb->msg);
    return st;
}

void tacl__err_clear(void)
{
    err_last[0] = '\0';
}
