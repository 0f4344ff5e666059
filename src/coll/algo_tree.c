/* algo_tree.c — pipelined tree algorithms. On a graph that is not a full mesh, all_reduce is a
 * reduce to the graph's centre followed by a broadcast from it, over a spanning tree of direct
 * links, in chunks so that every link carries data in both directions at once: on a chain
 * A–B–C this takes about M/b, the cut bound, where a ring relayed through B takes 4M/(3b).
 * Chunks follow the pipeline's depth (tacl__sched_chunk_bytes) and children's partial chunks
 * land in a bounded window of slots; bench/topo_bound.sh compares a star, a line and a chain of
 * unequal links with the same all_reduce over their bottleneck link.
 * broadcast and reduce use the same machinery from their root (a binomial tree for small
 * messages and a chain for large ones on a full mesh). all_gather and reduce_scatter on such
 * graphs go through the centre. */
#include "coll/algo.h"
#include "reduce.h"
#include "topo/graph.h"
#include "topo/sched.h"

#include <stdlib.h>
#include <string.h>

#define TREE_SMALL_BYTES (64 * 1024)
/* Children's partial chunks are received into a window of slots per child, reused as chunks
 * are reduced: at least TREE_WINDOW_CHUNKS chunks or TREE_WINDOW_BYTES, whichever is more. A
 * scratch of the whole vector per child (three times the message at the hub of a 3-leaf star)
 * came fresh from mmap on every call: 12,000 page faults per call at the hub for 16 MiB, and
 * memory that grew with the message; the window is bounded and stays in the heap between
 * calls. A chunk that arrives before its slot is free waits in the engine as an unexpected
 * message, so the window only has to cover the chunks in flight while this rank reduces, not a
 * whole child's send-ahead. */
#define TREE_WINDOW_CHUNKS 8
#define TREE_WINDOW_BYTES  (4 * 1024 * 1024)

void coll_tree_node_free(coll_tree_node_t *t)
{
    free(t->children);
    t->children = NULL;
}

tacl_status_t coll_tree_node(tacl_comm_t *c, int root, int chain, coll_tree_node_t *out)
{
    int n = c->size, me = c->rank;
    out->parent = -1;
    out->nchildren = 0;
    out->height = 0;
    out->children = malloc((size_t)n * sizeof *out->children);
    if (!out->children) return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    if (c->full_mesh && chain) {
        int v = (me - root + n) % n;
        if (v > 0) out->parent = (me - 1 + n) % n;
        if (v < n - 1) out->children[out->nchildren++] = (me + 1) % n;
        out->height = n - 1;
    } else if (c->full_mesh) {
        int v = (me - root + n) % n, mask = 1;
        while ((1 << out->height) < n)
            out->height++;
        while (mask < n) {
            if (v & mask) {
                out->parent = ((v - mask) + root) % n;
                break;
            }
            mask <<= 1;
        }
        for (mask >>= 1; mask > 0; mask >>= 1)
            if (v + mask < n) out->children[out->nchildren++] = (v + mask + root) % n;
    } else {
        /* Fewest hops to the root over direct links; every rank derives the same tree. */
        tacl__tree_t *t;
        tacl_status_t st = tacl__tree_build(c->graph, root, TACL_TREE_BFS, &t, &c->err);
        if (st != TACL_OK) {
            coll_tree_node_free(out);
            return st;
        }
        out->parent = t->parent[me];
        for (int i = t->child_start[me]; i < t->child_start[me + 1]; i++)
            out->children[out->nchildren++] = t->child[i];
        out->height = t->height;
        tacl__tree_destroy(t);
    }
    return TACL_OK;
}

/* Growable request list: a pipelined tree posts one request per chunk and neighbour. */
typedef struct {
    tacl__req_t **r;
    int n, cap;
} tree_reqs_t;

static int tree_reqs_push(tree_reqs_t *q, tacl__req_t *r)
{
    if (q->n == q->cap) {
        int ncap = q->cap ? q->cap * 2 : 32;
        tacl__req_t **nr = realloc(q->r, (size_t)ncap * sizeof *nr);
        if (!nr) return -1;
        q->r = nr;
        q->cap = ncap;
    }
    q->r[q->n++] = r;
    return 0;
}

/* Elements per chunk of a part: the schedule's chunk for the pipeline's depth (sched.h), the
 * same on every rank since count, the height and the phases are. A reduce or a broadcast alone
 * fills h links before the last one works; both together 2h - 1. */
static size_t tree_chunk_elems(size_t count, size_t esz, int height, int reduce, int bcast)
{
    int stages = reduce && bcast ? 2 * height - 1 : height;
    size_t ce = tacl__sched_chunk_bytes((double)count * (double)esz, stages) / esz;
    if (ce > count) ce = count;
    return ce ? ce : 1;
}

