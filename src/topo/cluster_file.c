/* cluster_file.c — the reader of cluster description files (YAML or JSON through libfyaml) and
 * the document helpers it shares with the planner: every value is checked where it is read,
 * and every error names file:line:column and what was expected, so that a deployment engineer
 * can fix the file without reading tacl's source. */
#include "topo/cluster_file.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

tacl_status_t tacl__doc_check_file(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_TOPO, "%s: %s", path,
                         errno == ENOENT ? "no such file" : strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_TOPO,
                         "%s: is a directory; expected a YAML or JSON file", path);
    if (sb.st_size > TACL_CLUSTER_FILE_MAX)
        return tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_TOPO,
                         "%s: %.1f MiB; expected at most %d MiB (docs/CLUSTER_FORMAT.md, Limits)",
                         path, (double)sb.st_size / 1048576.0, TACL_CLUSTER_FILE_MAX >> 20);
    FILE *f = fopen(path, "r");
    if (!f)
        return tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_TOPO, "%s: cannot be opened: %s", path,
                         strerror(errno));
    /* Empty, or only blanks and comments: say so rather than a parser message. */
    int ch, empty = 1, comment = 0;
    while (empty && (ch = fgetc(f)) != EOF) {
        if (comment)
            comment = ch != '\n';
        else if (ch == '#')
            comment = 1;
        else if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            empty = 0;
    }
    fclose(f);
    if (empty)
        return tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_TOPO,
                         "%s: the file is empty (%lld bytes%s); expected a YAML or JSON document",
                         path, (long long)sb.st_size,
                         sb.st_size ? ", blanks or comments only" : "");
    return TACL_OK;
}

#if TACL_HAVE_FYAML
#include <libfyaml.h>

void tacl__doc_pos(struct fy_node *n, int *line, int *col)
{
    *line = 1, *col = 1;
    /* libfyaml 0.7 marks tokens, not collections: a collection is placed at its first scalar,
     * which is where a reader looks for it anyway. */
    for (int depth = 0; n && depth < 64; depth++) {
        if (fy_node_is_scalar(n)) {
            struct fy_token *t = fy_node_get_scalar_token(n);
            const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
            if (m) *line = m->line + 1, *col = m->column + 1;
            return;
        }
        void *it = NULL;
        if (fy_node_is_mapping(n)) {
            struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
            n = p ? fy_node_pair_key(p) : NULL;
        } else {
            n = fy_node_sequence_iterate(n, &it);
        }
    }
}

tacl_status_t tacl__doc_err(const tacl__doc_t *d, struct fy_node *n, const char *fmt, ...)
{
    char msg[TACL_ERRMSG_MAX];
    int line = 1, col = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n) tacl__doc_pos(n, &line, &col);
    return tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_TOPO, "%s:%d:%d: %s", d->file, line, col, msg);
}

/* The most bytes a document may have: far above any cluster or model description. */
#define DOC_BYTES_MAX (64u << 20)

/* YAML and JSON are UTF-8 text. Anything else is refused here, before libfyaml sees it:
 * libfyaml 0.7 loops forever on a directive line ('%...') holding invalid UTF-8. */
static tacl_status_t doc_check_text(const tacl__doc_t *d, const unsigned char *t, size_t len)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < len; col++) {
        unsigned char b = t[i];
        size_t n = b < 0x80             ? 1
                   : (b & 0xe0) == 0xc0 ? 2
                   : (b & 0xf0) == 0xe0 ? 3
                   : (b & 0xf8) == 0xf0 ? 4
                                        : 0;
        unsigned long cp = n == 1 ? b : n == 2 ? b & 0x1fu : n == 3 ? b & 0x0fu : b & 0x07u;
        int ok = n > 0 && n <= len - i && b != 0;
        for (size_t k = 1; ok && k < n; k++) {
            ok = (t[i + k] & 0xc0) == 0x80;
            cp = cp << 6 | (t[i + k] & 0x3fu);
        }
        /* No overlong forms, surrogates or code points past U+10FFFF. */
        static const unsigned long shortest[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (ok && n > 1)
            ok = cp >= shortest[n] && cp <= 0x10fffful && !(cp >= 0xd800 && cp <= 0xdfff);
        if (!ok)
            return tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_TOPO,
                             "%s:%d:%d: expected UTF-8 text (YAML or JSON), found byte 0x%02x",
                             d->file, line, col, b);
        if (b == '\n') line++, col = 0;
        i += n;
    }
    return TACL_OK;
}

