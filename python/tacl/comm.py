"""comm.py - the communicator: tacl.init(), world(), finalize() and Communicator (tacl_comm_t):
its identity, split and destroy, its errors, its device communicators (one per GPU, created
lazily over the host one) and its shared memory. The collectives come from mixins: the tensor
collectives and point-to-point calls (_collectives.py, on host and CUDA memory), their buffer
arguments (_args.py) and the pickled objects on the host path (_objects.py); DeviceComm lives
in _device.py, SharedMemory in _shared.py, the ctypes helpers in _core.py.
"""
import atexit
import ctypes
import sys
import threading

from . import _core, _lib
from ._args import _BufferArgs, _on_device
from ._buffers import torch_module
from ._collectives import _TensorCollectives
from ._core import _lib_, _msg, _raise_last, _raw
from ._device import DeviceComm, _stream_ptr
from ._errors import InvalidArgument, TaclError, error_for
from ._objects import _ObjectCollectives
from ._shared import SharedMemory

OPS = _core.OPS  # the reduction op codes (_core.py), re-exported: tacl.OPS
_live = []  # communicators not destroyed yet, in creation order (destroyed in reverse at exit)
_by_name = {}
_lock = threading.Lock()
_world = None


class Communicator(_TensorCollectives, _ObjectCollectives, _BufferArgs):
    """A tacl communicator (tacl_comm_t). Obtain the world one with tacl.init(), others with
    split(). rank, size, local_rank, local_size and host_id are properties."""

    def __init__(self, handle, name):
        self._h = handle
        self._devs = {}
        self._timeout = None
        self.name = name
        L = _lib_()
        self._rank = L.tacl_comm_rank(handle)
        self._size = L.tacl_comm_size(handle)
        self._children = []
        self._mems = []
        self._nsplit = 0
        # The all_reduce fast path's C call with its arguments already converted: the handle,
        # and a pointer and a count whose values each call sets (tacl.h allows one operation at
        # a time per handle, so one set per communicator serves every call).
        self._ar = (_raw().tacl_all_reduce, ctypes.c_void_p(handle), ctypes.c_void_p(),
                    ctypes.c_size_t())
        with _lock:
            _live.append(self)
            _by_name[name] = self

    # ---- identity ----
    @property
    def handle(self):
        """The tacl_comm_t * as an int (for C extensions that share the communicator)."""
        return self._h

    @property
    def rank(self):
        return self._rank

    @property
    def size(self):
        return self._size

    world_size = size

    @property
    def local_rank(self):
        return _lib_().tacl_comm_local_rank(self._live())

    @property
    def local_size(self):
        return _lib_().tacl_comm_local_size(self._live())

    @property
    def host_id(self):
        """This rank's host identity (hostname/boot id/network namespace, or TACL_HOST_ID)."""
        return self.host_of(self._rank)

    def host_of(self, rank):
        return _msg(_lib_().tacl_comm_host_id(self._live(), rank))

    def world_rank(self, rank=None):
        """World rank of `rank` of this communicator (default: this rank)."""
        return _lib_().tacl_comm_world_rank(self._live(), self._rank if rank is None else rank)

    def peer_alive(self, rank):
        return bool(_lib_().tacl_comm_peer_alive(self._live(), rank))

    @property
    def timeout(self):
        """Seconds an operation may block (None: TACL_TIMEOUT). Setting it applies to the
        device communicators too."""
        return self._timeout

    @timeout.setter
    def timeout(self, seconds):
        self._timeout = float(seconds)
        _lib_().tacl_comm_set_timeout(self._live(), self._timeout)
        for d in self._devs.values():
            _lib_().tacl_dev_comm_set_timeout(d._h, self._timeout)

    def last_error(self):
        return _msg(_lib_().tacl_comm_last_error(self._live()))

    def __repr__(self):
        return "<tacl.Communicator %s rank %d of %d>" % (self.name, self._rank, self._size)

    # ---- life cycle ----
    def _live(self):
        if not self._h:
            raise error_for(15, "communicator %s was destroyed" % self.name)
        return self._h

    def split(self, color, key=None):
        """MPI_Comm_split: ranks with the same color form a communicator ordered by (key, rank);
        color < 0 (or None) opts out and returns None. Collective over this communicator."""
        L = _lib_()
        out = ctypes.c_void_p()
        c = -1 if color is None else int(color)
        k = self._rank if key is None else int(key)
        st = L.tacl_comm_split(self._live(), c, k, ctypes.byref(out))
        if st:
            self._raise(st)
        self._nsplit += 1  # names stay unique and equal on every member
        if not out.value:
            return None
        child = Communicator(out.value, "%s/%d.%d" % (self.name, self._nsplit, c))
        if self._timeout is not None:
            child.timeout = self._timeout
        self._children.append(child)
        return child

    def destroy(self):
        """Destroys the device communicators, then the communicator (the world one last: its
        destruction is a bounded collective leave)."""
        if not self._h:
            return
        for q in getattr(self, "_mqs", ()):
            q.close()
        for ch in self._children:
            ch.destroy()
        for d in list(self._devs.values()):
            d.destroy()
        self._devs.clear()
        for m in self._mems:
            m._gone()  # tacl_comm_destroy unmaps them
        self._mems = []
        _lib_().tacl_comm_destroy(self._h)
        self._h = None
        self._ar[1].value = None  # a call after destroy passes NULL, which C refuses
        with _lock:
            if self in _live:
                _live.remove(self)
            _by_name.pop(self.name, None)

    close = destroy

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()

    # ---- errors ----
    def _raise(self, st):
        if not self._h:  # the fast path called C with NULL: say what happened
            self._live()
        _raise_last(st, _msg(_lib_().tacl_comm_last_error(self._h)))

    def _poison(self, err, *bufs):
        """Python refused this rank's arguments for a host collective: take part with a barrier
        so that the other ranks fail (Mismatch) rather than wait, then raise. A call on CUDA
        buffers would have gone to NCCL, which the host barrier cannot meet: raise only."""
        if self._h and self._size > 1 and not any(_on_device(b) for b in bufs):
            _lib_().tacl_barrier(self._h)
        raise err

    # ---- device side ----
    def device_comm(self, device=None):
        """The device communicator for CUDA device `device` (default: torch's current one),
        created on first use (collective over this communicator: every rank must ask for its
        own device at the same point). Create it before capturing a CUDA graph."""
        if device is None:
            device = torch_module().cuda.current_device()
        d = self._devs.get(device)
        if d is None:
            d = DeviceComm(self, device)
            self._devs[device] = d
        return d

    def synchronize(self, device=None, stream=None):
        """Waits (bounded) for the device work on stream, raising its asynchronous error."""
        self.device_comm(device).sync(stream)

    def _dev(self, dev, stream):
        d = self._devs.get(dev)
        if d is None:
            self._live()
            d = self.device_comm(dev)
        return d, _stream_ptr(stream, dev)

    def _dcheck(self, d, st):
        if st:
            d._raise(st)

    def shared_memory(self, nbytes):
        """nbytes of host memory that the ranks of this host map from each other
        (tacl_mem_alloc): an all_reduce whose input and output lie in such memory on every rank
        of the host reads and writes the peers' buffers directly, with about half the memory
        traffic of ordinary buffers. Collective: every rank calls it with the same nbytes.
        Returns a SharedMemory; its .numpy() and .torch() views are ordinary arrays and
        tensors. .free() (collective, in the same order on every rank) releases it, and so does
        destroying the communicator: views must not be used after either."""
        L = _lib_()
        if not hasattr(L, "tacl_mem_alloc"):
            raise error_for(1, "the loaded libtacl (%s) has no tacl_mem_alloc" % _lib.library_path())
        out = ctypes.c_void_p()
        st = L.tacl_mem_alloc(self._live(), int(nbytes), ctypes.byref(out))
        if st:
            self._raise(st)
        m = SharedMemory(self, out.value, int(nbytes))
        self._mems.append(m)
        return m


