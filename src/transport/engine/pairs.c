/* pairs.c — which pairs create probes and what every pair inherits. Ranks of one host that
 * publish the same addresses (ports aside) form a group; each ordered pair of groups (a, b) is
 * probed once, by the rank of local index b mod |a| of a towards the rank of local index
 * a mod |b| of b (inside a group: its first two ranks, both ways), so the probe's connections
 * per rank grow with the hosts over the ranks per host, not with the world. Every rank pair
 * inherits its groups' verdicts: reachable, who can dial whom and at which of the peer's
 * addresses, and the text the doctor shows. Also here: the notice tree along which deaths and
 * cuts travel (liveness.c). */
#include "transport/engine/engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int eng_same_addrs(const tacl__tcp_addr_t *a, int na, const tacl__tcp_addr_t *b, int nb)
{
    if (na != nb) return 0;
    for (int k = 0; k < na; k++)
        if (a[k].family != b[k].family || memcmp(a[k].addr, b[k].addr, sizeof a[k].addr) ||
            strncmp(a[k].ifname, b[k].ifname, sizeof a[k].ifname))
            return 0;
    return 1;
}

void tacl__eng_groups_free(eng_groups_t *gp)
{
    free(gp->group);
    free(gp->gcount);
    free(gp->gstart);
    free(gp->gmem);
    memset(gp, 0, sizeof *gp);
}

tacl_status_t tacl__eng_groups(const tacl__engine_t *e, const tacl__tcp_addr_t *addrs,
                               const int *naddr, eng_groups_t *gp, tacl__errbuf_t *eb)
{
    int n = e->size;
    int *first = malloc(sizeof *first * (size_t)n); /* per group: its first rank */
    gp->group = malloc(sizeof *gp->group * (size_t)n);
    gp->gcount = calloc((size_t)n, sizeof *gp->gcount);
    gp->gstart = calloc((size_t)n, sizeof *gp->gstart);
    gp->gmem = malloc(sizeof *gp->gmem * (size_t)n);
    if (!first || !gp->group || !gp->gcount || !gp->gstart || !gp->gmem) {
        free(first);
        tacl__eng_groups_free(gp);
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    }
    gp->ng = 0;
    for (int r = 0; r < n; r++) {
        int g = 0;
        for (; g < gp->ng; g++) {
            int f = first[g];
            if (!strcmp(e->hosts[f], e->hosts[r]) &&
                eng_same_addrs(&addrs[f * TACL_TCP_MAX_ADDRS], naddr[f],
                               &addrs[r * TACL_TCP_MAX_ADDRS], naddr[r]))
                break;
        }
        if (g == gp->ng) first[gp->ng++] = r;
        gp->group[r] = g;
        gp->gcount[g]++;
    }
    for (int g = 1; g < gp->ng; g++)
        gp->gstart[g] = gp->gstart[g - 1] + gp->gcount[g - 1];
    int *fill = first; /* reused: per group, members placed so far */
    memset(fill, 0, sizeof *fill * (size_t)gp->ng);
    for (int r = 0; r < n; r++) {
        int g = gp->group[r];
        gp->gmem[gp->gstart[g] + fill[g]++] = r;
    }
    free(first);
    return TACL_OK;
}

static int eng_member(const eng_groups_t *gp, int g, int idx)
{
    return gp->gmem[gp->gstart[g] + idx % gp->gcount[g]];
}

/* The prober and target of the ordered pair (a, b); inside a group, way 0 is its first rank to
 * its second, way 1 back. -1 when the group has one rank. */
static int eng_plan(const eng_groups_t *gp, int a, int b, int way, int *target)
{
    *target = -1;
    if (a == b) {
        if (gp->gcount[a] < 2) return -1;
        *target = eng_member(gp, a, 1 - way);
        return eng_member(gp, a, way);
    }
    *target = eng_member(gp, b, a);
    return eng_member(gp, a, b);
}

int tacl__eng_probe_target(const eng_groups_t *gp, int a, int b, int me)
{
    int t = -1;
    for (int way = 0; way < (a == b ? 2 : 1); way++)
        if (eng_plan(gp, a, b, way, &t) == me) return t;
    return -1;
}

int tacl__eng_groups_allowed(const eng_groups_t *gp, const uint8_t *allowed, int n, int a, int b)
{
    if (!allowed) return 1;
    for (int x = 0; x < gp->gcount[a]; x++)
        for (int y = 0; y < gp->gcount[b]; y++) {
            int i = eng_member(gp, a, x), j = eng_member(gp, b, y);
            if (i != j && allowed[i * n + j] && allowed[j * n + i]) return 1;
        }
    return 0;
}

int tacl__eng_probe_slots(const eng_groups_t *gp, int n)
{
    int most = 1;
    for (int r = 0; r < n; r++) {
        int k = 0;
        for (int b = 0; b < gp->ng; b++)
            k += tacl__eng_probe_target(gp, gp->group[r], b, r) >= 0;
        if (k > most) most = k;
    }
    return most;
}

