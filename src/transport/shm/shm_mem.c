/* shm_mem.c — memory that the ranks of a shared-memory group map from each other, and the
 * collectives that work in it directly.
 *
 * Allocation (collective over the group, in the same order on every rank): each rank makes a
 * memfd of the asked size, sealed against shrinking and growing (so that a peer's mapping never
 * loses its pages), maps it and publishes (pid, fd) through the group; each rank opens the
 * others' memfds through /proc/<pid>/fd and maps them; a second exchange says whether every
 * rank mapped every peer's region. Either all do, or none keeps the others' mappings and each
 * rank's region is ordinary memory. A region's id is its allocation's number, the same on every
 * rank, since every rank allocates and frees in the same order (the steps' fingerprints check
 * it).
 *
 * All_reduce in such memory: while the group has a shared region, every large all_reduce starts
 * with a step in which each rank says where its buffers are (the regions' ids in aux, the
 * offsets in the control line's payload). When every rank's send and recv lie in shared regions,
 * each rank reduces its slice straight from the n send buffers in rank order (the bits of the
 * copying path) and writes it into the n recv buffers while it is in L1; a second step ends the
 * operation, so no rank returns while another still reads its send or writes its recv. Per byte
 * of the message a rank then reads about one and writes about one, where the copying path moves
 * about 4.75 (copy in, reduce, copy out). Otherwise every rank goes on with the copying path.
 * reduce_scatter and all_gather(v) do the same when every rank's send lies in shared memory:
 * each rank reduces its block, or copies every block, straight from the n sends into its recv,
 * which may be any memory; and broadcast when the root's buffer lies in it. */
#include "transport/shm/shm_group_int.h"

#include "log.h"
#include "reduce.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct shm_mem_region {
    uint32_t id;
    int shared; /* every rank maps every rank's region */
    size_t bytes;
    char **map; /* rank r's region as mapped here (map[me]: mine); others NULL unless shared */
};

typedef struct {
    int32_t pid, fd; /* fd < 0: this rank could not make its region (err: errno) */
    int32_t err, pad;
} mem_hello_t;

static void mem_unmap_peers(tacl__shm_group_t *g, struct shm_mem_region *m)
{
    for (int r = 0; r < g->size; r++)
        if (r != g->rank && m->map[r]) {
            munmap(m->map[r], m->bytes);
            m->map[r] = NULL;
        }
}

static void mem_unmap(tacl__shm_group_t *g, struct shm_mem_region *m)
{
    mem_unmap_peers(g, m);
    if (m->map[g->rank]) munmap(m->map[g->rank], m->bytes);
    free(m->map);
}

/* This rank's region: a sealed memfd of bytes, mapped; *fd stays open for the peers. */
static char *mem_make(size_t bytes, int *fd, int *err)
{
    *fd = memfd_create("tacl-mem", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (*fd < 0) goto fail;
    if (ftruncate(*fd, (off_t)bytes) != 0 ||
        fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        goto fail;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    if (p == MAP_FAILED) goto fail;
    return p;
fail:
    *err = errno;
    if (*fd >= 0) close(*fd);
    *fd = -1;
    return NULL;
}

/* Rank r's region, through its memfd; 0 on success, else errno (reason in why). */
static int mem_map_peer(const mem_hello_t *h, size_t bytes, char **out, char *why, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)h->pid, (int)h->fd);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(why, len, "cannot open %s: %s", path, strerror(e));
        return e;
    }
    struct stat st;
    /* The peer's memfd, sealed at the size every rank asked for: its pages cannot go away. */
    int seals = fcntl(fd, F_GET_SEALS);
    if (fstat(fd, &st) != 0 || (size_t)st.st_size != bytes || seals < 0 ||
        !(seals & F_SEAL_SHRINK)) {
        snprintf(why, len, "%s is not a sealed region of %zu bytes", path, bytes);
        close(fd);
        return EINVAL;
    }
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(why, len, "cannot map %s: %s", path, strerror(e));
        return e;
    }
    *out = p;
    return 0;
}

