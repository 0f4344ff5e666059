"""mq_ranks.py - tacl.MessageQueue: rank 1 writes messages of many lengths (0 bytes, within a
chunk, spanning chunks, larger than the ring) and pickled objects; every other rank reads them
in order as bytes, as zero-copy views and into its own buffers (too small: InvalidArgument with
the needed length, and the message is kept); after the writer closes, readers get Closed."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ok, done  # noqa: E402

import tacl  # noqa: E402

comm = tacl.init()
R, N = comm.rank, comm.size
W = 1 % N
SIZES = [0, 1, 100, 4096, 4097, 20000, 40000, 3]


def payload(i, n):
    return bytes((i * 31 + j) % 251 for j in range(n))


q = tacl.MessageQueue(comm, writer=W, chunk_bytes=4096, chunks=8)
ok(q.is_writer == (R == W), "is_writer")
if R == W:
    for i, n in enumerate(SIZES):
        q.enqueue(payload(i, n))
    q.enqueue(np.arange(10, dtype=np.int32))
    q.enqueue_object({"step": 7, "tokens": list(range(50))})
    q.enqueue(b"x" * 5000)
    q.enqueue(b"end")
    try:
        q.dequeue()
        ok(False, "the writer cannot dequeue")
    except tacl.TaclError as e:
        ok(True, str(e))
    comm.barrier()
    q.close()
else:
    for i, n in enumerate(SIZES):
        if i % 2:
            got = q.dequeue()
        else:
            with q.dequeue_view() as mv:
                ok(mv.readonly and mv.nbytes == n, "view of message %d" % i)
                got = bytes(mv)
        ok(got == payload(i, n), "rank %d message %d (%d bytes): got %d bytes" % (R, i, n, len(got)))
    ok(np.array_equal(np.frombuffer(q.dequeue(), np.int32), np.arange(10)), "numpy message")
    ok(q.dequeue_object() == {"step": 7, "tokens": list(range(50))}, "object message")
    small = bytearray(100)
    try:
        q.dequeue_into(small)
        ok(False, "dequeue_into a small buffer must fail")
    except tacl.InvalidArgument as e:
        ok(e.needed == 5000, "needed length %r" % getattr(e, "needed", None))
    big = bytearray(8000)
    ok(q.dequeue_into(big) == 5000 and bytes(big[:5000]) == b"x" * 5000, "kept message read after")
    ok(q.dequeue() == b"end", "last message")
    comm.barrier()
    try:
        q.dequeue()
        ok(False, "dequeue after the writer closed must fail")
    except tacl.Closed:
        ok(True, "closed")
    q.close()
done("mq", R)
