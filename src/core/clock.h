/* clock.h — monotonic time and deadlines, the basis of "every blocking call has a deadline". */
#ifndef TACL_CORE_CLOCK_H
#define TACL_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t tacl__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline double tacl__now_s(void)
{
    return (double)tacl__now_ns() * 1e-9;
}

/* A deadline timeout_s from now; timeout_s <= 0 means "already expired" is never wanted, so
 * callers pass a positive timeout. */
static inline uint64_t tacl__deadline_ns(double timeout_s)
{
    return tacl__now_ns() + (uint64_t)(timeout_s * 1e9);
}

/* Milliseconds left until deadline (0 when passed), for poll()/epoll_wait(). */
static inline int tacl__ms_left(uint64_t deadline_ns)
{
    uint64_t now = tacl__now_ns();
    if (now >= deadline_ns) return 0;
    uint64_t ms = (deadline_ns - now + 999999) / 1000000;
    return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

#endif
