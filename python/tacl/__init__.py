"""tacl - the topology-aware collective library for Python and PyTorch.

A pure-Python face (ctypes) of libtacl's C ABI: communicators and every collective on torch
tensors (CPU and CUDA), numpy arrays, DLPack and __cuda_array_interface__ objects and buffers;
errors as exceptions; pickled objects; vLLM-shaped parallel groups (tacl.parallel); a message
queue (tacl.MessageQueue); torch custom ops for torch.compile (torch >= 2.4).

    import tacl
    comm = tacl.init()               # tacl run, torchrun, mpirun, srun, or a lone process
    comm.all_reduce(t, op="sum")     # in place; CUDA tensors go through NCCL
    print(tacl.library_path())       # which libtacl was loaded

docs/PYTHON.md has the whole API and the mapping from torch.distributed and vLLM.
"""
import sys as _sys

from ._errors import (TaclError, InvalidArgument, TaclTimeout, PeerLost, Unreachable, Mismatch,
                      Unavailable, BootstrapError, GpuError, Closed)
from ._buffers import DTYPE_NAMES as dtypes
from .comm import Communicator, DeviceComm, SharedMemory, init, world, finalize, OPS
from .mq import MessageQueue
from . import _lib, _ops

__version__ = "0.1.0"
__all__ = ["init", "world", "finalize", "Communicator", "DeviceComm", "SharedMemory",
           "MessageQueue",
           "TaclError", "InvalidArgument", "TaclTimeout", "PeerLost", "Unreachable", "Mismatch",
           "Unavailable", "BootstrapError", "GpuError", "Closed", "library_path", "version",
           "info", "register_ops", "dtypes", "parallel"]

TimeoutError = TaclTimeout  # tacl.TimeoutError reads naturally; it is also a builtin TimeoutError


def library_path():
    """The libtacl file this process loaded (TACL_LIBRARY, the copy beside the package, or the
    system's, in that order)."""
    return _lib.library_path()


def version():
    """libtacl's version string."""
    return _lib.load().tacl_version().decode()


def register_ops():
    """Registers torch.ops.tacl.* custom ops (torch >= 2.4); returns whether they are."""
    return _ops.register()


def info():
    """What this process has: versions, the library, optional imports, custom ops, queue."""
    L = _lib.load()
    np = _sys.modules.get("numpy")
    torch = _sys.modules.get("torch")
    if torch is not None:
        _ops.register()
    reg, why = _ops.status()
    return {
        "tacl": __version__,
        "libtacl": version(),
        "library_path": library_path(),
        "python": _sys.version.split()[0],
        "numpy": getattr(np, "__version__", None),
        "torch": getattr(torch, "__version__", None),
        "torch_cuda": bool(torch is not None and torch.cuda.is_available()),
        "custom_ops": reg,
        "custom_ops_status": why,
        "message_queue": hasattr(L, "tacl_mq_create"),
    }


def __getattr__(name):  # tacl.parallel without importing it eagerly (Python >= 3.7)
    if name == "parallel":
        import importlib
        return importlib.import_module(".parallel", __name__)
    raise AttributeError("module 'tacl' has no attribute %r" % name)


if "torch" in _sys.modules:  # torch is there already: make the custom ops available now
    _ops.register()
