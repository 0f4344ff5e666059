/* bootstrap_test.c — tacl_bootstrap_from_env under each launcher's variable set (tacl run,
 * torchrun, Open MPI, Slurm, none), with the expected values written out; and the missing or
 * contradictory sets, checked by status, by message and by the output being left untouched. */
#include "check.h"

#include <unistd.h>

static const char *const bt_vars[] = {"TACL_RANK",
                                      "TACL_WORLD_SIZE",
                                      "TACL_LOCAL_RANK",
                                      "TACL_LOCAL_WORLD_SIZE",
                                      "TACL_MASTER_ADDR",
                                      "TACL_MASTER_PORT",
                                      "TACL_RUN_ID",
                                      "RANK",
                                      "WORLD_SIZE",
                                      "LOCAL_RANK",
                                      "LOCAL_WORLD_SIZE",
                                      "MASTER_ADDR",
                                      "MASTER_PORT",
                                      "TORCHELASTIC_RUN_ID",
                                      "OMPI_COMM_WORLD_RANK",
                                      "OMPI_COMM_WORLD_SIZE",
                                      "OMPI_COMM_WORLD_LOCAL_RANK",
                                      "OMPI_COMM_WORLD_LOCAL_SIZE",
                                      "OMPI_MCA_orte_hnp_uri",
                                      "OMPI_MCA_orte_ess_jobid",
                                      "OMPI_MCA_ess_base_jobid",
                                      "PMIX_NAMESPACE",
                                      "SLURM_PROCID",
                                      "SLURM_NTASKS",
                                      "SLURM_LOCALID",
                                      "SLURM_NODEID",
                                      "SLURM_NTASKS_PER_NODE",
                                      "SLURM_TASKS_PER_NODE",
                                      "SLURM_STEP_NODELIST",
                                      "SLURM_JOB_NODELIST",
                                      "SLURM_NODELIST",
                                      "SLURM_JOB_ID",
                                      "SLURM_STEP_ID",
                                      "GROUP_RANK"};

static void bt_clear(void)
{
    for (size_t i = 0; i < sizeof bt_vars / sizeof bt_vars[0]; i++)
        unsetenv(bt_vars[i]);
}

/* Sets "NAME=value" pairs from a NULL-terminated list, after clearing every launcher variable. */
static void bt_env(const char *const *kv)
{
    bt_clear();
    for (; *kv; kv++) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", *kv);
        char *eq = strchr(buf, '=');
        CHECK(eq != NULL);
        *eq = '\0';
        setenv(buf, eq + 1, 1);
    }
}

static tacl_bootstrap_t bt_ok(void)
{
    tacl_bootstrap_t b;
    memset(&b, 0xab, sizeof b);
    CHECK_OK(tacl_bootstrap_from_env(&b));
    return b;
}

static void bt_expect(tacl_launcher_t l, int rank, int size, int lrank, int lsize, const char *addr,
                      int port, const char *run_id)
{
    tacl_bootstrap_t b = bt_ok();
    if (b.launcher != l || b.rank != rank || b.size != size || b.local_rank != lrank ||
        b.local_size != lsize || strcmp(b.master_addr, addr) || b.master_port != port ||
        strcmp(b.run_id, run_id)) {
        fprintf(stderr,
                "got launcher %s rank %d/%d local %d/%d master %s:%d run id '%s'\n"
                "expected    %s rank %d/%d local %d/%d master %s:%d run id '%s'\n",
                tacl_launcher_name(b.launcher), b.rank, b.size, b.local_rank, b.local_size,
                b.master_addr, b.master_port, b.run_id, tacl_launcher_name(l), rank, size, lrank,
                lsize, addr, port, run_id);
        exit(1);
    }
}

/* The call fails with TACL_ERR_BOOTSTRAP, leaves the output alone, and the message holds every
 * one of the NULL-terminated substrings. */
static void bt_fail(const char *const *subs)
{
    tacl_bootstrap_t b;
    memset(&b, 0x5a, sizeof b);
    tacl_bootstrap_t copy = b;
    CHECK_ST(tacl_bootstrap_from_env(&b), TACL_ERR_BOOTSTRAP);
    CHECK(!memcmp(&b, &copy, sizeof b));
    for (; *subs; subs++)
        CHECK_CONTAINS(tacl_last_error(), *subs);
}

#define ENV(...)     bt_env((const char *const[]){__VA_ARGS__, NULL})
#define REFUSED(...) bt_fail((const char *const[]){__VA_ARGS__, NULL})

