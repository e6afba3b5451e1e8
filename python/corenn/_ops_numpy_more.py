"""The rest of ``keras.ops.numpy`` / ``keras.ops.math`` (Keras 3.15) for corenn.ops: NaN-aware
reductions and scans, a few elementwise functions, splitting and flipping names, ``unique``,
dtype ``view``s, the complex views, and einops-style ``rearrange``.

Built from corenn.ops' differentiable ops where the math allows (so gradients come from their
rules), or computed in float64 NumPy with a recorded rule beside the forward:

    nanX(x)        X over the non-NaN entries (NaN -> the operation's identity, then X)
    i0(x)          sum_k ((x/2)^k / k!)^2;            di0/dx = i1(x) = sum_k (x/2)^(2k+1) / (k! (k+1)!)
    sinc(x)        sin(pi x) / (pi x), sinc(0) = 1;   d/dx = (cos(pi x) - sinc(x)) / x, 0 at 0
    fmod(a, b)     a - b trunc(a / b) (the dividend's sign, C's fmod)
    erfc(x)        1 - erf(x)
"""
from __future__ import annotations

import math
import re

import numpy as np

from . import ops as _o
from .kernels import Tensor

__all__ = ["allclose", "dsplit", "erfc", "fabs", "fliplr", "flipud", "fmax", "fmin", "fmod", "geomspace", "i0",
           "nanargmax", "nanargmin", "nancumprod", "nancumsum", "nanmedian", "nanpercentile", "nanprod",
           "nanquantile", "nanstd", "nanvar", "rad2deg", "rearrange", "segment_min", "segment_prod", "sinc",
           "unique", "view", "view_as_complex", "view_as_real"]


# -- elementwise -----------------------------------------------------------------------------------

def erfc(x):
    """1 - erf(x) (computed as erfc, accurate in the tail); d/dx = -2/sqrt(pi) exp(-x^2)."""
    v = np.vectorize(math.erfc, otypes=[np.float64])
    return _o._unary_np("erfc", x, v, lambda a, y: -2.0 / np.sqrt(np.pi) * np.exp(-a * a))


def fabs(x):
    """|x| as a float (NumPy's fabs: integers become float32)."""
    return _o.abs(_o._f32(x, "fabs"))


def rad2deg(x):
    """x * 180 / pi (a float result, as Keras)."""
    return _o.multiply(_o._f32(x, "rad2deg"), 180.0 / np.pi)


def _i0(a, k_max=60):
    term, out, h = np.ones_like(a), np.ones_like(a), (a / 2.0) ** 2
    for k in range(1, k_max):
        term = term * h / (k * k)
        out = out + term
    return out


def _i1(a, k_max=60):
    term = a / 2.0
    out, h = term.copy(), (a / 2.0) ** 2
    for k in range(1, k_max):
        term = term * h / (k * (k + 1))
        out = out + term
    return out


def i0(x):
    """The modified Bessel function of the first kind, order 0 (its power series, in float64;
    NumPy's i0); d/dx i0 = i1."""
    return _o._unary_np("i0", x, _i0, lambda a, y: _i1(a))


def sinc(x):
    """sin(pi x) / (pi x), 1 at x = 0 (NumPy's normalized sinc)."""
    def df(a, y):
        safe = np.where(a == 0, 1.0, a)
        return np.where(a == 0, 0.0, (np.cos(np.pi * a) - np.sinc(a)) / safe)
    return _o._unary_np("sinc", x, np.sinc, df)


def fmod(x1, x2):
    """a - b trunc(a / b): the remainder with the dividend's sign (C fmod, NumPy's fmod);
    integers stay integers. Gradient 1 in a, -trunc(a / b) in b."""
    a, b = _o._any(x1, "fmod"), _o._any(x2, "fmod")
    if not _o._is_float(a) and not _o._is_float(b):
        _o._broadcast_check("fmod", a.shape, b.shape)
        B = np.asarray(b)
        if B.size and (B == 0).any():
            raise ZeroDivisionError("ops.fmod: integer division by zero")
        return _o._t(np.fmod(np.asarray(a), B).astype(_o._int_result_dtype(x1, x2)))
    return _o._binary_np("fmod", a, b, np.fmod, lambda a, b, y: np.ones_like(y), lambda a, b, y: -np.trunc(a / b))


