/* test_core.c — the core conventions: status names and messages, thread-local and per-handle
 * error messages, the settings table and its parsers, log filters. */
#include "check.h"
#include "err.h"
#include "settings.h"

#include <pthread.h>

static void *core_other_thread(void *arg)
{
    (void)arg;
    tacl__err(NULL, TACL_ERR_TIMEOUT, TACL_SUB_INIT, "thread message");
    return NULL;
}

int main(void)
{
    CHECK(!strcmp(tacl_status_name(TACL_ERR_TIMEOUT), "TACL_ERR_TIMEOUT"));
    CHECK(!strcmp(tacl_status_str(TACL_OK), "success"));
    CHECK(!strcmp(tacl_status_str((tacl_status_t)999), "unknown status"));
    for (int i = 0; i < TACL_STATUS_COUNT_; i++)
        CHECK(tacl_status_str((tacl_status_t)i)[0]);

    /* tacl__err returns the status, stores the message here and in the handle's buffer. */
    tacl__errbuf_t eb = {{0}};
    CHECK(tacl__err(&eb, TACL_ERR_INVALID, TACL_SUB_COLL, "root %d out of range", 9) ==
          TACL_ERR_INVALID);
    CHECK(!strcmp(tacl_last_error(), "root 9 out of range"));
    CHECK(!strcmp(eb.msg, "root 9 out of range"));
    tacl__err_prefix(&eb, TACL_ERR_INVALID, "all_reduce");
    CHECK(!strcmp(eb.msg, "all_reduce: root 9 out of range"));

    /* The thread-local message of another thread does not leak into this one. */
    pthread_t t;
    pthread_create(&t, NULL, core_other_thread, NULL);
    pthread_join(t, NULL);
    CHECK(!strcmp(tacl_last_error(), "all_reduce: root 9 out of range"));

    /* Settings: defaults, parsing, malformed values fall back to the default. */
    unsetenv("TACL_TIMEOUT");
    CHECK(tacl__setting_dbl(TACL_SET_TIMEOUT) == 300.0);
    setenv("TACL_TIMEOUT", "2.5", 1);
    CHECK(tacl__setting_dbl(TACL_SET_TIMEOUT) == 2.5);
    setenv("TACL_TIMEOUT", "soon", 1);
    CHECK(tacl__setting_dbl(TACL_SET_TIMEOUT) == 300.0);
    setenv("TACL_SHM_DISABLE", "yes", 1);
    CHECK(tacl__setting_bool(TACL_SET_SHM_DISABLE) == 1);
    CHECK(!strcmp(tacl__setting_info(TACL_SET_LOG)->name, "TACL_LOG"));

    /* Dtypes. */
    CHECK(tacl_dtype_size(TACL_BFLOAT16) == 2 && tacl_dtype_size(TACL_FLOAT64) == 8);
    CHECK(tacl_dtype_size((tacl_dtype_t)42) == 0);

    /* Log filters. */
    setenv("TACL_LOG", "info", 1);
    setenv("TACL_LOG_SUBSYS", "^shm", 1);
    tacl__log_reload();
    CHECK(tacl__log_enabled(TACL_LOG_INFO, TACL_SUB_NET));
    CHECK(!tacl__log_enabled(TACL_LOG_INFO, TACL_SUB_SHM));
    CHECK(!tacl__log_enabled(TACL_LOG_DEBUG, TACL_SUB_NET));
    printf("unit_core: ok\n");
    return 0;
}
