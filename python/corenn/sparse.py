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
        rank = len(self.dense_shape)
        # a scalar SparseTensor (a row of a 1-D one) has (0 or 1, 0) indices
        self.indices = idx.astype(np.int64).reshape(-1, rank) if rank else \
            idx.astype(np.int64).reshape(len(idx) if idx.ndim else 0, 0)
        if isinstance(values, kernels.Tensor) and str(values.dtype).startswith("float"):
            self.values = values          # kept as a Tensor: ops on the values stay differentiable
        else:
            vals = np.asarray(values)
            self.values = vals.astype(np.float32) if vals.dtype == np.float64 else vals
            if vals.dtype == np.int64 and isinstance(values, (list, tuple, int)) and (
                    not vals.size or np.abs(vals).max() < 2 ** 31):
                # Python ints are int32 values, as tf.constant makes them (the indices and
                # dense_shape are int64 whatever they are given as)
                self.values = vals.astype(np.int32)
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
        from .kernels import TensorShape
        return TensorShape(int(d) for d in self.dense_shape)

    def get_shape(self):
        return self.shape

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def ndim(self):
        return len(self.dense_shape)

    def __len__(self):
        if not len(self.dense_shape):
            raise TypeError("len() of a scalar SparseTensor")
        return int(self.dense_shape[0])

    def __getitem__(self, key):
        """Rows along axis 0, as tf.data slices a SparseTensor: ``st[i]`` (or ``st[i, ...]``) is
        row i, a SparseTensor one rank lower; a slice or an index array gives those rows."""
        if isinstance(key, tuple) and len(key) == 2 and key[1] is Ellipsis:
            key = key[0]
        if not self.ndim:
            raise TypeError("SparseTensor: a scalar SparseTensor has no rows to index")
        rows = np.arange(int(self.dense_shape[0]))[key]
        values = np.asarray(self.values)
        if np.ndim(rows) == 0:
            keep = self.indices[:, 0] == int(rows)
            return SparseTensor(np.asarray(self.indices)[keep][:, 1:], values[keep], self.dense_shape[1:])
        rows = np.asarray(rows).reshape(-1)
        parts = [(np.flatnonzero(self.indices[:, 0] == r), k) for k, r in enumerate(rows)]
        picked = np.concatenate([p for p, _ in parts]) if parts else np.zeros(0, np.int64)
        idx = np.asarray(self.indices)[picked].copy()
        idx[:, 0] = np.concatenate([np.full(len(p), k) for p, k in parts]) if parts else idx[:, 0]
        return SparseTensor(idx, values[picked], [len(rows)] + list(self.dense_shape[1:]))

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
        values = np.asarray(sp_input.values)
        dense[tuple(sp_input.indices.T)] = values if dense.ndim else values[0]   # a scalar's one entry
    if not dense.ndim:
        from . import ops
        return ops._to_tensor(dense)
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


def _stack_rows(parts):
    """The SparseTensors ``parts`` (one dense_shape) stacked along a new axis 0 (tf.data's batch
    of SparseTensor elements)."""
    shape = list(parts[0].dense_shape)
    for p in parts:
        if list(p.dense_shape) != shape:
            raise ValueError(f"batching SparseTensors: dense_shapes differ, {shape} and {list(p.dense_shape)}")
    idx = [np.concatenate([np.full((len(p.indices), 1), k, np.int64),
                           np.asarray(p.indices).reshape(len(p.indices), len(shape))], axis=1)
           for k, p in enumerate(parts)]
    vals = [np.asarray(p.values) for p in parts]
    return SparseTensor(np.concatenate(idx).reshape(-1, len(shape) + 1), np.concatenate(vals),
                        [len(parts)] + shape)
