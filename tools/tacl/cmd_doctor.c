/* cmd_doctor.c — `tacl doctor`: the debugging ladder as one command. Run under a launcher (tacl
 * run, mpirun, srun, torchrun: every rank runs it and bootstraps from the environment), or with
 * --local N, which re-executes itself under `tacl run -n N`. Every rank takes part in the
 * measurements (src/coll/doctor.c); rank 0 prints progress on stderr and the report on stdout
 * as a table with the verdict, as cluster-format JSON, or as Graphviz. */
#include "cli.h"
#include "coll/doctor.h"
#include "tacl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { DOCTOR_OUT_TABLE, DOCTOR_OUT_JSON, DOCTOR_OUT_DOT } doctor_out_t;

static int doctor_number(const char *opt, const char *s, double lo, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || errno || end == s || *end || !(v >= lo)) {
        fprintf(stderr, "tacl doctor: %s expects a number >= %g, got '%s'\n", opt, lo,
                s ? s : "(nothing)");
        return 0;
    }
    *out = v;
    return 1;
}

/* --local N: the same command under `tacl run -n N`, without --local. */
static int doctor_local(int argc, char **argv, int li, const char *nranks)
{
    char **av = calloc((size_t)argc + 8, sizeof *av);
    if (!av) {
        fprintf(stderr, "tacl doctor: out of memory\n");
        return 1;
    }
    int k = 0;
    av[k++] = "tacl";
    av[k++] = "run";
    av[k++] = "-n";
    av[k++] = (char *)nranks;
    av[k++] = "--";
    av[k++] = "/proc/self/exe";
    av[k++] = "doctor";
    for (int i = 1; i < argc; i++) {
        if (i == li || i == li + 1) continue;
        av[k++] = argv[i];
    }
    av[k] = NULL;
    execv("/proc/self/exe", av);
    fprintf(stderr, "tacl doctor: cannot re-execute /proc/self/exe under tacl run: %s\n",
            strerror(errno));
    free(av);
    return 1;
}

static int doctor_cmd_run(int argc, char **argv)
{
    tacl__doctor_opts_t o = {.smoke = 1, .progress = stderr};
    doctor_out_t fmt = DOCTOR_OUT_TABLE;
    int local_at = -1, every_pair = 0;
    const char *local_n = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double v;
        if (!strcmp(a, "--local")) {
            if (!doctor_number(a, i + 1 < argc ? argv[i + 1] : NULL, 1, &v) || v > 4096 ||
                v != (int)v) {
                fprintf(stderr, "tacl doctor: --local expects a rank count 1..4096\n");
                return 2;
            }
            local_at = i;
            local_n = argv[++i];
        } else if (!strcmp(a, "--json")) {
            fmt = DOCTOR_OUT_JSON;
        } else if (!strcmp(a, "--dot")) {
            fmt = DOCTOR_OUT_DOT;
        } else if (!strcmp(a, "--no-smoke")) {
            o.smoke = 0;
        } else if (!strcmp(a, "--pairs")) {
            every_pair = 1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o.progress = NULL;
        } else if (!strcmp(a, "--timeout")) {
            if (!doctor_number(a, i + 1 < argc ? argv[i + 1] : NULL, 0.01, &v)) return 2;
            o.pair_timeout_s = v;
            i++;
        } else if (!strcmp(a, "--max-bytes")) {
            if (!doctor_number(a, i + 1 < argc ? argv[i + 1] : NULL, 4096, &v)) return 2;
            o.max_bytes = (size_t)v;
            i++;
        } else {
            fprintf(stderr, "tacl doctor: unknown option '%s' (tacl doctor --help)\n", a);
            return 2;
        }
    }
    if (local_at > 0) return doctor_local(argc, argv, local_at, local_n);

    tacl_bootstrap_t bs;
    if (o.progress && tacl_bootstrap_from_env(&bs) == TACL_OK && bs.launcher == TACL_LAUNCHER_NONE)
        fprintf(stderr, "tacl doctor: no launcher variables, so this is a world of one rank; use "
                        "--local N, or run it under tacl run, mpirun, srun or torchrun\n");
    tacl__errbuf_t eb;
    tacl__doctor_report_t *r = NULL;
    int rank = -1;
    if (tacl__doctor_run(&o, &rank, &r, &eb) != TACL_OK) {
        fprintf(stderr, "tacl doctor: %s\n", eb.msg);
        return 1;
    }
    int rc = 0;
    if (rank == 0) {
        if (fmt == DOCTOR_OUT_JSON && tacl__doctor_write_json(r, stdout) != TACL_OK) {
            fprintf(stderr, "tacl doctor: %s\n", tacl_last_error());
            rc = 1;
        } else if (fmt == DOCTOR_OUT_JSON)
            ;
        else if (fmt == DOCTOR_OUT_DOT)
            tacl__doctor_write_dot(r, stdout);
        else
            tacl__doctor_write_table_pairs(r, stdout, every_pair);
        fflush(stdout);
        if (!rc) rc = tacl__doctor_status(r);
    }
    tacl__doctor_report_destroy(r);
    /* Only rank 0 judges: under tacl run, a failing rank would stop rank 0 mid-report. */
    return rc;
}

const tacl_cmd_t tacl_cmd_doctor = {
    .name = "doctor",
    .summary = "check which ranks and hosts reach each other, how fast, and what will break",
    .usage =
        "usage: tacl doctor [--local N] [--json | --dot] [--timeout S] [--max-bytes B]\n"
        "                   [--no-smoke] [--pairs] [--quiet]\n"
        "\n"
        "Runs the debugging ladder on every rank of a job and reports on rank 0:\n"
        "  1. reachability of every pair of ranks and hosts, with the address and interface\n"
        "     that worked or the OS error of those that did not;\n"
        "  2. latency (ping-pong) and bandwidth (a streamed message) of every directly linked\n"
        "     pair, in rounds where each rank is in one pair at a time;\n"
        "  3. collective smoke tests with checked values: all_reduce, all_gather, broadcast,\n"
        "     send/recv routed between pairs without a direct link;\n"
        "  4. a verdict: what works, what breaks and why (NCCL and Gloo need a direct link\n"
        "     between every pair of a group; tacl relays), pipeline orders over direct links,\n"
        "     groups linked all-to-all, and where to host the store.\n"
        "A disconnected graph is reported (matrix and components) rather than failing.\n"
        "\n"
        "Run it as any tacl program: tacl run -n N -- tacl doctor, mpirun, srun, torchrun; or\n"
        "  --local N       start N ranks on this host (tacl run -n N underneath)\n"
        "  --json          the cluster description format (docs/CLUSTER_FORMAT.md) with the\n"
        "                  measured links, for tacl plan --cluster\n"
        "  --dot           Graphviz: hosts, links with bandwidth, unreachable pairs dashed red\n"
        "  --timeout S     bound per measured pair and per smoke test (TACL_DOCTOR_TIMEOUT)\n"
        "  --max-bytes B   largest streamed message (TACL_DOCTOR_BYTES)\n"
        "  --no-smoke      skip the collective smoke tests\n"
        "  --pairs         list every rank pair's link (default up to 32 ranks; beyond, a\n"
        "                  line per host pair and the rank pairs that stand out)\n"
        "  --quiet         no progress lines on stderr\n"
        "\n"
        "Probes wait TACL_PROBE_TIMEOUT per peer. Exit status (rank 0): 0 when the graph is\n"
        "connected and every smoke test passed, 1 otherwise, 2 for a usage error.\n",
    .run = doctor_cmd_run,
};
