/* harness_tcp.c — the tiny TCP tool of the network-namespace harness (tests/netns/lib.sh):
 * a receiver that counts bytes and time per connection, a sender that streams for a given
 * time, and a connect probe. The hosts have no ping or nc, and a tool of our own reports
 * errors (ENETUNREACH vs timeout) exactly. Every wait is bounded by a deadline.
 *
 *   harness_tcp serve ADDR PORTFILE NCONN TIMEOUT_S   listen on ADDR:0, write the port to
 *       PORTFILE, take NCONN connections one after the other, print for each
 *       "conn bytes=N seconds=T rate_bps=R" (bits per second from first byte to EOF)
 *   harness_tcp send ADDR PORT SECONDS                 stream for SECONDS, print "sent bytes=N"
 *   harness_tcp probe ADDR PORT TIMEOUT_S              connect and close; "ok" or the error
 * Exit status: 0 success, 2 usage, 3 connect failed, 4 other failure. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double ht_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int ht_ms_left(double deadline)
{
    double left = deadline - ht_now();
    return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

static int ht_addr(const char *host, int port, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        fprintf(stderr, "harness_tcp: '%s' is not an IPv4 address\n", host);
        return -1;
    }
    return 0;
}

/* Non-blocking connect bounded by timeout_s; returns a blocking socket or -1 (errno set). */
static int ht_connect(const char *host, int port, double timeout_s)
{
    struct sockaddr_in sa;
    if (ht_addr(host, port, &sa)) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) && errno != EINPROGRESS) goto err_close;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int r = poll(&p, 1, (int)(timeout_s * 1000));
    if (r == 0) {
        errno = ETIMEDOUT;
        goto err_close;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (r < 0 || soerr) {
        if (soerr) errno = soerr;
        goto err_close;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
err_close : {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}
}

static int ht_serve(const char *host, const char *portfile, int nconn, double timeout_s)
{
    struct sockaddr_in sa;
    if (ht_addr(host, 0, &sa)) return 2;
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t sl = sizeof sa;
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 16) ||
        getsockname(ls, (struct sockaddr *)&sa, &sl)) {
        fprintf(stderr, "harness_tcp: listen on %s: %s\n", host, strerror(errno));
        return 4;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", portfile);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", ntohs(sa.sin_port)) < 0 || fclose(f) || rename(tmp, portfile)) {
        fprintf(stderr, "harness_tcp: cannot write %s: %s\n", portfile, strerror(errno));
        return 4;
    }
    double deadline = ht_now() + timeout_s;
    static char buf[1 << 16];
    for (int c = 0; c < nconn; c++) {
        struct pollfd p = {.fd = ls, .events = POLLIN};
        if (poll(&p, 1, ht_ms_left(deadline)) <= 0) {
            fprintf(stderr, "harness_tcp: no connection %d on %s within %.1f s\n", c + 1, host,
                    timeout_s);
            return 4;
        }
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) return 4;
        long long bytes = 0;
        double first = 0, last = 0;
        for (;;) {
            struct pollfd q = {.fd = fd, .events = POLLIN};
            if (poll(&q, 1, ht_ms_left(deadline)) <= 0) {
                fprintf(stderr, "harness_tcp: connection %d on %s: no EOF before deadline\n", c + 1,
                        host);
                return 4;
            }
            ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) break;
            last = ht_now();
            if (!bytes) first = last;
            bytes += n;
        }
        close(fd);
        double secs = last - first;
        printf("conn bytes=%lld seconds=%.3f rate_bps=%.0f\n", bytes, secs,
               secs > 0 ? (double)bytes * 8 / secs : 0.0);
        fflush(stdout);
    }
    close(ls);
    return 0;
}

static int ht_send(const char *host, int port, double seconds)
{
    int fd = ht_connect(host, port, 5);
    if (fd < 0) {
        fprintf(stderr, "harness_tcp: connect %s:%d: %s\n", host, port, strerror(errno));
        return 3;
    }
    static char buf[1 << 16];
    memset(buf, 0x5a, sizeof buf);
    double end = ht_now() + seconds;
    long long bytes = 0;
    /* Small writes near the end keep the overshoot past `seconds` to one socket buffer. */
    while (ht_now() < end) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, ht_ms_left(end)) <= 0) continue;
        ssize_t n = send(fd, buf, 16384, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            fprintf(stderr, "harness_tcp: send to %s:%d: %s\n", host, port, strerror(errno));
            close(fd);
            return 4;
        }
        if (n > 0) bytes += n;
    }
    close(fd);
    printf("sent bytes=%lld\n", bytes);
    return 0;
}

static int ht_probe(const char *host, int port, double timeout_s)
{
    int fd = ht_connect(host, port, timeout_s);
    if (fd < 0) {
        printf("connect %s:%d: %s\n", host, port, strerror(errno));
        return 3;
    }
    close(fd);
    printf("ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "serve"))
        return ht_serve(argv[2], argv[3], atoi(argv[4]), atof(argv[5]));
    if (argc == 5 && !strcmp(argv[1], "send"))
        return ht_send(argv[2], atoi(argv[3]), atof(argv[4]));
    if (argc == 5 && !strcmp(argv[1], "probe"))
        return ht_probe(argv[2], atoi(argv[3]), atof(argv[4]));
    fprintf(stderr, "usage: harness_tcp serve ADDR PORTFILE NCONN TIMEOUT_S\n"
                    "       harness_tcp send ADDR PORT SECONDS\n"
                    "       harness_tcp probe ADDR PORT TIMEOUT_S\n");
    return 2;
}