/* The whole file, NUL-terminated; NULL when it cannot be read or is over DOC_BYTES_MAX. */
static char *doc_read_file(const char *path, size_t *len, int *too_big)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        if (cap >= DOC_BYTES_MAX) {
            *too_big = 1;
            free(buf);
            buf = NULL;
            break;
        }
        char *b = realloc(buf, cap * 2 + 1);
        if (!b) free(buf);
        buf = b;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = '\0', *len = n;
    return buf;
}

/* Builds the document with errors collected (not printed) so that the first one becomes
 * tacl's message with its position. */
static tacl_status_t doc_build(tacl__doc_t *d, const char *path, const char *text)
{
    char *file_text = NULL;
    size_t len = 0;
    if (path) {
        int too_big = 0;
        if (!(file_text = doc_read_file(path, &len, &too_big)))
            return too_big ? tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_TOPO,
                                       "%s: expected at most %u MiB of YAML or JSON", d->file,
                                       DOC_BYTES_MAX >> 20)
                           : tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_TOPO,
                                       "%s: cannot be read (missing, unreadable, or not YAML/JSON)",
                                       d->file);
        text = file_text;
    } else {
        len = strlen(text);
    }
    tacl_status_t cst = doc_check_text(d, (const unsigned char *)text, len);
    if (cst != TACL_OK) {
        free(file_text);
        return cst;
    }
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (!diag) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "%s: out of memory", d->file);
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_DEFAULT_PARSE, .diag = diag};
    d->doc = fy_document_build_from_string(&cfg, text, len);
    tacl_status_t st = TACL_OK;
    if (!d->doc || !fy_document_root(d->doc)) {
        void *it = NULL;
        struct fy_diag_error *e = fy_diag_errors_iterate(diag, &it);
        if (e) /* libfyaml's collected errors are 1-based already, unlike its marks */
            st = tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_TOPO, "%s:%d:%d: %s", d->file, e->line,
                           e->column, e->msg);
        else if (!d->doc)
            st = tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_TOPO,
                           "%s: cannot be read (not YAML/JSON, or out of memory)", d->file);
        else
            st = tacl__err(NULL, TACL_ERR_CONFIG, TACL_SUB_TOPO, "%s:1:1: the document is empty",
                           d->file);
        if (d->doc) fy_document_destroy(d->doc);
        d->doc = NULL;
    }
    fy_diag_set_collect_errors(diag, false); /* frees the collected errors */
    fy_diag_unref(diag);
    /* The document refers to the text it was built from: it stays until tacl__doc_close. */
    if (d->doc)
        d->text = file_text;
    else
        free(file_text);
    return st;
}

tacl_status_t tacl__doc_load(const char *path, tacl__doc_t *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->file, sizeof d->file, "%s", path);
    TACL_CHECK(tacl__doc_check_file(path));
    return doc_build(d, path, NULL);
}

tacl_status_t tacl__doc_parse(const char *name, const char *text, tacl__doc_t *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->file, sizeof d->file, "%s", name);
    return doc_build(d, NULL, text);
}

void tacl__doc_close(tacl__doc_t *d)
{
    if (d->doc) fy_document_destroy(d->doc);
    d->doc = NULL;
    free(d->text);
    d->text = NULL;
}

struct fy_node *tacl__doc_root(const tacl__doc_t *d)
{
    return d->doc ? fy_document_root(d->doc) : NULL;
}

struct fy_node *tacl__doc_get(struct fy_node *map, const char *key)
{
    if (!map || !fy_node_is_mapping(map)) return NULL;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        const char *s = k && fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;
        if (s && !strcmp(s, key)) return fy_node_pair_value(p);
    }
    return NULL;
}

