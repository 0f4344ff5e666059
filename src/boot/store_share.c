/* store_share.c — a store collective's record shared within a host through the leader's
 * memfd (see store_share.h). */
#include "boot/store_share.h"
#include "boot/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t share_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

void boot_share_init(boot_share_t *sh)
{
    sh->fd = -1;
}

void boot_share_close(boot_share_t *sh)
{
    if (sh->fd >= 0) close(sh->fd);
    sh->fd = -1;
}

static int share_write_all(int fd, const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = pwrite(fd, p + off, n - off, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        off += (size_t)w;
    }
    return 0;
}

tacl_status_t boot_share_publish(boot_share_t *sh, tacl_store_t *st, const char *key,
                                 const uint8_t *rec, size_t rl)
{
    boot_share_close(sh); /* every rank of the host has read the previous call's */
    if (rl <= BOOT_SHARE_INLINE) {
        uint8_t *v = malloc(rl + 1);
        if (!v) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_BOOT, "store share: out of memory");
        v[0] = 'I';
        if (rl) memcpy(v + 1, rec, rl);
        tacl_status_t s = tacl_store_set(st, key, v, rl + 1);
        free(v);
        return s;
    }
    int fd = memfd_create("tacl-store-share", MFD_CLOEXEC);
    char ref[96];
    int n = 0;
    if (fd >= 0 && share_write_all(fd, rec, rl) == 0) {
        n = snprintf(ref, sizeof ref, "M %d %d %zu %" PRIu64, (int)getpid(), fd, rl,
                     share_hash(rec, rl));
        sh->fd = fd;
    } else {
        /* No memfd here: the host's ranks read the store's copy. */
        if (fd >= 0) close(fd);
        n = snprintf(ref, sizeof ref, "S");
    }
    return tacl_store_set(st, key, ref, (size_t)n);
}

/* Reads the record named by "M pid fd len hash"; -1 when this process cannot. */
static int share_read(const char *ref, uint8_t **rec, size_t *rl)
{
    int pid, fd;
    size_t len;
    uint64_t hash;
    if (sscanf(ref, "M %d %d %zu %" SCNu64, &pid, &fd, &len, &hash) != 4) return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fd);
    int mfd = open(path, O_RDONLY | O_CLOEXEC);
    if (mfd < 0) {
        TACL_DEBUG(TACL_SUB_BOOT, "store share: cannot open %s (%s); reading the store's copy",
                   path, strerror(errno));
        return -1;
    }
    struct stat sb;
    uint8_t *p = NULL;
    if (fstat(mfd, &sb) == 0 && (size_t)sb.st_size == len && (p = malloc(len ? len : 1))) {
        size_t off = 0;
        while (off < len) {
            ssize_t r = pread(mfd, p + off, len - off, (off_t)off);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            off += (size_t)r;
        }
        if (off != len || share_hash(p, len) != hash) {
            free(p);
            p = NULL;
        }
    }
    close(mfd);
    if (!p)
        TACL_DEBUG(TACL_SUB_BOOT,
                   "store share: %s does not hold the %zu-byte record named; reading the store's "
                   "copy",
                   path, len);
    if (!p) return -1;
    *rec = p;
    *rl = len;
    return 0;
}

tacl_status_t boot_share_fetch(tacl_store_t *st, const char *key, uint8_t **rec, size_t *rl)
{
    void *v = NULL;
    size_t vl = 0;
    TACL_CHECK(tacl_store_get(st, key, &v, &vl));
    const char *s = v;
    tacl_status_t r = TACL_OK;
    if (vl >= 1 && s[0] == 'I') {
        uint8_t *p = malloc(vl);
        if (!p) {
            r = tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_BOOT, "store share: out of memory");
        } else {
            memcpy(p, s + 1, vl - 1);
            *rec = p;
            *rl = vl - 1;
        }
    } else if (vl < 1 || s[0] != 'M' || share_read(s, rec, rl) != 0) {
        r = TACL_ERR_NOT_FOUND; /* not an error: the caller reads the store's copy */
    }
    tacl_free(v);
    return r;
}
