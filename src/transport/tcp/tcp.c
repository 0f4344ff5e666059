/* tcp.c — the tcp link type: choosing interfaces (TACL_SOCKET_IFNAME, NCCL's syntax), listening
 * on every address, starting non-blocking connects, tuning sockets, the blocking-with-deadline
 * helpers used during create, and the data-path ops (tacl__tcp_ops) over a connected socket. */
#include "transport/transport.h"

#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int fd;
} tcp_conn_t;

static int tcp_prefix_in_list(const char *list, const char *ifname, int exact)
{
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0) {
            if (exact ? (strlen(ifname) == n && strncmp(ifname, p, n) == 0)
                      : strncmp(ifname, p, n) == 0)
                return 1;
        }
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

int tacl__tcp_ifname_match(const char *spec, const char *ifname)
{
    int exclude = 0, exact = 0;
    if (*spec == '^') {
        exclude = 1;
        spec++;
    }
    if (*spec == '=') {
        exact = 1;
        spec++;
    }
    int in = tcp_prefix_in_list(spec, ifname, exact);
    return exclude ? !in : in;
}

/* Default selection, as NCCL's: no loopback and no docker bridges. */
static int tcp_default_ok(const char *ifname, unsigned flags)
{
    if (flags & IFF_LOOPBACK) return 0;
    return strncmp(ifname, "docker", 6) != 0;
}

static int tcp_collect(const struct ifaddrs *ifs, const char *spec, int loopback_only, int port,
                       tacl__tcp_addr_t *out, int max)
{
    int n = 0;
    for (const struct ifaddrs *i = ifs; i && n < max; i = i->ifa_next) {
        if (!i->ifa_addr || !(i->ifa_flags & IFF_UP)) continue;
        int fam = i->ifa_addr->sa_family;
        if (fam != AF_INET && fam != AF_INET6) continue;
        if (spec[0]) {
            if (!tacl__tcp_ifname_match(spec, i->ifa_name)) continue;
        } else if (loopback_only ? !(i->ifa_flags & IFF_LOOPBACK)
                                 : !tcp_default_ok(i->ifa_name, i->ifa_flags)) {
            continue;
        }
        tacl__tcp_addr_t *a = &out[n];
        memset(a, 0, sizeof *a);
        a->family = fam;
        a->port = (uint16_t)port;
        if (fam == AF_INET) {
            memcpy(a->addr, &((const struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
        } else {
            const struct in6_addr *v6 = &((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
            if (IN6_IS_ADDR_LINKLOCAL(v6)) continue;
            memcpy(a->addr, v6, 16);
        }
        snprintf(a->ifname, sizeof a->ifname, "%s", i->ifa_name);
        n++;
    }
    return n;
}

tacl_status_t tacl__tcp_local_addrs(const char *spec, int port, tacl__tcp_addr_t *out, int max,
                                    int *n, tacl__errbuf_t *eb)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_NET, "getifaddrs failed: %s",
                         strerror(errno));
    int k = tcp_collect(ifs, spec, 0, port, out, max);
    if (k == 0 && !spec[0]) k = tcp_collect(ifs, spec, 1, port, out, max);
    freeifaddrs(ifs);
    if (k == 0)
        return tacl__err(eb, TACL_ERR_CONFIG, TACL_SUB_NET,
                         "no usable network interface (TACL_SOCKET_IFNAME=\"%s\" selects none that "
                         "is up with an IPv4 or IPv6 address)",
                         spec);
    *n = k;
    return TACL_OK;
}

static void tcp_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

tacl_status_t tacl__tcp_listen(int *fdp, int *portp, tacl__errbuf_t *eb)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    if (fd >= 0) {
        int off = 0;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_any;
        sl = sizeof *s6;
    } else {
        /* No IPv6 in this kernel or namespace: IPv4 only. */
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_NET, "socket() failed: %s",
                             strerror(errno));
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        sl = sizeof *s4;
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        return tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_NET, "cannot listen on a tcp port: %s",
                         strerror(e));
    }
    sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    tcp_nonblock(fd);
    *fdp = fd;
    *portp = port;
    return TACL_OK;
}

int tacl__tcp_connect_start(const tacl__tcp_addr_t *a, int *err)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    if (a->family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(a->port);
        memcpy(&s4->sin_addr, a->addr, 4);
        sl = sizeof *s4;
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a->port);
        memcpy(&s6->sin6_addr, a->addr, 16);
        sl = sizeof *s6;
    }
    int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    tacl__tcp_tune(fd);
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
        *err = errno;
        close(fd);
        return -1;
    }
    return fd;
}

void tacl__tcp_addr_format(const tacl__tcp_addr_t *a, char *buf, size_t len)
{
    char txt[INET6_ADDRSTRLEN] = "?";
    inet_ntop(a->family, a->addr, txt, sizeof txt);
    if (a->family == AF_INET6)
        snprintf(buf, len, "[%s]:%u", txt, a->port);
    else
        snprintf(buf, len, "%s:%u", txt, a->port);
}

void tacl__tcp_tune(int fd)
{
    int one = 1, buf = 4 << 20;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    /* Large buffers keep a 1 MiB fragment in flight per connection; the kernel caps them at
     * net.core.[rw]mem_max, which is fine. */
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    tcp_nonblock(fd);
}

void *tacl__tcp_conn_wrap(int fd)
{
    tcp_conn_t *c = malloc(sizeof *c);
    if (c) c->fd = fd;
    return c;
}

static int tcp_wait(int fd, short ev, uint64_t deadline_ns, const char **why)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = ev};
        int ms = tacl__ms_left(deadline_ns);
        if (ms == 0) {
            *why = "timed out";
            return -1;
        }
        int r = poll(&p, 1, ms);
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) {
            *why = strerror(errno);
            return -1;
        }
    }
}

int tacl__tcp_send_all(int fd, const void *buf, size_t len, uint64_t deadline_ns, const char **why)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (tcp_wait(fd, POLLOUT, deadline_ns, why) != 0) return -1;
            continue;
        }
        *why = strerror(errno);
        return -1;
    }
    return 0;
}

int tacl__tcp_recv_all(int fd, void *buf, size_t len, uint64_t deadline_ns, const char **why)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0) {
            *why = "connection closed by the peer";
            return -1;
        }
        if (errno == EAGAIN || errno == EINTR) {
            if (tcp_wait(fd, POLLIN, deadline_ns, why) != 0) return -1;
            continue;
        }
        *why = strerror(errno);
        return -1;
    }
    return 0;
}

static ssize_t tcp_writev(void *conn, const struct iovec *iov, int iovcnt)
{
    tcp_conn_t *c = conn;
    struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    for (;;) {
        ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -1;
    }
}

static ssize_t tcp_read(void *conn, void *buf, size_t len)
{
    tcp_conn_t *c = conn;
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, MSG_DONTWAIT);
        if (n > 0) return n;
        if (n == 0) {
            errno = 0;
            return -1;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -1;
    }
}

static int tcp_fd(void *conn)
{
    return ((tcp_conn_t *)conn)->fd;
}

static void tcp_close(void *conn)
{
    tcp_conn_t *c = conn;
    if (c->fd >= 0) close(c->fd);
    free(c);
}

const tacl__link_ops_t tacl__tcp_ops = {
    .name = "tcp",
    .writev = tcp_writev,
    .read = tcp_read,
    .fd = tcp_fd,
    .readable = NULL,
    .close = tcp_close,
    .direct_min = 16384,
};
