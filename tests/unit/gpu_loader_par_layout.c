/* gpu_loader_par_layout.c — tacl_par_layout against an independent enumeration of vLLM's layout:
 * the world's ranks as an array of shape (ext, dp, pp, tp), groups read off along one axis (TP,
 * PP, DP) or the (dp, tp) plane cut into blocks of ep (EP); plus vLLM's documented example
 * (8 GPUs, TP 2, PP 4) and the errors for sizes that do not fit. */
#include "check.h"

static int A[64][64]; /* [group][member] scratch */

/* Enumerates the groups of one kind in the order of the reshaped arrays; returns their count. */
static int expected_groups(int world, int tp, int pp, int dp, int ep, tacl_par_kind_t kind, int *n)
{
    int ext = world / (tp * pp * dp), ng = 0;
#define R(e, d, p, t) ((((e)*dp + (d)) * pp + (p)) * tp + (t))
    for (int e = 0; e < ext; e++) {
        if (kind == TACL_PAR_TP)
            for (int d = 0; d < dp; d++)
                for (int p = 0; p < pp; p++, ng++)
                    for (int t = 0; t < tp; t++)
                        A[ng][t] = R(e, d, p, t);
        if (kind == TACL_PAR_PP)
            for (int d = 0; d < dp; d++)
                for (int t = 0; t < tp; t++, ng++)
                    for (int p = 0; p < pp; p++)
                        A[ng][p] = R(e, d, p, t);
        if (kind == TACL_PAR_DP)
            for (int p = 0; p < pp; p++)
                for (int t = 0; t < tp; t++, ng++)
                    for (int d = 0; d < dp; d++)
                        A[ng][d] = R(e, d, p, t);
        if (kind == TACL_PAR_EP)
            for (int p = 0; p < pp; p++) {
                int plane[64], k = 0;
                for (int d = 0; d < dp; d++)
                    for (int t = 0; t < tp; t++)
                        plane[k++] = R(e, d, p, t);
                for (int c = 0; c < k / ep; c++, ng++)
                    for (int i = 0; i < ep; i++)
                        A[ng][i] = plane[c * ep + i];
            }
    }
#undef R
    *n = kind == TACL_PAR_TP ? tp : kind == TACL_PAR_PP ? pp : kind == TACL_PAR_DP ? dp : ep;
    return ng;
}

static void check_config(int world, int tp, int pp, int dp, int ep)
{
    tacl_par_sizes_t sz = {tp, pp, dp, ep};
    for (int k = 0; k < TACL_PAR_COUNT; k++) {
        int n, ng = expected_groups(world, tp, pp, dp, ep, (tacl_par_kind_t)k, &n);
        CHECK(ng * n == world);
        int colors[64];
        for (int g = 0; g < ng; g++) {
            for (int i = 0; i < n; i++) {
                int color, key, ranks[64], nr;
                CHECK_OK(tacl_par_layout(world, &sz, A[g][i], (tacl_par_kind_t)k, &color, &key,
                                         ranks, &nr));
                CHECK(nr == n && key == i);
                for (int j = 0; j < n; j++)
                    CHECK(ranks[j] == A[g][j]);
                if (i == 0) colors[g] = color;
                CHECK(color == colors[g]); /* one color per group ... */
            }
            for (int h = 0; h < g; h++)
                CHECK(colors[h] != colors[g]); /* ... and different groups differ */
        }
    }
}

int main(void)
{
    check_config(8, 2, 4, 1, 2);
    check_config(16, 2, 2, 2, 4);
    check_config(16, 2, 2, 2, 2);
    check_config(24, 2, 3, 2, 1);
    check_config(12, 1, 1, 3, 3);
    check_config(32, 4, 2, 2, 8); /* ext = 2 */

    /* vLLM's example: 8 GPUs, TP 2, PP 4 -> TP [0,1] [2,3] [4,5] [6,7]; PP [0,2,4,6] [1,3,5,7]. */
    tacl_par_sizes_t sz = {2, 4, 1, 1};
    int ranks[8], n, color, key;
    CHECK_OK(tacl_par_layout(8, &sz, 5, TACL_PAR_TP, &color, &key, ranks, &n));
    CHECK(n == 2 && ranks[0] == 4 && ranks[1] == 5 && key == 1);
    CHECK_OK(tacl_par_layout(8, &sz, 5, TACL_PAR_PP, &color, &key, ranks, &n));
    CHECK(n == 4 && ranks[0] == 1 && ranks[1] == 3 && ranks[2] == 5 && ranks[3] == 7 && key == 2);

    /* Sizes that do not fit. */
    tacl_par_sizes_t bad = {4, 1, 1, 1};
    CHECK_ST(tacl_par_layout(6, &bad, 0, TACL_PAR_TP, &color, &key, NULL, &n), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "world size 6 is not a multiple of tp*pp*dp = 4*1*1 = 4");
    tacl_par_sizes_t bad_ep = {2, 1, 2, 3};
    CHECK_ST(tacl_par_layout(4, &bad_ep, 0, TACL_PAR_EP, &color, &key, NULL, &n), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "ep = 3 must divide dp*tp = 2*2 = 4");
    CHECK_ST(tacl_par_layout(4, &sz, 4, TACL_PAR_TP, &color, &key, NULL, &n), TACL_ERR_INVALID);
    CHECK_ST(tacl_par_layout(8, &sz, 0, (tacl_par_kind_t)9, &color, &key, NULL, &n),
             TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "unknown group kind 9");
    return 0;
}
