/* hostid.c — tacl_host_id: the identity that decides whether two ranks share a host (and so may
 * use shared memory). A hostname alone is not enough: containers and VMs cloned from one image
 * share names, and ranks in different network namespaces of one machine cannot reach each
 * other's loopback. So the identity is hostname + boot id + network-namespace inode, e.g.
 * "node7/9fb52b22-f95b-4e42-8788-05acb482c283/net:4026531840"; TACL_HOST_ID overrides it. The
 * /proc files are read under TACL_SYSFS_ROOT when set, so tests can replay a machine. */
#include "err.h"
#include "settings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void hostid_path(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s%s", tacl__setting_str(TACL_SET_SYSFS_ROOT), rel);
}

/* Reads the first line of root+rel into buf (newline removed); errors name the file. */
static tacl_status_t hostid_read_line(const char *rel, const char *what, char *buf, size_t len)
{
    char path[4096];
    hostid_path(path, sizeof path, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tacl__err(NULL, TACL_ERR_SYSTEM, TACL_SUB_BOOT,
                         "host id: cannot read the %s from %s: %s", what, path, strerror(errno));
    ssize_t n;
    do {
        n = read(fd, buf, len - 1);
    } while (n < 0 && errno == EINTR);
    int err = errno;
    close(fd);
    if (n < 0)
        return tacl__err(NULL, TACL_ERR_SYSTEM, TACL_SUB_BOOT,
                         "host id: cannot read the %s from %s: %s", what, path, strerror(err));
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!buf[0])
        return tacl__err(NULL, TACL_ERR_SYSTEM, TACL_SUB_BOOT, "host id: the %s file %s is empty",
                         what, path);
    return TACL_OK;
}

/* The network namespace's inode: /proc/self/ns/net links to "net:[4026531840]". A replayed
 * snapshot holds the same text as a (dangling) symbolic link; where the link cannot be read
 * but the file can be stat'ed, the inode of the namespace file is the same number. */
static tacl_status_t hostid_netns(unsigned long long *ino)
{
    char path[4096], link[128];
    hostid_path(path, sizeof path, "/proc/self/ns/net");
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n < 0) {
        struct stat sb;
        int err = errno;
        if (err == EINVAL && stat(path, &sb) == 0) {
            *ino = (unsigned long long)sb.st_ino;
            return TACL_OK;
        }
        return tacl__err(NULL, TACL_ERR_SYSTEM, TACL_SUB_BOOT,
                         "host id: cannot read the network namespace from %s: %s", path,
                         strerror(err));
    }
    link[n] = '\0';
    char *end;
    if (strncmp(link, "net:[", 5) || (*ino = strtoull(link + 5, &end, 10), end == link + 5) ||
        strcmp(end, "]"))
        return tacl__err(NULL, TACL_ERR_SYSTEM, TACL_SUB_BOOT,
                         "host id: %s links to \"%s\", expected \"net:[<inode>]\"", path, link);
    return TACL_OK;
}

tacl_status_t tacl_host_id(char *buf, size_t len)
{
    if (!buf || len == 0)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_BOOT, "tacl_host_id: no buffer given");
    char built[512];
    const char *id = built;
    if (tacl__setting_is_set(TACL_SET_HOST_ID)) {
        id = tacl__setting_str(TACL_SET_HOST_ID);
    } else {
        char host[256], boot[128];
        unsigned long long ino = 0;
        if (tacl__setting_is_set(TACL_SET_SYSFS_ROOT)) {
            TACL_CHECK(
                hostid_read_line("/proc/sys/kernel/hostname", "hostname", host, sizeof host));
        } else if (gethostname(host, sizeof host) != 0) {
            return tacl__err(NULL, TACL_ERR_SYSTEM, TACL_SUB_BOOT,
                             "host id: gethostname failed: %s", strerror(errno));
        }
        host[sizeof host - 1] = '\0';
        TACL_CHECK(
            hostid_read_line("/proc/sys/kernel/random/boot_id", "boot id", boot, sizeof boot));
        TACL_CHECK(hostid_netns(&ino));
        snprintf(built, sizeof built, "%s/%s/net:%llu", host, boot, ino);
    }
    size_t n = strlen(id);
    if (n >= len)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_BOOT,
                         "tacl_host_id: \"%.200s\" needs %zu bytes, the buffer has %zu", id, n + 1,
                         len);
    memcpy(buf, id, n + 1);
    return TACL_OK;
}
