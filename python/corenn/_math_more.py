"""The special functions of ``tf.math`` (bessel_i1, igamma, betainc, zeta, polygamma ...) and
``tf.math.special``, plus ``approx_max_k`` / ``approx_min_k``: differentiable where TensorFlow's
are, with TensorFlow's closed-form derivatives (the float64 evaluations are in
``_math_special.py``). TensorFlow has no gradient for betainc's a and b, zeta's s and
polygamma's order; those get none here either. igamma's derivative in a (which TensorFlow
computes with a dedicated kernel) is a central difference of the float64 function, accurate to
about 1e-9 relative, far below float32's resolution."""
from __future__ import annotations

import types

import numpy as np

from . import _math_special as sp
from . import ops


def _unary(name, f, df=None, doc=""):
    def fn(x, name=None):
        return ops._unary_np(op, x, f, df)
    op = name
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def _ratio(num, den):
    """num / den with the limit 1/2 at den == 0 (I_1(x)/x and J_1(x)/x at 0)."""
    safe = np.where(den == 0, 1.0, den)
    return np.where(den == 0, 0.5, num / safe)


bessel_i0 = _unary("bessel_i0", lambda a: sp.bessel_i(0, a), lambda a, y: sp.bessel_i(1, a),
                   "I_0(x), the modified Bessel function of the first kind of order 0.")
bessel_i0e = _unary("bessel_i0e", lambda a: sp.bessel_ie(0, a),
                    lambda a, y: sp.bessel_ie(1, a) - np.sign(a) * y, "e^-|x| I_0(x).")
bessel_i1 = _unary("bessel_i1", lambda a: sp.bessel_i(1, a),
                   lambda a, y: sp.bessel_i(0, a) - _ratio(y, a),
                   "I_1(x); its derivative is I_0(x) - I_1(x) / x (1/2 at 0).")
bessel_i1e = _unary("bessel_i1e", lambda a: sp.bessel_ie(1, a),
                    lambda a, y: sp.bessel_ie(0, a) - y * np.sign(a) - _ratio(y, a),
                    "e^-|x| I_1(x).")
bessel_j0 = _unary("bessel_j0", lambda a: sp.bessel_j(0, a), lambda a, y: -sp.bessel_j(1, a),
                   "J_0(x), the Bessel function of the first kind of order 0.")
bessel_j1 = _unary("bessel_j1", lambda a: sp.bessel_j(1, a),
                   lambda a, y: sp.bessel_j(0, a) - _ratio(y, a), "J_1(x).")
bessel_y0 = _unary("bessel_y0", lambda a: sp.bessel_y(0, a), lambda a, y: -sp.bessel_y(1, a),
                   "Y_0(x), the Bessel function of the second kind of order 0 (-inf for x <= 0).")
bessel_y1 = _unary("bessel_y1", lambda a: sp.bessel_y(1, a), lambda a, y: sp.bessel_y(0, a) - y / a,
                   "Y_1(x) (-inf for x <= 0).")
bessel_k0 = _unary("bessel_k0", lambda a: sp.bessel_k(0, a), lambda a, y: -sp.bessel_k(1, a),
                   "K_0(x), the modified Bessel function of the second kind of order 0 (inf for x <= 0).")
bessel_k0e = _unary("bessel_k0e", lambda a: sp.bessel_ke(0, a), lambda a, y: y - sp.bessel_ke(1, a),
                    "e^x K_0(x).")
bessel_k1 = _unary("bessel_k1", lambda a: sp.bessel_k(1, a), lambda a, y: -sp.bessel_k(0, a) - y / a,
                   "K_1(x) (inf for x <= 0).")
bessel_k1e = _unary("bessel_k1e", lambda a: sp.bessel_ke(1, a),
                    lambda a, y: y * (1.0 - 1.0 / a) - sp.bessel_ke(0, a), "e^x K_1(x).")
dawsn = _unary("dawsn", sp.dawsn, lambda a, y: 1.0 - 2.0 * a * y,
               "Dawson's integral e^-x^2 int_0^x e^t^2 dt; its derivative is 1 - 2 x F(x).")
expint = _unary("expint", sp.expint, lambda a, y: np.exp(a) / a,
                "The exponential integral Ei(x) (nan for x < 0, as TensorFlow); derivative e^x / x.")
fresnel_cos = _unary("fresnel_cos", lambda a: sp.fresnel(a)[1], lambda a, y: np.cos(np.pi / 2 * a * a),
                     "C(x) = int_0^x cos(pi t^2 / 2) dt.")
fresnel_sin = _unary("fresnel_sin", lambda a: sp.fresnel(a)[0], lambda a, y: np.sin(np.pi / 2 * a * a),
                     "S(x) = int_0^x sin(pi t^2 / 2) dt.")
spence = _unary("spence", sp.spence,
                lambda a, y: np.where(a == 1, -1.0, np.log(a) / (1.0 - np.where(a == 1, 0.0, a))),
                "Spence's function int_1^x ln t / (1 - t) dt (nan for x < 0); derivative ln x / (1 - x).")


def _igamma_da(a, x, upper):
    h = 1e-5 * np.maximum(np.abs(a), 1e-3)
    i = 1 if upper else 0
    return (sp.igamma(a + h, x)[i] - sp.igamma(a - h, x)[i]).reshape(np.broadcast(a, x).shape) / (2 * h)


def _igamma_dx(a, x):
    from .math import _lgamma64
    with np.errstate(all="ignore"):
        return np.exp(-x + (a - 1.0) * np.log(x) - _lgamma64(a))


def _both(a, x, i):
    return sp.igamma(a, x)[i].reshape(np.broadcast(a, x).shape)