void tacl__eng_verdicts_free(eng_verdicts_t *v)
{
    free(v->ab);
    free(v->way1);
    v->ab = v->way1 = NULL;
}

int tacl__eng_fail_slots(const eng_row_t *recs, int n, int slots)
{
    int most = 0;
    for (int r = 0; r < n; r++)
        for (int k = 0; k < slots; k++) {
            int t = recs[(size_t)r * (size_t)slots + (size_t)k].text;
            if (t > most) most = t;
        }
    return most;
}

/* What worked or why not, for a verdict (its rank's failure text; "" when none was sent). */
static const char *eng_row_text(const eng_verdicts_t *v, const eng_row_t *row)
{
    if (!row || !row->text || row->text > v->nfail || !v->texts) return "";
    size_t r = (size_t)(row - v->recs) / (size_t)v->slots;
    return v->texts[r * (size_t)v->nfail + row->text - 1];
}

tacl_status_t tacl__eng_verdicts(const eng_groups_t *gp, const eng_row_t *recs, int n, int slots,
                                 const char (*texts)[ENG_FAIL_TEXT], int nfail, eng_verdicts_t *v,
                                 tacl__errbuf_t *eb)
{
    size_t g = (size_t)gp->ng;
    v->recs = recs;
    v->texts = texts;
    v->slots = slots;
    v->nfail = nfail;
    v->ab = calloc(g * g, sizeof *v->ab);
    v->way1 = calloc(g, sizeof *v->way1);
    if (!v->ab || !v->way1) {
        tacl__eng_verdicts_free(v);
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    }
    for (int r = 0; r < n; r++)
        for (int k = 0; k < slots; k++) {
            const eng_row_t *row = &recs[(size_t)r * (size_t)slots + (size_t)k];
            int a = gp->group[r], b = row->group;
            /* A record names only groups its rank was meant to probe (the same plan on every
             * rank), so a rank cannot stand in for another's verdict. */
            if (b < 0 || b >= gp->ng || tacl__eng_probe_target(gp, a, b, r) < 0 ||
                row->addr > TACL_TCP_MAX_ADDRS || (row->ok && !row->addr))
                continue;
            if (a == b && gp->gmem[gp->gstart[a]] != r)
                v->way1[a] = row;
            else
                v->ab[(size_t)a * g + (size_t)b] = row;
        }
    return TACL_OK;
}

/* The verdict on rank i connecting to rank j (from the probe of their groups), and the ranks
 * that tried. */
static const eng_row_t *eng_verdict(const eng_groups_t *gp, const eng_verdicts_t *v, int i, int j,
                                    int *prober, int *target)
{
    int a = gp->group[i], b = gp->group[j], way = 0;
    if (a == b) way = i < j ? 0 : 1;
    *prober = eng_plan(gp, a, b, way, target);
    if (*prober < 0) return NULL;
    return way ? v->way1[a] : v->ab[(size_t)a * (size_t)gp->ng + (size_t)b];
}

static void eng_pair_text(const tacl__engine_t *e, const eng_groups_t *gp, const eng_verdicts_t *v,
                          const tacl__tcp_addr_t *addrs, int nconns, int lo, int hi, char *out,
                          size_t len)
{
    int p1 = -1, t1 = -1, p2 = -1, t2 = -1;
    const eng_row_t *up = eng_verdict(gp, v, lo, hi, &p1, &t1);
    const eng_row_t *down = eng_verdict(gp, v, hi, lo, &p2, &t2);
    /* The lower rank's way is named when it works, else the higher's. */
    int to = up && up->ok ? hi : down && down->ok ? lo : -1;
    const eng_row_t *w = to == hi ? up : down;
    if (to >= 0 && w->addr >= 1) {
        const tacl__tcp_addr_t *a = &addrs[to * TACL_TCP_MAX_ADDRS + w->addr - 1];
        char txt[80];
        tacl__tcp_addr_format(a, txt, sizeof txt);
        snprintf(out, len, "tcp %s (%.16s), %d connection%s", txt, a->ifname, nconns,
                 nconns > 1 ? "s" : "");
        return;
    }
    char x[ENG_FAIL_TEXT], y[ENG_FAIL_TEXT];
    /* A text is what the sender wrote: at most its size, ended here whatever came. */
    snprintf(x, sizeof x, "%.*s", ENG_FAIL_TEXT - 1, eng_row_text(v, up));
    snprintf(y, sizeof y, "%.*s", ENG_FAIL_TEXT - 1, eng_row_text(v, down));
    if (!strcmp(x, y))
        snprintf(out, len, "%.123s", x);
    else
        snprintf(out, len, "rank %d to %d: %.90s; rank %d to %d: %.90s", p1, t1, x, p2, t2, y);
    (void)e;
}

