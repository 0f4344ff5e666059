/* doctor_links.c — the "Links" section of `tacl doctor`'s table. Up to TACL_DOCTOR_PAIRS_MAX
 * ranks (or when every pair is asked for) one line per rank pair: its figures and how it was
 * made, or why not. Beyond, a line per rank pair is more than anyone reads (500,000 lines at
 * 1,024 ranks), so the section says what a person looks for: per host pair, how many rank pairs
 * are linked and the lowest, median and highest latency and bandwidth; then the rank pairs
 * that stand out (unreachable, measurement failed, latency over DOCTOR_ODD times or bandwidth
 * under 1 / DOCTOR_ODD of their host pair's median), the first DOCTOR_ODD_MAX of them and how
 * many more. */
#include "topo/doctor_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOCTOR_ODD     3.0 /* a figure this far from its host pair's median stands out */
#define DOCTOR_ODD_MAX 40  /* rank pairs that stand out, listed */

void tacl__doctor_fmt_gbs(char *buf, size_t len, double gbs)
{
    if (gbs < 0)
        snprintf(buf, len, "-");
    else if (gbs >= 0.1)
        snprintf(buf, len, "%.2f GB/s", gbs);
    else
        snprintf(buf, len, "%.1f MB/s", gbs * 1e3);
}

static int dl_linked(const tacl__doctor_report_t *r, size_t i, size_t j)
{
    size_t n = (size_t)r->n;
    return r->reach[i * n + j] || r->reach[j * n + i];
}

/* One rank pair's line, with note in brackets at its end when given (and, for an unreachable
 * pair whose ranks tell different reasons, the second rank's). */
static void dl_pair(const tacl__doctor_report_t *r, FILE *f, size_t i, size_t j, const char *note)
{
    size_t n = (size_t)r->n;
    char pair[48], hosts[2 * TACL_DOCTOR_HOST_MAX + 2], lat[32], bw[32];
    snprintf(pair, sizeof pair, "%zu-%zu", i, j);
    snprintf(hosts, sizeof hosts, "%s-%s", r->host_names[r->host_of[i]],
             r->host_names[r->host_of[j]]);
    const tacl__doctor_link_t *l = &r->links[i * n + j];
    if (l->lat_us >= 0)
        snprintf(lat, sizeof lat, "%.1f us", l->lat_us);
    else
        snprintf(lat, sizeof lat, "-");
    tacl__doctor_fmt_gbs(bw, sizeof bw, l->gbs);
    const char *ij = tacl__doctor_info(r, (int)i, (int)j),
               *ji = tacl__doctor_info(r, (int)j, (int)i);
    const char *how = ij[0] ? ij : ji;
    if (!dl_linked(r, i, j)) {
        fprintf(f, "  %-9s %-25s %10s %12s  UNREACHABLE: %s\n", pair, hosts, "-", "-",
                how[0] ? how : "no connection either way");
        (void)note; /* "unreachable" says it already */
        if (ij[0] && ji[0] && strcmp(ij, ji))
            fprintf(f, "  %-9s %-25s %10s %12s  (rank %zu's side: %s)\n", "", "", "", "", j, ji);
    } else {
        const char *err = tacl__doctor_link_err(r, (int)i, (int)j);
        fprintf(f, "  %-9s %-25s %10s %12s  %s%s%s%s%s%s\n", pair, hosts, lat, bw,
                how[0] ? how : "linked", err[0] ? "; measurement failed: " : "", err,
                note && !err[0] ? " [" : "", note && !err[0] ? note : "",
                note && !err[0] ? "]" : "");
    }
}

static int dl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The rank pairs of each host pair (a <= b), bucketed: bucket k = a * H + b holds its measured
 * latencies and bandwidths, sorted, for the medians. */
typedef struct {
    int H;
    size_t *start, *nlat, *nbw, *pairs, *linked; /* per bucket; start has H*H + 1 entries */
    double *lat, *bw;                            /* by bucket from start[k] */
} dl_buckets_t;

