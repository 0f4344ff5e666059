"""One process (a world of one): the library it loaded, exceptions and their classes, every
buffer kind and dtype mapping, refusals with their messages, collectives on one rank, objects,
split, destroy, init errors from the launcher's variables, and what tacl.info() says."""
import array
import os
import subprocess
import sys

import numpy as np
import pytest

import tacl
from tacl import _buffers
from launch import rank_env

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def comm():
    return tacl.init()


def test_library_path_is_the_requested_one():
    assert os.path.realpath(tacl.library_path()) == os.path.realpath(os.environ["TACL_LIBRARY"])
    assert tacl.version() == tacl.__version__


def test_exception_classes():
    from tacl._errors import error_for
    for st, cls, base in [(1, tacl.InvalidArgument, ValueError), (2, tacl.TaclTimeout, TimeoutError),
                          (3, tacl.PeerLost, ConnectionError), (4, tacl.Mismatch, tacl.TaclError),
                          (6, tacl.Unavailable, tacl.TaclError), (9, tacl.TaclError, RuntimeError)]:
        e = error_for(st, "msg %d" % st)
        assert type(e) is cls and isinstance(e, base) and isinstance(e, tacl.TaclError)
        assert e.status == st and ("msg %d" % st) in str(e) and e.status_name in str(e)
    assert tacl.TimeoutError is tacl.TaclTimeout


def test_world_of_one(comm):
    assert (comm.rank, comm.size, comm.local_rank, comm.local_size) == (0, 1, 0, 1)
    assert comm.host_id and comm.world_rank() == 0
    assert tacl.init() is comm and tacl.world() is comm
    t = torch.arange(6, dtype=torch.bfloat16)
    comm.all_reduce(t, op="sum")
    assert torch.equal(t, torch.arange(6, dtype=torch.bfloat16))
    out = torch.empty(1, 6, dtype=torch.float16)
    comm.all_gather(out, torch.ones(6, dtype=torch.float16))
    assert torch.equal(out, torch.ones(1, 6, dtype=torch.float16))
    a = np.arange(4, dtype=np.uint64)
    o = np.zeros(4, np.uint64)
    comm.reduce_scatter(o, a)
    assert list(o) == [0, 1, 2, 3]
    comm.all_to_all(o, a[::-1].copy())
    assert list(o) == [3, 2, 1, 0]
    comm.barrier()
    assert comm.broadcast_object({"x": 1}) == {"x": 1}
    assert comm.all_gather_object(5) == [5]


def test_split_and_destroy(comm):
    sub = comm.split(0, 0)
    assert sub.size == 1 and sub.name != comm.name
    assert comm.split(-1) is None
    t = torch.ones(3)
    sub.all_reduce(t)  # the fast path, whose C arguments are prepared once per communicator
    sub.destroy()
    sub.destroy()  # idempotent
    with pytest.raises(tacl.Closed):
        sub.barrier()
    for buf in (t, np.ones(3, np.float32)):  # fast path and general path alike
        with pytest.raises(tacl.Closed, match="destroyed"):
            sub.all_reduce(buf)
    assert torch.equal(t, torch.ones(3))


def test_buffer_kinds_and_dtypes():
    for dt, code in [(np.int8, 0), (np.uint8, 1), (np.int32, 2), (np.uint32, 3), (np.int64, 4),
                     (np.uint64, 5), (np.float16, 6), (np.float32, 8), (np.float64, 9), (np.bool_, 1)]:
        b = _buffers.as_buf(np.zeros(3, dt))
        assert (b.dt, b.count, b.dev) == (code, 3, -1)
    for dt, code in [(torch.int8, 0), (torch.uint8, 1), (torch.int32, 2), (torch.int64, 4),
                     (torch.float16, 6), (torch.bfloat16, 7), (torch.float32, 8),
                     (torch.float64, 9), (torch.bool, 1)]:
        t = torch.zeros(2, 3, dtype=dt)
        b = _buffers.as_buf(t)
        assert (b.dt, b.count, b.dev, b.ptr) == (code, 6, -1, t.data_ptr())
    b = _buffers.as_buf(array.array("q", [1, 2]))
    assert (b.dt, b.count) == (4, 2)
    b = _buffers.as_buf(memoryview(b"abcd").cast("f"))
    assert (b.dt, b.count, b.readonly) == (8, 1, True)
    t = torch.zeros(4, dtype=torch.float16)
    b = _buffers.as_buf(type("D", (), {"__dlpack__": lambda self, stream=None: torch.utils.dlpack.to_dlpack(t)})())
    assert (b.dt, b.count, b.ptr, b.dev) == (6, 4, t.data_ptr(), -1)


