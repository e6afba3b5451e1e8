"""The keras.ops names Keras 3.15 has that corenn lacked: each against a float64 NumPy reference
written here from the math, each differentiable one's GradientTape gradient against central
finite differences of that reference; then the ones with structure (unique, views, eig,
lu_factor, jvp, rearrange) and their errors.

A case is (name, call, ref, inputs, differentiable), as in test_ops_more.py."""
import math

import numpy as np
import pytest

import corenn
from corenn import ops
from corenn.kernels import Tensor
from reference import f64, numerical_grad


def _n(*shape, lo=None, hi=None):
    return lambda r: r.normal(size=shape) if lo is None else r.uniform(lo, hi, size=shape)


def _with_nans(*shape):
    def make(r):
        x = r.normal(size=shape)
        x.reshape(-1)[::4] = np.nan
        return x
    return make


def _distinct(*shape):
    def make(r):
        n = int(np.prod(shape))
        return (r.permutation(n) * 0.37 + r.uniform(0, 0.1, n)).reshape(shape) - n * 0.15
    return make


def _i0_ref(x):
    return np.vectorize(lambda v: sum((v / 2) ** (2 * k) / math.factorial(k) ** 2 for k in range(40)))(f64(x))


def _nanq(x, q, axis=None):
    return np.nanquantile(f64(x), q, axis=axis)


def _pinv_ref(a):
    u, s, vh = np.linalg.svd(f64(a), full_matrices=False)
    return vh.T @ np.diag(1 / s) @ u.T


CASES = [
    ("erfc", ops.erfc, lambda x: np.vectorize(math.erfc)(f64(x)), [_n(3, 4)], True),
    ("fabs", ops.fabs, np.abs, [lambda r: r.normal(size=(5,)) + np.sign(r.normal(size=5)) * 0.2], True),
    ("rad2deg", ops.rad2deg, np.rad2deg, [_n(4)], True),
    ("i0", ops.i0, _i0_ref, [_n(2, 3)], True),
    ("sinc", ops.sinc, np.sinc, [_n(6)], True),
    ("fmod", ops.fmod, np.fmod, [_n(6), lambda r: r.uniform(0.5, 2, 6) * np.sign(r.normal(size=6))], True),
    ("fmax", ops.fmax, np.fmax, [_distinct(2, 3), _with_nans(2, 3)], True),
    ("fmin", ops.fmin, np.fmin, [_with_nans(4), _distinct(4)], True),
    ("fliplr", ops.fliplr, np.fliplr, [_n(2, 3, 2)], True),
    ("flipud", ops.flipud, np.flipud, [_n(3, 2)], True),
    ("dsplit", lambda x: ops.dsplit(x, 2), lambda x: np.dsplit(x, 2), [_n(2, 1, 4)], True),
    ("nanprod", lambda x: ops.nanprod(x, axis=1), lambda x: np.nanprod(x, axis=1), [_with_nans(3, 4)], True),
    ("nancumsum", lambda x: ops.nancumsum(x, axis=0), lambda x: np.nancumsum(x, axis=0), [_with_nans(3, 4)], True),
    ("nancumprod", lambda x: ops.nancumprod(x, axis=1), lambda x: np.nancumprod(x, axis=1), [_with_nans(3, 4)], True),
    ("nanvar", lambda x: ops.nanvar(x, axis=1), lambda x: np.nanvar(x, axis=1), [_with_nans(3, 5)], True),
    ("nanstd", ops.nanstd, np.nanstd, [_with_nans(3, 5)], True),
    ("nanmedian", lambda x: ops.nanmedian(x, axis=1), lambda x: np.nanmedian(x, axis=1), [_with_nans(3, 5)], True),
    ("nanquantile", lambda x: ops.nanquantile(x, [0.2, 0.9], axis=0), lambda x: _nanq(x, [0.2, 0.9], 0),
     [_with_nans(5, 3)], True),
    ("nanpercentile", lambda x: ops.nanpercentile(x, 30.0), lambda x: np.nanpercentile(x, 30.0), [_with_nans(3, 4)], True),
    ("nanquantile_keepdims", lambda x: ops.nanquantile(x, 0.5, axis=1, keepdims=True, method="nearest"),
     lambda x: np.nanquantile(x, 0.5, axis=1, keepdims=True, method="nearest"), [_with_nans(3, 5)], True),
    ("segment_min", lambda d: ops.segment_min(d, np.array([0, 0, 2, 2]), num_segments=3),
     lambda d: np.stack([d[:2].min(0), np.full(d.shape[1:], np.inf), d[2:].min(0)]), [_distinct(4, 2)], True),
    ("segment_prod", lambda d: ops.segment_prod(d, np.array([1, 0, 1, 1]), num_segments=3),
     lambda d: np.stack([d[1], d[0] * d[2] * d[3], np.ones(d.shape[1:])]), [_n(4, 2)], True),
    ("pinv", ops.pinv, _pinv_ref, [_n(3, 5)], True),
    ("cdist", ops.cdist, lambda a, b: np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)), [_n(3, 4), _n(2, 4)], True),
    ("cholesky_inverse", ops.cholesky_inverse, lambda l_: np.linalg.inv(np.tril(l_) @ np.tril(l_).T),
     [lambda r: np.tril(r.normal(size=(3, 3)) * 0.3) + 2 * np.eye(3)], True),
    ("cholesky_inverse_upper", lambda u: ops.cholesky_inverse(u, upper=True),
     lambda u: np.linalg.inv(np.triu(u).T @ np.triu(u)), [lambda r: np.triu(r.normal(size=(3, 3)) * 0.3) + 2 * np.eye(3)],
     True),
    ("view_as_real", lambda a, b: ops.view_as_real((a, b)), lambda a, b: np.stack([a, b], -1), [_n(2, 3), _n(2, 3)], True),
    ("view_as_complex", ops.view_as_complex, lambda x: (x[..., 0], x[..., 1]), [_n(3, 2)], True),
    ("rearrange", lambda x: ops.rearrange(x, "b (h w) c -> b c h w", h=2),
     lambda x: x.reshape(2, 2, 3, 4).transpose(0, 3, 1, 2), [_n(2, 6, 4)], True),
]


