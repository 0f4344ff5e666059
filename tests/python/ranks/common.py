"""common.py - shared by the rank programs: deterministic inputs, numpy references and a check
counter that fails with the rank and what differed."""
import sys

import numpy as np

_checks = [0]


def ok(cond, what):
    if not cond:
        raise AssertionError(what)
    _checks[0] += 1


def checks():
    return _checks[0]


def vals(r, n, op="sum"):
    """Rank r's input (float64): small integers, exact in every dtype (prod: 1s and 2s)."""
    i = np.arange(n)
    if op == "prod":
        return (1 + (r + i) % 2).astype(np.float64)
    return ((r * 7 + i * 3) % 11 + 1).astype(np.float64)


def reduce_ref(op, arrays, dtname):
    """numpy reference of a reduction over ranks, in float64."""
    a = np.stack(arrays)
    if op == "sum":
        return a.sum(0)
    if op == "prod":
        return a.prod(0)
    if op == "min":
        return a.min(0)
    if op == "max":
        return a.max(0)
    if op == "avg":
        s = a.sum(0)
        if dtname.startswith(("int", "uint")):
            return np.floor(s / len(arrays))
        return s / len(arrays)
    raise ValueError(op)


def tol(dtname, op):
    """Absolute tolerance: exact except averages of floats (rounded once in the dtype)."""
    if op != "avg" or dtname.startswith(("int", "uint")):
        return 0.0
    return {"float16": 2e-2, "bfloat16": 8e-2}.get(dtname, 1e-6)


def done(tag, rank):
    print("%s rank %d ok (%d checks)" % (tag, rank, checks()), flush=True)
    sys.stdout.flush()
