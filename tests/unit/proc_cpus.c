/* proc_cpus.c — the CPUs a process may keep busy (src/core/proc.c): the quota text parser on
 * every form the kernel writes and on garbage; the count follows the affinity mask; and, where
 * the test may make a control group (root, a writable cgroup v1 "cpu" or v2 hierarchy), a child
 * moved into a group with a quota of 1.5 CPUs counts 2 and one with 0.5 counts 1. */
#include "check.h"
#include "proc.h"
#include "testutil.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs tacl__proc_cpus in a child moved into group dir; its result, or -1. */
static int cpus_in_group(const char *dir)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char path[512], me[32];
        snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        snprintf(me, sizeof me, "%d\n", (int)getpid());
        if (!tu_write_file(path, me)) _exit(255);
        int n = tacl__proc_cpus();
        _exit(n > 250 ? 250 : n);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    return WEXITSTATUS(st) == 255 ? -1 : WEXITSTATUS(st);
}

/* Makes a group with the given quota (us per 100 ms period) under hierarchy root (v2: cpu.max;
 * v1: cfs files) and returns how many CPUs a member counts; -1 where no group can be made. */
static int quota_case(const char *root, int v2, long quota_us)
{
    char dir[256], path[512], text[64];
    snprintf(dir, sizeof dir, "%s/tacl_proc_cpus_%d", root, (int)getpid());
    if (mkdir(dir, 0755) != 0) return -1;
    int ok;
    if (v2) {
        snprintf(path, sizeof path, "%s/cpu.max", dir);
        snprintf(text, sizeof text, "%ld 100000\n", quota_us);
        ok = tu_write_file(path, text);
    } else {
        snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
        ok = tu_write_file(path, "100000\n");
        snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
        snprintf(text, sizeof text, "%ld\n", quota_us);
        ok = ok && tu_write_file(path, text);
    }
    int n = ok ? cpus_in_group(dir) : -1;
    CHECK(rmdir(dir) == 0 || errno == ENOENT);
    return n;
}

int main(void)
{
    /* The parser. */
    CHECK(tacl__proc_quota_cpus("400000 100000\n") == 4);
    CHECK(tacl__proc_quota_cpus("150000 100000") == 2);
    CHECK(tacl__proc_quota_cpus("50000 100000") == 1);
    CHECK(tacl__proc_quota_cpus("100000 100000") == 1);
    CHECK(tacl__proc_quota_cpus("max 100000\n") == 0);
    CHECK(tacl__proc_quota_cpus("-1 100000") == 0);
    CHECK(tacl__proc_quota_cpus("100000 0") == 0);
    CHECK(tacl__proc_quota_cpus("100000") == 0);
    CHECK(tacl__proc_quota_cpus("") == 0);
    CHECK(tacl__proc_quota_cpus("garbage") == 0);
    CHECK(tacl__proc_quota_cpus(NULL) == 0);
    CHECK(tacl__proc_quota_cpus("99999999999999999999 1") == 1 << 20);

    /* The affinity mask bounds the count; one CPU in the mask counts 1. */
    cpu_set_t all, one;
    tu_first_cpu(&all, &one);
    int n = tacl__proc_cpus();
    CHECK(n >= 1 && n <= CPU_COUNT(&all));
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
    CHECK(tacl__proc_cpus() == 1);
    CHECK(sched_setaffinity(0, sizeof all, &all) == 0);
    CHECK(tacl__proc_cpus() == n);

    /* A control group's quota, where this test may make groups. */
    const char *root = NULL;
    int v2 = 0;
    if (access("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", F_OK) == 0) {
        root = "/sys/fs/cgroup/cpu";
    } else if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
        root = "/sys/fs/cgroup";
        v2 = 1;
        tu_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+cpu\n");
    }
    int made = 0;
    if (root && geteuid() == 0) {
        int a = quota_case(root, v2, 150000), b = quota_case(root, v2, 50000);
        if (a >= 0 && b >= 0) {
            made = 1;
            CHECK(a == (CPU_COUNT(&all) < 2 ? CPU_COUNT(&all) : 2));
            CHECK(b == 1);
        }
    }
    printf("proc_cpus: ok (%d CPUs here; quota groups %s)\n", n,
           made ? "made and checked" : "not available to this process");
    return 0;
}
