/* store_hostile.c — the store server under hostile or careless peers, one mode per CTest entry:
 *   chain    4000 connections each pipelining get(k_i) + set(k_i+1): one set completes the
 *            whole chain without recursion, every reply is right (once overflowed the server
 *            thread's stack);
 *   idle     a connection that never authenticates is closed after TACL_STORE_AUTH_TIMEOUT,
 *            one that stops in the middle of a frame after TACL_STORE_FRAME_TIMEOUT;
 *   memory   frames announcing far more than they send pin only what arrived, and the bytes
 *            buffered across connections stay under TACL_STORE_BUFFER_MAX (the connection that
 *            would pass it is closed, naming the limit; the others are served);
 *   fds      under a low descriptor limit, idle connections cannot lock out a real client (the
 *            oldest unauthenticated one makes room), the soft limit is raised to the hard one,
 *            and a flood of bad connections logs a bounded number of lines;
 *   stopped  a server stopped (SIGSTOP) for longer than the frame timeout while 200 clients
 *            finish their requests answers every one of them once resumed: its own absence
 *            does not count against them. */
#include "boot/store_int.h"
#include "boot/store_proto.h"
#include "check.h"
#include "clock.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char hs_log[256];
static int hs_port;
static pid_t hs_child = -1;

static int hs_connect(int authenticate)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)hs_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    if (authenticate) {
        tacl__auth_t auth;
        CHECK_OK(tacl__auth_get(&auth, NULL));
        CHECK_OK(boot_store_auth_client(fd, "test store", &auth, tacl__deadline_ns(20), NULL));
    }
    return fd;
}

