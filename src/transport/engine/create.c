/* create.c — creating an engine: listen and publish every address, probe each pair of groups
 * (pairs.c: ranks of one host with the same addresses) in parallel, agree with every rank on
 * the verdicts, from which every rank pair inherits its reachability, dial side and address,
 * build each pair's link without a connection (made when the pair first needs one: connect.c;
 * its faster link type, the first of tacl__link_types that suits the pair, opens over tcp when
 * the pair first sends: overlay.c), start the progress thread; destroy; the reachability and
 * link-text queries. */
#include "transport/engine/engine_int.h"

#include "clock.h"
#include "log.h"
#include "settings.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    uint64_t nonce;
    int32_t naddr, pid;
    int32_t status; /* a rank that cannot listen still joins the exchange, and says so */
    int32_t pad;
    uint64_t pidns; /* the pid namespace's inode: same host and pidns = /proc shows the pid */
    tacl__tcp_addr_t addr[TACL_TCP_MAX_ADDRS];
} eng_card_t;

/* This process's pid namespace (the inode of /proc/self/ns/pid), 0 when unknown. */
static uint64_t eng_pidns(void)
{
    struct stat s;
    return stat("/proc/self/ns/pid", &s) == 0 ? (uint64_t)s.st_ino : 0;
}

tacl__eng_conn_t *tacl__eng_conn_new(tacl__eng_link_t *l, const tacl__link_ops_t *ops, void *impl,
                                     int fd)
{
    tacl__eng_conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->ops = ops;
    c->impl = impl;
    c->link = l;
    c->fd = fd;
    if (ops->direct_min && !(c->stage = malloc(ENG_STAGE_BYTES))) {
        free(c);
        return NULL;
    }
    return c;
}

static void eng_free_link(tacl__eng_link_t *l)
{
    if (!l) return;
    for (int i = 0; i < l->ntcp; i++) {
        tacl__eng_conn_close(NULL, l->tcp[i]);
        free(l->tcp[i]);
    }
    if (l->over) {
        tacl__eng_conn_close(NULL, l->over);
        free(l->over);
    }
    if (l->over_pend) l->over_type->ops->close(l->over_pend);
    free(l);
}

void tacl__engine_destroy(tacl__engine_t *e)
{
    if (!e) return;
    if (e->pt_started) {
        atomic_store(&e->stop, 1);
        uint64_t one = 1;
        if (write(e->evfd, &one, sizeof one) < 0) { /* the thread also wakes on its tick */
        }
        pthread_join(e->pt, NULL);
    }
    if (e->probe) tacl__probe_stop(e->probe);
    if (e->links)
        for (int p = 0; p < e->size; p++)
            eng_free_link(e->links[p]);
    if (e->bucket) {
        for (int b = 0; b < ENG_MSG_BUCKETS; b++)
            while (e->bucket[b])
                tacl__eng_msg_free(e, e->bucket[b]);
    }
    while (e->qh) {
        tacl__eng_cmd_t *c = e->qh;
        e->qh = c->next;
        free(c);
    }
    for (int i = 0; i < ENG_POOL_SLOTS; i++)
        free(e->pool[i].p);
    if (e->epfd >= 0) close(e->epfd);
    if (e->evfd >= 0) close(e->evfd);
    if (e->hosts)
        for (int r = 0; r < e->size; r++)
            free(e->hosts[r]);
    free(e->hosts);
    free(e->reach);
    free(e->info);
    free(e->links);
    free(e->next_hop);
    free((void *)e->dead);
    free((void *)e->cut);
    free(e->dead_how);
    free(e->pids);
    free(e->local);
    free(e->pending);
    free(e->use);
    free(e->bucket);
    tacl__credit_free(e->credit);
    free(e->cw_head);
    free(e->cw_tail);
    free(e->dial_self);
    free(e->dial_addr);
    free(e->dial_naddr);
    free(e->tree_nb);
    pthread_mutex_destroy(&e->live_mu);
    pthread_mutex_destroy(&e->qmu);
    pthread_mutex_destroy(&e->done_mu);
    pthread_cond_destroy(&e->done_cv);
    free(e);
}

