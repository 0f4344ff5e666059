/* auth.c — the job token: SHA-256 against the FIPS 180-4 examples, HMAC-SHA256 against RFC 4231,
 * where a process finds its token (variable, file, TACL_AUTH=0, generated), and the store's
 * challenge-response end to end: a client with no token, a wrong one, or TACL_AUTH=0 is refused
 * with TACL_ERR_AUTH and a message naming the store's address while the server logs a WARN
 * naming the client's; the right token (from the variable or a file) is accepted; a raw socket
 * speaking the unauthenticated protocol gets the greeting only and is closed without effect. */
#include "auth.h"
#include "boot/store_int.h"
#include "boot/store_proto.h"
#include "check.h"
#include "clock.h"
#include "log.h"
#include "sha256.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char au_log[256], au_file[256];

static void au_hex(const uint8_t *d, char *out)
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void au_sha(const void *data, size_t len, const char *want)
{
    uint8_t d[32];
    char hex[65];
    tacl__sha256(data, len, d);
    au_hex(d, hex);
    if (strcmp(hex, want)) {
        fprintf(stderr, "sha256 of %zu bytes: %s, expected %s\n", len, hex, want);
        exit(1);
    }
}

static void au_hmac(const void *key, size_t klen, const void *data, size_t dlen, const char *want)
{
    uint8_t d[32];
    char hex[65];
    /* Split the message in two parts: the parts are concatenated. */
    const void *parts[2] = {data, (const char *)data + dlen / 3};
    size_t lens[2] = {dlen / 3, dlen - dlen / 3};
    tacl__hmac_sha256(key, klen, 2, parts, lens, d);
    au_hex(d, hex);
    if (strcmp(hex, want)) {
        fprintf(stderr, "hmac (key %zu bytes, data %zu): %s, expected %s\n", klen, dlen, hex, want);
        exit(1);
    }
}

