"""_lib.py - finds and loads libtacl and declares the C prototypes of include/tacl.h for ctypes.

The library is looked up in this order, and the first that loads is used for the whole process:
TACL_LIBRARY (an explicit file), the copy installed beside the package (tacl/lib/ inside the
package, or the prefix's library directory recorded by `cmake --install` in _paths.py), then the
system's (the dynamic loader's search path: libtacl.so.0, libtacl.so). library_path() names it.
"""
import ctypes
import ctypes.util
import os

c_int = ctypes.c_int
c_size_t = ctypes.c_size_t
c_double = ctypes.c_double
c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
c_int64 = ctypes.c_int64
P = ctypes.POINTER

_lib = None
_path = None
_tried = []


class BootstrapT(ctypes.Structure):
    """tacl_bootstrap_t."""
    _fields_ = [("launcher", c_int), ("rank", c_int), ("size", c_int), ("local_rank", c_int),
                ("local_size", c_int), ("master_addr", ctypes.c_char * 256),
                ("master_port", c_int), ("run_id", ctypes.c_char * 64)]


class InitOptsT(ctypes.Structure):
    """tacl_init_opts_t."""
    _fields_ = [("bootstrap", P(BootstrapT)), ("timeout_s", c_double)]


class ParSizesT(ctypes.Structure):
    """tacl_par_sizes_t."""
    _fields_ = [("tp", c_int), ("pp", c_int), ("dp", c_int), ("ep", c_int)]


class MqOptsT(ctypes.Structure):
    """tacl_mq_opts_t (0 = default)."""
    _fields_ = [("chunk_bytes", c_size_t), ("chunks", c_size_t), ("spin_us", c_double)]


# name: (restype, argtypes). st = tacl_status_t (int).
st = c_int
_PROTOS = {
    "tacl_status_str": (c_char_p, [c_int]),
    "tacl_status_name": (c_char_p, [c_int]),
    "tacl_last_error": (c_char_p, []),
    "tacl_version": (c_char_p, []),
    "tacl_free": (None, [c_void_p]),
    "tacl_dtype_size": (c_size_t, [c_int]),
    "tacl_dtype_name": (c_char_p, [c_int]),
    "tacl_op_name": (c_char_p, [c_int]),
    "tacl_bootstrap_from_env": (st, [P(BootstrapT)]),
    "tacl_host_id": (st, [c_char_p, c_size_t]),
    "tacl_launcher_name": (c_char_p, [c_int]),
    "tacl_init": (st, [P(c_void_p)]),
    "tacl_init_opts": (st, [P(InitOptsT), P(c_void_p)]),
    "tacl_comm_destroy": (None, [c_void_p]),
    "tacl_comm_split": (st, [c_void_p, c_int, c_int, P(c_void_p)]),
    "tacl_comm_rank": (c_int, [c_void_p]),
    "tacl_comm_size": (c_int, [c_void_p]),
    "tacl_comm_local_rank": (c_int, [c_void_p]),
    "tacl_comm_local_size": (c_int, [c_void_p]),
    "tacl_comm_host_id": (c_char_p, [c_void_p, c_int]),
    "tacl_comm_world_rank": (c_int, [c_void_p, c_int]),
    "tacl_comm_set_timeout": (None, [c_void_p, c_double]),
    "tacl_comm_peer_alive": (c_int, [c_void_p, c_int]),
    "tacl_comm_last_error": (c_char_p, [c_void_p]),
    "tacl_all_reduce": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int, c_int]),
    "tacl_reduce": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int, c_int, c_int]),
    "tacl_broadcast": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int, c_int]),
    "tacl_all_gather": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int]),
    "tacl_all_gatherv": (st, [c_void_p, c_void_p, c_size_t, c_void_p, P(c_size_t), P(c_size_t),
                              c_int]),
    "tacl_reduce_scatter": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int, c_int]),
    "tacl_gather": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int, c_int]),
    "tacl_scatter": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int, c_int]),
    "tacl_all_to_all": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int]),
    "tacl_all_to_allv": (st, [c_void_p, c_void_p, P(c_size_t), P(c_size_t), c_void_p, P(c_size_t),
                              P(c_size_t), c_int]),
    "tacl_barrier": (st, [c_void_p]),
    "tacl_mem_alloc": (st, [c_void_p, c_size_t, P(c_void_p)]),
    "tacl_mem_free": (st, [c_void_p, c_void_p]),
    "tacl_send": (st, [c_void_p, c_void_p, c_size_t, c_int, c_int, c_int]),
    "tacl_recv": (st, [c_void_p, c_void_p, c_size_t, c_int, c_int, c_int]),
    "tacl_nccl_loaded": (st, [P(c_int), P(c_char_p)]),
    "tacl_dev_comm_create": (st, [c_void_p, c_int, P(c_void_p)]),
    "tacl_dev_comm_destroy": (None, [c_void_p]),
    "tacl_dev_comm_check": (st, [c_void_p]),
    "tacl_dev_comm_sync": (st, [c_void_p, c_void_p]),
    "tacl_dev_comm_rank": (c_int, [c_void_p]),
    "tacl_dev_comm_size": (c_int, [c_void_p]),
    "tacl_dev_comm_device": (c_int, [c_void_p]),
    "tacl_dev_comm_nccl_version": (c_int, [c_void_p]),
    "tacl_dev_comm_set_timeout": (None, [c_void_p, c_double]),
    "tacl_dev_comm_last_error": (c_char_p, [c_void_p]),
    "tacl_dev_all_reduce": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p]),
    "tacl_dev_reduce": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int, c_int, c_int,
                             c_void_p]),
    "tacl_dev_broadcast": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p]),
    "tacl_dev_all_gather": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int, c_void_p]),
    "tacl_dev_reduce_scatter": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int, c_int,
                                     c_void_p]),
    "tacl_dev_all_to_all": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int, c_void_p]),
    "tacl_dev_gather": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p]),
    "tacl_dev_scatter": (st, [c_void_p, c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p]),
    "tacl_dev_send": (st, [c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p]),
    "tacl_dev_recv": (st, [c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p]),
    "tacl_dev_group_start": (st, [c_void_p]),
    "tacl_dev_group_end": (st, [c_void_p]),
    "tacl_par_layout": (st, [c_int, P(ParSizesT), c_int, c_int, P(c_int), P(c_int), P(c_int),
                             P(c_int)]),
    # Message queue (optional: older libraries lack it; see mq.py).
    "tacl_mq_create": (st, [c_void_p, c_int, P(MqOptsT), P(c_void_p)]),
    "tacl_mq_destroy": (None, [c_void_p]),
    "tacl_mq_enqueue": (st, [c_void_p, c_void_p, c_size_t]),
    "tacl_mq_dequeue": (st, [c_void_p, P(c_void_p), P(c_size_t)]),
    "tacl_mq_release": (st, [c_void_p]),
    "tacl_mq_dequeue_into": (st, [c_void_p, c_void_p, c_size_t, P(c_size_t)]),
    "tacl_mq_last_error": (c_char_p, [c_void_p]),
}


