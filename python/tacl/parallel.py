"""parallel.py - vLLM's parallel state on tacl: initialize_model_parallel(tensor=, pipeline=,
data=, expert=) builds the TP, PP, DP and EP groups with vLLM's rank layout (the world as an
array of shape (-1, dp, pp, tp); tacl_par_layout computes each rank's color and key, and
comm.split makes the group), and Group has GroupCoordinator's methods: all_reduce,
all_gather(tensor, dim), reduce_scatter(tensor, dim), broadcast, broadcast_object,
broadcast_tensor_dict, send_tensor_dict / recv_tensor_dict (metadata pickled on the host path,
tensors on the device path when they are CUDA tensors), first_rank / last_rank /
is_first_rank / is_last_rank / next_rank / prev_rank, rank_in_group, world_size.

Ranks given to Group methods (src=, dst=) are ranks in the group, as in vLLM; first_rank,
last_rank, next_rank, prev_rank and ranks are world ranks, as in vLLM.
"""
import ctypes
import sys

from . import _lib
from . import comm as _comm
from ._buffers import torch_module, _is_torch, _is_numpy
from ._errors import InvalidArgument

TP, PP, DP, EP = 0, 1, 2, 3
KIND_NAMES = {TP: "tp", PP: "pp", DP: "dp", EP: "ep"}


def layout(world, tensor=1, pipeline=1, data=1, expert=None, rank=None, kind=TP):
    """(color, key, ranks) of `rank`'s group of `kind` (TP, PP, DP, EP) in vLLM's layout, from
    tacl_par_layout. expert defaults to data * tensor (vLLM's expert-parallel group)."""
    L = _lib.load()
    if expert is None:
        expert = (data or 1) * (tensor or 1)
    sz = _lib.ParSizesT(tensor or 1, pipeline or 1, data or 1, expert)
    color, key, n = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    st = L.tacl_par_layout(world, ctypes.byref(sz), rank, kind, ctypes.byref(color),
                           ctypes.byref(key), None, ctypes.byref(n))
    if st:
        _comm._raise_last(st)
    ranks = (ctypes.c_int * n.value)()
    L.tacl_par_layout(world, ctypes.byref(sz), rank, kind, None, None, ranks, ctypes.byref(n))
    return color.value, key.value, list(ranks)