/* One part of the vector on one tree: its buffer, chunking, tags and outstanding requests. */
typedef struct {
    const coll_tree_node_t *t;
    char *buf;
    size_t count, ce, nchunks;
    size_t win; /* chunks in the window: chunk k of child j goes to slot (k % win) nch + j */
    uint64_t up_tag, down_tag;
    char *tmp;          /* children's partial chunks (reduce): nchildren * win slots */
    tacl__req_t **up;   /* the receive posted in each slot, or NULL */
    tacl__req_t **down; /* nchunks receives from the parent */
    size_t k;           /* next chunk of the up phase */
    size_t kd;          /* next final chunk to forward down */
} tree_part_t;

static size_t tree_part_len(const tree_part_t *p, size_t k)
{
    size_t off = k * p->ce;
    return p->count - off < p->ce ? p->count - off : p->ce;
}

/* Posts the receive of child j's partial chunk k into its slot (nothing past the last chunk). */
static tacl_status_t tree_post_up(coll_ctx_t *x, tree_part_t *p, int j, size_t k, size_t esz)
{
    if (k >= p->nchunks) return TACL_OK;
    size_t slot = (k % p->win) * (size_t)p->t->nchildren + (size_t)j;
    return coll_irecv(x, p->t->children[j], p->up_tag + (k << 20), p->tmp + slot * p->ce * esz,
                      tree_part_len(p, k) * esz, &p->up[slot]);
}

