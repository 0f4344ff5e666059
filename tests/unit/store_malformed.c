/* store_malformed.c — every class of bad input the store server can receive (random bytes,
 * wrong magic or version, unknown op, huge length and item-count fields, items running past
 * the frame, trailing bytes, wrong arity, oversized keys and values, truncated frames, a peer
 * that stalls mid-header): each closes only the offending connection, logs a WARN naming the
 * peer address and the reason, and a well-behaved client is served correctly afterwards. */
#include "boot/store_int.h"
#include "boot/store_proto.h"
#include "check.h"
#include "clock.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static int mal_port;
static char mal_log[256];

static int mal_connect(char *local, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)mal_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    /* Past the job-token handshake, as a real client: the frames that follow are tested. */
    tacl__auth_t auth;
    CHECK_OK(tacl__auth_get(&auth, NULL));
    CHECK_OK(boot_store_auth_client(fd, "test store", &auth, tacl__deadline_ns(5), NULL));
    socklen_t sl = sizeof sa;
    CHECK(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    snprintf(local, len, "127.0.0.1:%u", ntohs(sa.sin_port));
    return fd;
}

static void mal_send(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return; /* already closed */
        CHECK(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* 1 when the server closed the connection within 3 s (EOF or reset). */
static int mal_closed(int fd)
{
    char buf[4096];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 3000) <= 0) return 0;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) return 1;
        if (n < 0) return 0;
    }
}

