"""Data-parallel training over MPI, with Horovod's model (``import corenn.distributed as hvd``).

    import corenn, corenn.distributed as dist
    dist.init()                                   # optional: every call below initializes
    with dist.DataParallel():                     # fit is distributed, nothing else changes
        model.fit(x, y, batch_size=128, epochs=5) # batch_size is the global batch

Launch ``mpirun -n 4 python train.py`` (or ``srun`` under Slurm). Each rank runs the whole
script; fit gives each rank a disjoint shard of every global batch, the gradients are averaged
in buckets while the backward pass runs (reducer.py), and only rank 0 prints and writes files.
A GradientTape loop uses ``DistributedOptimizer(opt)`` and ``broadcast_weights(model)``.

mpi4py is imported by the first call, never by ``import corenn``; without it every call raises
ImportError naming the ``distributed`` extra.
"""
from __future__ import annotations

import numpy as np

from . import _mpi
from ._mpi import init, local_rank, local_size, rank, size
from .data_parallel import DataParallel
from .reducer import DEFAULT_BUCKET_BYTES, GradientReducer
from .sharding import global_batch_shards, shard_range

__all__ = ["init", "rank", "size", "local_rank", "local_size", "broadcast_weights", "allreduce",
           "barrier", "DistributedOptimizer", "DataParallel", "shard_range", "global_batch_shards"]

_OPS = ("average", "sum", "min", "max")


def barrier():
    """Wait until every rank gets here (with the failure timeout)."""
    _mpi.wait([_mpi.comm().Ibarrier()], "barrier")


def allreduce(value, op="average"):
    """``value`` (a Tensor or array, the same shape on every rank) reduced over the ranks with
    ``op`` in 'average', 'sum', 'min', 'max'; returns a new array (a Tensor for a Tensor)."""
    from .. import kernels
    if op not in _OPS:
        raise ValueError(f"allreduce: op must be one of {_OPS}, got {op!r}")
    MPI = _mpi.mpi()
    is_tensor = isinstance(value, kernels.Tensor)
    send = np.array(value, copy=True, order="C")
    if send.dtype.kind not in "fiu":
        raise TypeError(f"allreduce: needs a numeric array, got dtype {send.dtype}")
    world = _mpi.comm()
    shapes = [tuple(s) for s in _mpi.allgather_json(list(send.shape), "allreduce (shapes)")]
    if any(s != send.shape for s in shapes):
        raise ValueError(f"allreduce: the ranks hold different shapes {shapes}; every rank must pass "
                         "the same shape")
    out = np.empty_like(send)
    mpi_op = {"average": MPI.SUM, "sum": MPI.SUM, "min": MPI.MIN, "max": MPI.MAX}[op]
    _mpi.wait([world.Iallreduce(send, out, op=mpi_op)], f"allreduce({op})")
    if op == "average":
        out = out / world.Get_size() if out.dtype.kind == "f" else out // world.Get_size()
        out = out.astype(send.dtype, copy=False)
    return kernels.as_tensor(out) if is_tensor else out


def _named_weights(model):
    """[(description, Tensor)] of every weight of ``model`` in model.weights order."""
    named, seen = [], set()
    for layer in model._weight_layers():
        for j, w in enumerate(layer.weights):
            if id(w) not in seen:
                seen.add(id(w))
                named.append((f"layer '{layer.name}' weight {j}", w))
    return named


def _first_difference(mine, theirs):
    """The first weight whose shape differs (names may differ: layers are named by a per-process
    counter), or a count mismatch; None when the models match."""
    for i, (a, b) in enumerate(zip(mine, theirs)):
        if a[1] != b[1]:
            return f"weight #{i}: {a[0]} of shape {a[1]} vs {b[0]} of shape {b[1]}"
    if len(mine) != len(theirs):
        return f"{len(mine)} weights vs {len(theirs)} weights"
    return None


