/* mq.c — the broadcast message queue (tacl_mq_*) on one host, ranks as forked processes: for
 * 1, 3 and 7 readers and 64 B, 1 KiB, 64 KiB and 1 MiB messages,
 *   - one-way latency: the writer stamps each message (CLOCK_MONOTONIC, in its first 8 bytes)
 *     and enqueues it; every reader dequeues a view and releases it (or copies it out with
 *     dequeue_into), notes now - stamp, and acknowledges through a shared-memory counter that
 *     the writer waits on before the next message (ping-pong pacing, nothing queued), after a
 *     warm-up of two laps of the default ring. A message's latency is its last reader's; p50
 *     and p99 over the samples, and p99 / p50;
 *   - stream throughput: the writer enqueues back to back, readers take views (zero-copy) or
 *     copy out (dequeue_into) and acknowledge the end;
 *   - idle CPU of blocked readers from 100 ms to 100 ms + the idle time after the last message
 *     (/proc/<pid>/task/<tid>/schedstat of every thread), and the wake-up latency of the first
 *     message after that idle time (enqueue start to each reader's dequeue return), over
 *     several rounds: p50 and max over rounds and readers;
 *   - the same wake-up for bare futex sleepers (forked processes in FUTEX_WAIT on a shared word,
 *     one FUTEX_WAKE after the idle time): what this host's kernel and CPUs take to wake a
 *     sleeping process at all, the floor under any reader that sleeps instead of spinning.
 * Default queue options (TACL_MQ_* settings apply). Without TACL_STORE_TOKEN(_FILE) a token is
 * made for the run. Usage: mq [-r 1,3,7] [-n samples] [-w wake rounds] [-i idle ms] */
#include "auth.h"
#include "clock.h"
#include "mp_world.h"

#include <dirent.h>
#include <immintrin.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSIZES   4
#define MAXRANKS 8
static const size_t bench_sizes[NSIZES] = {64, 1024, 65536, 1 << 20};

