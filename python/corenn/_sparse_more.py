"""More of ``tf.sparse``: reductions, sparse x dense products, elementwise combinations,
reshapes and slices, softmax, bincount, segment sums, indicator / fill helpers.

A SparseTensor's values may be a float Tensor (a trainable embedding's rows, a model output): then
the ops that only rearrange or combine values (reduce_sum, sparse_dense_matmul, add, softmax,
transpose, reshape, concat, slice, ...) keep them recorded, so gradients flow to the values
as in TensorFlow; sparse_dense_matmul is also differentiable in the dense operand. Results follow
TensorFlow's conventions (canonical row-major order, reduce_max over the stored values only,
empty rows 0) and were compared with TensorFlow 2.21.
"""
from __future__ import annotations

import numpy as np

from . import ops
from .kernels import Tensor
from .sparse import SparseTensor

__all__ = ["reduce_sum", "reduce_max", "sparse_dense_matmul", "matmul", "add", "concat", "reshape", "slice",
           "transpose", "expand_dims", "eye", "fill_empty_rows", "maximum", "minimum", "retain", "reorder", "split",
           "to_indicator", "softmax", "bincount", "segment_sum", "segment_mean", "segment_sqrt_n", "map_values",
           "reset_shape", "mask"]


def _check(op, sp):
    if not isinstance(sp, SparseTensor):
        raise TypeError(f"tf.sparse.{op}: expected a SparseTensor, got {type(sp).__name__}")
    return sp


def _is_t(v):
    return isinstance(v, Tensor)


def _take(values, idx):
    """values[idx], recorded when values is a Tensor."""
    idx = np.asarray(idx, np.int64).reshape(-1)
    return ops.take(values, idx, axis=0) if _is_t(values) else np.asarray(values)[idx]


def _np(values):
    return np.asarray(values)


def _make(indices, values, shape):
    return SparseTensor(np.asarray(indices, np.int64).reshape(-1, len(shape)), values, shape)


def _order(indices, shape):
    """The permutation putting indices in row-major order."""
    if not len(indices):
        return np.zeros(0, np.int64)
    return np.argsort(np.ravel_multi_index(indices.T, shape), kind="stable")


def reorder(sp_input, name=None):
    """The same SparseTensor with its entries in canonical row-major order."""
    sp = _check("reorder", sp_input)
    p = _order(sp.indices, sp.shape)
    return _make(sp.indices[p], _take(sp.values, p), sp.shape)


def _axes(op, axis, rank):
    if axis is None:
        return tuple(range(rank))
    ax = [int(a) for a in np.asarray(axis).reshape(-1)]
    if any(not -rank <= a < rank for a in ax):
        raise ValueError(f"tf.sparse.{op}: axis {axis} is out of range for rank {rank}")
    return tuple(sorted({a % rank for a in ax}))


def _group(sp, axes, keepdims):
    """(output shape, segment id of each entry, number of segments, kept axes)."""
    rank = len(sp.shape)
    keep = [d for d in range(rank) if d not in axes]
    out_shape = tuple(1 if (d in axes) else sp.shape[d] for d in range(rank)) if keepdims else \
        tuple(sp.shape[d] for d in keep)
    kept_shape = tuple(sp.shape[d] for d in keep)
    n = int(np.prod(kept_shape)) if kept_shape else 1
    seg = np.ravel_multi_index(sp.indices[:, keep].T, kept_shape) if keep and len(sp.indices) else \
        np.zeros(len(sp.indices), np.int64)
    return out_shape, seg, n, keep


def _to_sparse_output(dense, out_shape, present):
    idx = np.argwhere(present.reshape(out_shape)) if out_shape else np.zeros((int(bool(present.any())), 0), np.int64)
    flat = np.flatnonzero(present.reshape(-1))
    vals = _take(ops.reshape(dense, [-1]), flat) if _is_t(dense) else np.asarray(dense).reshape(-1)[flat]
    return _make(idx, vals, out_shape)


