"""``tf.math``: TensorFlow's math names over ``corenn.ops`` (differentiable on float Tensors).
The reductions, argmax and elementwise functions are the ones ``tf.*`` also exposes
(``corenn._tf_api``)."""
from __future__ import annotations

import collections

import numpy as np

from . import ops
from ._tf_api import (abs, add, argmax, argmin, ceil, cumsum, divide, equal, exp, floor,  # noqa: F401,A004
                      greater, greater_equal, less, less_equal, logical_and, logical_not,
                      logical_or, maximum, minimum, multiply, not_equal, pow, reduce_all,
                      reduce_any, reduce_logsumexp, reduce_max, reduce_mean, reduce_min,
                      reduce_prod, reduce_std, reduce_sum, reduce_variance, round, sigmoid,
                      sign, sqrt, square, subtract, tanh)
from .kernels import Tensor

__all__ = ["abs", "add", "argmax", "argmin", "ceil", "cumsum", "divide", "equal", "exp", "floor",
           "greater", "greater_equal", "less", "less_equal", "logical_and", "logical_not",
           "logical_or", "maximum", "minimum", "multiply", "not_equal", "pow", "reduce_all",
           "reduce_any", "reduce_logsumexp", "reduce_max", "reduce_mean", "reduce_min",
           "reduce_prod", "reduce_std", "reduce_sum", "reduce_variance", "round", "sigmoid",
           "sign", "sqrt", "square", "subtract", "tanh", "log", "log1p", "expm1", "rsqrt",
           "reciprocal", "negative", "softplus", "sin", "cos", "tan", "erf", "is_nan", "is_inf",
           "is_finite", "top_k", "in_top_k", "count_nonzero", "l2_normalize", "floordiv",
           "floormod", "truediv", "squared_difference", "confusion_matrix", "divide_no_nan",
           "log_sigmoid", "bincount", "unsorted_segment_sum", "unsorted_segment_mean",
           "unsorted_segment_max", "unsorted_segment_min", "unsorted_segment_sqrt_n", "segment_sum",
           "segment_mean", "segment_max", "segment_min", "real", "imag"]


def _unary(name, op):
    def fn(x, name=None):
        return op(x)
    fn.__name__ = fn.__qualname__ = name
    return fn


log, log1p, expm1, rsqrt = (_unary(n, getattr(ops, n)) for n in ("log", "log1p", "expm1", "rsqrt"))
reciprocal, negative, softplus = (_unary(n, getattr(ops, n)) for n in ("reciprocal", "negative", "softplus"))
sin, cos, tan, erf = (_unary(n, getattr(ops, n)) for n in ("sin", "cos", "tan", "erf"))
is_nan, is_inf, is_finite = (_unary(f"is_{n[2:]}", getattr(ops, n)) for n in ("isnan", "isinf", "isfinite"))
log_sigmoid = _unary("log_sigmoid", ops.log_sigmoid)


def floordiv(x, y, name=None):
    return ops.floor_divide(x, y)


def floormod(x, y, name=None):
    return ops.mod(x, y)


def truediv(x, y, name=None):
    return ops.divide(x, y)


def divide_no_nan(x, y, name=None):
    return ops.divide_no_nan(x, y)


def squared_difference(x, y, name=None):
    return ops.square(ops.subtract(x, y))


TopKV2 = collections.namedtuple("TopKV2", ["values", "indices"])


def top_k(input, k=1, sorted=True, name=None):  # noqa: A002 - TensorFlow's names
    """(values, indices) of the k largest entries of the last axis, as TensorFlow's named
    tuple (``tf.math.top_k(x, k).indices``)."""
    return TopKV2(*ops.top_k(input, k, sorted=sorted))


def in_top_k(targets, predictions, k, name=None):
    return ops.in_top_k(targets, predictions, k)


