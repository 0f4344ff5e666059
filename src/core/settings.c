/* settings.c — the settings table generated from settings.def and its typed readers. */
#include "settings.h"
#include "log.h"

#include "err.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A year: longer durations are typos (and overflow nanosecond deadlines). */
#define SETTINGS_SECONDS_MAX (365.0 * 86400.0)

static const tacl__setting_info_t settings_table[TACL_SET_COUNT] = {
#define S(id, name, type, def, help) [TACL_SET_##id] = {name, TACL_SET_##type, def, help},
#include "settings.def"
#undef S
};

const tacl__setting_info_t *tacl__setting_info(tacl__setting_id_t id)
{
    if ((int)id < 0 || id >= TACL_SET_COUNT) return NULL;
    return &settings_table[id];
}

int tacl__setting_is_set(tacl__setting_id_t id)
{
    const char *v = getenv(settings_table[id].name);
    return v != NULL && v[0] != '\0';
}

const char *tacl__setting_str(tacl__setting_id_t id)
{
    const char *v = getenv(settings_table[id].name);
    if (v && v[0]) return v;
    return settings_table[id].def;
}

long tacl__setting_int(tacl__setting_id_t id)
{
    const char *v = getenv(settings_table[id].name);
    const char *def = settings_table[id].def;
    if (v && v[0]) {
        char *end;
        errno = 0;
        long x = strtol(v, &end, 0);
        if (errno == 0 && *end == '\0') return x;
        TACL_WARN(TACL_SUB_INIT, "%s=%s is not an integer; using the default %s",
                  settings_table[id].name, v, def[0] ? def : "0");
    }
    return def[0] ? strtol(def, NULL, 0) : 0;
}

double tacl__setting_dbl(tacl__setting_id_t id)
{
    const char *v = getenv(settings_table[id].name);
    const char *def = settings_table[id].def;
    if (v && v[0]) {
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        if (errno == 0 && *end == '\0') return x;
        TACL_WARN(TACL_SUB_INIT, "%s=%s is not a number; using the default %s",
                  settings_table[id].name, v, def[0] ? def : "0");
    }
    return def[0] ? strtod(def, NULL) : 0.0;
}

int tacl__setting_check_seconds(tacl__setting_id_t id, int allow_zero)
{
    const char *v = getenv(settings_table[id].name);
    if (!v || !v[0]) return TACL_OK;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno == 0 && *end == '\0' && isfinite(x) && (x > 0 || (allow_zero && x == 0)) &&
        x <= SETTINGS_SECONDS_MAX)
        return TACL_OK;
    return tacl__err(
        NULL, TACL_ERR_CONFIG, TACL_SUB_INIT,
        "%s=\"%.64s\": expected a number of seconds %s 0 and at most %.0f (default %s)",
        settings_table[id].name, v, allow_zero ? ">=" : ">", SETTINGS_SECONDS_MAX,
        settings_table[id].def);
}

int tacl__setting_bool(tacl__setting_id_t id)
{
    const char *v = tacl__setting_str(id);
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
        !strcasecmp(v, "on"))
        return 1;
    if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
        !strcasecmp(v, "off") || !v[0])
        return 0;
    TACL_WARN(TACL_SUB_INIT, "%s=%s is not a boolean; using 0", settings_table[id].name, v);
    return 0;
}
