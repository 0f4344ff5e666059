/* wait.c — the application's side: requests made and handed to the progress thread, waits
 * (bounded spin, then a condition variable with a deadline), the diagnosis of a wait that cannot
 * finish (failed request, cut link between members, dead member, no live path, timeout naming
 * the missing messages), and abort notices sent to the other ranks of a failed operation. */
#include "transport/engine/engine_int.h"

#include "clock.h"
#include "log.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static tacl__req_t *eng_req_new(tacl__engine_t *e, int is_send, int peer,
                                const tacl__msg_key_t *key, const tacl__fp_t *fp, const void *buf,
                                size_t len)
{
    tacl__req_t *r = calloc(1, sizeof *r);
    if (!r) {
        tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_NET, "rank %d: out of memory", e->rank);
        return NULL;
    }
    r->is_send = is_send;
    r->peer = peer;
    r->cut_gen = atomic_load(&e->cut_gen);
    r->key = *key;
    if (fp) {
        r->fp = *fp;
        r->has_fp = 1;
    }
    r->buf = (uint8_t *)buf;
    r->len = len;
    return r;
}

static tacl_status_t eng_check_args(tacl__engine_t *e, const char *what, int peer,
                                    const tacl__msg_key_t *key, const void *buf, size_t len,
                                    tacl__req_t **req)
{
    if (!e || !key || !req || (len && !buf) || len > UINT32_MAX * (uint64_t)e->frag)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_NET, "%s: NULL argument", what);
    if (peer < 0 || peer >= e->size)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_NET,
                         "%s: rank %d out of range (world of %d)", what, peer, e->size);
    return TACL_OK;
}

/* TACL_ERR_PEER_LOST for rank r, with how it was lost (written under live_mu by liveness.c). */
static tacl_status_t eng_lost_err(tacl__engine_t *e, int r, tacl__errbuf_t *eb)
{
    pthread_mutex_lock(&e->live_mu);
    tacl_status_t st = tacl__err(eb, TACL_ERR_PEER_LOST, TACL_SUB_NET, "rank %d (host %s) lost: %s",
                                 r, eng_host(e, r), e->dead_how[r]);
    pthread_mutex_unlock(&e->live_mu);
    return st;
}

tacl_status_t tacl__engine_isend(tacl__engine_t *e, int dst, const tacl__msg_key_t *key,
                                 const tacl__fp_t *fp, const void *buf, size_t len,
                                 tacl__req_t **req)
{
    TACL_CHECK(eng_check_args(e, "tacl_engine_isend", dst, key, buf, len, req));
    int hop = dst;
    if (dst != e->rank) {
        if (atomic_load(&e->dead[dst])) return eng_lost_err(e, dst, NULL);
        hop = atomic_load(&e->next_hop[dst]);
        if (hop < 0 || !e->links[hop])
            return tacl__err(NULL, TACL_ERR_UNREACHABLE, TACL_SUB_NET,
                             "rank %d cannot send to rank %d (host %s): no direct link and no "
                             "route",
                             e->rank, dst, eng_host(e, dst));
    }
    tacl__req_t *r = eng_req_new(e, 1, dst, key, fp, buf, len);
    if (!r) return TACL_ERR_NOMEM;
    r->link = hop;
    tacl_status_t st = tacl__eng_push(e, r, 0);
    if (st != TACL_OK) {
        free(r);
        return st;
    }
    *req = r;
    return TACL_OK;
}

tacl_status_t tacl__engine_irecv(tacl__engine_t *e, int src, const tacl__msg_key_t *key,
                                 const tacl__fp_t *fp, void *buf, size_t len, tacl__req_t **req)
{
    TACL_CHECK(eng_check_args(e, "tacl_engine_irecv", src, key, buf, len, req));
    tacl__req_t *r = eng_req_new(e, 0, src, key, fp, buf, len);
    if (!r) return TACL_ERR_NOMEM;
    tacl_status_t st = tacl__eng_push(e, r, 0);
    if (st != TACL_OK) {
        free(r);
        return st;
    }
    *req = r;
    return TACL_OK;
}

int tacl__engine_test(tacl__req_t *req)
{
    return atomic_load_explicit(&req->done, memory_order_acquire);
}

