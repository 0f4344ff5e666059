/* cmd_version.c — `tacl version`: library version and the features this build has. */
#include "cli.h"
#include "tacl.h"

#include <stdio.h>

static int version_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("tacl %s\n", tacl_version());
    printf("features: hwloc=%s yaml/json=%s\n", TACL_HAVE_HWLOC ? "yes" : "no",
           TACL_HAVE_FYAML ? "yes" : "no");
    return 0;
}

const tacl_cmd_t tacl_cmd_version = {
    .name = "version",
    .summary = "print the version and build features",
    .usage = "usage: tacl version\n\nPrints tacl's version and which optional features this build "
             "has.\n",
    .run = version_run,
};
