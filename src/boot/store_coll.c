/* store_coll.c — all-gather and barrier over the rendezvous store through one root (see
 * store_coll.h). */
#include "boot/store_coll.h"
#include "boot/store_int.h"
#include "boot/store_proto.h"
#include "boot/store_share.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a rank whose wait for the published result timed out looks at the records
 * themselves: one round trip to a loaded store, short enough that the store's host (whose own
 * wait ended at about the same time) is still serving. */
#define SC_FALLBACK_S 0.05

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
    ctx->host_leader = -1;
    boot_share_init(&ctx->share);
    x->allgather = sc_xchg_allgather;
    x->ctx = ctx;
    x->rank = rank;
    x->size = size;
}

static void sc_free_vals(void **vals, size_t n)
{
    for (size_t r = 0; r < n; r++) {
        tacl_free(vals[r]);
        vals[r] = NULL;
    }
}

/* The published record: when every record has the same length, SC_UNIFORM, that length and
 * the records back to back (a barrier's result is 8 bytes, not 4 per rank); else n big-endian
 * u32 lengths, then the records. */
#define SC_UNIFORM 0xffffffffu

static void *sc_pack(void *const *vals, const size_t *lens, size_t n, size_t *out_len)
{
    int uniform = 1;
    size_t body = 0;
    for (size_t r = 0; r < n; r++) {
        body += lens[r];
        if (lens[r] != lens[0]) uniform = 0;
    }
    size_t head = uniform ? 8 : 4 * n, total = head + body;
    uint8_t *p = malloc(total ? total : 1);
    if (!p) return NULL;
    if (uniform) {
        store_put_u32(p, SC_UNIFORM);
        store_put_u32(p + 4, n ? (uint32_t)lens[0] : 0);
    }
    size_t off = head;
    for (size_t r = 0; r < n; r++) {
        if (!uniform) store_put_u32(p + 4 * r, (uint32_t)lens[r]);
        if (lens[r]) memcpy(p + off, vals[r], lens[r]);
        off += lens[r];
    }
    *out_len = total;
    return p;
}

static size_t sc_len(const uint8_t *rec, size_t r, int uniform)
{
    return uniform ? store_get_u32(rec + 4) : store_get_u32(rec + 4 * r);
}

/* Checks that rec holds n records; *uniform and *head describe its header. */
static tacl_status_t sc_check(tacl_store_t *st, const char *allkey, const uint8_t *rec, size_t rl,
                              size_t n, int *uniform, size_t *head)
{
    *uniform = rl >= 8 && store_get_u32(rec) == SC_UNIFORM;
    *head = *uniform ? 8 : 4 * n;
    size_t off = *head;
    for (size_t r = 0; r < n && off <= rl && rl >= *head; r++)
        off += sc_len(rec, r, *uniform);
    if (rl >= *head && off == rl) return TACL_OK;
    return tacl__err(NULL, TACL_ERR_PROTOCOL, TACL_SUB_BOOT,
                     "the gathered records under '%s' at the store at %s are malformed (%zu bytes "
                     "for %zu records)",
                     allkey, boot_store_addr(st), rl, n);
}

static tacl_status_t sc_unpack(tacl_store_t *st, const char *allkey, const uint8_t *rec, size_t rl,
                               size_t n, void **vals, size_t *lens)
{
    int uniform;
    size_t head, off;
    TACL_CHECK(sc_check(st, allkey, rec, rl, n, &uniform, &head));
    off = head;
    for (size_t r = 0; r < n; r++) {
        size_t l = sc_len(rec, r, uniform);
        char *v = malloc(l + 1);
        if (!v) {
            sc_free_vals(vals, r);
            return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_BOOT, "store gather: out of memory");
        }
        if (l) memcpy(v, rec + off, l);
        v[l] = '\0';
        vals[r] = v;
        lens[r] = l;
        off += l;
    }
    return TACL_OK;
}

/* How a rank takes part in sharing the record within its host (store_share.h). */
typedef struct {
    int leader;       /* 1: publish the record for the host; 0: read the host's copy */
    const char *hkey; /* the host's key of this call */
    boot_share_t *sh;
} sc_share_t;

/* The gather-and-publish step; *rec (free) receives the published record. With share, the
 * host's leader publishes it for the host and the others read that copy; with direct, every
 * rank takes the records itself. */
