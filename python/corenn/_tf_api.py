"""The TensorFlow names that Keras tutorials call on ``tf`` (``tf.constant``, ``tf.reduce_mean``,
``tf.cast``, ``tf.one_hot``, ...), so a script runs after ``import tensorflow as tf`` becomes
``import corenn as tf``. ``corenn.math`` and ``corenn.nn`` hold ``tf.math`` / ``tf.nn``.

Each is TensorFlow's signature over ``corenn.ops`` (Keras 3's op names), so float results are
Tensors the GradientTape differentiates. Where TensorFlow differs from NumPy / Keras the
TensorFlow behaviour is kept: ``tf.argmax``'s axis defaults to 0, reductions keep an integer
tensor's dtype, ``tf.range`` is integer for integer arguments. String data (corenn's string
tensors are NumPy arrays of ``str``, see ``corenn.strings``) passes through the shape functions
(``constant``, ``convert_to_tensor``, ``expand_dims``, ``reshape``, ``squeeze``, ``concat``,
``stack``) as such arrays.
"""
from __future__ import annotations

import builtins

import numpy as np

from . import dtypes as _dtypes
from . import strings as _strings
from . import ops
from .kernels import Tensor
from .strings import as_string_array, is_string_array

__all__ = ["device", "stop_gradient", "ensure_shape", "sequence_mask", "unique", "gather_nd", "searchsorted",
           "py_function", "numpy_function", "nest", "constant", "convert_to_tensor", "cast", "reshape", "expand_dims", "squeeze", "concat",
           "stack", "unstack", "transpose", "shape", "rank", "size", "fill", "zeros", "ones",
           "zeros_like", "ones_like", "range", "linspace", "one_hot", "argmax", "argmin",
           "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_any",
           "reduce_all", "reduce_std", "reduce_variance", "reduce_logsumexp", "matmul", "add",
           "subtract", "multiply", "divide", "maximum", "minimum", "square", "sqrt", "exp", "abs",
           "pow", "where", "clip_by_value", "gather", "tile", "pad", "split", "sort", "argsort",
           "equal", "not_equal", "greater", "less", "greater_equal", "less_equal", "identity",
           "is_tensor", "norm", "einsum", "boolean_mask", "newaxis", "print", "sigmoid", "tanh",
           "round", "sign", "floor", "ceil", "logical_and", "logical_or", "logical_not",
           "cumsum", "reverse", "roll", "broadcast_to", "custom_gradient", "add_n", "clip_by_norm",
           "clip_by_global_norm"]

newaxis = None


def _is_string(x):
    return is_string_array(x) and not isinstance(x, Tensor)


def _tensor(a):
    """A Tensor of ``a``; booleans a bool tensor, as corenn's comparisons give them (a Tensor
    holds real numbers; a bool tensor is ``_bool_tensor``'s NumPy bool array)."""
    a = np.asarray(a)
    if a.dtype == np.bool_:
        return _bool_tensor(a)
    return Tensor.from_numpy(np.array(a, order="C"))


def _dtype_name(dtype):
    return None if dtype is None else str(_dtypes.as_dtype(dtype))


custom_gradient = ops.custom_gradient   # tf.custom_gradient: f returns (y, grad_fn)


def constant(value, dtype=None, shape=None, name=None):
    """A Tensor holding ``value`` (numbers; float64 data becomes float32 unless dtype says
    otherwise, as TensorFlow's default float is float32), or an array of strings for string
    data. ``shape`` reshapes (a scalar value fills it)."""
    if _is_string(value) or _dtypes.is_string_dtype(dtype) and dtype is not None:
        a = as_string_array(value, "constant")
        if shape is not None:
            a = np.broadcast_to(a, shape).copy() if a.ndim == 0 else a.reshape(shape)
        return _strings.wrap(a.item() if a.ndim == 0 and shape is None else a)
    if isinstance(value, Tensor):
        value = np.asarray(value)
    a = np.asarray(value)
    if a.dtype == object and _python_ints(value):
        raise ValueError(f"tf.constant: {value!r} does not fit in int64")
    if dtype is None and a.dtype == np.bool_ or dtype is not None and _dtype_name(dtype) == "bool":
        return _bool_tensor(a, shape)
    if dtype is not None:
        a = a.astype(_dtype_name(dtype)).astype(_dtypes.storage_dtype(dtype, "tf.constant"), copy=False)
    elif a.dtype == np.float64:
        a = a.astype(np.float32)
    elif a.dtype.kind in "iu" and not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))   # NumPy's integers keep their type (TensorFlow)
    elif a.dtype == np.int64 and isinstance(value, (int, list, tuple)) and _fits_int32(a):
        a = a.astype(np.int32)   # Python ints are int32 in TensorFlow, int64 where one needs it
    if shape is not None:
        a = np.broadcast_to(a, tuple(shape)).copy() if a.size == 1 else a.reshape(tuple(shape))
    return _tensor(a)


def _fits_int32(a):
    return a.size == 0 or (int(a.min()) >= -2 ** 31 and int(a.max()) < 2 ** 31)


def _python_ints(value):
    """Whether ``value`` is a Python int or a (nested) list / tuple of them (bools excluded)."""
    if isinstance(value, (list, tuple)):
        return builtins.all(_python_ints(v) for v in value)
    return isinstance(value, int) and not isinstance(value, builtins.bool)


