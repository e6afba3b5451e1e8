"""Activation functions: names, objects and Keras-style module functions.

An activation here is a small object with ``forward(x, out)`` and ``backward(x, y, dy, out)``
that call ``corenn.kernels``; layers hold one (``activations.get('relu')``). The module-level
functions (``relu(x)``, ``softmax(x)``, ...) take NumPy input and return NumPy, as Keras'
functions do eagerly, so ``keras.activations.relu(x)`` ports by changing the import.

Math (elementwise unless noted; softmax and log_softmax over the last axis):
    linear(x) = x                     relu(x) = max(x, 0)
    leaky_relu(x) = x if x > 0 else a*x  (a = negative_slope, 0.2 as in Keras)
    elu(x) = x if x > 0 else a*(e^x - 1) (a = alpha, 1.0)
    selu(x) = 1.0507 * elu(x, 1.67326)   sigmoid(x) = 1 / (1 + e^-x)      tanh(x)
    gelu(x) = x * Phi(x) (exact erf form) swish(x) = silu(x) = x * sigmoid(x)
    softplus(x) = log(1 + e^x)          softmax(x)_i = e^x_i / sum_j e^x_j
    log_softmax(x)_i = x_i - log sum_j e^x_j
    Keras 3's others, each one C++ kernel (the formulas and their gradients: csrc/cpu/activation.cpp):
    relu6, hard_sigmoid, hard_silu (hard_swish), mish, softsign, log_sigmoid, hard_tanh, celu(alpha),
    exponential, tanh_shrink, soft_shrink(threshold), hard_shrink(threshold), squareplus(b),
    sparse_plus; and glu, sparsemax, threshold written with corenn.ops (differentiated by the tape).
"""
from __future__ import annotations

import sys

import numpy as np

from . import kernels

__all__ = ["ActivationFunction", "PythonActivation", "get", "serialize", "deserialize", "linear", "relu",
           "leaky_relu", "elu", "selu", "sigmoid", "tanh", "gelu", "swish", "silu", "softplus",
           "softmax", "log_softmax", "relu6", "hard_sigmoid", "hard_silu", "hard_swish", "mish", "softsign",
           "log_sigmoid", "hard_tanh", "celu", "exponential", "tanh_shrink", "soft_shrink", "hard_shrink",
           "squareplus", "sparse_plus", "glu", "sparsemax", "threshold",
           "sparse_sigmoid"]

# The kernels' alpha, per kind: relu6's ceiling, celu's scale, the shrinks' threshold, squareplus' b
_DEFAULT_ALPHA = {"leaky_relu": 0.2, "elu": 1.0, "relu6": 6.0, "celu": 1.0, "soft_shrink": 0.5,
                  "hard_shrink": 0.5, "squareplus": 4.0}
_ALIASES = {"silu": "swish", None: "linear", "none": "linear", "identity": "linear", "hard_swish": "hard_silu"}


def _is_symbolic(x) -> bool:
    """Whether ``x`` is a KerasTensor (the graph module is imported only when one could exist)."""
    graph = sys.modules.get("corenn.models.graph")
    return graph is not None and isinstance(x, graph.KerasTensor)


