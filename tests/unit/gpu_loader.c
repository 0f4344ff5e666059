/* gpu_loader.c — the GPU loaders' decisions, tested without a GPU: fake NCCL libraries of chosen
 * versions placed as the explicit file, PyTorch's site-packages copy (found through a fake
 * python given as TACL_PYTHON), an already-mapped copy, the system one and RCCL; a missing file,
 * a file that is not a library, a library missing required symbols; the fallback order and its
 * WARN messages; the device communicator's cross-rank checks (version mismatch, a rank that
 * never joins) over two processes with a fake CUDA runtime; dtype/op mapping and the buffer
 * device check; and the NVML link matrix from canned answers. Each scenario runs in its own
 * child process so that every search starts from a clean process. */
#include "check.h"
#include "clock.h"
#include "gpu/dev_comm.h"
#include "gpu/nvml.h"
#include "settings.h"

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256];
static pid_t owner; /* only the parent removes the scratch tree */
static char p_sys[512], p_site[512], p_mapped[512], p_rccl[512], p_broken[512], p_notlib[512];
static char p_py_ok[512], p_py_empty[512], p_py_slow[512];

static void copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    CHECK(in && out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        CHECK(fwrite(buf, 1, n, out) == n);
    fclose(in);
    fclose(out);
}

static void write_file(const char *path, const char *text, int mode)
{
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

static void cleanup(void)
{
    if (!dir[0] || getpid() != owner) return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static void setup(void)
{
    owner = getpid();
    snprintf(dir, sizeof dir, "/tmp/tacl-gpu-loader-%d", (int)owner);
    atexit(cleanup);
    char p[600];
    const char *sub[] = {
        "",        "/sys",  "/site",   "/site/nvidia", "/site/nvidia/nccl", "/site/nvidia/nccl/lib",
        "/mapped", "/rccl", "/broken", "/empty"};
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        snprintf(p, sizeof p, "%s%s", dir, sub[i]);
        CHECK(mkdir(p, 0755) == 0 || errno == EEXIST);
    }
    snprintf(p_sys, sizeof p_sys, "%s/sys/libnccl.so.2", dir);
    snprintf(p_site, sizeof p_site, "%s/site/nvidia/nccl/lib/libnccl.so.2", dir);
    snprintf(p_mapped, sizeof p_mapped, "%s/mapped/libnccl.so.2", dir);
    snprintf(p_rccl, sizeof p_rccl, "%s/rccl/librccl.so.1", dir);
    snprintf(p_broken, sizeof p_broken, "%s/broken/libnccl.so.2", dir);
    snprintf(p_notlib, sizeof p_notlib, "%s/notalib.so", dir);
    copy_file(FAKE_NCCL_A, p_sys);    /* 2.28.3 */
    copy_file(FAKE_NCCL_B, p_site);   /* 2.28.9 */
    copy_file(FAKE_NCCL_C, p_mapped); /* 2.29.1 */
    copy_file(FAKE_NCCL_R, p_rccl);   /* 2.20.5 */
    copy_file(FAKE_NCCL_P, p_broken); /* lacks ncclAllReduce, ncclSend */
    write_file(p_notlib, "this is not an ELF file\n", 0644);
    char script[800];
    snprintf(p_py_ok, sizeof p_py_ok, "%s/python-ok", dir);
    snprintf(script, sizeof script, "#!/bin/sh\necho %s/empty\necho %s/site\n", dir, dir);
    write_file(p_py_ok, script, 0755);
    snprintf(p_py_empty, sizeof p_py_empty, "%s/python-empty", dir);
    snprintf(script, sizeof script, "#!/bin/sh\necho %s/empty\n", dir);
    write_file(p_py_empty, script, 0755);
    snprintf(p_py_slow, sizeof p_py_slow, "%s/python-slow", dir);
    write_file(p_py_slow, "#!/bin/sh\nexec sleep 30\n", 0755);
}

/* Logs of the child go to a file the scenario reads back. */
static char logpath[600];
static void log_to_file(const char *name)
{
    snprintf(logpath, sizeof logpath, "%s/log-%s.txt", dir, name);
    setenv("TACL_LOG", "info", 1);
    setenv("TACL_LOG_SUBSYS", "gpu", 1);
    setenv("TACL_LOG_FILE", logpath, 1);
    tacl__log_reload();
}

static char *read_log(void)
{
    static char buf[65536];
    FILE *f = fopen(logpath, "r");
    CHECK(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Runs fn in a child (exit 0 = pass), killing it after 20 s. */
static void run_child(const char *name, void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        log_to_file(name);
        fn();
        fflush(NULL);
        _exit(0);
    }
    int status = 0;
    for (int i = 0; i < 2000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) break;
        if (i == 1999) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "scenario %s: timed out\n", name);
            exit(1);
        }
        usleep(10000);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "scenario %s failed (status 0x%x)\n", name, status);
        exit(1);
    }
    fprintf(stderr, "scenario %s: ok\n", name);
}

