"""errors_ranks.py - errors become the right exception on every rank, with tacl's message, and
leave the communicator usable (mismatch, invalid arguments seen by C or by Python, timeout), or
report a dead peer (mode "dead": the last rank kills itself with SIGKILL; mode "uncaught": it
dies of an uncaught exception; the survivors write what they caught to T_OUT/rank<R>.txt)."""
import os
import signal
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ok, done  # noqa: E402

import tacl  # noqa: E402

mode = sys.argv[1]
comm = tacl.init()
R, N = comm.rank, comm.size


def expect(exc, fn, what, words=()):
    t0 = time.time()
    try:
        fn()
    except tacl.TaclError as e:
        ok(isinstance(e, exc), "rank %d %s: expected %s, got %s: %s" % (R, what, exc.__name__,
                                                                        type(e).__name__, e))
        for w in words:
            ok(w in str(e), "rank %d %s: message lacks %r: %s" % (R, what, w, e))
        return e, time.time() - t0
    ok(False, "rank %d %s: no exception" % (R, what))


def works():
    a = np.full(3, R + 1, np.int64)
    comm.all_reduce(a)
    ok(list(a) == [N * (N + 1) // 2] * 3, "rank %d: all_reduce after an error gives %s" % (R, a))


if mode == "errors":
    # a timeout from the environment's TACL_TIMEOUT: every rank waits for a message nobody sends
    limit = float(os.environ["TACL_TIMEOUT"])
    e, dt = expect(tacl.TaclTimeout, lambda: comm.recv(np.zeros(4), (R + 1) % N, tag=98),
                   "TACL_TIMEOUT (receives nobody sends)")
    ok(limit * 0.8 < dt < limit + 15, "rank %d: timed out after %.1f s for TACL_TIMEOUT=%g" % (R, dt, limit))
    works()  # usable after a timeout
    comm.timeout = 30  # from here on, "at once" must be far below the timeout, even under load
    # mismatched counts, dtypes and collectives: Mismatch on every rank, comm usable after
    e, _ = expect(tacl.Mismatch, lambda: comm.all_reduce(np.zeros(4 if R == 0 else 8, np.float32)),
                  "count mismatch")
    ok(e.status == 4 and e.status_name == "TACL_ERR_MISMATCH", "status of a mismatch")
    works()
    expect(tacl.Mismatch, lambda: comm.all_reduce(np.zeros(4, np.float32 if R == 0 else np.int32)),
           "dtype mismatch")
    works()
    expect(tacl.Mismatch, lambda: comm.broadcast(np.zeros(4), root=0) if R == 0
           else comm.all_reduce(np.zeros(4)), "collective mismatch")
    works()
    # C's gate refuses on every rank
    e, _ = expect(tacl.InvalidArgument, lambda: comm.broadcast(np.zeros(4), root=N + 3),
                  "root out of range", ["root %d" % (N + 3)])
    ok(isinstance(e, ValueError), "InvalidArgument is a ValueError")
    works()
    # Python refuses one rank's output size: that rank InvalidArgument, the others Mismatch,
    # at once (not after the timeout)
    if R == 0:
        e, dt = expect(tacl.InvalidArgument, lambda: comm.all_gather(np.zeros(N * 4 + 1), np.zeros(4)),
                       "short output on rank 0", ["all_gather", "expected %d" % (N * 4)])
    else:
        e, dt = expect(tacl.Mismatch, lambda: comm.all_gather(np.zeros(N * 4), np.zeros(4)),
                       "peers of a refused rank")
    ok(dt < 10, "rank %d: refused call took %.1f s (should not wait for the 30 s timeout)" % (R, dt))
    works()
    # Python refuses on every rank (non-contiguous): InvalidArgument everywhere
    expect(tacl.InvalidArgument, lambda: comm.all_reduce(np.zeros((4, 4))[:, ::2]),
           "non-contiguous", ["not C-contiguous"])
    expect(tacl.InvalidArgument, lambda: comm.all_reduce(np.zeros(4), op="xor"), "bad op", ["xor"])
    works()
    # an object that cannot be pickled on the root: the root gets pickle's error, the others
    # a Mismatch at once
    t0 = time.time()
    try:
        comm.broadcast_object((lambda: 0) if R == 0 else None, root=0)
        ok(False, "broadcast of a lambda must fail")
    except tacl.Mismatch as e:
        ok(R != 0, "rank %d: Mismatch on a non-root: %s" % (R, e))
    except Exception as e:
        ok(R == 0 and "pickle" in str(e).lower() or "lambda" in str(e), "root's pickling error: %r" % e)
    ok(time.time() - t0 < 10, "unpicklable object failed at once (timeout 30 s)")
    works()
    # a timeout from comm.timeout: rank 0 waits in an all_reduce the others never join
    comm.timeout = 1.5
    if R == 0:
        e, dt = expect(tacl.TaclTimeout, lambda: comm.all_reduce(np.zeros(4)), "timeout")
    else:
        e, dt = expect(tacl.TaclTimeout, lambda: comm.recv(np.zeros(4), 0, tag=99), "timeout")
    ok(isinstance(e, TimeoutError) and e.status == 2, "TaclTimeout is a TimeoutError")
    ok(1.0 < dt < 15, "rank %d: timed out after %.1f s for a 1.5 s timeout" % (R, dt))
    done("errors", R)
elif mode in ("dead", "uncaught"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # outlive tacl run's stop to report
    out = os.environ["T_OUT"]
    comm.barrier()
    works()
    if R == N - 1:
        if mode == "uncaught":  # exits through tacl's atexit handler, which must not wait
            raise RuntimeError("rank %d fails on purpose" % R)
        os.kill(os.getpid(), signal.SIGKILL)
    t0 = time.time()
    res = "none"
    try:
        for i in range(100000):
            a = np.ones(1024, np.float32)
            comm.all_reduce(a)
    except tacl.TaclError as e:
        dt = time.time() - t0
        res = "%s %d %.2f %s" % (type(e).__name__, e.status, dt, str(e).replace("\n", " "))
        # a broken communicator keeps failing at once
        try:
            comm.barrier()
            res += " | barrier ok?!"
        except tacl.PeerLost as e2:
            res += " | then %s" % type(e2).__name__
    with open(os.path.join(out, "rank%d.txt" % R), "w") as f:
        f.write(res + "\n")
    os._exit(0)