tacl_status_t tacl__eng_pairs(tacl__engine_t *e, const uint8_t *allowed, const eng_groups_t *gp,
                              const eng_verdicts_t *v, const tacl__tcp_addr_t *addrs,
                              const int *naddr, int nconns, int full, tacl__errbuf_t *eb)
{
    int n = e->size, me = e->rank, p = -1, t = -1;
    e->dial_self = calloc((size_t)n, 1);
    e->dial_addr = calloc((size_t)n * TACL_TCP_MAX_ADDRS, sizeof *e->dial_addr);
    e->dial_naddr = calloc((size_t)n, sizeof *e->dial_naddr);
    if (!e->dial_self || !e->dial_addr || !e->dial_naddr)
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            const eng_row_t *up = eng_verdict(gp, v, i, j, &p, &t);
            const eng_row_t *down = eng_verdict(gp, v, j, i, &p, &t);
            int ok = (up && up->ok) || (down && down->ok);
            int al = !allowed || (allowed[i * n + j] && allowed[j * n + i]);
            e->reach[i * n + j] = e->reach[j * n + i] = (uint8_t)(ok && al);
            if (full && al && !ok) {
                char why[256];
                eng_pair_text(e, gp, v, addrs, nconns, i, j, why, sizeof why);
                return tacl__err(eb, TACL_ERR_UNREACHABLE, TACL_SUB_NET,
                                 "TACL_TOPO=full but rank %d (host %s) cannot connect to rank %d "
                                 "(host %s): %s",
                                 i, e->hosts[i], j, e->hosts[j], why);
            }
        }
    for (int j = 0; j < n; j++) {
        if (j == me) continue;
        int al = !allowed || (allowed[me * n + j] && allowed[j * n + me]);
        if (!al) {
            snprintf(e->info[j], sizeof e->info[j], "not used: topology forbids it");
            continue;
        }
        eng_pair_text(e, gp, v, addrs, nconns, me < j ? me : j, me < j ? j : me, e->info[j],
                      sizeof e->info[j]);
        if (!e->reach[me * n + j]) continue;
        const eng_row_t *mine = eng_verdict(gp, v, me, j, &p, &t);
        const eng_row_t *theirs = eng_verdict(gp, v, j, me, &p, &t);
        int can = mine && mine->ok && mine->addr >= 1, they = theirs && theirs->ok;
        if (gp->group[me] == gp->group[j] && !can && they) {
            /* Inside a group only the way between its first two ranks was tried, and either
             * way proves the shared addresses answer. */
            can = theirs->addr >= 1;
            mine = theirs;
        }
        e->dial_self[j] = (uint8_t)(!can ? 0 : they ? 1 : 2);
        if (!can) continue;
        /* The address that answered first, then the card's others. */
        const tacl__tcp_addr_t *card = &addrs[j * TACL_TCP_MAX_ADDRS];
        tacl__tcp_addr_t *to = &e->dial_addr[j * TACL_TCP_MAX_ADDRS];
        int m = 0, won = mine->addr - 1 < naddr[j] ? mine->addr - 1 : 0;
        to[m++] = card[won];
        for (int k = 0; k < naddr[j] && k < TACL_TCP_MAX_ADDRS; k++)
            if (k != won) to[m++] = card[k];
        e->dial_naddr[j] = m;
    }
    return TACL_OK;
}

tacl_status_t tacl__eng_notice_tree(tacl__engine_t *e, tacl__errbuf_t *eb)
{
    int n = e->size, sp = 0;
    int *stack = malloc(sizeof *stack * (size_t)n), *next = calloc((size_t)n, sizeof *next);
    uint8_t *seen = calloc((size_t)n, 1);
    e->tree_nb = malloc(sizeof *e->tree_nb * (size_t)n);
    e->ntree = 0;
    if (!stack || !next || !seen || !e->tree_nb) {
        free(stack);
        free(next);
        free(seen);
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    }
    /* Depth first, lowest rank first: a full mesh gives the path 0-1-2-..., a chain of hosts
     * the chain, so no rank carries many notices. */
    for (int root = 0; root < n; root++) {
        if (seen[root]) continue;
        seen[root] = 1;
        stack[sp++] = root;
        while (sp) {
            int u = stack[sp - 1], v = next[u];
            while (v < n && (seen[v] || !e->reach[u * n + v]))
                v++;
            next[u] = v + 1;
            if (v >= n) {
                sp--;
                continue;
            }
            seen[v] = 1;
            stack[sp++] = v;
            if (u == e->rank) e->tree_nb[e->ntree++] = v;
            if (v == e->rank) e->tree_nb[e->ntree++] = u;
        }
    }
    free(stack);
    free(next);
    free(seen);
    return TACL_OK;
}
