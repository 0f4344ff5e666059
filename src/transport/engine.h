/* engine.h — the point-to-point engine of one world: links to peers (shm on the same host, tcp
 * to other hosts, behind transport.h's ops table), a progress thread that moves fragments,
 * matches them to posted receives by exact key, forwards fragments addressed to other ranks
 * along the routes it is given, and watches peers' liveness. Everything above (communicators,
 * collective algorithms, topology schedules) talks to peers only through this interface.
 *
 * Contract
 * - Keys are exact: a receive matches the one message with the same (comm_id, src, tag, seq).
 *   Collectives use tag = algorithm step and seq = the communicator's operation number;
 *   point-to-point uses the user's tag and a per-(comm, peer, tag) counter, so matching never
 *   depends on arrival order, on the number of connections, or on the path taken.
 * - A receive posted with a fingerprint fails with TACL_ERR_MISMATCH when the matched message
 *   carries a different one; the message names both (tacl__fp_format).
 * - tacl__engine_wait never blocks past its deadline; it fails with TACL_ERR_PEER_LOST when a
 *   rank of the group is known dead (detected by this rank or reported by any other: deaths and
 *   cut links are flooded to every rank), TACL_ERR_UNREACHABLE when a link the operation needs
 *   was cut, and TACL_ERR_TIMEOUT naming the ranks whose messages never arrived.
 * - The progress thread forwards fragments for other ranks while the application computes.
 * - Sends are eager: a send completes once its bytes have left the sender's buffer (buffered at
 *   the receiver when no receive is posted yet), never waiting for the matching receive. A routed
 *   send leaves at the pace of its flow's credit (TACL_RELAY_WINDOW, engine/credit.h), which the
 *   destination returns on arrival, not on the receive. */
#ifndef TACL_TRANSPORT_ENGINE_H
#define TACL_TRANSPORT_ENGINE_H

#include "err.h"
#include "fp.h"
#include "tacl.h"
#include "xchg.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tacl__engine tacl__engine_t;
typedef struct tacl__req tacl__req_t;

typedef struct {
    int rank, size;              /* world rank and size */
    const tacl__xchg_t *xchg;    /* all-gather over the world, used during create only */
    const char *const *host_ids; /* host id of every world rank (same id: same host) */
    double probe_timeout_s;      /* connect timeout per peer (TACL_PROBE_TIMEOUT) */
    double timeout_s;            /* bound on the whole create (TACL_TIMEOUT) */
    const uint8_t *allowed;      /* NULL, or size*size: 0 = do not use a direct link i-j
                                    (topology file restricting links) */
} tacl__engine_config_t;

/* Listens, exchanges this rank's addresses through xchg, connects to every peer in parallel
 * (probe), and agrees with every rank on the reachability matrix. A peer that cannot be reached
 * directly is not an error here: the caller decides (routes, or a disconnected-graph error). */
tacl_status_t tacl__engine_create(const tacl__engine_config_t *cfg, tacl__engine_t **out,
                                  tacl__errbuf_t *eb);
/* Closes links and stops the progress thread; never blocks for long. */
void tacl__engine_destroy(tacl__engine_t *e);

/* size*size matrix, identical on every rank: reach[i*size+j] = 1 when i and j have a direct
 * link (in either direction). */
const uint8_t *tacl__engine_reach(const tacl__engine_t *e);
/* Per-link OS error / address text for the doctor: how i reached j or why not ("" if n/a). */
const char *tacl__engine_link_info(const tacl__engine_t *e, int peer);
/* next_hop[d] = the neighbour to send to for destination d (d itself when directly linked,
 * -1 when unreachable). Called once routes are computed; safe while traffic flows. */
tacl_status_t tacl__engine_set_routes(tacl__engine_t *e, const int *next_hop);

typedef struct {
    uint64_t comm_id;
    uint64_t tag;
    uint64_t seq;
} tacl__msg_key_t;

/* Non-blocking send of len bytes to world rank dst (routed if not a neighbour). buf must stay
 * valid until the request completes. fp may be NULL (no fingerprint check at the receiver). */
