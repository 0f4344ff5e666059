/* store_basic.c — the rendezvous store's operations against an in-process server: set/get of
 * binary values, get and wait blocking until another thread sets the keys, add, compare_set
 * semantics, delete, check, num_keys, timeouts naming the keys and the address, the handle
 * staying usable after a timeout, client-side limits, and the connect-failure message. */
#include "boot/store_int.h"
#include "check.h"
#include "clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int port;
    double delay_s;
    const char *keys[4];
    int nkeys;
} setter_arg_t;

/* Sets the given keys (value = key name) after a delay, from its own handle. */
static void *basic_setter(void *p)
{
    setter_arg_t *a = p;
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", a->port, 5, &st));
    usleep((useconds_t)(a->delay_s * 1e6));
    for (int i = 0; i < a->nkeys; i++)
        CHECK_OK(tacl_store_set(st, a->keys[i], a->keys[i], strlen(a->keys[i])));
    tacl_store_close(st);
    return NULL;
}

/* A port on which nothing listens: bind port 0, read the port, close. */
static int basic_closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    close(fd);
    return ntohs(sa.sin_port);
}

int main(void)
{
    tacl_store_server_t *srv;
    CHECK_OK(tacl_store_server_start("127.0.0.1", 0, &srv));
    int port = tacl_store_server_port(srv);
    CHECK(port > 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", port, 5, &st));
    CHECK(!strcmp(boot_store_addr(st), addr));

    /* set/get: binary values survive, and the result is NUL-terminated past its length. */
    const unsigned char bin[6] = {0, 1, 255, 0, 'x', 7};
    CHECK_OK(tacl_store_set(st, "bin", bin, sizeof bin));
    void *v;
    size_t len;
    CHECK_OK(tacl_store_get(st, "bin", &v, &len));
    CHECK(len == sizeof bin && !memcmp(v, bin, sizeof bin) && ((char *)v)[len] == '\0');
    tacl_free(v);
    CHECK_OK(tacl_store_set(st, "empty", NULL, 0));
    CHECK_OK(tacl_store_get(st, "empty", &v, &len));
    CHECK(len == 0 && ((char *)v)[0] == '\0');
    tacl_free(v);
    CHECK_OK(tacl_store_set(st, "bin", "over", 4)); /* overwrite */
    CHECK_OK(tacl_store_get(st, "bin", &v, &len));
    CHECK(len == 4 && !memcmp(v, "over", 4));
    tacl_free(v);

    /* get blocks until another client sets the key: the server parks it, no polling. */
    setter_arg_t a = {.port = port, .delay_s = 0.2, .keys = {"late"}, .nkeys = 1};
    pthread_t t;
    double t0 = tacl__now_s();
    pthread_create(&t, NULL, basic_setter, &a);
    CHECK_OK(tacl_store_get(st, "late", &v, &len));
    CHECK(tacl__now_s() - t0 >= 0.15);
    CHECK(len == 4 && !memcmp(v, "late", 4));
    tacl_free(v);
    pthread_join(t, NULL);

    /* wait returns once every key exists, however they arrive. */
    setter_arg_t b = {.port = port, .delay_s = 0.1, .keys = {"w2", "w1", "w3"}, .nkeys = 3};
    pthread_create(&t, NULL, basic_setter, &b);
    const char *wkeys[] = {"w1", "w2", "w3", "late"};
    CHECK_OK(tacl_store_wait(st, wkeys, 4));
    pthread_join(t, NULL);
    int all;
    CHECK_OK(tacl_store_check(st, wkeys, 4, &all));
    CHECK(all == 1);
    const char *some[] = {"w1", "nope"};
    CHECK_OK(tacl_store_check(st, some, 2, &all));
    CHECK(all == 0);

    /* add: a missing key counts from 0; the value reads back as decimal text. */
    int64_t n;
    CHECK_OK(tacl_store_add(st, "ctr", 5, &n));
    CHECK(n == 5);
    CHECK_OK(tacl_store_add(st, "ctr", -12, &n));
    CHECK(n == -7);
    CHECK_OK(tacl_store_get(st, "ctr", &v, &len));
    CHECK(!strcmp(v, "-7"));
    tacl_free(v);
    CHECK_ST(tacl_store_add(st, "bin", 1, &n), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_store_last_error(st), "'bin'");
    CHECK_CONTAINS(tacl_store_last_error(st), "not a decimal integer");
    CHECK_CONTAINS(tacl_store_last_error(st), addr);

    /* compare_set: missing key + empty expected creates it. */
    CHECK_OK(tacl_store_compare_set(st, "cas", "", 0, "one", 3, &v, &len));
    CHECK(len == 3 && !memcmp(v, "one", 3));
    tacl_free(v);
    /* Mismatch leaves the value and returns what is held. */
    CHECK_OK(tacl_store_compare_set(st, "cas", "zzz", 3, "two", 3, &v, &len));
    CHECK(len == 3 && !memcmp(v, "one", 3));
    tacl_free(v);
    /* Match swaps. */
    CHECK_OK(tacl_store_compare_set(st, "cas", "one", 3, "two", 3, &v, &len));
    CHECK(len == 3 && !memcmp(v, "two", 3));
    tacl_free(v);
    /* Missing key + non-empty expected: nothing is created, an empty value comes back. */
    CHECK_OK(tacl_store_compare_set(st, "cas-missing", "x", 1, "y", 1, &v, &len));
    CHECK(len == 0);
    tacl_free(v);
    const char *cm[] = {"cas-missing"};
    CHECK_OK(tacl_store_check(st, cm, 1, &all));
    CHECK(all == 0);
    /* An empty expected on an existing key is a mismatch. */
    CHECK_OK(tacl_store_compare_set(st, "cas", "", 0, "three", 5, &v, &len));
    CHECK(len == 3 && !memcmp(v, "two", 3));
    tacl_free(v);

    /* num_keys: bin empty late w1 w2 w3 ctr cas = 8; delete reports whether it deleted. */
    CHECK_OK(tacl_store_num_keys(st, &n));
    CHECK(n == 8);
    int deleted;
    CHECK_OK(tacl_store_delete(st, "w3", &deleted));
    CHECK(deleted == 1);
    CHECK_OK(tacl_store_delete(st, "w3", &deleted));
    CHECK(deleted == 0);
    CHECK_OK(tacl_store_num_keys(st, &n));
    CHECK(n == 7);

    /* multi_get returns values in key order; delete_prefix removes exactly the prefix. */
    const char *mk[] = {"w2", "ctr", "w1"};
    void *mv[3];
    size_t ml[3];
    CHECK_OK(boot_store_multi_get(st, mk, 3, mv, ml));
    CHECK(!strcmp(mv[0], "w2") && !strcmp(mv[1], "-7") && !strcmp(mv[2], "w1"));
    CHECK(ml[0] == 2 && ml[1] == 2 && ml[2] == 2);
    for (int i = 0; i < 3; i++)
        tacl_free(mv[i]);
    int64_t nd;
    CHECK_OK(boot_store_delete_prefix(st, "w", &nd));
    CHECK(nd == 2);
    CHECK_OK(tacl_store_num_keys(st, &n));
    CHECK(n == 5);

    /* Timeouts name the missing keys (not the present ones) and the store's address. */
    tacl_store_set_timeout(st, 0.3);
    t0 = tacl__now_s();
    CHECK_ST(tacl_store_get(st, "never/set", &v, &len), TACL_ERR_TIMEOUT);
    double el = tacl__now_s() - t0;
    CHECK(el >= 0.25 && el < 2.0);
    CHECK_CONTAINS(tacl_store_last_error(st), "'never/set'");
    CHECK_CONTAINS(tacl_store_last_error(st), addr);
    CHECK_CONTAINS(tacl_last_error(), "'never/set'");
    const char *tk[] = {"ctr", "missing-a", "cas", "missing-b"};
    CHECK_ST(tacl_store_wait(st, tk, 4), TACL_ERR_TIMEOUT);
    const char *msg = tacl_store_last_error(st);
    CHECK_CONTAINS(msg, "'missing-a'");
    CHECK_CONTAINS(msg, "'missing-b'");
    CHECK_CONTAINS(msg, "2 of 4 keys");
    CHECK_CONTAINS(msg, addr);
    CHECK(!strstr(msg, "'ctr'"));
    /* The handle is usable after a timeout. */
    CHECK_OK(tacl_store_get(st, "cas", &v, &len));
    CHECK(!strcmp(v, "two"));
    tacl_free(v);

    /* Client-side limits: an oversized key never reaches the server. */
    char *big = malloc(5000);
    memset(big, 'k', 4999);
    big[4999] = '\0';
    CHECK_ST(tacl_store_set(st, big, "x", 1), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_store_last_error(st), "exceeds the limit of 4096");
    free(big);
    CHECK_OK(tacl_store_num_keys(st, &n));
    CHECK(n == 5);

    /* The server stopping under a client: the next call fails naming the address. */
    tacl_store_t *st2;
    CHECK_OK(tacl_store_connect("127.0.0.1", port, 5, &st2));
    tacl_store_close(st);
    tacl_store_server_stop(srv);
    tacl_store_set_timeout(st2, 0.3);
    tacl_status_t s = tacl_store_set(st2, "k", "v", 1);
    CHECK(s == TACL_ERR_CLOSED || s == TACL_ERR_UNREACHABLE);
    CHECK_CONTAINS(tacl_store_last_error(st2), addr);
    tacl_store_close(st2);

    /* Connect failure: retried until the timeout, then the address and the OS error. */
    int cport = basic_closed_port();
    char caddr[64];
    snprintf(caddr, sizeof caddr, "127.0.0.1:%d", cport);
    t0 = tacl__now_s();
    tacl_store_t *none = NULL;
    CHECK_ST(tacl_store_connect("127.0.0.1", cport, 0.5, &none), TACL_ERR_UNREACHABLE);
    el = tacl__now_s() - t0;
    CHECK(none == NULL);
    CHECK(el >= 0.45 && el < 3.0);
    CHECK_CONTAINS(tacl_last_error(), caddr);
    CHECK_CONTAINS(tacl_last_error(), "Connection refused");
    CHECK_ST(tacl_store_connect("no-such-host.invalid", 1234, 0.2, &none), TACL_ERR_UNREACHABLE);
    CHECK_CONTAINS(tacl_last_error(), "no-such-host.invalid:1234");
    CHECK_ST(tacl_store_connect("127.0.0.1", 0, 1, &none), TACL_ERR_INVALID);
    printf("store_basic: ok\n");
    return 0;
}
