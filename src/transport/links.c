/* links.c — the link types the engine may open over a pair's tcp connection (transport.h), in
 * order of preference. A new link type adds its row here; the engine itself does not change. */
#include "transport/shm/shm_link.h"
#include "transport/transport.h"

#include <stddef.h>

const tacl__link_type_t *const tacl__link_types[] = {&tacl__shm_link_type, NULL};
