/* shm_sync.c — futex waits and wakes, the dead- and stopped-process checks, and the system's
 * runnable-thread count (see shm_sync.h). */
#include "transport/shm/shm_sync.h"

#include "proc.h"

#include <errno.h>
#include <fcntl.h>
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

int tacl__shm_runnable(void)
{
    /* "0.52 0.58 0.59 3/812 4711": the fourth field is running/total. */
    int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[128];
    ssize_t k = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (k <= 0) return -1;
    buf[k] = 0;
    int running = 0, total = 0;
    double a, b, c;
    if (sscanf(buf, "%lf %lf %lf %d/%d", &a, &b, &c, &running, &total) != 5 || running < 0)
        return -1;
    return running;
}
