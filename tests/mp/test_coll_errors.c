/* test_coll_errors.c — what a collective says when it cannot do its job, on one host (shared
 * memory) and across fake hosts (tcp): invalid arguments (TACL_ERR_INVALID before anything is
 * sent), mismatched calls (TACL_ERR_MISMATCH on every rank with both fingerprints), a rank
 * that does not arrive (TACL_ERR_TIMEOUT naming it), and a rank killed mid-operation
 * (TACL_ERR_PEER_LOST naming it, within seconds). */
#include "check.h"
#include "clock.h"
#include "mp_world.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static int invalid_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    float x[4] = {0};
    CHECK_ST(tacl_all_reduce(w, NULL, x, 4, TACL_FLOAT32, TACL_SUM), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "NULL send buffer");
    CHECK_ST(tacl_all_reduce(w, x, x, 4, (tacl_dtype_t)77, TACL_SUM), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "unknown dtype 77");
    CHECK_ST(tacl_all_reduce(w, x, x, 4, TACL_FLOAT32, (tacl_op_t)9), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "unknown reduction op 9");
    CHECK_ST(tacl_broadcast(w, x, x, 4, TACL_FLOAT32, 5), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "root 5 out of range (communicator size 2)");
    CHECK_ST(tacl_send(w, x, 1, TACL_FLOAT32, tacl_comm_rank(w), 0), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_comm_last_error(w), "not another rank");
    CHECK_ST(tacl_all_reduce(NULL, x, x, 4, TACL_FLOAT32, TACL_SUM), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "NULL communicator");
    /* NULL with count 0 is fine, and the communicator still works after rejected calls. */
    CHECK_OK(tacl_all_reduce(w, NULL, NULL, 0, TACL_FLOAT32, TACL_SUM));
    x[0] = 1;
    CHECK_OK(tacl_all_reduce(w, x, x, 1, TACL_FLOAT32, TACL_SUM));
    CHECK(x[0] == 2.0f);
    return 0;
}

static int mismatch_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w);
    float x[16] = {0};
    tacl_status_t st = tacl_all_reduce(w, x, x, me == 1 ? 16 : 8, TACL_FLOAT32, TACL_SUM);
    CHECK_ST(st, TACL_ERR_MISMATCH);
    const char *m = tacl_comm_last_error(w);
    CHECK_CONTAINS(m, "all_reduce(count=16");
    CHECK_CONTAINS(m, "all_reduce(count=8");
    /* op mismatch on the next call */
    st = tacl_all_reduce(w, x, x, 8, TACL_FLOAT32, me == 0 ? TACL_MAX : TACL_SUM);
    CHECK_ST(st, TACL_ERR_MISMATCH);
    CHECK_CONTAINS(tacl_comm_last_error(w), "max");
    return 0;
}

static int timeout_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w);
    float x[4] = {1, 2, 3, 4};
    tacl_comm_set_timeout(w, 1.0);
    if (me == 1) {
        sleep(3); /* never calls the collective in time */
        return 0;
    }
    uint64_t t0 = tacl_now_ns();
    CHECK_ST(tacl_all_reduce(w, x, x, 4, TACL_FLOAT32, TACL_SUM), TACL_ERR_TIMEOUT);
    double el = (double)(tacl_now_ns() - t0) * 1e-9;
    CHECK(el >= 0.9 && el < 2.9);
    CHECK_CONTAINS(tacl_comm_last_error(w), "rank 1");
    return 0;
}

static int peer_lost_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    size_t count = 1 << 16;
    float *x = calloc(count, sizeof *x);
    CHECK(x);
    CHECK_OK(tacl_all_reduce(w, x, x, count, TACL_FLOAT32, TACL_SUM));
    /* Everyone has finished that operation (met through the store, not the links) before the
     * last rank dies: the death falls between operations for no one. */
    tacl_store_t *store = tacl_comm_store(w);
    int64_t arrived = 0;
    CHECK_OK(tacl_store_add(store, "peer-lost-sync", 1, &arrived));
    if (arrived == n) CHECK_OK(tacl_store_set(store, "peer-lost-go", "1", 1));
    const char *go[] = {"peer-lost-go"};
    CHECK_OK(tacl_store_wait(store, go, 1));
    if (me == n - 1) raise(SIGKILL);
    uint64_t t0 = tacl_now_ns();
    tacl_status_t st = TACL_OK;
    for (int i = 0; i < 100 && st == TACL_OK; i++)
        st = tacl_all_reduce(w, x, x, count, TACL_FLOAT32, TACL_SUM);
    double el = (double)(tacl_now_ns() - t0) * 1e-9;
    CHECK_ST(st, TACL_ERR_PEER_LOST);
    char want[32];
    snprintf(want, sizeof want, "rank %d", n - 1);
    CHECK_CONTAINS(tacl_comm_last_error(w), want);
    CHECK(el < 10.0);
    /* The communicator stays broken, with the same status. */
    CHECK_ST(tacl_all_reduce(w, x, x, count, TACL_FLOAT32, TACL_SUM), TACL_ERR_PEER_LOST);
    free(x);
    return 0;
}

