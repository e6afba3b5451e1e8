"""corenn.kernels: the Python face of the compiled kernels.

This is the only module that imports ``corenn._C``. Layers, losses, metrics and optimizers call
these functions and never the extension directly. Each function accepts ``corenn.Tensor`` or
NumPy arrays (wrapped without a copy when they are C-contiguous and of a supported dtype); the
C++ entry checks shapes, dtypes and devices and raises ValueError / TypeError naming the op.

Functions that produce a tensor take an optional ``out=``: layers pass preallocated buffers so a
training step allocates nothing in steady state. Without ``out`` a new Tensor is returned.
"""
from __future__ import annotations

import functools
import inspect
import re

import numpy as np

from . import _C

Tensor = _C.Tensor


class TensorShape(tuple):
    """What ``Tensor.shape`` returns: a tuple (comparisons, indexing, unpacking and NumPy take it
    as one) with TensorFlow's TensorShape methods, so ``x.shape.as_list()`` runs.
    ``TensorShape(None)`` is TensorFlow's shape of unknown rank (_UnknownRankShape)."""

    __slots__ = ()

    def __new__(cls, dims=()):
        # (Tensor.shape makes its instances in C++, without this call)
        if dims is None or isinstance(dims, _UnknownRankShape):
            return tuple.__new__(_UnknownRankShape)
        return tuple.__new__(cls, dims)

    def as_list(self):
        return list(self)

    @property
    def rank(self):
        return len(self)

    ndims = rank

    @property
    def dims(self):
        return list(self)

    def num_elements(self):
        return None if any(d is None for d in self) else int(np.prod(self, dtype=np.int64))

    def is_fully_defined(self):
        return all(d is not None for d in self)

    def is_compatible_with(self, other):
        """TensorFlow's: the same rank and every size equal or None on either side (a shape of
        unknown rank is compatible with every shape)."""
        other = TensorShape(other)
        if isinstance(other, _UnknownRankShape):
            return True
        return len(self) == len(other) and all(a is None or b is None or a == b for a, b in zip(self, other))

    def merge_with(self, other):
        """The shape both ``self`` and ``other`` describe (a None size takes the other's);
        ValueError where they are incompatible, as TensorFlow."""
        other = TensorShape(other)
        if isinstance(other, _UnknownRankShape):
            return self
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {other} are not compatible")
        return TensorShape([b if a is None else a for a, b in zip(self, other)])

    def concatenate(self, other):
        other = TensorShape(other)
        return other if isinstance(other, _UnknownRankShape) else TensorShape(tuple(self) + tuple(other))

    def __reduce__(self):   # pickles as the plain tuple it is
        return (tuple, (tuple(self),))


class _UnknownRankShape(TensorShape):
    """``TensorShape(None)``: TensorFlow's shape of unknown rank. rank, ndims and dims are None,
    as_list / len / iteration raise ValueError with TensorFlow's messages, an index gives None,
    it is false, equal only to another unknown shape, and compatible with every shape. (An empty
    tuple underneath, so it must never compare as the scalar shape (): __eq__ says so first.)"""

    __slots__ = ()

    def as_list(self):
        raise ValueError("as_list() is not defined on an unknown TensorShape.")

    @property
    def rank(self):
        return None

    ndims = rank

    @property
    def dims(self):
        return None

    def num_elements(self):
        return None

    def is_fully_defined(self):
        return False

    def is_compatible_with(self, other):
        TensorShape(other)   # (a bad shape is still refused)
        return True

    def merge_with(self, other):
        return TensorShape(other)

    def concatenate(self, other):
        TensorShape(other)
        return self

    def with_rank(self, rank):
        return TensorShape([None] * int(rank))

    def __len__(self):
        raise ValueError("Cannot take the length of shape with unknown rank.")

    def __iter__(self):
        raise ValueError("Cannot iterate over a shape with unknown rank.")

    def __getitem__(self, key):
        return self if isinstance(key, slice) else None

    def __bool__(self):
        return False

    def __eq__(self, other):
        return isinstance(other, _UnknownRankShape) or other is None

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((TensorShape, None))

    def __repr__(self):
        return "TensorShape(None)"

    def __str__(self):
        return "<unknown>"

    def __reduce__(self):
        return (TensorShape, (None,))


class DTypeName(str):
    """What ``Tensor.dtype`` returns: the dtype's name as a str (``t.dtype == "float32"`` as
    before) with TensorFlow's DType attributes, so ``t.dtype.name`` runs."""

    __slots__ = ()

    @property
    def name(self):
        return str(self)

    @property
    def is_floating(self):
        return self.startswith("float")

    @property
    def is_integer(self):
        return self.startswith(("int", "uint"))

    @property
    def as_numpy_dtype(self):
        return np.dtype(str(self)).type

    @property
    def size(self):
        return np.dtype(str(self)).itemsize

    def __reduce__(self):
        return (str, (str(self),))

    # equal to NumPy's dtype of the same name too (``t.dtype == np.float32``, as TensorFlow's
    # DType compares; tf.experimental.numpy's dtypes are NumPy's)
    def __eq__(self, other):
        if isinstance(other, np.dtype) or (isinstance(other, type) and issubclass(other, np.generic)):
            return str(self) == np.dtype(other).name
        return str.__eq__(self, other)

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = str.__hash__


if hasattr(_C, "_set_shape_class"):
    _C._set_shape_class(TensorShape)
if hasattr(_C, "_set_dtype_class"):
    _C._set_dtype_class(DTypeName)


def _scalar(t):
    a = np.asarray(t)
    if a.size != 1:
        raise TypeError(f"only a Tensor of one element converts to a Python scalar, got shape {tuple(a.shape)}")
    return a.reshape(()).item()


# Python scalars from one-element Tensors (a loss value): float(loss), loss.item(), f"{loss:.3f}".
Tensor.__float__ = lambda self: float(_scalar(self))
Tensor.__int__ = lambda self: int(_scalar(self))
Tensor.item = _scalar
# f"{t}" of a scalar Tensor is its value as NumPy prints it ('0.75', not the float64 digits), as
# TF's and torch's tensors print (f"acc: {m.result()}")
Tensor.__format__ = lambda self, spec: format(_scalar(self), spec) if spec else \
    str(np.asarray(self).reshape(())[()]) if not len(self.shape) else repr(self)

__all__ = [
    "Tensor", "as_tensor", "empty", "zeros", "empty_like",
    "get_num_threads", "set_num_threads", "gemm", "matmul",
    "activation_forward", "activation_backward", "bias_grad",
    "dropout_forward", "dropout_backward", "regularizer_penalty",
    "loss_forward", "accuracy_count",
]


# ---------------------------------------------------------------------------------------------
# Tensors and runtime

def as_tensor(x, op: str = "corenn", arg: str = "x") -> Tensor:
    """Return ``x`` as a Tensor, zero-copy for contiguous float32/int32/int64 NumPy arrays."""
    kind = type(x)   # exact types first: the per-step cases, without isinstance calls
    if kind is Tensor:
        return x
    if kind is not np.ndarray and isinstance(x, Tensor):
        return x
    if kind is not np.ndarray and not isinstance(x, np.ndarray):
        x = np.asarray(x)
        if x.dtype == np.float64:
            x = x.astype(np.float32)
    try:
        return Tensor.from_numpy(x)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{op}: argument '{arg}': {exc}") from None


def empty(shape, dtype: str = "float32", device: str = "cpu") -> Tensor:
    return Tensor.empty(list(shape), dtype, device)


def zeros(shape, dtype: str = "float32", device: str = "cpu") -> Tensor:
    return Tensor.zeros(list(shape), dtype, device)


def empty_like(t: Tensor) -> Tensor:
    return Tensor.empty(list(t.shape), t.dtype, t.device)


def get_num_threads() -> int:
    return _C.get_num_threads()


def set_num_threads(n: int) -> None:
    """Threads used by every kernel; ``n <= 0`` restores the default (all available cores)."""
    _C.set_num_threads(int(n))


def _out(out, shape, op, dtype="float32", device="cpu", check_shape=False):
    """The output Tensor: ``out`` when given, else a new one of ``shape``. The C++ entries check
    an ``out``'s shape against the other tensors; where ``shape`` is a separate argument that the
    kernel cannot see (a data gradient's input_shape), the caller passes ``check_shape=True``."""
    if out is None:
        try:
            return Tensor.empty(list(shape), dtype, device)
        except (TypeError, ValueError) as exc:  # a shape argument it cannot have: name the op
            raise type(exc)(f"{op}: output {exc}") from None
    out = out if type(out) is Tensor else as_tensor(out, op, "out")
    if check_shape and tuple(out.shape) != tuple(shape):
        raise ValueError(f"{op}: out has shape {tuple(out.shape)} but the shape argument says "
                         f"{tuple(shape)}")
    return out


# ---------------------------------------------------------------------------------------------
# GEMM

_ACTIVATIONS_FUSED_IN_GEMM = ("none", "relu")


def gemm(a, b, c=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, bias=None,
         activation="none", keep_b_packed=False):
    """C := act(alpha * op(A) @ op(B) + beta * C + bias), in place on ``c``; returns ``c``.

    op(X) is X or X.T per ``trans_a`` / ``trans_b``. A is (M, K) (or (K, M) transposed), B is
    (K, N) (or (N, K)), C is (M, N), bias is (N,) broadcast over rows. ``activation`` is one of
    'none', 'relu', applied after bias. With ``c=None`` a new C is allocated (``beta`` must be 0).
    ``keep_b_packed``: B is a weight that later calls multiply by again; the CPU kernel keeps its
    packed panels on it, keyed by its write version (``Tensor._version``), so they are reused
    while B is unchanged. The result is the same bit for bit.
    """
    a = a if type(a) is Tensor else as_tensor(a, "gemm", "a")
    b = b if type(b) is Tensor else as_tensor(b, "gemm", "b")
    if c is None:
        if beta != 0.0:
            raise ValueError("gemm: beta != 0 needs an existing c to accumulate into")
        m = a.shape[1] if trans_a and a.ndim == 2 else (a.shape[0] if a.ndim == 2 else 0)
        n = b.shape[0] if trans_b and b.ndim == 2 else (b.shape[1] if b.ndim == 2 else 0)
        c = Tensor.empty([m, n], "float32", a.device)
    else:
        c = c if type(c) is Tensor else as_tensor(c, "gemm", "c")
    if bias is not None:
        bias = bias if type(bias) is Tensor else as_tensor(bias, "gemm", "bias")
    _C.gemm(a, b, c, bool(trans_a), bool(trans_b), float(alpha), float(beta), bias,
            activation or "none", bool(keep_b_packed))
    return c


def matmul(a, b):
    """``a @ b`` for 2-D float32 operands. NumPy in -> NumPy out; Tensors in -> Tensor out."""
    numpy_in = not isinstance(a, Tensor) and not isinstance(b, Tensor)
    c = gemm(a, b)
    return c.numpy() if numpy_in else c


# ---------------------------------------------------------------------------------------------
# Elementwise: activations, bias gradient, dropout, regularizers

ACTIVATIONS = ("linear", "relu", "leaky_relu", "elu", "selu", "sigmoid", "tanh", "gelu", "swish",
               "softplus", "softmax", "log_softmax", "relu6", "hard_sigmoid", "hard_silu", "mish",
               "softsign", "log_sigmoid", "hard_tanh", "celu", "exponential", "tanh_shrink",
               "soft_shrink", "hard_shrink", "squareplus", "sparse_plus")


# ---- int8 (Keras 3's post-training int8 quantization; csrc/ops/int8_gemm.h)

__all__ += ["int8_gemm", "quantized_matmul"]

def _int8_operand(x, op, arg):
    """An integer array / Tensor whose values fit int8, as a Tensor the C++ entry takes: an int8
    Tensor (read as it is), an int32 one (checked there), an integer array as int8."""
    if isinstance(x, Tensor):
        if x.dtype not in ("int8", "int32"):
            raise TypeError(f"{op}: {arg} must hold int8 values (an int8 array, an int8 or int32 Tensor), "
                            f"got a {x.dtype} Tensor")
        return x
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: {arg} must be an int8 array, got dtype {a.dtype}")
    if a.size and (a.min() < -128 or a.max() > 127):
        raise ValueError(f"{op}: {arg} holds values outside int8's -128..127 "
                         f"(min {a.min()}, max {a.max()})")
    return as_tensor(np.ascontiguousarray(a, dtype=np.int8), op, arg)


def int8_values(values, what):
    """``values`` as an int8 array (an int8 weight's, quantized_matmul's NumPy kernel): an int8
    array as it is; any other integer or float array whose values are whole numbers in -128..127
    (a float array of the integers, an older file's) converted exactly; anything else a
    ValueError naming ``what`` and the first bad value (Keras' int8 variables would wrap or
    truncate it silently)."""
    a = np.asarray(values)
    if a.dtype == np.int8:
        return a
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected int8 values, got an array of dtype {a.dtype}")
    with np.errstate(invalid="ignore"):
        bad = ~((a >= -128) & (a <= 127) & (a == np.round(a))) if a.dtype.kind == "f" else \
            (a < -128) | (a > 127)
    if np.any(bad):
        i = int(np.flatnonzero(bad.reshape(-1))[0])
        raise ValueError(f"{what}: expected int8 values (whole numbers in -128..127), got "
                         f"{a.reshape(-1)[i].item()!r} at flat index {i}")
    return a.astype(np.int8)


def int8_gemm(a, b, out=None):
    """C = A @ B exactly in int32: A (M, K) and B (K, N) int8 arrays or Tensors (or int32 Tensors of
    int8 values), C (M, N) int32 (``out`` when given). Every ISA's kernel gives the same integers."""
    op = "int8_gemm"
    a, b = _int8_operand(a, op, "a"), _int8_operand(b, op, "b")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"{op}: a and b must be matrices, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    c = _out(out, (a.shape[0], b.shape[1]), op, dtype="int32", device=a.device)
    _C.int8_gemm(a, b, c)
    return c


def quantized_matmul(x, kernel, kernel_scale, bias=None, out=None, keep=False, relu=False):
    """Keras 3's int8 Dense product: y = (q(x) @ kernel) / (s_x * kernel_scale) + bias, with x
    (M, K) float32 quantized per row (s_x = 127 / (max|x| + 1e-7), q = clip(round(x s_x), -127,
    127)), ``kernel`` (K, N) the int8 kernel: an int8 Tensor (read as it is; another dtype is a
    TypeError), or a NumPy array of int8 values (int8_values: converted), ``kernel_scale`` (N,),
    ``bias`` (N,) or None; y (M, N) float32. ``keep``: the kernel is a weight that later calls
    read again (a layer's); its packed form is kept on it while its write version stands
    (cpu/int8_kept_kernel.cpp), which gives the same bits faster. ``relu``: y = relu(y) in the
    same pass (the bits of ``activation_forward("relu", y)`` after it)."""
    op = "quantized_matmul"
    for name, flag in (("keep", keep), ("relu", relu)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{op}: {name} must be True or False, got {flag!r}")
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    if not isinstance(kernel, Tensor):
        kernel = as_tensor(np.ascontiguousarray(int8_values(kernel, f"{op}: kernel")), op, "kernel")
    kernel_scale = kernel_scale if type(kernel_scale) is Tensor else as_tensor(kernel_scale, op, "kernel_scale")
    if bias is not None:
        bias = bias if type(bias) is Tensor else as_tensor(bias, op, "bias")
    if x.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"{op}: x and kernel must be matrices, got shapes {tuple(x.shape)} and "
                         f"{tuple(kernel.shape)}")
    y = _out(out, (x.shape[0], kernel.shape[1]), op, device=x.device)
    _C.quantized_matmul(x, kernel, kernel_scale, bias, y, bool(keep), bool(relu))
    return y


def _known_kind(kind, kinds, op, what):
    """``kind`` when it is one of ``kinds``; the kind names the op in later messages, so an
    unknown one is refused first."""
    if not isinstance(kind, str) or kind not in kinds:
        raise ValueError(f"{op}: unknown {what} {str(kind)[:60]!r}; expected one of {', '.join(kinds)}")
    return kind


def activation_forward(kind: str, x, out=None, *, alpha: float = 0.0):
    """y = f(x) elementwise (softmax / log_softmax: over the last axis).

    ``alpha`` is the negative slope of leaky_relu and the scale of elu; ignored elsewhere.
    gelu is the exact erf form (Keras' default, approximate=False); swish is x * sigmoid(x).
    """
    kind = _known_kind(kind, ACTIVATIONS, "activation_forward", "activation")
    x = x if type(x) is Tensor else as_tensor(x, kind, "x")
    y = out if type(out) is Tensor else _out(out, x.shape, kind, device=x.device)
    _C.activation_forward(kind, x, y, float(alpha))
    return y


def activation_backward(kind: str, x, y, dy, out=None, *, alpha: float = 0.0):
    """dx = dy * f'(x), given the forward input ``x`` and output ``y`` (kernels use whichever is
    cheaper; softmax/log_softmax use y and the Jacobian-vector product over the last axis)."""
    kind = _known_kind(kind, ACTIVATIONS, "activation_backward", "activation")
    x = x if type(x) is Tensor else as_tensor(x, kind, "x")
    y = y if type(y) is Tensor else as_tensor(y, kind, "y")
    dy = dy if type(dy) is Tensor else as_tensor(dy, kind, "dy")
    dx = out if type(out) is Tensor else _out(out, dy.shape, kind, device=dy.device)
    _C.activation_backward(kind, x, y, dy, dx, float(alpha))
    return dx


def bias_grad(dy, out=None):
    """db[j] = sum over all leading axes of dy[..., j]; dy is (..., C), db is (C,)."""
    dy = dy if type(dy) is Tensor else as_tensor(dy, "bias_grad", "dy")
    db = out if type(out) is Tensor else _out(out, dy.shape[-1:], "bias_grad", device=dy.device)
    _C.bias_grad(dy, db)
    return db


def dropout_forward(x, rate: float, seed: int, out=None, mask=None):
    """Inverted dropout: mask[i] = (u(seed, i) >= rate) / (1 - rate), y = x * mask.

    Returns (y, mask). The mask depends only on (seed, i), never on the thread count.
    """
    x = x if type(x) is Tensor else as_tensor(x, "dropout_forward", "x")
    y = out if type(out) is Tensor else _out(out, x.shape, "dropout_forward", device=x.device)
    mask = mask if type(mask) is Tensor else _out(mask, x.shape, "dropout_forward", device=x.device)
    _C.dropout_forward(x, y, mask, float(rate), int(seed) & 0xFFFFFFFFFFFFFFFF)
    return y, mask


def dropout_backward(dy, mask, out=None):
    dy = dy if type(dy) is Tensor else as_tensor(dy, "dropout_backward", "dy")
    mask = mask if type(mask) is Tensor else as_tensor(mask, "dropout_backward", "mask")
    dx = out if type(out) is Tensor else _out(out, dy.shape, "dropout_backward", device=dy.device)
    _C.dropout_backward(dy, mask, dx)
    return dx


def regularizer_penalty(w, grad=None, *, l1: float = 0.0, l2: float = 0.0) -> float:
    """Return l1 * sum|w| + l2 * sum w^2; when ``grad`` is given also add
    l1 * sign(w) + 2 * l2 * w into it (in place)."""
    w = w if type(w) is Tensor else as_tensor(w, "regularizer", "w")
    if grad is not None:
        grad = grad if type(grad) is Tensor else as_tensor(grad, "regularizer", "grad")
    return _C.regularizer_penalty(w, grad, float(l1), float(l2))


