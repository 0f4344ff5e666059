"""comm.py - the communicator: tacl.init(), split, every collective and point-to-point call on
host memory (libtacl's host communicator) and on CUDA memory (a device communicator per GPU,
created lazily over the host one), plus pickled objects on the host path.

Shapes follow torch.distributed (all_reduce(t, op=...), all_gather(out, inp),
reduce_scatter(out, inp, op=...), broadcast(t, root=0 or src=0), send(t, dst), recv(t, src),
barrier()); in-place conventions follow NCCL (all_gather in place: the input is the rank's
block of the output; reduce_scatter in place: the output is the rank's block of the input).

What Python checks and what C checks: C validates its arguments (dtype, op, root, NULL buffers)
and agreement between ranks (a collective's fingerprint); Python checks only what C cannot see:
buffer sizes, layouts, dtypes and devices of the objects passed. When Python refuses a host
collective's arguments, it still takes part in the operation with a barrier, so that ranks whose
arguments were fine fail with Mismatch instead of waiting until their timeout; then it raises
InvalidArgument. (A refused CUDA call cannot do that: NCCL has no way to fail the peers' kernels.)
"""
import atexit
import ctypes
import pickle
import sys
import threading

from . import _lib
from ._buffers import (INT64, UINT8, DTYPE_NAMES, DTYPE_SIZES, as_buf, torch_module,
                       _is_torch, _is_numpy)
from ._errors import InvalidArgument, TaclError, error_for

OPS = {"sum": 0, "prod": 1, "product": 1, "min": 2, "max": 3, "avg": 4, "mean": 4}
_L = None
_live = []  # communicators not destroyed yet, in creation order (destroyed in reverse at exit)
_by_name = {}
_lock = threading.Lock()
_world = None
_NOARG = object()


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


def _stream_ptr(stream, dev):
    if stream is None:
        t = torch_module()
        if t is None:
            return None
        return t.cuda.current_stream(dev).cuda_stream
    if isinstance(stream, int):
        return stream
    for attr in ("cuda_stream", "ptr", "handle"):
        v = getattr(stream, attr, None)
        if isinstance(v, int):
            return v
    raise InvalidArgument(1, "stream %r: expected a torch.cuda.Stream, a raw cudaStream_t (int) "
                          "or an object with .cuda_stream/.ptr/.handle" % (stream,))


class DeviceComm(object):
    """tacl's device communicator for one GPU (NCCL over the host communicator). Created by
    Communicator.device_comm(); collective over the host communicator."""

    def __init__(self, host, device):
        L = _lib_()
        t = torch_module()
        if t is not None and t.cuda.is_available():
            if t.cuda.is_current_stream_capturing():
                raise InvalidArgument(1, "device communicator for cuda:%d does not exist yet and "
                                      "cannot be created during CUDA graph capture; call "
                                      "comm.device_comm(%d) (or one collective) before capturing"
                                      % (device, device))
            ctx = t.cuda.device(device)
        else:
            ctx = None
        out = ctypes.c_void_p()
        if ctx is not None:
            with ctx:
                st = L.tacl_dev_comm_create(host._h, device, ctypes.byref(out))
        else:
            st = L.tacl_dev_comm_create(host._h, device, ctypes.byref(out))
        if st:
            _raise_last(st)
        self._h = out.value
        self.device = device
        self.host = host
        # As Communicator._ar, with the stream's pointer too.
        self._ar = (_raw().tacl_dev_all_reduce, ctypes.c_void_p(self._h), ctypes.c_void_p(),
                    ctypes.c_size_t(), ctypes.c_void_p())
        if host._timeout is not None:
            L.tacl_dev_comm_set_timeout(self._h, host._timeout)

    @property
    def rank(self):
        return _lib_().tacl_dev_comm_rank(self._h)

    @property
    def size(self):
        return _lib_().tacl_dev_comm_size(self._h)

    @property
    def nccl_version(self):
        return _lib_().tacl_dev_comm_nccl_version(self._h)

    def check(self):
        """Raises the asynchronous NCCL error, if any (PeerLost for a remote failure)."""
        st = _lib_().tacl_dev_comm_check(self._h)
        if st:
            self._raise(st)

    def sync(self, stream=None):
        """Waits for the stream's work, watching for asynchronous errors (bounded)."""
        st = _lib_().tacl_dev_comm_sync(self._h, _stream_ptr(stream, self.device))
        if st:
            self._raise(st)

    def _raise(self, st):
        _raise_last(st, _msg(_lib_().tacl_dev_comm_last_error(self._h)))

    def destroy(self):
        if self._h:
            _lib_().tacl_dev_comm_destroy(self._h)
            self._h = None
            self._ar[1].value = None


