/* log.c — the log writer: level and subsystem filters read once from TACL_LOG and
 * TACL_LOG_SUBSYS (reloadable), output to stderr or TACL_LOG_FILE with %h/%p expanded, and a
 * prefix of host, pid and rank on every line. Lines are written with one write() so that
 * lines from many threads and processes do not interleave. */
#include "log.h"

#include "clock.h"
#include "settings.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

static const char *const log_subsys_names[TACL_SUB_COUNT] = {
#define TACL_SUB_NAME_(name, str) str,
    TACL_SUBSYS_LIST(TACL_SUB_NAME_)
#undef TACL_SUB_NAME_
};

static const char *const log_level_names[] = {"NONE", "WARN", "INFO", "DEBUG", "TRACE"};

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_level = TACL_LOG_WARN;
static unsigned log_mask = ~0u;
static int log_fd = 2;
static _Atomic int log_rank = -1; /* set by tacl_init, which threads may call at once */
static char log_host[64];

const char *tacl__subsys_name(tacl__subsys_t sub)
{
    return (int)sub >= 0 && sub < TACL_SUB_COUNT ? log_subsys_names[sub] : "?";
}

static int log_parse_level(const char *v)
{
    for (int i = 0; i <= TACL_LOG_TRACE; i++)
        if (!strcasecmp(v, log_level_names[i])) return i;
    if (!strcasecmp(v, "warning") || !strcasecmp(v, "error")) return TACL_LOG_WARN;
    return -1;
}

/* "init,net" enables those; "^shm" enables all but shm (NCCL_DEBUG_SUBSYS syntax). */
static unsigned log_parse_mask(const char *v)
{
    if (!v[0] || !strcasecmp(v, "all")) return ~0u;
    int exclude = v[0] == '^';
    unsigned mask = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v + exclude);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcasecmp(tok, "all")) mask = ~0u;
        for (int i = 0; i < TACL_SUB_COUNT; i++)
            if (!strcasecmp(tok, log_subsys_names[i])) mask |= 1u << i;
    }
    return exclude ? ~mask : mask;
}

static void log_open_file(const char *pattern)
{
    char path[512];
    size_t o = 0;
    for (const char *p = pattern; *p && o + 1 < sizeof path; p++) {
        if (p[0] == '%' && p[1] == 'h') {
            o += (size_t)snprintf(path + o, sizeof path - o, "%s", log_host);
            p++;
        } else if (p[0] == '%' && p[1] == 'p') {
            o += (size_t)snprintf(path + o, sizeof path - o, "%d", (int)getpid());
            p++;
        } else {
            path[o++] = *p;
        }
        if (o >= sizeof path) o = sizeof path - 1;
    }
    path[o] = '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (log_fd > 2) close(log_fd);
        log_fd = fd;
    } else {
        dprintf(2, "tacl: cannot open TACL_LOG_FILE %s; logging to stderr\n", path);
    }
}

static void log_load(void)
{
    if (gethostname(log_host, sizeof log_host) != 0) snprintf(log_host, sizeof log_host, "?");
    log_host[sizeof log_host - 1] = '\0';
    const char *lv = tacl__setting_str(TACL_SET_LOG);
    int l = log_parse_level(lv);
    if (l < 0) {
        dprintf(2, "tacl: TACL_LOG=%s is not one of none|warn|info|debug|trace; using warn\n", lv);
        l = TACL_LOG_WARN;
    }
    log_level = l;
    log_mask = log_parse_mask(tacl__setting_str(TACL_SET_LOG_SUBSYS));
    const char *file = tacl__setting_str(TACL_SET_LOG_FILE);
    if (file[0]) log_open_file(file);
}

void tacl__log_reload(void)
{
    pthread_once(&log_once, log_load);
    pthread_mutex_lock(&log_lock);
    log_load();
    pthread_mutex_unlock(&log_lock);
}

void tacl__log_set_rank(int rank)
{
    log_rank = rank;
}

int tacl__log_enabled(tacl__log_level_t lvl, tacl__subsys_t sub)
{
    pthread_once(&log_once, log_load);
    return (int)lvl <= log_level && (log_mask >> sub & 1u);
}

void tacl__log_write(tacl__log_level_t lvl, tacl__subsys_t sub, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int n, rank = log_rank;
    if (rank >= 0)
        n = snprintf(line, sizeof line, "%s:%d:r%d %ld.%06ld tacl %s %s: ", log_host, (int)getpid(),
                     rank, (long)tv.tv_sec, (long)tv.tv_usec, log_level_names[lvl],
                     tacl__subsys_name(sub));
    else
        n = snprintf(line, sizeof line, "%s:%d %ld.%06ld tacl %s %s: ", log_host, (int)getpid(),
                     (long)tv.tv_sec, (long)tv.tv_usec, log_level_names[lvl],
                     tacl__subsys_name(sub));
    if (n < 0) return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(log_fd, line, len);
    (void)w;
}

int tacl__ratelimit_pass(tacl__ratelimit_t *r, double burst, unsigned *skipped)
{
    uint64_t now = tacl__now_ns();
    r->tokens = r->last_ns ? r->tokens + (double)(now - r->last_ns) / 1e9 : burst;
    if (r->tokens > burst) r->tokens = burst;
    r->last_ns = now;
    if (r->tokens < 1) {
        r->suppressed++;
        return 0;
    }
    r->tokens -= 1;
    *skipped = r->suppressed;
    r->suppressed = 0;
    return 1;
}

const char *tacl__ratelimit_note(unsigned skipped)
{
    static __thread char buf[96];
    if (!skipped) return "";
    snprintf(buf, sizeof buf, " (%u similar line%s left out in the last second)", skipped,
             skipped == 1 ? "" : "s");
    return buf;
}
