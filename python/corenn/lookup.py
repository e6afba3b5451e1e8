"""``tf.lookup``: immutable key -> value tables (keras.io's memory-efficient embeddings map each
item to its block with a StaticHashTable; vocabulary lookups with hashed out-of-vocabulary
buckets use StaticVocabularyTable).

    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(keys, values), default_value=-1)
    table.lookup(tf.constant(["b", "z"]))      # values, default_value where a key is missing

Keys are strings or integers, values strings or numbers; a lookup returns a tensor of the keys'
shape with the values' dtype (Python ints are int32, as tf.constant makes them; strings a
string tensor). StaticVocabularyTable gives a key not in the vocabulary the id
``vocab_size + Fingerprint64(key) % num_oov_buckets`` (integer keys hashed as their decimal
text), TensorFlow's buckets. The tables are host dictionaries: lookups run in Python.
"""
from __future__ import annotations

import numpy as np

from . import strings as _strings
from .strings import as_string_array, is_string_array

__all__ = ["KeyValueTensorInitializer", "TextFileIndex", "TextFileInitializer", "StaticHashTable",
           "StaticVocabularyTable", "MutableHashTable", "experimental"]


def _as_keys(x, where):
    """Keys as a NumPy array: str objects for string data, integers otherwise."""
    if is_string_array(x):
        return as_string_array(x, where), "string"
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"tf.lookup.{where}: keys must be strings or integers, got dtype {a.dtype}")
    return a.astype(np.int64), ("int64" if a.dtype == np.int64 and not isinstance(x, (list, tuple)) else "int32")


def _as_values(x, where):
    if is_string_array(x):
        return as_string_array(x, where), "string"
    a = np.asarray(x)
    if isinstance(x, (list, tuple)) and a.dtype.kind in "iu":
        a = a.astype(np.int32)   # Python ints are int32, as tf.constant makes them
    elif a.dtype == np.float64 and isinstance(x, (list, tuple)):
        a = a.astype(np.float32)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"tf.lookup.{where}: values must be strings or numbers, got dtype {a.dtype}")
    return a, a.dtype.name


class KeyValueTensorInitializer:
    """The (keys, values) a table is made from: two 1-D sequences of the same length."""

    def __init__(self, keys, values, key_dtype=None, value_dtype=None, name=None):
        self._keys, self.key_dtype = _as_keys(keys, "KeyValueTensorInitializer")
        self._values, self.value_dtype = _as_values(values, "KeyValueTensorInitializer")
        if key_dtype is not None and self.key_dtype != "string":
            self.key_dtype = str(getattr(key_dtype, "name", key_dtype))
        if value_dtype is not None and self.value_dtype != "string":
            self.value_dtype = str(getattr(value_dtype, "name", value_dtype))
            self._values = self._values.astype(self.value_dtype)
        if self._keys.ndim != 1 or self._values.ndim != 1 or len(self._keys) != len(self._values):
            raise ValueError(f"tf.lookup.KeyValueTensorInitializer: keys and values must be 1-D and of the same "
                             f"length, got shapes {self._keys.shape} and {self._values.shape}")


def _dtype_kind(dtype):
    """A tf dtype (or its name) as the tables name it: "string", or the NumPy name."""
    n = str(getattr(dtype, "name", dtype))
    return "string" if "string" in n else n


class TextFileIndex:
    WHOLE_LINE = -2
    LINE_NUMBER = -1