/* Waits for final chunk p->kd from the parent and sends it to every child. */
static tacl_status_t tree_forward_down(coll_ctx_t *x, tree_part_t *p, size_t esz,
                                       tree_reqs_t *sends)
{
    size_t k = p->kd, off = k * p->ce, len = tree_part_len(p, k);
    tacl_status_t st = coll_wait(x, &p->down[k], 1);
    p->down[k] = NULL;
    p->kd++;
    for (int j = 0; j < p->t->nchildren && st == TACL_OK; j++) {
        tacl__req_t *r;
        st = coll_isend(x, p->t->children[j], p->down_tag + (k << 20), p->buf + off * esz,
                        len * esz, &r);
        if (st == TACL_OK && tree_reqs_push(sends, r))
            return tacl__err(&x->c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    }
    return st;
}

/* The part whose next step (k, or kd when down) is least advanced relative to its length;
 * ties to the lower index. Every rank has the same parts, so every rank takes the steps in the
 * same order, which is what makes blocking waits on several trees deadlock-free. -1: done. */
static int tree_next_part(const tree_part_t *p, int n, int down)
{
    int best = -1;
    for (int i = 0; i < n; i++) {
        size_t ki = down ? p[i].kd : p[i].k;
        if (ki >= p[i].nchunks) continue;
        if (best < 0) {
            best = i;
            continue;
        }
        size_t kb = down ? p[best].kd : p[best].k;
        /* (ki+1)/n_i < (kb+1)/n_b without division. */
        if ((ki + 1) * p[best].nchunks < (kb + 1) * p[i].nchunks) best = i;
    }
    return best;
}

/* Pipelined reduce of every part (in place) towards its tree's parent, then (when bcast)
 * broadcast of the result from the root back down. Children's chunks are reduced in child
 * order, so every rank of a tree evaluates the same expression. Both phases are posted at
 * once: a rank forwards final chunks down while partial chunks still travel up. */
tacl_status_t coll_trees_run(coll_ctx_t *x, const coll_tree_node_t *trees, char *const *bufs,
                             const size_t *counts, int ntrees, const coll_args_t *a, int reduce,
                             int bcast)
{
    tacl_comm_t *c = x->c;
    size_t esz = a->esz;
    tree_part_t *parts = calloc((size_t)ntrees, sizeof *parts);
    tree_reqs_t sends = {0};
    tacl_status_t st = TACL_OK;
    if (!parts) return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    for (int i = 0; i < ntrees; i++) {
        tree_part_t *p = &parts[i];
        p->t = &trees[i];
        p->buf = bufs[i];
        p->count = counts[i];
        p->ce = tree_chunk_elems(p->count, esz, p->t->height, reduce, bcast);
        p->nchunks = p->count ? (p->count + p->ce - 1) / p->ce : 0;
        /* Chunk k of a phase uses tag step + k * 2^20: tags stay unique per chunk. */
        p->up_tag = x->step++;
        p->down_tag = x->step++;
    }
    for (int i = 0; i < ntrees && st == TACL_OK; i++) {
        tree_part_t *p = &parts[i];
        int nch = p->t->nchildren;
        if (p->nchunks == 0) continue;
        if (reduce && nch > 0) {
            size_t wb = TREE_WINDOW_BYTES / (p->ce * esz);
            p->win = wb > TREE_WINDOW_CHUNKS ? wb : TREE_WINDOW_CHUNKS;
            if (p->win > p->nchunks) p->win = p->nchunks;
            p->tmp = malloc((size_t)nch * p->win * p->ce * esz);
            p->up = calloc((size_t)nch * p->win, sizeof *p->up);
            if (!p->tmp || !p->up) goto nomem;
            for (int j = 0; j < nch && st == TACL_OK; j++)
                for (size_t k = 0; k < p->win && st == TACL_OK; k++)
                    st = tree_post_up(x, p, j, k, esz);
        }
        if (st == TACL_OK && bcast && p->t->parent >= 0) {
            p->down = calloc(p->nchunks, sizeof *p->down);
            if (!p->down) goto nomem;
            for (size_t k = 0; k < p->nchunks && st == TACL_OK; k++)
                st = coll_irecv(x, p->t->parent, p->down_tag + (k << 20), p->buf + k * p->ce * esz,
                                tree_part_len(p, k) * esz, &p->down[k]);
        }
    }
    for (int i; st == TACL_OK && (i = tree_next_part(parts, ntrees, 0)) >= 0;) {
        tree_part_t *p = &parts[i];
        size_t k = p->k++, off = k * p->ce, len = tree_part_len(p, k);
        char *chunk = p->buf + off * esz;
        int nch = p->t->nchildren;
        if (reduce) {
            /* All children's chunk k in one wait: one wake-up per chunk, not one per child. */
            size_t base = nch > 0 ? (k % p->win) * (size_t)nch : 0;
            if (nch > 0) st = coll_wait(x, &p->up[base], nch);
            for (int j = 0; j < nch; j++)
                p->up[base + (size_t)j] = NULL;
            for (int j = 0; j < nch && st == TACL_OK; j++) {
                tacl__reduce_inplace(chunk, p->tmp + (base + (size_t)j) * p->ce * esz, len, a->dt,
                                     a->op);
                st = tree_post_up(x, p, j, k + p->win, esz);
            }
            if (st != TACL_OK) break;
            if (p->t->parent >= 0) {
                tacl__req_t *r;
                st = coll_isend(x, p->t->parent, p->up_tag + (k << 20), chunk, len * esz, &r);
                if (st == TACL_OK && tree_reqs_push(&sends, r)) goto nomem;
            }
        }
        /* Forward the final chunks that have already come down from the parents, so that a
         * relay's two phases overlap. */
        for (int q = 0; q < ntrees && st == TACL_OK; q++) {
            tree_part_t *pq = &parts[q];
            while (st == TACL_OK && bcast && pq->t->parent >= 0 && pq->kd < pq->nchunks &&
                   pq->down[pq->kd] && tacl__engine_test(pq->down[pq->kd]))
                st = tree_forward_down(x, pq, esz, &sends);
        }
        if (st != TACL_OK) break;
        if (bcast && p->t->parent < 0) {
            for (int j = 0; j < nch && st == TACL_OK; j++) {
                tacl__req_t *r;
                st =
                    coll_isend(x, p->t->children[j], p->down_tag + (k << 20), chunk, len * esz, &r);
                if (st == TACL_OK && tree_reqs_push(&sends, r)) goto nomem;
            }
        }
    }
    if (bcast) {
        /* Roots have nothing to forward: their kd stays behind without a down list. */
        for (int i = 0; i < ntrees; i++)
            if (parts[i].t->parent < 0) parts[i].kd = parts[i].nchunks;
        for (int i; st == TACL_OK && (i = tree_next_part(parts, ntrees, 1)) >= 0;)
            st = tree_forward_down(x, &parts[i], esz, &sends);
    }
    if (st == TACL_OK) {
        st = coll_wait(x, sends.r, sends.n);
        sends.n = 0;
    }
    goto out;
nomem:
    st = tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
out:
    /* On failure, outstanding requests are waited for (the engine frees them when the
     * deadline or a peer's loss ends them) so that no receive writes into freed memory. */
    if (st != TACL_OK) {
        tree_reqs_t rest = sends;
        for (int i = 0; i < ntrees; i++) {
            tree_part_t *p = &parts[i];
            for (size_t k = 0; p->up && k < (size_t)p->t->nchildren * p->win; k++)
                if (p->up[k]) tree_reqs_push(&rest, p->up[k]);
            for (size_t k = 0; p->down && k < p->nchunks; k++)
                if (p->down[k]) tree_reqs_push(&rest, p->down[k]);
        }
        coll_wait(x, rest.r, rest.n);
        sends = rest;
    }
    free(sends.r);
    for (int i = 0; i < ntrees; i++) {
        free(parts[i].up);
        free(parts[i].down);
        free(parts[i].tmp);
    }
    free(parts);
    return st;
}

static tacl_status_t tree_reduce_bcast(coll_ctx_t *x, const coll_tree_node_t *t, char *buf,
                                       size_t count, const coll_args_t *a, int reduce, int bcast)
{
    return coll_trees_run(x, t, &buf, &count, 1, a, reduce, bcast);
}

tacl_status_t algo_allreduce_tree(coll_ctx_t *x, const coll_args_t *a)
{
    size_t bytes = a->count * a->esz;
    if (a->send != a->recv && bytes) memmove(a->recv, a->send, bytes);
    coll_tree_node_t t;
    TACL_CHECK(coll_tree_node(x->c, x->c->centre, 0, &t));
    tacl_status_t st = tree_reduce_bcast(x, &t, a->recv, a->count, a, 1, 1);
    coll_tree_node_free(&t);
    return st;
}

tacl_status_t algo_bcast_tree(coll_ctx_t *x, const coll_args_t *a)
{
    size_t bytes = a->count * a->esz;
    if (x->c->rank == a->root && a->send != a->recv && bytes) memmove(a->recv, a->send, bytes);
    coll_tree_node_t t;
    TACL_CHECK(coll_tree_node(x->c, a->root, bytes > TREE_SMALL_BYTES, &t));
    tacl_status_t st = tree_reduce_bcast(x, &t, a->recv, a->count, a, 0, 1);
    coll_tree_node_free(&t);
    return st;
}

tacl_status_t algo_reduce_tree(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    size_t bytes = a->count * a->esz;
    /* Non-roots reduce in a scratch copy: their recv buffer is not theirs to write. */
    char *work = c->rank == a->root ? a->recv : malloc(bytes + 1);
    if (!work) return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    if (work != a->send && bytes) memmove(work, a->send, bytes);
    coll_tree_node_t t;
    tacl_status_t st = coll_tree_node(c, a->root, bytes > TREE_SMALL_BYTES, &t);
    if (st == TACL_OK) {
        st = tree_reduce_bcast(x, &t, work, a->count, a, 1, 0);
        coll_tree_node_free(&t);
    }
    if (work != a->recv) free(work);
    return st;
}

/* all_gather(v) without a ring: gather to the centre (routed along shortest paths), then a
 * pipelined broadcast from it of the blocks packed in rank order, which every rank unpacks into
 * its own displacements (they need not be the centre's). Counts that differ between ranks are
 * caught by the fingerprint (coll.c), which the centre compares with every rank's. */
tacl_status_t algo_allgatherv_tree(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    const size_t esz = a->esz, n = (size_t)c->size;
    const size_t *cnt = a->recv_counts, *dsp = a->recv_displs;
    size_t total = 0;
    for (size_t r = 0; r < n; r++)
        total += cnt[r];
    if (total == 0) return TACL_OK;
    coll_args_t g = *a;
    g.root = c->centre;
    TACL_CHECK(algo_gatherv_direct(x, &g));
    char *buf = malloc(total * esz);
    if (!buf) return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    size_t off = 0;
    if (c->rank == c->centre)
        for (size_t r = 0; r < n; r++) {
            if (cnt[r]) memcpy(buf + off, (char *)a->recv + dsp[r] * esz, cnt[r] * esz);
            off += cnt[r] * esz;
        }
    coll_args_t b = *a;
    b.root = c->centre;
    b.send = b.recv = buf;
    b.count = total;
    tacl_status_t st = algo_bcast_tree(x, &b);
    if (st == TACL_OK && c->rank != c->centre) {
        off = 0;
        for (size_t r = 0; r < n; r++) {
            if (cnt[r]) memcpy((char *)a->recv + dsp[r] * esz, buf + off, cnt[r] * esz);
            off += cnt[r] * esz;
        }
    }
    free(buf);
    return st;
}

/* reduce_scatter without a ring: reduce everything to the centre, scatter the blocks. */
tacl_status_t algo_reduce_scatter_tree(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    size_t n = (size_t)c->size, esz = a->esz;
    if (a->count == 0) return TACL_OK;
    char *full = malloc(n * a->count * esz);
    size_t *counts = malloc(n * sizeof *counts), *displs = malloc(n * sizeof *displs);
    tacl_status_t st;
    if (!full || !counts || !displs) {
        st = tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
        goto out;
    }
    memcpy(full, a->send, n * a->count * esz);
    for (size_t r = 0; r < n; r++) {
        counts[r] = a->count;
        displs[r] = r * a->count;
    }
    coll_tree_node_t t;
    st = coll_tree_node(c, c->centre, 0, &t);
    if (st != TACL_OK) goto out;
    st = tree_reduce_bcast(x, &t, full, n * a->count, a, 1, 0);
    coll_tree_node_free(&t);
    if (st != TACL_OK) goto out;
    coll_args_t s = *a;
    s.root = c->centre;
    s.send = full;
    s.send_counts = counts;
    s.send_displs = displs;
    st = algo_scatterv_direct(x, &s);
out:
    free(full);
    free(counts);
    free(displs);
    return st;
}
