/* cmd_info.c — `tacl info`: what tacl would do here. --env prints every TACL_* setting with its
 * default, current value and help (the settings table is the single source). */
#include "cli.h"
#include "settings.h"
#include "tacl.h"

#include <stdio.h>
#include <string.h>

static void info_env(void)
{
    printf("%-24s %-10s %-16s %s\n", "setting", "default", "current", "meaning");
    for (int i = 0; i < TACL_SET_COUNT; i++) {
        const tacl_setting_info_t *s = tacl_setting_info((tacl_setting_id_t)i);
        const char *cur = tacl_setting_is_set((tacl_setting_id_t)i)
                              ? tacl_setting_str((tacl_setting_id_t)i)
                              : "(unset)";
        printf("%-24s %-10s %-16s %s\n", s->name, s->def[0] ? s->def : "-", cur, s->help);
    }
}

static int info_run(int argc, char **argv)
{
    int env = argc < 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--env")) {
            env = 1;
        } else {
            fprintf(stderr, "tacl info: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (env) info_env();
    return 0;
}

const tacl_cmd_t tacl_cmd_info = {
    .name = "info",
    .summary = "print settings (--env) and what tacl finds on this host",
    .usage = "usage: tacl info [--env]\n\n"
             "  --env   every TACL_* setting: default, current value, meaning\n",
    .run = info_run,
};