static tacl_status_t eng_alloc(const tacl__engine_config_t *cfg, tacl__engine_t **out,
                               tacl__errbuf_t *eb)
{
    int n = cfg->size;
    tacl__engine_t *e = calloc(1, sizeof *e);
    if (!e) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    e->rank = cfg->rank;
    e->size = n;
    e->epfd = e->evfd = -1;
    pthread_mutex_init(&e->live_mu, NULL);
    pthread_mutex_init(&e->qmu, NULL);
    pthread_mutex_init(&e->done_mu, NULL);
    pthread_cond_init(&e->done_cv, NULL);
    e->hosts = calloc((size_t)n, sizeof *e->hosts);
    e->reach = calloc((size_t)n * (size_t)n, 1);
    e->info = calloc((size_t)n, sizeof *e->info);
    e->links = calloc((size_t)n, sizeof *e->links);
    e->next_hop = calloc((size_t)n, sizeof *e->next_hop);
    e->dead = calloc((size_t)n, 1);
    e->cut = calloc((size_t)n * (size_t)n, 1);
    e->dead_how = calloc((size_t)n, sizeof *e->dead_how);
    e->pids = calloc((size_t)n, sizeof *e->pids);
    e->local = calloc((size_t)n, 1);
    e->pending = calloc((size_t)n, sizeof *e->pending);
    e->use = calloc((size_t)n, 1);
    e->bucket = calloc(ENG_MSG_BUCKETS, sizeof *e->bucket);
    long window = tacl__setting_int(TACL_SET_RELAY_WINDOW);
    long relay_cap = tacl__setting_int(TACL_SET_RELAY_MAX_BYTES);
    e->credit =
        tacl__credit_new(n, window > 0 ? (size_t)window : 0, relay_cap > 0 ? (size_t)relay_cap : 0);
    e->cw_head = calloc((size_t)n, sizeof *e->cw_head);
    e->cw_tail = calloc((size_t)n, sizeof *e->cw_tail);
    int ok = e->hosts && e->reach && e->info && e->links && e->next_hop && e->dead && e->cut &&
             e->dead_how && e->bucket && e->credit && e->cw_head && e->cw_tail && e->pids &&
             e->local && e->pending && e->use;
    for (int r = 0; ok && r < n; r++)
        ok = (e->hosts[r] = strdup(cfg->host_ids[r] ? cfg->host_ids[r] : "?")) != NULL;
    if (!ok) {
        tacl__engine_destroy(e);
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    }
    *out = e;
    return TACL_OK;
}

/* The pair's link: no connection yet (its placeholder queues the first frames), and the faster
 * link type over (NULL: tcp only) that the pair opens over tcp when it first sends. */
static tacl_status_t eng_build_link(tacl__engine_t *e, int peer, const tacl__link_type_t *over,
                                    tacl__errbuf_t *eb)
{
    tacl__eng_link_t *l = calloc(1, sizeof *l);
    tacl__eng_conn_t *c = l ? tacl__eng_conn_placeholder(l) : NULL;
    if (!c) {
        free(l);
        return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    }
    l->peer = peer;
    l->last_rx = l->last_tx = tacl__now_ns();
    l->tcp[l->ntcp++] = c;
    e->links[peer] = l;
    if (!over) return TACL_OK;
    /* Opened when the pair first sends (overlay.c); the doctor's text names it already. */
    l->over_type = over;
    for (int k = 0; tacl__link_types[k]; k++)
        if (tacl__link_types[k] == over) l->over_idx = k;
    size_t n = strlen(e->info[peer]);
    snprintf(e->info[peer] + n, sizeof e->info[peer] - n, " + %s", over->info);
    return TACL_OK;
}

