/* proc.h — what /proc says about another process of this host. */
#ifndef TACL_CORE_PROC_H
#define TACL_CORE_PROC_H

#include <stdint.h>

/* The state letter of process pid in /proc/<pid>/stat ('R', 'S', 'T', 'Z', ...), 0 when pid is
 * not positive or the file cannot be read (no such process, another pid namespace). */
char tacl__proc_state(int32_t pid);

#endif
