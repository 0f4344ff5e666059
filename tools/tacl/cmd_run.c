/* cmd_run.c — `tacl run`: starts the local ranks of a job, like torchrun's --standalone or
 * --nnodes mode, and supervises them. Each rank gets tacl's and torchrun's variables, so a
 * tacl program and a PyTorch one both bootstrap from them. Each rank runs in its own process
 * group (signals reach whatever it starts) and dies with tacl run (PR_SET_PDEATHSIG); a guard
 * process kills the ranks' groups should tacl run itself be killed. The supervisor waits on one
 * signalfd (SIGCHLD, SIGINT, SIGTERM, SIGHUP) and, with --tag-output, the ranks' output pipes:
 * the first rank that fails stops the others (SIGTERM, then SIGKILL after the grace period)
 * and decides the exit status; a signal to tacl run is forwarded to every rank the same way.
 *
 * Files: this one reads the options, picks the store's port and the job's token and runs the job
 * from start to end; cli_run_start.c starts a rank (its process group, PR_SET_PDEATHSIG, stdin,
 * the variables) and the guard; cli_run_watch.c supervises (tagged output, signals, reaping,
 * stopping the job); cli_run.h holds what they share. */
#include "auth.h"
#include "cli.h"
#include "cli_run.h"
#include "clock.h"
#include "settings.h"
#include "tacl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUN_MAX_RANKS    4096
#define RUN_DEFAULT_PORT 29500

static int run_parse_int(const char *opt, const char *v, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || end == v || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "tacl run: %s needs an integer from %d to %d, got '%s'\n", opt, lo, hi,
                v ? v : "(nothing)");
        return -1;
    }
    *out = (int)x;
    return 0;
}

/* Returns 0, or 2 (usage error) after saying why. */
static int run_parse(int argc, char **argv, run_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->nproc = -1;
    o->nnodes = 1;
    o->master_port = -1;
    o->grace_s = 3.0;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-') break; /* the program starts here */
        if (!strcmp(a, "-n") || !strcmp(a, "--nproc-per-node") || !strcmp(a, "--nproc")) {
            if (run_parse_int(a, v, 1, RUN_MAX_RANKS, &o->nproc)) return 2;
            i++;
        } else if (!strcmp(a, "--nnodes")) {
            if (run_parse_int(a, v, 1, RUN_MAX_RANKS, &o->nnodes)) return 2;
            i++;
        } else if (!strcmp(a, "--node-rank")) {
            if (run_parse_int(a, v, 0, RUN_MAX_RANKS - 1, &o->node_rank)) return 2;
            i++;
        } else if (!strcmp(a, "--master-addr")) {
            if (!v || !v[0] || strlen(v) > 255) {
                fprintf(stderr, "tacl run: --master-addr needs a host name or address\n");
                return 2;
            }
            o->master_addr = v;
            i++;
        } else if (!strcmp(a, "--master-port")) {
            if (run_parse_int(a, v, 1, 65535, &o->master_port)) return 2;
            i++;
        } else if (!strcmp(a, "--tag-output")) {
            o->tag_output = 1;
        } else if (!strcmp(a, "--grace")) {
            char *end;
            errno = 0;
            o->grace_s = v ? strtod(v, &end) : -1;
            if (!v || end == v || *end || errno || !(o->grace_s >= 0 && o->grace_s <= 86400)) {
                fprintf(stderr, "tacl run: --grace needs seconds from 0 to 86400, got '%s'\n",
                        v ? v : "(nothing)");
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "tacl run: unknown option '%s' (tacl run --help)\n", a);
            return 2;
        }
    }
    if (o->nproc < 0) {
        fprintf(stderr, "tacl run: -n N (ranks on this node) is required\n");
        return 2;
    }
    if (i >= argc) {
        fprintf(stderr, "tacl run: no program given (tacl run -n N -- prog args...)\n");
        return 2;
    }
    if (o->node_rank >= o->nnodes) {
        fprintf(stderr, "tacl run: --node-rank %d is not below --nnodes %d\n", o->node_rank,
                o->nnodes);
        return 2;
    }
    if ((long)o->nproc * o->nnodes > RUN_MAX_RANKS) {
        fprintf(stderr, "tacl run: %d ranks on each of %d nodes exceed %d ranks\n", o->nproc,
                o->nnodes, RUN_MAX_RANKS);
        return 2;
    }
    if (o->nnodes > 1 && !o->master_addr) {
        fprintf(stderr,
                "tacl run: --nnodes %d needs --master-addr (the host of node rank 0, "
                "where rank 0 hosts the store)\n",
                o->nnodes);
        return 2;
    }
    o->prog = argv + i;
    return 0;
}

