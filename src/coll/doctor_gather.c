/* doctor_gather.c — the doctor's records to rank 0 (see doctor_gather.h). */
#include "coll/doctor_gather.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A pair's failure text as it travels: the peer, then the text. */
typedef struct {
    int32_t peer;
    char err[TACL_DOCTOR_MSG_MAX];
} doctor_err_rec_t;

static tacl_status_t dg_bad(tacl__errbuf_t *eb, int q, const char *what, size_t len)
{
    return tacl__err(eb, TACL_ERR_PROTOCOL, TACL_SUB_INIT,
                     "doctor: rank %d sent a malformed %s record (%zu bytes)", q, what, len);
}

static tacl_status_t dg_gather(boot_store_xchg_ctx_t *x, const void *mine, size_t len,
                               boot_store_take_fn take, tacl__doctor_report_t *r,
                               tacl__errbuf_t *eb)
{
    return boot_store_gather_root(x, mine, len, r ? take : NULL, r, eb);
}

/* ---- Link notes: n NUL-terminated strings. ---- */

static tacl_status_t dg_take_notes(void *arg, int q, const void *val, size_t len,
                                   tacl__errbuf_t *eb)
{
    tacl__doctor_report_t *r = arg;
    const char *p = val, *end = p + len;
    for (int j = 0; j < r->n; j++) {
        const char *z = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
        if (!z) return dg_bad(eb, q, "link notes", len);
        TACL_CHECK(tacl__doctor_set_info(r, q, j, p));
        p = z + 1;
    }
    return p == end ? TACL_OK : dg_bad(eb, q, "link notes", len);
}

tacl_status_t tacl__doctor_send_notes(boot_store_xchg_ctx_t *x, const char *const *notes,
                                      tacl__doctor_report_t *r, tacl__errbuf_t *eb)
{
    size_t len = 0;
    for (int j = 0; j < x->size; j++)
        len += strnlen(notes[j], TACL_DOCTOR_INFO_MAX - 1) + 1;
    char *rec = malloc(len ? len : 1), *p = rec;
    if (!rec) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_INIT, "doctor: out of memory");
    for (int j = 0; j < x->size; j++) {
        size_t l = strnlen(notes[j], TACL_DOCTOR_INFO_MAX - 1);
        memcpy(p, notes[j], l);
        p[l] = '\0';
        p += l + 1;
    }
    tacl_status_t st = dg_gather(x, rec, len, dg_take_notes, r, eb);
    free(rec);
    return st;
}

/* ---- Pair figures (peers above the sender), then failure texts. ---- */

static tacl_status_t dg_take_pairs(void *arg, int q, const void *val, size_t len,
                                   tacl__errbuf_t *eb)
{
    tacl__doctor_report_t *r = arg;
    size_t n = (size_t)r->n, above = n - (size_t)q - 1, figs = above * sizeof(tacl__doctor_link_t);
    if (len < figs || (len - figs) % sizeof(doctor_err_rec_t) != 0)
        return dg_bad(eb, q, "pair figures", len);
    const uint8_t *b = val;
    for (size_t k = 0; k < above; k++)
        memcpy(&r->links[(size_t)q * n + (size_t)q + 1 + k], b + k * sizeof(tacl__doctor_link_t),
               sizeof(tacl__doctor_link_t));
    for (size_t off = figs; off < len; off += sizeof(doctor_err_rec_t)) {
        doctor_err_rec_t e;
        memcpy(&e, b + off, sizeof e);
        if (e.peer <= q || e.peer >= r->n) return dg_bad(eb, q, "pair failure", len);
        char text[TACL_DOCTOR_MSG_MAX];
        snprintf(text, sizeof text, "%.*s", TACL_DOCTOR_MSG_MAX - 1, e.err);
        tacl_status_t st = tacl__doctor_set_link_err(r, q, e.peer, text);
        if (st != TACL_OK) return tacl__err_keep(eb, st);
    }
    return TACL_OK;
}