static tacl_status_t mem_gather(tacl__shm_group_t *g, const void *mine, size_t len, void *all,
                                const tacl__fp_t *fp, uint64_t deadline, tacl__errbuf_t *eb)
{
    size_t n = (size_t)g->size, cnt[n], dsp[n];
    for (size_t r = 0; r < n; r++) {
        cnt[r] = len;
        dsp[r] = r * len;
    }
    return tacl__shm_all_gatherv(g, mine, len, all, cnt, dsp, fp, deadline, eb);
}

tacl_status_t tacl__shm_mem_alloc(tacl__shm_group_t *g, size_t bytes, const tacl__fp_t *fp,
                                  uint64_t deadline, void **out, tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    const int n = g->size, me = g->rank;
    struct shm_mem_region *grown = realloc(g->mem, (size_t)(g->nmem + 1) * sizeof *g->mem);
    if (!grown) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_SHM, "out of memory");
    g->mem = grown;
    struct shm_mem_region m = {.id = g->mem_ids + 1, .bytes = bytes};
    m.map = calloc((size_t)n, sizeof *m.map);
    mem_hello_t all[n], mine = {.pid = (int32_t)getpid()};
    int32_t ok[n];
    int fd = -1, err = ENOMEM;
    if (m.map) m.map[me] = mem_make(bytes, &fd, &err);
    mine.fd = fd;
    mine.err = m.map && m.map[me] ? 0 : err;
    /* Every rank takes both steps, so that a failure anywhere is seen everywhere. */
    tacl_status_t st = mem_gather(g, &mine, sizeof mine, all, fp, deadline, eb);
    if (st != TACL_OK) goto out;
    for (int r = 0; r < n; r++)
        if (all[r].fd < 0) {
            st = tacl__err(
                eb, all[r].err == ENOMEM || all[r].err == ENOSPC ? TACL_ERR_NOMEM : TACL_ERR_SYSTEM,
                TACL_SUB_SHM, "tacl_mem_alloc of %zu bytes: rank %d could not make its region: %s",
                bytes, g->comm_ranks[r], strerror(all[r].err));
            goto out;
        }
    char why[160] = "";
    int mapped = 1;
    for (int r = 0; r < n && mapped; r++)
        if (r != me) mapped = mem_map_peer(&all[r], bytes, &m.map[r], why, sizeof why) == 0;
    if (!mapped)
        TACL_DEBUG(TACL_SUB_SHM, "tacl_mem_alloc: rank %d cannot map a peer's region (%s)",
                   g->comm_ranks[me], why);
    int32_t mine_ok = mapped;
    st = mem_gather(g, &mine_ok, sizeof mine_ok, ok, fp, deadline, eb);
    if (st != TACL_OK) goto out;
    m.shared = 1;
    for (int r = 0; r < n; r++)
        m.shared &= ok[r] != 0;
    if (!m.shared) mem_unmap_peers(g, &m);
    g->mem[g->nmem++] = m;
    g->mem_ids++;
    g->shared_mem += m.shared;
    TACL_DEBUG(TACL_SUB_SHM, "tacl_mem_alloc: region %u of %zu bytes, %s", m.id, bytes,
               m.shared ? "mapped by every rank" : "not shared (a rank cannot map the others')");
    *out = m.map[me];
    m.map = NULL;
out:
    if (fd >= 0) close(fd);
    if (m.map) mem_unmap(g, &m);
    return st;
}

static int mem_find(const tacl__shm_group_t *g, const void *p)
{
    for (int k = 0; k < g->nmem; k++)
        if (g->mem[k].map[g->rank] == p) return k;
    return -1;
}

tacl_status_t tacl__shm_mem_free(tacl__shm_group_t *g, void *p, tacl__fp_t *fp, uint64_t deadline,
                                 tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    int k = mem_find(g, p);
    /* The region's id in the fingerprint: ranks freeing different regions fail alike. */
    fp->count = k >= 0 ? g->mem[k].id : 0;
    TACL_CHECK(tacl__shm_step(g, 1, fp, 0, deadline, eb));
    if (k < 0)
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_SHM,
                         "tacl_mem_free: %p is not memory from tacl_mem_alloc on this "
                         "communicator (or was freed already)",
                         p);
    g->shared_mem -= g->mem[k].shared;
    mem_unmap(g, &g->mem[k]);
    g->mem[k] = g->mem[--g->nmem];
    return TACL_OK;
}

