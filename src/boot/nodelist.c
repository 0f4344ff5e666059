/* nodelist.c — the parser of Slurm's host lists and tasks-per-node lists. A host list is parsed
 * once into expressions made of literal runs and bracket groups of numeric ranges; counting,
 * taking the first host and expanding all hosts then walk that parsed form, so validation is
 * the same whichever the caller asks for. */
#include "boot/nodelist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NL_NAME_MAX   255 /* longest host name a list may produce (DNS limit) */
#define NL_DIGITS_MAX 18  /* numbers stay well inside unsigned long long */
#define NL_SHOW       "%.200s"

typedef struct {
    unsigned long long lo, hi;
    int width; /* zero padding: the digits written for the lower bound */
} nl_range_t;

/* A literal run of host-name characters (nranges == 0) or one bracket group. */
typedef struct {
    const char *lit;
    size_t lit_len;
    nl_range_t *ranges;
    size_t nranges;
    unsigned long long size; /* values of the bracket group */
} nl_seg_t;

typedef struct {
    nl_seg_t *segs;
    size_t nsegs;
    unsigned long long count; /* hosts of this expression */
} nl_expr_t;

typedef struct {
    const char *spec;
    size_t pos;
    size_t max;
    nl_expr_t *exprs;
    size_t nexprs;
    unsigned long long total;
} nl_parser_t;

static void nl_parser_free(nl_parser_t *p)
{
    for (size_t e = 0; e < p->nexprs; e++) {
        for (size_t s = 0; s < p->exprs[e].nsegs; s++)
            free(p->exprs[e].segs[s].ranges);
        free(p->exprs[e].segs);
    }
    free(p->exprs);
    p->exprs = NULL;
    p->nexprs = 0;
}

static int nl_is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

static int nl_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Describes the character at pos for a message: 'x', or "end of input", or a hex escape. */
static const char *nl_char_desc(const char *spec, size_t pos, char *buf, size_t len)
{
    unsigned char c = (unsigned char)spec[pos];
    if (c == '\0')
        snprintf(buf, len, "the end");
    else if (c >= 0x20 && c < 0x7f)
        snprintf(buf, len, "'%c'", c);
    else
        snprintf(buf, len, "byte 0x%02x", c);
    return buf;
}

static tacl_status_t nl_fail(const nl_parser_t *p, const char *what, size_t pos)
{
    return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_BOOT,
                     "node list \"" NL_SHOW "\": %s at column %zu", p->spec, what, pos + 1);
}

static tacl_status_t nl_too_many(const nl_parser_t *p)
{
    return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_BOOT,
                     "node list \"" NL_SHOW "\" expands to more than %zu hosts", p->spec, p->max);
}

/* Reads a decimal number at p->pos inside the bracket opened at open; *ndigits receives how
 * many digits it had. */
static tacl_status_t nl_parse_number(nl_parser_t *p, size_t open, unsigned long long *v,
                                     int *ndigits)
{
    const char *s = p->spec;
    size_t start = p->pos;
    char cbuf[32], msg[96];
    if (!nl_is_digit(s[p->pos])) {
        if (s[p->pos] == ']' || s[p->pos] == ',') return nl_fail(p, "empty range", p->pos);
        if (s[p->pos] == '[') return nl_fail(p, "nested '['", p->pos);
        if (s[p->pos] == '\0') return nl_fail(p, "'[' is not closed", open);
        snprintf(msg, sizeof msg, "expected a number, found %s",
                 nl_char_desc(s, p->pos, cbuf, sizeof cbuf));
        return nl_fail(p, msg, p->pos);
    }
    unsigned long long x = 0;
    while (nl_is_digit(s[p->pos])) {
        if (p->pos - start >= NL_DIGITS_MAX) return nl_fail(p, "number too long", start);
        x = x * 10 + (unsigned long long)(s[p->pos] - '0');
        p->pos++;
    }
    *v = x;
    *ndigits = (int)(p->pos - start);
    return TACL_OK;
}