tacl_status_t tacl__engine_create(const tacl__engine_config_t *cfg, tacl__engine_t **out,
                                  tacl__errbuf_t *eb)
{
    if (!cfg || !out || !cfg->xchg || !cfg->host_ids || cfg->size < 1 || cfg->rank < 0 ||
        cfg->rank >= cfg->size || cfg->xchg->size != cfg->size || cfg->xchg->rank != cfg->rank)
        return tacl__err(eb, TACL_ERR_INVALID, TACL_SUB_NET,
                         "tacl_engine_create: bad configuration (rank %d of %d, exchange of %d)",
                         cfg ? cfg->rank : -1, cfg ? cfg->size : -1,
                         cfg && cfg->xchg ? cfg->xchg->size : -1);
    int me = cfg->rank, n = cfg->size;
    double timeout = cfg->timeout_s > 0 ? cfg->timeout_s : tacl__setting_dbl(TACL_SET_TIMEOUT);
    double probe =
        cfg->probe_timeout_s > 0 ? cfg->probe_timeout_s : tacl__setting_dbl(TACL_SET_PROBE_TIMEOUT);
    const char *topo = tacl__setting_str(TACL_SET_TOPO);
    int full = strcmp(topo, "full") == 0;
    long nconns = tacl__setting_int(TACL_SET_SOCKET_NCONNS);
    if (nconns < 1) nconns = 1;
    if (nconns > TACL_PROBE_MAX_CONNS) nconns = TACL_PROBE_MAX_CONNS;

    tacl__engine_t *e = NULL;
    TACL_CHECK(eng_alloc(cfg, &e, eb));
    e->hb = tacl__setting_dbl(TACL_SET_HEARTBEAT);
    if (e->hb <= 0) e->hb = 1;
    long frag = tacl__setting_int(TACL_SET_FRAG_BYTES);
    e->frag = frag >= 4096 ? (size_t)frag : (512u << 10);
    long cma = tacl__setting_int(TACL_SET_SHM_CMA_BYTES);
    e->cma_min = cma > 0 ? (size_t)cma : 0;
    for (int d = 0; d < n; d++)
        atomic_store(&e->next_hop[d], -1);

    tacl_status_t st;
    eng_card_t *cards = calloc((size_t)n, sizeof *cards);
    eng_row_t *rows = NULL;
    eng_groups_t gp = {0};
    eng_verdicts_t verdicts = {0};
    char(*texts)[ENG_FAIL_TEXT] = NULL;
    int *ofds = malloc(sizeof *ofds * (size_t)n * TACL_PROBE_MAX_CONNS);
    uint16_t *mask = calloc((size_t)n, sizeof *mask);
    uint8_t *want = calloc((size_t)n, 1);
    int *naddr = calloc((size_t)n, sizeof *naddr);
    tacl__tcp_addr_t *addrs = calloc((size_t)n * TACL_TCP_MAX_ADDRS, sizeof *addrs);
    int32_t *msts = calloc((size_t)n, sizeof *msts);
    tacl__probe_t *probe_h = NULL;
    int lfd = -1, port = 0;
    if (!cards || !ofds || !mask || !want || !naddr || !addrs || !msts) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
        goto err;
    }
    for (int i = 0; i < n * TACL_PROBE_MAX_CONNS; i++)
        ofds[i] = -1;

    /* 1. Listen and publish every address; rank 0's nonce becomes the run's. */
    eng_card_t mine = {.pid = (int32_t)getpid(), .pidns = eng_pidns()};
    if (getrandom(&mine.nonce, sizeof mine.nonce, 0) != sizeof mine.nonce)
        mine.nonce = tacl__now_ns() ^ ((uint64_t)getpid() << 32);
    st = tacl__tcp_listen(&lfd, &port, eb);
    if (st == TACL_OK)
        st = tacl__tcp_local_addrs(tacl__setting_str(TACL_SET_SOCKET_IFNAME), port, mine.addr,
                                   TACL_TCP_MAX_ADDRS, &mine.naddr, eb);
    mine.status = st;
    tacl_status_t xst = tacl__xchg_allgather(cfg->xchg, &mine, sizeof mine, cards, eb);
    if (st != TACL_OK) goto err; /* this rank's own message stands */
    st = xst;
    if (st != TACL_OK) goto err;
    for (int r = 0; r < n; r++)
        if (cards[r].status != TACL_OK) {
            /* Every rank fails now instead of waiting for the one that cannot take part. */
            st = tacl__err(eb, (tacl_status_t)cards[r].status, TACL_SUB_NET,
                           "rank %d (host %s) could not set up its tcp listener (%s; its log says "
                           "why)",
                           r, cfg->host_ids[r] ? cfg->host_ids[r] : "?",
                           tacl_status_str((tacl_status_t)cards[r].status));
            goto err;
        }
    uint64_t nonce = cards[0].nonce;
    for (int r = 0; r < n; r++) {
        e->pids[r] = cards[r].pid;
        e->local[r] = r != me && mine.pidns && cards[r].pidns == mine.pidns &&
                      strcmp(e->hosts[r], e->hosts[me]) == 0;
    }
    st = tacl__probe_start(lfd, me, n, nonce, &probe_h, eb);
    if (st != TACL_OK) goto err;
    lfd = -1;

    /* 2. Probe per pair of groups (ranks of one host with the same addresses), both ways, by
     * the ranks the plan names: every rank pair inherits its groups' verdict. */
    for (int r = 0; r < n; r++) {
        naddr[r] = cards[r].naddr < TACL_TCP_MAX_ADDRS ? cards[r].naddr : TACL_TCP_MAX_ADDRS;
        memcpy(&addrs[r * TACL_TCP_MAX_ADDRS], cards[r].addr, sizeof cards[r].addr);
    }
    st = tacl__eng_groups(e, addrs, naddr, &gp, eb);
    if (st != TACL_OK) goto err;
    int G = gp.ng, gme = gp.group[me], slots = tacl__eng_probe_slots(&gp, n);
    rows = calloc((size_t)n * (size_t)slots, sizeof *rows);
    eng_row_t *mine_rec = calloc((size_t)slots, sizeof *mine_rec);
    char(*pinfo)[120] = calloc((size_t)n, sizeof *pinfo);
    uint8_t *won = calloc((size_t)n, 1);
    if (!rows || !mine_rec || !pinfo || !won) {
        free(mine_rec);
        free(pinfo);
        free(won);
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
        goto err;
    }
    for (int b = 0; b < G; b++) {
        int t = tacl__eng_probe_target(&gp, gme, b, me);
        if (t >= 0 && tacl__eng_groups_allowed(&gp, cfg->allowed, n, gme, b)) want[t] = 1;
    }
    tacl__probe_connect(probe_h, addrs, naddr, want, 1, 1, full ? timeout : probe, ofds, mask, won,
                        pinfo);
    /* The record: 8 bytes per group probed; the texts of failures, if any, separately. */
    char(*mine_txt)[ENG_FAIL_TEXT] = calloc((size_t)slots, sizeof *mine_txt);
    int k = 0, nf = 0;
    for (int b = 0; b < slots; b++)
        mine_rec[b].group = -1;
    for (int b = 0; mine_txt && b < G && k < slots; b++) {
        int t = tacl__eng_probe_target(&gp, gme, b, me);
        if (t < 0 || !want[t]) continue;
        eng_row_t *r = &mine_rec[k++];
        r->group = (int16_t)b;
        r->ok = mask[t] & 1;
        r->addr = won[t];
        if (!r->ok) {
            snprintf(mine_txt[nf], sizeof mine_txt[nf], "%s", pinfo[t]);
            r->text = (uint16_t)++nf;
        }
    }
    free(pinfo);
    free(won);
    for (int i = 0; i < n * TACL_PROBE_MAX_CONNS; i++)
        if (ofds[i] >= 0) close(ofds[i]); /* a test only: the peer closes its end too */
    if (!mine_txt) {
        free(mine_rec);
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
        goto err;
    }

    /* 3. Everyone gets every rank's record (n x slots: the groups it probed, not a row per
     * rank of the world), then, where some probe failed, every rank's failure texts. */
    st = tacl__xchg_allgather(cfg->xchg, mine_rec, sizeof *mine_rec * (size_t)slots, rows, eb);
    free(mine_rec);
    int nfail = st == TACL_OK ? tacl__eng_fail_slots(rows, n, slots) : 0;
    if (nfail > slots) nfail = slots; /* a rank has at most one text per slot */
    if (st == TACL_OK && nfail) {
        texts = calloc((size_t)n * (size_t)nfail, sizeof *texts);
        if (!texts)
            st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
        else
            st = tacl__xchg_allgather(cfg->xchg, mine_txt, sizeof *mine_txt * (size_t)nfail, texts,
                                      eb);
    }
    free(mine_txt);
    if (st != TACL_OK) goto err;
    st = tacl__eng_verdicts(&gp, rows, n, slots, (const char(*)[ENG_FAIL_TEXT])texts, nfail,
                            &verdicts, eb);
    if (st == TACL_OK)
        st = tacl__eng_pairs(e, cfg->allowed, &gp, &verdicts, addrs, naddr, (int)nconns, full, eb);
    if (st == TACL_OK) st = tacl__eng_notice_tree(e, eb);
    if (st != TACL_OK) goto err;

    /* 4. Links: each starts without a connection; the pair connects when it first needs to
     * (connect.c), and its faster type opens on its first send (overlay.c). */
    for (int j = 0; j < n && st == TACL_OK; j++) {
        if (j == me || !e->reach[me * n + j]) continue;
        const tacl__link_type_t *over = NULL;
        for (int k = 0; !over && tacl__link_types[k]; k++)
            if (tacl__link_types[k]->suits(e->hosts[me], e->hosts[j])) over = tacl__link_types[k];
        st = eng_build_link(e, j, over, eb);
        if (st != TACL_OK)
            tacl__err_prefix(eb, st, "rank %d: link to rank %d (host %s)", me, j, e->hosts[j]);
        else
            atomic_store(&e->next_hop[j], j);
    }

    /* 6. The progress thread takes over every link. */
    if (st == TACL_OK) {
        e->epfd = epoll_create1(EPOLL_CLOEXEC);
        e->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (e->epfd < 0 || e->evfd < 0)
            st = tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_NET, "epoll/eventfd: %s", strerror(errno));
    }
    if (st == TACL_OK) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->evfd, &ev);
        /* From here on the acceptor's connections and the dials are the engine's. */
        e->probe = probe_h;
        probe_h = NULL;
        e->dial_wait_ns = (uint64_t)((2 * probe + 2) * 1e9);
        st = tacl__probe_dialer_start(e->probe, e->evfd, (int)nconns, probe, eb);
    }
    if (st == TACL_OK) {
        int pe = pthread_create(&e->pt, NULL, tacl__eng_progress, e);
        if (pe == 0)
            e->pt_started = 1;
        else
            st = tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_NET,
                           "cannot start the progress thread: %s", strerror(pe));
    }
    if (st != TACL_OK) {
        /* Close what this rank holds first: a peer waiting on one of these sockets (its link
         * setup with us) sees the close now instead of at its deadline. */
        if (probe_h) tacl__probe_stop(probe_h);
        probe_h = NULL;
        if (e->probe) tacl__probe_stop(e->probe);
        e->probe = NULL;
        for (int j = 0; j < n; j++) {
            eng_free_link(e->links[j]);
            e->links[j] = NULL;
        }
    }

    /* 7. Everyone's outcome; and nobody sends before every progress thread runs (heartbeats
     * start together). */
    int32_t mst = (int32_t)st;
    tacl_status_t fst = tacl__xchg_allgather(cfg->xchg, &mst, sizeof mst, msts, eb);
    if (st != TACL_OK) goto err; /* this rank's own message stands */
    st = fst;
    if (st != TACL_OK) goto err;
    for (int r = 0; r < n; r++)
        if (msts[r] != TACL_OK) {
            st = tacl__err(eb, (tacl_status_t)msts[r], TACL_SUB_NET,
                           "rank %d (host %s) could not set up its links (%s; its log says why)", r,
                           cfg->host_ids[r] ? cfg->host_ids[r] : "?",
                           tacl_status_str((tacl_status_t)msts[r]));
            goto err;
        }
    atomic_store(&e->restart_clocks, 1); /* the progress thread owns the links' clocks */
    tacl__eng_wake(e);

    TACL_INFO(TACL_SUB_NET, "rank %d: engine up (%d ranks, %ld connections per peer)", me, n,
              nconns);
    *out = e;
    st = TACL_OK;
    goto out;

err:
    if (probe_h) tacl__probe_stop(probe_h);
    if (lfd >= 0) close(lfd);
    tacl__engine_destroy(e);
out:
    tacl__eng_verdicts_free(&verdicts);
    tacl__eng_groups_free(&gp);
    free(texts);
    free(cards);
    free(rows);
    free(ofds);
    free(mask);
    free(want);
    free(naddr);
    free(addrs);
    free(msts);
    return st;
}

const uint8_t *tacl__engine_reach(const tacl__engine_t *e)
{
    return e->reach;
}

const char *tacl__engine_link_info(const tacl__engine_t *e, int peer)
{
    if (peer < 0 || peer >= e->size) return "";
    return e->info[peer];
}