def count_nonzero(input, axis=None, keepdims=False, dtype="int64", name=None):  # noqa: A002
    out = np.count_nonzero(np.asarray(input), axis=axis, keepdims=keepdims)
    return Tensor.from_numpy(np.array(out, dtype=str(dtype), order="C"))


def l2_normalize(x, axis=None, epsilon=1e-12, name=None):
    """x / sqrt(max(sum(x**2, axis), epsilon))."""
    sq = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return ops.multiply(x, ops.rsqrt(ops.maximum(sq, epsilon)))


def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype="int32", name=None):
    """counts[i, j]: how many samples of label i were predicted j."""
    lab = np.asarray(labels).astype(np.int64).reshape(-1)
    pred = np.asarray(predictions).astype(np.int64).reshape(-1)
    if lab.shape != pred.shape:
        raise ValueError(f"tf.math.confusion_matrix: labels {lab.shape} and predictions "
                         f"{pred.shape} must have the same length")
    n = int(num_classes) if num_classes is not None else int(max(lab.max(initial=-1), pred.max(initial=-1)) + 1)
    if lab.size and (min(lab.min(), pred.min()) < 0 or max(lab.max(), pred.max()) >= n):
        raise ValueError(f"tf.math.confusion_matrix: labels and predictions must be in [0, {n})")
    w = np.ones(lab.shape) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    out = np.zeros((n, n), np.float64)
    np.add.at(out, (lab, pred), w)
    return Tensor.from_numpy(out.astype(str(dtype)))


def bincount(arr, weights=None, minlength=None, maxlength=None, dtype="int32", name=None):
    a = np.asarray(arr).astype(np.int64).reshape(-1)
    out = np.bincount(a, weights=None if weights is None else np.asarray(weights).reshape(-1),
                      minlength=minlength or 0)
    if maxlength is not None:
        out = out[:maxlength]
    wide = isinstance(weights, Tensor) and weights.dtype == "float64"   # float64 weights sum in float64
    return Tensor.from_numpy(np.asarray(out.astype(str(dtype) if weights is None else
                                                             np.float64 if wide else np.float32), order="C"))


# -- segments (graph networks: messages summed or averaged per node) ------------------------------
# corenn.ops.segment_sum / segment_max carry the gradients; the means divide by the segment's
# size (a constant), the minimum is the maximum of -data. Empty segments: 0 for sums and means,
# the lowest value for max (TensorFlow's convention), the highest for min.

def _counts(op, segment_ids, num_segments):
    ids = np.asarray(segment_ids).astype(np.int64).reshape(-1)
    n = int(num_segments) if num_segments is not None else (int(ids.max()) + 1 if ids.size else 0)
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        raise ValueError(f"tf.math.{op}: segment ids must lie in [0, {n}), got {int(ids.min())}..{int(ids.max())}")
    return np.bincount(ids, minlength=n).astype(np.float64), n


def _per_segment(scale, data):
    # (num_segments,) -> broadcast over data's trailing axes
    # float64 NumPy data: float32 data's product stays float32 (NumPy data does not promote), a
    # float64 segment sum keeps the scale's float64 digits
    return scale.reshape((-1,) + (1,) * (ops._to_tensor(data).ndim - 1)).astype(np.float64)


def _check_sorted(op, segment_ids):
    ids = np.asarray(segment_ids).reshape(-1)
    if ids.size and np.any(np.diff(ids) < 0):
        raise ValueError(f"tf.math.{op}: segment_ids must be sorted (use tf.math.unsorted_{op} otherwise)")


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    return ops.segment_sum(data, segment_ids, num_segments=num_segments)


def unsorted_segment_mean(data, segment_ids, num_segments, name=None):
    counts, n = _counts("unsorted_segment_mean", segment_ids, num_segments)
    total = ops.segment_sum(data, segment_ids, num_segments=n)
    return ops.multiply(total, _per_segment(1.0 / np.maximum(counts, 1.0), data))


