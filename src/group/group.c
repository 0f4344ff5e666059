/* group.c — a group pairs a host communicator (barriers, metadata, object broadcast) with a
 * device communicator (tensors), as vLLM's GroupCoordinator pairs a Gloo group with PyNccl; and
 * parallel state builds the TP/PP/DP/EP groups of a world with tacl_comm_split and the layout of
 * par_layout.c. */
#include "err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tacl_group {
    tacl__errbuf_t eb;
    tacl_comm_t *host;
    int own_host;
    tacl_dev_comm_t *dev;
};

struct tacl_parallel {
    tacl_par_sizes_t sz;
    tacl_group_t *g[TACL_PAR_COUNT];
};

tacl_status_t tacl_group_create(tacl_comm_t *host, int own_host, int device, tacl_group_t **out)
{
    if (!host || !out)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_INIT,
                         "tacl_group_create: host and out must not be NULL");
    tacl_group_t *g = calloc(1, sizeof *g);
    if (!g) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_INIT, "out of memory");
    g->host = host;
    if (device >= 0) {
        tacl_status_t st = tacl_dev_comm_create(host, device, &g->dev);
        if (st != TACL_OK) {
            tacl__err_prefix(NULL, st, "group of rank %d: device side", tacl_comm_rank(host));
            free(g);
            return st;
        }
    }
    g->own_host = own_host;
    *out = g;
    return TACL_OK;
}

void tacl_group_destroy(tacl_group_t *g)
{
    if (!g) return;
    tacl_dev_comm_destroy(g->dev);
    if (g->own_host) tacl_comm_destroy(g->host);
    free(g);
}

tacl_comm_t *tacl_group_host(tacl_group_t *g)
{
    return g ? g->host : NULL;
}

tacl_dev_comm_t *tacl_group_dev(tacl_group_t *g)
{
    return g ? g->dev : NULL;
}

int tacl_group_rank(const tacl_group_t *g)
{
    return g ? tacl_comm_rank(g->host) : -1;
}

int tacl_group_size(const tacl_group_t *g)
{
    return g ? tacl_comm_size(g->host) : 0;
}

const char *tacl_group_last_error(const tacl_group_t *g)
{
    return g ? g->eb.msg : "group is NULL";
}

tacl_status_t tacl_group_barrier(tacl_group_t *g)
{
    if (!g)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_INIT, "tacl_group_barrier: NULL group");
    tacl_status_t st = tacl_barrier(g->host);
    return st == TACL_OK ? st : tacl__err_keep(&g->eb, st);
}

tacl_status_t tacl_group_broadcast_obj(tacl_group_t *g, const void *obj, size_t len, int root,
                                       void **out, size_t *out_len)
{
    if (!g || !out || !out_len)
        return tacl__err(g ? &g->eb : NULL, TACL_ERR_INVALID, TACL_SUB_INIT,
                         "tacl_group_broadcast_obj: group, out and out_len must not be NULL");
    int me = tacl_comm_rank(g->host);
    if (me == root && len > 0 && !obj)
        return tacl__err(&g->eb, TACL_ERR_INVALID, TACL_SUB_INIT,
                         "tacl_group_broadcast_obj: root %d passed a NULL object of %zu bytes",
                         root, len);
    /* The length first, so that the other ranks can size their buffer. */
    uint64_t n = me == root ? (uint64_t)len : 0;
    tacl_status_t st = tacl_broadcast(g->host, &n, &n, 1, TACL_UINT64, root);
    if (st != TACL_OK) return tacl__err_keep(&g->eb, st);
    if (n > ((uint64_t)1 << 40))
        return tacl__err(&g->eb, TACL_ERR_PROTOCOL, TACL_SUB_INIT,
                         "tacl_group_broadcast_obj: root %d announced %llu bytes", root,
                         (unsigned long long)n);
    char *buf = malloc((size_t)n + 1);
    if (!buf)
        return tacl__err(&g->eb, TACL_ERR_NOMEM, TACL_SUB_INIT, "out of memory for %llu bytes",
                         (unsigned long long)n);
    if (me == root && n) memcpy(buf, obj, (size_t)n);
    if (n) st = tacl_broadcast(g->host, buf, buf, (size_t)n, TACL_UINT8, root);
    if (st != TACL_OK) {
        free(buf);
        return tacl__err_keep(&g->eb, st);
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = (size_t)n;
    return TACL_OK;
}

tacl_status_t tacl_group_all_reduce(tacl_group_t *g, const void *send, void *recv, size_t count,
                                    tacl_dtype_t dt, tacl_op_t op, void *stream)
{
    if (!g)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_INIT,
                         "tacl_group_all_reduce: NULL group");
    tacl_status_t st = g->dev ? tacl_dev_all_reduce(g->dev, send, recv, count, dt, op, stream)
                              : tacl_all_reduce(g->host, send, recv, count, dt, op);
    return st == TACL_OK ? st : tacl__err_keep(&g->eb, st);
}

tacl_status_t tacl_parallel_create(tacl_comm_t *world, const tacl_par_sizes_t *sz, int device,
                                   tacl_parallel_t **out)
{
    if (!world || !sz || !out)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_INIT,
                         "tacl_parallel_create: world, sizes and out must not be NULL");
    int rank = tacl_comm_rank(world), size = tacl_comm_size(world);
    /* Validate on every rank before any split, so that bad sizes fail everywhere alike. */
    TACL_CHECK(tacl_par_layout(size, sz, rank, TACL_PAR_TP, NULL, NULL, NULL, NULL));
    tacl_parallel_t *p = calloc(1, sizeof *p);
    if (!p) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_INIT, "out of memory");
    p->sz = *sz;
    static const char *const names[TACL_PAR_COUNT] = {"TP", "PP", "DP", "EP"};
    for (int k = 0; k < TACL_PAR_COUNT; k++) {
        int color, key;
        tacl_comm_t *sub = NULL;
        tacl_status_t st =
            tacl_par_layout(size, sz, rank, (tacl_par_kind_t)k, &color, &key, NULL, NULL);
        if (st == TACL_OK) st = tacl_comm_split(world, color, key, &sub);
        if (st == TACL_OK) st = tacl_group_create(sub, 1, device, &p->g[k]);
        if (st != TACL_OK) {
            if (sub && !p->g[k]) tacl_comm_destroy(sub);
            tacl__err_prefix(NULL, st, "parallel state: %s group of world rank %d", names[k], rank);
            tacl_parallel_destroy(p);
            return st;
        }
    }
    *out = p;
    return TACL_OK;
}

tacl_group_t *tacl_parallel_group(tacl_parallel_t *p, tacl_par_kind_t kind)
{
    if (!p || (int)kind < 0 || kind >= TACL_PAR_COUNT) return NULL;
    return p->g[kind];
}

void tacl_parallel_destroy(tacl_parallel_t *p)
{
    if (!p) return;
    for (int k = TACL_PAR_COUNT - 1; k >= 0; k--)
        tacl_group_destroy(p->g[k]);
    free(p);
}