static tacl_status_t sc_gather(tacl_store_t *st, const char *const *keys, size_t n, int me,
                               const char *allkey, const sc_share_t *share, int direct,
                               uint8_t **rec, size_t *rl)
{
    void **vals = calloc(n ? n : 1, sizeof *vals);
    size_t *lens = malloc((n ? n : 1) * sizeof *lens);
    tacl_status_t s = TACL_OK;
    if (!vals || !lens) {
        s = tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_BOOT, "store gather: out of memory");
        goto out;
    }
    if (me != 0 && !direct) {
        s = TACL_ERR_NOT_FOUND;
        if (share && !share->leader) s = boot_share_fetch(st, share->hkey, rec, rl);
        if (s == TACL_ERR_NOT_FOUND) {
            void *v = NULL;
            s = tacl_store_get(st, allkey, &v, rl);
            if (s == TACL_OK) *rec = v; /* tacl_free is free for store values */
        }
        if (s == TACL_OK) goto publish;
        if (s != TACL_ERR_TIMEOUT || boot_store_broken(st)) goto out;
        /* Which records are missing, or all of them if the root went away after they came. */
        double t = boot_store_timeout(st);
        tacl_store_set_timeout(st, SC_FALLBACK_S);
        s = boot_store_multi_get(st, keys, n, vals, lens);
        tacl_store_set_timeout(st, t);
    } else {
        s = boot_store_multi_get(st, keys, n, vals, lens);
    }
    if (s != TACL_OK) goto out;
    *rec = sc_pack(vals, lens, n, rl);
    sc_free_vals(vals, n);
    if (!*rec) {
        s = tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_BOOT, "store gather: out of memory");
        goto out;
    }
    if (me == 0) s = tacl_store_set(st, allkey, *rec, *rl);
publish:
    if (s == TACL_OK && share && share->leader)
        s = boot_share_publish(share->sh, st, share->hkey, *rec, *rl);
    if (s != TACL_OK) {
        free(*rec);
        *rec = NULL;
    }
out:
    free(vals);
    free(lens);
    return s;
}

tacl_status_t boot_store_gather_publish(tacl_store_t *st, const char *const *keys, size_t n, int me,
                                        const char *allkey, int direct, void **vals, size_t *lens)
{
    uint8_t *rec = NULL;
    size_t rl = 0;
    TACL_CHECK(sc_gather(st, keys, n, me, allkey, NULL, direct, &rec, &rl));
    tacl_status_t s = sc_unpack(st, allkey, rec, rl, n, vals, lens);
    free(rec);
    return s;
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
    char *keybuf = malloc((n + 1) * klen);
    const char **keys = malloc(n * sizeof *keys);
    tacl_status_t st;
    if (!keybuf || !keys) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_BOOT, "store all-gather: out of memory");
        goto out;
    }
    for (size_t r = 0; r < n; r++) {
        snprintf(keybuf + r * klen, klen, "%s%llu/%zu", ctx->prefix, (unsigned long long)call, r);
        keys[r] = keybuf + r * klen;
    }
    char *allkey = keybuf + n * klen, hkey[sizeof ctx->prefix + 48];
    snprintf(allkey, klen, "%s%llu/all", ctx->prefix, (unsigned long long)call);
    snprintf(hkey, sizeof hkey, "%s%llu/h%d", ctx->prefix, (unsigned long long)call,
             ctx->host_leader);
    sc_share_t share = {.leader = ctx->host_leader == ctx->rank, .hkey = hkey, .sh = &ctx->share};
    uint8_t *rec = NULL;
    size_t rl = 0;
    st = tacl_store_set(ctx->st, keys[ctx->rank], mine, len);
    if (st == TACL_OK)
        st = sc_gather(ctx->st, keys, n, ctx->rank, allkey, ctx->host_leader >= 0 ? &share : NULL,
                       0, &rec, &rl);
    if (st != TACL_OK) {
        tacl__err_prefix(eb, st,
                         "rank %d of %d: store all-gather #%llu under '%s' (keys end in the rank)",
                         ctx->rank, ctx->size, (unsigned long long)call, ctx->prefix);
        goto out;
    }
    int uniform = 0;
    size_t head = 0;
    st = sc_check(ctx->st, allkey, rec, rl, n, &uniform, &head);
    if (st != TACL_OK) tacl__err_keep(eb, st);
    for (size_t r = 0; r < n && st == TACL_OK; r++) {
        size_t l = sc_len(rec, r, uniform);
        if (l != len)
            st = tacl__err(eb, TACL_ERR_MISMATCH, TACL_SUB_BOOT,
                           "rank %d of %d: store all-gather #%llu under '%s': rank %zu contributed "
                           "%zu bytes, this rank %zu",
                           ctx->rank, ctx->size, (unsigned long long)call, ctx->prefix, r, l, len);
    }
    if (st == TACL_OK && len) memcpy(all, rec + head, n * len);
    free(rec);
    /* The root has read this rank's key (the result exists); and once every rank's key of
     * this call existed, every rank had the previous call's result, which the root drops. */
    tacl_status_t ds = tacl_store_delete(ctx->st, keys[ctx->rank], NULL);
    if (ds == TACL_OK && ctx->rank == 0 && call > 0) {
        char old[sizeof ctx->prefix + 48];
        snprintf(old, sizeof old, "%s%llu/all", ctx->prefix, (unsigned long long)(call - 1));
        ds = tacl_store_delete(ctx->st, old, NULL);
    }
    if (ds == TACL_OK && share.leader && ctx->host_leader >= 0 && call > 0) {
        char old[sizeof ctx->prefix + 48];
        snprintf(old, sizeof old, "%s%llu/h%d", ctx->prefix, (unsigned long long)(call - 1),
                 ctx->rank);
        ds = tacl_store_delete(ctx->st, old, NULL);
    }
    if (ds != TACL_OK && st == TACL_OK) st = tacl__err_keep(eb, ds);
