/* test_plan_store.c — the planner's second pass: where the store goes (the chain A-B-C puts it
 * on B, the star L1-H-L2 on H, a declared store is honoured, the doctor's JSON names the same
 * host), per-host addresses on a multi-homed hub, partial replicas (one TP4 replica on the
 * 80 GB host of a mixed cluster), one layout per kind of host on unequal pods, --predict against
 * hand-computed alpha-beta values, the calibration readers (a bench table's time column, not its
 * element count; bench JSON lines) and a round trip through a calibration file, and near-linear
 * cluster lookups. */
#include "check.h"
#include "plan/plan.h"
#include "topo/cluster_file.h"
#include "topo/doctor_report.h"

#include <math.h>
#include <unistd.h>

static char ps_path[1024];

static const char *data(const char *rel)
{
    const char *src = getenv("TACL_SOURCE_DIR");
    snprintf(ps_path, sizeof ps_path, "%s/tests/data/%s", src ? src : ".", rel);
    return ps_path;
}

static tacl__plan_t *plan_of(const char *cluster, const char *model, tacl_cluster_t **cout)
{
    tacl_cluster_t *c = NULL;
    tacl__model_t m;
    tacl__workload_t w;
    tacl__plan_t *p = NULL;
    tacl__workload_default(&w);
    w.concurrency = 32;
    CHECK_OK(tacl_cluster_load(data(cluster), &c));
    CHECK_OK(tacl__model_load(model, &m));
    CHECK_OK(tacl__plan_create(c, &m, &w, NULL, &p));
    *cout = c;
    return p;
}

static int near(double got, double want, double tol)
{
    return fabs(got - want) <= tol * fabs(want);
}