tacl_status_t tacl__doctor_send_pairs(boot_store_xchg_ctx_t *x, const tacl__doctor_pair_t *row,
                                      tacl__doctor_report_t *r, tacl__errbuf_t *eb)
{
    int n = x->size, me = x->rank;
    size_t above = (size_t)(n - me - 1), nerr = 0;
    for (int j = me + 1; j < n; j++)
        nerr += row[j].err[0] != '\0';
    size_t figs = above * sizeof(tacl__doctor_link_t), len = figs + nerr * sizeof(doctor_err_rec_t);
    uint8_t *rec = calloc(len ? len : 1, 1);
    if (!rec) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_INIT, "doctor: out of memory");
    size_t off = figs;
    for (int j = me + 1; j < n; j++) {
        tacl__doctor_link_t f = {row[j].lat_us, row[j].gbs};
        memcpy(rec + (size_t)(j - me - 1) * sizeof f, &f, sizeof f);
        if (!row[j].err[0]) continue;
        doctor_err_rec_t e = {.peer = j};
        snprintf(e.err, sizeof e.err, "%s", row[j].err);
        memcpy(rec + off, &e, sizeof e);
        off += sizeof e;
    }
    tacl_status_t st = dg_gather(x, rec, len, dg_take_pairs, r, eb);
    free(rec);
    return st;
}

/* ---- Smoke tests. ---- */

static tacl_status_t dg_take_smoke(void *arg, int q, const void *val, size_t len,
                                   tacl__errbuf_t *eb)
{
    tacl__doctor_report_t *r = arg;
    tacl__doctor_smoke_rank_t res[TACL_DOCTOR_NSMOKE];
    if (len != sizeof res) return dg_bad(eb, q, "smoke test", len);
    memcpy(res, val, sizeof res);
    for (int k = 0; k < TACL_DOCTOR_NSMOKE; k++) {
        tacl__doctor_smoke_t *s = &r->smoke[k];
        const tacl__doctor_smoke_rank_t *y = &res[k];
        if (q == 0) {
            memset(s, 0, sizeof *s);
            snprintf(s->msg, sizeof s->msg, "%.*s", TACL_DOCTOR_MSG_MAX - 1, y->msg);
        }
        s->ran |= y->ran != 0;
        if (y->secs > s->secs) s->secs = y->secs;
        if (y->gbs > 0 && (s->gbs <= 0 || y->gbs < s->gbs)) s->gbs = y->gbs;
        if (y->failed && !s->nfail++) snprintf(s->msg, sizeof s->msg, "rank %d: %.200s", q, y->msg);
        if (q == r->n - 1 && s->ran && !s->nfail) s->msg[0] = '\0';
    }
    return TACL_OK;
}

tacl_status_t tacl__doctor_send_smoke(boot_store_xchg_ctx_t *x,
                                      const tacl__doctor_smoke_rank_t *res,
                                      tacl__doctor_report_t *r, tacl__errbuf_t *eb)
{
    return dg_gather(x, res, TACL_DOCTOR_NSMOKE * sizeof *res, dg_take_smoke, r, eb);
}

/* ---- CPUs. ---- */

static tacl_status_t dg_take_cpu(void *arg, int q, const void *val, size_t len, tacl__errbuf_t *eb)
{
    tacl__doctor_report_t *r = arg;
    if (len != sizeof(tacl__doctor_cpu_t)) return dg_bad(eb, q, "CPU", len);
    memcpy(&r->cpu[q], val, len);
    return TACL_OK;
}

tacl_status_t tacl__doctor_send_cpu(boot_store_xchg_ctx_t *x, const tacl__doctor_cpu_t *cpu,
                                    tacl__doctor_report_t *r, tacl__errbuf_t *eb)
{
    return dg_gather(x, cpu, sizeof *cpu, dg_take_cpu, r, eb);
}