# ---------------------------------------------------------------------------------------------
# Losses and metrics

LOSSES = ("mean_squared_error", "mean_absolute_error", "huber", "binary_crossentropy",
          "categorical_crossentropy", "sparse_categorical_crossentropy",
          "kl_divergence", "cosine_similarity", "hinge", "squared_hinge", "categorical_hinge",
          "log_cosh", "poisson", "mean_squared_logarithmic_error", "mean_absolute_percentage_error",
          "binary_focal_crossentropy", "categorical_focal_crossentropy")


def _float_targets(y):
    """Dense targets and weights as float32: Keras accepts int/bool/float64 arrays there (one copy)."""
    if isinstance(y, Tensor):
        return y
    y = np.asarray(y)
    if y.dtype != np.float32 and (y.dtype.kind in "biuf"):
        y = np.ascontiguousarray(y, dtype=np.float32)
    return y


def loss_forward(kind: str, y_pred, y_true, grad=None, *, from_logits: bool = False,
                 delta: float = 1.0, sample_weight=None, per_sample=None, focal_alpha: float = 0.25,
                 focal_gamma: float = 2.0, class_balancing: bool = False) -> float:
    """Mean-reduced loss over the batch, as Keras computes it; optionally its gradient.

    ``y_pred`` is (N, ...) float32; ``y_true`` has the same shape, except for
    sparse_categorical_crossentropy where it is (N,) or (N, 1) int32/int64 class indices.
    Per-sample losses average over the last axis (mse, mae, huber, bce) or sum over classes
    (categorical CE); the result is sum_i w_i * loss_i / N (w_i = 1 without ``sample_weight``).
    Dense targets (every loss but the sparse one) and ``sample_weight`` given as int, bool or
    float64 arrays are converted to float32; a target of shape (N,) for y_pred (N, 1) is accepted
    (Keras squeezes the trailing 1).
    When ``grad`` is given it receives d(result)/d(y_pred) in the same pass (fused softmax + CE
    when ``from_logits``). Probabilities are clipped to [1e-7, 1 - 1e-7] as in Keras.
    ``per_sample`` (a float32 Tensor of prod(y_pred.shape[:-1]) values, CPU) receives the
    unweighted per-row losses loss_i (the formulas are in csrc/cpu/loss.cpp).
    ``focal_alpha``, ``focal_gamma``, ``class_balancing``: the focal losses' options (Keras' alpha,
    gamma and apply_class_balancing).
    """
    if type(kind) is not str or kind not in LOSSES:
        _known_kind(kind, LOSSES, "loss_forward", "loss")   # raises, naming the op
    y_pred = y_pred if type(y_pred) is Tensor else as_tensor(y_pred, kind, "y_pred")
    if kind != "sparse_categorical_crossentropy":
        y_true = _float_targets(y_true)
    y_true = y_true if type(y_true) is Tensor else as_tensor(y_true, kind, "y_true")
    if grad is not None:
        grad = grad if type(grad) is Tensor else as_tensor(grad, kind, "grad")
    if sample_weight is not None:
        sample_weight = as_tensor(_float_targets(sample_weight), kind, "sample_weight")
    if per_sample is not None:
        per_sample = per_sample if type(per_sample) is Tensor else as_tensor(per_sample, kind, "per_sample")
    return _C.loss_forward(kind, y_pred, y_true, grad, bool(from_logits), float(delta),
                           sample_weight, per_sample, float(focal_alpha), float(focal_gamma),
                           bool(class_balancing))


def accuracy_count(kind: str, y_pred, y_true, threshold: float = 0.5, k: int = 5,
                   per_row=None) -> int:
    """Number of correct predictions in the batch.

    y_pred (N, ..., C) is seen as rows of C scores.
    kind 'sparse_categorical': argmax(y_pred, -1) == y_true (int labels of y_pred's shape without
    its last axis, optionally with a trailing 1);
    'categorical': argmax(y_pred, -1) == argmax(y_true, -1);
    'binary': (y_pred > threshold) == (y_true > 0.5), counted per element;
    'top_k' / 'sparse_top_k': the label (argmax(y_true) / the index) is among the k highest
    scores (ties at the k-th score count, as Keras' in_top_k).
    ``per_row`` (float32 Tensor with one value per row) receives each row's hit (binary: its
    fraction of matching elements).
    """
    y_pred = y_pred if type(y_pred) is Tensor else as_tensor(y_pred, "accuracy", "y_pred")
    if kind not in ("sparse_categorical", "sparse_top_k"):
        y_true = _float_targets(y_true)
    y_true = y_true if type(y_true) is Tensor else as_tensor(y_true, "accuracy", "y_true")
    if per_row is not None:
        per_row = per_row if type(per_row) is Tensor else as_tensor(per_row, "accuracy", "per_row")
    return _C.accuracy_count(kind, y_pred, y_true, float(threshold), int(k), per_row)


# ---------------------------------------------------------------------------------------------
# Optimizers (fused single-pass updates over all parameters)
#
# Wrappers for _C.<optimizer>_update live below; see corenn/optimizers/.

__all__ += ["sgd_update", "adam_update", "rmsprop_update", "adagrad_update", "adamax_update",
            "nadam_update", "lion_update", "adadelta_update", "ftrl_update", "lamb_update",
            "adafactor_update"]


def _tensors(xs, op: str, arg: str) -> list:
    xs = xs if type(xs) is list else list(xs)
    for x in xs:
        if type(x) is not Tensor:
            return [as_tensor(x, op, f"{arg}[{i}]") for i, x in enumerate(xs)]
    return xs   # the per-step path: nothing to convert


def _clip_args(weight_decay, clipnorm, clipvalue, global_clipnorm):
    return dict(weight_decay=float(weight_decay or 0.0), clipnorm=float(clipnorm or 0.0),
                clipvalue=float(clipvalue or 0.0), global_clipnorm=float(global_clipnorm or 0.0))


def sgd_update(params, grads, momentums=(), *, lr, momentum=0.0, nesterov=False,
               weight_decay=0.0, clipnorm=0.0, clipvalue=0.0, global_clipnorm=0.0) -> None:
    """One SGD step over all ``params`` in place (and ``momentums`` when momentum > 0).

    After clipping and decoupled weight decay (see ``adam_update``): momentum 0: p -= lr g;
    else m = momentum m - lr g and p += m (nesterov: p += momentum m - lr g).
    """
    op = "sgd_update"
    _C.sgd_update(_tensors(params, op, "params"), _tensors(grads, op, "grads"),
                  _tensors(momentums, op, "momentums"), float(lr), float(momentum),
                  bool(nesterov), **_clip_args(weight_decay, clipnorm, clipvalue, global_clipnorm))


def adam_update(params, grads, m, v, vhat=(), *, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                step=0, amsgrad=False, weight_decay=0.0, clipnorm=0.0, clipvalue=0.0,
                global_clipnorm=0.0) -> None:
    """One Adam (AdamW with ``weight_decay``) step over all ``params`` in place, one fused call.

    Per element, Keras 3 order: g = clip(g, -clipvalue, clipvalue); g *= clipnorm /
    max(||g_i||, clipnorm) per tensor (global_clipnorm: the norm of all grads together);
    p -= p * weight_decay * lr; then with t = step + 1: m += (g - m)(1 - beta_1),
    v += (g^2 - v)(1 - beta_2), (amsgrad: vhat = max(vhat, v), used for v),
    p -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon).
    ``step`` is the number of steps taken before this one. Options are 0 / False when off.
    """
    op = "adam_update"
    _C.adam_update(_tensors(params, op, "params"), _tensors(grads, op, "grads"),
                   _tensors(m, op, "m"), _tensors(v, op, "v"), _tensors(vhat, op, "vhat"),
                   float(lr), float(beta_1), float(beta_2), float(epsilon), int(step),
                   bool(amsgrad), **_clip_args(weight_decay, clipnorm, clipvalue, global_clipnorm))


def rmsprop_update(params, grads, velocities, momentums=(), average_grads=(), *, lr, rho=0.9,
                   momentum=0.0, epsilon=1e-7, centered=False, weight_decay=0.0, clipnorm=0.0,
                   clipvalue=0.0, global_clipnorm=0.0) -> None:
    """One RMSprop step over all ``params`` in place.

    After clipping and weight decay: v = rho v + (1 - rho) g^2; centered: a = rho a + (1 - rho) g
    and v - a^2 replaces v below; inc = lr g / sqrt(v + epsilon); momentum > 0:
    m = momentum m + inc, p -= m; else p -= inc. ``momentums`` is empty unless momentum > 0,
    ``average_grads`` empty unless centered.
    """
    op = "rmsprop_update"
    _C.rmsprop_update(_tensors(params, op, "params"), _tensors(grads, op, "grads"),
                      _tensors(velocities, op, "velocities"), _tensors(momentums, op, "momentums"),
                      _tensors(average_grads, op, "average_grads"), float(lr), float(rho),
                      float(momentum), float(epsilon), bool(centered),
                      **_clip_args(weight_decay, clipnorm, clipvalue, global_clipnorm))


def adagrad_update(params, grads, accumulators, *, lr, epsilon=1e-7, weight_decay=0.0,
                   clipnorm=0.0, clipvalue=0.0, global_clipnorm=0.0) -> None:
    """One Adagrad step over all ``params`` in place: acc += g^2; p -= lr g / sqrt(acc + eps)
    (after clipping and weight decay)."""
    op = "adagrad_update"
    _C.adagrad_update(_tensors(params, op, "params"), _tensors(grads, op, "grads"),
                      _tensors(accumulators, op, "accumulators"), float(lr), float(epsilon),
                      **_clip_args(weight_decay, clipnorm, clipvalue, global_clipnorm))


def adamax_update(params, grads, m, u, *, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, step=0,
                  weight_decay=0.0, clipnorm=0.0, clipvalue=0.0, global_clipnorm=0.0) -> None:
    """One Adamax step over all ``params`` in place (after clipping and weight decay), with
    t = step + 1: m += (g - m)(1 - beta_1); u = max(beta_2 u, |g|);
    p -= lr / (1 - beta_1^t) * m / (u + epsilon)."""
    op = "adamax_update"
    _C.adamax_update(_tensors(params, op, "params"), _tensors(grads, op, "grads"), _tensors(m, op, "m"),
                     _tensors(u, op, "u"), float(lr), float(beta_1), float(beta_2), float(epsilon), int(step),
                     **_clip_args(weight_decay, clipnorm, clipvalue, global_clipnorm))


def nadam_update(params, grads, m, v, *, lr, beta_1, beta_2, epsilon, coef_m, coef_g, coef_v,
                 weight_decay=0.0, clipnorm=0.0, clipvalue=0.0, global_clipnorm=0.0) -> None:
    """One Nadam step over all ``params`` in place: m += (g - m)(1 - beta_1),
    v += (g^2 - v)(1 - beta_2), p -= lr (coef_m m + coef_g g) / (sqrt(coef_v v) + epsilon); the
    step's coefficients come from ``optimizers.Nadam`` (its momentum schedule)."""
    op = "nadam_update"
    _C.nadam_update(_tensors(params, op, "params"), _tensors(grads, op, "grads"), _tensors(m, op, "m"),
                    _tensors(v, op, "v"), float(lr), float(beta_1), float(beta_2), float(epsilon),
                    float(coef_m), float(coef_g), float(coef_v),
                    **_clip_args(weight_decay, clipnorm, clipvalue, global_clipnorm))


def lion_update(params, grads, m, *, lr, beta_1=0.9, beta_2=0.99, weight_decay=0.0, clipnorm=0.0,
                clipvalue=0.0, global_clipnorm=0.0) -> None:
    """One Lion step over all ``params`` in place: p -= lr sign(beta_1 m + (1 - beta_1) g);
    m = beta_2 m + (1 - beta_2) g."""
    op = "lion_update"
    _C.lion_update(_tensors(params, op, "params"), _tensors(grads, op, "grads"), _tensors(m, op, "m"),
                   float(lr), float(beta_1), float(beta_2),
                   **_clip_args(weight_decay, clipnorm, clipvalue, global_clipnorm))


def adadelta_update(params, grads, acc_grad, acc_delta, *, lr, rho=0.95, epsilon=1e-7, weight_decay=0.0,
                    clipnorm=0.0, clipvalue=0.0, global_clipnorm=0.0) -> None:
    """One Adadelta step over all ``params`` in place: a_g = rho a_g + (1 - rho) g^2;
    d = g sqrt(a_d + eps) / sqrt(a_g + eps); a_d = rho a_d + (1 - rho) d^2; p -= lr d."""
    op = "adadelta_update"
    _C.adadelta_update(_tensors(params, op, "params"), _tensors(grads, op, "grads"),
                       _tensors(acc_grad, op, "acc_grad"), _tensors(acc_delta, op, "acc_delta"), float(lr),
                       float(rho), float(epsilon), **_clip_args(weight_decay, clipnorm, clipvalue, global_clipnorm))



def ftrl_update(params, grads, accumulators, linears, *, lr, learning_rate_power=-0.5, l1=0.0, l2=0.0,
                l2_shrinkage=0.0, beta=0.0, weight_decay=0.0, clipnorm=0.0, clipvalue=0.0,
                global_clipnorm=0.0) -> None:
    """One Ftrl step over all ``params`` in place (after clipping and weight decay), with
    n = acc + g^2 and P(x) = x^(-learning_rate_power):
    linear += g + 2 l2_shrinkage p - (P(n) - P(acc)) / lr * p;
    p = (clip(linear, -l1, l1) - linear) / (P(n) / lr + 2 (l2 + beta / (2 lr))); acc = n."""
    op = "ftrl_update"
    _C.ftrl_update(_tensors(params, op, "params"), _tensors(grads, op, "grads"),
                   _tensors(accumulators, op, "accumulators"), _tensors(linears, op, "linears"),
                   float(lr), float(learning_rate_power), float(l1), float(l2), float(l2_shrinkage),
                   float(beta), **_clip_args(weight_decay, clipnorm, clipvalue, global_clipnorm))


def lamb_update(params, grads, m, v, *, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, step=0,
                weight_decay=0.0, clipnorm=0.0, clipvalue=0.0, global_clipnorm=0.0) -> None:
    """One Lamb step over all ``params`` in place (after clipping and weight decay), with
    t = step + 1: m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2);
    u = m / (1 - beta_1^t) / (sqrt(v / (1 - beta_2^t)) + epsilon); per tensor
    ratio = ||p|| / ||u|| (1 when either is 0); p -= ratio lr u."""
    op = "lamb_update"
    _C.lamb_update(_tensors(params, op, "params"), _tensors(grads, op, "grads"), _tensors(m, op, "m"),
                   _tensors(v, op, "v"), float(lr), float(beta_1), float(beta_2), float(epsilon), int(step),
                   **_clip_args(weight_decay, clipnorm, clipvalue, global_clipnorm))


def adafactor_update(params, grads, rows, cols, velocities, *, lr, beta_2_decay=-0.8, epsilon_1=1e-30,
                     epsilon_2=1e-3, clip_threshold=1.0, step=0, weight_decay=0.0, clipnorm=0.0,
                     clipvalue=0.0, global_clipnorm=0.0) -> None:
    """One Adafactor step over all ``params`` in place (after clipping and weight decay), with
    t = step + 1, b = 1 - t^beta_2_decay, q = g^2 + epsilon_1: a tensor of rank >= 2 keeps its
    second moments factored over its last two axes (..., R, C): ``rows[i]`` (shape[:-1]) =
    b rows + (1 - b) mean_C(q), ``cols[i]`` (shape[:-2] + shape[-1:]) = b cols + (1 - b) mean_R(q),
    v = rows / mean_R(rows) * cols, and ``velocities[i]`` is empty (shape (0,)); any other tensor
    has v = ``velocities[i]`` = b v + (1 - b) q and empty rows[i], cols[i]. Then u = g / sqrt(v),
    p -= max(epsilon_2, rms(p)) min(lr, 1 / sqrt(t)) u / max(1, rms(u) / clip_threshold)."""
    op = "adafactor_update"
    _C.adafactor_update(_tensors(params, op, "params"), _tensors(grads, op, "grads"),
                        _tensors(rows, op, "rows"), _tensors(cols, op, "cols"),
                        _tensors(velocities, op, "velocities"), float(lr), float(beta_2_decay),
                        float(epsilon_1), float(epsilon_2), float(clip_threshold), int(step),
                        **_clip_args(weight_decay, clipnorm, clipvalue, global_clipnorm))

# ---------------------------------------------------------------------------------------------
# Normalization: batch normalization over the last axis, spatial dropout

__all__ += ["batch_norm_forward_train", "batch_norm_forward_infer", "batch_norm_backward",
            "spatial_dropout_forward", "spatial_dropout_backward"]


def _opt(t, op, arg):
    return None if t is None else as_tensor(t, op, arg)


def batch_norm_forward_train(x, gamma, beta, *, moving_mean=None, moving_variance=None,
                             momentum: float = 0.99, epsilon: float = 1e-3, out=None, mean=None,
                             inv_std=None):
    """Training-mode batch normalization over the last axis of ``x`` (..., C).

    mean_c, var_c: batch mean and biased variance per channel (x viewed as (rows, C));
    inv_std = 1 / sqrt(var + epsilon); y = gamma * (x - mean) * inv_std + beta. ``gamma`` / ``beta``
    may be None (1 / 0). When ``moving_mean`` / ``moving_variance`` are given they are updated in
    place as Keras 3 does: moving = moving * momentum + batch * (1 - momentum).
    Returns (y, mean, inv_std); backward needs the last two.
    """
    op = "batch_norm_forward_train"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    c = x.shape[-1:] if x.ndim else [0]
    y = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    mean = mean if type(mean) is Tensor else _out(mean, c, op, device=x.device)
    inv_std = inv_std if type(inv_std) is Tensor else _out(inv_std, c, op, device=x.device)
    _C.batch_norm_forward_train(x, _opt(gamma, op, "gamma"), _opt(beta, op, "beta"), y, mean, inv_std,
                                _opt(moving_mean, op, "moving_mean"),
                                _opt(moving_variance, op, "moving_variance"), float(momentum),
                                float(epsilon))
    return y, mean, inv_std


def batch_norm_forward_infer(x, gamma, beta, moving_mean, moving_variance, *, epsilon: float = 1e-3,
                             out=None):
    """Inference-mode batch normalization: y = gamma * (x - moving_mean) /
    sqrt(moving_variance + epsilon) + beta over the last axis (gamma / beta may be None)."""
    op = "batch_norm_forward_infer"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    y = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    _C.batch_norm_forward_infer(x, _opt(gamma, op, "gamma"), _opt(beta, op, "beta"),
                                as_tensor(moving_mean, op, "moving_mean"),
                                as_tensor(moving_variance, op, "moving_variance"), y, float(epsilon))
    return y