/* Every host of the chosen layout's first instance, and the store it reaches. */
static void check_store(const char *cluster, const char *want_store, const char *want_node0)
{
    tacl_cluster_t *c;
    tacl__plan_t *p = plan_of(cluster, "Llama-3-70B", &c);
    CHECK(p->best >= 0);
    const tacl__layout_t *l = &p->layouts[p->best];
    CHECK(l->pp == 3 || l->pp == 6); /* a pipeline over the three hosts */
    int s = tacl__plan_store_host(p, l, 0);
    CHECK(s >= 0 && !strcmp(c->hosts[s].name, want_store));
    CHECK(!strcmp(c->hosts[p->slot_host[tacl__layout_slot(l, 0)]].name, want_node0));
    /* Reached directly by every host of the instance. */
    for (int i = 0; i < l->gpus_used; i++) {
        int h = p->slot_host[tacl__layout_slot(l, i)];
        double bw, lat;
        CHECK(h == s || tacl__cluster_link(c, h, s, &bw, &lat));
    }
    char want_note[128];
    snprintf(want_note, sizeof want_note, "store: on %s, linked to every host of instance 0",
             want_store);
    CHECK_CONTAINS(l->note, want_note);
    /* The vLLM lines: every --master-addr is the store's address. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f);
    tacl__plan_print_vllm(p, l, "m", f);
    fclose(f);
    char want_addr[96];
    snprintf(want_addr, sizeof want_addr, "--master-addr %s ", tacl__cluster_addr_for(c, s, s));
    int lines = 0;
    for (const char *q = buf; (q = strstr(q, "--master-addr")); q++, lines++)
        CHECK(!strncmp(q, want_addr, strlen(want_addr)));
    CHECK(lines == 3);
    CHECK_CONTAINS(buf, "29501, is_master=True, wait_for_workers=False");
    free(buf);
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);
}

static void test_store(void)
{
    check_store("cluster/chain3.yaml", "B", "A");
    check_store("cluster/star3.yaml", "H", "L1");

    /* Multi-homed hub: X and Y reach S on their own networks. */
    tacl_cluster_t *c;
    tacl__plan_t *p = plan_of("cluster/multihome3.yaml", "Llama-3-70B", &c);
    const tacl__layout_t *l = &p->layouts[p->best];
    int x = tacl__cluster_find_host(c, "X"), y = tacl__cluster_find_host(c, "Y"),
        s = tacl__cluster_find_host(c, "S");
    CHECK(tacl__plan_store_host(p, l, 0) == s);
    CHECK(!strcmp(tacl__cluster_addr_for(c, x, s), "10.1.0.1"));
    CHECK(!strcmp(tacl__cluster_addr_for(c, y, s), "10.2.0.1"));
    CHECK(tacl__cluster_find_host(c, "10.2.0.1") == s); /* any address names its host */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f);
    tacl__plan_print_vllm(p, l, "m", f);
    fclose(f);
    const char *lx = strstr(buf, "host X"), *ly = strstr(buf, "host Y");
    CHECK(lx && ly);
    CHECK(strstr(lx, "--master-addr 10.1.0.1 ") && strstr(ly, "--master-addr 10.2.0.1 "));
    CHECK(strstr(lx, "--master-addr 10.1.0.1 ") < ly); /* on X's own line */
    free(buf);
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);

    /* A declared store is honoured when every host reaches it, replaced when not. */
    const char *base = "hosts:\n"
                       "  - {name: A, address: 10.0.0.1, gpus: 2, gpu: A100-40GB}\n"
                       "  - {name: B, address: 10.0.0.2, gpus: 2, gpu: A100-40GB}\n"
                       "  - {name: C, address: 10.0.0.3, gpus: 2, gpu: A100-40GB}\n"
                       "links:\n  - {path: [A, B, C], bandwidth: 100Gbps}\n"
                       "  - {hosts: [A, C], bandwidth: 10Gbps}\n";
    char text[1024];
    tacl__doc_t d;
    snprintf(text, sizeof text, "%sstore: C\n", base);
    CHECK_OK(tacl__doc_parse("s.yaml", text, &d));
    CHECK_OK(tacl__cluster_read(&d, &c));
    tacl__doc_close(&d);
    CHECK(tacl__cluster_store_pick(c, NULL, 0, 0) == 2); /* declared, though node 0 qualifies */
    int ab[2] = {0, 1};
    CHECK(tacl__cluster_store_pick(c, ab, 2, 0) == 2); /* C is outside but reaches A and B */
    tacl_cluster_destroy(c);
    snprintf(text, sizeof text,
             "hosts:\n  - {name: A, gpus: 1, gpu: H100}\n  - {name: B, gpus: 1, gpu: H100}\n"
             "  - {name: C, gpus: 1, gpu: H100}\nlinks:\n  - {path: [A, B, C], bandwidth: "
             "100Gbps}\nstore: A\n");
    CHECK_OK(tacl__doc_parse("s.yaml", text, &d));
    CHECK_OK(tacl__cluster_read(&d, &c));
    tacl__doc_close(&d);
    CHECK(tacl__cluster_store_pick(c, NULL, 0, 0) == 1); /* A cannot reach C: B */
    tacl_cluster_destroy(c);

    /* The doctor's JSON of the chain names the host the planner picks. */
    tacl__doctor_report_t *r;
    const char *hosts[3] = {"A", "B", "C"};
    CHECK_OK(tacl__doctor_report_create(3, &r));
    for (int i = 0; i < 3; i++)
        CHECK_OK(tacl__doctor_report_set_host(r, i, hosts[i]));
    for (int i = 0; i < 3; i++)
        r->reach[i * 3 + i] = 1;
    r->reach[0 * 3 + 1] = r->reach[1 * 3 + 0] = r->reach[1 * 3 + 2] = r->reach[2 * 3 + 1] = 1;
    r->links[0 * 3 + 1].gbs = r->links[1 * 3 + 2].gbs = 10;
    r->links[0 * 3 + 1].lat_us = r->links[1 * 3 + 2].lat_us = 30;
    CHECK_OK(tacl__doctor_finish(r));
    char tmp[] = "/tmp/tacl_plan_store_XXXXXX";
    int fd = mkstemp(tmp);
    CHECK(fd >= 0);
    FILE *jf = fdopen(fd, "w");
    CHECK_OK(tacl__doctor_write_json(r, jf));
    fclose(jf);
    CHECK_OK(tacl_cluster_load(tmp, &c));
    CHECK(c->store_host == 1);
    CHECK(tacl__cluster_store_pick(c, NULL, 0, 0) == 1);
    /* ... and the doctor's figures calibrate the network start-up. */
    tacl__calib_t cal = {0};
    CHECK_OK(tacl__calib_load(tmp, &cal));
    CHECK(cal.nfits == 1 && !strcmp(cal.fits[0].backend, "net") && cal.fits[0].alpha_us == 30 &&
          cal.fits[0].busbw_gbs == 10);
    unlink(tmp);
    tacl_cluster_destroy(c);
    tacl__doctor_report_destroy(r);
}

