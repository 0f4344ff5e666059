/* calib.c — measured constants for the cost model: fitting t = alpha + f(n) * bytes / busbw to
 * `tacl bench` output (JSON lines or its table, host or GPU runs, eager or CUDA-graph), to
 * two-column "size time" tables, or to the link figures `tacl doctor --json` measured; reading
 * and writing the calibration file that `tacl plan --calibration` takes; and turning fits into
 * the constants of docs/COST_MODEL.md. Every reader names file:line and what it expected. */
#include "plan/plan.h"
#include "topo/cluster_file.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const calib_names[TACL_PRED_NCOLL] = {
    "all_reduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all", "sendrecv"};

const char *tacl__pred_coll_name(tacl__pred_coll_t k)
{
    return k >= 0 && k < TACL_PRED_NCOLL ? calib_names[k] : "?";
}

int tacl__pred_coll_parse(const char *s)
{
    static const struct {
        const char *alias;
        int k;
    } aliases[] = {{"allreduce", 0},     {"ar", 0},        {"allgather", 1}, {"ag", 1},
                   {"reducescatter", 2}, {"rs", 2},        {"bcast", 3},     {"alltoall", 4},
                   {"a2a", 4},           {"send_recv", 5}, {"p2p", 5},       {"send", 5}};
    if (!s) return -1;
    for (int k = 0; k < TACL_PRED_NCOLL; k++)
        if (!strcasecmp(s, calib_names[k])) return k;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcasecmp(s, aliases[i].alias)) return aliases[i].k;
    return -1;
}

double tacl__pred_busfactor(tacl__pred_coll_t k, int n)
{
    if (n <= 1) return k == TACL_PRED_SENDRECV ? 1 : 0;
    switch (k) {
    case TACL_PRED_ALL_REDUCE:
        return 2.0 * (n - 1) / n;
    case TACL_PRED_ALL_GATHER:
    case TACL_PRED_REDUCE_SCATTER:
    case TACL_PRED_ALL_TO_ALL:
        return (double)(n - 1) / n;
    default:
        return 1;
    }
}

tacl_status_t tacl__calib_fit(tacl__pred_coll_t k, int ranks, const double *bytes, const double *us,
                              int n, tacl__calib_fit_t *out)
{
    double f = tacl__pred_busfactor(k, ranks);
    double s00 = 0, s01 = 0, s11 = 0, b0 = 0, b1 = 0;
    for (int i = 0; i < n; i++) {
        if (!(us[i] > 0)) continue;
        double w = 1 / (us[i] * us[i]), x = f * bytes[i];
        s00 += w, s01 += w * x, s11 += w * x * x;
        b0 += w * us[i], b1 += w * x * us[i];
    }
    double det = s00 * s11 - s01 * s01;
    if (n < 2 || !(f > 0) || !(fabs(det) > 1e-30 * s00 * s11))
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_PLAN,
                         "calibration: %s over %d ranks: expected at least 2 distinct sizes with "
                         "positive times, found %d points",
                         tacl__pred_coll_name(k), ranks, n);
    double a = (b0 * s11 - b1 * s01) / det, slope = (s00 * b1 - s01 * b0) / det; /* us/byte */
    if (slope <= 0) slope = 1e-12; /* flat times: bandwidth beyond what was measured */
    if (a < 0) a = 0;
    tacl__calib_fit_t fit;
    memset(&fit, 0, sizeof fit);
    snprintf(fit.coll, sizeof fit.coll, "%s", tacl__pred_coll_name(k));
    fit.ranks = ranks;
    fit.alpha_us = a;
    fit.busbw_gbs = 1 / (slope * 1e3);
    fit.npoints = n;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double pred = a + f * bytes[i] / (fit.busbw_gbs * 1e3), e = fabs(pred - us[i]) / us[i];
        sum += e;
        if (e > fit.err_max) fit.err_max = e;
    }
    fit.err_mean = sum / n;
    *out = fit;
    return TACL_OK;
}

/* ---- Readers. ---- */

/* A series being collected: one (collective, backend, graph, ranks). */
typedef struct {
    int coll, graph, ranks;
    char backend[8];
    int n;
    double bytes[256], us[256];
} calib_series_t;