def batch_norm_backward(dy, x, gamma, mean, inv_std, *, dx=None, dgamma=None, dbeta=None,
                        training: bool = True, need_dx: bool = True):
    """Gradients of batch normalization given the forward's ``mean`` and ``inv_std``.

    With xhat = (x - mean) * inv_std: dbeta = sum_rows dy, dgamma = sum_rows dy * xhat;
    training: dx = gamma * inv_std * (dy - dbeta / N - xhat * dgamma / N) (N = rows);
    inference (constant statistics): dx = gamma * inv_std * dy.
    ``dgamma`` / ``dbeta`` are computed only when given (their Tensors are written in place);
    dx is allocated when not given, unless ``need_dx`` is False. Returns dx (or None).
    """
    op = "batch_norm_backward"
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    if need_dx:
        dx = dx if type(dx) is Tensor else _out(dx, dy.shape, op, device=dy.device)
    else:
        dx = None
    _C.batch_norm_backward(dy, x, _opt(gamma, op, "gamma"), as_tensor(mean, op, "mean"),
                           as_tensor(inv_std, op, "inv_std"), dx, _opt(dgamma, op, "dgamma"),
                           _opt(dbeta, op, "dbeta"), bool(training))
    return dx


def batch_norm_add_relu_forward(x, gamma, beta, r, *, moving_mean=None, moving_variance=None,
                                momentum: float = 0.99, epsilon: float = 1e-3, out=None, mean=None,
                                inv_std=None, pooled=None):
    """A residual block's tail in one op: y = relu(batch_norm(x) + r), training-mode statistics
    and moving updates as ``batch_norm_forward_train`` (r: the skip branch, x's shape).
    ``pooled`` (N, C), for x (N, ..., C): also y's per-image mean (a GlobalAveragePooling2D after
    the block), in the same pass. Returns (y, mean, inv_std)."""
    op = "batch_norm_add_relu_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    r = r if type(r) is Tensor else as_tensor(r, op, "r")
    c = x.shape[-1:] if x.ndim else [0]
    y = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    mean = mean if type(mean) is Tensor else _out(mean, c, op, device=x.device)
    inv_std = inv_std if type(inv_std) is Tensor else _out(inv_std, c, op, device=x.device)
    _C.batch_norm_add_relu_forward(x, _opt(gamma, op, "gamma"), _opt(beta, op, "beta"), r, y, mean,
                                   inv_std, _opt(moving_mean, op, "moving_mean"),
                                   _opt(moving_variance, op, "moving_variance"), float(momentum),
                                   float(epsilon), _opt(pooled, op, "pooled"))
    return y, mean, inv_std


def batch_norm_add_relu_backward(dy, x, y, gamma, mean, inv_std, *, dr=None, dx=None, dgamma=None,
                                 dbeta=None, dy2=None):
    """Backward of ``batch_norm_add_relu_forward``: dr = dy * relu'(y) (the residual's gradient),
    then dx (when ``dx`` is given), dgamma, dbeta (when given) of the batch normalization from dr.
    ``dy`` of shape (N, C) for x (N, ..., C) is the gradient of the forward's ``pooled`` (y's
    gradient is then its broadcast divided by the pixels per image). ``dy2`` (y's shape): a second
    part of y's gradient, dr = (dy + dy2) * relu'(y) in the same pass. Returns (dr, dx)."""
    op = "batch_norm_add_relu_backward"
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    if dy2 is not None:
        dy2 = dy2 if type(dy2) is Tensor else as_tensor(dy2, op, "dy2")
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    y = y if type(y) is Tensor else as_tensor(y, op, "y")
    dr = dr if type(dr) is Tensor else _out(dr, x.shape, op, device=x.device)
    _C.batch_norm_add_relu_backward(dy, x, y, _opt(gamma, op, "gamma"), as_tensor(mean, op, "mean"),
                                    as_tensor(inv_std, op, "inv_std"), dr,
                                    None if dx is None else _out(dx, x.shape, op, device=x.device),
                                    _opt(dgamma, op, "dgamma"), _opt(dbeta, op, "dbeta"), dy2)
    return dr, dx


def spatial_dropout_forward(x, rate: float, seed: int, out=None, mask=None):
    """Channel dropout: mask[n, c] = (u(seed, n*C + c) >= rate) / (1 - rate) (as dropout_forward
    on an (N, C) array), y[n, ..., c] = x[n, ..., c] * mask[n, c]. Returns (y, mask)."""
    op = "spatial_dropout_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    y = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    mshape = [x.shape[0], x.shape[-1]] if x.ndim >= 2 else [0, 0]
    mask = mask if type(mask) is Tensor else _out(mask, mshape, op, device=x.device)
    _C.spatial_dropout_forward(x, y, mask, float(rate), int(seed) & 0xFFFFFFFFFFFFFFFF)
    return y, mask


def spatial_dropout_backward(dy, mask, out=None):
    """dx[n, ..., c] = dy[n, ..., c] * mask[n, c] with the forward's mask."""
    op = "spatial_dropout_backward"
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    mask = mask if type(mask) is Tensor else as_tensor(mask, op, "mask")
    dx = out if type(out) is Tensor else _out(out, dy.shape, op, device=dy.device)
    _C.spatial_dropout_backward(dy, mask, dx)
    return dx



__all__ += ["layer_norm_forward", "layer_norm_backward"]


def _norm_ndim(norm_ndim, op):
    if isinstance(norm_ndim, bool) or not isinstance(norm_ndim, (int, np.integer)):
        raise TypeError(f"{op}: norm_ndim must be an int, got {norm_ndim!r}")
    return int(norm_ndim)


def _leading_rows(x, norm_ndim):
    """Rows of ``x`` when its last ``norm_ndim`` axes are normalised together (the entry checks
    norm_ndim; an impossible one gives a shape the entry then names)."""
    if not 1 <= norm_ndim <= x.ndim:
        return [0]
    return [int(np.prod(x.shape[:x.ndim - norm_ndim], dtype=np.int64))]


def layer_norm_forward(x, gamma=None, beta=None, *, norm_ndim: int = 1, epsilon: float = 1e-3,
                       out=None, mean=None, inv_std=None):
    """Layer normalization over the last ``norm_ndim`` axes of ``x`` (each row of x viewed as
    (R, D) with D their product): mean_r, var_r (biased) per row, inv_std = 1 / sqrt(var + eps),
    y = gamma * (x - mean) * inv_std + beta. ``gamma`` / ``beta`` have the trailing shape and may
    be None (1 / 0). Returns (y, mean, inv_std), mean and inv_std of shape (R,)."""
    op = "layer_norm_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    k = _norm_ndim(norm_ndim, op)
    rows = _leading_rows(x, k)
    y = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    mean = mean if type(mean) is Tensor else _out(mean, rows, op, device=x.device)
    inv_std = inv_std if type(inv_std) is Tensor else _out(inv_std, rows, op, device=x.device)
    _C.layer_norm_forward(x, _opt(gamma, op, "gamma"), _opt(beta, op, "beta"), y, mean, inv_std,
                          k, float(epsilon))
    return y, mean, inv_std


def layer_norm_backward(dy, x, gamma, mean, inv_std, *, norm_ndim: int = 1, dx=None, dgamma=None,
                        dbeta=None, need_dx: bool = True):
    """Gradients of layer normalization given the forward's per-row ``mean`` and ``inv_std``.

    With xhat = (x - mean) * inv_std and g = dy * gamma, per row of D features:
    dx = inv_std * (g - sum g / D - xhat * sum(g * xhat) / D); over rows: dgamma = sum dy * xhat,
    dbeta = sum dy. ``dgamma`` / ``dbeta`` are written only when given; dx is allocated when not
    given, unless ``need_dx`` is False. Returns dx (or None).
    """
    op = "layer_norm_backward"
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    dx = _out(dx, dy.shape, op, device=dy.device) if need_dx else None
    _C.layer_norm_backward(dy, x, _opt(gamma, op, "gamma"), as_tensor(mean, op, "mean"),
                           as_tensor(inv_std, op, "inv_std"), dx, _opt(dgamma, op, "dgamma"),
                           _opt(dbeta, op, "dbeta"), _norm_ndim(norm_ndim, op))
    return dx


__all__ += ["rms_norm_forward", "rms_norm_backward"]


def rms_norm_forward(x, gamma=None, *, norm_ndim: int = 1, epsilon: float = 1e-3, out=None, inv_rms=None):
    """RMS normalization over the last ``norm_ndim`` axes of ``x`` (rows of D values):
    inv_rms = 1 / sqrt(sum x^2 / D + eps) per row, y = gamma * x * inv_rms (no centring, no shift;
    Keras 3's LayerNormalization(rms_scaling=True)). ``gamma`` has the trailing shape or is None
    (1). Returns (y, inv_rms), inv_rms of shape (R,)."""
    op = "rms_norm_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    k = _norm_ndim(norm_ndim, op)
    y = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    inv_rms = inv_rms if type(inv_rms) is Tensor else _out(inv_rms, _leading_rows(x, k), op, device=x.device)
    _C.rms_norm_forward(x, _opt(gamma, op, "gamma"), y, inv_rms, k, float(epsilon))
    return y, inv_rms


def rms_norm_backward(dy, x, gamma, inv_rms, *, norm_ndim: int = 1, dx=None, dgamma=None,
                      need_dx: bool = True):
    """Gradients of RMS normalization given the forward's per-row ``inv_rms``: with
    xhat = x * inv_rms and g = dy * gamma, dx = inv_rms * (g - xhat * sum(g * xhat) / D) per row,
    dgamma = sum over rows of dy * xhat (written only when given). dx is allocated when not
    given, unless ``need_dx`` is False. Returns dx (or None)."""
    op = "rms_norm_backward"
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    dx = _out(dx, dy.shape, op, device=dy.device) if need_dx else None
    _C.rms_norm_backward(dy, x, _opt(gamma, op, "gamma"), as_tensor(inv_rms, op, "inv_rms"), dx,
                         _opt(dgamma, op, "dgamma"), _norm_ndim(norm_ndim, op))
    return dx

# ---------------------------------------------------------------------------------------------
# Convolution (NHWC images, kernels (KH, KW, Cin, Cout) as Keras)

__all__ += ["conv2d", "conv2d_algorithms", "conv2d_backward_data", "conv2d_backward_weights", "conv2d_output_shape",
            "conv2d_relu_max_pool2d", "conv2d_relu_max_pool2d_backward_weights",
            "conv_output_length"]

def _pair(value, what, op="conv2d"):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                  and v > 0 for v in value):
        raise ValueError(f"{op}: {what} must be a positive int or a pair of them, got {value!r}")
    return int(value[0]), int(value[1])


