/* algo_hier.c — hierarchical all_reduce for communicators spanning several hosts with several
 * ranks on some: reduce inside each host over shared memory to the host's leader, all_reduce
 * among the leaders (the registry row the selector picks for their own communicator), broadcast
 * inside each host. Only one rank per host crosses the network. */
#include "coll/coll.h"
#include "transport/shm/shm_group.h"

#include <string.h>

/* The leaders' all_reduce: an operation of their communicator whose agreement the enclosing
 * call already made (nested), run by the row chosen for it. */
static tacl_status_t hier_leaders(tacl_comm_t *lead, const coll_args_t *a)
{
    coll_pick_t pick;
    TACL_CHECK(coll_select(lead, a, &pick));
    coll_ctx_t x;
    coll_ctx_init(&x, lead, a, NULL);
    return pick.row->run[a->kind](&x, a);
}

tacl_status_t algo_allreduce_hier(coll_ctx_t *x, const coll_args_t *a)
{
    tacl_comm_t *c = x->c;
    size_t bytes = a->count * a->esz;
    /* avg is summed all the way and divided once by the entry point. */
    tacl_op_t op = a->op == TACL_AVG ? TACL_SUM : a->op;
    int leader = c->local_ranks[0] == c->rank;
    tacl_status_t st = TACL_OK;
    if (c->shm) {
        st = tacl__shm_reduce(c->shm, a->send, a->recv, a->count, a->dt, op, 0, &x->fp, x->deadline,
                              &c->err);
    } else if (a->send != a->recv && bytes) {
        memmove(a->recv, a->send, bytes);
    }
    if (st != TACL_OK) return st;
    if (leader && c->lead) {
        coll_args_t l = *a;
        l.send = l.recv = a->recv;
        l.op = op;
        l.nested = 1;
        st = hier_leaders(c->lead, &l);
        if (st != TACL_OK) {
            /* The other ranks of this host wait for the leader's broadcast: hand them the
             * cause instead of letting them discover the leader's exit. */
            tacl__err_keep(&c->err, st);
            if (c->shm) tacl__shm_group_abort(c->shm, st, c->err.msg);
            return st;
        }
    }
    if (c->shm)
        st = tacl__shm_broadcast(c->shm, a->recv, a->recv, bytes, 0, &x->fp, x->deadline, &c->err);
    return st;
}