static tacl_status_t calib_add_series(tacl__calib_t *cal, const calib_series_t *sr,
                                      const char *file)
{
    if (sr->coll < 0 || sr->n == 0) return TACL_OK;
    if (cal->nfits >= TACL_CALIB_MAX)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_PLAN,
                         "%s: more than %d measured series; expected at most that many", file,
                         TACL_CALIB_MAX);
    tacl__calib_fit_t fit;
    tacl_status_t st = tacl__calib_fit(sr->coll, sr->ranks, sr->bytes, sr->us, sr->n, &fit);
    if (st != TACL_OK) return tacl__err(NULL, st, TACL_SUB_PLAN, "%s: %s", file, tacl_last_error());
    snprintf(fit.backend, sizeof fit.backend, "%s", sr->backend);
    fit.graph = sr->graph;
    fit.hosts = 1;
    cal->fits[cal->nfits++] = fit;
    return TACL_OK;
}

/* Value of "key": in a one-line JSON object (the bench's own output), as text. */
static int calib_jval(const char *line, const char *key, char *buf, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p) return 0;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p == '"') p++;
    size_t i = 0;
    while (*p && *p != '"' && *p != ',' && *p != '}' && i + 1 < len)
        buf[i++] = *p++;
    buf[i] = 0;
    return i > 0;
}

static int calib_same(const calib_series_t *sr, int coll, const char *backend, int graph, int ranks)
{
    return sr->coll == coll && sr->graph == graph && sr->ranks == ranks &&
           !strcmp(sr->backend, backend);
}

tacl_status_t tacl__calib_from_bench(const char *path, tacl__calib_t *cal)
{
    FILE *f = fopen(path, "r");
    if (!f) return tacl__doc_check_file(path);
    calib_series_t *sr = calloc(1, sizeof *sr);
    if (!sr) {
        fclose(f);
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_PLAN, "calibration: out of memory");
    }
    sr->coll = -1;
    char line[2048];
    int lineno = 0, table_time_col = 0, rows = 0;
    tacl_status_t st = TACL_OK;
    while (st == TACL_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char v[64];
        if (line[0] == '{') {
            /* `tacl bench -J`: one object per size. */
            char coll[32] = "", backend[8] = "host", graph[8] = "false", ranks[16] = "",
                 size[32] = "", t[32] = "";
            const char *oop = strstr(line, "\"out_of_place\"");
            if (!calib_jval(line, "collective", coll, sizeof coll) ||
                !calib_jval(line, "ranks", ranks, sizeof ranks) ||
                !calib_jval(line, "size", size, sizeof size) || !oop ||
                !calib_jval(oop, "time_us", t, sizeof t)) {
                st = tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_PLAN,
                               "%s:%d: expected a `tacl bench -J` line with collective, ranks, "
                               "size and out_of_place.time_us",
                               path, lineno);
                break;
            }
            /* The in-place time too: the faster of the two is the less disturbed. */
            const char *ip = strstr(line, "\"in_place\"");
            char t2[32] = "";
            if (ip && calib_jval(ip, "time_us", t2, sizeof t2) && atof(t2) > 0 &&
                atof(t2) < atof(t))
                snprintf(t, sizeof t, "%s", t2);
            calib_jval(line, "backend", backend, sizeof backend);
            calib_jval(line, "graph", graph, sizeof graph);
            int k = tacl__pred_coll_parse(coll), g = !strcmp(graph, "true"), n = atoi(ranks);
            if (k < 0) continue; /* a collective the model does not predict */
            if (!calib_same(sr, k, backend, g, n)) {
                st = calib_add_series(cal, sr, path);
                memset(sr, 0, sizeof *sr);
                sr->coll = k, sr->graph = g, sr->ranks = n;
                snprintf(sr->backend, sizeof sr->backend, "%s", backend);
            }
            if (sr->n < 256 && atof(size) > 0)
                sr->bytes[sr->n] = atof(size), sr->us[sr->n++] = atof(t);
            rows++;
            continue;
        }
        if (line[0] == '#') {
            /* "# tacl bench all_reduce (gpu) (cuda graph): 4 ranks, ..." starts a table whose
             * time is its 6th column (size, count, type, redop, root, time): reading the
             * second column would take the element count for the time. "# nccl all_reduce
             * world=2" / "size(B) time(us)" tables have the time second. */
            const char *b = strstr(line, "tacl bench ");
            if (b) {
                char coll[32] = "";
                int n = 0;
                if (sscanf(b, "tacl bench %31s", coll) == 1) {
                    char *colon = strchr(coll, ':');
                    if (colon) *colon = 0;
                }
                const char *r = strstr(line, ": ");
                if (r) n = atoi(r + 2);
                st = calib_add_series(cal, sr, path);
                memset(sr, 0, sizeof *sr);
                sr->coll = tacl__pred_coll_parse(coll), sr->ranks = n;
                sr->graph = strstr(line, "(cuda graph)") != NULL;
                snprintf(sr->backend, sizeof sr->backend, "%s",
                         strstr(line, "(gpu)") ? "gpu" : "host");
                table_time_col = 6;
            } else if (strstr(line, "all_reduce") || strstr(line, "all_gather") ||
                       strstr(line, "reduce_scatter")) {
                const char *w = strstr(line, "world=");
                const char *names[] = {"all_reduce", "all_gather", "reduce_scatter"};
                int k = -1;
                for (int i = 0; i < 3 && k < 0; i++)
                    if (strstr(line, names[i])) k = tacl__pred_coll_parse(names[i]);
                int n = w ? atoi(w + 6) : 0;
                const char *g = strstr(line, " GPUs");
                if (!n && g) { /* "..., 4 GPUs, eager" */
                    const char *q = g;
                    while (q > line && q[-1] >= '0' && q[-1] <= '9')
                        q--;
                    n = atoi(q);
                }
                st = calib_add_series(cal, sr, path);
                memset(sr, 0, sizeof *sr);
                sr->coll = k, sr->ranks = n, sr->graph = strstr(line, "graph") != NULL;
                snprintf(sr->backend, sizeof sr->backend, "gpu");
                table_time_col = 2;
            } else if (strstr(line, "(elements)") || strstr(line, " count ")) {
                table_time_col = 6;
            }
            continue;
        }
        if (!table_time_col || sr->coll < 0) continue;
        double col[8];
        int nc = sscanf(line, "%lf %lf %*s %*s %lf %lf %*f %*f %*f %lf", &col[0], &col[1], &col[2],
                        &col[3], &col[4]);
        double bytes = 0, t = 0;
        if (table_time_col == 6 && nc >= 4) {
            bytes = col[0], t = col[3];
            if (nc == 5 && col[4] > 0 && col[4] < t)
                t = col[4]; /* in place, when faster: the less disturbed of the two */
        } else if (table_time_col == 2 && sscanf(line, "%lf %lf", &col[0], &col[1]) == 2) {
            bytes = col[0], t = col[1];
        } else {
            continue;
        }
        (void)v;
        if (bytes > 0 && sr->n < 256) sr->bytes[sr->n] = bytes, sr->us[sr->n++] = t, rows++;
    }
    fclose(f);
    if (st == TACL_OK) st = calib_add_series(cal, sr, path);
    free(sr);
    if (st == TACL_OK && rows == 0)
        st = tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_PLAN,
                       "%s: no measurements; expected `tacl bench -J` lines, a `tacl bench` table "
                       "or a \"size time\" table",
                       path);
    return st;
}

