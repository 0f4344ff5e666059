"""parallel_ranks.py - for several (tp, pp, dp) triples over the world: the groups that
tacl.parallel.initialize_model_parallel builds hold exactly vLLM's ranks (computed here
independently with numpy, as vLLM does with torch), members agree on them, and collectives in
each group reduce over those ranks only. numpy only: torch is never imported."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ok, done  # noqa: E402

import tacl  # noqa: E402
import tacl.parallel as ps  # noqa: E402


def vllm_groups(world, tp, pp, dp):
    """vLLM's parallel_state.initialize_model_parallel, with numpy instead of torch."""
    a = np.arange(world).reshape(-1, dp, pp, tp)
    return {
        "tp": [list(g) for g in a.reshape(-1, tp)],
        "pp": [list(g) for g in a.transpose(0, 1, 3, 2).reshape(-1, pp)],
        "dp": [list(g) for g in a.transpose(0, 3, 2, 1).reshape(-1, dp)],
        "ep": [list(g) for g in a.transpose(0, 2, 1, 3).reshape(-1, dp * tp)],
    }


comm = tacl.init()
R, N = comm.rank, comm.size
triples = [t for t in [(2, 2, 2), (4, 2, 1), (1, 2, 4), (2, 1, 2), (8, 1, 1), (1, 4, 1), (2, 2, 1)]
           if N % (t[0] * t[1] * t[2]) == 0]
for tp, pp, dp in triples:
    ps.initialize_model_parallel(tensor=tp, pipeline=pp, data=dp, world=comm)
    ref = vllm_groups(N, tp, pp, dp)
    for name, g in (("tp", ps.get_tp_group()), ("pp", ps.get_pp_group()), ("dp", ps.get_dp_group()),
                    ("ep", ps.get_ep_group())):
        mine = [x for x in ref[name] if R in x]
        ok(len(mine) == 1 and [int(v) for v in mine[0]] == g.ranks,
           "rank %d (%d,%d,%d) %s group %s, vLLM %s" % (R, tp, pp, dp, name, g.ranks, mine))
        ok(g.comm.all_gather_object(R) == g.ranks, "%s members agree" % name)
        ok(g.ranks[g.rank_in_group] == R and g.world_size == len(g.ranks), "%s rank_in_group" % name)
        ok(g.first_rank == g.ranks[0] and g.last_rank == g.ranks[-1]
           and g.is_first_rank == (R == g.ranks[0]) and g.is_last_rank == (R == g.ranks[-1]),
           "%s first/last" % name)
        a = np.array([R], np.int64)
        g.all_reduce(a)
        ok(int(a[0]) == sum(g.ranks), "%s all_reduce sums the group's ranks" % name)
    ok(ps.get_tensor_model_parallel_world_size() == tp and ps.get_pipeline_model_parallel_world_size() == pp,
       "sizes")
    ok(ps.get_tensor_model_parallel_rank() == R % tp, "tp rank")
    ps.destroy_model_parallel()
ok("torch" not in sys.modules, "parallel groups without torch never import it")
ok(len(triples) >= 3, "several triples fit a world of %d" % N)
done("parallel", R)
