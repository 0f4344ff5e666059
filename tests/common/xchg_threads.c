/* xchg_threads.c — the all-gather of xchg_threads.h: every thread copies its bytes into a
 * shared buffer, a barrier, every thread copies the whole buffer out, a second barrier (so the
 * buffer may be reused by the next call). */
#include "xchg_threads.h"

#include <stdlib.h>
#include <string.h>

struct xchg_threads {
    int size;
    pthread_barrier_t bar;
    pthread_mutex_t mu;
    unsigned char *buf;
    size_t cap;
    struct member {
        xchg_threads_t *x;
        int rank;
    } * members;
};

static tacl_status_t xchg_threads_allgather(void *ctx, const void *mine, size_t len, void *all,
                                            tacl__errbuf_t *eb)
{
    struct member *m = ctx;
    xchg_threads_t *x = m->x;
    (void)eb;
    pthread_mutex_lock(&x->mu);
    if (x->cap < len * (size_t)x->size) {
        /* Every thread passes the same len, so only the first to arrive grows the buffer and
         * nobody is reading it yet (the previous call ended with a barrier). */
        unsigned char *nb = realloc(x->buf, len * (size_t)x->size);
        if (nb) {
            x->buf = nb;
            x->cap = len * (size_t)x->size;
        }
    }
    int ok = x->cap >= len * (size_t)x->size;
    if (ok) memcpy(x->buf + len * (size_t)m->rank, mine, len);
    pthread_mutex_unlock(&x->mu);
    pthread_barrier_wait(&x->bar);
    if (ok) memcpy(all, x->buf, len * (size_t)x->size);
    pthread_barrier_wait(&x->bar);
    return ok ? TACL_OK : TACL_ERR_NOMEM;
}

xchg_threads_t *xchg_threads_create(int size)
{
    xchg_threads_t *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->members = calloc((size_t)size, sizeof *x->members);
    if (!x->members) {
        free(x);
        return NULL;
    }
    x->size = size;
    pthread_barrier_init(&x->bar, NULL, (unsigned)size);
    pthread_mutex_init(&x->mu, NULL);
    for (int r = 0; r < size; r++)
        x->members[r] = (struct member){x, r};
    return x;
}

void xchg_threads_destroy(xchg_threads_t *x)
{
    if (!x) return;
    pthread_barrier_destroy(&x->bar);
    pthread_mutex_destroy(&x->mu);
    free(x->buf);
    free(x->members);
    free(x);
}

void xchg_threads_member(xchg_threads_t *x, int rank, tacl__xchg_t *out)
{
    *out = (tacl__xchg_t){.allgather = xchg_threads_allgather,
                          .ctx = &x->members[rank],
                          .rank = rank,
                          .size = x->size};
}
