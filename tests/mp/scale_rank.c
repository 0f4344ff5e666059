/* scale_rank.c — the rank program of the scale tests (scale.sh) and of bench/scale.sh: joins the
 * world (tacl_init), checks one all_reduce against the closed form (the sum of every rank's
 * number), measures what the rank holds then (sockets, bytes of shared memory mapped), leaves
 * (tacl_comm_destroy), and prints one line:
 *
 *   scale rank=R size=N start=T init_s=A first_ar_s=B leave_at_s=C end_s=D leave_s=E sockets=S
 *         shm_bytes=M sum=V ok
 *
 * T is the wall clock (seconds since the epoch) when the program started, A the time tacl_init
 * took, B, C and D the times from start to the end of the first all_reduce, to the call of
 * tacl_comm_destroy and to its return, E = D - C. Exits 1 (with the library's message) when init or
 * the all_reduce fails or gives another value. */
#include <tacl.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double sr_now(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Open descriptors of this process that are sockets. */
static int sr_sockets(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], target[64];
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t l = readlink(path, target, sizeof target - 1);
        if (l <= 0) continue;
        target[l] = '\0';
        if (!strncmp(target, "socket:", 7)) n++;
    }
    closedir(d);
    return n;
}

/* Bytes of shared mappings backed by shared memory (/dev/shm files, memfds). */
static long long sr_shm_bytes(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    long long total = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        unsigned long long lo, hi;
        char perms[8];
        if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) != 3 || perms[3] != 's') continue;
        if (strstr(line, "/dev/shm/") || strstr(line, "/memfd:")) total += (long long)(hi - lo);
    }
    fclose(f);
    return total;
}

int main(void)
{
    double start = sr_now(CLOCK_REALTIME), t0 = sr_now(CLOCK_MONOTONIC);
    tacl_comm_t *world;
    if (tacl_init(&world) != TACL_OK) {
        fprintf(stderr, "scale_rank: init: %s\n", tacl_last_error());
        return 1;
    }
    double t1 = sr_now(CLOCK_MONOTONIC);
    int rank = tacl_comm_rank(world), size = tacl_comm_size(world);
    int64_t sum = (int64_t)rank + 1;
    tacl_status_t st = tacl_all_reduce(world, &sum, &sum, 1, TACL_INT64, TACL_SUM);
    double t2 = sr_now(CLOCK_MONOTONIC);
    int64_t want = (int64_t)size * (size + 1) / 2;
    if (st != TACL_OK || sum != want) {
        fprintf(stderr, "scale_rank: rank %d of %d: all_reduce gave %lld, expected %lld (%s): %s\n",
                rank, size, (long long)sum, (long long)want, tacl_status_name(st),
                tacl_comm_last_error(world));
        tacl_comm_destroy(world);
        return 1;
    }
    int sockets = sr_sockets();
    long long shm = sr_shm_bytes();
    double t3 = sr_now(CLOCK_MONOTONIC);
    tacl_comm_destroy(world);
    double t4 = sr_now(CLOCK_MONOTONIC);
    printf("scale rank=%d size=%d start=%.6f init_s=%.4f first_ar_s=%.4f leave_at_s=%.4f "
           "end_s=%.4f leave_s=%.4f sockets=%d shm_bytes=%lld sum=%lld ok\n",
           rank, size, start, t1 - t0, t2 - t0, t3 - t0, t4 - t0, t4 - t3, sockets, shm,
           (long long)sum);
    return 0;
}