typedef struct {
    int samples, rounds, idle_ms, yield;
    _Atomic uint64_t acks; /* readers' acknowledgements so far */
    /* Filled by rank 0 of each run. */
    double p50[2][NSIZES], p99[2][NSIZES]; /* [view, into] */
    double gbs_view[NSIZES], mps_view[NSIZES], gbs_into[NSIZES];
    double idle_cpu_max, wake_p50, wake_max;
    uint64_t lat[]; /* [reader rank][sample]: one-way ns, written by each reader */
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

static uint64_t *lat_of(int rank)
{
    return bench_res->lat + (size_t)rank * (size_t)bench_res->samples;
}

/* Writer: waits until the readers' acknowledgements reach want (yielding the core when the
 * host has fewer cores than ranks, or when asked: a writer spinning on the core a woken reader
 * needs would otherwise add its time slice to that reader's wake-up). */
static void wait_acks(uint64_t want, int yield)
{
    while (atomic_load(&bench_res->acks) < want) {
        if (yield)
            sched_yield();
        else
            _mm_pause();
    }
}

/* One message: the writer stamps and enqueues it and waits for every reader; a reader takes it
 * (a view, or a copy into dst) and records its one-way latency in slot i (when i >= 0). */
static void one(tacl_mq_t *q, int me, int n, char *msg, size_t len, char *dst, int i,
                uint64_t *acks, int yield)
{
    *acks += (uint64_t)(n - 1);
    if (me == 0) {
        uint64_t t0 = tacl__now_ns();
        memcpy(msg, &t0, sizeof t0);
        OK(tacl_mq_enqueue(q, msg, len), q);
        wait_acks(*acks, yield || bench_res->yield);
        return;
    }
    uint64_t stamp, t;
    size_t got;
    if (dst) {
        OK(tacl_mq_dequeue_into(q, dst, 1 << 20, &got), q);
        t = tacl__now_ns();
        memcpy(&stamp, dst, sizeof stamp);
    } else {
        const void *v;
        OK(tacl_mq_dequeue(q, &v, &got), q);
        t = tacl__now_ns();
        memcpy(&stamp, v, sizeof stamp);
        OK(tacl_mq_release(q), q);
    }
    if (i >= 0) lat_of(me)[i] = t - stamp;
    atomic_fetch_add(&bench_res->acks, 1);
}

/* Rank 0: per sample, the slowest reader's latency (us); sorted into out. */
static void slowest(int n, int samples, double *out)
{
    for (int i = 0; i < samples; i++) {
        uint64_t m = 0;
        for (int r = 1; r < n; r++)
            if (lat_of(r)[i] > m) m = lat_of(r)[i];
        out[i] = (double)m * 1e-3;
    }
    qsort(out, (size_t)samples, sizeof *out, cmp_dbl);
}

static int bench_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    tacl_mq_t *q = NULL;
    OK(tacl_mq_create(w, 0, NULL, &q), q);
    char *msg = calloc(1, 1 << 20), *dst = malloc(1 << 20);
    int ns = bench_res->samples;
    double *us = calloc((size_t)ns * MAXRANKS, sizeof *us);
    if (!msg || !dst || !us) return 1;
    memset(msg, 0x5a, 1 << 20); /* real pages, not the shared zero page */
    memset(dst, 0, 1 << 20);
    uint64_t acks = 0;
    for (int s = 0; s < NSIZES; s++) {
        size_t len = bench_sizes[s];
        int samples = len >= (1 << 20) ? ns / 4 : ns;
        /* Warm-up: two laps of the default ring (128 chunks of 64 KiB), so that the samples
         * see a ring in steady state, not the first writes into cold memory. */
        int warm = 2 * 128 / (int)((len + 65535) / 65536);
        if (warm < 20) warm = 20;
        for (int mode = 0; mode < 2; mode++) {
            char *into = mode ? dst : NULL;
            for (int i = 0; i < warm; i++)
                one(q, me, n, msg, len, into, -1, &acks, 0);
            for (int i = 0; i < samples; i++)
                one(q, me, n, msg, len, into, i, &acks, 0);
            if (me == 0) {
                slowest(n, samples, us);
                bench_res->p50[mode][s] = us[samples / 2];
                bench_res->p99[mode][s] = us[(size_t)(samples * 0.99)];
            }
        }
        /* Streams: views, then copies; the readers acknowledge the end. */
        for (int mode = 0; mode < 2; mode++) {
            size_t total = len >= 65536 ? (size_t)256 << 20 : (size_t)20000 * len;
            int count = (int)(total / len);
            uint64_t t0 = tacl__now_ns();
            size_t got;
            const void *v;
            acks += (uint64_t)(n - 1);
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
            if (me != 0) atomic_fetch_add(&bench_res->acks, 1);
            if (me == 0) {
                wait_acks(acks, bench_res->yield);
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
    /* Idle: readers block; CPU from 100 ms to 100 ms + idle; then a stamped message wakes
     * them. Rounds' latencies go to the first samples of each reader's row. */
    int32_t mine = (int32_t)getpid(), *pids = calloc((size_t)n, sizeof *pids);
    if (!pids) return 1;
    if (tacl_all_gather(w, &mine, pids, 1, TACL_INT32) != TACL_OK) return 1;
    int rounds = bench_res->rounds < ns ? bench_res->rounds : ns;
    for (int round = 0; round < rounds; round++) {
        if (me == 0) {
            usleep(100000);
            uint64_t c0[MAXRANKS] = {0}, t0 = tacl__now_ns();
            for (int r = 1; r < n; r++)
                c0[r] = cpu_ns(pids[r]);
            usleep((useconds_t)bench_res->idle_ms * 1000);
            double el = (double)(tacl__now_ns() - t0);
            for (int r = 1; r < n; r++) {
                double pct = 100.0 * (double)(cpu_ns(pids[r]) - c0[r]) / el;
                if (pct > bench_res->idle_cpu_max) bench_res->idle_cpu_max = pct;
            }
        }
        one(q, me, n, msg, 8, dst, round, &acks, 1);
    }
    if (me == 0) {
        int k = 0;
        for (int r = 1; r < n; r++)
            for (int i = 0; i < rounds; i++)
                us[k++] = (double)lat_of(r)[i] * 1e-3;
        qsort(us, (size_t)k, sizeof *us, cmp_dbl);
        bench_res->wake_p50 = us[k / 2];
        bench_res->wake_max = us[k - 1];
    }
    if (tacl_barrier(w) != TACL_OK) return 1;
    tacl_mq_destroy(q);
    free(msg);
    free(dst);
    free(us);
    free(pids);
    return 0;
}

/* Wake-up floor: nr forked sleepers in FUTEX_WAIT on a shared word; after idle_ms the parent
 * stamps the time, bumps the word and wakes them all; each notes now - stamp. p50 and max over
 * rounds x sleepers, in us; -1 when the processes could not be made. */
typedef struct {
    _Atomic uint32_t word;
    _Atomic int acks;
    uint64_t stamp;
    uint64_t lat[MAXRANKS][64];
} floor_shared_t;

static int futex_floor(int nr, int rounds, int idle_ms, double *p50, double *max)
{
    if (rounds > 64) rounds = 64;
    floor_shared_t *f =
        mmap(NULL, sizeof *f, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (f == MAP_FAILED) return -1;
    memset(f, 0, sizeof *f);
    pid_t pids[MAXRANKS];
    int made = 0;
    for (; made < nr; made++) {
        pids[made] = fork();
        if (pids[made] < 0) break;
        if (pids[made] == 0) {
            for (int i = 0; i < rounds; i++) {
                while (atomic_load(&f->word) == (uint32_t)i)
                    syscall(SYS_futex, &f->word, FUTEX_WAIT, (uint32_t)i, NULL, NULL, 0);
                f->lat[made][i] = tacl__now_ns() - f->stamp;
                atomic_fetch_add(&f->acks, 1);
            }
            _exit(0);
        }
    }
    int ok = made == nr;
    for (int i = 0; ok && i < rounds; i++) {
        usleep((useconds_t)idle_ms * 1000 + 100000);
        f->stamp = tacl__now_ns();
        atomic_store(&f->word, (uint32_t)i + 1);
        syscall(SYS_futex, &f->word, FUTEX_WAKE, MAXRANKS, NULL, NULL, 0);
        uint64_t t0 = tacl__now_ns();
        while (atomic_load(&f->acks) < (i + 1) * nr && ok) {
            sched_yield();
            if (tacl__now_ns() - t0 > 10000000000ull) ok = 0;
        }
    }
    for (int k = 0; k < made; k++) {
        if (!ok) kill(pids[k], SIGKILL);
        waitpid(pids[k], NULL, 0);
    }
    double us[MAXRANKS * 64];
    int k = 0;
    for (int r = 0; ok && r < nr; r++)
        for (int i = 0; i < rounds; i++)
            us[k++] = (double)f->lat[r][i] * 1e-3;
    munmap(f, sizeof *f);
    if (!ok || !k) return -1;
    qsort(us, (size_t)k, sizeof *us, cmp_dbl);
    *p50 = us[k / 2];
    *max = us[k - 1];
    return 0;
}

static const char *size_name(size_t b)
{
    return b == 64 ? "64 B" : b == 1024 ? "1 KiB" : b == 65536 ? "64 KiB" : "1 MiB";
}

static void print_lat(double p50, double p99)
{
    printf("%.2f / %.2f (%.1fx) | ", p50, p99, p50 > 0 ? p99 / p50 : 0.0);
}

int main(int argc, char **argv)
{
    int readers[MAXRANKS] = {1, 3, 7}, nr = 3, samples = 2000, rounds = 5, idle_ms = 1000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-n")) samples = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "-w")) rounds = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "-i")) idle_ms = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "-r")) {
            nr = 0;
            for (char *t = strtok(argv[i + 1], ","); t && nr < MAXRANKS; t = strtok(NULL, ","))
                readers[nr++] = atoi(t);
        }
    }
    if (samples < 100 || rounds < 1 || idle_ms < 0) {
        fprintf(stderr, "mq: -n needs at least 100 samples, -w at least 1 round, -i >= 0\n");
        return 2;
    }
    for (int k = 0; k < nr; k++) {
        if (readers[k] < 1 || readers[k] >= MAXRANKS) {
            fprintf(stderr, "mq: -r takes reader counts from 1 to %d\n", MAXRANKS - 1);
            return 2;
        }
    }
    /* Forked ranks of one run share a token made here when the user set none. */
    char tok[80];
    if (!getenv("TACL_STORE_TOKEN") && !getenv("TACL_STORE_TOKEN_FILE") &&
        tacl__auth_new_token(tok, sizeof tok) == 0)
        setenv("TACL_STORE_TOKEN", tok, 1);
    size_t sz = sizeof *bench_res + (size_t)MAXRANKS * (size_t)samples * sizeof(uint64_t);
    bench_res = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (bench_res == MAP_FAILED) return 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("# tacl_mq, one host, %ld online cores; one-way = writer's enqueue start to the last "
           "reader's dequeue return (p50 / p99 (p99/p50), us); views: zero-copy dequeue + "
           "release; into: dequeue_into (one copy per reader)\n",
           cores);
    printf("| readers | size | one-way, views | one-way, into | stream, views | stream, into |\n");
    printf("|---|---|---|---|---|---|\n");
    for (int k = 0; k < nr; k++) {
        memset(bench_res, 0, sz);
        bench_res->samples = samples;
        bench_res->rounds = rounds;
        bench_res->idle_ms = idle_ms;
        bench_res->yield = readers[k] + 1 > cores;
        mpw_opts_t o = {.timeout_s = 600};
        if (mpw_run(readers[k] + 1, bench_body, NULL, &o) != 0) {
            fprintf(stderr, "run with %d readers failed\n", readers[k]);
            return 1;
        }
        for (int s = 0; s < NSIZES; s++) {
            printf("| %d | %s | ", readers[k], size_name(bench_sizes[s]));
            print_lat(bench_res->p50[0][s], bench_res->p99[0][s]);
            print_lat(bench_res->p50[1][s], bench_res->p99[1][s]);
            if (bench_sizes[s] >= 65536)
                printf("%.2f GB/s | %.2f GB/s |\n", bench_res->gbs_view[s], bench_res->gbs_into[s]);
            else
                printf("%.0f k msg/s | %.2f GB/s |\n", bench_res->mps_view[s] * 1e-3,
                       bench_res->gbs_into[s]);
        }
        printf("| %d | idle | reader CPU from 100 ms to %.1f s after a message: max %.2f%% | "
               "wake-up after %.1f s idle: p50 %.1f us, max %.1f us (%d rounds x %d readers) | | "
               "|\n",
               readers[k], 0.1 + idle_ms * 1e-3, bench_res->idle_cpu_max, 0.1 + idle_ms * 1e-3,
               bench_res->wake_p50, bench_res->wake_max, rounds, readers[k]);
        double fp50, fmax;
        if (futex_floor(readers[k], rounds, idle_ms, &fp50, &fmax) == 0)
            printf("| %d | floor | | bare futex sleepers, wake-up after %.1f s idle: p50 %.1f us, "
                   "max %.1f us (%d rounds x %d) | | |\n",
                   readers[k], 0.1 + idle_ms * 1e-3, fp50, fmax, rounds < 64 ? rounds : 64,
                   readers[k]);
        else
            printf("| %d | floor | | bare futex sleepers: could not be measured | | |\n",
                   readers[k]);
        fflush(stdout);
    }
    return 0;
}
