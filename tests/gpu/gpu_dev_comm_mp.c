/* gpu_dev_comm_mp.c — device communicators across processes, one rank per GPU, started by
 * `tacl run -n N` (the program re-launches itself under it when ctest starts it directly): every
 * device collective checked against values computed here, a CUDA graph holding an all-reduce
 * replayed, a buffer on another GPU refused with both devices named, a group (host + device
 * pair) with object broadcast, and parallel state (TP/PP groups). Mode "deadpeer": rank 1 exits
 * right after creation and rank 0 must get an error within the timeout instead of hanging.
 * Exits 77 without a GPU. */
#include "gpu_testutil.h"

#include "clock.h"

#include <errno.h>
#include <unistd.h>

#define N 256

static int rank, size, dev;

static void check_collectives(tacl_dev_comm_t *dc, void *stream)
{
    int32_t *a = gpu_alloc(N * 4 * (size_t)size), *c = gpu_alloc(N * 4 * (size_t)size);
    int32_t *h = malloc(N * 4 * (size_t)size), *g = malloc(N * 4 * (size_t)size);
    CHECK(h && g);
    /* all_reduce sum/min/max of v(r, i) = r * 1000 + i. */
    for (int i = 0; i < N; i++)
        h[i] = rank * 1000 + i;
    gpu_put(a, h, N * 4);
    static const tacl_op_t ops[] = {TACL_SUM, TACL_MIN, TACL_MAX};
    for (int k = 0; k < 3; k++) {
        CHECK_OK(tacl_dev_all_reduce(dc, a, c, N, TACL_INT32, ops[k], stream));
        CHECK_OK(tacl_dev_comm_sync(dc, stream));
        gpu_get(g, c, N * 4);
        for (int i = 0; i < N; i++) {
            int32_t want = k == 0   ? 1000 * size * (size - 1) / 2 + size * i
                           : k == 1 ? i
                                    : (size - 1) * 1000 + i;
            CHECK(g[i] == want);
        }
    }
    /* avg on float32. */
    float hf[N], gf[N];
    for (int i = 0; i < N; i++)
        hf[i] = (float)(rank * 2 + i);
    gpu_put(a, hf, sizeof hf);
    CHECK_OK(tacl_dev_all_reduce(dc, a, c, N, TACL_FLOAT32, TACL_AVG, stream));
    CHECK_OK(tacl_dev_comm_sync(dc, stream));
    gpu_get(gf, c, sizeof gf);
    for (int i = 0; i < N; i++)
        CHECK(gf[i] == (float)(size - 1) + (float)i);
    /* broadcast from the last rank, reduce to rank 0. */
    gpu_put(a, h, N * 4);
    CHECK_OK(tacl_dev_broadcast(dc, a, c, N, TACL_INT32, size - 1, stream));
    CHECK_OK(tacl_dev_comm_sync(dc, stream));
    gpu_get(g, c, N * 4);
    for (int i = 0; i < N; i++)
        CHECK(g[i] == (size - 1) * 1000 + i);
    CHECK_OK(tacl_dev_reduce(dc, a, c, N, TACL_INT32, TACL_SUM, 0, stream));
    CHECK_OK(tacl_dev_comm_sync(dc, stream));
    if (rank == 0) {
        gpu_get(g, c, N * 4);
        for (int i = 0; i < N; i++)
            CHECK(g[i] == 1000 * size * (size - 1) / 2 + size * i);
    }
    /* all_gather: block r of the result is rank r's v(r, .). */
    CHECK_OK(tacl_dev_all_gather(dc, a, c, N, TACL_INT32, stream));
    CHECK_OK(tacl_dev_comm_sync(dc, stream));
    gpu_get(g, c, N * 4 * (size_t)size);
    for (int r = 0; r < size; r++)
        for (int i = 0; i < N; i++)
            CHECK(g[r * N + i] == r * 1000 + i);
    /* reduce_scatter: block b of rank q's input is q * 1000 + b * N + i. */
    for (int b = 0; b < size; b++)
        for (int i = 0; i < N; i++)
            h[b * N + i] = rank * 1000 + b * N + i;
    gpu_put(a, h, N * 4 * (size_t)size);
    CHECK_OK(tacl_dev_reduce_scatter(dc, a, c, N, TACL_INT32, TACL_SUM, stream));
    CHECK_OK(tacl_dev_comm_sync(dc, stream));
    gpu_get(g, c, N * 4);
    for (int i = 0; i < N; i++)
        CHECK(g[i] == 1000 * size * (size - 1) / 2 + size * (rank * N + i));
    /* all_to_all: block b of rank q goes to rank b; rank r's block q came from q. */
    CHECK_OK(tacl_dev_all_to_all(dc, a, c, N, TACL_INT32, stream));
    CHECK_OK(tacl_dev_comm_sync(dc, stream));
    gpu_get(g, c, N * 4 * (size_t)size);
    for (int q = 0; q < size; q++)
        for (int i = 0; i < N; i++)
            CHECK(g[q * N + i] == q * 1000 + rank * N + i);
    /* gather to rank 0 of v(r, .), scatter from rank 0 of its blocks. */
    for (int i = 0; i < N; i++)
        h[i] = rank * 1000 + i;
    gpu_put(a, h, N * 4);
    CHECK_OK(tacl_dev_gather(dc, a, c, N, TACL_INT32, 0, stream));
    CHECK_OK(tacl_dev_comm_sync(dc, stream));
    if (rank == 0) {
        gpu_get(g, c, N * 4 * (size_t)size);
        for (int r = 0; r < size; r++)
            for (int i = 0; i < N; i++)
                CHECK(g[r * N + i] == r * 1000 + i);
        for (int b = 0; b < size; b++)
            for (int i = 0; i < N; i++)
                h[b * N + i] = 7 * b + i;
        gpu_put(a, h, N * 4 * (size_t)size);
    }
    CHECK_OK(tacl_dev_scatter(dc, a, c, N, TACL_INT32, 0, stream));
    CHECK_OK(tacl_dev_comm_sync(dc, stream));
    gpu_get(g, c, N * 4);
    for (int i = 0; i < N; i++)
        CHECK(g[i] == 7 * rank + i);
    /* Ring send/recv in a group. */
    for (int i = 0; i < N; i++)
        h[i] = rank * 1000 + i;
    gpu_put(a, h, N * 4);
    CHECK_OK(tacl_dev_group_start(dc));
    CHECK_OK(tacl_dev_send(dc, a, N, TACL_INT32, (rank + 1) % size, stream));
    CHECK_OK(tacl_dev_recv(dc, c, N, TACL_INT32, (rank + size - 1) % size, stream));
    CHECK_OK(tacl_dev_group_end(dc));
    CHECK_OK(tacl_dev_comm_sync(dc, stream));
    gpu_get(g, c, N * 4);
    for (int i = 0; i < N; i++)
        CHECK(g[i] == ((rank + size - 1) % size) * 1000 + i);
    /* CUDA graph: an in-place all-reduce sum of x_r = r + 1, replayed 3 times, gives
     * size^2 * size * (size + 1) / 2. */
    if (rt->StreamBeginCapture && rt->GraphInstantiateWithFlags) {
        for (int i = 0; i < N; i++)
            hf[i] = (float)(rank + 1);
        gpu_put(a, hf, sizeof hf);
        void *graph = NULL, *exec = NULL;
        CUDA_OK(rt->StreamBeginCapture(stream, TACL_CUDA_CAPTURE_THREAD_LOCAL));
        CHECK_OK(tacl_dev_all_reduce(dc, a, a, N, TACL_FLOAT32, TACL_SUM, stream));
        CUDA_OK(rt->StreamEndCapture(stream, &graph));
        CUDA_OK(rt->GraphInstantiateWithFlags(&exec, graph, 0));
        for (int rep = 0; rep < 3; rep++)
            CUDA_OK(rt->GraphLaunch(exec, stream));
        CHECK_OK(tacl_dev_comm_sync(dc, stream));
        gpu_get(gf, a, sizeof gf);
        float want = (float)size * (float)size * (float)(size * (size + 1) / 2);
        for (int i = 0; i < N; i++)
            CHECK(gf[i] == want);
        CUDA_OK(rt->GraphExecDestroy(exec));
        CUDA_OK(rt->GraphDestroy(graph));
    }
    CUDA_OK(rt->Free(a));
    CUDA_OK(rt->Free(c));
    free(h);
    free(g);
}

