/* main.c — the `tacl` command: looks the subcommand up in the generated table and runs it. */
#include "cli.h"
#include "tacl.h"

#include <stdio.h>
#include <string.h>

#define TACL_CMD(n) extern const tacl_cmd_t tacl_cmd_##n;
#include "commands.h"
#undef TACL_CMD

static const tacl_cmd_t *const main_cmds[] = {
#define TACL_CMD(n) &tacl_cmd_##n,
#include "commands.h"
#undef TACL_CMD
};
#define MAIN_NCMDS (sizeof main_cmds / sizeof main_cmds[0])

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) return 0;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    }
    return 0;
}

static void main_usage(FILE *f)
{
    fprintf(f,
            "tacl %s — topology-aware collective library\n\n"
            "usage: tacl <command> [options]   (tacl <command> --help for details)\n\n"
            "commands:\n",
            tacl_version());
    for (size_t i = 0; i < MAIN_NCMDS; i++)
        fprintf(f, "  %-10s %s\n", main_cmds[i]->name, main_cmds[i]->summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        main_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        main_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) argv[1] = "version";
    for (size_t i = 0; i < MAIN_NCMDS; i++) {
        if (strcmp(argv[1], main_cmds[i]->name)) continue;
        if (cli_wants_help(argc - 1, argv + 1)) {
            fputs(main_cmds[i]->usage, stdout);
            return 0;
        }
        return main_cmds[i]->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "tacl: unknown command '%s'\n\n", argv[1]);
    main_usage(stderr);
    return 2;
}