int main(void)
{
    /* No launcher: one rank, a store on 127.0.0.1 at a port the kernel picks (0). */
    bt_clear();
    bt_expect(TACL_LAUNCHER_NONE, 0, 1, 0, 1, "127.0.0.1", 0, "port-0");
    ENV("TACL_MASTER_PORT=4321");
    bt_expect(TACL_LAUNCHER_NONE, 0, 1, 0, 1, "127.0.0.1", 4321, "port-4321");

    /* tacl's own variables. */
    ENV("TACL_RANK=2", "TACL_WORLD_SIZE=4", "TACL_LOCAL_RANK=0", "TACL_LOCAL_WORLD_SIZE=2",
        "TACL_MASTER_ADDR=10.0.0.5", "TACL_MASTER_PORT=4000", "TACL_RUN_ID=job7");
    bt_expect(TACL_LAUNCHER_TACL, 2, 4, 0, 2, "10.0.0.5", 4000, "job7");
    ENV("TACL_RANK=3", "TACL_WORLD_SIZE=4");
    bt_expect(TACL_LAUNCHER_TACL, 3, 4, -1, -1, "127.0.0.1", 29500, "port-29500");
    /* What tacl run sets: both sets, agreeing. */
    ENV("TACL_RANK=1", "TACL_WORLD_SIZE=2", "TACL_LOCAL_RANK=1", "TACL_LOCAL_WORLD_SIZE=2",
        "TACL_MASTER_ADDR=127.0.0.1", "TACL_MASTER_PORT=41000", "TACL_RUN_ID=r1", "RANK=1",
        "WORLD_SIZE=2", "LOCAL_RANK=1", "LOCAL_WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1",
        "MASTER_PORT=41000", "TORCHELASTIC_RUN_ID=r1");
    bt_expect(TACL_LAUNCHER_TACL, 1, 2, 1, 2, "127.0.0.1", 41000, "r1");

    /* torchrun. */
    ENV("RANK=5", "WORLD_SIZE=8", "LOCAL_RANK=1", "LOCAL_WORLD_SIZE=4", "MASTER_ADDR=node0",
        "MASTER_PORT=1234", "TORCHELASTIC_RUN_ID=abc");
    bt_expect(TACL_LAUNCHER_TORCHRUN, 5, 8, 1, 4, "node0", 1234, "abc");
    /* torchrun's default run id "none" is shared by all jobs: derive one from the master. */
    setenv("TORCHELASTIC_RUN_ID", "none", 1);
    bt_expect(TACL_LAUNCHER_TORCHRUN, 5, 8, 1, 4, "node0", 1234, "port-1234");
    /* The default run id does not depend on how a rank spells the store's address. */
    setenv("MASTER_ADDR", "10.99.1.2", 1);
    bt_expect(TACL_LAUNCHER_TORCHRUN, 5, 8, 1, 4, "10.99.1.2", 1234, "port-1234");
    setenv("MASTER_ADDR", "node0", 1);
    /* TACL_* override the master and run id of any launcher. */
    setenv("TACL_MASTER_ADDR", "10.9.9.9", 1);
    setenv("TACL_MASTER_PORT", "7777", 1);
    setenv("TACL_RUN_ID", "mine", 1);
    bt_expect(TACL_LAUNCHER_TORCHRUN, 5, 8, 1, 4, "10.9.9.9", 7777, "mine");
    ENV("RANK=0", "WORLD_SIZE=1", "LOCAL_RANK=0", "LOCAL_WORLD_SIZE=1");
    bt_expect(TACL_LAUNCHER_TORCHRUN, 0, 1, 0, 1, "127.0.0.1", 29500, "port-29500");

    /* Open MPI 4 (the variables mpirun sets, copied from a real run). */
    ENV("OMPI_COMM_WORLD_RANK=1", "OMPI_COMM_WORLD_SIZE=3", "OMPI_COMM_WORLD_LOCAL_RANK=1",
        "OMPI_COMM_WORLD_LOCAL_SIZE=3", "OMPI_MCA_ess_base_jobid=2004615169",
        "PMIX_NAMESPACE=2004615169",
        "OMPI_MCA_orte_hnp_uri=2004615168.0;tcp://192.0.2.2,10.0.0.1:42893;tcp6://[fd00::2]:40187");
    bt_expect(TACL_LAUNCHER_MPI, 1, 3, 1, 3, "192.0.2.2", 29500, "2004615169");
    setenv("OMPI_MCA_orte_ess_jobid", "77", 1);
    bt_expect(TACL_LAUNCHER_MPI, 1, 3, 1, 3, "192.0.2.2", 29500, "77");
    ENV("OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=2", "PMIX_NAMESPACE=prterun-vm-123@1",
        "TACL_MASTER_ADDR=head");
    bt_expect(TACL_LAUNCHER_MPI, 0, 2, -1, -1, "head", 29500, "prterun-vm-123@1");
    /* Launcher ids longer than the field keep their start and a hash of the whole. */
    char longid[120];
    memset(longid, 'q', 100);
    longid[100] = '\0';
    setenv("PMIX_NAMESPACE", longid, 1);
    tacl_bootstrap_t a = bt_ok();
    CHECK(strlen(a.run_id) == sizeof a.run_id - 1);
    CHECK(!strncmp(a.run_id, "qqqqqqqqqq", 10) && strchr(a.run_id, '~'));
    longid[99] = 'r';
    setenv("PMIX_NAMESPACE", longid, 1);
    tacl_bootstrap_t a2 = bt_ok();
    CHECK(strcmp(a.run_id, a2.run_id) != 0);
    ENV("OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=2");
    REFUSED("does not say which host runs rank 0", "set TACL_MASTER_ADDR",
            "found: OMPI_COMM_WORLD_RANK=0 OMPI_COMM_WORLD_SIZE=2");

    /* Slurm. */
    ENV("SLURM_PROCID=5", "SLURM_NTASKS=8", "SLURM_LOCALID=1", "SLURM_NODEID=2",
        "SLURM_TASKS_PER_NODE=2(x3),2", "SLURM_JOB_NODELIST=gpu[01-03,07]", "SLURM_JOB_ID=123",
        "SLURM_STEP_ID=4");
    bt_expect(TACL_LAUNCHER_SLURM, 5, 8, 1, 2, "gpu01", 29500, "slurm-123.4");
    setenv("SLURM_STEP_NODELIST", "gpu[02-03],gpu07,cpu[1-2]-ib", 1);
    bt_expect(TACL_LAUNCHER_SLURM, 5, 8, 1, 2, "gpu02", 29500, "slurm-123.4");
    ENV("SLURM_PROCID=3", "SLURM_NTASKS=5", "SLURM_LOCALID=0", "SLURM_NODEID=3",
        "SLURM_TASKS_PER_NODE=1(x2),2,1", "SLURM_NODELIST=node[1-2]-ib,node7", "SLURM_JOB_ID=9");
    bt_expect(TACL_LAUNCHER_SLURM, 3, 5, 0, 1, "node1-ib", 29500, "slurm-9");
    /* --ntasks-per-node wins over the per-node list; without SLURM_NODEID and with nodes that
     * differ, the local size is unknown (-1) rather than guessed. */
    setenv("SLURM_NTASKS_PER_NODE", "1", 1);
    bt_expect(TACL_LAUNCHER_SLURM, 3, 5, 0, 1, "node1-ib", 29500, "slurm-9");
    unsetenv("SLURM_NTASKS_PER_NODE");
    unsetenv("SLURM_NODEID");
    bt_expect(TACL_LAUNCHER_SLURM, 3, 5, 0, -1, "node1-ib", 29500, "slurm-9");
    setenv("TACL_MASTER_ADDR", "10.1.1.1", 1);
    setenv("SLURM_NODELIST", "broken[", 1); /* not read: TACL_MASTER_ADDR says it */
    bt_expect(TACL_LAUNCHER_SLURM, 3, 5, 0, -1, "10.1.1.1", 29500, "slurm-9");
    unsetenv("TACL_MASTER_ADDR");
    REFUSED("SLURM_NODELIST: node list \"broken[\": '[' is not closed at column 7");
    setenv("SLURM_NODELIST", "n[1-2]", 1);
    setenv("SLURM_TASKS_PER_NODE", "2(x", 1);
    REFUSED("SLURM_TASKS_PER_NODE: tasks-per-node list \"2(x\": expected a number at column 4");
    ENV("SLURM_PROCID=1", "SLURM_NTASKS=2");
    REFUSED("neither SLURM_JOB_NODELIST nor SLURM_NODELIST", "set TACL_MASTER_ADDR");

    /* Missing values. */
    ENV("RANK=3");
    REFUSED("RANK is set but WORLD_SIZE is not", "torchrun variables are incomplete",
            "looked for TACL_RANK/TACL_WORLD_SIZE (tacl run), RANK/WORLD_SIZE (torchrun)",
            "SLURM_PROCID/SLURM_NTASKS (Slurm)", "found: RANK=3)");
    ENV("WORLD_SIZE=3", "LOCAL_RANK=0");
    REFUSED("WORLD_SIZE is set but RANK is not", "found: WORLD_SIZE=3 LOCAL_RANK=0)");
    ENV("TACL_RANK=0");
    REFUSED("TACL_RANK is set but TACL_WORLD_SIZE is not");
    ENV("SLURM_NTASKS=4");
    REFUSED("SLURM_NTASKS is set but SLURM_PROCID is not");
    ENV("RANK=1", "WORLD_SIZE=2");
    REFUSED("neither MASTER_ADDR nor TACL_MASTER_ADDR");

    /* Contradictory or malformed values. */
    ENV("TACL_RANK=1", "TACL_WORLD_SIZE=4", "RANK=2", "WORLD_SIZE=4");
    REFUSED("TACL_RANK=1 disagrees with RANK=2", "found: TACL_RANK=1 TACL_WORLD_SIZE=4 RANK=2");
    ENV("TACL_RANK=1", "TACL_WORLD_SIZE=4", "TACL_LOCAL_WORLD_SIZE=2", "LOCAL_WORLD_SIZE=4");
    REFUSED("TACL_LOCAL_WORLD_SIZE=2 disagrees with LOCAL_WORLD_SIZE=4");
    ENV("RANK=4", "WORLD_SIZE=4", "MASTER_ADDR=h");
    REFUSED("rank 4 is not below the world size 4");
    ENV("RANK=-1", "WORLD_SIZE=4", "MASTER_ADDR=h");
    REFUSED("RANK=-1 is negative");
    ENV("RANK=abc", "WORLD_SIZE=4", "MASTER_ADDR=h");
    REFUSED("RANK=\"abc\" is not an integer");
    ENV("RANK=1", "WORLD_SIZE=4x", "MASTER_ADDR=h");
    REFUSED("WORLD_SIZE=\"4x\" is not an integer");
    ENV("RANK=1", "WORLD_SIZE=99999999999", "MASTER_ADDR=h");
    REFUSED("WORLD_SIZE=\"99999999999\" is not an integer");
    ENV("TACL_RANK=0", "TACL_WORLD_SIZE=0");
    REFUSED("world size 0");
    ENV("RANK=3", "WORLD_SIZE=4", "LOCAL_RANK=2", "LOCAL_WORLD_SIZE=2", "MASTER_ADDR=h");
    REFUSED("local rank 2 is not below the local world size 2");
    ENV("RANK=3", "WORLD_SIZE=4", "LOCAL_RANK=0", "LOCAL_WORLD_SIZE=8", "MASTER_ADDR=h");
    REFUSED("local world size 8 exceeds the world size 4");
    ENV("OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_LOCAL_RANK=x",
        "TACL_MASTER_ADDR=h");
    REFUSED("OMPI_COMM_WORLD_LOCAL_RANK=\"x\" is not an integer");
    ENV("TACL_RANK=0", "TACL_WORLD_SIZE=2", "TACL_MASTER_PORT=70000");
    REFUSED("TACL_MASTER_PORT=70000 is not a TCP port");
    ENV("TACL_RANK=0", "TACL_WORLD_SIZE=2", "TACL_MASTER_PORT=0");
    REFUSED("TACL_MASTER_PORT=0 (any free port) only works for a single rank; this job has 2");
    ENV("RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=h", "MASTER_PORT=http");
    REFUSED("MASTER_PORT=\"http\" is not an integer");
    char longaddr[300];
    memset(longaddr, 'a', 280);
    longaddr[280] = '\0';
    ENV("TACL_RANK=0", "TACL_WORLD_SIZE=2");
    setenv("TACL_MASTER_ADDR", longaddr, 1);
    REFUSED("TACL_MASTER_ADDR is 280 characters long, at most 255 are allowed");

    CHECK_ST(tacl_bootstrap_from_env(NULL), TACL_ERR_INVALID);
    CHECK(!strcmp(tacl_launcher_name(TACL_LAUNCHER_SLURM), "slurm"));
    CHECK(!strcmp(tacl_launcher_name((tacl_launcher_t)42), "unknown"));
    printf("bootstrap: all cases passed\n");
    return 0;
}
