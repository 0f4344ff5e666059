/* world.c — joining and leaving the world through the rendezvous store (see world.h): who hosts
 * the store, the run id / world size agreement, the rank claim, the gathering of host ids and
 * pids, and the bounded, cleaning leave. */
#include "boot/world.h"
#include "boot/reach_probe.h"
#include "boot/store_int.h"
#include "clock.h"
#include "settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORLD_RUN_KEY "tacl/run"
/* How long rank 0 tries to reach an already running store before hosting its own. */
#define WORLD_PROBE_S 0.5
#define WORLD_BUSY_S  5.0 /* rank 0's wait for a store on a port it found taken */
/* Bound on each store call while leaving: the others may be gone. */
#define WORLD_LEAVE_TIMEOUT_S 2.0
/* When a rank may never leave: how long the store's host waits without any client leaving. */
#define WORLD_LEAVE_IDLE_S 2.0
/* While waiting to reach the store or for the other ranks, say so this often (at warn). */
#define WORLD_NOTE_S 5.0

static double world_left_s(uint64_t deadline)
{
    uint64_t now = tacl__now_ns();
    return now + 1000000 >= deadline ? 0.001 : (double)(deadline - now) * 1e-9;
}

/* Splits "a\nb" in place; returns b, or NULL when there is no separator. */
static char *world_split(char *rec)
{
    char *nl = strchr(rec, '\n');
    if (!nl) return NULL;
    *nl = '\0';
    return nl + 1;
}

/* Rank 0: use a store already answering at addr:port, else host one there. */
static tacl_status_t world_host_or_use(const char *addr, int port, uint64_t deadline,
                                       boot_world_t *w, tacl__errbuf_t *eb)
{
    double probe = world_left_s(deadline) < WORLD_PROBE_S ? world_left_s(deadline) : WORLD_PROBE_S;
    tacl_status_t st = boot_store_probe(addr, port, probe, &w->store);
    if (st == TACL_OK) {
        TACL_INFO(TACL_SUB_BOOT, "rank 0: a store already answers at %s; using it",
                  boot_store_addr(w->store));
        return TACL_OK;
    }
    if (st != TACL_ERR_UNREACHABLE) {
        /* Something that is not a tacl store holds the port. */
        char why[TACL_ERRMSG_MAX];
        snprintf(why, sizeof why, "%s", tacl_last_error());
        return tacl__err(eb, st == TACL_ERR_AUTH ? st : TACL_ERR_BOOTSTRAP, TACL_SUB_BOOT,
                         "rank 0: cannot host the store at %s:%d: %s", addr, port, why);
    }
    int in_use = 0;
    st = boot_store_server_start(NULL, port, &w->server, &in_use);
    if (st != TACL_OK && !in_use)
        return tacl__err_prefix(eb, st, "rank 0: cannot host the store for %s:%d", addr, port);
    if (st != TACL_OK) {
        /* Someone bound the port since the probe: a store starting at the same moment answers
         * at once; anything else (a client socket, another program) never will, and waiting
         * the whole timeout for it would look like a hang. */
        double busy = world_left_s(deadline) < WORLD_BUSY_S ? world_left_s(deadline) : WORLD_BUSY_S;
        TACL_WARN(TACL_SUB_BOOT,
                  "rank 0: port %d became busy; connecting to whoever serves it (for %.1f s)", port,
                  busy);
        st = tacl_store_connect(addr, port, busy, &w->store);
        if (st != TACL_OK)
            return tacl__err(eb, TACL_ERR_BOOTSTRAP, TACL_SUB_BOOT,
                             "rank 0: cannot host the store at %s:%d: the port is in use on this "
                             "host, and nothing there accepted a tacl store connection within "
                             "%.1f s (another program holds it); set TACL_MASTER_PORT (tacl run "
                             "--master-port) to a free port",
                             addr, port, busy);
        return TACL_OK;
    }
    st = tacl_store_connect(addr, tacl_store_server_port(w->server), world_left_s(deadline),
                            &w->store);
    if (st != TACL_OK) {
        tacl_store_server_stop(w->server);
        w->server = NULL;
        return tacl__err_prefix(eb, st, "rank 0 of the world");
    }
    return TACL_OK;
}