def test_refusals_say_why(comm):
    with pytest.raises(tacl.InvalidArgument, match="not contiguous"):
        comm.all_reduce(torch.zeros(4, 4).t())
    with pytest.raises(tacl.InvalidArgument, match="not one of tacl's"):
        comm.all_reduce(torch.zeros(2, dtype=torch.complex64))
    with pytest.raises(tacl.InvalidArgument, match="not one of tacl's"):
        comm.all_reduce(np.zeros(2, np.complex64))
    with pytest.raises(tacl.InvalidArgument, match="read-only"):
        a = np.zeros(2)
        a.flags.writeable = False
        comm.all_reduce(a)
    with pytest.raises(tacl.InvalidArgument, match="not a buffer"):
        comm.all_reduce([1, 2, 3])
    with pytest.raises(tacl.InvalidArgument, match="dtypes differ"):
        comm.all_reduce(np.zeros(2, np.float32), out=np.zeros(2, np.float64))
    with pytest.raises(tacl.InvalidArgument, match="expected 2"):
        comm.all_gather(np.zeros(3), np.zeros(2))
    with pytest.raises(tacl.InvalidArgument, match="root 3 out of range"):
        comm.broadcast(np.zeros(2), root=3)  # refused by C's gate
    with pytest.raises(tacl.InvalidArgument, match="unknown reduction op"):
        comm.all_reduce(np.zeros(2), op="xor")
    comm.all_reduce(np.zeros(2))  # still usable


def test_timeout_property(comm):
    assert comm.timeout is None
    comm.timeout = 30
    assert comm.timeout == 30.0


def test_init_error_from_launcher_variables():
    code = "import tacl\ntry:\n    tacl.init()\nexcept tacl.TaclError as e:\n    print(type(e).__name__, e.status, e)\n"
    p = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=rank_env({"TACL_RANK": "5", "TACL_WORLD_SIZE": "2"}), universal_newlines=True,
                       timeout=60)
    assert p.stdout.startswith("BootstrapError 11") and "TACL_RANK" in p.stdout, p.stdout + p.stderr


def test_info_and_custom_ops():
    i = tacl.info()
    assert i["library_path"] == tacl.library_path() and i["torch"] == torch.__version__
    has = hasattr(torch.library, "custom_op")
    assert i["custom_ops"] == has
    if has:
        assert hasattr(torch.ops.tacl, "all_reduce")
    else:
        assert "torch.library.custom_op" in i["custom_ops_status"]


def test_message_queue_unavailable_message():
    if tacl.mq.available():
        pytest.skip("the loaded libtacl has tacl_mq_create; test_mq.py covers the queue")
    with pytest.raises(tacl.Unavailable, match="tacl_mq_create"):
        tacl.MessageQueue(tacl.init(), writer=0)


def test_cuda_array_without_a_gpu(comm):
    """A __cuda_array_interface__ buffer takes the device path; without a usable GPU the device
    communicator's creation fails with a clear Unavailable, and nothing is left half made."""
    if torch.cuda.is_available():
        pytest.skip("a GPU is usable here; test_cuda.py covers the device path")
    a = np.zeros(4, np.float32)

    class CAI(object):
        __cuda_array_interface__ = {"data": (a.ctypes.data, False), "shape": (4,), "typestr": "<f4",
                                    "strides": None, "version": 3}
    with pytest.raises(tacl.TaclError) as e:
        comm.all_reduce(CAI())
    assert e.value.status in (6, 14) and "rank 0" in str(e.value), e.value
    assert comm._devs == {}
    comm.all_reduce(a)  # the host path is unaffected
