/* cma.c — single-copy transfers between processes of one host (CMA).
 * A large send on a link whose ops allow it (single_copy) queues only an RTS frame carrying its
 * address; the receiver copies straight from the sender's memory with process_vm_readv, into the
 * posted receive's buffer (one copy) or, when none is posted yet, into an unexpected-message
 * buffer, and answers FIN, which completes the send (frames_left: 1 for the RTS written, 1 for
 * the FIN). Where the kernel refuses (ptrace rules, Yama), the FIN says so and the sender sends
 * the message through the link instead; that pair uses the link from then on. */
#include "transport/engine/engine_int.h"

#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* A large send to a neighbour on a link that allows it: only the RTS is queued. */
int tacl__eng_cma_send(tacl__engine_t *e, tacl__eng_link_t *l, tacl__req_t *r)
{
    if (!l->over || !l->over->ops->single_copy || l->cma_off || !e->cma_min ||
        r->len < e->cma_min || r->link != r->peer)
        return 0;
    tacl__eng_tx_t *t = calloc(1, sizeof *t);
    if (!t) return 0;
    t->hdr = (tacl__frame_hdr_t){.magic = TACL_FRAME_MAGIC,
                                 .kind = TACL_FRAME_CMA_RTS,
                                 .flags = r->has_fp ? TACL_FRAME_HAS_FP : 0,
                                 .src = e->rank,
                                 .dst = r->peer,
                                 .hops = (uint32_t)getpid(),
                                 .comm_id = r->key.comm_id,
                                 .tag = r->key.tag,
                                 .seq = r->key.seq,
                                 .total = r->len,
                                 .offset = (uint64_t)(uintptr_t)r->buf,
                                 .fp = r->fp};
    t->req = r;
    r->frames_left = 2;
    r->cma_next = l->cma_pending;
    l->cma_pending = r;
    tacl__eng_enqueue(l->over, t);
    tacl__eng_flush(e, l->over);
    return 1;
}

static void eng_cma_fin_send(tacl__engine_t *e, tacl__eng_link_t *l, const tacl__eng_msg_t *m,
                             int retry)
{
    if (!l || l->state != ENG_LINK_UP) return;
    tacl__eng_tx_t *t = calloc(1, sizeof *t);
    if (!t) return; /* the sender's wait will time out naming us */
    t->hdr = (tacl__frame_hdr_t){.magic = TACL_FRAME_MAGIC,
                                 .kind = TACL_FRAME_CMA_FIN,
                                 .src = e->rank,
                                 .dst = l->peer,
                                 .comm_id = m->key.comm_id,
                                 .tag = m->key.tag,
                                 .seq = m->key.seq,
                                 .total = (uint64_t)retry};
    tacl__eng_conn_t *c = l->over ? l->over : eng_ctrl_conn(l);
    tacl__eng_enqueue(c, t);
    tacl__eng_flush(e, c);
}

/* Copies m's total bytes from the sender's memory into dst: 0, or the errno. */
static int eng_cma_copy(const tacl__eng_msg_t *m, uint8_t *dst)
{
    size_t done = 0;
    while (done < m->total) {
        struct iovec lo = {dst + done, m->total - done};
        struct iovec re = {(void *)(uintptr_t)(m->cma_addr + done), m->total - done};
        ssize_t n = process_vm_readv(m->cma_pid, &lo, 1, &re, 1, 0);
        if (n > 0)
            done += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            return n < 0 ? errno : EIO;
    }
    return 0;
}