/* Agrees on run id and world size through WORLD_RUN_KEY: the first rank to arrive sets it. */
static tacl_status_t world_agree(boot_world_t *w, uint64_t deadline, tacl__errbuf_t *eb)
{
    char rec[128];
    int n = snprintf(rec, sizeof rec, "%s\n%d", w->run_id, w->size);
    void *held;
    size_t hl;
    tacl_store_set_timeout(w->store, world_left_s(deadline));
    tacl_status_t st =
        tacl_store_compare_set(w->store, WORLD_RUN_KEY, "", 0, rec, (size_t)n, &held, &hl);
    if (st != TACL_OK) return tacl__err_prefix(eb, st, "rank %d: run agreement", w->rank);
    if (hl == (size_t)n && !memcmp(held, rec, hl)) {
        tacl_free(held);
        return TACL_OK;
    }
    char *hsize = world_split(held);
    if (!hsize || strcmp(held, w->run_id))
        st = tacl__err(eb, TACL_ERR_BOOTSTRAP, TACL_SUB_BOOT,
                       "rank %d: run id '%s' differs from run id '%s' of the job already meeting "
                       "at the store at %s (give every rank the same run id, or restart a store "
                       "left over from an earlier job)",
                       w->rank, w->run_id, (char *)held, boot_store_addr(w->store));
    else
        st = tacl__err(eb, TACL_ERR_BOOTSTRAP, TACL_SUB_BOOT,
                       "rank %d: world size %d differs from world size %s that run '%s' uses at "
                       "the store at %s",
                       w->rank, w->size, hsize, w->run_id, boot_store_addr(w->store));
    tacl_free(held);
    return st;
}

/* Claims this rank with "<host_id>\n<pid>"; a second claimant is refused. */
static tacl_status_t world_claim(boot_world_t *w, const char *host_id, uint64_t deadline,
                                 tacl__errbuf_t *eb)
{
    char key[192], rec[BOOT_HOST_ID_MAX + 32];
    snprintf(key, sizeof key, "%srank/%d", w->prefix, w->rank);
    int n = snprintf(rec, sizeof rec, "%s\n%d", host_id, (int)getpid());
    void *held;
    size_t hl;
    tacl_store_set_timeout(w->store, world_left_s(deadline));
    tacl_status_t st = tacl_store_compare_set(w->store, key, "", 0, rec, (size_t)n, &held, &hl);
    if (st != TACL_OK) return tacl__err_prefix(eb, st, "rank %d: claiming the rank", w->rank);
    if (hl == (size_t)n && !memcmp(held, rec, hl)) {
        tacl_free(held);
        return TACL_OK;
    }
    char *hpid = world_split(held);
    st = tacl__err(eb, TACL_ERR_BOOTSTRAP, TACL_SUB_BOOT,
                   "rank %d of run '%s' is claimed twice: first by host '%s' pid %s, then by host "
                   "'%s' pid %d (this process); check the launcher's rank assignment (store at %s)",
                   w->rank, w->run_id, (char *)held, hpid ? hpid : "?", host_id, (int)getpid(),
                   boot_store_addr(w->store));
    tacl_free(held);
    return st;
}

/* Waits for every rank's claim and fills host_ids, pids, local_rank and local_size. Rank 0
 * takes the claims in one multi-get and publishes them as one key ("<prefix>ranks"), which the
 * others get: the store answers n + 1 requests instead of n multi-gets of n keys. */
