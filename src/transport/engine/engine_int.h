/* engine_int.h — the state the engine's files share (private to src/transport/engine/): requests,
 * queued frames, match-table entries, connections, links and the engine itself, and the calls
 * one file of the engine makes into another. One file per job:
 *   create.c    creation (listen, address exchange, probe, reachability agreement, the links of
 *               each pair: tcp, and the faster link type of transport.h's table that suits it),
 *               destroy, the reachability and link-text queries
 *   progress.c  the command queue from application threads and the progress thread's loop (epoll
 *               over every socket plus an eventfd, polled connections while it spins)
 *   link_io.c   framing: writing queued frames on a connection, reading and dispatching them
 *   match.c     exact-key matching of posted receives and unexpected messages, abort notices
 *   send.c      sends: fragments striped over a link's connections, cancellation
 *   relay.c     forwarding along next_hop and the credit of routed flows (credit.h counts)
 *   cma.c       single-copy transfers between processes of one host
 *   liveness.c  heartbeats, deaths (EOF) and cut links (silence), flooded to every rank
 *   wait.c      the application's side: isend/irecv, waits and the diagnosis of a failed wait
 *   overlay.c   opening a pair's faster link type when the pair first sends
 *   connect.c   a pair's tcp connections made when it first needs them (dial.c dials)
 *   frame.c     the pure validation of a received header
 *   probe.c     handshakes: the acceptor, the connects of create's tests and of the dialers
 *   dial.c      the dialer threads and the queue of connections made for the progress thread
 *
 * Threads: the application calls isend/irecv/wait; the progress thread owns every link, queue
 * and match-table entry. The two meet only in the command queue (requests handed over under a
 * small lock), in the requests' done flags, and in the liveness tables (atomics plus a lock for
 * their texts). So the data path takes no lock beyond the hand-over. */
#ifndef TACL_TRANSPORT_ENGINE_INT_H
#define TACL_TRANSPORT_ENGINE_INT_H

#include "transport/engine.h"
#include "transport/engine/credit.h"
#include "transport/engine/probe.h"
#include "transport/transport.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define ENG_STAGE_BYTES   (64 * 1024)
#define ENG_SCRATCH_BYTES (64 * 1024)
#define ENG_READ_BUDGET   (8u << 20) /* bytes one connection may read before others get a turn */
#define ENG_SPIN_NS       100000ull  /* the progress thread polls this long after its last work */
#define ENG_WAIT_SPIN_NS  50000ull   /* tacl__engine_wait polls this long before it sleeps */
#define ENG_TICK_NS       100000000ull
#define ENG_CUT_BEATS     3.5 /* a watched link silent for this many heartbeats is cut */
/* A link that carried data within this many heartbeats is watched (heartbeats, silence). */
#define ENG_USE_BEATS 10
/* A gap this long between two turns of the progress loop means the thread itself was not
 * running: silence in it says nothing about the peers. */
#define ENG_SELF_GAP_NS (3 * ENG_TICK_NS)
/* Silence on our own link that confirms another rank's report of a silent peer. */
#define ENG_STALL_BEATS 2.5
#define ENG_MSG_BUCKETS 4096
#define ENG_MAX_IOV     64
#define ENG_POOL_SLOTS  32
#define ENG_POOL_BYTES  (256u << 20) /* at most this much kept in the pool */
/* Tcp connections a link holds: its own dials' and, when both ranks dialed at once, the
 * peer's too (closing one would look like a death to the peer). */
#define ENG_LINK_CONNS (2 * TACL_PROBE_MAX_CONNS)

struct tacl__req {
    int is_send, peer;
    tacl__msg_key_t key;
    tacl__fp_t fp;
    int has_fp;
    uint8_t *buf;
    size_t len;
    int link;                    /* send: the neighbour whose link carries it */
    uint32_t frames_left;        /* send: frames not yet written */
    struct tacl__req *cma_next;  /* send: in its link's list of RTSs awaiting their FIN */
    struct tacl__req *cw_next;   /* routed send: in its destination's queue awaiting credit */
    size_t cw_off;               /* routed send: first byte not yet queued (credit.h) */
    struct tacl__req *park_next; /* send: waiting for its link's faster type to open */
    _Atomic int done;
    _Atomic int cancelled;
    unsigned cut_gen; /* links cut before it was posted */
    int counted;      /* in the engine's pending[peer] (progress thread) */
    tacl_status_t st;
    char msg[400];
};