def unsorted_segment_sqrt_n(data, segment_ids, num_segments, name=None):
    counts, n = _counts("unsorted_segment_sqrt_n", segment_ids, num_segments)
    total = ops.segment_sum(data, segment_ids, num_segments=n)
    return ops.multiply(total, _per_segment(1.0 / np.sqrt(np.maximum(counts, 1.0)), data))


def _fill_empty(out, counts, value, data):
    """TensorFlow fills an empty segment's max / min with the dtype's lowest / highest value."""
    if not np.any(counts == 0):
        return out
    empty = _per_segment((counts == 0).astype(np.float64), data) > 0
    # the fill as a Tensor of out's dtype (a NumPy float64 number would be read as float32 data)
    return ops.where(np.broadcast_to(empty, tuple(out.shape)), ops.full_like(out, value(np.finfo(str(out.dtype)))), out)


def unsorted_segment_max(data, segment_ids, num_segments, name=None):
    """Per segment the maximum; an empty segment holds float32's lowest value, as TensorFlow."""
    counts, _ = _counts("unsorted_segment_max", segment_ids, num_segments)
    out = ops.segment_max(data, segment_ids, num_segments=num_segments)
    return _fill_empty(out, counts, lambda info: info.min, data)


def unsorted_segment_min(data, segment_ids, num_segments, name=None):
    """Per segment the minimum; an empty segment holds float32's highest value, as TensorFlow."""
    counts, _ = _counts("unsorted_segment_min", segment_ids, num_segments)
    out = ops.negative(ops.segment_max(ops.negative(data), segment_ids, num_segments=num_segments))
    return _fill_empty(out, counts, lambda info: info.max, data)


def segment_sum(data, segment_ids, name=None):
    _check_sorted("segment_sum", segment_ids)
    return ops.segment_sum(data, segment_ids)


def segment_mean(data, segment_ids, name=None):
    _check_sorted("segment_mean", segment_ids)
    return unsorted_segment_mean(data, segment_ids, None)


def segment_max(data, segment_ids, name=None):
    _check_sorted("segment_max", segment_ids)
    return ops.segment_max(data, segment_ids)


def segment_min(data, segment_ids, name=None):
    _check_sorted("segment_min", segment_ids)
    return unsorted_segment_min(data, segment_ids, None)


def real(input, name=None):  # noqa: A002 - TensorFlow's names
    """The real part: of a (real, imag) pair (tf.signal's results), or a real tensor itself."""
    return input[0] if isinstance(input, tuple) else ops._to_tensor(input)


def imag(input, name=None):  # noqa: A002
    return input[1] if isinstance(input, tuple) else ops.zeros_like(input)


# -- the rest of tf.math that scripts use (trigonometry, special functions, cumulative ops,
# x*log(y)-style functions): differentiable where TensorFlow's are --------------------------------
from ._tf_api import add_n  # noqa: E402,F401
from ._tf_control import (acos, acosh, asin, asinh, atan, atan2, atanh, cosh, logical_xor,  # noqa: E402,F401
                          sinh)
from .nn import log_softmax, softmax, softsign  # noqa: E402,F401

__all__ += ["acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "cosh", "sinh", "logical_xor",
            "add_n", "accumulate_n", "mod", "softmax", "log_softmax", "softsign", "lgamma", "digamma", "lbeta",
            "cumprod", "cumulative_logsumexp", "reduce_euclidean_norm", "xlogy", "xdivy", "xlog1py", "erfc",
            "erfinv", "ndtri", "reciprocal_no_nan", "multiply_no_nan", "scalar_mul", "rint", "polyval",
            "invert_permutation", "is_non_decreasing", "is_strictly_increasing", "zero_fraction", "angle",
            "conj", "nextafter", "bessel_i0", "bessel_i0e", "erfcinv", "unsorted_segment_prod", "segment_prod"]

accumulate_n = add_n


