"""tf.math's special functions (bessel_i1, igamma, betainc, zeta, polygamma, approx_max_k) and
tf.math.special (Bessel J / Y / K, Dawson, Ei, Fresnel, Spence).

References are independent float64 NumPy computations: integral representations by Simpson's
rule on fine grids, direct sums, and tabulated values. Gradients are checked against central
differences of those references.
"""
import math

import numpy as np
import pytest

import corenn as tf

S = tf.math.special


def _simpson(f, a, b, n=4000):
    """int_a^b f(t) dt, f vectorized over t with x broadcast on axis 0."""
    t = np.linspace(a, b, n + 1)
    w = np.ones(n + 1)
    w[1:-1:2], w[2:-1:2] = 4, 2
    return f(t) @ w * (b - a) / (3 * n)


def ref_j(nu, x):       # J_n(x) = 1/pi int_0^pi cos(n t - x sin t) dt
    return _simpson(lambda t: np.cos(nu * t - np.multiply.outer(x, np.sin(t))), 0, np.pi) / np.pi


def ref_i(nu, x):       # I_n(x) = 1/pi int_0^pi e^(x cos t) cos(n t) dt
    return _simpson(lambda t: np.exp(np.multiply.outer(x, np.cos(t))) * np.cos(nu * t), 0, np.pi) / np.pi


def ref_k(nu, x):       # K_n(x) = int_0^inf e^(-x cosh t) cosh(n t) dt
    return _simpson(lambda t: np.exp(-np.multiply.outer(x, np.cosh(t))) * np.cosh(nu * t), 0, 12, 20000)


def ref_y(nu, x):       # Y_n = 1/pi int_0^pi sin(x sin t - n t) - 1/pi int_0^inf (e^nt + (-1)^n e^-nt) e^(-x sinh t)
    a = _simpson(lambda t: np.sin(np.multiply.outer(x, np.sin(t)) - nu * t), 0, np.pi) / np.pi
    b = _simpson(lambda t: (np.exp(nu * t) + (-1) ** nu * np.exp(-nu * t))
                 * np.exp(-np.multiply.outer(x, np.sinh(t))), 0, 12, 40000) / np.pi
    return a - b


def ref_dawsn(x):       # e^-x^2 int_0^x e^t^2 dt = x int_0^1 e^(x^2 (s^2 - 1)) ds
    return x * _simpson(lambda s: np.exp(np.multiply.outer(x * x, s * s - 1)), 0, 1, 100000)


def ref_fresnel(x):
    c = x * _simpson(lambda s: np.cos(np.pi / 2 * np.multiply.outer(x * x, s * s)), 0, 1, 20000)
    s_ = x * _simpson(lambda s: np.sin(np.pi / 2 * np.multiply.outer(x * x, s * s)), 0, 1, 20000)
    return s_, c


def ref_expint(x):      # Ei(x) = gamma + ln x + int_0^x (e^t - 1) / t dt
    f = lambda s: np.expm1(np.multiply.outer(x, s)) / np.where(s == 0, 1, s) + (s == 0) * x[:, None]  # noqa: E731
    return 0.5772156649015329 + np.log(x) + _simpson(f, 0, 1)


def ref_spence(x):      # int_1^x ln t / (1 - t) dt = (x - 1) int_0^1 ln(u) / (1 - u) du, u = 1 + s (x - 1)
    def f(s):
        u = 1 + np.multiply.outer(x - 1, s)
        return np.where(np.abs(u - 1) < 1e-12, -1.0, np.log(u) / np.where(np.abs(u - 1) < 1e-12, 1, 1 - u))
    return (x - 1) * _simpson(f, 0, 1)


def ref_igamma(a, x):   # P(a, x) = 2 / Gamma(a) int_0^sqrt(x) u^(2a-1) e^-u^2 du (t = u^2; a >= 1/2)
    return np.array([2 * _simpson(lambda u: u ** (2 * ai - 1) * np.exp(-u * u), 0, np.sqrt(xi), 20000)
                     / math.gamma(ai) for ai, xi in zip(a, x)])


