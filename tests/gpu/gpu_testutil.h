/* gpu_testutil.h — what the GPU tests share: the loaded CUDA runtime (through tacl's own
 * loader), a CUDA_OK check that names the failing call, and host<->device copies of small
 * arrays. A test calls gpu_test_start() first: it exits 77 when this machine has no GPU. */
#ifndef TACL_GPU_TESTUTIL_H
#define TACL_GPU_TESTUTIL_H

#include "check.h"
#include "gpu/cudart.h"

static const tacl__cudart_t *rt;
static const tacl__cudart_lib_t *rt_lib;

#define CUDA_OK(call)                                                                              \
    do {                                                                                           \
        int cuda_e_ = (call);                                                                      \
        if (cuda_e_ != 0) {                                                                        \
            fprintf(stderr, "%s:%d: %s failed: %s (%d)\n", __FILE__, __LINE__, #call,              \
                    tacl__cudart_strerror(rt_lib, cuda_e_), cuda_e_);                              \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Returns the number of GPUs; exits 77 (skip) when there is none. */
static inline int gpu_test_start(void)
{
    char why[512];
    int n = tacl__gpu_count(why, sizeof why);
    if (n <= 0) SKIP("no GPU here: %s", why);
    CHECK_OK(tacl__cudart_get(&rt_lib, NULL));
    rt = &rt_lib->fn;
    return n;
}

static inline void *gpu_alloc(size_t bytes)
{
    void *p = NULL;
    CUDA_OK(rt->Malloc(&p, bytes));
    return p;
}

static inline void gpu_put(void *dev, const void *host, size_t bytes)
{
    CUDA_OK(rt->Memcpy(dev, host, bytes, TACL_CUDA_MEMCPY_H2D));
}

static inline void gpu_get(void *host, const void *dev, size_t bytes)
{
    CUDA_OK(rt->Memcpy(host, dev, bytes, TACL_CUDA_MEMCPY_D2H));
}

#endif
