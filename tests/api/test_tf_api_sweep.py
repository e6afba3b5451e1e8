"""TensorFlow 2 names that custom training loops and the low-level tutorials use (``import corenn
as tf``): the top-level math, indexing and scatter ops, control flow and TensorArray, tf.math,
tf.nn's convolutions and pooling (TF's layouts, strides and padding), tf.linalg and tf.signal.

Each is checked against an independent float64 NumPy computation (tests/reference.py for the
convolutions and pooling), each differentiable one's GradientTape gradient against central
finite differences, and bad input against a clear error naming the op. Where torch is installed
the convolutions are also compared with torch.nn.functional.
"""
import numpy as np
import pytest

import corenn as tf
from tests import reference as ref


def _tape_grad(fn, *arrays):
    """Gradients of sum(fn(*vars) * r) for a fixed random r (so every output entry counts)."""
    vs = [tf.Variable(np.asarray(a, np.float32)) for a in arrays]
    with tf.GradientTape() as tape:
        out = fn(*vs)
        parts = [out] if not isinstance(out, (tuple, list)) else list(out)
        loss = 0.0
        for k, p in enumerate(parts):
            r = np.random.default_rng(7 + k).standard_normal(tuple(p.shape)).astype(np.float32)
            loss = loss + tf.reduce_sum(p * r)
    return [np.asarray(g, np.float64) for g in tape.gradient(loss, vs)]


def _numeric_grad(fn, *arrays, eps=1e-3):
    """Central differences of the same weighted sum, evaluated through fn in float32."""
    arrays = [np.asarray(a, np.float64) for a in arrays]

    def value(*xs):
        out = fn(*[np.asarray(x, np.float32) for x in xs])
        parts = [out] if not isinstance(out, (tuple, list)) else list(out)
        total = 0.0
        for k, p in enumerate(parts):
            r = np.random.default_rng(7 + k).standard_normal(tuple(np.shape(p)))
            total += float(np.sum(np.asarray(p, np.float64) * r))
        return total
    grads = []
    for i in range(len(arrays)):
        def f(x, i=i):
            xs = list(arrays)
            xs[i] = x
            return value(*xs)
        grads.append(ref.numerical_grad(f, arrays[i], eps=eps))
    return grads


def _check_grad(fn, *arrays, eps=1e-3, atol=2e-2, rtol=2e-2):
    for g, n in zip(_tape_grad(fn, *arrays), _numeric_grad(fn, *arrays, eps=eps)):
        np.testing.assert_allclose(g, n, atol=atol, rtol=rtol)


# -- top level ------------------------------------------------------------------------------------

def test_trigonometry_against_numpy_and_gradients(rng):
    x = rng.uniform(-0.9, 0.9, (3, 4))
    pairs = {tf.acos: np.arccos, tf.asin: np.arcsin, tf.atan: np.arctan, tf.atanh: np.arctanh, tf.cos: np.cos,
             tf.cosh: np.cosh, tf.sin: np.sin, tf.sinh: np.sinh, tf.tan: np.tan, tf.asinh: np.arcsinh,
             tf.negative: np.negative}
    for fn, want in pairs.items():
        np.testing.assert_allclose(fn(x.astype(np.float32)).numpy(), want(x), rtol=1e-5, atol=1e-6)
        _check_grad(fn, x)
    big = rng.uniform(1.5, 3.0, (5,))
    np.testing.assert_allclose(tf.acosh(big.astype(np.float32)).numpy(), np.arccosh(big), rtol=1e-5)
    y = rng.uniform(-1, 1, (4,))
    np.testing.assert_allclose(tf.atan2(y.astype(np.float32), x[0].astype(np.float32)).numpy(),
                               np.arctan2(y, x[0]), rtol=1e-5, atol=1e-6)
    _check_grad(tf.atan2, y, x[0] + 2.0)
    np.testing.assert_allclose(tf.math.atan2(1.0, 0.0).numpy(), np.pi / 2, rtol=1e-6)


def test_division_xor_eye_meshgrid_repeat_tensordot(rng):
    a, b = np.array([7.0, -7.0, 5.5]), np.array([2.0, 2.0, -2.0])
    np.testing.assert_array_equal(tf.floordiv(a, b).numpy(), np.floor_divide(a, b))
    np.testing.assert_allclose(tf.truediv(a, b).numpy(), a / b)
    np.testing.assert_allclose(tf.realdiv(a, b).numpy(), a / b)
    np.testing.assert_array_equal(np.asarray(tf.logical_xor([True, True, False], [True, False, False])),
                                  [0, 1, 0])
    np.testing.assert_array_equal(tf.eye(2, 3).numpy(), np.eye(2, 3))
    assert tf.eye(3, batch_shape=[2]).shape == (2, 3, 3)
    assert tf.eye(2, dtype=tf.int32).dtype == "int32"
    with pytest.raises(ValueError, match="tf.eye"):
        tf.eye(-1)
    gx, gy = tf.meshgrid([1.0, 2.0, 3.0], [4.0, 5.0])
    nx, ny = np.meshgrid([1.0, 2.0, 3.0], [4.0, 5.0])
    np.testing.assert_array_equal(gx.numpy(), nx)
    np.testing.assert_array_equal(gy.numpy(), ny)
    ix, _ = tf.meshgrid([1.0, 2.0, 3.0], [4.0, 5.0], indexing="ij")
    assert ix.shape == (3, 2)
    m = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(tf.repeat(m, 2, axis=1).numpy(), np.repeat(m, 2, axis=1))
    np.testing.assert_array_equal(tf.repeat(m, [1, 2], axis=0).numpy(), np.repeat(m, [1, 2], axis=0))
    np.testing.assert_array_equal(tf.repeat(m, 2).numpy(), np.repeat(m, 2))
    p, q = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 3, 5))
    np.testing.assert_allclose(tf.tensordot(p, q, [[1, 2], [1, 0]]).numpy(),
                               np.tensordot(p, q, [[1, 2], [1, 0]]), rtol=1e-5, atol=1e-5)
    _check_grad(lambda u, v: tf.tensordot(u, v, 1), rng.standard_normal((2, 3)), rng.standard_normal((3, 2)))


