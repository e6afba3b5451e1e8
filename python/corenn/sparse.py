"""``tf.sparse`` and ``tf.SparseTensor``: a sparse array as (indices, values, dense_shape).

corenn's kernels are dense; a SparseTensor is a description that scripts build (the TF
text-generation tutorial's mask of forbidden tokens, a one-hot table) and turn dense with
``to_dense`` before computing. Indices are checked against the shape when it is made, so a
bad index is a clear ValueError, never a write out of bounds.
"""
from __future__ import annotations

import numpy as np

from . import kernels

__all__ = ["SparseTensor", "to_dense", "from_dense"]


class SparseTensor:
    """``SparseTensor(indices, values, dense_shape)``: indices (N, rank) int64, values (N,),
    dense_shape (rank,); entries not listed are the default value of ``to_dense`` (0)."""

    def __init__(self, indices, values, dense_shape):
        self.dense_shape = np.asarray(dense_shape, np.int64).reshape(-1)
        if (self.dense_shape < 0).any():
            raise ValueError(f"SparseTensor: dense_shape must be non-negative, got {self.dense_shape.tolist()}")
        idx = np.asarray(indices)
        if idx.dtype.kind not in "iu" and idx.size:
            raise TypeError(f"SparseTensor: indices must be integers, got dtype {idx.dtype}")
        self.indices = idx.astype(np.int64).reshape(-1, len(self.dense_shape))
        if isinstance(values, kernels.Tensor) and str(values.dtype).startswith("float"):
            self.values = values          # kept as a Tensor: ops on the values stay differentiable
        else:
            vals = np.asarray(values)
            self.values = vals.astype(np.float32) if vals.dtype == np.float64 else vals
        if len(self.values.shape) != 1 or self.values.shape[0] != len(self.indices):
            raise ValueError(f"SparseTensor: values must be one per index row: {len(self.indices)} indices, "
                             f"values of shape {tuple(self.values.shape)}")
        bad = (self.indices < 0) | (self.indices >= self.dense_shape)
        if bad.any():
            row = int(np.nonzero(bad.any(axis=1))[0][0])
            raise ValueError(f"SparseTensor: index {self.indices[row].tolist()} is outside dense_shape "
                             f"{self.dense_shape.tolist()}")
        # the parts as tf.data's arrays: NumPy arrays that also have TensorFlow's .numpy()
        # (``st.dense_shape.numpy()``, the unicode tutorial)
        from .data._structure import Array
        self.indices, self.dense_shape = self.indices.view(Array), self.dense_shape.view(Array)
        if isinstance(self.values, np.ndarray):
            self.values = self.values.view(Array)

    @property
    def shape(self):
        return tuple(int(d) for d in self.dense_shape)

    @property
    def dtype(self):
        return self.values.dtype

    def __repr__(self):
        return (f"SparseTensor(indices={self.indices.tolist()}, values={np.asarray(self.values).tolist()}, "
                f"dense_shape={self.dense_shape.tolist()})")


def to_dense(sp_input, default_value=None, validate_indices=True, name=None):
    """The dense Tensor of ``sp_input``: ``default_value`` (0) where no index is listed; a
    repeated index keeps its last value."""
    if not isinstance(sp_input, SparseTensor):
        raise TypeError(f"tf.sparse.to_dense: expected a SparseTensor, got {type(sp_input).__name__}")
    if isinstance(sp_input.values, kernels.Tensor):     # differentiable in the values
        from . import ops
        flat = np.ravel_multi_index(sp_input.indices.T, sp_input.shape) if len(sp_input.indices) else \
            np.zeros(0, np.int64)
        last = np.zeros(int(np.prod(sp_input.shape)), np.int64) - 1
        last[flat] = np.arange(flat.size)                # a repeated index keeps its last value
        keep = np.flatnonzero(last >= 0)
        picked = ops.take(sp_input.values, last[keep], axis=0)
        dense = ops.reshape(ops._scatter_flat(picked, keep.astype(np.int64), (last.size,)), list(sp_input.shape))
        if default_value:
            hole = np.ones(last.size, np.float32)
            hole[keep] = 0
            dense = ops.add(dense, (hole * float(default_value)).reshape(sp_input.shape))
        return dense
    if np.dtype(sp_input.values.dtype).kind in "OUS":   # strings (a RaggedTensor's to_sparse): a string array
        from . import strings
        dense = np.full(sp_input.shape, "" if default_value is None else default_value, dtype=object)
        if len(sp_input.indices):
            dense[tuple(sp_input.indices.T)] = [strings.from_bytes(v) if isinstance(v, bytes) else v
                                                for v in sp_input.values]
        return strings.wrap(dense)
    dense = np.full(sp_input.shape, 0 if default_value is None else default_value, dtype=sp_input.values.dtype)
    if len(sp_input.indices):
        dense[tuple(sp_input.indices.T)] = sp_input.values
    return kernels.as_tensor(np.ascontiguousarray(dense))


def from_dense(tensor, name=None):
    """The SparseTensor of the non-zero entries of ``tensor``."""
    a = np.asarray(tensor)
    idx = np.argwhere(a != 0)
    return SparseTensor(idx, a[tuple(idx.T)], a.shape)


# reductions, sparse x dense products, add / concat / reshape / slice / transpose, softmax, ...
from ._sparse_more import *  # noqa: E402,F401,F403
from ._sparse_more import __all__ as _more  # noqa: E402
from ._sparse_cross import cross, cross_hashed, sampled_addmm  # noqa: E402,F401

__all__ += _more + ["cross", "cross_hashed", "sampled_addmm"]