class TextFileInitializer(KeyValueTensorInitializer):
    """Keys and values read from a text file: column ``key_index`` / ``value_index`` of each
    line split by ``delimiter`` (TextFileIndex.WHOLE_LINE: the line, LINE_NUMBER: its number),
    the first ``vocab_size`` lines."""

    def __init__(self, filename, key_dtype, key_index, value_dtype, value_index, vocab_size=None,
                 delimiter="\t", name=None, value_index_offset=0):

        def field(line, number, index, dtype):
            if index == TextFileIndex.LINE_NUMBER:
                return number + int(value_index_offset)
            parts = line.split(delimiter)
            if index != TextFileIndex.WHOLE_LINE and not 0 <= index < len(parts):
                raise ValueError(f"tf.lookup.TextFileInitializer: line {number + 1} of {filename} has "
                                 f"{len(parts)} fields, no field {index}")
            text = line if index == TextFileIndex.WHOLE_LINE else parts[index]
            return text if _dtype_kind(dtype) == "string" else (int(text) if "int" in _dtype_kind(dtype) else float(text))
        with open(filename, encoding="utf-8") as fh:
            lines = [ln.rstrip("\r\n") for ln in fh]
        if vocab_size is not None:
            lines = lines[:int(vocab_size)]
        keys = [field(ln, i, int(key_index), key_dtype) for i, ln in enumerate(lines)]
        values = [field(ln, i, int(value_index), value_dtype) for i, ln in enumerate(lines)]
        key_kind, value_kind = _dtype_kind(key_dtype), _dtype_kind(value_dtype)
        super().__init__(np.array(keys, dtype=object) if key_kind == "string" else np.asarray(keys, key_kind),
                         np.array(values, dtype=object) if value_kind == "string" else np.asarray(values, value_kind),
                         key_dtype=None if key_kind == "string" else key_kind,
                         value_dtype=None if value_kind == "string" else value_kind)


def _key(v):
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, (str, np.str_)):
        return str(v)
    return int(v)


class _Table:
    def __init__(self, initializer, where):
        if not isinstance(initializer, KeyValueTensorInitializer):
            raise TypeError(f"tf.lookup.{where}: initializer must be a tf.lookup.KeyValueTensorInitializer, "
                            f"got {type(initializer).__name__}")
        self._init = initializer
        self._where = where
        self._map = {}
        for k, v in zip(initializer._keys, initializer._values):
            self._map[_key(k)] = v
        self.key_dtype = initializer.key_dtype

    def _query(self, keys):
        strings = is_string_array(keys)
        if (self.key_dtype == "string") != strings:
            what = "strings" if strings else f"dtype {np.asarray(keys).dtype}"
            raise TypeError(f"tf.lookup.{self._where}.lookup: the table's keys are {self.key_dtype}, got {what}")
        a = as_string_array(keys) if strings else np.asarray(keys)
        if not strings and a.dtype.kind not in "iu":
            raise TypeError(f"tf.lookup.{self._where}.lookup: the table's keys are {self.key_dtype}, got dtype "
                            f"{a.dtype}")
        return a

    def _result(self, out, dtype):
        from ._tf_api import constant
        if dtype == "string":
            return _strings.wrap(out if out.ndim else out[()])
        return constant(np.asarray(out, dtype=dtype), dtype=dtype)

    def size(self, name=None):
        from ._tf_api import constant
        return constant(np.int64(len(self._map)), dtype="int64")

    def __getitem__(self, keys):
        return self.lookup(keys)


class StaticHashTable(_Table):
    """An immutable table: ``lookup(keys)`` gives each key's value, ``default_value`` for a
    missing key."""

    def __init__(self, initializer, default_value, name=None, experimental_is_anonymous=False):
        super().__init__(initializer, "StaticHashTable")
        self.value_dtype = initializer.value_dtype
        if self.value_dtype == "string":
            if not isinstance(default_value, (str, bytes)):
                raise TypeError(f"tf.lookup.StaticHashTable: default_value must be a string for string values, "
                                f"got {default_value!r}")
            self._default = _key(default_value)
        else:
            self._default = np.asarray(default_value).astype(self.value_dtype)
            if self._default.ndim:
                raise ValueError(f"tf.lookup.StaticHashTable: default_value must be a scalar, got shape "
                                 f"{self._default.shape}")
        self.default_value = self._result(np.asarray(self._default, dtype=object if self.value_dtype == "string"
                                                     else self.value_dtype), self.value_dtype)

    def lookup(self, keys, name=None):
        a = self._query(keys)
        flat = a.reshape(-1)
        dtype = object if self.value_dtype == "string" else self.value_dtype
        out = np.empty(flat.shape, dtype=dtype)
        get, default = self._map.get, self._default
        for i, k in enumerate(flat):
            out[i] = get(_key(k), default)
        return self._result(out.reshape(a.shape), self.value_dtype)

    def export(self, name=None):
        return self._result(self._init._keys, self.key_dtype), self._result(self._init._values, self.value_dtype)


