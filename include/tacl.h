/* tacl.h — the whole public API of tacl, the topology-aware collective library.
 *
 * Conventions: every call returns tacl_status_t; outputs come last and are set only on
 * success; handles are opaque pointers; a failed call leaves a message retrievable with the
 * handle's *_last_error() or, for calls without a handle, tacl_last_error() (thread-local).
 * The library never calls abort() or exit() on user or remote input, and every blocking call
 * has a deadline. Thread-safety: one operation at a time per handle; different handles may be
 * used from different threads concurrently. */
#ifndef TACL_H
#define TACL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TACL_VERSION_MAJOR  0
#define TACL_VERSION_MINOR  1
#define TACL_VERSION_PATCH  0
#define TACL_VERSION_STRING "0.1.0"
#define TACL_VERSION_CODE                                                                          \
    (TACL_VERSION_MAJOR * 10000 + TACL_VERSION_MINOR * 100 + TACL_VERSION_PATCH)

#if defined(__GNUC__)
#define TACL_API __attribute__((visibility("default")))
#else
#define TACL_API
#endif

/* ---- Status codes: one list generates the enum, the names and the messages. ---- */
#define TACL_STATUS_LIST(X)                                                                        \
    X(TACL_OK, 0, "success")                                                                       \
    X(TACL_ERR_INVALID, 1, "invalid argument")                                                     \
    X(TACL_ERR_TIMEOUT, 2, "operation timed out")                                                  \
    X(TACL_ERR_PEER_LOST, 3, "a peer was lost")                                                    \
    X(TACL_ERR_MISMATCH, 4, "ranks called mismatched operations")                                  \
    X(TACL_ERR_UNREACHABLE, 5, "peer or service unreachable")                                      \
    X(TACL_ERR_UNAVAILABLE, 6, "feature or library unavailable")                                   \
    X(TACL_ERR_SYSTEM, 7, "operating-system call failed")                                          \
    X(TACL_ERR_NOMEM, 8, "out of memory")                                                          \
    X(TACL_ERR_PROTOCOL, 9, "malformed or unexpected message")                                     \
    X(TACL_ERR_NOT_FOUND, 10, "not found")                                                         \
    X(TACL_ERR_BOOTSTRAP, 11, "bootstrap failed")                                                  \
    X(TACL_ERR_CONFIG, 12, "bad configuration or input file")                                      \
    X(TACL_ERR_DISCONNECTED, 13, "topology is disconnected")                                       \
    X(TACL_ERR_GPU, 14, "GPU runtime or NCCL error")                                               \
    X(TACL_ERR_CLOSED, 15, "handle or connection closed")                                          \
    X(TACL_ERR_INTERNAL, 16, "internal error")                                                     \
    X(TACL_ERR_AUTH, 17, "authentication failed (wrong or missing job token)")

typedef enum {
#define TACL_STATUS_ENUM_(name, value, msg) name = value,
    TACL_STATUS_LIST(TACL_STATUS_ENUM_)
#undef TACL_STATUS_ENUM_
        TACL_STATUS_COUNT_
} tacl_status_t;

/* Short description of a status ("operation timed out"). Never NULL. */
TACL_API const char *tacl_status_str(tacl_status_t st);
/* Symbolic name of a status ("TACL_ERR_TIMEOUT"). Never NULL. */
TACL_API const char *tacl_status_name(tacl_status_t st);
/* Message of the last failed call made by this thread (any handle). Never NULL. */
TACL_API const char *tacl_last_error(void);
TACL_API const char *tacl_version(void);
/* Frees memory that tacl returned to the caller (store values, strings). */
TACL_API void tacl_free(void *p);

/* ---- Data types and reduction operators. ---- */
typedef enum {
    TACL_INT8 = 0,
    TACL_UINT8,
    TACL_INT32,
    TACL_UINT32,
    TACL_INT64,
    TACL_UINT64,
    TACL_FLOAT16,
    TACL_BFLOAT16,
    TACL_FLOAT32,
    TACL_FLOAT64,
    TACL_DTYPE_COUNT
} tacl_dtype_t;

