"""Elements of a Dataset: nested tuples / dicts (tf.nest's structures) whose leaves are NumPy
arrays, and the TensorSpec that describes one leaf.

A plain ``tuple`` and a ``dict`` nest; a namedtuple keeps its type. A ``list`` is data (one array)
when a dataset is made from it (``from_tensor_slices([1, 2, 3])``), and a tuple when a ``map``
function returns it, as tf.data does. Python numbers become int32 / float32 arrays as
``tf.constant`` makes them; NumPy arrays keep their dtype (a float64 array stays float64, as in
TensorFlow; ``fit`` casts inputs to float32 itself).
"""
from __future__ import annotations

import numpy as np

__all__ = ["TensorSpec"]


def _dtype_of(dtype):
    """A NumPy dtype for what a script writes as a dtype: 'float32', np.int32, a dtype object
    with a NumPy equivalent (``as_numpy_dtype`` or ``name``), 'string' (object: bytes)."""
    if dtype is None:
        return None
    if isinstance(dtype, str) and dtype == "string":
        return np.dtype(object)
    for candidate in (dtype, getattr(dtype, "as_numpy_dtype", None), getattr(dtype, "name", None)):
        if candidate is None:
            continue
        if isinstance(candidate, str) and candidate == "string":
            return np.dtype(object)
        try:
            return np.dtype(candidate)
        except TypeError:
            continue
    raise TypeError(f"TensorSpec: {dtype!r} is not a dtype (use 'float32', 'int32', 'string', ...)")


def _dtype_name(dtype):
    if dtype.kind in "OSU":
        return "string"
    return dtype.name


class TensorSpec:
    """The shape and dtype of one component of a dataset element (``tf.TensorSpec``).

    ``shape`` is a TensorShape (a tuple with TensorFlow's ``as_list()`` / ``rank``) whose entries
    are ints or None (unknown); ``shape=None`` means that even the rank is unknown. Used by ``Dataset.element_spec`` and ``from_generator(output_signature=...)``.
    """

    def __init__(self, shape, dtype="float32", name=None):
        from ..kernels import TensorShape   # lazily: kernels loads the compiled module
        self.shape = None if shape is None else TensorShape(None if d is None or d == -1 else int(d)
                                                            for d in _as_shape(shape))
        self.dtype = _dtype_of(dtype)
        self.name = name

    @classmethod
    def from_array(cls, a, name=None):
        return cls(a.shape, a.dtype, name)

    def is_compatible_with(self, value):
        """Whether an array (or a TensorSpec) fits this spec: same kind of dtype, same rank, and
        every known dimension equal."""
        other = value if isinstance(value, TensorSpec) else TensorSpec.from_array(np.asarray(value))
        if _dtype_name(self.dtype) != _dtype_name(other.dtype):
            return False
        return shapes_compatible(self.shape, other.shape)

    def most_specific_compatible(self, other):
        """The spec both fit: dimensions that differ become None (for concatenate)."""
        if self.shape is None or other.shape is None or len(self.shape) != len(other.shape):
            shape = None
        else:
            shape = tuple(a if a == b else None for a, b in zip(self.shape, other.shape))
        return TensorSpec(shape, self.dtype, self.name)

    def __eq__(self, other):
        return (isinstance(other, TensorSpec) and self.shape == other.shape
                and _dtype_name(self.dtype) == _dtype_name(other.dtype) and self.name == other.name)

    def __hash__(self):
        return hash((self.shape, _dtype_name(self.dtype), self.name))

    def __repr__(self):
        return f"TensorSpec(shape={self.shape}, dtype={_dtype_name(self.dtype)}, name={self.name!r})"


def _as_shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    if hasattr(shape, "as_list"):   # a TensorShape-like object
        shape = shape.as_list()
    return tuple(shape)


def shapes_compatible(expected, given):
    if expected is None or given is None:
        return True
    return len(expected) == len(given) and all(e is None or g is None or e == g
                                               for e, g in zip(expected, given))


# -- nesting ----------------------------------------------------------------------------------

def is_nest(x):
    return isinstance(x, (tuple, dict))


