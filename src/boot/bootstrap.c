/* bootstrap.c — tacl_bootstrap_from_env: who this process is (rank, world size, local rank and
 * size, where the rendezvous store lives, which job it belongs to), read from the variables of
 * the launcher that started it. Launchers are tried in a fixed order: tacl's own TACL_*, then
 * torchrun, Open MPI and Slurm, since a launcher started inside another (torchrun in an srun
 * step, tacl run in an sbatch script) is the inner one and sets its own variables on top. The
 * TACL_* values override the master address, port and run id of every launcher; rank and sizes
 * set both as TACL_* and torchrun variables must agree. Every failure is TACL_ERR_BOOTSTRAP
 * with what was looked for and what was found. */
#include "boot/nodelist.h"
#include "err.h"
#include "settings.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOOT_DEFAULT_PORT 29500

/* Every variable the bootstrap reads, for the "found" part of error messages. */
static const char *const boot_vars[] = {
    "TACL_RANK",
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
};

#define BOOT_LOOKED_FOR                                                                            \
    "looked for TACL_RANK/TACL_WORLD_SIZE (tacl run), RANK/WORLD_SIZE (torchrun), "                \
    "OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE (Open MPI), SLURM_PROCID/SLURM_NTASKS (Slurm)"

/* The value of a variable, NULL when unset or empty. TACL_* ones go through the settings
 * table, where each is declared with its meaning. */
