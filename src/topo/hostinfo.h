/* hostinfo.h — what this host has for communication: NUMA nodes and cores (through hwloc when
 * built with it, else sysfs), network interfaces (sysfs + getifaddrs), GPUs (NVIDIA 0x10de and
 * AMD 0x1002 PCI devices of class display 0x03 or processing accelerator 0x12, from sysfs),
 * and the PCI relation of every GPU/NIC pair in nvidia-smi's terms (PIX/PXB/PHB/NODE/SYS),
 * computed from the devices' sysfs paths. Everything is read under TACL_SYSFS_ROOT when set,
 * so tests replay snapshots of other machines (hwloc is pointed there through HWLOC_FSROOT).
 * Interface addresses exist only on the live system (getifaddrs), never for a snapshot. */
#ifndef TACL_TOPO_HOSTINFO_H
#define TACL_TOPO_HOSTINFO_H

#include "err.h"

#define TACL_HOSTINFO_MAX_ADDRS 8

typedef struct {
    int id;         /* OS index */
    char cpus[256]; /* cpulist syntax, "0-7,16-23" */
    int ncpus;
    long long mem_kb; /* -1 unknown */
} tacl__numa_info_t;

typedef struct {
    char name[64];
    char pci[32];   /* "0000:3b:00.0"; "" for a virtual interface */
    char path[512]; /* sysfs device path below the root ("/sys/devices/pci0000:3a/..."), or "" */
    char mac[64];
    char state[16];  /* operstate: up, down, unknown ... */
    int numa;        /* -1 unknown */
    long speed_mbps; /* -1 unknown (virtual, or link down) */
    int naddrs;
    char addrs[TACL_HOSTINFO_MAX_ADDRS][64]; /* "10.1.2.3/24", "fe80::1/64" */
} tacl__nic_info_t;

typedef struct {
    char pci[32];
    char path[512];
    const char *vendor_name; /* "NVIDIA", "AMD" */
    unsigned vendor, device, pci_class;
    int numa;
} tacl__gpu_info_t;

typedef struct {
    char hostname[256];
    char root[512];  /* TACL_SYSFS_ROOT, "" for the live system */
    char source[64]; /* "hwloc (API 2.8)" or "sysfs" */
    char note[256];  /* why a fallback happened, or "" */
    int npackages, ncores, npus;
    int nnuma;
    tacl__numa_info_t *numa;
    int nnics;
    tacl__nic_info_t *nics;
    int ngpus;
    tacl__gpu_info_t *gpus; /* ordered by PCI address (CUDA_DEVICE_ORDER=PCI_BUS_ID) */
} tacl__hostinfo_t;

typedef enum {
    TACL_PCI_SELF = 0, /* X */
    TACL_PCI_PIX,      /* through at most one PCIe switch */
    TACL_PCI_PXB,      /* through several PCIe switches, not the host bridge */
    TACL_PCI_PHB,      /* through one PCIe host bridge (the CPU) */
    TACL_PCI_NODE,     /* between host bridges of one NUMA node */
    TACL_PCI_SYS       /* across NUMA nodes (the SMP interconnect) */
} tacl__pci_link_t;

/* source: NULL or "auto" (hwloc when built with it), "hwloc", "sysfs". A missing hwloc, or one
 * that fails to load, falls back to sysfs with the reason in note (explicit "hwloc" instead
 * fails with TACL_ERR_UNAVAILABLE). TACL_ERR_NOT_FOUND when the root has no sysfs. */
tacl_status_t tacl__hostinfo_discover(const char *source, tacl__hostinfo_t **out,
                                      tacl__errbuf_t *eb);
void tacl__hostinfo_destroy(tacl__hostinfo_t *h);

/* Relation of two PCI devices given their sysfs paths and NUMA nodes. */
tacl__pci_link_t tacl__pci_link(const char *path_a, int numa_a, const char *path_b, int numa_b);
const char *tacl__pci_link_name(tacl__pci_link_t l); /* "X", "PIX", ... */

/* Count of CPUs in a cpulist ("0-3,8" -> 5); -1 when malformed. */
int tacl__cpulist_count(const char *list);

#endif
