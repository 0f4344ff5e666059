/* select.c — which algorithm runs a collective: from the communicator's shape (one host, full
 * mesh, ring order, spanning tree, multi-tree packing), the message size and TACL_ALGO. The
 * defaults come from the tuning table below; TACL_ALGO forces a choice ("ring", or per collective
 * "allreduce:tree;broadcast:tree"), falling back with a reason where the forced algorithm does
 * not apply to the collective or communicator. */
#include "coll/coll.h"
#include "settings.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const select_names[COLL_ALGO_COUNT] = {
    "auto", "shm", "ring", "rd", "tree", "hier", "direct", "multitree", "rhd"};

/* Tuning table: below this many bytes, latency-bound algorithms win; up to SELECT_RHD_BYTES
 * halving-doubling's log2 n steps beat the ring's 2(n-1) at the same bandwidth. */
#define SELECT_SMALL_BYTES (64 * 1024)
#define SELECT_RHD_BYTES   (1024 * 1024)
/* Multi-tree all_reduce from this size: smaller parts would be single chunks, and the trees'
 * extra start-up latency would outweigh their bandwidth. */
#define SELECT_MTREE_BYTES (1024 * 1024)

const char *coll_algo_name(coll_algo_t a)
{
    return (unsigned)a < COLL_ALGO_COUNT ? select_names[a] : "?";
}

static coll_algo_t select_parse_algo(const char *s, size_t n)
{
    for (int i = 1; i < COLL_ALGO_COUNT; i++)
        if (strlen(select_names[i]) == n && !strncasecmp(s, select_names[i], n))
            return (coll_algo_t)i;
    return COLL_ALGO_AUTO;
}

/* Collective names as TACL_ALGO spells them: without underscores (NCCL style) or with. */
static int select_coll_matches(tacl__coll_t kind, const char *s, size_t n)
{
    const char *name = tacl__coll_name(kind);
    char squashed[32];
    size_t k = 0;
    for (const char *p = name; *p && k + 1 < sizeof squashed; p++)
        if (*p != '_') squashed[k++] = *p;
    squashed[k] = '\0';
    return (strlen(name) == n && !strncasecmp(s, name, n)) ||
           (k == n && !strncasecmp(s, squashed, n));
}

static coll_algo_t select_parse_forced(tacl__coll_t kind)
{
    const char *v = tacl__setting_str(TACL_SET_ALGO);
    if (!v[0]) return COLL_ALGO_AUTO;
    coll_algo_t any = COLL_ALGO_AUTO;
    const char *p = v;
    while (*p) {
        size_t len = strcspn(p, ";");
        const char *colon = memchr(p, ':', len);
        if (colon) {
            if (select_coll_matches(kind, p, (size_t)(colon - p)))
                return select_parse_algo(colon + 1, len - (size_t)(colon - p) - 1);
        } else {
            any = select_parse_algo(p, len);
        }
        p += len;
        if (*p == ';') p++;
    }
    return any;
}

tacl_status_t coll_algo_check(void)
{
    const char *v = tacl__setting_str(TACL_SET_ALGO);
    const char *p = v;
    while (*p) {
        size_t len = strcspn(p, ";");
        const char *colon = memchr(p, ':', len);
        const char *algo = colon ? colon + 1 : p;
        size_t alen = colon ? len - (size_t)(colon - p) - 1 : len;
        int coll_ok = !colon;
        for (int k = 0; k < TACL_COLL_COUNT && !coll_ok; k++)
            coll_ok = select_coll_matches((tacl__coll_t)k, p, (size_t)(colon - p));
        int algo_ok = (alen == 4 && !strncasecmp(algo, "auto", 4)) ||
                      select_parse_algo(algo, alen) != COLL_ALGO_AUTO;
        if (len && (!coll_ok || !algo_ok))
            return tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_COLL,
                             "TACL_ALGO=\"%.200s\": '%.*s' is not %s (expected entries ALGO or "
                             "COLLECTIVE:ALGO separated by ';', ALGO one of shm, ring, rd, rhd, "
                             "tree, multitree, hier, direct, auto; COLLECTIVE e.g. allreduce, "
                             "broadcast, all_gather)",
                             v, (int)(coll_ok ? alen : (size_t)(colon - p)), coll_ok ? algo : p,
                             coll_ok ? "a known algorithm" : "a known collective");
        p += len;
        if (*p == ';') p++;
    }
    return TACL_OK;
}

/* TACL_ALGO is read once per process: every collective call consults it, and a getenv per
 * call would cost more than a small shared-memory all_reduce. */
static pthread_once_t select_once = PTHREAD_ONCE_INIT;
static coll_algo_t select_forced[TACL_COLL_COUNT];

static void select_load(void)
{
    for (int k = 0; k < TACL_COLL_COUNT; k++)
        select_forced[k] = select_parse_forced((tacl__coll_t)k);
}

