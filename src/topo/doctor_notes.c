/* doctor_notes.c — the report's per-pair notes (how rank i reached j, or why not), interned:
 * n*n 4-byte indices into a table of distinct texts, so that rank 0 of a large world keeps
 * one copy of each text (a peer's address repeats in every rank's notes) instead of n*n
 * fixed-size strings. */
#include "topo/doctor_report.h"

#include <stdlib.h>
#include <string.h>

struct tacl__doctor_notes {
    uint32_t *at; /* n*n: the text of pair (i, j), 0 = "" */
    char **text;  /* distinct texts; text[0] = "" */
    uint32_t ntext, cap;
    uint32_t *slots; /* open addressing: index + 1 into text, 0 empty */
    uint32_t nslots; /* a power of two, at least twice ntext */
};

static uint64_t notes_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

tacl__doctor_notes_t *tacl__doctor_notes_create(int n)
{
    tacl__doctor_notes_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->at = calloc((size_t)n * (size_t)n, sizeof *t->at);
    t->cap = 64;
    t->text = calloc(t->cap, sizeof *t->text);
    t->nslots = 128;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    if (!t->at || !t->text || !t->slots || !(t->text[0] = strdup(""))) {
        tacl__doctor_notes_destroy(t);
        return NULL;
    }
    t->ntext = 1;
    return t;
}

void tacl__doctor_notes_destroy(tacl__doctor_notes_t *t)
{
    if (!t) return;
    for (uint32_t k = 0; t->text && k < t->ntext; k++)
        free(t->text[k]);
    free(t->text);
    free(t->slots);
    free(t->at);
    free(t);
}

static int notes_grow(tacl__doctor_notes_t *t)
{
    uint32_t ns = t->nslots * 2, *slots = calloc(ns, sizeof *slots);
    if (!slots) return -1;
    for (uint32_t k = 1; k < t->ntext; k++) {
        uint32_t s = (uint32_t)notes_hash(t->text[k]) & (ns - 1);
        while (slots[s])
            s = (s + 1) & (ns - 1);
        slots[s] = k + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = ns;
    return 0;
}

/* The index of text (at most TACL_DOCTOR_INFO_MAX - 1 bytes of it), added if new; -1: no memory. */
static int64_t notes_intern(tacl__doctor_notes_t *t, const char *text)
{
    char buf[TACL_DOCTOR_INFO_MAX];
    size_t len = strnlen(text, sizeof buf - 1);
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (!len) return 0;
    uint32_t s = (uint32_t)notes_hash(buf) & (t->nslots - 1);
    for (; t->slots[s]; s = (s + 1) & (t->nslots - 1))
        if (strcmp(t->text[t->slots[s] - 1], buf) == 0) return t->slots[s] - 1;
    if ((t->ntext + 1) * 2 > t->nslots) {
        if (notes_grow(t) != 0) return -1;
        return notes_intern(t, buf);
    }
    if (t->ntext == t->cap) {
        char **grown = realloc(t->text, 2 * (size_t)t->cap * sizeof *grown);
        if (!grown) return -1;
        t->text = grown;
        t->cap *= 2;
    }
    if (!(t->text[t->ntext] = strdup(buf))) return -1;
    t->slots[s] = ++t->ntext;
    return t->ntext - 1;
}

tacl_status_t tacl__doctor_set_info(tacl__doctor_report_t *r, int i, int j, const char *text)
{
    int64_t k = notes_intern(r->notes, text ? text : "");
    if (k < 0)
        return tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_TOPO, "doctor report: out of memory");
    r->notes->at[(size_t)i * (size_t)r->n + (size_t)j] = (uint32_t)k;
    return TACL_OK;
}

const char *tacl__doctor_info(const tacl__doctor_report_t *r, int i, int j)
{
    return r->notes->text[r->notes->at[(size_t)i * (size_t)r->n + (size_t)j]];
}