static tacl__nccl_lib_t *search(const char *expl, const char *mode, const char *python,
                                const char *const *sys, int probe_all, tacl_status_t want)
{
    static tacl__nccl_lib_t lib;
    tacl__nccl_search_t s = {expl, mode, python, sys};
    tacl__errbuf_t eb;
    CHECK_ST(tacl__nccl_search(&s, probe_all, &lib, &eb), want);
    return &lib;
}

static void sc_explicit_ok(void)
{
    const char *sys[] = {p_rccl, NULL};
    tacl__nccl_lib_t *l = search(p_sys, "0", p_py_ok, sys, 0, TACL_OK);
    CHECK(l->chosen == 0 && l->version == 22803);
    CHECK(!strcmp(l->cand[0].origin, "TACL_NCCL_SO_PATH"));
    int v = 0;
    CHECK(l->fn.GetVersion(&v) == ncclSuccess && v == 22803);
    CHECK(l->fn.CommInitRankConfig && l->fn.CommAbort && l->fn.CommGetAsyncError);
    CHECK(l->fn.CommSplit == NULL && l->fn.MemAlloc == NULL); /* optional, absent in the fake */
    CHECK_CONTAINS(read_log(), "NCCL candidate TACL_NCCL_SO_PATH: ");
    CHECK_CONTAINS(read_log(), "version 2.28.3");
}

static void sc_explicit_missing(void)
{
    const char *sys[] = {p_sys, NULL};
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope/libnccl.so.2", dir);
    tacl__nccl_lib_t *l = search(missing, "0", p_py_ok, sys, 0, TACL_OK);
    CHECK(l->cand[0].loaded == 0);
    CHECK_CONTAINS(l->cand[0].why, "no such file");
    CHECK(l->version == 22803 && !strcmp(l->cand[l->chosen].origin, "system"));
    const char *log = read_log();
    CHECK_CONTAINS(log, "WARN gpu: TACL_NCCL_SO_PATH=");
    CHECK_CONTAINS(log, "could not be loaded (no such file); falling back to the system's NCCL");
}

static void sc_explicit_notlib(void)
{
    const char *sys[] = {p_sys, NULL};
    tacl__nccl_lib_t *l = search(p_notlib, "0", p_py_ok, sys, 0, TACL_OK);
    CHECK_CONTAINS(l->cand[0].why, "dlopen failed");
    CHECK(l->version == 22803);
    CHECK_CONTAINS(read_log(), "WARN gpu: TACL_NCCL_SO_PATH=");
}

static void sc_explicit_broken(void)
{
    const char *sys[] = {p_sys, NULL};
    tacl__nccl_lib_t *l = search(p_broken, "0", p_py_ok, sys, 0, TACL_OK);
    CHECK_CONTAINS(l->cand[0].why, "missing required symbol(s): ncclAllReduce ncclSend");
    CHECK(l->chosen == 2 && l->version == 22803); /* [1] is the skipped PyTorch candidate */
    CHECK_CONTAINS(l->cand[1].why, "skipped: TACL_USE_PYTORCH_NCCL=0");
}

static void sc_pytorch_site(void)
{
    const char *sys[] = {p_sys, NULL};
    tacl__nccl_lib_t *l = search(NULL, "auto", p_py_ok, sys, 0, TACL_OK);
    CHECK(l->chosen == 0 && l->version == 22809);
    CHECK(!strcmp(l->cand[0].origin, "pytorch (site-packages)"));
    CHECK(!strcmp(l->cand[0].path, p_site));
    CHECK(l->ncand == 1); /* the system one was not needed */
}

static void sc_pytorch_off(void)
{
    const char *sys[] = {p_sys, NULL};
    tacl__nccl_lib_t *l = search(NULL, "0", p_py_ok, sys, 0, TACL_OK);
    CHECK(l->version == 22803 && !strcmp(l->cand[l->chosen].origin, "system"));
    CHECK_CONTAINS(read_log(), "skipped: TACL_USE_PYTORCH_NCCL=0");
}

static void sc_pytorch_requested_missing(void)
{
    const char *sys[] = {p_sys, NULL};
    tacl__nccl_lib_t *l = search(NULL, "1", p_py_empty, sys, 0, TACL_OK);
    CHECK(l->version == 22803);
    CHECK_CONTAINS(l->cand[0].why, "no nvidia/nccl/lib/libnccl.so.2 under the 1 module folder");
    const char *log = read_log();
    CHECK_CONTAINS(log, "WARN gpu: TACL_USE_PYTORCH_NCCL=1 but PyTorch's NCCL could not be loaded");
    CHECK_CONTAINS(log, "falling back to the system's NCCL");
}

static void sc_pytorch_mapped(void)
{
    /* A process that already holds an NCCL (PyTorch's) must share it. */
    void *h = dlopen(p_mapped, RTLD_NOW | RTLD_GLOBAL);
    CHECK(h);
    const char *sys[] = {p_sys, NULL};
    tacl__nccl_lib_t *l = search(NULL, "auto", p_py_ok, sys, 0, TACL_OK);
    CHECK(l->chosen == 0 && l->version == 22901);
    CHECK(!strcmp(l->cand[0].origin, "pytorch (already mapped)"));
    CHECK(!strcmp(l->cand[0].path, p_mapped));
    /* With PyTorch's NCCL switched off, the mapped one is not taken. */
    l = search(NULL, "0", p_py_ok, sys, 0, TACL_OK);
    CHECK(l->version == 22803);
}

