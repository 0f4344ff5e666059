/* shm_wait.c — the shared-memory group's waits when two ranks share one CPU: the group is made
 * with two or more CPUs allowed (so its waits spin, TACL_SHM_SPIN_US = 2 ms by default), then
 * both ranks are confined to one CPU. A wait that spun for a rank that cannot run while it spins
 * would cost a spin period (or a scheduler slice) per step: 4000 all_reduce calls would take
 * seconds. Waits that yield to a rank on their own CPU take microseconds per call. Results are
 * checked on every call. Exits 77 where fewer than two CPUs are allowed. */
#include "check.h"
#include "clock.h"
#include "mp_fork.h"
#include "transport/shm/shm_group.h"

#include <sched.h>
#include <unistd.h>

#define CALLS 4000

static int wait_main(mp_ctx_t *ctx, void *arg)
{
    int cpu = *(int *)arg, ranks[2] = {0, 1};
    tacl__errbuf_t eb;
    tacl__shm_group_config_t cfg = {.xchg = &ctx->xchg, .comm_ranks = ranks, .timeout_s = 30.0};
    tacl__shm_group_t *g;
    CHECK_OK(tacl__shm_group_create(&cfg, &g, &eb));
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
    uint64_t seq = 0, t0 = tacl__now_ns();
    for (int i = 0; i < CALLS; i++) {
        float in[2] = {(float)(ctx->rank + i), 1.0f}, out[2] = {0, 0};
        tacl__fp_t fp = {TACL_COLL_ALL_REDUCE, TACL_FLOAT32, TACL_SUM, -1, 2, ++seq};
        CHECK_OK(tacl__shm_all_reduce(g, in, out, 2, TACL_FLOAT32, TACL_SUM, &fp,
                                      tacl__deadline_ns(30), &eb));
        CHECK(out[0] == (float)(2 * i + 1) && out[1] == 2.0f);
    }
    double s = (double)(tacl__now_ns() - t0) * 1e-9;
    printf("rank %d: %d all_reduce calls with both ranks on CPU %d: %.3f s (%.1f us each)\n",
           ctx->rank, CALLS, cpu, s, s * 1e6 / CALLS);
    fflush(stdout);
    tacl__shm_group_destroy(g);
    /* Spinning waits take >= 4000 x 1.5 ms here (2000 calls took 8.5 s); yielding ones < 1 s. */
    CHECK(s < 3.0);
    return 0;
}

int main(void)
{
    if (access("/dev/shm", W_OK) != 0) SKIP("/dev/shm is not writable here");
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    if (CPU_COUNT(&set) < 2) SKIP("fewer than two CPUs allowed: the group would not spin");
    int cpu = 0;
    while (!CPU_ISSET(cpu, &set))
        cpu++;
    mp_result_t res[2];
    CHECK(mp_run(2, wait_main, &cpu, 60.0, res) == 0);
    CHECK(mp_all_ok(res, 2));
    printf("shm wait: ranks sharing a CPU yield to each other\n");
    return 0;
}
