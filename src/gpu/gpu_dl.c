/* gpu_dl.c — shared machinery of the GPU-library loaders: dlopen with a symbol table, the search
 * for a library already mapped into the process, and the bounded-time question to a Python
 * interpreter about its site-packages (no torch import: only `site` and `sys`). */
#include "gpu/gpu_dl.h"
#include "clock.h"
#include "log.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ASan's runtime must be the first object of every namespace: in a new one (dlmopen) it is not,
 * and it ends the process instead of failing the call. */
#if defined(__SANITIZE_ADDRESS__)
#define GPU_DL_NEW_NAMESPACE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GPU_DL_NEW_NAMESPACE 0
#endif
#endif
#ifndef GPU_DL_NEW_NAMESPACE
#define GPU_DL_NEW_NAMESPACE 1
#endif

/* fresh: in a new link-map namespace (dlmopen), where a soname resolves through the linker's
 * search path even when an object of that soname is already loaded in this process (not in an
 * ASan build, where the caller's child process is the only isolation). */
static void *gpu_dl_open_in(const char *path, int fresh, const gpu_sym_t *syms, size_t nsyms,
                            char *why, size_t whylen)
{
    dlerror();
    fresh = fresh && GPU_DL_NEW_NAMESPACE;
    void *h = fresh ? dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL)
                    : dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h && fresh) {
        /* A new namespace can be refused (no static TLS left for its libc, a sanitizer
         * runtime): this process's namespace still tells whether the library loads. */
        const char *e = dlerror();
        TACL_DEBUG(TACL_SUB_GPU, "dlmopen(%s) in a new namespace failed (%s); using dlopen", path,
                   e ? e : "unknown error");
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    }
    if (!h) {
        const char *e = dlerror();
        snprintf(why, whylen, "dlopen failed: %s", e ? e : "unknown error");
        return NULL;
    }
    /* Resolve into a scratch array first so that a refused candidate leaves the caller's table
     * untouched (outputs set only on success). */
    void *addr[64];
    if (nsyms > sizeof addr / sizeof addr[0]) {
        snprintf(why, whylen, "internal: symbol table of %zu entries is too long", nsyms);
        dlclose(h);
        return NULL;
    }
    size_t o = 0;
    int missing = 0;
    for (size_t i = 0; i < nsyms; i++) {
        addr[i] = dlsym(h, syms[i].name);
        if (!addr[i] && !syms[i].optional) {
            if (!missing)
                o += (size_t)snprintf(why + o, o < whylen ? whylen - o : 0,
                                      "missing required symbol(s):");
            o += (size_t)snprintf(why + o, o < whylen ? whylen - o : 0, " %s", syms[i].name);
            missing++;
        }
    }
    if (missing) {
        dlclose(h);
        return NULL;
    }
    for (size_t i = 0; i < nsyms; i++)
        *syms[i].fn = addr[i];
    return h;
}

void *gpu_dl_open(const char *path, const gpu_sym_t *syms, size_t nsyms, char *why, size_t whylen)
{
    return gpu_dl_open_in(path, 0, syms, nsyms, why, whylen);
}

static void *gpu_cand_open_in(gpu_cand_t *c, int fresh, const gpu_sym_t *syms, size_t nsyms)
{
    if (strchr(c->path, '/')) {
        struct stat st;
        if (stat(c->path, &st) != 0) {
            snprintf(c->why, sizeof c->why, "no such file");
            return NULL;
        }
    }
    void *h = gpu_dl_open_in(c->path, fresh, syms, nsyms, c->why, sizeof c->why);
    if (h) {
        c->loaded = 1;
        c->why[0] = '\0';
        /* Name the file the linker picked for a soname (dladdr on the first symbol). */
        Dl_info info;
        if (nsyms > 0 && *syms[0].fn && dladdr(*syms[0].fn, &info) && info.dli_fname)
            snprintf(c->file, sizeof c->file, "%s", info.dli_fname);
        else
            snprintf(c->file, sizeof c->file, "%s", c->path);
    }
    return h;
}

void *gpu_cand_open(gpu_cand_t *c, const gpu_sym_t *syms, size_t nsyms)
{
    return gpu_cand_open_in(c, 0, syms, nsyms);
}

void *gpu_cand_open_fresh(gpu_cand_t *c, const gpu_sym_t *syms, size_t nsyms)
{
    return gpu_cand_open_in(c, 1, syms, nsyms);
}