/* Binds port (0: any) on the wildcard address, dual-stack where IPv6 exists, as rank 0's store
 * will; returns the port bound, or -1. The socket is closed again. */
static int run_try_port(int port)
{
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    memset(&a6, 0, sizeof a6);
    memset(&a4, 0, sizeof a4);
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_any;
    a6.sin6_port = htons((uint16_t)port);
    a4.sin_family = AF_INET;
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    a4.sin_port = htons((uint16_t)port);
    int got = -1, zero = 0;
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        socklen_t len = sizeof a6;
        if (bind(fd, (struct sockaddr *)&a6, sizeof a6) == 0 &&
            getsockname(fd, (struct sockaddr *)&a6, &len) == 0)
            got = ntohs(a6.sin6_port);
        int e = errno;
        close(fd);
        if (got > 0 || e == EADDRINUSE) return got;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* no IPv6 on this host */
    if (fd < 0) return -1;
    socklen_t len = sizeof a4;
    if (bind(fd, (struct sockaddr *)&a4, sizeof a4) == 0 &&
        getsockname(fd, (struct sockaddr *)&a4, &len) == 0)
        got = ntohs(a4.sin_port);
    close(fd);
    return got;
}

/* A port for rank 0's store, free at this moment on every address. Rank 0 binds it moments
 * later, so it is taken outside the kernel's ephemeral range when possible: a port from that
 * range can be handed meanwhile to any socket that connects out or binds port 0 (NCCL's, a
 * previous job's), which rank 0 would then find taken. Like torchrun's --standalone, a program
 * that binds the same port explicitly in between is still possible; rank 0 then fails within
 * seconds naming the port. */
static int run_free_port(void)
{
    int lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2) lo = 32768, hi = 60999;
        fclose(f);
    }
    int a = 0, b = -1; /* the candidate range [a, b] */
    if (lo > 20000)
        a = 20000, b = lo - 1;
    else if (hi < 64000)
        a = hi + 1, b = 65535;
    unsigned seed = (unsigned)getpid() * 2654435761u ^ (unsigned)tacl__now_ns();
    for (int i = 0; i < 64 && b >= a; i++) {
        seed = seed * 1103515245u + 12345u;
        int port = run_try_port(a + (int)((seed >> 8) % (unsigned)(b - a + 1)));
        if (port > 0) return port;
    }
    return run_try_port(0);
}

/* The job's secret: a token the user set (TACL_STORE_TOKEN or TACL_STORE_TOKEN_FILE) passes to
 * the ranks through the environment; on one node tacl run draws a fresh one for this job. A
 * job over several nodes needs the same secret on every node, which only the user can give. */