def _bool_tensor(a, shape=None):
    """TF's bool tensor (``tf.constant([True])``, ``dtype=tf.bool``, comparisons): the NumPy
    bool array with ``numpy()`` that
    Keras masks are as scripts see them (``layers.base.BoolMask``; every corenn op takes it).
    Numbers become ``value != 0``, as tf.constant's cast to bool."""
    from .layers.base import BoolMask
    b = np.array(a if a.dtype == np.bool_ else np.not_equal(a, 0), dtype=np.bool_)
    if shape is not None:
        b = np.broadcast_to(b, tuple(shape)).copy() if b.size == 1 else b.reshape(tuple(shape))
    return b.view(BoolMask)


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    """A Tensor passes through; numbers and arrays become Tensors (float data float32); strings
    become a string array."""
    if isinstance(value, Tensor) and dtype is None:
        return value
    if _is_string(value):
        return _strings.wrap(as_string_array(value, "convert_to_tensor"))
    if dtype is not None:
        return constant(value, dtype=dtype)
    if isinstance(value, (int, list, tuple)) and not isinstance(value, builtins.bool) \
            and np.asarray(value).dtype in (np.int64, object):
        return constant(value)   # Python ints are int32 in TensorFlow, as tf.constant makes them
    if isinstance(value, (builtins.bool, np.bool_, list, tuple, np.ndarray)) and not isinstance(value, Tensor) \
            and np.asarray(value).dtype == np.bool_:
        return _bool_tensor(np.asarray(value))   # bools are bool in TensorFlow, not float32
    return ops._to_tensor(value)


def cast(x, dtype, name=None):
    if isinstance(x, _strings.RaggedTensor):
        from . import _ragged_ops
        return _ragged_ops.cast(x, _dtype_name(dtype))
    if _dtypes.is_string_dtype(dtype):
        raise TypeError("tf.cast: cannot cast to string; use tf.strings.as_string")
    if str(dtype) in ("complex64", "complex128"):
        # corenn's complex tensor: the (real, imag) pair (FNet's tf.cast(x, tf.complex64) before
        # tf.signal.fft2d); the real part keeps its gradient
        if isinstance(x, ops.ComplexPair):
            return x
        re = ops.cast(x, "float32")
        return ops.ComplexPair((re, ops.zeros_like(re)))
    if isinstance(x, ops.ComplexPair):   # TensorFlow drops the imaginary part
        x = x[0]
    _dtypes.storage_dtype(dtype, "tf.cast")   # names tf.cast when the dtype is not supported
    return ops.cast(x, _dtype_name(dtype))


def reshape(tensor, shape, name=None):
    if isinstance(tensor, bytes):
        # a binary string (a serialized proto from tf.py_function): kept as bytes, not decoded
        a = np.empty((), dtype=object)
        a[()] = bytes(tensor)
        out = a.reshape(tuple(shape) if not isinstance(shape, int) else (shape,))
        if out.ndim == 0:
            from .io._bytes import wrap_bytes
            return wrap_bytes(out.item())
        return out
    if _is_string(tensor):
        return as_string_array(tensor).reshape(tuple(shape))
    return ops.reshape(tensor, list(shape) if not isinstance(shape, int) else [shape])


def expand_dims(input, axis, name=None):  # noqa: A002 - TensorFlow's name
    if _is_string(input):
        return np.expand_dims(as_string_array(input, "expand_dims"), axis)
    return ops.expand_dims(input, axis)


def squeeze(input, axis=None, name=None):  # noqa: A002
    if _is_string(input):
        return _strings.wrap(np.squeeze(as_string_array(input, "squeeze"), axis=axis))
    return ops.squeeze(input, axis)


def concat(values, axis, name=None):
    if not isinstance(values, (list, tuple)):
        # one tensor or array: TensorFlow concatenates the list [values], i.e. gives it back (the
        # video tutorial's tf.concat(model.predict(ds), axis=0)), not the rows of the array
        values = [values]
    if builtins.any(isinstance(v, _strings.RaggedTensor) for v in values):
        from . import _ragged_ops
        return _ragged_ops.concat(values, axis)
    if builtins.any(_is_string(v) for v in values):   # a string tensor, with numpy() giving bytes
        return _strings.wrap(np.concatenate([as_string_array(v, "concat") for v in values], axis=axis))
    return ops.concatenate(list(values), axis=axis)


def stack(values, axis=0, name=None):
    if builtins.any(_is_string(v) for v in values):
        return _strings.wrap(np.stack([as_string_array(v, "stack") for v in values], axis=axis))
    return ops.stack(list(values), axis=axis)


def unstack(value, num=None, axis=0, name=None):
    return ops.unstack(value, num=num, axis=axis)


def transpose(a, perm=None, conjugate=False, name=None):
    return ops.transpose(a, perm)


def shape(input, out_type="int32", name=None):  # noqa: A002
    """The shape as an int32 Tensor (``tf.shape(x)[0]`` is the batch size); of a RaggedTensor a
    DynamicRaggedShape, as TensorFlow gives."""
    if isinstance(input, _strings.RaggedTensor):
        return _strings.DynamicRaggedShape(input)
    return Tensor.from_numpy(np.asarray(np.shape(input), dtype=_dtype_name(out_type)))


def rank(input, name=None):  # noqa: A002
    return Tensor.from_numpy(np.asarray(len(np.shape(input)), np.int32))


def size(input, out_type="int32", name=None):  # noqa: A002
    if isinstance(input, _strings.RaggedTensor):   # the values it holds, as TensorFlow counts
        return Tensor.from_numpy(np.asarray(int(np.prod(np.shape(np.asarray(input.flat_values)))),
                                            _dtype_name(out_type)))
    return Tensor.from_numpy(np.asarray(int(np.prod(np.shape(input))), _dtype_name(out_type)))


def fill(dims, value, name=None):
    dtype = value.dtype if isinstance(value, Tensor) else None   # a float64 value fills float64
    return constant(value, dtype=dtype, shape=tuple(np.asarray(dims).reshape(-1)))


def zeros(shape, dtype="float32", name=None):
    if str(dtype) == "string":   # TensorFlow's zero string is b"": an empty accumulator (tf.zeros([0, 1], tf.string))
        dims = tuple(int(d) for d in np.asarray(shape).reshape(-1)) if not isinstance(shape, int) else (shape,)
        return _strings.wrap(np.full(dims, "", dtype=object))
    return ops.zeros(tuple(np.asarray(shape).reshape(-1)) if not isinstance(shape, int) else (shape,),
                     _dtype_name(dtype))


