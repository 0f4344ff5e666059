/* transport.h — the internal interface of the transport layer: the ops table that every link
 * type (tcp, shm ring) fills, the table of link types built over a pair's tcp connection, the
 * wire format of a fragment, and the tcp setup calls the engine uses while it creates its
 * links. A link is a reliable byte stream in each direction; the engine (src/transport/engine/)
 * frames fragments on it ({header, payload}) identically for every link type, so matching,
 * striping, forwarding and liveness are written once.
 *
 * Setup (listen, publish, connect) is not in the ops table: every pair first connects over tcp
 * (the probe); a faster link type (the shm ring for ranks of one host) is then opened over that
 * connection, which stays the pair's control channel. A new link type is a folder of its own
 * under src/transport/ that fills tacl__link_ops_t and tacl__link_type_t, and one row of
 * tacl__link_types (links.c); the engine names no link type but tcp. */
#ifndef TACL_TRANSPORT_TRANSPORT_H
#define TACL_TRANSPORT_TRANSPORT_H

#include "err.h"
#include "fp.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct {
    const char *name;
    /* Writes as much of iov as the link takes now, never blocking. Returns the bytes written
     * (0: the link is full, retry when fd is writable or, without fd, on the next poll), or -1
     * with errno set when the link is broken (EPIPE, ECONNRESET ...). */
    ssize_t (*writev)(void *conn, const struct iovec *iov, int iovcnt);
    /* Reads up to len bytes now, never blocking. Returns the bytes read (0: nothing waits), or
     * -1 when the link is broken; errno is 0 for an orderly close by the peer (EOF). */
    ssize_t (*read)(void *conn, void *buf, size_t len);
    /* The fd that epoll watches for this connection, or -1 when the engine polls it (shm). */
    int (*fd)(void *conn);
    /* For polled connections: 1 when read would return bytes now. NULL for fd connections. */
    int (*readable)(void *conn);
    /* For polled connections: 1 when writev would take bytes now. NULL for fd connections. */
    int (*writable)(void *conn);
    /* For polled connections, NULL otherwise: this side blocks in epoll (1) or polls (0) ... */
    void (*set_sleeping)(void *conn, int sleeping);
    /* ... and 1 when the other side blocks: bytes moved on the connection need a WAKE frame on
     * the pair's control connection (which the sleeper's epoll watches). Full barrier first. */
    int (*peer_sleeping)(void *conn);
    /* Releases the connection (closes the socket, unmaps the ring). */
    void (*close)(void *conn);
    /* Payloads of at least this many bytes are read straight into their destination (the
     * user's buffer); smaller ones go through the engine's staging buffer, which turns many
     * small frames into one read() (tcp). 0: always direct (shm: the ring is the staging). */
    size_t direct_min;
    /* 1 when both ends are processes of one host: a large message may be copied once from the
     * sender's memory (process_vm_readv, TACL_SHM_CMA_BYTES) instead of through the link. */
    int single_copy;
} tacl__link_ops_t;

/* The longest opening message of a link type (it travels in one control frame). */
#define TACL_LINK_MSG_MAX 255

/* A link type opened over a pair's tcp connection, for pairs it suits (e.g. one host). */
typedef struct {
    const char *name;            /* "shm": in log messages */
    const char *info;            /* "shm ring": appended to the pair's link text (doctor) */
    int log_sub;                 /* the log subsystem of its messages (tacl__subsys_t) */
    const tacl__link_ops_t *ops; /* the connections it opens */
    /* 1 when ranks on hosts host_a and host_b should use it (settings may switch it off). */
    int (*suits)(const char *host_a, const char *host_b);
    /* Opening, as messages of at most TACL_LINK_MSG_MAX bytes that the engine carries on the
     * pair's tcp connection, so that neither side ever blocks (a pair opens when it first sends,
     * while both progress threads go on serving other pairs). The pair's lower rank makes the
     * connection and an offer; *msg, *len: what to send. */
    tacl_status_t (*offer)(void **conn, void *msg, size_t *len, tacl__errbuf_t *eb);
    /* The other rank, on an offer: 1 the connection is open (*conn), 0 refused but another offer
     * may follow, -1 failed; *reply (*rlen bytes) goes back in every case. */
    int (*accept)(const void *msg, size_t len, void **conn, void *reply, size_t *rlen,
                  tacl__errbuf_t *eb);
    /* The lower rank, on the reply: 1 conn is open, 0 a new offer is in *msg (*len bytes), -1
     * failed (close conn). A pair where the type failed stays on tcp. */
    int (*confirm)(void *conn, const void *reply, size_t rlen, void *msg, size_t *len,
                   tacl__errbuf_t *eb);
} tacl__link_type_t;

/* The link types the engine may open over a pair's tcp connection, NULL-terminated (links.c):
 * the first that suits the pair is opened when the pair first sends data; where it cannot be
 * opened the pair stays on tcp. */
extern const tacl__link_type_t *const tacl__link_types[];

