/* comm.c — communicators: creation from a list of world ranks (host layout, same-host
 * shared-memory group, host-leader communicator, schedule), split with MPI_Comm_split
 * semantics, queries and destruction. */
#include "coll/coll.h"
#include "boot/store_coll.h"
#include "boot/world.h"
#include "settings.h"
#include "topo/graph.h"
#include "transport/engine.h"
#include "transport/shm/shm_group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t comm_derive_id(uint64_t parent, uint64_t salt1, uint64_t salt2)
{
    /* splitmix64 over the inputs: every member derives the same id, collisions negligible. */
    uint64_t z = parent ^ (salt1 * 0x9e3779b97f4a7c15ull) ^ (salt2 * 0xbf58476d1ce4e5b9ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z ? z : 1; /* 0 is the world */
}

static void comm_free(tacl_comm_t *c)
{
    if (!c) return;
    c->magic = 0;
    if (c->shm) tacl__shm_group_destroy(c->shm);
    comm_mem_release(c);
    if (c->lead) comm_free(c->lead);
    free(c->wranks);
    free(c->host_of);
    free(c->local_ranks);
    free(c->leaders);
    free(c->ring);
    if (c->graph) tacl__graph_destroy(c->graph);
    comm_topo_fini(c);
    free(c->p2p);
    free(c);
}

/* The shm group asks the engine whether a member it waits for is lost or stalled. */
static int comm_shm_alive(void *ctx, int group_rank)
{
    tacl_comm_t *c = ctx;
    return tacl_comm_peer_alive(c, c->local_ranks[group_rank]);
}

/* The same-host group: an exchange among this host's members through the store, under a key
 * prefix unique to (communicator, host). */
static tacl_status_t comm_shm_init(tacl_comm_t *c, tacl__errbuf_t *eb)
{
    if (c->local_size < 2 || tacl__setting_bool(TACL_SET_SHM_DISABLE)) return TACL_OK;
    tacl__world_t *w = c->world;
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%sc%llx/h%d/", w->boot->prefix, (unsigned long long)c->id,
             c->host_of[c->rank]);
    boot_store_xchg_ctx_t ctx;
    tacl__xchg_t x;
    boot_store_xchg_init(&x, &ctx, w->boot->store, prefix, c->local_rank, c->local_size);
    tacl__shm_group_config_t cfg = {&x, c->local_ranks, c->timeout_s, comm_shm_alive, c};
    return tacl__shm_group_create(&cfg, &c->shm, eb);
}

static tacl_status_t comm_layout(tacl_comm_t *c)
{
    tacl__world_t *w = c->world;
    int n = c->size;
    int *seen = malloc((size_t)w->nhosts * sizeof *seen);
    c->host_of = malloc((size_t)n * sizeof *c->host_of);
    c->local_ranks = malloc((size_t)n * sizeof *c->local_ranks);
    c->leaders = malloc((size_t)n * sizeof *c->leaders);
    if (!seen || !c->host_of || !c->local_ranks || !c->leaders) {
        free(seen);
        return TACL_ERR_NOMEM;
    }
    for (int h = 0; h < w->nhosts; h++)
        seen[h] = -1;
    c->nhosts = 0;
    for (int r = 0; r < n; r++) {
        int wh = w->host_of[c->wranks[r]];
        if (seen[wh] < 0) {
            seen[wh] = c->nhosts;
            c->leaders[c->nhosts++] = r;
        }
        c->host_of[r] = seen[wh];
    }
    free(seen);
    c->local_size = 0;
    for (int r = 0; r < n; r++) {
        if (c->host_of[r] != c->host_of[c->rank]) continue;
        if (r == c->rank) c->local_rank = c->local_size;
        c->local_ranks[c->local_size++] = r;
    }
    return TACL_OK;
}

tacl_status_t comm_create(tacl__world_t *w, uint64_t id, const int *wranks, int n, double timeout_s,
                          tacl_comm_t **out, tacl__errbuf_t *eb)
{
    tacl_comm_t *c = calloc(1, sizeof *c);
    tacl_status_t st = TACL_ERR_NOMEM;
    if (!c) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
    c->magic = COMM_MAGIC;
    c->world = w;
    c->id = id;
    c->size = n;
    c->rank = -1;
    c->timeout_s = timeout_s;
    c->wranks = malloc((size_t)n * sizeof *c->wranks);
    if (!c->wranks) goto err_free;
    for (int i = 0; i < n; i++) {
        c->wranks[i] = wranks[i];
        if (wranks[i] == w->rank) c->rank = i;
    }
    if (c->rank < 0) {
        st = tacl__err(eb, TACL_ERR_INTERNAL, TACL_SUB_COLL,
                       "world rank %d is not a member of communicator %llx", w->rank,
                       (unsigned long long)id);
        goto err_free;
    }
    if (comm_layout(c) != TACL_OK) goto err_nomem;
    st = comm_topo_init(c, eb);
    if (st != TACL_OK) goto err_free;
    st = comm_shm_init(c, eb);
    if (st != TACL_OK) goto err_free;
    c->shm_all = c->shm != NULL && c->local_size == n;
    /* Host leaders get a communicator of their own for hierarchical algorithms; it needs no
     * exchange (one rank per host, no shared memory). */
    if (c->nhosts > 1 && c->nhosts < n && c->leaders[c->host_of[c->rank]] == c->rank) {
        int *lw = malloc((size_t)c->nhosts * sizeof *lw);
        if (!lw) goto err_nomem;
        for (int h = 0; h < c->nhosts; h++)
            lw[h] = c->wranks[c->leaders[h]];
        st = comm_create(w, comm_derive_id(id, 0x4c454144, 0), lw, c->nhosts, timeout_s, &c->lead,
                         eb);
        free(lw);
        if (st != TACL_OK) goto err_free;
        c->lead->watch = c;
    }
    pthread_mutex_lock(&w->lock);
    w->refs++;
    pthread_mutex_unlock(&w->lock);
    *out = c;
    return TACL_OK;

err_nomem:
    st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
err_free:
    comm_free(c);
    return st;
}

