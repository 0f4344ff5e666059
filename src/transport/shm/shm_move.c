/* shm_move.c — the shared-memory group's collectives that move data without reducing it
 * (broadcast, all_gatherv, gatherv, scatterv, all_to_allv), and the barrier. */
#include "transport/shm/shm_group_int.h"

#include <stdint.h>
#include <string.h>

/* The sum of v[0..n-1] (block sizes: checked not to wrap by the callers' arguments checks). */
static size_t shm_sum(const size_t *v, int n)
{
    size_t t = 0;
    for (int r = 0; r < n; r++)
        t += v[r];
    return t;
}

/* Bytes [off, off + q) of a block of len bytes: how many exist. */
static inline size_t shm_piece(size_t len, size_t off, size_t q)
{
    return len > off ? shm_min(q, len - off) : 0;
}

tacl_status_t tacl__shm_broadcast(tacl__shm_group_t *g, const void *send, void *recv, size_t bytes,
                                  int root, const tacl__fp_t *fp, uint64_t deadline_ns,
                                  tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    TACL_CHECK(tacl__shm_check_root(g, root, eb));
    const int me = g->rank;
    const char *in = send;
    char *outp = recv;
    size_t off = 0;
    if (g->shared_mem > 0 && bytes > g->oneshot) { /* bytes: the same wherever fp is */
        int done;
        tacl_status_t st =
            tacl__shm_mem_broadcast(g, send, recv, bytes, root, fp, deadline_ns, &done, eb);
        if (st != TACL_OK || done) return st;
    }
    /* The root's chunks go from `from` into its slot and, when its recv is apart from its
     * send, into its recv in the same job. Only in place may the public calls' buffers overlap
     * (coll_check.c); an overlap otherwise is moved first. */
    const char *from = in;
    int also_recv = 0;
    if (me == root && bytes && in != outp) {
        if ((uintptr_t)in + bytes <= (uintptr_t)outp || (uintptr_t)outp + bytes <= (uintptr_t)in) {
            also_recv = 1;
        } else {
            memmove(outp, in, bytes);
            from = outp;
        }
    }
    /* Chunks of a slot; large ones are copied by the caller and its helpers, which poll
     * through the waits in between (tacl__shm_pool_hold). */
    tacl__shm_pool_t *held = shm_hold(g, bytes);
    tacl_status_t st = TACL_OK;
    do {
        size_t c = shm_min(g->slot, bytes - off);
        tacl__shm_copy_job_t job;
        tacl__shm_copy_init(&job, g);
        if (me == root && c) {
            tacl__shm_copy_add(&job, shm_next(g), from + off, c);
            if (also_recv) tacl__shm_copy_add(&job, outp + off, from + off, c);
            tacl__shm_copy_run(&job);
        }
        st = tacl__shm_step(g, off == 0, fp, 0, deadline_ns, eb);
        if (st != TACL_OK) break;
        if (me != root && c) {
            tacl__shm_copy_add(&job, outp + off, shm_cur(g, root), c);
            tacl__shm_copy_run(&job);
        }
        off += c;
    } while (off < bytes);
    tacl__shm_pool_hold(held, 0);
    return st;
}

/* all_gatherv (root < 0) and gatherv: each step carries every rank's next piece of its block
 * through its slot; every rank (all_gatherv) or the root copies the pieces out. */
