/* run_rank.c — the rank program of the `tacl run` tests: `run_rank MODE DIR [ARGS]`. Each mode
 * plays one kind of rank (one that reports its environment, sleeps, fails, catches SIGTERM,
 * ignores it, prints, or starts a child of its own) and leaves files in DIR that the test
 * script reads: pid.<rank> (written once the rank is ready, e.g. its handler installed),
 * child.<rank>, marker.<rank>, env.<rank>. */
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static const char *rr_dir;
static int rr_rank;

/* Writes DIR/<name>.<rank> atomically (temporary file, then rename). */
static void rr_file(const char *name, const char *text)
{
    char tmp[512], path[512];
    snprintf(tmp, sizeof tmp, "%s/.%s.%d.tmp", rr_dir, name, rr_rank);
    snprintf(path, sizeof path, "%s/%s.%d", rr_dir, name, rr_rank);
    FILE *f = fopen(tmp, "w");
    CHECK(f != NULL);
    fputs(text, f);
    CHECK(fclose(f) == 0);
    CHECK(rename(tmp, path) == 0);
}

static void rr_pidfile(void)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%d\n", (int)getpid());
    rr_file("pid", buf);
}

/* Waits (up to 20 s) until every rank of the world has written its pid file. */
static void rr_wait_all(void)
{
    int size = atoi(getenv("TACL_WORLD_SIZE"));
    for (int tries = 0; tries < 2000; tries++) {
        int n = 0;
        DIR *d = opendir(rr_dir);
        CHECK(d != NULL);
        struct dirent *e;
        while ((e = readdir(d)))
            n += !strncmp(e->d_name, "pid.", 4);
        closedir(d);
        if (n >= size) return;
        usleep(10000);
    }
    fprintf(stderr, "run_rank %d: the other ranks never started\n", rr_rank);
    exit(99);
}

static void rr_marker_handler(int sig)
{
    char path[512];
    snprintf(path, sizeof path, "%s/marker.%d", rr_dir, rr_rank);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "signal %d\n", sig);
        if (write(fd, msg, (size_t)n) < 0) _exit(3);
        close(fd);
    }
    _exit(0);
}

static void rr_forever(void)
{
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr,
                "usage: run_rank env|sleep|fail|marker|stubborn|print|long|spawn DIR [ARGS]\n");
        return 2;
    }
    const char *mode = argv[1];
    rr_dir = argv[2];
    const char *r = getenv("TACL_RANK");
    CHECK(r != NULL);
    rr_rank = atoi(r);
    int arg = argc > 3 ? atoi(argv[3]) : 0;

    if (!strcmp(mode, "env")) {
        static const char *const vars[] = {
            "TACL_RANK",        "TACL_WORLD_SIZE",  "TACL_LOCAL_RANK",  "TACL_LOCAL_WORLD_SIZE",
            "TACL_MASTER_ADDR", "TACL_MASTER_PORT", "TACL_RUN_ID",      "RANK",
            "WORLD_SIZE",       "LOCAL_RANK",       "LOCAL_WORLD_SIZE", "GROUP_RANK",
            "GROUP_WORLD_SIZE", "MASTER_ADDR",      "MASTER_PORT",      "TORCHELASTIC_RUN_ID"};
        char text[4096];
        size_t o = 0;
        for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
            const char *v = getenv(vars[i]);
            o += (size_t)snprintf(text + o, sizeof text - o, "%s=%s\n", vars[i], v ? v : "");
        }
        tacl_bootstrap_t b;
        CHECK_OK(tacl_bootstrap_from_env(&b));
        o += (size_t)snprintf(text + o, sizeof text - o,
                              "boot=%s %d/%d local %d/%d master %s:%d run %s\n",
                              tacl_launcher_name(b.launcher), b.rank, b.size, b.local_rank,
                              b.local_size, b.master_addr, b.master_port, b.run_id);
        /* stdin of local rank 0 is what the test piped in; the others read /dev/null. */
        char in[64] = "";
        ssize_t n = read(0, in, sizeof in - 1);
        in[n > 0 ? n : 0] = '\0';
        in[strcspn(in, "\n")] = '\0';
        snprintf(text + o, sizeof text - o, "stdin=%s\n", in);
        rr_file("env", text);
        return 0;
    }
    if (!strcmp(mode, "sleep")) {
        rr_pidfile();
        rr_forever();
    }
    if (!strcmp(mode, "fail")) { /* rank ARG exits with status ARG2 once all have started */
        rr_pidfile();
        if (rr_rank == arg) {
            rr_wait_all();
            return argc > 4 ? atoi(argv[4]) : 1;
        }
        rr_forever();
    }
    if (!strcmp(mode, "marker")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = rr_marker_handler;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        rr_pidfile();
        rr_forever();
    }
    if (!strcmp(mode, "stubborn")) { /* ignores SIGTERM; rank ARG exits 1 */
        signal(SIGTERM, SIG_IGN);
        rr_pidfile();
        if (rr_rank == arg) {
            rr_wait_all();
            return 1;
        }
        rr_forever();
    }
    if (!strcmp(mode, "print")) { /* ARG lines on stdout, one on stderr, an unfinished one */
        for (int i = 0; i < arg; i++)
            printf("rank %d line %d\n", rr_rank, i);
        fprintf(stderr, "rank %d on stderr\n", rr_rank);
        printf("rank %d unfinished", rr_rank);
        return 0;
    }
    if (!strcmp(mode, "long")) { /* one line of ARG 'x' characters */
        for (int i = 0; i < arg; i++)
            putchar('x');
        putchar('\n');
        return 0;
    }
    if (!strcmp(mode, "spawn")) { /* a child of the rank's own, then as "fail" */
        pid_t c = fork();
        CHECK(c >= 0);
        if (c == 0) rr_forever();
        char buf[32];
        snprintf(buf, sizeof buf, "%d\n", (int)c);
        rr_file("child", buf);
        rr_pidfile();
        if (rr_rank == arg && argc > 4) {
            rr_wait_all();
            return atoi(argv[4]);
        }
        rr_forever();
    }
    fprintf(stderr, "run_rank: unknown mode '%s'\n", mode);
    return 2;
}
