/* doctor_cpus.c — the CPU part of `tacl doctor`'s report: how many CPUs the ranks of each host
 * may use together (their affinity masks and control-group quotas, as each rank saw them) and
 * the verdict where they are fewer than the ranks: ranks then take turns on the cores, and every
 * collective among them waits for whichever rank the scheduler left out. */
#include "topo/doctor_report.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* "0-3,8,10-11" for the CPUs set in mask, into list (cut at len). */
static void doctor_cpu_list(const uint8_t *mask, char *list, size_t len)
{
    size_t pos = 0;
    int first = -1, any = 0;
    const int ncpu = TACL_DOCTOR_CPU_BYTES * 8;
    if (!len) return;
    list[0] = '\0';
    for (int c = 0; c <= ncpu; c++) {
        int set = c < ncpu && (mask[c / 8] >> (c % 8) & 1);
        if (set && first < 0) first = c;
        if (set || first < 0) continue;
        int last = c - 1, w;
        if (first == last)
            w = snprintf(list + pos, len - pos, "%s%d", any ? "," : "", first);
        else
            w = snprintf(list + pos, len - pos, "%s%d-%d", any ? "," : "", first, last);
        any = 1;
        first = -1;
        if (w < 0 || (size_t)w >= len - pos) return;
        pos += (size_t)w;
    }
}

int tacl__doctor_host_cpus(const tacl__doctor_report_t *r, int h, int *ranks, int *quota,
                           char *list, size_t len)
{
    uint8_t all[TACL_DOCTOR_CPU_BYTES] = {0};
    int nr = 0, reported = 1, every_quota = 1;
    int64_t qsum = 0; /* figures come from other ranks: no sum of theirs may overflow */
    for (int i = 0; i < r->n; i++) {
        if (r->host_of[i] != h) continue;
        nr++;
        const tacl__doctor_cpu_t *c = &r->cpu[i];
        if (!c->known) {
            reported = 0;
            continue;
        }
        for (int b = 0; b < TACL_DOCTOR_CPU_BYTES; b++)
            all[b] |= c->mask[b];
        if (c->quota <= 0) {
            every_quota = 0;
            continue;
        }
        /* One quota per control group: count it at the group's first rank. */
        int seen = 0;
        for (int q = 0; q < i && !seen; q++)
            seen = r->host_of[q] == h && r->cpu[q].known && r->cpu[q].group == c->group;
        if (!seen) qsum += c->quota < (1 << 20) ? c->quota : (1 << 20);
    }
    *ranks = nr;
    *quota = 0;
    if (list) doctor_cpu_list(all, list, len);
    if (!reported || nr == 0) return -1;
    int n = 0;
    for (int b = 0; b < TACL_DOCTOR_CPU_BYTES; b++)
        n += __builtin_popcount(all[b]);
    if (every_quota && qsum > 0) {
        *quota = qsum < INT32_MAX ? (int)qsum : INT32_MAX;
        if (qsum < n) n = (int)qsum;
    }
    return n;
}

void tacl__doctor_verdict_cpus(const tacl__doctor_report_t *r, FILE *f)
{
    for (int h = 0; h < r->nhosts; h++) {
        int nr, quota;
        char list[256];
        int n = tacl__doctor_host_cpus(r, h, &nr, &quota, list, sizeof list);
        if (n < 0 || nr <= n) continue;
        char qtxt[64] = "";
        if (quota > 0) snprintf(qtxt, sizeof qtxt, ", CPU quota %d", quota);
        fprintf(f,
                "  - host %s: its %d ranks may use %d CPU%s (affinity %s%s): they take turns on "
                "the cores, and every collective among them waits for a rank the scheduler "
                "left out; give each rank a CPU of its own (taskset, cpuset, CPU quota) or run "
                "fewer ranks on this host\n",
                r->host_names[h], nr, n, n == 1 ? "" : "s", list, qtxt);
    }
}

void tacl__doctor_table_cpus(const tacl__doctor_report_t *r, FILE *f)
{
    int any = 0;
    for (int i = 0; i < r->n && !any; i++)
        any = r->cpu[i].known;
    if (!any) return;
    fprintf(f, "\nCPUs the ranks may use (affinity masks, control-group quotas)\n");
    for (int h = 0; h < r->nhosts; h++) {
        int nr, quota, online = 0;
        char list[256];
        int n = tacl__doctor_host_cpus(r, h, &nr, &quota, list, sizeof list);
        for (int i = 0; i < r->n; i++)
            if (r->host_of[i] == h && r->cpu[i].known) online = r->cpu[i].online;
        if (n < 0) {
            fprintf(f, "  %-16s not reported by every rank\n", r->host_names[h]);
            continue;
        }
        fprintf(f, "  %-16s %d rank%s, %d CPU%s of %d online (affinity %s", r->host_names[h], nr,
                nr == 1 ? "" : "s", n, n == 1 ? "" : "s", online, list);
        if (quota > 0) fprintf(f, "; quota %d", quota);
        fprintf(f, ")%s\n", nr > n ? ": more ranks than CPUs" : "");
    }
}
