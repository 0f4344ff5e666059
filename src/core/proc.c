/* proc.c — what /proc says about another process of this host. */
#include "proc.h"

#include <stdio.h>
#include <string.h>

char tacl__proc_state(int32_t pid)
{
    char path[64], buf[256];
    if (pid <= 0) return 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name in parentheses may hold anything, so the state follows the last ')' */
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}
