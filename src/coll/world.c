/* world.c — tacl_init: from the launcher's variables to a connected world communicator.
 * Bootstrap (who am I), host identity, the meeting through the store (agreement on run and
 * size), the engine (links probed to every peer, reachability agreed by all), the check that
 * the graph is connected (else an error listing its components on every rank), routes, and
 * the world communicator. world_release undoes it when the last communicator goes. */
#include "coll/coll.h"
#include "coll/doctor.h"
#include "boot/store_coll.h"
#include "boot/store_int.h"
#include "boot/world.h"
#include "clock.h"
#include "settings.h"
#include "topo/graph.h"
#include "topo/route.h"
#include "topo/topofile.h"
#include "transport/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether the matrix links every pair (the graph below reads its upper triangle). */
static int world_reach_complete(const tacl__world_t *w)
{
    size_t n = (size_t)w->size;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *row = w->reach + i * n;
        for (size_t j = i + 1; j < n; j++)
            if (!row[j]) return 0;
    }
    return 1;
}

/* Every rank holds the same matrix, so every rank reaches the same verdict and message. The
 * routes for large transfers become the engine's forwarding table. With allow_disconnected
 * (the doctor), a graph of several components is reported through *ncomp instead of failing,
 * and only direct links get a next hop. */
static tacl_status_t world_graph(tacl__world_t *w, int allow_disconnected, int *ncomp_out,
                                 tacl__errbuf_t *eb)
{
    int n = w->size;
    tacl__graph_t *g = NULL;
    tacl__routes_t *routes = NULL;
    int *comp = NULL, ncomp = 0;
    if (world_reach_complete(w)) {
        /* A full mesh of equal links: one component, every route direct. The graph and its
         * routes would cost 4 n^2 doubles and seconds of CPU per rank at thousands of ranks. */
        *ncomp_out = 1;
        for (int d = 0; d < n; d++)
            w->next_hop[d] = d;
        return TACL_OK;
    }
    TACL_CHECK(tacl__graph_create(n, &g));
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (w->reach[(size_t)i * (size_t)n + (size_t)j]) tacl__graph_add_link(g, i, j, 1e9, 0);
    tacl_status_t st = TACL_OK;
    comp = malloc((size_t)n * sizeof *comp);
    if (!comp) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_TOPO, "out of memory");
        goto out;
    }
    tacl__graph_components(g, comp, &ncomp);
    *ncomp_out = ncomp;
    if (ncomp > 1 && allow_disconnected) {
        for (int d = 0; d < n; d++)
            w->next_hop[d] = w->reach[(size_t)w->rank * (size_t)n + (size_t)d] ? d : -1;
        goto out;
    }
    if (ncomp > 1) {
        char msg[TACL_ERRMSG_MAX];
        size_t o = (size_t)snprintf(
            msg, sizeof msg, "the reachability graph of %d ranks has %d components:", n, ncomp);
        for (int k = 0; k < ncomp && o < sizeof msg; k++) {
            o += (size_t)snprintf(msg + o, sizeof msg - o, " {");
            int firstr = 1;
            for (int j = 0; j < n && o < sizeof msg; j++) {
                if (comp[j] != k) continue;
                o += (size_t)snprintf(msg + o, sizeof msg - o, "%s%d (%s)", firstr ? "" : ", ", j,
                                      w->host_ids[j]);
                firstr = 0;
            }
            if (o < sizeof msg) o += (size_t)snprintf(msg + o, sizeof msg - o, "}");
        }
        st = tacl__err(eb, TACL_ERR_DISCONNECTED, TACL_SUB_TOPO,
                       "%s; no rank of one component can reach any of another (check routes, "
                       "firewalls, TACL_SOCKET_IFNAME, TACL_TOPO_FILE)",
                       msg);
        goto out;
    }
    st = tacl__routes_build(g, &routes, eb);
    if (st != TACL_OK) goto out;
    for (int d = 0; d < n; d++)
        w->next_hop[d] = tacl__routes_next_hop(routes, TACL_ROUTE_LARGE, w->rank, d);
out:
    if (routes) tacl__routes_destroy(routes);
    free(comp);
    tacl__graph_destroy(g);
    return st;
}

/* TACL_TOPO: probe (default), file (TACL_TOPO_FILE; also chosen when only TACL_TOPO_FILE is
 * set) or full (the engine then connects every pair with the whole init timeout instead of
 * the short probe timeout, and fails init naming the first pair that cannot connect). The
 * file's links become the engine's allowed pairs and the graph's weights. */
