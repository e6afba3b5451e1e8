"""Ops on float64 and float16 tensors: Keras 3's result dtypes, and float64's precision.

The C++ kernels compute in float32 (ARCHITECTURE.md, "Storage-only dtypes"). Keras 3 promotes an
op's operands (float64 wins over every other dtype; float16 with float16 or an integer stays
float16; with float32 it is float32; Python numbers are weak and take the tensor's dtype), and a
program that casts to float64 does so for the precision: a variance of large numbers, a sum of
many small ones, a finite-difference check. So:

- float64: the elementwise arithmetic (ops._binary), the unary math (ops._unary), the common
  activations, sum / mean / max / min and matmul compute in float64 NumPy, with closed-form
  gradient rules in float64 (as ops._unary_np / _binary_np), and return float64 Tensors. A
  float32 operand enters through a recorded cast, so its gradient comes back float32. The
  convolutions and pooling have theirs in _ops_wide_conv.py; the ops with no float64 form
  (attention, the float32 layers' kernels) still convert to float32 and return float32, as
  before: a float32 result always means float32 arithmetic.
- float16: the op computes in float32 as before and rounds its result to float16 once (what
  TensorFlow's CPU kernels do, op by op); the gradient passes through the rounding.

NumPy float arrays stay float32 data (corenn reads NumPy float input as float32, as its layers
do), so they do not promote; a float64 *Tensor* (tf.constant(..., dtype=tf.float64), a cast, a
float64 Variable) does.
"""
from __future__ import annotations

import math

import numpy as np

from . import autodiff, kernels
from .kernels import Tensor

__all__ = ["result_float", "narrow", "as_dtype", "unary", "binary", "reduce", "matmul", "activation",
           "move", "narrow_all", "BINARY", "UNARY", "ACTIVATIONS",
           "ALPHA_ACTIVATIONS", "FLOAT64_ACTIVATIONS"]


# Tensor.dtype is one DTypeName instance per dtype (kernels._set_dtype_class), so the test on every
# op's path is by identity: a DTypeName's own == and properties cost several times more
_FLOAT32, _FLOAT64, _FLOAT16 = (kernels.empty((0,), name).dtype for name in ("float32", "float64", "float16"))


def result_float(*operands):
    """'float64' or 'float16' when an op on ``operands`` returns that dtype (Keras 3), else None
    (float32, or the op's integer path)."""
    has16 = has32 = False
    for x in operands:
        if isinstance(x, Tensor):
            d = x.dtype
            if d is _FLOAT32:
                has32 = True
            elif d is _FLOAT64:
                return "float64"
            elif d is _FLOAT16:
                has16 = True
        elif isinstance(x, np.ndarray) and x.dtype.kind == "f":
            has32 = True   # NumPy float data is float32 to corenn
    return "float16" if has16 and not has32 else None


def as_dtype(g, dtype):
    """Gradient g (a Tensor, or None) in ``dtype``: what a cast's rule hands back to its source."""
    if g is None or (isinstance(g, Tensor) and str(g.dtype) == str(dtype)):
        return g
    return Tensor.from_numpy(np.array(np.asarray(g), dtype=str(dtype), order="C"))


def _t64(a):
    return Tensor.from_numpy(np.array(a, dtype=np.float64, order="C", copy=True))


def _np64(x):
    return np.asarray(x, dtype=np.float64)


def _operand(x, op):
    """x as a float64 Tensor; a float32 / float16 Tensor through a recorded cast (its gradient
    returns in its own dtype), other data by value."""
    from . import ops
    if isinstance(x, Tensor):
        if str(x.dtype) == "float64":
            return x
        if x.dtype.is_floating:
            return ops.cast(x, "float64")
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"ops.{op}: expected numeric data (a tensor, array or number), got dtype {a.dtype}")
    return _t64(a)


def narrow(y, wide):
    """y, a float32 result, rounded to float16 when the op's result is float16 (else y itself);
    the gradient passes through the rounding back in float32."""
    if wide != "float16":
        return y
    out = Tensor.from_numpy(np.asarray(y).astype(np.float16))
    autodiff.record_op(lambda dys: [as_dtype(dys[0], "float32")], [y], [out], ("identity",))
    return out