static void test_partial(void)
{
    tacl_cluster_t *c;
    tacl__plan_t *p = plan_of("cluster/mixed80.yaml", "Llama-3-70B", &c);
    /* TP4 over the H100 host fits; over the L4 host it does not: one replica, not "does not
     * fit". */
    const tacl__layout_t *l = tacl__plan_find(p, 4, 1, 0);
    CHECK(l && l->state == TACL_LAYOUT_OK && l->dp == 1 && l->dp_full == 2);
    CHECK(l->reps && l->reps[0] == 0 && l->gpus_used == 4);
    CHECK(p->slot_host[tacl__layout_slot(l, 3)] == tacl__cluster_find_host(c, "big"));
    CHECK_CONTAINS(l->note, "partial: 1 of 2 replicas serve");
    CHECK_CONTAINS(l->note, "replica on small: does not fit");
    /* Costed as the only replica: it serves all 32 requests the KV cache allows. */
    CHECK(l->conc_replica == 32);
    CHECK(p->best >= 0 && p->layouts[p->best].state == TACL_LAYOUT_OK);
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);
    /* Nothing fits anywhere: still "does not fit". */
    p = plan_of("cluster/mixed80.yaml", "Llama-3.1-405B", &c);
    CHECK(p->best < 0 && p->closest >= 0);
    CHECK_CONTAINS(p->layouts[p->closest].reason, "does not fit");
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);
}

static void test_mixed(void)
{
    /* Two pods of unequal hosts (H200 and L40S, not linked to each other): one layout per kind
     * of host serves more than any single layout. */
    tacl_cluster_t *c;
    tacl__model_t m;
    tacl__workload_t w;
    tacl__plan_t *p;
    tacl__workload_default(&w);
    w.concurrency = 512;
    w.weight_bytes = 1;
    CHECK_OK(tacl_cluster_load(data("cluster/mixed_h200_l40s.yaml"), &c));
    CHECK_OK(tacl__model_load("Llama-3-70B", &m));
    CHECK_OK(tacl__plan_create(c, &m, &w, NULL, &p));
    CHECK(p->best >= 0 && p->nmixed == 2);
    CHECK(p->mixed_tok_s > 1.05 * p->layouts[p->best].tok_s);
    double sum = 0;
    long conc = 0;
    for (int k = 0; k < 2; k++) {
        const tacl__layout_t *x = &p->mixed[k]->layouts[p->mixed[k]->best];
        CHECK(x->state == TACL_LAYOUT_OK);
        sum += x->tok_s;
        conc += p->mixed[k]->w.concurrency;
        for (int h = 0; h < p->mixed_cluster[k]->nhosts; h++) /* one kind of host per set */
            CHECK(!strcmp(p->mixed_cluster[k]->hosts[h].gpu.name,
                          p->mixed_cluster[k]->hosts[0].gpu.name));
    }
    CHECK(strcmp(p->mixed_cluster[0]->hosts[0].gpu.name, p->mixed_cluster[1]->hosts[0].gpu.name));
    CHECK(near(sum, p->mixed_tok_s, 1e-9));
    CHECK(conc >= 512 && conc <= 514); /* the concurrency shared, rounded up per set */
    tacl__plan_destroy(p);
    /* Few requests: the single layout is as good, no set reported. */
    w.concurrency = 8;
    CHECK_OK(tacl__plan_create(c, &m, &w, NULL, &p));
    CHECK(p->best >= 0 && p->nmixed == 0);
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);
}

