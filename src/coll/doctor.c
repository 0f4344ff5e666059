/* doctor.c — what `tacl doctor` runs on every rank: join the world even when its graph is
 * disconnected (world_open), gather every rank's link notes through the store, measure each
 * directly linked pair (ping-pong of small messages for latency, a streamed message of growing
 * size for bandwidth) in rounds of a round-robin schedule so that each rank is in one pair at
 * a time and each pair is bounded by the pair timeout, run the collective smoke tests with
 * checked values when the graph is connected, and gather the results into one report on rank
 * 0 (doctor_gather.c). The gathers go through the store, not the data links, so a report exists
 * even when links or collectives fail. Link traffic uses the engine directly under a communicator
 * id of its own, so it never matches a communicator's messages. */
#include "coll/doctor.h"
#include "coll/doctor_gather.h"
#include "topo/graph.h"

#include "clock.h"
#include "proc.h"
#include "settings.h"
#include "transport/engine.h"

#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DOCTOR_COMM_ID    0xd0c7000000000001ull
#define DOCTOR_PING_WARM  3
#define DOCTOR_PING_ITERS 21
#define DOCTOR_BW_FIRST   (64u << 10)
#define DOCTOR_BW_STEP_S  0.15 /* a bandwidth step shorter than this grows the message */
#define DOCTOR_TAG_PING   (1ull << 32)
#define DOCTOR_TAG_PONG   (2ull << 32)
#define DOCTOR_TAG_HDR    (3ull << 32)
#define DOCTOR_TAG_DATA   (4ull << 32)
#define DOCTOR_TAG_ACK    (5ull << 32)
#define DOCTOR_SMOKE_TAG  0x7d0c0000

typedef struct {
    tacl__world_t *w;
    const tacl__doctor_opts_t *o;
    double pair_timeout_s;
    size_t max_bytes;
    char *buf; /* max_bytes, for streamed messages */
    FILE *progress;
} doctor_t;

