/* nvml.c — NVML through dlopen: device names, memory and PCI ids, and the GPU link matrix. NVLink
 * counts come from each link's remote PCI id: a link whose far end is another GPU counts for
 * that pair; links whose far end is no GPU lead to NVSwitches, and two GPUs that both reach
 * switches (and have no direct link) are joined by min(their switch links), which is how
 * nvidia-smi reports NVSwitch systems (NV18 on H100 HGX). The PCIe path comes from
 * nvmlDeviceGetTopologyCommonAncestor. */
#include "gpu/nvml.h"
#include "settings.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
    char reserved[64]; /* room in case a newer NVML writes a longer struct */
} nvml_pci_t;

typedef struct {
    unsigned long long total, free, used;
} nvml_mem_t;

typedef void *nvml_dev_t;

typedef struct {
    int (*Init)(void);
    int (*Shutdown)(void);
    const char *(*ErrorString)(int r);
    int (*GetCount)(unsigned *n);
    int (*GetHandleByIndex)(unsigned i, nvml_dev_t *d);
    int (*GetName)(nvml_dev_t d, char *name, unsigned len);
    int (*GetMemoryInfo)(nvml_dev_t d, nvml_mem_t *m);
    int (*GetPciInfo)(nvml_dev_t d, nvml_pci_t *p);
    int (*GetTopologyCommonAncestor)(nvml_dev_t a, nvml_dev_t b, int *level);
    int (*GetNvLinkState)(nvml_dev_t d, unsigned link, int *active);
    int (*GetNvLinkRemotePciInfo)(nvml_dev_t d, unsigned link, nvml_pci_t *p);
    int (*SystemGetDriverVersion)(char *v, unsigned len);
} nvml_fn_t;

#define NVML_MAX_LINKS 18

static void *nvml_open(nvml_fn_t *t, tacl__nvml_probe_t *pr)
{
    const gpu_sym_t syms[] = {
        {(void **)&t->Init, "nvmlInit_v2", 0},
        {(void **)&t->Shutdown, "nvmlShutdown", 0},
        {(void **)&t->ErrorString, "nvmlErrorString", 0},
        {(void **)&t->GetCount, "nvmlDeviceGetCount_v2", 0},
        {(void **)&t->GetHandleByIndex, "nvmlDeviceGetHandleByIndex_v2", 0},
        {(void **)&t->GetName, "nvmlDeviceGetName", 0},
        {(void **)&t->GetMemoryInfo, "nvmlDeviceGetMemoryInfo", 0},
        {(void **)&t->GetPciInfo, "nvmlDeviceGetPciInfo_v3", 0},
        {(void **)&t->GetTopologyCommonAncestor, "nvmlDeviceGetTopologyCommonAncestor", 1},
        {(void **)&t->GetNvLinkState, "nvmlDeviceGetNvLinkState", 1},
        {(void **)&t->GetNvLinkRemotePciInfo, "nvmlDeviceGetNvLinkRemotePciInfo_v2", 1},
        {(void **)&t->SystemGetDriverVersion, "nvmlSystemGetDriverVersion", 1},
    };
    memset(pr, 0, sizeof *pr);
    pr->chosen = -1;
    const char *expl = tacl__setting_str(TACL_SET_NVML_SO_PATH);
    void *h = NULL;
    if (expl[0]) {
        gpu_cand_t *c = gpu_cand_add(pr->cand, &pr->ncand, 2, "TACL_NVML_SO_PATH", expl);
        h = gpu_cand_open(c, syms, sizeof syms / sizeof syms[0]);
        if (!h)
            TACL_WARN(TACL_SUB_GPU,
                      "TACL_NVML_SO_PATH=%s could not be loaded (%s); falling back to "
                      "libnvidia-ml.so.1",
                      expl, c->why);
        else
            pr->chosen = 0;
    }
    if (!h) {
        gpu_cand_t *c = gpu_cand_add(pr->cand, &pr->ncand, 2, "system", "libnvidia-ml.so.1");
        h = gpu_cand_open(c, syms, sizeof syms / sizeof syms[0]);
        if (h) pr->chosen = pr->ncand - 1;
    }
    for (int i = 0; i < pr->ncand; i++)
        TACL_INFO(TACL_SUB_GPU, "NVML candidate %s: %s: %s", pr->cand[i].origin, pr->cand[i].path,
                  pr->cand[i].loaded ? "loaded" : pr->cand[i].why);
    return h;
}

