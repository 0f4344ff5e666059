/* topo_file.c — TACL_TOPO=file on fake hosts of one machine (TACL_HOST_ID per rank, tcp between
 * them, a full mesh in fact), one mode per argv[1]:
 *   chain    3 hosts restricted by a file to A-B-C: the A-C pair has no link (engine link info
 *            says the topology forbids it) and is routed through B, all_reduce runs as a tree
 *            at the centre B (checked through the selector, its log and the INFO schedule log),
 * values of all_reduce / broadcast / all_gather checked; kite     4 hosts, triangle A-B-C at 1 Gb/s
 * and C-D at 2 Gb/s declared: all_reduce is the multi-tree packing (no Hamiltonian cycle; one tree
 * gets 1 Gb/s, the packing 1.5), values checked at sizes that split unevenly over the trees;
 *   badfile  a file with a wrong value: tacl_init fails on every rank with TACL_ERR_CONFIG and
 *            file:line:column;
 *   nohost   a file without the ranks' hosts: TACL_ERR_CONFIG naming the rank and its id;
 *   map      tacl__topo_file_links alone: ranks matched by host name, by the hostname part of a
 *            default host id, by address, by the file's ranks map; same-host pairs linked;
 *            declared bandwidth and latency per pair; an absent link not allowed. */
#include "check.h"
#include "coll/coll.h"
#include "mp_world.h"
#include "topo/topofile.h"
#include "transport/engine.h"

#include <dirent.h>
#include <math.h>
#include <sys/stat.h>
#include <stdint.h>
#include <unistd.h>

static char dir[256];

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void cleanup(void)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char path[512];
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

/* Every rank's log concatenated contains s. */
static int logs_contain(const char *s)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    int found = 0;
    char path[512], line[4096];
    while (!found && (de = readdir(d))) {
        if (strncmp(de->d_name, "log-", 4)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        while (f && !found && fgets(line, sizeof line, f))
            found = strstr(line, s) != NULL;
        if (f) fclose(f);
    }
    closedir(d);
    return found;
}

static float in_val(int r, size_t i)
{
    return (float)((r * 7 + i) % 13);
}

/* all_reduce sum of count floats, in place and out of place, checked element by element. */
static int check_all_reduce(tacl_comm_t *w, size_t count)
{
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    float *a = malloc(count * sizeof *a + 1), *b = malloc(count * sizeof *b + 1);
    CHECK(a && b);
    for (size_t i = 0; i < count; i++)
        a[i] = in_val(me, i);
    CHECK_OK(tacl_all_reduce(w, a, b, count, TACL_FLOAT32, TACL_SUM));
    CHECK_OK(tacl_all_reduce(w, a, a, count, TACL_FLOAT32, TACL_SUM));
    for (size_t i = 0; i < count; i++) {
        float want = 0;
        for (int r = 0; r < n; r++)
            want += in_val(r, i);
        if (a[i] != want || b[i] != want) {
            fprintf(stderr, "rank %d: all_reduce count %zu: element %zu = %g / %g, expected %g\n",
                    me, count, i, a[i], b[i], want);
            return 1;
        }
    }
    free(a);
    free(b);
    return 0;
}