def ones(shape, dtype="float32", name=None):
    return ops.ones(tuple(np.asarray(shape).reshape(-1)) if not isinstance(shape, int) else (shape,),
                    _dtype_name(dtype))


def zeros_like(input, dtype=None, name=None):  # noqa: A002
    return ops.zeros(tuple(np.shape(input)), _dtype_name(dtype) or np.asarray(input).dtype.name)


def ones_like(input, dtype=None, name=None):  # noqa: A002
    return ops.ones(tuple(np.shape(input)), _dtype_name(dtype) or np.asarray(input).dtype.name)


def range(start, limit=None, delta=1, dtype=None, name=None):  # noqa: A001 - TensorFlow's name
    """``tf.range``: the arguments' dtype, as TensorFlow infers it: int32 for Python ints, the
    dtype of integer tensors / arrays (int64 if one is int64), float32 when one is a float."""
    if limit is None:
        start, limit = 0, start
    if dtype is None:
        kinds = [np.asarray(v).dtype for v in (start, limit, delta)]
        if builtins.all(k.kind in "iu" for k in kinds):
            typed = [k for v, k in zip((start, limit, delta), kinds) if not isinstance(v, (int, np.integer))
                     or isinstance(v, np.integer)]
            dtype = "int64" if builtins.any(k == np.int64 for k in typed) else "int32"
        else:
            dtype = "float32"
    values = [v.item() if np.ndim(v) == 0 else v for v in (np.asarray(start), np.asarray(limit), np.asarray(delta))]
    return Tensor.from_numpy(np.arange(*values, dtype=_dtype_name(dtype)))


def linspace(start, stop, num, name=None, axis=0):
    # TensorFlow's result has start's dtype: float64 / float16 Tensors keep theirs
    dtype = str(start.dtype) if isinstance(start, Tensor) and start.dtype in ("float64", "float16") else "float32"
    return Tensor.from_numpy(np.linspace(float(start), float(stop), int(num)).astype(dtype))


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """``tf.one_hot``: rows of ``depth`` values, on_value (1) at the index, off_value (0)
    elsewhere; an index outside [0, depth) gives a row of off_value, as in TensorFlow."""
    idx = np.asarray(indices).astype(np.int64)
    on = 1.0 if on_value is None else on_value
    off = 0.0 if off_value is None else off_value
    dtype = _dtype_name(dtype) or "float32"
    out = np.where(idx[..., None] == np.arange(int(depth)), on, off).astype(dtype)
    if axis is not None and axis != -1:
        out = np.moveaxis(out, -1, axis)
    return Tensor.from_numpy(np.asarray(out, order="C"))


def argmax(input, axis=None, output_type="int64", name=None):  # noqa: A002
    """Index of the largest value along ``axis`` (TensorFlow's default: axis 0)."""
    a = np.argmax(np.asarray(input), axis=0 if axis is None else int(axis))
    return _tensor(np.asarray(a, dtype=_dtype_name(output_type)))


def argmin(input, axis=None, output_type="int64", name=None):  # noqa: A002
    a = np.argmin(np.asarray(input), axis=0 if axis is None else int(axis))
    return _tensor(np.asarray(a, dtype=_dtype_name(output_type)))


def _axis(axis):
    if axis is None:
        return None
    if isinstance(axis, Tensor):
        axis = np.asarray(axis)
    if isinstance(axis, np.ndarray):
        axis = axis.tolist()
    return tuple(axis) if isinstance(axis, (list, tuple)) else int(axis)


def _python_data(x):
    """A reduction's non-Tensor input as an array. Python ints (a list, a tuple, a number) are
    int32, as tf.convert_to_tensor makes them (the basics guide's tf.reduce_sum([1, 2, 3]) is an
    int32 6), where NumPy would pick int64; values past int32's range keep int64."""
    a = np.asarray(x)
    if isinstance(x, (int, list, tuple)) and not isinstance(x, builtins.bool) and a.dtype == np.int64 \
            and (a.size == 0 or (a.min() >= -2**31 and a.max() < 2**31)):
        return a.astype(np.int32)
    return a


def _reduction(name, op, int_fn):
    """A tf.reduce_* over the Keras op (float data, differentiable); integer and boolean data keep
    their dtype (NumPy), as in TensorFlow."""
    def reduce(input_tensor, axis=None, keepdims=False, name=None):
        x = input_tensor
        if isinstance(x, _strings.RaggedTensor):
            from . import _ragged_ops
            return _ragged_ops.reduce(fn_name, int_fn, x, axis, keepdims)
        if type(x) in (list, tuple) and ops._holds_tensors(x):
            x = ops.stack(list(x))   # a list of tensors (tf.reduce_sum(losses)): their stack, differentiable
        if not isinstance(x, Tensor):
            x = _python_data(x)
        if np.dtype(x.dtype).kind in "iub":
            out = int_fn(np.asarray(x), axis=_axis(axis), keepdims=keepdims)
            a = np.asarray(x)
            return _tensor(np.asarray(out, dtype=a.dtype if a.dtype != np.bool_ else np.int64))
        return op(x, axis=_axis(axis), keepdims=keepdims)
    fn_name = name
    reduce.__name__ = reduce.__qualname__ = name
    reduce.__doc__ = f"``tf.{name}``: {op.__name__} over ``axis`` (None: all axes)."
    return reduce


