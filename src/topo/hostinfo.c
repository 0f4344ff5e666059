/* hostinfo.c — host discovery (see hostinfo.h): CPU packages, cores and NUMA nodes from hwloc
 * or sysfs; network interfaces from /sys/class/net plus getifaddrs; GPUs from the PCI devices
 * in /sys/bus/pci/devices; PCI relations from the devices' paths under /sys/devices. All
 * reads go through hi_path so that TACL_SYSFS_ROOT redirects every one of them. */
#include "topo/hostinfo.h"

#include "settings.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if TACL_HAVE_HWLOC
#include <hwloc.h>
#endif

/* ---- Small file helpers. ---- */

static void hi_path(const tacl__hostinfo_t *h, char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s%s", h->root, rel);
}

/* Reads the first line of a file (newline stripped); -1 when it cannot be read. */
static int hi_read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    if (!fgets(buf, (int)len, f)) {
        fclose(f);
        return -1;
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

static int hi_read_long(const char *path, long *out)
{
    char buf[64], *end;
    if (hi_read_line(path, buf, sizeof buf)) return -1;
    errno = 0;
    long v = strtol(buf, &end, 0);
    if (errno || end == buf) return -1;
    *out = v;
    return 0;
}

/* dir/name + leaf into buf; -1 (buf unusable) when it does not fit. */
static int hi_join(char *buf, size_t len, const char *dir, const char *name, const char *leaf)
{
    int w = snprintf(buf, len, "%s/%s%s", dir, name, leaf);
    if (w < 0 || (size_t)w >= len) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

static int hi_is_pci_addr(const char *s)
{
    unsigned d, b, dev, fn;
    char tail;
    return sscanf(s, "%4x:%2x:%2x.%1x%c", &d, &b, &dev, &fn, &tail) == 4;
}

int tacl__cpulist_count(const char *list)
{
    int count = 0;
    const char *p = list;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b;
        if (end == p || a < 0) return -1;
        p = end;
        b = a;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a) return -1;
            p = end;
        }
        count += (int)(b - a + 1);
        if (*p == ',')
            p++;
        else if (*p && *p != '\n')
            return -1;
        else
            break;
    }
    return count;
}

/* Sorted directory listing (names not starting with '.'); *out malloc'd, entries too. */
static int hi_list_dir(const char *path, char ***out)
{
    struct dirent **ents;
    int n = scandir(path, &ents, NULL, alphasort);
    if (n < 0) return -1;
    char **names = calloc((size_t)n + 1, sizeof(char *));
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (names && ents[i]->d_name[0] != '.') names[k++] = strdup(ents[i]->d_name);
        free(ents[i]);
    }
    free(ents);
    if (!names) return -1;
    *out = names;
    return k;
}

static void hi_free_list(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The sysfs path of a device below the root: realpath of the link, root prefix removed. */
static void hi_device_path(const tacl__hostinfo_t *h, const char *link, char *out, size_t len)
{
    char real[PATH_MAX], rroot[PATH_MAX];
    out[0] = '\0';
    if (!realpath(link, real)) return;
    size_t skip = 0;
    if (h->root[0] && realpath(h->root, rroot)) {
        size_t rl = strlen(rroot);
        if (!strncmp(real, rroot, rl)) skip = rl;
    }
    size_t l = strlen(real + skip);
    if (l < len) memcpy(out, real + skip, l + 1);
}

/* ---- CPUs and NUMA from sysfs. ---- */

static tacl_status_t hi_numa_add(tacl__hostinfo_t *h, int id, const char *cpus, long long mem_kb,
                                 tacl__errbuf_t *eb)
{
    tacl__numa_info_t *n = realloc(h->numa, ((size_t)h->nnuma + 1) * sizeof *n);
    if (!n) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "hostinfo: out of memory");
    h->numa = n;
    tacl__numa_info_t *x = &h->numa[h->nnuma++];
    memset(x, 0, sizeof *x);
    x->id = id;
    snprintf(x->cpus, sizeof x->cpus, "%s", cpus);
    x->ncpus = tacl__cpulist_count(cpus);
    x->mem_kb = mem_kb;
    return TACL_OK;
}

