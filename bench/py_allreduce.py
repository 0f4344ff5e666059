"""py_allreduce.py - all_reduce from Python: tacl's comm.all_reduce against the same call from C
(`tacl bench all_reduce`) and against torch.distributed's gloo backend, on CPU tensors of
8 B to 64 MiB (float32, sum, in place), at each rank count given; with --cuda, tacl on CUDA
tensors against a ctypes call of the same NCCL (PyNccl's way: ncclCommInitRank with a unique
id shared over the host path, ncclAllReduce on torch's current stream) and torch.distributed
NCCL. Prints a markdown table per rank count: p50/p99 per call (rank 0; CPU: host time between
consecutive returns of back-to-back calls; CUDA: CUDA events between consecutive calls), busbw
from p50 (nccl-tests' formula) and the ratios. A world of one rank (-n 1) measures the
binding's own cost per call: the C call then does next to nothing.

    python3 bench/py_allreduce.py -n 1,2,4              # CPU: tacl-py, tacl C, gloo
    python3 bench/py_allreduce.py -n 2,4,8 --cuda       # GPU: tacl-py, NCCL via ctypes, torch NCCL

Needs TACL_LIBRARY (or an installed package) and `tacl` (TACL_CLI, else build/tools/tacl/tacl)."""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def parse_size(s):
    m = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(s[:-1]) * m[s[-1].upper()]) if s[-1].upper() in m else int(s)


def sizes(lo, hi, f):
    out, n = [], lo
    while n <= hi:
        out.append(n)
        n *= f
    if out[-1] != hi:
        out.append(hi)
    return out


def iters_for(nbytes, base):
    return max(10, min(base, int(64e6 / max(nbytes, 16384))))


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def emit(rank, impl, n, nbytes, times_us):
    if rank != 0:
        return
    p50 = pct(times_us, 0.5)
    algbw = nbytes / p50 / 1e3 if p50 > 0 else 0.0
    print(json.dumps({"impl": impl, "ranks": n, "size": nbytes, "p50_us": p50,
                      "p99_us": pct(times_us, 0.99), "mean_us": sum(times_us) / len(times_us),
                      "busbw": algbw * 2 * (n - 1) / n, "iters": len(times_us)}), flush=True)