typedef struct tacl__eng_tx {
    struct tacl__eng_tx *next;
    tacl__frame_hdr_t hdr;
    const uint8_t *payload;
    uint8_t *owned;   /* freed once written: forwarded fragments, control texts */
    size_t owned_cap; /* owned came from the buffer pool (forwarded fragments) */
    tacl__req_t *req;
    size_t done; /* bytes of header + payload written */
    int relayed; /* counted in the relay's held bytes (credit.h) */
} tacl__eng_tx_t;

/* One message being received or waiting for its receive: an entry of the match table. */
typedef struct tacl__eng_msg {
    struct tacl__eng_msg *next;
    int src;
    tacl__msg_key_t key;
    tacl__req_t *req; /* posted receive, or NULL (unexpected message) */
    int have_hdr;     /* a fragment arrived: total and fp are known */
    int has_fp;
    tacl__fp_t fp;
    uint64_t total, got;
    uint8_t *dest; /* where fragments land: req->buf, own, or NULL (discard) */
    uint8_t *own;
    size_t own_cap;
    int cma, cma_pid; /* announced by a CMA_RTS: the bytes wait in process cma_pid */
    uint64_t cma_addr;
} tacl__eng_msg_t;

#define ENG_POISON_SLOTS 16

enum { ENG_RX_HDR, ENG_RX_PAY };

enum { ENG_TGT_DISCARD, ENG_TGT_MSG, ENG_TGT_FWD, ENG_TGT_CTRL };

enum { ENG_LINK_UP, ENG_LINK_CUT, ENG_LINK_DEAD };

enum { ENG_OVER_IDLE, ENG_OVER_OPENING, ENG_OVER_UP, ENG_OVER_FAILED };

struct tacl__eng_link;

typedef struct {
    const tacl__link_ops_t *ops;
    void *impl; /* NULL once closed */
    struct tacl__eng_link *link;
    int fd, out_armed;
    tacl__eng_tx_t *txh, *txt;
    uint8_t *stage;
    size_t st_off, st_len;
    int rx_state, tgt;
    tacl__frame_hdr_t hdr;
    size_t hdr_got, pay_left;
    tacl__eng_msg_t *msg;
    tacl__eng_tx_t *fwd;
    char ctrl[256];
} tacl__eng_conn_t;

typedef struct tacl__eng_link {
    int peer, state, draining;
    /* Its tcp connections are made when the pair first needs one (connect.c): until then
     * tcp[0] holds the frames queued for it without a socket. wired: one is made; dial_since:
     * when it was first needed (0: not yet). */
    int wired, redialed; /* redialed: a dial closed in its handshake was tried again */
    uint64_t dial_since;
    tacl__eng_conn_t *tcp[ENG_LINK_CONNS];
    int ntcp;
    /* The connection of a faster link type opened over tcp[0] (transport.h's tacl__link_types,
     * e.g. the shm ring): data goes here when set; tcp[0] stays the control channel. */
    tacl__eng_conn_t *over;
    /* Opening it when the pair first sends (overlay.c): the type (NULL: none suits the pair),
     * ENG_OVER_*, the lower rank's connection awaiting the reply, and the sends that wait. */
    const tacl__link_type_t *over_type;
    int over_idx, over_state;
    void *over_pend;
    tacl__req_t *park_h, *park_t;
    uint64_t last_rx, last_tx;
    /* Liveness (liveness.c): last DATA either way; watched since (0: not watched); the peer's
     * last heartbeat asking for an answer; watched until (a probe); last /proc look at the
     * peer; since when it has been seen stopped (0: not). */
    uint64_t last_data, watch_since, asked_rx, probe_until, last_check, stopped_since;
    unsigned rr;
    tacl__req_t *cma_pending; /* sends whose RTS awaits its FIN */
    int cma_off;              /* a process_vm_readv between the pair failed: use the link */
} tacl__eng_link_t;

typedef struct tacl__eng_cmd {
    struct tacl__eng_cmd *next;
    int cancel;
    tacl__req_t *req;
} tacl__eng_cmd_t;

struct tacl__engine {
    int rank, size;
    char **hosts;
    uint8_t *reach;
    char (*info)[256];
    tacl__eng_link_t **links; /* size entries, NULL where no direct link */
    _Atomic int *next_hop;
    size_t frag, cma_min; /* cma_min 0: single-copy transfers (cma.c) off */
    double hb;
    int32_t *pids;     /* every rank's process id */
    uint8_t *local;    /* 1: same host and pid namespace, so /proc shows its process's state */
    uint32_t *pending; /* per peer: requests not yet complete (progress thread) */
    uint8_t *use;      /* scratch of tacl__eng_tick: links the pending requests use */
    uint64_t loop_now; /* the progress loop's clock, read once per turn */
    /* Connections on demand (connect.c): the acceptor and dialer; per peer whether this rank
     * dials it (else the peer dials) and at which address; how long a needed link may stay
     * without a connection; the ranks next to this one in the notice tree (liveness.c). */
    tacl__probe_t *probe;
    uint8_t *dial_self;
    tacl__tcp_addr_t *dial_addr; /* per peer TACL_TCP_MAX_ADDRS: the one that answered first */
    int *dial_naddr;
    uint64_t dial_wait_ns;
    int *tree_nb, ntree;
    uint64_t host_check; /* the last look at the next rank of this host (liveness.c) */