static long long hi_node_mem_kb(const tacl__hostinfo_t *h, int id)
{
    char rel[128], path[1024], line[256];
    snprintf(rel, sizeof rel, "/sys/devices/system/node/node%d/meminfo", id);
    hi_path(h, path, sizeof path, rel);
    FILE *f = fopen(path, "r");
    long long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "MemTotal:");
        if (p) {
            kb = strtoll(p + 9, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

static tacl_status_t hi_sysfs_cpus(tacl__hostinfo_t *h, tacl__errbuf_t *eb)
{
    char path[1024], buf[1024];
    char **names;
    hi_path(h, path, sizeof path, "/sys/devices/system/cpu");
    int n = hi_list_dir(path, &names);
    if (n < 0)
        return tacl__err(eb, TACL_ERR_NOT_FOUND, TACL_SUB_TOPO,
                         "hostinfo: cannot list %s (expected a sysfs tree%s%s)", path,
                         h->root[0] ? " under TACL_SYSFS_ROOT=" : "", h->root);
    /* Packages and cores: distinct package ids and (package, core) pairs of online CPUs. */
    long *pkg = calloc((size_t)n + 1, sizeof(long)), *core = calloc((size_t)n + 1, sizeof(long));
    int npu = 0, npkg = 0, ncore = 0;
    for (int i = 0; pkg && core && i < n; i++) {
        int id;
        char tail;
        if (sscanf(names[i], "cpu%d%c", &id, &tail) != 1) continue;
        long online = 1, p = 0, c = npu;
        hi_join(buf, sizeof buf, path, names[i], "/online");
        hi_read_long(buf, &online); /* cpu0 often has no online file: it is online */
        if (!online) continue;
        hi_join(buf, sizeof buf, path, names[i], "/topology/physical_package_id");
        hi_read_long(buf, &p);
        hi_join(buf, sizeof buf, path, names[i], "/topology/core_id");
        hi_read_long(buf, &c);
        int seen_pkg = 0, seen_core = 0;
        for (int j = 0; j < npu; j++) {
            seen_pkg |= pkg[j] == p;
            seen_core |= pkg[j] == p && core[j] == c;
        }
        npkg += !seen_pkg;
        ncore += !seen_core;
        pkg[npu] = p;
        core[npu++] = c;
    }
    free(pkg);
    free(core);
    hi_free_list(names, n);
    h->npackages = npkg;
    h->ncores = ncore;
    h->npus = npu;

    hi_path(h, path, sizeof path, "/sys/devices/system/node");
    n = hi_list_dir(path, &names);
    tacl_status_t st = TACL_OK;
    for (int i = 0; n > 0 && i < n && st == TACL_OK; i++) {
        int id;
        char tail;
        if (sscanf(names[i], "node%d%c", &id, &tail) != 1) continue;
        hi_join(buf, sizeof buf, path, names[i], "/cpulist");
        char cpus[256] = "";
        hi_read_line(buf, cpus, sizeof cpus);
        st = hi_numa_add(h, id, cpus, hi_node_mem_kb(h, id), eb);
    }
    if (n > 0) hi_free_list(names, n);
    /* A kernel without NUMA support has no node directory: one node holding every CPU. */
    if (st == TACL_OK && h->nnuma == 0) {
        char cpus[256] = "";
        hi_path(h, path, sizeof path, "/sys/devices/system/cpu/online");
        hi_read_line(path, cpus, sizeof cpus);
        st = hi_numa_add(h, 0, cpus, -1, eb);
    }
    /* Numeric order (the listing is alphabetical: node10 before node2). */
    for (int i = 1; i < h->nnuma; i++)
        for (int j = i; j > 0 && h->numa[j].id < h->numa[j - 1].id; j--) {
            tacl__numa_info_t t = h->numa[j];
            h->numa[j] = h->numa[j - 1];
            h->numa[j - 1] = t;
        }
    return st;
}

/* ---- CPUs and NUMA from hwloc. ---- */

#if TACL_HAVE_HWLOC
/* hwloc reads a replayed tree through HWLOC_FSROOT (its only way to be told); set it for the
 * load and restore the caller's value after. Discovery runs once, at start, in the CLI or at
 * init before threads that read the environment, which makes this acceptable. */
static tacl_status_t hi_hwloc_cpus(tacl__hostinfo_t *h, tacl__errbuf_t *eb)
{
    char *saved = getenv("HWLOC_FSROOT") ? strdup(getenv("HWLOC_FSROOT")) : NULL;
    hwloc_topology_t t;
    if (h->root[0]) setenv("HWLOC_FSROOT", h->root, 1);
    int rc = hwloc_topology_init(&t);
    if (!rc) rc = hwloc_topology_load(t);
    if (saved)
        setenv("HWLOC_FSROOT", saved, 1);
    else
        unsetenv("HWLOC_FSROOT");
    free(saved);
    if (rc) {
        return tacl__err(eb, TACL_ERR_UNAVAILABLE, TACL_SUB_TOPO,
                         "hwloc could not load the topology of %s: %s",
                         h->root[0] ? h->root : "this host", strerror(errno));
    }
    h->npackages = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
    h->ncores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
    h->npus = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
    int nn = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
    tacl_status_t st = TACL_OK;
    for (int i = 0; i < nn && st == TACL_OK; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, (unsigned)i);
        char cpus[256];
        hwloc_bitmap_list_snprintf(cpus, sizeof cpus, o->cpuset);
        long long kb = o->attr ? (long long)(o->attr->numanode.local_memory / 1024) : -1;
        st = hi_numa_add(h, (int)o->os_index, cpus, kb > 0 ? kb : -1, eb);
    }
    hwloc_topology_destroy(t);
    if (st == TACL_OK && h->npus <= 0)
        st = tacl__err(eb, TACL_ERR_UNAVAILABLE, TACL_SUB_TOPO,
                       "hwloc found no processing units under %s", h->root[0] ? h->root : "/");
    return st;
}
#endif

/* ---- Network interfaces. ---- */

static void hi_nic_addrs(tacl__hostinfo_t *h)
{
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa)) {
        TACL_WARN(TACL_SUB_TOPO, "getifaddrs: %s: interface addresses not listed", strerror(errno));
        return;
    }
    for (struct ifaddrs *a = ifa; a; a = a->ifa_next) {
        if (!a->ifa_addr ||
            (a->ifa_addr->sa_family != AF_INET && a->ifa_addr->sa_family != AF_INET6))
            continue;
        for (int i = 0; i < h->nnics; i++) {
            tacl__nic_info_t *n = &h->nics[i];
            if (strcmp(n->name, a->ifa_name) || n->naddrs >= TACL_HOSTINFO_MAX_ADDRS) continue;
            char ip[INET6_ADDRSTRLEN] = "";
            int prefix = 0;
            if (a->ifa_addr->sa_family == AF_INET) {
                inet_ntop(AF_INET, &((struct sockaddr_in *)a->ifa_addr)->sin_addr, ip, sizeof ip);
                if (a->ifa_netmask)
                    prefix =
                        __builtin_popcount(((struct sockaddr_in *)a->ifa_netmask)->sin_addr.s_addr);
            } else {
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr, ip,
                          sizeof ip);
                if (a->ifa_netmask) {
                    const unsigned char *m =
                        ((struct sockaddr_in6 *)a->ifa_netmask)->sin6_addr.s6_addr;
                    for (int b = 0; b < 16; b++)
                        prefix += __builtin_popcount(m[b]);
                }
            }
            snprintf(n->addrs[n->naddrs++], sizeof n->addrs[0], "%s/%d", ip, prefix);
        }
    }
    freeifaddrs(ifa);
}

