/* cudart.c — finding and loading the CUDA runtime (see cudart.h for the order). The runtime that
 * is already in the process (PyTorch's) is preferred so that tacl and the host program share
 * one runtime state. */
#include "gpu/cudart.h"
#include "settings.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define RT_SYM(member, name, opt)                                                                  \
    {                                                                                              \
        (void **)&t->member, name, opt                                                             \
    }

static size_t cudart_symbols(tacl__cudart_t *t, gpu_sym_t *syms)
{
    const gpu_sym_t tmpl[] = {
        RT_SYM(GetDeviceCount, "cudaGetDeviceCount", 0),
        RT_SYM(SetDevice, "cudaSetDevice", 0),
        RT_SYM(GetDevice, "cudaGetDevice", 0),
        RT_SYM(Malloc, "cudaMalloc", 0),
        RT_SYM(Free, "cudaFree", 0),
        RT_SYM(Memcpy, "cudaMemcpy", 0),
        RT_SYM(MemcpyAsync, "cudaMemcpyAsync", 0),
        RT_SYM(Memset, "cudaMemset", 0),
        RT_SYM(StreamCreate, "cudaStreamCreate", 0),
        RT_SYM(StreamDestroy, "cudaStreamDestroy", 0),
        RT_SYM(StreamSynchronize, "cudaStreamSynchronize", 0),
        RT_SYM(StreamQuery, "cudaStreamQuery", 0),
        RT_SYM(EventCreate, "cudaEventCreate", 0),
        RT_SYM(EventRecord, "cudaEventRecord", 0),
        RT_SYM(EventElapsedTime, "cudaEventElapsedTime", 0),
        RT_SYM(EventSynchronize, "cudaEventSynchronize", 0),
        RT_SYM(EventDestroy, "cudaEventDestroy", 0),
        RT_SYM(StreamBeginCapture, "cudaStreamBeginCapture", 1),
        RT_SYM(StreamEndCapture, "cudaStreamEndCapture", 1),
        RT_SYM(GraphInstantiateWithFlags, "cudaGraphInstantiateWithFlags", 1),
        RT_SYM(GraphLaunch, "cudaGraphLaunch", 1),
        RT_SYM(GraphExecDestroy, "cudaGraphExecDestroy", 1),
        RT_SYM(GraphDestroy, "cudaGraphDestroy", 1),
        RT_SYM(PointerGetAttributes, "cudaPointerGetAttributes", 0),
        RT_SYM(GetErrorString, "cudaGetErrorString", 0),
        RT_SYM(GetLastError, "cudaGetLastError", 0),
        RT_SYM(RuntimeGetVersion, "cudaRuntimeGetVersion", 0),
        RT_SYM(DriverGetVersion, "cudaDriverGetVersion", 1),
        RT_SYM(DeviceSynchronize, "cudaDeviceSynchronize", 0),
    };
    memcpy(syms, tmpl, sizeof tmpl);
    return sizeof tmpl / sizeof tmpl[0];
}

const char *tacl__cudart_strerror(const tacl__cudart_lib_t *rt, tacl_cudaError_t e)
{
    const char *s = rt && rt->fn.GetErrorString ? rt->fn.GetErrorString(e) : NULL;
    return s ? s : "unknown CUDA error";
}

static int cudart_consider(tacl__cudart_lib_t *lib, gpu_cand_t *c, int *handles_kept)
{
    if (!c) return 0;
    int ok = 0;
    if (c->path[0] && !c->why[0]) {
        tacl__cudart_t t;
        memset(&t, 0, sizeof t);
        gpu_sym_t syms[40];
        size_t n = cudart_symbols(&t, syms);
        void *h = gpu_cand_open(c, syms, n);
        if (h) {
            int v = 0;
            t.RuntimeGetVersion(&v);
            c->version = v;
            ok = 1;
            if (lib->chosen < 0) {
                lib->chosen = (int)(c - lib->cand);
                lib->fn = t;
                lib->version = v;
                (*handles_kept)++;
            } else {
                dlclose(h);
            }
        }
    }
    if (c->loaded)
        TACL_INFO(TACL_SUB_GPU, "CUDA runtime candidate %s: %s: version %d.%d", c->origin, c->path,
                  c->version / 1000, c->version % 1000 / 10);
    else
        TACL_INFO(TACL_SUB_GPU, "CUDA runtime candidate %s: %s: %s", c->origin,
                  c->path[0] ? c->path : "(none found)", c->why);
    return ok;
}

