/* store_wait.c — the store server's parked requests: filed by key, woken by sets, expired. */
#include "boot/store_server_int.h"
#include "boot/store_proto.h"
#include "clock.h"

#include <stdlib.h>
#include <string.h>

/* Missing keys named in a timeout reply (the count of all missing ones is sent too). */
#define SRV_TIMEOUT_NAMES 16

/* Files parked c under the bucket of its first missing key (c->wnext_missing). */
static void srv_widx_add(tacl_store_server_t *srv, srv_conn_t *c)
{
    uint32_t i = c->wnext_missing;
    c->hbucket = (uint32_t)(boot_store_srv_hash(c->wkeys[i], c->wlens[i]) & (SRV_WAIT_BUCKETS - 1));
    c->hprev = NULL;
    c->hnext = srv->wbuckets[c->hbucket];
    if (c->hnext) c->hnext->hprev = c;
    srv->wbuckets[c->hbucket] = c;
}

static void srv_widx_del(tacl_store_server_t *srv, srv_conn_t *c)
{
    if (c->hprev)
        c->hprev->hnext = c->hnext;
    else
        srv->wbuckets[c->hbucket] = c->hnext;
    if (c->hnext) c->hnext->hprev = c->hprev;
    c->hprev = c->hnext = NULL;
}

void boot_store_srv_unpark(tacl_store_server_t *srv, srv_conn_t *c)
{
    if (!c->waiting) return;
    srv_widx_del(srv, c);
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        srv->waiters = c->wnext;
    if (c->wnext) c->wnext->wprev = c->wprev;
    c->wprev = c->wnext = NULL;
    c->waiting = 0;
    free(c->wframe);
    free(c->wkeys);
    free(c->wlens);
    c->wframe = NULL;
    c->wkeys = NULL;
    c->wlens = NULL;
}

/* Queues c for boot_store_srv_run: its input is processed again once the current request is
 * done. */
static void srv_run_push(tacl_store_server_t *srv, srv_conn_t *c)
{
    if (c->queued || c->dead) return;
    c->queued = 1;
    c->rnext = NULL;
    if (srv->run_tail)
        srv->run_tail->rnext = c;
    else
        srv->run_head = c;
    srv->run_tail = c;
}

/* Processes queued connections until none is left; a set that completes further parked
 * requests queues them here instead of recursing into them. */
void boot_store_srv_run(tacl_store_server_t *srv)
{
    while (srv->run_head) {
        srv_conn_t *c = srv->run_head;
        srv->run_head = c->rnext;
        if (!srv->run_head) srv->run_tail = NULL;
        c->queued = 0;
        if (!c->dead) boot_store_srv_conn_process(srv, c);
    }
}

int boot_store_srv_all_exist(tacl_store_server_t *srv, const uint8_t *const *keys,
                             const uint32_t *lens, uint32_t n, uint32_t from,
                             uint32_t *first_missing)
{
    for (uint32_t i = from; i < n; i++) {
        if (!boot_store_srv_table_find(&srv->table, keys[i], lens[i])) {
            *first_missing = i;
            return 0;
        }
    }
    return 1;
}

/* Answers a blocking request whose keys all exist. */
void boot_store_srv_answer_blocking(tacl_store_server_t *srv, srv_conn_t *c, uint16_t op,
                                    const uint8_t *const *keys, const uint32_t *lens, uint32_t n)
{
    if (op == STORE_OP_WAIT) {
        boot_store_srv_reply(srv, c, TACL_OK, 0, NULL, NULL);
        return;
    }
    const void **vals = malloc((n ? n : 1) * sizeof *vals);
    uint32_t *vlens = malloc((n ? n : 1) * sizeof *vlens);
    if (!vals || !vlens) {
        free(vals);
        free(vlens);
        boot_store_srv_conn_fail(c, "out of memory answering %s of %u keys", store_op_name(op), n);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        srv_entry_t *e = boot_store_srv_table_find(&srv->table, keys[i], lens[i]);
        vals[i] = e->val;
        vlens[i] = e->vlen;
    }
    boot_store_srv_reply(srv, c, TACL_OK, n, vals, vlens);
    free(vals);
    free(vlens);
}

/* A key was created or changed: parked requests waiting for it may now be complete. Each
 * parked request is filed under its first missing key, so a set looks only at the requests of
 * that key's bucket; one that still misses a later key is filed again under that one. */