static tacl_status_t shm_gather(tacl__shm_group_t *g, const char *in, size_t send_bytes, char *outp,
                                const size_t *recv_bytes, const size_t *displs, int root,
                                const tacl__fp_t *fp, uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    const int n = g->size, me = g->rank, out = root < 0 || me == root;
    size_t q = g->slot, maxb = 0, off = 0;
    tacl_status_t bad = TACL_OK, st = TACL_OK; /* all_gatherv: a pair that disagrees */
    int bad_rank = -1; /* gatherv: the first rank whose block the root expected otherwise */
    /* Large steps' copies are shared with the helpers, which poll through the waits. */
    tacl__shm_pool_t *held = shm_hold(g, send_bytes + (out ? shm_sum(recv_bytes, n) : 0));
    if (root < 0) memcpy(shm_cnt(g, me, g->step + 1), recv_bytes, (size_t)n * sizeof(uint64_t));
    tacl__shm_copy_job_t job;
    tacl__shm_copy_init(&job, g);
    do {
        size_t mine = shm_piece(send_bytes, off, q);
        if (mine) tacl__shm_copy_add(&job, shm_next(g), in + off, mine);
        tacl__shm_copy_run(&job);
        st = tacl__shm_step(g, off == 0, fp, send_bytes, deadline_ns, eb);
        if (st != TACL_OK) break;
        if (off == 0) {
            /* Every rank takes as many steps as the largest contribution needs, whatever it
             * expected, so that a mismatch leaves the group in step. */
            for (int r = 0; r < n; r++) {
                if (g->aux[r] > maxb) maxb = g->aux[r];
                if (root == me && bad_rank < 0 && g->aux[r] != recv_bytes[r]) bad_rank = r;
            }
            if (root < 0) bad = tacl__shm_gatherv_pairs(g, fp, g->aux, send_bytes, recv_bytes, eb);
        }
        /* Blocks from the next rank on, so that the ranks do not all read rank 0's slot first. */
        for (int i = 1; out && i <= n; i++) {
            int r = (me + i) % n;
            size_t l = shm_piece(shm_min(recv_bytes[r], g->aux[r]), off, q);
            if (!l || (r == me && outp + displs[r] + off == in + off)) continue;
            tacl__shm_copy_add(&job, outp + displs[r] + off, shm_cur(g, r), l);
        }
        tacl__shm_copy_run(&job);
        off += q;
    } while (off < maxb);
    tacl__shm_pool_hold(held, 0);
    if (st != TACL_OK) return st;
    if (bad_rank >= 0)
        return tacl__err(eb, TACL_ERR_MISMATCH, TACL_SUB_SHM,
                         "gatherv on the shared-memory group: rank %d sent %llu bytes but root "
                         "%d expected %zu",
                         g->comm_ranks[bad_rank], (unsigned long long)g->aux[bad_rank],
                         g->comm_ranks[root], recv_bytes[bad_rank]);
    return bad;
}

tacl_status_t tacl__shm_all_gatherv(tacl__shm_group_t *g, const void *send, size_t send_bytes,
                                    void *recv, const size_t *recv_bytes, const size_t *displs,
                                    const tacl__fp_t *fp, uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    /* The total: the same wherever fp is. */
    if (g->shared_mem > 0 && shm_sum(recv_bytes, g->size) > g->oneshot) {
        int done;
        tacl_status_t st = tacl__shm_mem_all_gatherv(g, send, send_bytes, recv, recv_bytes, displs,
                                                     fp, deadline_ns, &done, eb);
        if (st != TACL_OK || done) return st;
    }
    return shm_gather(g, send, send_bytes, recv, recv_bytes, displs, -1, fp, deadline_ns, eb);
}

tacl_status_t tacl__shm_gatherv(tacl__shm_group_t *g, const void *send, size_t send_bytes,
                                void *recv, const size_t *recv_bytes, const size_t *displs,
                                int root, const tacl__fp_t *fp, uint64_t deadline_ns,
                                tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    TACL_CHECK(tacl__shm_check_root(g, root, eb));
    return shm_gather(g, send, send_bytes, recv, recv_bytes, displs, root, fp, deadline_ns, eb);
}

/* Per-destination piece of a slot: a cache-line multiple so that pieces never share lines. */
static size_t shm_piece_size(tacl__shm_group_t *g)
{
    size_t q = g->slot / (size_t)g->size / SHM_ALIGN * SHM_ALIGN;
    return q ? q : SHM_ALIGN;
}

tacl_status_t tacl__shm_scatterv(tacl__shm_group_t *g, const void *send, const size_t *send_bytes,
                                 const size_t *displs, void *recv, size_t recv_bytes, int root,
                                 const tacl__fp_t *fp, uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    TACL_CHECK(tacl__shm_check_root(g, root, eb));
    const int n = g->size, me = g->rank;
    const char *in = send;
    char *outp = recv;
    size_t q = shm_piece_size(g), maxb = 0, off = 0;
    if (me == root)
        for (int r = 0; r < n; r++)
            if (send_bytes[r] > maxb) maxb = send_bytes[r];
    /* In place at the root: recv is already where the root's own block is. */
    int root_in_place = me == root && outp == in + displs[me];
    /* Large steps' copies are shared with the helpers (polling through the waits). */
    tacl__shm_pool_t *held = shm_hold(g, recv_bytes + (me == root ? shm_sum(send_bytes, n) : 0));
    tacl__shm_copy_job_t job;
    tacl__shm_copy_init(&job, g);
    tacl_status_t st = TACL_OK;
    do {
        if (me == root) {
            char *mine = shm_next(g);
            for (int r = 0; r < n; r++) {
                size_t l = shm_piece(send_bytes[r], off, q);
                if (l) tacl__shm_copy_add(&job, mine + (size_t)r * q, in + displs[r] + off, l);
            }
            tacl__shm_copy_run(&job);
        }
        st = tacl__shm_step(g, off == 0, fp, maxb, deadline_ns, eb);
        if (st != TACL_OK) break;
        if (off == 0) maxb = g->aux[root];
        size_t l = shm_piece(recv_bytes, off, q);
        if (l && !root_in_place) {
            tacl__shm_copy_add(&job, outp + off, shm_cur(g, root) + (size_t)me * q, l);
            tacl__shm_copy_run(&job);
        }
        off += q;
    } while (off < maxb);
    tacl__shm_pool_hold(held, 0);
    return st;
}

