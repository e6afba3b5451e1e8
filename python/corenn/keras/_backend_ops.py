"""tf.keras 2's backend functions (``from keras import backend as K``; ``K.mean``, ``K.square``,
``K.set_value``, ...), which old custom losses, metrics and callbacks are written with.

Each is the corenn.ops function of the same math (so a GradientTape differentiates it), with
tf.keras 2's argument names and defaults where they differ from Keras 3's ops: ``axis=None`` and
``keepdims=False`` for the reductions, ``K.dot`` as a matmul over the last / first axes,
``K.batch_dot`` over ``axes``, the cross-entropies with ``from_logits`` and a per-sample result.
Variables: ``set_value`` / ``get_value`` read and write a corenn Variable, an optimizer's
learning rate, or a NumPy array in place.
"""
from __future__ import annotations

import builtins

import numpy as np

__all__ = ["mean", "sum", "max", "min", "prod", "std", "var", "square", "sqrt", "abs", "exp", "log",
           "pow", "clip", "dot", "batch_dot", "concatenate", "reshape", "expand_dims", "squeeze",
           "permute_dimensions", "transpose", "cast", "zeros_like", "ones_like", "zeros", "ones", "eye",
           "argmax", "argmin", "equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
           "maximum", "minimum", "sign", "round", "relu", "sigmoid", "hard_sigmoid", "tanh", "softmax",
           "softplus", "softsign", "elu", "binary_crossentropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "stack", "tile", "repeat_elements", "flatten",
           "batch_flatten", "gather", "one_hot", "cumsum", "cumprod", "logsumexp", "all", "any", "switch",
           "stop_gradient", "l2_normalize", "sin", "cos", "int_shape", "shape", "ndim", "dtype",
           "count_params", "set_value", "get_value", "batch_get_value", "batch_set_value", "eval",
           "variable", "constant", "placeholder", "is_tensor", "random_normal", "random_uniform",
           "random_bernoulli", "learning_phase", "set_learning_phase", "arange", "square_sum"]


def _ops():
    from .. import ops
    return ops


def _reduce(name):
    def fn(x, axis=None, keepdims=False):
        return getattr(_ops(), name)(x, axis=axis, keepdims=keepdims)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"{name} over ``axis`` (None: all), tf.keras 2's K.{name}."
    return fn


mean, sum, max, min, prod, std, var = (_reduce(n) for n in ("mean", "sum", "max", "min", "prod", "std", "var"))
logsumexp = _reduce("logsumexp")


def all(x, axis=None, keepdims=False):
    return _ops().all(x, axis=axis, keepdims=keepdims)


def any(x, axis=None, keepdims=False):
    return _ops().any(x, axis=axis, keepdims=keepdims)


