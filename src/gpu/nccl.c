/* nccl.c — which NCCL tacl uses, found at run time: TACL_NCCL_SO_PATH, then PyTorch's (an NCCL
 * already mapped into this process, else nvidia/nccl/lib/libnccl.so.2 under the site-packages
 * of TACL_PYTHON) unless TACL_USE_PYTORCH_NCCL=0, then the system's libnccl.so.2, then RCCL.
 * Every candidate is recorded and logged with its version or the reason it was refused; the
 * process-wide choice is made once under a lock. */
#include "gpu/nccl.h"
#include "settings.h"

#include "clock.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NCCL_SYM(member, name, opt)                                                                \
    {                                                                                              \
        (void **)&t->member, name, opt                                                             \
    }

static void nccl_symbols(tacl__nccl_t *t, gpu_sym_t *syms, size_t *n)
{
    const gpu_sym_t tmpl[] = {
        NCCL_SYM(GetVersion, "ncclGetVersion", 0),
        NCCL_SYM(GetUniqueId, "ncclGetUniqueId", 0),
        NCCL_SYM(CommInitRank, "ncclCommInitRank", 0),
        NCCL_SYM(CommInitAll, "ncclCommInitAll", 0),
        NCCL_SYM(CommDestroy, "ncclCommDestroy", 0),
        NCCL_SYM(CommCount, "ncclCommCount", 0),
        NCCL_SYM(CommCuDevice, "ncclCommCuDevice", 0),
        NCCL_SYM(CommUserRank, "ncclCommUserRank", 0),
        NCCL_SYM(GetErrorString, "ncclGetErrorString", 0),
        NCCL_SYM(AllReduce, "ncclAllReduce", 0),
        NCCL_SYM(Reduce, "ncclReduce", 0),
        NCCL_SYM(Broadcast, "ncclBroadcast", 0),
        NCCL_SYM(AllGather, "ncclAllGather", 0),
        NCCL_SYM(ReduceScatter, "ncclReduceScatter", 0),
        NCCL_SYM(Send, "ncclSend", 0),
        NCCL_SYM(Recv, "ncclRecv", 0),
        NCCL_SYM(GroupStart, "ncclGroupStart", 0),
        NCCL_SYM(GroupEnd, "ncclGroupEnd", 0),
        NCCL_SYM(CommInitRankConfig, "ncclCommInitRankConfig", 1),
        NCCL_SYM(CommAbort, "ncclCommAbort", 1),
        NCCL_SYM(CommFinalize, "ncclCommFinalize", 1),
        NCCL_SYM(CommGetAsyncError, "ncclCommGetAsyncError", 1),
        NCCL_SYM(CommSplit, "ncclCommSplit", 1),
        NCCL_SYM(CommRegister, "ncclCommRegister", 1),
        NCCL_SYM(CommDeregister, "ncclCommDeregister", 1),
        NCCL_SYM(MemAlloc, "ncclMemAlloc", 1),
        NCCL_SYM(MemFree, "ncclMemFree", 1),
        NCCL_SYM(CommWindowRegister, "ncclCommWindowRegister", 1),
        NCCL_SYM(CommWindowDeregister, "ncclCommWindowDeregister", 1),
        NCCL_SYM(GetLastError, "ncclGetLastError", 1),
    };
    *n = sizeof tmpl / sizeof tmpl[0];
    memcpy(syms, tmpl, sizeof tmpl);
}

void tacl__nccl_version_str(int code, char *buf, size_t len)
{
    if (code >= 10000)
        snprintf(buf, len, "%d.%d.%d", code / 10000, code / 100 % 100, code % 100);
    else if (code > 0)
        snprintf(buf, len, "%d.%d.%d", code / 1000, code / 100 % 10, code % 100);
    else
        snprintf(buf, len, "?");
}