def _fminmax(op, x1, x2, pick):
    """max / min ignoring NaN (NaN only where both are NaN); the gradient to the chosen side."""
    if _o._is_int(x1) and _o._is_int(x2) and (_o._int_array(x1) or _o._int_array(x2)):
        # integers have no NaN: their max / min, the dtype kept
        A, B = np.asarray(x1), np.asarray(x2)
        _o._broadcast_check(op, A.shape, B.shape)
        return _o._t(np.where(pick(A, B), A, B).astype(_o._int_result_dtype(x1, x2)))
    a, b = _o._f32(x1, op), _o._f32(x2, op)
    A, B = np.asarray(a), np.asarray(b)
    _o._broadcast_check(op, A.shape, B.shape)
    take_a = np.isnan(B) | (~np.isnan(A) & pick(A, B))
    return _o.where(take_a, a, b)


def fmax(x1, x2):
    """Elementwise max that ignores NaN (NumPy's fmax)."""
    return _fminmax("fmax", x1, x2, lambda a, b: a >= b)


def fmin(x1, x2):
    """Elementwise min that ignores NaN (NumPy's fmin)."""
    return _fminmax("fmin", x1, x2, lambda a, b: a <= b)


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Whether |x1 - x2| <= atol + rtol |x2| everywhere (a Python bool in a 0-d tensor: float32
    1.0 / 0.0, corenn's boolean)."""
    return _o.all(_o.isclose(x1, x2, rtol=rtol, atol=atol, equal_nan=equal_nan))


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """num values spaced evenly on a log scale from start to stop (NumPy's geomspace)."""
    out = np.geomspace(np.asarray(start, np.float64), np.asarray(stop, np.float64), int(num), endpoint=endpoint,
                       axis=axis)
    return _o._t_as(out, dtype)


# -- splitting and flipping -------------------------------------------------------------------------

def dsplit(x, indices_or_sections):
    """split along the third axis (needs rank >= 3)."""
    t = _o._any(x, "dsplit")
    if t.ndim < 3:
        raise ValueError(f"ops.dsplit: needs a tensor of rank >= 3, got shape {tuple(t.shape)}")
    return _o.split(t, indices_or_sections, axis=2)


def fliplr(x):
    t = _o._any(x, "fliplr")
    if t.ndim < 2:
        raise ValueError(f"ops.fliplr: needs a tensor of rank >= 2, got shape {tuple(t.shape)}")
    return _o.flip(t, axis=1)


def flipud(x):
    t = _o._any(x, "flipud")
    if t.ndim < 1:
        raise ValueError("ops.flipud: needs a tensor of rank >= 1, got a scalar")
    return _o.flip(t, axis=0)


# -- NaN-aware reductions and scans ----------------------------------------------------------------

def _filled(op, x, value):
    """x with its NaNs replaced by ``value`` (differentiable in the other entries), the mask."""
    t = _o._f32(x, op)
    nan = np.isnan(np.asarray(t))
    return _o.where(nan, value, t), nan


def nanprod(x, axis=None, keepdims=False):
    """The product of the non-NaN entries (NaN counts as 1)."""
    t, _ = _filled("nanprod", x, 1.0)
    return _o.prod(t, axis=axis, keepdims=keepdims)


def nancumsum(x, axis=None, dtype=None):
    t, _ = _filled("nancumsum", x, 0.0)
    return _o.cumsum(t, axis=axis, dtype=dtype)


def nancumprod(x, axis=None, dtype=None):
    t, _ = _filled("nancumprod", x, 1.0)
    return _o.cumprod(t, axis=axis, dtype=dtype)


def nanvar(x, axis=None, keepdims=False):
    """The variance of the non-NaN entries: mean of (x - nanmean)^2 over them."""
    t, nan = _filled("nanvar", x, 0.0)
    m = _o.nanmean(x, axis=axis, keepdims=True)
    d = _o.where(nan, 0.0, _o.subtract(t, m))
    count = np.sum(~nan, axis=_o._axes_arg("nanvar", axis, t.ndim), keepdims=keepdims).astype(np.float32)
    with np.errstate(all="ignore"):
        return _o.divide(_o.sum(_o.square(d), axis=axis, keepdims=keepdims), count)


def nanstd(x, axis=None, keepdims=False):
    return _o.sqrt(nanvar(x, axis=axis, keepdims=keepdims))


def _nanarg(op, x, axis, keepdims, fill, pick):
    a = np.asarray(_o._f32(x, op), np.float64)
    nan = np.isnan(a)
    idx = pick(np.where(nan, fill, a), axis=axis, keepdims=keepdims)
    all_nan = np.all(nan, axis=axis, keepdims=keepdims) if axis is not None or a.size else True
    return _o._t(np.where(all_nan, -1, idx).astype(np.int32))


def nanargmax(x, axis=None, keepdims=False):
    """argmax over the non-NaN entries; -1 where all are NaN (Keras); int32."""
    return _nanarg("nanargmax", x, axis, keepdims, -np.inf, np.argmax)


def nanargmin(x, axis=None, keepdims=False):
    """argmin over the non-NaN entries; -1 where all are NaN (Keras); int32."""
    return _nanarg("nanargmin", x, axis, keepdims, np.inf, np.argmin)


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    """quantile of the non-NaN entries along ``axis`` (None: all of x), NumPy's methods; NaN
    where a slice is all NaN. Differentiable: the values picked (sorted with NaN last) are
    gathered from x, and each slice's weights follow its own count of non-NaN entries."""
    t = _o._f32(x, "nanquantile")
    q_arr = np.asarray(q, np.float64)
    if axis is None:
        flat, ax = _o.reshape(t, [-1]), 0
    else:
        axes = _o._axes_arg("nanquantile", axis, t.ndim)
        if len(axes) != 1:
            raise NotImplementedError("ops.nanquantile: one axis at a time (or None)")
        flat, ax = t, axes[0]
    a = np.asarray(flat, np.float64)
    order = np.argsort(a, axis=ax, kind="stable")                 # NaN last
    s = _o.take_along_axis(flat, _o._t(order), axis=ax)
    counts = np.sum(~np.isnan(a), axis=ax, keepdims=True)        # per slice
    picks = []
    for qv in q_arr.reshape(-1):
        if not 0.0 <= qv <= 1.0:
            raise ValueError(f"ops.nanquantile: quantiles must lie in [0, 1] (percentiles in [0, 100]), got {qv}")
        pos = qv * np.maximum(counts - 1, 0)
        lo, hi = np.floor(pos), np.ceil(pos)
        if method == "linear":
            wl, wh = 1.0 - (pos - lo), pos - lo
        elif method == "lower":
            hi, wl, wh = lo, np.ones_like(pos), np.zeros_like(pos)
        elif method == "higher":
            lo, wl, wh = hi, np.ones_like(pos), np.zeros_like(pos)
        elif method == "nearest":
            lo = hi = np.round(pos)
            wl, wh = np.ones_like(pos), np.zeros_like(pos)
        elif method == "midpoint":
            wl = wh = np.full(pos.shape, 0.5)
        else:
            raise ValueError(f"ops.nanquantile: method must be linear, lower, higher, midpoint or nearest, got {method!r}")
        empty = counts == 0
        v_lo = _o.take_along_axis(s, _o._t(lo.astype(np.int64)), axis=ax)
        v_hi = _o.take_along_axis(s, _o._t(hi.astype(np.int64)), axis=ax)
        wdt = np.float64 if _o._NUMPY_FLOAT64.on else np.float32   # the weights in the result's dtype
        v = _o.add(_o.multiply(_o.where(empty, 0.0, v_lo), wl.astype(wdt)),
                   _o.multiply(_o.where(empty, 0.0, v_hi), wh.astype(wdt)))
        v = _o.where(empty, np.nan, v)
        if not keepdims:
            v = _o.squeeze(v, axis=ax)
        elif axis is None:
            v = _o.reshape(v, [1] * t.ndim)
        picks.append(v)
    if q_arr.ndim == 0:
        return picks[0]
    out = _o.stack(picks, axis=0)
    # q of rank > 1 leads the result's shape, as in NumPy and Keras (not flattened)
    return out if q_arr.ndim == 1 else _o.reshape(out, list(q_arr.shape) + list(out.shape[1:]))


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    return nanquantile(x, np.asarray(q, np.float64) / 100.0, axis=axis, method=method, keepdims=keepdims)


def nanmedian(x, axis=None, keepdims=False):
    return nanquantile(x, 0.5, axis=axis, keepdims=keepdims)


# -- segments ---------------------------------------------------------------------------------------

def segment_min(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002 - Keras' name
    """Min of each segment (an empty segment: the dtype's largest value, as TensorFlow); the
    gradient goes to the entries that hold their segment's min, split among ties."""
    d, ids, n = _o._segments("segment_min", data, segment_ids, num_segments)
    neg = _o.segment_max(_o.negative(d) if _o._is_float(d) else _o._t(-np.asarray(d)), ids, num_segments=n)
    return _o.negative(neg) if _o._is_float(d) else _o._t(-np.asarray(neg))


def segment_prod(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002 - Keras' name
    """Product of each segment (an empty segment: 1). Gradient: for entry i of segment s, the
    product of the segment's other entries times dy_s (computed without division, so zeros are
    exact)."""
    d, ids, n = _o._segments("segment_prod", data, segment_ids, num_segments)
    a = np.asarray(d)
    out = np.ones((n,) + a.shape[1:], np.float64 if _o._is_float(d) else a.dtype)
    np.multiply.at(out, ids, a)
    y = _o._t(out)
    if _o._is_float(d):
        a64 = a.astype(np.float64)

        def rule(dys):
            dy, g = _o._np64(dys[0]), np.zeros(a.shape)
            for s in np.unique(ids):
                rows = np.nonzero(ids == s)[0]
                v = a64[rows]
                before = np.cumprod(np.concatenate([np.ones((1,) + v.shape[1:]), v[:-1]]), 0)
                after = np.flip(np.cumprod(np.flip(np.concatenate([v[1:], np.ones((1,) + v.shape[1:])]), 0), 0), 0)
                g[rows] = before * after * dy[s]
            return [_o._t(g)]
        _o._record(rule, [d], [y])
    return y


# -- unique -------------------------------------------------------------------------------------------

def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False, axis=None,  # noqa: A002
           size=None, fill_value=None):
    """NumPy's unique (sorted values; with the first indices, the inverse, the counts when asked).
    ``size``: the results padded (values with fill_value, default the smallest unique value;
    index arrays with 0) or cut to that length, as Keras / jnp.unique. Index arrays are int32;
    no gradient."""
    a = np.asarray(_o._any(x, "unique"))
    if not sorted:
        raise NotImplementedError("ops.unique: sorted=False is not supported (the values come sorted)")
    res = np.unique(a, return_index=True, return_inverse=True, return_counts=True, axis=axis)
    vals, index, inverse, counts = res
    if axis is None:
        inverse = inverse.reshape(a.shape)
    if size is not None:
        ax = 0 if axis is None else int(axis) % a.ndim          # the axis the uniques run along
        fv = fill_value if fill_value is not None else (vals.min() if vals.size else 0)
        vals = _fit(vals, int(size), ax, fv)
        index, counts = _fit(index, int(size), 0, 0), _fit(counts, int(size), 0, 0)
    out = [_o._t(vals)]
    if return_index:
        out.append(_o._t(index.astype(np.int32)))
    if return_inverse:
        out.append(_o._t(inverse.astype(np.int32)))
    if return_counts:
        out.append(_o._t(counts.astype(np.int32)))
    return out[0] if len(out) == 1 else tuple(out)


def _fit(v, size, axis, fill):
    """v cut to ``size`` entries along axis, or padded with fill up to it."""
    k = v.shape[axis]
    cut = np.take(v, np.arange(min(k, size)), axis=axis)
    if size <= k:
        return cut
    shape = list(cut.shape)
    shape[axis] = size - k
    return np.concatenate([cut, np.full(shape, fill, cut.dtype)], axis=axis)


# -- dtype views and the complex views ----------------------------------------------------------------

def view(x, dtype=None):
    """x's bytes read as ``dtype`` (NumPy's ndarray.view): the last axis scales by the ratio of
    the item sizes; any real dtype a Tensor holds; no gradient."""
    # (a Tensor's own bytes, float64 ones too; ascontiguousarray would make a scalar (1,))
    a = np.asarray(np.asarray(x if isinstance(x, Tensor) else _o._any(x, "view")), order="C")
    if dtype is None:
        return _o._t(a)
    dt = np.dtype(str(dtype))
    from .dtypes import storage_dtype
    if dt == np.bool_ or storage_dtype(dt, "ops.view") != dt:
        raise TypeError(f"ops.view: corenn Tensors hold real numbers; cannot view {a.dtype} as {dt}")
    if a.ndim == 0 and dt.itemsize != a.dtype.itemsize:
        raise ValueError(f"ops.view: a scalar of {a.dtype} cannot be viewed as {dt} (item sizes differ)")
    try:
        v = a.view(dt)
    except ValueError as exc:
        raise ValueError(f"ops.view: cannot view shape {a.shape} of {a.dtype} as {dt}: {exc}") from None
    return Tensor.from_numpy(np.array(v, copy=True))


def view_as_real(x):
    """A complex value, corenn's (real, imag) pair, as one real tensor (..., 2) (torch's
    view_as_real): stack([real, imag], axis=-1); differentiable."""
    re, im = _o._complex_pair("view_as_real", x)
    return _o.stack([re, im], axis=-1)


def view_as_complex(x):
    """A real tensor (..., 2) as a complex value: corenn's ComplexPair (x[..., 0], x[..., 1]),
    the form rfft / stft / polar use; differentiable."""
    t = _o._f32(x, "view_as_complex")
    if t.ndim < 1 or t.shape[-1] != 2:
        raise ValueError(f"ops.view_as_complex: needs a last axis of size 2 (real, imag), got shape {tuple(t.shape)}")
    return _o.ComplexPair((_o.take(t, 0, axis=-1), _o.take(t, 1, axis=-1)))


# -- einops-style rearrange -------------------------------------------------------------------------

_TOKEN = re.compile(r"\(|\)|\.\.\.|[A-Za-z_][A-Za-z0-9_]*|\d+")


def _parse_side(op, side):
    """'b (h w) c' -> [['b'], ['h', 'w'], ['c']]: each group is an axis of the tensor."""
    groups, open_ = [], None
    for tok in _TOKEN.findall(side):
        if tok == "(":
            if open_ is not None:
                raise ValueError(f"ops.{op}: nested parentheses in {side!r}")
            open_ = []
        elif tok == ")":
            if open_ is None:
                raise ValueError(f"ops.{op}: unbalanced ')' in {side!r}")
            groups.append(open_)
            open_ = None
        else:
            if tok.isdigit() and tok != "1":
                raise ValueError(f"ops.{op}: only the anonymous axis 1 may be a number, got {tok!r} in {side!r}")
            if open_ is not None:
                open_.append(tok)
            else:
                groups.append([tok])
    if open_ is not None:
        raise ValueError(f"ops.{op}: unbalanced '(' in {side!r}")
    leftover = _TOKEN.sub("", side).strip()
    if leftover:
        raise ValueError(f"ops.{op}: cannot read {leftover!r} in {side!r}")
    return groups


def rearrange(tensor, pattern, **axes_lengths):
    """einops' rearrange: 'b h w c -> b (h w) c', 'b (h w) c -> b h w c' (h=...), transposes,
    '...' for any leading/trailing axes, '1' for a unit axis; a reshape, a transpose and a
    reshape (differentiable). Axis sizes a pattern cannot infer are given as keywords."""
    op = "rearrange"
    if "->" not in pattern:
        raise ValueError(f"ops.{op}: the pattern needs '->', got {pattern!r}")
    left_s, right_s = pattern.split("->")
    left, right = _parse_side(op, left_s), _parse_side(op, right_s)
    named = [nm for g in left for nm in g if nm not in ("1", "...")]
    if len(set(named)) != len(named):
        raise ValueError(f"ops.{op}: an axis name repeats on the left of {pattern!r}")
    t = _o._any(tensor, op)
    shape = list(t.shape)
    ell = [i for i, g in enumerate(left) if g == ["..."]]
    n_ell = len(shape) - (len(left) - len(ell))
    if len(ell) > 1 or (not ell and len(left) != len(shape)) or n_ell < 0:
        raise ValueError(f"ops.{op}: pattern {left_s.strip()!r} names {len(left)} axes, the tensor has shape "
                         f"{tuple(shape)}")
    sizes, elementary, axis = dict(axes_lengths), [], 0
    for g in left:
        if g == ["..."]:
            names = [f"...{k}" for k in range(n_ell)]
            for k, nm in enumerate(names):
                sizes[nm] = shape[axis + k]
            elementary += names
            axis += n_ell
            continue
        dim = shape[axis]
        unknown = [nm for nm in g if nm != "1" and nm not in sizes]
        known = int(np.prod([1 if nm == "1" else sizes[nm] for nm in g if nm == "1" or nm in sizes]))
        if len(unknown) > 1:
            raise ValueError(f"ops.{op}: cannot infer the sizes of {unknown} in ({' '.join(g)}); give them as keywords")
        if unknown:
            if known == 0 or dim % known:
                raise ValueError(f"ops.{op}: axis of size {dim} cannot split into ({' '.join(g)}) with {axes_lengths}")
            sizes[unknown[0]] = dim // known
        elif known != dim:
            raise ValueError(f"ops.{op}: axis of size {dim} does not equal ({' '.join(g)}) = {known}")
        elementary += [nm for nm in g if nm != "1"]
        axis += 1
    out_groups = []
    for g in right:
        out_groups += [[f"...{k}"] for k in range(n_ell)] if g == ["..."] else [g]
    right_names = [nm for g in out_groups for nm in g if nm != "1"]
    if sorted(right_names) != sorted(elementary):
        raise ValueError(f"ops.{op}: the two sides of {pattern!r} must name the same axes")
    x = _o.reshape(t, [sizes[nm] for nm in elementary]) if elementary else t
    perm = [elementary.index(nm) for nm in right_names]
    if perm != list(range(len(perm))):
        x = _o.transpose(x, perm)
    final = [int(np.prod([1 if nm == "1" else sizes[nm] for nm in g])) for g in out_groups]
    return _o.reshape(x, final)