static void sc_rccl_fallback(void)
{
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope/libnccl.so.2", dir);
    const char *sys[] = {missing, p_rccl, NULL};
    tacl__nccl_lib_t *l = search(NULL, "auto", p_py_empty, sys, 0, TACL_OK);
    CHECK(l->version == 22005 && !strcmp(l->cand[l->chosen].origin, "rccl"));
}

static void sc_none(void)
{
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope/libnccl.so.2", dir);
    const char *sys[] = {missing, "libtacl-test-no-such-rccl.so.1", NULL};
    tacl__nccl_lib_t *l = search(p_broken, "1", p_py_empty, sys, 0, TACL_ERR_UNAVAILABLE);
    CHECK(l->chosen < 0 && l->ncand == 4);
    const char *m = tacl_last_error();
    CHECK_CONTAINS(m, "no NCCL could be loaded; tried:");
    CHECK_CONTAINS(m, "TACL_NCCL_SO_PATH [");
    CHECK_CONTAINS(m, "missing required symbol(s)");
    CHECK_CONTAINS(m, "pytorch (site-packages) [none found]");
    CHECK_CONTAINS(m, missing);
    CHECK_CONTAINS(m, "libtacl-test-no-such-rccl.so.1]: dlopen failed");
}

static void sc_probe_all(void)
{
    const char *sys[] = {p_sys, p_rccl, NULL};
    tacl__nccl_lib_t *l = search(p_site, "auto", p_py_empty, sys, 1, TACL_OK);
    CHECK(l->chosen == 0 && l->version == 22809 && l->ncand == 4);
    /* The explicit file this search loaded is not mistaken for one the program had mapped. */
    CHECK(!strcmp(l->cand[1].origin, "pytorch (site-packages)") && !l->cand[1].loaded);
    CHECK(l->cand[2].loaded && l->cand[2].version == 22803);
    CHECK(l->cand[3].loaded && l->cand[3].version == 22005);
}

/* PyTorch's NCCL is in the process under the same soname as the system's: a plain dlopen of the
 * soname answers with PyTorch's object. The probe of the system candidate must still report
 * the system's file and version (it once reported PyTorch's 2.28.9 and path as the system's),
 * and the loaded-file query names a file, not a soname. */
static void sc_soname_shadow(void)
{
#if defined(__SANITIZE_ADDRESS__)
    /* ASan builds probe without a new link-map namespace (src/gpu/gpu_dl.c): the shadowing
     * this scenario checks is then what they do, by design. */
    printf("scenario soname_shadow: not applicable to an ASan build (no dlmopen namespaces)\n");
    return;
#endif
    void *torch = dlopen(FAKE_SONAME_TORCH, RTLD_NOW | RTLD_LOCAL);
    CHECK(torch != NULL);
    /* The setup does reproduce the shadowing. */
    void *plain = dlopen(FAKE_SONAME, RTLD_NOW | RTLD_LOCAL);
    CHECK(plain == torch);
    dlclose(plain);
    const char *sys[] = {FAKE_SONAME, NULL};
    tacl__nccl_lib_t *l = search(p_site, "0", p_py_ok, sys, 1, TACL_OK);
    CHECK(l->chosen == 0 && l->version == 22809 && l->ncand == 3);
    const gpu_cand_t *c = &l->cand[2];
    CHECK(!strcmp(c->origin, "system") && !strcmp(c->path, FAKE_SONAME));
    CHECK(c->loaded);
    if (c->version != 22803 || !strstr(c->file, "/gpu_fake_sys/")) {
        fprintf(stderr, "system candidate reported as %d from %s\n", c->version, c->file);
        exit(1);
    }
    /* Chosen through the soname, the loaded file is named, not the soname. */
    int v = 0;
    const char *path = NULL;
    setenv("TACL_USE_PYTORCH_NCCL", "0", 1);
    setenv("TACL_NCCL_SO_PATH", FAKE_SONAME, 1);
    CHECK_OK(tacl_nccl_loaded(&v, &path));
    CHECK(v == 22809 && !strcmp(path, FAKE_SONAME_TORCH));
}

static void sc_settings_once(void)
{
    setenv("TACL_NCCL_SO_PATH", p_site, 1);
    setenv("TACL_USE_PYTORCH_NCCL", "0", 1);
    const tacl__nccl_lib_t *a, *b;
    CHECK_OK(tacl__nccl_get(&a, NULL));
    setenv("TACL_NCCL_SO_PATH", p_sys, 1); /* loaded once: a later change has no effect */
    CHECK_OK(tacl__nccl_get(&b, NULL));
    CHECK(a == b && a->version == 22809);
    int v = 0;
    const char *path = NULL;
    CHECK_OK(tacl_nccl_loaded(&v, &path));
    CHECK(v == 22809 && !strcmp(path, p_site));
}