def mod(x, y, name=None):
    return ops.mod(x, y)


def _digamma64(x):
    """psi(x) in float64: the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 6, then the
    asymptotic series; reflection for x < 0.5 (poles at 0, -1, ... give inf / nan)."""
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    neg = x < 0.5
    with np.errstate(all="ignore"):
        xr = np.where(neg, 1.0 - x, x)
        acc = np.zeros_like(xr)
        while np.any(xr < 6.0):
            small = xr < 6.0
            acc = np.where(small, acc - 1.0 / xr, acc)
            xr = np.where(small, xr + 1.0, xr)
        inv2 = 1.0 / (xr * xr)
        series = (np.log(xr) - 0.5 / xr
                  - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132)))))
        psi = series + acc
        out[...] = np.where(neg, psi - np.pi / np.tan(np.pi * x), psi)
    return out


def _trigamma64(x):
    """psi'(x) in float64 (the same recurrence and series; reflection for x < 0.5)."""
    x = np.asarray(x, np.float64)
    neg = x < 0.5
    with np.errstate(all="ignore"):
        xr = np.where(neg, 1.0 - x, x)
        acc = np.zeros_like(xr)
        while np.any(xr < 6.0):
            small = xr < 6.0
            acc = np.where(small, acc + 1.0 / (xr * xr), acc)
            xr = np.where(small, xr + 1.0, xr)
        inv = 1.0 / xr
        inv2 = inv * inv
        series = inv + 0.5 * inv2 + inv * inv2 * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 / 30)))
        t = series + acc
        return np.where(neg, np.pi ** 2 / np.sin(np.pi * x) ** 2 - t, t)


def _lgamma64(x):
    import math as _m
    a = np.asarray(x, np.float64)

    def one(v):
        try:
            return _m.lgamma(v)
        except ValueError:   # a pole
            return np.inf
    return np.vectorize(one, otypes=[np.float64])(a) if a.size else np.zeros(a.shape)


def lgamma(x, name=None):
    """log|Gamma(x)|; its derivative is digamma(x)."""
    return ops._unary_np("lgamma", x, _lgamma64, lambda a, y: _digamma64(a))


def digamma(x, name=None):
    """psi(x) = d lgamma(x) / dx; its derivative is the trigamma function."""
    return ops._unary_np("digamma", x, _digamma64, lambda a, y: _trigamma64(a))


def lbeta(x, name=None):
    """log|B(x)| over the last axis: sum(lgamma(x)) - lgamma(sum(x))."""
    return ops.subtract(ops.sum(lgamma(x), axis=-1), lgamma(ops.sum(x, axis=-1)))


def _cumulative(op, fn, x, axis, exclusive, reverse, identity):
    t = ops._to_tensor(x)
    ax = int(axis) % max(t.ndim, 1)
    if reverse:
        t = ops.flip(t, axis=ax)
    if exclusive:
        n = int(t.shape[ax])
        pad = [(0, 0)] * t.ndim
        pad[ax] = (1, 0)
        t = ops.pad(t, pad, constant_values=identity)
        t = ops.slice(t, [0] * t.ndim, [n if i == ax else int(d) for i, d in enumerate(t.shape)])
    out = fn(t, ax)
    return ops.flip(out, axis=ax) if reverse else out


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """The running product along axis (exclusive: starting from 1; reverse: from the end)."""
    return _cumulative("cumprod", lambda t, ax: ops.cumprod(t, axis=ax), x, axis, exclusive, reverse, 1.0)


