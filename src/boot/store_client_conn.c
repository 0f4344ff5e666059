/* store_client_conn.c — the store client's connection: connecting with retries and backoff
 * until the connect timeout, sending and receiving under a deadline, and the job-token
 * challenge-response every connection starts with (store_proto.h): the client proves it knows
 * the token and checks that the store does too; a refusal is not retried. */
#include "boot/store_client_int.h"
#include "clock.h"
#include "err.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Backoff between connection attempts: starts small (a server that is just starting), grows
 * to at most this. */
#define CLI_BACKOFF_MAX_S 0.5

/* One connection attempt to every address of host:port, each bounded by deadline. */
static int cli_connect_once(const char *host, int port, uint64_t deadline, int *err,
                            const char **gai)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int g = getaddrinfo(host, ps, &hints, &res);
    if (g != 0) {
        *gai = gai_strerror(g);
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            *err = errno;
            continue;
        }
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int pr;
            do {
                pr = poll(&p, 1, tacl__ms_left(deadline));
            } while (pr < 0 && errno == EINTR);
            if (pr == 0) {
                errno = ETIMEDOUT;
                rc = -1;
            } else {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                errno = soerr;
                rc = soerr ? -1 : 0;
            }
        }
        if (rc == 0) break;
        *err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

tacl_status_t boot_store_auth_client(int fd, const char *addr, const tacl__auth_t *auth,
                                     uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    uint8_t g[STORE_GREET_LEN], h[STORE_HELLO_LEN], v[STORE_VERDICT_LEN];
    const char *stage = "greeting";
    if (boot_store_cli_io(fd, g, sizeof g, 0, deadline_ns) != 0) goto err_io;
    if (store_get_u32(g) != STORE_AUTH_MAGIC || store_get_u16(g + 4) != STORE_VERSION)
        return tacl__err(eb, TACL_ERR_PROTOCOL, TACL_SUB_STORE,
                         "the store at %s greeted with magic 0x%08x version %u: is a tacl store of "
                         "protocol version %u listening there?",
                         addr, store_get_u32(g), store_get_u16(g + 4), STORE_VERSION);
    int server_on = store_get_u16(g + 6) & STORE_AUTH_FLAG_ON;
    store_put_u32(h, STORE_AUTH_MAGIC);
    store_put_u16(h + 4, STORE_VERSION);
    store_put_u16(h + 6, auth->on ? STORE_AUTH_FLAG_ON : 0);
    if (tacl__auth_random(h + 8, TACL_AUTH_NONCE_LEN) != 0)
        return tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_STORE,
                         "store at %s: cannot draw a random nonce (getrandom failed)", addr);
    tacl__auth_mac(auth, STORE_LABEL_CLIENT, g + 8, h + 8, NULL, 0, h + 40);
    stage = "hello";
    if (boot_store_cli_io(fd, h, sizeof h, 1, deadline_ns) != 0) goto err_io;
    stage = "verdict";
    if (boot_store_cli_io(fd, v, sizeof v, 0, deadline_ns) != 0) goto err_io;
    const char *why = !auth->on    ? " (this process runs with TACL_AUTH=0)"
                      : !server_on ? " (the store runs with TACL_AUTH=0)"
                                   : "";
    if (store_get_u32(v) != STORE_AUTH_MAGIC || store_get_u16(v + 6) != 0)
        return tacl__err(eb, TACL_ERR_AUTH, TACL_SUB_STORE,
                         "the store at %s refused this process's job token (from %s)%s: %s", addr,
                         auth->source, why, TACL_AUTH_HINT);
    uint8_t want[TACL_AUTH_MAC_LEN];
    tacl__auth_mac(auth, STORE_LABEL_SERVER, g + 8, h + 8, NULL, 0, want);
    if (!tacl__mac_equal(want, v + 8, sizeof want))
        return tacl__err(eb, TACL_ERR_AUTH, TACL_SUB_STORE,
                         "the store at %s accepted this process but could not prove it knows the "
                         "job token (from %s)%s: it is not this job's store",
                         addr, auth->source, why);
    return TACL_OK;

