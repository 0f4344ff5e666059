/* mq.c — the broadcast message queue (tacl_mq_*) on one host, ranks as forked processes: for
 * 1, 3 and 7 readers and 64 B, 1 KiB, 64 KiB and 1 MiB messages,
 *   - writer-to-last-reader latency by ping-pong: the writer enqueues, every reader dequeues a
 *     view and releases it (or copies it out with dequeue_into), the last reader answers on a
 *     second queue (writer = that reader);
 *     one-way = round trip - half the round trip of an 8-byte ping-pong between the writer and
 *     the last reader alone (the reply's share, measured before each size), p50 and p99;
 *   - stream throughput: the writer enqueues back to back, readers take views (zero-copy) or
 *     copy out (dequeue_into), the last reader acknowledges the end;
 *   - idle CPU of blocked readers from 100 ms to 1.1 s after the last message
 *     (/proc/<pid>/task/<tid>/schedstat of every thread), and the wake-up latency of the first
 *     message after that idle time (enqueue start to each reader's dequeue return).
 * Default queue options (TACL_MQ_* settings apply). Usage: mq [-r 1,3,7] [-n samples] */
#include "clock.h"
#include "mp_world.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NSIZES 4
static const size_t bench_sizes[NSIZES] = {64, 1024, 65536, 1 << 20};

typedef struct {
    int samples;
    /* Filled by rank 0 of each run. */
    double p50[2][NSIZES], p99[2][NSIZES], base_rtt; /* [view, into] */
    double gbs_view[NSIZES], mps_view[NSIZES], gbs_into[NSIZES];
    double idle_cpu_max, wake_us_max, wake_us_last;
} bench_out_t;

static bench_out_t *bench_res;

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what, tacl_status_t st, const char *msg)
{
    fprintf(stderr, "%s: %s: %s\n", what, tacl_status_name(st), msg);
    exit(1);
}
#define OK(call, qq)                                                                               \
    do {                                                                                           \
        tacl_status_t st_ = (call);                                                                \
        if (st_ != TACL_OK) die(#call, st_, tacl_mq_last_error(qq));                               \
    } while (0)

static uint64_t cpu_ns(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d) return 0;
    uint64_t sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[320];
        snprintf(p, sizeof p, "/proc/%d/task/%s/schedstat", pid, e->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        unsigned long long ns = 0;
        if (fscanf(f, "%llu", &ns) == 1) sum += ns;
        fclose(f);
    }
    closedir(d);
    return sum;
}

/* One ping-pong round trip of len bytes, in ns (valid on the writer). */
static uint64_t pingpong(tacl_mq_t *q, tacl_mq_t *back, int me, int last, const char *msg,
                         size_t len, char *dst)
{
    uint64_t t0 = tacl__now_ns(), ack = 0;
    size_t got;
    const void *v;
    if (me == 0) {
        OK(tacl_mq_enqueue(q, msg, len), q);
        OK(tacl_mq_dequeue_into(back, &ack, sizeof ack, &got), back);
        return tacl__now_ns() - t0;
    }
    if (dst) {
        OK(tacl_mq_dequeue_into(q, dst, 1 << 20, &got), q);
    } else {
        OK(tacl_mq_dequeue(q, &v, &got), q);
        OK(tacl_mq_release(q), q);
    }
    if (me == last) OK(tacl_mq_enqueue(back, &ack, sizeof ack), back);
    return 0;
}