# ---------------------------------------------------------------- workers (one per rank)
def worker_cpu(impl, args):
    import torch
    if impl in ("tacl", "tacl-ctypes"):
        import tacl
        comm = tacl.init()
        rank, n = comm.rank, comm.size
        call, barrier = comm.all_reduce, comm.barrier
        if impl == "tacl-ctypes":  # the bare ctypes call, without the binding's Python
            fn, h = tacl._lib.load().tacl_all_reduce, comm.handle

            def call(t):
                p = t.data_ptr()
                fn(h, p, p, t.numel(), 8, 0)
    else:
        import torch.distributed as dist
        dist.init_process_group("gloo")
        rank, n = dist.get_rank(), dist.get_world_size()
        call, barrier = dist.all_reduce, dist.barrier
    buf = torch.ones(args.max // 4)
    clock = time.perf_counter_ns
    for _ in range(500 if impl == "gloo" else 20000):  # every rank up before the first size
        call(buf[:2])
    barrier()
    for nbytes in sizes(args.min, args.max, args.factor):
        t = buf[:max(1, nbytes // 4)]
        it = iters_for(nbytes, args.iters)
        for _ in range(max(5, it // 10)):
            call(t)
        barrier()
        # One clock read per call, between consecutive returns (as a C loop's mean is taken):
        # the loop's own bookkeeping stays out of every rank's time between calls.
        stamps = [0] * (it + 1)
        stamps[0] = clock()
        for i in range(1, it + 1):
            call(t)
            stamps[i] = clock()
        emit(rank, impl, n, nbytes, [(stamps[i] - stamps[i - 1]) / 1e3 for i in range(1, it + 1)])


class _NcclCtypes(object):
    """NCCL called through ctypes the way vLLM's PyNccl does."""

    def __init__(self, comm):
        import ctypes
        import tacl
        L = tacl._lib.load()
        ver, path = ctypes.c_int(), ctypes.c_char_p()
        st = L.tacl_nccl_loaded(ctypes.byref(ver), ctypes.byref(path))
        assert st == 0, "tacl_nccl_loaded: %s" % L.tacl_last_error()
        self.lib = ctypes.CDLL(path.value.decode())  # the NCCL tacl uses: same code, same version

        class UniqueId(ctypes.Structure):
            _fields_ = [("internal", ctypes.c_byte * 128)]
        uid = UniqueId()
        if comm.rank == 0:
            assert self.lib.ncclGetUniqueId(ctypes.byref(uid)) == 0
        raw = comm.broadcast_object(bytes(uid.internal) if comm.rank == 0 else None, root=0)
        ctypes.memmove(ctypes.byref(uid), raw, 128)
        self.comm = ctypes.c_void_p()
        self.lib.ncclCommInitRank.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, UniqueId, ctypes.c_int]
        assert self.lib.ncclCommInitRank(ctypes.byref(self.comm), comm.size, uid, comm.rank) == 0
        self.lib.ncclAllReduce.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                                           ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        self.fn = self.lib.ncclAllReduce
        self.cstream = ctypes.c_void_p

    def all_reduce(self, t):
        import torch
        p = t.data_ptr()
        st = self.fn(p, p, t.numel(), 7, 0, self.comm, torch.cuda.current_stream().cuda_stream)  # float32, sum
        if st:
            raise RuntimeError("ncclAllReduce: %d" % st)


def worker_cuda(impl, args):
    import torch
    if not torch.cuda.is_available():
        sys.exit("py_allreduce --cuda: torch %s sees no CUDA device" % torch.__version__)
    local = int(os.environ.get("LOCAL_RANK", os.environ.get("TACL_LOCAL_RANK", "0")))
    torch.cuda.set_device(local % torch.cuda.device_count())
    if impl == "torch-nccl":
        import torch.distributed as dist
        dist.init_process_group("nccl")
        rank, n = dist.get_rank(), dist.get_world_size()
        call = dist.all_reduce
        barrier = dist.barrier
    else:
        import tacl
        comm = tacl.init()
        rank, n = comm.rank, comm.size
        barrier = comm.barrier
        if impl == "tacl-cuda":
            comm.device_comm()
            call = comm.all_reduce
        else:
            call = _NcclCtypes(comm).all_reduce
    buf = torch.ones(args.max // 4, device="cuda")
    for nbytes in sizes(args.min, args.max, args.factor):
        t = buf[:max(1, nbytes // 4)]
        it = iters_for(nbytes, args.iters)
        for _ in range(max(5, it // 10)):
            call(t)
        torch.cuda.synchronize()
        barrier()
        ev = [torch.cuda.Event(enable_timing=True) for _ in range(it + 1)]
        ev[0].record()
        for i in range(it):
            call(t)
            ev[i + 1].record()
        torch.cuda.synchronize()
        emit(rank, impl, n, nbytes, [ev[i].elapsed_time(ev[i + 1]) * 1e3 for i in range(it)])


# ---------------------------------------------------------------- driver
def cli():
    c = os.environ.get("TACL_CLI") or os.path.join(ROOT, "build", "tools", "tacl", "tacl")
    if not os.path.exists(c):
        sys.exit("py_allreduce: no tacl CLI at %s (set TACL_CLI)" % c)
    return c


def launch(n, argv, timeout=1800):
    cmd = [cli(), "run", "-n", str(n), "--"] + argv
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=timeout)
    if p.returncode:
        sys.stderr.write("py_allreduce: %s failed (%d):\n%s\n" % (" ".join(argv[:3]), p.returncode, p.stderr[-3000:]))
        return []
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


def c_bench(n, args):
    """`tacl bench` means (nccl-tests reports means) of the in-place column (measured after the
    out-of-place one, so start-up does not land in it): many iterations up to 64 KiB, fewer
    above."""
    out = {}
    split = 64 << 10
    small = sizes(args.min, args.max, args.factor)
    big = [x for x in small if x > split]
    for lo, hi, it in ((args.min, min(args.max, split), max(args.iters, 2000)),
                       (big[0] if big else args.max + 1, args.max, 20)):
        if lo > hi:
            continue
        rows = launch(n, [cli(), "bench", "all_reduce", "-b", str(lo),
                          "-e", str(hi), "-f", str(args.factor), "-n", str(it), "-w", "50",
                          "-d", "float", "-J"])
        out.update({r["size"]: r["in_place"]["time_us"] for r in rows if r["size"] >= lo})
    return out


def fmt_size(b):
    for u, m in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= m and b % m == 0:
            return "%d %s" % (b // m, u)
    return "%d B" % b


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--ranks", default="2,4")
    ap.add_argument("-b", "--min", default="8")
    ap.add_argument("-e", "--max", default="64M")
    ap.add_argument("-f", "--factor", type=int, default=4)
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--cuda", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.min, args.max = parse_size(args.min), parse_size(args.max)
    if args.worker:
        (worker_cuda if args.cuda else worker_cpu)(args.worker, args)
        return
    me = [sys.executable, os.path.abspath(__file__), "-b", str(args.min), "-e", str(args.max),
          "-f", str(args.factor), "--iters", str(args.iters)] + (["--cuda"] if args.cuda else [])
    for n in [int(x) for x in args.ranks.split(",")]:
        if args.cuda:
            impls = ["tacl-cuda", "nccl-ctypes", "torch-nccl"]
        else:
            impls = ["tacl", "gloo", "tacl-ctypes"]
        res = {i: {r["size"]: r for r in launch(n, me + ["--worker", i])} for i in impls}
        a, b = impls[0], impls[1]
        if args.cuda:
            c = impls[2]
            print("\n### %d ranks, CUDA float32 sum (p50/p99 per call from CUDA events, us)\n" % n)
            print("| size | tacl-py p50 | p99 | NCCL ctypes p50 | p99 | torch NCCL p50 | p99 | tacl-py - ctypes (p50, us) | busbw tacl / ctypes | busbw tacl / torch |")
            print("|---|---|---|---|---|---|---|---|---|---|")
            for s in sorted(res[a]):
                x, y, z = res[a][s], res[b].get(s), res[c].get(s)
                if not y or not z:
                    continue
                print("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %+.2f | %.3f | %.3f |" % (
                    fmt_size(s), x["p50_us"], x["p99_us"], y["p50_us"], y["p99_us"], z["p50_us"], z["p99_us"],
                    x["p50_us"] - y["p50_us"], x["busbw"] / y["busbw"] if y["busbw"] else 0,
                    x["busbw"] / z["busbw"] if z["busbw"] else 0))
        else:
            cm = c_bench(n, args)
            print("\n### %d ranks, CPU float32 sum in place (us per call, rank 0)\n" % n)
            print("| size | tacl-py p50 | p99 | mean | bare ctypes p50 | tacl C mean (tacl bench) | py - C (mean, us) | gloo p50 | p99 | gloo / tacl-py (p50) | busbw tacl-py GB/s | busbw gloo | busbw ratio |")
            print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
            for s in sorted(res[a]):
                x, y, r = res[a][s], res[b].get(s), res["tacl-ctypes"].get(s)
                if not y:
                    continue
                cmean = cm.get(s)
                print("| %s | %.2f | %.2f | %.2f | %s | %s | %s | %.2f | %.2f | %.1fx | %.3f | %.3f | %.2fx |" % (
                    fmt_size(s), x["p50_us"], x["p99_us"], x["mean_us"],
                    "%.2f" % r["p50_us"] if r else "-",
                    "%.2f" % cmean if cmean is not None else "-",
                    "%+.2f" % (x["mean_us"] - cmean) if cmean is not None else "-",
                    y["p50_us"], y["p99_us"], y["p50_us"] / x["p50_us"], x["busbw"], y["busbw"],
                    x["busbw"] / y["busbw"] if y["busbw"] else 0))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
