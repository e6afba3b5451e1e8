"""corenn.ops: Keras 3's ``keras.ops`` names on Tensors (and NumPy arrays or Python numbers),
differentiable under a GradientTape.

Every op computes with a C++ kernel (corenn.kernels) and, when a recording tape needs it,
records a small backward rule that calls the matching backward kernel:

    y = ops.multiply(a, b)            kernels.binary_forward('multiply', a, b)
    rule: dy -> (dy * b, dy * a)      kernels.binary_backward (summed over broadcast axes)

Python operators on Tensors (+ - * / ** @, unary -, comparisons give float masks) call these
ops, so ``loss = ops.mean(ops.square(y_true - y_pred))`` written in a custom loss or layer trains.
Inputs that are not Tensors are converted to float32 Tensors (integers too, except where an op
needs indices); results are new Tensors (nothing is reused, so a result stays valid).
"""
from __future__ import annotations

import numpy as np

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

def convert_to_tensor(x, dtype=None):
    if dtype is not None and not isinstance(x, Tensor):
        x = np.asarray(x, dtype=dtype)
    return autodiff.convert(x, "convert_to_tensor")


def _f32(x, where="ops"):
    """A float32 Tensor for ``x`` (Tensors of other dtypes are converted by copy)."""
    if isinstance(x, Tensor):
        if x.dtype == "float32":
            return x
        return Tensor.from_numpy(np.asarray(x).astype(np.float32))
    return Tensor.from_numpy(_c_array(np.asarray(x, dtype=np.float32)))


def _c_array(a):
    """``a`` as a C-contiguous array of the same shape (np.ascontiguousarray would turn a 0-d
    array, a scalar loss, into shape (1,))."""
    return np.asarray(a, order="C")


def convert_to_numpy(x):
    return np.array(x, copy=True)


def _record(rule, inputs, outputs):
    autodiff.record_op(rule, inputs, outputs)


def _needs(tape, x):
    return tape is not None and tape.needs_grad(x)


def stop_gradient(x):
    """x's values, with no gradient flowing back through them."""
    return Tensor.from_numpy(np.array(_f32(x), copy=True))


def cast(x, dtype):
    a = np.asarray(x).astype(np.dtype(dtype))
    out = Tensor.from_numpy(_c_array(a))
    if a.dtype == np.float32 and isinstance(x, Tensor):
        _record(lambda dys: [dys[0]], [x], [out])
    return out


def shape(x):
    return tuple(x.shape)


def ndim(x):
    return len(x.shape)


def size(x):
    return int(np.prod(x.shape, dtype=np.int64))


# -- elementwise -----------------------------------------------------------------------------------

def _binary(kind, a, b):
    a, b = _f32(a), _f32(b)
    y = kernels.binary_forward(kind, a, b)
    tape = autodiff.recording_tape()
    if tape is not None:
        need_a, need_b = _needs(tape, a), _needs(tape, b)

        def rule(dys):
            return list(kernels.binary_backward(kind, a, b, dys[0], need_a=need_a, need_b=need_b))
        tape.record(rule, [a, b], [y])
    return y


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
    x = _f32(x)
    y = kernels.unary_forward(kind, x)
    _record(lambda dys: [kernels.unary_backward(kind, x, y, dys[0])], [x], [y])
    return y


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
    return _unary("abs", x)


absolute = abs


def reciprocal(x):
    return _unary("reciprocal", x)


def sin(x):
    return _unary("sin", x)


def cos(x):
    return _unary("cos", x)


def sign(x):
    """sign(x) (no gradient: it is 0 almost everywhere)."""
    return Tensor.from_numpy(np.sign(np.asarray(_f32(x))).astype(np.float32))


