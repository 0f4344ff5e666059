/* gpu_dl.h — the pieces every GPU-library loader shares: opening one candidate file and filling a
 * {&fn, "symbol"} table (required symbols must all be present, optional ones may be missing),
 * finding a library already mapped into this process (dl_iterate_phdr), asking a Python
 * interpreter for its site-packages folders (a subprocess with a deadline), and the record of
 * one candidate (path, origin, version, outcome) that loaders keep for `tacl info --gpu`. */
#ifndef TACL_GPU_DL_H
#define TACL_GPU_DL_H

#include <stddef.h>

typedef struct {
    void **fn;        /* where the resolved address goes */
    const char *name; /* the exported symbol */
    int optional;     /* 1: a missing symbol leaves *fn NULL; 0: the candidate is refused */
} gpu_sym_t;

#define GPU_PATH_MAX 1024
#define GPU_WHY_MAX  512

/* One candidate a loader considered: where it came from, and what happened. */
typedef struct {
    char origin[48];         /* "TACL_NCCL_SO_PATH", "pytorch (mapped)", "system" ... */
    char path[GPU_PATH_MAX]; /* file or soname given to dlopen ("" when none was found) */
    char file[GPU_PATH_MAX]; /* the file the dynamic linker actually opened, when loaded */
    int loaded;              /* 1 when it opened and had every required symbol */
    int version;             /* library version when known (NCCL: 22803), else 0 */
    char why[GPU_WHY_MAX];   /* why it was refused or skipped; "" when loaded */
} gpu_cand_t;

/* Opens path (RTLD_NOW | RTLD_LOCAL) and resolves syms. On success returns the handle; on
 * failure returns NULL with the reason in why (dlerror text or the missing required symbols)
 * and leaves every *fn as it was. */
void *gpu_dl_open(const char *path, const gpu_sym_t *syms, size_t nsyms, char *why, size_t whylen);

/* Tries candidate c (c->path: a file, or a soname for the linker's search): on success sets
 * c->loaded, returns the handle and fills syms; on failure fills c->why and returns NULL. */
void *gpu_cand_open(gpu_cand_t *c, const gpu_sym_t *syms, size_t nsyms);
/* As gpu_cand_open, in a new link-map namespace (dlmopen): what c->path names on its own, not
 * an object of the same soname this process already loaded (PyTorch's libnccl.so.2 answers a
 * plain dlopen of "libnccl.so.2"). For probes in a throw-away process; c->file names the file
 * actually loaded either way. */
void *gpu_cand_open_fresh(gpu_cand_t *c, const gpu_sym_t *syms, size_t nsyms);

/* Appends a candidate to cand[*n] (at most max); NULL when full. */
gpu_cand_t *gpu_cand_add(gpu_cand_t *cand, int *n, int max, const char *origin, const char *path);

/* Finds an object already mapped into this process whose file name starts with one of the
 * prefixes (NULL-terminated list); writes its full path to out. Returns 1 when found. */
int gpu_dl_find_mapped(const char *const *prefixes, char *out, size_t outlen);

/* Runs `python -c ...` (at most timeout_s seconds, killed after) to list the folders of its
 * module search path (site-packages first). Returns the number of folders written into dirs
 * (each GPU_PATH_MAX long, up to maxdirs); -1 with the reason in why when the interpreter could
 * not be run or did not answer in time. */
int gpu_python_paths(const char *python, double timeout_s, char (*dirs)[GPU_PATH_MAX], int maxdirs,
                     char *why, size_t whylen);

/* Finds rel (e.g. "nvidia/nccl/lib/libnccl.so.2") under the site-packages of python. Returns 1
 * and the full path in out when a file exists there; 0 with the reason in why otherwise. */
int gpu_python_find(const char *python, const char *rel, char *out, size_t outlen, char *why,
                    size_t whylen);

#endif
