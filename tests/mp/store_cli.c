/* store_cli.c — `tacl store` as a standalone process: it prints the port it listens on, serves
 * clients, serves as the meeting point of a 4-rank world (no rank hosts a store then), refuses
 * a second server on the same port with the OS error, rejects a bad --port with usage status 2,
 * and stops with status 0 on SIGTERM. */
#include "boot/world.h"
#include "check.h"
#include "clock.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t cli_kids[8];
static int cli_nkids;

static pid_t cli_parent;

static void cli_kill_all(void)
{
    if (getpid() != cli_parent) return; /* a child exiting on a failed CHECK */
    for (int i = 0; i < cli_nkids; i++)
        if (cli_kids[i] > 0) {
            kill(cli_kids[i], SIGKILL);
            waitpid(cli_kids[i], NULL, 0);
        }
}

/* Starts `tacl store args...`; returns its pid, its stdout+stderr in *out_fd. */
static pid_t cli_start(const char *cli, const char *const *args, int *out_fd)
{
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    fflush(NULL);
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        char *argv[8] = {(char *)cli, "store"};
        int n = 2;
        for (; args[n - 2]; n++)
            argv[n] = (char *)args[n - 2];
        argv[n] = NULL;
        execv(cli, argv);
        _exit(127);
    }
    close(pfd[1]);
    cli_kids[cli_nkids++] = p;
    *out_fd = pfd[0];
    return p;
}

/* Reads what fd says within t seconds (until a newline when line is set, else until EOF). */
static void cli_read(int fd, char *buf, size_t len, double t, int line)
{
    size_t off = 0;
    uint64_t deadline = tacl__deadline_ns(t);
    buf[0] = '\0';
    while (off + 1 < len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, tacl__ms_left(deadline)) <= 0) break;
        ssize_t n = read(fd, buf + off, len - 1 - off);
        if (n <= 0) break;
        off += (size_t)n;
        buf[off] = '\0';
        if (line && strchr(buf, '\n')) break;
    }
}

static int cli_wait(pid_t p, double t)
{
    uint64_t deadline = tacl__deadline_ns(t);
    for (;;) {
        int ws;
        if (waitpid(p, &ws, WNOHANG) == p) {
            for (int i = 0; i < cli_nkids; i++)
                if (cli_kids[i] == p) cli_kids[i] = 0;
            return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
        }
        if (tacl__now_ns() > deadline) return -1;
        usleep(5000);
    }
}

int main(void)
{
    const char *cli = getenv("TACL_CLI");
    if (!cli || access(cli, X_OK) != 0) SKIP("TACL_CLI does not name the tacl binary");
    cli_parent = getpid();
    atexit(cli_kill_all);
    int fd;
    const char *a1[] = {"--port", "0", "--bind", "127.0.0.1", NULL};
    pid_t srv = cli_start(cli, a1, &fd);
    char out[512];
    cli_read(fd, out, sizeof out, 10, 1);
    int port = 0;
    CHECK(sscanf(out, "tacl store listening on 127.0.0.1:%d", &port) == 1 && port > 0);

    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", port, 5, &st));
    CHECK_OK(tacl_store_set(st, "cli/k", "v", 1));

    /* A world of 4 meets at the standalone store; nobody hosts another. */
    pid_t ranks[4];
    for (int r = 0; r < 4; r++) {
        fflush(NULL);
        ranks[r] = fork();
        if (ranks[r] == 0) {
            tacl_bootstrap_t bs = {
                .launcher = TACL_LAUNCHER_EXPLICIT, .rank = r, .size = 4, .master_port = port};
            snprintf(bs.master_addr, sizeof bs.master_addr, "127.0.0.1");
            snprintf(bs.run_id, sizeof bs.run_id, "cli-%d", (int)getppid());
            boot_world_t w;
            CHECK_OK(boot_world_join(&bs, "one-host", 10, &w, NULL));
            CHECK(w.server == NULL && w.local_size == 4 && w.local_rank == r);
            boot_world_leave(&w);
            _exit(0);
        }
        cli_kids[cli_nkids++] = ranks[r];
    }
    for (int r = 0; r < 4; r++)
        CHECK(cli_wait(ranks[r], 20) == 0);
    /* The world cleaned up after itself: only the key set above remains. */
    int64_t n;
    CHECK_OK(tacl_store_num_keys(st, &n));
    CHECK(n == 1);
    tacl_store_close(st);

    /* A second server on the same port fails with the OS error. */
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    const char *a2[] = {"--port", ps, "--bind", "127.0.0.1", NULL};
    int fd2;
    pid_t second = cli_start(cli, a2, &fd2);
    CHECK(cli_wait(second, 10) == 1);
    cli_read(fd2, out, sizeof out, 1, 0);
    CHECK_CONTAINS(out, "Address already in use");
    close(fd2);

    /* Usage errors exit 2. */
    const char *a3[] = {"--port", "http", NULL};
    int fd3;
    pid_t bad = cli_start(cli, a3, &fd3);
    CHECK(cli_wait(bad, 10) == 2);
    cli_read(fd3, out, sizeof out, 1, 0);
    CHECK_CONTAINS(out, "--port 'http' is not a port number");
    close(fd3);

    /* SIGTERM stops the server cleanly. */
    kill(srv, SIGTERM);
    CHECK(cli_wait(srv, 10) == 0);
    cli_read(fd, out, sizeof out, 1, 0);
    CHECK_CONTAINS(out, "stopped by SIGTERM");
    close(fd);
    printf("store_cli: ok\n");
    return 0;
}
