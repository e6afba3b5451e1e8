"""corenn.ops: Keras 3's ``keras.ops`` names on Tensors (and NumPy arrays or Python numbers),
differentiable under a GradientTape.

The hot ops compute with a C++ kernel (corenn.kernels) and, when a recording tape needs it,
record a small backward rule that calls the matching backward kernel (the rest of keras.ops,
further down, computes with NumPy and records NumPy rules; see the section comment there):

    y = ops.multiply(a, b)            kernels.binary_forward('multiply', a, b)
    rule: dy -> (dy * b, dy * a)      kernels.binary_backward (summed over broadcast axes)

Python operators on Tensors (+ - * / ** @, unary -, comparisons give float masks) call these
ops, so ``loss = ops.mean(ops.square(y_true - y_pred))`` written in a custom loss or layer trains.
Inputs that are not Tensors are converted to float32 Tensors (integers too, except where an op
needs indices); results are new Tensors (nothing is reused, so a result stays valid).
"""
from __future__ import annotations

import functools
import threading

import numpy as np

from . import _ops_wide as _wide
from . import _ops_wide_conv as _wide_conv
from . import autodiff, kernels
from .kernels import Tensor

__all__ = [
    "convert_to_tensor", "convert_to_numpy", "cast", "stop_gradient", "shape", "ndim", "size",
    "add", "subtract", "multiply", "divide", "true_divide", "power", "maximum", "minimum", "negative",
    "exp", "log", "sqrt", "square", "abs", "absolute", "reciprocal", "sin", "cos", "sign",
    "relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "silu", "swish", "elu", "selu",
    "softplus", "leaky_relu",
    "sum", "mean", "max", "min", "var", "std", "argmax", "argmin",
    "reshape", "transpose", "concatenate", "stack", "expand_dims", "squeeze", "flatten",
    "matmul", "dot", "clip", "where", "one_hot", "zeros", "ones", "zeros_like", "ones_like", "full",
    "eye", "arange", "equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
    "logical_and", "logical_or", "logical_not", "sparse_categorical_crossentropy",
    "categorical_crossentropy", "binary_crossentropy", "norm",
]


# -- conversion ------------------------------------------------------------------------------------

def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """Keras 3's ``keras.ops.convert_to_tensor``, with Keras' dtypes where corenn has them: bool
    data (``[True]``, NumPy bool arrays, ``dtype="bool"``: numbers become ``x != 0``) gives a bool
    tensor, which for corenn is the NumPy bool array Keras masks are (``layers.base.BoolMask``,
    with ``numpy()``; every corenn op takes it: its Tensors hold float32, int32 and int64);
    Python ints give int32, int64 where a value needs it (``2**40``); a Python list of ints and
    floats gives float32. NumPy arrays keep their dtype where a Tensor can hold it (float64 and
    float16 data become float32; int8 / uint8 ... int64). corenn's own code calls
    ``_to_tensor``, which keeps bools as float32 0 / 1 and Python ints as int64, as its kernels
    take them."""
    from . import strings as _strings
    from .layers.base import BoolMask
    if isinstance(x, Tensor) and dtype is None:
        return x
    if type(x) is BoolMask and (dtype is None or _dtype_name(dtype) == "bool"):
        return x
    if not isinstance(x, Tensor) and (dtype is None or str(dtype) == "string") and _strings.is_string_array(x):
        return _to_tensor(x, dtype)
    if not isinstance(x, Tensor) and not (type(x) in (list, tuple) and _holds_tensors(x)):
        a = np.asarray(x)
        if dtype is not None and _dtype_name(dtype) == "bool" or dtype is None and a.dtype == np.bool_:
            if a.dtype.kind not in "fiub":
                raise TypeError(f"ops.convert_to_tensor: expected numeric or bool data, got dtype {a.dtype}")
            return np.array(a if a.dtype == np.bool_ else np.not_equal(a, 0), dtype=np.bool_).view(BoolMask)
        if dtype is None and a.dtype == np.int64 and _python_ints(x):
            fits = a.size == 0 or (int(a.min()) >= -2 ** 31 and int(a.max()) < 2 ** 31)
            return Tensor.from_numpy(_c_array(a.astype(np.int32 if fits else np.int64)))
        if dtype is not None and a.dtype == np.int64 and a.size and _python_ints(x) \
                and np.dtype(_dtype_name(dtype)).kind in "iu":
            info = np.iinfo(np.dtype(_dtype_name(dtype)))
            if int(a.min()) < info.min or int(a.max()) > info.max:
                # Keras raises for Python values a cast would wrap (300 as uint8 is not 44)
                bad = int(a.max()) if int(a.max()) > info.max else int(a.min())
                raise ValueError(f"ops.convert_to_tensor: {bad} does not fit in {info.dtype.name} "
                                 f"({info.min}..{info.max})")
    elif dtype is not None and _dtype_name(dtype) == "bool":
        return np.not_equal(np.asarray(x), 0).view(BoolMask)   # a Tensor cast to bool
    return _to_tensor(x, dtype)


def _dtype_name(dtype):
    try:
        return np.dtype(str(dtype)).name
    except TypeError:
        return str(dtype)


def _python_ints(x):
    """A Python int or a (nested) list / tuple of them (bools among ints count as ints, as in
    Keras' ``[True, 2]``): what Keras makes int32."""
    if type(x) in (list, tuple):
        return _builtins.all(_python_ints(v) for v in x)
    return isinstance(x, int)


def _to_tensor(x, dtype=None):
    """A Tensor for ``x`` as corenn's own code takes it: Tensors pass through, bools become
    float32 0 / 1, Python ints int64, float data float32; ``dtype`` casts (float64 refused by
    name). Strings stay corenn's string array."""
    from . import strings as _strings
    if not isinstance(x, Tensor) and (dtype is None or str(dtype) == "string") and _strings.is_string_array(x):
        # strings stay corenn's string array (a Tensor holds numbers), as tf.convert_to_tensor
        return _strings.wrap(_strings.as_string_array(x, "ops.convert_to_tensor"))
    if dtype is not None:
        from .dtypes import storage_dtype
        store = storage_dtype(dtype, "ops.convert_to_tensor")
        if not isinstance(x, Tensor) or x.dtype != str(store):
            x = np.asarray(x).astype(np.dtype(str(dtype))).astype(store, copy=False)
            if not store == np.float32:   # the asked-for dtype, held as it is
                return Tensor.from_numpy(_c_array(x))
    return autodiff.convert(x, "convert_to_tensor")


def _f32(x, where="ops"):
    """A float32 Tensor for ``x`` (Tensors of other dtypes are converted by copy); a float64
    Tensor stays itself inside an op running in float64 NumPy mode (_numpy_float64)."""
    if isinstance(x, Tensor):
        d = x.dtype   # one instance per dtype: compared by identity (a DTypeName's == is slow)
        if d is _wide._FLOAT32 or (d is _wide._FLOAT64 and _NUMPY_FLOAT64.on):
            return x
    return _to_f32(x, where)


def _to_f32(x, where="ops"):
    """A float32 Tensor for ``x`` (Tensors of other dtypes are converted by copy)."""
    if isinstance(x, Tensor):
        if x.dtype == "float32":
            return x
        out = Tensor.from_numpy(np.asarray(x).astype(np.float32))
        if x.dtype.is_floating:   # a float64 / float16 source's gradient flows through the cast
            src = str(x.dtype)
            _record(lambda dys: [_wide.as_dtype(dys[0], src)], [x], [out], ("identity",))
        return out
    if type(x) in (list, tuple) and _holds_tensors(x):
        # a Python list of Tensors (tf.reduce_sum(losses)) is their stack, recorded on the tape
        return stack([_f32(v, where) for v in x])
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        name = where if where.startswith("ops") else f"ops.{where}"
        raise TypeError(f"{name}: expected numeric data (a tensor, array or number), got dtype {a.dtype}")
    return Tensor.from_numpy(_c_array(a.astype(np.float32)))


def _holds_tensors(x):
    return _builtins.any(isinstance(v, Tensor) or type(v) in (list, tuple) and _holds_tensors(v) for v in x)


def _c_array(a):
    """``a`` as a C-contiguous array of the same shape (np.ascontiguousarray would turn a 0-d
    array, a scalar loss, into shape (1,))."""
    return np.asarray(a, order="C")


def convert_to_numpy(x):
    return np.array(x, copy=True)


def _record(rule, inputs, outputs, op=None):
    autodiff.record_op(rule, inputs, outputs, op)


class _NumpyFloat64(threading.local):
    on = False


# Inside an op wrapped by _numpy_float64 whose operands are float64: _f32 / _any give float64
# Tensors, _is_float takes float64, _t keeps float results float64 (and the op's rules run so too).
_NUMPY_FLOAT64 = _NumpyFloat64()


class _numpy_float64_mode:
    def __enter__(self):
        self.was, _NUMPY_FLOAT64.on = _NUMPY_FLOAT64.on, True

    def __exit__(self, *exc):
        _NUMPY_FLOAT64.on = self.was
        return False


def _numpy_float64(fn, typed_by=None):
    """An op whose float path is NumPy formulas with closed-form rules (no C++ kernel): on
    float64 operands it runs in float64 NumPy mode, so its result and its gradient are float64
    (Keras' dtype, float64's precision); on float16 operands its float32 results are rounded to
    float16. ``typed_by``: the positional operands that decide the result's dtype (where's x and
    y, not its condition), else all of them."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        deciding = args[typed_by] if typed_by is not None else (*args, *kwargs.values())
        tensors = [v for v in deciding if isinstance(v, Tensor)]
        tensors += [w for v in deciding if type(v) in (list, tuple) for w in v if isinstance(w, Tensor)]
        wide = _wide.result_float(*tensors) if tensors else None
        if wide is None or _NUMPY_FLOAT64.on:
            return fn(*args, **kwargs)
        if wide == "float16":
            return _wide.narrow_all(fn(*args, **kwargs), wide)
        # float32 / float16 Tensor operands join as float64 through recorded casts
        up = lambda v: cast(v, "float64") if isinstance(v, Tensor) and v.dtype in ("float32", "float16") else v  # noqa: E731
        args = [[up(w) for w in v] if type(v) in (list, tuple) else up(v) for v in args]
        kwargs = {k: up(v) for k, v in kwargs.items()}
        with _numpy_float64_mode(), autodiff.rules_run_in(_numpy_float64_mode):
            return fn(*args, **kwargs)
    return wrapped


def _needs(tape, x):
    return tape is not None and tape.needs_grad(x)


def stop_gradient(x):
    """x's values, with no gradient flowing back through them."""
    return Tensor.from_numpy(np.array(_f32(x), copy=True))


def cast(x, dtype):
    from .dtypes import storage_dtype
    store = storage_dtype(dtype, "ops.cast")
    if type(x).__name__ == "SparseTensor":
        from .sparse import SparseTensor
        if isinstance(x, SparseTensor):   # Keras (and tf.cast): the values cast, the sparsity kept
            return SparseTensor(x.indices, cast(x.values, dtype), x.dense_shape)
    a = _no_none("cast", x).astype(np.dtype(str(dtype))).astype(store, copy=False)   # the values of dtype
    if np.dtype(str(dtype)) == np.bool_:
        return _truth(a)
    out = Tensor.from_numpy(_c_array(a))
    if a.dtype.kind == "f" and isinstance(x, Tensor) and x.dtype.is_floating:
        src = str(x.dtype)   # float -> float: the gradient passes, back in the source's dtype
        _record(lambda dys: [_wide.as_dtype(dys[0], src)], [x], [out], ("identity",))
    return out


def _shape_any(x):
    """x's shape without converting it: a Tensor's or array's own, else NumPy's reading of a
    number or nested list (Keras 3 takes those too); None is refused by name."""
    s = getattr(x, "shape", None)
    if s is not None:
        return tuple(s)
    if x is None:
        raise TypeError("ops.shape: expected a tensor, array, number or list, got None")
    return np.shape(x)


def shape(x):
    return _shape_any(x)


def ndim(x):
    return len(_shape_any(x))


def size(x):
    # a shape tuple or a nested list counts its entries (NumPy's size, as TF / JAX's)
    return int(np.prod(_shape_any(x), dtype=np.int64))


# -- elementwise -----------------------------------------------------------------------------------

_INT_BINARY = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply,
               "maximum": np.maximum, "minimum": np.minimum, "power": np.power}
_INT_UNARY = {"negative": np.negative, "square": np.square, "abs": np.abs, "sign": np.sign}


def _int_array(x):
    """Whether x is integer data with a dtype of its own (an int Tensor or NumPy array), which
    Keras keeps integer; Python ints are weakly typed and take the other operand's dtype."""
    if isinstance(x, Tensor):
        return x.dtype.is_integer
    return isinstance(x, (np.ndarray, np.integer)) and x.dtype.kind in "iu"


def _is_int(x):
    if isinstance(x, Tensor):
        return x.dtype.is_integer
    if isinstance(x, (bool, float)):
        return False
    if isinstance(x, (list, tuple)):   # [16000] - tf.shape(w): a list of Python ints stays integer
        return np.asarray(x).dtype.kind in "iu"
    return isinstance(x, (int, np.integer)) or (isinstance(x, np.ndarray) and x.dtype.kind in "iu")


def _binary(kind, a, b):
    if kind in _INT_BINARY and _is_int(a) and _is_int(b) and (_int_array(a) or _int_array(b)):
        # integer tensors stay integer (Keras); no gradient flows through integers
        A, B = np.asarray(a), np.asarray(b)
        _broadcast_check(kind, A.shape, B.shape)
        if kind == "power" and B.size and (B < 0).any():
            raise ValueError(f"ops.power: integers to negative integer powers are not defined (base dtype "
                             f"{A.dtype}, exponent {B.dtype}); cast the base to float")
        return _t(_INT_BINARY[kind](A, B).astype(_int_result_dtype(a, b)))
    wide = _wide.result_float(a, b)
    if wide == "float64":
        return _wide.binary(kind, a, b, *_wide.BINARY[kind])
    a, b = _f32(a), _f32(b)
    y = kernels.binary_forward(kind, a, b)
    tape = autodiff.recording_tape()
    if tape is not None:
        need_a, need_b = _needs(tape, a), _needs(tape, b)

        def rule(dys):
            return list(kernels.binary_backward(kind, a, b, dys[0], need_a=need_a, need_b=need_b))
        tape.record(rule, [a, b], [y], ("binary", kind))
    return _wide.narrow(y, wide)


def _int_result_dtype(*operands):
    """The dtype of an integer op's result: the Tensors' (a Python int takes the Tensor's dtype,
    as in Keras: int32 // 2 is int32), or NumPy's promotion when no operand is a Tensor."""
    tensors = [np.dtype(str(v.dtype)) for v in operands if isinstance(v, (Tensor, np.ndarray, np.integer))
               and np.dtype(str(v.dtype)).kind in "iu"]
    return np.result_type(*tensors) if tensors else np.result_type(*[np.asarray(v) for v in operands])


def add(x1, x2):
    return _binary("add", x1, x2)


def subtract(x1, x2):
    return _binary("subtract", x1, x2)


def multiply(x1, x2):
    return _binary("multiply", x1, x2)


def divide(x1, x2):
    return _binary("divide", x1, x2)


true_divide = divide


def power(x1, x2):
    return _binary("power", x1, x2)


def maximum(x1, x2):
    return _binary("maximum", x1, x2)


def minimum(x1, x2):
    return _binary("minimum", x1, x2)


def _unary(kind, x):
    if kind in _INT_UNARY and _int_array(x):
        a = np.asarray(x)      # integer data stays integer, of its dtype (Keras); no gradient
        return _t(_INT_UNARY[kind](a).astype(a.dtype))
    wide = _wide.result_float(x)
    if wide == "float64":
        return _wide.unary(kind, x, *_wide.UNARY[kind])
    x = _f32(x)
    y = kernels.unary_forward(kind, x)
    _record(lambda dys: [kernels.unary_backward(kind, x, y, dys[0])], [x], [y], ("unary", kind))
    return _wide.narrow(y, wide)


def negative(x):
    return _unary("negative", x)


def exp(x):
    return _unary("exp", x)


def log(x):
    return _unary("log", x)


def sqrt(x):
    return _unary("sqrt", x)


def square(x):
    return _unary("square", x)


def abs(x):  # noqa: A001 - Keras' name
    if type(x) is ComplexPair:   # tf.abs of tf.signal.stft's result: the magnitude
        return sqrt(add(square(x[0]), square(x[1])))
    return _unary("abs", x)