const char *tacl__nccl_strerror(const tacl__nccl_lib_t *lib, ncclResult_t r)
{
    if (lib && lib->fn.GetErrorString) {
        const char *s = lib->fn.GetErrorString(r);
        if (s) return s;
    }
    switch (r) {
    case ncclSuccess:
        return "no error";
    case ncclUnhandledCudaError:
        return "unhandled cuda error";
    case ncclSystemError:
        return "unhandled system error";
    case ncclInternalError:
        return "internal error";
    case ncclInvalidArgument:
        return "invalid argument";
    case ncclInvalidUsage:
        return "invalid usage";
    case ncclRemoteError:
        return "remote process exited or there was a network error";
    case ncclInProgress:
        return "NCCL operation in progress";
    default:
        return "unknown result code";
    }
}

/* Tries one file: open, resolve, ask the version. Fills c; on success leaves handle and table in
 * *h / *t. */
static int nccl_try_in(gpu_cand_t *c, int fresh, void **h, tacl__nccl_t *t)
{
    gpu_sym_t syms[40];
    size_t n;
    tacl__nccl_t tmp;
    memset(&tmp, 0, sizeof tmp);
    nccl_symbols(&tmp, syms, &n);
    void *handle = fresh ? gpu_cand_open_fresh(c, syms, n) : gpu_cand_open(c, syms, n);
    if (!handle) return 0;
    int v = 0;
    ncclResult_t r = tmp.GetVersion(&v);
    if (r != ncclSuccess || v <= 0) {
        snprintf(c->why, sizeof c->why, "ncclGetVersion failed (result %d)", (int)r);
        c->loaded = 0;
        dlclose(handle);
        return 0;
    }
    c->version = v;
    c->loaded = 1;
    c->why[0] = '\0';
    *h = handle;
    *t = tmp;
    return 1;
}

static int nccl_try(gpu_cand_t *c, void **h, tacl__nccl_t *t)
{
    return nccl_try_in(c, 0, h, t);
}

static gpu_cand_t *nccl_add(tacl__nccl_lib_t *lib, const char *origin, const char *path)
{
    if (lib->ncand >= TACL_NCCL_MAX_CANDS) return NULL;
    gpu_cand_t *c = &lib->cand[lib->ncand++];
    memset(c, 0, sizeof *c);
    snprintf(c->origin, sizeof c->origin, "%s", origin);
    snprintf(c->path, sizeof c->path, "%s", path ? path : "");
    return c;
}

static void nccl_log_cand(const gpu_cand_t *c)
{
    char v[32];
    tacl__nccl_version_str(c->version, v, sizeof v);
    if (c->loaded)
        TACL_INFO(TACL_SUB_GPU, "NCCL candidate %s: %s: version %s", c->origin, c->path, v);
    else
        TACL_INFO(TACL_SUB_GPU, "NCCL candidate %s: %s: %s", c->origin,
                  c->path[0] ? c->path : "(none found)", c->why);
}

/* Evaluates c in a child process, so that probing one candidate cannot change what the next
 * one resolves to, and in a fresh link-map namespace there: a soname such as libnccl.so.2
 * would otherwise name whatever object of that soname is already loaded (PyTorch's, or the
 * candidate chosen before), and the system's NCCL would be reported as PyTorch's. */
static void nccl_probe_isolated(gpu_cand_t *c)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(c->why, sizeof c->why, "probe: pipe: %s", strerror(errno));
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(c->why, sizeof c->why, "probe: fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        void *h = NULL;
        tacl__nccl_t t;
        nccl_try_in(c, 1, &h, &t);
        ssize_t w = write(fds[1], c, sizeof *c);
        _exit(w == (ssize_t)sizeof *c ? 0 : 1);
    }
    close(fds[1]);
    gpu_cand_t got;
    memset(&got, 0, sizeof got);
    size_t n = 0;
    uint64_t deadline = tacl__deadline_ns(10.0);
    while (n < sizeof got) {
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int r = poll(&pfd, 1, tacl__ms_left(deadline));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        ssize_t k = read(fds[0], (char *)&got + n, sizeof got - n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        n += (size_t)k;
    }
    close(fds[0]);
    if (n < sizeof got) kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    if (n == sizeof got)
        *c = got;
    else
        snprintf(c->why, sizeof c->why, "probe process %s",
                 n ? "answered partly" : "crashed or hung");
}

