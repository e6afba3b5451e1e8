"""``tf.Variable`` and ``keras.Variable``: a state Tensor that GradientTapes watch.

A variable is a corenn Tensor (its own copy of the initial value, float32 unless an integer
dtype is asked for) registered with the tape machinery as a layer weight is
(``autodiff.watch_variable``), so ``with GradientTape(): y = v ** 2`` records and
``tape.gradient(y, v)`` works without ``watch``; ``assign`` / ``assign_add`` / ``assign_sub``
write into it (Tensor methods). ``trainable=False`` makes a variable that tapes do not watch
(its gradient is None, as TensorFlow gives). ``isinstance(t, tf.Variable)`` is true for both.
Arithmetic on a variable gives a plain Tensor, as in TensorFlow.
"""
from __future__ import annotations

import numpy as np

from . import autodiff
from .kernels import Tensor

__all__ = ["Variable", "KerasVariable", "UnconnectedGradients"]

def _make(value, trainable, name, dtype, where, tf_name):
    from .dtypes import storage_dtype
    if isinstance(value, Tensor):
        if dtype is None and value.dtype != "bool":
            dtype = str(value.dtype)   # a Tensor's dtype is kept (tf.Variable(tf.zeros(3, tf.float64)))
        value = np.asarray(value)
    a = np.asarray(value)
    if dtype is not None:
        a = a.astype(np.dtype(str(dtype))).astype(storage_dtype(dtype, where), copy=False)
    elif a.dtype.kind == "f" or a.dtype == np.bool_:
        a = a.astype(np.float32)
    elif a.dtype.kind in "iu":
        if tf_name and a.dtype == np.int64 and isinstance(value, (int, list, tuple)):
            a = a.astype(np.int32)   # tf.Variable(1): Python ints are int32 in TensorFlow
        a = a.astype(storage_dtype(a.dtype, where), copy=False)
    else:
        raise TypeError(f"{where}: a variable holds numbers, got dtype {a.dtype}")
    t = Tensor.from_numpy(np.array(a, order="C", copy=True))
    base = name or "Variable"   # eager TensorFlow and Keras 3 do not number repeated names
    d = t.__dict__
    d["name"] = f"{base}:0" if tf_name else base
    # Keras 3's Variable.path: the name under the layer scopes open now ('my_layer/w' for one
    # made in a layer's build); a tf.Variable answers it too, as corenn's layers hold either
    from .layers.base import VARIABLES_MADE, variable_path
    d["path"] = variable_path(base)
    d["trainable"] = bool(trainable)
    d["_is_variable"] = True
    d["_made"] = next(VARIABLES_MADE)
    if trainable:
        autodiff.watch_variable(t)
    return t


class _VariableType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.__dict__.get("_is_variable", False)


class Variable(metaclass=_VariableType):
    """``tf.Variable(initial_value, trainable=True, name=None, dtype=None, shape=None)``: a
    variable Tensor (see the module docstring). ``initial_value`` may be a callable returning
    the value."""

    def __new__(cls, initial_value=None, trainable=None, validate_shape=True, caching_device=None, name=None,
                variable_def=None, dtype=None, import_scope=None, constraint=None, synchronization=None,
                aggregation=None, shape=None, **kwargs):
        if initial_value is None and "initializer" in kwargs:
            # Keras 3's keras.Variable(initializer=..., shape=..., dtype=...) written after
            # ``import corenn as keras``, where keras.Variable is this class
            return KerasVariable(kwargs.pop("initializer"), shape=shape, dtype=dtype,
                                 trainable=True if trainable is None else trainable, name=name, **kwargs)
        if initial_value is None:
            raise ValueError("tf.Variable: initial_value is required")
        if callable(initial_value):
            initial_value = initial_value()
        t = _make(initial_value, True if trainable is None else trainable, name, dtype, "tf.Variable", True)
        if constraint is not None:   # projected by the optimizer after each update, as in TensorFlow
            from . import constraints
            t.__dict__["constraint"] = constraints.get(constraint)
        if shape is not None and validate_shape and tuple(shape) != tuple(t.shape) and None not in tuple(shape):
            raise ValueError(f"tf.Variable: the value has shape {tuple(t.shape)}, shape= says {tuple(shape)}")
        return t


# Keras 3's short dtype names (keras.backend.standardize_dtype under TensorFlow)
_KERAS_DTYPE_NAMES = {"int": "int64", "float": "float32"}


class KerasVariable(metaclass=_VariableType):
    """``keras.Variable(initializer, shape=None, dtype=None, trainable=True, name=None)``: the
    initializer is a value, or an initializer (a name such as "zeros", an Initializer, or a
    callable taking shape and dtype) evaluated with ``shape``."""

    def __new__(cls, initializer, shape=None, dtype=None, trainable=True, autocast=True, aggregation="none",
                synchronization="auto", name=None, **kwargs):
        from . import initializers
        dtype = _KERAS_DTYPE_NAMES.get(dtype, dtype) if isinstance(dtype, str) else dtype
        if isinstance(initializer, (str, initializers.Initializer)):
            if shape is None:
                raise ValueError("keras.Variable: an initializer needs shape=")
            value = initializers.get(initializer)(tuple(shape), dtype="float32")
        elif callable(initializer):
            if shape is None:
                raise ValueError("keras.Variable: an initializer needs shape=")
            value = initializer(tuple(shape), dtype="float32")
        else:
            value = initializer
        t = _make(value, trainable, name or "variable", dtype, "keras.Variable", False)
        if shape is not None and tuple(shape) != tuple(t.shape):
            raise ValueError(f"keras.Variable: the value has shape {tuple(t.shape)}, shape= says {tuple(shape)}")
        return t


class UnconnectedGradients:
    """``tf.UnconnectedGradients``: what ``tape.gradient`` gives for an unconnected source."""
    NONE = "none"
    ZERO = "zero"