static void au_vectors(void)
{
    au_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    au_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    au_sha(m2, strlen(m2), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* One million 'a', fed in uneven pieces through the streaming interface. */
    static char a[1000000];
    memset(a, 'a', sizeof a);
    tacl__sha256_t s;
    tacl__sha256_init(&s);
    for (size_t off = 0, step = 1; off < sizeof a; off += step, step = step * 3 % 1021 + 1)
        tacl__sha256_update(&s, a + off, off + step > sizeof a ? sizeof a - off : step);
    uint8_t d[32];
    char hex[65];
    tacl__sha256_final(&s, d);
    au_hex(d, hex);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    /* RFC 4231 test cases 1-4, 6 and 7 (5 truncates the output). */
    uint8_t k[131], v[50];
    memset(k, 0x0b, 20);
    au_hmac(k, 20, "Hi There", 8,
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    au_hmac("Jefe", 4, "what do ya want for nothing?", 28,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(k, 0xaa, 20);
    memset(v, 0xdd, 50);
    au_hmac(k, 20, v, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    for (int i = 0; i < 25; i++)
        k[i] = (uint8_t)(i + 1);
    memset(v, 0xcd, 50);
    au_hmac(k, 25, v, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    memset(k, 0xaa, 131);
    const char *t6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    au_hmac(k, 131, t6, strlen(t6),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    const char *t7 =
        "This is a test using a larger than block-size key and a larger than block-size "
        "data. The key needs to be hashed before being used by the HMAC algorithm.";
    au_hmac(k, 131, t7, strlen(t7),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
    uint8_t x[32] = {1}, y[32] = {1};
    CHECK(tacl__mac_equal(x, y, 32));
    y[31] = 2;
    CHECK(!tacl__mac_equal(x, y, 32));
}

static void au_env(const char *token, const char *file, const char *auth)
{
    unsetenv("TACL_STORE_TOKEN");
    unsetenv("TACL_STORE_TOKEN_FILE");
    unsetenv("TACL_AUTH");
    if (token) setenv("TACL_STORE_TOKEN", token, 1);
    if (file) setenv("TACL_STORE_TOKEN_FILE", file, 1);
    if (auth) setenv("TACL_AUTH", auth, 1);
}

static void au_write_file(const char *text, mode_t mode)
{
    unlink(au_file);
    int fd = open(au_file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    CHECK(fchmod(fd, mode) == 0);
    close(fd);
}

static void au_sources(void)
{
    tacl__auth_t a, b;
    au_env("secret-one", NULL, NULL);
    CHECK_OK(tacl__auth_configured(&a, NULL));
    CHECK(a.on && !strcmp(a.source, "TACL_STORE_TOKEN"));
    /* The file form: trailing newline ignored, same key as the variable. */
    au_write_file("secret-one\n", 0600);
    au_env(NULL, au_file, NULL);
    CHECK_OK(tacl__auth_configured(&b, NULL));
    CHECK(b.on && !memcmp(a.key, b.key, sizeof a.key));
    CHECK_CONTAINS(b.source, "TACL_STORE_TOKEN_FILE");
    /* A file others may read is refused, naming it and the fix. */
    au_write_file("secret-one\n", 0644);
    CHECK_ST(tacl__auth_configured(&b, NULL), TACL_ERR_AUTH);
    CHECK_CONTAINS(tacl_last_error(), au_file);
    CHECK_CONTAINS(tacl_last_error(), "chmod 600");
    au_write_file("\n", 0600);
    CHECK_ST(tacl__auth_configured(&b, NULL), TACL_ERR_AUTH);
    CHECK_CONTAINS(tacl_last_error(), "empty");
    au_env(NULL, "/nonexistent/tacl-token", NULL);
    CHECK_ST(tacl__auth_configured(&b, NULL), TACL_ERR_AUTH);
    CHECK_CONTAINS(tacl_last_error(), "/nonexistent/tacl-token");
    /* TACL_AUTH=0 wins over a token; nothing configured is NOT_FOUND, and the process then
     * uses one generated token, the same on every call. */
    au_env("secret-one", NULL, "0");
    CHECK_OK(tacl__auth_configured(&b, NULL));
    CHECK(!b.on);
    au_env(NULL, NULL, NULL);
    CHECK_ST(tacl__auth_configured(&b, NULL), TACL_ERR_NOT_FOUND);
    CHECK_OK(tacl__auth_get(&a, NULL));
    CHECK_OK(tacl__auth_get(&b, NULL));
    CHECK(a.on && !memcmp(a.key, b.key, sizeof a.key));
    CHECK(boot_store_auth_require(1, 4, NULL) == TACL_ERR_AUTH);
    CHECK_CONTAINS(tacl_last_error(), "rank 1 of 4");
    CHECK_CONTAINS(tacl_last_error(), "TACL_STORE_TOKEN_FILE");
    au_env(NULL, NULL, "0");
    CHECK_OK(boot_store_auth_require(1, 4, NULL));
    char t1[80], t2[80];
    CHECK(tacl__auth_new_token(t1, sizeof t1) == 0 && tacl__auth_new_token(t2, sizeof t2) == 0);
    CHECK(strlen(t1) == 64 && strcmp(t1, t2));
}

static char *au_read_log(void)
{
    static char buf[1 << 16];
    FILE *f = fopen(au_log, "r");
    CHECK(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The log has a line naming peer and containing why. */
static void au_logged(const char *peer, const char *why)
{
    char *log = au_read_log();
    for (char *line = log; line && *line;) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        int hit = strstr(line, peer) && strstr(line, why);
        if (end) *end = '\n';
        if (hit) return;
        line = end ? end + 1 : NULL;
    }
    fprintf(stderr, "log lacks a line with '%s' and '%s':\n%s\n", peer, why, log);
    exit(1);
}

static int au_raw_connect(int port, char *local, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    socklen_t sl = sizeof sa;
    CHECK(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    snprintf(local, len, "127.0.0.1:%u", ntohs(sa.sin_port));
    return fd;
}

/* Connects with the current environment's token; returns the status (handle closed). */
static tacl_status_t au_try(int port)
{
    tacl_store_t *st = NULL;
    tacl_status_t s = tacl_store_connect("127.0.0.1", port, 5, &st);
    if (s == TACL_OK) {
        s = tacl_store_set(st, "auth/in", "yes", 3);
        tacl_store_close(st);
    }
    return s;
}

/* The store's address in the client's message; the server's WARN names the client. The client
 * port is not known to the test, so the server line is matched by its reason. */
static void au_refused(int port, const char *client_why, const char *server_why)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    CHECK_ST(au_try(port), TACL_ERR_AUTH);
    CHECK_CONTAINS(tacl_last_error(), addr);
    CHECK_CONTAINS(tacl_last_error(), "refused this process's job token");
    if (client_why) CHECK_CONTAINS(tacl_last_error(), client_why);
    au_logged("closing connection from 127.0.0.1:", server_why);
}

static void au_store(void)
{
    au_env("store-secret", NULL, NULL);
    tacl_store_server_t *srv;
    CHECK_OK(tacl_store_server_start("127.0.0.1", 0, &srv));
    int port = tacl_store_server_port(srv);
    /* Right token, by variable and by file. */
    CHECK_OK(au_try(port));
    au_write_file("store-secret", 0600);
    au_env(NULL, au_file, NULL);
    CHECK_OK(au_try(port));
    /* Wrong token; none (a generated one); TACL_AUTH=0. */
    au_env("not-the-secret", NULL, NULL);
    au_refused(port, "(from TACL_STORE_TOKEN)", "refused: wrong job token");
    au_env(NULL, NULL, NULL);
    au_refused(port, "generated for this process", "refused: wrong job token");
    au_env(NULL, NULL, "0");
    au_refused(port, "this process runs with TACL_AUTH=0",
               "wrong job token (the client runs with TACL_AUTH=0)");
    /* The refusal is not retried: it comes at once, not after the connect timeout. */
    uint64_t t0 = tacl__now_ns();
    CHECK_ST(au_try(port), TACL_ERR_AUTH);
    CHECK(tacl__now_ns() - t0 < 2000000000ull);

    /* A client of the unauthenticated protocol: a version-1 set. It reads the greeting, then
     * end of stream; the key was never set. */
    char peer[64];
    int fd = au_raw_connect(port, peer, sizeof peer);
    uint8_t f[STORE_HDR_LEN + 4 + 8 + 4 + 1];
    store_put_hdr(f, STORE_OP_SET, 2, 4 + 8 + 4 + 1, 0);
    store_put_u16(f + 4, 1);
    store_put_u32(f + STORE_HDR_LEN, 8);
    memcpy(f + STORE_HDR_LEN + 4, "auth/old", 8);
    store_put_u32(f + STORE_HDR_LEN + 12, 1);
    f[STORE_HDR_LEN + 16] = 'x';
    CHECK(send(fd, f, sizeof f, MSG_NOSIGNAL) == (ssize_t)sizeof f);
    uint8_t buf[4096];
    size_t got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        CHECK(poll(&p, 1, 3000) == 1);
        ssize_t n = recv(fd, buf + got, sizeof buf - got, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) break;
        CHECK(n > 0);
        got += (size_t)n;
    }
    close(fd);
    CHECK(got == STORE_GREET_LEN && store_get_u32(buf) == STORE_AUTH_MAGIC);
    au_logged(peer, "before authenticating");
    au_env("store-secret", NULL, NULL);
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", port, 5, &st));
    const char *k[1] = {"auth/old"};
    int all = 1;
    CHECK_OK(tacl_store_check(st, k, 1, &all));
    CHECK(all == 0);
    tacl_store_close(st);
    tacl_store_server_stop(srv);

    /* A store without authentication is refused by a client that has a token: it cannot
     * prove it knows the job's secret. */
    au_env(NULL, NULL, "0");
    CHECK_OK(tacl_store_server_start("127.0.0.1", 0, &srv));
    port = tacl_store_server_port(srv);
    CHECK_OK(au_try(port));
    au_env("store-secret", NULL, NULL);
    au_refused(port, "the store runs with TACL_AUTH=0", "this store runs with TACL_AUTH=0");
    tacl_store_server_stop(srv);
}

static void au_cleanup(void)
{
    unlink(au_log);
    unlink(au_file);
}

int main(void)
{
    snprintf(au_log, sizeof au_log, "/tmp/tacl-auth-%d.log", (int)getpid());
    snprintf(au_file, sizeof au_file, "/tmp/tacl-auth-token-%d", (int)getpid());
    atexit(au_cleanup);
    setenv("TACL_LOG_FILE", au_log, 1);
    setenv("TACL_LOG", "warn", 1);
    tacl__log_reload();
    au_vectors();
    au_sources();
    au_store();
    printf("auth: SHA-256/HMAC vectors, token sources, store refusals and acceptance ok\n");
    return 0;
}
