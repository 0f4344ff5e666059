/* reach_probe.c — which of the job's hosts a rank can reach, for the error of a rank that
 * cannot reach the store (reach_probe.h). Non-blocking connects to every candidate at once,
 * one poll loop bounded by the probe timeout; a refusal counts as reachable because only the
 * host itself (its kernel) sends it, while "no route" and silence mean the network does not
 * get there. Also here: naming the ranks that never joined, for the ranks that did. */
#include "boot/reach_probe.h"

#include "boot/nodelist.h"
#include "tacl.h"
#include "clock.h"
#include "settings.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Starts a non-blocking connect to host:port; returns the fd, or -1 with out->why set (and
 * out->reachable when the refusal came at once). */
static int reach_start(const char *host, int port, boot_reach_t *out)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(host, ps, &hints, &ai);
    if (g) {
        snprintf(out->why, sizeof out->why, "does not resolve: %s", gai_strerror(g));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(out->why, sizeof out->why, "socket: %s", strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    int e = errno;
    freeaddrinfo(ai);
    if (rc == 0 || e == EINPROGRESS) {
        if (rc == 0) {
            out->reachable = 1;
            snprintf(out->why, sizeof out->why, "connected");
            close(fd);
            return -1;
        }
        return fd;
    }
    out->reachable = e == ECONNREFUSED;
    snprintf(out->why, sizeof out->why, "%s",
             e == ECONNREFUSED ? "connection refused" : strerror(e));
    close(fd);
    return -1;
}

void boot_reach_probe(const char *const *hosts, int n, int port, double timeout_s,
                      boot_reach_t *out)
{
    struct pollfd pf[BOOT_REACH_MAX_HOSTS];
    int idx[BOOT_REACH_MAX_HOSTS], np = 0;
    if (n > BOOT_REACH_MAX_HOSTS) n = BOOT_REACH_MAX_HOSTS;
    for (int k = 0; k < n; k++) {
        memset(&out[k], 0, sizeof out[k]);
        snprintf(out[k].host, sizeof out[k].host, "%s", hosts[k]);
        int fd = reach_start(hosts[k], port, &out[k]);
        if (fd < 0) continue;
        pf[np] = (struct pollfd){.fd = fd, .events = POLLOUT};
        idx[np++] = k;
    }
    uint64_t deadline = tacl__deadline_ns(timeout_s);
    while (np > 0) {
        int ms = tacl__ms_left(deadline);
        int rc = ms > 0 ? poll(pf, (nfds_t)np, ms) : 0;
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) break; /* the deadline: those left never answered */
        for (int i = np - 1; i >= 0; i--) {
            if (!pf[i].revents) continue;
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(pf[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
            boot_reach_t *o = &out[idx[i]];
            o->reachable = !err || err == ECONNREFUSED;
            snprintf(o->why, sizeof o->why, "%s",
                     !err                  ? "connected"
                     : err == ECONNREFUSED ? "connection refused"
                                           : strerror(err));
            close(pf[i].fd);
            pf[i] = pf[np - 1];
            idx[i] = idx[np - 1];
            np--;
        }
    }
    for (int i = 0; i < np; i++) {
        snprintf(out[idx[i]].why, sizeof out[idx[i]].why, "no answer within %.1f s", timeout_s);
        close(pf[i].fd);
    }
}

void boot_reach_hosts_free(char **hosts, int n)
{
    for (int k = 0; hosts && k < n; k++)
        free(hosts[k]);
    free(hosts);
}

int boot_reach_hosts(char ***hosts, const char **src)
{
    char **h = calloc(BOOT_REACH_MAX_HOSTS, sizeof *h);
    const char *from = "";
    int n = 0;
    if (!h) return 0;
    const char *list = tacl__setting_str(TACL_SET_HOSTS);
    if (list && list[0]) {
        from = "TACL_HOSTS";
        const char *p = list;
        while (*p && n < BOOT_REACH_MAX_HOSTS) {
            size_t l = strcspn(p, ",");
            while (l && (*p == ' '))
                p++, l--;
            if (l) h[n] = strndup(p, l);
            if (l && h[n]) n++;
            p += l;
            if (*p == ',') p++;
        }
    } else {
        const char *sl = getenv("SLURM_JOB_NODELIST");
        if (!sl || !sl[0]) sl = getenv("SLURM_NODELIST");
        tacl__nodelist_t nl;
        if (sl && sl[0] && tacl__nodelist_expand(sl, BOOT_REACH_MAX_HOSTS, &nl) == TACL_OK) {
            from = "the Slurm node list";
            for (size_t k = 0; k < nl.count && n < BOOT_REACH_MAX_HOSTS; k++)
                if ((h[n] = strdup(nl.hosts[k]))) n++;
            tacl__nodelist_free(&nl);
        }
    }
    if (!n) {
        free(h);
        return 0;
    }
    *hosts = h;
    *src = from;
    return n;
}

tacl_status_t boot_reach_explain(tacl__errbuf_t *eb, tacl_status_t st, int port)
{
    char prev[TACL_ERRMSG_MAX], text[TACL_ERRMSG_MAX];
    snprintf(prev, sizeof prev, "%s", tacl_last_error());
    char **hosts = NULL;
    const char *src = "";
    int n = boot_reach_hosts(&hosts, &src);
    if (!n)
        return tacl__err(eb, st, TACL_SUB_BOOT,
                         "%s; set TACL_HOSTS=host1,host2,... (the job's hosts) to learn which of "
                         "them this rank can reach, and so where a store could be hosted",
                         prev);
    boot_reach_t *r = calloc((size_t)n, sizeof *r);
    if (!r) {
        boot_reach_hosts_free(hosts, n);
        return tacl__err(eb, st, TACL_SUB_BOOT, "%s", prev);
    }
    double t = tacl__setting_dbl(TACL_SET_PROBE_TIMEOUT);
    boot_reach_probe((const char *const *)hosts, n, port, t > 0 ? t : 2, r);
    size_t o = 0;
    int nyes = 0;
    o += (size_t)snprintf(text + o, sizeof text - o,
                          "of the job's hosts (%s) this rank reaches:", src);
    for (int k = 0; k < n && o < sizeof text; k++)
        if (r[k].reachable)
            o += (size_t)snprintf(text + o, sizeof text - o, "%s %s (%s)", nyes++ ? "," : "",
                                  r[k].host, r[k].why);
    if (!nyes && o < sizeof text) o += (size_t)snprintf(text + o, sizeof text - o, " none");
    int nno = 0;
    for (int k = 0; k < n && o < sizeof text; k++)
        if (!r[k].reachable)
            o += (size_t)snprintf(text + o, sizeof text - o, "%s %s (%s)",
                                  nno++ ? "," : "; not:", r[k].host, r[k].why);
    for (int k = 0; k < n && o < sizeof text; k++)
        if (r[k].reachable) {
            snprintf(text + o, sizeof text - o,
                     "; host the store where every rank reaches it (from this rank: e.g. %s)",
                     r[k].host);
            break;
        }
    boot_reach_hosts_free(hosts, n);
    free(r);
    return tacl__err(eb, st, TACL_SUB_BOOT, "%s; %s", prev, text);
}

tacl_status_t boot_reach_missing(tacl__errbuf_t *eb, tacl_status_t st, struct tacl_store *store,
                                 const char *const *keys, int n)
{
    char prev[TACL_ERRMSG_MAX], text[512];
    snprintf(prev, sizeof prev, "%s", tacl_last_error());
    /* A short bound: this runs after a timeout, and a store that stopped answering must not
     * double the wait. */
    tacl_store_set_timeout(store, 2.0);
    size_t o = 0;
    int nmiss = 0, run_start = -1;
    for (int r = 0; r <= n; r++) {
        int missing = 0;
        if (r < n) {
            int exists = 0;
            if (tacl_store_check(store, &keys[r], 1, &exists) != TACL_OK)
                return tacl__err(eb, st, TACL_SUB_BOOT, "%s", prev); /* keep the first error */
            missing = !exists;
            nmiss += missing;
        }
        if (missing && run_start < 0) run_start = r;
        if (!missing && run_start >= 0 && o < sizeof text) {
            if (r - 1 > run_start)
                o += (size_t)snprintf(text + o, sizeof text - o, "%s%d-%d", o ? ", " : "",
                                      run_start, r - 1);
            else
                o += (size_t)snprintf(text + o, sizeof text - o, "%s%d", o ? ", " : "", run_start);
            run_start = -1;
        }
    }
    if (!nmiss) return tacl__err(eb, st, TACL_SUB_BOOT, "%s", prev);
    return tacl__err(eb, st, TACL_SUB_BOOT, "%s; rank%s that never joined: %s (%d of %d)", prev,
                     nmiss == 1 ? "" : "s", text, nmiss, n);
}
