"""coll_ranks.py - every collective x dtypes x in place / out of place, on numpy arrays and (when
T_TORCH=1) torch tensors incl. bfloat16 and float16, plus the buffer protocol and DLPack,
checked against numpy references computed from every rank's known input. T_DEVICE=cuda puts
the torch tensors on this rank's GPU (the device path), while numpy stays on the host path of
the same communicator."""
import array
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ok, vals, reduce_ref, tol, done  # noqa: E402

import tacl  # noqa: E402

USE_TORCH = os.environ.get("T_TORCH", "1") == "1"
if USE_TORCH:
    import torch

comm = tacl.init()
R, N = comm.rank, comm.size
DEV = "cpu"
if os.environ.get("T_DEVICE") == "cuda":
    torch.cuda.set_device(comm.local_rank % torch.cuda.device_count())
    DEV = "cuda:%d" % torch.cuda.current_device()
OPS = ["sum", "prod", "min", "max", "avg"]


class NP(object):
    name = "numpy"
    dtypes = ["int8", "uint8", "int32", "uint32", "int64", "uint64", "float16", "float32", "float64"]

    def make(self, a64, dt):
        return np.ascontiguousarray(a64.astype(dt))

    def empty(self, shape, dt):
        return np.full(shape, 99, dtype=dt)

    def f64(self, x):
        return np.asarray(x, dtype=np.float64).reshape(-1)

    def flat(self, x, lo, hi):
        return x.reshape(-1)[lo:hi]


class TH(object):
    name = "torch"
    dtypes = ["int8", "uint8", "int32", "int64", "float16", "bfloat16", "float32", "float64"]

    def make(self, a64, dt):
        return torch.from_numpy(a64.copy()).to(getattr(torch, dt)).to(DEV)

    def empty(self, shape, dt):
        return torch.full(shape, 99, dtype=getattr(torch, dt), device=DEV)

    def f64(self, x):
        return x.to(torch.float64).reshape(-1).cpu().numpy()

    def flat(self, x, lo, hi):
        return x.reshape(-1)[lo:hi]


def eq(K, x, ref, dt, op, what):
    got = K.f64(x)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    ok(got.shape == ref.shape, "%s: %d elements, expected %d" % (what, got.size, ref.size))
    err = float(np.max(np.abs(got - ref))) if got.size else 0.0
    ok(err <= tol(dt, op) * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0),
       "rank %d %s: max error %g\n got %s\n ref %s" % (R, what, err, got[:12], ref[:12]))


