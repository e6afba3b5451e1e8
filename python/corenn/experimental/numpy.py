"""``tf.experimental.numpy`` (``import tensorflow.experimental.numpy as tnp``): NumPy's API on
corenn Tensors, as the TensorFlow guide "NumPy API on TensorFlow" uses it.

A corenn Tensor already behaves as TensorFlow's after ``tnp.experimental_enable_numpy_behavior()``
(``.T``, ``.reshape(-1)``, ``.astype``, NumPy indexing, operators with NumPy arrays and
``np.sum(tensor)``), so that call only records its arguments. The functions are corenn's Keras
ops (NumPy's names and arguments), differentiable on a GradientTape. One difference: corenn
computes in float32, so a float64 request (``tnp.asarray(1.)``, ``tnp.random.randn``) gives
float32, as TensorFlow does with ``prefer_float32=True``; integer dtypes are kept.
"""
from __future__ import annotations

import builtins as _builtins
import types as _types

import numpy as _np

from .. import ops as _ops
from ..kernels import Tensor as ndarray  # noqa: F401  (isinstance(x, tnp.ndarray))
from ..utils import random as _urandom

newaxis = None
pi, e, inf, nan = _np.pi, _np.e, _np.inf, _np.nan
# dtypes: NumPy's scalar types, as tnp exposes them (``.astype(tnp.float32)``, ``dtype=tnp.int64``)
bool_, int8, int16, int32, int64, uint8 = _np.bool_, _np.int8, _np.int16, _np.int32, _np.int64, _np.uint8
float16, float32, float64 = _np.float16, _np.float32, _np.float64
complex64, complex128 = _np.complex64, _np.complex128
iinfo, finfo, dtype, result_type = _np.iinfo, _np.finfo, _np.dtype, _np.result_type

_numpy_behavior = {"enabled": False, "prefer_float32": True}


def experimental_enable_numpy_behavior(prefer_float32=False, dtype_conversion_mode="legacy"):
    """Turns on NumPy behavior for Tensors: corenn's Tensors already have NumPy's methods and
    indexing; what changes is ``t.astype(dtype)``, which then returns a Tensor (a differentiable
    cast; float64 gives float32) instead of a NumPy array."""
    _numpy_behavior.update(enabled=True, prefer_float32=_builtins.bool(prefer_float32))
    from .. import _tensor_numpy
    _tensor_numpy.NUMPY_BEHAVIOR["enabled"] = True


def _dtype(dtype, where):
    if dtype is None:
        return None
    d = _np.dtype(getattr(dtype, "as_numpy_dtype", dtype) if not isinstance(dtype, str) else dtype)
    if d.kind not in "biuf":
        raise TypeError(f"tnp.{where}: dtype {d} is not supported (corenn Tensors are bool, int or float)")
    return "float32" if d.kind == "f" else d.name


def asarray(a, dtype=None):
    """A Tensor of ``a`` (a Tensor of the right dtype is returned as is); Python floats and
    float64 arrays become float32, Python ints int64 as in NumPy."""
    want = _dtype(dtype, "asarray")
    if isinstance(a, ndarray) and (want is None or str(a.dtype) == want):
        return a
    if want is None and not isinstance(a, ndarray):
        arr = _np.asarray(a)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"tnp.asarray: cannot make a Tensor of dtype {arr.dtype} from {type(a).__name__}")
        want = "float32" if arr.dtype.kind == "f" else arr.dtype.name
    return _ops._to_tensor(a, dtype=want)


def array(object, dtype=None, copy=True, ndmin=0):  # noqa: A002 - NumPy's name
    out = asarray(_np.array(object) if copy and not isinstance(object, ndarray) else object, dtype)
    while len(out.shape) < ndmin:
        out = _ops.expand_dims(out, 0)
    return out


def _with_dtype(fn, where):
    def wrapped(*args, dtype=None, **kwargs):
        out = fn(*args, **kwargs) if dtype is None else fn(*args, dtype=_dtype(dtype, where), **kwargs)
        return out
    wrapped.__name__ = where
    wrapped.__doc__ = f"``tnp.{where}``: corenn.ops.{fn.__name__} with NumPy dtypes accepted."
    return wrapped