static void sc_python(void)
{
    char dirs[4][GPU_PATH_MAX], why[GPU_WHY_MAX];
    double t0 = tacl__now_s();
    CHECK(gpu_python_paths(p_py_slow, 0.3, dirs, 4, why, sizeof why) == -1);
    CHECK(tacl__now_s() - t0 < 5.0);
    CHECK_CONTAINS(why, "did not answer within");
    CHECK(gpu_python_paths("/nonexistent/python3", 2, dirs, 4, why, sizeof why) == -1);
    CHECK_CONTAINS(why, "could not run /nonexistent/python3");
    CHECK(gpu_python_paths(p_py_ok, 5, dirs, 4, why, sizeof why) == 2);
    CHECK(strstr(dirs[1], "/site") != NULL);
}

/* ---- Device communicator logic over fakes. ---- */

static void use_fakes(const char *nccl)
{
    setenv("TACL_NCCL_SO_PATH", nccl, 1);
    setenv("TACL_USE_PYTORCH_NCCL", "0", 1);
    setenv("TACL_CUDART_SO_PATH", FAKE_CUDART, 1);
}

static void sc_dev_single(void)
{
    use_fakes(p_sys);
    tacl__dev_boot_t b = tacl__dev_boot_single(5.0);
    tacl_dev_comm_t *dc = NULL;
    CHECK_OK(tacl__dev_comm_create_boot(&b, 0, &dc));
    CHECK(tacl_dev_comm_size(dc) == 1 && tacl_dev_comm_nccl_version(dc) == 22803);
    void *h = dlopen(p_sys, RTLD_NOW | RTLD_NOLOAD);
    void *rt = dlopen(FAKE_CUDART, RTLD_NOW | RTLD_NOLOAD);
    CHECK(h && rt);
    void (*last)(int *, int *) = (void (*)(int *, int *))dlsym(h, "fake_nccl_last");
    void (*set_attr)(int, int) = (void (*)(int, int))dlsym(rt, "fake_cuda_set_attr");
    CHECK(last && set_attr);
    float in[4] = {1, 2, 3, 4}, out[4] = {0};
    int dt, op;
    /* tacl's ops and dtypes reach NCCL as NCCL's values (MIN and MAX are swapped in NCCL). */
    static const struct {
        tacl_dtype_t dt;
        tacl_op_t op;
        int ndt, nop;
    } m[] = {{TACL_FLOAT32, TACL_MIN, 7, 3},  {TACL_FLOAT32, TACL_MAX, 7, 2},
             {TACL_BFLOAT16, TACL_AVG, 9, 4}, {TACL_INT64, TACL_PROD, 4, 1},
             {TACL_UINT8, TACL_SUM, 1, 0},    {TACL_FLOAT16, TACL_SUM, 6, 0}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        CHECK_OK(tacl_dev_all_reduce(dc, in, out, 2, m[i].dt, m[i].op, NULL));
        last(&dt, &op);
        CHECK(dt == m[i].ndt && op == m[i].nop);
    }
    CHECK_OK(tacl_dev_all_reduce(dc, in, out, 4, TACL_FLOAT32, TACL_SUM, NULL));
    CHECK(out[0] == 1 && out[3] == 4); /* the fake copies send to recv: arguments in order */
    /* A buffer on another GPU, and host memory, are refused with both devices named, also at
     * addresses that passed before (TACL_GPU_CHECK_BUFFERS=always, the default). */
    set_attr(2, 1);
    CHECK_ST(tacl_dev_all_reduce(dc, in, out, 4, TACL_FLOAT32, TACL_SUM, NULL), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_dev_comm_last_error(dc), "send buffer 0x");
    CHECK_CONTAINS(tacl_dev_comm_last_error(dc),
                   "is on GPU 1 but rank 0's device communicator uses GPU 0");
    set_attr(1, 0);
    CHECK_ST(tacl_dev_broadcast(dc, in, out, 4, TACL_FLOAT32, 0, NULL), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "is host memory");
    set_attr(2, 0);
    CHECK_ST(tacl_dev_reduce(dc, in, out, 4, TACL_FLOAT32, TACL_SUM, 3, NULL), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "root 3 is out of range (communicator of 1 ranks)");
    CHECK_ST(tacl_dev_all_reduce(dc, in, out, 4, (tacl_dtype_t)99, TACL_SUM, NULL),
             TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "unknown dtype 99");
    CHECK_ST(tacl_dev_group_end(dc), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "no group is open");
    /* Optional features the fake lacks are reported, naming the symbol and the version. */
    tacl_dev_comm_t *sub = NULL;
    CHECK_ST(tacl_dev_comm_split(dc, 0, 0, &sub), TACL_ERR_UNAVAILABLE);
    CHECK_CONTAINS(tacl_last_error(), "tacl_dev_comm_split: the loaded NCCL 2.28.3 (");
    CHECK_CONTAINS(tacl_last_error(), ") has no ncclCommSplit");
    void *mem = NULL;
    CHECK_ST(tacl_dev_mem_alloc(64, &mem), TACL_ERR_UNAVAILABLE);
    CHECK_CONTAINS(tacl_last_error(), "has no ncclMemAlloc");
    CHECK_ST(tacl_dev_comm_window_register(dc, in, 16, 0, &mem), TACL_ERR_UNAVAILABLE);
    CHECK(mem == NULL);
    CHECK_OK(tacl_dev_comm_check(dc));
    tacl_dev_comm_destroy(dc);
}