reduce_sum = _reduction("reduce_sum", ops.sum, np.sum)
reduce_max = _reduction("reduce_max", ops.max, np.max)
reduce_min = _reduction("reduce_min", ops.min, np.min)
reduce_prod = _reduction("reduce_prod", ops.prod, np.prod)


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    """Mean over ``axis``; an integer tensor's mean is integer (truncated), as in TensorFlow. A
    RaggedTensor's rows (axis 1) give float32 means, NaN for an empty row, as TensorFlow's."""
    if isinstance(input_tensor, _strings.RaggedTensor):
        # rows of scalars, or rows of vectors (embedding_lookup's): the mean along each row
        rows = [np.asarray(r, np.float64) for r in np.asarray(input_tensor)]
        if axis is None:
            flat = np.concatenate([r.reshape(-1) for r in rows]) if rows else np.zeros(0)
            return constant(np.float32(flat.mean() if flat.size else np.nan))
        if _axis(axis) != 1 and not (_axis(axis) == -1 and all(r.ndim == 1 for r in rows)):
            raise NotImplementedError(f"tf.reduce_mean: a RaggedTensor reduces over axis 1 (each row) or all of it, "
                                      f"got axis={axis}")
        inner = next((r.shape[1:] for r in rows if r.ndim > 1), ())
        out = np.array([r.mean(axis=0) if len(r) else np.full(inner, np.nan) for r in rows], np.float32)
        return constant(out[:, None] if keepdims else out)
    if type(input_tensor) in (list, tuple) and ops._holds_tensors(input_tensor):
        # a list of loss Tensors (IIC's tf.reduce_mean([loss_fn(x, y) for ...])): their stack,
        # recorded on the tape as tf.reduce_sum's is
        input_tensor = ops.stack(list(input_tensor))
    x = input_tensor if isinstance(input_tensor, Tensor) else _python_data(input_tensor)
    if np.dtype(x.dtype).kind in "iu":
        a = np.asarray(x)
        out = np.mean(a, axis=_axis(axis), keepdims=keepdims)
        return Tensor.from_numpy(np.array(np.trunc(out), dtype=a.dtype, order="C"))
    return ops.mean(x, axis=_axis(axis), keepdims=keepdims)


def reduce_any(input_tensor, axis=None, keepdims=False, name=None):
    return _tensor(np.any(np.asarray(input_tensor), axis=_axis(axis), keepdims=keepdims))


def reduce_all(input_tensor, axis=None, keepdims=False, name=None):
    return _tensor(np.all(np.asarray(input_tensor), axis=_axis(axis), keepdims=keepdims))


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    return ops.std(input_tensor, axis=_axis(axis), keepdims=keepdims)


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    return ops.var(input_tensor, axis=_axis(axis), keepdims=keepdims)


def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    return ops.logsumexp(input_tensor, axis=_axis(axis), keepdims=keepdims)


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False, a_is_sparse=False,
           b_is_sparse=False, output_type=None, grad_a=False, grad_b=False, name=None):
    """TensorFlow's ``tf.matmul`` / ``tf.linalg.matmul``: ``adjoint_a`` / ``adjoint_b`` are the
    conjugate transposes (the transposes for real tensors; complex NumPy operands are multiplied
    by NumPy); the ``*_is_sparse`` and ``grad_*`` hints change nothing; ``output_type`` casts."""
    if (transpose_a and adjoint_a) or (transpose_b and adjoint_b):
        raise ValueError("tf.matmul: only one of transpose_a and adjoint_a (transpose_b and adjoint_b) can be True")
    if np.iscomplexobj(a) or np.iscomplexobj(b):
        A, B = np.asarray(a), np.asarray(b)
        if transpose_a or adjoint_a:
            A = np.swapaxes(A.conj() if adjoint_a else A, -1, -2)
        if transpose_b or adjoint_b:
            B = np.swapaxes(B.conj() if adjoint_b else B, -1, -2)
        return np.matmul(A, B)
    if transpose_a or adjoint_a:
        a = ops.swapaxes(a, -1, -2)
    if transpose_b or adjoint_b:
        b = ops.swapaxes(b, -1, -2)
    out = ops.matmul(a, b)
    return out if output_type is None else ops.cast(out, _dtype_name(output_type))


def _binary(name, op):
    tf_name = name

    def fn(x, y, name=None):
        if isinstance(x, _strings.RaggedTensor) or isinstance(y, _strings.RaggedTensor):
            from . import _ragged_ops
            return _ragged_ops.binary(tf_name, x, y)
        return op(x, y)
    fn.__name__ = fn.__qualname__ = name
    return fn


add = _binary("add", ops.add)
subtract = _binary("subtract", ops.subtract)
multiply = _binary("multiply", ops.multiply)
divide = _binary("divide", ops.divide)
maximum = _binary("maximum", ops.maximum)
minimum = _binary("minimum", ops.minimum)
pow = _binary("pow", ops.power)  # noqa: A001 - TensorFlow's name
equal = _binary("equal", ops.equal)
not_equal = _binary("not_equal", ops.not_equal)
greater = _binary("greater", ops.greater)
greater_equal = _binary("greater_equal", ops.greater_equal)
less = _binary("less", ops.less)
less_equal = _binary("less_equal", ops.less_equal)
logical_and = _binary("logical_and", ops.logical_and)
logical_or = _binary("logical_or", ops.logical_or)


def _unary(name, op):
    def fn(x, name=None):
        return op(x)
    fn.__name__ = fn.__qualname__ = name
    return fn


square, sqrt, exp, abs = (_unary(n, getattr(ops, n)) for n in ("square", "sqrt", "exp", "abs"))  # noqa: A001
sigmoid, tanh, sign = (_unary(n, getattr(ops, n)) for n in ("sigmoid", "tanh", "sign"))
floor, ceil, round = (_unary(n, getattr(ops, n)) for n in ("floor", "ceil", "round"))  # noqa: A001
logical_not = _unary("logical_not", ops.logical_not)