out:
    free(keybuf);
    free(keys);
    return st;
}

void boot_store_xchg_share(boot_store_xchg_ctx_t *ctx, int host_leader)
{
    ctx->host_leader = host_leader;
}

void boot_store_xchg_close(boot_store_xchg_ctx_t *ctx)
{
    boot_share_close(&ctx->share);
}

tacl_status_t boot_store_barrier(boot_store_xchg_ctx_t *ctx, tacl__errbuf_t *eb)
{
    return boot_store_allgather(ctx, NULL, 0, NULL, eb);
}

/* Values per multi-get of boot_store_gather_root: well under the store's frame bound. */
#define SC_BATCH_BYTES (16u << 20)

/* The root's side of boot_store_gather_root: every key exists (one wait, which names the
 * missing keys when it times out), then the records in batches sized by the largest seen. */
static tacl_status_t sc_take_all(boot_store_xchg_ctx_t *ctx, const char *const *keys, size_t n,
                                 size_t len, boot_store_take_fn take, void *arg, tacl__errbuf_t *eb)
{
    tacl_status_t st = tacl_store_wait(ctx->st, keys, n);
    if (st != TACL_OK) return st;
    void **vals = calloc(n, sizeof *vals);
    size_t *lens = calloc(n, sizeof *lens), most = len > 64 ? len : 64;
    if (!vals || !lens) {
        free(vals);
        free(lens);
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_BOOT, "store gather: out of memory");
    }
    size_t cap = n; /* keys per get, lowered when a reply would pass the frame bound */
    for (size_t r = 0; r < n && st == TACL_OK;) {
        size_t k = SC_BATCH_BYTES / most;
        if (k > cap) k = cap;
        if (k > n - r) k = n - r;
        if (k < 1) k = 1;
        st = boot_store_multi_get(ctx->st, keys + r, k, vals + r, lens + r);
        if (st == TACL_ERR_INVALID && k > 1) {
            /* Records larger than those seen so far: fewer per get. */
            cap = k / 2;
            st = TACL_OK;
            continue;
        }
        for (size_t q = r; q < r + k && st == TACL_OK; q++) {
            if (lens[q] > most) most = lens[q];
            if (take) st = take(arg, (int)q, vals[q], lens[q], eb);
        }
        if (st == TACL_OK) sc_free_vals(vals + r, k);
        r += k;
    }
    sc_free_vals(vals, n);
    free(vals);
    free(lens);
    return st;
}

tacl_status_t boot_store_gather_root(boot_store_xchg_ctx_t *ctx, const void *mine, size_t len,
                                     boot_store_take_fn take, void *arg, tacl__errbuf_t *eb)
{
    if (!ctx || !ctx->st || ctx->size < 1 || ctx->rank < 0 || ctx->rank >= ctx->size ||
        (len && !mine))
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_BOOT,
                         "store gather: needs a store, rank in 0..size-1 and a record");
    uint64_t call = ctx->calls++;
    size_t n = (size_t)ctx->size, klen = strlen(ctx->prefix) + 48;
    char key[sizeof ctx->prefix + 48];
    snprintf(key, sizeof key, "%s%llu/%d", ctx->prefix, (unsigned long long)call, ctx->rank);
    tacl_status_t st = tacl_store_set(ctx->st, key, mine, len);
    if (st == TACL_OK && ctx->rank == 0) {
        char *keybuf = malloc(n * klen);
        const char **keys = malloc(n * sizeof *keys);
        if (!keybuf || !keys) {
            st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_BOOT, "store gather: out of memory");
        } else {
            for (size_t r = 0; r < n; r++) {
                snprintf(keybuf + r * klen, klen, "%s%llu/%zu", ctx->prefix,
                         (unsigned long long)call, r);
                keys[r] = keybuf + r * klen;
            }
            st = sc_take_all(ctx, keys, n, len, take, arg, eb);
        }
        free(keybuf);
        free(keys);
        /* Every rank has arrived at this call, so each is done with the previous one: its
         * result and host copies go with this call's records. */
        for (uint64_t c = call > 0 ? call - 1 : call; st == TACL_OK && c <= call; c++) {
            snprintf(key, sizeof key, "%s%llu/", ctx->prefix, (unsigned long long)c);
            st = boot_store_delete_prefix(ctx->st, key, NULL);
        }
    }
    if (st != TACL_OK)
        tacl__err_prefix(eb, st, "rank %d of %d: store gather #%llu to rank 0 under '%s'",
                         ctx->rank, ctx->size, (unsigned long long)call, ctx->prefix);
    return st;
}