static void sc_dev_no_gpu(void)
{
    use_fakes(p_sys);
    setenv("FAKE_CUDA_NDEV", "0", 1);
    tacl__dev_boot_t b = tacl__dev_boot_single(5.0);
    tacl_dev_comm_t *dc = NULL;
    CHECK_ST(tacl__dev_comm_create_boot(&b, 0, &dc), TACL_ERR_INVALID);
    CHECK(dc == NULL);
    CHECK_CONTAINS(tacl_last_error(), "rank(s) 0 could not prepare NCCL");
    CHECK_CONTAINS(tacl_last_error(), "GPU 0 does not exist (this process sees 0 GPU(s))");
}

/* An asynchronous remote error (a peer gone) surfaces on the next call and on every later one;
 * destroy then aborts instead of finalizing, without hanging. */
static void sc_dev_async_error(void)
{
    use_fakes(p_sys);
    /* The warm-ups are all-reduces 1 (probe) and 2-3 (working communicator). */
    setenv("FAKE_NCCL_REMOTE_ERROR_AFTER", "4", 1);
    tacl__dev_boot_t b = tacl__dev_boot_single(5.0);
    tacl_dev_comm_t *dc = NULL;
    CHECK_OK(tacl__dev_comm_create_boot(&b, 0, &dc));
    float x[4] = {1, 2, 3, 4};
    CHECK_OK(tacl_dev_all_reduce(dc, x, x, 4, TACL_FLOAT32, TACL_SUM, NULL));
    CHECK_OK(tacl_dev_comm_check(dc));
    CHECK_OK(tacl_dev_all_reduce(dc, x, x, 4, TACL_FLOAT32, TACL_SUM, NULL));
    CHECK_ST(tacl_dev_comm_check(dc), TACL_ERR_PEER_LOST);
    CHECK_CONTAINS(tacl_dev_comm_last_error(dc),
                   "rank 0 (GPU 0): NCCL reports an asynchronous error: fake error");
    CHECK_ST(tacl_dev_all_reduce(dc, x, x, 4, TACL_FLOAT32, TACL_SUM, NULL), TACL_ERR_PEER_LOST);
    CHECK_CONTAINS(tacl_last_error(), "tacl_dev_all_reduce: ");
    CHECK_ST(tacl_dev_comm_sync(dc, NULL), TACL_ERR_PEER_LOST);
    double t0 = tacl__now_s();
    tacl_dev_comm_destroy(dc);
    CHECK(tacl__now_s() - t0 < 2.0);
}

/* The host side's liveness (the bootstrap's alive callback): once it reports a peer lost, the
 * next device call fails at once with TACL_ERR_PEER_LOST naming the peer, and the NCCL
 * communicator is aborted, without waiting for NCCL to notice. */
static int dev_alive_flag = 1;
static int dev_alive(void *ctx, int rank)
{
    (void)ctx;
    return rank == 0 || dev_alive_flag;
}

static void sc_dev_host_lost(void)
{
    use_fakes(p_sys);
    tacl__dev_boot_t b = tacl__dev_boot_single(5.0);
    b.size = 1;
    b.alive = dev_alive;
    tacl_dev_comm_t *dc = NULL;
    CHECK_OK(tacl__dev_comm_create_boot(&b, 0, &dc));
    float x[4] = {1, 2, 3, 4};
    CHECK_OK(tacl_dev_all_reduce(dc, x, x, 4, TACL_FLOAT32, TACL_SUM, NULL));
    /* A one-rank communicator has no peer to lose: pretend it has two for the check. */
    dc->size = 2;
    dev_alive_flag = 0;
    CHECK_ST(tacl_dev_all_reduce(dc, x, x, 4, TACL_FLOAT32, TACL_SUM, NULL), TACL_ERR_PEER_LOST);
    CHECK_CONTAINS(tacl_dev_comm_last_error(dc),
                   "rank 1 of the device communicator was lost (seen by the host communicator)");
    CHECK_ST(tacl_dev_comm_check(dc), TACL_ERR_CLOSED);
    double t0 = tacl__now_s();
    tacl_dev_comm_destroy(dc);
    CHECK(tacl__now_s() - t0 < 2.0);
}

/* TACL_GPU_CHECK_BUFFERS=cache looks at an address once (an address once on this GPU and now
 * elsewhere passes); =0 looks at none but still refuses NULL. */
