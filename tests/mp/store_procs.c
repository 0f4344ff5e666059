/* store_procs.c — the store server (in this process) against client processes. "adds": 8
 * processes x 500 adds on one counter; every value 1..4000 is returned exactly once (atomicity,
 * not just the total), and each process sees its own values increase. "kill": clients killed
 * with SIGKILL in the middle of sending a frame, in the middle of sending a 32 MiB value, and
 * while parked in a blocking get; the server drops them (WARN for the cut frames), keeps
 * serving, and setting the key the dead client waited for is harmless. */
#include "boot/store_int.h"
#include "boot/store_proto.h"
#include "check.h"
#include "clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SP_PROCS 8
#define SP_ADDS  500

static int sp_port;
static pid_t sp_kids[16];
static int sp_nkids;
static pid_t sp_parent;
static int sp_port_pipe[2]; /* the parent sends the server's port to each child */

static void sp_kill_all(void)
{
    if (getpid() != sp_parent) return; /* a child exiting on a failed CHECK */
    for (int i = 0; i < sp_nkids; i++)
        if (sp_kids[i] > 0) {
            kill(sp_kids[i], SIGKILL);
            waitpid(sp_kids[i], NULL, 0);
        }
}

/* Children are forked before the server thread exists (a child of a threaded process can
 * inherit a lock another thread held, e.g. in a sanitizer's allocator) and read the server's
 * port from a pipe once it is up. */
static pid_t sp_fork(void)
{
    fflush(NULL);
    pid_t p = fork();
    CHECK(p >= 0);
    if (p > 0) sp_kids[sp_nkids++] = p;
    if (p == 0 && read(sp_port_pipe[0], &sp_port, sizeof sp_port) != sizeof sp_port) _exit(3);
    return p;
}

static tacl_store_server_t *sp_start_server(int nchildren)
{
    tacl_store_server_t *srv;
    CHECK_OK(tacl_store_server_start("127.0.0.1", 0, &srv));
    sp_port = tacl_store_server_port(srv);
    for (int i = 0; i < nchildren; i++)
        CHECK(write(sp_port_pipe[1], &sp_port, sizeof sp_port) == sizeof sp_port);
    return srv;
}

static void sp_reap(pid_t p, int want_ok)
{
    int ws;
    CHECK(waitpid(p, &ws, 0) == p);
    for (int i = 0; i < sp_nkids; i++)
        if (sp_kids[i] == p) sp_kids[i] = 0;
    if (want_ok) CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
}

static tacl_store_server_t *sp_adds(void)
{
    /* seen[v] counts how often the value v came back from an add. */
    int *seen = mmap(NULL, sizeof(int) * (SP_PROCS * SP_ADDS + 1), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(seen != MAP_FAILED);
    pid_t kids[SP_PROCS];
    for (int i = 0; i < SP_PROCS; i++) {
        kids[i] = sp_fork();
        if (kids[i] == 0) {
            tacl_store_t *st;
            CHECK_OK(tacl_store_connect("127.0.0.1", sp_port, 10, &st));
            int64_t prev = 0;
            for (int k = 0; k < SP_ADDS; k++) {
                int64_t v;
                CHECK_OK(tacl_store_add(st, "procs/ctr", 1, &v));
                CHECK(v > prev && v >= 1 && v <= SP_PROCS * SP_ADDS);
                __atomic_fetch_add(&seen[v], 1, __ATOMIC_RELAXED);
                prev = v;
            }
            tacl_store_close(st);
            _exit(0);
        }
    }
    tacl_store_server_t *srv = sp_start_server(SP_PROCS);
    for (int i = 0; i < SP_PROCS; i++)
        sp_reap(kids[i], 1);
    for (int v = 1; v <= SP_PROCS * SP_ADDS; v++)
        CHECK(seen[v] == 1);
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", sp_port, 5, &st));
    void *val;
    size_t len;
    CHECK_OK(tacl_store_get(st, "procs/ctr", &val, &len));
    CHECK(atoi(val) == SP_PROCS * SP_ADDS);
    tacl_free(val);
    tacl_store_close(st);
    return srv;
}

static int sp_raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)sp_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    /* Past the job-token handshake, as a real client: what follows is what is tested. */
    tacl__auth_t auth;
    CHECK_OK(tacl__auth_get(&auth, NULL));
    CHECK_OK(boot_store_auth_client(fd, "test store", &auth, tacl__deadline_ns(10), NULL));
    return fd;
}