void boot_store_srv_notify(tacl_store_server_t *srv, const uint8_t *key, uint32_t klen)
{
    uint32_t b = (uint32_t)(boot_store_srv_hash(key, klen) & (SRV_WAIT_BUCKETS - 1));
    size_t nready = 0, cap = 0;
    srv_conn_t **list = NULL;
    srv_conn_t *c = srv->wbuckets[b];
    while (c) {
        srv_conn_t *next = c->hnext;
        uint32_t i = c->wnext_missing, miss;
        if (c->wlens[i] != klen || memcmp(c->wkeys[i], key, klen)) {
            c = next;
            continue;
        }
        /* A key before i may have been deleted since it was passed. */
        if (!boot_store_srv_all_exist(srv, c->wkeys, c->wlens, c->nw, i + 1, &miss) ||
            !boot_store_srv_all_exist(srv, c->wkeys, c->wlens, c->nw, 0, &miss)) {
            c->wnext_missing = miss;
            if (miss != i) {
                srv_widx_del(srv, c);
                srv_widx_add(srv, c);
            }
            c = next;
            continue;
        }
        if (nready == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            srv_conn_t **nl = realloc(list, ncap * sizeof *nl);
            if (!nl) {
                boot_store_srv_conn_fail(c, "out of memory answering its %s",
                                         store_op_name(c->wop));
                c = next;
                continue;
            }
            list = nl;
            cap = ncap;
        }
        list[nready++] = c;
        c = next;
    }
    /* Answering unparks, which changes the lists, so the ready set is gathered first. Their
     * further input goes through the run list (boot_store_srv_run), never through recursion. */
    for (size_t j = 0; j < nready; j++) {
        c = list[j];
        uint16_t op = c->wop;
        uint8_t *frame = c->wframe;
        const uint8_t **keys = c->wkeys;
        uint32_t *lens = c->wlens, n = c->nw;
        c->wframe = NULL;
        c->wkeys = NULL;
        c->wlens = NULL;
        boot_store_srv_unpark(srv, c);
        boot_store_srv_answer_blocking(srv, c, op, keys, lens, n);
        free(frame);
        free(keys);
        free(lens);
    }
    for (size_t j = 0; j < nready; j++)
        srv_run_push(srv, list[j]);
    free(list);
}

void boot_store_srv_park(tacl_store_server_t *srv, srv_conn_t *c, uint16_t op, const uint8_t *frame,
                         size_t frame_len, uint32_t n, uint32_t first_missing, uint32_t timeout_ms)
{
    c->wframe = malloc(frame_len);
    c->wkeys = malloc(n * sizeof *c->wkeys);
    c->wlens = malloc(n * sizeof *c->wlens);
    if (!c->wframe || !c->wkeys || !c->wlens) {
        free(c->wframe);
        free(c->wkeys);
        free(c->wlens);
        c->wframe = NULL;
        c->wkeys = NULL;
        c->wlens = NULL;
        boot_store_srv_conn_fail(c, "out of memory parking %s of %u keys", store_op_name(op), n);
        return;
    }
    memcpy(c->wframe, frame, frame_len);
    /* The frame was validated before; re-splitting the copy cannot fail. */
    store_parse_items(c->wframe + STORE_HDR_LEN, (uint32_t)(frame_len - STORE_HDR_LEN), n, c->wkeys,
                      c->wlens);
    c->wop = op;
    c->nw = n;
    c->wnext_missing = first_missing;
    c->wdeadline = timeout_ms ? tacl__now_ns() + (uint64_t)timeout_ms * 1000000ull : 0;
    if (c->wdeadline && (!srv->wmin || c->wdeadline < srv->wmin)) srv->wmin = c->wdeadline;
    boot_store_srv_count(srv, &srv->stats.parked, 1);
    srv_widx_add(srv, c);
    c->waiting = 1;
    c->wprev = NULL;
    c->wnext = srv->waiters;
    if (srv->waiters) srv->waiters->wprev = c;
    srv->waiters = c;
}

static void srv_reply_timeout(tacl_store_server_t *srv, srv_conn_t *c)
{
    const void *items[SRV_TIMEOUT_NAMES + 1];
    uint32_t lens[SRV_TIMEOUT_NAMES + 1];
    uint8_t count[8];
    uint64_t missing = 0;
    uint32_t n = 1;
    for (uint32_t i = 0; i < c->nw; i++) {
        if (boot_store_srv_table_find(&srv->table, c->wkeys[i], c->wlens[i])) continue;
        missing++;
        if (n <= SRV_TIMEOUT_NAMES) {
            items[n] = c->wkeys[i];
            lens[n] = c->wlens[i];
            n++;
        }
    }
    store_put_u64(count, missing);
    items[0] = count;
    lens[0] = 8;
    boot_store_srv_reply(srv, c, TACL_ERR_TIMEOUT, n, items, lens);
}

/* Answers the parked requests whose deadline passed (every one with a deadline when all: a
 * caller that drives the loop itself lets time pass at once) and returns how many.
 * srv->wmin is a lower bound of the pending deadlines (requests answered meanwhile may have
 * held it), so the list is walked only when one may be due, and the walk makes the bound exact
 * again. */
int boot_store_srv_expire(tacl_store_server_t *srv, int all)
{
    uint64_t now = tacl__now_ns();
    if (!all && (!srv->wmin || now < srv->wmin)) return 0;
    uint64_t next = 0;
    int k = 0;
    srv_conn_t *c = srv->waiters;
    while (c) {
        srv_conn_t *nc = c->wnext;
        if (c->waiting && c->wdeadline && (all || c->wdeadline <= now)) {
            srv_reply_timeout(srv, c);
            boot_store_srv_unpark(srv, c);
            srv_run_push(srv, c);
            k++;
        } else if (c->wdeadline && (!next || c->wdeadline < next)) {
            next = c->wdeadline;
        }
        c = nc;
    }
    srv->wmin = next;
    return k;
}