static void sc_dev_check_buffers(void)
{
    use_fakes(p_sys);
    void *rt = dlopen(FAKE_CUDART, RTLD_NOW);
    CHECK(rt);
    void (*set_attr)(int, int) = (void (*)(int, int))dlsym(rt, "fake_cuda_set_attr");
    CHECK(set_attr);
    float in[4] = {1, 2, 3, 4}, out[4] = {0}, other[4] = {0}, host[4] = {0};
    tacl__dev_boot_t b = tacl__dev_boot_single(5.0);
    tacl_dev_comm_t *dc = NULL;
    /* cache: an address is looked at the first time it is seen; a refused one is not kept. */
    setenv("TACL_GPU_CHECK_BUFFERS", "cache", 1);
    CHECK_OK(tacl__dev_comm_create_boot(&b, 0, &dc));
    CHECK_OK(tacl_dev_all_reduce(dc, in, out, 4, TACL_FLOAT32, TACL_SUM, NULL));
    set_attr(2, 1);
    CHECK_OK(tacl_dev_all_reduce(dc, in, out, 4, TACL_FLOAT32, TACL_SUM, NULL));
    CHECK_ST(tacl_dev_all_reduce(dc, in, other, 4, TACL_FLOAT32, TACL_SUM, NULL), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_dev_comm_last_error(dc), "recv buffer 0x");
    CHECK_CONTAINS(tacl_dev_comm_last_error(dc), "is on GPU 1 but rank 0's device communicator");
    set_attr(1, 0);
    CHECK_ST(tacl_dev_broadcast(dc, host, out, 4, TACL_FLOAT32, 0, NULL), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "is host memory");
    CHECK_ST(tacl_dev_broadcast(dc, host, out, 4, TACL_FLOAT32, 0, NULL), TACL_ERR_INVALID);
    set_attr(2, 0);
    tacl_dev_comm_destroy(dc);
    /* 0: no look at all, but NULL is still refused. */
    setenv("TACL_GPU_CHECK_BUFFERS", "0", 1);
    CHECK_OK(tacl__dev_comm_create_boot(&b, 0, &dc));
    set_attr(1, 0);
    CHECK_OK(tacl_dev_all_reduce(dc, in, out, 4, TACL_FLOAT32, TACL_SUM, NULL));
    CHECK_ST(tacl_dev_all_reduce(dc, NULL, out, 4, TACL_FLOAT32, TACL_SUM, NULL), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_dev_comm_last_error(dc), "send buffer is NULL");
    set_attr(2, 0);
    tacl_dev_comm_destroy(dc);
    unsetenv("TACL_GPU_CHECK_BUFFERS");
}

/* The blocking working communicator's warm-up fails on this rank (all-reduce 2, after the
 * probe's): every rank keeps the non-blocking communicator, which still works. */
static void sc_dev_working_fallback(void)
{
    use_fakes(p_sys);
    setenv("FAKE_NCCL_FAIL_ALLREDUCE", "2", 1);
    tacl__dev_boot_t b = tacl__dev_boot_single(5.0);
    tacl_dev_comm_t *dc = NULL;
    CHECK_OK(tacl__dev_comm_create_boot(&b, 0, &dc));
    CHECK(dc->blocking == 0);
    float x[4] = {1, 2, 3, 4}, y[4] = {0};
    CHECK_OK(tacl_dev_all_reduce(dc, x, y, 4, TACL_FLOAT32, TACL_SUM, NULL));
    CHECK(y[0] == 1 && y[3] == 4);
    tacl_dev_comm_destroy(dc);
    unsetenv("FAKE_NCCL_FAIL_ALLREDUCE");
    /* Without the failure the working communicator is the blocking one. */
    CHECK_OK(tacl__dev_comm_create_boot(&b, 0, &dc));
    CHECK(dc->blocking == 1);
    tacl_dev_comm_destroy(dc);
}

/* With a liveness generation, the per-rank look happens only when the generation moved: a
 * loss the host side has not announced (same generation) is not looked for, one it announced
 * (generation bumped) fails the next call at once. */
static unsigned dev_gen_value;
static unsigned dev_gen(void *ctx)
{
    (void)ctx;
    return dev_gen_value;
}

static void sc_dev_host_lost_gen(void)
{
    use_fakes(p_sys);
    tacl__dev_boot_t b = tacl__dev_boot_single(5.0);
    b.alive = dev_alive;
    b.live_gen = dev_gen;
    dev_alive_flag = 1;
    tacl_dev_comm_t *dc = NULL;
    CHECK_OK(tacl__dev_comm_create_boot(&b, 0, &dc));
    float x[4] = {1, 2, 3, 4};
    dc->size = 2;
    CHECK_OK(tacl_dev_all_reduce(dc, x, x, 4, TACL_FLOAT32, TACL_SUM, NULL));
    dev_alive_flag = 0;
    CHECK_OK(tacl_dev_all_reduce(dc, x, x, 4, TACL_FLOAT32, TACL_SUM, NULL));
    dev_gen_value++;
    CHECK_ST(tacl_dev_all_reduce(dc, x, x, 4, TACL_FLOAT32, TACL_SUM, NULL), TACL_ERR_PEER_LOST);
    CHECK_CONTAINS(tacl_dev_comm_last_error(dc), "rank 1 of the device communicator was lost");
    dc->size = 1;
    tacl_dev_comm_destroy(dc);
}

/* A stream that never completes: the wait ends at the timeout, aborts the communicator, and the
 * communicator reports itself closed afterwards. */