class Group(object):
    """A group of ranks (vLLM's GroupCoordinator): .comm is its tacl Communicator (host path
    for CPU tensors, device path for CUDA tensors)."""

    def __init__(self, comm, ranks, name="group"):
        self.comm = comm
        self.ranks = list(ranks)
        self.world_size = len(self.ranks)
        self.rank_in_group = comm.rank
        self.rank = self.ranks[self.rank_in_group]
        self.name = name
        self.unique_name = comm.name

    @property
    def local_rank(self):
        return self.comm.local_rank

    @property
    def first_rank(self):
        return self.ranks[0]

    @property
    def last_rank(self):
        return self.ranks[-1]

    @property
    def is_first_rank(self):
        return self.rank == self.first_rank

    @property
    def is_last_rank(self):
        return self.rank == self.last_rank

    @property
    def next_rank(self):
        return self.ranks[(self.rank_in_group + 1) % self.world_size]

    @property
    def prev_rank(self):
        return self.ranks[(self.rank_in_group - 1) % self.world_size]

    def __repr__(self):
        return "<tacl.parallel.Group %s ranks %s, rank %d in group>" % (self.name, self.ranks,
                                                                         self.rank_in_group)

    # ---- tensors ----
    def all_reduce(self, tensor, op="sum"):
        """In place; returns the tensor (vLLM: use the return value)."""
        if self.world_size == 1:
            return tensor
        self.comm.all_reduce(tensor, op=op)
        return tensor

    def all_gather(self, tensor, dim=-1):
        """Concatenation of every rank's tensor along dim (a new tensor)."""
        if self.world_size == 1:
            return tensor
        return all_gather_dim(self.comm, tensor, dim)

    def reduce_scatter(self, tensor, dim=-1, op="sum"):
        """Sum over ranks of tensor, cut along dim; this rank's block (a new tensor)."""
        if self.world_size == 1:
            return tensor
        return reduce_scatter_dim(self.comm, tensor, dim, op)

    def gather(self, tensor, dst=0, dim=-1):
        """Concatenation along dim on dst (a rank in the group); None elsewhere."""
        if self.world_size == 1:
            return tensor
        torch = torch_module()
        dim = dim % tensor.dim()
        t = tensor.contiguous()
        out = torch.empty((self.world_size,) + tuple(t.shape), dtype=t.dtype,
                          device=t.device) if self.rank_in_group == dst else None
        self.comm.gather(t, out, root=dst)
        if out is None:
            return None
        return _merge(out, dim)

    def broadcast(self, tensor, src=0):
        if self.world_size > 1:
            self.comm.broadcast(tensor, root=src)
        return tensor

    def send(self, tensor, dst=None):
        self.comm.send(tensor, self._dst(dst))

    def recv(self, size, dtype, src=None, device=None):
        """A new tensor of size and dtype received from src (default: the previous rank)."""
        torch = torch_module()
        t = torch.empty(size, dtype=dtype, device=device or _default_device())
        self.comm.recv(t, self._src(src))
        return t

    def barrier(self):
        self.comm.barrier()

    # ---- objects and tensor dicts ----
    def broadcast_object(self, obj=None, src=0):
        if self.world_size == 1:
            return obj
        return self.comm.broadcast_object(obj, root=src)

    def broadcast_object_list(self, obj_list, src=0):
        if self.world_size == 1:
            return obj_list
        return self.comm.broadcast_object_list(obj_list, src=src)

    def all_gather_object(self, obj):
        return self.comm.all_gather_object(obj)

    def send_object(self, obj, dst):
        self.comm.send_object(obj, dst)

    def recv_object(self, src):
        return self.comm.recv_object(src)

    def broadcast_tensor_dict(self, tensor_dict=None, src=0):
        """src's dict on every rank: the metadata (keys, dtypes, shapes, devices and the
        non-tensor values) is pickled and broadcast on the host path, then each tensor is
        broadcast (CUDA tensors on the device path, arriving on this rank's current CUDA
        device; CPU tensors and numpy arrays on the host path)."""
        if self.world_size == 1:
            return tensor_dict
        if self.rank_in_group == src:
            meta, tensors = _split_dict(tensor_dict)
            self.comm.broadcast_object(meta, root=src)
            for t in tensors:
                if _numel(t):
                    self.comm.broadcast(t, root=src)
            return tensor_dict
        meta = self.comm.broadcast_object(None, root=src)
        out, tensors = _alloc_dict(meta)
        for t in tensors:
            if _numel(t):
                self.comm.broadcast(t, root=src)
        return out

    def send_tensor_dict(self, tensor_dict, dst=None):
        """Sends a dict to dst (a rank in the group; default the next one): metadata as a
        pickled object on the host path, tensors one by one (CUDA ones through NCCL)."""
        dst = self._dst(dst)
        meta, tensors = _split_dict(tensor_dict)
        self.comm.send_object(meta, dst)
        for t in tensors:
            if _numel(t):
                self.comm.send(t, dst)
        return None

    def recv_tensor_dict(self, src=None):
        """Receives a dict sent with send_tensor_dict by src (default: the previous rank)."""
        src = self._src(src)
        meta = self.comm.recv_object(src)
        out, tensors = _alloc_dict(meta)
        for t in tensors:
            if _numel(t):
                self.comm.recv(t, src)
        return out

    def _dst(self, dst):
        return (self.rank_in_group + 1) % self.world_size if dst is None else dst

    def _src(self, src):
        return (self.rank_in_group - 1) % self.world_size if src is None else src

    def destroy(self):
        self.comm.destroy()


# ---- dim-wise gather / reduce-scatter (shared with the custom ops) ----
def _merge(stacked, dim):
    """(world, *shape) -> shape with dim multiplied by world, blocks in rank order."""
    world = stacked.shape[0]
    shape = tuple(stacked.shape[1:])
    if dim == 0:
        return stacked.reshape((world * shape[0],) + shape[1:])
    moved = stacked.movedim(0, dim)
    return moved.reshape(shape[:dim] + (world * shape[dim],) + shape[dim + 1:])


def all_gather_dim(comm, tensor, dim=-1):
    torch = torch_module()
    dim = dim % tensor.dim()
    t = tensor.contiguous()
    out = torch.empty((comm.size,) + tuple(t.shape), dtype=t.dtype, device=t.device)
    comm.all_gather(out, t)
    return _merge(out, dim)


