/* par_layout.c — vLLM's rank layout for parallel groups, as pure arithmetic. World ranks are laid
 * out as an array of shape (ext, dp, pp, tp) (vLLM: torch.arange(world).reshape(-1, dp, pp,
 * tp)), so rank = ((e * dp + d) * pp + p) * tp + t. A TP group varies t (consecutive ranks), a
 * PP group varies p, a DP group varies d, each with the other indices fixed; an EP group is the
 * (d, t) plane of one (e, p), ordered d-major then t (vLLM's transpose(1, 2).reshape(-1, dp*tp)),
 * cut into consecutive blocks of ep ranks (ep = dp * tp is vLLM's default). */
#include "err.h"

#include <string.h>

static int par_norm(int v)
{
    return v <= 0 ? 1 : v;
}

tacl_status_t tacl_par_layout(int world, const tacl_par_sizes_t *sz, int rank, tacl_par_kind_t kind,
                              int *color, int *key, int *ranks, int *nranks)
{
    if (!sz || world <= 0)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_INIT,
                         "parallel layout: world size %d must be positive and sizes given", world);
    int tp = par_norm(sz->tp), pp = par_norm(sz->pp), dp = par_norm(sz->dp), ep = par_norm(sz->ep);
    long block = (long)tp * pp * dp;
    if (world % block != 0)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_INIT,
                         "parallel layout: world size %d is not a multiple of tp*pp*dp = %d*%d*%d "
                         "= %ld",
                         world, tp, pp, dp, block);
    if ((dp * tp) % ep != 0)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_INIT,
                         "parallel layout: ep = %d must divide dp*tp = %d*%d = %d", ep, dp, tp,
                         dp * tp);
    if (rank < 0 || rank >= world)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_INIT,
                         "parallel layout: rank %d is outside a world of %d", rank, world);
    int t = rank % tp, p = rank / tp % pp, d = rank / (tp * pp) % dp, e = rank / (tp * pp * dp);
#define PAR_RANK(E, D, P, T) ((((E)*dp + (D)) * pp + (P)) * tp + (T))
    int c, k, n;
    switch (kind) {
    case TACL_PAR_TP:
        c = rank / tp, k = t, n = tp;
        for (int i = 0; ranks && i < n; i++)
            ranks[i] = PAR_RANK(e, d, p, i);
        break;
    case TACL_PAR_PP:
        c = (e * dp + d) * tp + t, k = p, n = pp;
        for (int i = 0; ranks && i < n; i++)
            ranks[i] = PAR_RANK(e, d, i, t);
        break;
    case TACL_PAR_DP:
        c = (e * pp + p) * tp + t, k = d, n = dp;
        for (int i = 0; ranks && i < n; i++)
            ranks[i] = PAR_RANK(e, i, p, t);
        break;
    case TACL_PAR_EP: {
        int pos = d * tp + t, chunk = pos / ep;
        c = (e * pp + p) * (dp * tp / ep) + chunk, k = pos % ep, n = ep;
        for (int i = 0; ranks && i < n; i++) {
            int q = chunk * ep + i;
            ranks[i] = PAR_RANK(e, q / tp, p, q % tp);
        }
        break;
    }
    default:
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_INIT,
                         "parallel layout: unknown group kind %d", (int)kind);
    }
#undef PAR_RANK
    if (color) *color = c;
    if (key) *key = k;
    if (nranks) *nranks = n;
    return TACL_OK;
}