static void sc_dev_stuck_stream(void)
{
    use_fakes(p_sys);
    tacl__dev_boot_t b = tacl__dev_boot_single(5.0);
    tacl_dev_comm_t *dc = NULL;
    CHECK_OK(tacl__dev_comm_create_boot(&b, 0, &dc));
    setenv("FAKE_CUDA_STREAM_STUCK", "1", 1);
    tacl_dev_comm_set_timeout(dc, 0.3);
    double t0 = tacl__now_s();
    CHECK_ST(tacl_dev_comm_sync(dc, NULL), TACL_ERR_TIMEOUT);
    double took = tacl__now_s() - t0;
    CHECK(took >= 0.25 && took < 3.0);
    CHECK_CONTAINS(tacl_last_error(), "device work did not complete within 0.3 s");
    CHECK_CONTAINS(tacl_last_error(), "the communicator was aborted");
    CHECK_ST(tacl_dev_comm_check(dc), TACL_ERR_CLOSED);
    float x[4] = {0};
    CHECK_ST(tacl_dev_all_reduce(dc, x, x, 4, TACL_FLOAT32, TACL_SUM, NULL), TACL_ERR_CLOSED);
    tacl_dev_comm_destroy(dc);
}

/* An explicit CUDA runtime that fails is reported and the search falls back. */
static void sc_cudart_fallback(void)
{
    setenv("TACL_CUDART_SO_PATH", p_notlib, 1);
    tacl__cudart_lib_t *rtl = calloc(1, sizeof *rtl);
    CHECK(rtl);
    tacl__errbuf_t eb;
    tacl_status_t st = tacl__cudart_search(0, rtl, &eb);
    CHECK(rtl->ncand >= 2 && !rtl->cand[0].loaded);
    CHECK_CONTAINS(rtl->cand[0].why, "dlopen failed");
    CHECK_CONTAINS(read_log(), "WARN gpu: TACL_CUDART_SO_PATH=");
    if (st != TACL_OK) CHECK_CONTAINS(eb.msg, "no CUDA runtime could be loaded; tried:");
    free(rtl);
}

/* Two processes joined by a socketpair act as a 2-rank bootstrap. */
typedef struct {
    int fd, rank;
} sp_t;

static tacl_status_t sp_io(int fd, void *buf, size_t len, int wr, tacl__errbuf_t *eb)
{
    size_t o = 0;
    while (o < len) {
        struct pollfd p = {fd, wr ? POLLOUT : POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0)
            return tacl__err(eb, TACL_ERR_TIMEOUT, TACL_SUB_GPU, "test bootstrap timed out");
        ssize_t n = wr ? write(fd, (char *)buf + o, len - o) : read(fd, (char *)buf + o, len - o);
        if (n <= 0) return tacl__err(eb, TACL_ERR_PEER_LOST, TACL_SUB_GPU, "test bootstrap closed");
        o += (size_t)n;
    }
    return TACL_OK;
}

static tacl_status_t sp_bcast(void *ctx, void *buf, size_t len, int root, tacl__errbuf_t *eb)
{
    sp_t *s = ctx;
    return sp_io(s->fd, buf, len, s->rank == root, eb);
}

static tacl_status_t sp_allgather(void *ctx, const void *mine, size_t len, void *all,
                                  tacl__errbuf_t *eb)
{
    sp_t *s = ctx;
    memcpy((char *)all + (size_t)s->rank * len, mine, len);
    tacl_status_t st = sp_io(s->fd, (void *)mine, len, 1, eb);
    if (st == TACL_OK) st = sp_io(s->fd, (char *)all + (size_t)(1 - s->rank) * len, len, 0, eb);
    return st;
}

static int sp_fds[2];
static void (*sp_body)(sp_t *);