static tacl_store_server_t *sp_kill(void)
{
    int ready[2];
    CHECK(pipe(ready) == 0);
    char c;
    /* 1: half a frame, then killed. */
    pid_t a = sp_fork();
    if (a == 0) {
        int fd = sp_raw_connect();
        uint8_t f[STORE_HDR_LEN + 16];
        store_put_hdr(f, STORE_OP_SET, 2, 16, 0);
        CHECK(send(fd, f, STORE_HDR_LEN + 5, 0) == STORE_HDR_LEN + 5);
        CHECK(write(ready[1], "a", 1) == 1);
        pause();
        _exit(0);
    }
    /* 2: in the middle of sending a 32 MiB value. */
    pid_t b = sp_fork();
    if (b == 0) {
        size_t vl = 32u << 20;
        uint8_t *f = calloc(1, STORE_HDR_LEN + 8 + 1 + vl);
        store_put_hdr(f, STORE_OP_SET, 2, (uint32_t)(8 + 1 + vl), 0);
        store_put_u32(f + STORE_HDR_LEN, 1);
        f[STORE_HDR_LEN + 4] = 'k';
        store_put_u32(f + STORE_HDR_LEN + 5, (uint32_t)vl);
        int fd = sp_raw_connect();
        /* Half of it goes out; the kill comes before the rest. */
        size_t half = STORE_HDR_LEN + 9 + vl / 2, off = 0;
        while (off < half) {
            ssize_t n = send(fd, f + off, half - off, 0);
            CHECK(n > 0);
            off += (size_t)n;
        }
        CHECK(write(ready[1], "b", 1) == 1);
        pause();
        _exit(0);
    }
    /* 3: parked in a blocking get. */
    pid_t g = sp_fork();
    if (g == 0) {
        tacl_store_t *st;
        CHECK_OK(tacl_store_connect("127.0.0.1", sp_port, 10, &st));
        CHECK(write(ready[1], "g", 1) == 1);
        void *v;
        size_t len;
        tacl_store_get(st, "kill/never", &v, &len);
        _exit(0);
    }
    tacl_store_server_t *srv = sp_start_server(3);
    for (int i = 0; i < 3; i++)
        CHECK(read(ready[0], &c, 1) == 1);
    /* All three are connected and mid-request. */
    uint64_t until = tacl__deadline_ns(5);
    while (boot_store_server_nclients(srv) < 3 && tacl__now_ns() < until)
        usleep(1000);
    usleep(100000); /* the get reaches the server and parks */
    kill(a, SIGKILL);
    kill(b, SIGKILL);
    kill(g, SIGKILL);
    sp_reap(a, 0);
    sp_reap(b, 0);
    sp_reap(g, 0);
    CHECK(boot_store_server_wait_clients(srv, 0, tacl__deadline_ns(5)) == 0);
    /* The server serves on; the key the dead client waited for can be set and read. */
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", sp_port, 5, &st));
    CHECK_OK(tacl_store_set(st, "kill/never", "now", 3));
    void *v;
    size_t len;
    CHECK_OK(tacl_store_get(st, "kill/never", &v, &len));
    CHECK(len == 3 && !memcmp(v, "now", 3));
    tacl_free(v);
    const char *k[1] = {"k"};
    int all;
    CHECK_OK(tacl_store_check(st, k, 1, &all));
    CHECK(all == 0); /* the cut 32 MiB set never happened */
    tacl_store_close(st);
    close(ready[0]);
    close(ready[1]);
    return srv;
}

int main(int argc, char **argv)
{
    if (argc < 2) FAIL("usage: store_procs adds|kill");
    sp_parent = getpid();
    atexit(sp_kill_all);
    CHECK(pipe(sp_port_pipe) == 0);
    tacl_store_server_t *srv;
    if (!strcmp(argv[1], "adds"))
        srv = sp_adds();
    else if (!strcmp(argv[1], "kill"))
        srv = sp_kill();
    else
        FAIL("unknown scenario '%s'", argv[1]);
    tacl_store_server_stop(srv);
    printf("store_procs %s: ok\n", argv[1]);
    return 0;
}