def ref_betainc(a, b, x):   # int_0^x t^(a-1) (1-t)^(b-1) dt / B(a, b), a, b >= 1
    out = []
    for ai, bi, xi in zip(a, b, x):
        beta = math.gamma(ai) * math.gamma(bi) / math.gamma(ai + bi)
        out.append(_simpson(lambda t: t ** (ai - 1) * (1 - t) ** (bi - 1), 0, xi) / beta)
    return np.array(out)


def ref_zeta(s, q):
    k = np.arange(200000)
    return np.array([np.sum((k + qi) ** -si) + (200000 + qi) ** (1 - si) / (si - 1)
                     - 0.5 * (200000 + qi) ** -si for si, qi in zip(s, q)])


X_POS = np.array([0.05, 0.5, 1.0, 2.5, 7.0, 11.9, 12.1, 20.0, 35.0])


@pytest.mark.parametrize("fn,ref", [
    (S.bessel_j0, lambda x: ref_j(0, x)), (S.bessel_j1, lambda x: ref_j(1, x)),
    (S.bessel_y0, lambda x: ref_y(0, x)), (S.bessel_y1, lambda x: ref_y(1, x)),
    (S.bessel_k0, lambda x: ref_k(0, x)), (S.bessel_k1, lambda x: ref_k(1, x)),
    (S.bessel_k0e, lambda x: ref_k(0, x) * np.exp(x)), (S.bessel_k1e, lambda x: ref_k(1, x) * np.exp(x)),
    (tf.math.bessel_i1, lambda x: ref_i(1, x)), (tf.math.bessel_i0, lambda x: ref_i(0, x)),
    (tf.math.bessel_i1e, lambda x: ref_i(1, x) * np.exp(-x)), (S.bessel_i0e, lambda x: ref_i(0, x) * np.exp(-x)),
    (S.dawsn, ref_dawsn), (S.expint, ref_expint), (S.spence, ref_spence),
    (S.fresnel_cos, lambda x: ref_fresnel(x)[1]), (S.fresnel_sin, lambda x: ref_fresnel(x)[0]),
])
def test_unary_special_functions_match_integral_references(fn, ref):
    got = np.asarray(fn(X_POS), np.float64)
    want = ref(X_POS)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6 * np.abs(want).max())


