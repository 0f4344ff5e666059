/* shm_seg.c — create, share, map and unlink a POSIX shared segment (see shm_seg.h), after
 * checking that /dev/shm has room for it. */
#include "transport/shm/shm_seg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static atomic_uint shm_seg_counter;

typedef struct {
    int32_t status; /* rank 0's outcome of creating the segment */
    char name[64];
    char why[256]; /* and its message when that failed */
} shm_seg_announce_t;

/* A tmpfs file is sparse: a segment larger than the free space is created and mapped without
 * complaint, and the process that first touches a page the filesystem cannot supply dies of
 * SIGBUS. Refuse it up front instead, saying how much is free. */
static tacl_status_t shm_seg_check_space(const char *tag, size_t size, tacl_errbuf_t *eb)
{
    struct statvfs sv;
    if (statvfs("/dev/shm", &sv) != 0) return TACL_OK; /* no /dev/shm mount: shm_open decides */
    unsigned long long avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
    unsigned long long total = (unsigned long long)sv.f_blocks * sv.f_frsize;
    if ((unsigned long long)size <= avail) return TACL_OK;
    return tacl_err(eb, TACL_ERR_NOMEM, TACL_SUB_SHM,
                    "cannot create a shared segment of %zu bytes (%.1f MiB) for %s: /dev/shm has "
                    "only %llu bytes (%.1f MiB) free of %.1f MiB; enlarge /dev/shm (e.g. docker "
                    "run --shm-size) or ask for a smaller segment",
                    size, (double)size / 1048576.0, tag, avail, (double)avail / 1048576.0,
                    (double)total / 1048576.0);
}

static tacl_status_t shm_seg_do(const tacl_xchg_t *xchg, const char *tag, size_t size, int reserve,
                                tacl_shm_seg_t *out, tacl_errbuf_t *eb)
{
    shm_seg_announce_t mine = {0}, *all = NULL;
    tacl_status_t st;
    int fd = -1, created = 0;
    void *base = MAP_FAILED;

    if (xchg->rank == 0 && (st = shm_seg_check_space(tag, size, eb)) != TACL_OK) {
        mine.status = st;
    } else if (xchg->rank == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(mine.name, sizeof mine.name, "/tacl-%s-%d-%lx-%u", tag, (int)getpid(),
                 (unsigned long)ts.tv_nsec, atomic_fetch_add(&shm_seg_counter, 1));
        fd = shm_open(mine.name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
            st = tacl_err(eb, TACL_ERR_SYSTEM, TACL_SUB_SHM,
                          "cannot create shared segment %s of %zu bytes: %s", mine.name, size,
                          strerror(errno));
            mine.status = st;
            if (fd >= 0) {
                close(fd);
                shm_unlink(mine.name);
                fd = -1;
            }
        } else if (reserve && (errno = posix_fallocate(fd, 0, (off_t)size)) != 0) {
            st = tacl_err(eb, errno == ENOSPC ? TACL_ERR_NOMEM : TACL_ERR_SYSTEM, TACL_SUB_SHM,
                          "cannot reserve %zu bytes in /dev/shm for shared segment %s: %s", size,
                          mine.name, strerror(errno));
            mine.status = st;
            close(fd);
            shm_unlink(mine.name);
            fd = -1;
        } else {
            created = 1;
        }
    }
    if (mine.status != TACL_OK) snprintf(mine.why, sizeof mine.why, "%s", tacl_last_error());
    all = calloc((size_t)xchg->size, sizeof *all);
    if (!all) {
        st = tacl_err(eb, TACL_ERR_NOMEM, TACL_SUB_SHM, "out of memory");
        goto err_unlink;
    }
    st = tacl_xchg_allgather(xchg, &mine, sizeof mine, all, eb);
    if (st != TACL_OK) goto err_unlink;
    if (all[0].status != TACL_OK) {
        st = xchg->rank == 0 ? (tacl_status_t)all[0].status
                             : tacl_err(eb, (tacl_status_t)all[0].status, TACL_SUB_SHM,
                                        "rank 0 of the group could not create a shared "
                                        "segment: %.*s",
                                        (int)sizeof all[0].why - 1, all[0].why);
        goto err_free;
    }
    if (xchg->rank != 0) {
        fd = shm_open(all[0].name, O_RDWR, 0600);
        if (fd < 0) {
            mine.status = tacl_err(eb, TACL_ERR_SYSTEM, TACL_SUB_SHM,
                                   "cannot open shared segment %s made by group rank 0: %s",
                                   all[0].name, strerror(errno));
        }
    }
    if (fd >= 0) {
        base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (base == MAP_FAILED)
            mine.status = tacl_err(eb, TACL_ERR_SYSTEM, TACL_SUB_SHM,
                                   "cannot map shared segment %s (%zu bytes): %s", all[0].name,
                                   size, strerror(errno));
        close(fd);
        fd = -1;
    }
    /* Second exchange: everyone has mapped (or failed); the name can go. */
    shm_seg_announce_t *done = calloc((size_t)xchg->size, sizeof *done);
    if (!done) {
        st = tacl_err(eb, TACL_ERR_NOMEM, TACL_SUB_SHM, "out of memory");
        goto err_unmap;
    }
    snprintf(mine.name, sizeof mine.name, "%s", all[0].name);
    st = tacl_xchg_allgather(xchg, &mine, sizeof mine, done, eb);
    if (created) shm_unlink(all[0].name);
    created = 0;
    if (st == TACL_OK) {
        for (int r = 0; r < xchg->size; r++) {
            if (done[r].status == TACL_OK) continue;
            st = r == xchg->rank
                     ? (tacl_status_t)done[r].status
                     : tacl_err(eb, (tacl_status_t)done[r].status, TACL_SUB_SHM,
                                "group rank %d could not map shared segment %s", r, all[0].name);
            break;
        }
    }
    free(done);
    if (st != TACL_OK) goto err_unmap;
    out->base = base;
    out->size = size;
    snprintf(out->name, sizeof out->name, "%s", all[0].name);
    free(all);
    return TACL_OK;

err_unmap:
    if (base != MAP_FAILED) munmap(base, size);
err_unlink:
    if (created) shm_unlink(mine.name);
err_free:
    free(all);
    if (fd >= 0) close(fd);
    return st;
}

tacl_status_t tacl_shm_seg_open(const tacl_xchg_t *xchg, const char *tag, size_t size,
                                tacl_shm_seg_t *out, tacl_errbuf_t *eb)
{
    return shm_seg_do(xchg, tag, size, 0, out, eb);
}

tacl_status_t tacl_shm_seg_open_reserved(const tacl_xchg_t *xchg, const char *tag, size_t size,
                                         tacl_shm_seg_t *out, tacl_errbuf_t *eb)
{
    return shm_seg_do(xchg, tag, size, 1, out, eb);
}

void tacl_shm_seg_close(tacl_shm_seg_t *seg)
{
    if (seg->base) munmap(seg->base, seg->size);
    seg->base = NULL;
}
