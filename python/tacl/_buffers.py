"""_buffers.py - turns the buffers a caller passes (torch tensors on CPU or CUDA, numpy arrays,
objects with __cuda_array_interface__, DLPack producers, anything with the buffer protocol)
into what the C calls take: an address, an element count, a tacl dtype and a device (-1 for
host memory), plus an object that keeps the memory alive for the duration of the call.

Buffers must be C-contiguous: a non-contiguous one is refused with InvalidArgument (the
collectives' docstrings say where a contiguous copy is made instead). numpy and torch are
imported only when a caller hands over one of their objects.
"""
import ctypes
import sys

from ._errors import InvalidArgument

# tacl_dtype_t codes.
INT8, UINT8, INT32, UINT32, INT64, UINT64, FLOAT16, BFLOAT16, FLOAT32, FLOAT64 = range(10)
DTYPE_NAMES = ["int8", "uint8", "int32", "uint32", "int64", "uint64", "float16", "bfloat16",
               "float32", "float64"]
DTYPE_SIZES = [1, 1, 4, 4, 8, 8, 2, 2, 4, 8]
_BY_NAME = {n: i for i, n in enumerate(DTYPE_NAMES)}
_BY_NAME.update({"bool": UINT8, "half": FLOAT16, "float": FLOAT32, "double": FLOAT64,
                 "bf16": BFLOAT16, "fp16": FLOAT16})


class Buf(object):
    """One buffer as the C side sees it."""
    __slots__ = ("ptr", "count", "dt", "dev", "keep", "obj", "readonly")

    def __init__(self, ptr, count, dt, dev, keep, obj, readonly=False):
        self.ptr = ptr
        self.count = count
        self.dt = dt
        self.dev = dev
        self.keep = keep
        self.obj = obj
        self.readonly = readonly

    @property
    def nbytes(self):
        return self.count * DTYPE_SIZES[self.dt]


_torch = None
_torch_dt = None


def torch_module():
    """torch when it is already imported or importable, else None (never imported eagerly)."""
    global _torch
    if _torch is None:
        _torch = sys.modules.get("torch")
        if _torch is None:
            try:
                import torch as t
                _torch = t
            except ImportError:
                _torch = False
    return _torch or None


def _torch_dtypes():
    global _torch_dt
    if _torch_dt is None:
        t = torch_module()
        m = {t.int8: INT8, t.uint8: UINT8, t.int32: INT32, t.int64: INT64, t.float16: FLOAT16,
             t.bfloat16: BFLOAT16, t.float32: FLOAT32, t.float64: FLOAT64, t.bool: UINT8}
        for name, code in (("uint32", UINT32), ("uint64", UINT64)):
            if hasattr(t, name):
                m[getattr(t, name)] = code
        _torch_dt = m
    return _torch_dt


def torch_dtype(code):
    """The torch dtype of a tacl dtype code."""
    t = torch_module()
    return {INT8: t.int8, UINT8: t.uint8, INT32: t.int32, INT64: t.int64, FLOAT16: t.float16,
            BFLOAT16: t.bfloat16, FLOAT32: t.float32, FLOAT64: t.float64,
            UINT32: getattr(t, "uint32", None), UINT64: getattr(t, "uint64", None)}[code]


def _is_torch(x):
    t = sys.modules.get("torch")
    return t is not None and isinstance(x, t.Tensor)


def _is_numpy(x):
    np = sys.modules.get("numpy")
    return np is not None and isinstance(x, np.ndarray)


def _refuse(what, msg):
    raise InvalidArgument(1, "%s: %s" % (what, msg))


def from_torch(t, what, writable):
    dt = (_torch_dt or _torch_dtypes()).get(t.dtype)
    if dt is None:
        _refuse(what, "torch dtype %s is not one of tacl's (%s)" % (t.dtype, ", ".join(DTYPE_NAMES)))
    if not t.is_contiguous():
        _refuse(what, "tensor of shape %s with strides %s is not contiguous; pass "
                "tensor.contiguous() (and copy the result back if the call writes it)"
                % (tuple(t.shape), t.stride()))
    return Buf(t.data_ptr(), t.numel(), dt, t.get_device(), t, t)


_NP_KIND = {("i", 1): INT8, ("u", 1): UINT8, ("b", 1): UINT8, ("i", 4): INT32, ("u", 4): UINT32,
            ("i", 8): INT64, ("u", 8): UINT64, ("f", 2): FLOAT16, ("f", 4): FLOAT32,
            ("f", 8): FLOAT64}