class SharedMemory(object):
    """Host memory from Communicator.shared_memory: .numpy(dtype, shape, offset) and
    .torch(dtype, shape, offset) view it (dtype as numpy or torch names it; shape None: all of
    it that fits); .free() releases it, collectively."""

    def __init__(self, comm, ptr, nbytes):
        self._comm = comm
        self._ptr = ptr
        self.nbytes = nbytes
        self._buf = (ctypes.c_char * nbytes).from_address(ptr)

    @property
    def ptr(self):
        """The address (int), or None once freed."""
        return self._ptr

    def _view(self, shape, offset, itemsize):
        if self._ptr is None:
            raise error_for(1, "shared memory of %s was freed" % self._comm.name)
        offset = int(offset)
        if shape is None:
            count = (self.nbytes - offset) // itemsize
            shape = (count,)
        else:
            shape = tuple(shape) if hasattr(shape, "__len__") else (int(shape),)
            count = 1
            for d in shape:
                count *= int(d)
        if offset < 0 or count < 0 or offset + count * itemsize > self.nbytes:
            raise error_for(1, "a view of %d bytes at offset %d does not fit %d bytes of shared "
                               "memory" % (count * itemsize, offset, self.nbytes))
        return count, shape, offset

    def numpy(self, dtype="float32", shape=None, offset=0):
        import numpy
        dt = numpy.dtype(dtype)
        count, shape, offset = self._view(shape, offset, dt.itemsize)
        return numpy.frombuffer(self._buf, dtype=dt, count=count, offset=offset).reshape(shape)

    def torch(self, dtype=None, shape=None, offset=0):
        import torch
        dt = torch.float32 if dtype is None else dtype
        if isinstance(dt, str):
            dt = getattr(torch, dt)
        count, shape, offset = self._view(shape, offset, torch.empty((), dtype=dt).element_size())
        return torch.frombuffer(self._buf, dtype=dt, count=count, offset=offset).reshape(shape)

    def free(self):
        """Collective: every rank frees its part of the same allocation."""
        if self._ptr is None:
            return
        st = _lib_().tacl_mem_free(self._comm._live(), self._ptr)
        if st:
            self._comm._raise(st)
        self._gone()
        if self in self._comm._mems:
            self._comm._mems.remove(self)

    def _gone(self):
        self._ptr = None
        self._buf = None

    def __repr__(self):
        return "<tacl.SharedMemory %d bytes of %s%s>" % (
            self.nbytes, self._comm.name, "" if self._ptr else ", freed")