def test_scatter_nd_and_tensor_scatter_family(rng):
    idx = np.array([[0], [2], [0]])
    upd = rng.standard_normal((3, 2))
    want = np.zeros((4, 2))
    np.add.at(want, idx[:, 0], upd)
    np.testing.assert_allclose(tf.scatter_nd(idx, upd.astype(np.float32), [4, 2]).numpy(), want, rtol=1e-6)
    _check_grad(lambda u: tf.scatter_nd(idx, u, [4, 2]), upd)
    t = rng.standard_normal((4, 2))
    w = t.copy()
    np.add.at(w, idx[:, 0], upd)
    np.testing.assert_allclose(tf.tensor_scatter_nd_add(t.astype(np.float32), idx, upd.astype(np.float32)).numpy(),
                               w, rtol=1e-5, atol=1e-6)
    w = t.copy()
    np.subtract.at(w, idx[:, 0], upd)
    np.testing.assert_allclose(tf.tensor_scatter_nd_sub(t.astype(np.float32), idx, upd.astype(np.float32)).numpy(),
                               w, rtol=1e-5, atol=1e-6)
    uniq = np.array([[1, 0], [3, 1]])
    w = t.copy()
    w[1, 0], w[3, 1] = 10.0, 20.0
    np.testing.assert_array_equal(tf.tensor_scatter_nd_update(t.astype(np.float32), uniq, [10.0, 20.0]).numpy(),
                                  w.astype(np.float32))
    for fn, ufunc in ((tf.tensor_scatter_nd_max, np.maximum), (tf.tensor_scatter_nd_min, np.minimum)):
        w = t.copy()
        ufunc.at(w, idx[:, 0], upd)
        np.testing.assert_allclose(fn(t.astype(np.float32), idx, upd.astype(np.float32)).numpy(), w, rtol=1e-6)
        _check_grad(lambda a, b, fn=fn: fn(a, idx, b), t, upd)
    _check_grad(lambda a, b: tf.tensor_scatter_nd_add(a, idx, b), t, upd)
    _check_grad(lambda a, b: tf.tensor_scatter_nd_update(a, uniq, b), t, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="tensor_scatter_nd_update.*updates of shape"):
        tf.tensor_scatter_nd_update(t, uniq, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="tensor_scatter_nd_add.*outside"):
        tf.tensor_scatter_nd_add(t, [[9]], np.ones((1, 2)))
    with pytest.raises(TypeError, match="tensor_scatter_nd_max.*integers"):
        tf.tensor_scatter_nd_max(t, [[0.5]], np.ones((1, 2)))


def test_slice_strided_slice_histogram(rng):
    x = rng.standard_normal((4, 5, 6))
    np.testing.assert_array_equal(tf.slice(x.astype(np.float32), [1, 0, 2], [2, -1, 3]).numpy(),
                                  x[1:3, :, 2:5].astype(np.float32))
    _check_grad(lambda v: tf.slice(v, [1, 0, 2], [2, -1, 3]), x)
    with pytest.raises(ValueError, match="tf.slice"):
        tf.slice(x, [3, 0, 0], [2, 1, 1])
    xf = x.astype(np.float32)
    np.testing.assert_array_equal(tf.strided_slice(xf, [0, 4, 1], [4, 0, 6], [2, -1, 2]).numpy(), xf[0:4:2, 4:0:-1, 1:6:2])
    np.testing.assert_array_equal(tf.strided_slice(xf, [1, 0, 0], [2, 0, 0], begin_mask=0b110, end_mask=0b110,
                                                   shrink_axis_mask=1).numpy(), xf[1])
    np.testing.assert_array_equal(tf.strided_slice(xf, [0, 2], [0, 3], ellipsis_mask=1).numpy(), xf[..., 2:3])
    np.testing.assert_array_equal(tf.strided_slice(xf, [0, 0], [0, 2], new_axis_mask=1, end_mask=0).shape,
                                  xf[None, 0:2].shape)
    _check_grad(lambda v: tf.strided_slice(v, [0, 4, 1], [4, 0, 6], [2, -1, 2]), x)
    with pytest.raises(ValueError, match="strided_slice.*non-zero"):
        tf.strided_slice(xf, [0], [1], [0])
    v = np.array([-1.0, 0.0, 1.5, 2.0, 5.0, 15.0])
    want = np.bincount(np.clip(np.floor((v - 0.0) / 5.0 * 5), 0, 4).astype(int), minlength=5)
    np.testing.assert_array_equal(tf.histogram_fixed_width(v, [0.0, 5.0], nbins=5).numpy(), want)
    with pytest.raises(ValueError, match="histogram_fixed_width"):
        tf.histogram_fixed_width(v, [1.0, 1.0])


def test_cond_case_switch_case():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = tf.cond(x > 1.0, lambda: x * x, lambda: -x)
    assert float(y) == 4.0 and float(tape.gradient(y, x)) == 4.0
    assert float(tf.cond(tf.constant(False), lambda: 1.0, lambda: 2.0)) == 2.0
    with pytest.raises(ValueError, match="tf.cond.*scalar"):
        tf.cond([True, False], lambda: 1, lambda: 2)
    assert tf.case([(tf.constant(False), lambda: 1), (tf.constant(True), lambda: 2)], default=lambda: 3) == 2
    assert tf.case([(tf.constant(False), lambda: 1)], default=lambda: 3) == 3
    with pytest.raises(ValueError, match="exclusive"):
        tf.case([(True, lambda: 1), (True, lambda: 2)], exclusive=True)
    fns = [lambda: 10, lambda: 20, lambda: 30]
    assert tf.switch_case(tf.constant(1), fns) == 20
    assert tf.switch_case(7, fns) == 30                         # out of range: the last branch
    assert tf.switch_case(7, fns, default=lambda: -1) == -1
    assert tf.switch_case(0, {0: lambda: "a", 3: lambda: "b"}) == "a"
    with pytest.raises(TypeError, match="switch_case.*integer"):
        tf.switch_case(1.5, fns)


