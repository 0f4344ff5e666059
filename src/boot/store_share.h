/* store_share.h — a large result of a store collective read from the store once per host
 * instead of once per rank: the host's leader (its lowest rank) writes the record into a
 * memfd and publishes a small key naming it ("<pid> <fd> <length> <hash>"), and the host's
 * other ranks read it through /proc/<pid>/fd/<fd>. Records up to BOOT_SHARE_INLINE bytes go
 * in the key itself. Where the memfd cannot be opened (another pid namespace, a stricter
 * /proc) or holds something else (the hash differs), the rank reads the record from the store
 * instead. The leader keeps one memfd, the latest call's; it closes it at its next publish
 * (every rank of the host has read it by then) or in boot_share_close. */
#ifndef TACL_BOOT_STORE_SHARE_H
#define TACL_BOOT_STORE_SHARE_H

#include "err.h"
#include "tacl.h"

#include <stddef.h>
#include <stdint.h>

#define BOOT_SHARE_INLINE (16u << 10)

typedef struct {
    int fd; /* the leader's memfd of its latest publish; -1 none */
} boot_share_t;

void boot_share_init(boot_share_t *sh);
/* Leader: publishes rec (rl bytes) under key, closing the memfd of the previous publish. */
tacl_status_t boot_share_publish(boot_share_t *sh, tacl_store_t *st, const char *key,
                                 const uint8_t *rec, size_t rl);
/* Another rank of the host: waits for key (within the handle's timeout) and reads the record
 * it names into *rec (malloc'd). TACL_ERR_NOT_FOUND when the key names a memfd this process
 * cannot read (the caller reads the store's copy); the store's errors otherwise. */
tacl_status_t boot_share_fetch(tacl_store_t *st, const char *key, uint8_t **rec, size_t *rl);
void boot_share_close(boot_share_t *sh);

#endif
