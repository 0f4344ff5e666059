/* store_coll.c — all-gather and barrier over the rendezvous store (see store_coll.h). */
#include "boot/store_coll.h"
#include "boot/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tacl_status_t sc_xchg_allgather(void *ctx, const void *mine, size_t len, void *all,
                                       tacl__errbuf_t *eb)
{
    return boot_store_allgather(ctx, mine, len, all, eb);
}

void boot_store_xchg_init(tacl__xchg_t *x, boot_store_xchg_ctx_t *ctx, tacl_store_t *st,
                          const char *prefix, int rank, int size)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->st = st;
    snprintf(ctx->prefix, sizeof ctx->prefix, "%s", prefix);
    ctx->rank = rank;
    ctx->size = size;
    ctx->prev_call = -1;
    x->allgather = sc_xchg_allgather;
    x->ctx = ctx;
    x->rank = rank;
    x->size = size;
}

tacl_status_t boot_store_allgather(boot_store_xchg_ctx_t *ctx, const void *mine, size_t len,
                                   void *all, tacl__errbuf_t *eb)
{
    if (!ctx || !ctx->st || ctx->size < 1 || ctx->rank < 0 || ctx->rank >= ctx->size ||
        (len && (!mine || !all)))
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_BOOT,
                         "store all-gather: needs a store, rank in 0..size-1 and buffers");
    uint64_t call = ctx->calls++;
    size_t n = (size_t)ctx->size, klen = strlen(ctx->prefix) + 48;
    char *keybuf = malloc(n * klen);
    const char **keys = malloc(n * sizeof *keys);
    void **vals = malloc(n * sizeof *vals);
    size_t *lens = malloc(n * sizeof *lens);
    tacl_status_t st;
    if (!keybuf || !keys || !vals || !lens) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_BOOT, "store all-gather: out of memory");
        goto out;
    }
    for (size_t r = 0; r < n; r++) {
        snprintf(keybuf + r * klen, klen, "%s%llu/%zu", ctx->prefix, (unsigned long long)call, r);
        keys[r] = keybuf + r * klen;
    }
    st = tacl_store_set(ctx->st, keys[ctx->rank], mine, len);
    if (st == TACL_OK) st = boot_store_multi_get(ctx->st, keys, n, vals, lens);
    if (st != TACL_OK) {
        tacl__err_prefix(eb, st,
                         "rank %d of %d: store all-gather #%llu under '%s' (keys end in the rank)",
                         ctx->rank, ctx->size, (unsigned long long)call, ctx->prefix);
        goto out;
    }
    for (size_t r = 0; r < n && st == TACL_OK; r++) {
        if (lens[r] != len)
            st = tacl__err(eb, TACL_ERR_MISMATCH, TACL_SUB_BOOT,
                           "rank %d of %d: store all-gather #%llu under '%s': rank %zu contributed "
                           "%zu bytes, this rank %zu",
                           ctx->rank, ctx->size, (unsigned long long)call, ctx->prefix, r, lens[r],
                           len);
    }
    if (st == TACL_OK) {
        for (size_t r = 0; r < n; r++)
            if (len) memcpy((char *)all + r * len, vals[r], len);
        /* Every rank has set its key of this call, so every rank has finished the previous
         * call: this rank's key of it is no longer read by anyone. */
        if (ctx->prev_call >= 0) {
            char old[256];
            snprintf(old, sizeof old, "%s%llu/%d", ctx->prefix, (unsigned long long)ctx->prev_call,
                     ctx->rank);
            tacl_status_t ds = tacl_store_delete(ctx->st, old, NULL);
            if (ds != TACL_OK) st = tacl__err_keep(eb, ds);
        }
        ctx->prev_call = (int64_t)call;
    }
    for (size_t r = 0; r < n; r++)
        tacl_free(vals[r]);
out:
    free(keybuf);
    free(keys);
    free(vals);
    free(lens);
    return st;
}

tacl_status_t boot_store_barrier(boot_store_xchg_ctx_t *ctx, tacl__errbuf_t *eb)
{
    return boot_store_allgather(ctx, NULL, 0, NULL, eb);
}