static void doctor_progress(doctor_t *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void doctor_progress(doctor_t *d, const char *fmt, ...)
{
    if (!d->progress || d->w->rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(d->progress, "tacl doctor: ");
    vfprintf(d->progress, fmt, ap);
    fputc('\n', d->progress);
    fflush(d->progress);
    va_end(ap);
}

/* One blocking transfer with the engine under the doctor's id, bounded by deadline. */
static tacl_status_t doctor_xfer(doctor_t *d, int peer, int send, uint64_t tag, uint64_t seq,
                                 void *buf, size_t len, uint64_t deadline, char *err, size_t elen)
{
    tacl__msg_key_t k = {DOCTOR_COMM_ID, tag, seq};
    tacl__req_t *req;
    tacl__errbuf_t eb;
    tacl_status_t st = send ? tacl__engine_isend(d->w->engine, peer, &k, NULL, buf, len, &req)
                            : tacl__engine_irecv(d->w->engine, peer, &k, NULL, buf, len, &req);
    if (st == TACL_OK) {
        st = tacl__engine_wait(d->w->engine, &req, 1, deadline, &peer, 1, &eb);
        if (st != TACL_OK) snprintf(err, elen, "%.*s", (int)elen - 1, eb.msg);
    } else {
        snprintf(err, elen, "%.*s", (int)elen - 1, tacl_last_error());
    }
    return st;
}

static int doctor_cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Latency and bandwidth of the pair (me, peer); the lower rank leads and records. */
static void doctor_measure_pair(doctor_t *d, int peer, int round, tacl__doctor_pair_t *out)
{
    int lead = d->w->rank < peer;
    uint64_t deadline = tacl__deadline_ns(d->pair_timeout_s);
    uint64_t seq = (uint64_t)round;
    char err[TACL_DOCTOR_MSG_MAX] = "";
    double rtt[DOCTOR_PING_ITERS];
    uint64_t word = 0;
    tacl_status_t st = TACL_OK;
    for (int k = 0; k < DOCTOR_PING_WARM + DOCTOR_PING_ITERS && st == TACL_OK; k++) {
        uint64_t t0 = tacl__now_ns();
        if (lead) {
            st = doctor_xfer(d, peer, 1, DOCTOR_TAG_PING | (uint64_t)k, seq, &word, sizeof word,
                             deadline, err, sizeof err);
            if (st == TACL_OK)
                st = doctor_xfer(d, peer, 0, DOCTOR_TAG_PONG | (uint64_t)k, seq, &word, sizeof word,
                                 deadline, err, sizeof err);
            if (k >= DOCTOR_PING_WARM) rtt[k - DOCTOR_PING_WARM] = (double)(tacl__now_ns() - t0);
        } else {
            st = doctor_xfer(d, peer, 0, DOCTOR_TAG_PING | (uint64_t)k, seq, &word, sizeof word,
                             deadline, err, sizeof err);
            if (st == TACL_OK)
                st = doctor_xfer(d, peer, 1, DOCTOR_TAG_PONG | (uint64_t)k, seq, &word, sizeof word,
                                 deadline, err, sizeof err);
        }
    }
    double rtt_ns = 0;
    if (st == TACL_OK && lead) {
        qsort(rtt, DOCTOR_PING_ITERS, sizeof rtt[0], doctor_cmp_dbl);
        rtt_ns = rtt[DOCTOR_PING_ITERS / 2];
        out->lat_us = rtt_ns / 2e3;
    }
    /* Bandwidth: a header announces each message's size (0 ends), the follower acknowledges
     * each message once received, and the leader grows the size while a step stays short. */
    double best = -1;
    size_t size = DOCTOR_BW_FIRST < d->max_bytes ? DOCTOR_BW_FIRST : d->max_bytes;
    for (uint64_t step = 0; st == TACL_OK; step++) {
        uint64_t hdr = size;
        if (lead) {
            uint64_t t0 = tacl__now_ns();
            st = doctor_xfer(d, peer, 1, DOCTOR_TAG_HDR | step, seq, &hdr, sizeof hdr, deadline,
                             err, sizeof err);
            if (st != TACL_OK || !hdr) break;
            st = doctor_xfer(d, peer, 1, DOCTOR_TAG_DATA | step, seq, d->buf, size, deadline, err,
                             sizeof err);
            if (st == TACL_OK)
                st = doctor_xfer(d, peer, 0, DOCTOR_TAG_ACK | step, seq, &word, sizeof word,
                                 deadline, err, sizeof err);
            if (st != TACL_OK) break;
            double t = (double)(tacl__now_ns() - t0);
            /* The acknowledgement adds one round trip, not part of the streaming. */
            if (t > 2 * rtt_ns) t -= rtt_ns;
            double gbs = (double)size / t;
            if (gbs > best) best = gbs;
            double left = (double)(deadline - tacl__now_ns()) * 1e-9;
            if (t * 1e-9 < DOCTOR_BW_STEP_S && size * 4 <= d->max_bytes && left > 8 * t * 1e-9)
                size *= 4;
            else
                size = 0; /* the next header ends the exchange */
        } else {
            st = doctor_xfer(d, peer, 0, DOCTOR_TAG_HDR | step, seq, &hdr, sizeof hdr, deadline,
                             err, sizeof err);
            if (st != TACL_OK || !hdr) break;
            if (hdr > d->max_bytes) {
                snprintf(err, sizeof err, "rank %d announced %llu bytes, more than %zu", peer,
                         (unsigned long long)hdr, d->max_bytes);
                st = TACL_ERR_PROTOCOL;
                break;
            }
            st = doctor_xfer(d, peer, 0, DOCTOR_TAG_DATA | step, seq, d->buf, (size_t)hdr, deadline,
                             err, sizeof err);
            if (st == TACL_OK)
                st = doctor_xfer(d, peer, 1, DOCTOR_TAG_ACK | step, seq, &word, sizeof word,
                                 deadline, err, sizeof err);
        }
    }
    if (lead) {
        if (best > 0) out->gbs = best;
        if (st != TACL_OK) snprintf(out->err, sizeof out->err, "%s", err);
    }
}

static tacl_status_t doctor_links(doctor_t *d, tacl__doctor_pair_t *row)
{
    int n = d->w->size, me = d->w->rank;
    int rounds = n + (n & 1) - 1;
    for (int r = 0; r < rounds; r++) {
        int p = tacl__round_robin_partner(n, r, me);
        if (p < 0 || !d->w->reach[(size_t)me * (size_t)n + (size_t)p]) continue;
        doctor_measure_pair(d, p, r, &row[p]);
        if (me == 0) {
            const tacl__doctor_pair_t *l = &row[p];
            if (l->err[0])
                doctor_progress(d, "round %d/%d: ranks 0-%d: %s", r + 1, rounds, p, l->err);
            else
                doctor_progress(d, "round %d/%d: ranks 0-%d: %.1f us, %.3g GB/s", r + 1, rounds, p,
                                l->lat_us, l->gbs);
        }
    }
    return TACL_OK;
}

/* ---- Smoke tests (world communicator, connected graph). ---- */

static double doctor_secs(uint64_t t0)
{
    return (double)(tacl__now_ns() - t0) * 1e-9;
}

static void doctor_fail(tacl__doctor_smoke_rank_t *s, tacl_comm_t *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void doctor_fail(tacl__doctor_smoke_rank_t *s, tacl_comm_t *c, const char *fmt, ...)
{
    s->failed = 1;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->msg, sizeof s->msg, fmt, ap);
        va_end(ap);
    } else {
        snprintf(s->msg, sizeof s->msg, "%s", tacl_comm_last_error(c));
    }
}

static void doctor_smoke_all_reduce(tacl_comm_t *c, tacl__doctor_smoke_rank_t *s)
{
    const size_t count = 1 << 16;
    int n = tacl_comm_size(c), me = tacl_comm_rank(c);
    double *x = malloc(count * sizeof *x), *y = malloc(count * sizeof *y);
    s->ran = 1;
    if (!x || !y) {
        doctor_fail(s, c, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < count; i++)
        x[i] = (double)(me + 1) * (double)(i % 997 + 1);
    if (tacl_barrier(c) != TACL_OK) {
        doctor_fail(s, c, NULL);
        goto out;
    }
    uint64_t t0 = tacl__now_ns();
    if (tacl_all_reduce(c, x, y, count, TACL_FLOAT64, TACL_SUM) != TACL_OK) {
        doctor_fail(s, c, NULL);
        goto out;
    }
    s->secs = doctor_secs(t0);
    double tri = (double)n * (double)(n + 1) / 2;
    for (size_t i = 0; i < count; i++)
        if (y[i] != tri * (double)(i % 997 + 1)) {
            doctor_fail(s, c, "element %zu of %zu float64 sums is %g, expected %g", i, count, y[i],
                        tri * (double)(i % 997 + 1));
            break;
        }
out:
    free(x);
    free(y);
}

static void doctor_smoke_all_gather(tacl_comm_t *c, tacl__doctor_smoke_rank_t *s)
{
    const size_t count = 4096;
    int n = tacl_comm_size(c), me = tacl_comm_rank(c);
    int32_t *x = malloc(count * sizeof *x), *y = malloc((size_t)n * count * sizeof *y);
    s->ran = 1;
    if (!x || !y) {
        doctor_fail(s, c, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < count; i++)
        x[i] = (int32_t)((size_t)me * 65536 + i);
    if (tacl_barrier(c) != TACL_OK) {
        doctor_fail(s, c, NULL);
        goto out;
    }
    uint64_t t0 = tacl__now_ns();
    if (tacl_all_gather(c, x, y, count, TACL_INT32) != TACL_OK) {
        doctor_fail(s, c, NULL);
        goto out;
    }
    s->secs = doctor_secs(t0);
    for (size_t r = 0; r < (size_t)n && !s->failed; r++)
        for (size_t i = 0; i < count; i++)
            if (y[r * count + i] != (int32_t)(r * 65536 + i)) {
                doctor_fail(s, c, "element %zu of rank %zu's block is %d, expected %d", i, r,
                            (int)y[r * count + i], (int)(r * 65536 + i));
                break;
            }
out:
    free(x);
    free(y);
}

static void doctor_smoke_broadcast(tacl_comm_t *c, tacl__doctor_smoke_rank_t *s)
{
    const size_t count = 1 << 16;
    int n = tacl_comm_size(c), me = tacl_comm_rank(c), root = n - 1;
    double *x = malloc(count * sizeof *x);
    s->ran = 1;
    if (!x) {
        doctor_fail(s, c, "out of memory");
        return;
    }
    for (size_t i = 0; i < count; i++)
        x[i] = me == root ? (double)i * 0.5 + root : -1;
    if (tacl_barrier(c) != TACL_OK) {
        doctor_fail(s, c, NULL);
        goto out;
    }
    uint64_t t0 = tacl__now_ns();
    if (tacl_broadcast(c, x, x, count, TACL_FLOAT64, root) != TACL_OK) {
        doctor_fail(s, c, NULL);
        goto out;
    }
    s->secs = doctor_secs(t0);
    for (size_t i = 0; i < count; i++)
        if (x[i] != (double)i * 0.5 + root) {
            doctor_fail(s, c, "element %zu from root %d is %g, expected %g", i, root, x[i],
                        (double)i * 0.5 + root);
            break;
        }
out:
    free(x);
}

/* Every pair without a direct link exchanges a message both ways through the relays, in the
 * same round-robin rounds as the link measurements; the lower rank checks the echo. */
static void doctor_smoke_routed(doctor_t *d, tacl_comm_t *c, tacl__doctor_smoke_rank_t *s)
{
    const size_t len = 1 << 20;
    int n = d->w->size, me = d->w->rank, rounds = n + (n & 1) - 1, any = 0;
    for (int i = 0; i < n && !any; i++)
        for (int j = i + 1; j < n && !any; j++)
            any = !d->w->reach[(size_t)i * (size_t)n + (size_t)j];
    if (!any) {
        snprintf(s->msg, sizeof s->msg, "every pair is linked directly: nothing to route");
        return;
    }
    s->ran = 1;
    uint8_t *x = malloc(len), *y = malloc(len);
    if (!x || !y) {
        doctor_fail(s, c, "out of memory");
        goto out;
    }
    for (int r = 0; r < rounds && !s->failed; r++) {
        int p = tacl__round_robin_partner(n, r, me);
        if (p < 0 || d->w->reach[(size_t)me * (size_t)n + (size_t)p]) continue;
        int lo = me < p ? me : p;
        for (size_t i = 0; i < len; i++)
            x[i] = (uint8_t)(i * 7 + (size_t)lo);
        uint64_t t0 = tacl__now_ns();
        tacl_status_t st;
        if (me < p) {
            st = tacl_send(c, x, len, TACL_UINT8, p, DOCTOR_SMOKE_TAG + r);
            if (st == TACL_OK) st = tacl_recv(c, y, len, TACL_UINT8, p, DOCTOR_SMOKE_TAG + r);
        } else {
            st = tacl_recv(c, y, len, TACL_UINT8, p, DOCTOR_SMOKE_TAG + r);
            if (st == TACL_OK) st = tacl_send(c, y, len, TACL_UINT8, p, DOCTOR_SMOKE_TAG + r);
        }
        if (st != TACL_OK) {
            doctor_fail(s, c, "with rank %d: %s", p, tacl_comm_last_error(c));
            break;
        }
        double t = doctor_secs(t0);
        if (t > s->secs) s->secs = t;
        if (me < p) {
            double gbs = 2.0 * (double)len / t * 1e-9;
            if (s->gbs <= 0 || gbs < s->gbs) s->gbs = gbs;
        }
        if (memcmp(x, y, len)) {
            size_t i = 0;
            while (x[i] == y[i])
                i++;
            doctor_fail(s, c, "from rank %d: byte %zu of %zu is %u, expected %u", p, i, len, y[i],
                        x[i]);
        }
    }
out:
    free(x);
    free(y);
}

static void doctor_smoke(doctor_t *d, int ncomp, tacl__doctor_smoke_rank_t *res)
{
    for (int k = 0; k < TACL_DOCTOR_NSMOKE; k++)
        snprintf(res[k].msg, sizeof res[k].msg, "not run");
    if (!d->o->smoke) {
        for (int k = 0; k < TACL_DOCTOR_NSMOKE; k++)
            snprintf(res[k].msg, sizeof res[k].msg, "--no-smoke");
        return;
    }
    if (ncomp > 1) {
        for (int k = 0; k < TACL_DOCTOR_NSMOKE; k++)
            snprintf(res[k].msg, sizeof res[k].msg,
                     "the graph is disconnected: no communicator spans the world");
        return;
    }
    tacl_comm_t *c = NULL;
    tacl__errbuf_t eb;
    if (world_comm_create(d->w, &c, &eb) != TACL_OK) {
        for (int k = 0; k < TACL_DOCTOR_NSMOKE; k++) {
            res[k].ran = 1;
            res[k].failed = 1;
            snprintf(res[k].msg, sizeof res[k].msg, "world communicator: %.200s", eb.msg);
        }
        return;
    }
    tacl_comm_set_timeout(c, d->pair_timeout_s);
    static void (*const simple[])(tacl_comm_t *, tacl__doctor_smoke_rank_t *) = {
        doctor_smoke_all_reduce, doctor_smoke_all_gather, doctor_smoke_broadcast};
    for (int k = 0; k < 3; k++) {
        res[k].msg[0] = '\0';
        simple[k](c, &res[k]);
        doctor_progress(d, "%s: %s (rank 0: %.4f s)", tacl__doctor_smoke_name(k),
                        res[k].failed ? "FAILED" : "ok", res[k].secs);
    }
    res[TACL_DOCTOR_ROUTED].msg[0] = '\0';
    doctor_smoke_routed(d, c, &res[TACL_DOCTOR_ROUTED]);
    if (res[TACL_DOCTOR_ROUTED].ran)
        doctor_progress(d, "%s: %s", tacl__doctor_smoke_name(TACL_DOCTOR_ROUTED),
                        res[TACL_DOCTOR_ROUTED].failed ? "FAILED" : "ok");
    tacl_comm_destroy(c);
}

/* This rank's CPUs: affinity mask, quota, control groups. */
static void doctor_cpus(tacl__doctor_cpu_t *c)
{
    memset(c, 0, sizeof *c);
    cpu_set_t set;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    c->known = 1;
    c->online = online > 0 ? (int32_t)online : 1;
    c->quota = tacl__proc_quota();
    c->group = tacl__proc_cgroup_id();
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        for (int k = 0; k < c->online && k < TACL_DOCTOR_CPU_BYTES * 8; k++)
            c->mask[k / 8] |= (uint8_t)(1u << (k % 8));
        return;
    }
    for (int k = 0; k < CPU_SETSIZE && k < TACL_DOCTOR_CPU_BYTES * 8; k++)
        if (CPU_ISSET(k, &set)) c->mask[k / 8] |= (uint8_t)(1u << (k % 8));
}

static void doctor_release_world(tacl__world_t *w)
{
    pthread_mutex_lock(&w->lock);
    int last = --w->refs <= 0;
    pthread_mutex_unlock(&w->lock);
    if (last) world_release(w);
}

tacl_status_t tacl__doctor_run(const tacl__doctor_opts_t *opts, int *rank,
                               tacl__doctor_report_t **out, tacl__errbuf_t *eb)
{
    uint64_t t0 = tacl__now_ns();
    doctor_t d = {.o = opts, .progress = opts->progress};
    d.pair_timeout_s = opts->pair_timeout_s > 0 ? opts->pair_timeout_s
                                                : tacl__setting_dbl(TACL_SET_DOCTOR_TIMEOUT);
    d.max_bytes =
        opts->max_bytes ? opts->max_bytes : (size_t)tacl__setting_int(TACL_SET_DOCTOR_BYTES);
    if (d.max_bytes < 4096) d.max_bytes = 4096;
    int ncomp = 0;
    tacl__world_t *w;
    TACL_CHECK(world_open(NULL, 1, &w, &ncomp, eb));
    d.w = w;
    /* The doctor holds a reference of its own, so that destroying the smoke tests'
     * communicator leaves the world (and its store) up for the gathers that follow. */
    w->refs = 1;
    int n = w->size, me = w->rank;
    boot_store_xchg_ctx_t *x = &w->boot->xctx;
    tacl__doctor_report_t *r = NULL; /* rank 0's only */
    tacl__doctor_pair_t *row = NULL;
    const char **notes = NULL;
    tacl__doctor_smoke_rank_t smoke[TACL_DOCTOR_NSMOKE];
    memset(smoke, 0, sizeof smoke);
    tacl_status_t st = me == 0 ? tacl__doctor_report_create(n, &r) : TACL_OK;
    if (st != TACL_OK) {
        tacl__err_keep(eb, st);
        goto out;
    }
    row = calloc((size_t)n, sizeof *row);
    notes = calloc((size_t)n, sizeof *notes);
    d.buf = malloc(d.max_bytes);
    if (!row || !notes || !d.buf) {
        st = tacl__err(eb, TACL_ERR_NOMEM, TACL_SUB_INIT, "doctor: out of memory");
        goto out;
    }
    memset(d.buf, 0x5a, d.max_bytes);
    int linked = 0;
    for (int j = 0; j < n; j++)
        linked += j != me && w->reach[(size_t)me * (size_t)n + (size_t)j];
    doctor_progress(&d,
                    "%d ranks on %d host%s met at %s:%d in %.2f s; %d of %d peers of rank 0 "
                    "linked directly, %d component%s",
                    n, w->nhosts, w->nhosts == 1 ? "" : "s", w->bs.master_addr, w->bs.master_port,
                    doctor_secs(t0), linked, n - 1, ncomp, ncomp == 1 ? "" : "s");
    for (int j = 0; j < n; j++) {
        notes[j] = j == me ? "" : tacl__engine_link_info(w->engine, j);
        row[j].lat_us = row[j].gbs = -1;
    }
    st = tacl__doctor_send_notes(x, notes, r, eb);
    if (st != TACL_OK) goto out;

    doctor_progress(&d, "measuring links in %d rounds (at most %.1f s per pair)", n + (n & 1) - 1,
                    d.pair_timeout_s);
    doctor_links(&d, row);
    st = tacl__doctor_send_pairs(x, row, r, eb);
    if (st != TACL_OK) goto out;

    doctor_smoke(&d, ncomp, smoke);
    st = tacl__doctor_send_smoke(x, smoke, r, eb);
    if (st != TACL_OK) goto out;

    /* The CPUs each rank may use: the verdict warns where a host's ranks outnumber them. */
    tacl__doctor_cpu_t cpu;
    doctor_cpus(&cpu);
    st = tacl__doctor_send_cpu(x, &cpu, r, eb);
    if (st != TACL_OK || !r) goto out;

    memcpy(r->reach, w->reach, (size_t)n * (size_t)n);
    for (int q = 0; q < n; q++) {
        st = tacl__doctor_report_set_host(r, q, w->host_ids[q]);
        if (st != TACL_OK) goto out;
    }
    r->probe_timeout_s = tacl__setting_dbl(TACL_SET_PROBE_TIMEOUT);
    snprintf(r->store, sizeof r->store, "%s:%d", w->bs.master_addr, w->bs.master_port);
    st = tacl__doctor_finish(r);
    if (st != TACL_OK) goto out;
    r->elapsed_s = doctor_secs(t0);
out:
    if (st == TACL_OK) {
        *rank = me;
        *out = r;
        r = NULL;
    }
    free(row);
    free(notes);
    free(d.buf);
    tacl__doctor_report_destroy(r);
    doctor_release_world(w);
    return st;
}