coll_algo_t coll_algo_forced(tacl__coll_t kind)
{
    pthread_once(&select_once, select_load);
    return (unsigned)kind < TACL_COLL_COUNT ? select_forced[kind] : COLL_ALGO_AUTO;
}

/* Whether algorithm a can run collective kind on c. */
static int select_applies(tacl_comm_t *c, tacl__coll_t kind, coll_algo_t a)
{
    switch (a) {
    case COLL_ALGO_SHM:
        return c->shm != NULL && c->local_size == c->size;
    case COLL_ALGO_RING:
        return kind == TACL_COLL_ALL_REDUCE || kind == TACL_COLL_ALL_GATHER ||
               kind == TACL_COLL_ALL_GATHERV || kind == TACL_COLL_REDUCE_SCATTER;
    case COLL_ALGO_RD:
    case COLL_ALGO_RHD:
        return kind == TACL_COLL_ALL_REDUCE;
    case COLL_ALGO_TREE:
        return kind == TACL_COLL_ALL_REDUCE || kind == TACL_COLL_REDUCE ||
               kind == TACL_COLL_BROADCAST || kind == TACL_COLL_ALL_GATHER ||
               kind == TACL_COLL_ALL_GATHERV || kind == TACL_COLL_REDUCE_SCATTER;
    case COLL_ALGO_HIER:
        return kind == TACL_COLL_ALL_REDUCE && c->nhosts > 1 && c->nhosts < c->size;
    case COLL_ALGO_MULTITREE:
        if (!c->mtree) return 0;
        if (kind == TACL_COLL_ALL_REDUCE) return c->mtree->forest != NULL;
        return kind == TACL_COLL_BROADCAST || kind == TACL_COLL_REDUCE;
    case COLL_ALGO_DIRECT:
        return kind == TACL_COLL_GATHER || kind == TACL_COLL_SCATTER ||
               kind == TACL_COLL_ALL_TO_ALL || kind == TACL_COLL_ALL_TO_ALLV ||
               kind == TACL_COLL_BARRIER;
    default:
        return 0;
    }
}

coll_algo_t coll_select(tacl_comm_t *c, const coll_args_t *a, const char **why)
{
    coll_algo_t forced = coll_algo_forced(a->kind);
    if (forced != COLL_ALGO_AUTO) {
        if (select_applies(c, a->kind, forced)) {
            *why = "forced by TACL_ALGO";
            return forced;
        }
        *why = "TACL_ALGO's choice does not apply here; default used";
    }
    size_t bytes = a->count * a->esz;
    if (select_applies(c, a->kind, COLL_ALGO_SHM)) {
        if (!*why || !**why) *why = "all ranks on one host";
        return COLL_ALGO_SHM;
    }
    switch (a->kind) {
    case TACL_COLL_ALL_REDUCE:
        if (select_applies(c, a->kind, COLL_ALGO_HIER)) {
            *why = "several hosts with several ranks: shm inside hosts, leaders across";
            return COLL_ALGO_HIER;
        }
        if (c->full_mesh && bytes < SELECT_SMALL_BYTES) {
            *why = "small message on a full mesh";
            return COLL_ALGO_RD;
        }
        if (c->full_mesh && bytes < SELECT_RHD_BYTES) {
            *why = "medium message on a full mesh";
            return COLL_ALGO_RHD;
        }
        if (c->ring_direct) {
            *why = c->full_mesh ? "large message on a full mesh" : "ring on a Hamiltonian cycle";
            return COLL_ALGO_RING;
        }
        if (c->mtree && c->mtree->forest && bytes >= SELECT_MTREE_BYTES) {
            *why = "no ring of direct links; trees packed by bandwidth beat one tree";
            return COLL_ALGO_MULTITREE;
        }
        *why = "no ring of direct links: pipelined tree at the graph's centre";
        return COLL_ALGO_TREE;
    case TACL_COLL_ALL_GATHER:
    case TACL_COLL_ALL_GATHERV:
    case TACL_COLL_REDUCE_SCATTER:
        if (c->ring_direct) {
            *why = "ring of direct links";
            return COLL_ALGO_RING;
        }
        *why = "no ring of direct links: tree at the graph's centre";
        return COLL_ALGO_TREE;
    case TACL_COLL_REDUCE:
    case TACL_COLL_BROADCAST:
        if (c->mtree && bytes >= SELECT_MTREE_BYTES && coll_mtree_rooted(c, a->root)) {
            *why = "trees from the root packed by bandwidth beat one tree";
            return COLL_ALGO_MULTITREE;
        }
        *why = "pipelined tree";
        return COLL_ALGO_TREE;
    default:
        *why = "direct exchange (routed where no link exists)";
        return COLL_ALGO_DIRECT;
    }
}
