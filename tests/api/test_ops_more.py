"""The rest of keras.ops (issue 13): every op added to corenn.ops against a float64 NumPy
reference written here from the math, on Tensors and on NumPy arrays; every differentiable op's
GradientTape gradient against central finite differences of that reference; dtypes, constants
for the tape, errors; PyTorch parity for a few; a custom layer and loss built from them training.

A case is (name, call, ref, inputs): ``call(*xs)`` runs corenn.ops, ``ref(*xs)`` the float64
reference, ``inputs(rng)`` draws float64 arrays kept away from kinks (ties, |x| = threshold,
domain edges) so finite differences are meaningful. Index arguments are constants of the case.
"""
import math

import numpy as np
import pytest

import corenn
from corenn import layers, ops
from corenn.kernels import Tensor
from corenn.layers.base import BoolMask
import reference as R
from reference import f64, numerical_grad


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(f64(x))


def _erfinv(y):
    """Bisection on math.erf (independent of the op's Newton refinement)."""
    y = f64(y)
    lo, hi = np.full(y.shape, -6.0), np.full(y.shape, 6.0)
    for _ in range(80):
        mid = (lo + hi) / 2
        below = _erf(mid) < y
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return (lo + hi) / 2


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _away(x, points, gap=0.05):
    """x moved at least ``gap`` away from each kink in ``points``."""
    x = f64(x).copy()
    for p in points:
        near = np.abs(x - p) < gap
        x[near] = p + np.where(x[near] >= p, gap, -gap) * 2
    return x


def _n(*shape, lo=None, hi=None):
    def make(rng):
        if lo is None:
            return rng.normal(size=shape)
        return rng.uniform(lo, hi, size=shape)
    return make


def _distinct(*shape):
    """Values with no ties (sorting, top_k, max pick unambiguous entries)."""
    def make(rng):
        n = int(np.prod(shape))
        return (rng.permutation(n) * 0.37 + rng.uniform(0, 0.1, n)).reshape(shape) - n * 0.15
    return make


def _wellconditioned(*shape):
    return lambda r: r.normal(size=shape) + 3 * np.eye(shape[-1])


def _spd(n):
    """A symmetric positive-definite matrix with well separated eigenvalues."""
    def make(r):
        q, _ = np.linalg.qr(r.normal(size=(n, n)))
        return q @ np.diag(np.arange(1, n + 1) * 1.5) @ q.T
    return make


def _pair(z):
    return [z.real, z.imag]


def _unfold_ref(x, k, d, p, s):
    """torch.nn.functional.unfold written as loops: column (c, i, j) of patch (r, q)."""
    n, c, h, w = x.shape
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.zeros((n, c * k[0] * k[1], oh * ow))
    for ch in range(c):
        for i in range(k[0]):
            for j in range(k[1]):
                for r in range(oh):
                    for q in range(ow):
                        y, z = r * s[0] + i * d[0] - p[0], q * s[1] + j * d[1] - p[1]
                        if 0 <= y < h and 0 <= z < w:
                            out[:, (ch * k[0] + i) * k[1] + j, r * ow + q] = x[:, ch, y, z]
    return out


def _fold_ref(cols, shape, k, d, p, s):
    n, c, h, w = shape
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.zeros(shape)
    for ch in range(c):
        for i in range(k[0]):
            for j in range(k[1]):
                for r in range(oh):
                    for q in range(ow):
                        y, z = r * s[0] + i * d[0] - p[0], q * s[1] + j * d[1] - p[1]
                        if 0 <= y < h and 0 <= z < w:
                            out[:, ch, y, z] += cols[:, (ch * k[0] + i) * k[1] + j, r * ow + q]
    return out


def _adaptive_ref(x, out, reduce):
    n, h, w, c = x.shape
    y = np.zeros((n,) + tuple(out) + (c,))
    for i in range(out[0]):
        for j in range(out[1]):
            h0, h1 = (i * h) // out[0], -((-(i + 1) * h) // out[0])
            w0, w1 = (j * w) // out[1], -((-(j + 1) * w) // out[1])
            y[:, i, j] = reduce(x[:, h0:h1, w0:w1].reshape(n, -1, c), axis=1)
    return y


def _window_ref(kind, L, n):
    k = np.arange(L)
    w = {"hann": 0.5 - 0.5 * np.cos(2 * np.pi * k / L), "hamming": 0.54 - 0.46 * np.cos(2 * np.pi * k / L)}[kind]
    lo = (n - L) // 2
    return np.concatenate([np.zeros(lo), w, np.zeros(n - L - lo)])


