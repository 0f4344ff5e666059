/* engine_pairs.c — which pairs create probes and what every pair inherits (src/transport/
 * engine/pairs.c), on made-up worlds without sockets. Scenarios:
 *
 * plan: 16 ranks on 4 hosts. Each ordered pair of hosts has exactly one prober and one
 * target, inside a host its first two ranks probe each other, and a rank probes at most
 * groups / (its group's ranks) other groups (rounded up); ranks of one host with other
 * addresses form their own group; records naming a group their rank was not meant to probe,
 * or an address index past the card's, are ignored.
 *
 * inherit: the verdicts of the probers become every rank pair's: unreachable host pairs, a
 * pair that connects one way only (the side that can dials, the other waits), the address
 * that answered (a multi-homed host reached at its second address from one host and at its
 * first from another) first among the peer's addresses to dial, with each rank's own port,
 * and the doctor's text; a pair the topology forbids; TACL_TOPO=full refusing an unreachable
 * pair.
 *
 * tree: the notice tree is the same spanning tree on every rank: a path on a full mesh, the
 * chain on a chain of hosts, a forest where the graph is cut. */
#include "check.h"
#include "transport/engine/engine_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define MAXN 16

typedef struct {
    int n;
    char *hosts[MAXN];
    tacl__tcp_addr_t addrs[MAXN * TACL_TCP_MAX_ADDRS];
    int naddr[MAXN];
} world_t;

static void w_addr(world_t *w, int r, int k, const char *ip, const char *ifname)
{
    tacl__tcp_addr_t *a = &w->addrs[r * TACL_TCP_MAX_ADDRS + k];
    a->family = AF_INET;
    a->port = (uint16_t)(40000 + r);
    CHECK(inet_pton(AF_INET, ip, a->addr) == 1);
    snprintf(a->ifname, sizeof a->ifname, "%s", ifname);
    if (w->naddr[r] < k + 1) w->naddr[r] = k + 1;
}

/* n ranks, rank r on host r / per; host h has address 10.0.h.1 on eth0. */
static void w_make(world_t *w, int n, int per)
{
    memset(w, 0, sizeof *w);
    w->n = n;
    for (int r = 0; r < n; r++) {
        char host[16], ip[32];
        snprintf(host, sizeof host, "h%d", r / per);
        w->hosts[r] = strdup(host);
        snprintf(ip, sizeof ip, "10.0.%d.1", r / per);
        w_addr(w, r, 0, ip, "eth0");
    }
}

static void w_free(world_t *w)
{
    for (int r = 0; r < w->n; r++)
        free(w->hosts[r]);
}

static tacl__engine_t *w_engine(const world_t *w, int rank)
{
    tacl__engine_t *e = calloc(1, sizeof *e);
    CHECK(e);
    e->rank = rank;
    e->size = w->n;
    e->hosts = (char **)w->hosts;
    e->reach = calloc((size_t)w->n * (size_t)w->n, 1);
    e->info = calloc((size_t)w->n, sizeof *e->info);
    CHECK(e->reach && e->info);
    return e;
}

static void w_engine_free(tacl__engine_t *e)
{
    free(e->reach);
    free(e->info);
    free(e->dial_self);
    free(e->dial_addr);
    free(e->dial_naddr);
    free(e->tree_nb);
    free(e);
}