def test_while_loop_structures_gradient_and_errors():
    i, total = tf.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s + i), (tf.constant(0), tf.constant(0)))
    assert int(i) == 5 and int(total) == 10
    assert int(tf.while_loop(lambda v: v < 100, lambda v: v * 2, tf.constant(3))) == 192
    out = tf.while_loop(lambda d: d["n"] < 3, lambda d: {"n": d["n"] + 1, "v": d["v"] * 2.0},
                        [{"n": tf.constant(0), "v": tf.constant(1.0)}])
    assert int(out[0]["n"]) == 3 and float(out[0]["v"]) == 8.0
    assert int(tf.while_loop(lambda v: True, lambda v: v + 1, [tf.constant(0)], maximum_iterations=4)[0]) == 4
    w = tf.Variable(1.5)
    with tf.GradientTape() as tape:
        _, p = tf.while_loop(lambda k, p: k < 4, lambda k, p: (k + 1, p * w), (0, tf.constant(1.0)))
    np.testing.assert_allclose(float(tape.gradient(p, w)), 4 * 1.5 ** 3, rtol=1e-6)   # d w^4 / dw
    with pytest.raises(ValueError, match="tf.while_loop.*2 loop variables"):
        tf.while_loop(lambda a, b: a < 2, lambda a, b: a + 1, (0, 1))


def test_map_fn_scan_folds_vectorized_map():
    x = np.arange(12.0, dtype=np.float32).reshape(4, 3)
    np.testing.assert_array_equal(tf.map_fn(lambda r: r * 2.0, x).numpy(), x * 2)
    s, d = tf.map_fn(lambda p: (tf.reduce_sum(p[0]), p[0] - p[1]), (x, x[::-1].copy()))
    np.testing.assert_array_equal(s.numpy(), x.sum(1))
    np.testing.assert_array_equal(d.numpy(), x - x[::-1])
    np.testing.assert_array_equal(tf.vectorized_map(lambda r: tf.reduce_max(r), x).numpy(), x.max(1))
    np.testing.assert_array_equal(tf.scan(lambda a, r: a + r, x).numpy(), np.cumsum(x, 0))
    np.testing.assert_array_equal(tf.scan(lambda a, r: a + r, x, initializer=tf.ones(3)).numpy(), 1 + np.cumsum(x, 0))
    np.testing.assert_array_equal(tf.scan(lambda a, r: a + r, x, reverse=True).numpy(), np.cumsum(x[::-1], 0)[::-1])
    assert float(tf.foldl(lambda a, v: a - v, tf.constant([1.0, 2.0, 3.0]))) == 1 - 2 - 3
    assert float(tf.foldr(lambda a, v: a - v, tf.constant([1.0, 2.0, 3.0]))) == 3 - 2 - 1
    assert float(tf.foldl(lambda a, v: a * v, tf.constant([2.0, 3.0]), initializer=tf.constant(5.0))) == 30.0
    _check_grad(lambda v: tf.scan(lambda a, r: a * r, v), np.array([[1.0, 2.0], [0.5, 3.0], [2.0, -1.0]]))
    _check_grad(lambda v: tf.map_fn(lambda r: tf.reduce_sum(r * r), v), np.array([[1.0, 2.0], [0.5, 3.0]]))
    with pytest.raises(ValueError, match="tf.map_fn.*leading sizes"):
        tf.map_fn(lambda p: p[0], (x, x[:2]))
    with pytest.raises(ValueError, match="tf.foldl.*initializer"):
        tf.foldl(lambda a, v: a, np.zeros((0, 2), np.float32))


def test_tensor_array():
    ta = tf.TensorArray(tf.float32, size=3)
    for i in range(3):
        ta = ta.write(i, tf.constant([float(i), 2.0 * i]))
    np.testing.assert_array_equal(ta.stack().numpy(), [[0, 0], [1, 2], [2, 4]])
    np.testing.assert_array_equal(ta.read(1).numpy(), [1, 2])
    np.testing.assert_array_equal(ta.gather([2, 0]).numpy(), [[2, 4], [0, 0]])
    np.testing.assert_array_equal(ta.concat().numpy(), [0, 0, 1, 2, 2, 4])
    assert int(ta.size()) == 3
    with pytest.raises(ValueError, match="TensorArray.*out of range"):
        ta.write(3, tf.constant([1.0, 1.0]))
    with pytest.raises(ValueError, match="TensorArray.*element shape"):
        ta.write(0, tf.constant([1.0, 1.0, 1.0]))
    dyn = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
    dyn = dyn.unstack(np.eye(3, dtype=np.float32))
    dyn = dyn.write(4, tf.constant([9.0, 9.0, 9.0]))
    out = dyn.stack().numpy()   # index 3 never written: zeros of the element shape
    np.testing.assert_array_equal(out[3], 0)
    np.testing.assert_array_equal(out[4], 9)
    w = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        acc = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        h = tf.constant([1.0, 1.0])
        for t in range(3):
            h = h * w
            acc = acc.write(t, h)
        loss = tf.reduce_sum(acc.stack())
    # d/dw_j of sum_t w_j^(t+1) = 1 + 2 w_j + 3 w_j^2
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), [1 + 2 + 3, 1 + 4 + 12], rtol=1e-6)
    with pytest.raises(TypeError, match="TensorArray.*int32"):
        tf.TensorArray(tf.int32, size=1).write(0, tf.constant(1.5))


def test_scopes_and_small_names():
    with tf.name_scope("block") as scope:
        assert scope == "block"
    with tf.control_dependencies([tf.constant(1.0)]):
        pass
    with tf.init_scope():
        pass
    tf.no_gradient("MyOp")
    np.testing.assert_array_equal(tf.get_static_value(tf.constant([1, 2])), [1, 2])
    assert tf.recompute_grad(abs) is abs
    init = tf.random_normal_initializer(0.0, 0.01)
    v = np.asarray(init((400,)))
    assert v.shape == (400,) and 0.005 < v.std() < 0.015
    np.testing.assert_array_equal(np.asarray(tf.constant_initializer(3.0)((2,))), [3.0, 3.0])
    np.testing.assert_array_equal(np.asarray(tf.zeros_initializer()((2,))), [0.0, 0.0])
    z = tf.complex(tf.constant([1.0]), tf.constant([2.0]))
    np.testing.assert_allclose(np.asarray(tf.abs(z)), [np.sqrt(5.0)], rtol=1e-6)
    with pytest.raises(TypeError, match="name_scope"):
        tf.name_scope(3)


# -- tf.math ----------------------------------------------------------------------------------------

def _lgamma_reference(v):
    import math
    return np.array([math.lgamma(t) for t in np.ravel(v)]).reshape(np.shape(v))