def _same(name):
    def fn(*args, **kwargs):
        return getattr(_ops(), name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"corenn.ops.{name} (tf.keras 2's K.{name})."
    return fn


(square, sqrt, abs, exp, log, clip, concatenate, reshape, expand_dims, squeeze, transpose, cast,
 zeros_like, ones_like, equal, not_equal, greater, greater_equal, less, less_equal,
 maximum, minimum, sign, round, relu, sigmoid, hard_sigmoid, tanh, softplus, softsign, stack, tile,
 one_hot, cumsum, cumprod, stop_gradient, sin, cos, is_tensor) = (_same(n) for n in (
    "square", "sqrt", "abs", "exp", "log", "clip", "concatenate", "reshape", "expand_dims", "squeeze",
    "transpose", "cast", "zeros_like", "ones_like", "equal", "not_equal", "greater",
    "greater_equal", "less", "less_equal", "maximum", "minimum", "sign", "round", "relu", "sigmoid",
    "hard_sigmoid", "tanh", "softplus", "softsign", "stack", "tile", "one_hot", "cumsum", "cumprod",
    "stop_gradient", "sin", "cos", "is_tensor"))


def argmax(x, axis=-1):
    """tf.keras 2's K.argmax: tf.argmax over the last axis by default, so int64 (keras.ops.argmax
    flattens by default and gives Keras 3's int32)."""
    return _ops().cast(_ops().argmax(x, axis=axis), "int64")


def argmin(x, axis=-1):
    """tf.keras 2's K.argmin: tf.argmin over the last axis by default (int64)."""
    return _ops().cast(_ops().argmin(x, axis=axis), "int64")


def pow(x, a):
    return _ops().power(x, a)


def softmax(x, axis=-1):
    return _ops().softmax(x, axis=axis)


def elu(x, alpha=1.0):
    return _ops().elu(x, alpha=alpha)


def permute_dimensions(x, pattern):
    return _ops().transpose(x, pattern)


def dot(x, y):
    """tf.keras 2's K.dot: x's last axis against y's second-to-last (a matmul for 2-D)."""
    ops = _ops()
    if len(np.shape(y)) <= 2:
        return ops.matmul(x, y)
    return ops.tensordot(x, y, axes=[[len(np.shape(x)) - 1], [len(np.shape(y)) - 2]])


def batch_dot(x, y, axes=None):
    """The per-sample dot of x and y over ``axes`` (tf.keras 2's K.batch_dot): (n, a) . (n, a) ->
    (n, 1); (n, a, b) . (n, b, c) -> (n, a, c) by default."""
    ops = _ops()
    xd, yd = len(np.shape(x)), len(np.shape(y))
    if axes is None:
        axes = [xd - 1, yd - 2] if yd > 2 else [xd - 1, yd - 1]
    if isinstance(axes, int):
        axes = [axes, axes]
    ax, ay = [a % d for a, d in zip(axes, (xd, yd))]
    if xd == 2 and yd == 2:
        return ops.sum(ops.multiply(x, y), axis=1, keepdims=True)
    # move the contracted axes to the end of x and after the batch of y, then a batched matmul
    xp = ops.moveaxis(x, ax, -1)
    yp = ops.moveaxis(y, ay, 1)
    if xd == 2:
        xp = ops.expand_dims(xp, 1)
    if yd == 2:
        yp = ops.expand_dims(yp, 2)
    out = ops.matmul(xp, yp)
    if xd == 2:
        out = ops.squeeze(out, 1)
    if yd == 2:
        out = ops.squeeze(out, -1)
    return out


def flatten(x):
    return _ops().reshape(x, (-1,))


def batch_flatten(x):
    rest = tuple(np.shape(x))[1:]
    if builtins.all(d is not None for d in rest):   # (also a KerasTensor, whose batch size is None)
        return _ops().reshape(x, (-1, int(np.prod(rest, dtype=np.int64))))
    return _ops().reshape(x, (np.shape(x)[0], -1))


def repeat_elements(x, rep, axis):
    return _ops().repeat(x, rep, axis=axis)


def gather(reference, indices):
    return _ops().take(reference, indices, axis=0)


def switch(condition, then_expression, else_expression):
    return _ops().where(condition, then_expression, else_expression)


def l2_normalize(x, axis=None):
    ops = _ops()
    return ops.divide(x, ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), 1e-12)))