/* The scalar text of n, or NULL (with an error naming key) when n is not a scalar. */
static const char *doc_scalar(const tacl__doc_t *d, struct fy_node *n, const char *key,
                              const char *what)
{
    const char *s = n && fy_node_is_scalar(n) ? fy_node_get_scalar0(n) : NULL;
    if (!s) tacl__doc_err(d, n, "%s: expected %s", key, what);
    return s;
}

tacl_status_t tacl__doc_str(const tacl__doc_t *d, struct fy_node *n, const char *key, char *buf,
                            size_t len)
{
    const char *s = doc_scalar(d, n, key, "a string");
    if (!s) return TACL_ERR_CONFIG;
    if (strlen(s) >= len)
        return tacl__doc_err(d, n, "%s: expected at most %zu characters, found %zu", key, len - 1,
                             strlen(s));
    memcpy(buf, s, strlen(s) + 1);
    return TACL_OK;
}

tacl_status_t tacl__doc_int(const tacl__doc_t *d, struct fy_node *n, const char *key, long min,
                            long max, long *out)
{
    const char *s = doc_scalar(d, n, key, "an integer");
    if (!s) return TACL_ERR_CONFIG;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < min || v > max)
        return tacl__doc_err(d, n, "%s: expected an integer in [%ld, %ld], found '%s'", key, min,
                             max, s);
    *out = v;
    return TACL_OK;
}

tacl_status_t tacl__doc_num(const tacl__doc_t *d, struct fy_node *n, const char *key, double min,
                            double *out)
{
    const char *s = doc_scalar(d, n, key, "a number");
    if (!s) return TACL_ERR_CONFIG;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= min))
        return tacl__doc_err(d, n, "%s: expected a number >= %g, found '%s'", key, min, s);
    *out = v;
    return TACL_OK;
}

tacl_status_t tacl__doc_bool(const tacl__doc_t *d, struct fy_node *n, const char *key, int *out)
{
    const char *s = doc_scalar(d, n, key, "true or false");
    if (!s) return TACL_ERR_CONFIG;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1"))
        *out = 1;
    else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0"))
        *out = 0;
    else
        return tacl__doc_err(d, n, "%s: expected true or false, found '%s'", key, s);
    return TACL_OK;
}

tacl_status_t tacl__doc_keys(const tacl__doc_t *d, struct fy_node *map, const char *what,
                             const char *const *allowed)
{
    if (!map || !fy_node_is_mapping(map))
        return tacl__doc_err(d, map, "%s: expected a mapping (key: value)", what);
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        const char *s = k && fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;
        int ok = 0;
        for (int i = 0; s && allowed[i]; i++)
            ok |= !strcmp(s, allowed[i]);
        if (!ok) {
            char list[512] = "";
            for (int i = 0; allowed[i]; i++) {
                size_t n = strlen(list);
                snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", allowed[i]);
            }
            return tacl__doc_err(d, k, "%s: unknown key '%s'; expected one of: %s", what,
                                 s ? s : "?", list);
        }
    }
    return TACL_OK;
}

/* ---- The cluster reader. ---- */

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

static tacl_status_t cf_bandwidth(const tacl__doc_t *d, struct fy_node *n, const char *key,
                                  const char *bare, double *gbs)
{
    const char *s = doc_scalar(d, n, key, "a bandwidth such as 100Gbps or 25GB/s");
    const char *why = NULL;
    if (!s) return TACL_ERR_CONFIG;
    if (!tacl__parse_bandwidth(s, bare, gbs, &why))
        return tacl__doc_err(d, n, "%s: expected %s, found '%s'", key, why, s);
    return TACL_OK;
}

