"""_shared.py - SharedMemory: host memory from tacl_mem_alloc (Communicator.shared_memory) that
the ranks of one host map from each other, with numpy and torch views over it and its
collective free; the communicator's destroy releases what is left.
"""
import ctypes

from ._core import _lib_
from ._errors import error_for


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