static int chain_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    int me = tacl_comm_rank(w), n = tacl_comm_size(w);
    tacl__world_t *wo = w->world;
    CHECK(n == 3);
    /* The file forbids A-C although the fake hosts could connect. */
    CHECK(wo->reach[0 * 3 + 2] == 0 && wo->reach[2 * 3 + 0] == 0);
    CHECK(wo->reach[0 * 3 + 1] && wo->reach[1 * 3 + 2]);
    if (me == 0) {
        CHECK(wo->next_hop[2] == 1);
        CHECK_CONTAINS(tacl__engine_link_info(wo->engine, 2), "topology forbids");
    }
    if (me == 2) CHECK(wo->next_hop[0] == 1);
    /* Declared weights reached the graph: 1 Gb/s = 1.25e8 B/s. */
    CHECK(wo->link_bw && wo->link_bw[0 * 3 + 1] == 1.25e8);
    CHECK(w->centre == 1 && !w->full_mesh && !w->ring_direct);
    coll_args_t a = {.kind = TACL_COLL_ALL_REDUCE, .count = 1 << 20, .esz = 4};
    coll_pick_t p;
    CHECK_OK(coll_select(w, &a, &p));
    CHECK(p.row->id == COLL_ALGO_TREE);
    if (check_all_reduce(w, 7) || check_all_reduce(w, (1u << 20) + 3)) return 1;
    /* broadcast from A (routed past nothing: A is a leaf) and all_gather through the centre */
    size_t cnt = 300000;
    int32_t *x = malloc(cnt * sizeof *x), *g = malloc(3 * cnt * sizeof *g);
    CHECK(x && g);
    for (size_t i = 0; i < cnt; i++)
        x[i] = me == 0 ? (int32_t)(i * 3 + 1) : -1;
    CHECK_OK(tacl_broadcast(w, x, x, cnt, TACL_INT32, 0));
    for (size_t i = 0; i < cnt; i++)
        CHECK(x[i] == (int32_t)(i * 3 + 1));
    for (size_t i = 0; i < cnt; i++)
        x[i] = (int32_t)(me * 1000003 + (int)i);
    CHECK_OK(tacl_all_gather(w, x, g, cnt, TACL_INT32));
    for (int r = 0; r < 3; r++)
        for (size_t i = 0; i < cnt; i++)
            CHECK(g[(size_t)r * cnt + i] == (int32_t)(r * 1000003 + (int)i));
    /* A -> C point-to-point: no A-C link, so B forwards it. */
    if (me == 0) {
        for (size_t i = 0; i < cnt; i++)
            x[i] = (int32_t)(i ^ 0x5a5a);
        CHECK_OK(tacl_send(w, x, cnt, TACL_INT32, 2, 9));
    } else if (me == 2) {
        CHECK_OK(tacl_recv(w, x, cnt, TACL_INT32, 0, 9));
        for (size_t i = 0; i < cnt; i++)
            CHECK(x[i] == (int32_t)(i ^ 0x5a5a));
    }
    CHECK_OK(tacl_barrier(w));
    free(x);
    free(g);
    return 0;
}

static int kite_body(tacl_comm_t *w, void *arg)
{
    (void)arg;
    CHECK(tacl_comm_size(w) == 4);
    CHECK(w->centre == 2 && !w->ring_direct);
    CHECK(w->mtree && w->mtree->forest && w->mtree->forest->ntrees >= 2);
    coll_args_t a = {.kind = TACL_COLL_ALL_REDUCE, .count = 1 << 20, .esz = 4};
    coll_pick_t p;
    CHECK_OK(coll_select(w, &a, &p));
    CHECK(p.row->id == COLL_ALGO_MULTITREE);
    CHECK_CONTAINS(p.row->about, "packed by bandwidth");
    /* Small (single tree below the threshold), then sizes that split unevenly over trees. */
    if (check_all_reduce(w, 1000) || check_all_reduce(w, (1u << 20) + 3) ||
        check_all_reduce(w, (3u << 20) + 7))
        return 1;
    /* broadcast and reduce from the centre run on trees packed from it; from the leaf D,
     * whatever the model picks. Values checked for both roots. */
    coll_args_t b = {.kind = TACL_COLL_BROADCAST, .count = 1 << 20, .esz = 4, .root = 2};
    CHECK_OK(coll_select(w, &b, &p));
    CHECK(p.row->id == COLL_ALGO_MULTITREE);
    int me = tacl_comm_rank(w);
    size_t cnt = (1u << 20) + 5;
    float *x = malloc(cnt * sizeof *x), *y = malloc(cnt * sizeof *y);
    CHECK(x && y);
    for (int root = 2; root <= 3; root++) {
        for (size_t i = 0; i < cnt; i++)
            x[i] = me == root ? in_val(root, i) : -1;
        CHECK_OK(tacl_broadcast(w, x, x, cnt, TACL_FLOAT32, root));
        for (size_t i = 0; i < cnt; i++)
            CHECK(x[i] == in_val(root, i));
        for (size_t i = 0; i < cnt; i++) {
            x[i] = in_val(me, i);
            y[i] = -7;
        }
        CHECK_OK(tacl_reduce(w, x, y, cnt, TACL_FLOAT32, TACL_SUM, root));
        for (size_t i = 0; i < cnt; i++) {
            float want = in_val(0, i) + in_val(1, i) + in_val(2, i) + in_val(3, i);
            CHECK(me == root ? y[i] == want : y[i] == -7);
            CHECK(x[i] == in_val(me, i)); /* the send buffer is left alone */
        }
    }
    free(x);
    free(y);
    return 0;
}