tacl_status_t tacl__shm_all_to_allv(tacl__shm_group_t *g, const void *send,
                                    const size_t *send_bytes, const size_t *send_displs, void *recv,
                                    const size_t *recv_bytes, const size_t *recv_displs,
                                    const tacl__fp_t *fp, uint64_t deadline_ns, tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    const int n = g->size, me = g->rank;
    const char *in = send;
    char *outp = recv;
    size_t q = shm_piece_size(g), mymax = 0, maxb = 0, off = 0;
    for (int r = 0; r < n; r++)
        if (send_bytes[r] > mymax) mymax = send_bytes[r];
    /* My counts travel with the first step: what I send to each rank, what I expect from it.
     * Each rank compares both directions of each of its pairs, so that both ranks of a pair that
     * disagree fail, naming the pair; the others copy their data. */
    uint64_t *cnt = shm_cnt(g, me, g->step + 1);
    memcpy(cnt, send_bytes, (size_t)n * sizeof(uint64_t));
    memcpy(cnt + n, recv_bytes, (size_t)n * sizeof(uint64_t));
    int bad_from = -1, bad_to = -1; /* first pair that disagrees, me receiving / me sending */
    uint64_t bad_sent = 0, bad_exp = 0;
    /* Large steps' copies are shared with the helpers (polling through the waits). */
    tacl__shm_pool_t *held = shm_hold(g, shm_sum(send_bytes, n) + shm_sum(recv_bytes, n));
    tacl_status_t st = TACL_OK;
    tacl__shm_copy_job_t job;
    tacl__shm_copy_init(&job, g);
    do {
        char *mine = shm_next(g);
        for (int r = 0; r < n; r++) {
            size_t l = shm_piece(send_bytes[r], off, q);
            if (l) tacl__shm_copy_add(&job, mine + (size_t)r * q, in + send_displs[r] + off, l);
        }
        tacl__shm_copy_run(&job);
        st = tacl__shm_step(g, off == 0, fp, mymax, deadline_ns, eb);
        if (st != TACL_OK) break;
        if (off == 0) {
            for (int r = 0; r < n; r++) {
                if (g->aux[r] > maxb) maxb = g->aux[r];
                const uint64_t *rc = shm_cnt(g, r, g->step);
                uint64_t to_me = rc[me], wants = rc[n + me];
                if (bad_from < 0 && bad_to < 0 && to_me != recv_bytes[r]) {
                    bad_from = r;
                    bad_sent = to_me;
                } else if (bad_from < 0 && bad_to < 0 && wants != send_bytes[r]) {
                    bad_to = r;
                    bad_exp = wants;
                }
                g->aux[r] = to_me; /* what r really sends me: copy no more */
            }
        }
        for (int r = 0; r < n; r++) {
            size_t l = shm_piece(shm_min(recv_bytes[r], g->aux[r]), off, q);
            if (l)
                tacl__shm_copy_add(&job, outp + recv_displs[r] + off,
                                   shm_cur(g, r) + (size_t)me * q, l);
        }
        tacl__shm_copy_run(&job);
        off += q;
    } while (off < maxb);
    tacl__shm_pool_hold(held, 0);
    if (st != TACL_OK) return st;
    if (bad_from >= 0)
        return tacl__shm_pair_mismatch(g, fp, bad_from, me, bad_sent, recv_bytes[bad_from], eb);
    if (bad_to >= 0)
        return tacl__shm_pair_mismatch(g, fp, me, bad_to, send_bytes[bad_to], bad_exp, eb);
    return TACL_OK;
}

tacl_status_t tacl__shm_barrier(tacl__shm_group_t *g, const tacl__fp_t *fp, uint64_t deadline_ns,
                                tacl__errbuf_t *eb)
{
    TACL_CHECK(tacl__shm_check_usable(g, fp, eb));
    return tacl__shm_step(g, 1, fp, 0, deadline_ns, eb);
}
