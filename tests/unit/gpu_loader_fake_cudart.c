/* gpu_loader_fake_cudart.c — a stand-in CUDA runtime for tests on machines without GPUs: "device
 * memory" is host memory, streams complete at once, the device count comes from FAKE_CUDA_NDEV
 * (default 1), and cudaPointerGetAttributes answers what the test set with fake_cuda_set_attr
 * (memory type and device), so the device communicator's buffer checks can be exercised. With
 * FAKE_CUDA_STREAM_STUCK set, streams never complete (cudaStreamQuery: cudaErrorNotReady). */
#include <stdlib.h>
#include <string.h>

typedef struct {
    int type, device;
    void *dptr, *hptr;
} fake_attr_t;

static int fake_type = 2, fake_device; /* cudaMemoryTypeDevice on GPU 0 */
static int fake_cur_device;

void fake_cuda_set_attr(int type, int device)
{
    fake_type = type;
    fake_device = device;
}

int cudaGetDeviceCount(int *n)
{
    const char *e = getenv("FAKE_CUDA_NDEV");
    *n = e ? atoi(e) : 1;
    return 0;
}
int cudaSetDevice(int d)
{
    fake_cur_device = d;
    return 0;
}
int cudaGetDevice(int *d)
{
    *d = fake_cur_device;
    return 0;
}
int cudaMalloc(void **p, size_t n)
{
    *p = malloc(n ? n : 1);
    return *p ? 0 : 2;
}
int cudaFree(void *p)
{
    free(p);
    return 0;
}
int cudaMemcpy(void *d, const void *s, size_t n, int kind)
{
    (void)kind;
    memmove(d, s, n);
    return 0;
}
int cudaMemcpyAsync(void *d, const void *s, size_t n, int kind, void *st)
{
    (void)kind, (void)st;
    memmove(d, s, n);
    return 0;
}
int cudaMemset(void *p, int v, size_t n)
{
    memset(p, v, n);
    return 0;
}
int cudaStreamCreate(void **s)
{
    *s = malloc(1);
    return 0;
}
int cudaStreamDestroy(void *s)
{
    free(s);
    return 0;
}
int cudaPointerGetAttributes(fake_attr_t *a, const void *p)
{
    a->type = fake_type;
    a->device = fake_device;
    a->dptr = a->hptr = (void *)p;
    return 0;
}
int cudaStreamQuery(void *s)
{
    (void)s;
    return getenv("FAKE_CUDA_STREAM_STUCK") ? 600 : 0;
}
const char *cudaGetErrorString(int e)
{
    return e ? "fake CUDA error" : "no error";
}
int cudaRuntimeGetVersion(int *v)
{
    *v = 12080;
    return 0;
}

#define FAKE_STUB(name)                                                                            \
    int name(void)                                                                                 \
    {                                                                                              \
        return 0;                                                                                  \
    }
FAKE_STUB(cudaStreamSynchronize)
FAKE_STUB(cudaEventCreate)
FAKE_STUB(cudaEventRecord)
FAKE_STUB(cudaEventElapsedTime)
FAKE_STUB(cudaEventSynchronize)
FAKE_STUB(cudaEventDestroy)
FAKE_STUB(cudaGetLastError)
FAKE_STUB(cudaDeviceSynchronize)
