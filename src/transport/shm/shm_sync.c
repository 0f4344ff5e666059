/* shm_sync.c — futex waits and wakes, and the dead- and stopped-process checks (see
 * shm_sync.h). */
#include "transport/shm/shm_sync.h"

#include "proc.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void tacl__shm_futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t ns, int private_)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    syscall(SYS_futex, (uint32_t *)word, private_ ? FUTEX_WAIT_PRIVATE : FUTEX_WAIT, expected, &ts,
            NULL, 0);
}

void tacl__shm_futex_wake(_Atomic uint32_t *word, int private_)
{
    syscall(SYS_futex, (uint32_t *)word, private_ ? FUTEX_WAKE_PRIVATE : FUTEX_WAKE, INT_MAX, NULL,
            NULL, 0);
}

int tacl__shm_pid_stopped(int32_t pid)
{
    if (pid <= 0) return 0;
    char st = tacl__proc_state(pid);
    return st == 'T' || st == 't';
}

int tacl__shm_pid_dead(int32_t pid)
{
    if (pid <= 0) return 0;
    if (kill(pid, 0) != 0 && errno == ESRCH) return 1;
    char st = tacl__proc_state(pid);
    return st == 'Z' || st == 'X';
}
