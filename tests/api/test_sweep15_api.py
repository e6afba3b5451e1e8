"""Sweep 15: tf.experimental.numpy (tnp), NumPy dtypes comparing equal to Tensor dtypes, and
Keras models on SparseTensor inputs (keras.Input(sparse=True))."""
import numpy as np
import pytest

import corenn as tf
import corenn.experimental.numpy as tnp
from corenn import _tensor_numpy


@pytest.fixture
def numpy_behavior(monkeypatch):
    monkeypatch.setitem(_tensor_numpy.NUMPY_BEHAVIOR, "enabled", False)
    tnp.experimental_enable_numpy_behavior()
    yield


def test_tnp_functions_match_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    np.testing.assert_allclose(np.asarray(tnp.matmul(a, b)), a @ b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(tnp.einsum("ij,jk->ik", a, b)), a @ b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(tnp.sqrt(7)), np.sqrt(7.0), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(tnp.cumsum(a, axis=1)), np.cumsum(a, axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(tnp.arange(2, 11, 3)), np.arange(2, 11, 3))
    assert tnp.arange(3).dtype == "int64" and tnp.arange(0.5, 3).dtype == "float32"
    assert tnp.asarray(1).dtype == tnp.int64 and tnp.asarray(1.0).dtype == tnp.float32
    assert tnp.ones([2, 3], dtype=tnp.int32).dtype == "int32"
    assert isinstance(tnp.zeros(3), tnp.ndarray)
    assert tnp.size(a) == 12 and tnp.shape(a) == (3, 4) and tnp.ndim(a) == 2


def test_tnp_random_seeded_and_shaped():
    tnp.random.seed(3)
    x = tnp.random.randn(5, 2)
    tnp.random.seed(3)
    np.testing.assert_array_equal(np.asarray(tnp.random.randn(5, 2)), np.asarray(x))
    assert x.shape == (5, 2) and x.dtype == "float32"
    r = tnp.random.randint(0, 4, size=(100,))
    assert r.dtype == "int64" and 0 <= int(np.min(np.asarray(r))) and int(np.max(np.asarray(r))) < 4


def test_tnp_asarray_rejects_strings():
    with pytest.raises(TypeError, match="tnp.asarray"):
        tnp.asarray(np.array(["a"], dtype=object))
    with pytest.raises(TypeError, match="complex"):
        tnp.ones([2], dtype=tnp.complex64)


def test_astype_is_a_tensor_cast_with_numpy_behavior(numpy_behavior):
    w = tf.Variable(np.array([1.5, -2.0], np.float32))
    with tf.GradientTape() as tape:
        y = tnp.sum(tnp.square(w.astype(tnp.float32)) * 3)
    assert isinstance(w.astype(tnp.int32), tf.Tensor)
    np.testing.assert_array_equal(np.asarray(w.astype(tnp.int32)), [1, -2])
    np.testing.assert_allclose(np.asarray(tape.gradient(y, w)), [9.0, -12.0])


def test_astype_is_numpy_without_numpy_behavior(monkeypatch):
    monkeypatch.setitem(_tensor_numpy.NUMPY_BEHAVIOR, "enabled", False)
    out = tf.constant([1.0, 2.0]).astype("float64")
    assert type(out) is np.ndarray and out.dtype == np.float64


def test_tensor_dtype_equals_numpy_dtype():
    t = tf.constant([1.0])
    assert t.dtype == np.float32 and t.dtype == np.dtype("float32") and t.dtype == "float32"
    assert t.dtype != np.int32 and not (t.dtype != np.float32)
    assert {t.dtype: 1}["float32"] == 1


def test_model_on_sparse_input_equals_dense():
    inp = tf.keras.Input(shape=(5,), sparse=True)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(3)(inp))
    dense = np.zeros((4, 5), np.float32)
    dense[0, 1], dense[2, 4], dense[3, 0] = 1.0, -2.0, 0.5
    sp = tf.sparse.from_dense(dense)
    w, b = (np.asarray(v, np.float64) for v in model.get_weights())
    np.testing.assert_allclose(np.asarray(model(sp)), dense @ w + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(sp, verbose=0), dense @ w + b, rtol=1e-5, atol=1e-6)
    seq = tf.keras.Sequential([tf.keras.Input(shape=(5,)), tf.keras.layers.Dense(1)])
    seq.compile(optimizer="sgd", loss="mse")
    assert np.isfinite(seq.evaluate(sp, np.ones(4), verbose=0))


def test_complex_tensor_to_numpy_is_complex():
    x = np.sin(np.arange(16.0)).astype(np.float32)
    z = tf.signal.rfft(x)
    got = np.asarray(z)
    assert got.dtype == np.complex64 and got.shape == (9,)
    np.testing.assert_allclose(got, np.fft.rfft(x.astype(np.float64)), rtol=1e-4, atol=1e-5)
    re, im = z   # the Keras (real, imag) unpacking still holds
    np.testing.assert_allclose(np.asarray(re), got.real, rtol=1e-6)