static tacl_status_t world_gather(boot_world_t *w, uint64_t deadline, tacl__errbuf_t *eb)
{
    size_t n = (size_t)w->size, kl = sizeof w->prefix + 32;
    char *kb = malloc((n + 1) * kl);
    const char **keys = malloc(n * sizeof *keys);
    void **vals = malloc(n * sizeof *vals);
    size_t *lens = malloc(n * sizeof *lens);
    w->host_ids = calloc(n, sizeof *w->host_ids);
    w->pids = calloc(n, sizeof *w->pids);
    tacl_status_t st = TACL_OK;
    if (!kb || !keys || !vals || !lens || !w->host_ids || !w->pids) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_BOOT, "world join: out of memory");
        goto out;
    }
    for (size_t r = 0; r < n; r++) {
        snprintf(kb + r * kl, kl, "%srank/%zu", w->prefix, r);
        keys[r] = kb + r * kl;
    }
    char *allkey = kb + n * kl;
    snprintf(allkey, kl, "%sranks", w->prefix);
    /* In slices of WORLD_NOTE_S, so that a wait for a rank that never comes is not silent:
     * each slice that ends by the store's timeout reply names the claims still missing. */
    uint64_t t0 = tacl__now_ns();
    for (;;) {
        double left = world_left_s(deadline);
        tacl_store_set_timeout(w->store, left < WORLD_NOTE_S ? left : WORLD_NOTE_S);
        st = boot_store_gather_publish(w->store, keys, n, w->rank, allkey, left <= WORLD_NOTE_S,
                                       vals, lens);
        if (st != TACL_ERR_TIMEOUT || boot_store_broken(w->store) || tacl__now_ns() >= deadline)
            break;
        TACL_LOG_AT_(w->rank == 0 ? TACL_LOG_WARN : TACL_LOG_INFO, TACL_SUB_BOOT,
                     "rank %d of %d: still waiting after %.0f s (of %.0f s) for ranks to join run "
                     "'%s' at the store at %s: %s",
                     w->rank, w->size, (double)(tacl__now_ns() - t0) * 1e-9, w->timeout_s,
                     w->run_id, boot_store_addr(w->store), tacl_store_last_error(w->store));
    }
    if (st != TACL_OK) {
        tacl__err_prefix(eb, st, "rank %d of %d: waiting %.1f s for every rank to join run '%s'",
                         w->rank, w->size, (double)(tacl__now_ns() - t0) * 1e-9, w->run_id);
        if (st == TACL_ERR_TIMEOUT) boot_reach_missing(eb, st, w->store, keys, w->size);
        goto out;
    }
    for (size_t r = 0; r < n; r++) {
        char *pid = world_split(vals[r]);
        if (!pid && st == TACL_OK)
            st = tacl__err(eb, TACL_ERR_PROTOCOL, TACL_SUB_BOOT,
                           "rank %d: the claim of rank %zu at the store at %s is malformed",
                           w->rank, r, boot_store_addr(w->store));
        w->pids[r] = pid ? atoi(pid) : -1;
        w->host_ids[r] = vals[r]; /* the record, cut at the separator */
    }
    if (st != TACL_OK) goto out;
    w->local_rank = w->local_size = 0;
    for (int r = 0; r < w->size; r++) {
        if (strcmp(w->host_ids[r], w->host_ids[w->rank])) continue;
        if (r < w->rank) w->local_rank++;
        w->local_size++;
    }
out:
    free(kb);
    free(keys);
    free(vals);
    free(lens);
    return st;
}

static void world_free(boot_world_t *w)
{
    if (w->host_ids)
        for (int r = 0; r < w->size; r++)
            tacl_free(w->host_ids[r]);
    free(w->host_ids);
    free(w->pids);
    w->host_ids = NULL;
    w->pids = NULL;
}