def igamma(a, x, name=None):
    """P(a, x) = gamma(a, x) / Gamma(a), the regularized lower incomplete gamma function
    (a > 0, x >= 0; nan elsewhere, 0 at x == 0). Differentiable in x and a."""
    return ops._binary_np("igamma", a, x, lambda A, X: _both(A, X, 0),
                          lambda A, X, Y: _igamma_da(A, X, False), lambda A, X, Y: _igamma_dx(A, X))


def igammac(a, x, name=None):
    """Q(a, x) = 1 - P(a, x), the regularized upper incomplete gamma function."""
    return ops._binary_np("igammac", a, x, lambda A, X: _both(A, X, 1),
                          lambda A, X, Y: _igamma_da(A, X, True), lambda A, X, Y: -_igamma_dx(A, X))


def zeta(x, q, name=None):
    """The Hurwitz zeta function sum_k (k + q)^-x (x > 1). Gradient in q: -x zeta(x + 1, q);
    none in x (as TensorFlow)."""
    return ops._binary_np("zeta", x, q, sp.zeta, lambda X, Q, Y: np.zeros_like(Y),
                          lambda X, Q, Y: -X * sp.zeta(X + 1.0, Q))


def polygamma(a, x, name=None):
    """psi^(a)(x), the a-th derivative of digamma (a a non-negative integer-valued float; nan
    otherwise). Gradient in x: polygamma(a + 1, x); none in a."""
    from .math import _digamma64
    return ops._binary_np("polygamma", a, x, lambda A, X: sp.polygamma(A, X, _digamma64),
                          lambda A, X, Y: np.zeros_like(Y),
                          lambda A, X, Y: sp.polygamma(A + 1.0, X, _digamma64))


def betainc(a, b, x, name=None):
    """I_x(a, b), the regularized incomplete beta function, broadcast over a, b, x (a, b > 0,
    0 <= x <= 1; nan elsewhere). Gradient in x: x^(a-1) (1-x)^(b-1) / B(a, b); none in a, b
    (as TensorFlow)."""
    from .math import _lgamma64
    ta, tb, tx = (ops._f32(v, "betainc") for v in (a, b, x))
    ops._broadcast_check("betainc", ta.shape, tb.shape, tx.shape)
    A, B, X = (ops._np64(t) for t in (ta, tb, tx))
    with np.errstate(all="ignore"):
        y = ops._t(sp.betainc(A, B, X))

    def rule(dys):
        with np.errstate(all="ignore"):
            lb = _lgamma64(A) + _lgamma64(B) - _lgamma64(A + B)
            d = np.exp((A - 1.0) * np.log(X) + (B - 1.0) * np.log1p(-X) - lb)
            dx = ops._sum_to(ops._np64(dys[0]) * d, tx.shape)
        return [None, None, ops._t(dx)]
    ops._record(rule, [ta, tb, tx], [y])
    return y


def _approx_k(op, operand, k, reduction_dimension, largest):
    t = ops._to_tensor(operand)
    if t.ndim == 0:
        raise ValueError(f"tf.math.{op}: operand must have at least one axis, got a scalar")
    ax = int(reduction_dimension)
    if not -t.ndim <= ax < t.ndim:
        raise ValueError(f"tf.math.{op}: reduction_dimension {ax} is out of range for shape {tuple(t.shape)}")
    ax %= t.ndim
    moved = ops.moveaxis(t, ax, -1) if ax != t.ndim - 1 else t
    vals, idx = ops.top_k(moved if largest else ops.negative(moved), k)
    if not largest:
        vals = ops.negative(vals)
    if ax != t.ndim - 1:
        vals = ops.moveaxis(vals, -1, ax)
        idx = ops._to_tensor(np.ascontiguousarray(np.moveaxis(np.asarray(idx), -1, ax)))
    return vals, idx


def approx_max_k(operand, k, reduction_dimension=-1, recall_target=0.95, reduction_input_size_override=-1,
                 aggregate_to_topk=True, name=None):
    """(values, indices) of the k largest entries along ``reduction_dimension``. TensorFlow's
    approximate search on TPUs may miss some; the exact top-k returned here has recall 1."""
    return _approx_k("approx_max_k", operand, k, reduction_dimension, True)


def approx_min_k(operand, k, reduction_dimension=-1, recall_target=0.95, reduction_input_size_override=-1,
                 aggregate_to_topk=True, name=None):
    """(values, indices) of the k smallest entries along ``reduction_dimension`` (exact)."""
    return _approx_k("approx_min_k", operand, k, reduction_dimension, False)


special = types.SimpleNamespace(
    bessel_i0=bessel_i0, bessel_i0e=bessel_i0e, bessel_i1=bessel_i1, bessel_i1e=bessel_i1e,
    bessel_j0=bessel_j0, bessel_j1=bessel_j1, bessel_y0=bessel_y0, bessel_y1=bessel_y1,
    bessel_k0=bessel_k0, bessel_k0e=bessel_k0e, bessel_k1=bessel_k1, bessel_k1e=bessel_k1e,
    dawsn=dawsn, expint=expint, fresnel_cos=fresnel_cos, fresnel_sin=fresnel_sin, spence=spence)
special.__doc__ = "tf.math.special: Bessel functions, Dawson's and Fresnel integrals, Ei, Spence."

__all__ = ["bessel_i1", "bessel_i1e", "igamma", "igammac", "zeta", "polygamma", "betainc", "approx_max_k",
           "approx_min_k", "special"]


betainc = ops._numpy_float64(betainc)   # float64 inputs compute in float64 (NumPy formulas)