void tacl__shm_mem_release(tacl__shm_group_t *g)
{
    for (int k = 0; k < g->nmem; k++)
        mem_unmap(g, &g->mem[k]);
    free(g->mem);
    g->mem = NULL;
    g->nmem = g->shared_mem = 0;
}

/* The shared region holding [p, p + bytes) here: its index, and p's offset in it. */
static int mem_lookup(const tacl__shm_group_t *g, const void *p, size_t bytes, uint64_t *off)
{
    const char *c = p;
    for (int k = 0; k < g->nmem; k++) {
        const char *b = g->mem[k].map[g->rank];
        if (g->mem[k].shared && c >= b && bytes <= g->mem[k].bytes &&
            (size_t)(c - b) <= g->mem[k].bytes - bytes) {
            *off = (uint64_t)(c - b);
            return k;
        }
    }
    return -1;
}

int tacl__shm_mem_shared(const tacl__shm_group_t *g, const void *p, size_t bytes)
{
    uint64_t off;
    return mem_lookup(g, p, bytes, &off) >= 0;
}

uint64_t tacl__shm_mem_direct_ops(const tacl__shm_group_t *g)
{
    return g ? g->mem_direct : 0;
}

static const struct shm_mem_region *mem_by_id(const tacl__shm_group_t *g, uint64_t id)
{
    for (int k = 0; k < g->nmem; k++)
        if (g->mem[k].id == id && g->mem[k].shared) return &g->mem[k];
    return NULL;
}

typedef struct {
    tacl__shm_group_t *g;
    const char **src; /* every rank's send, as mapped here */
    char **dst;       /* the recvs written: every rank's (all_reduce), or mine (reduce_scatter) */
    int ndst;
    size_t lo, hi, shift, es, tile; /* elements [lo, hi) of the sends, at x - shift of dst */
    tacl_dtype_t dt;
    tacl_op_t op;
} mem_job_t;

/* Tile k of my slice: block by block, reduce the n sends in rank order, then write the block
 * into the recvs while it is in L1. */
static void mem_task(void *arg, unsigned k)
{
    const mem_job_t *j = arg;
    const int n = j->g->size;
    const size_t es = j->es, blk = SHM_BLOCK / es;
    _Alignas(64) char tmp[SHM_BLOCK];
    const void *srcs[n];
    size_t a = j->lo + (size_t)k * j->tile, b = shm_min(a + j->tile, j->hi);
    for (size_t x = a; x < b; x += blk) {
        size_t m = shm_min(blk, b - x);
        for (int r = 0; r < n; r++)
            srcs[r] = j->src[r] + x * es;
        tacl__reduce_many(tmp, srcs, n, m, j->dt, j->op);
        tacl__reduce_finish(tmp, m, j->dt, j->op, n);
        for (int r = 0; r < j->ndst; r++)
            memcpy(j->dst[r] + (x - j->shift) * es, tmp, m * es);
    }
}

/* Runs tasks of fn (my part) with the helpers for large operations, then the step that ends
 * the operation: no rank returns while another still reads its send or writes its recv. */
static tacl_status_t mem_run_tasks(tacl__shm_group_t *g, unsigned tasks, tacl__shm_task_fn fn,
                                   void *arg, size_t bytes, const tacl__fp_t *fp, uint64_t deadline,
                                   tacl__errbuf_t *eb)
{
    tacl__shm_pool_t *pool = shm_hold(g, bytes);
    tacl__shm_pool_run(pool, tasks, fn, arg);
    tacl_status_t st = tacl__shm_step(g, 0, fp, 0, deadline, eb);
    tacl__shm_pool_hold(pool, 0);
    return st;
}

/* Runs job j (my slice of a reduction) in tiles. */
static tacl_status_t mem_run(tacl__shm_group_t *g, mem_job_t *j, size_t bytes, const tacl__fp_t *fp,
                             uint64_t deadline, tacl__errbuf_t *eb)
{
    const size_t align = SHM_ALIGN / j->es > 0 ? SHM_ALIGN / j->es : 1;
    j->tile = (SHM_TASK_BYTES / j->es + align - 1) / align * align;
    unsigned tasks = (unsigned)((j->hi - j->lo + j->tile - 1) / j->tile);
    return mem_run_tasks(g, tasks, mem_task, j, bytes, fp, deadline, eb);
}