static int eng_all_done(tacl__req_t **reqs, int n)
{
    for (int i = 0; i < n; i++)
        if (reqs[i] && !atomic_load_explicit(&reqs[i]->done, memory_order_acquire)) return 0;
    return 1;
}

static void eng_describe(const tacl__engine_t *e, const tacl__req_t *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s rank %d (host %s): %s of %zu bytes (comm %llx, tag %llu, seq %llu)",
             r->is_send ? "sending to" : "waiting for", r->peer, eng_host(e, r->peer),
             r->is_send ? "send" : "receive", r->len, (unsigned long long)r->key.comm_id,
             (unsigned long long)r->key.tag, (unsigned long long)r->key.seq);
}

/* A dead member of the operation or peer of a pending request, or -1. */
static int eng_lost_member(tacl__engine_t *e, tacl__req_t **reqs, int n, const int *group,
                           int gsize)
{
    for (int pass = 0; pass < 2; pass++) {
        int m = pass == 0 ? gsize : n;
        for (int i = 0; i < m; i++) {
            int r;
            if (pass == 0) {
                r = group ? group[i] : -1;
            } else {
                if (!reqs[i] || atomic_load(&reqs[i]->done)) continue;
                r = reqs[i]->peer;
            }
            if (r < 0 || r >= e->size || r == e->rank) continue;
            if (atomic_load(&e->dead[r])) return r;
        }
    }
    return -1;
}

