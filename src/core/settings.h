/* settings.h — typed access to the TACL_* settings declared in settings.def. Values come from
 * the environment at the time of the call (cheap enough for init paths; hot paths cache). */
#ifndef TACL_CORE_SETTINGS_H
#define TACL_CORE_SETTINGS_H

#include <stddef.h>

typedef enum { TACL_SET_STR, TACL_SET_INT, TACL_SET_DBL, TACL_SET_BOOL } tacl_setting_type_t;

typedef enum {
#define S(id, name, type, def, help) TACL_SET_##id,
#include "settings.def"
#undef S
    TACL_SET_COUNT
} tacl_setting_id_t;

typedef struct {
    const char *name;
    tacl_setting_type_t type;
    const char *def;
    const char *help;
} tacl_setting_info_t;

const tacl_setting_info_t *tacl_setting_info(tacl_setting_id_t id);
/* 1 when the variable is present in the environment. */
int tacl_setting_is_set(tacl_setting_id_t id);
/* The environment's value, else the default ("" when none). Never NULL. */
const char *tacl_setting_str(tacl_setting_id_t id);
/* Parsed values; a malformed value logs a WARN naming the variable and yields the default. */
long tacl_setting_int(tacl_setting_id_t id);
double tacl_setting_dbl(tacl_setting_id_t id);
/* For a DBL setting that is a duration: 0 (TACL_OK) when unset or a finite number of seconds
 * > 0 (>= 0 with allow_zero), else TACL_ERR_CONFIG (12) with a message naming the variable,
 * its value and what is expected. */
int tacl_setting_check_seconds(tacl_setting_id_t id, int allow_zero);
int tacl_setting_bool(tacl_setting_id_t id);

#endif
