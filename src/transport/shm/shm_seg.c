/* shm_seg.c — create, share, map and release a shared segment among ranks of one host (see
 * shm_seg.h). The segment is an anonymous memfd of rank 0, opened by the others through
 * /proc/<pid>/fd/<fd>: it never has a name in /dev/shm, so no crash or signal at any moment can
 * leave it behind. Where that is refused (no memfd, /proc not readable for the peer), every
 * rank falls back to a named POSIX segment, unlinked as soon as every rank has mapped it. */
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

/* A rank's outcome of opening rank 0's memfd when /proc refused it: retry with a name. */
#define SHM_SEG_RETRY_NAMED (-1)

typedef struct {
    int32_t status; /* rank 0: creating; others: opening and mapping; SHM_SEG_RETRY_NAMED */
    int32_t pid;    /* rank 0's pid, and */
    int32_t fd;     /* its memfd (-1: the segment is named) */
    char name[64];
    char why[256]; /* rank 0's message when creating failed */
} shm_seg_announce_t;

/* A tmpfs file is sparse: a segment larger than the free space is created and mapped without
 * complaint, and the process that first touches a page the filesystem cannot supply dies of
 * SIGBUS. Refuse it up front instead, saying how much is free. The check applies to memfd
 * segments too, so that a host behaves the same whichever kind its segments take (a small
 * /dev/shm, as in containers, usually comes with little memory as well). */
static tacl_status_t shm_seg_check_space(const char *tag, size_t size, tacl__errbuf_t *eb)
{
    struct statvfs sv;
    if (statvfs("/dev/shm", &sv) != 0) return TACL_OK; /* no /dev/shm mount: creation decides */
    unsigned long long avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
    unsigned long long total = (unsigned long long)sv.f_blocks * sv.f_frsize;
    if ((unsigned long long)size <= avail) return TACL_OK;
    return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_SHM,
                     "cannot create a shared segment of %zu bytes (%.1f MiB) for %s: /dev/shm has "
                     "only %llu bytes (%.1f MiB) free of %.1f MiB; enlarge /dev/shm (e.g. docker "
                     "run --shm-size) or ask for a smaller segment",
                     size, (double)size / 1048576.0, tag, avail, (double)avail / 1048576.0,
                     (double)total / 1048576.0);
}

