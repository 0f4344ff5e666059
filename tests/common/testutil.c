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
