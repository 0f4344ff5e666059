/* shm_seg.h — shared-memory segments shared by a set of ranks on one host. Rank 0 of the set
 * creates an anonymous memfd, its pid and descriptor travel through the set's exchange, every
 * rank opens it through /proc/<pid>/fd and maps it, and after a second exchange (everyone has
 * mapped) rank 0 closes its descriptor: nothing ever appears in /dev/shm, so a job killed at
 * any moment leaves nothing behind. Where memfd or /proc is refused, a named POSIX segment
 * (pid, time, counter) is used instead and unlinked after the second exchange. A segment
 * larger than /dev/shm's free space is refused at creation (TACL_ERR_NOMEM with the figures)
 * rather than left to kill a process with SIGBUS when it touches a page tmpfs cannot supply. */
#ifndef TACL_TRANSPORT_SHM_SEG_H
#define TACL_TRANSPORT_SHM_SEG_H

#include "err.h"
#include "xchg.h"

#include <stddef.h>

typedef struct {
    void *base;
    size_t size;
    char name[64];
} tacl__shm_seg_t;

/* Collective over xchg's set: creates (rank 0) and maps (all) a zero-filled segment of size
 * bytes; tag is part of the name so that a left-over segment says who made it. */
tacl_status_t tacl__shm_seg_open(const tacl__xchg_t *xchg, const char *tag, size_t size,
                                 tacl__shm_seg_t *out, tacl__errbuf_t *eb);
/* The same, with every page allocated up front (posix_fallocate), so that no later touch of the
 * segment can fault for want of room in /dev/shm, even when others fill it meanwhile. */
tacl_status_t tacl__shm_seg_open_reserved(const tacl__xchg_t *xchg, const char *tag, size_t size,
                                          tacl__shm_seg_t *out, tacl__errbuf_t *eb);
void tacl__shm_seg_close(tacl__shm_seg_t *seg);

/* The same sharing between two ranks without an exchange, for setups carried as messages: the
 * creator makes and maps the segment and describes it in *offer; the other side attaches from
 * the offer; the creator then releases its descriptor (or the name). */
typedef struct {
    int32_t pid, fd; /* the creator's memfd (fd -1: named segment) */
    uint64_t size;
    char name[64];
} tacl__shm_seg_offer_t;

/* named: a POSIX segment instead of a memfd (the other side could not open the memfd). *fd is
 * held until tacl__shm_seg_release. */
tacl_status_t tacl__shm_seg_create(const char *tag, size_t size, int named, tacl__shm_seg_t *out,
                                   int *fd, tacl__shm_seg_offer_t *offer, tacl__errbuf_t *eb);
/* *retry_named = 1 (and an error) when /proc refused the creator's memfd: ask for a named one. */
tacl_status_t tacl__shm_seg_attach(const tacl__shm_seg_offer_t *offer, tacl__shm_seg_t *out,
                                   int *retry_named, tacl__errbuf_t *eb);
void tacl__shm_seg_release(int *fd, const tacl__shm_seg_offer_t *offer);

#endif
