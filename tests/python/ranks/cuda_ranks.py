"""cuda_ranks.py - the device path beyond the collective matrix (coll_ranks.py with
T_DEVICE=cuda): one device communicator per GPU created lazily and once, CPU and CUDA tensors
mixed on one communicator, no host synchronisation (the call returns while the stream is still
busy), stream= arguments, capture in a CUDA graph and replays, torch.compile through
torch.ops.tacl.* (where torch has torch.library.custom_op), and the vLLM group calls with CUDA
tensors (tensor dicts arrive on the receiver's GPU)."""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ok, done  # noqa: E402

import tacl  # noqa: E402
import tacl.parallel as ps  # noqa: E402

comm = tacl.init()
R, N = comm.rank, comm.size
torch.cuda.set_device(comm.local_rank % torch.cuda.device_count())
D = torch.cuda.current_device()
dev = torch.device("cuda", D)
S = N * (N - 1) // 2  # sum of ranks

# mixed CPU / CUDA on one communicator: host path first (no device communicator), then one
c = torch.full((4,), float(R))
comm.all_reduce(c)
ok(torch.equal(c, torch.full((4,), float(S))) and not comm._devs, "CPU tensor on the host path")
g = torch.full((4,), float(R), device=dev)
comm.all_reduce(g)
torch.cuda.synchronize()
ok(torch.equal(g.cpu(), torch.full((4,), float(S))), "CUDA tensor on the device path")
ok(list(comm._devs) == [D], "one device communicator, for cuda:%d" % D)
dc = comm.device_comm(D)
ok(dc.size == N and dc.rank == R and dc.nccl_version > 0, "device communicator identity")
for i in range(3):
    comm.all_reduce(c)
    comm.all_reduce(g)
ok(list(comm._devs) == [D] and comm.device_comm() is dc, "created once")

# no host synchronisation: the stream is busy with a long kernel while the call returns
x = torch.ones(1 << 16, device=dev)
torch.cuda.synchronize()
torch.cuda._sleep(int(1e9))  # about half a second of GPU time
t0 = time.time()
comm.all_reduce(x)
dt = time.time() - t0
busy = not torch.cuda.current_stream().query()
torch.cuda.synchronize()
ok(dt < 0.1 and busy, "all_reduce returned after %.3f s with the stream %s" % (dt, "busy" if busy else "idle"))
ok(torch.equal(x, torch.full_like(x, float(N))), "result after the wait")

# stream= (a torch stream and a raw cudaStream_t)
s = torch.cuda.Stream()
y = torch.full((1000,), float(R + 1), device=dev)
s.wait_stream(torch.cuda.current_stream())
comm.all_reduce(y, stream=s)
comm.all_reduce(y, op="max", stream=s.cuda_stream)
s.synchronize()
ok(torch.equal(y.cpu(), torch.full((1000,), float(N * (N + 1) // 2))), "stream= argument")
comm.synchronize(stream=s)

# CUDA graph: capture all_reduce and all_gather, replay with new inputs
inp = torch.zeros(256, device=dev)
gath = torch.empty(N, 256, device=dev)
comm.all_reduce(inp)
torch.cuda.synchronize()
graph = torch.cuda.CUDAGraph()
with torch.cuda.graph(graph):
    outp = inp * 2
    comm.all_reduce(outp)
    comm.all_gather(gath, inp)
for k in range(3):
    inp.fill_(float(R + k))
    graph.replay()
    torch.cuda.synchronize()
    ok(torch.equal(outp.cpu(), torch.full((256,), 2.0 * (S + N * k))), "graph replay %d all_reduce" % k)
    ok(all(torch.equal(gath[q].cpu(), torch.full((256,), float(q + k))) for q in range(N)),
       "graph replay %d all_gather" % k)

# torch.compile through the custom ops
if tacl.register_ops():
    def f(t):
        return torch.ops.tacl.all_reduce(t * 2, comm.name, "sum") + 1

    def h(t):
        a = torch.ops.tacl.all_gather(t, 0, N, comm.name)
        return torch.ops.tacl.reduce_scatter(a * 1.0, 0, N, comm.name, "sum")
    cf = torch.compile(f, fullgraph=True)
    ch = torch.compile(h, fullgraph=True)
    t = torch.full((8, 4), float(R + 1), device=dev)
    ok(torch.equal(cf(t).cpu(), torch.full((8, 4), 2.0 * (S + N) + 1)), "compiled all_reduce")
    ok(torch.equal(cf(t).cpu(), f(t).cpu()), "compiled equals eager")
    # every rank gathers the same (8N, 4) tensor; the sum of N copies, cut: block R is N * (R + 1)
    ok(torch.equal(ch(t).cpu(), torch.full((8, 4), float(N * (R + 1)))), "compiled all_gather + reduce_scatter")
    print("rank %d: torch.compile checked with custom ops" % R, flush=True)
else:
    print("rank %d: %s" % (R, tacl.info()["custom_ops_status"]), flush=True)

# vLLM groups with CUDA tensors (device communicators made at initialisation)
tp, pp, _, _ = ps.initialize_model_parallel(tensor=N)
ok(tp.comm._devs and list(tp.comm._devs) == [D] if N > 1 else True, "groups' device communicators")
v = torch.full((3, 4), float(R), device=dev, dtype=torch.bfloat16)
ok(torch.equal(tp.all_reduce(v).cpu(), torch.full((3, 4), float(S), dtype=torch.bfloat16)), "group bf16 all_reduce")
ga = tp.all_gather(torch.full((2, 3), float(R), device=dev), dim=-1)
ok(ga.shape == (2, 3 * N) and ga.is_cuda, "group all_gather dim -1")
d = tp.broadcast_tensor_dict({"h": torch.arange(6.0, device=dev), "n": 3, "c": torch.ones(2)} if R == 0 else None, src=0)
ok(d["h"].device == dev and torch.equal(d["h"].cpu(), torch.arange(6.0)) and d["n"] == 3
   and not d["c"].is_cuda, "broadcast_tensor_dict: CUDA tensors on this rank's GPU, CPU ones on the host")
if N > 1:
    if R == 0:
        tp.send_tensor_dict({"x": torch.full((5,), 7.0, device=dev, dtype=torch.float16)}, dst=1)
    elif R == 1:
        got = tp.recv_tensor_dict(src=0)
        ok(got["x"].device == dev and got["x"].dtype == torch.float16 and
           torch.equal(got["x"].cpu(), torch.full((5,), 7.0, dtype=torch.float16)), "send/recv_tensor_dict on GPUs")
ps.destroy_model_parallel()
torch.cuda.synchronize()
done("cuda", R)
