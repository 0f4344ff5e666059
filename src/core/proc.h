/* proc.h — what /proc says about another process of this host, how many CPUs this one may use,
 * how many threads of the system want a core, and how long this process's group waited for one. */
#ifndef TACL_CORE_PROC_H
#define TACL_CORE_PROC_H

#include <stddef.h>
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
/* The CPUs this process's control-group quota allows (as tacl__proc_quota_cpus; 0: no quota). */
int tacl__proc_quota(void);
/* Which control groups this process belongs to: a hash of /proc/self/cgroup (0 when it cannot
 * be read). Processes of one host with the same value share their groups, and so one quota. */
uint64_t tacl__proc_cgroup_id(void);

/* Threads of the whole system that are running or ready to run now (the kernel's count in
 * /proc/loadavg, this caller included); -1 when it cannot be read. */
int tacl__proc_runnable(void);

/* CPU pressure (PSI) of this process's own control group: the cgroup v2 cpu.pressure file of
 * the group it belongs to, when that group is not the hierarchy's root (the root's file is the
 * whole system's, as /proc/pressure/cpu). Since Linux 5.7 a group's "some" time counts every
 * moment one of its tasks was ready to run but not running: waiting behind other tasks of the
 * group, behind other groups' tasks on its CPUs, or throttled by its cpu.max quota. Writes the
 * file's path into path and returns 1; 0 when there is none (cgroup v1 only, PSI off, the root
 * group). */
int tacl__proc_pressure_path(char *path, size_t len);
/* The "some" total of a pressure text ("some avg10=0.00 avg60=0.00 avg300=0.00 total=1234",
 * then a "full" line): microseconds since the group was made; -1 when the text has none. */
long long tacl__proc_pressure_some(const char *text);
/* The "some" total of the pressure file at path; -1 when it cannot be read. */
long long tacl__proc_pressure_read(const char *path);

#endif