def run(K):
    C = 5
    for dt in K.dtypes:
        # all_reduce: every op, in place and out=
        for op in OPS:
            ins = [vals(r, C, op) for r in range(N)]
            ref = reduce_ref(op, ins, dt)
            t = K.make(ins[R], dt)
            comm.all_reduce(t, op=op)
            eq(K, t, ref, dt, op, "%s all_reduce %s %s in place" % (K.name, dt, op))
            t = K.make(ins[R], dt)
            out = K.empty((C,), dt)
            res = comm.all_reduce(t, op=op, out=out)
            eq(K, out, ref, dt, op, "%s all_reduce %s %s out=" % (K.name, dt, op))
            ok(res is out, "all_reduce returns out")
            eq(K, t, ins[R], dt, "sum", "%s all_reduce %s out= leaves the input" % (K.name, dt))
        ins = [vals(r, C) for r in range(N)]
        # reduce to the last rank
        root = N - 1
        t = K.make(ins[R], dt)
        comm.reduce(t, root=root, op="max")
        eq(K, t, reduce_ref("max", ins, dt) if R == root else ins[R], dt, "max",
           "%s reduce %s in place" % (K.name, dt))
        t = K.make(ins[R], dt)
        out = K.empty((C,), dt)
        comm.reduce(t, dst=root, op="sum", out=out)
        if R == root:
            eq(K, out, reduce_ref("sum", ins, dt), dt, "sum", "%s reduce %s out=" % (K.name, dt))
        # broadcast from rank 1 % N
        root = 1 % N
        t = K.make(ins[R], dt)
        comm.broadcast(t, root=root)
        eq(K, t, ins[root], dt, "sum", "%s broadcast %s in place" % (K.name, dt))
        t = K.make(ins[R], dt)
        out = K.empty((C,), dt)
        comm.broadcast(t, src=root, out=out)
        eq(K, out, ins[root], dt, "sum", "%s broadcast %s out=" % (K.name, dt))
        # all_gather: (N, C) output, in place (my block of the output), list form
        allv = np.concatenate(ins)
        out = K.empty((N, C), dt)
        comm.all_gather(out, K.make(ins[R], dt))
        eq(K, out, allv, dt, "sum", "%s all_gather %s" % (K.name, dt))
        out = K.empty((N, C), dt)
        out[R] = K.make(ins[R], dt)
        comm.all_gather(out, out[R])
        eq(K, out, allv, dt, "sum", "%s all_gather %s in place" % (K.name, dt))
        outs = [K.empty((C,), dt) for _ in range(N)]
        comm.all_gather(outs, K.make(ins[R], dt))
        for q in range(N):
            eq(K, outs[q], ins[q], dt, "sum", "%s all_gather %s list[%d]" % (K.name, dt, q))
        # reduce_scatter: inputs of N*C, rank R gets block R of the sum
        rins = [vals(r, N * C) for r in range(N)]
        rref = reduce_ref("sum", rins, dt)
        out = K.empty((C,), dt)
        comm.reduce_scatter(out, K.make(rins[R], dt), op="sum")
        eq(K, out, rref[R * C:(R + 1) * C], dt, "sum", "%s reduce_scatter %s" % (K.name, dt))
        big = K.make(rins[R], dt)
        comm.reduce_scatter(K.flat(big, R * C, (R + 1) * C), big, op="sum")
        eq(K, K.flat(big, R * C, (R + 1) * C), rref[R * C:(R + 1) * C], dt, "sum",
           "%s reduce_scatter %s in place" % (K.name, dt))
        out = K.empty((C,), dt)
        comm.reduce_scatter(out, [K.make(rins[R][q * C:(q + 1) * C], dt) for q in range(N)], op="max")
        eq(K, out, reduce_ref("max", rins, dt)[R * C:(R + 1) * C], dt, "max",
           "%s reduce_scatter %s list max" % (K.name, dt))
        # all_to_all: equal blocks; split sizes (rows of 3); lists
        a = [vals(r, N * C) + 100 * 0 for r in range(N)]
        out = K.empty((N * C,), dt)
        comm.all_to_all(out, K.make(a[R], dt))
        eq(K, out, np.concatenate([a[q][R * C:(R + 1) * C] for q in range(N)]), dt, "sum",
           "%s all_to_all %s" % (K.name, dt))
        W = 3

        def rows(src, dst):
            return (src + dst) % 2 + 1
        send_rows = [rows(R, p) for p in range(N)]
        recv_rows = [rows(q, R) for q in range(N)]
        mine = [vals(R * 10 + p, rows(R, p) * W) for p in range(N)]
        inp = K.make(np.concatenate(mine).reshape(-1, W), dt)
        out = K.empty((sum(recv_rows), W), dt)
        comm.all_to_all(out, inp, out_splits=recv_rows, in_splits=send_rows)
        eq(K, out, np.concatenate([vals(q * 10 + R, rows(q, R) * W) for q in range(N)]), dt, "sum",
           "%s all_to_all %s split sizes" % (K.name, dt))
        outs = [K.empty((rows(q, R) * W,), dt) for q in range(N)]
        comm.all_to_all(outs, [K.make(m, dt) for m in mine])
        for q in range(N):
            eq(K, outs[q], vals(q * 10 + R, rows(q, R) * W), dt, "sum",
               "%s all_to_all %s list[%d]" % (K.name, dt, q))
        # gather to rank 0, scatter from the last rank
        out = K.empty((N, C), dt) if R == 0 else None
        got = comm.gather(K.make(ins[R], dt), out, root=0)
        ok(got is out, "%s gather %s returns its output (None off the root)" % (K.name, dt))
        if R == 0:
            eq(K, out, allv, dt, "sum", "%s gather %s" % (K.name, dt))
        outs = [K.empty((C,), dt) for _ in range(N)] if R == 0 else None
        comm.gather(K.make(ins[R], dt), outs, dst=0)
        if R == 0:
            for q in range(N):
                eq(K, outs[q], ins[q], dt, "sum", "%s gather %s list[%d]" % (K.name, dt, q))
        src = N - 1
        out = K.empty((C,), dt)
        got = comm.scatter(out, K.make(allv, dt) if R == src else None, root=src)
        ok(got is out, "%s scatter %s returns its output" % (K.name, dt))
        eq(K, out, ins[R], dt, "sum", "%s scatter %s" % (K.name, dt))
        out = K.empty((C,), dt)
        comm.scatter(out, [K.make(ins[q], dt) for q in range(N)] if R == src else None, src=src)
        eq(K, out, ins[R], dt, "sum", "%s scatter %s list" % (K.name, dt))
        # send / recv around a ring, with a tag; even ranks send first (NCCL's sends are not
        # eager, so a ring where every rank sends first could wait forever)
        nxt, prv = (R + 1) % N, (R - 1) % N
        out = K.empty((C,), dt)
        if N == 1:
            continue  # no other rank to send to (a send to oneself is refused)
        if R % 2 == 0:
            comm.send(K.make(ins[R], dt), nxt, tag=7)
            ok(comm.recv(out, prv, tag=7) == prv, "recv returns src")
        else:
            ok(comm.recv(out, prv, tag=7) == prv, "recv returns src")
            comm.send(K.make(ins[R], dt), nxt, tag=7)
        eq(K, out, ins[prv], dt, "sum", "%s send/recv %s" % (K.name, dt))
    comm.barrier()


