/* fuzz_common.h — what the store fuzz targets share: one live store server for the whole run
 * (started on first use, on loopback, with a job token of this process), driven by the target
 * itself from its own thread (boot_store_server_poll: no server thread, no waiting on a
 * scheduler; a blocking request stays parked until its key comes, its deadline is let pass or
 * its connection closes), raw connections that pass the challenge-response like a real client,
 * and the liveness check every target runs from time to time (a real client, in a thread of its
 * own, sets and reads back a key). A failed check aborts, which libFuzzer reports as a crash
 * with the input that caused it. */
#ifndef TACL_FUZZ_COMMON_H
#define TACL_FUZZ_COMMON_H

#include "fuzz_assert.h"
#include "auth.h"
#include "boot/store_int.h"
#include "boot/store_proto.h"
#include "clock.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long a target waits for bytes the kernel has yet to deliver before it calls the server
 * hung. Loopback delivers at once nearly always; this bounds the rare deferred delivery. */
#define FZ_SETTLE_NS 10000000000ull

static tacl_store_server_t *fz_srv;
static int fz_port;
static unsigned long fz_runs;
static tacl__auth_t fz_auth;

static void fz_start(void)
{
    if (fz_srv) return;
    signal(SIGPIPE, SIG_IGN);
    /* Quiet: bad frames are the point, their WARN lines are not. */
    setenv("TACL_LOG", "none", 1);
    setenv("TACL_STORE_TOKEN", "fuzz-job-secret", 1);
    tacl__log_reload();
    FUZZ_ASSERT(tacl__auth_get(&fz_auth, NULL) == TACL_OK);
    FUZZ_ASSERT(boot_store_server_start_polled("127.0.0.1", 0, &fz_srv) == TACL_OK);
    fz_port = tacl_store_server_port(fz_srv);
}

/* Turns the server's loop until it has nothing left to do. */
static void fz_idle(void)
{
    int r, turns = 0;
    while ((r = boot_store_server_poll(fz_srv, 0, 0)) > 0)
        FUZZ_ASSERT(++turns < 1000000);
    FUZZ_ASSERT(r == 0);
}

/* Waits up to 1 ms for the server to have something to do (bytes still in the kernel). */
static void fz_nudge(uint64_t since)
{
    FUZZ_ASSERT(tacl__now_ns() - since < FZ_SETTLE_NS);
    FUZZ_ASSERT(boot_store_server_poll(fz_srv, 1, 0) >= 0);
}

/* Reads what fd holds now into buf (up to cap past *len). Returns 1 at end of stream or reset,
 * else 0. */
