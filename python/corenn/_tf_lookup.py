"""``tf.lookup`` (hash tables over Python dicts), ``tf.sets`` (row-wise set operations) and
``tf.bitwise`` (integer bit operations). No gradients: keys, ids and bits are not
differentiable, as in TensorFlow."""
from __future__ import annotations

import types

import numpy as np

from .kernels import Tensor
from .strings import as_string_array, is_string_array, wrap


def _keys(x):
    """Keys as an array of str (strings) or int64 (numbers)."""
    if is_string_array(x) or isinstance(x, (str, bytes)):
        return as_string_array(x)
    return np.asarray(x).astype(np.int64) if np.asarray(x).dtype.kind in "iub" else np.asarray(x)


def _out(a):
    a = np.asarray(a)
    if a.dtype == object:
        return wrap(a if a.ndim else a[()])
    from ._tf_api import constant
    return constant(a, dtype=str(a.dtype) if a.dtype.kind in "iu" else None)


class KeyValueTensorInitializer:
    """Keys and values of a table given as two equal-length tensors."""

    def __init__(self, keys, values, key_dtype=None, value_dtype=None, name=None):
        self.keys, self.values = _keys(keys).reshape(-1), _keys(values).reshape(-1)
        if self.keys.shape != self.values.shape:
            raise ValueError(f"tf.lookup.KeyValueTensorInitializer: {self.keys.size} keys and {self.values.size} values")
        self.key_dtype, self.value_dtype = key_dtype, value_dtype

    def _items(self):
        return list(zip(self.keys.tolist(), self.values.tolist()))


class TextFileIndex:
    WHOLE_LINE = -2
    LINE_NUMBER = -1


class TextFileInitializer:
    """Keys and values read from a text file: column ``key_index`` / ``value_index`` of each
    line split by ``delimiter`` (TextFileIndex.WHOLE_LINE: the line, LINE_NUMBER: its number)."""

    def __init__(self, filename, key_dtype, key_index, value_dtype, value_index, vocab_size=None, delimiter="\t",
                 name=None, value_index_offset=0):
        self.filename, self.key_index, self.value_index = filename, int(key_index), int(value_index)
        self.key_dtype, self.value_dtype, self.vocab_size, self.delimiter = key_dtype, value_dtype, vocab_size, delimiter

    def _items(self):
        def field(line, number, index, dtype):
            if index == TextFileIndex.LINE_NUMBER:
                return number
            text = line if index == TextFileIndex.WHOLE_LINE else line.split(self.delimiter)[index]
            return text if "string" in str(dtype) else int(text) if "int" in str(dtype) else float(text)
        with open(self.filename, encoding="utf-8") as fh:
            lines = [ln.rstrip("\r\n") for ln in fh]
        if self.vocab_size is not None:
            lines = lines[:int(self.vocab_size)]
        return [(field(ln, i, self.key_index, self.key_dtype), field(ln, i, self.value_index, self.value_dtype))
                for i, ln in enumerate(lines)]


class StaticHashTable:
    """An immutable table: ``lookup(keys)`` gives each key's value, ``default_value`` when
    absent (the result has the keys' shape)."""

    def __init__(self, initializer, default_value, name=None, experimental_is_anonymous=False):
        self._table = dict(initializer._items())
        self.default_value = default_value
        self.key_dtype = getattr(initializer, "key_dtype", None)
        self.value_dtype = getattr(initializer, "value_dtype", None)

    def lookup(self, keys, name=None):
        k = _keys(keys)
        flat = [self._table.get(v, self._default()) for v in k.reshape(-1).tolist()]
        arr = np.array(flat, dtype=object if any(isinstance(v, str) for v in flat) else None).reshape(k.shape)
        return _out(arr)

    def _default(self):
        d = self.default_value
        return d.item() if hasattr(d, "item") else d

    def __getitem__(self, keys):
        return self.lookup(keys)

    def size(self, name=None):
        from ._tf_api import constant
        return constant(np.int64(len(self._table)), dtype="int64")

    def export(self, name=None):
        return _out(np.array(list(self._table), dtype=object if self._table and isinstance(
            next(iter(self._table)), str) else None)), _out(np.array(list(self._table.values())))


