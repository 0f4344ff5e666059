/* mem.c — tacl_mem_alloc / tacl_mem_free: memory the ranks of a host map from each other
 * (transport/shm/shm_mem.c), so that all_reduce can work in it directly. A communicator without
 * a shared-memory group (one rank on its host) hands out ordinary mapped memory, kept here. */
#include "coll/coll.h"
#include "clock.h"
#include "transport/shm/shm_group.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

struct coll_mem {
    void *p;
    size_t bytes;
};

/* The largest allocation: far beyond any host's memory, well inside off_t. */
#define MEM_MAX ((size_t)1 << 46)

/* A call refused here (message in c->err): the host's other ranks, waiting in the group for
 * this one, learn which call it refused and fail at once (as coll.c's rejections do). */
static tacl_status_t mem_reject(tacl_comm_t *c, tacl__fp_t *fp, tacl_status_t st)
{
    if (!c->shm) return st;
    char kept[TACL_ERRMSG_MAX];
    snprintf(kept, sizeof kept, "%s", c->err.msg);
    fp->coll |= TACL_FP_REJECTED;
    tacl__errbuf_t eb;
    (void)tacl__shm_barrier(c->shm, fp, tacl__deadline_ns(c->timeout_s), &eb);
    return tacl__err(&c->err, st, TACL_SUB_COLL, "%s", kept);
}

tacl_status_t tacl_mem_alloc(tacl_comm_t *c, size_t bytes, void **out)
{
    TACL_CHECK(coll_check_comm(c, "tacl_mem_alloc"));
    tacl__fp_t fp = {TACL_COLL_MEM_ALLOC, 0, 0, -1, bytes, c->seq++};
    if (!out)
        return mem_reject(
            c, &fp,
            tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL, "tacl_mem_alloc: out is NULL"));
    *out = NULL;
    if (bytes == 0 || bytes > MEM_MAX)
        return mem_reject(c, &fp,
                          tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                                    "tacl_mem_alloc: %zu bytes (expected 1 to 2^46)", bytes));
    if (c->shm)
        return comm_fail(c, tacl__shm_mem_alloc(c->shm, bytes, &fp, tacl__deadline_ns(c->timeout_s),
                                                out, &c->err));
    struct coll_mem *grown = realloc(c->mems, (size_t)(c->nmems + 1) * sizeof *grown);
    if (!grown) return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    c->mems = grown;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL,
                         "tacl_mem_alloc: cannot map %zu bytes", bytes);
    c->mems[c->nmems++] = (struct coll_mem){p, bytes};
    *out = p;
    return TACL_OK;
}

tacl_status_t tacl_mem_free(tacl_comm_t *c, void *p)
{
    TACL_CHECK(coll_check_comm(c, "tacl_mem_free"));
    tacl__fp_t fp = {TACL_COLL_MEM_FREE, 0, 0, -1, 0, c->seq++};
    if (c->shm)
        return comm_fail(
            c, tacl__shm_mem_free(c->shm, p, &fp, tacl__deadline_ns(c->timeout_s), &c->err));
    for (int k = 0; k < c->nmems; k++)
        if (c->mems[k].p == p) {
            munmap(p, c->mems[k].bytes);
            c->mems[k] = c->mems[--c->nmems];
            return TACL_OK;
        }
    return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                     "tacl_mem_free: %p is not memory from tacl_mem_alloc on this communicator "
                     "(or was freed already)",
                     p);
}

void comm_mem_release(tacl_comm_t *c)
{
    for (int k = 0; k < c->nmems; k++)
        munmap(c->mems[k].p, c->mems[k].bytes);
    free(c->mems);
    c->mems = NULL;
    c->nmems = 0;
}
