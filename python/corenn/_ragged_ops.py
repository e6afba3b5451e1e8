"""TensorFlow's elementwise ops, casts, row reductions and concatenation on ``RaggedTensor``s
(corenn's ragged rows: ``strings.RaggedTensor``), computed row by row with NumPy. The unicode
guide's word segmentation compares the script codes of neighbouring characters
(``tf.not_equal(r[:, 1:], r[:, :-1])``), concatenates a dense column in front
(``tf.concat([tf.fill([n, 1], True), ...], axis=1)``), casts and sums the rows. These are data
operations on integer and boolean rows: no gradients flow through them."""
from __future__ import annotations

import numpy as np

from .strings import RaggedTensor

_NUMPY = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.true_divide,
          "maximum": np.maximum, "minimum": np.minimum, "pow": np.power, "equal": np.equal,
          "not_equal": np.not_equal, "greater": np.greater, "greater_equal": np.greater_equal,
          "less": np.less, "less_equal": np.less_equal, "logical_and": np.logical_and,
          "logical_or": np.logical_or}


def is_ragged(x):
    return isinstance(x, RaggedTensor)


def _rows(x):
    return [np.asarray(r) for r in np.asarray(x)]


def binary(name, x, y):
    """``tf.<name>(x, y)`` with a RaggedTensor: rows against rows of the same lengths, or each
    row against a scalar / a dense value broadcast along the row."""
    fn = _NUMPY.get(name)
    if fn is None:
        raise NotImplementedError(f"tf.{name}: RaggedTensor arguments are not supported")
    if is_ragged(x) and is_ragged(y):
        a, b = _rows(x), _rows(y)
        if [len(r) for r in a] != [len(r) for r in b]:
            raise ValueError(f"tf.{name}: the RaggedTensors' rows differ in length: "
                             f"{[len(r) for r in a][:8]} vs {[len(r) for r in b][:8]}")
        return RaggedTensor._from_rows([fn(p, q) for p, q in zip(a, b)])
    if is_ragged(x):
        other = np.asarray(y)
        if other.ndim > 0:
            raise ValueError(f"tf.{name}: a RaggedTensor combines with another of the same row lengths or a "
                             f"scalar, got shape {other.shape}")
        return RaggedTensor._from_rows([fn(r, other) for r in _rows(x)])
    other = np.asarray(x)
    if other.ndim > 0:
        raise ValueError(f"tf.{name}: a RaggedTensor combines with another of the same row lengths or a "
                         f"scalar, got shape {other.shape}")
    return RaggedTensor._from_rows([fn(other, r) for r in _rows(y)])


def cast(x, dtype_name):
    return RaggedTensor._from_rows([r.astype(np.dtype(dtype_name)) for r in _rows(x)])


def reduce(name, np_fn, x, axis, keepdims):
    """A row reduction (axis 1 or -1: one value per row, empty rows give the reduction's
    identity) or over every value (axis None)."""
    from ._tf_api import constant
    rows = _rows(x)
    dtype = np.result_type(*[r.dtype for r in rows]) if rows else np.int64
    if dtype == np.bool_:
        dtype = np.int64
    if axis is None:
        flat = np.concatenate(rows).astype(dtype) if rows else np.zeros(0, dtype)
        return constant(np.asarray(np_fn(flat), dtype))
    if axis not in (1, -1):
        raise NotImplementedError(f"tf.{name}: a RaggedTensor reduces over axis 1 (each row) or all of it, "
                                  f"got axis={axis}")
    identity = {"reduce_sum": 0, "reduce_prod": 1}
    out = []
    for r in rows:
        if len(r) == 0 and name not in identity:
            raise ValueError(f"tf.{name}: an empty row has no {name[7:]} in corenn (TensorFlow gives the "
                             "dtype's lowest / highest value)")
        out.append(np_fn(r.astype(dtype)) if len(r) else identity[name])
    res = np.asarray(out, dtype)
    return constant(res[:, None] if keepdims else res)


def concat(values, axis):
    """Rows joined end to end (axis 1) or the rows of each one after another (axis 0); a dense
    2-D value counts as equal-length rows."""
    parts = [_rows(v) if is_ragged(v) else list(np.asarray(v)) for v in values]
    if axis == 0:
        return RaggedTensor._from_rows([r for p in parts for r in p])
    if axis not in (1, -1):
        raise NotImplementedError(f"tf.concat: RaggedTensors join along axis 0 or 1, got axis={axis}")
    n = len(parts[0])
    if any(len(p) != n for p in parts):
        raise ValueError(f"tf.concat: along axis 1 every value needs the same number of rows, got "
                         f"{[len(p) for p in parts]}")
    # rows of scalars join as vectors; rows of vectors (embedding_lookup's) along their first axis
    piece = lambda r: np.asarray(r).reshape(-1) if np.asarray(r).ndim < 2 else np.asarray(r)
    return RaggedTensor._from_rows([np.concatenate([piece(p[i]) for p in parts]) for i in range(n)])


def tile(x, multiples):
    """``tf.tile`` of a RaggedTensor (two axes): each row repeated ``multiples[1]`` times end to
    end, then the rows ``multiples[0]`` times."""
    if len(multiples) != 2 or min(multiples) < 0:
        raise ValueError(f"tf.tile: a RaggedTensor takes two non-negative multiples, got {multiples}")
    rows = [np.tile(r, multiples[1]) if len(r) else r for r in _rows(x)]
    return RaggedTensor._from_rows(rows * multiples[0])


def reverse(x, axes):
    """``tf.reverse`` of a RaggedTensor: axis 0 reverses the order of the rows, axis 1 (or -1)
    each row's values."""
    rows = _rows(x)
    for ax in axes:
        if ax == 0:
            rows = rows[::-1]
        elif ax in (1, -1):
            rows = [r[::-1] for r in rows]
        else:
            raise NotImplementedError(f"tf.reverse: a RaggedTensor reverses along axis 0 or 1, got axis={ax}")
    return RaggedTensor._from_rows(rows)
