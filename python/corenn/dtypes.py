"""TensorFlow's dtype objects (``tf.float32``, ``tf.string``, ...) for scripts written against
``import tensorflow as tf``.

A ``DType`` is a ``str`` holding the NumPy name, so it goes wherever corenn, Keras 3 and NumPy
take a dtype name (``Input(dtype=tf.int64)``, ``ops.cast(x, tf.float32)``,
``np.asarray(a, tf.float32)``) and compares equal to the NumPy dtype and to the name
(``t.dtype == tf.float32``). ``tf.string`` is the one that NumPy has no fixed-size type for: an
array of Python strings (dtype object) is corenn's string tensor.
"""
from __future__ import annotations

import numpy as np

__all__ = ["DType", "as_dtype", "storage_dtype", "float16", "float32", "float64", "half", "double", "int8",
           "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool", "string", "complex64",
           "complex128"]


class DType(str):
    """A dtype name with TensorFlow's DType attributes (name, as_numpy_dtype, is_floating, ...)."""

    __slots__ = ()

    @property
    def name(self):
        return str(self)

    @property
    def as_numpy_dtype(self):
        return np.object_ if str(self) == "string" else np.dtype(str(self)).type

    @property
    def is_floating(self):
        return str(self) != "string" and np.dtype(str(self)).kind == "f"

    @property
    def is_integer(self):
        return str(self) != "string" and np.dtype(str(self)).kind in "iu"

    @property
    def is_complex(self):
        return str(self) in ("complex64", "complex128")

    @property
    def is_bool(self):
        return str(self) == "bool"

    @property
    def min(self):
        return _limits(self).min

    @property
    def max(self):
        return _limits(self).max

    def __eq__(self, other):
        name = str(self)
        if isinstance(other, str):
            return name == str(other) or (name == "string" and other in ("str", "object"))
        try:
            if name == "string":   # a string array's NumPy dtype: object (corenn's strings) or str / bytes
                return np.dtype(other).kind in "OUS"
            return np.dtype(name) == np.dtype(other)
        except TypeError:
            return False

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__

    def __repr__(self):
        return f"tf.{self}"


def _limits(dtype):
    if not (dtype.is_floating or dtype.is_integer):
        raise TypeError(f"{dtype!r} has no numeric range")
    return np.finfo(str(dtype)) if dtype.is_floating else np.iinfo(str(dtype))


float16 = half = DType("float16")
float32 = DType("float32")
float64 = double = DType("float64")
int8, int16, int32, int64 = DType("int8"), DType("int16"), DType("int32"), DType("int64")
uint8, uint16, uint32, uint64 = DType("uint8"), DType("uint16"), DType("uint32"), DType("uint64")
bool = DType("bool")  # noqa: A001 - TensorFlow's name
string = DType("string")
# complex tensors are (real, imag) pairs of float32 Tensors (ops.ComplexPair): tf.cast(x,
# tf.complex64) makes one, tf.signal's FFTs take and give them
complex64, complex128 = DType("complex64"), DType("complex128")

_ALL = {str(d): d for d in (float16, float32, float64, int8, int16, int32, int64, uint8, uint16,
                            uint32, uint64, bool, string, complex64, complex128)}


def is_string_dtype(dtype) -> "bool":
    """Whether ``dtype`` names strings: 'string' / tf.string, str, bytes or NumPy's U / S / O."""
    if dtype is None:
        return False
    if isinstance(dtype, str) and dtype in ("string", "str", "object", "bytes"):
        return True
    if dtype in (str, bytes):
        return True
    try:
        return np.dtype(dtype).kind in "USO"
    except TypeError:
        return False


def as_dtype(value) -> DType:
    """``tf.as_dtype``: the DType for a name, NumPy dtype or type."""
    if isinstance(value, DType):
        return value
    if is_string_dtype(value):
        return string
    try:
        name = np.dtype(value).name
    except TypeError:
        raise TypeError(f"as_dtype: cannot interpret {value!r} as a dtype") from None
    if name not in _ALL:
        raise TypeError(f"as_dtype: unsupported dtype {name}")
    return _ALL[name]


def storage_dtype(dtype, op):
    """The NumPy dtype a Tensor of ``dtype`` is stored in, or a TypeError naming ``op``.

    corenn's Tensors hold float32, int32 and int64 and its kernels compute in float32, which is
    also Keras 3's default compute dtype (layers cast their inputs to it). So a cast to a float
    type other than float32 (float64, float16, ...) is refused by name rather than handed back
    as float32 values that are not what was asked for; bool is stored as float32 0 / 1 where a
    Tensor must hold it (a bool Variable; a bool *tensor* is a NumPy bool array, ``ops._truth``);
    a smaller integer type keeps the values cast to it, stored as int32
    (uint32 / uint64 as int64)."""
    try:
        d = np.dtype(str(dtype) if isinstance(dtype, DType) else dtype)
    except TypeError:
        raise TypeError(f"{op}: unknown dtype {dtype!r}") from None
    if d == np.float32 or d in (np.int32, np.int64):
        return d
    if d == np.bool_:
        return np.dtype(np.float32)
    if d.kind in "iu":
        return np.dtype(np.int64 if d.itemsize >= 4 else np.int32)
    raise TypeError(f"{op}: dtype {d.name} is not supported: corenn tensors hold float32, int32 or int64 "
                    f"and compute in float32 (Keras 3's default compute dtype; NumPy {d.name} data is "
                    "converted to float32 where it enters a layer, fit or predict). Cast to float32.")
