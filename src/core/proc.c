/* proc.c — what /proc says about another process of this host, and the CPUs this one may use
 * (affinity mask and control-group quota), how many threads of the system want a core, and the
 * CPU pressure of this process's control group. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char tacl__proc_state(int32_t pid)
{
    char path[64], buf[256];
    if (pid <= 0) return 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name in parentheses may hold anything, so the state follows the last ')' */
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

int tacl__proc_quota_cpus(const char *cpu_max)
{
    if (!cpu_max) return 0;
    char *end;
    long long quota = strtoll(cpu_max, &end, 10);
    if (end == cpu_max || quota <= 0) return 0; /* "max", -1 or garbage: no limit */
    long long period = strtoll(end, &end, 10);
    if (period <= 0) return 0;
    long long cpus = quota / period + (quota % period != 0);
    return cpus > 1 << 20 ? 1 << 20 : (int)cpus;
}

/* The first line of path, into buf; 0 when it cannot be read. */
static int proc_read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    return ok;
}

/* This process's control group of the hierarchy whose /proc/self/cgroup line has controller
 * list `ctrl` ("" for v2's unified line "0::/path"), into path; 0 when there is none. */
static int proc_cgroup_path(const char *ctrl, char *path, size_t len)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return 0;
    char line[1024];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b) continue;
        *b = '\0';
        const char *list = a + 1;
        int match = 0;
        if (!*ctrl) {
            match = !*list && strncmp(line, "0", 1) == 0;
        } else {
            /* "cpu,cpuacct" or "cpu": ctrl as a whole item of the comma list */
            for (const char *p = list; *p;) {
                size_t k = strcspn(p, ",");
                if (k == strlen(ctrl) && strncmp(p, ctrl, k) == 0) match = 1;
                p += k + (p[k] == ',');
            }
        }
        if (!match) continue;
        char *rest = b + 1;
        rest[strcspn(rest, "\n")] = '\0';
        snprintf(path, len, "%s", rest);
        found = 1;
    }
    fclose(f);
    return found;
}

int tacl__proc_quota(void)
{
    char cg[900], path[1100], line[128], line2[64];
    /* v2: the group's own cpu.max, else the root of the mounted hierarchy (a container that
     * sees its own group as its root). */
    if (proc_cgroup_path("", cg, sizeof cg)) {
        snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max", strcmp(cg, "/") ? cg : "");
        if (proc_read_line(path, line, sizeof line)) return tacl__proc_quota_cpus(line);
    }
    if (proc_read_line("/sys/fs/cgroup/cpu.max", line, sizeof line))
        return tacl__proc_quota_cpus(line);
    /* v1 */
    static const char *mounts[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"};
    int have = proc_cgroup_path("cpu", cg, sizeof cg);
    for (size_t m = 0; m < sizeof mounts / sizeof mounts[0]; m++) {
        for (int own = have; own >= 0; own--) {
            const char *sub = own && strcmp(cg, "/") ? cg : "";
            snprintf(path, sizeof path, "%s%s/cpu.cfs_quota_us", mounts[m], sub);
            if (!proc_read_line(path, line, sizeof line)) continue;
            snprintf(path, sizeof path, "%s%s/cpu.cfs_period_us", mounts[m], sub);
            if (!proc_read_line(path, line2, sizeof line2)) continue;
            line[strcspn(line, "\n")] = ' ';
            char both[200];
            snprintf(both, sizeof both, "%.100s %.60s", line, line2);
            return tacl__proc_quota_cpus(both);
        }
    }
    return 0;
}

int tacl__proc_cpus(void)
{
    int n = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    int q = tacl__proc_quota();
    return q > 0 && q < n ? q : n;
}

/* The start of a small kernel file (one read, no stdio: the pool reads these every 10 ms),
 * NUL-terminated in buf; 0 when it cannot be read. */
static int proc_read_text(const char *path, char *buf, size_t len)
{
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) return 0;
    ssize_t k = read(fd, buf, len - 1);
    close(fd);
    if (k <= 0) return 0;
    buf[k] = 0;
    return 1;
}

int tacl__proc_runnable(void)
{
    /* "0.52 0.58 0.59 3/812 4711": the fourth field is running/total. */
    char buf[128];
    if (!proc_read_text("/proc/loadavg", buf, sizeof buf)) return -1;
    int running = 0, total = 0;
    double a, b, c;
    if (sscanf(buf, "%lf %lf %lf %d/%d", &a, &b, &c, &running, &total) != 5 || running < 0)
        return -1;
    return running;
}

long long tacl__proc_pressure_some(const char *text)
{
    if (!text || strncmp(text, "some ", 5) != 0) return -1;
    const char *nl = strchr(text, '\n'), *t = strstr(text, " total=");
    if (!t || (nl && t > nl)) return -1;
    t += 7;
    if (*t < '0' || *t > '9') return -1;
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (errno || (*end != '\n' && *end != '\0' && *end != ' ')) return -1;
    return v;
}

long long tacl__proc_pressure_read(const char *path)
{
    char buf[256];
    return proc_read_text(path, buf, sizeof buf) ? tacl__proc_pressure_some(buf) : -1;
}

int tacl__proc_pressure_path(char *path, size_t len)
{
    char cg[900], probe[1100];
    if (!path || len == 0 || !proc_cgroup_path("", cg, sizeof cg)) return 0;
    /* The v2 hierarchy is mounted at /sys/fs/cgroup, or beside v1 at .../unified. Only a
     * non-root group has cgroup.type; inside a container that sees its own group as "/", the
     * group at the mount point is then the container's. */
    static const char *mounts[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    const char *sub = strcmp(cg, "/") ? cg : "";
    for (size_t m = 0; m < sizeof mounts / sizeof mounts[0]; m++) {
        snprintf(probe, sizeof probe, "%s%s/cgroup.type", mounts[m], sub);
        if (access(probe, F_OK) != 0) continue;
        snprintf(probe, sizeof probe, "%s%s/cpu.pressure", mounts[m], sub);
        if (tacl__proc_pressure_read(probe) < 0 || strlen(probe) >= len) continue;
        snprintf(path, len, "%s", probe);
        return 1;
    }
    return 0;
}

uint64_t tacl__proc_cgroup_id(void)
{
    int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    char buf[512];
    ssize_t k;
    while ((k = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < k; i++)
            h = (h ^ (uint8_t)buf[i]) * 1099511628211ull;
    close(fd);
    return h ? h : 1;
}
