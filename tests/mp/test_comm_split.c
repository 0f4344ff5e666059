/* test_comm_split.c — tacl_comm_split: MPI_Comm_split semantics (color groups, ordering by key
 * then old rank, negative color opts out) and split communicators used concurrently from
 * different threads, each checked for correct values. */
#include "check.h"
#include "mp_world.h"

#include <pthread.h>

typedef struct {
    tacl_comm_t *c;
    int expect_size;
    int ok;
} split_job_t;

static void *split_worker(void *arg)
{
    split_job_t *j = arg;
    int me = tacl_comm_rank(j->c), n = tacl_comm_size(j->c);
    j->ok = n == j->expect_size;
    for (int it = 0; it < 200 && j->ok; it++) {
        int64_t v[33];
        for (int i = 0; i < 33; i++)
            v[i] = me + it + i;
        if (tacl_all_reduce(j->c, v, v, 33, TACL_INT64, TACL_SUM) != TACL_OK) {
            fprintf(stderr, "split worker: %s\n", tacl_comm_last_error(j->c));
            j->ok = 0;
            break;
        }
        for (int i = 0; i < 33; i++)
            if (v[i] != (int64_t)n * (n - 1) / 2 + (int64_t)n * (it + i)) j->ok = 0;
    }
    return NULL;
}

static int split_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    /* Parity groups, ordered by descending world rank (key = -rank). */
    tacl_comm_t *par, *half, *none;
    CHECK_OK(tacl_comm_split(w, me % 2, -me, &par));
    CHECK(par != NULL);
    int psize = (n + 1 - me % 2) / 2;
    CHECK(tacl_comm_size(par) == psize);
    /* Highest world rank of my parity is rank 0 of par. */
    CHECK(tacl_comm_world_rank(par, 0) == (n - 1 - (n - 1 - me % 2) % 2));
    CHECK_OK(tacl_comm_split(w, me < n / 2, 0, &half));
    CHECK_OK(tacl_comm_split(w, me == 0 ? 0 : -1, 0, &none));
    CHECK((me == 0) == (none != NULL));
    /* Both new communicators busy at once from two threads. */
    split_job_t a = {par, psize, 0}, b = {half, me < n / 2 ? n / 2 : n - n / 2, 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, split_worker, &a);
    pthread_create(&tb, NULL, split_worker, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(a.ok && b.ok);
    /* Split of a split. */
    tacl_comm_t *sub;
    CHECK_OK(tacl_comm_split(par, 0, 0, &sub));
    CHECK(tacl_comm_size(sub) == psize);
    tacl_comm_destroy(sub);
    if (none) tacl_comm_destroy(none);
    tacl_comm_destroy(half);
    tacl_comm_destroy(par);
    return 0;
}

int main(void)
{
    mpw_opts_t one = {.timeout_s = 90};
    CHECK(mpw_run(5, split_body, NULL, &one) == 0);
    mpw_opts_t hosts = {.timeout_s = 90, .host_ids = "h0,h0,h1,h1,h2,h2"};
    CHECK(mpw_run(6, split_body, NULL, &hosts) == 0);
    printf("test_comm_split: ok\n");
    return 0;
}