err_io:;
    int e = errno;
    return tacl__err(eb, e == ETIMEDOUT ? TACL_ERR_TIMEOUT : TACL_ERR_CLOSED, TACL_SUB_STORE,
                     "the store at %s %s during the job-token handshake (waiting for its %s)%s%s",
                     addr, e == ETIMEDOUT ? "did not answer in time" : "closed the connection",
                     stage, e == EPIPE || e == ETIMEDOUT ? "" : ": ",
                     e == EPIPE || e == ETIMEDOUT ? "" : strerror(e));
}

tacl_status_t boot_store_auth_require(int rank, int size, tacl__errbuf_t *eb)
{
    tacl__auth_t a;
    tacl_status_t st = tacl__auth_configured(&a, eb);
    if (st == TACL_ERR_NOT_FOUND)
        return tacl__err(eb, TACL_ERR_AUTH, TACL_SUB_BOOT,
                         "rank %d of %d: no job token, so anyone who reaches the store or a rank "
                         "could join this job: %s",
                         rank, size, TACL_AUTH_HINT);
    if (st != TACL_OK) return tacl__err_prefix(eb, st, "rank %d of %d", rank, size);
    if (!a.on)
        TACL_INFO(TACL_SUB_BOOT, "rank %d of %d: authentication is off (TACL_AUTH=0)", rank, size);
    return TACL_OK;
}

/* Connects st->fd, retrying with backoff until timeout_s passes (once when retry is 0). A
 * store that refuses the token or is not a tacl store ends the attempts at once. */
tacl_status_t boot_store_cli_connect(tacl_store_t *st, double timeout_s, int retry)
{
    uint64_t deadline = tacl__deadline_ns(timeout_s);
    double backoff = 0.01;
    int err = 0, attempts = 0;
    const char *gai = NULL;
    tacl__auth_t auth;
    TACL_CHECK(tacl__auth_get(&auth, &st->eb));
    for (;;) {
        attempts++;
        gai = NULL;
        int fd = cli_connect_once(st->host, st->port, deadline, &err, &gai);
        if (fd >= 0) {
            tacl_status_t s = boot_store_auth_client(fd, st->addr, &auth, deadline, &st->eb);
            if (s == TACL_ERR_AUTH || s == TACL_ERR_PROTOCOL || s == TACL_ERR_SYSTEM) {
                close(fd);
                return s;
            }
            if (s != TACL_OK) {
                /* Closed before the verdict (a store out of descriptors) or slow: retry. */
                close(fd);
                err = ECONNRESET;
                fd = -1;
            }
        }
        if (fd >= 0) {
            st->fd = fd;
            if (attempts > 1)
                TACL_DEBUG(TACL_SUB_STORE, "connected to store at %s after %d attempts", st->addr,
                           attempts);
            return TACL_OK;
        }
        if (!retry || tacl__now_ns() >= deadline) break;
        double left = (double)tacl__ms_left(deadline) / 1e3;
        double nap = backoff < left ? backoff : left;
        struct timespec ts = {.tv_sec = (time_t)nap, .tv_nsec = (long)((nap - (time_t)nap) * 1e9)};
        nanosleep(&ts, NULL);
        backoff = backoff * 2 < CLI_BACKOFF_MAX_S ? backoff * 2 : CLI_BACKOFF_MAX_S;
    }
    return tacl__err(&st->eb, TACL_ERR_UNREACHABLE, TACL_SUB_STORE,
                     "cannot connect to the store at %s within %.1f s (%d attempt%s): %s", st->addr,
                     timeout_s, attempts, attempts == 1 ? "" : "s", gai ? gai : strerror(err));
}

void boot_store_cli_drop(tacl_store_t *st)
{
    if (st->fd >= 0) close(st->fd);
    st->fd = -1;
}

/* Sends or receives exactly len bytes before deadline. Returns 0, or -1 with errno (ETIMEDOUT
 * when the deadline passed, EPIPE for a closed stream). */
int boot_store_cli_io(int fd, void *buf, size_t len, int sending, uint64_t deadline)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = sending ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0) {
            errno = EPIPE;
            return -1;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
        struct pollfd pf = {.fd = fd, .events = sending ? POLLOUT : POLLIN};
        int ms = tacl__ms_left(deadline);
        if (ms == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (poll(&pf, 1, ms) < 0 && errno != EINTR) return -1;
    }
    return 0;
}
