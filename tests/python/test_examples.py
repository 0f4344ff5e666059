"""The Python examples run and check themselves: the tensor-parallel MLP on 2 and 4 ranks
(against the single-process result) and the two-stage pipeline passing tensor dicts."""
import os

import pytest

from launch import SOURCE, run_ranks, expect_ok

EX = os.path.join(SOURCE, "examples", "python")


@pytest.mark.parametrize("n", [2, 4])
def test_tp_mlp(n):
    expect_ok(run_ranks(n, os.path.join(EX, "tp_mlp.py")), n, "tp_mlp")


def test_pipeline():
    expect_ok(run_ranks(2, os.path.join(EX, "pipeline.py")), 2, "pipeline")
