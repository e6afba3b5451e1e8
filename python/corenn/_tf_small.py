"""More of TensorFlow 2's top-level names (continued from ``_tf_more``): reverse_sequence,
unravel_index, truncatediv / truncatemod, unique_with_counts, saturate_cast, the fftnd family
(also tf.signal's) and other small helpers."""
from __future__ import annotations

import builtins
import collections

import numpy as np

from . import ops
from .debugging import InvalidArgumentError
from .kernels import Tensor

# -- more small top-level names ----------------------------------------------------------------------

__all__ = ["reverse_sequence", "unravel_index", "truncatediv", "truncatemod", "scalar_mul", "shape_n",
            "unique_with_counts", "parallel_stack", "saturate_cast", "timestamp", "guarantee_const",
            "is_symbolic_tensor", "random_index_shuffle", "required_space_to_batch_paddings", "fftnd", "ifftnd",
            "rfftnd", "irfftnd"]


def reverse_sequence(input, seq_lengths, seq_axis=None, batch_axis=0, name=None):  # noqa: A002
    """For each batch entry b, its first seq_lengths[b] slices along seq_axis reversed, the rest
    kept. Differentiable (a gather)."""
    t = ops._to_tensor(input)
    if seq_axis is None:
        raise ValueError("tf.reverse_sequence: seq_axis is required")
    sa, ba = int(seq_axis) % t.ndim, int(batch_axis) % t.ndim
    lens = np.asarray(seq_lengths).astype(np.int64).reshape(-1)
    if sa == ba or lens.size != int(t.shape[ba]):
        raise ValueError(f"tf.reverse_sequence: needs seq_axis != batch_axis and one length per batch entry "
                         f"({int(t.shape[ba])}), got {lens.size}")
    if (lens < 0).any() or (lens > int(t.shape[sa])).any():
        raise ValueError(f"tf.reverse_sequence: seq_lengths must lie in [0, {int(t.shape[sa])}]")

    def index(i):
        pos = np.arange(i.shape[sa])
        shape_b = [1] * i.ndim
        shape_b[ba] = -1
        shape_s = [1] * i.ndim
        shape_s[sa] = -1
        L = lens.reshape(shape_b)
        p = pos.reshape(shape_s)
        src = np.where(p < L, L - 1 - p, p)
        return np.take_along_axis(i, np.broadcast_to(src, i.shape), axis=sa)
    if str(t.dtype).startswith("float"):
        return ops._gather("reverse_sequence", t, index)
    return Tensor.from_numpy(np.asarray(index(np.asarray(t)), order="C"))


def unravel_index(indices, dims, name=None):
    """The coordinates of flat ``indices`` in an array of shape ``dims``: (len(dims),) +
    indices.shape, int32 (or the indices' int64)."""
    idx = np.asarray(indices).astype(np.int64)
    shape = tuple(int(d) for d in np.asarray(dims).reshape(-1))
    if idx.size and (idx.min() < 0 or idx.max() >= int(np.prod(shape))):
        raise InvalidArgumentError(f"tf.unravel_index: indices must lie in [0, {int(np.prod(shape))})")
    out = np.stack(np.unravel_index(idx, shape)) if shape else np.zeros((0,) + idx.shape, np.int64)
    dt = np.int64 if np.asarray(indices).dtype == np.int64 and isinstance(indices, (np.ndarray, Tensor)) else np.int32
    return Tensor.from_numpy(np.asarray(out.astype(dt), order="C"))


def truncatediv(x, y, name=None):
    """Division rounded toward zero (C's), for integers and floats alike (TensorFlow's: 7.5 / 2 is 3,
    -7.5 / 2 is -3); no gradient flows through the rounding."""
    a, b = np.asarray(x), np.asarray(y)
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        if np.any(b == 0):
            raise InvalidArgumentError("tf.truncatediv: integer division by zero")
        q = np.trunc(a.astype(np.float64) / b).astype(np.result_type(a, b))
        from ._tf_api import constant
        return constant(q)
    return ops.trunc(ops.divide(x, y))


