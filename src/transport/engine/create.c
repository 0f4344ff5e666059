/* create.c — creating an engine: listen and publish every address, probe every peer in
 * parallel, agree with every rank on the reachability matrix, build each pair's links (tcp
 * connections, and the first link type of tacl__link_types that suits the pair, which opens over
 * the first tcp connection when the pair first sends: overlay.c), start the progress thread;
 * destroy; the reachability and link-text queries. */
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

typedef struct {
    uint8_t ok, pad;
    uint16_t mask;
    char info[124];
} eng_row_t;

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

/* The pair's links: its tcp connections (fds), and the faster link type over (NULL: tcp only)
 * that the pair opens over the first tcp connection when it first sends. */
static tacl_status_t eng_build_link(tacl__engine_t *e, int peer, const int *fds,
                                    const tacl__link_type_t *over, tacl__errbuf_t *eb)
{
    tacl__eng_link_t *l = calloc(1, sizeof *l);
    if (!l) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
    l->peer = peer;
    l->last_rx = l->last_tx = tacl__now_ns();
    e->links[peer] = l;
    for (int k = 0; k < TACL_PROBE_MAX_CONNS; k++) {
        if (fds[k] < 0) continue;
        void *impl = tacl__tcp_conn_wrap(fds[k]);
        tacl__eng_conn_t *c = impl ? tacl__eng_conn_new(l, &tacl__tcp_ops, impl, fds[k]) : NULL;
        if (!c) {
            if (impl)
                tacl__tcp_ops.close(impl);
            else
                close(fds[k]);
            for (int j = k + 1; j < TACL_PROBE_MAX_CONNS; j++)
                if (fds[j] >= 0) close(fds[j]);
            return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
        }
        l->tcp[l->ntcp++] = c;
    }
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
    uint64_t deadline = tacl__deadline_ns(timeout);
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
    eng_row_t *rows = calloc((size_t)n * (size_t)n, sizeof *rows);
    int *ofds = malloc(sizeof *ofds * (size_t)n * TACL_PROBE_MAX_CONNS);
    int *ifds = malloc(sizeof *ifds * (size_t)n * TACL_PROBE_MAX_CONNS);
    uint16_t *mask = calloc((size_t)n, sizeof *mask), *expect = calloc((size_t)n, sizeof *expect);
    uint8_t *want = calloc((size_t)n, 1);
    int *naddr = calloc((size_t)n, sizeof *naddr);
    tacl__tcp_addr_t *addrs = calloc((size_t)n * TACL_TCP_MAX_ADDRS, sizeof *addrs);
    char(*info)[120] = calloc((size_t)n, sizeof *info);
    tacl__probe_t *probe_h = NULL;
    int lfd = -1, port = 0;
    if (!cards || !rows || !ofds || !ifds || !mask || !expect || !want || !naddr || !addrs ||
        !info) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
        goto err;
    }
    for (int i = 0; i < n * TACL_PROBE_MAX_CONNS; i++)
        ofds[i] = ifds[i] = -1;

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

    /* 2. Probe: connect to every higher rank that the topology allows. */
    for (int j = 0; j < n; j++) {
        naddr[j] = cards[j].naddr < TACL_TCP_MAX_ADDRS ? cards[j].naddr : TACL_TCP_MAX_ADDRS;
        memcpy(&addrs[j * TACL_TCP_MAX_ADDRS], cards[j].addr, sizeof cards[j].addr);
        int allowed = !cfg->allowed || (cfg->allowed[me * n + j] && cfg->allowed[j * n + me]);
        want[j] = j != me && allowed;
        if (j != me && !allowed) snprintf(info[j], sizeof info[j], "not used: topology forbids it");
    }
    char(*pinfo)[120] = calloc((size_t)n, sizeof *pinfo);
    if (!pinfo) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
        goto err;
    }
    tacl__probe_connect(probe_h, addrs, naddr, want, (int)nconns, full ? timeout : probe, ofds,
                        mask, pinfo);
    for (int j = 0; j < n; j++) {
        eng_row_t *r = &rows[me * n + j];
        if (want[j]) {
            r->ok = mask[j] & 1;
            r->mask = mask[j];
            memcpy(info[j], pinfo[j], sizeof info[j]);
        }
        snprintf(r->info, sizeof r->info, "%s", info[j]);
    }
    free(pinfo);

    /* 3. Everyone gets every row: the identical matrix. */
    eng_row_t *myrow = malloc(sizeof *myrow * (size_t)n);
    if (!myrow) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_NET, "out of memory");
        goto err;
    }
    memcpy(myrow, &rows[me * n], sizeof *myrow * (size_t)n);
    st = tacl__xchg_allgather(cfg->xchg, myrow, sizeof *myrow * (size_t)n, rows, eb);
    free(myrow);
    if (st != TACL_OK) goto err;
    /* Both ends of a pair tried: the lower rank's connection is used when it worked, else the
     * higher rank's (a pair that connects in one direction only is still a link). */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            e->reach[i * n + j] = e->reach[j * n + i] = rows[i * n + j].ok || rows[j * n + i].ok;
    for (int j = 0; j < n; j++) {
        if (j == me) continue;
        int lo = me < j ? me : j, hi = me < j ? j : me;
        int conn_by = rows[lo * n + hi].ok ? lo : rows[hi * n + lo].ok ? hi : -1;
        if (conn_by >= 0) {
            snprintf(e->info[j], sizeof e->info[j], "%.123s",
                     rows[conn_by * n + (lo + hi - conn_by)].info);
        } else if (!strcmp(rows[lo * n + hi].info, rows[hi * n + lo].info)) {
            snprintf(e->info[j], sizeof e->info[j], "%.123s", rows[lo * n + hi].info);
        } else {
            snprintf(e->info[j], sizeof e->info[j], "rank %d to %d: %.90s; rank %d to %d: %.90s",
                     lo, hi, rows[lo * n + hi].info, hi, lo, rows[hi * n + lo].info);
        }
        if (conn_by == j) expect[j] = rows[j * n + me].mask;
        if (conn_by != me)
            for (int k = 0; k < TACL_PROBE_MAX_CONNS; k++) {
                int *fd = &ofds[j * TACL_PROBE_MAX_CONNS + k];
                if (*fd >= 0) close(*fd); /* the peer's connection serves this pair */
                *fd = -1;
            }
    }
    if (full) {
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (!e->reach[i * n + j] &&
                    (!cfg->allowed || (cfg->allowed[i * n + j] && cfg->allowed[j * n + i]))) {
                    st = tacl__err(eb, TACL_ERR_UNREACHABLE, TACL_SUB_NET,
                                   "TACL_TOPO=full but rank %d (host %s) cannot connect to rank "
                                   "%d (host %s): %s",
                                   i, cfg->host_ids[i], j, cfg->host_ids[j], rows[i * n + j].info);
                    goto err;
                }
    }

    /* 4. Collect the connections the lower ranks made to us. From here on a rank that fails
     * still joins the last exchange (step 7), so that every rank fails at once. */
    st = tacl__probe_take_incoming(probe_h, expect, ifds, deadline, eb);
    if (st == TACL_OK) {
        tacl__probe_stop(probe_h);
        probe_h = NULL;
    }

    /* 5. Links (their faster types open on first use: overlay.c). */
    for (int j = 0; j < n && st == TACL_OK; j++) {
        if (j == me || !e->reach[me * n + j]) continue;
        int *fds = expect[j] ? &ifds[j * TACL_PROBE_MAX_CONNS] : &ofds[j * TACL_PROBE_MAX_CONNS];
        const tacl__link_type_t *over = NULL;
        for (int k = 0; !over && tacl__link_types[k]; k++)
            if (tacl__link_types[k]->suits(e->hosts[me], e->hosts[j])) over = tacl__link_types[k];
        st = eng_build_link(e, j, fds, over, eb);
        for (int k = 0; k < TACL_PROBE_MAX_CONNS; k++)
            fds[k] = -1; /* owned by the link now */
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
        for (int j = 0; j < n && st == TACL_OK; j++) {
            tacl__eng_link_t *l = e->links[j];
            for (int k = 0; l && k < l->ntcp && st == TACL_OK; k++) {
                ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = l->tcp[k]};
                if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, l->tcp[k]->fd, &ev) != 0)
                    st = tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_NET, "epoll_ctl: %s",
                                   strerror(errno));
            }
        }
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
        for (int i = 0; i < n * TACL_PROBE_MAX_CONNS; i++) {
            if (ofds[i] >= 0) close(ofds[i]);
            if (ifds[i] >= 0) close(ifds[i]);
            ofds[i] = ifds[i] = -1;
        }
        for (int j = 0; j < n; j++) {
            eng_free_link(e->links[j]);
            e->links[j] = NULL;
        }
    }

    /* 7. Everyone's outcome; and nobody sends before every progress thread runs (heartbeats
     * start together). */
    int32_t mst = (int32_t)st, *msts = (int32_t *)(void *)rows; /* rows is large enough */
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
    for (int i = 0; ofds && ifds && i < n * TACL_PROBE_MAX_CONNS; i++) {
        if (ofds[i] >= 0) close(ofds[i]);
        if (ifds[i] >= 0) close(ifds[i]);
    }
    tacl__engine_destroy(e);
out:
    free(cards);
    free(rows);
    free(ofds);
    free(ifds);
    free(mask);
    free(expect);
    free(want);
    free(naddr);
    free(addrs);
    free(info);
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