def conv_output_length(size, kernel, stride, padding, dilation, op="conv2d"):
    """(output length, padding before) along one axis; TensorFlow's 'valid' / 'same' rules, and
    Keras' 'causal' (Conv1D only: (K - 1) * dilation before, nothing after)."""
    for name, value in (("kernel", kernel), ("stride", stride), ("dilation", dilation)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{op}: {name} must be an integer, got {value!r}")
        if value < 1:
            raise ValueError(f"{op}: {name} must be >= 1, got {value}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0):
        raise ValueError(f"{op}: input length must be an integer >= 0 or None, got {size!r}")
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        if size is None:
            return None, 0
        if size < effective:
            raise ValueError(f"{op}: input length {size} is smaller than the (dilated) kernel "
                             f"extent {effective} with padding 'valid'")
        return (size - effective) // stride + 1, 0
    if padding == "same":
        if size is None:
            return None, None
        out = -(-size // stride)
        total = max((out - 1) * stride + effective - size, 0)
        return out, total // 2
    if padding == "causal":   # Keras' Conv1D: everything padded before, so y[t] reads x[<= t]
        if size is None:
            return None, effective - 1
        return (size - 1) // stride + 1, effective - 1
    raise ValueError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")


def conv2d_output_shape(input_shape, kernel_size, filters, strides=1, padding="valid",
                        dilation_rate=1, op="conv2d"):
    """Return ((N, OH, OW, filters), (pad_top, pad_left)) for an NHWC ``input_shape``.
    Unknown (None) sizes stay None. ``op`` names the caller in error messages."""
    if len(input_shape) != 4:
        raise ValueError(f"{op}: input must be 4-D (batch, height, width, channels), got shape "
                         f"{tuple(input_shape)}")
    kh, kw = _pair(kernel_size, "kernel_size", op)
    sh, sw = _pair(strides, "strides", op)
    dh, dw = _pair(dilation_rate, "dilation_rate", op)
    oh, pt = conv_output_length(input_shape[1], kh, sh, padding, dh, op)
    ow, pl = conv_output_length(input_shape[2], kw, sw, padding, dw, op)
    return (input_shape[0], oh, ow, int(filters)), (pt, pl)


def conv2d_algorithms(input_shape, kernel_shape, strides=1, padding="valid", dilation_rate=1,
                      groups=1):
    """Which CPU algorithm each pass of this conv runs, e.g. ``{'forward': 'winograd_f2x2_3x3',
    'backward_data': 'flipped_forward/winograd_f2x2_3x3', 'backward_weights': 'winograd_f2x2_3x3'}``
    (see csrc/ops/conv2d.h for the names). ``kernel_shape`` is (KH, KW, Cin / groups, Cout).
    Computes nothing."""
    kernel_shape = tuple(int(v) for v in kernel_shape)
    groups = _int(groups, "conv2d_algorithms", "groups")
    if len(kernel_shape) != 4 or len(input_shape) != 4 or input_shape[3] != kernel_shape[2] * groups:
        raise ValueError(f"conv2d_algorithms: need input (N, H, W, Cin) and kernel (KH, KW, Cin / groups, "
                         f"Cout) with the same Cin, got {tuple(input_shape)} and {kernel_shape} with "
                         f"groups={groups}")
    (n, oh, ow, cout), (pt, pl) = conv2d_output_shape(tuple(input_shape), kernel_shape[:2],
                                                      kernel_shape[3], strides, padding,
                                                      dilation_rate, op="conv2d_algorithms")
    (sh, sw), (dh, dw) = _pair(strides, "strides"), _pair(dilation_rate, "dilation_rate")
    names = _C.conv2d_algorithms(n, input_shape[1], input_shape[2], input_shape[3], kernel_shape[0],
                                 kernel_shape[1], cout, oh, ow, sh, sw, pt, pl, dh, dw, groups)
    return dict(zip(("forward", "backward_data", "backward_weights"), names))


def conv2d(x, w, bias=None, out=None, *, strides=1, padding="valid", dilation_rate=1,
           activation="none", groups=1, keep_w=False):
    """y = act(conv2d(x, w) + bias): x (N, H, W, Cin), w (KH, KW, Cin / groups, Cout) ->
    (N, OH, OW, Cout).

    ``padding`` is 'valid' or 'same' (TensorFlow's asymmetric rule, the extra row/column after);
    ``activation`` 'none' or 'relu' (fused); ``groups`` G splits Cin and Cout in G groups, group i's
    outputs reading only its inputs (Keras' grouped convolution). ``keep_w``: w is a weight that
    later calls apply again; what the CPU kernel derives from it (packed panels, a Winograd
    transform) is kept on it while its write version stands, with the same results. Returns ``out``.
    """
    x = x if type(x) is Tensor else as_tensor(x, "conv2d_forward", "x")
    w = w if type(w) is Tensor else as_tensor(w, "conv2d_forward", "w")
    if w.ndim != 4:
        raise ValueError(f"conv2d_forward: w must be 4-D (KH, KW, Cin, Cout), got shape {tuple(w.shape)}")
    shape, (pt, pl) = conv2d_output_shape(tuple(x.shape), tuple(w.shape[:2]), w.shape[3], strides,
                                          padding, dilation_rate)
    y = _out(out, shape, "conv2d_forward", device=x.device, check_shape=True)
    if bias is not None:
        bias = bias if type(bias) is Tensor else as_tensor(bias, "conv2d_forward", "bias")
    (sh, sw), (dh, dw) = _pair(strides, "strides"), _pair(dilation_rate, "dilation_rate")
    _C.conv2d_forward(x, w, bias, y, sh, sw, pt, pl, dh, dw, activation, _int(groups, "conv2d_forward", "groups"),
                      bool(keep_w))
    return y


def conv2d_backward_data(dy, w, input_shape, out=None, *, strides=1, padding="valid",
                         dilation_rate=1, groups=1, add=None, relu_of=None):
    """dx = dL/dx of :func:`conv2d` for an input of shape ``input_shape``, given dy. With ``add``
    and / or ``relu_of`` (arrays of dx's shape): dx = (dL/dx + add) * relu'(relu_of), relu' from a
    relu's output (relu_of > 0 ? v : v * relu_of, as :func:`sum_n_relu_grad`), in the pass that
    stores dx where the algorithm allows (CPU only)."""
    op = "conv2d_backward_data" if add is None and relu_of is None else "conv2d_backward_data_relu_sum"
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    w = w if type(w) is Tensor else as_tensor(w, op, "w")
    if w.ndim != 4:
        raise ValueError(f"{op}: w must be 4-D, got shape {tuple(w.shape)}")
    _, (pt, pl) = conv2d_output_shape(tuple(input_shape), tuple(w.shape[:2]), w.shape[3], strides,
                                      padding, dilation_rate)
    dx = _out(out, input_shape, op, device=dy.device, check_shape=True)
    (sh, sw), (dh, dw) = _pair(strides, "strides"), _pair(dilation_rate, "dilation_rate")
    groups = _int(groups, op, "groups")
    if add is None and relu_of is None:
        _C.conv2d_backward_data(dy, w, dx, sh, sw, pt, pl, dh, dw, groups)
    else:
        _C.conv2d_backward_data_relu_sum(dy, w, dx, _opt(add, op, "add"), _opt(relu_of, op, "relu_of"),
                                         sh, sw, pt, pl, dh, dw, groups)
    return dx


def conv2d_backward_weights(x, dy, kernel_shape, out=None, bias_out=None, *, strides=1,
                            padding="valid", dilation_rate=1, bias=False, groups=1):
    """dw = dL/dw of :func:`conv2d` (shape ``kernel_shape``), and db = column sums of dy when
    ``bias`` or ``bias_out`` is given. Returns dw, or (dw, db)."""
    x = x if type(x) is Tensor else as_tensor(x, "conv2d_backward_weights", "x")
    dy = dy if type(dy) is Tensor else as_tensor(dy, "conv2d_backward_weights", "dy")
    kernel_shape = tuple(int(d) for d in kernel_shape)
    if len(kernel_shape) != 4:
        raise ValueError(f"conv2d_backward_weights: kernel_shape must be 4-D, got {kernel_shape}")
    _, (pt, pl) = conv2d_output_shape(tuple(x.shape), kernel_shape[:2], kernel_shape[3], strides,
                                      padding, dilation_rate)
    dw = _out(out, kernel_shape, "conv2d_backward_weights", device=x.device, check_shape=True)
    want_bias = bias or bias_out is not None
    db = _out(bias_out, kernel_shape[3:], "conv2d_backward_weights", device=x.device) if want_bias else None
    (sh, sw), (dh, dw_) = _pair(strides, "strides"), _pair(dilation_rate, "dilation_rate")
    _C.conv2d_backward_weights(x, dy, dw, db, sh, sw, pt, pl, dh, dw_,
                               _int(groups, "conv2d_backward_weights", "groups"))
    return (dw, db) if want_bias else dw


def conv2d_relu_max_pool2d(x, w, bias=None, out=None, argmax=None, *, padding="valid", keep_w=False):
    """(y, argmax) = max_pool2d(relu(conv2d(x, w) + bias), 2, 2) in one pass, stride 1: the conv
    output is never stored. argmax equals what :func:`max_pool2d_forward` returns on the conv
    output, so :func:`max_pool2d_backward` gives the conv output's gradient. ``keep_w`` as
    :func:`conv2d`."""
    op = "conv2d_relu_max_pool2d_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    w = w if type(w) is Tensor else as_tensor(w, op, "w")
    if w.ndim != 4:
        raise ValueError(f"{op}: w must be 4-D (KH, KW, Cin, Cout), got shape {tuple(w.shape)}")
    (n, oh, ow, cout), (pt, pl) = conv2d_output_shape(tuple(x.shape), tuple(w.shape[:2]), w.shape[3],
                                                      1, padding, 1, op)
    shape = (n, oh // 2, ow // 2, cout)
    y = _out(out, shape, op, device=x.device, check_shape=True)
    am = argmax if type(argmax) is Tensor else _out(argmax, shape, op, dtype="int32", device=x.device)
    if bias is not None:
        bias = bias if type(bias) is Tensor else as_tensor(bias, op, "bias")
    _C.conv2d_relu_max_pool2d_forward(x, w, bias, y, am, oh, ow, pt, pl, bool(keep_w))
    return y, am


def conv2d_relu_max_pool2d_backward_weights(x, dy, y, argmax, kernel_shape, out=None, bias_out=None,
                                            *, bias=False, padding="valid"):
    """Weight (and bias) gradient of :func:`conv2d_relu_max_pool2d` from the POOLED gradient ``dy``
    and the forward's pooled ``y`` and ``argmax``: that of :func:`conv2d_backward_weights` on
    dz = max_pool2d_backward(dy * [y > 0], argmax), without forming dz (a first layer, whose input
    gradient is not needed). Returns dw, or (dw, db) with ``bias=True`` or ``bias_out``."""
    op = "conv2d_relu_max_pool2d_backward_weights"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    y = y if type(y) is Tensor else as_tensor(y, op, "y")
    argmax = argmax if type(argmax) is Tensor else as_tensor(argmax, op, "argmax")
    kernel_shape = tuple(int(v) for v in kernel_shape)
    if len(kernel_shape) != 4:
        raise ValueError(f"{op}: kernel_shape must be (KH, KW, Cin, Cout), got {kernel_shape}")
    (_, oh, ow, _), (pt, pl) = conv2d_output_shape(tuple(x.shape), kernel_shape[:2], kernel_shape[3], 1,
                                                   padding, 1, op)
    dw = _out(out, kernel_shape, op, device=x.device, check_shape=True)
    db = _out(bias_out, kernel_shape[3:], op, device=x.device) if (bias or bias_out is not None) else None
    _C.conv2d_relu_max_pool2d_backward_weights(x, dy, y, argmax, dw, db, oh, ow, pt, pl)
    return dw if db is None else (dw, db)


# ---------------------------------------------------------------------------------------------
# Pooling and zero padding (NHWC). ``pool_size`` and ``strides`` are (h, w) pairs; ``padding`` is
# 'valid' or 'same' (TensorFlow's rule; padded cells never win a max nor count in an average).

__all__ += ["pool2d_output_shape", "max_pool2d_forward", "max_pool2d_backward",
            "avg_pool2d_forward", "avg_pool2d_backward", "global_avg_pool2d_forward",
            "global_avg_pool2d_backward", "global_max_pool2d_forward", "global_max_pool2d_backward",
            "zero_pad2d_forward", "zero_pad2d_backward"]

def _pool_pair(v, op, arg):
    if isinstance(v, (int, np.integer)):
        return [int(v), int(v)]
    v = [int(d) for d in v]
    if len(v) != 2:
        raise ValueError(f"{op}: {arg} must be an int or a pair of ints, got {v}")
    return v


def _padding(padding, op):
    p = str(padding).lower()
    if p not in ("valid", "same"):
        raise ValueError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    return p


def pool2d_output_shape(x_shape, pool_size, strides, padding, op="pool2d"):
    """(N, OH, OW, C) of pooling an (N, H, W, C) input; raises when the window does not fit."""
    if len(x_shape) != 4:
        raise ValueError(f"{op}: x must be (N, H, W, C) (rank 4), got shape {tuple(x_shape)}")
    n, h, w, c = x_shape
    oh, ow = _C.pool2d_output_hw(int(h), int(w), _pool_pair(pool_size, op, "pool_size"),
                                 _pool_pair(strides, op, "strides"), _padding(padding, op), op)
    return (n, oh, ow, c)


def max_pool2d_forward(x, pool_size, strides, padding="valid", out=None, argmax=None):
    """y = max over each window of x (N, H, W, C); returns (y, argmax). argmax (int32, y's shape)
    holds h*W + w of each window's first maximum; max_pool2d_backward needs it."""
    op = "max_pool2d_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    shape = pool2d_output_shape(x.shape, pool_size, strides, padding, op)
    y = out if type(out) is Tensor else _out(out, shape, op, device=x.device)
    am = argmax if type(argmax) is Tensor else _out(argmax, shape, op, dtype="int32", device=x.device)
    _C.max_pool2d_forward(x, y, am, _pool_pair(pool_size, op, "pool_size"), _pool_pair(strides, op, "strides"),
                          _padding(padding, op))
    return y, am


def max_pool2d_backward(dy, argmax, x_shape, pool_size, strides, padding="valid", out=None):
    """dx (x_shape) = dy routed to each window's argmax, summed where windows overlap."""
    op = "max_pool2d_backward"
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    dx = out if type(out) is Tensor else _out(out, x_shape, op, device=dy.device)
    _C.max_pool2d_backward(dy, as_tensor(argmax, op, "argmax"), dx, _pool_pair(pool_size, op, "pool_size"),
                           _pool_pair(strides, op, "strides"), _padding(padding, op))
    return dx


def avg_pool2d_forward(x, pool_size, strides, padding="valid", out=None):
    """y = mean over each window's real (unpadded) cells of x (N, H, W, C)."""
    op = "avg_pool2d_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    y = _out(out, pool2d_output_shape(x.shape, pool_size, strides, padding, op), op, device=x.device)
    _C.avg_pool2d_forward(x, y, _pool_pair(pool_size, op, "pool_size"), _pool_pair(strides, op, "strides"),
                          _padding(padding, op))
    return y


def avg_pool2d_backward(dy, x_shape, pool_size, strides, padding="valid", out=None):
    """dx (x_shape) = sum over covering windows of dy / (the window's real-cell count)."""
    op = "avg_pool2d_backward"
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    dx = out if type(out) is Tensor else _out(out, x_shape, op, device=dy.device)
    _C.avg_pool2d_backward(dy, dx, _pool_pair(pool_size, op, "pool_size"), _pool_pair(strides, op, "strides"),
                           _padding(padding, op))
    return dx


def _global_shape(x, op):
    if x.ndim != 4:
        raise ValueError(f"{op}: x must be (N, H, W, C) (rank 4), got shape {tuple(x.shape)}")
    return (x.shape[0], x.shape[3])


def global_avg_pool2d_forward(x, out=None):
    """y (N, C) = mean of x (N, H, W, C) over H and W."""
    op = "global_avg_pool2d_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    y = _out(out, _global_shape(x, op), op, device=x.device)
    _C.global_avg_pool2d_forward(x, y)
    return y


def global_avg_pool2d_backward(dy, x_shape, out=None):
    """dx (x_shape) = dy / (H*W) broadcast over H and W."""
    op = "global_avg_pool2d_backward"
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    dx = out if type(out) is Tensor else _out(out, x_shape, op, device=dy.device)
    _C.global_avg_pool2d_backward(dy, dx)
    return dx


def global_max_pool2d_forward(x, out=None, argmax=None):
    """y (N, C) = max of x (N, H, W, C) over H and W; returns (y, argmax (N, C) int32 = h*W + w)."""
    op = "global_max_pool2d_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    shape = _global_shape(x, op)
    y = out if type(out) is Tensor else _out(out, shape, op, device=x.device)
    am = argmax if type(argmax) is Tensor else _out(argmax, shape, op, dtype="int32", device=x.device)
    _C.global_max_pool2d_forward(x, y, am)
    return y, am


def global_max_pool2d_backward(dy, argmax, x_shape, out=None):
    """dx (x_shape) = dy at each (n, c)'s argmax cell, 0 elsewhere."""
    op = "global_max_pool2d_backward"
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    dx = out if type(out) is Tensor else _out(out, x_shape, op, device=dy.device)
    _C.global_max_pool2d_backward(dy, as_tensor(argmax, op, "argmax"), dx)
    return dx


def _pad4(padding, op):
    """((top, bottom), (left, right)) from an int, (h, w) or ((t, b), (l, r))."""
    if isinstance(padding, (int, np.integer)):
        return (int(padding),) * 4
    p = tuple(padding)
    if len(p) == 2 and all(isinstance(v, (int, np.integer)) for v in p):
        return (int(p[0]), int(p[0]), int(p[1]), int(p[1]))
    if len(p) == 2 and all(len(tuple(v)) == 2 for v in p):
        return tuple(int(v) for pair in p for v in pair)
    raise ValueError(f"{op}: padding must be an int, (h, w) or ((top, bottom), (left, right)), "
                     f"got {padding!r}")


def zero_pad2d_forward(x, padding, out=None):
    """y = x (N, H, W, C) surrounded by zeros: padding is int | (h, w) | ((top, bottom), (left, right))."""
    op = "zero_pad2d_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    t, b, l, r = _pad4(padding, op)
    if x.ndim != 4:
        raise ValueError(f"{op}: x must be (N, H, W, C) (rank 4), got shape {tuple(x.shape)}")
    n, h, w, c = x.shape
    y = out if type(out) is Tensor else _out(out, (n, h + t + b, w + l + r, c), op, device=x.device)
    _C.zero_pad2d_forward(x, y, t, b, l, r)
    return y


def zero_pad2d_backward(dy, padding, out=None):
    """dx = dy cropped by ``padding`` (the gradient of zero_pad2d_forward)."""
    op = "zero_pad2d_backward"
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    t, b, l, r = _pad4(padding, op)
    if dy.ndim != 4:
        raise ValueError(f"{op}: dy must be (N, H, W, C) (rank 4), got shape {tuple(dy.shape)}")
    n, h, w, c = dy.shape
    if min(t, b, l, r) < 0 or h < t + b or w < l + r:
        raise ValueError(f"{op}: padding {((t, b), (l, r))} does not fit dy of shape {tuple(dy.shape)}")
    dx = out if type(out) is Tensor else _out(out, (n, h - t - b, w - l - r, c), op, device=dy.device)
    _C.zero_pad2d_backward(dy, dx, t, b, l, r)
    return dx


# ---------------------------------------------------------------------------------------------
# Data movement: transpose, repeat_vector, upsample2d

__all__ += ["transpose", "inverse_permutation", "repeat_vector_forward", "repeat_vector_backward",
            "upsample2d_forward", "upsample2d_backward"]


def _int(v, op, what):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{op}: {what} must be an int, got {v!r}"[:200])
    return int(v)


def _perm(perm, ndim, op):
    """``perm`` as a list of axes in [0, ndim) (negative ones count from the end, as NumPy);
    None reverses the axes. The entry checks that it is a permutation."""
    if perm is None:
        return list(range(ndim - 1, -1, -1))
    if not isinstance(perm, (list, tuple, np.ndarray)):
        raise TypeError(f"{op}: perm must be a sequence of ints, got {perm!r}"[:200])
    axes = [_int(p, op, "each entry of perm") for p in perm]
    return [p + ndim if -ndim <= p < 0 else p for p in axes]


def inverse_permutation(perm):
    """The permutation that undoes ``perm`` (the axes of transpose's gradient)."""
    axes = [_int(p, "inverse_permutation", "each entry of perm") for p in perm]
    if sorted(axes) != list(range(len(axes))):
        raise ValueError(f"inverse_permutation: {tuple(axes)} is not a permutation of "
                         f"0..{len(axes) - 1}")
    inv = [0] * len(axes)
    for i, p in enumerate(axes):
        inv[p] = i
    return inv


def transpose(x, perm=None, out=None):
    """y = x with its axes permuted (numpy.transpose): y.shape[d] = x.shape[perm[d]]. Any dtype;
    ``perm`` None reverses the axes. Its gradient is transpose(dy, inverse_permutation(perm))."""
    op = "transpose"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    axes = _perm(perm, x.ndim, op)
    shape = [x.shape[p] if 0 <= p < x.ndim else 0 for p in axes]
    y = out if type(out) is Tensor else _out(out, shape, op, dtype=x.dtype, device=x.device)
    _C.transpose(x, axes, y)
    return y


def repeat_vector_forward(x, n: int, out=None):
    """y (N, n, D): y[:, r, :] = x (N, D) for every r (Keras RepeatVector)."""
    op = "repeat_vector_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    n = _int(n, op, "n")
    if n < 0:
        raise ValueError(f"{op}: n must be >= 0, got {n}")
    shape = [x.shape[0], n, x.shape[1]] if x.ndim == 2 else [0, n, 0]
    y = _out(out, shape, op, device=x.device, check_shape=x.ndim == 2)  # the entry takes n from y
    _C.repeat_vector_forward(x, y)
    return y


def repeat_vector_backward(dy, out=None):
    """dx (N, D) = sum over the repeats of dy (N, n, D)."""
    op = "repeat_vector_backward"
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    dx = out if type(out) is Tensor else _out(out, [dy.shape[0], dy.shape[2]] if dy.ndim == 3 else [0, 0], op,
                                              device=dy.device)
    _C.repeat_vector_backward(dy, dx)
    return dx


UPSAMPLING_INTERPOLATIONS = ("nearest", "bilinear")


def _size2(size, op):
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise ValueError(f"{op}: size must be an int or (sh, sw), got {size!r}"[:200])
    sh, sw = (_int(v, op, "size") for v in size)
    if sh < 1 or sw < 1:
        raise ValueError(f"{op}: size must be positive, got {(sh, sw)}")
    return sh, sw


def upsample2d_forward(x, size, interpolation: str = "nearest", out=None):
    """y (N, H*sh, W*sw, C) = x (N, H, W, C) upsampled (Keras UpSampling2D): 'nearest' repeats
    pixels; 'bilinear' interpolates with half-pixel centres, edges clamped (as Keras / TF resize
    and torch's align_corners=False)."""
    op = "upsample2d_forward"
    interpolation = _known_kind(interpolation, UPSAMPLING_INTERPOLATIONS, op, "interpolation")
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    sh, sw = _size2(size, op)
    if x.ndim != 4:
        raise ValueError(f"{op}: x must be (N, H, W, C) (rank 4), got shape {tuple(x.shape)}")
    n, h, w, c = x.shape
    y = out if type(out) is Tensor else _out(out, (n, h * sh, w * sw, c), op, device=x.device)
    _C.upsample2d_forward(x, y, sh, sw, interpolation)
    return y


def upsample2d_backward(dy, size, interpolation: str = "nearest", out=None):
    """dx (N, H, W, C): the gradient of upsample2d_forward, given dy (N, H*sh, W*sw, C)."""
    op = "upsample2d_backward"
    interpolation = _known_kind(interpolation, UPSAMPLING_INTERPOLATIONS, op, "interpolation")
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    sh, sw = _size2(size, op)
    if dy.ndim != 4:
        raise ValueError(f"{op}: dy must be (N, H, W, C) (rank 4), got shape {tuple(dy.shape)}")
    n, oh, ow, c = dy.shape
    if oh % sh or ow % sw:
        raise ValueError(f"{op}: dy of shape {tuple(dy.shape)} is not a multiple of size {(sh, sw)}")
    dx = out if type(out) is Tensor else _out(out, (n, oh // sh, ow // sw, c), op, device=dy.device)
    _C.upsample2d_backward(dy, dx, sh, sw, interpolation)
    return dx


# ---- embedding
# Row lookup in a (V, D) table and its gradient. Indices: int32 / int64, or float32 holding whole
# numbers (Sequential feeds float32 x; Keras casts an Embedding's input to int). Every index is
# checked (whole, 0 <= index < V) before anything is written; a bad one raises ValueError naming
# the op, the position, the value and the valid range.

__all__ += ["embedding_forward", "embedding_backward"]


def _indices(indices, op):
    """Indices as a Tensor the kernel takes: other NumPy integer dtypes -> int64; float64 -> int64
    once every value is checked to be a whole number (a float32 cast could round 2.0000001 to 2).
    A Tensor of a storage-only dtype (uint8, float64 ...) is converted as its array is."""
    if isinstance(indices, Tensor) and indices.dtype in ("int32", "int64", "float32"):
        return indices
    idx = np.asarray(indices)
    if idx.dtype.kind in "iu" and idx.dtype not in (np.int32, np.int64):
        huge = idx.dtype == np.uint64 and idx.size and idx.max() > np.iinfo(np.int64).max
        idx = idx.astype(np.float32 if huge else np.int64)  # float32: reported as out of range
    elif idx.dtype == np.float64:
        bad = np.flatnonzero(~np.isfinite(idx) | (idx != np.floor(idx)))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{op}: indices must be whole numbers, got indices[{i}] = "
                             f"{idx.reshape(-1)[i]}")
        bad = np.flatnonzero(np.abs(idx) >= 2.0**62)
        if bad.size:  # huge values would overflow int64; the kernel reports them as out of range
            idx = idx.astype(np.float32)
        else:
            idx = idx.astype(np.int64)
    elif idx.dtype.kind not in "iuf":
        raise TypeError(f"{op}: indices must be integers (or floats holding whole numbers), "
                        f"got dtype {idx.dtype}")
    return as_tensor(np.ascontiguousarray(idx), op, "indices")


def embedding_forward(indices, weight, out=None):
    """y[..., :] = weight[indices[...], :]: indices (...) -> y (..., D) for weight (V, D) float32,
    or int8 on the CPU (an int8-quantized table: its rows widened to float32, exactly)."""
    op = "embedding_forward"
    indices = _indices(indices, op)
    weight = weight if type(weight) is Tensor else as_tensor(weight, op, "weight")
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight must be (input_dim, output_dim) (rank 2), got shape "
                         f"{tuple(weight.shape)}")
    y = _out(out, tuple(indices.shape) + (weight.shape[1],), op, device=weight.device)
    _C.embedding_forward(indices, weight, y)
    return y


def embedding_backward(indices, dy, input_dim=None, out=None):
    """dW (V, D) of :func:`embedding_forward`: zero, then dW[indices[i]] += dy[i] for every
    position i (repeated indices accumulate). ``out`` (V, D) is overwritten; without it give
    ``input_dim`` (V). Returns dW."""
    op = "embedding_backward"
    indices = _indices(indices, op)
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    if out is None:
        if input_dim is None:
            raise ValueError(f"{op}: give out= (the (input_dim, output_dim) gradient) or input_dim")
        if dy.ndim < 1:
            raise ValueError(f"{op}: dy must be (..., output_dim), got a scalar")
    out = out if type(out) is Tensor else _out(out, (input_dim, dy.shape[-1]), op, device=dy.device)
    _C.embedding_backward(indices, dy, out)
    return out


# ---- recurrent
# SimpleRNN / LSTM / GRU (reset_after=True) over whole sequences, Keras semantics and weight
# layouts: x (N, T, F), kernel (F, G*U), recurrent_kernel (U, G*U), G = 1 / 4 / 3. The forward
# fills a stash (gates, hprev, cells) that the backward reads; the math is in csrc/ops/rnn.h.

_RNN_GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def _rnn_dims(cell, x, kernel, op):
    if x.ndim != 3:
        raise ValueError(f"{op}: x must be (batch, timesteps, features) (rank 3), got shape "
                         f"{tuple(x.shape)}")
    if kernel.ndim != 2 or kernel.shape[1] % _RNN_GATES[cell]:
        raise ValueError(f"{op}: kernel must have shape ({x.shape[2]}, {_RNN_GATES[cell]} * units), "
                         f"got {tuple(kernel.shape)}")
    n, t, _ = x.shape
    return n, t, kernel.shape[1] // _RNN_GATES[cell], kernel.shape[1]


def rnn_forward(cell, x, kernel, recurrent_kernel, bias=None, *, return_sequences=False,
                go_backwards=False, activation="tanh", recurrent_activation="sigmoid",
                output_in_input_order=False, states=True, out=None, h_n=None, c_n=None,
                stash=None, reset_after=True, mask=None, h0=None, c0=None):
    """Run a whole sequence through ``cell`` ('simple_rnn' | 'lstm' | 'gru'), states from zero
    or from ``h0`` / ``c0`` (N, U) when given (c0: LSTM only).

    Returns ``(y, h_n, c_n, stash)``: y is (N, T, U) when ``return_sequences`` (y[:, s] = h after
    step s; with ``go_backwards`` step s reads x[:, T-1-s], so y comes out reversed as in Keras,
    unless ``output_in_input_order``), else (N, U); h_n (N, U) the last h; c_n (N, U) the last
    LSTM cell state (None for the other cells; both None when ``states`` is false: not written);
    stash = (gates, hprev, cells) for rnn_backward. Any of out / h_n / c_n / stash may be passed
    preallocated. ``reset_after=False`` (GRU): the Keras-2 variant, bias (3U,). ``mask`` (N, T),
    nonzero = a real step: a sample skips its masked steps (h and c carry over, Keras masking).
    """
    op = f"{_known_kind(cell, tuple(_RNN_GATES), 'rnn_forward', 'cell')}_forward"
    x, kernel = as_tensor(x, op, "x"), as_tensor(kernel, op, "kernel")
    if type(recurrent_kernel) is not Tensor:
        recurrent_kernel = as_tensor(recurrent_kernel, op, "recurrent_kernel")
    n, t, u, gu = _rnn_dims(cell, x, kernel, op)
    y = out if type(out) is Tensor else _out(out, (n, t, u) if return_sequences else (n, u), op, device=x.device)
    h_n = _out(h_n, (n, u), op, device=x.device) if states else None
    c_n = _out(c_n, (n, u), op, device=x.device) if states and cell == "lstm" else None
    if stash is None:
        stash = (empty((n, t, gu)), empty((n, t, u)), None if cell == "simple_rnn" else empty((n, t, u)))
    gates, hprev, cells = (_opt(t, op, name) for t, name in zip(stash, ("gates", "hprev", "cells")))
    stash = (gates, hprev, cells)
    fn = getattr(_C, op)
    fn(x, kernel, recurrent_kernel, _opt(bias, op, "bias"), y, h_n, c_n, gates, hprev, cells,
       activation, recurrent_activation, bool(go_backwards), bool(return_sequences),
       bool(output_in_input_order), bool(reset_after), _mask_tensor(mask, op, "mask"),
       **_initial_states(op, h0, c0))
    return y, h_n, c_n, stash


def _initial_states(op, h0, c0, **more):
    """The optional initial-state keywords of the recurrent ops (left out when absent)."""
    given = dict(h0=h0, c0=c0, **more)
    return {name: as_tensor(t, op, name) for name, t in given.items() if t is not None}


def rnn_backward(cell, dy, x, kernel, recurrent_kernel, stash, *, go_backwards=False,
                 activation="tanh", recurrent_activation="sigmoid", output_in_input_order=False,
                 dx=None, dkernel=None, drecurrent_kernel=None, dbias=None, input_grad=True,
                 weight_grads=True, use_bias=True, reset_after=True, mask=None,
                 h0=None, c0=None, dh0=None, dc0=None, dc_n=None):
    """Backpropagation through time of rnn_forward (same options; return_sequences is read from
    dy's rank). Returns ``(dx, dkernel, drecurrent_kernel, dbias)``: dx is None without
    ``input_grad``, the weight gradients None without ``weight_grads`` (dbias also without
    ``use_bias``). ``reset_after`` / ``mask`` as forward.
    ``h0`` / ``c0``: the initial states forward ran from; ``dh0`` / ``dc0`` (N, U) Tensors, when
    given, receive their gradients. ``dc_n`` (N, U), LSTM: dL/d(final c), seeded into the last
    step (dL/d(final h) belongs in dy: the last output is the final h).
    """
    op = f"{_known_kind(cell, tuple(_RNN_GATES), 'rnn_backward', 'cell')}_backward"
    x, kernel = as_tensor(x, op, "x"), as_tensor(kernel, op, "kernel")
    if type(recurrent_kernel) is not Tensor:
        recurrent_kernel = as_tensor(recurrent_kernel, op, "recurrent_kernel")
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    n, t, u, gu = _rnn_dims(cell, x, kernel, op)
    if input_grad:
        dx = dx if type(dx) is Tensor else _out(dx, x.shape, op, device=x.device)
    else:
        dx = None
    if weight_grads:
        dkernel = dkernel if type(dkernel) is Tensor else _out(dkernel, kernel.shape, op, device=x.device)
        if type(drecurrent_kernel) is not Tensor:
            drecurrent_kernel = _out(drecurrent_kernel, recurrent_kernel.shape, op, device=x.device)
        bshape = (2, gu) if cell == "gru" and reset_after else (gu,)
        dbias = _out(dbias, bshape, op, device=x.device) if use_bias else None
    else:
        dkernel = drecurrent_kernel = dbias = None
    gates, hprev, cells = (_opt(t, op, name) for t, name in zip(stash, ("gates", "hprev", "cells")))
    getattr(_C, op)(dy, x, kernel, recurrent_kernel, gates, hprev, cells, dx,
                    dkernel, drecurrent_kernel, dbias, activation, recurrent_activation,
                    bool(go_backwards), dy.ndim == 3, bool(output_in_input_order), bool(reset_after),
                    _mask_tensor(mask, op, "mask"), **_initial_states(op, h0, c0, dh0=dh0, dc0=dc0, dc_n=dc_n))
    return dx, dkernel, drecurrent_kernel, dbias


def lstm_forward(x, kernel, recurrent_kernel, bias=None, **kwargs):
    """LSTM (Keras: gates i, f, c, o; c' = f c + i g; h' = o act(c')); see rnn_forward."""
    return rnn_forward("lstm", x, kernel, recurrent_kernel, bias, **kwargs)


def lstm_backward(dy, x, kernel, recurrent_kernel, stash, **kwargs):
    """Gradients of lstm_forward; see rnn_backward."""
    return rnn_backward("lstm", dy, x, kernel, recurrent_kernel, stash, **kwargs)


def lstm_cell_forward(z, c_prev, c=None, h=None, *, activation="tanh",
                      recurrent_activation="sigmoid"):
    """The LSTM gate math alone over independent rows (ConvLSTM2D's step, a row per pixel):
    z (R, 4U) pre-activations [zi zf zg zo] are activated in place into the gates [i f g o];
    c = f * c_prev + i * g, h = o * act(c), both (R, U); ``c_prev`` None means zeros (the first
    step). Returns (c, h); z then holds the gates lstm_cell_backward reads."""
    op = "lstm_cell_forward"
    z = z if type(z) is Tensor else as_tensor(z, op, "z")
    shape = (z.shape[0], z.shape[1] // 4) if z.ndim == 2 else (0, 0)
    c = c if type(c) is Tensor else _out(c, shape, op, device=z.device)
    h = h if type(h) is Tensor else _out(h, shape, op, device=z.device)
    _C.lstm_cell_forward(z, _opt(c_prev, op, "c_prev"), c, h, activation, recurrent_activation)
    return c, h


def lstm_cell_backward(gates, c, c_prev, dh, dc, dz=None, *, activation="tanh",
                       recurrent_activation="sigmoid"):
    """Gradient of :func:`lstm_cell_forward` for one step: ``gates`` and ``c`` as forward left
    them, ``c_prev`` as forward read it (None: zeros), dh = dL/dh (R, U). ``dc`` (R, U) is read
    as dL/dc from the later step and overwritten with dL/dc_prev. Returns dz (R, 4U)."""
    op = "lstm_cell_backward"
    gates = gates if type(gates) is Tensor else as_tensor(gates, op, "gates")
    dz = dz if type(dz) is Tensor else _out(dz, gates.shape, op, device=gates.device)
    _C.lstm_cell_backward(gates, as_tensor(c, op, "c"), _opt(c_prev, op, "c_prev"),
                          as_tensor(dh, op, "dh"), as_tensor(dc, op, "dc"), dz, activation,
                          recurrent_activation)
    return dz


def gru_forward(x, kernel, recurrent_kernel, bias=None, **kwargs):
    """GRU, reset_after=True (Keras: gates z, r, h; bias (2, 3U)); see rnn_forward."""
    return rnn_forward("gru", x, kernel, recurrent_kernel, bias, **kwargs)


def gru_backward(dy, x, kernel, recurrent_kernel, stash, **kwargs):
    """Gradients of gru_forward; see rnn_backward."""
    return rnn_backward("gru", dy, x, kernel, recurrent_kernel, stash, **kwargs)


def simple_rnn_forward(x, kernel, recurrent_kernel, bias=None, **kwargs):
    """SimpleRNN: h' = act(x W + h R + b); see rnn_forward (recurrent_activation is ignored)."""
    return rnn_forward("simple_rnn", x, kernel, recurrent_kernel, bias, **kwargs)


def simple_rnn_backward(dy, x, kernel, recurrent_kernel, stash, **kwargs):
    """Gradients of simple_rnn_forward; see rnn_backward."""
    return rnn_backward("simple_rnn", dy, x, kernel, recurrent_kernel, stash, **kwargs)


__all__ += ["rnn_forward", "rnn_backward", "lstm_forward", "lstm_backward", "gru_forward",
            "gru_backward", "simple_rnn_forward", "simple_rnn_backward", "lstm_cell_forward",
            "lstm_cell_backward"]


# ---- tensor math
# The kernels under keras.ops-style math and the merge layers (Add, Multiply, Concatenate, Dot,
# ...): NumPy broadcasting, reductions over axes, concatenation, batched matrix products. CPU
# only for now (a CUDA tensor gets NotImplementedError naming the op). The math of each is in
# its csrc/ops/<op>.h.

__all__ += ["BINARY_OPS", "UNARY_OPS", "REDUCTIONS", "broadcast_shape", "binary_forward",
            "binary_backward", "sum_n", "scale", "unary_forward", "unary_backward",
            "reduce_output_shape", "reduce_forward", "reduce_backward", "concat", "split",
            "batched_matmul"]

BINARY_OPS = ("add", "subtract", "multiply", "divide", "maximum", "minimum", "power")
UNARY_OPS = ("exp", "log", "sqrt", "square", "abs", "negative", "reciprocal", "sin", "cos")
REDUCTIONS = ("sum", "mean", "max", "min")


def _tensor_list(xs, op, arg):
    """A list or tuple of tensors / arrays (a bare array is refused: list(array) would split it)."""
    if not isinstance(xs, (list, tuple)):
        raise TypeError(f"{op}: {arg} must be a list of tensors, got {type(xs).__name__}")
    return _tensors(xs, op, arg)


def _int_arg(v, op, what):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{op}: {what} must be an integer, got {v!r}"[:200])
    return int(v)


def _shape_arg(shape, op, what="shape"):
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise TypeError(f"{op}: {what} must be a sequence of integers, got {shape!r}"[:200])
    return [_int_arg(d, op, what) for d in shape]


def broadcast_shape(a_shape, b_shape, op="broadcast_shape") -> tuple:
    """NumPy's broadcast of two shapes (right-aligned; each pair equal or one of them 1)."""
    return tuple(_C.binary_output_shape(op, _shape_arg(a_shape, op), _shape_arg(b_shape, op)))


def binary_forward(kind: str, a, b, out=None):
    """y = a (kind) b elementwise with NumPy broadcasting; ``kind`` is one of BINARY_OPS.

    y's shape is broadcast(a.shape, b.shape). ``out`` may be ``a`` (or ``b``) itself when it has
    that shape: ``binary_forward('add', g, dg, out=g)`` accumulates in place. maximum / minimum
    propagate NaN as NumPy does.
    """
    op = "binary_forward"
    kind = _known_kind(kind, BINARY_OPS, op, "binary op")
    a, b = as_tensor(a, op, "a"), as_tensor(b, op, "b")
    shape = _C.binary_output_shape(op, list(a.shape), list(b.shape))
    y = out if type(out) is Tensor else _out(out, shape, op, device=a.device)
    _C.binary_forward(kind, a, b, y)
    return y


def binary_backward(kind: str, a, b, dy, da_out=None, db_out=None, need_a=True, need_b=True):
    """(da, db) of y = a (kind) b given dy (y's shape), each summed over the axes along which its
    operand was broadcast, so da has a's shape and db b's.

    add: dy, dy; subtract: dy, -dy; multiply: dy b, dy a; divide: dy / b, -dy a / b^2;
    maximum: dy [a >= b], dy [a < b]; minimum: dy [a <= b], dy [a > b] (ties go to a, as in
    TensorFlow); power: dy b a^(b-1) (0 where b == 0), dy a^b ln a (0 where a == 0, b >= 0).
    With ``need_a`` / ``need_b`` False that gradient is not computed (None), unless its
    ``da_out`` / ``db_out`` is given: a given output is always written.
    """
    op = "binary_backward"
    kind = _known_kind(kind, BINARY_OPS, op, "binary op")
    a, b, dy = as_tensor(a, op, "a"), as_tensor(b, op, "b"), as_tensor(dy, op, "dy")
    da = _out(da_out, a.shape, op, device=a.device) if need_a or da_out is not None else None
    db = _out(db_out, b.shape, op, device=b.device) if need_b or db_out is not None else None
    _C.binary_backward(kind, a, b, dy, da, db)
    return da, db


def sum_n(tensors, out=None):
    """y = tensors[0] + tensors[1] + ... (one shape, n >= 1), added in list order. ``out`` may be
    one of the tensors itself (in-place gradient accumulation)."""
    op = "sum_n"
    xs = _tensor_list(tensors, op, "tensors")
    if not xs:
        raise ValueError(f"{op}: needs at least one tensor to sum, got an empty list")
    y = out if type(out) is Tensor else _out(out, xs[0].shape, op, device=xs[0].device)
    _C.sum_n(xs, y)
    return y


def sum_n_relu_grad(dys, y, out=None):
    """dz = (dys[0] + dys[1] + ...) * relu'(y), summed in list order and masked in one pass:
    relu' from the relu's output y (dy where y > 0, dy * y elsewhere, as activation_backward)."""
    op = "sum_n_relu_grad"
    xs = _tensor_list(dys, op, "dys")
    if not xs:
        raise ValueError(f"{op}: needs at least one gradient to sum, got an empty list")
    y = y if type(y) is Tensor else as_tensor(y, op, "y")
    dz = out if type(out) is Tensor else _out(out, xs[0].shape, op, device=xs[0].device)
    _C.sum_n_relu_grad(xs, y, dz)
    return dz


def scale(x, alpha: float, out=None):
    """y = alpha * x (``out`` may be x)."""
    op = "scale"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    y = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    _C.scale(x, float(alpha), y)
    return y


def unary_forward(kind: str, x, out=None):
    """y = f(x) elementwise, ``kind`` one of UNARY_OPS: exp, log, sqrt, square, abs, negative,
    reciprocal, sin, cos (tanh, sigmoid, relu are :func:`activation_forward`). ``out`` may be x."""
    op = "unary_forward"
    kind = _known_kind(kind, UNARY_OPS, op, "unary op")
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    y = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    _C.unary_forward(kind, x, y)
    return y


def unary_backward(kind: str, x, y, dy, out=None):
    """dx = dy * f'(x) given the forward's input x and output y (one shape):
    exp dy y; log dy / x; sqrt dy / (2 y); square 2 x dy; abs dy sign(x) (sign 0 = 0);
    negative -dy; reciprocal -dy y^2; sin dy cos x; cos -dy sin x. ``out`` may be dy."""
    op = "unary_backward"
    kind = _known_kind(kind, UNARY_OPS, op, "unary op")
    x, y, dy = as_tensor(x, op, "x"), as_tensor(y, op, "y"), as_tensor(dy, op, "dy")
    dx = out if type(out) is Tensor else _out(out, dy.shape, op, device=dy.device)
    _C.unary_backward(kind, x, y, dy, dx)
    return dx


def _axes(axes, ndim, op):
    """axis=None -> every axis; an int -> [it]; a sequence -> its ints (an empty one: none)."""
    if axes is None:
        return list(range(ndim))
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        return [int(axes)]
    return _shape_arg(axes, op, "axes")


def reduce_output_shape(x_shape, axes=None, keepdims=False, op="reduce_output_shape") -> tuple:
    """The shape of reducing ``x_shape`` over ``axes`` (None: all), with or without keepdims."""
    x_shape = _shape_arg(x_shape, op)
    return tuple(_C.reduce_output_shape(op, x_shape, _axes(axes, len(x_shape), op), bool(keepdims)))


def reduce_forward(kind: str, x, axes=None, keepdims=False, out=None):
    """y = sum / mean / max / min of x over ``axes`` (None: every axis; an empty tuple: none),
    reduced axes dropped or kept as size 1 (``keepdims``). Sums accumulate in double, in an order
    that does not depend on the thread count. mean over an empty axis is NaN; max / min refuse it.
    NaN propagates."""
    op = "reduce_forward"
    kind = _known_kind(kind, REDUCTIONS, op, "reduction")
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    axes = _axes(axes, x.ndim, op)
    shape = _C.reduce_output_shape(op, list(x.shape), axes, bool(keepdims))
    y = out if type(out) is Tensor else _out(out, shape, op, device=x.device)
    _C.reduce_forward(kind, x, axes, bool(keepdims), y)
    return y


def reduce_backward(kind: str, x, y, dy, axes=None, keepdims=False, out=None):
    """dx (x's shape) of :func:`reduce_forward` given dy (y's shape), same ``axes`` / ``keepdims``.

    sum: dx = dy broadcast back; mean: dy / count; max / min: dy goes to the positions that
    hold the extreme value, split evenly among ties (TensorFlow's rule): dx = [x == y] dy / ties
    (a NaN extreme matches the NaN entries). ``y`` is read by max / min only (may be None else).
    """
    op = "reduce_backward"
    kind = _known_kind(kind, REDUCTIONS, op, "reduction")
    x, dy = as_tensor(x, op, "x"), as_tensor(dy, op, "dy")
    y = _opt(y, op, "y")
    dx = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    _C.reduce_backward(kind, x, y, dy, _axes(axes, x.ndim, op), bool(keepdims), dx)
    return dx


def concat(tensors, axis=-1, out=None):
    """y = the tensors joined along ``axis``: every one has y's shape except along ``axis``,
    where the sizes add up. The gradient is :func:`split` with the same sizes."""
    op = "concat"
    xs = _tensor_list(tensors, op, "tensors")
    axis = _int_arg(axis, op, "axis")
    if not xs:
        raise ValueError(f"{op}: needs at least one tensor, got an empty list")
    shape = list(xs[0].shape)
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"{op}: axis {axis} is out of range for tensors[0] of shape {tuple(shape)}")
    shape[axis] = sum(int(x.shape[axis]) if x.ndim == len(shape) else 0 for x in xs)
    y = out if type(out) is Tensor else _out(out, shape, op, device=xs[0].device)
    _C.concat(xs, axis, y)
    return y


def split(x, axis, sizes, outs=None):
    """The pieces of x along ``axis`` of the given ``sizes`` (they add up to x.shape[axis]):
    ys[i] = x[..., o_i:o_i + sizes[i], ...]. Returns a list; ``outs`` may give the pieces."""
    op = "split"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    axis = _int_arg(axis, op, "axis")
    sizes = _shape_arg(sizes, op, "sizes")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for x of shape {tuple(x.shape)}")
    if outs is None:
        shape = list(x.shape)
        outs = []
        for s in sizes:
            shape[axis] = s
            outs.append(_out(None, shape, op, device=x.device))
    else:
        outs = _tensor_list(outs, op, "outs")
        if len(outs) != len(sizes):
            raise ValueError(f"{op}: {len(sizes)} sizes but {len(outs)} outs")
        for i, (o, s) in enumerate(zip(outs, sizes)):
            if o.ndim != x.ndim or o.shape[axis] != s:
                raise ValueError(f"{op}: outs[{i}] has shape {tuple(o.shape)}, expected size {s} "
                                 f"along axis {axis} of x {tuple(x.shape)}")
    _C.split(x, axis, outs)
    return outs


def batched_matmul(a, b, trans_a=False, trans_b=False, out=None):
    """y[..., :, :] = op(a[..., :, :]) @ op(b[..., :, :]): a (..., M, K) (or (..., K, M) with
    ``trans_a``), b (..., K, N) (or (..., N, K)), y (batch..., M, N) with batch the NumPy
    broadcast of the two batch shapes (a rank-2 operand is shared by every item). One GEMM
    engine call per batch item; K == 0 gives zeros."""
    op = "batched_matmul"
    a, b = as_tensor(a, op, "a"), as_tensor(b, op, "b")
    trans_a, trans_b = bool(trans_a), bool(trans_b)
    shape = _C.batched_matmul_output_shape(list(a.shape), list(b.shape), trans_a, trans_b)
    y = out if type(out) is Tensor else _out(out, shape, op, device=a.device)
    _C.batched_matmul(a, b, y, trans_a, trans_b)
    return y


# ---- devices (CUDA runtime)
# The compiled core always has these entry points; without the CUDA backend they report no device.

def cuda_built() -> bool:
    """Whether this corenn was compiled with the CUDA backend (CORENN_CUDA=ON)."""
    return bool(_C.cuda_built)


def cuda_is_available() -> bool:
    return bool(_C.cuda_is_available())


def cuda_device_count() -> int:
    return int(_C.cuda_device_count())


def parse_device(device) -> str:
    """Canonical device name: 'cpu' or 'cuda:N' ('cuda' means 'cuda:0'); ValueError otherwise."""
    return _C.parse_device(str(device))


def _require_cuda_runtime(what: str):
    if not cuda_built():
        raise RuntimeError(f"{what}: corenn was built without the CUDA backend; rebuild with "
                           "CORENN_CUDA=ON on a machine with the CUDA toolkit")


def cuda_synchronize(index: int = 0) -> None:
    _require_cuda_runtime("corenn.cuda.synchronize")
    _C.cuda_synchronize(int(index))


def cuda_empty_cache() -> None:
    if cuda_built():
        _C.cuda_empty_cache()


def cuda_memory_stats(index: int = 0) -> dict:
    _require_cuda_runtime("corenn.cuda.memory_stats")
    return dict(_C.cuda_memory_stats(int(index)))


def to_device(x, device) -> Tensor:
    """``x`` (Tensor or array) on ``device``: itself when already there, else a copy."""
    return as_tensor(x, "to_device").to(parse_device(device))


__all__ += ["cuda_built", "cuda_is_available", "cuda_device_count", "parse_device",
            "cuda_synchronize", "cuda_empty_cache", "cuda_memory_stats", "to_device"]


# ---------------------------------------------------------------------------------------------
# Every public function's errors name it.
#
# The C++ entries name their op in every message; what the Python side raises before reaching
# them (a bad pool size, float(None), an unknown cell name, pybind11's "incompatible function
# arguments") would not. One wrapper, applied to every public function below, puts the
# function's name in front of any such message and turns Python's internal exception types into
# the ones a caller expects: a KeyError or ZeroDivisionError from a bad value -> ValueError, an
# AttributeError from a wrong type -> TypeError. MemoryError and BufferError pass as they are.

_RENAMED_ERRORS = {KeyError: ValueError, ZeroDivisionError: ValueError, AttributeError: TypeError}
_NAMED_ERRORS = (TypeError, ValueError, OverflowError, IndexError, NotImplementedError, RuntimeError)
_OPENS_WITH_OP = re.compile(r"[A-Za-z_][\w.]*: ")  # "relu: y is read-only ...", "Tensor.empty: ..."


def _names_its_errors(fn):
    op = fn.__name__

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (*_NAMED_ERRORS, *_RENAMED_ERRORS) as exc:
            # A message this wrapper wrote for a function called inside `fn` is renamed after
            # `fn`: the caller is told about the function they called.
            raw = getattr(exc, "_corenn_unnamed", None)
            kind = type(exc) if raw is not None else \
                next((new for old, new in _RENAMED_ERRORS.items() if isinstance(exc, old)), None)
            message = raw if raw is not None else \
                str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            if kind is None and (op in message or _OPENS_WITH_OP.match(message)):
                raise  # already named: the C++ entries open every message with their op
            if kind is None:  # the builtin type it is an instance of, not an exotic subclass
                kind = next(t for t in _NAMED_ERRORS if isinstance(exc, t))
            named = kind(message if op in message else f"{op}: {message}")
            named._corenn_unnamed = message
            raise named from (exc.__cause__ if raw is not None else exc)
    return call


# ---- attention
# The fused masked softmax under MultiHeadAttention; the math is in csrc/ops/attention.h.

__all__ += ["masked_softmax_forward", "masked_softmax_backward"]


def _mask_tensor(m, op, arg):
    """A mask as the kernel reads it: float32, nonzero = attend (bool / int arrays converted)."""
    if m is None:
        return None
    if isinstance(m, Tensor):
        return m if m.dtype == "float32" else as_tensor(np.asarray(m).astype(np.float32), op, arg)
    return as_tensor(np.ascontiguousarray(m, dtype=np.float32), op, arg)


def masked_softmax_forward(scores, *, attention_mask=None, query_mask=None, key_mask=None,
                           causal=False, scale=1.0, dropout_rate=0.0, seed=0, out=None,
                           dropped=None):
    """probs (B, H, Tq, Tk) = softmax over the last axis of ``scale * scores`` restricted to the
    allowed keys (attention_mask (B, Tq, Tk) for every head or (B, H, Tq, Tk) per head,
    query_mask (B, Tq), key_mask (B, Tk): nonzero = attend; ``causal``: key j <= query i), 0
    elsewhere (a row with no allowed key is uniform, as Keras 3.15).
    Returns ``(probs, dropped)``: dropped = probs after dropout (a new Tensor, or ``dropped=``)
    when ``dropout_rate`` > 0, else None."""
    op = "masked_softmax_forward"
    scores = scores if type(scores) is Tensor else as_tensor(scores, op, "scores")
    probs = out if type(out) is Tensor else _out(out, scores.shape, op, device=scores.device)
    rate = float(dropout_rate)
    if rate > 0.0 or dropped is not None:  # a given buffer is checked even when unused
        dropped = dropped if type(dropped) is Tensor else _out(dropped, scores.shape, op, device=scores.device)
    _C.masked_softmax_forward(scores, probs, _mask_tensor(attention_mask, op, "attention_mask"),
                              _mask_tensor(query_mask, op, "query_mask"),
                              _mask_tensor(key_mask, op, "key_mask"), bool(causal), float(scale),
                              rate, int(seed) & (2**64 - 1), dropped)
    return probs, dropped if rate > 0.0 else None


def masked_softmax_backward(probs, dprobs, *, scale=1.0, dropout_rate=0.0, dropped=None, out=None):
    """dscores of masked_softmax_forward: scale * p * (g - sum(p * g)) per row, with g = dprobs
    taken back through the dropout (``dropped`` as the forward returned it) when rate > 0.
    ``out`` may be ``dprobs`` (in place)."""
    op = "masked_softmax_backward"
    probs, dprobs = as_tensor(probs, op, "probs"), as_tensor(dprobs, op, "dprobs")
    dscores = out if type(out) is Tensor else _out(out, probs.shape, op, device=probs.device)
    rate = float(dropout_rate)
    _C.masked_softmax_backward(probs, dprobs, dscores, float(scale), rate,
                               None if dropped is None else as_tensor(dropped, op, "dropped"))
    return dscores

# as_tensor names the op it converts for (its `op` argument) and runs inside every other function:
# wrapping it would only add a frame to each argument of each call.
for _name in __all__:
    _fn = globals()[_name]
    if inspect.isfunction(_fn) and _name != "as_tensor":
        globals()[_name] = _names_its_errors(_fn)
del _name, _fn


# ---------------------------------------------------------------------------------------------
# Conv2DTranspose, depthwise conv2d, PReLU (issue 13). Appended after the error-naming pass
# above, so the names are wrapped here.

def conv_transpose_output_length(size, kernel, stride, padding, output_padding=None, dilation=1,
                                 op="conv2d_transpose"):
    """(output length, leading padding of the transposed conv) along one axis.

    The length is Keras 3's ``compute_conv_transpose_output_length``:
        output_padding None: 'valid' size*stride + max(ek - stride, 0), 'same' size*stride;
        else (size - 1)*stride + ek - 2*pad + output_padding, pad = ek // 2 ('same') or 0,
    with ek = (kernel - 1)*dilation + 1. The padding is the one of the convolution this
    transposes (TensorFlow's conv2d_transpose rule, which JAX and PyTorch backends reproduce):
    0 for 'valid', max((size - 1)*stride + ek - length, 0) // 2 for 'same'.
    """
    for name, value in (("kernel", kernel), ("stride", stride), ("dilation", dilation)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{op}: {name} must be an integer >= 1, got {value!r}")
    if padding not in ("valid", "same"):
        raise ValueError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    if output_padding is not None and (isinstance(output_padding, bool) or not isinstance(
            output_padding, (int, np.integer)) or not 0 <= output_padding < stride):
        raise ValueError(f"{op}: output_padding must be an integer in [0, stride) = [0, {stride}), "
                         f"got {output_padding!r}")
    if size is None:
        return None, None
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"{op}: input length must be a positive integer or None, got {size!r}")
    ek = (kernel - 1) * dilation + 1
    if output_padding is None:
        length = size * stride + max(ek - stride, 0) if padding == "valid" else size * stride
    else:
        pad = ek // 2 if padding == "same" else 0
        length = (size - 1) * stride + ek - 2 * pad + output_padding
    if length < 1:
        raise ValueError(f"{op}: input length {size} with kernel {kernel}, stride {stride}, padding "
                         f"{padding!r} and output_padding {output_padding} gives output length {length}")
    pad_before = 0 if padding == "valid" else max((size - 1) * stride + ek - length, 0) // 2
    return int(length), int(pad_before)


def _pair_or_none(value, what, op):
    if value is None:
        return (None, None)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value), int(value))
    value = tuple(value)
    if len(value) != 2:
        raise ValueError(f"{op}: {what} must be an int or a pair, got {value!r}")
    return value


def conv2d_transpose_output_shape(input_shape, kernel_size, filters, strides=1, padding="valid",
                                  output_padding=None, dilation_rate=1, op="conv2d_transpose"):
    """Return ((N, OH, OW, filters), (pad_top, pad_left)) of a transposed conv on NHWC input."""
    if len(input_shape) != 4:
        raise ValueError(f"{op}: input must be 4-D (batch, height, width, channels), got shape "
                         f"{tuple(input_shape)}")
    (kh, kw), (sh, sw) = _pair(kernel_size, "kernel_size", op), _pair(strides, "strides", op)
    dh, dw = _pair(dilation_rate, "dilation_rate", op)
    oph, opw = _pair_or_none(output_padding, "output_padding", op)
    oh, pt = conv_transpose_output_length(input_shape[1], kh, sh, padding, oph, dh, op)
    ow, pl = conv_transpose_output_length(input_shape[2], kw, sw, padding, opw, dw, op)
    return (input_shape[0], oh, ow, int(filters)), (pt, pl)


# Validated geometries of transposed convs, keyed by the repr of the arguments (so 1, True and
# np.int64(1) stay apart, and only a call that passed validation is remembered). A
# Conv2DTranspose layer asks for the same geometry four times a training step (its output shape,
# then each kernel wrapper); validating it costs about 80 Python-level calls each time.
_TRANSPOSE_GEOMETRIES = {}
_TRANSPOSE_GEOMETRIES_MAX = 256


def _transpose_geometry(op, x_shape, w_shape, strides, padding, output_padding, dilation_rate):
    key = repr((tuple(x_shape), tuple(w_shape), strides, padding, output_padding, dilation_rate))
    hit = _TRANSPOSE_GEOMETRIES.get(key)
    if hit is not None:
        return hit
    w_shape = tuple(w_shape)
    if len(w_shape) != 4:
        raise ValueError(f"{op}: w must be 4-D (KH, KW, Cout, Cin), got shape {w_shape}")
    shape, (pt, pl) = conv2d_transpose_output_shape(tuple(x_shape), w_shape[:2], w_shape[2],
                                                    strides, padding, output_padding, dilation_rate, op)
    (sh, sw), (dh, dw) = _pair(strides, "strides", op), _pair(dilation_rate, "dilation_rate", op)
    if len(_TRANSPOSE_GEOMETRIES) >= _TRANSPOSE_GEOMETRIES_MAX:
        _TRANSPOSE_GEOMETRIES.clear()
    hit = _TRANSPOSE_GEOMETRIES[key] = (shape, (sh, sw, pt, pl, dh, dw))
    return hit


def conv2d_transpose(x, w, bias=None, out=None, *, strides=1, padding="valid", output_padding=None,
                     dilation_rate=1):
    """y = conv2d_transpose(x, w) + bias: x (N, H, W, Cin), w (KH, KW, Cout, Cin) (Keras's
    Conv2DTranspose kernel) -> (N, OH, OW, Cout), OH / OW by Keras's formula. It runs the data
    gradient of the conv2d whose kernel is w. Returns ``out``."""
    op = "conv2d_transpose_forward"
    x, w = as_tensor(x, op, "x"), as_tensor(w, op, "w")
    shape, geo = _transpose_geometry(op, x.shape, w.shape, strides, padding, output_padding, dilation_rate)
    y = _out(out, shape, op, device=x.device, check_shape=True)
    if bias is not None:
        bias = bias if type(bias) is Tensor else as_tensor(bias, op, "bias")
    _C.conv2d_transpose_forward(x, w, bias, y, *geo)
    return y


def conv2d_transpose_backward_data(dy, w, input_shape, out=None, *, strides=1, padding="valid",
                                   output_padding=None, dilation_rate=1):
    """dx = dL/dx of :func:`conv2d_transpose` for an input of ``input_shape`` (a conv2d forward
    of dy with kernel w)."""
    op = "conv2d_transpose_backward_data"
    dy, w = as_tensor(dy, op, "dy"), as_tensor(w, op, "w")
    shape, geo = _transpose_geometry(op, input_shape, w.shape, strides, padding, output_padding, dilation_rate)
    if tuple(dy.shape) != tuple(shape):
        raise ValueError(f"{op}: dy must have shape {tuple(shape)} for input {tuple(input_shape)}, "
                         f"got {tuple(dy.shape)}")
    dx = _out(out, input_shape, op, device=dy.device, check_shape=True)
    _C.conv2d_transpose_backward_data(dy, w, dx, *geo)
    return dx


def conv2d_transpose_backward_weights(x, dy, kernel_shape, out=None, bias_out=None, *, strides=1,
                                      padding="valid", output_padding=None, dilation_rate=1,
                                      bias=False):
    """dw (``kernel_shape`` (KH, KW, Cout, Cin)) of :func:`conv2d_transpose`, and db = column sums
    of dy when ``bias`` or ``bias_out``. Returns dw, or (dw, db)."""
    op = "conv2d_transpose_backward_weights"
    x, dy = as_tensor(x, op, "x"), as_tensor(dy, op, "dy")
    kernel_shape = tuple(int(d) for d in kernel_shape)
    if len(kernel_shape) != 4:
        raise ValueError(f"{op}: kernel_shape must be 4-D, got {kernel_shape}")
    shape, geo = _transpose_geometry(op, x.shape, kernel_shape, strides, padding,
                                     output_padding, dilation_rate)
    if tuple(dy.shape) != tuple(shape):
        raise ValueError(f"{op}: dy must have shape {tuple(shape)} for x {tuple(x.shape)}, "
                         f"got {tuple(dy.shape)}")
    dw = _out(out, kernel_shape, op, device=x.device, check_shape=True)
    want_bias = bias or bias_out is not None
    db = _out(bias_out, kernel_shape[2:3], op, device=x.device) if want_bias else None
    _C.conv2d_transpose_backward_weights(x, dy, dw, db, *geo)
    return (dw, db) if want_bias else dw


def depthwise_conv2d_output_shape(input_shape, kernel_size, depth_multiplier=1, strides=1,
                                  padding="valid", dilation_rate=1, op="depthwise_conv2d"):
    """((N, OH, OW, C*depth_multiplier), (pad_top, pad_left)): conv2d's output-size rule."""
    if len(input_shape) != 4:
        raise ValueError(f"{op}: input must be 4-D (batch, height, width, channels), got shape "
                         f"{tuple(input_shape)}")
    c = input_shape[3]
    shape, pads = conv2d_output_shape(input_shape, kernel_size, 1, strides, padding, dilation_rate, op)
    return shape[:3] + (None if c is None else int(c) * int(depth_multiplier),), pads


def _depthwise_geometry(op, x_shape, w_shape, strides, padding, dilation_rate):
    if len(w_shape) != 4:
        raise ValueError(f"{op}: w must be 4-D (KH, KW, C, depth_multiplier), got shape {tuple(w_shape)}")
    shape, (pt, pl) = depthwise_conv2d_output_shape(tuple(x_shape), tuple(w_shape[:2]), w_shape[3],
                                                    strides, padding, dilation_rate, op)
    (sh, sw), (dh, dw) = _pair(strides, "strides", op), _pair(dilation_rate, "dilation_rate", op)
    return shape, (sh, sw, pt, pl, dh, dw)


def depthwise_conv2d(x, w, bias=None, out=None, *, strides=1, padding="valid", dilation_rate=1):
    """y = depthwise_conv2d(x, w) + bias: x (N, H, W, C), w (KH, KW, C, DM) -> (N, OH, OW, C*DM),
    output channel c*DM + m. Returns ``out``."""
    op = "depthwise_conv2d_forward"
    x, w = as_tensor(x, op, "x"), as_tensor(w, op, "w")
    shape, geo = _depthwise_geometry(op, x.shape, tuple(w.shape), strides, padding, dilation_rate)
    y = _out(out, shape, op, device=x.device, check_shape=True)
    if bias is not None:
        bias = bias if type(bias) is Tensor else as_tensor(bias, op, "bias")
    _C.depthwise_conv2d_forward(x, w, bias, y, *geo)
    return y


def depthwise_conv2d_backward_data(dy, w, input_shape, out=None, *, strides=1, padding="valid",
                                   dilation_rate=1):
    """dx = dL/dx of :func:`depthwise_conv2d` for an input of ``input_shape``."""
    op = "depthwise_conv2d_backward_data"
    dy, w = as_tensor(dy, op, "dy"), as_tensor(w, op, "w")
    _, geo = _depthwise_geometry(op, input_shape, tuple(w.shape), strides, padding, dilation_rate)
    dx = _out(out, input_shape, op, device=dy.device, check_shape=True)
    _C.depthwise_conv2d_backward_data(dy, w, dx, *geo)
    return dx


def depthwise_conv2d_backward_weights(x, dy, kernel_shape, out=None, bias_out=None, *, strides=1,
                                      padding="valid", dilation_rate=1, bias=False):
    """dw (``kernel_shape`` (KH, KW, C, DM)) of :func:`depthwise_conv2d`, and db = column sums of
    dy when ``bias`` or ``bias_out``. Returns dw, or (dw, db)."""
    op = "depthwise_conv2d_backward_weights"
    x, dy = as_tensor(x, op, "x"), as_tensor(dy, op, "dy")
    kernel_shape = tuple(int(d) for d in kernel_shape)
    _, geo = _depthwise_geometry(op, x.shape, kernel_shape, strides, padding, dilation_rate)
    dw = _out(out, kernel_shape, op, device=x.device, check_shape=True)
    want_bias = bias or bias_out is not None
    db = _out(bias_out, (kernel_shape[2] * kernel_shape[3],), op, device=x.device) if want_bias else None
    _C.depthwise_conv2d_backward_weights(x, dy, dw, db, *geo)
    return (dw, db) if want_bias else dw


def prelu_forward(x, alpha, out=None):
    """y = x if x > 0 else alpha * x; alpha has x's shape without the batch axis, 1 on shared axes."""
    op = "prelu_forward"
    x, alpha = as_tensor(x, op, "x"), as_tensor(alpha, op, "alpha")
    y = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    _C.prelu_forward(x, alpha, y)
    return y


def prelu_backward(x, alpha, dy, dx_out=None, dalpha_out=None, *, need_dx=True, need_dalpha=True):
    """(dx, dalpha) of :func:`prelu_forward` given dy: dx = dy * (x > 0 ? 1 : alpha), dalpha =
    sum over the broadcast positions of dy * x * [x <= 0]. An output not needed is None (and
    passing its ``*_out`` then is an error)."""
    op = "prelu_backward"
    x, alpha, dy = as_tensor(x, op, "x"), as_tensor(alpha, op, "alpha"), as_tensor(dy, op, "dy")
    for name, out, need in (("dx_out", dx_out, need_dx), ("dalpha_out", dalpha_out, need_dalpha)):
        if out is not None and not need:
            raise ValueError(f"{op}: {name} is given but need_{name[:-4]} is False (it would not "
                             f"be written)")
    dx = _out(dx_out, x.shape, op, device=x.device) if need_dx else None
    da = _out(dalpha_out, alpha.shape, op, device=x.device) if need_dalpha else None
    _C.prelu_backward(x, alpha, dy, dx, da)
    return dx, da


_ISSUE13 = ["conv_transpose_output_length", "conv2d_transpose_output_shape", "conv2d_transpose",
            "conv2d_transpose_backward_data", "conv2d_transpose_backward_weights",
            "depthwise_conv2d_output_shape", "depthwise_conv2d", "depthwise_conv2d_backward_data",
            "depthwise_conv2d_backward_weights", "prelu_forward", "prelu_backward"]
__all__ += _ISSUE13
for _name in _ISSUE13:
    globals()[_name] = _names_its_errors(globals()[_name])
del _name, _ISSUE13

# ---------------------------------------------------------------------------------------------
# 3-D convolution and pooling (NDHWC volumes; kernels (KD, KH, KW, Cin, Cout) as Keras). Strides,
# dilation, pool sizes are (D, H, W) triples; the per-axis output-size rules are conv2d's.

def _triple(value, what, op):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,) * 3
    value = tuple(value)
    if len(value) != 3 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                  and v > 0 for v in value):
        raise ValueError(f"{op}: {what} must be a positive int or 3 of them, got {value!r}")
    return tuple(int(v) for v in value)