static void hs_send(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        CHECK(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

static void hs_recv(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        CHECK(poll(&pf, 1, 20000) == 1);
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR) continue;
        CHECK(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* 1 when the server closes fd within ms milliseconds. */
static int hs_closed_within(int fd, int ms)
{
    uint64_t until = tacl__deadline_ns(ms / 1e3);
    char buf[4096];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = tacl__ms_left(until);
        if (poll(&p, 1, left) <= 0) return 0;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) return 1;
        if (n < 0 && errno != EINTR) return 0;
    }
}

/* A request frame of items (key, value...) into buf; returns its length. */
static size_t hs_frame(uint8_t *buf, uint16_t op, int n, const char *const *items,
                       const uint32_t *lens)
{
    uint32_t body = 0;
    for (int i = 0; i < n; i++)
        body += 4 + lens[i];
    store_put_hdr(buf, op, (uint32_t)n, body, op == STORE_OP_GET ? 60000 : 0);
    uint8_t *p = buf + STORE_HDR_LEN;
    for (int i = 0; i < n; i++) {
        store_put_u32(p, lens[i]);
        memcpy(p + 4, items[i], lens[i]);
        p += 4 + lens[i];
    }
    return (size_t)(p - buf);
}

static char *hs_read_log(void)
{
    static char buf[1 << 20];
    FILE *f = fopen(hs_log, "r");
    if (!f) return strcpy(buf, "");
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int hs_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void hs_logged(const char *why)
{
    if (strstr(hs_read_log(), why)) return;
    fprintf(stderr, "log lacks '%s':\n%s\n", why, hs_read_log());
    exit(1);
}

static tacl_store_server_t *hs_start(void)
{
    tacl_store_server_t *srv;
    CHECK_OK(tacl_store_server_start("127.0.0.1", 0, &srv));
    hs_port = tacl_store_server_port(srv);
    return srv;
}

/* A server in a child process (limited to nofile descriptors when nofile > 0) until SIGTERM;
 * hs_port is its port. */
static pid_t hs_start_child(int nofile)
{
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        hs_child = -1;
        if (nofile > 0) {
            struct rlimit rl = {(rlim_t)nofile, (rlim_t)nofile};
            CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
        }
        tacl_store_server_t *srv = hs_start();
        CHECK(write(ready[1], &hs_port, sizeof hs_port) == sizeof hs_port);
        pause();
        tacl_store_server_stop(srv);
        _exit(0);
    }
    hs_child = pid;
    CHECK(read(ready[0], &hs_port, sizeof hs_port) == sizeof hs_port);
    close(ready[0]);
    close(ready[1]);
    return pid;
}

/* ---- chain ---- */

static void hs_chain(void)
{
    /* Two descriptors per connection in this process (client and server ends). */
    int want = getenv("HS_CHAIN_N") ? atoi(getenv("HS_CHAIN_N")) : 4000;
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rlim_t need = (rlim_t)want * 2 + 256;
    if (rl.rlim_max < need) {
        struct rlimit up = {need, need};
        if (setrlimit(RLIMIT_NOFILE, &up) != 0) {
            want = (int)((rl.rlim_max - 256) / 2);
            printf("chain: the descriptor limit allows %d connections only\n", want);
        }
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (want < 1000) {
        printf("SKIP: the open-files limit allows only %d connections\n", want);
        exit(77);
    }
    tacl_store_server_t *srv = hs_start();
    int *fds = malloc(sizeof *fds * (size_t)want);
    CHECK(fds);
    uint64_t t0 = tacl__now_ns();
    for (int i = 0; i < want; i++)
        fds[i] = hs_connect(1);
    double t_conn = (double)(tacl__now_ns() - t0) / 1e9;
    /* Connection i: get chain/i, then set chain/i+1 = "v<i+1>" (pipelined, one send). */
    for (int i = 0; i < want; i++) {
        char k0[32], k1[32], v1[32];
        snprintf(k0, sizeof k0, "chain/%d", i);
        snprintf(k1, sizeof k1, "chain/%d", i + 1);
        snprintf(v1, sizeof v1, "v%d", i + 1);
        const char *g[1] = {k0}, *s[2] = {k1, v1};
        uint32_t gl[1] = {(uint32_t)strlen(k0)},
                 sl[2] = {(uint32_t)strlen(k1), (uint32_t)strlen(v1)};
        uint8_t buf[256];
        size_t n = hs_frame(buf, STORE_OP_GET, 1, g, gl);
        n += hs_frame(buf + n, STORE_OP_SET, 2, s, sl);
        hs_send(fds[i], buf, n);
    }
    /* Everyone is parked once the server holds that many waiters: wait until check sees the
     * last request's effect would be premature; simply let the server read them all. */
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", hs_port, 30, &st));
    int64_t nk = -1;
    CHECK_OK(tacl_store_num_keys(st, &nk));
    CHECK(nk == 0);
    t0 = tacl__now_ns();
    CHECK_OK(tacl_store_set(st, "chain/0", "v0", 2));
    /* The last set of the chain: waiting for it waits for the whole chain. */
    char last[32];
    snprintf(last, sizeof last, "chain/%d", want);
    void *v;
    size_t len;
    CHECK_OK(tacl_store_get(st, last, &v, &len));
    double t_chain = (double)(tacl__now_ns() - t0) / 1e9;
    char want_last[32];
    snprintf(want_last, sizeof want_last, "v%d", want);
    CHECK(len == strlen(want_last) && !memcmp(v, want_last, len));
    tacl_free(v);
    /* Every connection got its get's value, then its set's ok. */
    for (int i = 0; i < want; i++) {
        uint8_t h[STORE_HDR_LEN], body[64];
        hs_recv(fds[i], h, sizeof h);
        CHECK(store_get_u16(h + 6) == TACL_OK && store_get_u32(h + 8) == 1);
        uint32_t bl = store_get_u32(h + 12);
        CHECK(bl < sizeof body);
        hs_recv(fds[i], body, bl);
        char vi[32];
        snprintf(vi, sizeof vi, "v%d", i);
        CHECK(store_get_u32(body) == strlen(vi) && !memcmp(body + 4, vi, strlen(vi)));
        hs_recv(fds[i], h, sizeof h);
        CHECK(store_get_u16(h + 6) == TACL_OK && store_get_u32(h + 8) == 0);
        close(fds[i]);
    }
    CHECK_OK(tacl_store_num_keys(st, &nk));
    CHECK(nk == want + 1);
    tacl_store_close(st);
    tacl_store_server_stop(srv);
    free(fds);
    printf("chain: %d connections (connected in %.2f s), chain of sets completed in %.2f s\n", want,
           t_conn, t_chain);
}

/* ---- idle ---- */

static void hs_idle(void)
{
    setenv("TACL_STORE_AUTH_TIMEOUT", "0.5", 1);
    setenv("TACL_STORE_FRAME_TIMEOUT", "0.5", 1);
    tacl_store_server_t *srv = hs_start();
    /* Never says hello. */
    int a = hs_connect(0);
    /* Authenticated, then half a header. */
    int b = hs_connect(1);
    uint8_t half[STORE_HDR_LEN];
    store_put_hdr(half, STORE_OP_PING, 0, 0, 0);
    hs_send(b, half, 7);
    /* Authenticated and idle between requests: kept (clients hold connections for the job). */
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", hs_port, 5, &st));
    uint64_t t0 = tacl__now_ns();
    CHECK(hs_closed_within(a, 3000));
    CHECK(hs_closed_within(b, 3000));
    double t = (double)(tacl__now_ns() - t0) / 1e9;
    CHECK(t >= 0.3);
    usleep(300000);
    CHECK_OK(tacl_store_set(st, "idle/ok", "1", 1));
    hs_logged("did not authenticate within 0.5 s");
    hs_logged("did not finish its frame within 0.5 s (7 bytes received");
    close(a);
    close(b);
    tacl_store_close(st);
    tacl_store_server_stop(srv);
    printf("idle: unauthenticated and stalled connections closed after %.2f s\n", t);
}

/* ---- memory ---- */

static void hs_memory(void)
{
    setenv("TACL_STORE_BUFFER_MAX", "8388608", 1); /* 8 MiB for everyone */
    tacl_store_server_t *srv = hs_start();
    /* Eight clients each announce a 200 MiB value and send 100 bytes of it: they pin only what
     * arrived, so none passes the 8 MiB total. */
    int idle[8];
    uint8_t hdr[STORE_HDR_LEN + 109];
    memset(hdr, 'x', sizeof hdr);
    store_put_hdr(hdr, STORE_OP_SET, 2, 4 + 1 + 4 + (200u << 20), 0);
    store_put_u32(hdr + STORE_HDR_LEN, 1);
    store_put_u32(hdr + STORE_HDR_LEN + 5, 200u << 20);
    for (int i = 0; i < 8; i++) {
        idle[i] = hs_connect(1);
        hs_send(idle[i], hdr, sizeof hdr);
    }
    /* Two clients each send 5 MiB of a 6 MiB value: the second passes the total, is closed. */
    size_t big = 6u << 20, part = 5u << 20;
    uint8_t *f = calloc(1, STORE_HDR_LEN + 9 + big);
    CHECK(f);
    store_put_hdr(f, STORE_OP_SET, 2, (uint32_t)(9 + big), 0);
    store_put_u32(f + STORE_HDR_LEN, 1);
    f[STORE_HDR_LEN + 4] = 'b';
    store_put_u32(f + STORE_HDR_LEN + 5, (uint32_t)big);
    int c1 = hs_connect(1), c2 = hs_connect(1);
    hs_send(c1, f, part);
    usleep(200000); /* c1's bytes are buffered before c2's arrive */
    /* c2's send may fail midway once the server closes it. */
    for (size_t off = 0; off < part;) {
        ssize_t n = send(c2, f + off, part - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += (size_t)n;
    }
    CHECK(hs_closed_within(c2, 5000));
    hs_logged("TACL_STORE_BUFFER_MAX");
    /* c1 finishes and is answered; the idle ones are still connected, and a new client is
     * served. */
    hs_send(c1, f + part, STORE_HDR_LEN + 9 + big - part);
    uint8_t h[STORE_HDR_LEN];
    hs_recv(c1, h, sizeof h);
    CHECK(store_get_u16(h + 6) == TACL_OK);
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", hs_port, 5, &st));
    void *v;
    size_t len;
    CHECK_OK(tacl_store_get(st, "b", &v, &len));
    CHECK(len == big);
    tacl_free(v);
    CHECK(boot_store_server_nclients(srv) == 8 + 1 + 1);
    tacl_store_close(st);
    for (int i = 0; i < 8; i++)
        close(idle[i]);
    close(c1);
    close(c2);
    free(f);
    tacl_store_server_stop(srv);
    printf("memory: 8 x 200 MiB announced frames held within 8 MiB; the over-limit client was "
           "closed\n");
}

/* ---- fds ---- */

static void hs_fds(void)
{
    /* The server runs in a child limited to 48 descriptors (hard limit too, so that raising the
     * soft one changes nothing); the test process holds the client ends. */
    pid_t pid = hs_start_child(48);
    int idle[120];
    for (int i = 0; i < 120; i++)
        idle[i] = hs_connect(0);
    usleep(200000);
    tacl_store_t *st;
    uint64_t t0 = tacl__now_ns();
    CHECK_OK(tacl_store_connect("127.0.0.1", hs_port, 5, &st));
    CHECK_OK(tacl_store_set(st, "fds/ok", "1", 1));
    double t = (double)(tacl__now_ns() - t0) / 1e9;
    CHECK(t < 4);
    tacl_store_close(st);
    for (int i = 0; i < 120; i++)
        close(idle[i]);
    /* A flood of bad connections: bounded WARN lines, and a count of those left out. */
    for (int i = 0; i < 200; i++) {
        int fd = hs_connect(0);
        hs_send(fd, "GET / HTTP/1.0\r\n\r\n", 18);
        close(fd);
    }
    /* The next line, a second later, says how many were left out. */
    sleep(1);
    int fd = hs_connect(0);
    hs_send(fd, "GET / HTTP/1.0\r\n\r\n", 18);
    CHECK(hs_closed_within(fd, 3000));
    close(fd);
    CHECK_OK(tacl_store_connect("127.0.0.1", hs_port, 5, &st));
    CHECK_OK(tacl_store_set(st, "fds/ok2", "1", 1));
    tacl_store_close(st);
    kill(pid, SIGTERM);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    hs_child = -1;
    const char *log = hs_read_log();
    int lines = hs_count(log, "WARN store: store server: closing connection");
    CHECK(hs_count(log, "out of file descriptors") >= 1);
    CHECK(lines <= 30);
    CHECK(strstr(log, "left out in the last second"));

    /* The soft limit is raised to the hard one when a server starts. */
    struct rlimit rl = {256, 4096};
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    tacl_store_server_t *srv = hs_start();
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    CHECK(rl.rlim_cur == 4096);
    tacl_store_server_stop(srv);
    printf("fds: a real client got in within %.2f s past 120 idle connections; %d WARN lines for "
           "%d bad connections\n",
           t, lines, 200 + 120);
}

/* ---- stopped ---- */

static void hs_stopped(void)
{
    /* The server runs in a child with a frame timeout of 1 s; 200 authenticated connections
     * each send half a request, the server is stopped for 2 s while they send the rest, and
     * then resumed: the time it was stopped was not theirs to answer in, so every one of them
     * gets its reply, none is closed for a frame it "did not finish", although the server reads
     * at most 64 of them per turn of its loop. */
    setenv("TACL_STORE_FRAME_TIMEOUT", "1", 1);
    setenv("TACL_STORE_TOKEN", "store-hostile-stopped-0123456789abcdef", 1); /* both sides */
    enum { N = 200 };
    pid_t pid = hs_start_child(0);
    static int fds[N];
    uint8_t ping[STORE_HDR_LEN];
    store_put_hdr(ping, STORE_OP_PING, 0, 0, 0);
    for (int i = 0; i < N; i++) {
        fds[i] = hs_connect(1);
        hs_send(fds[i], ping, 7);
    }
    usleep(300000); /* the server has read every half */
    CHECK(kill(pid, SIGSTOP) == 0);
    usleep(2000000);
    for (int i = 0; i < N; i++)
        hs_send(fds[i], ping + 7, STORE_HDR_LEN - 7);
    CHECK(kill(pid, SIGCONT) == 0);
    int answered = 0;
    for (int i = 0; i < N; i++) {
        uint8_t hdr[STORE_HDR_LEN];
        struct pollfd pf = {.fd = fds[i], .events = POLLIN};
        if (poll(&pf, 1, 10000) != 1 || recv(fds[i], hdr, sizeof hdr, MSG_WAITALL) != sizeof hdr)
            continue;
        answered += store_get_u16(hdr + 6) == TACL_OK;
    }
    if (answered != N) {
        fprintf(stderr, "%d of %d connections answered after the server was resumed\n%s\n",
                answered, N, hs_read_log());
        exit(1);
    }
    for (int i = 0; i < N; i++)
        close(fds[i]);
    kill(pid, SIGTERM);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    hs_child = -1;
    CHECK(!strstr(hs_read_log(), "did not finish its frame"));
    printf("stopped: all %d connections answered after the server was stopped for 2 s\n", N);
}

static void hs_cleanup(void)
{
    if (hs_child > 0) kill(hs_child, SIGKILL);
    unlink(hs_log);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    /* The chain runs with 256 KiB thread stacks (glibc sizes them from RLIMIT_STACK at start),
     * as under runtimes with small stacks: a recursion per link overflows it (SIGSEGV) well
     * before 4000 links, so 4000 connections prove the point without taking a large share of
     * the ephemeral ports that tests running alongside need. HS_CHAIN_N and HS_STACK_KB
     * override both (HS_CHAIN_N=17000 HS_STACK_KB=8192: the case as first reported). */
    if (!strcmp(argv[1], "chain") && !getenv("HS_SMALL_STACK")) {
        struct rlimit rl;
        CHECK(getrlimit(RLIMIT_STACK, &rl) == 0);
        rl.rlim_cur =
            getenv("HS_STACK_KB") ? (rlim_t)atoi(getenv("HS_STACK_KB")) << 10 : 256u << 10;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur) rl.rlim_cur = rl.rlim_max;
        CHECK(setrlimit(RLIMIT_STACK, &rl) == 0);
        setenv("HS_SMALL_STACK", "1", 1);
        execv("/proc/self/exe", argv);
        CHECK(!"re-executing with a small stack failed");
    }
    snprintf(hs_log, sizeof hs_log, "/tmp/tacl-store-hostile-%d.log", (int)getpid());
    atexit(hs_cleanup);
    setenv("TACL_LOG_FILE", hs_log, 1);
    setenv("TACL_LOG", "warn", 1);
    tacl__log_reload();
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(argv[1], "chain"))
        hs_chain();
    else if (!strcmp(argv[1], "idle"))
        hs_idle();
    else if (!strcmp(argv[1], "memory"))
        hs_memory();
    else if (!strcmp(argv[1], "fds"))
        hs_fds();
    else if (!strcmp(argv[1], "stopped"))
        hs_stopped();
    else
        CHECK(!"unknown mode");
    return 0;
}