def narrow_all(out, wide):
    """narrow() over an op's outputs (a Tensor, or a tuple / named tuple / list of them): the
    float32 Tensors among them are rounded to ``wide``."""
    if isinstance(out, Tensor):
        return narrow(out, wide) if out.dtype == "float32" else out
    if isinstance(out, (tuple, list)):
        items = [narrow_all(o, wide) for o in out]
        return type(out)(*items) if hasattr(out, "_fields") else type(out)(items)
    return out


def _record(rule, inputs, output, desc=None):
    # desc: the float32 op's descriptor where op_gradients.vjp can write this rule again with ops
    # (which run in float64 on float64 operands), so a nested tape differentiates it once more
    autodiff.record_op(rule, inputs, [output], desc)


# what op_gradients.vjp differentiates again (its _unary / _activation)
_VJP_UNARY = frozenset({"negative", "exp", "log", "sqrt", "square", "abs", "reciprocal", "sin", "cos"})
_VJP_ACTIVATIONS = frozenset({"relu", "leaky_relu", "tanh", "sigmoid", "elu", "softplus", "swish", "gelu"})


def unary(op, x, f, df=None, desc=None):
    """y = f(x) in float64; the rule dx = dy df(x, y) (df None: no gradient)."""
    x = _operand(x, op)
    with np.errstate(all="ignore"):
        y = _t64(f(_np64(x)))
    if df is not None:
        def rule(dys):
            with np.errstate(all="ignore"):
                return [_t64(_np64(dys[0]) * df(_np64(x), _np64(y)))]
        if desc is None and op in _VJP_UNARY and op in UNARY:
            desc = ("unary", op)
        _record(rule, [x], y, desc)
    return y


def binary(op, x1, x2, f, dfa=None, dfb=None):
    """y = f(a, b) in float64 with broadcasting; da = dy dfa(a, b, y) summed to a's shape."""
    from .ops import _broadcast_check, _sum_to
    a, b = _operand(x1, op), _operand(x2, op)
    _broadcast_check(op, a.shape, b.shape)
    with np.errstate(all="ignore"):
        y = _t64(f(_np64(a), _np64(b)))
    if dfa is not None:
        def rule(dys):
            A, B, Y, dy = _np64(a), _np64(b), _np64(y), _np64(dys[0])
            with np.errstate(all="ignore"):
                return [_t64(_sum_to(dy * dfa(A, B, Y), a.shape)), _t64(_sum_to(dy * dfb(A, B, Y), b.shape))]
        _record(rule, [a, b], y, ("binary", op) if op in BINARY else None)
    return y


def _a_wins_max(a, b):
    return (a != a) | (a >= b)   # NaN in a, or a tie: a takes it (as the float32 kernel)


def _a_wins_min(a, b):
    return (a != a) | (a <= b)


def _pow_da(a, b, y):
    return np.where(b == 0.0, 0.0, b * np.power(a, b - 1.0))


def _pow_db(a, b, y):
    return np.where((a == 0.0) & (b >= 0.0), 0.0, y * np.log(a))


# kind: (f, da, db) with the float32 kernels' conventions (csrc/cpu/binary.cpp)
BINARY = {
    "add": (np.add, lambda a, b, y: 1.0, lambda a, b, y: 1.0),
    "subtract": (np.subtract, lambda a, b, y: 1.0, lambda a, b, y: -1.0),
    "multiply": (np.multiply, lambda a, b, y: b, lambda a, b, y: a),
    "divide": (np.divide, lambda a, b, y: 1.0 / b, lambda a, b, y: -a / (b * b)),
    "power": (np.power, _pow_da, _pow_db),
    "maximum": (np.maximum, lambda a, b, y: _a_wins_max(a, b).astype(np.float64),
                lambda a, b, y: (~_a_wins_max(a, b)).astype(np.float64)),
    "minimum": (np.minimum, lambda a, b, y: _a_wins_min(a, b).astype(np.float64),
                lambda a, b, y: (~_a_wins_min(a, b)).astype(np.float64)),
}