def _tensor(t, op, arg):
    return t if type(t) is Tensor else as_tensor(t, op, arg)


def _check_dy(op, dy, shape, what, what_shape):
    """The output gradient must have the forward's output shape."""
    if tuple(dy.shape) != tuple(shape):
        raise ValueError(f"{op}: dy must have shape {tuple(shape)} for {what} {tuple(what_shape)}, "
                         f"got {tuple(dy.shape)}")


def _kernel5(shape, op, arg="w"):
    shape = tuple(int(d) for d in shape)
    if len(shape) != 5:
        raise ValueError(f"{op}: {arg} must be 5-D (KD, KH, KW, Cin, Cout), got shape {shape}")
    return shape


def conv3d_output_shape(input_shape, kernel_size, filters, strides=1, padding="valid",
                        dilation_rate=1, op="conv3d"):
    """((N, OD, OH, OW, filters), (pad_front, pad_top, pad_left)) for an NDHWC ``input_shape``
    ('valid' / TensorFlow's 'same' per axis, as conv2d). Unknown (None) sizes stay None."""
    if len(input_shape) != 5:
        raise ValueError(f"{op}: input must be 5-D (batch, depth, height, width, channels), got "
                         f"shape {tuple(input_shape)}")
    ks, ss = _triple(kernel_size, "kernel_size", op), _triple(strides, "strides", op)
    ds = _triple(dilation_rate, "dilation_rate", op)
    axes = [conv_output_length(input_shape[1 + a], ks[a], ss[a], padding, ds[a], op) for a in range(3)]
    return ((input_shape[0],) + tuple(o for o, _ in axes) + (int(filters),),
            tuple(p for _, p in axes))