static int calib_dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* `tacl doctor --json`: the measured host links become one "sendrecv over the network" fit,
 * alpha the median one-way latency, bandwidth the median link bandwidth. */
static tacl_status_t calib_from_cluster(const char *path, tacl__calib_t *cal)
{
    tacl_cluster_t *c;
    TACL_CHECK(tacl_cluster_load(path, &c));
    int n = c->nlinks;
    double *lat = malloc(sizeof(double) * (size_t)(n ? n : 1)),
           *bw = malloc(sizeof(double) * (size_t)(n ? n : 1));
    int k = 0;
    for (int i = 0; lat && bw && i < n; i++)
        if (c->links[i].gbs > 1e-3 && c->links[i].lat_us > 0)
            lat[k] = c->links[i].lat_us, bw[k++] = c->links[i].gbs;
    tacl_status_t st = TACL_OK;
    if (!lat || !bw)
        st = tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_PLAN, "calibration: out of memory");
    else if (k == 0)
        st = tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_PLAN,
                       "%s: no measured links (bandwidth and latency); expected a `tacl doctor "
                       "--json` file of a run over several hosts",
                       path);
    else if (cal->nfits >= TACL_CALIB_MAX)
        st = tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_PLAN, "%s: too many series", path);
    if (st == TACL_OK) {
        qsort(lat, (size_t)k, sizeof *lat, calib_dcmp);
        qsort(bw, (size_t)k, sizeof *bw, calib_dcmp);
        tacl__calib_fit_t *fit = &cal->fits[cal->nfits++];
        memset(fit, 0, sizeof *fit);
        snprintf(fit->coll, sizeof fit->coll, "sendrecv");
        snprintf(fit->backend, sizeof fit->backend, "net");
        fit->ranks = 2, fit->hosts = 2, fit->npoints = k;
        fit->alpha_us = lat[k / 2];
        fit->busbw_gbs = bw[k / 2];
        fit->err_mean = (bw[k - 1] - bw[0]) / (2 * bw[k / 2]); /* the links' spread */
        fit->err_max = fit->err_mean;
    }
    free(lat);
    free(bw);
    tacl_cluster_destroy(c);
    return st;
}

