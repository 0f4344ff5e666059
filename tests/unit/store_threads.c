/* store_threads.c — many clients on threads of one process against one server: add is atomic
 * under contention (N clients x M adds = exact total), every thread's key is read back by
 * every other thread (blocking gets parked at the server until the owner sets it), and
 * compare_set elects exactly one winner. */
#include "boot/store_int.h"
#include "check.h"

#include <pthread.h>

#define THR_N 16
#define THR_M 300

static int thr_port;
static int thr_wins;
static pthread_mutex_t thr_mu = PTHREAD_MUTEX_INITIALIZER;

static void *thr_main(void *p)
{
    int me = (int)(intptr_t)p;
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", thr_port, 10, &st));
    tacl_store_set_timeout(st, 20);
    /* Readers first: even threads ask for odd threads' keys before those exist. */
    char key[32], val[64];
    for (int i = 0; i < THR_N; i++) {
        int peer = (me + i) % THR_N;
        if (me % 2 == 0 && peer % 2 == 1) {
            snprintf(key, sizeof key, "thr/%d", peer);
            void *v;
            size_t len;
            CHECK_OK(tacl_store_get(st, key, &v, &len));
            snprintf(val, sizeof val, "value of thread %d", peer);
            CHECK(len == strlen(val) && !strcmp(v, val));
            tacl_free(v);
        }
    }
    snprintf(key, sizeof key, "thr/%d", me);
    snprintf(val, sizeof val, "value of thread %d", me);
    CHECK_OK(tacl_store_set(st, key, val, strlen(val)));
    for (int i = 0; i < THR_M; i++) {
        int64_t n;
        CHECK_OK(tacl_store_add(st, "thr/ctr", 1, &n));
        CHECK(n >= 1 && n <= THR_N * THR_M);
    }
    /* Exactly one thread wins the election. */
    void *v;
    size_t len;
    char mine[16];
    snprintf(mine, sizeof mine, "%d", me);
    CHECK_OK(tacl_store_compare_set(st, "thr/leader", "", 0, mine, strlen(mine), &v, &len));
    if (!strcmp(v, mine)) {
        pthread_mutex_lock(&thr_mu);
        thr_wins++;
        pthread_mutex_unlock(&thr_mu);
    }
    tacl_free(v);
    /* Everyone's key, in one request. */
    char keys[THR_N][32];
    const char *kp[THR_N];
    for (int i = 0; i < THR_N; i++) {
        snprintf(keys[i], sizeof keys[i], "thr/%d", i);
        kp[i] = keys[i];
    }
    void *vals[THR_N];
    size_t lens[THR_N];
    CHECK_OK(boot_store_multi_get(st, kp, THR_N, vals, lens));
    for (int i = 0; i < THR_N; i++) {
        snprintf(val, sizeof val, "value of thread %d", i);
        CHECK(lens[i] == strlen(val) && !strcmp(vals[i], val));
        tacl_free(vals[i]);
    }
    tacl_store_close(st);
    return NULL;
}

int main(void)
{
    tacl_store_server_t *srv;
    CHECK_OK(tacl_store_server_start("127.0.0.1", 0, &srv));
    thr_port = tacl_store_server_port(srv);
    pthread_t t[THR_N];
    for (int i = 0; i < THR_N; i++)
        CHECK(pthread_create(&t[i], NULL, thr_main, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < THR_N; i++)
        pthread_join(t[i], NULL);
    tacl_store_t *st;
    CHECK_OK(tacl_store_connect("127.0.0.1", thr_port, 5, &st));
    void *v;
    size_t len;
    CHECK_OK(tacl_store_get(st, "thr/ctr", &v, &len));
    char want[32];
    snprintf(want, sizeof want, "%d", THR_N * THR_M);
    CHECK(!strcmp(v, want));
    tacl_free(v);
    CHECK(thr_wins == 1);
    int64_t n;
    CHECK_OK(tacl_store_num_keys(st, &n));
    CHECK(n == THR_N + 2);
    tacl_store_close(st);
    tacl_store_server_stop(srv);
    printf("store_threads: ok (%d clients x %d adds)\n", THR_N, THR_M);
    return 0;
}