static void test_plan(void)
{
    world_t w;
    w_make(&w, 16, 4);
    /* Rank 15 listens on another interface too: it is a group of its own on host h3. */
    w_addr(&w, 15, 1, "192.168.3.1", "eth1");
    tacl__engine_t *e = w_engine(&w, 0);
    eng_groups_t gp = {0};
    tacl__errbuf_t eb;
    CHECK_OK(tacl__eng_groups(e, w.addrs, w.naddr, &gp, &eb));
    CHECK(gp.ng == 5);
    CHECK(gp.group[14] == 3 && gp.group[15] == 4 && gp.gcount[3] == 3 && gp.gcount[4] == 1);
    int probes[MAXN] = {0};
    for (int a = 0; a < gp.ng; a++)
        for (int b = 0; b < gp.ng; b++) {
            int probers = 0;
            for (int r = 0; r < w.n; r++) {
                int t = tacl__eng_probe_target(&gp, a, b, r);
                if (t < 0) continue;
                CHECK(gp.group[r] == a && gp.group[t] == b && t != r);
                probers++;
                probes[r]++;
            }
            /* Once each way between groups; inside a group of two or more, both ways. */
            int want = a != b ? 1 : gp.gcount[a] >= 2 ? 2 : 0;
            if (probers != want) {
                fprintf(stderr, "groups %d -> %d: %d probers, expected %d\n", a, b, probers, want);
                CHECK(0);
            }
        }
    /* A rank probes at most groups / (ranks of its group), rounded up, plus its own. */
    for (int r = 0; r < w.n; r++) {
        int c = gp.gcount[gp.group[r]];
        if (probes[r] > (gp.ng + c - 1) / c + (c >= 2))
            fprintf(stderr, "rank %d probes %d groups\n", r, probes[r]);
        CHECK(probes[r] <= (gp.ng + c - 1) / c + (c >= 2));
    }
    CHECK(probes[15] == 4 && probes[0] == 2);
    CHECK(tacl__eng_probe_slots(&gp, w.n) == 4); /* every rank's record has room for rank 15's */
    /* A record that names a group its rank was not meant to probe is not taken. */
    eng_row_t forged[2 * 4];
    memset(forged, 0, sizeof forged);
    for (int k = 0; k < 8; k++)
        forged[k].group = -1;
    forged[0] = (eng_row_t){.group = 2, .ok = 1, .addr = 1}; /* rank 0 does not probe h2 */
    eng_verdicts_t v = {0};
    /* And an address index past the card's, or a failure text that is not there. */
    forged[4] = (eng_row_t){.group = 1, .ok = 1, .addr = TACL_TCP_MAX_ADDRS + 1}; /* rank 1 */
    CHECK_OK(tacl__eng_verdicts(&gp, forged, 2, 4, NULL, 0, &v, &eb));
    for (int k = 0; k < gp.ng * gp.ng; k++)
        CHECK(!v.ab[k]);
    tacl__eng_verdicts_free(&v);
    tacl__eng_groups_free(&gp);
    w_engine_free(e);
    w_free(&w);
}

/* Every rank's record and failure texts as the probers would report them (ok unless fail(a,
 * b), answering address won(a, b)), indexed into v; the texts in *texts. Returns the records
 * (free both after v). */
static eng_row_t *w_verdicts(const world_t *w, const eng_groups_t *gp, int (*fail)(int, int),
                             int (*won)(int, int), eng_verdicts_t *v, char (**texts)[ENG_FAIL_TEXT])
{
    int slots = tacl__eng_probe_slots(gp, w->n);
    eng_row_t *recs = calloc((size_t)w->n * (size_t)slots, sizeof *recs);
    char(*txt)[ENG_FAIL_TEXT] = calloc((size_t)w->n * (size_t)slots, sizeof *txt);
    CHECK(recs && txt);
    for (int r = 0; r < w->n; r++) {
        int k = 0, nf = 0;
        for (int q = 0; q < slots; q++)
            recs[r * slots + q].group = -1;
        for (int b = 0; b < gp->ng; b++) {
            int t = tacl__eng_probe_target(gp, gp->group[r], b, r);
            if (t < 0) continue;
            CHECK(k < slots);
            eng_row_t *row = &recs[r * slots + k++];
            row->group = (int16_t)b;
            if (fail(gp->group[r], b)) {
                snprintf(txt[r * slots + nf], ENG_FAIL_TEXT,
                         "connect to 10.0.%d.1:%d: No route to host", b, 40000 + t);
                row->text = (uint16_t)++nf;
                continue;
            }
            row->ok = 1;
            row->addr = (uint8_t)won(gp->group[r], b);
        }
    }
    /* Every rank sends as many texts as the rank with the most failures (here: slots). */
    int nfail = tacl__eng_fail_slots(recs, w->n, slots);
    CHECK(nfail >= 1 && nfail <= slots);
    char(*packed)[ENG_FAIL_TEXT] = calloc((size_t)w->n * (size_t)nfail, sizeof *packed);
    CHECK(packed);
    for (int r = 0; r < w->n; r++)
        memcpy(packed[r * nfail], txt[r * slots], sizeof *packed * (size_t)nfail);
    free(txt);
    *texts = packed;
    tacl__errbuf_t eb;
    CHECK_OK(tacl__eng_verdicts(gp, recs, w->n, slots, (const char(*)[ENG_FAIL_TEXT])packed, nfail,
                                v, &eb));
    return recs;
}

/* Hosts h0 and h2 cannot reach each other; h3 reaches h1 but not the other way. */
static int inherit_fail(int a, int b)
{
    return (a == 0 && b == 2) || (a == 2 && b == 0) || (a == 1 && b == 3);
}

/* h1 has two addresses: h0 reaches it at the second, everyone else at the first. */
static int inherit_won(int a, int b)
{
    return a == 0 && b == 1 ? 2 : 1;
}