def test_math_special_functions(rng):
    x = rng.uniform(0.3, 6.0, (3, 4))
    np.testing.assert_allclose(tf.math.lgamma(x.astype(np.float32)).numpy(), _lgamma_reference(x.astype(np.float32)),
                               rtol=1e-5, atol=1e-5)
    _check_grad(tf.math.lgamma, x)
    # digamma against central differences of float64 lgamma (an independent computation)
    h = 1e-5
    want = (_lgamma_reference(x + h) - _lgamma_reference(x - h)) / (2 * h)
    np.testing.assert_allclose(tf.math.digamma(x).numpy(), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(tf.math.digamma([-0.5]).numpy(), [0.03648997397857652], rtol=1e-4)
    _check_grad(tf.math.digamma, x)
    np.testing.assert_allclose(tf.math.lbeta([[2.0, 3.0]]).numpy(),
                               [_lgamma_reference(2.0) + _lgamma_reference(3.0) - _lgamma_reference(5.0)], rtol=1e-5)
    y = rng.uniform(0.1, 3.0, (3, 4))
    a = x.copy()
    a[0, :2] = 0.0
    np.testing.assert_allclose(tf.math.xlogy(a, y).numpy(), np.where(a == 0, 0, a * np.log(y)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(tf.math.xlogy([0.0], [0.0]).numpy(), [0.0])
    np.testing.assert_allclose(tf.math.xdivy(a, y).numpy(), np.where(a == 0, 0, a / y), rtol=1e-5)
    np.testing.assert_allclose(tf.math.xlog1py(a, y).numpy(), np.where(a == 0, 0, a * np.log1p(y)), rtol=1e-5)
    _check_grad(tf.math.xlogy, x, y)
    _check_grad(tf.math.xdivy, x, y)
    import math
    np.testing.assert_allclose(tf.math.erfc([0.3, -1.0]).numpy(), [math.erfc(0.3), math.erfc(-1.0)], rtol=1e-5)
    np.testing.assert_allclose(tf.math.ndtri([0.975]).numpy(), [1.959963984540054], rtol=1e-4)
    np.testing.assert_array_equal(tf.math.multiply_no_nan([np.inf, 2.0], [0.0, 3.0]).numpy(), [0.0, 6.0])
    np.testing.assert_array_equal(tf.math.reciprocal_no_nan([0.0, 4.0]).numpy(), [0.0, 0.25])
    np.testing.assert_array_equal(tf.math.mod([7.0, -7.0], 3.0).numpy(), np.mod([7.0, -7.0], 3.0))
    np.testing.assert_array_equal(tf.math.rint([0.5, 1.5, 2.5, -0.5]).numpy(), np.rint([0.5, 1.5, 2.5, -0.5]))


def test_math_cumulative_and_reductions(rng):
    x = rng.uniform(0.5, 1.5, (3, 4))
    np.testing.assert_allclose(tf.math.cumprod(x, axis=1).numpy(), np.cumprod(x, 1), rtol=1e-5)
    excl = np.concatenate([np.ones((3, 1)), np.cumprod(x, 1)[:, :-1]], 1)
    np.testing.assert_allclose(tf.math.cumprod(x, axis=1, exclusive=True).numpy(), excl, rtol=1e-5)
    rev = np.cumprod(x[:, ::-1], 1)[:, ::-1]
    np.testing.assert_allclose(tf.math.cumprod(x, axis=1, reverse=True).numpy(), rev, rtol=1e-5)
    _check_grad(lambda v: tf.math.cumprod(v, axis=1, exclusive=True, reverse=True), x)
    np.testing.assert_allclose(tf.math.cumulative_logsumexp(x, axis=0).numpy(),
                               np.log(np.cumsum(np.exp(x), 0)), rtol=1e-5)
    _check_grad(lambda v: tf.math.cumulative_logsumexp(v, axis=1), x)
    np.testing.assert_allclose(tf.math.reduce_euclidean_norm(x, axis=1).numpy(), np.sqrt((x ** 2).sum(1)), rtol=1e-5)
    np.testing.assert_allclose(float(tf.math.reduce_euclidean_norm(x)), np.sqrt((x ** 2).sum()), rtol=1e-5)
    _check_grad(lambda v: tf.math.reduce_euclidean_norm(v, axis=0), x)
    np.testing.assert_allclose(tf.math.polyval([2.0, -1.0, 3.0], x).numpy(), 2 * x ** 2 - x + 3, rtol=1e-5)
    np.testing.assert_array_equal(tf.math.invert_permutation([2, 0, 1]).numpy(), [1, 2, 0])
    with pytest.raises(ValueError, match="invert_permutation"):
        tf.math.invert_permutation([0, 0])
    assert bool(tf.math.is_non_decreasing([1, 1, 2])) and not bool(tf.math.is_strictly_increasing([1, 1, 2]))
    np.testing.assert_allclose(float(tf.math.zero_fraction([0.0, 1.0, 0.0, 2.0])), 0.5)
    np.testing.assert_allclose(tf.math.add_n([x, x, x]).numpy(), 3 * x, rtol=1e-6)
    np.testing.assert_allclose(tf.math.softmax(x).numpy(), np.exp(x) / np.exp(x).sum(-1, keepdims=True), rtol=1e-5)
    for name in ("acos", "asin", "atan", "cosh", "sinh", "logical_xor", "accumulate_n", "scalar_mul", "angle",
                 "conj", "bessel_i0", "bessel_i0e", "nextafter", "erfinv", "log_softmax", "softsign"):
        assert callable(getattr(tf.math, name)), name


# -- tf.nn: convolutions and pooling ---------------------------------------------------------------

def _torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


@pytest.mark.parametrize("stride,padding,dilation", [(1, "SAME", 1), (2, "SAME", 1), (2, "VALID", 1),
                                                      (1, "SAME", 2), (1, [[0, 0], [1, 2], [0, 1], [0, 0]], 1)])
def test_conv2d_against_reference(rng, stride, padding, dilation):
    x = rng.standard_normal((2, 7, 6, 3))
    w = rng.standard_normal((3, 3, 3, 4))
    got = tf.nn.conv2d(x.astype(np.float32), w.astype(np.float32), strides=[1, stride, stride, 1], padding=padding,
                       dilations=dilation).numpy()
    if isinstance(padding, str):
        want = ref.conv2d_forward(x, w, strides=(stride, stride), padding=padding.lower(), dilation=(dilation, dilation))
    else:
        xp = np.pad(x, padding)
        want = ref.conv2d_forward(xp, w, strides=(stride, stride), padding="valid", dilation=(dilation, dilation))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    _check_grad(lambda a, b: tf.nn.conv2d(a, b, stride, padding, dilations=dilation), x[:1, :5, :5], w[:, :, :, :2])
    torch = _torch()
    if torch is not None and not isinstance(padding, str):
        tx = torch.nn.functional.pad(torch.tensor(x).permute(0, 3, 1, 2), (0, 1, 1, 2))
        ty = torch.nn.functional.conv2d(tx, torch.tensor(w).permute(3, 2, 0, 1), stride=stride, dilation=dilation)
        np.testing.assert_allclose(got, ty.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-4)


def test_conv2d_nchw_conv1d_convolution(rng):
    x = rng.standard_normal((2, 6, 5, 3))
    w = rng.standard_normal((2, 2, 3, 4))
    nhwc = tf.nn.conv2d(x, w, 1, "SAME").numpy()
    nchw = tf.nn.conv2d(np.transpose(x, (0, 3, 1, 2)), w, [1, 1, 1, 1], "SAME", data_format="NCHW").numpy()
    np.testing.assert_allclose(np.transpose(nchw, (0, 2, 3, 1)), nhwc, rtol=1e-5, atol=1e-5)
    s = rng.standard_normal((2, 9, 3))
    k = rng.standard_normal((3, 3, 5))
    want = ref.conv2d_forward(s[:, None], k[None], strides=(1, 2), padding="same")[:, 0]
    np.testing.assert_allclose(tf.nn.conv1d(s, k, stride=2, padding="SAME").numpy(), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tf.nn.convolution(s, k, strides=2, padding="SAME").numpy(), want, rtol=1e-4, atol=1e-4)
    want_pad = ref.conv2d_forward(np.pad(s, [(0, 0), (2, 1), (0, 0)])[:, None], k[None])[:, 0]
    np.testing.assert_allclose(tf.nn.conv1d(s, k, 1, [[2, 1]]).numpy(), want_pad, rtol=1e-4, atol=1e-4)
    _check_grad(lambda a, b: tf.nn.conv1d(a, b, 1, "VALID"), s[:1], k[:, :, :2])
    with pytest.raises(ValueError, match="tf.nn.conv2d: filters of shape"):
        tf.nn.conv2d(x, rng.standard_normal((3, 3, 2, 4)), 1, "SAME")
    with pytest.raises(ValueError, match="tf.nn.conv2d: padding"):
        tf.nn.conv2d(x, w, 1, "FULL")
    with pytest.raises(ValueError, match="tf.nn.conv2d: strides"):
        tf.nn.conv2d(x, w, [2, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="tf.nn.conv2d: input must have rank 4"):
        tf.nn.conv2d(s, w, 1, "SAME")
    with pytest.raises(ValueError, match="explicit padding"):
        tf.nn.conv2d(x, w, 1, [[1, 0], [0, 0], [0, 0], [0, 0]])


@pytest.mark.parametrize("out_hw,stride,padding", [((8, 8), 2, "SAME"), ((7, 7), 2, "SAME"), ((9, 9), 2, "VALID"),
                                                    ((4, 4), 1, "SAME")])
def test_conv2d_transpose_is_the_data_gradient_of_conv2d(rng, out_hw, stride, padding):
    x = rng.standard_normal((2, 4, 4, 3))
    w = rng.standard_normal((3, 3, 5, 3))          # (h, w, out, in)
    shape = [2, out_hw[0], out_hw[1], 5]
    got = tf.nn.conv2d_transpose(x, w, shape, strides=stride, padding=padding).numpy()
    want = ref.conv2d_backward_data(x, w, tuple(shape), strides=(stride, stride), padding=padding.lower())
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    _check_grad(lambda a, b: tf.nn.conv2d_transpose(a, b, [1] + shape[1:], stride, padding), x[:1], w)
    torch = _torch()
    if torch is not None and padding == "VALID":
        ty = torch.nn.functional.conv_transpose2d(torch.tensor(x).permute(0, 3, 1, 2),
                                                  torch.tensor(w).permute(3, 2, 0, 1), stride=stride)
        np.testing.assert_allclose(got, ty.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-4)


def test_conv_transpose_errors_and_1d(rng):
    x = rng.standard_normal((1, 4, 4, 3))
    w = rng.standard_normal((3, 3, 5, 3))
    with pytest.raises(ValueError, match="conv2d_transpose: output_shape"):
        tf.nn.conv2d_transpose(x, w, [1, 12, 12, 5], 2, "SAME")
    with pytest.raises(ValueError, match="conv2d_transpose: filters"):
        tf.nn.conv2d_transpose(x, w, [1, 8, 8, 4], 2, "SAME")
    s = rng.standard_normal((2, 5, 3))
    k = rng.standard_normal((3, 4, 3))
    want = ref.conv2d_backward_data(s[:, None], k[None], (2, 1, 10, 4), strides=(1, 2), padding="same")[:, 0]
    np.testing.assert_allclose(tf.nn.conv1d_transpose(s, k, [2, 10, 4], 2, "SAME").numpy(), want, rtol=1e-4, atol=1e-4)
    pads = [[0, 0], [1, 0], [0, 1], [0, 0]]
    full = ref.conv2d_backward_data(x, w, (1, 10, 10, 5), strides=(2, 2), padding="valid")
    np.testing.assert_allclose(tf.nn.conv2d_transpose(x, w, [1, 9, 9, 5], 2, pads).numpy(), full[:, 1:10, 0:9],
                               rtol=1e-4, atol=1e-4)


def test_depthwise_and_separable_conv2d(rng):
    x = rng.standard_normal((2, 6, 6, 3))
    dw = rng.standard_normal((3, 3, 3, 2))
    got = tf.nn.depthwise_conv2d(x, dw, [1, 1, 1, 1], "SAME").numpy()
    want = np.concatenate([ref.conv2d_forward(x[..., c:c + 1], dw[:, :, c:c + 1, :], padding="same")
                           for c in range(3)], axis=-1)   # channel c's outputs: c * multiplier + m
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    _check_grad(lambda a, b: tf.nn.depthwise_conv2d(a, b, [1, 2, 2, 1], "VALID"), x[:1], dw)
    pw = rng.standard_normal((1, 1, 6, 4))
    np.testing.assert_allclose(tf.nn.separable_conv2d(x, dw, pw, [1, 1, 1, 1], "SAME").numpy(),
                               ref.conv2d_forward(want, pw), rtol=1e-4, atol=1e-4)
    torch = _torch()
    if torch is not None:
        tw = torch.tensor(dw).permute(2, 3, 0, 1).reshape(6, 1, 3, 3)
        ty = torch.nn.functional.conv2d(torch.tensor(x).permute(0, 3, 1, 2), tw, padding=1, groups=3)
        np.testing.assert_allclose(got, ty.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="depthwise_conv2d: filter"):
        tf.nn.depthwise_conv2d(x, rng.standard_normal((3, 3, 2, 1)), 1, "SAME")


@pytest.mark.parametrize("k,s,padding", [(2, 2, "VALID"), (3, 2, "SAME"), (3, 1, "SAME")])
def test_pooling_against_reference(rng, k, s, padding):
    x = rng.standard_normal((2, 7, 6, 3))
    got = tf.nn.max_pool2d(x, ksize=k, strides=s, padding=padding).numpy()
    np.testing.assert_allclose(got, ref.max_pool2d(x, (k, k), (s, s), padding.lower())[0], rtol=1e-6)
    avg = tf.nn.avg_pool2d(x, [1, k, k, 1], [1, s, s, 1], padding).numpy()
    np.testing.assert_allclose(avg, ref.avg_pool2d(x, (k, k), (s, s), padding.lower()), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.nn.max_pool(x, k, s, padding).numpy(), got)
    np.testing.assert_allclose(tf.nn.avg_pool(x, k, s, padding).numpy(), avg)
    np.testing.assert_allclose(tf.nn.pool(x, [k, k], "AVG", strides=[s, s], padding=padding).numpy(), avg)
    _check_grad(lambda a: tf.nn.avg_pool2d(a, k, s, padding), x[:1])
    _check_grad(lambda a: tf.nn.max_pool2d(a, k, s, padding), x[:1], eps=1e-4)   # distinct values: no ties


def test_pooling_1d_explicit_and_errors(rng):
    s = rng.standard_normal((2, 9, 3))
    want = ref.max_pool2d(s[:, None], (1, 3), (1, 2), "valid")[0][:, 0]
    np.testing.assert_allclose(tf.nn.max_pool1d(s, 3, 2, "VALID").numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(tf.nn.avg_pool1d(s, 3, 2, "SAME").numpy(),
                               ref.avg_pool2d(s[:, None], (1, 3), (1, 2), "same")[:, 0], rtol=1e-5, atol=1e-6)
    x = rng.standard_normal((1, 4, 4, 2))
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], constant_values=-np.inf)
    np.testing.assert_allclose(tf.nn.max_pool2d(x, 2, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]).numpy(),
                               ref.max_pool2d(padded, (2, 2), (2, 2), "valid")[0], rtol=1e-6)
    with pytest.raises(ValueError, match="avg_pool2d: explicit padding"):
        tf.nn.avg_pool2d(x, 2, 2, [[0, 0], [1, 1], [1, 1], [0, 0]])
    with pytest.raises(ValueError, match="tf.nn.max_pool2d: ksize"):
        tf.nn.max_pool2d(x, [2, 2, 2], 2, "VALID")
    with pytest.raises(ValueError, match="tf.nn.max_pool: supports"):
        tf.nn.max_pool(np.zeros((2, 3)), 2, 2, "VALID")


def test_nn_losses_and_helpers(rng):
    per = rng.uniform(0, 2, (8,))
    np.testing.assert_allclose(float(tf.nn.compute_average_loss(per)), per.sum() / 8, rtol=1e-6)
    np.testing.assert_allclose(float(tf.nn.compute_average_loss(per, global_batch_size=32)), per.sum() / 32, rtol=1e-6)
    sw = rng.uniform(0, 1, (8,))
    np.testing.assert_allclose(float(tf.nn.compute_average_loss(per, sample_weight=sw)), (per * sw).sum() / 8, rtol=1e-5)
    _check_grad(lambda p: tf.nn.compute_average_loss(p, global_batch_size=16), per)
    with pytest.raises(ValueError, match="compute_average_loss"):
        tf.nn.compute_average_loss(per, global_batch_size=0)
    assert float(tf.nn.scale_regularization_loss([tf.constant(1.5), tf.constant(2.0)])) == 3.5
    np.testing.assert_allclose(float(tf.nn.l2_loss(per)), (per ** 2).sum() / 2, rtol=1e-6)
    x, m, v = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.uniform(0.5, 1, 3)
    np.testing.assert_allclose(tf.nn.batch_normalization(x, m, v, 0.1, 2.0, 1e-3).numpy(),
                               (x - m) * 2 / np.sqrt(v + 1e-3) + 0.1, rtol=1e-5)
    z, lg = rng.integers(0, 2, (5,)).astype(float), rng.standard_normal(5)
    want = (1 - z) * lg + (1 + (3.0 - 1) * z) * np.log1p(np.exp(-lg))
    np.testing.assert_allclose(tf.nn.weighted_cross_entropy_with_logits(z, lg, 3.0).numpy(), want, rtol=1e-5)
    np.testing.assert_allclose(tf.nn.log_poisson_loss(z, lg).numpy(), np.exp(lg) - z * lg, rtol=1e-5)
    np.testing.assert_allclose(tf.nn.crelu(x).numpy(), np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], -1))
    img = rng.standard_normal((2, 3, 3, 6))
    sq = np.pad(img ** 2, [(0, 0), (0, 0), (0, 0), (2, 2)])
    sums = sum(sq[..., k:k + 6] for k in range(5))
    np.testing.assert_allclose(tf.nn.lrn(img, depth_radius=2, bias=1.5, alpha=0.1, beta=0.75).numpy(),
                               img / (1.5 + 0.1 * sums) ** 0.75, rtol=1e-5, atol=1e-6)
    _check_grad(lambda v: tf.nn.local_response_normalization(v, 1, 1.0, 0.5, 0.5), img[:1, :2, :2, :4])


