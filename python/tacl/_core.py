"""_core.py - the ctypes helpers that every part of the communicator shares: the library as
loaded once (with its argument declarations, and raw for the fast paths), the reduction op
codes (OPS) and their parsing, decoding tacl's messages, raising a failed call's status as its
exception with the library's last error, and the displacements of variable-size blocks.
"""
import ctypes

from . import _lib
from ._errors import InvalidArgument, error_for

OPS = {"sum": 0, "prod": 1, "product": 1, "min": 2, "max": 3, "avg": 4, "mean": 4}
_L = None


def _lib_():
    global _L
    if _L is None:
        _L = _lib.load()
    return _L


_R = None


def _raw():
    """The library once more, without argument declarations: its functions take ctypes objects
    as they are (no conversion per call), for the fast paths."""
    global _R
    if _R is None:
        L = _lib_()
        _R = ctypes.CDLL(L._name, handle=L._handle)
    return _R


def _msg(b):
    return b.decode("utf-8", "replace") if b else ""


def _op_code(op):
    if isinstance(op, int):
        return op
    if isinstance(op, str):
        c = OPS.get(op.lower())
        if c is not None:
            return c
        raise InvalidArgument(1, "unknown reduction op %r (expected sum, prod, min, max or avg)" % op)
    # torch.distributed.ReduceOp and friends: match by name (torch 1.x wraps it in .op).
    name = getattr(op, "name", None) or getattr(getattr(op, "op", None), "name", None) or str(op).split(".")[-1]
    c = OPS.get(name.lower())
    if c is None:
        raise InvalidArgument(1, "unknown reduction op %s (expected sum, prod, min, max or avg)" % name)
    return c


def _raise_last(status, handle_msg=None):
    m = _msg(_lib_().tacl_last_error()) or handle_msg or _msg(_lib_().tacl_status_str(status))
    raise error_for(status, m)


def _displs(counts):
    out, acc = [], 0
    for c in counts:
        out.append(acc)
        acc += c
    return out