#if TACL_HAVE_FYAML
#include <libfyaml.h>

static tacl_status_t calib_read_file(const tacl__doc_t *d, tacl__calib_t *cal)
{
    struct fy_node *fits = tacl__doc_get(tacl__doc_root(d), "fits"), *m;
    if (!fits || !fy_node_is_sequence(fits))
        return tacl__doc_err(d, fits, "fits: expected a list of fitted series");
    static const char *const keys[] = {"collective", "backend",  "graph",     "ranks",
                                       "hosts",      "alpha_us", "busbw_gbs", "points",
                                       "err_mean",   "err_max",  NULL};
    void *it = NULL;
    while ((m = fy_node_sequence_iterate(fits, &it))) {
        if (cal->nfits >= TACL_CALIB_MAX)
            return tacl__doc_err(d, m, "fits: expected at most %d entries", TACL_CALIB_MAX);
        tacl__calib_fit_t fit;
        memset(&fit, 0, sizeof fit);
        TACL_CHECK(tacl__doc_keys(d, m, "fits[]", keys));
        struct fy_node *v;
        long l;
        if (!(v = tacl__doc_get(m, "collective")))
            return tacl__doc_err(d, m, "fits[]: expected a collective");
        TACL_CHECK(tacl__doc_str(d, v, "collective", fit.coll, sizeof fit.coll));
        if (tacl__pred_coll_parse(fit.coll) < 0)
            return tacl__doc_err(d, v,
                                 "collective: expected all_reduce, all_gather, "
                                 "reduce_scatter, broadcast, all_to_all or sendrecv");
        if ((v = tacl__doc_get(m, "backend")))
            TACL_CHECK(tacl__doc_str(d, v, "backend", fit.backend, sizeof fit.backend));
        if ((v = tacl__doc_get(m, "graph"))) TACL_CHECK(tacl__doc_bool(d, v, "graph", &fit.graph));
        if (!(v = tacl__doc_get(m, "ranks"))) return tacl__doc_err(d, m, "fits[]: expected ranks");
        TACL_CHECK(tacl__doc_int(d, v, "ranks", 1, 1 << 20, &l));
        fit.ranks = (int)l;
        if ((v = tacl__doc_get(m, "hosts"))) {
            TACL_CHECK(tacl__doc_int(d, v, "hosts", 0, 1 << 20, &l));
            fit.hosts = (int)l;
        }
        if (!(v = tacl__doc_get(m, "alpha_us")))
            return tacl__doc_err(d, m, "fits[]: expected alpha_us");
        TACL_CHECK(tacl__doc_num(d, v, "alpha_us", 0, &fit.alpha_us));
        if (!(v = tacl__doc_get(m, "busbw_gbs")))
            return tacl__doc_err(d, m, "fits[]: expected busbw_gbs");
        TACL_CHECK(tacl__doc_num(d, v, "busbw_gbs", 1e-9, &fit.busbw_gbs));
        if ((v = tacl__doc_get(m, "points"))) {
            TACL_CHECK(tacl__doc_int(d, v, "points", 0, 1 << 20, &l));
            fit.npoints = (int)l;
        }
        if ((v = tacl__doc_get(m, "err_mean")))
            TACL_CHECK(tacl__doc_num(d, v, "err_mean", 0, &fit.err_mean));
        if ((v = tacl__doc_get(m, "err_max")))
            TACL_CHECK(tacl__doc_num(d, v, "err_max", 0, &fit.err_max));
        cal->fits[cal->nfits++] = fit;
    }
    return TACL_OK;
}
#endif