def where(condition, x=None, y=None, name=None):
    """``tf.where``: with x and y a selection; alone, the (num_true, rank) int64 coordinates of the
    true entries (TensorFlow's layout; keras.ops.where gives a tuple per axis instead)."""
    if x is None and y is None:
        return Tensor.from_numpy(np.asarray(np.argwhere(np.asarray(condition)).astype(np.int64), order="C"))
    return ops.where(condition, x, y)


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    return ops.clip(t, clip_value_min, clip_value_max)


def add_n(inputs, name=None):
    """The elementwise sum of a list of tensors of one shape (differentiable)."""
    inputs = list(inputs)
    if not inputs:
        raise ValueError("tf.add_n: needs at least one tensor")
    total = ops._to_tensor(inputs[0]) if not isinstance(inputs[0], Tensor) else inputs[0]
    for t in inputs[1:]:
        total = ops.add(total, t)
    return total


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """``t * clip_norm / max(l2norm(t, axes), clip_norm)``: rescaled so its L2 norm (over ``axes``,
    default all) is at most ``clip_norm``; differentiable, as TensorFlow's."""
    t = ops._to_tensor(t)
    sq = ops.sum(ops.square(t), axis=None if axes is None else list(np.atleast_1d(axes)), keepdims=True)
    l2 = ops.sqrt(sq)
    return ops.divide(ops.multiply(t, clip_norm), ops.maximum(l2, clip_norm))


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """(the tensors scaled by ``clip_norm / max(global_norm, clip_norm)``, the global norm): the
    optimizer-side clipping TensorFlow's custom loops write; ``None`` entries stay ``None``."""
    present = [ops._to_tensor(t) for t in t_list if t is not None]
    if use_norm is None:
        use_norm = ops.sqrt(builtins.sum(ops.sum(ops.square(t)) for t in present)) if present else ops._to_tensor(0.0)
    use_norm = ops._to_tensor(use_norm)
    scale = ops.divide(clip_norm, ops.maximum(use_norm, clip_norm))
    return [None if t is None else ops.multiply(ops._to_tensor(t), scale) for t in t_list], use_norm


def _index_array(op, indices):
    """Integer indices as an int64 array. Whole-number floats are accepted: a model input that
    holds ids reaches a layer as float32 in corenn (TensorFlow would keep it int64)."""
    idx = np.asarray(indices)
    if idx.dtype.kind == "f":
        if not np.all(np.isfinite(idx)) or np.any(idx != np.round(idx)):
            raise TypeError(f"{op}: indices must be integers, got non-integral {idx.dtype} values")
        return idx.astype(np.int64)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got dtype {idx.dtype}")
    return idx


def _batched_take(a, idx, axis, batch_dims):
    """tf.gather on NumPy arrays: for each of the leading ``batch_dims`` positions, take
    ``idx[b...]`` along ``axis`` of ``a[b...]``."""
    if batch_dims == 0:
        return np.take(a, idx, axis=axis)
    return np.stack([_batched_take(a[i], idx[i], axis - 1, batch_dims - 1) for i in builtins.range(a.shape[0])]) \
        if a.shape[0] else np.zeros((0,) + np.take(a[:1], idx[:1], axis=axis).shape[1:], a.dtype)


def gather(params, indices, axis=None, batch_dims=0, name=None):
    """``tf.gather``: slices of ``params`` along ``axis`` (default ``batch_dims``) at
    ``indices``; with ``batch_dims`` = b the first b axes of params and indices are batch axes
    taken together (output shape params.shape[:axis] + indices.shape[b:] + params.shape[axis+1:]).
    Differentiable with respect to params (the gather's adjoint adds dy back)."""
    idx = _index_array("tf.gather", indices)
    strings = _is_string(params)
    p = as_string_array(params) if strings else ops._to_tensor(params)
    p_ndim = len(p.shape)
    b = int(batch_dims)
    if b < 0:
        b += idx.ndim
    if not 0 <= b <= idx.ndim:
        raise ValueError(f"tf.gather: batch_dims {batch_dims} is outside [-{idx.ndim}, {idx.ndim}] for indices of "
                         f"shape {idx.shape}")
    ax = b if axis is None else int(axis)
    if ax < 0:
        ax += p_ndim
    if not b <= ax < p_ndim:
        raise ValueError(f"tf.gather: axis {axis} must lie in [batch_dims={b}, {p_ndim}) for params of rank {p_ndim}")
    if strings:   # a string tensor, as tf.constant of strings gives (its items have numpy())
        return _strings.wrap(_batched_take(p, idx, ax, b))
    if b == 0:
        return ops.take(p, idx, axis=ax)
    if tuple(p.shape[:b]) != tuple(idx.shape[:b]):
        raise ValueError(f"tf.gather: with batch_dims={b} params of shape {tuple(p.shape)} and indices of shape "
                         f"{idx.shape} must share their first {b} dimensions")
    if idx.size and (idx.min() < 0 or idx.max() >= p.shape[ax]):
        raise ValueError(f"tf.gather: indices must lie in [0, {p.shape[ax]}) for axis {ax} of params of shape "
                         f"{tuple(p.shape)}, got {int(idx.min())}..{int(idx.max())}")
    return ops._gather("gather", p, lambda i: _batched_take(i, idx, ax, b))


def tile(input, multiples, name=None):  # noqa: A002
    if isinstance(input, _strings.RaggedTensor):
        from . import _ragged_ops
        return _ragged_ops.tile(input, [int(m) for m in np.asarray(multiples).reshape(-1)])
    if _is_string(input):   # strings repeat as NumPy tiles them (data, no gradient)
        a = as_string_array(input, "tile")
        reps = [int(m) for m in np.asarray(multiples).reshape(-1)]
        if len(reps) != a.ndim:
            raise ValueError(f"tf.tile: multiples has {len(reps)} entries for a rank-{a.ndim} input")
        return _strings.wrap(np.tile(a, reps))
    return ops.tile(input, list(np.asarray(multiples).reshape(-1)))


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """``tf.pad``: CONSTANT (with ``constant_values``), REFLECT or SYMMETRIC (case-insensitive)."""
    mode = str(mode).lower()
    if mode not in ("constant", "reflect", "symmetric"):
        raise ValueError(f"tf.pad: mode must be CONSTANT, REFLECT or SYMMETRIC, got {mode!r}")
    if mode != "constant":
        return ops.pad(tensor, np.asarray(paddings).tolist(), mode=mode)
    return ops.pad(tensor, np.asarray(paddings).tolist(), mode=mode, constant_values=constant_values)