def _flat(v):
    if isinstance(v, (list, tuple)):
        return [a for x in v for a in _flat(x)]
    return [v]


def _inputs(case, rng):
    return [f64(make(rng)).astype(np.float32).astype(np.float64) for make in case[3]]


@pytest.mark.parametrize("as_tensor", [True, False], ids=["tensor", "array"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_forward_matches_numpy(case, as_tensor, rng):
    name, call, ref = case[:3]
    xs = _inputs(case, rng)
    args = [ops.convert_to_tensor(x.astype(np.float32)) for x in xs] if as_tensor else xs
    got, want = _flat(call(*args)), _flat(ref(*xs))
    assert len(got) == len(want), name
    for g, w in zip(got, want):
        assert isinstance(g, Tensor) and g.dtype == "float32", name
        assert np.asarray(g).shape == np.shape(w), name
        np.testing.assert_allclose(np.asarray(g), w, rtol=2e-5, atol=2e-6, err_msg=name)


DIFF = [c for c in CASES if c[4]]


@pytest.mark.parametrize("case", DIFF, ids=[c[0] for c in DIFF])
def test_gradient_matches_finite_differences(case, rng):
    name, call, ref = case[:3]
    xs = _inputs(case, rng)
    ws = [np.where(np.isfinite(f64(w)), rng.normal(size=np.shape(w)), 0.0) for w in _flat(ref(*xs))]
    ts = [ops.convert_to_tensor(x.astype(np.float32)) for x in xs]
    with corenn.GradientTape() as tape:
        tape.watch(ts)
        outs = _flat(call(*ts))
        parts = [ops.sum(ops.where(np.isfinite(np.asarray(o)), o, 0.0) * w.astype(np.float32)) for o, w in zip(outs, ws)]
        loss = ops.sum(ops.stack(parts))
    grads = tape.gradient(loss, ts)
    for i, (x, g) in enumerate(zip(xs, grads)):
        def f(v, i=i):
            args = list(xs)
            args[i] = v
            return sum(float((np.where(np.isfinite(f64(o)), f64(o), 0.0) * w).sum()) for o, w in zip(_flat(ref(*args)), ws))
        want = numerical_grad(f, np.where(np.isnan(x), np.nan, x))
        assert g is not None, f"{name}: no gradient for input {i}"
        keep = ~np.isnan(x)
        np.testing.assert_allclose(np.asarray(g)[keep], want[keep], rtol=2e-3, atol=2e-4, err_msg=f"{name} input {i}")


def test_small_names():
    assert float(np.asarray(ops.allclose([1.0, 2.0], [1.0, 2.0 + 1e-7]))) == 1.0
    assert float(np.asarray(ops.allclose([1.0, np.nan], [1.0, np.nan]))) == 0.0
    assert float(np.asarray(ops.allclose([1.0, np.nan], [1.0, np.nan], equal_nan=True))) == 1.0
    np.testing.assert_allclose(np.asarray(ops.geomspace(1, 1000, 4)), [1, 10, 100, 1000], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ops.geomspace(2, 32, 4, endpoint=False)), np.geomspace(2, 32, 4, endpoint=False),
                               rtol=1e-6)
    x = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])
    np.testing.assert_array_equal(np.asarray(ops.nanargmax(x, axis=1)), [2, -1])
    np.testing.assert_array_equal(np.asarray(ops.nanargmin(x, axis=1)), [0, -1])
    assert int(np.asarray(ops.nanargmax(x))) == 2 and ops.nanargmax(x).dtype == "int32"
    np.testing.assert_array_equal(np.asarray(ops.fmod(np.array([-7, 7]), 3)), [-1, 1])
    np.testing.assert_array_equal(np.asarray(ops.segment_min(np.array([4, 2, 9]), [0, 0, 1])), [2, 9])
    with pytest.raises(ValueError, match=r"ops.dsplit: needs a tensor of rank >= 3"):
        ops.dsplit(np.ones((2, 2)), 2)
    with pytest.raises(ValueError, match=r"ops.cdist: needs x \(..., P, M\)"):
        ops.cdist(np.ones((2, 3)), np.ones((2, 4)))
    b = np.array([[0.0, 0.0], [3.0, -1.0]])
    for p, want in [(1, [0.0, 4.0]), (0, [0.0, 2.0]), (np.inf, [0.0, 3.0]), (3, [0.0, 28 ** (1 / 3)])]:
        np.testing.assert_allclose(np.asarray(ops.cdist(b[:1], b, p=p))[0], want, rtol=1e-6)
    a = np.random.default_rng(0).normal(size=(2, 3, 4))
    np.testing.assert_allclose(np.asarray(ops.cdist(a, a[:, :2])),
                               np.sqrt(((a[:, :, None] - a[:, None, :2]) ** 2).sum(-1)), rtol=1e-5, atol=1e-6)