def conv3d(x, w, bias=None, out=None, *, strides=1, padding="valid", dilation_rate=1, groups=1):
    """y = conv3d(x, w) + bias: x (N, D, H, W, Cin), w (KD, KH, KW, Cin / groups, Cout) ->
    (N, OD, OH, OW, Cout). Returns ``out``."""
    op = "conv3d_forward"
    x, w = _tensor(x, op, "x"), _tensor(w, op, "w")
    ks = _kernel5(w.shape, op)
    shape, pads = conv3d_output_shape(tuple(x.shape), ks[:3], ks[4], strides, padding, dilation_rate, op)
    y = _out(out, shape, op, device=x.device, check_shape=True)
    bias = None if bias is None else _tensor(bias, op, "bias")
    _C.conv3d_forward(x, w, bias, y, _triple(strides, "strides", op), pads,
                      _triple(dilation_rate, "dilation_rate", op), _int(groups, op, "groups"))
    return y


def conv3d_backward_data(dy, w, input_shape, out=None, *, strides=1, padding="valid",
                         dilation_rate=1, groups=1):
    """dx = dL/dx of :func:`conv3d` for an input of shape ``input_shape``, given dy."""
    op = "conv3d_backward_data"
    dy, w = _tensor(dy, op, "dy"), _tensor(w, op, "w")
    ks = _kernel5(w.shape, op)
    shape, pads = conv3d_output_shape(tuple(input_shape), ks[:3], ks[4], strides, padding, dilation_rate, op)
    _check_dy(op, dy, shape, "input", input_shape)
    dx = _out(out, input_shape, op, device=dy.device, check_shape=True)
    _C.conv3d_backward_data(dy, w, dx, _triple(strides, "strides", op), pads,
                            _triple(dilation_rate, "dilation_rate", op), _int(groups, op, "groups"))
    return dx