static int fz_drain(int fd, uint8_t *buf, size_t *len, size_t cap)
{
    for (;;) {
        FUZZ_ASSERT(*len < cap);
        ssize_t n = recv(fd, buf + *len, cap - *len, MSG_DONTWAIT);
        if (n > 0) {
            *len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        return 1;
    }
}

/* Reads exactly len bytes, turning the server while they are not there; end of stream before
 * them is a finding. */
static void fz_read(int fd, uint8_t *buf, size_t len)
{
    uint64_t t0 = tacl__now_ns();
    size_t got = 0;
    int turned = 0;
    while (got < len) {
        ssize_t n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        FUZZ_ASSERT(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
        if (turned) fz_nudge(t0);
        fz_idle();
        turned = 1;
    }
}

/* Sends everything, turning the server whenever the socket is full. Stops early when the
 * server closed the connection. */
static void fz_send(int fd, const uint8_t *p, size_t len)
{
    uint64_t t0 = tacl__now_ns();
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            fz_idle();
            fz_nudge(t0);
            continue;
        }
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

/* A new connection to the server (not yet accepted: the server accepts it when it turns). */
static int fz_dial(void)
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
    return fd;
}

/* Reads the server's greeting on fd; hello receives the client's answer to the challenge
 * (STORE_HELLO_LEN bytes), which the caller sends, with requests right behind it if it likes,
 * and nonces both nonces for fz_verdict: the verdict is the first thing that comes back. */
static void fz_greet(int fd, uint8_t *hello, uint8_t *nonces)
{
    uint8_t g[STORE_GREET_LEN];
    fz_read(fd, g, sizeof g);
    FUZZ_ASSERT(store_get_u32(g) == STORE_AUTH_MAGIC && store_get_u16(g + 4) == STORE_VERSION);
    store_put_u32(hello, STORE_AUTH_MAGIC);
    store_put_u16(hello + 4, STORE_VERSION);
    store_put_u16(hello + 6, STORE_AUTH_FLAG_ON);
    FUZZ_ASSERT(tacl__auth_random(hello + 8, TACL_AUTH_NONCE_LEN) == 0);
    tacl__auth_mac(&fz_auth, STORE_LABEL_CLIENT, g + 8, hello + 8, NULL, 0, hello + 40);
    memcpy(nonces, g + 8, TACL_AUTH_NONCE_LEN);
    memcpy(nonces + TACL_AUTH_NONCE_LEN, hello + 8, TACL_AUTH_NONCE_LEN);
}

/* Checks the server's verdict (STORE_VERDICT_LEN bytes): accepted, and it knows the token. */
static void fz_verdict(const uint8_t *v, const uint8_t *nonces)
{
    FUZZ_ASSERT(store_get_u32(v) == STORE_AUTH_MAGIC && store_get_u16(v + 4) == STORE_VERSION);
    FUZZ_ASSERT(store_get_u16(v + 6) == 0);
    uint8_t want[TACL_AUTH_MAC_LEN];
    tacl__auth_mac(&fz_auth, STORE_LABEL_SERVER, nonces, nonces + TACL_AUTH_NONCE_LEN, NULL, 0,
                   want);
    FUZZ_ASSERT(!memcmp(want, v + 8, sizeof want));
}

/* Closes fd with a reset, then checks that the server let go of every connection and parked
 * request the run made (it must clean up the requests of a connection that goes away). */
static void fz_close_all(const int *fds, int n)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
    uint64_t t0 = tacl__now_ns();
    for (;;) {
        fz_idle();
        if (boot_store_server_nclients(fz_srv) == 0) break;
        fz_nudge(t0);
    }
    FUZZ_ASSERT(boot_store_server_nparked(fz_srv) == 0);
}

/* The liveness check's client: the library's own, in a thread, while the target turns the
 * server. */
typedef struct {
    _Atomic int done;
    int ok, clear;
    char val[32];
} fz_alive_t;

static void *fz_alive_client(void *arg)
{
    fz_alive_t *a = arg;
    tacl_store_t *st;
    if (tacl_store_connect("127.0.0.1", fz_port, 10, &st) == TACL_OK) {
        void *v = NULL;
        size_t len = 0;
        a->ok = tacl_store_set(st, "fuzz/alive", a->val, strlen(a->val)) == TACL_OK &&
                tacl_store_get(st, "fuzz/alive", &v, &len) == TACL_OK && len == strlen(a->val) &&
                !memcmp(v, a->val, len) &&
                (!a->clear || boot_store_delete_prefix(st, "", NULL) == TACL_OK);
        tacl_free(v);
        tacl_store_close(st);
    }
    atomic_store(&a->done, 1);
    return NULL;
}

/* Every 128 runs: the server still serves a well-behaved client, correctly; every 4096, the
 * keys the inputs left behind are cleared. */
static void fz_check_alive(void)
{
    if (++fz_runs % 128) return;
    static fz_alive_t a;
    atomic_store(&a.done, 0);
    a.ok = 0;
    a.clear = fz_runs % 4096 == 0;
    snprintf(a.val, sizeof a.val, "run-%lu", fz_runs);
    pthread_t t;
    FUZZ_ASSERT(pthread_create(&t, NULL, fz_alive_client, &a) == 0);
    uint64_t t0 = tacl__now_ns();
    while (!atomic_load(&a.done)) {
        FUZZ_ASSERT(tacl__now_ns() - t0 < FZ_SETTLE_NS);
        FUZZ_ASSERT(boot_store_server_poll(fz_srv, 1, 0) >= 0);
    }
    pthread_join(t, NULL);
    FUZZ_ASSERT(a.ok);
    fz_close_all(NULL, 0);
}

#endif