static int fail_body(tacl_comm_t *w, void *arg)
{
    (void)w;
    const char *want = arg;
    tacl_comm_t *c = NULL;
    tacl_status_t st = tacl_init(&c);
    if (st != TACL_ERR_CONFIG) {
        fprintf(stderr, "tacl_init returned %s, expected TACL_ERR_CONFIG: %s\n",
                tacl_status_name(st), tacl_last_error());
        if (c) tacl_comm_destroy(c);
        return 1;
    }
    CHECK_CONTAINS(tacl_last_error(), want);
    return 0;
}

static int map_mode(void)
{
    write_file("map.yaml", "hosts:\n  - {name: nodeA}\n  - {name: nodeB, address: 10.0.0.2}\n"
                           "  - {name: nodeC}\nlinks:\n"
                           "  - {hosts: [nodeA, nodeB], bandwidth: 8Gbps, latency: 5us}\n"
                           "  - {hosts: [nodeB, nodeC], bandwidth: 2GB/s, latency_us: 7}\n"
                           "ranks:\n  - {rank: 0, host: nodeA}\n  - {rank: 1, host: nodeA}\n"
                           "  - {rank: 2, host: nodeB}\n  - {rank: 3, host: nodeC}\n"
                           "  - {rank: 4, host: nodeC}\n");
    char path[512];
    snprintf(path, sizeof path, "%s/map.yaml", dir);
    /* rank 0 by name, 1 by the hostname part of a default id, 2 by address, 3 and 4 by the
     * ranks map (their ids match nothing). */
    const char *ids[] = {"nodeA", "nodeA/1234-boot/net:4026531840", "10.0.0.2", "zz", "yy"};
    tacl__topo_links_t l;
    tacl__errbuf_t eb;
    CHECK_OK(tacl__topo_file_links(path, 5, ids, &l, &eb));
    CHECK(l.n == 5);
#define AT(m, i, j) (m)[(i)*5 + (j)]
#define NEAR(x, y)  (fabs((x) - (y)) <= 1e-9 * fabs(y))
    CHECK(AT(l.allowed, 0, 1) && AT(l.bw, 0, 1) == TACL_TOPO_SAME_HOST_BW); /* same host */
    CHECK(AT(l.allowed, 0, 2) && NEAR(AT(l.bw, 0, 2), 1e9) && NEAR(AT(l.lat, 0, 2), 5e-6));
    CHECK(AT(l.allowed, 2, 1) && NEAR(AT(l.bw, 2, 1), 1e9));
    CHECK(AT(l.allowed, 2, 3) && NEAR(AT(l.bw, 2, 3), 2e9) && NEAR(AT(l.lat, 3, 2), 7e-6));
    CHECK(AT(l.allowed, 3, 4) && AT(l.bw, 4, 3) == TACL_TOPO_SAME_HOST_BW);
    CHECK(!AT(l.allowed, 0, 3) && !AT(l.allowed, 4, 1) && AT(l.bw, 1, 4) == 0);
#undef AT
#undef NEAR
    tacl__topo_links_free(&l);
    /* No file name: the mode needs one. */
    CHECK_ST(tacl__topo_file_links("", 5, ids, &l, &eb), TACL_ERR_CONFIG);
    CHECK_CONTAINS(eb.msg, "TACL_TOPO_FILE");
    /* A missing file names itself. */
    snprintf(path, sizeof path, "%s/none.yaml", dir);
    CHECK(tacl__topo_file_links(path, 5, ids, &l, &eb) != TACL_OK);
    CHECK_CONTAINS(eb.msg, "none.yaml");
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "chain";
#if !TACL_HAVE_FYAML
    SKIP("built without libfyaml (Debian: libfyaml-dev): TACL_TOPO_FILE cannot be read (%s)", mode);
#endif
    snprintf(dir, sizeof dir, "/tmp/tacl-topo-file-%d", (int)getpid());
    CHECK(mkdir(dir, 0700) == 0);
    if (!getenv("TOPO_FILE_KEEP")) atexit(cleanup);
    char env[1024];
    int rc;
    mpw_opts_t o = {.timeout_s = 60};
    if (!strcmp(mode, "chain")) {
        write_file("chain.yaml", "hosts:\n  - {name: hA}\n  - {name: hB}\n  - {name: hC}\n"
                                 "links:\n  - {path: [hA, hB, hC], bandwidth: 1Gbps}\n");
        snprintf(env, sizeof env,
                 "TACL_TOPO=file;TACL_TOPO_FILE=%s/chain.yaml;TACL_LOG=info;"
                 "TACL_LOG_FILE=%s/log-%%p",
                 dir, dir);
        o.host_ids = "hA,hB,hC";
        o.env = env;
        rc = mpw_run(3, chain_body, NULL, &o);
        CHECK(rc == 0);
        CHECK(logs_contain("schedule all_reduce: tree"));
        CHECK(logs_contain("spanning tree rooted at rank 1 (centre"));
        CHECK(logs_contain("schedule broadcast (root at the centre): tree"));
        CHECK(logs_contain("schedule all_gather: tree"));
        /* The selector's choice at 4 MiB, logged once with its prediction. */
        CHECK(
            logs_contain("all_reduce of 4194304 to 8388607 bytes: tree (pipelined spanning tree"));
    } else if (!strcmp(mode, "kite")) {
        write_file("kite.yaml", "hosts:\n  - {name: hA}\n  - {name: hB}\n  - {name: hC}\n"
                                "  - {name: hD}\nlinks:\n"
                                "  - {path: [hA, hB, hC, hA], bandwidth: 1Gbps}\n"
                                "  - {hosts: [hC, hD], bandwidth: 2Gbps}\n");
        snprintf(env, sizeof env,
                 "TACL_TOPO_FILE=%s/kite.yaml;TACL_LOG=info;"
                 "TACL_LOG_FILE=%s/log-%%p",
                 dir, dir);
        o.host_ids = "hA,hB,hC,hD";
        o.env = env;
        rc = mpw_run(4, kite_body, NULL, &o);
        CHECK(rc == 0);
        CHECK(logs_contain("schedule all_reduce: multitree"));
        CHECK(logs_contain("all_reduce of 4194304 to 8388607 bytes: multitree (spanning trees"));
    } else if (!strcmp(mode, "badfile") || !strcmp(mode, "nohost")) {
        int bad = !strcmp(mode, "badfile");
        write_file("bad.yaml", bad ? "hosts:\n  - {name: hA}\n  - {name: hB}\nlinks:\n"
                                     "  - {hosts: [hA, hB], bandwidth: fast}\n"
                                   : "hosts:\n  - {name: other}\n");
        snprintf(env, sizeof env, "TACL_TOPO=file;TACL_TOPO_FILE=%s/bad.yaml", dir);
        o.host_ids = "hA,hB";
        o.env = env;
        o.no_init = 1;
        char want[512];
        if (bad)
            snprintf(want, sizeof want, "%s/bad.yaml:5:", dir);
        else
            snprintf(want, sizeof want, "rank 0's host id 'hA' matches no host");
        rc = mpw_run(2, fail_body, want, &o);
        CHECK(rc == 0);
    } else if (!strcmp(mode, "map")) {
        CHECK(map_mode() == 0);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 1;
    }
    printf("topo_file %s: ok\n", mode);
    return 0;
}
