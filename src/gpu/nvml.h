/* nvml.h — the GPUs of this host as NVML sees them (name, memory, PCI bus id) and the link
 * matrix between them, like `nvidia-smi topo -m`: the number of NVLinks per pair (direct, or
 * through NVSwitches) or the PCIe path (PIX, PXB, PHB, NODE, SYS). NVML is dlopen'd
 * (TACL_NVML_SO_PATH, else libnvidia-ml.so.1); other parts (tacl topo, the planner) call
 * tacl__gpu_topo_read to get the matrix. */
#ifndef TACL_GPU_NVML_H
#define TACL_GPU_NVML_H

#include "err.h"
#include "gpu/gpu_dl.h"

#include <stdio.h>

#define TACL_GPU_MAX 64

typedef enum {
    TACL_GPU_LINK_SELF = 0,
    TACL_GPU_LINK_NVLINK, /* nvlinks > 0 */
    TACL_GPU_LINK_PIX,    /* at most one PCIe switch between them */
    TACL_GPU_LINK_PXB,    /* several PCIe switches, no host bridge */
    TACL_GPU_LINK_PHB,    /* through a PCIe host bridge */
    TACL_GPU_LINK_NODE,   /* through the interconnect between host bridges of one NUMA node */
    TACL_GPU_LINK_SYS,    /* through the interconnect between NUMA nodes */
    TACL_GPU_LINK_UNKNOWN
} tacl__gpu_link_kind_t;

typedef struct {
    tacl__gpu_link_kind_t kind;
    int nvlinks;  /* NVLinks joining the pair (direct, or through NVSwitches) */
    int pci_kind; /* the PCIe path as well (TACL_GPU_LINK_PIX...SYS), for when NVLink is off */
} tacl__gpu_link_t;

typedef struct {
    int ngpu;
    char driver[80];
    char name[TACL_GPU_MAX][96];
    char bus_id[TACL_GPU_MAX][32];
    unsigned long long mem_total[TACL_GPU_MAX]; /* bytes */
    tacl__gpu_link_t link[TACL_GPU_MAX][TACL_GPU_MAX];
} tacl__gpu_topo_t;

/* Where NVML was looked for and what happened (for tacl info --gpu). */
typedef struct {
    gpu_cand_t cand[2];
    int ncand;
    int chosen;
} tacl__nvml_probe_t;

/* Reads the GPUs and their link matrix through NVML. *out is malloc'd (free with free()).
 * TACL_ERR_UNAVAILABLE when NVML cannot be loaded or initialised (the message says which file
 * and why); probe (may be NULL) receives the candidates either way. */
tacl_status_t tacl__gpu_topo_read(tacl__gpu_topo_t **out, tacl__nvml_probe_t *probe,
                                  tacl__errbuf_t *eb);

/* The cell text of one pair as nvidia-smi topo -m writes it: "X", "NV4", "PIX", "SYS" ... */
const char *tacl__gpu_link_str(const tacl__gpu_link_t *l, char *buf, size_t len);

/* Prints the matrix (header row of GPU names, one row per GPU) and a legend. */
void tacl__gpu_topo_print(FILE *f, const tacl__gpu_topo_t *t);

#endif