static int nl_digits_of(unsigned long long v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Parses "[a-b,c,...]" at p->pos (which holds '[') into seg. */
static tacl_status_t nl_parse_bracket(nl_parser_t *p, nl_seg_t *seg, size_t *name_len)
{
    const char *s = p->spec;
    size_t open = p->pos++;
    size_t cap = 0;
    int widest = 0;
    char cbuf[32], msg[128];
    memset(seg, 0, sizeof *seg);
    for (;;) {
        if (s[p->pos] == '\0') {
            free(seg->ranges);
            return nl_fail(p, "'[' is not closed", open);
        }
        nl_range_t r;
        size_t at = p->pos;
        int hd;
        tacl_status_t st = nl_parse_number(p, open, &r.lo, &r.width);
        if (st == TACL_OK) {
            r.hi = r.lo;
            if (s[p->pos] == '-') {
                p->pos++;
                st = nl_parse_number(p, open, &r.hi, &hd);
                if (st == TACL_OK && r.hi < r.lo) {
                    snprintf(msg, sizeof msg, "range %llu-%llu goes backwards", r.lo, r.hi);
                    st = nl_fail(p, msg, at);
                }
            }
        }
        if (st != TACL_OK) {
            free(seg->ranges);
            return st;
        }
        if (seg->nranges == cap) {
            cap = cap ? cap * 2 : 4;
            nl_range_t *n = realloc(seg->ranges, cap * sizeof *n);
            if (!n) {
                free(seg->ranges);
                return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_BOOT, "node list: out of memory");
            }
            seg->ranges = n;
        }
        seg->ranges[seg->nranges++] = r;
        unsigned long long n = r.hi - r.lo + 1;
        if (n > p->max || seg->size > p->max - n) {
            free(seg->ranges);
            return nl_too_many(p);
        }
        seg->size += n;
        int w = nl_digits_of(r.hi) > r.width ? nl_digits_of(r.hi) : r.width;
        if (w > widest) widest = w;
        if (s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (s[p->pos] == ']') {
            p->pos++;
            break;
        }
        if (s[p->pos] == '\0') {
            free(seg->ranges);
            return nl_fail(p, "'[' is not closed", open);
        }
        snprintf(msg, sizeof msg, "expected ',' or ']' in the bracket, found %s",
                 nl_char_desc(s, p->pos, cbuf, sizeof cbuf));
        free(seg->ranges);
        return nl_fail(p, msg, p->pos);
    }
    *name_len += (size_t)widest;
    return TACL_OK;
}

static tacl_status_t nl_add_seg(nl_expr_t *e, size_t *cap, const nl_seg_t *seg)
{
    if (e->nsegs == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        nl_seg_t *n = realloc(e->segs, *cap * sizeof *n);
        if (!n) return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_BOOT, "node list: out of memory");
        e->segs = n;
    }
    e->segs[e->nsegs++] = *seg;
    return TACL_OK;
}

/* Parses one host expression: everything up to the next comma outside brackets. */
static tacl_status_t nl_parse_expr(nl_parser_t *p, nl_expr_t *e)
{
    const char *s = p->spec;
    size_t start = p->pos, cap = 0, name_len = 0;
    char cbuf[32], msg[160];
    tacl_status_t st = TACL_OK;
    memset(e, 0, sizeof *e);
    e->count = 1;
    while (st == TACL_OK && s[p->pos] && s[p->pos] != ',') {
        nl_seg_t seg;
        char c = s[p->pos];
        if (c == '[') {
            st = nl_parse_bracket(p, &seg, &name_len);
            if (st != TACL_OK) break;
            if (seg.size > p->max / e->count) {
                free(seg.ranges);
                st = nl_too_many(p);
                break;
            }
            e->count *= seg.size;
        } else if (c == ']') {
            st = nl_fail(p, "']' without a matching '['", p->pos);
            break;
        } else if (nl_is_host_char(c)) {
            memset(&seg, 0, sizeof seg);
            seg.lit = s + p->pos;
            while (nl_is_host_char(s[p->pos]))
                p->pos++;
            seg.lit_len = (size_t)(s + p->pos - seg.lit);
            name_len += seg.lit_len;
        } else {
            snprintf(msg, sizeof msg,
                     "unexpected %s (host names use letters, digits, '-', '.' and '_')",
                     nl_char_desc(s, p->pos, cbuf, sizeof cbuf));
            st = nl_fail(p, msg, p->pos);
            break;
        }
        st = nl_add_seg(e, &cap, &seg);
        if (st != TACL_OK) free(seg.ranges);
    }
    if (st == TACL_OK && e->nsegs == 0) st = nl_fail(p, "empty host name", start);
    if (st == TACL_OK && name_len > NL_NAME_MAX) {
        snprintf(msg, sizeof msg, "host names longer than %d characters", NL_NAME_MAX);
        st = nl_fail(p, msg, start);
    }
    if (st != TACL_OK) {
        for (size_t i = 0; i < e->nsegs; i++)
            free(e->segs[i].ranges);
        free(e->segs);
        memset(e, 0, sizeof *e);
    }
    return st;
}