def _activation(kind, x, alpha=0.0, axis=-1):
    x = _f32(x)
    if kind in ("softmax", "log_softmax") and axis not in (-1, x.ndim - 1):
        perm = list(range(x.ndim))
        perm[axis], perm[-1] = perm[-1], perm[axis]
        return transpose(_activation(kind, transpose(x, perm)), perm)
    y = kernels.activation_forward(kind, x, alpha=alpha)
    _record(lambda dys: [kernels.activation_backward(kind, x, y, dys[0], alpha=alpha)], [x], [y])
    return y


def relu(x):
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

def _reduce(kind, x, axis, keepdims):
    x = _f32(x)
    axes = None if axis is None else axis
    y = kernels.reduce_forward(kind, x, axes, keepdims)
    _record(lambda dys: [kernels.reduce_backward(kind, x, y, dys[0], axes, keepdims)], [x], [y])
    return y


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    return _reduce("sum", x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    return _reduce("mean", x, axis, keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return _reduce("max", x, axis, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return _reduce("min", x, axis, keepdims)


def var(x, axis=None, keepdims=False):
    centered = subtract(x, mean(x, axis=axis, keepdims=True))
    return mean(square(centered), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def norm(x, ord=None, axis=None, keepdims=False):
    if ord not in (None, 2, "fro", "euclidean"):
        raise NotImplementedError(f"ops.norm: ord={ord!r} is not supported (the 2-norm is)")
    return sqrt(sum(square(x), axis=axis, keepdims=keepdims))


def argmax(x, axis=-1, keepdims=False):
    return Tensor.from_numpy(_c_array(np.argmax(np.asarray(x), axis=axis, keepdims=keepdims)
                                                  .astype(np.int64)))


def argmin(x, axis=-1, keepdims=False):
    return Tensor.from_numpy(_c_array(np.argmin(np.asarray(x), axis=axis, keepdims=keepdims)
                                                  .astype(np.int64)))


# -- shapes ----------------------------------------------------------------------------------------

def reshape(x, newshape):
    x = _f32(x)
    target = [int(d) for d in (newshape if isinstance(newshape, (list, tuple)) else [newshape])]
    y = x.reshape(target) if _contiguous_view_ok(x) else _f32(np.asarray(x).reshape(target))
    in_shape = list(x.shape)
    _record(lambda dys: [dys[0].reshape(in_shape)], [x], [y])
    return y


def _contiguous_view_ok(x):
    return True


def flatten(x):
    return reshape(x, [-1])


def expand_dims(x, axis):
    x = _f32(x)
    s = list(x.shape)
    axis = axis if axis >= 0 else len(s) + 1 + axis
    return reshape(x, s[:axis] + [1] + s[axis:])


def squeeze(x, axis=None):
    x = _f32(x)
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
    x = _f32(x)
    perm = list(range(x.ndim))[::-1] if axes is None else [int(a) for a in axes]
    y = kernels.transpose(x, perm)
    inverse = kernels.inverse_permutation(perm)
    _record(lambda dys: [kernels.transpose(dys[0], inverse)], [x], [y])
    return y


def concatenate(xs, axis=0):
    xs = [_f32(x) for x in xs]
    y = kernels.concat(xs, axis)
    sizes = [int(x.shape[axis]) for x in xs]
    _record(lambda dys: kernels.split(dys[0], axis, sizes), xs, [y])
    return y


def stack(xs, axis=0):
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)


# -- linear algebra --------------------------------------------------------------------------------

def matmul(x1, x2):
    """x1 @ x2: (..., M, K) @ (..., K, N); a 1-D operand is a vector as in NumPy."""
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
        tape.record(rule, [a, b], [y])
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
    c = _f32(np.asarray(condition, dtype=np.float32))
    if x1 is None and x2 is None:
        return Tensor.from_numpy(_c_array(np.nonzero(np.asarray(c))[0].astype(np.int64)))
    # where(c, a, b) = c * a + (1 - c) * b, differentiable in a and b
    return add(multiply(c, x1), multiply(subtract(1.0, c), x2))


def one_hot(x, num_classes, axis=-1, dtype="float32"):
    idx = np.asarray(x).astype(np.int64)
    out = np.eye(int(num_classes), dtype=dtype)[idx]
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return Tensor.from_numpy(_c_array(out))


def zeros(shape, dtype="float32"):
    return Tensor.from_numpy(np.zeros(shape, dtype))


def ones(shape, dtype="float32"):
    return Tensor.from_numpy(np.ones(shape, dtype))


def full(shape, fill_value, dtype="float32"):
    return Tensor.from_numpy(np.full(shape, fill_value, dtype))


def zeros_like(x, dtype=None):
    return zeros(tuple(x.shape), dtype or "float32")


def ones_like(x, dtype=None):
    return ones(tuple(x.shape), dtype or "float32")


def eye(n, m=None, dtype="float32"):
    return Tensor.from_numpy(np.eye(n, m, dtype=dtype))


def arange(start, stop=None, step=1, dtype="float32"):
    return Tensor.from_numpy(np.arange(start, stop, step, dtype=dtype))


def _compare(fn, a, b):
    return Tensor.from_numpy(_c_array(fn(np.asarray(a), np.asarray(b)).astype(np.float32)))


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
    return Tensor.from_numpy(np.logical_not(np.asarray(x)).astype(np.float32))


# -- losses as ops (Keras 3's keras.ops.*_crossentropy: per-sample values) ------------------------

def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample -log p[target] (output: logits or probabilities over the last axis)."""
    logp = log_softmax(output) if from_logits else log(clip(output, 1e-7, 1.0 - 1e-7))
    labels = np.asarray(target).reshape(tuple(logp.shape[:-1]))
    return negative(sum(multiply(one_hot(labels, logp.shape[-1]), logp), axis=-1))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    logp = log_softmax(output) if from_logits else log(clip(output, 1e-7, 1.0 - 1e-7))
    return negative(sum(multiply(target, logp), axis=-1))


def binary_crossentropy(target, output, from_logits=False):
    p = sigmoid(output) if from_logits else output
    p = clip(p, 1e-7, 1.0 - 1e-7)
    t = _f32(target)
    return negative(add(multiply(t, log(p)), multiply(subtract(1.0, t), log(subtract(1.0, p)))))


# -- Python operators on Tensors -------------------------------------------------------------------

def _getitem(self, key):
    """Indexing returns a copy (as a Keras tensor would); the gradient scatters back."""
    x = self
    a = np.asarray(x)
    try:
        picked = a[key]
    except IndexError as exc:
        raise IndexError(f"Tensor subscript {key!r} on a Tensor of shape {tuple(a.shape)}: {exc}") from None
    y = Tensor.from_numpy(_c_array(picked))
    if x.dtype == "float32":
        def rule(dys):
            g = np.zeros(a.shape, np.float32)
            np.add.at(g, key, np.asarray(dys[0]))
            return [Tensor.from_numpy(g)]
        _record(rule, [x], [y])
    return y


def _install_operators():
    T = Tensor
    T.__add__ = lambda a, b: add(a, b)
    T.__radd__ = lambda a, b: add(b, a)
    T.__sub__ = lambda a, b: subtract(a, b)
    T.__rsub__ = lambda a, b: subtract(b, a)
    T.__mul__ = lambda a, b: multiply(a, b)
    T.__rmul__ = lambda a, b: multiply(b, a)
    T.__truediv__ = lambda a, b: divide(a, b)
    T.__rtruediv__ = lambda a, b: divide(b, a)
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
    T.__getitem__ = _getitem
    T.__len__ = _len
    # NumPy defers its operators to the Tensor's (ndarray - Tensor -> Tensor.__rsub__, recorded
    # by the tape); NumPy functions still take Tensors through __array__ / np.asarray.
    T.__array_ufunc__ = None


def _len(a):
    if a.ndim == 0:
        raise TypeError("len() of a 0-d Tensor")
    return int(a.shape[0])


_install_operators()
