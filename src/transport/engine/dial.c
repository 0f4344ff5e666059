/* dial.c — connections made when a pair first needs one: up to PROBE_DIALERS dialer threads,
 * each taking the peers asked for so far (tacl__probe_dial) and connecting to every address of
 * each at once (tacl__probe_connect); a further thread starts while every one waits out a slow
 * address. Of two ranks dialing each other the lower one's dial is kept (probe.c answers the
 * higher one "crossing"). What they make, and what failed, is queued as events for the progress
 * thread (tacl__probe_collect), which the acceptor's connections join. */
#include "transport/engine/probe_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tacl__probe_event(tacl__probe_t *p, int peer, int fd, const char *fail)
{
    tacl__probe_event_t *ev = calloc(1, sizeof *ev);
    if (!ev) {
        if (fd >= 0) close(fd);
        return; /* the engine's dial deadline reports the link */
    }
    ev->peer = peer;
    ev->fd = fd;
    if (fail) snprintf(ev->fail, sizeof ev->fail, "%s", fail);
    if (p->evt)
        p->evt->next = ev;
    else
        p->evh = ev;
    p->evt = ev;
    atomic_store(&p->ready, 1);
    uint64_t one = 1;
    if (p->wake_fd >= 0 && write(p->wake_fd, &one, sizeof one) < 0) { /* it also ticks */
    }
}

/* The dialer thread: takes the peers asked for so far, dials them all at once (the first
 * connection, then the extra ones to the same address), and hands every socket, or the reason
 * none could be made, to the engine as events. */
static void *probe_dialer(void *arg)
{
    tacl__probe_t *p = arg;
    int n = p->size;
    uint8_t *want = calloc((size_t)n, 1);
    int *naddr = calloc((size_t)n, sizeof *naddr);
    int *fds = malloc(sizeof *fds * (size_t)n * TACL_PROBE_MAX_CONNS);
    uint16_t *mask = calloc((size_t)n, sizeof *mask);
    char(*info)[120] = calloc((size_t)n, sizeof *info);
    tacl__tcp_addr_t *addrs = calloc((size_t)n * TACL_TCP_MAX_ADDRS, sizeof *addrs);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!atomic_load(&p->dstop) && !p->ndwant)
            pthread_cond_wait(&p->dcv, &p->mu);
        if (atomic_load(&p->dstop)) break;
        int any = 0;
        for (int j = 0; j < n; j++) {
            want[j] = 0;
            if (!p->dwant[j]) continue;
            p->dwant[j] = 0;
            if (p->pstate[j] != PEER_NONE) continue; /* connected, or its dial comes to us */
            if (!want || !naddr || !fds || !mask || !info || !addrs) {
                tacl__probe_event(p, j, -1, "out of memory while connecting");
                continue;
            }
            p->pstate[j] = PEER_DIALING;
            p->crossed[j] = 0;
            memcpy(&addrs[j * TACL_TCP_MAX_ADDRS], &p->daddr[j * TACL_TCP_MAX_ADDRS],
                   sizeof *addrs * TACL_TCP_MAX_ADDRS);
            naddr[j] = p->dnaddr[j];
            want[j] = 1;
            any = 1;
        }
        p->ndwant = 0;
        if (!any) continue;
        p->dbusy++;
        pthread_mutex_unlock(&p->mu);
        tacl__probe_connect(p, addrs, naddr, want, p->nconns, 0, p->dial_timeout, fds, mask, NULL,
                            info);
        pthread_mutex_lock(&p->mu);
        p->dbusy--;
        for (int j = 0; j < n; j++) {
            if (!want[j]) continue;
            if (mask[j] & 1) {
                p->pstate[j] = PEER_CONNECTED;
                for (int k = 0; k < TACL_PROBE_MAX_CONNS; k++)
                    if (fds[j * TACL_PROBE_MAX_CONNS + k] >= 0)
                        tacl__probe_event(p, j, fds[j * TACL_PROBE_MAX_CONNS + k], NULL);
            } else if (p->crossed[j]) {
                if (p->pstate[j] == PEER_DIALING) p->pstate[j] = PEER_AWAIT;
            } else {
                if (p->pstate[j] == PEER_DIALING) p->pstate[j] = PEER_NONE;
                tacl__probe_event(p, j, -1, info[j][0] ? info[j] : "no connection");
            }
        }
    }
    pthread_mutex_unlock(&p->mu);
    free(want);
    free(naddr);
    free(fds);
    free(mask);
    free(info);
    free(addrs);
    return NULL;
}

tacl_status_t tacl__probe_dialer_start(tacl__probe_t *p, int wake_fd, int nconns, double timeout_s,
                                       tacl__errbuf_t *eb)
{
    pthread_mutex_lock(&p->mu);
    p->wake_fd = wake_fd;
    p->nconns = nconns;
    p->dial_timeout = timeout_s;
    if (p->evh) atomic_store(&p->ready, 1);
    int e = pthread_create(&p->dthread[0], NULL, probe_dialer, p);
    if (e == 0) p->ndthreads = 1;
    pthread_mutex_unlock(&p->mu);
    if (e != 0)
        return tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_NET, "cannot start the dialer thread: %s",
                         strerror(e));
    return TACL_OK;
}

void tacl__probe_dial(tacl__probe_t *p, int peer, const tacl__tcp_addr_t *a, int naddr)
{
    if (naddr > TACL_TCP_MAX_ADDRS) naddr = TACL_TCP_MAX_ADDRS;
    pthread_mutex_lock(&p->mu);
    if (!p->dwant[peer]) {
        p->dwant[peer] = 1;
        memcpy(&p->daddr[peer * TACL_TCP_MAX_ADDRS], a, sizeof *a * (size_t)naddr);
        p->dnaddr[peer] = naddr;
        p->ndwant++;
        /* Every dialer busy (a dial waiting for its timeout): one more takes this one. */
        if (p->dbusy == p->ndthreads && p->ndthreads < PROBE_DIALERS &&
            pthread_create(&p->dthread[p->ndthreads], NULL, probe_dialer, p) == 0)
            p->ndthreads++;
        pthread_cond_signal(&p->dcv);
    }
    pthread_mutex_unlock(&p->mu);
}

tacl__probe_event_t *tacl__probe_collect(tacl__probe_t *p)
{
    if (!atomic_load_explicit(&p->ready, memory_order_acquire)) return NULL;
    pthread_mutex_lock(&p->mu);
    tacl__probe_event_t *ev = p->evh;
    p->evh = p->evt = NULL;
    atomic_store(&p->ready, 0);
    pthread_mutex_unlock(&p->mu);
    return ev;
}