def split(value, num_or_size_splits, axis=0, num=None, name=None):
    """``tf.split``: ``num_or_size_splits`` equal parts, or parts of the listed sizes, one of
    which may be -1 (the rest of the axis)."""
    if isinstance(num_or_size_splits, (int, np.integer)):
        return ops.split(value, int(num_or_size_splits), axis=axis)
    sizes = [int(v) for v in np.asarray(num_or_size_splits).reshape(-1)]
    dim = int(np.shape(value)[axis])
    if sizes.count(-1) > 1 or any(v < -1 for v in sizes):
        raise ValueError(f"tf.split: size_splits may hold one -1 and otherwise sizes >= 0, got {sizes}")
    if -1 in sizes:
        sizes[sizes.index(-1)] = dim - (builtins.sum(sizes) + 1)
    if builtins.sum(sizes) != dim or builtins.min(sizes) < 0:
        raise ValueError(f"tf.split: sizes {list(num_or_size_splits)} do not add up to {dim}, the size of axis {axis}")
    bounds = np.cumsum(sizes)[:-1].tolist()
    return ops.split(value, bounds, axis=axis)


def sort(values, axis=-1, direction="ASCENDING", name=None):
    out = ops.sort(values, axis=axis)
    return ops.flip(out, axis=axis) if direction == "DESCENDING" else out


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    a = np.asarray(values)
    idx = np.argsort(-a if direction == "DESCENDING" else a, axis=axis, kind="stable")
    return Tensor.from_numpy(np.asarray(idx, dtype=np.int32, order="C"))


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """``tf.math.cumsum``: exclusive / reverse built from recorded ops (flip, cumsum, subtract),
    so they are differentiable and take Python lists (float64 data becomes float32)."""
    t = ops._to_tensor(x)
    if not (exclusive or reverse):
        return ops.cumsum(t, axis=axis)
    if reverse:
        t = ops.flip(t, axis=axis)
    out = ops.cumsum(t, axis=axis)
    if exclusive:
        out = ops.subtract(out, t)
    return ops.flip(out, axis=axis) if reverse else out


def reverse(tensor, axis, name=None):
    if isinstance(tensor, _strings.RaggedTensor):
        from . import _ragged_ops
        return _ragged_ops.reverse(tensor, [int(a) for a in np.asarray(axis).reshape(-1)])
    return ops.flip(tensor, axis=tuple(axis))


def roll(input, shift, axis, name=None):  # noqa: A002
    return ops.roll(input, shift, axis=axis)


def broadcast_to(input, shape, name=None):  # noqa: A002
    return ops.broadcast_to(input, tuple(shape))


def identity(input, name=None):  # noqa: A002
    return as_string_array(input) if _is_string(input) else ops._to_tensor(input)


def is_tensor(x):
    from .layers.base import BoolMask
    return isinstance(x, (Tensor, BoolMask))   # a bool tensor is a NumPy bool array (_bool_tensor)


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):  # noqa: A002
    """``tf.norm``: with axis=None the tensor is one vector (all its entries: ord 1 is the sum
    of absolute values, not a matrix norm); an int axis gives vector norms, a pair of axes matrix
    norms ('euclidean' is then the Frobenius norm)."""
    ord_ = None if ord == "euclidean" else ord
    if axis is None:
        t = ops._to_tensor(tensor)
        out = ops.norm(ops.reshape(t, (-1,)), ord=ord_)
        return ops.reshape(out, (1,) * t.ndim) if keepdims else out
    if isinstance(axis, (list, tuple)) and len(axis) == 2 and ord_ is None:
        ord_ = "fro"
    return ops.norm(tensor, ord=ord_, axis=tuple(axis) if isinstance(axis, list) else axis,
                    keepdims=bool(keepdims))


def einsum(equation, *inputs, **kwargs):
    return ops.einsum(equation, *inputs)


def boolean_mask(tensor, mask, axis=None, name=None):
    """``tf.boolean_mask``: the entries where ``mask`` (of the shape of tensor.shape[axis:axis +
    mask.ndim], axis default 0) is True, those mask axes flattened into one. Differentiable with
    respect to tensor."""
    m = np.asarray(mask).astype(bool)
    ax = 0 if axis is None else int(axis)
    if _is_string(tensor):
        a = as_string_array(tensor)
    else:
        a = ops._to_tensor(tensor)
    shape = tuple(np.shape(a))
    if ax < 0:
        ax += len(shape)
    if m.ndim == 0 or tuple(shape[ax:ax + m.ndim]) != m.shape:
        raise ValueError(f"tf.boolean_mask: a mask of shape {m.shape} must match dimensions {ax}.. of the "
                         f"tensor's shape {shape}")
    keep = np.flatnonzero(m.reshape(-1))

    def select(arr):
        flat = arr.reshape(arr.shape[:ax] + (-1,) + arr.shape[ax + m.ndim:])
        return np.take(flat, keep, axis=ax)
    if _is_string(tensor):
        return as_string_array(select(a))
    return ops._gather("boolean_mask", a, select)


