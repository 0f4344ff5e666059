/* auth.c — finding the job token and computing the challenge-response MACs (see auth.h). The
 * file form exists so that the secret need not sit in the environment; it is refused when
 * group or others may read it, as ssh refuses such a key. */
#include "auth.h"
#include "settings.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define AUTH_FILE_MAX 4096

static pthread_once_t auth_once = PTHREAD_ONCE_INIT;
static uint8_t auth_process_key[TACL_SHA256_LEN];
static int auth_process_ok;

int tacl__auth_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int tacl__auth_new_token(char *buf, size_t len)
{
    uint8_t r[32];
    if (len < 2 * sizeof r + 1 || tacl__auth_random(r, sizeof r) != 0) return -1;
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(buf + 2 * i, 3, "%02x", r[i]);
    return 0;
}

static void auth_from_text(tacl__auth_t *a, const char *tok, size_t n)
{
    a->on = 1;
    tacl__sha256(tok, n, a->key);
}

static tacl_status_t auth_read_file(tacl__auth_t *a, const char *path, tacl__errbuf_t *eb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tacl__err(eb, TACL_ERR_AUTH, TACL_SUB_INIT,
                         "TACL_STORE_TOKEN_FILE=%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return tacl__err(eb, TACL_ERR_AUTH, TACL_SUB_INIT,
                         "TACL_STORE_TOKEN_FILE=%s is not a regular file", path);
    }
    if (sb.st_mode & 077) {
        close(fd);
        return tacl__err(eb, TACL_ERR_AUTH, TACL_SUB_INIT,
                         "TACL_STORE_TOKEN_FILE=%s may be read by others (mode %03o): the job's "
                         "secret must be readable by its owner only (chmod 600 %s)",
                         path, (unsigned)(sb.st_mode & 0777), path);
    }
    char buf[AUTH_FILE_MAX + 1];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
        if (n == sizeof buf - 1) break;
    }
    close(fd);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    if (n == 0)
        return tacl__err(eb, TACL_ERR_AUTH, TACL_SUB_INIT, "TACL_STORE_TOKEN_FILE=%s is empty",
                         path);
    auth_from_text(a, buf, n);
    snprintf(a->source, sizeof a->source, "TACL_STORE_TOKEN_FILE %.60s", path);
    memset(buf, 0, sizeof buf);
    return TACL_OK;
}

tacl_status_t tacl__auth_configured(tacl__auth_t *out, tacl__errbuf_t *eb)
{
    tacl__auth_t a;
    memset(&a, 0, sizeof a);
    if (tacl__setting_is_set(TACL_SET_AUTH) && !tacl__setting_bool(TACL_SET_AUTH)) {
        snprintf(a.source, sizeof a.source, "TACL_AUTH=0");
        *out = a;
        return TACL_OK;
    }
    const char *tok = tacl__setting_str(TACL_SET_STORE_TOKEN);
    if (tok[0]) {
        auth_from_text(&a, tok, strlen(tok));
        snprintf(a.source, sizeof a.source, "TACL_STORE_TOKEN");
        *out = a;
        return TACL_OK;
    }
    const char *path = tacl__setting_str(TACL_SET_STORE_TOKEN_FILE);
    if (path[0]) {
        TACL_CHECK(auth_read_file(&a, path, eb));
        *out = a;
        return TACL_OK;
    }
    return TACL_ERR_NOT_FOUND;
}

static void auth_make_process_key(void)
{
    auth_process_ok = tacl__auth_random(auth_process_key, sizeof auth_process_key) == 0;
}

tacl_status_t tacl__auth_get(tacl__auth_t *out, tacl__errbuf_t *eb)
{
    tacl_status_t st = tacl__auth_configured(out, eb);
    if (st != TACL_ERR_NOT_FOUND) return st;
    pthread_once(&auth_once, auth_make_process_key);
    if (!auth_process_ok)
        return tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_INIT,
                         "cannot generate this process's token: getrandom failed");
    tacl__auth_t a;
    memset(&a, 0, sizeof a);
    a.on = 1;
    memcpy(a.key, auth_process_key, sizeof a.key);
    snprintf(a.source, sizeof a.source, "generated for this process");
    *out = a;
    return TACL_OK;
}

void tacl__auth_mac(const tacl__auth_t *a, const char *label, const uint8_t *nonce_server,
                    const uint8_t *nonce_client, const void *ctx, size_t ctx_len,
                    uint8_t out[TACL_AUTH_MAC_LEN])
{
    const void *parts[4] = {label, nonce_server, nonce_client, ctx ? ctx : ""};
    size_t lens[4] = {strlen(label) + 1, TACL_AUTH_NONCE_LEN, TACL_AUTH_NONCE_LEN,
                      ctx ? ctx_len : 0};
    tacl__hmac_sha256(a->key, a->on ? sizeof a->key : 0, 4, parts, lens, out);
}