/* The reason the wait cannot finish, or TACL_OK while it still may. */
static tacl_status_t eng_wait_failure(tacl__engine_t *e, tacl__req_t **reqs, int n,
                                      tacl__req_t *const *watch, int nw, const int *group,
                                      int gsize, uint64_t deadline_ns, uint64_t start_ns,
                                      tacl__errbuf_t *eb)
{
    for (int i = 0; i < n; i++) {
        tacl__req_t *r = reqs[i];
        if (r && atomic_load_explicit(&r->done, memory_order_acquire) && r->st != TACL_OK)
            return tacl__err(eb, r->st, TACL_SUB_NET, "%s", r->msg);
    }
    for (int i = 0; i < nw; i++) {
        tacl__req_t *r = watch[i];
        if (r && atomic_load_explicit(&r->done, memory_order_acquire) && r->st != TACL_OK)
            return tacl__err(eb, r->st, TACL_SUB_NET, "%s", r->msg);
    }
    pthread_mutex_lock(&e->live_mu);
    int any_cut = e->cut_how[0] != '\0';
    pthread_mutex_unlock(&e->live_mu);
    /* Checked before deaths: a member that failed on the cut and exited looks dead to the
     * others a moment later, but the cut is the cause worth reporting.
     * A link between two members cut while the operation ran may have dropped its frames
     * (they are not resent over another path): no rank can tell whether its messages will still
     * come, so every member fails now, naming the link, rather than at the deadline. */
    unsigned gen = atomic_load(&e->cut_gen);
    for (int i = 0; any_cut && group && i < n; i++) {
        if (!reqs[i] || atomic_load(&reqs[i]->done) || reqs[i]->cut_gen == gen) continue;
        int in_a = 0, in_b = 0;
        pthread_mutex_lock(&e->live_mu);
        for (int k = 0; k < gsize; k++) {
            in_a |= group[k] == e->cut_a;
            in_b |= group[k] == e->cut_b;
        }
        tacl_status_t st = TACL_OK;
        if (in_a && in_b)
            st = tacl__err(eb, TACL_ERR_UNREACHABLE, TACL_SUB_NET,
                           "rank %d: a link between members of this operation went down while it "
                           "ran: %s",
                           e->rank, e->cut_how);
        pthread_mutex_unlock(&e->live_mu);
        if (st != TACL_OK) return st;
        break;
    }
    int lost = eng_lost_member(e, reqs, n, group, gsize);
    if (lost >= 0) return eng_lost_err(e, lost, eb);
    for (int i = 0; i < n; i++) {
        tacl__req_t *r = reqs[i];
        if (!r || atomic_load(&r->done) || r->peer == e->rank) continue;
        if (!tacl__eng_live_path(e, r->peer)) {
            /* The progress thread may have marked a member dead since the check above: its
             * death, not the path it took with it, is the cause. */
            lost = eng_lost_member(e, reqs, n, group, gsize);
            if (lost >= 0) return eng_lost_err(e, lost, eb);
            /* Say what broke the paths: lost relays and cut links. */
            char why[600];
            size_t used = 0;
            pthread_mutex_lock(&e->live_mu);
            for (int d = 0; d < e->size && used < 400; d++)
                if (atomic_load(&e->dead[d]))
                    used += (size_t)snprintf(why + used, sizeof why - used,
                                             "%srank %d (host %s) lost: %.150s", used ? "; " : "",
                                             d, eng_host(e, d), e->dead_how[d]);
            if (e->cut_how[0] && used < sizeof why - 1)
                snprintf(why + used, sizeof why - used, "%s%.180s", used ? "; " : "", e->cut_how);
            else if (!used)
                snprintf(why, sizeof why, "no direct link and no route");
            tacl_status_t st = tacl__err(eb, TACL_ERR_UNREACHABLE, TACL_SUB_NET,
                                         "rank %d (host %s) is unreachable from rank %d but "
                                         "not known to be lost: %s",
                                         r->peer, eng_host(e, r->peer), e->rank, why);
            pthread_mutex_unlock(&e->live_mu);
            return st;
        }
    }
    /* A member of the operation cut off from this rank (no path of live links) cannot take
     * part, whoever this rank waits for now: fail like for a dead member, naming the link. */
    for (int i = 0; any_cut && group && i < gsize; i++) {
        int r = group[i];
        if (r < 0 || r >= e->size || r == e->rank || tacl__eng_live_path(e, r)) continue;
        lost = eng_lost_member(e, reqs, n, group, gsize);
        if (lost >= 0) return eng_lost_err(e, lost, eb);
        pthread_mutex_lock(&e->live_mu);
        tacl_status_t st = tacl__err(eb, TACL_ERR_UNREACHABLE, TACL_SUB_NET,
                                     "rank %d (host %s), a member of this operation, is cut off "
                                     "from rank %d: %s",
                                     r, eng_host(e, r), e->rank, e->cut_how);
        pthread_mutex_unlock(&e->live_mu);
        return st;
    }
    if (tacl__now_ns() < deadline_ns) return TACL_OK;
    char what[512] = "";
    size_t used = 0;
    int shown = 0, missing = 0;
    for (int i = 0; i < n; i++) {
        tacl__req_t *r = reqs[i];
        if (!r || atomic_load(&r->done)) continue;
        missing++;
        if (shown < 3 && used < sizeof what - 1) {
            char one[200];
            eng_describe(e, r, one, sizeof one);
            used +=
                (size_t)snprintf(what + used, sizeof what - used, "%s%s", shown ? "; " : "", one);
            shown++;
        }
    }
    if (used > sizeof what - 1) used = sizeof what - 1;
    /* Tenths of a second, or milliseconds for a wait under one (0.012 s, not 0.0 s). */
    double waited = (double)(tacl__now_ns() - start_ns) * 1e-9;
    return tacl__err(eb, TACL_ERR_TIMEOUT, TACL_SUB_NET, "rank %d timed out after %.*f s %s%s",
                     e->rank, waited < 0.95 ? 3 : 1, waited, what,
                     missing > shown ? " (and more)" : "");
}

/* Takes the requests back from the progress thread and frees them. */
static void eng_release(tacl__engine_t *e, tacl__req_t **reqs, int n)
{
    int pending = 0;
    for (int i = 0; i < n; i++) {
        tacl__req_t *r = reqs[i];
        if (!r) continue;
        if (atomic_load_explicit(&r->done, memory_order_acquire)) {
            free(r);
            reqs[i] = NULL;
        } else if (tacl__eng_push(e, r, 1) == TACL_OK) {
            pending++;
        } else {
            reqs[i] = NULL; /* cannot cancel: leaked rather than freed under the thread */
        }
    }
    uint64_t deadline = tacl__deadline_ns(5.0);
    for (int i = 0; i < n && pending; i++) {
        tacl__req_t *r = reqs[i];
        if (!r) continue;
        while (!atomic_load_explicit(&r->cancelled, memory_order_acquire) &&
               tacl__now_ns() < deadline)
            usleep(50);
        if (atomic_load_explicit(&r->cancelled, memory_order_acquire))
            free(r);
        else
            TACL_WARN(TACL_SUB_NET, "rank %d: progress thread did not release a request", e->rank);
        reqs[i] = NULL;
    }
}

