/* scale_sim.c — tacl's init protocol for thousands of ranks on this one machine: the real
 * boot code (boot_world_join, the store all-gathers and barrier of store_coll.c, the leave
 * barrier of src/coll/world.c and boot_world_leave) against the real store server, with the
 * transport replaced. Ranks are threads, hosts are host ids (ranks r*l .. r*l+l-1 share one),
 * and the engine is played by what it exchanges through the store: its cards (listening
 * addresses; either all-gathered, as the engine does today, or fetched for the peers a rank
 * connects to), the verdicts of the probe spread over a host's ranks (scale_model.h: each
 * pair of hosts probed by one pair of ranks, the engine's plan), its outcome, and the barrier
 * after routes. Probe partners are counted by that plan (the engine opens a test connection
 * each way per partner and closes it once answered), not opened.
 *
 * Per phase it prints the store's requests, bytes in and out, connections accepted and CPU
 * time, the probe connections per rank, the wall time here, and a modelled time on a cluster:
 * max(store CPU, bytes out / NIC bandwidth) + round trips x RTT (+ the probe's handshakes).
 * The store's CPU time is measured on this machine (its thread's CPU clock), so it holds
 * whatever else shares the cores; the ranks' own work runs in parallel on real hosts.
 *
 *   bench_scale_sim [--ranks N] [--hosts H] [--rtt-us U] [--nic-gbps G] [--cards all|peers]
 *                   [--check]
 *
 * Defaults: 4096 ranks, 512 hosts, 100 us, 10 Gb/s, peers. --check compares the requests and
 * connections with scale_model.h and the probe connections per rank with the plan's bound,
 * and exits 1 on a difference (CTest runs a small instance). */
#include "boot/store_coll.h"
#include "boot/store_int.h"
#include "boot/world.h"
#include "clock.h"
#include "scale_model.h"
#include "settings.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define SIM_CARD_BYTES 344 /* the engine's card: nonce, pid, status, 8 addresses of 40 bytes */
#define SIM_TIMEOUT_S  300.0

enum { PH_JOIN, PH_CARDS, PH_PROBE, PH_GRAPH, PH_OUTCOME, PH_ROUTES, PH_LEAVE, PH_COUNT };
static const char *const sim_phase_name[PH_COUNT] = {"join",    "cards",          "probe", "graph",
                                                     "outcome", "routes barrier", "leave"};
/* Round trips on each phase's critical path (see scale_model.h for the requests). */
static const int sim_rounds[PH_COUNT] = {7, 2, 3, 5, 5, 5, 4};

static int sim_n = 4096, sim_h = 512, sim_l, sim_port, sim_cards_all;
static pthread_barrier_t sim_bar;
static int *sim_conns;  /* probe + first-collective connections per rank */
static int *sim_failed; /* 1: the rank's protocol failed (its message was printed) */

static void sim_sync(void)
{
    pthread_barrier_wait(&sim_bar);
    pthread_barrier_wait(&sim_bar);
}

static void sim_fail(int r, const char *what, const char *msg)
{
    if (!sim_failed[r]) fprintf(stderr, "scale_sim: rank %d: %s: %s\n", r, what, msg);
    sim_failed[r] = 1;
}

/* Peers rank r connects to at init: its probe partners and, for a host leader, its
 * neighbours in the host leaders' ring. peers has room for sim_h + 2; returns the count. */
static int sim_peers(int r, int *peers)
{
    int a = r / sim_l, i = r % sim_l, k = 0;
    for (int b = 0; b < sim_h; b++) {
        if (b == a) continue;
        int fl, tl;
        scale_model_probe_pair(a, b, sim_l, &fl, &tl);
        if ((a < b ? fl : tl) == i) peers[k++] = b * sim_l + (a < b ? tl : fl);
    }
    if (i == 0 && sim_h > 1) {
        int ring[2] = {((a + 1) % sim_h) * sim_l, ((a + sim_h - 1) % sim_h) * sim_l};
        for (int j = 0; j < 2; j++) {
            int dup = 0;
            for (int q = 0; q < k; q++)
                dup |= peers[q] == ring[j];
            if (!dup) peers[k++] = ring[j];
        }
    }
    return k;
}

