/* gpu_loader_fake_nvml.c — canned NVML answers for the link-matrix test: four GPUs where GPU0 and
 * GPU1 share 4 direct NVLinks (and one PCIe switch), GPU2 and GPU3 reach NVSwitches with 3
 * links each (and no direct link), GPU0/GPU2 meet at a host bridge of one NUMA node (NODE), and
 * every other pair crosses NUMA nodes (SYS). */
#include <stdio.h>
#include <string.h>

typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} fake_pci_t;

typedef struct {
    unsigned long long total, free, used;
} fake_mem_t;

static int fake_dev[4] = {0, 1, 2, 3};
static const unsigned fake_bus[4] = {0x18, 0x2a, 0x9a, 0xab};
#define FAKE_SWITCH_BUS 0xee

int nvmlInit_v2(void)
{
    return 0;
}
int nvmlShutdown(void)
{
    return 0;
}
const char *nvmlErrorString(int r)
{
    return r ? "fake NVML error" : "Success";
}
int nvmlDeviceGetCount_v2(unsigned *n)
{
    *n = 4;
    return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **d)
{
    if (i >= 4) return 2;
    *d = &fake_dev[i];
    return 0;
}
int nvmlDeviceGetName(void *d, char *name, unsigned len)
{
    snprintf(name, len, "Fake GPU %d", *(int *)d);
    return 0;
}
int nvmlDeviceGetMemoryInfo(void *d, fake_mem_t *m)
{
    m->total = (unsigned long long)(80 + *(int *)d) << 30;
    m->free = m->total;
    m->used = 0;
    return 0;
}
static void fake_fill(fake_pci_t *p, unsigned bus)
{
    memset(p, 0, sizeof *p);
    p->bus = bus;
    snprintf(p->busId, sizeof p->busId, "00000000:%02X:00.0", bus);
}
int nvmlDeviceGetPciInfo_v3(void *d, fake_pci_t *p)
{
    fake_fill(p, fake_bus[*(int *)d]);
    return 0;
}
int nvmlDeviceGetTopologyCommonAncestor(void *a, void *b, int *level)
{
    int i = *(int *)a, j = *(int *)b;
    if (i == j)
        *level = 0;
    else if ((i | j) == 1)
        *level = 10; /* 0-1: one PCIe switch */
    else if ((i == 0 && j == 2) || (i == 2 && j == 0))
        *level = 40;
    else
        *level = 50;
    return 0;
}
int nvmlDeviceGetNvLinkState(void *d, unsigned link, int *active)
{
    int i = *(int *)d;
    *active = (i < 2 && link < 4) || (i >= 2 && link < 3);
    return 0;
}
int nvmlDeviceGetNvLinkRemotePciInfo_v2(void *d, unsigned link, fake_pci_t *p)
{
    (void)link;
    int i = *(int *)d;
    fake_fill(p, i == 0 ? fake_bus[1] : i == 1 ? fake_bus[0] : FAKE_SWITCH_BUS);
    return 0;
}
int nvmlSystemGetDriverVersion(char *v, unsigned len)
{
    snprintf(v, len, "999.99-fake");
    return 0;
}
