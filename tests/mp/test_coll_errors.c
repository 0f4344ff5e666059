/* test_coll_errors.c — what a collective says when it cannot do its job, on one host (shared
 * memory) and across fake hosts (tcp): invalid arguments (TACL_ERR_INVALID before anything is
 * sent), mismatched calls (TACL_ERR_MISMATCH on every rank with both fingerprints), a rank
 * that does not arrive (TACL_ERR_TIMEOUT naming it), and a rank killed mid-operation
 * (TACL_ERR_PEER_LOST naming it, within seconds). */
#include "check.h"
#include "clock.h"
#include "mp_world.h"

#include <signal.h>
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

int main(void)
{
    const char *two = "hA,hB", *three = "hA,hB,hC", *four = "hA,hA,hB,hB";
    run_case("invalid", 2, invalid_body, NULL, 0);
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
