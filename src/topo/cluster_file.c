/* cluster_file.c — the YAML/JSON document layer under the cluster reader (cluster_file_read.c,
 * cluster_file_hosts.c), shared with the planner's model reader: files are checked and parsed
 * with libfyaml, every value is checked where it is read, and every error names
 * file:line:column and what was expected, so that a deployment engineer can fix the file
 * without reading tacl's source. Without libfyaml, every entry point says so. */
#include "topo/cluster_file_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
const char *tacl__doc_scalar(const tacl__doc_t *d, struct fy_node *n, const char *key,
                             const char *what)
{
    const char *s = n && fy_node_is_scalar(n) ? fy_node_get_scalar0(n) : NULL;
    if (!s) tacl__doc_err(d, n, "%s: expected %s", key, what);
    return s;
}

tacl_status_t tacl__doc_str(const tacl__doc_t *d, struct fy_node *n, const char *key, char *buf,
                            size_t len)
{
    const char *s = tacl__doc_scalar(d, n, key, "a string");
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
    const char *s = tacl__doc_scalar(d, n, key, "an integer");
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
    const char *s = tacl__doc_scalar(d, n, key, "a number");
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
    const char *s = tacl__doc_scalar(d, n, key, "true or false");
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
/* The cluster reader (cluster_file_read.c with libfyaml). */
tacl_status_t tacl__cluster_read(const tacl__doc_t *d, tacl_cluster_t **out)
{
    (void)out;
    return doc_unavailable(d->file);
}
#endif