static size_t dl_bucket(const tacl__doctor_report_t *r, size_t i, size_t j)
{
    size_t a = (size_t)r->host_of[i], b = (size_t)r->host_of[j];
    return a <= b ? a * (size_t)r->nhosts + b : b * (size_t)r->nhosts + a;
}

static void dl_free(dl_buckets_t *d)
{
    free(d->start);
    free(d->nlat);
    free(d->nbw);
    free(d->pairs);
    free(d->linked);
    free(d->lat);
    free(d->bw);
}

static int dl_fill(const tacl__doctor_report_t *r, dl_buckets_t *d)
{
    size_t n = (size_t)r->n, HH = (size_t)r->nhosts * (size_t)r->nhosts;
    memset(d, 0, sizeof *d);
    d->H = r->nhosts;
    d->start = calloc(HH + 1, sizeof *d->start);
    d->nlat = calloc(HH, sizeof *d->nlat);
    d->nbw = calloc(HH, sizeof *d->nbw);
    d->pairs = calloc(HH, sizeof *d->pairs);
    d->linked = calloc(HH, sizeof *d->linked);
    if (!d->start || !d->nlat || !d->nbw || !d->pairs || !d->linked) return -1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            d->start[dl_bucket(r, i, j) + 1]++;
    for (size_t k = 0; k < HH; k++)
        d->start[k + 1] += d->start[k];
    size_t total = d->start[HH];
    d->lat = malloc((total ? total : 1) * sizeof *d->lat);
    d->bw = malloc((total ? total : 1) * sizeof *d->bw);
    if (!d->lat || !d->bw) return -1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            size_t k = dl_bucket(r, i, j);
            const tacl__doctor_link_t *l = &r->links[i * n + j];
            d->pairs[k]++;
            if (!dl_linked(r, i, j)) continue;
            d->linked[k]++;
            if (l->lat_us >= 0) d->lat[d->start[k] + d->nlat[k]++] = l->lat_us;
            if (l->gbs >= 0) d->bw[d->start[k] + d->nbw[k]++] = l->gbs;
        }
    for (size_t k = 0; k < HH; k++) {
        qsort(d->lat + d->start[k], d->nlat[k], sizeof *d->lat, dl_cmp);
        qsort(d->bw + d->start[k], d->nbw[k], sizeof *d->bw, dl_cmp);
    }
    return 0;
}