def _candidates():
    env = os.environ.get("TACL_LIBRARY")
    if env:
        return [("TACL_LIBRARY", env)]
    here = os.path.dirname(os.path.abspath(__file__))
    out = []
    for name in ("libtacl.so.0", "libtacl.so", "libtacl.dylib"):
        out.append(("beside the package", os.path.join(here, "lib", name)))
    try:
        from . import _paths  # written by cmake --install: the prefix's library directory
        libdir = os.path.normpath(os.path.join(here, _paths.LIBDIR_FROM_PACKAGE))
        for name in ("libtacl.so.0", "libtacl.so", "libtacl.dylib"):
            out.append(("installed prefix", os.path.join(libdir, name)))
    except ImportError:
        pass
    out.append(("system", "libtacl.so.0"))
    found = ctypes.util.find_library("tacl")
    if found:
        out.append(("system", found))
    return out


def load():
    """Loads libtacl once (see the module docstring for the order) and returns the CDLL."""
    global _lib, _path
    if _lib is not None:
        return _lib
    errors = []
    for where, cand in _candidates():
        if os.sep in cand and not os.path.exists(cand):
            errors.append("%s: %s (no such file)" % (where, cand))
            continue
        try:
            lib = ctypes.CDLL(cand)
        except OSError as e:
            errors.append("%s: %s (%s)" % (where, cand, e))
            continue
        _declare(lib)
        _lib = lib
        _path = _resolve(lib, cand)
        return lib
    from ._errors import Unavailable
    raise Unavailable(6, "tacl: cannot load libtacl; tried " + "; ".join(errors) +
                      ". Set TACL_LIBRARY to the file (e.g. build/src/libtacl.so).")


def _resolve(lib, cand):
    """The absolute file the loader mapped (a bare soname is resolved through /proc)."""
    if os.sep in cand:
        return os.path.realpath(cand)
    try:
        addr = ctypes.cast(lib.tacl_version, c_void_p).value
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6:
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    if lo <= addr < hi:
                        return os.path.realpath(parts[5])
    except (OSError, ValueError):
        pass
    return cand


def _declare(lib):
    for name, (res, args) in _PROTOS.items():
        fn = getattr(lib, name, None) if hasattr(lib, name) else None
        if fn is None:
            continue
        fn.restype = res
        fn.argtypes = args


def has(name):
    """True when the loaded library exports the symbol."""
    return hasattr(load(), name)


def library_path():
    load()
    return _path