static char *mal_read_log(void)
{
    FILE *f = fopen(mal_log, "r");
    CHECK(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The log has a WARN line naming peer and containing why. */
static void mal_check_logged(const char *peer, const char *why)
{
    char *log = mal_read_log();
    char *line = strstr(log, peer);
    while (line && (!strstr(line, why) || strchr(line, '\n') < strstr(line, why)))
        line = strstr(line + 1, peer);
    if (!line) {
        fprintf(stderr, "log lacks a line with peer %s and '%s':\n%s\n", peer, why, log);
        exit(1);
    }
    CHECK(strstr(log, "WARN"));
}

/* A well-behaved client is served after each bad one. */
static void mal_good_client(int round)
{
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", mal_port, 5, &st));
    char key[32], val[32];
    snprintf(key, sizeof key, "good/%d", round);
    snprintf(val, sizeof val, "value-%d", round * 7);
    CHECK_OK(tacl_store_set(st, key, val, strlen(val)));
    void *v;
    size_t len;
    CHECK_OK(tacl_store_get(st, key, &v, &len));
    CHECK(len == strlen(val) && !memcmp(v, val, len));
    tacl_free(v);
    int64_t n;
    CHECK_OK(tacl_store_add(st, "good/count", 1, &n));
    CHECK(n == round + 1);
    tacl_store_close(st);
}

/* Builds a frame: header fields as given, then the items. */
static size_t mal_frame(uint8_t *buf, uint32_t magic, uint16_t version, uint16_t op,
                        uint32_t nitems, int body_override, const uint32_t *lens,
                        const char *const *items, int n)
{
    uint32_t body = 0;
    for (int i = 0; i < n; i++)
        body += 4 + lens[i];
    store_put_u32(buf, magic);
    store_put_u16(buf + 4, version);
    store_put_u16(buf + 6, op);
    store_put_u32(buf + 8, nitems);
    store_put_u32(buf + 12, body_override >= 0 ? (uint32_t)body_override : body);
    store_put_u32(buf + 16, 0);
    uint8_t *p = buf + STORE_HDR_LEN;
    for (int i = 0; i < n; i++) {
        store_put_u32(p, lens[i]);
        memcpy(p + 4, items[i], lens[i]);
        p += 4 + lens[i];
    }
    return (size_t)(p - buf);
}

static void mal_cleanup(void)
{
    unlink(mal_log);
}

int main(void)
{
    snprintf(mal_log, sizeof mal_log, "/tmp/tacl-store-malformed-%d.log", (int)getpid());
    unlink(mal_log);
    atexit(mal_cleanup);
    setenv("TACL_LOG_FILE", mal_log, 1);
    setenv("TACL_LOG", "warn", 1);
    tacl__log_reload();

    tacl_store_server_t *srv;
    CHECK_OK(tacl_store_server_start("127.0.0.1", 0, &srv));
    mal_port = tacl_store_server_port(srv);
    uint8_t *buf = malloc(STORE_VALUE_MAX + 4096);
    CHECK(buf);
    char peer[64];
    int round = 0;

    /* A client connected throughout, used again at the end. */
    tacl_store_t *keep;
    CHECK_OK(tacl_store_connect("127.0.0.1", mal_port, 5, &keep));
    CHECK_OK(tacl_store_set(keep, "keep/before", "b", 1));

    /* A peer stalled in the middle of a header does not hold up anyone else. */
    int stalled = mal_connect(peer, sizeof peer);
    mal_send(stalled, "\x54\x41\x43", 3);
    mal_good_client(round++);

    /* Random bytes (first byte fixed so that the magic cannot match by chance). */
    {
        int fd = mal_connect(peer, sizeof peer);
        srand(42);
        for (int i = 0; i < 256; i++)
            buf[i] = (uint8_t)rand();
        buf[0] = 0xEE;
        mal_send(fd, buf, 256);
        CHECK(mal_closed(fd));
        close(fd);
        mal_check_logged(peer, "bad magic");
        mal_good_client(round++);
    }

    const char *k1[] = {"key"}, *kv[] = {"key", "value"}, *kk[] = {"a", "b"};
    uint32_t l1[] = {3}, lkv[] = {3, 5}, lkk[] = {1, 1};
    struct {
        const char *why;
        size_t len;
    } cases[16];
    int nc = 0;
    uint8_t frames[16][256];
    /* Wrong version. */
    cases[nc].why = "protocol version 9";
    cases[nc].len = mal_frame(frames[nc], STORE_MAGIC, 9, STORE_OP_GET, 1, -1, l1, k1, 1);
    nc++;
    /* Unknown op. */
    cases[nc].why = "unknown op 99";
    cases[nc].len = mal_frame(frames[nc], STORE_MAGIC, STORE_VERSION, 99, 1, -1, l1, k1, 1);
    nc++;
    /* Huge body length: refused from the header alone, before anything is allocated. */
    cases[nc].why = "byte body (limit";
    cases[nc].len = mal_frame(frames[nc], STORE_MAGIC, STORE_VERSION, STORE_OP_SET, 2,
                              (int)0x7ffffff0, lkv, kv, 2);
    nc++;
    /* Huge item count. */
    cases[nc].why = "items (limit";
    cases[nc].len =
        mal_frame(frames[nc], STORE_MAGIC, STORE_VERSION, STORE_OP_WAIT, 0x40000000, -1, l1, k1, 1);
    nc++;
    /* More items claimed than the body can hold. */
    cases[nc].why = "3 items in a 7-byte body";
    cases[nc].len =
        mal_frame(frames[nc], STORE_MAGIC, STORE_VERSION, STORE_OP_WAIT, 3, -1, l1, k1, 1);
    nc++;
    /* An item length running past the frame. */
    cases[nc].why = "runs past the end of the frame";
    cases[nc].len =
        mal_frame(frames[nc], STORE_MAGIC, STORE_VERSION, STORE_OP_SET, 2, -1, lkv, kv, 2);
    store_put_u32(frames[nc] + STORE_HDR_LEN + 7, 1000); /* the value's length field */
    nc++;
    /* Trailing bytes after the items. */
    cases[nc].why = "trailing bytes";
    cases[nc].len =
        mal_frame(frames[nc], STORE_MAGIC, STORE_VERSION, STORE_OP_GET, 1, -1, lkv, kv, 2);
    nc++;
    /* Wrong arity. */
    cases[nc].why = "get request with 2 items, expected 1";
    cases[nc].len =
        mal_frame(frames[nc], STORE_MAGIC, STORE_VERSION, STORE_OP_GET, 2, -1, lkk, kk, 2);
    nc++;
    /* add with a delta that is not 8 bytes. */
    cases[nc].why = "5-byte delta";
    cases[nc].len =
        mal_frame(frames[nc], STORE_MAGIC, STORE_VERSION, STORE_OP_ADD, 2, -1, lkv, kv, 2);
    nc++;
    for (int i = 0; i < nc; i++) {
        int fd = mal_connect(peer, sizeof peer);
        mal_send(fd, frames[i], cases[i].len);
        CHECK(mal_closed(fd));
        close(fd);
        mal_check_logged(peer, cases[i].why);
        mal_good_client(round++);
    }

    /* Oversized key and oversized value, sent whole. */
    {
        char *key = malloc(STORE_KEY_MAX + 1);
        memset(key, 'k', STORE_KEY_MAX + 1);
        const char *it[] = {key, "v"};
        uint32_t ln[] = {STORE_KEY_MAX + 1, 1};
        size_t len = mal_frame(buf, STORE_MAGIC, STORE_VERSION, STORE_OP_SET, 2, -1, ln, it, 2);
        int fd = mal_connect(peer, sizeof peer);
        mal_send(fd, buf, len);
        CHECK(mal_closed(fd));
        close(fd);
        mal_check_logged(peer, "key of 4097 bytes (limit 4096)");
        mal_good_client(round++);
        free(key);
    }
    {
        char *val = calloc(1, STORE_VALUE_MAX + 1);
        const char *it[] = {"k", val};
        uint32_t ln[] = {1, STORE_VALUE_MAX + 1};
        size_t len = mal_frame(buf, STORE_MAGIC, STORE_VERSION, STORE_OP_SET, 2, -1, ln, it, 2);
        int fd = mal_connect(peer, sizeof peer);
        mal_send(fd, buf, len);
        CHECK(mal_closed(fd));
        close(fd);
        mal_check_logged(peer, "value of 67108865 bytes (limit 67108864)");
        mal_good_client(round++);
        free(val);
    }
    /* A truncated frame: the peer sends part of a request and goes away. */
    {
        size_t len = mal_frame(buf, STORE_MAGIC, STORE_VERSION, STORE_OP_SET, 2, -1, lkv, kv, 2);
        int fd = mal_connect(peer, sizeof peer);
        mal_send(fd, buf, len - 4);
        shutdown(fd, SHUT_WR);
        CHECK(mal_closed(fd));
        close(fd);
        char why[64];
        snprintf(why, sizeof why, "middle of a frame (%zu of %zu bytes)", len - 4, len);
        mal_check_logged(peer, why);
        mal_good_client(round++);
    }
    /* The stalled peer was never closed by the server and is still connected. */
    struct pollfd p = {.fd = stalled, .events = POLLIN};
    CHECK(poll(&p, 1, 0) == 0);
    /* (Connections of the clients above may still be closing.) */
    CHECK(boot_store_server_wait_clients(srv, 2, tacl__now_ns() + 2000000000ull) == 2);
    /* The long-lived client's connection survived every bad peer. */
    void *v;
    size_t vlen;
    CHECK_OK(tacl_store_get(keep, "keep/before", &v, &vlen));
    CHECK(vlen == 1 && !memcmp(v, "b", 1));
    tacl_free(v);
    CHECK_OK(tacl_store_delete(keep, "keep/before", NULL));
    tacl_store_close(keep);
    close(stalled);
    /* Nothing the bad peers sent became a key: good/0.. and good/count only. */
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", mal_port, 5, &st));
    int64_t n;
    CHECK_OK(tacl_store_num_keys(st, &n));
    CHECK(n == round + 1);
    tacl_store_close(st);
    tacl_store_server_stop(srv);
    free(buf);
    printf("store_malformed: ok (%d bad peers)\n", round - 1);
    return 0;
}
