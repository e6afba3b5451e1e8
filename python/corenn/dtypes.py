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


# The dtypes corenn's C++ Tensor holds: float32 / int32 / int64 are computed in, the others are
# kept as they are (a cast to uint8 is uint8, as Keras reports it) and converted where an op
# computes (ops._f32 and the integer paths), as NumPy input is.
_TENSOR_DTYPES = frozenset(np.dtype(d) for d in (
    "float32", "int32", "int64", "float64", "float16", "uint8", "int8", "uint16", "int16", "uint32",
    "uint64"))


def storage_dtype(dtype, op):
    """The NumPy dtype a Tensor of ``dtype`` is stored in, or a TypeError naming ``op``.

    Every real dtype Keras names is stored as itself (float64 and float16 keep their bits and
    precision in storage; the kernels compute in float32, Keras 3's default compute dtype, so an
    op converts them at its boundary). bool is stored as float32 0 / 1 where a Tensor must hold
    it (a bool Variable); a bool *tensor* is a NumPy bool array (``ops._truth``)."""
    try:
        d = np.dtype(str(dtype) if isinstance(dtype, DType) else dtype)
    except TypeError:
        raise TypeError(f"{op}: unknown dtype {dtype!r}") from None
    if d.kind in "fiu":
        d = d.newbyteorder("=")   # a Tensor holds numbers in the machine's byte order
    if d in _TENSOR_DTYPES:
        return d
    if d == np.bool_:
        return np.dtype(np.float32)
    raise TypeError(f"{op}: dtype {d.name} is not supported: corenn tensors hold float16 / float32 / "
                    "float64 and 8- to 64-bit integers (complex numbers are pairs of float32 tensors "
                    "in corenn.signal). Cast to float32.")