class StaticVocabularyTable(_Table):
    """A vocabulary's ids (the initializer's int64 values) with ``num_oov_buckets`` hashed
    buckets after them for the keys not in it: id ``size + Fingerprint64(key) % buckets``."""

    def __init__(self, initializer, num_oov_buckets, lookup_key_dtype=None, name=None,
                 experimental_is_anonymous=False):
        super().__init__(initializer, "StaticVocabularyTable")
        if initializer.value_dtype not in ("int64", "int32"):
            raise TypeError(f"tf.lookup.StaticVocabularyTable: the values must be int64 ids, got "
                            f"{initializer.value_dtype}")
        self.num_oov_buckets = int(num_oov_buckets)
        if self.num_oov_buckets < 0:
            raise ValueError(f"tf.lookup.StaticVocabularyTable: num_oov_buckets must be >= 0, got {num_oov_buckets}")
        self.value_dtype = "int64"

    def size(self, name=None):
        from ._tf_api import constant
        return constant(np.int64(len(self._map) + self.num_oov_buckets), dtype="int64")

    def lookup(self, keys, name=None):
        from .layers._farmhash import fingerprint64
        a = self._query(keys)
        flat = a.reshape(-1)
        out = np.empty(flat.shape, dtype=np.int64)
        n = len(self._map)
        for i, k in enumerate(flat):
            k = _key(k)
            v = self._map.get(k)
            if v is None:
                if not self.num_oov_buckets:
                    raise ValueError(f"tf.lookup.StaticVocabularyTable.lookup: {k!r} is not in the vocabulary and "
                                     "num_oov_buckets is 0")
                v = n + fingerprint64(str(k).encode("utf-8")) % self.num_oov_buckets
            out[i] = v
        return self._result(out.reshape(a.shape), "int64")


class MutableHashTable(StaticHashTable):
    """A table that ``insert`` / ``remove`` change (``tf.lookup.experimental.MutableHashTable``);
    ``lookup`` as StaticHashTable's."""

    def __init__(self, key_dtype, value_dtype, default_value, name="MutableHashTable", checkpoint=True,
                 experimental_is_anonymous=False):
        init = KeyValueTensorInitializer.__new__(KeyValueTensorInitializer)   # empty, of the given dtypes
        init.key_dtype, init.value_dtype = _dtype_kind(key_dtype), _dtype_kind(value_dtype)
        init._keys = np.array([], dtype=object if init.key_dtype == "string" else init.key_dtype)
        init._values = np.array([], dtype=object if init.value_dtype == "string" else init.value_dtype)
        super().__init__(init, default_value)
        self._where = "MutableHashTable"

    def insert(self, keys, values, name=None):
        k = self._query(keys).reshape(-1)
        v = as_string_array(values) if self.value_dtype == "string" else np.asarray(values).astype(self.value_dtype)
        v = np.asarray(v).reshape(-1)
        if k.size != v.size:
            raise ValueError(f"tf.lookup.MutableHashTable.insert: {k.size} keys and {v.size} values")
        for key, value in zip(k, v):
            self._map[_key(key)] = value

    def remove(self, keys, name=None):
        for key in self._query(keys).reshape(-1):
            self._map.pop(_key(key), None)

    def export(self, name=None):
        keys = list(self._map)
        kd = object if self.key_dtype == "string" else self.key_dtype
        vd = object if self.value_dtype == "string" else self.value_dtype
        return (self._result(np.array(keys, dtype=kd), self.key_dtype),
                self._result(np.array([self._map[k] for k in keys], dtype=vd), self.value_dtype))


class experimental:   # noqa: N801 - tf.lookup.experimental
    MutableHashTable = MutableHashTable