void tacl_comm_destroy(tacl_comm_t *c)
{
    if (!c || c->magic != COMM_MAGIC) return; /* NULL, or destroyed already */
    tacl__world_t *w = c->world;
    /* The leader communicator holds a reference of its own. */
    int refs_held = 1 + (c->lead != NULL);
    comm_free(c);
    pthread_mutex_lock(&w->lock);
    w->refs -= refs_held;
    int last = w->refs <= 0;
    pthread_mutex_unlock(&w->lock);
    if (last) world_release(w);
}

typedef struct {
    int32_t color, key;
} comm_split_entry_t;

tacl_status_t tacl_comm_split(tacl_comm_t *c, int color, int key, tacl_comm_t **out)
{
    TACL_CHECK(coll_check_comm(c, "tacl_comm_split"));
    if (!out)
        return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL, "tacl_comm_split: out is NULL");
    int n = c->size;
    comm_split_entry_t mine = {color < 0 ? -1 : color, key};
    comm_split_entry_t *all = malloc((size_t)n * sizeof *all);
    int *members = malloc((size_t)n * sizeof *members);
    tacl_status_t st;
    if (!all || !members) {
        st = tacl__err(&c->err, TACL_ERR_NOMEM, TACL_SUB_COLL, "out of memory");
        goto out;
    }
    st = tacl_all_gather(c, &mine, all, 2, TACL_INT32);
    if (st != TACL_OK) {
        tacl__err_prefix(&c->err, st, "tacl_comm_split");
        goto out;
    }
    uint64_t salt = c->nsplits++;
    if (mine.color < 0) {
        *out = NULL;
        goto out;
    }
    /* Members of my color ordered by (key, old rank): insertion sort, n is small. */
    int m = 0;
    for (int r = 0; r < n; r++) {
        if (all[r].color != mine.color) continue;
        int i = m++;
        while (i > 0 && (all[members[i - 1]].key > all[r].key)) {
            members[i] = members[i - 1];
            i--;
        }
        members[i] = r;
    }
    for (int i = 0; i < m; i++)
        members[i] = c->wranks[members[i]];
    tacl_comm_t *nc;
    st = comm_create(c->world, comm_derive_id(c->id, salt + 1, (uint64_t)mine.color), members, m,
                     c->timeout_s, &nc, &c->err);
    if (st == TACL_OK) *out = nc;
out:
    free(all);
    free(members);
    return st;
}

int tacl_comm_rank(const tacl_comm_t *c)
{
    return c ? c->rank : -1;
}

int tacl_comm_size(const tacl_comm_t *c)
{
    return c ? c->size : 0;
}

int tacl_comm_local_rank(const tacl_comm_t *c)
{
    return c ? c->local_rank : -1;
}

int tacl_comm_local_size(const tacl_comm_t *c)
{
    return c ? c->local_size : 0;
}

const char *tacl_comm_host_id(const tacl_comm_t *c, int rank)
{
    if (!c || rank < 0 || rank >= c->size) return NULL;
    return c->world->host_ids[c->wranks[rank]];
}

int tacl_comm_world_rank(const tacl_comm_t *c, int rank)
{
    if (!c || rank < 0 || rank >= c->size) return -1;
    return c->wranks[rank];
}

int tacl_comm_peer_alive(const tacl_comm_t *c, int rank)
{
    if (!c || rank < 0 || rank >= c->size) return 0;
    if (rank == c->rank) return 1;
    return tacl__engine_peer_alive(c->world->engine, c->wranks[rank]);
}

unsigned comm_live_gen(const tacl_comm_t *c)
{
    return tacl__engine_live_gen(c->world->engine);
}

void tacl_comm_set_timeout(tacl_comm_t *c, double timeout_s)
{
    if (c && timeout_s > 0) c->timeout_s = timeout_s;
}

const char *tacl_comm_last_error(const tacl_comm_t *c)
{
    return c ? c->err.msg : tacl_last_error();
}

tacl_store_t *tacl_comm_store(tacl_comm_t *c)
{
    return c ? c->world->boot->store : NULL;
}
