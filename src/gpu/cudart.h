/* cudart.h — tacl's own declaration of the CUDA runtime functions it uses (no CUDA header needed
 * to build) and the loader that finds libcudart at run time: TACL_CUDART_SO_PATH, a runtime
 * already mapped into this process, libcudart.so.12 / .so.13 / libcudart.so, then the one in
 * PyTorch's site-packages (nvidia/cuda_runtime/lib, nvidia/cu13/lib). */
#ifndef TACL_GPU_CUDART_H
#define TACL_GPU_CUDART_H

#include "err.h"
#include "gpu/gpu_dl.h"

typedef int tacl_cudaError_t; /* cudaSuccess = 0 */
#define TACL_CUDA_SUCCESS         0
#define TACL_CUDA_ERROR_NOT_READY 600

enum { TACL_CUDA_MEMCPY_H2D = 1, TACL_CUDA_MEMCPY_D2H = 2, TACL_CUDA_MEMCPY_D2D = 3 };
enum {
    TACL_CUDA_MEM_UNREGISTERED = 0,
    TACL_CUDA_MEM_HOST,
    TACL_CUDA_MEM_DEVICE,
    TACL_CUDA_MEM_MANAGED
};
enum {
    TACL_CUDA_CAPTURE_GLOBAL = 0,
    TACL_CUDA_CAPTURE_THREAD_LOCAL = 1,
    TACL_CUDA_CAPTURE_RELAXED = 2
};

/* struct cudaPointerAttributes as of CUDA 11 and later; CUDA 12.x/13 added `long reserved[8]`,
 * which the runtime writes too, so the struct carries more than enough room after the fields. */
typedef struct {
    int type; /* TACL_CUDA_MEM_* */
    int device;
    void *devicePointer;
    void *hostPointer;
    long reserved[32];
} tacl_cudaPointerAttributes_t;

typedef struct {
    tacl_cudaError_t (*GetDeviceCount)(int *n);
    tacl_cudaError_t (*SetDevice)(int dev);
    tacl_cudaError_t (*GetDevice)(int *dev);
    tacl_cudaError_t (*Malloc)(void **p, size_t n);
    tacl_cudaError_t (*Free)(void *p);
    tacl_cudaError_t (*Memcpy)(void *dst, const void *src, size_t n, int kind);
    tacl_cudaError_t (*MemcpyAsync)(void *dst, const void *src, size_t n, int kind, void *stream);
    tacl_cudaError_t (*Memset)(void *p, int v, size_t n);
    tacl_cudaError_t (*StreamCreate)(void **stream);
    tacl_cudaError_t (*StreamDestroy)(void *stream);
    tacl_cudaError_t (*StreamSynchronize)(void *stream);
    tacl_cudaError_t (*StreamQuery)(void *stream);
    tacl_cudaError_t (*EventCreate)(void **ev);
    tacl_cudaError_t (*EventRecord)(void *ev, void *stream);
    tacl_cudaError_t (*EventElapsedTime)(float *ms, void *start, void *end);
    tacl_cudaError_t (*EventSynchronize)(void *ev);
    tacl_cudaError_t (*EventDestroy)(void *ev);
    tacl_cudaError_t (*StreamBeginCapture)(void *stream, int mode);
    tacl_cudaError_t (*StreamEndCapture)(void *stream, void **graph);
    tacl_cudaError_t (*GraphInstantiateWithFlags)(void **exec, void *graph,
                                                  unsigned long long flags);
    tacl_cudaError_t (*GraphLaunch)(void *exec, void *stream);
    tacl_cudaError_t (*GraphExecDestroy)(void *exec);
    tacl_cudaError_t (*GraphDestroy)(void *graph);
    tacl_cudaError_t (*PointerGetAttributes)(tacl_cudaPointerAttributes_t *a, const void *p);
    const char *(*GetErrorString)(tacl_cudaError_t e);
    tacl_cudaError_t (*GetLastError)(void);
    tacl_cudaError_t (*RuntimeGetVersion)(int *v);
    tacl_cudaError_t (*DriverGetVersion)(int *v);
    tacl_cudaError_t (*DeviceSynchronize)(void);
} tacl__cudart_t;

#define TACL_GPU_MAX_CANDS 8

typedef struct {
    gpu_cand_t cand[TACL_GPU_MAX_CANDS];
    int ncand;
    int chosen; /* index into cand, -1: none */
    tacl__cudart_t fn;
    int version; /* cudaRuntimeGetVersion: 12080, 13000 */
} tacl__cudart_lib_t;

/* Searches as described above, logging each candidate (INFO, gpu). TACL_ERR_UNAVAILABLE naming
 * every path tried when none loads; out->cand describes them either way. */
tacl_status_t tacl__cudart_search(int probe_all, tacl__cudart_lib_t *out, tacl__errbuf_t *eb);
/* The process-wide runtime, loaded once under a lock. */
tacl_status_t tacl__cudart_get(const tacl__cudart_lib_t **out, tacl__errbuf_t *eb);
/* The runtime's message for e ("invalid argument"); never NULL. */
const char *tacl__cudart_strerror(const tacl__cudart_lib_t *rt, tacl_cudaError_t e);
/* Number of GPUs the runtime sees: 0 (with the reason in why) when there is no runtime or no
 * driver or no device. */
int tacl__gpu_count(char *why, size_t whylen);

#endif