# kind: (f, df(x, y)) as csrc/cpu/unary.cpp
UNARY = {
    "negative": (np.negative, lambda x, y: -1.0),
    "exp": (np.exp, lambda x, y: y),
    "log": (np.log, lambda x, y: 1.0 / x),
    "sqrt": (np.sqrt, lambda x, y: 0.5 / y),
    "square": (np.square, lambda x, y: 2.0 * x),
    "abs": (np.abs, lambda x, y: np.sign(x)),
    "reciprocal": (lambda x: 1.0 / x, lambda x, y: -y * y),
    "sin": (np.sin, lambda x, y: np.cos(x)),
    "cos": (np.cos, lambda x, y: -np.sin(x)),
    "sign": (np.sign, None),
}


def _sigmoid(x):
    e = np.exp(-np.abs(x))   # no overflow on either side
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


# elementwise activations: (f, df(x, y))
ACTIVATIONS = {
    "relu": (lambda x: np.where(x < 0, 0.0, x), lambda x, y: np.where(y > 0, 1.0, y)),   # NaN passes
    "sigmoid": (_sigmoid, lambda x, y: y * (1.0 - y)),
    "tanh": (np.tanh, lambda x, y: 1.0 - y * y),
    "softplus": (_softplus, lambda x, y: _sigmoid(x)),
    "softsign": (lambda x: x / (1.0 + np.abs(x)), lambda x, y: 1.0 / np.square(1.0 + np.abs(x))),
    "swish": (lambda x: x * _sigmoid(x), lambda x, y: _sigmoid(x) * (1.0 + x * (1.0 - _sigmoid(x)))),
    "log_sigmoid": (lambda x: -_softplus(-x), lambda x, y: _sigmoid(-x)),
}


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805   # TensorFlow's, to float64
_erfc = np.frompyfunc(math.erfc, 1, 1)   # exact gelu's Phi (NumPy has no erf; no SciPy here)


def _phi_cdf(x):
    return np.asarray(_erfc(-x / np.sqrt(2.0)), dtype=np.float64) / 2.0


def _mish_df(x, y):
    t = np.tanh(_softplus(x))
    return t + x * _sigmoid(x) * (1.0 - t * t)


# the activations with a parameter (ops._activation's alpha): (f(x, a), df(x, y, a)), with the
# float32 kernels' values at the kinks (csrc/cpu/activation.cpp: relu6 / hard_sigmoid give 0
# there, hard_tanh 1, the shrinks 0)
ALPHA_ACTIVATIONS = {
    "relu6": (lambda x, a: np.where(x < 0, 0.0, np.where(x > a, a, x)),
              lambda x, y, a: np.where((y > 0) & (y < a), 1.0, y - y)),
    "leaky_relu": (lambda x, a: np.where(x > 0, x, a * x), lambda x, y, a: np.where(x > 0, 1.0, a + 0.0 * x)),
    "elu": (lambda x, a: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0.0))),
            lambda x, y, a: np.where(y > 0, 1.0, y + a)),
    "selu": (lambda x, a: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0.0))),
             lambda x, y, a: np.where(y > 0, _SELU_SCALE, y + _SELU_SCALE * _SELU_ALPHA)),
    "celu": (lambda x, a: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0.0) / a)),
             lambda x, y, a: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0) / a))),
    "gelu": (lambda x, a: x * _phi_cdf(x),
             lambda x, y, a: _phi_cdf(x) + x * np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)),
    "hard_sigmoid": (lambda x, a: np.clip(x + 3.0, 0.0, 6.0) / 6.0,
                     lambda x, y, a: np.where((x > -3.0) & (x < 3.0), 1.0 / 6.0, 0.0)),
    "hard_silu": (lambda x, a: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
                  lambda x, y, a: np.where(x <= -3.0, 0.0, np.where(x >= 3.0, 1.0, (2.0 * x + 3.0) / 6.0))),
    "mish": (lambda x, a: x * np.tanh(_softplus(x)), lambda x, y, a: _mish_df(x, y)),
    "hard_tanh": (lambda x, a: np.clip(x, -1.0, 1.0), lambda x, y, a: ((x >= -1.0) & (x <= 1.0)).astype(np.float64)),
    "tanh_shrink": (lambda x, a: x - np.tanh(x), lambda x, y, a: np.square(np.tanh(x))),
    "soft_shrink": (lambda x, a: np.where(np.abs(x) > a, x - a * np.sign(x), 0.0),
                    lambda x, y, a: (np.abs(x) > a).astype(np.float64)),
    "hard_shrink": (lambda x, a: np.where(np.abs(x) > a, x, 0.0), lambda x, y, a: (np.abs(x) > a).astype(np.float64)),
    "squareplus": (lambda x, a: (x + np.sqrt(x * x + a)) / 2.0, lambda x, y, a: (1.0 + x / np.sqrt(x * x + a)) / 2.0),
    "sparse_plus": (lambda x, a: np.where(x <= -1.0, 0.0, np.where(x >= 1.0, x, np.square(x + 1.0) / 4.0)),
                    lambda x, y, a: np.clip((x + 1.0) / 2.0, 0.0, 1.0)),
}