static tacl_status_t nl_parse(const char *spec, size_t max, nl_parser_t *p)
{
    memset(p, 0, sizeof *p);
    p->spec = spec ? spec : "";
    p->max = max ? max : TACL_NODELIST_MAX;
    if (!p->spec[0]) return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_BOOT, "node list is empty");
    size_t cap = 0;
    for (;;) {
        nl_expr_t e;
        tacl_status_t st = nl_parse_expr(p, &e);
        if (st == TACL_OK && e.count > p->max - p->total) {
            st = nl_too_many(p);
            for (size_t i = 0; i < e.nsegs; i++)
                free(e.segs[i].ranges);
            free(e.segs);
        }
        if (st == TACL_OK && p->nexprs == cap) {
            cap = cap ? cap * 2 : 4;
            nl_expr_t *n = realloc(p->exprs, cap * sizeof *n);
            if (!n) {
                st = tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_BOOT, "node list: out of memory");
                for (size_t i = 0; i < e.nsegs; i++)
                    free(e.segs[i].ranges);
                free(e.segs);
            } else {
                p->exprs = n;
            }
        }
        if (st != TACL_OK) {
            nl_parser_free(p);
            return st;
        }
        p->exprs[p->nexprs++] = e;
        p->total += e.count;
        if (p->spec[p->pos] == '\0') break;
        p->pos++; /* the comma */
        if (p->spec[p->pos] == '\0') {
            nl_parser_free(p);
            return nl_fail(p, "empty host name after the last ','", p->pos);
        }
    }
    return TACL_OK;
}

/* Writes host number k (0-based) of expression e into buf (at least NL_NAME_MAX + 1 bytes). */
static void nl_expr_host(const nl_expr_t *e, unsigned long long k, char *buf)
{
    /* The rightmost bracket varies fastest: peel indices off from the right. */
    unsigned long long idx[NL_NAME_MAX + 1] = {0}; /* a bracket adds at least one character */
    size_t nb = 0;
    for (size_t s = 0; s < e->nsegs; s++)
        if (e->segs[s].nranges) nb++;
    size_t b = nb;
    for (size_t s = e->nsegs; s-- > 0;) {
        if (!e->segs[s].nranges) continue;
        b--;
        idx[b] = k % e->segs[s].size;
        k /= e->segs[s].size;
    }
    size_t o = 0;
    b = 0;
    for (size_t s = 0; s < e->nsegs; s++) {
        const nl_seg_t *g = &e->segs[s];
        if (!g->nranges) {
            memcpy(buf + o, g->lit, g->lit_len);
            o += g->lit_len;
            continue;
        }
        unsigned long long i = idx[b++];
        for (size_t r = 0; r < g->nranges; r++) {
            unsigned long long n = g->ranges[r].hi - g->ranges[r].lo + 1;
            if (i < n) {
                o += (size_t)snprintf(buf + o, NL_NAME_MAX + 1 - o, "%0*llu", g->ranges[r].width,
                                      g->ranges[r].lo + i);
                break;
            }
            i -= n;
        }
    }
    buf[o] = '\0';
}

tacl_status_t tacl__nodelist_expand(const char *spec, size_t max_hosts, tacl__nodelist_t *out)
{
    if (!out)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_BOOT,
                         "tacl_nodelist_expand: out is NULL");
    nl_parser_t p;
    TACL_CHECK(nl_parse(spec, max_hosts, &p));
    char **hosts = calloc((size_t)p.total, sizeof *hosts);
    if (!hosts) {
        nl_parser_free(&p);
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_BOOT,
                         "node list: out of memory for %llu hosts", p.total);
    }
    size_t n = 0;
    char name[NL_NAME_MAX + 1];
    for (size_t e = 0; e < p.nexprs; e++) {
        for (unsigned long long k = 0; k < p.exprs[e].count; k++) {
            nl_expr_host(&p.exprs[e], k, name);
            hosts[n] = strdup(name);
            if (!hosts[n]) {
                tacl__nodelist_t partial = {hosts, n};
                tacl__nodelist_free(&partial);
                nl_parser_free(&p);
                return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_BOOT, "node list: out of memory");
            }
            n++;
        }
    }
    nl_parser_free(&p);
    out->hosts = hosts;
    out->count = n;
    return TACL_OK;
}

