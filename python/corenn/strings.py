"""``tf.strings``: string operations on corenn's string tensors.

corenn's Tensors hold numbers; a string tensor is a NumPy array of Python ``str`` (dtype
object), and a scalar string is a ``str``. Every function here maps over such an array
elementwise (keeping its shape) or applies to one string, so a TextVectorization
``standardize=`` function written with ``tf.strings`` works on the batch Keras hands it.
``bytes`` inputs are decoded as UTF-8. Results are ``str`` (TensorFlow returns bytes; corenn's
text layers take both). What a user gets back from these functions, ``tf.constant`` and the
lookup layers is wrapped (``wrap``) so that TensorFlow's tensor methods work on it: a
``StringTensor`` (an object-array subclass) and a ``StringScalar`` (a ``str`` subclass) whose
``numpy()`` gives TensorFlow's bytes, and a ``RaggedTensor`` (an object array of rows) with
``to_tensor()`` / ``to_list()`` / ``row_lengths()``. They stay NumPy arrays and ``str``, so
everything that takes strings takes them. Patterns are Python ``re`` patterns, which agree with RE2 (TensorFlow's
engine) on the character classes, escapes and ``\\1`` rewrites that text pipelines use.
"""
from __future__ import annotations

import re

import numpy as np

__all__ = ["to_hash_bucket_fast", "to_hash_bucket", "lower", "upper", "strip", "regex_replace", "regex_full_match", "split", "join",
           "reduce_join", "length", "substr", "as_string", "to_number", "unicode_split",
           "bytes_split", "is_string_array", "as_string_array", "StringTensor", "StringScalar",
           "RaggedTensor", "wrap"]


def to_bytes(s):
    """The bytes of one string element: UTF-8, with the bytes that were not valid UTF-8 when it
    came in (kept as lone surrogates, Python's 'surrogateescape') given back unchanged."""
    return s.encode("utf-8", "surrogateescape")


def from_bytes(b):
    """A ``str`` element from bytes: UTF-8 decoded; bytes that are not UTF-8 (a UTF-16 string,
    a byte slice through a character) kept as lone surrogates so that ``to_bytes`` restores
    them exactly, as TensorFlow's byte strings hold any bytes."""
    return b.decode("utf-8", "surrogateescape")


def _text(v, op):
    if isinstance(v, bytes):
        return from_bytes(v)
    if isinstance(v, str):
        return v
    raise TypeError(f"tf.strings.{op}: expected strings, got {type(v).__name__} {v!r}"[:200])


def is_string_array(x) -> bool:
    """Whether ``x`` is string data: a str / bytes, or an array (or list) of them."""
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "US":
            return True
        return x.dtype.kind == "O" and x.size > 0 and isinstance(x.reshape(-1)[0], (str, bytes))
    if isinstance(x, (list, tuple)) and x:
        first = x[0]
        while isinstance(first, (list, tuple)) and first:
            first = first[0]
        return isinstance(first, (str, bytes))
    return False


def as_string_array(x, op="strings"):
    """``x`` (strings, bytes, nested lists of them) as an object array of ``str``."""
    a = np.asarray(x, dtype=object)
    out = np.empty(a.shape, dtype=object)
    flat_in, flat_out = a.reshape(-1), out.reshape(-1)
    for i, v in enumerate(flat_in):
        flat_out[i] = _text(v, op)
    return out


def _encode(v):
    return to_bytes(v) if isinstance(v, str) else v


class StringScalar(str):
    """One string as TensorFlow hands it out: ``numpy()`` is its UTF-8 bytes."""

    shape = ()
    ndim = 0

    @property
    def dtype(self):
        """tf.string (``x.dtype == tf.string``, as a TensorFlow string scalar answers)."""
        from .dtypes import string
        return string

    def numpy(self):
        return to_bytes(self)

    def __str__(self):
        # bytes that are not UTF-8 (held as lone surrogates) cannot be written to a text stream:
        # shown as TensorFlow shows a string tensor's bytes
        text = str.__str__(self)
        return repr(to_bytes(text)) if _has_surrogates(text) else text


def _has_surrogates(text):
    return any("\ud800" <= ch <= "\udfff" for ch in text)


class StringTensor(np.ndarray):
    """An array of ``str`` (dtype object) with TensorFlow's ``numpy()``: an object array of
    bytes, as ``tf.constant(["a"]).numpy()`` gives. Indexing an element gives a
    ``StringScalar``; results that are not strings (comparisons) are plain arrays."""

    def numpy(self):
        plain = np.asarray(self)
        out = np.empty(plain.shape, dtype=object)
        for idx in np.ndindex(plain.shape):
            out[idx] = _encode(plain[idx])
        return out[()] if out.ndim == 0 else out

    def __getitem__(self, key):
        item = super().__getitem__(key)
        return StringScalar(item) if isinstance(item, str) else item

    def __array_wrap__(self, array, context=None, return_scalar=False):
        if array.dtype != object:
            array = array.view(np.ndarray)
            return array[()] if return_scalar else array
        return super().__array_wrap__(array, context, return_scalar)


