"""``tf.sets`` (row-wise set operations) and ``tf.bitwise`` (integer bit operations; tf.lookup's
tables are lookup.py). No gradients: sets and bits are not differentiable, as in TensorFlow."""
from __future__ import annotations

import types

import numpy as np

from .kernels import Tensor
from .strings import as_string_array, is_string_array


# -- tf.sets -------------------------------------------------------------------------------------------

def _set_rows(op, x):
    """(rows of sets as Python sets keyed by the leading index tuple, leading shape)."""
    from .sparse import SparseTensor
    if isinstance(x, SparseTensor):
        lead = x.shape[:-1]
        rows = {idx: set() for idx in np.ndindex(*lead)}
        vals = np.asarray(x.values, dtype=object)
        for r, v in zip(x.indices, vals):
            rows[tuple(int(i) for i in r[:-1])].add(v)
        return rows, lead
    a = np.asarray(as_string_array(x) if is_string_array(x) else x, dtype=object)
    if a.ndim < 1:
        raise ValueError(f"tf.sets.{op}: needs at least one axis")
    return {idx: set(a[idx].tolist()) for idx in np.ndindex(*a.shape[:-1])}, a.shape[:-1]


def _sets_result(rows, lead):
    from .sparse import SparseTensor
    width = max((len(s) for s in rows.values()), default=0)
    idx, vals = [], []
    for key in sorted(rows):
        for j, v in enumerate(sorted(rows[key])):
            idx.append(list(key) + [j])
            vals.append(v)
    text = any(isinstance(v, str) for v in vals)
    values = np.array(vals, dtype=object) if text else np.array(vals, dtype=np.int64)
    return SparseTensor(np.asarray(idx, np.int64).reshape(-1, len(lead) + 1), values, tuple(lead) + (width,))


def _binary_sets(op, a, b, fn):
    ra, la = _set_rows(op, a)
    rb, lb = _set_rows(op, b)
    if tuple(la) != tuple(lb):
        raise ValueError(f"tf.sets.{op}: leading shapes differ: {tuple(la)} and {tuple(lb)}")
    return _sets_result({k: fn(ra[k], rb[k]) for k in ra}, la)


def set_intersection(a, b, validate_indices=True):
    """The sorted intersection of the sets in the last axis, as a SparseTensor."""
    return _binary_sets("intersection", a, b, set.intersection)


def set_union(a, b, validate_indices=True):
    return _binary_sets("union", a, b, set.union)


def set_difference(a, b, aminusb=True, validate_indices=True):
    return _binary_sets("difference", a, b, (lambda x, y: x - y) if aminusb else (lambda x, y: y - x))


def set_size(a, validate_indices=True):
    """The number of distinct values of each set of a SparseTensor (int32, the leading shape);
    a dense tensor is refused, as TensorFlow."""
    from .sparse import SparseTensor
    if not isinstance(a, SparseTensor):
        raise TypeError(f"tf.sets.size: expected a SparseTensor, got {type(a).__name__}")
    rows, lead = _set_rows("size", a)
    out = np.zeros(lead, np.int32)
    for k, s in rows.items():
        out[k] = len(s)
    return Tensor.from_numpy(np.array(out, order="C"))


sets = types.SimpleNamespace(intersection=set_intersection, union=set_union, difference=set_difference,
                             size=set_size, set_intersection=set_intersection, set_union=set_union,
                             set_difference=set_difference, set_size=set_size)


# -- tf.bitwise ----------------------------------------------------------------------------------------

def _int_pair(op, x, y):
    a, b = np.asarray(x), np.asarray(y)
    if a.dtype.kind not in "iu" or b.dtype.kind not in "iu":
        raise TypeError(f"tf.bitwise.{op}: needs integer tensors, got {a.dtype} and {b.dtype}")
    return a, b


def _bit(op, fn):
    def f(x, y, name=None):
        from ._tf_api import constant
        a, b = _int_pair(op, x, y)
        # TensorFlow's dtype: the tensors' (a Python int takes theirs: int32 & 3 is int32; NumPy
        # would promote it to int64), int32 for two Python ints
        held = [np.dtype(str(v.dtype)) for v in (x, y) if hasattr(v, "dtype") and not isinstance(v, (list, tuple))]
        return constant(fn(a, b).astype(np.result_type(*held) if held else np.int32))
    f.__name__ = f.__qualname__ = op
    return f


def _invert(x, name=None):
    from ._tf_api import constant
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"tf.bitwise.invert: needs an integer tensor, got {a.dtype}")
    return constant(np.invert(a), dtype=a.dtype)


bitwise = types.SimpleNamespace(bitwise_and=_bit("bitwise_and", np.bitwise_and),
                                bitwise_or=_bit("bitwise_or", np.bitwise_or),
                                bitwise_xor=_bit("bitwise_xor", np.bitwise_xor),
                                left_shift=_bit("left_shift", np.left_shift),
                                right_shift=_bit("right_shift", np.right_shift), invert=_invert)

__all__ = ["sets", "bitwise"]
