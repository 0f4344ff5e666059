/* proc_pressure.c — the CPU pressure of a control group (src/core/proc.c) and the helper pool's
 * load sign built on it (src/transport/shm/shm_pool.c): the parser on the kernel's text and on
 * garbage; the system's file where the kernel has one; and, where this test may make a cgroup v2
 * group (root, a writable v2 hierarchy, PSI on), a child moved into a new group finds that
 * group's file, sees its waiting grow while two threads share its one CPU, and a helper pool it
 * makes with one CPU of several reads that file and keeps its helper out. */
#include "check.h"
#include "clock.h"
#include "proc.h"
#include "testutil.h"
#include "transport/shm/shm_pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static _Atomic int stop;

static void *busy(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    }
    return NULL;
}

static void task(void *arg, unsigned k)
{
    (void)arg;
    (void)k;
    uint64_t t0 = tacl__now_ns();
    while (tacl__now_ns() - t0 < 20000) {
    }
}

/* In a child: joins group dir, checks what it reads there; exit status 0 when every check
 * held, 2 when the child could not join the group. */
static int child_in_group(const char *dir)
{
    char path[600], me[32], found[600];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    snprintf(me, sizeof me, "%d\n", (int)getpid());
    if (!tu_write_file(path, me)) _exit(2);
    snprintf(path, sizeof path, "%s/cpu.pressure", dir);
    CHECK(tacl__proc_pressure_path(found, sizeof found) == 1);
    if (strcmp(found, path) != 0) {
        fprintf(stderr, "pressure file %s, expected %s\n", found, path);
        return 1;
    }
    CHECK(tacl__proc_pressure_path(found, 8) == 0); /* too small a buffer: none, not a cut path */
    /* One CPU, two busy threads: one of them waits all the time. */
    cpu_set_t all, one;
    tu_first_cpu(&all, &one);
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
    long long before = tacl__proc_pressure_read(path);
    CHECK(before >= 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, busy, NULL) == 0);
    uint64_t t0 = tacl__now_ns();
    while (tacl__now_ns() - t0 < 400000000ull) {
    }
    long long waited = tacl__proc_pressure_read(path) - before;
    printf("proc_pressure: two busy threads on one CPU for 400 ms: the group waited %lld ms\n",
           waited / 1000);
    CHECK(waited >= 150000);
    /* A pool made now may use one CPU of several: it reads the group's pressure (its helper,
     * the caller and the busy thread share the CPU), and keeps its helper out. */
    if (CPU_COUNT(&all) >= 2 && tacl__proc_cpus() == 1) {
        tacl__shm_pool_t *p = tacl__shm_pool_create(1);
        CHECK(p != NULL);
        char sign[640];
        tacl__shm_pool_load_sign(p, sign, sizeof sign);
        printf("proc_pressure: pool's load sign: %s\n", sign);
        CHECK(strstr(sign, path) != NULL);
        t0 = tacl__now_ns();
        while (tacl__shm_pool_loads(p) == 0 && tacl__now_ns() - t0 < 3000000000ull)
            tacl__shm_pool_run(p, 8, task, NULL);
        CHECK(tacl__shm_pool_loads(p) == 1);
        CHECK(tacl__shm_pool_active(p) == 0);
        tacl__shm_pool_destroy(p);
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    return 0;
}

int main(void)
{
    /* The parser. */
    CHECK(tacl__proc_pressure_some("some avg10=0.00 avg60=0.00 avg300=0.00 total=1234\n"
                                   "full avg10=0.00 avg60=0.00 avg300=0.00 total=5\n") == 1234);
    CHECK(tacl__proc_pressure_some("some avg10=1.50 avg60=0.20 avg300=0.00 total=0") == 0);
    CHECK(tacl__proc_pressure_some("some avg10=0.00 total=9223372036854775807\n") ==
          9223372036854775807LL);
    CHECK(tacl__proc_pressure_some("some avg10=0.00 total=92233720368547758070\n") == -1);
    CHECK(tacl__proc_pressure_some("full avg10=0.00 avg60=0.00 avg300=0.00 total=5\n") == -1);
    CHECK(tacl__proc_pressure_some("some avg10=0.00 avg60=0.00 avg300=0.00\n"
                                   "full avg10=0.00 avg60=0.00 avg300=0.00 total=5\n") == -1);
    CHECK(tacl__proc_pressure_some("some avg10=0.00 total=-4\n") == -1);
    CHECK(tacl__proc_pressure_some("some avg10=0.00 total=12x\n") == -1);
    CHECK(tacl__proc_pressure_some("some total=\n") == -1);
    CHECK(tacl__proc_pressure_some("garbage") == -1);
    CHECK(tacl__proc_pressure_some("") == -1);
    CHECK(tacl__proc_pressure_some(NULL) == -1);
    CHECK(tacl__proc_pressure_read("/nonexistent/cpu.pressure") == -1);
    CHECK(tacl__proc_pressure_read("/proc/self/status") == -1);
    CHECK(tacl__proc_pressure_read(NULL) == -1);

    /* The system's file, where the kernel keeps one: it reads, and never goes back. */
    long long a = tacl__proc_pressure_read("/proc/pressure/cpu");
    if (access("/proc/pressure/cpu", R_OK) == 0) {
        CHECK(a >= 0);
        CHECK(tacl__proc_pressure_read("/proc/pressure/cpu") >= a);
    }
    /* This process's own group: found only beside a cgroup.type (not the root group). */
    char path[600];
    if (tacl__proc_pressure_path(path, sizeof path)) {
        char type[600];
        size_t k = strlen(path) - strlen("cpu.pressure");
        CHECK(strcmp(path + k, "cpu.pressure") == 0);
        snprintf(type, sizeof type, "%.*scgroup.type", (int)k, path);
        CHECK(access(type, F_OK) == 0);
    }

    /* A group of its own, where one can be made. */
    const char *roots[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    int made = 0;
    for (size_t r = 0; r < 2 && !made && geteuid() == 0; r++) {
        char probe[400], dir[300];
        snprintf(probe, sizeof probe, "%s/cgroup.controllers", roots[r]);
        if (access(probe, F_OK) != 0) continue;
        snprintf(dir, sizeof dir, "%s/tacl_proc_pressure_%d", roots[r], (int)getpid());
        if (mkdir(dir, 0755) != 0) continue;
        snprintf(probe, sizeof probe, "%s/cpu.pressure", dir);
        if (tacl__proc_pressure_read(probe) >= 0) {
            pid_t pid = fork();
            CHECK(pid >= 0);
            if (pid == 0) {
                int rc = child_in_group(dir);
                fflush(stdout);
                _exit(rc);
            }
            int st = 0;
            CHECK(waitpid(pid, &st, 0) == pid);
            CHECK(WIFEXITED(st));
            if (WEXITSTATUS(st) != 2) {
                CHECK(WEXITSTATUS(st) == 0);
                made = 1;
            }
        }
        CHECK(rmdir(dir) == 0 || errno == ENOENT);
    }
    printf("proc_pressure: ok (group of its own %s)\n",
           made ? "made and checked" : "not available to this process");
    return 0;
}
