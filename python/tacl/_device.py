"""_device.py - the CUDA side of a communicator: DeviceComm, tacl's device communicator for one
GPU (NCCL over the host communicator, created lazily by Communicator.device_comm), and
_stream_ptr, which turns a stream argument (None for torch's current stream, a torch.cuda.Stream,
a raw cudaStream_t) into the pointer the C calls take.
"""
import ctypes

from ._buffers import torch_module
from ._core import _lib_, _msg, _raise_last, _raw
from ._errors import InvalidArgument


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