tacl_status_t boot_world_join(const tacl_bootstrap_t *bs, const char *host_id, double timeout_s,
                              boot_world_t *out, tacl__errbuf_t *eb)
{
    if (!bs || !out || !host_id)
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_BOOT,
                         "world join: needs a bootstrap description, a host id and an output");
    if (bs->size > TACL_WORLD_SIZE_MAX)
        return tacl__err(eb, TACL_ERR_BOOTSTRAP, TACL_SUB_BOOT,
                         "world join: world size %d exceeds the largest supported world, %d ranks "
                         "(TACL_WORLD_SIZE_MAX)",
                         bs->size, TACL_WORLD_SIZE_MAX);
    if (bs->size < 1 || bs->rank < 0 || bs->rank >= bs->size)
        return tacl__err(eb, TACL_ERR_BOOTSTRAP, TACL_SUB_BOOT,
                         "world join: rank %d is not in 0..%d (world size %d)", bs->rank,
                         bs->size - 1, bs->size);
    if (!host_id[0] || strlen(host_id) >= BOOT_HOST_ID_MAX || strchr(host_id, '\n'))
        return tacl__err(eb, TACL_ERR_BOOTSTRAP, TACL_SUB_BOOT,
                         "rank %d: host id '%.64s' must be 1..%d characters without newlines",
                         bs->rank, host_id, BOOT_HOST_ID_MAX - 1);
    const char *run_id = bs->run_id[0] ? bs->run_id : "default";
    if (strnlen(bs->run_id, sizeof bs->run_id) >= sizeof bs->run_id || strchr(run_id, '\n'))
        return tacl__err(eb, TACL_ERR_BOOTSTRAP, TACL_SUB_BOOT,
                         "rank %d: run id must be under %zu characters without newlines", bs->rank,
                         sizeof bs->run_id);
    const char *addr = bs->master_addr[0] ? bs->master_addr : NULL;
    if (!addr && bs->size == 1) addr = "127.0.0.1";
    if (!addr)
        return tacl__err(eb, TACL_ERR_BOOTSTRAP, TACL_SUB_BOOT,
                         "rank %d of %d: no store address (master_addr) to meet the other ranks",
                         bs->rank, bs->size);
    if (bs->master_port < 0 || bs->master_port > 65535 || (bs->master_port == 0 && bs->size > 1))
        return tacl__err(eb, TACL_ERR_BOOTSTRAP, TACL_SUB_BOOT,
                         "rank %d of %d: store port %d is not in 1..65535", bs->rank, bs->size,
                         bs->master_port);
    if (bs->size > 1) TACL_CHECK(boot_store_auth_require(bs->rank, bs->size, eb));

    boot_world_t w;
    memset(&w, 0, sizeof w);
    w.rank = bs->rank;
    w.size = bs->size;
    w.timeout_s = timeout_s > 0 ? timeout_s : tacl__setting_dbl(TACL_SET_STORE_TIMEOUT);
    if (w.timeout_s <= 0) w.timeout_s = 300;
    snprintf(w.run_id, sizeof w.run_id, "%s", run_id);
    snprintf(w.prefix, sizeof w.prefix, "tacl/%s/", run_id);
    uint64_t deadline = tacl__deadline_ns(w.timeout_s);
    tacl_status_t st;

    if (w.rank == 0) {
        st = world_host_or_use(addr, bs->master_port, deadline, &w, eb);
    } else {
        /* Connect attempts in slices of WORLD_NOTE_S, each failed slice said at warn: a
         * mistyped store address is visible at once, not after the whole timeout. */
        for (;;) {
            double left = world_left_s(deadline);
            st = tacl_store_connect(addr, bs->master_port,
                                    left < WORLD_NOTE_S ? left : WORLD_NOTE_S, &w.store);
            if (st != TACL_ERR_UNREACHABLE || tacl__now_ns() >= deadline) break;
            TACL_WARN(TACL_SUB_BOOT,
                      "rank %d of %d: still trying to reach the store at %s:%d (%.0f s of "
                      "%.0f s): %s",
                      w.rank, w.size, addr, bs->master_port, w.timeout_s - world_left_s(deadline),
                      w.timeout_s, tacl_last_error());
        }
        if (st != TACL_OK)
            tacl__err_prefix(eb, st, "rank %d of %d (trying for %.0f s)", w.rank, w.size,
                             w.timeout_s - world_left_s(deadline));
        if (st == TACL_ERR_UNREACHABLE) boot_reach_explain(eb, st, bs->master_port);
    }
    if (st != TACL_OK) return st;
    st = world_agree(&w, deadline, eb);
    if (st == TACL_OK) st = world_claim(&w, host_id, deadline, eb);
    if (st == TACL_OK) st = world_gather(&w, deadline, eb);
    if (st != TACL_OK) {
        world_free(&w);
        tacl_store_close(w.store);
        tacl_store_server_stop(w.server);
        return st;
    }
    tacl_store_set_timeout(w.store, w.timeout_s);
    char xprefix[sizeof w.prefix + 4];
    snprintf(xprefix, sizeof xprefix, "%sx/", w.prefix);
    *out = w;
    boot_store_xchg_init(&out->xchg, &out->xctx, out->store, xprefix, w.rank, w.size);
    /* The world's exchanges carry n-sized records to every rank (the engine's rows): each
     * host reads them from the store once. */
    if (w.local_size > 1)
        for (int r = 0; r < w.size; r++)
            if (!strcmp(w.host_ids[r], w.host_ids[w.rank])) {
                boot_store_xchg_share(&out->xctx, r);
                break;
            }
    tacl__log_set_rank(w.rank);
    TACL_INFO(TACL_SUB_BOOT,
              "rank %d of %d joined run '%s' at the store at %s (%s); local rank %d "
              "of %d on host '%s'",
              w.rank, w.size, w.run_id, boot_store_addr(w.store),
              w.server ? "hosting it" : "client", w.local_rank, w.local_size, host_id);
    return TACL_OK;
}