class Communicator(object):
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

    # ---- buffer helpers ----
    @staticmethod
    def _in(x, what):
        """A buffer the call only reads: non-contiguous torch tensors and numpy arrays are
        copied to a contiguous one."""
        if _is_torch(x) and not x.is_contiguous():
            x = x.contiguous()
        elif _is_numpy(x) and not x.flags.c_contiguous:
            np = sys.modules["numpy"]
            x = np.ascontiguousarray(x)
        return as_buf(x, what)

    @staticmethod
    def _out(x, what):
        return as_buf(x, what, writable=True)

    @staticmethod
    def _same(a, b, what, count=None):
        if a.dt != b.dt:
            raise InvalidArgument(1, "%s: dtypes differ (%s and %s)"
                                  % (what, DTYPE_NAMES[a.dt], DTYPE_NAMES[b.dt]))
        if a.dev != b.dev:
            raise InvalidArgument(1, "%s: buffers on different devices (%s and %s)"
                                  % (what, _devname(a.dev), _devname(b.dev)))
        if count is not None and b.count != count:
            raise InvalidArgument(1, "%s: output holds %d elements, expected %d"
                                  % (what, b.count, count))

    # ---- collectives ----
    def all_reduce(self, tensor, op="sum", out=None, stream=None):
        """Reduces `tensor` over every rank. In place unless out= is given (same count and
        dtype). Buffers must be contiguous (refused otherwise). Returns the result buffer."""
        # Fast path, the call inference makes most: a contiguous torch tensor in place, on the
        # host (a C call with pre-converted arguments) or on a GPU whose device communicator
        # exists.
        if out is None and tensor.__class__ is _fast.tensor_cls:
            dt = _fast.torch_dt.get(tensor.dtype)
            o = OPS.get(op)
            if dt is not None and o is not None and tensor.is_contiguous():
                dev = tensor.get_device()
                if dev < 0:
                    fn, h, p, n = self._ar
                    p.value = tensor.data_ptr()
                    n.value = tensor.numel()
                    st = fn(h, p, p, n, dt, o)
                    if st:
                        self._raise(st)
                    return tensor
                d = self._devs.get(dev)
                if d is not None:
                    fn, h, p, n, sp = d._ar
                    sp.value = (_fast.raw_stream(dev) if stream is None
                                else _stream_ptr(stream, dev))
                    p.value = tensor.data_ptr()
                    n.value = tensor.numel()
                    st = fn(h, p, p, n, dt, o, sp)
                    if st:
                        d._raise(st)
                    return tensor
        elif out is None and not _fast.ready:
            _fast.setup()
        try:
            s = self._in(tensor, "all_reduce") if out is not None else self._out(tensor, "all_reduce")
            r = s if out is None else self._out(out, "all_reduce: out")
            if r is not s:
                self._same(s, r, "all_reduce", s.count)
            o = _op_code(op)
        except InvalidArgument as e:
            self._poison(e, tensor, out)
        if s.dev < 0:
            st = _L.tacl_all_reduce(self._h, s.ptr, r.ptr, s.count, s.dt, o)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(s.dev, stream)
            st = _L.tacl_dev_all_reduce(d._h, s.ptr, r.ptr, s.count, s.dt, o, sp)
            if st:
                d._raise(st)
        return r.obj

    def reduce(self, tensor, root=0, op="sum", out=None, dst=None, stream=None):
        """Reduces `tensor` to `root` (dst= is torch's name): in place on the root unless out=
        is given there. Other ranks' buffers are left unchanged."""
        root = dst if dst is not None else root
        try:
            s = self._in(tensor, "reduce") if out is not None else self._out(tensor, "reduce")
            r = s
            if out is not None and self._rank == root:
                r = self._out(out, "reduce: out")
                self._same(s, r, "reduce", s.count)
            o = _op_code(op)
        except InvalidArgument as e:
            self._poison(e, tensor, out)
        rp = r.ptr if self._rank == root else None
        if s.dev < 0:
            st = _L.tacl_reduce(self._h, s.ptr, rp, s.count, s.dt, o, root)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(s.dev, stream)
            self._dcheck(d, _L.tacl_dev_reduce(d._h, s.ptr, rp, s.count, s.dt, o, root, sp))
        return r.obj

    def broadcast(self, tensor, root=0, src=None, out=None, stream=None):
        """Copies the root's `tensor` to every rank (src= is torch's name for root). In place
        unless out= is given (then every rank's out receives it, the root's included)."""
        root = src if src is not None else root
        try:
            if out is None:
                s = r = self._out(tensor, "broadcast")
            else:
                r = self._out(out, "broadcast: out")
                s = self._in(tensor, "broadcast") if self._rank == root else r
                self._same(s, r, "broadcast", s.count)
        except InvalidArgument as e:
            self._poison(e, tensor, out)
        sptr = s.ptr if self._rank == root else None
        if r.dev < 0:
            st = _L.tacl_broadcast(self._h, sptr, r.ptr, r.count, r.dt, root)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(r.dev, stream)
            self._dcheck(d, _L.tacl_dev_broadcast(d._h, sptr, r.ptr, r.count, r.dt, root, sp))
        return r.obj

    def all_gather(self, out, inp, stream=None):
        """Gathers every rank's `inp` into `out`: a buffer of size * inp elements (a tensor
        whose first dimension is the world, or flat), rank r's block at r * count; or a list
        of `size` buffers (gathered through a contiguous temporary, then copied). In place
        (NCCL's convention): inp is the rank's block of out. A non-contiguous inp is copied."""
        try:
            s = self._in(inp, "all_gather: input")
            lst = out if isinstance(out, (list, tuple)) else None
            if lst is not None:
                outs = self._list(lst, "all_gather: output list", s, self._size, s.count)
                tmp, r = self._temp(s, s.count * self._size)
            else:
                r = self._out(out, "all_gather: output")
                self._same(s, r, "all_gather", s.count * self._size)
        except InvalidArgument as e:
            self._poison(e, inp, out)
        if s.dev < 0:
            st = _L.tacl_all_gather(self._h, s.ptr, r.ptr, s.count, s.dt)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(s.dev, stream)
            self._dcheck(d, _L.tacl_dev_all_gather(d._h, s.ptr, r.ptr, s.count, s.dt, sp))
        if lst is not None:
            self._scatter_temp(tmp, r, outs, stream)
            return lst
        return r.obj

    all_gather_into_tensor = all_gather

    def reduce_scatter(self, out, inp, op="sum", stream=None):
        """Reduces `inp` (size * out elements, or a list of `size` buffers, concatenated into a
        contiguous temporary) over every rank; rank r's `out` receives block r. In place
        (NCCL's convention): out is the rank's block of inp. A non-contiguous inp is copied."""
        try:
            r = self._out(out, "reduce_scatter: output")
            if isinstance(inp, (list, tuple)):
                ins = self._list(inp, "reduce_scatter: input list", r, self._size, r.count, write=False)
                tmp, s = self._temp(r, r.count * self._size)
                self._gather_temp(tmp, s, ins, stream)
            else:
                s = self._in(inp, "reduce_scatter: input")
                self._same(r, s, "reduce_scatter", None)
                if s.count != r.count * self._size:
                    raise InvalidArgument(1, "reduce_scatter: input holds %d elements, expected "
                                          "size * output = %d * %d" % (s.count, self._size, r.count))
            o = _op_code(op)
        except InvalidArgument as e:
            self._poison(e, out, inp)
        if r.dev < 0:
            st = _L.tacl_reduce_scatter(self._h, s.ptr, r.ptr, r.count, r.dt, o)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(r.dev, stream)
            self._dcheck(d, _L.tacl_dev_reduce_scatter(d._h, s.ptr, r.ptr, r.count, r.dt, o, sp))
        return r.obj

    reduce_scatter_tensor = reduce_scatter

    def all_to_all(self, out, inp, out_splits=None, in_splits=None, stream=None):
        """Block r of `inp` goes to rank r; block q of `out` comes from rank q. Tensors: equal
        blocks by default, or split sizes along the first dimension (torch's
        all_to_all_single(out, inp, output_split_sizes, input_split_sizes)), run as
        tacl_all_to_allv. Lists of `size` buffers (torch's all_to_all) go through contiguous
        temporaries. A non-contiguous inp is copied; out must be contiguous."""
        try:
            lists = isinstance(out, (list, tuple))
            if lists:
                if not isinstance(inp, (list, tuple)) or len(inp) != self._size or len(out) != self._size:
                    raise InvalidArgument(1, "all_to_all: list form needs two lists of %d buffers"
                                          % self._size)
                ins = [self._in(x, "all_to_all: input %d" % i) for i, x in enumerate(inp)]
                outs = [self._out(x, "all_to_all: output %d" % i) for i, x in enumerate(out)]
                for b in ins[1:] + outs:
                    self._same(ins[0], b, "all_to_all", None)
                sc = [b.count for b in ins]
                rc = [b.count for b in outs]
                stmp, s = self._temp(ins[0], sum(sc))
                rtmp, r = self._temp(ins[0], sum(rc))
                self._gather_temp(stmp, s, ins, stream)
            else:
                s = self._in(inp, "all_to_all: input")
                r = self._out(out, "all_to_all: output")
                self._same(s, r, "all_to_all", None)
                sc = self._splits(in_splits, inp, s, "input")
                rc = self._splits(out_splits, out, r, "output")
        except InvalidArgument as e:
            self._poison(e, inp, out)
        equal = len(set(sc)) == 1 and sc == rc
        if s.dev < 0:
            if equal:
                st = _L.tacl_all_to_all(self._h, s.ptr, r.ptr, sc[0], s.dt)
            else:
                n = self._size
                arr = ctypes.c_size_t * n
                st = _L.tacl_all_to_allv(self._h, s.ptr, arr(*sc), arr(*_displs(sc)), r.ptr,
                                         arr(*rc), arr(*_displs(rc)), s.dt)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(s.dev, stream)
            if equal:
                self._dcheck(d, _L.tacl_dev_all_to_all(d._h, s.ptr, r.ptr, sc[0], s.dt, sp))
            else:
                self._dev_alltoallv(d, sp, s, sc, r, rc)
        if lists:
            self._scatter_temp(rtmp, r, outs, stream)
            return out
        return r.obj

    all_to_all_single = all_to_all

    def _dev_alltoallv(self, d, sp, s, sc, r, rc):
        L = _L
        esz = DTYPE_SIZES[s.dt]
        self._dcheck(d, L.tacl_dev_group_start(d._h))
        st = 0
        so = ro = 0
        for p in range(self._size):
            if not st and sc[p]:
                st = L.tacl_dev_send(d._h, s.ptr + so * esz, sc[p], s.dt, p, sp)
            if not st and rc[p]:
                st = L.tacl_dev_recv(d._h, r.ptr + ro * esz, rc[p], r.dt, p, sp)
            so += sc[p]
            ro += rc[p]
        st2 = L.tacl_dev_group_end(d._h)
        self._dcheck(d, st or st2)

    def _splits(self, splits, x, b, what):
        n = self._size
        if splits is None:
            if b.count % n:
                raise InvalidArgument(1, "all_to_all: %s of %d elements does not split into %d "
                                      "equal blocks" % (what, b.count, n))
            return [b.count // n] * n
        splits = [int(v) for v in splits]
        if len(splits) != n:
            raise InvalidArgument(1, "all_to_all: %d %s split sizes for %d ranks" % (len(splits), what, n))
        shape = getattr(x, "shape", None)
        rows = shape[0] if shape else b.count
        row = b.count // rows if rows else 0
        if sum(splits) != rows:
            raise InvalidArgument(1, "all_to_all: %s split sizes %s add up to %d, but its first "
                                  "dimension is %d" % (what, splits, sum(splits), rows))
        return [v * row for v in splits]

    def gather(self, tensor, out=None, root=0, dst=None, stream=None):
        """Gathers every rank's `tensor` on the root into `out` (size * count elements, or a
        list of `size` buffers through a temporary); out is ignored on other ranks. dst= is
        torch's name for root. A non-contiguous tensor is copied."""
        root = dst if dst is not None else root
        lst = None
        try:
            s = self._in(tensor, "gather: input")
            r = None
            if self._rank == root:
                if out is None:
                    raise InvalidArgument(1, "gather: the root (rank %d) needs out=" % root)
                if isinstance(out, (list, tuple)):
                    lst = out
                    outs = self._list(out, "gather: output list", s, self._size, s.count)
                    tmp, r = self._temp(s, s.count * self._size)
                else:
                    r = self._out(out, "gather: output")
                    self._same(s, r, "gather", s.count * self._size)
        except InvalidArgument as e:
            self._poison(e, tensor)
        rp = r.ptr if r is not None else None
        if s.dev < 0:
            st = _L.tacl_gather(self._h, s.ptr, rp, s.count, s.dt, root)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(s.dev, stream)
            self._dcheck(d, _L.tacl_dev_gather(d._h, s.ptr, rp, s.count, s.dt, root, sp))
        if lst is not None:
            self._scatter_temp(tmp, r, outs, stream)
            return lst
        return r.obj if r is not None else None

    def scatter(self, tensor, inp=None, root=0, src=None, stream=None):
        """The root's `inp` (size * count elements, or a list of `size` buffers) is cut into
        blocks; rank r's `tensor` receives block r. inp is ignored on other ranks; src= is
        torch's name for root. A non-contiguous inp is copied."""
        root = src if src is not None else root
        try:
            r = self._out(tensor, "scatter: output")
            s = None
            if self._rank == root:
                if inp is None:
                    raise InvalidArgument(1, "scatter: the root (rank %d) needs inp=" % root)
                if isinstance(inp, (list, tuple)):
                    ins = self._list(inp, "scatter: input list", r, self._size, r.count, write=False)
                    tmp, s = self._temp(r, r.count * self._size)
                    self._gather_temp(tmp, s, ins, stream)
                else:
                    s = self._in(inp, "scatter: input")
                    self._same(r, s, "scatter", r.count * self._size)
        except InvalidArgument as e:
            self._poison(e, tensor)
        spp = s.ptr if s is not None else None
        if r.dev < 0:
            st = _L.tacl_scatter(self._h, spp, r.ptr, r.count, r.dt, root)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(r.dev, stream)
            self._dcheck(d, _L.tacl_dev_scatter(d._h, spp, r.ptr, r.count, r.dt, root, sp))
        return r.obj

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

    def barrier(self):
        """Returns when every rank has entered it (host path)."""
        st = _lib_().tacl_barrier(self._live())
        if st:
            self._raise(st)

    def send(self, tensor, dst, tag=0, stream=None):
        """Sends `tensor` to rank dst (tagged on the host path: messages with one (peer, tag)
        arrive in order; CUDA tensors go through NCCL, which has no tags). A non-contiguous
        tensor is copied."""
        s = self._in(tensor, "send")
        if s.dev < 0:
            st = _L.tacl_send(self._h, s.ptr, s.count, s.dt, dst, tag)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(s.dev, stream)
            self._dcheck(d, _L.tacl_dev_send(d._h, s.ptr, s.count, s.dt, dst, sp))

    def recv(self, tensor, src, tag=0, stream=None):
        """Receives into `tensor` (contiguous) from rank src; returns src."""
        r = self._out(tensor, "recv")
        if src is None:
            raise InvalidArgument(1, "recv: src is required (tacl has no any-source receive)")
        if r.dev < 0:
            st = _L.tacl_recv(self._h, r.ptr, r.count, r.dt, src, tag)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(r.dev, stream)
            self._dcheck(d, _L.tacl_dev_recv(d._h, r.ptr, r.count, r.dt, src, sp))
        return src

    # ---- temporaries for the list forms ----
    def _list(self, lst, what, ref, n, count, write=True):
        if len(lst) != n:
            raise InvalidArgument(1, "%s has %d buffers, expected %d (one per rank)" % (what, len(lst), n))
        bufs = []
        for i, x in enumerate(lst):
            b = (self._out if write else self._in)(x, "%s[%d]" % (what, i))
            self._same(ref, b, what, count)
            bufs.append(b)
        return bufs

    @staticmethod
    def _temp(like, count):
        """A contiguous temporary of count elements like `like` (same dtype and device)."""
        o = like.obj
        if _is_torch(o):
            t = o.new_empty((count,))
            return t, as_buf(t, "temporary", True)
        if like.dev >= 0:
            t = torch_module()
            if t is None:
                raise InvalidArgument(1, "list forms of CUDA collectives need torch")
            x = t.empty((count,), dtype=_torch_dt(like.dt), device="cuda:%d" % like.dev)
            return x, as_buf(x, "temporary", True)
        if _is_numpy(o):
            x = sys.modules["numpy"].empty(count, dtype=o.dtype)
            return x, as_buf(x, "temporary", True)
        x = bytearray(count * DTYPE_SIZES[like.dt])
        return x, _bytes_buf(x, like.dt)

    @staticmethod
    def _gather_temp(tmp, tb, bufs, stream):
        off = 0
        for b in bufs:
            _copy(tmp, tb, off, b, to_temp=True, stream=stream)
            off += b.count

    @staticmethod
    def _scatter_temp(tmp, tb, bufs, stream):
        off = 0
        for b in bufs:
            _copy(tmp, tb, off, b, to_temp=False, stream=stream)
            off += b.count

    # ---- objects (pickle, host path) ----
    def broadcast_object(self, obj=None, root=0, src=None):
        """The root's object (pickled), returned on every rank."""
        root = src if src is not None else root
        L = _lib_()
        h = self._live()
        if self._rank == root:
            data = self._pickle(obj)
            hdr = (ctypes.c_int64 * 1)(len(data))
        else:
            hdr = (ctypes.c_int64 * 1)(0)
        st = L.tacl_broadcast(h, hdr, hdr, 1, INT64, root)
        if st:
            self._raise(st)
        n = hdr[0]
        buf = ctypes.create_string_buffer(data, n) if self._rank == root else ctypes.create_string_buffer(n)
        st = L.tacl_broadcast(h, buf, buf, n, UINT8, root)
        if st:
            self._raise(st)
        if self._rank == root:
            return obj
        return pickle.loads(memoryview(buf)[:n])

    def _pickle(self, obj):
        """pickle.dumps; an object that cannot be pickled fails the other ranks' matching
        collective at once (the barrier of _poison) rather than at their timeout."""
        try:
            return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:
            self._poison(e)

    def broadcast_object_list(self, object_list, src=0):
        """torch.distributed's shape: fills object_list on every rank from the src's."""
        got = self.broadcast_object(list(object_list) if self._rank == src else None, root=src)
        object_list[:] = got
        return object_list

    def all_gather_object(self, obj_or_list, obj=_NOARG):
        """Every rank's object, as a list indexed by rank. torch's shape also works:
        all_gather_object(object_list, obj) fills object_list."""
        torch_shape = obj is not _NOARG
        mine = obj if torch_shape else obj_or_list
        L = _lib_()
        h = self._live()
        data = self._pickle(mine)
        n = self._size
        lens = (ctypes.c_int64 * n)()
        st = L.tacl_all_gather(h, (ctypes.c_int64 * 1)(len(data)), lens, 1, INT64)
        if st:
            self._raise(st)
        counts = [int(v) for v in lens]
        displs = _displs(counts)
        buf = ctypes.create_string_buffer(max(1, sum(counts)))
        arr = ctypes.c_size_t * n
        st = L.tacl_all_gatherv(h, data, len(data), buf, arr(*counts), arr(*displs), UINT8)
        if st:
            self._raise(st)
        mv = memoryview(buf)
        res = [pickle.loads(mv[displs[r]:displs[r] + counts[r]]) for r in range(n)]
        if torch_shape:
            obj_or_list[:] = res
            return obj_or_list
        return res

    def send_object(self, obj, dst, tag=0):
        """Pickles obj and sends it (length first, then the bytes) to rank dst."""
        L = _lib_()
        h = self._live()
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        st = L.tacl_send(h, (ctypes.c_int64 * 1)(len(data)), 1, INT64, dst, tag)
        if not st:
            st = L.tacl_send(h, data, len(data), UINT8, dst, tag)
        if st:
            self._raise(st)

    def recv_object(self, src, tag=0):
        """Receives an object sent with send_object by rank src."""
        L = _lib_()
        h = self._live()
        hdr = (ctypes.c_int64 * 1)()
        st = L.tacl_recv(h, hdr, 1, INT64, src, tag)
        if st:
            self._raise(st)
        n = hdr[0]
        buf = ctypes.create_string_buffer(max(1, n))
        st = L.tacl_recv(h, buf, n, UINT8, src, tag)
        if st:
            self._raise(st)
        return pickle.loads(memoryview(buf)[:n])


class _Fast(object):
    """What the all_reduce fast path needs, looked up once: torch's Tensor class (once torch is
    imported), its dtype map and how to get a device's current stream."""
    tensor_cls = ()
    torch_dt = {}
    ready = False

    def setup(self):
        t = sys.modules.get("torch")
        if t is not None:
            from ._buffers import _torch_dtypes
            self.torch_dt = _torch_dtypes()
            raw = getattr(t._C, "_cuda_getCurrentRawStream", None)  # an int, no Stream object
            self.raw_stream = raw if raw is not None else (lambda dev: _stream_ptr(None, dev))
            self.tensor_cls = t.Tensor
            self.ready = True


_fast = _Fast()


def _displs(counts):
    out, acc = [], 0
    for c in counts:
        out.append(acc)
        acc += c
    return out


def _on_device(x):
    """Whether a buffer argument (or the first of a list) is CUDA memory."""
    if isinstance(x, (list, tuple)):
        x = x[0] if x else None
    if x is None:
        return False
    if _is_torch(x):
        return x.is_cuda
    return hasattr(x, "__cuda_array_interface__")


def _devname(dev):
    return "cpu" if dev < 0 else "cuda:%d" % dev


def _torch_dt(code):
    from ._buffers import torch_dtype
    return torch_dtype(code)


def _bytes_buf(x, dt):
    from ._buffers import from_buffer
    return from_buffer(x, "temporary", True, dtype=dt)


def _copy(tmp, tb, off, b, to_temp, stream):
    """Copies between block [off, off + b.count) of a temporary and buffer b."""
    if _is_torch(tmp) and _is_torch(b.obj):
        blk = tmp[off:off + b.count].view(b.obj.shape)
        t = torch_module()
        ctx = t.cuda.stream(stream) if (stream is not None and not isinstance(stream, int)
                                        and tmp.is_cuda) else None
        if ctx is not None:
            with ctx:
                (blk.copy_(b.obj) if to_temp else b.obj.copy_(blk))
        else:
            (blk.copy_(b.obj) if to_temp else b.obj.copy_(blk))
        return
    if b.dev >= 0 or tb.dev >= 0:
        raise InvalidArgument(1, "list forms of CUDA collectives need torch tensors")
    esz = DTYPE_SIZES[b.dt]
    src, dst = (b.ptr, tb.ptr + off * esz) if to_temp else (tb.ptr + off * esz, b.ptr)
    ctypes.memmove(dst, src, b.count * esz)


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
