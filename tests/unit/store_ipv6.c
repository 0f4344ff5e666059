/* store_ipv6.c — the store over IPv6: a server on all addresses (dual stack) answers clients
 * on ::1 and on 127.0.0.1, a server bound to ::1 answers ::1, and messages write IPv6
 * addresses in brackets. Skips (77) when this host has no IPv6 loopback. */
#include "boot/store_int.h"
#include "check.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static int v6_available(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
    int ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static void v6_roundtrip(const char *host, int port, const char *key)
{
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect(host, port, 5, &st));
    CHECK_OK(tacl_store_set(st, key, host, strlen(host)));
    void *v;
    size_t len;
    CHECK_OK(tacl_store_get(st, key, &v, &len));
    CHECK(!strcmp(v, host));
    tacl_free(v);
    tacl_store_close(st);
}

int main(void)
{
    if (!v6_available()) SKIP("no IPv6 loopback (::1) on this host");
    tacl_store_server_t *srv;
    CHECK_OK(tacl_store_server_start(NULL, 0, &srv));
    int port = tacl_store_server_port(srv);
    v6_roundtrip("::1", port, "via-v6");
    v6_roundtrip("127.0.0.1", port, "via-v4");
    tacl_store_server_stop(srv);

    CHECK_OK(tacl_store_server_start("::1", 0, &srv));
    port = tacl_store_server_port(srv);
    v6_roundtrip("::1", port, "only-v6");
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("::1", port, 5, &st));
    tacl_store_set_timeout(st, 0.2);
    void *v;
    size_t len;
    CHECK_ST(tacl_store_get(st, "absent", &v, &len), TACL_ERR_TIMEOUT);
    char addr[64];
    snprintf(addr, sizeof addr, "[::1]:%d", port);
    CHECK_CONTAINS(tacl_store_last_error(st), addr);
    tacl_store_close(st);
    tacl_store_server_stop(srv);
    printf("store_ipv6: ok\n");
    return 0;
}
