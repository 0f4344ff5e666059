/* cluster_file_read.c — the cluster reader: top-level keys, links, unreachable pairs, ranks. */
#include "topo/cluster_file_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if TACL_HAVE_FYAML
#include <libfyaml.h>

/* A large file is first read as a stream of events, counting the entries of hosts and links
 * without building the document, so that one beyond the limits fails after reading only as far
 * as the limit (the document of a 30 MB file takes seconds and gigabytes to build). */
#define CF_PRESCAN_BYTES (4 << 20)

static tacl_status_t cf_prescan(const char *path)
{
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_DEFAULT_PARSE};
    struct fy_parser *fyp = fy_parser_create(&cfg);
    if (!fyp) return TACL_OK; /* the document build reports what is wrong */
    if (fy_parser_set_input_file(fyp, path)) {
        fy_parser_destroy(fyp);
        return TACL_OK;
    }
    struct fy_event *ev;
    int depth = 0, expect_key = 1, section = 0;
    long count[3] = {0, 0, 0};
    const long limit[3] = {0, TACL_CLUSTER_HOSTS_MAX, TACL_CLUSTER_LINKS_MAX};
    static const char *const names[3] = {"", "hosts", "links"};
    char key[16] = "";
    tacl_status_t st = TACL_OK;
    while (st == TACL_OK && (ev = fy_parser_parse(fyp))) {
        int item = 0;
        switch (ev->type) {
        case FYET_MAPPING_START:
        case FYET_SEQUENCE_START:
            if (depth == 1)
                section = !strcmp(key, "hosts") ? 1 : !strcmp(key, "links") ? 2 : 0;
            else if (depth == 2)
                item = 1;
            depth++;
            break;
        case FYET_MAPPING_END:
        case FYET_SEQUENCE_END:
            if (--depth == 1) section = 0, expect_key = 1;
            break;
        case FYET_SCALAR:
        case FYET_ALIAS:
            if (depth == 1) {
                if (expect_key) {
                    struct fy_token *t = fy_event_get_token(ev);
                    const char *k = t ? fy_token_get_text0(t) : NULL;
                    snprintf(key, sizeof key, "%s", k ? k : "");
                }
                expect_key = !expect_key;
            } else if (depth == 2) {
                item = 1;
            }
            break;
        default:
            break;
        }
        if (item && section && ++count[section] > limit[section]) {
            struct fy_token *t = fy_event_get_token(ev);
            const struct fy_mark *mk = t ? fy_token_start_mark(t) : NULL;
            st = tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_TOPO,
                           "%s:%d:%d: %s: more than %ld entries; expected at most that many "
                           "(docs/CLUSTER_FORMAT.md, Limits)",
                           path, mk ? mk->line + 1 : 1, mk ? mk->column + 1 : 1, names[section],
                           limit[section]);
        }
        fy_parser_event_free(fyp, ev);
    }
    fy_parser_destroy(fyp);
    return st;
}

tacl_status_t tacl__cf_bandwidth(const tacl__doc_t *d, struct fy_node *n, const char *key,
                                 const char *bare, double *gbs)
{
    const char *s = tacl__doc_scalar(d, n, key, "a bandwidth such as 100Gbps or 25GB/s");
    const char *why = NULL;
    if (!s) return TACL_ERR_CONFIG;
    if (!tacl__parse_bandwidth(s, bare, gbs, &why))
        return tacl__doc_err(d, n, "%s: expected %s, found '%s'", key, why, s);
    return TACL_OK;
}

static tacl_status_t cf_latency(const tacl__doc_t *d, struct fy_node *n, const char *key,
                                double *us)
{
    const char *s = tacl__doc_scalar(d, n, key, "a latency such as 5 (us) or 0.8ms");
    const char *why = NULL;
    if (!s) return TACL_ERR_CONFIG;
    if (!tacl__parse_latency(s, us, &why))
        return tacl__doc_err(d, n, "%s: expected %s, found '%s'", key, why, s);
    return TACL_OK;
}

