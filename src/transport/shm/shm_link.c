/* shm_link.c — the shm link type (see shm_link.h): segment layout, the two SPSC byte rings and
 * the sleeping flags. Positions are free-running 64-bit byte counters; the producer owns head,
 * the consumer owns tail, each on its own cache line, and bytes are published with
 * release/acquire ordering. */
#include "transport/shm/shm_link.h"

#include "settings.h"
#include "transport/shm/shm_seg.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct {
    _Alignas(64) _Atomic uint64_t head; /* bytes ever written (producer) */
    _Alignas(64) _Atomic uint64_t tail; /* bytes ever read (consumer) */
} shm_link_ring_t;

typedef struct {
    _Alignas(64) _Atomic uint32_t sleeping[2][16]; /* one cache line per side */
    shm_link_ring_t ring[2];                       /* ring[k]: from pair rank k to 1-k */
} shm_link_ctl_t;

#define SHM_LINK_CTL_BYTES 4096
_Static_assert(sizeof(shm_link_ctl_t) <= SHM_LINK_CTL_BYTES, "control block fits a page");

typedef struct {
    tacl__shm_seg_t seg;
    shm_link_ctl_t *ctl;
    int me;
    size_t cap; /* power of two */
    shm_link_ring_t *tx, *rx;
    uint8_t *txdata, *rxdata;
    int setup_fd, named;         /* opening: the creator's descriptor, a named segment */
    tacl__shm_seg_offer_t offer; /* opening: what the creator offered */
} shm_link_t;

/* An opening message (tacl__link_type_t): the offer (lower rank) or the reply (the other). */
typedef struct {
    int32_t status; /* reply: TACL_OK, SHM_LINK_RETRY_NAMED, or the peer's error */
    int32_t pad;
    uint64_t cap;
    tacl__shm_seg_offer_t seg;
} shm_link_msg_t;

#define SHM_LINK_RETRY_NAMED (-1000)

_Static_assert(sizeof(shm_link_msg_t) <= TACL_LINK_MSG_MAX, "an opening message fits a frame");

static size_t shm_link_cap(void)
{
    long ring = tacl__setting_int(TACL_SET_SHM_RING_BYTES);
    size_t want = ring > 0 ? (size_t)ring : (1u << 20), cap = 4096;
    while (cap < want)
        cap <<= 1;
    return cap;
}

/* Reserve the pages now: tmpfs hands out pages when they are first touched, and a full /dev/shm
 * (64 MiB in a default container) would then kill us with SIGBUS in the middle of a transfer.
 * Populating fails cleanly instead; each side does it before it uses the link. */
static tacl_status_t shm_link_populate(shm_link_t *l, tacl__errbuf_t *eb)
{
#ifdef MADV_POPULATE_WRITE
    if (madvise(l->seg.base, l->seg.size, MADV_POPULATE_WRITE) != 0 && errno != EINVAL)
        return tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_SHM,
                         "not enough shared memory (/dev/shm) for a %zu-byte link segment: %s",
                         l->seg.size, strerror(errno));
#else
    (void)l;
    (void)eb;
#endif
    return TACL_OK;
}

static void shm_link_init(shm_link_t *l, int me, size_t cap)
{
    l->ctl = l->seg.base;
    l->me = me;
    l->cap = cap;
    uint8_t *data = (uint8_t *)l->seg.base + SHM_LINK_CTL_BYTES;
    l->tx = &l->ctl->ring[l->me];
    l->rx = &l->ctl->ring[1 - l->me];
    l->txdata = data + (size_t)l->me * cap;
    l->rxdata = data + (size_t)(1 - l->me) * cap;
}