def reduce_sum(sp_input, axis=None, keepdims=False, output_is_sparse=False, name=None):
    """The sum of the entries over ``axis`` (all: a scalar); a dense Tensor, or a SparseTensor
    of the non-empty results with output_is_sparse. Differentiable in the values."""
    sp = _check("reduce_sum", sp_input)
    axes = _axes("reduce_sum", axis, len(sp.shape))
    out_shape, seg, n, _ = _group(sp, axes, keepdims)
    if _is_t(sp.values):
        dense = ops.reshape(ops.segment_sum(ops.cast(sp.values, "float32"), seg, num_segments=n), list(out_shape))
    else:
        v = _np(sp.values)
        acc = np.zeros(n, v.dtype if v.dtype.kind in "iuf" else np.float64)
        np.add.at(acc, seg, v)
        dense = Tensor.from_numpy(np.array(acc.reshape(out_shape), order="C"))
    if output_is_sparse:
        return _to_sparse_output(dense, out_shape, np.bincount(seg, minlength=n) > 0)
    return dense


def reduce_max(sp_input, axis=None, keepdims=False, output_is_sparse=False, name=None):
    """The maximum of the stored values over ``axis`` (implicit zeros do not count; a result
    with no stored value is 0), as TensorFlow."""
    sp = _check("reduce_max", sp_input)
    axes = _axes("reduce_max", axis, len(sp.shape))
    out_shape, seg, n, _ = _group(sp, axes, keepdims)
    v = _np(sp.values).astype(np.float64)
    acc = np.full(n, -np.inf)
    np.maximum.at(acc, seg, v)
    present = np.isfinite(acc) | (np.bincount(seg, minlength=n) > 0)
    acc = np.where(np.bincount(seg, minlength=n) > 0, acc, 0.0)
    dtype = _np(sp.values).dtype if _np(sp.values).dtype.kind in "iu" else np.float32
    dense = Tensor.from_numpy(np.array(acc.reshape(out_shape).astype(dtype), order="C"))
    return _to_sparse_output(dense, out_shape, present) if output_is_sparse else dense


def sparse_dense_matmul(sp_a, b, adjoint_a=False, adjoint_b=False, name=None):
    """sp_a @ b for a 2-D SparseTensor and a dense matrix (or a dense matrix @ a SparseTensor):
    a gather of b's rows scaled by the values and summed per output row. Differentiable in b
    and in the sparse values."""
    if not isinstance(sp_a, SparseTensor) and isinstance(b, SparseTensor):
        # a @ sp = (sp^T @ a^T)^T
        return ops.transpose(sparse_dense_matmul(b, ops._to_tensor(sp_a), adjoint_a=not adjoint_b,
                                                 adjoint_b=not adjoint_a))
    sp = _check("sparse_dense_matmul", sp_a)
    if len(sp.shape) != 2:
        raise ValueError(f"tf.sparse.sparse_dense_matmul: the SparseTensor must be 2-D, got shape {sp.shape}")
    dense = ops.cast(ops._to_tensor(b), "float32")
    if dense.ndim != 2:
        raise ValueError(f"tf.sparse.sparse_dense_matmul: b must be a matrix, got shape {tuple(dense.shape)}")
    if adjoint_b:
        dense = ops.transpose(dense)
    rows, cols = sp.indices[:, 0], sp.indices[:, 1]
    m, k = sp.shape
    if adjoint_a:
        rows, cols, m, k = cols, rows, k, m
    if int(dense.shape[0]) != k:
        raise ValueError(f"tf.sparse.sparse_dense_matmul: shapes {(m, k)} and {tuple(dense.shape)} do not multiply")
    vals = sp.values if _is_t(sp.values) else ops._to_tensor(_np(sp.values).astype(np.float32))
    terms = ops.multiply(ops.take(dense, cols.astype(np.int64), axis=0), ops.expand_dims(ops.cast(vals, "float32"), -1))
    return ops.segment_sum(terms, rows.astype(np.int64), num_segments=m)


matmul = sparse_dense_matmul


def _combine(op, a, b, fn, union_default=0.0):
    """Values of a and b on the union of their indices (a missing entry is union_default)."""
    if a.shape != b.shape:
        raise ValueError(f"tf.sparse.{op}: shapes differ: {a.shape} and {b.shape}")
    shape = a.shape
    ka = np.ravel_multi_index(a.indices.T, shape) if len(a.indices) else np.zeros(0, np.int64)
    kb = np.ravel_multi_index(b.indices.T, shape) if len(b.indices) else np.zeros(0, np.int64)
    keys = np.union1d(ka, kb)
    return keys, shape, ka, kb