static tacl_status_t world_topo_mode(tacl__world_t *w, const char *const *ids,
                                     tacl__topo_links_t *tl, tacl__errbuf_t *eb)
{
    const char *mode = tacl__setting_str(TACL_SET_TOPO);
    if (!tacl__setting_is_set(TACL_SET_TOPO) && tacl__setting_str(TACL_SET_TOPO_FILE)[0])
        mode = "file";
    if (!strcmp(mode, "file"))
        return tacl__topo_file_links(tacl__setting_str(TACL_SET_TOPO_FILE), w->size, ids, tl, eb);
    if (!strcmp(mode, "full")) return TACL_OK;
    if (strcmp(mode, "probe"))
        return tacl__err(eb, TACL_ERR_CONFIG, TACL_SUB_TOPO,
                         "TACL_TOPO: expected probe, file or full, found '%s'", mode);
    return TACL_OK;
}

/* Measured links listed one by one up to this many ranks; beyond, a summary. */
#define WORLD_MEASURE_LIST_MAX 32

static int world_dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Rank 0's log of the measured links: each one, or for many ranks the spread of bandwidth and
 * latency and the slowest links. */
static void world_log_links(const tacl__world_t *w)
{
    size_t n = (size_t)w->size, k = 0;
    if (n <= WORLD_MEASURE_LIST_MAX) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (w->link_bw[i * n + j] > 0)
                    TACL_INFO(TACL_SUB_TOPO, "  link %zu-%zu: %.4g MB/s, latency %.1f us", i, j,
                              w->link_bw[i * n + j] * 1e-6, w->link_lat[i * n + j] * 1e6);
        return;
    }
    double *bw = malloc(n * (n - 1) / 2 * sizeof *bw), *lat = malloc(n * (n - 1) / 2 * sizeof *lat);
    if (!bw || !lat) goto out;
    double slow = 0;
    size_t si = 0, sj = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (w->link_bw[i * n + j] > 0) {
                bw[k] = w->link_bw[i * n + j];
                lat[k++] = w->link_lat[i * n + j];
                if (!slow || w->link_bw[i * n + j] < slow) {
                    slow = w->link_bw[i * n + j];
                    si = i;
                    sj = j;
                }
            }
    if (!k) goto out;
    qsort(bw, k, sizeof *bw, world_dbl_cmp);
    qsort(lat, k, sizeof *lat, world_dbl_cmp);
    TACL_INFO(TACL_SUB_TOPO,
              "  %zu links: bandwidth min %.4g, median %.4g, max %.4g MB/s; latency min %.1f, "
              "median %.1f, max %.1f us; slowest link %zu-%zu (%s - %s)",
              k, bw[0] * 1e-6, bw[k / 2] * 1e-6, bw[k - 1] * 1e-6, lat[0] * 1e6, lat[k / 2] * 1e6,
              lat[k - 1] * 1e6, si, sj, w->host_ids[si], w->host_ids[sj]);
out:
    free(bw);
    free(lat);
}

/* After probing: pairs a file declared that did not connect (rank 0 warns), the weights kept
 * for the communicators, and TACL_TOPO_MEASURE's figures replacing them. */
static tacl_status_t world_topo_links(tacl__world_t *w, tacl__topo_links_t *tl, tacl__errbuf_t *eb)
{
    size_t n = (size_t)w->size;
    if (tl->allowed && w->rank == 0)
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (tl->allowed[i * n + j] && !w->reach[i * n + j])
                    TACL_WARN(TACL_SUB_TOPO,
                              "TACL_TOPO_FILE links rank %zu (%s) and rank %zu (%s) but they "
                              "could not connect: %s",
                              i, w->host_ids[i], j, w->host_ids[j],
                              tacl__engine_link_info(w->engine, (int)j));
    if (tl->bw) {
        w->link_bw = tl->bw;
        w->link_lat = tl->lat;
        tl->bw = tl->lat = NULL;
    }
    /* TACL_TOPO_MEASURE times every pair of ranks, in n - 1 rounds, and every rank keeps the
     * n x n figures: beyond TACL_TOPO_MEASURE_MAX_RANKS that is minutes and gigabytes. */
    long max_ranks = tacl__setting_int(TACL_SET_TOPO_MEASURE_MAX_RANKS);
    if (tacl__setting_bool(TACL_SET_TOPO_MEASURE) && w->size > max_ranks) {
        if (w->rank == 0)
            TACL_WARN(TACL_SUB_TOPO,
                      "TACL_TOPO_MEASURE: links not measured: %d ranks is more than "
                      "TACL_TOPO_MEASURE_MAX_RANKS=%ld (it times every pair of ranks in %d rounds "
                      "and gives every rank the %d x %d figures); the %s link figures are used. "
                      "Describe measured links in TACL_TOPO_FILE instead (tacl doctor --json "
                      "measures them)",
                      w->size, max_ranks, w->size - 1, w->size, w->size,
                      w->link_bw ? "declared" : "default");
    } else if (tacl__setting_bool(TACL_SET_TOPO_MEASURE) && w->size > 1) {
        tacl__topo_links_t m = {0};
        uint64_t t0 = tacl__now_ns();
        TACL_CHECK(tacl__topo_measure(w->engine, &w->boot->xchg, w->reach,
                                      (size_t)tacl__setting_int(TACL_SET_TOPO_MEASURE_BYTES),
                                      w->timeout_s, &m, eb));
        free(w->link_bw);
        free(w->link_lat);
        w->link_bw = m.bw;
        w->link_lat = m.lat;
        m.bw = m.lat = NULL;
        tacl__topo_links_free(&m);
        if (w->rank == 0) {
            TACL_INFO(TACL_SUB_TOPO,
                      "links measured in %.3f s:", (double)(tacl__now_ns() - t0) * 1e-9);
            world_log_links(w);
        }
    }
    return TACL_OK;
}