class ActivationFunction:
    """One activation: ``forward`` and its ``backward`` side by side, both via corenn.kernels.

    Args:
        name: one of ``kernels.ACTIVATIONS`` (or the alias 'silu').
        alpha: negative slope of leaky_relu / scale of elu / ceiling of relu6 (Keras defaults
            when None).
    """

    def __init__(self, name: str, alpha: float | None = None):
        name = _ALIASES.get(name, name)
        if name not in kernels.ACTIVATIONS:
            raise ValueError(f"activations.get: unknown activation {name!r}; "
                             f"expected one of {', '.join(kernels.ACTIVATIONS)} (or a corenn.activations function)")
        self.name = name
        self.alpha = float(_DEFAULT_ALPHA.get(name, 0.0) if alpha is None else alpha)

    @property
    def is_linear(self) -> bool:
        return self.name == "linear"

    def output_shape(self, input_shape):
        """The shape f gives an input of ``input_shape`` (None for an unknown size): elementwise
        and softmax-like activations keep it; glu halves its axis."""
        return tuple(input_shape)

    def forward(self, x, out=None):
        """y = f(x); ``out`` is a preallocated buffer of x's shape (linear returns x itself)."""
        if self.is_linear:
            return x
        return kernels.activation_forward(self.name, x, out, alpha=self.alpha)

    def backward(self, x, y, dy, out=None):
        """dx = dy * f'(x) given the forward input ``x`` and output ``y``."""
        if self.is_linear:
            return dy
        return kernels.activation_backward(self.name, x, y, dy, out, alpha=self.alpha)

    def __call__(self, x):
        """Eager evaluation: NumPy in -> NumPy out (Tensor in -> new Tensor out). On a symbolic
        tensor (``keras.activations.swish(x)`` while a functional model is built, as Keras 3's
        activations are ops) it records an ``Activation`` layer node."""
        if _is_symbolic(x):
            from .layers import Activation
            return Activation(self)(x)
        if isinstance(x, kernels.Tensor):   # through ops: recorded on a GradientTape, as Keras'
            if self.is_linear:
                return x
            from . import ops
            return ops._activation(self.name, x, alpha=self.alpha)
        arr = np.ascontiguousarray(x, dtype=np.float32)
        if self.is_linear:
            return arr.copy()
        return self.forward(arr).numpy()

    def get_config(self):
        return {"name": self.name, "alpha": self.alpha}

    @classmethod
    def from_config(cls, config):
        return cls(config["name"], config.get("alpha"))

    def __eq__(self, other):
        return isinstance(other, ActivationFunction) and (self.name, self.alpha) == (other.name, other.alpha)

    def __hash__(self):
        return hash((self.name, self.alpha))

    def __repr__(self):
        return f"<activation {self.name}>"


class PythonActivation(ActivationFunction):
    """A user's activation function ``fn(x)`` written with corenn.ops (Keras'
    ``Dense(activation=my_fn)``): forward evaluates it, backward differentiates it on a private
    GradientTape. Saved by its registered name (``register_keras_serializable``)."""

    def __init__(self, fn):
        from . import saving
        self.fn = fn
        self.name = saving.function_name(fn)
        self.alpha = 0.0
        # glu halves its axis; any other function here must keep its input's shape
        self._shape_fn = getattr(fn, "_corenn_output_shape", None)

    def output_shape(self, input_shape):
        return tuple(input_shape) if self._shape_fn is None else self._shape_fn(tuple(input_shape))

    @property
    def is_linear(self) -> bool:
        return False

    def _run(self, x):
        y = self.fn(x)
        return y if isinstance(y, kernels.Tensor) else kernels.Tensor.from_numpy(np.asarray(y, np.float32, order="C"))

    def forward(self, x, out=None):
        from .autodiff import stop_recording
        with stop_recording():   # the layer's call is what a tape records
            y = self._run(x)
        want = self.output_shape(tuple(x.shape))
        if tuple(y.shape) != want:
            if self._shape_fn is None:
                raise ValueError(f"activation {self.name!r} must keep its input's shape {tuple(x.shape)}, "
                                 f"returned {tuple(y.shape)}")
            raise ValueError(f"activation {self.name!r} of an input of shape {tuple(x.shape)} returned "
                             f"{tuple(y.shape)}, expected {want}")
        if out is None:
            return y
        if tuple(out.shape) != want:   # a layer that sizes its output as its input (Dense, Conv)
            raise ValueError(f"activation {self.name!r} turns an input of shape {tuple(x.shape)} into "
                             f"{want}; only the Activation layer takes an activation that changes the shape")
        np.copyto(np.asarray(out), np.asarray(y))
        return out

    def backward(self, x, y, dy, out=None):
        from .autodiff import GradientTape
        with GradientTape() as tape:
            tape.watch(x)
            y2 = self._run(x)
        g = tape.gradient(y2, x, output_gradients=dy)
        g = np.zeros(tuple(x.shape), np.float32) if g is None else np.asarray(g)
        if out is None:
            return kernels.Tensor.from_numpy(np.asarray(g, np.float32, order="C"))
        np.copyto(np.asarray(out), g)
        return out

    def __call__(self, x):
        return self._run(x if isinstance(x, kernels.Tensor) else
                         kernels.Tensor.from_numpy(np.asarray(x, np.float32, order="C")))

    def get_config(self):
        return self.name

    def __eq__(self, other):
        return isinstance(other, PythonActivation) and other.fn is self.fn

    def __hash__(self):
        return id(self.fn)

    def __repr__(self):
        return f"<activation {self.name} (Python)>"