typedef enum { TACL_SUM = 0, TACL_PROD, TACL_MIN, TACL_MAX, TACL_AVG, TACL_OP_COUNT } tacl_op_t;

TACL_API size_t tacl_dtype_size(tacl_dtype_t dt); /* 0 for an unknown type */
TACL_API const char *tacl_dtype_name(tacl_dtype_t dt);
TACL_API const char *tacl_op_name(tacl_op_t op);

/* ---- Rendezvous store (TCP key-value server; PyTorch's TCPStore semantics). ---- */
typedef struct tacl_store tacl_store_t;
typedef struct tacl_store_server tacl_store_server_t;

/* Starts a store server on bind_addr (NULL: all IPv4 and IPv6 addresses) and port (0: the
 * kernel picks one; tacl_store_server_port tells which). It serves from its own thread. */
TACL_API tacl_status_t tacl_store_server_start(const char *bind_addr, int port,
                                               tacl_store_server_t **out);
TACL_API int tacl_store_server_port(const tacl_store_server_t *srv);
TACL_API void tacl_store_server_stop(tacl_store_server_t *srv);

/* Connects to host:port, retrying for up to timeout_s seconds (<= 0: TACL_STORE_TIMEOUT).
 * The same timeout bounds every later blocking call on the handle. */
TACL_API tacl_status_t tacl_store_connect(const char *host, int port, double timeout_s,
                                          tacl_store_t **out);
TACL_API void tacl_store_close(tacl_store_t *st);
TACL_API void tacl_store_set_timeout(tacl_store_t *st, double timeout_s);
TACL_API const char *tacl_store_last_error(const tacl_store_t *st);

TACL_API tacl_status_t tacl_store_set(tacl_store_t *st, const char *key, const void *val,
                                      size_t len);
/* Blocks until key exists (or the timeout); *val is malloc'd (free with tacl_free) and
 * NUL-terminated one byte past *len for convenience. */
TACL_API tacl_status_t tacl_store_get(tacl_store_t *st, const char *key, void **val, size_t *len);
/* Blocks until every key exists; a timeout names the keys still missing. */
TACL_API tacl_status_t tacl_store_wait(tacl_store_t *st, const char *const *keys, size_t nkeys);
/* Atomically adds delta to the integer stored at key (missing: 0) and returns the new value. */
TACL_API tacl_status_t tacl_store_add(tacl_store_t *st, const char *key, int64_t delta,
                                      int64_t *out);
/* Sets key to desired if its value equals expected (a missing key matches an empty expected);
 * returns the value held afterwards. */
TACL_API tacl_status_t tacl_store_compare_set(tacl_store_t *st, const char *key,
                                              const void *expected, size_t expected_len,
                                              const void *desired, size_t desired_len, void **out,
                                              size_t *out_len);
TACL_API tacl_status_t tacl_store_delete(tacl_store_t *st, const char *key, int *deleted);
/* Non-blocking: *all_exist = 1 when every key exists. */
TACL_API tacl_status_t tacl_store_check(tacl_store_t *st, const char *const *keys, size_t nkeys,
                                        int *all_exist);
TACL_API tacl_status_t tacl_store_num_keys(tacl_store_t *st, int64_t *out);

/* ---- Bootstrap: who am I, from the launcher that started this process. ---- */
typedef enum {
    TACL_LAUNCHER_NONE = 0, /* single process, rank 0 of 1 */
    TACL_LAUNCHER_TACL,     /* TACL_RANK / TACL_WORLD_SIZE ... (tacl run sets these) */
    TACL_LAUNCHER_TORCHRUN, /* RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR ... */
    TACL_LAUNCHER_MPI,      /* OMPI_COMM_WORLD_* */
    TACL_LAUNCHER_SLURM,    /* SLURM_PROCID / SLURM_NTASKS / SLURM_JOB_NODELIST */
    TACL_LAUNCHER_EXPLICIT  /* values given in tacl_init_opts_t */
} tacl_launcher_t;

/* Largest world: every rank holds the world's reachability matrix (size^2 bytes, 64 MiB here),
 * built from the probe's verdicts gathered through the store. Bootstrap refuses larger sizes. */