/* Evaluates candidate c (already filled with origin/path, possibly with a why and no path when
 * nothing was found) and keeps it when it is the first to load. Returns 1 when it loaded. With
 * probe_all every candidate is evaluated in a child process first and only the chosen one is
 * loaded here. */
static int nccl_consider(tacl__nccl_lib_t *lib, gpu_cand_t *c, int probe_all)
{
    if (!c) return 0;
    int ok = 0;
    if (probe_all && c->path[0] && !c->why[0]) {
        nccl_probe_isolated(c);
        ok = c->loaded;
        if (ok && lib->chosen < 0) {
            void *h = NULL;
            tacl__nccl_t t;
            gpu_cand_t real = *c;
            real.loaded = 0;
            if (nccl_try(&real, &h, &t)) {
                *c = real;
                lib->chosen = (int)(c - lib->cand);
                lib->handle = h;
                lib->fn = t;
                lib->version = c->version;
            }
        }
    } else if (c->path[0] && !c->why[0]) {
        void *h = NULL;
        tacl__nccl_t t;
        ok = nccl_try(c, &h, &t);
        if (ok && lib->chosen < 0) {
            lib->chosen = (int)(c - lib->cand);
            lib->handle = h;
            lib->fn = t;
            lib->version = c->version;
        } else if (ok) {
            dlclose(h); /* probing only: another candidate is already in use */
        }
    }
    nccl_log_cand(c);
    return ok;
}

static const char *const nccl_default_system[] = {"libnccl.so.2", "librccl.so.1", NULL};
static const char *const nccl_mapped_prefixes[] = {"libnccl.so", "librccl.so", NULL};