static tacl_status_t hi_nics(tacl__hostinfo_t *h, tacl__errbuf_t *eb)
{
    char path[1024], buf[1024];
    char **names;
    hi_path(h, path, sizeof path, "/sys/class/net");
    int n = hi_list_dir(path, &names);
    if (n < 0) {
        TACL_INFO(TACL_SUB_TOPO, "hostinfo: no %s: no network interfaces listed", path);
        return TACL_OK;
    }
    h->nics = calloc((size_t)n + 1, sizeof *h->nics);
    if (!h->nics) {
        hi_free_list(names, n);
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "hostinfo: out of memory");
    }
    for (int i = 0; i < n; i++) {
        tacl__nic_info_t *x = &h->nics[h->nnics++];
        snprintf(x->name, sizeof x->name, "%s", names[i]);
        x->numa = -1;
        x->speed_mbps = -1;
        hi_join(buf, sizeof buf, path, names[i], "/device");
        char dev[512];
        hi_device_path(h, buf, dev, sizeof dev);
        const char *base = strrchr(dev, '/');
        if (base && hi_is_pci_addr(base + 1)) {
            snprintf(x->pci, sizeof x->pci, "%s", base + 1);
            snprintf(x->path, sizeof x->path, "%s", dev);
            long v;
            hi_join(buf, sizeof buf, path, names[i], "/device/numa_node");
            if (!hi_read_long(buf, &v) && v >= 0) x->numa = (int)v;
        }
        long sp;
        hi_join(buf, sizeof buf, path, names[i], "/speed");
        if (!hi_read_long(buf, &sp) && sp > 0) x->speed_mbps = sp;
        hi_join(buf, sizeof buf, path, names[i], "/operstate");
        if (hi_read_line(buf, x->state, sizeof x->state)) snprintf(x->state, sizeof x->state, "?");
        hi_join(buf, sizeof buf, path, names[i], "/address");
        hi_read_line(buf, x->mac, sizeof x->mac);
    }
    hi_free_list(names, n);
    if (!h->root[0]) hi_nic_addrs(h);
    return TACL_OK;
}