def cumulative_logsumexp(x, axis=0, exclusive=False, reverse=False, name=None):
    """log(cumsum(exp(x))) along axis, computed with the maximum taken out (stable)."""
    def run(t, ax):
        shift = ops.stop_gradient(ops.max(t, axis=ax, keepdims=True))
        return ops.add(ops.log(ops.cumsum(ops.exp(ops.subtract(t, shift)), axis=ax)), shift)
    lowest = float(np.finfo(np.float32).min)
    return _cumulative("cumulative_logsumexp", run, x, axis, exclusive, reverse, lowest)


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):  # noqa: A002
    """sqrt(sum(x ** 2)) over axis."""
    from ._tf_api import _axis
    t = input_tensor
    if not (isinstance(t, Tensor) and t.dtype.is_floating):   # float64 / float16 keep their dtype
        t = ops.cast(t, "float32")
    return ops.sqrt(ops.sum(ops.square(t), axis=_axis(axis), keepdims=keepdims))


def _zero_where_x_zero(op, x, y, f, dfx, dfy):
    return ops._binary_np(
        op, x, y, lambda a, b: np.where(a == 0, 0.0, f(a, b)),
        lambda a, b, r: np.where(a == 0, 0.0, dfx(a, b)), lambda a, b, r: np.where(a == 0, 0.0, dfy(a, b)))


def xlogy(x, y, name=None):
    """x * log(y), 0 where x == 0 (whatever y is)."""
    return _zero_where_x_zero("xlogy", x, y, lambda a, b: a * np.log(b), lambda a, b: np.log(b), lambda a, b: a / b)


def xlog1py(x, y, name=None):
    """x * log1p(y), 0 where x == 0."""
    return _zero_where_x_zero("xlog1py", x, y, lambda a, b: a * np.log1p(b), lambda a, b: np.log1p(b),
                              lambda a, b: a / (1.0 + b))


def xdivy(x, y, name=None):
    """x / y, 0 where x == 0."""
    return _zero_where_x_zero("xdivy", x, y, lambda a, b: a / b, lambda a, b: 1.0 / b, lambda a, b: -a / (b * b))


def erfc(x, name=None):
    return ops.subtract(1.0, ops.erf(x))


def erfinv(x, name=None):
    return ops.erfinv(x)


def ndtri(x, name=None):
    """The inverse of the standard normal CDF: sqrt(2) erfinv(2x - 1)."""
    # a Python float: weak, so float32 x stays float32 and float64 x keeps sqrt(2)'s float64 digits
    return ops.multiply(float(np.sqrt(2.0)), ops.erfinv(ops.subtract(ops.multiply(x, 2.0), 1.0)))


def reciprocal_no_nan(x, name=None):
    x = ops._to_tensor(x)
    return ops.divide_no_nan(ops.ones_like(x), x)


def multiply_no_nan(x, y, name=None):
    """x * y, 0 where y == 0 even when x is inf or nan."""
    return ops._binary_np("multiply_no_nan", x, y, lambda a, b: np.where(b == 0, 0.0, a * b),
                          lambda a, b, r: np.where(b == 0, 0.0, b), lambda a, b, r: np.where(b == 0, 0.0, a))


def scalar_mul(scalar, x, name=None):
    return ops.multiply(scalar, x)


def rint(x, name=None):
    """Round half to even (as tf.round)."""
    return ops.round(x)


def polyval(coeffs, x, name=None):
    """coeffs[0] x^(n-1) + ... + coeffs[n-1] by Horner's rule (differentiable in both)."""
    coeffs = list(coeffs)
    if not coeffs:
        return ops.zeros_like(ops._to_tensor(x))
    acc = ops._to_tensor(coeffs[0])
    for c in coeffs[1:]:
        acc = ops.add(ops.multiply(acc, x), c)
    return acc


def invert_permutation(x, name=None):
    p = np.asarray(x).reshape(-1)
    if p.ndim != 1 or sorted(p.tolist()) != list(range(p.size)):
        raise ValueError(f"tf.math.invert_permutation: x must be a permutation of 0..n-1, got {p.tolist()[:10]}")
    out = np.empty_like(p)
    out[p] = np.arange(p.size, dtype=p.dtype)
    return Tensor.from_numpy(np.asarray(out.astype(np.int32 if p.dtype != np.int64 else np.int64), order="C"))


