/* bench_hog.c — the CPU hog of bench_hog.h. */
#include "bench_hog.h"

#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void hog_loop(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0); /* the benchmark already died */
    volatile unsigned long spin = 0;
    for (;;)
        spin++;
}

int bench_hog_start(bench_hog_t *h)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    pid_t parent = getpid();
    h->n = 0;
    if (cores < 1) cores = 1;
    if (cores > BENCH_HOG_MAX) cores = BENCH_HOG_MAX;
    fflush(NULL);
    for (long i = 0; i < cores; i++) {
        pid_t p = fork();
        if (p < 0) {
            perror("bench hog: fork");
            bench_hog_stop(h);
            return -1;
        }
        if (p == 0) hog_loop(parent);
        h->pids[h->n++] = p;
    }
    return 0;
}

void bench_hog_stop(bench_hog_t *h)
{
    for (int i = 0; i < h->n; i++)
        kill(h->pids[i], SIGKILL);
    for (int i = 0; i < h->n; i++)
        waitpid(h->pids[i], NULL, 0);
    h->n = 0;
}
