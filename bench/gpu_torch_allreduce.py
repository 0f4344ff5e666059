"""gpu_torch_allreduce.py - the PyTorch peer of `tacl bench --gpu` and bench/gpu_nccl_raw.c: torch.distributed NCCL
all_reduce (float32, sum) timed with CUDA events, printed in nccl-tests' columns on rank 0.
Run: torchrun --nproc-per-node N bench/gpu_torch_allreduce.py [min_bytes max_bytes iters]
(or `tacl run -n N -- python3 bench/gpu_torch_allreduce.py`, which sets torchrun's variables)."""
import os
import sys

import torch
import torch.distributed as dist


def main():
    lo = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    hi = int(sys.argv[2]) if len(sys.argv) > 2 else 256 << 20
    iters = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    local = int(os.environ.get("LOCAL_RANK", "0"))
    torch.cuda.set_device(local % torch.cuda.device_count())
    dist.init_process_group("nccl")
    rank, size = dist.get_rank(), dist.get_world_size()
    a = torch.zeros(hi // 4, device="cuda")
    if rank == 0:
        print(f"# torch.distributed all_reduce, {size} ranks, NCCL {torch.cuda.nccl.version()}")
        print("#%11s %12s %6s %10s %8s %8s" % ("size(B)", "count", "type", "time(us)", "algbw", "busbw"))
    nbytes = lo
    while nbytes <= hi:
        t = a[: nbytes // 4]
        for _ in range(5):
            dist.all_reduce(t)
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        for _ in range(iters):
            dist.all_reduce(t)
        e1.record()
        torch.cuda.synchronize()
        us = e0.elapsed_time(e1) * 1e3 / iters
        algbw = nbytes / us / 1e3
        if rank == 0:
            print("%12d %12d %6s %10.2f %8.2f %8.2f" % (nbytes, nbytes // 4, "float", us, algbw,
                                                      algbw * 2 * (size - 1) / size))
        nbytes *= 2
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
