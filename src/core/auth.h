/* auth.h — the job token: where a process finds its secret (TACL_STORE_TOKEN, the file named by
 * TACL_STORE_TOKEN_FILE, or one generated for a lone process), and the MACs of the
 * challenge-response that the store and the engine run on every new connection. The token
 * never travels: each side sends a random nonce and proves knowledge of the token with
 * HMAC-SHA256(SHA-256(token), label || nonce_server || nonce_client || context), the label
 * telling the two directions and the two protocols apart. */
#ifndef TACL_CORE_AUTH_H
#define TACL_CORE_AUTH_H

#include "err.h"
#include "sha256.h"

#include <stddef.h>
#include <stdint.h>

#define TACL_AUTH_NONCE_LEN 32
#define TACL_AUTH_MAC_LEN   TACL_SHA256_LEN

/* What to tell a user whose process has no token or the wrong one. */
#define TACL_AUTH_HINT                                                                             \
    "give every rank the same secret in TACL_STORE_TOKEN or in a file named by "                   \
    "TACL_STORE_TOKEN_FILE (readable by its owner only); tacl run sets one for its ranks; "        \
    "TACL_AUTH=0 turns authentication off"

typedef struct {
    int on;                       /* 0: TACL_AUTH=0; MACs are keyed with the empty key */
    uint8_t key[TACL_SHA256_LEN]; /* SHA-256 of the token */
    char source[96];              /* where the token came from, for messages */
} tacl__auth_t;

/* The token the user configured. TACL_OK with on = 0 when TACL_AUTH=0, with on = 1 from
 * TACL_STORE_TOKEN or TACL_STORE_TOKEN_FILE; TACL_ERR_NOT_FOUND (no message recorded) when
 * neither is set; TACL_ERR_AUTH when the file is unreadable, empty or readable by others. */
tacl_status_t tacl__auth_configured(tacl__auth_t *out, tacl__errbuf_t *eb);
/* The credential this process uses: the configured one, else a random token generated once
 * for this process (processes forked after that share it, nobody else knows it). */
tacl_status_t tacl__auth_get(tacl__auth_t *out, tacl__errbuf_t *eb);
/* Fills buf with len random bytes from the kernel (getrandom). 0 on success. */
int tacl__auth_random(void *buf, size_t len);
/* A new token as text: 64 hex digits (buf holds at least 65 bytes). 0 on success. */
int tacl__auth_new_token(char *buf, size_t len);
/* The MAC one side sends: keyed by the token, over label, both nonces and ctx (may be NULL). */
void tacl__auth_mac(const tacl__auth_t *a, const char *label, const uint8_t *nonce_server,
                    const uint8_t *nonce_client, const void *ctx, size_t ctx_len,
                    uint8_t out[TACL_AUTH_MAC_LEN]);

#endif