static void sim_cards(boot_world_t *w, int r)
{
    uint8_t card[SIM_CARD_BYTES];
    memset(card, 0, sizeof card);
    memcpy(card, &r, sizeof r);
    tacl__errbuf_t eb = {{0}};
    if (sim_cards_all) {
        uint8_t *all = malloc((size_t)sim_n * SIM_CARD_BYTES);
        if (!all) return sim_fail(r, "cards", "out of memory");
        if (tacl__xchg_allgather(&w->xchg, card, sizeof card, all, &eb) != TACL_OK)
            sim_fail(r, "cards", eb.msg);
        for (int q = 0; q < sim_n && !sim_failed[r]; q++)
            if (memcmp(all + (size_t)q * SIM_CARD_BYTES, &q, sizeof q))
                sim_fail(r, "cards", "a card holds another rank");
        free(all);
        return;
    }
    char key[sizeof w->prefix + 32];
    snprintf(key, sizeof key, "%scard/%d", w->prefix, r);
    if (tacl_store_set(w->store, key, card, sizeof card) != TACL_OK)
        return sim_fail(r, "cards", tacl_store_last_error(w->store));
    int *peers = malloc(((size_t)sim_h + 2) * sizeof *peers);
    int np = peers ? sim_peers(r, peers) : 0;
    char *kb = malloc((size_t)(np ? np : 1) * sizeof key);
    const char **keys = malloc((size_t)(np ? np : 1) * sizeof *keys);
    void **vals = malloc((size_t)(np ? np : 1) * sizeof *vals);
    size_t *lens = malloc((size_t)(np ? np : 1) * sizeof *lens);
    if (!peers || !kb || !keys || !vals || !lens) {
        sim_fail(r, "cards", "out of memory");
    } else {
        for (int k = 0; k < np; k++) {
            snprintf(kb + k * sizeof key, sizeof key, "%scard/%d", w->prefix, peers[k]);
            keys[k] = kb + k * sizeof key;
        }
        if (boot_store_multi_get(w->store, keys, (size_t)np, vals, lens) != TACL_OK) {
            sim_fail(r, "cards", tacl_store_last_error(w->store));
        } else {
            for (int k = 0; k < np; k++) {
                if (lens[k] != SIM_CARD_BYTES || memcmp(vals[k], &peers[k], sizeof peers[k]))
                    sim_fail(r, "cards", "a peer's card holds another rank");
                tacl_free(vals[k]);
            }
        }
    }
    free(peers);
    free(kb);
    free(keys);
    free(vals);
    free(lens);
}

/* The probe verdicts: rank (a, i) reports the hosts t = i, i + l, ... (t != a) it probed or
 * was probed from; every rank assembles the host matrix and checks that every pair was seen
 * from both ends. */
static void sim_graph(boot_world_t *w, int r)
{
    size_t s = (size_t)(sim_h + sim_l - 1) / (size_t)sim_l;
    uint8_t *mine = calloc(s, 1), *all = malloc((size_t)sim_n * s);
    uint8_t *m = calloc((size_t)sim_h * (size_t)sim_h, 1);
    tacl__errbuf_t eb = {{0}};
    if (!mine || !all || !m) {
        sim_fail(r, "graph", "out of memory");
        goto out;
    }
    int a = r / sim_l, i = r % sim_l;
    for (int t = i; t < sim_h; t += sim_l)
        mine[t / sim_l] = t != a;
    if (tacl__xchg_allgather(&w->xchg, mine, s, all, &eb) != TACL_OK) {
        sim_fail(r, "graph", eb.msg);
        goto out;
    }
    for (int q = 0; q < sim_n; q++)
        for (int t = q % sim_l; t < sim_h; t += sim_l)
            m[(size_t)(q / sim_l) * (size_t)sim_h + (size_t)t] =
                all[(size_t)q * s + (size_t)t / (size_t)sim_l];
    for (int x = 0; x < sim_h && !sim_failed[r]; x++)
        for (int y = 0; y < sim_h; y++)
            if (x != y && (!m[(size_t)x * sim_h + y] || !m[(size_t)y * sim_h + x])) {
                sim_fail(r, "graph", "a pair of hosts is missing from the verdicts");
                break;
            }
out:
    free(mine);
    free(all);
    free(m);
}