/* The lower rank's offer: a segment made, populated and described in msg. */
static tacl_status_t shm_link_make_offer(shm_link_t *l, int named, void *msg, size_t *len,
                                         tacl__errbuf_t *eb)
{
    shm_link_msg_t m = {.cap = shm_link_cap()};
    l->named = named;
    tacl_status_t st = tacl__shm_seg_create("link", SHM_LINK_CTL_BYTES + 2 * (size_t)m.cap, named,
                                            &l->seg, &l->setup_fd, &l->offer, eb);
    if (st == TACL_OK && (st = shm_link_populate(l, eb)) != TACL_OK) {
        tacl__shm_seg_release(&l->setup_fd, &l->offer);
        tacl__shm_seg_close(&l->seg);
    }
    if (st != TACL_OK) return st;
    shm_link_init(l, 0, (size_t)m.cap);
    m.seg = l->offer;
    memcpy(msg, &m, sizeof m);
    *len = sizeof m;
    return TACL_OK;
}

static tacl_status_t shm_link_offer(void **conn, void *msg, size_t *len, tacl__errbuf_t *eb)
{
    shm_link_t *l = calloc(1, sizeof *l);
    if (!l) return tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_SHM, "out of memory");
    l->setup_fd = -1;
    tacl_status_t st = shm_link_make_offer(l, 0, msg, len, eb);
    if (st != TACL_OK) {
        free(l);
        return st;
    }
    *conn = l;
    return TACL_OK;
}

static int shm_link_accept(const void *msg, size_t len, void **conn, void *reply, size_t *rlen,
                           tacl__errbuf_t *eb)
{
    shm_link_msg_t m, r = {.status = TACL_OK};
    tacl_status_t st = TACL_OK;
    shm_link_t *l = calloc(1, sizeof *l);
    *rlen = sizeof r;
    if (!l) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_SHM, "out of memory");
    } else if (len != sizeof m) {
        st = tacl__err(eb, TACL_ERR_INTERNAL, TACL_SUB_SHM, "link offer of %zu bytes", len);
    } else {
        memcpy(&m, msg, sizeof m);
        int retry = 0;
        l->setup_fd = -1;
        if (m.cap < 4096 || (m.cap & (m.cap - 1)) || m.seg.size != SHM_LINK_CTL_BYTES + 2 * m.cap)
            st = tacl__err(eb, TACL_ERR_INTERNAL, TACL_SUB_SHM, "bad link offer (%llu-byte rings)",
                           (unsigned long long)m.cap);
        else if ((st = tacl__shm_seg_attach(&m.seg, &l->seg, &retry, eb)) != TACL_OK)
            r.status = retry ? SHM_LINK_RETRY_NAMED : (int32_t)st;
        else if ((st = shm_link_populate(l, eb)) != TACL_OK)
            tacl__shm_seg_close(&l->seg);
    }
    if (st != TACL_OK) {
        if (r.status == TACL_OK) r.status = (int32_t)st;
        free(l);
        memcpy(reply, &r, sizeof r);
        return r.status == SHM_LINK_RETRY_NAMED ? 0 : -1;
    }
    shm_link_init(l, 1, (size_t)m.cap);
    memcpy(reply, &r, sizeof r);
    *conn = l;
    return 1;
}

static int shm_link_confirm(void *conn, const void *reply, size_t rlen, void *msg, size_t *len,
                            tacl__errbuf_t *eb)
{
    shm_link_t *l = conn;
    shm_link_msg_t r = {.status = TACL_ERR_INTERNAL};
    if (rlen == sizeof r) memcpy(&r, reply, sizeof r);
    tacl__shm_seg_release(&l->setup_fd, &l->offer); /* the peer has it open, or never will */
    if (r.status == TACL_OK) return 1;
    tacl__shm_seg_close(&l->seg);
    if (r.status == SHM_LINK_RETRY_NAMED && !l->named)
        return shm_link_make_offer(l, 1, msg, len, eb) == TACL_OK ? 0 : -1;
    tacl__err(eb, TACL_ERR_SYSTEM, TACL_SUB_SHM, "the peer could not map the link's segment (%s)",
              r.status == SHM_LINK_RETRY_NAMED ? "cannot open it"
                                               : tacl_status_str((tacl_status_t)r.status));
    return -1;
}