def add(a, b, threshold=0, name=None):
    """sparse + sparse (a SparseTensor on the union of indices; sums with magnitude below
    ``threshold`` dropped) or sparse + dense (a dense Tensor). Differentiable in the values."""
    if isinstance(a, SparseTensor) and not isinstance(b, SparseTensor):
        a, b = b, a
    if not isinstance(b, SparseTensor):
        raise TypeError("tf.sparse.add: at least one argument must be a SparseTensor")
    if not isinstance(a, SparseTensor):
        from .sparse import to_dense
        dense = ops._to_tensor(a)
        if tuple(dense.shape) != b.shape:
            raise ValueError(f"tf.sparse.add: shapes differ: {tuple(dense.shape)} and {b.shape}")
        if _is_t(b.values):
            flat = np.ravel_multi_index(b.indices.T, b.shape).astype(np.int64)
            scattered = ops._scatter_flat(ops.cast(b.values, "float32"), flat, (int(np.prod(b.shape)),))
            return ops.add(dense, ops.reshape(scattered, list(b.shape)))
        return ops.add(dense, to_dense(b))
    keys, shape, ka, kb = _combine("add", a, b, None)
    pos_a, pos_b = np.searchsorted(keys, ka), np.searchsorted(keys, kb)
    if _is_t(a.values) or _is_t(b.values):
        va = ops._scatter_flat(ops.cast(ops._to_tensor(a.values), "float32"), pos_a, (keys.size,))
        vb = ops._scatter_flat(ops.cast(ops._to_tensor(b.values), "float32"), pos_b, (keys.size,))
        vals = ops.add(va, vb)
        sums = np.asarray(vals)
    else:
        sums = np.zeros(keys.size, np.result_type(_np(a.values), _np(b.values)))
        np.add.at(sums, pos_a, _np(a.values))
        np.add.at(sums, pos_b, _np(b.values))
        vals = sums
    keep = np.flatnonzero(np.abs(sums) >= threshold) if threshold else np.arange(keys.size)
    idx = np.stack(np.unravel_index(keys[keep], shape), axis=1) if keys.size else np.zeros((0, len(shape)), np.int64)
    return _make(idx, _take(vals, keep), shape)


def _elementwise(op, a, b, fn):
    _check(op, a), _check(op, b)
    keys, shape, ka, kb = _combine(op, a, b, None)
    va, vb = np.zeros(keys.size), np.zeros(keys.size)
    va[np.searchsorted(keys, ka)] = _np(a.values)
    vb[np.searchsorted(keys, kb)] = _np(b.values)
    idx = np.stack(np.unravel_index(keys, shape), axis=1) if keys.size else np.zeros((0, len(shape)), np.int64)
    return _make(idx, fn(va, vb).astype(_np(a.values).dtype), shape)


def maximum(sp_a, sp_b, name=None):
    """The elementwise maximum on the union of the indices (missing entries are 0)."""
    return _elementwise("maximum", sp_a, sp_b, np.maximum)


def minimum(sp_a, sp_b, name=None):
    return _elementwise("minimum", sp_a, sp_b, np.minimum)


def concat(axis, sp_inputs, expand_nonconcat_dims=False, name=None, concat_dim=None):
    """The SparseTensors joined along ``axis`` (other dimensions equal, or with
    expand_nonconcat_dims the largest of each); the result in row-major order."""
    if concat_dim is not None:
        axis = concat_dim
    sps = [_check("concat", s) for s in sp_inputs]
    rank = len(sps[0].shape)
    ax = int(axis) % rank
    shapes = np.array([s.shape for s in sps])
    other = [d for d in range(rank) if d != ax]
    if not expand_nonconcat_dims and (shapes[:, other] != shapes[0, other]).any():
        raise ValueError(f"tf.sparse.concat: shapes {shapes.tolist()} differ outside axis {ax}")
    out_shape = list(shapes.max(axis=0))
    out_shape[ax] = int(shapes[:, ax].sum())
    offset, idx, vals = 0, [], []
    for s in sps:
        i = s.indices.copy()
        i[:, ax] += offset
        offset += s.shape[ax]
        idx.append(i)
        vals.append(s.values)
    all_idx = np.concatenate(idx) if idx else np.zeros((0, rank), np.int64)
    if any(_is_t(v) for v in vals):
        all_vals = ops.concatenate([ops._to_tensor(v) for v in vals], axis=0)
    else:
        all_vals = np.concatenate([_np(v) for v in vals])
    p = _order(all_idx, tuple(out_shape))
    return _make(all_idx[p], _take(all_vals, p), tuple(int(d) for d in out_shape))


