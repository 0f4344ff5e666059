/* settings.h — typed access to the TACL_* settings declared in settings.def. Values come from
 * the environment at the time of the call (cheap enough for init paths; hot paths cache). */
#ifndef TACL_CORE_SETTINGS_H
#define TACL_CORE_SETTINGS_H

#include <stddef.h>

typedef enum { TACL_SET_STR, TACL_SET_INT, TACL_SET_DBL, TACL_SET_BOOL } tacl__setting_type_t;

typedef enum {
#define S(id, name, type, def, help) TACL_SET_##id,
#include "settings.def"
#undef S
    TACL_SET_COUNT
} tacl__setting_id_t;

typedef struct {
    const char *name;
    tacl__setting_type_t type;
    const char *def;
    const char *help;
} tacl__setting_info_t;

const tacl__setting_info_t *tacl__setting_info(tacl__setting_id_t id);
/* 1 when the variable is present in the environment. */
int tacl__setting_is_set(tacl__setting_id_t id);
/* The environment's value, else the default ("" when none). Never NULL. */
const char *tacl__setting_str(tacl__setting_id_t id);
/* Parsed values; a malformed value logs a WARN naming the variable and yields the default. */
long tacl__setting_int(tacl__setting_id_t id);
double tacl__setting_dbl(tacl__setting_id_t id);
/* For a DBL setting that is a duration: 0 (TACL_OK) when unset or a finite number of seconds
 * > 0 (>= 0 with allow_zero), else TACL_ERR_CONFIG (12) with a message naming the variable,
 * its value and what is expected. */
int tacl__setting_check_seconds(tacl__setting_id_t id, int allow_zero);
int tacl__setting_bool(tacl__setting_id_t id);

#endif