class ComplexPair(tuple):
    """A complex tensor as corenn holds one: the (real, imag) pair of float32 Tensors that the
    Keras ops (rfft, stft, fft ...) take and return, made by ``corenn.signal.stft`` where
    TensorFlow returns complex64. ``tf.abs`` / ``tf.math.abs`` of it is the magnitude
    (differentiable); ``.real`` / ``.imag`` are the parts; it unpacks as ``re, im = z``."""

    __slots__ = ()

    @property
    def real(self):
        return self[0]

    @property
    def imag(self):
        return self[1]

    @property
    def shape(self):
        return self[0].shape

    dtype = "complex64"

    def __abs__(self):
        return abs(self)

    @property
    def ndim(self):
        return len(self[0].shape)

    def __getitem__(self, key):
        """``z[0]`` / ``z[1]`` are the parts (Keras' (real, imag) pairs); any other key (a slice, a
        tuple of them, an index array) indexes the complex tensor, as TensorFlow's ``z[:, :n]``."""
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            return tuple.__getitem__(self, key)
        return ComplexPair((self[0][key], self[1][key]))

    def numpy(self):
        return (np.asarray(self[0], np.float32) + 1j * np.asarray(self[1], np.float32)).astype(np.complex64)

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(z)``: the complex64 array (TensorFlow's complex tensor), not the two
        parts stacked as a plain tuple would give."""
        out = self.numpy()
        return out if dtype is None else out.astype(dtype)

    __array_ufunc__ = None   # ndarray * z: NumPy defers to the operators below

    # complex arithmetic with recorded ops (a tuple would repeat or concatenate): the other
    # operand a ComplexPair, a real tensor / number, or a Python complex
    def __add__(self, other):
        o = _complex_parts(other)
        return ComplexPair((add(self[0], o[0]), add(self[1], o[1])))

    __radd__ = __add__

    def __sub__(self, other):
        o = _complex_parts(other)
        return ComplexPair((subtract(self[0], o[0]), subtract(self[1], o[1])))

    def __rsub__(self, other):
        o = _complex_parts(other)
        return ComplexPair((subtract(o[0], self[0]), subtract(o[1], self[1])))

    def __mul__(self, other):
        a, b = self
        c, d = _complex_parts(other)
        return ComplexPair((subtract(multiply(a, c), multiply(b, d)), add(multiply(a, d), multiply(b, c))))

    __rmul__ = __mul__

    def __truediv__(self, other):
        c, d = _complex_parts(other)
        den = add(multiply(c, c), multiply(d, d))
        return self.__mul__(ComplexPair((divide(c, den), negative(divide(d, den)))))

    def __rtruediv__(self, other):
        return ComplexPair(_complex_parts(other)).__truediv__(self)

    def __neg__(self):
        return ComplexPair((negative(self[0]), negative(self[1])))

    def __repr__(self):
        return f"ComplexPair(shape={tuple(self.shape)}, real={self[0]!r}, imag={self[1]!r})"


def _complex_parts(v):
    """(real, imag) of a ComplexPair, a Python / NumPy complex, or a real tensor or number."""
    if type(v) is ComplexPair:
        return v[0], v[1]
    if isinstance(v, (complex, np.complexfloating)) or (isinstance(v, np.ndarray) and v.dtype.kind == "c"):
        a = np.asarray(v)
        return a.real.astype(np.float32), a.imag.astype(np.float32)
    return v, 0.0


# ops that only move, select or copy elements act on a complex tensor part by part (TensorFlow's
# tf.expand_dims / tf.gather / z[:, :n] of complex64 data); the list ones promote real members
_COMPLEX_PARTWISE = frozenset(("expand_dims", "squeeze", "reshape", "transpose", "moveaxis", "swapaxes", "gather",
                               "take", "take_along_axis", "slice", "strided_slice", "tile", "repeat", "roll",
                               "reverse", "flip", "broadcast_to", "identity", "gather_nd", "boolean_mask", "split",
                               "unstack", "array_split", "ravel", "flatten"))
_COMPLEX_LISTWISE = frozenset(("concat", "concatenate", "stack", "hstack", "vstack"))
_FIRST_ARG_NAMES = ("x", "input", "tensor", "params", "value", "values", "a", "arr", "xs")


# complex arithmetic through the ops' names (tf.multiply(z, w)): ComplexPair's operators
_COMPLEX_ARITH = {"add": lambda a, b: a + b, "subtract": lambda a, b: a - b, "multiply": lambda a, b: a * b,
                  "divide": lambda a, b: a / b, "true_divide": lambda a, b: a / b}
# math that would silently run on the stacked (real, imag) values: refused by name instead
_COMPLEX_REFUSED = frozenset((
    "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "square", "sin", "cos", "tan", "tanh", "sinh", "cosh",
    "sigmoid", "relu", "softmax", "log_softmax", "power", "pow", "reciprocal", "sign", "round", "floor", "ceil",
    "reduce_sum", "sum", "reduce_mean", "mean", "reduce_max", "max", "reduce_min", "min", "reduce_prod", "prod",
    "reduce_std", "std", "reduce_variance", "var", "matmul", "einsum", "tensordot", "dot", "maximum", "minimum",
    "clip", "clip_by_value", "norm", "l2_normalize", "sort", "argmax", "argmin", "cumsum", "cumprod", "greater",
    "less", "greater_equal", "less_equal", "logsumexp", "reduce_logsumexp", "negative"))


def _complex_guard(fn, name):
    arith = _COMPLEX_ARITH.get(name)

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if args and (type(args[0]) is ComplexPair or len(args) > 1 and type(args[1]) is ComplexPair):
            if arith is not None and len(args) == 2 and not kwargs:
                return arith(args[0], args[1])
            if name == "negative" and len(args) == 1:
                return -args[0]
            raise TypeError(f"{name}: complex tensors (corenn's ComplexPair of real and imaginary parts) are "
                            f"not supported by this op; use its parts z.real / z.imag (or tf.abs, tf.math.real, "
                            f"the + - * / operators)")
        return fn(*args, **kwargs)
    return op


def complex_partwise(fn, name):
    """``fn`` (the public op ``name``), applied to the real and imaginary parts separately when
    its tensor argument is a ComplexPair; complex arithmetic for add / subtract / multiply /
    divide; a TypeError for math that would run on the stacked parts; ``fn`` itself for the
    other ops (the complex-aware ones: abs, real, fft, cast ... see a ComplexPair as before)."""
    if name in _COMPLEX_ARITH or name in _COMPLEX_REFUSED:
        return _complex_guard(fn, name)
    listwise = name in _COMPLEX_LISTWISE
    if not listwise and name not in _COMPLEX_PARTWISE:
        return fn

    def is_complex(v):
        if listwise:
            if not isinstance(v, (list, tuple)) or type(v) is ComplexPair:
                return False
            for e in v:   # (ops.any is this module's)
                if type(e) is ComplexPair:
                    return True
            return False
        return type(v) is ComplexPair

    @functools.wraps(fn)
    def op(*args, **kwargs):
        key = None
        if args:
            key = 0 if is_complex(args[0]) else None
        else:
            key = next((k for k in _FIRST_ARG_NAMES if k in kwargs and is_complex(kwargs[k])), None)
        if key is None:
            return fn(*args, **kwargs)
        z = args[0] if key == 0 else kwargs[key]
        if listwise:
            pairs = [e if type(e) is ComplexPair else ComplexPair((e, zeros_like(e))) for e in z]
            parts = [[p[0] for p in pairs], [p[1] for p in pairs]]
        else:
            parts = [z[0], z[1]]
        out = []
        for part in parts:
            if key == 0:
                out.append(fn(part, *args[1:], **kwargs))
            else:
                out.append(fn(*args, **{**kwargs, key: part}))
        if isinstance(out[0], (list, tuple)):   # split / unstack: one pair per piece
            return [ComplexPair((r, i)) for r, i in zip(out[0], out[1])]
        return ComplexPair((out[0], out[1]))
    return op


absolute = abs


def reciprocal(x):
    return _unary("reciprocal", x)


def sin(x):
    return _unary("sin", x)


def cos(x):
    return _unary("cos", x)


def sign(x):
    """sign(x) (no gradient: it is 0 almost everywhere); integer data keeps its dtype."""
    if _int_array(x):
        return _unary("sign", x)
    return _t(np.sign(np.asarray(_f32(x))))   # float64 in float64 mode (_numpy_float64)


def _activation(kind, x, alpha=0.0, axis=-1):
    wide = _wide.result_float(x)
    if wide is not None and not (wide == "float64" and kind in _wide.FLOAT64_ACTIVATIONS):
        # float16, or an activation without a float64 form: float32 math (rounded to float16)
        return _wide.narrow(_activation(kind, _to_f32(x, kind), alpha, axis), wide if wide == "float16" else None)
    x = x if wide == "float64" else _f32(x, kind)
    if kind in ("softmax", "log_softmax"):
        # checked here: an out-of-range axis would index the permutation below (IndexError
        # naming no op), a float or a repeated axis would be taken silently; None is every axis
        # (Keras 3's torch and jax backends)
        if axis is None:
            axis = list(range(x.ndim)) if x.ndim > 1 else -1
        elif isinstance(axis, (list, tuple)):
            _axes_arg(kind, axis, _builtins.max(x.ndim, 1))
        else:
            _axis_arg(kind, axis, _builtins.max(x.ndim, 1), allow_none=False)
    if wide == "float64":
        if kind in ("softmax", "log_softmax"):
            axis = tuple(int(a) % x.ndim for a in axis) if isinstance(axis, (list, tuple)) else int(axis) % _builtins.max(x.ndim, 1)
        return _wide.activation(kind, x, axis, alpha)
    if kind in ("softmax", "log_softmax") and isinstance(axis, (list, tuple)):
        axes = sorted({int(a) % x.ndim for a in axis})
        if len(axes) == 1:
            axis = axes[0]
        else:   # several axes normalised together (Keras 3): moved last, flattened, moved back
            perm = [d for d in range(x.ndim) if d not in axes] + axes
            moved = transpose(x, perm)
            lead = tuple(moved.shape[:x.ndim - len(axes)])
            y = reshape(_activation(kind, reshape(moved, lead + (-1,))), tuple(moved.shape))
            return transpose(y, [int(i) for i in np.argsort(perm)])
    if kind in ("softmax", "log_softmax") and axis not in (-1, x.ndim - 1):
        perm = list(range(x.ndim))
        perm[axis], perm[-1] = perm[-1], perm[axis]
        return transpose(_activation(kind, transpose(x, perm)), perm)
    y = kernels.activation_forward(kind, x, alpha=alpha)
    _record(lambda dys: [kernels.activation_backward(kind, x, y, dys[0], alpha=alpha)], [x], [y],
            ("activation", kind, alpha))
    return y


def relu(x):
    if _int_array(x):   # max(x, 0) of integers stays integer (Keras)
        return maximum(x, 0)
    return _activation("relu", x)


def sigmoid(x):
    return _activation("sigmoid", x)


def tanh(x):
    return _activation("tanh", x)


def softmax(x, axis=-1):
    return _activation("softmax", x, axis=axis)


def log_softmax(x, axis=-1):
    return _activation("log_softmax", x, axis=axis)


def gelu(x, approximate=True):
    """With approximate=True (keras.ops' default) the tanh approximation
    x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); with False the exact x Phi(x) (the C++ kernel,
    as layers and keras.activations.gelu use)."""
    if approximate:
        return _gelu_tanh(x)
    return _activation("gelu", x)


def silu(x):
    return _activation("swish", x)


swish = silu


def elu(x, alpha=1.0):
    return _activation("elu", x, alpha=alpha)


def selu(x):
    return _activation("selu", x)


def softplus(x):
    return _activation("softplus", x)


def leaky_relu(x, negative_slope=0.2):
    return _activation("leaky_relu", x, alpha=negative_slope)


# -- reductions ------------------------------------------------------------------------------------

def _static_axis(op, axis):
    """An axis given as a Tensor or NumPy array (TensorFlow's reductions take one:
    `reduce_sum(x, axis=tf.range(1, tf.rank(x)))`, keras.io's StyleGAN `ops.arange(1, ...)`) as
    the Python int or tuple of ints the kernels take; other axes are passed on unchanged."""
    if not isinstance(axis, (Tensor, np.ndarray)):
        return axis
    a = np.asarray(axis)
    if a.ndim > 1 or a.size and not np.all(a == np.round(a)):
        raise TypeError(f"ops.{op}: axis must be an integer or a 1-D tensor of integers, got {a!r}")
    return int(a) if a.ndim == 0 else tuple(int(v) for v in a)


def _reduce(kind, x, axis, keepdims):
    wide = _wide.result_float(x)
    if wide == "float64":
        axes = None if axis is None else _static_axis(kind, axis)
        checked = None if axes is None else _axes_arg(kind, axes, _builtins.max(len(x.shape), 1))
        return _wide.reduce(kind, x, checked, keepdims)
    if wide == "float16":
        return _wide.narrow(_reduce(kind, _to_f32(x), axis, keepdims), wide)
    x = _f32(x)
    axes = None if axis is None else _static_axis(kind, axis)
    y = kernels.reduce_forward(kind, x, axes, keepdims)
    _record(lambda dys: [kernels.reduce_backward(kind, x, y, dys[0], axes, keepdims)], [x], [y],
            ("reduce", kind, axes))
    return y


def _int_reduce(op, fn, x, axis, keepdims):
    """An integer reduction in NumPy, keeping the input's integer dtype (Keras); a sum of 8- or
    16-bit integers is 32-bit (int32 / uint32), as Keras 3 sums them."""
    a = np.asarray(x)
    axes = _axes_arg(op, _static_axis(op, axis), a.ndim)
    if op != "sum" and a.size == 0:
        raise ValueError(f"ops.{op}: cannot reduce an empty tensor of shape {a.shape}")
    out = a.dtype
    if op == "sum" and out.itemsize < 4:
        out = np.dtype(np.uint32 if out.kind == "u" else np.int32)
    return _t(fn(a.astype(out), axis=axes, keepdims=keepdims).astype(out))


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    if _int_array(x):
        return _int_reduce("sum", np.sum, x, axis, keepdims)
    return _reduce("sum", x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    return _reduce("mean", x, axis, keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    if _int_array(x):
        return _int_reduce("max", np.max, x, axis, keepdims)
    return _reduce("max", x, axis, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    if _int_array(x):
        return _int_reduce("min", np.min, x, axis, keepdims)
    return _reduce("min", x, axis, keepdims)


def var(x, axis=None, keepdims=False):
    centered = subtract(x, mean(x, axis=axis, keepdims=True))
    return mean(square(centered), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - Keras' name
    """np.linalg.norm: vector norms (ord None/2, 1, inf, -inf, 0, any p) over one axis (or all of
    x when axis is None and ord is None or x is 1-D); matrix norms over two axes (or a 2-D x
    with axis None): 'fro' sqrt(sum x^2), 1 / -1 max / min column sum of |x|, inf / -inf the
    same over rows, and from the singular values s: 2 max s, -2 min s, 'nuc' sum s."""
    x = _f32(x, "norm")
    axes = _axes_arg("norm", axis, x.ndim)
    matrix = (axes is not None and len(axes) == 2) or (axes is None and ord is not None and x.ndim == 2)
    if axes is not None and len(axes) > 2:
        raise ValueError(f"ops.norm: axis must name one or two axes, got {axis!r}")
    if matrix:
        rows, cols = axes if axes is not None else (0, 1)
        if ord in (None, "fro"):
            return sqrt(sum(square(x), axis=(rows, cols), keepdims=keepdims))
        if ord in (1, -1, np.inf, -np.inf):
            inner_axis, outer_axis = (rows, cols) if ord in (1, -1) else (cols, rows)
            s = sum(abs(x), axis=inner_axis, keepdims=True)
            y = (max if ord in (1, np.inf) else min)(s, axis=outer_axis, keepdims=True)
            return y if keepdims else squeeze(y, axis=[rows, cols])
        if ord in (2, -2, "nuc"):
            # the singular values s of each matrix (rows, cols moved last): max s, min s, sum s;
            # their gradient through svd's is u_1 v_1^T (ord 2), u_n v_n^T (-2), U V^T (nuc)
            s = svd(moveaxis(x, (rows, cols), (-2, -1)), compute_uv=False)
            y = sum(s, axis=-1) if ord == "nuc" else (max if ord == 2 else min)(s, axis=-1)
            return expand_dims(y, sorted((rows, cols))) if keepdims else y
        raise ValueError(f"ops.norm: matrix ord={ord!r} is not a matrix norm; use 'fro', 'nuc', 1, -1, 2, -2, "
                         "inf or -inf")
    if ord == "fro" or ord == "nuc":
        raise ValueError(f"ops.norm: ord={ord!r} is a matrix norm; it needs two axes")
    over = axes if axes is not None else None
    if ord is None or ord == 2:
        return sqrt(sum(square(x), axis=over, keepdims=keepdims))
    if ord == 1:
        return sum(abs(x), axis=over, keepdims=keepdims)
    if ord == np.inf:
        return max(abs(x), axis=over, keepdims=keepdims)
    if ord == -np.inf:
        return min(abs(x), axis=over, keepdims=keepdims)
    if ord == 0:
        return _t(np.sum(np.asarray(x) != 0, axis=over, keepdims=keepdims).astype(np.float32))
    p = float(ord)
    return power(sum(power(abs(x), p), axis=over, keepdims=keepdims), 1.0 / p)


def _index(a):
    """A new int32 Tensor of index or count values: the dtype Keras 3 gives them (argmax, argsort,
    nonzero, searchsorted, bincount, count_nonzero ...). tf.argmax / tf.where keep TensorFlow's
    int64 (_tf_api.py), the NumPy-style methods (``t.argmax()``) and tf.experimental.numpy
    NumPy's int64. Keras' cast would wrap an index past 2**31 - 1; here it is an error."""
    a = np.asarray(a)
    if a.size and a.dtype.itemsize > 4 and int(a.max()) > np.iinfo(np.int32).max:
        raise OverflowError(f"an index or count of {int(a.max())} does not fit int32, the dtype Keras 3 gives "
                            "indices (the tf.* spellings give int64)")
    return Tensor.from_numpy(np.array(a, dtype=np.int32, order="C", copy=True))


def _keras_int_dtype(x):
    """The integer dtype Keras 3 holds ``x`` in: int64 for int64 (and wider unsigned) arrays and
    Tensors, int32 for int32 data, Python ints and lists of them (its convert_to_tensor's, and
    TensorFlow's)."""
    dt = getattr(x, "dtype", None)
    if dt is not None and not isinstance(x, (list, tuple)):
        d = np.dtype(str(dt))
        if d.kind in "iu" and d.itemsize >= (8 if d.kind == "i" else 4):
            return np.dtype(np.int64)
    return np.dtype(np.int32)


def argmax(x, axis=None, keepdims=False):
    """Index of the largest entry along ``axis``; with axis=None (Keras 3's default) the index
    into the flattened array. int32, as Keras 3 (tf.argmax gives int64)."""
    return _index(np.argmax(_no_none("argmax", x), axis=axis, keepdims=keepdims))


def argmin(x, axis=None, keepdims=False):
    """Index of the smallest entry along ``axis`` (axis=None: into the flattened array); int32."""
    return _index(np.argmin(_no_none("argmin", x), axis=axis, keepdims=keepdims))


# -- shapes ----------------------------------------------------------------------------------------

class _ShapeProbe(threading.local):
    depth = 0   # > 0 while a layer's call runs on a batch of one to learn its output shape


SHAPE_PROBE = _ShapeProbe()


def _probe_reshape(x, target):
    """During a shape probe, a reshape whose element count does not fit (a count fixed by the real
    batch size: the Switch Transformer's tokens-per-batch) gives zeros of the target shape, as
    Keras 3's symbolic reshape of a None batch takes the target unchecked; the real call checks."""
    if target and _builtins.all(d >= 0 for d in target):
        return Tensor.from_numpy(np.zeros(target, np.float32 if _is_float(x) else np.asarray(x).dtype))
    return None


def _string_data(x):
    """``x`` as corenn's string array when it holds strings (shape ops move them as TensorFlow
    does: ``ops.expand_dims`` of a string column for StringLookup), else None."""
    from . import strings as _strings
    if isinstance(x, Tensor) or not _strings.is_string_array(x):
        return None
    return _strings.wrap(_strings.as_string_array(x, "ops"))


def reshape(x, newshape):
    target = [int(d) for d in (newshape if isinstance(newshape, (list, tuple)) else [newshape])]
    text = _string_data(x)
    if text is not None:
        return text.reshape(target)
    if _is_int(x):   # integer tensors keep their dtype (no gradient)
        a = np.asarray(_any(x, "reshape"))
        if SHAPE_PROBE.depth and -1 not in target and a.size != _math.prod(target):
            probed = _probe_reshape(x, target)
            if probed is not None:
                return probed
        return _t(a.reshape(target))
    x = _f32(x)
    if SHAPE_PROBE.depth and -1 not in target and x.size != _math.prod(target):
        probed = _probe_reshape(x, target)
        if probed is not None:
            return probed
    y = x.reshape(target) if _contiguous_view_ok(x) else _f32(np.asarray(x).reshape(target))
    in_shape = list(x.shape)
    _record(lambda dys: [dys[0].reshape(in_shape)], [x], [y], ("reshape",))
    return y


def _contiguous_view_ok(x):
    return True


def flatten(x):
    return reshape(x, [-1])


def expand_dims(x, axis):
    """Insert size-1 axes; ``axis`` may be a tuple (Keras 3), each counted in the result's rank."""
    text = _string_data(x)
    x = text if text is not None else _any(x, "expand_dims")
    s = list(x.shape)
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if _builtins.any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
        raise TypeError(f"ops.expand_dims: axis must be an integer or a tuple of integers, got {axis!r}")
    rank = len(s) + len(axes)
    if not _builtins.all(-rank <= int(a) < rank for a in axes):
        raise ValueError(f"ops.expand_dims: axis {axis!r} is out of range for a result of rank {rank} "
                         f"(input shape {tuple(s)})")
    where_new = sorted(int(a) % rank for a in axes)
    if len(set(where_new)) != len(where_new):
        raise ValueError(f"ops.expand_dims: repeated axis in {axis!r}")
    dims = iter(s)
    return reshape(x, [1 if i in where_new else next(dims) for i in range(rank)])


def squeeze(x, axis=None):
    text = _string_data(x)
    x = text if text is not None else _any(x, "squeeze")
    s = list(x.shape)
    if axis is None:
        keep = [d for d in s if d != 1]
    else:
        axes = {a % len(s) for a in (axis if isinstance(axis, (list, tuple)) else [axis])}
        for a in axes:
            if s[a] != 1:
                raise ValueError(f"ops.squeeze: axis {a} of shape {tuple(s)} is not of size 1")
        keep = [d for i, d in enumerate(s) if i not in axes]
    return reshape(x, keep)


def transpose(x, axes=None):
    x = _any(x, "transpose")
    perm = list(range(x.ndim))[::-1] if axes is None else [int(a) for a in axes]
    if not _is_float(x):
        kernels.inverse_permutation(perm)   # refuses a non-permutation, naming it
        return _t(np.transpose(np.asarray(x), perm))
    y = kernels.transpose(x, perm)
    inverse = kernels.inverse_permutation(perm)
    _record(lambda dys: [kernels.transpose(dys[0], inverse)], [x], [y], ("transpose", inverse))
    return y


def concatenate(xs, axis=0):
    if xs and _builtins.all(_is_int(x) for x in xs):
        arrays = [np.asarray(_any(x, "concatenate")) for x in xs]
        try:
            return _t(np.concatenate(arrays, axis=axis))
        except ValueError as exc:
            raise ValueError(f"ops.concatenate: shapes {[a.shape for a in arrays]} along axis {axis}: {exc}") from None
    xs = [_f32(x) for x in xs]
    y = kernels.concat(xs, axis)
    sizes = [int(x.shape[axis]) for x in xs]
    _record(lambda dys: kernels.split(dys[0], axis, sizes), xs, [y], ("concatenate", axis))
    return y


def stack(xs, axis=0):
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)


# -- linear algebra --------------------------------------------------------------------------------

def matmul(x1, x2):
    """x1 @ x2: (..., M, K) @ (..., K, N); a 1-D operand is a vector as in NumPy. Integer
    operands give an integer product (Keras)."""
    if _int_array(x1) and _int_array(x2):
        A, B = np.asarray(x1), np.asarray(x2)
        try:
            return _t(np.matmul(A, B).astype(_int_result_dtype(x1, x2)))
        except ValueError:
            raise ValueError(f"ops.matmul: shapes {A.shape} and {B.shape} do not multiply") from None
    wide = _wide.result_float(x1, x2)
    if wide == "float64":
        return _wide.matmul(x1, x2)
    if wide == "float16":
        return _wide.narrow(matmul(_to_f32(x1), _to_f32(x2)), wide)
    a, b = _f32(x1), _f32(x2)
    if a.ndim == 1 or b.ndim == 1:
        a2 = reshape(a, [1, -1]) if a.ndim == 1 else a
        b2 = reshape(b, [-1, 1]) if b.ndim == 1 else b
        y = matmul(a2, b2)
        out_shape = list(y.shape)
        if a.ndim == 1:
            out_shape.pop(-2)
        if b.ndim == 1:
            out_shape.pop(-1)
        return reshape(y, out_shape)
    y = kernels.batched_matmul(a, b)
    tape = autodiff.recording_tape()
    if tape is not None:
        need_a, need_b = _needs(tape, a), _needs(tape, b)

        def rule(dys):
            dy = dys[0]
            da = _unbroadcast(kernels.batched_matmul(dy, b, trans_b=True), a.shape) if need_a else None
            db = _unbroadcast(kernels.batched_matmul(a, dy, trans_a=True), b.shape) if need_b else None
            return [da, db]
        tape.record(rule, [a, b], [y], ("matmul",))
    return y


def _unbroadcast(g, shape):
    """Sum g over the leading batch axes that ``shape`` does not have (a shared 2-D operand)."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    axes = list(range(lead)) + [lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1]
    out = kernels.reduce_forward("sum", g, axes, False)
    return out.reshape(list(shape))


def dot(x1, x2):
    return matmul(x1, x2)


# -- selection and construction ------------------------------------------------------------------

def clip(x, x_min, x_max):
    return minimum(maximum(x, x_min), x_max)


def where(condition, x1=None, x2=None):
    """x1 where condition (nonzero) holds, else x2, broadcast together; the gradient goes to the
    chosen side only (a NaN or inf on the other side does not leak into values or gradients)."""
    c = np.asarray(condition)
    if x1 is None and x2 is None:
        # Keras 3: the indices of the nonzero entries, one index tensor per axis (np.nonzero)
        return nonzero(c)
    if x1 is None or x2 is None:
        raise ValueError("ops.where: give both x1 and x2, or neither (then the indices of the nonzero entries)")
    c = c != 0
    if _is_bool_data(x1) and _is_bool_data(x2):   # bools choosing between bools stay bool (Keras)
        a, b = np.asarray(x1), np.asarray(x2)
        _broadcast_check("where", c.shape, a.shape, b.shape)
        return _truth(np.where(c, a, b))
    if _is_int(x1) and _is_int(x2):
        a, b = _any(x1, "where"), _any(x2, "where")
        _broadcast_check("where", c.shape, a.shape, b.shape)
        return _t(np.where(c, np.asarray(a), np.asarray(b)).astype(_int_result_dtype(x1, x2)))
    a, b = _f32(x1, "where"), _f32(x2, "where")
    shape = _broadcast_check("where", c.shape, a.shape, b.shape)
    y = _t(np.where(c, np.asarray(a), np.asarray(b)))
    tape = autodiff.recording_tape()
    if tape is not None:
        need_a, need_b = _needs(tape, a), _needs(tape, b)
        pick = np.broadcast_to(c, shape)

        def rule(dys):
            dy = np.broadcast_to(np.asarray(dys[0]), shape)
            da = _t(_sum_to(np.where(pick, dy, 0.0), a.shape)) if need_a else None
            db = _t(_sum_to(np.where(pick, 0.0, dy), b.shape)) if need_b else None
            return [da, db]
        tape.record(rule, [a, b], [y], ("where", pick))
    return y


def one_hot(x, num_classes, axis=-1, dtype="float32"):
    idx = np.asarray(x).astype(np.int64)
    n = int(num_classes)
    # an index outside 0..num_classes-1 gives a row of zeros, as tf.one_hot / jax.nn.one_hot
    # (the Switch Transformer one-hots positions past an expert's capacity)
    out = np.concatenate([np.eye(n, dtype=dtype), np.zeros((1, n), dtype)])[np.where((idx >= 0) & (idx < n), idx, n)]
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return Tensor.from_numpy(_c_array(out))


def _filled_dtype(dtype, op):
    """The dtype a filled Tensor is stored in: a small integer type as int32; others as asked
    (bool: a bool tensor, the NMT tutorial's ``tf.zeros([n, 1], dtype=tf.bool)`` done flags)."""
    d = np.dtype(str(dtype))
    if d.kind in "iu" and d not in (np.int32, np.int64):
        from .dtypes import storage_dtype
        return storage_dtype(d, op)
    return d


def _filled(a):
    return _truth(a) if a.dtype == np.bool_ else Tensor.from_numpy(a)


def zeros(shape, dtype="float32"):
    return _filled(np.zeros(shape, _filled_dtype(dtype, "zeros")))


def ones(shape, dtype="float32"):
    return _filled(np.ones(shape, _filled_dtype(dtype, "ones")))


def full(shape, fill_value, dtype="float32"):
    return _filled(np.full(shape, _no_none("full", fill_value), _filled_dtype(dtype, "full")))


def _like_dtype(x, dtype):
    """Keras 3: a *_like result has x's dtype unless one is given (ints stay ints)."""
    if dtype is not None:
        return dtype
    d = getattr(x, "dtype", None)
    if d is None:
        return "float32"
    return "bool" if str(d) == "bool" else str(d) if np.dtype(str(d)).kind in "iuf" else "float32"


def zeros_like(x, dtype=None):
    return zeros(_shape_any(x), _like_dtype(x, dtype))


def ones_like(x, dtype=None):
    return ones(_shape_any(x), _like_dtype(x, dtype))


def eye(N, M=None, k=0, dtype="float32"):
    """Ones on the k-th diagonal of an N x M matrix (k > 0 above the main one)."""
    return Tensor.from_numpy(np.eye(N, M, k=k, dtype=dtype))


def arange(start, stop=None, step=1, dtype=None):
    """Keras 3's dtype rule: int32 when start, stop and step are all integers, else float32
    (position indices for an Embedding are ints; float ranges stay floats)."""
    if dtype is None:
        ints = _builtins.all(v is None or isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dtype = "int32" if ints else "float32"
    return Tensor.from_numpy(np.arange(start, stop, step, dtype=dtype))


def _truth(a):
    """Truth values (a comparison's, a logical op's, a cast to bool) as Keras gives them: a bool
    tensor, which for corenn is the NumPy bool array Keras masks are (``layers.base.BoolMask``:
    ``numpy()``, ``dtype`` bool, indexing selects, arithmetic gives float32 Tensors); always a
    new array, so it never shares memory with an input."""
    from .layers.base import BoolMask
    return np.array(a, dtype=np.bool_, order="C", copy=True).view(BoolMask)


def _truth_key(key):
    """An index with its bool tensors made NumPy bool arrays (a tuple's items too)."""
    if isinstance(key, np.ndarray) and key.dtype == np.bool_:
        return np.asarray(key)
    if isinstance(key, tuple):
        return tuple(_truth_key(k) for k in key)
    return key


def _no_none(op, a):
    """np.asarray(a), refusing None (alone or inside an object array): NumPy turns it into NaN
    under a float cast and into False / True under a comparison, an answer from no data."""
    arr = np.asarray(a)
    if arr.dtype == object and _builtins.any(v is None for v in arr.flat):
        raise TypeError(f"ops.{op}: expected a tensor, array or number, got None"
                        f"{'' if arr.ndim == 0 else f' inside an array of shape {arr.shape}'}")
    return arr


def _compare(fn, a, b):
    op = fn.__name__
    return _truth(fn(_no_none(op, a), _no_none(op, b)))


def equal(x1, x2):
    return _compare(np.equal, x1, x2)


def not_equal(x1, x2):
    return _compare(np.not_equal, x1, x2)


def greater(x1, x2):
    return _compare(np.greater, x1, x2)


def greater_equal(x1, x2):
    return _compare(np.greater_equal, x1, x2)


def less(x1, x2):
    return _compare(np.less, x1, x2)


def less_equal(x1, x2):
    return _compare(np.less_equal, x1, x2)


def logical_and(x1, x2):
    return _compare(np.logical_and, x1, x2)


def logical_or(x1, x2):
    return _compare(np.logical_or, x1, x2)


def logical_not(x):
    return _truth(np.logical_not(_no_none("logical_not", x)))


# -- losses as ops (Keras 3's keras.ops.*_crossentropy: per-sample values) ------------------------

def _log_probabilities(op, output, from_logits, axis):
    """log p along ``axis``: log_softmax of logits, or the log of probabilities scaled to sum to 1
    and clipped (Keras 3 divides by the sum first, so unnormalized or negative scores give the
    same per-sample values as keras.losses; clipping alone would not)."""
    x = _f32(output, op)
    if x.ndim == 0:
        raise ValueError(f"ops.{op}: output must have a class axis, got a scalar")
    axis = _axis_arg(op, axis, x.ndim, allow_none=False)
    if from_logits:
        return log_softmax(x, axis=axis), axis
    p = divide(x, sum(x, axis=axis, keepdims=True))
    return log(clip(p, 1e-7, 1.0 - 1e-7)), axis


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample -log p[target] (output: logits or probabilities over the last axis)."""
    logp, axis = _log_probabilities("sparse_categorical_crossentropy", output, from_logits, axis)
    if axis != logp.ndim - 1:   # as Keras 3: the classes are the last axis
        raise ValueError(f"ops.sparse_categorical_crossentropy: only axis=-1 is supported, got {axis}")
    labels = np.asarray(target)
    rows = tuple(logp.shape[:-1])
    if labels.size != int(np.prod(rows, dtype=np.int64)):   # (N, T) or (N, T, 1) or flat labels
        raise ValueError(f"ops.sparse_categorical_crossentropy: target of shape {labels.shape} does not match "
                         f"output of shape {tuple(logp.shape)} (expected {rows})")
    return negative(sum(multiply(one_hot(labels.reshape(rows), logp.shape[-1]), logp), axis=-1))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    logp, axis = _log_probabilities("categorical_crossentropy", output, from_logits, axis)
    t = _f32(target, "categorical_crossentropy")
    if tuple(t.shape) != tuple(logp.shape):
        raise ValueError(f"ops.categorical_crossentropy: target and output must have the same shape, got "
                         f"{tuple(t.shape)} and {tuple(logp.shape)}")
    return negative(sum(multiply(t, logp), axis=axis))


def binary_crossentropy(target, output, from_logits=False):
    p = sigmoid(output) if from_logits else output
    p = clip(p, 1e-7, 1.0 - 1e-7)
    # a float Tensor target keeps its dtype (float16 with float16 output stays float16, Keras')
    t = target if isinstance(target, Tensor) and target.dtype.is_floating else _f32(target)
    return negative(add(multiply(t, log(p)), multiply(subtract(1.0, t), log(subtract(1.0, p)))))


# -- Python operators on Tensors -------------------------------------------------------------------

def _getitem(self, key):
    """Indexing returns a copy (as a Keras tensor would); the gradient scatters back."""
    x = self
    a = np.asarray(x)
    key = _truth_key(key)
    try:
        picked = a[key]
    except IndexError as exc:
        raise IndexError(f"Tensor subscript {key!r} on a Tensor of shape {tuple(a.shape)}: {exc}") from None
    y = Tensor.from_numpy(_c_array(picked))
    if x.__dict__.get("_is_variable"):   # TensorFlow's v[i, j].assign(value) writes into v
        y.__dict__["_slice_of"] = (x, key)
    if x.dtype.is_floating:
        def rule(dys):
            g = np.zeros(a.shape, a.dtype)
            np.add.at(g, key, np.asarray(dys[0]))
            return [Tensor.from_numpy(g)]
        _record(rule, [x], [y], ("getitem", key))
    return y


def _logical_or_bitwise(logical, bitwise, a, b):
    return bitwise(a, b) if _is_int(a) and _is_int(b) else logical(a, b)


def _install_operators():
    T = Tensor
    # a complex operand (a ComplexPair, which is a tuple) is left to its own reflected operator
    T.__add__ = lambda a, b: NotImplemented if type(b) is ComplexPair else add(a, b)
    T.__radd__ = lambda a, b: add(b, a)
    T.__sub__ = lambda a, b: NotImplemented if type(b) is ComplexPair else subtract(a, b)
    T.__rsub__ = lambda a, b: subtract(b, a)
    T.__mul__ = lambda a, b: NotImplemented if type(b) is ComplexPair else multiply(a, b)
    T.__rmul__ = lambda a, b: multiply(b, a)
    T.__truediv__ = lambda a, b: NotImplemented if type(b) is ComplexPair else divide(a, b)
    T.__rtruediv__ = lambda a, b: divide(b, a)
    T.__floordiv__ = lambda a, b: floor_divide(a, b)
    T.__rfloordiv__ = lambda a, b: floor_divide(b, a)
    T.__mod__ = lambda a, b: mod(a, b)
    T.__rmod__ = lambda a, b: mod(b, a)
    T.__pow__ = lambda a, b: power(a, b)
    T.__rpow__ = lambda a, b: power(b, a)
    T.__matmul__ = lambda a, b: matmul(a, b)
    T.__rmatmul__ = lambda a, b: matmul(b, a)
    T.__neg__ = lambda a: negative(a)
    T.__abs__ = lambda a: abs(a)
    T.__gt__ = lambda a, b: greater(a, b)
    T.__ge__ = lambda a, b: greater_equal(a, b)
    T.__lt__ = lambda a, b: less(a, b)
    T.__le__ = lambda a, b: less_equal(a, b)
    # elementwise, as Keras tensors compare (1.0 where equal); anything that is not numeric data
    # compares unequal as before. Hashing stays by identity, so Tensors remain dict keys.
    T.__eq__ = lambda a, b: equal(a, b) if _numeric(b) else NotImplemented
    T.__ne__ = lambda a, b: not_equal(a, b) if _numeric(b) else NotImplemented
    T.__hash__ = object.__hash__
    T.__getitem__ = _getitem
    # & | ^ ~: logical on truth values (comparisons give float32 0 / 1: corenn has no bool
    # tensors), bitwise on integer tensors, as TensorFlow's operators on bool / int tensors
    T.__and__ = T.__rand__ = lambda a, b: _logical_or_bitwise(logical_and, bitwise_and, a, b)
    T.__or__ = T.__ror__ = lambda a, b: _logical_or_bitwise(logical_or, bitwise_or, a, b)
    T.__xor__ = T.__rxor__ = lambda a, b: _logical_or_bitwise(logical_xor, bitwise_xor, a, b)
    T.__invert__ = lambda a: bitwise_invert(a) if _is_int(a) else logical_not(a)
    T.__len__ = _len
    # NumPy defers its operators to the Tensor's (ndarray - Tensor -> Tensor.__rsub__, recorded
    # by the tape); NumPy functions still take Tensors through __array__ / np.asarray.
    T.__array_ufunc__ = None


def _numeric(b):
    return isinstance(b, (Tensor, np.ndarray, int, float, bool, np.number, np.bool_))


def _len(a):
    if a.ndim == 0:
        raise TypeError("len() of a 0-d Tensor")
    return int(a.shape[0])


_install_operators()


# ==================================================================================================
# The rest of keras.ops: NumPy-style, math and nn ops.
#
# These are not per-step layer kernels, so most compute with NumPy (in float64 where rounding
# matters, stored as float32) and record a NumPy backward rule; ops that are compositions of the
# ops above (relu6, hard_sigmoid, moments, normalize, ...) inherit their kernels and rules.
#
# Three rule shapes cover most of them:
#   - elementwise:  dx = dy * f'(x)                          (_unary_np / _binary_np)
#   - gathers:      y = x.flat[I] for an index array I        (_gather): flip, roll, tile, repeat,
#                   pad, swapaxes, broadcast_to, take, sort values, top_k, triu, slice, ...
#                   dx = bincount(I, weights=dy): every position of x collects the dy of the
#                   outputs that copied it (I = -1 marks an output that copied nothing: padding,
#                   a zeroed triangle). One rule, exact for duplicates and broadcasts.
#   - their own:    einsum, cumsum, cumprod, logsumexp, prod, scatter, segment_sum, ...
# Integer inputs keep their integer dtype through the index / shape ops (no gradient: the tape
# only differentiates float32 tensors); math ops turn them into float32. NumPy has no bool
# tensors here: predicates (isnan, in_top_k, any, ...) return float32 masks like the
# comparisons above.
# ==================================================================================================

import builtins as _builtins
import math as _math

# this module defines sum / max / min / any / all / round / map / slice (Keras' names)
_py_max, _py_min = _builtins.max, _builtins.min


def _any(x, op):
    """A Tensor for x keeping integer dtypes (floats and bools become float32; float64 in float64
    NumPy mode)."""
    if _NUMPY_FLOAT64.on and isinstance(x, Tensor) and x.dtype == "float64":
        return x
    if isinstance(x, Tensor) and x.dtype in ("float64", "float16"):
        return _f32(x, op)
    if type(x) in (list, tuple) and _holds_tensors(x) and _builtins.any(
            isinstance(v, Tensor) and v.dtype == "float32" for v in x):
        return _f32(x, op)   # a list of float Tensors: their differentiable stack
    try:
        return autodiff.convert(x, f"ops.{op}")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"ops.{op}: expected a tensor, array or number, got {type(x).__name__}: {exc}") from None


def _t(a):
    """A new Tensor holding array ``a`` (float -> float32, the dtype corenn computes in; bool ->
    a bool tensor; ints keep their dtype); always a copy, so a result never shares memory with
    an input."""
    a = np.asarray(a)
    if a.dtype.kind == "b":
        return _truth(a)
    if a.dtype.kind == "f":
        dt = np.float64 if _NUMPY_FLOAT64.on else np.float32
    elif a.dtype.kind in "iu":
        dt = a.dtype.newbyteorder("=")
    else:
        raise TypeError(f"ops: cannot hold dtype {a.dtype} in a corenn Tensor")
    return Tensor.from_numpy(np.array(a, dtype=dt, order="C", copy=True))


def _np64(x):
    return np.asarray(x, dtype=np.float64)


def _is_float(x):
    d = x.dtype   # a Tensor's: one instance per dtype, compared by identity
    if d is _wide._FLOAT32:
        return True
    if d is _wide._FLOAT64:
        return _NUMPY_FLOAT64.on
    return not isinstance(x, Tensor) and d == "float32"   # a NumPy array


def _axis_arg(op, axis, ndim, allow_none=True):
    """A checked axis (normalized to 0..ndim-1), or None."""
    if axis is None:
        if allow_none:
            return None
        raise ValueError(f"ops.{op}: axis must be an integer, got None")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"ops.{op}: axis must be an integer, got {axis!r}")
    if not -ndim <= int(axis) < ndim:
        raise ValueError(f"ops.{op}: axis {axis} is out of range for a tensor of rank {ndim}")
    return int(axis) % ndim


def _axes_arg(op, axis, ndim):
    """None, or a tuple of distinct normalized axes (an int or a sequence of ints)."""
    if axis is None:
        return None
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    out = tuple(_axis_arg(op, a, ndim) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"ops.{op}: repeated axis in {axis!r}")
    return out


def _sum_to(g, shape):
    """g summed over the axes along which an operand of ``shape`` was broadcast to g's shape."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def _broadcast_check(op, *shapes):
    try:
        return np.broadcast_shapes(*[tuple(s) for s in shapes])
    except ValueError:
        raise ValueError(f"ops.{op}: shapes {', '.join(str(tuple(s)) for s in shapes)} do not broadcast "
                         "together (each axis, right-aligned, must be equal or 1)") from None


def _unary_np(op, x, f, df=None):
    """y = f(x) elementwise (computed in float64, stored float32); the rule dx = dy * df(x, y).
    df None: no derivative (the result is a constant for the tape). On a float64 tensor the
    result is float64 (a float16 one's is rounded to float16), as Keras."""
    wide = _wide.result_float(x)
    # the ops whose derivative formula is NumPy ufuncs and arithmetic only: op_gradients evaluates it
    # on Tensors (ops), so a nested tape differentiates them again (a PINN's erf, sinh, log1p)
    desc = ("unary_np", df) if op in _DIFFERENTIABLE_AGAIN and df is not None else None
    if wide == "float64":
        return _wide.unary(op, x, f, df, desc)
    if wide == "float16":
        return _wide.narrow(_unary_np(op, _to_f32(x, op), f, df), wide)
    x = _f32(x, op)
    with np.errstate(all="ignore"):
        y = _t(f(_np64(x)))
    if df is not None:
        def rule(dys):
            with np.errstate(all="ignore"):
                return [_t(_np64(dys[0]) * df(_np64(x), _np64(y)))]
        _record(rule, [x], [y], desc)
    return y


_DIFFERENTIABLE_AGAIN = frozenset({"erf", "erfc", "log1p", "expm1", "exp2", "log2", "log10", "rsqrt", "tan", "sinh",
                                   "cosh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "cbrt",
                                   "gelu"})


def _binary_np(op, x1, x2, f, dfa=None, dfb=None):
    """y = f(a, b) with broadcasting (float64 math, float32 result; float64 / float16 as the
    operands promote, see _ops_wide); da = sum-to-a(dy dfa(a, b, y))."""
    wide = _wide.result_float(x1, x2)
    if wide == "float64":
        return _wide.binary(op, x1, x2, f, dfa, dfb)
    if wide == "float16":
        return _wide.narrow(_binary_np(op, _to_f32(x1, op), _to_f32(x2, op), f, dfa, dfb), wide)
    a, b = _f32(x1, op), _f32(x2, op)
    _broadcast_check(op, a.shape, b.shape)
    with np.errstate(all="ignore"):
        y = _t(f(_np64(a), _np64(b)))
    if dfa is not None:
        tape = autodiff.recording_tape()
        if tape is not None:
            need_a, need_b = _needs(tape, a), _needs(tape, b)

            def rule(dys):
                A, B, Y, dy = _np64(a), _np64(b), _np64(y), _np64(dys[0])
                with np.errstate(all="ignore"):
                    da = _t(_sum_to(dy * dfa(A, B, Y), a.shape)) if need_a else None
                    db = _t(_sum_to(dy * dfb(A, B, Y), b.shape)) if need_b else None
                return [da, db]
            tape.record(rule, [a, b], [y])
    return y


def _gather(op, x, index_fn, values_fn=None):
    """y = x.flat[index_fn(I)] where I numbers x's entries (0..size-1, x's shape); -1 entries of
    the index array are outputs that copy no entry of x (they take values_fn's values).
    Gradient: dx.flat[i] = sum of dy over the outputs whose index is i."""
    x = _any(x, op)
    a = np.asarray(x)
    idx = np.asarray(index_fn(np.arange(a.size, dtype=np.int64).reshape(a.shape)))
    if values_fn is not None:
        y = _t(values_fn(a))
    else:
        y = _t(a.reshape(-1)[idx] if a.size else np.zeros(idx.shape, a.dtype))
    if _is_float(x):
        shape, n = a.shape, a.size

        def rule(dys):
            flat, dy = idx.reshape(-1), _np64(dys[0]).reshape(-1)
            keep = flat >= 0
            g = np.bincount(flat[keep], weights=dy[keep], minlength=n)
            return [_t(g.reshape(shape))]
        _record(rule, [x], [y], ("gather", idx))
    return y


@_numpy_float64   # (float64 data: a float64 move's gradient, differentiated again)
def _gather_flat(x, idx):
    """y = x.flat[idx] (idx -1: a zero): the gather written as one recorded op (op_gradients)."""
    return _gather("gather", x, lambda i: idx, lambda a: np.where(
        idx >= 0, a.reshape(-1)[np.maximum(idx, 0)] if a.size else 0, 0).astype(a.dtype))


@_numpy_float64
def _scatter_flat(dy, idx, shape):
    """The gather's adjoint: dx.flat[i] = the sum of dy over the outputs whose idx is i. Linear,
    so its gradient is the gather at the same idx (op_gradients differentiates either again)."""
    dy = _f32(dy, "scatter_flat")
    flat, values = idx.reshape(-1), np.asarray(dy, np.float64).reshape(-1)
    keep = flat >= 0
    y = _t(np.bincount(flat[keep], weights=values[keep], minlength=int(np.prod(shape))).reshape(shape))
    def rule(dys):
        g = np.asarray(dys[0]).reshape(-1)
        return [_t(np.where(idx >= 0, g[np.maximum(idx, 0)], 0).astype(np.float64 if _NUMPY_FLOAT64.on else np.float32))]
    _record(rule, [dy], [y], ("scatter_flat", idx))
    return y


def _shape_of(op, shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"ops.{op}: shape must be an integer or a sequence of integers, got {shape!r}") from None


# -- core ------------------------------------------------------------------------------------------

def is_tensor(x):
    return isinstance(x, Tensor)


def dtype(x):
    """The dtype name of x (a Tensor's own; a NumPy array's; Python numbers: int32 / float32)."""
    if isinstance(x, Tensor):
        return str(x.dtype)
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "int32"
    if isinstance(x, float):
        return "float32"
    return np.asarray(x).dtype.name


def array(x, dtype=None):
    """Keras 3's ``ops.array``: convert_to_tensor's dtypes (``array([True])`` is bool, Python
    ints int32)."""
    return convert_to_tensor(x, dtype=dtype)


def copy(x):
    return _gather("copy", x, lambda i: i)


def get_item(x, key):
    return _getitem(_any(x, "get_item"), key)


def ravel(x):
    return _gather("ravel", x, lambda i: i.reshape(-1))


def cond(pred, true_fn, false_fn):
    """true_fn() if pred else false_fn() (plain Python: eager ops need no tracing)."""
    return true_fn() if bool(np.asarray(pred)) else false_fn()


def switch(index, branches, *operands):
    i = int(np.clip(int(np.asarray(index)), 0, len(branches) - 1))
    return branches[i](*operands)


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Run ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` (loop_vars a tuple / list,
    or a single value as in Keras)."""
    single = not isinstance(loop_vars, (list, tuple))
    vars_ = (loop_vars,) if single else tuple(loop_vars)
    n = 0
    while (maximum_iterations is None or n < maximum_iterations) and bool(np.asarray(cond(*vars_))):
        out = body(*vars_)
        vars_ = (out,) if single or not isinstance(out, (list, tuple)) else tuple(out)
        n += 1
    if single:
        return vars_[0]
    return type(loop_vars)(vars_) if isinstance(loop_vars, list) else vars_


def fori_loop(lower, upper, body_fun, init_val):
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """carry, ys = scan(f, init, xs): ``carry, y = f(carry, x)`` over xs' leading axis (JAX's
    lax.scan, Keras 3's keras.ops.scan); ys stacked along a new leading axis."""
    if xs is None:
        if length is None:
            raise ValueError("ops.scan: give xs or length")
        items = [None] * int(length)
    else:
        n = int(xs.shape[0]) if hasattr(xs, "shape") else len(xs)
        if length is not None and int(length) != n:
            raise ValueError(f"ops.scan: length {length} does not match xs' leading axis {n}")
        items = [xs[i] for i in range(n)]
    order = range(len(items) - 1, -1, -1) if reverse else range(len(items))
    carry, ys = init, [None] * len(items)
    for i in order:
        carry, ys[i] = f(carry, items[i])
    if not ys or ys[0] is None:
        return carry, None
    return carry, stack(ys, axis=0)


def map(f, xs):  # noqa: A001 - Keras' name
    """f on each slice along axis 0 of xs, results stacked. xs may be a structure of tensors (a
    tuple, dict ...): f then gets the same structure of slices, and a structure of results
    stacks field by field, as in Keras."""
    from . import tree
    if not tree.is_nested(xs):
        n = int(xs.shape[0]) if hasattr(xs, "shape") else len(xs)
        return stack([f(xs[i]) for i in range(n)], axis=0)
    flat = [_to_tensor(x) for x in tree.flatten(xs)]
    sizes = {int(x.shape[0]) if x.ndim else -1 for x in flat}
    if not flat or -1 in sizes or len(sizes) != 1:
        raise ValueError(f"ops.map: every tensor in xs needs the same leading axis to map over, got shapes "
                         f"{[tuple(x.shape) for x in flat]}")
    n = sizes.pop()
    results = [f(tree.pack_sequence_as(xs, [x[i] for x in flat])) for i in range(n)]
    if not results:
        raise ValueError("ops.map: xs has no entries along axis 0 (the result's shape is unknown)")
    if not tree.is_nested(results[0]):
        return stack(results, axis=0)
    columns = zip(*[tree.flatten(r) for r in results])
    return tree.pack_sequence_as(results[0], [stack([_to_tensor(v) for v in c], axis=0) for c in columns])


def vectorized_map(function, elements):
    return map(function, elements)


def unstack(x, num=None, axis=0):
    x = _any(x, "unstack")
    ax = _axis_arg("unstack", axis, x.ndim, allow_none=False)
    n = int(x.shape[ax])
    if num is not None and int(num) != n:
        raise ValueError(f"ops.unstack: num={num} but axis {axis} of shape {tuple(x.shape)} has {n} entries")
    return [_gather("unstack", x, lambda i, k=k: np.take(i, k, axis=ax)) for k in range(n)]


def split(x, indices_or_sections, axis=0):
    x = _any(x, "split")
    ax = _axis_arg("split", axis, x.ndim, allow_none=False)
    n = int(x.shape[ax])
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise ValueError(f"ops.split: axis {axis} of shape {tuple(x.shape)} (size {n}) does not split "
                             f"into {k} equal sections")
        bounds = [i * (n // k) for i in range(k + 1)]
    else:
        bounds = [0] + [_py_min(_py_max(int(i), 0), n) for i in indices_or_sections] + [n]
    return [_gather("split", x, lambda i, lo=lo, hi=hi: np.take(i, np.arange(lo, _py_max(lo, hi)), axis=ax))
            for lo, hi in zip(bounds[:-1], bounds[1:])]


def slice(inputs, start_indices, shape):  # noqa: A001 - Keras' name
    """inputs[start:start+shape] on every axis (Keras 3's ops.slice)."""
    x = _any(inputs, "slice")
    start, size = [int(s) for s in np.asarray(start_indices).reshape(-1)], _shape_of("slice", shape)
    if len(start) != x.ndim or len(size) != x.ndim:
        raise ValueError(f"ops.slice: start_indices {start} and shape {size} need one entry per axis of "
                         f"the input's shape {tuple(x.shape)}")
    for s, k, d in zip(start, size, x.shape):
        if s < 0 or k < 0 or s + k > d:
            raise ValueError(f"ops.slice: the window start {start} size {size} does not fit in shape {tuple(x.shape)}")
    key = tuple(_builtins.slice(s, s + k) for s, k in zip(start, size))
    return _gather("slice", x, lambda i: i[key])


def slice_update(inputs, start_indices, updates):
    """inputs with the window at start_indices replaced by updates (a new tensor)."""
    x, u = _any(inputs, "slice_update"), _any(updates, "slice_update")
    start = [int(s) for s in np.asarray(start_indices).reshape(-1)]
    if len(start) != x.ndim or u.ndim != x.ndim or _builtins.any(
            s < 0 or s + k > d for s, k, d in zip(start, u.shape, x.shape)):
        raise ValueError(f"ops.slice_update: updates of shape {tuple(u.shape)} at {start} do not fit in "
                         f"inputs of shape {tuple(x.shape)}")
    key = tuple(_builtins.slice(s, s + k) for s, k in zip(start, u.shape))
    return _replace("slice_update", x, u, lambda m: m.__setitem__(key, True), key)


def _replace(op, x, u, mark, key):
    """out = x with out[key] = u; dx = dy where not replaced, du = dy[key]."""
    out = np.array(np.asarray(x), copy=True)
    if _is_float(x) or _is_float(u):
        out = out.astype(np.float64 if _NUMPY_FLOAT64.on else np.float32)
    out[key] = np.asarray(u)
    y = _t(out)
    if _is_float(x) and _is_float(u):
        replaced = np.zeros(tuple(x.shape), bool)
        mark(replaced)

        def rule(dys):
            dy = np.asarray(dys[0])
            return [_t(np.where(replaced, 0.0, dy)), _t(dy[key].reshape(tuple(u.shape)))]
        _record(rule, [x, u], [y])
    return y


def _index_tuple(op, indices, shape):
    """scatter-style indices (..., depth) -> a tuple of index arrays for the first depth axes."""
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        idx = idx.astype(np.int64)
    if idx.ndim == 0 or idx.shape[-1] > len(shape):
        raise ValueError(f"ops.{op}: indices of shape {idx.shape} must end in an index depth <= the rank "
                         f"of shape {tuple(shape)}")
    depth = idx.shape[-1]
    for d in range(depth):
        col = idx[..., d]
        if col.size and (col.min() < 0 or col.max() >= shape[d]):
            raise IndexError(f"ops.{op}: an index along axis {d} is outside [0, {shape[d]}) of shape {tuple(shape)}")
    return tuple(idx[..., d] for d in range(depth))


def scatter(indices, values, shape):
    """A zeros tensor of ``shape`` with ``values`` added at ``indices`` (tf.scatter_nd: duplicate
    indices sum)."""
    shape = _shape_of("scatter", shape)
    v = _any(values, "scatter")
    key = _index_tuple("scatter", indices, shape)
    want = key[0].shape + tuple(shape[len(key):])
    if tuple(v.shape) != want:
        raise ValueError(f"ops.scatter: values of shape {tuple(v.shape)} do not match indices and shape "
                         f"(expected {want})")
    out = np.zeros(shape, np.asarray(v).dtype)
    np.add.at(out, key, np.asarray(v))
    y = _t(out)
    if _is_float(v):
        _record(lambda dys: [_t(np.asarray(dys[0])[key])], [v], [y])
    return y


def scatter_update(inputs, indices, updates):
    """inputs with the entries at ``indices`` (..., depth) replaced by ``updates``."""
    x, u = _any(inputs, "scatter_update"), _any(updates, "scatter_update")
    key = _index_tuple("scatter_update", indices, tuple(x.shape))
    want = key[0].shape + tuple(x.shape[len(key):])
    if tuple(u.shape) != want:
        raise ValueError(f"ops.scatter_update: updates of shape {tuple(u.shape)} do not match indices "
                         f"(expected {want})")
    return _replace("scatter_update", x, u, lambda m: m.__setitem__(key, True), key)


# -- elementwise math ------------------------------------------------------------------------------

def _erf64(a):
    return np.vectorize(_math.erf, otypes=[np.float64])(a) if np.size(a) else np.zeros(np.shape(a))


def _erfinv64(y):
    """erf^-1 in float64: Giles' single-precision approximation refined by Newton steps."""
    y = np.asarray(y, np.float64)
    with np.errstate(all="ignore"):
        w = -np.log((1.0 - y) * (1.0 + y))
        small = w < 5.0
        ws, wl = w - 2.5, np.sqrt(w) - 3.0
        ps = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                  -0.00417768164, 0.246640727, 1.50140941):
            ps = c + ps * ws
        pl = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                  0.00943887047, 1.00167406, 2.83297682):
            pl = c + pl * wl
        x = np.where(small, ps, pl) * y
        for _ in range(2):
            err = _erf64(x) - y
            x = x - err / (2.0 / np.sqrt(np.pi) * np.exp(-x * x))
        x = np.where(y == 1.0, np.inf, np.where(y == -1.0, -np.inf, x))
        return np.where(np.abs(y) > 1.0, np.nan, x)


_SQRT_PI = np.sqrt(np.pi)


def erf(x):
    return _unary_np("erf", x, _erf64, lambda a, y: 2.0 / _SQRT_PI * np.exp(-a * a))


def erfinv(x):
    return _unary_np("erfinv", x, _erfinv64, lambda a, y: _SQRT_PI / 2.0 * np.exp(y * y))


def log1p(x):
    return _unary_np("log1p", x, np.log1p, lambda a, y: 1.0 / (1.0 + a))


def expm1(x):
    return _unary_np("expm1", x, np.expm1, lambda a, y: y + 1.0)


def exp2(x):
    return _unary_np("exp2", x, np.exp2, lambda a, y: y * np.log(2.0))


def log2(x):
    return _unary_np("log2", x, np.log2, lambda a, y: 1.0 / (a * np.log(2.0)))


def log10(x):
    return _unary_np("log10", x, np.log10, lambda a, y: 1.0 / (a * np.log(10.0)))


def rsqrt(x):
    return _unary_np("rsqrt", x, lambda a: 1.0 / np.sqrt(a), lambda a, y: -0.5 * y / a)


def tan(x):
    return _unary_np("tan", x, np.tan, lambda a, y: 1.0 + y * y)


def sinh(x):
    return _unary_np("sinh", x, np.sinh, lambda a, y: np.cosh(a))


def cosh(x):
    return _unary_np("cosh", x, np.cosh, lambda a, y: np.sinh(a))


def arcsin(x):
    return _unary_np("arcsin", x, np.arcsin, lambda a, y: 1.0 / np.sqrt(1.0 - a * a))


def arccos(x):
    return _unary_np("arccos", x, np.arccos, lambda a, y: -1.0 / np.sqrt(1.0 - a * a))


def arctan(x):
    return _unary_np("arctan", x, np.arctan, lambda a, y: 1.0 / (1.0 + a * a))


def arcsinh(x):
    return _unary_np("arcsinh", x, np.arcsinh, lambda a, y: 1.0 / np.sqrt(a * a + 1.0))


def arccosh(x):
    return _unary_np("arccosh", x, np.arccosh, lambda a, y: 1.0 / np.sqrt(a * a - 1.0))


def arctanh(x):
    return _unary_np("arctanh", x, np.arctanh, lambda a, y: 1.0 / (1.0 - a * a))


def _int_preserving(op, x, f, int_to_float=False):
    """f applied to x; an integer tensor stays integer (trunc, round of ints are the ints), or
    becomes float32 with int_to_float (floor, ceil: Keras 3 returns floats for them)."""
    t = _any(x, op)
    if not _is_float(t) and int_to_float:
        return _t(np.asarray(t).astype(np.float32))
    if not _is_float(t):
        return _t(np.asarray(t))
    return _unary_np(op, t, f)   # no derivative: a constant for the tape (TensorFlow: None)


def floor(x):
    return _int_preserving("floor", x, np.floor, int_to_float=True)


def ceil(x):
    return _int_preserving("ceil", x, np.ceil, int_to_float=True)


def trunc(x):
    return _int_preserving("trunc", x, np.trunc)


def round(x, decimals=0):  # noqa: A001 - Keras' name
    """Round half to even (NumPy, TensorFlow), to ``decimals`` places."""
    return _int_preserving("round", x, lambda a: np.round(a, int(decimals)))


def arctan2(x1, x2):
    return _binary_np("arctan2", x1, x2, np.arctan2,
                      lambda a, b, y: b / (a * a + b * b), lambda a, b, y: -a / (a * a + b * b))


def hypot(x1, x2):
    return _binary_np("hypot", x1, x2, np.hypot, lambda a, b, y: a / y, lambda a, b, y: b / y)


def logaddexp(x1, x2):
    return _binary_np("logaddexp", x1, x2, np.logaddexp,
                      lambda a, b, y: np.exp(a - y), lambda a, b, y: np.exp(b - y))


def mod(x1, x2):
    """x1 mod x2 with the divisor's sign (NumPy's, Python's %); integers stay integers."""
    a, b = _any(x1, "mod"), _any(x2, "mod")
    if not _is_float(a) and not _is_float(b):
        _broadcast_check("mod", a.shape, b.shape)
        with np.errstate(all="ignore"):
            return _t(np.mod(np.asarray(a), np.asarray(b)).astype(_int_result_dtype(x1, x2)))
    return _binary_np("mod", a, b, np.mod, lambda a, b, y: np.ones_like(y),
                      lambda a, b, y: -np.floor(a / b))


def floor_divide(x1, x2):
    a, b = _any(x1, "floor_divide"), _any(x2, "floor_divide")
    _broadcast_check("floor_divide", a.shape, b.shape)
    A, B = np.asarray(a), np.asarray(b)
    if not _is_float(a) and not _is_float(b):
        if B.size and (B == 0).any():
            raise ZeroDivisionError("ops.floor_divide: integer division by zero")
        return _t(np.floor_divide(A, B).astype(_int_result_dtype(x1, x2)))
    with np.errstate(all="ignore"):
        return _t(np.floor_divide(A.astype(np.float64), B.astype(np.float64)))


def divide_no_nan(x1, x2):
    """x1 / x2, and 0 where x2 == 0 (gradients too)."""
    return _binary_np("divide_no_nan", x1, x2,
                      lambda a, b: np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b)),
                      lambda a, b, y: np.where(b == 0, 0.0, 1.0 / np.where(b == 0, 1.0, b)),
                      lambda a, b, y: np.where(b == 0, 0.0, -y / np.where(b == 0, 1.0, b)))


def _predicate(op, fn, *xs):
    arrays = [np.asarray(_any(x, op)) for x in xs]
    if len(arrays) > 1:
        _broadcast_check(op, *[a.shape for a in arrays])
    with np.errstate(all="ignore"):
        return _truth(np.asarray(fn(*arrays)))


def isnan(x):
    return _predicate("isnan", np.isnan, x)


def isinf(x):
    return _predicate("isinf", np.isinf, x)


def isfinite(x):
    return _predicate("isfinite", np.isfinite, x)


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return _predicate("isclose", lambda a, b: np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan),
                      x1, x2)


def logical_xor(x1, x2):
    return _predicate("logical_xor", np.logical_xor, x1, x2)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN / inf replaced; the gradient passes where x was finite (0 where it was replaced)."""
    t = _any(x, "nan_to_num")
    if not _is_float(t):
        return _t(np.asarray(t))
    return _unary_np("nan_to_num", t,
                     # the largest finite value of the result's dtype stands in for inf
                     lambda a: np.nan_to_num(a.astype(np.float64 if _NUMPY_FLOAT64.on else np.float32), nan=nan,
                                             posinf=posinf, neginf=neginf),
                     lambda a, y: np.isfinite(a).astype(np.float64))


# -- nn activations --------------------------------------------------------------------------------
# Keras 3's activation ops, each one C++ activation kernel (forward and backward; formulas in
# csrc/cpu/activation.cpp) with its tape rule from _activation.

def relu6(x):
    if _int_array(x):
        return minimum(maximum(x, 0), 6)
    return _activation("relu6", x, alpha=6.0)


def hard_sigmoid(x):
    """relu6(x + 3) / 6 (Keras 3)."""
    return _activation("hard_sigmoid", x)


def hard_silu(x):
    """x * relu6(x + 3) / 6."""
    return _activation("hard_silu", x)


hard_swish = hard_silu


def log_sigmoid(x):
    """-softplus(-x)."""
    return _activation("log_sigmoid", x)


def softsign(x):
    """x / (|x| + 1)."""
    return _activation("softsign", x)


def hard_tanh(x):
    """clip(x, -1, 1)."""
    return _activation("hard_tanh", x)


def celu(x, alpha=1.0):
    """max(x, 0) + min(alpha (exp(x / alpha) - 1), 0)."""
    return _activation("celu", x, alpha=float(alpha))


def glu(x, axis=-1):
    """a * sigmoid(b) for x split in two halves a, b along ``axis``."""
    x = _f32(x)
    ax = _axis_arg("glu", axis, x.ndim, allow_none=False)
    if x.shape[ax] % 2:
        raise ValueError(f"ops.glu: axis {axis} of shape {tuple(x.shape)} must have an even size")
    a, b = split(x, 2, axis=ax)
    return multiply(a, sigmoid(b))


def hard_shrink(x, threshold=0.5):
    """x where |x| > threshold, else 0."""
    return _activation("hard_shrink", x, alpha=float(threshold))


def soft_shrink(x, threshold=0.5):
    """sign(x) max(|x| - threshold, 0)."""
    return _activation("soft_shrink", x, alpha=float(threshold))


def tanh_shrink(x):
    """x - tanh(x)."""
    return _activation("tanh_shrink", x)


def squareplus(x, b=4):
    """(x + sqrt(x^2 + b)) / 2."""
    return _activation("squareplus", x, alpha=float(b))


def sparse_plus(x):
    """0 for x <= -1, (x + 1)^2 / 4 for |x| < 1, x for x >= 1."""
    return _activation("sparse_plus", x)


def mish(x):
    """x tanh(softplus(x))."""
    return _activation("mish", x)


def threshold(x, threshold, default_value):
    """x where x > threshold, else default_value."""
    return where(greater(x, threshold), x, default_value)


def _gelu_tanh(x):
    c = np.sqrt(2.0 / np.pi)

    def f(a):
        return 0.5 * a * (1.0 + np.tanh(c * (a + 0.044715 * a ** 3)))

    def df(a, y):
        t = np.tanh(c * (a + 0.044715 * a ** 3))
        return 0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * a * a)
    return _unary_np("gelu", x, f, df)


# -- reductions and scans ------------------------------------------------------------------------

def amax(x, axis=None, keepdims=False):
    return max(x, axis=axis, keepdims=keepdims)


def amin(x, axis=None, keepdims=False):
    return min(x, axis=axis, keepdims=keepdims)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over axis, shifted by the max (stable); d/dx = softmax over the axis."""
    x = _f32(x, "logsumexp")
    axes = _axes_arg("logsumexp", axis, x.ndim)
    a = _np64(x)
    with np.errstate(all="ignore"):
        m = np.max(a, axis=axes, keepdims=True) if a.size else np.zeros([1] * a.ndim)
        m = np.where(np.isfinite(m), m, 0.0)
        lse = np.log(np.sum(np.exp(a - m), axis=axes, keepdims=True)) + m
    y = _t(lse if keepdims else np.squeeze(lse, axis=axes) if axes is not None else lse.reshape(()))

    def rule(dys):
        dy = _np64(dys[0]).reshape(lse.shape)
        with np.errstate(all="ignore"):
            return [_t(dy * np.exp(a - lse))]
    _record(rule, [x], [y], ("logsumexp", tuple(lse.shape)))
    return y


def prod(x, axis=None, keepdims=False, dtype=None):
    """Product over axis; d/dx_i = the product of the others (exact with zeros)."""
    t = _any(x, "prod")
    axes = _axes_arg("prod", axis, t.ndim)
    if dtype is not None:
        t = cast(t, dtype)
    a = np.asarray(t)
    if not _is_float(t):   # a product of 8- / 16-bit integers is 32-bit, as Keras 3's
        out = a.dtype if a.dtype.itemsize >= 4 else np.dtype(np.uint32 if a.dtype.kind == "u" else np.int32)
        return _t(np.prod(a.astype(out), axis=axes, keepdims=keepdims).astype(out))
    y = _t(np.prod(_np64(a), axis=axes, keepdims=keepdims))

    def rule(dys):
        # the product of the others: exclusive cumulative products from both ends, on the
        # reduced axes flattened to one
        ax = tuple(range(a.ndim)) if axes is None else axes
        rest = [i for i in range(a.ndim) if i not in ax]
        moved = np.transpose(_np64(a), rest + list(ax))
        lead = moved.shape[:len(rest)]
        flat = moved.reshape(lead + (-1,))
        left = np.cumprod(np.concatenate([np.ones(lead + (1,)), flat[..., :-1]], -1), -1)
        right = np.cumprod(np.concatenate([np.ones(lead + (1,)), flat[..., :0:-1]], -1), -1)[..., ::-1]
        dy = _np64(dys[0]).reshape(lead + (1,))
        g = (left * right * dy).reshape(moved.shape)
        return [_t(np.transpose(g, kernels.inverse_permutation(rest + list(ax))))]
    _record(rule, [t], [y])
    return y


def _scan_axis(op, x, axis):
    """(tensor, axis) with axis=None meaning the flattened tensor."""
    t = _any(x, op)
    if axis is None:
        return ravel(t), 0
    return t, _axis_arg(op, axis, t.ndim, allow_none=False)


def cumsum(x, axis=None, dtype=None):
    t, ax = _scan_axis("cumsum", x, axis)
    if dtype is not None:
        t = cast(t, dtype)
    a = np.asarray(t)
    if not _is_float(t):
        return _t(np.cumsum(a, axis=ax).astype(a.dtype))
    y = _t(np.cumsum(_np64(a), axis=ax))
    # dx_i = sum_{j >= i} dy_j: a reversed cumulative sum
    _record(lambda dys: [_t(np.flip(np.cumsum(np.flip(_np64(dys[0]), ax), axis=ax), ax))], [t], [y], ("cumsum", ax))
    return y


def cumprod(x, axis=None, dtype=None):
    t, ax = _scan_axis("cumprod", x, axis)
    if dtype is not None:
        t = cast(t, dtype)
    a = np.asarray(t)
    if not _is_float(t):
        return _t(np.cumprod(a, axis=ax).astype(a.dtype))
    y = _t(np.cumprod(_np64(a), axis=ax))

    def rule(dys):
        # y_j = prod_{k <= j} x_k, so dx_i = E_i R_i with E_i = prod_{k < i} x_k and
        # R_i = sum_{j >= i} dy_j prod_{i < k <= j} x_k = dy_i + x_{i+1} R_{i+1}; no division,
        # so zeros in x are exact
        xs, dy = np.moveaxis(_np64(a), ax, 0), np.moveaxis(_np64(dys[0]), ax, 0)
        n = xs.shape[0]
        if n == 0:
            return [_t(np.zeros(a.shape))]
        excl = np.cumprod(np.concatenate([np.ones((1,) + xs.shape[1:]), xs[:-1]], 0), 0)
        r = np.empty_like(xs)
        r[n - 1] = dy[n - 1]
        for i in range(n - 2, -1, -1):
            r[i] = dy[i] + xs[i + 1] * r[i + 1]
        return [_t(np.moveaxis(excl * r, 0, ax))]
    _record(rule, [t], [y])
    return y


def any(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    t = _any(x, "any")
    return _truth(np.any(np.asarray(t), axis=_axes_arg("any", axis, t.ndim), keepdims=keepdims))


def all(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    t = _any(x, "all")
    return _truth(np.all(np.asarray(t), axis=_axes_arg("all", axis, t.ndim), keepdims=keepdims))


def count_nonzero(x, axis=None):
    t = _any(x, "count_nonzero")
    return _index(np.count_nonzero(np.asarray(t), axis=_axes_arg("count_nonzero", axis, t.ndim)))


def average(x, axis=None, weights=None):
    """mean, or sum(x w) / sum(w) with weights (x's shape, or 1-D along axis)."""
    x = _f32(x)
    if weights is None:
        return mean(x, axis=axis)
    w = _f32(weights)
    if axis is not None and w.ndim == 1 and x.ndim > 1:
        ax = _axis_arg("average", axis, x.ndim, allow_none=False)
        if w.shape[0] != x.shape[ax]:
            raise ValueError(f"ops.average: 1-D weights of length {w.shape[0]} do not match axis {axis} "
                             f"of shape {tuple(x.shape)}")
        w = reshape(w, [-1 if i == ax else 1 for i in range(x.ndim)])
    elif tuple(w.shape) != tuple(x.shape):
        raise ValueError(f"ops.average: weights of shape {tuple(w.shape)} must have x's shape {tuple(x.shape)} "
                         "(or be 1-D along axis)")
    num = sum(multiply(x, w), axis=axis)
    den = sum(multiply(ones_like(x), w), axis=axis)
    return divide(num, den)


def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) over axes (Keras 3's nn.moments)."""
    m = mean(x, axis=axes, keepdims=True)
    v = mean(square(subtract(x, m)), axis=axes, keepdims=keepdims)
    return (m if keepdims else squeeze(m, axis=axes)), v


def normalize(x, axis=-1, order=2, epsilon=None):
    """x / max(norm(x, order, axis), epsilon) (Keras 3; order 1 or 2)."""
    x = _f32(x)
    eps = 1e-12 if epsilon is None else float(epsilon)
    if order == 2:
        n = sqrt(maximum(sum(square(x), axis=axis, keepdims=True), eps * eps))
    elif order == 1:
        n = maximum(sum(abs(x), axis=axis, keepdims=True), eps)
    else:
        raise ValueError(f"ops.normalize: order must be 1 or 2, got {order!r}")
    return divide(x, n)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """(x - mean) / sqrt(variance + epsilon) * scale + offset, with 1-D statistics along axis."""
    x = _f32(x)
    ax = _axis_arg("batch_normalization", axis, x.ndim, allow_none=False)
    shape = [-1 if i == ax else 1 for i in range(x.ndim)]

    def along(v):
        v = _f32(v)
        if v.ndim != 1 or v.shape[0] != x.shape[ax]:
            raise ValueError(f"ops.batch_normalization: statistics of shape {tuple(v.shape)} must be "
                             f"({x.shape[ax]},) for axis {axis} of shape {tuple(x.shape)}")
        return reshape(v, shape)
    y = divide(subtract(x, along(mean)), sqrt(add(along(variance), float(epsilon))))
    if scale is not None:
        y = multiply(y, along(scale))
    if offset is not None:
        y = add(y, along(offset))
    return y


def rms_normalization(x, scale=1, axis=-1, epsilon=None):
    x = _f32(x)
    eps = 1e-7 if epsilon is None else float(epsilon)
    y = multiply(x, rsqrt(add(mean(square(x), axis=axis, keepdims=True), eps)))
    return multiply(y, scale)


def multi_hot(inputs, num_classes, axis=-1, dtype=None):
    """1 at every class listed in the last axis of inputs (a batch of index lists)."""
    idx = np.asarray(inputs).astype(np.int64)
    n = int(num_classes)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"ops.multi_hot: indices must lie in [0, {n}), got {idx.min()}..{idx.max()}")
    rows = idx.reshape(-1, idx.shape[-1]) if idx.ndim > 1 else idx.reshape(1, -1)
    out = np.zeros((rows.shape[0], n), dtype or "float32")
    np.put_along_axis(out, rows, 1, axis=1)
    out = out.reshape(idx.shape[:-1] + (n,)) if idx.ndim > 1 else out.reshape(n)
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return _t(out)


def psnr(x1, x2, max_val):
    """10 log10(max_val^2 / mse(x1, x2))."""
    mse_ = mean(square(subtract(x1, x2)))
    return multiply(10.0 / np.log(10.0), subtract(2.0 * np.log(float(max_val)), log(mse_)))


def top_k(x, k, sorted=True):  # noqa: A002 - Keras' name
    """(values, indices) of the k largest entries along the last axis, largest first (ties:
    the lower index first, as tf.math.top_k)."""
    t = _any(x, "top_k")
    if t.ndim == 0:
        raise ValueError("ops.top_k: needs at least one axis, got a scalar")
    k = int(k)
    n = int(t.shape[-1])
    if not 0 <= k <= n:
        raise ValueError(f"ops.top_k: k={k} is outside [0, {n}] for the last axis of shape {tuple(t.shape)}")
    a = np.asarray(t)
    order = np.argsort(-a.astype(np.float64), axis=-1, kind="stable")[..., :k]
    values = _gather("top_k", t, lambda i: np.take_along_axis(i, order, axis=-1))
    return values, _t(order.astype(np.int32))


def in_top_k(targets, predictions, k):
    """True where the target class is among the k highest predictions (ties count in its favour:
    fewer than k classes score strictly higher)."""
    p = np.asarray(_any(predictions, "in_top_k"))
    tgt = np.asarray(targets).astype(np.int64).reshape(-1)
    if p.ndim != 2 or p.shape[0] != tgt.shape[0]:
        raise ValueError(f"ops.in_top_k: predictions must be (batch, classes) and targets (batch,), got "
                         f"{p.shape} and {np.shape(targets)}")
    if tgt.size and (tgt.min() < 0 or tgt.max() >= p.shape[1]):
        raise ValueError(f"ops.in_top_k: targets must lie in [0, {p.shape[1]})")
    mine = p[np.arange(len(tgt)), tgt][:, None]
    return _truth(np.sum(p > mine, axis=1) < int(k))


def _segments(op, data, segment_ids, num_segments):
    d = _any(data, op)
    ids = np.asarray(segment_ids).astype(np.int64).reshape(-1)
    if d.ndim == 0 or ids.shape[0] != d.shape[0]:
        raise ValueError(f"ops.{op}: segment_ids of shape {np.shape(segment_ids)} must match the first axis "
                         f"of data's shape {tuple(d.shape)}")
    n = int(num_segments) if num_segments is not None else (int(ids.max()) + 1 if ids.size else 0)
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        raise ValueError(f"ops.{op}: segment ids must lie in [0, {n})")
    return d, ids, n


def segment_sum(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    d, ids, n = _segments("segment_sum", data, segment_ids, num_segments)
    a = np.asarray(d)
    out = np.zeros((n,) + a.shape[1:], np.float64 if _is_float(d) else a.dtype)
    np.add.at(out, ids, a)
    y = _t(out)
    if _is_float(d):
        _record(lambda dys: [_t(np.asarray(dys[0])[ids])], [d], [y])
    return y


def segment_max(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Max of each segment (an empty segment: the dtype's lowest value, as TensorFlow); the
    gradient goes to the entries that hold their segment's max, split among ties."""
    d, ids, n = _segments("segment_max", data, segment_ids, num_segments)
    a = np.asarray(d)
    low = -np.inf if _is_float(d) else np.iinfo(a.dtype).min
    out = np.full((n,) + a.shape[1:], low, a.dtype)
    np.maximum.at(out, ids, a)
    y = _t(out)
    if _is_float(d):
        def rule(dys):
            hit = (a == out[ids]).astype(np.float64)
            ties = np.zeros(out.shape)
            np.add.at(ties, ids, hit)
            return [_t(hit * _np64(dys[0])[ids] / np.maximum(ties[ids], 1.0))]
        _record(rule, [d], [y])
    return y


# -- sorting and searching -------------------------------------------------------------------------

def sort(x, axis=-1):
    t = _any(x, "sort")
    ax = _axis_arg("sort", axis, _py_max(t.ndim, 1), allow_none=True)
    if ax is None:
        return sort(ravel(t), axis=0)
    a = np.asarray(t)
    order = np.argsort(a, axis=ax, kind="stable")
    return _gather("sort", t, lambda i: np.take_along_axis(i, order, axis=ax))


def argsort(x, axis=-1):
    t = _any(x, "argsort")
    if axis is None:
        return _index(np.argsort(np.asarray(t).reshape(-1), kind="stable"))
    ax = _axis_arg("argsort", axis, t.ndim, allow_none=False)
    return _index(np.argsort(np.asarray(t), axis=ax, kind="stable"))


def argpartition(x, kth, axis=-1):
    t = _any(x, "argpartition")
    return _index(np.argpartition(np.asarray(t), kth, axis=_axis_arg("argpartition", axis, t.ndim)))


def searchsorted(sorted_sequence, values, side="left"):
    s = np.asarray(_any(sorted_sequence, "searchsorted"))
    if s.ndim != 1:
        raise ValueError(f"ops.searchsorted: sorted_sequence must be 1-D, got shape {s.shape}")
    if side not in ("left", "right"):
        raise ValueError(f"ops.searchsorted: side must be 'left' or 'right', got {side!r}")
    return _index(np.searchsorted(s, np.asarray(_any(values, "searchsorted")), side=side))


def digitize(x, bins):
    b = np.asarray(bins)
    if b.ndim != 1:
        raise ValueError(f"ops.digitize: bins must be 1-D, got shape {b.shape}")
    return _index(np.digitize(np.asarray(_any(x, "digitize")), b))


def nonzero(x):
    """One int32 index tensor per axis (NumPy's and Keras' TensorFlow backend's layout; its torch
    backend stacks them into one (ndim, n) tensor)."""
    return tuple(_index(i) for i in np.nonzero(np.asarray(_any(x, "nonzero"))))


def bincount(x, weights=None, minlength=0, sparse=False):
    idx = np.asarray(_any(x, "bincount"))
    if idx.dtype.kind not in "iu" or idx.ndim not in (1, 2) or (idx.size and idx.min() < 0):
        raise ValueError(f"ops.bincount: x must be 1-D or 2-D non-negative integers, got {idx.dtype} {idx.shape}")
    # Keras 3's dtypes: int32 counts; with weights, x's and the weights' type promoted (int32 or
    # int64 weights sum exactly in that integer type; float weights give float32, corenn's float)
    w = None if weights is None else np.asarray(weights)
    if w is None:
        dtype = np.int32
    elif w.dtype.kind in "biu":
        dtype = np.int64 if np.int64 in (_keras_int_dtype(x), _keras_int_dtype(weights)) else np.int32
    else:
        dtype = np.float64 if _NUMPY_FLOAT64.on else np.float32   # float64 weights sum in float64
    if w is not None and w.shape != idx.shape:
        raise ValueError(f"ops.bincount: weights must have x's shape {idx.shape}, got {w.shape}")

    def count(row, wrow, n):
        if wrow is None or dtype in (np.float32, np.float64):
            return np.bincount(row, None if wrow is None else wrow.astype(np.float64), minlength=n)
        out = np.zeros(_py_max(n, int(row.max()) + 1 if row.size else 0), np.int64)
        np.add.at(out, row, wrow.astype(np.int64))   # exact (float64 sums would round past 2**53)
        return out

    if idx.ndim == 2:
        n = _py_max(int(minlength), int(idx.max()) + 1 if idx.size else 0)
        rows = [count(r, None if w is None else w[i], n) for i, r in enumerate(idx)]
        return _t((np.stack(rows) if rows else np.zeros((0, n))).astype(dtype))
    return _t(count(idx, w, int(minlength)).astype(dtype))


def _quantile_weights(op, a, qs, axis, method):
    """For each q: the two order-statistic positions and their weights (NumPy's methods)."""
    n = a.shape[axis]
    if n == 0:
        raise ValueError(f"ops.{op}: cannot take a quantile of an empty axis")
    out = []
    for q in qs:
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"ops.{op}: quantiles must lie in [0, 1] (percentiles in [0, 100]), got {q}")
        pos = q * (n - 1)
        lo, hi = int(np.floor(pos)), int(np.ceil(pos))
        frac = pos - lo
        if method == "linear":
            out.append((lo, hi, 1.0 - frac, frac))
        elif method == "lower":
            out.append((lo, lo, 1.0, 0.0))
        elif method == "higher":
            out.append((hi, hi, 1.0, 0.0))
        elif method == "nearest":
            k = int(np.round(pos))
            out.append((k, k, 1.0, 0.0))
        elif method == "midpoint":
            out.append((lo, hi, 0.5, 0.5))
        else:
            raise ValueError(f"ops.{op}: method must be linear, lower, higher, midpoint or nearest, got {method!r}")
    return out


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """NumPy's quantile (differentiable: a weighted pick of sorted values)."""
    t = _f32(x)
    q_arr = np.asarray(q, np.float64)
    if axis is None:
        flat, ax = ravel(t), 0
    else:
        axes = _axes_arg("quantile", axis, t.ndim)
        if len(axes) != 1:
            raise NotImplementedError("ops.quantile: one axis at a time (or None)")
        flat, ax = t, axes[0]
    s = sort(flat, axis=ax)
    # NaN sorts last, so the picks below would skip it; NumPy's (and Keras') quantile of a slice
    # holding a NaN is NaN (nanquantile is the one that ignores them)
    nan_rows = np.isnan(np.asarray(s)).any(axis=ax)
    poison = np.where(nan_rows, np.float32(np.nan), np.float32(0.0)) if nan_rows.any() else None
    picks = []
    for lo, hi, wl, wh in _quantile_weights("quantile", s, q_arr.reshape(-1), ax, method):
        v = add(multiply(take(s, lo, axis=ax), wl), multiply(take(s, hi, axis=ax), wh))
        if poison is not None:
            v = add(v, poison)
        if keepdims:
            v = expand_dims(v, ax) if axis is not None else reshape(v, [1] * t.ndim)
        picks.append(v)
    if q_arr.ndim == 0:
        return picks[0]
    out = stack(picks, axis=0)
    # q of rank > 1 leads the result's shape, as in NumPy and Keras (not flattened)
    return out if q_arr.ndim == 1 else reshape(out, list(q_arr.shape) + list(out.shape[1:]))


def percentile(x, q, axis=None, method="linear", keepdims=False):
    return quantile(x, np.asarray(q, np.float64) / 100.0, axis=axis, method=method, keepdims=keepdims)


def median(x, axis=None, keepdims=False):
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


# -- gathers, shapes and construction ------------------------------------------------------------

def _check_indices(op, idx, size, what):
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        if idx.size and not np.all(np.mod(idx, 1) == 0):
            raise TypeError(f"ops.{op}: indices must be integers, got {idx.dtype}")
        idx = idx.astype(np.int64)
    if idx.size and (idx.min() < -size or idx.max() >= size):
        raise IndexError(f"ops.{op}: an index ({idx.min()}..{idx.max()}) is out of range for {what} of size {size}")
    return np.where(idx < 0, idx + size, idx).astype(np.int64)


def take(x, indices, axis=None):
    t = _any(x, "take")
    if axis is None:
        idx = _check_indices("take", indices, int(np.prod(t.shape, dtype=np.int64)), "the flattened tensor")
        return _gather("take", t, lambda i: i.reshape(-1)[idx])
    ax = _axis_arg("take", axis, t.ndim, allow_none=False)
    idx = _check_indices("take", indices, int(t.shape[ax]), f"axis {axis} of shape {tuple(t.shape)}")
    return _gather("take", t, lambda i: np.take(i, idx, axis=ax))


def take_along_axis(x, indices, axis=None):
    t = _any(x, "take_along_axis")
    if axis is None:
        t, ax = ravel(t), 0
    else:
        ax = _axis_arg("take_along_axis", axis, t.ndim, allow_none=False)
    idx = np.asarray(indices)
    if idx.ndim != t.ndim:
        raise ValueError(f"ops.take_along_axis: indices of shape {idx.shape} must have the rank of x's shape "
                         f"{tuple(t.shape)}")
    idx = _check_indices("take_along_axis", idx, int(t.shape[ax]), f"axis {axis} of shape {tuple(t.shape)}")
    try:
        _broadcast_check("take_along_axis", [d for i, d in enumerate(t.shape) if i != ax],
                         [d for i, d in enumerate(idx.shape) if i != ax])
    except ValueError:
        raise ValueError(f"ops.take_along_axis: indices of shape {idx.shape} do not broadcast with x's shape "
                         f"{tuple(t.shape)} off axis {axis}") from None
    return _gather("take_along_axis", t, lambda i: np.take_along_axis(i, idx, axis=ax))


def flip(x, axis=None):
    t = _any(x, "flip")
    axes = _axes_arg("flip", axis, t.ndim)
    return _gather("flip", t, lambda i: np.flip(i, axis=axes))


def roll(x, shift, axis=None):
    t = _any(x, "roll")
    axes = _axes_arg("roll", axis, t.ndim)
    return _gather("roll", t, lambda i: np.roll(i, shift, axis=axes))


def swapaxes(x, axis1, axis2):
    t = _any(x, "swapaxes")
    a1, a2 = (_axis_arg("swapaxes", a, t.ndim, allow_none=False) for a in (axis1, axis2))
    return _gather("swapaxes", t, lambda i: np.swapaxes(i, a1, a2))


def moveaxis(x, source, destination):
    t = _any(x, "moveaxis")
    src, dst = _axes_arg("moveaxis", source, t.ndim), _axes_arg("moveaxis", destination, t.ndim)
    if len(src) != len(dst):
        raise ValueError(f"ops.moveaxis: source {source!r} and destination {destination!r} must have the same length")
    return _gather("moveaxis", t, lambda i: np.moveaxis(i, src, dst))


def broadcast_to(x, shape):
    t = _any(x, "broadcast_to")
    shape = _shape_of("broadcast_to", shape)
    try:
        np.broadcast_shapes(tuple(t.shape), shape)
        if np.broadcast_shapes(tuple(t.shape), shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"ops.broadcast_to: cannot broadcast shape {tuple(t.shape)} to {shape}") from None
    return _gather("broadcast_to", t, lambda i: np.broadcast_to(i, shape))


def tile(x, repeats):
    t = _any(x, "tile")
    reps = _shape_of("tile", repeats)
    if _py_min(reps, default=0) < 0:
        raise ValueError(f"ops.tile: repeats must be >= 0, got {repeats!r}")
    return _gather("tile", t, lambda i: np.tile(i, reps))


def repeat(x, repeats, axis=None):
    t = _any(x, "repeat")
    ax = _axis_arg("repeat", axis, t.ndim)
    r = np.asarray(repeats).astype(np.int64)
    n = int(np.prod(t.shape, dtype=np.int64)) if ax is None else int(t.shape[ax])
    if r.ndim > 1 or (r.ndim == 1 and r.shape[0] not in (1, n)) or (r.size and r.min() < 0):
        raise ValueError(f"ops.repeat: repeats {repeats!r} must be a count >= 0 or one per entry ({n}) of "
                         f"{'the flattened tensor' if ax is None else f'axis {axis}'} of shape {tuple(t.shape)}")
    return _gather("repeat", t, lambda i: np.repeat(i, r, axis=ax))


def pad(x, pad_width, mode="constant", constant_values=None):
    """np.pad; modes constant, edge, reflect, symmetric, wrap (the gathering ones)."""
    t = _any(x, "pad")
    if mode not in ("constant", "edge", "reflect", "symmetric", "wrap"):
        raise ValueError(f"ops.pad: mode must be constant, edge, reflect, symmetric or wrap, got {mode!r}")
    if constant_values is not None and mode != "constant":
        raise ValueError(f"ops.pad: constant_values applies to mode='constant' only, not {mode!r}")
    width = np.asarray(pad_width, dtype=np.int64)
    try:
        width = np.broadcast_to(width, (t.ndim, 2))
    except ValueError:
        raise ValueError(f"ops.pad: pad_width {pad_width!r} does not fit shape {tuple(t.shape)} "
                         "(one (before, after) pair per axis)") from None
    if width.size and width.min() < 0:
        raise ValueError(f"ops.pad: pad_width must be >= 0, got {pad_width!r}")
    if mode == "constant":
        fill = 0 if constant_values is None else constant_values
        return _gather("pad", t, lambda i: np.pad(i, width, constant_values=-1),
                       lambda a: np.pad(a, width, constant_values=np.asarray(fill, a.dtype)))
    if mode in ("reflect", "symmetric"):
        for d, (lo, hi) in zip(t.shape, width):
            if (lo or hi) and d == 0:
                raise ValueError(f"ops.pad: cannot {mode}-pad an empty axis of shape {tuple(t.shape)}")
    return _gather("pad", t, lambda i: np.pad(i, width, mode=mode))


def _triangle(op, x, k, keep):
    t = _any(x, op)
    if t.ndim < 2:
        raise ValueError(f"ops.{op}: needs a tensor of rank >= 2, got shape {tuple(t.shape)}")
    mask = keep(np.ones(tuple(t.shape[-2:]), bool), int(k))
    return _gather(op, t, lambda i: np.where(mask, i, -1), lambda a: np.where(mask, a, np.zeros((), a.dtype)))


def triu(x, k=0):
    return _triangle("triu", x, k, np.triu)


def tril(x, k=0):
    return _triangle("tril", x, k, np.tril)


def tri(N, M=None, k=0, dtype="float32"):
    return _t_as(np.tri(int(N), None if M is None else int(M), int(k)), dtype)


def identity(n, dtype="float32"):
    return eye(n, dtype=dtype)


def diagonal(x, offset=0, axis1=0, axis2=1):
    t = _any(x, "diagonal")
    if t.ndim < 2:
        raise ValueError(f"ops.diagonal: needs a tensor of rank >= 2, got shape {tuple(t.shape)}")
    a1, a2 = (_axis_arg("diagonal", a, t.ndim, allow_none=False) for a in (axis1, axis2))
    return _gather("diagonal", t, lambda i: np.diagonal(i, int(offset), a1, a2))


def diag(x, k=0):
    """The k-th diagonal of a matrix, or a matrix with a vector on its k-th diagonal."""
    t = _any(x, "diag")
    if t.ndim == 1:
        return _gather("diag", t, lambda i: np.diag(i + 1, int(k)) - 1, lambda a: np.diag(a, int(k)))
    if t.ndim == 2:
        return diagonal(t, offset=k)
    raise ValueError(f"ops.diag: needs a 1-D or 2-D tensor, got shape {tuple(t.shape)}")


def trace(x, offset=0, axis1=0, axis2=1):
    d = diagonal(x, offset, axis1, axis2)
    if not _is_float(d):
        # ints keep their dtype; bools count in int32, as Keras' trace of a bool tensor
        a = np.asarray(d)
        return _t(np.sum(a, axis=-1).astype(np.int32 if a.dtype == np.bool_ else a.dtype))
    return sum(d, axis=-1)


def full_like(x, fill_value, dtype=None):
    a = np.asarray(x) if not isinstance(x, Tensor) else None
    dt = dtype or (x.dtype if isinstance(x, Tensor) else ("float32" if a.dtype.kind in "fb" else a.dtype))
    return _t(np.full(tuple(x.shape) if isinstance(x, Tensor) else a.shape, _no_none("full_like", fill_value), dtype=dt))


def empty(shape, dtype="float32"):
    return zeros(shape, dtype=dtype)


def _t_as(values, dtype):
    """values as a Tensor of ``dtype`` when that is float64 / float16 (Keras keeps them), else _t's."""
    if dtype is not None and np.dtype(str(dtype)) in (np.float64, np.float16):
        return Tensor.from_numpy(np.array(values, dtype=str(dtype), order="C"))
    return _t(values if dtype is None else np.asarray(values).astype(np.dtype(str(dtype))))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    if int(num) < 0:
        raise ValueError(f"ops.linspace: num must be >= 0, got {num}")
    out = np.linspace(np.asarray(start, np.float64), np.asarray(stop, np.float64), int(num),
                      endpoint=endpoint, retstep=retstep, axis=axis)
    values, step = out if retstep else (out, None)
    values = _t_as(values, dtype)
    return (values, step) if retstep else values


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    out = np.logspace(np.asarray(start, np.float64), np.asarray(stop, np.float64), int(num),
                      endpoint=endpoint, base=base, axis=axis)
    return _t_as(out, dtype)


def meshgrid(*x, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise ValueError(f"ops.meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    ts = [ravel(v) for v in x]
    shape = [int(t.shape[0]) for t in ts]
    if indexing == "xy" and len(ts) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for k, t in enumerate(ts):
        pos = k
        if indexing == "xy" and len(ts) >= 2 and k < 2:
            pos = 1 - k
        s = [1] * len(ts)
        s[pos] = -1
        out.append(broadcast_to(reshape(t, s) if _is_float(t) else _t(np.asarray(t).reshape(s)), shape))
    return out


def append(x1, x2, axis=None):
    if axis is None:
        return concatenate([ravel(x1), ravel(x2)], axis=0)
    return concatenate([x1, x2], axis=axis)


def hstack(xs):
    xs = [_f32(x) for x in xs]
    return concatenate(xs, axis=0 if xs[0].ndim == 1 else 1)


def vstack(xs):
    return concatenate([reshape(x, [1, -1]) if _f32(x).ndim == 1 else x for x in xs], axis=0)


def diff(a, n=1, axis=-1):
    t = _any(a, "diff") if _int_array(a) else _f32(a)   # integer data stays integer
    ax = _axis_arg("diff", axis, t.ndim, allow_none=False)
    for _ in range(int(n)):
        m = int(t.shape[ax])
        if m == 0:
            break
        t = subtract(take(t, np.arange(1, m), axis=ax), take(t, np.arange(0, m - 1), axis=ax))
    return t


def select(condlist, choicelist, default=0):
    """The first choice whose condition holds, else default (differentiable in the choices)."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"ops.select: {len(condlist)} conditions but {len(choicelist)} choices")
    out = default
    for c, v in zip(reversed(condlist), reversed(choicelist)):
        out = where(c, v, out)
    return _f32(out)


# -- contractions ------------------------------------------------------------------------------------

try:
    from numpy._core.einsumfunc import _parse_einsum_input
except ImportError:  # NumPy < 2
    from numpy.core.einsumfunc import _parse_einsum_input


def einsum(subscripts, *operands):
    """np.einsum; the gradient of operand i is the einsum of dy with the other operands onto
    operand i's letters (summed over the axes it was broadcast along, broadcast along letters
    only it has, placed on the diagonal for a repeated letter)."""
    ts = [_any(o, "einsum") for o in operands]
    if _builtins.any(_is_float(t) for t in ts):
        ts = [t if _is_float(t) else _t(np.asarray(t).astype(np.float32)) for t in ts]
    arrays = [np.asarray(t) for t in ts]
    shapes = ", ".join(str(a.shape) for a in arrays)
    try:
        ins, out_sub, _ = _parse_einsum_input([subscripts] + arrays)
        y = np.einsum(subscripts, *[a.astype(np.float64) if _is_float(t) else a for a, t in zip(arrays, ts)])
    except (ValueError, TypeError, IndexError) as exc:
        raise ValueError(f"ops.einsum: {subscripts!r} does not fit operands of shapes {shapes}: {exc}") from None
    subs = ins.split(",")
    y = _t(y)
    floats = [i for i, t in enumerate(ts) if _is_float(t)]
    if floats:
        tape = autodiff.recording_tape()
        if tape is not None:
            needed = [_needs(tape, t) for t in ts]

            def rule(dys):
                dy = _np64(dys[0])
                return [_t(_einsum_grad(i, subs, out_sub, arrays, dy)) if needed[i] else None
                        for i in range(len(ts))]
            tape.record(rule, ts, [y])
    return y


def _einsum_grad(i, subs, out_sub, arrays, dy):
    s, shape = subs[i], arrays[i].shape
    uniq = "".join(dict.fromkeys(s))
    others = [j for j in range(len(subs)) if j != i]
    avail = set(out_sub).union(*[set(subs[j]) for j in others])
    keep = "".join(c for c in uniq if c in avail)
    spec = ",".join([out_sub] + [subs[j] for j in others]) + "->" + keep
    g = np.einsum(spec, dy, *[arrays[j].astype(np.float64) for j in others])
    size = {c: shape[s.index(c)] for c in uniq}
    for ax, c in enumerate(keep):
        if size[c] == 1 and g.shape[ax] != 1:
            g = g.sum(axis=ax, keepdims=True)
    g = np.broadcast_to(g.reshape([size[c] if c in keep else 1 for c in uniq]), [size[c] for c in uniq])
    if len(uniq) == len(s):
        return np.transpose(g, [uniq.index(c) for c in s]) if uniq != s else g
    full = np.zeros(shape)
    grid = np.indices(g.shape, sparse=True)
    full[tuple(grid[uniq.index(c)] for c in s)] = g
    return full


def tensordot(x1, x2, axes=2):
    a, b = _any(x1, "tensordot"), _any(x2, "tensordot")
    letters = "abcdefghijklmnopqrstuvwxyz"
    if isinstance(axes, (int, np.integer)):
        k = int(axes)
        if k > _py_min(a.ndim, b.ndim):
            raise ValueError(f"ops.tensordot: axes={k} is more than the ranks of {tuple(a.shape)} and {tuple(b.shape)}")
        ax_a, ax_b = list(range(a.ndim - k, a.ndim)), list(range(k))
    else:
        ax_a, ax_b = [list(np.atleast_1d(v)) for v in axes]
        ax_a = [int(v) % a.ndim for v in ax_a]
        ax_b = [int(v) % b.ndim for v in ax_b]
    sa = list(letters[:a.ndim])
    sb = list(letters[a.ndim:a.ndim + b.ndim])
    for i, j in zip(ax_a, ax_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"ops.tensordot: axis {i} of {tuple(a.shape)} and axis {j} of {tuple(b.shape)} differ")
        sb[j] = sa[i]
    out = [c for k, c in enumerate(sa) if k not in ax_a] + [c for k, c in enumerate(sb) if k not in ax_b]
    return einsum("".join(sa) + "," + "".join(sb) + "->" + "".join(out), a, b)


def outer(x1, x2):
    return einsum("i,j->ij", ravel(x1), ravel(x2))


def inner(x1, x2):
    a, b = _any(x1, "inner"), _any(x2, "inner")
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


def vdot(x1, x2):
    return einsum("i,i->", ravel(x1), ravel(x2))


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The 3-vector cross product along the last axis (broadcast over the others)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    ints = _int_array(x1) and _int_array(x2)             # integer vectors: an integer product
    a = moveaxis(_any(x1, "cross") if ints else _f32(x1), axisa, -1)
    b = moveaxis(_any(x2, "cross") if ints else _f32(x2), axisb, -1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise ValueError(f"ops.cross: needs 3-vectors along the axis, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    a0, a1, a2 = unstack(a, axis=-1)
    b0, b1, b2 = unstack(b, axis=-1)
    c = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return moveaxis(c, -1, axisc)


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """softmax(q k^T * scale + bias, masked) v with (batch, seq, heads, head_dim) tensors."""
    q, k, v = _f32(query), _f32(key), _f32(value)
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(f"ops.dot_product_attention: query, key, value must be (batch, seq, heads, dim), got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    s = 1.0 / np.sqrt(q.shape[-1]) if scale is None else float(scale)
    logits = multiply(einsum("btnh,bsnh->bnts", q, k), s)
    if bias is not None:
        logits = add(logits, bias)
    keep = None
    if mask is not None:
        keep = np.broadcast_to(np.asarray(mask).astype(bool), tuple(logits.shape))
    if is_causal:
        t_len, s_len = logits.shape[-2], logits.shape[-1]
        causal = np.tril(np.ones((t_len, s_len), bool))
        keep = causal if keep is None else (keep & causal)
    if keep is not None:
        logits = where(keep, logits, -1e9)
    return einsum("bnts,bsnh->btnh", softmax(logits, axis=-1), v)


_NEW = [
    "is_tensor", "dtype", "array", "copy", "get_item", "ravel", "cond", "switch", "while_loop",
    "fori_loop", "scan", "map", "vectorized_map", "unstack", "split", "slice", "slice_update",
    "scatter", "scatter_update",
    "erf", "erfinv", "log1p", "expm1", "exp2", "log2", "log10", "rsqrt", "tan", "sinh", "cosh",
    "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "floor", "ceil", "trunc", "round",
    "arctan2", "hypot", "logaddexp", "mod", "floor_divide", "divide_no_nan", "isnan", "isinf",
    "isfinite", "isclose", "logical_xor", "nan_to_num",
    "relu6", "hard_sigmoid", "hard_silu", "hard_swish", "log_sigmoid", "softsign", "hard_tanh", "celu",
    "glu", "hard_shrink", "soft_shrink", "tanh_shrink", "squareplus", "sparse_plus", "threshold",
    "amax", "amin", "logsumexp", "prod", "cumsum", "cumprod", "any", "all", "count_nonzero", "average",
    "moments", "normalize", "batch_normalization", "rms_normalization", "multi_hot", "psnr", "top_k",
    "in_top_k", "segment_sum", "segment_max",
    "sort", "argsort", "argpartition", "searchsorted", "digitize", "nonzero", "bincount", "quantile",
    "percentile", "median",
    "take", "take_along_axis", "flip", "roll", "swapaxes", "moveaxis", "broadcast_to", "tile", "repeat",
    "pad", "triu", "tril", "tri", "identity", "diagonal", "diag", "trace", "full_like", "empty",
    "linspace", "logspace", "meshgrid", "append", "hstack", "vstack", "diff", "select",
    "einsum", "tensordot", "outer", "inner", "vdot", "cross", "dot_product_attention",
]
__all__ += _NEW


# -- convolution and pooling (the C++ kernels of the layers) --------------------------------------

def _spatial(op, x, data_format):
    """x as (N, H, W, C) for the 2-D kernels: channels_first moved last, a 1-D (N, W, C) input
    given H = 1. Returns (x4, undo) with undo mapping a 4-D result back to x's layout."""
    x = _f32(x, op)
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"ops.{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    if x.ndim not in (3, 4):
        raise ValueError(f"ops.{op}: supports 1-D and 2-D inputs (rank 3 or 4, batch and channels "
                         f"included), got shape {tuple(x.shape)}")
    first = data_format == "channels_first"
    one_d = x.ndim == 3
    if first:
        x = moveaxis(x, 1, -1)
    if one_d:
        x = expand_dims(x, 1)

    def undo(y):
        if one_d:
            y = squeeze(y, axis=1)
        return moveaxis(y, -1, 1) if first else y
    return x, undo, one_d


def _spatial_arg(v, one_d):
    if one_d:
        v = v[0] if isinstance(v, (list, tuple)) else v
        return (1, int(v))
    return v


def _record_conv(backward_data, backward_weights, x, w, y, kw, op=None):
    """Record y = conv(x, w) on the recording tape (if any): its gradients come from the conv
    family's data- and weight-gradient kernels, each run only when that input needs one."""
    tape = autodiff.recording_tape()
    if tape is None:
        return
    need_x, need_w = _needs(tape, x), _needs(tape, w)

    def rule(dys):
        dy = dys[0]
        dx = backward_data(dy, w, tuple(x.shape), **kw) if need_x else None
        dw = backward_weights(x, dy, tuple(w.shape), **kw) if need_w else None
        return [dx, dw]
    tape.record(rule, [x, w], [y], op)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution for N = 1, 2: kernel (KW, Cin, Cout) or (KH, KW, Cin, Cout), Keras'
    'valid' / 'same' padding; the conv2d kernels forward and backward. As in Keras 3, a kernel
    whose input channels divide the input's, (KH, KW, Cin / G, Cout), is a grouped convolution
    with G groups."""
    x, undo, one_d = _spatial("conv", inputs, data_format)
    w = _f32(kernel, "conv")
    if one_d:
        if w.ndim != 3:
            raise ValueError(f"ops.conv: a 1-D convolution needs a kernel (width, in, out), got shape {tuple(w.shape)}")
        w = expand_dims(w, 0)
    if w.ndim != 4 or x.shape[3] % w.shape[2] or w.shape[3] % (x.shape[3] // w.shape[2]):
        raise ValueError(f"ops.conv: kernel of shape {tuple(w.shape)} does not fit input channels {x.shape[3]} "
                         f"(input shape {tuple(x.shape)}; a grouped kernel's input and output channels must "
                         f"divide evenly into input channels / kernel input channels groups)")
    kw = dict(strides=_spatial_arg(strides, one_d), padding=padding, dilation_rate=_spatial_arg(dilation_rate, one_d))
    if x.shape[3] != w.shape[2]:
        kw["groups"] = x.shape[3] // w.shape[2]
    return undo(_conv2d(x, w, kw))


def _conv2d(x, w, kw):
    """conv2d of NHWC x with an HWIO kernel, recorded (op_gradients differentiates it again)."""
    if _wide.result_float(x, w) == "float64":   # (a float64 conv's gradient, differentiated again)
        return _wide_conv.conv2d(_wide._operand(x, "conv"), _wide._operand(w, "conv"), kw)
    y = kernels.conv2d(x, w, **kw)
    _record_conv(kernels.conv2d_backward_data, kernels.conv2d_backward_weights, x, w, y, kw, ("conv2d", kw))
    return y


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Depthwise convolution, kernel (KH, KW, C, depth_multiplier) (1-D: (KW, C, DM))."""
    x, undo, one_d = _spatial("depthwise_conv", inputs, data_format)
    w = _f32(kernel, "depthwise_conv")
    if one_d and w.ndim == 3:
        w = expand_dims(w, 0)
    if w.ndim != 4 or w.shape[2] != x.shape[3]:
        raise ValueError(f"ops.depthwise_conv: kernel of shape {tuple(w.shape)} does not fit input channels "
                         f"{x.shape[3]} (input shape {tuple(x.shape)})")
    kw = dict(strides=_spatial_arg(strides, one_d), padding=padding, dilation_rate=_spatial_arg(dilation_rate, one_d))
    y = kernels.depthwise_conv2d(x, w, **kw)
    _record_conv(kernels.depthwise_conv2d_backward_data, kernels.depthwise_conv2d_backward_weights, x, w, y, kw)
    return undo(y)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """depthwise_conv, then a 1x1 conv with pointwise_kernel (1, 1, C*DM, Cout)."""
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(y, pointwise_kernel, 1, "valid", data_format, 1)


def _pool(op, inputs, pool_size, strides, padding, data_format):
    x, undo, one_d = _spatial(op, inputs, data_format)
    size = _spatial_arg(pool_size, one_d)
    stride = size if strides is None else _spatial_arg(strides, one_d)
    return x, undo, size, stride


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    x, undo, size, stride = _pool("max_pool", inputs, pool_size, strides, padding, data_format)
    y, argmax = kernels.max_pool2d_forward(x, size, stride, padding)
    shape = tuple(x.shape)
    _record(lambda dys: [kernels.max_pool2d_backward(dys[0], argmax, shape, size, stride, padding)], [x], [y])
    return undo(y)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Mean over each window's real cells ('same' padding does not count the padding, as Keras)."""
    x, undo, size, stride = _pool("average_pool", inputs, pool_size, strides, padding, data_format)
    return undo(_average_pool2d(x, size, stride, padding))


def _average_pool2d(x, size, stride, padding):
    """average pooling of NHWC x, recorded with its descriptor, so that a gradient of it can
    itself be differentiated (op_gradients: its rule is _average_pool2d_gradient)."""
    if _wide.result_float(x) == "float64":
        return _wide_conv.average_pool2d(x, size, stride, padding)
    y = kernels.avg_pool2d_forward(x, size, stride, padding)
    shape = tuple(x.shape)
    _record(lambda dys: [kernels.avg_pool2d_backward(dys[0], shape, size, stride, padding)], [x], [y],
            ("avg_pool2d", size, stride, padding))
    return y


def _average_pool2d_gradient(dy, x_shape, size, stride, padding):
    """average pooling's input gradient for an output gradient dy (NHWC), recorded as an op of
    its own. It is linear in dy and its adjoint is the pooling forward (each input cell gets
    dy / n from each window holding it; the forward sums a window's cells / n), so its rule is
    _average_pool2d: a second-order gradient through AveragePooling (models/second_order.py)."""
    if _wide.result_float(dy) == "float64":
        return _wide_conv.average_pool2d_gradient(dy, x_shape, size, stride, padding)
    dy = _f32(dy, "average_pool")
    dx = kernels.avg_pool2d_backward(dy, tuple(x_shape), size, stride, padding)
    _record(lambda dys: [kernels.avg_pool2d_forward(dys[0], size, stride, padding)], [dy], [dx],
            ("avg_pool2d_data", size, stride, padding))
    return dx


__all__ += ["conv", "depthwise_conv", "separable_conv", "max_pool", "average_pool"]


# -- more NumPy-style ops ----------------------------------------------------------------------------

def cbrt(x):
    return _unary_np("cbrt", x, np.cbrt, lambda a, y: 1.0 / (3.0 * y * y))


def deg2rad(x):
    return multiply(x, np.pi / 180.0)


def logaddexp2(x1, x2):
    return _binary_np("logaddexp2", x1, x2, np.logaddexp2,
                      lambda a, b, y: np.exp2(a - y), lambda a, b, y: np.exp2(b - y))


def ldexp(x1, x2):
    """x1 * 2**x2 (x2 integer exponents; differentiable in x1)."""
    e = np.asarray(_any(x2, "ldexp"))
    if e.dtype.kind not in "iu":
        raise TypeError(f"ops.ldexp: x2 must hold integers, got {e.dtype}")
    scale = np.exp2(e.astype(np.float64))
    wide = _wide.result_float(x1)
    if wide is not None:   # 2**e in x1's dtype: float64 keeps exponents beyond float32's range
        return multiply(x1, Tensor.from_numpy(np.array(scale, dtype=wide, order="C")))
    return multiply(x1, scale.astype(np.float32))


def heaviside(x1, x2):
    """0 for x1 < 0, x2 at 0, 1 for x1 > 0 (no gradient)."""
    a, b = _f32(x1, "heaviside"), _f32(x2, "heaviside")
    _broadcast_check("heaviside", a.shape, b.shape)
    return _t(np.heaviside(np.asarray(a), np.asarray(b)))


def signbit(x):
    return _predicate("signbit", np.signbit, x)


def isposinf(x):
    return _predicate("isposinf", np.isposinf, x)


def isneginf(x):
    return _predicate("isneginf", np.isneginf, x)


def isreal(x):
    return _predicate("isreal", np.isreal, x)


def isin(x1, x2, assume_unique=False, invert=False):
    b = np.asarray(_any(x2, "isin")).reshape(-1)
    return _predicate("isin", lambda a: np.isin(a, b, assume_unique=assume_unique, invert=invert), x1)


def real(x):
    """Tensors are real: x itself (a copy, with its gradient)."""
    return copy(x)


def conjugate(x):
    return copy(x)


conj = conjugate


def imag(x):
    t = _any(x, "imag")
    return _t(np.zeros(tuple(t.shape), np.asarray(t).dtype))


def angle(x):
    """0 for x >= 0, pi for x < 0 (the argument of a real number; no gradient)."""
    return _t(np.angle(np.asarray(_f32(x, "angle"), np.float64)))


def empty_like(x, dtype=None):
    return full_like(x, 0, dtype=dtype)


def _int_only(op, fn, *xs):
    arrays = [np.asarray(_any(x, op)) for x in xs]
    for a in arrays:
        if a.dtype.kind not in "iu":
            raise TypeError(f"ops.{op}: needs integer tensors, got {a.dtype}")
    _broadcast_check(op, *[a.shape for a in arrays])
    # Keras 3's dtype: the tensors' (a Python int takes theirs: int32 & 3 is int32), int32 when
    # every operand is a Python int or list
    held = [np.dtype(str(x.dtype)) for x in xs if isinstance(x, (Tensor, np.ndarray, np.integer))]
    dtype = np.result_type(*held) if held else np.int32
    return _t(fn(*arrays).astype(dtype))


def bitwise_and(x, y):
    return _int_only("bitwise_and", np.bitwise_and, x, y)


def bitwise_or(x, y):
    return _int_only("bitwise_or", np.bitwise_or, x, y)


def bitwise_xor(x, y):
    return _int_only("bitwise_xor", np.bitwise_xor, x, y)


def bitwise_invert(x):
    return _int_only("bitwise_invert", np.invert, x)


bitwise_not = bitwise_invert


def bitwise_left_shift(x, y):
    return _int_only("bitwise_left_shift", np.left_shift, x, y)


def bitwise_right_shift(x, y):
    return _int_only("bitwise_right_shift", np.right_shift, x, y)


left_shift = bitwise_left_shift
right_shift = bitwise_right_shift


def gcd(x1, x2):
    return _int_only("gcd", np.gcd, x1, x2)


def lcm(x1, x2):
    return _int_only("lcm", np.lcm, x1, x2)


def unravel_index(indices, shape):
    shape = _shape_of("unravel_index", shape)
    idx = np.asarray(indices).astype(np.int64)
    size = int(np.prod(shape, dtype=np.int64))
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        raise ValueError(f"ops.unravel_index: indices must lie in [0, {size}) for shape {shape}")
    # the coordinates take the indices' dtype (Keras 3's TensorFlow and NumPy backends): int64
    # for int64 indices, int32 for int32 ones and for Python ints
    dtype = _keras_int_dtype(indices)
    return tuple(_t(i.astype(dtype)) for i in np.unravel_index(idx, shape))


def histogram(x, bins=10, range=None):  # noqa: A002 - Keras' name
    """(counts, bin_edges) as np.histogram (no gradient). The counts are float32 for float data,
    as Keras 3 gives them (its backends count in x's dtype); integer data counts in its own int
    dtype (Keras' TensorFlow backend; its edges are truncated to ints there, float32 here)."""
    counts, edges = np.histogram(np.asarray(_f32(x, "histogram"), np.float64).reshape(-1), bins=bins, range=range)
    return _t(counts.astype(np.float32 if not _is_int(x) else _keras_int_dtype(x))), _t(edges)


def _window(op, fn, x):
    return _t(fn(int(np.asarray(x))))


def bartlett(x):
    return _window("bartlett", np.bartlett, x)


def blackman(x):
    return _window("blackman", np.blackman, x)


def hamming(x):
    return _window("hamming", np.hamming, x)


def hanning(x):
    return _window("hanning", np.hanning, x)


def kaiser(x, beta):
    return _t(np.kaiser(int(np.asarray(x)), float(beta)))


def rot90(array, k=1, axes=(0, 1)):
    t = _any(array, "rot90")
    if t.ndim < 2:
        raise ValueError(f"ops.rot90: needs a tensor of rank >= 2, got shape {tuple(t.shape)}")
    ax = _axes_arg("rot90", axes, t.ndim)
    if len(ax) != 2:
        raise ValueError(f"ops.rot90: axes must name two distinct axes, got {axes!r}")
    return _gather("rot90", t, lambda i: np.rot90(i, int(k), ax))


def diagflat(x, k=0):
    t = ravel(x)
    return _gather("diagflat", t, lambda i: np.diagflat(i + 1, int(k)) - 1, lambda a: np.diagflat(a, int(k)))


def array_split(x, indices_or_sections, axis=0):
    """split, where the sections may differ in size by one (the first ones larger)."""
    t = _any(x, "array_split")
    ax = _axis_arg("array_split", axis, t.ndim, allow_none=False)
    if isinstance(indices_or_sections, (int, np.integer)):
        k, n = int(indices_or_sections), int(t.shape[ax])
        if k <= 0:
            raise ValueError(f"ops.array_split: the number of sections must be > 0, got {k}")
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        indices_or_sections = list(np.cumsum(sizes)[:-1])
    return split(t, indices_or_sections, axis=ax)


def vsplit(x, indices_or_sections):
    return split(x, indices_or_sections, axis=0)


def hsplit(x, indices_or_sections):
    t = _any(x, "hsplit")
    return split(t, indices_or_sections, axis=0 if t.ndim == 1 else 1)


def dstack(xs):
    ts = [_f32(x) for x in xs]
    ts = [reshape(t, [1, 1, 1]) if t.ndim == 0 else reshape(t, [1, -1, 1]) if t.ndim == 1 else expand_dims(t, -1) if t.ndim == 2 else t for t in ts]
    return concatenate(ts, axis=2)


def kron(x1, x2):
    a, b = _f32(x1, "kron"), _f32(x2, "kron")
    nd = _py_max(a.ndim, b.ndim)
    a = reshape(a, [1] * (nd - a.ndim) + list(a.shape))
    b = reshape(b, [1] * (nd - b.ndim) + list(b.shape))
    letters = "abcdefghijklm"
    sa, sb = letters[:nd], letters[nd:2 * nd]
    out = einsum(f"{sa},{sb}->" + "".join(x + y for x, y in zip(sa, sb)), a, b)
    return reshape(out, [int(p) * int(q) for p, q in zip(a.shape, b.shape)])


def ptp(x, axis=None, keepdims=False):
    return subtract(max(x, axis=axis, keepdims=keepdims), min(x, axis=axis, keepdims=keepdims))


def _nan_mask(x):
    x = _f32(x)
    return x, np.isnan(np.asarray(x))


def nansum(x, axis=None, keepdims=False):
    x, nan = _nan_mask(x)
    return sum(where(nan, 0.0, x), axis=axis, keepdims=keepdims)


def nanmean(x, axis=None, keepdims=False):
    x, nan = _nan_mask(x)
    count = np.sum(~nan, axis=_axes_arg("nanmean", axis, x.ndim), keepdims=keepdims).astype(np.float32)
    with np.errstate(all="ignore"):
        return divide(sum(where(nan, 0.0, x), axis=axis, keepdims=keepdims), count)


def nanmax(x, axis=None, keepdims=False):
    x, nan = _nan_mask(x)
    return max(where(nan, -np.inf, x), axis=axis, keepdims=keepdims)


def nanmin(x, axis=None, keepdims=False):
    x, nan = _nan_mask(x)
    return min(where(nan, np.inf, x), axis=axis, keepdims=keepdims)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The trapezoid rule along axis: sum (y[i] + y[i+1]) / 2 * (x[i+1] - x[i])."""
    t = _f32(y, "trapezoid")
    ax = _axis_arg("trapezoid", axis, t.ndim, allow_none=False)
    n = int(t.shape[ax])
    mid = divide(add(take(t, np.arange(1, n), axis=ax), take(t, np.arange(0, n - 1), axis=ax)), 2.0)
    if x is None:
        return multiply(sum(mid, axis=ax), dx)
    xs = _f32(x, "trapezoid")   # the steps in float (an unsigned x - x would wrap), as Keras
    steps = diff(xs, axis=-1 if xs.ndim == 1 else ax)
    if steps.ndim == 1 and t.ndim > 1:
        steps = reshape(steps, [-1 if i == ax else 1 for i in range(t.ndim)])
    return sum(multiply(mid, steps), axis=ax)


def vander(x, N=None, increasing=False):
    t = _f32(x, "vander")
    if t.ndim != 1:
        raise ValueError(f"ops.vander: x must be 1-D, got shape {tuple(t.shape)}")
    n = int(t.shape[0]) if N is None else int(N)
    powers = np.arange(n, dtype=np.float32)
    if not increasing:
        powers = powers[::-1].copy()
    return power(expand_dims(t, 1), powers)


def correlate(x1, x2, mode="valid"):
    """1-D cross-correlation as np.correlate: c[k] = sum_n a[n + k] v[n], modes valid/same/full."""
    a, v = _f32(x1, "correlate"), _f32(x2, "correlate")
    if a.ndim != 1 or v.ndim != 1:
        raise ValueError(f"ops.correlate: needs 1-D inputs, got shapes {tuple(a.shape)} and {tuple(v.shape)}")
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"ops.correlate: mode must be valid, same or full, got {mode!r}")
    n, m = int(a.shape[0]), int(v.shape[0])
    if n < m:
        return flip(correlate(v, a, mode))
    lo = {"valid": 0, "same": m // 2, "full": m - 1}[mode]
    hi = {"valid": 0, "same": (m - 1) // 2, "full": m - 1}[mode]
    windows = pad(a, [(lo, hi)])            # zero-padded, then every window of length m
    starts = np.arange(n - m + 1 + lo + hi)
    picked = take(windows, starts[:, None] + np.arange(m)[None, :])
    return einsum("km,m->k", picked, v)


def corrcoef(x):
    """Pearson correlation of the rows of x (np.corrcoef)."""
    t = _f32(x, "corrcoef")
    one_row = t.ndim == 1
    if one_row:
        t = reshape(t, [1, -1])
    c = subtract(t, mean(t, axis=1, keepdims=True))
    cov = matmul(c, transpose(c))
    d = sqrt(diagonal(cov))
    r = divide(divide(cov, expand_dims(d, 1)), expand_dims(d, 0))
    return reshape(r, ()) if one_row else r   # np.corrcoef and Keras 3: one variable gives a scalar


# -- more nn and math ----------------------------------------------------------------------------------

def sparse_sigmoid(x):
    """0 for x <= -1, (x + 1) / 2 between, 1 for x >= 1."""
    return clip(divide(add(x, 1.0), 2.0), 0.0, 1.0)


def sparsemax(x, axis=-1):
    """The Euclidean projection onto the simplex along axis (Martins & Astudillo 2016):
    y = max(x - tau, 0); dy/dx on the support S: dx = (dy - mean_S(dy)) on S, 0 off it."""
    t = _f32(x, "sparsemax")
    ax = _axis_arg("sparsemax", axis, t.ndim, allow_none=False)
    if t.size == 0:   # nothing to project (the support count below would index position -1)
        return _t(np.zeros(tuple(t.shape)))
    a = np.moveaxis(_np64(t), ax, -1)
    z = -np.sort(-a, axis=-1)
    k = np.arange(1, a.shape[-1] + 1)
    cums = np.cumsum(z, axis=-1)
    support = 1 + k * z > cums
    kz = support.sum(-1, keepdims=True)
    tau = (np.take_along_axis(cums, kz - 1, axis=-1) - 1) / kz
    out = np.maximum(a - tau, 0.0)
    y = _t(np.moveaxis(out, -1, ax))

    def rule(dys):
        dy = np.moveaxis(_np64(dys[0]), ax, -1)
        s = out > 0
        m = (dy * s).sum(-1, keepdims=True) / np.maximum(s.sum(-1, keepdims=True), 1)
        return [_t(np.moveaxis(np.where(s, dy - m, 0.0), -1, ax))]
    _record(rule, [t], [y])
    return y


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """Keras 3's ops.layer_normalization: (x - mean) * rsqrt(var + epsilon) * gamma + beta over
    ``axis``; epsilon None is Keras' backend epsilon (1e-7). The deprecated ``rms_scaling=True``
    is Keras 3.15's x * rsqrt(var + epsilon) * gamma (no centering, no beta)."""
    rms_scaling = bool(kwargs.pop("rms_scaling", False))
    if kwargs:
        raise TypeError(f"ops.layer_normalization: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
    x = _f32(x)
    eps = 1e-7 if epsilon is None else float(epsilon)
    m, v = moments(x, axes=axis, keepdims=True)
    if rms_scaling:
        y = multiply(x, rsqrt(add(v, eps)))
        return y if gamma is None else multiply(y, gamma)
    y = multiply(subtract(x, m), rsqrt(add(v, eps)))
    if gamma is not None:
        y = multiply(y, gamma)
    if beta is not None:
        y = add(y, beta)
    return y


def _block_geometry(op, x, block_size, data_format):
    t = _any(x, op)
    b = int(block_size)
    if t.ndim != 4:
        raise ValueError(f"ops.{op}: needs a 4-D tensor, got shape {tuple(t.shape)}")
    if b < 2:
        raise ValueError(f"ops.{op}: block_size must be at least 2, got {block_size!r}")
    if data_format not in ("channels_last", "channels_first", "NHWC", "NCHW"):
        raise ValueError(f"ops.{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    first = data_format in ("channels_first", "NCHW")
    n, h, w, c = (t.shape[0], t.shape[2], t.shape[3], t.shape[1]) if first else tuple(t.shape)
    return t, b, first, n, h, w, c


# Both are one transpose between two reshapes (views): the permutation runs in the transpose
# kernel (dispatch table entry "transpose") and its gradient is the inverse transpose, so a
# sub-pixel upsampling layer trains at memory speed. Channel order as TensorFlow's default
# "DCR" mode: output pixel (i*b + di, j*b + dj) channel k is input channel (di*b + dj)*C' + k.
def space_to_depth(x, block_size, data_format="channels_last"):
    """(N, H, W, C) -> (N, H/b, W/b, b*b*C): each b x b block of pixels becomes one pixel."""
    t, b, first, n, h, w, c = _block_geometry("space_to_depth", x, block_size, data_format)
    if h % b or w % b:
        raise ValueError(f"ops.space_to_depth: height {h} and width {w} must be multiples of block_size {b}")
    if first:
        y = transpose(reshape(t, (n, c, h // b, b, w // b, b)), (0, 3, 5, 1, 2, 4))
        return reshape(y, (n, b * b * c, h // b, w // b))
    y = transpose(reshape(t, (n, h // b, b, w // b, b, c)), (0, 1, 3, 2, 4, 5))
    return reshape(y, (n, h // b, w // b, b * b * c))


def depth_to_space(x, block_size, data_format="channels_last"):
    """(N, H, W, b*b*C) -> (N, H*b, W*b, C), the inverse of ``space_to_depth`` (the sub-pixel
    convolution's pixel shuffle)."""
    t, b, first, n, h, w, c = _block_geometry("depth_to_space", x, block_size, data_format)
    if c % (b * b):
        raise ValueError(f"ops.depth_to_space: channels {c} must be a multiple of block_size^2 = {b * b}")
    co = c // (b * b)
    if first:
        y = transpose(reshape(t, (n, b, b, co, h, w)), (0, 3, 4, 1, 5, 2))
        return reshape(y, (n, co, h * b, w * b))
    y = transpose(reshape(t, (n, h, w, b, b, co)), (0, 1, 3, 2, 4, 5))
    return reshape(y, (n, h * b, w * b, co))


def logdet(x):
    """log det of positive-definite matrices (..., n, n); d/dA = A^-T."""
    t = _f32(x, "logdet")
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"ops.logdet: needs square matrices (..., n, n), got shape {tuple(t.shape)}")
    a = _np64(t)
    with np.errstate(all="ignore"):
        sgn, val = np.linalg.slogdet(a)
        y = _t(np.where(sgn > 0, val, np.nan))

    def rule(dys):
        dy = _np64(dys[0])[..., None, None]
        return [_t(dy * np.swapaxes(np.linalg.inv(a), -1, -2))]
    _record(rule, [t], [y])
    return y


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of the last axis: (..., n) -> (..., frames, sequence_length)."""
    t = _any(x, "extract_sequences")
    if t.ndim == 0:
        raise ValueError("ops.extract_sequences: x must have a last axis to frame, got a scalar")
    n, L, s = int(t.shape[-1]), int(sequence_length), int(sequence_stride)
    if L > n or L <= 0 or s <= 0:
        raise ValueError(f"ops.extract_sequences: sequence_length {L} and stride {s} do not fit length {n}")
    starts = np.arange(0, n - L + 1, s)
    idx = starts[:, None] + np.arange(L)[None, :]
    return _gather("extract_sequences", t, lambda i: i[..., idx])


def saturate_cast(x, dtype):
    """cast, clipping to the target dtype's range first (no wraparound); floats to integers
    truncate toward zero after the clip, as Keras' cast(clip(x)) and tf.dtypes.saturate_cast."""
    dt = np.dtype(dtype)
    t = _any(x, "saturate_cast")
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return _t(np.clip(np.nan_to_num(np.asarray(t, np.float64)), info.min, info.max).astype(dt))
    return cast(t, dtype)


def associative_scan(f, elems, reverse=False, axis=0):
    """The inclusive scan of the associative f along axis (sequential here: same result)."""
    t = elems
    n = int(t.shape[axis])
    parts = unstack(t, axis=axis)
    order = list(range(n - 1, -1, -1)) if reverse else list(range(n))
    out, acc = [None] * n, None
    for i in order:
        acc = parts[i] if acc is None else f(acc, parts[i])
        out[i] = acc
    return stack(out, axis=axis)


def custom_gradient(f):
    """Decorator: ``f(*args)`` returns ``(y, grad_fn)``; the tape uses ``grad_fn(dy)`` (the
    upstream gradient; also accepted as ``upstream=``) as the gradients of f's tensor args."""
    def wrapped(*args):
        ts = [_f32(a) if not isinstance(a, Tensor) else a for a in args]
        with autodiff.stop_recording():
            y, grad_fn = f(*ts)
        y = _t(np.asarray(y))

        def rule(dys):
            g = grad_fn(dys[0])
            g = list(g) if isinstance(g, (list, tuple)) else [g]
            return [None if gi is None else _f32(gi) for gi in g]
        _record(rule, ts, [y])
        return y
    wrapped.__name__ = getattr(f, "__name__", "custom_gradient")
    wrapped.__doc__ = f.__doc__
    return wrapped


__all__ += [
    "cbrt", "deg2rad", "logaddexp2", "ldexp", "heaviside", "signbit", "isposinf", "isneginf", "isreal",
    "isin", "real", "conjugate", "conj", "imag", "angle", "empty_like", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_invert", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
    "left_shift", "right_shift", "gcd", "lcm", "unravel_index", "histogram", "bartlett", "blackman",
    "hamming", "hanning", "kaiser", "rot90", "diagflat", "array_split", "vsplit", "hsplit", "dstack",
    "kron", "ptp", "nansum", "nanmean", "nanmax", "nanmin", "trapezoid", "vander", "correlate",
    "corrcoef", "sparse_sigmoid", "sparsemax", "layer_normalization", "space_to_depth", "depth_to_space",
    "logdet", "extract_sequences", "saturate_cast", "associative_scan", "custom_gradient",
]


# -- linear algebra (keras.ops.linalg names, batched over leading axes) ---------------------------

def _square_matrices(op, x):
    t = _f32(x, op)
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"ops.{op}: needs square matrices (..., n, n), got shape {tuple(t.shape)}")
    return t


def _mT(a):
    return np.swapaxes(a, -1, -2)


def _linalg(op, fn, a):
    try:
        with np.errstate(all="ignore"):
            return fn(a)
    except np.linalg.LinAlgError as exc:
        raise ValueError(f"ops.{op}: {exc} (input shape {a.shape})") from None


def inv(x):
    """A^-1; dA = -A^-T dY A^-T."""
    t = _square_matrices("inv", x)
    ai = _linalg("inv", np.linalg.inv, _np64(t))
    y = _t(ai)
    _record(lambda dys: [_t(-_mT(ai) @ _np64(dys[0]) @ _mT(ai))], [t], [y])
    return y


def det(x):
    """det A; dA = dy det(A) A^-T."""
    t = _square_matrices("det", x)
    a = _np64(t)
    d = np.linalg.det(a)
    y = _t(d)

    def rule(dys):
        dy = _np64(dys[0])[..., None, None]
        return [_t(dy * d[..., None, None] * _mT(_linalg("det", np.linalg.inv, a)))]
    _record(rule, [t], [y])
    return y


def slogdet(x):
    """(sign, log|det A|); d log|det A| / dA = A^-T (the sign has no gradient)."""
    t = _square_matrices("slogdet", x)
    a = _np64(t)
    sgn, val = np.linalg.slogdet(a)
    s, y = _t(sgn), _t(val)
    _record(lambda dys: [_t(_np64(dys[0])[..., None, None] * _mT(_linalg("slogdet", np.linalg.inv, a)))], [t], [y])
    return s, y


def solve(a, b):
    """X with A X = B (B (..., n, k), or (..., n) as a vector); dB = A^-T dX, dA = -dB X^T."""
    A, B = _square_matrices("solve", a), _f32(b, "solve")
    if B.ndim == 0:
        raise ValueError(f"ops.solve: b must be a vector or a matrix, got a scalar (a has shape {tuple(A.shape)})")
    vec = B.ndim == A.ndim - 1
    Bm = _np64(B)[..., None] if vec else _np64(B)
    if Bm.shape[-2] != A.shape[-1]:
        raise ValueError(f"ops.solve: b of shape {tuple(B.shape)} does not match a of shape {tuple(A.shape)}")
    Am = _np64(A)
    X = _linalg("solve", lambda m: np.linalg.solve(m, Bm), Am)
    y = _t(X[..., 0] if vec else X)
    tape = autodiff.recording_tape()
    if tape is not None:
        need_a, need_b = _needs(tape, A), _needs(tape, B)

        def rule(dys):
            dX = _np64(dys[0])
            dX = dX[..., None] if vec else dX
            dB = np.linalg.solve(_mT(Am), dX)
            da = _t(_sum_to(-dB @ _mT(X), A.shape)) if need_a else None
            db = _t(_sum_to(dB[..., 0] if vec else dB, B.shape)) if need_b else None
            return [da, db]
        tape.record(rule, [A, B], [y])
    return y


def solve_triangular(a, b, lower=False):
    """solve with a triangular A (only its lower or upper triangle is read)."""
    A = _square_matrices("solve_triangular", a)
    tri_ = np.tril if lower else np.triu
    return solve(_gather("solve_triangular", A, lambda i: tri_(i + 1) - 1, lambda m: tri_(m)), b)


def cholesky(x, upper=False):
    """L with A = L L^T (lower; upper=True: L^T). Gradient (Murray 2016):
    dA = L^-T Phi(L^T dL) L^-1 symmetrized, Phi = the lower triangle with a halved diagonal."""
    t = _square_matrices("cholesky", x)
    a = _np64(t)
    L = _linalg("cholesky", np.linalg.cholesky, a)
    y = _t(_mT(L) if upper else L)

    def rule(dys):
        dL = _np64(dys[0])
        if upper:
            dL = _mT(dL)
        P = np.tril(_mT(L) @ dL)
        P = P - 0.5 * np.eye(L.shape[-1]) * P
        Linv = np.linalg.inv(L)
        S = _mT(Linv) @ P @ Linv
        return [_t(0.5 * (S + _mT(S)))]
    _record(rule, [t], [y])
    return y


def eigh(x):
    """(eigenvalues ascending, eigenvectors) of symmetric matrices; the gradient (distinct
    eigenvalues) dA = V (diag(dw) + F o (V^T dV)) V^T, F_ij = 1 / (w_j - w_i), symmetrized."""
    t = _square_matrices("eigh", x)
    w, V = _linalg("eigh", np.linalg.eigh, _np64(t))
    yw, yv = _t(w), _t(V)

    def rule(dys):
        dw, dV = dys
        n = w.shape[-1]
        inner_ = np.zeros(V.shape)
        if dV is not None:
            gap = w[..., None, :] - w[..., :, None]
            with np.errstate(divide="ignore"):
                F = np.where(np.eye(n, dtype=bool), 0.0, 1.0 / np.where(gap == 0, np.inf, gap))
            inner_ = F * (_mT(V) @ _np64(dV))
        if dw is not None:
            inner_ = inner_ + np.eye(n) * _np64(dw)[..., None, :]
        g = V @ inner_ @ _mT(V)
        return [_t(0.5 * (g + _mT(g)))]
    _record(rule, [t], [yw, yv])
    return yw, yv


__all__ += ["inv", "det", "slogdet", "solve", "solve_triangular", "cholesky", "eigh"]


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """Transposed convolution (1-D, 2-D), kernel (KH, KW, out, in) as Keras' Conv2DTranspose."""
    x, undo, one_d = _spatial("conv_transpose", inputs, data_format)
    w = _f32(kernel, "conv_transpose")
    if one_d and w.ndim == 3:
        w = expand_dims(w, 0)
    if w.ndim != 4 or w.shape[3] != x.shape[3]:
        raise ValueError(f"ops.conv_transpose: kernel of shape {tuple(w.shape)} (..., out, in) does not fit input "
                         f"channels {x.shape[3]} (input shape {tuple(x.shape)})")
    op_ = output_padding
    if one_d and op_ is not None:
        op_ = (0, op_[0] if isinstance(op_, (list, tuple)) else int(op_))
    kw = dict(strides=_spatial_arg(strides, one_d), padding=padding, output_padding=op_,
              dilation_rate=_spatial_arg(dilation_rate, one_d))
    y = kernels.conv2d_transpose(x, w, **kw)
    _record_conv(kernels.conv2d_transpose_backward_data, kernels.conv2d_transpose_backward_weights, x, w, y, kw)
    return undo(y)


# -- FFT (Keras' complex convention: a (real, imag) pair of float tensors) ------------------------

def _complex_pair(op, x):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"ops.{op}: expects a (real, imag) tuple of tensors, got {type(x).__name__}")
    re, im = _f32(x[0], op), _f32(x[1], op)
    if tuple(re.shape) != tuple(im.shape):
        raise ValueError(f"ops.{op}: real and imag parts must have one shape, got {tuple(re.shape)} and "
                         f"{tuple(im.shape)}")
    return re, im


def _complex_op(op, x, fwd, adjoint, nd):
    """(yr, yi) = fwd(xr + i xi) over the last ``nd`` axes; a C-linear map, so the gradient
    (dL/dxr + i dL/dxi) = adjoint(dL/dyr + i dL/dyi)."""
    re, im = _complex_pair(op, x)
    if re.ndim < nd:
        raise ValueError(f"ops.{op}: needs at least {nd} axes, got shape {tuple(re.shape)}")
    z = fwd(_np64(re) + 1j * _np64(im))
    yr, yi = _t(z.real), _t(z.imag)

    def rule(dys):
        g = np.zeros(z.shape, complex)
        if dys[0] is not None:
            g = g + _np64(dys[0])
        if dys[1] is not None:
            g = g + 1j * _np64(dys[1])
        gx = adjoint(g)
        return [_t(gx.real), _t(gx.imag)]
    _record(rule, [re, im], [yr, yi])
    return yr, yi


def fft(x):
    n = lambda z: z.shape[-1]  # noqa: E731
    return _complex_op("fft", x, lambda z: np.fft.fft(z), lambda g: n(g) * np.fft.ifft(g), 1)


def ifft(x):
    return _complex_op("ifft", x, lambda z: np.fft.ifft(z), lambda g: np.fft.fft(g) / g.shape[-1], 1)


def fft2(x):
    return _complex_op("fft2", x, lambda z: np.fft.fft2(z), lambda g: g.shape[-1] * g.shape[-2] * np.fft.ifft2(g), 2)


def ifft2(x):
    return _complex_op("ifft2", x, lambda z: np.fft.ifft2(z), lambda g: np.fft.fft2(g) / (g.shape[-1] * g.shape[-2]), 2)


def rfft(x, fft_length=None):
    """The non-negative-frequency half of the FFT of real x (last axis); (real, imag)."""
    t = _f32(x, "rfft")
    if t.ndim == 0:
        raise ValueError("ops.rfft: x must have a last axis (the signal), got a scalar")
    n = int(t.shape[-1]) if fft_length is None else int(fft_length)
    if n <= 0:
        raise ValueError(f"ops.rfft: fft_length must be positive, got {fft_length}")
    z = np.fft.rfft(_np64(t), n=n)
    yr, yi = _t(z.real), _t(z.imag)
    m = int(t.shape[-1])

    def rule(dys):
        g = np.zeros(z.shape, complex)
        if dys[0] is not None:
            g = g + _np64(dys[0])
        if dys[1] is not None:
            g = g + 1j * _np64(dys[1])
        full = np.zeros(z.shape[:-1] + (n,), complex)
        full[..., :z.shape[-1]] = g
        gx = (n * np.fft.ifft(full)).real          # the adjoint of "FFT, keep the first n//2+1"
        out = np.zeros(z.shape[:-1] + (m,))
        k = _py_min(m, n)
        out[..., :k] = gx[..., :k]                 # cropped or zero-padded input
        return [_t(out)]
    _record(rule, [t], [yr, yi])
    return yr, yi


def irfft(x, fft_length=None):
    """Real signal of length fft_length (default 2 (m - 1)) from the half spectrum (real, imag)."""
    re, im = _complex_pair("irfft", x)
    m = int(re.shape[-1])
    n = 2 * (m - 1) if fft_length is None else int(fft_length)
    z = _np64(re) + 1j * _np64(im)
    y = _t(np.fft.irfft(z, n=n))

    def rule(dys):
        # x_t = (1/n) sum_k c_k Re(y_k e^{2 pi i k t / n}) over the kept bins (c_k = 2 except for
        # the DC and Nyquist bins, 1), so dL/dyr_k + i dL/dyi_k = (c_k / n) fft(g)_k; the DC and
        # Nyquist imaginary parts do not reach x
        G = np.fft.fft(_np64(dys[0]), axis=-1)
        kept = _py_min(m, n // 2 + 1)
        c = np.full(kept, 2.0)
        c[0] = 1.0
        if n % 2 == 0 and kept == n // 2 + 1:
            c[-1] = 1.0
        g = np.zeros(z.shape, complex)
        g[..., :kept] = c * G[..., :kept] / n
        g[..., 0] = g[..., 0].real
        if n % 2 == 0 and kept == n // 2 + 1:
            g[..., kept - 1] = g[..., kept - 1].real
        return [_t(g.real), _t(g.imag)]
    _record(rule, [re, im], [y])
    return y


__all__ += ["conv_transpose", "lstsq", "fft", "ifft", "fft2", "ifft2", "rfft", "irfft"]


# -- CTC ------------------------------------------------------------------------------------------------

def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """Per-sample CTC loss (batch,) of logits ``output`` (batch, max_time, classes) for the integer
    labels ``target`` (batch, max_label_length), blank class ``mask_index`` (tf.nn.ctc_loss with
    logits: the log-softmax is taken here). Gradient: softmax - the label occupation per step,
    computed with the loss by the C++ forward-backward kernel (kernels.ctc_loss). A label that no
    alignment can spell within output_length steps has loss inf and gradient zero."""
    out = _f32(output, "ctc_loss")
    labels = np.asarray(target).astype(np.int64)
    tl = np.asarray(target_length).astype(np.int64).reshape(-1)
    ol = np.asarray(output_length).astype(np.int64).reshape(-1)
    if out.ndim != 3 or labels.ndim != 2 or labels.shape[0] != out.shape[0] or tl.shape[0] != out.shape[0] \
            or ol.shape[0] != out.shape[0]:
        raise ValueError(f"ops.ctc_loss: needs output (batch, time, classes), target (batch, max_label_length) and "
                         f"one length per sample, got output {tuple(out.shape)}, target {labels.shape}, "
                         f"target_length {tl.shape}, output_length {ol.shape}")
    B, Tm, K = (int(d) for d in out.shape)
    if (ol > Tm).any() or (ol < 0).any() or (tl > labels.shape[1]).any() or (tl < 0).any():
        raise ValueError(f"ops.ctc_loss: lengths exceed the padded sizes (time {Tm}, labels {labels.shape[1]})")
    if labels.size and (labels.min() < 0 or labels.max() >= K):
        lab = np.concatenate([labels[b, :tl[b]] for b in range(B)]) if B else labels.reshape(-1)
        if lab.size and (lab.min() < 0 or lab.max() >= K):
            raise ValueError(f"ops.ctc_loss: labels must lie in [0, {K})")
    # one C++ pass gives the loss and its logit gradient (csrc/ops/ctc.h); backward scales it
    y, grads = kernels.ctc_loss(out, labels, tl, ol, blank=int(mask_index))
    _record(lambda dys: [_t(np.asarray(grads) * _np64(dys[0])[:, None, None])], [out], [y])
    return y


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True,
               mask_index=0):
    """CTC decoding of inputs (batch, time, classes), as Keras 3. Returns (decoded, scores) with
    decoded (paths, batch, time) int32, each sequence left-aligned and padded with -1 to the
    input's time length.

    greedy: the best class per step within each sequence length, repeats merged (when
    merge_repeated), the blank ``mask_index`` dropped; paths = 1, scores (batch, 1) = -sum over
    the steps of the best input value (tf.nn.ctc_greedy_decoder's convention).
    beam_search: prefix beam search over log_softmax(inputs) keeping ``beam_width`` prefixes,
    each with the log-probability of its paths ending in the blank and in a class,
    log P(prefix) = logaddexp of the two; repeats are always merged (CTC's rule); returns the
    ``top_paths`` best prefixes, scores (batch, top_paths) = their log-probabilities."""
    x = np.asarray(_f32(inputs, "ctc_decode"), np.float64)
    if x.ndim != 3:
        raise ValueError(f"ops.ctc_decode: inputs must be (batch, time, classes), got shape {x.shape}")
    lens = np.asarray(sequence_lengths).astype(np.int64).reshape(-1)
    B, T, C = x.shape
    if lens.shape != (B,):
        raise ValueError(f"ops.ctc_decode: sequence_lengths must hold one length per batch entry ({B}), "
                         f"got shape {np.shape(sequence_lengths)}")
    blank = int(mask_index) % C if mask_index is not None else C - 1
    if strategy == "greedy":
        seqs, scores = _ctc_greedy(x, lens, merge_repeated, blank)
        seqs = [[p] for p in seqs]
    elif strategy == "beam_search":
        if int(beam_width) < 1 or int(top_paths) < 1 or int(top_paths) > int(beam_width):
            raise ValueError(f"ops.ctc_decode: needs 1 <= top_paths <= beam_width, got top_paths={top_paths}, "
                             f"beam_width={beam_width}")
        seqs, scores = _ctc_beam(x, lens, int(beam_width), int(top_paths), blank)
    else:
        raise ValueError(f"ops.ctc_decode: strategy must be 'greedy' or 'beam_search', got {strategy!r}")
    decoded = np.full((len(seqs[0]) if B else 1, B, T), -1, np.int32)
    for b, paths in enumerate(seqs):
        for k, p in enumerate(paths):
            decoded[k, b, :len(p)] = p
    return _t(decoded), _t(scores)


def _ctc_greedy(x, lens, merge_repeated, blank):
    best, top = x.argmax(-1), x.max(-1)
    seqs, scores = [], np.zeros((x.shape[0], 1))
    for b in range(x.shape[0]):
        path = best[b, :lens[b]]
        scores[b, 0] = -top[b, :lens[b]].sum()
        if merge_repeated and path.size:
            path = path[np.concatenate([[True], path[1:] != path[:-1]])]
        seqs.append(path[path != blank])
    return seqs, scores


def _ctc_beam(x, lens, beam_width, top_paths, blank):
    """Prefix beam search; a beam maps prefix -> (log P(ends in blank), log P(ends in a class))."""
    z = x - x.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    B, T, C = x.shape
    lae = np.logaddexp
    seqs, scores = [], np.full((B, top_paths), -np.inf)
    for b in range(B):
        beams = {(): (0.0, -np.inf)}
        for t in range(_py_max(1, _py_min(T, int(lens[b])))):
            row, nxt = logp[b, t], {}
            for prefix, (pb, pnb) in beams.items():
                total = lae(pb, pnb)
                ob, onb = nxt.get(prefix, (-np.inf, -np.inf))
                stay = lae(ob, total + row[blank])                       # a blank: same prefix, ends in blank
                last = prefix[-1] if prefix else None
                onb_same = onb if last is None else lae(onb, pnb + row[last])   # the last class repeated
                nxt[prefix] = (stay, onb_same)
                for c in range(C):
                    if c == blank:
                        continue
                    new = prefix + (c,)
                    # after a class c, only a path ending in blank extends the prefix with c again
                    p_new = (pb if c == last else total) + row[c]
                    nb, nnb = nxt.get(new, (-np.inf, -np.inf))
                    nxt[new] = (nb, lae(nnb, p_new))
            ranked = sorted(nxt.items(), key=lambda kv: -lae(*kv[1]))
            beams = dict(ranked[:beam_width])
        ranked = sorted(beams.items(), key=lambda kv: -lae(*kv[1]))[:top_paths]
        seqs.append([np.array(p, np.int64) for p, _ in ranked] + [np.zeros(0, np.int64)] * (top_paths - len(ranked)))
        scores[b, :len(ranked)] = [lae(*v) for _, v in ranked]
    return seqs, scores


__all__ += ["ctc_loss", "ctc_decode"]


# -- patches, adaptive pooling and the rest ------------------------------------------------------------

def _two(op, v, what):
    v = tuple(int(a) for a in v) if isinstance(v, (list, tuple)) else (int(v), int(v))
    if len(v) != 2:
        raise ValueError(f"ops.{op}: {what} must be an int or two ints, got {v!r}")
    return v


def _unfold_index(op, shape, kernel_size, dilation, padding, stride):
    """Flat indices into x (N, C, H, W) of unfold's output (N, C*kh*kw, L); -1 for padding."""
    n, c, h, w = shape
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = (_two(op, kernel_size, "kernel_size"), _two(op, dilation, "dilation"),
                                              _two(op, padding, "padding"), _two(op, stride, "stride"))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh <= 0 or ow <= 0:
        raise ValueError(f"ops.{op}: kernel {kh}x{kw} (dilation {dh}x{dw}) does not fit the input {h}x{w} "
                         f"padded by {ph}x{pw}")
    rows = (np.arange(oh) * sh)[None, :] + (np.arange(kh) * dh)[:, None] - ph          # (kh, oh)
    cols = (np.arange(ow) * sw)[None, :] + (np.arange(kw) * dw)[:, None] - pw          # (kw, ow)
    r = rows[:, None, :, None]
    q = cols[None, :, None, :]                                                          # (kh, kw, oh, ow)
    inside = (r >= 0) & (r < h) & (q >= 0) & (q < w)
    spatial = np.where(inside, r * w + q, -1)
    base = (np.arange(n)[:, None] * c + np.arange(c)[None, :]) * (h * w)                # (n, c)
    idx = np.where(spatial[None, None] >= 0, base[:, :, None, None, None, None] + spatial[None, None], -1)
    return idx.reshape(n, c * kh * kw, oh * ow)


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """im2col of channels-first x (N, C, H, W): (N, C*kh*kw, L), zero padding (torch's unfold)."""
    t = _any(x, "unfold")
    if t.ndim != 4:
        raise ValueError(f"ops.unfold: x must be (N, C, H, W), got shape {tuple(t.shape)}")
    idx = _unfold_index("unfold", tuple(t.shape), kernel_size, dilation, padding, stride)
    return _gather("unfold", t, lambda i: np.where(idx >= 0, i.reshape(-1)[np.maximum(idx, 0)], -1),
                   lambda a: np.where(idx >= 0, a.reshape(-1)[np.maximum(idx, 0)], np.zeros((), a.dtype)))


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: the patches (N, C*kh*kw, L) summed back into (N, C, H, W) (unfold's adjoint)."""
    t = _f32(x, "fold")
    (h, w), (kh, kw) = _two("fold", output_size, "output_size"), _two("fold", kernel_size, "kernel_size")
    if t.ndim != 3 or t.shape[1] % (kh * kw):
        raise ValueError(f"ops.fold: x must be (N, C*{kh}*{kw}, L), got shape {tuple(t.shape)}")
    n, c = int(t.shape[0]), int(t.shape[1]) // (kh * kw)
    idx = _unfold_index("fold", (n, c, h, w), kernel_size, dilation, padding, stride)
    if idx.shape[2] != t.shape[2]:
        raise ValueError(f"ops.fold: {t.shape[2]} patches given, but output_size {(h, w)} has {idx.shape[2]}")
    flat, keep = idx.reshape(-1), idx.reshape(-1) >= 0
    y = _t(np.bincount(flat[keep], weights=_np64(t).reshape(-1)[keep], minlength=n * c * h * w).reshape(n, c, h, w))
    _record(lambda dys: [_t(np.where(idx >= 0, _np64(dys[0]).reshape(-1)[np.maximum(idx, 0)], 0.0))], [t], [y])
    return y


def _adaptive_windows(size, out):
    """Keras 3's (and torch's) bins: output i pools [floor(i L / o), ceil((i + 1) L / o))."""
    return [(int(np.floor(i * size / out)), int(np.ceil((i + 1) * size / out))) for i in range(out)]


def _adaptive_args(op, inputs, output_size, data_format):
    """inputs as channels-last (N, *spatial, C) for 1-, 2- or 3-D pooling, the output size per
    spatial axis, and the function that puts a result back in the caller's layout."""
    x = _f32(inputs, op)
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"ops.{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    nd = x.ndim - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"ops.{op}: supports 1-D, 2-D and 3-D inputs (rank 3, 4 or 5, batch and channels "
                         f"included), got shape {tuple(x.shape)}")
    sizes = tuple(output_size) if isinstance(output_size, (list, tuple)) else (output_size,) * nd
    if len(sizes) != nd or _builtins.any(isinstance(o, bool) or not isinstance(o, (int, np.integer)) or o <= 0
                               for o in sizes):
        raise ValueError(f"ops.{op}: output_size must be a positive int or {nd} positive ints for a "
                         f"{nd}-D input, got {output_size!r}")
    first = data_format == "channels_first"
    if first:
        x = moveaxis(x, 1, -1)
    if 0 in tuple(x.shape[1:-1]):   # an empty bin has no mean and no maximum (was a ZeroDivisionError)
        raise ValueError(f"ops.{op}: every spatial size must be positive, got input shape {tuple(x.shape)}"
                         f"{' (channels_last view)' if first else ''}")
    return x, tuple(int(o) for o in sizes), (lambda y: moveaxis(y, -1, 1) if first else y)


def adaptive_average_pool(inputs, output_size, data_format=None):
    """Mean over the bins of _adaptive_windows along each spatial axis (1-, 2- or 3-D). A box's
    mean is the mean of its per-axis means, so each axis is one mean per bin (take + mean,
    differentiable). Not a product with an (o, L) matrix of window weights: its zero weights
    would carry a NaN or inf of one bin into every other bin along that axis (0 * NaN = NaN)."""
    x, sizes, undo = _adaptive_args("adaptive_average_pool", inputs, output_size, data_format)
    for axis, out in enumerate(sizes, start=1):
        size = int(x.shape[axis])
        x = concatenate([mean(take(x, np.arange(lo, hi), axis=axis), axis=axis, keepdims=True)
                         for lo, hi in _adaptive_windows(size, out)], axis=axis)
    return undo(x)


def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max over the bins of _adaptive_windows (1-, 2- or 3-D). The max of a box is found axis by
    axis (a max of maxima), carrying the flat index of each running maximum, so the result is
    one gather of x: its gradient goes to the box's maximum (the first one along each axis)."""
    x, sizes, undo = _adaptive_args("adaptive_max_pool", inputs, output_size, data_format)
    a = np.asarray(x)
    idx = np.arange(a.size, dtype=np.int64).reshape(a.shape)
    val = a
    for axis, out in enumerate(sizes, start=1):
        size = val.shape[axis]
        wins = _adaptive_windows(size, out)
        width = _builtins.max(hi - lo for lo, hi in wins)
        # each bin's positions, its last one repeated up to the widest bin (a repeat changes no max)
        pos = np.array([[_builtins.min(lo + k, hi - 1) for k in range(width)] for lo, hi in wins]).reshape(-1)
        v = np.take(val, pos, axis=axis)
        i = np.take(idx, pos, axis=axis)
        shape = val.shape[:axis] + (out, width) + val.shape[axis + 1:]
        v, i = v.reshape(shape), i.reshape(shape)
        k = np.expand_dims(v.argmax(axis=axis + 1), axis + 1)          # the first maximum
        val = np.take_along_axis(v, k, axis + 1).squeeze(axis + 1)
        idx = np.take_along_axis(i, k, axis + 1).squeeze(axis + 1)
    return undo(_gather("adaptive_max_pool", x, lambda i: i.reshape(-1)[idx]))


def polar(abs_, angle):
    """(abs cos(angle), abs sin(angle)): a complex number as Keras' (real, imag) pair."""
    return multiply(abs_, cos(angle)), multiply(abs_, sin(angle))


def nextafter(x1, x2):
    """The next float32 after x1 towards x2 (no gradient)."""
    a, b = _f32(x1, "nextafter"), _f32(x2, "nextafter")
    _broadcast_check("nextafter", a.shape, b.shape)
    return _t(np.nextafter(np.asarray(a), np.asarray(b)))


def vectorize(pyfunc, *, excluded=None, signature=None):
    """pyfunc applied to every element (of the broadcast inputs), results stacked: a Python loop
    over ops, so it is differentiable wherever pyfunc is."""
    if signature is not None or excluded:
        raise NotImplementedError("ops.vectorize: signature and excluded are not supported")

    def wrapped(*args):
        ts = [_f32(a, "vectorize") for a in args]
        shape = _broadcast_check("vectorize", *[t.shape for t in ts])
        flat = [ravel(broadcast_to(t, shape)) for t in ts]
        n = int(np.prod(shape, dtype=np.int64))
        if n == 0:
            return zeros(shape)
        outs = [pyfunc(*[f[i] for f in flat]) for i in range(n)]
        return reshape(stack(outs, axis=0), list(shape))
    return wrapped


__all__ += ["unfold", "fold", "adaptive_average_pool", "adaptive_max_pool", "polar", "nextafter", "vectorize"]


# -- short-time Fourier transforms ------------------------------------------------------------------

def _stft_window(op, window, sequence_length, fft_length):
    """The analysis window (periodic hann / hamming as scipy.signal.get_window, a given 1-D
    window, or ones), zero-padded on both sides to fft_length."""
    L, n = int(sequence_length), int(fft_length)
    if L > n:
        raise ValueError(f"ops.{op}: sequence_length {L} must be <= fft_length {n}")
    if window is None:
        win = np.ones(L)
    elif isinstance(window, str):
        k = np.arange(L)
        if window in ("hann", "hanning"):
            win = 0.5 - 0.5 * np.cos(2 * np.pi * k / L)
        elif window == "hamming":
            win = 0.54 - 0.46 * np.cos(2 * np.pi * k / L)
        else:
            raise ValueError(f"ops.{op}: window must be 'hann', 'hamming', a 1-D tensor or None, got {window!r}")
    else:
        win = _np64(window)
        if win.shape != (L,):
            raise ValueError(f"ops.{op}: a window tensor must have shape ({L},), got {win.shape}")
    lo = (n - L) // 2
    return np.pad(win, (lo, n - L - lo))


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """(real, imag) of shape (..., frames, fft_length // 2 + 1): frames of fft_length every
    sequence_stride samples (x reflect-padded by fft_length // 2 on both sides when center),
    times the window, through rfft. Differentiable (pad, frames, window and rfft all are)."""
    t = _f32(x, "stft")
    n, stride = int(fft_length), int(sequence_stride)
    win = _stft_window("stft", window, sequence_length, n)
    if center:
        t = pad(t, [(0, 0)] * (t.ndim - 1) + [(n // 2, n // 2)], mode="reflect")
    if int(t.shape[-1]) < n:
        raise ValueError(f"ops.stft: the signal of length {int(t.shape[-1])} is shorter than fft_length {n}")
    frames = multiply(extract_sequences(t, n, stride), win.astype(np.float64 if _NUMPY_FLOAT64.on else np.float32))
    return rfft(frames, fft_length=n)


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann", center=True):
    """The inverse of stft: irfft of each frame, times the window, overlap-added and divided by
    the overlap-added squared window (where it is > 1e-10); the center padding is cropped, then
    the signal is cut or zero-padded to ``length``."""
    re, im = _complex_pair("istft", x)
    n, stride = int(fft_length), int(sequence_stride)
    win = _stft_window("istft", window, sequence_length, n)
    frames = multiply(irfft((re, im), fft_length=n), win.astype(np.float64 if _NUMPY_FLOAT64.on else np.float32))     # (..., F, n)
    f = int(frames.shape[-2])
    total = n + stride * (f - 1)
    # overlap-add: output sample j*stride + k collects frame j's entry k (a linear map; its
    # adjoint reads the frames back out)
    pos = (np.arange(f)[:, None] * stride + np.arange(n)[None, :]).reshape(-1)
    lead = tuple(int(d) for d in frames.shape[:-2])
    a = _np64(frames).reshape(lead + (f * n,))
    out = np.zeros(lead + (total,))
    np.add.at(out, (Ellipsis, pos), a)
    denom = np.zeros(total)
    np.add.at(denom, pos, np.tile(win * win, f))
    scale = np.where(denom > 1e-10, 1.0 / np.where(denom > 1e-10, denom, 1.0), 1.0)
    y = _t(out * scale)
    _record(lambda dys: [_t((_np64(dys[0]) * scale)[..., pos].reshape(lead + (f, n)))], [frames], [y])
    if center:
        y = take(y, np.arange(n // 2, total - n // 2), axis=-1)
    if length is not None:
        length = int(length)
        cur = int(y.shape[-1])
        if length <= cur:
            y = take(y, np.arange(length), axis=-1)
        else:
            y = pad(y, [(0, 0)] * (y.ndim - 1) + [(0, length - cur)])
    return y


__all__ += ["stft", "istft"]


def qr(x, mode="reduced"):
    """(Q, R) of matrices (..., m, n), NumPy's modes 'reduced' and 'complete'. Gradient for
    m >= n in reduced mode (or square): dA = Q (dR + copyltu(M) R^-T) + (dQ - Q Q^T dQ) R^-T with
    M = R dR^T - dQ^T Q (Walter and Lehmann; TensorFlow's rule)."""
    t = _f32(x, "qr")
    if mode not in ("reduced", "complete"):
        raise ValueError(f"ops.qr: mode must be 'reduced' or 'complete', got {mode!r}")
    if t.ndim < 2:
        raise ValueError(f"ops.qr: needs matrices (..., m, n), got shape {tuple(t.shape)}")
    a = _np64(t)
    q, r = np.linalg.qr(a, mode=mode)
    yq, yr = _t(q), _t(r)
    m, n = a.shape[-2], a.shape[-1]

    def rule(dys):
        if m < n or (mode == "complete" and m != n):
            raise NotImplementedError(f"ops.qr: the gradient needs m >= n and mode='reduced' (or a square "
                                      f"matrix), got shape {a.shape} with mode={mode!r}")
        dq = np.zeros(q.shape) if dys[0] is None else _np64(dys[0])
        dr = np.zeros(r.shape) if dys[1] is None else _np64(dys[1])
        qdq = _mT(q) @ dq
        qdq_ = qdq - _mT(qdq)
        rdr = r @ _mT(dr)
        rdr_ = rdr - _mT(rdr)
        low = np.tril(qdq_ + rdr_, -1)

        def times_r_inv_t(v):       # v R^-T
            return _mT(np.linalg.solve(r, _mT(v)))
        return [_t(q @ (dr + times_r_inv_t(low)) + times_r_inv_t(dq - q @ qdq))]
    _record(rule, [t], [yq, yr])
    return yq, yr


def svd(x, full_matrices=True, compute_uv=True):
    """NumPy's svd: (u, s, vh), or s alone. Gradient (distinct singular values; Townsend 2016):
    dA = U [(F o (U^T dU - dU^T U)) S + diag(dS) + S (F o (V^T dV - dV^T V))] V^T
         + (I - U U^T) dU S^-1 V^T + U S^-1 dV^T (I - V V^T),  F_ij = 1 / (s_j^2 - s_i^2).
    With full_matrices and a non-square input only the first min(m, n) singular vectors may
    carry gradient (the others are not unique)."""
    t = _f32(x, "svd")
    if t.ndim < 2:
        raise ValueError(f"ops.svd: needs matrices (..., m, n), got shape {tuple(t.shape)}")
    a = _np64(t)
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    m, n = a.shape[-2], a.shape[-1]
    k = _py_min(m, n)
    if not compute_uv:
        ys = _t(s)
        _record(lambda dys: [_t(u @ (_np64(dys[0])[..., :, None] * vh))], [t], [ys])
        return ys
    if full_matrices and m != n:
        uf, _, vhf = np.linalg.svd(a, full_matrices=True)
    else:
        uf, vhf = u, vh
    yu, ys, yv = _t(uf), _t(s), _t(vhf)

    def rule(dys):
        du = np.zeros(uf.shape) if dys[0] is None else _np64(dys[0])
        ds = np.zeros(s.shape) if dys[1] is None else _np64(dys[1])
        dvh = np.zeros(vhf.shape) if dys[2] is None else _np64(dys[2])
        if (du[..., k:].size and np.any(du[..., k:] != 0)) or (dvh[..., k:, :].size and np.any(dvh[..., k:, :] != 0)):
            raise NotImplementedError("ops.svd: the singular vectors beyond min(m, n) of full_matrices=True "
                                      "are not unique and have no gradient; use full_matrices=False")
        du, dvh = du[..., :k], dvh[..., :k, :]
        v, dv = _mT(vh), _mT(dvh)
        s2 = s[..., None, :] ** 2 - s[..., :, None] ** 2            # s_j^2 - s_i^2
        eye = np.eye(k, dtype=bool)
        F = np.where(eye, 0.0, 1.0 / np.where(eye | (s2 == 0), 1.0, s2))
        S = s[..., None, :] * np.eye(k)
        inv_s = 1.0 / s
        J = F * (_mT(u) @ du - _mT(du) @ u)
        K = F * (_mT(v) @ dv - _mT(dv) @ v)
        core = J @ S + ds[..., None, :] * np.eye(k) + S @ K
        g = u @ core @ vh
        g = g + (np.eye(m) - u @ _mT(u)) @ du @ (inv_s[..., :, None] * vh)
        g = g + (u * inv_s[..., None, :]) @ _mT(dv) @ (np.eye(n) - v @ _mT(v))
        return [_t(g)]
    _record(rule, [t], [yu, ys, yv])
    return yu, ys, yv


__all__ += ["qr", "svd"]


def _moves_wide(fn):
    """``fn`` (an op that only moves, repeats or drops entries) keeping float64 / float16 data:
    its exact integer path moves numbers of the entries, _ops_wide.move the values."""
    @functools.wraps(fn)
    def wrapped(x, *args, **kwargs):
        seq = type(x) in (list, tuple)
        wide = (_wide.result_float(*x) if seq else _wide.result_float(x))
        if wide is None or (seq and not _holds_tensors(x)):
            return fn(x, *args, **kwargs)
        return _wide.move(fn, x, wide, args, kwargs, fn.__name__)
    return wrapped


for _name in ("prod", "cumsum", "cumprod", "inv", "det", "slogdet", "logdet", "solve", "cholesky", "qr", "svd",
              "eigh", "logsumexp", "einsum", "kron", "diff", "cross", "average", "quantile", "pad", "sort",
              "tril", "triu", "trace", "outer", "inner", "tensordot", "vdot", "median", "norm",
              "floor", "ceil", "trunc", "round", "mod", "floor_divide", "heaviside", "nextafter", "angle", "real",
              "imag", "conj", "conjugate", "corrcoef", "correlate", "nanmax", "nanmean", "nanmin", "nansum",
              "normalize", "solve_triangular", "select", "trapezoid", "vander", "full_like", "empty_like", "scatter",
              "categorical_crossentropy", "sparse_categorical_crossentropy", "rms_normalization",
              "layer_normalization", "batch_normalization", "top_k", "meshgrid", "extract_sequences", "sign",
              "nan_to_num", "bincount", "stop_gradient", "diag", "diagflat", "dstack", "slice_update",
              "scatter_update", "glu", "fft", "ifft", "fft2", "ifft2", "rfft", "irfft", "stft", "istft",
              "sparsemax", "segment_sum", "segment_max", "hstack"):
    globals()[_name] = _numpy_float64(globals()[_name])
where = _numpy_float64(where, typed_by=_builtins.slice(1, 3))

def _narrows_float16(fn):
    """``fn`` (an op on C++ float32 kernels: convolutions, pooling, attention) on float16 operands:
    its float32 result rounded to float16 once, as TensorFlow's CPU kernels. On float64 operands
    the convolutions and pooling compute in float64 NumPy (_ops_wide_conv: the op of the same
    name); attention still computes and returns float32 (no float64 form)."""
    wide64 = getattr(_wide_conv, fn.__name__) if fn.__name__ in _wide_conv.__all__ else None

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        tensors = [v for v in (*args, *kwargs.values()) if isinstance(v, Tensor)]
        if tensors:
            wide = _wide.result_float(*tensors)
            if wide == "float16":
                return _wide.narrow_all(fn(*args, **kwargs), "float16")
            if wide == "float64" and wide64 is not None:
                return wide64(*args, **kwargs)
        return fn(*args, **kwargs)
    return wrapped


for _name in ("conv", "conv_transpose", "depthwise_conv", "separable_conv", "max_pool", "average_pool",
              "dot_product_attention"):
    globals()[_name] = _narrows_float16(globals()[_name])

for _name in ("reshape", "flatten", "expand_dims", "squeeze", "transpose", "concatenate", "stack", "ravel",
              "split", "take", "take_along_axis", "flip", "roll", "swapaxes", "moveaxis", "broadcast_to",
              "tile", "repeat", "diagonal", "copy", "get_item", "slice", "unstack", "rot90", "array_split",
              "hsplit"):
    globals()[_name] = _moves_wide(globals()[_name])
del _name


from ._ops_linalg_more import *  # noqa: E402,F401,F403 - pinv, lstsq, matrix_rank ... (keras.ops.linalg)
from . import _ops_linalg_more  # noqa: E402
__all__ += [n for n in _ops_linalg_more.__all__ if n not in __all__]
from ._ops_numpy_more import *  # noqa: E402,F401,F403 - nan* reductions, rearrange, unique, views ...
from . import _ops_numpy_more  # noqa: E402
__all__ += [n for n in _ops_numpy_more.__all__ if n not in __all__]
# the float64 forms of the two modules' ops (as the lists above; their float paths call no kernel)
for _name in ("cdist", "pinv", "lstsq", "lu_factor", "cholesky_inverse", "fmax", "fmin", "fmod", "rad2deg",
              "nancumprod", "nancumsum", "nanmedian", "nanprod", "nanstd", "nanvar", "unique", "fabs", "nanquantile",
              "nanpercentile", "segment_min", "segment_prod"):
    globals()[_name] = _numpy_float64(globals()[_name])
for _name in ("fliplr", "flipud", "dsplit", "rearrange"):
    globals()[_name] = _moves_wide(globals()[_name])
del _name


# Every public op's errors name it (as corenn.kernels' do, ARCHITECTURE "Trust"). Many ops
# compute with NumPy, whose errors on odd input name no op ("axis 5 is out of bounds for array
# of dimension 2", "tuple index out of range", "ufunc 'greater' did not contain a loop"), and
# some reach Python's internal types (AttributeError from x.shape on a number, ZeroDivisionError
# from an empty window). One wrapper at this boundary puts "ops.<name>: " in front of a message
# that does not name its op yet, and turns KeyError / ZeroDivisionError into ValueError and
# AttributeError into TypeError. Ops that call a function of the caller's (map, scan, cond,
# vectorize ...) are left alone: the caller's own exceptions must reach them as raised.
# convert_to_tensor is another module's boundary (saving and conversion; see its docstring).
_OPS_RENAMED_ERRORS = {KeyError: ValueError, ZeroDivisionError: ValueError, AttributeError: TypeError}
_OPS_NAMED_ERRORS = (TypeError, ValueError, OverflowError, IndexError, NotImplementedError, RuntimeError)
_OPS_CALLBACK_ARGS = {"f", "fn", "func", "function", "pyfunc", "body", "cond", "branches", "true_fn", "false_fn",
                      "loop_fn", "predicate", "body_fun", "fun"}


def _ops_names_its_errors(fn, op):
    import re
    # named already: "ops.take: ...", or a kernel entry's "binary_forward: ..." / "gemm: ...";
    # not NumPy's "destination: axis 5 is out of bounds ..."
    opens = re.compile(r"([A-Za-z_][\w.]*): ")
    kernel_names = frozenset(kernels.__all__) | {"corenn", "Tensor"}

    def opens_with_op(message):
        # another op's "ops.take_along_axis: ..." raised inside this one is not named yet: the
        # caller is told the op they called first ("ops.nanmedian: ops.take_along_axis: ...")
        m = opens.match(message)
        return m is not None and (m.group(1) == op or m.group(1).startswith("Tensor.") or m.group(1) in kernel_names)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (*_OPS_NAMED_ERRORS, *_OPS_RENAMED_ERRORS) as exc:
            message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            kind = next((new for old, new in _OPS_RENAMED_ERRORS.items() if isinstance(exc, old)), None)
            if kind is None and opens_with_op(message):
                raise
            if message.startswith("ops: "):   # a helper's generic "ops: expected numeric data ..."
                message = message[len("ops: "):]
            named = message if opens_with_op(message) else f"{op}: {message}"
            if kind is None and type(exc) not in _OPS_NAMED_ERRORS:
                # a subclass (np.exceptions.AxisError, a tf.errors class ...) keeps its type when
                # its message can be replaced; else the builtin type it is an instance of
                exc.args = (named,)
                if str(exc) == named:
                    raise
                kind = next(t for t in _OPS_NAMED_ERRORS if isinstance(exc, t))
            raise (kind or type(exc))(named) from exc
    call._corenn_names_errors = True
    return call


# Shape and selection ops move a bool tensor's values without computing on them, so a bool tensor
# stays bool through them (``ops.expand_dims(mask, -1)``, ``ops.concatenate([m1, m2])``), as in
# Keras; the ops themselves hold float32 0 / 1 in between (the bool tensor is a NumPy array).
_BOOL_KEEPING = ("reshape", "flatten", "expand_dims", "squeeze", "transpose", "concatenate", "stack",
                 "copy", "ravel", "unstack", "split", "array_split", "slice", "take", "take_along_axis",
                 "flip", "roll", "swapaxes", "moveaxis", "broadcast_to", "tile", "repeat", "triu", "tril",
                 "diagonal", "diag", "hstack", "vstack", "rot90")


def _is_bool_data(x):
    return isinstance(x, (bool, np.bool_)) or isinstance(x, np.ndarray) and x.dtype == np.bool_


def _as_bools(r):
    if isinstance(r, (list, tuple)):
        return type(r)(_as_bools(v) for v in r)
    return _truth(np.not_equal(np.asarray(r), 0)) if isinstance(r, Tensor) else r


def _keeps_bool(fn):
    @functools.wraps(fn)
    def op(x, *args, **kwargs):
        data = x if isinstance(x, (list, tuple)) else (x,)
        if data and _builtins.all(_is_bool_data(v) for v in data):
            return _as_bools(fn(x, *args, **kwargs))
        return fn(x, *args, **kwargs)
    return op


for _name in _BOOL_KEEPING:
    globals()[_name] = _keeps_bool(globals()[_name])


def _keeps_bool_undtyped(fn):
    """_keeps_bool for the ``*_like`` fills: bool only where no ``dtype`` is asked for."""
    kept = _keeps_bool(fn)
    @functools.wraps(fn)
    def op(x, *args, **kwargs):
        return fn(x, *args, **kwargs) if kwargs.get("dtype") is not None or len(args) > 1 \
            else kept(x, *args, **kwargs)
    return op


for _name in ("full_like", "empty_like"):
    globals()[_name] = _keeps_bool_undtyped(globals()[_name])


# Keras' dtype rules for bools meeting other data (its result_type, followed by the TF backend):
# bool with int32 or a Python int is int32 (``ops.add(mask, 1)``, ``ops.bitwise_and(mask, n)``),
# bool with float data float32 (unchanged: the float path); integer reductions and scans of
# bools count in int32 (``ops.cumsum(mask)``, ``ops.prod``, ``ops.square``: 0 / 1 counts, not
# float32). The products of two bools (matmul, dot, outer ...) are bools, as TF's Keras gives
# (any of the ands), and so are max / min and + / * of two bools (NumPy's logical or / and).
def _data_kind(x):
    if _is_bool_data(x):
        return "b"
    if isinstance(x, (int, np.integer)):
        return "i"
    dt = getattr(x, "dtype", None)
    if dt is not None and not isinstance(x, (list, tuple)):
        try:
            return "i" if np.dtype(str(dt)).kind in "iu" else "f"
        except TypeError:
            return "f"
    return "f"


def _as_int32(x):
    return Tensor.from_numpy(np.array(x, dtype=np.int32, order="C")) if _is_bool_data(x) else x


def _int32_result(r):
    if isinstance(r, (list, tuple)):
        return type(r)(_int32_result(v) for v in r)
    if isinstance(r, Tensor) and r.dtype != "int32":
        return Tensor.from_numpy(np.asarray(r).astype(np.int32))
    return r


def _bool_promoting(fn, n, both_bool=None):
    """Wraps an op whose first ``n`` positional arguments are data: a bool among ints makes the
    op run in int32 (its result int32); ``both_bool`` says what bools alone give ("bool": a bool
    tensor, "int": int32; None: the op's own answer)."""
    @functools.wraps(fn)
    def op(*args, **kwargs):
        data = args[:n]
        kinds = [_data_kind(v) for v in data]
        if "b" not in kinds or "f" in kinds:
            return fn(*args, **kwargs)
        if "i" not in kinds:
            if both_bool == "bool":
                return _as_bools(fn(*args, **kwargs))
            if both_bool != "int":
                return fn(*args, **kwargs)
        return _int32_result(fn(*[_as_int32(v) for v in data], *args[n:], **kwargs))
    return op


def _bool_list_promoting(fn):
    """concatenate / stack / hstack / vstack / append of bools with ints: int32, as Keras."""
    @functools.wraps(fn)
    def op(xs, *args, **kwargs):
        if isinstance(xs, (list, tuple)):
            kinds = [_data_kind(v) for v in xs]
            if "b" in kinds and "i" in kinds and "f" not in kinds:
                return _int32_result(fn([_as_int32(v) for v in xs], *args, **kwargs))
        return fn(xs, *args, **kwargs)
    return op


def _bool_counting(fn):
    """An integer reduction or scan of a bool tensor: int32 counts, as Keras."""
    @functools.wraps(fn)
    def op(x, *args, **kwargs):
        if _is_bool_data(x) and not isinstance(x, (bool, np.bool_)):
            return _int32_result(fn(_as_int32(x), *args, **kwargs))
        return fn(x, *args, **kwargs)
    return op


for _name in ("abs", "absolute", "trunc", "nan_to_num", "stop_gradient", "diagflat", "dstack", "fliplr",
              "flipud", "sort", "get_item", "hsplit", "vsplit", "nanmax", "nanmin", "diff", "vander",
              "extract_sequences", "pad", "unique", "max", "min"):
    globals()[_name] = _keeps_bool(globals()[_name])
for _name in ("sum", "cumsum", "cumprod", "nancumsum", "nancumprod", "prod", "nanprod", "nansum", "square",
              "bincount"):
    globals()[_name] = _bool_counting(globals()[_name])
for _name in ("add", "multiply", "maximum", "minimum", "fmax", "fmin"):
    globals()[_name] = _bool_promoting(globals()[_name], 2, "bool")
for _name in ("matmul", "dot", "inner", "outer", "vdot", "tensordot", "kron"):
    globals()[_name] = _bool_promoting(globals()[_name], 2, "bool")
for _name in ("mod", "fmod"):
    globals()[_name] = _bool_promoting(globals()[_name], 2, "int")
for _name in ("subtract", "power", "floor_divide", "bitwise_and", "bitwise_or", "bitwise_xor",
              "bitwise_left_shift", "bitwise_right_shift", "left_shift", "right_shift", "gcd", "lcm"):
    globals()[_name] = _bool_promoting(globals()[_name], 2)
globals()["clip"] = _bool_promoting(globals()["clip"], 3)
for _name in ("concatenate", "stack", "hstack", "vstack"):
    globals()[_name] = _bool_list_promoting(globals()[_name])
globals()["append"] = _bool_promoting(globals()["append"], 2)


# Integer data keeps Keras' integer dtype (int32, int64 where an operand is int64; a Python int is
# weak, as in Keras): integers hold no NaN, so the nan-reductions are the plain ones (they gave
# float32); kron of ints is exact integer products (it gave float32); inner / outer / append /
# vdot with a Python int gave int64.
def _int_data_dtype(data):
    wide = _builtins.any(str(getattr(v, "dtype", "")) == "int64" for v in data
                         if not isinstance(v, (int, np.integer)))
    return "int64" if wide else "int32"


def _nan_free_for_ints(fn, plain):
    @functools.wraps(fn)
    def op(x, *args, **kwargs):
        if not _is_bool_data(x) and _data_kind(x) == "i" and not isinstance(x, (int, np.integer)):
            return plain(x, *args, **kwargs)
        return fn(x, *args, **kwargs)
    return op


def _ints_keep_int_dtype(fn, exact=None):
    @functools.wraps(fn)
    def op(x1, x2, *args, **kwargs):
        data = (x1, x2)
        if _builtins.all(_data_kind(v) == "i" and not _is_bool_data(v) for v in data):
            dt = _int_data_dtype(data)
            if exact is not None:
                return _t(exact(np.asarray(x1), np.asarray(x2), *args, **kwargs).astype(dt))
            r = fn(x1, x2, *args, **kwargs)
            if isinstance(r, Tensor) and r.dtype != dt:
                return Tensor.from_numpy(np.asarray(r).astype(dt))
            return r
        return fn(x1, x2, *args, **kwargs)
    return op


for _name, _plain in (("nansum", "sum"), ("nanprod", "prod"), ("nancumsum", "cumsum"), ("nancumprod", "cumprod")):
    globals()[_name] = _nan_free_for_ints(globals()[_name], globals()[_plain])
for _name in ("inner", "outer", "append", "vdot"):
    globals()[_name] = _ints_keep_int_dtype(globals()[_name])
globals()["kron"] = _ints_keep_int_dtype(globals()["kron"], np.kron)


def _name_ops_errors():
    import inspect
    import types

    for op in __all__:
        fn = globals().get(op)
        if not isinstance(fn, types.FunctionType) or op == "convert_to_tensor" \
                or getattr(fn, "_corenn_names_errors", False):
            continue
        try:
            params = set(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            continue
        if params & _OPS_CALLBACK_ARGS:
            continue
        globals()[op] = _ops_names_its_errors(fn, f"ops.{op}")


_name_ops_errors()


# Keras 3 also spells every op through its family's namespace: keras.ops.nn.sigmoid,
# keras.ops.numpy.mean, keras.ops.math.logsumexp, keras.ops.linalg.inv, keras.ops.core.cond
# (the collaborative-filtering example writes ops.nn.sigmoid). Each namespace here is a module
# that serves the op names of this module; names Keras files under another family resolve as well.
def _family_namespaces():
    import sys
    import types

    for family in ("nn", "numpy", "math", "linalg", "core"):
        name = f"{__name__}.{family}"
        mod = types.ModuleType(name, f"keras.ops.{family}: the Keras 3 op names of corenn.ops")
        for op in __all__:
            setattr(mod, op, globals()[op])
        mod.__all__ = list(__all__)
        globals()[family] = mod
        sys.modules.setdefault(name, mod)


_family_namespaces()
