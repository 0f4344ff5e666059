"""mem_ranks.py - Communicator.shared_memory (tacl_mem_alloc): zeroed memory, numpy and torch
views of it, all_reduce in it in place and between two regions (checked against numpy
references computed from every rank's known input), all_gather from it into an ordinary
array and in place, views past its end refused, free
(collective) and use after free refused, the rest released by destroy."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ok, vals, reduce_ref, done  # noqa: E402

import tacl  # noqa: E402

try:
    import torch
except ImportError:  # numpy views only
    torch = None

comm = tacl.init()
R, N = comm.rank, comm.size
COUNT = 300007  # past the copying path's one-shot sizes

a = comm.shared_memory(4 << 20)
b = comm.shared_memory(4 << 20)
x = a.numpy("float32", (COUNT,))
ok(x.dtype == np.float32 and x.shape == (COUNT,) and not x.any(), "zeroed float32 view")
ok(a.ptr % 4096 == 0 and a.nbytes == 4 << 20, "page-aligned, its size")

for op in ("sum", "max", "avg"):
    x[:] = vals(R, COUNT, op)
    comm.all_reduce(x, op=op)
    ref = reduce_ref(op, [vals(q, COUNT, op) for q in range(N)], "float32")
    ok(np.allclose(x, ref, rtol=1e-6), "numpy in place %s" % op)

y = b.numpy("int32", (COUNT,), offset=4096 * (R + 1))
x32 = a.numpy("int32", (COUNT,), offset=64)
x32[:] = vals(R, COUNT).astype(np.int32)
comm.all_reduce(x32, out=y)
ok((y == reduce_ref("sum", [vals(q, COUNT) for q in range(N)], "int32")).all(),
   "int32 from one region into another at per-rank offsets")

if torch is not None:
    t = a.torch(torch.bfloat16, (1000, 300))
    t.copy_(torch.from_numpy(vals(R, 300000).reshape(1000, 300)).to(torch.bfloat16))
    comm.all_reduce(t)
    ref = reduce_ref("sum", [vals(q, 300000) for q in range(N)], "bfloat16").reshape(1000, 300)
    ok(torch.equal(t.float(), torch.from_numpy(ref).float().to(torch.bfloat16).float()),
       "torch bfloat16 view, in place")
    ok(a.torch("float32").numel() == (4 << 20) // 4, "a view of all of it")

# all_gather from shared memory into an ordinary array (each rank copies the blocks straight
# from the peers' inputs) and in place, checked against every rank's known input.
g = a.numpy("float32", (COUNT // 4,), offset=8192)
g[:] = vals(R, COUNT // 4)
out = np.zeros((N, COUNT // 4), dtype=np.float32)
comm.all_gather(out, g)
ok(all((out[q] == vals(q, COUNT // 4).astype(np.float32)).all() for q in range(N)),
   "all_gather from shared memory into a numpy array")
whole = b.numpy("float32", (N, COUNT // 4))
whole[R] = vals(R, COUNT // 4) + 1
comm.all_gather(whole, whole[R])
ok(all((whole[q] == (vals(q, COUNT // 4) + 1).astype(np.float32)).all() for q in range(N)),
   "all_gather in place in shared memory")

try:
    a.numpy("float64", (COUNT,), offset=(4 << 20) - 8)
    ok(False, "a view past the end must be refused")
except tacl.TaclError as e:
    ok("does not fit" in str(e), "view past the end: %s" % e)

b.free()
b.free()  # a second free does nothing
try:
    b.numpy()
    ok(False, "a view of freed memory must be refused")
except tacl.TaclError as e:
    ok("was freed" in str(e), "freed: %s" % e)
ok("freed" in repr(b), "repr says freed")
done("mem", R)
tacl.finalize()  # releases a