def test_segment_prod(rng):
    data = rng.uniform(0.5, 2.0, (5, 2))
    data[1, 0] = 0.0                           # a zero: the others' product is still the gradient
    ids = np.array([0, 0, 2, 2, 2])
    want = np.ones((3, 2))
    for i, s in enumerate(ids):
        want[s] *= data[i]
    np.testing.assert_allclose(tf.math.unsorted_segment_prod(data, ids, 3).numpy(), want, rtol=1e-5)
    np.testing.assert_allclose(tf.math.segment_prod(data, ids).numpy(), want, rtol=1e-5)
    _check_grad(lambda d: tf.math.unsorted_segment_prod(d, ids, 3), data)
    with pytest.raises(ValueError, match="segment_prod: segment_ids must be sorted"):
        tf.math.segment_prod(data, [1, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="unsorted_segment_prod: segment ids must lie"):
        tf.math.unsorted_segment_prod(data, [0, 0, 5, 0, 0], 3)
    np.testing.assert_allclose(tf.math.erfcinv([0.5]).numpy(), [0.4769362762044699], rtol=1e-4)


# -- tf.linalg ---------------------------------------------------------------------------------------

def test_linalg_diag_svd_matvec_global_norm(rng):
    d = rng.standard_normal((2, 3))
    np.testing.assert_array_equal(tf.linalg.diag(d).numpy(), np.stack([np.diag(r) for r in d]).astype(np.float32))
    np.testing.assert_array_equal(tf.linalg.diag(d[0], k=1).numpy(), np.diag(d[0], 1).astype(np.float32))
    np.testing.assert_array_equal(tf.linalg.diag(d[0], k=-2).numpy(), np.diag(d[0], -2).astype(np.float32))
    _check_grad(lambda v: tf.linalg.diag(v, k=1), d)
    m = rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(tf.linalg.diag_part(m).numpy(), np.diagonal(m, axis1=-2, axis2=-1).astype(np.float32))
    sd = tf.linalg.set_diag(m, d).numpy()
    want = m.copy()
    for b in range(2):
        np.fill_diagonal(want[b], d[b])
    np.testing.assert_allclose(sd, want, rtol=1e-6)
    _check_grad(tf.linalg.set_diag, m, d)
    np.testing.assert_array_equal(tf.linalg.eye(3).numpy(), np.eye(3))
    a = rng.standard_normal((5, 3))
    s, u, v = tf.linalg.svd(a)
    assert u.shape == (5, 3) and v.shape == (3, 3)
    np.testing.assert_allclose(s.numpy(), np.linalg.svd(a, compute_uv=False), rtol=1e-5)
    np.testing.assert_allclose(u.numpy() @ np.diag(s.numpy()) @ v.numpy().T, a, atol=1e-5)
    _, uf, _ = tf.linalg.svd(a, full_matrices=True)
    assert uf.shape == (5, 5)
    np.testing.assert_allclose(tf.linalg.svd(a, compute_uv=False).numpy(), np.linalg.svd(a, compute_uv=False), rtol=1e-5)
    _check_grad(lambda t: tf.linalg.svd(t, compute_uv=False), a)
    b = rng.standard_normal(3)
    np.testing.assert_allclose(tf.linalg.matvec(a, b).numpy(), a @ b, rtol=1e-5)
    np.testing.assert_allclose(tf.linalg.matvec(a, rng.standard_normal(5), transpose_a=True).shape, (3,))
    _check_grad(tf.linalg.matvec, a, b)
    np.testing.assert_allclose(float(tf.linalg.global_norm([a, None, b])), np.sqrt((a ** 2).sum() + (b ** 2).sum()),
                               rtol=1e-6)
    np.testing.assert_allclose(tf.linalg.pinv(a).numpy(), np.linalg.pinv(a), rtol=1e-4, atol=1e-4)
    assert int(tf.linalg.matrix_rank(np.outer([1.0, 2.0], [3.0, 4.0]))) == 1
    np.testing.assert_allclose(tf.linalg.adjoint(m).numpy(), np.swapaxes(m, -1, -2).astype(np.float32))


def test_linalg_existing_names_and_solvers(rng):
    a = rng.standard_normal((4, 4)) + 4 * np.eye(4)
    spd = a @ a.T
    rhs = rng.standard_normal((4, 2))
    np.testing.assert_allclose(tf.linalg.inv(a).numpy(), np.linalg.inv(a), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(float(tf.linalg.det(a)), np.linalg.det(a), rtol=1e-4)
    sign, logabs = tf.linalg.slogdet(a)
    np.testing.assert_allclose(float(logabs), np.linalg.slogdet(a)[1], rtol=1e-5)
    np.testing.assert_allclose(tf.linalg.solve(a, rhs).numpy(), np.linalg.solve(a, rhs), rtol=1e-4, atol=1e-5)
    chol = tf.linalg.cholesky(spd)
    np.testing.assert_allclose(chol.numpy(), np.linalg.cholesky(spd), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tf.linalg.cholesky_solve(chol, rhs).numpy(), np.linalg.solve(spd, rhs),
                               rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(tf.linalg.eigvalsh(spd).numpy(), np.linalg.eigvalsh(spd), rtol=1e-4)
    np.testing.assert_allclose(float(tf.linalg.trace(a)), np.trace(a), rtol=1e-5)
    np.testing.assert_allclose(tf.linalg.band_part(a, 1, 0).numpy(), np.tril(np.triu(a, -1), 0), rtol=1e-6)
    np.testing.assert_allclose(tf.linalg.lstsq(rng.standard_normal((6, 3)), rng.standard_normal((6, 1))).shape, (3, 1))
    q, r = tf.linalg.qr(a)
    np.testing.assert_allclose(q.numpy() @ r.numpy(), a, atol=1e-4)
    np.testing.assert_allclose(float(tf.linalg.norm(a)), np.linalg.norm(a), rtol=1e-5)
    small = rng.standard_normal((3, 3)) * 0.5
    lam, vec = np.linalg.eig(small)   # exp through the eigen-decomposition: independent of the series
    want = (vec @ np.diag(np.exp(lam)) @ np.linalg.inv(vec)).real
    np.testing.assert_allclose(tf.linalg.expm(small).numpy(), want, rtol=1e-4, atol=1e-5)
    _check_grad(tf.linalg.expm, small)
    np.testing.assert_allclose(tf.linalg.cross([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]).numpy(), [0, 0, 1])


# -- tf.signal ---------------------------------------------------------------------------------------

def _complex(z):
    return np.asarray(z[0], np.float64) + 1j * np.asarray(z[1], np.float64)


def test_signal_fft_family(rng):
    re, im = rng.standard_normal((2, 8)), rng.standard_normal((2, 8))
    z = re + 1j * im
    np.testing.assert_allclose(_complex(tf.signal.fft(tf.complex(re, im))), np.fft.fft(z), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_complex(tf.signal.ifft(tf.complex(re, im))), np.fft.ifft(z), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(_complex(tf.signal.fft(re)), np.fft.fft(re), rtol=1e-4, atol=1e-4)
    half = tf.signal.rfft(re)
    np.testing.assert_allclose(_complex(half), np.fft.rfft(re), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tf.signal.irfft(half).numpy(), re, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(tf.signal.irfft(half, fft_length=[6]).numpy(), np.fft.irfft(np.fft.rfft(re), 6),
                               rtol=1e-4, atol=1e-5)
    m = rng.standard_normal((2, 4, 6)) + 1j * rng.standard_normal((2, 4, 6))
    mp = tf.complex(m.real, m.imag)
    np.testing.assert_allclose(_complex(tf.signal.fft2d(mp)), np.fft.fft2(m), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_complex(tf.signal.ifft2d(mp)), np.fft.ifft2(m), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(_complex(tf.signal.fft3d(mp)), np.fft.fftn(m, axes=(-3, -2, -1)), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(_complex(tf.signal.ifft3d(mp)), np.fft.ifftn(m, axes=(-3, -2, -1)), rtol=1e-4, atol=1e-5)
    r2 = m.real
    np.testing.assert_allclose(_complex(tf.signal.rfft2d(r2)), np.fft.rfft2(r2), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_complex(tf.signal.rfft2d(r2, fft_length=[3, 8])), np.fft.rfft2(r2, s=(3, 8)),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tf.signal.irfft2d(tf.signal.rfft2d(r2), fft_length=[4, 6]).numpy(), r2,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(tf.signal.fftshift(r2, axes=-1).numpy(), np.fft.fftshift(r2, axes=-1))
    np.testing.assert_allclose(tf.signal.ifftshift(r2).numpy(), np.fft.ifftshift(r2))
    frames = rng.standard_normal((2, 3, 4))
    want = np.zeros((2, 8))
    for f in range(3):
        want[:, 2 * f:2 * f + 4] += frames[:, f]
    np.testing.assert_allclose(tf.signal.overlap_and_add(frames, 2).numpy(), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="tf.signal.irfft: input_tensor must be complex"):
        tf.signal.irfft(re)


def test_signal_gradients(rng):
    x = rng.standard_normal((2, 6))
    y = rng.standard_normal((2, 6))
    _check_grad(lambda a, b: tf.signal.fft(tf.complex(a, b)), x, y)
    _check_grad(lambda a: tf.signal.rfft(a), x)
    _check_grad(lambda a: tf.signal.irfft(tf.complex(a[:, :4], a[:, 2:])), x)
    _check_grad(lambda a: tf.signal.rfft2d(a), rng.standard_normal((3, 4)))
    _check_grad(lambda a, b: tf.signal.fft2d(tf.complex(a, b)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4)))
    _check_grad(lambda a: tf.signal.overlap_and_add(a, 2), rng.standard_normal((3, 4)))
    _check_grad(lambda a: tf.signal.fftshift(a), x)


def test_signal_mel_dct_mfcc(rng):
    x = rng.standard_normal((3, 8))
    n = 8
    dct2 = np.array([[2 * sum(r[i] * np.cos(np.pi * k * (2 * i + 1) / (2 * n)) for i in range(n)) for k in range(n)]
                     for r in x])
    np.testing.assert_allclose(tf.signal.dct(x).numpy(), dct2, rtol=1e-4, atol=1e-4)
    scale = np.full(n, np.sqrt(1 / (2 * n)))
    scale[0] = np.sqrt(1 / (4 * n))
    np.testing.assert_allclose(tf.signal.dct(x, norm="ortho").numpy(), dct2 * scale, rtol=1e-4, atol=1e-5)
    ortho = tf.signal.dct(x, norm="ortho").numpy()
    np.testing.assert_allclose((ortho ** 2).sum(-1), (x ** 2).sum(-1), rtol=1e-4)   # orthonormal
    # TensorFlow's idct does not scale: idct(dct(x)) is 2N x without norm (its documented rule)
    n2 = 2 * x.shape[-1]
    np.testing.assert_allclose(tf.signal.idct(tf.signal.dct(x)).numpy() / n2, x, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(tf.signal.idct(tf.signal.dct(x, type=3), type=3).numpy() / n2, x, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(tf.signal.idct(ortho, norm="ortho").numpy(), x, rtol=1e-4, atol=1e-5)
    _check_grad(lambda v: tf.signal.dct(v, norm="ortho"), x)
    logmel = rng.standard_normal((2, 5, 8))
    np.testing.assert_allclose(tf.signal.mfccs_from_log_mel_spectrograms(logmel).numpy(),
                               tf.signal.dct(logmel).numpy() / np.sqrt(16.0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="tf.signal.dct: only DCT types 2 and 3"):
        tf.signal.dct(x, type=1)
    # mel filters: triangles on the HTK mel scale, each peaking at 1 at its center frequency
    m = tf.signal.linear_to_mel_weight_matrix(4, 33, 8000, 100.0, 3000.0).numpy()
    assert m.shape == (33, 4) and np.all(m[0] == 0) and m.min() >= 0 and m.max() <= 1
    freqs = np.linspace(0, 4000, 33)
    mel = 1127 * np.log(1 + freqs / 700)
    edges = np.linspace(1127 * np.log(1 + 100 / 700), 1127 * np.log(1 + 3000 / 700), 6)
    for b in range(4):
        want = np.clip(np.minimum((mel - edges[b]) / (edges[b + 1] - edges[b]),
                                  (edges[b + 2] - mel) / (edges[b + 2] - edges[b + 1])), 0, None)
        want[0] = 0.0
        np.testing.assert_allclose(m[:, b], want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="linear_to_mel_weight_matrix"):
        tf.signal.linear_to_mel_weight_matrix(4, 33, 8000, 100.0, 5000.0)