    /* Liveness: flags read by any thread, texts under live_mu. */
    pthread_mutex_t live_mu;
    _Atomic unsigned char *dead;
    _Atomic unsigned char *cut; /* size*size, symmetric */
    char (*dead_how)[200];
    char cut_how[240];
    _Atomic unsigned cut_gen;  /* links cut so far */
    _Atomic unsigned live_gen; /* deaths and cuts so far (tacl__engine_live_gen) */
    int cut_a, cut_b;          /* the last one (under live_mu) */

    pthread_t pt;
    int pt_started, epfd, evfd;
    _Atomic int stop, pt_sleeping, waiters, restart_clocks;
    pthread_mutex_t qmu;
    tacl__eng_cmd_t *qh, *qt;
    pthread_mutex_t done_mu;
    pthread_cond_t done_cv;
    int completed; /* progress thread only: a request completed since the last signal */

    tacl__eng_msg_t **bucket;
    /* Operations other ranks reported failed (tacl__engine_abort_op): receives of the same
     * (comm, seq) fail at once with the reported status. Progress thread only. */
    struct {
        uint64_t comm_id, seq;
        tacl_status_t st;
        char msg[400];
    } poison[ENG_POISON_SLOTS];
    unsigned npoison;
    struct {
        uint8_t *p;
        size_t cap;
    } pool[ENG_POOL_SLOTS]; /* freed unexpected-message buffers, kept for reuse */
    size_t pool_bytes;
    /* Flow control of routed sends: counters, and per destination the sends waiting for credit
     * (FIFO, so a flow's messages leave in order). Progress thread only. */
    tacl__credit_t *credit;
    tacl__req_t **cw_head, **cw_tail;
    uint8_t scratch[ENG_SCRATCH_BYTES];
};

static inline const char *eng_host(const tacl__engine_t *e, int r)
{
    return r >= 0 && r < e->size && e->hosts[r] ? e->hosts[r] : "?";
}

static inline void eng_complete(tacl__engine_t *e, tacl__req_t *r, tacl_status_t st)
{
    if (r->counted) {
        r->counted = 0;
        e->pending[r->peer]--;
    }
    r->st = st;
    atomic_store_explicit(&r->done, 1, memory_order_release);
    e->completed = 1;
}

static inline tacl__eng_conn_t *eng_ctrl_conn(tacl__eng_link_t *l)
{
    return l->ntcp ? l->tcp[0] : l->over;
}

/* ---- match.c ---- */
/* Buffers of unexpected messages, recycled by the progress thread. */
uint8_t *tacl__eng_buf_get(tacl__engine_t *e, size_t n, size_t *cap);
void tacl__eng_buf_put(tacl__engine_t *e, uint8_t *p, size_t cap);
tacl__eng_msg_t *tacl__eng_msg_find(tacl__engine_t *e, int src, const tacl__msg_key_t *k);
tacl__eng_msg_t *tacl__eng_msg_new(tacl__engine_t *e, int src, const tacl__msg_key_t *k);
void tacl__eng_msg_free(tacl__engine_t *e, tacl__eng_msg_t *m);
/* 1 (and the request's message written) when message m cannot satisfy receive r. */
int tacl__eng_mismatch(tacl__engine_t *e, tacl__req_t *r, const tacl__eng_msg_t *m);
/* Every byte of m has arrived. */
void tacl__eng_msg_done(tacl__engine_t *e, tacl__eng_msg_t *m);
/* The progress thread's side of tacl__engine_irecv. */
void tacl__eng_post_recv(tacl__engine_t *e, tacl__req_t *r);
/* A DATA fragment header for this rank arrived: the entry its payload belongs to, or NULL when
 * the payload is to be dropped. */
tacl__eng_msg_t *tacl__eng_msg_arrive(tacl__engine_t *e, const tacl__frame_hdr_t *h);

