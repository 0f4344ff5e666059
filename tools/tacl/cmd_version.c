/* cmd_version.c — `tacl version`: library version and the features this build has. */
#include "cli.h"
#include "tacl.h"

#include <stdio.h>

#define VERSION_USAGE "usage: tacl version\n"

static int version_run(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "tacl version: unexpected argument '%s'\n" VERSION_USAGE, argv[1]);
        return 2;
    }
    printf("tacl %s\n", tacl_version());
    printf("features: hwloc=%s yaml/json=%s\n", TACL_HAVE_HWLOC ? "yes" : "no",
           TACL_HAVE_FYAML ? "yes" : "no");
    return 0;
}

const tacl_cmd_t tacl_cmd_version = {
    .name = "version",
    .summary = "print the version and build features",
    .usage = VERSION_USAGE "\nPrints tacl's version and which optional features this build has.\n",
    .run = version_run,
};
