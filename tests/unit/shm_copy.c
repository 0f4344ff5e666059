/* shm_copy.c — copy jobs of the shared-memory group (src/transport/shm/shm_copy.c): blocks of
 * every size around the task size, more blocks than a job holds (it copies the full part first),
 * empty blocks skipped, with no helpers and with three; every byte lands where it should and the
 * gaps between blocks stay untouched; a job is empty again after it ran. */
#include "check.h"
#include "transport/shm/shm_group_int.h"

#include <stdlib.h>
#include <string.h>

#define NBLK 200

static unsigned char src_byte(size_t i)
{
    return (unsigned char)(i * 131 + (i >> 9) + 7);
}

/* The source and destination of every case: NBLK blocks, each followed by a gap. */
static size_t off[NBLK], len[NBLK], total;
static unsigned char *src, *dst;
#define GAP 8

static void layout(void)
{
    static const size_t lens[] = {0,
                                  1,
                                  63,
                                  SHM_TASK_BYTES - 1,
                                  SHM_TASK_BYTES,
                                  SHM_TASK_BYTES + 1,
                                  3 * SHM_TASK_BYTES + 17,
                                  300000};
    const size_t nl = sizeof lens / sizeof lens[0];
    for (int b = 0; b < NBLK; b++) {
        len[b] = lens[(size_t)b % nl];
        off[b] = total;
        total += len[b] + GAP;
    }
    src = malloc(total);
    dst = malloc(total);
    CHECK(src && dst);
    for (size_t i = 0; i < total; i++)
        src[i] = src_byte(i);
}

static void run_case(tacl__shm_group_t *g)
{
    static const unsigned char gap[GAP] = {0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee};
    memset(dst, 0xee, total);
    tacl__shm_copy_job_t job;
    tacl__shm_copy_init(&job, g);
    /* Blocks in reverse order: a flush in the middle must not depend on their order. */
    for (int b = NBLK - 1; b >= 0; b--)
        tacl__shm_copy_add(&job, (char *)dst + off[b], (const char *)src + off[b], len[b]);
    CHECK(job.nblk <= SHM_COPY_BLOCKS);
    tacl__shm_copy_run(&job);
    CHECK(job.nblk == 0 && job.total == 0 && job.first[0] == 0);
    for (int b = 0; b < NBLK; b++) {
        if (memcmp(dst + off[b], src + off[b], len[b]) != 0) {
            size_t i = 0;
            while (dst[off[b] + i] == src[off[b] + i])
                i++;
            fprintf(stderr, "block %d (%zu bytes): byte %zu is %u, expected %u\n", b, len[b], i,
                    dst[off[b] + i], src[off[b] + i]);
            exit(1);
        }
        CHECK(memcmp(dst + off[b] + len[b], gap, GAP) == 0); /* the gap is untouched */
    }
    /* Reused after it ran: one block, copied again over a cleared destination. */
    memset(dst, 0, total);
    tacl__shm_copy_add(&job, (char *)dst + off[7], (const char *)src + off[7], len[7]);
    tacl__shm_copy_run(&job);
    CHECK(memcmp(dst + off[7], src + off[7], len[7]) == 0);
    CHECK(dst[off[6]] == 0);
}

int main(void)
{
    tacl__shm_group_t g;
    memset(&g, 0, sizeof g);
    layout();
    run_case(&g); /* no helpers: the caller copies everything */
    g.pool = tacl__shm_pool_create(3);
    CHECK(g.pool != NULL);
    for (int rep = 0; rep < 5; rep++)
        run_case(&g);
    tacl__shm_pool_destroy(g.pool);
    free(src);
    free(dst);
    return 0;
}