def print(*inputs, **kwargs):  # noqa: A001 - TensorFlow's name
    """``tf.print``: prints the values (eagerly, as corenn runs)."""
    kwargs.pop("output_stream", None)
    kwargs.pop("summarize", None)
    builtins.print(*[np.asarray(v) if isinstance(v, Tensor) else v for v in inputs], **kwargs)


class device:
    """``with tf.device("CPU:0"):`` as TensorFlow scripts write it. corenn places a Tensor
    where it is made or moved (``Tensor.to('cuda')``), so the scope changes nothing; like
    TensorFlow's soft placement it accepts a GPU name on a machine without one (with
    ``tf.config.set_soft_device_placement(False)`` such a name is refused on entering). The name
    is checked, so a typo is an error."""

    _FORM = __import__("re").compile(r"^(/?(job:\w+/)?(replica:\d+/)?(task:\d+/)?(device:)?)?(cpu|gpu|tpu|cuda)(:\d+)?$",
                                     __import__("re").IGNORECASE)

    def __init__(self, device_name):
        name = "" if device_name is None else str(device_name)
        if name and not self._FORM.match(name):
            raise ValueError(f"tf.device: {device_name!r} is not a device name like 'CPU:0', '/GPU:0' or "
                             "'/device:CPU:0'")
        self.name = name

    def __enter__(self):
        from . import config
        if self.name and not config.get_soft_device_placement():
            m = self._FORM.match(self.name)
            kind = "GPU" if m.group(6).upper() in ("GPU", "CUDA") else m.group(6).upper()
            index = int(m.group(7)[1:]) if m.group(7) else 0
            have = config.list_logical_devices()
            if f"/device:{kind}:{index}" not in [d.name for d in have]:
                from .debugging import InvalidArgumentError
                raise InvalidArgumentError(
                    f"Could not satisfy device specification '{self.name}'. enable_soft_placement=0. "
                    f"All available devices {[d.name for d in have]}.")
        return self

    def __exit__(self, *exc):
        return False


# -- small TensorFlow names the tutorials use ------------------------------------------------------

def stop_gradient(input, name=None):  # noqa: A002
    """The value, as a constant to a GradientTape."""
    return ops.stop_gradient(input)


def ensure_shape(x, shape, name=None):
    """``x`` unchanged after checking its shape against ``shape`` (None = any size)."""
    got = tuple(np.shape(x))
    dims = list(shape.as_list() if hasattr(shape, "as_list") else shape)
    if len(dims) != len(got) or any(d is not None and int(d) != g for d, g in zip(dims, got)):
        raise ValueError(f"tf.ensure_shape: shape {got} is not compatible with {tuple(dims)}")
    return x


def sequence_mask(lengths, maxlen=None, dtype="bool", name=None):
    """mask[..., j] = j < lengths[...]: a bool tensor, or ``dtype``."""
    n = np.asarray(lengths)
    if n.dtype.kind not in "iu" or (n.size and n.min() < 0):
        raise ValueError(f"tf.sequence_mask: lengths must be non-negative integers, got {lengths!r}"[:200])
    width = int(n.max()) if maxlen is None and n.size else int(maxlen or 0)
    m = np.arange(width) < n[..., None]
    return _tensor(m) if str(dtype) == "bool" else constant(m, dtype=dtype)


