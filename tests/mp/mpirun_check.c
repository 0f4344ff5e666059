/* mpirun_check.c — run by mpirun: checks that tacl_bootstrap_from_env reads Open MPI's own
 * variables (rank, size, local rank and size, job id, mpirun's host) and prints one line that
 * mpirun.sh collects. */
#include "check.h"

static int mc_env_int(const char *name)
{
    const char *v = getenv(name);
    if (!v) {
        fprintf(stderr, "mpirun_check: %s is not set\n", name);
        exit(1);
    }
    return atoi(v);
}

int main(void)
{
    tacl_bootstrap_t b;
    CHECK_OK(tacl_bootstrap_from_env(&b));
    CHECK(b.launcher == TACL_LAUNCHER_MPI);
    CHECK(b.rank == mc_env_int("OMPI_COMM_WORLD_RANK"));
    CHECK(b.size == mc_env_int("OMPI_COMM_WORLD_SIZE"));
    CHECK(b.local_rank == mc_env_int("OMPI_COMM_WORLD_LOCAL_RANK"));
    CHECK(b.local_size == mc_env_int("OMPI_COMM_WORLD_LOCAL_SIZE"));
    const char *job = getenv("OMPI_MCA_orte_ess_jobid");
    if (!job) job = getenv("OMPI_MCA_ess_base_jobid");
    if (!job) job = getenv("PMIX_NAMESPACE");
    CHECK(job != NULL);
    CHECK(!strcmp(b.run_id, job));
    /* The master is mpirun's host: the first tcp address of its URI. */
    const char *uri = getenv("OMPI_MCA_orte_hnp_uri");
    if (uri && strstr(uri, "tcp://")) {
        const char *a = strstr(uri, "tcp://") + 6;
        CHECK(!strncmp(b.master_addr, a, strlen(b.master_addr)));
        CHECK(strchr(",:", a[strlen(b.master_addr)]) != NULL);
    }
    CHECK(b.master_port == 29500);
    printf("ok rank %d of %d local %d of %d run %s\n", b.rank, b.size, b.local_rank, b.local_size,
           b.run_id);
    return 0;
}
