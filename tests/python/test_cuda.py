"""CUDA tensors on one GPU (a world of one rank: NCCL allows one rank per GPU): the collective
matrix on the device path (bf16 and fp16 included) with numpy on the host path of the same
communicator, and cuda_ranks.py (lazy device communicator, no host sync, stream=, CUDA graph
capture and replay, torch.compile with the custom ops, groups). Skipped without CUDA."""
import glob

import pytest

from launch import run_ranks, expect_ok

if not glob.glob("/dev/nvidia[0-9]*"):  # decided before paying for importing torch
    pytest.skip("no NVIDIA GPU device nodes (/dev/nvidia0...) on this machine", allow_module_level=True)
torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("torch %s has no CUDA device here" % torch.__version__, allow_module_level=True)


def test_collectives_on_one_gpu():
    expect_ok(run_ranks(1, "coll_ranks.py", env={"T_DEVICE": "cuda"}), 1, "coll")


def test_device_path_on_one_gpu():
    print(expect_ok(run_ranks(1, "cuda_ranks.py"), 1, "cuda"))
