/* testutil.h — helpers shared by tests that do not belong to any one module (testutil.c). */
#ifndef TACL_TEST_TESTUTIL_H
#define TACL_TEST_TESTUTIL_H

#include <sched.h>

/* Writes text to the file at path (a control-group file, say); 1 when every byte was taken. */
int tu_write_file(const char *path, const char *text);

/* The mask holding only the first CPU of this thread's affinity mask (into one); *all gets the
 * whole mask. */
void tu_first_cpu(cpu_set_t *all, cpu_set_t *one);

#endif