/* ---- GPUs. ---- */

static int hi_cmp_gpu(const void *a, const void *b)
{
    return strcmp(((const tacl__gpu_info_t *)a)->pci, ((const tacl__gpu_info_t *)b)->pci);
}

static tacl_status_t hi_gpus(tacl__hostinfo_t *h, tacl__errbuf_t *eb)
{
    char path[1024], buf[1024];
    char **names;
    hi_path(h, path, sizeof path, "/sys/bus/pci/devices");
    int n = hi_list_dir(path, &names);
    if (n < 0) {
        TACL_INFO(TACL_SUB_TOPO, "hostinfo: no %s: no PCI devices listed", path);
        return TACL_OK;
    }
    h->gpus = calloc((size_t)n + 1, sizeof *h->gpus);
    if (!h->gpus) {
        hi_free_list(names, n);
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "hostinfo: out of memory");
    }
    for (int i = 0; i < n; i++) {
        long vendor, device = 0, cls, numa = -1;
        hi_join(buf, sizeof buf, path, names[i], "/vendor");
        if (hi_read_long(buf, &vendor)) continue;
        hi_join(buf, sizeof buf, path, names[i], "/class");
        if (hi_read_long(buf, &cls)) continue;
        if (vendor != 0x10de && vendor != 0x1002) continue;
        /* Display controllers (0x03xx: VGA 0x0300, 3D 0x0302, other 0x0380) and processing
         * accelerators (0x12xx); NVIDIA audio functions and NVSwitch bridges are neither. */
        long base = (cls >> 16) & 0xff;
        if (base != 0x03 && base != 0x12) continue;
        tacl__gpu_info_t *g = &h->gpus[h->ngpus++];
        snprintf(g->pci, sizeof g->pci, "%s", names[i]);
        hi_join(buf, sizeof buf, path, names[i], "/device");
        hi_read_long(buf, &device);
        hi_join(buf, sizeof buf, path, names[i], "/numa_node");
        hi_read_long(buf, &numa);
        hi_join(buf, sizeof buf, path, names[i], "");
        hi_device_path(h, buf, g->path, sizeof g->path);
        g->vendor = (unsigned)vendor;
        g->device = (unsigned)device;
        g->pci_class = (unsigned)cls;
        g->numa = numa >= 0 ? (int)numa : -1;
        g->vendor_name = vendor == 0x10de ? "NVIDIA" : "AMD";
    }
    hi_free_list(names, n);
    qsort(h->gpus, (size_t)h->ngpus, sizeof *h->gpus, hi_cmp_gpu);
    return TACL_OK;
}

/* ---- PCI relations. ---- */

const char *tacl__pci_link_name(tacl__pci_link_t l)
{
    static const char *const names[] = {"X", "PIX", "PXB", "PHB", "NODE", "SYS"};
    return (unsigned)l < sizeof names / sizeof names[0] ? names[l] : "?";
}

/* Splits "/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0" into the host bridge
 * ("pci0000:3a") and the chain of PCI addresses below it. Returns the chain length, -1 when
 * the path is not under a PCI host bridge. */
static int hi_pci_chain(const char *path, char *bridge, size_t blen, char chain[][16], int max)
{
    const char *p = strstr(path, "/pci");
    if (!p) return -1;
    p++;
    const char *e = strchr(p, '/');
    size_t bl = e ? (size_t)(e - p) : strlen(p);
    snprintf(bridge, blen, "%.*s", (int)bl, p);
    int n = 0;
    while (e && n < max) {
        p = e + 1;
        e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char comp[64];
        snprintf(comp, sizeof comp, "%.*s", (int)(l < 63 ? l : 63), p);
        if (!hi_is_pci_addr(comp)) break;
        snprintf(chain[n++], 16, "%.15s", comp);
    }
    return n;
}