static void sp_run(void (*body)(sp_t *))
{
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp_fds) == 0);
    fflush(NULL);
    pid_t kid = fork();
    CHECK(kid >= 0);
    sp_t me = {kid == 0 ? sp_fds[1] : sp_fds[0], kid == 0 ? 1 : 0};
    close(kid == 0 ? sp_fds[0] : sp_fds[1]);
    if (kid == 0) {
        body(&me);
        fflush(NULL);
        _exit(0);
    }
    body(&me);
    int status = 0;
    CHECK(waitpid(kid, &status, 0) == kid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void mismatch_body(sp_t *s)
{
    use_fakes(s->rank == 0 ? p_sys : p_site);
    tacl__dev_boot_t b = {sp_bcast, sp_allgather, s, s->rank, 2, 5.0, NULL, NULL};
    tacl_dev_comm_t *dc = NULL;
    CHECK_ST(tacl__dev_comm_create_boot(&b, 0, &dc), TACL_ERR_MISMATCH);
    CHECK_CONTAINS(tacl_last_error(), "ranks loaded different NCCL versions (rank 0: 2.28.3, "
                                      "rank 1: 2.28.9)");
}

static void sc_dev_mismatch(void)
{
    sp_run(mismatch_body);
}

static void never_joined_body(sp_t *s)
{
    use_fakes(p_sys);
    setenv("FAKE_NCCL_HANG_RANK", "1", 1);
    tacl__dev_boot_t b = {sp_bcast, sp_allgather, s, s->rank, 2, 0.5, NULL, NULL};
    tacl_dev_comm_t *dc = NULL;
    CHECK_ST(tacl__dev_comm_create_boot(&b, 0, &dc), TACL_ERR_TIMEOUT);
    CHECK_CONTAINS(tacl_last_error(),
                   "device communicator of 2 ranks: rank(s) 1 never joined NCCL");
    if (s->rank == 1) CHECK_CONTAINS(tacl_last_error(), "rank 1: NCCL init did not complete");
}

static void sc_dev_never_joined(void)
{
    sp_run(never_joined_body);
}

/* A rank whose NCCL init fails at once (two ranks on one GPU) is an NCCL failure named on every
 * rank, not a timeout. */
static void init_failed_body(sp_t *s)
{
    use_fakes(p_sys);
    setenv("FAKE_NCCL_INIT_FAIL_RANK", "1", 1);
    tacl__dev_boot_t b = {sp_bcast, sp_allgather, s, s->rank, 2, 30.0, NULL, NULL};
    tacl_dev_comm_t *dc = NULL;
    uint64_t t0 = tacl__now_ns();
    CHECK_ST(tacl__dev_comm_create_boot(&b, 0, &dc), TACL_ERR_GPU);
    CHECK_CONTAINS(tacl_last_error(),
                   "device communicator of 2 ranks: NCCL init failed on rank(s) 1");
    if (s->rank == 1) CHECK_CONTAINS(tacl_last_error(), "rank 1: NCCL init failed");
    CHECK((tacl__now_ns() - t0) < 10ull * 1000000000ull);
    unsetenv("FAKE_NCCL_INIT_FAIL_RANK");
}

static void sc_dev_init_failed(void)
{
    sp_run(init_failed_body);
}

static void sc_nvml(void)
{
    setenv("TACL_NVML_SO_PATH", FAKE_NVML, 1);
    tacl__gpu_topo_t *t = NULL;
    tacl__nvml_probe_t pr;
    CHECK_OK(tacl__gpu_topo_read(&t, &pr, NULL));
    CHECK(t->ngpu == 4 && pr.chosen == 0);
    CHECK(!strcmp(t->name[2], "Fake GPU 2") && t->mem_total[1] == 81ull << 30);
    CHECK(!strcmp(t->driver, "999.99-fake"));
    static const char *const want[4][4] = {{"X", "NV4", "NODE", "SYS"},
                                           {"NV4", "X", "SYS", "SYS"},
                                           {"NODE", "SYS", "X", "NV3"},
                                           {"SYS", "SYS", "NV3", "X"}};
    char cell[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            CHECK(!strcmp(tacl__gpu_link_str(&t->link[i][j], cell, sizeof cell), want[i][j]));
    CHECK(t->link[0][1].pci_kind == TACL_GPU_LINK_PIX); /* the PCIe path is kept too */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    tacl__gpu_topo_print(f, t);
    fclose(f);
    CHECK_CONTAINS(text, "GPU0   X      NV4    NODE   SYS");
    CHECK_CONTAINS(text, "GPU3   SYS    SYS    NV3    X");
    free(text);
    free(t);
    /* An explicit NVML that fails is reported with a WARN and the fallback is tried. */
    setenv("TACL_NVML_SO_PATH", p_notlib, 1);
    tacl_status_t st = tacl__gpu_topo_read(&t, &pr, NULL);
    CHECK(pr.ncand == 2 && !pr.cand[0].loaded);
    CHECK_CONTAINS(read_log(), "WARN gpu: TACL_NVML_SO_PATH=");
    if (st == TACL_OK)
        free(t);
    else
        CHECK_CONTAINS(tacl_last_error(), "NVML could not be loaded; tried:");
}

int main(void)
{
    setup();
    run_child("explicit_ok", sc_explicit_ok);
    run_child("explicit_missing", sc_explicit_missing);
    run_child("explicit_notlib", sc_explicit_notlib);
    run_child("explicit_broken", sc_explicit_broken);
    run_child("pytorch_site", sc_pytorch_site);
    run_child("pytorch_off", sc_pytorch_off);
    run_child("pytorch_requested_missing", sc_pytorch_requested_missing);
    run_child("pytorch_mapped", sc_pytorch_mapped);
    run_child("rccl_fallback", sc_rccl_fallback);
    run_child("none", sc_none);
    run_child("probe_all", sc_probe_all);
    run_child("soname_shadow", sc_soname_shadow);
    run_child("settings_once", sc_settings_once);
    run_child("python", sc_python);
    run_child("dev_single", sc_dev_single);
    run_child("dev_no_gpu", sc_dev_no_gpu);
    run_child("dev_async_error", sc_dev_async_error);
    run_child("dev_stuck_stream", sc_dev_stuck_stream);
    run_child("dev_host_lost", sc_dev_host_lost);
    run_child("dev_host_lost_gen", sc_dev_host_lost_gen);
    run_child("dev_check_buffers", sc_dev_check_buffers);
    run_child("dev_working_fallback", sc_dev_working_fallback);
    run_child("cudart_fallback", sc_cudart_fallback);
    run_child("dev_mismatch", sc_dev_mismatch);
    run_child("dev_never_joined", sc_dev_never_joined);
    run_child("dev_init_failed", sc_dev_init_failed);
    run_child("nvml", sc_nvml);
    (void)sp_body;
    return 0;
}