/* ---- link_io.c ---- */
void tacl__eng_enqueue(tacl__eng_conn_t *c, tacl__eng_tx_t *t);
void tacl__eng_tx_free(tacl__engine_t *e, tacl__eng_tx_t *t);
void tacl__eng_conn_close(tacl__engine_t *e, tacl__eng_conn_t *c);
/* Writes what c has queued, as far as the connection takes it now. */
void tacl__eng_flush(tacl__engine_t *e, tacl__eng_conn_t *c);
/* The connection a link's next data fragment goes on (round robin over its data connections). */
tacl__eng_conn_t *tacl__eng_pick_conn(tacl__eng_link_t *l);
/* Reads what c has (up to a budget), frame by frame. 1 when bytes came. */
int tacl__eng_read(tacl__engine_t *e, tacl__eng_conn_t *c);

/* ---- liveness.c ---- */
/* The link is unusable: state ENG_LINK_DEAD (EOF, reset) or ENG_LINK_CUT (silence). */
void tacl__eng_link_down(tacl__engine_t *e, tacl__eng_link_t *l, int state, const char *how);
/* A DEAD or CUT frame has arrived on c. */
void tacl__eng_ctrl_frame(tacl__engine_t *e, tacl__eng_conn_t *c);
/* Heartbeats on idle links, and cuts of silent ones. */
void tacl__eng_tick(tacl__engine_t *e);
/* 1 when a path of live links leads from this rank to r. */
int tacl__eng_live_path(const tacl__engine_t *e, int r);

/* ---- cma.c ---- */
/* Queues r as an RTS on l when it is to be copied from our memory; 0 when it goes as fragments. */
int tacl__eng_cma_send(tacl__engine_t *e, tacl__eng_link_t *l, tacl__req_t *r);
/* m is announced (cma) and has its receive: copy, complete, answer. */
void tacl__eng_cma_pull(tacl__engine_t *e, tacl__eng_msg_t *m);
void tacl__eng_cma_rts(tacl__engine_t *e, tacl__eng_link_t *l, const tacl__frame_hdr_t *h);
void tacl__eng_cma_fin(tacl__engine_t *e, tacl__eng_link_t *l, const tacl__frame_hdr_t *h);

/* ---- relay.c ---- */
/* Sends a CREDIT frame for len bytes of the routed flow (to, from) back to rank to. */
void tacl__eng_credit_send(tacl__engine_t *e, int from, int to, uint64_t len,
                           tacl__eng_link_t *via);
/* Forwards a fragment for another rank; takes t. */
void tacl__eng_forward(tacl__engine_t *e, tacl__eng_tx_t *t);
/* A CREDIT frame arrived: for this rank, or to pass on. */
void tacl__eng_credit_arrive(tacl__engine_t *e, const tacl__frame_hdr_t *h);
/* Queues what the credit of the flow to dst allows from its waiting sends, in order. */
void tacl__eng_flow_resume(tacl__engine_t *e, int dst);

/* ---- send.c ---- */
/* Queues r's DATA fragments from byte off on link l; routed: only while the flow's credit
 * allows. Returns the first byte not queued (r->len when all are). */
size_t tacl__eng_queue_frags(tacl__engine_t *e, tacl__req_t *r, tacl__eng_link_t *l, size_t off,
                             int routed);
/* The progress thread's side of tacl__engine_isend. */
void tacl__eng_submit_send(tacl__engine_t *e, tacl__req_t *r);
/* Takes r back from the progress thread (its wait has ended). */
void tacl__eng_cancel(tacl__engine_t *e, tacl__req_t *r);

/* ---- create.c ---- */
/* A connection of link l over impl (fd -1: polled); NULL when out of memory. */
tacl__eng_conn_t *tacl__eng_conn_new(tacl__eng_link_t *l, const tacl__link_ops_t *ops, void *impl,
                                     int fd);

/* ---- pairs.c ---- */
/* Groups of ranks: one host id and the same addresses (ports aside). A pair of groups is probed
 * once each way, and every pair of their ranks inherits the verdict. */
typedef struct {
    int ng;
    int *group;  /* per rank */
    int *gcount; /* per group: its ranks, gmem[gstart[g] .. + gcount[g]) in rank order */
    int *gstart, *gmem;
} eng_groups_t;
/* One rank's verdict on a group it probed (group -1: an unused slot): connected, 1 + the index
 * of the target's address that answered, and for a failure 1 + the index of its text among the
 * rank's failure texts (0: none). Each rank sends a record of tacl__eng_probe_slots of them (8
 * bytes each); the texts of failures (every address's error, ENG_FAIL_TEXT bytes) follow in a
 * second exchange only when some rank has one. */