/* m is announced (cma) and has its receive: copy, complete, answer. */
void tacl__eng_cma_pull(tacl__engine_t *e, tacl__eng_msg_t *m)
{
    tacl__eng_link_t *l = e->links[m->src];
    tacl__req_t *r = m->req;
    if (tacl__eng_mismatch(e, r, m)) {
        m->req = NULL;
        eng_complete(e, r, TACL_ERR_MISMATCH);
        eng_cma_fin_send(e, l, m, 0);
        tacl__eng_msg_free(e, m);
        return;
    }
    int err = eng_cma_copy(m, r->buf);
    if (err) {
        /* Back to an ordinary posted receive: the bytes come through the ring. */
        TACL_INFO(TACL_SUB_SHM,
                  "rank %d: cannot read rank %d's memory (%s): same-host transfers between them "
                  "go through the ring",
                  e->rank, m->src, strerror(err));
        if (l) l->cma_off = 1;
        m->cma = 0;
        m->have_hdr = 0;
        m->got = 0;
        eng_cma_fin_send(e, l, m, 1);
        return;
    }
    m->req = NULL;
    eng_cma_fin_send(e, l, m, 0);
    tacl__eng_msg_free(e, m);
    eng_complete(e, r, TACL_OK);
}

void tacl__eng_cma_rts(tacl__engine_t *e, tacl__eng_link_t *l, const tacl__frame_hdr_t *h)
{
    tacl__msg_key_t k = {h->comm_id, h->tag, h->seq};
    tacl__eng_msg_t *m = tacl__eng_msg_find(e, h->src, &k);
    if (m && m->have_hdr) {
        TACL_WARN(TACL_SUB_SHM, "rank %d: second message from rank %d with tag %llu seq %llu",
                  e->rank, h->src, (unsigned long long)h->tag, (unsigned long long)h->seq);
        tacl__eng_msg_t dup = {.key = k};
        eng_cma_fin_send(e, l, &dup, 0);
        return;
    }
    if (!m && !(m = tacl__eng_msg_new(e, h->src, &k))) {
        tacl__eng_msg_t dup = {.key = k};
        eng_cma_fin_send(e, l, &dup, 1); /* the ring path buffers it, or fails loudly */
        return;
    }
    m->have_hdr = 1;
    m->total = h->total;
    m->has_fp = (h->flags & TACL_FRAME_HAS_FP) != 0;
    m->fp = h->fp;
    m->cma = 1;
    m->cma_pid = (int)h->hops;
    m->cma_addr = h->offset;
    if (m->req) {
        tacl__eng_cma_pull(e, m);
        return;
    }
    /* No receive yet: copy into a buffer now, so that the send completes without waiting for
     * the receive (sends stay eager, as on the ring; an exchange of blocking sends must not
     * deadlock because its messages are large). */
    int err =
        (m->own = tacl__eng_buf_get(e, m->total, &m->own_cap)) ? eng_cma_copy(m, m->own) : ENOMEM;
    if (err) {
        TACL_INFO(TACL_SUB_SHM,
                  "rank %d: cannot read rank %d's memory (%s): same-host transfers between them "
                  "go through the ring",
                  e->rank, m->src, strerror(err));
        l->cma_off = 1;
        tacl__eng_msg_t copy = *m;
        tacl__eng_msg_free(e, m);
        eng_cma_fin_send(e, l, &copy, 1);
        return;
    }
    m->cma = 0;
    m->dest = m->own;
    m->got = m->total; /* a complete unexpected message */
    eng_cma_fin_send(e, l, m, 0);
}

void tacl__eng_cma_fin(tacl__engine_t *e, tacl__eng_link_t *l, const tacl__frame_hdr_t *h)
{
    tacl__req_t **pp = &l->cma_pending;
    while (*pp && !((*pp)->key.comm_id == h->comm_id && (*pp)->key.tag == h->tag &&
                    (*pp)->key.seq == h->seq))
        pp = &(*pp)->cma_next;
    tacl__req_t *r = *pp;
    if (!r) return; /* cancelled meanwhile */
    *pp = r->cma_next;
    r->cma_next = NULL;
    if (h->total == 1) {
        l->cma_off = 1;
        tacl__eng_submit_send(e, r);
    } else if (--r->frames_left == 0) {
        eng_complete(e, r, TACL_OK);
    }
}
