/* hostinfo.c (test) — host discovery on sysfs snapshots: the committed 2-socket tree (values
 * from its generator's description), a tree written here (no NUMA directory, a 0x12
 * accelerator, unknown NUMA node), PCI relations from synthetic paths, cpulists, and errors
 * for a missing root and an unknown source. */
#include "check.h"
#include "topo/hostinfo.h"

#include <errno.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

static void hit_write(const char *root, const char *rel, const char *text)
{
    char path[1024], cmd[1200];
    snprintf(path, sizeof path, "%s%s", root, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    CHECK(system(cmd) == 0);
    *slash = '/';
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

static char hit_tmp[256];
static void hit_cleanup(void)
{
    char cmd[400];
    if (!hit_tmp[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", hit_tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", hit_tmp);
}

static void test_pci_link(void)
{
    const char *sw0 = "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0";
    char g0[256], g1[256], g2[256], deep[256], rp2[256], other[256];
    snprintf(g0, sizeof g0, "%s/0000:02:00.0/0000:03:00.0", sw0);
    snprintf(g1, sizeof g1, "%s/0000:02:01.0/0000:04:00.0", sw0);
    snprintf(deep, sizeof deep, "%s/0000:02:02.0/0000:05:00.0/0000:06:00.0/0000:07:00.0", sw0);
    snprintf(g2, sizeof g2, "/sys/devices/pci0000:00/0000:00:02.0/0000:08:00.0");
    snprintf(rp2, sizeof rp2, "/sys/devices/pci0000:00/0000:00:1f.6");
    snprintf(other, sizeof other, "/sys/devices/pci0000:80/0000:80:01.0/0000:81:00.0");
    CHECK(tacl__pci_link(g0, 0, g0, 0) == TACL_PCI_SELF);
    CHECK(tacl__pci_link(g0, 0, g1, 0) == TACL_PCI_PIX);
    CHECK(tacl__pci_link(g0, 0, deep, 0) == TACL_PCI_PXB);
    CHECK(tacl__pci_link(deep, 0, g1, 0) == TACL_PCI_PXB);
    CHECK(tacl__pci_link(g0, 0, g2, 0) == TACL_PCI_PHB);
    CHECK(tacl__pci_link(rp2, 0, g2, 0) == TACL_PCI_PHB);
    CHECK(tacl__pci_link(g0, 0, other, 0) == TACL_PCI_NODE);
    CHECK(tacl__pci_link(g0, 0, other, 1) == TACL_PCI_SYS);
    CHECK(tacl__pci_link(g0, -1, other, 1) == TACL_PCI_NODE); /* unknown node: not claimed SYS */
    CHECK(tacl__pci_link("", 0, other, 1) == TACL_PCI_SYS);
    CHECK(!strcmp(tacl__pci_link_name(TACL_PCI_PXB), "PXB"));
    CHECK(!strcmp(tacl__pci_link_name((tacl__pci_link_t)42), "?"));
}

static void test_cpulist(void)
{
    CHECK(tacl__cpulist_count("0-7") == 8);
    CHECK(tacl__cpulist_count("0-3,8,10-11") == 7);
    CHECK(tacl__cpulist_count("5") == 1);
    CHECK(tacl__cpulist_count("") == 0);
    CHECK(tacl__cpulist_count("3-1") == -1);
    CHECK(tacl__cpulist_count("a") == -1);
    CHECK(tacl__cpulist_count("0-3;4") == -1);
}

static void test_snapshot(const char *src_dir, const char *source)
{
    char root[1024];
    snprintf(root, sizeof root, "%s/tests/data/sysfs/2s4g2n", src_dir);
    setenv("TACL_SYSFS_ROOT", root, 1);
    tacl__hostinfo_t *h;
    tacl__errbuf_t eb = {{0}};
    tacl_status_t st = tacl__hostinfo_discover(source, &h, &eb);
    if (st == TACL_ERR_UNAVAILABLE && !strcmp(source, "hwloc")) {
        CHECK_CONTAINS(eb.msg, "built without hwloc");
        printf("hwloc not built in: %s\n", eb.msg);
        return;
    }
    CHECK_OK(st);
    CHECK(!strcmp(h->hostname, "fake-2s4g"));
    CHECK(!strcmp(h->root, root));
    CHECK(h->npackages == 2 && h->ncores == 8 && h->npus == 16);
    CHECK(h->nnuma == 2);
    CHECK(h->numa[0].id == 0 && !strcmp(h->numa[0].cpus, "0-7") && h->numa[0].ncpus == 8);
    CHECK(h->numa[1].id == 1 && !strcmp(h->numa[1].cpus, "8-15"));
    CHECK(h->numa[0].mem_kb == 65536000 && h->numa[1].mem_kb == 65536000);
    /* 4 GPUs: the NVIDIA audio function and the 0x0680 bridge are not GPUs. */
    CHECK(h->ngpus == 4);
    CHECK(!strcmp(h->gpus[0].pci, "0000:03:00.0") && !strcmp(h->gpus[3].pci, "0000:c1:00.0"));
    CHECK(!strcmp(h->gpus[3].vendor_name, "AMD") && h->gpus[3].pci_class == 0x038000);
    CHECK(h->gpus[2].numa == 1 && h->gpus[0].vendor == 0x10de && h->gpus[0].device == 0x2330);
    CHECK(!strcmp(h->gpus[1].path,
                  "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:01.0/0000:04:00.0"));
    /* NICs in name order; addresses never come from a snapshot. */
    CHECK(h->nnics == 4);
    CHECK(!strcmp(h->nics[0].name, "eno1") && !strcmp(h->nics[0].pci, "0000:00:1f.6"));
    CHECK(h->nics[0].speed_mbps == 1000 && h->nics[0].numa == 0);
    CHECK(!strcmp(h->nics[2].name, "ens2f0") && h->nics[2].numa == 1);
    CHECK(!strcmp(h->nics[2].mac, "b8:3f:d2:00:00:86") && !strcmp(h->nics[2].state, "up"));
    CHECK(!strcmp(h->nics[3].name, "lo") && !h->nics[3].pci[0] && h->nics[3].speed_mbps == -1);
    for (int i = 0; i < h->nnics; i++)
        CHECK(h->nics[i].naddrs == 0);
    /* The relations the generator placed. */
    CHECK(tacl__pci_link(h->gpus[0].path, 0, h->gpus[1].path, 0) == TACL_PCI_PIX);
    CHECK(tacl__pci_link(h->gpus[2].path, 1, h->nics[2].path, 1) == TACL_PCI_PXB);
    CHECK(tacl__pci_link(h->gpus[0].path, 0, h->nics[0].path, 0) == TACL_PCI_PHB);
    CHECK(tacl__pci_link(h->gpus[2].path, 1, h->gpus[3].path, 1) == TACL_PCI_NODE);
    CHECK(tacl__pci_link(h->gpus[0].path, 0, h->gpus[2].path, 1) == TACL_PCI_SYS);
    if (!strcmp(source, "sysfs")) CHECK(!strcmp(h->source, "sysfs"));
    tacl__hostinfo_destroy(h);
}

/* A tree without /sys/devices/system/node (kernel without NUMA), with an accelerator of class
 * 0x12 whose NUMA node is unknown, and an offline CPU. */
static void test_written_tree(void)
{
    snprintf(hit_tmp, sizeof hit_tmp, "/tmp/tacl-hostinfo-%d", (int)getpid());
    atexit(hit_cleanup);
    const char *r = hit_tmp;
    hit_write(r, "/sys/devices/system/cpu/online", "0-2\n");
    for (int i = 0; i < 4; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", i);
        hit_write(r, rel, "0\n");
        snprintf(rel, sizeof rel, "/sys/devices/system/cpu/cpu%d/topology/core_id", i);
        hit_write(r, rel, i < 2 ? "0\n" : "1\n");
    }
    hit_write(r, "/sys/devices/system/cpu/cpu3/online", "0\n");
    hit_write(r, "/sys/devices/pci0000:00/0000:00:05.0/vendor", "0x1002\n");
    hit_write(r, "/sys/devices/pci0000:00/0000:00:05.0/device", "0x74a1\n");
    hit_write(r, "/sys/devices/pci0000:00/0000:00:05.0/class", "0x120000\n");
    hit_write(r, "/sys/devices/pci0000:00/0000:00:05.0/numa_node", "-1\n");
    char link[512];
    snprintf(link, sizeof link, "%s/sys/bus/pci/devices", r);
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && ln -s ../../../devices/pci0000:00/0000:00:05.0 '%s/0000:00:05.0'",
             link, link);
    CHECK(system(cmd) == 0);
    setenv("TACL_SYSFS_ROOT", r, 1);
    tacl__hostinfo_t *h;
    tacl__errbuf_t eb = {{0}};
    CHECK_OK(tacl__hostinfo_discover("sysfs", &h, &eb));
    CHECK(!strcmp(h->hostname, "unknown"));
    CHECK(h->npus == 3 && h->ncores == 2 && h->npackages == 1);
    CHECK(h->nnuma == 1 && !strcmp(h->numa[0].cpus, "0-2") && h->numa[0].ncpus == 3);
    CHECK(h->numa[0].mem_kb == -1);
    CHECK(h->ngpus == 1 && h->gpus[0].pci_class == 0x120000 && h->gpus[0].numa == -1);
    CHECK(!strcmp(h->gpus[0].path, "/sys/devices/pci0000:00/0000:00:05.0"));
    CHECK(h->nnics == 0);
    tacl__hostinfo_destroy(h);
}

int main(void)
{
    const char *src = getenv("TACL_SOURCE_DIR");
    if (!src) SKIP("TACL_SOURCE_DIR not set (run through ctest)");
    test_pci_link();
    test_cpulist();
    test_snapshot(src, "sysfs");
    test_snapshot(src, "auto");
    test_snapshot(src, "hwloc");
    test_written_tree();

    tacl__hostinfo_t *h = NULL;
    tacl__errbuf_t eb = {{0}};
    setenv("TACL_SYSFS_ROOT", "/nonexistent-tacl-root", 1);
    CHECK_ST(tacl__hostinfo_discover(NULL, &h, &eb), TACL_ERR_NOT_FOUND);
    CHECK(h == NULL);
    CHECK_CONTAINS(eb.msg, "/nonexistent-tacl-root/sys/devices is not a directory");
    CHECK_ST(tacl__hostinfo_discover("magic", &h, &eb), TACL_ERR_INVALID);
    CHECK_CONTAINS(eb.msg, "hostinfo source 'magic': expected auto, hwloc or sysfs");

    /* The live host: at least one PU and lo, whose address getifaddrs reports when it is up. */
    unsetenv("TACL_SYSFS_ROOT");
    CHECK_OK(tacl__hostinfo_discover(NULL, &h, &eb));
    CHECK(h->npus >= 1 && h->nnuma >= 1 && !h->root[0]);
    CHECK(h->npus == (int)sysconf(_SC_NPROCESSORS_CONF) ||
          h->npus == (int)sysconf(_SC_NPROCESSORS_ONLN));
    int lo = -1;
    for (int i = 0; i < h->nnics; i++)
        if (!strcmp(h->nics[i].name, "lo")) lo = i;
    CHECK(lo >= 0);
    int has127 = 0;
    for (int a = 0; a < h->nics[lo].naddrs; a++)
        has127 |= !strcmp(h->nics[lo].addrs[a], "127.0.0.1/8");
    if (h->nics[lo].naddrs) CHECK(has127);
    tacl__hostinfo_destroy(h);
    printf("hostinfo: ok\n");
    return 0;
}
