"""CUDA tensors on every GPU of the machine (up to 8), one rank per GPU: the collective matrix
against numpy references on the device path, and cuda_ranks.py's device-path checks across
ranks. Skipped with fewer than two GPUs (NCCL does not put two ranks on one GPU)."""
import glob

import pytest

from launch import run_ranks, expect_ok

if not glob.glob("/dev/nvidia[0-9]*"):  # decided before paying for importing torch
    pytest.skip("no NVIDIA GPU device nodes (/dev/nvidia0...) on this machine", allow_module_level=True)
torch = pytest.importorskip("torch")
NGPU = torch.cuda.device_count() if torch.cuda.is_available() else 0
if NGPU < 2:
    pytest.skip("needs at least 2 CUDA devices (found %d)" % NGPU, allow_module_level=True)
N = min(NGPU, 8)


def test_collectives_on_gpus():
    expect_ok(run_ranks(N, "coll_ranks.py", env={"T_DEVICE": "cuda"}, timeout=220), N, "coll")


def test_device_path_on_gpus():
    print(expect_ok(run_ranks(N, "cuda_ranks.py", timeout=220), N, "cuda"))
