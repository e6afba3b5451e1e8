"""More of TensorFlow 2's top-level names (``import corenn as tf``): assertions, space/batch
reshuffles, dynamic_partition / dynamic_stitch, edit_distance, IndexedSlices, the variable
enums, tensor protos, eig / matrix_square_root, and the graph-mode names that TensorFlow itself
refuses eagerly (tf.hessians raises as TensorFlow 2 does; tf.gradients runs inside a tf.function
or train_step that calls it, autodiff._GraphTape, and raises eagerly as TensorFlow 2 does).

The reshuffles (space_to_batch, batch_to_space, dynamic_partition, dynamic_stitch) are written
with recorded ops (pad, reshape, transpose, slice, gather), so gradients flow as in TensorFlow.
"""
from __future__ import annotations

import enum

import numpy as np

from . import ops
from .debugging import InvalidArgumentError, assert_equal, assert_rank  # noqa: F401
from .debugging import assert_greater, assert_less  # noqa: F401
from .kernels import Tensor, TensorShape

__all__ = ["Assert", "assert_equal", "assert_greater", "assert_less", "assert_rank", "as_string",
           "batch_to_space", "space_to_batch", "space_to_batch_nd", "dynamic_partition", "dynamic_stitch",
           "edit_distance", "group", "no_op", "identity_n", "histogram_fixed_width_bins", "hessians",
           "gradients", "grad_pass_through", "broadcast_dynamic_shape", "broadcast_static_shape", "bitcast",
           "fingerprint", "IndexedSlices", "VariableAggregation", "VariableSynchronization", "inside_function",
           "get_current_name_scope", "make_ndarray", "make_tensor_proto", "eig", "eigvals", "matrix_square_root",
           "TensorProto", "RaggedTensor"]

from .strings import RaggedTensor  # noqa: E402  (tf.RaggedTensor: corenn's one-level ragged rows)


def Assert(condition, data, summarize=None, name=None):  # noqa: N802 - TensorFlow's name
    """Raises InvalidArgumentError listing ``data`` when ``condition`` is not all true."""
    from .config import _debug_ops_stripped
    if not bool(np.all(np.asarray(condition))) and not _debug_ops_stripped():
        shown = [np.asarray(d).reshape(-1)[:summarize or 3].tolist() if not isinstance(d, str) else d for d in data]
        raise InvalidArgumentError(f"assertion failed: {shown}")


def as_string(input, precision=-1, scientific=False, shortest=False, width=-1, fill="", name=None):  # noqa: A002
    from .strings import as_string as _as
    return _as(input, precision=precision, scientific=scientific, shortest=shortest, width=width, fill=fill)


def _block_args(op, x, block_shape, pairs, pairs_name):
    t = ops._to_tensor(x)
    block = np.asarray(block_shape, np.int64).reshape(-1)
    m = block.size
    pr = np.asarray(pairs, np.int64).reshape(m, 2) if m else np.zeros((0, 2), np.int64)
    if m == 0 or t.ndim < m + 1:
        raise ValueError(f"tf.{op}: block_shape {block.tolist()} needs an input of rank >= {m + 1}, got shape "
                         f"{tuple(t.shape)}")
    if (block < 1).any() or (pr < 0).any():
        raise ValueError(f"tf.{op}: block_shape must be >= 1 and {pairs_name} >= 0, got {block.tolist()} and "
                         f"{pr.tolist()}")
    return t, block, pr


