"""Weight regularizers: penalties added to the loss, gradients added to the weights' grads.

    L1:    l1 * sum|w|          grad l1 * sign(w)
    L2:    l2 * sum w^2         grad 2 * l2 * w
    L1L2:  both
Default factors are Keras 3's (0.01). The penalty and its gradient are computed in one pass by
``kernels.regularizer_penalty``.
"""
from __future__ import annotations

import numpy as np

from . import kernels

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "OrthogonalRegularizer",
           "orthogonal_regularizer", "get", "serialize", "deserialize"]


class Regularizer:
    """Penalty l1 * sum|w| + l2 * sum w^2 (subclasses fix which factors are used).

    A user subclass may instead define ``__call__(self, x)`` with ``corenn.ops`` (Keras 3's way:
    PointNet's orthogonality penalty); its penalty's gradient then comes from a GradientTape
    over that call, wherever corenn needs one (weight penalties in fit, activity regularizers).
    """

    l1 = l2 = 0.0   # a subclass defining __call__ need not call __init__

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        for name, v in (("l1", l1), ("l2", l2)):
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"{type(self).__name__}: {name} must be a finite number >= 0, got {v!r}")
        self.l1, self.l2 = float(l1), float(l2)

    def _is_custom(self):
        return type(self).__call__ is not Regularizer.__call__

    def penalty(self, w, grad=None) -> float:
        """The penalty of ``w``; with ``grad`` its gradient is also added into ``grad``."""
        if self._is_custom():
            return _custom_penalty(self, w, grad)
        if isinstance(w, kernels.Tensor) and w.dtype == "float64":   # a float64 layer's output: the kernel is
            a = np.asarray(w)                                          # float32, so NumPy float64
            if grad is not None:
                np.asarray(grad)[...] += self.l1 * np.sign(a) + 2.0 * self.l2 * a
            return float(self.l1 * np.abs(a).sum() + self.l2 * np.square(a).sum())
        return kernels.regularizer_penalty(w, grad, l1=self.l1, l2=self.l2)

    def tensor(self, x):
        """The penalty of the Tensor ``x`` as a scalar Tensor made of corenn.ops, so a
        GradientTape differentiates it (``layer.losses``, activity regularization under a tape)."""
        from . import ops
        if self._is_custom():
            return _as_scalar_tensor(self(x), type(self).__name__)
        total = None
        for factor, term in ((self.l1, ops.abs), (self.l2, ops.square)):
            if factor:
                part = ops.sum(term(x)) * np.float32(factor)
                total = part if total is None else total + part
        return total if total is not None else kernels.Tensor.from_numpy(np.zeros((), np.float32))

    def __call__(self, w) -> float:
        if not isinstance(w, kernels.Tensor):
            w = np.ascontiguousarray(w, dtype=np.float32)
        return self.penalty(w)

    def get_config(self):
        if self._is_custom():
            return {}   # a subclass with state of its own adds it (Keras 3's contract)
        return {"l1": self.l1, "l2": self.l2}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1(Regularizer):
    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        super().__init__(l1=l1, l2=l2)


class OrthogonalRegularizer(Regularizer):
    """Keras 3's penalty on a 2-D kernel whose rows (mode='rows') or columns ('columns') should be
    orthogonal: with the rows (columns) scaled to unit L2 norm and P their Gram matrix,
        penalty = factor * 0.5 * sum_{i != j} |P_ij| / (n (n - 1) / 2)
    (n rows or columns). Written with corenn.ops, so the tape gives its gradient.
    """

    def __init__(self, factor=0.01, mode="rows"):
        if isinstance(factor, bool) or not isinstance(factor, (int, float, np.integer, np.floating)) \
                or not np.isfinite(factor) or factor < 0:
            raise ValueError(f"OrthogonalRegularizer: factor must be a finite number >= 0, got {factor!r}")
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: mode must be 'rows' or 'columns', got {mode!r}")
        self.factor, self.mode = float(factor), mode

    def __call__(self, x):
        from . import ops
        if not isinstance(x, kernels.Tensor):
            x = kernels.Tensor.from_numpy(np.asarray(x, np.float32, order="C"))
        if x.ndim != 2:
            raise ValueError(f"OrthogonalRegularizer: inputs must be 2-D (a Dense kernel), got shape "
                             f"{tuple(x.shape)}")
        axis = 1 if self.mode == "rows" else 0
        unit = ops.divide(x, ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), 1e-12)))
        gram = ops.matmul(unit, ops.transpose(unit)) if axis == 1 else ops.matmul(ops.transpose(unit), unit)
        n = int(x.shape[0] if axis == 1 else x.shape[1])
        if n < 2:
            return kernels.Tensor.from_numpy(np.zeros((), np.float32))
        off = ops.multiply(gram, 1.0 - np.eye(n, dtype=np.float32))
        return ops.multiply(ops.sum(ops.abs(off)), np.float32(self.factor * 0.5 / (n * (n - 1) / 2.0)))

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras exposes the lower-case names as aliases of the classes
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer}
_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2, "Regularizer": Regularizer, "OrthogonalRegularizer": OrthogonalRegularizer}


