"""Ops on float64 and float16 tensors (python/corenn/_ops_wide.py): Keras 3's result dtypes, and
float64 arithmetic with float64 gradients, checked against NumPy in float64 and by central finite
differences at float64 precision (which float32 arithmetic cannot pass). Keras' own values and
dtypes for these ops are in tests/interop/test_keras_parity.py (WIDE_FLOAT_VALUES)."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras
from corenn.keras import ops

RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((3, 4))
P = RNG.random((3, 4)) + 0.5          # positive: log, sqrt, power, divide
M = RNG.standard_normal((4, 2))


def _finite_difference(f, arrays, k, eps=1e-6):
    """d sum(f(*arrays) * W) / d arrays[k], W fixed weights, by central differences in float64."""
    w = np.random.default_rng(1).standard_normal(np.shape(f(*arrays)))
    base = [np.array(a, dtype=np.float64) for a in arrays]
    g = np.zeros_like(base[k])
    for i in np.ndindex(base[k].shape):
        hi = [a.copy() for a in base]
        lo = [a.copy() for a in base]
        hi[k][i] += eps
        lo[k][i] -= eps
        g[i] = (np.sum(f(*hi) * w) - np.sum(f(*lo) * w)) / (2 * eps)
    return g, w


CASES = [   # (corenn op on Tensors, the NumPy float64 reference, inputs)
    (lambda a, b: a + b, np.add, (A, B)),
    (lambda a, b: a - b, np.subtract, (A, B)),
    (lambda a, b: a * b, np.multiply, (A, B)),
    (lambda a, b: a / b, np.divide, (A, P)),
    (ops.power, np.power, (P, B)),
    (ops.maximum, np.maximum, (A, B)),
    (ops.minimum, np.minimum, (A, B[:1])),                        # broadcast
    (ops.matmul, np.matmul, (A, M)),
    (ops.matmul, np.matmul, (A, M[:, 0])),                        # a vector
    (ops.exp, np.exp, (A,)),
    (ops.log, np.log, (P,)),
    (ops.sqrt, np.sqrt, (P,)),
    (ops.square, np.square, (A,)),
    (ops.abs, np.abs, (A,)),
    (ops.reciprocal, lambda a: 1.0 / a, (P,)),
    (ops.sin, np.sin, (A,)),
    (ops.cos, np.cos, (A,)),
    (ops.log1p, np.log1p, (P,)),                                  # a NumPy-rule op (ops._unary_np)
    (ops.arctan2, np.arctan2, (A, B)),                             # a NumPy-rule binary op
    (ops.sigmoid, lambda a: 1.0 / (1.0 + np.exp(-a)), (A,)),
    (ops.tanh, np.tanh, (A,)),
    (ops.relu, lambda a: np.maximum(a, 0.0), (A,)),
    (ops.softplus, lambda a: np.log1p(np.exp(a)), (A,)),
    (ops.silu, lambda a: a / (1.0 + np.exp(-a)), (A,)),
    (lambda a: ops.softmax(a, axis=-1), lambda a: np.exp(a) / np.exp(a).sum(-1, keepdims=True), (A,)),
    (lambda a: ops.log_softmax(a, axis=0), lambda a: a - np.log(np.exp(a).sum(0, keepdims=True)), (A,)),
    (lambda a: ops.sum(a, axis=1), lambda a: a.sum(1), (A,)),
    (lambda a: ops.mean(a, axis=0, keepdims=True), lambda a: a.mean(0, keepdims=True), (A,)),
    (lambda a: ops.max(a, axis=1), lambda a: a.max(1), (A,)),
    (ops.min, np.min, (A,)),
    (ops.var, np.var, (A,)),
]
IDS = [f"case{k}" for k in range(len(CASES))]


def _check_float64(op, ref, inputs, value_rtol, grad_rtol):
    """op on float64 Variables: a float64 result equal to NumPy's float64 ``ref`` (value_rtol None:
    exactly), and float64 gradients within grad_rtol of float64 finite differences."""
    xs = [tf.Variable(a, dtype=tf.float64) for a in inputs]
    with tf.GradientTape() as tape:
        y = op(*xs)
        weights = _finite_difference(ref, inputs, 0)[1]
        total = tf.reduce_sum(y * tf.constant(weights, dtype=tf.float64))
    assert y.dtype == "float64"
    if value_rtol is None:
        np.testing.assert_array_equal(np.asarray(y), ref(*inputs))
    else:
        np.testing.assert_allclose(np.asarray(y), ref(*inputs), rtol=value_rtol, atol=value_rtol / 100)
    for k, g in enumerate(tape.gradient(total, xs)):
        assert g.dtype == "float64"
        want, _ = _finite_difference(ref, inputs, k)
        np.testing.assert_allclose(np.asarray(g), want, rtol=grad_rtol, atol=grad_rtol / 10)


@pytest.mark.parametrize("op, ref, inputs", CASES, ids=IDS)
def test_float64_tensors_compute_and_differentiate_in_float64(op, ref, inputs):
    _check_float64(op, ref, inputs, 1e-13, 1e-8)   # beyond float32 arithmetic on both


def test_float32_operands_promote_and_get_float32_gradients():
    w = tf.Variable(A.astype(np.float32))                      # a float32 weight
    x64 = tf.constant(B, dtype=tf.float64)
    with tf.GradientTape() as tape:
        y = w * x64 + tf.reduce_sum(w * w)                       # float64 path and float32 path meet in w
        total = tf.reduce_sum(y)
    assert y.dtype == "float64"
    g = tape.gradient(total, w)
    assert g.dtype == "float32"
    np.testing.assert_allclose(np.asarray(g), B + 2 * B.size * A.astype(np.float32), rtol=1e-5)


def test_float64_keeps_what_float32_loses():
    x = tf.constant([1e8, 1.0, -1e8, 1e-3], dtype=tf.float64)
    assert float(tf.reduce_sum(x)) == 1.001                     # float32: 0.0 or 1.0
    big = 1e4 + RNG.standard_normal(1000) * 1e-3                # variance of data far from 0
    v = float(tf.math.reduce_variance(tf.constant(big, dtype=tf.float64)))
    np.testing.assert_allclose(v, np.var(big), rtol=1e-9)
    t = tf.constant(np.full(3, 0.1), dtype=tf.float64)
    assert np.asarray((t + 1e-12) - t)[0] != 0.0


def test_float16_results_are_rounded_once_per_op():
    h = tf.cast(A, tf.float16)
    k = tf.cast(B, tf.float16)
    for got, want32 in ((h + k, A.astype(np.float16).astype(np.float32) + B.astype(np.float16).astype(np.float32)),
                        (h * 2.5, A.astype(np.float16).astype(np.float32) * 2.5),
                        (ops.exp(h), np.exp(A.astype(np.float16).astype(np.float32))),
                        (ops.sum(h, axis=0), A.astype(np.float16).astype(np.float32).sum(0))):
        assert got.dtype == "float16"
        np.testing.assert_array_equal(np.asarray(got), want32.astype(np.float16))
    assert (h + tf.constant(B.astype(np.float32))).dtype == "float32"   # float16 meets float32
    assert (h + tf.constant([1, 2, 3, 4])).dtype == "float16"           # and an integer tensor
    v = tf.Variable(A.astype(np.float32))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(tf.cast(v, tf.float16) * 3.0)
    g = tape.gradient(total, v)
    assert g.dtype == "float32"
    np.testing.assert_allclose(np.asarray(g), np.full(A.shape, 3.0))


def test_ops_without_a_float64_form_still_say_float32():
    # a float32 result means float32 arithmetic: attention's kernel has no float64 form here
    q = tf.constant(RNG.standard_normal((1, 3, 2, 4)), dtype=tf.float64)
    assert ops.dot_product_attention(q, q, q).dtype == "float32"
    layer = keras.layers.Dense(2)
    assert layer(tf.constant(A, dtype=tf.float64)).dtype == "float32"


def test_numpy_float64_data_stays_float32_data():
    # NumPy float arrays are float32 data to corenn (as its layers take them): no promotion
    assert ops.add(A, B).dtype == "float32"
    assert (tf.constant(A.astype(np.float32)) * B).dtype == "float32"


MOVES = [   # ops that only move, repeat or drop entries: (corenn op, NumPy reference, inputs)
    (lambda a: ops.reshape(a, (2, 6)), lambda a: a.reshape(2, 6), (A,)),
    (ops.transpose, np.transpose, (A,)),
    (lambda a: ops.expand_dims(a, 1), lambda a: a[:, None], (A,)),
    (lambda a: ops.squeeze(a[:1]), lambda a: a[0], (A,)),
    (lambda a, b: ops.concatenate([a, b], axis=1), lambda a, b: np.concatenate([a, b], 1), (A, B)),
    (lambda a, b: ops.stack([a, b], axis=-1), lambda a, b: np.stack([a, b], -1), (A, B)),
    (lambda a: ops.tile(a, (2, 1)), lambda a: np.tile(a, (2, 1)), (A,)),
    (lambda a: ops.take(a, np.array([2, 0, 2]), axis=1), lambda a: a[:, [2, 0, 2]], (A,)),
    (lambda a: ops.flip(a, axis=0), lambda a: a[::-1], (A,)),
    (lambda a: ops.broadcast_to(a[:1], (3, 4)), lambda a: np.broadcast_to(a[:1], (3, 4)), (A,)),
    (lambda a: a[1:, ::2], lambda a: a[1:, ::2], (A,)),
    (lambda a: ops.split(a, 2, axis=1)[1], lambda a: a[:, 2:], (A,)),
]


@pytest.mark.parametrize("op, ref, inputs", MOVES, ids=[f"move{k}" for k in range(len(MOVES))])
def test_moving_float64_entries_keeps_dtype_values_and_gradients(op, ref, inputs):
    _check_float64(op, ref, inputs, None, 1e-8)   # exact: entries only move


def test_moves_promote_mixed_operands_and_keep_float16():
    w = tf.Variable(A.astype(np.float32))
    with tf.GradientTape() as tape:
        y = ops.concatenate([w, tf.constant(B, dtype=tf.float64)], axis=0)
        total = tf.reduce_sum(y[:3] * 2.0)
    assert y.dtype == "float64"
    np.testing.assert_array_equal(np.asarray(y)[3:], B)
    g = tape.gradient(total, w)
    assert g.dtype == "float32" and np.all(np.asarray(g) == 2.0)
    h = tf.cast(A, tf.float16)
    assert ops.reshape(h, (-1,)).dtype == "float16" and ops.transpose(h).dtype == "float16"
    assert ops.zeros_like(tf.constant(A, dtype=tf.float64)).dtype == "float64"
    assert ops.ones_like(h).dtype == "float16"


SPD = A.T @ A + 4.0 * np.eye(4)        # symmetric positive definite
NUMPY_RULE_OPS = [   # ops whose float path is NumPy formulas (ops._numpy_float64)
    (ops.inv, np.linalg.inv, (SPD,)),
    (ops.det, np.linalg.det, (SPD,)),
    (ops.solve, np.linalg.solve, (SPD, M)),
    (ops.cholesky, lambda a: np.linalg.cholesky((a + a.T) / 2), (SPD,)),   # the symmetrized gradient
    (lambda a: ops.cumsum(a, axis=1), lambda a: np.cumsum(a, 1), (A,)),
    (lambda a: ops.prod(a, axis=0), lambda a: np.prod(a, 0), (A,)),
    (lambda a, b: ops.einsum("ij,kj->ik", a, b), lambda a, b: np.einsum("ij,kj->ik", a, b), (A, B)),
    (lambda a: ops.logsumexp(a, axis=1), lambda a: np.log(np.exp(a).sum(1)), (A,)),
    (lambda a, b: ops.where(a > 0, a, b), lambda a, b: np.where(a > 0, a, b), (A, B)),
    (lambda a: ops.pad(a, [[1, 0], [0, 2]]), lambda a: np.pad(a, [[1, 0], [0, 2]]), (A,)),
]


@pytest.mark.parametrize("op, ref, inputs", NUMPY_RULE_OPS, ids=[f"np{k}" for k in range(len(NUMPY_RULE_OPS))])
def test_numpy_formula_ops_run_in_float64_on_float64_tensors(op, ref, inputs):
    _check_float64(op, ref, inputs, 1e-12, 1e-7)


def test_a_float32_operand_of_a_float64_solve_gets_a_float32_gradient():
    a = tf.constant(SPD, dtype=tf.float64)
    b = tf.Variable(M.astype(np.float32))
    with tf.GradientTape() as tape:
        x = tf.linalg.solve(a, b)
        total = tf.reduce_sum(x)
    assert x.dtype == "float64"
    g = tape.gradient(total, b)
    assert g.dtype == "float32"
    np.testing.assert_allclose(np.asarray(g), np.linalg.solve(SPD.T, np.ones_like(M)), rtol=1e-6)
    # float32 in, float32 out: the mode is only for float64 operands
    assert tf.linalg.solve(tf.constant(SPD.astype(np.float32)), b).dtype == "float32"
    assert ops.cumsum(tf.cast(A, tf.float16), axis=0).dtype == "float16"


MORE_NUMPY_RULE_OPS = [   # the rest of the ops whose float path is NumPy formulas (no C++ kernel)
    (ops.fmax, np.fmax, (A, B)),
    (ops.fmin, np.fmin, (A, B)),
    (ops.mod, np.mod, (A, P)),
    (ops.fmod, np.fmod, (A, P)),
    (ops.rad2deg, np.rad2deg, (A,)),
    (lambda a: ops.nanmean(a, axis=1), lambda a: np.nanmean(a, 1), (A,)),
    (lambda a: ops.nanvar(a, axis=0), lambda a: np.nanvar(a, 0), (A,)),
    (lambda a: ops.nanstd(a), np.nanstd, (A,)),
    (lambda a: ops.nansum(a, axis=1), lambda a: np.nansum(a, 1), (A,)),
    (lambda a: ops.nanmax(a, axis=0), lambda a: np.nanmax(a, 0), (A,)),
    (lambda a: ops.nanmin(a, axis=1), lambda a: np.nanmin(a, 1), (A,)),
    (lambda a: ops.nanprod(a, axis=0), lambda a: np.nanprod(a, 0), (A,)),
    (lambda a: ops.nancumsum(a, axis=1), lambda a: np.nancumsum(a, 1), (A,)),
    (lambda a: ops.nancumprod(a, axis=1), lambda a: np.nancumprod(a, 1), (A,)),
    (lambda a: ops.nanmedian(a, axis=1), lambda a: np.nanmedian(a, 1), (A,)),
    (ops.pinv, np.linalg.pinv, (A,)),
    (lambda a, b: ops.lstsq(a, b), lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0], (SPD, M)),
    (lambda a, b: ops.solve_triangular(a, b, lower=True), lambda a, b: np.linalg.solve(np.tril(a), b), (SPD, M)),
    (lambda a: ops.cholesky_inverse(a), lambda a: np.linalg.inv(np.tril(a) @ np.tril(a).T),
     (np.linalg.cholesky(SPD),)),
    (ops.cdist, lambda a, b: np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)), (A, B)),
    (ops.corrcoef, np.corrcoef, (A,)),
    (lambda a, b: ops.correlate(a[0], b[0, :3], mode="full"), lambda a, b: np.correlate(a[0], b[0, :3], "full"), (A, B)),
    (lambda a: ops.trapezoid(a, axis=1), lambda a: np.trapezoid(a, axis=1), (A,)),
    (lambda a: ops.vander(a[0], 3), lambda a: np.vander(a[0], 3), (A,)),
    (lambda a, b: ops.select([a > 0, a < -1], [a, b], 0.0), lambda a, b: np.select([a > 0, a < -1], [a, b], 0.0), (A, B)),
    (lambda a: ops.normalize(a, axis=-1), lambda a: a / np.sqrt((a * a).sum(-1, keepdims=True)), (A,)),
    (lambda a: ops.layer_normalization(a, epsilon=1e-3),
     lambda a: (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + 1e-3), (A,)),
    (lambda a: ops.rms_normalization(a, epsilon=1e-3), lambda a: a / np.sqrt((a * a).mean(-1, keepdims=True) + 1e-3),
     (A,)),
    (lambda a, m, v: ops.batch_normalization(a, m, v, axis=1, epsilon=1e-3),
     lambda a, m, v: (a - m) / np.sqrt(v + 1e-3), (A, B[0], P[0])),
    (lambda a, b: ops.categorical_crossentropy(ops.softmax(b), ops.softmax(a)),
     lambda a, b: -(np.exp(b) / np.exp(b).sum(-1, keepdims=True)
                    * np.log(np.exp(a) / np.exp(a).sum(-1, keepdims=True))).sum(-1), (A, B)),
    (lambda a: ops.sparse_categorical_crossentropy(np.array([0, 1, 3]), a, from_logits=True),
     lambda a: -(a - np.log(np.exp(a).sum(-1, keepdims=True)))[[0, 1, 2], [0, 1, 3]], (A,)),
    (lambda a: ops.top_k(a, 2)[0], lambda a: -np.sort(-a, axis=-1)[:, :2], (A,)),
    (lambda a, b: ops.multiply(*ops.meshgrid(a[0], b[0])), lambda a, b: np.multiply(*np.meshgrid(a[0], b[0])), (A, B)),
    (lambda a: ops.real(a) * ops.conj(a), lambda a: a * a, (A,)),
]


@pytest.mark.parametrize("op, ref, inputs", MORE_NUMPY_RULE_OPS,
                         ids=[f"np_more{k}" for k in range(len(MORE_NUMPY_RULE_OPS))])
def test_more_numpy_formula_ops_run_in_float64_on_float64_tensors(op, ref, inputs):
    test_numpy_formula_ops_run_in_float64_on_float64_tensors(op, ref, inputs)


def test_float64_ops_without_a_gradient_keep_float64_values():
    x = tf.constant(A * 3.0, dtype=tf.float64)
    p = tf.constant(P, dtype=tf.float64)
    x3 = A * 3.0
    for got, want in ((ops.floor(x), np.floor(x3)), (ops.ceil(x), np.ceil(x3)), (ops.trunc(x), np.trunc(x3)),
                      (ops.round(x, 2), np.round(x3, 2)), (ops.floor_divide(x, p), np.floor_divide(x3, P)),
                      (ops.heaviside(x, p), np.heaviside(x3, P)), (ops.nextafter(x, p), np.nextafter(x3, P)),
                      (ops.full_like(x, 0.1), np.full(A.shape, 0.1)), (ops.imag(x), np.zeros(A.shape)),
                      (ops.scatter([[0, 0], [1, 2]], tf.constant([0.1, 0.2], dtype=tf.float64), (2, 3)),
                       np.array([[0.1, 0, 0], [0, 0, 0.2]])),
                      (ops.unique(tf.constant([0.1, 0.3, 0.1], dtype=tf.float64)), np.array([0.1, 0.3])),
                      (ops.extract_sequences(x[0], 2, 1), np.lib.stride_tricks.sliding_window_view(x3[0], 2)),
                      (ops.lu_factor(tf.constant(SPD, dtype=tf.float64))[0], None)):
        assert got.dtype == "float64"
        if want is not None:
            np.testing.assert_array_equal(np.asarray(got), want)   # exact: float64 arithmetic as NumPy's
    lu, piv = (np.asarray(t) for t in ops.lu_factor(tf.constant(SPD, dtype=tf.float64)))
    L, U = np.tril(lu, -1) + np.eye(4), np.triu(lu)
    perm = np.arange(4)
    for i, j in enumerate(piv):      # LAPACK's row swaps, in order
        perm[[i, j]] = perm[[j, i]]
    np.testing.assert_allclose(L @ U, SPD[perm], rtol=1e-13)
    assert ops.floor(tf.cast(A, tf.float16)).dtype == "float16"
    assert ops.nanmean(tf.constant(A.astype(np.float32))).dtype == "float32"


MORE_MOVES = [
    (ops.copy, np.copy, (A,)),
    (lambda a: ops.get_item(a, 1), lambda a: a[1], (A,)),
    (lambda a: ops.slice(a, (1, 1), (2, 2)), lambda a: a[1:3, 1:3], (A,)),
    (lambda a: ops.unstack(a, axis=1)[2], lambda a: a[:, 2], (A,)),
    (ops.rot90, np.rot90, (A,)),
    (lambda a: ops.array_split(a, 3, axis=1)[0], lambda a: np.array_split(a, 3, axis=1)[0], (A,)),
    (lambda a: ops.hsplit(a, 2)[1], lambda a: np.hsplit(a, 2)[1], (A,)),
    (ops.fliplr, np.fliplr, (A,)),
    (ops.flipud, np.flipud, (A,)),
    (lambda a: ops.dsplit(ops.reshape(a, (1, 3, 4)), 2)[1], lambda a: np.dsplit(a.reshape(1, 3, 4), 2)[1], (A,)),
    (lambda a: ops.rearrange(a, "a b -> b a"), np.transpose, (A,)),
]


@pytest.mark.parametrize("op, ref, inputs", MORE_MOVES, ids=[f"move_more{k}" for k in range(len(MORE_MOVES))])
def test_more_moving_ops_keep_float64(op, ref, inputs):
    test_moving_float64_entries_keeps_dtype_values_and_gradients(op, ref, inputs)


ENTRY_OPS = [   # ops that build their result from x's entries (and zeros / replacements)
    (lambda a: ops.nan_to_num(ops.where(a > 0, a, np.nan)), lambda a: np.where(a > 0, a, 0.0), (A,)),  # NaN -> 0
    (lambda a: ops.diag(a[0]), lambda a: np.diag(a[0]), (A,)),
    (lambda a: ops.diag(a, 1), lambda a: np.diag(a, 1), (A,)),
    (ops.diagflat, np.diagflat, (A,)),
    (lambda a, b: ops.dstack([a, b]), lambda a, b: np.dstack([a, b]), (A, B)),
    (lambda a, b: ops.slice_update(a, (1, 1), b[:2, :2]),
     lambda a, b: np.concatenate([a[:1], np.concatenate([a[1:, :1], b[:2, :2], a[1:, 3:]], 1)]), (A, B)),
    (lambda a, b: ops.scatter_update(a, [[0, 0], [1, 2]], b[0, :2]),
     lambda a, b: np.where(np.isin(np.arange(12).reshape(3, 4), [0, 6]),
                           np.array([[b[0, 0], 0, 0, 0], [0, 0, b[0, 1], 0], [0, 0, 0, 0]]), a), (A, B)),
]


@pytest.mark.parametrize("op, ref, inputs", ENTRY_OPS, ids=[f"entry{k}" for k in range(len(ENTRY_OPS))])
def test_entry_building_ops_keep_float64(op, ref, inputs):
    test_numpy_formula_ops_run_in_float64_on_float64_tensors(op, ref, inputs)


def test_sign_bincount_stop_gradient_and_constructors_keep_float64():
    x = tf.Variable(A, dtype=tf.float64)
    assert ops.sign(x).dtype == "float64" and np.array_equal(np.asarray(ops.sign(x)), np.sign(A))
    w = tf.constant([0.1, 1e-9, 0.3, 1e8], dtype=tf.float64)
    counts = ops.bincount(np.array([0, 0, 2, 0]), weights=w)
    assert counts.dtype == "float64"
    np.testing.assert_array_equal(np.asarray(counts), [0.1 + 1e-9 + 1e8, 0.0, 0.3])   # float32 loses 0.1 + 1e-9
    with tf.GradientTape() as tape:
        y = ops.stop_gradient(x)
        total = tf.reduce_sum(y * x)
    assert y.dtype == "float64" and np.array_equal(np.asarray(y), A)
    np.testing.assert_array_equal(np.asarray(tape.gradient(total, x)), A)         # no gradient through y
    for got, want in ((ops.linspace(0.0, 1.0, 7, dtype="float64"), np.linspace(0.0, 1.0, 7)),
                      (ops.logspace(0.0, 2.0, 5, dtype="float64"), np.logspace(0.0, 2.0, 5)),
                      (ops.geomspace(1.0, 7.0, 5, dtype="float64"), np.geomspace(1.0, 7.0, 5)),
                      (ops.tri(3, 4, 1, dtype="float64"), np.tri(3, 4, 1))):
        assert got.dtype == "float64"
        np.testing.assert_array_equal(np.asarray(got), want)
    assert ops.linspace(0.0, 1.0, 3, dtype="float16").dtype == "float16"
    assert ops.linspace(0.0, 1.0, 3).dtype == "float32" and ops.tri(2).dtype == "float32"
    assert ops.tri(2, dtype="int32").dtype == "int32"


_SELU_A, _SELU_S = 1.6732632423543772, 1.0507009873554805
_ERF = np.vectorize(__import__("math").erf)
W = A * 3.0            # spans every kink region of the piecewise activations (|x| up to ~6)
ACTIVATION_OPS = [   # the activations' float64 forms (_ops_wide.ALPHA_ACTIVATIONS), NumPy references
    (ops.relu6, lambda a: np.clip(a, 0.0, 6.0), (W,)),
    (lambda a: ops.leaky_relu(a, 0.3), lambda a: np.where(a > 0, a, 0.3 * a), (W,)),
    (lambda a: ops.elu(a, 0.7), lambda a: np.where(a > 0, a, 0.7 * np.expm1(np.minimum(a, 0))), (W,)),
    (ops.selu, lambda a: _SELU_S * np.where(a > 0, a, _SELU_A * np.expm1(np.minimum(a, 0))), (W,)),
    (lambda a: ops.celu(a, 2.0), lambda a: np.where(a > 0, a, 2.0 * np.expm1(np.minimum(a, 0) / 2.0)), (W,)),
    (lambda a: ops.gelu(a, approximate=False), lambda a: a * (1 + _ERF(a / np.sqrt(2.0))) / 2, (W,)),
    (ops.hard_sigmoid, lambda a: np.clip(a + 3, 0, 6) / 6, (W,)),
    (ops.hard_silu, lambda a: a * np.clip(a + 3, 0, 6) / 6, (W,)),
    (ops.mish, lambda a: a * np.tanh(np.log1p(np.exp(a))), (W,)),
    (ops.hard_tanh, lambda a: np.clip(a, -1, 1), (W,)),
    (ops.tanh_shrink, lambda a: a - np.tanh(a), (W,)),
    (lambda a: ops.soft_shrink(a, 0.4), lambda a: np.where(np.abs(a) > 0.4, a - 0.4 * np.sign(a), 0.0), (W,)),
    (lambda a: ops.hard_shrink(a, 0.4), lambda a: np.where(np.abs(a) > 0.4, a, 0.0), (W,)),
    (lambda a: ops.squareplus(a, 3), lambda a: (a + np.sqrt(a * a + 3)) / 2, (W,)),
    (ops.sparse_plus, lambda a: np.where(a <= -1, 0.0, np.where(a >= 1, a, (a + 1) ** 2 / 4)), (W,)),
    (ops.glu, lambda a: a[:, :2] / (1 + np.exp(-a[:, 2:])), (W,)),
]


@pytest.mark.parametrize("op, ref, inputs", ACTIVATION_OPS, ids=[f"act{k}" for k in range(len(ACTIVATION_OPS))])
def test_activations_with_a_float64_form(op, ref, inputs):
    test_float64_tensors_compute_and_differentiate_in_float64(op, ref, inputs)


def _complex_ref(fn, *parts):
    z = fn(parts[0] + 1j * parts[1]) if len(parts) == 2 else fn(parts[0])
    return np.concatenate([z.real, z.imag], axis=-1)


def _sparsemax(a):
    z = -np.sort(-a, axis=-1)
    cums = np.cumsum(z, axis=-1)
    k = np.sum(1 + np.arange(1, a.shape[-1] + 1) * z > cums, axis=-1, keepdims=True)
    return np.maximum(a - (np.take_along_axis(cums, k - 1, axis=-1) - 1) / k, 0.0)


SPECTRAL_OPS = [   # FFTs (real and imaginary parts side by side), stft, fabs, nanquantile
    (lambda a, b: ops.concatenate(ops.fft((a, b)), axis=-1), lambda a, b: _complex_ref(np.fft.fft, a, b), (A, B)),
    (lambda a, b: ops.concatenate(ops.ifft2((a, b)), axis=-1), lambda a, b: _complex_ref(np.fft.ifft2, a, b), (A, B)),
    (lambda a: ops.concatenate(ops.rfft(a), axis=-1), lambda a: _complex_ref(np.fft.rfft, a), (A,)),
    (lambda a, b: ops.irfft((a, b)), lambda a, b: np.fft.irfft(a + 1j * b), (A, B)),
    (lambda a: ops.concatenate(ops.stft(ops.reshape(a, (-1,)), 4, 2, 4, window=None, center=False), axis=-1),
     lambda a: _complex_ref(np.fft.rfft, np.lib.stride_tricks.sliding_window_view(a.reshape(-1), 4)[::2]), (A,)),
    (ops.fabs, np.fabs, (A,)),
    (lambda a: ops.sparsemax(a * 0.3), lambda a: _sparsemax(a * 0.3), (A,)),
    (lambda a: ops.nanquantile(a, 0.3, axis=1), lambda a: np.nanquantile(a, 0.3, axis=1), (A,)),
]


@pytest.mark.parametrize("op, ref, inputs", SPECTRAL_OPS, ids=[f"spectral{k}" for k in range(len(SPECTRAL_OPS))])
def test_spectral_ops_run_in_float64(op, ref, inputs):
    test_numpy_formula_ops_run_in_float64_on_float64_tensors(op, ref, inputs)


def test_stft_then_istft_gives_the_float64_signal_back():
    x = RNG.standard_normal(64)
    y = ops.istft(ops.stft(tf.constant(x, dtype=tf.float64), 16, 4, 16), 16, 4, 16, length=64)
    assert y.dtype == "float64"
    np.testing.assert_allclose(np.asarray(y), x, rtol=1e-12, atol=1e-13)


IDS3 = np.array([0, 0, 2])          # segment 1 is empty
_LOG1PEXP = lambda z: np.log1p(np.exp(-np.abs(z)))  # noqa: E731


def _segment(fn, a, fill):
    return np.stack([fn(a[IDS3 == s], axis=0) if np.any(IDS3 == s) else np.full(a.shape[1:], fill) for s in range(3)])


TF_OPS = [   # TensorFlow-named ops over float64 tensors (tf.math, tf.nn, tf.linalg and the top level)
    (lambda a: tf.math.unsorted_segment_sum(a, IDS3, 3), lambda a: _segment(np.sum, a, 0.0), (A,)),
    (lambda a: tf.math.unsorted_segment_mean(a, IDS3, 3), lambda a: _segment(np.mean, a, 0.0), (A,)),
    (lambda a: tf.math.unsorted_segment_sqrt_n(a, IDS3, 3),
     lambda a: _segment(np.sum, a, 0.0) / np.sqrt(np.maximum(np.bincount(IDS3, minlength=3), 1))[:, None], (A,)),
    (lambda a: tf.math.unsorted_segment_max(a, IDS3, 3)[::2], lambda a: _segment(np.max, a, 0.0)[::2], (A,)),
    (lambda a: tf.math.unsorted_segment_min(a, IDS3, 3)[::2], lambda a: _segment(np.min, a, 0.0)[::2], (A,)),
    (lambda a: tf.math.unsorted_segment_prod(a, IDS3, 3), lambda a: _segment(np.prod, a, 1.0), (A,)),
    (lambda a: tf.math.segment_prod(a, IDS3), lambda a: _segment(np.prod, a, 1.0), (A,)),
    (lambda a: tf.math.segment_mean(a, IDS3), lambda a: _segment(np.mean, a, 0.0), (A,)),
    (lambda a: tf.gather_nd(a, [[0, 1], [2, 3], [0, 1]]), lambda a: a[[0, 2, 0], [1, 3, 1]], (A,)),
    (lambda a: tf.boolean_mask(a, A > 0), lambda a: a[A > 0], (A,)),
    (lambda a: tf.math.reduce_euclidean_norm(a, axis=1), lambda a: np.sqrt((a * a).sum(1)), (A,)),
    (lambda a: tf.linalg.tensor_diag_part(a), np.diag, (SPD,)),
    (tf.linalg.sqrtm, lambda a: _sqrtm_ref(a), (SPD,)),
    (lambda a: tf.math.ndtri(a), lambda a: np.sqrt(2.0) * _erfinv_ref(2 * a - 1), (RNG.random((2, 3)) * 0.8 + 0.1,)),
    (lambda z, y: tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z),
     lambda z, y: np.maximum(z, 0) - z * y + _LOG1PEXP(z), (A, P - 0.5)),
    (lambda z, y: tf.nn.weighted_cross_entropy_with_logits(y, z, 2.0),
     lambda z, y: (1 - y) * z + (1 + y) * (_LOG1PEXP(z) + np.maximum(-z, 0)), (A, P - 0.5)),
    (lambda z, y: tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=z),
     lambda z, y: -(y * (z - np.log(np.exp(z).sum(-1, keepdims=True)))).sum(-1), (A, P)),
    (lambda c, t: tf.nn.log_poisson_loss(t, c, compute_full_loss=True),
     lambda c, t: np.exp(c) - t * c + np.where(t > 1, t * np.log(t) - t + 0.5 * np.log(2 * np.pi * t), 0.0), (A, P * 2)),
]


def _sqrtm_ref(a):
    y, z = a.copy(), np.eye(len(a))          # Denman-Beavers, no symmetrization
    for _ in range(40):
        y, z = (y + np.linalg.inv(z)) / 2, (z + np.linalg.inv(y)) / 2
    return y


def _erfinv_ref(y):
    # Newton on math.erf from a rough start: erfinv to float64 precision
    erf = np.vectorize(__import__("math").erf)
    x = np.zeros_like(y)
    for _ in range(60):
        x = x - (erf(x) - y) * np.sqrt(np.pi) / 2 * np.exp(x * x)
    return x


@pytest.mark.parametrize("op, ref, inputs", TF_OPS, ids=[f"tf{k}" for k in range(len(TF_OPS))])
def test_tensorflow_ops_run_in_float64(op, ref, inputs):
    test_numpy_formula_ops_run_in_float64_on_float64_tensors(op, ref, inputs)


def test_tensorflow_constructors_and_data_ops_keep_float64():
    x = tf.constant(A, dtype=tf.float64)
    f = tf.fill([2], tf.constant(0.1, dtype=tf.float64))
    assert f.dtype == "float64" and np.asarray(f)[0] == 0.1
    lin = tf.linspace(tf.constant(0.0, dtype=tf.float64), tf.constant(1.0, dtype=tf.float64), 7)
    assert lin.dtype == "float64"
    np.testing.assert_array_equal(np.asarray(lin), np.linspace(0.0, 1.0, 7))
    assert tf.linspace(0.0, 1.0, 3).dtype == "float32"
    for shuffled in (tf.random.shuffle(x, seed=3), keras.random.shuffle(x, seed=3)):
        assert shuffled.dtype == "float64"
        np.testing.assert_array_equal(np.sort(np.asarray(shuffled), axis=0), np.sort(A, axis=0))
    counts = tf.math.bincount(tf.constant([0, 0, 2]), weights=tf.constant([0.1, 1e-9, 0.3], dtype=tf.float64))
    assert counts.dtype == "float64"
    np.testing.assert_array_equal(np.asarray(counts), [0.1 + 1e-9, 0.0, 0.3])
    y = tf.math.betainc(tf.constant(2.0, dtype=tf.float64), tf.constant(3.0, dtype=tf.float64),
                        tf.constant(0.4, dtype=tf.float64))
    assert y.dtype == "float64"
    x4 = 0.4
    np.testing.assert_allclose(float(y), 12 * (x4 ** 2 / 2 - 2 * x4 ** 3 / 3 + x4 ** 4 / 4), rtol=1e-12)  # B(2, 3) = 1/12
    # an empty segment's max / min is float64's lowest / highest (TensorFlow's)
    seg = np.asarray(tf.math.unsorted_segment_max(x, IDS3, 3))
    assert seg[1, 0] == np.finfo(np.float64).min
    seg = np.asarray(tf.math.unsorted_segment_min(x, IDS3, 3))
    assert seg[1, 0] == np.finfo(np.float64).max


def test_image_adjustments_keep_float64_digits():
    img = RNG.random((1, 3, 4, 3))
    x = tf.constant(img, dtype=tf.float64)
    mean = img.mean(axis=(1, 2), keepdims=True)
    for got, want in ((tf.image.adjust_brightness(x, 0.1), img + 0.1),
                      (tf.image.adjust_contrast(x, 1.3), (img - mean) * 1.3 + mean),
                      (tf.image.adjust_gamma(x, 1.7, 0.9), 0.9 * img ** 1.7)):
        assert got.dtype == "float64"
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-13)   # no float32-rounded constants
    assert tf.image.adjust_brightness(tf.constant(img.astype(np.float32)), 0.1).dtype == "float32"


def test_hstack_and_ldexp_keep_float64():
    x, y = tf.Variable(A, dtype=tf.float64), tf.constant(B, dtype=tf.float64)
    with tf.GradientTape() as tape:
        h = ops.hstack([x, y])
        total = tf.reduce_sum(h * 3.0)
    assert h.dtype == "float64"
    np.testing.assert_array_equal(np.asarray(h), np.hstack([A, B]))
    assert np.all(np.asarray(tape.gradient(total, x)) == 3.0)
    big = ops.ldexp(x, tf.constant([[200, 1, 2, 3]]))   # 2**200 is beyond float32
    assert big.dtype == "float64"
    np.testing.assert_array_equal(np.asarray(big), np.ldexp(A, np.array([[200, 1, 2, 3]])))


def test_float16_operands_of_float32_kernels_get_float16_results():
    img = tf.cast(RNG.random((1, 4, 4, 2)), tf.float16)
    k = tf.cast(RNG.random((2, 2, 2, 3)), tf.float16)
    want = np.asarray(ops.conv(tf.cast(img, tf.float32), tf.cast(k, tf.float32)))
    got = ops.conv(img, k)
    assert got.dtype == "float16"
    np.testing.assert_array_equal(np.asarray(got), want.astype(np.float16))   # float32 math, rounded once
    assert ops.max_pool(img, 2).dtype == "float16" and ops.average_pool(img, 2).dtype == "float16"
    q = tf.cast(RNG.standard_normal((1, 3, 2, 4)), tf.float16)
    assert ops.dot_product_attention(q, q, q).dtype == "float16"
    assert ops.ldexp(tf.cast(A, tf.float16), tf.constant([[1, 2, 3, 4]])).dtype == "float16"
    t, p = tf.constant([[0.0, 1.0]], dtype=tf.float16), tf.constant([[0.2, 0.7]], dtype=tf.float16)
    assert ops.binary_crossentropy(t, p).dtype == "float16"
    v = tf.Variable(RNG.random((1, 4, 4, 1)).astype(np.float32))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(tf.cast(ops.average_pool(tf.cast(v, tf.float16), 2), tf.float32))
    g = tape.gradient(total, v)
    assert g.dtype == "float32"
    np.testing.assert_allclose(np.asarray(g), np.full((1, 4, 4, 1), 0.25))
    # float64 operands compute in float64 (_ops_wide_conv), attention's still meet a float32 kernel
    assert ops.conv(tf.cast(img, tf.float64), tf.cast(k, tf.float64)).dtype == "float64"
    assert ops.dot_product_attention(*[tf.cast(q, tf.float64)] * 3).dtype == "float32"


def test_image_colour_conversions_and_total_variation_keep_float64():
    img = RNG.random((1, 3, 4, 3))
    x = tf.Variable(img, dtype=tf.float64)
    hsv = tf.image.rgb_to_hsv(x)
    assert hsv.dtype == "float64"
    back = tf.image.hsv_to_rgb(hsv)
    assert back.dtype == "float64"
    np.testing.assert_allclose(np.asarray(back), img, rtol=1e-13, atol=1e-15)   # float32 would be ~1e-7 off
    gray = tf.image.rgb_to_grayscale(x)
    assert gray.dtype == "float64"
    np.testing.assert_allclose(np.asarray(gray), img @ np.array([[0.2989], [0.5870], [0.1140]]), rtol=1e-13)
    with tf.GradientTape() as tape:
        tv = tf.image.total_variation(x)
    assert tv.dtype == "float64"
    want = np.abs(np.diff(img, axis=1)).sum() + np.abs(np.diff(img, axis=2)).sum()
    np.testing.assert_allclose(np.asarray(tv), [want], rtol=1e-13)
    g = np.zeros_like(img)   # d/dx of sum |x[i+1] - x[i]| along both image axes
    for ax in (1, 2):
        s = np.sign(np.diff(img, axis=ax))
        pad_lo = [(0, 0)] * 4
        pad_hi = [(0, 0)] * 4
        pad_lo[ax], pad_hi[ax] = (1, 0), (0, 1)
        g += np.pad(s, pad_lo) - np.pad(s, pad_hi)
    grad = tape.gradient(tv, x)
    assert grad.dtype == "float64"
    np.testing.assert_allclose(np.asarray(grad), g, rtol=1e-12)
    assert tf.image.rgb_to_hsv(img.astype(np.float32)).dtype == "float32"
    assert tf.image.total_variation(tf.constant(img.astype(np.float32))).dtype == "float32"