def conv3d_backward_weights(x, dy, kernel_shape, out=None, bias_out=None, *, strides=1,
                            padding="valid", dilation_rate=1, bias=False, groups=1):
    """dw = dL/dw of :func:`conv3d` (shape ``kernel_shape``), and db = column sums of dy when
    ``bias`` or ``bias_out`` is given. Returns dw, or (dw, db)."""
    op = "conv3d_backward_weights"
    x, dy = _tensor(x, op, "x"), _tensor(dy, op, "dy")
    ks = _kernel5(kernel_shape, op, "kernel_shape")
    shape, pads = conv3d_output_shape(tuple(x.shape), ks[:3], ks[4], strides, padding, dilation_rate, op)
    _check_dy(op, dy, shape, "x", x.shape)
    dw = _out(out, ks, op, device=x.device, check_shape=True)
    want_bias = bias or bias_out is not None
    db = _out(bias_out, ks[4:], op, device=x.device) if want_bias else None
    _C.conv3d_backward_weights(x, dy, dw, db, _triple(strides, "strides", op), pads,
                               _triple(dilation_rate, "dilation_rate", op), _int(groups, op, "groups"))
    return (dw, db) if want_bias else dw


def conv3d_transpose_output_shape(input_shape, kernel_size, filters, strides=1, padding="valid",
                                  output_padding=None, dilation_rate=1, op="conv3d_transpose"):
    """((N, OD, OH, OW, filters), (pad_front, pad_top, pad_left)) of a transposed conv on NDHWC
    input: Keras 3's output-length rule per axis (see conv_transpose_output_length)."""
    if len(input_shape) != 5:
        raise ValueError(f"{op}: input must be 5-D (batch, depth, height, width, channels), got "
                         f"shape {tuple(input_shape)}")
    ks, ss = _triple(kernel_size, "kernel_size", op), _triple(strides, "strides", op)
    ds = _triple(dilation_rate, "dilation_rate", op)
    if output_padding is None or isinstance(output_padding, (int, np.integer)):
        ops_ = (output_padding,) * 3
    else:
        ops_ = tuple(output_padding)
        if len(ops_) != 3:
            raise ValueError(f"{op}: output_padding must be None, an int or 3 ints, got {output_padding!r}")
    axes = [conv_transpose_output_length(input_shape[1 + a], ks[a], ss[a], padding, ops_[a], ds[a], op)
            for a in range(3)]
    return ((input_shape[0],) + tuple(o for o, _ in axes) + (int(filters),),
            tuple(p for _, p in axes))


def _transpose3d_args(op, x_shape, w_shape, strides, padding, output_padding, dilation_rate):
    """(output shape, (strides, padding, dilation)) of a transposed 3-D conv; w (KD, KH, KW, Cout, Cin)."""
    ks = _kernel5(w_shape, op)
    shape, pads = conv3d_transpose_output_shape(tuple(x_shape), ks[:3], ks[3], strides, padding,
                                                output_padding, dilation_rate, op)
    return shape, (_triple(strides, "strides", op), pads, _triple(dilation_rate, "dilation_rate", op))


def conv3d_transpose(x, w, bias=None, out=None, *, strides=1, padding="valid", output_padding=None,
                     dilation_rate=1):
    """y = conv3d_transpose(x, w) + bias: x (N, D, H, W, Cin), w (KD, KH, KW, Cout, Cin) (Keras's
    Conv3DTranspose kernel) -> (N, OD, OH, OW, Cout): the data gradient of the conv3d whose
    kernel is w. Returns ``out``."""
    op = "conv3d_transpose_forward"
    x, w = _tensor(x, op, "x"), _tensor(w, op, "w")
    shape, geo = _transpose3d_args(op, x.shape, w.shape, strides, padding, output_padding, dilation_rate)
    y = _out(out, shape, op, device=x.device, check_shape=True)
    bias = None if bias is None else _tensor(bias, op, "bias")
    _C.conv3d_transpose_forward(x, w, bias, y, *geo)
    return y


def conv3d_transpose_backward_data(dy, w, input_shape, out=None, *, strides=1, padding="valid",
                                   output_padding=None, dilation_rate=1):
    """dx = dL/dx of :func:`conv3d_transpose` for an input of ``input_shape`` (a conv3d of dy
    with kernel w)."""
    op = "conv3d_transpose_backward_data"
    dy, w = _tensor(dy, op, "dy"), _tensor(w, op, "w")
    shape, geo = _transpose3d_args(op, input_shape, w.shape, strides, padding, output_padding, dilation_rate)
    _check_dy(op, dy, shape, "input", input_shape)
    dx = _out(out, input_shape, op, device=dy.device, check_shape=True)
    _C.conv3d_transpose_backward_data(dy, w, dx, *geo)
    return dx


def conv3d_transpose_backward_weights(x, dy, kernel_shape, out=None, bias_out=None, *, strides=1,
                                      padding="valid", output_padding=None, dilation_rate=1,
                                      bias=False):
    """dw (``kernel_shape`` (KD, KH, KW, Cout, Cin)) of :func:`conv3d_transpose`, and db = column
    sums of dy when ``bias`` or ``bias_out``. Returns dw, or (dw, db)."""
    op = "conv3d_transpose_backward_weights"
    x, dy = _tensor(x, op, "x"), _tensor(dy, op, "dy")
    ks = _kernel5(kernel_shape, op, "kernel_shape")
    shape, geo = _transpose3d_args(op, x.shape, ks, strides, padding, output_padding, dilation_rate)
    _check_dy(op, dy, shape, "x", x.shape)
    dw = _out(out, ks, op, device=x.device, check_shape=True)
    want_bias = bias or bias_out is not None
    db = _out(bias_out, ks[3:4], op, device=x.device) if want_bias else None
    _C.conv3d_transpose_backward_weights(x, dy, dw, db, *geo)
    return (dw, db) if want_bias else dw


def pool3d_output_shape(x_shape, pool_size, strides, padding, op="pool3d"):
    """(N, OD, OH, OW, C) of pooling an (N, D, H, W, C) input; raises when the window does not fit."""
    if len(x_shape) != 5:
        raise ValueError(f"{op}: x must be (N, D, H, W, C) (rank 5), got shape {tuple(x_shape)}")
    out = _C.pool3d_output_dhw([int(v) for v in x_shape[1:4]], list(_triple(pool_size, "pool_size", op)),
                               list(_triple(strides, "strides", op)), _padding(padding, op), op)
    return (x_shape[0], *out, x_shape[4])


def _pool3d_args(pool_size, strides, padding, op):
    return (list(_triple(pool_size, "pool_size", op)), list(_triple(strides, "strides", op)),
            _padding(padding, op))


def max_pool3d_forward(x, pool_size, strides, padding="valid", out=None, argmax=None):
    """y = max over each window of x (N, D, H, W, C); returns (y, argmax). argmax (int32, y's
    shape) holds (d*H + h)*W + w of each window's first maximum; max_pool3d_backward needs it."""
    op = "max_pool3d_forward"
    x = _tensor(x, op, "x")
    shape = pool3d_output_shape(x.shape, pool_size, strides, padding, op)
    y = _out(out, shape, op, device=x.device)
    am = _out(argmax, shape, op, dtype="int32", device=x.device)
    _C.max_pool3d_forward(x, y, am, *_pool3d_args(pool_size, strides, padding, op))
    return y, am


def max_pool3d_backward(dy, argmax, x_shape, pool_size, strides, padding="valid", out=None):
    """dx (x_shape) = dy routed to each window's argmax, summed where windows overlap."""
    op = "max_pool3d_backward"
    dy = _tensor(dy, op, "dy")
    dx = _out(out, x_shape, op, device=dy.device)
    _C.max_pool3d_backward(dy, _tensor(argmax, op, "argmax"), dx,
                           *_pool3d_args(pool_size, strides, padding, op))
    return dx


def avg_pool3d_forward(x, pool_size, strides, padding="valid", out=None):
    """y = mean over each window's real (unpadded) cells of x (N, D, H, W, C)."""
    op = "avg_pool3d_forward"
    x = _tensor(x, op, "x")
    y = _out(out, pool3d_output_shape(x.shape, pool_size, strides, padding, op), op, device=x.device)
    _C.avg_pool3d_forward(x, y, *_pool3d_args(pool_size, strides, padding, op))
    return y


def avg_pool3d_backward(dy, x_shape, pool_size, strides, padding="valid", out=None):
    """dx (x_shape) = sum over covering windows of dy / (the window's real-cell count)."""
    op = "avg_pool3d_backward"
    dy = _tensor(dy, op, "dy")
    dx = _out(out, x_shape, op, device=dy.device)
    _C.avg_pool3d_backward(dy, dx, *_pool3d_args(pool_size, strides, padding, op))
    return dx


_VOLUME_OPS = ["conv3d_output_shape", "conv3d", "conv3d_backward_data", "conv3d_backward_weights",
               "conv3d_transpose_output_shape", "conv3d_transpose", "conv3d_transpose_backward_data",
               "conv3d_transpose_backward_weights", "pool3d_output_shape", "max_pool3d_forward",
               "max_pool3d_backward", "avg_pool3d_forward", "avg_pool3d_backward"]
__all__ += _VOLUME_OPS
for _name in _VOLUME_OPS:
    globals()[_name] = _names_its_errors(globals()[_name])
del _name, _VOLUME_OPS
# Confusion counts for AUC / Precision / Recall

def confusion_counts(y_pred, y_true, thresholds, *, soft_labels: bool = False,
                     sample_weight=None) -> np.ndarray:
    """(T, 4) float64 array of [tp, fp, tn, fn] for ``y_pred > thresholds[t]`` over all elements.

    ``thresholds`` must be ascending. A label counts as positive when nonzero, or with
    ``soft_labels`` y_true counts y as positive and 1 - y as negative (Keras' AUC weighting).
    ``sample_weight`` gives one weight per sample (per row of y_pred seen as (rows, C)).
    """
    y_pred = y_pred if type(y_pred) is Tensor else as_tensor(y_pred, "confusion_counts", "y_pred")
    y_true = as_tensor(_float_targets(y_true), "confusion_counts", "y_true")
    if sample_weight is not None:
        sample_weight = as_tensor(_float_targets(sample_weight), "confusion_counts", "sample_weight")
    thr = [float(t) for t in np.asarray(thresholds, dtype=np.float32).reshape(-1)]
    out = _C.confusion_counts(y_pred, y_true, thr, bool(soft_labels), sample_weight)
    return np.asarray(out, dtype=np.float64).reshape(len(thr), 4)


confusion_counts = _names_its_errors(confusion_counts)
__all__.append("confusion_counts")


def ctc_loss(logits, labels, label_lengths, logit_lengths, blank=0):
    """(loss (B,), grad (B, T, K)): the CTC loss of logits (B, T, K) for int labels (B, L) with
    per-sample lengths, blank class ``blank`` (csrc/ops/ctc.h), and its gradient w.r.t. the logits."""
    op = "ctc_loss"
    logits = logits if type(logits) is Tensor else as_tensor(logits, op, "logits")

    def ints(v, arg):
        a = np.asarray(v)
        if a.dtype.kind not in "iu" and not (a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a))):
            raise TypeError(f"{op}: {arg} must hold integers, got dtype {a.dtype}")
        return as_tensor(np.ascontiguousarray(a, dtype=np.int64), op, arg)
    labels, label_lengths = ints(labels, "labels"), ints(label_lengths, "label_lengths")
    logit_lengths = ints(logit_lengths, "logit_lengths")
    batch = logits.shape[0] if logits.ndim >= 1 else 0
    loss = _out(None, (batch,), op, device=logits.device)
    grad = _out(None, logits.shape, op, device=logits.device)
    _C.ctc_loss(logits, labels, label_lengths, logit_lengths, _int_arg(blank, op, "blank"), loss, grad)
    return loss, grad


