/* select.c — which registry row runs a collective. TACL_ALGO forces one ("ring", or per
 * collective "allreduce:tree;broadcast:tree"): an entry naming a collective forces that
 * collective, a bare algorithm every collective it runs; a forced algorithm that cannot run
 * on the communicator fails the call with TACL_ERR_INVALID naming both (the host leaders'
 * communicator inside a hierarchical call chooses for itself instead). Otherwise the rows
 * that run the collective and apply to the communicator are scored by the cost model
 * (algo_cost.c) at the call's size class (a power of two of model bytes) and the fastest wins,
 * a later row only when at least COST_TIE faster than the best earlier one. The choice is kept
 * per (communicator, collective, size class; root where the graph makes it matter) and logged
 * once with its prediction and the others' (INFO on rank 0, DEBUG elsewhere). Every input is
 * identical on every rank, so every rank chooses alike. */
#include "coll/algo_cost.h"
#include "coll/algo_registry.h"
#include "coll/coll.h"
#include "settings.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

/* The algorithm TACL_ALGO forces for kind; *named: an entry names the collective. */
static coll_algo_t select_parse_forced(tacl__coll_t kind, int *named)
{
    const char *v = tacl__setting_str(TACL_SET_ALGO);
    coll_algo_t any = COLL_ALGO_AUTO;
    const char *p = v;
    *named = 0;
    while (*p) {
        size_t len = strcspn(p, ";");
        const char *colon = memchr(p, ':', len);
        if (colon) {
            if (select_coll_matches(kind, p, (size_t)(colon - p))) {
                *named = 1;
                return coll_algo_parse(colon + 1, len - (size_t)(colon - p) - 1);
            }
        } else {
            any = coll_algo_parse(p, len);
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
        int coll = -1;
        for (int k = 0; k < TACL_COLL_COUNT && colon && coll < 0; k++)
            if (select_coll_matches((tacl__coll_t)k, p, (size_t)(colon - p))) coll = k;
        int is_auto = alen == 4 && !strncasecmp(algo, "auto", 4);
        coll_algo_t id = coll_algo_parse(algo, alen);
        if (len && ((colon && coll < 0) || (!is_auto && id == COLL_ALGO_AUTO)))
            return tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_COLL,
                             "TACL_ALGO=\"%.200s\": '%.*s' is not %s (expected entries ALGO or "
                             "COLLECTIVE:ALGO separated by ';', ALGO one of shm, ring, rd, rhd, "
                             "tree, multitree, hier, direct, auto; COLLECTIVE e.g. allreduce, "
                             "broadcast, all_gather)",
                             v, (int)(colon && coll < 0 ? (size_t)(colon - p) : alen),
                             colon && coll < 0 ? p : algo,
                             colon && coll < 0 ? "a known collective" : "a known algorithm");
        if (len && coll >= 0 && !is_auto && !coll_algo_row(id)->run[coll]) {
            char runs[160] = "";
            size_t o = 0;
            for (int k = 0; k < TACL_COLL_COUNT; k++)
                if (coll_algo_row(id)->run[k] && o < sizeof runs)
                    o += (size_t)snprintf(runs + o, sizeof runs - o, "%s%s", o ? ", " : "",
                                          tacl__coll_name((uint32_t)k));
            return tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_COLL,
                             "TACL_ALGO=\"%.200s\": algorithm '%s' does not run %s (it runs %s)", v,
                             coll_algo_name(id), tacl__coll_name((uint32_t)coll), runs);
        }
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
    for (int k = 0; k < TACL_COLL_COUNT; k++) {
        int named;
        coll_algo_t id = select_parse_forced((tacl__coll_t)k, &named);
        /* A bare algorithm forces the collectives it runs; the others choose by the model. */
        if (id != COLL_ALGO_AUTO && !named && !coll_algo_row(id)->run[k]) id = COLL_ALGO_AUTO;
        select_forced[k] = id;
    }
}

coll_algo_t coll_algo_forced(tacl__coll_t kind)
{
    pthread_once(&select_once, select_load);
    return (unsigned)kind < TACL_COLL_COUNT ? select_forced[kind] : COLL_ALGO_AUTO;
}

int coll_size_class(double bytes)
{
    if (!(bytes >= 1)) return 0;
    uint64_t b = bytes < 0x1p63 ? (uint64_t)bytes : UINT64_MAX;
    int k = 64 - __builtin_clzll(b); /* every call asks: no libm here */
    return k < COLL_SIZE_CLASSES ? k : COLL_SIZE_CLASSES - 1;
}

double coll_size_class_bytes(int k)
{
    return k <= 0 ? 0 : ldexp(M_SQRT2, k - 1);
}

/* The model's choice among the applicable rows; times[] (per registry row, INFINITY where a
 * row does not run or apply) for the log. */
