"""objects_ranks.py - pickled objects (broadcast_object, broadcast_object_list,
all_gather_object, send_object/recv_object) and the vLLM group calls on a world Group: tensor
dicts (broadcast, send/recv around a ring), all_gather(t, dim), reduce_scatter(t, dim), gather."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ok, done  # noqa: E402

import tacl  # noqa: E402
from tacl.parallel import Group  # noqa: E402

comm = tacl.init()
R, N = comm.rank, comm.size

# ---- objects ----
for root in range(N):
    obj = {"root": root, "blob": bytes(range(256)) * 5000, "list": [1, 2.5, "x"]} if R == root else None
    got = comm.broadcast_object(obj, root=root)
    ok(got["root"] == root and len(got["blob"]) == 1280000 and got["list"] == [1, 2.5, "x"],
       "broadcast_object from %d" % root)
ok(comm.broadcast_object("tiny" if R == 1 else None, src=1) == "tiny", "broadcast_object src=")
ok(comm.broadcast_object(None, root=0) is None, "broadcast_object of None")
lst = [R, "r%d" % R] if R == 0 else [None, None]
comm.broadcast_object_list(lst, src=0)
ok(lst == [0, "r0"], "broadcast_object_list")
g = comm.all_gather_object({"rank": R, "pad": "y" * (R * 1000)})
ok([x["rank"] for x in g] == list(range(N)) and all(len(x["pad"]) == i * 1000 for i, x in enumerate(g)),
   "all_gather_object")
lst = [None] * N
comm.all_gather_object(lst, ("t", R))
ok(lst == [("t", r) for r in range(N)], "all_gather_object(list, obj)")
nxt, prv = (R + 1) % N, (R - 1) % N
for i in range(3):
    comm.send_object({"i": i, "from": R, "arr": np.arange(i + R)}, nxt, tag=i % 2)
for i in range(3):
    m = comm.recv_object(prv, tag=i % 2)
    ok(m["i"] == i and m["from"] == prv and list(m["arr"]) == list(range(i + prv)),
       "send/recv_object %d: %s" % (i, m))

# ---- tensor dicts ----
G = Group(comm, range(N), "world")
ok(G.rank_in_group == R and G.world_size == N and G.first_rank == 0 and G.last_rank == N - 1,
   "group identity")
ok(G.is_first_rank == (R == 0) and G.is_last_rank == (R == N - 1), "first/last")
ok(G.next_rank == nxt and G.prev_rank == prv, "next/prev")


def sample(seed):
    return {
        "f32": torch.arange(12, dtype=torch.float32).reshape(3, 4) + seed,
        "bf16": torch.full((5,), seed + 0.5, dtype=torch.bfloat16),
        "i64": torch.tensor([seed, -seed], dtype=torch.int64),
        "empty": torch.empty(0, 3),
        "mask": torch.tensor([True, False, seed % 2 == 0]),
        "np": np.arange(6, dtype=np.int32).reshape(2, 3) * seed,
        "meta": {"seed": seed, "names": ["a", "b"]},
        "none": None,
    }


def same(a, b, what):
    ok(set(a) == set(b), "%s: keys %s vs %s" % (what, sorted(a), sorted(b)))
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, torch.Tensor):
            ok(isinstance(y, torch.Tensor) and x.dtype == y.dtype and x.shape == y.shape
               and torch.equal(x, y), "%s[%s]: %s vs %s" % (what, k, x, y))
        elif isinstance(x, np.ndarray):
            ok(isinstance(y, np.ndarray) and x.dtype == y.dtype and np.array_equal(x, y),
               "%s[%s]" % (what, k))
        else:
            ok(x == y, "%s[%s]: %r vs %r" % (what, k, x, y))


for src in range(N):
    d = G.broadcast_tensor_dict(sample(src) if R == src else None, src=src)
    same(sample(src), d, "broadcast_tensor_dict from %d" % src)
G.send_tensor_dict(sample(100 + R))
same(sample(100 + prv), G.recv_tensor_dict(), "send/recv_tensor_dict around the ring")
if N > 2:
    if R == 0:
        G.send_tensor_dict(sample(7), dst=2)
    if R == 2:
        same(sample(7), G.recv_tensor_dict(src=0), "send_tensor_dict to a rank two away")

# ---- dim-wise group collectives (torch) ----
x = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) + 100 * R
full = [torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) + 100 * q for q in range(N)]
for dim in (0, 1, -1):
    ok(torch.equal(G.all_gather(x, dim), torch.cat(full, dim)), "all_gather dim %d" % dim)
y = torch.arange(2 * 3 * N * 4 * N, dtype=torch.float32).reshape(2, 3 * N, 4 * N) + R
tot = sum(torch.arange(2 * 3 * N * 4 * N, dtype=torch.float32).reshape(2, 3 * N, 4 * N) + q for q in range(N))
for dim in (1, 2, -1):
    ok(torch.equal(G.reduce_scatter(y, dim), tot.chunk(N, dim)[R]), "reduce_scatter dim %d" % dim)
got = G.gather(x, dst=N - 1, dim=1)
ok((got is None) if R != N - 1 else torch.equal(got, torch.cat(full, 1)), "gather dim 1")
t = torch.ones(3) * R
ok(G.all_reduce(t) is t and torch.equal(t, torch.ones(3) * (N * (N - 1) // 2)), "group all_reduce")
G.send(torch.full((2, 2), float(R)), dst=None)
ok(torch.equal(G.recv((2, 2), torch.float32, device="cpu"), torch.full((2, 2), float(prv))), "group send/recv")
done("objects", R)
