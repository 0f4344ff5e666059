"""_objects.py - the object collectives on the host path, as a mixin that Communicator
inherits: broadcast_object, broadcast_object_list, all_gather_object, send_object and
recv_object, which pickle Python objects and move them length first, then the bytes.
"""
import ctypes
import pickle

from ._buffers import INT64, UINT8
from ._core import _displs, _lib_

_NOARG = object()


class _ObjectCollectives(object):
    """Communicator's object collectives (pickled, host path); uses its _live, _raise, _poison,
    _rank and _size."""

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