__all__.append("ctc_loss")


# ---------------------------------------------------------------------------------------------
# Image preprocessing: resize2d (Resizing, CenterCrop) and image_transform (the random affine
# augmentation layers). The math is in csrc/ops/resize2d.h and csrc/ops/image_transform.h.

RESIZE_INTERPOLATIONS = ("bilinear", "nearest")
FILL_MODES = ("reflect", "wrap", "nearest", "constant")


def _image_shape(t, op, arg):
    if t.ndim != 4:
        raise ValueError(f"{op}: {arg} must be (N, H, W, C) (rank 4), got shape {tuple(t.shape)}")
    return tuple(t.shape)


def _window(window, h, w, op):
    """(top, left, height, width) of the resized part of the input; None: all of it."""
    if window is None:
        return 0, 0, h, w
    if not isinstance(window, (list, tuple)) or len(window) != 4:
        raise ValueError(f"{op}: window must be (top, left, height, width), got {window!r}"[:200])
    return tuple(_int(v, op, "each entry of window") for v in window)


def resize2d_forward(x, size, interpolation: str = "bilinear", window=None, out=None):
    """y (N, OH, OW, C): the ``window`` (top, left, height, width; default all) of x (N, H, W, C)
    resized to ``size`` (OH, OW) as Keras Resizing / TF resize (half-pixel centres, no
    antialiasing): 'bilinear' (edges clamped) or 'nearest'."""
    op = "resize2d_forward"
    interpolation = _known_kind(interpolation, RESIZE_INTERPOLATIONS, op, "interpolation")
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    n, h, w, c = _image_shape(x, op, "x")
    oh, ow = _size2_nonneg(size, op)
    top, left, wh, ww = _window(window, h, w, op)
    y = _out(out, (n, oh, ow, c), op, device=x.device, check_shape=True)  # the entry reads OH, OW from y
    _C.resize2d_forward(x, y, top, left, wh, ww, interpolation)
    return y


def resize2d_backward(dy, input_shape, interpolation: str = "bilinear", window=None, out=None):
    """dx (input_shape): the gradient of resize2d_forward given dy (N, OH, OW, C); zero outside
    the window."""
    op = "resize2d_backward"
    interpolation = _known_kind(interpolation, RESIZE_INTERPOLATIONS, op, "interpolation")
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    _image_shape(dy, op, "dy")
    shape = _shape_arg(input_shape, op)
    if len(shape) != 4:
        raise ValueError(f"{op}: input_shape must be (N, H, W, C), got {shape}")
    top, left, wh, ww = _window(window, shape[1], shape[2], op)
    dx = _out(out, shape, op, device=dy.device, check_shape=True)
    _C.resize2d_backward(dy, dx, top, left, wh, ww, interpolation)
    return dx


def _size2_nonneg(size, op):
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise ValueError(f"{op}: size must be (height, width), got {size!r}"[:200])
    oh, ow = (_int(v, op, "size") for v in size)
    if oh < 0 or ow < 0:
        raise ValueError(f"{op}: size must not be negative, got {(oh, ow)}")
    return oh, ow


def _transforms(transforms, n, op):
    """transforms as a float32 Tensor (N, 8); one (8,) array or list is repeated for the batch.
    Other dtypes are refused (the C++ entry names them), not converted."""
    if isinstance(transforms, Tensor):
        return transforms
    t = transforms if isinstance(transforms, np.ndarray) else np.asarray(transforms, np.float32)
    if t.ndim == 1 and t.dtype == np.float32:
        t = np.ascontiguousarray(np.broadcast_to(t, (n, t.shape[0])))
    return as_tensor(t, op, "transforms")


def nms_greedy(boxes, order, max_output, iou_threshold):
    """Indices (int64 NumPy) kept by greedy NMS (csrc/ops/nms.h): ``boxes`` (N, 4) float32,
    ``order`` (K,) the candidate indices best first; a candidate is kept unless its IoU with a
    kept box exceeds ``iou_threshold``; at most ``max_output``."""
    b = np.ascontiguousarray(np.asarray(boxes, np.float32))
    o = np.ascontiguousarray(np.asarray(order, np.int64))
    keep = np.empty(o.shape, np.int64)
    count = _C.nms_greedy(as_tensor(b, "nms_greedy", "boxes"), as_tensor(o, "nms_greedy", "order"),
                          as_tensor(keep, "nms_greedy", "keep"), int(max_output), float(iou_threshold))
    return keep[:count]


def image_transform_forward(x, transforms, output_size=None, interpolation: str = "bilinear",
                            fill_mode: str = "constant", fill_value: float = 0.0, out=None):
    """y (N, OH, OW, C) = x (N, H, W, C) warped by one projective transform per sample
    (Keras ops.image.affine_transform): transforms (N, 8) [a0 a1 a2 b0 b1 b2 c0 c1] (or one (8,)
    for all) map an output pixel (col X, row Y) to the input point ((a0 X + a1 Y + a2) / k,
    (b0 X + b1 Y + b2) / k), k = c0 X + c1 Y + 1. ``output_size`` (OH, OW) defaults to (H, W).
    fill_mode: reflect, wrap, nearest, constant (fill_value)."""
    op = "image_transform_forward"
    interpolation = _known_kind(interpolation, RESIZE_INTERPOLATIONS, op, "interpolation")
    fill_mode = _known_kind(fill_mode, FILL_MODES, op, "fill_mode")
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    n, h, w, c = _image_shape(x, op, "x")
    oh, ow = (h, w) if output_size is None else _size2_nonneg(output_size, op)
    t = _transforms(transforms, n, op)
    y = _out(out, (n, oh, ow, c), op, device=x.device, check_shape=True)  # the entry reads OH, OW from y
    _C.image_transform_forward(x, t, y, interpolation, fill_mode, float(fill_value))
    return y


def image_transform_backward(dy, transforms, input_shape, interpolation: str = "bilinear",
                             fill_mode: str = "constant", out=None):
    """dx (input_shape): the gradient of image_transform_forward with respect to x, given dy
    (N, OH, OW, C); the fill value carries no gradient."""
    op = "image_transform_backward"
    interpolation = _known_kind(interpolation, RESIZE_INTERPOLATIONS, op, "interpolation")
    fill_mode = _known_kind(fill_mode, FILL_MODES, op, "fill_mode")
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    _image_shape(dy, op, "dy")
    shape = _shape_arg(input_shape, op)
    if len(shape) != 4:
        raise ValueError(f"{op}: input_shape must be (N, H, W, C), got {shape}")
    t = _transforms(transforms, shape[0], op)
    dx = _out(out, shape, op, device=dy.device, check_shape=True)
    _C.image_transform_backward(dy, t, dx, interpolation, fill_mode)
    return dx


_IMAGE_OPS = ["resize2d_forward", "resize2d_backward", "image_transform_forward",
              "image_transform_backward"]
__all__ += _IMAGE_OPS + ["RESIZE_INTERPOLATIONS", "FILL_MODES"]
for _name in _IMAGE_OPS:
    globals()[_name] = _names_its_errors(globals()[_name])
del _name, _IMAGE_OPS

# ---- group / unit normalization and the noise layers (issue 13, part A)
# The math is in csrc/ops/group_norm.h, csrc/ops/unit_norm.h and csrc/ops/noise.h.

def _int_arg(value, op, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {what} must be an int, got {value!r}")
    return int(value)


def group_norm_forward(x, gamma=None, beta=None, *, axis: int = -1, groups: int = 32,
                       epsilon: float = 1e-3, out=None, mean=None, inv_std=None):
    """Group normalization: the channels of ``x`` along ``axis`` fall into ``groups`` groups of
    consecutive channels; each (sample, group) is normalised by its own mean and biased variance
    over all its values: y = gamma_c * (x - mean) / sqrt(var + epsilon) + beta_c. ``gamma`` /
    ``beta`` are (C,) or None (1 / 0). Returns (y, mean, inv_std), the last two (N, groups)."""
    op = "group_norm_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    axis = _int_arg(axis, op, "axis")
    groups = _int_arg(groups, op, "groups")
    axis = axis + x.ndim if axis < 0 else axis
    stats = [x.shape[0] if x.ndim else 0, max(groups, 0)]
    y = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    mean = mean if type(mean) is Tensor else _out(mean, stats, op, device=x.device)
    inv_std = inv_std if type(inv_std) is Tensor else _out(inv_std, stats, op, device=x.device)
    _C.group_norm_forward(x, _opt(gamma, op, "gamma"), _opt(beta, op, "beta"), y, mean, inv_std,
                          axis, groups, float(epsilon))
    return y, mean, inv_std


def group_norm_backward(dy, x, gamma, mean, inv_std, *, axis: int = -1, groups: int = 32, dx=None,
                        dgamma=None, dbeta=None, need_dx: bool = True):
    """Gradients of group normalization given the forward's ``mean`` / ``inv_std`` (N, groups).

    With xhat = (x - mean) * inv_std and g = dy * gamma_c, per (sample, group) of M values:
    dx = inv_std * (g - sum g / M - xhat * sum(g * xhat) / M); per channel: dgamma = sum dy * xhat,
    dbeta = sum dy. ``dgamma`` / ``dbeta`` are written only when given; dx is allocated when not
    given, unless ``need_dx`` is False. Returns dx (or None)."""
    op = "group_norm_backward"
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    axis = _int_arg(axis, op, "axis")
    axis = axis + x.ndim if axis < 0 else axis
    dx = _out(dx, dy.shape, op, device=dy.device) if need_dx else None
    _C.group_norm_backward(dy, x, _opt(gamma, op, "gamma"), as_tensor(mean, op, "mean"),
                           as_tensor(inv_std, op, "inv_std"), dx, _opt(dgamma, op, "dgamma"),
                           _opt(dbeta, op, "dbeta"), axis, _int_arg(groups, op, "groups"))
    return dx


def _axis_run(axes, ndim, op):
    """(first_axis, num_axes) of a contiguous run of axes (ints, negatives count from the end)."""
    axes = list(axes) if isinstance(axes, (list, tuple)) else [axes]
    axes = [_int_arg(a, op, "axis") for a in axes]
    if not axes or any(not -ndim <= a < ndim for a in axes):
        raise ValueError(f"{op}: axis {axes} is out of range for an input of rank {ndim}")
    pos = sorted({a % ndim for a in axes})
    if len(pos) != len(axes) or pos != list(range(pos[0], pos[0] + len(pos))):
        raise ValueError(f"{op}: axis {axes} must name distinct, adjacent axes")
    return pos[0], len(pos)


def unit_norm_forward(x, *, axis=-1, out=None):
    """y = x / sqrt(max(sum x^2, 1e-12)), the sum over ``axis`` (an int or a list of adjacent
    axes), as Keras' UnitNormalization."""
    op = "unit_norm_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    first, count = _axis_run(axis, x.ndim, op)
    y = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    _C.unit_norm_forward(x, y, first, count)
    return y


def unit_norm_backward(dy, x, *, axis=-1, out=None):
    """dx of unit_norm_forward: inv * dy - x * inv^3 * sum(dy * x) with inv = 1 / |x| (dx = inv *
    dy where the squared norm is under the 1e-12 floor)."""
    op = "unit_norm_backward"
    dy = dy if type(dy) is Tensor else as_tensor(dy, op, "dy")
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    first, count = _axis_run(axis, x.ndim, op)
    dx = out if type(out) is Tensor else _out(out, dy.shape, op, device=dy.device)
    _C.unit_norm_backward(dy, x, dx, first, count)
    return dx


def _seed64(seed, op):
    return _int_arg(seed, op, "seed") & 0xFFFFFFFFFFFFFFFF


def gaussian_noise_forward(x, stddev: float, seed: int, out=None):
    """y = x + stddev * z, z standard normal drawn from ``seed`` (element i's draw depends on
    (seed, i) only). The gradient is dy itself."""
    op = "gaussian_noise_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    y = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    _C.gaussian_noise_forward(x, y, float(stddev), _seed64(seed, op))
    return y


def gaussian_dropout_forward(x, rate: float, seed: int, out=None, mask=None):
    """mask = 1 + sqrt(rate / (1 - rate)) * z (z standard normal from ``seed``), y = x * mask.
    Returns (y, mask); the backward is dropout_backward(dy, mask)."""
    op = "gaussian_dropout_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    y = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    mask = mask if type(mask) is Tensor else _out(mask, x.shape, op, device=x.device)
    _C.gaussian_dropout_forward(x, y, mask, float(rate), _seed64(seed, op))
    return y, mask


def alpha_dropout_forward(x, rate: float, seed: int, out=None, mask=None):
    """Alpha dropout (keeps SELU's mean and variance): keep = u(seed, i) >= rate,
    y = keep ? a * x + b : a * alpha' + b with alpha' = -SELU scale * alpha,
    a = ((1 - rate)(1 + rate alpha'^2))^-1/2, b = -a alpha' rate. Returns (y, mask) with
    mask = keep ? a : 0; the backward is dropout_backward(dy, mask)."""
    op = "alpha_dropout_forward"
    x = x if type(x) is Tensor else as_tensor(x, op, "x")
    y = out if type(out) is Tensor else _out(out, x.shape, op, device=x.device)
    mask = mask if type(mask) is Tensor else _out(mask, x.shape, op, device=x.device)
    _C.alpha_dropout_forward(x, y, mask, float(rate), _seed64(seed, op))
    return y, mask


_LAYERS_A = ["group_norm_forward", "group_norm_backward", "unit_norm_forward",
             "unit_norm_backward", "gaussian_noise_forward", "gaussian_dropout_forward",
             "alpha_dropout_forward"]
__all__ += _LAYERS_A
for _name in _LAYERS_A:
    globals()[_name] = _names_its_errors(globals()[_name])
del _name, _LAYERS_A


def additive_attention_scores_forward(query, key, w, alpha: float = 1.0, out=None):
    """scores (N, Tq, Tv) = sum_d w[d] * tanh(alpha * (query[n, i, d] + key[n, j, d])): query
    (N, Tq, D), key (N, Tv, D), w (D,). Keras' AdditiveAttention (w = scale, alpha = 1) and
    Attention(score_mode='concat') (w = concat_score_weight, alpha = scale)."""
    op = "additive_attention_scores_forward"
    query, key = as_tensor(query, op, "query"), as_tensor(key, op, "key")
    shape = [query.shape[0] if query.ndim else 0, query.shape[1] if query.ndim > 1 else 0,
             key.shape[1] if key.ndim > 1 else 0]
    scores = out if type(out) is Tensor else _out(out, shape, op, device=query.device)
    _C.additive_attention_scores_forward(query, key, as_tensor(w, op, "w"), float(alpha), scores)
    return scores


def additive_attention_scores_backward(dscores, query, key, w, alpha: float = 1.0, *, dquery=None,
                                       dkey=None, dw=None, dalpha=None):
    """Gradients of additive_attention_scores_forward; each of ``dquery`` (N, Tq, D), ``dkey``
    (N, Tv, D), ``dw`` (D,), ``dalpha`` (shape ()) is written only when given. Returns them."""
    op = "additive_attention_scores_backward"
    _C.additive_attention_scores_backward(
        as_tensor(dscores, op, "dscores"), as_tensor(query, op, "query"), as_tensor(key, op, "key"),
        as_tensor(w, op, "w"), float(alpha), _opt(dquery, op, "dquery"), _opt(dkey, op, "dkey"),
        _opt(dw, op, "dw"), _opt(dalpha, op, "dalpha"))
    return dquery, dkey, dw, dalpha


_LAYERS_A = ["additive_attention_scores_forward", "additive_attention_scores_backward"]
__all__ += _LAYERS_A
for _name in _LAYERS_A:
    globals()[_name] = _names_its_errors(globals()[_name])
del _name, _LAYERS_A


# ---------------------------------------------------------------------------------------------
# The compiled entries themselves, for the layers' per-step paths (issue 15: Python work per
# call). A layer's forward / backward calls these with Tensors it already holds (its input, its
# weights, its buffers) and with arguments it computed and checked once per input shape (a conv's
# geometry), so the public functions' per-call conversions, defaults and shape arithmetic are not
# redone every step. Nothing is left unchecked: the C++ entries check every tensor (dtype, rank,
# shapes against each other, device, aliasing) and open every message with their op, and a layer
# checks its input (Layer.check_input_shape, the model's input checks) before it gets here.
# Positional arguments, in the order of the bindings (csrc/bindings/register_*.cpp).

_gemm = _C.gemm                                   # a, b, c, trans_a, trans_b, alpha, beta, bias, act[, keep_b_packed]
_packed_b_stats = _C._packed_b_stats               # the packed-weight cache's counters (tests)
_winograd_kernel_stats = _C._winograd_kernel_stats   # ... and the kept Winograd kernels' (tests)
_packed_b_bytes = _C._packed_b_bytes               # bytes kept packed on a Tensor's storage
_int8_kept_stats = _C._int8_kept_stats             # the kept int8 kernels' counters (tests)
_int8_kept_bytes = _C._int8_kept_bytes             # bytes of the int8 kernel kept on a Tensor's storage
_bias_grad = _C.bias_grad                         # dy, db
_activation_backward = _C.activation_backward     # kind, x, y, dy, dx, alpha
_reshape = Tensor.reshape   # t, [dims] (-1: the rest): the C++ view, before _tensor_numpy gives
                            # Tensor.reshape NumPy's spelling (corenn imports this module first)
_adam_update = _C.adam_update   # params, grads, m, v, vhat, lr, beta_1, beta_2, eps, step, amsgrad,
                                # weight_decay=, clipnorm=, clipvalue=, global_clipnorm=
_conv2d_forward = _C.conv2d_forward               # x, w, bias, y, sh, sw, pt, pl, dh, dw, act, groups[, keep_w]
_conv2d_backward_data = _C.conv2d_backward_data   # dy, w, dx, sh, sw, pt, pl, dh, dw
_conv2d_backward_data_relu_sum = _C.conv2d_backward_data_relu_sum   # dy, w, dx, add, relu_of, sh, sw, pt, pl, dh, dw, groups
_conv2d_backward_weights = _C.conv2d_backward_weights   # x, dy, dw, db, sh, sw, pt, pl, dh, dw
_conv3d_forward = _C.conv3d_forward               # x, w, bias, y, strides, pads, dilations, groups (triples)
_conv3d_backward_data = _C.conv3d_backward_data   # dy, w, dx, strides, pads, dilations, groups
_conv3d_backward_weights = _C.conv3d_backward_weights   # x, dy, dw, db, strides, pads, dilations, groups
_conv2d_relu_max_pool2d_forward = _C.conv2d_relu_max_pool2d_forward   # x, w, bias, y, am, oh, ow, pt, pl[, keep_w]
_conv2d_relu_max_pool2d_backward_weights = _C.conv2d_relu_max_pool2d_backward_weights
_rnn_forward = {cell: getattr(_C, f"{cell}_forward") for cell in _RNN_GATES}   # see rnn_forward
