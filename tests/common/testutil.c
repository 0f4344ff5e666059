/* testutil.c — helpers shared by tests that do not belong to any one module. */
#include "check.h"
#include "testutil.h"

#include <stdio.h>

int tu_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

void tu_first_cpu(cpu_set_t *all, cpu_set_t *one)
{
    CHECK(sched_getaffinity(0, sizeof *all, all) == 0);
    CPU_ZERO(one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, all)) {
            CPU_SET(c, one);
            return;
        }
}
