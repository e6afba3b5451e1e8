"""``tf.math``: TensorFlow's math names over ``corenn.ops`` (differentiable on float Tensors).
The reductions, argmax and elementwise functions are the ones ``tf.*`` also exposes
(``corenn._tf_api``)."""
from __future__ import annotations

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


def top_k(input, k=1, sorted=True, name=None):  # noqa: A002 - TensorFlow's names
    """(values, indices) of the k largest entries of the last axis."""
    return ops.top_k(input, k, sorted=sorted)


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
    return Tensor.from_numpy(np.ascontiguousarray(out.astype(str(dtype) if weights is None else np.float32)))


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
    return scale.reshape((-1,) + (1,) * (ops.convert_to_tensor(data).ndim - 1)).astype(np.float32)


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


def unsorted_segment_max(data, segment_ids, num_segments, name=None):
    return ops.segment_max(data, segment_ids, num_segments=num_segments)


def unsorted_segment_min(data, segment_ids, num_segments, name=None):
    return ops.negative(ops.segment_max(ops.negative(data), segment_ids, num_segments=num_segments))


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
    return input[0] if isinstance(input, tuple) else ops.convert_to_tensor(input)


def imag(input, name=None):  # noqa: A002
    return input[1] if isinstance(input, tuple) else ops.zeros_like(input)