#define TACL_WORLD_SIZE_MAX 8192

typedef struct {
    tacl_launcher_t launcher;
    int rank, size;             /* world rank and size */
    int local_rank, local_size; /* local_size -1 when the launcher does not say */
    char master_addr[256];
    int master_port;
    char run_id[64]; /* ranks of one job share it; a rank with another is refused */
} tacl_bootstrap_t;

/* Reads the launcher's variables (TACL_*, then torchrun, Open MPI, Slurm). Missing or
 * contradictory values give TACL_ERR_BOOTSTRAP with what was looked for and found. */
TACL_API tacl_status_t tacl_bootstrap_from_env(tacl_bootstrap_t *out);
/* This host's identity: hostname + boot id + network namespace, or TACL_HOST_ID. */
TACL_API tacl_status_t tacl_host_id(char *buf, size_t len);

/* ---- Communicators. ---- */
typedef struct tacl_comm tacl_comm_t;

typedef struct {
    const tacl_bootstrap_t *bootstrap; /* NULL: tacl_bootstrap_from_env() */
    double timeout_s;                  /* <= 0: TACL_TIMEOUT */
} tacl_init_opts_t;

/* Creates the world communicator: meets the other ranks through the store (rank 0 hosts it
 * unless one runs at TACL_MASTER_ADDR already), agrees on the world, connects the ranks. */
TACL_API tacl_status_t tacl_init(tacl_comm_t **world);
TACL_API tacl_status_t tacl_init_opts(const tacl_init_opts_t *opts, tacl_comm_t **world);
/* Destroys a communicator (the world one last). Never blocks past the communicator timeout, and
 * returns within seconds when a peer is already known lost or stalled (tacl_comm_peer_alive 0)
 * or the store already failed to answer. The handle is invalid afterwards: a later call with it
 * is a caller error; tacl catches it where it can (a tag cleared at destroy: TACL_ERR_INVALID,
 * a second destroy does nothing), but not once the memory is reused. */
TACL_API void tacl_comm_destroy(tacl_comm_t *comm);
/* MPI_Comm_split: ranks with the same color form a communicator ordered by (key, old rank);
 * color < 0 opts out (*out = NULL). Collective over comm. */
TACL_API tacl_status_t tacl_comm_split(tacl_comm_t *comm, int color, int key, tacl_comm_t **out);
TACL_API int tacl_comm_rank(const tacl_comm_t *comm);
TACL_API int tacl_comm_size(const tacl_comm_t *comm);
TACL_API int tacl_comm_local_rank(const tacl_comm_t *comm); /* among ranks of this host */
TACL_API int tacl_comm_local_size(const tacl_comm_t *comm);
TACL_API const char *tacl_comm_host_id(const tacl_comm_t *comm, int rank);
TACL_API int tacl_comm_world_rank(const tacl_comm_t *comm, int rank);
TACL_API void tacl_comm_set_timeout(tacl_comm_t *comm, double timeout_s);
/* 1 while rank is alive and reachable as far as this rank knows (peer deaths and cut links are
 * learnt within seconds, without any call), 0 once it is lost (its process ended), stalled or
 * cut off (no path of working links leads to it). Stalled: nothing arrived from it on this
 * rank's own link to it for 3.5 heartbeats (TACL_HEARTBEAT), or for 2.5 when another rank
 * reported it silent too — a stopped or hung process, or a cut cable to it; operations that
 * need it fail naming it. */
TACL_API int tacl_comm_peer_alive(const tacl_comm_t *comm, int rank);
TACL_API const char *tacl_comm_last_error(const tacl_comm_t *comm);
/* The store the world met through (shared by every communicator derived from it). */
TACL_API tacl_store_t *tacl_comm_store(tacl_comm_t *comm);

