/* test_cluster.c — the cluster description: units, GPU presets, the YAML/JSON reader (values
 * and positioned errors), link lookup under explicit and default links, widest-path routes,
 * components, and the JSON writer read back by the reader. */
#include "check.h"
#include "topo/cluster_file.h"

#include <math.h>
#include <unistd.h>

static tacl_cluster_t *cl_parse(const char *text)
{
    tacl__doc_t d;
    tacl_cluster_t *c = NULL;
    CHECK_OK(tacl__doc_parse("t.yaml", text, &d));
    CHECK_OK(tacl__cluster_read(&d, &c));
    tacl__doc_close(&d);
    return c;
}

/* Parses text that must fail with TACL_ERR_CONFIG and a message containing want. */
static void cl_bad(const char *text, const char *want)
{
    tacl__doc_t d;
    tacl_cluster_t *c = NULL;
    tacl_status_t st = tacl__doc_parse("bad.yaml", text, &d);
    if (st == TACL_OK) {
        st = tacl__cluster_read(&d, &c);
        tacl__doc_close(&d);
    }
    CHECK(st == TACL_ERR_CONFIG);
    CHECK(c == NULL);
    CHECK_CONTAINS(tacl_last_error(), want);
}

static int near(double a, double b)
{
    return fabs(a - b) <= 1e-9 * fabs(b) + 1e-12;
}