static double dl_median(const double *v, size_t m)
{
    return m == 0 ? -1 : m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

/* Whether pair i-j stands out from its host pair, and why, into why. */
static int dl_odd(const tacl__doctor_report_t *r, const dl_buckets_t *d, size_t i, size_t j,
                  char *why, size_t len)
{
    size_t n = (size_t)r->n, k = dl_bucket(r, i, j);
    const tacl__doctor_link_t *l = &r->links[i * n + j];
    if (!dl_linked(r, i, j)) return snprintf(why, len, "unreachable"), 1;
    if (tacl__doctor_link_err(r, (int)i, (int)j)[0])
        return snprintf(why, len, "measurement failed"), 1;
    double ml = dl_median(d->lat + d->start[k], d->nlat[k]);
    double mb = dl_median(d->bw + d->start[k], d->nbw[k]);
    if (l->lat_us >= 0 && d->nlat[k] >= 3 && l->lat_us > DOCTOR_ODD * ml)
        return snprintf(why, len, "latency %.1fx its host pair's median", l->lat_us / ml), 1;
    if (l->gbs >= 0 && d->nbw[k] >= 3 && l->gbs * DOCTOR_ODD < mb)
        return snprintf(why, len, "bandwidth 1/%.1f of its host pair's median",
                        l->gbs > 0 ? mb / l->gbs : 1e9),
               1;
    return 0;
}

static void dl_summary(const tacl__doctor_report_t *r, FILE *f, const dl_buckets_t *d)
{
    int H = r->nhosts;
    fprintf(f, "  %-25s %13s %-29s %s\n", "hosts", "pairs linked", "latency low / median / high",
            "bandwidth low / median / high");
    for (int a = 0; a < H; a++)
        for (int b = a; b < H; b++) {
            size_t k = (size_t)a * (size_t)H + (size_t)b;
            if (!d->pairs[k]) continue;
            char hosts[2 * TACL_DOCTOR_HOST_MAX + 2], cnt[48], lat[128] = "-", bw[128] = "-";
            snprintf(hosts, sizeof hosts, "%s-%s", r->host_names[a], r->host_names[b]);
            snprintf(cnt, sizeof cnt, "%zu/%zu", d->linked[k], d->pairs[k]);
            const double *l = d->lat + d->start[k], *w = d->bw + d->start[k];
            size_t nl = d->nlat[k], nw = d->nbw[k];
            if (nl)
                snprintf(lat, sizeof lat, "%.1f / %.1f / %.1f us", l[0], dl_median(l, nl),
                         l[nl - 1]);
            if (nw) {
                char x[32], y[32], z[32];
                tacl__doctor_fmt_gbs(x, sizeof x, w[0]);
                tacl__doctor_fmt_gbs(y, sizeof y, dl_median(w, nw));
                tacl__doctor_fmt_gbs(z, sizeof z, w[nw - 1]);
                snprintf(bw, sizeof bw, "%s / %s / %s", x, y, z);
            }
            fprintf(f, "  %-25s %13s %-29s %s\n", hosts, cnt, lat, bw);
        }
}

void tacl__doctor_table_links(const tacl__doctor_report_t *r, FILE *f, int every_pair)
{
    size_t n = (size_t)r->n;
    fprintf(f, "\nLinks (latency: half the ping-pong round trip; bandwidth: a streamed message)\n");
    dl_buckets_t d;
    if (every_pair || n <= TACL_DOCTOR_PAIRS_MAX || dl_fill(r, &d) != 0) {
        if (!every_pair && n > TACL_DOCTOR_PAIRS_MAX) {
            dl_free(&d);
            fprintf(f, "  (out of memory for the summary by host pair: every pair follows)\n");
        }
        fprintf(f, "  %-9s %-25s %10s %12s  %s\n", "ranks", "hosts", "latency", "bandwidth",
                "how (rank i's side) / why not");
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                dl_pair(r, f, i, j, NULL);
        return;
    }
    fprintf(f,
            "  By host pair (%zu ranks: more than %d, so not every rank pair; tacl doctor "
            "--pairs lists them all)\n",
            n, TACL_DOCTOR_PAIRS_MAX);
    dl_summary(r, f, &d);
    size_t odd = 0;
    char why[96];
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            odd += (size_t)dl_odd(r, &d, i, j, why, sizeof why);
    if (!odd) {
        fprintf(f,
                "  No rank pair stands out (unreachable, failed, or %.0fx off its host pair's "
                "median).\n",
                DOCTOR_ODD);
        dl_free(&d);
        return;
    }
    fprintf(f,
            "\n  Rank pairs that stand out: %zu (unreachable, failed, or %.0fx off their host "
            "pair's median)\n",
            odd, DOCTOR_ODD);
    fprintf(f, "  %-9s %-25s %10s %12s  %s\n", "ranks", "hosts", "latency", "bandwidth",
            "how (rank i's side) / why not [why it stands out]");
    size_t shown = 0;
    for (size_t i = 0; i < n && shown < DOCTOR_ODD_MAX; i++)
        for (size_t j = i + 1; j < n && shown < DOCTOR_ODD_MAX; j++)
            if (dl_odd(r, &d, i, j, why, sizeof why)) {
                dl_pair(r, f, i, j, why);
                shown++;
            }
    if (odd > shown)
        fprintf(f, "  ... and %zu more (tacl doctor --pairs lists every pair)\n", odd - shown);
    dl_free(&d);
}