def is_non_decreasing(x, name=None):
    a = np.asarray(x).reshape(-1)
    return Tensor.from_numpy(np.asarray(float(bool(np.all(np.diff(a) >= 0))), np.float32))


def is_strictly_increasing(x, name=None):
    a = np.asarray(x).reshape(-1)
    return Tensor.from_numpy(np.asarray(float(bool(np.all(np.diff(a) > 0))), np.float32))


def zero_fraction(value, name=None):
    a = np.asarray(value)
    return Tensor.from_numpy(np.asarray(np.mean(a == 0) if a.size else np.nan, np.float32))


def angle(input, name=None):  # noqa: A002
    """The argument of a complex (real, imag) pair; 0 or pi for a real tensor."""
    if isinstance(input, tuple):
        return ops.arctan2(input[1], input[0])
    x = ops._to_tensor(input)
    return ops.arctan2(ops.zeros_like(x), x)


def conj(x, name=None):
    """The complex conjugate of a (real, imag) pair; a real tensor unchanged."""
    if isinstance(x, tuple):
        return ops.ComplexPair((x[0], ops.negative(x[1])))
    return ops._to_tensor(x)


def nextafter(x1, x2, name=None):
    return ops.nextafter(x1, x2)


def erfcinv(x, name=None):
    """The inverse of erfc: erfinv(1 - x)."""
    return ops.erfinv(ops.subtract(1.0, x))


def unsorted_segment_prod(data, segment_ids, num_segments, name=None):
    """The product of data's rows per segment (1 for an empty segment); the gradient of each
    entry is the product of the other entries of its segment (exact with zeros)."""
    counts, n = _counts("unsorted_segment_prod", segment_ids, num_segments)
    x = ops._to_tensor(data)
    if x.dtype != "float32" and not (ops._NUMPY_FLOAT64.on and x.dtype == "float64"):
        x = ops.cast(x, "float32")
    ids = np.asarray(segment_ids).astype(np.int64).reshape(-1)
    if x.ndim == 0 or int(x.shape[0]) != ids.size:
        raise ValueError(f"tf.math.unsorted_segment_prod: segment_ids has {ids.size} entries for data of shape "
                         f"{tuple(x.shape)}")
    a = np.asarray(x, np.float64)
    out = np.ones((n,) + a.shape[1:])
    members = [np.flatnonzero(ids == s) for s in range(n)]
    for s, rows in enumerate(members):
        if rows.size:
            out[s] = np.prod(a[rows], axis=0)
    y = ops._t(out)

    def rule(dys):
        dy = np.asarray(dys[0], np.float64)
        g = np.zeros_like(a)
        for s, rows in enumerate(members):
            block = a[rows]
            before = np.cumprod(np.concatenate([np.ones((1,) + a.shape[1:]), block[:-1]]), axis=0)
            after = np.cumprod(np.concatenate([np.ones((1,) + a.shape[1:]), block[::-1][:-1]]), axis=0)[::-1]
            g[rows] = before * after * dy[s]     # the product of the others, zeros included
        return [ops._t(g)]
    ops._record(rule, [x], [y])
    return y


unsorted_segment_prod = ops._numpy_float64(unsorted_segment_prod, typed_by=slice(0, 1))   # float64 data: float64


def segment_prod(data, segment_ids, name=None):
    _check_sorted("segment_prod", segment_ids)
    return unsorted_segment_prod(data, segment_ids, None)


# the special functions (Bessel, incomplete gamma / beta, zeta, tf.math.special) and approx_max_k
from ._math_more import (approx_max_k, approx_min_k, bessel_i0, bessel_i0e, bessel_i1, bessel_i1e,  # noqa: E402,F401
                         betainc, igamma, igammac, polygamma, special, zeta)
from ._math_more import __all__ as _more  # noqa: E402

__all__ += _more