class RaggedTensor(np.ndarray):
    """Rows of different lengths (what ``tf.strings.split`` / ``unicode_split`` and a lookup of
    them give): a 1-D object array whose items are the rows, with RaggedTensor's methods."""

    def _rows(self):
        return [np.asarray(r if not isinstance(r, (list, tuple)) or r else np.empty(0, object),
                           dtype=object if _row_is_text(r) else None)
                for r in np.asarray(self)]

    def __getitem__(self, key):
        """TensorFlow's indexing: ``r[i]`` is row i (a tensor with ``numpy()``), ``r[a:b]``
        rows a..b, ``r[rows, cols]`` each selected row sliced by ``cols`` (``target[:, :-1]``:
        every row without its last token; the NMT tutorial's teacher forcing)."""
        if isinstance(key, tuple) and len(key) == 2:
            rows, cols = key
            picked = self[rows]
            if not isinstance(picked, RaggedTensor) or isinstance(rows, (int, np.integer)):
                return picked[cols]   # one row (of values, or of rows): an ordinary index into it
            if not isinstance(cols, slice):
                raise TypeError(f"RaggedTensor: the ragged axis takes a slice, got {cols!r}")
            out = np.empty(len(picked), dtype=object)
            for i, r in enumerate(np.asarray(picked)):
                out[i] = r[cols]
            return out.view(RaggedTensor)
        item = super().__getitem__(key)
        if isinstance(key, (int, np.integer)):
            return _row_tensor(item)
        return item

    def __iter__(self):
        return (_row_tensor(r) for r in np.asarray(self))

    def __repr__(self):
        """TensorFlow's form: ``<tf.RaggedTensor [[3, 1, 4, 1], [], [5, 9, 2]]>``."""
        return f"<tf.RaggedTensor {self.to_list()}>"

    __str__ = __repr__

    @property
    def shape(self):
        """TensorFlow's static shape: (nrows, None, ...) -- None for each ragged dimension (even
        when the rows happen to be of one length), then the inner dimensions the rows share
        (``tf.ragged.constant([[1, 2], [3]]).shape`` is (2, None))."""
        from .kernels import TensorShape
        inner = None
        for r in np.asarray(self):
            dims = tuple(r.shape[1:]) if isinstance(r, np.ndarray) else ()
            inner = dims if inner is None else tuple(
                a if a == b else None for a, b in zip(inner, dims)) if len(inner) == len(dims) else inner
        return TensorShape((len(self), None) + (inner or ()))

    def get_shape(self):
        return self.shape

    @property
    def ragged_rank(self):
        """How many dimensions are ragged (1, or 2 for rows of RaggedTensor rows, ...)."""
        rows = [r for r in np.asarray(self) if isinstance(r, RaggedTensor)]
        return 1 + (max(r.ragged_rank for r in rows) if rows else 0)

    def merge_dims(self, outer_axis, inner_axis):
        """TensorFlow's ``merge_dims``: dimensions outer_axis..inner_axis become one. Merging
        from axis 0 drops ragged levels (``(B, None, None)`` merged over 0..1 is the
        ``(total, None)`` RaggedTensor of all inner rows; ``(B, None)`` over 0..1 the flat
        values); from a later axis each row is merged."""
        rank = len(self.shape)
        o, i = int(outer_axis), int(inner_axis)
        o, i = o + rank if o < 0 else o, i + rank if i < 0 else i
        if not 0 <= o <= i < rank:
            raise ValueError(f"RaggedTensor.merge_dims: need 0 <= outer_axis <= inner_axis < rank {rank}, got "
                             f"outer_axis={outer_axis}, inner_axis={inner_axis}")
        if o == i:
            return self
        if o > 0:   # merge inside every row: the row's axes are one lower
            rows = [r.merge_dims(o - 1, i - 1) if isinstance(r, RaggedTensor)
                    else np.asarray(r).reshape(np.asarray(r).shape[:o - 1] + (-1,) + np.asarray(r).shape[i:])
                    for r in np.asarray(self)]
            return RaggedTensor._from_rows(rows)
        out = self
        for _ in range(i):
            if isinstance(out, RaggedTensor):
                out = out.values
            else:   # dense values below the ragged levels: (n, d, ...) -> (n * d, ...)
                from . import ops
                out = ops.reshape(out, (-1,) + tuple(out.shape[2:]))
        return out

    def row_lengths(self):
        from . import _tf_api
        return _tf_api.constant(np.array([len(r) for r in np.asarray(self)], np.int64), dtype="int64")

    def row_starts(self):
        """Where each row starts in ``values`` (row_splits without its last entry), int64."""
        from . import _tf_api
        lengths = np.array([len(r) for r in np.asarray(self)], np.int64)
        return _tf_api.constant(np.cumsum(lengths) - lengths, dtype="int64")

    def row_limits(self):
        """Where each row ends in ``values`` (row_splits without its first entry), int64."""
        from . import _tf_api
        return _tf_api.constant(np.cumsum([len(r) for r in np.asarray(self)]).astype(np.int64), dtype="int64")

    def to_list(self):
        return [r.to_list() if isinstance(r, RaggedTensor)
                else [_encode(v) for v in np.asarray(r, dtype=object).reshape(-1)] if _row_is_text(r)
                else np.asarray(r).tolist() for r in np.asarray(self)]

    def numpy(self):
        out = np.empty(len(self), dtype=object)
        for i, r in enumerate(np.asarray(self)):
            out[i] = np.array([_encode(v) for v in r], dtype=object) if _row_is_text(r) else np.asarray(r)
        return out

    # -- TensorFlow's constructors and row-partition views ------------------------------------
    @classmethod
    def _from_rows(cls, rows):
        out = np.empty(len(rows), dtype=object)
        for i, r in enumerate(rows):
            out[i] = r
        return out.view(cls)

    @classmethod
    def from_row_splits(cls, values, row_splits, name=None, validate=True):
        """Rows values[row_splits[i]:row_splits[i + 1]] (row_splits starts at 0, ends at len).
        ``values`` may itself be a RaggedTensor: rows of rows (two ragged levels)."""
        if isinstance(values, RaggedTensor):
            s = np.asarray(row_splits).astype(np.int64).reshape(-1)
            if validate and (s.size == 0 or s[0] != 0 or s[-1] != len(values) or np.any(np.diff(s) < 0)):
                raise ValueError(f"tf.RaggedTensor.from_row_splits: row_splits must rise from 0 to {len(values)}, "
                                 f"got {s.tolist()[:10]}")
            return cls._from_rows([np.asarray(values)[a:b].view(RaggedTensor) for a, b in zip(s[:-1], s[1:])])
        v = values.numpy() if isinstance(values, StringTensor) else np.asarray(values)
        s = np.asarray(row_splits).astype(np.int64).reshape(-1)
        if validate and (s.size == 0 or s[0] != 0 or s[-1] != len(v) or np.any(np.diff(s) < 0)):
            raise ValueError(f"tf.RaggedTensor.from_row_splits: row_splits must rise from 0 to {len(v)}, got "
                             f"{s.tolist()[:10]}")
        text = v.dtype == object
        return cls._from_rows([[_text(t, "RaggedTensor") for t in v[a:b]] if text else v[a:b].copy()
                               for a, b in zip(s[:-1], s[1:])])

    @classmethod
    def from_uniform_row_length(cls, values, uniform_row_length, nrows=None, validate=True, name=None):
        """Rows of ``uniform_row_length`` values each (``values`` a RaggedTensor: rows of rows)."""
        n, total = int(uniform_row_length), len(values)
        if n < 0 or (n == 0 and total) or (n and total % n):
            raise ValueError(f"tf.RaggedTensor.from_uniform_row_length: {total} values do not split into rows "
                             f"of {uniform_row_length}")
        count = (total // n if n else int(nrows or 0))
        return cls.from_row_lengths(values, [n] * count, validate=validate)

    @classmethod
    def from_row_lengths(cls, values, row_lengths, name=None, validate=True):
        lengths = np.asarray(row_lengths).astype(np.int64).reshape(-1)
        if validate and (lengths < 0).any():
            raise ValueError("tf.RaggedTensor.from_row_lengths: row_lengths must be >= 0")
        return cls.from_row_splits(values, np.concatenate([[0], np.cumsum(lengths)]), validate=validate)

    @classmethod
    def from_row_starts(cls, values, row_starts, name=None, validate=True):
        """Rows starting at ``row_starts`` (the last runs to the end of ``values``)."""
        starts = np.asarray(row_starts).astype(np.int64).reshape(-1)
        n = len(values.numpy() if isinstance(values, StringTensor) else np.asarray(values))
        return cls.from_row_splits(values, np.concatenate([starts, [n]]), validate=validate)

    @classmethod
    def from_row_limits(cls, values, row_limits, name=None, validate=True):
        """Rows ending (exclusively) at ``row_limits``; the first starts at 0."""
        limits = np.asarray(row_limits).astype(np.int64).reshape(-1)
        return cls.from_row_splits(values, np.concatenate([[0], limits]), validate=validate)

    @classmethod
    def from_value_rowids(cls, values, value_rowids, nrows=None, name=None, validate=True):
        ids = np.asarray(value_rowids).astype(np.int64).reshape(-1)
        if validate and np.any(np.diff(ids) < 0):
            raise ValueError("tf.RaggedTensor.from_value_rowids: value_rowids must be sorted")
        n = int(nrows) if nrows is not None else (int(ids[-1]) + 1 if ids.size else 0)
        return cls.from_row_lengths(values, np.bincount(ids, minlength=n)[:n], validate=validate)

    @classmethod
    def from_tensor(cls, tensor, lengths=None, padding=None, ragged_rank=1, name=None, row_splits_dtype="int64"):
        """The rows of a 2-D tensor, cut to ``lengths`` or before trailing ``padding``."""
        a = tensor.numpy() if isinstance(tensor, StringTensor) else np.asarray(tensor)
        if a.ndim != 2:
            raise ValueError(f"tf.RaggedTensor.from_tensor: needs a 2-D tensor, got shape {a.shape}")
        if lengths is not None:
            ls = np.asarray(lengths).astype(np.int64).reshape(-1)
        elif padding is not None:
            pad = _encode(padding) if a.dtype == object else padding
            keep = a != pad
            ls = np.array([int(np.flatnonzero(r).max()) + 1 if r.any() else 0 for r in keep], np.int64)
        else:
            ls = np.full(a.shape[0], a.shape[1], np.int64)
        return cls.from_row_lengths(np.concatenate([a[i, :n] for i, n in enumerate(ls)]) if len(a) else a.reshape(-1), ls)

    @classmethod
    def from_nested_row_splits(cls, flat_values, nested_row_splits, name=None, validate=True):
        if len(nested_row_splits) != 1:
            raise NotImplementedError("tf.RaggedTensor.from_nested_row_splits: corenn's ragged tensors have one "
                                      "ragged level")
        return cls.from_row_splits(flat_values, nested_row_splits[0], validate=validate)

    @property
    def values(self):
        """All rows' values concatenated (a Tensor of numbers or a StringTensor); rows of
        RaggedTensor rows give the RaggedTensor of all inner rows, rows with uniform inner
        dimensions (``ragged_constant(..., ragged_rank=1)``) a (total, ...) Tensor."""
        raw = list(np.asarray(self))
        if raw and any(isinstance(r, RaggedTensor) for r in raw):
            return RaggedTensor._from_rows([inner for r in raw for inner in np.asarray(r)])
        if any(_row_is_text(r) for r in raw):
            rows = [np.asarray(r, dtype=object).reshape(-1) for r in raw]
            return wrap(np.concatenate(rows).astype(object) if rows else np.empty(0, object))
        from . import _tf_api
        rows = [np.asarray(r) for r in raw]
        inner = max((r.shape[1:] for r in rows if r.size), key=len, default=())
        rows = [r.reshape((0,) + inner) if not r.size else r for r in rows]
        flat = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        return _tf_api.constant(flat)

    @property
    def flat_values(self):
        """The innermost values, every ragged level removed (a Tensor or a StringTensor)."""
        values = self.values
        return values.flat_values if isinstance(values, RaggedTensor) else values

    def to_sparse(self, name=None):
        """A ``tf.SparseTensor`` holding each value at (row, position in row); dense_shape
        (nrows, longest row)."""
        from .sparse import SparseTensor
        rows = list(np.asarray(self))
        idx = [(i, j) for i, r in enumerate(rows) for j in range(len(r))]
        width = max((len(r) for r in rows), default=0)
        vals = np.asarray(self.values)
        if vals.dtype == object:
            vals = np.array([_encode(v) for v in vals], dtype=object)
        return SparseTensor(np.array(idx, np.int64).reshape(-1, 2), vals, [len(rows), width])

    @classmethod
    def from_sparse(cls, st_input, name=None, row_splits_dtype="int64"):
        """The rows of a 2-D SparseTensor whose indices are in row-major order and dense within
        each row (what ``to_sparse`` gives): row i holds the values listed for row i."""
        shape = [int(d) for d in np.asarray(st_input.dense_shape).reshape(-1)]
        if len(shape) != 2:
            raise ValueError(f"tf.RaggedTensor.from_sparse: needs a 2-D SparseTensor, got dense_shape {shape}")
        idx = np.asarray(st_input.indices).reshape(-1, 2)
        order = np.lexsort((idx[:, 1], idx[:, 0]))
        if not np.array_equal(order, np.arange(len(idx))):
            raise ValueError("tf.RaggedTensor.from_sparse: the SparseTensor's indices must be in row-major order")
        lengths = np.bincount(idx[:, 0], minlength=shape[0])[:shape[0]] if len(idx) else np.zeros(shape[0], np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if shape[0] else lengths
        if len(idx) and not np.array_equal(idx[:, 1], np.arange(len(idx)) - np.repeat(starts, lengths)):
            raise ValueError("tf.RaggedTensor.from_sparse: each row's columns must run 0, 1, 2, ... without gaps")
        return cls.from_row_lengths(np.asarray(st_input.values), lengths)

    @property
    def row_splits(self):
        from . import _tf_api
        lengths = [len(r) for r in np.asarray(self)]
        return _tf_api.constant(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), dtype="int64")

    def nrows(self, out_type=None, name=None):
        from . import _tf_api
        return _tf_api.constant(np.int64(len(self)), dtype="int64")

    def value_rowids(self, name=None):
        from . import _tf_api
        return _tf_api.constant(np.repeat(np.arange(len(self)), [len(r) for r in np.asarray(self)]).astype(np.int64),
                                dtype="int64")

    def to_tensor(self, default_value=None, shape=None):
        """The rows padded at the end to the longest (or to ``shape``) with ``default_value``
        (0, or '' for strings): a Tensor of numbers or a StringTensor."""
        text = any(_row_is_text(r) for r in np.asarray(self))
        nested = any(isinstance(r, RaggedTensor) for r in np.asarray(self))
        if not text and (nested or any(np.ndim(r) > 1 for r in np.asarray(self))):
            return self._to_dense_nd(default_value, shape)
        rows = [np.asarray(r, dtype=object).reshape(-1) if _row_is_text(r) else np.asarray(r).reshape(-1)
                for r in np.asarray(self)]
        width = max((len(r) for r in rows), default=0)
        height = len(rows)
        if shape is not None:
            height = height if shape[0] is None else int(shape[0])
            width = width if shape[-1] is None else int(shape[-1])
        if text:
            out = np.full((height, width), "" if default_value is None else _text(default_value, "to_tensor"),
                          dtype=object)
        else:
            kind = np.result_type(*[r.dtype for r in rows]) if rows else np.int64
            out = np.full((height, width), 0 if default_value is None else default_value, dtype=kind)
        for i, r in enumerate(rows[:height]):
            n = min(len(r), width)
            out[i, :n] = [_text(v, "to_tensor") for v in r[:n]] if text else r[:n]
        if text:
            return out.view(StringTensor)
        from . import _tf_api
        return _tf_api.constant(out, dtype=str(out.dtype))


class DynamicRaggedShape:
    """What ``tf.shape`` gives for a RaggedTensor: the number of rows, each ragged level's row
    lengths, then the uniform inner sizes. Indexing a uniform dimension gives its size (an int32
    scalar Tensor); a ragged one raises, as TensorFlow's."""

    def __init__(self, ragged):
        self._static = tuple(ragged.shape)
        levels, rows = [], list(np.asarray(ragged))
        while rows and any(isinstance(r, RaggedTensor) for r in rows):
            levels.append(tuple(len(r) for r in rows))
            rows = [inner for r in rows for inner in np.asarray(r)]
        levels.append(tuple(len(r) for r in rows))
        self._lengths = [len(ragged)] + levels + list(self._static[1 + len(levels):])
        self.num_row_partitions = len(levels)

    @property
    def rank(self):
        return len(self._static)

    def static_lengths(self):
        return list(self._static)

    def __len__(self):
        return self.rank

    def __getitem__(self, index):
        from . import _tf_api
        i = int(index)
        i = i + self.rank if i < 0 else i
        if not 0 <= i < self.rank:
            raise IndexError(f"DynamicRaggedShape: index {index} is out of range for rank {self.rank}")
        if 1 <= i <= self.num_row_partitions:
            raise ValueError(f"Index {index} is not uniform")
        return _tf_api.constant(np.int32(self._lengths[i]), dtype="int32")

    def __repr__(self):
        shown = [str(v) if isinstance(v, int) else "(" + ", ".join(str(n) for n in v) + (",)" if len(v) == 1 else ")")
                 for v in self._lengths]
        return f"<DynamicRaggedShape lengths=[{', '.join(shown)}] num_row_partitions={self.num_row_partitions}>"


def _dense_nd(self, default_value, shape):
    """to_tensor of numeric rows of rank > 1 (rows of RaggedTensor rows, padded inside first,
    or rows with inner dimensions): every dimension padded to its largest size, or to ``shape``."""
    rows = [np.asarray(r.to_tensor(default_value)) if isinstance(r, RaggedTensor) else np.asarray(r)
            for r in np.asarray(self)]
    rank = max(r.ndim for r in rows)
    full = [r for r in rows if r.ndim == rank]
    dims = [len(rows)] + [max(r.shape[k] for r in full) for k in range(rank)]
    if shape is not None:
        shape = list(shape)
        if len(shape) != len(dims):
            raise ValueError(f"RaggedTensor.to_tensor: shape {shape} has {len(shape)} dimensions, the ragged "
                             f"tensor {len(dims)}")
        dims = [d if s is None else int(s) for d, s in zip(dims, shape)]
    kind = np.result_type(*[r.dtype for r in full])
    out = np.full(dims, 0 if default_value is None else default_value, dtype=kind)
    for i, r in enumerate(rows[:dims[0]]):
        if r.ndim != rank:   # an empty row
            continue
        cut = tuple(slice(0, min(n, d)) for n, d in zip(r.shape, dims[1:]))
        out[(i,) + cut] = r[cut]
    from . import _tf_api
    return _tf_api.constant(out, dtype=str(out.dtype))


RaggedTensor._to_dense_nd = _dense_nd


def _row_tensor(row):
    """One row of a RaggedTensor as a tensor: strings a StringTensor, numbers an array with
    ``numpy()`` (as tf.data's elements); a row of rows stays a RaggedTensor."""
    if isinstance(row, RaggedTensor):
        return row
    if _row_is_text(row):
        return as_string_array(row).view(StringTensor)
    from .data._structure import Array
    return np.asarray(row).view(Array)


def _row_is_text(row):
    first = next(iter(np.asarray(row, dtype=object).reshape(-1)), None)
    return isinstance(first, (str, bytes))


def wrap(x):
    """``x`` as a user should receive it: str -> StringScalar, an object array of str ->
    StringTensor, an object array of rows -> RaggedTensor; anything else unchanged."""
    if isinstance(x, bytes):
        x = from_bytes(x)
    if isinstance(x, str):
        return x if isinstance(x, StringScalar) else StringScalar(x)
    if isinstance(x, np.ndarray) and not isinstance(x, (StringTensor, RaggedTensor)) and x.dtype == object:
        if x.ndim == 0 and isinstance(x[()], (str, bytes)):
            return wrap(x[()])
        if x.ndim == 1 and x.size and all(isinstance(r, (list, tuple, np.ndarray)) for r in x):
            return x.view(RaggedTensor)
        if x.size == 0 or isinstance(x.reshape(-1)[0], str):
            return x.view(StringTensor)
    return x


def _per_row(x, fn, empty_dtype):
    """A string op applied to each row of a RaggedTensor of strings: a RaggedTensor of the
    results, row lengths kept (an empty row stays empty)."""
    return RaggedTensor._from_rows([np.asarray(fn(list(np.asarray(r, dtype=object).reshape(-1))))
                                    if len(r) else np.empty(0, empty_dtype) for r in np.asarray(x)])


def _map(fn, x, op):
    if isinstance(x, RaggedTensor):
        return _per_row(x, lambda row: _map(fn, row, op), object)
    if isinstance(x, (str, bytes)):
        return wrap(fn(_text(x, op)))
    a = as_string_array(x, op)
    if a.ndim == 0:   # one string held in an array (a Dataset element in map): as a str
        return wrap(fn(_text(a[()], op)))
    out = np.empty(a.shape, dtype=object)
    flat_in, flat_out = a.reshape(-1), out.reshape(-1)
    for i, v in enumerate(flat_in):
        flat_out[i] = fn(v)
    return wrap(out)


def lower(input, encoding="", name=None):  # noqa: A002 - TensorFlow's argument name
    return _map(str.lower, input, "lower")


def upper(input, encoding="", name=None):  # noqa: A002
    return _map(str.upper, input, "upper")


def strip(input, name=None):  # noqa: A002
    return _map(str.strip, input, "strip")


def _re2_rewrite(rewrite, compiled, op):
    """RE2's rewrite string as a function of a match: ``\\0`` the whole match, ``\\1`` ..
    ``\\9`` a group, ``\\\\`` a backslash, everything else literal (Python's templates read
    ``\\0`` as a NUL character and ``\\n`` as a newline, so they are not used)."""
    parts, i, literal = [], 0, []
    while i < len(rewrite):
        c = rewrite[i]
        if c != "\\":
            literal.append(c)
            i += 1
            continue
        nxt = rewrite[i + 1] if i + 1 < len(rewrite) else ""
        if nxt == "\\":
            literal.append("\\")
        elif nxt.isdigit():
            group = int(nxt)
            if group > compiled.groups:
                raise ValueError(f"tf.strings.{op}: rewrite {rewrite!r} refers to group {group}, but the pattern "
                                 f"has {compiled.groups} group(s)")
            parts.append("".join(literal))
            literal = []
            parts.append(group)
        else:
            raise ValueError(f"tf.strings.{op}: invalid rewrite pattern {rewrite!r}: a backslash must be followed "
                             "by a digit (a group) or another backslash")
        i += 2
    parts.append("".join(literal))
    if len(parts) == 1:
        text = parts[0]
        return lambda m: text
    return lambda m: "".join(p if isinstance(p, str) else (m.group(p) or "") for p in parts)


def regex_replace(input, pattern, rewrite, replace_global=True, name=None):  # noqa: A002
    """Replace matches of ``pattern`` by ``rewrite`` in RE2's syntax (``\\0`` the match,
    ``\\1`` a group: the NMT tutorial's ``r' \\0 '``), every match or only the first
    (replace_global=False)."""
    compiled = re.compile(pattern)
    count = 0 if replace_global else 1
    repl = _re2_rewrite(str(rewrite), compiled, "regex_replace")
    return _map(lambda s: compiled.sub(repl, s, count=count), input, "regex_replace")


def regex_full_match(input, pattern, name=None):  # noqa: A002
    compiled = re.compile(pattern)
    out = _map(lambda s: compiled.fullmatch(s) is not None, input, "regex_full_match")
    return out if isinstance(out, bool) else out.astype(bool)


def split(input, sep=None, maxsplit=-1, name=None):  # noqa: A002
    """Split on ``sep`` (None: runs of whitespace). One string gives its tokens as a 1-D string
    tensor, as TensorFlow's (so ``split(path, os.path.sep)[-1].numpy()`` is bytes); a batch of
    strings one token list per string (a RaggedTensor)."""
    def one(s):
        return s.split(sep, maxsplit) if sep is not None else s.split(None, maxsplit)
    return _split_each(one, input, "split")


def unicode_split(input, input_encoding="UTF-8", errors="replace", name=None):  # noqa: A002
    """The characters of each string: a 1-D string tensor for one string, one list per string
    (a RaggedTensor) for a batch."""
    return _split_each(list, input, "unicode_split")


def _split_each(fn, input, op):  # noqa: A002
    out = _map(fn, input, op)
    if isinstance(out, list):   # one string: its pieces as a 1-D string tensor, as TensorFlow's
        return wrap(np.array(out, dtype=object) if out else np.empty(0, dtype=object))
    return out


def bytes_split(input, name=None):  # noqa: A002
    """The single bytes of each string (a multi-byte character gives several elements)."""
    return _split_each(lambda s: [from_bytes(bytes([b])) for b in to_bytes(s)], input, "bytes_split")


def join(inputs, separator="", name=None):
    """Elementwise concatenation of several strings / string arrays; RaggedTensors of strings
    join row by row (their rows of the same lengths; a string is repeated along each row)."""
    ragged = [v for v in inputs if isinstance(v, RaggedTensor)]
    if ragged:
        lengths = [len(r) for r in np.asarray(ragged[0])]
        if any([len(r) for r in np.asarray(v)] != lengths for v in ragged):
            raise ValueError("tf.strings.join: the RaggedTensors' rows differ in length")
        rows = []
        for i, n in enumerate(lengths):
            parts = [list(np.asarray(v)[i]) if isinstance(v, RaggedTensor) else [_text(v, "join")] * n for v in inputs]
            rows.append(np.array([separator.join(_text(t, "join") for t in ts) for ts in zip(*parts)], dtype=object)
                        if n else np.empty(0, object))
        return RaggedTensor._from_rows(rows)
    arrays = [as_string_array(v, "join") for v in inputs]
    if all(a.ndim == 0 for a in arrays):
        return wrap(separator.join(a[()] for a in arrays))
    b = np.broadcast_arrays(*arrays)
    out = np.empty(b[0].shape, dtype=object)
    for idx in np.ndindex(out.shape):
        out[idx] = separator.join(a[idx] for a in b)
    return wrap(out)


def reduce_join(inputs, axis=None, keepdims=False, separator="", name=None):
    """Join the strings along ``axis`` (None: all of them, into one string). A ragged batch (an
    object array of token lists, as split gives) joins each row along axis -1."""
    if isinstance(inputs, np.ndarray) and inputs.dtype == object and inputs.ndim == 1 and inputs.size \
            and all(isinstance(r, (list, tuple, np.ndarray)) for r in inputs) and axis in (-1, 1):
        out = np.empty(len(inputs), dtype=object)
        for i, row in enumerate(inputs):
            out[i] = separator.join(_text(t, "reduce_join") for t in np.asarray(row, dtype=object).reshape(-1))
        return wrap(out)
    a = as_string_array(inputs, "reduce_join")
    if axis is None:
        return wrap(separator.join(a.reshape(-1)))
    # (not np.apply_along_axis: it sizes a fixed-width result by the first join and cuts the
    # longer ones, the NMT tutorial's translations lost their ends)
    ax = int(axis) % a.ndim if a.ndim else 0
    moved = np.moveaxis(a, ax, -1)
    out = np.empty(moved.shape[:-1], dtype=object)
    for idx in np.ndindex(out.shape):
        out[idx] = separator.join(moved[idx])
    return wrap(np.expand_dims(out, ax) if keepdims else out)


def to_hash_bucket_fast(input, num_buckets, name=None):  # noqa: A002
    """FarmHash Fingerprint64 of each string's UTF-8 bytes modulo ``num_buckets`` (int64), the
    same buckets as TensorFlow (and as layers.Hashing)."""
    from .layers._farmhash import fingerprint64
    n = int(num_buckets)
    if n < 1:
        raise ValueError(f"tf.strings.to_hash_bucket_fast: num_buckets must be >= 1, got {num_buckets}")
    if isinstance(input, RaggedTensor):   # the rows' buckets: an int64 RaggedTensor
        return _per_row(input, lambda row: to_hash_bucket_fast(row, n), np.int64)
    out = _map(lambda s: fingerprint64(to_bytes(s)) % n, input, "to_hash_bucket_fast")
    return np.int64(out) if isinstance(out, int) else np.asarray(out).astype(np.int64)


def to_hash_bucket(input, num_buckets, name=None):  # noqa: A002
    """Refused: TensorFlow's to_hash_bucket uses its legacy Hash64, which corenn does not have
    (its buckets would differ silently); to_hash_bucket_fast is FarmHash, as TensorFlow's."""
    raise NotImplementedError("tf.strings.to_hash_bucket (TensorFlow's legacy hash) is not available; use "
                              "tf.strings.to_hash_bucket_fast, which gives TensorFlow's buckets for that function")


def length(input, unit="BYTE", name=None):  # noqa: A002
    """Lengths in bytes (UTF-8) or, with unit='UTF8_CHAR', in characters; int32."""
    if unit not in ("BYTE", "UTF8_CHAR"):
        raise ValueError(f"tf.strings.length: unit must be 'BYTE' or 'UTF8_CHAR', got {unit!r}")
    fn = (lambda s: len(to_bytes(s))) if unit == "BYTE" else len
    if isinstance(input, RaggedTensor):
        return _per_row(input, lambda row: length(row, unit), np.int32)
    out = _map(fn, input, "length")
    from .data._structure import Array   # NumPy ints with TensorFlow's .numpy()
    return np.asarray(out, dtype=np.int32).view(Array)


def substr(input, pos, len, unit="BYTE", name=None):  # noqa: A002 - TensorFlow's names
    size = len
    if unit == "BYTE":
        return _map(lambda s: from_bytes(to_bytes(s)[pos:pos + size]), input, "substr")
    return _map(lambda s: s[pos:pos + size], input, "substr")


def as_string(input, precision=-1, scientific=False, shortest=False, width=-1, fill="", name=None):  # noqa: A002
    """Each number as a string, as TensorFlow formats it: floats fixed with 6 digits ("%f"),
    ``precision`` digits, ``scientific`` ("%e"), ``shortest`` ("%g"); bools "true" / "false";
    ``width`` pads on the left with ``fill`` (one character, " " by default)."""
    a = np.asarray(input)
    if len(fill) > 1:
        raise ValueError(f"tf.strings.as_string: fill must be at most one character, got {fill!r}")
    if scientific and shortest:
        raise ValueError("tf.strings.as_string: cannot use both scientific and shortest")
    if a.dtype.kind == "f":
        code = "e" if scientific else "g" if shortest else "f"
        prec = f".{precision}" if precision >= 0 else ""
        # Python floats and lists are float32 in TensorFlow; a float64 NumPy array stays float64
        typed = a if (a.dtype == np.float64 and isinstance(input, np.ndarray)) else a.astype(np.float32)
        fmt = (lambda v: ("%" + prec + code) % v)
        vals = typed
    elif a.dtype.kind == "b":
        fmt, vals = (lambda v: "true" if v else "false"), a
    elif a.dtype.kind in "iu":
        fmt, vals = str, a
    else:
        fmt, vals = str, a
    out = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(a.shape):
        text = fmt(vals[idx].item())
        if width > len(text):
            pad = fill or " "
            text = (("-" + text[1:].rjust(width - 1, "0")) if pad == "0" and text.startswith("-")
                    else text.rjust(width, pad))
        out[idx] = text
    return out if a.ndim else out.item()


def to_number(string_tensor, out_type="float32", name=None):
    """The numbers the strings spell, as a Tensor of ``out_type`` (float32 by default), as
    TensorFlow returns."""
    from . import _tf_api
    if isinstance(string_tensor, RaggedTensor):   # row by row: a RaggedTensor of numbers, as TensorFlow
        return RaggedTensor._from_rows([np.asarray(to_number(r, out_type)) if not isinstance(r, RaggedTensor)
                                        else to_number(r, out_type) for r in np.asarray(string_tensor)])
    out = np.asarray(_map(float, string_tensor, "to_number"), dtype=np.dtype(str(out_type)))
    return _tf_api.constant(out, dtype=out.dtype.name)


# to_hash_bucket_strong (SipHash), format, ngrams, the unicode family, unsorted_segment_join
from ._strings_more import (format, ngrams, to_hash_bucket_strong, unicode_decode,  # noqa: E402,F401,A004
                            unicode_decode_with_offsets, unicode_encode, unicode_script, unicode_split_with_offsets,
                            unicode_transcode, unsorted_segment_join)

__all__ += ["to_hash_bucket_strong", "format", "ngrams", "unicode_decode", "unicode_decode_with_offsets",
            "unicode_encode", "unicode_transcode", "unicode_split_with_offsets", "unicode_script",
            "unsorted_segment_join"]