def numpy_code(dtype, what="numpy"):
    if dtype.name == "bfloat16":  # ml_dtypes / jax's bfloat16
        return BFLOAT16
    dt = _NP_KIND.get((dtype.kind, dtype.itemsize))
    if dt is None or not dtype.isnative:
        _refuse(what, "numpy dtype %s is not one of tacl's (%s)" % (dtype, ", ".join(DTYPE_NAMES)))
    return dt


def from_numpy(a, what, writable):
    dt = numpy_code(a.dtype, what)
    if not a.flags.c_contiguous:
        _refuse(what, "array of shape %s with strides %s is not C-contiguous; pass "
                "numpy.ascontiguousarray(a)" % (a.shape, a.strides))
    if writable and not a.flags.writeable:
        _refuse(what, "array is read-only and the call writes into it")
    return Buf(a.ctypes.data, a.size, dt, -1, a, a)


# ---- __cuda_array_interface__ ----
_TYPESTR = {"i1": INT8, "u1": UINT8, "b1": UINT8, "i4": INT32, "u4": UINT32, "i8": INT64,
            "u8": UINT64, "f2": FLOAT16, "f4": FLOAT32, "f8": FLOAT64}
_libcuda = None


def pointer_device(ptr):
    """The CUDA device ordinal that owns ptr (driver API), or the current torch device."""
    global _libcuda
    if _libcuda is None:
        try:
            _libcuda = ctypes.CDLL("libcuda.so.1")
        except OSError:
            _libcuda = False
    if _libcuda:
        ordinal = ctypes.c_int(-1)
        # CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL = 9
        if _libcuda.cuPointerGetAttribute(ctypes.byref(ordinal), 9, ctypes.c_uint64(ptr)) == 0:
            return ordinal.value
    t = torch_module()
    if t is not None and t.cuda.is_available():
        return t.cuda.current_device()
    return 0


def _contig(shape, strides, itemsize):
    expect = itemsize
    for n, s in zip(reversed(shape), reversed(strides)):
        if n != 1 and s != expect:
            return False
        expect *= n
    return True


def from_cai(x, what, writable):
    cai = x.__cuda_array_interface__
    ptr, ro = cai["data"]
    ts = cai["typestr"].lstrip("<|=")
    if cai["typestr"][0] == ">" and ts[1:] != "1":
        _refuse(what, "big-endian typestr %s" % cai["typestr"])
    dt = _TYPESTR.get(ts)
    if dt is None:
        _refuse(what, "__cuda_array_interface__ typestr %s is not one of tacl's types" % cai["typestr"])
    shape = tuple(cai["shape"])
    count = 1
    for n in shape:
        count *= n
    strides = cai.get("strides")
    if strides is not None and not _contig(shape, strides, DTYPE_SIZES[dt]):
        _refuse(what, "__cuda_array_interface__ array with strides %s is not contiguous" % (strides,))
    if writable and ro:
        _refuse(what, "read-only device array and the call writes into it")
    dev = pointer_device(ptr) if ptr else 0
    return Buf(ptr, count, dt, dev, x, x, ro)


# ---- DLPack ----
class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


_capsule_ptr = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_ptr.restype = ctypes.c_void_p
_capsule_ptr.argtypes = [ctypes.py_object, ctypes.c_char_p]
# (code, bits) -> tacl dtype; code 0 int, 1 uint, 2 float, 4 bfloat, 6 bool
_DL_TYPES = {(0, 8): INT8, (1, 8): UINT8, (0, 32): INT32, (1, 32): UINT32, (0, 64): INT64,
             (1, 64): UINT64, (2, 16): FLOAT16, (4, 16): BFLOAT16, (2, 32): FLOAT32,
             (2, 64): FLOAT64, (6, 8): UINT8}


def from_dlpack(x, what, writable):
    cap = x.__dlpack__()
    addr = _capsule_ptr(cap, b"dltensor")
    t = _DLTensor.from_address(addr)  # DLManagedTensor starts with its DLTensor
    dt = _DL_TYPES.get((t.dtype.code, t.dtype.bits))
    if dt is None or t.dtype.lanes != 1:
        _refuse(what, "DLPack dtype (code %d, bits %d, lanes %d) is not one of tacl's"
                % (t.dtype.code, t.dtype.bits, t.dtype.lanes))
    shape = tuple(t.shape[i] for i in range(t.ndim))
    count = 1
    for n in shape:
        count *= n
    if t.strides:
        strides = tuple(t.strides[i] * DTYPE_SIZES[dt] for i in range(t.ndim))
        if not _contig(shape, strides, DTYPE_SIZES[dt]):
            _refuse(what, "DLPack tensor with strides %s (elements) is not contiguous"
                    % (tuple(t.strides[i] for i in range(t.ndim)),))
    kind = t.device.device_type
    if kind in (1, 3):  # kDLCPU, kDLCUDAHost
        dev = -1
    elif kind in (2, 13):  # kDLCUDA, kDLCUDAManaged
        dev = t.device.device_id
    else:
        _refuse(what, "DLPack device type %d is neither CPU nor CUDA" % kind)
    # The capsule (kept alive with the Buf) owns the tensor; it is released when dropped.
    return Buf((t.data or 0) + t.byte_offset, count, dt, dev, (cap, x), x)