def _function(name, doc):
    def fn(x):
        return ActivationFunction(name)(x)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    fn._corenn_activation = name
    return fn


linear = _function("linear", "linear(x) = x")
relu = _function("relu", "relu(x) = max(x, 0)")
selu = _function("selu", "selu(x) = 1.0507 * (x if x > 0 else 1.67326 * (e^x - 1))")
sigmoid = _function("sigmoid", "sigmoid(x) = 1 / (1 + exp(-x))")
tanh = _function("tanh", "tanh(x)")
gelu = _function("gelu", "gelu(x) = x * Phi(x), exact erf form")
swish = _function("swish", "swish(x) = x * sigmoid(x)")
silu = swish
softplus = _function("softplus", "softplus(x) = log(1 + exp(x))")
_softmax_last = _function("softmax", "softmax over the last axis")
_log_softmax_last = _function("log_softmax", "log_softmax over the last axis")


def _over_axis(last, op_name):
    def fn(x, axis=-1):
        ndim = len(x.shape) if _is_symbolic(x) else len(np.shape(x))
        if axis in (-1, ndim - 1):
            return last(x)
        from . import ops   # another axis (Keras 3's ``axis=``): the differentiable op
        return getattr(ops, op_name)(x, axis=axis)
    fn.__name__ = fn.__qualname__ = op_name
    fn.__doc__ = f"{op_name} over ``axis`` (the last by default)"
    fn._corenn_activation = op_name
    return fn


softmax = _over_axis(_softmax_last, "softmax")
log_softmax = _over_axis(_log_softmax_last, "log_softmax")
relu6 = _function("relu6", "relu6(x) = min(max(x, 0), 6)")


def leaky_relu(x, negative_slope: float = 0.2):
    """leaky_relu(x) = x if x > 0 else negative_slope * x"""
    return ActivationFunction("leaky_relu", negative_slope)(x)


def elu(x, alpha: float = 1.0):
    """elu(x) = x if x > 0 else alpha * (exp(x) - 1)"""
    return ActivationFunction("elu", alpha)(x)


leaky_relu._corenn_activation = "leaky_relu"
elu._corenn_activation = "elu"

hard_sigmoid = _function("hard_sigmoid", "hard_sigmoid(x) = relu6(x + 3) / 6")
hard_silu = _function("hard_silu", "hard_silu(x) = x * relu6(x + 3) / 6")
hard_swish = hard_silu
mish = _function("mish", "mish(x) = x * tanh(softplus(x))")
softsign = _function("softsign", "softsign(x) = x / (|x| + 1)")
log_sigmoid = _function("log_sigmoid", "log_sigmoid(x) = -softplus(-x)")
hard_tanh = _function("hard_tanh", "hard_tanh(x) = clip(x, -1, 1)")
exponential = _function("exponential", "exponential(x) = e^x")
tanh_shrink = _function("tanh_shrink", "tanh_shrink(x) = x - tanh(x)")
sparse_plus = _function("sparse_plus", "sparse_plus(x) = 0 if x <= -1, x if x >= 1, else (x + 1)^2 / 4")


def celu(x, alpha=1.0):
    """celu(x) = x if x > 0 else alpha * (exp(x / alpha) - 1)"""
    return ActivationFunction("celu", alpha)(x)


def soft_shrink(x, threshold=0.5):
    """soft_shrink(x) = x - threshold * sign(x) if |x| > threshold, else 0"""
    return ActivationFunction("soft_shrink", threshold)(x)


def hard_shrink(x, threshold=0.5):
    """hard_shrink(x) = x if |x| > threshold, else 0"""
    return ActivationFunction("hard_shrink", threshold)(x)


def squareplus(x, b=4):
    """squareplus(x) = (x + sqrt(x^2 + b)) / 2"""
    return ActivationFunction("squareplus", b)(x)


for _fn in (celu, soft_shrink, hard_shrink, squareplus):
    _fn._corenn_activation = _fn.__name__


