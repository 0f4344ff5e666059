"""_ops.py - tacl's collectives as torch custom ops (torch.ops.tacl.all_reduce, all_gather,
reduce_scatter), so torch.compile traces a model that calls them without graph breaks. Each op
is functional (returns a new tensor) and names its communicator by Communicator.name (the
custom-op schema cannot carry Python objects); a fake implementation gives shapes to the tracer.

Registration needs torch.library.custom_op (torch >= 2.4). With an older torch it is skipped
and status() says why; the collectives themselves work with any torch.
"""
import sys

_state = {"registered": False, "why": "not attempted (torch not imported yet)"}


def status():
    """(registered, reason)."""
    return _state["registered"], _state["why"]


def register():
    """Registers the custom ops once if torch has torch.library.custom_op. Quiet otherwise."""
    if _state["registered"]:
        return True
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import torch  # noqa: F811
        except ImportError:
            _state["why"] = "torch is not installed"
            return False
    lib = getattr(torch, "library", None)
    if lib is None or not hasattr(lib, "custom_op"):
        _state["why"] = ("torch %s has no torch.library.custom_op (needs torch >= 2.4): custom ops "
                         "not registered; collectives work eagerly" % torch.__version__)
        return False
    try:
        _define(torch)
    except Exception as e:  # a torch whose custom_op API differs: report, never break import
        _state["why"] = "registration failed: %s" % e
        return False
    _state["registered"] = True
    _state["why"] = "registered torch.ops.tacl.all_reduce, all_gather, reduce_scatter"
    return True


def _define(torch):
    from .comm import by_name
    from .parallel import all_gather_dim, reduce_scatter_dim
    Tensor = torch.Tensor

    @torch.library.custom_op("tacl::all_reduce", mutates_args=())
    def all_reduce(tensor: Tensor, group_name: str, op: str = "sum") -> Tensor:
        out = torch.empty_like(tensor, memory_format=torch.contiguous_format)
        by_name(group_name).all_reduce(tensor, op=op, out=out)
        return out

    @all_reduce.register_fake
    def _all_reduce_fake(tensor, group_name, op="sum"):
        return torch.empty_like(tensor, memory_format=torch.contiguous_format)

    @torch.library.custom_op("tacl::all_gather", mutates_args=())
    def all_gather(tensor: Tensor, dim: int, world_size: int, group_name: str) -> Tensor:
        return all_gather_dim(by_name(group_name), tensor, dim).contiguous()

    @all_gather.register_fake
    def _all_gather_fake(tensor, dim, world_size, group_name):
        d = dim % tensor.dim()
        shape = list(tensor.shape)
        shape[d] *= world_size
        return tensor.new_empty(shape)

    @torch.library.custom_op("tacl::reduce_scatter", mutates_args=())
    def reduce_scatter(tensor: Tensor, dim: int, world_size: int, group_name: str,
                       op: str = "sum") -> Tensor:
        return reduce_scatter_dim(by_name(group_name), tensor, dim, op).contiguous()

    @reduce_scatter.register_fake
    def _reduce_scatter_fake(tensor, dim, world_size, group_name, op="sum"):
        d = dim % tensor.dim()
        shape = list(tensor.shape)
        shape[d] //= world_size
        return tensor.new_empty(shape)