/* ---- Collectives on host memory. counts are elements; B = count * dtype size bytes. ----
 * Ranks that call different collectives, or disagree on count, dtype, op or root, all get
 * TACL_ERR_MISMATCH naming a rank and what differs (never TACL_OK); a rank that rejects its own
 * call gets TACL_ERR_INVALID and the others TACL_ERR_MISMATCH naming it. The communicator stays
 * usable.
 * In place (NCCL's conventions): all_reduce, reduce, broadcast: send == recv; all_gather:
 * send == recv + rank * B (all_gatherv: recv + displs[rank] * size); reduce_scatter:
 * recv == send + rank * B; gather at the root: send == recv + root * B; scatter at the root:
 * recv == send + root * B; all_to_all(v): send == recv (any layouts: data is read before it is
 * overwritten). Any other overlap of the bytes a rank reads with the bytes it writes is
 * TACL_ERR_INVALID naming both buffers. Every byte size, displacement + count and sum of counts
 * must fit size_t (else TACL_ERR_INVALID naming the argument). The v-variants compare counts
 * pairwise: when the count a rank sends another differs from the count that rank expects (and
 * for tacl_recv, when the message is longer or shorter than the receive), both ranks of the
 * pair (the receiver, for tacl_recv) fail with TACL_ERR_MISMATCH naming sender, receiver and
 * both counts; other ranks may succeed with their data right. */
TACL_API tacl_status_t tacl_all_reduce(tacl_comm_t *comm, const void *send, void *recv,
                                       size_t count, tacl_dtype_t dt, tacl_op_t op);
TACL_API tacl_status_t tacl_reduce(tacl_comm_t *comm, const void *send, void *recv, size_t count,
                                   tacl_dtype_t dt, tacl_op_t op, int root);
TACL_API tacl_status_t tacl_broadcast(tacl_comm_t *comm, const void *send, void *recv, size_t count,
                                      tacl_dtype_t dt, int root);
/* recv holds size * count elements, rank r's at r * count. */
TACL_API tacl_status_t tacl_all_gather(tacl_comm_t *comm, const void *send, void *recv,
                                       size_t count, tacl_dtype_t dt);
TACL_API tacl_status_t tacl_all_gatherv(tacl_comm_t *comm, const void *send, size_t send_count,
                                        void *recv, const size_t *recv_counts, const size_t *displs,
                                        tacl_dtype_t dt);
/* send holds size * recv_count elements; rank r receives the reduction of block r. */
TACL_API tacl_status_t tacl_reduce_scatter(tacl_comm_t *comm, const void *send, void *recv,
                                           size_t recv_count, tacl_dtype_t dt, tacl_op_t op);
TACL_API tacl_status_t tacl_gather(tacl_comm_t *comm, const void *send, void *recv, size_t count,
                                   tacl_dtype_t dt, int root);
TACL_API tacl_status_t tacl_scatter(tacl_comm_t *comm, const void *send, void *recv, size_t count,
                                    tacl_dtype_t dt, int root);
/* count elements go to each peer: block r of send goes to rank r. */
TACL_API tacl_status_t tacl_all_to_all(tacl_comm_t *comm, const void *send, void *recv,
                                       size_t count, tacl_dtype_t dt);
TACL_API tacl_status_t tacl_all_to_allv(tacl_comm_t *comm, const void *send,
                                        const size_t *send_counts, const size_t *send_displs,
                                        void *recv, const size_t *recv_counts,
                                        const size_t *recv_displs, tacl_dtype_t dt);
TACL_API tacl_status_t tacl_barrier(tacl_comm_t *comm);
/* Host memory that the ranks of comm on one host map from each other (a sealed memfd per rank,
 * mapped by every rank of the host). An all_reduce whose send and recv lie in such memory on
 * every rank of the host reads the peers' send buffers and writes their recv buffers directly,
 * instead of copying through the shared-memory segment: about 2 bytes of memory traffic per
 * byte of the message instead of about 4.75; a reduce_scatter or all_gather(v) whose sends lie
 * in it reads the peers' sends directly (its recv may be any memory), and a broadcast whose
 * root's buffer lies in it is copied straight from there. Collective over comm: every rank calls it
 * with the same bytes, and the calls of a host are matched in order like collectives
 * (TACL_ERR_MISMATCH otherwise). *out is page-aligned and zeroed; it is ordinary memory for every
 * other use, and stays ordinary memory where the host's ranks cannot map each other's
 * (/proc/<pid>/fd closed to them: all_reduce then copies as usual). Freed by tacl_mem_free or
 * tacl_comm_destroy. */
