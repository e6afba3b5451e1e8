"""``tf.sparse`` feature crosses (cross, cross_hashed) and sampled_addmm (continued from
``_sparse_more``)."""
from __future__ import annotations

import numpy as np

from . import ops
from ._sparse_more import _order
from .sparse import SparseTensor

# -- feature crosses and sampled products ----------------------------------------------------------

__all__ = ["cross", "cross_hashed", "sampled_addmm"]


def _cross_rows(op, inputs):
    """Per batch row, the list of values of each input (SparseTensor rows or dense 2-D rows)."""
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise ValueError(f"tf.sparse.{op}: inputs must be a non-empty list of SparseTensors or 2-D tensors")
    columns, batch = [], None
    for x in inputs:
        if isinstance(x, SparseTensor):
            n = x.shape[0]
            order = _order(x.indices, x.shape)
            rows = [[] for _ in range(n)]
            vals = np.asarray(x.values, dtype=object)
            for k in order:
                rows[int(x.indices[k, 0])].append(vals[k])
        else:
            a = np.asarray(x, dtype=object)
            if a.ndim != 2:
                raise ValueError(f"tf.sparse.{op}: dense inputs must be 2-D (batch, values), got shape {a.shape}")
            n, rows = a.shape[0], [list(r) for r in a]
        if batch is not None and n != batch:
            raise ValueError(f"tf.sparse.{op}: inputs have different batch sizes ({batch} and {n})")
        batch = n
        columns.append(rows)
    return columns, batch


def _crossed(columns, batch, combine):
    import itertools
    idx, vals = [], []
    width = 0
    for b in range(batch):
        combos = [combine(c) for c in itertools.product(*[col[b] for col in columns])]
        width = max(width, len(combos))
        idx += [[b, i] for i in range(len(combos))]
        vals += combos
    return idx, vals, width


def _feature_text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def cross(inputs, name=None, separator=None):
    """The string crosses of the inputs' values, row by row: every combination (in input
    order) joined by ``separator`` ('_X_'), as a SparseTensor (batch, most combinations)."""
    sep = "_X_" if separator is None else str(separator)
    columns, batch = _cross_rows("cross", inputs)
    idx, vals, width = _crossed(columns, batch, lambda c: sep.join(_feature_text(v) for v in c))
    return SparseTensor(np.asarray(idx, np.int64).reshape(-1, 2), np.array(vals, dtype=object), [batch, width])


def cross_hashed(inputs, num_buckets=0, hash_key=None, name=None):
    """The hashed crosses (int64): each combination folded with FingerprintCat64 from
    ``hash_key`` (TensorFlow's default key), modulo ``num_buckets`` when > 0 (else modulo
    int64's maximum) - the hash Keras' HashedCrossing layer uses; equal to TensorFlow 2.21's."""
    from .layers.text_preprocessing import _CROSS_HASH_KEY, _fingerprint_cat64, _MASK64
    from .layers._farmhash import fingerprint64
    key = _CROSS_HASH_KEY if hash_key is None else int(hash_key) & _MASK64

    def value_hash(v):
        if isinstance(v, (str, bytes)):
            return fingerprint64(v.encode("utf-8") if isinstance(v, str) else v)
        return int(v) & _MASK64

    def combine(c):
        h = key
        for v in c:
            h = _fingerprint_cat64(h, value_hash(v))
        return h % int(num_buckets) if int(num_buckets) > 0 else h % (2 ** 63 - 1)   # int64's max, as TF
    columns, batch = _cross_rows("cross_hashed", inputs)
    idx, vals, width = _crossed(columns, batch, combine)
    return SparseTensor(np.asarray(idx, np.int64).reshape(-1, 2), np.array(vals, np.int64), [batch, width])


def sampled_addmm(indices, values, dense_shape, mat1, mat2, beta=1.0, alpha=1.0, output_type="float32"):
    """(indices, beta * values + alpha * (mat1 @ mat2) at indices, dense_shape): the product
    evaluated only where the sparse matrix has entries (batched over leading axes).
    Differentiable in values, mat1 and mat2."""
    idx = np.asarray(indices).astype(np.int64)
    shape = np.asarray(dense_shape).astype(np.int64).reshape(-1)
    prod = ops.matmul(ops.cast(ops._to_tensor(mat1), "float32"), ops.cast(ops._to_tensor(mat2), "float32"))
    if tuple(int(d) for d in prod.shape) != tuple(int(d) for d in shape):
        raise ValueError(f"tf.sparse.sampled_addmm: mat1 @ mat2 has shape {tuple(prod.shape)}, dense_shape is "
                         f"{shape.tolist()}")
    flat = np.ravel_multi_index(idx.reshape(-1, len(shape)).T, tuple(int(d) for d in shape)) if idx.size else \
        np.zeros(0, np.int64)
    picked = ops._gather_flat(ops.reshape(prod, [-1]), flat.astype(np.int64))
    vals = ops.add(ops.multiply(float(beta), ops.cast(ops._to_tensor(values), "float32")),
                   ops.multiply(float(alpha), ops.reshape(picked, list(np.asarray(values).shape) or [-1])))
    from ._tf_api import constant
    return constant(idx, dtype="int64"), vals, constant(shape, dtype="int64")