/* A host name that must exist. */
static tacl_status_t cf_host_ref(const tacl__doc_t *d, const tacl_cluster_t *c, struct fy_node *n,
                                 const char *key, int *h)
{
    const char *s = tacl__doc_scalar(d, n, key, "a host name");
    if (!s) return TACL_ERR_CONFIG;
    *h = tacl__cluster_find_host(c, s);
    if (*h < 0)
        return tacl__doc_err(d, n, "%s: expected a host declared under hosts, found '%s'", key, s);
    return TACL_OK;
}

/* bandwidth + latency of a link mapping (latency_us or latency). */
static tacl_status_t cf_link_figures(const tacl__doc_t *d, struct fy_node *m, const char *what,
                                     double *gbs, double *lat)
{
    struct fy_node *bw = tacl__doc_get(m, "bandwidth");
    if (!bw) return tacl__doc_err(d, m, "%s: expected a bandwidth (e.g. bandwidth: 100Gbps)", what);
    TACL_CHECK(tacl__cf_bandwidth(d, bw, "bandwidth", "Gb/s", gbs));
    if (*gbs <= 0) return tacl__doc_err(d, bw, "bandwidth: expected a positive bandwidth");
    *lat = 5; /* a switched data-centre hop, when the file does not say */
    struct fy_node *l = tacl__doc_get(m, "latency_us");
    if (l) TACL_CHECK(tacl__doc_num(d, l, "latency_us", 0, lat));
    if ((l = tacl__doc_get(m, "latency"))) TACL_CHECK(cf_latency(d, l, "latency", lat));
    return TACL_OK;
}

static tacl_status_t cf_links(const tacl__doc_t *d, tacl_cluster_t *c, struct fy_node *seq)
{
    if (!fy_node_is_sequence(seq))
        return tacl__doc_err(d, seq, "links: expected a list of {hosts: [A, B], bandwidth: ...}");
    static const char *const keys[] = {"hosts", "path", "bandwidth", "latency_us", "latency", NULL};
    void *it = NULL;
    struct fy_node *m;
    while ((m = fy_node_sequence_iterate(seq, &it))) {
        TACL_CHECK(tacl__doc_keys(d, m, "links[]", keys));
        struct fy_node *hs = tacl__doc_get(m, "hosts");
        int is_path = 0;
        if (!hs && (hs = tacl__doc_get(m, "path"))) is_path = 1;
        if (!hs || !fy_node_is_sequence(hs) ||
            (is_path ? fy_node_sequence_item_count(hs) < 2 : fy_node_sequence_item_count(hs) != 2))
            return tacl__doc_err(
                d, hs ? hs : m, "links[]: expected hosts: [A, B] (two hosts) or path: [A, B, ...]");
        double gbs, lat;
        TACL_CHECK(cf_link_figures(d, m, "links[]", &gbs, &lat));
        int n = fy_node_sequence_item_count(hs), prev = -1;
        for (int i = 0; i < n; i++) {
            struct fy_node *hn = fy_node_sequence_get_by_index(hs, i);
            int h;
            TACL_CHECK(cf_host_ref(d, c, hn, "links[].hosts", &h));
            if (prev >= 0) {
                if (prev == h)
                    return tacl__doc_err(d, hn,
                                         "links[]: expected two different hosts, found %s twice",
                                         c->hosts[h].name);
                TACL_CHECK(tacl__cluster_set_link(c, prev, h, gbs, lat));
            }
            prev = h;
        }
    }
    return TACL_OK;
}

static tacl_status_t cf_unreachable(const tacl__doc_t *d, tacl_cluster_t *c, struct fy_node *seq)
{
    if (!fy_node_is_sequence(seq))
        return tacl__doc_err(d, seq, "unreachable: expected a list of host pairs [[A, C], ...]");
    TACL_CHECK(tacl__cluster_finish(c)); /* links sorted once, for the checks below */
    void *it = NULL;
    struct fy_node *p;
    while ((p = fy_node_sequence_iterate(seq, &it))) {
        if (!fy_node_is_sequence(p) || fy_node_sequence_item_count(p) != 2)
            return tacl__doc_err(d, p, "unreachable[]: expected a pair of hosts [A, C]");
        int a, b;
        TACL_CHECK(cf_host_ref(d, c, fy_node_sequence_get_by_index(p, 0), "unreachable[]", &a));
        TACL_CHECK(cf_host_ref(d, c, fy_node_sequence_get_by_index(p, 1), "unreachable[]", &b));
        if (a == b) return tacl__doc_err(d, p, "unreachable[]: expected two different hosts");
        double w, l;
        if (tacl__cluster_link(c, a, b, &w, &l) && !c->has_default)
            return tacl__doc_err(d, p, "unreachable[]: %s-%s is also declared under links",
                                 c->hosts[a].name, c->hosts[b].name);
        TACL_CHECK(tacl__cluster_set_unreachable(c, a, b));
    }
    return TACL_OK;
}