def _stft_ref(x, L, stride, n, kind, center):
    if center:
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(n // 2, n // 2)], mode="reflect")
    w = _window_ref(kind, L, n)
    frames = [x[..., s:s + n] * w for s in range(0, x.shape[-1] - n + 1, stride)]
    z = np.fft.rfft(np.stack(frames, -2), axis=-1)
    return [z.real, z.imag]


def _istft_ref(z, L, stride, n, length):
    w = _window_ref("hann", L, n)
    frames = np.fft.irfft(z, n, axis=-1) * w
    f = frames.shape[-2]
    total = n + stride * (f - 1)
    out, den = np.zeros(frames.shape[:-2] + (total,)), np.zeros(total)
    for j in range(f):
        out[..., j * stride:j * stride + n] += frames[..., j, :]
        den[j * stride:j * stride + n] += w * w
    out = np.where(den > 1e-10, out / np.where(den > 1e-10, den, 1), out)[..., n // 2:total - n // 2]
    return out[..., :length] if out.shape[-1] >= length else np.pad(out, [(0, 0)] * (out.ndim - 1) + [(0, length - out.shape[-1])])


def _qr_ref(a):
    """NumPy's (LAPACK Householder) QR in float64: its sign choice is smooth in A, so finite
    differences through it are meaningful."""
    q, r = np.linalg.qr(a)
    return [q, r]


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _pad_ref(mode):
    return lambda x: np.pad(x, ((1, 2), (2, 1)), mode=mode)


def _quantile_ref(x, q, axis=None):
    return np.quantile(x, q, axis=axis)


def _cumprod_with_zero(rng):
    x = rng.uniform(0.5, 1.5, size=(3, 5)) * rng.choice([-1, 1], size=(3, 5))
    x[1, 2] = 0.0
    return x


def _attention_ref(q, k, v):
    logits = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(q.shape[-1])
    causal = np.tril(np.ones(logits.shape[-2:], bool))
    logits = np.where(causal, logits, -1e9)
    return np.einsum("bnts,bsnh->btnh", _softmax(logits), v)


IDX = np.array([[2, 0, 1], [1, 1, 3]])
SEG = np.array([0, 0, 2, 1, 2])
SCATTER_IDX = np.array([[0, 1], [2, 0], [0, 1]])

# name, call, reference, input makers, differentiable
CASES = [
    ("erf", lambda x: ops.erf(x), _erf, [_n(3, 4)], True),
    ("erfinv", lambda x: ops.erfinv(x), _erfinv, [_n(3, 4, lo=-0.9, hi=0.9)], True),
    ("log1p", lambda x: ops.log1p(x), np.log1p, [_n(3, 4, lo=-0.5, hi=3)], True),
    ("expm1", lambda x: ops.expm1(x), np.expm1, [_n(3, 4)], True),
    ("exp2", lambda x: ops.exp2(x), np.exp2, [_n(3, 4)], True),
    ("log2", lambda x: ops.log2(x), np.log2, [_n(3, 4, lo=0.2, hi=3)], True),
    ("log10", lambda x: ops.log10(x), np.log10, [_n(3, 4, lo=0.2, hi=3)], True),
    ("rsqrt", lambda x: ops.rsqrt(x), lambda x: 1 / np.sqrt(x), [_n(3, 4, lo=0.3, hi=3)], True),
    ("tan", lambda x: ops.tan(x), np.tan, [_n(3, 4, lo=-1, hi=1)], True),
    ("sinh", lambda x: ops.sinh(x), np.sinh, [_n(3, 4)], True),
    ("cosh", lambda x: ops.cosh(x), np.cosh, [_n(3, 4)], True),
    ("arcsin", lambda x: ops.arcsin(x), np.arcsin, [_n(3, 4, lo=-0.9, hi=0.9)], True),
    ("arccos", lambda x: ops.arccos(x), np.arccos, [_n(3, 4, lo=-0.9, hi=0.9)], True),
    ("arctan", lambda x: ops.arctan(x), np.arctan, [_n(3, 4)], True),
    ("arcsinh", lambda x: ops.arcsinh(x), np.arcsinh, [_n(3, 4)], True),
    ("arccosh", lambda x: ops.arccosh(x), np.arccosh, [_n(3, 4, lo=1.2, hi=3)], True),
    ("arctanh", lambda x: ops.arctanh(x), np.arctanh, [_n(3, 4, lo=-0.9, hi=0.9)], True),
    ("arctan2", lambda a, b: ops.arctan2(a, b), np.arctan2, [_n(3, 4), _n(4)], True),
    ("hypot", lambda a, b: ops.hypot(a, b), np.hypot, [_n(3, 1), _n(1, 4)], True),
    ("logaddexp", lambda a, b: ops.logaddexp(a, b), np.logaddexp, [_n(3, 4), _n(3, 4)], True),
    ("mod", lambda a, b: ops.mod(a, b), np.mod, [_n(3, 4, lo=2.1, hi=2.4), _n(4, lo=1.5, hi=1.6)], True),
    ("divide_no_nan", lambda a, b: ops.divide_no_nan(a, b), lambda a, b: a / b,
     [_n(3, 4), _n(3, 4, lo=0.5, hi=2)], True),
    ("nan_to_num", lambda x: ops.nan_to_num(x), np.nan_to_num, [_n(3, 4)], True),
    ("gelu_tanh", lambda x: ops.gelu(x), _gelu_tanh, [_n(3, 4)], True),
    ("gelu_exact", lambda x: ops.gelu(x, approximate=False),
     lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))), [_n(3, 4)], True),
    ("relu6", lambda x: ops.relu6(x), lambda x: np.clip(x, 0, 6),
     [lambda r: _away(r.uniform(-3, 9, (3, 4)), [0, 6])], True),
    ("hard_sigmoid", lambda x: ops.hard_sigmoid(x), lambda x: np.clip(x / 6 + 0.5, 0, 1),
     [lambda r: _away(r.uniform(-5, 5, (3, 4)), [-3, 3])], True),
    ("hard_silu", lambda x: ops.hard_silu(x), lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
     [lambda r: _away(r.uniform(-5, 5, (3, 4)), [-3, 3])], True),
    ("hard_swish", lambda x: ops.hard_swish(x), lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
     [lambda r: _away(r.uniform(-5, 5, (3, 4)), [-3, 3])], True),
    ("log_sigmoid", lambda x: ops.log_sigmoid(x), lambda x: -np.logaddexp(0, -x), [_n(3, 4)], True),
    ("softsign", lambda x: ops.softsign(x), lambda x: x / (np.abs(x) + 1),
     [lambda r: _away(r.normal(size=(3, 4)), [0])], True),
    ("hard_tanh", lambda x: ops.hard_tanh(x), lambda x: np.clip(x, -1, 1),
     [lambda r: _away(r.uniform(-2, 2, (3, 4)), [-1, 1])], True),
    ("celu", lambda x: ops.celu(x, alpha=0.7), lambda x: np.maximum(x, 0) + np.minimum(0.7 * np.expm1(x / 0.7), 0),
     [lambda r: _away(r.normal(size=(3, 4)), [0])], True),
    ("glu", lambda x: ops.glu(x, axis=0), lambda x: x[:2] * _sigmoid(x[2:]), [_n(4, 3)], True),
    ("hard_shrink", lambda x: ops.hard_shrink(x), lambda x: np.where(np.abs(x) > 0.5, x, 0),
     [lambda r: _away(r.normal(size=(3, 4)), [-0.5, 0.5])], True),
    ("soft_shrink", lambda x: ops.soft_shrink(x), lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.5, 0),
     [lambda r: _away(r.normal(size=(3, 4)), [-0.5, 0.5])], True),
    ("tanh_shrink", lambda x: ops.tanh_shrink(x), lambda x: x - np.tanh(x), [_n(3, 4)], True),
    ("squareplus", lambda x: ops.squareplus(x, b=3), lambda x: (x + np.sqrt(x * x + 3)) / 2, [_n(3, 4)], True),
    ("sparse_plus", lambda x: ops.sparse_plus(x),
     lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)),
     [lambda r: _away(r.uniform(-2, 2, (3, 4)), [-1, 1])], True),
    ("threshold", lambda x: ops.threshold(x, 0.3, -2.0), lambda x: np.where(x > 0.3, x, -2.0),
     [lambda r: _away(r.normal(size=(3, 4)), [0.3])], True),
    ("amax", lambda x: ops.amax(x, axis=1), lambda x: x.max(1), [_distinct(3, 4)], True),
    ("amin", lambda x: ops.amin(x, axis=0, keepdims=True), lambda x: x.min(0, keepdims=True),
     [_distinct(3, 4)], True),
    ("logsumexp", lambda x: ops.logsumexp(x), lambda x: np.log(np.exp(x).sum()), [_n(3, 4)], True),
    ("logsumexp_axis", lambda x: ops.logsumexp(x, axis=(0, 2), keepdims=True),
     lambda x: np.log(np.exp(x).sum((0, 2), keepdims=True)), [_n(2, 3, 4)], True),
    ("logsumexp_big", lambda x: ops.logsumexp(x, axis=-1), lambda x: x.max(-1) + np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1)),
     [lambda r: r.normal(size=(3, 4)) + 200.0], True),
    ("prod", lambda x: ops.prod(x, axis=1), lambda x: x.prod(1), [_cumprod_with_zero], True),
    ("prod_all", lambda x: ops.prod(x, keepdims=True), lambda x: x.prod(keepdims=True),
     [_n(2, 3, lo=0.5, hi=1.5)], True),
    ("cumsum", lambda x: ops.cumsum(x, axis=1), lambda x: np.cumsum(x, 1), [_n(3, 5)], True),
    ("cumsum_flat", lambda x: ops.cumsum(x), lambda x: np.cumsum(x), [_n(3, 5)], True),
    ("cumprod", lambda x: ops.cumprod(x, axis=1), lambda x: np.cumprod(x, 1), [_cumprod_with_zero], True),
    ("cumprod_axis0", lambda x: ops.cumprod(x, axis=0), lambda x: np.cumprod(x, 0), [_n(4, 2, lo=0.5, hi=1.5)], True),
    ("average", lambda x, w: ops.average(x, axis=1, weights=w), lambda x, w: (x * w).sum(1) / w.sum(),
     [_n(3, 4), _n(4, lo=0.5, hi=1.5)], True),
    ("moments", lambda x: list(ops.moments(x, axes=[0])), lambda x: [x.mean(0), x.var(0)], [_n(5, 3)], True),
    ("normalize", lambda x: ops.normalize(x, axis=-1), lambda x: x / np.sqrt((x * x).sum(-1, keepdims=True)),
     [_n(3, 4)], True),
    ("normalize_l1", lambda x: ops.normalize(x, axis=0, order=1), lambda x: x / np.abs(x).sum(0, keepdims=True),
     [lambda r: _away(r.normal(size=(3, 4)), [0])], True),
    ("batch_normalization", lambda x, m, v, b, g: ops.batch_normalization(x, m, v, axis=-1, offset=b, scale=g),
     lambda x, m, v, b, g: (x - m) / np.sqrt(v + 1e-3) * g + b,
     [_n(4, 3), _n(3), _n(3, lo=0.5, hi=2), _n(3), _n(3)], True),
    ("rms_normalization", lambda x: ops.rms_normalization(x, scale=2.0),
     lambda x: 2 * x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-7), [_n(3, 4)], True),
    ("psnr", lambda a, b: ops.psnr(a, b, 2.0), lambda a, b: 10 * np.log10(4.0 / ((a - b) ** 2).mean()),
     [_n(3, 4), _n(3, 4)], True),
    ("top_k", lambda x: ops.top_k(x, 2)[0], lambda x: -np.sort(-x, -1)[..., :2], [_distinct(3, 5)], True),
    ("segment_sum", lambda x: ops.segment_sum(x, SEG, num_segments=4),
     lambda x: np.stack([x[SEG == s].sum(0) for s in range(4)]), [_n(5, 2)], True),
    ("segment_max", lambda x: ops.segment_max(x, SEG),
     lambda x: np.stack([x[SEG == s].max(0) for s in range(3)]), [_distinct(5, 2)], True),
    ("sort", lambda x: ops.sort(x, axis=0), lambda x: np.sort(x, 0), [_distinct(4, 3)], True),
    ("quantile", lambda x: ops.quantile(x, [0.3, 0.5], axis=1), lambda x: _quantile_ref(x, [0.3, 0.5], 1),
     [_distinct(3, 6)], True),
    ("median", lambda x: ops.median(x), lambda x: np.median(x), [_distinct(3, 5)], True),
    ("percentile", lambda x: ops.percentile(x, 90, axis=0, keepdims=True),
     lambda x: np.percentile(x, 90, axis=0, keepdims=True), [_distinct(5, 2)], True),
    ("take", lambda x: ops.take(x, IDX, axis=1), lambda x: np.take(x, IDX, axis=1), [_n(2, 4, 3)], True),
    ("take_flat_negative", lambda x: ops.take(x, [-1, 0, 0, 5]), lambda x: x.reshape(-1)[[-1, 0, 0, 5]],
     [_n(2, 3)], True),
    ("take_along_axis", lambda x: ops.take_along_axis(x, IDX, axis=1), lambda x: np.take_along_axis(x, IDX, 1),
     [_n(2, 4)], True),
    ("flip", lambda x: ops.flip(x, axis=1), lambda x: np.flip(x, 1), [_n(2, 3, 2)], True),
    ("flip_all", lambda x: ops.flip(x), lambda x: np.flip(x), [_n(2, 3)], True),
    ("roll", lambda x: ops.roll(x, 2, axis=1), lambda x: np.roll(x, 2, 1), [_n(2, 5)], True),
    ("roll_flat", lambda x: ops.roll(x, -1), lambda x: np.roll(x, -1), [_n(2, 5)], True),
    ("swapaxes", lambda x: ops.swapaxes(x, 0, 2), lambda x: np.swapaxes(x, 0, 2), [_n(2, 3, 4)], True),
    ("moveaxis", lambda x: ops.moveaxis(x, 0, -1), lambda x: np.moveaxis(x, 0, -1), [_n(2, 3, 4)], True),
    ("broadcast_to", lambda x: ops.broadcast_to(x, (2, 3, 4)), lambda x: np.broadcast_to(x, (2, 3, 4)),
     [_n(3, 1)], True),
    ("tile", lambda x: ops.tile(x, (2, 1, 3)), lambda x: np.tile(x, (2, 1, 3)), [_n(2, 3)], True),
    ("repeat", lambda x: ops.repeat(x, [1, 0, 3], axis=1), lambda x: np.repeat(x, [1, 0, 3], 1), [_n(2, 3)], True),
    ("repeat_flat", lambda x: ops.repeat(x, 2), lambda x: np.repeat(x, 2), [_n(2, 3)], True),
    ("pad_constant", lambda x: ops.pad(x, ((1, 2), (2, 1)), constant_values=1.5),
     lambda x: np.pad(x, ((1, 2), (2, 1)), constant_values=1.5), [_n(3, 3)], True),
    ("pad_reflect", lambda x: ops.pad(x, ((1, 2), (2, 1)), mode="reflect"), _pad_ref("reflect"), [_n(3, 3)], True),
    ("pad_symmetric", lambda x: ops.pad(x, ((1, 2), (2, 1)), mode="symmetric"), _pad_ref("symmetric"),
     [_n(3, 3)], True),
    ("pad_edge", lambda x: ops.pad(x, ((1, 2), (2, 1)), mode="edge"), _pad_ref("edge"), [_n(3, 3)], True),
    ("pad_wrap", lambda x: ops.pad(x, ((1, 2), (2, 1)), mode="wrap"), _pad_ref("wrap"), [_n(3, 3)], True),
    ("triu", lambda x: ops.triu(x, k=1), lambda x: np.triu(x, 1), [_n(2, 3, 4)], True),
    ("tril", lambda x: ops.tril(x, k=-1), lambda x: np.tril(x, -1), [_n(4, 3)], True),
    ("diagonal", lambda x: ops.diagonal(x, 1, 1, 2), lambda x: np.diagonal(x, 1, 1, 2), [_n(2, 3, 4)], True),
    ("diag_vector", lambda x: ops.diag(x, k=-1), lambda x: np.diag(x, -1), [_n(3)], True),
    ("diag_matrix", lambda x: ops.diag(x), lambda x: np.diag(x), [_n(3, 4)], True),
    ("trace", lambda x: ops.trace(x), lambda x: np.trace(x), [_n(3, 3)], True),
    ("copy", lambda x: ops.copy(x), lambda x: x.copy(), [_n(2, 3)], True),
    ("ravel", lambda x: ops.ravel(x), lambda x: x.ravel(), [_n(2, 3)], True),
    ("get_item", lambda x: ops.get_item(x, (slice(None), [0, 2, 2])), lambda x: x[:, [0, 2, 2]], [_n(2, 3)], True),
    ("append", lambda a, b: ops.append(a, b, axis=0), lambda a, b: np.append(a, b, 0), [_n(2, 3), _n(1, 3)], True),
    ("append_flat", lambda a, b: ops.append(a, b), lambda a, b: np.append(a, b), [_n(2, 3), _n(2)], True),
    ("hstack", lambda a, b: ops.hstack([a, b]), lambda a, b: np.hstack([a, b]), [_n(2, 3), _n(2, 1)], True),
    ("vstack", lambda a, b: ops.vstack([a, b]), lambda a, b: np.vstack([a, b]), [_n(3), _n(2, 3)], True),
    ("diff", lambda x: ops.diff(x, n=2, axis=0), lambda x: np.diff(x, 2, 0), [_n(5, 3)], True),
    ("select", lambda a, b: ops.select([a > 0.5, a < -0.5], [a, b], default=-1.0),
     lambda a, b: np.select([a > 0.5, a < -0.5], [a, b], default=-1.0),
     [lambda r: _away(r.normal(size=(3, 4)), [-0.5, 0.5]), _n(3, 4)], True),
    ("meshgrid", lambda a, b: ops.meshgrid(a, b), lambda a, b: list(np.meshgrid(a, b)), [_n(3), _n(2)], True),
    ("meshgrid_ij", lambda a, b: ops.meshgrid(a, b, indexing="ij"),
     lambda a, b: list(np.meshgrid(a, b, indexing="ij")), [_n(3), _n(2)], True),
    ("unstack", lambda x: ops.unstack(x, axis=1), lambda x: [x[:, i] for i in range(3)], [_n(2, 3)], True),
    ("split", lambda x: ops.split(x, [1, 3], axis=1), lambda x: np.split(x, [1, 3], 1), [_n(2, 5)], True),
    ("split_sections", lambda x: ops.split(x, 2), lambda x: np.split(x, 2), [_n(4, 2)], True),
    ("slice", lambda x: ops.slice(x, [1, 0], (2, 2)), lambda x: x[1:3, 0:2], [_n(3, 4)], True),
    ("slice_update", lambda x, u: ops.slice_update(x, (1, 1), u),
     lambda x, u: np.concatenate([x[:1], np.concatenate([x[1:, :1], u, x[1:, 3:]], 1)], 0),
     [_n(3, 4), _n(2, 2)], True),
    ("scatter", lambda v: ops.scatter(SCATTER_IDX, v, (3, 2, 2)),
     lambda v: _scatter_ref(SCATTER_IDX, v, (3, 2, 2)), [_n(3, 2)], True),
    ("scatter_update", lambda x, u: ops.scatter_update(x, [[0, 1], [2, 2]], u),
     lambda x, u: _scatter_update_ref(x, [[0, 1], [2, 2]], u), [_n(3, 3), _n(2)], True),
    ("einsum_matmul", lambda a, b: ops.einsum("ij,jk->ik", a, b), lambda a, b: a @ b, [_n(2, 3), _n(3, 4)], True),
    ("einsum_batch", lambda a, b: ops.einsum("bij,bkj->bik", a, b),
     lambda a, b: np.stack([x @ y.T for x, y in zip(a, b)]), [_n(2, 2, 3), _n(2, 4, 3)], True),
    ("einsum_ellipsis_broadcast", lambda a, b: ops.einsum("...ij,jk", a, b),
     lambda a, b: np.matmul(a, b), [_n(2, 3, 4), _n(4, 2)], True),
    ("einsum_trace_diag", lambda a: ops.einsum("ii->i", a), lambda a: np.diagonal(a).copy(), [_n(3, 3)], True),
    ("einsum_reduce_only", lambda a, b: ops.einsum("ij,k->jk", a, b),
     lambda a, b: a.sum(0)[:, None] * b[None, :], [_n(2, 3), _n(4)], True),
    ("einsum_implicit", lambda a, b: ops.einsum("ij,jk", a, b), lambda a, b: a @ b, [_n(2, 3), _n(3, 2)], True),
    ("tensordot", lambda a, b: ops.tensordot(a, b, axes=([0, 2], [1, 0])),
     lambda a, b: np.tensordot(a, b, axes=([0, 2], [1, 0])), [_n(2, 3, 4), _n(4, 2, 5)], True),
    ("tensordot_int", lambda a, b: ops.tensordot(a, b, axes=1), lambda a, b: np.tensordot(a, b, 1),
     [_n(2, 3), _n(3, 2)], True),
    ("outer", lambda a, b: ops.outer(a, b), np.outer, [_n(3), _n(2, 2)], True),
    ("inner", lambda a, b: ops.inner(a, b), np.inner, [_n(2, 3), _n(4, 3)], True),
    ("vdot", lambda a, b: ops.vdot(a, b), lambda a, b: np.vdot(a, b), [_n(2, 3), _n(6)], True),
    ("cross", lambda a, b: ops.cross(a, b), np.cross, [_n(4, 3), _n(3)], True),
    ("dot_product_attention", lambda q, k, v: ops.dot_product_attention(q, k, v, is_causal=True),
     _attention_ref, [_n(2, 3, 2, 4), _n(2, 3, 2, 4), _n(2, 3, 2, 4)], True),
    ("scan", lambda x: list(ops.scan(lambda c, r: (c * 0.5 + r, ops.sum(c)), ops.zeros((3,)), x)),
     lambda x: _scan_ref(x), [_n(4, 3)], True),
    ("map", lambda x: ops.map(lambda r: ops.sum(r * r), x), lambda x: (x * x).sum(1), [_n(4, 3)], True),
    ("cond", lambda x: ops.cond(ops.sum(x) > -100, lambda: ops.exp(x), lambda: x), np.exp, [_n(2, 2)], True),
    ("conv_same_strided", lambda x, w: ops.conv(x, w, strides=2, padding="same"),
     lambda x, w: R.conv2d_forward(x, w, strides=(2, 2), padding="same"), [_n(2, 5, 5, 3), _n(3, 3, 3, 2)], True),
    ("conv_1d_dilated", lambda x, w: ops.conv(x, w, dilation_rate=2),
     lambda x, w: R.conv2d_forward(x[:, None], w[None], dilation=(1, 2))[:, 0], [_n(2, 7, 2), _n(2, 2, 3)], True),
    ("conv_channels_first", lambda x, w: ops.conv(x, w, data_format="channels_first"),
     lambda x, w: np.moveaxis(R.conv2d_forward(np.moveaxis(x, 1, -1), w), -1, 1), [_n(1, 2, 4, 4), _n(2, 2, 2, 3)],
     True),
    ("depthwise_conv", lambda x, w: ops.depthwise_conv(x, w, padding="same"),
     lambda x, w: R.depthwise_conv2d(x, w, padding="same"), [_n(2, 4, 4, 3), _n(3, 3, 3, 2)], True),
    ("separable_conv", lambda x, d, p: ops.separable_conv(x, d, p),
     lambda x, d, p: R.conv2d_forward(R.depthwise_conv2d(x, d), p), [_n(1, 4, 5, 2), _n(2, 2, 2, 2), _n(1, 1, 4, 3)],
     True),
    ("max_pool", lambda x: ops.max_pool(x, 2, padding="same"), lambda x: R.max_pool2d(x, (2, 2), (2, 2), "same")[0],
     [_distinct(2, 5, 5, 2)], True),
    ("max_pool_1d", lambda x: ops.max_pool(x, 3, strides=1), lambda x: R.max_pool2d(x[:, None], (1, 3), (1, 1), "valid")[0][:, 0],
     [_distinct(2, 6, 2)], True),
    ("average_pool", lambda x: ops.average_pool(x, (2, 3), strides=1, padding="same"),
     lambda x: R.avg_pool2d(x, (2, 3), (1, 1), "same"), [_n(2, 4, 5, 2)], True),
    ("cbrt", lambda x: ops.cbrt(x), np.cbrt, [lambda r: _away(r.normal(size=(3, 4)), [0], 0.2)], True),
    ("deg2rad", lambda x: ops.deg2rad(x), np.deg2rad, [_n(3, 4)], True),
    ("logaddexp2", lambda a, b: ops.logaddexp2(a, b), np.logaddexp2, [_n(3, 4), _n(1, 4)], True),
    ("ldexp", lambda x: ops.ldexp(x, np.array([1, -2, 3, 0])), lambda x: np.ldexp(x, [1, -2, 3, 0]), [_n(3, 4)], True),
    ("real", lambda x: ops.real(x), np.real, [_n(3, 4)], True),
    ("conj", lambda x: ops.conj(x), np.conj, [_n(3, 4)], True),
    ("rot90", lambda x: ops.rot90(x, k=3, axes=(1, 2)), lambda x: np.rot90(x, 3, (1, 2)), [_n(2, 3, 4)], True),
    ("diagflat", lambda x: ops.diagflat(x, k=1), lambda x: np.diagflat(x, 1), [_n(2, 2)], True),
    ("array_split", lambda x: ops.array_split(x, 3, axis=1), lambda x: np.array_split(x, 3, 1), [_n(2, 7)], True),
    ("vsplit", lambda x: ops.vsplit(x, 2), lambda x: np.vsplit(x, 2), [_n(4, 3)], True),
    ("hsplit", lambda x: ops.hsplit(x, [1]), lambda x: np.hsplit(x, [1]), [_n(2, 3)], True),
    ("dstack", lambda a, b: ops.dstack([a, b]), lambda a, b: np.dstack([a, b]), [_n(2, 3), _n(2, 3)], True),
    ("kron", lambda a, b: ops.kron(a, b), np.kron, [_n(2, 3), _n(3, 2)], True),
    ("ptp", lambda x: ops.ptp(x, axis=1), lambda x: np.ptp(x, 1), [_distinct(3, 4)], True),
    ("nansum", lambda x: ops.nansum(ops.where(x > 1.0, np.nan, x), axis=0),
     lambda x: np.nansum(np.where(x > 1.0, np.nan, x), 0), [lambda r: _away(r.normal(size=(4, 3)), [1.0])], True),
    ("nanmean", lambda x: ops.nanmean(ops.where(x > 1.0, np.nan, x), axis=1),
     lambda x: np.nanmean(np.where(x > 1.0, np.nan, x), 1),
     [lambda r: _away(np.concatenate([r.normal(size=(3, 3)), -np.ones((3, 1))], 1), [1.0])], True),
    ("nanmax", lambda x: ops.nanmax(ops.where(x > 1.0, np.nan, x)), lambda x: np.nanmax(np.where(x > 1.0, np.nan, x)),
     [lambda r: _away(_distinct(3, 4)(r) / 2, [1.0])], True),
    ("nanmin", lambda x: ops.nanmin(ops.where(x > 1.0, np.nan, x), axis=0),
     lambda x: np.nanmin(np.where(x > 1.0, np.nan, x), 0),
     [lambda r: _away(np.concatenate([_distinct(3, 4)(r) / 2, -np.ones((1, 4)) * 9], 0), [1.0])], True),
    ("trapezoid", lambda y, x: ops.trapezoid(y, x, axis=1), lambda y, x: np.trapezoid(y, x, axis=1),
     [_n(3, 5), lambda r: np.cumsum(r.uniform(0.1, 1, 5))], True),
    ("trapezoid_dx", lambda y: ops.trapezoid(y, dx=0.5), lambda y: np.trapezoid(y, dx=0.5), [_n(3, 5)], True),
    ("vander", lambda x: ops.vander(x, 4), lambda x: np.vander(x, 4), [_n(3, lo=0.5, hi=1.5)], True),
    ("correlate_valid", lambda a, v: ops.correlate(a, v), np.correlate, [_n(6), _n(3)], True),
    ("correlate_same", lambda a, v: ops.correlate(a, v, mode="same"), lambda a, v: np.correlate(a, v, "same"),
     [_n(6), _n(4)], True),
    ("correlate_full_short", lambda a, v: ops.correlate(a, v, mode="full"), lambda a, v: np.correlate(a, v, "full"),
     [_n(3), _n(5)], True),
    ("corrcoef", lambda x: ops.corrcoef(x), np.corrcoef, [_n(3, 6)], True),
    ("sparse_sigmoid", lambda x: ops.sparse_sigmoid(x), lambda x: np.clip((x + 1) / 2, 0, 1),
     [lambda r: _away(r.uniform(-2, 2, (3, 4)), [-1, 1])], True),
    ("sparsemax", lambda x: ops.sparsemax(x, axis=0), lambda x: _sparsemax_ref(x.T).T, [_distinct(5, 3)], True),
    ("layer_normalization", lambda x, g, b: ops.layer_normalization(x, g, b, epsilon=1e-5),
     lambda x, g, b: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * g + b,
     [_n(3, 4), _n(4), _n(4)], True),
    ("space_to_depth", lambda x: ops.space_to_depth(x, 2), lambda x: _s2d_ref(x, 2), [_n(1, 4, 2, 3)], True),
    ("depth_to_space", lambda x: ops.depth_to_space(x, 2), lambda x: _d2s_ref(x, 2), [_n(1, 2, 3, 8)], True),
    ("depth_to_space_first", lambda x: ops.depth_to_space(x, 2, data_format="channels_first"),
     lambda x: np.moveaxis(_d2s_ref(np.moveaxis(x, 1, -1), 2), -1, 1), [_n(1, 4, 2, 3)], True),
    ("logdet", lambda x: ops.logdet(x), lambda x: np.linalg.slogdet(x)[1],
     [lambda r: (lambda m: m @ np.swapaxes(m, -1, -2) + 3 * np.eye(3))(r.normal(size=(2, 3, 3)))], True),
    ("extract_sequences", lambda x: ops.extract_sequences(x, 3, 2),
     lambda x: np.stack([x[..., i:i + 3] for i in range(0, 5, 2)], -2), [_n(2, 7)], True),
    ("associative_scan", lambda x: ops.associative_scan(lambda a, b: a * b + b, x, axis=1),
     lambda x: _assoc_ref(x), [_n(2, 4)], True),
    ("inv", lambda a: ops.inv(a), np.linalg.inv, [_wellconditioned(2, 3, 3)], True),
    ("det", lambda a: ops.det(a), np.linalg.det, [_wellconditioned(2, 3, 3)], True),
    ("slogdet", lambda a: list(ops.slogdet(a)), lambda a: list(np.linalg.slogdet(a)), [_wellconditioned(3, 3)], True),
    ("solve", lambda a, b: ops.solve(a, b), np.linalg.solve, [_wellconditioned(2, 3, 3), _n(2, 3, 2)], True),
    ("solve_vector", lambda a, b: ops.solve(a, b), lambda a, b: np.linalg.solve(a, b[:, None])[:, 0],
     [_wellconditioned(3, 3), _n(3)], True),
    ("solve_triangular", lambda a, b: ops.solve_triangular(a, b, lower=True),
     lambda a, b: np.linalg.solve(np.tril(a), b), [_wellconditioned(3, 3), _n(3, 2)], True),
    ("cholesky", lambda a: ops.cholesky((a + ops.transpose(a)) / 2.0),
     lambda a: np.linalg.cholesky((a + a.T) / 2), [_spd(3)], True),
    ("cholesky_upper", lambda a: ops.cholesky((a + ops.transpose(a)) / 2.0, upper=True),
     lambda a: np.linalg.cholesky((a + a.T) / 2).T, [_spd(3)], True),
    ("eigh", lambda a: (lambda w, v: [w, v * v])(*ops.eigh((a + ops.transpose(a)) / 2.0)),
     lambda a: (lambda w, v: [w, v * v])(*np.linalg.eigh((a + a.T) / 2)), [_spd(3)], True),
    ("norm_vector_p", lambda x: ops.norm(x, ord=3, axis=1), lambda x: np.linalg.norm(x, 3, axis=1),
     [lambda r: _away(r.normal(size=(2, 4)), [0])], True),
    ("norm_l1_keepdims", lambda x: ops.norm(x, ord=1, axis=0, keepdims=True),
     lambda x: np.linalg.norm(x, 1, axis=0, keepdims=True), [lambda r: _away(r.normal(size=(2, 4)), [0])], True),
    ("norm_inf", lambda x: ops.norm(x, ord=np.inf, axis=-1), lambda x: np.linalg.norm(x, np.inf, axis=-1),
     [_distinct(3, 4)], True),
    ("norm_fro", lambda x: ops.norm(x, ord="fro", axis=(1, 2)), lambda x: np.linalg.norm(x, "fro", axis=(1, 2)),
     [_n(2, 3, 4)], True),
    ("norm_matrix_1", lambda x: ops.norm(x, ord=1), lambda x: np.linalg.norm(x, 1), [_distinct(3, 4)], True),
    ("norm_matrix_neg_inf", lambda x: ops.norm(x, ord=-np.inf, axis=(0, 1), keepdims=True),
     lambda x: np.linalg.norm(x, -np.inf, axis=(0, 1), keepdims=True), [_distinct(3, 4)], True),
    ("conv_transpose", lambda x, w: ops.conv_transpose(x, w, strides=2, padding="same"),
     lambda x, w: R.conv2d_transpose(x, w, strides=(2, 2), padding="same"), [_n(1, 3, 3, 2), _n(3, 3, 4, 2)], True),
    ("conv_transpose_1d", lambda x, w: ops.conv_transpose(x, w, strides=2, output_padding=1),
     lambda x, w: R.conv2d_transpose(x[:, None], w[None], strides=(1, 2), output_padding=(0, 1))[:, 0],
     [_n(2, 4, 2), _n(3, 3, 2)], True),
    ("lstsq", lambda a, b: ops.lstsq(a, b), lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0],
     [_n(5, 3), _n(5, 2)], True),
    ("fft", lambda r, i: list(ops.fft((r, i))), lambda r, i: _pair(np.fft.fft(r + 1j * i)), [_n(2, 6), _n(2, 6)], True),
    ("ifft", lambda r, i: list(ops.ifft((r, i))), lambda r, i: _pair(np.fft.ifft(r + 1j * i)), [_n(5), _n(5)], True),
    ("fft2", lambda r, i: list(ops.fft2((r, i))), lambda r, i: _pair(np.fft.fft2(r + 1j * i)),
     [_n(2, 3, 4), _n(2, 3, 4)], True),
    ("ifft2", lambda r, i: list(ops.ifft2((r, i))), lambda r, i: _pair(np.fft.ifft2(r + 1j * i)),
     [_n(3, 4), _n(3, 4)], True),
    ("rfft", lambda x: list(ops.rfft(x)), lambda x: _pair(np.fft.rfft(x)), [_n(2, 8)], True),
    ("rfft_odd_crop", lambda x: list(ops.rfft(x, fft_length=5)), lambda x: _pair(np.fft.rfft(x, 5)), [_n(2, 8)], True),
    ("rfft_pad", lambda x: list(ops.rfft(x, fft_length=10)), lambda x: _pair(np.fft.rfft(x, 10)), [_n(7)], True),
    ("irfft", lambda r, i: ops.irfft((r, i)), lambda r, i: np.fft.irfft(r + 1j * i), [_n(2, 5), _n(2, 5)], True),
    ("irfft_odd", lambda r, i: ops.irfft((r, i), fft_length=7), lambda r, i: np.fft.irfft(r + 1j * i, 7),
     [_n(5), _n(5)], True),
    ("irfft_short", lambda r, i: ops.irfft((r, i), fft_length=4), lambda r, i: np.fft.irfft(r + 1j * i, 4),
     [_n(5), _n(5)], True),
    ("unfold", lambda x: ops.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
     lambda x: _unfold_ref(x, (2, 3), (1, 2), (1, 1), (2, 1)), [_n(2, 2, 4, 5)], True),
    ("fold", lambda p: ops.fold(p, (4, 5), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
     lambda p: _fold_ref(p, (2, 2, 4, 5), (2, 3), (1, 2), (1, 1), (2, 1)), [_n(2, 12, 9)], True),
    ("adaptive_average_pool", lambda x: ops.adaptive_average_pool(x, (3, 2)),
     lambda x: _adaptive_ref(x, (3, 2), np.mean), [_n(2, 7, 5, 2)], True),
    ("adaptive_max_pool", lambda x: ops.adaptive_max_pool(x, (2, 3)),
     lambda x: _adaptive_ref(x, (2, 3), np.max), [_distinct(2, 5, 7, 2)], True),
    ("adaptive_average_pool_1d_first", lambda x: ops.adaptive_average_pool(x, 3, data_format="channels_first"),
     lambda x: np.moveaxis(_adaptive_ref(np.moveaxis(x, 1, -1)[:, None], (1, 3), np.mean)[:, 0], -1, 1),
     [_n(2, 2, 8)], True),
    ("polar", lambda r, a: list(ops.polar(r, a)), lambda r, a: [r * np.cos(a), r * np.sin(a)], [_n(4), _n(4)], True),
    ("vectorize", lambda a, b: ops.vectorize(lambda u, v: ops.square(u) * v + 1.0)(a, b),
     lambda a, b: a * a * b + 1.0, [_n(2, 3), _n(3)], True),
    ("stft", lambda x: list(ops.stft(x, 8, 3, 8)), lambda x: _stft_ref(x, 8, 3, 8, "hann", True), [_n(2, 20)], True),
    ("stft_hamming_short_window", lambda x: list(ops.stft(x, 6, 4, 8, window="hamming", center=False)),
     lambda x: _stft_ref(x, 6, 4, 8, "hamming", False), [_n(21)], True),
    ("istft", lambda r, i: ops.istft((r, i), 8, 2, 8, length=14),
     lambda r, i: _istft_ref(r + 1j * i, 8, 2, 8, 14), [_n(2, 7, 5), _n(2, 7, 5)], True),
    ("qr", lambda a: list(ops.qr(a)), lambda a: _qr_ref(a), [_n(2, 5, 3)], True),
    ("qr_square", lambda a: list(ops.qr(a, mode="complete")), lambda a: _qr_ref(a), [_wellconditioned(3, 3)], True),
    ("svd_values", lambda a: ops.svd(a, compute_uv=False), lambda a: np.linalg.svd(a, compute_uv=False),
     [_n(2, 4, 3)], True),
    ("svd_tall", lambda a: (lambda u, s, vh: [u * u, s, vh * vh])(*ops.svd(a, full_matrices=False)),
     lambda a: (lambda u, s, vh: [u * u, s, vh * vh])(*np.linalg.svd(a, full_matrices=False)), [_n(5, 3)], True),
    ("svd_wide", lambda a: (lambda u, s, vh: [u * u, s, vh * vh, u @ vh])(*ops.svd(a, full_matrices=False)),
     lambda a: (lambda u, s, vh: [u * u, s, vh * vh, u @ vh])(*np.linalg.svd(a, full_matrices=False)),
     [_n(2, 3, 5)], True),
    # not differentiable: forward only, and constants for the tape
    ("floor", lambda x: ops.floor(x), np.floor, [_n(3, 4)], False),
    ("ceil", lambda x: ops.ceil(x), np.ceil, [_n(3, 4)], False),
    ("trunc", lambda x: ops.trunc(x), np.trunc, [_n(3, 4)], False),
    ("round", lambda x: ops.round(x), np.round, [lambda r: np.array([0.5, 1.5, 2.5, -0.5, -1.7, 3.2])], False),
    ("round_decimals", lambda x: ops.round(x, decimals=1), lambda x: np.round(x, 1),
     [lambda r: np.array([0.25, 1.27, -3.14159])], False),
    ("floor_divide", lambda a, b: ops.floor_divide(a, b), np.floor_divide, [_n(3, 4), _n(4, lo=0.5, hi=2)], False),
    ("isnan", lambda x: ops.isnan(x), np.isnan, [lambda r: np.array([1.0, np.nan, np.inf])], False),
    ("isinf", lambda x: ops.isinf(x), np.isinf, [lambda r: np.array([1.0, np.nan, -np.inf])], False),
    ("isfinite", lambda x: ops.isfinite(x), np.isfinite, [lambda r: np.array([1.0, np.nan, -np.inf])], False),
    ("isclose", lambda a, b: ops.isclose(a, b, atol=0.1), lambda a, b: np.isclose(a, b, atol=0.1),
     [lambda r: np.array([1.0, 2.0, 3.0]), lambda r: np.array([1.05, 2.5, 3.0])], False),
    ("logical_xor", lambda a, b: ops.logical_xor(a, b), np.logical_xor,
     [lambda r: np.array([0.0, 1.0, 2.0, 0.0]), lambda r: np.array([0.0, 0.0, 1.0, 3.0])], False),
    ("any", lambda x: ops.any(x > 0.5, axis=1), lambda x: (x > 0.5).any(1), [_n(3, 4)], False),
    ("all", lambda x: ops.all(x > -1.0, axis=0, keepdims=True), lambda x: (x > -1.0).all(0, keepdims=True),
     [_n(3, 4)], False),
    ("count_nonzero", lambda x: ops.count_nonzero(ops.floor(x), axis=1),
     lambda x: np.count_nonzero(np.floor(x), 1), [_n(3, 4)], False),
    ("argsort", lambda x: ops.argsort(x, axis=0), lambda x: np.argsort(x, 0), [_distinct(4, 3)], False),
    ("searchsorted", lambda s, v: ops.searchsorted(s, v, side="right"),
     lambda s, v: np.searchsorted(s, v, side="right"), [lambda r: np.sort(r.normal(size=6)), _n(4)], False),
    ("digitize", lambda x: ops.digitize(x, [-1.0, 0.0, 1.0]), lambda x: np.digitize(x, [-1.0, 0.0, 1.0]),
     [_n(8)], False),
    ("in_top_k", lambda p: ops.in_top_k([0, 2, 1], p, 2), lambda p: _in_top_k_ref([0, 2, 1], p, 2),
     [_distinct(3, 4)], False),
    ("linspace", lambda a, b: ops.linspace(a, b, num=7), lambda a, b: np.linspace(a, b, 7),
     [lambda r: np.float64(-1.5), lambda r: np.float64(2.0)], False),
    ("linspace_vector", lambda a, b: ops.linspace(a, b, num=4, endpoint=False, axis=1),
     lambda a, b: np.linspace(a, b, 4, endpoint=False, axis=1), [_n(2), _n(2)], False),
    ("logspace", lambda a: ops.logspace(a, 2.0, num=5, base=2), lambda a: np.logspace(a, 2.0, 5, base=2),
     [lambda r: np.float64(0.5)], False),
    ("full_like", lambda x: ops.full_like(x, 2.5), lambda x: np.full_like(x, 2.5), [_n(2, 3)], False),
    ("nextafter", lambda a, b: ops.nextafter(a, b),
     lambda a, b: np.nextafter(a.astype(np.float32), b.astype(np.float32)), [_n(4), _n(4)], False),
    ("heaviside", lambda a, b: ops.heaviside(a, b), np.heaviside,
     [lambda r: np.array([-1.0, 0.0, 2.0]), lambda r: np.array([0.5, 0.5, 0.5])], False),
    ("signbit", lambda x: ops.signbit(x), np.signbit, [lambda r: np.array([-1.0, 0.0, 2.0, -0.0])], False),
    ("isposinf", lambda x: ops.isposinf(x), np.isposinf, [lambda r: np.array([np.inf, -np.inf, 1.0])], False),
    ("isneginf", lambda x: ops.isneginf(x), np.isneginf, [lambda r: np.array([np.inf, -np.inf, 1.0])], False),
    ("isreal", lambda x: ops.isreal(x), np.isreal, [_n(3)], False),
    ("isin", lambda x: ops.isin(ops.floor(x), [0.0, 1.0]), lambda x: np.isin(np.floor(x), [0.0, 1.0]), [_n(3, 4)], False),
    ("imag", lambda x: ops.imag(x), np.imag, [_n(3)], False),
    ("angle", lambda x: ops.angle(x), np.angle, [_n(5)], False),
    ("empty_like_shape", lambda x: ops.empty_like(x) * 0.0, lambda x: np.zeros_like(x), [_n(2, 3)], False),
    ("windows", lambda x: ops.concatenate([ops.bartlett(5), ops.blackman(5), ops.hamming(5), ops.hanning(5),
                                            ops.kaiser(5, 3.0)]),
     lambda x: np.concatenate([np.bartlett(5), np.blackman(5), np.hamming(5), np.hanning(5), np.kaiser(5, 3.0)]),
     [_n(1)], False),
]