static const char *boot_get(const char *name)
{
    if (!strncmp(name, "TACL_", 5)) {
        for (int i = 0; i < TACL_SET_COUNT; i++) {
            tacl__setting_id_t id = (tacl__setting_id_t)i;
            if (strcmp(tacl__setting_info(id)->name, name)) continue;
            return tacl__setting_is_set(id) ? tacl__setting_str(id) : NULL;
        }
        return NULL;
    }
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* Records TACL_ERR_BOOTSTRAP: the problem, then what was looked for and which of the known
 * variables were found with their values. */
__attribute__((format(printf, 1, 2))) static tacl_status_t boot_fail(const char *fmt, ...)
{
    char what[512], found[TACL_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    size_t o = 0;
    found[0] = '\0';
    for (size_t i = 0; i < sizeof boot_vars / sizeof boot_vars[0]; i++) {
        const char *v = boot_get(boot_vars[i]);
        if (!v || o >= sizeof found) continue;
        int n = snprintf(found + o, sizeof found - o, "%s%s=%.64s", o ? " " : "", boot_vars[i], v);
        if (n > 0) o += (size_t)n;
    }
    return tacl__err(NULL, TACL_ERR_BOOTSTRAP, TACL_SUB_BOOT,
                     "bootstrap: %s (" BOOT_LOOKED_FOR "; found: %s)", what,
                     o ? found : "none of them");
}

/* Parses variable name as a non-negative decimal int. *present = 0 when unset. */
static tacl_status_t boot_int(const char *name, int *v, int *present)
{
    const char *s = boot_get(name);
    *present = s != NULL;
    if (!s) return TACL_OK;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || x > INT_MAX || x < INT_MIN)
        return boot_fail("%s=\"%s\" is not an integer", name, s);
    if (x < 0) return boot_fail("%s=%ld is negative", name, x);
    *v = (int)x;
    return TACL_OK;
}

/* Reads a rank/size pair that identifies a launcher; both or neither must be set. */
static tacl_status_t boot_pair(const char *rank_var, const char *size_var, const char *launcher,
                               tacl_bootstrap_t *b)
{
    int have_rank, have_size;
    TACL_CHECK(boot_int(rank_var, &b->rank, &have_rank));
    TACL_CHECK(boot_int(size_var, &b->size, &have_size));
    if (have_rank && !have_size)
        return boot_fail("%s is set but %s is not: %s variables are incomplete", rank_var, size_var,
                         launcher);
    if (!have_rank && have_size)
        return boot_fail("%s is set but %s is not: %s variables are incomplete", size_var, rank_var,
                         launcher);
    return TACL_OK;
}

static tacl_status_t boot_local(const char *rank_var, const char *size_var, tacl_bootstrap_t *b)
{
    int have;
    TACL_CHECK(boot_int(rank_var, &b->local_rank, &have));
    if (!have) b->local_rank = -1;
    TACL_CHECK(boot_int(size_var, &b->local_size, &have));
    if (!have) b->local_size = -1;
    return TACL_OK;
}

/* TACL_X and torchrun's X describe the same thing when both are set: they must agree. */
static tacl_status_t boot_check_agree(void)
{
    static const char *const pairs[][2] = {{"TACL_RANK", "RANK"},
                                           {"TACL_WORLD_SIZE", "WORLD_SIZE"},
                                           {"TACL_LOCAL_RANK", "LOCAL_RANK"},
                                           {"TACL_LOCAL_WORLD_SIZE", "LOCAL_WORLD_SIZE"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        int a, b, have_a, have_b;
        TACL_CHECK(boot_int(pairs[i][0], &a, &have_a));
        TACL_CHECK(boot_int(pairs[i][1], &b, &have_b));
        if (have_a && have_b && a != b)
            return boot_fail("%s=%d disagrees with %s=%d", pairs[i][0], a, pairs[i][1], b);
    }
    return TACL_OK;
}

static tacl_status_t boot_set_addr(tacl_bootstrap_t *b, const char *addr, const char *from)
{
    size_t n = strlen(addr);
    if (n >= sizeof b->master_addr)
        return boot_fail("%s is %zu characters long, at most %zu are allowed", from, n,
                         sizeof b->master_addr - 1);
    memcpy(b->master_addr, addr, n + 1);
    return TACL_OK;
}

/* Open MPI (ORTE) tells each rank the URI of mpirun, "jobid.vpid;tcp://a,b:port;tcp6://...".
 * Its first tcp address is a host of the job; on one node it is this host. */
static int boot_ompi_first_host(char *buf, size_t len)
{
    const char *uri = boot_get("OMPI_MCA_orte_hnp_uri");
    const char *p = uri ? strstr(uri, "tcp://") : NULL;
    if (!p) return 0;
    p += 6;
    size_t n = strcspn(p, ",:;/");
    if (n == 0 || n >= len) return 0;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return 1;
}

static tacl_status_t boot_from_tacl(tacl_bootstrap_t *b)
{
    b->launcher = TACL_LAUNCHER_TACL;
    TACL_CHECK(boot_pair("TACL_RANK", "TACL_WORLD_SIZE", "tacl", b));
    TACL_CHECK(boot_local("TACL_LOCAL_RANK", "TACL_LOCAL_WORLD_SIZE", b));
    /* tacl's own variables describe a one-host job unless they name a master. */
    const char *addr = boot_get("MASTER_ADDR");
    return boot_set_addr(b, addr ? addr : "127.0.0.1", addr ? "MASTER_ADDR" : "default");
}

static tacl_status_t boot_from_torchrun(tacl_bootstrap_t *b)
{
    b->launcher = TACL_LAUNCHER_TORCHRUN;
    TACL_CHECK(boot_pair("RANK", "WORLD_SIZE", "torchrun", b));
    TACL_CHECK(boot_local("LOCAL_RANK", "LOCAL_WORLD_SIZE", b));
    const char *addr = boot_get("MASTER_ADDR");
    if (addr) return boot_set_addr(b, addr, "MASTER_ADDR");
    if (b->size == 1) return boot_set_addr(b, "127.0.0.1", "default");
    if (boot_get("TACL_MASTER_ADDR")) return TACL_OK;
    return boot_fail("RANK=%d WORLD_SIZE=%d are set but neither MASTER_ADDR nor "
                     "TACL_MASTER_ADDR says where rank 0's store is",
                     b->rank, b->size);
}

static tacl_status_t boot_from_mpi(tacl_bootstrap_t *b)
{
    b->launcher = TACL_LAUNCHER_MPI;
    TACL_CHECK(boot_pair("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "Open MPI", b));
    TACL_CHECK(boot_local("OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE", b));
    if (boot_get("TACL_MASTER_ADDR")) return TACL_OK;
    if (boot_ompi_first_host(b->master_addr, sizeof b->master_addr)) {
        TACL_DEBUG(TACL_SUB_BOOT, "bootstrap: master %s from OMPI_MCA_orte_hnp_uri (mpirun's host)",
                   b->master_addr);
        return TACL_OK;
    }
    if (b->size == 1) return boot_set_addr(b, "127.0.0.1", "default");
    return boot_fail("Open MPI started rank %d of %d but does not say which host runs rank 0 "
                     "(no tcp address in OMPI_MCA_orte_hnp_uri): set TACL_MASTER_ADDR to it",
                     b->rank, b->size);
}

static tacl_status_t boot_from_slurm(tacl_bootstrap_t *b)
{
    int have, node_id = -1;
    b->launcher = TACL_LAUNCHER_SLURM;
    TACL_CHECK(boot_pair("SLURM_PROCID", "SLURM_NTASKS", "Slurm", b));
    TACL_CHECK(boot_int("SLURM_LOCALID", &b->local_rank, &have));
    if (!have) b->local_rank = -1;
    TACL_CHECK(boot_int("SLURM_NODEID", &node_id, &have));
    if (!have) node_id = -1;
    /* --ntasks-per-node gives one number; otherwise SLURM_TASKS_PER_NODE lists every node's. */
    const char *tpn_var =
        boot_get("SLURM_NTASKS_PER_NODE") ? "SLURM_NTASKS_PER_NODE" : "SLURM_TASKS_PER_NODE";
    const char *tpn = boot_get(tpn_var);
    if (tpn) {
        int n;
        int which = strcmp(tpn_var, "SLURM_NTASKS_PER_NODE") ? node_id : -1;
        tacl_status_t st = tacl__slurm_tasks_per_node(tpn, which, &n);
        if (st == TACL_ERR_NOT_FOUND) {
            TACL_DEBUG(TACL_SUB_BOOT, "bootstrap: %s; local size unknown", tacl_last_error());
        } else if (st != TACL_OK) {
            return boot_fail("%s: %s", tpn_var, tacl_last_error());
        } else {
            b->local_size = n;
        }
    }
    if (boot_get("TACL_MASTER_ADDR")) return TACL_OK;
    /* Task 0 runs on the first node of the step, so the step's list comes first. */
    static const char *const lists[] = {"SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST",
                                        "SLURM_NODELIST"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const char *nl = boot_get(lists[i]);
        if (!nl) continue;
        if (tacl__nodelist_first(nl, b->master_addr, sizeof b->master_addr, NULL) != TACL_OK)
            return boot_fail("%s: %s", lists[i], tacl_last_error());
        return TACL_OK;
    }
    if (b->size == 1) return boot_set_addr(b, "127.0.0.1", "default");
    return boot_fail("Slurm started task %d of %d but neither SLURM_JOB_NODELIST nor "
                     "SLURM_NODELIST names the hosts: set TACL_MASTER_ADDR to rank 0's host",
                     b->rank, b->size);
}

/* Copies a launcher's job id; ids longer than the field keep their start and a hash of the
 * whole, so that every rank still derives the same value. */
static void boot_set_run_id(tacl_bootstrap_t *b, const char *id)
{
    size_t n = strlen(id);
    if (n < sizeof b->run_id) {
        memcpy(b->run_id, id, n + 1);
        return;
    }
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    snprintf(b->run_id, sizeof b->run_id, "%.*s~%016llx", (int)(sizeof b->run_id - 18), id,
             (unsigned long long)h);
}

static void boot_run_id(tacl_bootstrap_t *b)
{
    char buf[320];
    const char *id = boot_get("TACL_RUN_ID");
    if (!id && b->launcher == TACL_LAUNCHER_TORCHRUN) {
        id = boot_get("TORCHELASTIC_RUN_ID");
        /* torchrun's default --rdzv-id is "none", shared by every job: not an identity. */
        if (id && !strcmp(id, "none")) id = NULL;
    }
    if (!id && b->launcher == TACL_LAUNCHER_MPI) {
        id = boot_get("OMPI_MCA_orte_ess_jobid");
        if (!id) id = boot_get("OMPI_MCA_ess_base_jobid");
        if (!id) id = boot_get("PMIX_NAMESPACE");
    }
    if (!id && b->launcher == TACL_LAUNCHER_SLURM && boot_get("SLURM_JOB_ID")) {
        const char *step = boot_get("SLURM_STEP_ID");
        snprintf(buf, sizeof buf, "slurm-%s%s%s", boot_get("SLURM_JOB_ID"), step ? "." : "",
                 step ? step : "");
        id = buf;
    }
    if (!id) {
        /* Every rank of one job meets at the same store, on the same port; the address is
         * left out because ranks may spell it differently (a multi-homed store host reached
         * through different networks, a name and an address), and ranks at one store are
         * at one address by construction. */
        snprintf(buf, sizeof buf, "port-%d", b->master_port);
        id = buf;
    }
    boot_set_run_id(b, id);
}

static tacl_status_t boot_validate(const tacl_bootstrap_t *b)
{
    if (b->size < 1) return boot_fail("world size %d: at least 1 rank is needed", b->size);
    if (b->size > TACL_WORLD_SIZE_MAX)
        return boot_fail("world size %d exceeds the largest supported world, %d ranks "
                         "(TACL_WORLD_SIZE_MAX in tacl.h)",
                         b->size, TACL_WORLD_SIZE_MAX);
    if (b->rank >= b->size)
        return boot_fail("rank %d is not below the world size %d", b->rank, b->size);
    if (b->local_size == 0) return boot_fail("local world size 0: at least 1 rank is needed");
    if (b->local_size > b->size)
        return boot_fail("local world size %d exceeds the world size %d", b->local_size, b->size);
    if (b->local_rank >= 0 && b->local_size > 0 && b->local_rank >= b->local_size)
        return boot_fail("local rank %d is not below the local world size %d", b->local_rank,
                         b->local_size);
    if (b->local_rank >= b->size)
        return boot_fail("local rank %d is not below the world size %d", b->local_rank, b->size);
    return TACL_OK;
}

static tacl_status_t boot_port(tacl_bootstrap_t *b)
{
    int port = BOOT_DEFAULT_PORT, have;
    const char *from = "the default";
    TACL_CHECK(boot_int("TACL_MASTER_PORT", &port, &have));
    if (have) {
        from = "TACL_MASTER_PORT";
    } else if (b->launcher == TACL_LAUNCHER_TACL || b->launcher == TACL_LAUNCHER_TORCHRUN) {
        TACL_CHECK(boot_int("MASTER_PORT", &port, &have));
        if (have)
            from = "MASTER_PORT";
        else
            port = BOOT_DEFAULT_PORT;
    } else if (b->launcher == TACL_LAUNCHER_NONE) {
        /* A lone process hosts its own store: port 0 lets the kernel pick a free one. */
        port = 0;
    }
    if (port > 65535) return boot_fail("%s=%d is not a TCP port (1-65535)", from, port);
    if (port == 0 && b->size > 1)
        return boot_fail("%s=0 (any free port) only works for a single rank; this job has %d", from,
                         b->size);
    b->master_port = port;
    return TACL_OK;
}

const char *tacl_launcher_name(tacl_launcher_t l)
{
    switch (l) {
    case TACL_LAUNCHER_NONE:
        return "none";
    case TACL_LAUNCHER_TACL:
        return "tacl";
    case TACL_LAUNCHER_TORCHRUN:
        return "torchrun";
    case TACL_LAUNCHER_MPI:
        return "mpi";
    case TACL_LAUNCHER_SLURM:
        return "slurm";
    case TACL_LAUNCHER_EXPLICIT:
        return "explicit";
    }
    return "unknown";
}

tacl_status_t tacl_bootstrap_from_env(tacl_bootstrap_t *out)
{
    if (!out)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_BOOT,
                         "tacl_bootstrap_from_env: out is NULL");
    tacl_bootstrap_t b;
    memset(&b, 0, sizeof b);
    b.local_rank = -1;
    b.local_size = -1;
    TACL_CHECK(boot_check_agree());
    if (boot_get("TACL_RANK") || boot_get("TACL_WORLD_SIZE")) {
        TACL_CHECK(boot_from_tacl(&b));
    } else if (boot_get("RANK") || boot_get("WORLD_SIZE")) {
        TACL_CHECK(boot_from_torchrun(&b));
    } else if (boot_get("OMPI_COMM_WORLD_RANK") || boot_get("OMPI_COMM_WORLD_SIZE")) {
        TACL_CHECK(boot_from_mpi(&b));
    } else if (boot_get("SLURM_PROCID") || boot_get("SLURM_NTASKS")) {
        TACL_CHECK(boot_from_slurm(&b));
    } else {
        b.launcher = TACL_LAUNCHER_NONE;
        b.rank = 0;
        b.size = 1;
        b.local_rank = 0;
        b.local_size = 1;
        TACL_CHECK(boot_set_addr(&b, "127.0.0.1", "default"));
    }
    TACL_CHECK(boot_validate(&b));
    const char *addr = boot_get("TACL_MASTER_ADDR");
    if (addr) TACL_CHECK(boot_set_addr(&b, addr, "TACL_MASTER_ADDR"));
    TACL_CHECK(boot_port(&b));
    boot_run_id(&b);
    tacl__log_set_rank(b.rank);
    TACL_INFO(TACL_SUB_BOOT,
              "bootstrap: launcher %s, rank %d of %d, local %d of %d, master %s:%d, run id %s",
              tacl_launcher_name(b.launcher), b.rank, b.size, b.local_rank, b.local_size,
              b.master_addr, b.master_port, b.run_id);
    *out = b;
    return TACL_OK;
}
