/* testutil.h — helpers shared by tests that do not belong to any one module (testutil.c). */
#ifndef TACL_TEST_TESTUTIL_H
#define TACL_TEST_TESTUTIL_H

/* Writes text to the file at path (a control-group file, say); 1 when every byte was taken. */
int tu_write_file(const char *path, const char *text);

#endif