FLOAT64_ACTIVATIONS = frozenset(ACTIVATIONS) | frozenset(ALPHA_ACTIVATIONS) | {"softmax", "log_softmax"}


def activation(kind, x, axis=-1, alpha=0.0):
    """The float64 form of an activation in ACTIVATIONS / ALPHA_ACTIVATIONS (``alpha``: its
    parameter), softmax or log_softmax (over ``axis``, an int or a tuple of ints, already checked)."""
    if kind in ALPHA_ACTIVATIONS:
        f, df = ALPHA_ACTIVATIONS[kind]
        a = float(alpha)
        return unary(kind, x, lambda v: f(v, a), lambda v, y: df(v, y, a),
                     ("activation", kind, a) if kind in _VJP_ACTIVATIONS else None)
    if kind not in ("softmax", "log_softmax"):
        f, df = ACTIVATIONS[kind]
        return unary(kind, x, f, df, ("activation", kind, 0.0) if kind in _VJP_ACTIVATIONS else None)
    x = _operand(x, kind)
    axes = axis if isinstance(axis, tuple) else (axis,)
    a = _np64(x)
    with np.errstate(all="ignore"):
        shifted = a - np.max(a, axis=axes, keepdims=True)
        lse = np.log(np.sum(np.exp(shifted), axis=axes, keepdims=True))
        y = _t64(shifted - lse if kind == "log_softmax" else np.exp(shifted - lse))

    def rule(dys):
        dy, Y = _np64(dys[0]), _np64(y)
        if kind == "softmax":
            return [_t64(Y * (dy - np.sum(dy * Y, axis=axes, keepdims=True)))]
        return [_t64(dy - np.exp(Y) * np.sum(dy, axis=axes, keepdims=True))]
    last = axes == (max(a.ndim, 1) - 1,) or axes == (-1,)   # vjp's softmax is over the last axis
    _record(rule, [x], y, ("activation", kind, 0.0) if last else None)
    return y


