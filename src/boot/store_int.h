/* store_int.h — the rendezvous store's internal interface for the rest of src/boot (world
 * join, store collectives) and the tests: operations beyond the public API (multi-key get,
 * prefix delete, probing whether a store answers at an address), the store's address for
 * messages, and the server's client count (the rank hosting the store waits for the others
 * to leave before stopping it). */
#ifndef TACL_BOOT_STORE_INT_H
#define TACL_BOOT_STORE_INT_H

#include "auth.h"
#include "err.h"
#include "tacl.h"

#include <stddef.h>
#include <stdint.h>

/* Blocks until every key exists, then returns all values in one round trip: vals[i] is
 * malloc'd (tacl_free) and NUL-terminated past lens[i]. Outputs are set only on success. */
tacl_status_t boot_store_multi_get(tacl_store_t *st, const char *const *keys, size_t nkeys,
                                   void **vals, size_t *lens);
/* Deletes every key starting with prefix; *deleted (may be NULL) receives how many. */
tacl_status_t boot_store_delete_prefix(tacl_store_t *st, const char *prefix, int64_t *deleted);
/* "host:port" of the store this handle talks to (IPv6 hosts in brackets). */
const char *boot_store_addr(const tacl_store_t *st);
/* The handle's current timeout in seconds. */
double boot_store_timeout(const tacl_store_t *st);
/* 1 when the handle's last exchange broke (no reply, connection lost): the store is known not
 * to answer, and the next call would reconnect first. */
int boot_store_broken(const tacl_store_t *st);
/* Connects once (no retries) within timeout_s and checks that a tacl store answers a ping.
 * TACL_ERR_UNREACHABLE when nothing accepts the connection; TACL_ERR_PROTOCOL when something
 * that is not a tacl store answers. */
tacl_status_t boot_store_probe(const char *host, int port, double timeout_s, tacl_store_t **out);

/* The client side of the store's challenge-response on a connected socket fd (see
 * store_proto.h), bounded by deadline_ns. addr names the store in messages. TACL_ERR_AUTH when
 * the store refused this process's token or could not prove it knows it; TACL_ERR_PROTOCOL when
 * what answers is not a tacl store of this protocol version; TACL_ERR_CLOSED / TIMEOUT when the
 * connection ended or stalled before the verdict. */
tacl_status_t boot_store_auth_client(int fd, const char *addr, const tacl__auth_t *auth,
                                     uint64_t deadline_ns, tacl__errbuf_t *eb);

/* A job of more than one rank needs a token every rank shares (a generated one is this
 * process's alone): TACL_OK when one is configured or TACL_AUTH=0, else TACL_ERR_AUTH telling
 * how to set one. */
tacl_status_t boot_store_auth_require(int rank, int size, tacl__errbuf_t *eb);

/* As tacl_store_server_start; *addr_in_use (may be NULL) is set to 1 when the bind failed
 * because the address is taken (someone else serves there). */
tacl_status_t boot_store_server_start(const char *bind_addr, int port, tacl_store_server_t **out,
                                      int *addr_in_use);
/* What a server has done since it started (for measurements and the protocol's tests). */
typedef struct {
    uint64_t accepted;  /* connections accepted */
    uint64_t requests;  /* request frames handled */
    uint64_t parked;    /* of them, blocking requests that had to wait for keys */
    uint64_t bytes_in;  /* bytes received (handshakes included) */
    uint64_t bytes_out; /* bytes sent */
    uint64_t cpu_ns;    /* CPU time the server thread spent serving */
    int clients_peak;   /* most connections held at once */
} boot_store_stats_t;
void boot_store_server_stats(tacl_store_server_t *srv, boot_store_stats_t *out);
/* A server without its own thread, for tests and fuzzing that drive it step by step: the
 * caller runs its loop with boot_store_server_poll, from one thread. */
tacl_status_t boot_store_server_start_polled(const char *bind_addr, int port,
                                             tacl_store_server_t **out);
/* One turn of a polled server's loop: waits up to timeout_ms (0: not at all) for events,
 * handles them, answers parked requests whose deadline passed (with expire_all, every parked
 * request that has a deadline, as if it had passed) and closes what died. Returns the number
 * of events handled plus requests expired (0: idle), -1 for a threaded server or on failure. */
int boot_store_server_poll(tacl_store_server_t *srv, int timeout_ms, int expire_all);
/* Parked blocking requests of a polled server (0 for a threaded one). */
int boot_store_server_nparked(tacl_store_server_t *srv);
/* Number of client connections the server holds now. */
int boot_store_server_nclients(tacl_store_server_t *srv);
/* Waits until the server holds at most max_clients connections or the deadline passes;
 * returns the number held at return. */
int boot_store_server_wait_clients(tacl_store_server_t *srv, int max_clients, uint64_t deadline_ns);

#endif