def flatten(x):
    """The leaves of ``x`` in tf.nest's order (dict keys sorted)."""
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in flatten(x[k])]
    if isinstance(x, tuple):
        return [leaf for item in x for leaf in flatten(item)]
    return [x]


def pack_as(structure, leaves):
    """``structure`` rebuilt with ``leaves`` (in flatten's order)."""
    return _pack(structure, iter(leaves))


def _pack(structure, it):
    if isinstance(structure, dict):
        values = {k: _pack(structure[k], it) for k in sorted(structure)}
        return {k: values[k] for k in structure}   # the caller's key order, as tf.nest keeps it
    if isinstance(structure, tuple):
        items = [_pack(s, it) for s in structure]
        return type(structure)(*items) if hasattr(structure, "_fields") else tuple(items)
    return next(it)


def map_structure(fn, *structures):
    """fn over the leaves of structures of one shape (the first one gives the shape)."""
    flats = [flatten(s) for s in structures]
    return pack_as(structures[0], [fn(*leaves) for leaves in zip(*flats)])


def same_structure(a, b):
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and sorted(a) == sorted(b) and \
            all(same_structure(a[k], b[k]) for k in a)
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) and \
            all(same_structure(x, y) for x, y in zip(a, b))
    return True


def describe(structure):
    """A short text of a structure's shape: (., {'a': .}) for error messages."""
    if isinstance(structure, dict):
        return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in structure.items()) + "}"
    if isinstance(structure, tuple):
        return "(" + ", ".join(describe(v) for v in structure) + ("," if len(structure) == 1 else "") + ")"
    if isinstance(structure, TensorSpec):
        return f"{_dtype_name(structure.dtype)}{list(structure.shape) if structure.shape is not None else '[?]'}"
    return "."


# -- values -----------------------------------------------------------------------------------

def to_array(value, where):
    """One leaf as a NumPy array. Python data (numbers, lists) takes TensorFlow's default dtypes
    (int32, float32); arrays keep theirs; Tensors (corenn's) are copied out."""
    from .. import kernels
    from ..sparse import SparseTensor
    if isinstance(value, (np.ndarray, SparseTensor)):   # a SparseTensor stays one (sliced by rows)
        return value
    if isinstance(value, kernels.Tensor):
        return np.array(value)   # a copy: a layer's output Tensor may be a buffer it reuses
    if isinstance(value, np.generic):
        return np.asarray(value)
    if hasattr(value, "__array__") and not isinstance(value, (list, tuple)):
        return np.asarray(value)   # pandas Series, torch tensors, ...
    if isinstance(value, str):
        return np.asarray(value.encode("utf-8", "surrogateescape"), dtype=object)
    if isinstance(value, bytes):
        return np.asarray(value, dtype=object)
    try:
        a = np.asarray(value)
    except ValueError as exc:   # ragged lists
        raise ValueError(f"{where}: cannot make one array of {type(value).__name__} {_short(value)} "
                         f"({exc}); the rows must all have the same shape (pad them first)") from None
    if a.dtype == np.int64 and (a.size == 0 or (a.min() >= -2**31 and a.max() < 2**31)):
        a = a.astype(np.int32)
    elif a.dtype == np.float64:
        a = a.astype(np.float32)
    elif a.dtype.kind == "U":
        a = np.vectorize(lambda s: s.encode("utf-8", "surrogateescape"), otypes=[object])(a) if a.size else a.astype(object)
    elif a.dtype.kind == "S":   # fixed-width bytes would cut longer strings assigned later
        a = a.astype(object)
    elif a.dtype.kind == "O":
        raise TypeError(f"{where}: cannot make an array of {type(value).__name__} {_short(value)}")
    return a


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def to_element(value, where, lists_are_data):
    """A structure of arrays from what a user gave (from_tensor_slices' argument, a map result)."""
    if isinstance(value, dict):
        return {k: to_element(v, where, lists_are_data) for k, v in value.items()}
    if isinstance(value, tuple):
        items = [to_element(v, where, lists_are_data) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list) and not lists_are_data:
        return tuple(to_element(v, where, lists_are_data) for v in value)
    if value is None:
        raise ValueError(f"{where}: None is not a value a dataset can hold")
    return to_array(value, where)


