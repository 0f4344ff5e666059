/* probe.h — the engine's tcp connections (probe.c): the reachability tests of create, and
 * afterwards connections made on demand, when a pair first needs one. An acceptor thread
 * answers handshakes (so a rank busy elsewhere still acknowledges the others) and a dialer
 * thread connects, so the progress thread never blocks on a connect. The handshake identifies
 * (run nonce, world rank, connection index) both ways and proves the job token. */
#ifndef TACL_TRANSPORT_ENGINE_PROBE_H
#define TACL_TRANSPORT_ENGINE_PROBE_H

#include "err.h"
#include "transport/transport.h"

#include <stdint.h>

#define TACL_PROBE_MAX_CONNS 8

typedef struct tacl__probe tacl__probe_t;

/* A connection with a peer now ready (fd >= 0: this rank's dial, or the peer's accepted), or a
 * dial that failed (fd -1, fail says why). */
typedef struct tacl__probe_event {
    struct tacl__probe_event *next;
    int peer, fd;
    char fail[120];
} tacl__probe_event_t;

/* Starts the acceptor on the listening socket lfd (taken over: closed by tacl__probe_stop). It
 * answers handshakes for the engine's whole life: reachability tests are closed once answered,
 * other connections become events. */
tacl_status_t tacl__probe_start(int lfd, int rank, int size, uint64_t nonce, tacl__probe_t **out,
                                tacl__errbuf_t *eb);
/* Connects to every rank j with want[j] != 0, trying its naddr[j] addresses (addrs[j *
 * TACL_TCP_MAX_ADDRS + k]) in parallel; the first that completes the handshake wins and
 * nconns - 1 more connections follow to the same address. probe_only: the peer closes the
 * connection once it has answered (a reachability test). Returns when every peer is settled or
 * timeout_s has passed. For each j: fds[j * TACL_PROBE_MAX_CONNS + k] the socket of connection
 * k (-1 none), mask[j] the bit set of connections made, won_addr[j] (when not NULL) 1 + the index
 * of the address that answered (0: none), info[j] what worked or every address's error
 * ("connect to 10.0.0.3:40123: No route to host"). */
void tacl__probe_connect(tacl__probe_t *p, const tacl__tcp_addr_t *addrs, const int *naddr,
                         const uint8_t *want, int nconns, int probe_only, double timeout_s,
                         int *fds, uint16_t *mask, uint8_t *won_addr, char (*info)[120]);
/* From here on connections are made on demand: tacl__probe_dial asks a dialer thread for
 * nconns connections to a peer at the first of its naddr addresses a[] that answers, all tried
 * at once as at create (none when one exists or the peer's own dial is
 * on its way: of two crossing dials the lower rank's is kept); while every dialer waits on a
 * slow address another starts (4 at most); wake_fd is written whenever an event is queued. */
tacl_status_t tacl__probe_dialer_start(tacl__probe_t *p, int wake_fd, int nconns, double timeout_s,
                                       tacl__errbuf_t *eb);
void tacl__probe_dial(tacl__probe_t *p, int peer, const tacl__tcp_addr_t *a, int naddr);
/* The events queued since the last call (NULL: none; cheap then), oldest first; the caller
 * frees each and owns its fd. */
tacl__probe_event_t *tacl__probe_collect(tacl__probe_t *p);
/* Stops the acceptor and the dialer and closes every socket not handed over. */
void tacl__probe_stop(tacl__probe_t *p);

#endif
