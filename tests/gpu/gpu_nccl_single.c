/* gpu_nccl_single.c — one process drives the NCCL that tacl loaded: ncclCommInitAll over every
 * GPU present and a grouped all-reduce checked for values; then a one-rank device communicator
 * (tacl_dev_comm_create over a single-rank bootstrap) runs every device collective, a CUDA graph
 * captured around an all-reduce is replayed with new inputs, and buffers that are host memory or
 * on another GPU are refused with messages naming them. Exits 77 without a GPU. */
#include "gpu/dev_comm.h"
#include "gpu_testutil.h"

#define N 1024

static void init_all(int ngpu)
{
    const tacl__nccl_lib_t *lib;
    CHECK_OK(tacl__nccl_get(&lib, NULL));
    char v[32];
    tacl__nccl_version_str(lib->version, v, sizeof v);
    printf("NCCL %s from %s (%s); %d GPU(s)\n", v, lib->cand[lib->chosen].file,
           lib->cand[lib->chosen].origin, ngpu);
    ncclComm_t comms[16];
    void *buf[16], *stream[16];
    if (ngpu > 16) ngpu = 16;
    CHECK(lib->fn.CommInitAll(comms, ngpu, NULL) == ncclSuccess);
    float h[N];
    for (int d = 0; d < ngpu; d++) {
        CUDA_OK(rt->SetDevice(d));
        buf[d] = gpu_alloc(N * sizeof(float));
        CUDA_OK(rt->StreamCreate(&stream[d]));
        for (int i = 0; i < N; i++)
            h[i] = (float)(d + 1) * (float)(i % 7 + 1);
        gpu_put(buf[d], h, sizeof h);
    }
    CHECK(lib->fn.GroupStart() == ncclSuccess);
    for (int d = 0; d < ngpu; d++)
        CHECK(lib->fn.AllReduce(buf[d], buf[d], N, ncclFloat32, ncclSum, comms[d], stream[d]) ==
              ncclSuccess);
    CHECK(lib->fn.GroupEnd() == ncclSuccess);
    float sum_d = (float)(ngpu * (ngpu + 1) / 2);
    for (int d = 0; d < ngpu; d++) {
        CUDA_OK(rt->SetDevice(d));
        CUDA_OK(rt->StreamSynchronize(stream[d]));
        gpu_get(h, buf[d], sizeof h);
        for (int i = 0; i < N; i++)
            CHECK(h[i] == sum_d * (float)(i % 7 + 1));
        CUDA_OK(rt->StreamDestroy(stream[d]));
        CUDA_OK(rt->Free(buf[d]));
        lib->fn.CommDestroy(comms[d]);
    }
    CUDA_OK(rt->SetDevice(0));
    printf("ncclCommInitAll over %d GPU(s): all_reduce values correct\n", ngpu);
}

