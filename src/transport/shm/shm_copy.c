/* shm_copy.c — copies of several blocks cut into SHM_TASK_BYTES tasks that the caller and its
 * helper threads share (shm_pool.c): the copy phases of the collectives that move data, through
 * the slots (shm_move.c, reduce_scatter in shm_coll.c) or straight from the peers' buffers
 * (shm_mem.c). */
#include "transport/shm/shm_group_int.h"

void tacl__shm_copy_init(tacl__shm_copy_job_t *j, tacl__shm_group_t *g)
{
    j->g = g;
    j->nblk = 0;
    j->total = 0;
    j->first[0] = 0;
}

void tacl__shm_copy_add(tacl__shm_copy_job_t *j, char *dst, const char *src, size_t len)
{
    if (!len) return;
    if (j->nblk == SHM_COPY_BLOCKS) tacl__shm_copy_run(j); /* full: copy these first */
    int b = j->nblk++;
    j->src[b] = src;
    j->dst[b] = dst;
    j->len[b] = len;
    j->first[b + 1] = j->first[b] + (len + SHM_TASK_BYTES - 1) / SHM_TASK_BYTES;
    j->total += len;
}

void tacl__shm_copy_task(void *arg, unsigned k)
{
    const tacl__shm_copy_job_t *j = arg;
    int lo = 0, hi = j->nblk - 1; /* the block whose tasks hold k: first[b] <= k < first[b+1] */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (j->first[mid] <= k)
            lo = mid;
        else
            hi = mid - 1;
    }
    size_t a = (size_t)(k - j->first[lo]) * SHM_TASK_BYTES;
    memcpy(j->dst[lo] + a, j->src[lo] + a, shm_min(SHM_TASK_BYTES, j->len[lo] - a));
}

void tacl__shm_copy_run(tacl__shm_copy_job_t *j)
{
    if (j->nblk) {
        tacl__shm_pool_run(shm_pool_for(j->g, j->total), (unsigned)j->first[j->nblk],
                           tacl__shm_copy_task, j);
    }
    tacl__shm_copy_init(j, j->g);
}