tacl_status_t tacl__engine_wait(tacl__engine_t *e, tacl__req_t **reqs, int n, uint64_t deadline_ns,
                                const int *group, int group_size, tacl__errbuf_t *eb)
{
    return tacl__engine_wait_watch(e, reqs, n, NULL, 0, deadline_ns, group, group_size, eb);
}

tacl_status_t tacl__engine_wait_watch(tacl__engine_t *e, tacl__req_t **reqs, int n,
                                      tacl__req_t *const *watch, int nw, uint64_t deadline_ns,
                                      const int *group, int group_size, tacl__errbuf_t *eb)
{
    uint64_t start = tacl__now_ns();
    tacl_status_t st = TACL_OK;
    while (!eng_all_done(reqs, n) && tacl__now_ns() - start < ENG_WAIT_SPIN_NS)
        sched_yield();
    while (!eng_all_done(reqs, n)) {
        st = eng_wait_failure(e, reqs, n, watch, nw, group, group_size, deadline_ns, start, eb);
        if (st != TACL_OK) break;
        pthread_mutex_lock(&e->done_mu);
        atomic_fetch_add(&e->waiters, 1);
        if (!eng_all_done(reqs, n)) {
            uint64_t now = tacl__now_ns(), until = now + 100000000ull;
            if (until > deadline_ns) until = deadline_ns > now ? deadline_ns : now;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t abs =
                (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + (until - now);
            ts.tv_sec = (time_t)(abs / 1000000000ull);
            ts.tv_nsec = (long)(abs % 1000000000ull);
            pthread_cond_timedwait(&e->done_cv, &e->done_mu, &ts);
        }
        atomic_fetch_sub(&e->waiters, 1);
        pthread_mutex_unlock(&e->done_mu);
    }
    if (st == TACL_OK) {
        for (int i = 0; i < n; i++)
            if (reqs[i] && reqs[i]->st != TACL_OK) {
                st = tacl__err(eb, reqs[i]->st, TACL_SUB_NET, "%s", reqs[i]->msg);
                break;
            }
    }
    eng_release(e, reqs, n);
    return st;
}

tacl_status_t tacl__engine_abort_op(tacl__engine_t *e, const int *group, int n, uint64_t comm_id,
                                    uint64_t seq, tacl_status_t st, const char *msg,
                                    uint64_t deadline_ns)
{
    size_t tl = strlen(msg);
    if (tl > 380) tl = 380;
    uint8_t *pay = malloc(sizeof(int32_t) + tl);
    tacl__req_t **reqs = calloc((size_t)n, sizeof *reqs);
    if (!pay || !reqs) {
        free(pay);
        free(reqs);
        return TACL_ERR_NOMEM;
    }
    int32_t st32 = (int32_t)st;
    memcpy(pay, &st32, sizeof st32);
    memcpy(pay + sizeof st32, msg, tl);
    tacl__msg_key_t key = {comm_id, TACL_ENGINE_ABORT_TAG, seq};
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (group[i] == e->rank || !tacl__engine_peer_alive(e, group[i])) continue;
        if (tacl__engine_isend(e, group[i], &key, NULL, pay, sizeof st32 + tl, &reqs[k]) == TACL_OK)
            k++;
    }
    TACL_INFO(TACL_SUB_NET, "rank %d: telling %d rank(s) that operation %llu of comm %llx failed",
              e->rank, k, (unsigned long long)seq, (unsigned long long)comm_id);
    tacl__errbuf_t eb;
    tacl_status_t ws = tacl__engine_wait(e, reqs, k, deadline_ns, NULL, 0, &eb);
    free(reqs);
    free(pay);
    return ws;
}
