"""Pickled objects and the vLLM group calls (tensor dicts, all_gather/reduce_scatter along a
dimension, gather) on 3 ranks."""
from launch import run_ranks, expect_ok


def test_objects_and_tensor_dicts():
    expect_ok(run_ranks(3, "objects_ranks.py"), 3, "objects")