static void test_predict(void)
{
    tacl_cluster_t *c;
    tacl__plan_t *p = plan_of("cluster/h100x8.yaml", "Llama-3-8B", &c);
    int slots[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    tacl__pred_t r;
    /* 1 MiB over 8 GPUs on NV18 (450 GB/s, eta 0.78): 2*7/8 * 1048576 / 351000 = 5.2279 us
     * of transfer; graph start-up 8 us, eager 10 us. */
    CHECK_OK(tacl__plan_predict(p, TACL_PRED_ALL_REDUCE, 1048576, slots, 8, NULL, &r));
    CHECK(near(r.beta_us, 5.2279, 1e-4) && near(r.graph_us, 13.2279, 1e-4) &&
          near(r.eager_us, 15.2279, 1e-4) && r.hosts == 1);
    /* all_gather of 8 MiB over 4: 3/4 * 8388608 / 351000 = 17.924 us. */
    CHECK_OK(tacl__plan_predict(p, TACL_PRED_ALL_GATHER, 8388608, slots, 4, NULL, &r));
    CHECK(near(r.beta_us, 17.924, 1e-4) && near(r.eager_us, 27.924, 1e-4));
    CHECK_ST(tacl__plan_predict(p, TACL_PRED_SENDRECV, 64, slots, 3, NULL, &r), TACL_ERR_INVALID);
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);
    /* Across the chain's A-B link (12.5 GB/s, 5 us): 4 GPUs on two hosts, 1 MiB. The host link
     * carries 1.5 x 1 MiB at 9.75 GB/s (161.32 us); start-up 8 + 20 + 2 x 5 = 38 us. */
    p = plan_of("cluster/chain3.yaml", "Llama-3-70B", &c);
    int ab[4] = {0, 1, 2, 3};
    CHECK(p->slot_host[0] == 0 && p->slot_host[2] == 1);
    CHECK_OK(tacl__plan_predict(p, TACL_PRED_ALL_REDUCE, 1048576, ab, 4, NULL, &r));
    CHECK(r.hosts == 2 && near(r.beta_us, 161.317, 1e-4) && near(r.graph_us, 199.317, 1e-4) &&
          near(r.eager_us, 201.317, 1e-4));
    int ac[2] = {0, 4}; /* A and C: no link */
    CHECK_ST(tacl__plan_predict(p, TACL_PRED_ALL_REDUCE, 1024, ac, 2, NULL, &r), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "A↔C");
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs(text, f);
    fclose(f);
}

