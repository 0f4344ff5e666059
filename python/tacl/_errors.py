"""_errors.py - tacl's status codes as Python exceptions.

Every failed C call becomes a TaclError (or one of its subclasses) carrying the status code
(.status, .status_name) and tacl's own message (the handle's last error: rank, peer, key). The
subclasses also derive from the matching built-in exception, so `except TimeoutError` works.
"""

OK = 0
INVALID = 1
TIMEOUT = 2
PEER_LOST = 3
MISMATCH = 4
UNREACHABLE = 5
UNAVAILABLE = 6
SYSTEM = 7
NOMEM = 8
PROTOCOL = 9
NOT_FOUND = 10
BOOTSTRAP = 11
CONFIG = 12
DISCONNECTED = 13
GPU = 14
CLOSED = 15
INTERNAL = 16

STATUS_NAMES = {
    0: "TACL_OK", 1: "TACL_ERR_INVALID", 2: "TACL_ERR_TIMEOUT", 3: "TACL_ERR_PEER_LOST",
    4: "TACL_ERR_MISMATCH", 5: "TACL_ERR_UNREACHABLE", 6: "TACL_ERR_UNAVAILABLE",
    7: "TACL_ERR_SYSTEM", 8: "TACL_ERR_NOMEM", 9: "TACL_ERR_PROTOCOL", 10: "TACL_ERR_NOT_FOUND",
    11: "TACL_ERR_BOOTSTRAP", 12: "TACL_ERR_CONFIG", 13: "TACL_ERR_DISCONNECTED",
    14: "TACL_ERR_GPU", 15: "TACL_ERR_CLOSED", 16: "TACL_ERR_INTERNAL",
}


class TaclError(RuntimeError):
    """A tacl call failed. .status is the tacl_status_t code, .status_name its name."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.status_name = STATUS_NAMES.get(status, "TACL_ERR_%d" % status)

    def __str__(self):
        return "%s (%s)" % (self.args[0], self.status_name)


class InvalidArgument(TaclError, ValueError):
    """TACL_ERR_INVALID: an argument was refused (by the C gate, or by the binding for what C
    cannot see, such as a buffer's size or layout)."""


class TaclTimeout(TaclError, TimeoutError):
    """TACL_ERR_TIMEOUT: the operation passed its deadline (TACL_TIMEOUT, comm.timeout)."""


class PeerLost(TaclError, ConnectionError):
    """TACL_ERR_PEER_LOST: a peer died or was cut off; the communicator is unusable after it."""


class Unreachable(TaclError, ConnectionError):
    """TACL_ERR_UNREACHABLE: a peer or the store cannot be reached."""


class Mismatch(TaclError):
    """TACL_ERR_MISMATCH: ranks called different collectives (kind, count, dtype, op, root)."""


class Unavailable(TaclError):
    """TACL_ERR_UNAVAILABLE: a feature or library (NCCL, CUDA, the message queue) is missing."""


class BootstrapError(TaclError):
    """TACL_ERR_BOOTSTRAP: the launcher's variables are missing or contradictory."""


class GpuError(TaclError):
    """TACL_ERR_GPU: the CUDA runtime or NCCL failed."""


class Closed(TaclError):
    """TACL_ERR_CLOSED: the handle or connection is closed."""


_CLASSES = {
    INVALID: InvalidArgument, TIMEOUT: TaclTimeout, PEER_LOST: PeerLost, MISMATCH: Mismatch,
    UNREACHABLE: Unreachable, UNAVAILABLE: Unavailable, BOOTSTRAP: BootstrapError, GPU: GpuError,
    CLOSED: Closed,
}


def error_for(status, message):
    """The exception for a status code and message."""
    return _CLASSES.get(status, TaclError)(status, message)
