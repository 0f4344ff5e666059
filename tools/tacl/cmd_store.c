/* cmd_store.c — `tacl store`: runs a standalone rendezvous store server until SIGINT or
 * SIGTERM. It prints the address it listens on (the port matters with --port 0) so that
 * scripts can read it; ranks whose TACL_MASTER_ADDR/PORT point here use it instead of hosting
 * one on rank 0. */
#include "auth.h"
#include "cli.h"
#include "settings.h"
#include "tacl.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int store_parse_port(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 0 || v > 65535) return -1;
    *out = (int)v;
    return 0;
}

static int store_run(int argc, char **argv)
{
    const char *bind = NULL;
    int port = (int)tacl__setting_int(TACL_SET_MASTER_PORT);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            if (store_parse_port(argv[++i], &port) != 0) {
                fprintf(stderr, "tacl store: --port '%s' is not a port number (0..65535)\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--bind") && i + 1 < argc) {
            bind = argv[++i];
        } else {
            fprintf(stderr, "tacl store: unknown or incomplete option '%s' (see --help)\n",
                    argv[i]);
            return 2;
        }
    }
    /* A standalone store serves other processes: a token generated here would be its own. */
    tacl__auth_t auth;
    tacl_status_t ast = tacl__auth_configured(&auth, NULL);
    if (ast == TACL_ERR_NOT_FOUND) {
        fprintf(stderr, "tacl store: no job token: %s\n", TACL_AUTH_HINT);
        return 1;
    }
    if (ast != TACL_OK) {
        fprintf(stderr, "tacl store: %s\n", tacl_last_error());
        return 1;
    }
    /* Block the stop signals before the server thread starts, so that it inherits the mask
     * and sigwait below receives them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    tacl_store_server_t *srv;
    if (tacl_store_server_start(bind, port, &srv) != TACL_OK) {
        fprintf(stderr, "tacl store: %s\n", tacl_last_error());
        return 1;
    }
    int p = tacl_store_server_port(srv);
    if (bind && strchr(bind, ':'))
        printf("tacl store listening on [%s]:%d\n", bind, p);
    else
        printf("tacl store listening on %s:%d\n", bind ? bind : "*", p);
    fflush(stdout);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    tacl_store_server_stop(srv);
    fprintf(stderr, "tacl store: stopped by %s\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    return 0;
}

const tacl_cmd_t tacl_cmd_store = {
    .name = "store",
    .summary = "run a standalone rendezvous store until SIGINT/SIGTERM",
    .usage = "usage: tacl store [--port P] [--bind ADDR]\n\n"
             "Runs the rendezvous store server in the foreground and prints\n"
             "'tacl store listening on ADDR:PORT'. Ranks whose master address and port\n"
             "point here meet through it instead of rank 0 hosting a store.\n\n"
             "  --port P     port to listen on (default TACL_MASTER_PORT, 29500; 0: any)\n"
             "  --bind ADDR  address to listen on (default: every IPv4 and IPv6 address)\n\n"
             "Clients must prove they know the job's secret, TACL_STORE_TOKEN or the file\n"
             "named by TACL_STORE_TOKEN_FILE (set it here and for every rank; TACL_AUTH=0\n"
             "turns authentication off).\n"
             "Limits: keys up to 4096 bytes, values up to 64 MiB, 65536 keys per request.\n",
    .run = store_run,
};
