"""Weight constraints (Keras' ``keras.constraints``): a projection applied to a weight after each
optimizer update (``Dense(kernel_constraint=MaxNorm(3))``, ``add_weight(constraint=...)``,
``tf.Variable(..., constraint=...)``).

    MaxNorm(m, axis)            w * clip(|w|, 0, m) / (eps + |w|)      |w|: L2 norm over ``axis``
    MinMaxNorm(lo, hi, r, axis) w * (r clip(|w|, lo, hi) + (1 - r) |w|) / (eps + |w|)
    UnitNorm(axis)              w / (eps + |w|)
    NonNeg()                    w * [w >= 0]
eps = 1e-7 (Keras' backend epsilon). ``axis`` 0 (Keras' default) takes the norm of each column
of a Dense kernel (the weights into one unit); for a conv kernel (KH, KW, Cin, Cout) use
axis=[0, 1, 2], the weights into one filter.

The optimizer applies them (``Optimizer.apply``, after the fused update, to each variable that
has one): they are cheap next to a training step and run once per step in NumPy, in float32.
"""
from __future__ import annotations

import numpy as np

from . import kernels

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm", "min_max_norm",
           "non_neg", "unit_norm", "get", "serialize", "deserialize", "apply"]

_EPSILON = np.float32(1e-7)


def _axis(owner, axis):
    axes = (axis,) if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) else tuple(axis)
    if not axes or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
        raise ValueError(f"{owner}: axis must be an int or a list of ints, got {axis!r}")
    return int(axes[0]) if len(axes) == 1 else [int(a) for a in axes]


def _number(owner, arg, value, low=0.0):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value < low:
        raise ValueError(f"{owner}: {arg} must be a finite number >= {low}, got {value!r}")
    return float(value)


def _norms(w, axis):
    return np.sqrt(np.sum(np.square(w), axis=axis if isinstance(axis, int) else tuple(axis), keepdims=True))


class Constraint:
    """Base class: ``__call__(w)`` returns the projected weight (an array or Tensor of w's shape)."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class MaxNorm(Constraint):
    def __init__(self, max_value=2, axis=0):
        self.max_value = _number("MaxNorm", "max_value", max_value)
        self.axis = _axis("MaxNorm", axis)

    def __call__(self, w):
        w = np.asarray(w, np.float32)
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0.0, self.max_value).astype(np.float32)
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _number("MinMaxNorm", "min_value", min_value)
        self.max_value = _number("MinMaxNorm", "max_value", max_value, self.min_value)
        self.rate = _number("MinMaxNorm", "rate", rate)
        if self.rate > 1.0:
            raise ValueError(f"MinMaxNorm: rate must be in [0, 1], got {rate!r}")
        self.axis = _axis("MinMaxNorm", axis)

    def __call__(self, w):
        w = np.asarray(w, np.float32)
        norms = _norms(w, self.axis)
        desired = (np.float32(self.rate) * np.clip(norms, self.min_value, self.max_value)
                   + np.float32(1.0 - self.rate) * norms).astype(np.float32)
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


class NonNeg(Constraint):
    def __call__(self, w):
        w = np.asarray(w, np.float32)
        return w * (w >= 0.0).astype(np.float32)


class UnitNorm(Constraint):
    def __init__(self, axis=0):
        self.axis = _axis("UnitNorm", axis)

    def __call__(self, w):
        w = np.asarray(w, np.float32)
        return w / (_EPSILON + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


# Keras' lower-case aliases of the classes
max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm

_CLASSES = {"Constraint": Constraint, "MaxNorm": MaxNorm, "MinMaxNorm": MinMaxNorm, "NonNeg": NonNeg,
            "UnitNorm": UnitNorm, "max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg,
            "unit_norm": UnitNorm, "maxnorm": MaxNorm, "nonneg": NonNeg, "unitnorm": UnitNorm}


def get(identifier):
    """None, a name ('max_norm'), a config dict, a class, an instance or a callable ``w -> w``
    -> the constraint (or None)."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if isinstance(identifier, str):
        cls = _CLASSES.get(identifier) or _CLASSES.get(identifier.lower())
        if cls is None:
            raise ValueError(f"constraints.get: unknown constraint {identifier!r}; expected one of "
                             f"max_norm, min_max_norm, non_neg, unit_norm")
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        name = identifier["class_name"]
        cls = _CLASSES.get(name)
        if cls is None:
            from . import saving
            cls = saving.custom_class(name) or saving.custom_class(identifier.get("registered_name") or "")
        if cls is None or not (isinstance(cls, type) and issubclass(cls, Constraint)):
            raise ValueError(f"constraints.get: unknown constraint class {name!r} (register a custom "
                             f"Constraint with keras.saving.register_keras_serializable)")
        return cls.from_config(identifier.get("config") or {})
    if callable(identifier):
        return identifier
    raise TypeError(f"constraints.get: cannot interpret {identifier!r} as a constraint")


def serialize(constraint):
    if constraint is None:
        return None
    if not isinstance(constraint, Constraint):
        raise ValueError(f"constraints.serialize: {constraint!r} is a plain function; subclass "
                         f"keras.constraints.Constraint (with get_config) to save it")
    from .saving import serialize_keras_object   # with registered_name, which get() resolves
    return serialize_keras_object(constraint)


deserialize = get


def apply(variable, constraint):
    """variable := constraint(variable), in place (its shape is kept; the write bumps its version,
    so a packed copy of it is never reused stale)."""
    value = constraint(variable)
    target = np.asarray(variable)
    # in the variable's dtype: a float64 weight keeps its float64 projection
    value = np.asarray(value.numpy() if isinstance(value, kernels.Tensor) else value,
                       np.float64 if target.dtype == np.float64 else np.float32)
    if value.shape != target.shape:
        raise ValueError(f"constraint {constraint!r} returned shape {value.shape} for a weight of shape "
                         f"{target.shape}")
    target[...] = value