static tacl_status_t cf_latency(const tacl__doc_t *d, struct fy_node *n, const char *key,
                                double *us)
{
    const char *s = doc_scalar(d, n, key, "a latency such as 5 (us) or 0.8ms");
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
    const char *s = doc_scalar(d, n, key, "a host name");
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
    TACL_CHECK(cf_bandwidth(d, bw, "bandwidth", "Gb/s", gbs));
    if (*gbs <= 0) return tacl__doc_err(d, bw, "bandwidth: expected a positive bandwidth");
    *lat = 5; /* a switched data-centre hop, when the file does not say */
    struct fy_node *l = tacl__doc_get(m, "latency_us");
    if (l) TACL_CHECK(tacl__doc_num(d, l, "latency_us", 0, lat));
    if ((l = tacl__doc_get(m, "latency"))) TACL_CHECK(cf_latency(d, l, "latency", lat));
    return TACL_OK;
}

static tacl_status_t cf_gpu(const tacl__doc_t *d, struct fy_node *n, tacl__gpu_spec_t *g)
{
    if (fy_node_is_scalar(n)) {
        const char *s = fy_node_get_scalar0(n);
        const tacl__gpu_spec_t *p = tacl__gpu_preset(s);
        if (!p) {
            char list[512] = "";
            for (int i = 0; tacl__gpu_preset_at(i); i++) {
                size_t k = strlen(list);
                snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "",
                         tacl__gpu_preset_at(i)->name);
            }
            return tacl__doc_err(d, n,
                                 "gpu: unknown GPU type '%s'; expected one of: %s (or a mapping "
                                 "with type, memory, hbm_bandwidth, tflops)",
                                 s, list);
        }
        *g = *p;
        return TACL_OK;
    }
    static const char *const keys[] = {
        "type", "memory", "hbm_bandwidth", "tflops", "nvlink_bandwidth", "pcie_bandwidth", NULL};
    TACL_CHECK(tacl__doc_keys(d, n, "gpu", keys));
    struct fy_node *v = tacl__doc_get(n, "type");
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "custom");
    if (v) {
        const char *s = doc_scalar(d, v, "type", "a GPU type name");
        if (!s) return TACL_ERR_CONFIG;
        const tacl__gpu_spec_t *p = tacl__gpu_preset(s);
        if (p)
            *g = *p;                          /* the preset's figures, overridden by what follows */
        else if (strlen(s) >= sizeof g->name) /* never cut: the JSON writer puts it back */
            return tacl__doc_err(d, v, "type: expected at most %zu characters, found '%s'",
                                 sizeof g->name - 1, s);
        else
            snprintf(g->name, sizeof g->name, "%s", s);
    }
    const char *why;
    if ((v = tacl__doc_get(n, "memory"))) {
        const char *s = doc_scalar(d, v, "memory", "a size");
        if (!s) return TACL_ERR_CONFIG;
        if (!tacl__parse_bytes(s, &g->mem_bytes, &why))
            return tacl__doc_err(d, v, "memory: expected %s, found '%s'", why, s);
    }
    if ((v = tacl__doc_get(n, "hbm_bandwidth")))
        TACL_CHECK(cf_bandwidth(d, v, "hbm_bandwidth", "GB/s", &g->hbm_gbs));
    if ((v = tacl__doc_get(n, "tflops"))) TACL_CHECK(tacl__doc_num(d, v, "tflops", 0, &g->tflops));
    if ((v = tacl__doc_get(n, "nvlink_bandwidth")))
        TACL_CHECK(cf_bandwidth(d, v, "nvlink_bandwidth", "GB/s", &g->nvlink_gbs));
    if ((v = tacl__doc_get(n, "pcie_bandwidth")))
        TACL_CHECK(cf_bandwidth(d, v, "pcie_bandwidth", "GB/s", &g->pcie_gbs));
    if (g->mem_bytes <= 0 || g->hbm_gbs <= 0 || g->tflops <= 0)
        return tacl__doc_err(d, n,
                             "gpu: expected a known type or memory, hbm_bandwidth and tflops "
                             "(type '%s' is not a preset)",
                             g->name);
    if (g->pcie_gbs <= 0) g->pcie_gbs = 32;
    return TACL_OK;
}