static int bench_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w), last = n - 1;
    tacl_comm_t *pair = NULL;
    if (tacl_comm_split(w, me == 0 || me == last ? 0 : -1, me, &pair) != TACL_OK) return 1;
    tacl_mq_t *q = NULL, *back = NULL;
    OK(tacl_mq_create(w, 0, NULL, &q), q);
    if (pair) OK(tacl_mq_create(pair, 1, NULL, &back), back);
    char *msg = calloc(1, 1 << 20), *dst = malloc(1 << 20);
    int ns = bench_res->samples;
    double *rtt = calloc((size_t)ns, sizeof *rtt);
    if (!msg || !dst || !rtt) return 1;
    memset(msg, 0x5a, 1 << 20); /* real pages, not the shared zero page */
    memset(dst, 0, 1 << 20);
    /* The reply's share of a round trip: half an 8-byte ping-pong between the writer and the
     * last reader alone (a 1-reader queue each way), measured before every size. */
    tacl_mq_t *fwd = NULL;
    if (pair) OK(tacl_mq_create(pair, 0, NULL, &fwd), fwd);
    for (int s = 0; s < NSIZES; s++) {
        size_t len = bench_sizes[s];
        int samples = len >= (1 << 20) ? ns / 4 : ns;
        if (pair) {
            for (int i = 0; i < 200; i++)
                pingpong(fwd, back, me, last, msg, 8, NULL);
            for (int i = 0; i < ns; i++)
                rtt[i] = (double)pingpong(fwd, back, me, last, msg, 8, NULL) * 1e-3;
            if (me == 0) {
                qsort(rtt, (size_t)ns, sizeof *rtt, cmp_dbl);
                bench_res->base_rtt = rtt[ns / 2];
            }
        }
        for (int mode = 0; mode < 2; mode++) {
            char *into = mode ? dst : NULL;
            for (int i = 0; i < 20; i++)
                pingpong(q, back, me, last, msg, len, into);
            for (int i = 0; i < samples; i++)
                rtt[i] = (double)pingpong(q, back, me, last, msg, len, into) * 1e-3;
            if (me == 0) {
                qsort(rtt, (size_t)samples, sizeof *rtt, cmp_dbl);
                double half = bench_res->base_rtt / 2;
                bench_res->p50[mode][s] = rtt[samples / 2] - half;
                bench_res->p99[mode][s] = rtt[(size_t)(samples * 0.99)] - half;
            }
        }
        /* Streams: views, then copies. */
        for (int mode = 0; mode < 2; mode++) {
            size_t total = len >= 65536 ? (size_t)256 << 20 : (size_t)20000 * len;
            int count = (int)(total / len);
            uint64_t t0 = tacl__now_ns(), ack = 0;
            size_t got;
            const void *v;
            for (int i = 0; i < count; i++) {
                if (me == 0) {
                    OK(tacl_mq_enqueue(q, msg, len), q);
                } else if (mode == 0) {
                    OK(tacl_mq_dequeue(q, &v, &got), q);
                    OK(tacl_mq_release(q), q);
                } else {
                    OK(tacl_mq_dequeue_into(q, dst, 1 << 20, &got), q);
                }
            }
            if (me == last) OK(tacl_mq_enqueue(back, &ack, sizeof ack), back);
            if (me == 0) {
                OK(tacl_mq_dequeue_into(back, &ack, sizeof ack, &got), back);
                double sec = (double)(tacl__now_ns() - t0) * 1e-9;
                if (mode == 0) {
                    bench_res->gbs_view[s] = (double)count * (double)len / sec * 1e-9;
                    bench_res->mps_view[s] = count / sec;
                } else {
                    bench_res->gbs_into[s] = (double)count * (double)len / sec * 1e-9;
                }
            }
        }
    }
    /* Idle: readers block; CPU from 100 ms to 1.1 s; then a stamped message wakes them. */
    int32_t mine = (int32_t)getpid(), *pids = calloc((size_t)n, sizeof *pids);
    double *wake = calloc((size_t)n, sizeof *wake);
    if (!pids || !wake) return 1;
    if (tacl_all_gather(w, &mine, pids, 1, TACL_INT32) != TACL_OK) return 1;
    double wk = 0;
    for (int round = 0; round < 3; round++) {
        uint64_t stamp;
        size_t got;
        if (me == 0) {
            usleep(100000);
            uint64_t c0[8] = {0}, t0 = tacl__now_ns();
            for (int r = 1; r < n && r < 8; r++)
                c0[r] = cpu_ns(pids[r]);
            usleep(1000000);
            double el = (double)(tacl__now_ns() - t0);
            for (int r = 1; r < n && r < 8; r++) {
                double pct = 100.0 * (double)(cpu_ns(pids[r]) - c0[r]) / el;
                if (pct > bench_res->idle_cpu_max) bench_res->idle_cpu_max = pct;
            }
            stamp = tacl__now_ns();
            OK(tacl_mq_enqueue(q, &stamp, sizeof stamp), q);
        } else {
            OK(tacl_mq_dequeue_into(q, &stamp, sizeof stamp, &got), q);
            double us = (double)(tacl__now_ns() - stamp) * 1e-3;
            if (us > wk) wk = us;
        }
        if (tacl_barrier(w) != TACL_OK) return 1;
    }
    if (tacl_all_gather(w, &wk, wake, 1, TACL_FLOAT64) != TACL_OK) return 1;
    if (me == 0) {
        for (int r = 1; r < n; r++)
            if (wake[r] > bench_res->wake_us_max) bench_res->wake_us_max = wake[r];
        bench_res->wake_us_last = wake[last];
    }
    tacl_mq_destroy(fwd);
    tacl_mq_destroy(back);
    tacl_mq_destroy(q);
    if (pair) tacl_comm_destroy(pair);
    free(msg);
    free(dst);
    free(rtt);
    free(pids);
    free(wake);
    return 0;
}

