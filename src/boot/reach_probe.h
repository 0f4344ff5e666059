/* reach_probe.h — when a rank cannot reach the rendezvous store, which of the job's hosts can
 * it reach? A TCP connect to each candidate host (TACL_HOSTS, else Slurm's node list) on the
 * store's port, all in parallel and bounded by TACL_PROBE_TIMEOUT: a connection or a refusal
 * (ECONNREFUSED: the host's kernel answered) means reachable; no route, a timeout or a name
 * that does not resolve means not. The answer becomes part of the store error, so the person
 * reading it learns where a store could be hosted instead. */
#ifndef TACL_BOOT_REACH_PROBE_H
#define TACL_BOOT_REACH_PROBE_H

#include "err.h"

#include <stddef.h>

#define BOOT_REACH_MAX_HOSTS 64

typedef struct {
    char host[256];
    int reachable; /* 1: connected or refused; 0: not */
    char why[96];  /* "connection refused", "No route to host", "timed out after 1.0 s" */
} boot_reach_t;

/* Probes hosts[0..n-1] on port, each bounded by timeout_s; out[k] gets host k's verdict.
 * Never fails: a host whose probe cannot even start is reported unreachable with the reason. */
void boot_reach_probe(const char *const *hosts, int n, int port, double timeout_s,
                      boot_reach_t *out);

/* Candidate hosts of the job: TACL_HOSTS (comma-separated), else the Slurm node list
 * (SLURM_JOB_NODELIST / SLURM_NODELIST), at most BOOT_REACH_MAX_HOSTS. *src names where they
 * came from; both are set only when the count is > 0. Returns the count (0: no candidates
 * known). Free with boot_reach_hosts_free. */
int boot_reach_hosts(char ***hosts, const char **src);
void boot_reach_hosts_free(char **hosts, int n);

/* Appends to the recorded error st (this thread's message and eb) which candidate hosts this
 * rank reaches on the store's port, or how to tell it the candidates. Returns st. */
tacl_status_t boot_reach_explain(tacl__errbuf_t *eb, tacl_status_t st, int port);

/* Appends to the recorded error st which ranks never joined: rank r's claim is keys[r]; each is
 * checked on store (briefly, after the wait that timed out) and the missing ranks are listed
 * as ranges ("ranks that never joined: 2, 5-7 (3 of 8)"). Returns st. */
struct tacl_store;
tacl_status_t boot_reach_missing(tacl__errbuf_t *eb, tacl_status_t st, struct tacl_store *store,
                                 const char *const *keys, int n);

#endif
