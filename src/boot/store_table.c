/* store_table.c — the store server's key table: a chained hash table of keys and values. */
#include "boot/store_server_int.h"

#include <stdlib.h>
#include <string.h>

uint64_t boot_store_srv_hash(const uint8_t *k, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    return h;
}

static srv_entry_t **srv_table_slot(srv_table_t *t, const uint8_t *k, uint32_t n, uint64_t h)
{
    srv_entry_t **p = &t->buckets[h & (t->nbuckets - 1)];
    for (; *p; p = &(*p)->next)
        if ((*p)->hash == h && (*p)->klen == n && !memcmp((*p)->key, k, n)) break;
    return p;
}

srv_entry_t *boot_store_srv_table_find(srv_table_t *t, const uint8_t *k, uint32_t n)
{
    return *srv_table_slot(t, k, n, boot_store_srv_hash(k, n));
}

static int srv_table_grow(srv_table_t *t)
{
    size_t nb = t->nbuckets * 2;
    srv_entry_t **b = calloc(nb, sizeof *b);
    if (!b) return -1;
    for (size_t i = 0; i < t->nbuckets; i++) {
        srv_entry_t *e = t->buckets[i];
        while (e) {
            srv_entry_t *next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
    return 0;
}

/* Stores a copy of val under k. Returns the entry, or NULL when out of memory. */
srv_entry_t *boot_store_srv_table_set(srv_table_t *t, const uint8_t *k, uint32_t n, const void *val,
                                      uint32_t vlen)
{
    uint8_t *v = malloc(vlen ? vlen : 1);
    if (!v) return NULL;
    memcpy(v, val, vlen);
    uint64_t h = boot_store_srv_hash(k, n);
    srv_entry_t **slot = srv_table_slot(t, k, n, h);
    srv_entry_t *e = *slot;
    if (!e) {
        if (t->count >= t->nbuckets && srv_table_grow(t) == 0) slot = srv_table_slot(t, k, n, h);
        e = malloc(sizeof *e + n + 1);
        if (!e) {
            free(v);
            return NULL;
        }
        e->next = NULL;
        e->hash = h;
        e->klen = n;
        memcpy(e->key, k, n);
        e->key[n] = '\0';
        e->val = NULL;
        *slot = e;
        t->count++;
    }
    free(e->val);
    e->val = v;
    e->vlen = vlen;
    return e;
}

static void srv_entry_free(srv_entry_t *e)
{
    free(e->val);
    free(e);
}

int boot_store_srv_table_delete(srv_table_t *t, const uint8_t *k, uint32_t n)
{
    srv_entry_t **slot = srv_table_slot(t, k, n, boot_store_srv_hash(k, n));
    srv_entry_t *e = *slot;
    if (!e) return 0;
    *slot = e->next;
    srv_entry_free(e);
    t->count--;
    return 1;
}

int64_t boot_store_srv_table_delete_prefix(srv_table_t *t, const uint8_t *p, uint32_t n)
{
    int64_t deleted = 0;
    for (size_t i = 0; i < t->nbuckets; i++) {
        srv_entry_t **slot = &t->buckets[i];
        while (*slot) {
            srv_entry_t *e = *slot;
            if (e->klen >= n && !memcmp(e->key, p, n)) {
                *slot = e->next;
                srv_entry_free(e);
                t->count--;
                deleted++;
            } else {
                slot = &e->next;
            }
        }
    }
    return deleted;
}

void boot_store_srv_table_free(srv_table_t *t)
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        srv_entry_t *e = t->buckets[i];
        while (e) {
            srv_entry_t *next = e->next;
            srv_entry_free(e);
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = NULL;
}