/* Rank 0: a memfd (named 0) or a POSIX segment (named 1) of size bytes; returns the fd. */
static int shm_seg_create(int named, const char *tag, size_t size, int reserve,
                          shm_seg_announce_t *a, tacl__errbuf_t *eb)
{
    tacl_status_t st = shm_seg_check_space(tag, size, eb);
    if (st != TACL_OK) {
        a->status = st;
        return -1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(a->name, sizeof a->name, "/tacl-%s-%d-%lx-%u", tag, (int)getpid(),
             (unsigned long)ts.tv_nsec, atomic_fetch_add(&shm_seg_counter, 1));
    int fd = named ? -1 : memfd_create(a->name + 1, MFD_CLOEXEC);
    if (!named && fd < 0 && errno == ENOSYS) named = 1; /* a kernel without memfd */
    if (named) fd = shm_open(a->name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd >= 0 && ftruncate(fd, (off_t)size) == 0) {
        /* Reserving the pages now turns a later SIGBUS into an error here. */
        int rc = reserve ? posix_fallocate(fd, 0, (off_t)size) : 0;
        if (rc == 0) {
            a->pid = (int32_t)getpid();
            a->fd = named ? -1 : fd;
            return fd;
        }
        a->status = tacl__err(eb, rc == ENOSPC ? TACL_ERR_NOMEM : TACL_ERR_SYSTEM, TACL_SUB_SHM,
                              "cannot reserve %zu bytes for shared segment %s: %s", size, a->name,
                              strerror(rc));
    } else {
        a->status = tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_SHM,
                              "cannot create shared segment %s of %zu bytes: %s", a->name, size,
                              strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
        if (named) shm_unlink(a->name);
    }
    return -1;
}

/* One attempt in one mode. *retry_named is set when some rank could not open the memfd. */
static tacl_status_t shm_seg_try(const tacl__xchg_t *xchg, int named, const char *tag, size_t size,
                                 int reserve, tacl__shm_seg_t *out, int *retry_named,
                                 tacl__errbuf_t *eb)
{
    shm_seg_announce_t mine = {.fd = -1}, *all = NULL, *done = NULL;
    tacl_status_t st;
    int fd = -1, created = 0;
    void *base = MAP_FAILED;

    if (xchg->rank == 0) {
        fd = shm_seg_create(named, tag, size, reserve, &mine, eb);
        created = fd >= 0;
        if (mine.status != TACL_OK) snprintf(mine.why, sizeof mine.why, "%s", tacl_last_error());
    }
    all = calloc((size_t)xchg->size, sizeof *all);
    done = calloc((size_t)xchg->size, sizeof *done);
    if (!all || !done) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_SHM, "out of memory");
        goto out;
    }
    st = tacl__xchg_allgather(xchg, &mine, sizeof mine, all, eb);
    if (st != TACL_OK) goto out;
    all[0].name[sizeof all[0].name - 1] = '\0';
    if (all[0].status != TACL_OK) {
        st = xchg->rank == 0 ? (tacl_status_t)all[0].status
                             : tacl__err(eb, (tacl_status_t)all[0].status, TACL_SUB_SHM,
                                         "rank 0 of the group could not create a shared "
                                         "segment: %.*s",
                                         (int)sizeof all[0].why - 1, all[0].why);
        goto out;
    }
    if (xchg->rank != 0) {
        char path[64];
        if (all[0].fd >= 0)
            snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)all[0].pid, (int)all[0].fd);
        fd = all[0].fd >= 0 ? open(path, O_RDWR | O_CLOEXEC) : shm_open(all[0].name, O_RDWR, 0600);
        if (fd < 0 && all[0].fd >= 0 && errno != ENOENT) {
            TACL_DEBUG(TACL_SUB_SHM,
                       "cannot open %s (rank 0's memfd %s): %s; using a named "
                       "segment",
                       path, all[0].name, strerror(errno));
            mine.status = SHM_SEG_RETRY_NAMED;
        } else if (fd < 0) {
            mine.status = tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_SHM,
                                    "cannot open shared segment %s made by group rank 0 (pid %d): "
                                    "%s",
                                    all[0].name, (int)all[0].pid, strerror(errno));
        }
    }
    if (fd >= 0) {
        base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (base == MAP_FAILED)
            mine.status = tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_SHM,
                                    "cannot map shared segment %s (%zu bytes): %s", all[0].name,
                                    size, strerror(errno));
    }
    /* Second exchange: everyone has opened and mapped (or failed); rank 0's descriptor and the
     * name can go. Rank 0 keeps its descriptor open until then: the others open it by path. */
    snprintf(mine.name, sizeof mine.name, "%s", all[0].name);
    st = tacl__xchg_allgather(xchg, &mine, sizeof mine, done, eb);
    if (created && all[0].fd < 0) shm_unlink(all[0].name);
    created = 0;
    if (st != TACL_OK) goto out;
    for (int r = 0; r < xchg->size; r++)
        if (done[r].status == SHM_SEG_RETRY_NAMED) {
            *retry_named = 1;
            st = TACL_ERR_SYSTEM;
            goto out;
        }
    for (int r = 0; r < xchg->size; r++) {
        if (done[r].status == TACL_OK) continue;
        st = r == xchg->rank
                 ? (tacl_status_t)done[r].status
                 : tacl__err(eb, (tacl_status_t)done[r].status, TACL_SUB_SHM,
                             "group rank %d could not map shared segment %s", r, all[0].name);
        goto out;
    }
    out->base = base;
    out->size = size;
    snprintf(out->name, sizeof out->name, "%s", all[0].name);
    base = MAP_FAILED;
out:
    if (base != MAP_FAILED) munmap(base, size);
    if (created && mine.fd < 0) shm_unlink(mine.name);
    if (fd >= 0) close(fd);
    free(all);
    free(done);
    return st;
}