/* The leave barrier of src/coll/world.c (world_quiesce), then boot_world_leave. */
static void sim_leave(boot_world_t *w, int r)
{
    char nkey[sizeof w->prefix + 16], gokey[sizeof w->prefix + 16];
    snprintf(nkey, sizeof nkey, "%sleave/n", w->prefix);
    snprintf(gokey, sizeof gokey, "%sleave/go", w->prefix);
    int64_t arrived = 0;
    tacl_status_t st = tacl_store_add(w->store, nkey, 1, &arrived);
    if (st == TACL_OK && arrived >= sim_n) st = tacl_store_set(w->store, gokey, "1", 1);
    const char *keys[] = {gokey};
    uint64_t deadline = tacl__deadline_ns(SIM_TIMEOUT_S);
    tacl_store_set_timeout(w->store, 1.0);
    while (st == TACL_OK && arrived < sim_n) {
        st = tacl_store_wait(w->store, keys, 1);
        if (st == TACL_ERR_TIMEOUT && tacl__now_ns() < deadline)
            st = TACL_OK;
        else
            break;
    }
    if (st != TACL_OK) sim_fail(r, "leave", tacl_store_last_error(w->store));
    boot_world_leave(w);
}

static void *sim_rank(void *arg)
{
    int r = (int)(intptr_t)arg;
    char hid[64];
    snprintf(hid, sizeof hid, "sim-host-%d", r / sim_l);
    tacl_bootstrap_t bs = {
        .launcher = TACL_LAUNCHER_EXPLICIT, .rank = r, .size = sim_n, .master_port = sim_port};
    snprintf(bs.master_addr, sizeof bs.master_addr, "127.0.0.1");
    snprintf(bs.run_id, sizeof bs.run_id, "sim");
    boot_world_t *w = calloc(1, sizeof *w);
    tacl__errbuf_t eb = {{0}};
    sim_sync(); /* start */
    if (!w || boot_world_join(&bs, hid, SIM_TIMEOUT_S, w, &eb) != TACL_OK) {
        sim_fail(r, "join", w ? eb.msg : "out of memory");
        free(w);
        w = NULL;
    }
    sim_sync();
    if (w) sim_cards(w, r);
    sim_sync();
    int *peers = malloc(((size_t)sim_h + 2) * sizeof *peers);
    sim_conns[r] = peers ? sim_peers(r, peers) : 0;
    free(peers);
    sim_sync();
    if (w && !sim_failed[r]) sim_graph(w, r);
    sim_sync();
    int32_t outcome = sim_failed[r];
    int32_t *all = malloc((size_t)sim_n * sizeof *all);
    if (w && all && !sim_failed[r] &&
        tacl__xchg_allgather(&w->xchg, &outcome, sizeof outcome, all, &eb) != TACL_OK)
        sim_fail(r, "outcome", eb.msg);
    free(all);
    sim_sync();
    if (w && !sim_failed[r] && boot_store_barrier(&w->xctx, &eb) != TACL_OK)
        sim_fail(r, "routes barrier", eb.msg);
    sim_sync();
    if (w) sim_leave(w, r);
    free(w);
    sim_sync();
    return NULL;
}

typedef struct {
    double wall_s;
    boot_store_stats_t d;
} sim_phase_t;