static void one_rank(int ngpu)
{
    tacl__dev_boot_t b = tacl__dev_boot_single(60.0);
    tacl_dev_comm_t *dc = NULL;
    CHECK_OK(tacl__dev_comm_create_boot(&b, 0, &dc));
    CUDA_OK(rt->SetDevice(0));
    void *stream;
    CUDA_OK(rt->StreamCreate(&stream));
    int32_t h[N], g[N];
    for (int i = 0; i < N; i++)
        h[i] = i * 3 - 7;
    int32_t *a = gpu_alloc(sizeof h), *c = gpu_alloc(sizeof h);
    gpu_put(a, h, sizeof h);
    /* With one rank every collective is a copy: check each moved the data. */
    struct {
        const char *name;
        tacl_status_t st;
    } calls[] = {
        {"all_reduce", tacl_dev_all_reduce(dc, a, c, N, TACL_INT32, TACL_SUM, stream)},
        {"reduce", tacl_dev_reduce(dc, a, c, N, TACL_INT32, TACL_MAX, 0, stream)},
        {"broadcast", tacl_dev_broadcast(dc, a, c, N, TACL_INT32, 0, stream)},
        {"all_gather", tacl_dev_all_gather(dc, a, c, N, TACL_INT32, stream)},
        {"reduce_scatter", tacl_dev_reduce_scatter(dc, a, c, N, TACL_INT32, TACL_MIN, stream)},
        {"all_to_all", tacl_dev_all_to_all(dc, a, c, N, TACL_INT32, stream)},
        {"gather", tacl_dev_gather(dc, a, c, N, TACL_INT32, 0, stream)},
        {"scatter", tacl_dev_scatter(dc, a, c, N, TACL_INT32, 0, stream)},
    };
    for (size_t k = 0; k < sizeof calls / sizeof calls[0]; k++) {
        if (calls[k].st != TACL_OK) {
            fprintf(stderr, "%s: %s\n", calls[k].name, tacl_dev_comm_last_error(dc));
            exit(1);
        }
    }
    CHECK_OK(tacl_dev_comm_sync(dc, stream));
    gpu_get(g, c, sizeof g);
    CHECK(!memcmp(g, h, sizeof h));
    /* Self send/recv in a group. */
    CUDA_OK(rt->Memset(c, 0, sizeof h));
    CHECK_OK(tacl_dev_group_start(dc));
    CHECK_OK(tacl_dev_send(dc, a, N, TACL_INT32, 0, stream));
    CHECK_OK(tacl_dev_recv(dc, c, N, TACL_INT32, 0, stream));
    CHECK_OK(tacl_dev_group_end(dc));
    CHECK_OK(tacl_dev_comm_sync(dc, stream));
    gpu_get(g, c, sizeof g);
    CHECK(!memcmp(g, h, sizeof h));

    /* CUDA graph: capture copy(a -> c) + all_reduce(c -> a2); replay after changing a. */
    int32_t *a2 = gpu_alloc(sizeof h);
    if (rt->StreamBeginCapture && rt->GraphInstantiateWithFlags) {
        void *graph = NULL, *exec = NULL;
        CUDA_OK(rt->StreamBeginCapture(stream, TACL_CUDA_CAPTURE_THREAD_LOCAL));
        CUDA_OK(rt->MemcpyAsync(c, a, sizeof h, TACL_CUDA_MEMCPY_D2D, stream));
        CHECK_OK(tacl_dev_all_reduce(dc, c, a2, N, TACL_INT32, TACL_SUM, stream));
        CUDA_OK(rt->StreamEndCapture(stream, &graph));
        CUDA_OK(rt->GraphInstantiateWithFlags(&exec, graph, 0));
        for (int rep = 1; rep <= 3; rep++) {
            for (int i = 0; i < N; i++)
                h[i] = i * rep + 100 * rep;
            gpu_put(a, h, sizeof h);
            CUDA_OK(rt->GraphLaunch(exec, stream));
            CHECK_OK(tacl_dev_comm_sync(dc, stream));
            gpu_get(g, a2, sizeof g);
            CHECK(!memcmp(g, h, sizeof h));
        }
        CUDA_OK(rt->GraphExecDestroy(exec));
        CUDA_OK(rt->GraphDestroy(graph));
        printf("CUDA graph with a tacl_dev_all_reduce replayed 3 times with new inputs: ok\n");
    }

    /* Host memory is refused; so is memory of another GPU. */
    static int32_t host[N];
    CHECK_ST(tacl_dev_all_reduce(dc, host, c, N, TACL_INT32, TACL_SUM, stream), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_dev_comm_last_error(dc), "is host memory");
    /* Counts whose byte size wraps are refused before NCCL sees them. */
    CHECK_ST(tacl_dev_all_reduce(dc, c, c, SIZE_MAX / 2, TACL_FLOAT64, TACL_SUM, stream),
             TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_dev_comm_last_error(dc), "elements of double overflow size_t");
    CHECK_ST(tacl_dev_all_to_all(dc, c, c, SIZE_MAX / 2, TACL_FLOAT32, stream), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_dev_comm_last_error(dc), "overflow size_t");
    CHECK_ST(tacl_dev_send(dc, c, SIZE_MAX / 2, TACL_FLOAT64, 0, stream), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_dev_comm_last_error(dc), "tacl_dev_send: count=");
    if (ngpu >= 2) {
        CUDA_OK(rt->SetDevice(1));
        void *other = gpu_alloc(sizeof h);
        CUDA_OK(rt->SetDevice(0));
        CHECK_ST(tacl_dev_all_reduce(dc, other, c, N, TACL_INT32, TACL_SUM, stream),
                 TACL_ERR_INVALID);
        CHECK_CONTAINS(tacl_dev_comm_last_error(dc),
                       "is on GPU 1 but rank 0's device communicator uses GPU 0");
        CUDA_OK(rt->Free(other));
        printf("buffer on GPU 1 refused: %s\n", tacl_dev_comm_last_error(dc));
    }
    /* Optional features of this NCCL: split off a one-rank communicator and reduce on it in
     * memory from NCCL's allocator. */
    if (dc->nccl->fn.CommSplit && dc->nccl->fn.MemAlloc) {
        tacl_dev_comm_t *sub = NULL;
        CHECK_OK(tacl_dev_comm_split(dc, 0, 0, &sub));
        CHECK(sub && tacl_dev_comm_size(sub) == 1 && tacl_dev_comm_rank(sub) == 0);
        void *m = NULL;
        CHECK_OK(tacl_dev_mem_alloc(sizeof h, &m));
        for (int i = 0; i < N; i++)
            h[i] = 5 * i;
        gpu_put(m, h, sizeof h);
        CHECK_OK(tacl_dev_all_reduce(sub, m, c, N, TACL_INT32, TACL_SUM, stream));
        CHECK_OK(tacl_dev_comm_sync(sub, stream));
        gpu_get(g, c, sizeof g);
        CHECK(!memcmp(g, h, sizeof h));
        CHECK_OK(tacl_dev_mem_free(m));
        tacl_dev_comm_destroy(sub);
        printf("ncclCommSplit and ncclMemAlloc through tacl: ok\n");
    }
    CHECK_OK(tacl_dev_comm_check(dc));
    CUDA_OK(rt->Free(a));
    CUDA_OK(rt->Free(a2));
    CUDA_OK(rt->Free(c));
    CUDA_OK(rt->StreamDestroy(stream));
    tacl_dev_comm_destroy(dc);
    printf("one-rank device communicator: every collective, self send/recv, graph: ok\n");
}

int main(void)
{
    int ngpu = gpu_test_start();
    init_all(ngpu);
    one_rank(ngpu);
    return 0;
}