/* One GPU link entry: a class name ("NV18", "PCIe") or a bandwidth (bare number: GB/s). */
static tacl_status_t cf_gpu_link_value(const tacl__doc_t *d, struct fy_node *n, const char *key,
                                       const tacl__gpu_spec_t *g, double *gbs)
{
    const char *s = doc_scalar(d, n, key, "a link class (NVLink, NV18, PCIe, SYS) or bandwidth");
    if (!s) return TACL_ERR_CONFIG;
    if (!strcmp(s, "X") || !strcmp(s, "-")) { /* nvidia-smi topo's diagonal */
        *gbs = 0;
        return TACL_OK;
    }
    *gbs = tacl__gpu_link_class_gbs(s, g);
    const char *why;
    if (*gbs > 0 || tacl__parse_bandwidth(s, "GB/s", gbs, &why)) return TACL_OK;
    return tacl__doc_err(d, n,
                         "%s: expected a link class (NVLink, NV<n>, PCIe, PIX, PXB, PHB, NODE, "
                         "SYS) or a bandwidth, found '%s'",
                         key, s);
}

/* One address of host h: unique among hosts (a name or address names one host), at most
 * TACL_CLUSTER_ADDRS per host. */
static tacl_status_t cf_address(const tacl__doc_t *d, tacl_cluster_t *c, struct fy_node *n, int h,
                                const char *addr, const char *net)
{
    int other = tacl__cluster_find_host(c, addr);
    if (other >= 0 && other != h)
        return tacl__doc_err(d, n, "address %s: also names host %s; expected one host per address",
                             addr, c->hosts[other].name);
    if (c->hosts[h].naddrs >= TACL_CLUSTER_ADDRS)
        return tacl__doc_err(d, n, "host %s: expected at most %d addresses", c->hosts[h].name,
                             TACL_CLUSTER_ADDRS);
    return tacl__cluster_add_address(c, h, addr, net);
}