def reshape(sp_input, shape, name=None):
    """The same entries under a new dense shape (one -1 allowed), row-major as tf.reshape."""
    sp = _check("reshape", sp_input)
    new = [int(d) for d in np.asarray(shape).reshape(-1)]
    total = int(np.prod(sp.shape))
    if new.count(-1) > 1:
        raise ValueError("tf.sparse.reshape: at most one -1 in shape")
    if -1 in new:
        known = int(np.prod([d for d in new if d != -1]))
        new[new.index(-1)] = total // known if known else 0
    if int(np.prod(new)) != total:
        raise ValueError(f"tf.sparse.reshape: cannot reshape {sp.shape} ({total} entries) into {new}")
    flat = np.ravel_multi_index(sp.indices.T, sp.shape) if len(sp.indices) else np.zeros(0, np.int64)
    idx = np.stack(np.unravel_index(flat, new), axis=1) if flat.size else np.zeros((0, len(new)), np.int64)
    return _make(idx, sp.values, tuple(new))


def slice(sp_input, start, size, name=None):  # noqa: A001 - TensorFlow's name
    """The entries inside the box [start, start + size), re-indexed from start (the size is
    clipped to the dense shape)."""
    sp = _check("slice", sp_input)
    st = np.asarray(start, np.int64).reshape(-1)
    end = np.minimum(st + np.asarray(size, np.int64).reshape(-1), sp.dense_shape)
    inside = np.all((sp.indices >= st) & (sp.indices < end), axis=1)
    keep = np.flatnonzero(inside)
    return _make(sp.indices[keep] - st, _take(sp.values, keep), tuple(int(d) for d in np.maximum(end - st, 0)))


def transpose(sp_input, perm=None, name=None):
    sp = _check("transpose", sp_input)
    rank = len(sp.shape)
    p = list(range(rank))[::-1] if perm is None else [int(v) for v in perm]
    if sorted(p) != list(range(rank)):
        raise ValueError(f"tf.sparse.transpose: perm {perm} is not a permutation of {rank} axes")
    idx = sp.indices[:, p]
    shape = tuple(sp.shape[d] for d in p)
    o = _order(idx, shape)
    return _make(idx[o], _take(sp.values, o), shape)


def expand_dims(sp_input, axis=None, name=None):
    sp = _check("expand_dims", sp_input)
    rank = len(sp.shape)
    ax = -1 if axis is None else int(axis)
    if not -rank - 1 <= ax <= rank:
        raise ValueError(f"tf.sparse.expand_dims: axis {axis} is out of range for rank {rank}")
    ax = ax % (rank + 1)
    idx = np.insert(sp.indices, ax, 0, axis=1)
    return _make(idx, sp.values, sp.shape[:ax] + (1,) + sp.shape[ax:])


def eye(num_rows, num_columns=None, dtype="float32", name=None):
    n = int(num_rows)
    m = n if num_columns is None else int(num_columns)
    k = min(n, m)
    return _make(np.stack([np.arange(k), np.arange(k)], axis=1), np.ones(k, np.dtype(str(dtype))), (n, m))


def fill_empty_rows(sp_input, default_value, name=None):
    """(the SparseTensor with (row, 0, ...) = default_value added for each empty row, in
    row-major order; the bool indicator of the empty rows)."""
    sp = _check("fill_empty_rows", sp_input)
    rows = sp.shape[0]
    empty = np.ones(rows, bool)
    empty[sp.indices[:, 0]] = False
    extra = np.zeros((int(empty.sum()), len(sp.shape)), np.int64)
    extra[:, 0] = np.flatnonzero(empty)
    idx = np.concatenate([sp.indices, extra])
    if _is_t(sp.values):
        fill = ops._to_tensor(np.full(len(extra), default_value, np.float32))
        vals = ops.concatenate([ops.cast(sp.values, "float32"), fill], axis=0)
    else:
        vals = np.concatenate([_np(sp.values), np.full(len(extra), default_value, dtype=_np(sp.values).dtype)])
    o = _order(idx, sp.shape)
    return _make(idx[o], _take(vals, o), sp.shape), empty