def square_sum(x, axis=None):
    return _ops().sum(_ops().square(x), axis=axis)


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise, as tf.keras 2 (no mean over the last axis)."""
    ops = _ops()
    if from_logits:
        return ops.subtract(ops.add(ops.relu(output), ops.log1p(ops.exp(ops.negative(ops.abs(output))))),
                            ops.multiply(output, target))
    p = ops.clip(output, 1e-7, 1.0 - 1e-7)
    return ops.negative(ops.add(ops.multiply(target, ops.log(p)),
                                ops.multiply(ops.subtract(1.0, target), ops.log(ops.subtract(1.0, p)))))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per sample over ``axis`` (tf.keras 2)."""
    ops = _ops()
    if from_logits:
        return ops.negative(ops.sum(ops.multiply(target, ops.log_softmax(output, axis=axis)), axis=axis))
    p = ops.clip(ops.divide(output, ops.sum(output, axis=axis, keepdims=True)), 1e-7, 1.0 - 1e-7)
    return ops.negative(ops.sum(ops.multiply(target, ops.log(p)), axis=axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    ops = _ops()
    depth = np.shape(output)[axis]
    labels = np.asarray(target).astype(np.int64).reshape(np.shape(output)[:-1])
    return categorical_crossentropy(ops.one_hot(labels, depth), output, from_logits=from_logits, axis=axis)


def zeros(shape, dtype=None, name=None):
    return _ops().zeros(shape, dtype=dtype or "float32")


def ones(shape, dtype=None, name=None):
    return _ops().ones(shape, dtype=dtype or "float32")


def eye(size, dtype=None, name=None):
    return _ops().eye(size, dtype=dtype or "float32")


def arange(start, stop=None, step=1, dtype="int32"):
    return _ops().arange(start, stop, step, dtype=dtype)


def int_shape(x):
    """The static shape as a tuple (None for unknown dimensions)."""
    return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))


def shape(x):
    return _ops().shape(x)


def ndim(x):
    return len(np.shape(x)) if not hasattr(x, "shape") else len(x.shape)


def dtype(x):
    return str(getattr(x, "dtype", np.asarray(x).dtype))


def count_params(x):
    return int(np.prod(int_shape(x)))


def variable(value, dtype=None, name=None, constraint=None):
    from ..variables import Variable
    return Variable(np.asarray(value, dtype=dtype or "float32"), name=name, constraint=constraint)


def constant(value, dtype=None, shape=None, name=None):
    from .. import _tf_api
    return _tf_api.constant(value, dtype=dtype, shape=shape)


def placeholder(*args, **kwargs):
    raise RuntimeError("K.placeholder is TensorFlow 1's graph mode; corenn runs eagerly: use keras.Input "
                       "for a model's input, or pass arrays directly")


def _learning_rate_owner(x):
    """The optimizer whose learning_rate ``x`` is (K.set_value(model.optimizer.lr, v) idiom)."""
    return getattr(x, "_optimizer", None)


def get_value(x):
    """The value of a Variable, Tensor, optimizer learning rate or array, as NumPy (a Python
    float for a learning rate)."""
    if isinstance(x, (int, float)):
        return float(x) if isinstance(x, float) else x
    a = np.asarray(x)
    return a.copy() if a.ndim else a[()]


def set_value(x, value):
    """Write ``value`` into ``x`` in place: a Variable / Tensor / array, or an optimizer's
    learning rate (``K.set_value(model.optimizer.learning_rate, 1e-4)``)."""
    owner = _learning_rate_owner(x)
    if owner is not None:
        owner.learning_rate = float(value)
        return
    if isinstance(x, (int, float)):
        raise TypeError("K.set_value: a Python number cannot be changed in place; for an optimizer's rate "
                        "pass model.optimizer.learning_rate (or set optimizer.learning_rate = value)")
    if hasattr(x, "assign"):
        x.assign(np.asarray(value, dtype=getattr(x, "dtype", "float32")))
        return
    arr = np.asarray(x)
    arr[...] = value


def batch_get_value(tensors):
    return [get_value(t) for t in tensors]


def batch_set_value(tuples):
    for x, value in tuples:
        set_value(x, value)


def eval(x):
    return get_value(x)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    from .. import random
    return random.normal(shape, mean=mean, stddev=stddev, seed=seed)


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    from .. import random
    return random.uniform(shape, minval=minval, maxval=maxval, seed=seed)


def random_bernoulli(shape, p=0.0, dtype=None, seed=None):
    from .. import random
    return _ops().cast(_ops().less(random.uniform(shape, seed=seed), p), dtype or "float32")


_PHASE = [0]


def learning_phase():
    """0 (inference) unless set_learning_phase(1): corenn passes training= per call instead."""
    return _PHASE[0]


def set_learning_phase(value):
    if value not in (0, 1):
        raise ValueError(f"set_learning_phase: expected 0 or 1, got {value!r}")
    _PHASE[0] = value