def unique(x, out_idx="int32", name=None):
    """(y, idx): the values of a 1-D ``x`` in order of first appearance, and for each element the
    index of its value in y (TensorFlow's order, not NumPy's sorted one)."""
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"tf.unique: x must be 1-D, got shape {a.shape}")
    values, first, inverse = np.unique(a, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    y = values[order]
    idx = rank[inverse].astype(str(out_idx))
    return _Unique((_strings.wrap(y.astype(object)) if a.dtype.kind in "OUS" else _tensor(y)), _tensor(idx))


class _Unique(tuple):
    """tf.unique's result: a (y, idx) pair that also answers .y and .idx, as TensorFlow's."""

    __slots__ = ()

    def __new__(cls, y, idx):
        return super().__new__(cls, (y, idx))

    y = property(lambda self: self[0])
    idx = property(lambda self: self[1])


def _gather_nd(p, idx, batch_dims):
    """tf.gather_nd on NumPy arrays (batch_dims leading axes taken together)."""
    if batch_dims:
        return np.stack([_gather_nd(p[i], idx[i], batch_dims - 1) for i in builtins.range(p.shape[0])])
    k = idx.shape[-1]
    flat = idx.reshape(-1, k)
    return p[tuple(flat.T)].reshape(idx.shape[:-1] + p.shape[k:])


def gather_nd(params, indices, batch_dims=0, name=None):
    """params[tuple(index)] for each index row (the last axis of ``indices``); with
    ``batch_dims`` = b the first b axes of params and indices are batch axes taken together.
    Differentiable with respect to params."""
    strings = _is_string(params)
    p = as_string_array(params) if strings else None
    t = None if strings else ops._to_tensor(params)
    shape = p.shape if strings else tuple(t.shape)
    idx = _index_array("tf.gather_nd", indices)
    b = int(batch_dims)
    if not 0 <= b < idx.ndim or b > len(shape) or tuple(shape[:b]) != idx.shape[:b]:
        raise ValueError(f"tf.gather_nd: batch_dims={batch_dims} needs params ({shape}) and indices "
                         f"({idx.shape}) to share their first batch_dims dimensions")
    k = idx.shape[-1]
    if b + k > len(shape):
        raise ValueError(f"tf.gather_nd: index rows of {k} after {b} batch axes for params of rank {len(shape)}")
    flat = idx.reshape(-1, k)
    for axis in builtins.range(k):
        if flat.size and (flat[:, axis].min() < 0 or flat[:, axis].max() >= shape[b + axis]):
            raise ValueError(f"tf.gather_nd: an index on axis {b + axis} is outside [0, {shape[b + axis]})")
    if strings:
        return _strings.wrap(_gather_nd(p, idx, b))
    return ops._gather("gather_nd", t, lambda i: _gather_nd(i, idx, b))


def searchsorted(sorted_sequence, values, side="left", out_type="int32", name=None):
    """Insertion points of ``values`` in each row of ``sorted_sequence`` (the last axis)."""
    seq, v = np.asarray(sorted_sequence), np.asarray(values)
    if seq.ndim == 1:
        out = np.searchsorted(seq, v, side=side)
    else:
        out = np.stack([np.searchsorted(s, r, side=side) for s, r in zip(seq.reshape(-1, seq.shape[-1]),
                                                                         v.reshape(-1, v.shape[-1]))])
        out = out.reshape(v.shape)
    return _tensor(out.astype(str(out_type)))


def _wrapped_outputs(op, result, Tout, strict):  # noqa: N803
    """The outputs of a wrapped Python function as TensorFlow gives them: Tensors of the
    declared ``Tout`` (a list for a list or tuple of dtypes, one value for one dtype, None for
    none). ``strict`` (numpy_function) refuses a NumPy result of another dtype, as TensorFlow's
    op does ("0-th value returned by pyfunc_0 is double, but expects float"), where
    py_function converts Python and NumPy values to the dtype like tf.convert_to_tensor."""
    if Tout is None:
        return result   # no declared dtypes: what the function gave
    many = isinstance(Tout, (list, tuple))
    dtypes = list(Tout) if many else [Tout]
    if not dtypes:
        return None
    values = list(result) if many and isinstance(result, (list, tuple)) else [result]
    if len(values) != len(dtypes):
        raise ValueError(f"tf.{op}: the function returned {len(values)} value(s) where Tout declares "
                         f"{len(dtypes)} ({[_dtype_name(d) for d in dtypes]})")
    out = []
    for i, (v, dt) in enumerate(zip(values, dtypes)):
        name = _dtype_name(dt)
        if _dtypes.is_string_dtype(dt):
            out.append(v)   # strings and serialized bytes stay as corenn keeps them
            continue
        if isinstance(v, Tensor):
            have = str(v.dtype)
            if have != name and not (name == "float64" and have == "float32"):
                raise TypeError(f"tf.{op}: value {i} returned by the function is a {have} Tensor, "
                                f"but Tout declares {name}")
            out.append(v)   # as it is: py_function's result stays differentiable under a tape
            continue
        a = np.asarray(v)
        if strict and str(a.dtype) != name:
            raise TypeError(f"tf.{op}: value {i} returned by the function is {a.dtype}, but Tout "
                            f"declares {name}; return an array of that dtype")
        out.append(constant(a, dtype=name))
    return out if many else out[0]


def py_function(func, inp, Tout=None, name=None):  # noqa: N803 - TensorFlow's name
    """Call ``func(*inp)`` now, on the Tensors themselves (corenn runs eagerly; a tf.data map
    function may use it); its results become Tensors of ``Tout``."""
    return _wrapped_outputs("py_function", func(*inp), Tout, strict=False)


def _numpy_input(a):
    if isinstance(a, Tensor):
        return np.asarray(a)
    if isinstance(a, (bool, int, float)):
        return np.asarray(constant(a))   # as TensorFlow converts it first: 2.0 is float32
    return a   # NumPy arrays keep their dtype (float64 stays float64), strings stay as they are


def numpy_function(func, inp, Tout=None, stateful=True, name=None):  # noqa: N803
    """Call ``func`` on the inputs as NumPy arrays; its results become Tensors of ``Tout``
    (each NumPy result must already have its dtype, as TensorFlow requires)."""
    return _wrapped_outputs("numpy_function", func(*[_numpy_input(a) for a in inp]), Tout, strict=True)


class nest:
    """``tf.nest``: flatten / map over / rebuild nested lists, tuples and dicts (dicts in sorted
    key order, as TensorFlow)."""

    @staticmethod
    def _is_seq(x):
        return isinstance(x, (list, tuple, dict))

    @staticmethod
    def flatten(structure, expand_composites=False):
        if isinstance(structure, dict):
            return [leaf for k in sorted(structure) for leaf in nest.flatten(structure[k])]
        if isinstance(structure, (list, tuple)):
            return [leaf for item in structure for leaf in nest.flatten(item)]
        return [structure]

    @staticmethod
    def pack_sequence_as(structure, flat_sequence, expand_composites=False):
        leaves = iter(list(flat_sequence))

        def build(s):
            if isinstance(s, dict):
                return type(s)((k, build(s[k])) for k in sorted(s))
            if isinstance(s, (list, tuple)):
                items = [build(item) for item in s]
                return type(s)(*items) if hasattr(s, "_fields") else type(s)(items)
            return next(leaves)
        out = build(structure)
        if next(leaves, _END) is not _END:
            raise ValueError("tf.nest.pack_sequence_as: more values than the structure has leaves")
        return out

    @staticmethod
    def map_structure(func, *structures, **kwargs):
        flats = [nest.flatten(s) for s in structures]
        if len({len(f) for f in flats}) > 1:
            raise ValueError("tf.nest.map_structure: the structures do not have the same number of leaves")
        return nest.pack_sequence_as(structures[0], [func(*leaves) for leaves in zip(*flats)])

    @staticmethod
    def is_nested(structure):
        return isinstance(structure, (list, tuple, dict))


_END = object()


# TensorFlow's shape and selection ops keep a bool tensor bool, as ops' do (ops._BOOL_KEEPING)
for _name in ("gather", "gather_nd", "boolean_mask", "pad", "identity"):
    globals()[_name] = ops._keeps_bool(globals()[_name])
# float64 params stay float64 (ops._numpy_float64: their float path, ops._gather, is NumPy)
for _name in ("gather_nd", "boolean_mask"):
    globals()[_name] = ops._numpy_float64(globals()[_name], typed_by=builtins.slice(0, 1))
del _name