static tacl__gpu_link_kind_t nvml_level_kind(int level)
{
    /* NVML_TOPOLOGY_INTERNAL 0, SINGLE 10, MULTIPLE 20, HOSTBRIDGE 30, NODE 40, SYSTEM 50. */
    switch (level) {
    case 0:
        return TACL_GPU_LINK_SELF;
    case 10:
        return TACL_GPU_LINK_PIX;
    case 20:
        return TACL_GPU_LINK_PXB;
    case 30:
        return TACL_GPU_LINK_PHB;
    case 40:
        return TACL_GPU_LINK_NODE;
    case 50:
        return TACL_GPU_LINK_SYS;
    default:
        return TACL_GPU_LINK_UNKNOWN;
    }
}

static int nvml_same_pci(const nvml_pci_t *a, const nvml_pci_t *b)
{
    return a->domain == b->domain && a->bus == b->bus && a->device == b->device;
}

tacl_status_t tacl__gpu_topo_read(tacl__gpu_topo_t **out, tacl__nvml_probe_t *probe,
                                  tacl__errbuf_t *eb)
{
    tacl__nvml_probe_t pr_local;
    tacl__nvml_probe_t *pr = probe ? probe : &pr_local;
    nvml_fn_t f;
    memset(&f, 0, sizeof f);
    void *h = nvml_open(&f, pr);
    if (!h) {
        char msg[TACL_ERRMSG_MAX];
        size_t o = (size_t)snprintf(msg, sizeof msg, "NVML could not be loaded; tried:");
        for (int i = 0; i < pr->ncand && o < sizeof msg; i++)
            o += (size_t)snprintf(msg + o, sizeof msg - o, "%s %s: %s", i ? ";" : "",
                                  pr->cand[i].path, pr->cand[i].why);
        return tacl__err(eb, TACL_ERR_UNAVAILABLE, TACL_SUB_GPU, "%s", msg);
    }
    int r = f.Init();
    if (r != 0) {
        tacl_status_t st = tacl__err(eb, TACL_ERR_UNAVAILABLE, TACL_SUB_GPU,
                                     "nvmlInit_v2 failed in %s: %s (result %d)",
                                     pr->cand[pr->chosen].path, f.ErrorString(r), r);
        dlclose(h);
        return st;
    }
    tacl_status_t st = TACL_OK;
    tacl__gpu_topo_t *t = calloc(1, sizeof *t);
    nvml_pci_t *pci = calloc(TACL_GPU_MAX, sizeof *pci);
    nvml_dev_t dev[TACL_GPU_MAX];
    int sw[TACL_GPU_MAX] = {0};
    unsigned n = 0;
    if (!t || !pci) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_GPU, "out of memory reading the GPU topology");
        goto out_shutdown;
    }
    if ((r = f.GetCount(&n)) != 0) {
        st = tacl__err(eb, TACL_ERR_GPU, TACL_SUB_GPU, "nvmlDeviceGetCount_v2 failed: %s",
                       f.ErrorString(r));
        goto out_shutdown;
    }
    if (n > TACL_GPU_MAX) n = TACL_GPU_MAX;
    t->ngpu = (int)n;
    if (f.SystemGetDriverVersion) f.SystemGetDriverVersion(t->driver, sizeof t->driver);
    for (unsigned i = 0; i < n; i++) {
        nvml_mem_t m = {0, 0, 0};
        if ((r = f.GetHandleByIndex(i, &dev[i])) != 0 ||
            (r = f.GetName(dev[i], t->name[i], sizeof t->name[i])) != 0 ||
            (r = f.GetPciInfo(dev[i], &pci[i])) != 0) {
            st = tacl__err(eb, TACL_ERR_GPU, TACL_SUB_GPU, "NVML could not describe GPU %u: %s", i,
                           f.ErrorString(r));
            goto out_shutdown;
        }
        if (f.GetMemoryInfo(dev[i], &m) == 0) t->mem_total[i] = m.total;
        snprintf(t->bus_id[i], sizeof t->bus_id[i], "%s", pci[i].busId);
    }
    for (unsigned i = 0; i < n; i++) {
        for (unsigned j = 0; j < n; j++) {
            tacl__gpu_link_t *l = &t->link[i][j];
            int level = 0;
            l->pci_kind = i == j ? TACL_GPU_LINK_SELF : TACL_GPU_LINK_UNKNOWN;
            if (i != j && f.GetTopologyCommonAncestor &&
                f.GetTopologyCommonAncestor(dev[i], dev[j], &level) == 0)
                l->pci_kind = nvml_level_kind(level);
            l->kind = (tacl__gpu_link_kind_t)l->pci_kind;
        }
        if (!f.GetNvLinkState || !f.GetNvLinkRemotePciInfo) continue;
        for (unsigned k = 0; k < NVML_MAX_LINKS; k++) {
            int active = 0;
            nvml_pci_t rp;
            if (f.GetNvLinkState(dev[i], k, &active) != 0 || !active) continue;
            if (f.GetNvLinkRemotePciInfo(dev[i], k, &rp) != 0) continue;
            int peer = -1;
            for (unsigned j = 0; j < n; j++)
                if (j != i && nvml_same_pci(&rp, &pci[j])) peer = (int)j;
            if (peer >= 0)
                t->link[i][peer].nvlinks++;
            else
                sw[i]++;
        }
    }
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < n; j++) {
            tacl__gpu_link_t *l = &t->link[i][j];
            if (i == j) continue;
            if (l->nvlinks == 0 && sw[i] > 0 && sw[j] > 0)
                l->nvlinks = sw[i] < sw[j] ? sw[i] : sw[j];
            if (l->nvlinks > 0) l->kind = TACL_GPU_LINK_NVLINK;
        }
    *out = t;
    t = NULL;