static tacl_status_t world_hosts(tacl__world_t *w)
{
    int n = w->size;
    w->host_ids = calloc((size_t)n, sizeof *w->host_ids);
    w->host_of = malloc((size_t)n * sizeof *w->host_of);
    if (!w->host_ids || !w->host_of) return TACL_ERR_NOMEM;
    w->nhosts = 0;
    for (int r = 0; r < n; r++) {
        snprintf(w->host_ids[r], TACL_HOST_ID_MAX, "%s", w->boot->host_ids[r]);
        w->host_of[r] = -1;
        for (int q = 0; q < r; q++)
            if (!strcmp(w->host_ids[q], w->host_ids[r])) {
                w->host_of[r] = w->host_of[q];
                break;
            }
        if (w->host_of[r] < 0) w->host_of[r] = w->nhosts++;
    }
    return TACL_OK;
}

/* The first rank, if any, that this rank knows to be lost or stalled; -1 when none. */
static int world_first_lost(tacl__world_t *w)
{
    for (int r = 0; r < w->size; r++)
        if (!tacl__engine_peer_alive(w->engine, r)) return r;
    return -1;
}

/* Leaving is collective, like MPI_Finalize: a rank that closed its links while others still
 * route through it would look like a lost peer to them. The ranks meet at the store first:
 * each counts itself in, the last one in says go. The wait goes in slices of
 * WORLD_QUIESCE_SLICE_S; while every peer is alive it lasts until go (or the timeout), so ranks
 * that are merely slow (a loaded CPU, hundreds of ranks on few cores) are waited for. Once this
 * rank knows a peer lost or stalled, go may never come: it then waits only while others are
 * still arriving, and leaves after WORLD_QUIESCE_IDLE_S without a new arrival, naming the
 * first rank it knows lost and how many never came. Skipped when the store already failed to
 * answer. Returns 1 when the ranks did not all meet (a peer lost or the store unusable). */
