"""vLLM's parallel layout: tacl.parallel.layout against an independent computation of vLLM's
groups for many world sizes and (tp, pp, dp) triples (in process), and real groups built by
initialize_model_parallel on 8 ranks for several triples."""
import numpy as np
import pytest

import tacl.parallel as ps
from launch import run_ranks, expect_ok


def vllm_groups(world, tp, pp, dp):
    a = np.arange(world).reshape(-1, dp, pp, tp)
    return {
        ps.TP: a.reshape(-1, tp).tolist(),
        ps.PP: a.transpose(0, 1, 3, 2).reshape(-1, pp).tolist(),
        ps.DP: a.transpose(0, 3, 2, 1).reshape(-1, dp).tolist(),
        ps.EP: a.transpose(0, 2, 1, 3).reshape(-1, dp * tp).tolist(),
    }


@pytest.mark.parametrize("world,tp,pp,dp", [(1, 1, 1, 1), (8, 2, 2, 2), (8, 4, 2, 1), (8, 1, 2, 4),
                                            (16, 2, 2, 2), (12, 3, 2, 2), (24, 2, 3, 2),
                                            (16, 4, 1, 2), (6, 1, 3, 1)])
def test_layout_matches_vllm(world, tp, pp, dp):
    ref = vllm_groups(world, tp, pp, dp)
    for kind, groups in ref.items():
        colors = {}
        for r in range(world):
            color, key, ranks = ps.layout(world, tp, pp, dp, None, r, kind)
            mine = [g for g in groups if r in g]
            assert ranks == mine[0], (kind, r, ranks, mine)
            assert ranks[key] == r
            colors.setdefault(color, set()).add(tuple(ranks))
        assert all(len(v) == 1 for v in colors.values()), "one color per group"
        assert len(colors) == len(groups)


def test_layout_refuses_sizes_that_do_not_fit():
    with pytest.raises(tacl_invalid()) as e:
        ps.layout(6, 4, 1, 1, None, 0, ps.TP)
    assert "not a multiple" in str(e.value)


def tacl_invalid():
    import tacl
    return tacl.InvalidArgument


def test_groups_on_eight_ranks():
    expect_ok(run_ranks(8, "parallel_ranks.py", timeout=200), 8, "parallel")