TACL_API tacl_status_t tacl_mem_alloc(tacl_comm_t *comm, size_t bytes, void **out);
/* Collective like tacl_mem_alloc: every rank frees its part of the same allocation. */
TACL_API tacl_status_t tacl_mem_free(tacl_comm_t *comm, void *p);
/* Tagged point-to-point; works between any two ranks of a connected graph (routed where no
 * direct link exists). Messages with the same (peer, tag) arrive in order. */
TACL_API tacl_status_t tacl_send(tacl_comm_t *comm, const void *buf, size_t count, tacl_dtype_t dt,
                                 int peer, int tag);
TACL_API tacl_status_t tacl_recv(tacl_comm_t *comm, void *buf, size_t count, tacl_dtype_t dt,
                                 int peer, int tag);

/* ---- Launch (bootstrap and host identity; see tacl_bootstrap_from_env above). ----
 * In a tacl_bootstrap_t, local_rank is -1 (like local_size) when the launcher does not say.
 * master_port 0 appears only for a lone process (no launcher variables, TACL_MASTER_PORT
 * unset): its rank 0 starts the store on port 0, and the kernel picks a free port. Without a
 * launcher's job id, run_id is "port-<master_port>": the same on every rank however it spells
 * the store's address (a multi-homed store host may be reached through different addresses). */
/* Name of a launcher: "none", "tacl", "torchrun", "mpi", "slurm", "explicit". Never NULL. */
TACL_API const char *tacl_launcher_name(tacl_launcher_t l);

/* ---- GPU: device communicators over a dlopen'd NCCL (no CUDA or NCCL needed to build). ----
 * Which NCCL is loaded: TACL_NCCL_SO_PATH, else PyTorch's (already in the process, else in the
 * site-packages of TACL_PYTHON) unless TACL_USE_PYTORCH_NCCL=0, else the system's libnccl.so.2,
 * else librccl.so.1 (docs/GPU.md). Device calls take a cudaStream_t as void *, are enqueued on
 * it without host synchronisation (capturable in CUDA graphs) and take device buffers of the
 * communicator's GPU; a buffer on another GPU gives TACL_ERR_INVALID naming both. */
typedef struct tacl_dev_comm tacl_dev_comm_t;

/* The NCCL this process loaded (loading it now if needed): version as NCCL encodes it (22803 for
 * 2.28.3) and the file. TACL_ERR_UNAVAILABLE lists every candidate tried when none loads. */
TACL_API tacl_status_t tacl_nccl_loaded(int *version, const char **path);

/* Collective over host_comm: rank 0's ncclUniqueId is broadcast over it, every rank initialises
 * NCCL on `device` (non-blocking, bounded by TACL_TIMEOUT), ranks that never joined are named on
 * every rank, ranks that loaded different NCCL versions fail with TACL_ERR_MISMATCH, and a
 * checked warm-up all_reduce runs before it returns. */
TACL_API tacl_status_t tacl_dev_comm_create(tacl_comm_t *host_comm, int device,
                                            tacl_dev_comm_t **out);
/* Finalizes (bounded), or aborts when finalize does not complete in time; never hangs. */
TACL_API void tacl_dev_comm_destroy(tacl_dev_comm_t *dc);
/* TACL_OK, or the asynchronous NCCL error (TACL_ERR_PEER_LOST for a remote failure). */
TACL_API tacl_status_t tacl_dev_comm_check(tacl_dev_comm_t *dc);
/* Waits until the work on stream completes, watching for asynchronous errors; after the
 * timeout aborts the communicator and returns TACL_ERR_TIMEOUT. */
TACL_API tacl_status_t tacl_dev_comm_sync(tacl_dev_comm_t *dc, void *stream);
TACL_API int tacl_dev_comm_rank(const tacl_dev_comm_t *dc);
TACL_API int tacl_dev_comm_size(const tacl_dev_comm_t *dc);
TACL_API int tacl_dev_comm_device(const tacl_dev_comm_t *dc);
TACL_API int tacl_dev_comm_nccl_version(const tacl_dev_comm_t *dc);
TACL_API void tacl_dev_comm_set_timeout(tacl_dev_comm_t *dc, double timeout_s);
TACL_API const char *tacl_dev_comm_last_error(const tacl_dev_comm_t *dc);

