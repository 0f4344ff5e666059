/* algo_multitree.c — all_reduce over several spanning trees at once (Blink / ForestColl
 * style). comm_topo_init keeps the packing of tacl_forest_pack when the model predicts it
 * beats the best single tree by 10% (links of unequal bandwidth, more than one way across the
 * graph); here the vector is split into contiguous parts in proportion to the trees' rates
 * and every part runs the pipelined reduce + broadcast on its own tree, all parts
 * concurrently, so that each link carries the sum of the rates of the trees that use it. Each
 * element is reduced on exactly one tree, in that tree's fixed order, and broadcast from its
 * root, so every rank ends with the same bits. */
#include "coll/algo.h"

#include <stdlib.h>
#include <string.h>

tacl_status_t algo_allreduce_multitree(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    const tacl_forest_t *f = c->mtree ? c->mtree->forest : NULL;
    if (!f || f->ntrees < 1) return algo_allreduce_tree(x, a);
    int nt = f->ntrees, me = c->rank;
    size_t bytes = a->count * a->esz;
    if (a->send != a->recv && bytes) memmove(a->recv, a->send, bytes);
    coll_tree_node_t *nodes = calloc((size_t)nt, sizeof *nodes);
    char **bufs = calloc((size_t)nt, sizeof *bufs);
    size_t *counts = calloc((size_t)nt, sizeof *counts);
    tacl_status_t st = TACL_OK;
    if (!nodes || !bufs || !counts) {
        st = tacl_err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
        goto out;
    }
    /* Part i gets floor(count * weight_i) elements, the last one the rest: the same split on
     * every rank (same forest, same arithmetic). */
    size_t off = 0;
    for (int i = 0; i < nt; i++) {
        size_t ci = i == nt - 1 ? a->count - off : (size_t)((double)a->count * f->weight[i]);
        if (ci > a->count - off) ci = a->count - off;
        bufs[i] = (char *)a->recv + off * a->esz;
        counts[i] = ci;
        off += ci;
        const tacl_tree_t *t = f->trees[i];
        int nch = t->child_start[me + 1] - t->child_start[me];
        nodes[i].parent = t->parent[me];
        nodes[i].children = malloc((size_t)(nch > 0 ? nch : 1) * sizeof(int));
        if (!nodes[i].children) {
            st = tacl_err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
            goto out;
        }
        for (int k = t->child_start[me]; k < t->child_start[me + 1]; k++)
            nodes[i].children[nodes[i].nchildren++] = t->child[k];
    }
    st = coll_trees_run(x, nodes, bufs, counts, nt, a, 1, 1);
out:
    for (int i = 0; nodes && i < nt; i++)
        coll_tree_node_free(&nodes[i]);
    free(nodes);
    free(bufs);
    free(counts);
    return st;
}