static const coll_algo_row_t *select_score(tacl_comm_t *c, const coll_args_t *a, double bytes,
                                           double *times, double *best_t)
{
    const coll_algo_row_t *best = NULL;
    *best_t = INFINITY;
    for (int i = 0; i < coll_algo_nrows; i++) {
        const coll_algo_row_t *r = &coll_algo_rows[i];
        const char *why_not = "";
        double t = INFINITY;
        if (r->run[a->kind] && r->applies(c, a, &why_not)) t = r->predict(c, a, bytes);
        if (times) times[i] = t;
        if (!isfinite(t)) continue;
        if (!best || t < *best_t * (1 - COST_TIE)) {
            best = r;
            *best_t = t;
        }
    }
    return best;
}

double coll_select_scores(tacl_comm_t *c, const coll_args_t *a, double bytes, double *times)
{
    double t;
    (void)select_score(c, a, bytes, times, &t);
    return t;
}

static void select_log(tacl_comm_t *c, const coll_args_t *a, int k, const coll_pick_t *p,
                       const double *times)
{
    char others[512] = "";
    size_t o = 0;
    for (int i = 0; times && i < coll_algo_nrows && o < sizeof others; i++) {
        if (!coll_algo_rows[i].run[a->kind] || &coll_algo_rows[i] == p->row) continue;
        if (isfinite(times[i]))
            o += (size_t)snprintf(others + o, sizeof others - o, "%s%s %.3g s", o ? ", " : "",
                                  coll_algo_rows[i].name, times[i]);
        else
            o += (size_t)snprintf(others + o, sizeof others - o, "%s%s -", o ? ", " : "",
                                  coll_algo_rows[i].name);
    }
    char root[24] = "";
    if (coll_kind(a->kind)->rooted) snprintf(root, sizeof root, ", root %d", a->root);
    char sizes[64] = "0 bytes";
    if (k) snprintf(sizes, sizeof sizes, "%.0f to %.0f bytes", ldexp(1, k - 1), ldexp(1, k) - 1);
    int lvl = c->rank == 0 ? TACL_LOG_INFO : TACL_LOG_DEBUG;
    TACL_LOG_AT_(lvl, TACL_SUB_COLL,
                 "communicator %llx (%d ranks, %d host%s): %s of %s%s: %s (%s; %s), predicted "
                 "%.3g s at %.0f bytes; others: %s",
                 (unsigned long long)c->id, c->size, c->nhosts, c->nhosts == 1 ? "" : "s",
                 tacl__coll_name(a->kind), sizes, root, p->row->name, p->row->about, p->why,
                 p->predicted_s, coll_size_class_bytes(k), others[0] ? others : "none");
}

tacl_status_t coll_select(tacl_comm_t *c, const coll_args_t *a, coll_pick_t *out)
{
    double bytes = coll_model_bytes(c, a);
    int k = coll_size_class(bytes);
    int rooted_here = coll_kind(a->kind)->rooted && !c->full_mesh;
    coll_pick_cache_t *e = &c->picks[a->kind][k];
    int root = rooted_here ? a->root : -1;
    coll_algo_t forced = coll_algo_forced(a->kind);
    if (forced != COLL_ALGO_AUTO) {
        const coll_algo_row_t *r = coll_algo_row(forced);
        const char *why_not = "";
        if (!r->run[a->kind]) why_not = "it does not run this collective";
        if (r->run[a->kind] && r->applies(c, a, &why_not)) {
            /* The class's entry holds the forced row's prediction (nothing else is chosen for
             * this collective here while TACL_ALGO forces it). */
            signed char idx = (signed char)(r - coll_algo_rows + 1);
            if (e->algo != idx || e->root != root)
                *e = (coll_pick_cache_t){idx, root, r->predict(c, a, coll_size_class_bytes(k))};
            out->row = r;
            out->why = "forced by TACL_ALGO";
            out->predicted_s = e->predicted_s;
            if (!(c->picks_logged[a->kind] >> k & 1)) {
                c->picks_logged[a->kind] |= 1ull << k;
                select_log(c, a, k, out, NULL);
            }
            return TACL_OK;
        }
        if (!a->nested)
            return tacl__err(&c->err, TACL_ERR_INVALID, TACL_SUB_COLL,
                             "%s: TACL_ALGO forces '%s', which cannot run %s on this "
                             "communicator (%d ranks on %d hosts): %s",
                             tacl__coll_name(a->kind), r->name, tacl__coll_name(a->kind), c->size,
                             c->nhosts, why_not);
    }
    if (e->algo && e->root == root) {
        out->row = &coll_algo_rows[e->algo - 1];
        out->predicted_s = e->predicted_s;
        out->why = "fastest by the cost model";
        return TACL_OK;
    }
    double times[COLL_ALGO_COUNT + 1], t;
    const coll_algo_row_t *r = select_score(c, a, coll_size_class_bytes(k), times, &t);
    if (!r)
        return tacl__err(&c->err, TACL_ERR_INTERNAL, TACL_SUB_COLL,
                         "%s: no algorithm runs it on this communicator", tacl__coll_name(a->kind));
    *e = (coll_pick_cache_t){(signed char)(r - coll_algo_rows + 1), root, t};
    out->row = r;
    out->predicted_s = t;
    out->why = "fastest by the cost model";
    if (!(c->picks_logged[a->kind] >> k & 1)) {
        c->picks_logged[a->kind] |= 1ull << k;
        select_log(c, a, k, out, times);
    }
    return TACL_OK;
}
