/* fuzz_common.h — what the store fuzz targets share: one live store server for the whole run
 * (started on first use, on loopback, with a job token of this process), raw connections that
 * pass the challenge-response like a real client, and the liveness check every target runs
 * from time to time (a fresh client sets and reads back a key). A failed check aborts, which
 * libFuzzer reports as a crash with the input that caused it. */
#ifndef TACL_FUZZ_COMMON_H
#define TACL_FUZZ_COMMON_H

#include "fuzz_assert.h"
#include "boot/store_int.h"
#include "boot/store_proto.h"
#include "clock.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static tacl_store_server_t *fz_srv;
static int fz_port;
static unsigned long fz_runs;

static void fz_start(void)
{
    if (fz_srv) return;
    signal(SIGPIPE, SIG_IGN);
    /* Quiet: bad frames are the point, their WARN lines are not. */
    setenv("TACL_LOG", "none", 1);
    setenv("TACL_STORE_TOKEN", "fuzz-job-secret", 1);
    tacl__log_reload();
    FUZZ_ASSERT(tacl_store_server_start("127.0.0.1", 0, &fz_srv) == TACL_OK);
    fz_port = tacl_store_server_port(fz_srv);
}

/* A connection that has passed the handshake, or -1 when the server refused it. */
static int fz_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_ASSERT(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)fz_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    /* Close with a reset (no TIME_WAIT left behind): fuzzing opens thousands of connections a
     * second, and parallel jobs would otherwise use up the ephemeral ports. When they are used
     * up anyway (EADDRNOTAVAIL), wait for some to free rather than report a false crash. */
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    int rc, tries = 0;
    while ((rc = connect(fd, (struct sockaddr *)&sa, sizeof sa)) != 0 &&
           (errno == EADDRNOTAVAIL || errno == EAGAIN || errno == EINTR) && tries++ < 10000)
        usleep(1000);
    FUZZ_ASSERT(rc == 0);
    tacl__auth_t auth;
    FUZZ_ASSERT(tacl__auth_get(&auth, NULL) == TACL_OK);
    FUZZ_ASSERT(boot_store_auth_client(fd, "fuzz store", &auth, tacl__deadline_ns(5), NULL) ==
                TACL_OK);
    return fd;
}

/* Sends what the socket takes; stops early when the server closed the connection. */
static void fz_send(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

/* Reads exactly len bytes within ms; 0 on success, -1 on end of stream, reset or timeout. */
static int fz_recv(int fd, void *buf, size_t len, int ms)
{
    uint8_t *p = buf;
    uint64_t until = tacl__deadline_ns(ms / 1e3);
    while (len) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, tacl__ms_left(until)) <= 0) return -1;
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Every 128 runs: the server still serves a well-behaved client, correctly; every 4096, the
 * keys the inputs left behind are cleared. */
static void fz_check_alive(void)
{
    if (++fz_runs % 128) return;
    tacl_store_t *st;
    FUZZ_ASSERT(tacl_store_connect("127.0.0.1", fz_port, 10, &st) == TACL_OK);
    char val[32];
    snprintf(val, sizeof val, "run-%lu", fz_runs);
    FUZZ_ASSERT(tacl_store_set(st, "fuzz/alive", val, strlen(val)) == TACL_OK);
    void *v;
    size_t len;
    FUZZ_ASSERT(tacl_store_get(st, "fuzz/alive", &v, &len) == TACL_OK);
    FUZZ_ASSERT(len == strlen(val) && !memcmp(v, val, len));
    tacl_free(v);
    if (fz_runs % 4096 == 0) FUZZ_ASSERT(boot_store_delete_prefix(st, "", NULL) == TACL_OK);
    tacl_store_close(st);
}

#endif
