/* probe.h — the create-time connection setup of the engine over tcp (probe.c).
 * An acceptor thread answers handshakes while this rank connects to its peers, so that a rank
 * that finished its own connects (and waits in the world exchange) still acknowledges the
 * others. The handshake identifies (run nonce, world rank, connection index) both ways. */
#ifndef TACL_TRANSPORT_ENGINE_PROBE_H
#define TACL_TRANSPORT_ENGINE_PROBE_H

#include "err.h"
#include "transport/transport.h"

#include <stdint.h>

#define TACL_PROBE_MAX_CONNS 8

typedef struct tacl__probe tacl__probe_t;

/* Starts the acceptor on the listening socket lfd (taken over: closed by tacl__probe_stop). */
tacl_status_t tacl__probe_start(int lfd, int rank, int size, uint64_t nonce, tacl__probe_t **out,
                                tacl__errbuf_t *eb);
/* Connects to every rank j with want[j] != 0, trying its naddr[j] addresses (addrs[j *
 * TACL_TCP_MAX_ADDRS + k]) in parallel; the first that completes the handshake wins and
 * nconns - 1 more connections follow to the same address. Returns when every peer is settled or
 * timeout_s has passed. For each j: fds[j * TACL_PROBE_MAX_CONNS + k] the socket of connection
 * k (-1 none), mask[j] the bit set of connections made, info[j] what worked or every address's
 * error ("connect to 10.0.0.3:40123: No route to host"). */
void tacl__probe_connect(tacl__probe_t *p, const tacl__tcp_addr_t *addrs, const int *naddr,
                         const uint8_t *want, int nconns, double timeout_s, int *fds,
                         uint16_t *mask, char (*info)[120]);
/* Waits until, for every rank j, the connections in expect[j] (bit set of indices) have been
 * accepted from j, then hands their sockets over (fds as in tacl__probe_connect). */
tacl_status_t tacl__probe_take_incoming(tacl__probe_t *p, const uint16_t *expect, int *fds,
                                        uint64_t deadline_ns, tacl__errbuf_t *eb);
/* Stops the acceptor and closes every socket not handed over. */
void tacl__probe_stop(tacl__probe_t *p);

#endif