class StaticVocabularyTable(StaticHashTable):
    """Keys to ids: the initializer's ids for known keys, and for the others vocab_size +
    FarmHash Fingerprint64(key) % num_oov_buckets (integers hash their decimal text), as
    TensorFlow's table (the buckets tf.strings.to_hash_bucket_fast gives)."""

    def __init__(self, initializer, num_oov_buckets, lookup_key_dtype=None, name=None,
                 experimental_is_anonymous=False):
        super().__init__(initializer, -1)
        self.num_oov_buckets = int(num_oov_buckets)
        if self.num_oov_buckets < 0:
            raise ValueError(f"tf.lookup.StaticVocabularyTable: num_oov_buckets must be >= 0, got {num_oov_buckets}")

    def lookup(self, keys, name=None):
        from .layers._farmhash import fingerprint64
        k = _keys(keys)
        n = len(self._table)
        out = np.empty(k.size, np.int64)
        for i, v in enumerate(k.reshape(-1).tolist()):
            hit = self._table.get(v)
            if hit is not None:
                out[i] = hit
            elif self.num_oov_buckets:
                out[i] = n + fingerprint64(str(v).encode("utf-8")) % self.num_oov_buckets
            else:
                out[i] = -1
        from ._tf_api import constant
        return constant(out.reshape(k.shape), dtype="int64")

    def size(self, name=None):
        from ._tf_api import constant
        return constant(np.int64(len(self._table) + self.num_oov_buckets), dtype="int64")


class MutableHashTable:
    """A table that ``insert`` / ``remove`` change; ``lookup`` as StaticHashTable."""

    def __init__(self, key_dtype, value_dtype, default_value, name="MutableHashTable", checkpoint=True,
                 experimental_is_anonymous=False):
        self.key_dtype, self.value_dtype, self.default_value = key_dtype, value_dtype, default_value
        self._table = {}

    def insert(self, keys, values, name=None):
        k, v = _keys(keys).reshape(-1), _keys(values).reshape(-1)
        if k.size != v.size:
            raise ValueError(f"tf.lookup.MutableHashTable.insert: {k.size} keys and {v.size} values")
        self._table.update(zip(k.tolist(), v.tolist()))

    def remove(self, keys, name=None):
        for key in _keys(keys).reshape(-1).tolist():
            self._table.pop(key, None)

    lookup = StaticHashTable.lookup
    _default = StaticHashTable._default
    size = StaticHashTable.size
    export = StaticHashTable.export
    __getitem__ = StaticHashTable.__getitem__


lookup = types.SimpleNamespace(KeyValueTensorInitializer=KeyValueTensorInitializer, TextFileIndex=TextFileIndex,
                               TextFileInitializer=TextFileInitializer, StaticHashTable=StaticHashTable,
                               StaticVocabularyTable=StaticVocabularyTable, MutableHashTable=MutableHashTable)
lookup.experimental = types.SimpleNamespace(MutableHashTable=MutableHashTable)


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
        return constant(fn(a, b))
    f.__name__ = f.__qualname__ = op
    return f


def _invert(x, name=None):
    from ._tf_api import constant
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"tf.bitwise.invert: needs an integer tensor, got {a.dtype}")
    small = getattr(x, "_tf_int_dtype", None)
    return constant(np.invert(a.astype(small) if small else a), dtype=small)


bitwise = types.SimpleNamespace(bitwise_and=_bit("bitwise_and", np.bitwise_and),
                                bitwise_or=_bit("bitwise_or", np.bitwise_or),
                                bitwise_xor=_bit("bitwise_xor", np.bitwise_xor),
                                left_shift=_bit("left_shift", np.left_shift),
                                right_shift=_bit("right_shift", np.right_shift), invert=_invert)

__all__ = ["lookup", "sets", "bitwise"]