typedef struct {
    int16_t group;
    uint8_t ok, addr;
    uint16_t text, pad;
} eng_row_t;
#define ENG_FAIL_TEXT 120
/* The verdicts by pair of groups: ab[a * ng + b] on (a, b) (inside a group, its first rank to
 * its second), way1[a] inside group a from its second rank to its first; NULL: not probed.
 * The records (n x slots) and failure texts (n x nfail) they point into stay the caller's. */
typedef struct {
    const eng_row_t **ab, **way1;
    const eng_row_t *recs;
    const char (*texts)[ENG_FAIL_TEXT];
    int slots, nfail;
} eng_verdicts_t;
tacl_status_t tacl__eng_groups(const tacl__engine_t *e, const tacl__tcp_addr_t *addrs,
                               const int *naddr, eng_groups_t *gp, tacl__errbuf_t *eb);
void tacl__eng_groups_free(eng_groups_t *gp);
/* The rank that rank me probes for the ordered pair of groups (a, b), or -1 when me does not. */
int tacl__eng_probe_target(const eng_groups_t *gp, int a, int b, int me);
/* The most groups a rank probes: the slots of every rank's record. */
int tacl__eng_probe_slots(const eng_groups_t *gp, int n);
/* The most failure texts a rank of these records has (the size of the second exchange). */
int tacl__eng_fail_slots(const eng_row_t *recs, int n, int slots);
/* Indexes the records of every rank (n x slots) and their failure texts (n x nfail, NULL when
 * nfail is 0). */
tacl_status_t tacl__eng_verdicts(const eng_groups_t *gp, const eng_row_t *recs, int n, int slots,
                                 const char (*texts)[ENG_FAIL_TEXT], int nfail, eng_verdicts_t *v,
                                 tacl__errbuf_t *eb);
void tacl__eng_verdicts_free(eng_verdicts_t *v);
/* 1 when the topology (allowed: NULL, every pair) lets some rank of a talk to some rank of b. */
int tacl__eng_groups_allowed(const eng_groups_t *gp, const uint8_t *allowed, int n, int a, int b);
/* From the verdicts: the reachability matrix, each peer's link text, and whether and where
 * this rank dials each peer (every address of its card, the one that answered its group's
 * probe first: an address may have gone since, as a container's bridge does). full: every
 * allowed pair must be reachable. */
tacl_status_t tacl__eng_pairs(tacl__engine_t *e, const uint8_t *allowed, const eng_groups_t *gp,
                              const eng_verdicts_t *v, const tacl__tcp_addr_t *addrs,
                              const int *naddr, int nconns, int full, tacl__errbuf_t *eb);
/* The notice tree: a depth-first spanning forest of the reachability graph, the same on every
 * rank; this rank's neighbours in it (e->tree_nb). */
tacl_status_t tacl__eng_notice_tree(tacl__engine_t *e, tacl__errbuf_t *eb);

/* ---- connect.c ---- */
/* l's tcp connection is wanted now: dial the peer (or wait for its dial). */
void tacl__eng_need(tacl__engine_t *e, tacl__eng_link_t *l);
/* Attaches the connections made since the last call and fails links whose dial failed. */
void tacl__eng_take_conns(tacl__engine_t *e);
/* Right after create: the links this rank dials at once (its notice-tree neighbours, and
 * pairs that connect only from this side). */
void tacl__eng_first_dials(tacl__engine_t *e);
/* A needed link still without a connection after dial_wait_ns is cut. */
void tacl__eng_dial_expired(tacl__engine_t *e, tacl__eng_link_t *l, uint64_t now);
/* An unconnected link's placeholder connection (frames queue there until it is made). */
tacl__eng_conn_t *tacl__eng_conn_placeholder(tacl__eng_link_t *l);

/* ---- overlay.c ---- */
/* Data is about to go on l: opens the link's faster type if it has one and has not tried yet.
 * 1 when r (NULL: not parked) must wait for it (it is parked and resubmitted once the type is
 * open or has failed). */
int tacl__eng_over_want(tacl__engine_t *e, tacl__eng_link_t *l, tacl__req_t *r);
/* A LINK frame arrived on c (its text in c->ctrl). */
void tacl__eng_over_frame(tacl__engine_t *e, tacl__eng_conn_t *c);
/* Takes r out of l's parked sends; 1 when it was there. */
int tacl__eng_over_unpark(tacl__eng_link_t *l, tacl__req_t *r);

/* ---- progress.c ---- */
/* Wakes the progress thread from epoll_wait. */
void tacl__eng_wake(tacl__engine_t *e);
/* Hands r (or its cancellation) over to the progress thread. */
tacl_status_t tacl__eng_push(tacl__engine_t *e, tacl__req_t *r, int cancel);
void *tacl__eng_progress(void *arg);

#endif
