"""Gradient reduction in buckets, started while the backward pass is still running.

The gradients of one step are packed into a few flat float32 buckets (float64 ones for float64
gradients, reduced as MPI doubles) of about ``bucket_bytes``
each (smaller for a small model, so that it has several: bucket_target_bytes). The layout is decided once (per model structure) and is the same on every rank: weights in
the order the backward pass finishes them (the graph's last node first), those only final after
the walk (shared layers, regularized weights, subclassed models) last; a weight never straddles
two buckets. During the backward walk the graph calls ``node_done(k)`` after node k (the hook
``Graph.on_node_backward``); the weights node k made final are scaled into their bucket, and a
bucket whose weights are all in starts a non-blocking ``Iallreduce(SUM)``. ``reduce(grads)``,
called by the optimizer before it applies, fills and starts what is left, waits, and copies the
sums back into the gradient Tensors.

Each rank scales its own gradient by its weight in the global batch (n_local / n_global in a
DataParallel fit, 1 / size for op='average'), so the sum is the gradient of the global batch.
Every element is summed by one collective over a fixed bucket, whatever the moment the bucket was
started, so the result does not depend on timing; and every rank receives the same buffer from
MPI (the MPI standard's advice for allreduce, which Open MPI and MPICH follow), so the weights
stay bit-identical across ranks (tests/distributed checks this).
"""
from __future__ import annotations

import time

import numpy as np

from . import _mpi

DEFAULT_BUCKET_BYTES = 4 << 20
# A model whose gradients fit in one bucket of the cap would get no overlap at all: its one bucket
# is complete only when the walk ends (the first layer's gradient comes last). Such a model is cut
# into about MIN_BUCKETS buckets, none under MIN_BUCKET_BYTES (below that a collective's latency,
# tens of microseconds, costs more than the overlap it buys).
MIN_BUCKETS = 4
MIN_BUCKET_BYTES = 64 << 10