def _scatter_ref(idx, v, shape):
    out = np.zeros(shape)
    for row, val in zip(idx, v):
        out[tuple(row)] += val
    return out


def _scatter_update_ref(x, idx, u):
    out = x.copy()
    for row, val in zip(idx, u):
        out[tuple(row)] = val
    return out


def _scan_ref(x):
    c, ys = np.zeros(3), []
    for r in x:
        ys.append(c.sum())
        c = c * 0.5 + r
    return [c, np.array(ys)]


def _in_top_k_ref(t, p, k):
    return np.array([t_i in np.argsort(-row)[:k] for t_i, row in zip(t, p)], bool)   # Keras: a bool tensor


def _sparsemax_ref(z):
    """Per row: the projection onto the simplex by bisection on tau (sum max(z - tau, 0) = 1)."""
    out = []
    for row in z:
        lo, hi = row.min() - 1, row.max()
        for _ in range(200):
            tau = (lo + hi) / 2
            lo, hi = (tau, hi) if np.maximum(row - tau, 0).sum() > 1 else (lo, tau)
        out.append(np.maximum(row - (lo + hi) / 2, 0))
    return np.array(out)


def _s2d_ref(x, b):
    n, h, w, c = x.shape
    out = np.zeros((n, h // b, w // b, b * b * c))
    for i in range(h):
        for j in range(w):
            out[:, i // b, j // b, ((i % b) * b + j % b) * c:((i % b) * b + j % b + 1) * c] = x[:, i, j]
    return out


def _d2s_ref(x, b):
    n, h, w, c = x.shape
    co = c // (b * b)
    out = np.zeros((n, h * b, w * b, co))
    for i in range(h * b):
        for j in range(w * b):
            k = (i % b) * b + j % b
            out[:, i, j] = x[:, i // b, j // b, k * co:(k + 1) * co]
    return out


def _assoc_ref(x):
    out = x.copy()
    for j in range(1, x.shape[1]):
        out[:, j] = out[:, j - 1] * x[:, j] + x[:, j]
    return out


def _flat(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _inputs(case, rng):
    return [f64(make(rng)).astype(np.float32).astype(np.float64) for make in case[3]]


@pytest.mark.parametrize("as_tensor", [True, False], ids=["tensor", "array"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_forward_matches_numpy(case, as_tensor, rng):
    name, call, ref, _, _ = case
    xs = _inputs(case, rng)
    args = [ops.convert_to_tensor(x.astype(np.float32)) for x in xs] if as_tensor else xs
    got = _flat(call(*args))
    want = _flat(ref(*xs))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if np.asarray(w).dtype == np.bool_:   # predicates give bool tensors, as Keras
            assert isinstance(g, BoolMask), f"{name} returned {type(g).__name__}"
        else:
            assert isinstance(g, Tensor), f"{name} returned {type(g).__name__}"
            assert g.dtype in ("float32", "int64", "int32")
        g = np.asarray(g)
        assert g.shape == np.shape(w), name
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6, err_msg=name)


DIFF = [c for c in CASES if c[4]]


@pytest.mark.parametrize("case", DIFF, ids=[c[0] for c in DIFF])
def test_gradient_matches_finite_differences(case, rng):
    """d sum(w * op(xs)) / d xs from the tape vs central differences of the float64 reference."""
    name, call, ref, _, _ = case
    xs = _inputs(case, rng)
    ws = [rng.normal(size=np.shape(w)) for w in _flat(ref(*xs))]
    ts = [ops.convert_to_tensor(x.astype(np.float32)) for x in xs]
    with corenn.GradientTape() as tape:
        tape.watch(ts)
        outs = _flat(call(*ts))
        loss = ops.sum(ops.stack([ops.sum(o * w.astype(np.float32)) for o, w in zip(outs, ws)]))
    grads = tape.gradient(loss, ts)

    def objective(i):
        def f(v):
            args = list(xs)
            args[i] = v
            return sum(float((f64(o) * w).sum()) for o, w in zip(_flat(ref(*args)), ws))
        return f
    for i, (x, g) in enumerate(zip(xs, grads)):
        want = numerical_grad(objective(i), x)
        assert g is not None, f"{name}: no gradient for input {i}"
        np.testing.assert_allclose(np.asarray(g), want, rtol=2e-3, atol=2e-4, err_msg=f"{name} input {i}")


@pytest.mark.parametrize("fn", [ops.floor, ops.ceil, ops.round, ops.sign, ops.argsort, ops.isnan,
                                lambda x: ops.top_k(x, 2)[1], lambda x: ops.greater(x, 0.0)])
def test_non_differentiable_ops_are_constants_for_the_tape(fn, rng):
    x = ops.convert_to_tensor(rng.normal(size=(3, 4)).astype(np.float32))
    with corenn.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.cast(fn(x), "float32"))
    assert tape.gradient(y, x) is None


def test_integer_inputs_keep_integer_dtypes():
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    t = ops.convert_to_tensor(a)
    for out, want in [(ops.cumsum(t, axis=0), np.cumsum(a, 0)), (ops.flip(a, axis=1), np.flip(a, 1)),
                      (ops.tile(a, (1, 2)), np.tile(a, (1, 2))), (ops.take(t, [2, 0], axis=0), a[[2, 0]]),
                      (ops.roll(t, 1), np.roll(a, 1)), (ops.sort(-a, axis=1), np.sort(-a, 1)),
                      (ops.pad(t, 1), np.pad(a, 1)), (ops.triu(t), np.triu(a)), (ops.trunc(t), a),
                      (ops.mod(t, 5), a % 5), (ops.floor_divide(t, 5), a // 5), (ops.prod(t + 1, axis=1),
                                                                                   np.prod(a + 1, 1)),
                      (ops.reshape(t, (4, 3)), a.reshape(4, 3)), (ops.transpose(t), a.T),
                      (ops.expand_dims(t, 1), a[:, None]), (ops.squeeze(a[None]), a),
                      (ops.concatenate([t, a], axis=1), np.concatenate([a, a], 1)), (ops.stack([t, t]), np.stack([a, a])),
                      (ops.add(t, 2), a + 2), (ops.maximum(t, a[::-1]), np.maximum(a, a[::-1])),
                      (ops.repeat(t, 2, axis=0), np.repeat(a, 2, 0)), (ops.broadcast_to(t, (2, 3, 4)),
                                                                        np.broadcast_to(a, (2, 3, 4)))]:
        assert out.dtype in ("int32", "int64"), out.dtype
        np.testing.assert_array_equal(np.asarray(out), want)
    assert ops.argsort(t).dtype == "int32" and ops.top_k(t, 2)[1].dtype == "int32"
    assert ops.log1p(t).dtype == "float32"
    assert ops.dtype(t) == "int32" and ops.dtype(1.0) == "float32" and ops.dtype(np.zeros(2, np.int64)) == "int64"
    assert ops.is_tensor(t) and not ops.is_tensor(a)


def test_results_do_not_share_memory_with_inputs():
    x = ops.convert_to_tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    y = ops.ravel(x)
    np.asarray(y)[0] = 100.0
    assert np.asarray(x)[0, 0] == 0.0


def test_top_k_ties_and_in_top_k(rng):
    x = np.array([[1.0, 3.0, 3.0, 2.0]])
    values, indices = ops.top_k(x, 3)
    np.testing.assert_array_equal(np.asarray(indices), [[1, 2, 3]])   # ties: lower index first (TF)
    np.testing.assert_array_equal(np.asarray(values), [[3.0, 3.0, 2.0]])
    np.testing.assert_array_equal(np.asarray(ops.in_top_k([2, 0], np.array([[1.0, 3.0, 3.0], [0.0, 1.0, 2.0]]), 1)),
                                  [1.0, 0.0])


def test_argpartition_nonzero_bincount_multi_hot_tri(rng):
    x = rng.normal(size=(7,))
    p = np.asarray(ops.argpartition(x, 3))
    assert np.all(x[p[:3]] <= x[p[3]]) and np.all(x[p[4:]] >= x[p[3]])
    m = np.array([[0.0, 1.5], [2.0, 0.0]])
    for got, want in zip(ops.nonzero(m), np.nonzero(m)):
        np.testing.assert_array_equal(np.asarray(got), want)
    np.testing.assert_array_equal(np.asarray(ops.bincount(np.array([0, 3, 3, 1]), minlength=6)),
                                  np.bincount([0, 3, 3, 1], minlength=6))
    np.testing.assert_allclose(np.asarray(ops.bincount(np.array([0, 2, 2]), weights=[0.5, 1.0, 2.0])),
                               np.bincount([0, 2, 2], [0.5, 1.0, 2.0]))
    np.testing.assert_array_equal(np.asarray(ops.multi_hot([[0, 2], [1, 1]], 4)),
                                  [[1, 0, 1, 0], [0, 1, 0, 0]])
    np.testing.assert_array_equal(np.asarray(ops.tri(3, 4, k=1)), np.tri(3, 4, 1))
    np.testing.assert_array_equal(np.asarray(ops.identity(3)), np.eye(3))
    assert ops.empty((2, 3)).shape == (2, 3)
    values, step = ops.linspace(0.0, 1.0, 5, retstep=True)
    assert step == pytest.approx(0.25) and np.asarray(values)[-1] == 1.0


def test_erfinv_inverts_erf_and_edges():
    y = np.array([-1.0, -0.999, -0.3, 0.0, 1e-5, 0.7, 0.9999, 1.0, 1.5])
    x = np.asarray(ops.erfinv(y))
    assert x[0] == -np.inf and x[7] == np.inf and np.isnan(x[8])
    np.testing.assert_allclose(_erf(x[1:7]), y[1:7], rtol=1e-6, atol=1e-7)


def test_control_flow():
    assert ops.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s + i), (0, 0)) == (5, 10)
    assert ops.while_loop(lambda i: i < 5, lambda i: i + 2, 0) == 6
    assert ops.while_loop(lambda i: i < 100, lambda i: i + 1, 0, maximum_iterations=7) == 7
    assert ops.fori_loop(0, 4, lambda i, v: v * 2 + i, 1) == ((((1 * 2) * 2 + 1) * 2 + 2) * 2 + 3)
    assert ops.switch(1, [lambda x: x + 1, lambda x: x * 10], 3) == 30
    assert ops.switch(7, [lambda x: x + 1, lambda x: x * 10], 3) == 30   # clamped, as Keras
    np.testing.assert_allclose(np.asarray(ops.vectorized_map(lambda r: r * 2.0, np.ones((3, 2)))), 2.0)


@pytest.mark.parametrize("call, match", [
    (lambda: ops.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((4, 5))), r"ops.einsum: 'ij,jk->ik'.*\(2, 3\), \(4, 5\)"),
    (lambda: ops.take(np.ones((2, 3)), [3], axis=1), r"ops.take: .*axis 1 of shape \(2, 3\)"),
    (lambda: ops.take_along_axis(np.ones((2, 3)), np.zeros((2,), int), axis=1), r"ops.take_along_axis: .*rank"),
    (lambda: ops.cumsum(np.ones((2, 3)), axis=2), r"ops.cumsum: axis 2 is out of range .* rank 2"),
    (lambda: ops.logsumexp(np.ones((2, 3)), axis=(0, 0)), r"ops.logsumexp: repeated axis"),
    (lambda: ops.top_k(np.ones((2, 3)), 4), r"ops.top_k: k=4 .* shape \(2, 3\)"),
    (lambda: ops.pad(np.ones((2, 3)), ((1, 1), (1, 1), (1, 1))), r"ops.pad: pad_width .* shape \(2, 3\)"),
    (lambda: ops.pad(np.ones((2, 3)), 1, mode="median"), r"ops.pad: mode must be"),
    (lambda: ops.broadcast_to(np.ones((2, 3)), (3, 3)), r"ops.broadcast_to: .*\(2, 3\) to \(3, 3\)"),
    (lambda: ops.triu(np.ones(3)), r"ops.triu: .*rank >= 2.*\(3,\)"),
    (lambda: ops.repeat(np.ones((2, 3)), [1, 2], axis=1), r"ops.repeat: .*axis 1 of shape \(2, 3\)"),
    (lambda: ops.swapaxes(np.ones((2, 3)), 0, 3), r"ops.swapaxes: axis 3"),
    (lambda: ops.arctan2(np.ones((2, 3)), np.ones((2,))), r"ops.arctan2: shapes \(2, 3\), \(2,\) do not broadcast"),
    (lambda: ops.split(np.ones((5, 2)), 2), r"ops.split: .*\(5, 2\).*2 equal sections"),
    (lambda: ops.slice(np.ones((3, 3)), [2, 0], (2, 2)), r"ops.slice: .*shape \(3, 3\)"),
    (lambda: ops.scatter([[3]], [1.0], (3,)), r"ops.scatter: an index along axis 0"),
    (lambda: ops.segment_sum(np.ones((3, 2)), [0, 1]), r"ops.segment_sum: segment_ids of shape \(2,\).*\(3, 2\)"),
    (lambda: ops.glu(np.ones((2, 3))), r"ops.glu: axis -1 of shape \(2, 3\)"),
    (lambda: ops.quantile(np.ones(3), 1.5), r"ops.quantile: quantiles must lie in \[0, 1\]"),
    (lambda: ops.batch_normalization(np.ones((2, 3)), np.ones(2), np.ones(3), axis=-1),
     r"ops.batch_normalization: statistics of shape \(2,\)"),
    (lambda: ops.cross(np.ones((2, 2)), np.ones((2, 3))), r"ops.cross: needs 3-vectors"),
    (lambda: ops.tensordot(np.ones((2, 3)), np.ones((2, 3)), axes=1), r"ops.tensordot: axis 1 of \(2, 3\)"),
    (lambda: ops.conv(np.ones((1, 4, 4, 3)), np.ones((3, 3, 2, 4))), r"ops.conv: kernel of shape \(3, 3, 2, 4\).*channels 3"),
    (lambda: ops.max_pool(np.ones((4, 4)), 2), r"ops.max_pool: .*rank 3 or 4.*\(4, 4\)"),
    (lambda: ops.inv(np.zeros((2, 2))), r"ops.inv: Singular matrix \(input shape \(2, 2\)\)"),
    (lambda: ops.det(np.ones((2, 3))), r"ops.det: needs square matrices .*\(2, 3\)"),
    (lambda: ops.solve(np.eye(3), np.ones((2, 1))), r"ops.solve: b of shape \(2, 1\) does not match a of shape \(3, 3\)"),
    (lambda: ops.norm(np.ones((2, 3)), ord="fro", axis=0), r"ops.norm: ord='fro' is a matrix norm"),
    (lambda: ops.where(np.ones(3), np.ones(3)), r"ops.where: give both x1 and x2"),
    (lambda: ops.log1p(np.array(["a"])), r"ops.log1p: expected numeric data.*<U1"),
])
def test_bad_input_names_the_op_and_shapes(call, match):
    with pytest.raises((ValueError, TypeError, IndexError), match=match):
        call()


def test_unsupported_variants_say_so():
    with pytest.raises(ValueError, match=r"ops.norm: matrix ord='max'"):
        ops.norm(np.ones((2, 3)), ord="max")
    with pytest.raises(NotImplementedError, match=r"ops.quantile: one axis at a time"):
        ops.quantile(np.ones((2, 3)), 0.5, axis=(0, 1))


# -- PyTorch parity ------------------------------------------------------------------------------

def _torch_pair(rng, shape):
    x = rng.normal(size=shape).astype(np.float32)
    return x, ops.convert_to_tensor(x)


def test_torch_parity_forward_and_backward(rng):
    torch = pytest.importorskip("torch")

    def check(corenn_fn, torch_fn, *shapes):
        arrays = [rng.normal(size=s).astype(np.float32) for s in shapes]
        ts = [ops.convert_to_tensor(a) for a in arrays]
        pt = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
        with corenn.GradientTape() as tape:
            tape.watch(ts)
            y = corenn_fn(*ts)
            w = rng.normal(size=tuple(y.shape)).astype(np.float32)
            loss = ops.sum(y * w)
        grads = tape.gradient(loss, ts)
        ty = torch_fn(*pt)
        (ty * torch.tensor(w.astype(np.float64))).sum().backward()
        np.testing.assert_allclose(np.asarray(y), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
        for g, p in zip(grads, pt):
            np.testing.assert_allclose(np.asarray(g), p.grad.numpy(), rtol=1e-4, atol=1e-5)

    check(lambda a, b: ops.einsum("bij,bjk->bik", a, b), lambda a, b: torch.einsum("bij,bjk->bik", a, b),
          (2, 3, 4), (2, 4, 5))
    check(lambda a: ops.einsum("ii->", a), lambda a: torch.einsum("ii->", a), (4, 4))
    check(lambda x: ops.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, dim=1), (3, 5))
    check(lambda x: ops.cumsum(x, axis=0), lambda x: torch.cumsum(x, dim=0), (4, 3))
    check(lambda x: ops.cumprod(x, axis=1), lambda x: torch.cumprod(x, dim=1), (3, 4))
    idx = rng.integers(0, 5, size=(3, 4))
    check(lambda x: ops.take_along_axis(x, idx, axis=1),
          lambda x: torch.take_along_dim(x, torch.tensor(idx), dim=1), (3, 5))
    check(lambda x: ops.top_k(x, 3)[0], lambda x: torch.topk(x, 3).values, (4, 6))
    check(lambda x: ops.erf(x), torch.erf, (3, 4))
    check(lambda x: ops.gelu(x), lambda x: torch.nn.functional.gelu(x, approximate="tanh"), (3, 4))
    x = rng.normal(size=(4, 6)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(ops.top_k(x, 3)[1]), torch.topk(torch.tensor(x), 3).indices.numpy())


# -- a custom layer and loss written with the new ops --------------------------------------------

class CumulativeGate(layers.Layer):
    """x -> einsum projection, a cumulative sum over the features, a gelu gate, a padded roll."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, inputs):
        h = ops.einsum("bi,io->bo", inputs, self.w) + self.b
        h = ops.cumsum(h, axis=-1) / float(self.units)
        gated = ops.glu(ops.concatenate([h, ops.flip(h, axis=-1)], axis=-1))
        return ops.gelu(gated) + ops.take(ops.pad(h, ((0, 0), (1, 0))), np.arange(self.units), axis=1)


def logsumexp_loss(y_true, y_pred):
    """Cross-entropy written as logsumexp minus the true logit (take_along_axis)."""
    labels = np.asarray(y_true).astype(np.int64).reshape(-1, 1)
    true_logit = ops.take_along_axis(y_pred, labels, axis=1)
    return ops.mean(ops.logsumexp(y_pred, axis=1) - ops.squeeze(true_logit, axis=1))


def test_custom_layer_and_loss_train_under_gradient_tape(rng):
    corenn.utils.set_random_seed(3)
    x = rng.normal(size=(32, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    model = corenn.Sequential([layers.Input((5,)), CumulativeGate(8), layers.Dense(3)])
    opt = corenn.optimizers.Adam(0.05)
    losses = []
    for _ in range(40):
        with corenn.GradientTape() as tape:
            loss = logsumexp_loss(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        assert all(g is not None for g in grads)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(np.asarray(loss)))
    assert losses[-1] < 0.6 * losses[0], losses
    # the loss agrees with its float64 reference
    logits = np.asarray(model(x)).astype(np.float64)
    ref = np.mean(np.log(np.exp(logits).sum(1)) - logits[np.arange(32), y])
    assert float(np.asarray(logsumexp_loss(y, model(x)))) == pytest.approx(ref, rel=1e-5)


def test_where_does_not_leak_the_unchosen_side(rng):
    """where picks values (no c * a + (1 - c) * b arithmetic: an inf or NaN on the side not
    chosen stays out of the result) and routes dy to the chosen side only."""
    x = ops.convert_to_tensor(rng.normal(size=(3, 4)).astype(np.float32))
    other = ops.convert_to_tensor(np.where(rng.normal(size=(3, 4)) > 0, np.inf, np.nan).astype(np.float32))
    with corenn.GradientTape() as tape:
        tape.watch([x, other])
        y = ops.sum(ops.where(x > -10.0, ops.square(x), other))
    gx, gother = tape.gradient(y, [x, other])
    a = np.asarray(x).astype(np.float64)
    assert float(np.asarray(y)) == pytest.approx((a * a).sum(), rel=1e-5)
    np.testing.assert_allclose(np.asarray(gx), 2 * a, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(gother), 0.0)
    assert np.isnan(np.asarray(ops.where(np.array([1.0, 0.0]), np.nan, 2.0))).tolist() == [True, False]
    t = ops.where(np.array([True, False]), ops.convert_to_tensor(np.array([1, 2])), 7)
    assert t.dtype == "int64" and np.asarray(t).tolist() == [1, 7]


def test_custom_gradient_is_used_by_the_tape(rng):
    @ops.custom_gradient
    def clipped_identity(x):
        def grad(upstream):
            return ops.clip(upstream, -0.5, 0.5)
        return x * 1.0, grad

    x = ops.convert_to_tensor(np.array([1.0, 2.0, 3.0], np.float32))
    with corenn.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(clipped_identity(x) * np.array([0.1, -2.0, 3.0], np.float32))
    np.testing.assert_allclose(np.asarray(tape.gradient(y, x)), [0.1, -0.5, 0.5])


def test_integer_only_ops_and_casts():
    a, b = np.array([12, 7, 5]), np.array([8, 3, 5])
    for got, want in [(ops.bitwise_and(a, b), a & b), (ops.bitwise_or(a, b), a | b), (ops.bitwise_xor(a, b), a ^ b),
                      (ops.bitwise_invert(a), ~a), (ops.left_shift(a, 1), a << 1), (ops.right_shift(a, 1), a >> 1),
                      (ops.gcd(a, b), np.gcd(a, b)), (ops.lcm(a, b), np.lcm(a, b))]:
        assert got.dtype == "int64"
        np.testing.assert_array_equal(np.asarray(got), want)
    with pytest.raises(TypeError, match="ops.bitwise_and: needs integer tensors, got float32"):
        ops.bitwise_and(np.ones(2, np.float32), a[:2])
    rows, cols = ops.unravel_index([0, 5, 7], (2, 4))
    np.testing.assert_array_equal(np.asarray(rows), [0, 1, 1])
    np.testing.assert_array_equal(np.asarray(cols), [0, 1, 3])
    # clipped, then truncated toward zero as Keras' cast(clip(x)) and tf.dtypes.saturate_cast
    np.testing.assert_array_equal(np.asarray(ops.saturate_cast(np.array([-1e10, 3.6, -3.6, 1e10]), "int32")),
                                  [np.iinfo(np.int32).min, 3, -3, np.iinfo(np.int32).max])
    np.testing.assert_array_equal(np.asarray(ops.saturate_cast(np.array([-3.7, 0.6, 1.5, 254.6, 300.2]), "uint8")),
                                  [0, 0, 1, 254, 255])
    counts, edges = ops.histogram(np.array([0.1, 0.2, 0.9, 0.5]), bins=2, range=(0.0, 1.0))
    np.testing.assert_array_equal(np.asarray(counts), [2, 2])
    np.testing.assert_allclose(np.asarray(edges), [0.0, 0.5, 1.0])


# -- CTC -----------------------------------------------------------------------------------------

def _ctc_brute_force(logits, labels, label_lengths, logit_lengths, blank=0):
    """-log of the summed probability of every path that collapses (repeats merged, blanks
    dropped) to the label: all K^T paths enumerated (tiny T only)."""
    import itertools
    out = []
    for x, lab, nl, nt in zip(f64(logits), labels, label_lengths, logit_lengths):
        z = x[:nt] - x[:nt].max(-1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
        want = list(lab[:nl])
        total = 0.0
        for path in itertools.product(range(x.shape[-1]), repeat=int(nt)):
            merged = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
            if [c for c in merged if c != blank] == want:
                total += np.prod([p[t, c] for t, c in enumerate(path)])
        out.append(-np.log(total))
    return np.array(out)


CTC_LABELS, CTC_LABEL_LEN, CTC_TIME_LEN = np.array([[1, 2, 2], [2, 1, 0]]), [3, 1], [5, 4]


def test_ctc_loss_matches_path_enumeration_and_finite_differences(rng):
    x = rng.normal(size=(2, 5, 3))
    want = _ctc_brute_force(x, CTC_LABELS, CTC_LABEL_LEN, CTC_TIME_LEN)
    for arg in (x, ops.convert_to_tensor(x.astype(np.float32))):
        np.testing.assert_allclose(np.asarray(ops.ctc_loss(CTC_LABELS, arg, CTC_LABEL_LEN, CTC_TIME_LEN)), want,
                                   rtol=1e-5)
    w = rng.normal(size=2)
    t = ops.convert_to_tensor(x.astype(np.float32))
    with corenn.GradientTape() as tape:
        tape.watch(t)
        loss = ops.sum(ops.ctc_loss(CTC_LABELS, t, CTC_LABEL_LEN, CTC_TIME_LEN) * w.astype(np.float32))
    g = np.asarray(tape.gradient(loss, t))
    x32 = f64(np.asarray(t))
    fd = numerical_grad(lambda v: float((_ctc_brute_force(v, CTC_LABELS, CTC_LABEL_LEN, CTC_TIME_LEN) * w).sum()), x32)
    np.testing.assert_allclose(g, fd, rtol=2e-3, atol=2e-5)
    assert np.all(g[1, 4:] == 0.0)   # steps past output_length get no gradient


def test_ctc_loss_torch_parity(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(3, 12, 6)).astype(np.float32)
    labels = rng.integers(1, 6, size=(3, 4))
    tl, ol = np.array([4, 2, 3]), np.array([12, 9, 10])
    t = ops.convert_to_tensor(x)
    with corenn.GradientTape() as tape:
        tape.watch(t)
        loss = ops.sum(ops.ctc_loss(labels, t, tl, ol))
    g = np.asarray(tape.gradient(loss, t))
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    tloss = torch.nn.functional.ctc_loss(torch.log_softmax(tx, -1).transpose(0, 1), torch.tensor(labels),
                                         torch.tensor(ol), torch.tensor(tl), blank=0, reduction="none")
    tloss.sum().backward()
    np.testing.assert_allclose(float(np.asarray(loss)), float(tloss.sum().detach()), rtol=1e-5)
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_ctc_decode_greedy_and_errors():
    steps = [[1, 1, 0, 2, 2, 0, 2, 3], [3, 0, 0, 3, 1, 1, 2, 2]]
    x = np.full((2, 8, 4), -1.0)
    for b, path in enumerate(steps):
        x[b, np.arange(8), path] = 2.0 + b
    decoded, scores = ops.ctc_decode(x, [8, 5])
    # padded with -1 to the input's time length (Keras 3)
    np.testing.assert_array_equal(np.asarray(decoded), [[[1, 2, 2, 3, -1, -1, -1, -1], [3, 3, 1, -1, -1, -1, -1, -1]]])
    np.testing.assert_allclose(np.asarray(scores), [[-16.0], [-15.0]])
    with pytest.raises(ValueError, match=r"ops.ctc_loss: needs output \(batch, time, classes\)"):
        ops.ctc_loss(CTC_LABELS, np.ones((2, 5)), CTC_LABEL_LEN, CTC_TIME_LEN)


def test_stft_istft_round_trip_and_torch(rng):
    x = rng.normal(size=(2, 52))   # frames cover every sample: (52 + 16 - 16) is a multiple of the stride
    re, im = ops.stft(x, 16, 4, 16)
    np.testing.assert_allclose(np.asarray(ops.istft((re, im), 16, 4, 16, length=52)), x, atol=2e-6)
    torch = pytest.importorskip("torch")
    t = torch.stft(torch.tensor(x), 16, 4, 16, window=torch.hann_window(16, dtype=torch.float64), center=True,
                   pad_mode="reflect", return_complex=True).transpose(-1, -2)
    np.testing.assert_allclose(np.asarray(re), t.real.numpy(), atol=2e-6)
    np.testing.assert_allclose(np.asarray(im), t.imag.numpy(), atol=2e-6)


def test_decompositions_refuse_gradients_that_do_not_exist(rng):
    a = ops.convert_to_tensor(rng.normal(size=(4, 3)).astype(np.float32))
    with corenn.GradientTape(persistent=True) as tape:
        tape.watch(a)
        u, s, vh = ops.svd(a)                       # full_matrices=True: u is 4x4
        q, r = ops.qr(a, mode="complete")
        lu = ops.sum(u)
        lq = ops.sum(q)
        ls = ops.sum(s)
    with pytest.raises(NotImplementedError, match="ops.svd: the singular vectors beyond min"):
        tape.gradient(lu, a)
    with pytest.raises(NotImplementedError, match=r"ops.qr: the gradient needs m >= n and mode='reduced'"):
        tape.gradient(lq, a)
    # the singular values alone are fine with full_matrices=True
    uu, ss, vv = np.linalg.svd(np.asarray(a).astype(np.float64), full_matrices=False)
    np.testing.assert_allclose(np.asarray(tape.gradient(ls, a)), uu @ vv, rtol=1e-4, atol=1e-5)


def test_argmax_argmin_default_to_the_flattened_array_and_eye_takes_k():
    """Keras 3: ops.argmax(x) / argmin(x) index the flattened array (axis=None), as NumPy; a
    per-row default gave a (3, 4) answer where Keras gives one index. eye(N, M, k) as NumPy."""
    from corenn.keras import ops as kops
    x = np.random.default_rng(3).normal(size=(3, 4, 5)).astype(np.float32)
    assert np.asarray(kops.argmax(x)).shape == () and int(kops.argmax(x)) == int(np.argmax(x))
    assert int(kops.argmin(x)) == int(np.argmin(x))
    np.testing.assert_array_equal(np.asarray(kops.argmax(x, axis=1)), np.argmax(x, axis=1))
    np.testing.assert_array_equal(np.asarray(kops.argmin(x, axis=-1, keepdims=True)),
                                  np.argmin(x, axis=-1, keepdims=True))
    np.testing.assert_array_equal(np.asarray(kops.eye(3, 4, k=1)), np.eye(3, 4, k=1))
    np.testing.assert_array_equal(np.asarray(kops.eye(3)), np.eye(3))


def test_map_over_a_structure_of_tensors(rng):
    """keras.ops.map / vectorized_map take a tuple or dict of tensors (the slices come as the same
    structure) and stack a structure of results field by field, as Keras does."""
    a, b = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(5,)).astype(np.float32)
    out = ops.vectorized_map(lambda ab: (ab[0] * ab[1], ops.sum(ab[0])), (a, b))
    assert isinstance(out, tuple) and len(out) == 2
    np.testing.assert_allclose(np.asarray(out[0]), a * b[:, None], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out[1]), a.sum(1), rtol=1e-5)
    out = ops.map(lambda d: {"s": d["x"] + d["y"]}, {"x": a, "y": 2 * a})
    np.testing.assert_allclose(np.asarray(out["s"]), 3 * a, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ops.map(lambda r: r * 2.0, a)), 2 * a, rtol=1e-6)
    with pytest.raises(ValueError, match="ops.map.*leading axis"):
        ops.map(lambda ab: ab[0], (a, b[:4]))