/* The rank hosting the store keeps it up while other ranks are still connected: until they
 * have all disconnected, within TACL_STORE_LEAVE_GRACE. When this rank knows that some rank
 * may never leave (w->incomplete: a peer lost or stalled), it stops waiting once no client has
 * disconnected for WORLD_LEAVE_IDLE_S, so ranks still leaving are waited for and a rank that
 * holds its connection for ever costs only that pause. The clients it leaves behind are named
 * only then, when they are no longer going away. */
static void world_wait_others(boot_world_t *w)
{
    double grace = tacl__setting_dbl(TACL_SET_STORE_LEAVE_GRACE);
    uint64_t t0 = tacl__now_ns(), until = tacl__deadline_ns(grace > 0 ? grace : 0.001);
    uint64_t idle_ns = (uint64_t)(WORLD_LEAVE_IDLE_S * 1e9), last_change = t0;
    int n = boot_store_server_nclients(w->server);
    while (n > 1) {
        uint64_t now = tacl__now_ns();
        uint64_t stop =
            w->incomplete && last_change + idle_ns < until ? last_change + idle_ns : until;
        if (now >= stop) break;
        int m = boot_store_server_wait_clients(w->server, n - 1, stop);
        if (m < n) last_change = tacl__now_ns();
        n = m;
    }
    double waited = (double)(tacl__now_ns() - t0) * 1e-9;
    if (n > 1 && w->incomplete)
        TACL_WARN(TACL_SUB_BOOT,
                  "rank %d: stopping the store of run '%s' with %d other client(s) still "
                  "connected after %.1f s, none leaving for %.1f s (a rank is lost or stalled)",
                  w->rank, w->run_id, n - 1, waited, WORLD_LEAVE_IDLE_S);
    else if (n > 1)
        TACL_WARN(TACL_SUB_BOOT,
                  "rank %d: stopping the store of run '%s' with %d other client(s) still "
                  "connected after the %.1f s grace (TACL_STORE_LEAVE_GRACE)",
                  w->rank, w->run_id, n - 1, waited);
}

void boot_world_leave(boot_world_t *w)
{
    if (!w || !w->store) return;
    double t = w->timeout_s < WORLD_LEAVE_TIMEOUT_S ? w->timeout_s : WORLD_LEAVE_TIMEOUT_S;
    tacl_store_set_timeout(w->store, t);
    char key[sizeof w->prefix + 8];
    snprintf(key, sizeof key, "%sleft", w->prefix);
    int64_t left = 0;
    if (tacl_store_add(w->store, key, 1, &left) == TACL_OK && left == w->size) {
        /* Every rank is done with the store: the last one out clears the job's keys so that
         * a long-running store can serve the next job. */
        boot_store_delete_prefix(w->store, w->prefix, NULL);
        tacl_store_delete(w->store, WORLD_RUN_KEY, NULL);
    } else if (left != w->size) {
        TACL_DEBUG(TACL_SUB_BOOT, "rank %d leaves run '%s' (%lld of %d ranks left)", w->rank,
                   w->run_id, (long long)left, w->size);
    }
    if (w->server) world_wait_others(w);
    boot_store_xchg_close(&w->xctx);
    tacl_store_close(w->store);
    tacl_store_server_stop(w->server);
    world_free(w);
    memset(w, 0, sizeof *w);
}