tacl_status_t tacl__nccl_search(const tacl__nccl_search_t *s, int probe_all, tacl__nccl_lib_t *out,
                                tacl__errbuf_t *eb)
{
    tacl__nccl_lib_t lib;
    memset(&lib, 0, sizeof lib);
    lib.chosen = -1;
    const char *mode = s->use_pytorch && s->use_pytorch[0] ? s->use_pytorch : "auto";
    if (strcmp(mode, "auto") && strcmp(mode, "0") && strcmp(mode, "1")) {
        TACL_WARN(TACL_SUB_GPU, "TACL_USE_PYTORCH_NCCL=%s is not auto, 1 or 0; using auto", mode);
        mode = "auto";
    }
    const char *python = s->python && s->python[0] ? s->python : "python3";
    /* Looked for before this search loads anything, so that only an NCCL the host program
     * mapped counts as PyTorch's. */
    char mapped[GPU_PATH_MAX];
    int have_mapped = gpu_dl_find_mapped(nccl_mapped_prefixes, mapped, sizeof mapped);

    /* 1. The explicit file. */
    if (s->explicit_path && s->explicit_path[0]) {
        gpu_cand_t *c = nccl_add(&lib, "TACL_NCCL_SO_PATH", s->explicit_path);
        if (!nccl_consider(&lib, c, probe_all))
            TACL_WARN(
                TACL_SUB_GPU, "TACL_NCCL_SO_PATH=%s could not be loaded (%s); falling back to %s",
                s->explicit_path, c->why,
                strcmp(mode, "0") ? "PyTorch's NCCL, then the system's" : "the system's NCCL");
    }

    /* 2. PyTorch's: the one already in this process, else the one in site-packages. */
    if (!strcmp(mode, "0")) {
        gpu_cand_t *c = nccl_add(&lib, "pytorch", "");
        if (c) snprintf(c->why, sizeof c->why, "skipped: TACL_USE_PYTORCH_NCCL=0");
        if (c) nccl_log_cand(c);
    } else if (lib.chosen < 0 || probe_all) {
        char path[GPU_PATH_MAX];
        gpu_cand_t *c;
        if (have_mapped) {
            c = nccl_add(&lib, "pytorch (already mapped)", mapped);
        } else {
            char why[GPU_WHY_MAX] = "";
            char origin[48];
            snprintf(origin, sizeof origin, "pytorch (site-packages)");
            if (gpu_python_find(python, "nvidia/nccl/lib/libnccl.so.2", path, sizeof path, why,
                                sizeof why)) {
                c = nccl_add(&lib, origin, path);
            } else {
                c = nccl_add(&lib, origin, "");
                if (c) snprintf(c->why, sizeof c->why, "%s", why);
            }
        }
        int ok = nccl_consider(&lib, c, probe_all);
        if (!ok && !strcmp(mode, "1") && c)
            TACL_WARN(TACL_SUB_GPU,
                      "TACL_USE_PYTORCH_NCCL=1 but PyTorch's NCCL could not be loaded (%s%s%s); "
                      "falling back to the system's NCCL",
                      c->path[0] ? c->path : "", c->path[0] ? ": " : "", c->why);
    }

    /* 3. The system's NCCL, then RCCL, through the dynamic linker's search path. */
    const char *const *names = s->system_names ? s->system_names : nccl_default_system;
    for (const char *const *n = names; *n; n++) {
        if (lib.chosen >= 0 && !probe_all) break;
        nccl_consider(&lib, nccl_add(&lib, strstr(*n, "rccl") ? "rccl" : "system", *n), probe_all);
    }

    if (lib.chosen < 0) {
        char msg[TACL_ERRMSG_MAX];
        size_t o = (size_t)snprintf(msg, sizeof msg, "no NCCL could be loaded; tried:");
        for (int i = 0; i < lib.ncand && o < sizeof msg; i++)
            o += (size_t)snprintf(
                msg + o, sizeof msg - o, "%s %s [%s]: %s", i ? ";" : "", lib.cand[i].origin,
                lib.cand[i].path[0] ? lib.cand[i].path : "none found", lib.cand[i].why);
        *out = lib;
        return tacl__err(eb, TACL_ERR_UNAVAILABLE, TACL_SUB_GPU, "%s", msg);
    }
    char v[32];
    tacl__nccl_version_str(lib.version, v, sizeof v);
    TACL_INFO(TACL_SUB_GPU, "using NCCL %s from %s (%s)", v, lib.cand[lib.chosen].path,
              lib.cand[lib.chosen].origin);
    *out = lib;
    return TACL_OK;
}

static pthread_mutex_t nccl_lock = PTHREAD_MUTEX_INITIALIZER;
static int nccl_done;
static tacl_status_t nccl_status;
static char nccl_errmsg[TACL_ERRMSG_MAX];
static tacl__nccl_lib_t nccl_lib;

tacl_status_t tacl__nccl_get(const tacl__nccl_lib_t **out, tacl__errbuf_t *eb)
{
    pthread_mutex_lock(&nccl_lock);
    if (!nccl_done) {
        tacl__nccl_search_t s = {
            .explicit_path = tacl__setting_str(TACL_SET_NCCL_SO_PATH),
            .use_pytorch = tacl__setting_str(TACL_SET_USE_PYTORCH_NCCL),
            .python = tacl__setting_str(TACL_SET_PYTHON),
            .system_names = NULL,
        };
        tacl__errbuf_t tmp;
        nccl_status = tacl__nccl_search(&s, 0, &nccl_lib, &tmp);
        if (nccl_status != TACL_OK) memcpy(nccl_errmsg, tmp.msg, sizeof nccl_errmsg);
        nccl_done = 1;
    }
    tacl_status_t st = nccl_status;
    pthread_mutex_unlock(&nccl_lock);
    if (st != TACL_OK) return tacl__err(eb, st, TACL_SUB_GPU, "%s", nccl_errmsg);
    *out = &nccl_lib;
    return TACL_OK;
}