tacl_status_t tacl__calib_load(const char *path, tacl__calib_t *cal)
{
    TACL_CHECK(tacl__doc_check_file(path));
    FILE *f = fopen(path, "r");
    if (!f) return tacl__doc_check_file(path);
    char head[4096];
    size_t n = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    head[n] = 0;
    /* What the file is, from its first bytes: a calibration file, a cluster description
     * (the doctor's JSON), or bench output. */
    if (strstr(head, "\"tacl_calibration\"") || strstr(head, "tacl_calibration:")) {
#if TACL_HAVE_FYAML
        tacl__doc_t d;
        TACL_CHECK(tacl__doc_load(path, &d));
        tacl_status_t st = calib_read_file(&d, cal);
        tacl__doc_close(&d);
        return st;
#else
        return tacl__err(NULL, TACL_ERR_UNAVAILABLE, TACL_SUB_PLAN,
                         "%s: tacl was built without libfyaml", path);
#endif
    }
    const char *p = head;
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    if (*p == '{' && strstr(head, "\"hosts\"") && !strstr(head, "\"collective\""))
        return calib_from_cluster(path, cal);
    return tacl__calib_from_bench(path, cal);
}

tacl_status_t tacl__calib_write(const tacl__calib_t *cal, FILE *f)
{
    fprintf(f, "{\"tacl_calibration\": 1,\n \"fits\": [");
    for (int i = 0; i < cal->nfits; i++) {
        const tacl__calib_fit_t *x = &cal->fits[i];
        fprintf(f,
                "%s\n  {\"collective\": \"%s\", \"backend\": \"%s\", \"graph\": %s, \"ranks\": %d, "
                "\"hosts\": %d, \"alpha_us\": %.6g, \"busbw_gbs\": %.6g, \"points\": %d, "
                "\"err_mean\": %.4g, \"err_max\": %.4g}",
                i ? "," : "", x->coll, x->backend, x->graph ? "true" : "false", x->ranks, x->hosts,
                x->alpha_us, x->busbw_gbs, x->npoints, x->err_mean, x->err_max);
    }
    fprintf(f, "\n ]\n}\n");
    if (ferror(f))
        return tacl__err(NULL, TACL_ERR_SYSTEM, TACL_SUB_PLAN,
                         "calibration: write error on the output stream");
    return TACL_OK;
}

const tacl__calib_fit_t *tacl__calib_find(const tacl__calib_t *cal, tacl__pred_coll_t k,
                                          const char *backend, int graph, int ranks)
{
    for (int i = 0; cal && i < cal->nfits; i++) {
        const tacl__calib_fit_t *x = &cal->fits[i];
        if (!strcmp(x->backend, backend) && x->graph == graph && x->ranks == ranks &&
            x->hosts <= 1 && tacl__pred_coll_parse(x->coll) == (int)k)
            return x;
    }
    return NULL;
}

double tacl__calib_time(const tacl__calib_fit_t *x, tacl__pred_coll_t k, double bytes)
{
    return x->alpha_us + tacl__pred_busfactor(k, x->ranks) * bytes / (x->busbw_gbs * 1e3);
}

void tacl__calib_apply(const tacl__calib_t *cal, double gpu_link_gbs, tacl__costmodel_t *cm)
{
    /* The GPU all-reduce fit on the most ranks sets the constants of the collectives inside a
     * host; the network fit (doctor) sets the extra start-up of crossing hosts. */
    const tacl__calib_fit_t *eager = NULL, *graph = NULL;
    for (int i = 0; i < cal->nfits; i++) {
        const tacl__calib_fit_t *x = &cal->fits[i];
        if (!strcmp(x->backend, "net")) {
            cm->alpha_net_us = x->alpha_us;
            continue;
        }
        if (strcmp(x->backend, "gpu") || strcmp(x->coll, "all_reduce") || x->hosts > 1) continue;
        const tacl__calib_fit_t **slot = x->graph ? &graph : &eager;
        if (!*slot || x->ranks > (*slot)->ranks) *slot = x;
    }
    if (eager) cm->alpha_eager_us = eager->alpha_us;
    if (graph) cm->alpha_gpu_us = graph->alpha_us;
    const tacl__calib_fit_t *bw = eager ? eager : graph;
    if (bw && gpu_link_gbs > 0) {
        double eta = bw->busbw_gbs / gpu_link_gbs;
        cm->eta_bus = eta > 1 ? 1 : eta;
    }
}