def glu(x, axis=-1):
    """glu(x) = a * sigmoid(b), x split in two halves a, b along ``axis`` (written with corenn.ops)."""
    from . import ops
    return ops.glu(x, axis=axis)


def _glu_output_shape(input_shape, axis=-1):
    """glu's output shape: its axis halved (None stays None); an odd size is refused here so that
    a symbolic call fails where an eager one would (Keras 3.15 keeps the input's shape on a
    KerasTensor, which is not what its call returns)."""
    shape = list(input_shape)
    if not shape:
        raise ValueError("activation 'glu' needs an input of rank >= 1 (it halves an axis), got a 0-d one")
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"activation 'glu': axis {axis} is out of range for an input of shape {tuple(shape)}")
    d = shape[axis]
    if d is not None and d % 2:
        raise ValueError(f"activation 'glu': axis {axis} of shape {tuple(shape)} must have an even size")
    shape[axis] = None if d is None else d // 2
    return tuple(shape)


glu._corenn_output_shape = _glu_output_shape


def sparsemax(x, axis=-1):
    """sparsemax (Martins & Astudillo 2016): the Euclidean projection of x onto the probability
    simplex along ``axis`` (written with corenn.ops)."""
    from . import ops
    return ops.sparsemax(x, axis=axis)


def threshold(x, threshold, default_value):
    """x where x > threshold, else default_value (written with corenn.ops)."""
    from . import ops
    return ops.threshold(x, threshold, default_value)


def sparse_sigmoid(x):
    """sparse_sigmoid(x) = 0 if x <= -1, 1 if x >= 1, else (x + 1) / 2 (Keras 3.15; written with
    corenn.ops: the gradient is 1/2 inside (-1, 1), 0 outside)."""
    from . import ops
    return ops.sparse_sigmoid(x)


# activations written with corenn.ops that a layer may also name by string (activation="glu")
# (threshold too, as Keras' get('threshold') returns it: called with x alone, its missing
# threshold / default_value are a TypeError at the call, as in Keras)
_PYTHON_BY_NAME = {"glu": glu, "sparsemax": sparsemax, "sparse_sigmoid": sparse_sigmoid, "threshold": threshold}


def get(identifier) -> ActivationFunction:
    """Resolve None / a name / a config dict / a corenn.activations function / an
    ActivationFunction into an ActivationFunction."""
    if isinstance(identifier, ActivationFunction):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _PYTHON_BY_NAME:
        return PythonActivation(_PYTHON_BY_NAME[identifier.lower()])
    if isinstance(identifier, str) and _ALIASES.get(identifier.lower(), identifier.lower()) not in kernels.ACTIVATIONS:
        from . import saving   # a user function saved by name: registered or a custom object
        fn = saving.custom_class(identifier) or (saving.custom_class(identifier.split(">", 1)[1])
                                                 if ">" in identifier else None)
        if callable(fn):
            return PythonActivation(fn)
    if identifier is None or isinstance(identifier, str):
        return ActivationFunction(identifier.lower() if isinstance(identifier, str) else None)
    if isinstance(identifier, dict):
        cfg = identifier.get("config", identifier)
        if isinstance(cfg, str):   # Keras 3's {"class_name": "function", "config": name} form
            return get(cfg)
        return ActivationFunction(cfg["name"], cfg.get("alpha"))
    name = getattr(identifier, "_corenn_activation", None)
    if name is not None:
        return ActivationFunction(name)
    from . import ops
    for key, fn in _PYTHON_BY_NAME.items():   # ops.glu is activations.glu (its halved shape too)
        if identifier is getattr(ops, key, None):
            return PythonActivation(fn)
    if callable(identifier):   # written with corenn.ops: differentiated by the tape
        return PythonActivation(identifier)
    raise TypeError(f"activations.get: cannot interpret {identifier!r} as an activation")


def serialize(activation) -> str | dict:
    act = get(activation)
    if isinstance(act, PythonActivation):
        return act.name
    if act.alpha != _DEFAULT_ALPHA.get(act.name, 0.0):
        return act.get_config()
    # Keras 3.15 writes swish (and silu) as 'silu'; corenn's kernel is named swish
    return "silu" if act.name == "swish" else act.name


deserialize = get
