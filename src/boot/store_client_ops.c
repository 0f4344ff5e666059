/* store_client_ops.c — the store client's operations: set, get, wait, multi-get, add,
 * compare-set, delete, prefix delete, check and key count. Each checks its arguments, packs its
 * items, makes one exchange (store_client.c) and checks the reply's shape before it sets its
 * outputs. */
#include "boot/store_client_int.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

/* Checks that a reply has n items (and, when len >= 0, that the first is len bytes). */
static tacl_status_t cli_expect(tacl_store_t *st, store_op_t op, cli_resp_t *r, uint32_t n,
                                long len)
{
    if (r->n == n && (len < 0 || (n > 0 && r->lens[0] == (uint32_t)len))) return TACL_OK;
    tacl_status_t s = tacl__err(&st->eb, TACL_ERR_PROTOCOL, TACL_SUB_STORE,
                                "store %s at %s: reply of %u items, expected %u", store_op_name(op),
                                st->addr, r->n, n);
    boot_store_cli_resp_free(r);
    boot_store_cli_drop(st);
    return s;
}

static void *cli_dup_value(const uint8_t *v, uint32_t len)
{
    char *p = malloc((size_t)len + 1);
    if (!p) return NULL;
    memcpy(p, v, len);
    p[len] = '\0';
    return p;
}

#define CLI_NEED(cond, what)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return tacl__err(st ? &st->eb : NULL, TACL_ERR_INVALID, TACL_SUB_STORE,                \
                             "store %s: %s", __func__, what);                                      \
    } while (0)

tacl_status_t tacl_store_set(tacl_store_t *st, const char *key, const void *val, size_t len)
{
    CLI_NEED(st && key && (val || !len), "needs a handle, a key and a value");
    const void *items[2] = {key, val ? val : ""};
    size_t lens[2] = {strlen(key), len};
    cli_resp_t r;
    TACL_CHECK(boot_store_cli_call(st, STORE_OP_SET, 2, items, lens, &key, 1, 0, &r));
    boot_store_cli_resp_free(&r);
    return TACL_OK;
}

tacl_status_t tacl_store_get(tacl_store_t *st, const char *key, void **val, size_t *len)
{
    CLI_NEED(st && key && val && len, "needs a handle, a key and outputs");
    const void *items[1] = {key};
    size_t lens[1] = {strlen(key)};
    cli_resp_t r;
    TACL_CHECK(boot_store_cli_call(st, STORE_OP_GET, 1, items, lens, &key, 1, 1, &r));
    TACL_CHECK(cli_expect(st, STORE_OP_GET, &r, 1, -1));
    void *v = cli_dup_value(r.items[0], r.lens[0]);
    size_t vl = r.lens[0];
    boot_store_cli_resp_free(&r);
    if (!v) return tacl__err(&st->eb, TACL_ERR_NOMEM, TACL_SUB_STORE, "store get: out of memory");
    *val = v;
    *len = vl;
    return TACL_OK;
}

/* A request whose items are the keys (wait, multi_get, check): checks the count, builds the
 * item list and calls. */
static tacl_status_t cli_call_keys(tacl_store_t *st, store_op_t op, const char *what,
                                   const char *const *keys, size_t nkeys, int blocking,
                                   cli_resp_t *resp)
{
    if (nkeys > STORE_ITEMS_MAX)
        return tacl__err(&st->eb, TACL_ERR_INVALID, TACL_SUB_STORE,
                         "store %s: %zu keys exceed the limit of %u per request", what, nkeys,
                         STORE_ITEMS_MAX);
    const void **items = malloc((nkeys ? nkeys : 1) * sizeof *items);
    size_t *lens = malloc((nkeys ? nkeys : 1) * sizeof *lens);
    if (!items || !lens) {
        free(items);
        free(lens);
        return tacl__err(&st->eb, TACL_ERR_NOMEM, TACL_SUB_STORE, "store %s: out of memory", what);
    }
    for (size_t i = 0; i < nkeys; i++) {
        items[i] = keys[i];
        lens[i] = strlen(keys[i]);
    }
    tacl_status_t s =
        boot_store_cli_call(st, op, (uint32_t)nkeys, items, lens, keys, nkeys, blocking, resp);
    free(items);
    free(lens);
    return s;
}

tacl_status_t tacl_store_wait(tacl_store_t *st, const char *const *keys, size_t nkeys)
{
    CLI_NEED(st && (keys || !nkeys), "needs a handle and keys");
    cli_resp_t r;
    tacl_status_t s = cli_call_keys(st, STORE_OP_WAIT, "wait", keys, nkeys, 1, &r);
    if (s == TACL_OK) boot_store_cli_resp_free(&r);
    return s;
}