static tacl_status_t shm_seg_do(const tacl__xchg_t *xchg, const char *tag, size_t size, int reserve,
                                tacl__shm_seg_t *out, tacl__errbuf_t *eb)
{
    int retry_named = 0;
    tacl_status_t st = shm_seg_try(xchg, 0, tag, size, reserve, out, &retry_named, eb);
    if (st == TACL_OK || !retry_named) return st;
    return shm_seg_try(xchg, 1, tag, size, reserve, out, &retry_named, eb);
}

tacl_status_t tacl__shm_seg_open(const tacl__xchg_t *xchg, const char *tag, size_t size,
                                 tacl__shm_seg_t *out, tacl__errbuf_t *eb)
{
    return shm_seg_do(xchg, tag, size, 0, out, eb);
}

tacl_status_t tacl__shm_seg_open_reserved(const tacl__xchg_t *xchg, const char *tag, size_t size,
                                          tacl__shm_seg_t *out, tacl__errbuf_t *eb)
{
    return shm_seg_do(xchg, tag, size, 1, out, eb);
}

void tacl__shm_seg_close(tacl__shm_seg_t *seg)
{
    if (seg->base) munmap(seg->base, seg->size);
    seg->base = NULL;
}

tacl_status_t tacl__shm_seg_create(const char *tag, size_t size, int named, tacl__shm_seg_t *out,
                                   int *fd, tacl__shm_seg_offer_t *offer, tacl__errbuf_t *eb)
{
    shm_seg_announce_t a = {.fd = -1};
    *fd = shm_seg_create(named, tag, size, 0, &a, eb);
    if (*fd < 0) return a.status != TACL_OK ? (tacl_status_t)a.status : TACL_ERR_SYSTEM;
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    if (base == MAP_FAILED) {
        tacl_status_t st = tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_SHM,
                                     "cannot map shared segment %s (%zu bytes): %s", a.name, size,
                                     strerror(errno));
        close(*fd);
        *fd = -1;
        if (a.fd < 0) shm_unlink(a.name);
        return st;
    }
    *offer = (tacl__shm_seg_offer_t){.pid = a.pid, .fd = a.fd, .size = size};
    snprintf(offer->name, sizeof offer->name, "%s", a.name);
    out->base = base;
    out->size = size;
    snprintf(out->name, sizeof out->name, "%s", a.name);
    return TACL_OK;
}

tacl_status_t tacl__shm_seg_attach(const tacl__shm_seg_offer_t *offer, tacl__shm_seg_t *out,
                                   int *retry_named, tacl__errbuf_t *eb)
{
    char path[64], name[64];
    *retry_named = 0;
    snprintf(name, sizeof name, "%.*s", (int)sizeof offer->name - 1, offer->name);
    if (offer->fd >= 0)
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)offer->pid, (int)offer->fd);
    int fd = offer->fd >= 0 ? open(path, O_RDWR | O_CLOEXEC) : shm_open(name, O_RDWR, 0600);
    if (fd < 0 && offer->fd >= 0 && errno != ENOENT) {
        *retry_named = 1;
        return tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_SHM,
                         "cannot open %s (the peer's memfd %s): %s", path, name, strerror(errno));
    }
    if (fd < 0)
        return tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_SHM,
                         "cannot open shared segment %s made by the peer (pid %d): %s", name,
                         (int)offer->pid, strerror(errno));
    size_t size = (size_t)offer->size;
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int err = errno;
    close(fd);
    if (base == MAP_FAILED)
        return tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_SHM,
                         "cannot map shared segment %s (%zu bytes): %s", name, size, strerror(err));
    out->base = base;
    out->size = size;
    snprintf(out->name, sizeof out->name, "%s", name);
    return TACL_OK;
}

void tacl__shm_seg_release(int *fd, const tacl__shm_seg_offer_t *offer)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
    if (offer->fd < 0 && offer->name[0]) shm_unlink(offer->name);
}