def _as_scalar_tensor(value, who):
    from . import ops
    t = value if isinstance(value, kernels.Tensor) else ops._to_tensor(np.asarray(value, np.float32))
    if t.size != 1:
        raise ValueError(f"regularizer {who}: must return a scalar penalty, got shape {tuple(t.shape)}")
    return ops.reshape(t, ()) if t.ndim else t


def _custom_penalty(reg, w, grad):
    """A user regularizer's penalty of ``w`` (float), its gradient added into ``grad`` when given:
    the call differentiated on a private tape."""
    from .autodiff import GradientTape, stop_recording
    x = w if isinstance(w, kernels.Tensor) else kernels.Tensor.from_numpy(np.asarray(w, np.float32, order="C"))
    if grad is None:
        with stop_recording():   # the value only: nothing to record on an enclosing tape
            return float(np.asarray(_as_scalar_tensor(reg(x), type(reg).__name__)))
    with GradientTape() as tape:
        tape.watch(x)
        value = _as_scalar_tensor(reg(x), type(reg).__name__)
    g = tape.gradient(value, x)
    if g is not None:
        np.asarray(grad)[...] += np.asarray(g, np.float32)
    return float(np.asarray(value))


class _FunctionRegularizer(Regularizer):
    """A plain function ``fn(x) -> scalar`` used as a regularizer (Keras accepts any callable)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)

    def __repr__(self):
        return f"Regularizer({getattr(self.fn, '__name__', self.fn)!r})"


def get(identifier):
    """None, a name ('l2'), a config dict, a class, an instance or a function -> Regularizer or None."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower()) or _CLASSES.get(identifier) or _custom(identifier)
        if cls is None:
            raise ValueError(f"regularizers.get: unknown regularizer {identifier!r}; expected l1, l2 or l1_l2")
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        name = identifier["class_name"]
        cls = (_CLASSES.get(name) or _BY_NAME.get(name) or _custom(identifier.get("registered_name"))
               or _custom(name))
        if cls is None:
            raise ValueError(f"regularizers.get: unknown regularizer class {name!r} (register a custom "
                             f"Regularizer with keras.saving.register_keras_serializable)")
        return cls.from_config(identifier.get("config") or {})
    if callable(identifier) and not isinstance(identifier, type):
        return _FunctionRegularizer(identifier)
    raise TypeError(f"regularizers.get: cannot interpret {identifier!r} as a regularizer")


def _custom(name):
    """A Regularizer subclass registered (``package>Name``) or in custom_objects, or None."""
    from . import saving
    cls = saving.custom_class(name)
    return cls if isinstance(cls, type) and issubclass(cls, Regularizer) else None


def serialize(regularizer):
    """Keras 3's dict: class_name and config, plus module and registered_name (``package>Name``
    for a class registered with keras.saving.register_keras_serializable, which get() finds)."""
    if regularizer is None:
        return None
    from .saving import serialize_keras_object
    if isinstance(regularizer, _FunctionRegularizer):   # saved as the function, by name
        return serialize_keras_object(regularizer.fn)
    return serialize_keras_object(regularizer)


deserialize = get