/* ---- Calls the ranks disagree on (every collective path; argv selects the configuration). ----
 * Every rank must fail within seconds (TACL_TIMEOUT is 60 s), with TACL_ERR_MISMATCH naming the
 * rank and field that differ (the rank that rejected its own call: TACL_ERR_INVALID), and the
 * next matched call must give right values on every rank. */

/* Checks one disagreed call on this rank, then a matched all_reduce on the same communicator. */
static void agree_check(tacl_comm_t *w, const char *name, tacl_status_t st, tacl_status_t want,
                        uint64_t t0, const char *const *subs)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    double el = (double)(tacl_now_ns() - t0) * 1e-9;
    const char *msg = tacl_comm_last_error(w);
    if (st != want) {
        fprintf(stderr, "%s: rank %d got %s after %.2f s, expected %s: %s\n", name, me,
                tacl_status_name(st), el, tacl_status_name(want), msg);
        exit(1);
    }
    for (int i = 0; subs[i]; i++)
        if (!strstr(msg, subs[i])) {
            fprintf(stderr, "%s: rank %d: \"%s\" does not contain \"%s\"\n", name, me, msg,
                    subs[i]);
            exit(1);
        }
    if (el >= 10.0) {
        fprintf(stderr, "%s: rank %d took %.2f s to fail\n", name, me, el);
        exit(1);
    }
    if (me == 0 || me == 1) printf("%s: rank %d, %.3f s: %s\n", name, me, el, msg);
    float v[3] = {(float)(me + 1), (float)(2 * (me + 1)), 3.0f};
    tacl_status_t nst = tacl_all_reduce(w, v, v, 3, TACL_FLOAT32, TACL_SUM);
    float sum = (float)(n * (n + 1) / 2);
    if (nst != TACL_OK || v[0] != sum || v[1] != 2 * sum || v[2] != 3.0f * (float)n) {
        fprintf(stderr,
                "%s: rank %d: the next all_reduce gave %s, %g %g %g (expected %g %g %g): %s\n",
                name, me, tacl_status_name(nst), v[0], v[1], v[2], sum, 2 * sum, 3.0 * n,
                tacl_comm_last_error(w));
        exit(1);
    }
}

static int agree_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    float *a = calloc((size_t)n * 8, sizeof *a), *b = calloc((size_t)n * 8, sizeof *b);
    CHECK(a && b);
    for (int i = 0; i < n * 8; i++)
        a[i] = (float)(me * 100 + i);
    int root = me == 1 ? 1 : 0; /* rank 1 disagrees on the root */
    const char *roots[] = {"rank 1", "root=1", "root=0", "roots differ", NULL};
    uint64_t t0 = tacl_now_ns();
    agree_check(w, "broadcast root", tacl_broadcast(w, a, b, 4, TACL_FLOAT32, root),
                TACL_ERR_MISMATCH, t0, roots);
    t0 = tacl_now_ns();
    agree_check(w, "scatter root", tacl_scatter(w, a, b, 4, TACL_FLOAT32, root), TACL_ERR_MISMATCH,
                t0, roots);
    t0 = tacl_now_ns();
    agree_check(w, "reduce root", tacl_reduce(w, a, b, 4, TACL_FLOAT32, TACL_SUM, root),
                TACL_ERR_MISMATCH, t0, roots);
    t0 = tacl_now_ns();
    agree_check(w, "gather root", tacl_gather(w, a, b, 4, TACL_FLOAT32, root), TACL_ERR_MISMATCH,
                t0, roots);

    /* Rank 0 broadcasts while the others all_reduce. */
    const char *kinds[] = {"rank 0", "broadcast(count=4", "all_reduce(count=4",
                           "different collectives", NULL};
    t0 = tacl_now_ns();
    tacl_status_t st = me == 0 ? tacl_broadcast(w, a, a, 4, TACL_FLOAT32, 0)
                               : tacl_all_reduce(w, a, b, 4, TACL_FLOAT32, TACL_SUM);
    agree_check(w, "broadcast vs all_reduce", st, TACL_ERR_MISMATCH, t0, kinds);
    /* The last rank barriers while the others all_to_all. */
    const char *kinds2[] = {"barrier(", "all_to_all(count=2", "different collectives", NULL};
    t0 = tacl_now_ns();
    st = me == n - 1 ? tacl_barrier(w) : tacl_all_to_all(w, a, b, 2, TACL_FLOAT32);
    agree_check(w, "barrier vs all_to_all", st, TACL_ERR_MISMATCH, t0, kinds2);

    /* Count, dtype and op. */
    const char *counts[] = {"all_reduce(count=8", "all_reduce(count=4", "counts differ", NULL};
    t0 = tacl_now_ns();
    st = tacl_all_reduce(w, a, b, me == n - 1 ? 8 : 4, TACL_FLOAT32, TACL_SUM);
    agree_check(w, "all_reduce count", st, TACL_ERR_MISMATCH, t0, counts);
    const char *dtypes[] = {"all_gather(count=2, int32", "all_gather(count=2, float,",
                            "dtypes differ", NULL};
    t0 = tacl_now_ns();
    st = tacl_all_gather(w, a, b, 2, me == 1 ? TACL_INT32 : TACL_FLOAT32);
    agree_check(w, "all_gather dtype", st, TACL_ERR_MISMATCH, t0, dtypes);
    const char *ops[] = {"max", "sum", "reduction ops differ", NULL};
    t0 = tacl_now_ns();
    st = tacl_reduce_scatter(w, a, b, 2, TACL_FLOAT32, me == 0 ? TACL_MAX : TACL_SUM);
    agree_check(w, "reduce_scatter op", st, TACL_ERR_MISMATCH, t0, ops);

    /* One rank rejects its own call: it says why, the others name it. */
    const char *null_self[] = {"NULL send buffer", NULL};
    const char *null_other[] = {"rank 1", "an invalid all_reduce(count=4", NULL};
    t0 = tacl_now_ns();
    st = tacl_all_reduce(w, me == 1 ? NULL : a, b, 4, TACL_FLOAT32, TACL_SUM);
    agree_check(w, "NULL buffer on rank 1", st, me == 1 ? TACL_ERR_INVALID : TACL_ERR_MISMATCH, t0,
                me == 1 ? null_self : null_other);
    const char *root_self[] = {"root 99 out of range", NULL};
    const char *root_other[] = {"rank 1", "an invalid broadcast(count=4", NULL};
    t0 = tacl_now_ns();
    st = tacl_broadcast(w, a, b, 4, TACL_FLOAT32, me == 1 ? 99 : 0);
    agree_check(w, "bad root on rank 1", st, me == 1 ? TACL_ERR_INVALID : TACL_ERR_MISMATCH, t0,
                me == 1 ? root_self : root_other);
    free(a);
    free(b);
    printf("rank %d: every disagreement failed on every rank; the communicator still works\n", me);
    return 0;
}