out_shutdown:
    free(t);
    free(pci);
    f.Shutdown();
    dlclose(h);
    return st;
}

const char *tacl__gpu_link_str(const tacl__gpu_link_t *l, char *buf, size_t len)
{
    static const char *const names[] = {"X", "NV", "PIX", "PXB", "PHB", "NODE", "SYS", "?"};
    if (l->kind == TACL_GPU_LINK_NVLINK)
        snprintf(buf, len, "NV%d", l->nvlinks);
    else
        snprintf(buf, len, "%s", names[l->kind <= TACL_GPU_LINK_UNKNOWN ? l->kind : 7]);
    return buf;
}

void tacl__gpu_topo_print(FILE *f, const tacl__gpu_topo_t *t)
{
    char cell[16];
    fprintf(f, "%-6s", "");
    for (int j = 0; j < t->ngpu; j++)
        fprintf(f, " GPU%-3d", j);
    fprintf(f, "\n");
    for (int i = 0; i < t->ngpu; i++) {
        fprintf(f, "GPU%-3d", i);
        for (int j = 0; j < t->ngpu; j++)
            fprintf(f, " %-6s", tacl__gpu_link_str(&t->link[i][j], cell, sizeof cell));
        fprintf(f, "\n");
    }
    fprintf(f,
            "\nLegend: X self; NV# joined by # NVLinks; PIX at most one PCIe switch; PXB several "
            "PCIe switches; PHB a PCIe host bridge; NODE host bridges of one NUMA node; SYS "
            "across NUMA nodes\n");
}