static void shm_link_set_sleeping(void *conn, int sleeping)
{
    shm_link_t *l = conn;
    atomic_store(&l->ctl->sleeping[l->me][0], (uint32_t)sleeping);
}

static int shm_link_peer_sleeping(void *conn)
{
    shm_link_t *l = conn;
    /* Pairs with the sleeper's store-then-recheck: either it sees our bytes or we see its
     * flag (both sides use sequentially consistent operations). */
    atomic_thread_fence(memory_order_seq_cst);
    return atomic_load(&l->ctl->sleeping[1 - l->me][0]) != 0;
}

static int shm_link_writable(void *conn)
{
    shm_link_t *l = conn;
    uint64_t head = atomic_load_explicit(&l->tx->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&l->tx->tail, memory_order_acquire);
    return head - tail < l->cap;
}

static ssize_t shm_link_writev(void *conn, const struct iovec *iov, int iovcnt)
{
    shm_link_t *l = conn;
    uint64_t head = atomic_load_explicit(&l->tx->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&l->tx->tail, memory_order_acquire);
    size_t room = l->cap - (size_t)(head - tail), done = 0;
    for (int i = 0; i < iovcnt && room > 0; i++) {
        const uint8_t *src = iov[i].iov_base;
        size_t n = iov[i].iov_len < room ? iov[i].iov_len : room;
        size_t pos = (size_t)(head + done) & (l->cap - 1);
        size_t first = n < l->cap - pos ? n : l->cap - pos;
        memcpy(l->txdata + pos, src, first);
        if (n > first) memcpy(l->txdata, src + first, n - first);
        done += n;
        room -= n;
    }
    if (done) atomic_store_explicit(&l->tx->head, head + done, memory_order_release);
    return (ssize_t)done;
}

static ssize_t shm_link_read(void *conn, void *buf, size_t len)
{
    shm_link_t *l = conn;
    uint64_t tail = atomic_load_explicit(&l->rx->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&l->rx->head, memory_order_acquire);
    size_t avail = (size_t)(head - tail);
    size_t n = len < avail ? len : avail;
    if (n == 0) return 0;
    size_t pos = (size_t)tail & (l->cap - 1);
    size_t first = n < l->cap - pos ? n : l->cap - pos;
    memcpy(buf, l->rxdata + pos, first);
    if (n > first) memcpy((uint8_t *)buf + first, l->rxdata, n - first);
    atomic_store_explicit(&l->rx->tail, tail + n, memory_order_release);
    return (ssize_t)n;
}

static int shm_link_fd(void *conn)
{
    (void)conn;
    return -1;
}

static int shm_link_readable(void *conn)
{
    shm_link_t *l = conn;
    return atomic_load_explicit(&l->rx->head, memory_order_acquire) !=
           atomic_load_explicit(&l->rx->tail, memory_order_relaxed);
}

static void shm_link_close(void *conn)
{
    shm_link_t *l = conn;
    if (l->setup_fd >= 0) tacl__shm_seg_release(&l->setup_fd, &l->offer);
    tacl__shm_seg_close(&l->seg);
    free(l);
}

const tacl__link_ops_t tacl__shm_link_ops = {
    .name = "shm",
    .writev = shm_link_writev,
    .read = shm_link_read,
    .fd = shm_link_fd,
    .readable = shm_link_readable,
    .writable = shm_link_writable,
    .set_sleeping = shm_link_set_sleeping,
    .peer_sleeping = shm_link_peer_sleeping,
    .close = shm_link_close,
    .direct_min = 0,
    .single_copy = 1,
};

static int shm_link_suits(const char *host_a, const char *host_b)
{
    return !tacl__setting_bool(TACL_SET_SHM_DISABLE) && strcmp(host_a, host_b) == 0;
}

const tacl__link_type_t tacl__shm_link_type = {
    .name = "shm",
    .info = "shm ring",
    .log_sub = TACL_SUB_SHM,
    .ops = &tacl__shm_link_ops,
    .suits = shm_link_suits,
    .offer = shm_link_offer,
    .accept = shm_link_accept,
    .confirm = shm_link_confirm,
};