static void run_case(const char *name, int n, mpw_body_t body, const char *hosts, int expect_kill)
{
    mpw_opts_t o = {.timeout_s = 60, .host_ids = hosts, .env = "TACL_TIMEOUT=20"};
    int rc = mpw_run(n, body, NULL, &o);
    if (expect_kill) {
        for (int r = 0; r < n - 1; r++)
            if (mpw_rank_status(r) != 0) {
                fprintf(stderr, "%s: rank %d failed\n", name, r);
                exit(1);
            }
        CHECK(mpw_rank_signal(n - 1) == SIGKILL);
    } else if (rc != 0) {
        fprintf(stderr, "%s: failed (%d)\n", name, rc);
        exit(1);
    }
    printf("%s (%s): ok\n", name, hosts ? hosts : "one host");
}

/* argv: "agree N [HOSTS]" runs the disagreement cases on N ranks (HOSTS: fake host ids; the
 * test's environment picks TACL_SHM_DISABLE and TACL_ALGO); "agree-rank" runs them as one rank
 * of a job launched by others (the netns test); no arguments: every other case. */
int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "agree-rank")) {
        tacl_comm_t *w;
        tacl_status_t st = tacl_init(&w);
        if (st != TACL_OK) {
            fprintf(stderr, "tacl_init: %s: %s\n", tacl_status_name(st), tacl_last_error());
            return 3;
        }
        int rc = agree_body(w, NULL);
        tacl_comm_destroy(w);
        return rc;
    }
    if (argc >= 3 && !strcmp(argv[1], "agree")) {
        mpw_opts_t o = {
            .timeout_s = 100, .host_ids = argc > 3 ? argv[3] : NULL, .env = "TACL_TIMEOUT=60"};
        int rc = mpw_run(atoi(argv[2]), agree_body, NULL, &o);
        if (rc != 0) {
            fprintf(stderr, "agree: failed (%d)\n", rc);
            return 1;
        }
        printf("agree on %s ranks (%s): ok\n", argv[2], argc > 3 ? argv[3] : "one host");
        return 0;
    }

    const char *two = "hA,hB", *three = "hA,hB,hC", *four = "hA,hA,hB,hB";
    run_case("invalid", 2, invalid_body, NULL, 0);
    run_case("invalid", 2, invalid_body, two, 0);
    run_case("mismatch", 2, mismatch_body, NULL, 0);
    run_case("mismatch", 2, mismatch_body, two, 0);
    run_case("mismatch", 3, mismatch_body, three, 0);
    run_case("timeout", 3, timeout_body, NULL, 0);
    run_case("timeout", 3, timeout_body, three, 0);
    run_case("peer_lost", 3, peer_lost_body, NULL, 1);
    run_case("peer_lost", 3, peer_lost_body, three, 1);
    run_case("peer_lost", 4, peer_lost_body, four, 1);
    return 0;
}