def retain(sp_input, to_retain, name=None):
    sp = _check("retain", sp_input)
    keep = np.flatnonzero(np.asarray(to_retain).astype(bool).reshape(-1))
    if np.asarray(to_retain).size != len(sp.indices):
        raise ValueError(f"tf.sparse.retain: to_retain needs one bool per entry ({len(sp.indices)})")
    return _make(sp.indices[keep], _take(sp.values, keep), sp.shape)


def split(sp_input=None, num_split=None, axis=None, name=None, keyword_required=None):
    """``num_split`` SparseTensors along ``axis``: the first size % num_split pieces one longer."""
    sp = _check("split", sp_input)
    ax = int(axis) % len(sp.shape)
    n, size = int(num_split), sp.shape[ax]
    base, extra = divmod(size, n)
    out, start = [], 0
    for i in range(n):
        width = base + (1 if i < extra else 0)
        st = [0] * len(sp.shape)
        sz = list(sp.shape)
        st[ax], sz[ax] = start, width
        out.append(slice(sp, st, sz))
        start += width
    return out


def to_indicator(sp_input, vocab_size, name=None):
    """A dense bool array (..., vocab_size): True where a row's values hold that id."""
    sp = _check("to_indicator", sp_input)
    out = np.zeros(sp.shape[:-1] + (int(vocab_size),), bool)
    v = _np(sp.values).astype(np.int64)
    if v.size and (v.min() < 0 or v.max() >= int(vocab_size)):
        raise ValueError(f"tf.sparse.to_indicator: values must lie in [0, {int(vocab_size)})")
    out[tuple(sp.indices[:, :-1].T) + (v,)] = True
    return out


def softmax(sp_input, name=None):
    """A softmax over the stored values of each innermost row (implicit entries take no part).
    Differentiable in the values."""
    sp = reorder(_check("softmax", sp_input))
    rows = sp.indices[:, :-1]
    seg = np.unique(rows, axis=0, return_inverse=True)[1].reshape(-1) if len(rows) else np.zeros(0, np.int64)
    n = int(seg.max()) + 1 if seg.size else 0
    v = ops.cast(ops._to_tensor(sp.values), "float32")
    top = np.full(n, -np.inf)
    np.maximum.at(top, seg, np.asarray(v, np.float64))
    e = ops.exp(ops.subtract(v, top[seg].astype(np.float32)))
    total = ops.segment_sum(e, seg.astype(np.int64), num_segments=n)
    return _make(sp.indices, ops.divide(e, ops.take(total, seg.astype(np.int64), axis=0)), sp.shape)


def bincount(values, weights=None, axis=0, minlength=None, maxlength=None, binary_output=False, name=None):
    """Counts (or summed weights, or 0/1 with binary_output) of each value, as a SparseTensor:
    over everything (axis=0; shape (bins,)) or per row of a 2-D input (axis=-1; (rows, bins))."""
    if isinstance(values, SparseTensor):
        rows, vals = values.indices[:, 0], _np(values.values).astype(np.int64)
        nrows = values.shape[0]
        w = None if weights is None else _np(weights.values if isinstance(weights, SparseTensor) else weights)
    else:
        a = np.asarray(values).astype(np.int64)
        nrows = a.shape[0] if a.ndim == 2 else 1
        rows = np.repeat(np.arange(nrows), a.shape[-1]) if a.ndim == 2 else np.zeros(a.size, np.int64)
        vals = a.reshape(-1)
        w = None if weights is None else np.asarray(weights).reshape(-1)
    if vals.size and vals.min() < 0:
        raise ValueError("tf.sparse.bincount: values must be non-negative")
    bins = max(int(vals.max()) + 1 if vals.size else 0, int(minlength or 0))
    if maxlength is not None:
        bins = min(bins, int(maxlength))
        keep = vals < bins
        rows, vals = rows[keep], vals[keep]
        w = None if w is None else w[keep]
    per_row = int(axis) in (-1, 1)
    key = rows * bins + vals if per_row else vals
    size = nrows * bins if per_row else bins
    counts = np.bincount(key, weights=None if (w is None or binary_output) else w, minlength=size)[:size]
    present = np.bincount(key, minlength=size)[:size] > 0
    if binary_output:
        counts = present.astype(np.int64)
    nz = np.flatnonzero(present)
    shape = (nrows, bins) if per_row else (bins,)
    idx = np.stack(np.unravel_index(nz, shape), axis=1) if nz.size else np.zeros((0, len(shape)), np.int64)
    # TensorFlow's dtype: the weights' float32, else the values' integer dtype (int32 for int32
    # values and Python ints, int64 for int64 values)
    source = values.values if isinstance(values, SparseTensor) else values
    dt = np.float32 if (w is not None and not binary_output) else ops._keras_int_dtype(source)
    return _make(idx, counts[nz].astype(dt), shape)


