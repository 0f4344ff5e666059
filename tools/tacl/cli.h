/* cli.h — what every `tacl` subcommand provides: one tacl_cmd_t named tacl_cmd_<name>, defined
 * in cmd_<name>.c. run() returns the process exit status (0 success, 1 failure, 2 usage). */
#ifndef TACL_CLI_H
#define TACL_CLI_H

typedef struct {
    const char *name;
    const char *summary;               /* one line for `tacl --help` */
    const char *usage;                 /* full text for `tacl <cmd> --help` */
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
} tacl_cmd_t;

/* 1 when any argument before a "--" is -h or --help. */
int cli_wants_help(int argc, char **argv);

#endif