int main(int argc, char **argv)
{
    double rtt_us = 100, nic_gbps = 10;
    int check = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--check")) {
            check = 1;
        } else if (v && !strcmp(a, "--ranks")) {
            sim_n = atoi(v), i++;
        } else if (v && !strcmp(a, "--hosts")) {
            sim_h = atoi(v), i++;
        } else if (v && !strcmp(a, "--rtt-us")) {
            rtt_us = atof(v), i++;
        } else if (v && !strcmp(a, "--nic-gbps")) {
            nic_gbps = atof(v), i++;
        } else if (v && !strcmp(a, "--cards")) {
            sim_cards_all = !strcmp(v, "all"), i++;
        } else {
            fprintf(stderr,
                    "usage: bench_scale_sim [--ranks N] [--hosts H] [--rtt-us U] [--nic-gbps G] "
                    "[--cards all|peers] [--check]\n");
            return 2;
        }
    }
    if (sim_n < 2 || sim_h < 1 || sim_n % sim_h || sim_n > TACL_WORLD_SIZE_MAX) {
        fprintf(stderr, "scale_sim: ranks must be 2..%d and a multiple of hosts\n",
                TACL_WORLD_SIZE_MAX);
        return 2;
    }
    sim_l = sim_n / sim_h;
    setenv("TACL_STORE_TOKEN", "scale-sim-secret", 0);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(2 * sim_n + 64)) {
        fprintf(stderr, "scale_sim: needs %d descriptors, the limit is %llu (skipped)\n",
                2 * sim_n + 64, (unsigned long long)rl.rlim_cur);
        return 77;
    }
    (void)tacl__setting_dbl(TACL_SET_STORE_TIMEOUT); /* settings read once, before threads */
    tacl_store_server_t *srv;
    if (boot_store_server_start("127.0.0.1", 0, &srv, NULL) != TACL_OK) {
        fprintf(stderr, "scale_sim: cannot start the store: %s\n", tacl_last_error());
        return 1;
    }
    sim_port = tacl_store_server_port(srv);
    sim_conns = calloc((size_t)sim_n, sizeof *sim_conns);
    sim_failed = calloc((size_t)sim_n, sizeof *sim_failed);
    pthread_t *th = calloc((size_t)sim_n, sizeof *th);
    if (!sim_conns || !sim_failed || !th) return 1;
    pthread_barrier_init(&sim_bar, NULL, (unsigned)sim_n + 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    for (int r = 0; r < sim_n; r++)
        if (pthread_create(&th[r], &attr, sim_rank, (void *)(intptr_t)r) != 0) {
            fprintf(stderr, "scale_sim: cannot start thread %d\n", r);
            return 1;
        }
    sim_phase_t ph[PH_COUNT];
    boot_store_stats_t prev, cur;
    pthread_barrier_wait(&sim_bar);
    boot_store_server_stats(srv, &prev);
    uint64_t t = tacl__now_ns();
    pthread_barrier_wait(&sim_bar);
    for (int p = 0; p < PH_COUNT; p++) {
        pthread_barrier_wait(&sim_bar);
        uint64_t now = tacl__now_ns();
        boot_store_server_stats(srv, &cur);
        ph[p].wall_s = (double)(now - t) * 1e-9;
        ph[p].d.accepted = cur.accepted - prev.accepted;
        ph[p].d.requests = cur.requests - prev.requests;
        ph[p].d.bytes_in = cur.bytes_in - prev.bytes_in;
        ph[p].d.bytes_out = cur.bytes_out - prev.bytes_out;
        ph[p].d.cpu_ns = cur.cpu_ns - prev.cpu_ns;
        ph[p].d.clients_peak = cur.clients_peak;
        prev = cur;
        t = tacl__now_ns();
        pthread_barrier_wait(&sim_bar);
    }
    for (int r = 0; r < sim_n; r++)
        pthread_join(th[r], NULL);
    free(th);
    pthread_attr_destroy(&attr);
    tacl_store_server_stop(srv);

    int failed = 0, cmax = 0;
    double cmean = 0;
    for (int r = 0; r < sim_n; r++) {
        failed += sim_failed[r];
        cmax = sim_conns[r] > cmax ? sim_conns[r] : cmax;
        cmean += sim_conns[r];
    }
    cmean /= sim_n;
    double nic = nic_gbps * 1e9 / 8, total_model = 0, total_wall = 0;
    printf("%d ranks on %d hosts (%d per host), cards %s; RTT %.0f us, NIC %.0f Gb/s\n\n", sim_n,
           sim_h, sim_l, sim_cards_all ? "all-gathered" : "by peers", rtt_us, nic_gbps);
    printf("| phase | store requests | bytes in | bytes out | store connections | store CPU s | "
           "connections/rank (max, mean) | wall here s | round trips | modelled s |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (int p = 0; p < PH_COUNT; p++) {
        double cpu = (double)ph[p].d.cpu_ns * 1e-9, out = (double)ph[p].d.bytes_out / nic;
        int rounds = p == PH_CARDS && sim_cards_all ? sim_rounds[PH_GRAPH] : sim_rounds[p];
        double model = (cpu > out ? cpu : out) + rounds * rtt_us * 1e-6;
        if (p == PH_PROBE) model += cmax * 5e-6; /* one HMAC handshake per connection */
        total_model += model;
        total_wall += ph[p].wall_s;
        char conns[48] = "-";
        if (p == PH_PROBE) snprintf(conns, sizeof conns, "%d, %.1f", cmax, cmean);
        printf("| %s | %llu | %llu | %llu | %llu | %.3f | %s | %.3f | %d | %.3f |\n",
               sim_phase_name[p], (unsigned long long)ph[p].d.requests,
               (unsigned long long)ph[p].d.bytes_in, (unsigned long long)ph[p].d.bytes_out,
               (unsigned long long)ph[p].d.accepted, cpu, conns, ph[p].wall_s, rounds, model);
    }
    printf("| total | | | | | | | %.3f | | %.3f |\n", total_wall, total_model);
    printf("\nstore clients at once: %d; ranks failed: %d\n", cur.clients_peak, failed);
    if (!check) return failed ? 1 : 0;

    int bad = failed > 0;
    uint64_t n = (uint64_t)sim_n, h = (uint64_t)sim_h, call = 0;
    /* Rank 0 first looks for a store already running, for 0.5 s; when the others' connections
     * keep the store busy that long it gives up and connects again: one connection more, its
     * ping never made. */
    int reprobe = ph[PH_JOIN].d.accepted == n + 1;
    struct {
        int p;
        uint64_t want;
    } exact[] = {
        {PH_JOIN, scale_model_join_requests(n) - (uint64_t)reprobe},
        {PH_CARDS, sim_cards_all ? scale_model_allgather_requests(n, h, call++)
                                 : scale_model_cards_peers_requests(n)},
        {PH_PROBE, 0},
        {PH_GRAPH, scale_model_allgather_requests(n, h, call++)},
        {PH_OUTCOME, scale_model_allgather_requests(n, h, call++)},
        {PH_ROUTES, scale_model_allgather_requests(n, h, call++)},
    };
    for (size_t k = 0; k < sizeof exact / sizeof exact[0]; k++)
        if (ph[exact[k].p].d.requests != exact[k].want) {
            printf("check: %s made %llu store requests, the model says %llu\n",
                   sim_phase_name[exact[k].p], (unsigned long long)ph[exact[k].p].d.requests,
                   (unsigned long long)exact[k].want);
            bad = 1;
        }
    if (ph[PH_LEAVE].d.requests < scale_model_leave_requests(n)) {
        printf("check: leave made %llu store requests, the model says at least %llu\n",
               (unsigned long long)ph[PH_LEAVE].d.requests,
               (unsigned long long)scale_model_leave_requests(n));
        bad = 1;
    }
    if (ph[PH_JOIN].d.accepted != n + (uint64_t)reprobe) {
        printf("check: %llu store connections for %d ranks\n",
               (unsigned long long)ph[PH_JOIN].d.accepted, sim_n);
        bad = 1;
    }
    /* Each rank probes ceil((h - 1) / l) hosts at most as prober or target, plus two ring
     * neighbours for a host leader. */
    int bound = 2 * ((sim_h - 1 + sim_l - 1) / sim_l) + 2;
    if (cmax > bound || (sim_h > 1 && cmean < (double)(sim_h - 1) / sim_l)) {
        printf("check: %d probe connections per rank at most (mean %.1f), the plan says at most "
               "%d and at least %.1f on average\n",
               cmax, cmean, bound, (double)(sim_h - 1) / sim_l);
        bad = 1;
    }
    printf("check: %s\n", bad ? "FAILED" : "the counts match the model");
    return bad;
}