def truncatemod(x, y, name=None):
    """The remainder of truncatediv: x - y * trunc(x / y) (the sign of x, as C's fmod)."""
    a, b = np.asarray(x), np.asarray(y)
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        if np.any(b == 0):
            raise InvalidArgumentError("tf.truncatemod: integer division by zero")
        from ._tf_api import constant
        return constant(np.fmod(a, b))
    return ops._binary_np("truncatemod", x, y, np.fmod, lambda A, B, Y: np.ones_like(Y),
                          lambda A, B, Y: -np.trunc(A / B))


def scalar_mul(scalar, x, name=None):
    return ops.multiply(scalar, x)


def shape_n(input, out_type="int32", name=None):  # noqa: A002
    from ._tf_api import constant
    return [constant(np.array(np.shape(np.asarray(t)) if not hasattr(t, "shape") else tuple(t.shape), np.int64),
                     dtype=str(out_type)) for t in input]


def unique_with_counts(x, out_idx="int32", name=None):
    """(y, idx, count): the unique values in order of first appearance, each input's index into
    y, and how often each occurs."""
    a = np.asarray(x).reshape(-1)
    vals, first, inv, counts = np.unique(a, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    from ._tf_api import constant
    y = constant(vals[order]) if a.dtype.kind != "O" else vals[order]
    return UniqueWithCounts(y, constant(rank[inv].astype(str(out_idx))), constant(counts[order].astype(str(out_idx))))


# TensorFlow's result type: a (y, idx, count) tuple that answers .y, .idx and .count
UniqueWithCounts = collections.namedtuple("UniqueWithCounts", ["y", "idx", "count"])


def parallel_stack(values, name="parallel_stack"):
    return ops.stack([ops._to_tensor(v) for v in values], axis=0)


def saturate_cast(value, dtype, name=None):
    """A cast that clips to the target type's range first (no wrap-around)."""
    from ._tf_api import cast
    to = np.dtype(str(dtype))
    if to.kind in "iu":
        info = np.iinfo(to)
        return cast(ops.clip(ops.cast(ops._to_tensor(value), "float32") if np.asarray(value).dtype.kind == "f"
                             else ops._to_tensor(value), float(info.min), float(info.max)), dtype)
    return cast(value, dtype)


def tf_tuple(tensors, control_inputs=None, name=None):
    """``tf.tuple``: the tensors themselves (as a list): eagerly every input has already run.
    (Named tf_tuple here so that this module keeps Python's tuple; corenn exports it as tuple.)"""
    return list(tensors)


def timestamp(name=None):
    """Seconds since the epoch as a float64 NumPy scalar (a float32 Tensor would lose them)."""
    import time
    return np.float64(time.time())


def guarantee_const(input, name=None):  # noqa: A002
    return input


class _IsSymbolicTensor:
    """``tf.is_symbolic_tensor(t)``: True for a KerasTensor (a functional model's symbolic value).
    A callable object, not a function, so that the op wrapping of ``import corenn`` (which turns
    functions called on KerasTensors into graph nodes) leaves it alone."""

    def __call__(self, tensor):
        from .models.graph import KerasTensor
        return isinstance(tensor, KerasTensor)


is_symbolic_tensor = _IsSymbolicTensor()


def random_index_shuffle(index, seed, max_index, rounds=4, name=None):
    """index mapped through a permutation of [0, max_index] fixed by ``seed`` (three ints).
    Seeded NumPy permutation, not TensorFlow's Philox-based values."""
    s = [int(v) & 0xFFFFFFFFFFFFFFFF for v in np.asarray(seed).reshape(-1)]
    perm = np.random.default_rng(s + [int(rounds)]).permutation(int(max_index) + 1)
    idx = np.asarray(index).astype(np.int64)
    from ._tf_api import constant
    return constant(perm[idx], dtype=str(np.asarray(index).dtype) if np.asarray(index).dtype.kind in "iu" else "int64")


def required_space_to_batch_paddings(input_shape, block_shape, base_paddings=None, name=None):
    """(paddings, crops) making input_shape + base paddings divisible by block_shape: the extra
    padding goes at the end, and crops remove it again."""
    shape = np.asarray(input_shape, np.int64).reshape(-1)
    block = np.asarray(block_shape, np.int64).reshape(-1)
    base = np.zeros((shape.size, 2), np.int64) if base_paddings is None else np.asarray(base_paddings, np.int64)
    full = shape + base[:, 0] + base[:, 1]
    extra = (block - full % block) % block
    pads = np.stack([base[:, 0], base[:, 1] + extra], axis=1)
    crops = np.stack([np.zeros_like(extra), extra], axis=1)
    from ._tf_api import constant
    return constant(pads.astype(np.int32)), constant(crops.astype(np.int32))


def _nd_axes(op, t, fft_length, axes):
    ax = list(range(-len(fft_length), 0)) if axes is None and fft_length is not None else \
        (list(range(t.ndim)) if axes is None else [int(a) for a in np.asarray(axes).reshape(-1)])
    n = None if fft_length is None else [int(v) for v in np.asarray(fft_length).reshape(-1)]
    if n is not None and len(n) != len(ax):
        raise ValueError(f"tf.signal.{op}: fft_length {n} and axes {ax} differ in length")
    return ax, n


def _check_norm(op, norm):
    if norm not in (None, "backward"):
        raise ValueError(f"tf.signal.{op}: norm must be None or 'backward', got {norm!r}")


def fftnd(input, fft_length=None, axes=None, norm=None, name=None):  # noqa: A002
    """The FFT over ``axes`` (default all, or the last len(fft_length)), each cropped / padded
    to fft_length."""
    from .signal import _along, _fit, _pair
    _check_norm("fftnd", norm)
    re, im = _pair("fftnd", input)
    ax, n = _nd_axes("fftnd", re, fft_length, axes)
    z = (re, im)
    for i, a in enumerate(ax):
        if n is not None:
            z = (_fit(z[0], a, n[i]), _fit(z[1], a, n[i]))
        z = _along("fftnd", z, a, ops.fft)
    return ops.ComplexPair(z)


def ifftnd(input, fft_length=None, axes=None, norm=None, name=None):  # noqa: A002
    from .signal import _along, _fit, _pair
    _check_norm("ifftnd", norm)
    re, im = _pair("ifftnd", input)
    ax, n = _nd_axes("ifftnd", re, fft_length, axes)
    z = (re, im)
    for i, a in enumerate(ax):
        if n is not None:
            z = (_fit(z[0], a, n[i]), _fit(z[1], a, n[i]))
        z = _along("ifftnd", z, a, ops.ifft)
    return ops.ComplexPair(z)


def rfftnd(input_tensor, fft_length=None, axes=None, norm=None, name=None):
    """The FFT of a real signal over ``axes``, the last one halved (n // 2 + 1)."""
    from .signal import _along, _fit
    _check_norm("rfftnd", norm)
    t = ops.cast(ops._to_tensor(input_tensor), "float32")
    ax, n = _nd_axes("rfftnd", t, fft_length, axes)
    if n is not None:
        for a, m in zip(ax, n):
            t = _fit(t, a, m)
    last = ax[-1] % t.ndim
    moved = ops.moveaxis(t, last, -1) if last != t.ndim - 1 else t
    z = ops.ComplexPair(ops.rfft(moved))
    if last != t.ndim - 1:
        z = ops.ComplexPair((ops.moveaxis(z[0], -1, last), ops.moveaxis(z[1], -1, last)))
    for a in ax[:-1]:
        z = _along("rfftnd", z, a, ops.fft)
    return z


def irfftnd(input_tensor, fft_length=None, axes=None, norm=None, name=None):
    """The real signal whose rfftnd is input_tensor (fft_length gives the output sizes)."""
    from .signal import _along, _fit, _pair
    _check_norm("irfftnd", norm)
    if not isinstance(input_tensor, builtins.tuple):
        raise TypeError("tf.signal.irfftnd: input_tensor must be complex (a (real, imag) pair)")
    re, im = _pair("irfftnd", input_tensor)
    ax, n = _nd_axes("irfftnd", re, fft_length, axes)
    z = (re, im)
    for i, a in enumerate(ax[:-1]):
        if n is not None:
            z = (_fit(z[0], a, n[i]), _fit(z[1], a, n[i]))
        z = _along("irfftnd", z, a, ops.ifft)
    last = ax[-1] % re.ndim
    if last != re.ndim - 1:
        z = (ops.moveaxis(z[0], last, -1), ops.moveaxis(z[1], last, -1))
    out = ops.irfft(z, fft_length=None if n is None else n[-1])
    return ops.moveaxis(out, -1, last) if last != re.ndim - 1 else out


__all__ += ["extract_volume_patches", "approx_top_k", "type_spec_from_value", "SparseTensorSpec", "TypeSpec",
            "RaggedTensorSpec", "IndexedSlicesSpec"]


def extract_volume_patches(input, ksizes, strides, padding, name=None):  # noqa: A002
    """The (kd, kh, kw) patches of an NDHWC input, each flattened (kd, kh, kw, C) into the last
    axis: (N, OD, OH, OW, kd*kh*kw*C); 'SAME' pads with zeros. Differentiable (a gather)."""
    t = ops._to_tensor(input)
    if t.ndim != 5:
        raise ValueError(f"tf.extract_volume_patches: input must be (N, D, H, W, C), got shape {tuple(t.shape)}")
    k = [int(v) for v in np.asarray(ksizes).reshape(-1)]
    s = [int(v) for v in np.asarray(strides).reshape(-1)]
    if len(k) != 5 or len(s) != 5 or k[0] != 1 or k[4] != 1 or s[0] != 1 or s[4] != 1:
        raise ValueError(f"tf.extract_volume_patches: ksizes and strides must be [1, d, h, w, 1], got {k} and {s}")
    n, dims, c = int(t.shape[0]), [int(d) for d in t.shape[1:4]], int(t.shape[4])
    if str(padding).upper() == "VALID":
        out = [(dims[i] - k[1 + i]) // s[1 + i] + 1 for i in range(3)]
        before = [0, 0, 0]
    elif str(padding).upper() == "SAME":
        out = [-(-dims[i] // s[1 + i]) for i in range(3)]
        before = [max((out[i] - 1) * s[1 + i] + k[1 + i] - dims[i], 0) // 2 for i in range(3)]
    else:
        raise ValueError(f"tf.extract_volume_patches: padding must be 'SAME' or 'VALID', got {padding!r}")
    if min(out) < 1:
        raise ValueError(f"tf.extract_volume_patches: the patch {k[1:4]} does not fit the input {dims}")
    coords = []
    for i in range(3):   # (out_i, k_i) input coordinate along axis i
        coords.append(np.arange(out[i])[:, None] * s[1 + i] - before[i] + np.arange(k[1 + i])[None, :])
    dz = coords[0][:, None, None, :, None, None]
    dy = coords[1][None, :, None, None, :, None]
    dx = coords[2][None, None, :, None, None, :]
    ok = (dz >= 0) & (dz < dims[0]) & (dy >= 0) & (dy < dims[1]) & (dx >= 0) & (dx < dims[2])
    cell = (dz * dims[1] + dy) * dims[2] + dx                          # (OD, OH, OW, kd, kh, kw)
    idx = (np.arange(n).reshape((-1,) + (1,) * 7) * int(np.prod(dims)) + cell[None, ..., None]) * c + np.arange(c)
    idx = np.where(ok[None, ..., None], idx, -1)
    flat = ops._gather_flat(ops.reshape(t, [-1]), idx.reshape(-1))
    return ops.reshape(flat, [n] + out + [k[1] * k[2] * k[3] * c])


def approx_top_k(input, k, reduction_dimension=-1, recall_target=0.95, is_max_k=True,  # noqa: A002
                 reduction_input_size_override=-1, aggregate_to_topk=True, name=None):
    """(values, indices) of the k largest (is_max_k) or smallest entries: exact top-k."""
    from ._math_more import _approx_k
    return _approx_k("approx_top_k", input, k, reduction_dimension, bool(is_max_k))


class TypeSpec:
    """The base of corenn's value specs (``tf.TypeSpec``)."""

    def __init__(self, shape=None, dtype="float32", name=None):
        self.shape = None if shape is None else builtins.tuple(None if d is None else int(d) for d in shape)
        self.dtype, self.name = str(dtype), name

    def is_compatible_with(self, other):
        oshape = getattr(other, "shape", None)
        if self.shape is None or oshape is None:
            return True
        oshape = builtins.tuple(oshape)
        return len(oshape) == len(self.shape) and all(a is None or b is None or a == b
                                                      for a, b in zip(self.shape, oshape))

    def __eq__(self, other):
        return type(other) is type(self) and (other.shape, other.dtype) == (self.shape, self.dtype)

    def __hash__(self):
        return hash((type(self).__name__, self.shape, self.dtype))

    def __repr__(self):
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype})"


class SparseTensorSpec(TypeSpec):
    """``tf.SparseTensorSpec(shape, dtype)``: the type of a SparseTensor."""

    @classmethod
    def from_value(cls, value):
        return cls(value.shape, getattr(value.values, "dtype", "float32"))


class RaggedTensorSpec(TypeSpec):
    def __init__(self, shape=None, dtype="float32", ragged_rank=None, row_splits_dtype="int64", flat_values_spec=None):
        super().__init__(shape, dtype)
        self.ragged_rank, self.row_splits_dtype = ragged_rank, row_splits_dtype


class IndexedSlicesSpec(TypeSpec):
    def __init__(self, shape=None, dtype="float32", indices_dtype="int64", dense_shape_dtype=None,
                 indices_shape=None):
        super().__init__(shape, dtype)
        self.indices_dtype = indices_dtype


def type_spec_from_value(value):
    """The spec of a value: TensorSpec for a Tensor / array, SparseTensorSpec, RaggedTensorSpec,
    IndexedSlicesSpec, a Dataset's DatasetSpec."""
    from .data import Dataset, DatasetSpec, TensorSpec
    from .sparse import SparseTensor
    from .strings import RaggedTensor
    from ._tf_more import IndexedSlices
    if isinstance(value, SparseTensor):
        return SparseTensorSpec.from_value(value)
    if isinstance(value, RaggedTensor):
        return RaggedTensorSpec((len(value), None), "string" if any(
            isinstance(v, str) for r in value for v in r) else "int64", ragged_rank=1)
    if isinstance(value, IndexedSlices):
        return IndexedSlicesSpec(value.dense_shape, str(value.dtype))
    if isinstance(value, Dataset):
        return DatasetSpec.from_value(value)
    a = np.asarray(value)
    if not isinstance(value, (Tensor, np.ndarray)) and a.dtype.kind not in "biufcOUS":
        raise TypeError(f"tf.type_spec_from_value: no spec for {type(value).__name__}")
    dtype = "string" if a.dtype.kind in "OUS" else str(getattr(value, "dtype", a.dtype))
    if a.dtype == np.float64 and not isinstance(value, np.ndarray):
        dtype = "float32"
    return TensorSpec(a.shape, dtype)


# a bool tensor stays bool, as through ops' shape ops (ops._BOOL_KEEPING)
reverse_sequence = ops._keeps_bool(reverse_sequence)