static void test_inherit(void)
{
    world_t w;
    w_make(&w, 16, 4);
    for (int r = 4; r < 8; r++)
        w_addr(&w, r, 1, "172.16.1.1", "eth1");
    for (int me = 0; me < w.n; me++) {
        tacl__engine_t *e = w_engine(&w, me);
        eng_groups_t gp = {0};
        tacl__errbuf_t eb;
        CHECK_OK(tacl__eng_groups(e, w.addrs, w.naddr, &gp, &eb));
        CHECK(gp.ng == 4);
        eng_verdicts_t v = {0};
        char(*texts)[ENG_FAIL_TEXT];
        eng_row_t *rows = w_verdicts(&w, &gp, inherit_fail, inherit_won, &v, &texts);
        CHECK_OK(tacl__eng_pairs(e, NULL, &gp, &v, w.addrs, w.naddr, 2, 0, &eb));
        for (int j = 0; j < w.n; j++) {
            if (j == me) continue;
            int a = me / 4, b = j / 4;
            int unreachable = (a == 0 && b == 2) || (a == 2 && b == 0);
            CHECK(e->reach[me * w.n + j] == !unreachable);
            CHECK(e->reach[j * w.n + me] == e->reach[me * w.n + j]);
            if (unreachable) {
                CHECK_CONTAINS(e->info[j], "No route to host");
                CHECK(e->dial_self[j] == 0);
                continue;
            }
            /* h1 -> h3 fails, h3 -> h1 works: h3's ranks dial at once, h1's wait. */
            int want = a == 1 && b == 3 ? 0 : a == 3 && b == 1 ? 2 : 1;
            if (e->dial_self[j] != want) {
                fprintf(stderr, "rank %d -> %d: dial_self %d, expected %d\n", me, j,
                        e->dial_self[j], want);
                CHECK(0);
            }
            if (!want) continue;
            char ip[32];
            const tacl__tcp_addr_t *da = &e->dial_addr[j * TACL_TCP_MAX_ADDRS];
            inet_ntop(AF_INET, da[0].addr, ip, sizeof ip);
            CHECK(da[0].port == 40000 + j); /* the peer's own port */
            /* Then the card's other addresses: h1's second one is tried too. */
            CHECK(e->dial_naddr[j] == (b == 1 ? 2 : 1));
            if (b == 1) {
                char other[32];
                inet_ntop(AF_INET, da[1].addr, other, sizeof other);
                CHECK(!strcmp(other, a == 0 ? "10.0.1.1" : "172.16.1.1") &&
                      da[1].port == da[0].port);
            }
            CHECK(!strcmp(ip, a == 0 && b == 1 ? "172.16.1.1"
                              : b == 1         ? "10.0.1.1"
                              : b == 0         ? "10.0.0.1"
                              : b == 2         ? "10.0.2.1"
                                               : "10.0.3.1"));
            CHECK_CONTAINS(e->info[j], "tcp ");
            CHECK_CONTAINS(e->info[j], "2 connections");
        }
        /* The doctor's text names the address the lower rank reaches. */
        if (me == 0) CHECK_CONTAINS(e->info[5], "tcp 172.16.1.1:40005 (eth1), 2 connections");
        if (me == 5) CHECK_CONTAINS(e->info[0], "tcp 172.16.1.1:40005 (eth1), 2 connections");
        if (me == 12) CHECK_CONTAINS(e->info[4], "tcp 10.0.1.1:40004 (eth0)");
        tacl__eng_verdicts_free(&v);
        free(rows);
        free(texts);
        tacl__eng_groups_free(&gp);
        w_engine_free(e);
    }

    /* The topology forbids every pair of h0 and h1: not probed, not reachable, said so. */
    uint8_t allowed[MAXN * MAXN];
    for (int i = 0; i < w.n; i++)
        for (int j = 0; j < w.n; j++)
            allowed[i * w.n + j] = !((i / 4 == 0 && j / 4 == 1) || (i / 4 == 1 && j / 4 == 0));
    tacl__engine_t *e = w_engine(&w, 1);
    eng_groups_t gp = {0};
    tacl__errbuf_t eb;
    CHECK_OK(tacl__eng_groups(e, w.addrs, w.naddr, &gp, &eb));
    CHECK(!tacl__eng_groups_allowed(&gp, allowed, w.n, 0, 1));
    CHECK(tacl__eng_groups_allowed(&gp, allowed, w.n, 0, 3));
    eng_verdicts_t v = {0};
    char(*texts)[ENG_FAIL_TEXT];
    eng_row_t *rows = w_verdicts(&w, &gp, inherit_fail, inherit_won, &v, &texts);
    CHECK_OK(tacl__eng_pairs(e, allowed, &gp, &v, w.addrs, w.naddr, 1, 0, &eb));
    CHECK(!e->reach[1 * w.n + 5] && e->reach[1 * w.n + 13]);
    CHECK_CONTAINS(e->info[5], "not used: topology forbids it");
    CHECK_CONTAINS(e->info[13], "1 connection");
    w_engine_free(e);

    /* TACL_TOPO=full: the unreachable pair of h0 and h2 fails create on every rank. */
    e = w_engine(&w, 9);
    CHECK_ST(tacl__eng_pairs(e, NULL, &gp, &v, w.addrs, w.naddr, 1, 1, &eb), TACL_ERR_UNREACHABLE);
    CHECK_CONTAINS(eb.msg,
                   "TACL_TOPO=full but rank 0 (host h0) cannot connect to rank 8 (host h2)");
    CHECK_CONTAINS(eb.msg, "No route to host");
    w_engine_free(e);
    tacl__eng_verdicts_free(&v);
    free(rows);
    free(texts);
    tacl__eng_groups_free(&gp);
    w_free(&w);
}

