/* algo_multitree.c — all_reduce, broadcast and reduce over several spanning trees at once
 * (Blink / ForestColl style). comm_topo_init keeps the all_reduce packing of tacl__forest_pack
 * when the model predicts it beats the best single tree by 10% (links of unequal bandwidth,
 * more than one way across the graph); broadcast and reduce get theirs per root on first use.
 * The vector is split into contiguous parts in proportion to the trees' rates and every part
 * runs the pipelined reduce and/or broadcast on its own tree, all parts concurrently, so that
 * each link carries the sum of the rates of the trees that use it. Each element is reduced on
 * exactly one tree, in that tree's fixed order, so every rank ends with the same bits. */
#include "coll/algo.h"
#include "topo/sched.h"

#include <stdlib.h>
#include <string.h>

tacl_status_t coll_mtree_create(tacl_comm_t *c, tacl__errbuf_t *eb)
{
    struct coll_mtree *m = calloc(1, sizeof *m);
    if (m) {
        m->rooted = calloc((size_t)c->size, sizeof *m->rooted);
        m->known = calloc((size_t)c->size, 1);
    }
    if (!m || !m->rooted || !m->known) {
        if (m) {
            free(m->rooted);
            free(m->known);
        }
        free(m);
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    }
    c->mtree = m;
    return TACL_OK;
}

void coll_mtree_destroy(tacl_comm_t *c)
{
    struct coll_mtree *m = c->mtree;
    if (!m) return;
    tacl__forest_destroy(m->forest);
    for (int r = 0; r < c->size; r++)
        tacl__forest_destroy(m->rooted[r]);
    free(m->rooted);
    free(m->known);
    free(m);
    c->mtree = NULL;
}

/* Decided at 64 MiB like the logged schedules; the selector applies it from 1 MiB. */
const tacl__forest_t *coll_mtree_rooted(tacl_comm_t *c, int root)
{
    struct coll_mtree *m = c->mtree;
    if (!m || root < 0 || root >= c->size) return NULL;
    if (!m->known[root]) {
        tacl__sched_t *s;
        tacl__errbuf_t tmp;
        if (tacl__sched_build(c->graph, TACL_SCHED_BROADCAST, root, 64.0 * 1024 * 1024, &s, &tmp) ==
            TACL_OK) {
            if (s->kind == TACL_SCHED_MULTITREE) {
                m->rooted[root] = s->forest;
                s->forest = NULL;
            }
            tacl__sched_destroy(s);
        }
        m->known[root] = 1;
    }
    return m->rooted[root];
}

/* Runs buf (a->count elements) split over the trees of f. */
static tacl_status_t mtree_run(coll_ctx_t *x, const tacl__forest_t *f, char *buf,
                               const coll_args_t *a, int reduce, int bcast)
{
    tacl_comm_t *c = x->c;
    int nt = f->ntrees, me = c->rank;
    coll_tree_node_t *nodes = calloc((size_t)nt, sizeof *nodes);
    char **bufs = calloc((size_t)nt, sizeof *bufs);
    size_t *counts = calloc((size_t)nt, sizeof *counts);
    tacl_status_t st = TACL_OK;
    if (!nodes || !bufs || !counts) {
        st = tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
        goto out;
    }
    /* Part i gets floor(count * weight_i) elements, the last one the rest: the same split on
     * every rank (same forest, same arithmetic). */
    size_t off = 0;
    for (int i = 0; i < nt; i++) {
        size_t ci = i == nt - 1 ? a->count - off : (size_t)((double)a->count * f->weight[i]);
        if (ci > a->count - off) ci = a->count - off;
        bufs[i] = buf + off * a->esz;
        counts[i] = ci;
        off += ci;
        const tacl__tree_t *t = f->trees[i];
        int nch = t->child_start[me + 1] - t->child_start[me];
        nodes[i].parent = t->parent[me];
        nodes[i].height = t->height;
        nodes[i].children = malloc((size_t)(nch > 0 ? nch : 1) * sizeof(int));
        if (!nodes[i].children) {
            st = tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
            goto out;
        }
        for (int k = t->child_start[me]; k < t->child_start[me + 1]; k++)
            nodes[i].children[nodes[i].nchildren++] = t->child[k];
    }
    st = coll_trees_run(x, nodes, bufs, counts, nt, a, reduce, bcast);
out:
    for (int i = 0; nodes && i < nt; i++)
        coll_tree_node_free(&nodes[i]);
    free(nodes);
    free(bufs);
    free(counts);
    return st;
}

tacl_status_t algo_allreduce_multitree(coll_ctx_t *x, const coll_args_t *a)
{
    const tacl__forest_t *f = x->c->mtree ? x->c->mtree->forest : NULL;
    if (!f || f->ntrees < 1) return algo_allreduce_tree(x, a);
    size_t bytes = a->count * a->esz;
    if (a->send != a->recv && bytes) memmove(a->recv, a->send, bytes);
    return mtree_run(x, f, a->recv, a, 1, 1);
}

tacl_status_t algo_bcast_multitree(coll_ctx_t *x, const coll_args_t *a)
{
    const tacl__forest_t *f = coll_mtree_rooted(x->c, a->root);
    if (!f || f->ntrees < 1) return algo_bcast_tree(x, a);
    size_t bytes = a->count * a->esz;
    if (x->c->rank == a->root && a->send != a->recv && bytes) memmove(a->recv, a->send, bytes);
    return mtree_run(x, f, a->recv, a, 0, 1);
}

tacl_status_t algo_reduce_multitree(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    const tacl__forest_t *f = coll_mtree_rooted(c, a->root);
    if (!f || f->ntrees < 1) return algo_reduce_tree(x, a);
    size_t bytes = a->count * a->esz;
    /* Non-roots reduce in a scratch copy: their recv buffer is not theirs to write. */
    char *work = c->rank == a->root ? a->recv : malloc(bytes + 1);
    if (!work) return tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    if (work != a->send && bytes) memmove(work, a->send, bytes);
    tacl_status_t st = mtree_run(x, f, work, a, 1, 0);
    if (work != a->recv) free(work);
    return st;
}
