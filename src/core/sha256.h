/* sha256.h — SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), small and dependency-free, for the
 * job-token challenge-response of the store and the engine (see auth.h). Not constant-time
 * beyond what the algorithm itself is; comparisons of MACs go through tacl__mac_equal. */
#ifndef TACL_CORE_SHA256_H
#define TACL_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define TACL_SHA256_LEN 32

typedef struct {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t buf[64];
    size_t nbuf;
} tacl__sha256_t;

void tacl__sha256_init(tacl__sha256_t *s);
void tacl__sha256_update(tacl__sha256_t *s, const void *data, size_t len);
void tacl__sha256_final(tacl__sha256_t *s, uint8_t out[TACL_SHA256_LEN]);
void tacl__sha256(const void *data, size_t len, uint8_t out[TACL_SHA256_LEN]);

/* HMAC-SHA256 of the concatenation of n parts (part i: parts[i], lens[i] bytes). */
void tacl__hmac_sha256(const void *key, size_t klen, size_t n, const void *const *parts,
                       const size_t *lens, uint8_t out[TACL_SHA256_LEN]);

/* 1 when the two MACs are equal; time independent of where they differ. */
int tacl__mac_equal(const uint8_t *a, const uint8_t *b, size_t len);

#endif
