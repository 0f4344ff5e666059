"""_args.py - the collectives' buffer arguments, as a mixin that Communicator inherits: turning
what the caller passes into buffers (a contiguous copy of an input where needed), checking that
two buffers agree (dtype, device, count), and the list forms' contiguous temporaries with the
copies between them and the caller's buffers.
"""
import ctypes
import sys

from ._buffers import DTYPE_NAMES, DTYPE_SIZES, as_buf, torch_module, _is_torch, _is_numpy
from ._errors import InvalidArgument


class _BufferArgs(object):
    """Communicator's helpers for buffer arguments and list-form temporaries."""

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