def reduce_scatter_dim(comm, tensor, dim=-1, op="sum"):
    torch = torch_module()
    dim = dim % tensor.dim()
    n = comm.size
    if tensor.shape[dim] % n:
        raise InvalidArgument(1, "reduce_scatter: dimension %d of size %d does not split into %d "
                              "ranks" % (dim, tensor.shape[dim], n))
    t = tensor.movedim(dim, 0).contiguous() if dim else tensor.contiguous()
    out = torch.empty((t.shape[0] // n,) + tuple(t.shape[1:]), dtype=t.dtype, device=t.device)
    comm.reduce_scatter(out, t, op=op)
    return out.movedim(0, dim).contiguous() if dim else out


# ---- tensor dict metadata ----
def _numel(t):
    return t.numel() if _is_torch(t) else t.size


def _split_dict(d):
    meta, tensors = [], []
    for k, v in d.items():
        if _is_torch(v):
            meta.append((k, "torch", str(v.dtype).replace("torch.", ""), tuple(v.shape),
                         "cuda" if v.is_cuda else "cpu"))
            tensors.append(v.contiguous())
        elif _is_numpy(v):
            meta.append((k, "numpy", v.dtype.str, v.shape, "cpu"))
            tensors.append(v if v.flags.c_contiguous else __import__("numpy").ascontiguousarray(v))
        else:
            meta.append((k, "value", v))
    return meta, tensors


def _default_device():
    torch = torch_module()
    return "cuda:%d" % torch.cuda.current_device()


def _alloc_dict(meta):
    out, tensors = {}, []
    for m in meta:
        k, kind = m[0], m[1]
        if kind == "value":
            out[k] = m[2]
            continue
        if kind == "torch":
            torch = torch_module()
            dev = _default_device() if m[4] == "cuda" else "cpu"
            t = torch.empty(m[3], dtype=getattr(torch, m[2]), device=dev)
        else:
            import numpy
            t = numpy.empty(m[3], dtype=numpy.dtype(m[2]))
        out[k] = t
        tensors.append(t)
    return out, tensors


# ---- module state (vLLM's parallel_state) ----
_WORLD = _TP = _PP = _DP = _EP = None


def initialize_model_parallel(tensor=1, pipeline=1, data=1, expert=None, world=None, device=None,
                              tensor_model_parallel_size=None, pipeline_model_parallel_size=None):
    """Builds the TP, PP, DP and EP groups over world (default: tacl.init()) with vLLM's
    layout; world = ext * data * pipeline * tensor; expert (default data * tensor, vLLM's EP
    group) must divide data * tensor. device: the CUDA device whose device communicators are
    created now for every group (default: torch's current device when CUDA is available and
    this host has a GPU for each of its ranks; -1 for none: then they are created on first use,
    which is collective over the group)."""
    global _WORLD, _TP, _PP, _DP, _EP
    if tensor_model_parallel_size is not None:
        tensor = tensor_model_parallel_size
    if pipeline_model_parallel_size is not None:
        pipeline = pipeline_model_parallel_size
    w = world or _comm.init()
    groups = {}
    for kind in (TP, PP, DP, EP):
        color, key, ranks = layout(w.size, tensor, pipeline, data, expert, w.rank, kind)
        c = w.split(color, key)
        groups[kind] = Group(c, ranks, KIND_NAMES[kind])
    _WORLD = Group(w, list(range(w.size)), "world")
    _TP, _PP, _DP, _EP = groups[TP], groups[PP], groups[DP], groups[EP]
    torch = sys.modules.get("torch")  # a program without torch never pays for importing it
    if (device is None and torch is not None and torch.cuda.is_available()
            and torch.cuda.device_count() >= w.local_size):
        device = torch.cuda.current_device()
    if device is not None and device >= 0:
        for g in (_WORLD, _TP, _PP, _DP, _EP):
            if g.world_size > 1:
                g.comm.device_comm(device)
    if torch is not None:
        from . import _ops
        _ops.register()
    return _TP, _PP, _DP, _EP


def model_parallel_is_initialized():
    return _TP is not None


def _need(g, what):
    if g is None:
        raise InvalidArgument(1, "%s group is not initialized (call "
                              "tacl.parallel.initialize_model_parallel first)" % what)
    return g


def get_world_group():
    return _need(_WORLD, "world")


def get_tp_group():
    return _need(_TP, "tensor model parallel")


def get_pp_group():
    return _need(_PP, "pipeline model parallel")


def get_dp_group():
    return _need(_DP, "data parallel")


def get_ep_group():
    return _need(_EP, "expert parallel")


get_tensor_model_parallel_group = get_tp_group
get_pipeline_model_parallel_group = get_pp_group


def get_tensor_model_parallel_world_size():
    return get_tp_group().world_size


def get_tensor_model_parallel_rank():
    return get_tp_group().rank_in_group


def get_pipeline_model_parallel_world_size():
    return get_pp_group().world_size


def get_pipeline_model_parallel_rank():
    return get_pp_group().rank_in_group


def tensor_model_parallel_all_reduce(t):
    return get_tp_group().all_reduce(t)


def tensor_model_parallel_all_gather(t, dim=-1):
    return get_tp_group().all_gather(t, dim)


def tensor_model_parallel_reduce_scatter(t, dim=-1):
    return get_tp_group().reduce_scatter(t, dim)


def tensor_model_parallel_gather(t, dst=0, dim=-1):
    return get_tp_group().gather(t, dst, dim)


def destroy_model_parallel():
    """Destroys the TP, PP, DP and EP communicators (the world one stays)."""
    global _WORLD, _TP, _PP, _DP, _EP
    for g in (_EP, _DP, _PP, _TP):
        if g is not None:
            g.destroy()
    _WORLD = _TP = _PP = _DP = _EP = None