/* The tree's edges seen from every rank: symmetric, n - components edges, inside reach. */
static int tree_check(const world_t *w, const uint8_t *reach, int *maxdeg)
{
    int n = w->n, edges = 0;
    uint8_t adj[MAXN * MAXN] = {0};
    *maxdeg = 0;
    for (int r = 0; r < n; r++) {
        tacl__engine_t *e = w_engine(w, r);
        memcpy(e->reach, reach, (size_t)n * (size_t)n);
        tacl__errbuf_t eb;
        CHECK_OK(tacl__eng_notice_tree(e, &eb));
        if (e->ntree > *maxdeg) *maxdeg = e->ntree;
        for (int k = 0; k < e->ntree; k++) {
            int v = e->tree_nb[k];
            CHECK(v != r && reach[r * n + v]);
            adj[r * n + v] = 1;
        }
        w_engine_free(e);
    }
    for (int u = 0; u < n; u++)
        for (int v = 0; v < n; v++) {
            CHECK(adj[u * n + v] == adj[v * n + u]);
            edges += u < v && adj[u * n + v];
        }
    /* Connected through the tree exactly where reach connects. */
    for (int s = 0; s < n; s++) {
        uint8_t a[MAXN] = {0}, b[MAXN] = {0};
        int qa[MAXN], qb[MAXN], ha = 0, ta = 0, hb = 0, tb = 0;
        a[s] = b[s] = 1;
        qa[ta++] = s;
        qb[tb++] = s;
        while (ha < ta) {
            int u = qa[ha++];
            for (int v = 0; v < n; v++)
                if (!a[v] && adj[u * n + v]) a[v] = 1, qa[ta++] = v;
        }
        while (hb < tb) {
            int u = qb[hb++];
            for (int v = 0; v < n; v++)
                if (!b[v] && reach[u * n + v]) b[v] = 1, qb[tb++] = v;
        }
        CHECK(!memcmp(a, b, sizeof a));
    }
    return edges;
}

static void test_tree(void)
{
    world_t w;
    w_make(&w, 16, 4);
    uint8_t reach[MAXN * MAXN];
    int deg;
    for (int i = 0; i < 16 * 16; i++)
        reach[i] = i / 16 != i % 16;
    CHECK(tree_check(&w, reach, &deg) == 15);
    CHECK(deg <= 2); /* a path */
    /* A chain of hosts h0 - h1 - h2 - h3 (ranks of one host all reach each other). */
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            reach[i * 16 + j] = i != j && abs(i / 4 - j / 4) <= 1;
    CHECK(tree_check(&w, reach, &deg) == 15);
    CHECK(deg <= 3);
    /* Cut between h1 and h2: two trees. */
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            if ((i / 4 <= 1) != (j / 4 <= 1)) reach[i * 16 + j] = 0;
    CHECK(tree_check(&w, reach, &deg) == 14);
    w_free(&w);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "all";
    int all = !strcmp(what, "all"), ran = 0;
    if (all || !strcmp(what, "plan")) test_plan(), ran++;
    if (all || !strcmp(what, "inherit")) test_inherit(), ran++;
    if (all || !strcmp(what, "tree")) test_tree(), ran++;
    if (!ran) {
        fprintf(stderr, "unknown scenario %s\n", what);
        return 2;
    }
    printf("engine pairs: %s ok\n", what);
    return 0;
}