static tacl_status_t cf_ranks(const tacl__doc_t *d, tacl_cluster_t *c, struct fy_node *seq)
{
    if (!fy_node_is_sequence(seq))
        return tacl__doc_err(d, seq, "ranks: expected a list of {rank, host, device}");
    int n = fy_node_sequence_item_count(seq);
    c->ranks = calloc((size_t)(n ? n : 1), sizeof *c->ranks);
    char *seen = calloc((size_t)(n ? n : 1), 1);
    if (!c->ranks || !seen) {
        free(seen);
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "out of memory");
    }
    static const char *const keys[] = {"rank", "host", "device", NULL};
    tacl_status_t st = TACL_OK;
    for (int i = 0; i < n && st == TACL_OK; i++) {
        struct fy_node *m = fy_node_sequence_get_by_index(seq, i), *v;
        long rank = i, dev = 0;
        int h;
        if ((st = tacl__doc_keys(d, m, "ranks[]", keys)) != TACL_OK) break;
        if ((v = tacl__doc_get(m, "rank")) &&
            (st = tacl__doc_int(d, v, "rank", 0, n - 1, &rank)) != TACL_OK)
            break;
        if (seen[rank]) {
            st = tacl__doc_err(d, v ? v : m, "ranks[]: rank %ld declared twice", rank);
            break;
        }
        seen[rank] = 1;
        if (!(v = tacl__doc_get(m, "host"))) {
            st = tacl__doc_err(d, m, "ranks[]: expected a host");
            break;
        }
        if ((st = cf_host_ref(d, c, v, "ranks[].host", &h)) != TACL_OK) break;
        if ((v = tacl__doc_get(m, "device")) &&
            (st = tacl__doc_int(d, v, "device", 0,
                                c->hosts[h].ngpus > 0 ? c->hosts[h].ngpus - 1 : 4095, &dev)) !=
                TACL_OK)
            break;
        c->ranks[rank] = (tacl__cluster_rank_t){h, (int)dev};
    }
    free(seen);
    if (st == TACL_OK) c->nranks = n;
    return st;
}

static int cf_name_cmp(const void *x, const void *y, void *arg)
{
    const tacl_cluster_t *c = arg;
    int a = *(const int *)x, b = *(const int *)y;
    int r = strcmp(c->hosts[a].name, c->hosts[b].name);
    return r ? r : (a > b) - (a < b);
}

/* Every host name once, in O(n log n): a file with count: 65536 must not cost a quadratic
 * scan. first[e] is the first host of entry e of hosts (nentries + 1 values), so that the
 * error points at the entry that declares a name the second time. */
static tacl_status_t cf_unique_names(const tacl__doc_t *d, const tacl_cluster_t *c,
                                     struct fy_node *hosts, const int *first, int nentries)
{
    int *idx = malloc(sizeof(int) * (size_t)c->nhosts);
    if (!idx) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "out of memory");
    for (int i = 0; i < c->nhosts; i++)
        idx[i] = i;
    qsort_r(idx, (size_t)c->nhosts, sizeof *idx, cf_name_cmp, (void *)c);
    int dup = -1;
    for (int i = 1; i < c->nhosts; i++)
        if (!strcmp(c->hosts[idx[i - 1]].name, c->hosts[idx[i]].name) && (dup < 0 || idx[i] < dup))
            dup = idx[i];
    free(idx);
    if (dup < 0) return TACL_OK;
    int e = 0;
    while (e + 1 < nentries && first[e + 1] <= dup)
        e++;
    return tacl__doc_err(d, fy_node_sequence_get_by_index(hosts, e),
                         "host %s: declared twice; expected unique host names", c->hosts[dup].name);
}