static void test_calibration(void)
{
    /* A `tacl bench` table (size, count, type, redop, root, time ...) whose times are exactly
     * 5 us + 2(n-1)/n x size / 10 GB/s for n = 4: the fit must find alpha 5 and 10 GB/s, which
     * reading the element count as the time would not. */
    char tab[] = "/tmp/tacl_calib_tab_XXXXXX";
    int fd = mkstemp(tab);
    CHECK(fd >= 0);
    close(fd);
    char text[4096];
    size_t k = (size_t)snprintf(text, sizeof text,
                                "# tacl bench all_reduce (gpu): 4 ranks, minBytes 1024\n"
                                "#        size        count     type  redop   root      time\n"
                                "#         (B)   (elements)                             (us)\n");
    for (double b = 1024; b <= 64 * 1048576.0; b *= 4)
        k += (size_t)snprintf(text + k, sizeof text - k,
                              " %11.0f %12.0f %8s %6s %6d %9.2f %7.2f %7.2f %6d\n", b, b / 4,
                              "float", "sum", -1, 5 + 1.5 * b / 1e4, 0.0, 0.0, 0);
    write_file(tab, text);
    tacl__calib_t cal = {0};
    CHECK_OK(tacl__calib_from_bench(tab, &cal));
    CHECK(cal.nfits == 1);
    const tacl__calib_fit_t *x = &cal.fits[0];
    CHECK(!strcmp(x->coll, "all_reduce") && !strcmp(x->backend, "gpu") && !x->graph &&
          x->ranks == 4 && x->npoints == 9);
    CHECK(near(x->alpha_us, 5, 0.01) && near(x->busbw_gbs, 10, 0.001) && x->err_max < 0.01);
    unlink(tab);

    /* Bench JSON lines, eager and graph runs of 2 ranks: two series; the faster of out-of-place
     * and in-place is taken. */
    k = 0;
    for (int graph = 0; graph < 2; graph++)
        for (double b = 4096; b <= 16 * 1048576.0; b *= 4) {
            double t = (graph ? 4 : 9) + 1.0 * b / 2e4; /* 2(n-1)/n = 1, 20 GB/s */
            k += (size_t)snprintf(
                text + k, sizeof text - k,
                "{\"collective\":\"all_reduce\",\"backend\":\"gpu\",\"graph\":%s,\"ranks\":2,"
                "\"size\":%.0f,\"count\":%.0f,\"type\":\"float\",\"redop\":\"sum\",\"root\":-1,"
                "\"out_of_place\":{\"time_us\":%.3f,\"algbw\":0,\"busbw\":0,\"wrong\":0},"
                "\"in_place\":{\"time_us\":%.3f,\"algbw\":0,\"busbw\":0,\"wrong\":0}}\n",
                graph ? "true" : "false", b, b / 4, t * 1.5, t);
        }
    snprintf(tab, sizeof tab, "/tmp/tacl_calib_tab_XXXXXX");
    fd = mkstemp(tab);
    CHECK(fd >= 0);
    close(fd);
    write_file(tab, text);
    memset(&cal, 0, sizeof cal);
    CHECK_OK(tacl__calib_load(tab, &cal));
    CHECK(cal.nfits == 2);
    const tacl__calib_fit_t *eager = tacl__calib_find(&cal, TACL_PRED_ALL_REDUCE, "gpu", 0, 2),
                            *graph = tacl__calib_find(&cal, TACL_PRED_ALL_REDUCE, "gpu", 1, 2);
    CHECK(eager && graph && near(eager->alpha_us, 9, 0.01) && near(graph->alpha_us, 4, 0.01) &&
          near(eager->busbw_gbs, 20, 0.001));

    /* Round trip: write the calibration, read it back, predict on 2 GPUs: the measured times. */
    char out[] = "/tmp/tacl_calib_out_XXXXXX";
    fd = mkstemp(out);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    CHECK_OK(tacl__calib_write(&cal, f));
    fclose(f);
    tacl__calib_t back = {0};
    CHECK_OK(tacl__calib_load(out, &back));
    CHECK(back.nfits == 2 && near(back.fits[0].alpha_us, cal.fits[0].alpha_us, 1e-5));
    tacl_cluster_t *c;
    tacl__plan_t *p = plan_of("cluster/h100x8.yaml", "Llama-3-8B", &c);
    int two[2] = {0, 1};
    tacl__pred_t r;
    CHECK_OK(tacl__plan_predict(p, TACL_PRED_ALL_REDUCE, 1048576, two, 2, &back, &r));
    CHECK(r.fit_eager && r.fit_graph);
    CHECK(near(r.eager_us, 9 + 1048576 / 2e4, 0.01) && near(r.graph_us, 4 + 1048576 / 2e4, 0.01));
    /* Eight GPUs were not measured: the model answers, with the constants the fit set. */
    tacl__costmodel_t cm;
    tacl__costmodel_default(&cm);
    tacl__calib_apply(&back, 450, &cm);
    CHECK(near(cm.alpha_eager_us, 9, 0.01) && near(cm.alpha_gpu_us, 4, 0.01) &&
          near(cm.eta_bus, 20.0 / 450, 0.01));
    int eight[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    CHECK_OK(tacl__plan_predict(p, TACL_PRED_ALL_REDUCE, 1048576, eight, 8, &back, &r));
    CHECK(!r.fit_eager && !r.fit_graph);
    unlink(out);
    unlink(tab);
    tacl__plan_destroy(p);
    tacl_cluster_destroy(c);

    /* Bad inputs name the file and what was expected. */
    snprintf(tab, sizeof tab, "/tmp/tacl_calib_tab_XXXXXX");
    fd = mkstemp(tab);
    CHECK(fd >= 0);
    close(fd);
    write_file(tab, "{\"collective\":\"all_reduce\",\"ranks\":2}\n");
    memset(&cal, 0, sizeof cal);
    CHECK_ST(tacl__calib_load(tab, &cal), TACL_ERR_CONFIG);
    CHECK_CONTAINS(tacl_last_error(), ":1: expected a `tacl bench -J` line");
    unlink(tab);
}

static void test_scale(void)
{
    /* 16384 hosts with ring links, built in memory: finishing and name lookups stay fast
     * (they were quadratic), and a duplicate link keeps its last figures. */
    tacl_cluster_t *c;
    CHECK_OK(tacl__cluster_create(&c));
    int idx;
    for (int i = 0; i < 16384; i++) {
        char name[32];
        snprintf(name, sizeof name, "h%d", i);
        CHECK_OK(tacl__cluster_add_host(c, name, 8, "H100-80GB", &idx));
    }
    for (int i = 0; i < 16384; i++)
        CHECK_OK(tacl__cluster_set_link(c, i, (i + 1) % 16384, 50, 3));
    CHECK_OK(tacl__cluster_set_link(c, 1, 0, 7, 9)); /* again, reversed: replaces */
    CHECK_OK(tacl__cluster_finish(c));
    double bw, lat;
    CHECK(c->nlinks == 16384 && tacl__cluster_link(c, 0, 1, &bw, &lat) && bw == 7 && lat == 9);
    CHECK(tacl__cluster_find_host(c, "h16383") == 16383 && tacl__cluster_find_host(c, "x") < 0);
    int comp[16384];
    CHECK(tacl__cluster_components(c, comp) == 1);
    int path[64];
    CHECK(tacl__cluster_route(c, 1, 4, path, 64, &bw, &lat) == 4 && path[1] == 2 && bw == 50);
    tacl_cluster_destroy(c);
    CHECK_OK(tacl__cluster_create(&c));
    CHECK_OK(tacl__cluster_add_host(c, "a", 0, NULL, &idx));
    CHECK_OK(tacl__cluster_add_host(c, "b", 0, NULL, &idx));
    CHECK_ST(tacl__cluster_set_link(c, 0, 0, 1, 1), TACL_ERR_INVALID);
    tacl_cluster_destroy(c);
    /* A file past the host limit fails at once, naming the limit. */
    tacl__doc_t d;
    CHECK_OK(tacl__doc_parse("big.yaml",
                             "hosts:\n  - {name: n, count: 70000, gpus: 8, gpu: H100}\n", &d));
    CHECK_ST(tacl__cluster_read(&d, &c), TACL_ERR_CONFIG);
    CHECK_CONTAINS(tacl_last_error(), "expected an integer in [1, 65536], found '70000'");
    tacl__doc_close(&d);
    /* A large file listing too many hosts is refused from a streaming count, before its
     * document is built: the message names the entry past the limit. */
    char big[] = "/tmp/tacl_plan_big_XXXXXX";
    int fd = mkstemp(big);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    CHECK(f);
    fprintf(f, "hosts:\n");
    for (int i = 0; i < 75000; i++)
        fprintf(f, "  - {name: host%06d, gpus: 8, gpu: H100-80GB, gpu_link: NV18}\n", i);
    fclose(f);
    c = NULL;
    CHECK_ST(tacl_cluster_load(big, &c), TACL_ERR_CONFIG);
    CHECK(c == NULL);
    CHECK_CONTAINS(tacl_last_error(), ":65538:5: hosts: more than 65536 entries");
    unlink(big);
}

int main(void)
{
#if !TACL_HAVE_FYAML
    SKIP("built without libfyaml (Debian: libfyaml-dev): cluster files cannot be read");
#endif
    test_store();
    test_partial();
    test_mixed();
    test_predict();
    test_calibration();
    test_scale();
    printf("plan store/partial/predict/calibration: ok\n");
    return 0;
}