# ---- buffer protocol ----
class _PyBuffer(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p), ("len", ctypes.c_ssize_t),
                ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int),
                ("ndim", ctypes.c_int), ("format", ctypes.c_char_p),
                ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p),
                ("suboffsets", ctypes.c_void_p), ("internal", ctypes.c_void_p)]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
_get_buffer.restype = ctypes.c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [ctypes.POINTER(_PyBuffer)]
_release_buffer.restype = None


class _Held(object):
    """A Py_buffer released when the call is done with it."""
    __slots__ = ("view", "obj")

    def __init__(self, view, obj):
        self.view = view
        self.obj = obj

    def __del__(self):
        _release_buffer(ctypes.byref(self.view))


_FMT = {"b": INT8, "B": UINT8, "c": UINT8, "?": UINT8, "e": FLOAT16, "f": FLOAT32, "d": FLOAT64}


def _format_code(fmt, itemsize):
    f = fmt.lstrip("@=<!")
    if fmt[:1] in (">", "!") and itemsize > 1:
        return None
    if f in _FMT:
        return _FMT[f]
    if f in ("h", "H"):
        return None
    if f in ("i", "l", "q", "n"):
        return {4: INT32, 8: INT64}.get(itemsize)
    if f in ("I", "L", "Q", "N"):
        return {4: UINT32, 8: UINT64}.get(itemsize)
    return None


def from_buffer(x, what, writable, dtype=None):
    view = _PyBuffer()
    # PyBUF_C_CONTIGUOUS | PyBUF_FORMAT, plus PyBUF_WRITABLE when the call writes.
    flags = 0x38 | 0x4 | (0x1 if writable else 0)
    try:
        _get_buffer(x, ctypes.byref(view), flags)
    except BufferError as e:
        _refuse(what, "%s buffer refused: %s (it must be C-contiguous%s)"
                % (type(x).__name__, e, " and writable" if writable else ""))
    held = _Held(view, x)
    fmt = view.format.decode() if view.format else "B"
    code = _format_code(fmt, view.itemsize) if dtype is None else dtype
    if code is None:
        _refuse(what, "buffer format %r (item size %d) is not one of tacl's types" % (fmt, view.itemsize))
    size = DTYPE_SIZES[code]
    if view.len % size:
        _refuse(what, "buffer of %d bytes is not a whole number of %s" % (view.len, DTYPE_NAMES[code]))
    return Buf(view.buf or 0, view.len // size, code, -1, held, x, bool(view.readonly))


def as_buf(x, what="buffer", writable=False):
    """The Buf of any supported buffer; InvalidArgument names what is wrong with it."""
    if _is_torch(x):
        return from_torch(x, what, writable)
    if _is_numpy(x):
        return from_numpy(x, what, writable)
    if hasattr(x, "__cuda_array_interface__"):
        return from_cai(x, what, writable)
    if isinstance(x, (bytes, bytearray, memoryview)):
        return from_buffer(x, what, writable)
    if hasattr(x, "__dlpack__"):
        return from_dlpack(x, what, writable)
    try:
        memoryview(x).release()
    except TypeError:
        _refuse(what, "%s is not a buffer (expected a torch tensor, numpy array, DLPack or CUDA "
                "array, or an object with the buffer protocol)" % type(x).__name__)
    return from_buffer(x, what, writable)


def dtype_code(x):
    """A tacl dtype code from a name, a torch dtype, a numpy dtype or a code."""
    if isinstance(x, int):
        return x
    if isinstance(x, str):
        if x in _BY_NAME:
            return _BY_NAME[x]
        raise InvalidArgument(1, "unknown dtype %r (one of %s)" % (x, ", ".join(DTYPE_NAMES)))
    t = sys.modules.get("torch")
    if t is not None and isinstance(x, t.dtype):
        return _torch_dtypes()[x]
    np = sys.modules.get("numpy")
    if np is not None:
        return numpy_code(np.dtype(x))
    raise InvalidArgument(1, "unknown dtype %r" % (x,))