def arange(start, stop=None, step=1, dtype=None):
    """NumPy's ``arange``: int64 for integer arguments (NumPy's default), else float32."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        dtype = "int64" if _builtins.all(isinstance(v, (int, _np.integer)) for v in (start, stop, step)) else "float32"
    return asarray(_np.arange(start, stop, step), dtype)


def float_power(x1, x2):
    return _ops.power(asarray(x1, "float32"), asarray(x2, "float32"))


def size(x, axis=None):
    shape = asarray(x).shape
    return int(_np.prod(shape)) if axis is None else int(shape[axis])


def shape(x):
    return tuple(asarray(x).shape)


def ndim(x):
    return len(asarray(x).shape)


def _sqrt(x):
    return _ops.sqrt(asarray(x, "float32") if not isinstance(x, ndarray) else x)


# NumPy functions that are corenn ops with the same names and arguments
_SAME = ["abs", "absolute", "add", "all", "allclose", "amax", "amin", "any", "append", "arccos", "arccosh",
         "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "argmax", "argmin", "argsort", "around",
         "average", "bincount", "broadcast_to", "cbrt", "ceil", "clip", "concatenate", "copy", "cos", "cosh",
         "count_nonzero", "cross", "cumprod", "cumsum", "diag", "diagonal", "diff", "divide", "dot", "einsum",
         "equal", "exp", "exp2", "expand_dims", "expm1", "flip", "floor", "floor_divide", "full_like",
         "greater", "greater_equal", "hstack", "isclose", "isfinite", "isinf", "isnan", "kron", "less",
         "less_equal", "log", "log10", "log1p", "log2", "logaddexp", "logical_and", "logical_not",
         "logical_or", "logical_xor", "matmul", "max", "maximum", "mean", "median", "meshgrid", "min",
         "minimum", "mod", "moveaxis", "multiply", "negative", "nonzero", "not_equal", "ones_like", "outer",
         "pad", "power", "prod", "quantile", "ravel", "real", "reciprocal", "repeat", "reshape", "roll",
         "round", "sign", "sin", "sinh", "sort", "split", "square", "squeeze", "stack", "std", "subtract",
         "sum", "swapaxes", "take", "take_along_axis", "tan", "tanh", "tile", "trace", "transpose", "tri",
         "tril", "triu", "true_divide", "trunc", "var", "vdot", "vstack", "where", "zeros_like"]
for _name in _SAME:
    if hasattr(_ops, _name):
        globals()[_name] = getattr(_ops, _name)
sqrt = _sqrt


def _int64_indices(fn, name, when=lambda *args, **kwargs: True):
    """``fn`` whose int32 index / count results become int64: NumPy's dtype, which tnp keeps
    (tnp.argmax, tnp.nonzero, tnp.count_nonzero are int64 in TensorFlow), where the Keras op of
    the same name gives Keras 3's int32. ``when`` says which calls give indices (tnp.where with
    one argument, not a selection of int32 values)."""
    def call(*args, **kwargs):
        out = fn(*args, **kwargs)
        if not when(*args, **kwargs):
            return out
        widen = lambda t: _ops.cast(t, "int64") if isinstance(t, ndarray) and t.dtype == "int32" else t  # noqa: E731
        return tuple(widen(t) for t in out) if isinstance(out, tuple) else widen(out)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = fn.__doc__
    return call


for _name in ("argmax", "argmin", "argsort", "nonzero", "count_nonzero"):
    globals()[_name] = _int64_indices(getattr(_ops, _name), _name)
where = _int64_indices(_ops.where, "where", lambda *args, **kwargs: len(args) + len(kwargs) == 1)
bincount = _int64_indices(_ops.bincount, "bincount",
                          lambda *args, **kwargs: (args[1:2] or [kwargs.get("weights")])[0] is None)
for _name in ("ones", "zeros", "full", "eye", "identity", "linspace", "empty"):
    if hasattr(_ops, _name):
        globals()[_name] = _with_dtype(getattr(_ops, _name), _name)
if "empty" not in globals():
    empty = globals()["zeros"]


def _rng():
    return _urandom.get_generator()


def _size(size):
    return () if size is None else (tuple(size) if isinstance(size, (tuple, list)) else (int(size),))


def _seed(s):
    """``tnp.random.seed``: seeds corenn's process-wide generator."""
    _urandom.set_random_seed(int(s))


random = _types.SimpleNamespace(
    seed=_seed,
    randn=lambda *shape: asarray(_rng().standard_normal(shape), "float32"),
    rand=lambda *shape: asarray(_rng().random(shape), "float32"),
    standard_normal=lambda size=None: asarray(_rng().standard_normal(_size(size)), "float32"),
    normal=lambda loc=0.0, scale=1.0, size=None: asarray(_rng().normal(loc, scale, _size(size)), "float32"),
    uniform=lambda low=0.0, high=1.0, size=None: asarray(_rng().uniform(low, high, _size(size)), "float32"),
    randint=lambda low, high=None, size=None, dtype=int64: asarray(
        _rng().integers(low, high, _size(size)), _dtype(dtype, "random.randint")),
    poisson=lambda lam=1.0, size=None: asarray(_rng().poisson(lam, _size(size)), "int64"),
)
