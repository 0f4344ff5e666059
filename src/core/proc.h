/* proc.h — what /proc says about another process of this host, how many CPUs this one may use,
 * and how many threads of the system want a core. */
#ifndef TACL_CORE_PROC_H
#define TACL_CORE_PROC_H

#include <stdint.h>

/* The state letter of process pid in /proc/<pid>/stat ('R', 'S', 'T', 'Z', ...), 0 when pid is
 * not positive or the file cannot be read (no such process, another pid namespace). */
char tacl__proc_state(int32_t pid);

/* CPUs this process may keep busy: those of its affinity mask (the online CPUs where the mask
 * cannot be read), fewer where its control group's CPU quota allows fewer (cgroup v2 cpu.max,
 * v1 cpu.cfs_quota_us / cpu.cfs_period_us; a quota of 2.5 CPUs counts as 3). At least 1. */
int tacl__proc_cpus(void);
/* The CPUs a quota in cpu.max form allows ("400000 100000": 4; "max 100000": 0, no limit; an
 * unreadable text: 0); v1's two files pass as "QUOTA PERIOD" (QUOTA -1: no limit). */
int tacl__proc_quota_cpus(const char *cpu_max);

/* Threads of the whole system that are running or ready to run now (the kernel's count in
 * /proc/loadavg, this caller included); -1 when it cannot be read. */
int tacl__proc_runnable(void);

#endif
