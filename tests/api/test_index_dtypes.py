"""Index- and count-valued results have each namespace's dtypes (issue 13, "the Keras surface").

keras.ops gives Keras 3's: int32 indices and counts (argmax, argsort, nonzero, searchsorted,
bincount, count_nonzero ...), as Keras 3.15 does on its TensorFlow and torch backends (checked
with both; where they disagree, top_k's and unique's indices are int32 on TensorFlow and int64 on
torch, and corenn follows TensorFlow). The TensorFlow spellings keep TensorFlow's (tf.argmax
int64, tf.where int64 coordinates, tf.nn.top_k int32 ...), tf.experimental.numpy and the
NumPy-style Tensor methods NumPy's int64. Every value is checked against NumPy."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras
from corenn.keras import ops

tnp = tf.experimental.numpy

RNG = np.random.default_rng(7)
X = RNG.standard_normal((4, 6)).astype(np.float32)
XN = X.copy()
XN[0, 1] = XN[2, 4] = np.nan
IDS = np.array([3, 1, 0, 2, 1, 0, 5], np.int32)
EDGES = np.array([-1.0, 0.0, 0.5, 2.0], np.float32)
VALS = np.array([-2.0, -0.5, 0.0, 0.25, 0.5, 3.0], np.float32)


def _check(got, dtype, want):
    assert isinstance(got, tf.Tensor), type(got)
    assert got.dtype == dtype, f"dtype {got.dtype}, want {dtype}"
    np.testing.assert_array_equal(np.asarray(got), want)


# (call, Keras 3's dtype, NumPy's values)
KERAS_INDEX_CASES = {
    "argmax": (lambda: ops.argmax(X), "int32", np.argmax(X)),
    "argmax axis": (lambda: ops.argmax(X, axis=1), "int32", np.argmax(X, 1)),
    "argmax keepdims": (lambda: ops.argmax(X, axis=0, keepdims=True), "int32", np.argmax(X, 0, keepdims=True)),
    "argmax ints": (lambda: ops.argmax(IDS), "int32", np.argmax(IDS)),
    "argmin": (lambda: ops.argmin(X, axis=0), "int32", np.argmin(X, 0)),
    "argsort": (lambda: ops.argsort(X, axis=-1), "int32", np.argsort(X, -1, kind="stable")),
    "argsort axis None": (lambda: ops.argsort(X, axis=None), "int32", np.argsort(X.reshape(-1), kind="stable")),
    "nanargmax": (lambda: ops.nanargmax(XN, axis=1), "int32", np.nanargmax(XN, 1)),
    "nanargmin": (lambda: ops.nanargmin(XN, axis=1), "int32", np.nanargmin(XN, 1)),
    "top_k indices": (lambda: ops.top_k(X, 3)[1], "int32", np.argsort(-X, -1, kind="stable")[:, :3]),
    "searchsorted": (lambda: ops.searchsorted(EDGES, VALS), "int32", np.searchsorted(EDGES, VALS)),
    "searchsorted right": (lambda: ops.searchsorted(EDGES, VALS, side="right"), "int32",
                           np.searchsorted(EDGES, VALS, side="right")),
    "digitize": (lambda: ops.digitize(VALS, EDGES), "int32", np.digitize(VALS, EDGES)),
    "count_nonzero": (lambda: ops.count_nonzero(X > 0), "int32", np.count_nonzero(X > 0)),
    "count_nonzero axis": (lambda: ops.count_nonzero(X > 0, axis=1), "int32", np.count_nonzero(X > 0, axis=1)),
    "count_nonzero axes": (lambda: ops.count_nonzero(X > 0, axis=(0, 1)), "int32", np.count_nonzero(X > 0)),
    "bincount": (lambda: ops.bincount(IDS), "int32", np.bincount(IDS)),
    "bincount minlength": (lambda: ops.bincount(IDS, minlength=9), "int32", np.bincount(IDS, minlength=9)),
    "bincount int64 x": (lambda: ops.bincount(IDS.astype(np.int64)), "int32", np.bincount(IDS)),
    "bincount list": (lambda: ops.bincount([1, 2, 2]), "int32", [0, 1, 2]),
    "bincount 2-D": (lambda: ops.bincount(IDS[:6].reshape(2, 3)), "int32",
                     np.stack([np.bincount(r, minlength=4) for r in IDS[:6].reshape(2, 3)])),
    # with weights: x's and the weights' dtypes promoted (Keras' TensorFlow backend)
    "bincount int32 weights": (lambda: ops.bincount(IDS, weights=np.arange(7, dtype=np.int32)), "int32",
                               np.bincount(IDS, np.arange(7))),
    "bincount int64 weights": (lambda: ops.bincount(IDS, weights=np.arange(7, dtype=np.int64)), "int64",
                               np.bincount(IDS, np.arange(7))),
    "bincount int64 x, int32 weights": (lambda: ops.bincount(IDS.astype(np.int64), weights=np.arange(7, dtype=np.int32)),
                                        "int64", np.bincount(IDS, np.arange(7))),
    "bincount float weights": (lambda: ops.bincount(IDS, weights=np.linspace(0, 1, 7, dtype=np.float32)), "float32",
                               np.bincount(IDS, np.linspace(0, 1, 7, dtype=np.float32)).astype(np.float32)),
    "histogram counts": (lambda: ops.histogram(VALS, bins=3)[0], "float32", np.histogram(VALS, bins=3)[0]),
    "histogram of ints": (lambda: ops.histogram(IDS, bins=3)[0], "int32", np.histogram(IDS, bins=3)[0]),
    "unique inverse": (lambda: ops.unique(IDS, return_inverse=True)[1], "int32", np.unique(IDS, return_inverse=True)[1]),
    "unique counts": (lambda: ops.unique(IDS, return_counts=True)[1], "int32", np.unique(IDS, return_counts=True)[1]),
    # integer ops keep the tensor's dtype with a Python int operand (int32 & 3 is int32)
    "bitwise_and": (lambda: ops.bitwise_and(IDS, 3), "int32", IDS & 3),
    "left_shift": (lambda: ops.left_shift(IDS, 2), "int32", IDS << 2),
    "gcd": (lambda: ops.gcd(IDS, 4), "int32", np.gcd(IDS, 4)),
    "lcm int64": (lambda: ops.lcm(IDS.astype(np.int64) + 1, 4), "int64", np.lcm(IDS + 1, 4)),
}


@pytest.mark.parametrize("name", list(KERAS_INDEX_CASES))
def test_keras_ops_index_results_have_keras_dtypes(name):
    call, dtype, want = KERAS_INDEX_CASES[name]
    _check(call(), dtype, want)


def test_argpartition_is_int32_and_partitions():
    got = ops.argpartition(X, 2, axis=-1)
    assert got.dtype == "int32"
    part = np.take_along_axis(X, np.asarray(got), axis=-1)
    assert np.all(np.sort(np.asarray(got), axis=-1) == np.arange(6))   # a permutation of each row
    assert np.all(part[:, :2].max(axis=1) <= part[:, 2]) and np.all(part[:, 3:].min(axis=1) >= part[:, 2])
    flat = ops.argpartition(X, 5, axis=None)
    assert flat.dtype == "int32" and X.reshape(-1)[np.asarray(flat)[5]] == np.sort(X.reshape(-1))[5]


def test_nonzero_and_where_give_one_int32_tensor_per_axis():
    got = ops.nonzero(X > 0.3)
    assert isinstance(got, tuple) and len(got) == 2
    for g, w in zip(got, np.nonzero(X > 0.3)):
        _check(g, "int32", w)
    for g, w in zip(ops.where(X > 0.3), np.nonzero(X > 0.3)):
        _check(g, "int32", w)
    for g, w in zip(ops.where([1, 0, 2]), np.nonzero([1, 0, 2])):
        _check(g, "int32", w)


def test_unravel_index_takes_the_indices_dtype():
    # Keras' TensorFlow and NumPy backends: the coordinates are in the indices' dtype (int32
    # for Python ints and lists, as Keras converts them)
    for idx, dtype in [(np.array([1, 5, 7], np.int32), "int32"), (np.array([1, 5, 7], np.int64), "int64"),
                       ([1, 5, 7], "int32")]:
        got = ops.unravel_index(idx, (2, 4))
        for g, w in zip(got, np.unravel_index([1, 5, 7], (2, 4))):
            _check(g, dtype, w)
    rows, cols = ops.unravel_index(5, (2, 4))
    _check(rows, "int32", 1)
    _check(cols, "int32", 1)


def test_integer_weighted_bincount_sums_exactly():
    # int64 weights sum as integers: a float64 sum would round 2**53 + 1 to 2**53
    got = ops.bincount(np.array([0, 0, 2]), weights=np.array([2**53, 1, 7], np.int64))
    _check(got, "int64", np.array([2**53 + 1, 0, 7], np.int64))
    with pytest.raises(ValueError, match="bincount"):
        ops.bincount(IDS, weights=np.ones(3, np.float32))


def test_an_index_past_int32_is_an_error_not_a_wrapped_value():
    # reaching 2**31 through an op needs an 8 GiB tensor; the one helper every int32 result goes
    # through is checked instead (Keras' cast would wrap to a negative index)
    from corenn import ops as corenn_ops
    with pytest.raises(OverflowError, match="2147483648 does not fit int32"):
        corenn_ops._index(np.array([0, 2**31], np.int64))
    _check(corenn_ops._index(np.array([-1, 2**31 - 1], np.int64)), "int32", [-1, 2**31 - 1])


def test_size_shape_and_ndim_are_python_ints():
    # Keras' TensorFlow backend gives a tensor for size, its JAX and NumPy backends (and every
    # backend for shape and ndim) Python ints, which corenn gives
    assert ops.size(X) == 24 and type(ops.size(X)) is int
    assert ops.shape(X) == (4, 6) and ops.ndim(X) == 2


def test_symbolic_results_carry_int32():
    inp = keras.Input((6,))
    assert ops.argmax(inp, axis=-1).dtype == "int32"
    assert ops.argsort(inp).dtype == "int32"
    values, indices = ops.top_k(inp, 2)
    assert values.dtype == "float32" and indices.dtype == "int32"
    model = keras.Model(inp, [values, indices, ops.take_along_axis(inp, indices, axis=-1)])
    v, i, taken = model.predict(X, verbose=0)
    order = np.argsort(-X, axis=-1, kind="stable")[:, :2]
    np.testing.assert_array_equal(i, order)
    np.testing.assert_array_equal(v, np.take_along_axis(X, order, -1))
    np.testing.assert_array_equal(taken, v)


def test_int32_indices_feed_the_ops_and_layers_that_take_indices():
    am = ops.argmax(X, axis=1)
    want = np.argmax(X, 1)
    np.testing.assert_array_equal(ops.one_hot(am, 6), np.eye(6)[want])
    np.testing.assert_array_equal(ops.take(X[0], am), X[0][want])
    np.testing.assert_array_equal(ops.take_along_axis(X, ops.argsort(X, axis=1), axis=1), np.sort(X, 1))
    np.testing.assert_array_equal(tf.constant(X[0])[am], X[0][want])
    np.testing.assert_array_equal(tf.constant(X)[ops.nonzero(X > 0)], X[X > 0])
    np.testing.assert_array_equal(tf.gather_nd(X, ops.stack(ops.nonzero(X > 0), axis=1)), X[X > 0])
    np.testing.assert_array_equal(ops.equal(am, want.astype(np.int64)), np.ones(4))
    plus = ops.add(am, 1)
    assert plus.dtype == "int32"
    np.testing.assert_array_equal(plus, want + 1)
    acc = keras.metrics.Accuracy()
    acc.update_state(want, am)
    assert float(acc.result()) == 1.0
    logits = np.eye(6, dtype=np.float32)[want] * 10
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(am, logits)
    np.testing.assert_allclose(float(loss), np.log1p(5 * np.exp(-10.0)), rtol=1e-4)
    assert tuple(keras.layers.Embedding(6, 3)(am).shape) == (4, 3)
    assert int(ops.argmax(X)) == int(np.argmax(X))


def test_tf_spellings_keep_tensorflows_dtypes():
    # TensorFlow 2.21's dtypes for the same calls
    _check(tf.argmax(X), "int64", np.argmax(X, 0))                       # axis 0 by default
    _check(tf.argmax(X, axis=1, output_type=tf.int32), "int32", np.argmax(X, 1))
    _check(tf.math.argmax(X, 1), "int64", np.argmax(X, 1))
    _check(tf.argmin(X), "int64", np.argmin(X, 0))
    _check(tf.math.argmin(X, 1), "int64", np.argmin(X, 1))
    _check(tf.where(X > 0.3), "int64", np.argwhere(X > 0.3))             # (num_true, rank)
    _check(tf.nn.top_k(X, 2).indices, "int32", np.argsort(-X, -1, kind="stable")[:, :2])
    _check(tf.math.top_k(X, 2).indices, "int32", np.argsort(-X, -1, kind="stable")[:, :2])
    _check(tf.argsort(X), "int32", np.argsort(X, -1, kind="stable"))
    _check(tf.searchsorted(EDGES, VALS), "int32", np.searchsorted(EDGES, VALS))
    _check(tf.searchsorted(EDGES, VALS, out_type=tf.int64), "int64", np.searchsorted(EDGES, VALS))
    _check(tf.math.bincount(IDS), "int32", np.bincount(IDS))
    _check(tf.math.count_nonzero(X > 0), "int64", np.count_nonzero(X > 0))
    _check(tf.shape(X), "int32", [4, 6])
    _check(tf.size(X), "int32", 24)
    _check(tf.unravel_index(np.array([1, 5, 7], np.int32), np.array([2, 4], np.int32)), "int32",
           np.stack(np.unravel_index([1, 5, 7], (2, 4))))
    _check(tf.unique(IDS).idx, "int32", [0, 1, 2, 3, 1, 2, 4])         # in order of first appearance
    for values, dtype in [(IDS, "int32"), (IDS.astype(np.int64), "int64"), (IDS.tolist(), "int32")]:
        counts = tf.sparse.bincount(values)                                # the values' dtype
        assert counts.dtype == dtype and np.asarray(counts.values).dtype == dtype
        np.testing.assert_array_equal(np.asarray(tf.sparse.to_dense(counts)), np.bincount(IDS))
    weighted = tf.sparse.bincount(IDS, weights=np.full(7, 0.5, np.float32))
    assert weighted.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(weighted.values), [1.0, 1.0, 0.5, 0.5, 0.5])
    _check(tf.bitwise.bitwise_and(tf.constant(IDS), 3), "int32", IDS & 3)
    _check(tf.bitwise.left_shift(tf.constant(IDS.astype(np.int64)), 1), "int64", IDS << 1)


def test_tf_keras_2_backend_argmax_is_tf_argmax():
    # tf.keras 2's K.argmax / K.argmin (Keras 3 keeps them as keras.backend's legacy functions):
    # tf.argmax over the last axis by default, int64
    from corenn.keras import backend as K
    _check(K.argmax(X), "int64", np.argmax(X, -1))
    _check(K.argmin(X, axis=0), "int64", np.argmin(X, 0))


def test_numpy_spellings_keep_numpys_int64():
    _check(tnp.argmax(X, axis=1), "int64", np.argmax(X, 1))
    _check(tnp.argmin(X), "int64", np.argmin(X))
    _check(tnp.argsort(X), "int64", np.argsort(X, kind="stable"))
    for g, w in zip(tnp.nonzero(X > 0), np.nonzero(X > 0)):
        _check(g, "int64", w)
    for g, w in zip(tnp.where(X > 0), np.nonzero(X > 0)):
        _check(g, "int64", w)
    _check(tnp.where(X > 0, IDS[:6], np.int32(0)), "int32", np.where(X > 0, IDS[:6], 0))   # a selection
    _check(tnp.count_nonzero(X > 0), "int64", np.count_nonzero(X > 0))
    _check(tnp.bincount(IDS), "int64", np.bincount(IDS))
    t = tf.constant(X)
    _check(t.argmax(axis=1), "int64", np.argmax(X, 1))
    assert type(t.argmax()) is np.int64 and t.argmax() == np.argmax(X)
