/* testutil.c — helpers shared by tests that do not belong to any one module. */
#include "check.h"