TACL_API tacl_status_t tacl_dev_all_reduce(tacl_dev_comm_t *dc, const void *send, void *recv,
                                           size_t count, tacl_dtype_t dt, tacl_op_t op,
                                           void *stream);
TACL_API tacl_status_t tacl_dev_reduce(tacl_dev_comm_t *dc, const void *send, void *recv,
                                       size_t count, tacl_dtype_t dt, tacl_op_t op, int root,
                                       void *stream);
TACL_API tacl_status_t tacl_dev_broadcast(tacl_dev_comm_t *dc, const void *send, void *recv,
                                          size_t count, tacl_dtype_t dt, int root, void *stream);
TACL_API tacl_status_t tacl_dev_all_gather(tacl_dev_comm_t *dc, const void *send, void *recv,
                                           size_t count, tacl_dtype_t dt, void *stream);
TACL_API tacl_status_t tacl_dev_reduce_scatter(tacl_dev_comm_t *dc, const void *send, void *recv,
                                               size_t recv_count, tacl_dtype_t dt, tacl_op_t op,
                                               void *stream);
/* Block r of send goes to rank r (grouped send/recv). */
TACL_API tacl_status_t tacl_dev_all_to_all(tacl_dev_comm_t *dc, const void *send, void *recv,
                                           size_t count, tacl_dtype_t dt, void *stream);
TACL_API tacl_status_t tacl_dev_gather(tacl_dev_comm_t *dc, const void *send, void *recv,
                                       size_t count, tacl_dtype_t dt, int root, void *stream);
TACL_API tacl_status_t tacl_dev_scatter(tacl_dev_comm_t *dc, const void *send, void *recv,
                                        size_t count, tacl_dtype_t dt, int root, void *stream);
TACL_API tacl_status_t tacl_dev_send(tacl_dev_comm_t *dc, const void *buf, size_t count,
                                     tacl_dtype_t dt, int peer, void *stream);
TACL_API tacl_status_t tacl_dev_recv(tacl_dev_comm_t *dc, void *buf, size_t count, tacl_dtype_t dt,
                                     int peer, void *stream);
/* Optional NCCL features, used when the loaded NCCL has them (else TACL_ERR_UNAVAILABLE naming
 * the missing symbol). Split: collective over dc, like tacl_comm_split (color < 0: *out = NULL).
 * Register: ncclCommRegister of a buffer for zero-copy paths. Window: ncclCommWindowRegister
 * (symmetric memory, NCCL >= 2.27). Mem: NCCL's allocator (ncclMemAlloc), for buffers that
 * registration and NVLink SHARP need. */
TACL_API tacl_status_t tacl_dev_comm_split(tacl_dev_comm_t *dc, int color, int key,
                                           tacl_dev_comm_t **out);
TACL_API tacl_status_t tacl_dev_comm_register(tacl_dev_comm_t *dc, void *buf, size_t bytes,
                                              void **handle);
TACL_API tacl_status_t tacl_dev_comm_deregister(tacl_dev_comm_t *dc, void *handle);
TACL_API tacl_status_t tacl_dev_comm_window_register(tacl_dev_comm_t *dc, void *buf, size_t bytes,
                                                     int flags, void **win);
TACL_API tacl_status_t tacl_dev_comm_window_deregister(tacl_dev_comm_t *dc, void *win);
TACL_API tacl_status_t tacl_dev_mem_alloc(size_t bytes, void **out);
TACL_API tacl_status_t tacl_dev_mem_free(void *p);
/* ncclGroupStart/End: calls between them are issued together (e.g. several send/recv). */
TACL_API tacl_status_t tacl_dev_group_start(tacl_dev_comm_t *dc);
TACL_API tacl_status_t tacl_dev_group_end(tacl_dev_comm_t *dc);

