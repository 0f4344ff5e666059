"""_collectives.py - the tensor collectives and point-to-point calls, as a mixin that
Communicator inherits: all_reduce (with its fast path), reduce, broadcast, all_gather,
reduce_scatter, all_to_all, gather, scatter, barrier, send and recv, on host memory (libtacl's
host communicator) and on CUDA memory (the device communicator of the tensor's GPU).

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
import ctypes
import sys

from . import _core
from ._buffers import DTYPE_SIZES
from ._core import OPS, _displs, _lib_, _op_code
from ._device import _stream_ptr
from ._errors import InvalidArgument


class _TensorCollectives(object):
    """Communicator's collectives and point-to-point calls on buffers; uses its _h, _live,
    _raise, _poison, _dev, _dcheck and the buffer helpers of _args._BufferArgs."""

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
            st = _core._L.tacl_all_reduce(self._h, s.ptr, r.ptr, s.count, s.dt, o)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(s.dev, stream)
            st = _core._L.tacl_dev_all_reduce(d._h, s.ptr, r.ptr, s.count, s.dt, o, sp)
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
            st = _core._L.tacl_reduce(self._h, s.ptr, rp, s.count, s.dt, o, root)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(s.dev, stream)
            self._dcheck(d, _core._L.tacl_dev_reduce(d._h, s.ptr, rp, s.count, s.dt, o, root, sp))
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
            st = _core._L.tacl_broadcast(self._h, sptr, r.ptr, r.count, r.dt, root)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(r.dev, stream)
            self._dcheck(d, _core._L.tacl_dev_broadcast(d._h, sptr, r.ptr, r.count, r.dt, root, sp))
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
            st = _core._L.tacl_all_gather(self._h, s.ptr, r.ptr, s.count, s.dt)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(s.dev, stream)
            self._dcheck(d, _core._L.tacl_dev_all_gather(d._h, s.ptr, r.ptr, s.count, s.dt, sp))
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
            st = _core._L.tacl_reduce_scatter(self._h, s.ptr, r.ptr, r.count, r.dt, o)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(r.dev, stream)
            self._dcheck(d, _core._L.tacl_dev_reduce_scatter(d._h, s.ptr, r.ptr, r.count, r.dt, o, sp))
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
                st = _core._L.tacl_all_to_all(self._h, s.ptr, r.ptr, sc[0], s.dt)
            else:
                n = self._size
                arr = ctypes.c_size_t * n
                st = _core._L.tacl_all_to_allv(self._h, s.ptr, arr(*sc), arr(*_displs(sc)), r.ptr,
                                         arr(*rc), arr(*_displs(rc)), s.dt)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(s.dev, stream)
            if equal:
                self._dcheck(d, _core._L.tacl_dev_all_to_all(d._h, s.ptr, r.ptr, sc[0], s.dt, sp))
            else:
                self._dev_alltoallv(d, sp, s, sc, r, rc)
        if lists:
            self._scatter_temp(rtmp, r, outs, stream)
            return out
        return r.obj

    all_to_all_single = all_to_all

    def _dev_alltoallv(self, d, sp, s, sc, r, rc):
        L = _core._L
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
            st = _core._L.tacl_gather(self._h, s.ptr, rp, s.count, s.dt, root)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(s.dev, stream)
            self._dcheck(d, _core._L.tacl_dev_gather(d._h, s.ptr, rp, s.count, s.dt, root, sp))
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
            st = _core._L.tacl_scatter(self._h, spp, r.ptr, r.count, r.dt, root)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(r.dev, stream)
            self._dcheck(d, _core._L.tacl_dev_scatter(d._h, spp, r.ptr, r.count, r.dt, root, sp))
        return r.obj

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
            st = _core._L.tacl_send(self._h, s.ptr, s.count, s.dt, dst, tag)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(s.dev, stream)
            self._dcheck(d, _core._L.tacl_dev_send(d._h, s.ptr, s.count, s.dt, dst, sp))

    def recv(self, tensor, src, tag=0, stream=None):
        """Receives into `tensor` (contiguous) from rank src; returns src."""
        r = self._out(tensor, "recv")
        if src is None:
            raise InvalidArgument(1, "recv: src is required (tacl has no any-source receive)")
        if r.dev < 0:
            st = _core._L.tacl_recv(self._h, r.ptr, r.count, r.dt, src, tag)
            if st:
                self._raise(st)
        else:
            d, sp = self._dev(r.dev, stream)
            self._dcheck(d, _core._L.tacl_dev_recv(d._h, r.ptr, r.count, r.dt, src, sp))
        return src


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
