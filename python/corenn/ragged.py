"""``tf.ragged``: the part of it corenn has. A RaggedTensor here is what ``tf.strings.split`` gives
(``corenn.strings.RaggedTensor``: a 1-D object array of rows, with ``to_tensor``, ``to_list``,
``row_lengths``), for data outside a model; layers and ops take dense Tensors. ``constant``
makes one from rows of numbers or strings, or rows of such rows (a RaggedTensor whose rows are
RaggedTensors); ``map_flat_values`` and ``range`` as TensorFlow's."""
from __future__ import annotations

import numpy as np

from .strings import RaggedTensor, from_bytes

__all__ = ["constant", "RaggedTensor", "map_flat_values", "range"]


def constant(pylist, dtype=None, ragged_rank=None, inner_shape=None, name=None, row_splits_dtype="int64"):
    """Rows of different lengths: ``tf.ragged.constant([[0, 1, 2, 3], [4, 5], [6, 7, 8], [9]])``.
    Numbers are int32 / float32 as ``tf.constant`` makes them; rows of strings stay strings."""
    rows = list(pylist)
    for i, row in enumerate(rows):
        if not isinstance(row, (list, tuple, np.ndarray)):
            raise ValueError(f"tf.ragged.constant: expected a list of rows, row {i} is {type(row).__name__}")
    if ragged_rank is not None and int(ragged_rank) < 1:
        raise ValueError(f"tf.ragged.constant: ragged_rank must be at least 1, got {ragged_rank}")
    if rows and all(isinstance(v, (list, tuple, np.ndarray)) for row in rows for v in row) \
            and any(len(row) for row in rows):
        if ragged_rank is not None and int(ragged_rank) == 1:
            # ragged_rank=1: only the rows are ragged; each row is a dense (length, ...) array
            return RaggedTensor._from_rows([_dense_row(row, dtype, i) for i, row in enumerate(rows)])
        # rows of rows (three levels or more): the inner rows, partitioned by each row's count
        inner = constant([v for row in rows for v in row], dtype=dtype,
                         ragged_rank=None if ragged_rank is None else int(ragged_rank) - 1)
        return RaggedTensor.from_row_lengths(inner, [len(row) for row in rows])
    for i, row in enumerate(rows):
        if any(isinstance(v, (list, tuple, np.ndarray)) for v in row):
            raise ValueError("tf.ragged.constant: every value must be nested to the same depth, got a row "
                             f"mixing scalars and lists: row {i}")
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        if len(row) and isinstance(row[0], (str, bytes)):
            out[i] = [from_bytes(v) if isinstance(v, bytes) else v for v in row]
            continue
        a = np.asarray(row, dtype=None if dtype is None else str(dtype))
        if dtype is None:
            a = a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.int32) if a.dtype.kind in "iu" else a
        out[i] = a
    # an empty row takes the others' dtype (NumPy makes [] float64, which would turn a ragged
    # tensor of ints into floats when it is padded)
    typed = [r for r in out if isinstance(r, np.ndarray) and r.size]
    if typed:
        common = np.result_type(*typed)
        for i, r in enumerate(out):
            if isinstance(r, np.ndarray) and not r.size:
                out[i] = r.astype(common)
    return out.view(RaggedTensor)


def _dense_row(row, dtype, i):
    """One row of a ``ragged_rank=1`` constant: its inner lists must be rectangular."""
    try:
        a = np.asarray(row, dtype=None if dtype is None else str(dtype))
    except ValueError:
        a = None
    if a is None or a.dtype == object:
        raise ValueError(f"tf.ragged.constant: with ragged_rank=1 the inner lists must all have one length; "
                         f"row {i} does not")
    if dtype is None:
        a = a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.int32) if a.dtype.kind in "iu" else a
    return a


def map_flat_values(op, *args, **kwargs):
    """``op`` on the flat values of the RaggedTensor arguments (positional and keyword), rows
    rebuilt with the first one's row lengths; every RaggedTensor must have the same lengths.
    ``op`` must keep the number of values (an elementwise function)."""
    ragged = [a for a in list(args) + list(kwargs.values()) if isinstance(a, RaggedTensor)]
    if not ragged:
        raise ValueError("tf.ragged.map_flat_values: expected at least one RaggedTensor argument")
    lengths = [len(r) for r in np.asarray(ragged[0])]
    for r in ragged[1:]:
        if [len(x) for x in np.asarray(r)] != lengths:
            raise ValueError("tf.ragged.map_flat_values: the RaggedTensors' row lengths differ")
    flat = lambda a: a.values if isinstance(a, RaggedTensor) else a
    out = op(*[flat(a) for a in args], **{k: flat(v) for k, v in kwargs.items()})
    values = np.asarray(out)
    if values.shape[:1] != (sum(lengths),):
        raise ValueError(f"tf.ragged.map_flat_values: op must keep the {sum(lengths)} values, "
                         f"it returned shape {values.shape}")
    return RaggedTensor.from_row_lengths(values, lengths)


def range(starts, limits=None, deltas=1, dtype=None, name=None, row_splits_dtype="int64"):  # noqa: A001
    """Row i is ``range(starts[i], limits[i], deltas[i])`` (scalars broadcast; with one argument
    the rows count from 0 to it), as TensorFlow's ``tf.ragged.range``."""
    if limits is None:
        starts, limits = 0, starts
    s, l, d = np.broadcast_arrays(np.atleast_1d(starts), np.atleast_1d(limits), np.atleast_1d(deltas))
    if s.ndim != 1:
        raise ValueError(f"tf.ragged.range: starts, limits and deltas must be scalars or vectors, got shape {s.shape}")
    if np.any(d == 0):
        raise ValueError("tf.ragged.range: deltas must not be zero")
    kind = np.result_type(s, l, d) if dtype is None else np.dtype(str(dtype))
    kind = np.float32 if np.dtype(kind).kind == "f" else np.int64 if np.dtype(kind) == np.int64 else np.int32
    rows = [np.arange(a, b, c).astype(kind) for a, b, c in zip(s, l, d)]
    return RaggedTensor._from_rows(rows)
