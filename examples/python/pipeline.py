"""pipeline.py - a two-stage pipeline: stage 0 runs the first half of the layers and sends the
hidden states and metadata to stage 1 as a tensor dict (vLLM's send_tensor_dict: metadata
pickled on the host path, tensors on the device path when they are CUDA tensors); stage 1 runs
the second half, sends the result back as a dict, and stage 0 checks it against the whole
model computed in one process. Several micro-batches of different shapes.

    tacl run -n 2 -- python3 examples/python/pipeline.py [--cuda]
"""
import sys

import torch

import tacl
import tacl.parallel as ps


def layers(n, hidden, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(hidden, hidden, generator=g) / hidden ** 0.5 for _ in range(n)]


def run(ws, h):
    for w in ws:
        h = torch.tanh(h @ w) + h
    return h


def main():
    cuda = "--cuda" in sys.argv
    world = tacl.init()
    if cuda:
        torch.cuda.set_device(world.local_rank % torch.cuda.device_count())
    dev = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    _, pp, _, _ = ps.initialize_model_parallel(pipeline=2, data=world.size // 2,
                                              device=None if cuda else -1)
    hidden, nlayers = 32, 6
    ws = layers(nlayers, hidden, 99)
    mine = ws[:nlayers // 2] if pp.is_first_rank else ws[nlayers // 2:]
    mine = [w.to(dev) for w in mine]
    worst = 0.0
    for step, tokens in enumerate([3, 8, 1, 17]):
        if pp.is_first_rank:
            x = torch.randn(tokens, hidden, generator=torch.Generator().manual_seed(step))
            h = run(mine, x.to(dev))
            pp.send_tensor_dict({"hidden": h, "positions": torch.arange(tokens, device=dev),
                                 "step": step, "tokens": tokens})
            back = pp.recv_tensor_dict()
            assert back["step"] == step
            err = (back["out"].cpu() - run(ws, x)).abs().max().item()
            assert err < 1e-4, "step %d: pipelined output differs from the whole model by %g" % (step, err)
            worst = max(worst, err)
        else:
            d = pp.recv_tensor_dict()
            assert d["hidden"].shape == (d["tokens"], hidden) and d["hidden"].device == dev
            assert torch.equal(d["positions"].cpu(), torch.arange(d["tokens"]))
            pp.send_tensor_dict({"out": run(mine, d["hidden"]), "step": d["step"]})
    print("pipeline rank %d ok: stage %d of 2 on %s, max error %.2e"
          % (world.rank, pp.rank_in_group, dev, worst), flush=True)
    ps.destroy_model_parallel()


if __name__ == "__main__":
    main()