static void check_wrong_device(tacl_dev_comm_t *dc, int ngpu, void *stream)
{
    int other = (dev + 1) % ngpu;
    if (other == dev) return;
    CUDA_OK(rt->SetDevice(other));
    void *p = gpu_alloc(N * 4);
    CUDA_OK(rt->SetDevice(dev));
    void *q = gpu_alloc(N * 4);
    CHECK_ST(tacl_dev_all_reduce(dc, p, q, N, TACL_INT32, TACL_SUM, stream), TACL_ERR_INVALID);
    char want[160];
    snprintf(want, sizeof want, "is on GPU %d but rank %d's device communicator uses GPU %d", other,
             rank, dev);
    CHECK_CONTAINS(tacl_dev_comm_last_error(dc), want);
    CUDA_OK(rt->Free(p));
    CUDA_OK(rt->Free(q));
}

static void check_groups(tacl_comm_t *world, void *stream)
{
    tacl_group_t *g = NULL;
    CHECK_OK(tacl_group_create(world, 0, dev, &g));
    char msg[64];
    snprintf(msg, sizeof msg, "metadata from rank 0 of %d", size);
    void *obj = NULL;
    size_t len = 0;
    CHECK_OK(tacl_group_broadcast_obj(g, rank == 0 ? msg : NULL, rank == 0 ? strlen(msg) : 0, 0,
                                      &obj, &len));
    CHECK(len == strlen(msg) && !memcmp(obj, msg, len));
    tacl_free(obj);
    CHECK_OK(tacl_group_barrier(g));
    tacl_group_destroy(g);
    if (size % 2 != 0) return;
    /* TP = 2, PP = size / 2: the TP all-reduce sums the two ranks of the pair. */
    tacl_par_sizes_t sz = {2, size / 2, 1, 1};
    tacl_parallel_t *p = NULL;
    CHECK_OK(tacl_parallel_create(world, &sz, dev, &p));
    tacl_group_t *tp = tacl_parallel_group(p, TACL_PAR_TP);
    CHECK(tacl_group_size(tp) == 2 && tacl_group_rank(tp) == rank % 2);
    int32_t h[N], gh[N];
    for (int i = 0; i < N; i++)
        h[i] = rank + i;
    int32_t *a = gpu_alloc(sizeof h);
    gpu_put(a, h, sizeof h);
    CHECK_OK(tacl_group_all_reduce(tp, a, a, N, TACL_INT32, TACL_SUM, stream));
    CHECK_OK(tacl_dev_comm_sync(tacl_group_dev(tp), stream));
    gpu_get(gh, a, sizeof gh);
    int base = rank - rank % 2;
    for (int i = 0; i < N; i++)
        CHECK(gh[i] == base + (base + 1) + 2 * i);
    CUDA_OK(rt->Free(a));
    tacl_parallel_destroy(p);
}