def broadcast_weights(model, root=0):
    """Copy ``model``'s weights and its optimizer's state (when built on ``root``) from rank
    ``root`` to every rank. Raises ValueError on every rank, naming the first difference, when
    the ranks' models differ in weight count, names or shapes."""
    world = _mpi.comm()
    if not 0 <= root < world.Get_size():
        raise ValueError(f"broadcast_weights: root must be in [0, {world.Get_size()}), got {root}")
    named = _named_weights(model)
    signature = [[name, [int(d) for d in w.shape]] for name, w in named]
    everyone = [[(name, tuple(shape)) for name, shape in sig]
                for sig in _mpi.allgather_json(signature, "broadcast_weights (model signature)")]
    for r, theirs in enumerate(everyone):
        diff = _first_difference(everyone[root], theirs)
        if diff is not None:
            raise ValueError(f"broadcast_weights: the model on rank {r} differs from rank {root}'s "
                             f"(first difference: {diff} on rank {root} vs rank {r}); every rank must build "
                             "the same model")
    _bcast_arrays([np.asarray(w) for _, w in named], root, "broadcast_weights (weights)")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "build"):
        return
    built = _mpi.allgather_json(bool(optimizer.built), "broadcast_weights (optimizer built)")
    if not built[root]:
        return
    if not optimizer.built:
        optimizer.build(model.trainable_weights)
    variables = [np.asarray(t) for t in optimizer._state_variables]
    shapes = _mpi.allgather_json([list(v.shape) for v in variables], "broadcast_weights (optimizer shapes)")
    if any(s != shapes[root] for s in shapes):
        raise ValueError(f"broadcast_weights: the optimizer state differs between ranks (shapes per rank: "
                         f"{[len(s) for s in shapes]} variables); build the same optimizer on every rank")
    iterations = np.array([optimizer.iterations], np.int64)
    _bcast_arrays(variables + [iterations], root, "broadcast_weights (optimizer)")
    optimizer.iterations = int(iterations[0])


def _bcast_arrays(arrays, root, what):
    world = _mpi.comm()
    requests = []
    for a in arrays:
        if not a.flags.c_contiguous:
            raise ValueError(f"{what}: a weight is not contiguous")
        requests.append(world.Ibcast(a, root=root))
    _mpi.wait(requests, what)


class _Distributed:
    """Mixed in front of an optimizer class: gradients are summed over the ranks (weighted, see
    GradientReducer) before the wrapped class applies them."""

    def apply_unscaled(self, grads, trainable_variables=None):
        # apply (a loss_scale_factor's division) and fit's unscaled step both end here
        from .. import kernels
        # (a float64 array stays float64: reduced in float64 buckets)
        grads = [g if g is None or isinstance(g, kernels.Tensor) else
                 np.array(g, np.float64 if np.asarray(g).dtype == np.float64 else np.float32, order="C")
                 for g in grads]
        self._reducer.reduce(grads)
        return super().apply_unscaled(grads, trainable_variables)


_CLASSES = {}


def DistributedOptimizer(optimizer, bucket_bytes=DEFAULT_BUCKET_BYTES, overlap=True):
    """``optimizer`` whose ``apply`` / ``apply_gradients`` average the gradients over the ranks
    first (Horovod's DistributedOptimizer). Returns a new optimizer of a subclass with the same
    class name (so configs and saved models name the original class), sharing the state Tensors
    of ``optimizer``; use the returned one. Works in a GradientTape loop and in ``fit``."""
    from ..optimizers import get as _get_optimizer
    optimizer = _get_optimizer(optimizer)
    if isinstance(optimizer, _Distributed):
        return optimizer
    base = type(optimizer)
    cls = _CLASSES.get(base)
    if cls is None:
        cls = _CLASSES[base] = type(base.__name__, (_Distributed, base),
                                    {"__module__": base.__module__, "__qualname__": base.__qualname__})
    dist = object.__new__(cls)
    dist.__dict__.update(optimizer.__dict__)
    dist._reducer = GradientReducer(bucket_bytes, overlap)
    init()
    return dist