def test_tabulated_values_and_symmetries():
    np.testing.assert_allclose(np.asarray(S.bessel_j0([1.0, 0.0])), [0.7651976865579666, 1.0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(S.bessel_y0([1.0])), [0.08825696421567696], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(S.spence([0.0, 1.0, 2.0])), [np.pi ** 2 / 6, 0.0, -np.pi ** 2 / 12],
                               atol=1e-6)
    x = np.array([0.3, 2.0, 15.0, 60.0], np.float32)
    for odd in (tf.math.bessel_i1, tf.math.bessel_i1e, S.bessel_j1, S.dawsn, S.fresnel_cos, S.fresnel_sin):
        np.testing.assert_allclose(np.asarray(odd(-x)), -np.asarray(odd(x)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(S.bessel_j0(-x)), np.asarray(S.bessel_j0(x)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(S.fresnel_cos([1e30])), [0.5], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(S.dawsn([100.0, 1e4])), 1 / (2 * np.array([100.0, 1e4])), rtol=1e-4)


def test_domains_follow_tensorflow():
    assert np.all(np.isneginf(np.asarray(S.bessel_y0([0.0, -1.0]))))
    assert np.all(np.isposinf(np.asarray(S.bessel_k1([0.0, -2.0]))))
    assert np.isnan(np.asarray(S.expint([-1.0]))).all() and np.isneginf(np.asarray(S.expint([0.0]))).all()
    assert np.isnan(np.asarray(S.spence([-0.5, np.inf]))).all()                    # TensorFlow: nan at +inf too
    assert np.isnan(np.asarray(tf.math.igamma([-1.0, 2.0], [1.0, -1.0]))).all()
    np.testing.assert_array_equal(np.asarray(tf.math.igamma([-1.0, 2.0], [0.0, 0.0])), [0.0, 0.0])
    assert np.isnan(np.asarray(tf.math.betainc(1.0, 2.0, 1.5)))
    z = np.asarray(tf.math.zeta([0.5, 1.0, 2.0, 3.0], [1.0, 1.0, 0.0, 0.0]))
    assert np.isnan(z[0]) and np.isposinf(z[1]) and np.isposinf(z[2]) and np.isnan(z[3])
    assert np.isnan(np.asarray(tf.math.polygamma([0.5, -1.0], [1.0, 1.0]))).all()


def test_igamma_igammac_betainc_zeta_polygamma_values():
    a = np.array([0.5, 1.0, 2.5, 10.0, 3.0])
    x = np.array([0.3, 2.0, 1.0, 12.0, 0.01])
    p = np.asarray(tf.math.igamma(a, x), np.float64)
    np.testing.assert_allclose(p, ref_igamma(a, x), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(tf.math.igammac(a, x)), 1 - p, atol=1e-6)
    np.testing.assert_allclose(p[1], 1 - np.exp(-2.0), rtol=1e-6)       # P(1, x) = 1 - e^-x
    # broadcasting: a (3, 1) against x (4,)
    assert tuple(tf.math.igamma(np.ones((3, 1)), np.ones(4)).shape) == (3, 4)
    ab = np.array([1.0, 2.0, 5.0, 3.5])
    bb = np.array([1.0, 3.0, 1.5, 7.0])
    xb = np.array([0.3, 0.5, 0.9, 0.2])
    np.testing.assert_allclose(np.asarray(tf.math.betainc(ab, bb, xb)), ref_betainc(ab, bb, xb), rtol=1e-5)
    s = np.array([2.0, 3.0, 4.5])
    q = np.array([1.0, 0.5, 2.5])
    np.testing.assert_allclose(np.asarray(tf.math.zeta(s, q)), ref_zeta(s, q), rtol=1e-5)
    np.testing.assert_allclose(float(np.asarray(tf.math.zeta(2.0, 1.0))), np.pi ** 2 / 6, rtol=1e-6)
    # polygamma(1, x) = zeta(2, x); polygamma(2, x) = -2 zeta(3, x); polygamma(0) is digamma
    xs = np.array([0.5, 3.0, 10.0])
    np.testing.assert_allclose(np.asarray(tf.math.polygamma(1.0, xs)), ref_zeta(np.full(3, 2.0), xs), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(tf.math.polygamma(2.0, xs)), -2 * ref_zeta(np.full(3, 3.0), xs), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(tf.math.polygamma(0.0, xs)), np.asarray(tf.math.digamma(xs)), rtol=1e-6)


def _tape_grads(fn, *arrays):
    vs = [tf.Variable(np.asarray(a, np.float32)) for a in arrays]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(fn(*vs))
    return [None if g is None else np.asarray(g, np.float64) for g in tape.gradient(loss, vs)]


def _central(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("fn,ref", [
    (S.bessel_j0, lambda x: ref_j(0, x)), (S.bessel_j1, lambda x: ref_j(1, x)),
    (S.bessel_y0, lambda x: ref_y(0, x)), (S.bessel_y1, lambda x: ref_y(1, x)),
    (S.bessel_k0, lambda x: ref_k(0, x)), (S.bessel_k1, lambda x: ref_k(1, x)),
    (S.bessel_k0e, lambda x: ref_k(0, x) * np.exp(x)), (S.bessel_k1e, lambda x: ref_k(1, x) * np.exp(x)),
    (tf.math.bessel_i0, lambda x: ref_i(0, x)), (tf.math.bessel_i1, lambda x: ref_i(1, x)),
    (tf.math.bessel_i0e, lambda x: ref_i(0, x) * np.exp(-x)), (tf.math.bessel_i1e, lambda x: ref_i(1, x) * np.exp(-x)),
    (S.dawsn, ref_dawsn), (S.expint, ref_expint), (S.spence, ref_spence),
    (S.fresnel_cos, lambda x: ref_fresnel(x)[1]), (S.fresnel_sin, lambda x: ref_fresnel(x)[0]),
])
def test_unary_gradients_match_central_differences(fn, ref):
    x = np.array([0.4, 1.3, 3.0, 8.5])
    (g,) = _tape_grads(fn, x)
    np.testing.assert_allclose(g, _central(ref, x), rtol=1e-4, atol=1e-5)


def test_odd_function_gradients_at_and_below_zero():
    (g,) = _tape_grads(tf.math.bessel_i1, np.array([0.0, -1.5]))
    np.testing.assert_allclose(g, [0.5, _central(lambda v: ref_i(1, v), np.array([1.5]))[0]], rtol=1e-4)
    (g,) = _tape_grads(S.bessel_j1, np.array([0.0]))
    np.testing.assert_allclose(g, [0.5], rtol=1e-6)


def test_binary_and_ternary_gradients():
    a, x = np.array([0.7, 2.0, 5.0]), np.array([0.5, 2.5, 4.0])
    ga, gx = _tape_grads(tf.math.igamma, a, x)
    np.testing.assert_allclose(gx, _central(lambda v: ref_igamma(a, v), x), rtol=1e-4)
    np.testing.assert_allclose(ga, _central(lambda v: ref_igamma(v, x), a, 1e-4), rtol=1e-3)
    gac, gxc = _tape_grads(tf.math.igammac, a, x)
    np.testing.assert_allclose(gxc, -gx, rtol=1e-6)
    np.testing.assert_allclose(gac, -ga, rtol=1e-4)
    ab, bb, xb = np.array([2.0, 3.5]), np.array([3.0, 1.5]), np.array([0.4, 0.7])
    _, _, gx = _tape_grads(tf.math.betainc, ab, bb, xb)
    np.testing.assert_allclose(gx, _central(lambda v: ref_betainc(ab, bb, v), xb), rtol=1e-4)
    s, q = np.array([2.0, 3.5]), np.array([1.5, 0.8])
    _, gq = _tape_grads(tf.math.zeta, s, q)
    np.testing.assert_allclose(gq, _central(lambda v: ref_zeta(s, v), q), rtol=1e-4)
    n, xp = np.array([1.0, 2.0]), np.array([1.5, 3.0])
    _, gx = _tape_grads(tf.math.polygamma, n, xp)
    np.testing.assert_allclose(gx, np.asarray(tf.math.polygamma(n + 1, xp)), rtol=1e-5)


def test_approx_max_min_k_are_exact_top_k():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 10)).astype(np.float32)
    v, i = tf.math.approx_max_k(x, 4)
    np.testing.assert_array_equal(np.asarray(v), -np.sort(-x, axis=1)[:, :4])
    np.testing.assert_array_equal(np.take_along_axis(x, np.asarray(i).astype(int), 1), np.asarray(v))
    v, i = tf.math.approx_min_k(x, 2, reduction_dimension=0)
    np.testing.assert_array_equal(np.asarray(v), np.sort(x, axis=0)[:2])
    np.testing.assert_array_equal(np.asarray(i), np.argsort(x, axis=0, kind="stable")[:2])
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.math.approx_max_k(xv, 1)[0])
    g = np.asarray(tape.gradient(loss, xv))
    np.testing.assert_array_equal(g, (x == x.max(axis=1, keepdims=True)).astype(np.float32))
    with pytest.raises(ValueError, match="approx_max_k"):
        tf.math.approx_max_k(x, 2, reduction_dimension=3)


def test_special_functions_build_functional_models():
    inp = tf.keras.Input((3,))
    out = tf.keras.layers.Dense(1)(tf.math.special.bessel_j0(inp) + tf.math.igamma(2.0, tf.math.abs(inp)))
    model = tf.keras.Model(inp, out)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    dense = model.layers[-1]
    w, b = (np.asarray(v) for v in dense.get_weights())
    want = (np.asarray(S.bessel_j0(x)) + np.asarray(tf.math.igamma(2.0, np.abs(x)))) @ w + b
    np.testing.assert_allclose(np.asarray(model(x)), want, rtol=1e-5, atol=1e-6)


def test_igamma_large_a_against_wilson_hilferty():
    # P(a, x) for a in the millions: the series / fraction run to convergence (~sqrt(a) terms);
    # the Wilson-Hilferty normal approximation is accurate to ~1e-4 there
    a = np.array([1e6, 1e8, 1e8])
    x = np.array([1e6 - 500, 1e8 - 9000, 1e8 + 3000])
    z = ((x / a) ** (1 / 3) - (1 - 1 / (9 * a))) / np.sqrt(1 / (9 * a))
    from math import erf
    want = [0.5 * (1 + erf(v / np.sqrt(2))) for v in z]
    from corenn import _math_special as sp
    np.testing.assert_allclose(sp.igamma(a, x)[0], want, atol=2e-4)
    with pytest.raises(ValueError, match="too negative"):
        tf.math.zeta(2.0, -2e6 - 0.5)
