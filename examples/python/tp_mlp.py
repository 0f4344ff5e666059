"""tp_mlp.py - a tensor-parallel MLP forward (Megatron's split: the first weight by columns, the
second by rows, one all_reduce) on the ranks of a tensor-parallel group, checked against the
same MLP computed whole in one process. Also the column-parallel output gathered with
all_gather(dim=-1).

    tacl run -n 2 -- python3 examples/python/tp_mlp.py           # CPU tensors, host path
    tacl run -n 4 -- python3 examples/python/tp_mlp.py --cuda    # one GPU per rank, NCCL
"""
import sys

import torch

import tacl
import tacl.parallel as ps


def main():
    cuda = "--cuda" in sys.argv
    world = tacl.init()
    if cuda:
        torch.cuda.set_device(world.local_rank % torch.cuda.device_count())
    dev = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    tp_group, _, _, _ = ps.initialize_model_parallel(tensor=world.size, device=None if cuda else -1)
    tp, r = tp_group.world_size, tp_group.rank_in_group

    hidden, ffn, batch = 64, 256, 8
    g = torch.Generator().manual_seed(1234)  # every rank builds the same full weights
    w1 = torch.randn(hidden, ffn, generator=g) / hidden ** 0.5
    w2 = torch.randn(ffn, hidden, generator=g) / ffn ** 0.5
    x = torch.randn(batch, hidden, generator=g)
    ref = torch.nn.functional.gelu(x @ w1) @ w2  # the single-process result

    f = ffn // tp
    w1_shard = w1[:, r * f:(r + 1) * f].contiguous().to(dev)  # column parallel
    w2_shard = w2[r * f:(r + 1) * f, :].contiguous().to(dev)  # row parallel
    xd = x.to(dev)
    h = torch.nn.functional.gelu(xd @ w1_shard)
    y = tp_group.all_reduce(h @ w2_shard)  # sum of the partial products
    err = (y.cpu() - ref).abs().max().item()
    assert err < 1e-4, "rank %d: tensor-parallel MLP differs from the whole one by %g" % (world.rank, err)

    cols = tp_group.all_gather(xd @ w1_shard, dim=-1)  # column-parallel output, gathered
    err2 = (cols.cpu() - x @ w1).abs().max().item()
    assert err2 < 1e-4, "rank %d: gathered columns differ by %g" % (world.rank, err2)

    red = tp_group.reduce_scatter(h @ w2_shard, dim=0) if batch % tp == 0 else None
    if red is not None:
        err3 = (red.cpu() - ref.chunk(tp, 0)[r]).abs().max().item()
        assert err3 < 1e-4, "rank %d: reduce_scatter differs by %g" % (world.rank, err3)
    print("tp_mlp rank %d ok: tp=%d on %s, max error %.2e" % (world.rank, tp, dev, err), flush=True)
    ps.destroy_model_parallel()


if __name__ == "__main__":
    main()
