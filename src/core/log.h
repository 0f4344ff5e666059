/* log.h — tacl's logging: levels and subsystems chosen by TACL_LOG, TACL_LOG_SUBSYS and
 * TACL_LOG_FILE (%h host, %p pid). Every line carries host, pid and rank so that the output of
 * many ranks can be merged and still read. */
#ifndef TACL_CORE_LOG_H
#define TACL_CORE_LOG_H

#include <stdint.h>

typedef enum {
    TACL_LOG_NONE = 0,
    TACL_LOG_WARN,
    TACL_LOG_INFO,
    TACL_LOG_DEBUG,
    TACL_LOG_TRACE
} tacl__log_level_t;

#define TACL_SUBSYS_LIST(X)                                                                        \
    X(TACL_SUB_INIT, "init")                                                                       \
    X(TACL_SUB_BOOT, "boot")                                                                       \
    X(TACL_SUB_STORE, "store")                                                                     \
    X(TACL_SUB_NET, "net")                                                                         \
    X(TACL_SUB_SHM, "shm")                                                                         \
    X(TACL_SUB_COLL, "coll")                                                                       \
    X(TACL_SUB_TOPO, "topo")                                                                       \
    X(TACL_SUB_GPU, "gpu")                                                                         \
    X(TACL_SUB_PLAN, "plan")

typedef enum {
#define TACL_SUB_ENUM_(name, str) name,
    TACL_SUBSYS_LIST(TACL_SUB_ENUM_)
#undef TACL_SUB_ENUM_
        TACL_SUB_COUNT
} tacl__subsys_t;

/* 1 when a message of this level and subsystem would be written (cheap: cached settings). */
int tacl__log_enabled(tacl__log_level_t lvl, tacl__subsys_t sub);
void tacl__log_write(tacl__log_level_t lvl, tacl__subsys_t sub, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The rank shown in every line's prefix (-1: not yet known). */
void tacl__log_set_rank(int rank);
/* Re-reads TACL_LOG* (tests change them at run time). */
void tacl__log_reload(void);
const char *tacl__subsys_name(tacl__subsys_t sub);

/* Warnings a peer can cause (refused connections): a burst of `burst` lines, then one a second;
 * the next line let through says how many were left out. Not locked: one per thread. */
typedef struct {
    uint64_t last_ns;
    double tokens;
    unsigned suppressed;
} tacl__ratelimit_t;
/* 1 when a line may be logged now; *skipped receives how many were left out before it. */
int tacl__ratelimit_pass(tacl__ratelimit_t *r, double burst, unsigned *skipped);
/* " (N similar lines left out in the last second)", or "" for 0 (a thread-local buffer). */
const char *tacl__ratelimit_note(unsigned skipped);

#define TACL_LOG_AT_(lvl, sub, ...)                                                                \
    do {                                                                                           \
        if (tacl__log_enabled(lvl, sub)) tacl__log_write(lvl, sub, __VA_ARGS__);                   \
    } while (0)
#define TACL_WARN(sub, ...)  TACL_LOG_AT_(TACL_LOG_WARN, sub, __VA_ARGS__)
#define TACL_INFO(sub, ...)  TACL_LOG_AT_(TACL_LOG_INFO, sub, __VA_ARGS__)
#define TACL_DEBUG(sub, ...) TACL_LOG_AT_(TACL_LOG_DEBUG, sub, __VA_ARGS__)
#define TACL_TRACE(sub, ...) TACL_LOG_AT_(TACL_LOG_TRACE, sub, __VA_ARGS__)

#endif
