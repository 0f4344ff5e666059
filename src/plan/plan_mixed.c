/* plan_mixed.c — unequal hosts: each class of identical hosts planned as a cluster alone. */
#include "plan/plan_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 1 when hosts a and b have the same GPUs (a class of the mixed search). */
static int plan_same_class(const tacl__cluster_host_t *a, const tacl__cluster_host_t *b)
{
    return a->ngpus == b->ngpus && !memcmp(&a->gpu, &b->gpu, sizeof a->gpu) &&
           a->gpu_link_gbs == b->gpu_link_gbs && !a->gpu_bw && !b->gpu_bw;
}

/* The hosts of class `cls` (host indices with class[h] == cls) as a cluster of their own: their
 * links, default link and unreachable pairs among them, their addresses. */
static tacl_status_t plan_subcluster(const tacl_cluster_t *c, const int *cls_of, int cls,
                                     tacl_cluster_t **out)
{
    tacl_cluster_t *s;
    int *map = malloc(sizeof(int) * (size_t)c->nhosts);
    tacl_status_t st = map ? tacl__cluster_create(&s)
                           : tacl__err(NULL, TACL_ERR_NOMEM, TACL_SUB_PLAN, "out of memory");
    if (st != TACL_OK) {
        free(map);
        return st;
    }
    snprintf(s->source, sizeof s->source, "%s", c->source[0] ? c->source : c->name);
    s->has_default = c->has_default, s->default_gbs = c->default_gbs;
    s->default_lat_us = c->default_lat_us;
    for (int h = 0; h < c->nhosts && st == TACL_OK; h++) {
        map[h] = -1;
        if (cls_of[h] != cls) continue;
        const tacl__cluster_host_t *src = &c->hosts[h];
        st = tacl__cluster_add_host(s, src->name, src->ngpus, NULL, &map[h]);
        if (st != TACL_OK) break;
        tacl__cluster_host_t *d = &s->hosts[map[h]];
        d->gpu = src->gpu;
        memcpy(d->gpu_link, src->gpu_link, sizeof d->gpu_link);
        d->gpu_link_gbs = src->gpu_link_gbs;
        memcpy(d->ifname, src->ifname, sizeof d->ifname);
        for (int k = 0; k < src->naddrs && st == TACL_OK; k++)
            st = tacl__cluster_add_address(s, map[h], src->addrs[k], src->nets[k]);
        if (c->store_host == h) s->store_host = map[h];
    }
    for (int i = 0; i < c->nlinks && st == TACL_OK; i++) {
        const tacl__cluster_link_t *l = &c->links[i];
        if (map[l->a] >= 0 && map[l->b] >= 0)
            st = tacl__cluster_set_link(s, map[l->a], map[l->b], l->gbs, l->lat_us);
    }
    for (int i = 0; i < c->nunreach && st == TACL_OK; i++) {
        int a = c->unreach[i][0], b = c->unreach[i][1];
        if (map[a] >= 0 && map[b] >= 0) st = tacl__cluster_set_unreachable(s, map[a], map[b]);
    }
    if (st == TACL_OK) st = tacl__cluster_finish(s);
    free(map);
    if (st != TACL_OK) {
        tacl_cluster_destroy(s);
        return st;
    }
    *out = s;
    return TACL_OK;
}

/* Unequal hosts: plans each class of identical hosts alone (its share of the concurrency) and
 * keeps the set when it serves more than the best single layout, so that "TP1 on the H200
 * hosts and TP2 on the L40S hosts" is found although no one layout has both. */
void tacl__plan_mixed(tacl__plan_t *p, const tacl__model_t *m)
{
    const tacl_cluster_t *c = p->cluster;
    if (c->nranks || c->nhosts < 2) return;
    int *cls_of = malloc(sizeof(int) * (size_t)c->nhosts), *rep = NULL, ncls = 0;
    if (!cls_of) return;
    rep = malloc(sizeof(int) * 8);
    for (int h = 0; rep && h < c->nhosts; h++) {
        cls_of[h] = -1;
        if (c->hosts[h].ngpus == 0) continue;
        int k;
        for (k = 0; k < ncls && !plan_same_class(&c->hosts[rep[k]], &c->hosts[h]); k++) {
        }
        if (k == ncls) {
            if (ncls == 8) { /* more classes than a set is worth: none */
                ncls = 0;
                break;
            }
            rep[ncls++] = h;
        }
        cls_of[h] = k;
    }
    if (ncls < 2) goto out;
    p->mixed = calloc((size_t)ncls, sizeof *p->mixed);
    p->mixed_cluster = calloc((size_t)ncls, sizeof *p->mixed_cluster);
    if (!p->mixed || !p->mixed_cluster) goto out;
    /* Two passes: with the whole concurrency, each class says how many requests its best
     * layout holds; then the concurrency is shared in proportion (a load balancer fills the
     * classes by what they hold), and each class is planned with its share. */
    double tok = 0, *hold = calloc((size_t)ncls, sizeof(double)), held = 0;
    tacl_cluster_t **sub = calloc((size_t)ncls, sizeof *sub);
    int served = 0;
    for (int k = 0; hold && sub && k < ncls; k++) {
        tacl__plan_t *sp;
        if (plan_subcluster(c, cls_of, k, &sub[k]) != TACL_OK) continue;
        if (tacl__plan_create(sub[k], m, &p->w, &p->cm, &sp) != TACL_OK) continue;
        if (sp->best >= 0) {
            const tacl__layout_t *b = &sp->layouts[sp->best];
            double h = (double)b->conc_replica * (b->ep > 1 ? 1 : b->dp);
            hold[k] = h < p->w.concurrency ? h : (double)p->w.concurrency;
            held += hold[k];
        }
        tacl__plan_destroy(sp);
    }
    for (int k = 0; hold && sub && k < ncls; k++) {
        if (!sub[k] || hold[k] <= 0) {
            tacl_cluster_destroy(sub ? sub[k] : NULL);
            continue;
        }
        tacl__workload_t w = p->w;
        long share = (long)ceil((double)p->w.concurrency * hold[k] / held);
        w.concurrency = share > 0 ? share : 1;
        tacl__plan_t *sp = NULL;
        if (tacl__plan_create(sub[k], m, &w, &p->cm, &sp) != TACL_OK || sp->best < 0) {
            if (sp) tacl__plan_destroy(sp);
            tacl_cluster_destroy(sub[k]);
            continue;
        }
        tok += sp->layouts[sp->best].tok_s;
        p->mixed[p->nmixed] = sp, p->mixed_cluster[p->nmixed++] = sub[k];
        served++;
    }
    free(hold);
    free(sub);
    double single = p->best >= 0 ? p->layouts[p->best].tok_s : 0;
    if (served >= 2 && tok > 1.05 * single) {
        p->mixed_tok_s = tok;
    } else {
        for (int k = 0; k < p->nmixed; k++) {
            tacl__plan_destroy(p->mixed[k]);
            tacl_cluster_destroy(p->mixed_cluster[k]);
        }
        p->nmixed = 0;
    }
out:
    if (p->nmixed == 0) {
        free(p->mixed);
        free(p->mixed_cluster);
        p->mixed = NULL, p->mixed_cluster = NULL;
    }
    free(rep);
    free(cls_of);
}