def test_cumsum_exclusive_reverse_lists_and_gradient():
    np.testing.assert_allclose(np.asarray(tf.math.cumsum([1., 2., 3.], reverse=True)), [6., 5., 3.])
    np.testing.assert_allclose(np.asarray(tf.math.cumsum([1., 2., 3.], exclusive=True)), [0., 1., 3.])
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(np.asarray(tf.cumsum(a, axis=1, exclusive=True, reverse=True)),
                               np.flip(np.cumsum(np.flip(a, 1), 1), 1) - a)
    v = tf.Variable(np.array([1.0, 2.0, 3.0], np.float32))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.math.cumsum(v, exclusive=True, reverse=True) * tf.constant([1.0, 10.0, 100.0]))
    # d/dv_j of sum_i w_i * sum_{k>i} v_k = sum_{i<j} w_i
    np.testing.assert_allclose(np.asarray(tape.gradient(y, v)), [0.0, 1.0, 11.0])


def test_function_get_concrete_function():
    @tf.function
    def double(a):
        return a + a

    concrete = double.get_concrete_function(tf.constant(1))
    assert int(concrete(tf.constant(4))) == 8 and concrete.python_function is double
    assert concrete.structured_input_signature[0][0][1] == "int32"

    @tf.function(input_signature=(tf.TensorSpec(shape=[None], dtype=tf.int32),))
    def f(x):
        return x * 3
    np.testing.assert_array_equal(np.asarray(f.get_concrete_function(tf.constant([1]))(tf.constant([2, 3]))), [6, 9])


# -- ragged tensors (the TF ragged guide) -----------------------------------------------------

def test_ragged_reduce_mean_tile_reverse_map_fn():
    digits = tf.ragged.constant([[3, 1, 4, 1], [], [5, 9, 2], [6], []])
    np.testing.assert_allclose(np.asarray(tf.reduce_mean(digits, axis=1)), [2.25, np.nan, 16 / 3, 6.0, np.nan],
                               rtol=1e-6)
    np.testing.assert_allclose(float(tf.reduce_mean(digits)), np.mean([3, 1, 4, 1, 5, 9, 2, 6]), rtol=1e-6)
    assert tf.tile(digits, [2, 2]).to_list() == [[3, 1, 4, 1, 3, 1, 4, 1], [], [5, 9, 2, 5, 9, 2], [6, 6], []] * 2
    r = tf.ragged.constant([[1, 2], [3], [4, 5, 6]])
    assert tf.reverse(r, [0]).to_list() == [[4, 5, 6], [3], [1, 2]]
    assert tf.reverse(r, [1]).to_list() == [[2, 1], [3], [6, 5, 4]]
    assert tf.map_fn(tf.math.square, digits).to_list() == [[9, 1, 16, 1], [], [25, 81, 4], [36], []]
    with pytest.raises(NotImplementedError, match="axis"):
        tf.reduce_mean(digits, axis=0)


def test_ragged_map_flat_values_and_range():
    digits = tf.ragged.constant([[3, 1], [], [5]])
    assert tf.ragged.map_flat_values(lambda x: x * 2 + 1, digits).to_list() == [[7, 3], [], [11]]
    assert tf.ragged.map_flat_values(tf.add, digits, digits).to_list() == [[6, 2], [], [10]]
    with pytest.raises(ValueError, match="keep"):
        tf.ragged.map_flat_values(lambda x: x[:1], digits)
    assert tf.ragged.range([3, 0, 2]).to_list() == [[0, 1, 2], [], [0, 1]]
    assert tf.ragged.range([1, 2], [4, 8], [1, 3]).to_list() == [[1, 2, 3], [2, 5]]
    assert tf.ragged.range(2).to_list() == [[0, 1]]
    with pytest.raises(ValueError, match="deltas"):
        tf.ragged.range([1], [3], [0])


def test_ragged_three_levels_and_partitions():
    rt = tf.ragged.constant([[[1, 2, 3], [4]], [[5], [], [6]], [[7]], [[8, 9], [10]]])
    assert rt.to_list()[1] == [[5], [], [6]]
    np.testing.assert_array_equal(np.asarray(rt[3, 0]), [8, 9])
    assert rt[:, -1:].to_list() == [[[4]], [[6]], [[7]], [[10]]]
    flat = tf.RaggedTensor.from_row_splits(values=[3, 1, 4, 1, 5, 9, 2], row_splits=[0, 4, 4, 6, 7])
    assert tf.RaggedTensor.from_uniform_row_length(flat, 2).to_list() == [[[3, 1, 4, 1], []], [[5, 9], [2]]]
    with pytest.raises(ValueError, match="rows of 3"):
        tf.RaggedTensor.from_uniform_row_length(flat, 3)
    np.testing.assert_array_equal(np.asarray(flat.row_starts()), [0, 4, 4, 6])
    np.testing.assert_array_equal(np.asarray(flat.row_limits()), [4, 4, 6, 7])
    assert repr(flat) == "<tf.RaggedTensor [[3, 1, 4, 1], [], [5, 9], [2]]>"