def bucket_target_bytes(total_bytes, cap):
    """The bucket size for ``total_bytes`` of gradients under the cap ``cap`` (the user's
    bucket_bytes): the cap, or for a small model total / MIN_BUCKETS, floored at MIN_BUCKET_BYTES
    (never above the cap)."""
    return min(cap, max(MIN_BUCKET_BYTES, -(-total_bytes // MIN_BUCKETS)))


class ReduceStats:
    """What the reductions cost, summed over steps (the benchmark reads it)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.steps = 0
        self.bytes = 0          # payload per rank, summed over steps
        self.wait_s = 0.0       # time the optimizer spent blocked on the reductions (not hidden)
        self.launch_to_done_s = 0.0   # first bucket started -> last finished (the reduction's span)
        self.buckets = 0        # buckets reduced, summed over steps
        self.buckets_early = 0  # of which started by the backward hook, before the walk ended


class _Plan:
    """The bucket layout for one list of gradients (same on every rank)."""

    def __init__(self, key, shapes, ready_at_node, bucket_bytes, dtypes=None):
        self.key = key
        order = sorted(range(len(shapes)), key=lambda i: (-ready_at_node[i] if ready_at_node[i] is not None
                                                          else 1, i))
        self.buckets, self.bucket_of, self.view_of = [], {}, {}
        dtypes = dtypes or [np.float32] * len(shapes)
        total = sum(np.dtype(d).itemsize * int(np.prod(sh, dtype=np.int64))
                    for sh, d in zip(shapes, dtypes) if sh is not None)
        bucket_bytes = bucket_target_bytes(total, bucket_bytes)
        # a bucket holds one dtype: float32 gradients, and float64 ones (a float64 layer's, or
        # variable's) in float64 buckets reduced as MPI doubles, so their precision is kept
        for dtype in sorted({np.dtype(d) for d in dtypes}, key=lambda d: d.itemsize):
            members, nbytes = [], 0
            for i in order:
                if shapes[i] is None or np.dtype(dtypes[i]) != dtype:
                    continue
                size = int(np.prod(shapes[i], dtype=np.int64)) * dtype.itemsize
                if members and nbytes + size > bucket_bytes:
                    self._add_bucket(members, shapes, dtype)
                    members, nbytes = [], 0
                members.append(i)
                nbytes += size
            if members:
                self._add_bucket(members, shapes, dtype)
        self.ready_at = {}
        for i, k in enumerate(ready_at_node):
            if k is not None and shapes[i] is not None:
                self.ready_at.setdefault(k, []).append(i)
        self.nbytes = sum(b.nbytes for b, _ in self.buckets)

    def _add_bucket(self, members, shapes, dtype=np.float32):
        sizes = [int(np.prod(shapes[i], dtype=np.int64)) for i in members]
        buf = np.empty(sum(sizes), dtype)
        lo = 0
        for i, n in zip(members, sizes):
            self.view_of[i] = buf[lo:lo + n]
            self.bucket_of[i] = len(self.buckets)
            lo += n
        self.buckets.append((buf, members))


class GradientReducer:
    """Sums (weighted) gradients over the ranks in buckets; see the module docstring.

    bucket_bytes: the largest bucket (a model with fewer gradient bytes than MIN_BUCKETS buckets of
    it gets smaller ones: bucket_target_bytes); overlap: start buckets from the backward hook (False: all of
    them after the backward pass, for comparison).
    """

    def __init__(self, bucket_bytes=DEFAULT_BUCKET_BYTES, overlap=True):
        bucket_bytes = int(bucket_bytes)
        if bucket_bytes <= 0:
            raise ValueError(f"GradientReducer: bucket_bytes must be > 0, got {bucket_bytes}")
        self.bucket_bytes, self.overlap = bucket_bytes, bool(overlap)
        self.scale = None       # this rank's weight in the next step's sum; None: 1 / size
        self.stats = ReduceStats()
        self._model = None      # a graph model whose backward calls node_done
        self._ready_cache = None
        self._plan = None
        self._reset_step()

    # -- the step's state ---------------------------------------------------------------------

    def _reset_step(self):
        self._grads = None          # the gradient Tensors of the plan (graph hook only)
        self._filled = {}           # bucket -> weights copied in
        self._requests = []         # (bucket, request)
        self._started = set()
        self._first_launch = None
        self._last_node = None

    def attach(self, model):
        """Watch ``model``'s backward walk (graph models): install the hook; detach() removes it."""
        self._model = model
        self._ready_cache = None    # (graph, its length, gradient_ready_nodes) for this fit
        graph = getattr(model, "_graph", None)
        if graph is not None and self.overlap:
            graph.on_node_backward = self.node_done

    def detach(self):
        graph = getattr(self._model, "_graph", None) if self._model is not None else None
        if graph is not None and graph.on_node_backward == self.node_done:
            graph.on_node_backward = None
        self._drain()
        self._model = None

    # -- the backward hook --------------------------------------------------------------------

    def node_done(self, k):
        plan, grads = self._plan, self._grads
        if plan is None or grads is None:
            return          # the first step builds the plan in reduce()
        if self._last_node is not None and k >= self._last_node:
            self._drain()   # a backward pass that no optimizer step followed: start over
            self._grads = grads
        self._last_node = k
        for i in plan.ready_at.get(k, ()):
            self._fill(plan, grads, i)
        if self._requests:  # let MPI progress the buckets in flight (Open MPI progresses in calls)
            _mpi.mpi().Request.Testall([r for _, r in self._requests])

    def _fill(self, plan, grads, i):
        b = plan.bucket_of[i]
        np.multiply(np.asarray(grads[i]).reshape(-1), self._scale(), out=plan.view_of[i])
        count = self._filled[b] = self._filled.get(b, 0) + 1
        if count == len(plan.buckets[b][1]):
            self._launch(plan, b, early=True)

    def _scale(self):
        # a Python float: NumPy multiplies a float32 bucket in float32 and a float64 one in float64
        return float(1.0 / _mpi.size() if self.scale is None else self.scale)

    def _launch(self, plan, b, early=False):
        MPI = _mpi.mpi()
        self.stats.buckets += 1
        self.stats.buckets_early += early
        if self._first_launch is None:
            self._first_launch = time.perf_counter()
        buf = plan.buckets[b][0]
        kind = MPI.DOUBLE if buf.dtype == np.float64 else MPI.FLOAT
        self._requests.append((b, _mpi.comm().Iallreduce(MPI.IN_PLACE, [buf, kind], op=MPI.SUM)))
        self._started.add(b)

    def _drain(self):
        if self._requests:
            _mpi.wait([r for _, r in self._requests], "a gradient bucket")
        self._reset_step()

    # -- the optimizer's side -----------------------------------------------------------------

    def reduce(self, grads):
        """Replace each gradient in ``grads`` (Tensors or float32 arrays; None skipped) by the
        weighted sum over the ranks, in place. Every rank must call it with the same shapes."""
        shapes = [None if g is None else tuple(np.shape(g)) for g in grads]
        dtypes = [np.float64 if g is not None and str(g.dtype) == "float64" else np.float32 for g in grads]
        ready = self._ready_nodes(grads)
        key = (tuple(shapes), tuple(id(g) for g in grads) if any(k is not None for k in ready) else (),
               tuple(d is np.float64 for d in dtypes))
        plan = self._plan
        if plan is None or plan.key != key:
            self._drain()
            plan = self._plan = _Plan(key, shapes, ready, self.bucket_bytes, dtypes)
        for b, (_, members) in enumerate(plan.buckets):
            if b in self._started:
                continue
            # weights the hook did not deliver (final only after the walk, or the first step);
            # a bucket the hook filled in part is copied whole again (the same values)
            scale = self._scale()
            for i in members:
                np.multiply(np.asarray(grads[i]).reshape(-1), scale, out=plan.view_of[i])
            self._launch(plan, b)
        t0 = time.perf_counter()
        _mpi.wait([r for _, r in self._requests], "the gradient reduction")
        t1 = time.perf_counter()
        for i, view in plan.view_of.items():
            np.copyto(np.asarray(grads[i]), view.reshape(shapes[i]))
        st = self.stats
        st.steps += 1
        st.bytes += sum(v.nbytes for v in plan.view_of.values())
        st.wait_s += t1 - t0
        st.launch_to_done_s += t1 - (self._first_launch or t0)
        self._reset_step()
        # the graph hook fills the next step's buckets from these same Tensors
        self._grads = list(grads) if key[1] else None
        return grads

    def _ready_nodes(self, grads):
        """For each gradient, the run index of the graph node after whose backward it is final,
        or None (final only after the walk)."""
        model = self._model
        graph = getattr(model, "_graph", None) if model is not None else None
        if graph is None or not self.overlap:
            return [None] * len(grads)
        cached = self._ready_cache
        if cached is None or cached[0] is not graph or cached[1] != len(graph.run):
            cached = self._ready_cache = (graph, len(graph.run), gradient_ready_nodes(graph))
        at = cached[2]
        return [None if g is None else at.get(id(g)) for g in grads]


def gradient_ready_nodes(graph):
    """{id(gradient Tensor): run index k} for the weights whose gradient is final right after
    node k's backward: layers called once in the graph (a shared layer's gradient is summed over
    its calls after the walk), not regularized (the penalty's gradient is added after the walk),
    on the layer's own gradient Tensors (no per-call contexts)."""
    from ..models.fusion import weights_context
    if graph.own_contexts:
        return {}
    calls = {}
    for s in graph.run:
        calls[id(s.owner)] = calls.get(id(s.owner), 0) + 1
    ready = {}
    for k, s in enumerate(graph.run):
        owner = s.owner
        if calls[id(owner)] != 1 or not owner.trainable or getattr(owner, "_sublayer_attrs", None):
            continue
        ctx = weights_context(s.ctx)
        if ctx is not graph.accumulator.get(id(owner)) or not hasattr(ctx, "_all_params"):
            continue
        for p in ctx._all_params():
            if p.trainable and p.regularizer is None and p.grad is not None:
                ready[id(p.grad)] = k
    return ready