#define WORLD_QUIESCE_SLICE_S 1.0
#define WORLD_QUIESCE_IDLE_S  1.5
#define WORLD_QUIESCE_CALL_S  10.0
static int world_quiesce(tacl__world_t *w)
{
    tacl_store_t *st = w->boot->store;
    if (boot_store_broken(st)) {
        TACL_WARN(TACL_SUB_INIT,
                  "rank %d: leaving without a barrier: the store at %s stopped "
                  "answering earlier",
                  w->rank, boot_store_addr(st));
        return 1;
    }
    char nkey[sizeof w->boot->prefix + 16], gokey[sizeof w->boot->prefix + 16];
    snprintf(nkey, sizeof nkey, "%sleave/n", w->boot->prefix);
    snprintf(gokey, sizeof gokey, "%sleave/go", w->boot->prefix);
    uint64_t deadline = tacl__deadline_ns(w->timeout_s);
    /* Arriving is quick on a working store, even a loaded one; a store silent for this long
     * has stopped answering. */
    tacl_store_set_timeout(st, w->timeout_s < WORLD_QUIESCE_CALL_S ? w->timeout_s
                                                                   : WORLD_QUIESCE_CALL_S);
    int64_t arrived = 0, seen = 0;
    tacl_status_t rc = tacl_store_add(st, nkey, 1, &arrived);
    if (rc == TACL_OK && arrived >= w->size) rc = tacl_store_set(st, gokey, "1", 1);
    seen = arrived;
    uint64_t last_arrival = tacl__now_ns();
    const char *keys[] = {gokey};
    while (rc == TACL_OK && arrived < w->size) {
        tacl_store_set_timeout(st, WORLD_QUIESCE_SLICE_S);
        rc = tacl_store_wait(st, keys, 1);
        if (rc == TACL_OK) break;
        if (rc != TACL_ERR_TIMEOUT || boot_store_broken(st)) break;
        rc = TACL_OK;
        if (tacl__now_ns() >= deadline) {
            rc = TACL_ERR_TIMEOUT;
            break;
        }
        int lost = world_first_lost(w);
        if (lost < 0) continue;
        int64_t now_in = seen;
        tacl_store_set_timeout(st, WORLD_QUIESCE_CALL_S);
        if (tacl_store_add(st, nkey, 0, &now_in) == TACL_OK && now_in > seen) {
            seen = now_in;
            last_arrival = tacl__now_ns();
        }
        if (tacl__now_ns() - last_arrival >= (uint64_t)(WORLD_QUIESCE_IDLE_S * 1e9)) {
            TACL_WARN(TACL_SUB_INIT,
                      "rank %d: leaving without rank %d (lost or stalled): %lld of %d ranks "
                      "arrived to leave, none more for %.1f s",
                      w->rank, lost, (long long)seen, w->size, WORLD_QUIESCE_IDLE_S);
            return 1;
        }
    }
    if (rc != TACL_OK)
        TACL_WARN(TACL_SUB_INIT, "rank %d: leaving without every rank: %s", w->rank,
                  tacl_store_last_error(st));
    return rc != TACL_OK;
}

void world_release(tacl__world_t *w)
{
    if (!w) return;
    int incomplete = w->engine && w->boot ? world_quiesce(w) : 0;
    if (w->engine) tacl__engine_destroy(w->engine);
    if (w->boot) {
        w->boot->incomplete = incomplete;
        boot_world_leave(w->boot);
        free(w->boot);
    }
    free(w->host_ids);
    free(w->host_of);
    free(w->reach);
    free(w->next_hop);
    free(w->link_bw);
    free(w->link_lat);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* TACL_REDUCE_ISA names a family (a CPU that lacks it falls back with a warning, later). */
static tacl_status_t world_check_isa(void)
{
    const char *v = tacl__setting_str(TACL_SET_REDUCE_ISA);
    static const char *const ok[] = {"auto", "scalar", "avx2", "avx512"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(v, ok[i])) return TACL_OK;
    return tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_INIT,
                     "TACL_REDUCE_ISA=\"%.64s\": expected auto, scalar, avx2 or avx512", v);
}

/* The world without its communicator: bootstrap, store, engine, agreed reachability matrix
 * and routes. tacl_init fails on a disconnected graph; the doctor (allow_disconnected = 1)
 * gets the world anyway, with *ncomp > 1 and next hops for direct links only. *out is set
 * only on success; undo with world_release (or let the world communicator own it). */
