/* cmd_info.c — `tacl info`: what tacl would do here. --env prints every TACL_* setting with its
 * default, current value and help (the settings table is the single source). --gpu lists every
 * NCCL / CUDA runtime / NVML candidate with its version or why it was refused, the one in use,
 * the GPUs and their link matrix. */
#include "cli.h"
#include "gpu/cudart.h"
#include "gpu/nccl.h"
#include "gpu/nvml.h"
#include "settings.h"
#include "tacl.h"

#include <stdlib.h>

#include <stdio.h>
#include <string.h>

static void info_env(void)
{
    printf("%-24s %-10s %-16s %s\n", "setting", "default", "current", "meaning");
    for (int i = 0; i < TACL_SET_COUNT; i++) {
        const tacl__setting_info_t *s = tacl__setting_info((tacl__setting_id_t)i);
        const char *cur = tacl__setting_is_set((tacl__setting_id_t)i)
                              ? tacl__setting_str((tacl__setting_id_t)i)
                              : "(unset)";
        /* The job's secret is never printed. */
        if (i == TACL_SET_STORE_TOKEN && tacl__setting_is_set(TACL_SET_STORE_TOKEN)) cur = "(set)";
        printf("%-24s %-10s %-16s %s\n", s->name, s->def[0] ? s->def : "-", cur, s->help);
    }
}

static void info_cand(const gpu_cand_t *c, int chosen, int nccl)
{
    char v[32] = "-";
    if (c->loaded && nccl)
        tacl__nccl_version_str(c->version, v, sizeof v);
    else if (c->loaded)
        snprintf(v, sizeof v, "%d.%d", c->version / 1000, c->version % 1000 / 10);
    int resolved = c->loaded && c->file[0] && strcmp(c->file, c->path);
    printf("  %s %-26s %-8s %s%s%s%s%s\n", chosen ? "*" : " ", c->origin, v,
           c->path[0] ? c->path : "(none found)", resolved ? " -> " : "", resolved ? c->file : "",
           c->why[0] ? ": " : "", c->why);
}

static int info_gpu(void)
{
    tacl__nccl_search_t s = {
        .explicit_path = tacl__setting_str(TACL_SET_NCCL_SO_PATH),
        .use_pytorch = tacl__setting_str(TACL_SET_USE_PYTORCH_NCCL),
        .python = tacl__setting_str(TACL_SET_PYTHON),
        .system_names = NULL,
    };
    tacl__nccl_lib_t *lib = calloc(1, sizeof *lib);
    tacl__cudart_lib_t *rt = calloc(1, sizeof *rt);
    if (!lib || !rt) {
        free(lib);
        free(rt);
        fprintf(stderr, "tacl info: out of memory\n");
        return 1;
    }
    tacl__errbuf_t eb;
    tacl_status_t st = tacl__nccl_search(&s, 1, lib, &eb);
    printf("NCCL candidates (TACL_NCCL_SO_PATH=%s TACL_USE_PYTORCH_NCCL=%s TACL_PYTHON=%s):\n",
           s.explicit_path[0] ? s.explicit_path : "(unset)", s.use_pytorch, s.python);
    for (int i = 0; i < lib->ncand; i++)
        info_cand(&lib->cand[i], i == lib->chosen, 1);
    if (st == TACL_OK) {
        char v[32];
        tacl__nccl_version_str(lib->version, v, sizeof v);
        printf("NCCL in use: %s from %s (%s)\n", v, lib->cand[lib->chosen].file,
               lib->cand[lib->chosen].origin);
    } else {
        printf("NCCL in use: none (%s)\n", tacl_status_name(st));
    }
    tacl_status_t rst = tacl__cudart_search(1, rt, &eb);
    printf("\nCUDA runtime candidates:\n");
    for (int i = 0; i < rt->ncand; i++)
        info_cand(&rt->cand[i], i == rt->chosen, 0);
    if (rst == TACL_OK) {
        int n = 0;
        int e = rt->fn.GetDeviceCount(&n);
        if (e != TACL_CUDA_SUCCESS)
            printf("GPUs seen by the CUDA runtime: none (%s)\n", tacl__cudart_strerror(rt, e));
        else
            printf("GPUs seen by the CUDA runtime: %d\n", n);
    }
    tacl__nvml_probe_t pr;
    tacl__gpu_topo_t *t = NULL;
    tacl_status_t nst = tacl__gpu_topo_read(&t, &pr, &eb);
    printf("\nNVML candidates:\n");
    for (int i = 0; i < pr.ncand; i++)
        info_cand(&pr.cand[i], i == pr.chosen, 0);
    if (nst != TACL_OK) {
        printf("GPUs: unknown (%s)\n", eb.msg);
    } else {
        printf("GPUs (NVML, driver %s): %d\n", t->driver[0] ? t->driver : "?", t->ngpu);
        for (int i = 0; i < t->ngpu; i++)
            printf("  GPU%d  %-28s %8llu MiB  %s\n", i, t->name[i], t->mem_total[i] >> 20,
                   t->bus_id[i]);
        if (t->ngpu > 0) {
            printf("\n");
            tacl__gpu_topo_print(stdout, t);
        }
        free(t);
    }
    free(lib);
    free(rt);
    return 0;
}

static int info_run(int argc, char **argv)
{
    int env = argc < 2, gpu = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--env")) {
            env = 1;
        } else if (!strcmp(argv[i], "--gpu")) {
            gpu = 1;
        } else {
            fprintf(stderr, "tacl info: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (env) info_env();
    if (gpu) return info_gpu();
    return 0;
}

const tacl_cmd_t tacl_cmd_info = {
    .name = "info",
    .summary = "print settings (--env) and what tacl finds on this host (--gpu)",
    .usage = "usage: tacl info [--env] [--gpu]\n\n"
             "  --env   every TACL_* setting: default, current value, meaning\n"
             "  --gpu   NCCL, CUDA runtime and NVML candidates (version or why refused, the one\n"
             "          in use), the GPUs and their link matrix (like nvidia-smi topo -m)\n",
    .run = info_run,
};