/* ---- Wire format: every fragment is a 96-byte header followed by len payload bytes. ---- */
#define TACL_FRAME_MAGIC 0x7461636cu /* "tacl" */

typedef enum {
    TACL_FRAME_DATA = 1,  /* payload: bytes [offset, offset+len) of a message of total bytes */
    TACL_FRAME_HEARTBEAT, /* no payload: "still here" on an idle link */
    TACL_FRAME_WAKE,      /* no payload: a shm ring has data or space; leave epoll_wait */
    TACL_FRAME_DEAD,      /* tag = dead rank, src = reporter, payload = how it was detected */
    TACL_FRAME_CUT,       /* tag, seq = the ranks of a cut link, payload = how */
    TACL_FRAME_CMA_RTS,   /* shm links, large messages: total bytes wait at address offset of
                             process hops (the sender's pid); the receiver copies them with
                             process_vm_readv (one copy instead of two through the ring) */
    TACL_FRAME_CMA_FIN,   /* the receiver is done with the RTS of (comm_id, tag, seq);
                             total = 0 done, 1 could not read: send it through the ring */
    TACL_FRAME_CREDIT,    /* no payload: total bytes of the routed flow dst -> src have left the
                             relays; routed to dst along next_hop, never subject to credit */
    TACL_FRAME_LINK       /* opening a faster link type over this pair's tcp connection, from
                             the direct peer: tag = step (TACL_LINK_STEP_*), seq = the type's
                             index in tacl__link_types, payload = the type's message */
} tacl__frame_kind_t;

enum {
    TACL_LINK_STEP_ASK = 1, /* the higher rank wants the link: the lower one offers */
    TACL_LINK_STEP_OFFER,   /* the lower rank's offer */
    TACL_LINK_STEP_REPLY,   /* the higher rank's answer */
    TACL_LINK_STEP_GIVEUP   /* the lower rank could not make it: the pair stays on tcp */
};

#define TACL_FRAME_HAS_FP 1u
/* HEARTBEAT: the sender watches this link (it has traffic on it): answer with a heartbeat. */
#define TACL_FRAME_ASK 2u

typedef struct {
    uint32_t magic;
    uint16_t kind;
    uint16_t flags;
    int32_t src, dst; /* world ranks; dst -1 for flooded control frames */
    uint32_t len;     /* payload bytes of this fragment */
    uint32_t hops; /* DATA: relays passed so far (a fragment caught in a routing loop is dropped) */
    uint64_t comm_id, tag, seq;
    uint64_t total, offset;
    tacl__fp_t fp;
} tacl__frame_hdr_t;

_Static_assert(sizeof(tacl__frame_hdr_t) == 96, "the frame header is 96 bytes on the wire");

/* ---- tcp (src/transport/tcp) ---- */
#define TACL_TCP_MAX_ADDRS 8

typedef struct {
    int32_t family; /* AF_INET or AF_INET6 */
    uint16_t port;
    uint16_t pad;
    uint8_t addr[16];
    char ifname[16];
} tacl__tcp_addr_t;

extern const tacl__link_ops_t tacl__tcp_ops;

/* 1 when ifname is selected by spec (NCCL_SOCKET_IFNAME syntax: comma-separated prefixes,
 * a leading '^' excludes them, a leading '=' (after '^' if any) makes them exact names). */
int tacl__tcp_ifname_match(const char *spec, const char *ifname);
/* The addresses of the interfaces chosen by spec ("" = every non-loopback interface that is up,
 * or loopback when there is none), with port filled in. IPv6 link-local addresses are skipped
 * (their scope differs between hosts). */
tacl_status_t tacl__tcp_local_addrs(const char *spec, int port, tacl__tcp_addr_t *out, int max,
                                    int *n, tacl__errbuf_t *eb);
/* A listening socket on every address (IPv6 dual-stack when the kernel has IPv6, else IPv4),
 * kernel-chosen port, non-blocking. */
tacl_status_t tacl__tcp_listen(int *fd, int *port, tacl__errbuf_t *eb);
/* Starts a non-blocking connect; returns the fd or -1 with *err = errno. */
int tacl__tcp_connect_start(const tacl__tcp_addr_t *a, int *err);
/* "10.0.0.3:40123" or "[fd00::3]:40123". */
void tacl__tcp_addr_format(const tacl__tcp_addr_t *a, char *buf, size_t len);
/* TCP_NODELAY, large socket buffers, keepalive, non-blocking. */
void tacl__tcp_tune(int fd);
/* Wraps a connected socket as a link connection (tacl__tcp_ops); NULL when out of memory. */
void *tacl__tcp_conn_wrap(int fd);
/* Blocking helpers with a deadline, for the handshake and the pair exchange during create:
 * 0 on success, -1 with *why set ("timed out", "connection closed", strerror). */
int tacl__tcp_send_all(int fd, const void *buf, size_t len, uint64_t deadline_ns, const char **why);
int tacl__tcp_recv_all(int fd, void *buf, size_t len, uint64_t deadline_ns, const char **why);

#endif