def _sparse_segment(op, data, indices, segment_ids, num_segments, scale):
    x = ops.cast(ops._to_tensor(data), "float32")
    idx = np.asarray(indices).astype(np.int64).reshape(-1)
    seg = np.asarray(segment_ids).astype(np.int64).reshape(-1)
    if idx.size != seg.size:
        raise ValueError(f"tf.sparse.{op}: indices ({idx.size}) and segment_ids ({seg.size}) differ in length")
    if idx.size and (idx.min() < 0 or idx.max() >= int(x.shape[0])):
        raise ValueError(f"tf.sparse.{op}: indices must lie in [0, {int(x.shape[0])})")
    n = int(num_segments) if num_segments is not None else (int(seg.max()) + 1 if seg.size else 0)
    total = ops.segment_sum(ops.take(x, idx, axis=0), seg, num_segments=n)
    if scale is None:
        return total
    counts = np.maximum(np.bincount(seg, minlength=n)[:n].astype(np.float64), 1.0)
    f = (1.0 / counts if scale == "mean" else 1.0 / np.sqrt(counts)).astype(np.float32)
    return ops.multiply(total, f.reshape((-1,) + (1,) * (x.ndim - 1)))


def segment_sum(data, indices, segment_ids, num_segments=None, name=None):
    """sum over i with segment_ids[i] == s of data[indices[i]] (differentiable in data)."""
    return _sparse_segment("segment_sum", data, indices, segment_ids, num_segments, None)


def segment_mean(data, indices, segment_ids, num_segments=None, name=None):
    return _sparse_segment("segment_mean", data, indices, segment_ids, num_segments, "mean")


def segment_sqrt_n(data, indices, segment_ids, num_segments=None, name=None):
    return _sparse_segment("segment_sqrt_n", data, indices, segment_ids, num_segments, "sqrt_n")


def map_values(op, *args, **kwargs):
    """``op`` applied to the values of the SparseTensor arguments (which must share their
    indices); other arguments pass as they are."""
    sps = [a for a in list(args) + list(kwargs.values()) if isinstance(a, SparseTensor)]
    if not sps:
        raise ValueError("tf.sparse.map_values: needs at least one SparseTensor argument")
    first = sps[0]
    for s in sps[1:]:
        if s.shape != first.shape or not np.array_equal(s.indices, first.indices):
            raise ValueError("tf.sparse.map_values: the SparseTensors must have the same indices and shape")
    conv = [a.values if isinstance(a, SparseTensor) else a for a in args]
    kw = {k: (v.values if isinstance(v, SparseTensor) else v) for k, v in kwargs.items()}
    out = op(*conv, **kw)
    return _make(first.indices, out if _is_t(out) else np.asarray(out), first.shape)


def reset_shape(sp_input, new_shape=None):
    """The same entries with ``new_shape`` (no smaller than needed), or the tightest shape."""
    sp = _check("reset_shape", sp_input)
    tight = sp.indices.max(axis=0) + 1 if len(sp.indices) else np.zeros(len(sp.shape), np.int64)
    shape = tight if new_shape is None else np.asarray(new_shape, np.int64).reshape(-1)
    if len(shape) != len(sp.shape) or (shape < tight).any():
        raise ValueError(f"tf.sparse.reset_shape: new_shape {np.asarray(shape).tolist()} does not hold the indices "
                         f"(needs >= {tight.tolist()})")
    return _make(sp.indices, sp.values, tuple(int(d) for d in shape))


def mask(a, mask_indices, name=None):
    """An IndexedSlices without the rows whose index is in ``mask_indices``."""
    from ._tf_more import IndexedSlices
    if not isinstance(a, IndexedSlices):
        raise TypeError(f"tf.sparse.mask: expected IndexedSlices, got {type(a).__name__}")
    keep = np.flatnonzero(~np.isin(a.indices, np.asarray(mask_indices).reshape(-1)))
    return IndexedSlices(ops.take(a.values, keep.astype(np.int64), axis=0), a.indices[keep], a.dense_shape)