tacl__pci_link_t tacl__pci_link(const char *path_a, int numa_a, const char *path_b, int numa_b)
{
    char ba[64], bb[64], ca[32][16], cb[32][16];
    int na = hi_pci_chain(path_a, ba, sizeof ba, ca, 32);
    int nb = hi_pci_chain(path_b, bb, sizeof bb, cb, 32);
    if (na > 0 && nb > 0 && !strcmp(path_a, path_b)) return TACL_PCI_SELF;
    int cross_numa = numa_a >= 0 && numa_b >= 0 && numa_a != numa_b;
    if (na <= 0 || nb <= 0 || strcmp(ba, bb)) return cross_numa ? TACL_PCI_SYS : TACL_PCI_NODE;
    /* The device itself is the last element; bridges are the ones before it. */
    int ka = na - 1, kb = nb - 1, common = 0;
    while (common < ka && common < kb && !strcmp(ca[common], cb[common]))
        common++;
    if (common == 0) return TACL_PCI_PHB; /* different root ports of one host bridge */
    /* Below the deepest shared bridge, each side passes at most its switch's downstream
     * port: one switch. More bridges on either side mean more switches. */
    if (ka - common <= 1 && kb - common <= 1) return TACL_PCI_PIX;
    return TACL_PCI_PXB;
}

/* ---- Discovery. ---- */

void tacl__hostinfo_destroy(tacl__hostinfo_t *h)
{
    if (!h) return;
    free(h->numa);
    free(h->nics);
    free(h->gpus);
    free(h);
}

tacl_status_t tacl__hostinfo_discover(const char *source, tacl__hostinfo_t **out,
                                      tacl__errbuf_t *eb)
{
    if (!source || !source[0]) source = "auto";
    if (strcmp(source, "auto") && strcmp(source, "hwloc") && strcmp(source, "sysfs"))
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "hostinfo source '%s': expected auto, hwloc or sysfs", source);
#if !TACL_HAVE_HWLOC
    if (!strcmp(source, "hwloc"))
        return tacl__err(eb, TACL_ERR_UNAVAILABLE, TACL_SUB_TOPO,
                         "tacl was built without hwloc (Debian: libhwloc-dev); use sysfs");
#endif
    tacl__hostinfo_t *h = calloc(1, sizeof *h);
    if (!h) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "hostinfo: out of memory");
    snprintf(h->root, sizeof h->root, "%s", tacl__setting_str(TACL_SET_SYSFS_ROOT));
    size_t rl = strlen(h->root);
    while (rl > 1 && h->root[rl - 1] == '/')
        h->root[--rl] = '\0';
    if (!strcmp(h->root, "/")) h->root[0] = '\0';
    char path[1024];
    struct stat sb;
    hi_path(h, path, sizeof path, "/sys/devices");
    if (stat(path, &sb) || !S_ISDIR(sb.st_mode)) {
        tacl__hostinfo_destroy(h);
        return tacl__err(eb, TACL_ERR_NOT_FOUND, TACL_SUB_TOPO,
                         "hostinfo: %s is not a directory (TACL_SYSFS_ROOT='%s' should hold a "
                         "copy of /sys)",
                         path, tacl__setting_str(TACL_SET_SYSFS_ROOT));
    }
    /* The host name: the snapshot's, when replaying one. */
    hi_path(h, path, sizeof path, "/proc/sys/kernel/hostname");
    if (hi_read_line(path, h->hostname, sizeof h->hostname) &&
        (h->root[0] || gethostname(h->hostname, sizeof h->hostname)))
        snprintf(h->hostname, sizeof h->hostname, "unknown");

    tacl_status_t st = TACL_ERR_UNAVAILABLE;
#if TACL_HAVE_HWLOC
    if (strcmp(source, "sysfs")) {
        tacl__errbuf_t heb = {{0}};
        st = hi_hwloc_cpus(h, &heb);
        if (st == TACL_OK) {
            unsigned v = hwloc_get_api_version();
            snprintf(h->source, sizeof h->source, "hwloc (API %u.%u)", v >> 16, (v >> 8) & 0xff);
        } else if (!strcmp(source, "hwloc")) {
            tacl__hostinfo_destroy(h);
            return tacl__err(eb, st, TACL_SUB_TOPO, "%s", heb.msg);
        } else {
            snprintf(h->note, sizeof h->note, "%.200s; read sysfs instead", heb.msg);
            free(h->numa);
            h->numa = NULL;
            h->nnuma = 0;
            TACL_WARN(TACL_SUB_TOPO, "%s", h->note);
        }
    }
#else
    if (strcmp(source, "sysfs"))
        snprintf(h->note, sizeof h->note,
                 "built without hwloc (Debian: libhwloc-dev): NUMA and cores read from sysfs");
#endif
    if (st != TACL_OK) {
        st = hi_sysfs_cpus(h, eb);
        snprintf(h->source, sizeof h->source, "sysfs");
    }
    if (st == TACL_OK) st = hi_nics(h, eb);
    if (st == TACL_OK) st = hi_gpus(h, eb);
    if (st != TACL_OK) {
        tacl__hostinfo_destroy(h);
        return st;
    }
    *out = h;
    return TACL_OK;
}
