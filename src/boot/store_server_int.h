/* store_server_int.h — what the rendezvous store server's files share (store_server.c,
 * store_table.c, store_conn.c, store_wait.c, store_handlers.c): the key table, connection and
 * server types, and the functions each file offers the others. Only the server thread (or the
 * caller turning a polled server) touches these; nothing outside the server includes this. */
#ifndef TACL_BOOT_STORE_SERVER_INT_H
#define TACL_BOOT_STORE_SERVER_INT_H

#include "boot/store_int.h"
#include "auth.h"
#include "log.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Parked requests are indexed by the hash of the first key each still misses, so that a set
 * looks only at the requests waiting for that key: thousands of parked clients cost a set
 * nothing unless they wait for its key. */
#define SRV_WAIT_BUCKETS 4096u

/* WARN lines per kind: a burst of this many, then one a second; the next line logged says how
 * many were left out (they still go to the DEBUG log). */
#define SRV_LOG_BURST 20.0

typedef struct srv_entry {
    struct srv_entry *next;
    uint64_t hash;
    uint32_t klen, vlen;
    uint8_t *val;
    char key[]; /* klen bytes + NUL */
} srv_entry_t;

typedef struct {
    srv_entry_t **buckets;
    size_t nbuckets, count;
} srv_table_t;

typedef struct srv_conn {
    struct srv_conn *prev, *next;   /* every connection */
    struct srv_conn *wprev, *wnext; /* parked connections */
    struct srv_conn *hprev, *hnext; /* parked connections waiting for keys of one hash bucket */
    uint32_t hbucket;               /* that bucket: of the first key still missing */
    struct srv_conn *rnext;         /* run list: input to process again */
    struct tacl_store_server *srv;
    int fd;   /* -1 once closed early to free a descriptor */
    int dead; /* closed by boot_store_srv_reap at the end of the loop iteration */
    int queued, closing, authed;
    int want_out;
    uint64_t accepted_ns, frame_start_ns; /* frame_start_ns: 0 when no frame is in progress */
    uint8_t nonce[TACL_AUTH_NONCE_LEN];
    char peer[INET6_ADDRSTRLEN + 16];
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    /* The parked blocking request: its frame is copied so that wkeys can point into it. */
    int waiting, wready;
    uint16_t wop;
    uint8_t *wframe;
    const uint8_t **wkeys;
    uint32_t *wlens;
    uint32_t nw, wnext_missing;
    uint64_t wdeadline; /* 0: none */
} srv_conn_t;

struct tacl_store_server {
    int lfd[2];
    int nlfd;
    int epfd, evfd;
    int port;
    pthread_t thread;
    srv_table_t table;
    srv_conn_t *conns, *waiters;
    srv_conn_t *wbuckets[SRV_WAIT_BUCKETS]; /* parked connections by their first missing key */
    uint64_t wmin; /* no parked request's deadline is before this (0: none pending) */
    int reap;      /* some connection may be dead: boot_store_srv_reap has work */
    srv_conn_t *run_head, *run_tail;
    tacl__auth_t auth;
    double auth_timeout_s, frame_timeout_s;
    size_t buffered, buffer_max; /* bytes of every connection's input and output buffers */
    uint64_t next_sweep_ns, accept_resume_ns; /* accept_resume_ns: 0 when accepting */
    uint64_t last_look;                       /* the loop's last look at the clock */
    tacl__ratelimit_t rl_conn, rl_accept;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nclients;             /* under mu */
    boot_store_stats_t stats; /* under mu (the server thread adds, anyone reads) */
    int polled;               /* no thread: the caller runs the loop (boot_store_server_poll) */
};

/* store_server.c: the loop, accepting, start and stop. */
void boot_store_srv_count(tacl_store_server_t *srv, uint64_t *counter, uint64_t n);

/* store_table.c: the key table. */
uint64_t boot_store_srv_hash(const uint8_t *k, size_t n);
srv_entry_t *boot_store_srv_table_find(srv_table_t *t, const uint8_t *k, uint32_t n);
srv_entry_t *boot_store_srv_table_set(srv_table_t *t, const uint8_t *k, uint32_t n, const void *val,
                                      uint32_t vlen);
int boot_store_srv_table_delete(srv_table_t *t, const uint8_t *k, uint32_t n);
int64_t boot_store_srv_table_delete_prefix(srv_table_t *t, const uint8_t *p, uint32_t n);
void boot_store_srv_table_free(srv_table_t *t);

/* store_conn.c: connections (output, failure, close) and their input (framing,
 * authentication). */
void boot_store_srv_conn_fail(srv_conn_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void boot_store_srv_conn_flush(tacl_store_server_t *srv, srv_conn_t *c);
void boot_store_srv_reply(tacl_store_server_t *srv, srv_conn_t *c, tacl_status_t status, uint32_t n,
                          const void *const *items, const uint32_t *lens);
void boot_store_srv_conn_close(tacl_store_server_t *srv, srv_conn_t *c);
void boot_store_srv_reap(tacl_store_server_t *srv);
void boot_store_srv_send_raw(tacl_store_server_t *srv, srv_conn_t *c, const uint8_t *p, size_t len);
void boot_store_srv_conn_process(tacl_store_server_t *srv, srv_conn_t *c);
void boot_store_srv_conn_read(tacl_store_server_t *srv, srv_conn_t *c);

/* store_wait.c: parked blocking requests, their wake-ups and deadlines, the run list. */
void boot_store_srv_unpark(tacl_store_server_t *srv, srv_conn_t *c);
void boot_store_srv_run(tacl_store_server_t *srv);
int boot_store_srv_all_exist(tacl_store_server_t *srv, const uint8_t *const *keys,
                             const uint32_t *lens, uint32_t n, uint32_t from,
                             uint32_t *first_missing);
void boot_store_srv_answer_blocking(tacl_store_server_t *srv, srv_conn_t *c, uint16_t op,
                                    const uint8_t *const *keys, const uint32_t *lens, uint32_t n);
void boot_store_srv_notify(tacl_store_server_t *srv, const uint8_t *key, uint32_t klen);
void boot_store_srv_park(tacl_store_server_t *srv, srv_conn_t *c, uint16_t op, const uint8_t *frame,
                         size_t frame_len, uint32_t n, uint32_t first_missing, uint32_t timeout_ms);
int boot_store_srv_expire(tacl_store_server_t *srv, int all);

/* store_handlers.c: one request. */
void boot_store_srv_handle(tacl_store_server_t *srv, srv_conn_t *c, const uint8_t *frame);

#endif