def space_to_batch_nd(input, block_shape, paddings, name=None):  # noqa: A002
    """Zero-pads the spatial axes 1..M of ``input`` (B, S1..SM, rest) by ``paddings`` (M, 2),
    cuts them into ``block_shape`` blocks and moves the block offsets into the batch:
    output (prod(block) * B, (S_i + pads) / b_i ..., rest), batch index = offset * B + b."""
    t, block, pads = _block_args("space_to_batch_nd", input, block_shape, paddings, "paddings")
    m = block.size
    full = [(0, 0)] + [tuple(int(v) for v in p) for p in pads] + [(0, 0)] * (t.ndim - m - 1)
    if pads.any():
        t = ops.pad(t, full)
    shp = [int(d) for d in t.shape]
    for i in range(m):
        if shp[1 + i] % block[i]:
            raise ValueError(f"tf.space_to_batch_nd: padded spatial size {shp[1 + i]} of axis {1 + i} is not a multiple "
                             f"of block size {int(block[i])}")
    b, rest = shp[0], shp[1 + m:]
    split = [b]
    for i in range(m):
        split += [shp[1 + i] // int(block[i]), int(block[i])]
    t = ops.reshape(t, split + rest)
    perm = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)] + list(range(1 + 2 * m, 1 + 2 * m + len(rest)))
    t = ops.transpose(t, perm)
    return ops.reshape(t, [b * int(np.prod(block))] + [shp[1 + i] // int(block[i]) for i in range(m)] + rest)


def space_to_batch(input, block_shape, paddings, name=None):  # noqa: A002
    return space_to_batch_nd(input, block_shape, paddings)


def batch_to_space(input, block_shape, crops, name=None):  # noqa: A002
    """The inverse of space_to_batch_nd: batch (prod(block) * B, S1..SM, rest) -> (B, S_i * b_i
    - crops, rest)."""
    t, block, crops = _block_args("batch_to_space", input, block_shape, crops, "crops")
    m = block.size
    shp = [int(d) for d in t.shape]
    nb = int(np.prod(block))
    if shp[0] % nb:
        raise ValueError(f"tf.batch_to_space: batch size {shp[0]} is not a multiple of prod(block_shape) = {nb}")
    b, rest = shp[0] // nb, shp[1 + m:]
    t = ops.reshape(t, [int(v) for v in block] + [b] + shp[1:])
    perm = [m]
    for i in range(m):
        perm += [m + 1 + i, i]
    perm += list(range(2 * m + 1, 2 * m + 1 + len(rest)))
    t = ops.transpose(t, perm)
    sizes = [shp[1 + i] * int(block[i]) for i in range(m)]
    t = ops.reshape(t, [b] + sizes + rest)
    if crops.any():
        if any(int(crops[i].sum()) > sizes[i] for i in range(m)):
            raise ValueError(f"tf.batch_to_space: crops {crops.tolist()} exceed the sizes {sizes}")
        start = [0] + [int(c[0]) for c in crops] + [0] * len(rest)
        size = [b] + [sizes[i] - int(crops[i].sum()) for i in range(m)] + rest
        t = ops.slice(t, start, size)
    return t


def dynamic_partition(data, partitions, num_partitions, name=None):
    """[data[partitions == i] for i in range(num_partitions)]; partitions' shape is a prefix of
    data's. Differentiable (each piece is a gather of data's rows)."""
    t = ops._to_tensor(data)
    p = np.asarray(partitions).astype(np.int64)
    if tuple(t.shape[:p.ndim]) != p.shape:
        raise ValueError(f"tf.dynamic_partition: partitions of shape {p.shape} must be a prefix of data's shape "
                         f"{tuple(t.shape)}")
    n = int(num_partitions)
    if p.size and (p.min() < 0 or p.max() >= n):
        raise InvalidArgumentError(f"tf.dynamic_partition: partitions must lie in [0, {n}), got "
                                   f"{int(p.min())}..{int(p.max())}")
    rows = ops.reshape(t, [p.size] + [int(d) for d in t.shape[p.ndim:]])
    flat = p.reshape(-1)
    return [ops.take(rows, np.flatnonzero(flat == i).astype(np.int64), axis=0) for i in range(n)]


def dynamic_stitch(indices, data, name=None):
    """merged[indices[m][i]] = data[m][i]; where an index repeats the later (m, i) wins; rows no
    index names are zeros. Differentiable with respect to every data."""
    idx = [np.asarray(i).astype(np.int64) for i in indices]
    ts = [ops._to_tensor(d) for d in data]
    if len(idx) != len(ts) or not idx:
        raise ValueError(f"tf.dynamic_stitch: needs as many indices as data (>= 1), got {len(idx)} and {len(ts)}")
    inner = None
    for i, t in zip(idx, ts):
        if tuple(t.shape[:i.ndim]) != i.shape:
            raise ValueError(f"tf.dynamic_stitch: data of shape {tuple(t.shape)} must start with its indices' shape "
                             f"{i.shape}")
        rest = tuple(int(d) for d in t.shape[i.ndim:])
        if inner is not None and rest != inner:
            raise ValueError(f"tf.dynamic_stitch: data element shapes differ: {inner} and {rest}")
        inner = rest
    flat_idx = np.concatenate([i.reshape(-1) for i in idx])
    if flat_idx.size and flat_idx.min() < 0:
        raise InvalidArgumentError("tf.dynamic_stitch: indices must be non-negative")
    n_out = int(flat_idx.max()) + 1 if flat_idx.size else 0
    src = np.full(n_out, -1, np.int64)
    src[flat_idx] = np.arange(flat_idx.size)                 # later writes win
    rows = ops.concatenate([ops.reshape(t, [i.size] + list(inner)) for i, t in zip(idx, ts)], axis=0)
    width = int(np.prod(inner)) if inner else 1
    gather = np.where(src[:, None] >= 0, src[:, None] * width + np.arange(width)[None, :], -1)
    out = ops._gather_flat(ops.reshape(rows, [-1]), gather.reshape(-1))
    return ops.reshape(out, [n_out] + list(inner))


def _levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


def edit_distance(hypothesis, truth, normalize=True, name="edit_distance"):
    """Levenshtein distances between the sequences of two SparseTensors (the last axis is the
    sequence, the others index it); normalized by the truth's length (inf for an empty truth and
    a non-empty hypothesis). Output shape: the larger of the two dense shapes without the last."""
    from .sparse import SparseTensor
    if not isinstance(hypothesis, SparseTensor) or not isinstance(truth, SparseTensor):
        raise TypeError("tf.edit_distance: hypothesis and truth must be SparseTensors")
    if len(hypothesis.dense_shape) != len(truth.dense_shape):
        raise ValueError(f"tf.edit_distance: ranks differ: {hypothesis.shape} and {truth.shape}")
    out_shape = tuple(int(max(a, b)) for a, b in zip(hypothesis.dense_shape[:-1], truth.dense_shape[:-1]))

    def groups(sp):
        seqs = {}
        order = np.lexsort(sp.indices.T[::-1]) if len(sp.indices) else np.zeros(0, int)
        for r in order:
            seqs.setdefault(tuple(sp.indices[r, :-1].tolist()), []).append(sp.values[r].item()
                                                                            if hasattr(sp.values[r], "item") else sp.values[r])
        return seqs
    hs, ts = groups(hypothesis), groups(truth)
    out = np.zeros(out_shape, np.float32)
    for key in np.ndindex(*out_shape):
        h, t = hs.get(key, []), ts.get(key, [])
        d = float(_levenshtein(h, t))
        if normalize:
            d = d / len(t) if t else (np.inf if h else 0.0)
        out[key] = d
    return Tensor.from_numpy(out)


def group(*inputs, **kwargs):
    """Every input has already run eagerly: nothing to group (TensorFlow returns an op)."""
    return None


def no_op(name=None):
    return None


def identity_n(input, name=None):  # noqa: A002
    from ._tf_api import identity
    return [identity(x) for x in input]


def histogram_fixed_width_bins(values, value_range, nbins=100, dtype="int32", name=None):
    """The bin index of each value for nbins equal bins over value_range (values outside land in
    the first / last bin)."""
    v = np.asarray(values, np.float64)
    lo, hi = (float(r) for r in np.asarray(value_range, np.float64).reshape(2))
    if not hi > lo:
        raise ValueError(f"tf.histogram_fixed_width_bins: value_range must be increasing, got [{lo}, {hi}]")
    n = int(nbins)
    if n < 1:
        raise ValueError(f"tf.histogram_fixed_width_bins: nbins must be positive, got {n}")
    b = np.clip(np.floor((v - lo) / (hi - lo) * n), 0, n - 1).astype(str(dtype))
    return Tensor.from_numpy(np.asarray(b, order="C"))


def gradients(ys, xs, grad_ys=None, name="gradients", gate_gradients=False, aggregation_method=None,
              stop_gradients=None, unconnected_gradients=None):
    """TensorFlow 2's ``tf.gradients(ys, xs)``: a list, for each x, of the sum over ys of
    d y / d x (``grad_ys`` seeds them), where TensorFlow builds a graph: inside a
    ``@tf.function`` or a ``train_step`` / ``test_step`` whose code calls it (autodiff._GraphTape:
    the function's computation is recorded and differentiated, differentiably, so a loss made
    of these gradients trains to second order). Elsewhere RuntimeError, as TensorFlow 2 raises
    in eager code."""
    if stop_gradients is not None:
        raise NotImplementedError("tf.gradients: stop_gradients is not supported in corenn; apply "
                                  "tf.stop_gradient to those tensors where they are computed")
    from .autodiff import graph_gradients
    return graph_gradients(ys, xs, grad_ys, unconnected_gradients)


def hessians(ys, xs, name="hessians", colocate_gradients_with_ops=False, gate_gradients=False,
             aggregation_method=None):
    raise RuntimeError("tf.hessians is not supported when eager execution is enabled (as in TensorFlow 2). "
                       "Use nested tf.GradientTape()s and tape.jacobian instead.")


def grad_pass_through(f):
    """``grad_pass_through(f)(x)`` is f(x) forward with the identity as its gradient (the
    straight-through estimator): x + stop_gradient(f(x) - x)."""
    def wrapped(x, *args, **kwargs):
        t = ops._to_tensor(x)
        y = ops._to_tensor(f(t, *args, **kwargs))
        return ops.add(t, ops.stop_gradient(ops.subtract(y, t)))
    return wrapped


def _shape_list(s, op):
    if isinstance(s, TensorShape) or isinstance(s, (list, tuple)):
        return [None if d is None else int(d) for d in s]
    return [int(d) for d in np.asarray(s).reshape(-1)]


def _broadcast(op, a, b):
    out = []
    for i in range(max(len(a), len(b))):
        x = a[len(a) - 1 - i] if i < len(a) else 1
        y = b[len(b) - 1 - i] if i < len(b) else 1
        if x == 1 or x is None and y not in (None, 1):
            out.append(y)
        elif y == 1 or y is None or x == y:
            out.append(x)
        else:
            raise ValueError(f"tf.{op}: incompatible shapes: {a} and {b}")
    return out[::-1]


def broadcast_dynamic_shape(shape_x, shape_y):
    """The broadcast of two shapes given as 1-D integer tensors (an int32 Tensor)."""
    out = _broadcast("broadcast_dynamic_shape", _shape_list(shape_x, ""), _shape_list(shape_y, ""))
    dt = np.int64 if isinstance(shape_x, (np.ndarray, Tensor)) and np.asarray(shape_x).dtype == np.int64 else np.int32
    return Tensor.from_numpy(np.asarray(out, dt))


def broadcast_static_shape(shape_x, shape_y):
    """The broadcast of two TensorShapes (None dimensions allowed)."""
    return TensorShape(_broadcast("broadcast_static_shape", _shape_list(shape_x, ""), _shape_list(shape_y, "")))


def bitcast(input, type, name=None):  # noqa: A002
    """Reinterprets the bytes: the same itemsize keeps the shape; a smaller type adds a last axis
    of ratio; a larger one consumes a last axis of exactly that ratio."""
    from ._tf_api import constant
    a = np.asarray(np.asarray(input), order="C")
    to = np.dtype(str(type))
    if to.itemsize < a.dtype.itemsize:
        out = a.view(to).reshape(a.shape + (a.dtype.itemsize // to.itemsize,))
    elif to.itemsize > a.dtype.itemsize:
        r = to.itemsize // a.dtype.itemsize
        if a.ndim == 0 or a.shape[-1] != r:
            raise ValueError(f"tf.bitcast: from {a.dtype} to {to} needs a last axis of {r}, got shape {a.shape}")
        out = a.view(to).reshape(a.shape[:-1])
    else:
        out = a.view(to)
    return constant(out, dtype=str(to))


def fingerprint(data, method="farmhash64", name=None):
    """FarmHash Fingerprint64 of each row of ``data`` (axis 0; a number row's bytes, or a
    string), as (N, 8) uint8 little-endian bytes, as TensorFlow."""
    from .layers._farmhash import fingerprint64
    from .strings import as_string_array, is_string_array
    if str(method) != "farmhash64":
        raise ValueError(f"tf.fingerprint: method must be 'farmhash64', got {method!r}")
    if is_string_array(data) or isinstance(data, (str, bytes)) or (
            isinstance(data, (list, tuple)) and data and isinstance(data[0], (str, bytes))):
        rows = [s.encode() if isinstance(s, str) else bytes(s) for s in as_string_array(data).reshape(-1)]
    else:
        a = np.asarray(np.asarray(data), order="C")
        if a.ndim == 0:
            raise ValueError("tf.fingerprint: data must have at least one axis")
        rows = [r.tobytes() for r in a.reshape(a.shape[0], -1)] if a.shape[0] else []
    out = np.array([list(int(fingerprint64(r)).to_bytes(8, "little")) for r in rows], np.uint8).reshape(-1, 8)
    from ._tf_api import constant
    return constant(out, dtype="uint8")


class IndexedSlices:
    """``IndexedSlices(values, indices, dense_shape)``: rows ``values[i]`` of a dense tensor at
    rows ``indices[i]`` (repeated indices add up), the form TensorFlow gives for a gather's
    gradient. Converts to the dense Tensor wherever a tensor is expected (``np.asarray``,
    ``tf.convert_to_tensor``, optimizers)."""

    def __init__(self, values, indices, dense_shape=None):
        self.values = ops._to_tensor(values)
        self.indices = np.asarray(indices).astype(np.int64).reshape(-1)
        if self.values.ndim == 0 or int(self.values.shape[0]) != self.indices.size:
            raise ValueError(f"IndexedSlices: values of shape {tuple(self.values.shape)} need one row per index "
                             f"({self.indices.size})")
        if dense_shape is None:
            n = int(self.indices.max()) + 1 if self.indices.size else 0
            dense_shape = (n,) + tuple(int(d) for d in self.values.shape[1:])
        self.dense_shape = tuple(int(d) for d in np.asarray(dense_shape).reshape(-1))
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= self.dense_shape[0]):
            raise ValueError(f"IndexedSlices: indices must lie in [0, {self.dense_shape[0]})")

    @property
    def shape(self):
        return TensorShape(self.dense_shape)

    @property
    def dtype(self):
        return self.values.dtype

    def to_dense(self):
        """The dense Tensor (differentiable in values): the scatter-add of the rows."""
        width = int(np.prod(self.dense_shape[1:])) if len(self.dense_shape) > 1 else 1
        flat = (self.indices[:, None] * width + np.arange(width)[None, :]).reshape(-1)
        dense = ops._scatter_flat(ops.reshape(self.values, [-1]), flat, (int(np.prod(self.dense_shape)),))
        return ops.reshape(dense, list(self.dense_shape))

    def __array__(self, dtype=None, copy=None):
        a = np.asarray(self.to_dense())
        return a if dtype is None else a.astype(dtype)

    def __repr__(self):
        return f"IndexedSlices(indices={self.indices.tolist()}, values={self.values!r}, dense_shape={self.dense_shape})"


class VariableAggregation(enum.IntEnum):
    NONE = 0
    SUM = 1
    MEAN = 2
    ONLY_FIRST_REPLICA = 3


class VariableSynchronization(enum.IntEnum):
    AUTO = 0
    NONE = 1
    ON_WRITE = 2
    ON_READ = 3


def inside_function():
    """False: corenn runs eagerly, also inside tf.function."""
    return False


def get_current_name_scope():
    """The names of the enclosing tf.name_scope blocks joined by '/' ('' outside any)."""
    from ._tf_control import _scope_stack
    return "/".join(_scope_stack())


class TensorProto:
    """A minimal stand-in for TensorFlow's TensorProto (no protobuf): dtype, tensor_shape (a
    list of ints) and the values (kept as a NumPy array; ``tensor_content`` its bytes)."""

    def __init__(self, array):
        self._array = np.asarray(array, order="C")
        self.dtype = str(self._array.dtype) if self._array.dtype.kind not in "OUS" else "string"
        self.tensor_shape = list(self._array.shape)

    @property
    def tensor_content(self):
        return self._array.tobytes() if self.dtype != "string" else b""

    def __repr__(self):
        return f"TensorProto(dtype={self.dtype}, tensor_shape={self.tensor_shape})"


def make_tensor_proto(values, dtype=None, shape=None, verify_shape=False, allow_broadcast=False):
    """A TensorProto of ``values`` (dtype converts; shape reshapes, or fills from a scalar)."""
    a = np.asarray(values, dtype=None if dtype is None else str(dtype))
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        if a.size == 1 and not verify_shape:
            a = np.full(shape, a.reshape(-1)[0], a.dtype)
        elif a.size == int(np.prod(shape)) and not verify_shape:
            a = a.reshape(shape)
        elif a.shape != shape:
            raise TypeError(f"tf.make_tensor_proto: expected shape {shape}, got {a.shape}")
    return TensorProto(a)


def make_ndarray(tensor):
    """The NumPy array of a TensorProto (or of a Tensor)."""
    if isinstance(tensor, TensorProto):
        return tensor._array.copy()
    return np.asarray(tensor).copy()


def eig(tensor, name=None):
    """(eigenvalues, eigenvectors) of square matrices, as corenn's complex pairs."""
    return ops.eig(tensor)


def eigvals(tensor, name=None):
    return ops.eig(tensor)[0]


def matrix_square_root(input, name=None):  # noqa: A002
    from .linalg import sqrtm
    return sqrtm(input)