/* ---- Groups: a host communicator paired with a device communicator (vLLM's
 * GroupCoordinator), and parallel state (TP/PP/DP/EP groups with vLLM's rank layout). ---- */
typedef struct tacl_group tacl_group_t;

/* Pairs host (owned by the group when own_host is 1) with a device communicator on `device`
 * (device < 0: host only). Collective over host. */
TACL_API tacl_status_t tacl_group_create(tacl_comm_t *host, int own_host, int device,
                                         tacl_group_t **out);
TACL_API void tacl_group_destroy(tacl_group_t *g);
TACL_API tacl_comm_t *tacl_group_host(tacl_group_t *g);
TACL_API tacl_dev_comm_t *tacl_group_dev(tacl_group_t *g); /* NULL for host-only groups */
TACL_API int tacl_group_rank(const tacl_group_t *g);
TACL_API int tacl_group_size(const tacl_group_t *g);
TACL_API const char *tacl_group_last_error(const tacl_group_t *g);
TACL_API tacl_status_t tacl_group_barrier(tacl_group_t *g);
/* Object (metadata) broadcast over the host side: root's len bytes; every rank gets a malloc'd
 * copy (free with tacl_free) and its length. Length-prefixed, so ranks need not know it. */
TACL_API tacl_status_t tacl_group_broadcast_obj(tacl_group_t *g, const void *obj, size_t len,
                                                int root, void **out, size_t *out_len);
/* Tensor all_reduce: on the device side when the group has one (stream is the cudaStream_t),
 * else on the host side (stream ignored). */
TACL_API tacl_status_t tacl_group_all_reduce(tacl_group_t *g, const void *send, void *recv,
                                             size_t count, tacl_dtype_t dt, tacl_op_t op,
                                             void *stream);

typedef enum {
    TACL_PAR_TP = 0,
    TACL_PAR_PP,
    TACL_PAR_DP,
    TACL_PAR_EP,
    TACL_PAR_COUNT
} tacl_par_kind_t;
typedef struct {
    int tp, pp, dp, ep; /* 0 means 1; world = ext * dp * pp * tp, ep divides dp * tp */
} tacl_par_sizes_t;
typedef struct tacl_parallel tacl_parallel_t;

/* Where world rank `rank` sits: for each kind, the color and key of its group (as given to
 * tacl_comm_split) and the world ranks of the group (ranks may be NULL; *nranks receives the
 * group size). Pure computation; TACL_ERR_INVALID when the sizes do not fit the world. */
TACL_API tacl_status_t tacl_par_layout(int world, const tacl_par_sizes_t *sz, int rank,
                                       tacl_par_kind_t kind, int *color, int *key, int *ranks,
                                       int *nranks);
/* Builds the TP, PP, DP and EP groups of world (each via tacl_comm_split, each paired with a
 * device communicator on `device` unless device < 0). Collective over world. */
TACL_API tacl_status_t tacl_parallel_create(tacl_comm_t *world, const tacl_par_sizes_t *sz,
                                            int device, tacl_parallel_t **out);
TACL_API tacl_group_t *tacl_parallel_group(tacl_parallel_t *p, tacl_par_kind_t kind);
TACL_API void tacl_parallel_destroy(tacl_parallel_t *p);
/* ---- Broadcast message queue: one writer, every other rank of a communicator a reader
 * (vLLM's shm_broadcast MessageQueue). Ranks on the writer's host read a ring in shared memory
 * (one segment per host, unlinked once every rank has mapped it); each other host gets one copy
 * of every message over tacl's engine (routed, so a host behind a relay gets them too), which
 * its first rank passes on through its own host's ring. Messages arrive in order, whole, of any
 * length (0 included); one larger than a chunk spans several. Waits spin for spin_us, then
 * sleep on a futex until the other side wakes them: an idle reader costs no CPU. Every blocking
 * call is bounded by the communicator's timeout (tacl_comm_set_timeout); the communicator must
 * outlive the queue. A full ring is logged after 1 s naming the readers behind (rank, host, by
 * how many messages, for how long), and the writer's enqueue fails at the deadline with
 * TACL_ERR_TIMEOUT naming them. A timeout leaves the queue usable (call again), except for a
 * writer part-way through a message larger than the ring. A dead writer or reader fails the
 * others' waits with TACL_ERR_PEER_LOST within seconds; messages already queued are still
 * delivered first. Creation fails with TACL_ERR_NOMEM and the figures when /dev/shm has no
 * room for the ring. One operation at a time per queue handle. */