static tacl_status_t cf_host(const tacl__doc_t *d, tacl_cluster_t *c, struct fy_node *m)
{
    static const char *const keys[] = {"name",       "address", "addresses", "ifname",
                                       "gpus",       "gpu",     "gpu_link",  "gpu_link_bandwidth",
                                       "gpu_matrix", "count",   "network",   NULL};
    TACL_CHECK(tacl__doc_keys(d, m, "hosts[]", keys));
    struct fy_node *v = tacl__doc_get(m, "name");
    char name[TACL_CLUSTER_NAME_MAX];
    if (!v) return tacl__doc_err(d, m, "hosts[]: expected a name (name: A)");
    TACL_CHECK(tacl__doc_str(d, v, "name", name, sizeof name));
    if (!name[0]) return tacl__doc_err(d, m, "hosts[]: name: expected a non-empty host name");
    long count = 1, ngpus = 0;
    int counted = 0;
    if ((v = tacl__doc_get(m, "count"))) {
        TACL_CHECK(tacl__doc_int(d, v, "count", 1, TACL_CLUSTER_HOSTS_MAX, &count));
        counted = 1;
    }
    /* Every name, numbered ones included, must fit where the writer puts it back (a host of
     * its own in JSON), so that a file written by tacl reads back. */
    char last[24];
    int digits = counted ? snprintf(last, sizeof last, "%ld", count - 1) : 0;
    if (strlen(name) + (size_t)digits >= TACL_CLUSTER_NAME_MAX)
        return tacl__doc_err(d, v ? v : m,
                             "host %s: with count %ld, expected a name of at most %d characters",
                             name, count, TACL_CLUSTER_NAME_MAX - 1 - digits);
    if (count > TACL_CLUSTER_HOSTS_MAX - c->nhosts)
        return tacl__doc_err(d, m, "host %s: count %ld makes %ld hosts; expected at most %d in all",
                             name, count, count + c->nhosts, TACL_CLUSTER_HOSTS_MAX);
    if ((v = tacl__doc_get(m, "gpus"))) TACL_CHECK(tacl__doc_int(d, v, "gpus", 0, 4096, &ngpus));
    tacl__gpu_spec_t g = {{0}, 0, 0, 0, 0, 0};
    struct fy_node *gn = tacl__doc_get(m, "gpu");
    if (gn) TACL_CHECK(cf_gpu(d, gn, &g));
    if (ngpus > 0 && !gn)
        return tacl__doc_err(d, m, "host %s: %ld GPUs but no gpu type (e.g. gpu: H100-80GB)", name,
                             ngpus);
    if (!(v = tacl__doc_get(m, "gpus")) && gn) ngpus = 1;
    /* Intra-host GPU links: a class, a bandwidth, or a matrix. */
    char cls[16] = "";
    double link_gbs = 0, *matrix = NULL;
    if (gn) {
        snprintf(cls, sizeof cls, "%s", g.nvlink_gbs > 0 ? "NVLink" : "PCIe");
        link_gbs = tacl__gpu_link_class_gbs(cls, &g);
    }
    if ((v = tacl__doc_get(m, "gpu_link"))) {
        TACL_CHECK(cf_gpu_link_value(d, v, "gpu_link", &g, &link_gbs));
        /* Kept as written (the JSON writer puts it back): never cut, which could split a
         * UTF-8 sequence and make tacl's own output unreadable. */
        if (strlen(fy_node_get_scalar0(v)) >= sizeof cls)
            return tacl__doc_err(d, v, "gpu_link: expected at most %zu characters, found '%s'",
                                 sizeof cls - 1, fy_node_get_scalar0(v));
        snprintf(cls, sizeof cls, "%s", fy_node_get_scalar0(v));
    }
    if ((v = tacl__doc_get(m, "gpu_link_bandwidth")))
        TACL_CHECK(cf_bandwidth(d, v, "gpu_link_bandwidth", "GB/s", &link_gbs));
    if ((v = tacl__doc_get(m, "gpu_matrix"))) {
        if (!fy_node_is_sequence(v) || fy_node_sequence_item_count(v) != ngpus)
            return tacl__doc_err(d, v, "gpu_matrix: expected %ld rows (one per GPU)", ngpus);
        if (ngpus * ngpus * count > TACL_CLUSTER_MATRIX_MAX)
            return tacl__doc_err(d, v,
                                 "gpu_matrix: %ld GPUs on %ld hosts make %ld entries; expected at "
                                 "most %ld in all",
                                 ngpus, count, ngpus * ngpus * count, TACL_CLUSTER_MATRIX_MAX);
        matrix = calloc((size_t)(ngpus * ngpus), sizeof *matrix);
        if (!matrix) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "out of memory");
        double minbw = 0;
        for (int r = 0; r < ngpus; r++) {
            struct fy_node *row = fy_node_sequence_get_by_index(v, r);
            if (!fy_node_is_sequence(row) || fy_node_sequence_item_count(row) != ngpus) {
                free(matrix);
                return tacl__doc_err(d, row, "gpu_matrix row %d: expected %ld entries", r, ngpus);
            }
            for (int k = 0; k < ngpus; k++) {
                double bw;
                tacl_status_t st = cf_gpu_link_value(d, fy_node_sequence_get_by_index(row, k),
                                                     "gpu_matrix entry", &g, &bw);
                if (st != TACL_OK) {
                    free(matrix);
                    return st;
                }
                matrix[r * ngpus + k] = bw;
                if (r != k && (minbw == 0 || bw < minbw)) minbw = bw;
            }
        }
        snprintf(cls, sizeof cls, "matrix");
        link_gbs = minbw;
    }
    for (long i = 0; i < count; i++) {
        char hn[TACL_CLUSTER_NAME_MAX];
        int k = counted ? snprintf(hn, sizeof hn, "%s%ld", name, i)
                        : snprintf(hn, sizeof hn, "%s", name);
        if (k < 0 || (size_t)k >= sizeof hn) {
            free(matrix);
            return tacl__doc_err(d, m, "hosts[]: name '%s' with its number %ld is too long", name,
                                 i);
        }
        int idx; /* names are checked unique once all are read (cf_unique_names) */
        tacl_status_t st = tacl__cluster_add_host(c, hn, (int)ngpus, NULL, &idx);
        if (st != TACL_OK) {
            free(matrix);
            return st;
        }
        tacl__cluster_host_t *h = &c->hosts[idx];
        h->gpu = g;
        snprintf(h->gpu_link, sizeof h->gpu_link, "%s", cls);
        h->gpu_link_gbs = link_gbs;
        if (matrix) {
            h->gpu_bw = malloc(sizeof(double) * (size_t)(ngpus * ngpus));
            if (!h->gpu_bw) {
                free(matrix);
                return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "out of memory");
            }
            memcpy(h->gpu_bw, matrix, sizeof(double) * (size_t)(ngpus * ngpus));
        }
    }
    free(matrix);
    /* Addresses and interface: only meaningful for a single host. */
    tacl__cluster_host_t *h = &c->hosts[c->nhosts - 1];
    int hi = c->nhosts - 1;
    char net[32] = "";
    if ((v = tacl__doc_get(m, "network")))
        TACL_CHECK(tacl__doc_str(d, v, "network", net, sizeof net));
    if ((v = tacl__doc_get(m, "ifname")))
        TACL_CHECK(tacl__doc_str(d, v, "ifname", h->ifname, sizeof h->ifname));
    if ((v = tacl__doc_get(m, "address"))) {
        char a[TACL_CLUSTER_NAME_MAX];
        TACL_CHECK(tacl__doc_str(d, v, "address", a, sizeof a));
        TACL_CHECK(cf_address(d, c, v, hi, a, net));
    }
    if ((v = tacl__doc_get(m, "addresses"))) {
        if (!fy_node_is_sequence(v))
            return tacl__doc_err(d, v, "addresses: expected a list of addresses");
        void *it = NULL;
        struct fy_node *a;
        while ((a = fy_node_sequence_iterate(v, &it))) {
            char addr[TACL_CLUSTER_NAME_MAX], anet[32];
            snprintf(anet, sizeof anet, "%s", net);
            if (fy_node_is_mapping(a)) {
                /* {address: 192.168.1.2, network: ib}: the network the address is on. */
                static const char *const akeys[] = {"address", "network", NULL};
                TACL_CHECK(tacl__doc_keys(d, a, "addresses[]", akeys));
                struct fy_node *x = tacl__doc_get(a, "address");
                if (!x) return tacl__doc_err(d, a, "addresses[]: expected an address");
                TACL_CHECK(tacl__doc_str(d, x, "addresses[].address", addr, sizeof addr));
                if ((x = tacl__doc_get(a, "network")))
                    TACL_CHECK(tacl__doc_str(d, x, "addresses[].network", anet, sizeof anet));
            } else {
                TACL_CHECK(tacl__doc_str(d, a, "addresses[]", addr, sizeof addr));
            }
            TACL_CHECK(cf_address(d, c, a, hi, addr, anet));
        }
    }
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
        st = cf_host(d, c, fy_node_sequence_get_by_index(hosts, e));
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

#else /* !TACL_HAVE_FYAML */

static tacl_status_t doc_unavailable(const char *file)
{
    return tacl__err(NULL, TACL_ERR_UNAVAILABLE, TACL_SUB_TOPO,
                     "%s: tacl was built without libfyaml (Debian: libfyaml-dev), so YAML/JSON "
                     "files cannot be read",
                     file);
}
tacl_status_t tacl__doc_load(const char *path, tacl__doc_t *d)
{
    memset(d, 0, sizeof *d);
    return doc_unavailable(path);
}
tacl_status_t tacl__doc_parse(const char *name, const char *text, tacl__doc_t *d)
{
    (void)text;
    memset(d, 0, sizeof *d);
    return doc_unavailable(name);
}
void tacl__doc_close(tacl__doc_t *d)
{
    (void)d;
}
struct fy_node *tacl__doc_root(const tacl__doc_t *d)
{
    (void)d;
    return NULL;
}
tacl_status_t tacl__cluster_read(const tacl__doc_t *d, tacl_cluster_t **out)
{
    (void)out;
    return doc_unavailable(d->file);
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