def test_unique():
    x = np.array([3, 1, 3, 2, 1, 3])
    vals, idx, inv, counts = ops.unique(x, return_index=True, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(np.asarray(vals), [1, 2, 3])
    np.testing.assert_array_equal(np.asarray(idx), [1, 3, 0])
    np.testing.assert_array_equal(np.asarray(vals)[np.asarray(inv)], x)
    np.testing.assert_array_equal(np.asarray(counts), [2, 1, 3])
    np.testing.assert_array_equal(np.asarray(ops.unique(x, size=5, fill_value=-1)), [1, 2, 3, -1, -1])
    np.testing.assert_array_equal(np.asarray(ops.unique(x, size=2)), [1, 2])
    rows = np.array([[1.0, 2.0], [0.0, 1.0], [1.0, 2.0]])
    np.testing.assert_array_equal(np.asarray(ops.unique(rows, axis=0)), [[0, 1], [1, 2]])
    cols = np.array([[1.0, 0.0, 1.0], [2.0, 1.0, 2.0]])
    np.testing.assert_array_equal(np.asarray(ops.unique(cols, axis=1, size=3, fill_value=9)), [[0, 1, 9], [1, 2, 9]])
    with pytest.raises(NotImplementedError, match="ops.unique: sorted=False"):
        ops.unique(x, sorted=False)


def test_view_and_the_complex_views(rng):
    x = np.array([1.0, -2.5], np.float32)
    np.testing.assert_array_equal(np.asarray(ops.view(x, "int32")), x.view(np.int32))
    np.testing.assert_array_equal(np.asarray(ops.view(np.arange(4, dtype=np.int32), "int64")),
                                  np.arange(4, dtype=np.int32).view(np.int64))
    np.testing.assert_array_equal(np.asarray(ops.view(ops.view(x, "int32"), "float32")), x)
    h = ops.view(x, "float16")   # a Tensor holds float16 (storage): the bytes as NumPy reads them
    assert h.dtype == "float16"
    np.testing.assert_array_equal(np.asarray(h), x.view(np.float16))
    d = ops.cast(np.array([0.1]), "float64")
    np.testing.assert_array_equal(np.asarray(ops.view(d, "int64")), np.array([0.1]).view(np.int64))
    with pytest.raises(TypeError, match="ops.view: corenn Tensors hold real numbers"):
        ops.view(x, "bool")
    with pytest.raises(ValueError, match="ops.view: cannot view shape"):
        ops.view(np.ones(3, np.float32), "int64")
    z = ops.view_as_complex(rng.normal(size=(4, 2)))
    assert isinstance(z, ops.ComplexPair) and tuple(z.shape) == (4,)
    # consistent with corenn's complex values: rfft's pair goes through view_as_real and back
    re, im = ops.rfft(rng.normal(size=(8,)).astype(np.float32))
    back = ops.view_as_complex(ops.view_as_real((re, im)))
    np.testing.assert_array_equal(np.asarray(back.real), np.asarray(re))
    np.testing.assert_array_equal(np.asarray(back.imag), np.asarray(im))
    with pytest.raises(ValueError, match=r"ops.view_as_complex: needs a last axis of size 2"):
        ops.view_as_complex(np.ones((3, 3)))


def test_eig_and_lu_factor(rng):
    a = rng.normal(size=(2, 4, 4))
    w, v = ops.eig(a)
    W = np.asarray(w.real, np.float64) + 1j * np.asarray(w.imag, np.float64)
    V = np.asarray(v.real, np.float64) + 1j * np.asarray(v.imag, np.float64)
    np.testing.assert_allclose(a @ V, V * W[:, None, :], atol=2e-5)
    np.testing.assert_allclose(np.sort_complex(W[0]), np.sort_complex(np.linalg.eigvals(a[0])), atol=1e-5)
    lu, piv = ops.lu_factor(a)
    assert piv.dtype == "int32" and tuple(piv.shape) == (2, 4)
    for b in range(2):
        m = np.asarray(lu, np.float64)[b]
        L, U = np.tril(m, -1) + np.eye(4), np.triu(m)
        pa = a[b].copy()
        for i, p in enumerate(np.asarray(piv)[b]):
            pa[[i, p]] = pa[[p, i]]
        np.testing.assert_allclose(L @ U, pa, rtol=1e-5, atol=1e-5)
        assert (np.abs(np.tril(m, -1)) <= 1 + 1e-6).all()          # partial pivoting: |l_ij| <= 1
    with pytest.raises(ValueError, match=r"ops.eig: needs square matrices"):
        ops.eig(np.ones((2, 3)))


def test_jvp_is_the_directional_derivative(rng):
    x, y = rng.normal(size=(3,)), rng.normal(size=(3,))
    tx, ty = rng.normal(size=(3,)), rng.normal(size=(3,))

    def fun(a, b):
        return ops.sin(a) * ops.exp(b) + a * a

    def ref(a, b):
        return np.sin(a) * np.exp(b) + a * a
    out, tangent = ops.jvp(fun, [x, y], [tx, ty])
    eps = 1e-6
    want = (ref(x + eps * tx, y + eps * ty) - ref(x - eps * tx, y - eps * ty)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(out), ref(x, y), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(tangent), want, rtol=1e-4, atol=1e-5)
    out, tangent, aux = ops.jvp(lambda a: (ops.square(a), "aux"), (x,), (tx,), has_aux=True)
    assert aux == "aux"
    np.testing.assert_allclose(np.asarray(tangent), 2 * x * tx, rtol=1e-5)
    with pytest.raises(ValueError, match="ops.jvp: a tangent of shape"):
        ops.jvp(fun, [x, y], [tx, np.ones(2)])
    # through a layer call (its fused backward is differentiable again on the tape)
    dense = corenn.layers.Dense(4)
    dense.build((None, 3))
    k = np.asarray(dense.kernel, np.float64)
    _, tangent = ops.jvp(lambda a: dense(a), [x[None]], [tx[None]])
    np.testing.assert_allclose(np.asarray(tangent), tx[None] @ k, rtol=1e-5, atol=1e-6)
    # erf's NumPy formula is differentiated again (op_gradients' unary_np), so its jvp exists
    _, tangent = ops.jvp(ops.erf, [x], [tx])
    np.testing.assert_allclose(np.asarray(tangent), 2 / np.sqrt(np.pi) * np.exp(-x * x) * tx, rtol=1e-5)
    with pytest.raises(NotImplementedError, match="ops.jvp: forward mode runs two reverse passes"):
        ops.jvp(corenn.math.lgamma, [x + 2.0], [tx])


@pytest.mark.parametrize("pattern, kw, ref", [
    ("b h w c -> b (h w) c", {}, lambda x: x.reshape(2, 12, 2)),
    ("b h w c -> b c h w", {}, lambda x: x.transpose(0, 3, 1, 2)),
    ("b (h1 h) w c -> (b h1) h w c", {"h1": 3}, lambda x: x.reshape(2, 3, 1, 4, 2).reshape(6, 1, 4, 2)),
    ("b h w c -> b (w c h)", {}, lambda x: x.transpose(0, 2, 3, 1).reshape(2, -1)),
    ("... c -> c ...", {}, lambda x: np.moveaxis(x, -1, 0)),
    ("b h w c -> b 1 h w c", {}, lambda x: x[:, None]),
    ("b h (w1 w) c -> b h w (w1 c)", {"w": 2}, lambda x: x.reshape(2, 3, 2, 2, 2).transpose(0, 1, 3, 2, 4).reshape(2, 3, 2, 4)),
])
def test_rearrange_patterns(pattern, kw, ref, rng):
    x = rng.normal(size=(2, 3, 4, 2))
    got = ops.rearrange(x, pattern, **kw)
    np.testing.assert_allclose(np.asarray(got), ref(x), rtol=1e-6)


def test_rearrange_errors():
    x = np.ones((2, 6, 4))
    for pattern, kw, match in [("b h w", {}, "needs '->'"), ("b (h w) c -> b h w c", {}, "cannot infer the sizes"),
                               ("b (h w) c -> b h w c", {"h": 4}, "cannot split"), ("b h -> b h", {}, "names 2 axes"),
                               ("b h w -> b h", {}, "must name the same axes"), ("b h h -> b h h", {}, "repeats"),
                               ("b (h w -> b h w", {}, "unbalanced")]:
        with pytest.raises(ValueError, match=f"ops.rearrange: .*{match}"):
            ops.rearrange(x, pattern, **kw)