/* The first step of an operation that may run in shared memory: publishes where my buffers
 * are (aux: the regions' ids, 0 where none; the offsets in the control line) and compares the
 * fingerprints. */
static tacl_status_t mem_propose(tacl__shm_group_t *g, uint64_t aux, const uint64_t offs[2],
                                 const tacl__fp_t *fp, uint64_t deadline, tacl__errbuf_t *eb)
{
    memcpy(shm_ctrl(g, g->rank, g->step + 1)->inl, offs, 2 * sizeof *offs);
    return tacl__shm_step(g, 1, fp, aux, deadline, eb);
}

/* Rank r's buffer of `bytes` in region id at the offset it published (slot 0 or 1 of its
 * control line), as mapped here; NULL when there is no such shared region or it does not fit. */
static char *mem_peer(tacl__shm_group_t *g, int r, uint64_t id, int slot, size_t bytes)
{
    const struct shm_mem_region *m = id ? mem_by_id(g, id) : NULL;
    uint64_t offs[2];
    memcpy(offs, shm_ctrl(g, r, g->step)->inl, sizeof offs);
    if (!m || bytes > m->bytes || offs[slot] > m->bytes - bytes) return NULL;
    return m->map[r] + offs[slot];
}

tacl_status_t tacl__shm_mem_all_reduce(tacl__shm_group_t *g, const void *send, void *recv,
                                       size_t count, tacl_dtype_t dt, tacl_op_t op,
                                       const tacl__fp_t *fp, uint64_t deadline, int *done,
                                       tacl__errbuf_t *eb)
{
    const int n = g->size, me = g->rank;
    const size_t es = tacl_dtype_size(dt), bytes = count * es;
    *done = 0;
    uint64_t offs[2] = {0, 0};
    int ks = mem_lookup(g, send, bytes, &offs[0]), kr = mem_lookup(g, recv, bytes, &offs[1]);
    uint64_t aux = ks >= 0 && kr >= 0 ? (uint64_t)g->mem[ks].id << 32 | g->mem[kr].id : 0;
    TACL_CHECK(mem_propose(g, aux, offs, fp, deadline, eb));
    /* The same data on every rank (aux, offsets, the regions' ids and sizes), so the same
     * decision everywhere. */
    const char *src[n];
    char *dst[n];
    for (int r = 0; r < n; r++) {
        src[r] = mem_peer(g, r, g->aux[r] >> 32, 0, bytes);
        dst[r] = mem_peer(g, r, g->aux[r] & 0xffffffffu, 1, bytes);
        if (!src[r] || !dst[r]) return TACL_OK;
    }
    const size_t align = SHM_ALIGN / es > 0 ? SHM_ALIGN / es : 1;
    size_t per = ((count + (size_t)n - 1) / (size_t)n + align - 1) / align * align;
    mem_job_t job = {.g = g, .src = src, .dst = dst, .ndst = n, .es = es, .dt = dt, .op = op};
    job.lo = shm_min(per * (size_t)me, count);
    job.hi = shm_min(job.lo + per, count);
    *done = 1;
    g->mem_direct++;
    return mem_run(g, &job, bytes, fp, deadline, eb);
}

tacl_status_t tacl__shm_mem_reduce_scatter(tacl__shm_group_t *g, const void *send, void *recv,
                                           size_t recv_count, tacl_dtype_t dt, tacl_op_t op,
                                           const tacl__fp_t *fp, uint64_t deadline, int *done,
                                           tacl__errbuf_t *eb)
{
    const int n = g->size, me = g->rank;
    const size_t es = tacl_dtype_size(dt), bytes = (size_t)n * recv_count * es;
    *done = 0;
    uint64_t offs[2] = {0, 0};
    int ks = mem_lookup(g, send, bytes, &offs[0]);
    TACL_CHECK(mem_propose(g, ks >= 0 ? g->mem[ks].id : 0, offs, fp, deadline, eb));
    const char *src[n];
    for (int r = 0; r < n; r++)
        if (!(src[r] = mem_peer(g, r, g->aux[r], 0, bytes))) return TACL_OK;
    char *dst[1] = {recv};
    mem_job_t job = {.g = g, .src = src, .dst = dst, .ndst = 1, .es = es, .dt = dt, .op = op};
    job.lo = job.shift = (size_t)me * recv_count;
    job.hi = job.lo + recv_count;
    *done = 1;
    g->mem_direct++;
    return mem_run(g, &job, bytes, fp, deadline, eb);
}