tacl_status_t tacl__engine_isend(tacl__engine_t *e, int dst, const tacl__msg_key_t *key,
                                 const tacl__fp_t *fp, const void *buf, size_t len,
                                 tacl__req_t **req);
/* Non-blocking receive of exactly len bytes from world rank src. A message of another length
 * completes the request with TACL_ERR_MISMATCH. */
tacl_status_t tacl__engine_irecv(tacl__engine_t *e, int src, const tacl__msg_key_t *key,
                                 const tacl__fp_t *fp, void *buf, size_t len, tacl__req_t **req);
/* Waits for all n requests (bounded spin, then block) and frees them, whatever the outcome.
 * group lists the world ranks whose death fails the wait (the communicator's members). */
tacl_status_t tacl__engine_wait(tacl__engine_t *e, tacl__req_t **reqs, int n, uint64_t deadline_ns,
                                const int *group, int group_size, tacl__errbuf_t *eb);
/* As tacl__engine_wait, and fails at once with the status and message of any of the nw requests
 * of watch that has failed (watched requests are neither waited for nor freed: they belong to a
 * later wait). The collectives watch their agreement messages (TACL_ENGINE_AGREE_TAG) this way. */
tacl_status_t tacl__engine_wait_watch(tacl__engine_t *e, tacl__req_t **reqs, int n,
                                      tacl__req_t *const *watch, int nw, uint64_t deadline_ns,
                                      const int *group, int group_size, tacl__errbuf_t *eb);
/* 1 when the request has completed (it still must be passed to tacl__engine_wait). */
int tacl__engine_test(tacl__req_t *req);

/* Tag reserved for abort notices (tacl__engine_abort_op). */
#define TACL_ENGINE_ABORT_TAG (~0ull)
/* Tags reserved for the collectives' fingerprint agreement (coll.c), from this one to 64 above
 * it: header-only messages whose fingerprint every rank checks against its own. */
#define TACL_ENGINE_AGREE_TAG (~0ull - 65)

/* The words a receive failed by another rank's abort notice ends its message with, followed by
 * that rank: "<its message> (reported by rank R)". A caller that sees them knows every rank was
 * told already and must not announce the failure again. */
#define TACL_ENGINE_NOTICE_MARK " (reported by rank "

/* Tells the other ranks of group that the operation (comm_id, seq) failed here with st and msg
 * (e.g. a fingerprint mismatch seen only by this rank): their receives of that operation, posted
 * or future, fail at once with st and msg instead of waiting for messages that will not come.
 * Waits for the notices to be sent, at most until deadline_ns. */
tacl_status_t tacl__engine_abort_op(tacl__engine_t *e, const int *group, int n, uint64_t comm_id,
                                    uint64_t seq, tacl_status_t st, const char *msg,
                                    uint64_t deadline_ns);

/* Relay memory (engine/credit.h), for tests and diagnostics, from any thread: bytes of the routed
 * flow src -> dst this rank holds as a relay now and the most it ever held at once; src -1: all
 * flows together. A routed flow never has more than TACL_RELAY_WINDOW bytes (at least one
 * fragment) held on any relay, and a relay holds at most TACL_RELAY_MAX_BYTES over all flows. */
void tacl__engine_relay_stats(const tacl__engine_t *e, int src, int dst, uint64_t *cur,
                              uint64_t *peak);

/* Liveness as this rank knows it: 1 alive; 0 dead, stalled (this rank's own link to it was
 * cut: a link in use silent for 3.5 heartbeats, or for 2.5 when another rank reported it silent
 * too; a rank of this host only when its process is stopped) or cut off (no path of live
 * links). */
int tacl__engine_peer_alive(const tacl__engine_t *e, int rank);

/* Changes whenever a rank is marked dead or a link cut (never otherwise), so that a caller that
 * found everyone alive at generation g need not look again while the generation is still g. */
unsigned tacl__engine_live_gen(const tacl__engine_t *e);

#endif