def spec_of(element):
    return map_structure(lambda a: TensorSpec.from_array(a), element)


class Array(np.ndarray):
    """What iterating a Dataset yields: a NumPy array that also has ``.numpy()``, so scripts
    written for tf.data's eager tensors (``for x, y in ds: x.numpy()``) run. It is an ndarray in
    every other way; ``np.asarray`` gives the plain array back without a copy."""

    def numpy(self):
        plain = self.view(np.ndarray)
        if plain.dtype.kind == "U" or (plain.dtype == object and plain.size
                                        and isinstance(plain.reshape(-1)[0], str)):
            # strings (a CSV column, a map function's StringTensor): TensorFlow's bytes, as
            # StringTensor.numpy() gives them
            from ..strings import StringTensor
            return plain.astype(object).view(StringTensor).numpy()
        return plain[()] if plain.ndim == 0 else plain

    def __getitem__(self, key):
        # an element of a batch is a tensor too in tf.data (``text_batch[0].numpy()``, the
        # "Load text" tutorial): a number comes back as a 0-d Array, a string as ElementBytes
        item = super().__getitem__(key)
        if self.ndim == 0:   # a[()] of a scalar is its value, as NumPy's
            return item
        if isinstance(item, bytes):
            return ElementBytes(item)
        if isinstance(item, np.generic):
            return np.asarray(item).view(Array)
        return item

    def _is_text(self):
        plain = self.view(np.ndarray)
        return plain.dtype == object and plain.size and isinstance(plain.reshape(-1)[0], (bytes, str))

    def _concat(self, other, reverse):
        """``path + file_name`` of a string element: TensorFlow's string ``+`` (tf.strings.join
        of two), bytes joined elementwise with broadcasting; a str operand is UTF-8 encoded."""
        def as_bytes(v):
            return v.encode("utf-8") if isinstance(v, str) else bytes(v)
        a = self.view(np.ndarray)
        b = np.asarray(other, dtype=object)
        left, right = (b, a) if reverse else (a, b)
        out = np.frompyfunc(lambda x, y: as_bytes(x) + as_bytes(y), 2, 1)(left, right)
        return np.asarray(out, dtype=object).view(Array)

    def __add__(self, other):
        if self._is_text() and (isinstance(other, (str, bytes)) or (
                isinstance(other, np.ndarray) and Array._is_text(other.view(Array)))):
            return self._concat(other, False)
        return super().__add__(other)

    def __radd__(self, other):
        if self._is_text() and isinstance(other, (str, bytes)):
            return self._concat(other, True)
        return super().__radd__(other)

    def set_shape(self, shape):
        """TensorFlow's ``t.set_shape(shape)`` (a map function's slices, the time-series
        tutorial): checks ``shape`` (None = any size) against the array's; changes nothing."""
        dims = list(shape.as_list() if hasattr(shape, "as_list") else shape)
        if len(dims) != self.ndim or any(d is not None and int(d) != g for d, g in zip(dims, self.shape)):
            raise ValueError(f"set_shape: shape {tuple(dims)} is not compatible with the array's shape {self.shape}")

    def get_shape(self):
        return self.shape


class ElementBytes(bytes):
    """One string of a Dataset element's batch (``batch[0]``): bytes with TensorFlow's
    ``numpy()``, which gives the bytes."""

    shape = ()
    ndim = 0

    def numpy(self):
        return bytes(self)


def as_eager(element):
    # a RaggedTensor (ragged_batch) keeps its own class and methods
    return map_structure(lambda a: a.view(Array) if isinstance(a, np.ndarray) and type(a).__name__ != "RaggedTensor"
                         else a, element)


def as_numpy(element):
    """as_numpy_iterator's form: plain arrays, 0-d ones as NumPy scalars (bytes for strings)."""
    return map_structure(lambda a: (a[()] if a.ndim == 0 else a) if isinstance(a, np.ndarray) else a,
                         element)