def test_ragged_strings_hash_join_embedding_lookup():
    from corenn.layers._farmhash import fingerprint64
    q = tf.ragged.constant([["Who", "is"], ["Pause"], []])
    buckets = tf.strings.to_hash_bucket_fast(q, 1024)
    assert buckets.to_list() == [[fingerprint64(b"Who") % 1024, fingerprint64(b"is") % 1024],
                                 [fingerprint64(b"Pause") % 1024], []]
    assert tf.strings.join([q, q], separator="+").to_list() == [[b"Who+Who", b"is+is"], [b"Pause+Pause"], []]
    assert tf.strings.length(q).to_list() == [[3, 2], [5], []]
    assert tf.strings.upper(q).to_list() == [[b"WHO", b"IS"], [b"PAUSE"], []]
    table = np.arange(2048, dtype=np.float32).reshape(1024, 2)
    emb = tf.nn.embedding_lookup(table, buckets)
    np.testing.assert_array_equal(np.asarray(emb[0]), table[buckets.to_list()[0]])
    mean = tf.reduce_mean(tf.concat([emb, emb], axis=1), axis=1)
    np.testing.assert_allclose(np.asarray(mean)[0], table[buckets.to_list()[0]].mean(0))
    assert np.isnan(np.asarray(mean)[2]).all()


def test_sparse_strings_to_dense():
    st = tf.SparseTensor(indices=[[0, 0], [1, 2]], values=["a", "b"], dense_shape=[2, 3])
    assert np.asarray(tf.sparse.to_dense(st, "")).tolist() == [["a", "", ""], ["", "", "b"]]
    assert np.asarray(tf.sparse.to_dense(st, "?")).tolist()[0] == ["a", "?", "?"]


# -- tf.autodiff.ForwardAccumulator ---------------------------------------------------------

def test_forward_accumulator_matches_finite_differences():
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(2, 3)).astype(np.float32)
    t = rng.normal(size=(2, 3)).astype(np.float32)

    def f(x):
        return tf.reduce_sum(tf.tanh(x) * x, axis=1) + tf.reduce_mean(x)
    x = tf.constant(x0)
    with tf.autodiff.ForwardAccumulator(x, tf.constant(t)) as acc:
        y = f(x)
    jvp = np.asarray(acc.jvp(y), np.float64)
    eps = 1e-3
    xd = x0.astype(np.float64)

    def f64(a):
        return (np.tanh(a) * a).sum(1) + a.mean()
    fd = (f64(xd + eps * t) - f64(xd - eps * t)) / (2 * eps)
    np.testing.assert_allclose(jvp, fd, rtol=1e-4, atol=1e-5)
    assert acc.jvp(y).shape == (2,)


def test_forward_accumulator_hvp_structure_and_errors():
    v = tf.Variable([1.0, 2.0])
    with tf.autodiff.ForwardAccumulator(v, tf.constant([1.0, 3.0])) as acc:
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(v ** 3.0)
        g = tape.gradient(y, v)
    np.testing.assert_allclose(np.asarray(acc.jvp(g)), [6.0, 36.0])   # H v = 6 v * t
    out = acc.jvp({"g": g, "y": y})
    np.testing.assert_allclose(float(out["y"]), 3 * 1 + 12 * 3)
    with pytest.raises(ValueError, match="shape"):
        tf.autodiff.ForwardAccumulator(v, tf.constant([1.0]))
    with pytest.raises(ValueError, match="2 primals but 1 tangents"):
        tf.autodiff.ForwardAccumulator([v, v], [tf.constant([1.0, 0.0])])
    with pytest.raises(TypeError, match="primals"):
        tf.autodiff.ForwardAccumulator(np.ones(2), np.ones(2))


def test_dataset_of_sparse_tensor_rows_batch_unbatch():
    dense = np.zeros((5, 3), np.float32)
    dense[0, 1], dense[2, 0], dense[2, 2], dense[4, 1] = 1.0, 2.0, 3.0, 4.0
    sp = tf.sparse.from_dense(dense)
    ds = tf.data.Dataset.from_tensor_slices((sp, np.arange(5)))
    rows = list(ds)
    assert all(isinstance(r, tf.SparseTensor) and r.shape == (3,) for r, _ in rows)
    np.testing.assert_array_equal(np.stack([np.asarray(tf.sparse.to_dense(r)) for r, _ in rows]), dense)
    batches = list(ds.batch(2))
    assert [b.shape for b, _ in batches] == [(2, 3), (2, 3), (1, 3)]
    np.testing.assert_array_equal(np.concatenate([np.asarray(tf.sparse.to_dense(b)) for b, _ in batches]), dense)
    back = [np.asarray(tf.sparse.to_dense(r)) for r, _ in ds.batch(2).unbatch()]
    np.testing.assert_array_equal(np.stack(back), dense)
    picked = sp[np.array([4, 0])]
    np.testing.assert_array_equal(np.asarray(tf.sparse.to_dense(picked)), dense[[4, 0]])
    np.testing.assert_array_equal(np.asarray(tf.sparse.to_dense(sp[1:3])), dense[1:3])
    shuffled = [(np.asarray(tf.sparse.to_dense(r)), int(i)) for r, i in ds.shuffle(5, seed=3)]
    for row, i in shuffled:
        np.testing.assert_array_equal(row, dense[i])