int main(void)
{
#if !TACL_HAVE_FYAML
    SKIP("built without libfyaml (Debian: libfyaml-dev): cluster files cannot be read");
#endif
    double v;
    const char *why;
    /* Units: bits and bytes differ by 8; bare link numbers are Gb/s. */
    CHECK(tacl__parse_bandwidth("100Gbps", "Gb/s", &v, &why) && near(v, 12.5));
    CHECK(tacl__parse_bandwidth("100 Gb/s", "Gb/s", &v, &why) && near(v, 12.5));
    CHECK(tacl__parse_bandwidth("25GB/s", "Gb/s", &v, &why) && near(v, 25));
    CHECK(tacl__parse_bandwidth("1.6Tbps", "Gb/s", &v, &why) && near(v, 200));
    CHECK(tacl__parse_bandwidth("400", "Gb/s", &v, &why) && near(v, 50));
    CHECK(tacl__parse_bandwidth("3.35TB/s", "GB/s", &v, &why) && near(v, 3350));
    CHECK(!tacl__parse_bandwidth("fast", "Gb/s", &v, &why));
    CHECK(!tacl__parse_bandwidth("100 furlongs", "Gb/s", &v, &why));
    CHECK_CONTAINS(why, "bandwidth unit");
    CHECK(tacl__parse_bytes("80GB", &v, &why) && near(v, 80e9));
    CHECK(tacl__parse_bytes("40960MiB", &v, &why) && near(v, 40960.0 * 1048576));
    CHECK(tacl__parse_latency("0.8ms", &v, &why) && near(v, 800));
    CHECK(tacl__parse_latency("5", &v, &why) && near(v, 5));

    /* Presets: exact names, bare family names, link classes. */
    const tacl__gpu_spec_t *h100 = tacl__gpu_preset("h100-80gb");
    CHECK(h100 && h100->hbm_gbs == 3350 && h100->tflops == 989 && h100->nvlink_gbs == 450);
    CHECK(tacl__gpu_preset("H200") && !strcmp(tacl__gpu_preset("H200")->name, "H200-141GB"));
    CHECK(tacl__gpu_preset("A100-40GB")->mem_bytes == 40960.0 * 1048576);
    CHECK(tacl__gpu_preset("L40S") && tacl__gpu_preset("L40S")->nvlink_gbs == 0);
    CHECK(tacl__gpu_preset("Z9000") == NULL);
    CHECK(near(tacl__gpu_link_class_gbs("NV18", h100), 450));
    CHECK(near(tacl__gpu_link_class_gbs("NV12", h100), 300));
    CHECK(near(tacl__gpu_link_class_gbs("SYS", h100), 32));

    /* The seeds' chain, from the test data. */
    const char *src = getenv("TACL_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/cluster/chain3.yaml", src ? src : ".");
    tacl_cluster_t *c = NULL;
    CHECK_OK(tacl_cluster_load(path, &c));
    CHECK(c->nhosts == 3 && !strcmp(c->name, "chain3"));
    CHECK(!strcmp(c->hosts[0].addrs[0], "10.0.0.1") && !strcmp(c->hosts[1].ifname, "eth0"));
    CHECK(c->hosts[2].ngpus == 2 && !strcmp(c->hosts[2].gpu.name, "A100-40GB"));
    CHECK(near(c->hosts[0].gpu_link_gbs, 300)); /* A100 NVLink */
    double bw, lat;
    CHECK(tacl__cluster_link(c, 0, 1, &bw, &lat) && near(bw, 12.5) && near(lat, 5));
    CHECK(tacl__cluster_link(c, 2, 1, &bw, &lat) && near(bw, 12.5));
    CHECK(!tacl__cluster_link(c, 0, 2, &bw, &lat));
    int path_h[8];
    CHECK(tacl__cluster_route(c, 0, 2, path_h, 8, &bw, &lat) == 3);
    CHECK(path_h[0] == 0 && path_h[1] == 1 && path_h[2] == 2 && near(bw, 12.5) && near(lat, 10));
    int comp[3];
    CHECK(tacl__cluster_components(c, comp) == 1);

    /* Writer -> reader round trip keeps every figure. */
    char tmp[] = "/tmp/tacl_cluster_XXXXXX";
    int fd = mkstemp(tmp);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    CHECK_OK(tacl_cluster_write_json(c, f));
    fclose(f);
    tacl_cluster_t *c2 = NULL;
    tacl_status_t st = tacl_cluster_load(tmp, &c2);
    unlink(tmp);
    CHECK_OK(st);
    CHECK(c2->nhosts == 3 && c2->nlinks == 2 && c2->nunreach == 1);
    for (int i = 0; i < 3; i++) {
        CHECK(!strcmp(c->hosts[i].name, c2->hosts[i].name));
        CHECK(near(c->hosts[i].gpu.mem_bytes, c2->hosts[i].gpu.mem_bytes));
        CHECK(near(c->hosts[i].gpu.hbm_gbs, c2->hosts[i].gpu.hbm_gbs));
        CHECK(near(c->hosts[i].gpu_link_gbs, c2->hosts[i].gpu_link_gbs));
        CHECK(!strcmp(c->hosts[i].addrs[0], c2->hosts[i].addrs[0]));
    }
    CHECK(tacl__cluster_link(c2, 1, 2, &bw, &lat) && near(bw, 12.5) && near(lat, 5));
    CHECK(!tacl__cluster_link(c2, 0, 2, &bw, &lat));
    tacl_cluster_destroy(c2);
    tacl_cluster_destroy(c);

    /* Default link, unreachable pairs, counted hosts, a GPU matrix, a custom GPU, ranks. */
    c = cl_parse("hosts:\n"
                 "  - {name: n, count: 4, gpus: 2, gpu: H100}\n"
                 "  - name: odd\n"
                 "    gpus: 2\n"
                 "    gpu: {type: MyGPU, memory: 48GB, hbm_bandwidth: 1TB/s, tflops: 400}\n"
                 "    gpu_matrix: [[X, PIX], [PIX, X]]\n"
                 "default_link: {bandwidth: 200Gbps, latency: 2us}\n"
                 "links:\n"
                 "  - {path: [n0, n1, n2], bandwidth: 50GB/s}\n"
                 "unreachable: [[n3, odd]]\n"
                 "ranks:\n"
                 "  - {rank: 1, host: odd, device: 1}\n"
                 "  - {rank: 0, host: n2, device: 0}\n"
                 "store: n1\n");
    CHECK(c->nhosts == 5 && !strcmp(c->hosts[3].name, "n3"));
    CHECK(tacl__cluster_link(c, 0, 1, &bw, &lat) && near(bw, 50) && near(lat, 5));
    CHECK(tacl__cluster_link(c, 0, 3, &bw, &lat) && near(bw, 25) && near(lat, 2));
    CHECK(!tacl__cluster_link(c, 3, 4, &bw, &lat));
    CHECK(near(c->hosts[4].gpu.mem_bytes, 48e9) && near(c->hosts[4].gpu.hbm_gbs, 1000));
    CHECK(c->hosts[4].gpu_bw && near(c->hosts[4].gpu_link_gbs, 32));
    CHECK(c->nranks == 2 && c->ranks[0].host == 2 && c->ranks[1].host == 4 &&
          c->ranks[1].device == 1);
    CHECK(c->store_host == 1);
    /* n3 reaches odd only through another host, at the default bandwidth. */
    CHECK(tacl__cluster_route(c, 3, 4, path_h, 8, &bw, &lat) == 3 && near(bw, 25));
    tacl_cluster_destroy(c);

    /* Disconnected: two components. */
    c = cl_parse("{\"hosts\": [{\"name\": \"a\"}, {\"name\": \"b\"}, {\"name\": \"c\"}],\n"
                 " \"links\": [{\"hosts\": [\"a\", \"b\"], \"bandwidth\": 10}]}\n");
    CHECK(tacl__cluster_components(c, comp) == 2 && comp[0] == comp[1] && comp[2] != comp[0]);
    CHECK(tacl__cluster_route(c, 0, 2, path_h, 8, &bw, &lat) == 0);
    tacl_cluster_destroy(c);

    /* The examples of docs/CLUSTER_FORMAT.md (copied to tests/data/cluster) stay valid. */
    snprintf(path, sizeof path, "%s/tests/data/cluster/example_full.yaml", src ? src : ".");
    CHECK_OK(tacl_cluster_load(path, &c));
    CHECK(c->nhosts == 3 && c->nranks == 2 && c->store_host == 1);
    CHECK(near(c->hosts[1].gpu.mem_bytes, 80.0 * 1073741824) &&
          near(c->hosts[1].gpu_link_gbs, 450));
    CHECK(near(c->hosts[2].gpu.tflops, 400) && c->hosts[2].gpu_bw &&
          near(c->hosts[2].gpu_link_gbs, 32));
    CHECK(!tacl__cluster_link(c, 0, 2, &bw, &lat) && tacl__cluster_link(c, 1, 2, &bw, &lat) &&
          near(bw, 12.5));
    /* Its round trip keeps the matrix, the custom GPU, the ranks and the store. */
    char tmp2[] = "/tmp/tacl_cluster_XXXXXX";
    fd = mkstemp(tmp2);
    CHECK(fd >= 0 && (f = fdopen(fd, "w")) != NULL);
    CHECK_OK(tacl_cluster_write_json(c, f));
    fclose(f);
    st = tacl_cluster_load(tmp2, &c2);
    unlink(tmp2);
    CHECK_OK(st);
    CHECK(c2->hosts[2].gpu_bw && c2->hosts[2].gpu_bw[1] == c->hosts[2].gpu_bw[1]);
    CHECK(near(c2->hosts[2].gpu.tflops, 400) && !strcmp(c2->hosts[2].gpu.name, "MyAccel"));
    CHECK(c2->nranks == 2 && c2->ranks[1].host == 1 && c2->store_host == 1);
    tacl_cluster_destroy(c2);
    tacl_cluster_destroy(c);
    snprintf(path, sizeof path, "%s/tests/data/cluster/example_big.yaml", src ? src : ".");
    CHECK_OK(tacl_cluster_load(path, &c));
    CHECK(c->nhosts == 1024 && tacl__cluster_total_gpus(c) == 8192 &&
          !strcmp(c->hosts[1023].name, "node1023"));
    CHECK(tacl__cluster_link(c, 5, 700, &bw, &lat) && near(bw, 50) &&
          !tacl__cluster_link(c, 1023, 0, &bw, &lat));
    tacl_cluster_destroy(c);

    /* Errors name file:line:column and what was expected. */
    cl_bad("hosts:\n  - {name: A, gpus: eight, gpu: H100}\n",
           "bad.yaml:2:21: gpus: expected an integer");
    cl_bad("hosts:\n  - {name: A, gpus: 8, gpu: H900}\n",
           "bad.yaml:2:29: gpu: unknown GPU type 'H900'");
    cl_bad(
        "hosts:\n  - {name: A}\n  - {name: B}\nlinks:\n  - {hosts: [A, C], bandwidth: 100Gbps}\n",
        "bad.yaml:5:17: links[].hosts: expected a host declared under hosts, found 'C'");
    cl_bad("hosts:\n  - {name: A}\n  - {name: B}\nlinks:\n  - {hosts: [A, B], bandwidth: 100 "
           "furlongs}\n",
           "bad.yaml:5:32: bandwidth: expected a bandwidth unit");
    cl_bad("hosts:\n  - {name: A, gpuz: 8}\n", "bad.yaml:2:15: hosts[]: unknown key 'gpuz'");
    cl_bad("hosts:\n  - {name: A, gpus: 1: 2}\n", "bad.yaml:2:22: missing comma");
    cl_bad("name: x\n", "hosts: expected a non-empty list");
    cl_bad("hosts:\n  - {name: A}\n  - {name: A}\n", "host A: declared twice");
    cl_bad("hosts:\n  - {name: A, gpus: 2}\n", "2 GPUs but no gpu type");
    /* Found by fuzzing (tests/fuzz/cluster.c; seeds in tests/fuzz/seeds/cluster). */
    cl_bad("hosts:\n  - {name: A}\n  - {name: n, count: 3}\n  - {name: n1}\n",
           "bad.yaml:4:6: host n1: declared twice");
    cl_bad("hosts:\n  - name:\n    gpus: 0\n", "bad.yaml:2:5: hosts[]: name: expected a non-empty");
    /* libfyaml 0.7 never returns from this one: refused before it is parsed. */
    cl_bad("hosts: [{name: a}]\n%\xe0\xdf\n", "bad.yaml:2:2: expected UTF-8 text");
    cl_bad("hosts: [{name: a\xc0\xae}]\n",
           "bad.yaml:1:17: expected UTF-8 text (YAML or JSON), found byte 0xc0");
    cl_bad("hosts:\n  - {name: n, count: 65537}\n",
           "count: expected an integer in [1, 65536], found '65537'");
    cl_bad("hosts:\n  - {name: a}\n  - {name: n, count: 65536}\n",
           "count 65536 makes 65537 hosts; expected at most 65536 in all");
    /* A numbered name must fit as a name of its own: the JSON writer lists every host. */
    cl_bad("hosts:\n  - {name: abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789, "
           "count: 15}\n",
           "with count 15, expected a name of at most 61 characters");
    cl_bad("hosts:\n  - {name: A, gpus: 2, gpu: H100, gpu_link: NV1x}\n",
           "bad.yaml:2:45: gpu_link: expected a link class");
    cl_bad("hosts:\n  - {name: A, gpus: 2, gpu: H100, gpu_link: NV99999999999999999999}\n",
           "gpu_link: expected a link class");
    cl_bad("hosts:\n  - {name: A, gpus: 2, gpu: H100, gpu_link: 100.000000000000GB/s}\n",
           "gpu_link: expected at most 15 characters");
    cl_bad("hosts:\n  - {name: A, gpu: {type: abcdefghijklmnopqrstuvwxyz0123456, memory: 1GB, "
           "hbm_bandwidth: 1, tflops: 1}}\n",
           "type: expected at most 31 characters");
    c = cl_parse("hosts:\n  - {name: A, gpus: 2, gpu: H100, gpu_link: NV18}\n");
    CHECK(near(c->hosts[0].gpu_link_gbs, 450) && !strcmp(c->hosts[0].gpu_link, "NV18"));
    tacl_cluster_destroy(c);
    c = cl_parse("hosts:\n  - {name: n, count: 65536}\n");
    CHECK(c->nhosts == 65536 && !strcmp(c->hosts[65535].name, "n65535"));
    tacl_cluster_destroy(c);
    char tpath[] = "/tmp/tacl-test-cluster-XXXXXX";
    int tfd = mkstemp(tpath);
    CHECK(tfd >= 0);
    CHECK(write(tfd, "hosts: [{name: a}]\n%\xe0\n", 22) == 22);
    close(tfd);
    CHECK_ST(tacl_cluster_load(tpath, &c), TACL_ERR_CONFIG);
    CHECK_CONTAINS(tacl_last_error(), "2:2: expected UTF-8 text");
    unlink(tpath);
    CHECK_ST(tacl_cluster_load("/nonexistent/tacl.yaml", &c), TACL_ERR_CONFIG);
    CHECK_CONTAINS(tacl_last_error(), "/nonexistent/tacl.yaml");
    printf("cluster: ok\n");
    return 0;
}
