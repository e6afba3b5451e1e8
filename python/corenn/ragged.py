"""``tf.ragged``: the part of it corenn has. A RaggedTensor here is what ``tf.strings.split`` gives
(``corenn.strings.RaggedTensor``: a 1-D object array of rows, with ``to_tensor``, ``to_list``,
``row_lengths``), for data outside a model; layers and ops take dense Tensors. ``constant``
makes one from rows of numbers or strings; ragged tensors nested deeper than that raise."""
from __future__ import annotations

import numpy as np

from .strings import RaggedTensor, from_bytes

__all__ = ["constant", "RaggedTensor"]


def constant(pylist, dtype=None, ragged_rank=None, inner_shape=None, name=None, row_splits_dtype="int64"):
    """Rows of different lengths: ``tf.ragged.constant([[0, 1, 2, 3], [4, 5], [6, 7, 8], [9]])``.
    Numbers are int32 / float32 as ``tf.constant`` makes them; rows of strings stay strings."""
    rows = list(pylist)
    for i, row in enumerate(rows):
        if not isinstance(row, (list, tuple, np.ndarray)):
            raise ValueError(f"tf.ragged.constant: expected a list of rows, row {i} is {type(row).__name__}")
        if any(isinstance(v, (list, tuple, np.ndarray)) for v in row):
            raise NotImplementedError("tf.ragged.constant: only two levels (a list of rows of scalars) are "
                                      "supported; corenn has no ragged tensors nested deeper")
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        if row and isinstance(row[0], (str, bytes)):
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