static int relaunch(int ngpu, const char *self, const char *mode)
{
    const char *cli = getenv("TACL_CLI");
    if (!cli) SKIP("TACL_CLI is not set (run through ctest)");
    int n = ngpu < 4 ? ngpu : 4;
    if (!strcmp(mode, "deadpeer") && ngpu < 2) SKIP("the dead-peer check needs 2 GPUs");
    if (!strcmp(mode, "deadpeer")) n = 2;
    char ns[16];
    snprintf(ns, sizeof ns, "%d", n);
    fflush(NULL);
    execl(cli, cli, "run", "-n", ns, "--", self, mode, (char *)NULL);
    fprintf(stderr, "could not run %s: %s\n", cli, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "all";
    int ngpu = gpu_test_start();
    if (!getenv("TACL_RANK")) return relaunch(ngpu, argv[0], mode);
    tacl_comm_t *world = NULL;
    CHECK_OK(tacl_init(&world));
    rank = tacl_comm_rank(world);
    size = tacl_comm_size(world);
    dev = tacl_comm_local_rank(world) % ngpu;
    CUDA_OK(rt->SetDevice(dev));
    tacl_dev_comm_t *dc = NULL;
    CHECK_OK(tacl_dev_comm_create(world, dev, &dc));
    void *stream;
    CUDA_OK(rt->StreamCreate(&stream));
    if (!strcmp(mode, "deadpeer")) {
        if (rank == 1) _exit(0); /* gone without a word */
        tacl_dev_comm_set_timeout(dc, 10.0);
        void *a = gpu_alloc(N * 4);
        double t0 = tacl__now_s();
        tacl_status_t st = tacl_dev_all_reduce(dc, a, a, N, TACL_INT32, TACL_SUM, stream);
        if (st == TACL_OK) st = tacl_dev_comm_sync(dc, stream);
        double took = tacl__now_s() - t0;
        printf("rank 0: all_reduce with a dead peer -> %s after %.1f s: %s\n", tacl_status_name(st),
               took, tacl_dev_comm_last_error(dc));
        CHECK(st == TACL_ERR_TIMEOUT || st == TACL_ERR_PEER_LOST);
        CHECK(took < 30.0);
        tacl_dev_comm_destroy(dc);
        return 0;
    }
    check_collectives(dc, stream);
    check_wrong_device(dc, ngpu, stream);
    CHECK_OK(tacl_dev_comm_check(dc));
    CUDA_OK(rt->StreamDestroy(stream));
    tacl_dev_comm_destroy(dc);
    CUDA_OK(rt->StreamCreate(&stream));
    check_groups(world, stream);
    CUDA_OK(rt->StreamDestroy(stream));
    tacl_comm_destroy(world);
    if (rank == 0) printf("%d ranks: device collectives, graph, groups: ok\n", size);
    return 0;
}