static int run_token(const run_opts_t *o)
{
    tacl__auth_t a;
    tacl_status_t st = tacl__auth_configured(&a, NULL);
    if (st == TACL_OK) return 0;
    if (st != TACL_ERR_NOT_FOUND) {
        fprintf(stderr, "tacl run: %s\n", tacl_last_error());
        return 1;
    }
    if (o->nnodes > 1) {
        fprintf(stderr,
                "tacl run: a job over %d nodes needs the same secret on every node: set "
                "TACL_STORE_TOKEN, or TACL_STORE_TOKEN_FILE naming a file readable by you "
                "only, in each node's tacl run (TACL_AUTH=0 turns authentication off)\n",
                o->nnodes);
        return 1;
    }
    char tok[80];
    if (tacl__auth_new_token(tok, sizeof tok) != 0 || setenv("TACL_STORE_TOKEN", tok, 1) != 0) {
        fprintf(stderr, "tacl run: cannot generate the job's token: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

static int run_run(int argc, char **argv)
{
    run_opts_t o;
    int rc = run_parse(argc, argv, &o);
    if (rc) return rc;

    char addr[256];
    snprintf(addr, sizeof addr, "%s", o.master_addr ? o.master_addr : "127.0.0.1");
    int port = o.master_port;
    if (port < 0 && o.nnodes == 1) {
        port = run_free_port();
        if (port < 0) {
            fprintf(stderr, "tacl run: cannot find a free port for the store: %s\n",
                    strerror(errno));
            return 1;
        }
    } else if (port < 0) {
        port = RUN_DEFAULT_PORT;
    }
    /* Every node derives the same run id from the master, as tacl_bootstrap_from_env does. */
    char run_id[512];
    if (tacl__setting_is_set(TACL_SET_RUN_ID))
        snprintf(run_id, sizeof run_id, "%s", tacl__setting_str(TACL_SET_RUN_ID));
    else
        snprintf(run_id, sizeof run_id, "port-%d", port);
    if (run_token(&o) != 0) return 1;

    /* Signals arrive through a signalfd; the ranks get the original mask back before exec. A
     * signal that tacl run was started ignoring (SIGHUP under nohup, SIGINT of a background
     * job of a script) stays ignored, for tacl run and its ranks alike. SIGCHLD must not be
     * ignored: the kernel would reap the ranks before tacl run could learn their status. */
    sigset_t mask, orig;
    static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP};
    signal(SIGCHLD, SIG_DFL);
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) {
        struct sigaction sa;
        if (sigaction(forwarded[i], NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) continue;
        sigaddset(&mask, forwarded[i]);
    }
    sigprocmask(SIG_BLOCK, &mask, &orig);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (sfd < 0) {
        fprintf(stderr, "tacl run: signalfd failed: %s\n", strerror(errno));
        sigprocmask(SIG_SETMASK, &orig, NULL);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    run_state_t s;
    memset(&s, 0, sizeof s);
    s.o = &o;
    s.failed_rank = -1;
    s.ranks = calloc((size_t)o.nproc, sizeof *s.ranks);
    if (!s.ranks) {
        fprintf(stderr, "tacl run: out of memory\n");
        close(sfd);
        return 1;
    }
    pid_t self = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t guard = -1;
    int gfd = run_guard_start(&guard);
    for (int i = 0; i < o.nproc; i++) {
        run_rank_t *r = &s.ranks[i];
        r->rank = o.node_rank * o.nproc + i;
        r->out[0].fd = r->out[1].fd = -1;
        int pipes[2][2] = {{-1, -1}, {-1, -1}};
        const char *fail = NULL;
        if (o.tag_output) {
            for (int k = 0; k < 2 && !fail; k++) {
                if (pipe2(pipes[k], O_CLOEXEC) != 0) fail = "pipe";
                r->out[k].out_fd = k + 1;
                r->out[k].buf = malloc(RUN_LINE_MAX);
                if (!fail && !r->out[k].buf) fail = "malloc";
            }
        }
        pid_t pid = fail ? -1 : fork();
        if (pid == 0) run_child(&o, i, addr, port, run_id, self, &orig, pipes);
        if (pid < 0 && !fail) fail = "fork";
        for (int k = 0; k < 2; k++) {
            if (pipes[k][1] >= 0) close(pipes[k][1]);
            if (fail && pipes[k][0] >= 0) close(pipes[k][0]);
        }
        if (fail) {
            fprintf(stderr, "tacl run: cannot start rank %d: %s failed: %s\n", r->rank, fail,
                    strerror(errno));
            run_stop_all(&s, SIGKILL);
            s.killed = 1;
            s.exit_code = 1;
            break;
        }
        setpgid(pid, pid); /* also here, so that no signal finds the group missing */
        run_guard_tell(gfd, (int32_t)pid);
        r->pid = pid;
        r->running = 1;
        s.nrunning++;
        for (int k = 0; k < 2 && o.tag_output; k++) {
            r->out[k].fd = pipes[k][0];
            fcntl(r->out[k].fd, F_SETFL, fcntl(r->out[k].fd, F_GETFL) | O_NONBLOCK);
        }
    }
    run_supervise(&s, sfd);
    if (gfd >= 0) {
        /* The guard exits on "done" at once; one that does not within a second is killed. */
        run_guard_tell(gfd, 0);
        close(gfd);
        uint64_t deadline = tacl__deadline_ns(1.0);
        pid_t w;
        while ((w = waitpid(guard, NULL, WNOHANG)) == 0 && tacl__now_ns() < deadline)
            usleep(1000);
        if (w == 0) {
            kill(guard, SIGKILL);
            waitpid(guard, NULL, 0);
        }
    }
    for (int i = 0; i < o.nproc; i++) {
        free(s.ranks[i].out[0].buf);
        free(s.ranks[i].out[1].buf);
    }
    free(s.ranks);
    close(sfd);
    sigprocmask(SIG_SETMASK, &orig, NULL);
    return s.exit_code;
}

const tacl_cmd_t tacl_cmd_run = {
    .name = "run",
    .summary = "start N local ranks with tacl's and torchrun's variables, and supervise them",
    .usage =
        "usage: tacl run -n N [--nnodes K --node-rank I --master-addr A --master-port P]\n"
        "                [--tag-output] [--grace S] -- prog args...\n\n"
        "Starts N ranks of prog on this node, ranks I*N .. I*N+N-1 of a world of N*K, each with\n"
        "TACL_RANK, TACL_WORLD_SIZE, TACL_LOCAL_RANK, TACL_LOCAL_WORLD_SIZE, TACL_MASTER_ADDR,\n"
        "TACL_MASTER_PORT, TACL_RUN_ID and torchrun's RANK, WORLD_SIZE, LOCAL_RANK,\n"
        "LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_RUN_ID set.\n\n"
        "  -n N             ranks on this node (required)\n"
        "  --nnodes K       nodes in the job (default 1); run tacl run once on each node\n"
        "  --node-rank I    this node's index, 0 .. K-1 (default 0)\n"
        "  --master-addr A  host of rank 0's store (default 127.0.0.1; required with K > 1)\n"
        "  --master-port P  its port (default: a free port on one node, 29500 on several)\n"
        "  --tag-output     prefix every output line with \"[rank] \"\n"
        "  --grace S        seconds between SIGTERM and SIGKILL when stopping (default 3)\n\n"
        "Every rank gets TACL_STORE_TOKEN, the job's secret: the one set for tacl run, else a\n"
        "fresh random one (with K > 1 the user must set the same one on every node).\n"
        "The run id is TACL_RUN_ID when set, else \"port-<port>\" (the same on every node,\n"
        "however it names the master). Local rank 0 reads stdin unless it is a terminal;\n"
        "other ranks read /dev/null.\n"
        "When a rank exits non-zero or is killed, the others are stopped (SIGTERM, then SIGKILL\n"
        "after the grace period) and tacl run exits with that rank's status (128+signal).\n"
        "SIGINT, SIGTERM and SIGHUP are forwarded to every rank (a second one kills them);\n"
        "tacl run then exits with 128+signal. One that tacl run was started ignoring (nohup)\n"
        "stays ignored. Ranks die with tacl run (PR_SET_PDEATHSIG), and what they started\n"
        "dies with them (a process group per rank, killed when the rank ends or tacl run dies).\n",
    .run = run_run,
};