/* aux of a rank whose all_gatherv sends nothing: there is nothing of it to read. */
#define MEM_EMPTY 0xffffffffu

tacl_status_t tacl__shm_mem_all_gatherv(tacl__shm_group_t *g, const void *send, size_t send_bytes,
                                        void *recv, const size_t *recv_bytes, const size_t *displs,
                                        const tacl__fp_t *fp, uint64_t deadline, int *done,
                                        tacl__errbuf_t *eb)
{
    const int n = g->size, me = g->rank;
    *done = 0;
    uint64_t info[2] = {0, send_bytes}; /* my send's offset in its region, its bytes */
    int ks = send_bytes ? mem_lookup(g, send, send_bytes, &info[0]) : -1;
    uint64_t aux = ks >= 0 ? g->mem[ks].id : send_bytes ? 0 : MEM_EMPTY;
    memcpy(shm_cnt(g, me, g->step + 1), recv_bytes, (size_t)n * sizeof(uint64_t));
    TACL_CHECK(mem_propose(g, aux, info, fp, deadline, eb));
    /* Every rank reads the same control lines, so all decide alike. */
    const char *src[n];
    uint64_t sent[n];
    for (int r = 0; r < n; r++) {
        memcpy(info, shm_ctrl(g, r, g->step)->inl, sizeof info);
        sent[r] = info[1];
        src[r] = NULL;
        if (g->aux[r] == MEM_EMPTY && sent[r] == 0) continue;
        if (!(src[r] = mem_peer(g, r, g->aux[r], 0, sent[r]))) return TACL_OK;
    }
    *done = 1;
    g->mem_direct++;
    /* A pair that disagrees: the first that involves me, as on the copying path. */
    tacl_status_t bad = tacl__shm_gatherv_pairs(g, fp, sent, send_bytes, recv_bytes, eb);
    /* Blocks from the next rank on, so that the ranks do not all read rank 0's send first. */
    tacl__shm_copy_job_t job;
    tacl__shm_copy_init(&job, g);
    for (int i = 1; i <= n; i++) {
        int r = (me + i) % n;
        char *d = (char *)recv + displs[r];
        if (r == me && d == (const char *)send) continue;
        tacl__shm_copy_add(&job, d, src[r], shm_min(recv_bytes[r], (size_t)sent[r]));
    }
    TACL_CHECK(mem_run_tasks(g, (unsigned)job.first[job.nblk], tacl__shm_copy_task, &job, job.total,
                             fp, deadline, eb));
    return bad;
}

tacl_status_t tacl__shm_mem_broadcast(tacl__shm_group_t *g, const void *send, void *recv,
                                      size_t bytes, int root, const tacl__fp_t *fp,
                                      uint64_t deadline, int *done, tacl__errbuf_t *eb)
{
    const int me = g->rank;
    *done = 0;
    uint64_t info[2] = {0, bytes}, aux = 0; /* the root's data: offset in its region, bytes */
    int from_send = 0;                      /* the peers read the root's send (else its recv) */
    if (me == root) {
        int k = mem_lookup(g, send, bytes, &info[0]);
        from_send = k >= 0;
        if (k < 0) k = mem_lookup(g, recv, bytes, &info[0]);
        if (k >= 0) aux = g->mem[k].id;
        if (!from_send && send != recv) memmove(recv, send, bytes); /* peers may read recv */
    }
    TACL_CHECK(mem_propose(g, aux, info, fp, deadline, eb));
    const char *from = mem_peer(g, root, g->aux[root], 0, bytes);
    if (!from) return TACL_OK;
    *done = 1;
    g->mem_direct++;
    /* The root copies its send into its recv (when the peers read its send) while they copy. */
    tacl__shm_copy_job_t job;
    tacl__shm_copy_init(&job, g);
    if (me != root || (from_send && send != recv))
        tacl__shm_copy_add(&job, recv, me == root ? (const char *)send : from, bytes);
    return mem_run_tasks(g, (unsigned)job.first[job.nblk], tacl__shm_copy_task, &job, bytes, fp,
                         deadline, eb);
}