tacl_status_t world_open(const tacl_init_opts_t *opts, int allow_disconnected, tacl__world_t **out,
                         int *ncomp, tacl__errbuf_t *eb)
{
    tacl__world_t *w = calloc(1, sizeof *w);
    tacl_status_t st;
    char host_id[TACL_HOST_ID_MAX];
    if (!w) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_INIT, "out of memory");
    pthread_mutex_init(&w->lock, NULL);
    /* Durations are checked before anything waits on them: 0 or -1 would otherwise fail much
     * later with an unrelated error. */
    static const tacl__setting_id_t secs[] = {TACL_SET_TIMEOUT, TACL_SET_STORE_TIMEOUT,
                                              TACL_SET_HEARTBEAT, TACL_SET_PROBE_TIMEOUT};
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        st = (tacl_status_t)tacl__setting_check_seconds(secs[i], 0);
        if (st != TACL_OK) goto err;
    }
    st = (tacl_status_t)tacl__setting_check_seconds(TACL_SET_STORE_LEAVE_GRACE, 1);
    if (st == TACL_OK) st = coll_algo_check();
    if (st == TACL_OK) st = world_check_isa();
    if (st != TACL_OK) goto err;
    w->timeout_s =
        opts && opts->timeout_s > 0 ? opts->timeout_s : tacl__setting_dbl(TACL_SET_TIMEOUT);
    if (opts && opts->bootstrap) {
        w->bs = *opts->bootstrap;
    } else {
        st = tacl_bootstrap_from_env(&w->bs);
        if (st != TACL_OK) goto err;
    }
    st = tacl_host_id(host_id, sizeof host_id);
    if (st != TACL_OK) goto err;
    w->rank = w->bs.rank;
    w->size = w->bs.size;
    tacl__log_set_rank(w->rank);
    uint64_t t0 = tacl__now_ns();
    w->boot = calloc(1, sizeof *w->boot);
    if (!w->boot) goto err_nomem;
    st = boot_world_join(&w->bs, host_id, 0, w->boot, eb);
    if (st != TACL_OK) {
        free(w->boot);
        w->boot = NULL;
        goto err;
    }
    if (world_hosts(w) != TACL_OK) goto err_nomem;
    const char **ids = malloc((size_t)w->size * sizeof *ids);
    if (!ids) goto err_nomem;
    for (int r = 0; r < w->size; r++)
        ids[r] = w->host_ids[r];
    tacl__topo_links_t tl = {0};
    st = world_topo_mode(w, ids, &tl, eb);
    if (st != TACL_OK) {
        free(ids);
        goto err;
    }
    tacl__engine_config_t ecfg = {
        .rank = w->rank,
        .size = w->size,
        .xchg = &w->boot->xchg,
        .host_ids = ids,
        .probe_timeout_s = tacl__setting_dbl(TACL_SET_PROBE_TIMEOUT),
        .timeout_s = w->timeout_s,
        .allowed = tl.allowed,
    };
    st = tacl__engine_create(&ecfg, &w->engine, eb);
    free(ids);
    if (st != TACL_OK) {
        tacl__topo_links_free(&tl);
        goto err;
    }
    size_t n = (size_t)w->size;
    w->reach = malloc(n * n);
    w->next_hop = malloc(n * sizeof *w->next_hop);
    if (!w->reach || !w->next_hop) {
        tacl__topo_links_free(&tl);
        goto err_nomem;
    }
    memcpy(w->reach, tacl__engine_reach(w->engine), n * n);
    for (size_t i = 0; i < n; i++)
        w->reach[i * n + i] = 1;
    int nc = 1;
    st = world_graph(w, allow_disconnected, &nc, eb);
    if (st != TACL_OK) {
        tacl__topo_links_free(&tl);
        goto err;
    }
    st = tacl__engine_set_routes(w->engine, w->next_hop);
    if (st == TACL_OK) st = world_topo_links(w, &tl, eb);
    tacl__topo_links_free(&tl);
    /* Relays drop fragments for destinations they have no route to yet: nobody sends a
     * routed message before every rank has its routes. */
    if (st == TACL_OK) st = boot_store_barrier(&w->boot->xctx, eb);
    if (st != TACL_OK) goto err;
    TACL_DEBUG(TACL_SUB_INIT, "rank %d: world of %d ranks (%d component%s) joined in %.3f s",
               w->rank, w->size, nc, nc == 1 ? "" : "s", (double)(tacl__now_ns() - t0) * 1e-9);
    *ncomp = nc;
    *out = w;
    return TACL_OK;

err_nomem:
    st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_INIT, "out of memory");
err:
    world_release(w);
    return st;
}

/* The world communicator over every rank of w; on success it owns w. */
tacl_status_t world_comm_create(tacl__world_t *w, tacl_comm_t **out, tacl__errbuf_t *eb)
{
    int *all = malloc((size_t)w->size * sizeof *all);
    if (!all) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_INIT, "out of memory");
    for (int r = 0; r < w->size; r++)
        all[r] = r;
    tacl_comm_t *world;
    tacl_status_t st = comm_create(w, 0, all, w->size, w->timeout_s, &world, eb);
    free(all);
    if (st != TACL_OK) return st;
    TACL_INFO(TACL_SUB_INIT, "rank %d of %d (local %d of %d) on %s: world ready; %s", w->rank,
              w->size, world->local_rank, world->local_size, w->host_ids[w->rank],
              world->sched_reason);
    *out = world;
    return TACL_OK;
}

tacl_status_t tacl_init_opts(const tacl_init_opts_t *opts, tacl_comm_t **out)
{
    tacl__errbuf_t *eb = NULL; /* no handle yet: the thread-local message */
    if (!out) return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_INIT, "tacl_init: out is NULL");
    tacl__world_t *w;
    int ncomp;
    TACL_CHECK(world_open(opts, 0, &w, &ncomp, eb));
    tacl_status_t st = world_comm_create(w, out, eb);
    if (st != TACL_OK) world_release(w);
    return st;
}

tacl_status_t tacl_init(tacl_comm_t **world)
{
    return tacl_init_opts(NULL, world);
}
