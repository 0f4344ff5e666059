/* probe_int.h — the state the acceptor and connects (probe.c) share with the dialer threads
 * and the event queue (dial.c): the handshake's messages and the probe object. Private to
 * src/transport/engine/. */
#ifndef TACL_TRANSPORT_ENGINE_PROBE_INT_H
#define TACL_TRANSPORT_ENGINE_PROBE_INT_H

#include "auth.h"
#include "log.h"
#include "transport/engine/probe.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PROBE_HELLO_MAGIC   0x74616333u /* 0x...31 before the handshake had a challenge */
#define PROBE_ACK_MAGIC     0x74616334u
#define PROBE_CHAL_MAGIC    0x74616335u
#define PROBE_MAX_PENDING   512
#define PROBE_LABEL_CONNECT "tacl-engine connect"
#define PROBE_LABEL_ACCEPT  "tacl-engine accept"
#define PROBE_ONLY          0x100 /* in a hello's idx: a reachability test, closed once answered */
#define PROBE_LOG_BURST     20.0
/* Dialer threads at most: one waiting out a dead address does not hold up the others' dials. */
#define PROBE_DIALERS 4
/* A poll this much later than asked means this process was not running. */
#define PROBE_OWN_GAP_NS 300000000ull

/* What this rank knows of its connection with a peer (acceptor and dialer, under mu). */
enum { PEER_NONE, PEER_DIALING, PEER_AWAIT, PEER_CONNECTED };

/* Sent by the acceptor as soon as it accepts. */
typedef struct {
    uint32_t magic, pad;
    uint8_t nonce[TACL_AUTH_NONCE_LEN];
} probe_chal_t;

typedef struct {
    uint32_t magic;
    int32_t src, dst, idx;
    uint64_t nonce;                      /* the run's */
    uint8_t cnonce[TACL_AUTH_NONCE_LEN]; /* the connecting rank's */
    uint8_t mac[TACL_AUTH_MAC_LEN];      /* over the fields above (24 bytes) */
} probe_hello_t;

typedef struct {
    uint32_t magic;
    /* 0 accepted, 1 another run, 2 not the rank you meant, 3 wrong token, 4 crossing: both
     * ranks dial each other and the lower rank's connection is the one kept */
    int32_t status;
    int32_t rank;
    int32_t pad;
    uint64_t nonce;
    uint8_t mac[TACL_AUTH_MAC_LEN]; /* over the fields above (24 bytes); zero when refused */
} probe_ack_t;

#define PROBE_MAC_CTX 24 /* bytes of hello and ack that their MACs cover */

typedef struct {
    int fd;
    size_t got;
    probe_hello_t hello;
    uint64_t deadline_ns;
    uint8_t snonce[TACL_AUTH_NONCE_LEN];
    char peer[64];
} probe_pending_t;

struct tacl__probe {
    int lfd, rank, size;
    uint64_t nonce;
    tacl__auth_t auth;
    int stop_pipe[2];
    pthread_t thread;
    pthread_mutex_t mu;
    probe_pending_t pending[PROBE_MAX_PENDING];
    int npending;
    tacl__ratelimit_t rl; /* the acceptor thread's warnings */
    /* Under mu: per peer PEER_*; connections made and dials that failed, for the engine. */
    uint8_t *pstate;
    tacl__probe_event_t *evh, *evt;
    _Atomic int ready;
    int wake_fd;
    /* The dialer thread (tacl__probe_dialer_start): peers to dial and the address of each. */
    pthread_t dthread[PROBE_DIALERS];
    int ndthreads, dbusy, nconns; /* dialer threads started, and dialing now */
    _Atomic int dstop;
    double dial_timeout;
    pthread_cond_t dcv;
    uint8_t *dwant, *crossed; /* crossed: the dialer thread's own */
    int ndwant;
    tacl__tcp_addr_t *daddr; /* size x TACL_TCP_MAX_ADDRS */
    int *dnaddr;
};

/* Queues an event for the engine and wakes it (under mu). */
void tacl__probe_event(tacl__probe_t *p, int peer, int fd, const char *fail);

#endif