tacl_status_t boot_store_multi_get(tacl_store_t *st, const char *const *keys, size_t nkeys,
                                   void **vals, size_t *lens)
{
    CLI_NEED(st && (keys || !nkeys) && vals && lens, "needs a handle, keys and outputs");
    cli_resp_t r;
    tacl_status_t s = cli_call_keys(st, STORE_OP_MULTI_GET, "multi_get", keys, nkeys, 1, &r);
    if (s != TACL_OK) return s;
    TACL_CHECK(cli_expect(st, STORE_OP_MULTI_GET, &r, (uint32_t)nkeys, -1));
    void **tmp = calloc(nkeys ? nkeys : 1, sizeof *tmp);
    if (!tmp) {
        boot_store_cli_resp_free(&r);
        return tacl__err(&st->eb, TACL_ERR_NOMEM, TACL_SUB_STORE, "store multi_get: out of memory");
    }
    for (size_t i = 0; i < nkeys; i++) {
        tmp[i] = cli_dup_value(r.items[i], r.lens[i]);
        if (!tmp[i]) {
            for (size_t j = 0; j < i; j++)
                free(tmp[j]);
            free(tmp);
            boot_store_cli_resp_free(&r);
            return tacl__err(&st->eb, TACL_ERR_NOMEM, TACL_SUB_STORE,
                             "store multi_get: out of memory");
        }
    }
    for (size_t i = 0; i < nkeys; i++) {
        vals[i] = tmp[i];
        lens[i] = r.lens[i];
    }
    free(tmp);
    boot_store_cli_resp_free(&r);
    return TACL_OK;
}

tacl_status_t tacl_store_add(tacl_store_t *st, const char *key, int64_t delta, int64_t *out)
{
    CLI_NEED(st && key, "needs a handle and a key");
    uint8_t d[8];
    store_put_u64(d, (uint64_t)delta);
    const void *items[2] = {key, d};
    size_t lens[2] = {strlen(key), 8};
    cli_resp_t r;
    TACL_CHECK(boot_store_cli_call(st, STORE_OP_ADD, 2, items, lens, &key, 1, 0, &r));
    TACL_CHECK(cli_expect(st, STORE_OP_ADD, &r, 1, 8));
    int64_t v = (int64_t)store_get_u64(r.items[0]);
    boot_store_cli_resp_free(&r);
    if (out) *out = v;
    return TACL_OK;
}

tacl_status_t tacl_store_compare_set(tacl_store_t *st, const char *key, const void *expected,
                                     size_t expected_len, const void *desired, size_t desired_len,
                                     void **out, size_t *out_len)
{
    CLI_NEED(st && key && (expected || !expected_len) && (desired || !desired_len),
             "needs a handle, a key, expected and desired values");
    const void *items[3] = {key, expected ? expected : "", desired ? desired : ""};
    size_t lens[3] = {strlen(key), expected_len, desired_len};
    cli_resp_t r;
    TACL_CHECK(boot_store_cli_call(st, STORE_OP_CAS, 3, items, lens, &key, 1, 0, &r));
    TACL_CHECK(cli_expect(st, STORE_OP_CAS, &r, 1, -1));
    if (out) {
        void *v = cli_dup_value(r.items[0], r.lens[0]);
        if (!v) {
            boot_store_cli_resp_free(&r);
            return tacl__err(&st->eb, TACL_ERR_NOMEM, TACL_SUB_STORE,
                             "store compare_set: out of memory");
        }
        *out = v;
    }
    if (out_len) *out_len = r.lens[0];
    boot_store_cli_resp_free(&r);
    return TACL_OK;
}

tacl_status_t tacl_store_delete(tacl_store_t *st, const char *key, int *deleted)
{
    CLI_NEED(st && key, "needs a handle and a key");
    const void *items[1] = {key};
    size_t lens[1] = {strlen(key)};
    cli_resp_t r;
    TACL_CHECK(boot_store_cli_call(st, STORE_OP_DELETE, 1, items, lens, &key, 1, 0, &r));
    TACL_CHECK(cli_expect(st, STORE_OP_DELETE, &r, 1, 1));
    int d = r.items[0][0] != 0;
    boot_store_cli_resp_free(&r);
    if (deleted) *deleted = d;
    return TACL_OK;
}

tacl_status_t boot_store_delete_prefix(tacl_store_t *st, const char *prefix, int64_t *deleted)
{
    CLI_NEED(st && prefix, "needs a handle and a prefix");
    const void *items[1] = {prefix};
    size_t lens[1] = {strlen(prefix)};
    cli_resp_t r;
    TACL_CHECK(boot_store_cli_call(st, STORE_OP_DEL_PREFIX, 1, items, lens, &prefix, 1, 0, &r));
    TACL_CHECK(cli_expect(st, STORE_OP_DEL_PREFIX, &r, 1, 8));
    int64_t d = (int64_t)store_get_u64(r.items[0]);
    boot_store_cli_resp_free(&r);
    if (deleted) *deleted = d;
    return TACL_OK;
}

tacl_status_t tacl_store_check(tacl_store_t *st, const char *const *keys, size_t nkeys,
                               int *all_exist)
{
    CLI_NEED(st && (keys || !nkeys) && all_exist, "needs a handle, keys and an output");
    cli_resp_t r;
    tacl_status_t s = cli_call_keys(st, STORE_OP_CHECK, "check", keys, nkeys, 0, &r);
    if (s != TACL_OK) return s;
    TACL_CHECK(cli_expect(st, STORE_OP_CHECK, &r, 1, 1));
    *all_exist = r.items[0][0] != 0;
    boot_store_cli_resp_free(&r);
    return TACL_OK;
}

tacl_status_t tacl_store_num_keys(tacl_store_t *st, int64_t *out)
{
    CLI_NEED(st && out, "needs a handle and an output");
    cli_resp_t r;
    TACL_CHECK(boot_store_cli_call(st, STORE_OP_NUM_KEYS, 0, NULL, NULL, NULL, 0, 0, &r));
    TACL_CHECK(cli_expect(st, STORE_OP_NUM_KEYS, &r, 1, 8));
    *out = (int64_t)store_get_u64(r.items[0]);
    boot_store_cli_resp_free(&r);
    return TACL_OK;
}