tacl_status_t tacl__cluster_read(const tacl__doc_t *d, tacl_cluster_t **out)
{
    struct fy_node *root = tacl__doc_root(d), *v;
    static const char *const keys[] = {"name",        "hosts", "links", "default_link",
                                       "unreachable", "ranks", "store", NULL};
    TACL_CHECK(tacl__doc_keys(d, root, "cluster", keys));
    struct fy_node *hosts = tacl__doc_get(root, "hosts");
    if (!hosts || !fy_node_is_sequence(hosts) || fy_node_sequence_item_count(hosts) == 0)
        return tacl__doc_err(d, hosts ? hosts : root,
                             "hosts: expected a non-empty list of hosts ({name: A, gpus: 8, gpu: "
                             "H100-80GB})");
    if (fy_node_sequence_item_count(hosts) > TACL_CLUSTER_HOSTS_MAX)
        return tacl__doc_err(d, hosts,
                             "hosts: %d entries; expected at most %d hosts "
                             "(docs/CLUSTER_FORMAT.md, Limits)",
                             fy_node_sequence_item_count(hosts), TACL_CLUSTER_HOSTS_MAX);
    tacl_cluster_t *c;
    TACL_CHECK(tacl__cluster_create(&c));
    snprintf(c->source, sizeof c->source, "%s", d->file);
    tacl_status_t st = TACL_OK;
    if ((v = tacl__doc_get(root, "name")))
        st = tacl__doc_str(d, v, "name", c->name, sizeof c->name);
    int nentries = fy_node_sequence_item_count(hosts);
    int *first = malloc(sizeof(int) * (size_t)(nentries + 1));
    if (!first) st = tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "out of memory");
    for (int e = 0; st == TACL_OK && e < nentries; e++) {
        first[e] = c->nhosts;
        st = tacl__cf_host(d, c, fy_node_sequence_get_by_index(hosts, e));
    }
    if (st == TACL_OK) {
        first[nentries] = c->nhosts;
        st = cf_unique_names(d, c, hosts, first, nentries);
    }
    free(first);
    if (st == TACL_OK && (v = tacl__doc_get(root, "default_link"))) {
        static const char *const dkeys[] = {"bandwidth", "latency_us", "latency", NULL};
        st = tacl__doc_keys(d, v, "default_link", dkeys);
        if (st == TACL_OK)
            st = cf_link_figures(d, v, "default_link", &c->default_gbs, &c->default_lat_us);
        c->has_default = st == TACL_OK;
    }
    if (st == TACL_OK && (v = tacl__doc_get(root, "links"))) st = cf_links(d, c, v);
    if (st == TACL_OK && (v = tacl__doc_get(root, "unreachable"))) st = cf_unreachable(d, c, v);
    if (st == TACL_OK && (v = tacl__doc_get(root, "ranks"))) st = cf_ranks(d, c, v);
    if (st == TACL_OK && (v = tacl__doc_get(root, "store")))
        st = cf_host_ref(d, c, v, "store", &c->store_host);
    if (st == TACL_OK) st = tacl__cluster_finish(c);
    if (st != TACL_OK) {
        tacl_cluster_destroy(c);
        return st;
    }
    *out = c;
    return TACL_OK;
}
#endif

tacl_status_t tacl_cluster_load(const char *path, tacl_cluster_t **out)
{
    if (!path || !out)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_TOPO,
                         "tacl_cluster_load: expected a file path and an output pointer");
    tacl__doc_t d;
#if TACL_HAVE_FYAML
    struct stat sb;
    if (stat(path, &sb) == 0 && sb.st_size > CF_PRESCAN_BYTES) TACL_CHECK(cf_prescan(path));
#endif
    TACL_CHECK(tacl__doc_load(path, &d));
    tacl_status_t st = tacl__cluster_read(&d, out);
    tacl__doc_close(&d);
    return st;
}