def larger():
    """Sizes past the shared-memory one-shot and slot thresholds (other algorithms/chunking)."""
    for n in (70000, (1 << 20) // 4 + 3):
        ins = [vals(r, n) for r in range(N)]
        a = ins[R].astype(np.float32)
        comm.all_reduce(a)
        eq(NP(), a, reduce_ref("sum", ins, "float32"), "float32", "sum", "all_reduce %d floats" % n)
        out = np.empty((N, n), np.float32)
        comm.all_gather(out, ins[R].astype(np.float32))
        eq(NP(), out, np.concatenate(ins), "float32", "sum", "all_gather %d floats" % n)


def buffers():
    """The buffer protocol (bytearray, array.array, read-only bytes) and DLPack."""
    ins = [vals(r, 8) for r in range(N)]
    ba = bytearray(ins[R].astype(np.uint8).tobytes())
    comm.all_reduce(ba)
    eq(NP(), np.frombuffer(bytes(ba), np.uint8), reduce_ref("sum", ins, "uint8"), "uint8", "sum",
       "all_reduce on a bytearray")
    arr = array.array("i", ins[R].astype(np.int32).tolist())
    comm.all_reduce(arr, op="max")
    eq(NP(), np.array(arr.tolist()), reduce_ref("max", ins, "int32"), "int32", "max",
       "all_reduce on array.array('i')")
    arr = array.array("d", [0.0] * (8 * N))
    comm.all_gather(arr, memoryview(ins[R].astype(np.float64).tobytes()).cast("d"))
    eq(NP(), np.array(arr.tolist()), np.concatenate(ins), "float64", "sum",
       "all_gather from a read-only memoryview into array.array('d')")
    try:
        comm.all_reduce(b"\x01\x02")
        ok(False, "all_reduce into bytes must be refused")
    except tacl.InvalidArgument as e:
        ok("writable" in str(e) or "read-only" in str(e), "bytes refusal says why: %s" % e)
    if USE_TORCH:
        class DL(object):  # a DLPack producer that is not a torch tensor
            def __init__(self, t):
                self.t = t

            def __dlpack__(self, stream=None):
                return torch.utils.dlpack.to_dlpack(self.t)

            def __dlpack_device__(self):
                return (1, 0)
        t = torch.from_numpy(ins[R].copy()).to(torch.bfloat16)
        comm.all_reduce(DL(t))
        eq(TH(), t, reduce_ref("sum", ins, "bfloat16"), "bfloat16", "sum", "all_reduce through DLPack")
        # non-contiguous: refused where written, copied where only read
        m = torch.zeros(4, 6)
        try:
            comm.all_reduce(m[:, ::2])
            ok(False, "non-contiguous all_reduce must be refused")
        except tacl.InvalidArgument as e:
            ok("not contiguous" in str(e) and e.status == 1, "non-contiguous message: %s" % e)
        src = torch.arange(12.0).reshape(3, 4) + R
        out = torch.empty(N, 3, 2)
        comm.all_gather(out, src[:, ::2])
        ok(all(torch.equal(out[q], torch.arange(12.0).reshape(3, 4)[:, ::2] + q) for q in range(N)),
           "all_gather copies a non-contiguous input")
        # a numpy array and a torch tensor in one call
        out = torch.empty(N * 4, dtype=torch.float32)
        comm.all_gather(out, np.full(4, R, np.float32))
        ok(torch.equal(out, torch.arange(N).repeat_interleave(4).float()), "numpy in, torch out")
        # torch.distributed.ReduceOp-like op objects
        class RO(object):
            name = "MAX"
        t = torch.tensor([float(R)])
        comm.all_reduce(t, op=RO())
        ok(t.item() == N - 1, "op given as an object with .name")
        import torch.distributed as dist
        t = torch.tensor([float(R + 1)])
        comm.all_reduce(t, op=dist.ReduceOp.SUM)
        comm.all_reduce(t, op=dist.ReduceOp.MAX)
        ok(t.item() == N * (N + 1) // 2, "torch.distributed.ReduceOp values")
        try:
            comm.all_reduce(t, op=dist.ReduceOp.BAND)
            ok(False, "ReduceOp.BAND must be refused")
        except tacl.InvalidArgument as e:
            ok("BAND" in str(e), "BAND refusal names it: %s" % e)


run(NP())
if USE_TORCH:
    run(TH())
larger()
buffers()
ok(comm.local_rank == R and comm.local_size == N, "local rank/size on one host")
ok(len(set(comm.all_gather_object(comm.host_id))) == 1, "one host id")
if not USE_TORCH:
    ok("torch" not in sys.modules, "numpy-only use never imports torch")
done("coll", R)
tacl.finalize()