static const char *size_name(size_t b)
{
    return b == 64 ? "64 B" : b == 1024 ? "1 KiB" : b == 65536 ? "64 KiB" : "1 MiB";
}

int main(int argc, char **argv)
{
    int readers[8] = {1, 3, 7}, nr = 3, samples = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-n")) samples = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "-r")) {
            nr = 0;
            for (char *t = strtok(argv[i + 1], ","); t && nr < 8; t = strtok(NULL, ","))
                readers[nr++] = atoi(t);
        }
    }
    bench_res =
        mmap(NULL, sizeof *bench_res, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (bench_res == MAP_FAILED) return 1;
    printf("# tacl_mq, one host, %ld online cores; one-way = round trip - half a 1-reader 8-byte "
           "round trip; views: zero-copy dequeue + release; into: dequeue_into (one copy per "
           "reader)\n",
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("| readers | size | one-way p50 / p99 (us), views | one-way p50 / p99 (us), into | "
           "stream, views | stream, into |\n");
    printf("|---|---|---|---|---|---|\n");
    for (int k = 0; k < nr; k++) {
        memset(bench_res, 0, sizeof *bench_res);
        bench_res->samples = samples;
        mpw_opts_t o = {.timeout_s = 600};
        if (mpw_run(readers[k] + 1, bench_body, NULL, &o) != 0) {
            fprintf(stderr, "run with %d readers failed\n", readers[k]);
            return 1;
        }
        for (int s = 0; s < NSIZES; s++) {
            printf("| %d | %s | %.2f / %.2f | %.2f / %.2f | ", readers[k],
                   size_name(bench_sizes[s]), bench_res->p50[0][s], bench_res->p99[0][s],
                   bench_res->p50[1][s], bench_res->p99[1][s]);
            if (bench_sizes[s] >= 65536)
                printf("%.2f GB/s | %.2f GB/s |\n", bench_res->gbs_view[s], bench_res->gbs_into[s]);
            else
                printf("%.0f k msg/s | %.2f GB/s |\n", bench_res->mps_view[s] * 1e-3,
                       bench_res->gbs_into[s]);
        }
        printf("| %d | idle | reader CPU 100 ms-1.1 s after the last message: max %.2f%%; "
               "wake-up after idle: last reader %.1f us, slowest %.1f us (max of 3) | 1-reader 8 B "
               "round "
               "trip %.2f us | | |\n",
               readers[k], bench_res->idle_cpu_max, bench_res->wake_us_last, bench_res->wake_us_max,
               bench_res->base_rtt);
        fflush(stdout);
    }
    return 0;
}