def reduce(kind, x, axes, keepdims):
    """sum / mean / max / min over ``axes`` (None: all) in float64; max / min split the gradient
    among tied entries (as the float32 kernel)."""
    x = _operand(x, kind)
    a = _np64(x)
    ax = None if axes is None else tuple(int(d) % max(a.ndim, 1) for d in axes)
    if kind in ("max", "min") and a.size == 0:
        raise ValueError(f"ops.{kind}: cannot reduce an empty tensor of shape {a.shape}")
    with np.errstate(all="ignore"):
        y = _t64({"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[kind](a, axis=ax, keepdims=keepdims))

    def rule(dys):
        dy = _np64(dys[0])
        yk = _np64(y)
        if not keepdims:
            dims = tuple(range(a.ndim)) if ax is None else ax
            dy, yk = np.expand_dims(dy, dims), np.expand_dims(yk, dims)
        if kind == "sum":
            return [_t64(np.broadcast_to(dy, a.shape))]
        if kind == "mean":
            count = a.size if ax is None else int(np.prod([a.shape[d] for d in ax]))
            return [_t64(np.broadcast_to(dy / max(count, 1), a.shape))]
        hit = (a == yk).astype(np.float64)
        ties = np.sum(hit, axis=ax, keepdims=True)
        return [_t64(dy * hit / np.where(ties > 0, ties, 1.0))]
    _record(rule, [x], y, ("reduce", kind, ax))
    return y


def matmul(x1, x2):
    """x1 @ x2 in float64 (NumPy's matmul: 1-D operands are vectors, batch axes broadcast)."""
    from .ops import _sum_to
    a, b = _operand(x1, "matmul"), _operand(x2, "matmul")
    A, B = _np64(a), _np64(b)
    try:
        y = _t64(np.matmul(A, B))
    except ValueError:
        raise ValueError(f"ops.matmul: shapes {A.shape} and {B.shape} do not multiply") from None

    def rule(dys):
        dy = _np64(dys[0])
        A2 = A[None, :] if A.ndim == 1 else A        # vectors as (1, K) / (K, 1) matrices
        B2 = B[:, None] if B.ndim == 1 else B
        if A.ndim == 1:
            dy = np.expand_dims(dy, -2)
        if B.ndim == 1:
            dy = np.expand_dims(dy, -1)
        da = _sum_to(np.matmul(dy, np.swapaxes(B2, -1, -2)), A2.shape).reshape(A.shape)
        db = _sum_to(np.matmul(np.swapaxes(A2, -1, -2), dy), B2.shape).reshape(B.shape)
        return [_t64(da), _t64(db)]
    _record(rule, [a, b], y, ("matmul",) if A.ndim >= 2 and B.ndim >= 2 else None)
    return y


def _operand_as(x, wide, op):
    """x as a Tensor of the result's float dtype ``wide``; a float Tensor of another dtype through a
    recorded cast."""
    from . import ops
    if isinstance(x, Tensor) and str(x.dtype) == wide:
        return x
    if wide == "float64":
        return _operand(x, op)
    if isinstance(x, Tensor) and x.dtype.is_floating:
        return ops.cast(x, wide)
    return Tensor.from_numpy(np.array(np.asarray(x), dtype=wide, order="C"))


def move(fn, x, wide, args, kwargs, op):
    """An op that only moves, repeats or drops its inputs' entries (reshape, transpose, concatenate,
    tile, take ...) on float64 / float16 data: ``fn`` runs on int64 Tensors numbering the entries
    (its exact integer path), and each output entry takes the value its number points at, so the
    dtype and the values are kept. Gradient: dy scattered back to the numbered entries."""
    seq = isinstance(x, (list, tuple))
    parts = [_operand_as(p, wide, op) for p in (x if seq else [x])]
    sizes = [int(np.prod(p.shape, dtype=np.int64)) for p in parts]
    ends = np.cumsum(sizes)
    numbers = [Tensor.from_numpy(np.arange(e - s, e, dtype=np.int64).reshape(tuple(p.shape)))
               for p, s, e in zip(parts, sizes, ends)]
    out = fn(numbers if seq else numbers[0], *args, **kwargs)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    flat = np.concatenate([np.asarray(p).reshape(-1) for p in parts]) if parts else np.zeros(0, wide)
    picks = [np.asarray(o) for o in outs]
    ys = [Tensor.from_numpy(np.array(flat[i], dtype=wide, order="C")) for i in picks]

    def rule(dys):
        g = np.zeros(int(ends[-1]) if len(ends) else 0, np.float64)
        for i, dy in zip(picks, dys):
            if dy is not None:
                np.add.at(g, i.reshape(-1), _np64(dy).reshape(-1))
        return [Tensor.from_numpy(np.array(piece.reshape(tuple(p.shape)), dtype=wide, order="C"))
                for piece, p in zip(np.split(g, ends[:-1]), parts)]
    # one input to one output is the gather of the picked entries, several (stack, concatenate,
    # split) gathers from the inputs' entries in a row, which op_gradients.vjp differentiates
    # again (a nested tape through a reshape, transpose or stack of float64 data)
    single = len(parts) == 1 and len(ys) == 1
    desc = ("gather", picks[0]) if single else ("gather_parts", picks, sizes, [tuple(p.shape) for p in parts])
    autodiff.record_op(rule, parts, ys, desc)
    return type(out)(ys) if isinstance(out, (list, tuple)) else ys[0]