void tacl__nodelist_free(tacl__nodelist_t *nl)
{
    if (!nl) return;
    for (size_t i = 0; i < nl->count; i++)
        free(nl->hosts[i]);
    free(nl->hosts);
    nl->hosts = NULL;
    nl->count = 0;
}

tacl_status_t tacl__nodelist_first(const char *spec, char *buf, size_t len, size_t *count)
{
    if (!buf || !len)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_BOOT, "tacl_nodelist_first: no buffer");
    nl_parser_t p;
    TACL_CHECK(nl_parse(spec, 0, &p));
    char name[NL_NAME_MAX + 1];
    nl_expr_host(&p.exprs[0], 0, name);
    unsigned long long total = p.total;
    nl_parser_free(&p);
    if (strlen(name) >= len)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_BOOT,
                         "node list: first host '%s' does not fit in %zu bytes", name, len);
    memcpy(buf, name, strlen(name) + 1);
    if (count) *count = (size_t)total;
    return TACL_OK;
}

static tacl_status_t tpn_fail(const char *spec, const char *what, size_t pos)
{
    return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_BOOT,
                     "tasks-per-node list \"" NL_SHOW "\": %s at column %zu", spec, what, pos + 1);
}

/* Reads a positive decimal int at *pos. */
static tacl_status_t tpn_number(const char *spec, size_t *pos, int *v)
{
    size_t start = *pos;
    long x = 0;
    if (!nl_is_digit(spec[*pos])) return tpn_fail(spec, "expected a number", *pos);
    while (nl_is_digit(spec[*pos])) {
        x = x * 10 + (spec[*pos] - '0');
        if (x > 1000000000L) return tpn_fail(spec, "number too large", start);
        (*pos)++;
    }
    if (x == 0) return tpn_fail(spec, "a count of 0", start);
    *v = (int)x;
    return TACL_OK;
}

tacl_status_t tacl__slurm_tasks_per_node(const char *spec, int node_id, int *out)
{
    if (!out)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_BOOT,
                         "tacl_slurm_tasks_per_node: out is NULL");
    if (!spec || !spec[0])
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_BOOT, "tasks-per-node list is empty");
    size_t pos = 0;
    long node = 0;
    int found = -1, first = -1, differ = -1;
    for (;;) {
        int tasks, reps = 1;
        TACL_CHECK(tpn_number(spec, &pos, &tasks));
        if (spec[pos] == '(') {
            if (spec[pos + 1] != 'x') return tpn_fail(spec, "expected 'x' after '('", pos + 1);
            pos += 2;
            TACL_CHECK(tpn_number(spec, &pos, &reps));
            if (spec[pos] != ')') return tpn_fail(spec, "expected ')'", pos);
            pos++;
        }
        if (first < 0) first = tasks;
        if (tasks != first && differ < 0) differ = tasks;
        if (node_id >= 0 && node_id >= node && node_id < node + reps) found = tasks;
        node += reps;
        if (spec[pos] == '\0') break;
        if (spec[pos] != ',') return tpn_fail(spec, "expected ',' or '('", pos);
        pos++;
    }
    if (node_id < 0) {
        if (differ >= 0)
            return tacl__err(NULL, TACL_ERR_NOT_FOUND, TACL_SUB_BOOT,
                             "tasks-per-node list \"" NL_SHOW
                             "\": nodes run different task counts (%d and %d); the node's index "
                             "is needed to choose",
                             spec, first, differ);
        *out = first;
        return TACL_OK;
    }
    if (found < 0)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_BOOT,
                         "tasks-per-node list \"" NL_SHOW
                         "\" describes %ld nodes; node %d is not one",
                         spec, node, node_id);
    *out = found;
    return TACL_OK;
}