tacl_status_t tacl__cudart_search(int probe_all, tacl__cudart_lib_t *out, tacl__errbuf_t *eb)
{
    tacl__cudart_lib_t lib;
    memset(&lib, 0, sizeof lib);
    lib.chosen = -1;
    int kept = 0;
    const char *expl = tacl__setting_str(TACL_SET_CUDART_SO_PATH);
    if (expl[0]) {
        gpu_cand_t *c =
            gpu_cand_add(lib.cand, &lib.ncand, TACL_GPU_MAX_CANDS, "TACL_CUDART_SO_PATH", expl);
        if (!cudart_consider(&lib, c, &kept))
            TACL_WARN(TACL_SUB_GPU,
                      "TACL_CUDART_SO_PATH=%s could not be loaded (%s); falling back to the "
                      "runtime in this process or the system's",
                      expl, c->why);
    }
    static const char *const mapped_prefixes[] = {"libcudart.so", NULL};
    char path[GPU_PATH_MAX];
    if ((lib.chosen < 0 || probe_all) && gpu_dl_find_mapped(mapped_prefixes, path, sizeof path))
        cudart_consider(
            &lib, gpu_cand_add(lib.cand, &lib.ncand, TACL_GPU_MAX_CANDS, "already mapped", path),
            &kept);
    static const char *const sonames[] = {"libcudart.so.12", "libcudart.so.13", "libcudart.so"};
    for (size_t i = 0; i < 3 && (lib.chosen < 0 || probe_all); i++)
        cudart_consider(
            &lib, gpu_cand_add(lib.cand, &lib.ncand, TACL_GPU_MAX_CANDS, "system", sonames[i]),
            &kept);
    static const char *const rels[] = {"nvidia/cuda_runtime/lib/libcudart.so.12",
                                       "nvidia/cu13/lib/libcudart.so.13"};
    for (size_t i = 0; i < 2 && lib.chosen < 0; i++) {
        char why[GPU_WHY_MAX] = "";
        const char *py = tacl__setting_str(TACL_SET_PYTHON);
        if (gpu_python_find(py, rels[i], path, sizeof path, why, sizeof why)) {
            cudart_consider(&lib,
                            gpu_cand_add(lib.cand, &lib.ncand, TACL_GPU_MAX_CANDS, "pytorch", path),
                            &kept);
        } else {
            gpu_cand_t *c = gpu_cand_add(lib.cand, &lib.ncand, TACL_GPU_MAX_CANDS, "pytorch", "");
            if (c) snprintf(c->why, sizeof c->why, "%s", why);
            cudart_consider(&lib, c, &kept);
        }
    }
    *out = lib;
    if (lib.chosen < 0) {
        char msg[TACL_ERRMSG_MAX];
        size_t o = (size_t)snprintf(msg, sizeof msg, "no CUDA runtime could be loaded; tried:");
        for (int i = 0; i < lib.ncand && o < sizeof msg; i++)
            o += (size_t)snprintf(
                msg + o, sizeof msg - o, "%s %s [%s]: %s", i ? ";" : "", lib.cand[i].origin,
                lib.cand[i].path[0] ? lib.cand[i].path : "none found", lib.cand[i].why);
        return tacl__err(eb, TACL_ERR_UNAVAILABLE, TACL_SUB_GPU, "%s", msg);
    }
    return TACL_OK;
}

static pthread_mutex_t cudart_lock = PTHREAD_MUTEX_INITIALIZER;
static int cudart_done;
static tacl_status_t cudart_status;
static char cudart_errmsg[TACL_ERRMSG_MAX];
static tacl__cudart_lib_t cudart_lib;

tacl_status_t tacl__cudart_get(const tacl__cudart_lib_t **out, tacl__errbuf_t *eb)
{
    pthread_mutex_lock(&cudart_lock);
    if (!cudart_done) {
        tacl__errbuf_t tmp;
        cudart_status = tacl__cudart_search(0, &cudart_lib, &tmp);
        if (cudart_status != TACL_OK) memcpy(cudart_errmsg, tmp.msg, sizeof cudart_errmsg);
        cudart_done = 1;
    }
    tacl_status_t st = cudart_status;
    pthread_mutex_unlock(&cudart_lock);
    if (st != TACL_OK) return tacl__err(eb, st, TACL_SUB_GPU, "%s", cudart_errmsg);
    *out = &cudart_lib;
    return TACL_OK;
}

int tacl__gpu_count(char *why, size_t whylen)
{
    const tacl__cudart_lib_t *rt;
    tacl__errbuf_t eb;
    if (tacl__cudart_get(&rt, &eb) != TACL_OK) {
        snprintf(why, whylen, "%s", eb.msg);
        return 0;
    }
    int n = 0;
    tacl_cudaError_t e = rt->fn.GetDeviceCount(&n);
    if (e != TACL_CUDA_SUCCESS) {
        rt->fn.GetLastError(); /* clear the sticky per-thread error */
        snprintf(why, whylen, "cudaGetDeviceCount failed: %s (error %d)",
                 tacl__cudart_strerror(rt, e), e);
        return 0;
    }
    if (n == 0) snprintf(why, whylen, "the CUDA runtime sees no GPU");
    return n;
}
