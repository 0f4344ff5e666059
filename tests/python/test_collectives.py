"""Every collective x dtypes x in place / out of place against numpy references: 2 ranks with
numpy and torch (bfloat16, float16, DLPack, buffer protocol), 3 ranks with numpy only (a size
that is not a power of two, and a package that never imports torch); shared memory
(Communicator.shared_memory) on 3 ranks."""
from launch import run_ranks, expect_ok


def test_two_ranks_numpy_and_torch():
    expect_ok(run_ranks(2, "coll_ranks.py", env={"T_TORCH": "1"}), 2, "coll")


def test_three_ranks_numpy_only():
    expect_ok(run_ranks(3, "coll_ranks.py", env={"T_TORCH": "0"}), 3, "coll")


def test_shared_memory_three_ranks():
    expect_ok(run_ranks(3, "mem_ranks.py"), 3, "mem")
