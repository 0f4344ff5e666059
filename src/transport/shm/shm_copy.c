/* shm_copy.c — copies of several blocks cut into SHM_TASK_BYTES tasks that the caller and its
 * helper threads share (shm_pool.c): the copy phases of all_gatherv and broadcast, through the
 * slots (shm_move.c) or straight from the peers' buffers (shm_mem.c). */
#include "transport/shm/shm_group_int.h"

void tacl__shm_copy_init(tacl__shm_copy_job_t *j, const char **src, char **dst, size_t *len,
                         size_t *first)
{
    *j = (tacl__shm_copy_job_t){.src = src, .dst = dst, .len = len, .first = first};
    first[0] = 0;
}

void tacl__shm_copy_add(tacl__shm_copy_job_t *j, char *dst, const char *src, size_t len)
{
    if (!len) return;
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

void tacl__shm_copy_run(tacl__shm_group_t *g, tacl__shm_copy_job_t *j)
{
    if (!j->nblk) return;
    tacl__shm_pool_t *pool = j->total >= SHM_MT_MIN_BYTES ? g->pool : NULL;
    tacl__shm_pool_run(pool, (unsigned)j->first[j->nblk], tacl__shm_copy_task, j);
}