typedef struct tacl_mq tacl_mq_t;
typedef struct {
    size_t chunk_bytes; /* bytes per ring chunk (0: TACL_MQ_CHUNK_BYTES, 64 KiB) */
    size_t chunks;      /* chunks per ring (0: TACL_MQ_CHUNKS, 128); also the messages a remote
                           host may have unacknowledged */
    double spin_us;     /* spin before sleeping (0: TACL_MQ_SPIN_US; < 0: sleep at once) */
} tacl_mq_opts_t;

/* Collective over comm: every rank passes the same writer and sizes (else TACL_ERR_MISMATCH on
 * every rank); all ranks succeed or all fail. opts may be NULL. */
TACL_API tacl_status_t tacl_mq_create(tacl_comm_t *comm, int writer, const tacl_mq_opts_t *opts,
                                      tacl_mq_t **out);
/* The writer's destroy tells the readers TACL_ERR_CLOSED once they have read what was queued
 * (on another host, once that host's first rank has read it too). */
TACL_API void tacl_mq_destroy(tacl_mq_t *mq);
/* Writer only: queues a copy of len bytes for every reader; waits while a ring or a remote
 * host's window is full. */
TACL_API tacl_status_t tacl_mq_enqueue(tacl_mq_t *mq, const void *buf, size_t len);
/* Reader: waits for the next message; *buf is a read-only view valid until tacl_mq_release
 * (which must come before the next dequeue). On the writer's host a message up to the ring's
 * size (chunk_bytes * chunks) is read in place in shared memory, even when it spans chunks; a
 * larger one, and every message on another host, is a private copy. */
TACL_API tacl_status_t tacl_mq_dequeue(tacl_mq_t *mq, const void **buf, size_t *len);
TACL_API tacl_status_t tacl_mq_release(tacl_mq_t *mq);
/* Reader: copies the next message into buf and releases it. When it is larger than cap:
 * TACL_ERR_INVALID with *len = its length, and the message stays queued for the next call. */
TACL_API tacl_status_t tacl_mq_dequeue_into(tacl_mq_t *mq, void *buf, size_t cap, size_t *len);
TACL_API const char *tacl_mq_last_error(const tacl_mq_t *mq);

/* ---- Rendezvous store: limits and threading (store part). ----
 * A store client handle serves one thread at a time (one synchronous request in flight per
 * connection); use one handle per thread. The server is thread-safe and serves any number of
 * clients. Requests beyond these limits fail with TACL_ERR_INVALID on the client; a peer that
 * sends them anyway is disconnected by the server. */
#define TACL_STORE_KEY_MAX   4096u       /* bytes per key */
#define TACL_STORE_VALUE_MAX (64u << 20) /* bytes per value (64 MiB) */
#define TACL_STORE_KEYS_MAX  65536u      /* keys per wait/check request */
/* ---- Cluster descriptions (docs/CLUSTER_FORMAT.md): hosts, GPUs, links between hosts,
 * unreachable pairs. Read by `tacl plan` and TACL_TOPO_FILE; written by `tacl doctor --json`.
 * The structure is defined in src/topo/cluster.h for the layers that read its fields. ---- */
#include <stdio.h>
typedef struct tacl_cluster tacl_cluster_t;
/* Reads a YAML or JSON cluster file. Errors: TACL_ERR_CONFIG "file:line:col: expected ...". */
TACL_API tacl_status_t tacl_cluster_load(const char *path, tacl_cluster_t **out);
/* Writes the cluster as JSON in the same format (a round trip keeps every figure). */
TACL_API tacl_status_t tacl_cluster_write_json(const tacl_cluster_t *c, FILE *f);
TACL_API void tacl_cluster_destroy(tacl_cluster_t *c);

#ifdef __cplusplus
}
#endif
#endif /* TACL_H */
