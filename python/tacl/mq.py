"""mq.py - tacl.MessageQueue: one writer, every other rank of a communicator reads, over
libtacl's message queue (tacl_mq_*: shared-memory chunks on one host, vLLM's
MessageQueue/ShmRingBuffer shape). Bytes in, bytes out; enqueue_object/dequeue_object pickle.
A library built without the queue raises tacl.Unavailable when one is created.
"""
import contextlib
import ctypes
import pickle

from . import _lib
from ._buffers import as_buf
from ._errors import InvalidArgument, Unavailable, error_for


def available():
    """True when the loaded libtacl has the message queue (tacl_mq_create)."""
    return _lib.has("tacl_mq_create")


class MessageQueue(object):
    """MessageQueue(comm, writer=0, chunk_bytes=0, chunks=0, spin_us=0): collective over comm;
    every rank passes the same writer (the rank that enqueues); every other rank reads every
    message, in order. 0 means tacl's default for each option (64 KiB chunks, 128 of them);
    spin_us < 0 sleeps at once. Blocking calls are bounded by the communicator's timeout; a
    closed queue (the writer destroyed it) raises tacl.Closed in readers after what was
    queued; a dead writer or reader raises tacl.PeerLost."""

    def __init__(self, comm, writer=0, chunk_bytes=0, chunks=0, spin_us=0.0):
        L = _lib.load()
        if not hasattr(L, "tacl_mq_create"):
            raise Unavailable(6, "tacl.MessageQueue: the loaded libtacl (%s) has no message queue "
                              "(tacl_mq_create is missing); use a newer libtacl"
                              % _lib.library_path())
        self._L = L
        opts = _lib.MqOptsT(int(chunk_bytes), int(chunks), float(spin_us))
        out = ctypes.c_void_p()
        st = L.tacl_mq_create(comm._live(), int(writer), ctypes.byref(opts), ctypes.byref(out))
        if st:
            raise error_for(st, (L.tacl_last_error() or b"").decode("utf-8", "replace"))
        self._h = out.value
        self.writer = int(writer)
        self.is_writer = comm.rank == self.writer
        self.comm = comm
        if not hasattr(comm, "_mqs"):
            comm._mqs = []
        comm._mqs.append(self)  # closed before the communicator

    def _raise(self, st):
        m = self._L.tacl_mq_last_error(self._h) if self._h else None
        if not m:
            m = self._L.tacl_last_error()
        raise error_for(st, (m or b"").decode("utf-8", "replace"))

    def _live(self):
        if not self._h:
            raise error_for(15, "message queue is closed")
        return self._h

    def enqueue(self, data):
        """Writer: appends one message (bytes, bytearray, memoryview, numpy array, CPU tensor)."""
        b = as_buf(data, "MessageQueue.enqueue")
        if b.dev >= 0:
            raise InvalidArgument(1, "MessageQueue.enqueue: host memory only (got a CUDA buffer)")
        st = self._L.tacl_mq_enqueue(self._live(), b.ptr, b.nbytes)
        if st:
            self._raise(st)

    def dequeue(self):
        """Reader: the next message as bytes (copied out of the queue)."""
        with self.dequeue_view() as mv:
            return bytes(mv)

    @contextlib.contextmanager
    def dequeue_view(self):
        """Reader: the next message as a read-only memoryview into the queue (zero copy), valid
        inside the with block only; the slot is released on leaving it."""
        h = self._live()
        ptr = ctypes.c_void_p()
        n = ctypes.c_size_t()
        st = self._L.tacl_mq_dequeue(h, ctypes.byref(ptr), ctypes.byref(n))
        if st:
            self._raise(st)
        try:
            arr = (ctypes.c_char * n.value).from_address(ptr.value) if n.value else bytearray()
            mv = memoryview(arr).cast("B") if n.value else memoryview(b"")
            yield mv.toreadonly() if hasattr(mv, "toreadonly") else mv
            mv.release()
        finally:
            st = self._L.tacl_mq_release(h)
            if st:
                self._raise(st)

    def dequeue_into(self, buf):
        """Reader: copies the next message into buf (writable, contiguous) and returns its
        length. Too small: InvalidArgument with .needed (the message's length) set; the message
        stays queued for the next call."""
        b = as_buf(buf, "MessageQueue.dequeue_into", writable=True)
        n = ctypes.c_size_t()
        st = self._L.tacl_mq_dequeue_into(self._live(), b.ptr, b.nbytes, ctypes.byref(n))
        if st:
            m = self._L.tacl_mq_last_error(self._h) or self._L.tacl_last_error() or b""
            e = error_for(st, m.decode("utf-8", "replace"))
            e.needed = n.value
            raise e
        return n.value

    def enqueue_object(self, obj):
        self.enqueue(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))

    def dequeue_object(self):
        with self.dequeue_view() as mv:
            return pickle.loads(mv)

    def close(self):
        if self._h:
            self._L.tacl_mq_destroy(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