gpu_cand_t *gpu_cand_add(gpu_cand_t *cand, int *n, int max, const char *origin, const char *path)
{
    if (*n >= max) return NULL;
    gpu_cand_t *c = &cand[(*n)++];
    memset(c, 0, sizeof *c);
    snprintf(c->origin, sizeof c->origin, "%s", origin);
    snprintf(c->path, sizeof c->path, "%s", path ? path : "");
    return c;
}

typedef struct {
    const char *const *prefixes;
    char *out;
    size_t outlen;
    int found;
} gpu_mapped_ctx_t;

static int gpu_mapped_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    gpu_mapped_ctx_t *c = arg;
    if (c->found || !info->dlpi_name || !info->dlpi_name[0]) return 0;
    const char *base = strrchr(info->dlpi_name, '/');
    base = base ? base + 1 : info->dlpi_name;
    for (const char *const *p = c->prefixes; *p; p++) {
        if (!strncmp(base, *p, strlen(*p))) {
            snprintf(c->out, c->outlen, "%s", info->dlpi_name);
            c->found = 1;
            return 1;
        }
    }
    return 0;
}

int gpu_dl_find_mapped(const char *const *prefixes, char *out, size_t outlen)
{
    gpu_mapped_ctx_t c = {prefixes, out, outlen, 0};
    dl_iterate_phdr(gpu_mapped_cb, &c);
    return c.found;
}

/* The interpreter prints site-packages first, then the rest of sys.path, one per line. */
static const char gpu_py_script[] =
    "import site,sys\n"
    "p=[]\n"
    "try:\n p+=site.getsitepackages()\nexcept Exception:\n pass\n"
    "try:\n p.append(site.getusersitepackages())\nexcept Exception:\n pass\n"
    "print('\\n'.join(p+sys.path))\n";

int gpu_python_paths(const char *python, double timeout_s, char (*dirs)[GPU_PATH_MAX], int maxdirs,
                     char *why, size_t whylen)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, whylen, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls until exec. */
        dup2(fds[1], 1);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 2);
        }
        char *const argv[] = {(char *)python, "-c", (char *)gpu_py_script, NULL};
        execvp(python, argv);
        _exit(127);
    }
    close(fds[1]);
    char buf[16384];
    size_t n = 0;
    uint64_t deadline = tacl__deadline_ns(timeout_s);
    int timed_out = 0;
    for (;;) {
        int ms = tacl__ms_left(deadline);
        if (ms == 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int r = poll(&pfd, 1, ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            timed_out = r == 0;
            break;
        }
        ssize_t got = read(fds[0], buf + n, sizeof buf - 1 - n);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        n += (size_t)got;
        if (n >= sizeof buf - 1) break;
    }
    close(fds[0]);
    if (timed_out) kill(pid, SIGKILL);
    int status = 0;
    /* After EOF or SIGKILL the child ends promptly; reap it without blocking forever. */
    uint64_t reap_deadline = tacl__deadline_ns(2.0);
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && tacl__ms_left(reap_deadline) > 0)
        usleep(1000);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    if (timed_out) {
        snprintf(why, whylen, "%s did not answer within %.0f s", python, timeout_s);
        return -1;
    }
    if (w > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        snprintf(why, whylen, "could not run %s", python);
        return -1;
    }
    if (w > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        snprintf(why, whylen, "%s failed (exit status %d)", python,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    buf[n] = '\0';
    int nd = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line && nd < maxdirs;
         line = strtok_r(NULL, "\n", &save)) {
        if (!line[0]) continue;
        snprintf(dirs[nd++], GPU_PATH_MAX, "%s", line);
    }
    return nd;
}

int gpu_python_find(const char *python, const char *rel, char *out, size_t outlen, char *why,
                    size_t whylen)
{
    enum { MAXD = 32 };
    char(*dirs)[GPU_PATH_MAX] = calloc(MAXD, GPU_PATH_MAX);
    if (!dirs) {
        snprintf(why, whylen, "out of memory");
        return 0;
    }
    int nd = gpu_python_paths(python, 10.0, dirs, MAXD, why, whylen);
    int found = 0;
    if (nd == 0) snprintf(why, whylen, "%s printed no module folders", python);
    for (int i = 0; i < nd && !found; i++) {
        char p[GPU_PATH_MAX + 128];
        snprintf(p, sizeof p, "%s/%s", dirs[i], rel);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            snprintf(out, outlen, "%s", p);
            found = 1;
        }
    }
    if (nd > 0 && !found)
        snprintf(why, whylen, "no %s under the %d module folder(s) of %s (first: %s)", rel, nd,
                 python, dirs[0]);
    free(dirs);
    return found;
}
