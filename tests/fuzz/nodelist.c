/* nodelist.c — libFuzzer target: Slurm host lists and tasks-per-node lists. The first byte of an
 * input picks a bound on the host count (1-4096) and a node index, the rest is the list. A list
 * that expands must give exactly as many hosts as tacl__nodelist_first counts, never more than
 * the bound, each a non-empty name of host-name characters of at most 255 bytes, the first one
 * equal to what tacl__nodelist_first returns; a bound one lower than the count must be refused
 * with TACL_ERR_INVALID. Every refusal is TACL_ERR_INVALID (never a crash or a guess).
 * fuzz-sources: src/boot/nodelist.c src/core/log.c src/core/status.c src/core/settings.c
 */
#include "fuzz_assert.h"
#include "boot/nodelist.h"
#include "log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int nl_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        setenv("TACL_LOG", "none", 1);
        tacl__log_reload();
        quiet = 1;
    }
    if (size < 1) return 0;
    size_t bound = 1 + (size_t)data[0] * 16; /* 1 .. 4081 */
    int node = (int)(data[0] % 8) - 1;       /* -1 asks for the count every node shares */
    char *spec = malloc(size);
    FUZZ_ASSERT(spec);
    memcpy(spec, data + 1, size - 1);
    spec[size - 1] = '\0';

    char first[256];
    size_t count = 0;
    tacl_status_t fst = tacl__nodelist_first(spec, first, sizeof first, &count);
    FUZZ_ASSERT(fst == TACL_OK || fst == TACL_ERR_INVALID);
    if (fst == TACL_OK) FUZZ_ASSERT(count >= 1 && count <= TACL_NODELIST_MAX && first[0]);
    tacl__nodelist_t nl = {NULL, 0};
    tacl_status_t st = tacl__nodelist_expand(spec, bound, &nl);
    FUZZ_ASSERT(st == TACL_OK || st == TACL_ERR_INVALID);
    if (st == TACL_OK) {
        /* Same validation whichever entry point: a list that expands also has a first host. */
        FUZZ_ASSERT(fst == TACL_OK);
        FUZZ_ASSERT(nl.count == count && nl.count >= 1 && nl.count <= bound);
        FUZZ_ASSERT(!strcmp(nl.hosts[0], first));
        for (size_t i = 0; i < nl.count; i++) {
            size_t len = strlen(nl.hosts[i]);
            FUZZ_ASSERT(len >= 1 && len <= 255);
            for (size_t k = 0; k < len; k++)
                FUZZ_ASSERT(nl_host_char(nl.hosts[i][k]));
        }
        tacl__nodelist_free(&nl);
        FUZZ_ASSERT(nl.hosts == NULL && nl.count == 0);
        if (count > 1) {
            tacl__nodelist_t less = {NULL, 0};
            FUZZ_ASSERT(tacl__nodelist_expand(spec, count - 1, &less) == TACL_ERR_INVALID);
            FUZZ_ASSERT(less.hosts == NULL);
        }
    } else {
        FUZZ_ASSERT(nl.hosts == NULL && nl.count == 0); /* outputs set only on success */
        if (fst == TACL_OK) FUZZ_ASSERT(count > bound); /* refused only for its size */
    }

    int tasks = -7;
    st = tacl__slurm_tasks_per_node(spec, node, &tasks);
    FUZZ_ASSERT(st == TACL_OK || st == TACL_ERR_INVALID || (st == TACL_ERR_NOT_FOUND && node < 0));
    if (st == TACL_OK)
        FUZZ_ASSERT(tasks >= 1 && tasks <= 1000000000);
    else
        FUZZ_ASSERT(tasks == -7);
    free(spec);
    return 0;
}