def init(timeout=None, rank=None, size=None, master_addr=None, master_port=None,
         local_rank=None, local_size=None):
    """Creates (once) and returns the world communicator. With no arguments the launcher's
    variables decide, exactly as tacl_init: `tacl run`, torchrun, mpirun, srun, or a single
    process. rank/size/master_addr/master_port give them explicitly. timeout (seconds) bounds
    every blocking call (default TACL_TIMEOUT)."""
    global _world
    if _world is not None and _world._h:
        return _world
    L = _lib_()
    out = ctypes.c_void_p()
    if rank is None and size is None and timeout is None:
        st = L.tacl_init(ctypes.byref(out))
    else:
        opts = _lib.InitOptsT()
        opts.timeout_s = float(timeout) if timeout is not None else 0.0
        if rank is not None or size is not None:
            if rank is None or size is None:
                raise InvalidArgument(1, "init: give both rank and size, or neither")
            b = _lib.BootstrapT()
            b.launcher = 5  # TACL_LAUNCHER_EXPLICIT
            b.rank, b.size = int(rank), int(size)
            b.local_rank = -1 if local_rank is None else int(local_rank)
            b.local_size = -1 if local_size is None else int(local_size)
            b.master_addr = (master_addr or "127.0.0.1").encode()
            b.master_port = int(master_port or 29500)
            b.run_id = ("%s:%d" % (master_addr or "127.0.0.1", b.master_port)).encode()[:63]
            opts.bootstrap = ctypes.pointer(b)
        st = L.tacl_init_opts(ctypes.byref(opts), ctypes.byref(out))
    if st:
        _raise_last(st)
    _world = Communicator(out.value, "world")
    if timeout is not None:
        _world.timeout = timeout
    if "torch" in sys.modules:  # torch came after `import tacl`: offer the custom ops now
        from . import _ops
        _ops.register()
    return _world


def world():
    """The world communicator of tacl.init() (None before)."""
    return _world if (_world is not None and _world._h) else None


def by_name(name):
    """The live communicator called `name` (used by the custom ops)."""
    c = _by_name.get(name)
    if c is None:
        raise InvalidArgument(1, "no live tacl communicator named %r" % name)
    return c


def finalize():
    """Destroys every communicator this process still has, newest first (also run at exit)."""
    global _world
    with _lock:
        comms = list(reversed(_live))
    for c in comms:
        try:
            c.destroy()
        except TaclError:
            pass
    _world = None


# A rank that dies of an uncaught exception must not wait at exit in the world's collective
# leave for ranks that wait for it: it exits without destroying, and its peers see it gone
# (PeerLost) at once instead of at their timeout.
_uncaught = []
_prev_excepthook = sys.excepthook


def _excepthook(kind, value, tb):
    _uncaught.append(kind)
    _prev_excepthook(kind, value, tb)


def _at_exit():
    if not _uncaught:
        finalize()


sys.excepthook = _excepthook
atexit.register(_at_exit)
